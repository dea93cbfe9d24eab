//! The streaming table writer ([`super::write_table`]) against comfy-table,
//! which it replaces for `ls` and `verify`: the same bytes for every table,
//! including wide and zero-width characters, multi-line cells, empty cells
//! and rows shorter than the header.

use comfy_table::{Table, presets};
use proptest::prelude::*;

fn comfy(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut t = Table::new();
    t.load_style(presets::UTF8_FULL_CONDENSED);
    t.set_header(header.to_vec());
    for r in rows {
        t.add_row(r.clone());
    }
    t.to_string()
}

fn streamed(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut out = Vec::new();
    super::write_table(&mut out, header, || rows.iter().cloned()).unwrap();
    String::from_utf8(out).unwrap()
}

/// Characters whose display width differs from their byte or char count.
fn cell() -> impl Strategy<Value = String> {
    let pieces = prop::sample::select(vec![
        "a", "Z", "0", " ", "\\", "/", "é", "e\u{301}", "漢", "字", "\u{200b}", "🙂", "\t", "\n",
        "\u{1}", "┆", "│", "-", "",
    ]);
    prop::collection::vec(pieces, 0..12).prop_map(|v| v.concat())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]
    #[test]
    fn same_bytes_as_comfy_table(
        columns in 1usize..5,
        rows in prop::collection::vec(prop::collection::vec(cell(), 0..5), 0..6),
    ) {
        let names = ["severity", "", "subject ✓", "d"];
        let header: Vec<&str> = names.iter().copied().cycle().take(columns).collect();
        // comfy-table grows the table for rows longer than the header; the
        // writer's callers never produce them.
        let rows: Vec<Vec<String>> = rows
            .into_iter()
            .map(|mut r| {
                r.truncate(columns);
                r
            })
            .collect();
        prop_assert_eq!(streamed(&header, &rows), comfy(&header, &rows));
    }
}

#[test]
fn verify_findings_table_matches_comfy_table() {
    let rows: Vec<Vec<String>> = (0..300)
        .map(|i| {
            vec![
                ["error", "warning", "info"][i % 3].to_string(),
                format!("code-{}", i % 7),
                format!("pkg.cab/amd64_component-{i}_31bf3856ad364e35/file{i}.dll"),
                "x".repeat(i % 50),
            ]
        })
        .collect();
    let header = ["severity", "code", "subject", "detail"];
    assert_eq!(streamed(&header, &rows), comfy(&header, &rows));
}

#[test]
fn a_cell_wider_than_comfy_tables_limit_is_rendered_by_comfy_table() {
    // comfy-table keeps widths in a u16 and wraps anything wider; the
    // writer hands such tables to it rather than diverge.
    let rows = vec![vec!["w".repeat(70_000), "b".into()]];
    let header = ["a", "b"];
    let got = streamed(&header, &rows);
    assert_eq!(got, comfy(&header, &rows));
    assert!(got.lines().count() > 5, "the wide cell is wrapped");
}
