//! The release engineer's batch (issue 16): `verify --kb-dir` picks each
//! package's article by KB number; `extract` prints per-file lines only
//! with `--verbose`.
use crate::common;

use assert_cmd::Command;
use serde_json::Value;

fn kbinspect() -> Command {
    Command::cargo_bin("kbinspect").unwrap()
}

/// A folder of articles: the sample's (KB975354) and two others, under
/// names that do and do not carry the KB number.
fn articles(dir: &std::path::Path) -> std::path::PathBuf {
    let kbs = dir.join("articles");
    std::fs::create_dir(&kbs).unwrap();
    std::fs::copy(
        common::testdata().join("KB975354-nl.txt"),
        kbs.join("KB975354-nl.txt"),
    )
    .unwrap();
    std::fs::write(
        kbs.join("other.txt"),
        "Update KB2654668 for MSMQ\nKB2654668 fixes things\n",
    )
    .unwrap();
    std::fs::write(kbs.join("notes.txt"), "no KB number here\n").unwrap();
    kbs
}

#[test]
fn kb_dir_picks_each_packages_article() {
    let tmp = tempfile::tempdir().unwrap();
    let kbs = articles(tmp.path());
    let root = common::testdata().join("trust/test-keys/TEST-ONLY-root.pem");
    let x64 = common::testdata().join("Windows6.1-KB975354-x64.msu");
    let x86 = common::testdata().join("Windows6.1-KB975354-x86.msu");
    let out = kbinspect()
        .arg("verify")
        .args([&x64, &x86])
        .arg("--kb-dir")
        .arg(&kbs)
        .arg("--trust-root")
        .arg(&root)
        .args(["--format", "json"])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let packages = v["packages"].as_array().unwrap();
    assert_eq!(packages.len(), 2);
    for p in packages {
        assert_eq!(p["verdict"], "pass", "{}", p["input"]);
        assert_eq!(p["kb"]["article_kb"], "975354");
        let checked = p["kb"]["rows_checked"].as_u64().unwrap();
        assert!(checked > 0);
        assert_eq!(p["kb"]["rows_matched"].as_u64(), Some(checked));
    }
    // One package: the same article, in the table output.
    let out = kbinspect()
        .arg("verify")
        .arg(&x64)
        .arg("--kb-dir")
        .arg(&kbs)
        .arg("--trust-root")
        .arg(&root)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(
        text.contains("KB article: 17 of 17 documented rows match"),
        "{text}"
    );
}

#[test]
fn kb_dir_without_the_packages_article_is_not_run() {
    let tmp = tempfile::tempdir().unwrap();
    let kbs = tmp.path().join("articles");
    std::fs::create_dir(&kbs).unwrap();
    std::fs::write(kbs.join("KB2654668.txt"), "KB2654668\n").unwrap();
    let x64 = common::testdata().join("Windows6.1-KB975354-x64.msu");
    let out = kbinspect()
        .arg("verify")
        .arg(&x64)
        .arg("--kb-dir")
        .arg(&kbs)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("--kb-dir: no article for KB975354"), "{err}");
    // In a batch: that package's row says why, the exit code is 2.
    let out = kbinspect()
        .arg("verify")
        .arg(&x64)
        .arg(common::testdata().join("Windows6.1-KB975354-x86.msu"))
        .arg("--kb-dir")
        .arg(&kbs)
        .args(["--format", "json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(
        v["packages"][0]["error"]
            .as_str()
            .unwrap()
            .contains("no article for KB975354"),
        "{v}"
    );
}

#[test]
fn table_and_strict_time_need_an_article() {
    let x64 = common::testdata().join("Windows6.1-KB975354-x64.msu");
    let out = kbinspect()
        .arg("verify")
        .arg(&x64)
        .args(["--table", "x64"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("need --kb or --kb-dir"));
}

/// Without `--verbose`, `extract` prints the summary line alone (a real MSU
/// is thousands of files); with it, one line per file written.
#[test]
fn extract_prints_file_lines_only_with_verbose() {
    let msu = common::testdata().join("Windows6.1-KB975354-x64.msu");
    let tmp = tempfile::tempdir().unwrap();
    let quiet = kbinspect()
        .arg("extract")
        .arg(&msu)
        .arg("-o")
        .arg(tmp.path().join("a"))
        .output()
        .unwrap();
    assert_eq!(quiet.status.code(), Some(0));
    let text = String::from_utf8_lossy(&quiet.stdout);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 1, "{text}");
    assert!(lines[0].contains("files,") && lines[0].contains("bytes written to"));
    let verbose = kbinspect()
        .arg("extract")
        .arg(&msu)
        .arg("-o")
        .arg(tmp.path().join("b"))
        .arg("--verbose")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&verbose.stdout);
    let wrote = text.lines().filter(|l| l.starts_with("wrote ")).count();
    let n: usize = lines[0].split(' ').next().unwrap().parse().unwrap();
    assert_eq!(wrote, n, "{text}");
    assert_eq!(
        text.lines().last(),
        Some(lines[0].replace("/a", "/b").as_str())
    );
    // Into a used directory: what was not written is listed (at most 10
    // lines without --verbose), the last line says so, exit 1.
    let again = kbinspect()
        .arg("extract")
        .arg(&msu)
        .arg("-o")
        .arg(tmp.path().join("a"))
        .output()
        .unwrap();
    assert_eq!(again.status.code(), Some(1));
    let text = String::from_utf8_lossy(&again.stdout);
    assert!(
        text.lines().filter(|l| l.starts_with("skipped ")).count() <= 10,
        "{text}"
    );
    assert!(
        text.lines()
            .last()
            .unwrap()
            .starts_with("incomplete: 0 files"),
        "{text}"
    );
}

/// One package that cannot be read: exit 2 and the error on stderr, and
/// a JSON or JUnit report says it too, as a batch row does (a CI gate that
/// reads the report finds the error, not an empty or missing file). The
/// table and Markdown reports stay empty.
#[test]
fn an_unreadable_package_is_in_the_json_and_junit_reports() {
    let tmp = tempfile::tempdir().unwrap();
    let bad = tmp.path().join("notcab.msu");
    std::fs::write(&bad, "hello, not a cabinet\n").unwrap();
    let out = kbinspect()
        .args(["verify", "--format", "json"])
        .arg(&bad)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("not a cabinet"), "{stderr}");
    let v: Value = serde_json::from_slice(&out.stdout).expect("a JSON report");
    assert_eq!(v["input"], bad.display().to_string());
    assert!(v["verdict"].is_null(), "{v}");
    let e = v["error"].as_str().unwrap();
    assert!(e.contains("at offset 0: not a cabinet"), "{e}");
    // The same row as in a batch.
    let batch = kbinspect()
        .args(["verify", "--format", "json"])
        .arg(&bad)
        .arg(common::testdata().join("Windows6.1-KB975354-x86.msu"))
        .output()
        .unwrap();
    let b: Value = serde_json::from_slice(&batch.stdout).unwrap();
    assert_eq!(b["packages"][0], v);

    let xml = tmp.path().join("report.xml");
    let out = kbinspect()
        .args(["verify", "--format", "junit", "--output"])
        .arg(&xml)
        .arg(&bad)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let x = std::fs::read_to_string(&xml).expect("the JUnit report is written");
    assert!(x.contains(r#"errors="1""#), "{x}");
    assert!(
        x.contains(r#"<error message="#) && x.contains("not a cabinet"),
        "{x}"
    );

    for format in ["table", "markdown"] {
        let out = kbinspect()
            .args(["verify", "--format", format])
            .arg(&bad)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2));
        assert!(out.stdout.is_empty(), "{format}");
    }
}
