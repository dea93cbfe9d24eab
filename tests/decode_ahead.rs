//! Folders of 1 MiB or more are decoded on a second thread (`decode_ahead`
//! in `container::stream`). These tests prove that path gives the same
//! bytes as the files cabextract extracted, and that corruption in a
//! decoded-ahead folder is reported without hanging or losing the members
//! before it.
mod common;

use std::collections::BTreeMap;
use std::path::Path;

use kbinspect::container::{DigestKind, Limits, list};
use md5::{Digest, Md5};

fn md5_of_dir(dir: &Path) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_file() {
            let name = p
                .file_name()
                .unwrap()
                .to_str()
                .unwrap()
                .to_ascii_lowercase();
            out.insert(name, hex::encode(Md5::digest(std::fs::read(&p).unwrap())));
        }
    }
    out
}

fn msu_path(dir: &Path) -> std::path::PathBuf {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|x| x == "msu"))
        .expect("an .msu in the corpus folder")
}

/// The KB4538483 MSU: an MSZIP outer folder (3.4 MB) and an LZX:21 package
/// folder inside, both large enough to be decoded ahead.
#[test]
fn decoded_ahead_members_match_cabextract_extraction() {
    let dir = corpus_or_skip!("kb4538483-esu-msu");
    let msu = msu_path(&dir);
    let listing = list(&msu, &Limits::default(), Some(DigestKind::Md5), &mut |_| {}).unwrap();
    let inner = "Windows6.1-KB4538483-x86.cab/";
    let ours: BTreeMap<String, String> = listing
        .members
        .iter()
        .filter_map(|m| {
            let rest = m.meta.path.strip_prefix(inner)?;
            Some((rest.to_ascii_lowercase(), m.md5.clone()?))
        })
        .collect();
    // The corpus holds cabextract's output for 55 of the package's members.
    let expected = md5_of_dir(&dir.join("extracted").join(inner.trim_end_matches('/')));
    assert_eq!(expected.len(), 55);
    assert!(ours.len() > 120, "{} members with digests", ours.len());
    for (name, md5) in &expected {
        assert_eq!(ours.get(name), Some(md5), "{name}");
    }
    // The outer members too (the package CAB itself is spooled and walked).
    let outer = md5_of_dir(&dir.join("extracted"));
    for (name, md5) in &outer {
        let m = listing
            .members
            .iter()
            .find(|m| m.meta.path.eq_ignore_ascii_case(name))
            .unwrap_or_else(|| panic!("{name} not listed"));
        assert_eq!(m.md5.as_ref(), Some(md5), "{name}");
    }
    assert!(
        listing.findings.iter().all(|f| f.code != "cab-data"),
        "{:?}",
        listing.findings
    );
}

fn le16(b: &[u8], at: usize) -> usize {
    usize::from(u16::from_le_bytes([b[at], b[at + 1]]))
}

/// Breaking the `CK` signature of the middle MSZIP block of the outer
/// folder: the damage is a finding, the members after it fail, and the
/// member wholly before it keeps its digest.
#[test]
fn corruption_in_a_decoded_ahead_folder_is_reported() {
    let dir = corpus_or_skip!("kb4538483-esu-msu");
    let msu = msu_path(&dir);
    let mut bytes = std::fs::read(&msu).unwrap();
    // CFHEADER with a reserve (signed MSU): cbCFHeader, cbCFFolder, cbCFData.
    assert_eq!(le16(&bytes, 30) & 4, 4);
    let (hres, dres) = (le16(&bytes, 36), usize::from(bytes[39]));
    let folder = 40 + hres;
    let mut pos = u32::from_le_bytes(bytes[folder..folder + 4].try_into().unwrap()) as usize;
    let nblocks = le16(&bytes, folder + 4);
    for _ in 0..nblocks / 2 {
        pos += 8 + dres + le16(&bytes, pos + 4);
    }
    let data = pos + 8 + dres;
    assert_eq!(&bytes[data..data + 2], b"CK");
    bytes[data..data + 2].copy_from_slice(b"XX");
    let tmp = tempfile::tempdir().unwrap();
    let bad = tmp.path().join("damaged.msu");
    std::fs::write(&bad, &bytes).unwrap();
    let listing = list(&bad, &Limits::default(), Some(DigestKind::Md5), &mut |_| {}).unwrap();
    let codes: Vec<&str> = listing.findings.iter().map(|f| f.code.as_str()).collect();
    assert!(codes.contains(&"cab-data"), "{codes:?}");
    let data_finding = listing
        .findings
        .iter()
        .find(|f| f.code == "cab-data")
        .unwrap();
    assert!(
        data_finding.detail.contains("CK"),
        "{}",
        data_finding.detail
    );
    let failed: Vec<&str> = listing
        .members
        .iter()
        .filter(|m| m.error.is_some())
        .map(|m| m.meta.path.as_str())
        .collect();
    // The package CAB spans the damage; the two text members follow it.
    assert_eq!(failed.len(), 3, "{failed:?}");
    // WSUSSCAN.cab is the first member of the folder, far before the damage.
    let clean = list(&msu, &Limits::default(), Some(DigestKind::Md5), &mut |_| {}).unwrap();
    let scan = |l: &kbinspect::container::Listing| {
        l.members
            .iter()
            .find(|m| m.meta.path == "WSUSSCAN.cab")
            .and_then(|m| m.md5.clone())
    };
    assert!(scan(&clean).is_some());
    assert_eq!(scan(&listing), scan(&clean));
}
