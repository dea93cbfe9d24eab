//! Safe extraction: hostile names, symlinks, existing files, case-insensitive
//! duplicates, interrupted members, layouts and timestamps.
use crate::common;

use std::path::{Path, PathBuf};

use kbinspect::container::Limits;
use kbinspect::extract::{ExtractReport, Filter, Layout, Options, extract};

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

fn write_cab(dir: &Path, name: &str, files: &[(&str, &[u8])]) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, stored_cab(files)).unwrap();
    p
}

fn run(input: &Path, out: &Path, opts: &Options) -> ExtractReport {
    extract(input, out, opts, &mut |_| {}).unwrap()
}

/// Every file below `dir`, relative, sorted (symlinks listed, not followed).
fn tree(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let e = e.unwrap();
            let ft = e.file_type().unwrap();
            if ft.is_dir() {
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

/// cabextract's dirwalk test set: nothing lands outside the output
/// directory and every dangerous name is reported.
#[test]
fn dirwalk_vulns_stay_inside_and_are_reported() {
    let input = corpus_or_skip!("cabextract-tests/cabs/dirwalk-vulns.cab");
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let r = run(&input, &out, &Options::default());
    assert_eq!(
        tree(tmp.path())
            .iter()
            .filter(|p| !p.starts_with("out"))
            .count(),
        0
    );
    let root = out.canonicalize().unwrap();
    for p in tree(&out) {
        let full = out.join(&p).canonicalize().unwrap();
        assert!(full.starts_with(&root), "{p} escapes");
    }
    assert_eq!(
        r.written.len() + r.skipped.len(),
        29,
        "every member accounted for"
    );
    for s in &r.skipped {
        assert!(
            r.findings
                .iter()
                .any(|f| f.subject == s.path && f.code.is_extract()),
            "skipped {} without a finding",
            s.path
        );
    }
    // Every name with a `..` component or a leading separator is either
    // skipped or written with a note saying what changed.
    let listing =
        kbinspect::container::list(&input, &Limits::default(), None, &mut |_| {}).unwrap();
    for m in &listing.members {
        let n = &m.meta.name;
        let dangerous = n.split(['/', '\\']).any(|c| c == "..") || n.starts_with(['/', '\\']);
        if dangerous {
            let skipped = r.skipped.iter().any(|s| s.path == m.meta.path);
            let renamed = r
                .written
                .iter()
                .any(|w| w.path == m.meta.path && w.renamed.is_some());
            assert!(
                skipped || renamed,
                "{n:?} neither skipped nor reported as renamed"
            );
        }
    }
    assert_eq!(
        kbinspect::finding::exit_code(&r.findings),
        1,
        "unsafe names are errors"
    );
}

#[cfg(unix)]
#[test]
fn symlinks_in_the_output_are_not_followed() {
    let tmp = tempfile::tempdir().unwrap();
    let outside = tmp.path().join("outside");
    let out = tmp.path().join("out");
    std::fs::create_dir_all(&outside).unwrap();
    std::fs::create_dir_all(&out).unwrap();
    std::os::unix::fs::symlink(&outside, out.join("link")).unwrap();
    std::os::unix::fs::symlink(outside.join("target.txt"), out.join("file.txt")).unwrap();
    let cab = write_cab(
        tmp.path(),
        "s.cab",
        &[("link\\x.txt", b"x"), ("file.txt", b"y")],
    );
    let r = run(
        &cab,
        &out,
        &Options {
            force: true,
            ..Options::default()
        },
    );
    assert!(r.written.is_empty(), "{:?}", r.written);
    assert_eq!(r.skipped.len(), 2);
    assert!(
        std::fs::read_dir(&outside).unwrap().next().is_none(),
        "wrote through a symlink"
    );
}

#[test]
fn existing_files_need_force_and_no_temporaries_remain() {
    let tmp = tempfile::tempdir().unwrap();
    let cab = write_cab(tmp.path(), "a.cab", &[("a.txt", b"new")]);
    let out = tmp.path().join("out");
    std::fs::create_dir(&out).unwrap();
    std::fs::write(out.join("a.txt"), b"old").unwrap();
    let r = run(&cab, &out, &Options::default());
    assert_eq!(r.skipped.len(), 1);
    assert!(r.skipped[0].reason.contains("--force"));
    assert_eq!(std::fs::read(out.join("a.txt")).unwrap(), b"old");
    let r = run(
        &cab,
        &out,
        &Options {
            force: true,
            ..Options::default()
        },
    );
    assert_eq!(r.written.len(), 1);
    assert_eq!(std::fs::read(out.join("a.txt")).unwrap(), b"new");
    assert_eq!(tree(&out), vec!["a.txt"]);
}

/// Names that are one file once extracted (case, `.` components, trailing
/// dots and spaces, doubled or leading separators) are one member: the
/// last one wins, in place of the first, as cabextract and 7-Zip write it
/// and as `verify` reads it. The replacement is reported.
#[test]
fn aliases_are_one_file_and_the_last_wins() {
    let tmp = tempfile::tempdir().unwrap();
    let cab = write_cab(
        tmp.path(),
        "d.cab",
        &[
            ("Dir\\A.txt", b"first"),
            ("dir\\a.TXT", b"second"),
            ("dir\\.\\a.txt.", b"third"),
            ("\\dir\\\\a.txt ", b"fourth"),
        ],
    );
    let out = tmp.path().join("out");
    let r = run(&cab, &out, &Options::default());
    assert_eq!(r.written.len(), 1, "{:?}", r.written);
    assert_eq!(r.written[0].path, "/dir//a.txt ");
    assert_eq!(r.written[0].target, "Dir/A.txt");
    assert_eq!(r.bytes_written, 6);
    let dups: Vec<_> = r
        .findings
        .iter()
        .filter(|f| f.code == "extract-duplicate")
        .collect();
    assert_eq!(dups.len(), 3, "{:?}", r.findings);
    assert!(dups[0].detail.contains("Dir/A.txt"), "{}", dups[0].detail);
    assert_eq!(std::fs::read(out.join("Dir/A.txt")).unwrap(), b"fourth");
    assert_eq!(tree(&out), vec!["Dir", "Dir/A.txt"]);
}

#[test]
fn device_names_and_control_characters_are_made_safe() {
    let tmp = tempfile::tempdir().unwrap();
    let cab = write_cab(
        tmp.path(),
        "w.cab",
        &[("CON", b"1"), ("sub\\nul.txt", b"2"), ("a\x01b", b"3")],
    );
    let out = tmp.path().join("out");
    let r = run(&cab, &out, &Options::default());
    let targets: Vec<&str> = r.written.iter().map(|w| w.target.as_str()).collect();
    assert_eq!(targets, vec!["_CON", "sub/_nul.txt", "a_b"]);
    assert!(r.written.iter().all(|w| w.renamed.is_some()));
    assert_eq!(std::fs::read(out.join("sub/_nul.txt")).unwrap(), b"2");
}

/// A member whose bytes run out midway leaves neither a final file nor a
/// temporary one.
#[test]
fn failed_member_leaves_no_file() {
    let tmp = tempfile::tempdir().unwrap();
    let mut bytes = stored_cab(&[("big.bin", &[7u8; 40000])]);
    bytes[44..48].copy_from_slice(&50_000u32.to_le_bytes());
    let cab = tmp.path().join("t.cab");
    std::fs::write(&cab, bytes).unwrap();
    let out = tmp.path().join("out");
    let r = run(&cab, &out, &Options::default());
    assert!(r.written.is_empty());
    assert_eq!(r.skipped.len(), 1);
    assert!(tree(&out).is_empty(), "{:?}", tree(&out));
    assert!(r.findings.iter().any(|f| f.code == "cab-range"));
}

#[test]
fn mtimes_are_kept() {
    let tmp = tempfile::tempdir().unwrap();
    let cab = write_cab(tmp.path(), "m.cab", &[("t.txt", b"t")]);
    let out = tmp.path().join("out");
    run(&cab, &out, &Options::default());
    let m = std::fs::metadata(out.join("t.txt"))
        .unwrap()
        .modified()
        .unwrap();
    let secs = m.duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    assert_eq!(secs, 1_588_368_872, "2020-05-01T21:34:32Z");
}

const MSU: &str =
    "kb4538483-esu-msu/windows6.1-kb4538483-x86_f77ee698928fb42232b70b01f53a4c5f68553323.msu";

/// Nested layout: the package CAB becomes a directory of its contents, and
/// the bytes equal cabextract's (kept in the corpus `extracted/` folder).
#[test]
fn msu_nested_and_flat_layouts() {
    let input = corpus_or_skip!(MSU);
    let reference = corpus_or_skip!("kb4538483-esu-msu/extracted/Windows6.1-KB4538483-x86.cab");
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("nested");
    let filter = globset::GlobSetBuilder::new()
        .add(globset::Glob::new("Windows6.1-KB4538483-x86.cab/*").unwrap())
        .build()
        .unwrap();
    let r = run(
        &input,
        &out,
        &Options {
            filter: Some(Filter::new(move |p| filter.is_match(p))),
            ..Options::default()
        },
    );
    assert_eq!(r.written.len(), 122);
    assert!(out.join("Windows6.1-KB4538483-x86.cab").is_dir());
    let mut compared = 0;
    for e in std::fs::read_dir(&reference).unwrap() {
        let e = e.unwrap();
        let mine = out.join("Windows6.1-KB4538483-x86.cab").join(e.file_name());
        assert_eq!(
            std::fs::read(&mine).unwrap(),
            std::fs::read(e.path()).unwrap()
        );
        compared += 1;
    }
    assert!(compared > 20);

    let flat = tmp.path().join("flat");
    let r = run(
        &input,
        &flat,
        &Options {
            layout: Layout::Flat,
            filter: Some(Filter::new(|p| p.ends_with(".mum"))),
            ..Options::default()
        },
    );
    assert!(flat.join("update.mum").is_file());
    assert!(r.written.iter().all(|w| !w.target.contains('/')));
    assert!(r.written.len() >= 5);
}
