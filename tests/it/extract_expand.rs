//! `kbinspect extract --expand`: proven manifest files written under
//! `<component keyform>/<file name>`, checked against digests computed here
//! from the written bytes and the manifest digests the model reads.
use crate::common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use assert_cmd::Command;
use kbinspect::container::Limits;
use kbinspect::model::Package;
use sha1::Digest as _;

/// Every regular file under `dir`, relative and `/`-separated.
fn files_under(dir: &Path) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let e = e.unwrap();
            let ft = e.file_type().unwrap();
            assert!(!ft.is_symlink(), "symlink written: {:?}", e.path());
            if ft.is_dir() {
                stack.push(e.path());
            } else {
                let rel = e.path().strip_prefix(dir).unwrap().to_path_buf();
                out.insert(rel.to_string_lossy().replace('\\', "/"));
            }
        }
    }
    out
}

fn run_expand(input: &Path, out: &Path, extra: &[&str]) -> serde_json::Value {
    let assert = Command::cargo_bin("kbinspect")
        .unwrap()
        .args(["extract", "--expand", "--format", "json", "-o"])
        .arg(out)
        .arg(input)
        .args(extra)
        .assert();
    let stdout = assert.get_output().stdout.clone();
    serde_json::from_slice(&stdout).expect("json report")
}

/// Check each written file against the manifest digest of the file the
/// model declares for (component, name); return the written targets.
fn check_written(pkg: &Package, out: &Path, report: &serde_json::Value) -> BTreeSet<String> {
    let mut targets = BTreeSet::new();
    for w in report["written"].as_array().unwrap() {
        let comp = w["component"].as_str().unwrap();
        let name = w["file"].as_str().unwrap();
        let target = w["target"].as_str().unwrap();
        assert_eq!(target, format!("{comp}/{name}"));
        let c = pkg.components.iter().find(|c| *c.keyform == *comp).unwrap();
        let f = c.files.iter().find(|f| f.name == name).unwrap();
        let bytes = std::fs::read(out.join(target)).unwrap();
        let got = match f.digest_alg.as_deref() {
            Some("sha256") => hex::encode(sha2::Sha256::digest(&bytes)),
            Some("sha1") => hex::encode(sha1::Sha1::digest(&bytes)),
            other => panic!("{target}: written without a usable digest ({other:?})"),
        };
        assert_eq!(
            Some(got),
            f.digest,
            "{target}: digest differs from manifest"
        );
        assert_eq!(w["size"].as_u64(), Some(bytes.len() as u64));
        targets.insert(target.to_string());
    }
    targets
}

#[test]
fn real_msu_writes_all_74_rebuilt_files() {
    let dir = corpus_or_skip!("kb4538483-esu-msu");
    let msu: PathBuf = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|x| x == "msu"))
        .expect("an .msu in kb4538483-esu-msu");
    let parent = tempfile::tempdir().unwrap();
    let out = parent.path().join("out");
    let report = run_expand(&msu, &out, &[]);
    let pkg = Package::load(&msu, &Limits::default()).unwrap();

    let targets = check_written(&pkg, &out, &report);
    let rebuilt = report["written"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|w| w["source"] == "rebuilt")
        .count();
    // 72 RAW rebuilds plus sppsvc.exe and sppwinob.dll through the PE
    // transforms.
    assert_eq!(rebuilt, 74);
    assert_eq!(targets.len(), 74);
    assert!(targets.iter().any(|t| t.ends_with("sppsvc.exe")));
    assert!(targets.iter().any(|t| t.ends_with("sppwinob.dll")));
    // Exactly the reported files, no temporaries, nothing beside DIR.
    assert_eq!(files_under(&out), targets);
    let siblings: Vec<_> = std::fs::read_dir(parent.path()).unwrap().collect();
    assert_eq!(siblings.len(), 1);

    let skipped = report["skipped"].as_array().unwrap();
    assert!(skipped.is_empty(), "{skipped:?}");
}

#[test]
fn stored_msu_files_go_under_component_folders_and_are_not_overwritten() {
    let msu = common::testdata().join("Windows6.1-KB975354-x64.msu");
    let parent = tempfile::tempdir().unwrap();
    let out = parent.path().join("out");
    let report = run_expand(&msu, &out, &[]);
    let pkg = Package::load(&msu, &Limits::default()).unwrap();
    let targets = check_written(&pkg, &out, &report);
    assert!(report["skipped"].as_array().unwrap().is_empty());
    // Every file with a digest in every component manifest, stored.
    let declared: BTreeSet<String> = pkg
        .components
        .iter()
        .flat_map(|c| {
            c.files
                .iter()
                .map(move |f| format!("{}/{}", c.keyform, f.name))
        })
        .collect();
    assert_eq!(targets, declared);
    assert!(targets.len() >= 10, "{targets:?}");
    assert!(
        report["written"]
            .as_array()
            .unwrap()
            .iter()
            .all(|w| w["source"] == "stored")
    );
    assert_eq!(files_under(&out), targets);
    // The folders are the ones the package cabinet stores payloads in.
    for c in &pkg.components {
        if c.files.is_empty() {
            continue;
        }
        let stored_folder = c.files.iter().find_map(|f| match &f.location {
            kbinspect::model::Location::Stored { member, .. } => {
                let mut parts = member.rsplit('/');
                parts.next();
                parts.next().map(str::to_string)
            }
            _ => None,
        });
        assert_eq!(stored_folder.as_deref(), Some(&*c.keyform));
    }

    // A second run keeps what is there.
    let again = run_expand(&msu, &out, &[]);
    assert!(again["written"].as_array().unwrap().is_empty());
    let skipped = again["skipped"].as_array().unwrap();
    assert_eq!(skipped.len(), targets.len());
    assert!(
        skipped
            .iter()
            .all(|s| s["reason"].as_str().unwrap().contains("--force"))
    );
    let forced = run_expand(&msu, &out, &["--force"]);
    assert_eq!(forced["written"].as_array().unwrap().len(), targets.len());
}

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        if e.file_type().unwrap().is_dir() {
            copy_tree(&e.path(), &to.join(e.file_name()));
        } else {
            std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
        }
    }
}

#[test]
fn a_payload_not_matching_its_manifest_digest_is_not_written() {
    let tmp = tempfile::tempdir().unwrap();
    let pkg_dir = tmp.path().join("pkg");
    copy_tree(&common::testdata().join("servicing/demo-pkg"), &pkg_dir);
    let folder = "amd64_demo-component_31bf3856ad364e35_1.0.0.0_none_d6455d44721cd835";
    let victim = pkg_dir.join(folder).join("demo.txt");
    let mut bytes = std::fs::read(&victim).unwrap();
    bytes[0] ^= 1;
    std::fs::write(&victim, &bytes).unwrap();

    let out = tmp.path().join("out");
    let assert = Command::cargo_bin("kbinspect")
        .unwrap()
        .args(["extract", "--expand", "--format", "json", "-o"])
        .arg(&out)
        .arg(&pkg_dir)
        .assert()
        .code(1);
    let report: serde_json::Value = serde_json::from_slice(&assert.get_output().stdout).unwrap();
    let written: Vec<&str> = report["written"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["target"].as_str().unwrap())
        .collect();
    assert_eq!(written, [format!("{folder}/old.txt")]);
    let skipped = report["skipped"].as_array().unwrap();
    assert_eq!(skipped.len(), 1);
    assert_eq!(skipped[0]["file"], "demo.txt");
    assert!(
        report["findings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["code"] == "expand-digest" && f["severity"] == "error"),
        "{report}"
    );
    // Neither the file nor its temporary survives.
    assert_eq!(
        files_under(&out),
        BTreeSet::from([format!("{folder}/old.txt")])
    );
}
