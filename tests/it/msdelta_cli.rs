//! `kbinspect expand` end to end: writes verified targets, reports headers
//! and verdicts as JSON, refuses to write what it cannot verify.
use crate::common;
use crate::msdelta_support;

use assert_cmd::Command;
use msdelta_support::{parse_cix, sha256_hex};

fn kbinspect() -> Command {
    Command::cargo_bin("kbinspect").unwrap()
}

#[test]
fn expand_sourceless_then_sourced_blob() {
    let dir = corpus_or_skip!("kb4538483-esu-msu/extracted/Windows6.1-KB4538483-x86.cab");
    let files = parse_cix(&std::fs::read_to_string(dir.join("_manifest_.cix.xml")).unwrap());
    let sha = |blob: &str| {
        files
            .iter()
            .find(|f| f.source_name == blob)
            .unwrap()
            .sha256
            .clone()
    };
    let tmp = tempfile::tempdir().unwrap();
    let out42 = tmp.path().join("42.out");
    let o = kbinspect()
        .args(["expand", "--format", "json", "-o"])
        .arg(&out42)
        .arg(dir.join("42"))
        .output()
        .unwrap();
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let j: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(j["header"]["target_size"], 3015);
    assert_eq!(
        j["header"]["target_hash"],
        "3c0ae7b0b3b5bd2fd32f6904d374bca3"
    );
    assert_eq!(j["verification"]["by"], "header-hash");
    assert_eq!(j["output_sha256"], sha("42"));
    assert_eq!(sha256_hex(&std::fs::read(&out42).unwrap()), sha("42"));

    let out43 = tmp.path().join("43.out");
    let o = kbinspect()
        .args(["expand", "--source"])
        .arg(&out42)
        .arg("-o")
        .arg(&out43)
        .arg(dir.join("43"))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&o.stdout).contains("MD5 in header matches"));
    assert_eq!(sha256_hex(&std::fs::read(&out43).unwrap()), sha("43"));

    // Missing source: exit 1, a finding, and no output file.
    let none = tmp.path().join("none.out");
    let o = kbinspect()
        .args(["expand", "--format", "json", "-o"])
        .arg(&none)
        .arg(dir.join("43"))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    let j: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(j["findings"][0]["code"], "delta-source");
    assert!(!none.exists());
}

#[test]
fn expand_dcm_with_base_manifest() {
    let dir = corpus_or_skip!("msdelta-vectors/dcm");
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("wow64.xml");
    let manifest = dir.join(
        "wow64_microsoft-windows-o..euapcommonproxystub_31bf3856ad364e35_10.0.26100.7309_none_38de5e2364a9fd20.manifest",
    );
    let o = kbinspect()
        .args(["expand", "--format", "json", "--base-manifest"])
        .arg(dir.join("base_manifest.bin"))
        .arg("-o")
        .arg(&out)
        .arg(&manifest)
        .output()
        .unwrap();
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let j: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(j["header"]["wrapper"], "DCM");
    assert_eq!(j["base"]["known"], true);
    assert_eq!(
        j["base"]["sha256"],
        "0ad8f100f1c56f4a1aad990defade9191f7d5be929b930a04160ebbf99cd6b46"
    );
    // DCM carries no hash: the output is written with an "unverified" warning.
    assert_eq!(j["findings"][0]["code"], "delta-unverified");
    assert!(std::fs::read(&out).unwrap() == std::fs::read(dir.join("wow64_golden.xml")).unwrap());

    // A DCM manifest without a base cannot run.
    kbinspect()
        .args(["expand", "-o"])
        .arg(tmp.path().join("x"))
        .arg(&manifest)
        .assert()
        .code(2);
}

#[test]
fn expand_rebuilds_pe_and_refuses_unverifiable_output() {
    let dir = corpus_or_skip!("msdelta-vectors/pe-decode/x86_mscordbi");
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("t.bin");
    // The PE transforms rebuild it, checked by the header's SHA-256.
    kbinspect()
        .args(["expand", "--source"])
        .arg(dir.join("base.bin"))
        .arg("-o")
        .arg(&out)
        .arg(dir.join("delta.pa30"))
        .assert()
        .success();
    assert!(std::fs::read(&out).unwrap() == std::fs::read(dir.join("target.bin")).unwrap());

    // The same delta with one byte of its header hash changed: the rebuilt
    // bytes no longer match, so nothing is written.
    let target = std::fs::read(dir.join("target.bin")).unwrap();
    let want = hex::decode(sha256_hex(&target)).unwrap();
    let mut delta = std::fs::read(dir.join("delta.pa30")).unwrap();
    let at = delta
        .windows(32)
        .position(|w| w == want.as_slice())
        .expect("header SHA-256 in the delta");
    delta[at] ^= 1;
    let bad = tmp.path().join("bad.pa30");
    std::fs::write(&bad, &delta).unwrap();
    let out = tmp.path().join("t2.bin");
    let o = kbinspect()
        .args(["expand", "--format", "json", "--source"])
        .arg(dir.join("base.bin"))
        .arg("-o")
        .arg(&out)
        .arg(&bad)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    let j: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(j["findings"][0]["code"], "delta-unsupported");
    assert!(
        j["findings"][0]["detail"]
            .as_str()
            .unwrap()
            .contains("PE transforms")
    );
    assert!(!out.exists(), "an unverified PE target was written");
}

/// A Windows 10 style CRC32-prefixed delta (built from blob 42: no real
/// sample exists locally) expands, and the prefix is reported.
#[test]
fn expand_crc_prefixed_delta() {
    let dir = corpus_or_skip!("kb4538483-esu-msu/extracted/Windows6.1-KB4538483-x86.cab");
    let blob = std::fs::read(dir.join("42")).unwrap();
    let crc = crc32fast::hash(&blob);
    let tmp = tempfile::tempdir().unwrap();
    let mut prefixed = crc.to_le_bytes().to_vec();
    prefixed.extend_from_slice(&blob);
    let delta = tmp.path().join("f_42");
    std::fs::write(&delta, &prefixed).unwrap();
    let out = tmp.path().join("out");
    let o = kbinspect()
        .args(["expand", "--format", "json", "-o"])
        .arg(&out)
        .arg(&delta)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0));
    let j: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(j["header"]["crc_prefix"], u64::from(crc));
    assert_eq!(
        sha256_hex(&std::fs::read(&out).unwrap()),
        "90457dc2b4b5cdfada064587f1ba70a987c8c2625a62b07416e4d9a2f9d87d81"
    );
    // A damaged CRC is reported, not silently ignored.
    prefixed[0] ^= 0xFF;
    std::fs::write(&delta, &prefixed).unwrap();
    let o = kbinspect()
        .args(["expand", "--format", "json", "-o"])
        .arg(&out)
        .arg(&delta)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    let j: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert!(
        j["findings"][0]["detail"]
            .as_str()
            .unwrap()
            .contains("CRC32")
    );
}

/// What users see: `expand --help` and the JSON report of blob 42 (paths
/// replaced by placeholders) are snapshots, so changes show up in review.
#[test]
fn expand_help_and_json_snapshots() {
    let o = kbinspect().args(["expand", "--help"]).output().unwrap();
    assert!(o.status.success());
    insta::assert_snapshot!("expand_help", String::from_utf8_lossy(&o.stdout));

    let dir = corpus_or_skip!("kb4538483-esu-msu/extracted/Windows6.1-KB4538483-x86.cab");
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("42.out");
    let o = kbinspect()
        .args(["expand", "--format", "json", "-o"])
        .arg(&out)
        .arg(dir.join("42"))
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&o.stdout)
        .replace(&dir.join("42").display().to_string(), "<DELTA>")
        .replace(&out.display().to_string(), "<OUT>");
    insta::assert_snapshot!("expand_blob42_json", text);
}
