//! The patch buffer: composite Huffman tables and the match loop over one
//! window holding the source (reference) followed by the output.

use super::bits::BitReader;
use super::huffman::{Huffman, TABLE_BITS};
use super::{DeltaError, DeltaLimits, rift};

const MAIN_SYMBOLS: usize = 600;
const LENGTH_SYMBOLS: usize = 256;
const ALIGNED_SYMBOLS: usize = 16;
/// All three trees' lengths, coded together per block.
const BLOCK_LENGTHS: usize = MAIN_SYMBOLS + LENGTH_SYMBOLS + ALIGNED_SYMBOLS;
const PRETREE_SYMBOLS: usize = 39;
/// The cheapest possible block (runs of 127 with 1-bit codes) costs this
/// many bits, which bounds the block count a stream can honestly claim.
const MIN_BLOCK_BITS: u64 = 49;

struct Block {
    /// Window position (source length + output offset) where it starts.
    start: u64,
    lengths: Vec<u8>,
}

struct Trees {
    main: Huffman,
    length: Huffman,
    aligned: Huffman,
}

impl Trees {
    fn new(lengths: &[u8], at: u64) -> Result<Self, DeltaError> {
        let (main, rest) = lengths.split_at(MAIN_SYMBOLS.min(lengths.len()));
        let (length, aligned) = rest.split_at(LENGTH_SYMBOLS.min(rest.len()));
        Ok(Trees {
            main: Huffman::new(main, "main", at)?,
            length: Huffman::new(length, "length", at)?,
            aligned: Huffman::new(aligned, "aligned-offset", at)?,
        })
    }
}

/// Read one block's 872 lengths, coded against the previous block's.
fn read_block_lengths(
    r: &mut BitReader<'_>,
    pretree: &Huffman,
    prev: &[u8],
) -> Result<Vec<u8>, DeltaError> {
    let mut cur = vec![0u8; BLOCK_LENGTHS];
    let mut i = 0usize;
    while i < BLOCK_LENGTHS {
        let at = r.offset();
        let sym = pretree.decode(r)?;
        let before = prev.get(i).copied().unwrap_or(0);
        match sym {
            0..=16 => {
                cur[i] = sym as u8;
                i += 1;
            }
            17..=19 => {
                let v = before + (sym - 16) as u8;
                if v > 16 {
                    return Err(DeltaError::corrupt(
                        at,
                        format!("code length {v} over 16 at position {i}"),
                    ));
                }
                cur[i] = v;
                i += 1;
            }
            20..=22 => {
                let dec = (sym - 19) as u8;
                cur[i] = before.checked_sub(dec).ok_or_else(|| {
                    DeltaError::corrupt(at, format!("negative code length at position {i}"))
                })?;
                i += 1;
            }
            23..=38 => {
                let c = u32::from((sym - 23) % 8);
                let count = if c < 3 {
                    c as usize + 1
                } else {
                    (1usize << (c - 1)) + r.bits(c - 1)? as usize
                };
                let end = i
                    .checked_add(count)
                    .filter(|&e| e <= BLOCK_LENGTHS)
                    .ok_or_else(|| {
                        DeltaError::corrupt(
                            at,
                            format!(
                                "length run of {count} at position {i} overruns {BLOCK_LENGTHS}"
                            ),
                        )
                    })?;
                if sym <= 30 {
                    let last = i
                        .checked_sub(1)
                        .and_then(|j| cur.get(j).copied())
                        .ok_or_else(|| {
                            DeltaError::corrupt(at, "length run repeats nothing at position 0")
                        })?;
                    cur[i..end].fill(last);
                } else {
                    for (j, slot) in cur[i..end].iter_mut().enumerate() {
                        *slot = prev.get(i + j).copied().unwrap_or(0);
                    }
                }
                i = end;
            }
            _ => {
                return Err(DeltaError::corrupt(
                    at,
                    format!("pretree symbol {sym} out of range"),
                ));
            }
        }
    }
    Ok(cur)
}

/// Read the patch buffer header: base rift table, blocks and their lengths.
/// Also says whether the patch uses the default trees (`isDefault`).
fn read_blocks(
    r: &mut BitReader<'_>,
    limits: &DeltaLimits,
) -> Result<(Vec<Block>, bool), DeltaError> {
    let at = r.offset();
    let base_rift = rift::read_table(r, limits)?;
    if !base_rift.is_empty() {
        return Err(DeltaError::unsupported(
            at,
            format!(
                "patch carries a non-empty base rift table ({} entries), never seen in real deltas",
                base_rift.len()
            ),
        ));
    }
    if r.bit()? {
        let mut lengths = Huffman::default_lengths(MAIN_SYMBOLS);
        lengths.extend(Huffman::default_lengths(LENGTH_SYMBOLS));
        lengths.extend(Huffman::default_lengths(ALIGNED_SYMBOLS));
        return Ok((vec![Block { start: 0, lengths }], true));
    }
    let at = r.offset();
    let n = r.number(true, "block count")?;
    if n == 0 {
        return Err(DeltaError::corrupt(at, "patch has zero blocks"));
    }
    if n > u64::from(limits.max_blocks) || n > r.remaining() / MIN_BLOCK_BITS {
        return Err(DeltaError::limit(
            at,
            format!(
                "{n} Huffman blocks (limit {}, {} bits left)",
                limits.max_blocks,
                r.remaining()
            ),
        ));
    }
    let mut starts = Vec::with_capacity(n as usize);
    let mut pos = 0u64;
    for _ in 0..n {
        let at = r.offset();
        let inc = r.number(true, "block start")?;
        pos = pos
            .checked_add(inc)
            .ok_or_else(|| DeltaError::corrupt(at, "block start overflows"))?;
        starts.push(pos);
    }
    let at = r.offset();
    let mut pre = [0u8; PRETREE_SYMBOLS];
    for l in pre.iter_mut() {
        *l = r.bits(4)? as u8;
    }
    let pretree = Huffman::new(&pre, "pretree", at)?;
    let mut blocks: Vec<Block> = Vec::with_capacity(starts.len());
    for start in starts {
        let prev = blocks.last().map(|b| b.lengths.as_slice()).unwrap_or(&[]);
        let lengths = read_block_lengths(r, &pretree, prev)?;
        blocks.push(Block { start, lengths });
    }
    Ok((blocks, false))
}

/// What decoding produced, before post-processing.
pub struct Decoded {
    /// Source followed by the target; the target is `window[source_len..]`.
    pub window: Vec<u8>,
    pub source_len: usize,
}

#[inline]
fn push_lru(lru: &mut [u64; 3], d: u64) {
    if d == lru[0] {
    } else if d == lru[1] {
        lru.swap(0, 1);
    } else {
        lru[2] = lru[1];
        lru[1] = lru[0];
        lru[0] = d;
    }
}

/// The rift offset ρ(p) the SRC and FULLSRC copies use: a piecewise-constant
/// map from window position to the offset of the copy source.
pub struct CopyMap {
    /// Breakpoint positions, sorted (stable: of equal positions the last wins).
    pos: Vec<i64>,
    off: Vec<i64>,
}

impl CopyMap {
    /// RAW addressing: ρ = −S everywhere, so output offset t reads reference
    /// offset t.
    pub fn raw(source_len: u64) -> Self {
        CopyMap {
            pos: vec![0],
            off: vec![0i64.wrapping_sub(source_len as i64)],
        }
    }

    /// From (source → target) entries that already include the boundary
    /// entry (S → 0): seeded at position 0 with the last entry's offset.
    pub fn from_entries(mut entries: Vec<(i64, i64)>) -> Self {
        entries.sort_by_key(|e| e.0);
        let seed = entries.last().map_or(0, |e| e.1.wrapping_sub(e.0));
        let mut pos = Vec::with_capacity(entries.len() + 1);
        let mut off = Vec::with_capacity(entries.len() + 1);
        let mut all = vec![(0i64, seed)];
        all.extend(entries.iter().map(|e| (e.0, e.1.wrapping_sub(e.0))));
        all.sort_by_key(|e| e.0);
        for (p, o) in all {
            pos.push(p);
            off.push(o);
        }
        CopyMap { pos, off }
    }

    #[cfg(test)]
    pub(crate) fn at_for_tests(&self, p: u64) -> (i64, i64) {
        self.at(p)
    }

    /// (ρ(p), next breakpoint position after p or i64::MAX).
    #[inline]
    fn at(&self, p: u64) -> (i64, i64) {
        if self.pos.len() == 1 {
            return (self.off[0], i64::MAX);
        }
        let p = p as i64;
        let n = self.pos.partition_point(|&x| x <= p);
        let off = n.checked_sub(1).map_or(self.off[0], |i| self.off[i]);
        (off, self.pos.get(n).copied().unwrap_or(i64::MAX))
    }
}

/// The room to reserve for the output: only what the stream could
/// plausibly produce, so that a lying TargetSize costs nothing until the
/// bytes are actually decoded.
pub(super) fn output_room(patch_len: usize, target_size: u64, limits: &DeltaLimits) -> usize {
    let plausible = target_size
        .min(limits.max_target_size)
        .min((patch_len as u64).saturating_mul(64) + (1 << 20));
    usize::try_from(plausible).unwrap_or(usize::MAX)
}

/// Decode the patch buffer onto `window` (which holds the reference).
/// SRC copies read window index p + ρ(p) − δ; FULLSRC copies read p + ρ(p),
/// re-anchored at every breakpoint of ρ they cross.
pub fn decode_patch(
    patch: &[u8],
    patch_offset: u64,
    mut window: Vec<u8>,
    target_size: u64,
    map: Option<&CopyMap>,
    limits: &DeltaLimits,
) -> Result<Decoded, DeltaError> {
    let mut r = BitReader::new(patch, patch_offset)?;
    let (blocks, is_default) = read_blocks(&mut r, limits)?;
    let source_len = window.len();
    let s = source_len as u64;
    // The first block starts where the output starts: at the source length.
    if let Some(first) = blocks.first().filter(|b| !is_default && b.start != s) {
        return Err(DeltaError::source(if s == 0 {
            format!(
                "delta needs a source of {} bytes; none was given",
                first.start
            )
        } else if first.start == 0 {
            format!("delta is source-less, but a {s}-byte source was given")
        } else {
            format!(
                "delta was made against a {}-byte source, but the given source has {s} bytes",
                first.start
            )
        }));
    }
    let end = s
        .checked_add(target_size)
        .ok_or_else(|| DeltaError::limit(0, "source + target size overflows"))?;
    window.reserve(output_room(patch.len(), target_size, limits));

    let raw_map;
    let map = match map {
        Some(m) => m,
        None => {
            raw_map = CopyMap::raw(s);
            &raw_map
        }
    };
    let mut next_block = 0usize;
    let mut trees: Option<Trees> = None;
    let mut lru = [0u64; 3];

    while (window.len() as u64) < end {
        let p = window.len() as u64;
        // Load the last block whose start has been reached.
        let mut switch = None;
        while let Some(b) = blocks.get(next_block) {
            if p >= b.start {
                switch = Some(next_block);
                next_block += 1;
            } else {
                break;
            }
        }
        if let Some(i) = switch {
            trees = Some(Trees::new(&blocks[i].lengths, r.offset())?);
        }
        let t = trees.as_ref().ok_or_else(|| {
            DeltaError::corrupt(
                r.offset(),
                format!("no Huffman block covers window position {p}"),
            )
        })?;
        // Decode symbols until the next block start (or the end).
        let stop = blocks.get(next_block).map_or(end, |b| b.start.min(end));
        let mut p = p;
        while p < stop {
            // Literals come in runs: up to four from one look at the stream,
            // when each code fits the table and all are in the stream (else
            // the symbol-by-symbol path below says what is wrong, where).
            let v = r.peek57();
            let e = t.main.entry(v);
            if e != 0 && e >> 5 < 256 {
                let mut lits = [(e >> 5) as u8; 4];
                let mut used = e & 31;
                let mut n = 1usize;
                while n < 4 && p + (n as u64) < stop && used + TABLE_BITS <= 57 {
                    let e2 = t.main.entry(v >> used);
                    if e2 == 0 || e2 >> 5 >= 256 {
                        break;
                    }
                    lits[n] = (e2 >> 5) as u8;
                    used += e2 & 31;
                    n += 1;
                }
                if u64::from(used) <= r.remaining() {
                    r.skip(used);
                    window.extend_from_slice(&lits[..n]);
                    p += n as u64;
                    continue;
                }
            }
            let at = r.offset();
            let sym = usize::from(t.main.decode(&mut r)?);
            if sym < 256 {
                window.push(sym as u8);
                p += 1;
                continue;
            }
            let code = sym - 256;
            let mut slot = code / 8;
            let lf = (code % 8) as u64;
            if slot == 7 {
                slot = if !r.bit()? {
                    43 + r.bits(2)? as usize
                } else if !r.bit()? {
                    47 + r.bits(3)? as usize
                } else {
                    55 + r.bits(4)? as usize
                };
            }
            // q: index in the window the copy starts from (as i128 to keep
            // every hostile combination representable before checking).
            let (rho, next_break) = if slot <= 3 { map.at(p) } else { (0, i64::MAX) };
            let tpos = p as i128 + rho as i128;
            let q: i128 = match slot {
                0 => tpos - (r.bits(14)? as i128 - 0x2000),
                1 => {
                    let x = r.bits(16)? as i128 - 0x8000;
                    tpos - if x < 0 { x - 0x2000 } else { x + 0x2000 }
                }
                2 => {
                    let x = r.bits(18)? as i128 - 0x20000;
                    tpos - if x < 0 { x - 0xA000 } else { x + 0xA000 }
                }
                3 => tpos,
                4..=6 => p as i128 - lru[slot - 4] as i128,
                8..=10 => p as i128 - (slot as i128 - 7),
                _ => {
                    let nb = ((slot - 9) / 2) as u32;
                    let base = (2 + ((slot as u64 - 11) % 2)) << nb;
                    let dist = if nb < 4 {
                        base + r.bits(nb)?
                    } else {
                        let mid = r.bits(nb - 4)?;
                        base + (mid << 4) + u64::from(t.aligned.decode(&mut r)?)
                    };
                    p as i128 - dist as i128
                }
            };
            let len = if lf != 0 {
                lf + 1
            } else {
                let l = u64::from(t.length.decode(&mut r)?);
                if l != 0 {
                    l + 8
                } else {
                    let z = r.unary_zeros(23, "long match length")?;
                    (1u64 << (z + 8)) + r.bits(z + 8)? + 8
                }
            };
            if q < 0 || q >= p as i128 {
                return Err(DeltaError::corrupt(
                    at,
                    format!(
                        "match (slot {slot}) at output offset {} reaches window index {q}, outside 0..{p}",
                        p - s
                    ),
                ));
            }
            if len > end - p {
                return Err(DeltaError::corrupt(
                    at,
                    format!(
                        "match of {len} bytes at output offset {} runs past TargetSize {target_size}",
                        p - s
                    ),
                ));
            }
            let q = q as usize;
            push_lru(&mut lru, p - q as u64);
            if slot == 3 && (next_break as i128) < (p + len) as i128 {
                full_source_copy(&mut window, map, q, len, at)?;
            } else {
                copy_match(&mut window, q, len as usize);
            }
            p += len;
        }
    }
    if r.remaining() != 0 {
        return Err(DeltaError::corrupt(
            r.offset(),
            format!(
                "{} unused bits after the last symbol (corrupt or wrong source)",
                r.remaining()
            ),
        ));
    }
    Ok(Decoded { window, source_len })
}

/// A FULLSRC copy that crosses breakpoints of ρ: copy chunk by chunk, each
/// chunk reading from p + ρ(p) with ρ looked up again at its start.
fn full_source_copy(
    window: &mut Vec<u8>,
    map: &CopyMap,
    first_q: usize,
    len: u64,
    at: u64,
) -> Result<(), DeltaError> {
    let mut left = len;
    let mut q = first_q;
    loop {
        let p = window.len() as u64;
        let (_, next) = map.at(p);
        let chunk = (next as i128 - p as i128).clamp(1, left as i128) as u64;
        copy_match(window, q, chunk as usize);
        left -= chunk;
        if left == 0 {
            return Ok(());
        }
        let p = window.len() as u64;
        let (rho, _) = map.at(p);
        let nq = p as i128 + rho as i128;
        if nq < 0 || nq >= p as i128 {
            return Err(DeltaError::corrupt(
                at,
                format!("source copy re-anchors at window index {nq}, outside 0..{p}"),
            ));
        }
        q = nq as usize;
    }
}

/// Append `len` bytes read from `q` onwards, byte by byte in effect: when the
/// copy overlaps what it writes, the pattern repeats. The caller has checked
/// `q < window.len()`.
#[inline]
fn copy_match(window: &mut Vec<u8>, mut q: usize, mut len: usize) {
    let start = window.len();
    let distance = start - q;
    // Most copies are short and do not overlap what they write: one fixed
    // 32-byte move (two vector moves, no memmove call), then the length.
    if len <= 32 && distance >= 32 {
        let mut chunk = [0u8; 32];
        chunk.copy_from_slice(&window[q..q + 32]);
        window.extend_from_slice(&chunk);
        window.truncate(start + len);
        return;
    }
    // A run of one byte.
    if distance == 1 {
        let b = window[q];
        window.resize(start + len, b);
        return;
    }
    // Other short copies are cheaper as a plain loop than as a memmove
    // call; the forward loop also gives the overlap semantics.
    if len <= 32 {
        window.resize(start + len, 0);
        for k in 0..len {
            window[start + k] = window[q + k];
        }
        return;
    }
    while len > 0 {
        let n = (window.len() - q).min(len);
        window.extend_from_within(q..q + n);
        q += n;
        len -= n;
    }
}
