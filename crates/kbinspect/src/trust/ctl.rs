//! Catalogs: the certificate trust list (CTL) inside a `.cat`.

use der::asn1::{AnyRef, ObjectIdentifier, OctetStringRef};
use der::{Decode, Reader as _, Tagged};
use serde::Serialize;

use super::digest::Alg;
use super::pkcs7::OID_SPC_INDIRECT;

/// Most entries read from one catalog (real ones: tens of thousands).
pub const MAX_ENTRIES: usize = 1_000_000;

// Compared as OIDs, not as text: a catalog has tens of thousands.
const OID_NAME_VALUE: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.4.1.311.12.2.1");
const OID_PE_IMAGE: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.4.1.311.2.1.15");
const OID_FLAT: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.4.1.311.2.1.25");
const OID_INDIRECT: ObjectIdentifier = ObjectIdentifier::new_unwrap(OID_SPC_INDIRECT);
const OID_SHA1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.14.3.2.26");
const OID_SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.1");

/// One CTL subject: `SEQUENCE { tag OCTET STRING, attributes SET OF
/// Attribute }`, borrowed from the CTL's bytes. A catalog has tens of
/// thousands: the attributes are walked in place (no vector of them, no
/// copy of a value) and OIDs compared as their encoded bytes.
#[derive(Debug, Clone, der::Sequence)]
struct Subject<'a> {
    tag: &'a OctetStringRef,
    attributes: Option<AnyRef<'a>>,
}

/// An `Attribute { type OBJECT IDENTIFIER, values SET OF ANY }`, borrowed.
#[derive(Debug, Clone, der::Sequence)]
struct AttributeRef<'a> {
    oid: AnyRef<'a>,
    values: AnyRef<'a>,
}

/// `SpcIndirectDataContent` with its `data` and `DigestInfo`, as catalog
/// members carry it, borrowed.
#[derive(Debug, Clone, der::Sequence)]
struct MemberIndirect<'a> {
    data: TypeAndValueRef<'a>,
    digest: DigestInfoRef<'a>,
}

/// `SpcAttributeTypeAndOptionalValue`, borrowed.
#[derive(Debug, Clone, der::Sequence)]
struct TypeAndValueRef<'a> {
    type_: AnyRef<'a>,
    value: Option<AnyRef<'a>>,
}

/// `DigestInfo`, borrowed.
#[derive(Debug, Clone, der::Sequence)]
struct DigestInfoRef<'a> {
    algorithm: AlgorithmRef<'a>,
    digest: &'a OctetStringRef,
}

/// `AlgorithmIdentifier`, borrowed.
#[derive(Debug, Clone, der::Sequence)]
struct AlgorithmRef<'a> {
    oid: AnyRef<'a>,
    parameters: Option<AnyRef<'a>>,
}

/// Whether `any` is the OBJECT IDENTIFIER `oid`.
fn is_oid(any: &AnyRef<'_>, oid: &ObjectIdentifier) -> bool {
    any.tag() == der::Tag::ObjectIdentifier && any.value() == oid.as_bytes()
}

/// Each element of a SET or SEQUENCE's contents, in order.
fn each_element<'a>(
    contents: &'a [u8],
    mut f: impl FnMut(AnyRef<'a>) -> der::Result<()>,
) -> der::Result<()> {
    let mut r = der::SliceReader::new(contents)?;
    while !r.is_finished() {
        f(r.decode()?)?;
    }
    Ok(())
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

/// The tag: raw hash bytes, or (older catalogs) the hash as UTF-16LE hex
/// text, NUL-terminated or not.
fn tag_bytes(tag: &[u8]) -> Vec<u8> {
    if matches!(tag.len(), 80 | 82 | 128 | 130) {
        let digits = tag.len() / 4 * 2;
        let nibble = |i: usize| match tag.get(2 * i..2 * i + 2) {
            Some(&[c, 0]) => (c as char).to_digit(16),
            _ => None,
        };
        let terminated = tag.len().is_multiple_of(4) || tag.get(tag.len() - 2..) == Some(&[0, 0]);
        let hash: Option<Vec<u8>> = (0..digits / 2)
            .map(|i| Some((nibble(2 * i)? << 4 | nibble(2 * i + 1)?) as u8))
            .collect();
        if let Some(h) = hash.filter(|_| terminated) {
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
        let mut r = der::SliceReader::new(f.value()).map_err(|e| format!("CTL subjects: {e}"))?;
        while !r.is_finished() {
            if out.entries.len() == MAX_ENTRIES {
                return Err(format!("more than {MAX_ENTRIES} catalog entries"));
            }
            let at = out.entries.len();
            let entry = r
                .decode::<Subject<'_>>()
                .and_then(|s| entry(&s))
                .map_err(|e| format!("CTL subject {at}: {e}"))?;
            out.entries.push(entry);
        }
        break;
    }
    Ok(out)
}

fn entry(s: &Subject<'_>) -> der::Result<Entry> {
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
    let Some(attributes) = &s.attributes else {
        return Ok(e);
    };
    each_element(attributes.value(), |a| {
        let a: AttributeRef<'_> = a.decode_as()?;
        let indirect = is_oid(&a.oid, &OID_INDIRECT);
        let name_value = is_oid(&a.oid, &OID_NAME_VALUE);
        if !indirect && !name_value {
            return Ok(());
        }
        each_element(a.values.value(), |v| {
            if indirect {
                if let Ok(mi) = v.decode_as::<MemberIndirect<'_>>() {
                    read_indirect(&mut e, &mi);
                }
            } else if let Ok(Some(file)) = file_name(&v) {
                e.file = Some(file);
            }
            Ok(())
        })
    })?;
    Ok(e)
}

/// The hash an entry's `SpcIndirectData` attribute gives, its algorithm and
/// whether it is a PE image's.
fn read_indirect(e: &mut Entry, mi: &MemberIndirect<'_>) {
    let t = &mi.data.type_;
    e.kind = if is_oid(t, &OID_PE_IMAGE) {
        EntryKind::PeImage
    } else if is_oid(t, &OID_FLAT) {
        EntryKind::Flat
    } else {
        EntryKind::Unknown
    };
    let d = &mi.digest.algorithm.oid;
    e.alg = if is_oid(d, &OID_SHA1) {
        Some(Alg::Sha1)
    } else if is_oid(d, &OID_SHA256) {
        Some(Alg::Sha256)
    } else {
        d.decode_as::<ObjectIdentifier>()
            .ok()
            .and_then(|o| Alg::from_oid(&o.to_string()))
    }
    .or(e.alg);
    e.hash = mi.digest.digest.as_bytes().to_vec();
}

/// The value of a `File` name/value attribute: `SEQUENCE { name BMPString,
/// flags INTEGER, value OCTET STRING (UTF-16LE) }` (`None` for another
/// name).
fn file_name(v: &AnyRef<'_>) -> Result<Option<String>, der::Error> {
    #[derive(der::Sequence)]
    struct NameValue<'a> {
        name: AnyRef<'a>,
        flags: AnyRef<'a>,
        value: &'a OctetStringRef,
    }
    // "File" in UTF-16BE, as a BMPString holds it.
    const FILE: &[u8] = b"\0F\0i\0l\0e";
    let nv: NameValue<'_> = v.decode_as()?;
    let _ = &nv.flags;
    if nv.name.value() != FILE {
        return Ok(None);
    }
    let units = nv
        .value
        .as_bytes()
        .chunks(2)
        .map(|c| u16::from_le_bytes([c[0], *c.get(1).unwrap_or(&0)]));
    let mut value: String = char::decode_utf16(units)
        .map(|c| c.unwrap_or(char::REPLACEMENT_CHARACTER))
        .collect();
    value.truncate(value.trim_end_matches('\0').len());
    Ok(Some(value))
}
