//! `verify --kb`: the per-row view (`kb.rows[]` and a table per article
//! table) and `kb-article-mismatch` (issue 16).
use crate::common;

use assert_cmd::Command;

fn kbinspect() -> Command {
    Command::cargo_bin("kbinspect").unwrap()
}

#[test]
fn seventeen_rows_with_their_matches() {
    let msu = common::testdata().join("Windows6.1-KB975354-x64.msu");
    let kb = common::testdata().join("KB975354-nl.txt");
    let o = kbinspect()
        .arg("verify")
        .arg(&msu)
        .arg("--kb")
        .arg(&kb)
        .args(["--format", "json"])
        .output()
        .unwrap();
    let j: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let k = &j["kb"];
    assert_eq!(k["package_kb"], "975354");
    assert_eq!(k["article_kb"], "975354");
    let rows = k["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 17);
    assert_eq!(k["rows_checked"], 17);
    for r in rows {
        assert_eq!(r["status"], "ok", "{r}");
        assert!(r["findings"].as_array().unwrap().is_empty());
        assert!(r["line"].as_u64().unwrap() > 0);
        assert!(!r["table"].as_str().unwrap().is_empty());
        let f = &r["found"];
        let path = f["path"].as_str().unwrap();
        assert!(path.starts_with("Windows6.1-KB975354-x64.cab/"), "{path}");
        assert!(
            path.to_lowercase()
                .ends_with(&r["name"].as_str().unwrap().to_lowercase()),
            "{r}"
        );
        assert_eq!(f["size"], r["size"], "{r}");
        let ts = f["timestamp"].as_str().unwrap();
        assert_eq!(&ts[..10], r["date"].as_str().unwrap());
        assert_eq!(&ts[11..16], r["time"].as_str().unwrap());
    }
    let files = rows.iter().filter(|r| r["kind"] == "files").count();
    assert_eq!(files, 11);
    let vmms = rows.iter().find(|r| r["name"] == "Vmms.exe").unwrap();
    assert_eq!(vmms["line"], 245);
    assert_eq!(vmms["arch"], "amd64");
    assert_eq!(vmms["version"], "6.1.7600.20542");
    assert_eq!(vmms["size"], 4_499_968);
    assert_eq!(vmms["date"], "2009-10-06");
    assert_eq!(vmms["time"], "03:05");
    let f = &vmms["found"];
    assert_eq!(f["arch"], "amd64");
    assert_eq!(f["version"], "6.1.7600.20542");
    assert_eq!(f["version_source"], "pe");
    assert_eq!(f["timestamp"], "2009-10-06T03:05:00");
    assert_eq!(
        f["path"],
        "Windows6.1-KB975354-x64.cab/amd64_microsoft-hyper-v-vstack-vmms_31bf3856ad364e35_6.1.7600.20542_none_933cd6ca919d9d8b/vmms.exe"
    );
    let wow = rows
        .iter()
        .find(|r| r["name"] == "Vssapi.dll" && r["arch"] == "wow64")
        .unwrap();
    assert_eq!(wow["found"]["arch"], "wow64");
    assert_eq!(wow["found"]["size"], 1_124_352);
    let msi = rows
        .iter()
        .find(|r| r["name"] == "Windows5.x-hypervintegrationservices-x64.msi")
        .unwrap();
    assert_eq!(msi["found"]["version_source"], "manifest");

    // The table output: one table per article table, a line per row.
    let o = kbinspect()
        .arg("verify")
        .arg(&msu)
        .arg("--kb")
        .arg(&kb)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(text.contains("KB article: 17 of 17 documented rows match"));
    let row_lines: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("│ ") && l.trim_end().ends_with("┆ ok     │"))
        .collect();
    assert_eq!(row_lines.len(), 17, "{text}");
    let vmms_line = row_lines.iter().find(|l| l.contains("Vmms.exe")).unwrap();
    for cell in [
        "245",
        "6.1.7600.20542 (pe)",
        "4499968",
        "2009-10-06T03:05:00",
        "2009-10-06 ┆ 03:05",
    ] {
        assert!(vmms_line.contains(cell), "{cell}: {vmms_line}");
    }
    for heading in [
        "Voor alle ondersteunde versies van Windows Server 2008 R2 en Windows7 op basis van x64",
        "Aanvullende bestanden voor alle ondersteunde versies van Windows Server 2008 R2 en Windows 7 op basis van x64",
    ] {
        assert!(text.lines().any(|l| l == heading), "{heading}");
    }
}

/// The article of another KB: `kb-article-mismatch` names both numbers.
#[test]
fn wrong_article_is_named() {
    let msu = common::testdata().join("Windows6.1-KB975354-x64.msu");
    let text = std::fs::read_to_string(common::testdata().join("KB975354-nl.txt")).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    // The same tables, about another KB (from the text, then the name).
    let other = tmp.path().join("article.txt");
    std::fs::write(&other, text.replace("975354", "4538483")).unwrap();
    let named = tmp.path().join("KB4538483.txt");
    std::fs::write(&named, &text).unwrap();
    for article in [&other, &named] {
        let o = kbinspect()
            .arg("verify")
            .arg(&msu)
            .arg("--kb")
            .arg(article)
            .args(["--format", "json"])
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(1));
        let j: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        let f: Vec<&serde_json::Value> = j["findings"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|f| f["code"] == "kb-article-mismatch")
            .collect();
        assert_eq!(f.len(), 1, "{}", article.display());
        assert_eq!(f[0]["severity"], "error");
        let detail = f[0]["detail"].as_str().unwrap();
        assert!(
            detail.contains("KB975354") && detail.contains("KB4538483"),
            "{detail}"
        );
        assert_eq!(j["kb"]["article_kb"], "4538483");
    }
    // The right article by name: no mismatch.
    let right = tmp.path().join("kb975354.txt");
    std::fs::write(&right, &text).unwrap();
    let o = kbinspect()
        .arg("verify")
        .arg(&msu)
        .arg("--kb")
        .arg(&right)
        .args(["--format", "json"])
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(!out.contains("kb-article-mismatch"));
}

/// The real case of the issue: KB4538483's MSU against KB975354's article.
#[test]
fn real_package_against_another_article() {
    let msu = corpus_or_skip!(
        "kb4538483-esu-msu/windows6.1-kb4538483-x86_f77ee698928fb42232b70b01f53a4c5f68553323.msu"
    );
    let o = kbinspect()
        .arg("verify")
        .arg(&msu)
        .arg("--kb")
        .arg(common::testdata().join("KB975354-nl.txt"))
        .args(["--table", "x86"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(text.contains("kb-article-mismatch"), "{text}");
    assert!(text.contains("the package is KB4538483, the article is about KB975354"));
}

/// `kb-no-table` lists the tables the article has and the --table values.
#[test]
fn no_table_lists_the_articles_tables() {
    let o = kbinspect()
        .arg("verify")
        .arg(common::testdata().join("Windows6.1-KB975354-x64.msu"))
        .arg("--kb")
        .arg(common::testdata().join("KB975354-nl.txt"))
        .args(["--table", "arm64", "--format", "json"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    let j: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let f = j["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["code"] == "kb-no-table")
        .unwrap();
    let d = f["detail"].as_str().unwrap();
    assert!(
        d.starts_with("the article has no file table for arm64; choose one with --table "),
        "{d}"
    );
    for want in ["x86", "x64", "ia64", "its tables: line "] {
        assert!(d.contains(want), "{want}: {d}");
    }
    assert!(
        d.contains("Windows Server 2008 R2 en Windows7 op basis van x64"),
        "{d}"
    );
}
