//! `list` and `verify` on the hand-written fixture `testdata/servicing/demo-pkg`
//! (two mums, a deployment, a component with a SHA-256 and a SHA-1 payload),
//! and on damaged copies of it built in a temp dir.

use crate::common;

use std::path::{Path, PathBuf};

use kbinspect::check::integrity;
use kbinspect::container::Limits;
use kbinspect::model::{Location, Package};

const COMPONENT: &str = "amd64_demo-component_31bf3856ad364e35_1.0.0.0_none_d6455d44721cd835";
const DEPLOYMENT: &str =
    "amd64_0123456789abcdef0123456789abcdef_31bf3856ad364e35_1.0.0.0_none_2d85a5ac25b00186";

fn fixture() -> PathBuf {
    common::testdata().join("servicing/demo-pkg")
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let dest = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &dest);
        } else {
            std::fs::copy(e.path(), dest).unwrap();
        }
    }
}

fn damaged(edit: impl FnOnce(&Path)) -> (tempfile::TempDir, Vec<kbinspect::finding::Finding>) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("pkg");
    copy_dir(&fixture(), &dir);
    edit(&dir);
    let pkg = Package::load(&dir, &Limits::default()).unwrap();
    // The fixture carries no catalogs: `catalog-absent` on every variant
    // (asserted in `fixture_verifies_clean`), left out here.
    let findings: Vec<_> = integrity::check(&pkg)
        .into_iter()
        .filter(|f| f.code != "catalog-absent")
        .collect();
    (tmp, findings)
}

fn codes(f: &[kbinspect::finding::Finding]) -> Vec<&str> {
    // The fixture carries no catalogs (`catalog-absent` on every variant);
    // catalog coverage is tested on real packages in tests/verify_real.rs.
    let mut v: Vec<&str> = f
        .iter()
        .map(|f| f.code.as_str())
        .filter(|c| *c != "catalog-absent")
        .collect();
    v.sort();
    v
}

#[test]
fn model_of_the_fixture() {
    let pkg = Package::load(&fixture(), &Limits::default()).unwrap();
    assert_eq!(pkg.packages.len(), 2);
    assert_eq!(pkg.components.len(), 2);
    let comp = pkg
        .components
        .iter()
        .find(|c| *c.keyform == *COMPONENT)
        .unwrap();
    assert!(!comp.deployment);
    assert_eq!(comp.files.len(), 2);
    assert_eq!(
        comp.files[0].destination,
        r"C:\Windows\System32\demo\demo.txt"
    );
    assert_eq!(comp.files[0].size, Some(43));
    assert!(
        matches!(&comp.files[0].location, Location::Stored { member, .. } if **member == format!("{COMPONENT}/demo.txt"))
    );
    assert_eq!(comp.files[1].digest_alg.as_deref(), Some("sha1"));
    let dep = pkg
        .components
        .iter()
        .find(|c| *c.keyform == *DEPLOYMENT)
        .unwrap();
    assert!(dep.deployment);
    assert_eq!(dep.deploys().next().unwrap().name, "Demo-Component");
}

#[test]
fn fixture_verifies_clean() {
    let pkg = Package::load(&fixture(), &Limits::default()).unwrap();
    let (findings, stats) = integrity::check_with_stats(&pkg);
    // No catalog in the fixture: the one thing it cannot prove.
    assert_eq!(codes(&findings), Vec::<&str>::new(), "{findings:#?}");
    assert_eq!(findings.len(), 1, "{findings:#?}");
    assert_eq!(findings[0].code, "catalog-absent");
    assert_eq!(stats.files_verified, 2);
}

/// Golden JSON of `kbinspect list`. Timestamps of a directory input are file
/// mtimes, so they are blanked before comparing. Regenerate with
/// `KBINSPECT_UPDATE_GOLDEN=1`.
#[test]
fn list_json_golden() {
    let out = assert_cmd::Command::cargo_bin("kbinspect")
        .unwrap()
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(["list", "--format", "json", "testdata/servicing/demo-pkg"])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    blank_timestamps(&mut v);
    let got = serde_json::to_string_pretty(&v).unwrap() + "\n";
    let golden = common::testdata().join("servicing/demo-pkg.list.json");
    if std::env::var("KBINSPECT_UPDATE_GOLDEN").as_deref() == Ok("1") {
        std::fs::write(&golden, &got).unwrap();
    }
    let want = std::fs::read_to_string(&golden).unwrap();
    assert_eq!(
        got, want,
        "list JSON changed; rerun with KBINSPECT_UPDATE_GOLDEN=1 if intended"
    );
}

fn blank_timestamps(v: &mut serde_json::Value) {
    match v {
        serde_json::Value::Object(m) => {
            for (k, x) in m.iter_mut() {
                if k == "timestamp" {
                    *x = serde_json::Value::Null;
                } else {
                    blank_timestamps(x);
                }
            }
        }
        serde_json::Value::Array(a) => a.iter_mut().for_each(blank_timestamps),
        _ => {}
    }
}

#[test]
fn verify_exit_codes_and_json() {
    let ok = assert_cmd::Command::cargo_bin("kbinspect")
        .unwrap()
        .args(["verify", "--format", "json"])
        .arg(fixture())
        .output()
        .unwrap();
    assert_eq!(ok.status.code(), Some(0));
    let v: serde_json::Value = serde_json::from_slice(&ok.stdout).unwrap();
    // Every file proven, but no catalog lists the documents: incomplete,
    // exit 0 (1 with --strict).
    assert_eq!(v["verdict"], "incomplete");
    assert_eq!(v["coverage"]["files_proven"], 2);
    assert_eq!(v["coverage"]["files_declared"], 2);
    assert_eq!(
        v["unproven"][0]["reason"]
            .as_str()
            .unwrap()
            .split(':')
            .next(),
        Some("catalog-absent")
    );
    assert_eq!(v["summary"]["files_verified"], 2);
    let strict = assert_cmd::Command::cargo_bin("kbinspect")
        .unwrap()
        .args(["verify", "--strict"])
        .arg(fixture())
        .output()
        .unwrap();
    assert_eq!(strict.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&strict.stdout).contains("INCOMPLETE: 2 of 2 files proven"));

    let missing = assert_cmd::Command::cargo_bin("kbinspect")
        .unwrap()
        .args(["verify", "/nonexistent/kbinspect-input"])
        .output()
        .unwrap();
    assert_eq!(missing.status.code(), Some(2));
}

/// A changed payload byte is a digest mismatch naming the file.
#[test]
fn changed_payload_byte() {
    let (_t, f) = damaged(|d| {
        let p = d.join(COMPONENT).join("demo.txt");
        let mut b = std::fs::read(&p).unwrap();
        b[0] ^= 1;
        std::fs::write(&p, b).unwrap();
    });
    assert_eq!(codes(&f), ["digest-mismatch"]);
    assert!(f[0].subject.ends_with("\\demo.txt"));
    assert!(f[0].detail.contains("9e06f2ade8bc84ee"), "{}", f[0].detail);
}

/// The SHA-1 attribute form is checked too.
#[test]
fn changed_sha1_payload() {
    let (_t, f) = damaged(|d| {
        std::fs::write(d.join(COMPONENT).join("old.txt"), b"other").unwrap();
    });
    assert_eq!(codes(&f), ["digest-mismatch"]);
    assert!(
        f[0].detail
            .starts_with(&format!("{COMPONENT}/old.txt: sha1"))
    );
}

/// A manifest renamed to another keyform: the name no longer matches its
/// identity, and its payload folder no longer matches either.
#[test]
fn renamed_manifest() {
    let (_t, f) = damaged(|d| {
        let wrong = COMPONENT.replace("d6455d44721cd835", "d6455d44721cd836");
        std::fs::rename(
            d.join(format!("{COMPONENT}.manifest")),
            d.join(format!("{wrong}.manifest")),
        )
        .unwrap();
    });
    let c = codes(&f);
    assert!(c.contains(&"manifest-name-mismatch"), "{f:#?}");
    let m = f
        .iter()
        .find(|x| x.code == "manifest-name-mismatch")
        .unwrap();
    assert!(
        m.detail
            .contains("d6455d44721cd836 in the name, d6455d44721cd835 computed"),
        "{}",
        m.detail
    );
}

/// A removed deployment manifest: the mum's component is missing.
#[test]
fn removed_manifest() {
    let (_t, f) = damaged(|d| {
        std::fs::remove_file(d.join(format!("{DEPLOYMENT}.manifest"))).unwrap();
    });
    assert_eq!(codes(&f), ["component-missing", "component-unreferenced"]);
    assert!(f[0].detail.contains(DEPLOYMENT) || f[1].detail.contains(DEPLOYMENT));
}

/// A removed payload is a missing file; an extra one is unreferenced.
#[test]
fn removed_and_extra_payload() {
    let (_t, f) = damaged(|d| {
        std::fs::remove_file(d.join(COMPONENT).join("demo.txt")).unwrap();
        std::fs::write(d.join(COMPONENT).join("extra.bin"), b"x").unwrap();
    });
    assert_eq!(codes(&f), ["file-missing", "member-unreferenced"]);
}

/// A mum whose file name disagrees with its identity.
#[test]
fn renamed_mum() {
    let (_t, f) = damaged(|d| {
        std::fs::rename(
            d.join("Package_1_for_KB9999999~31bf3856ad364e35~amd64~~1.0.0.0.mum"),
            d.join("Package_1_for_KB9999999~31bf3856ad364e35~amd64~~1.0.0.1.mum"),
        )
        .unwrap();
    });
    assert_eq!(codes(&f), ["mum-name-mismatch"]);
}

fn utf16(s: &str, le: bool, bom: bool) -> Vec<u8> {
    let mut out = Vec::new();
    if bom {
        out.extend_from_slice(if le { &[0xFF, 0xFE] } else { &[0xFE, 0xFF] });
    }
    for u in s.encode_utf16() {
        out.extend_from_slice(&if le { u.to_le_bytes() } else { u.to_be_bytes() });
    }
    out
}

/// UTF-16 manifests in either byte order, with or without BOM, give the
/// same model as UTF-8.
#[test]
fn utf16_manifests_parse_the_same() {
    let path = fixture().join(format!("{COMPONENT}.manifest"));
    let text = std::fs::read_to_string(&path)
        .unwrap()
        .replace("encoding=\"UTF-8\"", "encoding=\"UTF-16\"");
    let base = Package::load(&fixture(), &Limits::default()).unwrap();
    for (le, bom) in [(true, true), (true, false), (false, true), (false, false)] {
        let (_t, f) = damaged(|d| {
            std::fs::write(
                d.join(format!("{COMPONENT}.manifest")),
                utf16(&text, le, bom),
            )
            .unwrap();
        });
        assert!(f.is_empty(), "le={le} bom={bom}: {f:#?}");
        let tmp = tempfile::tempdir().unwrap();
        copy_dir(&fixture(), tmp.path());
        std::fs::write(
            tmp.path().join(format!("{COMPONENT}.manifest")),
            utf16(&text, le, bom),
        )
        .unwrap();
        let pkg = Package::load(tmp.path(), &Limits::default()).unwrap();
        let a = base
            .components
            .iter()
            .find(|c| *c.keyform == *COMPONENT)
            .unwrap();
        let b = pkg
            .components
            .iter()
            .find(|c| *c.keyform == *COMPONENT)
            .unwrap();
        assert_eq!(a.files.len(), b.files.len());
        assert_eq!(a.files[0].digest, b.files[0].digest);
    }
}

fn malformed_finding(bytes: Vec<u8>) -> kbinspect::finding::Finding {
    let (_t, f) = damaged(|d| {
        std::fs::write(d.join(format!("{COMPONENT}.manifest")), bytes).unwrap();
    });
    let m: Vec<_> = f
        .iter()
        .filter(|x| x.code == "metadata-malformed")
        .collect();
    assert_eq!(m.len(), 1, "{f:#?}");
    assert_eq!(m[0].subject, format!("{COMPONENT}.manifest"));
    m[0].clone()
}

/// Malformed manifests are findings naming member, line and column; the
/// rest of the package is still checked.
#[test]
fn malformed_manifests_are_findings_with_positions() {
    let good = std::fs::read(fixture().join(format!("{COMPONENT}.manifest"))).unwrap();
    // Truncated in the middle of the second <file>.
    let cut = String::from_utf8(good.clone())
        .unwrap()
        .find("old.txt")
        .unwrap();
    let f = malformed_finding(good[..cut].to_vec());
    assert!(f.detail.contains("line 10, column 3"), "{}", f.detail);

    // Latin-1 byte inside an attribute on line 3.
    let latin = String::from_utf8(good.clone())
        .unwrap()
        .replacen("Demo-Component", "Demo-Compon\u{00e9}nt", 1)
        .into_bytes();
    let latin: Vec<u8> = {
        let s = String::from_utf8(latin).unwrap();
        s.chars()
            .flat_map(|c| {
                if c == 'é' {
                    vec![0xE9u8]
                } else {
                    c.to_string().into_bytes()
                }
            })
            .collect()
    };
    let f = malformed_finding(latin);
    assert!(f.detail.contains("line 3, column 38"), "{}", f.detail);
    assert!(f.detail.contains("UTF-8"), "{}", f.detail);

    // UTF-16 with an odd byte count.
    let mut odd = utf16("<assembly/>", true, true);
    odd.push(0);
    let f = malformed_finding(odd);
    assert!(f.detail.contains("odd byte count"), "{}", f.detail);

    // A huge attribute value.
    let huge = String::from_utf8(good.clone())
        .unwrap()
        .replacen("description", "x", 1)
        .replacen(
            "manifestVersion=\"1.0\"",
            &format!("manifestVersion=\"{}\"", "9".repeat(1 << 20)),
            1,
        );
    let f = malformed_finding(huge.into_bytes());
    assert!(
        f.detail.contains("line 2, column 1") && f.detail.contains("over the limit"),
        "{}",
        f.detail
    );

    // Mismatched end tag.
    let bad = String::from_utf8(good)
        .unwrap()
        .replacen("</file>", "</fil>", 1);
    let f = malformed_finding(bad.into_bytes());
    assert!(f.detail.contains("line 9"), "{}", f.detail);
}

/// Golden JSON of `kbinspect verify` on a damaged copy of the fixture (one
/// payload byte changed, one stray payload added): the finding codes,
/// subjects, details and summary users see. The input path is blanked.
/// Regenerate with `KBINSPECT_UPDATE_GOLDEN=1`.
#[test]
fn verify_json_golden_damaged() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("pkg");
    copy_dir(&fixture(), &dir);
    let p = dir.join(COMPONENT).join("demo.txt");
    let mut b = std::fs::read(&p).unwrap();
    b[5] ^= 0x20;
    std::fs::write(&p, b).unwrap();
    std::fs::write(dir.join(COMPONENT).join("stray.bin"), b"stray").unwrap();
    let out = assert_cmd::Command::cargo_bin("kbinspect")
        .unwrap()
        .args(["verify", "--format", "json"])
        .arg(&dir)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let mut v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    v["input"] = serde_json::Value::Null;
    let got = serde_json::to_string_pretty(&v).unwrap() + "\n";
    let golden = common::testdata().join("servicing/demo-pkg-damaged.verify.json");
    if std::env::var("KBINSPECT_UPDATE_GOLDEN").as_deref() == Ok("1") {
        std::fs::write(&golden, &got).unwrap();
    }
    let want = std::fs::read_to_string(&golden).unwrap();
    assert_eq!(
        got, want,
        "verify JSON changed; rerun with KBINSPECT_UPDATE_GOLDEN=1 if intended"
    );
}
