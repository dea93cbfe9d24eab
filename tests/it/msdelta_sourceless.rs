//! The eight source-less KB4538483 blobs rebuild to their container-index
//! SHA-256 (and, inside `apply`, to the MD5 in their header).
use crate::common;
use crate::msdelta_support;

use kbinspect::msdelta::{DeltaLimits, Verification, apply_detailed};
use msdelta_support::{parse_cix, sha256_hex};

#[test]
fn sourceless_blobs_rebuild_to_the_cix_hash() {
    let dir = corpus_or_skip!("kb4538483-esu-msu/extracted/Windows6.1-KB4538483-x86.cab");
    let files = parse_cix(&std::fs::read_to_string(dir.join("_manifest_.cix.xml")).unwrap());
    for blob in ["0", "14", "22", "28", "36", "42", "54", "60"] {
        let f = files
            .iter()
            .find(|f| f.source_type == "PA30" && f.source_name == blob)
            .unwrap();
        assert!(f.basis.is_none(), "blob {blob} should be source-less");
        let delta = std::fs::read(dir.join(blob)).unwrap();
        let a = apply_detailed(&delta, None, None, &DeltaLimits::default())
            .unwrap_or_else(|e| panic!("blob {blob} ({}): {e}", f.name));
        assert_eq!(a.target.len() as u64, f.length, "blob {blob}");
        assert_eq!(sha256_hex(&a.target), f.sha256, "blob {blob} ({})", f.name);
        assert!(
            matches!(a.verification, Verification::HeaderHash { ref algorithm, .. } if algorithm == "MD5")
        );
    }
}

/// Blob 43 is blob 42's output patched: the smallest sourced delta.
#[test]
fn blob43_against_blob42_output() {
    let dir = corpus_or_skip!("kb4538483-esu-msu/extracted/Windows6.1-KB4538483-x86.cab");
    let files = parse_cix(&std::fs::read_to_string(dir.join("_manifest_.cix.xml")).unwrap());
    let limits = DeltaLimits::default();
    let base =
        kbinspect::msdelta::apply(&std::fs::read(dir.join("42")).unwrap(), None, &limits).unwrap();
    let delta = std::fs::read(dir.join("43")).unwrap();
    let out = kbinspect::msdelta::apply(&delta, Some(&base), &limits).unwrap();
    let f = files.iter().find(|f| f.source_name == "43").unwrap();
    assert_eq!(f.basis.as_deref(), Some("68"));
    assert_eq!(sha256_hex(&out), f.sha256);
    // Without its source, the delta says so instead of producing garbage.
    let e = kbinspect::msdelta::apply(&delta, None, &limits).unwrap_err();
    assert_eq!(e.kind, kbinspect::msdelta::ErrorKind::Source, "{e}");
    assert!(e.message.contains("3015"), "{e}");
    // And a source-less delta refuses a source.
    let e = kbinspect::msdelta::apply(
        &std::fs::read(dir.join("42")).unwrap(),
        Some(&base),
        &limits,
    )
    .unwrap_err();
    assert_eq!(e.kind, kbinspect::msdelta::ErrorKind::Source, "{e}");
    assert!(e.message.contains("source-less"), "{e}");
}

/// With the digest an index lists (SHA-256, or SHA-1 in Vista and Windows 7
/// indexes), `apply_expecting` proves the target by it and skips the
/// header's MD5; a digest the target does not have, while the header's MD5
/// holds, is a wrong target, named with its algorithm.
#[test]
fn expected_sha1_or_sha256_proves_the_target() {
    use kbinspect::msdelta::{ErrorKind, Expected, apply_expecting};
    use sha1::Digest as _;
    let dir = corpus_or_skip!("kb4538483-esu-msu/extracted/Windows6.1-KB4538483-x86.cab");
    let delta = std::fs::read(dir.join("42")).unwrap();
    let limits = DeltaLimits::default();
    let target = apply_detailed(&delta, None, None, &limits).unwrap().target;
    let sha1: [u8; 20] = sha1::Sha1::digest(&target).into();
    let sha256: [u8; 32] = sha2::Sha256::digest(&target).into();
    let a = apply_expecting(&delta, None, &Expected::Sha1(sha1), &limits).unwrap();
    assert_eq!(a.target, target);
    assert_eq!(
        a.verification,
        Verification::ExpectedSha1 {
            hex: hex::encode(sha1)
        }
    );
    let a = apply_expecting(&delta, None, &Expected::Sha256(sha256), &limits).unwrap();
    assert!(matches!(
        a.verification,
        Verification::ExpectedSha256 { .. }
    ));
    let mut wrong = sha1;
    wrong[0] ^= 1;
    let e = apply_expecting(&delta, None, &Expected::Sha1(wrong), &limits).unwrap_err();
    assert_eq!(e.kind, ErrorKind::WrongTarget, "{e}");
    assert!(e.message.contains("its SHA-1 "), "{e}");
    assert!(e.message.contains(&hex::encode(wrong)), "{e}");
}
