//! ECDSA signatures (issue 19): the TEST-ONLY ECDSA CA
//! (`testdata/trust/test-keys/TEST-ONLY-ecdsa-*`: a P-384 root signing with
//! ECDSA/SHA-384, a P-256 signer signing with ECDSA/SHA-256) re-signs the
//! bundled sample MSU and signs a catalog. Each verifies when its root is
//! trusted, fails naming the root when it is not, and fails when one byte
//! of the signature or of the signed range flips. Unknown algorithms stay
//! named findings. osslsigncode agrees where installed.

use crate::common;

use kbinspect::finding::Code;
use kbinspect::trust::chain::{Cert, RootStore};
use kbinspect::trust::pkcs7::SignatureReport;
use kbinspect::trust::{self, digest};
use kbinspect_testkit::sign::{self, ECDSA_ROOT_PEM};

const ROOT: &str = "kbinspect TEST-ONLY ECDSA root (not Microsoft)";

fn trusted() -> RootStore {
    let mut s = RootStore::microsoft();
    s.add_pem(ECDSA_ROOT_PEM, "TEST-ONLY-ecdsa-root.pem")
        .expect("ECDSA root parses");
    s
}

fn check(bytes: &[u8], name: &str, store: &RootStore) -> SignatureReport {
    trust::verify_bytes(bytes, name, store, trust::now()).0
}

fn codes(r: &SignatureReport) -> Vec<Code> {
    r.all_problems().iter().map(|p| p.code).collect()
}

/// The x64 sample MSU with its signature replaced by an ECDSA one.
fn ecdsa_msu() -> Vec<u8> {
    let msu = std::fs::read(common::testdata().join("Windows6.1-KB975354-x64.msu")).unwrap();
    sign::sign_cab_by(sign::ecdsa_test_ca(), msu)
}

fn ecdsa_catalog() -> Vec<u8> {
    sign::catalog_by(
        sign::ecdsa_test_ca(),
        &[
            ("update.mum".to_string(), b"<assembly/>".as_slice()),
            (
                "a.manifest".to_string(),
                b"<assembly>a</assembly>".as_slice(),
            ),
        ],
    )
}

/// Position of `needle` in `hay` (once).
fn find(hay: &[u8], needle: &[u8]) -> usize {
    let at = hay
        .windows(needle.len())
        .position(|w| w == needle)
        .expect("needle present");
    assert!(
        hay[at + 1..].windows(needle.len()).all(|w| w != needle),
        "needle present once"
    );
    at
}

fn assert_verified(r: &SignatureReport) {
    assert!(r.verified(), "{:#?}", r.all_problems());
    let chain = r.chain.as_ref().expect("a chain");
    assert_eq!(chain.root.as_deref(), Some(ROOT));
    assert_eq!(
        r.signer.as_deref(),
        Some("kbinspect TEST-ONLY ECDSA signer (not Microsoft)")
    );
    assert_eq!(r.digest_alg.as_deref(), Some("sha256"));
}

fn assert_untrusted(r: &SignatureReport) {
    assert_eq!(r.result, "failed");
    let p = r.all_problems();
    assert!(
        p.iter()
            .any(|p| p.code == Code::TrustUntrustedRoot && p.detail.contains(ROOT)),
        "{p:#?}"
    );
    // Only the root is wrong: the ECDSA signatures themselves verified.
    assert!(!codes(r).contains(&Code::TrustBadSignature), "{p:#?}");
    assert!(!codes(r).contains(&Code::TrustUncheckedAlgorithm), "{p:#?}");
}

#[test]
fn ecdsa_cabinet_verifies_under_its_root_and_names_it_otherwise() {
    let msu = ecdsa_msu();
    assert_verified(&check(&msu, "ecdsa.msu", &trusted()));
    assert_untrusted(&check(&msu, "ecdsa.msu", &RootStore::microsoft()));
    // Deterministic (RFC 6979 signatures).
    assert_eq!(msu, ecdsa_msu());
}

#[test]
fn ecdsa_catalog_verifies_under_its_root_and_names_it_otherwise() {
    let cat = ecdsa_catalog();
    let (r, ctl) = trust::verify_bytes(&cat, "ecdsa.cat", &trusted(), trust::now());
    assert_verified(&r);
    assert_eq!(ctl.expect("CTL").entries.len(), 4);
    assert_untrusted(&check(&cat, "ecdsa.cat", &RootStore::microsoft()));
}

#[test]
fn ecdsa_flipped_bytes_fail() {
    let store = trusted();
    for (name, bytes) in [("ecdsa.msu", ecdsa_msu()), ("ecdsa.cat", ecdsa_catalog())] {
        let good = check(&bytes, name, &store);
        assert_verified(&good);
        // The signer's signature value (the DER Ecdsa-Sig-Value): each
        // position tried fails as a bad signature (or, where the flip
        // breaks the DER, as unreadable, never as verified).
        let at = find(&bytes, &good.signature_value);
        for off in [
            8,
            good.signature_value.len() / 2,
            good.signature_value.len() - 1,
        ] {
            let mut m = bytes.clone();
            m[at + off] ^= 0x01;
            let r = check(&m, name, &store);
            assert_eq!(r.result, "failed", "{name} +{off}");
            assert!(
                codes(&r).contains(&Code::TrustBadSignature),
                "{name} +{off}: {:#?}",
                r.all_problems()
            );
        }
        // The signer's certificate (signed by the P-384 root with
        // ECDSA/SHA-384): one byte of its signature value.
        let cert = &good.signer_cert;
        let c = Cert::from_der(cert).unwrap();
        let at = find(&bytes, &c.signature);
        let mut m = bytes.clone();
        m[at + c.signature.len() / 2] ^= 0x80;
        let r = check(&m, name, &store);
        assert_eq!(r.result, "failed", "{name}: certificate signature");
        assert!(
            r.all_problems()
                .iter()
                .any(|p| p.code == Code::TrustBadSignature && p.detail.contains("ECDSA/P-384")),
            "{name}: {:#?}",
            r.all_problems()
        );
    }
    // One byte of the signed range: a cabinet's data, a catalog's content.
    let msu = ecdsa_msu();
    let (sigpos, _) = digest::cab_signature_range(&msu).unwrap();
    let mut m = msu.clone();
    m[usize::try_from(sigpos).unwrap() - 100] ^= 0x01;
    let r = check(&m, "ecdsa.msu", &store);
    assert_eq!(r.result, "failed");
    assert!(codes(&r).contains(&Code::TrustDigestMismatch), "{r:#?}");
    let cat = ecdsa_catalog();
    let mut m = cat.clone();
    // A file name in the CTL (listed once per hash: the first).
    let name: Vec<u8> = "update.mum"
        .encode_utf16()
        .flat_map(u16::to_le_bytes)
        .collect();
    let at = cat.windows(name.len()).position(|w| w == name).unwrap();
    m[at] ^= 0x20;
    let r = check(&m, "ecdsa.cat", &store);
    assert_eq!(r.result, "failed");
    assert!(codes(&r).contains(&Code::TrustMessageDigest), "{r:#?}");
}

/// An unknown signature algorithm or curve is a finding naming its OID,
/// never a pass.
#[test]
fn unknown_algorithms_are_named() {
    let store = trusted();
    // The SignerInfo's ecdsa-with-SHA256 (1.2.840.10045.4.3.2; the
    // certificates use ...4.3.3) becomes ...4.3.9.
    let oid_sha256 = [0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02];
    let cat = ecdsa_catalog();
    let mut m = cat.clone();
    m[find(&cat, &oid_sha256) + 9] = 0x09;
    let r = check(&m, "ecdsa.cat", &store);
    assert_ne!(r.result, "verified");
    assert!(
        r.all_problems()
            .iter()
            .any(|p| p.code == Code::TrustUncheckedAlgorithm
                && p.detail.contains("1.2.840.10045.4.3.9")),
        "{:#?}",
        r.all_problems()
    );
    // The signer's curve (P-256, 1.2.840.10045.3.1.7) becomes ...3.1.1
    // (P-192): the key is not one this verifies, and says which.
    let p256 = [0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];
    let mut m = cat.clone();
    m[find(&cat, &p256) + 9] = 0x01;
    let r = check(&m, "ecdsa.cat", &store);
    assert_ne!(r.result, "verified");
    assert!(
        r.all_problems()
            .iter()
            .any(|p| p.code == Code::TrustUncheckedAlgorithm
                && p.detail.contains("curve 1.2.840.10045.3.1.1")),
        "{:#?}",
        r.all_problems()
    );
}

/// The whole package from the command line: the outer MSU signed with
/// ECDSA, the package CAB and catalogs inside still RSA (the sample's):
/// both TEST-ONLY roots trusted, it passes; without the ECDSA root the
/// finding names it.
#[test]
fn cli_verify_with_an_ecdsa_root() {
    let tmp = tempfile::tempdir().unwrap();
    let msu = tmp.path().join("Windows6.1-KB975354-x64.msu");
    std::fs::write(&msu, ecdsa_msu()).unwrap();
    let keys = common::testdata().join("trust/test-keys");
    let run = |roots: &[&str]| {
        let mut cmd = assert_cmd::Command::cargo_bin("kbinspect").unwrap();
        cmd.args(["verify", "--format", "json"]).arg(&msu);
        for r in roots {
            cmd.arg("--trust-root").arg(keys.join(r));
        }
        let out = cmd.output().unwrap();
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        (out.status.code(), v)
    };
    let (code, v) = run(&["TEST-ONLY-root.pem", "TEST-ONLY-ecdsa-root.pem"]);
    assert_eq!(v["verdict"], "pass", "{:#}", v["findings"]);
    assert_eq!(code, Some(0));
    let s = &v["trust"]["summary"];
    assert_eq!(s["signatures"], 4);
    assert_eq!(s["signatures_verified"], 4);
    let (code, v) = run(&["TEST-ONLY-root.pem"]);
    assert_eq!(v["verdict"], "fail");
    assert_eq!(code, Some(1));
    let f = v["findings"].as_array().unwrap();
    let untrusted: Vec<_> = f
        .iter()
        .filter(|f| f["code"] == "trust-untrusted-root")
        .collect();
    assert_eq!(untrusted.len(), 1, "{f:#?}");
    assert!(
        untrusted[0]["detail"].as_str().unwrap().contains(ROOT),
        "{untrusted:#?}"
    );
}

/// osslsigncode (when installed) verifies the ECDSA-signed MSU and catalog
/// with the ECDSA root as its CA file, and rejects them without it.
#[test]
fn osslsigncode_agrees_on_ecdsa() {
    if !common::have("osslsigncode") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let root = common::testdata().join("trust/test-keys/TEST-ONLY-ecdsa-root.pem");
    let rsa_root = common::testdata().join("trust/test-keys/TEST-ONLY-root.pem");
    for (name, bytes) in [("ecdsa.msu", ecdsa_msu()), ("ecdsa.cat", ecdsa_catalog())] {
        let path = tmp.path().join(name);
        std::fs::write(&path, &bytes).unwrap();
        let ossl = |ca: &std::path::Path| {
            let o = std::process::Command::new("osslsigncode")
                .args(["verify", "-ignore-crl", "-in"])
                .arg(&path)
                .arg("-CAfile")
                .arg(ca)
                .output()
                .unwrap();
            let out = String::from_utf8_lossy(&o.stdout).to_string();
            (
                o.status.success() && out.lines().any(|l| l.trim() == "Succeeded"),
                out + &String::from_utf8_lossy(&o.stderr),
            )
        };
        let (ok, out) = ossl(&root);
        assert!(ok, "{name}: {out}");
        let (ok, out) = ossl(&rsa_root);
        assert!(!ok, "{name} under the RSA root: {out}");
    }
}
