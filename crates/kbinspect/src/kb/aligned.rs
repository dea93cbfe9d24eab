//! Plain text with whitespace-aligned columns, as text exports, mailing-list
//! and forum copies and many mirrors print a file table:
//!
//! ```text
//! File name            File version      File size  Date         Time   Platform
//! Vmms.exe             6.1.7600.20542    5,073,408  05-Oct-2009  16:09  x64
//! Vssapi.dll           6.1.7600.20541      828,416  05-Oct-2009  08:39  x86
//! ```
//!
//! The header line is cut into columns by its header words (`File name`,
//! `Bestandsgrootte`, … in any language; words no language knows form
//! columns of their own). A row is cut into cells at runs of two or more
//! blanks; when it has as many cells as the header has columns they are
//! read in order, else each cell goes to the column it stands under (the
//! last column starting at or before it, or the next one for a
//! right-aligned number reaching under it), so cells may be empty. A file
//! name too long for its column may wrap: onto the next line (the rest of
//! the row below it, under the other headers) or within its column (the
//! rest of the name alone on the following lines). A line naming an
//! architecture or "additional files" between rows starts a section, as a
//! one-cell row does in an HTML table; a repeated header (page break) and
//! rules of dashes are skipped. The table ends at the first other line.

use super::blocks::GridRow;
use super::clean::char_width;
use super::values;
use super::words::{self, Column};

/// Header lines are short; a longer line is prose.
const MAX_HEADER_BYTES: usize = 400;
/// The longest header phrase, in words (`Version de l'installation requise`).
const MAX_PHRASE_WORDS: usize = 5;
/// A name wrapped over lines stops growing here.
const MAX_NAME_CHARS: usize = 260;

/// A run of non-blank text on a line, with display columns (tabs to the
/// next multiple of 8, East Asian wide characters two columns).
#[derive(Debug, Clone, Copy)]
struct Span {
    start: usize,
    end: usize,
    b0: usize,
    b1: usize,
}

/// The words of a line (split at any blank) with their display columns,
/// and the blank columns before each.
fn words_of(line: &str) -> Vec<(Span, usize)> {
    let mut out = Vec::new();
    let mut col = 0usize;
    let mut cur: Option<Span> = None;
    let mut gap = 0usize;
    for (b, c) in line.char_indices() {
        if c.is_whitespace() {
            if let Some(s) = cur.take() {
                out.push((s, gap));
                gap = 0;
            }
            let w = if c == '\t' { 8 - col % 8 } else { 1 };
            col += w;
            gap += w;
        } else {
            let w = char_width(c);
            match &mut cur {
                Some(s) => {
                    s.end = col + w;
                    s.b1 = b + c.len_utf8();
                }
                None => {
                    cur = Some(Span {
                        start: col,
                        end: col + w,
                        b0: b,
                        b1: b + c.len_utf8(),
                    });
                }
            }
            col += w;
        }
    }
    if let Some(s) = cur {
        out.push((s, gap));
    }
    out
}

/// Runs of text separated by two or more blank columns (or a tab).
fn chunks(line: &str) -> Vec<Span> {
    let mut out: Vec<Span> = Vec::new();
    for (w, gap) in words_of(line) {
        match out.last_mut() {
            Some(last) if gap == 1 && !line.get(last.b1..w.b0).unwrap_or("").contains('\t') => {
                last.end = w.end;
                last.b1 = w.b1;
            }
            _ => out.push(w),
        }
    }
    out
}

/// One column of a header line.
#[derive(Debug, Clone)]
pub(crate) struct Col {
    pub text: String,
    pub col: Option<Column>,
    start: usize,
}

/// The columns of a header line, or `None` when the line is not one: it
/// must name the file name and at least one of version, size and date, in
/// two or more columns (as `grid::header_row` asks of any header row).
pub(crate) fn header(line: &str) -> Option<Vec<Col>> {
    if line.len() > MAX_HEADER_BYTES {
        return None;
    }
    let ws = words_of(line);
    if ws.len() < 2 {
        return None;
    }
    let starts: Vec<bool> = ws
        .iter()
        .map(|(w, _)| words::starts_header(text(line, w)))
        .collect();
    if !starts.contains(&true) {
        return None;
    }
    let mut cols: Vec<Col> = Vec::new();
    let mut i = 0;
    while let Some(&(w, gap)) = ws.get(i) {
        let mut matched = None;
        if starts.get(i).copied().unwrap_or(false) {
            // Longest phrase first; a phrase does not cross a column gap.
            let mut last = i;
            while last + 1 < ws.len().min(i + MAX_PHRASE_WORDS)
                && ws.get(last + 1).is_some_and(|n| n.1 == 1)
            {
                last += 1;
            }
            for j in (i..=last).rev() {
                let Some(&(end, _)) = ws.get(j) else { continue };
                let phrase = line.get(w.b0..end.b1).unwrap_or_default();
                if let Some((c, _)) = words::header(phrase) {
                    matched = Some((j, c, phrase));
                    break;
                }
            }
        }
        match matched {
            Some((j, c, phrase)) => {
                cols.push(Col {
                    text: phrase.to_string(),
                    col: Some(c),
                    start: w.start,
                });
                i = j + 1;
            }
            None => {
                // Unknown words: one column per run without a column gap.
                match cols.last_mut() {
                    Some(last) if last.col.is_none() && gap == 1 => {
                        last.text.push(' ');
                        last.text.push_str(text(line, &w));
                    }
                    _ => cols.push(Col {
                        text: text(line, &w).to_string(),
                        col: None,
                        start: w.start,
                    }),
                }
                i += 1;
            }
        }
    }
    if cols.len() < 2 {
        return None;
    }
    // What `header_row` checks, from the columns already known: the file
    // name, something about the file, no column twice, known ones dominate.
    let known: Vec<Column> = cols.iter().filter_map(|c| c.col).collect();
    let distinct = known
        .iter()
        .enumerate()
        .all(|(i, c)| !known.iter().skip(i + 1).any(|d| d == c));
    let describes_file = known
        .iter()
        .any(|c| matches!(c, Column::Version | Column::Size | Column::Date));
    let ok = distinct
        && describes_file
        && known.contains(&Column::Name)
        && cols.len() - known.len() <= known.len();
    ok.then_some(cols)
}

/// The header reading of the last line asked about, by line number: the
/// table reader looks at the line after a header, and the caller asks
/// about the same line next when the table ends there.
#[derive(Default)]
pub(crate) struct HeaderMemo {
    line: usize,
    cols: Option<Vec<Col>>,
}

impl HeaderMemo {
    /// [`header`] of line number `no` (text `raw`), computed once.
    pub(crate) fn get(&mut self, no: usize, raw: &str) -> Option<&[Col]> {
        if self.line != no || no == 0 {
            self.line = no;
            self.cols = header(raw);
        }
        self.cols.as_deref()
    }
}

fn text<'a>(line: &'a str, s: &Span) -> &'a str {
    line.get(s.b0..s.b1).unwrap_or_default()
}

/// The column a piece of text at `s` stands under: the last one starting
/// at or before it; a number reaching under the next column (right-aligned
/// under a short header) belongs to that one when it is a size column.
fn column_of(cols: &[Col], s: &Span, piece: &str) -> usize {
    let left = cols.iter().rposition(|c| c.start <= s.start).unwrap_or(0);
    if let Some(next) = cols.get(left + 1)
        && s.end > next.start
        && next.col == Some(Column::Size)
        && !piece.contains(char::is_whitespace)
        && values::parse_size(piece).is_ok()
    {
        return left + 1;
    }
    left
}

/// A multi-word text that is one cell value: "not applicable", a date, a
/// size or a time written with blanks.
fn is_one_value(t: &str) -> bool {
    words::is_not_applicable(t)
        || values::parse_date(t).is_ok()
        || values::parse_size(t).is_ok()
        || values::parse_time(t).is_ok()
}

/// The column whose region (from its start to the next column's) holds
/// most of `s`.
fn most_under(cols: &[Col], s: &Span) -> usize {
    let mut best = (0usize, 0usize);
    for (i, c) in cols.iter().enumerate() {
        let end = cols.get(i + 1).map_or(usize::MAX, |n| n.start);
        let overlap = s.end.min(end).saturating_sub(s.start.max(c.start));
        if overlap > best.1 {
            best = (i, overlap);
        }
    }
    best.0
}

/// The cells of a row under `cols`, by position.
fn by_position(line: &str, cols: &[Col], parts: &[Span]) -> Vec<String> {
    let mut cells = vec![String::new(); cols.len()];
    let mut put = |i: usize, t: &str| {
        if let Some(c) = cells.get_mut(i) {
            if !c.is_empty() {
                c.push(' ');
            }
            c.push_str(t);
        }
    };
    // Cells stand left to right: a run never goes left of the previous
    // one's column (a number right-aligned a little short of its column
    // still goes after the cell before it).
    let mut next_free = 0usize;
    for s in parts {
        let piece = text(line, s);
        let at = column_of(cols, s, piece)
            .max(next_free)
            .min(cols.len().saturating_sub(1));
        next_free = at + 1;
        // A run crossing into the next column's start with single blanks
        // in it holds several cells: place its words one by one.
        let crosses = cols.get(at + 1).is_some_and(|n| s.end > n.start);
        if crosses && piece.contains(char::is_whitespace) && is_one_value(piece) {
            // `Not applicable`, `5 oct. 2009` a little off its column: the
            // column it mostly stands under.
            let col = most_under(cols, s).max(at);
            next_free = col + 1;
            put(col, piece);
        } else if crosses && piece.contains(char::is_whitespace) {
            let base = s.b0;
            for (w, _) in words_of(piece) {
                let w = Span {
                    start: s.start + w.start,
                    end: s.start + w.end,
                    b0: base + w.b0,
                    b1: base + w.b1,
                };
                let t = text(line, &w);
                let col = column_of(cols, &w, t).max(at);
                next_free = next_free.max(col + 1);
                put(col, t);
            }
        } else {
            put(at, piece);
        }
    }
    cells
}

/// A version, size, date, time or platform cell that cannot be one ends
/// the table; empty cells and "not applicable" are fine. At least one
/// cell besides the name must have text (the name may be empty: it can
/// stand on the line above).
fn fits(cols: &[Col], cells: &[String]) -> bool {
    let mut other = false;
    for (c, t) in cols.iter().zip(cells) {
        let t = t.trim();
        if t.is_empty() {
            continue;
        }
        let na = words::is_not_applicable(t);
        let ok = match c.col {
            Some(Column::Name) => {
                t.chars().count() <= MAX_NAME_CHARS
                    && words::header(t).is_none()
                    && !t.ends_with(':')
                    && (!t.contains(char::is_whitespace) || looks_like_file_name(t))
            }
            Some(Column::Version) => {
                na || (t.len() <= 40 && t.starts_with(|ch: char| ch.is_ascii_digit()))
            }
            Some(Column::Size) => na || values::parse_size(t).is_ok(),
            Some(Column::Date) => na || values::parse_date(t).is_ok(),
            Some(Column::Time) => na || values::parse_time(t).is_ok(),
            Some(_) => t.chars().count() <= 40 && words::header(t).is_none(),
            None => true,
        };
        if !ok {
            return false;
        }
        if c.col.is_some_and(|c| c != Column::Name) {
            other = true;
        }
    }
    other
}

/// A name with an extension that has a letter (`Vssapi.dll`,
/// `Update.mum`; not `…_6.1.7600` cut by a wrap).
fn looks_like_file_name(t: &str) -> bool {
    t.rsplit_once('.').is_some_and(|(stem, ext)| {
        !stem.is_empty()
            && (1..=9).contains(&ext.len())
            && ext.chars().all(|c| c.is_ascii_alphanumeric())
            && ext.chars().any(|c| c.is_ascii_alphabetic())
    })
}

/// A line of `-`, `=`, `_`, `~` and `+` (and blanks) only.
fn is_rule(line: &str) -> bool {
    let t = line.trim();
    t.len() >= 3
        && t.chars()
            .all(|c| matches!(c, '-' | '=' | '_' | '~' | '+' | '—' | '─') || c.is_whitespace())
}

/// How a line under the header reads.
enum LineKind {
    /// A row: one cell per header column.
    Row(Vec<String>),
    /// A single word under the name column: part of a wrapped name.
    NamePart(String),
    /// The header again (a page break in the source).
    Header,
    /// A line naming a section (architecture, additional files).
    Section(String),
    Other,
}

fn classify(
    no: usize,
    line: &str,
    cols: &[Col],
    name_at: usize,
    memo: &mut HeaderMemo,
) -> LineKind {
    let parts = chunks(line);
    if let [only] = parts.as_slice() {
        let t = text(line, only);
        if !t.contains(char::is_whitespace)
            && column_of(cols, only, t) == name_at
            && t.chars().count() <= MAX_NAME_CHARS
            && words::header(t).is_none()
            && !words::is_not_applicable(t)
        {
            return LineKind::NamePart(t.to_string());
        }
    }
    if let Some(h) = memo.get(no, line) {
        let same = h.len() == cols.len() && h.iter().zip(cols).all(|(a, b)| a.col == b.col);
        return if same {
            LineKind::Header
        } else {
            LineKind::Other
        };
    }
    let positional = by_position(line, cols, &parts);
    let ordered: Option<Vec<String>> = (parts.len() == cols.len())
        .then(|| parts.iter().map(|s| text(line, s).to_string()).collect());
    if let Some(o) = ordered
        && fits(cols, &o)
    {
        return LineKind::Row(o);
    }
    if fits(cols, &positional) {
        return LineKind::Row(positional);
    }
    let t = line.trim();
    let names_section = words::heading_arch(t).is_some()
        || words::is_additional_heading(t)
        || words::is_file_info_heading(t);
    if names_section && t.contains(' ') && t.chars().count() <= 200 {
        return LineKind::Section(t.to_string());
    }
    LineKind::Other
}

/// The lines of one aligned table, starting with its header, as the
/// builder's grid rows; `lines(k)` gives the `k`-th non-empty line after
/// the header (line number, text as written). Returns the rows and how
/// many lines after the header belong to the table; `None` when no row
/// follows the header. `take` counts cells against the document budget
/// and stops the table when it says no.
pub(crate) fn table<'a>(
    header_line: (usize, &str),
    cols: &[Col],
    mut lines: impl FnMut(usize) -> Option<(usize, &'a str)>,
    mut take: impl FnMut(usize, usize) -> bool,
    memo: &mut HeaderMemo,
) -> Option<(Vec<GridRow>, usize)> {
    let name_at = cols.iter().position(|c| c.col == Some(Column::Name))?;
    let n = cols.len();
    let row_of = |line: usize, cells: Vec<String>| GridRow::on_line(line, cells);
    let mut rows = vec![row_of(
        header_line.0,
        cols.iter().map(|c| c.text.clone()).collect(),
    )];
    let mut data_rows = 0usize;
    let mut k = 0usize;
    // The last row can still take the rest of a name wrapped in its column.
    let mut open_name = false;
    while let Some((line, raw)) = lines(k) {
        // `---------  ------------  ---`: a rule under the header or
        // between rows.
        if is_rule(raw) {
            k += 1;
            continue;
        }
        match classify(line, raw, cols, name_at, memo) {
            LineKind::Row(mut cells) => {
                let empty_name = cells.get(name_at).is_some_and(String::is_empty);
                if empty_name {
                    // Only under a name that wrapped onto its own line.
                    break;
                }
                if !take(n, line) {
                    break;
                }
                let name_complete = cells.get(name_at).is_some_and(|t| looks_like_file_name(t));
                if let Some(c) = cells.get_mut(name_at) {
                    *c = c.trim().to_string();
                }
                rows.push(row_of(line, cells));
                data_rows += 1;
                open_name = !name_complete;
                k += 1;
            }
            LineKind::NamePart(part) => {
                // The rest of the previous row's name, or a name whose
                // row follows on the next line.
                if let Some((next_line, next_raw)) = lines(k + 1)
                    && let LineKind::Row(mut cells) =
                        classify(next_line, next_raw, cols, name_at, memo)
                    && cells.get(name_at).is_some_and(String::is_empty)
                {
                    if !take(n, line) {
                        break;
                    }
                    if let Some(c) = cells.get_mut(name_at) {
                        *c = part;
                    }
                    let mut row = row_of(line, cells);
                    for c in row.cells.iter_mut().filter(|c| c.line == line) {
                        c.line = next_line;
                    }
                    if let Some(c) = row.cells.get_mut(name_at) {
                        c.line = line;
                    }
                    rows.push(row);
                    data_rows += 1;
                    open_name = false;
                    k += 2;
                    continue;
                }
                let continues = part.starts_with(|c: char| !c.is_uppercase());
                let Some(last) = rows.last_mut().filter(|_| data_rows > 0) else {
                    break;
                };
                let Some(cell) = last.cells.get_mut(name_at) else {
                    break;
                };
                if !(open_name || continues)
                    || cell.text.chars().count() + part.chars().count() > MAX_NAME_CHARS
                {
                    break;
                }
                cell.text.push_str(&part);
                open_name = !looks_like_file_name(&cell.text);
                k += 1;
            }
            LineKind::Header if data_rows > 0 => {
                open_name = false;
                k += 1;
            }
            LineKind::Section(t) if data_rows > 0 => {
                // Only when a row follows it.
                let next_is_row = lines(k + 1).is_some_and(|(no, r)| {
                    matches!(classify(no, r, cols, name_at, memo), LineKind::Row(c) if c.get(name_at).is_some_and(|s| !s.is_empty()))
                });
                if !next_is_row || !take(n, line) {
                    break;
                }
                let mut cells = vec![String::new(); n];
                if let Some(c) = cells.get_mut(name_at) {
                    *c = t;
                }
                rows.push(row_of(line, cells));
                open_name = false;
                k += 1;
            }
            _ => break,
        }
    }
    (data_rows > 0).then_some((rows, k))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cols(line: &str) -> Vec<(String, Option<Column>)> {
        header(line)
            .unwrap_or_default()
            .into_iter()
            .map(|c| (c.text, c.col))
            .collect()
    }

    #[test]
    fn headers() {
        assert_eq!(
            cols("File name            File version      File size  Date         Time   Platform")
                .len(),
            6
        );
        // Single blanks between columns: the phrases decide.
        assert_eq!(
            cols("File name File version File size Date (UTC) Time (UTC) Platform"),
            vec![
                ("File name".to_string(), Some(Column::Name)),
                ("File version".to_string(), Some(Column::Version)),
                ("File size".to_string(), Some(Column::Size)),
                ("Date (UTC)".to_string(), Some(Column::Date)),
                ("Time (UTC)".to_string(), Some(Column::Time)),
                ("Platform".to_string(), Some(Column::Platform)),
            ]
        );
        assert_eq!(cols("Dateiname      Dateigröße   SHA-256 hash").len(), 3);
        assert!(header("File name").is_none());
        assert!(
            header("The file name and the time are listed below for every file in it.").is_none()
        );
    }

    #[test]
    fn rows_by_position() {
        let h = header("File name     File version    Size  Date         Time   Platform").unwrap();
        let line = "Vssapi.dll    6.1.7600.20541  1,124,352  05-Oct-2009         x86";
        let cells = by_position(line, &h, &chunks(line));
        assert_eq!(
            cells,
            [
                "Vssapi.dll",
                "6.1.7600.20541",
                "1,124,352",
                "05-Oct-2009",
                "",
                "x86"
            ]
        );
        assert!(fits(&h, &cells));
        let prose = "Note: the files below are for the x64 version only.";
        assert!(!fits(&h, &by_position(prose, &h, &chunks(prose))));
    }
}
