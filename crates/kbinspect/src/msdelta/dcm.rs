//! WinSxS compressed manifests (`DCM\x01` + PA30 against a base manifest
//! shipped as resource 614/1 in wcp.dll).

use super::{DeltaError, DeltaLimits, ErrorKind, Verification, apply_detailed, post};

/// SHA-256 of the one base manifest known (Windows 10 through build 26100).
pub const DCM_BASE_SHA256: &str =
    "0ad8f100f1c56f4a1aad990defade9191f7d5be929b930a04160ebbf99cd6b46";

/// Resource type and name of the base manifest in wcp.dll.
const WCP_RESOURCE_TYPE: u32 = 614;
const WCP_RESOURCE_NAME: u32 = 1;

/// An expanded DCM manifest and which base it came from.
#[derive(Debug, Clone)]
pub struct DcmExpansion {
    pub xml: Vec<u8>,
    pub base_sha256: String,
    /// The base is the known Windows 10/11 base manifest.
    pub base_known: bool,
    pub verification: Verification,
}

/// Expand a `DCM\x01` manifest against `base`. The output must be
/// well-formed XML: DCM deltas carry no hash, so that is the check that a
/// wrong base (another build's) is caught by.
pub fn expand_dcm(manifest: &[u8], base: &[u8]) -> Result<DcmExpansion, DeltaError> {
    if !manifest.starts_with(b"DCM\x01") {
        return Err(DeltaError::corrupt(
            0,
            "not a DCM manifest (no DCM\\x01 magic)",
        ));
    }
    let base_sha256 = hex::encode(post::sha256(base));
    let base_known = base_sha256 == DCM_BASE_SHA256;
    let base_note = if base_known {
        "the known base manifest".to_string()
    } else {
        format!("an unknown base manifest (SHA-256 {base_sha256})")
    };
    let applied =
        apply_detailed(manifest, Some(base), None, &DeltaLimits::default()).map_err(|mut e| {
            e.message = format!("{} (expanding against {base_note})", e.message);
            e
        })?;
    if let Err(where_) = check_well_formed(&applied.target) {
        return Err(DeltaError {
            offset: 0,
            kind: ErrorKind::HashMismatch,
            message: format!(
                "expanded manifest is not well-formed XML ({where_}); expanded against {base_note}"
            ),
        });
    }
    Ok(DcmExpansion {
        xml: applied.target,
        base_sha256,
        base_known,
        verification: applied.verification,
    })
}

/// Check XML well-formedness: parses to the end with exactly one root.
fn check_well_formed(xml: &[u8]) -> Result<(), String> {
    use quick_xml::events::Event;
    let mut reader = quick_xml::Reader::from_reader(xml);
    reader.config_mut().check_end_names = true;
    let mut buf = Vec::new();
    let mut depth = 0usize;
    let mut roots = 0usize;
    loop {
        let ev = reader
            .read_event_into(&mut buf)
            .map_err(|e| format!("byte {}: {e}", reader.buffer_position()))?;
        match ev {
            Event::Start(_) => {
                if depth == 0 {
                    roots += 1;
                }
                depth += 1;
            }
            Event::Empty(_) if depth == 0 => roots += 1,
            Event::End(_) => depth = depth.saturating_sub(1),
            Event::Eof => break,
            _ => {}
        }
        buf.clear();
    }
    if depth != 0 {
        return Err("unclosed elements at the end".into());
    }
    if roots != 1 {
        return Err(format!("{roots} root elements"));
    }
    Ok(())
}

/// The base manifest from a wcp.dll (resource type 614, name 1).
pub fn base_from_wcp(dll: &[u8]) -> Result<Vec<u8>, DeltaError> {
    if crate::pe::version_info(dll).is_none() {
        return Err(DeltaError::corrupt(0, "wcp.dll is not a readable PE image"));
    }
    crate::pe::find_resource(dll, WCP_RESOURCE_TYPE, WCP_RESOURCE_NAME)
        .map(<[u8]>::to_vec)
        .ok_or_else(|| {
            DeltaError::corrupt(
                0,
                format!(
                    "wcp.dll has no readable base manifest resource {WCP_RESOURCE_TYPE}/{WCP_RESOURCE_NAME}"
                ),
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    use kbinspect_testkit::pe::wcp_with_base as tiny_wcp;

    #[test]
    fn base_manifest_from_a_wcp_resource() {
        let dll = tiny_wcp(b"<assembly>base</assembly>");
        assert_eq!(base_from_wcp(&dll).unwrap(), b"<assembly>base</assembly>");
        let mut other = dll.clone();
        other[0x200 + 16..0x200 + 20].copy_from_slice(&615u32.to_le_bytes());
        assert!(base_from_wcp(&other).unwrap_err().message.contains("614"));
    }

    #[test]
    fn well_formedness() {
        assert!(check_well_formed(b"<a><b/></a>").is_ok());
        assert!(check_well_formed(b"<a><b></a>").is_err());
        assert!(check_well_formed(b"<a/><b/>").is_err());
        assert!(check_well_formed(b"").is_err());
        assert!(expand_dcm(b"PA30", b"").is_err());
    }
}
