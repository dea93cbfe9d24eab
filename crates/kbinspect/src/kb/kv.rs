//! Key/value lines in plain text, one file per block:
//!
//! ```text
//! File name: Vssapi.dll
//! File version: 6.1.7600.20542
//! File size: 1,124,352
//! Date (UTC): 05-Oct-2009
//! ```
//!
//! A key is a header word of any language followed by `:` (or `：`); the
//! value is the rest of the line and may be empty. List bullets and
//! emphasis around key or value (`- **File name:** Vssapi.dll`) are
//! dropped. Each `File name` starts
//! a file; blocks may be separated by blank lines. The pairs become the
//! two-cell rows of a vertical table, which the builder reads like the
//! markdown and HTML key/value tables.

use super::blocks::GridRow;
use super::words::{self, Column};

/// `Key: value` → the key's column, the key and the value (trimmed).
pub(crate) fn pair(line: &str) -> Option<(Column, &str, &str)> {
    let mut t = line.trim();
    // A bulleted list (`- File name: …`, `• File name: …`).
    for bullet in ["- ", "* ", "• ", "· "] {
        if let Some(rest) = t.strip_prefix(bullet) {
            t = rest.trim_start();
            break;
        }
    }
    let (at, sep) = t
        .char_indices()
        .find(|(_, c)| matches!(c, ':' | '：'))
        .map(|(i, c)| (i, c.len_utf8()))?;
    // Emphasis around the key or the value (`**File name:** Vssapi.dll`).
    let key = t.get(..at)?.trim().trim_matches(['*', '_', '`']).trim();
    let value = t.get(at + sep..)?.trim().trim_matches(['*', '`']).trim();
    let (col, _) = words::header(key)?;
    Some((col, key, value))
}

/// The key/value block starting at the `k = 0`-th line from `lines` (which
/// must be a `File name` pair), as two-cell rows: at most `max_rows` of
/// them are kept (`None` when the block is longer, so the caller can skip
/// it). Returns the rows and the number of lines of the block; `None` when
/// it has fewer than two pairs (a lone `File name: …` is prose).
pub(crate) fn block<'a>(
    mut lines: impl FnMut(usize) -> Option<(usize, &'a str)>,
    max_rows: usize,
) -> Option<(Option<Vec<GridRow>>, usize)> {
    let (_, first) = lines(0)?;
    if pair(first)?.0 != Column::Name {
        return None;
    }
    let mut rows = Vec::new();
    let mut k = 0usize;
    while let Some((line, t)) = lines(k) {
        let Some((_, key, value)) = pair(t) else {
            break;
        };
        if k < max_rows {
            rows.push(GridRow::on_line(line, [key.to_string(), value.to_string()]));
        }
        k += 1;
    }
    if k < 2 {
        return None;
    }
    Some(((k <= max_rows).then_some(rows), k))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairs() {
        for (line, want) in [
            (
                "File name: Vssapi.dll",
                (Column::Name, "File name", "Vssapi.dll"),
            ),
            ("Time (UTC): 16:09", (Column::Time, "Time (UTC)", "16:09")),
            (
                "Nom de fichier : Vssapi.dll",
                (Column::Name, "Nom de fichier", "Vssapi.dll"),
            ),
            (
                "ファイル名：Vssapi.dll",
                (Column::Name, "ファイル名", "Vssapi.dll"),
            ),
            ("Platform:", (Column::Platform, "Platform", "")),
            (
                "- **File size:** 1,124,352",
                (Column::Size, "File size", "1,124,352"),
            ),
            (
                "• Dateigröße: 1.124.352",
                (Column::Size, "Dateigröße", "1.124.352"),
            ),
        ] {
            assert_eq!(pair(line), Some(want), "{line}");
        }
        for prose in ["Note: the file name is below", "File name"] {
            assert_eq!(pair(prose), None, "{prose}");
        }
    }
}
