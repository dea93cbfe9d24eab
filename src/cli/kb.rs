//! `kbinspect kb ARTICLE`: the file tables of a Knowledge Base article.

use anyhow::Context;
use kbinspect::kb::{self, Layout};
use std::io::{Read, Write};

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum, Default)]
pub enum KbFormat {
    /// Human-readable tables
    #[default]
    Table,
    /// JSON: {layout, tables[], warnings[]} (schema in docs/kb.md)
    Json,
    /// One CSV line per file, with its table's heading, arch and kind
    Csv,
    /// A markdown report: a heading and a table per article table (CommonMark, no HTML)
    Markdown,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum LayoutArg {
    Text,
    Markdown,
    Html,
    Csv,
}

impl From<LayoutArg> for Layout {
    fn from(l: LayoutArg) -> Self {
        match l {
            LayoutArg::Text => Layout::Text,
            LayoutArg::Markdown => Layout::Markdown,
            LayoutArg::Html => Layout::Html,
            LayoutArg::Csv => Layout::Csv,
        }
    }
}

#[derive(clap::Args)]
#[command(
    after_help = "Examples:\n  kbinspect kb KB975354.txt\n  kbinspect kb article.html --format csv > files.csv\n  kbinspect kb - --format json < KB975354.txt\n  kbinspect kb tables.md --layout markdown\n\nExit codes: 0 read (problems are reported on stderr), 2 could not run."
)]
pub struct Args {
    /// The article: scraped text, markdown, saved HTML page or CSV/TSV (`-`: standard input)
    pub input: std::path::PathBuf,
    /// Output format
    #[arg(long, value_enum, default_value_t = KbFormat::Table)]
    pub format: KbFormat,
    /// Force the input layout instead of detecting it
    #[arg(long, value_enum)]
    pub layout: Option<LayoutArg>,
    /// Refuse inputs larger than this many bytes
    #[arg(long, default_value_t = kb::DEFAULT_MAX_BYTES)]
    pub max_size: usize,
    #[command(flatten)]
    pub out: super::output::OutputArgs,
}

pub fn run(args: &Args) -> anyhow::Result<i32> {
    let path = &args.input;
    // Opened first: an --output that cannot be written fails before the work.
    let mut report = args.out.open()?;
    let mut bytes = Vec::new();
    // Read one byte past the limit so an oversized input is reported, not truncated.
    let limit = args.max_size.saturating_add(1) as u64;
    if path.as_os_str() == "-" {
        std::io::stdin()
            .lock()
            .take(limit)
            .read_to_end(&mut bytes)
            .context("cannot read standard input")?;
    } else {
        let file =
            std::fs::File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
        file.take(limit)
            .read_to_end(&mut bytes)
            .with_context(|| format!("cannot read {}", path.display()))?;
    }
    let opts = kb::Options {
        layout: args.layout.map(Layout::from),
        max_bytes: args.max_size,
    };
    let article =
        kb::parse_bytes_with(&bytes, &opts).with_context(|| format!("{}", path.display()))?;
    match args.format {
        KbFormat::Json => super::output::write_json(&mut report, &article)?,
        KbFormat::Csv => write_csv(&mut report, &article)?,
        KbFormat::Markdown => write_markdown(&mut report, &path.display().to_string(), &article)?,
        KbFormat::Table => {
            let width = report.width();
            let mut out = report.text();
            write_tables(&mut out, width, &article)?;
            out.flush()?;
        }
    }
    report.finish()?;
    if !matches!(args.format, KbFormat::Json | KbFormat::Markdown) {
        for w in &article.warnings {
            eprintln!("warning: {}:{}: {}", path.display(), w.line, w.message);
        }
    }
    Ok(0)
}

fn opt<T: ToString>(v: &Option<T>) -> String {
    v.as_ref().map(ToString::to_string).unwrap_or_default()
}

fn json_name<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_value(v)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}

fn write_csv<W: Write>(out: &mut W, a: &kb::Article) -> anyhow::Result<()> {
    use kb::render::quote;
    writeln!(
        out,
        "heading,table_arch,kind,name,version,size,date,time,platform,arch,service_branch,line"
    )?;
    for (t, r) in a.rows() {
        // The table's heading, arch and kind, then the row's own cells.
        let mut fields = vec![
            opt(&t.heading),
            t.arch.map(|x| json_name(&x)).unwrap_or_default(),
            json_name(&t.kind),
        ];
        fields.extend(row_cells(r));
        let q: Vec<String> = fields.iter().map(|f| quote(f)).collect();
        writeln!(out, "{}", q.join(","))?;
    }
    Ok(())
}

/// The columns of the table and markdown output.
const HEADER: [&str; 9] = [
    "File name",
    "Version",
    "Size",
    "Date",
    "Time",
    "Platform",
    "Arch",
    "Branch",
    "Line",
];

fn row_cells(r: &kb::Row) -> Vec<String> {
    vec![
        r.name.clone(),
        opt(&r.version),
        opt(&r.size),
        opt(&r.date),
        opt(&r.time),
        opt(&r.platform),
        r.arch.map(|x| json_name(&x)).unwrap_or_default(),
        opt(&r.service_branch),
        r.line.to_string(),
    ]
}

/// A table's title line: `heading [kind arch] (line N)`.
fn title(t: &kb::Table) -> String {
    let arch = t.arch.map(|x| json_name(&x)).unwrap_or_else(|| "?".into());
    format!(
        "{} [{} {}] (line {})",
        t.heading.as_deref().unwrap_or("(no heading)"),
        json_name(&t.kind),
        arch,
        t.line
    )
}

/// `N tables, M files (layout L)`.
fn summary(a: &kb::Article) -> String {
    format!(
        "{} tables, {} files ({} layout); {} warnings",
        a.tables.len(),
        a.rows().count(),
        json_name(&a.layout),
        a.warnings.len()
    )
}

/// The markdown report; the warnings are in it (not on stderr).
fn write_markdown<W: Write>(out: &mut W, input: &str, a: &kb::Article) -> anyhow::Result<()> {
    let tables: Vec<(String, Vec<Vec<String>>)> = a
        .tables
        .iter()
        .map(|t| (title(t), t.rows.iter().map(row_cells).collect()))
        .collect();
    let warnings: Vec<String> = a
        .warnings
        .iter()
        .map(|w| format!("line {}: {}", w.line, w.message))
        .collect();
    crate::render::markdown::write_kb(out, input, &summary(a), &tables, &HEADER, &warnings)?;
    Ok(())
}

fn write_tables<W: Write>(
    out: &mut W,
    width: Option<usize>,
    a: &kb::Article,
) -> anyhow::Result<()> {
    use crate::render::Col::{Keep, Path};
    for t in &a.tables {
        writeln!(out, "{}", title(t))?;
        crate::render::write_table_fit(
            out,
            width,
            &HEADER,
            &[Path, Keep, Keep, Keep, Keep, Keep, Keep, Keep, Keep],
            || t.rows.iter().map(row_cells),
        )?;
        writeln!(out, "\n")?;
    }
    Ok(())
}
