//! `kbinspect kb`: output formats, the exact JSON schema, exit codes.

use crate::common;

use std::collections::BTreeSet;
use std::process::{Command, Output};

fn kbinspect(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_kbinspect"))
        .args(args)
        .output()
        .expect("run kbinspect")
}

fn seed() -> String {
    common::testdata()
        .join("KB975354-nl.txt")
        .display()
        .to_string()
}

fn keys(v: &serde_json::Value) -> BTreeSet<&str> {
    v.as_object()
        .expect("object")
        .keys()
        .map(String::as_str)
        .collect()
}

#[test]
fn json_has_exactly_the_documented_keys() {
    let out = kbinspect(&["kb", &seed(), "--format", "json"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(keys(&v), BTreeSet::from(["layout", "tables", "warnings"]));
    assert_eq!(v["layout"], "text");
    let tables = v["tables"].as_array().expect("tables");
    assert_eq!(tables.len(), 6);
    for t in tables {
        assert_eq!(
            keys(t),
            BTreeSet::from(["heading", "arch", "kind", "line", "rows"])
        );
        for r in t["rows"].as_array().expect("rows") {
            assert_eq!(
                keys(r),
                BTreeSet::from([
                    "name",
                    "version",
                    "size",
                    "date",
                    "time",
                    "platform",
                    "arch",
                    "service_branch",
                    "line"
                ])
            );
        }
    }
    let arch: Vec<&str> = tables
        .iter()
        .map(|t| t["arch"].as_str().unwrap_or("?"))
        .collect();
    assert_eq!(arch, ["x86", "x64", "ia64", "x86", "x64", "ia64"]);
    let kind: Vec<&str> = tables
        .iter()
        .map(|t| t["kind"].as_str().unwrap_or("?"))
        .collect();
    assert_eq!(
        kind,
        [
            "files",
            "files",
            "files",
            "additional",
            "additional",
            "additional"
        ]
    );
    let v0 = &tables[0]["rows"][2];
    assert_eq!(v0["name"], "Vssapi.dll");
    assert_eq!(v0["size"], 1_124_352);
    assert_eq!(v0["version"], "6.1.7600.20541");
    assert_eq!(v0["date"], "2009-10-05");
    assert_eq!(v0["time"], "05:51");
    assert_eq!(v0["arch"], "x86");
    assert!(tables[0]["rows"][0]["version"].is_null());
    let ia = &tables[2]["rows"][6];
    assert_eq!(
        (ia["arch"].as_str(), ia["service_branch"].as_str()),
        (Some("wow64"), Some("WOW"))
    );
    let w = &v["warnings"][0];
    assert_eq!(keys(w), BTreeSet::from(["line", "message"]));
    assert_eq!(w["line"], 454);
}

#[test]
fn csv_has_one_line_per_file() {
    let out = kbinspect(&["kb", &seed(), "--format", "csv"]);
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8(out.stdout).expect("utf8");
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 1 + 4 + 11 + 7 + 2 + 6 + 3);
    assert_eq!(
        lines[0],
        "heading,table_arch,kind,name,version,size,date,time,platform,arch,service_branch,line"
    );
    assert_eq!(
        lines[3],
        "\"Voor alle ondersteunde versies van Windows 7 op basis van x86\",\"x86\",\"files\",\"Vssapi.dll\",\
\"6.1.7600.20541\",\"1124352\",\"2009-10-05\",\"05:51\",\"x86\",\"x86\",\"\",\"170\""
    );
}

#[test]
fn table_output_and_warnings_on_stderr() {
    let out = kbinspect(&["kb", &seed()]);
    assert_eq!(out.status.code(), Some(0));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("Vssapi.dll") && stdout.contains("1124352"),
        "{stdout}"
    );
    assert!(stdout.contains("[additional ia64]"), "{stdout}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("KB975354-nl.txt:454:") && stderr.contains("WOWStatus"),
        "{stderr}"
    );
}

#[test]
fn errors_exit_2_with_a_clear_message() {
    let dir = tempfile::tempdir().expect("tempdir");
    let garbage = dir.path().join("garbage.txt");
    std::fs::write(&garbage, "nothing to see here\n").expect("write");
    let binary = dir.path().join("blob.bin");
    std::fs::write(&binary, [0x4d, 0x5a, 0x90, 0x00, 0x03, 0x00]).expect("write");
    let cases: Vec<(Vec<String>, &str)> = vec![
        (
            vec![
                "kb".into(),
                dir.path().join("missing.txt").display().to_string(),
            ],
            "cannot open",
        ),
        (
            vec!["kb".into(), garbage.display().to_string()],
            "no file table found",
        ),
        (
            vec!["kb".into(), binary.display().to_string()],
            "looks binary",
        ),
        (
            vec!["kb".into(), seed(), "--max-size".into(), "100".into()],
            "over the limit",
        ),
        (
            vec!["kb".into(), seed(), "--layout".into(), "html".into()],
            "html layout",
        ),
    ];
    for (args, needle) in cases {
        let a: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = kbinspect(&a);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(needle), "{args:?}: {stderr}");
        assert!(out.stdout.is_empty(), "{args:?}");
    }
}

#[test]
fn forced_layout_reads_a_corpus_article() {
    let p = corpus_or_skip!("kb-articles/ldap-filters-dont-take-effect.md");
    let out = kbinspect(&[
        "kb",
        &p.display().to_string(),
        "--layout",
        "markdown",
        "--format",
        "json",
    ]);
    assert_eq!(out.status.code(), Some(0));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(v["tables"][1]["rows"][1]["service_branch"], "WOW");
}

#[test]
fn reads_standard_input() {
    use std::io::Write;
    let mut child = Command::new(env!("CARGO_BIN_EXE_kbinspect"))
        .args(["kb", "-", "--format", "csv"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("spawn");
    let seed = std::fs::read(common::testdata().join("KB975354-nl.txt")).expect("seed");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(&seed)
        .expect("write");
    let out = child.wait_with_output().expect("wait");
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(String::from_utf8_lossy(&out.stdout).lines().count(), 34);
}
