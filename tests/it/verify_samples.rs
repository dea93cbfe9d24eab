//! `verify` on the generated KB975354 sample packages (`testdata/*.msu`,
//! built by `src/sample/`): classic layout, payloads stored under
//! `keyform\name` inside the nested package CAB, no container index.

use crate::common;

use kbinspect::check::integrity;
use kbinspect::container::Limits;
use kbinspect::model::{Location, Package};

#[test]
fn samples_verify_with_every_payload_hashed() {
    for (arch, files) in [("x86", 4), ("x64", 11), ("ia64", 7)] {
        let msu = common::testdata().join(format!("Windows6.1-KB975354-{arch}.msu"));
        let pkg = Package::load(&msu, &Limits::default()).unwrap();
        let (findings, stats) = integrity::check_with_stats(&pkg);
        assert!(findings.is_empty(), "{arch}: {findings:#?}");
        assert_eq!(stats.files, files, "{arch}");
        assert_eq!(stats.files_verified, files, "{arch}");
        for f in pkg.components.iter().flat_map(|c| &c.files) {
            assert!(
                matches!(&f.location, Location::Stored { member, .. } if member.starts_with(&format!("Windows6.1-KB975354-{arch}.cab/"))),
                "{arch}: {:?}",
                f.location
            );
        }
        // vssapi.dll carries the version of its component (20541 on x86 and
        // ia64, 20542 on x64 per the article).
        let (comp, vssapi) = pkg
            .components
            .iter()
            .flat_map(|c| c.files.iter().map(move |f| (c, f)))
            .find(|(_, f)| f.name == "vssapi.dll")
            .unwrap();
        assert_eq!(
            vssapi.pe.as_ref().and_then(|p| p.file_version.as_deref()),
            Some(comp.identity.version.as_str()),
            "{arch}"
        );
        assert!(comp.identity.version.starts_with("6.1.7600.2054"));
    }
}

/// The samples are signed by the TEST-ONLY CA (`testdata/trust/test-keys/`):
/// `verify --kb … --trust-root TEST-ONLY-root.pem` passes with all four
/// signatures (MSU, package CAB, two catalogs) verified and every document
/// and payload file in a verified catalog; without `--trust-root` the
/// verdict is FAIL and the findings name the untrusted test root.
#[test]
fn samples_pass_with_the_test_root_and_name_it_without() {
    let root = common::testdata().join("trust/test-keys/TEST-ONLY-root.pem");
    let kb = common::testdata().join("KB975354-nl.txt");
    for (arch, files) in [("x86", 4), ("x64", 11), ("ia64", 7)] {
        let msu = common::testdata().join(format!("Windows6.1-KB975354-{arch}.msu"));
        let run = |trust: bool| {
            let mut cmd = assert_cmd::Command::cargo_bin("kbinspect").unwrap();
            cmd.args(["verify", "--format", "json"])
                .arg(&msu)
                .arg("--kb")
                .arg(&kb);
            if trust {
                cmd.arg("--trust-root").arg(&root);
            }
            let out = cmd.output().unwrap();
            let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
            (out.status.code(), v)
        };

        let (code, v) = run(true);
        assert_eq!(v["verdict"], "pass", "{arch}: {:#}", v["findings"]);
        assert_eq!(code, Some(0), "{arch}");
        assert_eq!(v["findings"].as_array().unwrap().len(), 0, "{arch}");
        let s = &v["trust"]["summary"];
        assert_eq!(s["signatures"], 4, "{arch}");
        assert_eq!(s["signatures_verified"], 4, "{arch}");
        assert_eq!(s["catalogs_verified"], 2, "{arch}");
        assert_eq!(s["documents_covered"], s["documents"], "{arch}");
        assert_eq!(s["files"], files, "{arch}");
        assert_eq!(s["files_found"], files, "{arch}");
        assert_eq!(
            s["roots"],
            serde_json::json!(["kbinspect TEST-ONLY root (not Microsoft)"]),
            "{arch}"
        );

        let (code, v) = run(false);
        assert_eq!(v["verdict"], "fail", "{arch}");
        assert_eq!(code, Some(1), "{arch}");
        let f = v["findings"].as_array().unwrap();
        let untrusted: Vec<_> = f
            .iter()
            .filter(|f| f["code"] == "trust-untrusted-root")
            .collect();
        assert_eq!(untrusted.len(), 4, "{arch}: {f:#?}");
        assert!(
            untrusted.iter().all(|f| f["detail"]
                .as_str()
                .unwrap()
                .contains("kbinspect TEST-ONLY root (not Microsoft)")),
            "{arch}: {untrusted:#?}"
        );
    }
}

/// osslsigncode (when installed) agrees with the TEST-ONLY root: the MSU,
/// the package CAB and both catalogs verify, and (`-catalog`) every PE
/// payload is found in the package catalog.
#[test]
fn osslsigncode_verifies_the_samples_with_the_test_root() {
    if !common::have("osslsigncode") || !common::have("cabextract") {
        return;
    }
    let root = common::testdata().join("trust/test-keys/TEST-ONLY-root.pem");
    let ossl = |file: &std::path::Path, catalog: Option<&std::path::Path>| {
        let mut cmd = std::process::Command::new("osslsigncode");
        cmd.args(["verify", "-ignore-crl"]);
        if let Some(c) = catalog {
            cmd.arg("-catalog").arg(c);
        }
        let o = cmd
            .arg("-in")
            .arg(file)
            .arg("-CAfile")
            .arg(&root)
            .output()
            .unwrap();
        let out = String::from_utf8_lossy(&o.stdout);
        assert!(
            o.status.success() && out.lines().any(|l| l.trim() == "Succeeded"),
            "{}: {out}{}",
            file.display(),
            String::from_utf8_lossy(&o.stderr)
        );
    };
    let extract = |cab: &std::path::Path, dir: &std::path::Path| {
        let st = std::process::Command::new("cabextract")
            .arg("-q")
            .arg("-d")
            .arg(dir)
            .arg(cab)
            .stderr(std::process::Stdio::null())
            .status()
            .unwrap();
        assert!(st.success(), "cabextract {}", cab.display());
    };
    for arch in ["x86", "x64", "ia64"] {
        let msu = common::testdata().join(format!("Windows6.1-KB975354-{arch}.msu"));
        ossl(&msu, None);
        let tmp = tempfile::tempdir().unwrap();
        extract(&msu, tmp.path());
        let cab = tmp.path().join(format!("Windows6.1-KB975354-{arch}.cab"));
        ossl(&cab, None);
        let pkg = tmp.path().join("pkg");
        extract(&cab, &pkg);
        let mut cats = Vec::new();
        let mut pes = Vec::new();
        for e in walk(&pkg) {
            let name = e.to_string_lossy().to_ascii_lowercase();
            if name.ends_with(".cat") {
                cats.push(e);
            } else if name.ends_with(".dll") || name.ends_with(".exe") {
                pes.push(e);
            }
        }
        assert_eq!(cats.len(), 2, "{arch}");
        for c in &cats {
            ossl(c, None);
        }
        let package_cat = cats.iter().find(|c| !c.ends_with("update.cat")).unwrap();
        assert!(!pes.is_empty(), "{arch}");
        for f in &pes {
            ossl(f, Some(package_cat));
        }
    }
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}
