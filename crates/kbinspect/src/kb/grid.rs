//! What a file table looks like, independent of layout: header rows (the
//! column each cell names), vertical key/value tables, and cells that ran
//! into the next line of a scraped page. Used by the front-ends to find
//! tables and by the builder to read them.

use super::blocks::{Cell, GridRow};
use super::words::{self, Column};

/// A header row: the column each cell names, and the header's language.
pub(crate) struct Header {
    pub columns: Vec<Option<Column>>,
    pub lang: usize,
}

/// Recognise a header row: it names the file name and at least one of file
/// version, file size and date (copies and downloadable lists often keep
/// only some columns), and no more unknown cells than known ones. Time,
/// platform or service branch alone do not make a file table: they say
/// nothing about the file itself.
pub(crate) fn header_row<'a>(cells: impl Iterator<Item = &'a str>) -> Option<Header> {
    let mut columns = Vec::new();
    let mut lang = None;
    let mut unknown = 0usize;
    let mut seen = Vec::new();
    for cell in cells {
        let h = words::header(cell);
        match h {
            Some((col, li)) => {
                if seen.contains(&col) {
                    return None;
                }
                seen.push(col);
                if col == Column::Name {
                    lang = Some(li);
                }
                columns.push(Some(col));
            }
            None => {
                if !cell.trim().is_empty() {
                    unknown += 1;
                }
                columns.push(None);
            }
        }
    }
    let lang = lang?;
    let describes_file = seen
        .iter()
        .any(|c| matches!(c, Column::Version | Column::Size | Column::Date));
    // Extra columns (hashes, attributes) are fine as long as the known ones
    // dominate; a row of prose that happens to hold a few words is not.
    (describes_file && unknown <= seen.len()).then_some(Header { columns, lang })
}

/// True when a grid holds a file table (used by the HTML front-end to tell
/// layout tables from data tables).
pub(crate) fn is_file_grid(rows: &[GridRow]) -> bool {
    is_vertical(rows)
        || rows
            .iter()
            .any(|r| header_row(r.cells.iter().map(|c| c.text.as_str())).is_some())
}

pub(crate) fn non_empty(row: &GridRow) -> impl Iterator<Item = &Cell> {
    row.cells.iter().filter(|c| !c.text.trim().is_empty())
}

/// Vertical key/value tables: `| File name | Update.mum |`, `| File size | 1,674 |`, …
pub(crate) fn is_vertical(rows: &[GridRow]) -> bool {
    let Some(first) = rows.iter().find(|r| non_empty(r).next().is_some()) else {
        return false;
    };
    let cells: Vec<&Cell> = non_empty(first).collect();
    matches!(cells.as_slice(), [k, v]
        if words::header(&k.text).map(|h| h.0) == Some(Column::Name) && words::header(&v.text).is_none())
}

/// A cell that ran into the next line of the page (`WOWStatus`): the known
/// word it starts with, and the rest.
pub(crate) fn unglue<S: AsRef<str>>(text: &str, known: &[S]) -> Option<(String, String)> {
    if known.iter().any(|k| k.as_ref().eq_ignore_ascii_case(text)) {
        return None;
    }
    let mut best: Option<&str> = None;
    for k in known {
        let k = k.as_ref();
        let (Some(head), Some(rest)) = (text.get(..k.len()), text.get(k.len()..)) else {
            continue;
        };
        if head.eq_ignore_ascii_case(k)
            && rest.chars().next().is_some_and(char::is_uppercase)
            && best.is_none_or(|b| b.len() < k.len())
        {
            best = Some(k);
        }
    }
    let k = best?;
    Some((
        text.get(..k.len())?.to_string(),
        text.get(k.len()..)?.to_string(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unglue_splits_known_word_before_capital() {
        assert_eq!(
            unglue("WOWStatus", words::BRANCH_WORDS),
            Some(("WOW".into(), "Status".into()))
        );
        assert_eq!(unglue("WOW", words::BRANCH_WORDS), None);
        assert_eq!(unglue("SP1QFE", words::BRANCH_WORDS), None);
        assert_eq!(unglue("WOWza", words::BRANCH_WORDS), None);
        assert_eq!(
            unglue("x86Extra bestanden", words::PLATFORM_WORDS),
            Some(("x86".into(), "Extra bestanden".into()))
        );
        // Words longer than the cell are skipped, not a reason to give up.
        assert_eq!(
            unglue("x86Ab", words::PLATFORM_WORDS),
            Some(("x86".into(), "Ab".into()))
        );
        assert_eq!(
            unglue("Niet van toepassingAanvullende", words::na_words()),
            Some(("Niet van toepassing".into(), "Aanvullende".into()))
        );
    }
}
