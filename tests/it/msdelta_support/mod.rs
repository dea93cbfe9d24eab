//! Test-only helpers for the msdelta tests: a minimal reader of the
//! container index (`_manifest_.cix.xml`), enough to find each file's
//! target length, FILETIME, SHA-256, delta blob and basis.
#![allow(dead_code)]

use quick_xml::events::Event;

#[derive(Debug, Default, Clone)]
pub struct CixFile {
    pub id: String,
    pub name: String,
    pub length: u64,
    pub time: u64,
    pub sha256: String,
    /// `RAW` or `PA30`; empty for a basis-only copy.
    pub source_type: String,
    pub source_name: String,
    pub basis: Option<String>,
}

pub fn parse_cix(xml: &str) -> Vec<CixFile> {
    let mut reader = quick_xml::Reader::from_str(xml);
    let mut files = Vec::new();
    let mut cur: Option<CixFile> = None;
    let mut in_source = false;
    loop {
        match reader.read_event().expect("well-formed CIX") {
            Event::Eof => break,
            Event::Start(e) | Event::Empty(e) => {
                let attr = |k: &str| -> String {
                    e.attributes()
                        .flatten()
                        .find(|a| a.key.as_ref() == k)
                        .map(|a| a.value.to_string())
                        .unwrap_or_default()
                };
                match e.local_name().as_ref() {
                    "File" => {
                        cur = Some(CixFile {
                            id: attr("id"),
                            name: attr("name"),
                            length: attr("length").parse().expect("length"),
                            time: attr("time").parse().unwrap_or(0),
                            ..Default::default()
                        })
                    }
                    "Source" => {
                        if let Some(f) = cur.as_mut() {
                            f.source_type = attr("type");
                            f.source_name = attr("name");
                        }
                        in_source = true;
                    }
                    "Hash" if !in_source => {
                        if let Some(f) = cur.as_mut() {
                            f.sha256 = attr("value").to_ascii_lowercase();
                        }
                    }
                    "Basis" => {
                        if let Some(f) = cur.as_mut() {
                            f.basis = Some(attr("file"));
                        }
                    }
                    _ => {}
                }
            }
            Event::End(e) => match e.local_name().as_ref() {
                "Source" => in_source = false,
                "File" => files.extend(cur.take()),
                _ => {}
            },
            _ => {}
        }
    }
    files
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(bytes))
}
