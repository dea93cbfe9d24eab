//! PE version resources and machine type, for payload files.
//!
//! Our own bounds-checked reader: PE headers → section table → resource
//! directory → the first RT_VERSION resource of any id or name (pelite's
//! `version_info()` only looks at id 1) → `VS_VERSIONINFO` (fixed file info
//! and the first string table). pelite 0.10 was tried first but dereferences
//! misaligned pointers when a damaged file puts the resource section at an
//! odd offset (found by `tests/servicing_pe.rs`), so every read here is a
//! byte slice through `get()` and `from_le_bytes`. Garbage yields `None` or
//! empty fields, never a panic.

use std::collections::BTreeMap;

use serde::Serialize;

/// Version facts from a PE file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PeVersion {
    /// `VS_FIXEDFILEINFO` file version, `a.b.c.d`.
    pub file_version: Option<crate::atom::Atom>,
    /// `VS_FIXEDFILEINFO` product version, `a.b.c.d`.
    pub product_version: Option<crate::atom::Atom>,
    /// `IMAGE_FILE_HEADER.Machine` as a name (`i386`, `amd64`, `arm64`, …)
    /// or `0x…` when unknown.
    pub machine: crate::atom::Atom,
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
const RT_VERSION: u32 = 16;

fn u16_at(b: &[u8], off: usize) -> Option<u16> {
    let s = b.get(off..off.checked_add(2)?)?;
    Some(u16::from_le_bytes([s[0], s[1]]))
}

fn u32_at(b: &[u8], off: usize) -> Option<u32> {
    let s = b.get(off..off.checked_add(4)?)?;
    Some(u32::from_le_bytes([s[0], s[1], s[2], s[3]]))
}

fn four_part(ms: u32, ls: u32) -> String {
    format!("{}.{}.{}.{}", ms >> 16, ms & 0xFFFF, ls >> 16, ls & 0xFFFF)
}

/// Headers needed to find resources.
struct Image<'a> {
    bytes: &'a [u8],
    machine: u16,
    /// (virtual address, virtual size, raw size, raw pointer)
    sections: Vec<(u32, u32, u32, u32)>,
    resource_rva: u32,
    resource_size: u32,
}

impl<'a> Image<'a> {
    fn parse(bytes: &'a [u8]) -> Option<Image<'a>> {
        if !bytes.starts_with(b"MZ") {
            return None;
        }
        let pe = u32_at(bytes, 0x3c)? as usize;
        if bytes.get(pe..pe.checked_add(4)?)? != b"PE\0\0" {
            return None;
        }
        let coff = pe + 4;
        let machine = u16_at(bytes, coff)?;
        let nsections = u16_at(bytes, coff + 2)? as usize;
        let opt_size = u16_at(bytes, coff + 16)? as usize;
        let opt = coff + 20;
        let (count_off, dirs_off) = match u16_at(bytes, opt)? {
            0x10b => (opt + 92, opt + 96),
            0x20b => (opt + 108, opt + 112),
            _ => return None,
        };
        let ndirs = u32_at(bytes, count_off)?;
        let (resource_rva, resource_size) = if ndirs > 2 {
            (u32_at(bytes, dirs_off + 16)?, u32_at(bytes, dirs_off + 20)?)
        } else {
            (0, 0)
        };
        let table = opt.checked_add(opt_size)?;
        let mut sections = Vec::with_capacity(nsections.min(96));
        for i in 0..nsections.min(96) {
            let s = table.checked_add(i.checked_mul(40)?)?;
            sections.push((
                u32_at(bytes, s + 12)?,
                u32_at(bytes, s + 8)?,
                u32_at(bytes, s + 16)?,
                u32_at(bytes, s + 20)?,
            ));
        }
        Some(Image {
            bytes,
            machine,
            sections,
            resource_rva,
            resource_size,
        })
    }

    /// File offset of an RVA, when a section's raw data holds it.
    fn rva_to_offset(&self, rva: u32) -> Option<usize> {
        self.sections.iter().find_map(|&(va, vsize, rsize, ptr)| {
            let span = vsize.max(rsize);
            if rva >= va && rva - va < span && rva - va < rsize {
                (ptr as usize).checked_add((rva - va) as usize)
            } else {
                None
            }
        })
    }

    /// The bytes of the first resource of `type_id` (and `name_id` when
    /// given), whatever its language.
    fn resource(&self, type_id: u32, name_id: Option<u32>) -> Option<&'a [u8]> {
        if self.resource_rva == 0 || self.resource_size == 0 {
            return None;
        }
        let base = self.rva_to_offset(self.resource_rva)?;
        let dir = self.bytes.get(base..)?;
        // Level 1: types, by id.
        let types = dir_entries(dir, 0)?;
        let &(_, ty) = types.iter().find(|&&(name, _)| name == type_id)?;
        // Level 2: names (by id when asked). Level 3: languages (any): the
        // first data entry.
        let names_off = subdir(ty)?;
        for (name, name_entry) in dir_entries(dir, names_off)? {
            if name_id.is_some_and(|want| name != want) {
                continue;
            }
            let Some(langs_off) = subdir(name_entry) else {
                continue;
            };
            for (_, lang_entry) in dir_entries(dir, langs_off)? {
                if subdir(lang_entry).is_some() {
                    continue;
                }
                let data = lang_entry as usize;
                let rva = u32_at(dir, data)?;
                let size = u32_at(dir, data + 4)? as usize;
                let off = self.rva_to_offset(rva)?;
                return self.bytes.get(off..off.checked_add(size)?);
            }
        }
        None
    }

    /// The bytes of the first RT_VERSION resource, whatever its id, name or
    /// language.
    fn version_resource(&self) -> Option<&'a [u8]> {
        self.resource(RT_VERSION, None)
    }
}

/// The data of resource `type_id`/`name_id` (first language) of a PE image,
/// read with bounds checks only (no alignment assumptions).
pub fn find_resource(bytes: &[u8], type_id: u32, name_id: u32) -> Option<&[u8]> {
    Image::parse(bytes)?.resource(type_id, Some(name_id))
}

/// Offset of a subdirectory when the entry points at one.
fn subdir(entry_offset: u32) -> Option<usize> {
    (entry_offset & 0x8000_0000 != 0).then_some((entry_offset & 0x7FFF_FFFF) as usize)
}

/// Entries (name-or-id, offset) of the resource directory at `off`.
fn dir_entries(dir: &[u8], off: usize) -> Option<Vec<(u32, u32)>> {
    let named = u16_at(dir, off.checked_add(12)?)? as usize;
    let ids = u16_at(dir, off.checked_add(14)?)? as usize;
    let mut out = Vec::new();
    for i in 0..named + ids {
        let e = off.checked_add(16)?.checked_add(i.checked_mul(8)?)?;
        let (Some(name), Some(target)) = (u32_at(dir, e), u32_at(dir, e + 4)) else {
            break;
        };
        out.push((name, target));
    }
    Some(out)
}

/// One `VS_VERSIONINFO`-style block: key, value bytes, children bytes.
struct Block<'a> {
    key: String,
    value: &'a [u8],
    children: &'a [u8],
    /// Bytes taken including padding to the next block.
    len: usize,
}

fn align4(n: usize) -> usize {
    n.saturating_add(3) & !3
}

/// Parse a block at the start of `b`. Offsets are relative to `b`, which
/// starts 4-aligned relative to the resource.
fn block(b: &[u8]) -> Option<Block<'_>> {
    let total = u16_at(b, 0)? as usize;
    let value_len = u16_at(b, 2)? as usize;
    let text = u16_at(b, 4)? == 1;
    if total < 6 {
        return None;
    }
    let body = b.get(..total)?;
    let mut units = Vec::new();
    let mut p = 6;
    loop {
        let u = u16_at(body, p)?;
        p += 2;
        if u == 0 {
            break;
        }
        units.push(u);
    }
    let key = String::from_utf16_lossy(&units);
    let value_start = align4(p);
    let value_bytes = if text {
        value_len.saturating_mul(2)
    } else {
        value_len
    };
    let value_end = value_start.saturating_add(value_bytes).min(total);
    let value = body.get(value_start.min(total)..value_end).unwrap_or(&[]);
    let children = body.get(align4(value_end).min(total)..).unwrap_or(&[]);
    Some(Block {
        key,
        value,
        children,
        len: align4(total),
    })
}

/// The child blocks packed in `b`.
fn blocks(mut b: &[u8]) -> Vec<Block<'_>> {
    let mut out = Vec::new();
    while let Some(bl) = block(b) {
        let len = bl.len;
        out.push(bl);
        match b.get(len..) {
            Some(rest) if !rest.is_empty() => b = rest,
            _ => break,
        }
    }
    out
}

fn utf16_text(b: &[u8]) -> String {
    let units: Vec<u16> = b
        .chunks_exact(2)
        .map(|c| u16::from_le_bytes([c[0], c[1]]))
        .take_while(|&u| u != 0)
        .collect();
    String::from_utf16_lossy(&units)
}

/// Read the file and product versions from a `VS_VERSIONINFO` block.
fn fixed_versions(block_bytes: &[u8]) -> Option<(String, String)> {
    let root = block(block_bytes)?;
    let v = root.value;
    if u32_at(v, 0)? != FIXED_SIGNATURE {
        return None;
    }
    let fv = four_part(u32_at(v, 8)?, u32_at(v, 12)?);
    let pv = four_part(u32_at(v, 16)?, u32_at(v, 20)?);
    Some((fv, pv))
}

/// The first string table of a `VS_VERSIONINFO` block.
fn string_table(block_bytes: &[u8]) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let Some(root) = block(block_bytes) else {
        return out;
    };
    for sfi in blocks(root.children) {
        if sfi.key != "StringFileInfo" {
            continue;
        }
        if let Some(table) = blocks(sfi.children).into_iter().next() {
            for s in blocks(table.children) {
                out.insert(s.key, utf16_text(s.value));
            }
            return out;
        }
    }
    out
}

/// Version info and machine of a PE image given as file bytes; `None` when
/// the bytes are not a PE file. A PE without a version resource yields
/// `Some` with empty versions.
pub fn version_info(bytes: &[u8]) -> Option<PeVersion> {
    let image = Image::parse(bytes)?;
    let mut out = PeVersion {
        file_version: None,
        product_version: None,
        machine: machine_name(image.machine).into(),
    };
    if let Some((fv, pv)) = image.version_resource().and_then(fixed_versions) {
        out.file_version = Some(fv.into());
        out.product_version = Some(pv.into());
    }
    Some(out)
}

/// The StringFileInfo strings of a PE file's first string table
/// (`FileVersion`, `CompanyName`, `OriginalFilename`, …); empty when the
/// bytes are not a PE file or it has no version resource. Read on demand,
/// not kept in [`PeVersion`]: no report shows them, and a package holds
/// thousands of PE payloads.
pub fn version_strings(bytes: &[u8]) -> BTreeMap<String, String> {
    Image::parse(bytes)
        .and_then(|image| image.version_resource())
        .map(string_table)
        .unwrap_or_default()
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
        // VS_VERSIONINFO: length, value length 52, type 0, key, pad, value.
        let key: Vec<u8> = "VS_VERSION_INFO\0"
            .encode_utf16()
            .flat_map(u16::to_le_bytes)
            .collect();
        let mut block = vec![0u8; 6];
        block.extend_from_slice(&key);
        block.resize(40, 0);
        let mut fixed = vec![0u8; 52];
        fixed[0..4].copy_from_slice(&FIXED_SIGNATURE.to_le_bytes());
        fixed[8..12].copy_from_slice(&((6u32 << 16) | 1).to_le_bytes());
        fixed[12..16].copy_from_slice(&((7601u32 << 16) | 24553).to_le_bytes());
        fixed[16..20].copy_from_slice(&((6u32 << 16) | 2).to_le_bytes());
        block.extend_from_slice(&fixed);
        let len = block.len() as u16;
        block[0..2].copy_from_slice(&len.to_le_bytes());
        block[2..4].copy_from_slice(&52u16.to_le_bytes());
        let (fv, pv) = fixed_versions(&block).unwrap();
        assert_eq!(fv, "6.1.7601.24553");
        assert_eq!(pv, "6.2.0.0");
        assert!(fixed_versions(&block[..50]).is_none());
        assert!(string_table(&block).is_empty());
    }
}
