//! The whole KB4538483 package: every container-index file rebuilt through
//! its basis chain: once from members extracted by cabextract (the oracle),
//! once from kbinspect's own container walk (no outside tools).
use crate::common;
use crate::msdelta_support;

use std::collections::HashMap;
use std::path::Path;
use std::process::Command;

use kbinspect::msdelta::{
    ChainErrorKind, ChainRebuilder, DeltaLimits, ErrorKind, Expected, Recipe, Step,
};
use msdelta_support::{CixFile, parse_cix, sha256_hex};

const MSU: &str =
    "kb4538483-esu-msu/windows6.1-kb4538483-x86_f77ee698928fb42232b70b01f53a4c5f68553323.msu";
const INNER: &str = "Windows6.1-KB4538483-x86.cab";

/// Rebuild every CIX file from `members` (name → bytes of the package CAB)
/// and check the outcome: all 122 rebuilt to their SHA-256, the two I386 PE
/// deltas (blob 12 `sppsvc.exe`, blob 13 `sppwinob.dll`) through the PE
/// transforms.
fn rebuild_all(members: &HashMap<String, Vec<u8>>) {
    let cix = String::from_utf8(members["_manifest_.cix.xml"].clone()).unwrap();
    let files: HashMap<String, CixFile> = parse_cix(&cix)
        .into_iter()
        .map(|f| (f.id.clone(), f))
        .collect();
    assert_eq!(files.len(), 122);

    let fetch = |id: &String| -> Result<Step<String>, String> {
        let f = files.get(id).ok_or_else(|| format!("no CIX file {id}"))?;
        let member = |name: &str| {
            members
                .get(name)
                .map(|b| b.as_slice().into())
                .ok_or_else(|| format!("member {name} missing"))
        };
        let recipe = match (f.source_type.as_str(), &f.basis) {
            ("RAW", _) => Recipe::Stored(member(&f.source_name)?),
            ("PA30", basis) => Recipe::Delta {
                delta: member(&f.source_name)?,
                basis: basis.clone(),
            },
            ("", Some(b)) => Recipe::Copy { basis: b.clone() },
            (t, _) => return Err(format!("source type {t:?}")),
        };
        let sha: [u8; 32] = hex::decode(&f.sha256).unwrap().try_into().unwrap();
        Ok(Step {
            recipe,
            expected: Some(Expected::Sha256(sha)),
        })
    };
    let mut rebuilder = ChainRebuilder::new(DeltaLimits::default(), fetch);
    let mut ok = 0;
    let mut pe_unsupported = Vec::new();
    let mut ids: Vec<&String> = files.keys().collect();
    ids.sort_by_key(|i| i.parse::<u32>().unwrap_or(0));
    for id in ids {
        match rebuilder.rebuild(id) {
            Ok(bytes) => {
                assert_eq!(sha256_hex(&bytes), files[id].sha256, "file {id}");
                assert_eq!(bytes.len() as u64, files[id].length);
                ok += 1;
            }
            Err(e) => {
                assert_eq!(e.delta_kind(), Some(ErrorKind::Unsupported), "{e}");
                let ChainErrorKind::Delta(d) = &e.kind else {
                    unreachable!()
                };
                assert!(d.message.contains("PE transforms"), "{e}");
                pe_unsupported.push((id.clone(), files[id].source_name.clone()));
            }
        }
    }
    assert_eq!(ok, 122);
    assert!(pe_unsupported.is_empty(), "{pe_unsupported:?}");
}

fn cabextract(cab: &Path, to: &Path) {
    let st = Command::new("cabextract")
        .arg("-q")
        .arg("-d")
        .arg(to)
        .arg(cab)
        .status()
        .unwrap();
    assert!(st.success(), "cabextract {}", cab.display());
}

#[test]
fn kb4538483_rebuilds_all_122_files_cabextract() {
    let msu = corpus_or_skip!(MSU);
    if !common::have("cabextract") {
        eprintln!("SKIPPED: cabextract not installed");
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    cabextract(&msu, tmp.path());
    let inner = tmp.path().join("in");
    cabextract(&tmp.path().join(INNER), &inner);
    let mut members = HashMap::new();
    for e in std::fs::read_dir(&inner).unwrap() {
        let p = e.unwrap().path();
        let name = p.file_name().unwrap().to_string_lossy().into_owned();
        members.insert(name, std::fs::read(&p).unwrap());
    }
    rebuild_all(&members);
}

#[test]
fn kb4538483_rebuilds_all_122_files_container_walk() {
    let msu = corpus_or_skip!(MSU);
    let prefix = format!("{INNER}/");
    let mut members = HashMap::new();
    kbinspect::container::walk(
        &msu,
        &kbinspect::container::Limits::default(),
        &mut |meta, reader| {
            if let Some(name) = meta.path.strip_prefix(&prefix) {
                let mut buf = Vec::new();
                reader.read_to_end(&mut buf)?;
                members.insert(name.to_string(), buf);
            }
            Ok(())
        },
    )
    .unwrap();
    assert_eq!(members.len(), 122);
    rebuild_all(&members);
}
