//! Fuzz the PE transform pipeline directly: byte 0 picks the flag word and
//! file type, bytes 1–2 the pre-process buffer's length, then the buffer,
//! then the source image. Seeds: the `base.bin` files and the pre-process
//! buffers of `shared/corpus/msdelta-vectors/pe-decode/*`. Any outcome but a
//! panic, a hang or a resized T(source) is fine.
#![no_main]

use kbinspect::msdelta::{DeltaLimits, fuzz_pe_pipeline};
use libfuzzer_sys::fuzz_target;

const FLAGS: [u64; 4] = [0x2E1FE, 0x2E63E, 0xFFFF_FFFF, 0x2E1FF & !0x2000];
const TYPES: [u64; 4] = [2, 8, 0x20, 4];

fuzz_target!(|data: &[u8]| {
    let [sel, lo, hi, rest @ ..] = data else {
        return;
    };
    let n = usize::from(u16::from_le_bytes([*lo, *hi])).min(rest.len());
    let (pre, source) = rest.split_at(n);
    let limits = DeltaLimits {
        max_rift_entries: 1 << 12,
        ..DeltaLimits::default()
    };
    let flags = FLAGS[usize::from(sel & 3)];
    let file_type = TYPES[usize::from((sel >> 2) & 3)];
    if let Ok(len) = fuzz_pe_pipeline(source, pre, file_type, flags, &limits) {
        assert_eq!(len, source.len());
    }
});
