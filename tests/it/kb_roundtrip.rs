//! The same tables written in every layout (text, markdown, vertical
//! markdown, HTML, CSV, whitespace-aligned text, `Key: value` text) and
//! every language of the word table must parse back
//! to the same rows. A few renderings are committed under
//! `testdata/kb/rendered/` so reviewers can see them; the test fails when the
//! renderer no longer reproduces them (regenerate with `KBINSPECT_BLESS=1`).

use crate::common;

use kbinspect::kb::{self, Arch, Article, Kind, Layout, Row, RowArch, render, words};

/// Tables without line numbers or heading text (both differ by layout).
fn essence(a: &Article) -> Vec<(Option<Arch>, Kind, Vec<Row>)> {
    a.tables
        .iter()
        .map(|t| {
            let rows = t
                .rows
                .iter()
                .map(|r| Row {
                    line: 0,
                    ..r.clone()
                })
                .collect();
            (t.arch, t.kind, rows)
        })
        .collect()
}

fn sources() -> Vec<(String, Article)> {
    let mut out = Vec::new();
    let seed = common::testdata().join("KB975354-nl.txt");
    let bytes = std::fs::read(&seed).expect("seed copy");
    out.push((
        "KB975354-nl".to_string(),
        kb::parse_bytes(&bytes).expect("seed parses"),
    ));
    if let Some(corpus) = common::corpus() {
        let dir = corpus.join("kb-articles");
        let mut paths: Vec<_> = std::fs::read_dir(&dir)
            .expect("kb-articles")
            .filter_map(|e| e.ok().map(|e| e.path()))
            .collect();
        paths.sort();
        for p in paths {
            let bytes = std::fs::read(&p).expect("read article");
            let a = kb::parse_bytes(&bytes).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
            out.push((
                p.file_name()
                    .unwrap_or_default()
                    .to_string_lossy()
                    .into_owned(),
                a,
            ));
        }
    }
    out
}

fn check_same(what: &str, text: &str, want: &Article, layout: Option<Layout>) {
    let got = kb::parse(text, None).unwrap_or_else(|e| panic!("{what}: {e}\n{text}"));
    if let Some(l) = layout {
        assert_eq!(got.layout, l, "{what}: detected layout");
    }
    assert_eq!(essence(&got), essence(want), "{what}:\n{text}");
    // Rendered variants are clean: nothing to warn about except how
    // ambiguous numeric dates were resolved.
    for w in &got.warnings {
        assert!(
            w.message.contains("ambiguous"),
            "{what}: unexpected warning {w:?}"
        );
    }
}

#[test]
fn every_layout_and_language_reads_back_the_same_rows() {
    let mut checked = 0;
    for (name, article) in sources() {
        for lang in words::LANGS {
            for layout in Layout::ALL {
                let text = render::render(&article, layout, lang);
                check_same(
                    &format!("{name} as {} {}", lang.code, layout.name()),
                    &text,
                    &article,
                    Some(layout),
                );
                checked += 1;
            }
            for layout in Layout::ALL {
                let text = render::render_vertical(&article, layout, lang);
                check_same(
                    &format!("{name} as {} vertical {}", lang.code, layout.name()),
                    &text,
                    &article,
                    Some(layout),
                );
                checked += 1;
            }
            // Plain text with whitespace-aligned columns, and `Key: value`
            // lines.
            let text = render::render_aligned(&article, lang, None);
            check_same(
                &format!("{name} as {} aligned text", lang.code),
                &text,
                &article,
                Some(Layout::Text),
            );
            let text = render::render_key_value(&article, lang);
            check_same(
                &format!("{name} as {} key/value text", lang.code),
                &text,
                &article,
                Some(Layout::Text),
            );
            checked += 2;
        }
    }
    assert!(checked >= words::LANGS.len() * 10, "{checked}");
}

/// What a table rendered with only `cols` must read back as: the other
/// fields absent (`null`), and the row arch from the name when the
/// platform column is gone.
fn reduced(want: &Article, cols: &[words::Column]) -> Article {
    use words::Column as C;
    let mut a = want.clone();
    for t in &mut a.tables {
        let table_arch = t.arch;
        for r in &mut t.rows {
            let keep = |c: C| cols.contains(&c);
            if !keep(C::Version) {
                r.version = None;
            }
            if !keep(C::Size) {
                r.size = None;
            }
            if !keep(C::Date) {
                r.date = None;
            }
            if !keep(C::Time) {
                r.time = None;
            }
            if !keep(C::Platform) {
                r.platform = None;
                r.arch = kb::name_arch(&r.name, table_arch);
            }
            if !keep(C::ServiceBranch) {
                r.service_branch = None;
            }
            if !keep(C::SpRequirement) {
                r.sp_requirement = None;
            }
        }
    }
    a
}

/// Tables with only some columns (third-party copies, downloadable file
/// lists, Windows Server 2003-era "file attributes" with the name last)
/// in every layout and language.
#[test]
fn reduced_column_tables_read_back_in_every_layout_and_language() {
    use words::Column as C;
    let subsets: &[&[C]] = &[
        &[C::Name, C::Size],
        &[C::Name, C::Version],
        &[C::Name, C::Date],
        &[C::Name, C::Size, C::Date],
        &[C::Name, C::Version, C::Date, C::Time, C::Size],
        &[C::Date, C::Time, C::Version, C::Size, C::Name],
    ];
    let mut checked = 0;
    for (name, article) in sources() {
        for cols in subsets {
            let want = reduced(&article, cols);
            for lang in words::LANGS {
                for layout in Layout::ALL {
                    let text = render::render_columns(&article, layout, lang, Some(cols));
                    check_same(
                        &format!("{name} as {} {} {cols:?}", lang.code, layout.name()),
                        &text,
                        &want,
                        Some(layout),
                    );
                    checked += 1;
                }
                let text = render::render_aligned(&article, lang, Some(cols));
                check_same(
                    &format!("{name} as {} aligned text {cols:?}", lang.code),
                    &text,
                    &want,
                    Some(Layout::Text),
                );
                checked += 1;
            }
        }
    }
    assert!(
        checked >= subsets.len() * words::LANGS.len() * 4,
        "{checked}"
    );
}

type Renderer = fn(&Article, &words::Lang) -> String;

#[test]
fn committed_renderings_are_reproduced_and_parse() {
    let bytes = std::fs::read(common::testdata().join("KB975354-nl.txt")).expect("seed copy");
    let seed = kb::parse_bytes(&bytes).expect("seed");
    let dir = common::testdata().join("kb").join("rendered");
    let bless = std::env::var("KBINSPECT_BLESS").as_deref() == Ok("1");
    if bless {
        std::fs::create_dir_all(&dir).expect("mkdir");
    }
    let cases: &[(&str, Layout, &str)] = &[
        ("de", Layout::Html, "html"),
        ("fr", Layout::Csv, "csv"),
        ("ja", Layout::Markdown, "md"),
        ("en-us", Layout::Text, "txt"),
        ("pl", Layout::Text, "txt"),
        ("zh", Layout::Html, "html"),
        ("es", Layout::Markdown, "md"),
        ("cs", Layout::Csv, "csv"),
    ];
    // Plain-text forms: whitespace-aligned columns and `Key: value` lines.
    let text_forms: &[(&str, &str, Renderer)] = &[
        ("ja", "aligned.txt", |a, l| {
            render::render_aligned(a, l, None)
        }),
        ("de", "aligned.txt", |a, l| {
            render::render_aligned(a, l, None)
        }),
        ("nl", "aligned.txt", |a, l| {
            render::render_aligned(a, l, None)
        }),
        ("fr", "kv.txt", render::render_key_value),
        ("nl", "kv.txt", render::render_key_value),
        ("en", "kv.txt", render::render_key_value),
    ];
    for (code, ext, render_fn) in text_forms {
        let lang = words::lang(code).expect("language");
        let text = render_fn(&seed, lang);
        let path = dir.join(format!("KB975354.{code}.{ext}"));
        if bless {
            std::fs::write(&path, &text).expect("write");
        }
        let committed =
            std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert!(
            committed == text,
            "{} is not what the renderer writes now",
            path.display()
        );
        check_same(
            &path.display().to_string(),
            &committed,
            &seed,
            Some(Layout::Text),
        );
    }
    for (code, layout, ext) in cases {
        let lang = words::lang(code).expect("language");
        let text = render::render(&seed, *layout, lang);
        let path = dir.join(format!("KB975354.{code}.{ext}"));
        if bless {
            std::fs::write(&path, &text).expect("write");
        }
        let committed =
            std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert!(
            committed == text,
            "{} is not what the renderer writes now",
            path.display()
        );
        check_same(
            &path.display().to_string(),
            &committed,
            &seed,
            Some(*layout),
        );
    }
}

/// Hand-written variants (not generated): what real pages in other
/// languages look like, with their own quirks.
#[test]
fn handwritten_german_text_page() {
    let text = "Dateiinformationen\n\nFür alle unterstützten x64-basierten Versionen von Windows Server 2008 R2\n\n\
Dateiname\n\nDateiversion\n\nDateigröße\n\nDatum\n\nUhrzeit\n\nPlattform\n\n\
Vssapi.dll\n\n6.1.7600.20542\n\n1.746.944\n\n06.10.2009\n\n06:34\n\nx64\n\n\
Vssapi.dll\n\n6.1.7600.20542\n\n1.124.352\n\n06.10.2009\n\n06:07\n\nx86\n\n\
Zusätzliche Dateiinformationen\n\nZusätzliche Dateien für alle unterstützten x64-basierten Versionen\n\n\
Dateiname\n\nDateiversion\n\nDateigröße\n\nDatum\n\nUhrzeit\n\nPlattform\n\n\
Update.mum\n\nNicht zutreffend\n\n2.945\n\n06.10.2009\n\n16:08\n\nNicht zutreffend\n";
    let a = kb::parse(text, None).expect("parses");
    assert_eq!(a.layout, Layout::Text);
    assert_eq!(a.tables.len(), 2);
    assert_eq!(
        (a.tables[0].arch, a.tables[0].kind),
        (Some(Arch::X64), Kind::Files)
    );
    assert_eq!(a.tables[0].rows[1].arch, Some(RowArch::Wow64));
    assert_eq!(a.tables[0].rows[1].size, Some(1_124_352));
    assert_eq!(a.tables[0].rows[0].date.as_deref(), Some("2009-10-06"));
    assert_eq!(a.tables[1].kind, Kind::Additional);
    assert_eq!(a.tables[1].rows[0].version, None);
    assert_eq!(a.tables[1].rows[0].size, Some(2_945));
}

#[test]
fn handwritten_french_html_page_with_nested_layout_table() {
    let html = r#"<!DOCTYPE html><html><head><title>KB</title><style>td{color:red}</style></head><body>
<table class="layout"><tr><td>
<h3>Informations sur le fichier</h3>
<p>Pour toutes les versions x86 prises en charge de Windows&nbsp;7</p>
<table>
<thead><tr><th>Nom de fichier</th><th>Version du fichier</th><th>Taille du fichier</th><th>Date</th><th>Heure</th><th>Plateforme</th></tr></thead>
<tr><td><b>Vssapi.dll</b></td><td>6.1.7600.20541</td><td>1&nbsp;124&nbsp;352</td><td>5 oct. 2009</td><td>05 h 51</td><td>x86</td></tr>
<tr><td>X86_microsoft-windows-vssapi_31bf3856ad364e35_<br/>6.1.7600.20541_none_d56e11acfc160890.manifest</td><td>Non applicable</td><td>12&#160;389</td><td>05/10/2009</td><td>08:44</td><td>Non applicable</td>
</table>
<!-- <table><tr><td>Nom de fichier</td></tr></table> -->
<h4>Fichiers supplémentaires pour toutes les versions IA-64</h4>
<table><tr><th>Nom de fichier<th>Version du fichier<th>Taille du fichier<th>Date<th>Heure<th>Plateforme
<tr><td>Update.mum<td>Non applicable<td>1&nbsp;958<td>5 oct. 2009<td>08:39<td>Non applicable
</table>
</td></tr></table></body></html>"#;
    let a = kb::parse(html, None).expect("parses");
    assert_eq!(a.layout, Layout::Html);
    assert_eq!(a.tables.len(), 2, "{a:#?}");
    let t = &a.tables[0];
    assert_eq!((t.arch, t.kind), (Some(Arch::X86), Kind::Files));
    assert_eq!(
        t.heading.as_deref(),
        Some("Pour toutes les versions x86 prises en charge de Windows\u{a0}7")
    );
    assert_eq!(t.rows[0].name, "Vssapi.dll");
    assert_eq!(t.rows[0].size, Some(1_124_352));
    assert_eq!(t.rows[0].time.as_deref(), Some("05:51"));
    assert_eq!(
        t.rows[1].name,
        "X86_microsoft-windows-vssapi_31bf3856ad364e35_6.1.7600.20541_none_d56e11acfc160890.manifest"
    );
    // French article: 05/10/2009 is 5 October.
    assert_eq!(t.rows[1].date.as_deref(), Some("2009-10-05"));
    let u = &a.tables[1];
    assert_eq!(
        (u.arch, u.kind, u.rows.len()),
        (Some(Arch::Ia64), Kind::Additional, 1)
    );
    assert_eq!(u.rows[0].size, Some(1_958));
}

#[test]
fn us_english_slash_dates_month_first_unless_the_table_says_otherwise() {
    let md = "## For all supported x86-based versions\n\
|File name|File version|File size|Date|Time|Platform|\n|---|---|---|---|---|---|\n\
|a.dll|1.0|1|10/05/2009|05:51|x86|\n";
    let a = kb::parse(md, None).expect("parses");
    assert_eq!(a.tables[0].rows[0].date.as_deref(), Some("2009-10-05"));
    assert!(a.warnings.iter().any(|w| w.message.contains("month first")));
    // One unambiguous day-first date decides for the whole table.
    let md2 = format!("{md}|b.dll|1.0|1|13/05/2009|05:51|x86|\n");
    let a = kb::parse(&md2, None).expect("parses");
    assert_eq!(a.tables[0].rows[0].date.as_deref(), Some("2009-05-10"));
    assert_eq!(a.tables[0].rows[1].date.as_deref(), Some("2009-05-13"));
    // Dutch: day first.
    let nl = "Voor x86\n|Bestandsnaam|Bestandsversie|Bestandsgrootte|Datum|Tijd|Platform|\n|---|---|---|---|---|---|\n\
|a.dll|1.0|1|10/05/2009|5:51|x86|\n";
    let a = kb::parse(nl, None).expect("parses");
    assert_eq!(a.tables[0].rows[0].date.as_deref(), Some("2009-05-10"));
}

/// Markdown sources sometimes embed an HTML table between pipe tables.
#[test]
fn markdown_with_an_embedded_html_table_reads_both() {
    let md = "## For all supported x86-based versions\n\n\
|File name|File version|File size|Date|Time|Platform|\n|---|---|---|---|---|---|\n\
|a.dll|6.1.7600.1|1,024|05-Oct-2009|05:51|x86|\n\n\
## For all supported x64-based versions\n\n\
<table><tr><th>File name</th><th>File version</th><th>File size</th><th>Date</th><th>Time</th><th>Platform</th></tr>\n\
<tr><td>a.dll</td><td>6.1.7600.1</td><td>2,048</td><td>05-Oct-2009</td><td>05:52</td><td>x64</td></tr></table>\n\n\
## Additional files for all supported IA-64-based versions\n\n\
|File name|File version|File size|Date|Time|Platform|\n|---|---|---|---|---|---|\n\
|Update.mum|Not applicable|3,072|05-Oct-2009|05:53|Not applicable|\n";
    let a = kb::parse(md, None).expect("parses");
    let got: Vec<(Option<Arch>, Kind, Option<u64>)> = a
        .tables
        .iter()
        .map(|t| (t.arch, t.kind, t.rows[0].size))
        .collect();
    assert_eq!(
        got,
        [
            (Some(Arch::X86), Kind::Files, Some(1024)),
            (Some(Arch::X64), Kind::Files, Some(2048)),
            (Some(Arch::Ia64), Kind::Additional, Some(3072)),
        ]
    );
}

/// Windows Server 2003-era tables: SP requirement and service branch
/// columns, `SP1QFE\WOW` branches; later CSV downloads with extra columns.
#[test]
fn sp_requirement_and_extra_columns() {
    let md = "Windows Server 2003, x64-based versions\n\n\
| File name | File version | File size | Date | Time | Platform | SP requirement | Service branch |\n\
|---|---|---|---|---|---|---|---|\n\
| Http.sys | 5.2.3790.2706 | 722,432 | 12-May-2006 | 06:17 | x64 | SP1 | SP1QFE |\n\
| Whttp.sys | 5.2.3790.2706 | 387,072 | 12-May-2006 | 06:17 | x86 | SP1 | SP1QFE\\WOW |\n";
    let a = kb::parse(md, None).expect("parses");
    let t = &a.tables[0];
    assert_eq!(t.arch, Some(Arch::X64));
    assert_eq!(t.rows[0].sp_requirement.as_deref(), Some("SP1"));
    assert_eq!(t.rows[1].service_branch.as_deref(), Some("SP1QFE\\WOW"));
    assert_eq!(t.rows[1].arch, Some(RowArch::Wow64));
    let json = serde_json::to_value(&t.rows[0]).expect("json");
    assert_eq!(json["sp_requirement"], "SP1");
    // Without the column the key is absent (the documented JSON keys stay exact).
    let plain = kb::parse(
        &render::render(&a, Layout::Csv, words::lang("en").expect("en")),
        None,
    )
    .expect("csv");
    assert!(plain.tables[0].rows[0].sp_requirement.is_some());

    let csv = "File name,File version,Date,Time,File size,SHA-256,Attributes\n\
ntoskrnl.exe,10.0.19041.2486,10-Jan-2023,05:13,\"10,880,672\",abc,A\n";
    let a = kb::parse(csv, None).expect("csv with extra columns");
    assert_eq!(a.layout, Layout::Csv);
    assert_eq!(a.tables[0].rows[0].size, Some(10_880_672));
    assert_eq!(a.tables[0].rows[0].time.as_deref(), Some("05:13"));
}

/// A one-pair "block" (`File name` then a value then prose) is text, and
/// the table after it is still found.
#[test]
fn text_key_value_block_needs_two_pairs() {
    let text = "For all supported x86-based versions\nFile name\nsomething\nFile size\n\
File name\nFile version\nFile size\nDate\nTime\nPlatform\n\
a.dll\n1.0\n1,024\n05-Oct-2009\n05:51\nx86\n\
Additional files for all supported x86-based versions\nFile name\nUpdate.mum\nFile size\n1,674\nFile name\nx.manifest\nFile size\n12\n";
    let a = kb::parse(text, None).expect("parses");
    let got: Vec<(Option<Arch>, Kind, usize)> = a
        .tables
        .iter()
        .map(|t| (t.arch, t.kind, t.rows.len()))
        .collect();
    assert_eq!(
        got,
        [
            (Some(Arch::X86), Kind::Files, 1),
            (Some(Arch::X86), Kind::Additional, 2)
        ]
    );
    assert_eq!(a.tables[1].rows[1].name, "x.manifest");
    assert_eq!(a.tables[1].rows[0].size, Some(1_674));
}
