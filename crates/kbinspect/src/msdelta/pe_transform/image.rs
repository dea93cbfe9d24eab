//! The slice of PE parsing the transforms need: headers, sections, data
//! directories and the three RVA → file-offset rules, all bounds-checked.
//! Every read returns `None` (or 0 where the brief says so) past the buffer;
//! every write past the buffer is dropped.

pub const SCN_MEM_EXECUTE: u32 = 0x2000_0000;
pub const MACHINE_I386: u16 = 0x014C;
pub const MACHINE_AMD64: u16 = 0x8664;

pub const DIR_EXPORT: usize = 0;
pub const DIR_IMPORT: usize = 1;
pub const DIR_RESOURCE: usize = 2;
pub const DIR_EXCEPTION: usize = 3;
pub const DIR_BASERELOC: usize = 5;
pub const DIR_DEBUG: usize = 6;
pub const DIR_BOUND_IMPORT: usize = 11;
pub const DIR_CLR: usize = 14;

pub fn u16_at(b: &[u8], o: usize) -> Option<u16> {
    let s = b.get(o..o.checked_add(2)?)?;
    Some(u16::from_le_bytes([s[0], s[1]]))
}

pub fn u32_at(b: &[u8], o: usize) -> Option<u32> {
    let s = b.get(o..o.checked_add(4)?)?;
    Some(u32::from_le_bytes([s[0], s[1], s[2], s[3]]))
}

pub fn u64_at(b: &[u8], o: usize) -> Option<u64> {
    let s = b.get(o..o.checked_add(8)?)?;
    let mut a = [0u8; 8];
    a.copy_from_slice(s);
    Some(u64::from_le_bytes(a))
}

/// Write `bytes` at `o`, or nothing at all when they do not fit.
pub fn put(b: &mut [u8], o: usize, bytes: &[u8]) {
    if let Some(end) = o.checked_add(bytes.len())
        && let Some(s) = b.get_mut(o..end)
    {
        s.copy_from_slice(bytes);
    }
}

pub fn put_u32(b: &mut [u8], o: usize, v: u32) {
    put(b, o, &v.to_le_bytes());
}

pub fn put_u64(b: &mut [u8], o: usize, v: u64) {
    put(b, o, &v.to_le_bytes());
}

/// One section header, as read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Section {
    pub name: [u8; 8],
    pub virtual_size: u32,
    pub virtual_address: u32,
    pub raw_size: u32,
    pub raw_ptr: u32,
    pub characteristics: u32,
    /// File offset of this section header.
    pub header_at: usize,
}

impl Section {
    /// max(VirtualSize, SizeOfRawData): the extent the transform mapper uses.
    pub fn extent(&self) -> u32 {
        self.virtual_size.max(self.raw_size)
    }

    pub fn contains(&self, rva: u32) -> bool {
        let ext = self.extent();
        ext != 0 && rva >= self.virtual_address && rva - self.virtual_address < ext
    }

    pub fn executable(&self) -> bool {
        self.characteristics & SCN_MEM_EXECUTE != 0
    }

    /// [raw start, raw start + min(VirtualSize, SizeOfRawData)) clipped to `len`.
    pub fn code_range(&self, len: usize) -> (usize, usize) {
        let start = self.raw_ptr as usize;
        let n = self.virtual_size.min(self.raw_size) as usize;
        (start.min(len), start.saturating_add(n).min(len))
    }
}

/// Header facts of one PE image.
#[derive(Debug, Clone)]
pub struct Image {
    /// File offset of the COFF header (just after `PE\0\0`).
    pub coff: usize,
    pub machine: u16,
    /// File offset of the optional header.
    pub optional: usize,
    pub pe32plus: bool,
    pub image_base: u64,
    pub size_of_image: u32,
    pub time_date_stamp: u32,
    /// File offset of data directory 0.
    pub dirs_at: usize,
    /// NumberOfRvaAndSizes as read.
    pub dir_count: u32,
    pub sections: Vec<Section>,
}

impl Image {
    /// Parse the headers; `None` when the bytes are not a PE32/PE32+ image.
    pub fn parse(b: &[u8]) -> Option<Image> {
        if b.get(0..2)? != b"MZ" {
            return None;
        }
        let pe = u32_at(b, 0x3C)? as usize;
        if b.get(pe..pe.checked_add(4)?)? != b"PE\0\0" {
            return None;
        }
        let coff = pe + 4;
        let machine = u16_at(b, coff)?;
        let nsections = usize::from(u16_at(b, coff + 2)?);
        let time_date_stamp = u32_at(b, coff + 4)?;
        let opt_size = usize::from(u16_at(b, coff + 16)?);
        let optional = coff + 20;
        let pe32plus = match u16_at(b, optional)? {
            0x10B => false,
            0x20B => true,
            _ => return None,
        };
        let image_base = if pe32plus {
            u64_at(b, optional + 24)?
        } else {
            u64::from(u32_at(b, optional + 28)?)
        };
        let size_of_image = u32_at(b, optional + 56).unwrap_or(0);
        let (dirs_at, count_at) = if pe32plus {
            (optional + 112, optional + 108)
        } else {
            (optional + 96, optional + 92)
        };
        let dir_count = u32_at(b, count_at).unwrap_or(0);
        let mut sections = Vec::new();
        let sh = optional + opt_size;
        for i in 0..nsections {
            let o = sh + i * 40;
            let Some(hdr) = b.get(o..o + 40) else {
                break;
            };
            let mut name = [0u8; 8];
            name.copy_from_slice(&hdr[0..8]);
            let f = |k: usize| u32::from_le_bytes([hdr[k], hdr[k + 1], hdr[k + 2], hdr[k + 3]]);
            sections.push(Section {
                name,
                virtual_size: f(8),
                virtual_address: f(12),
                raw_size: f(16),
                raw_ptr: f(20),
                characteristics: f(36),
                header_at: o,
            });
        }
        Some(Image {
            coff,
            machine,
            optional,
            pe32plus,
            image_base,
            size_of_image,
            time_date_stamp,
            dirs_at,
            dir_count,
            sections,
        })
    }

    pub fn checksum_at(&self) -> usize {
        self.optional + 64
    }

    pub fn image_base_at(&self) -> usize {
        if self.pe32plus {
            self.optional + 24
        } else {
            self.optional + 28
        }
    }

    pub fn pointer_size(&self) -> usize {
        if self.pe32plus { 8 } else { 4 }
    }

    /// File offset of data-directory entry `i`, if it is within the count.
    pub fn dir_entry_at(&self, i: usize) -> Option<usize> {
        (i < self.dir_count as usize && i < 16).then(|| self.dirs_at + i * 8)
    }

    /// (RVA, Size) of directory `i`; (0, 0) when absent or unreadable.
    pub fn dir(&self, b: &[u8], i: usize) -> (u32, u32) {
        match self.dir_entry_at(i) {
            Some(o) => (u32_at(b, o).unwrap_or(0), u32_at(b, o + 4).unwrap_or(0)),
            None => (0, 0),
        }
    }

    /// The first section (table order) whose extent holds `rva`.
    pub fn section_of(&self, rva: u32) -> Option<&Section> {
        self.sections.iter().find(|s| s.contains(rva))
    }

    /// The transform mapper: first containing section; unmapped when that
    /// section has no raw data (later sections are not tried).
    pub fn offset_of(&self, rva: u32) -> Option<usize> {
        let s = self.section_of(rva)?;
        if s.raw_size == 0 {
            return None;
        }
        Some(s.raw_ptr as usize + (rva - s.virtual_address) as usize)
    }

    /// The fix-up mapper (timestamp fix-up only): first section with a raw
    /// pointer whose [VA, VA + VirtualSize) holds `rva`.
    pub fn fixup_offset_of(&self, rva: u32) -> Option<usize> {
        self.sections
            .iter()
            .find(|s| {
                s.raw_ptr != 0
                    && rva >= s.virtual_address
                    && rva - s.virtual_address < s.virtual_size
            })
            .map(|s| s.raw_ptr as usize + (rva - s.virtual_address) as usize)
    }

    /// The smallest VirtualAddress among sections with a non-zero extent.
    pub fn first_section_rva(&self) -> u32 {
        self.sections
            .iter()
            .filter(|s| s.extent() != 0)
            .map(|s| s.virtual_address)
            .min()
            .unwrap_or(u32::MAX)
    }

    /// Header pass-through: below the first section an RVA is its own file
    /// offset; otherwise the transform mapper.
    pub fn offset_or_header(&self, rva: u32) -> Option<usize> {
        if rva < self.first_section_rva() {
            Some(rva as usize)
        } else {
            self.offset_of(rva)
        }
    }

    /// The source section map (file offset → RVA), from these headers.
    pub fn io2rva(&self) -> Vec<(i64, i64)> {
        let mut t = vec![(0i64, 0i64)];
        for s in &self.sections {
            if s.virtual_address != 0 && s.raw_ptr != 0 {
                t.push((i64::from(s.raw_ptr), i64::from(s.virtual_address)));
            }
        }
        t.sort_by_key(|e| e.0);
        t
    }

    /// True when directory 14 (CLR) is present.
    pub fn is_managed(&self, b: &[u8]) -> bool {
        self.dir(b, DIR_CLR).0 != 0
    }
}

/// One marker byte per file offset; bit 0 means "claimed by a transform".
pub struct Marker(Vec<u8>);

impl Marker {
    pub fn new(len: usize) -> Self {
        Marker(vec![0; len])
    }

    pub fn mark(&mut self, at: usize, len: usize) {
        let end = at.saturating_add(len).min(self.0.len());
        if at < end {
            self.0[at..end].iter_mut().for_each(|m| *m |= 1);
        }
    }

    pub fn clear(&mut self, at: usize, end: usize) {
        let end = end.min(self.0.len());
        if at < end {
            self.0[at..end].iter_mut().for_each(|m| *m &= !1);
        }
    }

    pub fn fill(&mut self) {
        self.0.iter_mut().for_each(|m| *m |= 1);
    }

    /// Claimed? Out of range counts as not claimed.
    pub fn is_set(&self, at: usize) -> bool {
        self.0.get(at).is_some_and(|m| m & 1 != 0)
    }

    pub fn any_set(&self, at: usize, len: usize) -> bool {
        (0..len).any(|k| self.is_set(at.saturating_add(k)))
    }
}

#[cfg(test)]
pub(crate) mod testpe {
    //! A tiny PE builder for the transform unit tests.
    use super::*;

    pub struct Sec {
        pub name: &'static str,
        pub va: u32,
        pub vsize: u32,
        pub raw_ptr: u32,
        pub raw_size: u32,
        pub characteristics: u32,
    }

    /// Build an image: `MZ`, e_lfanew 0x40, COFF, optional header with 16
    /// directories, section table, raw data zero-filled to `len`.
    pub fn build(pe32plus: bool, machine: u16, base: u64, secs: &[Sec], len: usize) -> Vec<u8> {
        let mut b = vec![0u8; len];
        b[0..2].copy_from_slice(b"MZ");
        b[0x3C..0x40].copy_from_slice(&0x40u32.to_le_bytes());
        b[0x40..0x44].copy_from_slice(b"PE\0\0");
        let coff = 0x44;
        b[coff..coff + 2].copy_from_slice(&machine.to_le_bytes());
        b[coff + 2..coff + 4].copy_from_slice(&(secs.len() as u16).to_le_bytes());
        b[coff + 4..coff + 8].copy_from_slice(&0x1111_1111u32.to_le_bytes());
        let opt_size: u16 = if pe32plus { 240 } else { 224 };
        b[coff + 16..coff + 18].copy_from_slice(&opt_size.to_le_bytes());
        let oh = coff + 20;
        let magic: u16 = if pe32plus { 0x20B } else { 0x10B };
        b[oh..oh + 2].copy_from_slice(&magic.to_le_bytes());
        if pe32plus {
            b[oh + 24..oh + 32].copy_from_slice(&base.to_le_bytes());
            b[oh + 108..oh + 112].copy_from_slice(&16u32.to_le_bytes());
        } else {
            b[oh + 28..oh + 32].copy_from_slice(&(base as u32).to_le_bytes());
            b[oh + 92..oh + 96].copy_from_slice(&16u32.to_le_bytes());
        }
        let end = secs
            .iter()
            .map(|s| s.va + s.vsize.max(s.raw_size))
            .max()
            .unwrap_or(0x1000);
        b[oh + 56..oh + 60].copy_from_slice(&end.to_le_bytes());
        b[oh + 64..oh + 68].copy_from_slice(&0xABCDu32.to_le_bytes());
        let sh = oh + usize::from(opt_size);
        for (i, s) in secs.iter().enumerate() {
            let o = sh + i * 40;
            let n = s.name.as_bytes();
            b[o..o + n.len()].copy_from_slice(n);
            b[o + 8..o + 12].copy_from_slice(&s.vsize.to_le_bytes());
            b[o + 12..o + 16].copy_from_slice(&s.va.to_le_bytes());
            b[o + 16..o + 20].copy_from_slice(&s.raw_size.to_le_bytes());
            b[o + 20..o + 24].copy_from_slice(&s.raw_ptr.to_le_bytes());
            b[o + 36..o + 40].copy_from_slice(&s.characteristics.to_le_bytes());
        }
        b
    }

    pub fn set_dir(b: &mut [u8], i: usize, rva: u32, size: u32) {
        let img = Image::parse(b).unwrap();
        let o = img.dirs_at + i * 8;
        b[o..o + 4].copy_from_slice(&rva.to_le_bytes());
        b[o + 4..o + 8].copy_from_slice(&size.to_le_bytes());
    }

    /// Two sections: .text (exec) at RVA 0x1000 / file 0x400, .data at RVA
    /// 0x2000 / file 0x600, each 0x200 raw bytes.
    pub fn simple(pe32plus: bool, machine: u16) -> Vec<u8> {
        build(
            pe32plus,
            machine,
            0x40_0000,
            &[
                Sec {
                    name: ".text",
                    va: 0x1000,
                    vsize: 0x200,
                    raw_ptr: 0x400,
                    raw_size: 0x200,
                    characteristics: 0x6000_0020,
                },
                Sec {
                    name: ".data",
                    va: 0x2000,
                    vsize: 0x200,
                    raw_ptr: 0x600,
                    raw_size: 0x200,
                    characteristics: 0xC000_0040,
                },
            ],
            0x800,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::testpe::*;
    use super::*;

    #[test]
    fn mappers_and_section_map() {
        let b = simple(false, MACHINE_I386);
        let img = Image::parse(&b).unwrap();
        assert_eq!(img.machine, MACHINE_I386);
        assert_eq!(img.image_base, 0x40_0000);
        assert_eq!(img.offset_of(0x1010), Some(0x410));
        assert_eq!(img.offset_of(0x2200), None);
        assert_eq!(img.offset_of(0x800), None);
        assert_eq!(img.offset_or_header(0x800), Some(0x800));
        assert_eq!(img.fixup_offset_of(0x2004), Some(0x604));
        assert_eq!(img.first_section_rva(), 0x1000);
        assert_eq!(img.io2rva(), vec![(0, 0), (0x400, 0x1000), (0x600, 0x2000)]);
        assert!(Image::parse(&b[..0x100]).is_some_and(|i| i.sections.is_empty()));
        assert!(Image::parse(b"MZ").is_none());
    }

    #[test]
    fn writes_out_of_range_are_dropped() {
        let mut b = [0u8; 6];
        put_u32(&mut b, 4, 7);
        put_u32(&mut b, usize::MAX - 1, 7);
        assert_eq!(b, [0; 6]);
        put_u32(&mut b, 2, 0x0403_0201);
        assert_eq!(b, [0, 0, 1, 2, 3, 4]);
        let mut m = Marker::new(4);
        m.mark(2, 100);
        assert!(m.is_set(3) && !m.is_set(1) && !m.is_set(99));
    }
}
