//! `kbinspect diff OLD NEW`: what changed between two builds of an update.

use kbinspect::check::diff;
use kbinspect::model::{LoadOptions, Package};
use serde::Serialize;

/// `diff --format`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum, Default)]
pub enum DiffFormat {
    /// Human-readable table, fitted to the terminal
    #[default]
    Table,
    /// Machine-readable JSON, the source of the other formats (schema in docs/reports.md)
    Json,
    /// A markdown report for a pull request, ticket or wiki (CommonMark, no HTML)
    Markdown,
    /// JUnit XML: a test case per area without changes and a failing one per change
    Junit,
}

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
    #[arg(long, value_enum, default_value_t = DiffFormat::Table)]
    pub format: DiffFormat,
    #[command(flatten)]
    pub out: super::output::OutputArgs,
    #[command(flatten)]
    pub model: super::list::ModelArgs,
}

#[derive(Serialize)]
struct Document<'a> {
    old: &'a str,
    new: &'a str,
    changes: &'a [diff::Change],
}

pub fn run(args: &Args) -> anyhow::Result<i32> {
    let started = std::time::Instant::now();
    // Opened first: an --output that cannot be written fails before the work.
    let mut report = args.out.open()?;
    let limits = args.model.limits();
    // No signature or catalog is compared: the trust check's digests and
    // the catalogs' bytes are not kept (at 300 MB, 9.8 MB of catalogs a
    // side).
    let opts = LoadOptions {
        keep_trust: false,
        ..args.model.load_options()
    };
    // A bar for each side; both packages at once when the budget allows
    // (they share it).
    let mut bars = super::progress::Bars::new();
    let old_opts = LoadOptions {
        progress: bars.handle("old: "),
        ..opts.clone()
    };
    let new_opts = LoadOptions {
        progress: bars.handle("new: "),
        ..opts
    };
    let (old, new) = old_opts.context.join(
        || Package::load_with(&args.old, &limits, &old_opts),
        || Package::load_with(&args.new, &limits, &new_opts),
    );
    bars.finish();
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
        DiffFormat::Json => super::output::write_json(
            &mut report,
            &Document {
                old: &old.input,
                new: &new.input,
                changes: &changes,
            },
        )?,
        DiffFormat::Markdown => {
            crate::render::markdown::write_diff(&mut report, &old.input, &new.input, &changes)?
        }
        DiffFormat::Junit => {
            let suite = crate::render::junit::diff_suite(
                &old.input,
                &new.input,
                &changes,
                started.elapsed().as_secs_f64(),
            );
            crate::render::junit::write(&mut report, "kbinspect diff", &[suite])?;
        }
        DiffFormat::Table => {
            use crate::render::Col::{Keep, Path, Text};
            use std::io::Write;
            let width = report.width();
            let mut out = report.text();
            let summary = crate::render::diff_summary(&changes);
            // The summary first, for a glance, and last, for `| tail -1`
            // (once when there is nothing between).
            writeln!(out, "{summary}")?;
            if !changes.is_empty() {
                writeln!(out)?;
                crate::render::write_table_fit(
                    &mut out,
                    width,
                    &crate::render::CHANGE_HEADER,
                    &[Keep, Path, Text, Text],
                    || changes.iter().map(crate::render::change_cells),
                )?;
                writeln!(out)?;
                writeln!(out, "{summary}")?;
            }
            out.flush()?;
        }
    }
    report.finish()?;
    Ok(i32::from(!changes.is_empty()))
}
