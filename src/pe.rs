//! PE version resources and machine type, for payload files.
//!
//! pelite's `Resources::version_info` only looks for the RT_VERSION
//! resource with id 1; some binaries use another id or a name, so we take
//! the first RT_VERSION resource of any id. The fixed file info is read by
//! our own bounds-checked code (pelite refuses resource data that is not
//! 4-byte aligned in memory); the string table comes from pelite when it can
//! read it. Garbage yields `None`, never a panic.

use std::collections::BTreeMap;

use pelite::resources::Name;
use serde::Serialize;

/// Version facts from a PE file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PeVersion {
    /// `VS_FIXEDFILEINFO` file version, `a.b.c.d`.
    pub file_version: Option<String>,
    /// `VS_FIXEDFILEINFO` product version, `a.b.c.d`.
    pub product_version: Option<String>,
    /// `IMAGE_FILE_HEADER.Machine` as a name (`i386`, `amd64`, `arm64`, …)
    /// or `0x…` when unknown.
    pub machine: String,
    /// StringFileInfo strings of the first language (`FileVersion`,
    /// `ProductName`, …).
    pub strings: BTreeMap<String, String>,
}

/// A name for an `IMAGE_FILE_MACHINE_*` value.
pub fn machine_name(m: u16) -> String {
    match m {
        0x014c => "i386".into(),
        0x8664 => "amd64".into(),
        0x0200 => "ia64".into(),
        0xaa64 => "arm64".into(),
        0x01c4 => "armnt".into(),
        0x01c0 => "arm".into(),
        0x0ebc => "ebc".into(),
        other => format!("0x{other:04x}"),
    }
}

const FIXED_SIGNATURE: u32 = 0xFEEF_04BD;

fn u32_at(b: &[u8], off: usize) -> Option<u32> {
    let s = b.get(off..off.checked_add(4)?)?;
    Some(u32::from_le_bytes([s[0], s[1], s[2], s[3]]))
}

fn four_part(ms: u32, ls: u32) -> String {
    format!("{}.{}.{}.{}", ms >> 16, ms & 0xFFFF, ls >> 16, ls & 0xFFFF)
}

/// Read the file and product versions from a `VS_VERSIONINFO` block: the
/// `VS_FIXEDFILEINFO` follows the `VS_VERSION_INFO` key, 4-byte aligned.
fn fixed_versions(block: &[u8]) -> Option<(String, String)> {
    // wLength, wValueLength, wType, then the UTF-16 key "VS_VERSION_INFO\0"
    // (32 bytes) ends at 38; the value starts at the next multiple of 4.
    let off = 40usize;
    if u32_at(block, off)? != FIXED_SIGNATURE {
        return None;
    }
    let fv = four_part(u32_at(block, off + 8)?, u32_at(block, off + 12)?);
    let pv = four_part(u32_at(block, off + 16)?, u32_at(block, off + 20)?);
    Some((fv, pv))
}

/// Version info and machine of a PE image given as file bytes; `None` when
/// the bytes are not a PE file. A PE without a version resource yields
/// `Some` with empty versions.
pub fn version_info(bytes: &[u8]) -> Option<PeVersion> {
    // pelite is careful with bounds, but this is hostile input and a panic
    // would take down a whole verification run: contain it.
    std::panic::catch_unwind(|| version_info_inner(bytes))
        .ok()
        .flatten()
}

fn version_info_inner(bytes: &[u8]) -> Option<PeVersion> {
    if !bytes.starts_with(b"MZ") {
        return None;
    }
    let pe = pelite::PeFile::from_bytes(bytes).ok()?;
    let machine = machine_name(pe.file_header().Machine);
    let mut out = PeVersion {
        file_version: None,
        product_version: None,
        machine,
        strings: BTreeMap::new(),
    };
    let Some(block) = version_block(&pe) else {
        return Some(out);
    };
    if let Some((fv, pv)) = fixed_versions(block) {
        out.file_version = Some(fv);
        out.product_version = Some(pv);
    }
    if let Ok(vi) = pelite::resources::version_info::VersionInfo::try_from(block) {
        let info = vi.file_info();
        let lang = info
            .langs
            .first()
            .copied()
            .or_else(|| info.strings.keys().next().copied());
        if let Some(table) = lang
            .and_then(|l| info.strings.get(&l))
            .or_else(|| info.strings.values().next())
        {
            for (k, v) in table {
                out.strings
                    .insert(k.clone(), v.trim_end_matches('\0').to_string());
            }
        }
    }
    Some(out)
}

/// The bytes of the first RT_VERSION resource, whatever its id or name.
fn version_block<'a>(pe: &pelite::PeFile<'a>) -> Option<&'a [u8]> {
    let res = pe.resources().ok()?;
    let root = res.root().ok()?;
    let types = root.get_dir(Name::VERSION).ok()?;
    for entry in types.entries() {
        let Some(dir) = entry.entry().ok().and_then(|e| e.dir()) else {
            continue;
        };
        if let Some(bytes) = dir.first_data().ok().and_then(|d| d.bytes().ok()) {
            return Some(bytes);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn garbage_is_none() {
        assert!(version_info(b"").is_none());
        assert!(version_info(b"MZ").is_none());
        assert!(version_info(&[0u8; 4096]).is_none());
        let mut mz = vec![0u8; 4096];
        mz[0] = b'M';
        mz[1] = b'Z';
        mz[0x3c] = 0xff;
        mz[0x3d] = 0xff;
        assert!(version_info(&mz).is_none());
    }

    #[test]
    fn fixed_info_layout() {
        let mut block = vec![0u8; 96];
        block[40..44].copy_from_slice(&FIXED_SIGNATURE.to_le_bytes());
        block[48..52].copy_from_slice(&((6u32 << 16) | 1).to_le_bytes());
        block[52..56].copy_from_slice(&((7601u32 << 16) | 24553).to_le_bytes());
        block[56..60].copy_from_slice(&((6u32 << 16) | 2).to_le_bytes());
        let (fv, pv) = fixed_versions(&block).unwrap();
        assert_eq!(fv, "6.1.7601.24553");
        assert_eq!(pv, "6.2.0.0");
        assert!(fixed_versions(&block[..50]).is_none());
    }
}
