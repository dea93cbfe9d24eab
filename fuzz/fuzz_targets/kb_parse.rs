//! Fuzz the KB file-table parser: automatic layout detection on the bytes,
//! then every layout forced on the same text.
#![no_main]

use kbinspect::kb::{self, Layout};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = kb::parse_bytes(data);
    let text = kb::decode(data);
    for layout in Layout::ALL {
        let _ = kb::parse(&text, Some(layout));
    }
});
