//! `kbinspect list`: the servicing model of a package.

use kbinspect::container::Limits;
use kbinspect::model::{LoadOptions, Package, read_dcm_base};
use kbinspect::report;

use super::Format;

#[derive(clap::Args)]
pub struct Args {
    /// Package: .msu, .cab or a folder holding an expanded package
    pub input: std::path::PathBuf,
    /// Base manifest for Windows 10/11 DCM-compressed manifests: the
    /// extracted base or a wcp.dll (without it they are only reported)
    #[arg(long, value_name = "FILE")]
    pub dcm_base: Option<std::path::PathBuf>,
    /// Output format
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
}

pub fn run(args: &Args) -> anyhow::Result<i32> {
    let opts = LoadOptions {
        dcm_base: args.dcm_base.as_deref().map(read_dcm_base).transpose()?,
        ..Default::default()
    };
    let pkg = Package::load_with(&args.input, &Limits::default(), &opts)?;
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
