//! Our LZX decoder (`container::lzx`) against `lzxd` on the same frames:
//! lzxc-encoded inputs of several kinds, window sizes and E8 settings, and
//! thousands of mutated frames. Valid streams must decode to the same bytes;
//! on damaged ones our decoder must never panic, and whenever both decoders
//! accept a frame they must agree.

use kbinspect::container::lzx::LzxDecoder;

/// xorshift64*: deterministic test data without a dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn lzxd_window(bits: u8) -> lzxd::WindowSize {
    use lzxd::WindowSize as W;
    match bits {
        15 => W::KB32,
        16 => W::KB64,
        17 => W::KB128,
        18 => W::KB256,
        19 => W::KB512,
        20 => W::MB1,
        _ => W::MB2,
    }
}

fn lzxc_window(bits: u8) -> lzxc::WindowSize {
    use lzxc::WindowSize as W;
    match bits {
        15 => W::KB32,
        16 => W::KB64,
        17 => W::KB128,
        18 => W::KB256,
        19 => W::KB512,
        20 => W::MB1,
        _ => W::MB2,
    }
}

/// Text-like, binary-like (x86 CALLs), random and run-heavy data.
fn sample(kind: u32, len: usize, rng: &mut Rng) -> Vec<u8> {
    let mut v = Vec::with_capacity(len);
    match kind {
        0 => {
            let words = [
                "assembly",
                "identity",
                "version",
                "manifest",
                "<file name=\"",
                "\" />\r\n",
                "amd64",
                "neutral",
                "31bf3856ad364e35",
                "sha256",
                " ",
            ];
            while v.len() < len {
                v.extend_from_slice(words[rng.below(words.len() as u64) as usize].as_bytes());
            }
        }
        1 => {
            while v.len() < len {
                match rng.below(4) {
                    0 => {
                        v.push(0xE8);
                        v.extend_from_slice(&(rng.below(1 << 20) as i32 - (1 << 19)).to_le_bytes());
                    }
                    1 => v.extend_from_slice(&[0x48, 0x8B, 0x05, 0, 0, 0, 0]),
                    2 => {
                        let back = rng.below(v.len().min(4096) as u64 + 1) as usize;
                        let n = rng.below(40) as usize;
                        for _ in 0..n {
                            let b = v
                                .get(v.len().wrapping_sub(back.max(1)))
                                .copied()
                                .unwrap_or(0);
                            v.push(b);
                        }
                    }
                    _ => v.push(rng.next() as u8),
                }
            }
        }
        2 => {
            while v.len() < len {
                v.push(rng.next() as u8);
            }
        }
        _ => {
            while v.len() < len {
                let b = rng.next() as u8;
                let n = rng.below(300) as usize;
                v.extend(std::iter::repeat_n(b, n));
            }
        }
    }
    v.truncate(len);
    v
}

fn encode(data: &[u8], bits: u8, e8: bool) -> Vec<Vec<u8>> {
    let mut enc = lzxc::Encoder::new(lzxc_window(bits));
    if e8 {
        enc = enc.with_e8_translation(12_000_000);
    }
    enc.encode_stream(data)
}

/// Decode `frames` with both decoders; `Err` of ours is reported as the
/// frame index. Outputs must match frame by frame while lzxd succeeds.
fn compare(frames: &[Vec<u8>], lens: &[usize], bits: u8) -> (usize, usize) {
    let mut ours = LzxDecoder::new(bits).unwrap();
    let mut theirs = lzxd::Lzxd::new(lzxd_window(bits));
    let (mut agreed, mut ours_ok) = (0, 0);
    for (i, (f, &len)) in frames.iter().zip(lens).enumerate() {
        let a = ours.decode_frame(f, len).map(<[u8]>::to_vec);
        // lzxd can panic on hostile input; only our decoder is held to that.
        let b = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            theirs.decompress_next(f, len).map(<[u8]>::to_vec)
        }));
        match (a, b) {
            (Ok(x), Ok(Ok(y))) => {
                assert_eq!(x.len(), len);
                assert!(x == y, "frame {i}: outputs differ");
                agreed += 1;
                ours_ok += 1;
            }
            (Ok(_), _) => {
                ours_ok += 1;
                break;
            }
            _ => break,
        }
    }
    (agreed, ours_ok)
}

#[test]
fn valid_streams_decode_like_lzxd() {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let mut frames_checked = 0;
    for bits in [15u8, 16, 17, 19, 21] {
        for kind in 0..4 {
            for e8 in [false, true] {
                let len = 1 + rng.below(200_000) as usize;
                let data = sample(kind, len, &mut rng);
                let frames = encode(&data, bits, e8);
                let lens: Vec<usize> = data.chunks(32768).map(<[u8]>::len).collect();
                let (agreed, _) = compare(&frames, &lens, bits);
                assert_eq!(agreed, frames.len(), "window {bits}, kind {kind}, e8 {e8}");
                // Without E8, both must also give back the input itself.
                if !e8 {
                    let mut d = LzxDecoder::new(bits).unwrap();
                    let mut out = Vec::new();
                    for (f, &l) in frames.iter().zip(&lens) {
                        out.extend_from_slice(d.decode_frame(f, l).unwrap());
                    }
                    assert!(out == data, "window {bits}, kind {kind}: round trip");
                }
                frames_checked += frames.len();
            }
        }
    }
    assert!(frames_checked > 100);
}

/// Blocks repeated from almost a window back: many matches whose source
/// lies in the previous lap of the ring (the copy that splits at the
/// window's end), short and long, apart from and overlapping their target.
#[test]
fn matches_reaching_across_the_ring_end_decode_like_lzxd() {
    let mut rng = Rng(0x0123_4567_89AB_CDEF);
    for bits in [15u8, 16, 17] {
        let wsize = 1usize << bits;
        let mut data = sample(1, wsize / 2, &mut rng);
        while data.len() < 5 * wsize {
            let back = wsize - 3 - rng.below(wsize as u64 / 4) as usize;
            let n = 2 + rng.below(600) as usize;
            let from = data.len().saturating_sub(back);
            for i in 0..n {
                let b = data[from + i % (data.len() - from)];
                data.push(b);
            }
            let noise = rng.below(8) as usize;
            for _ in 0..noise {
                data.push(rng.next() as u8);
            }
        }
        for e8 in [false, true] {
            let frames = encode(&data, bits, e8);
            let lens: Vec<usize> = data.chunks(32768).map(<[u8]>::len).collect();
            let (agreed, _) = compare(&frames, &lens, bits);
            assert_eq!(agreed, frames.len(), "window {bits}, e8 {e8}");
            if !e8 {
                let mut d = LzxDecoder::new(bits).unwrap();
                let mut out = Vec::new();
                for (f, &l) in frames.iter().zip(&lens) {
                    out.extend_from_slice(d.decode_frame(f, l).unwrap());
                }
                assert!(out == data, "window {bits}: round trip");
            }
        }
    }
}

#[test]
fn mutated_streams_never_panic_and_agree_when_both_accept() {
    let mut rng = Rng(0xD1B5_4A32_D192_ED03);
    let mut accepted = 0;
    let mut rejected = 0;
    // Encoding is slow (lzxc's optimal parser): encode 12 streams once and
    // damage copies of them.
    let mut bases = Vec::new();
    for (i, bits) in [15u8, 17, 21].into_iter().enumerate() {
        for kind in 0..4u32 {
            let data = sample(kind, 40_000 + rng.below(40_000) as usize, &mut rng);
            let frames = encode(&data, bits, (i + kind as usize).is_multiple_of(2));
            let lens: Vec<usize> = data.chunks(32768).map(<[u8]>::len).collect();
            bases.push((bits, frames, lens));
        }
    }
    for round in 0..1200 {
        let (bits, base, lens) = &bases[round % bases.len()];
        let (bits, lens) = (*bits, lens.clone());
        let mut frames = base.clone();
        // 1-4 damages: flipped bits, truncation or garbage.
        for _ in 0..1 + rng.below(4) {
            let fi = rng.below(frames.len() as u64) as usize;
            let f = &mut frames[fi];
            if f.is_empty() {
                continue;
            }
            match rng.below(3) {
                0 => {
                    let at = rng.below(f.len() as u64) as usize;
                    f[at] ^= 1 << rng.below(8);
                }
                1 => {
                    let keep = rng.below(f.len() as u64) as usize;
                    f.truncate(keep);
                }
                _ => {
                    let at = rng.below(f.len() as u64) as usize;
                    let n = (rng.below(16) as usize).min(f.len() - at);
                    for b in &mut f[at..at + n] {
                        *b = rng.next() as u8;
                    }
                }
            }
        }
        let (_, ours_ok) = compare(&frames, &lens, bits);
        if ours_ok == frames.len() {
            accepted += 1;
        } else {
            rejected += 1;
        }
    }
    // The damage is real: most streams are rejected somewhere.
    assert!(rejected > 300, "accepted {accepted}, rejected {rejected}");
}

#[test]
fn hostile_parameters_are_errors() {
    assert!(LzxDecoder::new(14).is_err());
    assert!(LzxDecoder::new(22).is_err());
    let mut d = LzxDecoder::new(15).unwrap();
    assert!(d.decode_frame(&[], 0).is_err());
    assert!(d.decode_frame(&[0; 4], 32769).is_err());
    // Zeros: no E8, then a block of type 0.
    let mut d = LzxDecoder::new(15).unwrap();
    let e = d.decode_frame(&[0; 64], 100).unwrap_err();
    assert!(e.0.contains("block"), "{e}");
    // An empty frame for 100 bytes of output: truncation, not zeros.
    let mut d = LzxDecoder::new(15).unwrap();
    assert!(d.decode_frame(&[], 100).is_err());
}
