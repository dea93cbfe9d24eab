//! Write an [`Article`]'s tables back out in any layout and language, with
//! the words of [`super::words::LANGS`]. Used to produce test variants (the same
//! rows in another layout or language must parse back identically) and for
//! `kbinspect kb --format csv`.

use super::clean::display_width;
use super::words::{Column, DateStyle, Lang};
use super::{Arch, Article, Kind, Layout, Row, Table};
use std::fmt::Write as _;

/// Columns written for a table: the six standard ones, plus service branch
/// and SP requirement when any row has one.
fn columns(t: &Table) -> Vec<Column> {
    // The six standard columns come first in `Column::ALL`.
    let mut cols: Vec<Column> = Column::ALL.iter().copied().take(6).collect();
    if t.rows.iter().any(|r| r.service_branch.is_some()) {
        cols.push(Column::ServiceBranch);
    }
    if t.rows.iter().any(|r| r.sp_requirement.is_some()) {
        cols.push(Column::SpRequirement);
    }
    cols
}

fn header_word(lang: &Lang, col: Column) -> &'static str {
    let i = Column::ALL.iter().position(|c| *c == col).unwrap_or(0);
    lang.headers.get(i).copied().unwrap_or("")
}

fn arch_word(a: Arch) -> &'static str {
    match a {
        Arch::X86 => "x86",
        Arch::X64 => "x64",
        Arch::Ia64 => "Itanium",
        Arch::Arm64 => "ARM64",
    }
}

/// The heading for a table in this language.
pub fn heading(t: &Table, lang: &Lang) -> String {
    match t.arch {
        Some(a) => {
            let template = match t.kind {
                Kind::Files => lang.files_heading,
                Kind::Additional => lang.additional_heading,
            };
            template.replace("{arch}", arch_word(a))
        }
        None => t.heading.clone().unwrap_or_default(),
    }
}

fn na(lang: &Lang) -> &'static str {
    lang.not_applicable.first().copied().unwrap_or("")
}

/// Group digits by three with the language's separator.
pub fn size(v: u64, lang: &Lang) -> String {
    let digits = v.to_string();
    let mut out = String::new();
    let n = digits.len();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (n - i).is_multiple_of(3) {
            out.push_str(lang.thousands);
        }
        out.push(c);
    }
    out
}

fn month_abbrev(lang: &Lang, m: usize) -> &'static str {
    lang.months
        .get(m.wrapping_sub(1))
        .and_then(|names| names.iter().min_by_key(|n| n.chars().count()))
        .copied()
        .unwrap_or("")
}

/// A `YYYY-MM-DD` date the way the language writes it.
pub fn date(iso: &str, lang: &Lang) -> String {
    let mut parts = iso.split('-').map(|p| p.parse::<usize>().unwrap_or(0));
    let (y, m, d) = (
        parts.next().unwrap_or(0),
        parts.next().unwrap_or(0),
        parts.next().unwrap_or(0),
    );
    match lang.date_style {
        DateStyle::DayMonYear => {
            let mon = month_abbrev(lang, m);
            match lang.code {
                "en" => {
                    let mut c = mon.chars();
                    let cap: String = c
                        .next()
                        .map(|f| f.to_uppercase().chain(c).collect())
                        .unwrap_or_default();
                    format!("{d:02}-{cap}-{y}")
                }
                // French abbreviates with a period, but not short names (`juin`, `mai`).
                "fr" if lang
                    .months
                    .get(m.wrapping_sub(1))
                    .is_some_and(|n| n.first() == Some(&mon)) =>
                {
                    format!("{d} {mon} {y}")
                }
                "fr" => format!("{d} {mon}. {y}"),
                "pl" => format!("{d} {mon} {y}"),
                "cs" => format!("{d}. {mon} {y}"),
                "nl" => format!("{d}-{mon}-{y}"),
                _ => format!("{d:02}-{mon}-{y}"),
            }
        }
        DateStyle::DottedDmy => format!("{d:02}.{m:02}.{y}"),
        DateStyle::SlashDmy => format!("{d:02}/{m:02}/{y}"),
        DateStyle::SlashMdy => format!("{m:02}/{d:02}/{y}"),
        DateStyle::Iso => format!("{y:04}-{m:02}-{d:02}"),
        DateStyle::SlashYmd => format!("{y:04}/{m:02}/{d:02}"),
        DateStyle::Cjk => format!("{y}年{m}月{d}日"),
    }
}

/// An `HH:MM` time the way the language writes it.
pub fn time(hhmm: &str, lang: &Lang) -> String {
    match lang.code {
        "nl" => hhmm.strip_prefix('0').unwrap_or(hhmm).to_string(),
        "ja" => format!("{hhmm}:00"),
        "fr" => hhmm.replacen(':', " h ", 1),
        "sv" | "cs" => hhmm.replacen(':', ".", 1),
        _ => hhmm.to_string(),
    }
}

/// One cell of a row, rendered.
pub fn cell(r: &Row, col: Column, lang: &Lang) -> String {
    let na = na(lang);
    let or_na = |v: &Option<String>| v.clone().unwrap_or_else(|| na.to_string());
    match col {
        Column::Name => r.name.clone(),
        Column::Version => or_na(&r.version),
        Column::Size => r.size.map_or_else(|| na.to_string(), |s| size(s, lang)),
        Column::Date => r
            .date
            .as_deref()
            .map_or_else(|| na.to_string(), |d| date(d, lang)),
        Column::Time => r
            .time
            .as_deref()
            .map_or_else(|| na.to_string(), |t| time(t, lang)),
        Column::Platform => or_na(&r.platform),
        Column::ServiceBranch => or_na(&r.service_branch),
        Column::SpRequirement => or_na(&r.sp_requirement),
    }
}

/// The whole article in one layout and language.
pub fn render(a: &Article, layout: Layout, lang: &Lang) -> String {
    render_columns(a, layout, lang, None)
}

/// What a table holds when rendered: its heading, header words, columns
/// and cell texts.
struct Rendered {
    head: String,
    headers: Vec<&'static str>,
    cols: Vec<Column>,
    rows: Vec<Vec<String>>,
}

fn rendered(t: &Table, lang: &Lang, only: Option<&[Column]>) -> Rendered {
    let cols = match only {
        None => columns(t),
        Some(only) => {
            let mut cols: Vec<Column> = only.to_vec();
            if !cols.contains(&Column::Name) {
                cols.insert(0, Column::Name);
            }
            cols
        }
    };
    Rendered {
        head: heading(t, lang),
        headers: cols.iter().map(|c| header_word(lang, *c)).collect(),
        rows: t
            .rows
            .iter()
            .map(|r| cols.iter().map(|c| cell(r, *c, lang)).collect())
            .collect(),
        cols,
    }
}

/// [`render`] with only some columns, in the order given (the file name is
/// put first if missing): the reduced tables of third-party copies and
/// downloadable file lists (`File name | File size`, …).
pub fn render_columns(a: &Article, layout: Layout, lang: &Lang, only: Option<&[Column]>) -> String {
    let mut out = String::new();
    for t in &a.tables {
        let Rendered {
            head,
            headers,
            rows,
            ..
        } = rendered(t, lang, only);
        match layout {
            Layout::Text => {
                let _ = write!(out, "{head}\n\n\n");
                for h in &headers {
                    let _ = write!(out, "{h}\n\n");
                }
                for r in &rows {
                    for c in r {
                        let _ = write!(out, "{c}\n\n");
                    }
                }
            }
            Layout::Markdown => {
                let _ = writeln!(out, "##### {head}\n");
                let _ = writeln!(out, "|{}|", headers.join("|"));
                let _ = writeln!(out, "|{}|", vec!["---"; headers.len()].join("|"));
                for r in &rows {
                    let cells: Vec<String> = r.iter().map(|c| c.replace('|', "\\|")).collect();
                    let _ = writeln!(out, "|{}|", cells.join("|"));
                }
                let _ = writeln!(out, "|{}|\n", "|".repeat(headers.len().saturating_sub(1)));
            }
            Layout::Html => {
                let _ = writeln!(out, "<h4 class=\"heading\">{}</h4>", escape(&head));
                let _ = writeln!(out, "<table class=\"table\">\n<tbody>");
                let ths: Vec<String> = headers
                    .iter()
                    .map(|h| format!("<th><span>{}</span></th>", escape(h)))
                    .collect();
                let _ = writeln!(out, "<tr>{}</tr>", ths.concat());
                for r in &rows {
                    let tds: Vec<String> = r
                        .iter()
                        .map(|c| format!("<td><p>{}</p></td>", escape(c)))
                        .collect();
                    let _ = writeln!(out, "<tr>\n{}\n</tr>", tds.join("\n"));
                }
                let _ = writeln!(out, "</tbody>\n</table>");
            }
            Layout::Csv => {
                let d = match lang.code {
                    "en" | "en-us" | "zh" => ",",
                    "ja" => "\t",
                    _ => ";",
                };
                let _ = writeln!(out, "{}", quote(&head));
                let q: Vec<String> = headers.iter().map(|h| quote(h)).collect();
                let _ = writeln!(out, "{}", q.join(d));
                for r in &rows {
                    let q: Vec<String> = r.iter().map(|c| quote(c)).collect();
                    let _ = writeln!(out, "{}", q.join(d));
                }
                out.push('\n');
            }
        }
    }
    out
}

/// Plain text with whitespace-aligned columns, the way text exports and
/// mailing-list copies print a table: columns two blanks apart, padded to
/// their widest cell (East Asian wide characters count two), sizes
/// right-aligned, a blank line around each table. `only` as in
/// [`render_columns`].
pub fn render_aligned(a: &Article, lang: &Lang, only: Option<&[Column]>) -> String {
    let mut out = String::new();
    for t in &a.tables {
        let r = rendered(t, lang, only);
        let widths: Vec<usize> = (0..r.cols.len())
            .map(|j| {
                r.rows
                    .iter()
                    .filter_map(|row| row.get(j))
                    .map(|c| display_width(c))
                    .chain(r.headers.get(j).map(|h| display_width(h)))
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        let line = |cells: &[String], header: bool| -> String {
            let mut l = String::new();
            for (j, c) in cells.iter().enumerate() {
                let w = widths.get(j).copied().unwrap_or(0);
                let pad = " ".repeat(w.saturating_sub(display_width(c)));
                if j > 0 {
                    l.push_str("  ");
                }
                if !header && r.cols.get(j) == Some(&Column::Size) {
                    l.push_str(&pad);
                    l.push_str(c);
                } else {
                    l.push_str(c);
                    l.push_str(&pad);
                }
            }
            l.trim_end().to_string()
        };
        let headers: Vec<String> = r.headers.iter().map(|h| h.to_string()).collect();
        let _ = write!(out, "{}\n\n{}\n", r.head, line(&headers, true));
        for row in &r.rows {
            let _ = writeln!(out, "{}", line(row, false));
        }
        out.push('\n');
    }
    out
}

/// `Key: value` lines in plain text, one block per file, blank-line
/// separated (French puts a blank before the colon, Japanese and Chinese
/// use the full-width colon).
pub fn render_key_value(a: &Article, lang: &Lang) -> String {
    let sep = match lang.code {
        "fr" => " : ",
        "ja" | "zh" => "：",
        _ => ": ",
    };
    let mut out = String::new();
    for t in &a.tables {
        let r = rendered(t, lang, None);
        let _ = write!(out, "{}\n\n", r.head);
        for row in &r.rows {
            for (k, v) in r.headers.iter().zip(row) {
                let _ = writeln!(out, "{k}{sep}{v}");
            }
            out.push('\n');
        }
    }
    out
}

/// Vertical key/value tables (`| File name | x |`, `| File size | y |`, …,
/// one block per file), the form Microsoft uses for some additional-files
/// sections, in any layout.
pub fn render_vertical(a: &Article, layout: Layout, lang: &Lang) -> String {
    let mut out = String::new();
    for t in &a.tables {
        let cols = columns(t);
        let head = heading(t, lang);
        let pairs = t.rows.iter().enumerate().flat_map(|(i, r)| {
            cols.iter()
                .enumerate()
                .map(move |(j, c)| (i, j, header_word(lang, *c), cell(r, *c, lang)))
        });
        match layout {
            Layout::Markdown => {
                let _ = writeln!(out, "##### {head}");
                for (i, j, k, v) in pairs {
                    if j == 0 && i > 0 {
                        let _ = writeln!(out, "||");
                    }
                    let _ = writeln!(out, "| {k}|{}|", v.replace('|', "\\|"));
                    if i == 0 && j == 0 {
                        let _ = writeln!(out, "|---|---|");
                    }
                }
                let _ = writeln!(out, "|||\n");
            }
            Layout::Text => {
                let _ = write!(out, "{head}\n\n");
                for (_, _, k, v) in pairs {
                    let _ = write!(out, "{k}\n\n{v}\n\n");
                }
            }
            Layout::Html => {
                let _ = writeln!(out, "<h5>{}</h5>\n<table>", escape(&head));
                for (_, _, k, v) in pairs {
                    let _ = writeln!(
                        out,
                        "<tr><td>{}</td><td>{}</td></tr>",
                        escape(k),
                        escape(&v)
                    );
                }
                let _ = writeln!(out, "</table>");
            }
            Layout::Csv => {
                let _ = writeln!(out, "{}", quote(&head));
                // No blank line between files: a blank record ends a table.
                for (_, _, k, v) in pairs {
                    let _ = writeln!(out, "{},{}", quote(k), quote(&v));
                }
                out.push('\n');
            }
        }
    }
    out
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('\u{a0}', "&nbsp;")
}

/// Always quoted: sizes hold commas and names may hold anything.
pub fn quote(s: &str) -> String {
    format!("\"{}\"", s.replace('"', "\"\""))
}
