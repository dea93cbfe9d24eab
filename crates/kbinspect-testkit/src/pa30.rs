//! A small, simple PA30 *encoder* for tests and benchmarks: source-less RAW
//! deltas with the default (`isDefault`) trees, greedy hash matching and an
//! MD5 target hash. Its output only proves that kbinspect's decoder agrees
//! with kbinspect's reading of the format (self-consistency), not with
//! msdelta.dll; it exists to reach paths no real sample uses (offsets of
//! 16 MiB and more, very long matches) and to generate large inputs.

use md5::Digest as _;

/// LSB-first bit writer matching [`super::bits::BitReader`].
struct BitWriter {
    out: Vec<u8>,
    acc: u64,
    n: u32,
}

impl BitWriter {
    fn new() -> Self {
        let mut w = BitWriter {
            out: Vec::new(),
            acc: 0,
            n: 0,
        };
        w.bits(0, 3); // padding count, patched in `finish`
        w
    }

    fn bits(&mut self, v: u64, n: u32) {
        debug_assert!(n <= 32);
        if n == 0 {
            return;
        }
        self.acc |= (v & ((1u64 << n) - 1)) << self.n;
        self.n += n;
        while self.n >= 8 {
            self.out.push(self.acc as u8);
            self.acc >>= 8;
            self.n -= 8;
        }
    }

    fn number(&mut self, v: u64) {
        let nibbles = ((64 - v.leading_zeros()).div_ceil(4)).max(1);
        self.bits(1 << (nibbles - 1), nibbles); // nibbles−1 zeros, then a one
        let total = nibbles * 4;
        if total <= 32 {
            self.bits(v, total);
        } else {
            self.bits(v & 0xFFFF_FFFF, 32);
            self.bits(v >> 32, total - 32);
        }
    }

    fn align(&mut self) {
        if self.n > 0 {
            self.bits(0, 8 - self.n);
        }
    }

    fn buffer(&mut self, bytes: &[u8]) {
        self.number(bytes.len() as u64);
        self.align();
        self.out.extend_from_slice(bytes);
    }

    /// Flush and record the number of unused top bits of the last byte.
    fn finish(mut self) -> Vec<u8> {
        let pad = if self.n == 0 { 0 } else { 8 - self.n };
        self.align();
        if let Some(first) = self.out.first_mut() {
            *first = (*first & !7) | pad as u8;
        }
        self.out
    }
}

/// Code values for canonical lengths, longest-first (the decoder's rule).
fn codes(lengths: &[u8]) -> Vec<(u32, u32)> {
    let mut count = [0u32; 17];
    for &l in lengths {
        count[usize::from(l)] += 1;
    }
    count[0] = 0;
    let mut next = [0u32; 17];
    let mut s = 0u32;
    for l in (1..=16).rev() {
        next[l] = s;
        s = (s + count[l]) / 2;
    }
    lengths
        .iter()
        .map(|&l| {
            let l = usize::from(l);
            if l == 0 {
                return (0, 0);
            }
            let c = next[l];
            next[l] += 1;
            (c, l as u32)
        })
        .collect()
}

struct Coder {
    main: Vec<(u32, u32)>,
    length: Vec<(u32, u32)>,
    aligned: Vec<(u32, u32)>,
}

impl Coder {
    fn put(w: &mut BitWriter, (code, len): (u32, u32)) {
        // The first bit read is the code's most significant bit.
        for i in (0..len).rev() {
            w.bits(u64::from((code >> i) & 1), 1);
        }
    }
}

fn slot_for_distance(d: u64) -> (usize, u32, u64) {
    match d {
        1..=3 => (7 + d as usize, 0, 0),
        _ => {
            let hb = 63 - d.leading_zeros(); // ≥ 2
            let nb = hb - 1;
            let odd = (d >> (hb - 1)) & 1;
            let slot = (2 * nb + 9) as usize + odd as usize;
            let base = (2 + odd) << nb;
            (slot, nb, d - base)
        }
    }
}

fn put_match(w: &mut BitWriter, c: &Coder, lru: &mut [u64; 3], d: u64, len: u64) {
    let lf = if len <= 8 { len - 1 } else { 0 };
    let rep = lru.iter().position(|&r| r == d);
    let (slot, nb, extra) = match rep {
        Some(i) => (4 + i, 0, 0),
        None => slot_for_distance(d),
    };
    let main_slot = if slot >= 43 { 7 } else { slot };
    Coder::put(w, c.main[256 + main_slot * 8 + lf as usize]);
    if slot >= 55 {
        w.bits(0b11, 2);
        w.bits((slot - 55) as u64, 4);
    } else if slot >= 47 {
        w.bits(0b01, 2);
        w.bits((slot - 47) as u64, 3);
    } else if slot >= 43 {
        w.bits(0, 1);
        w.bits((slot - 43) as u64, 2);
    }
    if rep.is_none() && slot >= 11 {
        if nb < 4 {
            w.bits(extra, nb);
        } else {
            let mid = extra >> 4;
            if nb - 4 > 32 {
                w.bits(mid & 0xFFFF_FFFF, 32);
                w.bits(mid >> 32, nb - 4 - 32);
            } else {
                w.bits(mid, nb - 4);
            }
            Coder::put(w, c.aligned[(extra & 15) as usize]);
        }
    }
    if lf == 0 {
        if len <= 263 {
            Coder::put(w, c.length[(len - 8) as usize]);
        } else {
            Coder::put(w, c.length[0]);
            let v = len - 8;
            let z = 63 - v.leading_zeros() - 8;
            w.bits(1 << z, z + 1);
            w.bits(v - (1 << (z + 8)), z + 8);
        }
    }
    if d == lru[0] {
    } else if d == lru[1] {
        lru.swap(0, 1);
    } else {
        lru[2] = lru[1];
        lru[1] = lru[0];
        lru[0] = d;
    }
}

/// Encode `target` as a source-less RAW PA30 delta (MD5-hashed).
pub fn encode_sourceless(target: &[u8]) -> Vec<u8> {
    encode_declaring(target, target.len() as u64)
}

/// [`encode_sourceless`] whose header declares a TargetSize of `declared`
/// bytes instead of the real length: hostile-input tests (a 1 GiB target
/// in a delta of a few hundred bytes).
pub fn encode_declaring(target: &[u8], declared: u64) -> Vec<u8> {
    let coder = Coder {
        main: codes(&kbinspect::msdelta::default_code_lengths(600)),
        length: codes(&kbinspect::msdelta::default_code_lengths(256)),
        aligned: codes(&kbinspect::msdelta::default_code_lengths(16)),
    };
    let mut w = BitWriter::new();
    w.bits(0, 1); // no base rift table
    w.bits(1, 1); // isDefault
    let mut lru = [0u64; 3];
    const HASH_BITS: u32 = 16;
    let mut table = vec![u32::MAX; 1 << HASH_BITS];
    let hash = |b: &[u8]| -> usize {
        let v = u32::from_le_bytes([b[0], b[1], b[2], b[3]]);
        (v.wrapping_mul(0x9E37_79B1) >> (32 - HASH_BITS)) as usize
    };
    let mut p = 0usize;
    while p < target.len() {
        let mut best: Option<(u64, u64)> = None;
        if p + 4 <= target.len() {
            let h = hash(&target[p..]);
            let cand = table[h];
            table[h] = p as u32;
            let mut try_at = |q: usize| {
                let max = (target.len() - p).min(1 << 24);
                let l = target[q..]
                    .iter()
                    .zip(&target[p..p + max])
                    .take_while(|(a, b)| a == b)
                    .count();
                if l >= 3 && best.is_none_or(|(_, bl)| l as u64 > bl) {
                    best = Some(((p - q) as u64, l as u64));
                }
            };
            if lru[0] > 0 && (lru[0] as usize) <= p {
                try_at(p - lru[0] as usize);
            }
            if cand != u32::MAX {
                try_at(cand as usize);
            }
        }
        match best {
            Some((d, len)) => {
                put_match(&mut w, &coder, &mut lru, d, len);
                p += len as usize;
            }
            None => {
                Coder::put(&mut w, coder.main[usize::from(target[p])]);
                p += 1;
            }
        }
    }
    let patch = w.finish();

    let mut out = b"PA30".to_vec();
    out.extend_from_slice(&0u64.to_le_bytes());
    let mut h = BitWriter::new();
    h.number(1); // FileTypeSet: RAW only
    h.number(1); // FileType: RAW
    h.number(0); // Flags
    h.number(declared);
    h.number(0x8003);
    h.buffer(&md5::Md5::digest(target));
    h.buffer(&[]);
    h.buffer(&patch);
    out.extend(h.finish());
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use kbinspect::msdelta::{DeltaLimits, apply, parse_header};

    #[test]
    fn distance_slots_round_trip_the_decoder_formula() {
        for d in (1u64..5000).chain([1 << 20, (1 << 24) + 7, (3 << 30) + 12345]) {
            let (slot, nb, extra) = slot_for_distance(d);
            if slot >= 11 {
                let base = (2 + ((slot as u64 - 11) % 2)) << ((slot - 9) / 2);
                assert_eq!(nb as usize, (slot - 9) / 2);
                assert_eq!(base + extra, d);
                assert!(extra < 1 << nb);
            } else {
                assert_eq!(slot as u64 - 7, d);
            }
        }
    }

    /// A PA31 header built per the documented layout (no real sample exists):
    /// the fields are read from the nested buffer, and applying is refused.
    #[test]
    fn pa31_header_is_read_and_refused() {
        let mut inner = BitWriter::new();
        inner.number(0xF);
        inner.number(1);
        inner.number(0x20000);
        inner.number(12345);
        inner.number(0x800C);
        inner.buffer(&[0xAB; 32]);
        inner.number(0x88); // HeaderInfoSize
        inner.number(1); // IsPa31
        inner.number(0); // DeltaClientMinVersion
        inner.buffer(&[]); // AdditionalHash
        let inner = inner.finish();
        let mut outer = BitWriter::new();
        outer.buffer(&inner);
        outer.buffer(&[]);
        outer.buffer(&[0x0A, 0x51, 0xE5, 0xC0, 0, 0]);
        let mut d = b"PA31".to_vec();
        d.extend_from_slice(&7u64.to_le_bytes());
        d.extend(outer.finish());
        let h = parse_header(&d).unwrap();
        assert_eq!(h.signature, "PA31");
        assert_eq!(
            (h.file_type_set, h.flags, h.target_size),
            (0xF, 0x20000, 12345)
        );
        assert_eq!(
            (h.hash_alg, h.target_hash.len(), h.filetime),
            (0x800C, 32, 7)
        );
        let e = apply(&d, None, &DeltaLimits::default()).unwrap_err();
        assert_eq!(e.kind, kbinspect::msdelta::ErrorKind::Unsupported);
        assert!(e.message.contains("PA31"), "{e}");
    }

    /// Self-consistency: text, long runs, repeats and empty input survive.
    #[test]
    fn encoder_output_decodes() {
        let mut t = Vec::new();
        for i in 0..3000u32 {
            t.extend_from_slice(format!("line {} of {}\n", i % 97, i % 13).as_bytes());
        }
        t.extend(std::iter::repeat_n(b'z', 100_000));
        for input in [&t[..], b"", b"a", b"abcabcabcabcabc"] {
            let d = encode_sourceless(input);
            let h = parse_header(&d).unwrap();
            assert_eq!(h.target_size, input.len() as u64);
            assert_eq!(apply(&d, None, &DeltaLimits::default()).unwrap(), input);
        }
    }
}
