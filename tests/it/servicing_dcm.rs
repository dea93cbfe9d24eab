//! `DCM\x01` compressed manifests (Windows 10/11 WinSxS, from the corpus):
//! recognized and reported without the base manifest, expanded and parsed
//! with it.

use crate::common;

use kbinspect::check::integrity;
use kbinspect::container::Limits;
use kbinspect::model::{LoadOptions, Package};

fn manifests_only() -> Option<tempfile::TempDir> {
    let src = common::corpus()?.join("msdelta-vectors/dcm");
    let tmp = tempfile::tempdir().unwrap();
    for e in std::fs::read_dir(src).unwrap() {
        let p = e.unwrap().path();
        if p.extension().is_some_and(|x| x == "manifest") {
            std::fs::copy(&p, tmp.path().join(p.file_name().unwrap())).unwrap();
        }
    }
    Some(tmp)
}

#[test]
fn without_base_they_are_reported_not_misparsed() {
    let Some(dir) = manifests_only() else { return };
    let pkg = Package::load(dir.path(), &Limits::default()).unwrap();
    assert_eq!(pkg.compressed_manifests.len(), 7);
    assert!(pkg.components.is_empty());
    let f: Vec<_> = integrity::check(&pkg)
        .into_iter()
        .filter(|x| x.code != "catalog-absent")
        .collect();
    assert_eq!(f.len(), 7, "{f:#?}");
    assert!(f.iter().all(|x| x.code == "manifest-compressed"));
    assert!(f[0].detail.contains("wcp.dll"));
}

#[test]
fn with_base_they_parse_and_reproduce_their_keyforms() {
    let Some(dir) = manifests_only() else { return };
    let base = std::fs::read(corpus_or_skip!("winsxs-dcm-base/w10-base.manifest")).unwrap();
    let opts = LoadOptions {
        dcm_base: Some(base),
        ..Default::default()
    };
    let pkg = Package::load_with(dir.path(), &Limits::default(), &opts).unwrap();
    assert!(pkg.compressed_manifests.is_empty(), "{:#?}", pkg.findings);
    assert_eq!(pkg.components.len(), 7);
    for c in &pkg.components {
        let file = c.member.rsplit('/').next().unwrap();
        assert_eq!(format!("{}.manifest", c.keyform), file.to_ascii_lowercase());
    }
    let f = integrity::check(&pkg);
    assert!(
        !f.iter().any(|x| x.code.as_str().starts_with("manifest-")),
        "{f:#?}"
    );
    // A wrong base is an error naming the member, not a crash.
    let opts = LoadOptions {
        dcm_base: Some(b"<assembly/>".repeat(100)),
        ..Default::default()
    };
    let pkg = Package::load_with(dir.path(), &Limits::default(), &opts).unwrap();
    let bad = pkg
        .findings
        .iter()
        .filter(|x| x.code == "manifest-compressed-unreadable" || x.code == "metadata-malformed")
        .count();
    assert!(bad >= 1, "{:#?}", pkg.findings);
}

/// `--dcm-base` on the command line, with the extracted base manifest.
#[test]
fn cli_dcm_base() {
    let Some(dir) = manifests_only() else { return };
    let base = corpus_or_skip!("winsxs-dcm-base/w10-base.manifest");
    let out = assert_cmd::Command::cargo_bin("kbinspect")
        .unwrap()
        .args(["list", "--format", "json", "--dcm-base"])
        .arg(&base)
        .arg(dir.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["components"].as_array().unwrap().len(), 7);
    assert_eq!(v["compressed_manifests"].as_array().unwrap().len(), 0);
    let missing = assert_cmd::Command::cargo_bin("kbinspect")
        .unwrap()
        .args(["list", "--dcm-base", "/nonexistent/base"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert_eq!(missing.status.code(), Some(2));
}
