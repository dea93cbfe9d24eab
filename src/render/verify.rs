//! `verify` as text: the KB rows, the chain of trust, the findings and the
//! verdict line, fitted to a width. Markdown and JUnit renderings of the
//! same report are in [`super::markdown`] and [`super::junit`].

use std::io::{self, Write};

use kbinspect::check::kb::{KbRow, KbSummary};
use kbinspect::finding::Finding;
use kbinspect::report::VerifyReport;
use kbinspect::trust::package::TrustReport;

use super::{Col, write_table, write_table_fit};

/// One package's `verify` report: the parts of its JSON document
/// (`docs/reports.md`), which every rendering is made from.
pub struct VerifyView<'a> {
    pub report: &'a VerifyReport<'a>,
    /// With `--kb`/`--kb-dir`: the article's rows and what they matched.
    pub kb: Option<&'a KbSummary>,
    /// Signatures and catalogs (absent when the package has neither).
    pub trust: Option<&'a TrustReport>,
}

/// The verdict line: `PASS: 74 of 74 files proven (…)`.
pub fn summary_line(r: &VerifyReport<'_>) -> String {
    let s = &r.summary;
    let c = r.coverage;
    let signatures = match c.signatures_verified {
        Some(v) => format!("{v} of {} signatures verified", c.signatures),
        None => format!("{} signatures present, not verified", c.signatures),
    };
    format!(
        "{}: {} of {} files proven ({} stored, {} rebuilt; {} index-only, {} unproven), {signatures}, {} catalogs; {} errors, {} warnings, {} info; {} components, {} index sources verified",
        r.verdict.to_uppercase(),
        c.files_proven,
        c.files_declared,
        c.stored_digest,
        c.rebuilt_digest,
        c.index_only,
        c.unproven,
        c.catalogs,
        s.errors,
        s.warnings,
        s.infos,
        s.stats.components + s.stats.deployments,
        s.stats.index_sources_verified,
    )
}

/// The KB line: `KB article: 17 of 17 documented rows match (…)`.
pub fn kb_line(s: &KbSummary) -> String {
    format!(
        "KB article: {} of {} documented rows match ({} tables for {})",
        s.rows_matched,
        s.rows_checked,
        s.tables.len(),
        s.arch
            .map_or("?".to_string(), |a| format!("{a:?}").to_lowercase())
    )
}

/// The whole report as text: the verdict line (first, for a glance), KB
/// rows, trust, findings, and the verdict line again (last, for `| tail
/// -1`).
pub fn write_report<W: Write + ?Sized>(
    out: &mut W,
    width: Option<usize>,
    v: &VerifyView<'_>,
) -> io::Result<()> {
    writeln!(out, "{}\n", summary_line(v.report))?;
    if let Some(s) = v.kb {
        writeln!(out, "{}", kb_line(s))?;
        write_kb_rows(out, width, s)?;
    }
    if let Some(t) = v.trust {
        // One line per signature when they fit; else each fact on its own.
        let mut lines = Vec::new();
        kbinspect::trust::write_table(&mut lines, t)?;
        let text = String::from_utf8_lossy(&lines);
        match width {
            Some(w)
                if text
                    .lines()
                    .any(|l| super::fit::width(&crate::cli::term::escape(l)) > w) =>
            {
                write_trust_fitted(out, w, t)?
            }
            _ => out.write_all(&lines)?,
        }
    }
    write_findings(out, width, v.report)?;
    out.write_all(b"\n")?;
    writeln!(out, "{}", summary_line(v.report))
}

/// The chain of trust for a narrow screen: the summary, then per
/// signature its result and file on one line and each fact on its own
/// (the full-width form is one line per signature).
fn write_trust_fitted<W: Write + ?Sized>(
    out: &mut W,
    width: usize,
    t: &TrustReport,
) -> io::Result<()> {
    let s = &t.summary;
    let roots = if s.roots.is_empty() {
        "none".to_string()
    } else {
        s.roots.join(", ")
    };
    let mut lines = vec![format!(
        "Trust: {}/{} signatures verified; roots: {roots}; {}/{} servicing documents in a verified catalog; {}/{} payload files found in a catalog ({} by flat hash, {} by PE hash); revocation not checked (offline)",
        s.signatures_verified,
        s.signatures,
        s.documents_covered,
        s.documents,
        s.files_found,
        s.files,
        s.files_by_flat_hash,
        s.files_by_pe_hash
    )];
    for sig in &t.signatures {
        let file = super::fit::shorten_middle(&sig.file, width.saturating_sub(12).max(8));
        lines.push(format!("  {:<9} {file}", sig.result));
        if let Some(signer) = &sig.signer {
            lines.push(format!("      signer: {signer}"));
        }
        if let Some(chain) = &sig.chain {
            lines.push(format!("      chain: {}", chain.certs.join(" > ")));
        }
        let digest = sig
            .computed_digest
            .as_deref()
            .or(sig.message_digest.as_deref())
            .map(|d| &d[..d.len().min(16)])
            .unwrap_or("-");
        lines.push(format!(
            "      digest: {} {digest}",
            sig.digest_alg.as_deref().unwrap_or("-")
        ));
        let ts = sig
            .timestamp
            .as_ref()
            .and_then(|t| t.time.clone())
            .unwrap_or_else(|| "no timestamp".into());
        lines.push(format!("      timestamp: {ts}"));
        lines.push(format!(
            "      checked at: {} ({})",
            sig.checked_at.as_deref().unwrap_or("-"),
            sig.time_source
        ));
    }
    for line in lines {
        for l in super::fit::wrap_hanging(&crate::cli::term::escape(&line), width) {
            writeln!(out, "{l}")?;
        }
    }
    Ok(())
}

/// Findings worst first; written row by row, not built in memory (a
/// package can have tens of thousands of findings). No newline after.
pub fn write_findings<W: Write + ?Sized>(
    out: &mut W,
    width: Option<usize>,
    r: &VerifyReport<'_>,
) -> io::Result<()> {
    if r.findings.is_empty() {
        return out.write_all(b"no findings");
    }
    // Worst first; the sort is stable, so the check order stays within a
    // severity.
    let sorted = worst_first(r.findings);
    write_table_fit(
        out,
        width,
        &["severity", "code", "subject", "detail"],
        &[Col::Keep, Col::Keep, Col::Path, Col::Text],
        || {
            sorted.iter().map(|f| {
                vec![
                    f.severity.to_string(),
                    f.code.to_string(),
                    f.subject.clone(),
                    f.detail.clone(),
                ]
            })
        },
    )
}

/// Findings sorted worst first, stable within a severity.
pub fn worst_first(findings: &[Finding]) -> Vec<&Finding> {
    let mut sorted: Vec<&Finding> = findings.iter().collect();
    sorted.sort_by_key(|f| std::cmp::Reverse(f.severity));
    sorted
}

/// The documented rows, table by table: documented against found, the
/// checklist a release engineer signs. Thirteen columns when they fit;
/// narrower, four (line, documented, found, status), each side's values
/// stacked in its cell.
pub fn write_kb_rows<W: Write + ?Sized>(
    out: &mut W,
    width: Option<usize>,
    s: &KbSummary,
) -> io::Result<()> {
    let mut at = 0;
    while at < s.rows.len() {
        let table = &s.rows[at].table;
        let end = s.rows[at..]
            .iter()
            .position(|r| &r.table != table)
            .map_or(s.rows.len(), |n| at + n);
        let rows = &s.rows[at..end];
        writeln!(out, "{table}")?;
        let mut wide = Vec::new();
        write_table(&mut wide, &WIDE_HEADER, || rows.iter().map(wide_row))?;
        let fits = match width {
            None => true,
            Some(w) => {
                let text = String::from_utf8_lossy(&wide);
                text.lines().all(|l| super::fit::width(l) <= w)
            }
        };
        if fits {
            out.write_all(&wide)?;
        } else {
            write_table_fit(
                out,
                width,
                &["line", "documented", "found", "status"],
                &[Col::Keep, Col::Lead, Col::Lead, Col::Text],
                || rows.iter().map(stacked_row),
            )?;
        }
        writeln!(out)?;
        at = end;
    }
    Ok(())
}

const WIDE_HEADER: [&str; 13] = [
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
];

fn opt(v: &Option<String>) -> String {
    v.clone().unwrap_or_default()
}

/// The found file's version and where it came from: `6.1.7600.20541 (pe)`.
fn found_version(r: &KbRow) -> Option<String> {
    let f = r.found.as_ref()?;
    let v = f.version.as_deref()?;
    Some(match f.version_source {
        Some(src) => format!("{v} ({src})"),
        None => v.to_string(),
    })
}

/// `ok`, or `mismatch: kb-version-mismatch, …`.
pub fn row_status(r: &KbRow) -> String {
    if r.findings.is_empty() {
        r.status.to_string()
    } else {
        format!(
            "{}: {}",
            r.status,
            r.findings
                .iter()
                .map(|c| c.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )
    }
}

/// A KB row's cells under the wide header (also the markdown report's).
pub(crate) fn wide_row(r: &KbRow) -> Vec<String> {
    let f = r.found.as_ref();
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
        found_version(r).unwrap_or_default(),
        f.and_then(|f| f.size)
            .map(|n| n.to_string())
            .unwrap_or_default(),
        f.and_then(|f| f.timestamp.clone()).unwrap_or_default(),
        row_status(r),
    ]
}

/// Non-empty parts joined by a space.
fn joined(parts: &[Option<String>]) -> String {
    parts
        .iter()
        .flatten()
        .cloned()
        .collect::<Vec<_>>()
        .join(" ")
}

fn stacked_row(r: &KbRow) -> Vec<String> {
    let documented = [
        r.name.clone(),
        joined(&[r.arch.map(str::to_string), r.version.clone()]),
        joined(&[
            r.size.map(|n| format!("{n} bytes")),
            r.date.clone(),
            r.time.clone(),
        ]),
    ];
    let found = match r.found.as_ref() {
        None => vec!["-".to_string()],
        Some(f) => vec![
            f.path.clone(),
            joined(&[f.arch.clone(), found_version(r)]),
            joined(&[f.size.map(|n| format!("{n} bytes")), f.timestamp.clone()]),
        ],
    };
    let lines = |v: &[String]| {
        v.iter()
            .filter(|l| !l.is_empty())
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    };
    vec![
        r.line.to_string(),
        lines(&documented),
        lines(&found),
        row_status(r),
    ]
}
