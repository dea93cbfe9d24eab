//! The chain of trust against `osslsigncode` (the oracle of issue 19), on
//! every signed file of the 19 real packages of the corpus: the MSU or
//! CAB itself, every signed cabinet inside it and every catalog. Our
//! verdict and our recomputed digest must agree with osslsigncode's result
//! and its "Calculated message digest" (catalogs: the message digest).
//! Mutants (one byte flipped in the signed range, in the signature value,
//! in the signer's certificate) must fail in both. The per-package figures
//! and every signed file's result are in `testdata/trust/corpus.txt`
//! (regenerate with `KBINSPECT_BLESS=1`, after checking).
//!
//! Then KB4538483 x86 in full, and tampered copies built here.

use crate::common;

use std::path::{Path, PathBuf};
use std::process::Command;

use kbinspect::check::signature;
use kbinspect::container::Limits;
use kbinspect::finding::Code;
use kbinspect::model::{LoadOptions, Package};
use kbinspect::trust::chain::RootStore;
use kbinspect::trust::package::TrustOptions;
use kbinspect::trust::{self, digest};

/// The 19 real packages, each named.
const PACKAGES: &[&str] = &[
    "real-msu/xxlmandalorian013-powershellscripts/windows10.0-kb4589210-v2-x64_bbbf54336d6e22da5de8d63891401d8f6077d2ce.msu",
    "real-msu/w16073888-car-datamanageing/Windows6.1-KB2999226-x64.msu",
    "real-msu/w16073888-car-datamanageing/Windows6.1-KB3118401-x64.msu",
    "real-msu/soda92-win7-remote-debug/Windows6.1-KB3004394-v2-x64.msu",
    "real-msu/soda92-win7-remote-debug/Windows6.1-KB3063858-x64.msu",
    "real-msu/takluyver-pynsist-msvcrt-tag1/x64/Windows6.0-KB2999226-x64.msu",
    "real-msu/takluyver-pynsist-msvcrt-tag1/x64/Windows6.1-KB2999226-x64.msu",
    "real-msu/takluyver-pynsist-msvcrt-tag1/x64/Windows8-RT-KB2999226-x64.msu",
    "real-msu/takluyver-pynsist-msvcrt-tag1/x64/Windows8.1-KB2999226-x64.msu",
    "real-msu/takluyver-pynsist-msvcrt-tag1/x86/Windows6.1-KB2999226-x86.msu",
    "real-msu/takluyver-pynsist-msvcrt-tag1/x86/Windows8-RT-KB2999226-x86.msu",
    "real-msu/takluyver-pynsist-msvcrt-tag1/x86/Windows6.0-KB2999226-x86.msu",
    "real-msu/takluyver-pynsist-msvcrt-tag1/x86/Windows8.1-KB2999226-x86.msu",
    "real-msu/afiqmnsor-22h2/windows10.0-kb5015684-x64_523c039b86ca98f2d818c4e6706e2cc94b634c4a.msu",
    "real-cab/gwblok-garytown/SoftwareUpdates/Windows10.0-KB4517245-x64.cab",
    "real-cab/gwblok-garytown/SoftwareUpdates/Windows10.0-KB5003791-x64.cab",
    "real-cab/gwblok-garytown/SoftwareUpdates/Windows11.0-kb5027397-x64.cab",
    "kb4538483-esu-msu/windows6.1-kb4538483-x86_f77ee698928fb42232b70b01f53a4c5f68553323.msu",
    "kb4538483-x64-msu/windows6.1-kb4538483-x64_3e861ae5fe3f6b3c9d185decbd96a436ca0c5035.msu",
];

const X86: &str =
    "kb4538483-esu-msu/windows6.1-kb4538483-x86_f77ee698928fb42232b70b01f53a4c5f68553323.msu";

fn roots_pem(corpus: &Path) -> PathBuf {
    // The oracle uses the shared copy; ours is embedded (the same bytes).
    corpus.join("../trust/microsoft-roots.pem")
}

/// osslsigncode's verdict and digest: "Calculated message digest" for
/// cabinets, the messageDigest attribute for catalogs.
fn oracle(file: &Path, roots: &Path) -> (bool, Option<String>) {
    let out = Command::new("osslsigncode")
        .arg("verify")
        .arg("-in")
        .arg(file)
        .arg("-CAfile")
        .arg(roots)
        .arg("-TSA-CAfile")
        .arg(roots)
        .arg("-ignore-crl")
        .output()
        .expect("run osslsigncode");
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let ok = out.status.success() && text.lines().any(|l| l.trim() == "Succeeded");
    let digest = text
        .lines()
        .find_map(|l| l.strip_prefix("Calculated message digest :"))
        .or_else(|| {
            text.lines()
                .find_map(|l| l.trim().strip_prefix("Message digest:"))
        })
        .and_then(|d| d.split_whitespace().next())
        .map(|d| d.to_ascii_lowercase());
    (ok, digest)
}

fn cabextract(cab: &Path, dir: &Path) {
    std::fs::create_dir_all(dir).expect("mkdir");
    let st = Command::new("cabextract")
        .arg("-q")
        .arg("-d")
        .arg(dir)
        .arg(cab)
        .stderr(std::process::Stdio::null())
        .status()
        .expect("run cabextract");
    assert!(st.success(), "cabextract {}", cab.display());
}

/// Every signed file of a package on disk: the package, signed cabinets
/// inside (extracted with cabextract, to depth 3) and every `.cat`.
fn signed_files(pkg: &Path, tmp: &Path) -> Vec<PathBuf> {
    let mut out = vec![pkg.to_path_buf()];
    fn walk(cab: &Path, dir: &Path, depth: u32, out: &mut Vec<PathBuf>) {
        cabextract(cab, dir);
        let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
            .expect("read_dir")
            .map(|e| e.expect("entry").path())
            .filter(|p| p.is_file())
            .collect();
        entries.sort();
        for p in entries {
            let name = p
                .file_name()
                .unwrap()
                .to_string_lossy()
                .to_ascii_lowercase();
            let bytes = std::fs::read(&p).expect("read");
            if bytes.starts_with(b"MSCF") && depth < 3 {
                if digest::cab_signature_range(&bytes).is_some() {
                    out.push(p.clone());
                }
                let sub = dir.join(format!("{name}.d"));
                walk(&p, &sub, depth + 1, out);
            } else if name.ends_with(".cat") {
                out.push(p);
            }
        }
    }
    walk(pkg, &tmp.join("x"), 1, &mut out);
    out
}

fn report_of(bytes: &[u8], name: &str) -> kbinspect::trust::pkcs7::SignatureReport {
    trust::verify_bytes(bytes, name, &RootStore::microsoft(), trust::now()).0
}

fn load(path: &Path) -> Package {
    Package::load_with(path, &Limits::default(), &LoadOptions::default()).expect("load")
}

fn trust_check(
    pkg: &Package,
    opts: &TrustOptions,
) -> (
    Vec<kbinspect::finding::Finding>,
    kbinspect::trust::package::TrustReport,
) {
    signature::check_trust(pkg, &LoadOptions::default(), opts)
}

fn errors(f: &[kbinspect::finding::Finding]) -> Vec<String> {
    f.iter()
        .filter(|f| f.severity == kbinspect::finding::Severity::Error)
        .map(|f| format!("{} {}: {}", f.code, f.subject, f.detail))
        .collect()
}

fn rel(p: &Path, base: &Path) -> String {
    p.strip_prefix(base)
        .map(|r| r.display().to_string())
        .unwrap_or_else(|_| p.file_name().unwrap().to_string_lossy().to_string())
}

#[test]
fn differential_every_signed_file_and_golden_figures() {
    let corpus = corpus_or_skip!("");
    if !common::have("osslsigncode") || !common::have("cabextract") {
        if std::env::var("KBINSPECT_REQUIRE_CORPUS").as_deref() == Ok("1") {
            panic!(
                "osslsigncode and cabextract are required (apt-get install osslsigncode cabextract)"
            );
        }
        eprintln!("SKIPPED: osslsigncode or cabextract not installed");
        return;
    }
    let roots = roots_pem(&corpus);
    let mut golden = String::new();
    let mut disagreements = Vec::new();
    let mut files_checked = 0;
    for rel_pkg in PACKAGES {
        let path = corpus.join(rel_pkg);
        let tmp = tempfile::tempdir().expect("tempdir");
        let files = signed_files(&path, tmp.path());
        // The model's view of the same package.
        let pkg = load(&path);
        let (findings, report) = trust_check(&pkg, &TrustOptions::default());
        let s = &report.summary;
        golden.push_str(&format!(
            "{rel_pkg}\n  signatures {}/{} verified; roots: {}; catalogs {}/{}; documents {}/{} covered; files {}/{} found ({} flat, {} PE); errors {}\n",
            s.signatures_verified,
            s.signatures,
            s.roots.join(", "),
            s.catalogs_verified,
            s.catalogs,
            s.documents_covered,
            s.documents,
            s.files_found,
            s.files,
            s.files_by_flat_hash,
            s.files_by_pe_hash,
            errors(&findings).iter().filter(|e| e.starts_with("trust-") || e.starts_with("catalog-") || e.starts_with("download-")).count(),
        ));
        assert_eq!(
            s.signatures,
            files.len(),
            "{rel_pkg}: the model saw {} signatures, the extracted tree has {} signed files",
            s.signatures,
            files.len()
        );
        for f in &files {
            let bytes = std::fs::read(f).expect("read");
            let name = if f == &path {
                rel_pkg.to_string()
            } else {
                rel(f, &tmp.path().join("x"))
            };
            let ours = report_of(&bytes, &name);
            let (ok, theirs) = oracle(f, &roots);
            files_checked += 1;
            if ours.verified() != ok || ours.computed_digest != theirs {
                disagreements.push(format!(
                    "{name}: ours {} {:?}, osslsigncode {} {:?}; {:?}",
                    ours.result,
                    ours.computed_digest,
                    ok,
                    theirs,
                    ours.all_problems()
                ));
            }
            golden.push_str(&format!(
                "  {} {} {} {}\n",
                ours.result,
                ours.digest_alg.as_deref().unwrap_or("-"),
                ours.computed_digest.as_deref().unwrap_or("-"),
                name
            ));
        }
    }
    assert!(
        disagreements.is_empty(),
        "{} of {files_checked} files disagree with osslsigncode:\n{}",
        disagreements.len(),
        disagreements.join("\n")
    );
    assert_eq!(files_checked, 497, "signed files in the 19 packages");
    let gpath = common::testdata().join("trust").join("corpus.txt");
    if std::env::var("KBINSPECT_BLESS").as_deref() == Ok("1") {
        std::fs::create_dir_all(gpath.parent().unwrap()).expect("mkdir");
        std::fs::write(&gpath, &golden).expect("write golden");
        return;
    }
    let want = std::fs::read_to_string(&gpath)
        .unwrap_or_else(|e| panic!("{}: {e} (bless with KBINSPECT_BLESS=1)", gpath.display()));
    assert!(
        want == golden,
        "{} differs (bless with KBINSPECT_BLESS=1 after checking):\n{golden}",
        gpath.display()
    );
}

/// Flip the byte at `at` of a copy of `bytes` in `dir/name`.
fn flipped(bytes: &[u8], at: usize, dir: &Path, name: &str) -> (PathBuf, Vec<u8>) {
    let mut b = bytes.to_vec();
    b[at] ^= 0x5a;
    let p = dir.join(name);
    std::fs::write(&p, &b).expect("write");
    (p, b)
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() {
        return None;
    }
    hay.windows(needle.len()).position(|w| w == needle)
}

#[test]
fn mutants_fail_in_both() {
    let corpus = corpus_or_skip!("");
    if !common::have("osslsigncode") || !common::have("cabextract") {
        eprintln!("SKIPPED: osslsigncode or cabextract not installed");
        return;
    }
    let roots = roots_pem(&corpus);
    let tmp = tempfile::tempdir().expect("tempdir");
    let x86 = corpus.join(X86);
    let old = corpus.join(PACKAGES[9]); // Windows6.1-KB2999226-x86: SHA-1 era
    let mut files = signed_files(&x86, &tmp.path().join("a"));
    files.extend(
        signed_files(&old, &tmp.path().join("b"))
            .into_iter()
            .filter(|p| p.to_string_lossy().ends_with("update.cat")),
    );
    let mut checked = 0;
    for f in &files {
        let bytes = std::fs::read(f).expect("read");
        let name = f.file_name().unwrap().to_string_lossy().to_string();
        let r = report_of(&bytes, &name);
        assert!(r.verified(), "{name}: {:?}", r.all_problems());
        let mut spots: Vec<(&str, usize)> = Vec::new();
        if let Some((sigpos, _)) = digest::cab_signature_range(&bytes) {
            spots.push(("signed range (setID)", 33));
            spots.push(("signed range (data)", sigpos as usize / 2));
        } else {
            // The CTL's list identifier, inside the signed content.
            let usage = [
                0x06, 0x0a, 0x2b, 0x06, 0x01, 0x04, 0x01, 0x82, 0x37, 0x0c, 0x01, 0x01,
            ];
            let at = find(&bytes, &usage).expect("CTL subject usage") + usage.len() + 2;
            spots.push(("signed range (CTL)", at));
        }
        let sig_at = find(&bytes, &r.signature_value).expect("signature value");
        spots.push(("signature value", sig_at + r.signature_value.len() / 2));
        let cert_at = find(&bytes, &r.signer_cert).expect("signer certificate");
        spots.push(("signer certificate", cert_at + r.signer_cert.len() / 2));
        for (what, at) in spots {
            let (p, b) = flipped(&bytes, at, tmp.path(), &format!("mut-{checked}-{name}"));
            let ours = report_of(&b, &name);
            let (ok, _) = oracle(&p, &roots);
            assert!(
                !ours.verified(),
                "{name}: byte flipped in the {what} still verifies for us"
            );
            assert!(
                !ok,
                "{name}: byte flipped in the {what} passes osslsigncode"
            );
            checked += 1;
        }
    }
    assert_eq!(checked, 33, "mutants");
}

#[test]
fn kb4538483_x86_whole_chain() {
    let path = corpus_or_skip!(X86);
    let pkg = load(&path);
    let (findings, r) = trust_check(&pkg, &TrustOptions::default());
    assert!(errors(&findings).is_empty(), "{:?}", errors(&findings));
    assert!(
        !findings.iter().any(|f| f.code.is_trust_unchecked()),
        "{findings:?}"
    );
    let s = &r.summary;
    // The MSU, the package CAB, WSUSSCAN.cab and the 6 catalogs. All chain
    // to Root CA 2010 (the catalogs through Windows Production PCA 2011,
    // which Root CA 2010 issued; osslsigncode shows the same chains).
    assert_eq!((s.signatures, s.signatures_verified), (9, 9));
    assert_eq!((s.catalogs, s.catalogs_verified), (6, 6));
    assert_eq!(s.roots, vec!["Microsoft Root Certificate Authority 2010"]);
    assert_eq!((s.documents, s.documents_covered), (42, 42));
    // With the PE transforms every file is rebuilt: sppobjs.dll, sppsvc.exe
    // and sppwinob.dll are found by their PE Authenticode hash.
    assert_eq!((s.files, s.files_found), (74, 74));
    assert_eq!((s.files_by_flat_hash, s.files_by_pe_hash), (71, 3));
    let pe: Vec<_> = r
        .files
        .iter()
        .filter(|f| f.by.is_some_and(|b| b.starts_with("pe-")))
        .collect();
    let mut names: Vec<&str> = pe
        .iter()
        .map(|f| f.subject.rsplit('/').next().unwrap())
        .collect();
    names.sort();
    assert_eq!(
        names,
        ["sppobjs.dll", "sppsvc.exe", "sppwinob.dll"],
        "{pe:?}"
    );
    for sig in &r.signatures {
        assert_eq!(sig.time_source, "timestamp", "{}", sig.file);
        assert!(sig.revocation.contains("not checked"));
        let t = sig.timestamp.as_ref().expect("timestamp");
        assert_eq!(t.kind, "rfc3161");
    }
    let msu = &r.signatures[0];
    assert_eq!(
        msu.computed_digest.as_deref(),
        Some("95c9419859cbb0ff05bac68c38a946378b88baf937a0b4754fe565a7ea57d2e8")
    );
    assert_eq!(
        msu.message_digest.as_deref(),
        Some("3b845a2b465a9fdd55232ecba0ec5eed652680191024ca0cc0fcdfd9fd0a1606")
    );
    assert_eq!(
        msu.timestamp.as_ref().and_then(|t| t.time.as_deref()),
        Some("2020-05-02T04:45:56Z")
    );
    assert_eq!(
        msu.chain.as_ref().map(|c| c.certs.clone()),
        Some(vec![
            "Microsoft Corporation".to_string(),
            "Microsoft Code Signing PCA 2010".to_string(),
            "Microsoft Root Certificate Authority 2010".to_string()
        ])
    );
    // Which catalog covers which document is in the report.
    let update = r
        .documents
        .iter()
        .find(|d| d.subject.ends_with("/update.mum"))
        .expect("update.mum");
    assert!(update.catalog.as_deref().unwrap().ends_with("update.cat"));
}

#[test]
fn tampered_flipped_byte_in_signed_cabinets_names_the_cabinet() {
    let path = corpus_or_skip!(X86);
    let tmp = tempfile::tempdir().expect("tempdir");
    let bytes = std::fs::read(&path).expect("read");
    // The MSU itself: the setID byte is inside the signed range.
    let (p, _) = flipped(&bytes, 33, tmp.path(), "tampered.msu");
    let (f, _) = trust_check(&load(&p), &TrustOptions::default());
    assert!(
        f.iter()
            .any(|f| f.code == "trust-digest-mismatch" && f.subject == p.display().to_string()),
        "{:?}",
        errors(&f)
    );
    // The package cabinet, as a cabinet of its own.
    if !common::have("cabextract") {
        return;
    }
    cabextract(&path, &tmp.path().join("x"));
    let inner = std::fs::read(tmp.path().join("x/Windows6.1-KB4538483-x86.cab")).expect("inner");
    let (p, _) = flipped(&inner, 33, tmp.path(), "Windows6.1-KB4538483-x86.cab");
    let (f, _) = trust_check(&load(&p), &TrustOptions::default());
    let e: Vec<_> = f
        .iter()
        .filter(|f| f.code == "trust-digest-mismatch")
        .collect();
    assert_eq!(e.len(), 1, "{:?}", errors(&f));
    assert_eq!(e[0].subject, p.display().to_string());
}

#[test]
fn tampered_catalog_and_manifest_are_named() {
    let path = corpus_or_skip!(X86);
    if !common::have("cabextract") {
        return;
    }
    let tmp = tempfile::tempdir().expect("tempdir");
    cabextract(&path, &tmp.path().join("x"));
    let dir = tmp.path().join("pkg");
    cabextract(&tmp.path().join("x/Windows6.1-KB4538483-x86.cab"), &dir);
    // A catalog listing a different hash for update.mum.
    let mum = std::fs::read(dir.join("update.mum")).expect("mum");
    let cat_path = dir.join("update.cat");
    let mut cat = std::fs::read(&cat_path).expect("cat");
    let sha256 = digest::Alg::Sha256.hash(&mum);
    let at = find(&cat, &sha256).expect("update.mum's SHA-256 in update.cat");
    cat[at] ^= 1;
    std::fs::write(&cat_path, &cat).expect("write");
    // An edited manifest.
    let manifest = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| {
            p.to_string_lossy().ends_with(
                "security-spp_31bf3856ad364e35_6.1.7601.24553_none_1cc5d7f6987451e4.manifest",
            )
        })
        .expect("manifest");
    let mut m = std::fs::read(&manifest).unwrap();
    m.extend_from_slice(b"\r\n");
    std::fs::write(&manifest, &m).unwrap();
    let (f, r) = trust_check(&load(&dir), &TrustOptions::default());
    let e = errors(&f);
    assert!(
        e.iter()
            .any(|e| e.starts_with("trust-message-digest") && e.contains("update.cat")),
        "{e:?}"
    );
    let missing: Vec<_> = f.iter().filter(|f| f.code == "catalog-missing").collect();
    assert_eq!(missing.len(), 2, "{e:?}");
    assert!(missing.iter().any(|f| f.subject.ends_with("update.mum")));
    let mf = missing
        .iter()
        .find(|f| f.subject.ends_with(".manifest"))
        .expect("the manifest");
    assert!(
        mf.detail.contains("package_") && mf.detail.contains(".cat"),
        "{}",
        mf.detail
    );
    assert_eq!(r.summary.catalogs_verified, 5);
}

#[test]
fn tampered_download_name() {
    let path = corpus_or_skip!(X86);
    let tmp = tempfile::tempdir().expect("tempdir");
    let good = load(&path);
    let (f, _) = trust_check(&good, &TrustOptions::default());
    assert!(!f.iter().any(|f| f.code == "download-name-mismatch"));
    let wrong = tmp
        .path()
        .join("windows6.1-kb4538483-x86_0123456789abcdef0123456789abcdef01234567.msu");
    std::fs::copy(&path, &wrong).expect("copy");
    let (f, _) = trust_check(&load(&wrong), &TrustOptions::default());
    let e: Vec<_> = f
        .iter()
        .filter(|f| f.code == "download-name-mismatch")
        .collect();
    assert_eq!(e.len(), 1, "{:?}", errors(&f));
    assert!(
        e[0].detail
            .contains("f77ee698928fb42232b70b01f53a4c5f68553323")
    );
    assert_eq!(
        kbinspect::trust::package::download_name_sha1(
            "a/b_F77EE698928FB42232B70B01F53A4C5F68553323.CAB"
        )
        .as_deref(),
        Some("f77ee698928fb42232b70b01f53a4c5f68553323")
    );
    assert_eq!(
        kbinspect::trust::package::download_name_sha1("a_123.msu"),
        None
    );
}

#[test]
fn untrusted_root_is_named_and_trust_root_adds_one() {
    let path = corpus_or_skip!(X86);
    let pkg = load(&path);
    // Only an unrelated root: the chain ends at Root CA 2010, untrusted.
    let mut store = RootStore::microsoft();
    store
        .roots
        .retain(|r| r.cert.subject == "Microsoft Root Authority");
    let opts = TrustOptions {
        store,
        now: trust::now(),
    };
    let (f, r) = trust_check(&pkg, &opts);
    let e: Vec<_> = f
        .iter()
        .filter(|f| f.code == "trust-untrusted-root")
        .collect();
    assert!(!e.is_empty());
    assert!(
        e.iter().all(|f| f
            .detail
            .contains("Microsoft Root Certificate Authority 2010")),
        "{e:?}"
    );
    assert_eq!(r.summary.signatures_verified, 0);
    // `--trust-root` with the one root, DER and PEM.
    let tmp = tempfile::tempdir().expect("tempdir");
    let root = RootStore::microsoft()
        .roots
        .into_iter()
        .find(|r| r.cert.subject == "Microsoft Root Certificate Authority 2010")
        .unwrap();
    let der = tmp.path().join("root.cer");
    std::fs::write(&der, &root.cert.der).unwrap();
    let mut store = RootStore::default();
    assert_eq!(store.add_file(&der), Ok(1));
    let (f, r) = trust_check(
        &pkg,
        &TrustOptions {
            store,
            now: trust::now(),
        },
    );
    assert!(errors(&f).is_empty(), "{:?}", errors(&f));
    assert_eq!(r.summary.signatures_verified, 9);
    // The CLI flag.
    let out = assert_cmd::Command::cargo_bin("kbinspect")
        .unwrap()
        .args(["verify", "--format", "json", "--trust-root"])
        .arg(&der)
        .arg(&path)
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(v["trust"]["summary"]["signatures_verified"], 9);
    assert_eq!(v["trust"]["signatures"].as_array().unwrap().len(), 9);
    assert_eq!(v["trust"]["catalogs"].as_array().unwrap().len(), 6);
}

#[test]
fn expired_signer_without_timestamp_fails() {
    use der::{Decode, Encode};
    let path = corpus_or_skip!(X86);
    let bytes = std::fs::read(&path).expect("read");
    let (sigpos, siglen) = digest::cab_signature_range(&bytes).expect("signed");
    let blob = &bytes[sigpos as usize..(sigpos + siglen) as usize];
    let der = kbinspect::trust::tlv::first_element(blob).unwrap();
    let mut ci = cms::content_info::ContentInfo::from_der(der).unwrap();
    let mut sd: cms::signed_data::SignedData = ci.content.decode_as().unwrap();
    // Drop the unsigned attributes (the RFC 3161 timestamp): the signature
    // still verifies, but the signer certificate expired in 2021.
    let mut sis = sd.signer_infos.0.into_vec();
    sis[0].unsigned_attrs = None;
    sd.signer_infos = cms::signed_data::SignerInfos::try_from(sis).unwrap();
    ci.content = der::Any::encode_from(&sd).unwrap();
    let mut new = ci.to_der().unwrap();
    assert!(new.len() <= blob.len());
    new.resize(blob.len(), 0);
    let mut out = bytes.clone();
    out[sigpos as usize..].copy_from_slice(&new);
    let r = report_of(&out, "no-timestamp.msu");
    assert!(r.timestamp.is_none());
    assert_eq!(r.time_source, "now");
    let codes: Vec<_> = r.all_problems().iter().map(|p| p.code).collect();
    assert!(codes.contains(&Code::TrustExpired), "{codes:?}");
    assert_eq!(r.result, "failed");
    // Judged at the signing day instead, it holds.
    let then = 1_588_394_756; // 2020-05-02T04:45:56Z
    let r = trust::verify_bytes(&out, "x", &RootStore::microsoft(), then).0;
    assert!(r.verified(), "{:?}", r.all_problems());
}

/// `osslsigncode verify -catalog CAT -in FILE` on the rebuilt payload files
/// that we found by their PE Authenticode hash (KB4538483 x86: sppobjs.dll),
/// and on every rebuilt PE file of the package: where osslsigncode finds a
/// file in its catalog, we found it too.
#[test]
fn rebuilt_payloads_against_osslsigncode_catalog() {
    let path = corpus_or_skip!(X86);
    if !common::have("osslsigncode") {
        eprintln!("SKIPPED: osslsigncode not installed");
        return;
    }
    let corpus = common::corpus().unwrap();
    let roots = roots_pem(&corpus);
    let pkg = load(&path);
    let (_, r) = trust_check(&pkg, &TrustOptions::default());
    let tmp = tempfile::tempdir().expect("tempdir");
    // The catalogs on disk.
    for m in pkg
        .members()
        .iter()
        .filter(|m| m.kind == kbinspect::model::MemberKind::Catalog)
    {
        let name = m.path.rsplit('/').next().unwrap();
        std::fs::write(tmp.path().join(name), m.bytes().unwrap()).unwrap();
    }
    // Every rebuilt PE file, with its proof.
    let mut want = std::collections::HashMap::new();
    for (ci, c) in pkg.components.iter().enumerate() {
        for (fi, f) in c.files.iter().enumerate() {
            let subject = format!("{}/{}", c.member, f.name);
            if let Some(p) = r.files.iter().find(|p| *p.subject == *subject) {
                want.insert((ci, fi), p.clone());
            }
        }
    }
    let mut outputs = Vec::new();
    pkg.rebuild_where(
        &LoadOptions::default(),
        &|ci, fi| want.contains_key(&(ci, fi)),
        &mut |ci, fi, res| {
            if let Ok(b) = res
                && b.starts_with(b"MZ")
            {
                outputs.push((want[&(ci, fi)].clone(), b.to_vec()));
            }
        },
    );
    assert!(!outputs.is_empty(), "no rebuilt PE file");
    let mut pe_found = 0;
    for (i, (proof, bytes)) in outputs.iter().enumerate() {
        let file = tmp
            .path()
            .join(format!("{i}-{}", proof.subject.rsplit('/').next().unwrap()));
        std::fs::write(&file, bytes).unwrap();
        let cat = tmp.path().join(
            proof
                .catalog
                .as_deref()
                .unwrap()
                .rsplit('/')
                .next()
                .unwrap(),
        );
        let out = Command::new("osslsigncode")
            .arg("verify")
            .arg("-catalog")
            .arg(&cat)
            .arg("-in")
            .arg(&file)
            .arg("-CAfile")
            .arg(&roots)
            .arg("-TSA-CAfile")
            .arg(&roots)
            .arg("-ignore-crl")
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        let ok = out.status.success() && text.lines().any(|l| l.trim() == "Succeeded");
        if proof.by.is_some_and(|b| b.starts_with("pe-")) {
            assert!(
                ok,
                "{}: osslsigncode does not find it in {}:\n{text}",
                proof.subject,
                cat.display()
            );
            pe_found += 1;
        }
        // A PE file that osslsigncode finds by its PE hash, we found too.
        if ok {
            assert!(proof.catalog.is_some(), "{}", proof.subject);
        }
    }
    assert_eq!(pe_found, 3);
}

/// Data hidden after the DER of a signature: the signature still verifies
/// (for osslsigncode too), and the trust check names the file and where
/// the hidden bytes start. In a cabinet the header's signature length is
/// raised to take them in (its digest skips that field and the area, so
/// nothing else notices); in a catalog they are appended.
#[test]
fn data_hidden_after_a_signature_is_named() {
    let path = corpus_or_skip!(X86);
    let tmp = tempfile::tempdir().expect("tempdir");
    let bytes = std::fs::read(&path).expect("read");
    let genuine = trust_check(&load(&path), &TrustOptions::default()).0;
    assert!(
        !genuine
            .iter()
            .any(|f| f.code == Code::TrustDataAfterSignature),
        "{genuine:?}"
    );
    let (sigpos, siglen) = digest::cab_signature_range(&bytes).expect("signed");
    assert_eq!(
        sigpos + siglen,
        bytes.len() as u64,
        "the signature ends the file"
    );
    let mut b = bytes.clone();
    // The reserve's signature length: offset 40 + 8.
    let len_at = 48;
    assert_eq!(
        u32::from_le_bytes(b[len_at..len_at + 4].try_into().unwrap()) as u64,
        siglen
    );
    b[len_at..len_at + 4].copy_from_slice(&(siglen as u32 + 64).to_le_bytes());
    b.extend(std::iter::repeat_n(0xA5u8, 64));
    let p = tmp.path().join("hidden.msu");
    std::fs::write(&p, &b).expect("write");
    let (f, r) = trust_check(&load(&p), &TrustOptions::default());
    assert!(errors(&f).is_empty(), "{:?}", errors(&f));
    assert_eq!(r.summary.signatures_verified, r.summary.signatures);
    let hidden: Vec<_> = f
        .iter()
        .filter(|f| f.code == Code::TrustDataAfterSignature)
        .collect();
    assert_eq!(hidden.len(), 1, "{f:?}");
    assert_eq!(hidden[0].severity, kbinspect::finding::Severity::Warning);
    assert_eq!(hidden[0].subject, p.display().to_string());
    assert!(
        hidden[0].detail.starts_with("64 of the ")
            && hidden[0]
                .detail
                .contains(&format!("at offset {} of the cabinet", bytes.len())),
        "{}",
        hidden[0].detail
    );
    if common::have("osslsigncode") {
        let (ok, _) = oracle(&p, &roots_pem(&common::corpus().expect("corpus")));
        assert!(ok, "osslsigncode also takes the signature as valid");
    }

    // A catalog with bytes appended, in an unpacked package.
    if !common::have("cabextract") {
        return;
    }
    cabextract(&path, &tmp.path().join("x"));
    let dir = tmp.path().join("pkg");
    cabextract(&tmp.path().join("x/Windows6.1-KB4538483-x86.cab"), &dir);
    let cat_path = dir.join("update.cat");
    let mut cat = std::fs::read(&cat_path).expect("cat");
    let cat_len = cat.len();
    cat.extend_from_slice(b"\0\0hidden");
    std::fs::write(&cat_path, &cat).expect("write");
    let (f, r) = trust_check(&load(&dir), &TrustOptions::default());
    assert!(errors(&f).is_empty(), "{:?}", errors(&f));
    assert_eq!(r.summary.catalogs_verified, r.summary.catalogs);
    let hidden: Vec<_> = f
        .iter()
        .filter(|f| f.code == Code::TrustDataAfterSignature)
        .collect();
    assert_eq!(hidden.len(), 1, "{f:?}");
    assert!(
        hidden[0].subject.ends_with("update.cat"),
        "{}",
        hidden[0].subject
    );
    assert!(
        hidden[0].detail.starts_with("6 of the 8 bytes")
            && hidden[0]
                .detail
                .contains(&format!("at offset {} of the catalog", cat_len + 2)),
        "{}",
        hidden[0].detail
    );
}

/// An unsigned attribute that no check reads: a real catalog whose
/// timestamp attribute is given another type (one byte of its OID, the
/// same length, so nothing else moves) still verifies its signature, and
/// the trust check names the attribute no check read.
#[test]
fn unused_unsigned_attribute_is_named() {
    let path = corpus_or_skip!(X86);
    if !common::have("cabextract") {
        return;
    }
    let tmp = tempfile::tempdir().expect("tempdir");
    cabextract(&path, &tmp.path().join("x"));
    let dir = tmp.path().join("pkg");
    cabextract(&tmp.path().join("x/Windows6.1-KB4538483-x86.cab"), &dir);
    let cat_path = dir.join("update.cat");
    let cat = std::fs::read(&cat_path).expect("cat");
    let genuine = report_of(&cat, "update.cat");
    assert!(genuine.verified(), "{:?}", genuine.all_problems());
    assert!(genuine.timestamp.is_some());
    assert!(
        genuine.unused_unsigned.is_empty(),
        "{:?}",
        genuine.unused_unsigned
    );
    // The timestamp attribute's type: RFC 3161 (1.3.6.1.4.1.311.3.3.1) or
    // a countersignature (1.2.840.113549.1.9.6), the last one in the file.
    let rfc3161 = [
        0x06, 0x0a, 0x2b, 0x06, 0x01, 0x04, 0x01, 0x82, 0x37, 0x03, 0x03, 0x01,
    ];
    let counter = [
        0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x06,
    ];
    let last = |needle: &[u8]| cat.windows(needle.len()).rposition(|w| w == needle);
    let (at, oid) = match (last(&rfc3161), last(&counter)) {
        (Some(at), _) => (at + rfc3161.len() - 1, "1.3.6.1.4.1.311.3.3.2"),
        (None, Some(at)) => (at + counter.len() - 1, "1.2.840.113549.1.9.7"),
        (None, None) => panic!("no timestamp attribute in update.cat"),
    };
    let mut b = cat.clone();
    b[at] += 1;
    let r = report_of(&b, "update.cat");
    assert!(
        r.timestamp.is_none(),
        "the renamed attribute is no timestamp"
    );
    assert_eq!(r.unused_unsigned.len(), 1, "{:?}", r.unused_unsigned);
    assert_eq!(r.unused_unsigned[0].0, oid);
    assert!(r.unused_unsigned[0].1 > 100, "{:?}", r.unused_unsigned);
    std::fs::write(&cat_path, &b).expect("write");
    let (f, _) = trust_check(&load(&dir), &TrustOptions::default());
    let named: Vec<_> = f
        .iter()
        .filter(|f| f.code == Code::TrustUnusedUnsignedAttribute)
        .collect();
    assert_eq!(named.len(), 1, "{f:?}");
    assert_eq!(named[0].severity, kbinspect::finding::Severity::Warning);
    assert!(
        named[0].subject.ends_with("update.cat"),
        "{}",
        named[0].subject
    );
    assert!(named[0].detail.contains(oid), "{}", named[0].detail);
}
