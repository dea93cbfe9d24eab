//! Fuzz `msdelta::apply`: the first byte's low 7 bits pick how much of the
//! input is a source, the rest is the delta. With the top bit set, an
//! expected SHA-256 is given, so PE deltas without a header hash also run
//! the whole PE transform pipeline (they then fail the hash check). Any outcome but a panic, a hang or an
//! allocation beyond the limits is fine; a success must have the header size.
#![no_main]

use kbinspect::msdelta::{DeltaLimits, apply_detailed};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&split, rest)) = data.split_first() else {
        return;
    };
    let cut = (usize::from(split & 0x7F) * 32).min(rest.len());
    let (source, delta) = rest.split_at(cut);
    let limits = DeltaLimits {
        max_target_size: 8 << 20,
        max_window: 16 << 20,
        ..DeltaLimits::default()
    };
    let source = (!source.is_empty()).then_some(source);
    let expected = (split & 0x80 != 0).then_some([0u8; 32]);
    if let Ok(a) = apply_detailed(delta, source, expected.as_ref(), &limits) {
        assert_eq!(a.target.len() as u64, a.header.target_size);
    }
});
