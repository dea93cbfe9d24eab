//! Authenticode PKCS#7 SignedData: the signed digest, the signer's
//! signature, timestamps, nested signatures and the chains.

use cms::content_info::ContentInfo;
use cms::signed_data::{EncapsulatedContentInfo, SignerIdentifier, SignerInfo, SignerInfos};
use der::asn1::{ObjectIdentifier, OctetString};
use der::{Any, Decode, Encode, Tagged};
use serde::Serialize;
use spki::AlgorithmIdentifierOwned;

use super::chain::{self, Cert, Chain, RootStore};
use super::digest::Alg;
use super::tlv;
use crate::finding::Code;

pub const OID_SIGNED_DATA: &str = "1.2.840.113549.1.7.2";
pub const OID_SPC_INDIRECT: &str = "1.3.6.1.4.1.311.2.1.4";
pub const OID_CTL: &str = "1.3.6.1.4.1.311.10.1";
pub const OID_TST_INFO: &str = "1.2.840.113549.1.9.16.1.4";
const OID_CONTENT_TYPE: &str = "1.2.840.113549.1.9.3";
const OID_MESSAGE_DIGEST: &str = "1.2.840.113549.1.9.4";
const OID_SIGNING_TIME: &str = "1.2.840.113549.1.9.5";
const OID_COUNTERSIGNATURE: &str = "1.2.840.113549.1.9.6";
const OID_RFC3161: &str = "1.3.6.1.4.1.311.3.3.1";
const OID_NESTED: &str = "1.3.6.1.4.1.311.2.4.1";

/// Nested signatures followed (hostile input: a nesting bomb).
const MAX_NESTED_DEPTH: u32 = 3;

/// `SpcIndirectDataContent`.
#[derive(Debug, Clone, der::Sequence)]
pub struct SpcIndirectDataContent {
    pub data: SpcAttributeTypeAndOptionalValue,
    pub message_digest: DigestInfo,
}

#[derive(Debug, Clone, der::Sequence)]
pub struct SpcAttributeTypeAndOptionalValue {
    pub type_: ObjectIdentifier,
    pub value: Option<Any>,
}

/// `DigestInfo` (also the shape of a TSTInfo `messageImprint`).
#[derive(Debug, Clone, der::Sequence)]
pub struct DigestInfo {
    pub algorithm: AlgorithmIdentifierOwned,
    pub digest: OctetString,
}

/// What the signed content must hash to.
pub enum Content<'a> {
    /// A cabinet: its Authenticode digest in an algorithm (computed on
    /// demand, or taken from [`CabDigests`](crate::digest::CabDigests) kept while it streamed).
    Cab(&'a dyn Fn(Alg) -> Option<Vec<u8>>),
    /// A catalog: the content is inside the SignedData.
    Catalog,
}

/// One problem: a finding code and its text.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Problem {
    pub code: Code,
    pub detail: String,
}

impl Problem {
    fn new(code: Code, detail: impl Into<String>) -> Problem {
        Problem {
            code,
            detail: detail.into(),
        }
    }
    /// `trust-unchecked-*` problems mean "could not be checked", not broken.
    pub fn unchecked(&self) -> bool {
        self.code.is_trust_unchecked()
    }
}

/// A timestamp over a signature value.
#[derive(Debug, Clone, Serialize)]
pub struct TimestampReport {
    /// `rfc3161` or `countersignature`.
    pub kind: String,
    pub time: Option<String>,
    #[serde(skip)]
    pub unix: Option<i64>,
    pub signer: Option<String>,
    pub chain: Option<Chain>,
    pub digest_alg: Option<String>,
    pub problems: Vec<Problem>,
}

/// The verdict on one SignedData.
#[derive(Debug, Clone, Serialize)]
pub struct SignatureReport {
    /// The file (tree path) whose signature this is.
    pub file: String,
    /// `authenticode` (cabinet) or `catalog`.
    pub kind: String,
    /// `verified`, `failed` or `unchecked`.
    pub result: String,
    pub digest_alg: Option<String>,
    /// The digest the signature covers (SpcIndirectDataContent, cabinets).
    pub signed_digest: Option<String>,
    /// Our digest of the signed bytes.
    pub computed_digest: Option<String>,
    /// The messageDigest attribute.
    pub message_digest: Option<String>,
    pub signer: Option<String>,
    pub chain: Option<Chain>,
    pub timestamp: Option<TimestampReport>,
    /// When the chain was judged and why then: `timestamp`, `signing-time`
    /// or `now`.
    pub checked_at: Option<String>,
    pub time_source: String,
    /// Weak algorithms used (MD5, SHA-1), where.
    pub weak_algorithms: Vec<String>,
    pub revocation: String,
    pub problems: Vec<Problem>,
    /// Nested (dual) signatures.
    pub nested: Vec<SignatureReport>,
    /// The signer's signature value (tests locate it to flip a byte).
    #[serde(skip)]
    pub signature_value: Vec<u8>,
    /// The signer's certificate DER.
    #[serde(skip)]
    pub signer_cert: Vec<u8>,
    /// Bytes after the signature's DER that are not zero (see
    /// [`DataAfter`]); `None` when the padding is all zeros, or the blob
    /// cannot be read.
    #[serde(skip)]
    pub data_after: Option<DataAfter>,
    /// The signer's unsigned attribute values that no check reads (the
    /// attribute's OID and the value's DER length): see [`unused_unsigned`].
    #[serde(skip)]
    pub unused_unsigned: Vec<(String, usize)>,
}

/// Bytes after the DER of a signature blob that are not zero padding.
/// Neither the signature nor the file's digest covers them (a cabinet's
/// digest skips its whole signature area; a catalog is the PKCS#7 alone),
/// so data hidden there leaves the signature valid: Windows' certificate
/// padding check (CVE-2013-3900) refuses such files.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DataAfter {
    /// Offset in the blob of the first byte past the DER.
    pub der_end: usize,
    /// Offset in the blob of the first non-zero byte.
    pub first: usize,
    /// How many of the bytes past the DER are not zero.
    pub nonzero: usize,
    /// How many bytes follow the DER.
    pub len: usize,
    /// Where the blob starts in its file, when the caller knows (a
    /// cabinet's signature area); a catalog is its blob.
    pub base: Option<u64>,
}

impl DataAfter {
    /// `None` when every byte after the blob's first DER element is zero
    /// (or the blob does not start with one).
    pub fn of(blob: &[u8]) -> Option<DataAfter> {
        let der_end = tlv::first_element(blob).ok()?.len();
        let tail = blob.get(der_end..)?;
        let first = tail.iter().position(|&b| b != 0)?;
        Some(DataAfter {
            der_end,
            first: der_end + first,
            nonzero: tail.iter().filter(|&&b| b != 0).count(),
            len: tail.len(),
            base: None,
        })
    }
}

impl SignatureReport {
    fn new(file: &str, kind: &str) -> SignatureReport {
        SignatureReport {
            file: file.to_string(),
            kind: kind.to_string(),
            result: String::new(),
            digest_alg: None,
            signed_digest: None,
            computed_digest: None,
            message_digest: None,
            signer: None,
            chain: None,
            timestamp: None,
            checked_at: None,
            time_source: "none".into(),
            weak_algorithms: vec![],
            revocation: "not checked: no CRL or OCSP is fetched (offline)".into(),
            problems: vec![],
            nested: vec![],
            signature_value: vec![],
            signer_cert: vec![],
            data_after: None,
            unused_unsigned: vec![],
        }
    }

    /// Every problem, nested signatures included.
    pub fn all_problems(&self) -> Vec<&Problem> {
        let mut v: Vec<&Problem> = self.problems.iter().collect();
        if let Some(t) = &self.timestamp {
            v.extend(t.problems.iter());
        }
        for n in &self.nested {
            v.extend(n.all_problems());
        }
        v
    }

    fn settle(&mut self) {
        let all = self.all_problems();
        self.result = if all.iter().any(|p| !p.unchecked()) {
            "failed"
        } else if all.is_empty() {
            "verified"
        } else {
            "unchecked"
        }
        .into();
    }

    pub fn verified(&self) -> bool {
        self.result == "verified"
    }
}

/// A verified signature's catalog content (the CTL DER), for catalogs.
pub struct Verified {
    pub report: SignatureReport,
    pub ctl: Option<Vec<u8>>,
}

/// Verify the SignedData in `blob` (padding after the DER allowed) over
/// `content`, chains judged against `store`; `now` for unsigned times.
pub fn verify(
    blob: &[u8],
    file: &str,
    content: Content<'_>,
    store: &RootStore,
    now: i64,
) -> Verified {
    let mut v = verify_depth(blob, file, &content, store, now, 0);
    v.report.data_after = DataAfter::of(blob);
    v
}

/// The file-digest algorithms a cabinet's Authenticode signature (and the
/// signatures nested in it) will ask for, read without verifying anything:
/// lets a cabinet be hashed in those only. Empty when the blob cannot be
/// read that far (callers then compute every algorithm).
pub fn cab_digest_algs(blob: &[u8]) -> Vec<Alg> {
    fn walk(blob: &[u8], depth: u32, out: &mut Vec<Alg>) {
        let Ok(p) = parse(blob) else {
            return;
        };
        if let Some(spc) = p
            .econtent
            .as_ref()
            .and_then(|e| e.decode_as::<SpcIndirectDataContent>().ok())
            && let Some(a) = Alg::from_oid(&spc.message_digest.algorithm.oid.to_string())
            && !out.contains(&a)
        {
            out.push(a);
        }
        if depth >= MAX_NESTED_DEPTH {
            return;
        }
        for si in &p.signer_infos {
            for n in attr(si, false, OID_NESTED) {
                walk(&n.to_der().unwrap_or_default(), depth + 1, out);
            }
        }
    }
    let mut out = Vec::new();
    walk(blob, 0, &mut out);
    out
}

/// The unsigned attribute values of `si` that no check reads: the
/// signature does not cover unsigned attributes, so data can ride in them
/// without breaking it. Read are: the first RFC 3161 timestamp, else the
/// first countersignature (see `verify_depth`), and every nested signature.
/// Microsoft's signatures in the corpus carry only those (497 signatures:
/// a countersignature, or an RFC 3161 token, or a countersignature and a
/// nested signature).
fn unused_unsigned(si: &SignerInfo) -> Vec<(String, usize)> {
    let has_rfc3161 = !attr(si, false, OID_RFC3161).is_empty();
    let (mut rfc3161_read, mut countersignature_read) = (false, false);
    let mut out = Vec::new();
    for a in si.unsigned_attrs.iter().flat_map(|s| s.iter()) {
        let oid = a.oid.to_string();
        for v in a.values.iter() {
            let read = match oid.as_str() {
                OID_NESTED => true,
                OID_RFC3161 => !std::mem::replace(&mut rfc3161_read, true),
                OID_COUNTERSIGNATURE => {
                    !has_rfc3161 && !std::mem::replace(&mut countersignature_read, true)
                }
                _ => false,
            };
            if !read {
                out.push((
                    oid.clone(),
                    v.encoded_len().map_or(0, |l| u32::from(l) as usize),
                ));
            }
        }
    }
    out
}

fn attr<'a>(si: &'a SignerInfo, signed: bool, oid: &str) -> Vec<&'a Any> {
    let attrs = if signed {
        &si.signed_attrs
    } else {
        &si.unsigned_attrs
    };
    attrs
        .iter()
        .flat_map(|s| s.iter())
        .filter(|a| a.oid.to_string() == oid)
        .flat_map(|a| a.values.iter())
        .collect()
}

fn any_time(a: &Any) -> Option<i64> {
    let t = tlv::Tlv {
        tag: match a.tag() {
            der::Tag::UtcTime => 0x17,
            der::Tag::GeneralizedTime => 0x18,
            _ => return None,
        },
        raw: &[],
        value: a.value(),
    };
    tlv::time(&t)
}

/// A SignedData split into its fields: the content and signer infos
/// through `cms`, the certificates from their own bytes (the crate cannot
/// take the attribute certificates Microsoft's TSA tokens embed, and the
/// signatures are over the original TBS bytes).
struct Parsed {
    econtent_type: ObjectIdentifier,
    econtent: Option<Any>,
    signer_infos: Vec<SignerInfo>,
    certs: Vec<Cert>,
}

fn parse(blob: &[u8]) -> Result<Parsed, String> {
    let der = tlv::first_element(blob).map_err(|e| e.to_string())?;
    let ci = ContentInfo::from_der(der).map_err(|e| format!("ContentInfo: {e}"))?;
    if ci.content_type.to_string() != OID_SIGNED_DATA {
        return Err(format!(
            "content type {} is not SignedData",
            ci.content_type
        ));
    }
    let fields = tlv::children(ci.content.value()).map_err(|e| format!("SignedData: {e}"))?;
    // version, digestAlgorithms, encapContentInfo, [0] certificates,
    // [1] crls, signerInfos.
    let (Some(eci), Some(sis)) = (fields.get(2), fields.last()) else {
        return Err("SignedData: too few fields".into());
    };
    if fields.len() < 4 || sis.tag != 0x31 {
        return Err("SignedData: no signer infos".into());
    }
    let eci = EncapsulatedContentInfo::from_der(eci.raw)
        .map_err(|e| format!("SignedData content: {e}"))?;
    let sis = SignerInfos::from_der(sis.raw).map_err(|e| format!("SignerInfos: {e}"))?;
    let mut certs = Vec::new();
    if let Some(set) = fields.iter().find(|t| t.tag == 0xa0) {
        let raw = tlv::children(set.value).map_err(|e| format!("certificates: {e}"))?;
        if raw.len() > chain::MAX_CERTS {
            return Err(format!(
                "{} certificates embedded, more than the {} read",
                raw.len(),
                chain::MAX_CERTS
            ));
        }
        for c in raw.iter().filter(|t| t.tag == 0x30) {
            certs.push(Cert::from_der(c.raw)?);
        }
    }
    Ok(Parsed {
        econtent_type: eci.econtent_type,
        econtent: eci.econtent,
        signer_infos: sis.0.into_vec(),
        certs,
    })
}

fn find_signer<'a>(si: &SignerInfo, certs: &'a [Cert]) -> Option<&'a Cert> {
    match &si.sid {
        SignerIdentifier::IssuerAndSerialNumber(isn) => {
            let issuer = isn.issuer.to_der().ok()?;
            certs
                .iter()
                .find(|c| c.issuer_der == issuer && c.serial == isn.serial_number.as_bytes())
        }
        SignerIdentifier::SubjectKeyIdentifier(ski) => certs
            .iter()
            .find(|c| c.ski.as_deref() == Some(ski.0.as_bytes())),
    }
}

/// Check a SignerInfo's signed attributes and signature: the
/// messageDigest must equal `content_digest(alg)`. Returns the signer
/// certificate and the digest algorithm.
fn check_signer<'a>(
    si: &SignerInfo,
    certs: &'a [Cert],
    content_type: Option<&str>,
    content: &[u8],
    problems: &mut Vec<Problem>,
) -> Signer<'a> {
    let alg_oid = si.digest_alg.oid.to_string();
    let Some(alg) = Alg::from_oid(&alg_oid) else {
        problems.push(Problem::new(
            Code::TrustUncheckedAlgorithm,
            format!("digest algorithm {alg_oid} is not supported"),
        ));
        return Signer::default();
    };
    let signer = find_signer(si, certs);
    if signer.is_none() {
        problems.push(Problem::new(
            Code::TrustChainBroken,
            "the signer's certificate is not embedded",
        ));
    }
    let Some(attrs) = &si.signed_attrs else {
        problems.push(Problem::new(
            Code::TrustUnreadable,
            "no signed attributes (Authenticode requires them)",
        ));
        return Signer {
            cert: signer,
            alg: Some(alg),
            ..Signer::default()
        };
    };
    if let Some(ct) = content_type {
        let got: Vec<String> = attr(si, true, OID_CONTENT_TYPE)
            .iter()
            .filter_map(|a| a.decode_as::<ObjectIdentifier>().ok())
            .map(|o| o.to_string())
            .collect();
        if got.len() != 1 || got[0] != ct {
            problems.push(Problem::new(
                Code::TrustMessageDigest,
                format!("contentType attribute {got:?} is not the content's type {ct}"),
            ));
        }
    }
    let md: Vec<Vec<u8>> = attr(si, true, OID_MESSAGE_DIGEST)
        .iter()
        .filter_map(|a| a.decode_as::<OctetString>().ok())
        .map(|o| o.as_bytes().to_vec())
        .collect();
    let want = alg.hash(content);
    match md.as_slice() {
        [one] if *one == want => {}
        [one] => problems.push(Problem::new(
            Code::TrustMessageDigest,
            format!(
                "messageDigest attribute {} is not the {} of the signed content, {}",
                hex::encode(one),
                alg.name(),
                hex::encode(&want)
            ),
        )),
        _ => problems.push(Problem::new(
            Code::TrustMessageDigest,
            format!("{} messageDigest attributes, not one", md.len()),
        )),
    }
    if let Some(cert) = signer {
        let sa = match attrs.to_der() {
            Ok(d) => d,
            Err(e) => {
                problems.push(Problem::new(
                    Code::TrustUnreadable,
                    format!("signed attributes: {e}"),
                ));
                return Signer {
                    cert: signer,
                    alg: Some(alg),
                    message_digest: md.into_iter().next(),
                    content_digest: Some(want),
                };
            }
        };
        let sig_oid = si.signature_algorithm.oid.to_string();
        match (&cert.key, chain::Scheme::of_oid(&sig_oid)) {
            (Some(key), Some((scheme, _))) => {
                if let Err(e) = key.verify(scheme, alg, &alg.hash(&sa), si.signature.as_bytes()) {
                    problems.push(Problem::new(
                        Code::TrustBadSignature,
                        format!("signer {:?}: {e} over the signed attributes", cert.subject),
                    ));
                }
            }
            (None, _) => problems.push(Problem::new(
                Code::TrustUncheckedAlgorithm,
                format!("signer key algorithm {} is not supported", cert.key_alg_oid),
            )),
            (Some(_), None) => problems.push(Problem::new(
                Code::TrustUncheckedAlgorithm,
                format!("signer signature algorithm {sig_oid} is not supported"),
            )),
        }
    }
    Signer {
        cert: signer,
        alg: Some(alg),
        message_digest: md.into_iter().next(),
        content_digest: Some(want),
    }
}

/// What [`check_signer`] found: the signer's certificate, the digest
/// algorithm, the messageDigest attribute and the digest of the content
/// computed to check it (a catalog's CTL is hashed once).
#[derive(Default)]
struct Signer<'a> {
    cert: Option<&'a Cert>,
    alg: Option<Alg>,
    message_digest: Option<Vec<u8>>,
    content_digest: Option<Vec<u8>>,
}

fn verify_depth(
    blob: &[u8],
    file: &str,
    content: &Content<'_>,
    store: &RootStore,
    now: i64,
    depth: u32,
) -> Verified {
    let kind = match content {
        Content::Cab(_) => "authenticode",
        Content::Catalog => "catalog",
    };
    let mut r = SignatureReport::new(file, kind);
    let p = match parse(blob) {
        Ok(p) => p,
        Err(e) => {
            r.problems.push(Problem::new(
                Code::TrustUnreadable,
                format!("the PKCS#7 signature cannot be read: {e}"),
            ));
            r.settle();
            return Verified {
                report: r,
                ctl: None,
            };
        }
    };
    if p.signer_infos.is_empty() {
        // Nothing is signed: a signature that is present but signs nothing
        // is broken, not merely unchecked (a zeroed or stubbed blob must
        // not read like an unsigned file).
        r.problems.push(Problem::new(
            Code::TrustNoSigner,
            "the PKCS#7 SignedData has no signer: nothing is signed",
        ));
        r.settle();
        return Verified {
            report: r,
            ctl: None,
        };
    }
    let ect = p.econtent_type.to_string();
    let Some(econtent) = &p.econtent else {
        r.problems.push(Problem::new(
            Code::TrustUnreadable,
            "the SignedData has no content",
        ));
        r.settle();
        return Verified {
            report: r,
            ctl: None,
        };
    };
    let mut ctl = None;
    match content {
        Content::Cab(d) => {
            if ect != OID_SPC_INDIRECT {
                r.problems.push(Problem::new(
                    Code::TrustUnreadable,
                    format!("content type {ect} is not SpcIndirectDataContent"),
                ));
            } else {
                match econtent.decode_as::<SpcIndirectDataContent>() {
                    Ok(spc) => {
                        let oid = spc.message_digest.algorithm.oid.to_string();
                        let signed = spc.message_digest.digest.as_bytes();
                        r.signed_digest = Some(hex::encode(signed));
                        match Alg::from_oid(&oid).and_then(|a| d(a).map(|v| (a, v))) {
                            Some((a, ours)) => {
                                r.digest_alg = Some(a.name().into());
                                r.computed_digest = Some(hex::encode(&ours));
                                if a.weak() {
                                    r.weak_algorithms.push(format!("{} file digest", a.name()));
                                }
                                if ours != signed {
                                    r.problems.push(Problem::new(
                                        Code::TrustDigestMismatch,
                                        format!(
                                            "the cabinet's {} Authenticode digest is {}, the signature covers {}: the signed bytes changed",
                                            a.name(),
                                            hex::encode(&ours),
                                            hex::encode(signed)
                                        ),
                                    ));
                                }
                            }
                            None => r.problems.push(Problem::new(
                                Code::TrustUncheckedAlgorithm,
                                format!("file digest algorithm {oid} is not computed"),
                            )),
                        }
                    }
                    Err(e) => r.problems.push(Problem::new(
                        Code::TrustUnreadable,
                        format!("SpcIndirectDataContent: {e}"),
                    )),
                }
            }
        }
        Content::Catalog => {
            if ect != OID_CTL {
                r.problems.push(Problem::new(
                    Code::TrustUnreadable,
                    format!("content type {ect} is not a certificate trust list"),
                ));
            } else {
                ctl = Some(econtent.to_der().unwrap_or_default());
            }
        }
    }
    let sis: Vec<&SignerInfo> = p.signer_infos.iter().collect();
    if sis.len() != 1 {
        r.problems.push(Problem::new(
            Code::TrustUnreadable,
            format!("{} signer infos; Authenticode has exactly one", sis.len()),
        ));
    }
    if let Some(si) = sis.first() {
        let Signer {
            cert: signer,
            alg,
            message_digest: md,
            content_digest,
        } = check_signer(si, &p.certs, Some(&ect), econtent.value(), &mut r.problems);
        r.message_digest = md.map(hex::encode);
        r.signature_value = si.signature.as_bytes().to_vec();
        r.signer_cert = signer.map(|c| c.der.clone()).unwrap_or_default();
        if let (Some(a), None) = (alg, &r.computed_digest) {
            // Catalogs: the digest of the signed content (the CTL).
            let d = content_digest.unwrap_or_else(|| a.hash(econtent.value()));
            r.computed_digest = Some(hex::encode(d));
        }
        if let Some(a) = alg {
            if r.digest_alg.is_none() {
                r.digest_alg = Some(a.name().into());
            }
            if a.weak() {
                r.weak_algorithms
                    .push(format!("{} signature digest", a.name()));
            }
        }
        r.signer = signer.map(|c| c.subject.clone());
        r.unused_unsigned = unused_unsigned(si);
        // Timestamp over the signature value.
        let sig = si.signature.as_bytes();
        if let Some(tok) = attr(si, false, OID_RFC3161).first() {
            r.timestamp = Some(rfc3161(tok, sig, &p.certs, store, now));
        } else if let Some(cs) = attr(si, false, OID_COUNTERSIGNATURE).first() {
            r.timestamp = Some(countersignature(cs, sig, &p.certs, store, now));
        }
        let signing_time = attr(si, true, OID_SIGNING_TIME)
            .first()
            .and_then(|a| any_time(a));
        let (at, source) = match &r.timestamp {
            Some(t) if t.problems.is_empty() && t.unix.is_some() => {
                (t.unix.unwrap_or(now), "timestamp")
            }
            _ => match signing_time {
                Some(t) => (t, "signing-time"),
                None => (now, "now"),
            },
        };
        r.checked_at = Some(crate::time::format_unix(at));
        r.time_source = source.into();
        if let Some(cert) = signer {
            let purposes: &[&str] = match content {
                Content::Catalog => &[chain::EKU_WINDOWS_COMPONENT, chain::EKU_CODE_SIGNING],
                Content::Cab(_) => &[chain::EKU_CODE_SIGNING],
            };
            let ch = chain::build(cert, &p.certs, store, at, purposes);
            for (code, d) in &ch.problems {
                r.problems.push(Problem::new(*code, d.clone()));
            }
            r.weak_algorithms.extend(ch.weak.iter().cloned());
            r.chain = Some(ch);
        }
        // Nested (dual) signatures over the same content.
        for n in attr(si, false, OID_NESTED) {
            if depth >= MAX_NESTED_DEPTH {
                r.problems.push(Problem::new(
                    Code::TrustUnreadable,
                    format!("signatures nested more than {MAX_NESTED_DEPTH} deep"),
                ));
                break;
            }
            let der = n.to_der().unwrap_or_default();
            let v = verify_depth(
                &der,
                &format!("{file} (nested)"),
                content,
                store,
                now,
                depth + 1,
            );
            r.nested.push(v.report);
        }
    }
    r.settle();
    Verified { report: r, ctl }
}

fn rfc3161(tok: &Any, sig: &[u8], outer: &[Cert], store: &RootStore, now: i64) -> TimestampReport {
    let mut t = TimestampReport {
        kind: "rfc3161".into(),
        time: None,
        unix: None,
        signer: None,
        chain: None,
        digest_alg: None,
        problems: vec![],
    };
    let der = tok.to_der().unwrap_or_default();
    let p = match parse(&der) {
        Ok(p) => p,
        Err(e) => {
            t.problems.push(Problem::new(
                Code::TrustTimestampInvalid,
                format!("RFC 3161 token: {e}"),
            ));
            return t;
        }
    };
    let ect = p.econtent_type.to_string();
    let Some(ec) = p.econtent.as_ref().filter(|_| ect == OID_TST_INFO) else {
        t.problems.push(Problem::new(
            Code::TrustTimestampInvalid,
            format!("token content {ect} is not TSTInfo"),
        ));
        return t;
    };
    let tst = match ec.decode_as::<OctetString>() {
        Ok(o) => o.as_bytes().to_vec(),
        Err(e) => {
            t.problems.push(Problem::new(
                Code::TrustTimestampInvalid,
                format!("TSTInfo: {e}"),
            ));
            return t;
        }
    };
    // TSTInfo ::= SEQUENCE { version, policy, messageImprint, serialNumber, genTime, … }
    let fields = tlv::read(&tst).and_then(|(s, _)| tlv::children(s.value));
    let (imprint, gen_time) = match fields.as_deref() {
        Ok([_, _, mi, _, gt, ..]) => (mi.raw.to_vec(), tlv::time(gt)),
        _ => {
            t.problems.push(Problem::new(
                Code::TrustTimestampInvalid,
                "TSTInfo is not readable",
            ));
            return t;
        }
    };
    t.unix = gen_time;
    t.time = gen_time.map(crate::time::format_unix);
    match DigestInfo::from_der(&imprint) {
        Ok(mi) => {
            let oid = mi.algorithm.oid.to_string();
            match Alg::from_oid(&oid) {
                Some(a) => {
                    t.digest_alg = Some(a.name().into());
                    if a.hash(sig) != mi.digest.as_bytes() {
                        t.problems.push(Problem::new(
                            Code::TrustTimestampInvalid,
                            "the timestamp's messageImprint is not the hash of the signature value",
                        ));
                    }
                }
                None => t.problems.push(Problem::new(
                    Code::TrustUncheckedAlgorithm,
                    format!("timestamp imprint algorithm {oid}"),
                )),
            }
        }
        Err(e) => t.problems.push(Problem::new(
            Code::TrustTimestampInvalid,
            format!("messageImprint: {e}"),
        )),
    }
    let mut pool = p.certs.clone();
    pool.extend(outer.iter().cloned());
    let Some(si) = p.signer_infos.first() else {
        t.problems.push(Problem::new(
            Code::TrustTimestampInvalid,
            "token has no signer",
        ));
        return t;
    };
    let mut probs = Vec::new();
    let signer = check_signer(si, &pool, Some(OID_TST_INFO), &tst, &mut probs).cert;
    timestamp_chain(&mut t, probs, signer, &pool, store, gen_time.unwrap_or(now));
    t
}

fn countersignature(
    cs: &Any,
    sig: &[u8],
    outer: &[Cert],
    store: &RootStore,
    now: i64,
) -> TimestampReport {
    let mut t = TimestampReport {
        kind: "countersignature".into(),
        time: None,
        unix: None,
        signer: None,
        chain: None,
        digest_alg: None,
        problems: vec![],
    };
    let si = match cs.decode_as::<SignerInfo>() {
        Ok(s) => s,
        Err(e) => {
            t.problems.push(Problem::new(
                Code::TrustTimestampInvalid,
                format!("countersignature: {e}"),
            ));
            return t;
        }
    };
    t.digest_alg = Alg::from_oid(&si.digest_alg.oid.to_string()).map(|a| a.name().into());
    let time = attr(&si, true, OID_SIGNING_TIME)
        .first()
        .and_then(|a| any_time(a));
    t.unix = time;
    t.time = time.map(crate::time::format_unix);
    let mut probs = Vec::new();
    let signer = check_signer(&si, outer, None, sig, &mut probs).cert;
    timestamp_chain(&mut t, probs, signer, outer, store, time.unwrap_or(now));
    t
}

fn timestamp_chain(
    t: &mut TimestampReport,
    probs: Vec<Problem>,
    signer: Option<&Cert>,
    pool: &[Cert],
    store: &RootStore,
    at: i64,
) {
    for mut p in probs {
        if !p.unchecked() {
            p.detail = format!("timestamp: {}", p.detail);
            p.code = Code::TrustTimestampInvalid;
        }
        t.problems.push(p);
    }
    if let Some(c) = signer {
        t.signer = Some(c.subject.clone());
        let ch = chain::build(c, pool, store, at, &[chain::EKU_TIME_STAMPING]);
        for (code, d) in &ch.problems {
            let code = if *code == Code::TrustUntrustedRoot {
                *code
            } else {
                Code::TrustTimestampInvalid
            };
            t.problems
                .push(Problem::new(code, format!("timestamp chain: {d}")));
        }
        t.chain = Some(ch);
    }
}

#[cfg(test)]
mod tests {
    use super::DataAfter;

    /// A SEQUENCE of one INTEGER: 5 bytes of DER.
    const DER: [u8; 5] = [0x30, 0x03, 0x02, 0x01, 0x07];

    #[test]
    fn data_after_the_der_is_found_and_zero_padding_is_not() {
        assert_eq!(DataAfter::of(&DER), None);
        let mut padded = DER.to_vec();
        padded.extend([0; 3]);
        assert_eq!(DataAfter::of(&padded), None, "zero padding");
        padded.extend([0, 0x41, 0, 0x42]);
        assert_eq!(
            DataAfter::of(&padded),
            Some(DataAfter {
                der_end: 5,
                first: 9,
                nonzero: 2,
                len: 7,
                base: None,
            })
        );
        // Not DER at all, or a length past the end: nothing to say.
        assert_eq!(DataAfter::of(b"hidden"), None);
        assert_eq!(DataAfter::of(&[0x30, 0x10, 0x02]), None);
        assert_eq!(DataAfter::of(&[]), None);
    }
}
