//! Fuzz the CAB reader: the input is written to a file (the walk reads
//! files, opening later parts of a set beside them) and walked with every
//! member decoded, then loaded as a package. A member handed to the visitor
//! must never yield more bytes than its declared size.
#![no_main]

use std::io::Read;

use kbinspect::container::{Limits, walk};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let dir = std::env::temp_dir().join(format!("kbinspect-fuzz-{}", std::process::id()));
    let _ = std::fs::create_dir_all(&dir);
    let path = dir.join("input.cab");
    if std::fs::write(&path, data).is_err() {
        return;
    }
    let limits = Limits {
        max_total_size: 64 << 20,
        max_member_size: 32 << 20,
        // Low enough that the ratio check (and its error path) runs.
        ratio_floor: 1 << 20,
        ..Limits::default()
    };
    let _ = walk(&path, &limits, &mut |meta, reader| {
        let mut buf = Vec::new();
        if reader.take(meta.size + 1).read_to_end(&mut buf).is_ok() {
            assert_eq!(buf.len() as u64, meta.size, "{}", meta.path);
        }
        Ok(())
    });
    if let Ok(pkg) = kbinspect::model::Package::load(&path, &limits) {
        let _ = kbinspect::check::integrity::check(&pkg);
    }
});
