//! `kbinspect list`: the servicing model of a package.

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
    match args.format {
        Format::Json => super::print_json(&report::list_view(&pkg))?,
        Format::Table => {
            use std::io::Write;
            let mut out = std::io::stdout().lock();
            out.write_all(report::list_table(&pkg).as_bytes())?;
            for f in &pkg.findings {
                writeln!(
                    out,
                    "{}: {} {}: {}",
                    f.severity, f.code, f.subject, f.detail
                )?;
            }
        }
    }
    Ok(kbinspect::finding::exit_code(&pkg.findings))
}
