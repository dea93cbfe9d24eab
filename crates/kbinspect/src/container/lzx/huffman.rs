//! Canonical Huffman codes of LZX: one table lookup for short codes, a
//! canonical walk for the rest.

use super::bits::Bits;
use super::{LzxError, MAX_CODE_LEN, err};

/// Table entry that decodes as length 0 and symbol 0 (`entry >> 5` masked
/// to 8 bits): the length tree's lookup of "no length code" (see
/// `LzxDecoder::decode_run`). Entries past `1 << BITS` hold it.
pub(super) const NOTHING: u16 = 0x8000;

/// A canonical Huffman code: a `BITS`-bit lookup for codes up to `BITS`
/// long, and per-length counts for longer ones. A fixed-size table lets the
/// lookup go without a bounds check; `SIZE` may exceed `1 << BITS` to hold
/// [`NOTHING`] entries.
pub(super) struct Huff<const BITS: u32, const SIZE: usize> {
    /// `symbol << 5 | length` (symbols < 2048), or 0 for "no code this
    /// short". 16-bit entries keep both big tables in L1 together.
    pub(super) table: [u16; SIZE],
    count: [u16; MAX_CODE_LEN + 1],
    /// The entry for bit patterns no short code starts: codes longer than
    /// the table, or none (an incomplete tree).
    unfilled: u16,
    /// Symbols sorted by (length, symbol).
    sorted: Vec<u16>,
    pub(super) empty: bool,
}

impl<const BITS: u32, const SIZE: usize> Huff<BITS, SIZE> {
    const LOOKUP: usize = {
        assert!(SIZE >= 1 << BITS);
        1 << BITS
    };

    /// A code whose table holds 0 for "look further" ([`Huff::entry`]).
    pub(super) fn new() -> Self {
        Self::with_unfilled(0)
    }

    /// A code whose table holds `unfilled` for "look further", for a
    /// caller that tests it its own way.
    pub(super) fn with_unfilled(unfilled: u16) -> Self {
        let mut table = [NOTHING; SIZE];
        table[..Self::LOOKUP].fill(unfilled);
        Huff {
            table,
            unfilled,
            count: [0; MAX_CODE_LEN + 1],
            sorted: Vec::new(),
            empty: true,
        }
    }

    pub(super) fn build(&mut self, lens: &[u8], what: &str) -> Result<(), LzxError> {
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
        for len in 1..=BITS as usize {
            for _ in 0..self.count[len] {
                let sym = self.sorted[idx];
                idx += 1;
                let shift = BITS as usize - len;
                let start = (code as usize) << shift;
                let entry = (sym << 5) | len as u16;
                if let Some(span) = self.table.get_mut(start..start + (1 << shift)) {
                    span.fill(entry);
                }
                code += 1;
            }
            code <<= 1;
        }
        let filled = ((code >> 1) as usize).min(Self::LOOKUP);
        if let Some(tail) = self.table.get_mut(filled..Self::LOOKUP) {
            tail.fill(self.unfilled);
        }
        Ok(())
    }

    /// The table entry for the next code (`symbol << 5 | length`), not yet
    /// consumed. Needs 16 bits available. For codes made by [`Huff::new`].
    #[inline(always)]
    pub(super) fn entry(&self, b: &Bits<'_>) -> Result<u16, LzxError> {
        let e = self.table[b.peek(BITS) as usize & (Self::LOOKUP - 1)];
        if e != 0 {
            return Ok(e);
        }
        self.slow(b.peek(MAX_CODE_LEN as u32))
    }

    /// Decode one symbol (refills first).
    #[inline(always)]
    pub(super) fn decode(&self, b: &mut Bits<'_>) -> Result<u16, LzxError> {
        b.refill();
        let e = self.entry(b)?;
        b.consume(u32::from(e & 31));
        Ok(e >> 5)
    }

    /// Codes longer than the table, one bit at a time (canonical order),
    /// from the next 16 bits of input: the entry the table would hold.
    #[cold]
    #[inline(never)]
    pub(super) fn slow(&self, bits: u32) -> Result<u16, LzxError> {
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
                    Some(&sym) => Ok((sym << 5) | len as u16),
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
