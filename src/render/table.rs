//! Tables written row by row, byte for byte what comfy-table prints with
//! the house style ([`super::table`]: `UTF8_FULL_CONDENSED`, no wrapping).
//!
//! comfy-table keeps every cell, then a padded copy of every line, then the
//! whole text: for `verify` or `ls` of a package with tens of thousands of
//! rows that is tens of megabytes. Here the caller produces the rows twice
//! (once to measure the column widths, once to write), so nothing but one
//! row is held. `tests/report_table.rs` compares the output with
//! comfy-table's on generated rows.

use std::io::{self, Write};

use unicode_width::UnicodeWidthStr;

/// Widest column (in terminal cells) comfy-table lays out without
/// wrapping: it keeps widths in a `u16`. Wider columns go to comfy-table.
const MAX_WIDTH: usize = u16::MAX as usize;

/// Write a table with `header` and the rows `rows()` yields. `rows` is
/// called twice and must yield the same rows both times; each row has one
/// cell per header column (missing cells are empty, extra cells dropped).
pub fn write_table<W, F, I>(out: &mut W, header: &[&str], rows: F) -> io::Result<()>
where
    W: Write + ?Sized,
    F: Fn() -> I,
    I: Iterator<Item = Vec<String>>,
{
    let columns = header.len();
    // comfy-table gives every column at least one cell of content width.
    let mut widths: Vec<usize> = vec![1; columns];
    let mut measure = |cells: &mut dyn Iterator<Item = &str>| {
        for (w, cell) in widths.iter_mut().zip(cells) {
            // comfy-table measures each line of a cell on its own.
            let cell_width = cell.split('\n').map(|l| l.width()).max().unwrap_or(0);
            *w = (*w).max(cell_width);
        }
    };
    measure(&mut header.iter().copied());
    for row in rows() {
        measure(&mut row.iter().map(String::as_str));
    }
    if widths.iter().any(|&w| w >= MAX_WIDTH) {
        return write_with_comfy(out, header, rows);
    }
    write_with_widths(out, &widths, &mut header.iter().copied(), rows())
}

/// The table drawn with the given content widths; every cell line fits
/// its column.
fn write_with_widths<W, R>(
    out: &mut W,
    widths: &[usize],
    header: &mut dyn Iterator<Item = &str>,
    rows: R,
) -> io::Result<()>
where
    W: Write + ?Sized,
    R: Iterator<Item = Vec<String>>,
{
    let border = |left: char, fill: char, junction: char, right: char| {
        let mut line = String::new();
        line.push(left);
        for (i, &w) in widths.iter().enumerate() {
            if i > 0 {
                line.push(junction);
            }
            // One cell of padding on either side.
            line.extend(std::iter::repeat_n(fill, w + 2));
        }
        line.push(right);
        line
    };
    let mut out = io::BufWriter::with_capacity(1 << 16, out);
    writeln!(out, "{}", border('┌', '─', '┬', '┐'))?;
    write_row(&mut out, widths, header)?;
    writeln!(out, "{}", border('╞', '═', '╪', '╡'))?;
    for row in rows {
        write_row(&mut out, widths, &mut row.iter().map(String::as_str))?;
    }
    // comfy-table's text has no newline after the last line; callers add
    // one as they did after printing it.
    write!(out, "{}", border('└', '─', '┴', '┘'))?;
    out.flush()
}

/// One row: as many text lines as its tallest cell, each cell left-aligned
/// and padded to its column.
fn write_row<W: Write>(
    out: &mut W,
    widths: &[usize],
    cells: &mut dyn Iterator<Item = &str>,
) -> io::Result<()> {
    let mut lines: Vec<std::str::Split<'_, char>> = Vec::with_capacity(widths.len());
    let mut height = 0usize;
    for _ in widths {
        let cell = cells.next().unwrap_or("");
        height = height.max(cell.split('\n').count());
        lines.push(cell.split('\n'));
    }
    for _ in 0..height {
        out.write_all("│".as_bytes())?;
        for (i, (w, parts)) in widths.iter().zip(lines.iter_mut()).enumerate() {
            if i > 0 {
                out.write_all("┆".as_bytes())?;
            }
            let part = parts.next().unwrap_or("");
            let pad = w.saturating_sub(part.width());
            write!(out, " {part}{:pad$} ", "")?;
        }
        out.write_all("│\n".as_bytes())?;
    }
    Ok(())
}

/// How a column gives way when a table is wider than the screen
/// ([`write_table_fit`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Col {
    /// Kept whole (numbers, codes, versions, dates); its header may wrap
    /// at spaces.
    Keep,
    /// Shortened in the middle (paths, file and component names).
    Path,
    /// Wrapped at spaces (details, reasons, digests).
    Text,
    /// A stacked cell: its first line a path (shortened), the others
    /// wrapped.
    Lead,
}

/// The narrowest a shortened or wrapped column gets before the table
/// gives way to one record per row.
const MIN_SHRUNK: usize = 12;
/// Words up to this long are not broken when a column is wrapped.
const MAX_WORD: usize = 20;
/// The same for a shortened path: less says too little.
const MIN_PATH: usize = 16;

/// [`write_table`] fitted to `width` cells: with `None`, exactly
/// [`write_table`] (full width). Otherwise, when the table is wider:
/// columns empty in every row are left out, then [`Col::Path`] columns are
/// shortened in the middle and [`Col::Text`] columns wrapped, the room
/// shared out (paths getting twice the share of text) so that no column
/// is cut more than it must be; headers wrap at spaces. When even that cannot fit, each row is printed as a record,
/// one `header  value` line per cell. Every line is at most `width` cells.
/// Cells are escaped for the terminal ([`crate::cli::term::escape`]) first,
/// so the widths measured are those shown.
pub fn write_table_fit<W, F, I>(
    out: &mut W,
    width: Option<usize>,
    header: &[&str],
    cols: &[Col],
    rows: F,
) -> io::Result<()>
where
    W: Write + ?Sized,
    F: Fn() -> I,
    I: Iterator<Item = Vec<String>>,
{
    let Some(max) = width else {
        return write_table(out, header, rows);
    };
    let clean = |s: &str| crate::cli::term::escape(s).replace('\t', " ");
    let n = header.len();
    let col = |i: usize| cols.get(i).copied().unwrap_or(Col::Text);
    let mut content = vec![0usize; n];
    // The longest word of each column: text is not wrapped narrower than
    // that (up to MAX_WORD), so versions and dates stay whole.
    let mut longest_word = vec![0usize; n];
    for row in rows() {
        for (i, cell) in row.iter().take(n).enumerate() {
            for line in cell.split('\n') {
                let line = clean(line);
                content[i] = content[i].max(line.width());
                let word = line.split(' ').map(|w| w.width()).max().unwrap_or(0);
                longest_word[i] = longest_word[i].max(word);
            }
        }
    }
    let natural: Vec<usize> = (0..n)
        .map(|i| content[i].max(header[i].width()).max(1))
        .collect();
    let frame = |k: usize| 3 * k + 1;
    let mut shown: Vec<usize> = (0..n).collect();
    if natural.iter().sum::<usize>() + frame(n) <= max {
        return write_fitted(out, header, &shown, &natural, &natural, cols, rows, &clean);
    }
    // Columns with nothing in them make way first.
    shown.retain(|&i| content[i] > 0);
    let word = |i: usize| header[i].split(' ').map(|w| w.width()).max().unwrap_or(1);
    let min: Vec<usize> = (0..n)
        .map(|i| match col(i) {
            Col::Keep => content[i].max(word(i)).max(1),
            Col::Path | Col::Lead => natural[i].min(MIN_PATH),
            Col::Text => natural[i].min(longest_word[i].clamp(MIN_SHRUNK, MAX_WORD)),
        })
        .collect();
    let need: usize = shown.iter().map(|&i| min[i]).sum::<usize>() + frame(shown.len());
    if need > max {
        return write_records(out, max, header, &shown, cols, rows, &clean);
    }
    // Share out the room: first the headers of kept columns, then the
    // shrunk columns, evenly, up to what they need.
    let mut w = min.clone();
    let mut spare = max - need;
    for &i in &shown {
        if col(i) == Col::Keep {
            let add = (natural[i] - w[i]).min(spare);
            w[i] += add;
            spare -= add;
        }
    }
    loop {
        let grow: Vec<usize> = shown
            .iter()
            .copied()
            .filter(|&i| w[i] < natural[i])
            .collect();
        if grow.is_empty() || spare == 0 {
            break;
        }
        // Paths grow twice as fast as wrapped text: a path cut short says
        // less than a detail on one more line.
        let weight = |i: usize| match col(i) {
            Col::Path | Col::Lead => 2,
            _ => 1,
        };
        let shares: usize = grow.iter().map(|&i| weight(i)).sum();
        let share = (spare / shares).max(1);
        for i in grow {
            let add = (share * weight(i)).min(natural[i] - w[i]).min(spare);
            w[i] += add;
            spare -= add;
        }
    }
    write_fitted(out, header, &shown, &w, &natural, cols, rows, &clean)
}

/// The table with columns `shown` at widths `w` (cells shortened or
/// wrapped to them).
#[allow(clippy::too_many_arguments)]
fn write_fitted<W, F, I>(
    out: &mut W,
    header: &[&str],
    shown: &[usize],
    w: &[usize],
    natural: &[usize],
    cols: &[Col],
    rows: F,
    clean: &dyn Fn(&str) -> String,
) -> io::Result<()>
where
    W: Write + ?Sized,
    F: Fn() -> I,
    I: Iterator<Item = Vec<String>>,
{
    let fit_cell = |i: usize, cell: &str| -> String {
        let width = w[i];
        if width >= natural[i] {
            return cell.split('\n').map(clean).collect::<Vec<_>>().join("\n");
        }
        let kind = cols.get(i).copied().unwrap_or(Col::Text);
        cell.split('\n')
            .enumerate()
            .map(|(k, line)| {
                let line = clean(line);
                match kind {
                    Col::Path => super::fit::shorten_middle(&line, width),
                    Col::Lead if k == 0 => super::fit::shorten_middle(&line, width),
                    Col::Keep | Col::Text | Col::Lead => super::fit::wrap(&line, width).join("\n"),
                }
            })
            .collect::<Vec<_>>()
            .join("\n")
    };
    let heads: Vec<String> = shown
        .iter()
        .map(|&i| super::fit::wrap(header[i], w[i]).join("\n"))
        .collect();
    let widths: Vec<usize> = shown.iter().map(|&i| w[i]).collect();
    write_with_widths(
        out,
        &widths,
        &mut heads.iter().map(String::as_str),
        rows().map(|row| {
            shown
                .iter()
                .map(|&i| fit_cell(i, row.get(i).map_or("", String::as_str)))
                .collect::<Vec<_>>()
        }),
    )
}

/// One record per row, `header  value` per non-empty cell, records apart
/// by a blank line: for tables that cannot fit as columns.
fn write_records<W, F, I>(
    out: &mut W,
    max: usize,
    header: &[&str],
    shown: &[usize],
    cols: &[Col],
    rows: F,
    clean: &dyn Fn(&str) -> String,
) -> io::Result<()>
where
    W: Write + ?Sized,
    F: Fn() -> I,
    I: Iterator<Item = Vec<String>>,
{
    let mut out = io::BufWriter::with_capacity(1 << 16, out);
    let label = shown
        .iter()
        .map(|&i| header[i].width())
        .max()
        .unwrap_or(0)
        .min(max / 3);
    let room = max.saturating_sub(label + 2).max(1);
    let mut first = true;
    for row in rows() {
        if !first {
            out.write_all(b"\n\n")?;
        }
        first = false;
        let mut line_done = false;
        for &i in shown {
            let cell = row.get(i).map_or("", String::as_str);
            if cell.is_empty() {
                continue;
            }
            let head = super::fit::shorten_middle(header[i], label);
            let pad = label - head.width();
            let kind = cols.get(i).copied().unwrap_or(Col::Text);
            let mut lines = Vec::new();
            for (k, l) in cell.split('\n').enumerate() {
                let l = clean(l);
                match kind {
                    Col::Path => lines.push(super::fit::shorten_middle(&l, room)),
                    Col::Lead if k == 0 => lines.push(super::fit::shorten_middle(&l, room)),
                    Col::Keep | Col::Text | Col::Lead => lines.extend(super::fit::wrap(&l, room)),
                }
            }
            for (k, l) in lines.iter().enumerate() {
                if line_done {
                    out.write_all(b"\n")?;
                }
                line_done = true;
                if k == 0 {
                    write!(out, "{head}{:pad$}  {l}", "")?;
                } else {
                    write!(out, "{:w$}{l}", "", w = label + 2)?;
                }
            }
        }
    }
    out.flush()
}

/// The same table through comfy-table (it then holds every row).
fn write_with_comfy<W, F, I>(out: &mut W, header: &[&str], rows: F) -> io::Result<()>
where
    W: Write + ?Sized,
    F: Fn() -> I,
    I: Iterator<Item = Vec<String>>,
{
    let mut t = super::table();
    t.set_header(header.to_vec());
    for mut row in rows() {
        row.resize(header.len(), String::new());
        t.add_row(row);
    }
    write!(out, "{t}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn render(header: &[&str], rows: &[Vec<String>]) -> String {
        let mut out = Vec::new();
        write_table(&mut out, header, || rows.iter().cloned()).expect("write to a Vec");
        String::from_utf8(out).expect("UTF-8")
    }

    #[test]
    fn small_table_has_the_house_shape() {
        let got = render(&["a", "long header"], &[vec!["xyz".into(), "1".into()]]);
        let want = "┌─────┬─────────────┐\n\
                    │ a   ┆ long header │\n\
                    ╞═════╪═════════════╡\n\
                    │ xyz ┆ 1           │\n\
                    └─────┴─────────────┘";
        assert_eq!(got, want);
    }

    #[test]
    fn short_rows_are_padded_with_empty_cells() {
        let got = render(&["a", "b"], &[vec!["only".into()]]);
        assert!(got.contains("│ only ┆   │\n"), "{got}");
    }
}

#[cfg(test)]
#[path = "table_vs_comfy.rs"]
mod vs_comfy;
