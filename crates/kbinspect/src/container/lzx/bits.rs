//! The LZX bit reader.
//!
//! LZX packs its bits MSB first into 16-bit little-endian words. Each frame
//! is first copied with the two bytes of every word swapped ([`swap_words`]),
//! which turns the stream into a plain big-endian one: a refill is then one
//! 8-byte load and a byte swap, with no shuffling of words.

/// Zero bytes after a frame's swapped copy: refills load 8 bytes at a time,
/// and a frame that uses its last bits reads a little past its end.
const PAD: usize = 16;

/// Fill `out` with `input` with the bytes of every 16-bit word swapped,
/// words starting at byte `from` (bytes before it are left as they were:
/// the caller will not read them as bits), plus zero padding; returns how
/// many bytes of `out` that is
/// (`out` may be longer: it only grows, so a frame costs no clearing). A
/// trailing odd byte is the low half of a word whose high half is missing:
/// it reads as a zero byte, then that byte.
pub(super) fn swap_words(input: &[u8], from: usize, out: &mut Vec<u8>) -> usize {
    let used = input.len() + 1 + PAD;
    if out.len() < used {
        out.resize(used, 0);
    }
    let out = &mut out[..used];
    out[input.len()..].fill(0);
    let from = from.min(input.len());
    let words = &input[from..];
    let dst = &mut out[from..];
    // 16 bytes at a time, as a fixed-size shuffle that LLVM turns into
    // vector shifts (it does not vectorise the plain pairwise loop).
    let mut oc = dst[..words.len()].chunks_exact_mut(16);
    let mut ic = words.chunks_exact(16);
    for (o, i) in (&mut oc).zip(&mut ic) {
        let mut t = [0u8; 16];
        for k in 0..8 {
            t[2 * k] = i[2 * k + 1];
            t[2 * k + 1] = i[2 * k];
        }
        o.copy_from_slice(&t);
    }
    for (o, i) in oc
        .into_remainder()
        .chunks_exact_mut(2)
        .zip(ic.remainder().chunks_exact(2))
    {
        o[0] = i[1];
        o[1] = i[0];
    }
    if let [.., last] = words
        && words.len() % 2 == 1
    {
        dst[words.len() - 1] = 0;
        dst[words.len()] = *last;
    }
    used
}

/// MSB-first reader over a [`swap_words`] copy. Past the end it feeds
/// zeros; the frame fails afterwards if it consumed any bit past its input
/// ([`Bits::consumed`]). `Copy`, so a hot loop can keep its own copy in
/// registers and hand it back.
#[derive(Clone, Copy)]
pub(super) struct Bits<'a> {
    /// The swapped frame and its padding.
    data: &'a [u8],
    /// Next byte of `data` to load; also counts bytes loaded past the end.
    /// 32 bits, so that `pos + 8` provably does not overflow and a refill's
    /// bounds check is one comparison.
    pos: u32,
    /// Valid bits at the top. The bits below them are the stream's next
    /// bits (loaded early) or zero; a refill ORs the same bits there again.
    buf: u64,
    /// Valid bits at the top of `buf`, at most 63.
    n: u32,
    /// Byte at which the 16-bit words of `data` start (0 or 1): where the
    /// stream resumed after an uncompressed block.
    parity: usize,
}

impl<'a> Bits<'a> {
    /// A reader at byte `pos` of `data`, made by `swap_words(_, from, _)`
    /// with `from <= pos` and `parity = from % 2`.
    pub(super) fn new(data: &'a [u8], pos: usize, parity: usize) -> Self {
        Bits {
            data,
            pos: clamp_pos(pos),
            buf: 0,
            n: 0,
            parity,
        }
    }

    /// Make at least 56 bits available, without a branch on the bit count:
    /// load the 8 bytes at `pos`, keep what fits below the valid bits, and
    /// advance by the whole bytes that were kept.
    #[inline(always)]
    pub(super) fn refill(&mut self) {
        let at = self.pos as usize;
        let v = match self.data.get(at..at + 8) {
            Some(b) => u64::from_be_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]),
            None => load_tail(self.data, at),
        };
        self.buf |= v >> self.n;
        self.pos += (63 - self.n) >> 3;
        self.n |= 56;
    }

    /// The next `k` bits, 1..=32.
    #[inline(always)]
    pub(super) fn peek(&self, k: u32) -> u32 {
        (self.buf >> (64 - k)) as u32
    }

    #[inline(always)]
    pub(super) fn consume(&mut self, k: u32) {
        self.buf <<= k;
        self.n -= k;
    }

    /// The next `k` bits, 0..=32, without a refill: the caller knows that
    /// many are available. Zero bits read as 0 without a branch.
    #[inline(always)]
    pub(super) fn take(&mut self, k: u32) -> u32 {
        let v = ((self.buf >> 1) >> (63 - k)) as u32;
        self.consume(k);
        v
    }

    /// Bits available without a refill.
    #[inline(always)]
    pub(super) fn available(&self) -> u32 {
        self.n
    }

    /// Read `k` (0..=32) bits.
    #[inline(always)]
    pub(super) fn read(&mut self, k: u32) -> u32 {
        self.refill();
        self.take(k)
    }

    /// Bits consumed since the start of the frame (counting any zeros fed
    /// past its end).
    pub(super) fn consumed(&self) -> u64 {
        u64::from(self.pos) * 8 - u64::from(self.n)
    }

    /// Position of the next unread byte when no bits are buffered (after an
    /// uncompressed block); the raw-block code moves it.
    pub(super) fn byte_pos(&self) -> usize {
        self.pos as usize
    }

    pub(super) fn set_byte_pos(&mut self, pos: usize) {
        debug_assert_eq!(self.n, 0);
        self.pos = clamp_pos(pos);
    }

    /// Drop the buffered bits and return the input position just after the
    /// current 16-bit word, for an uncompressed block: 1..16 bits are
    /// dropped (a whole word when already on a word boundary), as libmspack
    /// and lzxd do.
    pub(super) fn align_for_raw(&mut self) -> usize {
        let rel = self.consumed() - 8 * self.parity as u64;
        let word_end = if rel.is_multiple_of(16) {
            rel / 8 + 2
        } else {
            (rel / 16 + 1) * 2
        };
        let p = self.parity + word_end as usize;
        self.buf = 0;
        self.n = 0;
        self.pos = clamp_pos(p);
        p
    }
}

/// A byte position as `Bits` keeps it. Positions past 2^31 only arise past
/// the end of (impossibly large) inputs, where everything reads as zeros.
fn clamp_pos(pos: usize) -> u32 {
    pos.min(1 << 31) as u32
}

/// The 8 bytes at `pos` near or past the end of `data`, zeros beyond it.
#[cold]
#[inline(never)]
fn load_tail(data: &[u8], pos: usize) -> u64 {
    let mut b = [0u8; 8];
    if let Some(rest) = data.get(pos..) {
        let n = rest.len().min(8);
        b[..n].copy_from_slice(&rest[..n]);
    }
    u64::from_be_bytes(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The reference: 16-bit little-endian words from `start`, MSB first,
    /// zeros past the end (an odd last byte is a word's low half).
    fn reference_bits(input: &[u8], start: usize, count: usize) -> Vec<u8> {
        let mut out = Vec::new();
        let mut p = start;
        while out.len() < count {
            let lo = input.get(p).copied().unwrap_or(0);
            let hi = input.get(p + 1).copied().unwrap_or(0);
            let w = u16::from_le_bytes([lo, hi]);
            for i in (0..16).rev() {
                out.push(((w >> i) & 1) as u8);
            }
            p += 2;
        }
        out.truncate(count);
        out
    }

    #[test]
    fn reads_the_words_msb_first_in_any_step_sizes() {
        let input: Vec<u8> = (0..37u32).map(|i| (i * 73 + 11) as u8).collect();
        for parity in [0, 1] {
            let mut swapped = vec![0xAA; 100];
            let used = swap_words(&input, parity, &mut swapped);
            let swapped = &swapped[..used];
            let want = reference_bits(&input, parity, 8 * 48);
            for step in 1..=32u32 {
                let mut b = Bits::new(swapped, parity, parity);
                let mut got = Vec::new();
                while got.len() < want.len() {
                    let k = step.min((want.len() - got.len()) as u32);
                    let v = b.read(k);
                    for i in (0..k).rev() {
                        got.push(((v >> i) & 1) as u8);
                    }
                }
                assert_eq!(got, want, "parity {parity}, step {step}");
                assert_eq!(b.consumed(), 8 * parity as u64 + want.len() as u64);
            }
        }
    }

    #[test]
    fn zero_bits_read_as_zero() {
        let mut swapped = Vec::new();
        swap_words(&[0xFF; 8], 0, &mut swapped);
        let mut b = Bits::new(&swapped, 0, 0);
        assert_eq!(b.read(0), 0);
        assert_eq!(b.consumed(), 0);
        assert_eq!(b.read(3), 7);
    }

    #[test]
    fn alignment_drops_one_to_sixteen_bits() {
        let mut swapped = Vec::new();
        swap_words(&[0; 32], 0, &mut swapped);
        for (used, want) in [(0u32, 2usize), (1, 2), (15, 2), (16, 4), (17, 4), (32, 6)] {
            let mut b = Bits::new(&swapped, 0, 0);
            b.read(used.min(32));
            assert_eq!(b.align_for_raw(), want, "after {used} bits");
        }
        swap_words(&[0; 32], 1, &mut swapped);
        let mut b = Bits::new(&swapped, 1, 1);
        b.read(3);
        assert_eq!(b.align_for_raw(), 3);
    }
}
