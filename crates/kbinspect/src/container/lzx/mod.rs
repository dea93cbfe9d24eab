//! Our own LZX decoder for CAB folders (window 2^15..2^21, one call per
//! CFDATA frame of at most 32 KiB of output), written for speed. Every
//! length and offset that comes from the input is checked; corrupt input is
//! an error, never a panic. Differentially tested against `lzxd`, cabextract
//! and 7-Zip (`tests/lzx_differential.rs`); `tests/lzx_instructions.rs`
//! guards its speed by counting instructions.
//!
//! How it is fast (see `docs/performance.md` for the measurements):
//! - `bits`: each frame is copied with its 16-bit words byte-swapped, so a
//!   refill is one 8-byte big-endian load that tops the buffer up to 56 or
//!   more bits without a branch on the bit count. 56 bits cover a whole match
//!   (main code, length code, extra and aligned bits), so the match path
//!   never refills.
//! - `huffman`: 12-bit first-level tables for the main and length trees
//!   (one lookup for almost every symbol), 16-bit entries.
//! - `decode_run`: literals in a loop of their own, two per refill; the
//!   repeated-offset bookkeeping without branches; one check per match for
//!   the window end and the offset; matches copied in 16-byte steps (32
//!   bytes unconditionally) into a ring of twice the window, so a copy may
//!   run past its end.
//! - E8 translation scans for 0xE8 bytes with `memchr`.

#![forbid(unsafe_code)]

mod bits;
mod huffman;

use std::fmt;
use std::hint::select_unpredictable;

use super::DecodeContext;
use bits::{Bits, swap_words};
use huffman::Huff;

const MAX_FRAME: usize = 32 * 1024;
const NUM_CHARS: usize = 256;
const PRETREE_NUM: usize = 20;
const LEN_NUM: usize = 249;
const ALIGNED_NUM: usize = 8;
const MAX_CODE_LEN: usize = 16;
/// First-level lookup of the main and length trees: 12 bits.
const MAIN_BITS: u32 = 12;
const MAIN_TABLE: usize = 1 << MAIN_BITS;
/// E8 translation stops after 1 GiB of output (libmspack, lzxd, 7-Zip).
const E8_LIMIT: u64 = 0x4000_0000;
/// Main-tree table entries from here on are not literals.
const LITERALS_END: u16 = (NUM_CHARS as u16) << 5;
/// The main tree's table entry for "longer code, or none": above every
/// literal's, so the literal loop tests for it only when leaving.
const MAIN_LONG: u16 = 0xFFE0;
/// Bits a match needs after its main code: a length code (16) and either
/// up to 17 verbatim extra bits or 14 extra bits and an aligned code (7).
const MATCH_BITS: u32 = 16 + 14 + 7;

/// Why a frame could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LzxError(pub String);

impl fmt::Display for LzxError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for LzxError {}

fn err<T>(m: impl Into<String>) -> Result<T, LzxError> {
    Err(LzxError(m.into()))
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum BlockKind {
    None,
    Verbatim,
    Aligned,
    Uncompressed,
}

/// Huffman codes and position slots of the current block.
struct Tables {
    main: Huff<MAIN_BITS, MAIN_TABLE>,
    /// One more entry: [`huffman::NOTHING`], looked up for matches without a
    /// length code.
    length: Huff<MAIN_BITS, { MAIN_TABLE + 1 }>,
    aligned: Huff<7, 128>,
    pretree: Huff<8, 256>,
    /// Per position slot (any 6-bit value, so a lookup needs no bounds
    /// check): extra bits, and the slot's base offset minus 2.
    slots: [(u32, u32); 64],
}

/// Bytes of the window past the ring: a match may run past the end of the
/// frame that ends the ring (they move to the ring's start), and a copy may
/// write a few bytes past the match.
const SLACK: usize = 512;

/// Decoder state for one LZX stream (a CAB folder).
pub struct LzxDecoder {
    /// A ring of the LZX window and one frame more, then [`SLACK`]. The
    /// 32 KiB ahead of the write position hold output older than any offset
    /// can reach, so a match copy may write a few bytes past its end (whole
    /// 16-byte steps, no tail loop). Frames start at multiples of 32 KiB
    /// and never cross the ring's end; one more frame, not a second window
    /// (a power of two), keeps the memory a decoder touches near 7-Zip's:
    /// on a fresh process every page of it is a page fault.
    window: Vec<u8>,
    /// The ring's size: the LZX window and 32 KiB.
    ring: usize,
    /// The LZX window size: the largest offset, and the span a match may
    /// not cross.
    lzx_size: usize,
    /// Where the next frame's output starts in the window.
    frame_pos: usize,
    /// Where the next decoded byte goes (ahead of `frame_pos` when a match
    /// ran past the previous frame's end).
    wpos: usize,
    /// Output bytes of all finished frames.
    total: u64,
    r: [u32; 3],
    header_done: bool,
    e8_size: Option<i32>,
    kind: BlockKind,
    block_len: u32,
    block_left: u32,
    main_lens: Vec<u8>,
    len_lens: [u8; LEN_NUM],
    /// The lookup tables, together: the hot loop reaches them all from one
    /// register.
    t: Box<Tables>,
    /// The frame being decoded, its words byte-swapped (see [`bits`]).
    swapped: Vec<u8>,
    out: Vec<u8>,
    /// Where the window goes back to when the decoder drops.
    pool: Option<DecodeContext>,
}

impl LzxDecoder {
    /// A decoder for a window of `2^window_bits` bytes (15..=21), with a
    /// window of its own.
    pub fn new(window_bits: u8) -> Result<Self, LzxError> {
        Self::with_window(window_bits, None)
    }

    /// [`LzxDecoder::new`] whose window comes from `ctx`'s pool (reused,
    /// not zeroed again) and goes back there when the decoder drops.
    pub fn new_in(window_bits: u8, ctx: &DecodeContext) -> Result<Self, LzxError> {
        Self::with_window(window_bits, Some(ctx))
    }

    fn with_window(window_bits: u8, ctx: Option<&DecodeContext>) -> Result<Self, LzxError> {
        if !(15..=21).contains(&window_bits) {
            return err(format!(
                "LZX window of 2^{window_bits} bytes is outside 2^15..2^21"
            ));
        }
        let num_slots = match window_bits {
            15 => 30,
            16 => 32,
            17 => 34,
            18 => 36,
            19 => 38,
            20 => 42,
            _ => 50,
        };
        let mut slots = [(0u32, 0u32); 64];
        let mut base = 0u32;
        for (i, s) in slots.iter_mut().enumerate() {
            let extra = if i < 4 {
                0
            } else {
                ((i / 2) - 1).min(17) as u32
            };
            *s = (extra, base.wrapping_sub(2));
            base += 1 << extra;
        }
        let size = 1usize << window_bits;
        Ok(LzxDecoder {
            window: match ctx {
                Some(c) => c.take_window(size + MAX_FRAME + SLACK),
                None => vec![0; size + MAX_FRAME + SLACK],
            },
            pool: ctx.cloned(),
            ring: size + MAX_FRAME,
            lzx_size: size,
            frame_pos: 0,
            wpos: 0,
            total: 0,
            r: [1, 1, 1],
            header_done: false,
            e8_size: None,
            kind: BlockKind::None,
            block_len: 0,
            block_left: 0,
            main_lens: vec![0; NUM_CHARS + 8 * num_slots],
            len_lens: [0; LEN_NUM],
            t: Box::new(Tables {
                main: Huff::with_unfilled(MAIN_LONG),
                length: Huff::new(),
                aligned: Huff::new(),
                pretree: Huff::new(),
                slots,
            }),
            swapped: Vec::with_capacity(MAX_FRAME + 64),
            out: Vec::with_capacity(MAX_FRAME),
        })
    }

    /// Read path lengths `lens[first..last]` through a fresh pretree.
    fn read_lens(
        &mut self,
        b: &mut Bits<'_>,
        which: u8,
        first: usize,
        last: usize,
    ) -> Result<(), LzxError> {
        let mut pre = [0u8; PRETREE_NUM];
        for p in &mut pre {
            *p = b.read(4) as u8;
        }
        self.t.pretree.build(&pre, "pretree")?;
        let lens: &mut [u8] = if which == 0 {
            &mut self.main_lens
        } else {
            &mut self.len_lens
        };
        let mut i = first;
        while i < last {
            let code = self.t.pretree.decode(b)?;
            match code {
                17 | 18 => {
                    let run = if code == 17 {
                        4 + b.read(4) as usize
                    } else {
                        20 + b.read(5) as usize
                    };
                    let end = i + run;
                    let Some(s) = lens.get_mut(i..end.min(last)) else {
                        return err("path-length run outside the tree");
                    };
                    s.fill(0);
                    i = end;
                }
                19 => {
                    let run = 4 + b.read(1) as usize;
                    let code2 = self.t.pretree.decode(b)?;
                    if code2 > 16 {
                        return err("path-length run of an invalid code");
                    }
                    let Some(cur) = lens.get(i).copied() else {
                        return err("path-length run outside the tree");
                    };
                    let v = (cur + 17 - code2 as u8) % 17;
                    let end = i + run;
                    let Some(s) = lens.get_mut(i..end.min(last)) else {
                        return err("path-length run outside the tree");
                    };
                    s.fill(v);
                    i = end;
                }
                c => {
                    let Some(l) = lens.get_mut(i) else {
                        return err("path length outside the tree");
                    };
                    *l = (*l + 17 - c as u8) % 17;
                    i += 1;
                }
            }
        }
        Ok(())
    }

    fn read_block_header(&mut self, b: &mut Bits<'_>, input: &[u8]) -> Result<(), LzxError> {
        let kind = b.read(3);
        let hi = b.read(16);
        let lo = b.read(8);
        let len = (hi << 8) | lo;
        if len == 0 {
            return err("block of length 0");
        }
        self.block_len = len;
        self.block_left = len;
        match kind {
            1 | 2 => {
                if kind == 2 {
                    let mut al = [0u8; ALIGNED_NUM];
                    for a in &mut al {
                        *a = b.read(3) as u8;
                    }
                    self.t.aligned.build(&al, "aligned offset")?;
                }
                self.read_lens(b, 0, 0, NUM_CHARS)?;
                let n = self.main_lens.len();
                self.read_lens(b, 0, NUM_CHARS, n)?;
                self.read_lens(b, 1, 0, LEN_NUM)?;
                self.t.main.build(&self.main_lens, "main")?;
                if self.t.main.empty {
                    return err("main tree is empty");
                }
                self.t.length.build(&self.len_lens, "length")?;
                self.kind = if kind == 1 {
                    BlockKind::Verbatim
                } else {
                    BlockKind::Aligned
                };
            }
            3 => {
                let p = b.align_for_raw();
                let Some(rb) = input.get(p..p + 12) else {
                    return err("uncompressed block header runs past the frame");
                };
                for (i, r) in self.r.iter_mut().enumerate() {
                    *r = u32::from_le_bytes([
                        rb[4 * i],
                        rb[4 * i + 1],
                        rb[4 * i + 2],
                        rb[4 * i + 3],
                    ]);
                }
                b.set_byte_pos(p + 12);
                self.kind = BlockKind::Uncompressed;
            }
            k => return err(format!("invalid block type {k}")),
        }
        Ok(())
    }

    /// Decode one CFDATA frame that holds `out_len` (≤ 32 KiB) bytes of
    /// output. Frames must be passed in order.
    pub fn decode_frame(&mut self, input: &[u8], out_len: usize) -> Result<&[u8], LzxError> {
        let mut out = std::mem::take(&mut self.out);
        out.clear();
        let r = self.decode_into(input, out_len, &mut out);
        self.out = out;
        r?;
        Ok(&self.out)
    }

    /// [`decode_frame`](Self::decode_frame) appended to the caller's buffer
    /// (saves a copy per frame). On an error the buffer may have grown by
    /// part of the frame.
    pub fn decode_into(
        &mut self,
        input: &[u8],
        out_len: usize,
        out: &mut Vec<u8>,
    ) -> Result<(), LzxError> {
        if out_len == 0 || out_len > MAX_FRAME {
            return err(format!("frame of {out_len} bytes (1..=32768 allowed)"));
        }
        let frame_start = self.frame_pos;
        let frame_end = frame_start + out_len;
        if frame_end > self.ring {
            return err("frame runs past the end of the window");
        }
        let mut swapped = std::mem::take(&mut self.swapped);
        // A frame that starts inside an uncompressed block is read as bits
        // only after it: no need to swap the raw bytes (most of a frame, in
        // packages of already-compressed files).
        let raw = if self.kind == BlockKind::Uncompressed {
            (self.block_left as usize).min(input.len()) & !1
        } else {
            0
        };
        let used = swap_words(input, raw, &mut swapped);
        let r = self.decode_frame_bits(input, &swapped[..used], frame_end);
        self.swapped = swapped;
        r?;
        // Output of this frame; a match may have spilled into the next.
        let at = out.len();
        out.extend_from_slice(&self.window[frame_start..frame_end]);
        if let Some(size) = self.e8_size
            && self.total < E8_LIMIT
            && out_len > 10
            && let Some(frame) = out.get_mut(at..)
        {
            e8_untranslate(frame, self.total as i64, size);
        }
        self.total += out_len as u64;
        if frame_end == self.ring {
            // A match may have run past the ring's end, into the slack: its
            // bytes belong at the start.
            self.frame_pos = 0;
            self.window.copy_within(self.ring..self.wpos, 0);
            self.wpos -= self.ring;
        } else {
            self.frame_pos = frame_end;
        }
        Ok(())
    }

    /// Decode blocks from `input` (and its word-swapped copy) until the
    /// window is filled up to `frame_end`.
    fn decode_frame_bits(
        &mut self,
        input: &[u8],
        swapped: &[u8],
        frame_end: usize,
    ) -> Result<(), LzxError> {
        // After an uncompressed block the words may start at an odd byte:
        // a copy swapped from there, made when first needed.
        let odd = std::cell::OnceCell::new();
        let mut b = Bits::new(swapped, 0, 0);
        if !self.header_done {
            self.header_done = true;
            if b.read(1) == 1 {
                self.e8_size = Some(b.read(32) as i32);
            }
        }
        while self.wpos < frame_end {
            if self.block_left == 0 {
                if self.kind == BlockKind::Uncompressed {
                    let mut p = b.byte_pos();
                    // Uncompressed blocks of odd length are padded to a word.
                    if self.block_len % 2 == 1 && p < input.len() {
                        p += 1;
                    }
                    // The bit stream resumes here, in words from this byte.
                    b = if p.is_multiple_of(2) {
                        Bits::new(swapped, p, 0)
                    } else {
                        let o = odd.get_or_init(|| {
                            let mut v = Vec::new();
                            let used = swap_words(input, 1, &mut v);
                            v.truncate(used);
                            v
                        });
                        Bits::new(o, p, 1)
                    };
                }
                self.read_block_header(&mut b, input)?;
            }
            let run = (self.block_left as usize).min(frame_end - self.wpos);
            let made = match self.kind {
                BlockKind::Uncompressed => {
                    let p = b.byte_pos();
                    let avail = input.len().saturating_sub(p);
                    let n = run.min(avail);
                    if n == 0 {
                        return err("uncompressed block runs past the frame");
                    }
                    self.window[self.wpos..self.wpos + n].copy_from_slice(&input[p..p + n]);
                    b.set_byte_pos(p + n);
                    self.wpos += n;
                    n
                }
                // Every Microsoft package uses LZX:21; with its sizes known
                // at compile time the hot loop needs two registers fewer.
                BlockKind::Verbatim if self.lzx_size == 1 << 21 => {
                    self.decode_run::<false, 21>(&mut b, run)?
                }
                BlockKind::Aligned if self.lzx_size == 1 << 21 => {
                    self.decode_run::<true, 21>(&mut b, run)?
                }
                BlockKind::Verbatim => self.decode_run::<false, 0>(&mut b, run)?,
                BlockKind::Aligned => self.decode_run::<true, 0>(&mut b, run)?,
                BlockKind::None => return err("no block"),
            };
            if made as u64 > u64::from(self.block_left) {
                return err("a match runs past the end of its block");
            }
            self.block_left -= made as u32;
        }
        // Zero padding read ahead is fine; padding used is truncation.
        if b.consumed() > input.len() as u64 * 8 {
            return err("frame data ends before its output is complete");
        }
        Ok(())
    }

    /// Decode literals and matches of a verbatim or aligned block until at
    /// least `run` bytes are produced; returns how many were.
    /// `WBITS` is the window's size (2^WBITS) when known at compile time,
    /// else 0.
    fn decode_run<const ALIGNED: bool, const WBITS: u32>(
        &mut self,
        bits: &mut Bits<'_>,
        run: usize,
    ) -> Result<usize, LzxError> {
        // A local copy of the bit reader lives in registers.
        let mut b = *bits;
        let start = self.wpos;
        let goal = start + run;
        // Locals, not fields: the loop below keeps them in registers.
        let (wsize, lzx_size) = if WBITS == 0 {
            (self.window.len(), self.lzx_size)
        } else {
            ((1 << WBITS) + MAX_FRAME + SLACK, 1 << WBITS)
        };
        let win: &mut [u8] = &mut self.window[..wsize];
        let t = &*self.t;
        let (main, length, aligned_tree, slots) = (&t.main, &t.length, &t.aligned, &t.slots);
        let [mut r0, mut r1, mut r2] = self.r;
        // Bytes produced before ring position 0 of this lap (a multiple of
        // the ring's size).
        let before = self.total - self.frame_pos as u64;
        let mut w = self.wpos;
        // As libmspack: a match may not cross the end of the LZX window it
        // starts in (a multiple of its size in the output); `w` stays below
        // that end for this whole run.
        let into_window = (before + start as u64) as usize & (lzx_size - 1);
        let lzx_end = start + lzx_size - into_window;
        let fast_end = lzx_end.min(wsize - 32);
        let slow = SlowMatch {
            before,
            lzx_end,
            lzx_size,
            ring: self.ring,
        };
        let result = 'outer: loop {
            // Literals in a loop of their own, two per refill (a refill
            // leaves at least 56 bits, a code takes at most 16). `upto` ends
            // at the goal: one bounds check both stops the run and guards
            // the store. A match symbol, or a code longer than the table,
            // leaves the loop by the one test of the entry.
            let Some(upto) = win.get_mut(..goal) else {
                break err("frame runs past the end of the window");
            };
            let sym = loop {
                let Some(slot) = upto.get_mut(w) else {
                    break 'outer Ok(());
                };
                b.refill();
                let mut e = main.table[b.peek(MAIN_BITS) as usize];
                if e >= LITERALS_END {
                    if e == MAIN_LONG {
                        match main.slow(b.peek(MAX_CODE_LEN as u32)) {
                            Ok(x) => e = x,
                            Err(x) => break 'outer Err(x),
                        }
                    }
                    if e >= LITERALS_END {
                        b.consume(u32::from(e & 31));
                        break usize::from(e >> 5);
                    }
                }
                b.consume(u32::from(e & 31));
                *slot = (e >> 5) as u8;
                w += 1;
                let Some(slot) = upto.get_mut(w) else {
                    break 'outer Ok(());
                };
                let mut e = main.table[b.peek(MAIN_BITS) as usize];
                if e >= LITERALS_END {
                    if e == MAIN_LONG {
                        match main.slow(b.peek(MAX_CODE_LEN as u32)) {
                            Ok(x) => e = x,
                            Err(x) => break 'outer Err(x),
                        }
                    }
                    if e >= LITERALS_END {
                        b.consume(u32::from(e & 31));
                        b.refill();
                        break usize::from(e >> 5);
                    }
                }
                b.consume(u32::from(e & 31));
                *slot = (e >> 5) as u8;
                w += 1;
            };
            debug_assert!(b.available() >= MATCH_BITS);
            let m = sym - NUM_CHARS;
            // The length code is looked up whether or not there is one: a
            // match without one looks up the extra entry, which decodes as
            // nothing (a branch on `has_len` mispredicts).
            let has_len = m & 7 == 7;
            let at = select_unpredictable(has_len, b.peek(MAIN_BITS) as usize, MAIN_TABLE);
            let mut le = length.table[at];
            if le == 0 {
                match length.slow(b.peek(MAX_CODE_LEN as u32)) {
                    Ok(e) => le = e,
                    Err(e) => break Err(e),
                }
            }
            b.consume(u32::from(le & 31));
            let len = (m & 7) + 2 + usize::from((le >> 5) as u8);
            let slot = m >> 3;
            let (extra, base) = slots[slot & 63];
            let fresh = if ALIGNED && extra >= 3 {
                let hi = b.take(extra - 3) << 3;
                match aligned_tree.entry(&b) {
                    Ok(e) => {
                        b.consume(u32::from(e & 31));
                        base.wrapping_add(hi + u32::from(e >> 5))
                    }
                    Err(e) => break Err(e),
                }
            } else {
                base.wrapping_add(b.take(extra))
            };
            // The repeated offsets: slot 0 uses R0, 1 and 2 swap R1 or R2
            // with R0, others push a new offset. Conditional moves on the
            // two bits of `min(slot, 3)`: the choice is data, a branch here
            // mispredicts (and LLVM turns a plain chain of `if`s into one).
            let k = slot.min(3);
            let (odd, high) = (k & 1 != 0, k & 2 != 0);
            let low_pick = select_unpredictable(odd, r1, r0);
            let high_pick = select_unpredictable(odd, fresh, r2);
            let offset = select_unpredictable(high, high_pick, low_pick);
            let n1 = select_unpredictable(odd, r0, r1);
            let n2 = select_unpredictable(high, select_unpredictable(odd, r1, r0), r2);
            r0 = offset;
            r1 = n1;
            r2 = n2;
            let offset = offset as usize;
            let end = w + len;
            // The common case in one test: 16 <= offset <= min(w, window),
            // so the source lies in this lap of the ring and is valid, and
            // the match ends early enough in the ring for whole 16-byte
            // steps. Anything else, errors included, goes the slow way.
            if end <= fast_end && offset.wrapping_sub(16) < w.min(lzx_size).saturating_sub(15) {
                copy_far(win, w, offset, len);
            } else if end <= fast_end && offset.wrapping_sub(8) < 8 && offset <= w {
                // Offsets 8..15 (a tenth of the matches of PE payloads).
                copy_near8(win, w, offset, len);
            } else if end <= fast_end && offset >= end && before != 0 && offset <= lzx_size {
                // The source lies wholly in the previous lap of the ring,
                // at least 32 KiB ahead of `w` (the ring is the window and
                // 32 KiB), so it never meets what this copy writes.
                copy_lap(win, w + slow.ring - offset, w, len);
            } else if let Err(e) = slow.copy(win, w, offset, len) {
                break Err(e);
            }
            w = end;
        };
        self.r = [r0, r1, r2];
        self.wpos = w;
        *bits = b;
        result.map(|()| w - start)
    }
}

/// What a match that `decode_run`'s fast path does not take needs to know.
struct SlowMatch {
    /// Bytes produced before window position 0 of this lap of the ring.
    before: u64,
    /// The end of the LZX window the run is in: no match may cross it.
    lzx_end: usize,
    lzx_size: usize,
    ring: usize,
}

impl SlowMatch {
    /// Check a match of `len` bytes from `offset` back at `dst` and copy
    /// it.
    #[inline(never)]
    fn copy(&self, win: &mut [u8], dst: usize, offset: usize, len: usize) -> Result<(), LzxError> {
        if dst + len > self.lzx_end {
            return err("match runs past the end of the window");
        }
        let produced = self.before.wrapping_add(dst as u64);
        if offset == 0 || offset as u64 > produced || offset > self.lzx_size {
            return err(format!(
                "match offset {offset} before the start of the data"
            ));
        }
        copy_match(win, dst, offset, len, self.ring);
        Ok(())
    }
}

/// Copy `len` bytes from `offset >= 16` back to `dst` when the source does
/// not wrap around the ring and `dst + len + 32 <= win.len()`: 32 bytes
/// unconditionally (most matches are shorter), then 16 at a time. A step
/// reads only bytes at least 16 before its destination, all written, so an
/// overlapping match comes out right; bytes written past the match's end
/// are overwritten later (see `LzxDecoder::window`).
#[inline(always)]
fn copy_far(win: &mut [u8], dst: usize, offset: usize, len: usize) {
    let span = &mut win[dst - offset..dst + len + 32];
    span.copy_within(0..16, offset);
    span.copy_within(16..32, offset + 16);
    if len > 32 {
        if offset >= len {
            span.copy_within(32..len, offset + 32);
        } else {
            let mut k = 32;
            while k < len {
                span.copy_within(k..k + 16, offset + k);
                k += 16;
            }
        }
    }
}

/// Copy `len` bytes from `offset` (8..=15) back to `dst` in 8-byte steps
/// that may run up to 7 bytes past `len` (see `LzxDecoder::window`); a step
/// reads only bytes before its own destination, so the overlap comes out
/// right. The caller checked `offset <= dst` and `dst + len + 8 <= win.len()`.
#[inline(always)]
fn copy_near8(win: &mut [u8], dst: usize, offset: usize, len: usize) {
    let span = &mut win[dst - offset..dst + len + 8];
    for k in 0..len.div_ceil(8) {
        span.copy_within(8 * k..8 * k + 8, offset + 8 * k);
    }
}

/// Copy `len` bytes from `src` (the previous lap of the ring, at least
/// 32 KiB past `dst + len`) to `dst` in 16-byte steps that may read and
/// write up to 15 bytes past `len`. The caller checked
/// `src + len <= ring` and `dst + len + 32 <= win.len()`.
#[inline(always)]
fn copy_lap(win: &mut [u8], src: usize, dst: usize, len: usize) {
    let mut k = 0;
    while k < len {
        let mut step = [0u8; 16];
        step.copy_from_slice(&win[src + k..src + k + 16]);
        win[dst + k..dst + k + 16].copy_from_slice(&step);
        k += 16;
    }
}

/// Copy `len` bytes from `offset` back (within the ring) to `dst`: the
/// cases `copy_far` does not take (short offsets, near the ring's end). The
/// caller checked `dst + len <= win.len()` and `offset <= ring - 32 KiB`.
#[inline(always)]
fn copy_match(win: &mut [u8], dst: usize, offset: usize, len: usize, ring: usize) {
    // Offsets of 8..15: 8-byte steps that may run up to 7 bytes past `len`
    // (see `LzxDecoder::window`). A step reads only bytes before its own
    // destination, so overlapping matches come out right.
    if (8..16).contains(&offset) && offset <= dst && dst + len + 16 <= win.len() {
        copy_near8(win, dst, offset, len);
        return;
    }
    if offset <= dst {
        let src = dst - offset;
        if offset >= len {
            copy_apart(win, src, dst, len);
        } else if offset >= 64 {
            // Long overlapping match: whole `offset`-sized steps never
            // overlap their own source.
            let mut i = 0;
            while i < len {
                let n = offset.min(len - i);
                win.copy_within(src + i..src + i + n, dst + i);
                i += n;
            }
        } else if offset >= 8 {
            copy_words8(win, src, dst, len);
        } else if offset == 1 {
            // A run of one byte.
            let v = win[src];
            win[dst..dst + len].fill(v);
        } else {
            for i in 0..len {
                win[dst + i] = win[src + i];
            }
        }
    } else {
        // The source starts before the window's end (output of the previous
        // lap of the ring). Usually it lies wholly there, apart from `dst`.
        let src = dst + ring - offset;
        if src + len <= ring && src >= dst + len {
            copy_apart(win, src, dst, len);
        } else {
            for i in 0..len {
                let at = dst + i;
                win[at] = win[if at >= offset {
                    at - offset
                } else {
                    at + ring - offset
                }];
            }
        }
    }
}

/// Copy between ranges that do not overlap, in a few word moves: LZX
/// matches are short, and a memmove call per match costs more.
#[inline(always)]
fn copy_apart(win: &mut [u8], src: usize, dst: usize, len: usize) {
    if len >= 64 {
        win.copy_within(src..src + len, dst);
    } else if len >= 8 {
        copy_words8(win, src, dst, len);
    } else if len >= 4 {
        let a = load4(win, src);
        let b = load4(win, src + len - 4);
        store4(win, dst, a);
        store4(win, dst + len - 4, b);
    } else {
        for i in 0..len {
            win[dst + i] = win[src + i];
        }
    }
}

/// Copy `len >= 8` bytes in 8-byte steps, for `src + 8 <= dst` or apart
/// ranges: a step never reads bytes this copy has not yet written. The last
/// step ends exactly at `len` and may rewrite a few bytes of the previous
/// one with the same values.
#[inline(always)]
fn copy_words8(win: &mut [u8], src: usize, dst: usize, len: usize) {
    let mut i = 0;
    while i + 8 <= len {
        let v = load8(win, src + i);
        store8(win, dst + i, v);
        i += 8;
    }
    if i < len {
        let v = load8(win, src + len - 8);
        store8(win, dst + len - 8, v);
    }
}

#[inline(always)]
fn load4(win: &[u8], at: usize) -> [u8; 4] {
    let mut v = [0u8; 4];
    v.copy_from_slice(&win[at..at + 4]);
    v
}

#[inline(always)]
fn store4(win: &mut [u8], at: usize, v: [u8; 4]) {
    win[at..at + 4].copy_from_slice(&v);
}

#[inline(always)]
fn load8(win: &[u8], at: usize) -> [u8; 8] {
    let mut v = [0u8; 8];
    v.copy_from_slice(&win[at..at + 8]);
    v
}

#[inline(always)]
fn store8(win: &mut [u8], at: usize, v: [u8; 8]) {
    win[at..at + 8].copy_from_slice(&v);
}

/// A decoder made by [`LzxDecoder::new_in`] gives its window back to the
/// context's pool.
impl Drop for LzxDecoder {
    fn drop(&mut self) {
        if let Some(ctx) = self.pool.take() {
            ctx.give_window(std::mem::take(&mut self.window));
        }
    }
}

/// Undo E8 (x86 CALL) translation on one frame starting at output offset
/// `start`: exactly what lzxd and libmspack do.
fn e8_untranslate(frame: &mut [u8], start: i64, size: i32) {
    let end = frame.len() - 10;
    let mut i = 0;
    while i < end {
        // Most of a binary is not CALL opcodes: find the next 0xE8 with
        // memchr's vectorised search.
        let Some(k) = frame
            .get(i..end)
            .and_then(|rest| memchr::memchr(0xE8, rest))
        else {
            break;
        };
        i += k;
        let cp = (start + i as i64) as i32;
        let abs = i32::from_le_bytes([frame[i + 1], frame[i + 2], frame[i + 3], frame[i + 4]]);
        if abs >= cp.wrapping_neg() && abs < size {
            let rel = if abs > 0 {
                abs.wrapping_sub(cp)
            } else {
                abs.wrapping_add(size)
            };
            frame[i + 1..i + 5].copy_from_slice(&rel.to_le_bytes());
        }
        i += 5;
    }
}
