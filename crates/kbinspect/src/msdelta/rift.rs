//! Rift tables: sorted (source, target) offset pairs, coded as running
//! deltas through two "IntFormat" Huffman codes. They appear in the PE
//! pre-process buffer and, as the base rift, at the start of the patch buffer.

use super::bits::BitReader;
use super::huffman::Huffman;
use super::{DeltaError, DeltaLimits};

/// Symbols 0..126 are magnitudes, 126..252 the same magnitudes negated.
const INT_SYMBOLS: usize = 252;
const HALF: usize = 126;

/// One IntFormat code: a Huffman tree over signed magnitude classes.
struct IntFormat {
    tree: Huffman,
}

impl IntFormat {
    fn read(r: &mut BitReader<'_>) -> Result<Self, DeltaError> {
        let at = r.offset();
        let p = r.bits(8)? as usize;
        let q = r.bits(8)? as usize;
        let k = r.bits(8)? as usize;
        if p >= 127 || q >= 127 {
            return Err(DeltaError::corrupt(
                at,
                format!("rift IntFormat: explicit counts {p}/{q} out of range"),
            ));
        }
        let p = p.min(HALF);
        let q = q.min(HALF);
        let mut lens = [0u8; INT_SYMBOLS];
        for l in lens.iter_mut().take(p) {
            *l = r.bits(4)? as u8 + 1;
        }
        for l in lens.iter_mut().skip(HALF).take(q) {
            *l = r.bits(4)? as u8 + 1;
        }
        let d = r.bits(4)? as u8 + 1;
        // The implicit symbols: the first k take D, the rest D − 1.
        let implicit = (p..HALF).chain(HALF + q..INT_SYMBOLS);
        for (n, sym) in implicit.enumerate() {
            lens[sym] = if n < k { d } else { d - 1 };
        }
        Ok(IntFormat {
            tree: Huffman::new(&lens, "rift IntFormat", at)?,
        })
    }

    fn value(&self, r: &mut BitReader<'_>) -> Result<i64, DeltaError> {
        let sym = usize::from(self.tree.decode(r)?);
        let (m, negative) = if sym >= HALF {
            (sym - HALF, true)
        } else {
            (sym, false)
        };
        let v: u64 = if m <= 3 {
            m as u64
        } else {
            let h = (m / 2 - 1) as u32; // ≤ 61
            let top = (2 + (m as u64 % 2)) << h;
            let low = if h > 32 {
                let lo = r.bits(32)?;
                lo | (r.bits(h - 32)? << 32)
            } else {
                r.bits(h)?
            };
            top | low
        };
        let v = i64::try_from(v)
            .map_err(|_| DeltaError::corrupt(r.offset(), "rift value out of range"))?;
        Ok(if negative { !v } else { v })
    }
}

/// Read a rift table (presence bit first). Entries come back sorted by source.
pub fn read_table(
    r: &mut BitReader<'_>,
    limits: &DeltaLimits,
) -> Result<Vec<(i64, i64)>, DeltaError> {
    if !r.bit()? {
        return Ok(Vec::new());
    }
    let src_fmt = IntFormat::read(r)?;
    let dst_fmt = IntFormat::read(r)?;
    let at = r.offset();
    let n = r.number(true, "rift entry count")?;
    // Every entry takes at least two bits, so a count beyond that is a lie.
    if n > r.remaining() / 2 || n > limits.max_rift_entries {
        return Err(DeltaError::limit(
            at,
            format!(
                "rift table of {n} entries (limit {}, {} bits left)",
                limits.max_rift_entries,
                r.remaining()
            ),
        ));
    }
    let mut out = Vec::with_capacity(n as usize);
    let (mut s, mut d) = (0i64, 0i64);
    for _ in 0..n {
        let ds = src_fmt.value(r)?;
        let dd = dst_fmt.value(r)?;
        s = s
            .checked_add(ds)
            .ok_or_else(|| DeltaError::corrupt(r.offset(), "rift source offset overflows"))?;
        d = d
            .checked_add(dd)
            .ok_or_else(|| DeltaError::corrupt(r.offset(), "rift target offset overflows"))?;
        let t = s
            .checked_add(d)
            .ok_or_else(|| DeltaError::corrupt(r.offset(), "rift target offset overflows"))?;
        out.push((s, t));
    }
    out.sort_by_key(|e| e.0);
    Ok(out)
}
