//! Property tests of the CAB reader on multi-folder cabinets from
//! `cabwrite::write_cab_folders`: stored, MSZIP and LZX folders mixed in one
//! cabinet, members spanning CFDATA blocks, empty members, many small ones.
//! Valid cabinets round-trip byte-exactly through `container::walk` (and
//! through `cabextract` when it is installed: a differential on a few
//! cases); mutations never panic and never yield a member of the wrong
//! length, or changed bytes, without an error or a finding.
use crate::common;

use std::io::Read;
use std::path::Path;

use kbinspect::container::{Limits, walk};
use kbinspect_testkit::cabwrite::{
    CabFile, CabOptions, DosDateTime, Folder, Method, write_cab_folders,
};
use proptest::prelude::*;

fn method() -> impl Strategy<Value = Method> {
    prop_oneof![
        Just(Method::Stored),
        Just(Method::MsZip),
        (15u8..=21).prop_map(|window_bits| Method::Lzx { window_bits }),
    ]
}

/// Member contents: empty, a few bytes, runs and counter patterns long
/// enough to span one or two 32 KiB CFDATA blocks, random bytes.
fn content() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        1 => Just(Vec::new()),
        3 => prop::collection::vec(any::<u8>(), 1..64),
        2 => (1usize..70_000, any::<u8>()).prop_map(|(n, b)| vec![b; n]),
        2 => (1usize..70_000, 1u32..300)
            .prop_map(|(n, k)| (0..n as u32).map(|i| (i % k) as u8).collect()),
        1 => prop::collection::vec(any::<u8>(), 64..4_000),
    ]
}

/// 1–4 folders of 0–7 members (at least one member in the cabinet); names
/// unique and some in subdirectories.
fn folders() -> impl Strategy<Value = Vec<(Method, Vec<CabFile>)>> {
    prop::collection::vec(
        (
            method(),
            prop::collection::vec(
                ("[a-z0-9_]{1,8}(\\\\[a-z]{1,6})?\\.[a-z]{1,3}", content()),
                0..8,
            ),
        ),
        1..5,
    )
    .prop_filter("at least one member", |v| {
        v.iter().any(|(_, f)| !f.is_empty())
    })
    .prop_map(|v| {
        v.into_iter()
            .enumerate()
            .map(|(fi, (m, files))| {
                let files = files
                    .into_iter()
                    .enumerate()
                    .map(|(i, (name, data))| CabFile {
                        name: format!("f{fi}_{i}_{name}"),
                        data,
                        time: DosDateTime::new(2021, 7, 8, 9, 10),
                        attributes: 0x20,
                    })
                    .collect();
                (m, files)
            })
            .collect()
    })
}

fn build(folders: &[(Method, Vec<CabFile>)]) -> Vec<u8> {
    let fs: Vec<Folder<'_>> = folders
        .iter()
        .map(|(method, files)| Folder {
            method: *method,
            files,
        })
        .collect();
    write_cab_folders(
        &fs,
        &CabOptions {
            method: Method::Stored,
            set_id: 4242,
            signature: None,
        },
    )
}

struct Seen {
    name: String,
    folder: Option<u32>,
    size: u64,
    read: Result<Vec<u8>, String>,
}

fn walk_bytes(bytes: &[u8]) -> Result<(Vec<Seen>, Vec<String>), String> {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("p.cab");
    std::fs::write(&p, bytes).unwrap();
    let mut seen = Vec::new();
    let limits = Limits {
        max_total_size: 64 << 20,
        ..Limits::default()
    };
    let r = walk(&p, &limits, &mut |meta, rd| {
        let mut buf = Vec::new();
        let read = rd
            .take(meta.size + 1)
            .read_to_end(&mut buf)
            .map(|_| buf)
            .map_err(|e| e.to_string());
        seen.push(Seen {
            name: meta.name.clone(),
            folder: meta.folder,
            size: meta.size,
            read,
        });
        Ok(())
    });
    match r {
        Ok(rep) => Ok((
            seen,
            rep.findings
                .iter()
                .map(|f| format!("{} {}: {}", f.code, f.subject, f.detail))
                .collect(),
        )),
        Err(e) => Err(e.to_string()),
    }
}

/// Every member of `folders`, with its folder index.
fn expected(folders: &[(Method, Vec<CabFile>)]) -> Vec<(u32, &CabFile)> {
    folders
        .iter()
        .enumerate()
        .flat_map(|(i, (_, files))| files.iter().map(move |f| (i as u32, f)))
        .collect()
}

/// Extract with cabextract into `dir` and return its bytes for `name`
/// (backslashes become directories).
fn cabextract_file(dir: &Path, name: &str) -> Option<Vec<u8>> {
    std::fs::read(dir.join(name.replace('\\', "/"))).ok()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    #[test]
    fn multi_folder_cabinets_round_trip(folders in folders()) {
        let bytes = build(&folders);
        let (seen, findings) = walk_bytes(&bytes).map_err(TestCaseError::fail)?;
        prop_assert!(findings.is_empty(), "{findings:?}");
        let want = expected(&folders);
        prop_assert_eq!(seen.len(), want.len());
        // The walk goes folder by folder, members in offset order; cabwrite
        // writes them in that order too.
        for (s, (fi, f)) in seen.iter().zip(&want) {
            prop_assert_eq!(&s.name, &f.name);
            prop_assert_eq!(s.folder, Some(*fi));
            prop_assert_eq!(s.size, f.data.len() as u64);
            let got = s.read.as_ref().map_err(|e| TestCaseError::fail(e.clone()))?;
            prop_assert!(got == &f.data, "{}: bytes differ", f.name);
        }
    }

    #[test]
    fn mutated_multi_folder_cabinets_never_pass_silently(
        folders in folders(),
        edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..4),
        cut in prop::option::of(any::<prop::sample::Index>()),
    ) {
        let mut bytes = build(&folders);
        let len = bytes.len();
        let edits: Vec<(usize, u8)> = edits.iter().map(|(at, v)| (at.index(len), v | 1)).collect();
        prop_assume!(common::mutate_cab(&mut bytes, &edits, cut.map(|c| c.index(len))));
        let Ok((seen, findings)) = walk_bytes(&bytes) else {
            return Ok(()); // a clear error is fine
        };
        let want = expected(&folders);
        for s in &seen {
            if let Ok(got) = &s.read {
                // Never a member of the wrong length without an error.
                prop_assert_eq!(got.len() as u64, s.size, "{}", s.name);
                // Changed bytes for an unchanged name and size need a finding.
                if let Some((_, f)) = want.iter().find(|(_, f)| f.name == s.name && f.data.len() as u64 == s.size)
                    && got != &f.data
                {
                    prop_assert!(!findings.is_empty(), "{}: changed bytes with no finding", s.name);
                }
            }
        }
    }
}

fn run(cmd: &mut std::process::Command) -> Option<std::process::Output> {
    cmd.output().ok()
}

proptest! {
    // Two external processes per case: a handful is the differential.
    #![proptest_config(ProptestConfig { cases: 8, ..ProptestConfig::default() })]

    /// Every member equals what 7-Zip extracts and what cabextract extracts.
    /// One exception, checked to be only that: cabextract 1.9 refuses some
    /// MSZIP blocks that miniz_oxide writes for runs of one byte
    /// ("decompression error"), though they are valid deflate (zlib and
    /// 7-Zip decode them to the same bytes as we do).
    #[test]
    fn cabextract_and_7zip_agree_on_multi_folder_cabinets(folders in folders()) {
        let have = |tool: &str, arg: &str| {
            run(std::process::Command::new(tool).arg(arg)).is_some()
        };
        if !have("cabextract", "--version") || !have("7zz", "i") {
            eprintln!("SKIPPED: cabextract or 7zz not installed");
            return Ok(());
        }
        let bytes = build(&folders);
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("p.cab");
        std::fs::write(&p, &bytes).unwrap();
        let (ce_dir, sz_dir) = (dir.path().join("ce"), dir.path().join("7z"));
        let ce = run(std::process::Command::new("cabextract").arg("-q").arg("-d").arg(&ce_dir).arg(&p))
            .unwrap();
        let ce_err = String::from_utf8_lossy(&ce.stderr).into_owned();
        let sz = run(std::process::Command::new("7zz").arg("x").arg("-y").arg(format!("-o{}", sz_dir.display())).arg(&p))
            .unwrap();
        prop_assert!(sz.status.success(), "7zz: {}", String::from_utf8_lossy(&sz.stdout));
        let (seen, _) = walk_bytes(&bytes).map_err(TestCaseError::fail)?;
        let want = expected(&folders);
        prop_assert_eq!(seen.len(), want.len());
        for s in &seen {
            let ours = s.read.as_ref().map_err(|e| TestCaseError::fail(e.clone()))?;
            prop_assert!(cabextract_file(&sz_dir, &s.name).as_ref() == Some(ours), "{}: 7-Zip disagrees", s.name);
            let path = ce_dir.join(s.name.replace('\\', "/"));
            let refused = ce_err
                .lines()
                .any(|l| l.starts_with(&format!("{}:", path.display())) && l.ends_with("decompression error"));
            if refused {
                let method = s.folder.and_then(|f| folders.get(f as usize)).map(|f| f.0);
                prop_assert_eq!(method, Some(Method::MsZip), "{}: cabextract: {}", s.name, ce_err);
                continue;
            }
            prop_assert!(cabextract_file(&ce_dir, &s.name).as_ref() == Some(ours), "{}: cabextract disagrees: {}", s.name, ce_err);
        }
    }
}
