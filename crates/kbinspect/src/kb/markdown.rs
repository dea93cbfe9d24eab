//! Markdown pipe tables, as found in Microsoft's support-article sources and
//! copies of them: padded or not, indented in lists or block quotes, cells
//! split with `<br/>`, trailing empty rows, vertical key/value tables.

use super::blocks::{Block, GridRow, MAX_ROW_CELLS, Sink};
use super::clean::clean_cell;

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
                    grid.push(GridRow::on_line(line, cells.into_iter().map(clean_cell)));
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells() {
        assert_eq!(split_row("|a|b\\|c| d |"), vec!["a", "b\\|c", " d "]);
        assert_eq!(split_row("| a | b"), vec![" a ", " b"]);
    }
}
