//! Verdict integrity against crafted packages (issue 17, attacks 1 and 3):
//! every command reads the same bytes for a name, and every declared digest
//! is checked whatever the bytes look like.

use crate::common;

use std::path::Path;

use base64::Engine as _;
use serde_json::Value;
use sha2::Digest as _;

use kbinspect::servicing::identity::Identity;

const KEYFORM_NAME: &str = "Demo";

fn identity() -> Identity {
    Identity {
        name: KEYFORM_NAME.into(),
        version: "1.0.0.0".into(),
        processor_architecture: "amd64".into(),
        language: "neutral".into(),
        public_key_token: "31bf3856ad364e35".into(),
        version_scope: "nonSxS".into(),
        ..Default::default()
    }
}

/// A component manifest declaring `demo.txt` with a SHA-256 or SHA-1
/// digest of `bytes`.
fn manifest(bytes: &[u8], sha1: bool) -> Vec<u8> {
    let hash = if sha1 {
        format!(
            r#"<file name="demo.txt" destinationPath="$(runtime.windows)\" hashalg="SHA1" hash="{}"/>"#,
            hex::encode(sha1::Sha1::digest(bytes))
        )
    } else {
        let b64 = base64::engine::general_purpose::STANDARD.encode(sha2::Sha256::digest(bytes));
        format!(
            r#"<file name="demo.txt" destinationPath="$(runtime.windows)\"><hash xmlns="urn:schemas-microsoft-com:asm.v2"><DigestMethod xmlns="http://www.w3.org/2000/09/xmldsig#" Algorithm="http://www.w3.org/2000/09/xmldsig#sha256"/><DigestValue xmlns="http://www.w3.org/2000/09/xmldsig#">{b64}</DigestValue></hash></file>"#
        )
    };
    format!(
        r#"<assembly xmlns="urn:schemas-microsoft-com:asm.v3" manifestVersion="1.0"><assemblyIdentity name="{KEYFORM_NAME}" version="1.0.0.0" processorArchitecture="amd64" language="neutral" publicKeyToken="31bf3856ad364e35" versionScope="nonSxS"/>{hash}</assembly>"#
    )
    .into_bytes()
}

fn cab(dir: &Path, files: &[(String, Vec<u8>)]) -> std::path::PathBuf {
    let p = dir.join("crafted.cab");
    std::fs::write(&p, common::stored_cab(files)).unwrap();
    p
}

fn verify(p: &Path) -> (i32, Value) {
    let out = assert_cmd::Command::cargo_bin("kbinspect")
        .unwrap()
        .args(["verify", "--format", "json"])
        .arg(p)
        .output()
        .unwrap();
    (
        out.status.code().unwrap(),
        serde_json::from_slice(&out.stdout).unwrap(),
    )
}

fn error_codes(v: &Value) -> Vec<String> {
    v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["severity"] == "error")
        .map(|f| f["code"].as_str().unwrap().to_string())
        .collect()
}

/// Two members for one declared file, the first with attacker bytes, the
/// last genuine, under every alias the extractor merges: an error naming
/// the duplicate, and `extract` writes the bytes `verify` hashed (the last).
#[test]
fn duplicates_and_aliases_of_a_declared_file() {
    let keyform = identity().keyform();
    let good = b"genuine bytes".to_vec();
    let evil = b"attacker bytes".to_vec();
    for alias in [
        format!("{keyform}\\demo.txt"),
        format!("{keyform}\\.\\demo.txt"),
        format!("{keyform}\\demo.txt."),
        format!("{keyform}\\demo.txt "),
        format!("{keyform}\\\\demo.txt"),
        format!("\\{keyform}\\demo.txt"),
        format!("{}\\DEMO.TXT", keyform.to_uppercase()),
    ] {
        let tmp = tempfile::tempdir().unwrap();
        let p = cab(
            tmp.path(),
            &[
                (format!("{keyform}.manifest"), manifest(&good, false)),
                (alias.clone(), evil.clone()),
                (format!("{keyform}\\demo.txt"), good.clone()),
            ],
        );
        let (code, v) = verify(&p);
        assert_eq!(code, 1, "{alias}");
        assert_eq!(v["verdict"], "fail", "{alias}");
        assert!(
            error_codes(&v).contains(&"member-duplicate-name".to_string()),
            "{alias}: {:#?}",
            v["findings"]
        );
        // The file is proven from the last member, the one `extract` keeps.
        assert_eq!(v["coverage"]["stored_digest"], 1, "{alias}");
        let out = tmp.path().join("out");
        let x = assert_cmd::Command::cargo_bin("kbinspect")
            .unwrap()
            .args(["extract", "--format", "json"])
            .arg(&p)
            .arg("-o")
            .arg(&out)
            .output()
            .unwrap();
        let r: Value = serde_json::from_slice(&x.stdout).unwrap();
        let written: Vec<&Value> = r["written"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|w| {
                w["target"]
                    .as_str()
                    .unwrap()
                    .to_lowercase()
                    .ends_with("demo.txt")
            })
            .collect();
        assert_eq!(written.len(), 1, "{alias}: {r:#}");
        let target = out.join(written[0]["target"].as_str().unwrap());
        assert_eq!(std::fs::read(target).unwrap(), good, "{alias}");
    }
}

/// A file declared with a SHA-1 digest whose bytes start with `PA30`, and
/// a PE image with `PA30` at offset 4: what a member is comes from the
/// manifest that declares it, so both are hashed and checked.
#[test]
fn sha1_digests_are_checked_whatever_the_bytes_look_like() {
    let keyform = identity().keyform();
    for declared in [
        b"PA30 looks like a delta".to_vec(),
        b"MZ\x90\x00PA30 a PE with a delta signature at 4".to_vec(),
    ] {
        let mut stored = declared.clone();
        stored.push(b'!');
        let tmp = tempfile::tempdir().unwrap();
        // Genuine: proven by SHA-1.
        let p = cab(
            tmp.path(),
            &[
                (format!("{keyform}.manifest"), manifest(&declared, true)),
                (format!("{keyform}\\demo.txt"), declared.clone()),
            ],
        );
        let (_, v) = verify(&p);
        assert_eq!(v["coverage"]["stored_digest"], 1, "{v:#}");
        assert_eq!(error_codes(&v), Vec::<String>::new());
        // Changed bytes: a digest mismatch, not a skipped check.
        let p = cab(
            tmp.path(),
            &[
                (format!("{keyform}.manifest"), manifest(&declared, true)),
                (format!("{keyform}\\demo.txt"), stored),
            ],
        );
        let (code, v) = verify(&p);
        assert_eq!(code, 1);
        assert!(
            error_codes(&v).contains(&"digest-mismatch".to_string()),
            "{:#?}",
            v["findings"]
        );
    }
}
