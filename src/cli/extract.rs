//! `kbinspect extract`: write a package tree to a directory, safely.

use std::io::Write;

use super::Format;
use super::ls::LimitArgs;
use kbinspect::extract::{ExpandReport, Layout, Options, expand, extract};
use kbinspect::finding::Code;

#[derive(clap::Args)]
#[command(
    after_help = "Examples:\n  kbinspect extract update.msu -o out/                    # the whole tree, nested\n  kbinspect extract update.msu -o out/ --depth 1          # the MSU's own members: the .cab for DISM\n  kbinspect extract update.msu -o out/ --filter '*.cab'   # just the cabinets, as files\n  kbinspect extract update.msu -o out/ --flat --filter '*.mum'\n  kbinspect extract update.msu -o out/ --expand           # proven files by component\n  kbinspect extract update.msu -o out/ --verbose          # a line per file written\n\nExit codes: 0 everything asked for was written, 1 something was not\n(existing files without --force, --flat collisions, unsafe names, a filter\nthat matches nothing, errors), 2 could not run, 130 interrupted."
)]
pub struct Args {
    /// Package to extract: .msu, .cab (first part of a set) or an expanded folder (`-`: standard input)
    pub input: std::path::PathBuf,
    /// Output directory (created when missing)
    #[arg(short = 'o', long = "output")]
    pub output: std::path::PathBuf,
    /// Write leaf members by their stored names only, without container directories
    #[arg(long, conflicts_with = "nested")]
    pub flat: bool,
    /// Mirror the tree; a nested cabinet becomes a directory of its contents (default)
    #[arg(long)]
    pub nested: bool,
    /// Levels of the tree to write: 1 = the input's own members, nested
    /// cabinets as files (as `cabextract` without recursion, or
    /// `expand -F:*` on Windows); 2 = one level further; default all
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub depth: Option<u32>,
    /// Only extract members whose path or name matches this glob (repeatable);
    /// a nested cabinet that matches is written as a file
    #[arg(long)]
    pub filter: Vec<String>,
    /// Replace existing files
    #[arg(long)]
    pub force: bool,
    /// Instead of the tree, write every manifest-declared file whose bytes are
    /// proven (stored, or rebuilt from deltas, matching the manifest digest)
    /// as DIR/<component keyform>/<file name>
    #[arg(long, conflicts_with_all = ["flat", "nested"])]
    pub expand: bool,
    /// Print one line per file written (and every file not written);
    /// without it, the files not written (up to 10) and the summary line
    #[arg(long, short)]
    pub verbose: bool,
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
    #[command(flatten)]
    pub limits: LimitArgs,
    #[command(flatten)]
    pub threads: super::ThreadArgs,
}

/// Files not written listed without `--verbose`.
const SKIPPED_SHOWN: usize = 10;

/// The "skipped" lines: all with `--verbose`, else the first few and a count.
fn write_skipped<W: Write>(
    out: &mut W,
    lines: impl ExactSizeIterator<Item = String>,
    verbose: bool,
) -> std::io::Result<()> {
    let n = lines.len();
    let shown = if verbose { n } else { n.min(SKIPPED_SHOWN) };
    for line in lines.take(shown) {
        writeln!(out, "{line}")?;
    }
    if shown < n {
        writeln!(
            out,
            "… and {} more not written (--verbose lists them)",
            n - shown
        )?;
    }
    Ok(())
}

pub fn run(args: &Args) -> anyhow::Result<i32> {
    // Ctrl-C or SIGTERM: no temporary file is left behind, one line says
    // how far it got (`cli::interrupt`), exit 130.
    super::interrupt::extracting();
    let filter = if args.filter.is_empty() {
        None
    } else {
        let mut b = globset::GlobSetBuilder::new();
        for g in &args.filter {
            b.add(globset::Glob::new(g)?);
        }
        let globs = b.build()?;
        Some(kbinspect::extract::Filter::new(move |p| globs.is_match(p)))
    };
    let mut bars = super::progress::Bars::new();
    let opts = Options {
        layout: if args.flat {
            Layout::Flat
        } else {
            Layout::Nested
        },
        filter,
        filter_text: (!args.filter.is_empty()).then(|| {
            args.filter
                .iter()
                .map(|g| format!("'{g}'"))
                .collect::<Vec<_>>()
                .join(" ")
        }),
        force: args.force,
        depth: args.depth,
        limits: args.limits.limits(),
        context: args.threads.context(),
        progress: bars.handle(""),
    };
    let (input, _stdin) = super::input_path(&args.input)?;
    if args.expand {
        let report = expand(&input, &args.output, &opts, &mut |_| {})?;
        bars.finish();
        return render_expand(&report, args.format, args.verbose);
    }
    let report = extract(&input, &args.output, &opts, &mut |_| {})
        // The error's text already includes its cause; keep the chain flat.
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    bars.finish();
    // A run that did not write all it was asked to write is not a success.
    let code = kbinspect::finding::exit_code(&report.findings).max(i32::from(!report.complete));
    if args.format == Format::Json {
        super::print_json(&report)?;
        return Ok(code);
    }
    // One write per screenful, not per line: thousands of files (with
    // --verbose).
    let mut out = super::term::stdout();
    let summary = summary(&report);
    // The summary first, for a glance, and last, for `| tail -1`; once
    // when nothing comes between.
    let body = (args.verbose && !report.written.is_empty())
        || !report.skipped.is_empty()
        || report.findings.iter().any(|f| !f.code.is_extract());
    if body {
        writeln!(out, "{summary}\n")?;
    }
    for w in report.written.iter().filter(|_| args.verbose) {
        match &w.renamed {
            Some(why) => writeln!(
                out,
                "wrote {} ({} bytes; from {}: {why})",
                w.target, w.size, w.path
            )?,
            None => writeln!(out, "wrote {} ({} bytes)", w.target, w.size)?,
        }
    }
    write_skipped(
        &mut out,
        report
            .skipped
            .iter()
            .map(|s| format!("skipped {}: {}", s.path, s.reason)),
        args.verbose,
    )?;
    for f in report.findings.iter().filter(|f| !f.code.is_extract()) {
        writeln!(out, "{f}")?;
    }
    writeln!(out, "{summary}")?;
    out.flush()?;
    Ok(code)
}

/// The last line: what was written and, when not everything, what was not
/// and why, by finding code.
fn summary(report: &kbinspect::extract::ExtractReport) -> String {
    let head = format!(
        "{} files, {} bytes written to {}",
        report.written.len(),
        report.bytes_written,
        report.output_dir
    );
    if report.complete {
        return head;
    }
    if let Some(f) = report
        .findings
        .iter()
        .find(|f| f.code == Code::ExtractFilterEmpty)
    {
        return format!("incomplete: {head}; {}", f.detail);
    }
    let mut why: Vec<(&str, usize)> = Vec::new();
    for s in &report.skipped {
        let code = report
            .findings
            .iter()
            .find(|f| f.subject == s.path && f.code.is_extract())
            .map_or("read error", |f| match f.code {
                Code::ExtractExists => "already exist (use --force)",
                Code::ExtractCollision => "name collisions (--flat)",
                Code::ExtractUnsafeName => "unsafe names",
                _ => "write errors",
            });
        match why.iter_mut().find(|(c, _)| *c == code) {
            Some((_, n)) => *n += 1,
            None => why.push((code, 1)),
        }
    }
    let why: Vec<String> = why.iter().map(|(c, n)| format!("{n} {c}")).collect();
    format!(
        "incomplete: {head}; {} not written: {}",
        report.skipped.len(),
        why.join(", ")
    )
}

fn render_expand(report: &ExpandReport, format: Format, verbose: bool) -> anyhow::Result<i32> {
    let code = kbinspect::finding::exit_code(&report.findings);
    if format == Format::Json {
        super::print_json(report)?;
        return Ok(code);
    }
    // One write per screenful, not per line: thousands of files.
    let mut out = super::term::stdout();
    let summary = format!(
        "{} files, {} bytes written to {}; {} not written",
        report.written.len(),
        report.bytes_written,
        report.output_dir,
        report.skipped.len()
    );
    // First and last, as `extract`'s.
    if (verbose && !report.written.is_empty())
        || !report.skipped.is_empty()
        || !report.findings.is_empty()
    {
        writeln!(out, "{summary}\n")?;
    }
    for w in report.written.iter().filter(|_| verbose) {
        writeln!(out, "wrote {} ({} bytes, {})", w.target, w.size, w.source)?;
    }
    write_skipped(
        &mut out,
        report
            .skipped
            .iter()
            .map(|s| format!("skipped {}/{}: {}", s.component, s.file, s.reason)),
        verbose,
    )?;
    for f in &report.findings {
        writeln!(out, "{f}")?;
    }
    writeln!(out, "{summary}")?;
    out.flush()?;
    Ok(code)
}
