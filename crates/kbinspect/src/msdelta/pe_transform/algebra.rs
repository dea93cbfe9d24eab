//! Rift tables as piecewise-constant maps, and the algebra that composes the
//! copy rift: the three lookups, Multiply (composition) and Reverse
//! (inversion that resolves overlaps and gaps). All arithmetic wraps in
//! two's complement; i64::MIN / i64::MAX act as sentinels.
//!
//! A table is a list of (source, target) sorted by source; the segment that
//! starts at an entry maps x to x + (target − source) up to the next entry.

use crate::msdelta::DeltaError;

pub type Table = Vec<(i64, i64)>;

#[inline]
fn off(e: (i64, i64)) -> i64 {
    e.1.wrapping_sub(e.0)
}

/// Index of the last entry whose source is ≤ x (None when x is below all).
#[inline]
fn floor_index(t: &[(i64, i64)], x: i64) -> Option<usize> {
    t.partition_point(|e| e.0 <= x).checked_sub(1)
}

/// The transforms' lookup: the offset of the last entry whose source is
/// ≤ x; below the first entry, the *last* entry's offset ("wrap", as in
/// [`get_rift`]); 0 for an empty table.
///
/// The brief (from jlevere/msdelta) has identity below the first entry.
/// Our data says wrap: KB4538483 x86 blob 13 (`sppwinob.dll`) rebuilds only
/// with it, because relocated pointers below the source ImageBase give
/// negative RVAs, and its rift #2 starts at (0 → 0). No other delta of the
/// corpus changes outcome.
pub fn transform_offset(t: &[(i64, i64)], x: i64) -> i64 {
    match floor_index(t, x) {
        Some(i) => off(t[i]),
        None => t.last().map_or(0, |e| off(*e)),
    }
}

/// MapRva(x) = x + transform_offset(x).
pub fn map_rva(t: &[(i64, i64)], x: i64) -> i64 {
    x.wrapping_add(transform_offset(t, x))
}

/// The algebra's lookup: (offset, last position of the segment). Below the
/// first entry the *last* entry's offset applies ("wrap").
pub fn get_rift(t: &[(i64, i64)], x: i64) -> (i64, i64) {
    let Some(last) = t.last() else {
        return (0, i64::MAX);
    };
    match floor_index(t, x) {
        None => (off(*last), t[0].0.wrapping_sub(1)),
        Some(i) => {
            let brk = t.get(i + 1).map_or(i64::MAX, |n| n.0.wrapping_sub(1));
            (off(t[i]), brk)
        }
    }
}

fn too_big(what: &str, cap: usize) -> DeltaError {
    DeltaError::limit(
        0,
        format!("composed rift table ({what}) over {cap} entries"),
    )
}

/// C = B after A: C(x) = B(A(x)). An empty operand is the identity. Equal
/// neighbouring offsets are kept (Reverse depends on the breakpoints).
pub fn multiply(a: &[(i64, i64)], b: &[(i64, i64)], cap: usize) -> Result<Table, DeltaError> {
    if a.is_empty() {
        return Ok(b.to_vec());
    }
    if b.is_empty() {
        return Ok(a.to_vec());
    }
    let mut out: Table = Vec::new();
    // The region below A's first source maps under A's last offset.
    let a0 = a[0].0;
    if a0 > i64::MIN {
        let last_off = off(a[a.len() - 1]);
        split_image(
            &mut out,
            b,
            (i64::MIN, i64::MIN.wrapping_add(last_off)),
            a0.wrapping_sub(1),
            cap,
        )?;
    }
    for i in 0..a.len() {
        let seg_end = match a.get(i + 1) {
            // Of several entries with one source, only the last counts.
            Some(n) if n.0 == a[i].0 => continue,
            Some(n) => n.0.wrapping_sub(1),
            None => i64::MAX,
        };
        split_image(&mut out, b, a[i], seg_end, cap)?;
    }
    out.sort_by_key(|e| e.0);
    Ok(out)
}

/// Emit the segment of A that starts at `start` = (x, y = A(x)) and ends at
/// `last`, split wherever its image crosses a break of B.
fn split_image(
    out: &mut Table,
    b: &[(i64, i64)],
    start: (i64, i64),
    last: i64,
    cap: usize,
) -> Result<(), DeltaError> {
    let (mut x, mut y) = start;
    let (boff, mut brk) = get_rift(b, y);
    out.push((x, y.wrapping_add(boff)));
    while (brk.wrapping_sub(y) as u64) < (last.wrapping_sub(x) as u64) {
        if out.len() >= cap {
            return Err(too_big("Multiply", cap));
        }
        x = x.wrapping_add(brk.wrapping_sub(y)).wrapping_add(1);
        y = brk.wrapping_add(1);
        let (boff, nbrk) = get_rift(b, y);
        brk = nbrk;
        out.push((x, y.wrapping_add(boff)));
    }
    if out.len() > cap {
        return Err(too_big("Multiply", cap));
    }
    Ok(())
}

/// The inverse map. Segments are walked from source 0 upwards (wrapping
/// through i64::MAX → i64::MIN); the segment processed first keeps an image
/// range that several segments cover, and a later one resumes its own
/// mapping only after each covered interval ends.
pub fn reverse(a: &[(i64, i64)], cap: usize) -> Result<Table, DeltaError> {
    let n = a.len();
    if n == 0 {
        return Ok(Vec::new());
    }
    if a.iter().all(|e| e.0 == a[0].0) {
        return Ok(vec![(0, off(a[0]))]);
    }
    if n > cap {
        return Err(too_big("Reverse input", cap));
    }
    let mut out: Table = Vec::new();
    // Covered image intervals [start, end), sorted; an end of i64::MIN is +∞.
    let mut covered: Vec<(i64, i64)> = Vec::new();
    let k = match a.iter().position(|e| e.0 > 0) {
        Some(0) | None => n,
        Some(k) => k,
    };
    let stop = k - 1;
    let mut boundary = if k < n { k } else { 0 };
    let mut active = stop;
    let mut cursor: i64 = 0;
    loop {
        let until = a[boundary].0;
        loop {
            let o = off(a[active]);
            let mut span = until.wrapping_sub(cursor);
            let ys = cursor.wrapping_add(o);
            if ys != i64::MIN {
                // Do not let the image run past i64::MAX into i64::MIN.
                let room = i64::MIN.wrapping_sub(ys);
                if (room as u64) < (span as u64) {
                    span = room;
                }
            }
            if span != 0 {
                cover(&mut covered, &mut out, ys, ys.wrapping_add(span), cursor, o);
                if out.len() > cap.saturating_mul(4) {
                    return Err(too_big("Reverse", cap));
                }
            }
            cursor = cursor.wrapping_add(span);
            if cursor == until {
                break;
            }
        }
        active = boundary;
        if boundary == stop {
            break;
        }
        boundary = if boundary + 1 < n { boundary + 1 } else { 0 };
    }
    out.sort_by_key(|e| e.0);
    out.retain(|e| e.0 != i64::MIN && e.1 != i64::MIN);
    // Equal sources: the last emitted wins.
    let mut dedup: Table = Vec::with_capacity(out.len());
    for e in out {
        match dedup.last_mut() {
            Some(prev) if prev.0 == e.0 => *prev = e,
            _ => dedup.push(e),
        }
    }
    Ok(dedup)
}

/// Record the image [ys, ye) of a segment with offset `o` whose source
/// starts at `cursor`, emitting inverse entries where nothing covered it yet.
fn cover(covered: &mut Vec<(i64, i64)>, out: &mut Table, ys: i64, ye: i64, cursor: i64, o: i64) {
    // First interval that ends at or after ys (touching counts).
    let first = covered.partition_point(|iv| iv.1 != i64::MIN && iv.1 < ys);
    let mut last = first;
    while last < covered.len() && (ye == i64::MIN || covered[last].0 <= ye) {
        last += 1;
    }
    if first == last {
        out.push((ys, cursor));
        covered.insert(first, (ys, ye));
        return;
    }
    let first_start = covered[first].0;
    let merged_start = if ys < first_start {
        out.push((ys, cursor));
        ys
    } else {
        first_start
    };
    for iv in &covered[first..last - 1] {
        out.push((iv.1, iv.1.wrapping_sub(o)));
    }
    let last_end = covered[last - 1].1;
    let mut merged_end = last_end;
    if last_end != i64::MIN && (ye == i64::MIN || last_end < ye) {
        out.push((last_end, last_end.wrapping_sub(o)));
        merged_end = ye;
    }
    covered.splice(first..last, [(merged_start, merged_end)]);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eval(t: &[(i64, i64)], x: i64) -> i64 {
        x.wrapping_add(get_rift(t, x).0)
    }

    #[test]
    fn lookups() {
        let t = vec![(0x10, 0x20), (0x30, 0x30)];
        // Below the first entry: the last entry's offset (wrap).
        assert_eq!(transform_offset(&t, 5), 0);
        assert_eq!(transform_offset(&[(0, 0), (0x10, 0x18)], -4), 8);
        assert_eq!(transform_offset(&t, 0x10), 0x10);
        assert_eq!(transform_offset(&t, 0x2F), 0x10);
        assert_eq!(map_rva(&t, 0x40), 0x40);
        assert_eq!(get_rift(&t, 5), (0, 0xF));
        assert_eq!(get_rift(&t, 0x11), (0x10, 0x2F));
        assert_eq!(get_rift(&t, 0x31), (0, i64::MAX));
        assert_eq!(get_rift(&[], 3), (0, i64::MAX));
        assert_eq!(transform_offset(&[], 3), 0);
    }

    #[test]
    fn multiply_composes() {
        let a = vec![(0, 0), (0x400, 0x1000), (0x600, 0x2000)];
        let b = vec![(0, 0), (0x1000, 0x1008), (0x2000, 0x2000)];
        let c = multiply(&a, &b, 1000).unwrap();
        for x in [0, 5, 0x400, 0x410, 0x5FF, 0x600, 0x700] {
            assert_eq!(eval(&c, x), eval(&b, eval(&a, x)), "x={x:#x}");
        }
        assert_eq!(multiply(&a, &[], 10).unwrap(), a);
        assert_eq!(multiply(&[], &b, 10).unwrap(), b);
        assert!(multiply(&a, &b, 2).is_err());
    }

    #[test]
    fn reverse_inverts_a_monotone_map() {
        let a = vec![(0, 0), (0x400, 0x1000), (0x600, 0x2000)];
        let r = reverse(&a, 1000).unwrap();
        for x in [0x10, 0x400, 0x5FF, 0x600, 0x7FF] {
            let y = eval(&a, x);
            assert_eq!(eval(&r, y), x, "x={x:#x} y={y:#x} r={r:x?}");
        }
    }

    #[test]
    fn reverse_keeps_the_first_owner_of_an_overlap() {
        // [0,0x100) → [0,0x100); [0x100,0x200) → [0x80,0x180): the overlap
        // [0x80,0x100) stays with the first segment.
        let a = vec![(0, 0), (0x100, 0x80), (0x200, 0x200)];
        let r = reverse(&a, 100).unwrap();
        assert_eq!(eval(&r, 0x90), 0x90);
        assert_eq!(eval(&r, 0x100), 0x180);
        assert_eq!(eval(&r, 0x17F), 0x1FF);
    }

    #[test]
    fn reverse_degenerate() {
        assert_eq!(reverse(&[], 1).unwrap(), vec![]);
        assert_eq!(reverse(&[(5, 9), (5, 9)], 1).unwrap(), vec![(0, 4)]);
    }
}
