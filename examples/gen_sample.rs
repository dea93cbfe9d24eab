//! Regenerate the KB975354 sample MSUs:
//! `cargo run --release --example gen_sample -- testdata/`
//!
//! Writes `Windows6.1-KB975354-{x86,x64,ia64}.msu` into the given directory.
//! The output is deterministic; `tests/sample_reproduce.rs` checks that the
//! committed files equal a fresh build.

use std::path::PathBuf;

use kbinspect::sample::{self, Arch};

fn main() -> anyhow::Result<()> {
    let dir = std::env::args_os()
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("testdata"));
    std::fs::create_dir_all(&dir)?;
    for arch in Arch::ALL {
        let spec = sample::kb975354(arch);
        let started = std::time::Instant::now();
        let msu = sample::build_msu(&spec);
        let path = dir.join(spec.msu_name());
        std::fs::write(&path, &msu)?;
        eprintln!(
            "{}: {} bytes in {:.1?}",
            path.display(),
            msu.len(),
            started.elapsed()
        );
    }
    Ok(())
}
