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

/// One catalog member: a catalog lists tens of thousands, so the hash is
/// held inline and the `File` name is not kept (see [`file_names`]).
#[derive(Debug, Clone, Serialize)]
pub struct Entry {
    /// The hash (the tag, or the attribute's digest).
    pub hash: Hash,
    pub alg: Option<Alg>,
    pub kind: EntryKind,
}

/// A listed hash, up to 32 bytes (SHA-256) inline. A longer tag cannot be
/// any hash we compute: it is kept as its first 32 bytes, marked too long,
/// and [`Hash::as_slice`] gives nothing that a lookup could match.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Hash {
    len: u8,
    bytes: [u8; 32],
}

impl Hash {
    fn new(h: &[u8]) -> Hash {
        let mut bytes = [0; 32];
        let n = h.len().min(32);
        bytes[..n].copy_from_slice(&h[..n]);
        Hash {
            len: if h.len() > 32 { u8::MAX } else { n as u8 },
            bytes,
        }
    }

    /// The hash's bytes; empty for a tag longer than 32 bytes.
    pub fn as_slice(&self) -> &[u8] {
        self.bytes.get(..usize::from(self.len)).unwrap_or(&[])
    }
}

impl std::fmt::Debug for Hash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&hex::encode(self.as_slice()))
    }
}

impl Serialize for Hash {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&hex::encode(self.as_slice()))
    }
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
            .filter(|(h, _)| !h.is_empty())
    }
}

/// The tag: raw hash bytes, or (older catalogs) the hash as UTF-16LE hex
/// text, NUL-terminated or not.
fn tag_hash(tag: &[u8]) -> Hash {
    if matches!(tag.len(), 80 | 82 | 128 | 130) {
        let digits = tag.len() / 4 * 2;
        let nibble = |i: usize| match tag.get(2 * i..2 * i + 2) {
            Some(&[c, 0]) => (c as char).to_digit(16),
            _ => None,
        };
        let terminated = tag.len().is_multiple_of(4) || tag.get(tag.len() - 2..) == Some(&[0, 0]);
        let mut out = [0u8; 32];
        let n = digits / 2;
        let decoded = terminated
            && out.iter_mut().take(n).enumerate().all(|(i, o)| {
                match (nibble(2 * i), nibble(2 * i + 1)) {
                    (Some(h), Some(l)) => {
                        *o = (h << 4 | l) as u8;
                        true
                    }
                    _ => false,
                }
            });
        if decoded {
            return Hash::new(&out[..n]);
        }
    }
    Hash::new(tag)
}

/// The CTL of a catalog, read without checking its signature: where its
/// DER lies in `cat`, and its parse. `None` when the bytes are not a
/// readable SignedData with content. The trust check reuses the parse for
/// a catalog whose verified content is these very bytes
/// ([`super::verify_bytes_with`]): each CTL is parsed once.
pub fn read_unverified(cat: &[u8]) -> Option<(std::ops::Range<usize>, Result<Ctl, String>)> {
    let range = locate(cat)?;
    let der = cat.get(range.clone())?;
    Some((range, parse(der)))
}

/// Where the CTL's DER lies in a catalog's bytes, found by walking the
/// SignedData's first fields (nothing is checked).
fn locate(cat: &[u8]) -> Option<std::ops::Range<usize>> {
    use super::tlv;
    // ContentInfo { contentType, [0] SignedData { version, digestAlgorithms,
    // EncapsulatedContentInfo { eContentType, [0] eContent } ... } }.
    let ci = tlv::children(tlv::read(cat).ok()?.0.value).ok()?;
    let sd = tlv::read(ci.get(1).filter(|t| t.tag == 0xa0)?.value)
        .ok()?
        .0;
    let eci = tlv::children(tlv::children(sd.value).ok()?.get(2)?.value).ok()?;
    let content = eci.get(1).filter(|t| t.tag == 0xa0)?;
    let der = tlv::read(content.value).ok()?.0.raw;
    let start = (der.as_ptr() as usize).checked_sub(cat.as_ptr() as usize)?;
    Some(start..start + der.len())
}

/// The `File` names a catalog's CTL lists (lower-cased, read without
/// checking its signature): only needed to say which catalog lists a file
/// whose hash it does not, so not kept with every entry.
pub fn file_names(cat: &[u8]) -> Vec<String> {
    let mut names = Vec::new();
    if let Some(der) = locate(cat).and_then(|r| cat.get(r)) {
        let _ = parse_with(der, Some(&mut names));
    }
    names
}

/// Parse the CTL DER (the SignedData content, a SEQUENCE).
pub fn parse(ctl_der: &[u8]) -> Result<Ctl, String> {
    parse_with(ctl_der, None)
}

/// [`parse`], collecting the entries' `File` names into `names` if given.
fn parse_with(ctl_der: &[u8], mut names: Option<&mut Vec<String>>) -> Result<Ctl, String> {
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
                .and_then(|s| entry(&s, names.as_deref_mut()))
                .map_err(|e| format!("CTL subject {at}: {e}"))?;
            out.entries.push(entry);
        }
        break;
    }
    // Kept for the trust check (a package has dozens of catalogs of
    // thousands of entries): the doubling's spare room goes back.
    out.entries.shrink_to_fit();
    Ok(out)
}

fn entry(s: &Subject<'_>, mut names: Option<&mut Vec<String>>) -> der::Result<Entry> {
    let tag = tag_hash(s.tag.as_bytes());
    let mut e = Entry {
        alg: match tag.as_slice().len() {
            20 => Some(Alg::Sha1),
            32 => Some(Alg::Sha256),
            _ => None,
        },
        hash: tag,
        kind: EntryKind::Unknown,
    };
    let Some(attributes) = &s.attributes else {
        return Ok(e);
    };
    each_element(attributes.value(), |a| {
        let a: AttributeRef<'_> = a.decode_as()?;
        let indirect = is_oid(&a.oid, &OID_INDIRECT);
        let name_value = names.is_some() && is_oid(&a.oid, &OID_NAME_VALUE);
        if !indirect && !name_value {
            return Ok(());
        }
        each_element(a.values.value(), |v| {
            if indirect {
                if let Ok(mi) = v.decode_as::<MemberIndirect<'_>>() {
                    read_indirect(&mut e, &mi);
                }
            } else if let (Ok(Some(file)), Some(names)) = (file_name(&v), names.as_deref_mut()) {
                names.push(file.to_ascii_lowercase());
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
    e.hash = Hash::new(mi.digest.digest.as_bytes());
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

#[cfg(test)]
mod tests {
    use super::*;

    fn utf16(s: &str) -> Vec<u8> {
        s.encode_utf16().flat_map(u16::to_le_bytes).collect()
    }

    #[test]
    fn tags_as_utf16_hex_decode_to_the_hash() {
        let sha1 = "0123456789ABCDEF0123456789abcdef01234567";
        let want = hex::decode(sha1).unwrap();
        assert_eq!(tag_hash(&utf16(sha1)).as_slice(), want);
        // NUL-terminated, as some catalogs write it.
        assert_eq!(tag_hash(&utf16(&format!("{sha1}\0"))).as_slice(), want);
        let sha256 = "ab".repeat(32);
        assert_eq!(tag_hash(&utf16(&sha256)).as_slice(), [0xab; 32]);
        // Not hex: the tag's own 80 bytes, longer than any hash, so it
        // matches nothing.
        let text = utf16(&"zz".repeat(20));
        assert_eq!(tag_hash(&text).as_slice(), &[] as &[u8]);
        let raw = [7u8; 20];
        assert_eq!(tag_hash(&raw).as_slice(), raw);
    }

    #[test]
    fn tags_longer_than_a_hash_match_nothing() {
        assert_eq!(Hash::new(&[1; 33]).as_slice(), &[] as &[u8]);
        assert_eq!(Hash::new(&[1; 16]).as_slice(), [1; 16]);
        assert_eq!(Hash::new(&[]).as_slice(), &[] as &[u8]);
        let ctl = Ctl {
            entries: vec![Entry {
                hash: Hash::new(&[1; 40]),
                alg: None,
                kind: EntryKind::Unknown,
            }],
            subject_algorithm: None,
        };
        assert_eq!(ctl.hashes().count(), 0);
    }
}
