//! Our own LZX decoder for CAB folders (window 2^15..2^21, one call per
//! CFDATA frame of at most 32 KiB of output), written for speed: a 64-bit
//! bit reader, 12-bit first-level Huffman tables with a canonical slow path
//! for longer codes, and match copies in 8-byte steps. Every length and
//! offset that comes from the input is checked; corrupt input is an error,
//! never a panic. Differentially tested against `lzxd`, cabextract and
//! 7-Zip (`tests/lzx_differential.rs`).

use std::fmt;

const MAX_FRAME: usize = 32 * 1024;
const NUM_CHARS: usize = 256;
const PRETREE_NUM: usize = 20;
const LEN_NUM: usize = 249;
const ALIGNED_NUM: usize = 8;
const MAX_CODE_LEN: usize = 16;
/// First-level lookup of the main and length trees: 12 bits.
const MAIN_TABLE: usize = 1 << 12;
/// E8 translation stops after 1 GiB of output (libmspack, lzxd, 7-Zip).
const E8_LIMIT: u64 = 0x4000_0000;

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

/// MSB-first reader of 16-bit little-endian words. Past the end it feeds
/// zeros and counts them, so the hot path has no bounds branch; the frame
/// fails afterwards if it consumed any. `Copy`, and its slow paths take and
/// return plain values, so a hot loop can keep a local copy in registers.
#[derive(Clone, Copy)]
struct Bits<'a> {
    input: &'a [u8],
    /// Next byte of `input` to load.
    pos: usize,
    /// Valid bits at the top; below them may sit bits of the next words,
    /// loaded early (a later refill ORs the same bits there again).
    buf: u64,
    /// Valid bits at the top of `buf`, at most 63.
    n: u32,
    /// Bytes of zero padding loaded beyond the input.
    overrun: usize,
}

impl<'a> Bits<'a> {
    fn new(input: &'a [u8], pos: usize) -> Self {
        Bits {
            input,
            pos,
            buf: 0,
            n: 0,
            overrun: 0,
        }
    }

    /// Make at least 32 bits available (a Huffman code is at most 16 bits,
    /// a read at most 32). Away from the end of the input one 8-byte load
    /// adds as many whole words as fit, without a loop or a branch per word.
    #[inline(always)]
    fn refill(&mut self) {
        if self.n >= 32 {
            return;
        }
        if let Some(b) = self.input.get(self.pos..self.pos + 8) {
            let le = u64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]);
            // Words w0..w3 (w0 first in the stream) to w0 at the top.
            let x = le.rotate_left(32);
            let words = ((x & 0x0000_FFFF_0000_FFFF) << 16) | ((x >> 16) & 0x0000_FFFF_0000_FFFF);
            let k = (63 - self.n) >> 4;
            self.buf |= words >> self.n;
            self.pos += 2 * k as usize;
            self.n += 16 * k;
        } else {
            (self.pos, self.buf, self.n, self.overrun) =
                refill_tail(self.input, self.pos, self.buf, self.n, self.overrun);
        }
    }

    #[inline(always)]
    fn peek(&self, k: u32) -> u32 {
        (self.buf >> (64 - k)) as u32
    }

    #[inline(always)]
    fn consume(&mut self, k: u32) {
        self.buf <<= k;
        self.n -= k;
    }

    /// Read `k` (≤ 32) bits.
    #[inline(always)]
    fn read(&mut self, k: u32) -> u32 {
        if k == 0 {
            return 0;
        }
        self.refill();
        let v = self.peek(k);
        self.consume(k);
        v
    }

    /// Align for an uncompressed block: 1..16 bits are dropped (a full
    /// word when already aligned), as libmspack and lzxd do.
    fn align_for_raw(&mut self) -> usize {
        let at_boundary = self.n.is_multiple_of(16);
        let mut p = self.pos - (self.n as usize / 16) * 2;
        if at_boundary {
            p += 2;
        }
        self.buf = 0;
        self.n = 0;
        self.pos = p;
        p
    }
}

/// `Bits::refill` near the end of the input, word by word; past it, zeros
/// (counted in `overrun`). Values in and out keep the caller's copy of
/// `Bits` out of memory.
#[cold]
#[inline(never)]
fn refill_tail(
    input: &[u8],
    mut pos: usize,
    mut buf: u64,
    mut n: u32,
    mut overrun: usize,
) -> (usize, u64, u32, usize) {
    while n <= 47 {
        let w = match input.get(pos..pos + 2) {
            Some(b) => u16::from_le_bytes([b[0], b[1]]),
            None => {
                // An odd trailing byte is the low half of a word.
                let lo = input.get(pos).copied().unwrap_or(0);
                overrun += 2 - usize::from(input.get(pos).is_some());
                u16::from(lo)
            }
        };
        pos += 2;
        // Bits below the valid ones may hold this word already (loaded
        // early); clear them, as the word may be partly past the end.
        buf &= !(u64::MAX >> n);
        buf |= u64::from(w) << (48 - n);
        n += 16;
    }
    (pos, buf, n, overrun)
}

/// A canonical Huffman code: a `BITS`-bit lookup for short codes, and
/// per-length counts for the rest. A fixed-size table lets the lookup go
/// without a bounds check.
struct Huff<const SIZE: usize> {
    /// `symbol << 5 | length` (symbols < 2048), or 0 for "no code this
    /// short". 16-bit entries keep both big tables in L1 together.
    table: Box<[u16; SIZE]>,
    count: [u16; MAX_CODE_LEN + 1],
    /// Symbols sorted by (length, symbol).
    sorted: Vec<u16>,
    empty: bool,
}

impl<const SIZE: usize> Huff<SIZE> {
    const BITS: u32 = SIZE.trailing_zeros();

    fn new() -> Self {
        Huff {
            table: Box::new([0; SIZE]),
            count: [0; MAX_CODE_LEN + 1],
            sorted: Vec::new(),
            empty: true,
        }
    }

    fn build(&mut self, lens: &[u8], what: &str) -> Result<(), LzxError> {
        self.count = [0; MAX_CODE_LEN + 1];
        for &l in lens {
            if usize::from(l) > MAX_CODE_LEN {
                return err(format!("{what} tree has a code longer than 16 bits"));
            }
            self.count[usize::from(l)] += 1;
        }
        self.count[0] = 0;
        self.empty = self.count.iter().all(|&c| c == 0);
        // Kraft: an over-subscribed code cannot be decoded.
        let mut left: i64 = 1;
        for len in 1..=MAX_CODE_LEN {
            left = (left << 1) - i64::from(self.count[len]);
            if left < 0 {
                return err(format!("{what} tree is over-subscribed"));
            }
        }
        let mut offs = [0u16; MAX_CODE_LEN + 2];
        for len in 1..=MAX_CODE_LEN {
            offs[len + 1] = offs[len] + self.count[len];
        }
        self.sorted.clear();
        self.sorted.resize(lens.len(), 0);
        for (sym, &l) in lens.iter().enumerate() {
            if l != 0 {
                let o = &mut offs[usize::from(l)];
                self.sorted[usize::from(*o)] = sym as u16;
                *o += 1;
            }
        }
        // Canonical codes fill the table from the front; only the tail
        // (long codes, or an incomplete tree) needs clearing.
        let mut code: u32 = 0;
        let mut idx = 0usize;
        for len in 1..=Self::BITS as usize {
            for _ in 0..self.count[len] {
                let sym = self.sorted[idx];
                idx += 1;
                let shift = Self::BITS as usize - len;
                let start = (code as usize) << shift;
                let entry = (sym << 5) | len as u16;
                if let Some(span) = self.table.get_mut(start..start + (1 << shift)) {
                    span.fill(entry);
                }
                code += 1;
            }
            code <<= 1;
        }
        let filled = ((code >> 1) as usize).min(SIZE);
        if let Some(tail) = self.table.get_mut(filled..) {
            tail.fill(0);
        }
        Ok(())
    }

    #[inline(always)]
    fn decode(&self, b: &mut Bits<'_>) -> Result<u16, LzxError> {
        b.refill();
        let e = self.table[b.peek(Self::BITS) as usize & (SIZE - 1)];
        if e != 0 {
            b.consume(u32::from(e & 31));
            return Ok(e >> 5);
        }
        let (sym, len) = self.decode_slow(b.peek(MAX_CODE_LEN as u32))?;
        b.consume(len);
        Ok(sym)
    }

    /// Codes longer than the table, one bit at a time (canonical order),
    /// from the next 16 bits of input: (symbol, code length).
    #[cold]
    #[inline(never)]
    fn decode_slow(&self, bits: u32) -> Result<(u16, u32), LzxError> {
        if self.empty {
            return err("a symbol is coded with an empty Huffman tree");
        }
        let (mut code, mut first, mut index) = (0i64, 0i64, 0i64);
        for len in 1..=MAX_CODE_LEN {
            code |= i64::from((bits >> (MAX_CODE_LEN - len)) & 1);
            let count = i64::from(self.count[len]);
            if code - first < count {
                let i = (index + code - first) as usize;
                return match self.sorted.get(i) {
                    Some(&sym) => Ok((sym, len as u32)),
                    None => err("Huffman decode out of range"),
                };
            }
            index += count;
            first = (first + count) << 1;
            code <<= 1;
        }
        err("bit pattern matches no Huffman code (incomplete tree)")
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum BlockKind {
    None,
    Verbatim,
    Aligned,
    Uncompressed,
}

/// Decoder state for one LZX stream (a CAB folder).
pub struct LzxDecoder {
    /// A ring of twice the LZX window: the half ahead of the write position
    /// holds output older than any offset can reach, so a match copy may
    /// write a few bytes past its end (whole 16-byte steps, no tail loop).
    window: Vec<u8>,
    mask: usize,
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
    main: Huff<MAIN_TABLE>,
    length: Huff<MAIN_TABLE>,
    aligned: Huff<128>,
    pretree: Huff<256>,
    extra_bits: [u8; 52],
    position_base: [u32; 52],
    out: Vec<u8>,
}

impl LzxDecoder {
    /// A decoder for a window of `2^window_bits` bytes (15..=21).
    pub fn new(window_bits: u8) -> Result<Self, LzxError> {
        if !(15..=21).contains(&window_bits) {
            return err(format!(
                "LZX window of 2^{window_bits} bytes is outside 2^15..2^21"
            ));
        }
        let slots = match window_bits {
            15 => 30,
            16 => 32,
            17 => 34,
            18 => 36,
            19 => 38,
            20 => 42,
            _ => 50,
        };
        let mut extra_bits = [0u8; 52];
        let mut position_base = [0u32; 52];
        for i in 0..52 {
            extra_bits[i] = if i < 4 {
                0
            } else {
                ((i / 2) - 1).min(17) as u8
            };
            if i > 0 {
                position_base[i] = position_base[i - 1] + (1 << extra_bits[i - 1]);
            }
        }
        let size = 1usize << window_bits;
        Ok(LzxDecoder {
            window: take_window(2 * size),
            mask: 2 * size - 1,
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
            main_lens: vec![0; NUM_CHARS + 8 * slots],
            len_lens: [0; LEN_NUM],
            main: Huff::new(),
            length: Huff::new(),
            aligned: Huff::new(),
            pretree: Huff::new(),
            extra_bits,
            position_base,
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
        self.pretree.build(&pre, "pretree")?;
        let lens: &mut [u8] = if which == 0 {
            &mut self.main_lens
        } else {
            &mut self.len_lens
        };
        let mut i = first;
        while i < last {
            let code = self.pretree.decode(b)?;
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
                    let code2 = self.pretree.decode(b)?;
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

    fn read_block_header(&mut self, b: &mut Bits<'_>) -> Result<(), LzxError> {
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
                    self.aligned.build(&al, "aligned offset")?;
                }
                self.read_lens(b, 0, 0, NUM_CHARS)?;
                let n = self.main_lens.len();
                self.read_lens(b, 0, NUM_CHARS, n)?;
                self.read_lens(b, 1, 0, LEN_NUM)?;
                self.main.build(&self.main_lens, "main")?;
                if self.main.empty {
                    return err("main tree is empty");
                }
                self.length.build(&self.len_lens, "length")?;
                self.kind = if kind == 1 {
                    BlockKind::Verbatim
                } else {
                    BlockKind::Aligned
                };
            }
            3 => {
                let p = b.align_for_raw();
                let Some(rb) = b.input.get(p..p + 12) else {
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
                b.pos = p + 12;
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
        let wsize = self.window.len();
        let frame_start = self.frame_pos;
        let frame_end = frame_start + out_len;
        if frame_end > wsize {
            return err("frame runs past the end of the window");
        }
        let mut b = Bits::new(input, 0);
        if !self.header_done {
            self.header_done = true;
            if b.read(1) == 1 {
                self.e8_size = Some(b.read(32) as i32);
            }
        }
        while self.wpos < frame_end {
            if self.block_left == 0 {
                if self.kind == BlockKind::Uncompressed && self.block_len % 2 == 1 {
                    // Uncompressed blocks of odd length are padded to a word.
                    if b.n == 0 && b.pos < input.len() {
                        b.pos += 1;
                    }
                }
                self.read_block_header(&mut b)?;
            }
            let run = (self.block_left as usize).min(frame_end - self.wpos);
            let made = match self.kind {
                BlockKind::Uncompressed => {
                    let p = b.pos;
                    let avail = input.len().saturating_sub(p);
                    let n = run.min(avail);
                    if n == 0 {
                        return err("uncompressed block runs past the frame");
                    }
                    self.window[self.wpos..self.wpos + n].copy_from_slice(&input[p..p + n]);
                    b.pos = p + n;
                    self.wpos += n;
                    n
                }
                BlockKind::Verbatim | BlockKind::Aligned => self.decode_run(&mut b, run)?,
                BlockKind::None => return err("no block"),
            };
            if made as u64 > u64::from(self.block_left) {
                return err("a match runs past the end of its block");
            }
            self.block_left -= made as u32;
        }
        if b.overrun > 0 {
            // Zero padding read ahead is fine; padding used is truncation.
            let used_bits = (b.pos as u64) * 8 - u64::from(b.n);
            if used_bits > input.len() as u64 * 8 {
                return err("frame data ends before its output is complete");
            }
        }
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
        self.frame_pos = frame_end & self.mask;
        if self.frame_pos == 0 {
            // Matches never cross the window end, so nothing spilled here.
            self.wpos = 0;
        }
        Ok(())
    }

    /// Decode literals and matches of a verbatim or aligned block until at
    /// least `run` bytes are produced; returns how many were.
    fn decode_run(&mut self, bits: &mut Bits<'_>, run: usize) -> Result<usize, LzxError> {
        // A local copy of the bit reader lives in registers.
        let mut local = *bits;
        let b = &mut local;
        let start = self.wpos;
        let goal = start + run;
        let aligned = self.kind == BlockKind::Aligned;
        // Locals, not fields: the loop below keeps them in registers.
        let win: &mut [u8] = &mut self.window;
        let wsize = win.len();
        let mask = self.mask;
        let lzx_size = self.lzx_size;
        let main = &self.main;
        let length = &self.length;
        let aligned_tree = &self.aligned;
        let [mut r0, mut r1, mut r2] = self.r;
        // Bytes produced before this frame's window position `frame_pos`.
        let before = self.total.wrapping_sub(self.frame_pos as u64);
        let mut w = self.wpos;
        // As libmspack: a match may not cross the end of the LZX window it
        // starts in; `w` stays below that end for this whole run.
        let lzx_end = ((start & !(lzx_size - 1)) + lzx_size).min(wsize);
        let result = 'outer: loop {
            // Literals in a loop of their own: it touches only the bit
            // reader and `w`, so those stay in registers.
            // `upto` ends at the goal: one bounds check both stops the run
            // and guards the store.
            let Some(upto) = win.get_mut(..goal) else {
                break err("frame runs past the end of the window");
            };
            let sym = loop {
                let Some(slot) = upto.get_mut(w) else {
                    break 'outer Ok(());
                };
                let sym = match main.decode(b) {
                    Ok(s) => usize::from(s),
                    Err(e) => break 'outer Err(e),
                };
                if sym >= NUM_CHARS {
                    break sym;
                }
                *slot = sym as u8;
                w += 1;
            };
            // Opaque to the optimiser: otherwise every `w + k` the match
            // code needs becomes a counter of its own, bumped per literal.
            w = std::hint::black_box(w);
            let m = sym - NUM_CHARS;
            let mut len = (m & 7) + 2;
            if m & 7 == 7 {
                match length.decode(b) {
                    Ok(l) => len += usize::from(l),
                    Err(e) => break Err(e),
                }
            }
            let slot = m >> 3;
            let offset = match slot {
                0 => r0,
                1 => {
                    std::mem::swap(&mut r0, &mut r1);
                    r0
                }
                2 => {
                    std::mem::swap(&mut r0, &mut r2);
                    r0
                }
                _ => {
                    let extra = u32::from(*self.extra_bits.get(slot).unwrap_or(&17));
                    let base = *self.position_base.get(slot).unwrap_or(&0);
                    let mut off = base.wrapping_sub(2);
                    if aligned && extra >= 3 {
                        off = off.wrapping_add(b.read(extra - 3) << 3);
                        match aligned_tree.decode(b) {
                            Ok(a) => off = off.wrapping_add(u32::from(a)),
                            Err(e) => break Err(e),
                        }
                    } else {
                        off = off.wrapping_add(b.read(extra));
                    }
                    r2 = r1;
                    r1 = r0;
                    r0 = off;
                    off
                }
            } as usize;
            let end = w + len;
            if end > lzx_end {
                break err("match runs past the end of the window");
            }
            let produced = before.wrapping_add(w as u64);
            if offset == 0 || offset as u64 > produced || offset > lzx_size {
                break err(format!(
                    "match offset {offset} before the start of the data"
                ));
            }
            copy_match(win, w, offset, len, mask);
            w = end;
        };
        self.r = [r0, r1, r2];
        self.wpos = w;
        *bits = local;
        result.map(|()| w - start)
    }
}

/// Copy `len` bytes from `offset` back (within the ring) to `dst`. The
/// caller checked `dst + len <= win.len()` and `offset <= win.len()`.
#[inline(always)]
fn copy_match(win: &mut [u8], dst: usize, offset: usize, len: usize, mask: usize) {
    // Most matches: whole 16- or 8-byte steps that may run up to 15 bytes
    // past `len` (see `LzxDecoder::window`). A step reads only bytes
    // before its own destination, so overlapping matches come out right.
    if offset <= dst && dst + len + 16 <= win.len() {
        // One bounds check for the whole copy: `span` runs from the source
        // to the last byte a step may write.
        let steps = len.div_ceil(16);
        let span = &mut win[dst - offset..dst + steps * 16];
        if offset >= 16 {
            for k in 0..steps {
                span.copy_within(16 * k..16 * k + 16, offset + 16 * k);
            }
            return;
        }
        if offset >= 8 {
            for k in 0..len.div_ceil(8) {
                span.copy_within(8 * k..8 * k + 8, offset + 8 * k);
            }
            return;
        }
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
        let src = dst + win.len() - offset;
        if src + len <= win.len() && src >= dst + len {
            copy_apart(win, src, dst, len);
        } else {
            for i in 0..len {
                win[dst + i] = win[(dst + i).wrapping_sub(offset) & mask];
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

/// Windows of finished decoders, reused: zeroing 2 MiB per folder showed
/// up in profiles. Stale bytes are never read: a match may only reach back
/// over output of its own stream (checked in `decode_run`).
static WINDOWS: std::sync::Mutex<Vec<Vec<u8>>> = std::sync::Mutex::new(Vec::new());
const POOLED_WINDOWS: usize = 3;

/// Free the pooled windows (the pool refills on the next decode).
pub(crate) fn release_windows() {
    if let Ok(mut pool) = WINDOWS.lock() {
        *pool = Vec::new();
    }
}

fn take_window(size: usize) -> Vec<u8> {
    if let Ok(mut pool) = WINDOWS.lock()
        && let Some(i) = pool.iter().position(|w| w.len() == size)
    {
        return pool.swap_remove(i);
    }
    vec![0; size]
}

impl Drop for LzxDecoder {
    fn drop(&mut self) {
        let w = std::mem::take(&mut self.window);
        if let Ok(mut pool) = WINDOWS.lock()
            && pool.len() < POOLED_WINDOWS
        {
            pool.push(w);
        }
    }
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
