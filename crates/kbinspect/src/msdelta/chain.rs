//! Basis chains of a container index: file N is a delta applied to the
//! *rebuilt* file M, which may itself be a delta of file K, and so on.
//!
//! The caller describes each file through a closure (so the CIX reader and
//! the container walk stay where they are); the chain is followed
//! iteratively with a depth limit and cycle detection, then applied from the
//! bottom up, each step checked against its expected SHA-256.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::hash::Hash;
use std::sync::Arc;

use super::{DeltaError, DeltaLimits, ErrorKind, apply_detailed, post};

/// How one file is obtained.
#[derive(Debug, Clone)]
pub enum Recipe<Id> {
    /// Stored as is (CIX `Source type="RAW"`): these are its bytes.
    Stored(Vec<u8>),
    /// A delta (its bytes), applied to the rebuilt `basis` or to nothing.
    Delta { delta: Vec<u8>, basis: Option<Id> },
    /// A byte copy of another file (a CIX `Delta` holding only a `Basis`).
    Copy { basis: Id },
}

/// One file's recipe plus the SHA-256 its rebuilt bytes must have.
#[derive(Debug, Clone)]
pub struct Step<Id> {
    pub recipe: Recipe<Id>,
    pub expected_sha256: Option<[u8; 32]>,
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
    /// A stored or copied file does not have its expected SHA-256.
    HashMismatch { expected: String, actual: String },
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
            ChainErrorKind::HashMismatch { expected, actual } => {
                write!(f, ": SHA-256 {actual}, expected {expected}")
            }
        }
    }
}

impl std::error::Error for ChainError {}

/// Rebuilds files of one package, caching outputs so shared bases are
/// rebuilt once (within `cache_budget` bytes).
pub struct ChainRebuilder<Id, F> {
    fetch: F,
    limits: DeltaLimits,
    cache: HashMap<Id, Arc<Vec<u8>>>,
    cache_budget: usize,
    cached_bytes: usize,
}

impl<Id, F> ChainRebuilder<Id, F>
where
    Id: Clone + Eq + Hash + fmt::Display,
    F: FnMut(&Id) -> Result<Step<Id>, String>,
{
    /// `fetch` describes one file by id. The default cache budget is 256 MiB.
    pub fn new(limits: DeltaLimits, fetch: F) -> Self {
        ChainRebuilder {
            fetch,
            limits,
            cache: HashMap::new(),
            cache_budget: 256 << 20,
            cached_bytes: 0,
        }
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

    fn remember(&mut self, id: &Id, bytes: &Arc<Vec<u8>>) {
        if self.cached_bytes.saturating_add(bytes.len()) <= self.cache_budget
            && !self.cache.contains_key(id)
        {
            self.cached_bytes += bytes.len();
            self.cache.insert(id.clone(), Arc::clone(bytes));
        }
    }

    /// Rebuild one file, following its basis links.
    pub fn rebuild(&mut self, target: &Id) -> Result<Arc<Vec<u8>>, ChainError> {
        if let Some(b) = self.cache.get(target) {
            return Ok(Arc::clone(b));
        }
        // Walk down to a file that needs no basis (or is cached).
        let mut links: Vec<(Id, Step<Id>)> = Vec::new();
        let mut names: Vec<String> = Vec::new();
        let mut seen: HashSet<Id> = HashSet::new();
        let mut cur = target.clone();
        let mut bottom: Option<Arc<Vec<u8>>> = None;
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
                    if let Some(hit) = self.cache.get(&b) {
                        bottom = Some(Arc::clone(hit));
                        break;
                    }
                    cur = b;
                }
            }
        }
        // Apply from the bottom up.
        let mut below = bottom;
        while let Some((id, step)) = links.pop() {
            let err = |kind| ChainError {
                file: id.to_string(),
                chain: names.get(..=links.len()).unwrap_or(&names).to_vec(),
                kind,
            };
            let basis = below.as_deref().map(|v| v.as_slice());
            let (bytes, checked) = match step.recipe {
                Recipe::Stored(b) => (b, false),
                Recipe::Copy { .. } => (basis.unwrap_or(&[]).to_vec(), false),
                Recipe::Delta { delta, basis: b } => {
                    let src = if b.is_some() { basis } else { None };
                    let applied =
                        apply_detailed(&delta, src, step.expected_sha256.as_ref(), &self.limits)
                            .map_err(|e| err(ChainErrorKind::Delta(e)))?;
                    (applied.target, true)
                }
            };
            if let (false, Some(want)) = (checked, step.expected_sha256) {
                let got = post::sha256(&bytes);
                if got != want {
                    return Err(err(ChainErrorKind::HashMismatch {
                        expected: hex::encode(want),
                        actual: hex::encode(got),
                    }));
                }
            }
            let bytes = Arc::new(bytes);
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
pub fn rebuild_chain<Id, F>(
    target: &Id,
    limits: &DeltaLimits,
    fetch: F,
) -> Result<Vec<u8>, ChainError>
where
    Id: Clone + Eq + Hash + fmt::Display,
    F: FnMut(&Id) -> Result<Step<Id>, String>,
{
    let mut r = ChainRebuilder::new(limits.clone(), fetch).with_cache_budget(0);
    let out = r.rebuild(target)?;
    Ok(Arc::try_unwrap(out).unwrap_or_else(|a| (*a).clone()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stored(b: &[u8]) -> Step<u32> {
        Step {
            recipe: Recipe::Stored(b.to_vec()),
            expected_sha256: None,
        }
    }

    #[test]
    fn copies_cycles_and_missing_files() {
        let limits = DeltaLimits::default();
        let fetch = |id: &u32| match id {
            1 => Ok(stored(b"base")),
            2 => Ok(Step {
                recipe: Recipe::Copy { basis: 1 },
                expected_sha256: Some(post::sha256(b"base")),
            }),
            3 => Ok(Step {
                recipe: Recipe::Copy { basis: 4 },
                expected_sha256: None,
            }),
            4 => Ok(Step {
                recipe: Recipe::Copy { basis: 3 },
                expected_sha256: None,
            }),
            5 => Ok(Step {
                recipe: Recipe::Copy { basis: 9 },
                expected_sha256: None,
            }),
            6 => Ok(Step {
                recipe: Recipe::Copy { basis: 1 },
                expected_sha256: Some([0; 32]),
            }),
            _ => Err(format!("no file {id}")),
        };
        assert_eq!(rebuild_chain(&2, &limits, fetch).unwrap(), b"base");
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
                expected_sha256: None,
            })
        })
        .unwrap_err();
        assert_eq!(e.kind, ChainErrorKind::TooDeep(8));
    }
}
