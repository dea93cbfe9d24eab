//! The compression-ratio limit (`Limits::max_ratio`, `--max-ratio`): bytes
//! decoded across the whole tree per byte of input on disk, checked while
//! decoding. A nested bomb (a cabinet of zeros inside a cabinet) multiplies
//! the ratios of its levels; each level alone may pass.
use std::path::Path;

use assert_cmd::Command;
use kbinspect::container::{Error, Limits, walk};
use kbinspect_testkit::cabwrite::{CabFile, CabOptions, DosDateTime, Method, write_cab};

const ZEROS: usize = 8 << 20;

fn file(name: &str, data: Vec<u8>) -> CabFile {
    CabFile {
        name: name.into(),
        data,
        time: DosDateTime::new(2024, 5, 6, 7, 8),
        attributes: 0x20,
    }
}

fn lzx(files: Vec<CabFile>) -> Vec<u8> {
    write_cab(
        &files,
        &CabOptions {
            method: Method::Lzx { window_bits: 21 },
            set_id: 7,
            signature: None,
        },
    )
}

/// `inner.cab` (8 MiB of zeros, LZX) and `bomb.cab` holding it.
fn bomb() -> (Vec<u8>, Vec<u8>) {
    let inner = lzx(vec![file("zeros.bin", vec![0; ZEROS])]);
    let outer = lzx(vec![file("inner.cab", inner.clone())]);
    (inner, outer)
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> std::path::PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, bytes).unwrap();
    p
}

/// Walk reading every member; returns the bytes each member yielded.
fn read_all(path: &Path, limits: &Limits) -> Result<Vec<(String, u64)>, Error> {
    let mut seen = Vec::new();
    walk(path, limits, &mut |m, r| {
        let mut n = 0u64;
        let mut buf = [0u8; 65536];
        while let Ok(k) = r.read(&mut buf) {
            if k == 0 {
                break;
            }
            n += k as u64;
        }
        seen.push((m.path.clone(), n));
        Ok(())
    })
    .map(|_| seen)
}

#[test]
fn nested_bomb_multiplies_and_is_stopped_while_decoding() {
    let (inner, outer) = bomb();
    let dir = tempfile::tempdir().unwrap();
    let inner_path = write(dir.path(), "inner.cab", &inner);
    let outer_path = write(dir.path(), "bomb.cab", &outer);
    // Each level alone expands less than the two together.
    let inner_ratio = ZEROS as u64 / inner.len() as u64;
    let tree_ratio = (ZEROS + inner.len()) as u64 / outer.len() as u64;
    assert!(
        tree_ratio > 4 * inner_ratio,
        "inner {} bytes ({inner_ratio}:1), outer {} bytes ({tree_ratio}:1)",
        inner.len(),
        outer.len()
    );
    // A limit between the two: the inner cabinet on its own passes...
    let limits = Limits {
        max_ratio: inner_ratio * 2,
        ratio_floor: 1 << 20,
        ..Limits::default()
    };
    let alone = read_all(&inner_path, &limits).expect("one level is under the limit");
    assert_eq!(alone, vec![("zeros.bin".to_string(), ZEROS as u64)]);

    // ...nested, it is a bomb, stopped at the member whose decoding crossed it.
    let e = read_all(&outer_path, &limits).expect_err("the nested bomb must stop");
    let msg = e.to_string();
    assert!(
        matches!(
            e,
            Error::Limit {
                flag: "--max-ratio",
                ..
            }
        ),
        "{msg}"
    );
    for want in [
        "inner.cab/zeros.bin",
        "--max-ratio",
        &format!("limit {}", inner_ratio * 2),
        &format!("from {} bytes of input on disk", outer.len()),
    ] {
        assert!(msg.contains(want), "{want:?} missing in: {msg}");
    }
    // Stopped while decoding: roughly at floor or limit × input, not at the end.
    let stop = (1u64 << 20).max(outer.len() as u64 * inner_ratio * 2);
    let decoded: u64 = msg
        .split(" bytes decoded")
        .next()
        .and_then(|s| s.rsplit(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no decoded count in {msg}"));
    assert!(
        decoded > stop && decoded <= stop + 32768 + inner.len() as u64,
        "stopped at {decoded}, expected just past {stop}"
    );
}

#[test]
fn ratio_off_or_raised_lets_the_bomb_through() {
    let (_, outer) = bomb();
    let dir = tempfile::tempdir().unwrap();
    let p = write(dir.path(), "bomb.cab", &outer);
    let want = [
        ("inner.cab".to_string(), 0),
        ("inner.cab/zeros.bin".to_string(), ZEROS as u64),
    ];
    for limits in [
        Limits {
            max_ratio: 0,
            ratio_floor: 0,
            ..Limits::default()
        },
        Limits {
            max_ratio: 1_000_000,
            ratio_floor: 1 << 20,
            ..Limits::default()
        },
        // The default floor is above this bomb's output.
        Limits::default(),
    ] {
        let seen = read_all(&p, &limits).unwrap_or_else(|e| panic!("{limits:?}: {e}"));
        // The nested cabinet's own bytes are visited once (length varies with
        // the encoder); its member must come out whole.
        assert_eq!(seen.len(), 2, "{seen:?}");
        assert_eq!(seen[1], want[1], "{limits:?}");
        assert_eq!(seen[0].0, want[0].0);
    }
}

/// The same bomb through the CLI: `ls --test` and `extract` stop with exit
/// code 2 and a message naming the member, the ratio and the flag;
/// `--max-ratio 0` or a higher value lets it through. `list` decodes only
/// the heads of members it has no use for, so it never reaches the bomb's
/// ratio: it refuses the cabinet for holding no update package.
#[test]
fn cli_names_member_ratio_and_flag() {
    let (_, outer) = bomb();
    let dir = tempfile::tempdir().unwrap();
    let p = write(dir.path(), "bomb.cab", &outer);
    let floor = (1u32 << 20).to_string();
    let out = Command::cargo_bin("kbinspect")
        .unwrap()
        .arg("list")
        .arg(&p)
        .args(["--ratio-floor", &floor])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "list: {err}");
    assert!(err.contains("no update package found"), "list: {err}");
    assert!(!err.contains("ratio"), "list decoded the bomb: {err}");
    let cases: [&[&str]; 3] = [&["ls", "--test"], &["verify"], &["extract", "-o"]];
    for (i, args) in cases.iter().enumerate() {
        let mut cmd = Command::cargo_bin("kbinspect").unwrap();
        cmd.args(*args);
        if args.contains(&"-o") {
            cmd.arg(dir.path().join(format!("out{i}")));
        }
        let out = cmd
            .arg(&p)
            .args(["--ratio-floor", &floor])
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        if args.contains(&"-o") {
            // The member cut short is not left under its final name, nor as
            // a temporary file.
            let out_dir = dir.path().join(format!("out{i}"));
            let left: Vec<_> = walkdir(&out_dir);
            assert!(
                left.iter()
                    .all(|p| !p.ends_with("zeros.bin") && !p.contains(".part")),
                "{left:?}"
            );
        }
        for want in [
            "inner.cab/zeros.bin",
            "ratio",
            "(limit 1000; raise it with --max-ratio)",
        ] {
            assert!(err.contains(want), "{args:?}: {want:?} missing in: {err}");
        }
    }
    for raise in ["0", "100000000"] {
        let out = Command::cargo_bin("kbinspect")
            .unwrap()
            .args(["ls", "--test", "--format", "json"])
            .arg(&p)
            .args(["--ratio-floor", &floor, "--max-ratio", raise])
            .output()
            .unwrap();
        assert_eq!(
            out.status.code(),
            Some(0),
            "--max-ratio {raise}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        let zeros = v["members"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["path"] == "inner.cab/zeros.bin")
            .expect("the member is listed");
        assert_eq!(zeros["size"], ZEROS as u64);
        assert!(zeros.get("error").is_none(), "{zeros}");
        assert!(zeros["sha256"].is_string(), "{zeros}");
    }
}

/// Every file under `dir`, as strings.
fn walkdir(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p.display().to_string());
            }
        }
    }
    out
}

/// `diff` loads both sides under the same limits.
#[test]
fn diff_takes_the_ratio_flags() {
    let (_, outer) = bomb();
    let dir = tempfile::tempdir().unwrap();
    let p = write(dir.path(), "bomb.cab", &outer);
    let out = Command::cargo_bin("kbinspect")
        .unwrap()
        .arg("diff")
        .args([&p, &p])
        .args(["--ratio-floor", "1048576", "--max-ratio", "50"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("(limit 50; raise it with --max-ratio)"),
        "{err}"
    );
    let out = Command::cargo_bin("kbinspect")
        .unwrap()
        .arg("diff")
        .args([&p, &p])
        .args(["--ratio-floor", "1048576", "--max-ratio", "0"])
        .output()
        .unwrap();
    // Without the limit the bomb is read whole; it holds no update package
    // (no .mum, no manifest), which `diff` refuses with exit 2 and says so,
    // not with the ratio error.
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!err.contains("--max-ratio"), "{err}");
    assert!(err.contains("no update package found"), "{err}");
    assert_eq!(out.status.code(), Some(2), "{err}");
}

/// The default limits let cabextract's large-files-cab.cab (26,554 bytes,
/// 6.0 GiB over two levels) through: its whole-tree ratio is far above
/// 1000:1, but its output stays under the default floor. Decoding it takes
/// a minute, so the walk here stops after the nested cabinet's header: what
/// is checked is that the declared output is under the floor.
#[test]
fn large_files_cab_is_under_the_default_floor() {
    let Some(c) = common::corpus() else { return };
    let p = c.join("cabextract-tests/cabs/large-files-cab.cab");
    let mut declared = 0u64;
    let listing = kbinspect::container::list(&p, &Limits::default(), None, &mut |_| {})
        .expect("listing works with defaults");
    for m in &listing.members {
        declared += m.meta.size;
    }
    let on_disk = std::fs::metadata(&p).unwrap().len();
    let d = Limits::default();
    assert!(
        declared / on_disk > d.max_ratio,
        "the ratio alone would stop it"
    );
    assert!(declared < d.ratio_floor, "{declared} over the floor");
}

use crate::common;
