//! `verify` and the model on the real KB4538483 (Windows 7 ESU, x86) package:
//! the expanded package CAB in the corpus (which holds only 10 of the 73
//! delta blobs and none of the four package_N catalogs) and damaged copies.

use crate::common;

use std::collections::BTreeSet;
use std::path::Path;

use kbinspect::check::integrity;
use kbinspect::container::Limits;
use kbinspect::finding::Severity;
use kbinspect::model::{Location, MemberKind, Package};

const EXPANDED: &str = "kb4538483-esu-msu/extracted/Windows6.1-KB4538483-x86.cab";

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let dest = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &dest);
        } else {
            std::fs::write(&dest, std::fs::read(e.path()).unwrap()).unwrap();
        }
    }
}

#[test]
fn expanded_package_model() {
    let dir = corpus_or_skip!(EXPANDED);
    let pkg = Package::load(&dir, &Limits::default()).unwrap();
    assert_eq!(pkg.packages.len(), 6);
    assert_eq!(pkg.components.len(), 36);
    assert_eq!(pkg.components.iter().filter(|c| c.deployment).count(), 18);
    // Every keyform computed from the identity inside reproduces the name.
    for c in &pkg.components {
        let file = c.member.rsplit('/').next().unwrap();
        assert_eq!(format!("{}.manifest", c.keyform), file.to_ascii_lowercase());
    }
    assert_eq!(pkg.indexes.len(), 1);
    assert_eq!(pkg.indexes[0].index.files.len(), 122);
    let files: Vec<_> = pkg.components.iter().flat_map(|c| &c.files).collect();
    assert_eq!(files.len(), 74);
    assert_eq!(
        files
            .iter()
            .filter(|f| matches!(f.location, Location::Delta { .. }))
            .count(),
        73
    );
    assert_eq!(
        files
            .iter()
            .filter(|f| matches!(f.location, Location::Copy { .. }))
            .count(),
        1
    );
    let kb: BTreeSet<_> = pkg
        .packages
        .iter()
        .filter_map(|p| p.mum.identifier.as_deref())
        .collect();
    assert_eq!(kb.into_iter().collect::<Vec<_>>(), ["KB4538483"]);
    assert_eq!(
        pkg.members()
            .iter()
            .filter(|m| m.kind == MemberKind::Delta)
            .count(),
        10
    );
}

#[test]
fn expanded_package_verifies_except_for_what_the_copy_lacks() {
    let dir = corpus_or_skip!(EXPANDED);
    let stored: BTreeSet<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    let pkg = Package::load(&dir, &Limits::default()).unwrap();
    let (findings, stats) = integrity::check_with_stats(&pkg);
    // All 74 manifest digests equal the container index target hashes.
    assert_eq!(stats.files_index_agreed, 74);
    // 36 manifests + 6 mums + 2 catalogs stored RAW, and 10 delta blobs,
    // all match the index hashes.
    assert_eq!(stats.index_sources_verified, 54);
    // Files whose whole basis chain is stored in this copy are rebuilt by
    // the delta decoder and checked against the manifest digest.
    let ix = &pkg.indexes[0].index;
    let chain_stored = |mut id: u64| loop {
        let e = ix.file(id).unwrap();
        let d = e.delta.as_ref().unwrap();
        if let Some(src) = &d.source {
            let kbinspect::servicing::cix::SourceLocation::Name(n) = &src.location else {
                return false;
            };
            if !stored.contains(&**n) {
                return false;
            }
        }
        match d.basis {
            Some(b) => id = b,
            None => return true,
        }
    };
    let rebuildable = pkg
        .components
        .iter()
        .flat_map(|c| &c.files)
        .filter(|f| match f.location {
            Location::Delta { index_id, .. } | Location::Copy { index_id, .. } => {
                chain_stored(index_id)
            }
            _ => false,
        })
        .count();
    assert_eq!(rebuildable, 9);
    assert_eq!(stats.files_rebuilt, rebuildable);
    assert_eq!(stats.files_verified, rebuildable);
    assert_eq!(stats.files_not_expanded, 74 - rebuildable);
    assert_eq!(stats.delta_sizes_agreed, 10);
    let errors: Vec<_> = findings
        .iter()
        .filter(|f| f.severity == Severity::Error)
        .collect();
    let missing_blobs: BTreeSet<String> = errors
        .iter()
        .filter(|f| f.code == "delta-blob-missing")
        .map(|f| f.detail.split('"').nth(1).unwrap().to_string())
        .collect();
    let want: BTreeSet<String> = (0..73)
        .map(|i| i.to_string())
        .filter(|n| !stored.contains(n))
        .collect();
    assert_eq!(missing_blobs, want);
    assert_eq!(missing_blobs.len(), 63);
    let missing_cats = errors
        .iter()
        .filter(|f| f.code == "index-member-missing")
        .count();
    assert_eq!(missing_cats, 4);
    assert_eq!(errors.len(), 63 + 4, "{errors:#?}");
    assert!(
        !findings.iter().any(|f| f.code == "manifest-name-mismatch"
            || f.code == "component-missing"
            || f.code == "index-digest-mismatch"
            || f.code == "member-unreferenced"),
        "{findings:#?}"
    );
}

fn damaged(edit: impl FnOnce(&Path)) -> (tempfile::TempDir, Vec<kbinspect::finding::Finding>) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("Windows6.1-KB4538483-x86.cab");
    let src = match common::corpus() {
        Some(c) => c.join(EXPANDED),
        None => panic!("corpus checked by caller"),
    };
    copy_dir(&src, &dir);
    edit(&dir);
    let pkg = Package::load(&dir, &Limits::default()).unwrap();
    (tmp, integrity::check(&pkg))
}

/// Errors beyond the 67 the expanded copy always has.
fn new_errors(f: &[kbinspect::finding::Finding]) -> Vec<&kbinspect::finding::Finding> {
    f.iter()
        .filter(|f| f.severity == Severity::Error)
        .filter(|f| {
            !(f.code == "delta-blob-missing"
                || f.code == "index-member-missing" && f.subject.ends_with(".cat"))
        })
        .collect()
}

/// One byte of a stored delta blob changed: the index source hash catches it.
#[test]
fn changed_blob_byte() {
    let _ = corpus_or_skip!(EXPANDED);
    let (_t, f) = damaged(|d| {
        let p = d.join("14");
        let mut b = std::fs::read(&p).unwrap();
        let last = b.len() - 1;
        b[last] ^= 0x40;
        std::fs::write(&p, b).unwrap();
    });
    let e = new_errors(&f);
    assert_eq!(e.len(), 1, "{e:#?}");
    assert_eq!(e[0].code, "index-hash-mismatch");
    assert!(
        e[0].detail.starts_with("14: SHA-256 is "),
        "{}",
        e[0].detail
    );
}

/// One byte of a manifest changed: index hash mismatch for that manifest.
#[test]
fn changed_manifest_byte() {
    let _ = corpus_or_skip!(EXPANDED);
    let name = "x86_microsoft-windows-security-spp_31bf3856ad364e35_6.1.7601.24553_none_1cc5d7f6987451e4.manifest";
    let (_t, f) = damaged(|d| {
        let p = d.join(name);
        let s = std::fs::read_to_string(&p)
            .unwrap()
            .replace("sppsvc.exe\"", "sppsvd.exe\"");
        std::fs::write(&p, s).unwrap();
    });
    let e = new_errors(&f);
    let hash: Vec<_> = e
        .iter()
        .filter(|x| x.code == "index-hash-mismatch")
        .collect();
    assert_eq!(hash.len(), 1, "{e:#?}");
    assert!(hash[0].subject.ends_with(name));
    // The renamed file is no longer in the index: its bytes are missing.
    assert!(
        e.iter()
            .any(|x| x.code == "file-missing" && x.subject.ends_with("\\sppsvd.exe")),
        "{e:#?}"
    );
}

/// A manifest renamed (hash part changed): name mismatch, and the index
/// entry for the old name has no stored member.
#[test]
fn renamed_manifest() {
    let _ = corpus_or_skip!(EXPANDED);
    let old = "x86_microsoft-windows-s..-spp-plugin-windows_31bf3856ad364e35_6.1.7601.24553_none_141eaac7742fb8e6.manifest";
    let new = old.replace("141eaac7742fb8e6", "141eaac7742fb8e7");
    let (_t, f) = damaged(|d| std::fs::rename(d.join(old), d.join(&new)).unwrap());
    let e = new_errors(&f);
    let mut codes: Vec<&str> = e.iter().map(|x| x.code.as_str()).collect();
    codes.sort();
    assert_eq!(
        codes,
        ["index-member-missing", "manifest-name-mismatch"],
        "{e:#?}"
    );
    let m = e
        .iter()
        .find(|x| x.code == "manifest-name-mismatch")
        .unwrap();
    assert!(m.subject.ends_with(&new));
    assert!(
        m.detail
            .contains("141eaac7742fb8e7 in the name, 141eaac7742fb8e6 computed"),
        "{}",
        m.detail
    );
}

/// A deployment manifest removed: the mum's component is missing.
#[test]
fn removed_manifest() {
    let _ = corpus_or_skip!(EXPANDED);
    let gone = "x86_a6a0011b9f667b7218baa1ed81b7a73e_31bf3856ad364e35_6.1.7601.24553_none_6d310b7ae262896b.manifest";
    let (_t, f) = damaged(|d| std::fs::remove_file(d.join(gone)).unwrap());
    let e = new_errors(&f);
    let mut codes: Vec<&str> = e.iter().map(|x| x.code.as_str()).collect();
    codes.sort();
    assert_eq!(
        codes,
        ["component-missing", "index-member-missing"],
        "{e:#?}"
    );
    let c = e.iter().find(|x| x.code == "component-missing").unwrap();
    assert!(
        c.subject
            .ends_with("package_1_for_kb4538483~31bf3856ad364e35~x86~~6.1.1.2.mum")
    );
    assert!(
        c.detail.contains(gone.trim_end_matches(".manifest")),
        "{}",
        c.detail
    );
    // The component it deployed is now installed by nothing.
    assert!(f.iter().any(|x| x.code == "component-unreferenced"
        && x.subject.contains("spp-plugin-windows")));
}

/// The real `.msu`: nested CABs (MSU → package CAB), all 73 delta blobs
/// present, every delta header's target size equal to the index length.
#[test]
fn real_msu_passes() {
    let msu = corpus_or_skip!(
        "kb4538483-esu-msu/windows6.1-kb4538483-x86_f77ee698928fb42232b70b01f53a4c5f68553323.msu"
    );
    let pkg = Package::load(&msu, &Limits::default()).unwrap();
    assert_eq!(pkg.packages.len(), 6);
    assert_eq!(pkg.components.len(), 36);
    assert_eq!(pkg.deltas.len(), 73);
    let (findings, stats) = integrity::check_with_stats(&pkg);
    let errors: Vec<_> = findings
        .iter()
        .filter(|f| f.severity >= Severity::Warning)
        .collect();
    assert!(errors.is_empty(), "{errors:#?}");
    assert_eq!(stats.files_index_agreed, 74);
    assert_eq!(stats.index_sources_verified, 48 + 73);
    assert_eq!(stats.delta_sizes_agreed, 73);
    // All 74 files rebuilt from their delta chains match the manifest
    // digests, the two PE deltas (sppsvc.exe, sppwinob.dll) through the PE
    // transforms.
    assert_eq!(stats.files_rebuilt, 74);
    assert_eq!(stats.files_verified, 74);
    let not_expanded: BTreeSet<&str> = findings
        .iter()
        .filter(|f| f.code == "delta-not-expanded")
        .map(|f| f.subject.rsplit('\\').next().unwrap())
        .collect();
    assert!(not_expanded.is_empty(), "{not_expanded:?}");
    // A PE rebuilt from a delta chain carries its version resource.
    let sppobjs = pkg
        .components
        .iter()
        .flat_map(|c| &c.files)
        .find(|f| f.name == "sppobjs.dll")
        .unwrap();
    assert_eq!(
        sppobjs.pe.as_ref().unwrap().file_version.as_deref(),
        Some("6.1.7601.24553")
    );
}

/// End to end through the binary: `list` and `verify` JSON on the real `.msu`.
#[test]
fn real_msu_cli() {
    let msu = corpus_or_skip!(
        "kb4538483-esu-msu/windows6.1-kb4538483-x86_f77ee698928fb42232b70b01f53a4c5f68553323.msu"
    );
    let out = assert_cmd::Command::cargo_bin("kbinspect")
        .unwrap()
        .args(["list", "--format", "json"])
        .arg(&msu)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["packages"].as_array().unwrap().len(), 6);
    assert_eq!(v["components"].as_array().unwrap().len(), 36);
    let deltas = v["deltas"].as_array().unwrap();
    assert_eq!(deltas.len(), 73);
    assert!(
        deltas
            .iter()
            .all(|d| d["signature"] == "PA30" && d["target_size"].as_u64().unwrap() > 0)
    );
    // Blob 0 is the source-less delta of a 16529-byte license file.
    let blob0 = deltas
        .iter()
        .find(|d| d["member"] == "Windows6.1-KB4538483-x86.cab/0")
        .unwrap();
    assert_eq!(blob0["target_size"], 16529);

    let out = assert_cmd::Command::cargo_bin("kbinspect")
        .unwrap()
        .args(["verify", "--format", "json"])
        .arg(&msu)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    // Every file proven, every signature verified.
    assert_eq!(v["verdict"], "pass");
    assert_eq!(v["coverage"]["signatures_verified"], 9);
    assert_eq!(v["summary"]["errors"], 0);
    assert_eq!(v["summary"]["files_verified"], 74);
    assert_eq!(v["coverage"]["files_proven"], 74);
    assert_eq!(v["coverage"]["index_only"], 0);
}
