//! Certificates, trust anchors and chain building.

use std::collections::HashSet;

use der::asn1::ObjectIdentifier;
use der::{Decode, Encode};
use ecdsa::signature::hazmat::PrehashVerifier;
use rsa::pkcs1::DecodeRsaPublicKey;
use serde::Serialize;
use sha2::Digest as _;
use x509_cert::certificate::{CertificateInner, Raw};
use x509_cert::ext::pkix::{BasicConstraints, ExtendedKeyUsage, KeyUsage, KeyUsages};

use super::digest::Alg;
use super::montgomery::RsaKey;
use super::tlv;
use crate::finding::Code;

/// The Microsoft roots, with the metadata of Microsoft's trusted-root list
/// as comments (see the file's own header).
pub const MICROSOFT_ROOTS_PEM: &str = include_str!("microsoft-roots.pem");

/// Most certificates read from one SignedData (hostile input: 100,000).
pub const MAX_CERTS: usize = 256;
/// Longest chain followed.
pub const MAX_CHAIN: usize = 12;

pub const EKU_CODE_SIGNING: &str = "1.3.6.1.5.5.7.3.3";
pub const EKU_TIME_STAMPING: &str = "1.3.6.1.5.5.7.3.8";
pub const EKU_WINDOWS_COMPONENT: &str = "1.3.6.1.4.1.311.10.3.6";
pub const EKU_ANY: &str = "2.5.29.37.0";

const OID_RSA: &str = "1.2.840.113549.1.1.1";
const OID_EC_PUBLIC_KEY: &str = "1.2.840.10045.2.1";
const OID_P256: &str = "1.2.840.10045.3.1.7";
const OID_P384: &str = "1.3.132.0.34";

/// A public key this verifies signatures with.
#[derive(Debug, Clone, PartialEq)]
pub enum PublicKey {
    /// An RSA key: its Montgomery constants when [`super::montgomery`]
    /// takes it, else the `rsa` crate's key (which precomputes its own
    /// constants when built, a cost the common keys need not pay).
    Rsa(RsaPublic),
    /// ECDSA on NIST P-256 (secp256r1).
    P256(p256::ecdsa::VerifyingKey),
    /// ECDSA on NIST P-384 (secp384r1).
    P384(p384::ecdsa::VerifyingKey),
}

/// An RSA public key, in the form that verifies with it.
#[derive(Debug, Clone, PartialEq)]
pub enum RsaPublic {
    /// On precomputed Montgomery constants ([`super::montgomery`]).
    Fast(Box<RsaKey>),
    /// The `rsa` crate's (an exponent over 64 bits, say).
    Other(Box<rsa::PublicKey>),
}

/// The two signature schemes: RSA PKCS#1 v1.5 and ECDSA.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    Rsa,
    Ecdsa,
}

impl Scheme {
    /// The scheme and digest of a signature algorithm OID (a certificate's
    /// `signatureAlgorithm`, a SignerInfo's `signatureAlgorithm`), `None`
    /// when unknown. A bare `rsaEncryption` or `id-ecPublicKey` (what many
    /// SignerInfos carry) gives no digest: the SignerInfo's digest
    /// algorithm applies.
    pub fn of_oid(oid: &str) -> Option<(Scheme, Option<Alg>)> {
        Some(match oid {
            OID_RSA => (Scheme::Rsa, None),
            "1.3.14.3.2.29" => (Scheme::Rsa, Some(Alg::Sha1)),
            o if o.starts_with("1.2.840.113549.1.1.") => (
                Scheme::Rsa,
                Some(Alg::from_oid(o).filter(|_| o != OID_RSA)?),
            ),
            OID_EC_PUBLIC_KEY => (Scheme::Ecdsa, None),
            "1.2.840.10045.4.1" => (Scheme::Ecdsa, Some(Alg::Sha1)),
            "1.2.840.10045.4.3.2" => (Scheme::Ecdsa, Some(Alg::Sha256)),
            "1.2.840.10045.4.3.3" => (Scheme::Ecdsa, Some(Alg::Sha384)),
            "1.2.840.10045.4.3.4" => (Scheme::Ecdsa, Some(Alg::Sha512)),
            _ => return None,
        })
    }
}

impl PublicKey {
    fn scheme(&self) -> Scheme {
        match self {
            PublicKey::Rsa(..) => Scheme::Rsa,
            PublicKey::P256(_) | PublicKey::P384(_) => Scheme::Ecdsa,
        }
    }

    /// Does `sig` sign the `alg` hash `hashed` under this key, with
    /// `scheme`? ECDSA signatures are the DER `Ecdsa-Sig-Value`.
    pub fn verify(
        &self,
        scheme: Scheme,
        alg: Alg,
        hashed: &[u8],
        sig: &[u8],
    ) -> Result<(), String> {
        if scheme != self.scheme() {
            return Err(format!(
                "a {scheme:?} signature algorithm with a {:?} key",
                self.scheme()
            ));
        }
        let bad = |curve: &str| format!("ECDSA/{curve}/{} signature does not verify", alg.name());
        match self {
            PublicKey::Rsa(RsaPublic::Fast(fast)) => rsa_verify_fast(fast, alg, hashed, sig),
            PublicKey::Rsa(RsaPublic::Other(k)) => rsa_verify(k, alg, hashed, sig),
            PublicKey::P256(k) => p256::ecdsa::Signature::from_der(sig)
                .and_then(|s| k.verify_prehash(hashed, &s))
                .map_err(|_| bad("P-256")),
            PublicKey::P384(k) => p384::ecdsa::Signature::from_der(sig)
                .and_then(|s| k.verify_prehash(hashed, &s))
                .map_err(|_| bad("P-384")),
        }
    }
}

/// The key of a SubjectPublicKeyInfo, and its algorithm as the report
/// names it (the curve's OID too for EC keys).
fn public_key(
    spki: &spki::SubjectPublicKeyInfo<der::Any, der::asn1::BitString>,
) -> (Option<PublicKey>, String) {
    let alg = spki.algorithm.oid.to_string();
    let bits = spki.subject_public_key.as_bytes();
    match alg.as_str() {
        OID_RSA => (
            bits.and_then(|b| {
                // The modulus and exponent as they are; the `rsa` crate's
                // key only for what the Montgomery code does not take.
                let parts = rsa::pkcs1::RsaPublicKey::<der::asn1::UintRef<'_>>::from_der(b).ok()?;
                match RsaKey::new(parts.modulus.as_bytes(), parts.public_exponent.as_bytes()) {
                    Some(fast) => Some(RsaPublic::Fast(Box::new(fast))),
                    None => rsa::PublicKey::from_pkcs1_der(b)
                        .ok()
                        .map(|k| RsaPublic::Other(Box::new(k))),
                }
                .map(PublicKey::Rsa)
            }),
            alg,
        ),
        OID_EC_PUBLIC_KEY => {
            let curve = spki
                .algorithm
                .parameters
                .as_ref()
                .and_then(|p| p.decode_as::<ObjectIdentifier>().ok())
                .map(|o| o.to_string())
                .unwrap_or_else(|| "(no named curve)".into());
            let key = match curve.as_str() {
                OID_P256 => bits
                    .and_then(|b| p256::ecdsa::VerifyingKey::from_sec1_bytes(b).ok())
                    .map(PublicKey::P256),
                OID_P384 => bits
                    .and_then(|b| p384::ecdsa::VerifyingKey::from_sec1_bytes(b).ok())
                    .map(PublicKey::P384),
                _ => None,
            };
            (key, format!("{alg} (EC, curve {curve})"))
        }
        _ => (None, alg),
    }
}

/// One certificate: its DER, the part its issuer signed, and the fields
/// the checks read.
#[derive(Debug, Clone)]
pub struct Cert {
    pub der: Vec<u8>,
    /// SHA-256 of `der`: the certificate's identity in the caches.
    pub fingerprint: [u8; 32],
    pub tbs: Vec<u8>,
    pub subject_der: Vec<u8>,
    pub issuer_der: Vec<u8>,
    pub serial: Vec<u8>,
    pub subject: String,
    pub issuer: String,
    pub not_before: i64,
    pub not_after: i64,
    /// The signature algorithm's digest (`None`: not RSA or ECDSA with a
    /// digest we know).
    pub sig_alg: Option<Alg>,
    /// RSA or ECDSA (meaningful when `sig_alg` is known).
    pub sig_scheme: Scheme,
    pub sig_alg_oid: String,
    pub signature: Vec<u8>,
    pub key: Option<PublicKey>,
    pub key_alg_oid: String,
    /// `Some(ca)` when a basic-constraints extension is present.
    pub ca: Option<bool>,
    /// `Some(can sign certificates)` when key usage is present.
    pub key_cert_sign: Option<bool>,
    pub digital_signature: Option<bool>,
    /// Extended key usages, when the extension is present.
    pub eku: Option<Vec<String>>,
    pub ski: Option<Vec<u8>>,
}

/// Certificates read, by their DER ([`Cert::from_der`]).
static CERTS_READ: std::sync::OnceLock<std::sync::Mutex<std::collections::HashMap<Vec<u8>, Cert>>> =
    std::sync::OnceLock::new();

/// (certificate, issuer) signatures verified ([`Cert::signed_by`]).
static PAIRS_VERIFIED: std::sync::OnceLock<std::sync::Mutex<HashSet<Pair>>> =
    std::sync::OnceLock::new();

/// Forget every certificate read and every certificate signature verified
/// in this process, so that the next check does all of that work again as
/// a fresh `verify` process does: for measuring the trust check's cost
/// (`examples/trust_cost.rs`) one run after another.
#[doc(hidden)]
pub fn clear_caches() {
    if let Some(c) = CERTS_READ.get() {
        c.lock().unwrap_or_else(|e| e.into_inner()).clear();
    }
    if let Some(c) = PAIRS_VERIFIED.get() {
        c.lock().unwrap_or_else(|e| e.into_inner()).clear();
    }
}

impl Cert {
    /// Read one DER certificate. The same few certificates are embedded in
    /// every signature of a package (hundreds of catalogs), and reading one
    /// (its names, its key) costs more than looking it up: certificates
    /// read once are remembered by their DER bytes.
    pub fn from_der(der: &[u8]) -> Result<Cert, String> {
        let cache = CERTS_READ.get_or_init(Default::default);
        if let Some(c) = cache.lock().ok().and_then(|c| c.get(der).cloned()) {
            return Ok(c);
        }
        let cert = Cert::read(der)?;
        if let Ok(mut c) = cache.lock()
            && c.len() < 1024
        {
            c.insert(der.to_vec(), cert.clone());
        }
        Ok(cert)
    }

    fn read(der: &[u8]) -> Result<Cert, String> {
        let (t, rest) = tlv::read(der).map_err(|e| format!("certificate: {e}"))?;
        if !rest.is_empty() || t.tag != 0x30 {
            return Err("certificate: not one DER SEQUENCE".into());
        }
        let parts = tlv::children(t.value).map_err(|e| format!("certificate: {e}"))?;
        let tbs = parts.first().ok_or("certificate: empty")?.raw.to_vec();
        let c = CertificateInner::<Raw>::from_der(der).map_err(|e| format!("certificate: {e}"))?;
        let tbsc = c.tbs_certificate();
        let spki = tbsc.subject_public_key_info();
        let (key, key_alg_oid) = public_key(spki);
        let sig_alg_oid = c.signature_algorithm().oid.to_string();
        let sig = Scheme::of_oid(&sig_alg_oid).and_then(|(s, a)| Some((s, a?)));
        let mut cert = Cert {
            der: der.to_vec(),
            fingerprint: sha2::Sha256::digest(der).into(),
            tbs,
            subject_der: tbsc.subject().to_der().map_err(|e| e.to_string())?,
            issuer_der: tbsc.issuer().to_der().map_err(|e| e.to_string())?,
            serial: tbsc.serial_number().as_bytes().to_vec(),
            subject: name_of(&dn_text(tbsc.subject())),
            issuer: name_of(&dn_text(tbsc.issuer())),
            not_before: tbsc.validity().not_before.to_unix_duration().as_secs() as i64,
            not_after: tbsc.validity().not_after.to_unix_duration().as_secs() as i64,
            sig_alg: sig.map(|(_, a)| a),
            sig_scheme: sig.map_or(Scheme::Rsa, |(s, _)| s),
            sig_alg_oid,
            signature: c.signature().raw_bytes().to_vec(),
            key,
            key_alg_oid,
            ca: None,
            key_cert_sign: None,
            digital_signature: None,
            eku: None,
            ski: None,
        };
        if let Ok(Some((_, bc))) = tbsc.get_extension::<BasicConstraints>() {
            cert.ca = Some(bc.ca);
        }
        if let Ok(Some((_, ku))) = tbsc.get_extension::<KeyUsage>() {
            cert.key_cert_sign = Some(ku.0.contains(KeyUsages::KeyCertSign));
            cert.digital_signature = Some(ku.0.contains(KeyUsages::DigitalSignature));
        }
        if let Ok(Some((_, eku))) = tbsc.get_extension::<ExtendedKeyUsage>() {
            cert.eku = Some(eku.0.iter().map(|o| o.to_string()).collect());
        }
        if let Ok(Some((_, ski))) =
            tbsc.get_extension::<x509_cert::ext::pkix::SubjectKeyIdentifier>()
        {
            cert.ski = Some(ski.0.as_bytes().to_vec());
        }
        Ok(cert)
    }

    /// Does `issuer`'s key verify this certificate's signature?
    pub fn signed_by(&self, issuer: &Cert) -> Result<(), String> {
        let alg = self
            .sig_alg
            .ok_or_else(|| format!("signature algorithm {} is not supported", self.sig_alg_oid))?;
        key_of(issuer)?;
        // The same certificates sign hundreds of catalogs of a package:
        // a verified (certificate, issuer) pair is remembered.
        let key = (self.fingerprint, issuer.fingerprint);
        let cache = PAIRS_VERIFIED.get_or_init(Default::default);
        if cache.lock().is_ok_and(|c| c.contains(&key)) {
            return Ok(());
        }
        key_of(issuer)?.verify(self.sig_scheme, alg, &alg.hash(&self.tbs), &self.signature)?;
        if let Ok(mut c) = cache.lock()
            && c.len() < 4096
        {
            c.insert(key);
        }
        Ok(())
    }

    pub fn self_issued(&self) -> bool {
        self.subject_der == self.issuer_der
    }

    pub fn sha1_hex(&self) -> String {
        hex::encode(Alg::Sha1.hash(&self.der))
    }
}

/// SHA-256 of a certificate and of its issuer.
type Pair = ([u8; 32], [u8; 32]);

fn key_of(c: &Cert) -> Result<&PublicKey, String> {
    c.key.as_ref().ok_or_else(|| {
        format!(
            "the key of {:?} ({}) is not an RSA, P-256 or P-384 key this can use",
            c.subject, c.key_alg_oid
        )
    })
}

/// PKCS#1 v1.5 verification of a hash, with the DigestInfo prefix (with
/// or, as some old signers wrote it, without the NULL parameters).
pub fn rsa_verify(key: &rsa::PublicKey, alg: Alg, hashed: &[u8], sig: &[u8]) -> Result<(), String> {
    let scheme = |prefix: Vec<u8>| rsa::Pkcs1v15Sign {
        hash_len: Some(hashed.len()),
        prefix: prefix.into_boxed_slice(),
    };
    let prefix = alg.pkcs1_prefix().to_vec();
    if key.verify(scheme(prefix.clone()), hashed, sig).is_ok() {
        return Ok(());
    }
    // The same DigestInfo without `05 00`.
    if prefix.len() > 4 {
        let mut p = prefix.clone();
        let inner = 2 + p[3] as usize; // end of the AlgorithmIdentifier
        if p.get(inner - 2..inner) == Some(&[0x05, 0x00]) {
            p.drain(inner - 2..inner);
            p[1] -= 2;
            p[3] -= 2;
            if key.verify(scheme(p), hashed, sig).is_ok() {
                return Ok(());
            }
        }
    }
    Err(format!("RSA/{} signature does not verify", alg.name()))
}

/// [`rsa_verify`] on precomputed Montgomery constants: one exponentiation,
/// the encoded message then compared with both DigestInfo forms.
fn rsa_verify_fast(key: &RsaKey, alg: Alg, hashed: &[u8], sig: &[u8]) -> Result<(), String> {
    let fail = || format!("RSA/{} signature does not verify", alg.name());
    let em = key.public_op(sig).ok_or_else(fail)?;
    let prefix = alg.pkcs1_prefix();
    if pkcs1_encodes(&em, prefix, hashed) {
        return Ok(());
    }
    // The same DigestInfo without `05 00`.
    if prefix.len() > 4 {
        let mut p = prefix.to_vec();
        let inner = 2 + p[3] as usize;
        if p.get(inner - 2..inner) == Some(&[0x05, 0x00]) {
            p.drain(inner - 2..inner);
            p[1] -= 2;
            p[3] -= 2;
            if pkcs1_encodes(&em, &p, hashed) {
                return Ok(());
            }
        }
    }
    Err(fail())
}

/// `em` is `00 01 FF…FF 00 prefix hashed` (RFC 8017 §9.2, at least 8 FF).
fn pkcs1_encodes(em: &[u8], prefix: &[u8], hashed: &[u8]) -> bool {
    let k = em.len();
    let t = prefix.len() + hashed.len();
    if k < t + 11 {
        return false;
    }
    em[0] == 0
        && em[1] == 1
        && em[2..k - t - 1].iter().all(|&b| b == 0xff)
        && em[k - t - 1] == 0
        && &em[k - t..k - hashed.len()] == prefix
        && &em[k - hashed.len()..] == hashed
}

/// A distinguished name as RFC 4514 text, exactly as x509-cert's `Display`
/// writes it, with each attribute type's short name looked up once per
/// process: x509-cert scans const-oid's whole name table for every
/// attribute of every name, 17 % of the CPU of `verify` on a small signed
/// cabinet (the roots' names are read at every start).
fn dn_text(name: &x509_cert::name::Name) -> String {
    let rdns: Vec<_> = name.iter_rdn().collect();
    let mut out = String::new();
    for (i, rdn) in rdns.iter().rev().enumerate() {
        if i > 0 {
            out.push(',');
        }
        for (j, atv) in rdn.iter().enumerate() {
            if j > 0 {
                out.push('+');
            }
            atv_text(atv, &mut out);
        }
    }
    out
}

/// One `TYPE=value` of [`dn_text`]: x509-cert's rules (the shortest name of
/// the type, upper case; RFC 4514 escapes), and its own text where it
/// writes the value as hex DER.
fn atv_text(atv: &x509_cert::attr::AttributeTypeAndValue, out: &mut String) {
    use der::asn1::{Ia5StringRef, PrintableStringRef, TeletexStringRef, Utf8StringRef};
    use der::{Tag, Tagged as _};
    let v = &atv.value;
    let val = match v.tag() {
        Tag::PrintableString => PrintableStringRef::try_from(v).ok().map(|s| s.as_str()),
        Tag::Utf8String => Utf8StringRef::try_from(v).ok().map(|s| s.as_str()),
        Tag::Ia5String => Ia5StringRef::try_from(v).ok().map(|s| s.as_str()),
        Tag::TeletexString => TeletexStringRef::try_from(v).ok().map(|s| s.as_str()),
        _ => None,
    };
    let (Some(key), Some(val)) = (short_name(atv.oid), val) else {
        out.push_str(&atv.to_string());
        return;
    };
    out.push_str(&key.to_ascii_uppercase());
    out.push('=');
    let mut chars = val.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        match c {
            '#' if i == 0 => out.push_str("\\#"),
            ' ' if i == 0 || chars.peek().is_none() => out.push_str("\\ "),
            '"' | '+' | ',' | ';' | '<' | '>' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            '\x00'..='\x1f' | '\x7f' => out.push_str(&format!("\\{:02x}", c as u8)),
            _ => out.push(c),
        }
    }
}

/// The shortest of const-oid's names for an attribute type (the first of
/// the shortest), as x509-cert picks it; remembered per OID.
fn short_name(oid: der::asn1::ObjectIdentifier) -> Option<&'static str> {
    type Names = std::collections::HashMap<der::asn1::ObjectIdentifier, Option<&'static str>>;
    static SHORT: std::sync::OnceLock<std::sync::Mutex<Names>> = std::sync::OnceLock::new();
    let cache = SHORT.get_or_init(Default::default);
    if let Some(n) = cache.lock().ok().and_then(|c| c.get(&oid).copied()) {
        return n;
    }
    let mut best: Option<&'static str> = None;
    for n in const_oid::db::DB.find_names_for_oid(oid) {
        if best.is_none_or(|b| n.len() < b.len()) {
            best = Some(n);
        }
    }
    if let Ok(mut c) = cache.lock() {
        c.insert(oid, best);
    }
    best
}

/// The common name of a distinguished name (`CN=…`), else the whole name.
fn name_of(rfc4514: &str) -> String {
    rfc4514
        .split(',')
        .find_map(|p| p.trim().strip_prefix("CN="))
        .map(str::to_string)
        .unwrap_or_else(|| rfc4514.to_string())
}

/// A trust anchor and where it comes from.
#[derive(Debug, Clone)]
pub struct Root {
    pub cert: Cert,
    /// `microsoft-roots.pem (embedded)` or the `--trust-root` file.
    pub origin: String,
    /// Metadata comment lines that preceded it in the PEM.
    pub metadata: Vec<String>,
    /// What Microsoft's trusted-root list says of it (from `metadata`).
    pub policy: RootPolicy,
}

/// The restrictions Microsoft's trusted-root list (`authroot.stl`) puts on a
/// root, as Windows applies them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RootPolicy {
    /// "Disallowed": signatures made (timestamped) at or after this time
    /// (seconds since 1970) do not chain to it any more.
    pub disallowed_from: Option<i64>,
    /// "Not before": certificates under it issued (notBefore) at or after
    /// this time are not trusted.
    pub issued_before: Option<i64>,
    /// "Extended key usages": the only purposes it is trusted for (OIDs).
    pub purposes: Option<Vec<String>>,
}

impl RootPolicy {
    /// Read the list's lines (`Disallowed Filetime: 2021-08-01 00:00:00+00:00`,
    /// `Not before Filetime: …`, `Extended key usages: ['code_signing', …]`).
    pub fn from_metadata(lines: &[String]) -> RootPolicy {
        let mut p = RootPolicy::default();
        for l in lines {
            if let Some(v) = l.strip_prefix("Disallowed Filetime:") {
                p.disallowed_from = list_time(v);
            } else if let Some(v) = l.strip_prefix("Not before Filetime:") {
                p.issued_before = list_time(v);
            } else if let Some(v) = l.strip_prefix("Extended key usages:") {
                p.purposes = Some(
                    v.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                        .filter(|w| !w.is_empty())
                        .map(|w| eku_oid(w).unwrap_or(w).to_string())
                        .collect(),
                );
            }
        }
        p
    }
}

/// `2021-08-01 00:00:00+00:00` (the list's UTC times) in seconds since 1970.
fn list_time(v: &str) -> Option<i64> {
    let v = v.trim();
    let num = |a: usize, b: usize| v.get(a..b)?.parse::<i64>().ok();
    crate::time::Timestamp::new(
        num(0, 4)?,
        num(5, 7)?,
        num(8, 10)?,
        num(11, 13)?,
        num(14, 16)?,
        num(17, 19)?,
    )?
    .to_unix()
}

/// The OID of a purpose as the root list names it.
fn eku_oid(name: &str) -> Option<&'static str> {
    Some(match name {
        "server_auth" => "1.3.6.1.5.5.7.3.1",
        "client_auth" => "1.3.6.1.5.5.7.3.2",
        "code_signing" => EKU_CODE_SIGNING,
        "email_protection" => "1.3.6.1.5.5.7.3.4",
        "time_stamping" => EKU_TIME_STAMPING,
        _ => return None,
    })
}

/// The trust anchors.
#[derive(Debug, Clone, Default)]
pub struct RootStore {
    pub roots: Vec<Root>,
}

impl RootStore {
    /// The embedded Microsoft roots.
    pub fn microsoft() -> RootStore {
        let mut s = RootStore::default();
        // The embedded file is known good; a failure here is a build bug
        // caught by the unit test.
        let _ = s.add_pem(MICROSOFT_ROOTS_PEM, "microsoft-roots.pem (embedded)");
        s
    }

    /// Add every certificate of a PEM text (comment lines kept as metadata).
    pub fn add_pem(&mut self, text: &str, origin: &str) -> Result<usize, String> {
        use base64::Engine as _;
        let mut meta = Vec::new();
        let mut b64 = String::new();
        let mut inside = false;
        let mut n = 0;
        for line in text.lines() {
            let line = line.trim();
            if line.starts_with("-----BEGIN CERTIFICATE") {
                inside = true;
                b64.clear();
            } else if line.starts_with("-----END CERTIFICATE") {
                inside = false;
                let der = base64::engine::general_purpose::STANDARD
                    .decode(b64.as_bytes())
                    .map_err(|e| format!("{origin}: bad base64: {e}"))?;
                let cert = Cert::from_der(&der).map_err(|e| format!("{origin}: {e}"))?;
                let metadata = std::mem::take(&mut meta);
                self.roots.push(Root {
                    cert,
                    origin: origin.to_string(),
                    policy: RootPolicy::from_metadata(&metadata),
                    metadata,
                });
                n += 1;
            } else if inside {
                b64.push_str(line);
            } else if let Some(c) = line.strip_prefix('#') {
                meta.push(c.trim().to_string());
            }
        }
        if n == 0 {
            return Err(format!("{origin}: no certificate in it"));
        }
        Ok(n)
    }

    /// Add a PEM or DER file.
    pub fn add_file(&mut self, path: &std::path::Path) -> Result<usize, String> {
        let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let origin = path.display().to_string();
        if bytes.first() == Some(&0x30) {
            let cert = Cert::from_der(&bytes).map_err(|e| format!("{origin}: {e}"))?;
            self.roots.push(Root {
                cert,
                origin,
                metadata: vec![],
                policy: RootPolicy::default(),
            });
            Ok(1)
        } else {
            let text = String::from_utf8_lossy(&bytes);
            self.add_pem(&text, &origin)
        }
    }

    fn find_anchor(&self, c: &Cert) -> Option<&Root> {
        self.roots.iter().find(|r| {
            r.cert.der == c.der
                || (r.cert.subject_der == c.subject_der
                    && r.cert.key.is_some()
                    && r.cert.key == c.key)
        })
    }
}

/// How a chain was judged.
#[derive(Debug, Clone, Serialize)]
pub struct Chain {
    /// Subjects from the signer up to the root.
    pub certs: Vec<String>,
    /// The trust anchor reached (its subject), if any.
    pub root: Option<String>,
    pub root_origin: Option<String>,
    /// Weak hash algorithms used by signatures in the chain.
    pub weak: Vec<String>,
    /// What is wrong: (finding code, text). Empty when the chain holds.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub problems: Vec<(Code, String)>,
    /// Notes (root-list metadata, missing extensions tolerated).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

/// Build and check the chain from `leaf` through `pool` to a root of
/// `store`, at time `at` (seconds since 1970), for the usages `purposes`
/// (any one of them on the leaf).
pub fn build(leaf: &Cert, pool: &[Cert], store: &RootStore, at: i64, purposes: &[&str]) -> Chain {
    let mut chain = Chain {
        certs: vec![leaf.subject.clone()],
        root: None,
        root_origin: None,
        weak: vec![],
        problems: vec![],
        notes: vec![],
    };
    let mut path: Vec<&Cert> = vec![leaf];
    let mut anchor: Option<&Root> = store.find_anchor(leaf);
    while anchor.is_none() {
        let cur = *path.last().unwrap_or(&leaf);
        if path.len() > MAX_CHAIN {
            chain.problems.push((
                Code::TrustChainBroken,
                format!("chain longer than {MAX_CHAIN} certificates (a loop?)"),
            ));
            return chain;
        }
        // A root first: a cross-signed copy in the pool must not hide it.
        let mut tried = Vec::new();
        let mut next: Option<&Cert> = None;
        for r in &store.roots {
            if r.cert.subject_der == cur.issuer_der {
                match cur.signed_by(&r.cert) {
                    Ok(()) => {
                        anchor = Some(r);
                        next = Some(&r.cert);
                        break;
                    }
                    Err(e) => tried.push(e),
                }
            }
        }
        if next.is_none() {
            for c in pool {
                if c.subject_der != cur.issuer_der || path.iter().any(|p| p.der == c.der) {
                    continue;
                }
                match cur.signed_by(c) {
                    Ok(()) => {
                        next = Some(c);
                        break;
                    }
                    Err(e) => tried.push(e),
                }
            }
        }
        let Some(n) = next else {
            if let Some(e) = tried.first() {
                chain.problems.push((
                    Code::TrustBadSignature,
                    format!("certificate {:?}: {e}", cur.subject),
                ));
            } else if cur.self_issued() {
                chain.problems.push((
                    Code::TrustUntrustedRoot,
                    format!(
                        "the chain ends at {:?} (SHA-1 {}), which is not a trusted root",
                        cur.subject,
                        cur.sha1_hex()
                    ),
                ));
            } else {
                chain.problems.push((
                    Code::TrustUntrustedRoot,
                    format!(
                        "no certificate of issuer {:?} (of {:?}) is embedded or trusted: the root is untrusted or missing",
                        cur.issuer, cur.subject
                    ),
                ));
            }
            return chain;
        };
        if let Some(a) = cur.sig_alg.filter(|a| a.weak()) {
            chain
                .weak
                .push(format!("{} signs {:?}", a.name(), cur.subject));
        }
        if anchor.is_none() {
            chain.certs.push(n.subject.clone());
        }
        path.push(n);
    }
    let root = anchor.expect("loop ends with an anchor");
    chain.certs.push(root.cert.subject.clone());
    chain.certs.dedup();
    chain.root = Some(root.cert.subject.clone());
    chain.root_origin = Some(root.origin.clone());
    // Microsoft's root list, as Windows applies it.
    let policy = &root.policy;
    if let Some(d) = policy.disallowed_from
        && at >= d
    {
        chain.problems.push((
            Code::TrustUntrustedRoot,
            format!(
                "Microsoft's root list disallows {:?} from {}; this signature's time is {}",
                root.cert.subject,
                crate::time::format_unix(d),
                crate::time::format_unix(at)
            ),
        ));
    }
    if let Some(n) = policy.issued_before {
        for c in path.iter().filter(|c| c.der != root.cert.der) {
            if c.not_before >= n {
                chain.problems.push((
                    Code::TrustUntrustedRoot,
                    format!(
                        "Microsoft's root list trusts certificates under {:?} only if issued before {}; {:?} was issued {}",
                        root.cert.subject,
                        crate::time::format_unix(n),
                        c.subject,
                        crate::time::format_unix(c.not_before)
                    ),
                ));
            }
        }
    }
    if let Some(allowed) = &policy.purposes
        && !purposes.iter().any(|p| allowed.iter().any(|a| a == p))
    {
        chain.problems.push((
            Code::TrustUntrustedRoot,
            format!(
                "Microsoft's root list trusts {:?} only for {}, not for {}",
                root.cert.subject,
                allowed.join(", "),
                purposes.join(", ")
            ),
        ));
    }
    // Validity at `at`, CA flags, usages.
    let mut certs: Vec<&Cert> = path.clone();
    if certs.last().map(|c| c.der != root.cert.der).unwrap_or(true) {
        certs.push(&root.cert);
    }
    for (i, c) in certs.iter().enumerate() {
        if at < c.not_before || at > c.not_after {
            chain.problems.push((
                Code::TrustExpired,
                format!(
                    "{:?} is valid {} to {}, not at {}",
                    c.subject,
                    crate::time::format_unix(c.not_before),
                    crate::time::format_unix(c.not_after),
                    crate::time::format_unix(at)
                ),
            ));
        }
        if i > 0 {
            if c.ca == Some(false) {
                chain.problems.push((
                    Code::TrustNotACa,
                    format!(
                        "{:?} issues certificates but its basic constraints say it is not a CA",
                        c.subject
                    ),
                ));
            }
            if c.key_cert_sign == Some(false) {
                chain.problems.push((
                    Code::TrustKeyUsage,
                    format!(
                        "{:?} issues certificates but its key usage lacks keyCertSign",
                        c.subject
                    ),
                ));
            }
            if c.ca.is_none() && i < certs.len() - 1 {
                chain.notes.push(format!(
                    "{:?} has no basic constraints (tolerated)",
                    c.subject
                ));
            }
        }
    }
    if leaf.digital_signature == Some(false) {
        chain.problems.push((
            Code::TrustKeyUsage,
            format!("{:?}: key usage lacks digitalSignature", leaf.subject),
        ));
    }
    if let Some(eku) = &leaf.eku
        && !purposes.iter().any(|p| eku.iter().any(|e| e == p))
        && !eku.iter().any(|e| e == EKU_ANY)
    {
        chain.problems.push((
            Code::TrustKeyUsage,
            format!(
                "{:?}: extended key usage {} has none of {}",
                leaf.subject,
                eku.join(", "),
                purposes.join(", ")
            ),
        ));
    }
    // Intermediates that restrict usages must allow the purpose too.
    for c in certs.iter().skip(1) {
        if let Some(eku) = &c.eku
            && !purposes.iter().any(|p| eku.iter().any(|e| e == p))
            && !eku.iter().any(|e| e == EKU_ANY)
        {
            chain.problems.push((
                Code::TrustKeyUsage,
                format!(
                    "{:?} restricts extended key usage to {}, none of {}",
                    c.subject,
                    eku.join(", "),
                    purposes.join(", ")
                ),
            ));
        }
    }
    chain
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `dn_text` writes a name as x509-cert's `Display` does: the subject
    /// and issuer of every embedded root and of the TEST-ONLY CA, and names
    /// with escapes, several attributes in one RDN, a type const-oid does
    /// not name and a value x509-cert writes as hex.
    #[test]
    fn dn_text_is_x509_certs_text() {
        use std::str::FromStr as _;
        let test_root = include_str!("../../../../testdata/trust/test-keys/TEST-ONLY-root.pem");
        let mut store = RootStore::microsoft();
        store.add_pem(test_root, "test").expect("test root");
        let mut seen = 0;
        for r in &store.roots {
            let c = CertificateInner::<Raw>::from_der(&r.cert.der).expect("root");
            for name in [c.tbs_certificate().subject(), c.tbs_certificate().issuer()] {
                assert_eq!(dn_text(name), name.to_string());
                seen += 1;
            }
        }
        assert!(seen >= 20, "{seen} names");
        for text in [
            "CN=a\\,b+O=x,OU=\\ lead,C=US",
            "CN=\\#hash;x",
            "CN=trailing\\ ,O=q\\\"uote",
            "1.2.3.4=#0c0161,CN=x",
            "2.5.4.3=#020101",
            "DC=example,DC=com,L=Redmond,ST=Washington",
        ] {
            let name = x509_cert::name::Name::from_str(text).expect(text);
            assert_eq!(dn_text(&name), name.to_string(), "{text}");
        }
    }

    #[test]
    fn embedded_roots_parse() {
        let s = RootStore::microsoft();
        assert_eq!(s.roots.len(), 10);
        assert!(
            s.roots
                .iter()
                .any(|r| r.cert.subject == "Microsoft Root Certificate Authority 2010")
        );
        assert!(s.roots.iter().all(|r| !r.metadata.is_empty()));
    }

    #[test]
    fn root_list_policies_are_read() {
        let s = RootStore::microsoft();
        let policy = |name: &str| {
            s.roots
                .iter()
                .find(|r| r.cert.subject == name)
                .map(|r| r.policy.clone())
                .unwrap()
        };
        let old = policy("Microsoft Root Certificate Authority");
        assert_eq!(old.disallowed_from, Some(1_627_776_000)); // 2021-08-01
        assert_eq!(old.issued_before, Some(1_493_510_400)); // 2017-04-30
        assert_eq!(old.purposes, None);
        let tls = policy("Microsoft RSA Root Certificate Authority 2017");
        assert_eq!(
            tls.purposes.as_deref(),
            Some(
                &[
                    "1.3.6.1.5.5.7.3.2".to_string(),
                    "1.3.6.1.5.5.7.3.1".to_string()
                ][..]
            )
        );
        assert_eq!(
            policy("Microsoft Root Certificate Authority 2010"),
            RootPolicy::default()
        );
    }

    /// A root's own certificate as the leaf: the chain is the root alone, so
    /// only the list's rules can fail it.
    #[test]
    fn root_list_rules_are_enforced() {
        let s = RootStore::microsoft();
        let root = |name: &str| s.roots.iter().find(|r| r.cert.subject == name).unwrap();
        let problems = |name: &str, at: i64, purposes: &[&str]| {
            build(&root(name).cert, &[], &s, at, purposes)
                .problems
                .into_iter()
                .filter(|(_, t)| t.contains("root list"))
                .map(|(_, t)| t)
                .collect::<Vec<_>>()
        };
        let old = "Microsoft Root Certificate Authority";
        // 2015: before the 2021-08-01 cut-off.
        assert!(problems(old, 1_420_070_400, &[EKU_CODE_SIGNING]).is_empty());
        // 2022: disallowed.
        let p = problems(old, 1_640_995_200, &[EKU_CODE_SIGNING]);
        assert!(p.len() == 1 && p[0].contains("disallows"), "{p:?}");
        // A TLS-only root is not trusted for code signing.
        let p = problems(
            "Microsoft RSA Root Certificate Authority 2017",
            1_640_995_200,
            &[EKU_CODE_SIGNING],
        );
        assert!(p.len() == 1 && p[0].contains("only for"), "{p:?}");
        assert!(
            problems(
                "Microsoft Time Stamp Root Certificate Authority 2014",
                1_640_995_200,
                &[EKU_TIME_STAMPING]
            )
            .is_empty()
        );
    }
}
