//! `kbinspect verify`: check a package against itself and, with `--kb`,
//! against the file tables of its Knowledge Base article.

use anyhow::Context;
use kbinspect::check::{anomaly, integrity, kb as kbcheck, signature, verdict};
use kbinspect::kb::{self, Arch};
use kbinspect::model::{LoadOptions, Package, read_dcm_base};
use kbinspect::report;
use serde::Serialize;

use super::Format;
use super::list::XmlLimitArgs;
use super::ls::LimitArgs;

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
    after_help = "Examples:\n  kbinspect verify update.msu\n  kbinspect verify Windows6.1-KB975354-x64.msu --kb KB975354.txt\n  kbinspect verify pkg.msu --kb article.html --table x64 --strict-time --format json\n\nVerdicts: PASS (every declared file proven by its digest, every signature\nverified, nothing wrong), INCOMPLETE (nothing wrong, but something could not\nbe proven: each is listed with its reason), FAIL (an error finding).\n\nExit codes: 0 pass or incomplete, 1 fail (and incomplete with --strict), 2 could not run."
)]
pub struct Args {
    /// Package: .msu, .cab or a folder holding an expanded package (`-`: standard input)
    pub input: std::path::PathBuf,
    /// The update's KB article (text, markdown, HTML or CSV): every documented
    /// file must be in the package with the documented version, size and
    /// architecture
    #[arg(long, value_name = "ARTICLE")]
    pub kb: Option<std::path::PathBuf>,
    /// Use the article's tables for this architecture (default: the package's)
    #[arg(long, value_enum, requires = "kb")]
    pub table: Option<TableArg>,
    /// A documented date/time that differs from the CAB timestamp is an
    /// error (default: a warning)
    #[arg(long, requires = "kb")]
    pub strict_time: bool,
    /// Base manifest for Windows 10/11 DCM-compressed manifests: the
    /// extracted base or a wcp.dll (without it they are only reported)
    #[arg(long, value_name = "FILE")]
    pub dcm_base: Option<std::path::PathBuf>,
    /// Exit 1 on `incomplete` too: demand that every file and signature is
    /// proven (for CI gates). Without it, `incomplete` exits 0
    #[arg(long)]
    pub strict: bool,
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

pub fn run(args: &Args) -> anyhow::Result<i32> {
    let mut article_kb = None;
    let article = match &args.kb {
        Some(path) => {
            let bytes = std::fs::read(path)
                .with_context(|| format!("cannot read the article {}", path.display()))?;
            let name = path.file_name().map(|n| n.to_string_lossy().into_owned());
            article_kb = kbcheck::article_kb(name.as_deref().unwrap_or(""), &bytes);
            Some(kb::parse_bytes(&bytes).with_context(|| format!("{}", path.display()))?)
        }
        None => None,
    };
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
    let (input, _stdin) = super::input_path(&args.input)?;
    let pkg = Package::load_with(&input, &args.limits.limits(), &opts)?;
    let (mut findings, stats) = integrity::check_with_stats(&pkg);
    let (trust_findings, trust) = signature::check_trust(&pkg, &opts, &trust_opts);
    findings.extend(trust_findings);
    findings.extend(anomaly::check(&pkg));
    let mut kb_summary = None;
    if let Some(article) = &article {
        let opts = kbcheck::KbOptions {
            table_arch: args.table.map(Arch::from),
            strict_time: args.strict_time,
            article_kb: article_kb.clone(),
        };
        let (f, s) = kbcheck::check(&pkg, article, &opts);
        findings.extend(f);
        kb_summary = Some(s);
    }
    let count = verdict::TrustCount {
        present: trust.signatures.len(),
        verified: trust
            .signatures
            .iter()
            .filter(|s| s.result == "verified")
            .count(),
    };
    let assessment = verdict::assess(&pkg, &findings, Some(count));
    let r = report::verify_report(&pkg.input, &findings, stats, &assessment);
    match args.format {
        Format::Json => super::print_json(&Document {
            report: r,
            kb: kb_summary,
            trust: (trust.summary.signatures > 0 || trust.summary.catalogs > 0).then_some(&trust),
        })?,
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
            kbinspect::trust::write_table(&mut out, &trust)?;
            report::write_verify_table(&mut out, &r)?;
        }
    }
    Ok(assessment.verdict.exit_code(args.strict))
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
        report::write_table(
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
