//! Finding members, components, indexes and deltas by path: the sorted
//! key order and hash tables that keep every lookup linear or `n log n`.

use super::*;

/// Hash lookups so that checks stay linear on packages with 100,000 files.
#[derive(Debug, Clone, Default)]
pub(super) struct Lookup {
    /// Members in [`path_key`] order.
    pub(super) members: KeyOrder,
    /// Component positions sorted by keyform (then position): no second
    /// copy of every keyform, as a map keyed by them would hold.
    pub(super) components: Vec<usize>,
    /// member path → delta index.
    pub(super) deltas: HashMap<String, usize>,
    /// Directory (tree path) → positions of the container indexes there:
    /// files look up only their own container's indexes, so a package with
    /// thousands of indexes stays linear.
    pub(super) indexes_by_dir: HashMap<String, Vec<usize>>,
    /// For a directory holding several indexes: every entry of them, by
    /// target name, so that finding a file's entry does not try each index
    /// in turn (4,000 indexes beside 100,000 declared files was quadratic).
    pub(super) entries_by_dir: HashMap<String, DirEntries>,
}

/// The entries of a directory's indexes, as (index position, entry
/// position), in index then entry order, with a name lookup.
#[derive(Debug, Clone, Default)]
pub(super) struct DirEntries {
    pub(super) entries: Vec<(u32, u32)>,
    pub(super) by_name: KeyOrder,
}

/// The lookup key of a member path: the path the extractor would write,
/// `/`-separated, ASCII lower case ([`container::names::member_key`]). CAB
/// names use `\\`, Windows names are case-insensitive, and aliases that
/// sanitize to one file (`a\\.\\b`, `b.`, a trailing space) are one member.
pub fn path_key(p: &str) -> String {
    container::names::member_key(p)
}

/// The bytes of [`path_key`] without building it.
pub(super) fn key_bytes(p: &str) -> impl Iterator<Item = u8> + '_ {
    container::names::key_bytes(p)
}

/// `a` and `b` compared as their [`path_key`]s.
pub(super) fn key_cmp(a: &str, b: &str) -> std::cmp::Ordering {
    container::names::key_cmp(a, b)
}

/// Positions of named items in the order of (hash of the [`path_key`] of
/// their names, that key, position): a lookup by key without a lower-cased
/// copy of every name, which a hash map of keys would hold (tens of
/// thousands of members and index entries). Searches compare hashes, and
/// names only where hashes are equal; the hasher is seeded per process, so
/// names cannot be chosen to collide.
#[derive(Debug, Clone, Default)]
pub(super) struct KeyOrder {
    pub(super) order: Vec<usize>,
    /// The hash of each position's key, aligned with `order`.
    pub(super) hashes: Vec<u64>,
    pub(super) hasher: std::hash::RandomState,
}

impl KeyOrder {
    pub(super) fn new<'n>(len: usize, name_of: impl Fn(usize) -> &'n str) -> KeyOrder {
        let hasher = std::hash::RandomState::new();
        let mut pairs: Vec<(u64, usize)> = (0..len)
            .map(|i| (key_hash(&hasher, name_of(i)), i))
            .collect();
        pairs.sort_by(|a, b| {
            a.0.cmp(&b.0)
                .then_with(|| key_cmp(name_of(a.1), name_of(b.1)))
                .then(a.1.cmp(&b.1))
        });
        KeyOrder {
            hashes: pairs.iter().map(|p| p.0).collect(),
            order: pairs.into_iter().map(|p| p.1).collect(),
            hasher,
        }
    }

    /// The positions whose names have the key of `name`, in order.
    pub(super) fn equal<'n>(&self, name: &str, name_of: impl Fn(usize) -> &'n str) -> &[usize] {
        let h = key_hash(&self.hasher, name);
        // (hash, key) of the entry at `k` compared with (h, name).
        let cmp = |k: usize| {
            let eh = self.hashes.get(k).copied().unwrap_or(u64::MAX);
            eh.cmp(&h).then_with(|| {
                let i = self.order.get(k).copied().unwrap_or(usize::MAX);
                key_cmp(name_of(i), name)
            })
        };
        let lo = first_not(self.order.len(), |k| cmp(k).is_lt());
        let hi = lo + first_not(self.order.len() - lo, |k| cmp(lo + k).is_le());
        self.order.get(lo..hi).unwrap_or(&[])
    }

    /// Runs of two or more positions whose names share a key.
    pub(super) fn duplicates<'n>(
        &self,
        name_of: impl Fn(usize) -> &'n str,
    ) -> impl Iterator<Item = &[usize]> {
        // Equal keys have equal hashes, and the order sorts by hash first:
        // neighbours of different hashes are not compared by name (which
        // canonicalizes both, 1 % of `verify` on a package of 10,000
        // members when every pair was).
        let mut start = 0;
        std::iter::from_fn(move || {
            while start < self.order.len() {
                let first = start;
                let same = |k: usize| {
                    self.hashes.get(k) == self.hashes.get(first)
                        && key_cmp(name_of(self.order[first]), name_of(self.order[k])).is_eq()
                };
                let mut end = first + 1;
                while end < self.order.len() && same(end) {
                    end += 1;
                }
                start = end;
                if end - first > 1 {
                    return self.order.get(first..end);
                }
            }
            None
        })
    }
}

/// The first `k` in `0..len` where `pred` is false, for a `pred` true on a
/// prefix (a binary search like `partition_point`).
pub(super) fn first_not(len: usize, pred: impl Fn(usize) -> bool) -> usize {
    let (mut lo, mut hi) = (0usize, len);
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        if pred(mid) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    lo
}

/// Hash of the [`path_key`] of `p`, fed in blocks without building it.
pub(super) fn key_hash(hasher: &std::hash::RandomState, p: &str) -> u64 {
    use std::hash::{BuildHasher as _, Hasher as _};
    let mut h = hasher.build_hasher();
    let mut block = [0u8; 64];
    let mut n = 0;
    for b in key_bytes(p) {
        if n == block.len() {
            h.write(&block);
            n = 0;
        }
        if let Some(slot) = block.get_mut(n) {
            *slot = b;
        }
        n += 1;
    }
    h.write(block.get(..n).unwrap_or(&[]));
    h.finish()
}

/// Directory part of a `/`-separated path (`""` at the top).
pub fn parent_of(p: &str) -> &str {
    p.rfind('/').map_or("", |i| &p[..i])
}

pub(super) fn join_key(dir: &str, rel: &str) -> String {
    if dir.is_empty() {
        path_key(rel)
    } else {
        path_key(&format!("{dir}/{rel}"))
    }
}

impl Package {
    /// The buffers and thread budget the package was loaded with
    /// ([`LoadOptions::context`]): checks that read the input again or
    /// work in parallel use them.
    pub fn context(&self) -> &crate::container::DecodeContext {
        &self.context
    }

    /// The signatures verified during the load ([`LoadOptions::trust`]).
    pub fn presigned(&self) -> Option<&Presigned> {
        self.presigned.as_ref()
    }

    /// Every member, in the order the walk met them.
    pub fn members(&self) -> &[Member] {
        &self.members
    }

    /// The member at a tree path (case-insensitive, either slash).
    pub fn member(&self, path: &str) -> Option<&Member> {
        self.member_position(path).and_then(|i| self.members.get(i))
    }

    /// Position in [`Package::members`] of the member at a tree path or
    /// [`path_key`]; of the last one when several share the key.
    pub(super) fn member_position(&self, path: &str) -> Option<usize> {
        self.member_positions(path).last().copied()
    }

    /// Positions in [`Package::members`] of every member at a tree path or
    /// [`path_key`] (several when names differ only in case or slashes).
    pub(crate) fn member_positions(&self, path: &str) -> &[usize] {
        let name_of = |i: usize| self.members.get(i).map_or("", |m| m.path.as_ref());
        self.lookup.members.equal(path, name_of)
    }

    /// Members whose paths share a [`path_key`] with an earlier member:
    /// (its position, the first one's), in member order.
    pub(crate) fn duplicate_members(&self) -> Vec<(usize, usize)> {
        let name_of = |i: usize| self.members.get(i).map_or("", |m| m.path.as_ref());
        let mut dups: Vec<(usize, usize)> = self
            .lookup
            .members
            .duplicates(name_of)
            .flat_map(|run| {
                let first = run.first().copied().unwrap_or(0);
                run.iter().skip(1).map(move |&i| (i, first))
            })
            .collect();
        dups.sort_unstable();
        dups
    }

    /// Members by lookup key ([`path_key`] of the tree path).
    pub fn member_index(&self) -> HashMap<String, usize> {
        self.members
            .iter()
            .enumerate()
            .map(|(i, m)| (path_key(&m.path), i))
            .collect()
    }

    /// The component whose identity matches (by keyform, then attributes).
    pub fn component(&self, id: &Identity) -> Option<&Component> {
        let keyform = id.keyform();
        let keyform_of = |i: usize| self.components.get(i).map_or("", |c| &*c.keyform);
        // The last component of this keyform, as a map built in component
        // order would hold.
        let end = self
            .lookup
            .components
            .partition_point(|&i| keyform_of(i) <= keyform.as_str());
        let last = end
            .checked_sub(1)
            .and_then(|at| self.lookup.components.get(at))?;
        self.components
            .get(*last)
            .filter(|c| *c.keyform == *keyform && c.identity.same_as(id))
    }

    /// The container indexes in directory `dir` (a tree path).
    pub fn indexes_in<'a>(&'a self, dir: &str) -> impl Iterator<Item = &'a Index> + 'a {
        self.lookup
            .indexes_by_dir
            .get(dir)
            .map_or(&[][..], Vec::as_slice)
            .iter()
            .filter_map(|&i| self.indexes.get(i))
    }

    /// The delta blob stored in this member.
    pub fn delta(&self, member_path: &str) -> Option<&DeltaBlob> {
        self.lookup
            .deltas
            .get(member_path)
            .and_then(|&i| self.deltas.get(i))
    }
}

/// Byte strings in sorted order, to find the ones equal to a given one by
/// binary search: 8 bytes each, where a map or set of them also held their
/// keys (2.5 MB for the generated 300 MB package's 15,600 document hashes,
/// at the moment the load's memory peaks).
pub(crate) struct SortedBytes<'a> {
    items: &'a [&'a [u8]],
    order: Vec<usize>,
}

impl<'a> SortedBytes<'a> {
    /// The items, sorted.
    pub(crate) fn new(items: &'a [&'a [u8]]) -> Self {
        let mut order: Vec<usize> = (0..items.len()).collect();
        order.sort_unstable_by(|&a, &b| items[a].cmp(items[b]));
        SortedBytes { items, order }
    }

    /// Positions (in `items`) of the items equal to `w`.
    pub(crate) fn equal<'s>(&'s self, w: &'s [u8]) -> impl Iterator<Item = usize> + 's {
        let first = self.order.partition_point(|&i| self.items[i] < w);
        self.order[first..]
            .iter()
            .copied()
            .take_while(move |&i| self.items[i] == w)
    }
}

/// Which of the needles in `sorted` occur anywhere in one of `haystacks`
/// (byte strings at any offset, as `memmem` finds them), indexed as the
/// needles were given to [`SortedBytes::new`]; the caller sorts them once
/// and may look other hashes up in them too. One pass over each haystack:
/// two bitmaps screen every offset, one on the needles' bytes 0–2 and one
/// on bytes 3–5 (20 bits each), and only offsets both let through are
/// looked up. Linear in the haystacks' length whatever the number of
/// needles.
pub(crate) fn occurring(haystacks: &[&[u8]], sorted: &SortedBytes<'_>) -> Vec<bool> {
    let needles = sorted.items;
    /// Shortest needle the screens take: shorter ones are searched for
    /// directly (the callers' needles are digests, 20 or 32 bytes).
    const SCREENED: usize = 6;
    let mut found = vec![false; needles.len()];
    // 20 bits of 3 bytes: a 128 KiB bitmap (24 bits took 2 MiB). With
    // 16,000 hashes ~1.5 % of offsets pass the first and ~0.02 % both
    // (one screen alone left a binary search at every 66th offset: half
    // the time of a 4 MB scan).
    let bits =
        |b: &[u8]| (usize::from(b[0]) << 12) | (usize::from(b[1]) << 4) | (usize::from(b[2]) >> 4);
    let mut first = vec![0u64; (1 << 20) / 64];
    let mut second = vec![0u64; (1 << 20) / 64];
    let mut lengths: Vec<usize> = Vec::new();
    for (i, n) in needles.iter().enumerate() {
        if n.len() < SCREENED {
            found[i] = haystacks
                .iter()
                .any(|h| memchr::memmem::find(h, n).is_some());
            continue;
        }
        let (p, q) = (bits(n), bits(&n[3..]));
        first[p / 64] |= 1 << (p % 64);
        second[q / 64] |= 1 << (q % 64);
        if !lengths.contains(&n.len()) {
            lengths.push(n.len());
        }
    }
    // (Shorter needles, searched for above, never equal a window of a
    // screened length.)
    if lengths.is_empty() {
        return found;
    }
    for h in haystacks {
        for (at, w) in h.windows(SCREENED).enumerate() {
            let p = bits(w);
            if first[p / 64] & (1 << (p % 64)) == 0 {
                continue;
            }
            let q = bits(&w[3..]);
            if second[q / 64] & (1 << (q % 64)) == 0 {
                continue;
            }
            for &len in &lengths {
                if let Some(w) = h.get(at..at + len) {
                    for i in sorted.equal(w) {
                        found[i] = true;
                    }
                }
            }
        }
    }
    found
}
