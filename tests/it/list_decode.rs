//! `list` decodes only what it needs (issue 15): a member the model has no
//! use for is read as far as its first bytes, which say what it is, and is
//! not decoded further. Shown without timing anything: the compression-ratio
//! limit counts every decoded byte, so a 64 MiB member of zeros at the end
//! of the sample's cabinet trips a low `--max-ratio` for `ls --test`, which
//! decodes everything, and not for `list`, whose output is the same as for
//! the sample without that member.

use std::path::Path;
use std::process::Command;

use kbinspect_testkit::cabwrite::{self, CabFile, CabOptions, Method};
use kbinspect_testkit::{self as sample, Arch, DosDateTime};

fn write(dir: &Path, name: &str, extra: Option<usize>) -> std::path::PathBuf {
    let spec = sample::kb975354(Arch::X86);
    let mut members = sample::package_members(&spec);
    if let Some(len) = extra {
        members.push(CabFile {
            name: "zeros.bin".into(),
            data: vec![0; len],
            time: DosDateTime::new(2020, 5, 1, 12, 0),
            attributes: cabwrite::ATTR_ARCHIVE,
        });
    }
    let cab = cabwrite::write_cab(
        &members,
        &CabOptions {
            method: Method::MsZip,
            set_id: 0,
            signature: None,
        },
    );
    let path = dir.join(name);
    std::fs::write(&path, cab).unwrap();
    path
}

fn kbinspect(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_kbinspect"))
        .args(args)
        .output()
        .expect("run kbinspect")
}

#[test]
fn list_does_not_decode_members_it_does_not_need() {
    let dir = tempfile::tempdir().unwrap();
    let plain = write(dir.path(), "plain.cab", None);
    let padded = write(dir.path(), "padded.cab", Some(64 << 20));
    let (plain, padded) = (plain.to_str().unwrap(), padded.to_str().unwrap());
    let tight = ["--max-ratio", "20", "--ratio-floor", "4MiB"];

    // Decoding everything crosses the ratio limit at the zeros.
    let all = kbinspect(&[&["ls", "--test", padded][..], &tight[..]].concat());
    assert_eq!(all.status.code(), Some(2), "{all:?}");
    let err = String::from_utf8_lossy(&all.stderr);
    assert!(
        err.contains("zeros.bin") && err.contains("--max-ratio"),
        "{err}"
    );

    // `list` reads the zeros' first 64 KiB only: no limit is met, and the
    // report is the sample's own.
    let listed = kbinspect(&[&["list", "--format", "json", padded][..], &tight[..]].concat());
    assert_eq!(
        listed.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&listed.stderr)
    );
    let reference = kbinspect(&["list", "--format", "json", plain]);
    let mut a: serde_json::Value = serde_json::from_slice(&listed.stdout).unwrap();
    let mut b: serde_json::Value = serde_json::from_slice(&reference.stdout).unwrap();
    a["input"] = serde_json::Value::Null;
    b["input"] = serde_json::Value::Null;
    assert_eq!(a, b);
    assert!(a["components"].as_array().is_some_and(|c| !c.is_empty()));
}

/// The library side: the member is reported as not digested, with its
/// declared size, while every member the model needs is digested.
#[test]
fn undigested_members_say_so() {
    use kbinspect::container::Limits;
    use kbinspect::model::{LoadOptions, Package};
    let dir = tempfile::tempdir().unwrap();
    let padded = write(dir.path(), "padded.cab", Some(1 << 20));
    let opts = LoadOptions {
        digest_all: false,
        keep_trust: false,
        ..LoadOptions::default()
    };
    let pkg = Package::load_with(&padded, &Limits::default(), &opts).unwrap();
    let zeros = pkg.member("zeros.bin").expect("the member is listed");
    assert!(!zeros.digested());
    assert_eq!(zeros.size, 1 << 20);
    for m in pkg.members().iter().filter(|m| &*m.path != "zeros.bin") {
        assert!(m.digested(), "{} was needed", m.path);
    }
    let full = Package::load(&padded, &Limits::default()).unwrap();
    let zeros = full.member("zeros.bin").unwrap();
    assert!(zeros.digested());
    assert_eq!(zeros.sha256_hex(), {
        use sha2::Digest as _;
        hex::encode(sha2::Sha256::digest(vec![0u8; 1 << 20]))
    });
}

/// `ls` without `--test` says that it checked no content, and how much it
/// had to read to find nested cabinets: of a folder, everything up to the
/// last member's first bytes (the 64 MiB member of zeros at the end of the
/// MSZIP one is only started). `--test` drops the note.
#[test]
fn ls_says_what_it_did_not_check() {
    let dir = tempfile::tempdir().unwrap();
    // Two plain files, stored: nothing to decode.
    let plain = |name: &str| CabFile {
        name: name.into(),
        data: b"plain text\n".repeat(100),
        time: DosDateTime::new(2020, 5, 1, 12, 0),
        attributes: cabwrite::ATTR_ARCHIVE,
    };
    let stored = dir.path().join("stored.cab");
    let cab = cabwrite::write_cab(
        &[plain("a.txt"), plain("b.txt")],
        &CabOptions {
            method: Method::Stored,
            set_id: 0,
            signature: None,
        },
    );
    std::fs::write(&stored, cab).unwrap();
    let padded = write(dir.path(), "padded.cab", Some(64 << 20));
    let json = |p: &Path| -> serde_json::Value {
        let out = kbinspect(&[
            "ls",
            "--format",
            "json",
            "--threads",
            "1",
            p.to_str().unwrap(),
        ]);
        assert_eq!(out.status.code(), Some(0), "{out:?}");
        serde_json::from_slice(&out.stdout).unwrap()
    };
    let table = |p: &Path, test: bool| -> Vec<String> {
        let mut args = vec!["ls", "--width", "1000", p.to_str().unwrap()];
        if test {
            args.push("--test");
        }
        let out = kbinspect(&args);
        assert_eq!(out.status.code(), Some(0), "{out:?}");
        String::from_utf8(out.stdout)
            .unwrap()
            .lines()
            .map(str::to_owned)
            .collect()
    };

    // The first member is passed through to reach the second's first bytes,
    // which are looked at, not taken.
    assert_eq!(json(&stored)["bytes_decoded"], 1100);
    let lines = table(&stored, false);
    let note = &lines[lines.len() - 2];
    assert!(note.starts_with("not tested: "), "{lines:?}");
    assert!(note.contains("no content was checked"), "{note}");

    let listing = json(&padded);
    let decoded = listing["bytes_decoded"].as_u64().unwrap();
    let zeros = listing["members"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["path"] == "zeros.bin")
        .unwrap();
    let total: u64 = listing["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["size"].as_u64().unwrap())
        .sum();
    // The sample's members are decoded to reach the zeros' head; the 64 MiB
    // of zeros are not.
    assert!(decoded > 0, "{decoded}");
    assert!(
        decoded < total - zeros["size"].as_u64().unwrap() + (1 << 20),
        "{decoded} of {total}"
    );
    let lines = table(&padded, false);
    let note = &lines[lines.len() - 2];
    assert!(
        note.starts_with("not tested: ") && note.contains(" bytes decoded to reach them"),
        "{note}"
    );

    let lines = table(&padded, true);
    assert!(
        lines.iter().all(|l| !l.starts_with("not tested")),
        "{lines:?}"
    );
    assert!(lines.last().unwrap().starts_with("tested "), "{lines:?}");
}

/// `list` runs no trust check, so it keeps no catalog's bytes (the largest
/// thing a big package holds: 9.8 MB in the generated 300 MB package);
/// `verify`'s load keeps them to read the hashes they list.
#[test]
fn list_keeps_no_catalog() {
    use kbinspect::model::{LoadOptions, MemberKind, Package};
    let input = Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/Windows6.1-KB975354-x86.msu");
    let limits = kbinspect::container::Limits::default();
    let kept = |opts: &LoadOptions| -> (usize, usize) {
        let pkg = Package::load_with(&input, &limits, opts).unwrap();
        let cats: Vec<_> = pkg
            .members()
            .iter()
            .filter(|m| m.kind == MemberKind::Catalog)
            .collect();
        (
            cats.len(),
            cats.iter().filter(|m| m.bytes().is_some()).count(),
        )
    };
    let verify = kept(&LoadOptions::default());
    let list = kept(&LoadOptions {
        keep_trust: false,
        digest_all: false,
        ..LoadOptions::default()
    });
    assert!(verify.0 >= 2 && verify.1 == verify.0, "{verify:?}");
    assert_eq!(list, (verify.0, 0));
}
