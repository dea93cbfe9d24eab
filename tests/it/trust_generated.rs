//! A valid Authenticode signature from a key under a root we generate
//! here (deterministic seed; test keys only): untrusted by default, the
//! error names the root; trusted with `--trust-root`. osslsigncode agrees
//! both ways.

use crate::common;

use std::str::FromStr;
use std::time::Duration;

use cms::cert::{CertificateChoices, IssuerAndSerialNumber};
use cms::content_info::{CmsVersion, ContentInfo};
use cms::signed_data::{
    CertificateSet, EncapsulatedContentInfo, SignedData, SignerIdentifier, SignerInfo, SignerInfos,
};
use der::asn1::{ObjectIdentifier, OctetString, SetOfVec};
use der::{Any, Decode, Encode};
use kbinspect::trust::chain::RootStore;
use kbinspect::trust::digest::{self, Alg};
use kbinspect::trust::pkcs7::{
    DigestInfo, SpcAttributeTypeAndOptionalValue, SpcIndirectDataContent,
};
use rand::SeedableRng;
use spki::{AlgorithmIdentifierOwned, EncodePublicKey, SubjectPublicKeyInfoOwned};
use x509_cert::attr::Attribute;
use x509_cert::builder::profile::BuilderProfile;
use x509_cert::builder::{Builder, CertificateBuilder};
use x509_cert::ext::pkix::{BasicConstraints, ExtendedKeyUsage, KeyUsage, KeyUsages};
use x509_cert::ext::{Extension, ToExtension};
use x509_cert::name::Name;
use x509_cert::serial_number::SerialNumber;
use x509_cert::time::Validity;

struct Profile {
    issuer: Name,
    subject: Name,
    ca: bool,
}

impl BuilderProfile for Profile {
    fn get_issuer(&self, _: &Name) -> Name {
        self.issuer.clone()
    }
    fn get_subject(&self) -> Name {
        self.subject.clone()
    }
    fn build_extensions(
        &self,
        _: spki::SubjectPublicKeyInfoRef<'_>,
        _: spki::SubjectPublicKeyInfoRef<'_>,
        tbs: &x509_cert::certificate::TbsCertificate,
    ) -> x509_cert::builder::Result<Vec<Extension>> {
        let subject = tbs.subject();
        let mut v = vec![
            BasicConstraints {
                ca: self.ca,
                path_len_constraint: None,
            }
            .to_extension(subject, &[])?,
        ];
        if self.ca {
            v.push(
                KeyUsage(KeyUsages::KeyCertSign | KeyUsages::CRLSign).to_extension(subject, &[])?,
            );
        } else {
            v.push(KeyUsage(KeyUsages::DigitalSignature.into()).to_extension(subject, &[])?);
            v.push(
                ExtendedKeyUsage(vec![ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.3.3")])
                    .to_extension(subject, &[])?,
            );
        }
        Ok(v)
    }
}

fn cert(
    issuer: &Name,
    subject: &Name,
    ca: bool,
    serial: u32,
    key: &rsa::PublicKey,
    signer: &rsa::pkcs1v15::SigningKey<sha2::Sha256>,
) -> x509_cert::Certificate {
    let validity = Validity::new(
        x509_cert::time::Time::from_str("2020-01-01T00:00:00Z").unwrap_or_else(|_| {
            x509_cert::time::Time::try_from(
                std::time::UNIX_EPOCH + Duration::from_secs(1_577_836_800),
            )
            .unwrap()
        }),
        x509_cert::time::Time::try_from(std::time::UNIX_EPOCH + Duration::from_secs(2_208_988_800))
            .unwrap(),
    );
    let spki =
        SubjectPublicKeyInfoOwned::from_der(key.to_public_key_der().unwrap().as_bytes()).unwrap();
    let b = CertificateBuilder::new(
        Profile {
            issuer: issuer.clone(),
            subject: subject.clone(),
            ca,
        },
        SerialNumber::from(serial),
        validity,
        spki,
    )
    .unwrap();
    b.build::<_, rsa::pkcs1v15::Signature>(signer).unwrap()
}

fn attr(oid: &str, value: Any) -> Attribute {
    Attribute {
        oid: ObjectIdentifier::new_unwrap(oid),
        values: SetOfVec::try_from(vec![value]).unwrap(),
    }
}

/// The real package cabinet of KB4538483 x86, re-signed by our test key.
fn resign(cab: &[u8]) -> (Vec<u8>, x509_cert::Certificate) {
    let mut rng = rand::rngs::StdRng::seed_from_u64(19);
    let root_key = rsa::PrivateKey::new(&mut rng, 2048).unwrap();
    let leaf_key = rsa::PrivateKey::new(&mut rng, 2048).unwrap();
    let root_name = Name::from_str("CN=kbinspect TEST ROOT (not Microsoft)").unwrap();
    let leaf_name = Name::from_str("CN=kbinspect TEST signer").unwrap();
    let root_signer = rsa::pkcs1v15::SigningKey::<sha2::Sha256>::new(root_key.clone());
    let root = cert(
        &root_name,
        &root_name,
        true,
        1,
        &root_key.to_public_key(),
        &root_signer,
    );
    let leaf = cert(
        &root_name,
        &leaf_name,
        false,
        2,
        &leaf_key.to_public_key(),
        &root_signer,
    );

    let (sigpos, _) = digest::cab_signature_range(cab).unwrap();
    let file_digest = digest::cab_digest(cab, Alg::Sha256);
    let sha256 = AlgorithmIdentifierOwned {
        oid: ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.1"),
        parameters: Some(Any::null()),
    };
    let spc = SpcIndirectDataContent {
        data: SpcAttributeTypeAndOptionalValue {
            type_: ObjectIdentifier::new_unwrap("1.3.6.1.4.1.311.2.1.25"),
            value: None,
        },
        message_digest: DigestInfo {
            algorithm: sha256.clone(),
            digest: OctetString::new(file_digest).unwrap(),
        },
    };
    let spc_any = Any::encode_from(&spc).unwrap();
    let md = Alg::Sha256.hash(spc_any.value());
    let spc_oid = ObjectIdentifier::new_unwrap("1.3.6.1.4.1.311.2.1.4");
    let attrs = SetOfVec::try_from(vec![
        attr("1.2.840.113549.1.9.3", Any::encode_from(&spc_oid).unwrap()),
        attr(
            "1.2.840.113549.1.9.4",
            Any::encode_from(&OctetString::new(md).unwrap()).unwrap(),
        ),
    ])
    .unwrap();
    let hashed = Alg::Sha256.hash(&attrs.to_der().unwrap());
    let sig = leaf_key
        .sign(
            rsa::Pkcs1v15Sign {
                hash_len: Some(32),
                prefix: Alg::Sha256.pkcs1_prefix().to_vec().into_boxed_slice(),
            },
            &hashed,
        )
        .unwrap();
    let si = SignerInfo {
        version: CmsVersion::V1,
        sid: SignerIdentifier::IssuerAndSerialNumber(IssuerAndSerialNumber {
            issuer: leaf.tbs_certificate().issuer().clone(),
            serial_number: leaf.tbs_certificate().serial_number().clone(),
        }),
        digest_alg: sha256.clone(),
        signed_attrs: Some(attrs),
        signature_algorithm: AlgorithmIdentifierOwned {
            oid: ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1"),
            parameters: Some(Any::null()),
        },
        signature: OctetString::new(sig).unwrap(),
        unsigned_attrs: None,
    };
    let sd = SignedData {
        version: CmsVersion::V1,
        digest_algorithms: SetOfVec::try_from(vec![sha256]).unwrap(),
        encap_content_info: EncapsulatedContentInfo {
            econtent_type: spc_oid,
            econtent: Some(spc_any),
        },
        certificates: Some(CertificateSet(
            SetOfVec::try_from(vec![
                CertificateChoices::Certificate(leaf.clone()),
                CertificateChoices::Certificate(root.clone()),
            ])
            .unwrap(),
        )),
        crls: None,
        signer_infos: SignerInfos::try_from(vec![si]).unwrap(),
    };
    let ci = ContentInfo {
        content_type: ObjectIdentifier::new_unwrap("1.2.840.113549.1.7.2"),
        content: Any::encode_from(&sd).unwrap(),
    };
    let mut blob = ci.to_der().unwrap();
    while !blob.len().is_multiple_of(8) {
        blob.push(0);
    }
    let mut out = cab[..sigpos as usize].to_vec();
    out[48..52].copy_from_slice(&(blob.len() as u32).to_le_bytes());
    out.extend_from_slice(&blob);
    (out, root)
}

#[test]
fn generated_key_under_untrusted_root() {
    let path = corpus_or_skip!(
        "kb4538483-esu-msu/windows6.1-kb4538483-x86_f77ee698928fb42232b70b01f53a4c5f68553323.msu"
    );
    let tmp = tempfile::tempdir().unwrap();
    if !common::have("cabextract") {
        return;
    }
    let st = std::process::Command::new("cabextract")
        .arg("-q")
        .arg("-d")
        .arg(tmp.path())
        .arg(&path)
        .stderr(std::process::Stdio::null())
        .status()
        .unwrap();
    assert!(st.success());
    let cab = std::fs::read(tmp.path().join("Windows6.1-KB4538483-x86.cab")).unwrap();
    let (signed, root) = resign(&cab);
    let file = tmp.path().join("test-signed.cab");
    std::fs::write(&file, &signed).unwrap();
    let root_der = tmp.path().join("test-root.cer");
    std::fs::write(&root_der, root.to_der().unwrap()).unwrap();

    // Untrusted: the error names our root.
    let (r, _) = kbinspect::trust::verify_bytes(
        &signed,
        "test-signed.cab",
        &RootStore::microsoft(),
        kbinspect::trust::now(),
    );
    let p: Vec<_> = r.all_problems().into_iter().cloned().collect();
    assert_eq!(p.len(), 1, "{p:?}");
    assert_eq!(p[0].code, "trust-untrusted-root");
    assert!(
        p[0].detail.contains("kbinspect TEST ROOT (not Microsoft)"),
        "{}",
        p[0].detail
    );
    assert_eq!(r.computed_digest, r.signed_digest);

    // Trusted with the root added.
    let mut store = RootStore::microsoft();
    store.add_file(&root_der).unwrap();
    let (r, _) =
        kbinspect::trust::verify_bytes(&signed, "test-signed.cab", &store, kbinspect::trust::now());
    assert!(r.verified(), "{:?}", r.all_problems());
    assert_eq!(r.time_source, "now");

    // The CLI: a finding naming the root, then none with --trust-root.
    let out = assert_cmd::Command::cargo_bin("kbinspect")
        .unwrap()
        .args(["verify", "--format", "json"])
        .arg(&file)
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let f = v["findings"].as_array().unwrap();
    assert!(
        f.iter().any(|f| f["code"] == "trust-untrusted-root"
            && f["detail"]
                .as_str()
                .unwrap()
                .contains("kbinspect TEST ROOT")),
        "{f:?}"
    );
    let out = assert_cmd::Command::cargo_bin("kbinspect")
        .unwrap()
        .args(["verify", "--format", "json", "--trust-root"])
        .arg(&root_der)
        .arg(&file)
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(
        !v["findings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["code"].as_str().unwrap().starts_with("trust-"))
    );
    assert_eq!(v["trust"]["summary"]["signatures_verified"], 9 - 2);

    // osslsigncode agrees both ways.
    if common::have("osslsigncode") {
        let pem = tmp.path().join("test-root.pem");
        use base64::Engine as _;
        let b64 = base64::engine::general_purpose::STANDARD.encode(root.to_der().unwrap());
        let body: Vec<String> = b64
            .as_bytes()
            .chunks(64)
            .map(|c| String::from_utf8_lossy(c).to_string())
            .collect();
        std::fs::write(
            &pem,
            format!(
                "-----BEGIN CERTIFICATE-----\n{}\n-----END CERTIFICATE-----\n",
                body.join("\n")
            ),
        )
        .unwrap();
        let run = |ca: &std::path::Path| {
            let o = std::process::Command::new("osslsigncode")
                .args(["verify", "-ignore-crl", "-in"])
                .arg(&file)
                .arg("-CAfile")
                .arg(ca)
                .output()
                .unwrap();
            o.status.success()
                && String::from_utf8_lossy(&o.stdout)
                    .lines()
                    .any(|l| l.trim() == "Succeeded")
        };
        let corpus = common::corpus().unwrap();
        assert!(!run(&corpus.join("../trust/microsoft-roots.pem")));
        assert!(run(&pem));
    }
}
