//! The XML limits on the command line (`--max-xml-depth`, `--max-xml-elements`,
//! `--max-xml-attr`, `--max-xml-text`, `--max-xml-size`) of `list`, `verify`
//! and `diff`, on a small expanded package (a directory input): each flag,
//! set below what the documents need, turns into a finding that names the
//! member, the position and the flag; the defaults parse everything.
use std::path::Path;

use assert_cmd::Command;
use base64::Engine as _;
use serde_json::Value;
use sha2::Digest as _;

const PAYLOAD: &[u8] = b"demo payload\n";

fn id_attrs(version: &str) -> String {
    format!(
        r#"name="Demo-Comp" version="{version}" processorArchitecture="amd64" language="neutral" publicKeyToken="31bf3856ad364e35" versionScope="nonSxS""#
    )
}

/// An expanded package: `update.mum` installing one component whose
/// manifest declares `demo.txt` with its SHA-256 (nesting depth 4, six
/// elements, a 44-byte DigestValue, a 40-byte Algorithm attribute).
fn package(dir: &Path, version: &str) {
    std::fs::create_dir_all(dir).unwrap();
    let digest = base64::engine::general_purpose::STANDARD.encode(sha2::Sha256::digest(PAYLOAD));
    let manifest = format!(
        r#"<?xml version="1.0" encoding="utf-8"?>
<assembly xmlns="urn:schemas-microsoft-com:asm.v3" manifestVersion="1.0">
  <assemblyIdentity {ids}/>
  <file name="demo.txt" destinationPath="$(runtime.system32)\">
    <hash xmlns="urn:schemas-microsoft-com:asm.v2">
      <DigestMethod xmlns="http://www.w3.org/2000/09/xmldsig#" Algorithm="http://www.w3.org/2000/09/xmldsig#sha256"/>
      <DigestValue xmlns="http://www.w3.org/2000/09/xmldsig#">{digest}</DigestValue>
    </hash>
  </file>
</assembly>
"#,
        ids = id_attrs(version)
    );
    let mum = format!(
        r#"<?xml version="1.0" encoding="utf-8"?>
<assembly xmlns="urn:schemas-microsoft-com:asm.v3" manifestVersion="1.0">
  <assemblyIdentity name="Package_for_KB9999" version="{version}" language="neutral" processorArchitecture="amd64" publicKeyToken="31bf3856ad364e35"/>
  <package identifier="KB9999" releaseType="Update">
    <update name="demo"><component><assemblyIdentity {ids}/></component></update>
  </package>
</assembly>
"#,
        ids = id_attrs(version)
    );
    std::fs::write(dir.join("update.mum"), mum).unwrap();
    std::fs::write(dir.join("demo.manifest"), manifest).unwrap();
    // Stored payloads sit in a folder named after their manifest.
    std::fs::create_dir_all(dir.join("demo")).unwrap();
    std::fs::write(dir.join("demo/demo.txt"), PAYLOAD).unwrap();
}

fn run(args: &[&str], input: &Path) -> (Option<i32>, Value, String) {
    let out = Command::cargo_bin("kbinspect")
        .unwrap()
        .args(&args[..1])
        .arg(input)
        .args(&args[1..])
        .args(["--format", "json"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    let v = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{args:?}: {e}: {err}"));
    (out.status.code(), v, err)
}

fn findings(v: &Value, code: &str) -> Vec<(String, String)> {
    v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["code"] == code)
        .map(|f| {
            (
                f["subject"].as_str().unwrap().to_string(),
                f["detail"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// (flag, value, finding code, text the detail must hold).
const CASES: [(&str, &str, &str, &str); 5] = [
    (
        "--max-xml-depth",
        "3",
        "metadata-malformed",
        "line 6, column 7: elements nested deeper than 3 (limit 3; raise it with --max-xml-depth)",
    ),
    (
        "--max-xml-elements",
        "4",
        "metadata-malformed",
        "line 6, column 7: more than 4 elements (limit 4; raise it with --max-xml-elements)",
    ),
    (
        "--max-xml-attr",
        "30",
        "metadata-malformed",
        "line 6, column 7: attribute Algorithm of <DigestMethod> is 40 bytes, over the limit of 30 (raise it with --max-xml-attr)",
    ),
    (
        "--max-xml-text",
        "40",
        "metadata-malformed",
        "text inside <DigestValue> is longer than 40 bytes (raise it with --max-xml-text)",
    ),
    (
        "--max-xml-size",
        "200",
        "member-too-large",
        "over the cap for manifest members; not parsed (raise it with --max-xml-size)",
    ),
];

#[test]
fn defaults_parse_the_package() {
    let dir = tempfile::tempdir().unwrap();
    package(dir.path(), "1.0.0.0");
    let (code, v, err) = run(&["list"], dir.path());
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(v["components"].as_array().unwrap().len(), 1, "{v}");
    assert_eq!(v["components"][0]["files"][0]["name"], "demo.txt");
    let (code, v, err) = run(&["verify"], dir.path());
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(v["summary"]["files_verified"], 1, "{v}");
}

#[test]
fn each_xml_flag_is_honoured_by_list_and_verify() {
    let dir = tempfile::tempdir().unwrap();
    package(dir.path(), "1.0.0.0");
    for (flag, value, code, detail) in CASES {
        for cmd in ["list", "verify"] {
            let (exit, v, err) = run(&[cmd, flag, value], dir.path());
            let hit = findings(&v, code);
            assert!(
                hit.iter()
                    .any(|(s, d)| s == "demo.manifest" && d.contains(detail)),
                "{cmd} {flag} {value}: no {code} on demo.manifest with {detail:?}: {hit:?} {err}"
            );
            // The component is gone from the model, so nothing is verified;
            // a malformed document is an error, a skipped one a warning.
            if cmd == "list" {
                assert!(v["components"].as_array().unwrap().is_empty(), "{v}");
            } else {
                assert_eq!(v["summary"]["files_verified"], 0, "{v}");
            }
            // A limit on one document is a finding, not a failure to run.
            if code == "metadata-malformed" {
                assert_eq!(exit, Some(1), "{cmd} {flag}");
            } else {
                assert!(matches!(exit, Some(0 | 1)), "{cmd} {flag}: {exit:?}");
            }
        }
    }
}

/// `diff` loads both builds under the given XML limits: with documents
/// refused, the version change is no longer seen.
#[test]
fn diff_honours_the_xml_flags() {
    let dir = tempfile::tempdir().unwrap();
    let (old, new) = (dir.path().join("old"), dir.path().join("new"));
    package(&old, "1.0.0.0");
    package(&new, "2.0.0.0");
    let diff = |extra: &[&str]| {
        let out = Command::cargo_bin("kbinspect")
            .unwrap()
            .arg("diff")
            .args([&old, &new])
            .args(extra)
            .args(["--format", "json"])
            .output()
            .unwrap();
        let v: Value = serde_json::from_slice(&out.stdout).unwrap();
        let kinds: Vec<String> = v["changes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["kind"].as_str().unwrap().to_string())
            .collect();
        (out.status.code(), kinds)
    };
    let (code, kinds) = diff(&[]);
    assert_eq!(code, Some(1));
    assert!(
        kinds.iter().any(|k| k == "component-version-changed"),
        "{kinds:?}"
    );
    for (flag, value, _, _) in CASES {
        let (_, kinds) = diff(&[flag, value]);
        assert!(
            !kinds.iter().any(|k| k.starts_with("component-")),
            "{flag} {value}: the manifests must not have been parsed: {kinds:?}"
        );
    }
}

#[test]
fn help_lists_the_xml_flags() {
    for cmd in ["list", "verify", "diff"] {
        let out = Command::cargo_bin("kbinspect")
            .unwrap()
            .args([cmd, "--help"])
            .output()
            .unwrap();
        let help = String::from_utf8_lossy(&out.stdout);
        for (flag, _, _, _) in CASES {
            assert!(help.contains(flag), "{cmd} --help lacks {flag}");
        }
        for flag in [
            "--max-ratio",
            "--ratio-floor",
            "--max-depth",
            "--max-total-size",
        ] {
            assert!(help.contains(flag), "{cmd} --help lacks {flag}");
        }
    }
}
