//! Anomalies a security reviewer must see, each provoked by a cabinet built
//! with `cabwrite` and, for the container-level ones, byte-patched.

use kbinspect::check::anomaly;
use kbinspect::container::Limits;
use kbinspect::finding::Finding;
use kbinspect::model::Package;
use kbinspect_testkit::cabwrite::{CabFile, CabOptions, DosDateTime, Method, write_cab};

fn file(name: &str, data: &[u8]) -> CabFile {
    CabFile {
        name: name.into(),
        data: data.to_vec(),
        time: DosDateTime {
            year: 2020,
            month: 1,
            day: 2,
            hour: 3,
            minute: 4,
            second: 6,
        },
        attributes: 0x20,
    }
}

fn cab(files: &[CabFile]) -> Vec<u8> {
    write_cab(
        files,
        &CabOptions {
            method: Method::MsZip,
            set_id: 7,
            signature: None,
        },
    )
}

fn two_files() -> Vec<u8> {
    cab(&[file("a.txt", &[b'a'; 1000]), file("b.txt", &[b'b'; 2000])])
}

/// Load `bytes` as a cabinet; all findings: the walk's, the model's and
/// the anomaly check's.
fn findings(bytes: &[u8]) -> Vec<Finding> {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("t.cab");
    std::fs::write(&p, bytes).unwrap();
    let pkg = Package::load(&p, &Limits::default()).unwrap();
    let mut f = pkg.findings.clone();
    f.extend(anomaly::check(&pkg));
    f
}

fn codes(f: &[Finding]) -> Vec<String> {
    f.iter()
        .map(|x| format!("{} {} {}", x.code, x.subject, x.detail))
        .collect()
}

fn has(f: &[Finding], code: &str) -> bool {
    f.iter().any(|x| x.code == code)
}

fn u16_at(b: &[u8], off: usize) -> u16 {
    u16::from_le_bytes([b[off], b[off + 1]])
}
fn u32_at(b: &[u8], off: usize) -> u32 {
    u32::from_le_bytes(b[off..off + 4].try_into().unwrap())
}
fn put_u32(b: &mut [u8], off: usize, v: u32) {
    b[off..off + 4].copy_from_slice(&v.to_le_bytes());
}

/// Offset of the n-th CFFILE entry (no reserve: header is 36 bytes).
fn cffile(b: &[u8], n: usize) -> usize {
    let mut at = u32_at(b, 16) as usize;
    for _ in 0..n {
        let name_end = b[at + 16..].iter().position(|&c| c == 0).unwrap();
        at += 16 + name_end + 1;
    }
    at
}

#[test]
fn a_clean_cabinet_has_no_anomalies() {
    let f = findings(&two_files());
    assert!(f.is_empty(), "{:?}", codes(&f));
}

/// Names equal but for case (and slash direction) are reported.
#[test]
fn case_insensitive_duplicate_names() {
    let b = cab(&[
        file("dir\\Update.mum", b"<assembly/>"),
        file("DIR\\update.MUM", b"<assembly/>"),
    ]);
    let f = findings(&b);
    let d: Vec<_> = f
        .iter()
        .filter(|x| x.code == "member-duplicate-name")
        .collect();
    assert_eq!(d.len(), 1, "{:?}", codes(&f));
    assert!(d[0].detail.contains("dir/Update.mum"), "{:?}", d[0]);
}

/// Content contradicting the name: non-XML manifest, non-PE dll, non-CAB cab.
#[test]
fn content_contradicts_name() {
    let b = cab(&[
        file("x86_foo.manifest", b"\x00\x01binary, not xml"),
        file("update.mum", b"MZ\x90\x00 not xml either"),
        file("payload.dll", b"plain text, not a PE image"),
        file("drv.sys", b"\x00\x00\x00\x00"),
        file("inner.cab", b"PK\x03\x04 a zip, not a cabinet"),
        file(
            "ok.dll",
            b"PA30\x00\x00\x00\x00\x00\x00\x00\x00 a delta is fine",
        ),
        file(
            "ok.manifest",
            b"\xEF\xBB\xBF  <?xml version=\"1.0\"?><assembly/>",
        ),
    ]);
    let f = findings(&b);
    let mut subjects: Vec<&str> = f
        .iter()
        .filter(|x| x.code == "member-content-mismatch")
        .map(|x| x.subject.as_str())
        .collect();
    subjects.sort();
    assert_eq!(
        subjects,
        [
            "drv.sys",
            "inner.cab",
            "payload.dll",
            "update.mum",
            "x86_foo.manifest"
        ],
        "{:?}",
        codes(&f)
    );
}

/// Two CFFILEs claiming the same bytes.
#[test]
fn overlapping_members() {
    let mut b = two_files();
    let second = cffile(&b, 1);
    put_u32(&mut b, second + 4, 500);
    let f = findings(&b);
    assert!(has(&f, "cab-overlap"), "{:?}", codes(&f));
}

/// A member reaching past the end of its folder's output.
#[test]
fn member_beyond_its_folder() {
    let mut b = two_files();
    let second = cffile(&b, 1);
    put_u32(&mut b, second, 900_000);
    let f = findings(&b);
    assert!(has(&f, "cab-range"), "{:?}", codes(&f));
}

/// Folder output no member covers (a hidden tail).
#[test]
fn unreferenced_folder_data() {
    let mut b = two_files();
    let second = cffile(&b, 1);
    put_u32(&mut b, second, 1000);
    let f = findings(&b);
    assert!(
        f.iter()
            .any(|x| x.code == "cab-unreferenced" && x.detail.contains("belong to no member")),
        "{:?}",
        codes(&f)
    );
}

/// libmspack issue 55: a gap between the CFFOLDERs and the first CFFILE.
#[test]
fn first_cffile_not_after_folders() {
    let b = two_files();
    let files_off = u32_at(&b, 16) as usize;
    let gap = 16usize;
    let mut p = b[..files_off].to_vec();
    p.extend(std::iter::repeat_n(0u8, gap));
    p.extend_from_slice(&b[files_off..]);
    put_u32(&mut p, 16, (files_off + gap) as u32);
    put_u32(&mut p, 8, (b.len() + gap) as u32);
    // The folder's first CFDATA moved by the gap too.
    let data = u32_at(&p, 36);
    put_u32(&mut p, 36, data + gap as u32);
    let f = findings(&p);
    assert!(
        f.iter()
            .any(|x| x.code == "cab-layout" && x.detail.contains("issue 55")),
        "{:?}",
        codes(&f)
    );
    // The members still read correctly.
    assert!(
        !has(&f, "cab-data") && !has(&f, "member-unreadable"),
        "{:?}",
        codes(&f)
    );
}

/// Extra bytes after the cabinet that are not a signature.
#[test]
fn trailing_bytes_not_a_signature() {
    let mut b = two_files();
    b.extend_from_slice(b"hidden payload after the cabinet");
    let f = findings(&b);
    assert!(
        f.iter()
            .any(|x| x.code == "cab-extra-bytes" && x.detail.starts_with("32 bytes")),
        "{:?}",
        codes(&f)
    );
}

/// A signature reserve pointing past the end of the file.
#[test]
fn signature_reserve_out_of_range() {
    let mut b = write_cab(
        &[file("a.txt", b"hello")],
        &CabOptions {
            method: Method::Stored,
            set_id: 1,
            signature: Some(vec![0x30; 64]),
        },
    );
    // Header reserve: 4 bytes of sizes, then u32 offset, u32 size.
    let size_at = 36 + 4 + 4;
    put_u32(&mut b, size_at, 1 << 20);
    let f = findings(&b);
    assert!(has(&f, "cab-signature"), "{:?}", codes(&f));
}

/// Header counts that disagree with the file: cbCabinet larger than the file.
#[test]
fn header_size_disagrees_with_file() {
    let mut b = two_files();
    let len = b.len() as u32;
    put_u32(&mut b, 8, len + 4096);
    let f = findings(&b);
    assert!(has(&f, "cab-truncated"), "{:?}", codes(&f));
    // And cFiles one higher than the entries present.
    let mut c = two_files();
    let n = u16_at(&c, 28);
    c[28..30].copy_from_slice(&(n + 1).to_le_bytes());
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("t.cab");
    std::fs::write(&p, &c).unwrap();
    match Package::load(&p, &Limits::default()) {
        Ok(pkg) => assert!(!pkg.findings.is_empty(), "cFiles+1 loaded clean"),
        Err(e) => assert!(e.to_string().contains("t.cab"), "{e}"),
    }
}
