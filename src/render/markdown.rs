//! `--format markdown`: a report to paste into a pull request, a ticket or
//! a wiki. CommonMark with GitHub tables, no raw HTML: every value is
//! escaped (backslashes before markdown punctuation, controls shown as
//! `\u{…}`), so a package's names cannot inject markup. Made from the same
//! report as the JSON (`docs/reports.md`).

use std::io::{self, Write};

use kbinspect::check::diff::Change;

use super::verify::{VerifyView, summary_line, worst_first};

/// Text made safe for a markdown paragraph or table cell.
pub fn md(s: &str) -> String {
    let s = crate::cli::term::escape(s);
    let mut out = String::with_capacity(s.len() + 8);
    let chars: Vec<char> = s.chars().collect();
    for (i, &c) in chars.iter().enumerate() {
        // An underscore between letters or digits (`amd64_microsoft`)
        // cannot start or end emphasis: left as it is, for a readable
        // source.
        let inside_word = |i: usize| {
            i > 0
                && chars[i - 1].is_alphanumeric()
                && chars.get(i + 1).is_some_and(|n| n.is_alphanumeric())
        };
        match c {
            '_' if inside_word(i) => out.push(c),
            '\\' | '`' | '*' | '_' | '[' | ']' | '<' | '>' | '|' | '&' | '~' | '#' | '!' => {
                out.push('\\');
                out.push(c);
            }
            '\n' | '\t' => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// A table: header and rows, every cell escaped.
fn table<W: Write + ?Sized>(
    out: &mut W,
    header: &[&str],
    rows: impl Iterator<Item = Vec<String>>,
) -> io::Result<()> {
    writeln!(
        out,
        "| {} |",
        header.iter().map(|h| md(h)).collect::<Vec<_>>().join(" | ")
    )?;
    writeln!(out, "|{}", "---|".repeat(header.len()))?;
    for row in rows {
        let mut cells: Vec<String> = row.iter().map(|c| md(c)).collect();
        cells.resize(header.len(), String::new());
        writeln!(out, "| {} |", cells.join(" | "))?;
    }
    writeln!(out)
}

fn heading<W: Write + ?Sized>(out: &mut W, level: usize, text: &str) -> io::Result<()> {
    writeln!(out, "{} {}\n", "#".repeat(level.clamp(1, 6)), md(text))
}

/// One package's report; its title at `level` (1 alone, 2 in a batch).
pub fn write_verify<W: Write + ?Sized>(
    out: &mut W,
    level: usize,
    v: &VerifyView<'_>,
) -> io::Result<()> {
    let r = v.report;
    heading(out, level, &format!("kbinspect verify: {}", r.input))?;
    let line = summary_line(r);
    let (verdict, rest) = line.split_once(": ").unwrap_or((&line, ""));
    writeln!(out, "**{}**: {}\n", md(verdict), md(rest))?;

    heading(out, level + 1, "Coverage")?;
    let c = r.coverage;
    let s = &r.summary;
    table(
        out,
        &["what", "count"],
        [
            (
                "files proven",
                format!(
                    "{} of {} ({} stored, {} rebuilt)",
                    c.files_proven, c.files_declared, c.stored_digest, c.rebuilt_digest
                ),
            ),
            ("files proven by the index only", c.index_only.to_string()),
            ("files unproven", c.unproven.to_string()),
            (
                "signatures verified",
                match c.signatures_verified {
                    Some(n) => format!("{n} of {}", c.signatures),
                    None => format!("{} present, not verified", c.signatures),
                },
            ),
            ("catalogs", c.catalogs.to_string()),
            (
                "components",
                (s.stats.components + s.stats.deployments).to_string(),
            ),
            (
                "index sources verified",
                s.stats.index_sources_verified.to_string(),
            ),
            (
                "findings",
                format!(
                    "{} errors, {} warnings, {} info",
                    s.errors, s.warnings, s.infos
                ),
            ),
        ]
        .into_iter()
        .map(|(k, v)| vec![k.to_string(), v]),
    )?;

    if let Some(kb) = v.kb {
        heading(out, level + 1, "KB article")?;
        let number = |k: &Option<String>| k.as_ref().map_or("?".to_string(), |k| format!("KB{k}"));
        writeln!(
            out,
            "Package {}, article {}: **{} of {}** documented rows match ({} tables for {}).\n",
            md(&number(&kb.package_kb)),
            md(&number(&kb.article_kb)),
            kb.rows_matched,
            kb.rows_checked,
            kb.tables.len(),
            kb.arch
                .map_or("?".to_string(), |a| format!("{a:?}").to_lowercase())
        )?;
        let mut at = 0;
        while at < kb.rows.len() {
            let name = &kb.rows[at].table;
            let end = kb.rows[at..]
                .iter()
                .position(|r| &r.table != name)
                .map_or(kb.rows.len(), |n| at + n);
            heading(out, level + 2, name)?;
            table(
                out,
                &[
                    "line",
                    "name",
                    "arch",
                    "version",
                    "size",
                    "date",
                    "time",
                    "found",
                    "found arch",
                    "found version",
                    "found size",
                    "timestamp",
                    "status",
                ],
                kb.rows[at..end].iter().map(super::verify::wide_row),
            )?;
            at = end;
        }
    }

    if !r.unproven.is_empty() {
        heading(out, level + 1, "Not proven")?;
        table(
            out,
            &["subject", "reason"],
            r.unproven
                .iter()
                .map(|u| vec![u.subject.clone(), u.reason.clone()]),
        )?;
    }

    findings(out, level + 1, r.findings)?;

    if let Some(t) = v.trust {
        let s = &t.summary;
        heading(out, level + 1, "Trust")?;
        let roots = if s.roots.is_empty() {
            "none".to_string()
        } else {
            s.roots.join(", ")
        };
        for item in [
            format!(
                "Signatures: {} of {} verified; roots: {roots}",
                s.signatures_verified, s.signatures
            ),
            format!(
                "Servicing documents in a verified catalog: {} of {}",
                s.documents_covered, s.documents
            ),
            format!(
                "Payload files found in a catalog: {} of {} ({} by flat hash, {} by PE hash)",
                s.files_found, s.files, s.files_by_flat_hash, s.files_by_pe_hash
            ),
            format!("Revocation: {}", t.revocation),
        ] {
            writeln!(out, "- {}", md(&item))?;
        }
        writeln!(out)?;
        if !t.signatures.is_empty() {
            table(
                out,
                &["result", "file", "kind", "signer", "chain", "timestamp"],
                t.signatures.iter().map(|sig| {
                    vec![
                        sig.result.clone(),
                        sig.file.clone(),
                        sig.kind.clone(),
                        sig.signer.clone().unwrap_or_default(),
                        sig.chain
                            .as_ref()
                            .map(|c| c.certs.join(" > "))
                            .unwrap_or_default(),
                        sig.timestamp
                            .as_ref()
                            .and_then(|t| t.time.clone())
                            .unwrap_or_default(),
                    ]
                }),
            )?;
        }
        if !t.catalogs.is_empty() {
            table(
                out,
                &["catalog", "verified", "entries", "documents", "files"],
                t.catalogs.iter().map(|c| {
                    vec![
                        c.member.clone(),
                        if c.verified { "yes" } else { "no" }.to_string(),
                        c.entries.to_string(),
                        c.documents.len().to_string(),
                        c.files.to_string(),
                    ]
                }),
            )?;
        }
    }
    Ok(())
}

/// A batch row for the summary table: package, KB, arch, verdict, files
/// proven, signatures verified, errors, warnings (or the error).
pub type BatchRow = Vec<String>;

/// A batch: the totals, a summary table, then each package's report.
pub fn write_batch<W: Write + ?Sized>(
    out: &mut W,
    totals: &str,
    header: &[&str],
    rows: &[BatchRow],
    sections: &[String],
) -> io::Result<()> {
    heading(
        out,
        1,
        &format!("kbinspect verify: {} packages", rows.len()),
    )?;
    writeln!(out, "**{}**\n", md(totals))?;
    table(out, header, rows.iter().cloned())?;
    for s in sections {
        out.write_all(s.as_bytes())?;
    }
    Ok(())
}

/// `diff` as markdown: the two inputs, the count, the changes.
pub fn write_diff<W: Write + ?Sized>(
    out: &mut W,
    old: &str,
    new: &str,
    changes: &[Change],
) -> io::Result<()> {
    heading(out, 1, "kbinspect diff")?;
    writeln!(out, "- old: {}\n- new: {}\n", md(old), md(new))?;
    if changes.is_empty() {
        return writeln!(out, "**No differences.**");
    }
    writeln!(out, "**{}**\n", md(&super::diff_summary(changes)))?;
    table(
        out,
        &super::CHANGE_HEADER,
        changes.iter().map(super::change_cells),
    )
}

/// The findings section: a table worst first, or "No findings."
fn findings<W: Write + ?Sized>(
    out: &mut W,
    level: usize,
    list: &[kbinspect::finding::Finding],
) -> io::Result<()> {
    heading(out, level, "Findings")?;
    if list.is_empty() {
        return writeln!(out, "No findings.\n");
    }
    table(
        out,
        &["severity", "code", "subject", "detail"],
        worst_first(list).into_iter().map(|f| {
            vec![
                f.severity.to_string(),
                f.code.to_string(),
                f.subject.clone(),
                f.detail.clone(),
            ]
        }),
    )
}

/// `ls` as markdown: the summary line, the members (the table's columns),
/// the containers, the findings.
pub fn write_ls<W: Write + ?Sized>(
    out: &mut W,
    input: &str,
    summary: &str,
    header: &[&str],
    rows: impl Iterator<Item = Vec<String>>,
    containers: &[String],
    list: &[kbinspect::finding::Finding],
) -> io::Result<()> {
    heading(out, 1, &format!("kbinspect ls: {input}"))?;
    writeln!(out, "**{}**\n", md(summary))?;
    heading(out, 2, "Members")?;
    table(out, header, rows)?;
    heading(out, 2, "Containers")?;
    for c in containers {
        writeln!(out, "- {}", md(c))?;
    }
    writeln!(out)?;
    findings(out, 2, list)
}

/// `list` as markdown: the counts, then packages, components and files.
pub fn write_list<W: Write + ?Sized>(
    out: &mut W,
    summary: &str,
    pkg: &kbinspect::model::Package,
) -> io::Result<()> {
    heading(out, 1, &format!("kbinspect list: {}", pkg.input))?;
    writeln!(out, "**{}**\n", md(summary))?;
    heading(out, 2, "Packages")?;
    table(
        out,
        &super::PACKAGE_HEADER,
        pkg.packages.iter().map(super::package_cells),
    )?;
    heading(out, 2, "Components")?;
    table(
        out,
        &[
            "component",
            "version",
            "arch",
            "deployment",
            "files",
            "keyform",
        ],
        pkg.components.iter().map(|c| {
            vec![
                c.identity.name.to_string(),
                c.identity.version.to_string(),
                c.arch.to_string(),
                if c.deployment { "yes" } else { "no" }.to_string(),
                c.files.len().to_string(),
                c.keyform.to_string(),
            ]
        }),
    )?;
    heading(out, 2, "Files")?;
    table(
        out,
        &["component", "file", "version", "digest", "size", "location"],
        pkg.components.iter().flat_map(|c| {
            c.files.iter().map(move |f| {
                vec![
                    c.identity.name.to_string(),
                    f.destination.clone(),
                    f.pe.as_ref()
                        .and_then(|p| p.file_version)
                        .map(|v| v.to_string())
                        .unwrap_or_default(),
                    match (&f.digest_alg, &f.digest) {
                        (Some(a), Some(d)) => format!("{a}:{d}"),
                        _ => String::new(),
                    },
                    f.size.map(|s| s.to_string()).unwrap_or_default(),
                    super::location_text(&f.location),
                ]
            })
        }),
    )?;
    findings(out, 2, &pkg.findings)
}

/// `kb` as markdown: per article table a heading (its heading, kind,
/// architecture, line) and its rows; then the warnings.
pub fn write_kb<W: Write + ?Sized>(
    out: &mut W,
    input: &str,
    summary: &str,
    tables: &[(String, Vec<Vec<String>>)],
    header: &[&str],
    warnings: &[String],
) -> io::Result<()> {
    heading(out, 1, &format!("kbinspect kb: {input}"))?;
    writeln!(out, "**{}**\n", md(summary))?;
    for (title, rows) in tables {
        heading(out, 2, title)?;
        table(out, header, rows.iter().cloned())?;
    }
    if !warnings.is_empty() {
        heading(out, 2, "Warnings")?;
        for w in warnings {
            writeln!(out, "- {}", md(w))?;
        }
        writeln!(out)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use pulldown_cmark::{Event, Options, Parser, Tag, TagEnd};

    /// What a package could name, in a table cell and a paragraph: no
    /// markup survives, the text reads back as written.
    #[test]
    fn hostile_text_stays_text() {
        let nasty = [
            "<script>alert(1)</script>",
            "a | b || c",
            "*bold* _em_ __strong__ ~~gone~~",
            "[link](http://example.com) ![img](x.png)",
            "`code` ``more``",
            "&amp; &lt;b&gt; &#60;",
            "# not a heading",
            "back\\slash \\| \\*",
            "amd64_microsoft-windows_31bf3856ad364e35_6.1",
            "line\nbreak\ttab\u{1b}[31m",
            "<!-- comment --> <div>",
        ];
        let mut doc = Vec::new();
        table(
            &mut doc,
            &["a", "b"],
            nasty.iter().map(|s| vec![s.to_string(), "x".into()]),
        )
        .unwrap();
        for s in nasty {
            doc.extend(format!("{}\n\n", md(s)).as_bytes());
        }
        let doc = String::from_utf8(doc).unwrap();
        let mut cells = Vec::new();
        let mut text = String::new();
        let options = Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH;
        for event in Parser::new_ext(&doc, options) {
            match event {
                Event::Html(h) | Event::InlineHtml(h) => panic!("raw HTML {h:?} in\n{doc}"),
                Event::Start(
                    tag @ (Tag::Emphasis
                    | Tag::Strong
                    | Tag::Strikethrough
                    | Tag::Link { .. }
                    | Tag::Image { .. }
                    | Tag::Heading { .. }),
                ) => panic!("markup {tag:?} in\n{doc}"),
                Event::Code(c) => panic!("code span {c:?} in\n{doc}"),
                Event::Text(t) => text.push_str(&t),
                Event::End(TagEnd::TableCell) | Event::End(TagEnd::Paragraph) => {
                    cells.push(std::mem::take(&mut text))
                }
                _ => {}
            }
        }
        // Header (2 cells), then each row's first cell and "x".
        for (i, s) in nasty.iter().enumerate() {
            let want = crate::cli::term::escape(s).replace(['\n', '\t'], " ");
            assert_eq!(cells[2 + 2 * i], want, "cell {i}");
            assert_eq!(cells[2 + 2 * nasty.len() + i], want, "paragraph {i}");
        }
    }
}
