//! `kbinspect ls` and `kbinspect extract` end to end: exit codes, JSON shape,
//! directory inputs.
use crate::common;

use assert_cmd::Command;
use serde_json::Value;

fn kbinspect() -> Command {
    Command::cargo_bin("kbinspect").unwrap()
}

fn json(out: &[u8]) -> Value {
    serde_json::from_slice(out).unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(out)))
}

#[test]
fn ls_json_of_a_signed_cabinet() {
    let input = corpus_or_skip!("gcab-tests/test-signed.cab");
    let out = kbinspect()
        .args(["ls", "--format", "json"])
        .arg(&input)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let v = json(&out.stdout);
    let c = &v["containers"][0];
    assert_eq!(c["kind"], "cab");
    assert_eq!(c["signature"]["offset"], 139);
    assert_eq!(c["signature"]["size"], 2040);
    let names: Vec<&str> = v["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["path"].as_str().unwrap())
        .collect();
    assert_eq!(names, vec!["test.sh", "test.txt"]);
    assert!(
        v["members"][0].get("sha256").is_none(),
        "no digest without --test"
    );
}

/// `--test --hash md5` prints what `cabextract -t` prints; a Quantum member
/// makes the exit code 1.
#[test]
fn ls_test_md5_matches_cabextract_and_fails_on_quantum() {
    let input = corpus_or_skip!("libmspack-cabd/mszip_lzx_qtm.cab");
    if !common::have("cabextract") {
        return;
    }
    let out = kbinspect()
        .args(["ls", "--test", "--hash", "md5", "--format", "json"])
        .arg(&input)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let v = json(&out.stdout);
    let theirs = String::from_utf8(
        std::process::Command::new("cabextract")
            .arg("-t")
            .arg(&input)
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap();
    let members = v["members"].as_array().unwrap();
    for m in members.iter().filter(|m| m.get("md5").is_some()) {
        let line = format!("{}  OK", m["name"].as_str().unwrap());
        let md5 = m["md5"].as_str().unwrap();
        assert!(
            theirs
                .lines()
                .any(|l| l.contains(&line) && l.ends_with(md5)),
            "{line} {md5}\n{theirs}"
        );
    }
    assert!(
        members
            .iter()
            .any(|m| m["error"].as_str().is_some_and(|e| e.contains("Quantum")))
    );
}

#[test]
fn ls_unreadable_input_exits_2_naming_the_file() {
    let input = corpus_or_skip!("libmspack-cabd/bad_signature.cab");
    let out = kbinspect().arg("ls").arg(&input).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("bad_signature.cab") && err.contains("not a cabinet"),
        "{err}"
    );
}

#[test]
fn ls_limit_flag_is_named() {
    let input = corpus_or_skip!("cabextract-tests/cabs/utf8-stresstest.cab");
    let out = kbinspect()
        .args(["ls", "--max-members", "5"])
        .arg(&input)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--max-members"));
}

#[test]
fn extract_json_reports_dangerous_names_and_exits_1() {
    let input = corpus_or_skip!("cabextract-tests/cabs/dirwalk-vulns.cab");
    let tmp = tempfile::tempdir().unwrap();
    let out = kbinspect()
        .args(["extract", "--format", "json", "-o"])
        .arg(tmp.path().join("o"))
        .arg(&input)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let v = json(&out.stdout);
    assert_eq!(v["layout"], "nested");
    let skipped = v["skipped"].as_array().unwrap();
    assert!(skipped.iter().any(|s| s["path"] == "../relative/path"));
    assert!(
        v["written"]
            .as_array()
            .unwrap()
            .iter()
            .any(|w| w["renamed"].is_string())
    );
}

/// A directory input: a cabinet in it is opened like a nested one.
#[test]
fn directory_input_opens_cabinets_inside() {
    let src = corpus_or_skip!("gcab-tests/test-mszip.cab");
    let tmp = tempfile::tempdir().unwrap();
    std::fs::create_dir(tmp.path().join("sub")).unwrap();
    std::fs::copy(&src, tmp.path().join("sub/pkg.cab")).unwrap();
    std::fs::write(tmp.path().join("readme.txt"), b"hi").unwrap();
    let out = kbinspect()
        .args(["ls", "--test", "--format", "json"])
        .arg(tmp.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let v = json(&out.stdout);
    let rows: Vec<(String, bool, u64)> = v["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["path"].as_str().unwrap().to_string(),
                m["is_container"].as_bool().unwrap(),
                m["depth"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        rows,
        vec![
            ("readme.txt".to_string(), false, 0),
            ("sub/pkg.cab".to_string(), true, 0),
            ("sub/pkg.cab/test.sh".to_string(), false, 1),
            ("sub/pkg.cab/test.txt".to_string(), false, 1),
        ]
    );
    assert_eq!(v["containers"][1]["path"], "sub/pkg.cab");
}
