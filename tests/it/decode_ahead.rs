//! Folders of 1 MiB or more are decoded on a second thread (`decode_ahead`
//! in `container::stream`). These tests prove that path gives the same
//! bytes as the files cabextract extracted, and that corruption in a
//! decoded-ahead folder is reported without hanging or losing the members
//! before it.
use crate::common;

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

/// Three LZX folders of ~1.2 MiB each: small enough compressed to be
/// copied out and decoded ahead, one per core, while earlier folders are
/// still being read. Every member must come out exactly, in order, and a
/// damaged block in the middle folder must fail only its own members from
/// the damage on.
#[test]
fn folders_decoded_in_parallel_keep_order_and_isolate_damage() {
    use kbinspect_testkit::cabwrite::{
        ATTR_ARCHIVE, CabFile, CabOptions, DosDateTime, Folder, Method, write_cab_folders,
    };
    let time = DosDateTime {
        year: 2020,
        month: 2,
        day: 11,
        hour: 12,
        minute: 0,
        second: 0,
    };
    // Deterministic and distinct per member: noise with some repeats (the
    // encoder is slow on highly repetitive text).
    let member = |f: usize, i: usize| -> Vec<u8> {
        let mut x = (f * 1000 + i) as u64 * 0x9E37_79B9_7F4A_7C15 + 1;
        let mut v: Vec<u8> = Vec::with_capacity(300_000);
        while v.len() < 300_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            if x.is_multiple_of(4) && v.len() > 5000 {
                let from = v.len() - 1 - (x >> 8) as usize % 5000;
                let n = 8 + (x >> 24) as usize % 200;
                for k in 0..n {
                    v.push(v[from + k % (v.len() - from)]);
                }
            } else {
                v.extend_from_slice(&x.to_le_bytes());
            }
        }
        v
    };
    let folder_files: Vec<Vec<CabFile>> = (0..3)
        .map(|f| {
            (0..4)
                .map(|i| CabFile {
                    name: format!("dir{f}\\member{i}.bin"),
                    data: member(f, i),
                    time,
                    attributes: ATTR_ARCHIVE,
                })
                .collect()
        })
        .collect();
    let folders: Vec<Folder<'_>> = folder_files
        .iter()
        .map(|files| Folder {
            method: Method::Lzx { window_bits: 21 },
            files,
        })
        .collect();
    let opts = CabOptions {
        method: Method::Stored,
        set_id: 7,
        signature: None,
    };
    let cab = write_cab_folders(&folders, &opts);
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("folders.cab");
    std::fs::write(&path, &cab).unwrap();

    let expected: Vec<(String, String)> = folder_files
        .iter()
        .flatten()
        .map(|f| (f.name.replace('\\', "/"), hex::encode(Md5::digest(&f.data))))
        .collect();
    let listing = list(
        &path,
        &Limits::default(),
        Some(DigestKind::Md5),
        &mut |_| {},
    )
    .unwrap();
    let got: Vec<(String, String)> = listing
        .members
        .iter()
        .map(|m| (m.meta.path.clone(), m.md5.clone().unwrap_or_default()))
        .collect();
    assert_eq!(got, expected, "members, order and bytes");
    assert!(
        listing
            .findings
            .iter()
            .all(|f| f.severity != kbinspect::finding::Severity::Error)
    );
    if common::have("cabextract") {
        let out = tmp.path().join("ce");
        let st = std::process::Command::new("cabextract")
            .arg("-q")
            .arg("-d")
            .arg(&out)
            .arg(&path)
            .status()
            .unwrap();
        assert!(st.success());
        for (name, md5) in &expected {
            let bytes = std::fs::read(out.join(name)).unwrap();
            assert_eq!(&hex::encode(Md5::digest(&bytes)), md5, "{name}");
        }
    }

    // Damage the compressed data of folder 2's third CFDATA block.
    let mut bad = cab.clone();
    let folder2 = 36 + 8 * 2;
    let mut pos = u32::from_le_bytes(bad[folder2..folder2 + 4].try_into().unwrap()) as usize;
    for _ in 0..2 {
        pos += 8 + le16(&bad, pos + 4);
    }
    let cb = le16(&bad, pos + 4);
    // One byte: the CAB checksum XORs 32-bit words, so equal changes to an
    // even number of aligned words would cancel out.
    bad[pos + 8 + cb / 3] ^= 0x5A;
    let bad_path = tmp.path().join("damaged.cab");
    std::fs::write(&bad_path, &bad).unwrap();
    let listing = list(
        &bad_path,
        &Limits::default(),
        Some(DigestKind::Md5),
        &mut |_| {},
    )
    .unwrap();
    assert_eq!(listing.members.len(), expected.len());
    for (m, (name, md5)) in listing.members.iter().zip(&expected) {
        assert_eq!(&m.meta.path, name);
        if !name.starts_with("dir2/") {
            assert_eq!(m.md5.as_ref(), Some(md5), "{name} must not suffer");
        }
    }
    // LZX has no integrity check of its own: the CFDATA checksum is what
    // catches the damage, and it names the folder and block.
    let checksum = listing
        .findings
        .iter()
        .find(|f| f.code == "cab-checksum")
        .unwrap_or_else(|| panic!("no checksum finding: {:?}", listing.findings));
    assert!(
        checksum.detail.contains("folder 2, block 2"),
        "{}",
        checksum.detail
    );
    // The member made of that block (bytes 65536..98304 of the folder lie
    // in the first 300 KB member) is named; no other member is.
    let named: Vec<&str> = listing
        .findings
        .iter()
        .filter(|f| f.code == "cab-checksum" && f.subject.starts_with("dir"))
        .map(|f| f.subject.as_str())
        .collect();
    assert_eq!(named, ["dir2/member0.bin"], "{:?}", listing.findings);
}
