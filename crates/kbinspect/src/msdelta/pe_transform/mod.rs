//! The PE pipeline of PE-typed PA30 deltas: a PE delta is decoded against a
//! *transformed* copy of its source, T(source), through a composed address
//! map (the copy rift). This module builds both and patches the output's
//! timestamps afterwards. Facts: `shared/formats/PE-TRANSFORMS.md`.
//!
//! Order of operations on the source (never changing its length):
//!
//! 1. zero the CheckSum;
//! 2. Unbind (0x2000);
//! 3. write the target TimeDateStamp;
//! 4. the flag-gated transforms, in flag-bit order, gated on the *source*
//!    machine: MarkNonExe 0x2 (i386), Imports 0x4, Exports 0x8, Resources
//!    0x10, Relocations 0x20, SmashLock 0x40 (no apply-side effect), near
//!    jumps 0x80 and calls 0x100 (i386), DisasmX64 0x200 and PdataX64 0x400
//!    (amd64);
//! 5. write the target ImageBase.
//!
//! The copy rift = Reverse(Multiply(Multiply(io2rva, rift #2), rift #1)),
//! folded into window positions.

mod algebra;
mod image;
mod native;
mod x64;
mod x86;

use super::decode::CopyMap;
use super::pe::PeInfo;
use super::{DeltaError, DeltaLimits};
use image::{DIR_DEBUG, DIR_EXPORT, Image, MACHINE_AMD64, MACHINE_I386, Marker, put, u32_at};

/// Flag bits that gate a source transform.
pub const FLAG_MARK_NON_EXE: u64 = 0x2;
pub const FLAG_IMPORTS: u64 = 0x4;
pub const FLAG_EXPORTS: u64 = 0x8;
pub const FLAG_RESOURCES: u64 = 0x10;
pub const FLAG_RELOCS: u64 = 0x20;
pub const FLAG_I386_JMPS: u64 = 0x80;
pub const FLAG_I386_CALLS: u64 = 0x100;
pub const FLAG_AMD64_DISASM: u64 = 0x200;
pub const FLAG_AMD64_PDATA: u64 = 0x400;
pub const FLAG_UNBIND: u64 = 0x2000;

/// The most entries a composed rift table may have (the real ones have a
/// few hundred; hostile ones could otherwise grow quadratically).
const MAX_COMPOSED: usize = 1 << 16;

/// T(source) and the copy map to decode against it.
pub struct Prepared {
    pub reference: Vec<u8>,
    pub map: CopyMap,
    /// The original source's COFF TimeDateStamp (for the fix-up).
    pub source_ts: Option<u32>,
    /// Transform steps that ran, by name (for error messages).
    pub steps: Vec<&'static str>,
    /// Known gaps that could explain a hash mismatch (e.g. CLI transforms).
    pub gaps: Vec<String>,
}

/// Build T(source) and the copy map for a PE delta.
pub fn prepare(
    src: &[u8],
    info: &PeInfo,
    file_type: u64,
    flags: u64,
    limits: &DeltaLimits,
    room: usize,
) -> Result<Prepared, DeltaError> {
    let cap = MAX_COMPOSED.min(usize::try_from(limits.max_rift_entries).unwrap_or(usize::MAX));
    let s = src.len() as i64;
    // `room` more bytes for the output the decoder appends: the reference
    // is not moved when it grows into the window.
    let mut reference = Vec::with_capacity(src.len().saturating_add(room));
    reference.extend_from_slice(src);
    let Some(original) = Image::parse(src) else {
        // Not a PE: nothing to transform. The creator then concatenates the
        // two rift tables (untested legacy path; the hash decides).
        let mut entries: Vec<(i64, i64)> = info.section_rift.clone();
        entries.extend(info.copy_rift.iter().copied());
        entries.push((s, 0));
        return Ok(Prepared {
            reference,
            map: CopyMap::from_entries(entries),
            source_ts: None,
            steps: vec!["none (source is not a PE image)"],
            gaps: Vec::new(),
        });
    };
    let mut steps = Vec::new();
    let mut gaps = Vec::new();
    put(&mut reference, original.checksum_at(), &[0; 4]);
    steps.push("checksum");
    let img = Image::parse(&reference).unwrap_or_else(|| original.clone());
    if img.is_managed(&reference) {
        if file_type >= 0x10 {
            return Err(DeltaError::unsupported(
                0,
                format!(
                    "CLI4 delta (FileType {file_type:#x}) on a managed (.NET) source: \
                     CLI4 metadata transforms are not supported"
                ),
            ));
        }
        if flags & 0xC000 != 0 {
            gaps.push("CLI (.NET) disasm/metadata transforms are not supported".into());
        }
    }
    if !matches!(img.machine, MACHINE_I386 | MACHINE_AMD64) {
        gaps.push(format!(
            "transforms for machine {:#06x} are not supported",
            img.machine
        ));
    }
    if flags & FLAG_UNBIND != 0 {
        native::unbind(&mut reference, &img);
        steps.push("unbind");
    }
    put(
        &mut reference,
        img.coff + 4,
        &info.time_date_stamp.to_le_bytes(),
    );
    let rift2 = info.copy_rift.as_slice();
    let ctx = native::Ctx {
        img: &img,
        rift: rift2,
        target_base: info.image_base,
    };
    let i386 = img.machine == MACHINE_I386;
    let amd64 = img.machine == MACHINE_AMD64;
    let mut marker = Marker::new(reference.len());
    let b = &mut reference;
    if flags & FLAG_MARK_NON_EXE != 0 && i386 {
        native::mark_non_exe(b.len(), &img, &mut marker);
        steps.push("mark-non-exe");
    }
    if flags & FLAG_IMPORTS != 0 {
        native::imports(b, &mut marker, &ctx);
        steps.push("imports");
    }
    if flags & FLAG_EXPORTS != 0 {
        native::exports(b, &mut marker, &ctx);
        steps.push("exports");
    }
    if flags & FLAG_RESOURCES != 0 {
        native::resources(b, &mut marker, &ctx);
        steps.push("resources");
    }
    if flags & FLAG_RELOCS != 0 {
        native::relocations(b, &mut marker, &ctx);
        steps.push("relocations");
    }
    if flags & FLAG_I386_JMPS != 0 && i386 {
        x86::jumps(b, &marker, &img, rift2);
        steps.push("i386-jumps");
    }
    if flags & FLAG_I386_CALLS != 0 && i386 {
        x86::calls(b, &marker, &img, rift2);
        steps.push("i386-calls");
    }
    if flags & FLAG_AMD64_DISASM != 0 && amd64 {
        x64::disasm(b, &img, rift2);
        steps.push("amd64-disasm");
    }
    if flags & FLAG_AMD64_PDATA != 0 && amd64 {
        x64::pdata(b, &img, rift2);
        steps.push("amd64-pdata");
    }
    if img.pe32plus {
        put(b, img.image_base_at(), &info.image_base.to_le_bytes());
    } else {
        put(
            b,
            img.image_base_at(),
            &(info.image_base as u32).to_le_bytes(),
        );
    }
    let copy = copy_rift(&original.io2rva(), rift2, &info.section_rift, s, cap)?;
    Ok(Prepared {
        reference,
        map: CopyMap::from_entries(copy),
        source_ts: Some(original.time_date_stamp),
        steps,
        gaps,
    })
}

/// The decoder's entries: Reverse(Multiply(Multiply(io2rva, rift #2),
/// rift #1)) folded to window positions (S + t → s), plus the boundary
/// entry (S → 0).
fn copy_rift(
    io2rva: &[(i64, i64)],
    rift2: &[(i64, i64)],
    rift1: &[(i64, i64)],
    s: i64,
    cap: usize,
) -> Result<Vec<(i64, i64)>, DeltaError> {
    let forward = algebra::multiply(&algebra::multiply(io2rva, rift2, cap)?, rift1, cap)?;
    let copy = algebra::reverse(&forward, cap)?;
    let mut entries: Vec<(i64, i64)> = copy
        .iter()
        .map(|&(t, src)| (s.wrapping_add(t), src))
        .collect();
    entries.push((s, 0));
    entries.sort_by_key(|e| e.0);
    Ok(entries)
}

/// The timestamp fix-up on the output: where the original source's stamp
/// survives at a known site, write the target's. Returns the sites rewritten.
pub fn fix_timestamps(out: &mut [u8], source_ts: u32, target_ts: u32) -> usize {
    if source_ts == 0 || source_ts == target_ts {
        return 0;
    }
    let Some(img) = Image::parse(out) else {
        return 0;
    };
    let mut sites = vec![img.coff + 4];
    let (exp, _) = img.dir(out, DIR_EXPORT);
    if exp != 0
        && let Some(o) = img.fixup_offset_of(exp)
    {
        sites.push(o + 4);
    }
    let (dbg, size) = img.dir(out, DIR_DEBUG);
    if dbg != 0
        && size >= 28
        && let Some(o) = img.fixup_offset_of(dbg)
    {
        let current = u32_at(out, img.coff + 4).unwrap_or(0).to_le_bytes();
        for k in 0..(size / 28) as usize {
            let e = o + k * 28;
            if e + 28 > out.len() {
                break;
            }
            sites.push(e + 4);
            let len = u32_at(out, e + 16).unwrap_or(0) as usize;
            let ptr = u32_at(out, e + 24).unwrap_or(0) as usize;
            if len == 0 || ptr == 0 || ptr.saturating_add(len) > out.len() {
                continue;
            }
            let data = &out[ptr..ptr + len];
            let mut i = 0;
            while i + 4 <= data.len() {
                if data[i..i + 4] == current {
                    sites.push(ptr + i);
                    i += 4;
                } else {
                    i += 1;
                }
            }
        }
    }
    let from = source_ts.to_le_bytes();
    let mut n = 0;
    for at in sites {
        if let Some(s) = out.get_mut(at..at.saturating_add(4))
            && s == from
        {
            s.copy_from_slice(&target_ts.to_le_bytes());
            n += 1;
        }
    }
    n
}

#[cfg(test)]
mod tests {
    use super::image::testpe::*;
    use super::image::{DIR_BOUND_IMPORT, MACHINE_AMD64, u32_at};
    use super::*;

    fn info(rift2: Vec<(i64, i64)>) -> PeInfo {
        PeInfo {
            image_base: 0x1000_0000,
            checksum: 0,
            time_date_stamp: 0x5EAC_DB79,
            section_rift: vec![(0, 0), (0x1000, 0x400), (0x2000, 0x600)],
            copy_rift: rift2,
        }
    }

    #[test]
    fn header_writes_and_identity_copy_rift() {
        let src = simple(false, MACHINE_I386);
        let p = prepare(
            &src,
            &info(Vec::new()),
            2,
            0x2E1FE,
            &DeltaLimits::default(),
            0,
        )
        .unwrap();
        let img = Image::parse(&p.reference).unwrap();
        assert_eq!(p.reference.len(), src.len());
        assert_eq!(u32_at(&p.reference, img.checksum_at()), Some(0));
        assert_eq!(img.time_date_stamp, 0x5EAC_DB79);
        assert_eq!(img.image_base, 0x1000_0000);
        assert_eq!(p.source_ts, Some(0x1111_1111));
        // Same layout on both sides: every window position S + t reads t.
        let s = src.len() as i64;
        let entries = copy_rift(&img.io2rva(), &[], &info(vec![]).section_rift, s, 1000).unwrap();
        let map = CopyMap::from_entries(entries);
        for t in [0u64, 0x3FF, 0x400, 0x5FF, 0x600, 0x7FF] {
            let _ = &map;
            let probe = s as u64 + t;
            let (rho, _) = map_at(&map, probe);
            assert_eq!(probe as i64 + rho, t as i64, "t={t:#x}");
        }
    }

    fn map_at(m: &CopyMap, p: u64) -> (i64, i64) {
        m.at_for_tests(p)
    }

    #[test]
    fn copy_rift_follows_a_moved_section() {
        // Target .data moves from RVA 0x2000 to 0x2100, still at file 0x600;
        // the target's sections: (0x1000 → 0x400), (0x2100 → 0x600).
        let rift2 = vec![(0, 0), (0x2000, 0x2100)];
        let rift1 = vec![(0, 0), (0x1000, 0x400), (0x2100, 0x600)];
        let io = vec![(0, 0), (0x400, 0x1000), (0x600, 0x2000)];
        let s = 0x800;
        let map = CopyMap::from_entries(copy_rift(&io, &rift2, &rift1, s, 1000).unwrap());
        for t in [0x10u64, 0x410, 0x610, 0x7FF] {
            let (rho, _) = map_at(&map, s as u64 + t);
            assert_eq!(s + t as i64 + rho, t as i64, "t={t:#x}");
        }
    }

    #[test]
    fn unbind_runs_first_and_is_gated() {
        let mut src = simple(false, MACHINE_I386);
        src[0x300..0x308].fill(0xEE);
        set_dir(&mut src, DIR_BOUND_IMPORT, 0x300, 8);
        let p = prepare(&src, &info(vec![]), 2, 0x2E1FE, &DeltaLimits::default(), 0).unwrap();
        assert!(p.reference[0x300..0x308].iter().all(|&x| x == 0));
        let p = prepare(
            &src,
            &info(vec![]),
            2,
            0x0E1FE & !FLAG_UNBIND,
            &DeltaLimits::default(),
            0,
        )
        .unwrap();
        assert!(p.reference[0x300..0x308].iter().all(|&x| x == 0xEE));
    }

    #[test]
    fn timestamp_fixup_sites() {
        let mut out = simple(false, MACHINE_I386);
        let img = Image::parse(&out).unwrap();
        put(&mut out, img.coff + 4, &7u32.to_le_bytes());
        set_dir(&mut out, DIR_EXPORT, 0x2000, 40);
        put(&mut out, 0x604, &7u32.to_le_bytes());
        set_dir(&mut out, DIR_DEBUG, 0x2040, 28);
        put(&mut out, 0x644, &7u32.to_le_bytes());
        assert_eq!(fix_timestamps(&mut out, 7, 9), 3);
        assert_eq!(u32_at(&out, 0x604), Some(9));
        assert_eq!(fix_timestamps(&mut out, 0, 9), 0);
    }

    #[test]
    fn not_a_pe_keeps_the_bytes() {
        let p = prepare(
            b"not a PE",
            &info(vec![]),
            2,
            0x2E1FE,
            &DeltaLimits::default(),
            0,
        )
        .unwrap();
        assert_eq!(p.reference, b"not a PE");
        assert_eq!(p.source_ts, None);
    }

    /// Hostile images: every header byte of a small PE set to each of a few
    /// values, under every flag; the pipeline never panics nor resizes.
    #[test]
    fn hostile_headers_never_panic() {
        let base = simple(true, MACHINE_AMD64);
        let mut b = simple(false, MACHINE_I386);
        set_dir(&mut b, DIR_EXPORT, 0x2000, 0x100);
        set_dir(&mut b, 1, 0x2000, 0x100);
        set_dir(&mut b, 2, 0x2000, 0x100);
        set_dir(&mut b, 5, 0x2000, 0x100);
        let rift2 = vec![(0, 0), (0x1100, 0x1180), (0x2000, 0x1F00)];
        for src in [base, b] {
            for at in (0..0x200).chain(0x400..0x410).chain(0x600..0x640) {
                for v in [0x00, 0x01, 0x7F, 0x80, 0xFF] {
                    let mut s = src.clone();
                    s[at] = v;
                    for flags in [0x2E1FE, 0x2E63E, u64::MAX] {
                        let p = prepare(
                            &s,
                            &info(rift2.clone()),
                            2,
                            flags,
                            &DeltaLimits::default(),
                            0,
                        )
                        .unwrap();
                        assert_eq!(p.reference.len(), s.len());
                        let mut out = p.reference.clone();
                        fix_timestamps(&mut out, 0x1111_1111, 5);
                    }
                }
            }
        }
        // And the public fuzzing hook on garbage.
        assert!(
            super::super::fuzz_pe_pipeline(b"MZ", &[0xFF; 3], 2, 0x2E1FE, &DeltaLimits::default())
                .is_err()
        );
    }
}
