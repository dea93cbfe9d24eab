//! Catalogs: the certificate trust list (CTL) inside a `.cat`.

use der::asn1::{AnyRef, ObjectIdentifier, OctetStringRef, SetOfVec};
use der::{Decode, Tagged};
use serde::Serialize;

use super::digest::Alg;
use super::pkcs7::{DigestInfo, OID_SPC_INDIRECT, SpcAttributeTypeAndOptionalValue};

/// Most entries read from one catalog (real ones: tens of thousands).
pub const MAX_ENTRIES: usize = 1_000_000;

// Compared as OIDs, not as text: a catalog has tens of thousands.
const OID_NAME_VALUE: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.4.1.311.12.2.1");
const OID_PE_IMAGE: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.4.1.311.2.1.15");
const OID_FLAT: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.4.1.311.2.1.25");
const OID_INDIRECT: ObjectIdentifier = ObjectIdentifier::new_unwrap(OID_SPC_INDIRECT);
const OID_SHA1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.14.3.2.26");
const OID_SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.1");

/// One CTL subject: `SEQUENCE { tag OCTET STRING, attributes SET OF Attribute }`,
/// borrowed from the CTL's bytes (a catalog has tens of thousands: no copy
/// of each attribute value).
#[derive(Debug, Clone, der::Sequence)]
struct Subject<'a> {
    tag: &'a OctetStringRef,
    attributes: Option<SetOfVec<AttributeRef<'a>>>,
}

/// `x509_cert::attr::Attribute`, borrowed: the same DER rules (a SET OF in
/// DER order, decoded the same way), its values not copied.
#[derive(Debug, Clone, PartialEq, Eq, der::Sequence, der::ValueOrd)]
struct AttributeRef<'a> {
    oid: ObjectIdentifier,
    values: SetOfVec<AnyRef<'a>>,
}

/// `SpcIndirectDataContent` with its `data` and `DigestInfo`, as catalog
/// members carry it.
#[derive(Debug, Clone, der::Sequence)]
struct MemberIndirect {
    data: SpcAttributeTypeAndOptionalValue,
    digest: DigestInfo,
}

/// How an entry's hash was computed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum EntryKind {
    /// The hash of the file's bytes.
    Flat,
    /// The PE Authenticode hash.
    PeImage,
    /// No SpcIndirectData attribute: the tag alone.
    Unknown,
}

/// One catalog member.
#[derive(Debug, Clone, Serialize)]
pub struct Entry {
    /// The hash (the tag, or the attribute's digest).
    #[serde(serialize_with = "ser_hex")]
    pub hash: Vec<u8>,
    pub alg: Option<Alg>,
    pub kind: EntryKind,
    /// The `File` name/value attribute.
    pub file: Option<String>,
}

fn ser_hex<S: serde::Serializer>(d: &[u8], s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&hex::encode(d))
}

/// A parsed CTL.
#[derive(Debug, Clone, Default)]
pub struct Ctl {
    pub entries: Vec<Entry>,
    /// `subjectAlgorithm` OID.
    pub subject_algorithm: Option<String>,
}

impl Ctl {
    /// Index of entries by hash.
    pub fn hashes(&self) -> impl Iterator<Item = (&[u8], usize)> {
        self.entries
            .iter()
            .enumerate()
            .map(|(i, e)| (e.hash.as_slice(), i))
    }
}

/// The tag: raw hash bytes, or (older catalogs) the hash as UTF-16 hex.
fn tag_bytes(tag: &[u8]) -> Vec<u8> {
    if matches!(tag.len(), 80 | 82 | 128 | 130) {
        let units: Vec<u16> = tag
            .chunks(2)
            .map(|c| u16::from_le_bytes([c[0], c[1]]))
            .collect();
        if let Ok(s) = String::from_utf16(&units)
            && let Ok(h) = hex::decode(s.trim_end_matches('\0'))
        {
            return h;
        }
    }
    tag.to_vec()
}

/// The hashes a catalog lists, read without checking its signature: a
/// hint for the model, which computes the PE Authenticode hashes of a
/// rebuilt file only when its flat hashes are not listed (the trust check
/// itself reads only catalogs whose signature verifies). Empty when the
/// bytes are not a readable catalog.
pub fn listed_hashes(cat: &[u8]) -> Vec<Vec<u8>> {
    match read_unverified(cat) {
        Some((_, Ok(ctl))) => ctl.entries.into_iter().map(|e| e.hash).collect(),
        _ => Vec::new(),
    }
}

/// The CTL of a catalog, read without checking its signature: where its
/// DER lies in `cat`, and its parse. `None` when the bytes are not a
/// readable SignedData with content. The trust check reuses the parse for
/// a catalog whose verified content is these very bytes
/// ([`super::verify_bytes_with`]): each CTL is parsed once.
pub fn read_unverified(cat: &[u8]) -> Option<(std::ops::Range<usize>, Result<Ctl, String>)> {
    use super::tlv;
    // ContentInfo { contentType, [0] SignedData { version, digestAlgorithms,
    // EncapsulatedContentInfo { eContentType, [0] eContent } ... } }.
    let ctl_der = || -> Option<&[u8]> {
        let ci = tlv::children(tlv::read(cat).ok()?.0.value).ok()?;
        let sd = tlv::read(ci.get(1).filter(|t| t.tag == 0xa0)?.value)
            .ok()?
            .0;
        let eci = tlv::children(tlv::children(sd.value).ok()?.get(2)?.value).ok()?;
        let content = eci.get(1).filter(|t| t.tag == 0xa0)?;
        Some(tlv::read(content.value).ok()?.0.raw)
    };
    let der = ctl_der()?;
    let start = (der.as_ptr() as usize).checked_sub(cat.as_ptr() as usize)?;
    Some((start..start + der.len(), parse(der)))
}

/// Parse the CTL DER (the SignedData content, a SEQUENCE).
pub fn parse(ctl_der: &[u8]) -> Result<Ctl, String> {
    // Borrowed: the subjects' SEQUENCE is most of the catalog.
    let fields: Vec<AnyRef<'_>> =
        Vec::<AnyRef<'_>>::from_der(ctl_der).map_err(|e| format!("CTL: {e}"))?;
    // subjectUsage, [listIdentifier], [sequenceNumber], thisUpdate,
    // [nextUpdate], subjectAlgorithm, [subjects], [extensions]: the
    // subjects are the SEQUENCE after the one that follows the time.
    let mut out = Ctl::default();
    let mut seen_time = false;
    let mut after_alg = false;
    for f in &fields {
        let tag = f.tag();
        if matches!(tag, der::Tag::UtcTime | der::Tag::GeneralizedTime) {
            seen_time = true;
            continue;
        }
        if tag != der::Tag::Sequence || !seen_time {
            continue;
        }
        if !after_alg {
            if let Ok(alg) = f.decode_as::<spki::AlgorithmIdentifierOwned>() {
                out.subject_algorithm = Some(alg.oid.to_string());
            }
            after_alg = true;
            continue;
        }
        let subjects: Vec<Subject> = f.decode_as().map_err(|e| format!("CTL subjects: {e}"))?;
        if subjects.len() > MAX_ENTRIES {
            return Err(format!(
                "{} catalog entries, more than {MAX_ENTRIES}",
                subjects.len()
            ));
        }
        for s in subjects {
            out.entries.push(entry(&s));
        }
        break;
    }
    Ok(out)
}

fn entry(s: &Subject) -> Entry {
    let tag = tag_bytes(s.tag.as_bytes());
    let mut e = Entry {
        alg: match tag.len() {
            20 => Some(Alg::Sha1),
            32 => Some(Alg::Sha256),
            _ => None,
        },
        hash: tag,
        kind: EntryKind::Unknown,
        file: None,
    };
    for a in s.attributes.iter().flat_map(|a| a.iter()) {
        let oid = a.oid;
        for v in a.values.iter() {
            if oid == OID_INDIRECT {
                if let Ok(mi) = v.decode_as::<MemberIndirect>() {
                    let t = mi.data.type_;
                    e.kind = if t == OID_PE_IMAGE {
                        EntryKind::PeImage
                    } else if t == OID_FLAT {
                        EntryKind::Flat
                    } else {
                        EntryKind::Unknown
                    };
                    let d = mi.digest.algorithm.oid;
                    e.alg = if d == OID_SHA1 {
                        Some(Alg::Sha1)
                    } else if d == OID_SHA256 {
                        Some(Alg::Sha256)
                    } else {
                        Alg::from_oid(&d.to_string())
                    }
                    .or(e.alg);
                    e.hash = mi.digest.digest.as_bytes().to_vec();
                }
            } else if oid == OID_NAME_VALUE
                && let Ok((name, value)) = name_value(v)
                && name == "File"
            {
                e.file = Some(value);
            }
        }
    }
    e
}

/// `SEQUENCE { name BMPString, flags INTEGER, value OCTET STRING (UTF-16LE) }`.
fn name_value(v: &AnyRef<'_>) -> Result<(String, String), der::Error> {
    #[derive(der::Sequence)]
    struct NameValue<'a> {
        name: AnyRef<'a>,
        flags: AnyRef<'a>,
        value: &'a OctetStringRef,
    }
    let nv: NameValue<'_> = v.decode_as()?;
    let _ = &nv.flags;
    let name: String = nv
        .name
        .value()
        .chunks(2)
        .filter_map(|c| char::from_u32(u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)]) as u32))
        .collect();
    let units: Vec<u16> = nv
        .value
        .as_bytes()
        .chunks(2)
        .map(|c| u16::from_le_bytes([c[0], *c.get(1).unwrap_or(&0)]))
        .collect();
    let value = String::from_utf16_lossy(&units)
        .trim_end_matches('\0')
        .to_string();
    Ok((name, value))
}
