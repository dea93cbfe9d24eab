//! Tables for the terminal: comfy-table for small ones, the streaming
//! [`write_table`] for tables that can have tens of thousands of rows. The
//! library hands out data ([`kbinspect::report`]); drawing it is ours.

use comfy_table::{ContentArrangement, Table, presets};

use kbinspect::finding::Finding;
use kbinspect::model::{Location, Package};
use kbinspect::report::VerifyReport;

mod table;
pub use table::write_table;

/// A new table in the house style.
pub fn table() -> Table {
    let mut t = Table::new();
    t.load_style(presets::UTF8_FULL_CONDENSED)
        .set_content_arrangement(ContentArrangement::Disabled);
    t
}

/// A short human form of a location.
pub fn location_text(l: &Location) -> String {
    l.describe()
}

/// `list` as text: packages, then components and their files.
pub fn list_table(pkg: &Package) -> String {
    let mut out = String::new();
    let mut t = table();
    t.set_header(["package", "version", "arch", "KB", "release", "updates"]);
    for p in &pkg.packages {
        t.add_row([
            p.mum.identity.name.clone(),
            p.mum.identity.version.clone(),
            p.mum.identity.processor_architecture.clone(),
            p.mum.identifier.clone().unwrap_or_default(),
            p.mum.release_type.clone().unwrap_or_default(),
            p.mum.updates.len().to_string(),
        ]);
    }
    out.push_str(&t.to_string());
    out.push('\n');
    let mut t = table();
    t.set_header([
        "component / file",
        "version",
        "arch",
        "digest",
        "size",
        "location",
    ]);
    for c in &pkg.components {
        let label = if c.deployment {
            format!("{} (deployment)", c.identity.name)
        } else {
            c.identity.name.clone()
        };
        t.add_row([
            label,
            c.identity.version.clone(),
            c.arch.clone(),
            String::new(),
            String::new(),
            c.keyform.clone(),
        ]);
        for f in &c.files {
            let digest = match (&f.digest_alg, &f.digest) {
                (Some(a), Some(d)) => format!("{a}:{}", d.get(..16).unwrap_or(d)),
                _ => "-".into(),
            };
            t.add_row([
                format!("  {}", f.destination),
                f.pe.as_ref()
                    .and_then(|p| p.file_version.clone())
                    .unwrap_or_default(),
                String::new(),
                digest,
                f.size.map_or("-".into(), |s| s.to_string()),
                location_text(&f.location),
            ]);
        }
    }
    out.push_str(&t.to_string());
    out.push('\n');
    out.push_str(&format!(
        "{} packages, {} components, {} files, {} delta blobs ({} bytes of targets)\n",
        pkg.packages.len(),
        pkg.components.len(),
        pkg.components.iter().map(|c| c.files.len()).sum::<usize>(),
        pkg.deltas.len(),
        pkg.deltas
            .iter()
            .filter_map(|d| d.header.as_ref().map(|h| h.target_size))
            .fold(0u64, u64::saturating_add)
    ));
    out
}

/// Findings as a table, worst first, then the verdict line; written row by row: the table is not built in memory
/// (a package can have tens of thousands of findings).
pub fn write_verify_table<W: std::io::Write + ?Sized>(
    out: &mut W,
    r: &VerifyReport<'_>,
) -> std::io::Result<()> {
    if r.findings.is_empty() {
        out.write_all(b"no findings")?;
    } else {
        // Worst first; the sort is stable, so the check order stays within
        // a severity.
        let mut sorted: Vec<&Finding> = r.findings.iter().collect();
        sorted.sort_by_key(|f| std::cmp::Reverse(f.severity));
        write_table(out, &["severity", "code", "subject", "detail"], || {
            sorted.iter().map(|f| {
                vec![
                    f.severity.to_string(),
                    f.code.to_string(),
                    f.subject.clone(),
                    f.detail.clone(),
                ]
            })
        })?;
    }
    out.write_all(b"\n")?;
    write_verify_summary(out, r)
}

/// The verdict line alone (`verify --quiet`).
pub fn write_verify_summary<W: std::io::Write + ?Sized>(
    out: &mut W,
    r: &VerifyReport<'_>,
) -> std::io::Result<()> {
    let s = &r.summary;
    let c = r.coverage;
    let signatures = match c.signatures_verified {
        Some(v) => format!("{v} of {} signatures verified", c.signatures),
        None => format!("{} signatures present, not verified", c.signatures),
    };
    writeln!(
        out,
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
