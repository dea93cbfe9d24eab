//! Differential test of the servicing XML tree builder (`xml::parse`)
//! against the previous implementation, kept here as the oracle: quick-xml's
//! `NsReader` resolving namespaces and every name, value and text copied into
//! owned strings. The fast parser borrows from the document, resolves
//! namespaces while reading each tag's attributes once and builds children
//! lists in one allocation; it must give the same tree for every document and
//! the same error (line, column, message) for every broken one.
//!
//! Inputs: every servicing document of the corpus, hand-written namespace and
//! escaping edge cases, and deterministic mutations of the corpus documents
//! (XML-significant bytes written at pseudo-random places, truncations).

use crate::common;

use kbinspect::servicing::xml::{Element, XmlError, XmlLimits, parse};

/// The previous `xml::parse_text`, verbatim but for owned output types.
mod oracle {
    use kbinspect::servicing::xml::{XmlLimits, decode, line_column};
    use quick_xml::events::{BytesStart, Event};
    use quick_xml::name::ResolveResult;
    use quick_xml::reader::NsReader;

    #[derive(Debug, Clone, PartialEq, Eq, Default)]
    pub struct El {
        pub ns: String,
        pub name: String,
        pub attrs: Vec<(String, String, String)>,
        pub children: Vec<El>,
        pub text: String,
        pub line: u32,
        pub column: u32,
    }

    /// line, column, message
    pub type Err = (u32, u32, String);

    fn at(text: &str, pos: usize, message: impl Into<String>) -> Err {
        let (l, c) = line_column(text, pos);
        (l, c, message.into())
    }

    pub fn parse(bytes: &[u8], limits: &XmlLimits) -> Result<El, Err> {
        if bytes.len() > limits.max_doc_len {
            return Err((0, 0, "too long".into()));
        }
        let text = decode("m", bytes).map_err(|e| (e.line, e.column, e.message))?;
        parse_text(&text, limits)
    }

    fn resolved_ns(r: &ResolveResult<'_>) -> String {
        match r {
            ResolveResult::Bound(ns) => ns.0.to_string(),
            _ => String::new(),
        }
    }

    fn entity_value(name: &str) -> Option<char> {
        match name {
            "amp" => Some('&'),
            "lt" => Some('<'),
            "gt" => Some('>'),
            "quot" => Some('"'),
            "apos" => Some('\''),
            _ => None,
        }
    }

    fn parse_text(text: &str, limits: &XmlLimits) -> Result<El, Err> {
        let text = text.strip_prefix('\u{FEFF}').unwrap_or(text);
        let mut reader = NsReader::from_str(text);
        reader.config_mut().check_end_names = true;
        let mut stack: Vec<El> = Vec::new();
        let mut root: Option<El> = None;
        let mut elements = 0usize;
        loop {
            let start_pos = usize::try_from(reader.buffer_position()).unwrap();
            let event = match reader.read_event() {
                Ok(ev) => ev,
                Err(e) => {
                    let pos = usize::try_from(reader.error_position()).unwrap();
                    return Err(at(text, pos, e.to_string()));
                }
            };
            match event {
                Event::Start(ref s) | Event::Empty(ref s) => {
                    let is_empty = matches!(event, Event::Empty(_));
                    elements += 1;
                    if elements > limits.max_elements {
                        return Err(at(
                            text,
                            start_pos,
                            format!(
                                "more than {} elements (limit {}; raise it with --max-xml-elements)",
                                limits.max_elements, limits.max_elements
                            ),
                        ));
                    }
                    if stack.len() >= limits.max_depth {
                        return Err(at(
                            text,
                            start_pos,
                            format!(
                                "elements nested deeper than {} (limit {}; raise it with --max-xml-depth)",
                                limits.max_depth, limits.max_depth
                            ),
                        ));
                    }
                    if stack.is_empty() && root.is_some() {
                        return Err(at(text, start_pos, "a second root element"));
                    }
                    let (line, column) = line_column(text, start_pos);
                    let el = build_element(&reader, s, line, column, limits)?;
                    if is_empty {
                        attach(&mut stack, &mut root, el);
                    } else {
                        stack.push(el);
                    }
                }
                Event::End(_) => {
                    let Some(el) = stack.pop() else {
                        return Err(at(text, start_pos, "closing tag without an open element"));
                    };
                    attach(&mut stack, &mut root, el);
                }
                Event::Text(t) => {
                    let content = t.xml10_content();
                    push_text(&mut stack, &content, text, start_pos, limits)?;
                }
                Event::CData(c) => {
                    let content = c.into_inner();
                    push_text(&mut stack, &content, text, start_pos, limits)?;
                }
                Event::GeneralRef(r) => {
                    let ch = if r.is_char_ref() {
                        r.resolve_char_ref().ok().flatten()
                    } else {
                        entity_value(&r.xml10_content())
                    };
                    let Some(ch) = ch else {
                        return Err(at(
                            text,
                            start_pos,
                            format!("unknown entity &{};", r.xml10_content()),
                        ));
                    };
                    let mut buf = [0u8; 4];
                    push_text(
                        &mut stack,
                        ch.encode_utf8(&mut buf),
                        text,
                        start_pos,
                        limits,
                    )?;
                }
                Event::DocType(_) => {
                    return Err(at(text, start_pos, "DOCTYPE declarations are not allowed"));
                }
                Event::Decl(_) | Event::PI(_) | Event::Comment(_) => {}
                Event::Eof => break,
            }
        }
        if let Some(open) = stack.last() {
            return Err(at(
                text,
                text.len(),
                format!(
                    "unexpected end of document: <{}> opened at line {}, column {} is not closed",
                    open.name, open.line, open.column
                ),
            ));
        }
        root.ok_or_else(|| at(text, text.len(), "no root element"))
    }

    fn attach(stack: &mut [El], root: &mut Option<El>, el: El) {
        match stack.last_mut() {
            Some(parent) => parent.children.push(el),
            None => *root = Some(el),
        }
    }

    fn push_text(
        stack: &mut [El],
        content: &str,
        text: &str,
        pos: usize,
        limits: &XmlLimits,
    ) -> Result<(), Err> {
        match stack.last_mut() {
            Some(el) => {
                if el.text.len().saturating_add(content.len()) > limits.max_text_len {
                    return Err(at(
                        text,
                        pos,
                        format!(
                            "text inside <{}> is longer than {} bytes (raise it with --max-xml-text)",
                            el.name, limits.max_text_len
                        ),
                    ));
                }
                el.text.push_str(content);
                Ok(())
            }
            None => {
                if content.trim().is_empty() {
                    Ok(())
                } else {
                    Err(at(text, pos, "text outside the root element"))
                }
            }
        }
    }

    fn build_element(
        reader: &NsReader<&[u8]>,
        s: &BytesStart<'_>,
        line: u32,
        column: u32,
        limits: &XmlLimits,
    ) -> Result<El, Err> {
        let (ns, local) = reader.resolver().resolve_element(s.name());
        let mut el = El {
            ns: resolved_ns(&ns),
            name: local.as_ref().to_string(),
            line,
            column,
            ..Default::default()
        };
        for attr in s.attributes() {
            let attr = attr.map_err(|e| (line, column, e.to_string()))?;
            let key = attr.key.as_ref();
            if key == "xmlns" || key.starts_with("xmlns:") {
                continue;
            }
            if attr.value.len() > limits.max_attr_len {
                return Err((
                    line,
                    column,
                    format!(
                        "attribute {key} of <{}> is {} bytes, over the limit of {} (raise it with --max-xml-attr)",
                        el.name,
                        attr.value.len(),
                        limits.max_attr_len
                    ),
                ));
            }
            let (ans, alocal) = reader.resolver().resolve_attribute(attr.key);
            let value = attr
                .normalized_value(quick_xml::XmlVersion::Implicit1_0)
                .map_err(|e| (line, column, format!("attribute {key}: {e}")))?;
            el.attrs.push((
                resolved_ns(&ans),
                alocal.as_ref().to_string(),
                value.into_owned(),
            ));
        }
        Ok(el)
    }
}

fn owned(e: &Element<'_>) -> oracle::El {
    oracle::El {
        ns: e.ns.to_string(),
        name: e.name.to_string(),
        attrs: e
            .attrs
            .iter()
            .map(|a| (a.ns.to_string(), a.name.to_string(), a.value.to_string()))
            .collect(),
        children: e.children.iter().map(owned).collect(),
        text: e.text.to_string(),
        line: e.line,
        column: e.column,
    }
}

/// Parse with both; panics with the document when they disagree. Returns
/// whether the document parsed.
fn agree(what: &str, bytes: &[u8], limits: &XmlLimits) -> bool {
    let new: Result<oracle::El, oracle::Err> = parse("m", bytes, limits)
        .map(|r| owned(&r))
        .map_err(|e: XmlError| {
            assert_eq!(e.member, "m");
            (e.line, e.column, e.message)
        });
    let old = oracle::parse(bytes, limits);
    match (&new, &old) {
        (Ok(a), Ok(b)) if a == b => true,
        (Err(a), Err(b)) if a == b => false,
        // The size check happens before decoding in both; only its message differs.
        (Err((0, 0, m)), Err((0, 0, _))) if m.contains("--max-xml-size") => false,
        _ => panic!(
            "{what}: the parsers disagree\nnew: {new:?}\nold: {old:?}\ndocument: {:?}",
            String::from_utf8_lossy(bytes)
        ),
    }
}

fn corpus_documents() -> Option<Vec<(String, Vec<u8>)>> {
    let root = common::corpus()?;
    let mut docs = Vec::new();
    for dir in [
        "kb4538483-esu-msu/extracted/Windows6.1-KB4538483-x86.cab",
        "kb4538483-esu-msu/extracted",
        "bypassesu-manifests",
        "winsxs-dcm-base",
    ] {
        for e in std::fs::read_dir(root.join(dir)).unwrap() {
            let p = e.unwrap().path();
            let name = p
                .file_name()
                .unwrap()
                .to_string_lossy()
                .to_ascii_lowercase();
            if p.is_file()
                && (name.ends_with(".manifest") || name.ends_with(".mum") || name.ends_with(".xml"))
            {
                docs.push((name, std::fs::read(&p).unwrap()));
            }
        }
    }
    docs.sort();
    Some(docs)
}

#[test]
fn corpus_documents_give_the_same_tree() {
    let Some(docs) = corpus_documents() else {
        return;
    };
    // 36 manifests, 6 mums, the cix index, the MSU's xml, 2 + 1 manifests.
    assert!(docs.len() >= 46, "{}", docs.len());
    let limits = XmlLimits::default();
    for (name, bytes) in &docs {
        // The DCM base manifest is an XML document followed by a string
        // dictionary: "text outside the root element" from both.
        let well_formed = name != "w10-base.manifest";
        assert_eq!(agree(name, bytes, &limits), well_formed, "{name}");
        // UTF-16 takes the decoding path that owns the text.
        let text = std::str::from_utf8(bytes).unwrap();
        let le: Vec<u8> = [0xFF, 0xFE]
            .into_iter()
            .chain(text.encode_utf16().flat_map(u16::to_le_bytes))
            .collect();
        assert_eq!(agree(name, &le, &limits), well_formed, "{name} (UTF-16)");
    }
}

#[test]
fn edge_cases_give_the_same_tree_or_error() {
    let cases: &[&str] = &[
        // Namespaces: prefixes, redefinition, reset, scope ends with the element.
        r#"<a:x xmlns:a="urn:schemas-microsoft-com:asm.v3" xmlns="d"><y/><a:z a:k="1" k="2"/></a:x>"#,
        r#"<x xmlns="urn:schemas-microsoft-com:asm.v1"><y xmlns=""><z/></y><w/></x>"#,
        r#"<x xmlns:p="u1"><p:y xmlns:p="u2"><p:z/></p:y><p:w/></x>"#,
        r#"<x><p:y/></x>"#,
        r#"<x xmlns:p="u"><y xmlns:p=""><p:z/></y></x>"#,
        r#"<x xmlns:p="u"><p:y/></x><p:z/>"#,
        r#"<x xmlns:p="u&amp;v"><p:y/></x>"#,
        r#"<x xmlns="a&#10;b"><y/></x>"#,
        r#"<x xmlns:xml="http://www.w3.org/XML/1998/namespace" xml:lang="en"/>"#,
        r#"<x xmlns:xml="urn:other"/>"#,
        r#"<x xmlns:xmlns="urn:other"/>"#,
        r#"<x xmlns:p="http://www.w3.org/2000/xmlns/"/>"#,
        r#"<x xmlns:p="http://www.w3.org/XML/1998/namespace"/>"#,
        // A namespace error after a broken attribute: the namespace error wins.
        r#"<x k="1" k="2" xmlns:xml="urn:other"/>"#,
        r#"<x k="1" xmlns:xml="urn:other" k="2"/>"#,
        r#"<x k=1 xmlns:xml="urn:other"/>"#,
        r#"<x xmlns:xml="urn:other" k=1/>"#,
        // Attribute syntax and limits in document order.
        r#"<x a="1" a="2"/>"#,
        r#"<x a="1" a=2/>"#,
        // Attribute syntax: the fast scanner and quick-xml must agree.
        r#"<x ="1"/>"#,
        r#"<x ="1" y="2"/>"#,
        r#"<x a = '1'b="2"/>"#,
        "<x a=\"1\"\tb\n=\r'2' />",
        r#"<x a=/>"#,
        r#"<x a= />"#,
        r#"<x a="1" b />"#,
        r#"<x a="it's" b='say "hi"'/>"#,
        r#"<x a:="1" :b="2" c::d="3"/>"#,
        "<x \u{e9}=\"\u{e9}\"\u{1F600}=''/>",
        r#"<x a="1" a/>"#,
        r#"<x a="1" b="2" a = "3" b="4"/>"#,
        r#"<x p:a="1" xmlns:p="u" q:a="2" xmlns:q="u"/>"#,
        r#"<x a="1" b/>"#,
        r#"<x a="&bogus;"/>"#,
        r#"<x a="&bogus;" b="1" b="2"/>"#,
        "<x a=\"l1\r\nl2\tt\"/>",
        r#"<x a='single' b="&lt;&#x41;&quot;"/>"#,
        // Text, CDATA, references, line endings.
        "<x>a\r\nb<![CDATA[c\r\nd]]>&amp;&#65;&#x42;e</x>",
        "<x>\n  <y>t</y>\n  tail\n</x>",
        "<x>&unknown;</x>",
        "<x>&#0;</x>",
        "text<x/>",
        "<x/>text",
        "  <x/>  ",
        "<x/><y/>",
        "</x>",
        "<x></y>",
        "<x>",
        "",
        "<!DOCTYPE x><x/>",
        "<?xml version=\"1.0\"?><!-- c --><?pi d?><x/>",
        "\u{FEFF}<x/>",
        "<x>\u{e9}\u{1F600}<y \u{e9}=\"\u{e9}\"/></x>",
        r#"<x xmlns:="urn:e"><y/><p:z xmlns:p=""/></x>"#,
        r#"<x xmlns="u" xmlns="v"/>"#,
        "<x:y:z/>",
        "<:x/>",
        "<x\n  a=\"1\"\n/>",
    ];
    let limits = XmlLimits::default();
    for case in cases {
        agree(case, case.as_bytes(), &limits);
    }
    // Duplicate names: found before a broken value; long tags take the
    // hashed path of the check.
    let many = |n: usize, dup: Option<(usize, usize)>, tail: &str| {
        let mut tag = String::from("<x");
        for i in 0..n {
            let name = match dup {
                Some((at, of)) if at == i => format!("a{of}"),
                _ => format!("a{i}"),
            };
            tag.push_str(&format!(" {name}=\"{i}\""));
        }
        tag.push_str(tail);
        tag
    };
    for n in [2, 3, 16, 17, 40] {
        for dup in [None, Some((n - 1, 0)), Some((n - 1, n - 2)), Some((1, 0))] {
            for tail in ["/>", " a0=broken/>", " b=\"1\" b/>", " xmlns:xml=\"u\"/>"] {
                let doc = many(n, dup, tail);
                agree(&doc, doc.as_bytes(), &limits);
            }
        }
    }
    let tight = XmlLimits {
        max_depth: 3,
        max_elements: 5,
        max_attr_len: 4,
        max_text_len: 6,
        max_doc_len: 1 << 20,
    };
    for case in [
        "<a><b><c><d/></c></b></a>",
        "<a><b/><b/><b/><b/><b/></a>",
        "<a k=\"12345\"/>",
        "<a k=\"1234\" xmlns:p=\"longer than four\"/>",
        "<a>1234567</a>",
        "<a>123<b/>4567</a>",
        "<a>12&amp;456</a>",
    ] {
        agree(case, case.as_bytes(), &tight);
    }
}

/// A small deterministic generator (xorshift), so failures reproduce.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

#[test]
fn mutated_corpus_documents_give_the_same_tree_or_error() {
    let Some(docs) = corpus_documents() else {
        return;
    };
    const BYTES: &[u8] = b"<>&;\"'=:/ \n\r\txX#!?[]-\x00\xC3\xA9";
    let limits = XmlLimits::default();
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let (mut parsed, mut failed) = (0, 0);
    for (name, doc) in &docs {
        for _ in 0..150 {
            let mut m = doc.clone();
            for _ in 0..=rng.below(3) {
                let at = rng.below(m.len());
                m[at] = BYTES[rng.below(BYTES.len())];
            }
            if rng.below(8) == 0 {
                m.truncate(rng.below(m.len()));
            }
            if agree(name, &m, &limits) {
                parsed += 1;
            } else {
                failed += 1;
            }
        }
    }
    // Both outcomes must be exercised for the comparison to mean anything.
    assert!(
        parsed > 500 && failed > 500,
        "parsed {parsed}, failed {failed}"
    );
}
