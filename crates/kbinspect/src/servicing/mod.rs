//! Servicing metadata: identities, `.mum` package manifests, component
//! manifests, container indexes. Pure parsing: no file I/O.
//!
//! Every parser takes the member name (for error messages) and the bytes,
//! decodes them with [`xml::decode`] (UTF-8 or UTF-16, strictly) and builds
//! a small element tree with [`xml::parse`] under [`xml::XmlLimits`]. Errors
//! are [`xml::XmlError`]s naming the member, line and column.

pub mod cix;
pub mod component;
pub mod identity;
pub mod mum;
pub mod xml;

/// What kind of servicing document a member is, from its name and first bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum DocKind {
    /// `.mum` package manifest.
    Mum,
    /// Component or deployment `.manifest`.
    Manifest,
    /// `DCM\x01` compressed manifest (needs the base manifest from wcp.dll).
    CompressedManifest,
    /// `*.cix.xml` container index.
    ContainerIndex,
}

/// `DCM\x01`: a Windows 10/11 manifest stored as a delta against a base
/// manifest shipped inside wcp.dll.
pub const DCM_SIGNATURE: &[u8; 4] = b"DCM\x01";

/// Classify a member by name (case-insensitive) and, for manifests, by the
/// DCM signature.
pub fn classify(name: &str, head: &[u8]) -> Option<DocKind> {
    let lower = name.to_ascii_lowercase();
    if lower.ends_with(".cix.xml") {
        Some(DocKind::ContainerIndex)
    } else if lower.ends_with(".mum") {
        Some(DocKind::Mum)
    } else if lower.ends_with(".manifest") {
        if head.starts_with(DCM_SIGNATURE) {
            Some(DocKind::CompressedManifest)
        } else {
            Some(DocKind::Manifest)
        }
    } else {
        None
    }
}
