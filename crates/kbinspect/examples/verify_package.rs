//! Use kbinspect as a library: list a package's components and verify it.
//!
//!     cargo run --release --example verify_package -- update.msu

use kbinspect::container::Limits;
use kbinspect::finding::Severity;
use kbinspect::model::{LoadOptions, Package};

fn main() -> anyhow::Result<()> {
    let Some(path) = std::env::args_os().nth(1) else {
        anyhow::bail!("usage: verify_package PACKAGE");
    };
    let opts = LoadOptions::default();
    let pkg = Package::load_with(path.as_ref(), &Limits::default(), &opts)?;
    for c in &pkg.components {
        let id = &c.identity;
        println!(
            "{} {} {} ({} files)",
            id.name,
            id.version,
            c.arch,
            c.files.len()
        );
    }
    let v = kbinspect::check::verify(&pkg, &opts, &Default::default(), vec![]);
    for f in v.findings.iter().filter(|f| f.severity != Severity::Info) {
        println!("{} {} {}: {}", f.severity, f.code, f.subject, f.detail);
    }
    let (a, c) = (&v.assessment, &v.assessment.coverage);
    println!(
        "{}: {} of {} files proven",
        a.verdict.as_str(),
        c.files_proven,
        c.files_declared
    );
    std::process::exit(a.verdict.exit_code(false));
}
