//! Real-world layouts a user pastes, written for these tests in
//! `testdata/kb/layouts/` (own text in the shape of Microsoft's pages):
//! reduced-column tables, HTML tables with `colspan`/`rowspan` headers and
//! no `<thead>`, markdown without outer pipes, tab-separated rows inside
//! prose, the CSV file lists of cumulative updates and the name-last "file
//! attributes" tables of Windows Server 2003-era articles. Each file's
//! whole JSON is a golden (`<file>.json` next to it, regenerate with
//! `KBINSPECT_BLESS=1`), and the values that matter are asserted by hand.

use crate::common;

use kbinspect::kb::{self, Arch, Article, Kind, Layout, Row, RowArch};

fn dir() -> std::path::PathBuf {
    common::testdata().join("kb").join("layouts")
}

fn read(name: &str) -> Article {
    let path = dir().join(name);
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let a = kb::parse_bytes(&bytes).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let golden = dir().join(format!("{name}.json"));
    let json = serde_json::to_string_pretty(&a).expect("serialize") + "\n";
    if std::env::var("KBINSPECT_BLESS").as_deref() == Ok("1") {
        std::fs::write(&golden, &json).expect("write golden");
    } else {
        let want = std::fs::read_to_string(&golden)
            .unwrap_or_else(|e| panic!("{}: {e} (bless with KBINSPECT_BLESS=1)", golden.display()));
        assert!(
            want == json,
            "{} differs (bless with KBINSPECT_BLESS=1 after checking):\n{json}",
            golden.display()
        );
    }
    a
}

/// (name, version, size, date, time, platform, arch) of every row.
type Flat<'a> = (
    &'a str,
    Option<&'a str>,
    Option<u64>,
    Option<&'a str>,
    Option<&'a str>,
    Option<&'a str>,
    Option<RowArch>,
);

fn flat(r: &Row) -> Flat<'_> {
    (
        r.name.as_str(),
        r.version.as_deref(),
        r.size,
        r.date.as_deref(),
        r.time.as_deref(),
        r.platform.as_deref(),
        r.arch,
    )
}

fn shape(a: &Article) -> Vec<(Option<Arch>, Kind, usize)> {
    a.tables
        .iter()
        .map(|t| (t.arch, t.kind, t.rows.len()))
        .collect()
}

fn warnings(a: &Article) -> Vec<(usize, &str)> {
    a.warnings
        .iter()
        .map(|w| (w.line, w.message.as_str()))
        .collect()
}

/// Two-row header (`Date and time` over `Date` | `Time`, the other header
/// cells `rowspan=2`), a `colspan` heading row inside the table, header
/// cells in `td` without `<thead>`, a platform cell spanning two rows, a
/// `colspan=2` "Not applicable" over date and time.
#[test]
fn html_spans_and_heading_rows() {
    let a = read("spans.en.html");
    assert_eq!(a.layout, Layout::Html);
    assert_eq!(
        shape(&a),
        [
            (Some(Arch::X86), Kind::Files, 3),
            (Some(Arch::X64), Kind::Additional, 3)
        ]
    );
    let t = &a.tables[0];
    assert_eq!(
        t.heading.as_deref(),
        Some("For all supported x86-based versions of Windows 7")
    );
    assert_eq!(
        t.rows.iter().map(flat).collect::<Vec<_>>(),
        [
            (
                "Vssapi.dll",
                Some("6.1.7600.20541"),
                Some(1_124_352),
                Some("2009-10-05"),
                Some("05:51"),
                Some("x86"),
                Some(RowArch::X86)
            ),
            (
                "Vsstrace.dll",
                Some("6.1.7600.20541"),
                Some(56_320),
                Some("2009-10-05"),
                Some("05:51"),
                Some("x86"),
                Some(RowArch::X86)
            ),
            (
                "75dfb225-e2e4-4d39-9ac9-ffaff65ddf06.xml",
                None,
                Some(2_776),
                None,
                None,
                None,
                None
            ),
        ]
    );
    let add = &a.tables[1];
    // The date cell spans the first two rows.
    assert_eq!(add.rows[1].date.as_deref(), Some("2009-10-06"));
    assert_eq!(add.rows[1].size, Some(2_945));
    assert_eq!(add.rows[2].arch, Some(RowArch::Amd64));
    // An unreadable size is reported with its line; the row stays.
    assert_eq!(add.rows[2].size, None);
    assert_eq!(add.rows[2].line, 20);
    assert_eq!(
        warnings(&a),
        [(
            20,
            "Update.mum: size \"1,3a7\" is not a number; size left empty"
        )]
    );
}

/// `Dateiname | Dateigröße` and `Dateiname | Dateiversion` tables, header in
/// `td` inside `<p>`, no-break spaces as thousands separators.
#[test]
fn html_reduced_columns_german() {
    let a = read("reduced.de.html");
    assert_eq!(
        shape(&a),
        [
            (Some(Arch::X64), Kind::Files, 3),
            (Some(Arch::X64), Kind::Additional, 2)
        ]
    );
    let sizes: Vec<Option<u64>> = a.tables[0].rows.iter().map(|r| r.size).collect();
    assert_eq!(sizes, [Some(1_746_944), Some(76_800), Some(1_124_352)]);
    for r in &a.tables[0].rows {
        assert_eq!(
            (
                r.version.as_deref(),
                r.date.as_deref(),
                r.platform.as_deref(),
                r.arch
            ),
            (None, None, None, None),
            "{}",
            r.name
        );
    }
    let add = &a.tables[1];
    assert_eq!(add.rows[0].arch, Some(RowArch::Wow64));
    assert_eq!(add.rows[1].arch, Some(RowArch::Amd64));
    assert!(
        add.rows
            .iter()
            .all(|r| r.version.is_none() && r.size.is_none())
    );
    assert!(a.warnings.is_empty(), "{:?}", a.warnings);
}

/// Pipe tables without leading and trailing pipes, alignment colons,
/// Swedish words, space thousands separators, `05.51` times; prose with a
/// pipe after the table is not a row.
#[test]
fn markdown_without_outer_pipes_swedish() {
    let a = read("no-outer-pipes.sv.md");
    assert_eq!(a.layout, Layout::Markdown);
    assert_eq!(
        shape(&a),
        [
            (Some(Arch::X86), Kind::Files, 2),
            (Some(Arch::X86), Kind::Additional, 2)
        ]
    );
    assert_eq!(
        flat(&a.tables[0].rows[0]),
        (
            "Vssapi.dll",
            Some("6.1.7600.20541"),
            Some(1_124_352),
            Some("2009-10-05"),
            Some("05:51"),
            Some("x86"),
            Some(RowArch::X86)
        )
    );
    let add = &a.tables[1];
    assert_eq!(
        add.rows
            .iter()
            .map(|r| (r.size, r.arch))
            .collect::<Vec<_>>(),
        [
            (Some(12_389), Some(RowArch::X86)),
            (Some(1_947), Some(RowArch::X86))
        ]
    );
    assert!(add.rows.iter().all(|r| r.time.is_none()));
    assert!(a.warnings.is_empty(), "{:?}", a.warnings);
}

/// A scraped page whose rows came out as tab-separated lines between
/// paragraphs: read as tab-separated values, prose lines as headings; a
/// size written `56,3 kB` is reported, not guessed.
#[test]
fn tab_separated_rows_inside_prose_dutch() {
    let a = read("tsv-in-prose.nl.txt");
    assert_eq!(a.layout, Layout::Csv);
    assert_eq!(
        shape(&a),
        [
            (Some(Arch::X86), Kind::Files, 3),
            (Some(Arch::X64), Kind::Files, 2)
        ]
    );
    let t = &a.tables[0];
    assert_eq!(
        flat(&t.rows[0]),
        (
            "Eventcls.dll",
            Some("6.1.7600.16385"),
            Some(16_896),
            Some("2009-07-14"),
            Some("01:15"),
            Some("x86"),
            Some(RowArch::X86)
        )
    );
    assert_eq!(t.rows[2].size, None);
    assert_eq!(
        warnings(&a),
        [(
            7,
            "Vsstrace.dll: size \"56,3 kB\" has misplaced separators; size left empty"
        )]
    );
    assert_eq!(
        a.tables[1].rows.iter().map(|r| r.size).collect::<Vec<_>>(),
        [Some(1_746_944), Some(1_124_352)]
    );
}

/// The CSV file list of a cumulative update: `File name, File version,
/// Date, Time, File size`, "Not versioned" for manifests, one block per
/// architecture under a one-field heading record.
#[test]
fn cumulative_update_csv_file_list() {
    let a = read("file-list.en.csv");
    assert_eq!(a.layout, Layout::Csv);
    assert_eq!(
        shape(&a),
        [
            (Some(Arch::X64), Kind::Files, 4),
            (Some(Arch::X86), Kind::Files, 2)
        ]
    );
    let t = &a.tables[0];
    assert_eq!(
        flat(&t.rows[0]),
        (
            "Microsoft.windows.common-controls.manifest",
            None,
            Some(2_104),
            Some("2023-01-10"),
            Some("05:13"),
            None,
            None
        )
    );
    assert_eq!(t.rows[1].size, Some(10_880_672));
    // msil components are architecture-neutral.
    assert_eq!((t.rows[3].version.as_deref(), t.rows[3].arch), (None, None));
    assert_eq!(a.tables[1].rows[1].arch, Some(RowArch::X86));
    assert_eq!(a.tables[1].rows[1].size, Some(27_664));
    assert!(a.warnings.is_empty(), "{:?}", a.warnings);
}

/// Windows Server 2003-era table: the file name is the fifth column, an
/// unknown `Folder` column, a letter O in a size, a row cut short.
#[test]
fn name_last_file_attributes_table() {
    let a = read("file-attributes-2003.en.md");
    assert_eq!(shape(&a), [(Some(Arch::X86), Kind::Files, 2)]);
    let t = &a.tables[0];
    assert_eq!(
        flat(&t.rows[0]),
        (
            "Http.sys",
            Some("5.2.3790.2706"),
            Some(379_392),
            Some("2006-05-12"),
            Some("05:56"),
            None,
            None
        )
    );
    assert_eq!(t.rows[1].name, "Httpapi.dll");
    assert_eq!(t.rows[1].size, None);
    assert_eq!(
        warnings(&a),
        [
            (
                10,
                "Httpapi.dll: size \"1,9O4\" is not a number; size left empty"
            ),
            (
                11,
                "row without a file name skipped (cells: [\"12-May-2006\", \"05:56\"])"
            )
        ]
    );
}

/// Reduced tables in the remaining layouts and languages: French one cell
/// per line (name + version), Spanish `;` CSV (name + date + time, day
/// first because `13/10/2009` says so), Japanese markdown (name + size).
#[test]
fn reduced_columns_french_spanish_japanese() {
    let fr = read("reduced.fr.txt");
    assert_eq!(fr.layout, Layout::Text);
    assert_eq!(
        shape(&fr),
        [
            (Some(Arch::X64), Kind::Files, 2),
            (Some(Arch::X64), Kind::Additional, 1)
        ]
    );
    assert_eq!(
        fr.tables[0].rows[1].version.as_deref(),
        Some("6.1.7600.16385")
    );
    assert_eq!(fr.tables[0].rows[1].line, 12);
    assert_eq!(
        (
            fr.tables[1].rows[0].version.as_deref(),
            fr.tables[1].rows[0].arch
        ),
        (None, Some(RowArch::Amd64))
    );
    assert!(fr.warnings.is_empty(), "{:?}", fr.warnings);

    let es = read("reduced.es.csv");
    assert_eq!(shape(&es), [(Some(Arch::X86), Kind::Files, 2)]);
    let dates: Vec<Option<&str>> = es.tables[0]
        .rows
        .iter()
        .map(|r| r.date.as_deref())
        .collect();
    assert_eq!(dates, [Some("2009-10-05"), Some("2009-10-13")]);
    assert!(es.tables[0].rows.iter().all(|r| r.size.is_none()));

    let ja = read("reduced.ja.md");
    assert_eq!(shape(&ja), [(Some(Arch::X64), Kind::Files, 2)]);
    assert_eq!(ja.tables[0].rows[0].size, Some(1_746_944));
}

/// A file name with only time or platform columns says nothing about the
/// file: not a table (the error names what is needed).
#[test]
fn name_with_time_or_platform_only_is_not_a_table() {
    for md in [
        "| File name | Time |\n|---|---|\n| a.dll | 05:51 |\n",
        "| File name | Platform |\n|---|---|\n| a.dll | x86 |\n",
        "File name\tPlatform\na.dll\tx86\n",
    ] {
        let e = kb::parse(md, None).expect_err(md);
        assert!(
            e.to_string()
                .contains("at least one of file version, file size, date"),
            "{e}"
        );
    }
    let a = kb::parse(
        "| File name | Date |\n|---|---|\n| a.dll | 2009-10-05 |\n",
        None,
    )
    .expect("name + date");
    assert_eq!(a.tables[0].rows[0].date.as_deref(), Some("2009-10-05"));
}

/// A `<caption>` names the table when nothing above it does.
#[test]
fn html_caption_is_the_heading() {
    let html = "<h2>Additional file information</h2>\n<table><caption>For all supported <b>IA-64</b>-based versions</caption>\n\
<tr><td>File name</td><td>File size</td></tr>\n\
<tr><td>Update.mum</td><td>1,958</td></tr></table>\n\
<table><caption>For all supported x86-based versions\n<tr><td>File name</td><td>File version</td></tr>\n\
<tr><td>Update.mum</td><td>Not applicable</td></tr></table>";
    let a = kb::parse(html, None).expect("parses");
    assert_eq!(
        shape(&a),
        [
            (Some(Arch::Ia64), Kind::Additional, 1),
            (Some(Arch::X86), Kind::Additional, 1)
        ]
    );
    assert_eq!(
        a.tables[0].heading.as_deref(),
        Some("For all supported IA-64-based versions")
    );
    assert_eq!(a.tables[0].rows[0].arch, Some(RowArch::Ia64));
    assert_eq!(a.tables[1].rows[0].arch, Some(RowArch::X86));
}

/// One table holding every architecture, each under a one-cell section row
/// (HTML `colspan`, or a CSV record padded with empty fields): a table per
/// section, no section row read as a file.
#[test]
fn section_rows_inside_one_table_split_it() {
    let html = "<h3>File information</h3>\n<table>\n\
<tr><th>File name</th><th>File version</th><th>File size</th><th>Platform</th></tr>\n\
<tr><td colspan=4>For all supported x86-based versions</td></tr>\n\
<tr><td>Vssapi.dll</td><td>6.1.7600.20541</td><td>1,124,352</td><td>x86</td></tr>\n\
<tr><td colspan=4>For all supported x64-based versions</td></tr>\n\
<tr><td>Vssapi.dll</td><td>6.1.7600.20542</td><td>1,746,944</td><td>x64</td></tr>\n\
<tr><td>Vssapi.dll</td><td>6.1.7600.20542</td><td>1,124,352</td><td>x86</td></tr>\n\
<tr><td colspan=4>Additional files for all supported x64-based versions</td></tr>\n\
<tr><td>Update.mum</td><td>Not applicable</td><td>2,945</td><td>Not applicable</td></tr>\n\
</table>";
    let csv = "File information\nFile name,File version,File size,Platform\n\
For all supported x86-based versions,,,\n\
Vssapi.dll,6.1.7600.20541,\"1,124,352\",x86\n\
For all supported x64-based versions,,,\n\
Vssapi.dll,6.1.7600.20542,\"1,746,944\",x64\n\
Vssapi.dll,6.1.7600.20542,\"1,124,352\",x86\n\
Additional files for all supported x64-based versions,,,\n\
Update.mum,Not applicable,\"2,945\",Not applicable\n";
    for (what, text, layout) in [("html", html, Layout::Html), ("csv", csv, Layout::Csv)] {
        let a = kb::parse(text, None).expect(what);
        assert_eq!(a.layout, layout, "{what}");
        assert_eq!(
            shape(&a),
            [
                (Some(Arch::X86), Kind::Files, 1),
                (Some(Arch::X64), Kind::Files, 2),
                (Some(Arch::X64), Kind::Additional, 1)
            ],
            "{what}: {a:#?}"
        );
        assert_eq!(a.tables[1].rows[1].arch, Some(RowArch::Wow64), "{what}");
        assert_eq!(a.tables[2].rows[0].arch, Some(RowArch::Amd64), "{what}");
        assert_eq!(
            a.tables[1].heading.as_deref(),
            Some("For all supported x64-based versions"),
            "{what}"
        );
        assert!(a.warnings.is_empty(), "{what}: {:?}", a.warnings);
    }
}

/// Named character references beyond the common few (`&Eacute;`,
/// `&oslash;`, `&rsquo;`, `&hellip;`) read as their characters in file-table
/// rows and headings, in HTML and in markdown.
#[test]
fn html5_named_references_in_rows() {
    let html = "<h4>Fichiers suppl&eacute;mentaires pour toutes les versions x64 prises en charge</h4>\n\
<table><tr><th>Nom de fichier</th><th>Version du fichier</th><th>Taille du fichier</th><th>Date</th><th>Heure</th><th>Plateforme</th></tr>\n\
<tr><td>R&Eacute;SUM&Eacute;_&oslash;re_l&rsquo;app.xml</td><td>Non applicable</td><td>1&nbsp;958</td><td>5&nbsp;oct.&nbsp;2009</td><td>08:39</td><td>Non applicable</td></tr>\n\
</table>";
    let md = "##### Fichiers suppl&eacute;mentaires pour toutes les versions x64 prises en charge\n\n\
|Nom de fichier|Version du fichier|Taille du fichier|Date|Heure|Plateforme|\n|---|---|---|---|---|---|\n\
|R&Eacute;SUM&Eacute;\\_&oslash;re\\_l&rsquo;app.xml|Non applicable|1&nbsp;958|5 oct. 2009|08:39|Non applicable|\n";
    for (what, text) in [("html", html), ("markdown", md)] {
        let a = kb::parse(text, None).unwrap_or_else(|e| panic!("{what}: {e}"));
        let t = &a.tables[0];
        assert_eq!(
            t.heading.as_deref(),
            Some("Fichiers supplémentaires pour toutes les versions x64 prises en charge"),
            "{what}"
        );
        assert_eq!(
            (t.arch, t.kind),
            (Some(Arch::X64), Kind::Additional),
            "{what}"
        );
        assert_eq!(t.rows[0].name, "RÉSUMÉ_øre_l’app.xml", "{what}");
        assert_eq!(t.rows[0].size, Some(1_958), "{what}");
        assert_eq!(t.rows[0].date.as_deref(), Some("2009-10-05"), "{what}");
        assert!(a.warnings.is_empty(), "{what}: {:?}", a.warnings);
    }
}

/// Whitespace-aligned columns (issue 20): right-aligned sizes, an empty
/// time and empty platforms, a name too long for its column with the rest
/// of its row on the next line, and a name wrapped inside its column.
#[test]
fn aligned_columns_wrapped_and_empty_cells_english() {
    let a = read("aligned-wrapped.en.txt");
    assert_eq!(a.layout, Layout::Text);
    assert_eq!(
        shape(&a),
        [
            (Some(Arch::X64), Kind::Files, 4),
            (Some(Arch::X64), Kind::Additional, 2)
        ]
    );
    let t = &a.tables[0];
    assert_eq!(
        flat(&t.rows[1]),
        (
            "Vssapi.dll",
            Some("6.1.7600.20541"),
            Some(828_416),
            Some("2009-10-05"),
            Some("08:39"),
            Some("x86"),
            Some(RowArch::Wow64)
        )
    );
    // Empty time cell.
    assert_eq!(t.rows[2].time, None);
    assert_eq!(t.rows[2].platform.as_deref(), Some("x64"));
    // The name alone on its line, the rest of the row below it.
    assert_eq!(
        flat(&t.rows[3]),
        (
            "Windows6.1-hypervintegrationservices-x64.cab",
            None,
            Some(448_019),
            Some("2009-10-06"),
            Some("07:27"),
            None,
            None
        )
    );
    assert_eq!(t.rows[3].line, 12);
    let add = &a.tables[1];
    assert_eq!(
        add.rows[0].name,
        "Amd64_microsoft-windows-vssapi_31bf3856ad364e35_6.1.7600.20542_none_318dad7ab472931d.manifest"
    );
    assert_eq!(add.rows[0].arch, Some(RowArch::Amd64));
    assert_eq!(add.rows[0].size, Some(12_393));
    assert_eq!(add.rows[1].name, "Update.mum");
    assert_eq!(add.rows[1].version, None);
    assert!(a.warnings.is_empty(), "{:?}", a.warnings);
}

/// Aligned tables indented inside prose, German words; the second header
/// is separated by single blanks (the header words decide the columns).
#[test]
fn aligned_columns_indented_in_prose_german() {
    let a = read("aligned-indented.de.txt");
    assert_eq!(
        shape(&a),
        [
            (Some(Arch::X86), Kind::Files, 3),
            (Some(Arch::X64), Kind::Files, 2)
        ]
    );
    assert_eq!(a.tables[0].rows[0].size, Some(1_124_352));
    assert_eq!(a.tables[0].rows[2].version, None);
    assert_eq!(a.tables[0].rows[2].platform, None);
    assert_eq!(a.tables[1].rows[1].arch, Some(RowArch::Wow64));
    assert_eq!(a.tables[1].rows[1].date.as_deref(), Some("2009-10-06"));
    assert!(a.warnings.is_empty(), "{:?}", a.warnings);
}

/// Japanese aligned columns: full-width header words (two display columns
/// each), a reduced additional-files table.
#[test]
fn aligned_columns_japanese() {
    let a = read("aligned.ja.txt");
    assert_eq!(
        shape(&a),
        [
            (Some(Arch::X64), Kind::Files, 3),
            (Some(Arch::X64), Kind::Additional, 1)
        ]
    );
    assert_eq!(a.tables[0].rows[1].arch, Some(RowArch::Wow64));
    assert_eq!(a.tables[0].rows[2].version, None);
    assert_eq!(a.tables[1].rows[0].size, Some(10_245));
    assert_eq!(a.tables[1].rows[0].date.as_deref(), Some("2009-10-06"));
    assert!(a.warnings.is_empty(), "{:?}", a.warnings);
}

/// `Key: value` blocks in plain text (issue 20) in English (blank and
/// missing values, two blocks without a blank line between them), French
/// (`Nom de fichier : …`) and Japanese (full-width colon).
#[test]
fn key_value_lines_in_three_languages() {
    let en = read("kv.en.txt");
    assert_eq!(
        shape(&en),
        [
            (Some(Arch::X64), Kind::Files, 2),
            (Some(Arch::X64), Kind::Additional, 2)
        ]
    );
    assert_eq!(en.tables[0].rows[1].arch, Some(RowArch::Wow64));
    assert_eq!(en.tables[0].rows[0].line, 5);
    assert_eq!(en.tables[1].rows[0].platform, None);
    assert_eq!(en.tables[1].rows[1].time, None);
    assert_eq!(en.tables[1].rows[1].arch, Some(RowArch::Amd64));
    assert!(en.warnings.is_empty(), "{:?}", en.warnings);

    let fr = read("kv.fr.txt");
    assert_eq!(
        shape(&fr),
        [
            (Some(Arch::X86), Kind::Files, 2),
            (Some(Arch::X86), Kind::Additional, 1)
        ]
    );
    assert_eq!(
        flat(&fr.tables[0].rows[0]),
        (
            "Vssapi.dll",
            Some("6.1.7600.20541"),
            Some(1_124_352),
            Some("2009-10-05"),
            Some("05:51"),
            Some("x86"),
            Some(RowArch::X86)
        )
    );
    assert!(fr.warnings.is_empty(), "{:?}", fr.warnings);

    let ja = read("kv.ja.txt");
    assert_eq!(shape(&ja), [(Some(Arch::Ia64), Kind::Files, 2)]);
    assert_eq!(ja.tables[0].rows[0].size, Some(2_506_752));
    assert_eq!(ja.tables[0].rows[1].arch, Some(RowArch::Wow64));
    assert!(ja.warnings.is_empty(), "{:?}", ja.warnings);
}

/// A rule of dashes under an aligned header and an `Itanium` section line
/// between rows of a Swedish table (space thousands separators, `06.34`).
#[test]
fn aligned_columns_with_rules_and_sections() {
    let text = "Filinformation\n\n\
För alla x64-baserade versioner\n\
Filnamn      Filversion      Filstorlek  Datum       Tid    Plattform\n\
-----------  --------------  ----------  ----------  -----  ---------\n\
Vssapi.dll   6.1.7600.20542   1 746 944  2009-10-06  06.34  x64\n\
Vssapi.dll   6.1.7600.20542   1 124 352  2009-10-06  06.07  x86\n\
För alla Itanium-baserade versioner\n\
Vssapi.dll   6.1.7600.20541   2 506 752  2009-10-05  04.57  IA-64\n\
\n\
Mer information finns i artikeln.\n";
    let a = kb::parse(text, None).expect("parses");
    assert_eq!(a.layout, Layout::Text);
    assert_eq!(
        shape(&a),
        [
            (Some(Arch::X64), Kind::Files, 2),
            (Some(Arch::Ia64), Kind::Files, 1)
        ],
        "{a:#?}"
    );
    assert_eq!(a.tables[0].rows[1].size, Some(1_124_352));
    assert_eq!(a.tables[0].rows[1].arch, Some(RowArch::Wow64));
    assert_eq!(a.tables[1].rows[0].time.as_deref(), Some("04:57"));
    assert!(a.warnings.is_empty(), "{:?}", a.warnings);
}

/// `Key: value` lines as a markdown source without pipe tables writes them:
/// bulleted, keys in bold, under `##` headings (read as plain text, the
/// heading without its markup).
#[test]
fn key_value_bullets_in_a_markdown_source() {
    let md = "## For all supported x86-based versions\n\n\
- **File name:** Vssapi.dll\n- **File version:** 6.1.7600.20541\n- **File size:** 1,124,352\n- **Date:** 05-Oct-2009\n\n\
- **File name:** Update.mum\n- **File size:** 1,947\n";
    let a = kb::parse(md, None).expect("parses");
    assert_eq!(a.layout, Layout::Text);
    assert_eq!(shape(&a), [(Some(Arch::X86), Kind::Files, 2)]);
    assert_eq!(
        a.tables[0].heading.as_deref(),
        Some("For all supported x86-based versions")
    );
    assert_eq!(a.tables[0].rows[0].size, Some(1_124_352));
    assert_eq!(a.tables[0].rows[1].arch, Some(RowArch::X86));
    assert!(a.warnings.is_empty(), "{:?}", a.warnings);
}

/// The plain-text form of Windows Server 2003-era articles: indented
/// name-last columns (`Date Time Version Size File name`) under a rule of
/// dashes, right-aligned sizes, a platform column in the 64-bit table.
#[test]
fn aligned_columns_name_last_2003() {
    let a = read("aligned-2003.en.txt");
    assert_eq!(
        shape(&a),
        [(Some(Arch::X86), Kind::Files, 3), (None, Kind::Files, 2)]
    );
    assert_eq!(
        flat(&a.tables[0].rows[1]),
        (
            "Adsldpc.dll",
            Some("5.2.3790.2616"),
            Some(143_872),
            Some("2006-01-18"),
            Some("23:47"),
            None,
            None
        )
    );
    assert_eq!(a.tables[1].rows[0].arch, Some(RowArch::Ia64));
    assert_eq!(a.tables[1].rows[1].size, Some(491_520));
    assert!(a.warnings.is_empty(), "{:?}", a.warnings);
}

/// A forum page: no `<table>`, the file table pasted into `<pre>` as
/// aligned columns and key/value lines; the paragraphs around give the
/// headings.
#[test]
fn aligned_and_key_value_text_inside_html_pre() {
    let a = read("pre-forum.en.html");
    assert_eq!(a.layout, Layout::Html);
    assert_eq!(
        shape(&a),
        [
            (Some(Arch::X86), Kind::Files, 2),
            (Some(Arch::X86), Kind::Additional, 1)
        ]
    );
    assert_eq!(a.tables[0].line, 7);
    assert_eq!(a.tables[0].rows[1].line, 9);
    assert_eq!(a.tables[0].rows[1].size, Some(56_320));
    assert_eq!(a.tables[1].rows[0].name, "Update.mum");
    assert_eq!(a.tables[1].rows[0].line, 12);
    assert!(a.warnings.is_empty(), "{:?}", a.warnings);
}
