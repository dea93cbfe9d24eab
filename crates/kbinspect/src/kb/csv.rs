//! Kept over the `csv` crate: it skips blank lines (which end a table here), reads `; "quoted"` after a space as literal text, and holds every field of a record (no per-row cap on hostile input).
//! Delimited values (CSV with `,` or `;`, TSV) with RFC 4180 quoting. A
//! record with a single value is a heading line; a blank line ends a table.

use super::blocks::{Block, GridRow, MAX_ROW_CELLS, Sink};
use super::grid::header_row;
use super::words::{self, Column};
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
                let mut first = Vec::new();
                records(line, d, |_, f| {
                    if first.is_empty() {
                        first = f;
                    }
                });
                if first.len() >= 2 && header_row(first.iter().map(String::as_str)).is_some() {
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
    let mut out = Sink::new();
    let mut grid: Vec<GridRow> = Vec::new();
    records(text, d, |line, fields| {
        let filled = fields.iter().filter(|f| !f.trim().is_empty()).count();
        if fields.len() <= 1 || filled == 0 {
            out.grid(std::mem::take(&mut grid));
            if let Some(t) = fields.iter().find(|f| !f.trim().is_empty()) {
                out.text(Block::Text(Cow::Owned(t.trim().to_string())));
            }
            return;
        }
        if out.take_cells(fields.len(), line) {
            grid.push(GridRow::on_line(
                line,
                fields.into_iter().map(|f| f.trim().to_string()),
            ));
        }
    });
    out.grid(grid);
    out.finish()
}

/// Calls `each(line, fields)` for every record, `line` being where it
/// starts. Quoted fields may hold delimiters, doubled quotes and newlines;
/// an unterminated quote runs to the end of the input. Fields beyond
/// [`MAX_ROW_CELLS`] are dropped.
fn records(text: &str, d: char, mut each: impl FnMut(usize, Vec<String>)) {
    // Delimiters, quotes and line ends are ASCII, so every position found
    // below is a char boundary and runs between them are copied whole.
    let bytes = text.as_bytes();
    let delim = u8::try_from(d).unwrap_or(b',');
    let mut fields: Vec<String> = Vec::new();
    let mut field = String::new();
    let mut line = 1usize;
    let mut start_line = 1usize;
    let mut at_field_start = true;
    let mut i = 0usize;
    let end_field = |fields: &mut Vec<String>, field: &mut String| {
        let f = std::mem::take(field);
        if fields.len() < MAX_ROW_CELLS {
            fields.push(f);
        }
    };
    while i < bytes.len() {
        if at_field_start {
            // `, "quoted"`: spaces before an opening quote are not data.
            let spaces = bytes
                .get(i..)
                .map_or(0, |r| r.iter().take_while(|b| **b == b' ').count());
            if bytes.get(i + spaces) == Some(&b'"') {
                i += spaces + 1;
                at_field_start = false;
                loop {
                    let rest = bytes.get(i..).unwrap_or_default();
                    let Some(q) = rest.iter().position(|b| *b == b'"') else {
                        let run = text.get(i..).unwrap_or_default();
                        line += run.matches('\n').count();
                        field.push_str(run);
                        i = bytes.len();
                        break;
                    };
                    let run = text.get(i..i + q).unwrap_or_default();
                    line += run.matches('\n').count();
                    field.push_str(run);
                    if bytes.get(i + q + 1) == Some(&b'"') {
                        field.push('"');
                        i += q + 2;
                    } else {
                        i += q + 1;
                        break;
                    }
                }
                continue;
            }
        }
        let rest = bytes.get(i..).unwrap_or_default();
        let stop = rest
            .iter()
            .position(|b| *b == delim || *b == b'\n' || *b == b'\r')
            .unwrap_or(rest.len());
        if stop > 0 {
            field.push_str(text.get(i..i + stop).unwrap_or_default());
            at_field_start = false;
            i += stop;
        }
        match bytes.get(i) {
            Some(b'\n') => {
                end_field(&mut fields, &mut field);
                each(start_line, std::mem::take(&mut fields));
                line += 1;
                start_line = line;
                at_field_start = true;
            }
            Some(b) if *b == delim => {
                end_field(&mut fields, &mut field);
                at_field_start = true;
            }
            _ => {}
        }
        i += 1;
    }
    if !field.is_empty() || !fields.is_empty() {
        end_field(&mut fields, &mut field);
        each(start_line, fields);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting() {
        let mut r = Vec::new();
        records("a,\"b,c\",\"d\"\"e\"\n\"x\ny\",z\n", ',', |l, f| {
            r.push((l, f))
        });
        assert_eq!(
            r,
            vec![
                (1, vec!["a".to_string(), "b,c".into(), "d\"e".into()]),
                (2, vec!["x\ny".to_string(), "z".into()]),
            ]
        );
        let mut r = Vec::new();
        records("a; \"b\";\"unterminated\n;x", ';', |l, f| r.push((l, f)));
        assert_eq!(
            r,
            vec![(
                1,
                vec!["a".to_string(), "b".into(), "unterminated\n;x".into()]
            )]
        );
        let mut r = Vec::new();
        records("\r\n\"a\"b,c\r\nd", ',', |l, f| r.push((l, f)));
        assert_eq!(
            r,
            vec![
                (1, vec![String::new()]),
                (2, vec!["ab".to_string(), "c".into()]),
                (3, vec!["d".to_string()])
            ]
        );
    }
}
