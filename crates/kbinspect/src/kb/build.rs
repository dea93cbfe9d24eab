//! Blocks → tables: find header rows (horizontal) or key/value blocks
//! (vertical), read each row's cells, attach the heading above the table.
//!
//! Ambiguous `a/b/yyyy` dates are resolved per table: a date that is only
//! valid one way (`13/10/2009`) decides for the whole table; without such
//! evidence US English tables read month first and every other language day
//! first. Resolving by language is reported as a warning.

use super::blocks::{Block, Cell, GridRow, RECENT_LINES};
use super::clean::clean_heading;
use super::grid::{header_row, is_vertical, non_empty, unglue};
use super::values::{self, DateValue, Ymd};
use super::words::{self, Column};
use super::{Arch, Kind, Row, RowArch, Table, Warning};
use std::borrow::Cow;

/// Longer lines are prose, not headings.
const HEADING_MAX_CHARS: usize = 200;

/// The cells of one row by column, before interpretation.
struct RawRow {
    line: usize,
    fields: Vec<(Column, Cell)>,
    from_stream: bool,
}

impl RawRow {
    fn get(&self, col: Column) -> Option<&Cell> {
        self.fields
            .iter()
            .find(|(c, _)| *c == col)
            .map(|(_, cell)| cell)
    }
}

struct State<'a> {
    tables: Vec<Table>,
    warnings: Vec<Warning>,
    /// Lines since the previous table, newest last, at most
    /// [`RECENT_LINES`]: headings are looked up lazily when a table comes,
    /// so long prose costs no more than a copy of a reference per line.
    recent: std::collections::VecDeque<Candidate<'a>>,
    context: Kind,
}

struct Candidate<'a> {
    text: Cow<'a, str>,
    /// Markdown source line: strip `#`, `-`, `**` … before use.
    markup: bool,
}

impl<'a> State<'a> {
    fn warn(&mut self, line: usize, message: String) {
        self.warnings.push(Warning { line, message });
    }

    fn text(&mut self, text: Cow<'a, str>, markup: bool) {
        // Even with markup, a line this long is prose, not a heading.
        if text.len() > HEADING_MAX_CHARS * 8 || text.trim().is_empty() {
            return;
        }
        if self.recent.len() >= RECENT_LINES {
            self.recent.pop_front();
        }
        self.recent.push_back(Candidate { text, markup });
    }

    /// At a table: its heading is the nearest line above it (since the
    /// previous table) that names an architecture or a kind of table, else
    /// the nearest short line; the section kind is set by the nearest
    /// heading-like line naming "additional files" or "file information".
    fn heading(&mut self) -> Option<String> {
        let mut heading: Option<String> = None;
        let mut fallback: Option<String> = None;
        let mut context: Option<Kind> = None;
        for c in self.recent.iter().rev() {
            let cleaned: Cow<'_, str> = if c.markup {
                clean_heading(&c.text)
            } else {
                Cow::Borrowed(c.text.trim())
            };
            let t = cleaned.trim();
            if t.is_empty() || t.chars().count() > HEADING_MAX_CHARS {
                continue;
            }
            let additional = words::is_additional_heading(t);
            let file_info = words::is_file_info_heading(t);
            if heading.is_none() && (additional || file_info || words::heading_arch(t).is_some()) {
                heading = Some(t.to_string());
            }
            if fallback.is_none() {
                fallback = Some(t.to_string());
            }
            let sentence = t.ends_with('.') || t.ends_with(':');
            if context.is_none() && !sentence {
                if additional {
                    context = Some(Kind::Additional);
                } else if file_info {
                    context = Some(Kind::Files);
                }
            }
            if heading.is_some() && context.is_some() {
                break;
            }
        }
        if let Some(k) = context {
            self.context = k;
        }
        heading.or(fallback)
    }
}

pub(crate) fn tables(blocks: Vec<Block<'_>>) -> (Vec<Table>, Vec<Warning>) {
    let mut st = State {
        tables: Vec::new(),
        warnings: Vec::new(),
        recent: std::collections::VecDeque::new(),
        context: Kind::Files,
    };
    for block in blocks {
        match block {
            Block::Text(text) => st.text(text, false),
            Block::Markup(text) => st.text(Cow::Borrowed(text), true),
            Block::Warn(w) => st.warnings.push(w),
            Block::Grid(rows) => grid(&mut st, rows),
        }
    }
    st.warnings.sort_by_key(|w| w.line);
    (st.tables, st.warnings)
}

fn grid(st: &mut State<'_>, rows: Vec<GridRow>) {
    let vertical_table = is_vertical(&rows);
    // A one-cell row above the header (`<tr><th colspan=6>For all supported
    // x86-based versions</th></tr>`) is the table's own heading line.
    if !vertical_table && let Some(hi) = header_index(&rows) {
        for r in rows.iter().take(hi) {
            let mut cells = non_empty(r);
            if let (Some(only), None) = (cells.next(), cells.next()) {
                st.text(Cow::Owned(only.text.trim().to_string()), false);
            }
        }
    }
    let heading = st.heading();
    let arch = heading.as_deref().and_then(words::heading_arch);
    let kind = match &heading {
        Some(h) if words::is_additional_heading(h) => Kind::Additional,
        _ => st.context,
    };
    let parsed = if vertical_table {
        vertical(st, &rows)
    } else {
        horizontal(st, rows)
    };
    let Some((line, lang, raws)) = parsed else {
        return;
    };
    // One table may hold several sections, each under a one-cell row
    // naming its architecture (`<td colspan=6>For all supported x64-based
    // versions</td>`, `For all supported x64-based versions,,,,` in a CSV
    // list): each section becomes a table of its own.
    let mut sections: Vec<(Option<String>, usize, Vec<RawRow>)> = vec![(heading, line, Vec::new())];
    for raw in raws {
        match section_row(&raw) {
            Some(text) => sections.push((Some(text), raw.line, Vec::new())),
            None => {
                if let Some(last) = sections.last_mut() {
                    last.2.push(raw);
                }
            }
        }
    }
    let many = sections.len() > 1;
    let mut leftovers = Vec::new();
    for (i, (heading, line, raws)) in sections.into_iter().enumerate() {
        // Rows before the first section row belong to the table's heading;
        // without any, that part is not a table of its own.
        if many && i == 0 && raws.is_empty() {
            continue;
        }
        let (arch, kind) = if i == 0 {
            (arch, kind)
        } else {
            let h = heading.as_deref().unwrap_or_default();
            let kind = if words::is_additional_heading(h) {
                Kind::Additional
            } else {
                kind
            };
            (words::heading_arch(h).or(arch), kind)
        };
        let mut pending = Vec::new();
        for raw in &raws {
            if let Some(p) = read_row(st, raw, arch, &mut leftovers) {
                pending.push(p);
            }
        }
        let rows = resolve_dates(st, line, lang, pending);
        st.tables.push(Table {
            heading,
            arch,
            kind,
            line,
            rows,
        });
    }
    st.recent.clear();
    // Text glued to the last cell may be the next heading.
    for (_, t) in leftovers {
        st.text(Cow::Owned(t), false);
    }
}

type Parsed = (usize, usize, Vec<RawRow>);

/// A row whose only text is a section heading inside the table: words with
/// spaces (no file name has them) naming an architecture or a kind.
fn section_row(raw: &RawRow) -> Option<String> {
    let mut texts = raw
        .fields
        .iter()
        .map(|(_, c)| c.text.trim())
        .filter(|t| !t.is_empty());
    let (Some(t), None) = (texts.next(), texts.next()) else {
        return None;
    };
    let names_section = words::heading_arch(t).is_some()
        || words::is_additional_heading(t)
        || words::is_file_info_heading(t);
    (t.contains(' ') && t.chars().count() <= HEADING_MAX_CHARS && names_section)
        .then(|| t.to_string())
}

fn header_index(rows: &[GridRow]) -> Option<usize> {
    rows.iter()
        .position(|r| header_row(r.cells.iter().map(|c| c.text.as_str())).is_some())
}

/// A second header row under the first (`Date and time` spanning `Date` |
/// `Time`; cells of the first row spanning both rows repeated): every
/// non-empty cell is a header word, and filling the columns in gives no
/// column twice. Returns the merged columns; the lower row's words win.
fn merge_header(columns: &[Option<Column>], row: &GridRow) -> Option<Vec<Option<Column>>> {
    let mut merged = columns.to_vec();
    let mut any = false;
    for (i, cell) in row.cells.iter().enumerate() {
        if cell.text.trim().is_empty() {
            continue;
        }
        let (col, _) = words::header(&cell.text)?;
        any = true;
        if merged.len() <= i {
            merged.resize(i + 1, None);
        }
        if let Some(slot) = merged.get_mut(i) {
            *slot = Some(col);
        }
    }
    let known: Vec<Column> = merged.iter().flatten().copied().collect();
    let distinct = known
        .iter()
        .enumerate()
        .all(|(i, c)| !known.iter().skip(i + 1).any(|d| d == c));
    (any && distinct && merged != columns).then_some(merged)
}

fn horizontal(st: &mut State<'_>, rows: Vec<GridRow>) -> Option<Parsed> {
    let hi = header_index(&rows)?;
    let mut header = header_row(rows.get(hi)?.cells.iter().map(|c| c.text.as_str()))?;
    let header_line = rows.get(hi).map_or(0, |r| r.line);
    for r in rows.iter().take(hi) {
        // One-cell rows were read as the heading.
        if non_empty(r).nth(1).is_some() {
            st.warn(r.line, "table row above the header row ignored".into());
        }
    }
    let mut skip = hi + 1;
    if let Some(next) = rows.get(hi + 1)
        && let Some(merged) = merge_header(&header.columns, next)
    {
        header.columns = merged;
        skip += 1;
    }
    let hi = skip - 1;
    let mut raws = Vec::new();
    let name_col = header.columns.iter().position(|c| *c == Some(Column::Name));
    // Rows are consumed: cells move into the parsed rows, not copied.
    for r in rows.into_iter().skip(hi + 1) {
        if non_empty(&r).next().is_none() {
            continue;
        }
        // A repeated header (page break in the source) names the file name
        // where the first header did.
        let names_name = name_col
            .and_then(|i| r.cells.get(i))
            .and_then(|c| words::header(&c.text))
            .is_some_and(|h| h.0 == Column::Name);
        if names_name && header_row(r.cells.iter().map(|c| c.text.as_str())).is_some() {
            continue;
        }
        let cell_count = r.cells.len();
        let mut fields = Vec::new();
        for (i, cell) in r.cells.into_iter().enumerate() {
            match header.columns.get(i) {
                Some(Some(col)) => fields.push((*col, cell)),
                Some(None) => {}
                None if !cell.text.trim().is_empty() => st.warn(
                    cell.line,
                    format!(
                        "cell {:?} beyond the {} columns of the header (line {header_line}) ignored",
                        cell.text,
                        header.columns.len()
                    ),
                ),
                None => {}
            }
        }
        if cell_count < header.columns.len() {
            st.warn(
                r.line,
                format!(
                    "row has {} cells, the header (line {header_line}) has {}; missing values read as absent",
                    cell_count,
                    header.columns.len()
                ),
            );
        }
        raws.push(RawRow {
            line: r.line,
            fields,
            from_stream: r.from_stream,
        });
    }
    Some((header_line, header.lang, raws))
}

fn vertical(st: &mut State<'_>, rows: &[GridRow]) -> Option<Parsed> {
    let mut raws: Vec<RawRow> = Vec::new();
    let mut lang = 0;
    let mut first_line = None;
    for r in rows {
        let cells: Vec<&Cell> = non_empty(r).collect();
        let (k, v) = match cells.as_slice() {
            [] => continue,
            [k] => (*k, None),
            [k, v] => (*k, Some(*v)),
            [k, v, rest @ ..] => {
                for extra in rest {
                    st.warn(
                        extra.line,
                        format!("extra cell {:?} in a key/value table ignored", extra.text),
                    );
                }
                (*k, Some(*v))
            }
        };
        let Some((col, li)) = words::header(&k.text) else {
            st.warn(
                k.line,
                format!("key {:?} is not a file table field; line ignored", k.text),
            );
            continue;
        };
        let value = v.cloned().unwrap_or(Cell {
            line: k.line,
            text: String::new(),
        });
        if col == Column::Name {
            first_line.get_or_insert(k.line);
            lang = li;
            raws.push(RawRow {
                line: k.line,
                fields: vec![(col, value)],
                from_stream: r.from_stream,
            });
        } else if let Some(last) = raws.last_mut() {
            if last.get(col).is_some() {
                st.warn(
                    k.line,
                    format!("{:?} given twice for one file; the first is kept", k.text),
                );
            } else {
                last.fields.push((col, value));
            }
        } else {
            st.warn(
                k.line,
                format!("{:?} before any file name; line ignored", k.text),
            );
        }
    }
    Some((first_line?, lang, raws))
}

struct Pending {
    row: Row,
    date: Option<(DateValue, usize)>,
}

fn na(cell: Option<&Cell>) -> Option<&Cell> {
    cell.filter(|c| !words::is_not_applicable(&c.text))
}

fn read_row(
    st: &mut State<'_>,
    raw: &RawRow,
    arch: Option<Arch>,
    leftovers: &mut Vec<(usize, String)>,
) -> Option<Pending> {
    let name = raw
        .get(Column::Name)
        .map(|c| c.text.trim().to_string())
        .unwrap_or_default();
    if name.is_empty() {
        let values: Vec<&str> = raw
            .fields
            .iter()
            .map(|(_, c)| c.text.as_str())
            .filter(|t| !t.trim().is_empty())
            .collect();
        st.warn(
            raw.line,
            format!("row without a file name skipped (cells: {values:?})"),
        );
        return None;
    }
    let version = na(raw.get(Column::Version)).map(|c| c.text.trim().to_string());
    let size = na(raw.get(Column::Size)).and_then(|c| match values::parse_size(&c.text) {
        Ok(v) => Some(v),
        Err(e) => {
            st.warn(c.line, format!("{name}: {e}; size left empty"));
            None
        }
    });
    let date = na(raw.get(Column::Date)).and_then(|c| match values::parse_date(&c.text) {
        Ok(v) => Some((v, c.line)),
        Err(e) => {
            st.warn(c.line, format!("{name}: {e}; date left empty"));
            None
        }
    });
    let time = na(raw.get(Column::Time)).and_then(|c| match values::parse_time(&c.text) {
        Ok(v) => Some(v),
        Err(e) => {
            st.warn(c.line, format!("{name}: {e}; time left empty"));
            None
        }
    });
    let mut glued = |cell: Option<&Cell>, known: &[&str], st: &mut State| -> Option<String> {
        let c = cell?;
        let text = c.text.trim();
        if raw.from_stream {
            let word_or_na = unglue(text, known)
                .map(|(w, rest)| (Some(w), rest))
                .or_else(|| unglue(text, words::na_words()).map(|(_, rest)| (None, rest)));
            if let Some((word, rest)) = word_or_na {
                st.warn(
                    c.line,
                    format!(
                        "cell {text:?} runs into the following text (scraping artifact); read as {:?}",
                        word.as_deref().unwrap_or("not applicable")
                    ),
                );
                leftovers.push((c.line, rest));
                return word;
            }
        }
        if words::is_not_applicable(text) {
            return None;
        }
        Some(text.to_string())
    };
    let platform = glued(raw.get(Column::Platform), words::PLATFORM_WORDS, st);
    let service_branch = glued(raw.get(Column::ServiceBranch), words::BRANCH_WORDS, st);
    let sp_requirement = na(raw.get(Column::SpRequirement)).map(|c| c.text.trim().to_string());
    let row_arch = platform
        .as_deref()
        .and_then(|p| {
            let a = row_arch(p, arch);
            if a.is_none() {
                st.warn(raw.line, format!("{name}: unknown platform {p:?}"));
            }
            a
        })
        .or_else(|| name_arch(&name, arch));
    Some(Pending {
        row: Row {
            name,
            version,
            size,
            date: None,
            time,
            platform,
            arch: row_arch,
            service_branch,
            sp_requirement,
            line: raw.line,
        },
        date,
    })
}

fn row_arch(platform: &str, table: Option<Arch>) -> Option<RowArch> {
    match words::key(platform).as_str() {
        "x86" | "i386" | "32-bit" => Some(match table {
            Some(Arch::X64 | Arch::Ia64) => RowArch::Wow64,
            _ => RowArch::X86,
        }),
        "x64" | "amd64" | "x86-64" | "x86_64" | "64-bit" => Some(RowArch::Amd64),
        "ia-64" | "ia64" | "itanium" => Some(RowArch::Ia64),
        "arm64" | "aarch64" => Some(RowArch::Arm64),
        "wow64" | "wow" => Some(RowArch::Wow64),
        _ => None,
    }
}

fn arch_word(word: &str) -> Option<RowArch> {
    match word.to_ascii_lowercase().as_str() {
        "x86" => Some(RowArch::X86),
        "amd64" => Some(RowArch::Amd64),
        "wow64" => Some(RowArch::Wow64),
        "ia64" => Some(RowArch::Ia64),
        "arm64" => Some(RowArch::Arm64),
        _ => None,
    }
}

/// The architecture a servicing file's name carries, for rows without a
/// platform (additional-files tables write "not applicable" there):
///
/// - component manifests and catalogs are named by their keyform
///   `arch_name_token_version_language_hash` (`Amd64_microsoft-windows-…`);
///   `msil_` components are architecture-neutral and stay `None`;
/// - package manifests and catalogs are named
///   `name~token~arch~language~version` (`Package_for_KB…~amd64~~6.1.2.0.mum`);
/// - any other `.mum`/`.cat` (`update.mum`, `update.cat`) belongs to the
///   package the table documents, so it takes the table's architecture.
///
/// Other names say nothing (an `.xml` or `.msi` in a files table may be
/// installed for any architecture).
pub fn name_arch(name: &str, table: Option<Arch>) -> Option<RowArch> {
    let lower = name.trim().to_ascii_lowercase();
    let (stem, ext) = lower.rsplit_once('.')?;
    if !matches!(ext, "manifest" | "mum" | "cat") {
        return None;
    }
    // Keyform: the arch, then at least the name, token, version, language
    // and hash fields.
    if let Some((first, rest)) = stem.split_once('_')
        && rest.matches('_').count() >= 4
    {
        if first == "msil" {
            return None;
        }
        if let Some(a) = arch_word(first) {
            return Some(a);
        }
    }
    let fields: Vec<&str> = stem.split('~').collect();
    if fields.len() >= 4 {
        return fields.get(2).and_then(|w| arch_word(w));
    }
    if ext == "manifest" {
        return None;
    }
    table.map(|a| match a {
        Arch::X86 => RowArch::X86,
        Arch::X64 => RowArch::Amd64,
        Arch::Ia64 => RowArch::Ia64,
        Arch::Arm64 => RowArch::Arm64,
    })
}

fn month_first_language(lang: usize) -> bool {
    words::LANGS
        .get(lang)
        .is_some_and(|l| l.code == "en" || l.code == "en-us")
}

fn resolve_dates(
    st: &mut State<'_>,
    table_line: usize,
    lang: usize,
    pending: Vec<Pending>,
) -> Vec<Row> {
    let mut month_first_only = false;
    let mut day_first_only = false;
    let mut ambiguous = false;
    for p in &pending {
        match p.date {
            Some((DateValue::Ambiguous { .. }, _)) => ambiguous = true,
            Some((DateValue::MonthFirst(_), _)) => month_first_only = true,
            Some((DateValue::DayFirst(_), _)) => day_first_only = true,
            _ => {}
        }
    }
    let by_language = month_first_language(lang);
    let month_first = match (month_first_only, day_first_only) {
        (true, false) => true,
        (false, true) => false,
        (true, true) => {
            st.warn(
                table_line,
                "numeric dates in this table disagree on day/month order; ambiguous ones read by the article language".into(),
            );
            by_language
        }
        (false, false) => {
            if ambiguous {
                st.warn(
                    table_line,
                    format!(
                        "dates like 10/05/2009 are ambiguous; read {} (article language)",
                        if by_language {
                            "month first"
                        } else {
                            "day first"
                        }
                    ),
                );
            }
            by_language
        }
    };
    pending
        .into_iter()
        .map(|mut p| {
            p.row.date = p.date.map(|(d, _)| {
                let ymd: Ymd = match d {
                    DateValue::Exact(v) | DateValue::MonthFirst(v) | DateValue::DayFirst(v) => v,
                    DateValue::Ambiguous { mdy, dmy } => {
                        if month_first {
                            mdy
                        } else {
                            dmy
                        }
                    }
                };
                ymd.to_string()
            });
            p.row
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn servicing_names_carry_their_arch() {
        let a = |n: &str, t: Option<Arch>| name_arch(n, t);
        assert_eq!(
            a(
                "Amd64_microsoft-windows-vssapi_31bf3856ad364e35_6.1.7600.20542_none_318dad7ab472931d.manifest",
                Some(Arch::X64)
            ),
            Some(RowArch::Amd64)
        );
        // The keyform wins over the table: x86 components ship in x64 packages.
        assert_eq!(
            a(
                "x86_microsoft-windows-a_31bf3856ad364e35_6.1.1.1_none_0123456789abcdef.manifest",
                Some(Arch::X64)
            ),
            Some(RowArch::X86)
        );
        assert_eq!(
            a(
                "WOW64_microsoft-windows-a_31bf3856ad364e35_6.1.1.1_none_0123456789abcdef.cat",
                None
            ),
            Some(RowArch::Wow64)
        );
        assert_eq!(
            a(
                "msil_system.web_b03f5f7f11d50a3a_6.1.1.1_none_0123456789abcdef.manifest",
                Some(Arch::X64)
            ),
            None
        );
        assert_eq!(
            a(
                "Package_for_kb975354_rtm~31bf3856ad364e35~ia64~~6.1.1.0.mum",
                Some(Arch::X86)
            ),
            Some(RowArch::Ia64)
        );
        assert_eq!(
            a("Package_for_KB1~31bf3856ad364e35~arm64~~1.0.0.0.cat", None),
            Some(RowArch::Arm64)
        );
        assert_eq!(a("Update.mum", Some(Arch::Ia64)), Some(RowArch::Ia64));
        assert_eq!(a("update.cat", Some(Arch::X64)), Some(RowArch::Amd64));
        assert_eq!(a("Update.mum", None), None);
        // Names that say nothing.
        assert_eq!(a("Vssapi.dll", Some(Arch::X64)), None);
        assert_eq!(a("x86_setup.manifest", Some(Arch::X64)), None);
        assert_eq!(a("foo.manifest", Some(Arch::X64)), None);
        assert_eq!(a("Package~1~sparc~~1.mum", Some(Arch::X64)), None);
        assert_eq!(a("", Some(Arch::X64)), None);
    }
}
