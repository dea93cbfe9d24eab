//! Differential tests: our reader against cabextract (bytes, via MD5) and
//! 7-Zip (member lists) on every valid cabinet of the corpus and testdata.
use crate::common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use kbinspect::container::{DigestKind, Limits, Listing, list};
use md5::{Digest, Md5};

/// Cabinets whose names cabextract writes unchanged: compared path by path,
/// nested cabinets included.
const PLAIN: &[&str] = &[
    "libmspack-cabd/normal_255c_filename.cab",
    "libmspack-cabd/normal_2files_1folder.cab",
    "libmspack-cabd/normal_2files_2folders.cab",
    "libmspack-cabd/reserve_---.cab",
    "libmspack-cabd/reserve_--D.cab",
    "libmspack-cabd/reserve_-F-.cab",
    "libmspack-cabd/reserve_-FD.cab",
    "libmspack-cabd/reserve_H--.cab",
    "libmspack-cabd/reserve_H-D.cab",
    "libmspack-cabd/reserve_HF-.cab",
    "libmspack-cabd/reserve_HFD.cab",
    "cabextract-tests/cabs/case-ascii.cab",
    "cabextract-tests/cabs/dir.cab",
    "cabextract-tests/cabs/split-1.cab",
    "gcab-tests/test-mszip.cab",
    "gcab-tests/test-none.cab",
    "gcab-tests/test-signed.cab",
    "kb4538483-esu-msu/windows6.1-kb4538483-x86_f77ee698928fb42232b70b01f53a4c5f68553323.msu",
];

/// Valid cabinets whose names cabextract rewrites (raw OEM bytes, path
/// mangling, collapsed duplicates): compared by the multiset of member MD5s
/// that `cabextract -t` prints.
const MANGLED: &[&str] = &[
    "cabextract-tests/cabs/case-utf8.cab",
    "cabextract-tests/cabs/encoding-koi8.cab",
    "cabextract-tests/cabs/encoding-latin1.cab",
    "cabextract-tests/cabs/encoding-sjis.cab",
    "cabextract-tests/cabs/utf8-stresstest.cab",
    "cabextract-tests/cabs/dirwalk-vulns.cab",
    "libmspack-cabd/hidden-files.cab",
];

fn md5_hex(b: &[u8]) -> String {
    hex::encode(Md5::digest(b))
}

fn ours(path: &Path) -> Listing {
    list(path, &Limits::default(), Some(DigestKind::Md5), &mut |_| {})
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Extract with cabextract into `dir`, then every extracted cabinet into
/// `<name>.d`, and return tree path → MD5 (nested cabinets appear as their
/// own entry and as a prefix, like our tree).
fn cabextract_tree(input: &Path, dir: &Path, prefix: &str, out: &mut BTreeMap<String, String>) {
    let st = Command::new("cabextract")
        .arg("-q")
        .arg("-d")
        .arg(dir)
        .arg(input)
        .status()
        .unwrap();
    assert!(st.success(), "cabextract failed on {}", input.display());
    let mut stack = vec![dir.to_path_buf()];
    let mut files: Vec<PathBuf> = Vec::new();
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                files.push(p);
            }
        }
    }
    for p in files {
        let rel = p.strip_prefix(dir).unwrap().to_string_lossy().into_owned();
        let bytes = std::fs::read(&p).unwrap();
        let key = format!("{prefix}{rel}");
        if bytes.starts_with(b"MSCF") {
            let sub = p.with_extension("cab.d");
            std::fs::create_dir(&sub).unwrap();
            cabextract_tree(&p, &sub, &format!("{key}/"), out);
        }
        out.insert(key, md5_hex(&bytes));
    }
}

/// `cabextract -t`: the MD5 of every member, sorted.
fn cabextract_md5s(input: &Path) -> Vec<String> {
    let out = Command::new("cabextract")
        .arg("-t")
        .arg(input)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let mut v: Vec<String> = text
        .lines()
        .filter(|l| l.contains("  OK  "))
        .filter_map(|l| l.split_whitespace().last().map(str::to_string))
        .collect();
    v.sort();
    v
}

#[test]
fn plain_cabinets_match_cabextract_path_by_path() {
    let corpus = corpus_or_skip!("");
    if !common::have("cabextract") {
        eprintln!("SKIPPED: cabextract not installed");
        return;
    }
    let mut inputs: Vec<PathBuf> = PLAIN.iter().map(|p| corpus.join(p)).collect();
    inputs.push(common::testdata().join("cabs/gcab-mszip.cab"));
    inputs.push(common::testdata().join("cabs/gcab-stored.cab"));
    for input in inputs {
        let tmp = tempfile::tempdir().unwrap();
        let mut theirs = BTreeMap::new();
        cabextract_tree(&input, tmp.path(), "", &mut theirs);
        let listing = ours(&input);
        let mine: BTreeMap<String, String> = listing
            .members
            .iter()
            .map(|m| {
                let h = m.md5.clone().unwrap_or_else(|| {
                    panic!("{}: {} failed: {:?}", input.display(), m.meta.path, m.error)
                });
                (m.meta.path.clone(), h)
            })
            .collect();
        assert_eq!(mine, theirs, "{}", input.display());
        assert!(!mine.is_empty());
        assert!(
            listing
                .findings
                .iter()
                .all(|f| f.severity != kbinspect::finding::Severity::Error),
            "{}: {:?}",
            input.display(),
            listing.findings
        );
    }
}

#[test]
fn mangled_name_cabinets_match_cabextract_bytes() {
    let corpus = corpus_or_skip!("");
    if !common::have("cabextract") {
        eprintln!("SKIPPED: cabextract not installed");
        return;
    }
    for rel in MANGLED {
        let input = corpus.join(rel);
        let theirs = cabextract_md5s(&input);
        let listing = ours(&input);
        let mut mine: Vec<String> = listing
            .members
            .iter()
            .filter_map(|m| m.md5.clone())
            .collect();
        mine.sort();
        assert_eq!(mine.len(), listing.members.len(), "{rel}: a member failed");
        assert_eq!(mine, theirs, "{rel}");
    }
}

/// Quantum is refused with a clear error; the other folders still decode
/// byte-identically.
#[test]
fn quantum_member_is_refused_others_match() {
    let input = corpus_or_skip!("libmspack-cabd/mszip_lzx_qtm.cab");
    if !common::have("cabextract") {
        return;
    }
    let theirs = cabextract_md5s(&input);
    let listing = ours(&input);
    let failed: Vec<_> = listing
        .members
        .iter()
        .filter(|m| m.error.is_some())
        .collect();
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0].meta.path, "qtm.txt");
    let f = listing
        .findings
        .iter()
        .find(|f| f.code == "cab-unsupported")
        .unwrap();
    assert_eq!(f.subject, "qtm.txt");
    assert!(
        f.detail.contains("Quantum compression is not supported"),
        "{}",
        f.detail
    );
    assert!(
        f.detail.contains("mszip_lzx_qtm.cab") && f.detail.contains("folder 2"),
        "{}",
        f.detail
    );
    for m in listing.members.iter().filter(|m| m.error.is_none()) {
        assert!(theirs.contains(m.md5.as_ref().unwrap()), "{}", m.meta.path);
    }
}

/// Member names and sizes agree with `7zz l -slt` (top level only: 7-Zip
/// does not open nested cabinets).
#[test]
fn member_lists_match_7zip() {
    let corpus = corpus_or_skip!("");
    if !common::have("7zz") {
        eprintln!("SKIPPED: 7zz not installed");
        return;
    }
    let mut checked = 0;
    for rel in PLAIN.iter().chain(MANGLED) {
        if rel.contains("split-") {
            continue; // 7-Zip wants all volumes named on the command line
        }
        let input = corpus.join(rel);
        let out = Command::new("7zz")
            .arg("l")
            .arg("-slt")
            .arg(&input)
            .output()
            .unwrap();
        if !out.status.success() {
            eprintln!("7zz cannot read {rel}; skipped");
            continue;
        }
        let text = String::from_utf8_lossy(&out.stdout);
        let body = text.split("----------").nth(1).unwrap_or("");
        let mut theirs: Vec<(String, u64)> = Vec::new();
        let mut path = None;
        for line in body.lines() {
            if let Some(p) = line.strip_prefix("Path = ") {
                path = Some(p.replace('\\', "/"));
            } else if let Some(s) = line.strip_prefix("Size = ")
                && let Some(p) = path.take()
            {
                theirs.push((p, s.parse().unwrap()));
            }
        }
        let listing = ours(&input);
        let mut mine: Vec<(String, u64)> = listing
            .members
            .iter()
            .filter(|m| m.meta.depth == 0)
            .map(|m| (m.meta.path.clone(), m.meta.size))
            .collect();
        mine.sort();
        theirs.sort();
        if rel.contains("encoding-") || rel.contains("utf8") || rel.contains("dirwalk") {
            // 7-Zip decodes OEM names with its own code page and rewrites
            // invalid UTF-8: the names differ, so compare the members'
            // sizes as a multiset (every member, none more, none less).
            let mut a: Vec<u64> = mine.iter().map(|x| x.1).collect();
            let mut b: Vec<u64> = theirs.iter().map(|x| x.1).collect();
            a.sort_unstable();
            b.sort_unstable();
            assert!(!a.is_empty(), "{rel}: no members");
            assert_eq!(a, b, "{rel}: member sizes");
        } else {
            assert_eq!(mine, theirs, "{rel}");
        }
        checked += 1;
    }
    assert!(checked >= 15, "only {checked} cabinets compared with 7-Zip");
}

/// `kbinspect extract` writes the same files and bytes as cabextract (run
/// level by level); nested cabinets are directories on our side.
#[test]
fn extract_matches_cabextract_files() {
    let corpus = corpus_or_skip!("");
    if !common::have("cabextract") {
        return;
    }
    for rel in PLAIN {
        let input = corpus.join(rel);
        let tmp = tempfile::tempdir().unwrap();
        let mut theirs = BTreeMap::new();
        cabextract_tree(&input, &tmp.path().join("theirs"), "", &mut theirs);
        let ours_dir = tmp.path().join("ours");
        let report = kbinspect::extract::extract(
            &input,
            &ours_dir,
            &kbinspect::extract::Options::default(),
            &mut |_| {},
        )
        .unwrap();
        assert!(report.skipped.is_empty(), "{rel}: {:?}", report.skipped);
        let containers: Vec<String> = theirs
            .keys()
            .filter(|k| theirs.keys().any(|o| o.starts_with(&format!("{k}/"))))
            .cloned()
            .collect();
        for c in &containers {
            theirs.remove(c);
        }
        let mut mine = BTreeMap::new();
        let mut stack = vec![ours_dir.clone()];
        while let Some(d) = stack.pop() {
            for e in std::fs::read_dir(&d).unwrap() {
                let p = e.unwrap().path();
                if p.is_dir() {
                    stack.push(p);
                } else {
                    let rel = p
                        .strip_prefix(&ours_dir)
                        .unwrap()
                        .to_string_lossy()
                        .into_owned();
                    mine.insert(rel, md5_hex(&std::fs::read(&p).unwrap()));
                }
            }
        }
        assert_eq!(mine, theirs, "{rel}");
    }
}
