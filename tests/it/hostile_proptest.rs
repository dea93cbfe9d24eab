//! Property tests of the CAB reader against cabwrite: random valid cabinets
//! round-trip byte-exactly through `container::walk`, and random mutations
//! of them never panic and never yield a member of the wrong length, nor
//! changed bytes, without an error or a finding.
use crate::common;

use std::io::Read;

use kbinspect::container::{Limits, walk};
use kbinspect_testkit::cabwrite::{CabFile, CabOptions, DosDateTime, Method, write_cab};
use proptest::prelude::*;

fn method() -> impl Strategy<Value = Method> {
    prop_oneof![
        Just(Method::Stored),
        Just(Method::MsZip),
        (15u8..=21).prop_map(|window_bits| Method::Lzx { window_bits }),
    ]
}

/// Member contents: runs of a byte, a counter pattern and random bytes, so
/// the codecs see both matches and literals.
fn content() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        (0usize..70_000, any::<u8>()).prop_map(|(n, b)| vec![b; n]),
        (0usize..70_000, 1u32..300)
            .prop_map(|(n, k)| (0..n as u32).map(|i| (i % k) as u8).collect()),
        prop::collection::vec(any::<u8>(), 0..5_000),
    ]
}

fn files() -> impl Strategy<Value = Vec<CabFile>> {
    prop::collection::vec(
        (
            "[a-zA-Z0-9_]{1,12}(\\\\[a-z]{1,8})?\\.[a-z]{1,3}",
            content(),
        ),
        1..6,
    )
    .prop_map(|v| {
        v.into_iter()
            .enumerate()
            .map(|(i, (name, data))| CabFile {
                // The index keeps names unique.
                name: format!("{i}_{name}"),
                data,
                time: DosDateTime {
                    year: 2019,
                    month: 3,
                    day: 4,
                    hour: 5,
                    minute: 6,
                    second: 8,
                },
                attributes: 0x20,
            })
            .collect()
    })
}

struct Seen {
    name: String,
    size: u64,
    read: Result<Vec<u8>, String>,
}

fn walk_bytes(bytes: &[u8]) -> Result<(Vec<Seen>, usize), String> {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("p.cab");
    std::fs::write(&p, bytes).unwrap();
    let mut seen = Vec::new();
    let r = walk(&p, &Limits::default(), &mut |meta, rd| {
        let mut buf = Vec::new();
        let read = rd
            .take(meta.size + 1)
            .read_to_end(&mut buf)
            .map(|_| buf)
            .map_err(|e| e.to_string());
        seen.push(Seen {
            name: meta.name.clone(),
            size: meta.size,
            read,
        });
        Ok(())
    });
    match r {
        Ok(rep) => Ok((seen, rep.findings.len())),
        Err(e) => Err(e.to_string()),
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn valid_cabinets_round_trip(files in files(), method in method(), set_id in any::<u16>()) {
        let bytes = write_cab(&files, &CabOptions { method, set_id, signature: None });
        let (seen, findings) = walk_bytes(&bytes).map_err(TestCaseError::fail)?;
        prop_assert_eq!(findings, 0);
        prop_assert_eq!(seen.len(), files.len());
        for (s, f) in seen.iter().zip(&files) {
            prop_assert_eq!(&s.name, &f.name);
            prop_assert_eq!(s.size, f.data.len() as u64);
            let got = s.read.as_ref().map_err(|e| TestCaseError::fail(e.clone()))?;
            prop_assert!(got == &f.data, "{}: bytes differ", f.name);
        }
    }

    #[test]
    fn mutations_never_pass_silently(
        files in files(),
        method in method(),
        edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..4),
        cut in prop::option::of(any::<prop::sample::Index>()),
    ) {
        let original = write_cab(&files, &CabOptions { method, set_id: 1, signature: None });
        let mut bytes = original.clone();
        let len = bytes.len();
        let edits: Vec<(usize, u8)> = edits.iter().map(|(at, v)| (at.index(len), v | 1)).collect();
        prop_assume!(common::mutate_cab(&mut bytes, &edits, cut.map(|c| c.index(len))));
        let Ok((seen, findings)) = walk_bytes(&bytes) else {
            return Ok(()); // a clear error is fine
        };
        for s in &seen {
            if let Ok(got) = &s.read {
                // Never a member of the wrong length without an error.
                prop_assert_eq!(got.len() as u64, s.size, "{}", s.name);
                // Changed bytes for an unchanged name and size need a finding.
                if let Some(f) = files.iter().find(|f| f.name == s.name && f.data.len() as u64 == s.size)
                    && got != &f.data
                {
                    prop_assert!(findings > 0, "{}: changed bytes with no finding", s.name);
                }
            }
        }
    }
}
