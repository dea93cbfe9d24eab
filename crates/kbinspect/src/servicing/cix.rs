//! Container indexes: `_manifest_.cix.xml` and `*.psf.cix.xml`
//! (namespace `urn:ContainerIndex`).
//!
//! Each `<File>` is one target file of the package (a manifest, a mum, a
//! payload) with its length, FILETIME and SHA-256, and a `<Delta>` saying how
//! to produce it: a `<Source>` (stored RAW under a name, or a PA30/PA19 delta
//! stored under a name or at an offset of a `.psf`) applied to the output of
//! the `<Basis>` file, if any. A `<Delta>` with only a `<Basis>` is a copy.

use serde::Serialize;

use super::xml::{self, Element, XmlError, XmlLimits, ns_cix};

/// A hash as written in the index: algorithm name and lower-case hex.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CixHash {
    /// `SHA256`, `SHA1`: interned, as every entry of an index names one.
    pub alg: crate::atom::Atom,
    pub hex: HexValue,
}

/// A hash value as written in an index, lower-cased: held as its bytes
/// when it is hex of up to 32 bytes (an index of the generated 300 MB
/// package has 10,400 of them; as text each took 104 bytes, as bytes 40),
/// else as the text itself, so that what is reported is what is written.
/// Compared with and shown as its lower-case hex text.
#[derive(Clone, PartialEq, Eq)]
pub enum HexValue {
    Bytes { len: u8, bytes: [u8; 32] },
    Text(Box<str>),
}

impl HexValue {
    /// From an attribute's value (trimmed and lower-cased here).
    pub fn parse(text: &str) -> HexValue {
        let text = text.trim();
        let mut bytes = [0u8; 32];
        if text.len() <= 64 && hex::decode_to_slice(text, &mut bytes[..text.len() / 2]).is_ok() {
            return HexValue::Bytes {
                len: (text.len() / 2) as u8,
                bytes,
            };
        }
        HexValue::Text(text.to_ascii_lowercase().into_boxed_str())
    }

    /// The value's bytes, when it is hex.
    pub fn bytes(&self) -> Option<&[u8]> {
        match self {
            HexValue::Bytes { len, bytes } => Some(&bytes[..usize::from(*len)]),
            HexValue::Text(_) => None,
        }
    }

    fn is(&self, text: &str) -> bool {
        match self {
            HexValue::Bytes { len, bytes } => {
                let n = usize::from(*len);
                let mut buf = [0u8; 64];
                text.len() == 2 * n
                    && hex::encode_to_slice(&bytes[..n], &mut buf[..2 * n]).is_ok()
                    && buf[..2 * n] == *text.as_bytes()
            }
            HexValue::Text(t) => **t == *text,
        }
    }
}

impl std::fmt::Display for HexValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            HexValue::Bytes { len, bytes } => {
                for b in &bytes[..usize::from(*len)] {
                    write!(f, "{b:02x}")?;
                }
                Ok(())
            }
            HexValue::Text(t) => f.write_str(t),
        }
    }
}

impl std::fmt::Debug for HexValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}", self.to_string())
    }
}

impl Serialize for HexValue {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl PartialEq<str> for HexValue {
    fn eq(&self, other: &str) -> bool {
        self.is(other)
    }
}

impl PartialEq<&str> for HexValue {
    fn eq(&self, other: &&str) -> bool {
        self.is(other)
    }
}

impl PartialEq<String> for HexValue {
    fn eq(&self, other: &String) -> bool {
        self.is(other)
    }
}

impl CixHash {
    pub fn is_sha256(&self) -> bool {
        self.alg.eq_ignore_ascii_case("SHA256")
    }

    pub fn is_sha1(&self) -> bool {
        self.alg.eq_ignore_ascii_case("SHA1")
    }
}

/// How a source is encoded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum SourceType {
    Raw,
    Pa30,
    Pa19,
    #[serde(untagged)]
    Other(Box<str>),
}

/// Where a source's bytes are.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SourceLocation {
    /// A member of the same container, by name (the entry's own name,
    /// shared, when it is the same, as it is for every RAW source).
    Name(std::sync::Arc<str>),
    /// A byte range of the `.psf` payload file.
    Range { offset: u64, length: u64 },
    /// Neither given.
    Unknown,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CixSource {
    #[serde(rename = "type")]
    pub type_: SourceType,
    pub location: SourceLocation,
    /// Hash of the stored source bytes (the delta blob itself for PA30).
    pub hash: Option<CixHash>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CixDelta {
    pub source: Option<CixSource>,
    /// `<Basis file=id>`: the file whose reconstructed output is the
    /// delta's source (or which is copied when there is no source).
    pub basis: Option<u64>,
}

/// One `<File>`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CixFile {
    pub id: u64,
    /// Target name; payloads are `keyform\file`.
    pub name: std::sync::Arc<str>,
    pub length: u64,
    /// FILETIME (100 ns since 1601-01-01 UTC).
    pub time: Option<u64>,
    pub attr: Option<u32>,
    /// Hash of the target bytes.
    pub hash: Option<CixHash>,
    pub delta: Option<CixDelta>,
    pub line: u32,
}

/// A parsed container index.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ContainerIndex {
    pub name: String,
    #[serde(rename = "type")]
    pub type_: String,
    pub length: Option<u64>,
    pub version: String,
    pub files: Vec<CixFile>,
}

impl ContainerIndex {
    pub fn file(&self, id: u64) -> Option<&CixFile> {
        self.files.iter().find(|f| f.id == id)
    }
}

/// A FILETIME as `YYYY-MM-DDTHH:MM:SS` (UTC), or `None` when out of range.
pub fn filetime_to_string(ft: u64) -> Option<String> {
    crate::time::Timestamp::from_filetime(ft).map(|t| t.to_string())
}

fn err(member: &str, e: &Element, message: impl Into<String>) -> XmlError {
    XmlError::element(member, e, message)
}

fn num<T: std::str::FromStr>(member: &str, e: &Element, attr: &str) -> Result<Option<T>, XmlError> {
    match e.attr(attr) {
        None => Ok(None),
        Some(v) => v.trim().parse::<T>().map(Some).map_err(|_| {
            err(
                member,
                e,
                format!("<{}> attribute {attr}={v:?} is not a number", e.name),
            )
        }),
    }
}

fn hash_of(e: &Element) -> Option<CixHash> {
    e.child("Hash", ns_cix).map(|h| CixHash {
        alg: h.attr_or_empty("alg").into(),
        hex: HexValue::parse(h.attr_or_empty("value")),
    })
}

/// Parse an index from its bytes; `member` names it in errors.
///
/// Each `<File>` is turned into a [`CixFile`] as soon as it closes and its
/// elements dropped (the tree of an index is ~9 times its text). The
/// result, errors included, is what [`from_root`] gives on the whole tree:
/// an XML error anywhere comes first, then the root's, then the first bad
/// `<File>`'s.
pub fn parse(member: &str, bytes: &[u8], limits: &XmlLimits) -> Result<ContainerIndex, XmlError> {
    // Files taken so far and the first bad `<File>`'s error; shared by the
    // element hook and the closing build.
    let taken: std::cell::RefCell<(Vec<CixFile>, Option<XmlError>)> = Default::default();
    let mut take = |root: &Element<'_>, parent: &Element<'_>, f: &Element<'_>| {
        if !(is_container(root)
            && parent.name == "Files"
            && ns_cix(&parent.ns)
            && f.name == "File"
            && ns_cix(&f.ns))
        {
            return false;
        }
        let (files, first_error) = &mut *taken.borrow_mut();
        // Past the first bad entry only the XML is still checked.
        if first_error.is_none() {
            match file_from(member, f) {
                Ok(file) => files.push(file),
                Err(e) => *first_error = Some(e),
            }
        }
        true
    };
    xml::parse_with_taking(member, bytes, limits, &mut take, |root| {
        let mut index = index_header(member, root)?;
        let (files, first_error) = std::mem::take(&mut *taken.borrow_mut());
        if let Some(e) = first_error {
            return Err(e);
        }
        // `take` took every `<File>` that `from_root` would read.
        index.files = files;
        Ok(index)
    })
}

fn is_container(root: &Element<'_>) -> bool {
    root.name == "Container" && ns_cix(&root.ns)
}

/// The root's checks and attributes, without its files.
fn index_header(member: &str, root: &Element) -> Result<ContainerIndex, XmlError> {
    if !is_container(root) {
        return Err(err(
            member,
            root,
            format!("root element is <{}>, expected <Container>", root.name),
        ));
    }
    Ok(ContainerIndex {
        name: root.attr_or_empty("name").to_string(),
        type_: root.attr_or_empty("type").to_string(),
        length: num(member, root, "length")?,
        version: root.attr_or_empty("version").to_string(),
        files: vec![],
    })
}

/// Build a [`ContainerIndex`] from a parsed document.
pub fn from_root(member: &str, root: &Element) -> Result<ContainerIndex, XmlError> {
    let mut index = index_header(member, root)?;
    for files in root.children_named("Files", ns_cix) {
        for f in files.children_named("File", ns_cix) {
            index.files.push(file_from(member, f)?);
        }
    }
    Ok(index)
}

/// One `<File>` element.
fn file_from(member: &str, f: &Element) -> Result<CixFile, XmlError> {
    let id = num::<u64>(member, f, "id")?.ok_or_else(|| err(member, f, "<File> has no id"))?;
    let name: std::sync::Arc<str> = f.attr_or_empty("name").into();
    let delta = f.child("Delta", ns_cix).map(|d| -> Result<_, XmlError> {
        let source = match d.child("Source", ns_cix) {
            None => None,
            Some(s) => {
                let type_ = match s.attr_or_empty("type").to_ascii_uppercase().as_str() {
                    "RAW" => SourceType::Raw,
                    "PA30" => SourceType::Pa30,
                    "PA19" => SourceType::Pa19,
                    other => SourceType::Other(other.into()),
                };
                let location = match (
                    s.attr("name"),
                    num::<u64>(member, s, "offset")?,
                    num::<u64>(member, s, "length")?,
                ) {
                    (Some(n), _, _) if n == &*name => SourceLocation::Name(name.clone()),
                    (Some(n), _, _) => SourceLocation::Name(n.into()),
                    (None, Some(offset), Some(length)) => SourceLocation::Range { offset, length },
                    _ => SourceLocation::Unknown,
                };
                Some(CixSource {
                    type_,
                    location,
                    hash: hash_of(s),
                })
            }
        };
        let basis = match d.child("Basis", ns_cix) {
            None => None,
            Some(b) => Some(
                num::<u64>(member, b, "file")?
                    .ok_or_else(|| err(member, b, "<Basis> has no file"))?,
            ),
        };
        Ok(CixDelta { source, basis })
    });
    Ok(CixFile {
        id,
        name,
        length: num(member, f, "length")?.ok_or_else(|| err(member, f, "<File> has no length"))?,
        time: num(member, f, "time")?,
        attr: num(member, f, "attr")?,
        hash: hash_of(f),
        delta: delta.transpose()?,
        line: f.line,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const CIX: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<Container name="k.cab" type="CAB" length="100" version="1" xmlns="urn:ContainerIndex"><Description/><Files>
<File id="2" name="a.manifest" length="10" time="132328619644355386" attr="32"><Hash alg="SHA256" value="AA"/><Delta><Source type="RAW" name="a.manifest"><Hash alg="SHA256" value="aa"/></Source></Delta></File>
<File id="3" name="k\f.dll" length="20" time="0" attr="32"><Hash alg="SHA256" value="bb"/><Delta><Source type="PA30" name="0"><Hash alg="SHA256" value="cc"/></Source><Basis file="4"/></Delta></File>
<File id="4" name="k\g.dll" length="20"><Hash alg="SHA256" value="dd"/><Delta><Source type="PA30" offset="5" length="6"/></Delta></File>
<File id="5" name="k\h.dll" length="20"><Delta><Basis file="4"/></Delta></File>
</Files></Container>"#;

    #[test]
    fn files_sources_and_bases() {
        let ix = parse("_manifest_.cix.xml", CIX.as_bytes(), &XmlLimits::default()).unwrap();
        assert_eq!(ix.name, "k.cab");
        assert_eq!(ix.length, Some(100));
        assert_eq!(ix.files.len(), 4);
        let a = &ix.files[0];
        assert_eq!(a.hash.as_ref().unwrap().hex, "aa");
        let src = a.delta.as_ref().unwrap().source.as_ref().unwrap();
        assert_eq!(src.type_, SourceType::Raw);
        assert_eq!(src.location, SourceLocation::Name("a.manifest".into()));
        assert_eq!(ix.files[1].delta.as_ref().unwrap().basis, Some(4));
        assert_eq!(
            ix.files[2]
                .delta
                .as_ref()
                .unwrap()
                .source
                .as_ref()
                .unwrap()
                .location,
            SourceLocation::Range {
                offset: 5,
                length: 6
            }
        );
        assert!(ix.files[3].delta.as_ref().unwrap().source.is_none());
        assert_eq!(&*ix.file(5).unwrap().name, "k\\h.dll");
        assert_eq!(
            filetime_to_string(a.time.unwrap()).as_deref(),
            Some("2020-05-02T02:59:24")
        );
    }

    /// A hash value reads back as the lower-case text written, held as
    /// bytes when it is hex of up to 32 bytes.
    #[test]
    fn hex_values_read_back_as_written() {
        let sha256 = "AB".repeat(32);
        let sha512 = "cd".repeat(64);
        for (text, bytes) in [
            (sha256.as_str(), Some(vec![0xab; 32])),
            (" 0f1E ", Some(vec![0x0f, 0x1e])),
            ("", Some(vec![])),
            ("abc", None),
            ("xyz1", None),
            (sha512.as_str(), None),
        ] {
            let v = HexValue::parse(text);
            let want = text.trim().to_ascii_lowercase();
            assert_eq!(v.to_string(), want, "{text:?}");
            assert_eq!(v.bytes().map(<[u8]>::to_vec), bytes, "{text:?}");
            assert!(v == want.as_str(), "{text:?}");
            assert_eq!(serde_json::to_string(&v).unwrap(), format!("{want:?}"));
            if !want.is_empty() {
                assert!(
                    v != want.to_ascii_uppercase().as_str()
                        || want.bytes().all(|b| b.is_ascii_digit())
                );
                assert!(v != want[1..]);
            }
        }
        // The same value written in either case is the same.
        assert_eq!(HexValue::parse("AB01"), HexValue::parse("ab01"));
    }

    #[test]
    fn bad_number_names_line() {
        let doc = "<Container xmlns=\"urn:ContainerIndex\"><Files>\n<File id=\"x\" length=\"1\"/></Files></Container>";
        let e = parse("c.xml", doc.as_bytes(), &XmlLimits::default()).unwrap_err();
        assert_eq!(e.line, 2);
        assert!(e.message.contains("id"), "{e}");
    }

    /// The streaming parse gives what `from_root` gives on the whole tree,
    /// values and errors (which error wins when there are several).
    #[test]
    fn streaming_parse_matches_the_tree() {
        let good = CIX;
        let docs: Vec<String> = vec![
            good.to_string(),
            good.replace("<File id=\"3\"", "<File"),
            good.replace(r#"length="20" time="0""#, r#"length="x" time="0""#),
            good.replace(r#"<Basis file="4"/></Delta></File>
<File id="4""#, r#"<Basis/></Delta></File>
<File id="4""#),
            // A bad file and a bad root length: the root's error first.
            good.replace("<File id=\"3\"", "<File").replace(r#"length="100""#, r#"length="-1""#),
            // A bad file and an XML error later: the XML error first.
            good.replace("<File id=\"3\"", "<File").replace("</Files>", "</Filez>"),
            // Two bad files: the first in document order.
            good.replace("<File id=\"4\"", "<File").replace(r#"id="5" name="k\h.dll" length="20""#, r#"id="5" name="k\h.dll""#),
            good.replace("<Container ", "<Containr ").replace("</Container>", "</Containr>"),
            good.replace(r#"xmlns="urn:ContainerIndex""#, r#"xmlns="urn:Other""#),
            // Files under another parent, two <Files>, no namespace, an
            // empty <File/>, files nested deeper: only root/Files/File count.
            good.replace("<Description/>", r#"<Other><File id="9" length="1"/></Other><Files><File id="7" name="e" length="0"/></Files>"#),
            good.replace(r#" xmlns="urn:ContainerIndex""#, ""),
            good.replace("<Files>", r#"<Files><Sub><File id="8" length="1"/></Sub><x:File xmlns:x="urn:Other" id="6"/>"#),
            r#"<Container xmlns="urn:ContainerIndex"/>"#.to_string(),
            r#"<Container xmlns="urn:ContainerIndex"><Files/></Container>"#.to_string(),
        ];
        for (i, doc) in docs.iter().enumerate() {
            let limits = XmlLimits::default();
            let streamed = parse("i.cix.xml", doc.as_bytes(), &limits);
            let tree = xml::parse_with("i.cix.xml", doc.as_bytes(), &limits, |root| {
                from_root("i.cix.xml", root)
            });
            assert_eq!(streamed, tree, "document {i}: {doc}");
        }
        // The cases above do reach each kind of outcome.
        let outcomes: Vec<bool> = docs
            .iter()
            .map(|d| parse("i", d.as_bytes(), &XmlLimits::default()).is_ok())
            .collect();
        assert!(
            outcomes.iter().filter(|ok| **ok).count() >= 4,
            "{outcomes:?}"
        );
        assert!(
            outcomes.iter().filter(|ok| !**ok).count() >= 6,
            "{outcomes:?}"
        );
    }
}
