//! Self-consistency only: deltas made by kbinspect's own test encoder
//! (`kbinspect_testkit::pa30`) decode back. These reach paths no real sample uses
//! (the slot-7 escape group 55–70 for offsets ≥ 16 MiB, matches longer than
//! 64 KiB); agreement with msdelta.dll is proven by the corpus tests instead.

use kbinspect::msdelta::{DeltaLimits, apply};
use kbinspect_testkit::pa30::encode_sourceless;

/// A small deterministic generator (xorshift), so no fixture is needed.
fn noise(n: usize, mut seed: u64) -> Vec<u8> {
    (0..n)
        .map(|_| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed as u8
        })
        .collect()
}

#[test]
fn offsets_beyond_16_mib_use_the_55_to_70_escape() {
    // Random head, 17 MiB of zeros (two long matches), the head again:
    // the last copy reaches back ≈ 17 MiB → slot 55.
    let head = noise(4096, 0x1234_5678);
    let mut t = head.clone();
    t.extend(std::iter::repeat_n(0u8, 17 << 20));
    t.extend_from_slice(&head);
    let d = encode_sourceless(&t);
    let out = apply(&d, None, &DeltaLimits::default()).unwrap();
    assert!(out == t);
}

#[test]
fn very_long_matches() {
    let mut t = noise(1000, 7);
    t.extend(std::iter::repeat_n(0x41, 3 << 20));
    t.extend(noise(1000, 8));
    let d = encode_sourceless(&t);
    assert!(d.len() < 4000, "{} bytes", d.len());
    assert!(apply(&d, None, &DeltaLimits::default()).unwrap() == t);
}
