//! PA30 headers of the real KB4538483 blobs agree with the container index.
use crate::common;
use crate::msdelta_support;

use kbinspect::msdelta::parse_header;
use msdelta_support::parse_cix;

#[test]
fn kb4538483_headers_match_the_cix() {
    let dir = corpus_or_skip!("kb4538483-esu-msu/extracted/Windows6.1-KB4538483-x86.cab");
    let cix = std::fs::read_to_string(dir.join("_manifest_.cix.xml")).unwrap();
    let files = parse_cix(&cix);
    assert_eq!(files.len(), 122);
    let mut checked = 0;
    for blob in ["0", "7", "14", "22", "28", "36", "42", "43", "54", "60"] {
        let bytes = std::fs::read(dir.join(blob)).unwrap();
        let h = parse_header(&bytes).unwrap_or_else(|e| panic!("blob {blob}: {e}"));
        let f = files
            .iter()
            .find(|f| f.source_type == "PA30" && f.source_name == blob)
            .unwrap_or_else(|| panic!("blob {blob} not in the CIX"));
        assert_eq!(h.signature, "PA30");
        assert_eq!(h.crc_prefix, None);
        assert_eq!(h.target_size, f.length, "blob {blob} TargetSize");
        assert_eq!(h.filetime, f.time, "blob {blob} FILETIME");
        assert_eq!(h.file_type_set, 0xF);
        assert_eq!(h.file_type, 1);
        assert_eq!(h.flags, 0x20000);
        assert_eq!(h.hash_alg, 0x8003);
        assert_eq!(h.target_hash.len(), 16);
        assert_eq!(h.preprocess_size, 0);
        // The patch buffer runs to the end of the file in every real blob.
        assert!(h.patch_size > 0 && h.patch_size < bytes.len() as u64);
        checked += 1;
    }
    assert_eq!(checked, 10);
}

#[test]
fn blob42_worked_example() {
    let dir = corpus_or_skip!("kb4538483-esu-msu/extracted/Windows6.1-KB4538483-x86.cab");
    let h = parse_header(&std::fs::read(dir.join("42")).unwrap()).unwrap();
    assert_eq!(h.target_size, 3015);
    assert_eq!(
        hex::encode(&h.target_hash),
        "3c0ae7b0b3b5bd2fd32f6904d374bca3"
    );
    assert_eq!(h.patch_size, 1551);
}

#[test]
fn dcm_manifest_header() {
    let dir = corpus_or_skip!("msdelta-vectors/dcm");
    for e in std::fs::read_dir(&dir).unwrap() {
        let p = e.unwrap().path();
        if p.extension().and_then(|x| x.to_str()) != Some("manifest") {
            continue;
        }
        let h = parse_header(&std::fs::read(&p).unwrap()).unwrap();
        assert_eq!(h.wrapper.as_deref(), Some("DCM"), "{}", p.display());
        assert_eq!(
            (h.file_type_set, h.file_type, h.flags, h.hash_alg),
            (1, 1, 0x20000, 0)
        );
        assert_eq!(h.filetime, 116444736010000000);
    }
}
