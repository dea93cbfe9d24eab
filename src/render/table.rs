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
    write_row(&mut out, &widths, &mut header.iter().copied())?;
    writeln!(out, "{}", border('╞', '═', '╪', '╡'))?;
    for row in rows() {
        write_row(&mut out, &widths, &mut row.iter().map(String::as_str))?;
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
