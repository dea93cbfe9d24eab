//! Hostile input: randomly mutated cabinets (stored, MSZIP, LZX) never
//! panic, and every read either yields exactly the declared size or fails.
use crate::common;

use kbinspect::container::{Limits, walk};
use proptest::prelude::*;

fn fixtures() -> &'static [Vec<u8>] {
    static CACHE: std::sync::OnceLock<Vec<Vec<u8>>> = std::sync::OnceLock::new();
    CACHE.get_or_init(build_fixtures)
}

fn build_fixtures() -> Vec<Vec<u8>> {
    let mut v: Vec<Vec<u8>> = ["gcab-mszip.cab", "gcab-stored.cab"]
        .iter()
        .map(|n| std::fs::read(common::testdata().join("cabs").join(n)).unwrap())
        .collect();
    // A small LZX cabinet: one 40000-byte member, two CFDATA blocks.
    let text: Vec<u8> = (0..4000)
        .flat_map(|i| format!("{i:09}\n").into_bytes())
        .collect();
    let chunks = lzxc::Encoder::new(lzxc::WindowSize::KB64).encode_stream(&text);
    let data_offset = 36u32 + 8 + 16 + 6;
    let mut c = Vec::new();
    c.extend_from_slice(b"MSCF\0\0\0\0");
    let total = data_offset as usize + chunks.iter().map(|k| 8 + k.len()).sum::<usize>();
    c.extend_from_slice(&(total as u32).to_le_bytes());
    c.extend_from_slice(&[0; 4]);
    c.extend_from_slice(&44u32.to_le_bytes());
    c.extend_from_slice(&[0, 0, 0, 0, 3, 1, 1, 0, 1, 0, 0, 0, 0, 0, 0, 0]);
    c.extend_from_slice(&data_offset.to_le_bytes());
    c.extend_from_slice(&(chunks.len() as u16).to_le_bytes());
    c.extend_from_slice(&(3u16 | (16 << 8)).to_le_bytes());
    c.extend_from_slice(&(text.len() as u32).to_le_bytes());
    c.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0x21, 0x50, 0, 0x80, 0x20, 0]);
    c.extend_from_slice(b"a.txt\0");
    for (i, k) in chunks.iter().enumerate() {
        let out = (text.len() - i * 32768).min(32768) as u16;
        c.extend_from_slice(&[0; 4]);
        c.extend_from_slice(&(k.len() as u16).to_le_bytes());
        c.extend_from_slice(&out.to_le_bytes());
        c.extend_from_slice(k);
    }
    v.push(c);
    v
}

fn check(bytes: &[u8]) {
    let tmp = tempfile::tempdir().unwrap();
    let p = tmp.path().join("m.cab");
    std::fs::write(&p, bytes).unwrap();
    let limits = Limits {
        max_total_size: 1 << 24,
        ..Limits::default()
    };
    let _ = walk(&p, &limits, &mut |meta, r| {
        let mut n = 0u64;
        let mut buf = [0u8; 8192];
        loop {
            match r.read(&mut buf) {
                Ok(0) => {
                    assert_eq!(n, meta.size, "{}: short read without an error", meta.path);
                    break;
                }
                Ok(k) => n += k as u64,
                Err(_) => break,
            }
        }
        assert!(n <= meta.size, "{}: more bytes than declared", meta.path);
        Ok(())
    });
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, .. ProptestConfig::default() })]
    #[test]
    fn mutated_cabinets_never_panic_or_truncate(
        which in 0usize..3,
        edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8),
        cut in proptest::option::of(any::<prop::sample::Index>()),
    ) {
        let mut b = fixtures()[which].clone();
        for (i, v) in edits {
            let at = i.index(b.len());
            b[at] = v;
        }
        if let Some(c) = cut {
            let at = c.index(b.len());
            b.truncate(at);
        }
        check(&b);
    }
}
