//! Regenerate the KB975354 sample MSUs:
//! `cargo run --release --example gen_sample -- testdata/`
//!
//! Writes `Windows6.1-KB975354-{x86,x64,ia64}.msu` into the given directory.
//! The output is deterministic; `tests/sample_reproduce.rs` checks that the
//! committed files equal a fresh build.
//!
//! `-- --variants DIR` instead writes the broken x64 variants
//! (`Windows6.1-KB975354-x64-<variant>.msu`, see `sample::Variant`) and the
//! second build (`…-x64-second-build.msu`) for trying `verify` and `diff` by
//! hand; they are not committed.

use std::path::{Path, PathBuf};

use kbinspect_testkit::{self as sample, Arch, Spec, Variant};

fn write(path: &Path, spec: &Spec) -> anyhow::Result<()> {
    let started = std::time::Instant::now();
    let msu = sample::build_msu(spec);
    std::fs::write(path, &msu)?;
    eprintln!(
        "{}: {} bytes in {:.1?}",
        path.display(),
        msu.len(),
        started.elapsed()
    );
    Ok(())
}

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (variants, dir) = match args.as_slice() {
        [flag, dir] if flag == "--variants" => (true, PathBuf::from(dir)),
        [dir] => (false, PathBuf::from(dir)),
        [] => (false, PathBuf::from("testdata")),
        _ => anyhow::bail!("usage: gen_sample [--variants] DIR"),
    };
    std::fs::create_dir_all(&dir)?;
    if variants {
        for v in Variant::ALL {
            let name = format!("Windows6.1-KB975354-x64-{}.msu", v.name());
            write(&dir.join(name), &v.spec())?;
        }
        let second = sample::second_build(&sample::kb975354(Arch::X64));
        write(
            &dir.join("Windows6.1-KB975354-x64-second-build.msu"),
            &second,
        )?;
        return Ok(());
    }
    for arch in Arch::ALL {
        let spec = sample::kb975354(arch);
        write(&dir.join(spec.msu_name()), &spec)?;
    }
    Ok(())
}
