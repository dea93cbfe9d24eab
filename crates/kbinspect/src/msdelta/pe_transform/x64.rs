//! The amd64 passes: DisasmX64 (0x200) rewrites RIP-relative disp32 and
//! rel32 fields inside each `.pdata` function, PdataX64 (0x400) remaps the
//! RUNTIME_FUNCTION records and their unwind handler slots.
//!
//! The length decoder reproduces the creator's own, quirks included: it
//! stops early on opcodes it does not model, and the caller then decodes the
//! remaining bytes as new instructions.

use super::algebra::map_rva;
use super::image::{DIR_EXCEPTION, Image, put_u32, u32_at};

/// What the length decoder found: bytes consumed, and the offset of the
/// one 4-byte field to remap (if any).
#[derive(Debug, PartialEq, Eq)]
pub struct Insn {
    pub len: usize,
    pub field: Option<usize>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Class {
    None,
    Stop,
    ModRm,
    Moffs,
    Rel8,
    Rel32,
}

fn in_any(x: u8, ranges: &[(u8, u8)]) -> bool {
    ranges.iter().any(|&(a, b)| (a..=b).contains(&x))
}

fn class_one(op: u8) -> Class {
    const NONE: &[(u8, u8)] = &[
        (0x04, 0x05),
        (0x0C, 0x0D),
        (0x14, 0x15),
        (0x1C, 0x1D),
        (0x24, 0x25),
        (0x2C, 0x2D),
        (0x34, 0x35),
        (0x3C, 0x3D),
        (0x50, 0x5F),
        (0x68, 0x68),
        (0x6A, 0x6A),
        (0x6C, 0x6F),
        (0x90, 0x99),
        (0x9B, 0x9D),
        (0xA4, 0xBF),
        (0xC2, 0xC3),
        (0xC8, 0xCD),
        (0xCF, 0xCF),
        (0xD7, 0xD7),
        (0xE4, 0xE7),
        (0xEC, 0xF5),
        (0xF8, 0xFD),
    ];
    const MODRM: &[(u8, u8)] = &[
        (0x00, 0x03),
        (0x08, 0x0B),
        (0x10, 0x13),
        (0x18, 0x1B),
        (0x20, 0x23),
        (0x28, 0x2B),
        (0x30, 0x33),
        (0x38, 0x3B),
        (0x63, 0x63),
        (0x69, 0x69),
        (0x6B, 0x6B),
        (0x80, 0x81),
        (0x83, 0x8F),
        (0xC0, 0xC1),
        (0xC6, 0xC7),
        (0xD0, 0xD3),
        (0xD8, 0xDF),
        (0xF6, 0xF7),
        (0xFE, 0xFF),
    ];
    if in_any(op, NONE) {
        Class::None
    } else if in_any(op, MODRM) {
        Class::ModRm
    } else if (0xA0..=0xA3).contains(&op) {
        Class::Moffs
    } else if in_any(op, &[(0x70, 0x7F), (0xE0, 0xE3), (0xEB, 0xEB)]) {
        Class::Rel8
    } else if op == 0xE8 || op == 0xE9 {
        Class::Rel32
    } else {
        Class::Stop
    }
}

fn class_0f(op: u8) -> Class {
    const NONE: &[(u8, u8)] = &[
        (0x04, 0x09),
        (0x0B, 0x0B),
        (0x0E, 0x0E),
        (0x30, 0x33),
        (0x77, 0x77),
        (0xA0, 0xA2),
        (0xA8, 0xAA),
        (0xC8, 0xCF),
    ];
    const STOP: &[(u8, u8)] = &[
        (0x0A, 0x0A),
        (0x0C, 0x0C),
        (0x19, 0x1F),
        (0x24, 0x27),
        (0x34, 0x3F),
        (0x78, 0x7D),
        (0xA6, 0xA7),
        (0xB8, 0xB8),
        (0xD0, 0xD0),
        (0xF0, 0xF0),
        (0xFF, 0xFF),
    ];
    if in_any(op, NONE) {
        Class::None
    } else if in_any(op, STOP) {
        Class::Stop
    } else if (0x80..=0x8F).contains(&op) {
        Class::Rel32
    } else {
        Class::ModRm
    }
}

/// Length-decode one instruction from `code` (at most 15 bytes are looked at).
pub fn decode(code: &[u8]) -> Insn {
    let stop = |len| Insn { len, field: None };
    let mut i = 0;
    let (mut opsize16, mut addr32) = (false, false);
    while let Some(&b) = code.get(i) {
        match b {
            0x66 => opsize16 = true,
            0x67 => addr32 = true,
            0x26 | 0x2E | 0x36 | 0x3E | 0x64 | 0x65 | 0xF0 | 0xF2 | 0xF3 => {}
            _ => break,
        }
        i += 1;
    }
    let _ = addr32;
    let Some(&b) = code.get(i) else {
        return stop(i);
    };
    let mut rex_w = false;
    if (0x40..=0x4F).contains(&b) {
        rex_w = b & 8 != 0;
        i += 1;
        match code.get(i) {
            None => return stop(i),
            Some(&n) if (0x40..=0x4F).contains(&n) => return stop(i),
            _ => {}
        }
    }
    let Some(&first) = code.get(i) else {
        return stop(i);
    };
    let (two_byte, op) = if first == 0x0F {
        i += 1;
        match code.get(i) {
            Some(&op) => (true, op),
            None => return stop(i),
        }
    } else {
        (false, first)
    };
    i += 1;
    let class = if two_byte {
        class_0f(op)
    } else {
        class_one(op)
    };
    let mut field = None;
    let mut reg = 0u8;
    match class {
        Class::None => {}
        Class::Stop => return stop(i),
        Class::Moffs => {
            let n = if addr32 { 4 } else { 8 };
            if i + n > code.len() {
                return stop(i);
            }
            i += n;
        }
        Class::Rel8 => {
            if i + 1 > code.len() {
                return stop(i);
            }
            i += 1;
        }
        Class::Rel32 => {
            if i + 4 > code.len() {
                return stop(i);
            }
            field = Some(i);
            i += 4;
        }
        Class::ModRm => {
            let Some(&modrm) = code.get(i) else {
                return stop(i);
            };
            i += 1;
            let (md, rm) = (modrm >> 6, modrm & 7);
            reg = (modrm >> 3) & 7;
            let mut disp = 0usize;
            if md != 3 {
                if md == 0 && rm == 5 {
                    if i + 4 > code.len() {
                        return stop(i);
                    }
                    field = Some(i);
                    disp = 4;
                } else {
                    if rm == 4 {
                        let Some(&sib) = code.get(i) else {
                            return stop(i);
                        };
                        i += 1;
                        if md == 0 && sib & 7 == 5 {
                            disp = 4;
                        }
                    }
                    match md {
                        1 => disp = 1,
                        2 => disp = 4,
                        _ => {}
                    }
                }
            }
            if i + disp > code.len() {
                return stop(i);
            }
            i += disp;
        }
    }
    let wide = if opsize16 { 2 } else { 4 };
    let imm = if two_byte {
        match op {
            // 0F 0F (3DNow!) takes its imm8 suffix byte.
            0x0F | 0x70..=0x73 | 0xA4 | 0xAC | 0xBA | 0xC2 | 0xC4..=0xC6 => 1,
            _ => 0,
        }
    } else {
        match op {
            0x04
            | 0x0C
            | 0x14
            | 0x1C
            | 0x24
            | 0x2C
            | 0x34
            | 0x3C
            | 0x6A
            | 0x6B
            | 0x80
            | 0x82
            | 0x83
            | 0xA8
            | 0xB0..=0xB7
            | 0xC0
            | 0xC1
            | 0xC6
            | 0xCD
            | 0xE4..=0xE7 => 1,
            0x05 | 0x0D | 0x15 | 0x1D | 0x25 | 0x2D | 0x35 | 0x3D | 0x68 | 0x69 | 0x81 | 0xA9
            | 0xC7 | 0xC2 | 0xCA => wide,
            0xB8..=0xBF => {
                if rex_w {
                    8
                } else {
                    wide
                }
            }
            0xF6 if reg <= 1 => 1,
            0xF7 if reg <= 1 => wide,
            _ => 0,
        }
    };
    if i + imm > code.len() {
        return stop(i);
    }
    Insn {
        len: i + imm,
        field,
    }
}

/// DisasmX64 (0x200): walk every `.pdata` function and remap its flagged
/// fields. Runs before PdataX64, so the records still hold source RVAs.
pub fn disasm(b: &mut [u8], img: &Image, rift: &[(i64, i64)]) {
    if rift.is_empty() {
        return;
    }
    let (rva, size) = img.dir(b, DIR_EXCEPTION);
    if rva == 0 || size < 12 {
        return;
    }
    let Some(p) = img.offset_of(rva) else {
        return;
    };
    for k in 0..(size / 12) as usize {
        let rec = p + k * 12;
        let (Some(begin), Some(end)) = (u32_at(b, rec), u32_at(b, rec + 4)) else {
            break;
        };
        if begin == 0 || end <= begin {
            continue;
        }
        let Some(mut off) = img.offset_of(begin) else {
            continue;
        };
        let mut at = begin;
        while at < end {
            let avail = b.len().saturating_sub(off);
            if avail == 0 {
                break;
            }
            let window = ((end - at) as usize).min(avail).min(15);
            let insn = decode(&b[off..off + window]);
            if insn.len == 0 {
                break;
            }
            if let Some(f) = insn.field {
                let fo = off + f;
                if let Some(old) = u32_at(b, fo) {
                    let old = i64::from(old as i32);
                    let next = i64::from(at) + insn.len as i64;
                    let new =
                        map_rva(rift, next.wrapping_add(old)).wrapping_sub(map_rva(rift, next));
                    if new != old {
                        put_u32(b, fo, new as i32 as u32);
                    }
                }
            }
            at = at.saturating_add(insn.len as u32);
            off += insn.len;
        }
    }
}

/// PdataX64 (0x400): the unwind handler slot, then Begin, End and UnwindData.
pub fn pdata(b: &mut [u8], img: &Image, rift: &[(i64, i64)]) {
    if rift.is_empty() {
        return;
    }
    let (rva, size) = img.dir(b, DIR_EXCEPTION);
    if rva == 0 || size == 0 {
        return;
    }
    let Some(p) = img.offset_of(rva).filter(|&p| p != 0) else {
        return;
    };
    let map = |v: u32| map_rva(rift, i64::from(v)) as u32;
    let n = (size as usize).min(b.len().saturating_sub(p)) / 12;
    let pend = p.saturating_add(size as usize);
    for k in 0..n {
        let rec = p + k * 12;
        let u = u32_at(b, rec + 8).unwrap_or(0);
        if u != 0
            && let Some(info) = img.offset_or_header(u)
            && (info < p || info > pend)
            && let Some(&flags) = b.get(info)
            && flags & 0x38 != 0
            && let Some(&codes) = b.get(info.saturating_add(2))
        {
            let slot = info + 4 + 4 * usize::from(codes).div_ceil(2);
            if let Some(v) = u32_at(b, slot)
                && v != 0
            {
                put_u32(b, slot, map(v));
            }
        }
        for f in [0, 4, 8] {
            if let Some(v) = u32_at(b, rec + f)
                && v != 0
            {
                put_u32(b, rec + f, map(v));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::image::testpe::*;
    use super::super::image::{MACHINE_AMD64, u32_at};
    use super::*;

    #[test]
    fn decoder_lengths_and_fields() {
        // lea rax, [rip+0x10]: 48 8D 05 disp32
        assert_eq!(
            decode(&[0x48, 0x8D, 0x05, 0x10, 0, 0, 0, 0xC3]),
            Insn {
                len: 7,
                field: Some(3)
            }
        );
        // call rel32
        assert_eq!(
            decode(&[0xE8, 1, 2, 3, 4]),
            Insn {
                len: 5,
                field: Some(1)
            }
        );
        // jne rel32 (0F 85)
        assert_eq!(decode(&[0x0F, 0x85, 0, 0, 0, 0]).field, Some(2));
        // mov eax, [rsp+8]: 8B 44 24 08 (SIB + disp8), no field
        assert_eq!(
            decode(&[0x8B, 0x44, 0x24, 0x08]),
            Insn {
                len: 4,
                field: None
            }
        );
        // mov rax, imm64
        assert_eq!(decode(&[0x48, 0xB8, 0, 0, 0, 0, 0, 0, 0, 0]).len, 10);
        // ret imm16 is given 4 immediate bytes (the creator's quirk)
        assert_eq!(decode(&[0xC2, 8, 0, 0, 0]).len, 5);
        // 0F 0F (3DNow!): ModRM + imm8
        assert_eq!(decode(&[0x0F, 0x0F, 0xC1, 0x9E]).len, 4);
        // multi-byte NOP 0F 1F stops after the opcode
        assert_eq!(decode(&[0x0F, 0x1F, 0x44, 0, 0]).len, 2);
        // REX REX stops; truncated field stops
        assert_eq!(decode(&[0x48, 0x48, 0x90]).len, 1);
        assert_eq!(decode(&[0xE8, 1, 2]).len, 1);
        assert_eq!(decode(&[]).len, 0);
        // test eax, imm32 only for F7 /0
        assert_eq!(decode(&[0xF7, 0xC0, 1, 0, 0, 0]).len, 6);
        assert_eq!(decode(&[0xF7, 0xD0]).len, 2);
    }

    fn image_with_pdata() -> Vec<u8> {
        let mut b = simple(true, MACHINE_AMD64);
        // .pdata record at RVA 0x2000 (file 0x600): function 0x1000..0x100C,
        // unwind info at 0x2100 (file 0x700) with EHANDLER and 2 codes.
        set_dir(&mut b, DIR_EXCEPTION, 0x2000, 12);
        put_u32(&mut b, 0x600, 0x1000);
        put_u32(&mut b, 0x604, 0x100C);
        put_u32(&mut b, 0x608, 0x2100);
        b[0x700] = 0x09; // version 1, flags EHANDLER
        b[0x702] = 2;
        put_u32(&mut b, 0x708, 0x1008); // handler
        // lea rax,[rip+X] → 0x2010; then call rel32 → 0x1008; then ret
        b[0x400..0x403].copy_from_slice(&[0x48, 0x8D, 0x05]);
        put_u32(&mut b, 0x403, (0x2010i32 - 0x1007) as u32);
        b[0x407] = 0xE8;
        put_u32(&mut b, 0x408, (0x1008i32 - 0x100C) as u32);
        b
    }

    const RIFT: &[(i64, i64)] = &[(0, 0), (0x1008, 0x1018), (0x2000, 0x2040)];

    #[test]
    fn disasm_remaps_rip_relative_and_rel32() {
        let mut b = image_with_pdata();
        let img = Image::parse(&b).unwrap();
        disasm(&mut b, &img, RIFT);
        // lea: next 0x1007 (identity), target 0x2010 → 0x2050.
        assert_eq!(u32_at(&b, 0x403), Some((0x2050i32 - 0x1007) as u32));
        // call: next 0x100C → 0x101C, target 0x1008 → 0x1018.
        assert_eq!(u32_at(&b, 0x408), Some((0x1018i32 - 0x101C) as u32));
        // An empty rift changes nothing.
        let mut c = image_with_pdata();
        let before = c.clone();
        disasm(&mut c, &img, &[]);
        assert_eq!(c, before);
    }

    #[test]
    fn pdata_remaps_records_and_handler() {
        let mut b = image_with_pdata();
        let img = Image::parse(&b).unwrap();
        pdata(&mut b, &img, RIFT);
        assert_eq!(u32_at(&b, 0x600), Some(0x1000));
        assert_eq!(u32_at(&b, 0x604), Some(0x101C));
        assert_eq!(u32_at(&b, 0x608), Some(0x2140));
        assert_eq!(u32_at(&b, 0x708), Some(0x1018));
    }
}
