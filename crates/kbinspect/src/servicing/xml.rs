//! Bytes → text → a small element tree, with limits and positions.
//!
//! Servicing XML arrives as UTF-8 (with or without BOM) or UTF-16 (either
//! byte order, with a BOM or sniffed from `<\0` / `\0<`). quick-xml would
//! silently misparse UTF-16, so the bytes are decoded first with encoding_rs,
//! strictly: anything that is not valid in the detected encoding is an error
//! naming the member and the line/column of the first bad byte.
//!
//! The tree keeps namespace URIs (prefixes vary between files) and the
//! line/column of every element, so later parsers can point at the source.

use std::borrow::Cow;
use std::collections::HashSet;

use quick_xml::events::Event;
use quick_xml::events::attributes::{AttrError, Attribute, Attributes};
use quick_xml::name::{DEFAULT_MAX_NAMESPACE_BINDINGS, NamespaceError, PrefixDeclaration, QName};
use quick_xml::reader::Reader;

/// `urn:schemas-microsoft-com:asm.v1` (old component manifests).
pub const NS_ASM_V1: &str = "urn:schemas-microsoft-com:asm.v1";
/// `urn:schemas-microsoft-com:asm.v2` (the `hash` element).
pub const NS_ASM_V2: &str = "urn:schemas-microsoft-com:asm.v2";
/// `urn:schemas-microsoft-com:asm.v3` (mums and current manifests).
pub const NS_ASM_V3: &str = "urn:schemas-microsoft-com:asm.v3";
/// XML digital signature namespace (`DigestMethod`, `DigestValue`).
pub const NS_XMLDSIG: &str = "http://www.w3.org/2000/09/xmldsig#";
/// Container index namespace.
pub const NS_CIX: &str = "urn:ContainerIndex";

/// True for the namespaces that hold assembly elements (`assembly`, `file`,
/// `assemblyIdentity`, …). Unqualified elements are accepted too: some
/// hand-written manifests omit the default namespace.
pub fn is_asm(ns: &str) -> bool {
    ns.is_empty() || ns == NS_ASM_V1 || ns == NS_ASM_V3
}

/// Hard limits for one document.
#[derive(Debug, Clone)]
pub struct XmlLimits {
    /// Element nesting depth.
    pub max_depth: usize,
    /// Elements in the document.
    pub max_elements: usize,
    /// Bytes of one attribute value (before unescaping).
    pub max_attr_len: usize,
    /// Bytes of text directly inside one element.
    pub max_text_len: usize,
    /// Bytes of the whole document.
    pub max_doc_len: usize,
}

impl Default for XmlLimits {
    fn default() -> Self {
        XmlLimits {
            max_depth: 64,
            max_elements: 500_000,
            max_attr_len: 64 * 1024,
            max_text_len: 1 << 20,
            max_doc_len: 64 << 20,
        }
    }
}

/// An XML document that could not be read. `line`/`column` are 1-based
/// (column counts characters); 0 means the position is unknown.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{member}: line {line}, column {column}: {message}")]
pub struct XmlError {
    pub member: String,
    pub line: u32,
    pub column: u32,
    pub message: String,
}

impl XmlError {
    /// An error about element `e` of document `member`, at its position.
    pub fn element(member: &str, e: &Element, message: impl Into<String>) -> Self {
        XmlError {
            member: member.to_string(),
            line: e.line,
            column: e.column,
            message: message.into(),
        }
    }

    fn at(member: &str, text: &str, byte_pos: usize, message: impl Into<String>) -> Self {
        let (line, column) = line_column(text, byte_pos);
        XmlError {
            member: member.to_string(),
            line,
            column,
            message: message.into(),
        }
    }
}

/// 1-based line and column (in characters) of a byte position in `text`.
/// Positions past the end or inside a character are clamped.
pub fn line_column(text: &str, byte_pos: usize) -> (u32, u32) {
    let mut pos = byte_pos.min(text.len());
    while pos > 0 && !text.is_char_boundary(pos) {
        pos -= 1;
    }
    let before = text.get(..pos).unwrap_or("");
    let line = before.bytes().filter(|&b| b == b'\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let column = before.get(line_start..).map_or(0, |s| s.chars().count()) + 1;
    (
        u32::try_from(line).unwrap_or(u32::MAX),
        u32::try_from(column).unwrap_or(u32::MAX),
    )
}

/// Line/column of a byte offset in undecodable raw bytes, counting `\n`.
fn raw_line_column(bytes: &[u8], pos: usize) -> (u32, u32) {
    let before = bytes.get(..pos.min(bytes.len())).unwrap_or(&[]);
    let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
    let col = before.len()
        - before
            .iter()
            .rposition(|&b| b == b'\n')
            .map_or(0, |i| i + 1)
        + 1;
    (
        u32::try_from(line).unwrap_or(u32::MAX),
        u32::try_from(col).unwrap_or(u32::MAX),
    )
}

/// The text encodings servicing XML uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TextEncoding {
    Utf8,
    Utf16Le,
    Utf16Be,
}

/// Detect the encoding from a BOM or the first `<`; returns the encoding and
/// the length of the BOM.
pub fn sniff(bytes: &[u8]) -> (TextEncoding, usize) {
    match bytes {
        [0xEF, 0xBB, 0xBF, ..] => (TextEncoding::Utf8, 3),
        [0xFF, 0xFE, ..] => (TextEncoding::Utf16Le, 2),
        [0xFE, 0xFF, ..] => (TextEncoding::Utf16Be, 2),
        [b'<', 0, ..] => (TextEncoding::Utf16Le, 0),
        [0, b'<', ..] => (TextEncoding::Utf16Be, 0),
        _ => (TextEncoding::Utf8, 0),
    }
}

/// Decode a document to text. Invalid sequences are an error with the
/// position of the first one; the BOM is dropped.
pub fn decode<'a>(member: &str, bytes: &'a [u8]) -> Result<Cow<'a, str>, XmlError> {
    let (enc, bom) = sniff(bytes);
    let body = bytes.get(bom..).unwrap_or(&[]);
    match enc {
        TextEncoding::Utf8 => match std::str::from_utf8(body) {
            Ok(s) => Ok(Cow::Borrowed(s)),
            Err(e) => {
                let (line, column) = raw_line_column(body, e.valid_up_to());
                Err(XmlError {
                    member: member.to_string(),
                    line,
                    column,
                    message: format!(
                        "not valid UTF-8 at byte offset {} (only UTF-8 and UTF-16 are supported)",
                        e.valid_up_to() + bom
                    ),
                })
            }
        },
        TextEncoding::Utf16Le | TextEncoding::Utf16Be => {
            let (encoding, name) = if enc == TextEncoding::Utf16Le {
                (encoding_rs::UTF_16LE, "UTF-16LE")
            } else {
                (encoding_rs::UTF_16BE, "UTF-16BE")
            };
            if body.len() % 2 != 0 {
                return Err(XmlError {
                    member: member.to_string(),
                    line: 0,
                    column: 0,
                    message: format!("{name} text has an odd byte count ({})", body.len()),
                });
            }
            match encoding.decode_without_bom_handling_and_without_replacement(body) {
                Some(s) => Ok(Cow::Owned(s.into_owned())),
                None => {
                    // Find the first bad unit by decoding with replacement.
                    let (lossy, _) = encoding.decode_without_bom_handling(body);
                    let pos = lossy.find('\u{FFFD}').unwrap_or(lossy.len());
                    Err(XmlError::at(
                        member,
                        &lossy,
                        pos,
                        format!("invalid {name} sequence (unpaired surrogate)"),
                    ))
                }
            }
        }
    }
}

/// One attribute: namespace URI (empty when unqualified), local name, value.
/// Borrowed from the document unless unescaping or decoding changed them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attr<'a> {
    pub ns: Cow<'a, str>,
    pub name: Cow<'a, str>,
    pub value: Cow<'a, str>,
}

impl Attr<'_> {
    /// The same attribute owning its strings.
    pub fn into_owned(self) -> Attr<'static> {
        Attr {
            ns: Cow::Owned(self.ns.into_owned()),
            name: Cow::Owned(self.name.into_owned()),
            value: Cow::Owned(self.value.into_owned()),
        }
    }
}

/// One element with its children and the text directly inside it. Names,
/// values and text borrow from the document text ([`parse_with`],
/// [`parse_text`]); [`parse`] returns an owning copy.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Element<'a> {
    /// Namespace URI (empty when unbound).
    pub ns: Cow<'a, str>,
    /// Local name.
    pub name: Cow<'a, str>,
    pub attrs: Vec<Attr<'a>>,
    pub children: Vec<Element<'a>>,
    /// Concatenated text and CDATA, unescaped.
    pub text: Cow<'a, str>,
    /// 1-based position of the `<`.
    pub line: u32,
    pub column: u32,
}

impl<'a> Element<'a> {
    /// The value of an unqualified attribute (the usual case).
    pub fn attr(&self, name: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|a| a.ns.is_empty() && a.name == name)
            .map(|a| a.value.as_ref())
    }

    /// Like [`Element::attr`] but matching the name case-insensitively
    /// (`hashalg` / `hashAlg`).
    pub fn attr_ci(&self, name: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|a| a.ns.is_empty() && a.name.eq_ignore_ascii_case(name))
            .map(|a| a.value.as_ref())
    }

    /// An unqualified attribute or the empty string.
    pub fn attr_or_empty(&self, name: &str) -> &str {
        self.attr(name).unwrap_or("")
    }

    /// Children with this local name whose namespace passes `ns`.
    pub fn children_named<'s>(
        &'s self,
        name: &'s str,
        ns: fn(&str) -> bool,
    ) -> impl Iterator<Item = &'s Element<'a>> + 's {
        self.children
            .iter()
            .filter(move |c| c.name == name && ns(&c.ns))
    }

    /// The first child with this local name whose namespace passes `ns`.
    pub fn child(&self, name: &str, ns: fn(&str) -> bool) -> Option<&Element<'a>> {
        self.children.iter().find(|c| c.name == name && ns(&c.ns))
    }

    /// Every descendant (depth first, document order), not including self.
    pub fn descendants(&self) -> Vec<&Element<'a>> {
        let mut out = Vec::new();
        let mut stack: Vec<&Element<'a>> = self.children.iter().rev().collect();
        while let Some(e) = stack.pop() {
            out.push(e);
            stack.extend(e.children.iter().rev());
        }
        out
    }

    /// The same tree owning its strings.
    pub fn into_owned(self) -> Element<'static> {
        Element {
            ns: Cow::Owned(self.ns.into_owned()),
            name: Cow::Owned(self.name.into_owned()),
            attrs: self.attrs.into_iter().map(Attr::into_owned).collect(),
            children: self.children.into_iter().map(Element::into_owned).collect(),
            text: Cow::Owned(self.text.into_owned()),
            line: self.line,
            column: self.column,
        }
    }
}

/// Namespace test helpers for [`Element::children_named`].
pub fn any_ns(_: &str) -> bool {
    true
}
pub fn ns_dsig(ns: &str) -> bool {
    ns == NS_XMLDSIG
}
pub fn ns_asm_v2(ns: &str) -> bool {
    ns == NS_ASM_V2
}
pub fn ns_cix(ns: &str) -> bool {
    ns == NS_CIX || ns.is_empty()
}

fn check_doc_len(member: &str, bytes: &[u8], limits: &XmlLimits) -> Result<(), XmlError> {
    if bytes.len() > limits.max_doc_len {
        return Err(XmlError {
            member: member.to_string(),
            line: 0,
            column: 0,
            message: format!(
                "document is {} bytes, over the limit of {} (raise it with --max-xml-size)",
                bytes.len(),
                limits.max_doc_len
            ),
        });
    }
    Ok(())
}

/// Decode and parse a document, and hand its root element to `build`. The
/// tree borrows from the decoded text, which lives only for this call: this
/// is the form the servicing parsers use, copying out only what they keep.
pub fn parse_with<R>(
    member: &str,
    bytes: &[u8],
    limits: &XmlLimits,
    build: impl FnOnce(&Element<'_>) -> Result<R, XmlError>,
) -> Result<R, XmlError> {
    check_doc_len(member, bytes, limits)?;
    let text = decode(member, bytes)?;
    let root = parse_text(member, &text, limits)?;
    build(&root)
}

/// Decode and parse a document into its root element, owning its strings.
pub fn parse(member: &str, bytes: &[u8], limits: &XmlLimits) -> Result<Element<'static>, XmlError> {
    check_doc_len(member, bytes, limits)?;
    let text = decode(member, bytes)?;
    Ok(parse_text(member, &text, limits)?.into_owned())
}

/// The text of a predefined entity reference (`&amp;` …).
fn entity_value(name: &str) -> Option<&'static str> {
    match name {
        "amp" => Some("&"),
        "lt" => Some("<"),
        "gt" => Some(">"),
        "quot" => Some("\""),
        "apos" => Some("'"),
        _ => None,
    }
}

/// A newline and spaces: indentation, once normalized, is a slice of this.
const INDENT: &str = "\n                                                                ";

/// The normalized form of a CRLF-indented text run (`\r\n` then spaces,
/// what Windows-written manifests have between elements), without
/// allocating; `None` for anything else.
fn indentation(raw: &str) -> Option<&'static str> {
    let spaces = raw.strip_prefix("\r\n")?;
    if spaces.bytes().all(|b| b == b' ') {
        INDENT.get(..1 + spaces.len())
    } else {
        None
    }
}

/// Line/column of increasing byte positions in one pass: element positions
/// arrive in document order, so rescanning from the start each time (which
/// made parsing quadratic) is unnecessary.
struct LineTracker<'t> {
    text: &'t str,
    pos: usize,
    line: u32,
    /// Characters between the start of the current line and `pos`.
    column_chars: usize,
}

impl<'t> LineTracker<'t> {
    fn new(text: &'t str) -> Self {
        LineTracker {
            text,
            pos: 0,
            line: 1,
            column_chars: 0,
        }
    }

    fn at(&mut self, byte_pos: usize) -> (u32, u32) {
        let mut target = byte_pos.min(self.text.len());
        while target > 0 && !self.text.is_char_boundary(target) {
            target -= 1;
        }
        if target < self.pos {
            return line_column(self.text, target);
        }
        let chunk = self.text.get(self.pos..target).unwrap_or("");
        // Only the text after the last newline counts towards the column, so
        // each byte is looked at once even on one-line documents.
        match memchr::memrchr(b'\n', chunk.as_bytes()) {
            Some(nl) => {
                let newlines = memchr::memchr_iter(b'\n', chunk.as_bytes()).count();
                self.line = self
                    .line
                    .saturating_add(u32::try_from(newlines).unwrap_or(u32::MAX));
                self.column_chars = chunk.get(nl + 1..).map_or(0, |t| t.chars().count());
            }
            None => self.column_chars += chunk.chars().count(),
        }
        self.pos = target;
        let col = self.column_chars + 1;
        (self.line, u32::try_from(col).unwrap_or(u32::MAX))
    }
}

/// `part` as a slice of `text` with `text`'s lifetime, when it lies inside
/// it. Events of a `Reader::from_str` borrow from the document, but quick-xml
/// hands a start tag's bytes out only through `&self`; getting the document
/// slice back lets the tree borrow names and values instead of copying them.
fn subslice<'a>(text: &'a str, part: &str) -> Option<&'a str> {
    let start = (part.as_ptr() as usize).checked_sub(text.as_ptr() as usize)?;
    let end = start.checked_add(part.len())?;
    text.get(start..end)
}

/// `http://www.w3.org/XML/1998/namespace`, bound to `xml` in every document.
const NS_XML: &str = "http://www.w3.org/XML/1998/namespace";
/// `http://www.w3.org/2000/xmlns/`, bound to `xmlns` in every document.
const NS_XMLNS: &str = "http://www.w3.org/2000/xmlns/";

/// One `xmlns` / `xmlns:p` declaration in scope.
struct Binding<'a> {
    /// `None` for the default namespace.
    prefix: Option<&'a str>,
    /// The attribute value as written (not unescaped); empty unbinds.
    uri: Cow<'a, str>,
    level: u16,
}

/// Namespace scopes with the rules and messages of quick-xml's
/// `NamespaceResolver` (which `NsReader` applies to every tag), but fed from
/// the one pass over a tag's attributes that also builds the element, and
/// resolving to URIs borrowed from the document.
struct Scopes<'a> {
    /// Declarations in document order; the innermost match wins.
    bindings: Vec<Binding<'a>>,
    /// Open elements, counting the one being read.
    level: u16,
}

impl<'a> Scopes<'a> {
    fn new() -> Self {
        Scopes {
            bindings: Vec::new(),
            level: 0,
        }
    }

    fn push_level(&mut self) -> Result<(), NamespaceError> {
        self.level = self
            .level
            .checked_add(1)
            .ok_or(NamespaceError::TooDeeplyNested(u16::MAX as usize))?;
        Ok(())
    }

    /// Leave the innermost element: its declarations go out of scope.
    fn pop_level(&mut self) {
        self.level = self.level.saturating_sub(1);
        while self.bindings.last().is_some_and(|b| b.level > self.level) {
            self.bindings.pop();
        }
    }

    fn declare(
        &mut self,
        prefix: PrefixDeclaration<'a>,
        uri: Cow<'a, str>,
    ) -> Result<(), NamespaceError> {
        let prefix = match prefix {
            PrefixDeclaration::Default => None,
            PrefixDeclaration::Named("xml") => {
                if uri != NS_XML {
                    return Err(NamespaceError::InvalidXmlPrefixBind(uri.to_string()));
                }
                // Binding `xml` to its own namespace changes nothing.
                return Ok(());
            }
            PrefixDeclaration::Named("xmlns") => {
                return Err(NamespaceError::InvalidXmlnsPrefixBind(uri.to_string()));
            }
            PrefixDeclaration::Named(p) => {
                if uri == NS_XML {
                    return Err(NamespaceError::InvalidPrefixForXml(p.to_string()));
                } else if uri == NS_XMLNS {
                    return Err(NamespaceError::InvalidPrefixForXmlns(p.to_string()));
                }
                // quick-xml stores `xmlns:="…"` like a default declaration.
                (!p.is_empty()).then_some(p)
            }
        };
        if self.bindings.len() >= DEFAULT_MAX_NAMESPACE_BINDINGS {
            return Err(NamespaceError::TooManyBindings(
                DEFAULT_MAX_NAMESPACE_BINDINGS,
            ));
        }
        self.bindings.push(Binding {
            prefix,
            uri,
            level: self.level,
        });
        Ok(())
    }

    /// Namespace URI and local name of a qualified name; the URI is empty
    /// when unbound or the prefix is unknown. Unprefixed attributes are in no
    /// namespace, unprefixed elements in the default one.
    fn resolve(&self, qname: &'a str, is_element: bool) -> (Cow<'a, str>, &'a str) {
        // Names are short: a plain scan beats a searcher's set-up.
        let colon = qname.bytes().position(|b| b == b':');
        let Some((prefix, local)) = colon.map(|i| {
            (
                qname.get(..i).unwrap_or(""),
                qname.get(i + 1..).unwrap_or(""),
            )
        }) else {
            if !is_element {
                return (Cow::Borrowed(""), qname);
            }
            let uri = self
                .bindings
                .iter()
                .rev()
                .find(|b| b.prefix.is_none())
                .map_or(Cow::Borrowed(""), |b| b.uri.clone());
            return (uri, qname);
        };
        let uri = match self
            .bindings
            .iter()
            .rev()
            .find(|b| b.prefix == Some(prefix))
        {
            Some(b) => b.uri.clone(),
            None if prefix == "xml" => Cow::Borrowed(NS_XML),
            None if prefix == "xmlns" => Cow::Borrowed(NS_XMLNS),
            None => Cow::Borrowed(""),
        };
        (uri, local)
    }
}

/// XML whitespace, as quick-xml's attribute iterator knows it.
fn is_xml_space(b: u8) -> bool {
    matches!(b, b' ' | b'\r' | b'\n' | b'\t')
}

/// The attributes of a well-formed tag, read by the grammar of quick-xml's
/// attribute iterator (without its duplicate check) but in a tighter loop:
/// `name = "value"` or `'value'`, whitespace around `=` optional, none needed
/// between attributes. `None` as soon as the tag strays from that, for the
/// caller to get the error from quick-xml itself.
fn scan_attributes<'a>(tag: &'a str, from: usize, out: &mut Vec<Attribute<'a>>) -> Option<()> {
    let bytes = tag.as_bytes();
    let skip_space = |i: usize| {
        bytes.get(i..).map_or(i, |rest| {
            i + rest.iter().take_while(|&&b| is_xml_space(b)).count()
        })
    };
    let mut i = from;
    loop {
        let key_start = skip_space(i);
        if key_start >= bytes.len() {
            return Some(());
        }
        // Like quick-xml, the name's first byte is taken whatever it is.
        let after_first = key_start + 1;
        let key_end = after_first
            + bytes
                .get(after_first..)?
                .iter()
                .position(|&b| b == b'=' || is_xml_space(b))?;
        let eq = skip_space(key_end);
        if bytes.get(eq) != Some(&b'=') {
            return None;
        }
        let open = skip_space(eq + 1);
        let quote = *bytes.get(open).filter(|&&q| q == b'"' || q == b'\'')?;
        let value_start = open + 1;
        let value_end = value_start + memchr::memchr(quote, bytes.get(value_start..)?)?;
        out.push(Attribute {
            key: QName(tag.get(key_start..key_end)?),
            value: Cow::Borrowed(tag.get(value_start..value_end)?),
        });
        i = value_end + 1;
    }
}

/// The first attribute whose name repeats an earlier one, with the error
/// quick-xml's checking iterator gives for it (positions of both names in
/// the tag).
fn first_duplicate(tag: &str, attrs: &[Attribute<'_>]) -> Option<(usize, AttrError)> {
    let position =
        |a: &Attribute<'_>| (a.key.0.as_ptr() as usize).wrapping_sub(tag.as_ptr() as usize);
    let earlier = |j: usize| {
        let key = attrs.get(j)?.key;
        attrs.get(..j)?.iter().find(|a| a.key == key)
    };
    // A scan of the names before each one is quickest for the few
    // attributes tags have; a set keeps long hostile tags linear.
    let mut seen = (attrs.len() > 16).then(|| HashSet::with_capacity(attrs.len()));
    for (j, a) in attrs.iter().enumerate() {
        // A name new to the set needs no scan.
        let is_new = seen.as_mut().is_some_and(|s| s.insert(a.key.0));
        let prev = if is_new { None } else { earlier(j) };
        if let Some(prev) = prev {
            return Some((j, AttrError::Duplicated(position(a), position(prev))));
        }
    }
    None
}

/// An element being read, and where its children start in the pending list.
struct Open<'a> {
    el: Element<'a>,
    first_child: usize,
    /// Bytes of text inside so far.
    text_len: usize,
    /// Past its first piece, an element's text is gathered in the scratch
    /// buffer of its depth and copied out once, when it closes.
    joined: bool,
}

/// Parse decoded text (a leading U+FEFF is skipped).
pub fn parse_text<'a>(
    member: &str,
    text: &'a str,
    limits: &XmlLimits,
) -> Result<Element<'a>, XmlError> {
    parse_text_taking(member, text, limits, None)
}

/// Receives each grandchild of the root as it closes, with the root and
/// its parent (both still open: attributes, no children yet). Returning
/// true takes the element out of the tree.
pub type TakeGrandchild<'h> = dyn FnMut(&Element<'_>, &Element<'_>, &Element<'_>) -> bool + 'h;

/// [`parse_with`], handing each grandchild of the root to `take` as soon as
/// it closes; those it takes are dropped instead of kept in the tree. A
/// container index lists thousands of `<File>`s under `<Files>`: built one
/// by one, their element tree (several times the text) never exists whole.
pub fn parse_with_taking<R>(
    member: &str,
    bytes: &[u8],
    limits: &XmlLimits,
    take: &mut TakeGrandchild<'_>,
    build: impl FnOnce(&Element<'_>) -> Result<R, XmlError>,
) -> Result<R, XmlError> {
    check_doc_len(member, bytes, limits)?;
    let text = decode(member, bytes)?;
    let root = parse_text_taking(member, &text, limits, Some(take))?;
    build(&root)
}

fn parse_text_taking<'a>(
    member: &str,
    text: &'a str,
    limits: &XmlLimits,
    mut take: Option<&mut TakeGrandchild<'_>>,
) -> Result<Element<'a>, XmlError> {
    let text = text.strip_prefix('\u{FEFF}').unwrap_or(text);
    let mut reader = Reader::from_str(text);
    reader.config_mut().check_end_names = true;
    let mut scopes = Scopes::new();
    // Sized for typical manifests, so that they need no regrowing.
    let mut stack: Vec<Open<'a>> = Vec::with_capacity(16);
    let mut text_scratch: Vec<String> = Vec::new();
    // Finished elements whose parent is still open, in document order; a
    // parent takes its tail when it closes, in one exact allocation.
    let mut pending: Vec<Element<'a>> = Vec::with_capacity(64);
    let mut root: Option<Element<'a>> = None;
    let mut attrs: Vec<Attribute<'a>> = Vec::with_capacity(16);
    let mut elements = 0usize;
    let mut lines = LineTracker::new(text);
    loop {
        let start_pos = usize::try_from(reader.buffer_position()).unwrap_or(usize::MAX);
        let event = match reader.read_event() {
            Ok(ev) => ev,
            Err(e) => {
                let pos = usize::try_from(reader.error_position()).unwrap_or(usize::MAX);
                return Err(XmlError::at(member, text, pos, e.to_string()));
            }
        };
        match event {
            Event::Start(ref s) | Event::Empty(ref s) => {
                let is_empty = matches!(event, Event::Empty(_));
                let Some(tag) = subslice(text, s) else {
                    return Err(XmlError::at(
                        member,
                        text,
                        start_pos,
                        "internal error: start tag not borrowed from the document",
                    ));
                };
                let name_len = s.name().as_ref().len();
                let ns_error = |e: NamespaceError| {
                    // NsReader reported these from read_event, at the
                    // reader's last error position.
                    let pos = usize::try_from(reader.error_position()).unwrap_or(usize::MAX);
                    XmlError::at(member, text, pos, e.to_string())
                };
                scopes.push_level().map_err(ns_error)?;
                // One pass reads the attributes and the namespaces they
                // declare. It leaves quick-xml's duplicate check off, which
                // allocates a list per tag: `first_duplicate` does it here.
                attrs.clear();
                let mut attr_error = None;
                if scan_attributes(tag, name_len, &mut attrs).is_none() {
                    // Something is wrong with the tag: quick-xml's iterator
                    // says what, and where.
                    attrs.clear();
                    let mut unchecked = Attributes::new(tag, name_len);
                    for a in unchecked.with_checks(false) {
                        match a {
                            Ok(a) => attrs.push(a),
                            Err(e) => {
                                attr_error = Some(e);
                                break;
                            }
                        }
                    }
                }
                // NsReader declared the namespaces of every attribute before
                // the first syntax error, duplicates included, and its
                // namespace errors came first.
                for a in &attrs {
                    if let Some(p) = a.key.as_namespace_binding() {
                        scopes.declare(p, a.value.clone()).map_err(ns_error)?;
                    }
                }
                let mut checked = attrs.len();
                if attr_error.is_some() {
                    // Broken tags only: take the attributes and the first
                    // error as quick-xml's checking iterator reports them
                    // (a duplicate name is found before a broken value).
                    attrs.clear();
                    attr_error = None;
                    for a in Attributes::new(tag, name_len) {
                        match a {
                            Ok(a) => attrs.push(a),
                            Err(e) => {
                                attr_error = Some(e);
                                break;
                            }
                        }
                    }
                    checked = attrs.len();
                } else if let Some((at, e)) = first_duplicate(tag, &attrs) {
                    checked = at;
                    attr_error = Some(e);
                }
                elements += 1;
                if elements > limits.max_elements {
                    return Err(XmlError::at(
                        member,
                        text,
                        start_pos,
                        format!(
                            "more than {} elements (limit {}; raise it with --max-xml-elements)",
                            limits.max_elements, limits.max_elements
                        ),
                    ));
                }
                if stack.len() >= limits.max_depth {
                    return Err(XmlError::at(
                        member,
                        text,
                        start_pos,
                        format!(
                            "elements nested deeper than {} (limit {}; raise it with --max-xml-depth)",
                            limits.max_depth, limits.max_depth
                        ),
                    ));
                }
                if stack.is_empty() && root.is_some() {
                    return Err(XmlError::at(
                        member,
                        text,
                        start_pos,
                        "a second root element",
                    ));
                }
                let (line, column) = lines.at(start_pos);
                let qname = tag.get(..name_len).unwrap_or("");
                let (ns, local) = scopes.resolve(qname, true);
                let mut el = Element {
                    ns,
                    name: Cow::Borrowed(local),
                    line,
                    column,
                    ..Default::default()
                };
                fill_attributes(
                    &mut el,
                    attrs.get(..checked).unwrap_or(&[]),
                    attr_error,
                    &scopes,
                    member,
                    limits,
                )?;
                if is_empty {
                    scopes.pop_level();
                    attach(&mut stack, &mut pending, &mut root, el, &mut take);
                } else {
                    stack.push(Open {
                        el,
                        first_child: pending.len(),
                        text_len: 0,
                        joined: false,
                    });
                }
            }
            Event::End(_) => {
                scopes.pop_level();
                let Some(Open {
                    mut el,
                    first_child,
                    joined,
                    ..
                }) = stack.pop()
                else {
                    return Err(XmlError::at(
                        member,
                        text,
                        start_pos,
                        "closing tag without an open element",
                    ));
                };
                if joined && let Some(t) = text_scratch.get(stack.len()) {
                    el.text = Cow::Owned(t.clone());
                }
                el.children = pending.drain(first_child..).collect();
                attach(&mut stack, &mut pending, &mut root, el, &mut take);
            }
            Event::Text(t) => {
                let content = match indentation(&t) {
                    Some(indent) => Cow::Borrowed(indent),
                    None => t.xml10_content(),
                };
                push_text(
                    &mut stack,
                    &mut text_scratch,
                    content,
                    member,
                    text,
                    start_pos,
                    limits,
                )?;
            }
            Event::CData(c) => {
                let content = c.into_inner();
                push_text(
                    &mut stack,
                    &mut text_scratch,
                    content,
                    member,
                    text,
                    start_pos,
                    limits,
                )?;
            }
            Event::GeneralRef(r) => {
                let content = if r.is_char_ref() {
                    r.resolve_char_ref()
                        .ok()
                        .flatten()
                        .map(|ch| Cow::Owned(ch.to_string()))
                } else {
                    entity_value(&r.xml10_content()).map(Cow::Borrowed)
                };
                let Some(content) = content else {
                    return Err(XmlError::at(
                        member,
                        text,
                        start_pos,
                        format!("unknown entity &{};", r.xml10_content()),
                    ));
                };
                push_text(
                    &mut stack,
                    &mut text_scratch,
                    content,
                    member,
                    text,
                    start_pos,
                    limits,
                )?;
            }
            Event::DocType(_) => {
                // Servicing XML never has a DTD; refusing one rules out entity games.
                return Err(XmlError::at(
                    member,
                    text,
                    start_pos,
                    "DOCTYPE declarations are not allowed",
                ));
            }
            Event::Decl(_) | Event::PI(_) | Event::Comment(_) => {}
            Event::Eof => break,
        }
    }
    if let Some(open) = stack.last() {
        return Err(XmlError::at(
            member,
            text,
            text.len(),
            format!(
                "unexpected end of document: <{}> opened at line {}, column {} is not closed",
                open.el.name, open.el.line, open.el.column
            ),
        ));
    }
    root.ok_or_else(|| XmlError::at(member, text, text.len(), "no root element"))
}

fn attach<'a>(
    stack: &mut [Open<'a>],
    pending: &mut Vec<Element<'a>>,
    root: &mut Option<Element<'a>>,
    el: Element<'a>,
    take: &mut Option<&mut TakeGrandchild<'_>>,
) {
    if let (Some(take), [top, parent]) = (take.as_mut(), &*stack)
        && take(&top.el, &parent.el, &el)
    {
        return;
    }
    if stack.is_empty() {
        *root = Some(el);
    } else {
        pending.push(el);
    }
}

fn push_text<'a>(
    stack: &mut [Open<'a>],
    text_scratch: &mut Vec<String>,
    content: Cow<'a, str>,
    member: &str,
    text: &str,
    pos: usize,
    limits: &XmlLimits,
) -> Result<(), XmlError> {
    let depth = stack.len().saturating_sub(1);
    match stack.last_mut() {
        Some(open) => {
            let el = &mut open.el;
            let text_len = open.text_len.saturating_add(content.len());
            if text_len > limits.max_text_len {
                return Err(XmlError::at(
                    member,
                    text,
                    pos,
                    format!(
                        "text inside <{}> is longer than {} bytes (raise it with --max-xml-text)",
                        el.name, limits.max_text_len
                    ),
                ));
            }
            if open.text_len == 0 {
                el.text = content;
            } else {
                while text_scratch.len() <= depth {
                    text_scratch.push(String::new());
                }
                if let Some(buf) = text_scratch.get_mut(depth) {
                    if !open.joined {
                        buf.clear();
                        buf.push_str(&el.text);
                        open.joined = true;
                    }
                    buf.push_str(&content);
                }
            }
            open.text_len = text_len;
            Ok(())
        }
        None => {
            if content.trim().is_empty() {
                Ok(())
            } else {
                Err(XmlError::at(
                    member,
                    text,
                    pos,
                    "text outside the root element",
                ))
            }
        }
    }
}

/// Check and resolve a tag's attributes (namespace declarations left out),
/// in document order; an attribute syntax error found while reading the tag
/// is reported after the attributes before it.
fn fill_attributes<'a>(
    el: &mut Element<'a>,
    attrs: &[Attribute<'a>],
    attr_error: Option<AttrError>,
    scopes: &Scopes<'a>,
    member: &str,
    limits: &XmlLimits,
) -> Result<(), XmlError> {
    let at = |message: String| XmlError {
        member: member.to_string(),
        line: el.line,
        column: el.column,
        message,
    };
    let mut out = Vec::with_capacity(attrs.len());
    for attr in attrs {
        if attr.key.as_namespace_binding().is_some() {
            continue;
        }
        let key = attr.key.into_inner();
        if attr.value.len() > limits.max_attr_len {
            return Err(at(format!(
                "attribute {key} of <{}> is {} bytes, over the limit of {} (raise it with --max-xml-attr)",
                el.name,
                attr.value.len(),
                limits.max_attr_len
            )));
        }
        let (ns, local) = scopes.resolve(key, false);
        // Only references and tabs/line ends change a value (and only a
        // reference can be an error): most values are used as written.
        let raw = attr.value.as_bytes();
        let value = if memchr::memchr3(b'&', b'\r', b'\n', raw).is_none()
            && memchr::memchr(b'\t', raw).is_none()
        {
            attr.value.clone()
        } else {
            attr.normalized_value(quick_xml::XmlVersion::Implicit1_0)
                .map_err(|e| at(format!("attribute {key}: {e}")))?
        };
        out.push(Attr {
            ns,
            name: Cow::Borrowed(local),
            value,
        });
    }
    if let Some(e) = attr_error {
        return Err(at(e.to_string()));
    }
    el.attrs = out;
    Ok(())
}

/// The `<assemblyIdentity>` of a document whose root must be `<assembly>`
/// (mums and component manifests share this frame).
pub fn assembly_identity<'r, 'd>(
    member: &str,
    root: &'r Element<'d>,
) -> Result<&'r Element<'d>, XmlError> {
    if root.name != "assembly" || !is_asm(&root.ns) {
        return Err(XmlError::element(
            member,
            root,
            format!("root element is <{}>, expected <assembly>", root.name),
        ));
    }
    root.child("assemblyIdentity", is_asm)
        .ok_or_else(|| XmlError::element(member, root, "<assembly> has no <assemblyIdentity>"))
}

/// True when the bytes start like an XML document: optional BOM (UTF-8 or
/// UTF-16) and whitespace, then `<`.
pub fn looks_like_xml(bytes: &[u8]) -> bool {
    if bytes.starts_with(&[0xFF, 0xFE]) || bytes.starts_with(&[0xFE, 0xFF]) {
        return true;
    }
    let body = bytes.strip_prefix(&[0xEF, 0xBB, 0xBF]).unwrap_or(bytes);
    body.iter()
        .find(|b| !b.is_ascii_whitespace())
        .is_some_and(|&b| b == b'<')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(bytes: &[u8]) -> Result<Element<'static>, XmlError> {
        parse("m.manifest", bytes, &XmlLimits::default())
    }

    #[test]
    fn namespaces_resolve_whatever_the_prefix() {
        let doc = br#"<a:assembly xmlns:a="urn:schemas-microsoft-com:asm.v3"><a:file name="x&amp;y"/><b:hash xmlns:b="urn:schemas-microsoft-com:asm.v2">t&#65;</b:hash></a:assembly>"#;
        let root = p(doc).unwrap();
        assert_eq!(root.ns, NS_ASM_V3);
        assert_eq!(root.name, "assembly");
        assert_eq!(root.children[0].attr("name"), Some("x&y"));
        assert_eq!(root.children[1].ns, NS_ASM_V2);
        assert_eq!(root.children[1].text, "tA");
    }

    #[test]
    fn utf16_both_byte_orders_with_and_without_bom() {
        let xml =
            "<assembly xmlns=\"urn:schemas-microsoft-com:asm.v3\"><file name=\"é\"/></assembly>";
        let le: Vec<u8> = xml.encode_utf16().flat_map(|u| u.to_le_bytes()).collect();
        let be: Vec<u8> = xml.encode_utf16().flat_map(|u| u.to_be_bytes()).collect();
        for (bytes, bom) in [(&le, &[0xFF, 0xFE][..]), (&be, &[0xFE, 0xFF][..])] {
            let plain = p(bytes).unwrap();
            let mut with_bom = bom.to_vec();
            with_bom.extend_from_slice(bytes);
            assert_eq!(plain, p(&with_bom).unwrap());
            assert_eq!(plain.children[0].attr("name"), Some("é"));
        }
    }

    #[test]
    fn latin1_is_an_error_with_position() {
        let e = p(b"<a>\n  <b name=\"caf\xe9\"/></a>").unwrap_err();
        assert_eq!(e.member, "m.manifest");
        assert_eq!((e.line, e.column), (2, 15));
        assert!(e.message.contains("UTF-8"), "{e}");
    }

    #[test]
    fn truncated_document_names_the_open_element() {
        let e = p(b"<assembly>\n<file name=\"a\">\n").unwrap_err();
        assert!(e.message.contains("<file>"), "{e}");
        assert_eq!(e.line, 3);
    }

    #[test]
    fn mismatched_end_tag_has_position() {
        let e = p(b"<a>\n<b></c></a>").unwrap_err();
        assert_eq!(e.line, 2);
        assert!(e.column > 1);
    }

    #[test]
    fn limits_hold() {
        let huge = format!("<a x=\"{}\"/>", "v".repeat(100_000));
        let e = p(huge.as_bytes()).unwrap_err();
        assert!(e.message.contains("attribute x"), "{e}");
        let deep = "<a>".repeat(100);
        let e = p(deep.as_bytes()).unwrap_err();
        assert!(e.message.contains("nested deeper"), "{e}");
        let e = p(b"<!DOCTYPE a [<!ENTITY x \"y\">]><a>&x;</a>").unwrap_err();
        assert!(e.message.contains("DOCTYPE"), "{e}");
        let e = p(b"<a/><b/>").unwrap_err();
        assert!(e.message.contains("second root"), "{e}");
    }

    #[test]
    fn element_positions_track_lines_and_columns() {
        let doc = "<?xml version=\"1.0\"?>\n<a>\n  <b é=\"x\"/><c>\r\n\t<d/></c>\n</a>";
        let root = p(doc.as_bytes()).unwrap();
        assert_eq!((root.line, root.column), (2, 1));
        let b = &root.children[0];
        assert_eq!((b.line, b.column), (3, 3));
        let c = &root.children[1];
        assert_eq!((c.line, c.column), (3, 13));
        let d = &c.children[0];
        assert_eq!((d.line, d.column), (4, 2));
    }

    #[test]
    fn line_column_counts_characters() {
        assert_eq!(line_column("ab\ncé d", 7), (2, 4));
        assert_eq!(line_column("", 10), (1, 1));
    }
}
