//! The file tables of a Microsoft Knowledge Base article.
//!
//! A hotfix article documents, per architecture, the files the update installs
//! ("File information": name, version, size, date, time, platform, sometimes
//! service branch) and the `.mum`/`.manifest` files it adds ("Additional file
//! information"). [`parse`] reads those tables from the article in any of the
//! layouts it is found in ([`Layout`]) and any of the languages in
//! [`words::LANGS`], and returns an [`Article`]: one [`Table`] per table, each
//! with its architecture and kind taken from the heading above it, and one
//! [`Row`] per file, values normalised (sizes as integers, dates `YYYY-MM-DD`,
//! times `HH:MM`, "not applicable" as `None`).
//!
//! How the pieces fit: a layout front-end (`text` with `aligned` and `kv`,
//! `markdown`, `html`, `csv`) turns the document into blocks (text lines
//! and cell grids, `blocks`); `build` finds header rows, reads rows, and
//! attaches headings. Shared helpers sit below them: `clean` (entities,
//! white space, markup), `grid` (what a header row is), `words` and
//! `values`. Data flows one way, front-ends to `build`; no module imports
//! one declared after it in this file. Nothing is dropped
//! silently: rows that cannot be read become [`Warning`]s with their line.
//!
//! ```
//! let art = kbinspect::kb::parse(
//!     "## For all supported x64-based versions\n\
//!      |File name|File version|File size|Date|Time|Platform|\n\
//!      |---|---|---|---|---|---|\n\
//!      |Vssapi.dll|6.1.7600.20542|1,746,944|06-Oct-2009|06:34|x64|\n",
//!     None,
//! ).unwrap();
//! assert_eq!(art.tables[0].rows[0].size, Some(1_746_944));
//! ```

use serde::Serialize;
use std::borrow::Cow;

// Modules in data-flow order, one group per stage; each imports only from
// earlier groups (and the output types defined here).

// Words, values and text clean-up.
pub mod words;

pub mod values;

mod clean;

// The intermediate form and what a header row is.
mod blocks;

mod grid;

// Layout front-ends.
mod lines;

mod aligned;
mod kv;

mod text;

mod csv;
mod html;
mod markdown;

// Blocks to tables; tables back to text.
mod build;
pub use build::name_arch;

pub mod render;

/// Inputs larger than this are refused unless [`Options::max_bytes`] is raised.
pub const DEFAULT_MAX_BYTES: usize = 64 * 1024 * 1024;

/// How the article is written down.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Layout {
    /// Plain text: a scraped web page with one table cell per line,
    /// whitespace-aligned columns, or `Key: value` lines.
    Text,
    /// Markdown pipe tables (also vertical key/value tables).
    Markdown,
    /// A saved web page with `<table>` elements.
    Html,
    /// Comma, semicolon or tab separated values.
    Csv,
}

impl Layout {
    pub const ALL: [Layout; 4] = [Layout::Text, Layout::Markdown, Layout::Html, Layout::Csv];

    pub fn name(self) -> &'static str {
        match self {
            Layout::Text => "text",
            Layout::Markdown => "markdown",
            Layout::Html => "html",
            Layout::Csv => "csv",
        }
    }
}

/// The architecture a table is documented for (from its heading).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Arch {
    X86,
    X64,
    Ia64,
    Arm64,
}

/// What a row's file is installed as, from its platform cell and the table
/// arch: x86 files in an x64 or IA-64 table are WOW64 files.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RowArch {
    X86,
    Amd64,
    Wow64,
    Ia64,
    Arm64,
}

/// "File information" tables list installed files; "additional file
/// information" tables list `.mum` and `.manifest` files.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Files,
    Additional,
}

/// Something in the article that could not be read as expected.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Warning {
    /// 1-based line in the (decoded) input.
    pub line: usize,
    pub message: String,
}

/// One file of a table. `None` means "not applicable" or absent column.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Row {
    pub name: String,
    pub version: Option<String>,
    pub size: Option<u64>,
    /// `YYYY-MM-DD`
    pub date: Option<String>,
    /// `HH:MM` (UTC in Microsoft's tables)
    pub time: Option<String>,
    /// The platform cell as written (`x86`, `x64`, `IA-64`).
    pub platform: Option<String>,
    pub arch: Option<RowArch>,
    /// `WOW`, `GDR`, `LDR`, `SP1QFE`, … as written.
    pub service_branch: Option<String>,
    /// Only in older articles with an "SP requirement" column.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sp_requirement: Option<String>,
    /// 1-based line where the row starts.
    pub line: usize,
}

/// One documented table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Table {
    /// The heading line above the table, markup removed.
    pub heading: Option<String>,
    pub arch: Option<Arch>,
    pub kind: Kind,
    /// 1-based line of the header row.
    pub line: usize,
    pub rows: Vec<Row>,
}

/// Everything read from one article.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Article {
    pub layout: Layout,
    pub tables: Vec<Table>,
    pub warnings: Vec<Warning>,
}

impl Article {
    /// The tables documented for one architecture (files and additional),
    /// in article order.
    pub fn tables_for(&self, arch: Arch) -> impl Iterator<Item = &Table> {
        self.tables.iter().filter(move |t| t.arch == Some(arch))
    }

    /// Every row of every table, with its table.
    pub fn rows(&self) -> impl Iterator<Item = (&Table, &Row)> {
        self.tables
            .iter()
            .flat_map(|t| t.rows.iter().map(move |r| (t, r)))
    }
}

/// Why an article could not be read at all.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum KbError {
    #[error("input is empty")]
    Empty,
    #[error("input is {size} bytes, over the limit of {limit} bytes (raise it with --max-size)")]
    TooLarge { size: usize, limit: usize },
    #[error("input looks binary (control byte 0x{byte:02x} at offset {offset}), not a KB article")]
    Binary { offset: usize, byte: u8 },
    #[error(
        "no file table found ({layout} layout): no header row naming the file name and at least one of \
         file version, file size, date"
    )]
    NoTable { layout: &'static str },
}

/// Parser settings.
#[derive(Debug, Clone, Copy)]
pub struct Options {
    /// Force a layout instead of detecting it.
    pub layout: Option<Layout>,
    /// Refuse larger inputs.
    pub max_bytes: usize,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            layout: None,
            max_bytes: DEFAULT_MAX_BYTES,
        }
    }
}

/// Read the file tables of an article given as text.
pub fn parse(text: &str, layout: Option<Layout>) -> Result<Article, KbError> {
    parse_with(
        text,
        &Options {
            layout,
            ..Options::default()
        },
    )
}

/// Read the file tables of an article given as bytes: UTF-8 (with or without
/// BOM), UTF-16 LE/BE (BOM), or a legacy single-byte page (`charset=` of an
/// HTML page, else Windows-1252).
pub fn parse_bytes(bytes: &[u8]) -> Result<Article, KbError> {
    parse_bytes_with(bytes, &Options::default())
}

/// [`parse_bytes`] with settings.
pub fn parse_bytes_with(bytes: &[u8], opts: &Options) -> Result<Article, KbError> {
    if bytes.len() > opts.max_bytes {
        return Err(KbError::TooLarge {
            size: bytes.len(),
            limit: opts.max_bytes,
        });
    }
    let text = decode(bytes);
    parse_with(&text, opts)
}

/// Bytes to text. UTF-16 needs a BOM (or a NUL in every other byte of the
/// start, which is how BOM-less UTF-16 looks).
pub fn decode(bytes: &[u8]) -> Cow<'_, str> {
    if let Some((enc, bom_len)) = encoding_rs::Encoding::for_bom(bytes) {
        let rest = bytes.get(bom_len..).unwrap_or_default();
        return enc.decode_without_bom_handling(rest).0;
    }
    let head = bytes.get(..bytes.len().min(512)).unwrap_or_default();
    if head.len() >= 8 {
        let zeros_odd = head.iter().skip(1).step_by(2).filter(|b| **b == 0).count();
        let zeros_even = head.iter().step_by(2).filter(|b| **b == 0).count();
        let half = head.len() / 2;
        if zeros_odd * 10 >= half * 9 && zeros_even == 0 {
            return encoding_rs::UTF_16LE.decode_without_bom_handling(bytes).0;
        }
        if zeros_even * 10 >= half * 9 && zeros_odd == 0 {
            return encoding_rs::UTF_16BE.decode_without_bom_handling(bytes).0;
        }
    }
    match std::str::from_utf8(bytes) {
        Ok(s) => Cow::Borrowed(s),
        Err(_) => {
            let enc = html_charset(head)
                .and_then(|label| encoding_rs::Encoding::for_label(label.as_bytes()))
                .unwrap_or(encoding_rs::WINDOWS_1252);
            enc.decode_without_bom_handling(bytes).0
        }
    }
}

fn html_charset(head: &[u8]) -> Option<String> {
    let lower = String::from_utf8_lossy(head).to_ascii_lowercase();
    let at = lower.find("charset=")? + "charset=".len();
    let label: String = lower
        .get(at..)?
        .trim_start_matches(['"', '\''])
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
        .collect();
    (!label.is_empty()).then_some(label)
}

/// Read the file tables of an article given as text, with settings.
pub fn parse_with(text: &str, opts: &Options) -> Result<Article, KbError> {
    if text.len() > opts.max_bytes {
        return Err(KbError::TooLarge {
            size: text.len(),
            limit: opts.max_bytes,
        });
    }
    if text.trim().is_empty() {
        return Err(KbError::Empty);
    }
    check_not_binary(text)?;
    let layout = opts.layout.unwrap_or_else(|| detect(text));
    let blocks = match layout {
        Layout::Text => text::blocks(text),
        Layout::Markdown => markdown::blocks(text),
        Layout::Html => html::blocks(text),
        Layout::Csv => csv::blocks(text),
    };
    let (mut tables, mut warnings) = build::tables(blocks);
    // Markdown sources sometimes embed HTML tables next to pipe tables: when
    // both are present, read both and keep the article order.
    if opts.layout.is_none() && layout == Layout::Html && markdown::looks_like(text) {
        let (md_tables, md_warnings) = build::tables(markdown::blocks(text));
        if !md_tables.is_empty() {
            tables.extend(md_tables);
            tables.sort_by_key(|t| t.line);
            warnings.extend(md_warnings);
            warnings.sort_by_key(|w| w.line);
        }
    }
    if tables.is_empty() {
        return Err(KbError::NoTable {
            layout: layout.name(),
        });
    }
    Ok(Article {
        layout,
        tables,
        warnings,
    })
}

/// Text never holds NUL or most C0 controls; binary data does, early.
fn check_not_binary(text: &str) -> Result<(), KbError> {
    for (offset, b) in text.bytes().enumerate() {
        if b < 0x20 && !matches!(b, b'\n' | b'\r' | b'\t' | 0x0c) {
            return Err(KbError::Binary { offset, byte: b });
        }
    }
    Ok(())
}

/// Guess the layout: HTML tables, then markdown pipe tables, then delimited
/// values with a header row, else plain text.
pub fn detect(text: &str) -> Layout {
    // A `<pre>` block (a forum or mailing-list page) holds plain text that
    // the HTML reader passes to the plain-text one.
    if contains_ascii_ci(text, "<table")
        || contains_ascii_ci(text, "<td")
        || contains_ascii_ci(text, "<pre")
    {
        return Layout::Html;
    }
    if markdown::looks_like(text) {
        return Layout::Markdown;
    }
    if csv::looks_like(text) {
        return Layout::Csv;
    }
    Layout::Text
}

fn contains_ascii_ci(hay: &str, needle: &str) -> bool {
    let Some(first) = needle.chars().next() else {
        return true;
    };
    let mut from = 0;
    // `find` on a char is a memchr: fast even on 50 MB.
    while let Some(p) = hay.get(from..).and_then(|h| h.find(first)) {
        let at = from + p;
        if hay
            .as_bytes()
            .get(at..at + needle.len())
            .is_some_and(|w| w.eq_ignore_ascii_case(needle.as_bytes()))
        {
            return true;
        }
        from = at + first.len_utf8();
    }
    false
}
