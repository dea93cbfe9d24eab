//! `kbinspect list`: the servicing model of a package.

use kbinspect::model::{LoadOptions, Package, read_dcm_base};
use kbinspect::report;
use kbinspect::servicing::xml::XmlLimits;

use super::ReportFormat;
use super::ls::LimitArgs;

/// What every command that loads a package model takes: the walk's
/// limits, the XML limits and the thread budget.
#[derive(clap::Args, Debug, Clone)]
pub struct ModelArgs {
    #[command(flatten)]
    pub limits: LimitArgs,
    #[command(flatten)]
    pub xml: XmlLimitArgs,
    #[command(flatten)]
    pub threads: super::ThreadArgs,
}

impl ModelArgs {
    /// The walk's limits.
    pub fn limits(&self) -> kbinspect::container::Limits {
        self.limits.limits()
    }

    /// Load options with the XML limits and a decode context of the
    /// thread budget.
    pub fn load_options(&self) -> LoadOptions {
        LoadOptions {
            context: self.threads.context(),
            ..self.xml.load_options()
        }
    }
}

/// Limits on each servicing XML document, shared by `list`, `verify` and `diff`.
#[derive(clap::Args, Debug, Clone)]
pub struct XmlLimitArgs {
    /// Deepest element nesting of a .mum, .manifest or container index
    #[arg(long, default_value_t = XmlLimits::default().max_depth)]
    pub max_xml_depth: usize,
    /// Most elements in one document
    #[arg(long, default_value_t = XmlLimits::default().max_elements)]
    pub max_xml_elements: usize,
    /// Largest attribute value, in bytes
    #[arg(long, default_value_t = XmlLimits::default().max_attr_len)]
    pub max_xml_attr: usize,
    /// Largest text directly inside one element, in bytes
    #[arg(long, default_value_t = XmlLimits::default().max_text_len)]
    pub max_xml_text: usize,
    /// Largest document, in bytes (larger ones are reported, not parsed)
    #[arg(long, default_value_t = LoadOptions::default().max_metadata_size)]
    pub max_xml_size: u64,
}

impl XmlLimitArgs {
    /// Load options carrying these limits (the rest default).
    pub fn load_options(&self) -> LoadOptions {
        LoadOptions {
            max_metadata_size: self.max_xml_size,
            xml: XmlLimits {
                max_depth: self.max_xml_depth,
                max_elements: self.max_xml_elements,
                max_attr_len: self.max_xml_attr,
                max_text_len: self.max_xml_text,
                max_doc_len: usize::try_from(self.max_xml_size).unwrap_or(usize::MAX),
            },
            ..Default::default()
        }
    }
}

#[derive(clap::Args)]
#[command(
    after_help = "Examples:\n  kbinspect list Windows6.1-KB975354-x64.msu\n  kbinspect list update.msu --format json | jq '.components[].files[].name'\n  kbinspect list expanded-folder/\n  kbinspect list windows10.0-kb5034441-x64.msu --dcm-base wcp.dll\n\nExit codes: 0 clean, 1 findings of error severity, 2 could not run."
)]
pub struct Args {
    /// Package: .msu, .cab or a folder holding an expanded package (`-`: standard input)
    pub input: std::path::PathBuf,
    /// Base manifest for Windows 10/11 DCM-compressed manifests: the
    /// extracted base or a wcp.dll (without it they are only reported)
    #[arg(long, value_name = "FILE")]
    pub dcm_base: Option<std::path::PathBuf>,
    /// Output format
    #[arg(long, value_enum, default_value_t = ReportFormat::Table)]
    pub format: ReportFormat,
    #[command(flatten)]
    pub out: super::output::OutputArgs,
    #[command(flatten)]
    pub model: ModelArgs,
}

pub fn run(args: &Args) -> anyhow::Result<i32> {
    let opts = LoadOptions {
        dcm_base: args.dcm_base.as_deref().map(read_dcm_base).transpose()?,
        // Only `diff` reads registry keys.
        keep_registry: false,
        // `list` shows what the documents declare: members it does not need
        // are not decoded past their first bytes, nor digested, and no
        // signature is checked.
        digest_all: false,
        keep_trust: false,
        ..args.model.load_options()
    };
    let (input, _stdin) = super::input_path(&args.input)?;
    let mut bars = super::progress::Bars::new();
    let opts = LoadOptions {
        progress: bars.handle(""),
        ..opts
    };
    let pkg = Package::load_with(&input, &args.model.limits(), &opts)?;
    bars.finish();
    super::require_update_package(&pkg)?;
    let mut report = args.out.open()?;
    let summary = crate::render::list_summary(&pkg);
    match args.format {
        ReportFormat::Json => super::output::write_json(&mut report, &report::list_view(&pkg))?,
        ReportFormat::Markdown => crate::render::markdown::write_list(&mut report, &summary, &pkg)?,
        ReportFormat::Table => {
            use std::io::Write;
            let width = report.width();
            let mut out = report.text();
            // The summary first, for a glance, and last, for `| tail -1`.
            writeln!(out, "{summary}\n")?;
            crate::render::write_list_table(&mut out, width, &pkg)?;
            for f in &pkg.findings {
                writeln!(out, "{f}")?;
            }
            writeln!(out, "{summary}")?;
            out.flush()?;
        }
    }
    report.finish()?;
    Ok(kbinspect::finding::exit_code(&pkg.findings))
}
