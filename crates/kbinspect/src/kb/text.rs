//! Plain text. Three forms of file table are read, in any mix:
//!
//! - scraped from a web page, every table cell on its own line (blank lines
//!   between them are ignored). A run of header words (`File name`, `File
//!   version`, …) starts a table and fixes its column count; following
//!   lines are cut into rows of that many cells for as long as they fit the
//!   columns (a size is a number, a date a date, …); `File name`, value,
//!   `File size`, value, … lines are a key/value table;
//! - whitespace-aligned columns under a one-line header ([`super::aligned`]);
//! - `Key: value` lines, one file per block ([`super::kv`]).

use super::blocks::{Block, Cell, GridRow, Sink};
use super::grid::{header_row, unglue};
use super::lines::{self, Window};
use super::words::{self, Column};
use super::{aligned, kv, values};
use std::borrow::Cow;

pub(crate) fn blocks(text: &str) -> Vec<Block<'_>> {
    let mut w = lines::window(text);
    let mut out = Sink::new();
    let mut memo = aligned::HeaderMemo::default();
    let mut i = 0;
    while let Some((line, t)) = w.get(i) {
        w.release(i);
        // A header line of whitespace-aligned columns.
        if let Some((_, raw)) = w.raw(i)
            && let Some(cols) = memo.get(line, raw).map(<[aligned::Col]>::to_vec)
        {
            let found = aligned::table(
                (line, raw),
                &cols,
                |k| w.raw(i + 1 + k),
                |n, l| out.take_cells(n, l),
                &mut memo,
            );
            if let Some((rows, used)) = found {
                out.take_cells(cols.len(), line);
                out.grid(rows);
                i += 1 + used;
                continue;
            }
        }
        // `File name: Vssapi.dll`, `File size: 1,124,352`, …
        if kv::pair(t).is_some_and(|p| p.0 == Column::Name)
            && let Some((rows, used)) = kv::block(|k| w.get(i + k), out.cells_left() / 2)
        {
            match rows {
                Some(rows) if out.take_cells(rows.len() * 2, line) => out.grid(rows),
                Some(_) => {}
                None => {
                    out.take_cells(usize::MAX, line);
                }
            }
            i += used;
            continue;
        }
        // Tables start with a header word: `File name` for most, `Date`
        // for old "file attributes" tables that put the name last.
        if words::header(t).is_none() {
            out.text(prose(t));
            i += 1;
            continue;
        }
        if let Some((n, columns)) = header_at(&mut w, i)
            && out.take_cells(n, line)
        {
            let mut rows = vec![grid_row(&w.range(i, n).unwrap_or_default())];
            let name_at = columns.iter().position(|c| *c == Column::Name).unwrap_or(0);
            let mut j = i + n;
            loop {
                w.release(j);
                let Some(cand) = w.range(j, n) else {
                    let left: Vec<_> = (j..j + n).map_while(|k| w.get(k)).collect();
                    let l = left.first().map_or(0, |c| c.0);
                    if left
                        .iter()
                        .take(name_at + 1)
                        .any(|c| looks_like_file_name(c.1))
                    {
                        out.warn(
                            l,
                            format!(
                                "incomplete row: {} line(s) left for a {n}-column table; not read",
                                left.len()
                            ),
                        );
                    }
                    break;
                };
                match fits(&columns, &cand) {
                    Ok(()) if out.take_cells(n, cand.first().map_or(0, |c| c.0)) => {
                        rows.push(grid_row(&cand));
                        j += n;
                    }
                    Ok(()) => break,
                    Err(reason) => {
                        if let Some(&(_, name)) = cand.get(name_at)
                            && looks_like_file_name(name)
                        {
                            let l = cand.first().map_or(0, |c| c.0);
                            out.warn(
                                l,
                                format!(
                                    "row of {name:?} does not fit the {n}-column table ({reason}); the table ends here"
                                ),
                            );
                        }
                        break;
                    }
                }
            }
            out.grid(rows);
            i = j;
            continue;
        }
        if let Some((rows, next)) = vertical_at(&mut w, i, out.cells_left() / 2) {
            // Over the cell budget the block is skipped whole (not re-scanned
            // from each of its lines).
            match rows {
                Some(rows) if out.take_cells(rows.len() * 2, line) => out.grid(rows),
                Some(_) => {}
                None => {
                    out.take_cells(usize::MAX, line);
                }
            }
            i = next;
            continue;
        }
        out.text(prose(t));
        i += 1;
    }
    out.finish()
}

/// A line of prose or a heading. A markdown heading (`## For all …`, a
/// markdown source without pipe tables) loses its markup when used.
fn prose(t: &str) -> Block<'_> {
    if t.starts_with('#') {
        Block::Markup(t)
    } else {
        Block::Text(Cow::Borrowed(t))
    }
}

/// A header starts at `i` when a line names the file name and the next
/// lines name further columns; returns the column count and columns.
fn header_at<'a, I: Iterator<Item = (usize, &'a str)>>(
    w: &mut Window<'a, I>,
    i: usize,
) -> Option<(usize, Vec<Column>)> {
    let (_, first) = w.get(i)?;
    let mut columns = vec![words::header(first)?.0];
    let mut ends_in_repeat = false;
    while let Some((_, t)) = w.get(i + columns.len()) {
        match words::header(t) {
            Some((col, _)) if !columns.contains(&col) => columns.push(col),
            Some(_) => {
                ends_in_repeat = true;
                break;
            }
            None => break,
        }
    }
    // A run that starts before the file name and ends in a repeated word is
    // the tail of a key/value block running into a header (`File size`,
    // `File name`, `File version`, …, `File size`): the header starts at
    // the file name.
    if ends_in_repeat && columns.first() != Some(&Column::Name) {
        return None;
    }
    let cells = w.range(i, columns.len())?;
    header_row(cells.iter().map(|(_, t)| *t))?;
    Some((columns.len(), columns))
}

/// Key/value blocks scraped one cell per line: `File name`, `Update.mum`,
/// `File version`, `Not applicable`, … Each `File name` starts a file.
/// Returns the two-cell rows (at most `max_rows`; `None` when the block is
/// longer, so the caller can skip it) and the index after the block.
fn vertical_at<'a, I: Iterator<Item = (usize, &'a str)>>(
    w: &mut Window<'a, I>,
    i: usize,
    max_rows: usize,
) -> Option<(Option<Vec<GridRow>>, usize)> {
    let mut is_key = |j: usize| w.get(j).and_then(|(_, t)| words::header(t));
    if is_key(i)?.0 != Column::Name || is_key(i + 1).is_some() || is_key(i + 2).is_none() {
        return None;
    }
    let mut rows = Vec::new();
    let mut pairs = 0usize;
    let mut j = i;
    while w.get(j).and_then(|(_, t)| words::header(t)).is_some()
        && w.get(j + 1)
            .is_some_and(|(_, t)| words::header(t).is_none())
    {
        if pairs < max_rows
            && let Some(pair) = w.range(j, 2)
        {
            rows.push(grid_row(&pair));
        }
        pairs += 1;
        j += 2;
        // Once two pairs are seen the block is certain, and its lines can
        // go (a short block must stay readable as text).
        if pairs >= 2 {
            w.release(j);
        }
    }
    if pairs < 2 {
        return None;
    }
    Some(((pairs <= max_rows).then_some(rows), j))
}

fn grid_row(cells: &[(usize, &str)]) -> GridRow {
    GridRow {
        line: cells.first().map_or(0, |c| c.0),
        cells: cells
            .iter()
            .map(|&(line, t)| Cell {
                line,
                text: t.to_string(),
            })
            .collect(),
        from_stream: true,
    }
}

fn fits(columns: &[Column], cells: &[(usize, &str)]) -> Result<(), String> {
    for (col, &(_, t)) in columns.iter().zip(cells) {
        let na = words::is_not_applicable(t);
        match col {
            Column::Name if words::header(t).is_some() || t.chars().count() > 260 => {
                return Err(format!("{t:?} is not a file name"));
            }
            Column::Version
                if !na && (t.len() > 40 || !t.starts_with(|c: char| c.is_ascii_digit())) =>
            {
                return Err(format!("{t:?} is not a version"));
            }
            Column::Size if !na => values::parse_size(t).map(drop)?,
            Column::Date if !na => values::parse_date(t).map(drop)?,
            Column::Time if !na => values::parse_time(t).map(drop)?,
            Column::Platform | Column::ServiceBranch | Column::SpRequirement
                if (t.chars().count() > 40 || words::header(t).is_some()) && !glued(t) =>
            {
                return Err(format!("{t:?} is not a {col:?} value"));
            }
            _ => {}
        }
    }
    Ok(())
}

/// A last cell that swallowed the next line (`WOWStatus`); `build` repairs it.
fn glued(t: &str) -> bool {
    unglue(t, words::PLATFORM_WORDS).is_some()
        || unglue(t, words::BRANCH_WORDS).is_some()
        || unglue(t, words::na_words()).is_some()
}

/// `Vssapi.dll`, `Update.mum`: no spaces, a dot followed by a short extension.
fn looks_like_file_name(t: &str) -> bool {
    !t.contains(char::is_whitespace)
        && t.rsplit_once('.').is_some_and(|(stem, ext)| {
            !stem.is_empty()
                && (1..=8).contains(&ext.len())
                && ext.chars().all(|c| c.is_ascii_alphanumeric())
        })
}
