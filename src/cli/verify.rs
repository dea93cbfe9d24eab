//! `kbinspect verify`: check a package against itself and, with `--kb`,
//! against the file tables of its Knowledge Base article.

use anyhow::Context;
use kbinspect::check::{kb as kbcheck, verdict};
use kbinspect::kb::{self, Arch};
use kbinspect::model::{LoadOptions, Package, read_dcm_base};
use kbinspect::report;
use serde::Serialize;

use super::Format;
use super::list::XmlLimitArgs;
use super::ls::LimitArgs;

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum FailOn {
    Warning,
    Info,
}

impl FailOn {
    fn triggered(self, findings: &[kbinspect::finding::Finding]) -> bool {
        use kbinspect::finding::Severity;
        let worst = match self {
            FailOn::Warning => Severity::Warning,
            FailOn::Info => Severity::Info,
        };
        findings.iter().any(|f| f.severity >= worst)
    }
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
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
    #[command(flatten)]
    pub limits: LimitArgs,
    #[command(flatten)]
    pub xml: XmlLimitArgs,
}

#[derive(Serialize)]
struct Document<'a> {
    #[serde(flatten)]
    report: report::VerifyReport<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    kb: Option<kbcheck::KbSummary>,
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
    let articles = Articles::new(args)?;
    let opts = LoadOptions {
        dcm_base: args.dcm_base.as_deref().map(read_dcm_base).transpose()?,
        // Only `diff` reads registry keys.
        keep_registry: false,
        ..args.xml.load_options()
    };
    let mut trust_opts = kbinspect::trust::package::TrustOptions::default();
    for root in &args.trust_root {
        trust_opts
            .store
            .add_file(root)
            .map_err(|e| anyhow::anyhow!("--trust-root: {e}"))?;
    }
    if args.input.len() > 1 {
        return run_batch(args, &articles, &opts, &trust_opts);
    }
    let Some(first) = args.input.first() else {
        anyhow::bail!("no package given");
    };
    let (input, _stdin) = super::input_path(first)?;
    let pkg = Package::load_with(&input, &args.limits.limits(), &opts)?;
    super::require_update_package(&pkg)?;
    let article = articles.for_package(&pkg)?;
    let (v, kb_summary) = judge(args, &pkg, article.as_ref(), &opts, &trust_opts);
    let (findings, trust, assessment) = (&v.findings, &v.trust, &v.assessment);
    let r = report::verify_report(&pkg.input, findings, v.stats.clone(), assessment);
    match args.format {
        Format::Json => super::print_json(&Document {
            report: r,
            kb: kb_summary,
            trust: (trust.summary.signatures > 0 || trust.summary.catalogs > 0).then_some(trust),
        })?,
        Format::Table if args.quiet => {
            let mut out = super::term::stdout();
            crate::render::write_verify_summary(&mut out, &r)?;
        }
        Format::Table => {
            use std::io::Write;
            let mut out = super::term::stdout();
            if let Some(s) = &kb_summary {
                writeln!(
                    out,
                    "KB article: {} of {} documented rows match ({} tables for {})",
                    s.rows_matched,
                    s.rows_checked,
                    s.tables.len(),
                    s.arch
                        .map_or("?".to_string(), |a| format!("{a:?}").to_lowercase())
                )?;
                write_kb_rows(&mut out, s)?;
            }
            kbinspect::trust::write_table(&mut out, trust)?;
            crate::render::write_verify_table(&mut out, &r)?;
        }
    }
    let mut code = assessment.verdict.exit_code(args.strict);
    if args.fail_on.is_some_and(|f| f.triggered(findings)) {
        code = code.max(1);
    }
    Ok(code)
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

/// The documented rows, table by table: documented against found, the
/// checklist a release engineer signs.
fn write_kb_rows(out: &mut dyn std::io::Write, s: &kbcheck::KbSummary) -> std::io::Result<()> {
    let opt = |v: &Option<String>| v.clone().unwrap_or_default();
    let mut at = 0;
    while at < s.rows.len() {
        let table = &s.rows[at].table;
        let end = s.rows[at..]
            .iter()
            .position(|r| &r.table != table)
            .map_or(s.rows.len(), |n| at + n);
        let rows = &s.rows[at..end];
        writeln!(out, "{table}")?;
        crate::render::write_table(
            out,
            &[
                "line",
                "name",
                "arch",
                "version",
                "size",
                "date",
                "time",
                "found",
                "arch",
                "version",
                "size",
                "timestamp",
                "status",
            ],
            || {
                rows.iter().map(|r| {
                    let f = r.found.as_ref();
                    let version = f.and_then(|f| {
                        let v = f.version.as_deref()?;
                        Some(match f.version_source {
                            Some(src) => format!("{v} ({src})"),
                            None => v.to_string(),
                        })
                    });
                    let status = if r.findings.is_empty() {
                        r.status.to_string()
                    } else {
                        format!("{}: {}", r.status, r.findings.join(", "))
                    };
                    vec![
                        r.line.to_string(),
                        r.name.clone(),
                        r.arch.unwrap_or_default().to_string(),
                        opt(&r.version),
                        r.size.map(|n| n.to_string()).unwrap_or_default(),
                        opt(&r.date),
                        opt(&r.time),
                        f.map(|f| f.path.clone()).unwrap_or_default(),
                        f.and_then(|f| f.arch.clone()).unwrap_or_default(),
                        version.unwrap_or_default(),
                        f.and_then(|f| f.size)
                            .map(|n| n.to_string())
                            .unwrap_or_default(),
                        f.and_then(|f| f.timestamp.clone()).unwrap_or_default(),
                        status,
                    ]
                })
            },
        )?;
        writeln!(out)?;
        at = end;
    }
    Ok(())
}

/// One package of a batch: its verdict and counts, or why it could not be
/// read.
struct BatchRow {
    input: String,
    outcome: Result<(verdict::Verdict, serde_json::Value), String>,
}

/// `verify A B C…`: every package verified (in parallel across cores), then
/// one summary row each and a last line with the totals. The exit code is the
/// worst: 2 if a package could not be read, 1 if one failed (or was
/// incomplete with `--strict`).
fn run_batch(
    args: &Args,
    articles: &Articles,
    opts: &LoadOptions,
    trust_opts: &kbinspect::trust::package::TrustOptions,
) -> anyhow::Result<i32> {
    use rayon::prelude::*;
    let limits = args.limits.limits();
    let rows: Vec<BatchRow> = args
        .input
        .par_iter()
        .map(|input| {
            let outcome = (|| -> anyhow::Result<(verdict::Verdict, serde_json::Value)> {
                if input.as_os_str() == "-" {
                    anyhow::bail!("standard input is not read in a batch");
                }
                let pkg = Package::load_with(input, &limits, opts)?;
                super::require_update_package(&pkg)?;
                let article = articles.for_package(&pkg)?;
                let (v, kb_summary) = judge(args, &pkg, article.as_ref(), opts, trust_opts);
                let r =
                    report::verify_report(&pkg.input, &v.findings, v.stats.clone(), &v.assessment);
                let doc = serde_json::to_value(Document {
                    report: r,
                    kb: kb_summary,
                    trust: (v.trust.summary.signatures > 0 || v.trust.summary.catalogs > 0)
                        .then_some(&v.trust),
                })?;
                Ok((v.assessment.verdict, doc))
            })();
            BatchRow {
                input: input.display().to_string(),
                outcome: outcome.map_err(|e| format!("{e:#}")),
            }
        })
        .collect();
    let mut code = 0;
    for r in &rows {
        code = code.max(match &r.outcome {
            Ok((v, _)) => v.exit_code(args.strict),
            Err(_) => 2,
        });
    }
    let count = |want: Option<verdict::Verdict>| {
        rows.iter()
            .filter(|r| match (&r.outcome, want) {
                (Ok((v, _)), Some(w)) => *v == w,
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
    match args.format {
        Format::Json => {
            let packages: Vec<serde_json::Value> = rows
                .iter()
                .map(|r| match &r.outcome {
                    Ok((_, doc)) => doc.clone(),
                    Err(e) => serde_json::json!({"input": r.input, "verdict": null, "error": e}),
                })
                .collect();
            super::print_json(&serde_json::json!({"packages": packages, "summary": totals}))?;
        }
        Format::Table => {
            use std::io::Write;
            let mut out = super::term::stdout();
            let n = |v: &serde_json::Value| v.as_u64().map_or("-".to_string(), |n| n.to_string());
            crate::render::write_table(
                &mut out,
                &[
                    "package",
                    "verdict",
                    "files proven",
                    "signatures verified",
                    "errors",
                    "warnings",
                ],
                || {
                    rows.iter().map(|r| match &r.outcome {
                        Ok((v, d)) => vec![
                            r.input.clone(),
                            v.as_str().to_uppercase(),
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
                        ],
                        Err(e) => vec![
                            r.input.clone(),
                            "UNREADABLE".into(),
                            e.clone(),
                            String::new(),
                            String::new(),
                            String::new(),
                        ],
                    })
                },
            )?;
            writeln!(out, "\n{totals}")?;
        }
    }
    Ok(code)
}
