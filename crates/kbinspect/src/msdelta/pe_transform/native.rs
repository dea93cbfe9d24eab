//! The machine-independent source transforms: Unbind, MarkNonExe, and the
//! RVA-field remaps of imports, exports, resources and relocations. Each
//! rewrites the buffer in place (never resizing it) and claims the bytes it
//! visited in the marker.

use super::algebra::{map_rva, transform_offset};
use super::image::{
    DIR_BASERELOC, DIR_BOUND_IMPORT, DIR_EXPORT, DIR_IMPORT, DIR_RESOURCE, Image, Marker, put,
    put_u32, put_u64, u16_at, u32_at, u64_at,
};

/// At most this many import descriptors are walked.
const MAX_IMPORT_DESCRIPTORS: usize = 4096;
/// Work budgets for the thunk walks of TransformImports: real images have
/// a few thousand thunks and names of a few dozen bytes; hostile ones could
/// otherwise make 4,096 descriptors walk one huge array each.
const MAX_THUNKS: usize = 1 << 22;
const MAX_NAME_BYTES: usize = 1 << 26;
/// The longest import name claimed (hint and NUL excluded).
const MAX_NAME_LEN: usize = 4096;

/// At most this many relocation records are collected (a 1 GiB image has
/// no more than ~2^28 two-byte entries; this keeps hostile input bounded).
const MAX_RELOCS: usize = 1 << 24;

/// Everything a transform needs besides the buffer and the marker.
pub struct Ctx<'a> {
    /// The parse of the source (after the CheckSum was zeroed).
    pub img: &'a Image,
    /// Rift #2: source RVA → target RVA.
    pub rift: &'a [(i64, i64)],
    pub target_base: u64,
}

impl Ctx<'_> {
    fn off(&self, x: i64) -> i64 {
        transform_offset(self.rift, x)
    }

    fn map(&self, x: i64) -> i64 {
        map_rva(self.rift, x)
    }

    /// Map-a-field: remap the non-zero u32 RVA at `f`, claim its 4 bytes.
    fn map_field(&self, b: &mut [u8], m: &mut Marker, f: usize) {
        if let Some(v) = u32_at(b, f)
            && v != 0
        {
            let nv = i64::from(v).wrapping_add(self.off(i64::from(v)));
            put_u32(b, f, nv as u32);
        }
        m.mark(f, 4);
    }
}

/// One import descriptor, as read.
struct Descriptor {
    at: usize,
    original_first_thunk: u32,
    time_date_stamp: u32,
    first_thunk: u32,
}

/// The import descriptors, up to the all-zero terminator or the buffer end.
fn descriptors(b: &[u8], img: &Image) -> Vec<Descriptor> {
    let (rva, _) = img.dir(b, DIR_IMPORT);
    let mut out = Vec::new();
    let Some(base) = (rva != 0).then(|| img.offset_of(rva)).flatten() else {
        return out;
    };
    for i in 0..MAX_IMPORT_DESCRIPTORS {
        let at = base + i * 20;
        let (Some(oft), Some(ts), Some(name), Some(ft)) = (
            u32_at(b, at),
            u32_at(b, at + 4),
            u32_at(b, at + 12),
            u32_at(b, at + 16),
        ) else {
            break;
        };
        if oft == 0 && name == 0 && ft == 0 {
            break;
        }
        out.push(Descriptor {
            at,
            original_first_thunk: oft,
            time_date_stamp: ts,
            first_thunk: ft,
        });
    }
    out
}

/// Unbind (flag 0x2000): forget bound-import addresses, as the loader's
/// unbound view of the image has them.
pub fn unbind(b: &mut [u8], img: &Image) {
    let ps = img.pointer_size();
    for d in descriptors(b, img) {
        if d.time_date_stamp == 0 {
            continue;
        }
        put_u32(b, d.at + 4, 0);
        put_u32(b, d.at + 8, 0);
        let (Some(from), Some(to)) = (
            (d.original_first_thunk != 0)
                .then(|| img.offset_of(d.original_first_thunk))
                .flatten(),
            (d.first_thunk != 0)
                .then(|| img.offset_of(d.first_thunk))
                .flatten(),
        ) else {
            continue;
        };
        let mut k = 0usize;
        loop {
            let (src, dst) = (from + k * ps, to + k * ps);
            if src + ps > b.len() || dst + ps > b.len() {
                break;
            }
            if b[src..src + ps].iter().all(|&x| x == 0) {
                break;
            }
            b.copy_within(src..src + ps, dst);
            k += 1;
        }
    }
    for s in &img.sections {
        if &s.name == b".idata\0\0" {
            let at = s.header_at + 36;
            if let Some(c) = u32_at(b, at) {
                put_u32(b, at, c | 0xC000_0000);
            }
        }
    }
    // The bound-import table lives in the headers: clear it and its entry.
    if let Some(entry) = img.dir_entry_at(DIR_BOUND_IMPORT) {
        let rva = u32_at(b, entry).unwrap_or(0);
        let size = u32_at(b, entry + 4).unwrap_or(0);
        if rva != 0 {
            let at = img.offset_or_header(rva).unwrap_or(rva as usize);
            let end = at.saturating_add(size as usize).min(b.len());
            if at < end {
                b[at..end].fill(0);
            }
        }
        put_u32(b, entry, 0);
        put_u32(b, entry + 4, 0);
    }
}

/// MarkNonExe (flag 0x2, i386): claim every byte outside executable code.
pub fn mark_non_exe(len: usize, img: &Image, m: &mut Marker) {
    m.fill();
    for s in img.sections.iter().filter(|s| s.executable()) {
        let (start, end) = s.code_range(len);
        m.clear(start, end);
    }
}

/// TransformImports (flag 0x4).
pub fn imports(b: &mut [u8], m: &mut Marker, c: &Ctx<'_>) {
    let img = c.img;
    let ps = img.pointer_size();
    let ordinal: u64 = if img.pe32plus { 1 << 63 } else { 1 << 31 };
    let bs = img.image_base as i64;
    let mut thunks = 0usize;
    let mut name_bytes = 0usize;
    for d in descriptors(b, img) {
        for (arr, bound) in [
            (d.original_first_thunk, false),
            (d.first_thunk, d.time_date_stamp != 0),
        ] {
            let Some(base) = (arr != 0).then(|| img.offset_of(arr)).flatten() else {
                continue;
            };
            let mut k = 0usize;
            loop {
                let f = base + k * ps;
                let v = if img.pe32plus {
                    u64_at(b, f)
                } else {
                    u32_at(b, f).map(u64::from)
                };
                let Some(v) = v.filter(|&v| v != 0) else {
                    break;
                };
                thunks += 1;
                if thunks > MAX_THUNKS {
                    return;
                }
                if bound {
                    let r = (v as i64).wrapping_sub(bs);
                    let nv = (c.target_base as i64)
                        .wrapping_add(r)
                        .wrapping_add(c.off(r));
                    if img.pe32plus {
                        put_u64(b, f, nv as u64);
                    } else {
                        put_u32(b, f, nv as u32);
                    }
                    m.mark(f, ps);
                } else if v & ordinal == 0 {
                    // The IMAGE_IMPORT_BY_NAME it names (hint, name, NUL) is
                    // claimed too, read before the thunk is remapped.
                    if let Some(o) = img.offset_of(v as u32)
                        && !m.is_set(o)
                        && name_bytes < MAX_NAME_BYTES
                    {
                        let name = b.get(o.saturating_add(2)..).unwrap_or(&[]);
                        let len = name
                            .iter()
                            .take(MAX_NAME_LEN)
                            .take_while(|&&x| x != 0)
                            .count();
                        name_bytes += len;
                        m.mark(o, len + 3);
                    }
                    c.map_field(b, m, f);
                    if img.pe32plus {
                        m.mark(f + 4, 4);
                    }
                } else {
                    m.mark(f, ps);
                }
                k += 1;
            }
        }
        for field in [12, 0, 16] {
            c.map_field(b, m, d.at + field);
        }
    }
}

/// TransformExports (flag 0x8).
pub fn exports(b: &mut [u8], m: &mut Marker, c: &Ctx<'_>) {
    let img = c.img;
    let (rva, size) = img.dir(b, DIR_EXPORT);
    let Some(e) = (rva != 0).then(|| img.offset_of(rva)).flatten() else {
        return;
    };
    if e.saturating_add(40) > b.len() {
        return;
    }
    // The whole directory (header, arrays, ordinals, names) is claimed, so
    // the branch passes never rewrite bytes inside it.
    m.mark(e, size as usize);
    let nfuncs = u32_at(b, e + 20).unwrap_or(0);
    let nnames = u32_at(b, e + 24).unwrap_or(0);
    for (count, field) in [(nfuncs, 28), (nnames, 32)] {
        let arr = u32_at(b, e + field).unwrap_or(0);
        let Some(base) = (arr != 0).then(|| img.offset_of(arr)).flatten() else {
            continue;
        };
        for k in 0..count as usize {
            let f = base + k * 4;
            if f + 4 > b.len() {
                break;
            }
            c.map_field(b, m, f);
        }
    }
    for field in [12, 28, 32, 36] {
        c.map_field(b, m, e + field);
    }
}

/// TransformResources (flag 0x10): directory-relative offsets of the tree.
pub fn resources(b: &mut [u8], m: &mut Marker, c: &Ctx<'_>) {
    let img = c.img;
    let (d, size) = img.dir(b, DIR_RESOURCE);
    let Some(base) = (d != 0).then(|| img.offset_of(d)).flatten() else {
        return;
    };
    let end = base.saturating_add(size as usize).min(b.len());
    let d = i64::from(d);
    let base_map = c.map(d);
    let remap = |o: u32| c.map(d + i64::from(o)).wrapping_sub(base_map) as u32;
    let mut stack = vec![base];
    let mut seen = std::collections::HashSet::new();
    while let Some(x) = stack.pop() {
        if !seen.insert(x) || x < base || x + 16 > end {
            continue;
        }
        let count = usize::from(u16_at(b, x + 12).unwrap_or(0))
            + usize::from(u16_at(b, x + 14).unwrap_or(0));
        let count = count.min((end - x - 16) / 8);
        for i in 0..count {
            let at = x + 16 + i * 8;
            let (Some(name), Some(data)) = (u32_at(b, at), u32_at(b, at + 4)) else {
                break;
            };
            let low = data & 0x7FFF_FFFF;
            if data & 0x8000_0000 != 0 {
                let child = base + low as usize;
                if child + 16 <= end && child > at {
                    stack.push(child);
                }
                put_u32(b, at + 4, 0x8000_0000 | (remap(low) & 0x7FFF_FFFF));
                m.mark(at + 4, 4);
            } else {
                let entry = base + low as usize;
                if entry + 16 <= end {
                    let v = u32_at(b, entry).unwrap_or(0);
                    put_u32(b, entry, remap(v));
                    m.mark(entry, 4);
                }
            }
            if name & 0x8000_0000 != 0 {
                put_u32(
                    b,
                    at,
                    0x8000_0000 | (remap(name & 0x7FFF_FFFF) & 0x7FFF_FFFF),
                );
                m.mark(at, 4);
            }
        }
    }
}

/// TransformRelocations (flag 0x20): rebase the fixed-up pointers onto the
/// target, then rebuild the directory sorted by the mapped locations.
pub fn relocations(b: &mut [u8], m: &mut Marker, c: &Ctx<'_>) {
    let img = c.img;
    let (dir_rva, size) = img.dir(b, DIR_BASERELOC);
    let Some(r0) = (dir_rva != 0).then(|| img.offset_of(dir_rva)).flatten() else {
        return;
    };
    let end = r0.saturating_add(size as usize).min(b.len());
    let bs = img.image_base as i64;
    let bt = c.target_base as i64;
    // (mapped location, type, extra)
    let mut records: Vec<(u32, u16, u16)> = Vec::new();
    let mut at = r0;
    'blocks: while at + 8 <= end {
        let page = u32_at(b, at).unwrap_or(0);
        let block = u32_at(b, at + 4).unwrap_or(0) as usize;
        if block < 8 || at + block > end {
            break;
        }
        let n = (block - 8) / 2;
        let mut j = 0;
        while j < n {
            let e = u16_at(b, at + 8 + j * 2).unwrap_or(0);
            let typ = e >> 12;
            if typ == 0 {
                break;
            }
            let loc = i64::from(page) + i64::from(e & 0xFFF);
            let mapped = c.map(loc) as u32;
            let mut kept = typ;
            let mut extra = 0u16;
            if let Some(f) = u32::try_from(loc).ok().and_then(|l| img.offset_of(l)) {
                match typ {
                    3 => {
                        if let Some(v) = u32_at(b, f) {
                            let r = i64::from(v as i32).wrapping_sub(bs);
                            let nv = bt.wrapping_add(r).wrapping_add(c.off(r));
                            put_u32(b, f, nv as u32);
                        }
                        m.mark(f, 4);
                    }
                    10 => {
                        if let Some(v) = u64_at(b, f) {
                            let r = (v as i64).wrapping_sub(bs);
                            let nv = bt.wrapping_add(r).wrapping_add(c.off(r));
                            put_u64(b, f, nv as u64);
                        }
                        m.mark(f, 8);
                    }
                    1 | 2 => m.mark(f, 2),
                    4 => {
                        m.mark(f, 2);
                        if j + 1 < n {
                            extra = u16_at(b, at + 8 + (j + 1) * 2).unwrap_or(0);
                        }
                        j += 1;
                    }
                    _ => kept = 0,
                }
            }
            if records.len() >= MAX_RELOCS {
                break 'blocks;
            }
            records.push((mapped, kept, extra));
            j += 1;
        }
        at += block;
    }
    rebuild_relocations(b, img, dir_rva, size, r0, &mut records);
}

/// Pass 2: write the records back as blocks, within the section's extent.
fn rebuild_relocations(
    b: &mut [u8],
    img: &Image,
    dir_rva: u32,
    size: u32,
    r0: usize,
    records: &mut [(u32, u16, u16)],
) {
    records.sort_by_key(|r| r.0);
    let extent = img.section_of(dir_rva).map_or(size, |s| {
        s.raw_size
            .saturating_sub(dir_rva - s.virtual_address)
            .max(size)
    });
    let limit = r0.saturating_add((extent & !1) as usize).min(b.len());
    let put16 = |b: &mut [u8], o: usize, v: u16| put(b, o, &v.to_le_bytes());
    let mut out = r0;
    let mut i = 0;
    while out + 8 <= limit && i < records.len() {
        let page = records[i].0 & 0xFFFF_F000;
        let header = out;
        out += 8;
        let body = out;
        while out + 2 <= limit && i < records.len() && records[i].0 & 0xFFFF_F000 == page {
            let (loc, typ, extra) = records[i];
            put16(b, out, (typ << 12) | (loc & 0xFFF) as u16);
            out += 2;
            if typ == 4 && out + 2 <= limit {
                put16(b, out, extra);
                out += 2;
            }
            i += 1;
        }
        if ((out - body) / 2) % 2 == 1 && out + 2 <= limit {
            put16(b, out, 0);
            out += 2;
        }
        put_u32(b, header, page);
        put_u32(b, header + 4, (out - header) as u32);
    }
}

#[cfg(test)]
mod tests {
    use super::super::image::testpe::*;
    use super::super::image::{MACHINE_I386, u32_at};
    use super::*;

    fn ctx<'a>(img: &'a Image, rift: &'a [(i64, i64)], base: u64) -> Ctx<'a> {
        Ctx {
            img,
            rift,
            target_base: base,
        }
    }

    /// .data at 0x2000 moves by +0x10 in the target.
    const RIFT: &[(i64, i64)] = &[(0, 0), (0x2000, 0x2010), (0x3000, 0x3000)];

    #[test]
    fn unbind_clears_bound_state() {
        let mut b = simple(false, MACHINE_I386);
        // Bound-import table in the headers at 0x300, 16 bytes.
        b[0x300..0x310].fill(0xFF);
        set_dir(&mut b, DIR_BOUND_IMPORT, 0x300, 0x10);
        // One descriptor at RVA 0x2000 (file 0x600): OFT 0x2040, TS -1, FT 0x2080.
        set_dir(&mut b, DIR_IMPORT, 0x2000, 40);
        put_u32(&mut b, 0x600, 0x2040);
        put_u32(&mut b, 0x604, 0xFFFF_FFFF);
        put_u32(&mut b, 0x608, 0xFFFF_FFFF);
        put_u32(&mut b, 0x60C, 0x20F0);
        put_u32(&mut b, 0x610, 0x2080);
        put_u32(&mut b, 0x640, 0x20C0); // ILT by name
        put_u32(&mut b, 0x680, 0x7700_1234); // bound address
        let img = Image::parse(&b).unwrap();
        unbind(&mut b, &img);
        assert_eq!(u32_at(&b, 0x604), Some(0));
        assert_eq!(u32_at(&b, 0x608), Some(0));
        assert_eq!(u32_at(&b, 0x680), Some(0x20C0));
        assert!(b[0x300..0x310].iter().all(|&x| x == 0));
        assert_eq!(img.dir(&b, DIR_BOUND_IMPORT), (0, 0));
    }

    #[test]
    fn imports_remap_names_and_bound_addresses() {
        let mut b = simple(false, MACHINE_I386);
        set_dir(&mut b, DIR_IMPORT, 0x2000, 40);
        put_u32(&mut b, 0x600, 0x2040);
        put_u32(&mut b, 0x604, 1); // still bound
        put_u32(&mut b, 0x60C, 0x20F0);
        put_u32(&mut b, 0x610, 0x2080);
        put_u32(&mut b, 0x640, 0x20C0);
        put_u32(&mut b, 0x644, 0x8000_0005); // by ordinal
        put_u32(&mut b, 0x680, 0x40_2004); // bound VA into .data
        b[0x6C2] = b'A';
        let img = Image::parse(&b).unwrap();
        let mut m = Marker::new(b.len());
        imports(&mut b, &mut m, &ctx(&img, RIFT, 0x100_0000));
        assert_eq!(u32_at(&b, 0x640), Some(0x20D0));
        assert_eq!(u32_at(&b, 0x644), Some(0x8000_0005));
        assert_eq!(u32_at(&b, 0x680), Some(0x100_2014));
        assert_eq!(u32_at(&b, 0x60C), Some(0x2100));
        assert_eq!(u32_at(&b, 0x600), Some(0x2050));
        assert!(m.is_set(0x644) && m.is_set(0x683) && !m.is_set(0x648));
        // The hint/name entry at 0x20C0 (file 0x6C0): hint, "A", NUL.
        assert!(m.is_set(0x6C0) && m.is_set(0x6C3) && !m.is_set(0x6C4));
    }

    #[test]
    fn exports_remap_arrays_not_ordinals() {
        let mut b = simple(false, MACHINE_I386);
        set_dir(&mut b, DIR_EXPORT, 0x2000, 0x60);
        put_u32(&mut b, 0x600 + 20, 2);
        put_u32(&mut b, 0x600 + 24, 1);
        put_u32(&mut b, 0x600 + 28, 0x2040);
        put_u32(&mut b, 0x600 + 32, 0x2050);
        put_u32(&mut b, 0x600 + 36, 0x2058);
        put_u32(&mut b, 0x640, 0x1010);
        put_u32(&mut b, 0x644, 0x2100);
        put_u32(&mut b, 0x650, 0x2120);
        put_u32(&mut b, 0x658, 0x0001_0000);
        let img = Image::parse(&b).unwrap();
        let mut m = Marker::new(b.len());
        exports(&mut b, &mut m, &ctx(&img, RIFT, 0));
        assert_eq!(u32_at(&b, 0x640), Some(0x1010));
        assert_eq!(u32_at(&b, 0x644), Some(0x2110));
        assert_eq!(u32_at(&b, 0x650), Some(0x2130));
        assert_eq!(u32_at(&b, 0x658), Some(0x0001_0000));
        assert_eq!(u32_at(&b, 0x600 + 28), Some(0x2050));
        // The whole directory range is claimed, ordinals and names included.
        assert!(m.is_set(0x658) && m.is_set(0x65F) && !m.is_set(0x660));
    }

    #[test]
    fn resources_remap_relative_offsets() {
        let mut b = simple(false, MACHINE_I386);
        // Resource dir at RVA 0x1F00..: use .data at 0x2000, and a rift that
        // moves everything from 0x2020 on by 8.
        let rift: &[(i64, i64)] = &[(0, 0), (0x2020, 0x2028)];
        set_dir(&mut b, DIR_RESOURCE, 0x2000, 0x100);
        b[0x600 + 14] = 1; // one id entry
        put_u32(&mut b, 0x610, 3);
        put_u32(&mut b, 0x614, 0x8000_0020); // subdir at +0x20
        b[0x620 + 14] = 1;
        put_u32(&mut b, 0x630, 0x8000_0040); // string name at +0x40
        put_u32(&mut b, 0x634, 0x60); // leaf data entry at +0x60
        put_u32(&mut b, 0x660, 0x80);
        let img = Image::parse(&b).unwrap();
        let mut m = Marker::new(b.len());
        resources(&mut b, &mut m, &ctx(&img, rift, 0));
        assert_eq!(u32_at(&b, 0x614), Some(0x8000_0028));
        assert_eq!(u32_at(&b, 0x630), Some(0x8000_0048));
        assert_eq!(
            u32_at(&b, 0x634),
            Some(0x60),
            "leaf offsets are not rewritten"
        );
        assert_eq!(u32_at(&b, 0x660), Some(0x88));
        assert!(m.is_set(0x660) && m.is_set(0x614));
    }

    #[test]
    fn relocations_rebase_and_rebuild_sorted() {
        let mut b = simple(false, MACHINE_I386);
        // .reloc directory inside .data at 0x2100 (file 0x700), one block
        // for page 0x1000 with two HIGHLOW entries, in reverse order.
        set_dir(&mut b, DIR_BASERELOC, 0x2100, 12);
        put_u32(&mut b, 0x700, 0x1000);
        put_u32(&mut b, 0x704, 12);
        put(&mut b, 0x708, &0x3020u16.to_le_bytes());
        put(&mut b, 0x70A, &0x3010u16.to_le_bytes());
        put_u32(&mut b, 0x410, 0x40_2000);
        put_u32(&mut b, 0x420, 0x40_1000);
        let img = Image::parse(&b).unwrap();
        let mut m = Marker::new(b.len());
        relocations(&mut b, &mut m, &ctx(&img, RIFT, 0x50_0000));
        assert_eq!(u32_at(&b, 0x410), Some(0x50_2010));
        assert_eq!(u32_at(&b, 0x420), Some(0x50_1000));
        assert_eq!(u32_at(&b, 0x704), Some(12));
        assert_eq!(u16_at(&b, 0x708), Some(0x3010));
        assert_eq!(u16_at(&b, 0x70A), Some(0x3020));
        assert!(m.is_set(0x410) && m.is_set(0x423) && !m.is_set(0x424));
    }

    #[test]
    fn mark_non_exe_leaves_code_unclaimed() {
        let b = simple(false, MACHINE_I386);
        let img = Image::parse(&b).unwrap();
        let mut m = Marker::new(b.len());
        mark_non_exe(b.len(), &img, &mut m);
        assert!(m.is_set(0x3FF) && !m.is_set(0x400) && !m.is_set(0x5FF) && m.is_set(0x600));
    }
}
