//! `kbinspect extract` through the binary: depth, filters on containers,
//! honest exits, interrupts, broken pipes.
use crate::common;

use std::path::Path;

use assert_cmd::Command;

fn kbinspect() -> Command {
    Command::cargo_bin("kbinspect").unwrap()
}

const MSU: &str =
    "kb4538483-esu-msu/windows6.1-kb4538483-x86_f77ee698928fb42232b70b01f53a4c5f68553323.msu";

/// Every file under `dir`, relative, `/`-separated, sorted.
fn files(dir: &Path) -> Vec<String> {
    fn walk(root: &Path, at: &Path, out: &mut Vec<String>) {
        for e in std::fs::read_dir(at).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                walk(root, &p, out);
            } else {
                let rel = p.strip_prefix(root).unwrap();
                out.push(rel.to_string_lossy().replace('\\', "/"));
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.sort();
    out
}

/// A stored single-folder cabinet with the given members (no checksums).
fn stored_cab(files: &[(&str, &[u8])]) -> Vec<u8> {
    let names_len: usize = files.iter().map(|f| 16 + f.0.len() + 1).sum();
    let data_offset = 36 + 8 + names_len;
    let all: Vec<u8> = files.iter().flat_map(|f| f.1.iter().copied()).collect();
    let blocks: Vec<&[u8]> = all.chunks(32768).collect();
    let total = data_offset + blocks.iter().map(|b| 8 + b.len()).sum::<usize>();
    let mut v = Vec::new();
    v.extend_from_slice(b"MSCF\0\0\0\0");
    v.extend_from_slice(&(total as u32).to_le_bytes());
    v.extend_from_slice(&[0; 4]);
    v.extend_from_slice(&44u32.to_le_bytes());
    v.extend_from_slice(&[0, 0, 0, 0, 3, 1]);
    v.extend_from_slice(&1u16.to_le_bytes());
    v.extend_from_slice(&(files.len() as u16).to_le_bytes());
    v.extend_from_slice(&[0; 6]);
    v.extend_from_slice(&(data_offset as u32).to_le_bytes());
    v.extend_from_slice(&(blocks.len() as u16).to_le_bytes());
    v.extend_from_slice(&0u16.to_le_bytes());
    let mut off = 0u32;
    for (name, data) in files {
        v.extend_from_slice(&(data.len() as u32).to_le_bytes());
        v.extend_from_slice(&off.to_le_bytes());
        v.extend_from_slice(&0u16.to_le_bytes());
        // 2020-05-01 21:34:32
        let date: u16 = ((2020 - 1980) << 9) | (5 << 5) | 1;
        let time: u16 = (21 << 11) | (34 << 5) | 16;
        v.extend_from_slice(&date.to_le_bytes());
        v.extend_from_slice(&time.to_le_bytes());
        v.extend_from_slice(&0x20u16.to_le_bytes());
        v.extend_from_slice(name.as_bytes());
        v.push(0);
        off += data.len() as u32;
    }
    for b in blocks {
        v.extend_from_slice(&0u32.to_le_bytes());
        v.extend_from_slice(&(b.len() as u16).to_le_bytes());
        v.extend_from_slice(&(b.len() as u16).to_le_bytes());
        v.extend_from_slice(b);
    }
    v
}

fn extract(args: &[&str], input: &Path, out: &Path) -> std::process::Output {
    kbinspect()
        .arg("extract")
        .args(args)
        .arg("-o")
        .arg(out)
        .arg(input)
        .output()
        .unwrap()
}

fn last_line(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stdout)
        .lines()
        .last()
        .unwrap_or_default()
        .to_string()
}

/// `--depth 1`: the MSU's own members, the inner package cabinet as a
/// file, byte-identical to `cabextract` without recursion.
#[test]
fn depth_one_equals_cabextract() {
    let input = corpus_or_skip!(MSU);
    if !common::have("cabextract") {
        eprintln!("SKIPPED: cabextract not on PATH");
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let mine = tmp.path().join("mine");
    let theirs = tmp.path().join("theirs");
    let o = extract(&["--depth", "1"], &input, &mine);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let st = std::process::Command::new("cabextract")
        .arg("-q")
        .arg("-d")
        .arg(&theirs)
        .arg(&input)
        .status()
        .unwrap();
    assert!(st.success());
    let names = files(&mine);
    assert_eq!(names, files(&theirs));
    assert!(names.contains(&"Windows6.1-KB4538483-x86.cab".to_string()));
    assert!(mine.join("Windows6.1-KB4538483-x86.cab").is_file());
    for n in &names {
        assert_eq!(
            std::fs::read(mine.join(n)).unwrap(),
            std::fs::read(theirs.join(n)).unwrap(),
            "{n}"
        );
    }
    assert_eq!(names.len(), 4);

    // Depth 2 opens the inner cabinets one level: a directory of members.
    let two = tmp.path().join("two");
    let o = extract(&["--depth", "2", "--format", "json"], &input, &two);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(two.join("Windows6.1-KB4538483-x86.cab").is_dir());
    assert!(
        two.join("Windows6.1-KB4538483-x86.cab/update.mum")
            .is_file()
    );

    // 0 is not a depth.
    let o = extract(&["--depth", "0"], &input, &tmp.path().join("zero"));
    assert_eq!(o.status.code(), Some(2));
}

/// A filter that names a nested cabinet writes it as a file, and nothing
/// of its contents.
#[test]
fn filter_matches_containers() {
    let input = corpus_or_skip!(MSU);
    let tmp = tempfile::tempdir().unwrap();
    for layout in ["--nested", "--flat"] {
        let out = tmp.path().join(layout);
        let o = extract(&[layout, "--filter", "*.cab"], &input, &out);
        assert_eq!(
            o.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&o.stderr)
        );
        assert_eq!(
            files(&out),
            ["WSUSSCAN.cab", "Windows6.1-KB4538483-x86.cab"],
            "{layout}"
        );
        let cab = std::fs::read(out.join("Windows6.1-KB4538483-x86.cab")).unwrap();
        assert_eq!(&cab[..4], b"MSCF");
        assert_eq!(cab.len(), 3_424_386);
    }
}

/// Extracting into a used directory: the rerun writes nothing, says so in
/// its last line and exits 1; with --force it is complete again.
#[test]
fn used_directory_is_not_a_success() {
    let tmp = tempfile::tempdir().unwrap();
    let input = tmp.path().join("in");
    std::fs::create_dir_all(input.join("a")).unwrap();
    std::fs::write(input.join("a/x.txt"), b"one").unwrap();
    std::fs::write(input.join("y.txt"), b"two").unwrap();
    let out = tmp.path().join("out");
    let o = extract(&[], &input, &out);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(
        last_line(&o).starts_with("2 files, 6 bytes written to "),
        "{}",
        last_line(&o)
    );
    let o = extract(&[], &input, &out);
    assert_eq!(o.status.code(), Some(1));
    let last = last_line(&o);
    assert!(
        last.starts_with("incomplete: 0 files, 0 bytes written to "),
        "{last}"
    );
    assert!(
        last.ends_with("; 2 not written: 2 already exist (use --force)"),
        "{last}"
    );
    let o = extract(&["--format", "json"], &input, &out);
    assert_eq!(o.status.code(), Some(1));
    let j: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(j["complete"], false);
    assert_eq!(j["skipped"].as_array().unwrap().len(), 2);
    let o = extract(&["--force"], &input, &out);
    assert_eq!(o.status.code(), Some(0));
    assert!(last_line(&o).starts_with("2 files, 6 bytes written"));
}

/// `--flat` with two members of one name: the second is reported as a
/// collision, not dropped silently, and the run exits 1.
#[test]
fn flat_collisions_are_reported() {
    let tmp = tempfile::tempdir().unwrap();
    let input = tmp.path().join("in.cab");
    let a = stored_cab(&[("x.txt", b"a")]);
    let b = stored_cab(&[("x.txt", b"b")]);
    std::fs::write(&input, stored_cab(&[("a.cab", &a), ("b.cab", &b)])).unwrap();
    let out = tmp.path().join("out");
    let o = extract(&["--flat", "--format", "json"], &input, &out);
    assert_eq!(
        o.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let j: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(j["written"].as_array().unwrap().len(), 1);
    let skipped = j["skipped"].as_array().unwrap();
    assert_eq!(skipped.len(), 1);
    let codes: Vec<&str> = j["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["code"].as_str().unwrap())
        .collect();
    assert_eq!(codes, ["extract-collision"]);
    assert_eq!(files(&out), ["x.txt"]);
    let first = j["written"][0]["path"].as_str().unwrap();
    let kept = std::fs::read_to_string(out.join("x.txt")).unwrap();
    assert_eq!(first, format!("{kept}.cab/x.txt"), "the first is kept");

    let out2 = tmp.path().join("out2");
    let o = extract(&["--flat"], &input, &out2);
    assert_eq!(o.status.code(), Some(1));
    let last = last_line(&o);
    assert!(
        last.starts_with("incomplete: 1 files, 1 bytes written"),
        "{last}"
    );
    assert!(
        last.ends_with("; 1 not written: 1 name collisions (--flat)"),
        "{last}"
    );
}

/// A filter that matches nothing is a warning and exit 1; an input that
/// cannot be read exits 2 without creating the output directory.
#[test]
fn empty_filter_and_unreadable_input() {
    let tmp = tempfile::tempdir().unwrap();
    let input = tmp.path().join("in");
    std::fs::create_dir_all(&input).unwrap();
    std::fs::write(input.join("y.txt"), b"two").unwrap();
    let out = tmp.path().join("out");
    let o = extract(&["--filter", "*.cab"], &input, &out);
    assert_eq!(o.status.code(), Some(1));
    let last = last_line(&o);
    assert!(
        last.ends_with("no member matches --filter '*.cab'; nothing written"),
        "{last}"
    );
    let o = extract(&["--filter", "*.cab", "--format", "json"], &input, &out);
    let j: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(j["findings"][0]["code"], "extract-filter-empty");
    assert_eq!(j["findings"][0]["severity"], "warning");

    let out = tmp.path().join("never");
    for expand in [false, true] {
        let mut cmd = kbinspect();
        cmd.arg("extract")
            .arg("-o")
            .arg(&out)
            .arg(tmp.path().join("missing.msu"));
        if expand {
            cmd.arg("--expand");
        }
        let o = cmd.output().unwrap();
        assert_eq!(o.status.code(), Some(2));
        assert!(!out.exists(), "-o created for an unreadable input");
    }
}

/// Any `.kbinspect-*.part` file under `dir`.
fn parts(dir: &Path) -> Vec<String> {
    if !dir.exists() {
        return Vec::new();
    }
    files(dir)
        .into_iter()
        .filter(|f| {
            f.rsplit('/')
                .next()
                .is_some_and(|n| n.starts_with(".kbinspect-") && n.ends_with(".part"))
        })
        .collect()
}

/// SIGINT (and SIGTERM) while a 2 GiB member is being written: the
/// temporary file is removed, one line says how far it got, exit 130.
#[cfg(unix)]
#[test]
fn interrupt_leaves_no_part_file() {
    let input = corpus_or_skip!("cabextract-tests/cabs/large-files-cab.cab");
    for (signal, code) in [("INT", 130), ("TERM", 130)] {
        let tmp = tempfile::tempdir().unwrap();
        let out = tmp.path().join("out");
        let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("kbinspect"))
            .arg("extract")
            .arg("--filter")
            .arg("*/lzx21-2gb.txt")
            .arg("-o")
            .arg(&out)
            .arg(&input)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        // Wait until the member is being written.
        let start = std::time::Instant::now();
        while parts(&out).is_empty() {
            assert!(start.elapsed().as_secs() < 120, "no .part file appeared");
            assert!(
                child.try_wait().unwrap().is_none(),
                "finished before the signal"
            );
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        std::thread::sleep(std::time::Duration::from_millis(200));
        let st = std::process::Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(child.id().to_string())
            .status()
            .unwrap();
        assert!(st.success());
        let o = child.wait_with_output().unwrap();
        assert_eq!(o.status.code(), Some(code), "SIG{signal}");
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(
            err.lines().last(),
            Some("interrupted: 0 files written"),
            "{err}"
        );
        assert_eq!(parts(&out), Vec::<String>::new(), "SIG{signal}");
        assert!(files(&out).is_empty());
    }
}
