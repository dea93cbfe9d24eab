//! `verify --format junit`: JUnit XML, as Jenkins, GitLab, Azure DevOps and
//! GitHub Actions reporters read it. One `<testsuite>` per package; in it
//! one `<testcase>` per check (reading, metadata, references, digests,
//! container index, deltas, signatures, catalogs, the KB article, and
//! "proof": everything proven) and one per documented KB row. A case
//! fails when it has a finding as bad as the gate (errors; with
//! `--fail-on`, warnings or infos too); "proof" is skipped when something
//! could not be proven (failed with `--strict`), so the suite agrees with
//! the verdict and the exit code. Made from the same report as the JSON
//! (`docs/reports.md`); validated against `testdata/junit/junit.xsd`.

use std::io::{self, Write};

use kbinspect::check::diff::Change;
use kbinspect::finding::{Finding, Severity};

use super::verify::{VerifyView, row_status, summary_line};

/// What makes a case fail: the exit code's policy.
#[derive(Clone, Copy, Debug)]
pub struct Gate {
    /// `--strict`: something unproven is a failure, not a skip.
    pub strict: bool,
    /// The least severity that fails (`Error`, or `--fail-on`'s).
    pub fail_at: Severity,
}

/// How a case ended.
#[derive(Clone, Debug)]
pub enum Outcome {
    Pass,
    Failure { message: String, body: String },
    Skipped { message: String },
    Error { message: String },
}

#[derive(Clone, Debug)]
pub struct Case {
    pub classname: String,
    pub name: String,
    pub outcome: Outcome,
    /// What the case looked at, for `<system-out>`.
    pub out: String,
}

#[derive(Clone, Debug)]
pub struct Suite {
    pub name: String,
    pub properties: Vec<(String, String)>,
    pub cases: Vec<Case>,
    /// Seconds the package took.
    pub time: f64,
}

/// The checks, in order, and the finding codes each answers for. Codes
/// not listed go to `other` (a case only when it has findings).
const CHECKS: &[(&str, &str)] = &[
    ("reading", "the package was read completely"),
    (
        "metadata",
        "every .mum and .manifest parsed; names match identities",
    ),
    ("references", "every reference resolved"),
    ("digests", "every payload's bytes match its manifest digest"),
    ("container-index", "the container index agrees"),
    ("deltas", "every delta blob rebuilds its target"),
    ("signatures", "every signature verified to a trusted root"),
    (
        "catalogs",
        "servicing documents and payloads in verified catalogs",
    ),
];

/// Row findings are cases of their own ([`KB_ROW_CODES`]); these belong to
/// the article as a whole.
const KB_ROW_CODES: &[&str] = &[
    "kb-missing",
    "kb-version-mismatch",
    "kb-size-mismatch",
    "kb-wrong-arch",
    "kb-time-mismatch",
];

/// The check a finding code belongs to.
pub fn check_of(code: &str) -> &'static str {
    let prefix = |p: &str| code.starts_with(p);
    if prefix("cab-")
        || matches!(
            code,
            "member-unreadable"
                | "member-too-large"
                | "member-duplicate-name"
                | "member-content-mismatch"
        )
    {
        "reading"
    } else if prefix("metadata-")
        || prefix("manifest-")
        || prefix("mum-")
        || prefix("dcm-")
        || code == "no-package-metadata"
    {
        "metadata"
    } else if matches!(
        code,
        "component-missing"
            | "package-missing"
            | "deployment-target-missing"
            | "component-unreferenced"
            | "member-unreferenced"
            | "file-missing"
    ) {
        "references"
    } else if prefix("digest-")
        || matches!(
            code,
            "payload-in-psf" | "source-disagreement" | "second-source-unchecked"
        )
    {
        "digests"
    } else if prefix("index-") {
        "container-index"
    } else if prefix("delta-") {
        "deltas"
    } else if prefix("trust-") || matches!(code, "unsigned" | "download-name-mismatch") {
        "signatures"
    } else if prefix("catalog-") {
        "catalogs"
    } else if prefix("kb-") {
        "kb-article"
    } else {
        "other"
    }
}

/// A check's case from its findings.
fn check_case(name: &str, what: &str, findings: &[&Finding], gate: &Gate) -> Case {
    let failing: Vec<&&Finding> = findings
        .iter()
        .filter(|f| f.severity >= gate.fail_at)
        .collect();
    let outcome = if failing.is_empty() {
        Outcome::Pass
    } else {
        let first = failing[0];
        let message = match failing.len() {
            1 => format!("{}: {}", first.code, first.subject),
            n => format!("{n} findings: {} {} …", first.code, first.subject),
        };
        Outcome::Failure {
            message,
            body: failing
                .iter()
                .map(|f| f.to_string())
                .collect::<Vec<_>>()
                .join("\n"),
        }
    };
    let mut out = what.to_string();
    for f in findings.iter().filter(|f| f.severity < gate.fail_at) {
        out.push('\n');
        out.push_str(&f.to_string());
    }
    Case {
        classname: "kbinspect.verify".into(),
        name: name.into(),
        outcome,
        out,
    }
}

/// One package's suite.
pub fn verify_suite(v: &VerifyView<'_>, gate: &Gate, time: f64) -> Suite {
    let r = v.report;
    let mut cases = Vec::new();
    let by_check = |check: &str| -> Vec<&Finding> {
        r.findings
            .iter()
            .filter(|f| {
                let code = f.code.as_str();
                check_of(code) == check && !KB_ROW_CODES.contains(&code)
            })
            .collect()
    };
    for (name, what) in CHECKS {
        cases.push(check_case(name, what, &by_check(name), gate));
    }
    let other = by_check("other");
    if !other.is_empty() {
        cases.push(check_case("other", "other findings", &other, gate));
    }
    let kb_article = by_check("kb-article");
    if v.kb.is_some() || !kb_article.is_empty() {
        cases.push(check_case(
            "kb-article",
            "the KB article is the package's and documents its files",
            &kb_article,
            gate,
        ));
    }
    // Proof: everything proven, or what was not and why.
    let c = r.coverage;
    let what = format!(
        "{} of {} files proven ({} stored, {} rebuilt; {} index-only, {} unproven)",
        c.files_proven,
        c.files_declared,
        c.stored_digest,
        c.rebuilt_digest,
        c.index_only,
        c.unproven
    );
    let proof = if r.unproven.is_empty() {
        Outcome::Pass
    } else {
        let body = r
            .unproven
            .iter()
            .map(|u| format!("{}: {}", u.subject, u.reason))
            .collect::<Vec<_>>()
            .join("\n");
        let message = format!("{} things not proven", r.unproven.len());
        if gate.strict {
            Outcome::Failure { message, body }
        } else {
            Outcome::Skipped {
                message: format!("{message}: {body}"),
            }
        }
    };
    cases.push(Case {
        classname: "kbinspect.verify".into(),
        name: "proof".into(),
        outcome: proof,
        out: what,
    });
    if let Some(kb) = v.kb {
        for row in &kb.rows {
            let fails = match row.status {
                "ok" => false,
                "ok-with-warnings" => gate.fail_at <= Severity::Warning,
                _ => true,
            };
            let documented = format!(
                "documented ({}, line {}): {} {} {} {} {} {}",
                row.table,
                row.line,
                row.name,
                row.arch.unwrap_or_default(),
                row.version.as_deref().unwrap_or("-"),
                row.size.map_or("-".to_string(), |n| n.to_string()),
                row.date.as_deref().unwrap_or("-"),
                row.time.as_deref().unwrap_or("-"),
            );
            let found = match &row.found {
                None => "found: nothing".to_string(),
                Some(f) => format!(
                    "found: {} {} {} {} {}",
                    f.path,
                    f.arch.as_deref().unwrap_or("-"),
                    f.version.as_deref().unwrap_or("-"),
                    f.size.map_or("-".to_string(), |n| n.to_string()),
                    f.timestamp.as_deref().unwrap_or("-"),
                ),
            };
            let out = format!("{documented}\n{found}\nstatus: {}", row_status(row));
            cases.push(Case {
                classname: format!(
                    "kbinspect.kb.{}",
                    kb.arch
                        .map_or("any".to_string(), |a| format!("{a:?}").to_lowercase())
                ),
                name: format!("{} (line {})", row.name, row.line),
                outcome: if fails {
                    Outcome::Failure {
                        message: row_status(row),
                        body: out.clone(),
                    }
                } else {
                    Outcome::Pass
                },
                out,
            });
        }
    }
    let mut properties = vec![
        ("input".to_string(), r.input.to_string()),
        ("verdict".to_string(), r.verdict.to_string()),
        ("summary".to_string(), summary_line(r)),
        ("files_declared".to_string(), c.files_declared.to_string()),
        ("files_proven".to_string(), c.files_proven.to_string()),
        ("signatures".to_string(), c.signatures.to_string()),
        (
            "signatures_verified".to_string(),
            c.signatures_verified
                .map_or("-".to_string(), |n| n.to_string()),
        ),
        ("catalogs".to_string(), c.catalogs.to_string()),
    ];
    if let Some(kb) = v.kb {
        properties.push((
            "kb_rows".to_string(),
            format!("{} of {} match", kb.rows_matched, kb.rows_checked),
        ));
        if let Some(k) = &kb.package_kb {
            properties.push(("package_kb".to_string(), format!("KB{k}")));
        }
        if let Some(k) = &kb.article_kb {
            properties.push(("article_kb".to_string(), format!("KB{k}")));
        }
    }
    if let Some(t) = v.trust {
        properties.push(("roots".to_string(), t.summary.roots.join(", ")));
    }
    Suite {
        name: r.input.to_string(),
        properties,
        cases,
        time,
    }
}

/// The suite of a package that could not be verified: one case, in error.
pub fn unreadable_suite(input: &str, error: &str) -> Suite {
    Suite {
        name: input.to_string(),
        properties: vec![("input".into(), input.into())],
        cases: vec![Case {
            classname: "kbinspect.verify".into(),
            name: "reading".into(),
            outcome: Outcome::Error {
                message: error.to_string(),
            },
            out: String::new(),
        }],
        time: 0.0,
    }
}

/// The areas of `diff`, each a check: the change kinds it holds start
/// with its name (`file-digest-changed` is a `files` change).
const DIFF_AREAS: &[(&str, &str, &str)] = &[
    (
        "packages",
        "package-",
        "the same packages (mums) and versions",
    ),
    ("updates", "update-", "the same mum <update> references"),
    (
        "components",
        "component-",
        "the same components and versions",
    ),
    (
        "files",
        "file-",
        "the same files: digests, sizes, versions, destinations",
    ),
    ("registry", "registry-", "the same registry values"),
];

/// `diff --format junit`: one suite, OLD against NEW. Each area without
/// changes is one passing case; each change is a failing case of its area
/// (`classname="kbinspect.diff.<area>"`, named `<kind>: <subject>`), so
/// the suite fails exactly when `diff` exits 1.
pub fn diff_suite(old: &str, new: &str, changes: &[Change], time: f64) -> Suite {
    let mut cases = Vec::new();
    let area_of = |kind: &str| {
        DIFF_AREAS
            .iter()
            .find(|(_, prefix, _)| kind.starts_with(prefix))
            .map_or("other", |(name, _, _)| name)
    };
    let mut areas: Vec<(&str, &str)> = DIFF_AREAS.iter().map(|(n, _, w)| (*n, *w)).collect();
    if changes.iter().any(|c| area_of(&c.kind) == "other") {
        areas.push(("other", "no other changes"));
    }
    for (area, what) in areas {
        let mine: Vec<&Change> = changes
            .iter()
            .filter(|c| area_of(&c.kind) == area)
            .collect();
        if mine.is_empty() {
            cases.push(Case {
                classname: "kbinspect.diff".into(),
                name: area.into(),
                outcome: Outcome::Pass,
                out: what.into(),
            });
            continue;
        }
        for c in mine {
            let side = |v: &Option<String>| v.clone().unwrap_or_else(|| "(none)".into());
            let body = format!("old: {}\nnew: {}", side(&c.old), side(&c.new));
            cases.push(Case {
                classname: format!("kbinspect.diff.{area}"),
                name: format!("{}: {}", c.kind, c.subject),
                outcome: Outcome::Failure {
                    message: c.kind.clone(),
                    body: body.clone(),
                },
                out: body,
            });
        }
    }
    Suite {
        name: format!("{old} -> {new}"),
        properties: vec![
            ("old".into(), old.into()),
            ("new".into(), new.into()),
            ("changes".into(), changes.len().to_string()),
            ("summary".into(), crate::render::diff_summary(changes)),
        ],
        cases,
        time,
    }
}

/// XML text and attribute values: markup escaped, and what XML 1.0 cannot
/// hold (controls other than tab and newline, U+FFFE/U+FFFF) shown as
/// `\u{…}` as on the terminal.
fn xml(s: &str) -> String {
    let s = crate::cli::term::escape(s);
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\u{fffe}' | '\u{ffff}' => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
            c => out.push(c),
        }
    }
    out
}

struct Counts {
    tests: usize,
    failures: usize,
    errors: usize,
    skipped: usize,
}

fn counts<'a>(cases: impl Iterator<Item = &'a Case>) -> Counts {
    let mut c = Counts {
        tests: 0,
        failures: 0,
        errors: 0,
        skipped: 0,
    };
    for case in cases {
        c.tests += 1;
        match case.outcome {
            Outcome::Pass => {}
            Outcome::Failure { .. } => c.failures += 1,
            Outcome::Error { .. } => c.errors += 1,
            Outcome::Skipped { .. } => c.skipped += 1,
        }
    }
    c
}

/// The document: `<testsuites>` with every suite.
pub fn write<W: Write + ?Sized>(out: &mut W, name: &str, suites: &[Suite]) -> io::Result<()> {
    let all = counts(suites.iter().flat_map(|s| s.cases.iter()));
    let time: f64 = suites.iter().map(|s| s.time).sum();
    writeln!(out, r#"<?xml version="1.0" encoding="UTF-8"?>"#)?;
    writeln!(
        out,
        r#"<testsuites name="{}" tests="{}" failures="{}" errors="{}" skipped="{}" time="{time:.3}">"#,
        xml(name),
        all.tests,
        all.failures,
        all.errors,
        all.skipped
    )?;
    for (id, s) in suites.iter().enumerate() {
        let c = counts(s.cases.iter());
        writeln!(
            out,
            r#"  <testsuite name="{}" id="{id}" tests="{}" failures="{}" errors="{}" skipped="{}" time="{:.3}">"#,
            xml(&s.name),
            c.tests,
            c.failures,
            c.errors,
            c.skipped,
            s.time
        )?;
        if !s.properties.is_empty() {
            writeln!(out, "    <properties>")?;
            for (k, v) in &s.properties {
                writeln!(
                    out,
                    r#"      <property name="{}" value="{}"/>"#,
                    xml(k),
                    xml(v)
                )?;
            }
            writeln!(out, "    </properties>")?;
        }
        for case in &s.cases {
            write!(
                out,
                r#"    <testcase classname="{}" name="{}" time="0">"#,
                xml(&case.classname),
                xml(&case.name)
            )?;
            match &case.outcome {
                Outcome::Pass => {}
                Outcome::Failure { message, body } => write!(
                    out,
                    r#"<failure message="{}" type="{}">{}</failure>"#,
                    xml(message),
                    xml(&case.name),
                    xml(body)
                )?,
                Outcome::Skipped { message } => {
                    write!(out, r#"<skipped message="{}"/>"#, xml(message))?
                }
                Outcome::Error { message } => write!(
                    out,
                    r#"<error message="{}" type="unreadable">{}</error>"#,
                    xml(message),
                    xml(message)
                )?,
            }
            if !case.out.is_empty() {
                write!(out, "<system-out>{}</system-out>", xml(&case.out))?;
            }
            writeln!(out, "</testcase>")?;
        }
        writeln!(out, "  </testsuite>")?;
    }
    writeln!(out, "</testsuites>")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_documented_code_has_a_check() {
        for code in [
            "cab-data",
            "member-unreadable",
            "digest-mismatch",
            "trust-expired",
            "unsigned",
            "catalog-absent",
            "kb-undocumented",
            "index-hash-mismatch",
            "delta-corrupt",
            "component-missing",
            "manifest-compressed",
            "no-package-metadata",
        ] {
            assert_ne!(check_of(code), "other", "{code}");
        }
    }

    #[test]
    fn xml_escapes_markup_and_controls() {
        assert_eq!(xml("a<b>&\"'\u{1b}"), "a&lt;b&gt;&amp;&quot;&apos;\\u{1b}");
    }
}
