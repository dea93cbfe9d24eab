//! The i386 branch passes: near jumps (E9, 0F 8x; flag 0x80) and calls
//! (E8; flag 0x100). They rewrite rel32 displacements so that they point
//! where the target layout will put the same code, and only read the marker.

use super::algebra::map_rva;
use super::image::{Image, Marker};

/// A branch target the passes may follow: non-zero, inside the image, in the
/// headers or in some section. Returns the marker index to test.
fn target_index(img: &Image, t: u32) -> Option<usize> {
    if t == 0 || t >= img.size_of_image {
        return None;
    }
    if t < img.first_section_rva() {
        return Some(t as usize);
    }
    if !img.sections.iter().any(|s| s.contains(t)) {
        return None;
    }
    Some(img.offset_of(t).unwrap_or(t as usize))
}

fn i32_at(b: &[u8], o: usize) -> i32 {
    i32::from_le_bytes([b[o], b[o + 1], b[o + 2], b[o + 3]])
}

/// The new displacement for a branch at `site` (end of the instruction, an
/// RVA) with displacement `v`, or None when the branch must be left alone.
fn remap(img: &Image, m: &Marker, rift: &[(i64, i64)], site: u32, v: i32) -> Option<i32> {
    let t = site.wrapping_add(v as u32);
    let idx = target_index(img, t)?;
    if m.is_set(idx) {
        return None;
    }
    Some(map_rva(rift, i64::from(t)).wrapping_sub(map_rva(rift, i64::from(site))) as i32)
}

/// RelativeJmpsX86 (0x80).
pub fn jumps(b: &mut [u8], m: &Marker, img: &Image, rift: &[(i64, i64)]) {
    for s in img.sections.iter().filter(|s| s.executable()) {
        let (start, end) = s.code_range(b.len());
        if end < 5 {
            continue;
        }
        let mut i = start;
        while i + 5 <= end {
            // Straight to the next byte that can start a near jump (memchr:
            // vector compares, not a branch per byte of code).
            let Some(at) = memchr::memchr2(0xE9, 0x0F, &b[i..end - 4]) else {
                break;
            };
            i += at;
            let (d, mut collapse) = match (b[i], b[i + 1]) {
                (0xE9, _) => (i, true),
                (0x0F, x) if x & 0xF0 == 0x80 => (i + 1, true),
                _ => {
                    i += 1;
                    continue;
                }
            };
            if d != i && m.is_set(d - 1) {
                collapse = false;
            }
            if d + 5 > b.len() || m.any_set(d, 5) {
                i += 1;
                continue;
            }
            let v = i32_at(b, d + 1);
            if (-128..=127).contains(&v) {
                i += 1;
                continue;
            }
            let site = s
                .virtual_address
                .wrapping_add((d - s.raw_ptr as usize) as u32)
                .wrapping_add(5);
            let Some(n) = remap(img, m, rift, site, v) else {
                i += 1;
                continue;
            };
            if collapse && (-128..=127).contains(&n) {
                if d == i {
                    b[d] = 0xEB;
                    b[d + 1] = n as u8;
                } else {
                    b[d - 1] = 0x70 | (b[d] & 0x0F);
                    b[d] = n as u8;
                }
            } else if n != v {
                b[d + 1..d + 5].copy_from_slice(&n.to_le_bytes());
            }
            i = d + 5;
        }
    }
}

/// RelativeCallsX86 (0x100).
pub fn calls(b: &mut [u8], m: &Marker, img: &Image, rift: &[(i64, i64)]) {
    for s in img.sections.iter().filter(|s| s.executable()) {
        let (start, end) = s.code_range(b.len());
        if end < 5 {
            continue;
        }
        let mut i = start;
        while i + 5 <= end {
            let Some(at) = memchr::memchr(0xE8, &b[i..end - 4]) else {
                break;
            };
            i += at;
            if m.any_set(i, 5) {
                i += 1;
                continue;
            }
            let v = i32_at(b, i + 1);
            let site = s
                .virtual_address
                .wrapping_add((i - s.raw_ptr as usize) as u32)
                .wrapping_add(5);
            let Some(n) = remap(img, m, rift, site, v) else {
                i += 1;
                continue;
            };
            if n != v {
                b[i + 1..i + 5].copy_from_slice(&n.to_le_bytes());
            }
            i += 5;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::image::MACHINE_I386;
    use super::super::image::testpe::*;
    use super::*;

    /// Code after RVA 0x1100 moves 0x20 later in the target.
    const RIFT: &[(i64, i64)] = &[(0, 0), (0x1100, 0x1120)];

    #[test]
    fn call_displacement_follows_the_rift() {
        let mut b = simple(false, MACHINE_I386);
        // call at RVA 0x1000 (file 0x400) to 0x1180: disp = 0x1180 - 0x1005.
        b[0x400] = 0xE8;
        b[0x401..0x405].copy_from_slice(&(0x1180i32 - 0x1005).to_le_bytes());
        // call into .data (claimed by MarkNonExe) stays.
        b[0x410] = 0xE8;
        b[0x411..0x415].copy_from_slice(&(0x2000i32 - 0x1015).to_le_bytes());
        let img = Image::parse(&b).unwrap();
        let mut m = Marker::new(b.len());
        super::super::native::mark_non_exe(b.len(), &img, &mut m);
        calls(&mut b, &m, &img, RIFT);
        assert_eq!(i32_at(&b, 0x401), 0x11A0 - 0x1005);
        assert_eq!(i32_at(&b, 0x411), 0x2000 - 0x1015);
    }

    #[test]
    fn long_jump_collapses_when_it_fits() {
        let mut b = simple(false, MACHINE_I386);
        // jmp at 0x1000 to 0x1100 (disp 0xFB): target 0x1120 → disp 0x11B, stays long.
        b[0x400] = 0xE9;
        b[0x401..0x405].copy_from_slice(&(0x1100i32 - 0x1005).to_le_bytes());
        // jne at RVA 0x1150 (file 0x550) back to 0x1000; source disp -0x156,
        // target site 0x1176 → disp -0x176: stays long, rewritten.
        b[0x550] = 0x0F;
        b[0x551] = 0x85;
        b[0x552..0x556].copy_from_slice(&(0x1000i32 - 0x1156).to_le_bytes());
        // jmp at 0x1180 to 0x1300, outside every section: left alone.
        b[0x580] = 0xE9;
        b[0x581..0x585].copy_from_slice(&(0x1300i32 - 0x1185).to_le_bytes());
        let rift: &[(i64, i64)] = &[(0, 0), (0x1100, 0x1120), (0x1200, 0x1130)];
        let img = Image::parse(&b).unwrap();
        let m = Marker::new(b.len());
        jumps(&mut b, &m, &img, rift);
        assert_eq!(i32_at(&b, 0x401), 0x1120 - 0x1005);
        assert_eq!(i32_at(&b, 0x552), 0x1000 - 0x1176);
        assert_eq!(i32_at(&b, 0x581), 0x1300 - 0x1185);
        // A short collapse: jmp at 0x1010 to 0x11F0 (disp 0x1DB); with the
        // second half of .text pulled back, 0x11F0 → 0x1080: disp 0x6B.
        let mut b2 = simple(false, MACHINE_I386);
        b2[0x410] = 0xE9;
        b2[0x411..0x415].copy_from_slice(&(0x11F0i32 - 0x1015).to_le_bytes());
        let img = Image::parse(&b2).unwrap();
        let m2 = Marker::new(b2.len());
        jumps(&mut b2, &m2, &img, &[(0, 0), (0x1100, 0xF90)]);
        assert_eq!(b2[0x410], 0xEB);
        assert_eq!(b2[0x411], 0x6B);
        // A claimed opcode byte blocks the rewrite.
        let mut b3 = simple(false, MACHINE_I386);
        b3[0x410] = 0xE9;
        b3[0x411..0x415].copy_from_slice(&(0x11F0i32 - 0x1015).to_le_bytes());
        let mut m3 = Marker::new(b3.len());
        m3.mark(0x412, 1);
        let before = b3.clone();
        jumps(&mut b3, &m3, &img, &[(0, 0), (0x1100, 0xF90)]);
        assert_eq!(b3, before);
    }
}
