//! Fuzz `msdelta::apply`: the first byte picks how much of the input is a
//! source, the rest is the delta. Any outcome but a panic, a hang or an
//! allocation beyond the limits is fine; a success must have the header size.
#![no_main]

use kbinspect::msdelta::{DeltaLimits, apply_detailed};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&split, rest)) = data.split_first() else {
        return;
    };
    let cut = (usize::from(split) * 16).min(rest.len());
    let (source, delta) = rest.split_at(cut);
    let limits = DeltaLimits {
        max_target_size: 8 << 20,
        max_window: 16 << 20,
        ..DeltaLimits::default()
    };
    let source = (!source.is_empty()).then_some(source);
    if let Ok(a) = apply_detailed(delta, source, None, &limits) {
        assert_eq!(a.target.len() as u64, a.header.target_size);
    }
});
