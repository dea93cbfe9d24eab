//! `verify --kb` and `diff` on the generated KB975354 packages and on the
//! real KB4538483 package.

use crate::common;

use std::path::Path;

use kbinspect::check::{anomaly, diff, integrity, kb as kbcheck, signature};
use kbinspect::container::Limits;
use kbinspect::finding::{Finding, Severity};
use kbinspect::model::Package;
use kbinspect_testkit::{self as sample, Variant};

fn article() -> kbinspect::kb::Article {
    let bytes = std::fs::read(common::testdata().join("KB975354-nl.txt")).unwrap();
    kbinspect::kb::parse_bytes(&bytes).unwrap()
}

fn load(path: &Path) -> Package {
    Package::load(path, &Limits::default()).unwrap()
}

/// Integrity findings plus KB findings, as `verify --kb` computes them.
fn verify(pkg: &Package) -> Vec<Finding> {
    let mut f = integrity::check(pkg);
    // The samples are signed by the TEST-ONLY CA: trust its root, as
    // `--trust-root testdata/trust/test-keys/TEST-ONLY-root.pem` does.
    f.extend(
        signature::check_trust(
            pkg,
            &kbinspect::model::LoadOptions::default(),
            &sample::sign::trust_options(),
        )
        .0,
    );
    f.extend(anomaly::check(pkg));
    let (k, summary) = kbcheck::check(pkg, &article(), &kbcheck::KbOptions::default());
    assert!(summary.rows_checked > 0, "no rows compared");
    f.extend(k);
    f
}

fn write_msu(dir: &Path, name: &str, spec: &sample::Spec) -> std::path::PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, sample::build_msu(spec)).unwrap();
    p
}

fn codes(f: &[Finding], sev: Severity) -> Vec<String> {
    let mut c: Vec<String> = f
        .iter()
        .filter(|f| f.severity >= sev)
        .map(|f| f.code.to_string())
        .collect();
    c.sort();
    c
}

#[test]
fn committed_samples_verify_clean_against_the_seed_article() {
    for arch in ["x86", "x64", "ia64"] {
        let pkg = load(&common::testdata().join(format!("Windows6.1-KB975354-{arch}.msu")));
        let findings = verify(&pkg);
        assert!(
            findings.iter().all(|f| f.severity == Severity::Info),
            "{arch}: {findings:#?}"
        );
        let (_, s) = kbcheck::check(&pkg, &article(), &Default::default());
        assert_eq!(s.rows_matched, s.rows_checked, "{arch}");
        // x86: 4 files + 2 additional; x64: 11 + 6; ia64: 7 + 3.
        let want = match arch {
            "x86" => 6,
            "x64" => 17,
            _ => 10,
        };
        assert_eq!(s.rows_checked, want, "{arch}");
    }
}

/// Each broken variant fails with exactly its finding and nothing else of
/// warning or error severity.
#[test]
fn variants_fail_with_exactly_the_right_finding() {
    let dir = tempfile::tempdir().unwrap();
    for v in Variant::ALL {
        let path = write_msu(dir.path(), &format!("{}.msu", v.name()), &v.spec());
        let findings = verify(&load(&path));
        let got = codes(&findings, Severity::Warning);
        let want: &[&str] = match v {
            // The catalog lists the file as built: its hash is not there.
            Variant::TamperedPayload => &["catalog-mismatch", "digest-mismatch"],
            Variant::VersionMismatch => &["kb-version-mismatch"],
            Variant::SizeMismatch => &["kb-size-mismatch"],
            Variant::MissingFile => &["kb-missing"],
            Variant::ExtraFile => &["kb-undocumented"],
            Variant::WrongMachine => &["kb-wrong-arch"],
            Variant::DateMismatch => &["kb-time-mismatch"],
            Variant::Unsigned => &["unsigned"],
            // The documented manifest name is gone too.
            Variant::ManifestNameMismatch => &["kb-missing", "manifest-name-mismatch"],
        };
        assert_eq!(got, want, "{}: {}\n{findings:#?}", v.name(), v.expected());
        let subject_ok = v == Variant::Unsigned
            || findings
                .iter()
                .filter(|f| f.severity >= Severity::Warning)
                .all(|f| {
                    let s = format!("{} {}", f.subject, f.detail).to_ascii_lowercase();
                    s.contains("vssapi")
                        || s.contains("vsstrace")
                        || s.contains("eventcls")
                        || s.contains("vssui")
                });
        assert!(subject_ok, "{}: {findings:#?}", v.name());
    }
}

#[test]
fn strict_time_turns_a_time_mismatch_into_an_error() {
    let pkg = load(&common::testdata().join("Windows6.1-KB975354-x64.msu"));
    // The x86 tables document the same .xml name with another time.
    let opts = kbcheck::KbOptions {
        table_arch: Some(kbinspect::kb::Arch::X86),
        strict_time: true,
        ..Default::default()
    };
    let (f, _) = kbcheck::check(&pkg, &article(), &opts);
    assert!(
        f.iter()
            .any(|f| f.code == "kb-time-mismatch" && f.severity == Severity::Error),
        "{f:#?}"
    );
}

#[test]
fn diff_reports_exactly_the_second_build_changes() {
    let dir = tempfile::tempdir().unwrap();
    let base = sample::kb975354(sample::Arch::X64);
    let old = write_msu(dir.path(), "old.msu", &base);
    let new = write_msu(dir.path(), "new.msu", &sample::second_build(&base));
    let changes = diff::diff(&load(&old), &load(&new));
    let got: Vec<(String, String)> = changes
        .iter()
        .map(|c| (c.kind.clone(), c.subject.clone()))
        .collect();
    let want = [
        (
            "component-version-changed",
            "Microsoft-Windows-VssApi (amd64)",
        ),
        ("file-added", "vssui.dll (amd64)"),
        ("file-digest-changed", "vssapi.dll (amd64)"),
        ("file-removed", "vsstrace.dll (amd64)"),
        ("file-size-changed", "vssapi.dll (amd64)"),
        ("file-version-changed", "vssapi.dll (amd64)"),
        (
            "update-changed",
            "Package_for_KB975354_RTM (amd64): update 975354-4_RTM_LDR",
        ),
    ];
    let want: Vec<(String, String)> = want
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect();
    assert_eq!(got, want, "{changes:#?}");
    let bump = &changes[0];
    assert_eq!(bump.old.as_deref(), Some("6.1.7600.20542"));
    assert_eq!(bump.new.as_deref(), Some("6.1.7600.20543"));
    // A package compared with itself has no differences.
    assert!(diff::diff(&load(&old), &load(&old)).is_empty());
}

/// The KB4538483 file table as a test writes it (markdown, English), with the
/// values of the real package; `wrong` changes one documented size.
fn kb4538483_article(wrong: bool) -> String {
    let size = if wrong { "3,917,825" } else { "3,917,824" };
    format!(
        "# KB4538483\n\n## File information\n\n### For all supported x86-based versions of Windows 7\n\n\
| File name | File version | File size | Date | Time | Platform |\n\
|---|---|---|---|---|---|\n\
| Sppsvc.exe | 6.1.7601.24553 | {size} | 01-May-2020 | 21:36 | x86 |\n\
| Sppobjs.dll | 6.1.7601.24553 | 986,112 | 01-May-2020 | 21:36 | x86 |\n\
| Pkeyconfig.xrm-ms | Not applicable | 1,070,568 | 01-May-2020 | 21:36 | Not applicable |\n\n\
### Additional file information\n\n#### Additional files for all supported x86-based versions of Windows 7\n\n\
| File name | Update.mum |\n|---|---|\n| File version | Not applicable |\n| File size | 2,582 |\n| Date (UTC) | 01-May-2020 |\n| Time (UTC) | 21:36 |\n| Platform | Not applicable |\n"
    )
}

#[test]
fn real_kb4538483_against_a_written_table() {
    let msu = corpus_or_skip!("kb4538483-esu-msu");
    let msu = std::fs::read_dir(&msu)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|e| e == "msu"))
        .unwrap();
    let pkg = load(&msu);
    for wrong in [false, true] {
        let article = kbinspect::kb::parse(&kb4538483_article(wrong), None).unwrap();
        let (f, s) = kbcheck::check(&pkg, &article, &Default::default());
        assert_eq!(s.rows_checked, 4, "{article:#?}");
        let errors: Vec<&Finding> = f.iter().filter(|f| f.severity == Severity::Error).collect();
        if wrong {
            assert_eq!(errors.len(), 1, "{f:#?}");
            assert_eq!(errors[0].code, "kb-size-mismatch");
            assert!(errors[0].subject.starts_with("Sppsvc.exe"), "{f:#?}");
        } else {
            assert!(errors.is_empty(), "{f:#?}");
            assert_eq!(s.rows_matched, 4);
        }
    }
}

/// One "additional files" table for every architecture (no arch in its
/// heading): each package is checked against the rows whose keyform or
/// package name gives one of its architectures, and only those.
#[test]
fn arch_less_additional_table_is_checked_by_row_arch() {
    let md = "## File information\n\n### For all supported x64-based versions\n\n\
| File name | File version | File size | Date | Time | Platform |\n|---|---|---|---|---|---|\n\
| Vssapi.dll | 6.1.7600.20542 | 1,746,944 | 06-Oct-2009 | 06:34 | x64 |\n\n\
### Additional file information\n\n\
| File name | File version | File size |\n|---|---|---|\n\
| Package_for_kb975354_rtm~31bf3856ad364e35~x86~~6.1.1.0.mum | Not applicable | 1,947 |\n\
| X86_microsoft-windows-vssapi_31bf3856ad364e35_6.1.7600.20541_none_d56e11acfc160890.manifest | Not applicable | 12,389 |\n\
| Package_for_kb975354_rtm~31bf3856ad364e35~amd64~~6.1.2.0.mum | Not applicable | 2,945 |\n\
| Amd64_microsoft-windows-vssapi_31bf3856ad364e35_6.1.7600.20542_none_318dad7ab472931d.manifest | Not applicable | 12,393 |\n\
| Wow64_microsoft-windows-vssapi_31bf3856ad364e35_6.1.7600.20542_none_3be257cce8d35518.manifest | Not applicable | 11,453 |\n\
| Update.mum | Not applicable | 1 |\n";
    let article = kbinspect::kb::parse(md, None).unwrap();
    assert_eq!(article.tables[1].arch, None);
    for (arch, checked, headings) in [("x86", 2, 1), ("x64", 4, 2)] {
        let pkg = load(&common::testdata().join(format!("Windows6.1-KB975354-{arch}.msu")));
        let (f, s) = kbcheck::check(&pkg, &article, &Default::default());
        // `Update.mum` names no arch and its table none either: not checked.
        assert_eq!(s.rows_checked, checked, "{arch}: {f:#?}");
        assert_eq!(s.rows_matched, checked, "{arch}: {f:#?}");
        assert_eq!(s.tables.len(), headings, "{arch}: {:?}", s.tables);
        assert!(
            f.iter()
                .all(|f| f.code != "kb-missing" && f.code != "kb-size-mismatch"),
            "{arch}: {f:#?}"
        );
    }
    // Wrong documented size of the wow64 manifest: found through the row arch.
    let bad = md.replace("11,453", "11,454");
    let article = kbinspect::kb::parse(&bad, None).unwrap();
    let pkg = load(&common::testdata().join("Windows6.1-KB975354-x64.msu"));
    let (f, _) = kbcheck::check(&pkg, &article, &Default::default());
    let sizes: Vec<&Finding> = f.iter().filter(|f| f.code == "kb-size-mismatch").collect();
    assert_eq!(sizes.len(), 1, "{f:#?}");
    assert!(sizes[0].subject.contains("(wow64,"), "{f:#?}");
}
