//! Markdown pipe tables, as found in Microsoft's support-article sources and
//! copies of them: padded or not, indented in lists or block quotes, cells
//! split with `<br/>`, trailing empty rows, vertical key/value tables.

use super::html::decode_entities;
use super::{Block, Cell, GridRow, MAX_ROW_CELLS, Sink};
use std::borrow::Cow;

/// Strip block-quote markers and indentation.
fn unquote(line: &str) -> &str {
    let mut t = line.trim_start();
    while let Some(rest) = t.strip_prefix('>') {
        t = rest.trim_start();
    }
    t
}

/// `|---|:--:|` (the line under a header row).
fn is_separator(t: &str) -> bool {
    let t = t.trim();
    t.contains('|')
        && t.contains('-')
        && t.chars().all(|c| matches!(c, '|' | '-' | ':' | ' ' | '\t'))
}

pub(crate) fn looks_like(text: &str) -> bool {
    let mut prev_pipe = false;
    for line in text.lines() {
        let t = unquote(line);
        if prev_pipe && is_separator(t) {
            return true;
        }
        prev_pipe = t.contains('|');
    }
    false
}

pub(crate) fn blocks(text: &str) -> Vec<Block<'_>> {
    let mut lines = text.lines().enumerate().peekable();
    let mut out = Sink::new();
    let mut grid: Vec<GridRow> = Vec::new();
    while let Some((idx, raw)) = lines.next() {
        let line = idx + 1;
        let t = unquote(raw);
        let next_is_sep = lines.peek().is_some_and(|(_, n)| is_separator(unquote(n)));
        let is_row = t.starts_with('|') || (t.contains('|') && (next_is_sep || !grid.is_empty()));
        if is_row {
            if !is_separator(t) {
                let cells = split_row(t);
                if out.take_cells(cells.len(), line) {
                    grid.push(GridRow {
                        line,
                        cells: cells
                            .into_iter()
                            .map(|c| Cell {
                                line,
                                text: clean_cell(c),
                            })
                            .collect(),
                        from_stream: false,
                    });
                }
            }
            continue;
        }
        out.grid(std::mem::take(&mut grid));
        if !t.trim().is_empty() {
            out.text(Block::Markup(t));
        }
    }
    out.grid(grid);
    out.finish()
}

/// Cells of `| a | b\|c | d |`: outer pipes dropped, `\|` kept as a pipe.
fn split_row(t: &str) -> Vec<&str> {
    let t = t.trim();
    let t = t.strip_prefix('|').unwrap_or(t);
    let t = t
        .strip_suffix('|')
        .filter(|s| !s.ends_with('\\'))
        .unwrap_or(t);
    let mut cells = Vec::new();
    let mut start = 0;
    let mut escaped = false;
    for (i, c) in t.char_indices() {
        match c {
            '\\' => escaped = !escaped,
            '|' if !escaped => {
                cells.push(t.get(start..i).unwrap_or_default());
                start = i + 1;
                if cells.len() >= MAX_ROW_CELLS {
                    return cells;
                }
            }
            _ => escaped = false,
        }
    }
    cells.push(t.get(start..).unwrap_or_default());
    cells
}

/// Remove `<br/>` (a long name split over lines joins without a space),
/// emphasis, escapes, links and entities.
pub(crate) fn clean_cell(c: &str) -> String {
    let mut s = String::with_capacity(c.len());
    let mut rest = c;
    while let Some(pos) = rest.find('<') {
        let (before, after) = rest.split_at(pos);
        let tag_end = after.find('>');
        let is_br = tag_end.is_some_and(|e| {
            let inner = after
                .get(1..e)
                .unwrap_or_default()
                .trim()
                .trim_end_matches('/')
                .trim();
            inner.eq_ignore_ascii_case("br") || inner.eq_ignore_ascii_case("wbr")
        });
        if is_br {
            s.push_str(before.trim_end());
            rest = after
                .get(tag_end.unwrap_or(0) + 1..)
                .unwrap_or_default()
                .trim_start();
        } else {
            s.push_str(before);
            s.push('<');
            rest = after.get(1..).unwrap_or_default();
        }
    }
    s.push_str(rest);
    let s = strip_links(&s);
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(ch) = chars.next() {
        match ch {
            '\\' => {
                if let Some(&n) = chars.peek()
                    && n.is_ascii_punctuation()
                {
                    out.push(n);
                    chars.next();
                } else {
                    out.push(ch);
                }
            }
            '*' | '`' => {}
            _ => out.push(ch),
        }
    }
    let decoded = decode_entities(&out);
    collapse_ws(&decoded)
}

/// `[text](url)` → `text`
fn strip_links(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(open) = rest.find('[') {
        let Some(close_rel) = rest.get(open..).and_then(|r| r.find("](")) else {
            break;
        };
        let close = open + close_rel;
        let Some(end_rel) = rest.get(close..).and_then(|r| r.find(')')) else {
            break;
        };
        out.push_str(rest.get(..open).unwrap_or_default());
        out.push_str(rest.get(open + 1..close).unwrap_or_default());
        rest = rest.get(close + end_rel + 1..).unwrap_or_default();
    }
    out.push_str(rest);
    out
}

pub(crate) fn collapse_ws(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for w in s.split(|c: char| c.is_whitespace() && c != '\u{a0}' && c != '\u{202f}') {
        if w.is_empty() {
            continue;
        }
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(w);
    }
    out.trim_matches(|c: char| c.is_whitespace()).to_string()
}

/// A line of prose or a heading without its markup (`##### `, `- `, `**`).
pub(crate) fn clean_heading(t: &str) -> Cow<'_, str> {
    let mut s = t.trim();
    s = s.trim_start_matches('#').trim_start();
    for marker in ["- ", "* ", "+ "] {
        if let Some(r) = s.strip_prefix(marker) {
            s = r.trim_start();
            break;
        }
    }
    let digits = s.chars().take_while(char::is_ascii_digit).count();
    if digits > 0
        && let Some(r) = s.get(digits..).and_then(|r| r.strip_prefix(". "))
    {
        s = r.trim_start();
    }
    s = s.trim_end_matches('#').trim_end();
    if s.contains(['*', '[', '&', '<', '\\', '`']) {
        Cow::Owned(clean_cell(s))
    } else {
        Cow::Borrowed(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells() {
        assert_eq!(
            clean_cell("X86_c1405_31bf3856ad364e35_<br/>6.0.6002.22774_none.manifest"),
            "X86_c1405_31bf3856ad364e35_6.0.6002.22774_none.manifest"
        );
        assert_eq!(clean_cell(" **Vssapi.dll** "), "Vssapi.dll");
        assert_eq!(clean_cell("a\\_b"), "a_b");
        assert_eq!(clean_cell("[Update.mum](http://x)"), "Update.mum");
        assert_eq!(clean_cell("1&nbsp;124"), "1\u{a0}124");
        assert_eq!(split_row("|a|b\\|c| d |"), vec!["a", "b\\|c", " d "]);
        assert_eq!(split_row("| a | b"), vec![" a ", " b"]);
        assert_eq!(clean_heading("##### For all x86"), "For all x86");
        assert_eq!(clean_heading("- For all x86"), "For all x86");
        assert_eq!(clean_heading("**For all x64**"), "For all x64");
    }
}
