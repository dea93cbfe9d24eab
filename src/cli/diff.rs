//! `kbinspect diff OLD NEW`: what changed between two builds of an update.

use kbinspect::check::diff;
use kbinspect::model::Package;
use serde::Serialize;

use super::Format;
use super::list::XmlLimitArgs;
use super::ls::LimitArgs;

#[derive(clap::Args)]
#[command(
    after_help = "Inputs may be .msu, .cab or expanded folders, mixed freely.\n\nExamples:\n  kbinspect diff Windows6.1-KB975354-x64.msu Windows6.1-KB975354-v2-x64.msu\n  kbinspect diff old/ new.cab --format json\n\nExit codes: 0 identical, 1 differences found, 2 could not run."
)]
pub struct Args {
    /// The old build: .msu, .cab or a folder holding an expanded package
    pub old: std::path::PathBuf,
    /// The new build
    pub new: std::path::PathBuf,
    /// Output format
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
    #[command(flatten)]
    pub limits: LimitArgs,
    #[command(flatten)]
    pub xml: XmlLimitArgs,
}

#[derive(Serialize)]
struct Document<'a> {
    old: &'a str,
    new: &'a str,
    changes: &'a [diff::Change],
}

pub fn run(args: &Args) -> anyhow::Result<i32> {
    let limits = args.limits.limits();
    let opts = args.xml.load_options();
    let (old, new) = rayon::join(
        || Package::load_with(&args.old, &limits, &opts),
        || Package::load_with(&args.new, &limits, &opts),
    );
    let (old, new) = (old?, new?);
    for (pkg, side) in [(&old, "OLD"), (&new, "NEW")] {
        // What could not be read would show as removed: no diff at all.
        let errors = super::read_errors(pkg);
        if let Some(first) = errors.first() {
            let more = match errors.len() {
                1 => String::new(),
                n => format!(" (and {} more read errors)", n - 1),
            };
            anyhow::bail!(
                "cannot diff: {side} {} could not be read completely: {} {}: {}{more}",
                pkg.input,
                first.code,
                first.subject,
                first.detail
            );
        }
        super::require_update_package(pkg)?;
    }
    let changes = diff::diff(&old, &new);
    match args.format {
        Format::Json => super::print_json(&Document {
            old: &old.input,
            new: &new.input,
            changes: &changes,
        })?,
        Format::Table => {
            use std::io::Write;
            let mut out = super::term::stdout();
            if changes.is_empty() {
                writeln!(out, "no differences")?;
            } else {
                let mut t = crate::render::table();
                t.set_header(["change", "subject", "old", "new"]);
                for c in &changes {
                    t.add_row([
                        c.kind.as_str(),
                        c.subject.as_str(),
                        c.old.as_deref().unwrap_or(""),
                        c.new.as_deref().unwrap_or(""),
                    ]);
                }
                writeln!(out, "{t}")?;
                writeln!(out, "{} changes", changes.len())?;
            }
        }
    }
    Ok(i32::from(!changes.is_empty()))
}
