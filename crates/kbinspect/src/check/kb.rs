//! Check a package against the file tables of its Knowledge Base article.
//!
//! Every documented row must be found in the package: files by name
//! (case-insensitive), architecture, file version (PE resource, else the
//! component version) and size; additional-files rows (`.mum`/`.manifest`)
//! by member name and size. Dates and times are compared with the CAB
//! timestamps. Payload files that no row documents are reported too.
//!
//! Cost: the package's files are indexed once by lower-case name (and its
//! members by lower-case base name), so with F files, M members and R rows
//! the check takes O(F + M + R·c) time and O(F + M) memory, where c is the
//! number of same-named files of a row's name that differ in component,
//! version, size or architecture (1 to 4 in real packages; copies that no
//! row could tell apart count once). Keys are not copied while scoring.

use std::collections::{HashMap, HashSet};

use serde::Serialize;

use crate::finding::{Code, Finding, Severity};
use crate::kb::{Arch, Article, Kind, Row, RowArch, Table};
use crate::model::{File, Location, Member, Package};

/// How to compare.
#[derive(Debug, Clone, Default)]
pub struct KbOptions {
    /// Compare against the tables of this architecture instead of the
    /// package's own.
    pub table_arch: Option<Arch>,
    /// A date/time mismatch is an error instead of a warning.
    pub strict_time: bool,
    /// The article's KB number (digits, e.g. `975354`; see [`article_kb`]):
    /// when the package's differs, `kb-article-mismatch`.
    pub article_kb: Option<String>,
}

/// What the comparison looked at, for the summary.
#[derive(Debug, Clone, Default, Serialize)]
pub struct KbSummary {
    /// The architecture whose tables were used.
    pub arch: Option<Arch>,
    /// Headings (or first lines) of the tables used.
    pub tables: Vec<String>,
    pub rows_checked: usize,
    pub rows_matched: usize,
    /// The package's KB number (from its `.mum`), digits only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub package_kb: Option<String>,
    /// The article's KB number, digits only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub article_kb: Option<String>,
    /// Every documented row checked, in article order: the checklist.
    pub rows: Vec<KbRow>,
}

/// One documented row and what it matched.
#[derive(Debug, Clone, Serialize)]
pub struct KbRow {
    /// Heading of the row's table (or `table at line N`).
    pub table: String,
    /// `files` or `additional`.
    pub kind: &'static str,
    /// 1-based line of the row in the article.
    pub line: usize,
    /// As documented.
    pub name: String,
    pub arch: Option<&'static str>,
    pub version: Option<String>,
    pub size: Option<u64>,
    pub date: Option<String>,
    pub time: Option<String>,
    /// The file (or, for additional files, the member) it matched.
    pub found: Option<KbFound>,
    /// `ok` when it matches, `ok-with-warnings` when only warnings
    /// (a time that differs), else `mismatch` or `missing`.
    pub status: &'static str,
    /// Codes of the findings about this row (`kb-version-mismatch`, …).
    pub findings: Vec<Code>,
}

/// The package's side of a row.
#[derive(Debug, Clone, Serialize)]
pub struct KbFound {
    /// Member path where the bytes are (stored or delta blob), else the
    /// install destination.
    pub path: String,
    /// Component keyform, for files.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub component: Option<String>,
    pub arch: Option<String>,
    pub version: Option<String>,
    /// Where the version came from: `pe` (the file's version resource) or
    /// `manifest` (its component's version).
    pub version_source: Option<&'static str>,
    pub size: Option<u64>,
    /// Stored timestamp, `YYYY-MM-DDTHH:MM:SS` (no zone).
    pub timestamp: Option<String>,
}

/// A KB number, digits only, from `KB1234567`-like text.
fn kb_digits(s: &str) -> Option<String> {
    let lower = s.to_ascii_lowercase();
    let at = lower.find("kb")?;
    let digits: String = lower[at + 2..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    (digits.len() >= 5).then_some(digits)
}

/// The package's KB number: its `.mum` `identifier` (`KB975354`), else the
/// package name (`Package_for_KB975354`).
pub fn package_kb(pkg: &Package) -> Option<String> {
    pkg.packages.iter().find_map(|p| {
        p.mum
            .identifier
            .as_deref()
            .and_then(kb_digits)
            .or_else(|| kb_digits(&p.mum.identity.name))
    })
}

/// The article's KB number: from its file name (`KB975354.txt`), else the
/// `KBnnnnnnn` its text names most often.
pub fn article_kb(file_name: &str, text: &[u8]) -> Option<String> {
    if let Some(k) = kb_digits(file_name) {
        return Some(k);
    }
    let text = String::from_utf8_lossy(text).to_ascii_lowercase();
    let mut counts: HashMap<String, usize> = HashMap::new();
    let mut rest = text.as_str();
    while let Some(at) = rest.find("kb") {
        let after = &rest[at + 2..];
        let before_ok = at == 0 || !rest.as_bytes()[at - 1].is_ascii_alphanumeric();
        let digits: String = after.chars().take_while(char::is_ascii_digit).collect();
        if before_ok && (6..=7).contains(&digits.len()) {
            *counts.entry(digits).or_default() += 1;
        }
        rest = after;
    }
    counts
        .into_iter()
        .max_by(|a, b| a.1.cmp(&b.1).then_with(|| b.0.cmp(&a.0)))
        .map(|(k, _)| k)
}

/// The package's architecture, from its package manifests (then its
/// components): amd64 → x64, x86 → x86, ia64 → ia64, arm64 → arm64.
pub fn package_arch(pkg: &Package) -> Option<Arch> {
    let from = |a: &str| match a.to_ascii_lowercase().as_str() {
        "amd64" => Some(Arch::X64),
        "x86" => Some(Arch::X86),
        "ia64" => Some(Arch::Ia64),
        "arm64" => Some(Arch::Arm64),
        _ => None,
    };
    pkg.packages
        .iter()
        .find_map(|p| from(&p.mum.identity.processor_architecture))
        .or_else(|| {
            // Most common native architecture among components.
            let mut counts = std::collections::BTreeMap::new();
            for c in &pkg.components {
                if let Some(a) = from(&c.arch) {
                    *counts.entry(a as u8).or_insert(0usize) += 1;
                }
            }
            let best = counts.into_iter().max_by_key(|(_, n)| *n)?.0;
            [Arch::X86, Arch::X64, Arch::Ia64, Arch::Arm64]
                .into_iter()
                .find(|a| *a as u8 == best)
        })
}

fn row_arch_name(a: RowArch) -> &'static str {
    match a {
        RowArch::X86 => "x86",
        RowArch::Amd64 => "amd64",
        RowArch::Wow64 => "wow64",
        RowArch::Ia64 => "ia64",
        RowArch::Arm64 => "arm64",
    }
}

fn table_name(t: &Table) -> String {
    t.heading
        .clone()
        .unwrap_or_else(|| format!("table at line {}", t.line))
}

fn stored_timestamp(f: &File) -> Option<crate::container::Timestamp> {
    match &f.location {
        Location::Stored { timestamp, .. } => *timestamp,
        _ => None,
    }
}

fn basename(path: &str) -> &str {
    path.rsplit(['/', '\\']).next().unwrap_or(path)
}

/// Compare `pkg` with the tables of `article`. Returns the findings and a
/// summary of what was compared.
pub fn check(pkg: &Package, article: &Article, opts: &KbOptions) -> (Vec<Finding>, KbSummary) {
    let mut findings = Vec::new();
    let arch = opts.table_arch.or_else(|| package_arch(pkg));
    let mut summary = KbSummary {
        arch,
        package_kb: package_kb(pkg),
        article_kb: opts.article_kb.clone(),
        ..Default::default()
    };
    if let (Some(p), Some(a)) = (&summary.package_kb, &summary.article_kb)
        && p != a
    {
        findings.push(Finding::error(
            Code::KbArticleMismatch,
            &pkg.input,
            format!("the package is KB{p}, the article is about KB{a}: the wrong article?"),
        ));
    }
    let Some(arch) = arch else {
        findings.push(Finding::error(
            Code::KbNoArch,
            &pkg.input,
            "cannot tell the package's architecture; choose the article's tables with --table",
        ));
        return (findings, summary);
    };
    let tables = select(article, arch);
    if tables.is_empty() {
        findings.push(Finding::error(
            Code::KbNoTable,
            &pkg.input,
            format!(
                "the article has no file table for {}; {}",
                format!("{arch:?}").to_lowercase(),
                tables_available(article)
            ),
        ));
        return (findings, summary);
    }
    summary.tables = tables.iter().map(|(t, _)| table_name(t)).collect();

    // (lower-case name, arch) of every documented file row.
    let documented: HashSet<(String, &str)> = tables
        .iter()
        .filter(|(t, _)| t.kind == Kind::Files)
        .flat_map(|(_, rows)| rows.iter())
        .filter_map(|r| Some((r.name.to_ascii_lowercase(), row_arch_name(r.arch?))))
        .collect();
    let mut index = FileIndex::new(pkg, &documented);
    let mut members: Option<HashMap<String, &Member>> = None;
    for (table, rows) in &tables {
        for row in rows {
            summary.rows_checked += 1;
            let before = findings.len();
            let (ok, found) = match table.kind {
                Kind::Files => {
                    let (ok, best) = check_file_row(&mut index, row, opts, &mut findings);
                    (ok, best.map(|i| found_file(&index, i)))
                }
                Kind::Additional => {
                    let members = members.get_or_insert_with(|| member_index(pkg));
                    let (ok, m) = check_additional_row(members, row, &mut findings);
                    (ok, m.map(found_member))
                }
            };
            if ok {
                summary.rows_matched += 1;
            }
            let codes: Vec<Code> = findings[before..].iter().map(|f| f.code).collect();
            let status = match (ok, &found) {
                (true, _) if codes.is_empty() => "ok",
                (true, _) => "ok-with-warnings",
                (false, None) => "missing",
                (false, Some(_)) => "mismatch",
            };
            summary.rows.push(KbRow {
                table: table_name(table),
                kind: match table.kind {
                    Kind::Files => "files",
                    Kind::Additional => "additional",
                },
                line: row.line,
                name: row.name.clone(),
                arch: row.arch.map(row_arch_name),
                version: row.version.clone(),
                size: row.size,
                date: row.date.clone(),
                time: row.time.clone(),
                found,
                status,
                findings: codes,
            });
        }
    }

    // Payload files of the checked architectures that no row documents.
    let documented_archs: HashSet<&str> = tables
        .iter()
        .filter(|(t, _)| t.kind == Kind::Files)
        .flat_map(|(_, rows)| rows.iter().filter_map(|r| r.arch.map(row_arch_name)))
        .collect();
    for (i, f) in index.files.iter().enumerate() {
        if index.is_claimed(i) {
            continue;
        }
        if !documented_archs.is_empty() && !documented_archs.contains(f.arch.as_str()) {
            continue;
        }
        findings.push(Finding::warning(
            Code::KbUndocumented,
            format!("{} ({})", f.name, f.arch),
            format!(
                "the package installs {} from component {} but the article does not list it",
                f.destination, f.component
            ),
        ));
    }
    (findings, summary)
}

/// What `kb-no-table` offers instead: the architectures the article has
/// tables for (`--table` values), and each table by line and heading.
fn tables_available(article: &Article) -> String {
    if article.tables.is_empty() {
        return "it has no file tables at all".to_string();
    }
    let mut archs: Vec<String> = Vec::new();
    for t in &article.tables {
        if let Some(a) = t.arch {
            let a = format!("{a:?}").to_lowercase();
            if !archs.contains(&a) {
                archs.push(a);
            }
        }
    }
    let list: Vec<String> = article
        .tables
        .iter()
        .map(|t| format!("line {}: {}", t.line, table_name(t)))
        .collect();
    let choose = if archs.is_empty() {
        "no table names an architecture".to_string()
    } else {
        format!("choose one with --table {}", archs.join("|"))
    };
    format!("{choose}; its tables: {}", list.join("; "))
}

/// The row architectures a package of `arch` installs.
fn family(arch: Arch) -> &'static [RowArch] {
    match arch {
        Arch::X86 => &[RowArch::X86],
        Arch::X64 => &[RowArch::Amd64, RowArch::Wow64],
        Arch::Ia64 => &[RowArch::Ia64, RowArch::Wow64],
        Arch::Arm64 => &[RowArch::Arm64],
    }
}

/// The rows to check for a package of `arch`: every row of the tables
/// whose heading names `arch`, plus the rows of tables whose heading names
/// no architecture (one "Additional files" table for all of them, a
/// third-party copy without headings) when the row's own arch (platform,
/// keyform or package name) belongs to the package.
fn select(article: &Article, arch: Arch) -> Vec<(&Table, Vec<&Row>)> {
    let fam = family(arch);
    article
        .tables
        .iter()
        .filter_map(|t| match t.arch {
            Some(a) if a == arch => Some((t, t.rows.iter().collect())),
            Some(_) => None,
            None => {
                let rows: Vec<&Row> = t
                    .rows
                    .iter()
                    .filter(|r| r.arch.is_some_and(|ra| fam.contains(&ra)))
                    .collect();
                (!rows.is_empty()).then_some((t, rows))
            }
        })
        .collect()
}

fn row_subject(row: &Row) -> String {
    match row.arch {
        Some(a) => format!(
            "{} ({}, article line {})",
            row.name,
            row_arch_name(a),
            row.line
        ),
        None => format!("{} (article line {})", row.name, row.line),
    }
}

/// The package's files, indexed once for all rows.
struct FileIndex<'a> {
    files: Vec<&'a File>,
    /// Per file: its claim key (component keyform + lower-case name; a row
    /// claims every file of that key) and its version (PE file version,
    /// else its component's).
    claim: Vec<usize>,
    version: Vec<Option<&'a str>>,
    claimed: Vec<bool>,
    /// Lower-case base name → the files of that name, in package order,
    /// keeping only the last of files that no row can tell apart (same
    /// claim key, version, size and arch: they always score alike, and the
    /// last of equals is the one picked).
    by_name: HashMap<String, Vec<usize>>,
    /// Lower-case base name → the archs of its files that no row documents,
    /// each once, in package order.
    elsewhere: HashMap<String, Vec<&'a str>>,
}

impl<'a> FileIndex<'a> {
    fn new(pkg: &'a Package, documented_rows: &HashSet<(String, &str)>) -> Self {
        // The first component of a keyform gives the version, as a linear
        // search would.
        let mut component_version: HashMap<&str, &str> = HashMap::new();
        for c in &pkg.components {
            component_version
                .entry(&*c.keyform)
                .or_insert(c.identity.version.as_str());
        }
        let files: Vec<&File> = pkg.components.iter().flat_map(|c| c.files.iter()).collect();
        let mut claim_ids: HashMap<(&str, String), usize> = HashMap::new();
        let mut claim = Vec::with_capacity(files.len());
        let mut version = Vec::with_capacity(files.len());
        let mut by_name: HashMap<String, Vec<usize>> = HashMap::new();
        let mut elsewhere: HashMap<String, Vec<&str>> = HashMap::new();
        // (claim, version, size, arch) → its slot in `by_name`.
        type Class<'k> = (usize, Option<&'k str>, Option<u64>, &'k str);
        let mut classes: HashMap<Class<'_>, usize> = HashMap::new();
        for (i, f) in files.iter().enumerate() {
            let lower = f.name.to_ascii_lowercase();
            let next = claim_ids.len();
            let id = *claim_ids
                .entry((&*f.component, lower.clone()))
                .or_insert(next);
            claim.push(id);
            let v =
                f.pe.as_ref()
                    .and_then(|p| p.file_version.as_deref())
                    .or_else(|| component_version.get(&*f.component).copied());
            version.push(v);
            let doc = documented_rows.contains(&(lower, f.arch.to_ascii_lowercase().as_str()));
            let base = basename(&f.name).to_ascii_lowercase();
            if !doc {
                let archs = elsewhere.entry(base.clone()).or_default();
                if !archs.contains(&f.arch.as_str()) {
                    archs.push(f.arch.as_str());
                }
            }
            let list = by_name.entry(base).or_default();
            match classes.get(&(id, v, f.size, f.arch.as_str())) {
                // A later equal file replaces the earlier one where it
                // stood; order among the others is kept by sorting below.
                Some(slot) => {
                    if let Some(s) = list.get_mut(*slot) {
                        *s = i;
                    }
                }
                None => {
                    classes.insert((id, v, f.size, f.arch.as_str()), list.len());
                    list.push(i);
                }
            }
        }
        for list in by_name.values_mut() {
            list.sort_unstable();
        }
        let claims = claim_ids.len();
        FileIndex {
            files,
            claim,
            version,
            claimed: vec![false; claims],
            by_name,
            elsewhere,
        }
    }

    fn is_claimed(&self, file: usize) -> bool {
        self.claim
            .get(file)
            .and_then(|c| self.claimed.get(*c))
            .copied()
            .unwrap_or(false)
    }

    fn claim(&mut self, file: usize) {
        if let Some(c) = self.claim.get(file)
            && let Some(slot) = self.claimed.get_mut(*c)
        {
            *slot = true;
        }
    }

    fn version(&self, file: usize) -> Option<&'a str> {
        self.version.get(file).copied().flatten()
    }
}

/// Lower-case base name → the first member of that name.
fn member_index(pkg: &Package) -> HashMap<String, &Member> {
    let mut m = HashMap::new();
    for member in pkg.members() {
        m.entry(basename(&member.path).to_ascii_lowercase())
            .or_insert(member);
    }
    m
}

fn found_file(index: &FileIndex<'_>, i: usize) -> KbFound {
    let f = index.files.get(i);
    let pe_version = f
        .and_then(|f| f.pe.as_ref())
        .and_then(|p| p.file_version.as_deref());
    let version = index.version(i);
    KbFound {
        path: f.map_or_else(String::new, |f| match &f.location {
            Location::Stored { member, .. } => member.to_string(),
            Location::Delta {
                member: Some(member),
                ..
            } => member.clone(),
            _ => f.destination.clone(),
        }),
        component: f.map(|f| f.component.to_string()),
        arch: f.map(|f| f.arch.to_string()),
        version: version.map(str::to_string),
        version_source: version.map(|_| {
            if pe_version.is_some() {
                "pe"
            } else {
                "manifest"
            }
        }),
        size: f.and_then(|f| f.size),
        timestamp: f.and_then(|f| stored_timestamp(f)).map(|t| t.to_string()),
    }
}

fn found_member(m: &Member) -> KbFound {
    KbFound {
        path: m.path.to_string(),
        component: None,
        arch: None,
        version: None,
        version_source: None,
        size: Some(m.size),
        timestamp: m.timestamp.map(|t| t.to_string()),
    }
}

/// Whether the row matches, and the file it was compared with.
fn check_file_row(
    index: &mut FileIndex<'_>,
    row: &Row,
    opts: &KbOptions,
    findings: &mut Vec<Finding>,
) -> (bool, Option<usize>) {
    let subject = row_subject(row);
    let key = row.name.to_ascii_lowercase();
    let same_name: &[usize] = index.by_name.get(&key).map_or(&[], Vec::as_slice);
    if same_name.is_empty() {
        findings.push(Finding::error(
            Code::KbMissing,
            subject,
            "documented in the article but not in the package",
        ));
        return (false, None);
    }
    let want_arch = row.arch.map(row_arch_name);
    let same_arch: Vec<usize> = same_name
        .iter()
        .copied()
        .filter(|i| {
            want_arch.is_none_or(|a| {
                index
                    .files
                    .get(*i)
                    .is_some_and(|f| f.arch.eq_ignore_ascii_case(a))
            })
        })
        .collect();
    // Same-named files of another architecture that another row documents
    // are other files (the WOW64 twin of an amd64 DLL), not this one in the
    // wrong place.
    let elsewhere: &[&str] = index.elsewhere.get(&key).map_or(&[], Vec::as_slice);
    if same_arch.is_empty() && elsewhere.is_empty() {
        findings.push(Finding::error(
            Code::KbMissing,
            subject,
            "documented in the article but not in the package",
        ));
        return (false, None);
    }
    if same_arch.is_empty() {
        findings.push(Finding::error(
            Code::KbWrongArch,
            subject,
            format!(
                "documented as {}, the package has it as {}",
                want_arch.unwrap_or("?"),
                elsewhere.join(", ")
            ),
        ));
        return (false, None);
    }
    // Several candidates (e.g. GDR and LDR branches): prefer an unclaimed one
    // whose version and size match (the last of equals).
    let score = |i: usize| {
        let f = index.files.get(i);
        let v = row
            .version
            .as_deref()
            .is_none_or(|v| index.version(i) == Some(v));
        let s = row
            .size
            .is_none_or(|s| f.is_some_and(|f| f.size == Some(s)));
        let free = !index.is_claimed(i);
        (free as u8) * 4 + (v as u8) * 2 + s as u8
    };
    let Some(best_i) = same_arch.iter().copied().max_by_key(|i| score(*i)) else {
        return (false, None);
    };
    index.claim(best_i);
    let Some(best) = index.files.get(best_i).copied() else {
        return (false, None);
    };
    let mut ok = true;
    // The image itself must be built for the documented platform: an amd64
    // binary in a WOW64 (x86) row is the wrong file even if the component
    // says wow64.
    if let (Some(want), Some(pe)) = (row.arch, best.pe.as_ref()) {
        let expected = match want {
            RowArch::X86 | RowArch::Wow64 => "i386",
            RowArch::Amd64 => "amd64",
            RowArch::Ia64 => "ia64",
            RowArch::Arm64 => "arm64",
        };
        if !pe.machine.is_empty() && pe.machine != expected {
            ok = false;
            findings.push(Finding::error(
                Code::KbWrongArch,
                subject.clone(),
                format!(
                    "documented as {}, but the image is built for {} (expected {expected})",
                    row_arch_name(want),
                    pe.machine
                ),
            ));
        }
    }
    if let Some(want) = row.version.as_deref() {
        let got = index.version(best_i);
        if got != Some(want) {
            ok = false;
            findings.push(Finding::error(
                Code::KbVersionMismatch,
                subject.clone(),
                format!(
                    "documented version {want}, the package has {}",
                    got.unwrap_or("no version")
                ),
            ));
        }
    }
    if let Some(want) = row.size {
        match best.size {
            Some(got) if got == want => {}
            got => {
                ok = false;
                findings.push(Finding::error(
                    Code::KbSizeMismatch,
                    subject.clone(),
                    format!(
                        "documented size {want} bytes, the package has {}",
                        got.map_or("unknown".to_string(), |g| format!("{g} bytes"))
                    ),
                ));
            }
        }
    }
    if let (Some(date), Some(ts)) = (row.date.as_deref(), stored_timestamp(best)) {
        let got_date = format!("{:04}-{:02}-{:02}", ts.year, ts.month, ts.day);
        let got_time = format!("{:02}:{:02}", ts.hour, ts.minute);
        let time_ok = row.time.as_deref().is_none_or(|t| t == got_time);
        if got_date != date || !time_ok {
            let sev = if opts.strict_time {
                Severity::Error
            } else {
                Severity::Warning
            };
            if opts.strict_time {
                ok = false;
            }
            findings.push(Finding::new(
                sev,
                Code::KbTimeMismatch,
                subject.clone(),
                format!(
                    "documented {} {}, the package stores {} {}",
                    date,
                    row.time.as_deref().unwrap_or(""),
                    got_date,
                    got_time
                ),
            ));
        }
    }
    (ok, Some(best_i))
}

fn check_additional_row<'m>(
    members: &HashMap<String, &'m Member>,
    row: &Row,
    findings: &mut Vec<Finding>,
) -> (bool, Option<&'m Member>) {
    let subject = row_subject(row);
    let Some(member) = members.get(&row.name.to_ascii_lowercase()).copied() else {
        findings.push(Finding::error(
            Code::KbMissing,
            subject,
            "documented in the article's additional files but not in the package",
        ));
        return (false, None);
    };
    if let Some(want) = row.size
        && member.size != want
    {
        findings.push(Finding::error(
            Code::KbSizeMismatch,
            subject,
            format!(
                "documented size {want} bytes, member {} has {} bytes",
                member.path, member.size
            ),
        ));
        return (false, Some(member));
    }
    (true, Some(member))
}
