//! Every real Microsoft package of the corpus, through every command, and
//! tampered copies of them built here.
//!
//! - `verify`, `list`, `ls --test` and `diff` run on each of the 19 real
//!   packages (named one by one: the corpus grows). None gets `fail`, none
//!   gets an error finding, and each package's verdict and proof counts
//!   equal `testdata/real/verify-real.json` (regenerate with
//!   `KBINSPECT_UPDATE_GOLDEN=1`), so any change shows in review.
//! - Tampered copies of KB4538483 (a manifest edited with its index entry
//!   updated, a delta blob replaced, a member renamed, a stored payload
//!   shadowing the index, the signature zeroed) each get `fail`, naming
//!   what changed.
//! - An empty folder, bare non-servicing cabinets and a random file never
//!   get `pass`.

use crate::common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::Value;

/// The real packages, relative to the corpus.
const REAL: &[&str] = &[
    "kb4538483-esu-msu/windows6.1-kb4538483-x86_f77ee698928fb42232b70b01f53a4c5f68553323.msu",
    "kb4538483-x64-msu/windows6.1-kb4538483-x64_3e861ae5fe3f6b3c9d185decbd96a436ca0c5035.msu",
    "real-cab/gwblok-garytown/SoftwareUpdates/Windows10.0-KB4517245-x64.cab",
    "real-cab/gwblok-garytown/SoftwareUpdates/Windows10.0-KB5003791-x64.cab",
    "real-cab/gwblok-garytown/SoftwareUpdates/Windows11.0-kb5027397-x64.cab",
    "real-msu/afiqmnsor-22h2/windows10.0-kb5015684-x64_523c039b86ca98f2d818c4e6706e2cc94b634c4a.msu",
    "real-msu/soda92-win7-remote-debug/Windows6.1-KB3004394-v2-x64.msu",
    "real-msu/soda92-win7-remote-debug/Windows6.1-KB3063858-x64.msu",
    "real-msu/takluyver-pynsist-msvcrt-tag1/x64/Windows6.0-KB2999226-x64.msu",
    "real-msu/takluyver-pynsist-msvcrt-tag1/x64/Windows6.1-KB2999226-x64.msu",
    "real-msu/takluyver-pynsist-msvcrt-tag1/x64/Windows8-RT-KB2999226-x64.msu",
    "real-msu/takluyver-pynsist-msvcrt-tag1/x64/Windows8.1-KB2999226-x64.msu",
    "real-msu/takluyver-pynsist-msvcrt-tag1/x86/Windows6.0-KB2999226-x86.msu",
    "real-msu/takluyver-pynsist-msvcrt-tag1/x86/Windows6.1-KB2999226-x86.msu",
    "real-msu/takluyver-pynsist-msvcrt-tag1/x86/Windows8-RT-KB2999226-x86.msu",
    "real-msu/takluyver-pynsist-msvcrt-tag1/x86/Windows8.1-KB2999226-x86.msu",
    "real-msu/w16073888-car-datamanageing/Windows6.1-KB2999226-x64.msu",
    "real-msu/w16073888-car-datamanageing/Windows6.1-KB3118401-x64.msu",
    "real-msu/xxlmandalorian013-powershellscripts/windows10.0-kb4589210-v2-x64_bbbf54336d6e22da5de8d63891401d8f6077d2ce.msu",
];

const KB4538483_X86: &str =
    "kb4538483-esu-msu/windows6.1-kb4538483-x86_f77ee698928fb42232b70b01f53a4c5f68553323.msu";

fn kbinspect(args: &[&std::ffi::OsStr]) -> std::process::Output {
    assert_cmd::Command::cargo_bin("kbinspect")
        .unwrap()
        .args(args)
        .output()
        .unwrap()
}

fn os(s: &str) -> &std::ffi::OsStr {
    std::ffi::OsStr::new(s)
}

/// `verify --format json` of `input` (extra flags first): (exit code, JSON).
fn verify(input: &Path, extra: &[&str]) -> (i32, Value) {
    let mut args: Vec<&std::ffi::OsStr> = vec![os("verify"), os("--format"), os("json")];
    args.extend(extra.iter().map(|s| os(s)));
    args.push(input.as_os_str());
    let out = kbinspect(&args);
    let v: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{}: {e}\n{}",
            input.display(),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (out.status.code().unwrap_or(-1), v)
}

fn errors(v: &Value) -> Vec<String> {
    v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["severity"] == "error")
        .map(|f| format!("{} {} {}", f["code"], f["subject"], f["detail"]))
        .collect()
}

fn has_error(v: &Value, code: &str, subject_part: &str) -> bool {
    v["findings"].as_array().unwrap().iter().any(|f| {
        f["severity"] == "error"
            && f["code"] == code
            && f["subject"].as_str().unwrap().contains(subject_part)
    })
}

#[test]
fn every_real_package_through_every_command() {
    let Some(corpus) = common::corpus() else {
        return;
    };
    let mut golden: BTreeMap<String, Value> = BTreeMap::new();
    for rel in REAL {
        let pkg = corpus.join(rel);
        assert!(
            pkg.is_file(),
            "{} is missing from the corpus",
            pkg.display()
        );
        let (code, v) = verify(&pkg, &[]);
        assert_ne!(v["verdict"], "fail", "{rel}: {:#?}", errors(&v));
        assert_eq!(errors(&v), Vec::<String>::new(), "{rel}");
        assert_eq!(code, 0, "{rel}");
        let c = &v["coverage"];
        // The counts add up, and every file has exactly one proof.
        let declared = c["files_declared"].as_u64().unwrap();
        assert_eq!(v["files"].as_array().unwrap().len() as u64, declared);
        assert_eq!(
            c["stored_digest"].as_u64().unwrap()
                + c["rebuilt_digest"].as_u64().unwrap()
                + c["index_only"].as_u64().unwrap()
                + c["unproven"].as_u64().unwrap(),
            declared,
            "{rel}"
        );
        // Incomplete means something is listed as unproven, with a reason.
        if v["verdict"] == "incomplete" {
            let u = v["unproven"].as_array().unwrap();
            assert!(!u.is_empty(), "{rel}");
            assert!(u.iter().all(|x| !x["reason"].as_str().unwrap().is_empty()));
        }
        let key = rel.to_string();
        golden.insert(
            key,
            serde_json::json!({
                "verdict": v["verdict"],
                "files_declared": c["files_declared"],
                "files_proven": c["files_proven"],
                "stored_digest": c["stored_digest"],
                "rebuilt_digest": c["rebuilt_digest"],
                "index_only": c["index_only"],
                "unproven": c["unproven"],
                "catalogs": c["catalogs"],
                "signatures": c["signatures"],
                "signatures_verified": c["signatures_verified"],
                "warnings": v["summary"]["warnings"],
            }),
        );

        // `list` and `ls --test` read it whole without an error finding.
        let out = kbinspect(&[os("list"), os("--format"), os("json"), pkg.as_os_str()]);
        assert_eq!(out.status.code(), Some(0), "list {rel}");
        let l: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert!(!l["components"].as_array().unwrap().is_empty(), "{rel}");
        let out = kbinspect(&[
            os("ls"),
            os("--test"),
            os("--format"),
            os("json"),
            pkg.as_os_str(),
        ]);
        assert_eq!(out.status.code(), Some(0), "ls --test {rel}");
        let l: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert!(
            l["members"]
                .as_array()
                .unwrap()
                .iter()
                .all(|m| m["sha256"].is_string()),
            "{rel}: a member did not decode"
        );
        // A package against itself: no differences, exit 0.
        let out = kbinspect(&[
            os("diff"),
            os("--format"),
            os("json"),
            pkg.as_os_str(),
            pkg.as_os_str(),
        ]);
        assert_eq!(out.status.code(), Some(0), "diff {rel} {rel}");
        let d: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(d["changes"].as_array().unwrap().len(), 0, "{rel}");
    }
    let text = serde_json::to_string_pretty(&golden).unwrap() + "\n";
    let path = common::testdata().join("real/verify-real.json");
    if std::env::var("KBINSPECT_UPDATE_GOLDEN").as_deref() == Ok("1") {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, &text).unwrap();
    }
    let want = std::fs::read_to_string(&path).unwrap_or_default();
    assert_eq!(
        text, want,
        "verdicts or counts of the real packages changed; rerun with KBINSPECT_UPDATE_GOLDEN=1 if intended"
    );
}

/// The two builds of KB2999226 for Windows 7 x64 differ, and `diff` says so.
#[test]
fn two_builds_of_one_hotfix_differ() {
    let Some(corpus) = common::corpus() else {
        return;
    };
    let a = corpus.join("real-msu/takluyver-pynsist-msvcrt-tag1/x64/Windows6.1-KB2999226-x64.msu");
    let b = corpus.join("real-msu/w16073888-car-datamanageing/Windows6.1-KB2999226-x64.msu");
    let out = kbinspect(&[
        os("diff"),
        os("--format"),
        os("json"),
        a.as_os_str(),
        b.as_os_str(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    let d: Value = serde_json::from_slice(&out.stdout).unwrap();
    let kinds: std::collections::BTreeSet<&str> = d["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["kind"].as_str().unwrap())
        .collect();
    assert!(kinds.contains("component-version-changed"), "{kinds:?}");
    assert!(kinds.contains("file-digest-changed"), "{kinds:?}");
}

/// KB4538483 x86 extracted with our own `extract` into a temporary folder.
fn extracted_kb4538483(corpus: &Path) -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("pkg");
    let o = kbinspect(&[
        os("extract"),
        corpus.join(KB4538483_X86).as_os_str(),
        os("-o"),
        out.as_os_str(),
    ]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stdout)
    );
    let cab = out.join("Windows6.1-KB4538483-x86.cab");
    (tmp, cab)
}

fn sha256_hex(b: &[u8]) -> String {
    use sha2::Digest as _;
    hex::encode(sha2::Sha256::digest(b))
}

fn sha1_hex(b: &[u8]) -> String {
    use sha1::Digest as _;
    hex::encode(sha1::Sha1::digest(b))
}

/// Replace, in the index entry (`<File … name="…">…</File>`) named `name`,
/// every hash value `old` by `new` and the length `old_len` by `new_len`.
fn edit_index_entry(cab: &Path, name: &str, edits: &[(&str, &str)]) {
    let ix = cab.join("_manifest_.cix.xml");
    let text = std::fs::read_to_string(&ix).unwrap();
    let start = text
        .find(&format!("name=\"{name}\""))
        .unwrap_or_else(|| panic!("{name} not in the index"));
    let start = text[..start].rfind("<File ").unwrap();
    let end = start + text[start..].find("</File>").unwrap();
    let mut entry = text[start..end].to_string();
    for (old, new) in edits {
        assert!(entry.contains(old), "{old} not in {entry}");
        entry = entry.replace(old, new);
    }
    let text = format!("{}{}{}", &text[..start], entry, &text[end..]);
    std::fs::write(ix, text).unwrap();
}

/// A component manifest of KB4538483 that installs a file into System32.
fn system32_manifest(cab: &Path) -> PathBuf {
    let mut names: Vec<PathBuf> = std::fs::read_dir(cab)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "manifest"))
        .collect();
    names.sort();
    names
        .into_iter()
        .find(|p| {
            std::fs::read_to_string(p)
                .unwrap()
                .contains("destinationPath=\"$(runtime.system32)\\\"")
        })
        .expect("a manifest installing into System32")
}

/// The manifest edit of the issue: a file moved to System32\drivers, the
/// manifest's SHA-256 and length in the container index updated to match.
/// The catalogs do not list the edited manifest.
#[test]
fn tampered_manifest_with_index_updated_fails() {
    let Some(corpus) = common::corpus() else {
        return;
    };
    let (_tmp, cab) = extracted_kb4538483(&corpus);
    let (code, v) = verify(cab.parent().unwrap(), &[]);
    assert_eq!(errors(&v), Vec::<String>::new());
    assert_eq!(code, 0);

    let m = system32_manifest(&cab);
    let old = std::fs::read(&m).unwrap();
    let new = String::from_utf8(old.clone()).unwrap().replacen(
        "destinationPath=\"$(runtime.system32)\\\"",
        "destinationPath=\"$(runtime.system32)\\drivers\\\"",
        1,
    );
    std::fs::write(&m, &new).unwrap();
    let name = m.file_name().unwrap().to_str().unwrap().to_string();
    let mut edits = vec![(
        format!("length=\"{}\"", old.len()),
        format!("length=\"{}\"", new.len()),
    )];
    for (o, n) in [
        (sha256_hex(&old), sha256_hex(new.as_bytes())),
        (sha1_hex(&old), sha1_hex(new.as_bytes())),
    ] {
        let text = std::fs::read_to_string(cab.join("_manifest_.cix.xml")).unwrap();
        if text.contains(&o) || text.contains(&o.to_uppercase()) {
            let o = if text.contains(&o) {
                o
            } else {
                o.to_uppercase()
            };
            edits.push((o, n));
        }
    }
    let edits: Vec<(&str, &str)> = edits
        .iter()
        .map(|(a, b)| (a.as_str(), b.as_str()))
        .collect();
    edit_index_entry(&cab, &name, &edits);

    let (code, v) = verify(cab.parent().unwrap(), &[]);
    assert_eq!(v["verdict"], "fail");
    assert_eq!(code, 1);
    assert!(
        has_error(&v, "catalog-unlisted", &name),
        "{:#?}",
        errors(&v)
    );
    // The index agrees with the edited manifest: the catalog is what tells.
    assert!(
        !has_error(&v, "index-hash-mismatch", &name),
        "{:#?}",
        errors(&v)
    );
}

/// A delta blob replaced by another well-formed delta of the package, the
/// index's hash of the blob (and its length) updated: the delta rebuilds
/// exactly what its own header hash promises, and that contradicts the
/// index and the manifest. Blob `0` (file 26, a 16,529-byte license) and
/// blob `14` (file 29, 12,007 bytes) are both source-less RAW deltas.
#[test]
fn replaced_delta_fails() {
    let Some(corpus) = common::corpus() else {
        return;
    };
    let (_tmp, cab) = extracted_kb4538483(&corpus);
    let a_bytes = std::fs::read(cab.join("0")).unwrap();
    let b_bytes = std::fs::read(cab.join("14")).unwrap();
    std::fs::write(cab.join("0"), &b_bytes).unwrap();
    let index = std::fs::read_to_string(cab.join("_manifest_.cix.xml")).unwrap();
    let at = index.find("<Source type=\"PA30\" name=\"0\"").unwrap();
    let start = index[..at].rfind("<File ").unwrap();
    let end = at + index[at..].find("</File>").unwrap();
    let (ha, hb) = (sha256_hex(&a_bytes), sha256_hex(&b_bytes));
    let entry = index[start..end]
        .replace(&ha, &hb)
        .replace(&ha.to_uppercase(), &hb.to_uppercase())
        .replace("length=\"16529\"", "length=\"12007\"");
    assert_ne!(entry, index[start..end], "the blob's hash is in its entry");
    std::fs::write(
        cab.join("_manifest_.cix.xml"),
        format!("{}{entry}{}", &index[..start], &index[end..]),
    )
    .unwrap();
    let (code, v) = verify(cab.parent().unwrap(), &[]);
    assert_eq!(v["verdict"], "fail", "{:#?}", errors(&v));
    assert_eq!(code, 1);
    assert!(
        has_error(
            &v,
            "delta-rebuild-mismatch",
            "ESU-Year2-VL-DMAK-ul-phn.xrm-ms"
        ),
        "{:#?}",
        errors(&v)
    );
    // `diff` against the genuine package sees what the file now is.
    let (_tmp2, genuine) = extracted_kb4538483(&corpus);
    let out = kbinspect(&[
        os("diff"),
        os("--format"),
        os("json"),
        genuine.parent().unwrap().as_os_str(),
        cab.parent().unwrap().as_os_str(),
    ]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

/// A member renamed: the blob the index names is gone.
#[test]
fn renamed_member_fails() {
    let Some(corpus) = common::corpus() else {
        return;
    };
    let (_tmp, cab) = extracted_kb4538483(&corpus);
    std::fs::rename(cab.join("12"), cab.join("12.renamed")).unwrap();
    let (code, v) = verify(cab.parent().unwrap(), &[]);
    assert_eq!(v["verdict"], "fail");
    assert_eq!(code, 1);
    assert!(
        errors(&v)
            .iter()
            .any(|e| e.contains("delta-blob-missing") && e.contains("\\\"12\\\"")),
        "{:#?}",
        errors(&v)
    );
}

/// Issue 17, attack 4: attacker bytes stored beside the manifest, the
/// manifest's digest and the index's target hash updated to match. The
/// index's delta still rebuilds the genuine file: two sources disagree.
#[test]
fn stored_file_shadowing_the_index_fails() {
    let Some(corpus) = common::corpus() else {
        return;
    };
    let (_tmp, cab) = extracted_kb4538483(&corpus);
    // sppobjs.dll: a rebuilt PE of the package.
    let m = std::fs::read_dir(&cab)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| {
            p.extension().is_some_and(|e| e == "manifest")
                && std::fs::read_to_string(p)
                    .unwrap()
                    .contains("name=\"sppobjs.dll\"")
        })
        .expect("the sppobjs.dll manifest");
    let keyform = m.file_stem().unwrap().to_str().unwrap().to_string();
    let text = std::fs::read_to_string(&m).unwrap();
    let evil = b"MZ attacker bytes".to_vec();
    std::fs::create_dir_all(cab.join(&keyform)).unwrap();
    std::fs::write(cab.join(&keyform).join("sppobjs.dll"), &evil).unwrap();
    // The declared digest (base64 SHA-256 in the manifest) and the index's
    // target hash of the file, both moved to the attacker's bytes.
    let index = std::fs::read_to_string(cab.join("_manifest_.cix.xml")).unwrap();
    let entry_name = format!("{keyform}\\sppobjs.dll");
    let at = index.find(&format!("name=\"{entry_name}\"")).unwrap();
    let entry = &index[at..at + index[at..].find("</File>").unwrap()];
    let target_hash = entry
        .split("value=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_string();
    let old_digest = {
        use base64::Engine as _;
        base64::engine::general_purpose::STANDARD.encode(hex::decode(&target_hash).unwrap())
    };
    let new_digest = {
        use base64::Engine as _;
        use sha2::Digest as _;
        base64::engine::general_purpose::STANDARD.encode(sha2::Sha256::digest(&evil))
    };
    assert!(
        text.contains(&old_digest),
        "digest {old_digest} not in the manifest"
    );
    std::fs::write(&m, text.replace(&old_digest, &new_digest)).unwrap();
    edit_index_entry(
        &cab,
        &entry_name,
        &[(&target_hash, &sha256_hex(&evil).to_uppercase())],
    );
    let (code, v) = verify(cab.parent().unwrap(), &[]);
    assert_eq!(v["verdict"], "fail");
    assert_eq!(code, 1);
    assert!(
        has_error(&v, "source-disagreement", "sppobjs.dll"),
        "{:#?}",
        errors(&v)
    );
}

/// The MSU's signature blob zeroed: present, but not a signature.
#[test]
fn zeroed_signature_fails() {
    let Some(corpus) = common::corpus() else {
        return;
    };
    let src = corpus.join(KB4538483_X86);
    let out = kbinspect(&[os("ls"), os("--format"), os("json"), src.as_os_str()]);
    let l: Value = serde_json::from_slice(&out.stdout).unwrap();
    let sig = &l["containers"][0]["signature"];
    let (off, size) = (
        sig["offset"].as_u64().unwrap() as usize,
        sig["size"].as_u64().unwrap() as usize,
    );
    let mut bytes = std::fs::read(&src).unwrap();
    bytes[off..off + size].fill(0);
    let tmp = tempfile::tempdir().unwrap();
    let msu = tmp.path().join("zeroed.msu");
    std::fs::write(&msu, bytes).unwrap();
    let (code, v) = verify(&msu, &[]);
    assert_eq!(v["verdict"], "fail", "{:#?}", v["findings"]);
    assert_eq!(code, 1);
}

/// Nothing to check is not a pass: an empty folder and bare cabinets of
/// other files are no update package (exit 2, no verdict: the JSON report
/// says so with `"verdict": null` and the error; the library still reports
/// them as `no-package-metadata`).
#[test]
fn nothing_to_check_never_passes() {
    let tmp = tempfile::tempdir().unwrap();
    let empty = tmp.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    let cabs = common::testdata().join("cabs");
    for input in [
        empty.clone(),
        cabs.join("gcab-mszip.cab"),
        cabs.join("gcab-stored.cab"),
    ] {
        let out = kbinspect(&[os("verify"), os("--format"), os("json"), input.as_os_str()]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{}: {err}", input.display());
        assert!(err.contains("no update package found in"), "{err}");
        let v: Value = serde_json::from_slice(&out.stdout).expect("a JSON report");
        assert!(v["verdict"].is_null(), "{v}");
        assert!(
            v["error"]
                .as_str()
                .is_some_and(|e| e.contains("no update package found in")),
            "{v}"
        );
        let pkg = kbinspect::model::Package::load(&input, &Default::default()).unwrap();
        let findings = kbinspect::check::integrity::check(&pkg);
        assert!(
            findings.iter().any(|f| f.code == "no-package-metadata"),
            "{}",
            input.display()
        );
    }
    // A random file is not even a package: exit 2, no verdict.
    let random = tmp.path().join("random.msu");
    let bytes: Vec<u8> = (0..4096u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    std::fs::write(&random, bytes).unwrap();
    let out = kbinspect(&[os("verify"), random.as_os_str()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(!String::from_utf8_lossy(&out.stdout).contains("PASS"));
}

/// Batch verify: every real package in one run, one summary row each, the
/// totals last; an unreadable one makes the exit code 2.
#[test]
fn batch_verify_of_the_real_packages() {
    let Some(corpus) = common::corpus() else {
        return;
    };
    let paths: Vec<PathBuf> = REAL.iter().map(|r| corpus.join(r)).collect();
    let mut args: Vec<&std::ffi::OsStr> = vec![os("verify"), os("--format"), os("json")];
    args.extend(paths.iter().map(|p| p.as_os_str()));
    let out = kbinspect(&args);
    assert_eq!(out.status.code(), Some(0));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let packages = v["packages"].as_array().unwrap();
    assert_eq!(packages.len(), REAL.len());
    let golden: Value = serde_json::from_str(
        &std::fs::read_to_string(common::testdata().join("real/verify-real.json")).unwrap(),
    )
    .unwrap();
    for (rel, p) in REAL.iter().zip(packages) {
        assert_eq!(p["verdict"], golden[rel]["verdict"], "{rel}");
        assert_eq!(
            p["coverage"]["files_proven"], golden[rel]["files_proven"],
            "{rel}"
        );
    }
    // Table: one row per package and the totals; --strict and an unreadable
    // input raise the exit code.
    let mut args: Vec<&std::ffi::OsStr> = vec![os("verify"), os("--strict")];
    args.extend(paths.iter().map(|p| p.as_os_str()));
    let out = kbinspect(&args);
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.trim_end()
            .ends_with("19 packages: 17 pass, 2 incomplete, 0 fail, 0 unreadable"),
        "{text}"
    );
    args.push(os("/nonexistent/kbinspect.msu"));
    let out = kbinspect(&args);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stdout).contains("UNREADABLE"));
}

/// `--quiet` prints the verdict line alone; `--fail-on info` makes any
/// finding fatal (KB3063858 has 9 `delta-not-expanded` infos).
#[test]
fn quiet_and_fail_on() {
    let Some(corpus) = common::corpus() else {
        return;
    };
    let p = corpus.join("real-msu/soda92-win7-remote-debug/Windows6.1-KB3063858-x64.msu");
    let out = kbinspect(&[os("verify"), os("-q"), p.as_os_str()]);
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8(out.stdout).unwrap();
    assert_eq!(text.lines().count(), 1, "{text}");
    assert!(
        text.starts_with("INCOMPLETE: 135 of 144 files proven"),
        "{text}"
    );
    let out = kbinspect(&[
        os("verify"),
        os("-q"),
        os("--fail-on"),
        os("info"),
        p.as_os_str(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    let out = kbinspect(&[
        os("verify"),
        os("-q"),
        os("--fail-on"),
        os("warning"),
        p.as_os_str(),
    ]);
    assert_eq!(out.status.code(), Some(0));
}

/// The integrity check on a load that keeps no catalogs (as `list` and
/// `diff` load): Windows 8.1's package keeps one catalog, which an index
/// names as a delta source, and not the three others. A document those
/// list cannot be told from an edited one: a warning naming a catalog not
/// read, never the `catalog-unlisted` error of a document changed after
/// signing. With every catalog read, no such finding at all.
#[test]
fn documents_of_catalogs_not_read_are_not_errors() {
    use kbinspect::check::integrity;
    use kbinspect::container::Limits;
    use kbinspect::finding::{Code, Severity};
    use kbinspect::model::{LoadOptions, Package};
    let Some(corpus) = common::corpus() else {
        return;
    };
    let p = corpus.join("real-msu/takluyver-pynsist-msvcrt-tag1/x64/Windows8.1-KB2999226-x64.msu");
    let unlisted = |keep_trust: bool| {
        let opts = LoadOptions {
            keep_trust,
            ..LoadOptions::default()
        };
        let pkg = Package::load_with(&p, &Limits::default(), &opts).unwrap();
        let (findings, _) = integrity::check_with_stats(&pkg);
        findings
            .into_iter()
            .filter(|f| f.code == Code::CatalogUnlisted)
            .map(|f| (f.severity, f.detail))
            .collect::<Vec<_>>()
    };
    let partial = unlisted(false);
    assert!(!partial.is_empty(), "one catalog kept of four");
    for (severity, detail) in &partial {
        assert_eq!(*severity, Severity::Warning, "{detail}");
        assert!(detail.contains("a catalog that was not read"), "{detail}");
    }
    assert_eq!(unlisted(true), vec![]);
}

/// One byte flipped anywhere in the signed bytes of a real MSU (all of it
/// but the header's `reserved1` field and the signature area, which
/// Authenticode leaves out) never passes: 48 places picked by a fixed
/// generator, each `fail`, or no verdict when the flip makes a nested
/// cabinet declare more than a limit allows. The sweep over all 19
/// packages is in docs/hostile-input.md.
#[test]
fn one_byte_flipped_in_the_signed_bytes_never_passes() {
    let src = corpus_or_skip!(
        "kb4538483-esu-msu/windows6.1-kb4538483-x86_f77ee698928fb42232b70b01f53a4c5f68553323.msu"
    );
    let bytes = std::fs::read(&src).unwrap();
    let (sigpos, _) = kbinspect::trust::digest::cab_signature_range(&bytes).expect("signed");
    let tmp = tempfile::tempdir().unwrap();
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    for i in 0..48 {
        // xorshift64*
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        let r = x.wrapping_mul(0x2545_F491_4F6C_DD1D);
        // Past the signature and reserved1 ([4, 8)), before the signature.
        let at = 8 + (r % (sigpos - 8)) as usize;
        let flip = ((r >> 56) as u8) | 1;
        let mut b = bytes.clone();
        b[at] ^= flip;
        let p = tmp.path().join(format!("flip{i}.msu"));
        std::fs::write(&p, &b).unwrap();
        let (code, v) = verify(&p, &[]);
        let verdict = v["verdict"].as_str().unwrap_or("none").to_string();
        assert!(
            (verdict == "fail" && code == 1) || (v["verdict"].is_null() && code == 2),
            "byte {at} ^ {flip:#04x}: {verdict} (exit {code})"
        );
        *counts.entry(verdict).or_default() += 1;
        std::fs::remove_file(&p).unwrap();
    }
    assert!(counts.get("fail").copied().unwrap_or(0) >= 40, "{counts:?}");
}
