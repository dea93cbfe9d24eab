//! `kbinspect verify`: check a package against itself.

use kbinspect::check::integrity;
use kbinspect::container::Limits;
use kbinspect::model::Package;
use kbinspect::report;

use super::Format;

#[derive(clap::Args)]
pub struct Args {
    /// Package: .msu, .cab or a folder holding an expanded package
    pub input: std::path::PathBuf,
    /// Output format
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
}

pub fn run(args: &Args) -> anyhow::Result<i32> {
    let pkg = Package::load(&args.input, &Limits::default())?;
    let (findings, stats) = integrity::check_with_stats(&pkg);
    let r = report::verify_report(&pkg.input, &findings, stats);
    match args.format {
        Format::Json => super::print_json(&r)?,
        Format::Table => {
            use std::io::Write;
            std::io::stdout()
                .lock()
                .write_all(report::verify_table(&r).as_bytes())?;
        }
    }
    Ok(kbinspect::finding::exit_code(&findings))
}
