//! Fuzz the PE version-resource reader.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Some(v) = kbinspect::pe::version_info(data) {
        assert!(!v.machine.is_empty());
    }
});
