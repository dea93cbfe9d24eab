//! Basis chains of a container index: file N is a delta applied to the
//! *rebuilt* file M, which may itself be a delta of file K, and so on.
//!
//! The caller describes each file through a closure (so the CIX reader and
//! the container walk stay where they are); the chain is followed
//! iteratively with a depth limit and cycle detection, then applied from the
//! bottom up, each step checked against its expected SHA-256.

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::fmt;
use std::hash::Hash;
use std::ops::Deref;
use std::sync::Arc;

use super::{DeltaError, DeltaLimits, ErrorKind, Expected, apply_detailed, apply_expecting};

/// How one file is obtained. Bytes are borrowed where the caller holds
/// them (a package's kept members): a base used by every link of a long
/// chain is never copied into each link.
#[derive(Debug, Clone)]
pub enum Recipe<'a, Id> {
    /// Stored as is (CIX `Source type="RAW"`): these are its bytes.
    Stored(Cow<'a, [u8]>),
    /// A delta (its bytes), applied to the rebuilt `basis` or to nothing.
    Delta {
        delta: Cow<'a, [u8]>,
        basis: Option<Id>,
    },
    /// A byte copy of another file (a CIX `Delta` holding only a `Basis`).
    Copy { basis: Id },
}

/// One file's recipe plus the digest its rebuilt bytes must have.
#[derive(Debug, Clone)]
pub struct Step<'a, Id> {
    pub recipe: Recipe<'a, Id>,
    pub expected: Option<Expected>,
}

/// A rebuilt file's bytes: borrowed from the caller (a stored file, or a
/// copy of one) or shared with the rebuilder's cache. Dereferences to the
/// bytes.
#[derive(Debug, Clone)]
pub enum Rebuilt<'a> {
    Borrowed(&'a [u8]),
    Shared(Arc<Vec<u8>>),
}

impl Deref for Rebuilt<'_> {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        match self {
            Rebuilt::Borrowed(b) => b,
            Rebuilt::Shared(v) => v,
        }
    }
}

impl Rebuilt<'_> {
    /// The bytes as an owned vector (copied unless this was their only
    /// holder).
    pub fn into_vec(self) -> Vec<u8> {
        match self {
            Rebuilt::Borrowed(b) => b.to_vec(),
            Rebuilt::Shared(v) => Arc::try_unwrap(v).unwrap_or_else(|a| (*a).clone()),
        }
    }

    /// Bytes held by this value alone (not borrowed from the caller).
    fn owned_len(&self) -> usize {
        match self {
            Rebuilt::Borrowed(_) => 0,
            Rebuilt::Shared(v) => v.len(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChainErrorKind {
    /// The closure could not describe the file (missing member, bad index…).
    Missing(String),
    /// The basis links loop back.
    Cycle,
    /// More links than `DeltaLimits::max_chain_depth`.
    TooDeep(usize),
    /// Applying this file's delta failed (see the error's kind: `Unsupported`
    /// for PE transforms, `HashMismatch`, `Corrupt`…).
    Delta(DeltaError),
    /// A stored or copied file does not have its expected digest
    /// (`algorithm`: "SHA-256" or "SHA-1").
    HashMismatch {
        algorithm: &'static str,
        expected: String,
        actual: String,
    },
}

/// A chain that could not be rebuilt; `file` is the link that failed and
/// `chain` the links from the requested file down to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainError {
    pub file: String,
    pub chain: Vec<String>,
    pub kind: ChainErrorKind,
}

impl ChainError {
    /// The delta error's kind, when a delta failed.
    pub fn delta_kind(&self) -> Option<ErrorKind> {
        match &self.kind {
            ChainErrorKind::Delta(e) => Some(e.kind),
            _ => None,
        }
    }
}

impl fmt::Display for ChainError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "file {}", self.file)?;
        if self.chain.len() > 1 {
            write!(f, " (basis chain {})", self.chain.join(" <- "))?;
        }
        match &self.kind {
            ChainErrorKind::Missing(m) => write!(f, ": {m}"),
            ChainErrorKind::Cycle => write!(f, ": basis chain loops back on itself"),
            ChainErrorKind::TooDeep(n) => write!(f, ": basis chain longer than {n} links"),
            ChainErrorKind::Delta(e) => write!(f, ": {e}"),
            ChainErrorKind::HashMismatch {
                algorithm,
                expected,
                actual,
            } => {
                write!(f, ": {algorithm} {actual}, expected {expected}")
            }
        }
    }
}

impl std::error::Error for ChainError {}

impl ChainErrorKind {
    /// Whether the same link would fail the same way if tried again: true
    /// of what its bytes and its basis decide (a corrupt or unsupported
    /// delta, a wrong source or target, a digest that does not match); not
    /// of a limit, which the caller may set otherwise for the next file,
    /// nor of what depends on the chain it was reached from.
    pub fn lasting(&self) -> bool {
        match self {
            ChainErrorKind::Delta(e) => e.kind != ErrorKind::Limit,
            ChainErrorKind::HashMismatch { .. } => true,
            ChainErrorKind::Missing(_) | ChainErrorKind::Cycle | ChainErrorKind::TooDeep(_) => {
                false
            }
        }
    }
}

/// Rebuilds files of one package, caching outputs so shared bases are
/// rebuilt once (within `cache_budget` bytes of rebuilt output; borrowed
/// stored files cost nothing to keep).
///
/// By default every output is kept while the budget lasts. Told how many
/// requests will pass through each file ([`ChainRebuilder::with_uses`]),
/// it keeps an output only while a later request needs it, and drops it
/// after the last ([`ChainRebuilder::done_with`]): memory then holds the
/// bases still to be used, not everything rebuilt so far.
pub struct ChainRebuilder<'a, Id, F> {
    fetch: F,
    limits: DeltaLimits,
    cache: HashMap<Id, Rebuilt<'a>>,
    cache_budget: usize,
    cached_bytes: usize,
    /// Requests still to come through each file, when known.
    uses: Option<HashMap<Id, usize>>,
    /// Outputs rebuilt elsewhere (another thread), read-only here.
    shared: Option<Arc<HashMap<Id, Rebuilt<'a>>>>,
    /// Links that failed for a reason another try cannot change (see
    /// [`ChainErrorKind::lasting`]): a later request whose chain passes
    /// through one fails there at once, not after decoding it again (a
    /// KB3063858 delta our transforms miss is the basis of 13 others).
    failed: HashMap<Id, ChainErrorKind>,
    /// The same, found by other rebuilders, read-only here.
    shared_failed: Option<Arc<HashMap<Id, ChainErrorKind>>>,
}

impl<'a, Id, F> ChainRebuilder<'a, Id, F>
where
    Id: Clone + Eq + Hash + fmt::Display,
    F: FnMut(&Id) -> Result<Step<'a, Id>, String>,
{
    /// `fetch` describes one file by id. The default cache budget is 256 MiB.
    pub fn new(limits: DeltaLimits, fetch: F) -> Self {
        ChainRebuilder {
            fetch,
            limits,
            cache: HashMap::new(),
            cache_budget: 256 << 20,
            cached_bytes: 0,
            uses: None,
            shared: None,
            failed: HashMap::new(),
            shared_failed: None,
        }
    }

    /// Links other rebuilders found failing ([`ChainRebuilder::take_failures`]).
    pub fn with_shared_failures(mut self, failed: Arc<HashMap<Id, ChainErrorKind>>) -> Self {
        self.shared_failed = Some(failed);
        self
    }

    /// The links that failed here for lasting reasons, by id.
    pub fn take_failures(&mut self) -> HashMap<Id, ChainErrorKind> {
        std::mem::take(&mut self.failed)
    }

    fn failure(&self, id: &Id) -> Option<&ChainErrorKind> {
        self.failed
            .get(id)
            .or_else(|| self.shared_failed.as_deref().and_then(|f| f.get(id)))
    }

    /// Outputs already rebuilt (by other rebuilders, for bases several
    /// files share), used as if cached here: rebuilders working in
    /// parallel share them without a lock.
    pub fn with_shared(mut self, shared: Arc<HashMap<Id, Rebuilt<'a>>>) -> Self {
        self.shared = Some(shared);
        self
    }

    fn cached(&self, id: &Id) -> Option<&Rebuilt<'a>> {
        self.cache
            .get(id)
            .or_else(|| self.shared.as_deref().and_then(|s| s.get(id)))
    }

    /// The limits applied to the next rebuilds (a caller sharing one
    /// output budget across files lowers `max_target_size` as it goes).
    pub fn limits_mut(&mut self) -> &mut DeltaLimits {
        &mut self.limits
    }

    pub fn with_cache_budget(mut self, bytes: usize) -> Self {
        self.cache_budget = bytes;
        self
    }

    /// How many of the coming requests pass through each file (the file
    /// requested counts, and every link of its basis chain): outputs are
    /// kept only while a count is above the current request's.
    pub fn with_uses(mut self, uses: HashMap<Id, usize>) -> Self {
        self.uses = Some(uses);
        self
    }

    /// A request is over: `chain` (the file requested and its basis
    /// links, as counted in [`ChainRebuilder::with_uses`]) needs one use
    /// less, and outputs no later request needs are dropped.
    pub fn done_with(&mut self, chain: &[Id]) {
        let Some(uses) = self.uses.as_mut() else {
            return;
        };
        for id in chain {
            if let Some(n) = uses.get_mut(id) {
                *n = n.saturating_sub(1);
                if *n == 0 {
                    uses.remove(id);
                    if let Some(b) = self.cache.remove(id) {
                        self.cached_bytes -= b.owned_len();
                    }
                }
            }
        }
    }

    /// Bytes of rebuilt output the cache holds.
    pub fn cached_bytes(&self) -> usize {
        self.cached_bytes
    }

    fn remember(&mut self, id: &Id, bytes: &Rebuilt<'a>) {
        let wanted = match &self.uses {
            None => true,
            // Another request still passes through it.
            Some(u) => u.get(id).is_some_and(|&n| n > 1),
        };
        let cost = bytes.owned_len();
        if wanted
            && self.cached_bytes.saturating_add(cost) <= self.cache_budget
            && !self.cache.contains_key(id)
        {
            self.cached_bytes += cost;
            self.cache.insert(id.clone(), bytes.clone());
        }
    }

    /// Rebuild one file, following its basis links.
    pub fn rebuild(&mut self, target: &Id) -> Result<Rebuilt<'a>, ChainError> {
        if let Some(b) = self.cached(target) {
            return Ok(b.clone());
        }
        // Walk down to a file that needs no basis (or is cached).
        let mut links: Vec<(Id, Step<'a, Id>)> = Vec::new();
        let mut names: Vec<String> = Vec::new();
        let mut seen: HashSet<Id> = HashSet::new();
        let mut cur = target.clone();
        let mut bottom: Option<Rebuilt<'a>> = None;
        loop {
            names.push(cur.to_string());
            let err = |kind| ChainError {
                file: cur.to_string(),
                chain: names.clone(),
                kind,
            };
            if !seen.insert(cur.clone()) {
                return Err(err(ChainErrorKind::Cycle));
            }
            // This link failed before: it would again, the same way.
            if let Some(kind) = self.failure(&cur) {
                return Err(err(kind.clone()));
            }
            if links.len() >= self.limits.max_chain_depth {
                return Err(err(ChainErrorKind::TooDeep(self.limits.max_chain_depth)));
            }
            let step = (self.fetch)(&cur).map_err(|m| err(ChainErrorKind::Missing(m)))?;
            let next = match &step.recipe {
                Recipe::Stored(_) | Recipe::Delta { basis: None, .. } => None,
                Recipe::Delta { basis: Some(b), .. } | Recipe::Copy { basis: b } => Some(b.clone()),
            };
            links.push((cur.clone(), step));
            match next {
                None => break,
                Some(b) => {
                    if let Some(hit) = self.cached(&b) {
                        bottom = Some(hit.clone());
                        break;
                    }
                    cur = b;
                }
            }
        }
        // Apply from the bottom up. Each link's basis is dropped as soon as
        // the link is built (unless the cache keeps it).
        let mut below = bottom;
        while let Some((id, step)) = links.pop() {
            let err = |kind| ChainError {
                file: id.to_string(),
                chain: names.get(..=links.len()).unwrap_or(&names).to_vec(),
                kind,
            };
            let (bytes, checked) = match step.recipe {
                Recipe::Stored(Cow::Borrowed(b)) => (Rebuilt::Borrowed(b), false),
                Recipe::Stored(Cow::Owned(b)) => (Rebuilt::Shared(Arc::new(b)), false),
                Recipe::Copy { .. } => (below.take().unwrap_or(Rebuilt::Borrowed(&[])), false),
                Recipe::Delta { delta, basis: b } => {
                    let src = if b.is_some() { below.as_deref() } else { None };
                    // With the index's digest the target is proven by it
                    // alone: the delta header's hash is not computed too.
                    let applied = match step.expected.as_ref() {
                        Some(want) => apply_expecting(&delta, src, want, &self.limits),
                        None => apply_detailed(&delta, src, None, &self.limits),
                    }
                    .map_err(|e| {
                        let kind = ChainErrorKind::Delta(e);
                        if kind.lasting() {
                            self.failed.insert(id.clone(), kind.clone());
                        }
                        err(kind)
                    })?;
                    (Rebuilt::Shared(Arc::new(applied.target)), true)
                }
            };
            if let (false, Some(want)) = (checked, step.expected) {
                let got = want.of(&bytes);
                if got != want {
                    let kind = ChainErrorKind::HashMismatch {
                        algorithm: want.name(),
                        expected: hex::encode(want.bytes()),
                        actual: hex::encode(got.bytes()),
                    };
                    self.failed.insert(id.clone(), kind.clone());
                    return Err(err(kind));
                }
            }
            self.remember(&id, &bytes);
            below = Some(bytes);
        }
        below.ok_or_else(|| ChainError {
            file: target.to_string(),
            chain: names,
            kind: ChainErrorKind::Missing("nothing to rebuild".into()),
        })
    }
}

/// Rebuild one file of a container index through its basis chain, without a
/// cache. `fetch(id)` describes file `id`; a missing file, a cycle or a chain
/// deeper than `limits.max_chain_depth` is an error.
pub fn rebuild_chain<'a, Id, F>(
    target: &Id,
    limits: &DeltaLimits,
    fetch: F,
) -> Result<Vec<u8>, ChainError>
where
    Id: Clone + Eq + Hash + fmt::Display,
    F: FnMut(&Id) -> Result<Step<'a, Id>, String>,
{
    let mut r = ChainRebuilder::new(limits.clone(), fetch).with_cache_budget(0);
    Ok(r.rebuild(target)?.into_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex_20(h: &str) -> [u8; 20] {
        hex::decode(h).unwrap().try_into().unwrap()
    }

    fn stored(b: &[u8]) -> Step<'_, u32> {
        Step {
            recipe: Recipe::Stored(b.into()),
            expected: None,
        }
    }

    #[test]
    fn copies_cycles_and_missing_files() {
        let limits = DeltaLimits::default();
        let fetch = |id: &u32| match id {
            1 => Ok(stored(b"base")),
            2 => Ok(Step {
                recipe: Recipe::Copy { basis: 1 },
                expected: Some(Expected::Sha256(crate::msdelta::post::sha256(b"base"))),
            }),
            3 => Ok(Step {
                recipe: Recipe::Copy { basis: 4 },
                expected: None,
            }),
            4 => Ok(Step {
                recipe: Recipe::Copy { basis: 3 },
                expected: None,
            }),
            5 => Ok(Step {
                recipe: Recipe::Copy { basis: 9 },
                expected: None,
            }),
            6 => Ok(Step {
                recipe: Recipe::Copy { basis: 1 },
                expected: Some(Expected::Sha256([0; 32])),
            }),
            // Older indexes list SHA-1.
            7 => Ok(Step {
                recipe: Recipe::Copy { basis: 1 },
                // SHA-1 of "base".
                expected: Some(Expected::Sha1(hex_20(
                    "1405df66cbe219b0bf6355bc3d60361a8376b6b4",
                ))),
            }),
            8 => Ok(Step {
                recipe: Recipe::Copy { basis: 1 },
                expected: Some(Expected::Sha1([0; 20])),
            }),
            _ => Err(format!("no file {id}")),
        };
        assert_eq!(rebuild_chain(&2, &limits, fetch).unwrap(), b"base");
        assert_eq!(rebuild_chain(&7, &limits, fetch).unwrap(), b"base");
        let e = rebuild_chain(&8, &limits, fetch).unwrap_err();
        assert!(
            matches!(
                e.kind,
                ChainErrorKind::HashMismatch {
                    algorithm: "SHA-1",
                    ..
                }
            ),
            "{e}"
        );
        assert!(e.to_string().contains("SHA-1 "), "{e}");
        let e = rebuild_chain(&3, &limits, fetch).unwrap_err();
        assert_eq!(e.kind, ChainErrorKind::Cycle);
        let e = rebuild_chain(&5, &limits, fetch).unwrap_err();
        assert_eq!(e.file, "9");
        assert_eq!(e.chain, vec!["5", "9"]);
        assert!(matches!(e.kind, ChainErrorKind::Missing(_)));
        let e = rebuild_chain(&6, &limits, fetch).unwrap_err();
        assert!(matches!(e.kind, ChainErrorKind::HashMismatch { .. }));
        assert_eq!(e.file, "6");
    }

    /// Told how many requests pass through each file, the rebuilder keeps
    /// an output only while a later request needs it; stored bases are
    /// borrowed, never copied.
    #[test]
    fn outputs_are_kept_while_needed_and_bases_borrowed() {
        let base = vec![7u8; 1000];
        let fetch = |id: &u32| -> Result<Step<'_, u32>, String> {
            Ok(match id {
                0 => Step {
                    recipe: Recipe::Stored(base.as_slice().into()),
                    expected: None,
                },
                n => Step {
                    recipe: Recipe::Copy { basis: n - 1 },
                    expected: None,
                },
            })
        };
        // Requests 3 (chain 3,2,1,0) and 2 (chain 2,1,0).
        let chains = [vec![3, 2, 1, 0], vec![2, 1, 0]];
        let mut uses = HashMap::new();
        for c in &chains {
            for id in c {
                *uses.entry(*id).or_insert(0) += 1;
            }
        }
        let mut r = ChainRebuilder::new(DeltaLimits::default(), fetch).with_uses(uses);
        let out = r.rebuild(&3).unwrap();
        assert!(matches!(out, Rebuilt::Borrowed(b) if b.as_ptr() == base.as_ptr()));
        r.done_with(&chains[0]);
        // 2, 1, 0 are still needed; 3 is not.
        assert!(r.cache.contains_key(&2) && !r.cache.contains_key(&3));
        assert_eq!(&*r.rebuild(&2).unwrap(), base.as_slice());
        r.done_with(&chains[1]);
        assert!(r.cache.is_empty());
        assert_eq!(r.cached_bytes(), 0);
    }

    /// A link that failed for a lasting reason is not tried again: a
    /// second file built on it fails at once, with the same error, and the
    /// link is not even described again.
    #[test]
    fn a_failed_link_fails_the_files_built_on_it_without_a_second_try() {
        use std::cell::Cell;
        let asked = Cell::new(0);
        let fetch = |id: &u32| -> Result<Step<'_, u32>, String> {
            Ok(match id {
                1 => {
                    asked.set(asked.get() + 1);
                    Step {
                        recipe: Recipe::Delta {
                            delta: b"not a delta".as_slice().into(),
                            basis: None,
                        },
                        expected: None,
                    }
                }
                n => Step {
                    recipe: Recipe::Copy { basis: 1 },
                    expected: Some(Expected::Sha256([*n as u8; 32])),
                },
            })
        };
        let mut r = ChainRebuilder::new(DeltaLimits::default(), fetch);
        let first = r.rebuild(&2).unwrap_err();
        let second = r.rebuild(&3).unwrap_err();
        assert_eq!(asked.get(), 1);
        assert_eq!(first.file, "1");
        assert_eq!(
            (second.file.as_str(), second.chain.clone()),
            ("1", vec!["3".into(), "1".into()])
        );
        assert_eq!(first.kind, second.kind);
        assert!(matches!(&first.kind, ChainErrorKind::Delta(e) if e.kind == ErrorKind::Corrupt));
        // Other rebuilders are told, and do not try it either.
        let failures = std::sync::Arc::new(r.take_failures());
        let mut other =
            ChainRebuilder::new(DeltaLimits::default(), fetch).with_shared_failures(failures);
        assert_eq!(other.rebuild(&4).unwrap_err().kind, first.kind);
        assert_eq!(asked.get(), 1);
        // A limit is not lasting: another file may have more room.
        let limit = ChainErrorKind::Delta(DeltaError::limit(0, "over"));
        assert!(!limit.lasting());
    }

    #[test]
    fn depth_limit() {
        let limits = DeltaLimits {
            max_chain_depth: 8,
            ..DeltaLimits::default()
        };
        // An endless chain of fresh ids: must stop at the limit, not hang.
        let e = rebuild_chain(&0u32, &limits, |id: &u32| {
            Ok(Step {
                recipe: Recipe::Copy { basis: id + 1 },
                expected: None,
            })
        })
        .unwrap_err();
        assert_eq!(e.kind, ChainErrorKind::TooDeep(8));
    }
}
