//! Extraction against hostile names and corrupt members, on cabinets built
//! with `cabwrite`: nothing is written outside the output directory, no two
//! members silently land on one file, and a failure leaves no partial file
//! under a final name and no temporary files.
use crate::common;

use std::path::{Path, PathBuf};

use kbinspect::extract::{ExtractReport, Options, extract};
use kbinspect_testkit::cabwrite::{CabFile, CabOptions, DosDateTime, Method, write_cab};

fn file(name: &str, data: &[u8]) -> CabFile {
    CabFile {
        name: name.into(),
        data: data.to_vec(),
        time: DosDateTime {
            year: 2021,
            month: 6,
            day: 7,
            hour: 8,
            minute: 9,
            second: 10,
        },
        // archive + UTF-8 name
        attributes: 0x20 | 0x80,
    }
}

fn build(dir: &Path, files: &[CabFile], method: Method) -> PathBuf {
    let p = dir.join("t.cab");
    let b = write_cab(
        files,
        &CabOptions {
            method,
            set_id: 3,
            signature: None,
        },
    );
    std::fs::write(&p, b).unwrap();
    p
}

fn run(input: &Path, out: &Path) -> ExtractReport {
    extract(input, out, &Options::default(), &mut |_| {}).unwrap()
}

/// Every entry below `dir` (files and directories), relative, sorted.
fn tree(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in rd.flatten() {
            if e.file_type().unwrap().is_dir() {
                stack.push(e.path());
            }
            out.push(
                e.path()
                    .strip_prefix(dir)
                    .unwrap()
                    .to_string_lossy()
                    .into_owned(),
            );
        }
    }
    out.sort();
    out
}

/// Everything in `root` except `out` and the cabinet: must stay empty.
fn outside(root: &Path) -> Vec<String> {
    tree(root)
        .into_iter()
        .filter(|p| p != "t.cab" && p != "out" && !p.starts_with("out/"))
        .collect()
}

/// Each written member is complete and no two share a target.
fn check_written(r: &ExtractReport, out: &Path, files: &[CabFile]) {
    let mut targets: Vec<String> = r.written.iter().map(|w| w.target.to_lowercase()).collect();
    targets.sort();
    let n = targets.len();
    targets.dedup();
    assert_eq!(
        n,
        targets.len(),
        "two members written to one target: {targets:?}"
    );
    for w in &r.written {
        let got = std::fs::read(out.join(&w.target)).unwrap();
        let src = files
            .iter()
            .find(|f| f.name.replace('\\', "/") == w.path)
            .unwrap_or_else(|| panic!("no source for {}", w.path));
        assert_eq!(got, src.data, "{} -> {}", w.path, w.target);
    }
    // A later alias of an earlier member replaces it (reported).
    let replaced = r
        .findings
        .iter()
        .filter(|f| f.code == "extract-duplicate")
        .count();
    assert_eq!(
        r.written.len() + r.skipped.len() + replaced,
        files.len(),
        "a member vanished"
    );
}

/// The dangerous names of cabextract's dirwalk-vulns.cab rebuilt with
/// cabwrite, plus Windows device names: reported, made safe or skipped.
#[test]
fn traversal_and_device_names() {
    let names = [
        "../../../../../../tmp/evil1.txt",
        "..\\..\\evil2.txt",
        "/etc/evil3",
        "\\\\server\\share\\evil4",
        "C:\\evil5.txt",
        "C:evil6.txt",
        "a/../../evil7",
        "./././evil8",
        "CON",
        "com1.txt",
        "LPT9",
        "aux.tar.gz",
        "nul.",
        "prn ",
        "dir\\CONIN$",
    ];
    let files: Vec<CabFile> = names
        .iter()
        .enumerate()
        .map(|(i, n)| file(n, format!("member {i}").as_bytes()))
        .collect();
    let tmp = tempfile::tempdir().unwrap();
    let cab = build(tmp.path(), &files, Method::MsZip);
    let out = tmp.path().join("out");
    let r = run(&cab, &out);
    assert!(outside(tmp.path()).is_empty(), "{:?}", outside(tmp.path()));
    check_written(&r, &out, &files);
    // Every dangerous name is renamed or skipped: none kept as is.
    for w in &r.written {
        assert!(
            w.renamed.is_some(),
            "{} written unchanged as {}",
            w.path,
            w.target
        );
    }
}

/// The real dirwalk-vulns.cab from cabextract's test set.
#[test]
fn dirwalk_vulns_cab() {
    let src = corpus_or_skip!("cabextract-tests/cabs/dirwalk-vulns.cab");
    let tmp = tempfile::tempdir().unwrap();
    std::fs::copy(&src, tmp.path().join("t.cab")).unwrap();
    let out = tmp.path().join("out");
    let r = run(&tmp.path().join("t.cab"), &out);
    assert!(outside(tmp.path()).is_empty(), "{:?}", outside(tmp.path()));
    assert!(!r.written.is_empty() || !r.skipped.is_empty());
    assert!(
        r.written.iter().any(|w| w.renamed.is_some()) || !r.skipped.is_empty(),
        "no dangerous name was reported"
    );
}

/// Names equal but for case, or only in Unicode normalization (NFC é vs
/// NFD e + combining acute; macOS file systems treat them as one), never
/// overwrite one another.
#[test]
fn case_and_normalization_duplicates() {
    let files = vec![
        file("caf\u{e9}.txt", b"nfc"),
        file("cafe\u{301}.txt", b"nfd"),
        file("Readme.TXT", b"upper"),
        file("readme.txt", b"lower"),
        file("DIR\\x", b"dir upper"),
        file("dir\\X", b"dir lower"),
    ];
    let tmp = tempfile::tempdir().unwrap();
    let cab = build(tmp.path(), &files, Method::Stored);
    let out = tmp.path().join("out");
    let r = run(&cab, &out);
    check_written(&r, &out, &files);
    // The last of each case-insensitive pair wins, in the first one's
    // file (as cabextract and 7-Zip do, and as `verify` reads it); the
    // replacement is reported.
    assert_eq!(std::fs::read(out.join("Readme.TXT")).unwrap(), b"lower");
    assert_eq!(std::fs::read(out.join("DIR/x")).unwrap(), b"dir lower");
    assert!(!out.join("readme.txt").exists() || out.join("Readme.TXT").exists());
    assert!(
        r.findings
            .iter()
            .filter(|f| f.code == "extract-duplicate")
            .count()
            >= 2,
        "{:?}",
        r.findings
    );
    // On this file system both normalizations are distinct files: both
    // must hold their own bytes (checked above), neither overwritten.
    let nfc = out.join("caf\u{e9}.txt");
    let nfd = out.join("cafe\u{301}.txt");
    if nfc.exists() && nfd.exists() {
        assert_eq!(std::fs::read(nfc).unwrap(), b"nfc");
        assert_eq!(std::fs::read(nfd).unwrap(), b"nfd");
    }
}

/// Names at the CAB limit (255 bytes): a full-length component, one that
/// grows past the file-system limit when made safe (`con.` + 251 bytes gets
/// a `_` prefix), a deep path. Each is written or skipped with a report,
/// never an I/O error that stops the extraction.
#[test]
fn overlong_names() {
    let long_component = "a".repeat(255);
    let device_long = format!("con.{}", "b".repeat(251));
    let deep = vec!["d".repeat(9); 25].join("\\");
    let files = vec![
        file(&long_component, b"long"),
        file(&device_long, b"device"),
        file(&format!("{deep}\\f.txt"), b"deep"),
        file("after.txt", b"still extracted"),
    ];
    let tmp = tempfile::tempdir().unwrap();
    let cab = build(tmp.path(), &files, Method::Stored);
    let out = tmp.path().join("out");
    let r = run(&cab, &out);
    assert!(outside(tmp.path()).is_empty());
    assert_eq!(
        std::fs::read(out.join("after.txt")).unwrap(),
        b"still extracted"
    );
    check_written(&r, &out, &files);
}

/// A name over the CAB limit of 255 bytes is a format error naming the
/// cabinet and the offset of the CFFILE.
#[test]
fn name_over_cab_limit_is_a_clear_error() {
    let files = vec![file(&"a".repeat(300), b"x")];
    let tmp = tempfile::tempdir().unwrap();
    let cab = build(tmp.path(), &files, Method::Stored);
    let e = extract(
        &cab,
        &tmp.path().join("out"),
        &Options::default(),
        &mut |_| {},
    )
    .expect_err("a 300-byte name must not be accepted");
    let msg = e.to_string();
    assert!(
        msg.contains("t.cab") && msg.contains("offset") && msg.contains("255"),
        "{msg}"
    );
    assert!(outside(tmp.path()).is_empty());
}

/// A cabinet whose second member is corrupt (its MSZIP block damaged):
/// the first member is complete, nothing exists under the second's final
/// name, and no temporary file is left.
#[test]
fn corrupt_second_member_leaves_first_complete_and_no_partial() {
    // Two folders are not written by cabwrite, so put the members in one
    // MSZIP folder with the second starting in the third 32 KiB block, and
    // damage that block only.
    let first: Vec<u8> = (0..40_000u32).map(|i| (i * 7 % 251) as u8).collect();
    let second: Vec<u8> = (0..60_000u32).map(|i| (i * 13 % 241) as u8).collect();
    let files = vec![file("first.bin", &first), file("second.bin", &second)];
    let tmp = tempfile::tempdir().unwrap();
    let cab = build(tmp.path(), &files, Method::MsZip);
    let mut b = std::fs::read(&cab).unwrap();
    // Walk the CFDATA chain: coffCabStart of folder 0 at 36.
    let mut at = u32::from_le_bytes(b[36..40].try_into().unwrap()) as usize;
    for _ in 0..2 {
        let cb = u16::from_le_bytes([b[at + 4], b[at + 5]]) as usize;
        at += 8 + cb;
    }
    // Third block: zero its checksum (so the damage is not just a checksum
    // finding) and break its deflate data after the "CK".
    b[at..at + 4].fill(0);
    let cb = u16::from_le_bytes([b[at + 4], b[at + 5]]) as usize;
    for x in &mut b[at + 8 + 2..at + 8 + cb] {
        *x = 0xFF;
    }
    std::fs::write(&cab, &b).unwrap();
    let out = tmp.path().join("out");
    let r = run(&cab, &out);
    assert_eq!(std::fs::read(out.join("first.bin")).unwrap(), first);
    assert!(
        !out.join("second.bin").exists(),
        "partial second member under its final name"
    );
    assert_eq!(
        tree(&out),
        vec!["first.bin".to_string()],
        "temporary files left"
    );
    assert!(
        r.skipped.iter().any(|s| s.path == "second.bin"),
        "{:?}",
        r.skipped
    );
}
