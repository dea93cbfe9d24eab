//! Mutated real deltas never panic, never return unverified bytes for a
//! hashed delta, and respect the limits they are given.
use crate::common;

use std::time::{Duration, Instant};

use kbinspect::msdelta::{DeltaLimits, ErrorKind, apply, apply_detailed};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};

#[derive(Debug, Clone)]
enum Mutation {
    Flip(usize, u8),
    Set(usize, u8),
    Truncate(usize),
    Insert(usize, u8),
}

fn mutate(mut d: Vec<u8>, muts: &[Mutation]) -> Vec<u8> {
    for m in muts {
        let n = d.len().max(1);
        match *m {
            Mutation::Flip(i, b) => {
                if let Some(x) = d.get_mut(i % n) {
                    *x ^= 1 << (b % 8);
                }
            }
            Mutation::Set(i, v) => {
                if let Some(x) = d.get_mut(i % n) {
                    *x = v;
                }
            }
            Mutation::Truncate(i) => d.truncate(i % n),
            Mutation::Insert(i, v) => d.insert(i % n, v),
        }
    }
    d
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        6 => (any::<usize>(), any::<u8>()).prop_map(|(i, b)| Mutation::Flip(i, b)),
        2 => (any::<usize>(), any::<u8>()).prop_map(|(i, v)| Mutation::Set(i, v)),
        1 => any::<usize>().prop_map(Mutation::Truncate),
        1 => (any::<usize>(), any::<u8>()).prop_map(|(i, v)| Mutation::Insert(i, v)),
    ]
}

/// Mutations concentrated in the first 64 bytes hit the header and the
/// tree descriptions, where most of the decoder's checks live.
fn header_mutation() -> impl Strategy<Value = Mutation> {
    (0usize..64, any::<u8>()).prop_map(|(i, b)| Mutation::Flip(i, b))
}

fn run(name: &str, delta: Vec<u8>, source: Option<Vec<u8>>, cases: u32) {
    let limits = DeltaLimits {
        max_target_size: 1 << 20,
        max_window: 2 << 20,
        max_blocks: 64,
        max_rift_entries: 1 << 12,
        max_chain_depth: 8,
    };
    // The unmutated result: any mutated delta that still carries the same
    // header hash and decodes must give exactly these bytes.
    let original = apply_detailed(&delta, source.as_deref(), None, &limits).unwrap();
    let mut runner = TestRunner::new(Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    });
    let strat = prop_oneof![
        prop::collection::vec(mutation(), 1..6),
        prop::collection::vec(header_mutation(), 1..4),
    ];
    runner
        .run(&strat, |muts| {
            let d = mutate(delta.clone(), &muts);
            let t0 = Instant::now();
            let r = apply_detailed(&d, source.as_deref(), None, &limits);
            prop_assert!(
                t0.elapsed() < Duration::from_secs(5),
                "{name}: slow on {muts:?}"
            );
            match r {
                Ok(a) => {
                    prop_assert!(a.target.len() as u64 <= limits.max_target_size);
                    prop_assert_eq!(a.target.len() as u64, a.header.target_size);
                    if a.header.hash_alg != 0 && a.header.target_hash == original.header.target_hash
                    {
                        prop_assert!(
                            a.target == original.target,
                            "{name}: wrong bytes for {muts:?}"
                        );
                    }
                }
                Err(e) => prop_assert!(!e.message.is_empty()),
            }
            Ok(())
        })
        .unwrap_or_else(|e| panic!("{name}: {e}"));
}

#[test]
fn mutated_sourceless_blob_never_panics() {
    let dir = corpus_or_skip!("kb4538483-esu-msu/extracted/Windows6.1-KB4538483-x86.cab");
    run("blob 42", std::fs::read(dir.join("42")).unwrap(), None, 400);
}

#[test]
fn mutated_sourced_blob_never_panics() {
    let dir = corpus_or_skip!("kb4538483-esu-msu/extracted/Windows6.1-KB4538483-x86.cab");
    let limits = DeltaLimits::default();
    let base = apply(&std::fs::read(dir.join("42")).unwrap(), None, &limits).unwrap();
    run(
        "blob 43",
        std::fs::read(dir.join("43")).unwrap(),
        Some(base),
        400,
    );
}

#[test]
fn mutated_dcm_never_panics() {
    let dir = corpus_or_skip!("msdelta-vectors/dcm");
    let base = std::fs::read(dir.join("base_manifest.bin")).unwrap();
    let m = std::fs::read(dir.join(
        "amd64_microsoft-windows-font-truetype-gadugi_31bf3856ad364e35_10.0.26100.1_none_e1326a4c8dcc8ee1.manifest",
    ))
    .unwrap();
    run("DCM gadugi", m, Some(base), 300);
}

/// Limits are enforced before the work: a real blob over a small cap fails
/// with a Limit error, without decoding.
#[test]
fn limits_are_checked_up_front() {
    let dir = corpus_or_skip!("kb4538483-esu-msu/extracted/Windows6.1-KB4538483-x86.cab");
    let d = std::fs::read(dir.join("0")).unwrap();
    let small = DeltaLimits {
        max_target_size: 16_000,
        ..DeltaLimits::default()
    };
    let e = apply(&d, None, &small).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Limit, "{e}");
    assert!(e.message.contains("16529"), "{e}");
    let tiny_window = DeltaLimits {
        max_window: 100,
        ..DeltaLimits::default()
    };
    assert_eq!(
        apply(&d, None, &tiny_window).unwrap_err().kind,
        ErrorKind::Limit
    );
}

/// Every truncation of a real blob is a clean error (no prefix decodes).
#[test]
fn every_truncation_is_an_error() {
    let dir = corpus_or_skip!("kb4538483-esu-msu/extracted/Windows6.1-KB4538483-x86.cab");
    let d = std::fs::read(dir.join("42")).unwrap();
    for n in 0..d.len() {
        assert!(
            apply(&d[..n], None, &DeltaLimits::default()).is_err(),
            "prefix {n} decoded"
        );
    }
}

/// A PE delta: mutations reach the pre-process buffer (rift tables), the PE
/// fix-ups and the SHA-256 check.
#[test]
fn mutated_pe_delta_never_panics() {
    let dir = corpus_or_skip!("msdelta-vectors/pe-decode/wow64_kbdmaori");
    run(
        "PE kbdmaori",
        std::fs::read(dir.join("delta.pa30")).unwrap(),
        Some(std::fs::read(dir.join("base.bin")).unwrap()),
        300,
    );
}

/// The PE transform pipeline on deltas that need it (imports, relocations,
/// i386 branches, amd64 disassembly): mutations reach the rift tables and
/// every transform, and a success is still only the hashed target.
#[test]
fn mutated_transform_pe_deltas_never_panic() {
    for name in ["x86_mscordbi", "amd64_provdiagnostics"] {
        let dir = corpus_or_skip!(format!("msdelta-vectors/pe-decode/{name}"));
        run(
            name,
            std::fs::read(dir.join("delta.pa30")).unwrap(),
            Some(std::fs::read(dir.join("base.bin")).unwrap()),
            150,
        );
    }
}

/// Mutated *source* PEs (headers, directories, code) under an intact delta:
/// the transforms run on hostile images without a panic or a hang, and
/// anything returned is exactly the target the header hash names.
#[test]
fn mutated_source_pe_never_panics_or_lies() {
    let limits = DeltaLimits::default();
    for name in ["x86_mscordbi", "amd64_provdiagnostics"] {
        let dir = corpus_or_skip!(format!("msdelta-vectors/pe-decode/{name}"));
        let delta = std::fs::read(dir.join("delta.pa30")).unwrap();
        let base = std::fs::read(dir.join("base.bin")).unwrap();
        let target = std::fs::read(dir.join("target.bin")).unwrap();
        let mut runner = TestRunner::new(Config {
            cases: 150,
            failure_persistence: None,
            ..Config::default()
        });
        // Half of the mutations land in the first 1 KiB (the headers).
        let strat = prop::collection::vec(
            prop_oneof![
                mutation(),
                (0usize..1024, any::<u8>()).prop_map(|(i, v)| Mutation::Set(i, v)),
            ],
            1..8,
        );
        runner
            .run(&strat, |muts| {
                let src = mutate(base.clone(), &muts);
                let t0 = Instant::now();
                let r = apply_detailed(&delta, Some(&src), None, &limits);
                prop_assert!(t0.elapsed() < Duration::from_secs(5), "{name}: slow");
                if let Ok(a) = r {
                    prop_assert!(a.target == target, "{name}: wrong bytes for {muts:?}");
                }
                Ok(())
            })
            .unwrap_or_else(|e| panic!("{name}: {e}"));
    }
}
