//! Delimited values (CSV with `,` or `;`, TSV) with RFC 4180 quoting. A
//! record with a single value is a heading line; a blank line ends a table.

use super::build::header_row;
use super::words::{self, Column};
use super::{Block, Cell, GridRow};
use std::borrow::Cow;

const DELIMITERS: [char; 3] = ['\t', ';', ','];
/// Detection looks for a header row this far into the input.
const DETECT_LINES: usize = 20_000;

/// The delimiter whose split of some line yields a header row, or of two
/// consecutive lines yields `File name`,value and another key,value.
fn delimiter(text: &str) -> Option<char> {
    let mut prev_name_pair: Option<char> = None;
    for line in text.lines().take(DETECT_LINES) {
        let mut name_pair = None;
        if line.len() <= 4096 {
            for d in DELIMITERS {
                if !line.contains(d) {
                    continue;
                }
                let fields = records(line, d);
                let Some((_, first)) = fields.first() else {
                    continue;
                };
                if first.len() >= 3 && header_row(first.iter().map(String::as_str)).is_some() {
                    return Some(d);
                }
                if let [k, v] = first.as_slice()
                    && words::header(v).is_none()
                    && let Some((col, _)) = words::header(k)
                {
                    if prev_name_pair == Some(d) && col != Column::Name {
                        return Some(d);
                    }
                    if col == Column::Name {
                        name_pair = Some(d);
                    }
                }
            }
        }
        prev_name_pair = name_pair;
    }
    None
}

pub(crate) fn looks_like(text: &str) -> bool {
    delimiter(text).is_some()
}

pub(crate) fn blocks(text: &str) -> Vec<Block<'_>> {
    let d = delimiter(text).unwrap_or(',');
    let mut out = Vec::new();
    let mut grid: Vec<GridRow> = Vec::new();
    for (line, fields) in records(text, d) {
        let filled: Vec<&String> = fields.iter().filter(|f| !f.trim().is_empty()).collect();
        if fields.len() <= 1 || filled.is_empty() {
            if !grid.is_empty() {
                out.push(Block::Grid(std::mem::take(&mut grid)));
            }
            if let Some(t) = filled.first() {
                out.push(Block::Text(Cow::Owned(t.trim().to_string())));
            }
            continue;
        }
        grid.push(GridRow {
            line,
            cells: fields
                .into_iter()
                .map(|f| Cell {
                    line,
                    text: f.trim().to_string(),
                })
                .collect(),
            from_stream: false,
        });
    }
    if !grid.is_empty() {
        out.push(Block::Grid(grid));
    }
    out
}

/// Records with the 1-based line each starts on. Quoted fields may hold
/// delimiters, doubled quotes and newlines; an unterminated quote runs to
/// the end of the input.
fn records(text: &str, d: char) -> Vec<(usize, Vec<String>)> {
    let mut out = Vec::new();
    let mut fields: Vec<String> = Vec::new();
    let mut field = String::new();
    let mut line = 1usize;
    let mut start_line = 1usize;
    let mut in_quotes = false;
    let mut at_field_start = true;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if in_quotes {
            match c {
                '"' if chars.peek() == Some(&'"') => {
                    field.push('"');
                    chars.next();
                }
                '"' => in_quotes = false,
                '\n' => {
                    line += 1;
                    field.push('\n');
                }
                c => field.push(c),
            }
            continue;
        }
        match c {
            '"' if at_field_start => {
                in_quotes = true;
                at_field_start = false;
            }
            '\r' => {}
            '\n' => {
                fields.push(std::mem::take(&mut field));
                out.push((start_line, std::mem::take(&mut fields)));
                line += 1;
                start_line = line;
                at_field_start = true;
            }
            c if c == d => {
                fields.push(std::mem::take(&mut field));
                at_field_start = true;
            }
            c => {
                if !(at_field_start && c == ' ') {
                    at_field_start = false;
                }
                field.push(c);
            }
        }
    }
    if !field.is_empty() || !fields.is_empty() {
        fields.push(field);
        out.push((start_line, fields));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting() {
        let r = records("a,\"b,c\",\"d\"\"e\"\n\"x\ny\",z\n", ',');
        assert_eq!(
            r,
            vec![
                (1, vec!["a".to_string(), "b,c".into(), "d\"e".into()]),
                (2, vec!["x\ny".to_string(), "z".into()]),
            ]
        );
    }
}
