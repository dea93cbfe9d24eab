//! Fuzz the servicing XML path: the first byte picks the member name (mum,
//! component manifest, container index), the rest is the document; it goes
//! through text decoding (BOM / UTF-16), the parsers and the model.
#![no_main]

use kbinspect::model::{LoadOptions, Package};
use kbinspect::servicing::xml::XmlLimits;
use kbinspect::servicing::{cix, component, mum};
use libfuzzer_sys::fuzz_target;

const NAMES: [&str; 4] = [
    "update.mum",
    "x86_microsoft-windows-a_31bf3856ad364e35_6.1.7600.1_none_0123456789abcdef.manifest",
    "_manifest_.cix.xml",
    "express.psf.cix.xml",
];

fuzz_target!(|data: &[u8]| {
    let Some((&pick, doc)) = data.split_first() else {
        return;
    };
    let limits = XmlLimits::default();
    let _ = mum::parse("f.mum", doc, &limits);
    let _ = component::parse("f.manifest", doc, &limits);
    let _ = cix::parse("f.cix.xml", doc, &limits);
    let name = NAMES[usize::from(pick) % NAMES.len()].to_string();
    let pkg = Package::from_members("fuzz", vec![(name, doc.to_vec(), None)], &LoadOptions::default());
    let _ = kbinspect::check::integrity::check(&pkg);
});
