//! Hostile and broken input for the KB parser: empty, garbage, binary,
//! oversized and huge inputs get a clear answer quickly and never panic;
//! rows that cannot be read are reported with their line, not dropped.

use crate::common;

use kbinspect::kb::{self, KbError, Layout, Options};
use proptest::prelude::*;
use std::time::{Duration, Instant};

/// A quick answer: the slowest 50 MB shapes take about 1.4 s of CPU on an
/// idle 2-core test machine; the bound leaves room for a loaded one while
/// still catching anything worse than linear. Debug builds are an order of
/// magnitude slower.
fn budget() -> Duration {
    if cfg!(debug_assertions) {
        Duration::from_secs(60)
    } else {
        // The aligned-header shapes take ~3.7 s of CPU on an idle 2-vCPU
        // AMD EPYC and up to 4.7 s with the rest of the suite beside them;
        // a super-linear path on their 1.7 million lines would take hours.
        Duration::from_secs(8)
    }
}

fn seed() -> String {
    std::fs::read_to_string(common::testdata().join("KB975354-nl.txt")).expect("seed copy")
}

#[test]
fn empty_and_blank_inputs_are_refused() {
    assert_eq!(kb::parse("", None), Err(KbError::Empty));
    assert_eq!(kb::parse(" \n\r\n\t ", None), Err(KbError::Empty));
    assert_eq!(kb::parse_bytes(b""), Err(KbError::Empty));
}

#[test]
fn prose_without_tables_is_a_clear_error() {
    let err = kb::parse("Hello world.\nThis article has no table.\n", None).unwrap_err();
    assert_eq!(err, KbError::NoTable { layout: "text" });
    assert!(err.to_string().contains("no file table found"), "{err}");
    // A markdown table that is not a file table (the SR_Level table).
    let md = "| Version | Product | SR_Level | Service branch |\n|---|---|---|---|\n| 6.0 | Vista | SP2 | LDR |\n";
    assert_eq!(
        kb::parse(md, None),
        Err(KbError::NoTable { layout: "markdown" })
    );
    // The seed forced into the wrong layout.
    assert!(matches!(
        kb::parse(&seed(), Some(Layout::Markdown)),
        Err(KbError::NoTable { .. })
    ));
}

#[test]
fn binary_data_is_refused_with_its_offset() {
    let mut bytes = b"MSCF\0\0\0\0".to_vec();
    bytes.extend((0..4096u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8));
    match kb::parse_bytes(&bytes) {
        Err(KbError::Binary { offset, .. }) => assert_eq!(offset, 4),
        other => panic!("{other:?}"),
    }
    let cab = corpus_or_skip!("gcab-tests/test-none.cab");
    let bytes = std::fs::read(cab).expect("cab");
    let err = kb::parse_bytes(&bytes).unwrap_err();
    assert!(matches!(err, KbError::Binary { .. }), "{err}");
    assert!(err.to_string().contains("offset"), "{err}");
}

#[test]
fn oversized_input_is_refused_before_parsing() {
    let opts = Options {
        layout: None,
        max_bytes: 1000,
    };
    let text = seed();
    assert_eq!(
        kb::parse_with(&text, &opts),
        Err(KbError::TooLarge {
            size: text.len(),
            limit: 1000
        })
    );
    assert!(matches!(
        kb::parse_bytes_with(text.as_bytes(), &opts),
        Err(KbError::TooLarge { .. })
    ));
}

#[test]
fn utf16_and_bom_encodings_give_the_same_tables() {
    let text = seed();
    let utf8 = kb::parse(&text, None).expect("seed");
    let mut le = vec![0xFF, 0xFE];
    le.extend(text.encode_utf16().flat_map(u16::to_le_bytes));
    let mut be = vec![0xFE, 0xFF];
    be.extend(text.encode_utf16().flat_map(u16::to_be_bytes));
    let mut bom8 = vec![0xEF, 0xBB, 0xBF];
    bom8.extend(text.as_bytes());
    // UTF-16 LE without a BOM is recognised by its zero bytes.
    let bare_le: Vec<u8> = text.encode_utf16().flat_map(u16::to_le_bytes).collect();
    for (what, bytes) in [
        ("le", le),
        ("be", be),
        ("utf8 bom", bom8),
        ("bare le", bare_le),
    ] {
        let a = kb::parse_bytes(&bytes).unwrap_or_else(|e| panic!("{what}: {e}"));
        assert_eq!(a, utf8, "{what}");
    }
}

#[test]
fn windows_1252_page_is_decoded() {
    let mut bytes = b"F\xfcr alle unterst\xfctzten x86-basierten Versionen\n".to_vec();
    bytes.extend(b"|Dateiname|Dateiversion|Dateigr\xf6\xdfe|Datum|Uhrzeit|Plattform|\n|---|---|---|---|---|---|\n");
    bytes.extend(b"|Vssapi.dll|6.1.7600.20541|1.124.352|05.10.2009|05:51|x86|\n");
    let a = kb::parse_bytes(&bytes).expect("cp1252");
    assert_eq!(a.tables[0].rows[0].size, Some(1_124_352));
    assert_eq!(
        a.tables[0].heading.as_deref(),
        Some("Für alle unterstützten x86-basierten Versionen")
    );
}

#[test]
fn unreadable_cells_are_reported_with_their_line_and_the_row_kept() {
    let md = "## For all supported x64-based versions\n\
|File name|File version|File size|Date|Time|Platform|\n|---|---|---|---|---|---|\n\
|a.dll|1.0|12,34|05-Oct-2009|05:51|x64|\n\
|b.dll|1.0|1,234|31-Feb-2009|25:00|sparc|\n\
||1.0|1,234|05-Oct-2009|05:51|x64|\n\
|c.dll|1.0|1,234|05-Oct-2009|05:51|x64|extra|\n";
    let a = kb::parse(md, None).expect("parses");
    let rows = &a.tables[0].rows;
    assert_eq!(
        rows.iter().map(|r| r.name.as_str()).collect::<Vec<_>>(),
        ["a.dll", "b.dll", "c.dll"]
    );
    assert_eq!(rows[0].size, None);
    assert_eq!(
        (
            rows[1].date.as_deref(),
            rows[1].time.as_deref(),
            rows[1].arch
        ),
        (None, None, None)
    );
    assert_eq!(rows[1].platform.as_deref(), Some("sparc"));
    let at = |line: usize, needle: &str| {
        assert!(
            a.warnings
                .iter()
                .any(|w| w.line == line && w.message.contains(needle)),
            "no warning at line {line} with {needle:?}: {:#?}",
            a.warnings
        )
    };
    at(4, "12,34");
    at(5, "31-Feb-2009");
    at(5, "25:00");
    at(5, "sparc");
    at(6, "without a file name");
    at(7, "extra");
}

#[test]
fn text_rows_that_stop_fitting_end_the_table_with_a_warning() {
    let text = "For all supported x86-based versions\n\nFile name\nFile version\nFile size\nDate\nTime\nPlatform\n\
a.dll\n1.0\n1,024\n05-Oct-2009\n05:51\nx86\n\
b.dll\n1.0\nbig\n05-Oct-2009\n05:51\nx86\n";
    let a = kb::parse(text, None).expect("parses");
    assert_eq!(a.tables[0].rows.len(), 1);
    assert!(
        a.warnings
            .iter()
            .any(|w| w.line == 15 && w.message.contains("b.dll") && w.message.contains("big")),
        "{:#?}",
        a.warnings
    );
    // A row cut short by the end of the page.
    let cut = "File name\nFile version\nFile size\nDate\nTime\nPlatform\na.dll\n1.0\n1,024\n05-Oct-2009\n05:51\nx86\nb.dll\n1.0\n";
    let a = kb::parse(cut, None).expect("parses");
    assert!(
        a.warnings
            .iter()
            .any(|w| w.line == 13 && w.message.contains("incomplete")),
        "{:#?}",
        a.warnings
    );
}

#[test]
fn vertical_tables_report_unknown_keys() {
    let md = "### Additional files for all supported x86-based versions\n\
| File name|Update.mum|\n|---|---|\n| File size|1,674|\n| Colour|blue|\n| File size|9|\n||\n";
    let a = kb::parse(md, None).expect("parses");
    assert_eq!(a.tables[0].rows[0].size, Some(1_674));
    assert!(
        a.warnings
            .iter()
            .any(|w| w.line == 5 && w.message.contains("Colour"))
    );
    assert!(
        a.warnings
            .iter()
            .any(|w| w.line == 6 && w.message.contains("twice"))
    );
}

/// CPU time of this thread (Linux: /proc/thread-self/stat, 100 ticks/s).
/// The machine running the tests may be shared, so the budget is checked
/// against CPU time; wall time only gets a loose bound.
fn thread_cpu() -> Option<Duration> {
    let stat = std::fs::read_to_string("/proc/thread-self/stat").ok()?;
    let after = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    Some(Duration::from_millis(ticks * 10))
}

fn timed<T>(what: &str, f: impl FnOnce() -> T) -> T {
    let cpu0 = thread_cpu();
    let start = Instant::now();
    let out = f();
    let wall = start.elapsed();
    let cpu = thread_cpu().zip(cpu0).map(|(b, a)| b.saturating_sub(a));
    eprintln!("{what}: {wall:?} wall, {cpu:?} cpu");
    match cpu {
        Some(cpu) => {
            assert!(cpu < budget(), "{what} took {cpu:?} of CPU");
            assert!(wall < budget() * 5, "{what} took {wall:?}");
        }
        None => assert!(wall < budget(), "{what} took {wall:?}"),
    }
    out
}

#[test]
fn fifty_megabytes_get_a_quick_answer() {
    // Unoptimised builds on a shared machine test a fifth of the size so
    // the suite stays quick; `cargo test --release` (CI) tests all 50 MB.
    const SIZE: usize = if cfg!(debug_assertions) { 10 } else { 50 } * 1024 * 1024;
    let prose =
        "Lorem ipsum dolor sit amet, consectetur adipiscing elit | 1,234 | 05-Oct-2009 <b>x</b>\n";
    let garbage = prose.repeat(SIZE / prose.len());
    let r = timed("50 MB prose", || kb::parse(&garbage, None));
    assert!(matches!(r, Err(KbError::NoTable { .. })), "{r:?}");
    drop(garbage);

    let one_line = "x".repeat(SIZE);
    for layout in [
        None,
        Some(Layout::Text),
        Some(Layout::Markdown),
        Some(Layout::Html),
        Some(Layout::Csv),
    ] {
        let r = timed(&format!("50 MB single line {layout:?}"), || {
            kb::parse(&one_line, layout)
        });
        assert!(matches!(r, Err(KbError::NoTable { .. })), "{r:?}");
    }
    drop(one_line);

    let tags = "<table><tr><td>".repeat(SIZE / 15);
    let r = timed("50 MB of open tags", || kb::parse(&tags, None));
    assert!(matches!(r, Err(KbError::NoTable { .. })), "{r:?}");
    drop(tags);

    // Every cell spans all columns and every row below: the copies are
    // capped, not multiplied.
    let spans = "<tr><td rowspan=0 colspan=64>File name</td><td rowspan=65534>File size</td>"
        .repeat(SIZE / 76);
    let r = timed("50 MB of spanning cells", || {
        kb::parse(&format!("<table>{spans}</table>"), None)
    });
    assert!(
        r.is_ok() || matches!(r, Err(KbError::NoTable { .. })),
        "{r:?}"
    );
    drop(spans);

    // Regression: an over-budget key/value block was re-scanned from each
    // of its lines (quadratic).
    let kv = "File name\na.dll\nFile size\n1\n".repeat(SIZE / 28);
    let r = timed("key/value lines", || kb::parse(&kv, None));
    assert!(
        r.is_ok() || matches!(r, Err(KbError::NoTable { .. })),
        "{r:?}"
    );
    drop(kv);

    // Plain-text layouts of issue 20: an endless aligned table (the cell
    // budget ends it), endless repeated aligned headers, header lines each
    // followed by a lone name (wrap look-ahead), and endless `Key: value`
    // lines.
    let row = "Vssapi.dll    6.1.7600.20541  1,124,352  05-Oct-2009  05:51  x86\n";
    let aligned = format!(
        "File name     File version    File size  Date         Time   Platform\n{}",
        row.repeat(SIZE / row.len())
    );
    let a = timed("aligned rows", || kb::parse(&aligned, None)).expect("tables");
    assert!(a.tables[0].rows.len() > 1000);
    drop(aligned);
    for (what, unit) in [
        ("aligned headers", "File name  File size  Date\n"),
        (
            "aligned headers and names",
            "File name  File size\nUpdate.mum\n",
        ),
        (
            "aligned rows wrapping",
            "File name  File size\na.dll      1\nb\n",
        ),
        ("key/value text", "File name: a.dll\nFile size: 1\n\n"),
        (
            "aligned tables in <pre>",
            "<pre>File name  File size\na.dll      1\n</pre>",
        ),
        ("open <pre> tags", "<pre>File name  File size\n"),
    ] {
        let input = unit.repeat(SIZE / unit.len());
        let r = timed(what, || kb::parse(&input, None));
        assert!(
            r.is_ok() || matches!(r, Err(KbError::NoTable { .. })),
            "{what}: {r:?}"
        );
    }

    let s = seed();
    let big = s.repeat(SIZE / s.len());
    let copies = SIZE / s.len();
    let a = timed("50 MB of seed copies", || kb::parse(&big, None)).expect("tables");
    assert_eq!(a.tables.len(), 6 * copies);
    let mut bin = vec![b'a'; SIZE];
    bin[SIZE - 1] = 0;
    let r = timed("50 MB with a NUL at the end", || kb::parse_bytes(&bin));
    assert!(
        matches!(r, Err(KbError::Binary { offset, .. }) if offset == SIZE - 1),
        "{r:?}"
    );
}

const TOKENS: &[&str] = &[
    "File name",
    "File version",
    "File size",
    "Date",
    "Time",
    "Platform",
    "Service branch",
    "Bestandsnaam",
    "Niet van toepassing",
    "x86",
    "x64",
    "IA-64",
    "WOWStatus",
    "WOW",
    "a.dll",
    "1,124,352",
    "16.384",
    "05-Oct-2009",
    "10/05/2009",
    "2009年10月5日",
    "05:51",
    "|",
    "|---|",
    "||",
    "\n",
    "\n\n",
    " ",
    "<table>",
    "<tr>",
    "<td>",
    "</td>",
    "</table>",
    "<br/>",
    "&nbsp;",
    "&#xFFFFFF;",
    "\"",
    ",",
    ";",
    "\t",
    "Additional files for x64",
    "For all x86-based",
    "<!--",
    "-->",
    "<script>",
    "> ",
    "- ",
    "##### ",
    "\\|",
    "[a](b)",
    "**",
    "Zusätzliche",
    "é",
    "\u{a0}",
    "99999999999999999999",
    "<td colspan=3>",
    "<td rowspan=0>",
    "<th rowspan=2 colspan=64>",
    "<td colspan=\"99999999\" rowspan='65535'>",
    "Date and time",
    "Not versioned",
    "Amd64_a_b_c_d_e.manifest",
    "Package~t~wow64~~1.mum",
    "update.cat",
];

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn arbitrary_strings_never_panic(s in ".{0,600}") {
        for layout in [None, Some(Layout::Text), Some(Layout::Markdown), Some(Layout::Html), Some(Layout::Csv)] {
            let _ = kb::parse(&s, layout);
        }
        let _ = kb::parse_bytes(s.as_bytes());
    }

    #[test]
    fn token_soup_never_panics(toks in prop::collection::vec(prop::sample::select(TOKENS), 0..300)) {
        let s: String = toks.concat();
        for layout in [None, Some(Layout::Text), Some(Layout::Markdown), Some(Layout::Html), Some(Layout::Csv)] {
            if let Ok(a) = kb::parse(&s, layout) {
                let lines = s.lines().count().max(1);
                for t in &a.tables {
                    for r in &t.rows {
                        prop_assert!(r.line >= 1 && r.line <= lines);
                        prop_assert!(!r.name.is_empty());
                    }
                }
                for w in &a.warnings {
                    prop_assert!(w.line <= lines);
                }
            }
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic(b in prop::collection::vec(any::<u8>(), 0..600)) {
        let _ = kb::parse_bytes(&b);
    }
}
