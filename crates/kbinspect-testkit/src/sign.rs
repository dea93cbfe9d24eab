//! Real Authenticode signatures and catalogs for the samples, from the
//! TEST-ONLY certificate authority in `testdata/trust/test-keys/`
//! (generated once by `examples/gen_test_keys.rs`; the keys are public and
//! must never be trusted outside this project's tests).
//!
//! Everything here is deterministic: the keys and certificates are the
//! committed files (compiled in), the signing time is fixed
//! ([`SIGNING_TIME`]) and RSA PKCS#1 v1.5 signatures depend only on the key
//! and the message, so the samples stay byte-for-byte reproducible.
//!
//! - Cabinets ([`sign_cab`]): `SpcIndirectDataContent` (type
//!   `1.3.6.1.4.1.311.2.1.25`) with the SHA-256 CAB Authenticode digest
//!   ([`kbinspect::trust::digest::cab_digest`]: `[0,4) + [8,34) + [56, sigpos)`),
//!   the blob padded to 8 bytes and appended at the header's signature
//!   offset.
//! - Catalogs ([`catalog`]): a certificate trust list (`1.3.6.1.4.1.311.10.1`,
//!   subject usage "catalog list") with one subject per listed file and
//!   hash (SHA-1 and SHA-256), tagged by the hash as UTF-16 hex like
//!   Microsoft's catalogs, with the `File` name/value attribute and the
//!   `SpcIndirectDataContent` (flat hash; PE files are also listed by
//!   their PE Authenticode hashes).
//!
//! Signed attributes: contentType, signingTime, messageDigest (over the
//! content's value octets, the Authenticode quirk). Certificates: the
//! signer, then the root. No timestamp: the verifier checks the chain at
//! the signing time.

use std::sync::OnceLock;
use std::time::Duration;

use base64::Engine as _;
use cms::cert::{CertificateChoices, IssuerAndSerialNumber};
use cms::content_info::{CmsVersion, ContentInfo};
use cms::signed_data::{
    CertificateSet, EncapsulatedContentInfo, SignedData, SignerIdentifier, SignerInfo, SignerInfos,
};
use der::asn1::{ObjectIdentifier, OctetString, SetOfVec, UtcTime};
use der::{Any, Decode, Encode, Tag};
use rsa::pkcs8::DecodePrivateKey;
use spki::AlgorithmIdentifierOwned;
use x509_cert::Certificate;
use x509_cert::attr::Attribute;

use kbinspect::trust::digest::{self, Alg};
use kbinspect::trust::pkcs7::{
    DigestInfo, SpcAttributeTypeAndOptionalValue, SpcIndirectDataContent,
};

/// Subject of the TEST-ONLY root certificate.
pub const ROOT_NAME: &str = "CN=kbinspect TEST-ONLY root (not Microsoft),O=kbinspect test keys";
/// Subject of the TEST-ONLY signer certificate.
pub const SIGNER_NAME: &str = "CN=kbinspect TEST-ONLY signer (not Microsoft),O=kbinspect test keys";
/// Subject of the TEST-ONLY ECDSA root (P-384).
pub const ECDSA_ROOT_NAME: &str =
    "CN=kbinspect TEST-ONLY ECDSA root (not Microsoft),O=kbinspect test keys";
/// Subject of the TEST-ONLY ECDSA signer (P-256).
pub const ECDSA_SIGNER_NAME: &str =
    "CN=kbinspect TEST-ONLY ECDSA signer (not Microsoft),O=kbinspect test keys";
/// The samples' signing time: 2009-10-08 12:00:00 UTC.
pub const SIGNING_TIME: u64 = 1_255_003_200;

const SIGNER_KEY_PEM: &str =
    include_str!("../../../testdata/trust/test-keys/TEST-ONLY-signer.key.pem");
const SIGNER_PEM: &str = include_str!("../../../testdata/trust/test-keys/TEST-ONLY-signer.pem");
const ROOT_PEM: &str = include_str!("../../../testdata/trust/test-keys/TEST-ONLY-root.pem");
const ECDSA_SIGNER_KEY_PEM: &str =
    include_str!("../../../testdata/trust/test-keys/TEST-ONLY-ecdsa-signer.key.pem");
const ECDSA_SIGNER_PEM: &str =
    include_str!("../../../testdata/trust/test-keys/TEST-ONLY-ecdsa-signer.pem");
/// The TEST-ONLY ECDSA root (P-384), PEM.
pub const ECDSA_ROOT_PEM: &str =
    include_str!("../../../testdata/trust/test-keys/TEST-ONLY-ecdsa-root.pem");

const OID_SIGNED_DATA: &str = "1.2.840.113549.1.7.2";
const OID_SPC_INDIRECT: &str = "1.3.6.1.4.1.311.2.1.4";
const OID_SPC_FLAT: &str = "1.3.6.1.4.1.311.2.1.25";
const OID_SPC_PE_IMAGE: &str = "1.3.6.1.4.1.311.2.1.15";
const OID_CTL: &str = "1.3.6.1.4.1.311.10.1";
const OID_CATALOG_LIST: &str = "1.3.6.1.4.1.311.12.1.1";
const OID_CATALOG_LIST_MEMBER: &str = "1.3.6.1.4.1.311.12.1.2";
const OID_NAME_VALUE: &str = "1.3.6.1.4.1.311.12.2.1";
const OID_CONTENT_TYPE: &str = "1.2.840.113549.1.9.3";
const OID_MESSAGE_DIGEST: &str = "1.2.840.113549.1.9.4";
const OID_SIGNING_TIME: &str = "1.2.840.113549.1.9.5";
const OID_SHA1: &str = "1.3.14.3.2.26";
const OID_SHA256: &str = "2.16.840.1.101.3.4.2.1";
const OID_RSA: &str = "1.2.840.113549.1.1.1";
const OID_ECDSA_SHA256: &str = "1.2.840.10045.4.3.2";

/// PEM text of `der` under `label`, 64 base64 characters a line.
pub fn pem(label: &str, der: &[u8]) -> String {
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let mut s = format!("-----BEGIN {label}-----\n");
    for line in b64.as_bytes().chunks(64) {
        s.push_str(&String::from_utf8_lossy(line));
        s.push('\n');
    }
    s.push_str(&format!("-----END {label}-----\n"));
    s
}

/// The DER inside the first PEM block of `text`.
pub fn pem_der(text: &str) -> Vec<u8> {
    let body: String = text
        .lines()
        .skip_while(|l| !l.starts_with("-----BEGIN"))
        .skip(1)
        .take_while(|l| !l.starts_with("-----END"))
        .map(str::trim)
        .collect();
    base64::engine::general_purpose::STANDARD
        .decode(body)
        .expect("test key PEM is base64")
}

/// A TEST-ONLY signing key.
enum SignerKey {
    Rsa(rsa::PrivateKey),
    P256(p256::ecdsa::SigningKey),
}

/// The TEST-ONLY signer key and certificates.
pub struct TestCa {
    key: SignerKey,
    pub signer: Certificate,
    pub root: Certificate,
}

/// The committed TEST-ONLY RSA CA (parsed once): what signs the samples.
pub fn test_ca() -> &'static TestCa {
    static CA: OnceLock<TestCa> = OnceLock::new();
    CA.get_or_init(|| TestCa {
        key: SignerKey::Rsa(
            rsa::PrivateKey::from_pkcs8_der(&pem_der(SIGNER_KEY_PEM))
                .expect("TEST-ONLY-signer.key.pem is a PKCS#8 RSA key"),
        ),
        signer: Certificate::from_der(&pem_der(SIGNER_PEM))
            .expect("TEST-ONLY-signer.pem is a certificate"),
        root: Certificate::from_der(&pem_der(ROOT_PEM))
            .expect("TEST-ONLY-root.pem is a certificate"),
    })
}

/// The committed TEST-ONLY ECDSA CA: a P-384 root (ECDSA/SHA-384 over the
/// signer's certificate) and a P-256 signer (ECDSA/SHA-256 signatures,
/// deterministic per RFC 6979).
pub fn ecdsa_test_ca() -> &'static TestCa {
    static CA: OnceLock<TestCa> = OnceLock::new();
    CA.get_or_init(|| TestCa {
        key: SignerKey::P256(
            p256::ecdsa::SigningKey::from_pkcs8_der(&pem_der(ECDSA_SIGNER_KEY_PEM))
                .expect("TEST-ONLY-ecdsa-signer.key.pem is a PKCS#8 P-256 key"),
        ),
        signer: Certificate::from_der(&pem_der(ECDSA_SIGNER_PEM))
            .expect("TEST-ONLY-ecdsa-signer.pem is a certificate"),
        root: Certificate::from_der(&pem_der(ECDSA_ROOT_PEM))
            .expect("TEST-ONLY-ecdsa-root.pem is a certificate"),
    })
}

/// The embedded Microsoft roots plus the TEST-ONLY root: what
/// `--trust-root testdata/trust/test-keys/TEST-ONLY-root.pem` gives, for
/// tests that verify the samples in-process.
pub fn trust_options() -> kbinspect::trust::package::TrustOptions {
    let mut opts = kbinspect::trust::package::TrustOptions::default();
    opts.store
        .add_pem(ROOT_PEM, "testdata/trust/test-keys/TEST-ONLY-root.pem")
        .expect("TEST-ONLY-root.pem parses");
    opts
}

fn oid(s: &str) -> ObjectIdentifier {
    ObjectIdentifier::new_unwrap(s)
}

fn alg_id(s: &str) -> AlgorithmIdentifierOwned {
    AlgorithmIdentifierOwned {
        oid: oid(s),
        parameters: Some(Any::null()),
    }
}

fn attr(o: &str, value: Any) -> Attribute {
    Attribute {
        oid: oid(o),
        values: SetOfVec::try_from(vec![value]).expect("one value"),
    }
}

fn der_any<T: der::EncodeValue + der::Tagged>(v: &T) -> Any {
    Any::encode_from(v).expect("DER encodes")
}

fn signing_time() -> UtcTime {
    UtcTime::from_unix_duration(Duration::from_secs(SIGNING_TIME)).expect("UTCTime range")
}

/// A DER `ContentInfo(SignedData)` over `econtent`, signed by the TEST-ONLY
/// signer with SHA-256 and RSA PKCS#1 v1.5.
pub fn signed_data(econtent_type: &str, econtent: Any) -> Vec<u8> {
    signed_data_by(test_ca(), econtent_type, econtent)
}

/// [`signed_data`] by `ca`'s signer (RSA PKCS#1 v1.5 or ECDSA, SHA-256).
pub fn signed_data_by(ca: &TestCa, econtent_type: &str, econtent: Any) -> Vec<u8> {
    let md = Alg::Sha256.hash(econtent.value());
    let attrs = SetOfVec::try_from(vec![
        attr(OID_CONTENT_TYPE, der_any(&oid(econtent_type))),
        attr(OID_SIGNING_TIME, der_any(&signing_time())),
        attr(
            OID_MESSAGE_DIGEST,
            der_any(&OctetString::new(md).expect("digest")),
        ),
    ])
    .expect("distinct attributes");
    let hashed = Alg::Sha256.hash(&attrs.to_der().expect("DER encodes"));
    let (sig, sig_alg) = match &ca.key {
        SignerKey::Rsa(key) => (
            key.sign(
                rsa::Pkcs1v15Sign {
                    hash_len: Some(32),
                    prefix: Alg::Sha256.pkcs1_prefix().to_vec().into_boxed_slice(),
                },
                &hashed,
            )
            .expect("RSA signature"),
            alg_id(OID_RSA),
        ),
        SignerKey::P256(key) => {
            use p256::ecdsa::signature::hazmat::PrehashSigner;
            let s: p256::ecdsa::Signature = key.sign_prehash(&hashed).expect("ECDSA signature");
            (
                s.to_der().as_bytes().to_vec(),
                // ECDSA algorithm identifiers have no parameters.
                AlgorithmIdentifierOwned {
                    oid: oid(OID_ECDSA_SHA256),
                    parameters: None,
                },
            )
        }
    };
    let tbs = ca.signer.tbs_certificate();
    let si = SignerInfo {
        version: CmsVersion::V1,
        sid: SignerIdentifier::IssuerAndSerialNumber(IssuerAndSerialNumber {
            issuer: tbs.issuer().clone(),
            serial_number: tbs.serial_number().clone(),
        }),
        digest_alg: alg_id(OID_SHA256),
        signed_attrs: Some(attrs),
        signature_algorithm: sig_alg,
        signature: OctetString::new(sig).expect("signature"),
        unsigned_attrs: None,
    };
    let sd = SignedData {
        version: CmsVersion::V1,
        digest_algorithms: SetOfVec::try_from(vec![alg_id(OID_SHA256)]).expect("one algorithm"),
        encap_content_info: EncapsulatedContentInfo {
            econtent_type: oid(econtent_type),
            econtent: Some(econtent),
        },
        certificates: Some(CertificateSet(
            SetOfVec::try_from(vec![
                CertificateChoices::Certificate(ca.signer.clone()),
                CertificateChoices::Certificate(ca.root.clone()),
            ])
            .expect("two certificates"),
        )),
        crls: None,
        signer_infos: SignerInfos::try_from(vec![si]).expect("one signer"),
    };
    ContentInfo {
        content_type: oid(OID_SIGNED_DATA),
        content: der_any(&sd),
    }
    .to_der()
    .expect("DER encodes")
}

/// Sign a cabinet written in the signed layout (`CabOptions.signature`
/// set; the blob written there is dropped): the SHA-256 CAB Authenticode
/// digest of the bytes before the signature offset, signed, padded to a
/// multiple of 8 and appended, with the header's signature size updated.
pub fn sign_cab(cab: Vec<u8>) -> Vec<u8> {
    sign_cab_by(test_ca(), cab)
}

/// [`sign_cab`] by `ca`'s signer.
pub fn sign_cab_by(ca: &TestCa, mut cab: Vec<u8>) -> Vec<u8> {
    let (sigpos, _) =
        digest::cab_signature_range(&cab).expect("cabinet written in the signed layout");
    cab.truncate(usize::try_from(sigpos).expect("offset fits"));
    let file_digest = digest::cab_digest(&cab, Alg::Sha256);
    let spc = SpcIndirectDataContent {
        data: SpcAttributeTypeAndOptionalValue {
            type_: oid(OID_SPC_FLAT),
            value: None,
        },
        message_digest: DigestInfo {
            algorithm: alg_id(OID_SHA256),
            digest: OctetString::new(file_digest).expect("digest"),
        },
    };
    let mut blob = signed_data_by(ca, OID_SPC_INDIRECT, der_any(&spc));
    while !blob.len().is_multiple_of(8) {
        blob.push(0);
    }
    let len = u32::try_from(blob.len()).expect("signature size");
    cab[48..52].copy_from_slice(&len.to_le_bytes());
    cab.extend_from_slice(&blob);
    cab
}

/// A catalog member: `SEQUENCE { tag OCTET STRING, attributes SET OF Attribute }`.
#[derive(der::Sequence)]
struct Subject {
    tag: OctetString,
    attributes: SetOfVec<Attribute>,
}

/// `SEQUENCE { name BMPString, flags INTEGER, value OCTET STRING }`.
#[derive(der::Sequence)]
struct NameValue {
    name: Any,
    flags: u32,
    value: OctetString,
}

/// The certificate trust list of a catalog.
#[derive(der::Sequence)]
struct Ctl {
    subject_usage: Vec<ObjectIdentifier>,
    list_identifier: OctetString,
    this_update: UtcTime,
    subject_algorithm: AlgorithmIdentifierOwned,
    subjects: Vec<Subject>,
}

fn utf16le(s: &str) -> Vec<u8> {
    s.encode_utf16()
        .chain([0])
        .flat_map(u16::to_le_bytes)
        .collect()
}

/// `SpcPeImageData { flags BIT STRING (empty), file [0] SpcLink }` with
/// the link Microsoft writes, `file [2] { unicode [0] "<<<Obsolete>>>" }`
/// (osslsigncode's catalog check wants it on PE-image members).
fn pe_image_data() -> Any {
    let text: Vec<u8> = "<<<Obsolete>>>"
        .encode_utf16()
        .flat_map(u16::to_be_bytes)
        .collect();
    let mut unicode = vec![0x80, text.len() as u8];
    unicode.extend_from_slice(&text);
    let mut file = vec![0xA2, unicode.len() as u8];
    file.extend_from_slice(&unicode);
    let mut link = vec![0xA0, file.len() as u8];
    link.extend_from_slice(&file);
    let mut body = vec![0x03, 0x01, 0x00];
    body.extend_from_slice(&link);
    let mut der = vec![0x30, body.len() as u8];
    der.extend_from_slice(&body);
    Any::from_der(&der).expect("SpcPeImageData DER")
}

fn subject(name: &str, alg: Alg, hash: Vec<u8>, kind: &str) -> Subject {
    let tag = utf16le(&hex::encode_upper(&hash));
    let tag = tag[..tag.len() - 2].to_vec();
    let bmp: Vec<u8> = "File".encode_utf16().flat_map(u16::to_be_bytes).collect();
    let file = NameValue {
        name: Any::new(Tag::BmpString, bmp).expect("BMPString"),
        flags: 0x1001_0001,
        value: OctetString::new(utf16le(name)).expect("name"),
    };
    let indirect = SpcIndirectDataContent {
        data: SpcAttributeTypeAndOptionalValue {
            type_: oid(kind),
            value: (kind == OID_SPC_PE_IMAGE).then(pe_image_data),
        },
        message_digest: DigestInfo {
            algorithm: alg_id(if alg == Alg::Sha1 {
                OID_SHA1
            } else {
                OID_SHA256
            }),
            digest: OctetString::new(hash).expect("hash"),
        },
    };
    Subject {
        tag: OctetString::new(tag).expect("tag"),
        attributes: SetOfVec::try_from(vec![
            attr(OID_NAME_VALUE, der_any(&file)),
            attr(OID_SPC_INDIRECT, der_any(&indirect)),
        ])
        .expect("distinct attributes"),
    }
}

/// A signed catalog (`.cat`) listing each `(file name, bytes)` by the
/// SHA-1 and the SHA-256 of its bytes (member type flat file), in the
/// given order, and PE images also by their SHA-1 and SHA-256 PE
/// Authenticode hashes (member type PE image, as Microsoft lists PE files;
/// `osslsigncode verify -catalog` looks PE files up by these).
pub fn catalog(files: &[(String, &[u8])]) -> Vec<u8> {
    catalog_by(test_ca(), files)
}

/// [`catalog`] signed by `ca`'s signer.
pub fn catalog_by(ca: &TestCa, files: &[(String, &[u8])]) -> Vec<u8> {
    let mut subjects = Vec::with_capacity(files.len() * 2);
    let mut id = Vec::new();
    for (name, data) in files {
        for alg in [Alg::Sha1, Alg::Sha256] {
            let h = alg.hash(data);
            id.extend_from_slice(&h);
            subjects.push(subject(name, alg, h, OID_SPC_FLAT));
        }
        for alg in [Alg::Sha1, Alg::Sha256] {
            if let Some(h) = digest::pe_authenticode(data, alg) {
                id.extend_from_slice(&h);
                subjects.push(subject(name, alg, h, OID_SPC_PE_IMAGE));
            }
        }
    }
    let ctl = Ctl {
        subject_usage: vec![oid(OID_CATALOG_LIST)],
        // A stable identifier: the first 16 bytes of the SHA-1 of the hashes.
        list_identifier: OctetString::new(Alg::Sha1.hash(&id)[..16].to_vec()).expect("id"),
        this_update: signing_time(),
        subject_algorithm: alg_id(OID_CATALOG_LIST_MEMBER),
        subjects,
    };
    signed_data_by(ca, OID_CTL, der_any(&ctl))
}

#[cfg(test)]
mod tests {
    use super::*;
    use kbinspect::trust::chain::RootStore;

    fn store() -> RootStore {
        trust_options().store
    }

    #[test]
    fn catalog_verifies_and_lists_both_hashes() {
        let cat = catalog(&[("a.mum".to_string(), b"hello".as_slice())]);
        let (r, ctl) = kbinspect::trust::verify_bytes(&cat, "a.cat", &store(), 0);
        assert!(r.verified(), "{:?}", r.all_problems());
        assert_eq!(r.time_source, "signing-time");
        let ctl = ctl.unwrap();
        assert_eq!(ctl.entries.len(), 2);
        assert_eq!(ctl.entries[0].hash.as_slice(), Alg::Sha1.hash(b"hello"));
        assert_eq!(ctl.entries[1].hash.as_slice(), Alg::Sha256.hash(b"hello"));
        // The names are read on demand, lower-cased: one per entry.
        assert_eq!(kbinspect::trust::ctl::file_names(&cat), ["a.mum", "a.mum"]);
        // Deterministic.
        assert_eq!(cat, catalog(&[("a.mum".to_string(), b"hello".as_slice())]));
        // Untrusted without the test root, naming it.
        let (r, _) = kbinspect::trust::verify_bytes(&cat, "a.cat", &RootStore::microsoft(), 0);
        let p = r.all_problems();
        assert!(
            p.iter()
                .any(|p| p.code == "trust-untrusted-root" && p.detail.contains("TEST-ONLY root")),
            "{p:?}"
        );
    }
}
