//! Load and verify a synthetic package with N components (default 20,000),
//! each with one stored payload and a CIX entry, referenced by one mum, to
//! show that the model and the checks stay linear.
//!
//! ```text
//! cargo run --release --example package_scale -- [N]
//! ```

use std::time::Instant;

use base64::Engine as _;
use sha2::Digest as _;

use kbinspect::check::integrity;
use kbinspect::model::{LoadOptions, Package};
use kbinspect::servicing::identity::Identity;

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(20_000);
    let mut members = Vec::with_capacity(2 * n + 2);
    let mut refs = String::new();
    let mut cix = String::from(
        "<Container name=\"s.cab\" type=\"CAB\" version=\"1\" xmlns=\"urn:ContainerIndex\"><Files>",
    );
    for i in 0..n {
        let id = Identity {
            name: format!("Scale-Component-{i}").into(),
            version: "10.0.1.1".into(),
            processor_architecture: "amd64".into(),
            language: "neutral".into(),
            public_key_token: "31bf3856ad364e35".into(),
            version_scope: "nonSxS".into(),
            ..Default::default()
        };
        let kf = id.keyform();
        let payload = format!("payload {i}\n").into_bytes();
        let digest = sha2::Sha256::digest(&payload);
        let b64 = base64::engine::general_purpose::STANDARD.encode(digest);
        let manifest = format!(
            r#"<assembly xmlns="urn:schemas-microsoft-com:asm.v3"><assemblyIdentity name="{}" version="10.0.1.1" processorArchitecture="amd64" language="neutral" publicKeyToken="31bf3856ad364e35" versionScope="nonSxS"/><file name="f{i}.dat" destinationPath="$(runtime.system32)\"><hash xmlns="urn:schemas-microsoft-com:asm.v2"><DigestMethod xmlns="http://www.w3.org/2000/09/xmldsig#" Algorithm="http://www.w3.org/2000/09/xmldsig#sha256"/><DigestValue xmlns="http://www.w3.org/2000/09/xmldsig#">{b64}</DigestValue></hash></file></assembly>"#,
            id.name
        );
        refs.push_str(&format!(
            r#"<update name="u{i}"><component><assemblyIdentity name="{}" version="10.0.1.1" processorArchitecture="amd64" language="neutral" publicKeyToken="31bf3856ad364e35" versionScope="nonSxS"/></component></update>"#,
            id.name
        ));
        cix.push_str(&format!(
            r#"<File id="{i}" name="{kf}\f{i}.dat" length="{}"><Hash alg="SHA256" value="{}"/><Delta><Source type="RAW" name="{kf}\f{i}.dat"/></Delta></File>"#,
            payload.len(),
            hex::encode(digest)
        ));
        members.push((format!("s.cab/{kf}.manifest"), manifest.into_bytes(), None));
        members.push((format!("s.cab/{kf}/f{i}.dat"), payload, None));
    }
    cix.push_str("</Files></Container>");
    let mum = format!(
        r#"<assembly xmlns="urn:schemas-microsoft-com:asm.v3"><assemblyIdentity name="Package_for_KB1" version="1.0.0.0" language="neutral" processorArchitecture="amd64" publicKeyToken="31bf3856ad364e35"/><package identifier="KB1">{refs}</package></assembly>"#
    );
    members.push(("s.cab/update.mum".into(), mum.into_bytes(), None));
    members.push(("s.cab/_manifest_.cix.xml".into(), cix.into_bytes(), None));
    let t = Instant::now();
    let pkg = Package::from_members("scale", members, &LoadOptions::default());
    let load = t.elapsed();
    let t = Instant::now();
    let (findings, stats) = integrity::check_with_stats(&pkg);
    let check = t.elapsed();
    assert!(
        findings.is_empty(),
        "{:#?}",
        &findings[..findings.len().min(5)]
    );
    assert_eq!(stats.files_verified, n);
    assert_eq!(stats.files_index_agreed, n);
    println!(
        "{n} components, {} files: model {:.2} s, checks {:.2} s (wall)",
        stats.files,
        load.as_secs_f64(),
        check.as_secs_f64()
    );
}
