//! The PE transform pipeline on the real packages of the shared corpus: per
//! package, the exact number of files proven by hash (the `verify` summary)
//! and of PE-typed deltas rebuilt to their digest, out of those attempted.
//!
//! Each package is named explicitly. A rebuilt file counts only when its
//! bytes matched the whole chain of index hashes and then the manifest
//! digest, so a wrong transform can only lower these numbers.
//!
//! The corpus comes from `KBINSPECT_CORPUS` (default `../shared/corpus`);
//! without it the test prints SKIPPED, unless `KBINSPECT_REQUIRE_CORPUS=1`.

use crate::common;

use std::path::Path;

use kbinspect::container::Limits;
use kbinspect::model::{Expansion, Location, Package};

/// (path under the corpus, files declared, files proven by hash,
/// PE deltas attempted, PE deltas rebuilt).
const PACKAGES: &[(&str, usize, usize, usize, usize)] = &[
    (
        "kb4538483-esu-msu/windows6.1-kb4538483-x86_f77ee698928fb42232b70b01f53a4c5f68553323.msu",
        74,
        74,
        2,
        2,
    ),
    (
        "kb4538483-x64-msu/windows6.1-kb4538483-x64_3e861ae5fe3f6b3c9d185decbd96a436ca0c5035.msu",
        110,
        108,
        2,
        0,
    ),
    (
        "real-msu/w16073888-car-datamanageing/Windows6.1-KB2999226-x64.msu",
        96,
        96,
        47,
        47,
    ),
    (
        "real-msu/w16073888-car-datamanageing/Windows6.1-KB3118401-x64.msu",
        92,
        92,
        45,
        45,
    ),
    (
        "real-msu/soda92-win7-remote-debug/Windows6.1-KB3004394-v2-x64.msu",
        156,
        156,
        147,
        147,
    ),
    (
        "real-msu/soda92-win7-remote-debug/Windows6.1-KB3063858-x64.msu",
        144,
        135,
        143,
        134,
    ),
    (
        "real-msu/takluyver-pynsist-msvcrt-tag1/x64/Windows6.0-KB2999226-x64.msu",
        172,
        172,
        82,
        82,
    ),
    (
        "real-msu/takluyver-pynsist-msvcrt-tag1/x64/Windows6.1-KB2999226-x64.msu",
        96,
        96,
        45,
        45,
    ),
    (
        "real-msu/takluyver-pynsist-msvcrt-tag1/x64/Windows8-RT-KB2999226-x64.msu",
        72,
        72,
        71,
        71,
    ),
    (
        "real-msu/takluyver-pynsist-msvcrt-tag1/x64/Windows8.1-KB2999226-x64.msu",
        32,
        32,
        31,
        31,
    ),
    (
        "real-msu/takluyver-pynsist-msvcrt-tag1/x86/Windows6.0-KB2999226-x86.msu",
        86,
        86,
        37,
        37,
    ),
    (
        "real-msu/takluyver-pynsist-msvcrt-tag1/x86/Windows6.1-KB2999226-x86.msu",
        48,
        48,
        20,
        20,
    ),
    (
        "real-msu/takluyver-pynsist-msvcrt-tag1/x86/Windows8-RT-KB2999226-x86.msu",
        36,
        36,
        32,
        32,
    ),
    (
        "real-msu/takluyver-pynsist-msvcrt-tag1/x86/Windows8.1-KB2999226-x86.msu",
        16,
        16,
        15,
        15,
    ),
    (
        "real-msu/xxlmandalorian013-powershellscripts/windows10.0-kb4589210-v2-x64_bbbf54336d6e22da5de8d63891401d8f6077d2ce.msu",
        1,
        1,
        0,
        0,
    ),
    // No payload files (metadata-only package).
    (
        "real-msu/afiqmnsor-22h2/windows10.0-kb5015684-x64_523c039b86ca98f2d818c4e6706e2cc94b634c4a.msu",
        0,
        0,
        0,
        0,
    ),
    // No payload files (metadata-only package).
    (
        "real-cab/gwblok-garytown/SoftwareUpdates/Windows10.0-KB4517245-x64.cab",
        0,
        0,
        0,
        0,
    ),
    // No payload files (metadata-only package).
    (
        "real-cab/gwblok-garytown/SoftwareUpdates/Windows10.0-KB5003791-x64.cab",
        0,
        0,
        0,
        0,
    ),
    // No payload files (metadata-only package).
    (
        "real-cab/gwblok-garytown/SoftwareUpdates/Windows11.0-kb5027397-x64.cab",
        0,
        0,
        0,
        0,
    ),
];

/// (PE deltas attempted, PE deltas rebuilt to the manifest digest).
fn pe_counts(pkg: &Package) -> (usize, usize) {
    let (mut attempted, mut rebuilt) = (0, 0);
    for f in pkg.components.iter().flat_map(|c| &c.files) {
        let Location::Delta {
            member: Some(member),
            ..
        } = &f.location
        else {
            continue;
        };
        let Some(h) = pkg
            .deltas
            .iter()
            .find(|d| &d.member == member)
            .and_then(|d| d.header.as_ref())
        else {
            continue;
        };
        if h.file_type == 1 {
            continue;
        }
        attempted += 1;
        if let Some(Expansion::Rebuilt { sha256, sha1 }) = &f.expansion {
            let got = match f.digest_alg.as_deref() {
                Some("sha256") => sha256,
                Some("sha1") => sha1,
                _ => continue,
            };
            if f.digest
                .as_ref()
                .is_some_and(|d| d.eq_ignore_ascii_case(got))
            {
                rebuilt += 1;
            }
        }
    }
    (attempted, rebuilt)
}

/// `verify --format json` summary: (files declared, files verified by hash).
fn verify_summary(pkg: &Path) -> (usize, usize) {
    let out = assert_cmd::Command::cargo_bin("kbinspect")
        .unwrap()
        .args(["verify", "--format", "json"])
        .arg(pkg)
        .output()
        .unwrap();
    let v: serde_json::Value =
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{}: {e}", pkg.display()));
    let n = |k: &str| v["summary"][k].as_u64().unwrap() as usize;
    (n("files_declared"), n("files_verified"))
}

#[test]
fn real_packages_pe_deltas_and_proven_files() {
    let Some(corpus) = common::corpus() else {
        return;
    };
    let mut table = Vec::new();
    for &(rel, declared, proven, pe_attempted, pe_rebuilt) in PACKAGES {
        let path = corpus.join(rel);
        assert!(path.is_file(), "{rel} missing from the corpus");
        let pkg = Package::load(&path, &Limits::default()).unwrap();
        let (att, reb) = pe_counts(&pkg);
        let (dec, ver) = verify_summary(&path);
        table.push(format!(
            "{rel}: files {ver}/{dec} proven, PE deltas {reb}/{att} rebuilt"
        ));
        assert_eq!(
            (dec, ver, att, reb),
            (declared, proven, pe_attempted, pe_rebuilt),
            "{rel}: (declared, proven, PE attempted, PE rebuilt)"
        );
    }
    eprintln!("{}", table.join("\n"));
    // Across these packages: 1,231 files declared, 719 of them from PE deltas.
    let total = |f: fn(&(&str, usize, usize, usize, usize)) -> usize| -> usize {
        PACKAGES.iter().map(f).sum()
    };
    assert_eq!(total(|p| p.1), 1231);
    assert_eq!(total(|p| p.3), 719);
}
