//! `kbinspect verify`: check a package against itself and, with `--kb`,
//! against the file tables of its Knowledge Base article.

use anyhow::Context;
use kbinspect::check::{kb as kbcheck, verdict};
use kbinspect::kb::{self, Arch};
use kbinspect::model::{LoadOptions, Package, read_dcm_base};
use kbinspect::report;
use serde::Serialize;

use crate::render::{self, verify::VerifyView};

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum FailOn {
    Warning,
    Info,
}

impl FailOn {
    /// The least severity that fails.
    fn severity(self) -> kbinspect::finding::Severity {
        use kbinspect::finding::Severity;
        match self {
            FailOn::Warning => Severity::Warning,
            FailOn::Info => Severity::Info,
        }
    }

    fn triggered(self, findings: &[kbinspect::finding::Finding]) -> bool {
        findings.iter().any(|f| f.severity >= self.severity())
    }
}

/// `verify --format`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum, Default)]
pub enum VerifyFormat {
    /// Human-readable tables, fitted to the terminal
    #[default]
    Table,
    /// Machine-readable JSON, the source of the other formats (schema in docs/reports.md)
    Json,
    /// A markdown report for a pull request, ticket or wiki (CommonMark, no HTML)
    Markdown,
    /// JUnit XML: one test suite per package, a test case per check and per KB row
    Junit,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum TableArg {
    X86,
    X64,
    Ia64,
    Arm64,
}

impl From<TableArg> for Arch {
    fn from(t: TableArg) -> Self {
        match t {
            TableArg::X86 => Arch::X86,
            TableArg::X64 => Arch::X64,
            TableArg::Ia64 => Arch::Ia64,
            TableArg::Arm64 => Arch::Arm64,
        }
    }
}

#[derive(clap::Args)]
#[command(
    after_help = "Examples:\n  kbinspect verify update.msu\n  kbinspect verify Windows6.1-KB975354-x64.msu --kb KB975354.txt\n  kbinspect verify pkg.msu --kb article.html --table x64 --strict-time --format json\n  kbinspect verify --strict updates/*.msu       (batch: one summary row per package)\n  kbinspect verify updates/*.msu --kb-dir articles/   (each package against its KB's article)\n\nVerdicts: PASS (every declared file proven by its digest, every signature\nverified, nothing wrong), INCOMPLETE (nothing wrong, but something could not\nbe proven: each is listed with its reason), FAIL (an error finding).\n\nExit codes: 0 pass or incomplete, 1 fail (and incomplete with --strict), 2 could not run."
)]
pub struct Args {
    /// Package: .msu, .cab or a folder holding an expanded package (`-`:
    /// standard input). Several packages are verified in parallel, with one
    /// summary row each
    #[arg(required = true, num_args = 1..)]
    pub input: Vec<std::path::PathBuf>,
    /// The update's KB article (text, markdown, HTML or CSV): every documented
    /// file must be in the package with the documented version, size and
    /// architecture
    #[arg(long, value_name = "ARTICLE")]
    pub kb: Option<std::path::PathBuf>,
    /// A folder of KB articles: each package is checked against the article
    /// of its KB number (from its .mum; the article's from its file name or
    /// text). A package whose article is not there is not verified (exit 2)
    #[arg(long, value_name = "DIR", conflicts_with = "kb")]
    pub kb_dir: Option<std::path::PathBuf>,
    /// Use the article's tables for this architecture (default: the package's)
    #[arg(long, value_enum)]
    pub table: Option<TableArg>,
    /// A documented date/time that differs from the CAB timestamp is an
    /// error (default: a warning)
    #[arg(long)]
    pub strict_time: bool,
    /// Base manifest for Windows 10/11 DCM-compressed manifests: the
    /// extracted base or a wcp.dll (without it they are only reported)
    #[arg(long, value_name = "FILE")]
    pub dcm_base: Option<std::path::PathBuf>,
    /// Exit 1 on `incomplete` too: demand that every file and signature is
    /// proven (for CI gates). Without it, `incomplete` exits 0
    #[arg(long)]
    pub strict: bool,
    /// Also exit 1 when a finding of this severity or worse is present (a CI
    /// gate can make, e.g., `kb-undocumented` fatal with `warning`)
    #[arg(long, value_enum, value_name = "SEVERITY")]
    pub fail_on: Option<FailOn>,
    /// Table output: print only the verdict line
    #[arg(long, short)]
    pub quiet: bool,
    /// Trust this root certificate too (PEM or DER; repeatable), besides
    /// the embedded Microsoft roots: for private builds and tests
    #[arg(long, value_name = "FILE")]
    pub trust_root: Vec<std::path::PathBuf>,
    /// Output format
    #[arg(long, value_enum, default_value_t = VerifyFormat::Table)]
    pub format: VerifyFormat,
    #[command(flatten)]
    pub out: super::output::OutputArgs,
    #[command(flatten)]
    pub model: super::list::ModelArgs,
}

/// The `verify --format json` document of one package (docs/reports.md).
#[derive(Serialize)]
struct Document<'a> {
    #[serde(flatten)]
    report: &'a report::VerifyReport<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    kb: Option<&'a kbcheck::KbSummary>,
    /// Signatures, catalogs and what they cover (absent when the package
    /// has neither).
    #[serde(skip_serializing_if = "Option::is_none")]
    trust: Option<&'a kbinspect::trust::package::TrustReport>,
}

/// The KB article(s) to check packages against: none, one (`--kb`) or a
/// folder of them by KB number (`--kb-dir`).
enum Articles {
    None,
    One {
        article: kb::Article,
        kb: Option<String>,
    },
    Dir {
        dir: std::path::PathBuf,
        /// KB number (digits) → the articles naming it, by file name.
        by_kb: std::collections::BTreeMap<String, Vec<std::path::PathBuf>>,
    },
}

/// An article and its KB number.
type Article<'a> = (std::borrow::Cow<'a, kb::Article>, Option<String>);

/// Read and parse one article; its KB number from its name, else its text.
fn read_article(path: &std::path::Path) -> anyhow::Result<(kb::Article, Option<String>)> {
    let bytes = std::fs::read(path)
        .with_context(|| format!("cannot read the article {}", path.display()))?;
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned());
    let number = kbcheck::article_kb(name.as_deref().unwrap_or(""), &bytes);
    let article = kb::parse_bytes(&bytes).with_context(|| format!("{}", path.display()))?;
    Ok((article, number))
}

impl Articles {
    fn new(args: &Args) -> anyhow::Result<Articles> {
        if let Some(path) = &args.kb {
            let (article, kb) = read_article(path)?;
            return Ok(Articles::One { article, kb });
        }
        let Some(dir) = &args.kb_dir else {
            if args.table.is_some() || args.strict_time {
                anyhow::bail!("--table and --strict-time need --kb or --kb-dir");
            }
            return Ok(Articles::None);
        };
        let mut by_kb: std::collections::BTreeMap<String, Vec<std::path::PathBuf>> =
            Default::default();
        let entries = std::fs::read_dir(dir)
            .with_context(|| format!("--kb-dir: cannot read {}", dir.display()))?;
        let mut paths: Vec<std::path::PathBuf> = entries
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.is_file())
            .collect();
        paths.sort();
        for path in paths {
            let name = path.file_name().map(|n| n.to_string_lossy().into_owned());
            // The name first: reading every file is needed only for
            // articles saved under other names.
            let number = match kbcheck::article_kb(name.as_deref().unwrap_or(""), b"") {
                Some(n) => Some(n),
                None => {
                    let len = std::fs::metadata(&path).map_or(0, |m| m.len());
                    if len > kb::DEFAULT_MAX_BYTES as u64 {
                        continue;
                    }
                    std::fs::read(&path)
                        .ok()
                        .and_then(|b| kbcheck::article_kb("", &b))
                }
            };
            if let Some(n) = number {
                by_kb.entry(n).or_default().push(path);
            }
        }
        Ok(Articles::Dir {
            dir: dir.clone(),
            by_kb,
        })
    }

    /// The article to check `pkg` against, if any.
    fn for_package(&self, pkg: &Package) -> anyhow::Result<Option<Article<'_>>> {
        match self {
            Articles::None => Ok(None),
            Articles::One { article, kb } => {
                Ok(Some((std::borrow::Cow::Borrowed(article), kb.clone())))
            }
            Articles::Dir { dir, by_kb } => {
                let Some(number) = kbcheck::package_kb(pkg) else {
                    anyhow::bail!(
                        "--kb-dir: {} names no KB number (no .mum identifier), so no article can be chosen",
                        pkg.input
                    );
                };
                match by_kb.get(&number).map(Vec::as_slice) {
                    Some([one]) => {
                        let (article, kb) = read_article(one)?;
                        Ok(Some((std::borrow::Cow::Owned(article), kb)))
                    }
                    Some(several) => anyhow::bail!(
                        "--kb-dir: several articles for KB{number} in {}: {}; use --kb",
                        dir.display(),
                        several
                            .iter()
                            .map(|p| p.display().to_string())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                    None => anyhow::bail!(
                        "--kb-dir: no article for KB{number} (the KB of {}) in {}",
                        pkg.input,
                        dir.display()
                    ),
                }
            }
        }
    }
}

pub fn run(args: &Args) -> anyhow::Result<i32> {
    let started = std::time::Instant::now();
    let articles = Articles::new(args)?;
    // Opened first: an --output that cannot be written fails before the work.
    let mut report_out = args.out.open()?;
    let opts = LoadOptions {
        dcm_base: args.dcm_base.as_deref().map(read_dcm_base).transpose()?,
        // Only `diff` reads registry keys.
        keep_registry: false,
        ..args.model.load_options()
    };
    let mut trust_opts = kbinspect::trust::package::TrustOptions::default();
    for root in &args.trust_root {
        trust_opts
            .store
            .add_file(root)
            .map_err(|e| anyhow::anyhow!("--trust-root: {e}"))?;
    }
    // The load verifies the signatures beside the delta rebuilds.
    let opts = LoadOptions {
        trust: Some(std::sync::Arc::new(trust_opts.clone())),
        ..opts
    };
    if args.input.len() > 1 {
        return run_batch(args, &articles, &opts, &trust_opts, report_out);
    }
    let Some(first) = args.input.first() else {
        anyhow::bail!("no package given");
    };
    let (input, _stdin) = super::input_path(first)?;
    let mut bars = super::progress::Bars::new();
    let opts = LoadOptions {
        progress: bars.handle(""),
        ..opts
    };
    let pkg = match Package::load_with(&input, &args.model.limits(), &opts)
        .map_err(anyhow::Error::from)
        .and_then(|pkg| super::require_update_package(&pkg).map(|()| pkg))
    {
        Ok(pkg) => pkg,
        Err(e) => {
            bars.finish();
            return unreadable(args, report_out, &input, e);
        }
    };
    let article = match articles.for_package(&pkg) {
        Ok(a) => a,
        Err(e) => {
            bars.finish();
            return unreadable(args, report_out, &input, e);
        }
    };
    let (v, kb_summary) = judge(args, &pkg, article.as_ref(), &opts, &trust_opts);
    bars.finish();
    let (findings, trust, assessment) = (&v.findings, &v.trust, &v.assessment);
    let r = report::verify_report(&pkg.input, findings, v.stats.clone(), assessment);
    let view = VerifyView {
        report: &r,
        kb: kb_summary.as_ref(),
        trust: (trust.summary.signatures > 0 || trust.summary.catalogs > 0).then_some(trust),
    };
    match args.format {
        VerifyFormat::Json => super::output::write_json(&mut report_out, &document(&view))?,
        VerifyFormat::Markdown => render::markdown::write_verify(&mut report_out, 1, &view)?,
        VerifyFormat::Junit => {
            let suite =
                render::junit::verify_suite(&view, &gate(args), started.elapsed().as_secs_f64());
            render::junit::write(&mut report_out, "kbinspect verify", &[suite])?;
        }
        VerifyFormat::Table => {
            use std::io::Write;
            let width = report_out.width();
            let mut out = report_out.text();
            if args.quiet {
                writeln!(out, "{}", render::verify::summary_line(&r))?;
            } else {
                render::verify::write_report(&mut out, width, &view)?;
            }
            out.flush()?;
        }
    }
    report_out.finish()?;
    let mut code = assessment.verdict.exit_code(args.strict);
    if args.fail_on.is_some_and(|f| f.triggered(findings)) {
        code = code.max(1);
    }
    Ok(code)
}

/// A package that could not be read or judged: the error goes to stderr
/// and exit 2 (the caller's error), and a JSON or JUnit report says it too,
/// as a batch's row for it does, so that a CI gate reading the report finds
/// it there rather than an empty or missing file.
fn unreadable(
    args: &Args,
    mut report_out: super::output::Output,
    input: &std::path::Path,
    e: anyhow::Error,
) -> anyhow::Result<i32> {
    let name = input.display().to_string();
    let message = super::error_message(&e);
    match args.format {
        VerifyFormat::Json => super::output::write_json(
            &mut report_out,
            &serde_json::json!({"input": name, "verdict": null, "error": message}),
        )?,
        VerifyFormat::Junit => render::junit::write(
            &mut report_out,
            "kbinspect verify",
            &[render::junit::unreadable_suite(&name, &message)],
        )?,
        VerifyFormat::Table | VerifyFormat::Markdown => return Err(e),
    }
    report_out.finish()?;
    Err(e)
}

/// Every check of `verify`, the KB article's included, and the verdict.
fn judge(
    args: &Args,
    pkg: &Package,
    article: Option<&Article<'_>>,
    opts: &LoadOptions,
    trust_opts: &kbinspect::trust::package::TrustOptions,
) -> (kbinspect::check::Verified, Option<kbcheck::KbSummary>) {
    let mut extra = Vec::new();
    let mut kb_summary = None;
    if let Some((article, article_kb)) = article {
        let kopts = kbcheck::KbOptions {
            table_arch: args.table.map(Arch::from),
            strict_time: args.strict_time,
            article_kb: article_kb.clone(),
        };
        let (f, s) = kbcheck::check(pkg, article, &kopts);
        extra = f;
        kb_summary = Some(s);
    }
    (
        kbinspect::check::verify(pkg, opts, trust_opts, extra),
        kb_summary,
    )
}

/// The JSON document of one package.
fn document<'a>(v: &'a VerifyView<'a>) -> Document<'a> {
    Document {
        report: v.report,
        kb: v.kb,
        trust: v.trust,
    }
}

/// What fails a JUnit case: the exit code's policy.
fn gate(args: &Args) -> render::junit::Gate {
    render::junit::Gate {
        strict: args.strict,
        fail_at: args
            .fail_on
            .map_or(kbinspect::finding::Severity::Error, FailOn::severity),
    }
}

/// One package of a batch: its verdict, JSON document and renderings, or
/// why it could not be verified.
struct BatchRow {
    input: String,
    outcome: Result<Judged, String>,
    /// The JUnit suite (`--format junit`).
    suite: Option<render::junit::Suite>,
}

struct Judged {
    verdict: verdict::Verdict,
    doc: serde_json::Value,
    kb: Option<String>,
    arch: Option<String>,
    /// The package's markdown section (`--format markdown`).
    markdown: Option<String>,
    /// `--fail-on` met.
    gated: bool,
}

/// `verify A B C…`: every package verified (in parallel across cores), then
/// one summary row each and a last line with the totals. The exit code is the
/// worst: 2 if a package could not be verified, 1 if one failed (or was
/// incomplete with `--strict`, or met `--fail-on`).
fn run_batch(
    args: &Args,
    articles: &Articles,
    opts: &LoadOptions,
    trust_opts: &kbinspect::trust::package::TrustOptions,
    mut report_out: super::output::Output,
) -> anyhow::Result<i32> {
    let limits = args.model.limits();
    // One bar for the batch: packages verified of all.
    let mut bars = super::progress::Bars::new();
    let counter = bars.counter("verified", args.input.len() as u64);
    // Packages in parallel on the budget's pool; each walk and rebuild
    // shares the same budget.
    let rows: Vec<BatchRow> = opts.context.map(&args.input, |input| {
        let started = std::time::Instant::now();
        let mut suite = None;
        let outcome = (|| -> anyhow::Result<Judged> {
            if input.as_os_str() == "-" {
                anyhow::bail!("standard input is not read in a batch");
            }
            let pkg = Package::load_with(input, &limits, opts)?;
            super::require_update_package(&pkg)?;
            let article = articles.for_package(&pkg)?;
            let (v, kb_summary) = judge(args, &pkg, article.as_ref(), opts, trust_opts);
            let r = report::verify_report(&pkg.input, &v.findings, v.stats.clone(), &v.assessment);
            let view = VerifyView {
                report: &r,
                kb: kb_summary.as_ref(),
                trust: (v.trust.summary.signatures > 0 || v.trust.summary.catalogs > 0)
                    .then_some(&v.trust),
            };
            let markdown = match args.format {
                VerifyFormat::Markdown => {
                    let mut text = Vec::new();
                    render::markdown::write_verify(&mut text, 2, &view)?;
                    Some(String::from_utf8_lossy(&text).into_owned())
                }
                _ => None,
            };
            if args.format == VerifyFormat::Junit {
                suite = Some(render::junit::verify_suite(
                    &view,
                    &gate(args),
                    started.elapsed().as_secs_f64(),
                ));
            }
            Ok(Judged {
                verdict: v.assessment.verdict,
                doc: serde_json::to_value(document(&view))?,
                kb: kbcheck::package_kb(&pkg).map(|k| format!("KB{k}")),
                arch: kbcheck::package_arch(&pkg).map(|a| format!("{a:?}").to_lowercase()),
                markdown,
                gated: args.fail_on.is_some_and(|f| f.triggered(&v.findings)),
            })
        })();
        let outcome = outcome.map_err(|e| super::error_message(&e));
        let input = input.display().to_string();
        if let (Err(e), VerifyFormat::Junit) = (&outcome, args.format) {
            suite = Some(render::junit::unreadable_suite(&input, e));
        }
        if let Some(c) = &counter {
            c.inc(1);
        }
        BatchRow {
            input,
            outcome,
            suite,
        }
    });
    bars.finish();
    let mut code = 0;
    for r in &rows {
        code = code.max(match &r.outcome {
            Ok(j) => j.verdict.exit_code(args.strict).max(i32::from(j.gated)),
            Err(_) => 2,
        });
    }
    let count = |want: Option<verdict::Verdict>| {
        rows.iter()
            .filter(|r| match (&r.outcome, want) {
                (Ok(j), Some(w)) => j.verdict == w,
                (Err(_), None) => true,
                _ => false,
            })
            .count()
    };
    let totals = format!(
        "{} packages: {} pass, {} incomplete, {} fail, {} unreadable",
        rows.len(),
        count(Some(verdict::Verdict::Pass)),
        count(Some(verdict::Verdict::Incomplete)),
        count(Some(verdict::Verdict::Fail)),
        count(None)
    );
    let header = [
        "package",
        "KB",
        "arch",
        "verdict",
        "files proven",
        "signatures verified",
        "errors",
        "warnings",
    ];
    let n = |v: &serde_json::Value| v.as_u64().map_or("-".to_string(), |n| n.to_string());
    let summary_row = |r: &BatchRow| match &r.outcome {
        Ok(j) => {
            let d = &j.doc;
            vec![
                r.input.clone(),
                j.kb.clone().unwrap_or_default(),
                j.arch.clone().unwrap_or_default(),
                j.verdict.as_str().to_uppercase(),
                format!(
                    "{} of {}",
                    n(&d["coverage"]["files_proven"]),
                    n(&d["coverage"]["files_declared"])
                ),
                format!(
                    "{} of {}",
                    n(&d["coverage"]["signatures_verified"]),
                    n(&d["coverage"]["signatures"])
                ),
                n(&d["summary"]["errors"]),
                n(&d["summary"]["warnings"]),
            ]
        }
        Err(e) => vec![
            r.input.clone(),
            String::new(),
            String::new(),
            "UNREADABLE".into(),
            e.clone(),
            String::new(),
            String::new(),
            String::new(),
        ],
    };
    match args.format {
        VerifyFormat::Json => {
            let packages: Vec<serde_json::Value> = rows
                .iter()
                .map(|r| match &r.outcome {
                    Ok(j) => j.doc.clone(),
                    Err(e) => serde_json::json!({"input": r.input, "verdict": null, "error": e}),
                })
                .collect();
            super::output::write_json(
                &mut report_out,
                &serde_json::json!({"packages": packages, "summary": totals}),
            )?;
        }
        VerifyFormat::Markdown => {
            let table: Vec<Vec<String>> = rows.iter().map(summary_row).collect();
            let sections: Vec<String> = rows
                .iter()
                .filter_map(|r| match &r.outcome {
                    Ok(j) => j.markdown.clone(),
                    Err(_) => None,
                })
                .collect();
            render::markdown::write_batch(&mut report_out, &totals, &header, &table, &sections)?;
        }
        VerifyFormat::Junit => {
            let suites: Vec<render::junit::Suite> =
                rows.iter().filter_map(|r| r.suite.clone()).collect();
            render::junit::write(&mut report_out, "kbinspect verify", &suites)?;
        }
        VerifyFormat::Table => {
            use render::Col::{Keep, Path, Text};
            use std::io::Write;
            let width = report_out.width();
            let mut out = report_out.text();
            if !args.quiet {
                // The totals first, for a glance, and last, for `| tail -1`.
                writeln!(out, "{totals}\n")?;
                render::write_table_fit(
                    &mut out,
                    width,
                    &header,
                    &[Path, Keep, Keep, Keep, Text, Keep, Keep, Keep],
                    || rows.iter().map(summary_row),
                )?;
                writeln!(out)?;
            }
            writeln!(out, "{totals}")?;
            out.flush()?;
        }
    }
    report_out.finish()?;
    Ok(code)
}
