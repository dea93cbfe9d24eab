//! Finding codes that the real packages do not produce, each from a small
//! in-memory package (`Package::from_members`) built to trigger it.

use base64::Engine as _;
use sha2::Digest as _;

use kbinspect::check::integrity;
use kbinspect::finding::{Finding, Severity};
use kbinspect::model::{LoadOptions, Package};
use kbinspect::servicing::identity::Identity;

fn identity(name: &str) -> Identity {
    Identity {
        name: name.into(),
        version: "1.0.0.0".into(),
        processor_architecture: "amd64".into(),
        language: "neutral".into(),
        public_key_token: "31bf3856ad364e35".into(),
        version_scope: "nonSxS".into(),
        ..Default::default()
    }
}

fn id_attrs(name: &str) -> String {
    format!(
        r#"name="{name}" version="1.0.0.0" processorArchitecture="amd64" language="neutral" publicKeyToken="31bf3856ad364e35" versionScope="nonSxS""#
    )
}

fn manifest(name: &str, files: &[(&str, &[u8])]) -> Vec<u8> {
    let mut s = format!(
        r#"<assembly xmlns="urn:schemas-microsoft-com:asm.v3"><assemblyIdentity {}/>"#,
        id_attrs(name)
    );
    for (f, bytes) in files {
        let b64 = base64::engine::general_purpose::STANDARD.encode(sha2::Sha256::digest(bytes));
        s.push_str(&format!(
            r#"<file name="{f}" destinationPath="$(runtime.windows)\"><hash xmlns="urn:schemas-microsoft-com:asm.v2"><DigestMethod xmlns="http://www.w3.org/2000/09/xmldsig#" Algorithm="http://www.w3.org/2000/09/xmldsig#sha256"/><DigestValue xmlns="http://www.w3.org/2000/09/xmldsig#">{b64}</DigestValue></hash></file>"#
        ));
    }
    s.push_str("</assembly>");
    s.into_bytes()
}

fn mum(components: &[&str], packages: &[&str]) -> Vec<u8> {
    let mut s = r#"<assembly xmlns="urn:schemas-microsoft-com:asm.v3"><assemblyIdentity name="Package_for_KB1" version="1.0.0.0" language="neutral" processorArchitecture="amd64" publicKeyToken="31bf3856ad364e35"/><package identifier="KB1">"#.to_string();
    for c in components {
        s.push_str(&format!(
            r#"<update name="u-{c}"><component><assemblyIdentity {}/></component></update>"#,
            id_attrs(c)
        ));
    }
    for p in packages {
        s.push_str(&format!(
            r#"<update name="p-{p}"><package><assemblyIdentity name="{p}" version="1.0.0.0" language="neutral" processorArchitecture="amd64" publicKeyToken="31bf3856ad364e35"/></package></update>"#
        ));
    }
    s.push_str("</package></assembly>");
    s.into_bytes()
}

fn check(members: Vec<(String, Vec<u8>)>, opts: &LoadOptions) -> Vec<Finding> {
    let pkg = Package::from_members(
        "mem",
        members.into_iter().map(|(p, b)| (p, b, None)).collect(),
        opts,
    );
    // No catalogs here: `catalog-absent` on each, left out.
    integrity::check(&pkg)
        .into_iter()
        .filter(|f| f.code != "catalog-absent")
        .collect()
}

fn codes(f: &[Finding]) -> Vec<(Severity, &str)> {
    // These packages carry no catalogs (`catalog-absent` on each); catalog
    // coverage is tested on real packages in tests/verify_real.rs.
    let mut v: Vec<_> = f
        .iter()
        .map(|x| (x.severity, x.code.as_str()))
        .filter(|(_, c)| *c != "catalog-absent")
        .collect();
    v.sort();
    v
}

fn sha(b: &[u8]) -> String {
    hex::encode(sha2::Sha256::digest(b))
}

/// A mum naming a package that is not there.
#[test]
fn package_missing() {
    let a = identity("A").keyform();
    let f = check(
        vec![
            ("update.mum".into(), mum(&["A"], &["Package_2_for_KB1"])),
            (format!("{a}.manifest"), manifest("A", &[])),
        ],
        &LoadOptions::default(),
    );
    assert_eq!(codes(&f), [(Severity::Error, "package-missing")]);
    assert!(
        f[0].detail
            .contains("Package_2_for_KB1~31bf3856ad364e35~amd64~~1.0.0.0")
    );
}

/// Index problems: a RAW source with the wrong length and hash, a basis
/// that does not exist, a copy whose hash differs from its basis, a file
/// in a `.psf`, an entry with no source.
#[test]
fn index_problems() {
    let a = identity("A").keyform();
    let payload = b"payload bytes".to_vec();
    let other = b"other bytes!".to_vec();
    let cix = format!(
        r#"<Container name="x" type="CAB" xmlns="urn:ContainerIndex"><Files>
<File id="1" name="{a}\p.bin" length="99"><Hash alg="SHA256" value="{h}"/><Delta><Source type="RAW" name="{a}\p.bin"><Hash alg="SHA256" value="{h}"/></Source></Delta></File>
<File id="2" name="{a}\q.bin" length="12"><Hash alg="SHA256" value="{o}"/><Delta><Source type="PA30" name="blob"/><Basis file="77"/></Delta></File>
<File id="3" name="{a}\r.bin" length="13"><Hash alg="SHA256" value="{o}"/><Delta><Basis file="1"/></Delta></File>
<File id="4" name="{a}\s.bin" length="12"><Hash alg="SHA256" value="{o}"/><Delta><Source type="PA30" offset="100" length="20"/></Delta></File>
<File id="5" name="{a}\t.bin" length="1"/>
</Files></Container>"#,
        h = sha(&payload),
        o = sha(&other),
    );
    let f = check(
        vec![
            ("update.mum".into(), mum(&["A"], &[])),
            (
                format!("{a}.manifest"),
                manifest(
                    "A",
                    &[
                        ("p.bin", &payload),
                        ("r.bin", b"not what the index says"),
                        ("s.bin", &other),
                    ],
                ),
            ),
            (format!("{a}/p.bin"), payload.clone()),
            ("_manifest_.cix.xml".into(), cix.into_bytes()),
        ],
        &LoadOptions::default(),
    );
    let c = codes(&f);
    for want in [
        (Severity::Error, "index-length-mismatch"),
        (Severity::Error, "index-basis-missing"),
        (Severity::Error, "delta-blob-missing"),
        (Severity::Error, "index-copy-mismatch"),
        (Severity::Error, "index-digest-mismatch"),
        (Severity::Info, "payload-in-psf"),
        (Severity::Warning, "index-entry-no-source"),
    ] {
        assert!(c.contains(&want), "{want:?} not in {c:?}");
    }
    // p.bin itself is stored and matches its manifest digest.
    assert!(!c.contains(&(Severity::Error, "digest-mismatch")), "{f:#?}");
}

/// Caps: a manifest over the metadata cap is reported, not parsed.
#[test]
fn member_too_large() {
    let a = identity("A").keyform();
    let opts = LoadOptions {
        max_metadata_size: 64,
        ..Default::default()
    };
    let f = check(
        vec![(format!("{a}.manifest"), manifest("A", &[("x", b"x")]))],
        &opts,
    );
    assert_eq!(codes(&f), [(Severity::Warning, "member-too-large")]);
}

/// A manifest file name that is not a keyform, a digest that is not
/// base64, an unknown digest algorithm.
#[test]
fn odd_manifests() {
    let doc = r#"<assembly xmlns="urn:schemas-microsoft-com:asm.v3"><assemblyIdentity name="B" version="1.0.0.0" processorArchitecture="amd64" language="neutral" publicKeyToken="31bf3856ad364e35"/>
<file name="x"><hash xmlns="urn:schemas-microsoft-com:asm.v2"><DigestMethod xmlns="http://www.w3.org/2000/09/xmldsig#" Algorithm="http://www.w3.org/2000/09/xmldsig#sha256"/><DigestValue xmlns="http://www.w3.org/2000/09/xmldsig#">not base64!</DigestValue></hash></file>
<file name="y" hashalg="MD5" hash="00112233445566778899aabbccddeeff"/></assembly>"#;
    let f = check(
        vec![
            ("b.manifest".into(), doc.as_bytes().to_vec()),
            ("b/x".into(), b"x".to_vec()),
            ("b/y".into(), b"y".to_vec()),
        ],
        &LoadOptions::default(),
    );
    assert_eq!(
        codes(&f),
        [
            (Severity::Warning, "digest-absent"),
            (Severity::Warning, "digest-unsupported"),
            (Severity::Warning, "manifest-digest-unreadable"),
            (Severity::Warning, "manifest-name-not-keyform"),
        ],
        "{f:#?}"
    );
    let unreadable = f
        .iter()
        .find(|x| x.code == "manifest-digest-unreadable")
        .unwrap();
    assert!(
        unreadable.detail.starts_with("line 2:"),
        "{}",
        unreadable.detail
    );
}
