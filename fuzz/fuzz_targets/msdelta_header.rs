//! Fuzz `msdelta::parse_header`: never panics, and what it reports fits in
//! the input.
#![no_main]

use kbinspect::msdelta::parse_header;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(h) = parse_header(data) {
        assert!(h.preprocess_size + h.patch_size <= data.len() as u64);
        assert!(h.target_hash.len() <= data.len());
    }
});
