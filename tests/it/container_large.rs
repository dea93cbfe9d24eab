//! `large-files-cab.cab`: a cabinet holding a cabinet with three 2 GiB
//! members (MSZIP, LZX:15, LZX:21 of the same text). Decoding all 6 GiB takes
//! about a minute in release, so the test lists sizes and decodes a prefix of
//! each member; the full run is documented in README.md:
//! `/usr/bin/time -v target/release/kbinspect ls --test <corpus>/cabextract-tests/cabs/large-files-cab.cab`.
use crate::common;

use std::io::Read;

use kbinspect::container::{Limits, WalkOptions, list, walk_with};

const SIZE: u64 = 2_147_450_880;

#[test]
fn lists_three_2gib_members_without_decoding_them() {
    let input = corpus_or_skip!("cabextract-tests/cabs/large-files-cab.cab");
    let started = std::time::Instant::now();
    let l = list(&input, &Limits::default(), None, &mut |_| {}).unwrap();
    let rows: Vec<(String, u64, String)> = l
        .members
        .iter()
        .map(|m| {
            (
                m.meta.path.clone(),
                m.meta.size,
                m.meta.compression.to_string(),
            )
        })
        .collect();
    assert_eq!(
        rows,
        vec![
            ("large-files.cab".into(), 14_689_228, "lzx:21".into()),
            ("large-files.cab/mszip-2gb.txt".into(), SIZE, "mszip".into()),
            (
                "large-files.cab/lzx15-2gb.txt".into(),
                SIZE,
                "lzx:15".into()
            ),
            (
                "large-files.cab/lzx21-2gb.txt".into(),
                SIZE,
                "lzx:21".into()
            ),
        ]
    );
    assert!(l.findings.is_empty(), "{:?}", l.findings);
    assert!(
        started.elapsed().as_secs() < 30,
        "listing decoded the members"
    );
}

/// The same text through three codecs: the first 4 MiB of each agree.
#[test]
fn mszip_lzx15_lzx21_prefixes_agree() {
    let input = corpus_or_skip!("cabextract-tests/cabs/large-files-cab.cab");
    let mut prefixes: Vec<Vec<u8>> = Vec::new();
    let opts = WalkOptions {
        verify_unread: false,
        ..WalkOptions::default()
    };
    walk_with(&input, &Limits::default(), &opts, &mut |m, r| {
        if m.depth == 1 {
            let mut buf = Vec::new();
            r.take(4 << 20).read_to_end(&mut buf)?;
            prefixes.push(buf);
        }
        Ok(())
    })
    .unwrap();
    assert_eq!(prefixes.len(), 3);
    assert_eq!(prefixes[0].len(), 4 << 20);
    assert!(prefixes[0] == prefixes[1] && prefixes[1] == prefixes[2]);
    assert!(
        prefixes[0].iter().any(|&b| b != prefixes[0][0]),
        "not a constant fill"
    );
}
