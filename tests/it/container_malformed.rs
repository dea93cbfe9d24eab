//! Every malformed or CVE cabinet of the corpus ends quickly with a clear
//! error or a clearly flagged result: no panic, no hang, no silent success.
use crate::common;

use std::path::PathBuf;
use std::sync::mpsc;
use std::time::Duration;

use kbinspect::container::{DigestKind, Limits, list};
use kbinspect::finding::Severity;

const MALFORMED: &[&str] = &[
    "libmspack-cabd/bad_folderindex.cab",
    "libmspack-cabd/bad_nofiles.cab",
    "libmspack-cabd/bad_nofolders.cab",
    "libmspack-cabd/bad_signature.cab",
    "libmspack-cabd/cve-2010-2800-mszip-infinite-loop.cab",
    "libmspack-cabd/cve-2014-9556-qtm-infinite-loop.cab",
    "libmspack-cabd/cve-2014-9732-folders-segfault.cab",
    "libmspack-cabd/cve-2015-4470-mszip-over-read.cab",
    "libmspack-cabd/cve-2015-4471-lzx-under-read.cab",
    "libmspack-cabd/cve-2017-11423-fname-overread.cab",
    "libmspack-cabd/cve-2018-18584-qtm-max-size-block.cab",
    "libmspack-cabd/filename-read-violation-1.cab",
    "libmspack-cabd/filename-read-violation-2.cab",
    "libmspack-cabd/filename-read-violation-3.cab",
    "libmspack-cabd/filename-read-violation-4.cab",
    "libmspack-cabd/hidden-file-bad-folderid.cab",
    "libmspack-cabd/hidden-file-beyond-eof.cab",
    "libmspack-cabd/lzx-main-tree-no-lengths.cab",
    "libmspack-cabd/lzx-premature-matches.cab",
    "libmspack-cabd/multi_basic_pt1.cab",
    "libmspack-cabd/multi_basic_pt2.cab",
    "libmspack-cabd/multi_basic_pt5.cab",
    "libmspack-cabd/partial_nodata.cab",
    "libmspack-cabd/partial_nofiles.cab",
    "libmspack-cabd/partial_nofolder.cab",
    "libmspack-cabd/partial_shortextheader.cab",
    "libmspack-cabd/partial_shortfile1.cab",
    "libmspack-cabd/partial_shortfile2.cab",
    "libmspack-cabd/partial_shortfolder.cab",
    "libmspack-cabd/partial_shortheader.cab",
    "libmspack-cabd/partial_str_nofname.cab",
    "libmspack-cabd/partial_str_noninfo.cab",
    "libmspack-cabd/partial_str_nonname.cab",
    "libmspack-cabd/partial_str_nopinfo.cab",
    "libmspack-cabd/partial_str_nopname.cab",
    "libmspack-cabd/partial_str_shortfname.cab",
    "libmspack-cabd/partial_str_shortninfo.cab",
    "libmspack-cabd/partial_str_shortnname.cab",
    "libmspack-cabd/partial_str_shortpinfo.cab",
    "libmspack-cabd/partial_str_shortpname.cab",
    "libmspack-cabd/search_basic.cab",
    "libmspack-cabd/search_tricky1.cab",
    "cabextract-tests/cabs/search.cab",
    "cabextract-tests/bugs/cve-2010-2801-qtm-flush.cab",
    "gcab-tests/CVE-2014-9732.cab",
    "gcab-tests/test-ncbytes-overflow.cab",
];

/// The outcome of testing one input in a worker thread, or `None` on timeout.
fn run_bounded(
    input: PathBuf,
    secs: u64,
) -> Option<std::thread::Result<Result<(bool, usize), String>>> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let r = std::panic::catch_unwind(|| {
            match list(
                &input,
                &Limits::default(),
                Some(DigestKind::Md5),
                &mut |_| {},
            ) {
                Ok(l) => {
                    let flagged = l.findings.iter().any(|f| f.severity >= Severity::Warning)
                        || l.members.iter().any(|m| m.error.is_some());
                    Ok((flagged, l.findings.len()))
                }
                Err(e) => Err(e.to_string()),
            }
        });
        let _ = tx.send(r);
    });
    rx.recv_timeout(Duration::from_secs(secs)).ok()
}

#[test]
fn malformed_cabinets_fail_clearly_and_quickly() {
    let corpus = corpus_or_skip!("");
    for rel in MALFORMED {
        let input = corpus.join(rel);
        let name = input.file_name().unwrap().to_string_lossy().into_owned();
        match run_bounded(input, 5) {
            None => panic!("{rel}: did not finish within 5 s"),
            Some(Err(_)) => panic!("{rel}: panicked"),
            Some(Ok(Err(msg))) => {
                assert!(
                    msg.contains(&name),
                    "{rel}: error does not name the file: {msg}"
                );
                assert!(
                    msg.contains("offset") || msg.contains("limit"),
                    "{rel}: error does not say where: {msg}"
                );
            }
            Some(Ok(Ok((flagged, n)))) => {
                assert!(flagged, "{rel}: read without any finding ({n} findings)");
            }
        }
    }
}

/// `multi_basic_pt1.cab` names a next part that is not there: the error
/// names it.
#[test]
fn missing_set_part_is_named() {
    let input = corpus_or_skip!("libmspack-cabd/multi_basic_pt1.cab");
    let l = list(&input, &Limits::default(), None, &mut |_| {}).unwrap();
    let f = l
        .findings
        .iter()
        .find(|f| f.code == "cab-missing-part")
        .unwrap();
    assert_eq!(f.severity, Severity::Error);
    assert!(
        f.detail.contains("cabd_multi_basic_pt2.cab"),
        "{}",
        f.detail
    );
}

/// libmspack issue 55: the CFFILE table does not follow the CFFOLDERs.
#[test]
fn hidden_files_layout_is_reported() {
    let input = corpus_or_skip!("libmspack-cabd/hidden-files.cab");
    let l = list(&input, &Limits::default(), None, &mut |_| {}).unwrap();
    assert!(
        l.findings
            .iter()
            .any(|f| f.code == "cab-layout" && f.detail.contains("issue 55"))
    );
    assert!(
        l.findings
            .iter()
            .any(|f| f.code == "cab-unreferenced" && f.detail.contains("44..100"))
    );
}

/// A header that declares more files than allowed stops before reading them.
#[test]
fn member_limit_is_enforced() {
    let input = corpus_or_skip!("cabextract-tests/cabs/utf8-stresstest.cab");
    let limits = Limits {
        max_members: 10,
        ..Limits::default()
    };
    let e = list(&input, &limits, None, &mut |_| {})
        .unwrap_err()
        .to_string();
    assert!(e.contains("--max-members"), "{e}");
}

/// Nested depth and member size limits name their flags.
#[test]
fn depth_and_size_limits_name_their_flags() {
    let input = corpus_or_skip!(
        "kb4538483-esu-msu/windows6.1-kb4538483-x86_f77ee698928fb42232b70b01f53a4c5f68553323.msu"
    );
    let depth = Limits {
        max_depth: 0,
        ..Limits::default()
    };
    let e = list(&input, &depth, None, &mut |_| {})
        .unwrap_err()
        .to_string();
    assert!(e.contains("--max-depth"), "{e}");
    let size = Limits {
        max_member_size: 1 << 20,
        ..Limits::default()
    };
    let e = list(&input, &size, None, &mut |_| {})
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("--max-member-size") && e.contains("Windows6.1-KB4538483-x86.cab"),
        "{e}"
    );
    let total = Limits {
        max_total_size: 4 << 20,
        ..Limits::default()
    };
    let e = list(&input, &total, None, &mut |_| {})
        .unwrap_err()
        .to_string();
    assert!(e.contains("--max-total-size"), "{e}");
}

/// 60000 folders that all claim the same 65535 (empty, valid-looking) data
/// blocks: scanning stops at what the file can hold instead of reading
/// billions of headers.
#[test]
fn folders_sharing_blocks_do_not_blow_up() {
    let nfolders: u16 = 60_000;
    let files_offset = 36 + 8 * u32::from(nfolders);
    let data_offset = files_offset + 16 + 2;
    let mut v = Vec::new();
    v.extend_from_slice(b"MSCF\0\0\0\0");
    v.extend_from_slice(&(data_offset + 8 * 65_535).to_le_bytes());
    v.extend_from_slice(&[0; 4]);
    v.extend_from_slice(&files_offset.to_le_bytes());
    v.extend_from_slice(&[0, 0, 0, 0, 3, 1]);
    v.extend_from_slice(&nfolders.to_le_bytes());
    v.extend_from_slice(&1u16.to_le_bytes());
    v.extend_from_slice(&[0; 6]);
    for _ in 0..nfolders {
        v.extend_from_slice(&data_offset.to_le_bytes());
        v.extend_from_slice(&u16::MAX.to_le_bytes());
        v.extend_from_slice(&0u16.to_le_bytes());
    }
    v.extend_from_slice(&4u32.to_le_bytes());
    v.extend_from_slice(&[0; 4]);
    v.extend_from_slice(&(nfolders - 1).to_le_bytes());
    v.extend_from_slice(&[0, 0, 0, 0, 0x20, 0]);
    v.extend_from_slice(b"a\0");
    v.extend(std::iter::repeat_n(0u8, 8 * 65_535));
    let tmp = tempfile::tempdir().unwrap();
    let p = tmp.path().join("shared.cab");
    std::fs::write(&p, v).unwrap();
    match run_bounded(p, 5) {
        None => panic!("did not finish within 5 s"),
        Some(Err(_)) => panic!("panicked"),
        Some(Ok(r)) => assert!(matches!(r, Err(_) | Ok((true, _))), "{r:?}"),
    }
}
