//! The PE side of PE-typed deltas, limited to what kbinspect supports: the
//! pre-process buffer's facts, the source checksum zeroing and the
//! TimeDateStamp fix-up ("simple PE" deltas). The real transform pipeline
//! (imports, relocations, disassembly…) is not implemented; the target hash
//! decides whether the simple path was enough.

use super::bits::BitReader;
use super::{DeltaError, DeltaLimits, rift};

/// Facts read from a PE delta's pre-process buffer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeInfo {
    pub image_base: u64,
    pub checksum: u32,
    pub time_date_stamp: u32,
    /// Target section RVA → target file offset.
    pub section_rift: Vec<(i64, i64)>,
    /// Source RVA → target RVA correspondences.
    pub copy_rift: Vec<(i64, i64)>,
}

pub fn read_preprocess(buf: &[u8], at: u64, limits: &DeltaLimits) -> Result<PeInfo, DeltaError> {
    let mut r = BitReader::new(buf, at)?;
    let image_base = r.bits64()?;
    let checksum = r.bits(32)? as u32;
    let time_date_stamp = r.bits(32)? as u32;
    let section_rift = rift::read_table(&mut r, limits)?;
    if r.bit()? {
        return Err(DeltaError::unsupported(
            r.offset(),
            "PE delta carries CLI (.NET) metadata: PE transforms not supported",
        ));
    }
    let copy_rift = rift::read_table(&mut r, limits)?;
    if r.bit()? {
        return Err(DeltaError::unsupported(
            r.offset(),
            "PE delta carries a CLI map: PE transforms not supported",
        ));
    }
    Ok(PeInfo {
        image_base,
        checksum,
        time_date_stamp,
        section_rift,
        copy_rift,
    })
}

fn u16_at(b: &[u8], o: usize) -> Option<u16> {
    let s = b.get(o..o.checked_add(2)?)?;
    Some(u16::from_le_bytes([s[0], s[1]]))
}

fn u32_at(b: &[u8], o: usize) -> Option<u32> {
    let s = b.get(o..o.checked_add(4)?)?;
    Some(u32::from_le_bytes([s[0], s[1], s[2], s[3]]))
}

/// The few header facts the fix-ups need, read with checked offsets.
struct Headers {
    /// File offset of the COFF header (just after `PE\0\0`).
    coff: usize,
    optional: usize,
    data_dirs: usize,
    data_dir_count: usize,
    /// (virtual address, virtual size, raw pointer, raw size)
    sections: Vec<(u32, u32, u32, u32)>,
}

fn headers(b: &[u8]) -> Option<Headers> {
    if b.get(0..2)? != b"MZ" {
        return None;
    }
    let pe = u32_at(b, 0x3C)? as usize;
    if b.get(pe..pe.checked_add(4)?)? != b"PE\0\0" {
        return None;
    }
    let coff = pe + 4;
    let nsections = usize::from(u16_at(b, coff + 2)?);
    let opt_size = usize::from(u16_at(b, coff + 16)?);
    let optional = coff + 20;
    let (dirs_at, count_at) = match u16_at(b, optional)? {
        0x10b => (96, 92),
        0x20b => (112, 108),
        _ => return None,
    };
    let data_dir_count = (u32_at(b, optional + count_at)? as usize).min(16);
    let mut sections = Vec::with_capacity(nsections.min(96));
    let sh = optional.checked_add(opt_size)?;
    for i in 0..nsections.min(96) {
        let o = sh + i * 40;
        sections.push((
            u32_at(b, o + 12)?,
            u32_at(b, o + 8)?,
            u32_at(b, o + 20)?,
            u32_at(b, o + 16)?,
        ));
    }
    Some(Headers {
        coff,
        optional,
        data_dirs: optional + dirs_at,
        data_dir_count,
        sections,
    })
}

impl Headers {
    fn rva_to_offset(&self, rva: u32) -> Option<usize> {
        for &(va, vsize, ptr, rsize) in &self.sections {
            let span = vsize.max(rsize);
            if rva >= va && rva - va < span {
                let delta = rva - va;
                if delta >= rsize {
                    return None;
                }
                return ptr.checked_add(delta).map(|o| o as usize);
            }
        }
        let first = self.sections.iter().map(|s| s.0).min().unwrap_or(u32::MAX);
        (rva < first).then_some(rva as usize)
    }

    fn dir(&self, b: &[u8], i: usize) -> Option<(u32, u32)> {
        if i >= self.data_dir_count {
            return None;
        }
        let o = self.data_dirs + i * 8;
        let rva = u32_at(b, o)?;
        let size = u32_at(b, o + 4)?;
        (rva != 0).then_some((rva, size))
    }
}

/// Zero the optional-header CheckSum of a source PE (done before decoding,
/// as the delta creator did). Returns false when the bytes are not a PE.
pub fn zero_checksum(window: &mut [u8]) -> bool {
    let Some(h) = headers(window) else {
        return false;
    };
    match window.get_mut(h.optional + 64..h.optional + 68) {
        Some(s) => {
            s.fill(0);
            true
        }
        None => false,
    }
}

/// The COFF TimeDateStamp of a PE, if it is one.
pub fn time_date_stamp(b: &[u8]) -> Option<u32> {
    let h = headers(b)?;
    u32_at(b, h.coff + 4)
}

/// Where a PE keeps copies of its build timestamp.
fn timestamp_sites(b: &[u8]) -> Vec<usize> {
    let Some(h) = headers(b) else {
        return Vec::new();
    };
    let mut sites = vec![h.coff + 4];
    let dir_off = |i| {
        h.dir(b, i)
            .and_then(|(rva, size)| Some((h.rva_to_offset(rva)?, size)))
    };
    if let Some((o, _)) = dir_off(0) {
        sites.push(o + 4); // export directory
    }
    if let Some((o, _)) = dir_off(10) {
        sites.push(o + 4); // load config
    }
    if let Some((o, size)) = dir_off(6) {
        for i in 0..(size as usize / 28).min(16) {
            let e = o + i * 28;
            sites.push(e + 4);
            // The debug payload (e.g. the REPRO record) may hold copies too.
            if let (Some(len), Some(ptr)) = (u32_at(b, e + 16), u32_at(b, e + 24)) {
                let (ptr, len) = (ptr as usize, (len as usize).min(1 << 12));
                for k in 0..len.saturating_sub(3) {
                    sites.push(ptr + k);
                }
            }
        }
    }
    if let Some((o, _)) = dir_off(2) {
        // Resource directory tables, walked breadth-first with a budget so a
        // looping tree cannot run forever.
        let mut queue = vec![0usize];
        let mut seen = std::collections::HashSet::new();
        while let Some(rel) = queue.pop() {
            if !seen.insert(rel) || seen.len() > 4096 {
                continue;
            }
            let t = o + rel;
            sites.push(t + 4);
            let named = u16_at(b, t + 12).unwrap_or(0) as usize;
            let ids = u16_at(b, t + 14).unwrap_or(0) as usize;
            for k in 0..(named + ids).min(4096) {
                if let Some(off) = u32_at(b, t + 16 + k * 8 + 4)
                    && off & 0x8000_0000 != 0
                    && queue.len() < 4096
                {
                    queue.push((off & 0x7FFF_FFFF) as usize);
                }
            }
        }
    }
    sites
}

/// Replace the source's timestamp with the target's at every timestamp site
/// of the rebuilt PE. Returns how many were replaced.
pub fn fix_timestamps(out: &mut [u8], source_ts: u32, target_ts: u32) -> usize {
    if source_ts == target_ts {
        return 0;
    }
    let from = source_ts.to_le_bytes();
    let mut n = 0;
    for site in timestamp_sites(out) {
        if let Some(s) = out.get_mut(site..site.saturating_add(4))
            && s == from
        {
            s.copy_from_slice(&target_ts.to_le_bytes());
            n += 1;
        }
    }
    n
}
