//! Servicing XML parsers and the PE version reader on arbitrary bytes: no
//! panics, no unbounded allocation (limits come from `XmlLimits`).
#![no_main]

use kbinspect::servicing::{cix, component, mum, xml::XmlLimits};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let limits = XmlLimits::default();
    let _ = component::parse("fuzz.manifest", data, &limits);
    let _ = mum::parse("fuzz.mum", data, &limits);
    let _ = cix::parse("fuzz.cix.xml", data, &limits);
    let _ = kbinspect::pe::version_info(data);
});
