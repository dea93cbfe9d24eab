//! Tables for the terminal: comfy-table for small ones, the streaming
//! [`write_table`] for tables that can have tens of thousands of rows. The
//! library hands out data ([`kbinspect::report`]); drawing it is ours.

use comfy_table::{ContentArrangement, Table, presets};

use kbinspect::model::{Location, Package};

pub mod fit;
pub mod junit;
pub mod markdown;
mod table;
pub mod verify;
pub use table::{Col, write_table, write_table_fit};

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

/// The columns of `list`'s package table (text and markdown).
pub(crate) const PACKAGE_HEADER: [&str; 6] =
    ["package", "version", "arch", "KB", "release", "updates"];

/// A package's row: its identity, KB, release type and how many updates.
pub(crate) fn package_cells(p: &kbinspect::model::PackageManifest) -> Vec<String> {
    let m = &p.mum;
    vec![
        m.identity.name.to_string(),
        m.identity.version.to_string(),
        m.identity.processor_architecture.to_string(),
        m.identifier.clone().unwrap_or_default(),
        m.release_type.clone().unwrap_or_default(),
        m.updates.len().to_string(),
    ]
}

/// `list` as text: packages, then components and their files; fitted to `width` (`None`: full width).
pub fn write_list_table<W: std::io::Write + ?Sized>(
    out: &mut W,
    width: Option<usize>,
    pkg: &Package,
) -> std::io::Result<()> {
    use Col::{Keep, Path, Text};
    write_table_fit(
        out,
        width,
        &PACKAGE_HEADER,
        &[Path, Keep, Keep, Keep, Keep, Keep],
        || pkg.packages.iter().map(package_cells),
    )?;
    out.write_all(b"\n")?;
    write_table_fit(
        out,
        width,
        &[
            "component / file",
            "version",
            "arch",
            "digest",
            "size",
            "location",
        ],
        &[Path, Keep, Keep, Keep, Keep, Text],
        || {
            pkg.components.iter().flat_map(|c| {
                let label = if c.deployment {
                    format!("{} (deployment)", c.identity.name)
                } else {
                    c.identity.name.to_string()
                };
                let head = vec![
                    label,
                    c.identity.version.to_string(),
                    c.arch.to_string(),
                    String::new(),
                    String::new(),
                    c.keyform.to_string(),
                ];
                std::iter::once(head).chain(c.files.iter().map(|f| {
                    let digest = match (&f.digest_alg, &f.digest) {
                        (Some(a), Some(d)) => format!("{a}:{}", d.get(..16).unwrap_or(d)),
                        _ => "-".into(),
                    };
                    vec![
                        format!("  {}", f.destination),
                        f.pe.as_ref()
                            .and_then(|p| p.file_version)
                            .map(|v| v.to_string())
                            .unwrap_or_default(),
                        String::new(),
                        digest,
                        f.size.map_or("-".into(), |s| s.to_string()),
                        location_text(&f.location),
                    ]
                }))
            })
        },
    )?;
    out.write_all(b"\n")
}

/// `list`'s summary line: `P packages, C components, F files, D delta
/// blobs (B bytes of targets); E errors, W warnings, I info`.
pub fn list_summary(pkg: &Package) -> String {
    format!(
        "{} packages, {} components, {} files, {} delta blobs ({} bytes of targets); {}",
        pkg.packages.len(),
        pkg.components.len(),
        pkg.components.iter().map(|c| c.files.len()).sum::<usize>(),
        pkg.deltas.len(),
        pkg.deltas
            .iter()
            .filter_map(|d| d.header.as_ref().map(|h| h.target_size))
            .fold(0u64, u64::saturating_add),
        crate::cli::severity_counts(&pkg.findings)
    )
}

/// The columns of `diff`'s change table (text and markdown).
pub(crate) const CHANGE_HEADER: [&str; 4] = ["change", "subject", "old", "new"];

/// A change's row: its kind, what changed, and the old and new values.
pub(crate) fn change_cells(c: &kbinspect::check::diff::Change) -> Vec<String> {
    vec![
        c.kind.to_string(),
        c.subject.clone(),
        c.old.clone().unwrap_or_default(),
        c.new.clone().unwrap_or_default(),
    ]
}

/// `diff`'s summary line: `N changes (K kind, …)`, most frequent kind
/// first, or `no differences`.
pub fn diff_summary(changes: &[kbinspect::check::diff::Change]) -> String {
    if changes.is_empty() {
        return "no differences".into();
    }
    let mut kinds: Vec<(&str, usize)> = Vec::new();
    for c in changes {
        match kinds.iter_mut().find(|(k, _)| *k == c.kind) {
            Some((_, n)) => *n += 1,
            None => kinds.push((&c.kind, 1)),
        }
    }
    kinds.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    let kinds: Vec<String> = kinds.iter().map(|(k, n)| format!("{n} {k}")).collect();
    format!("{} changes ({})", changes.len(), kinds.join(", "))
}
