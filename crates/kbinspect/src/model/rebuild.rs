//! Delta expansion: every delta-stored file rebuilt from its basis chain,
//! independent chains on all cores, and the outcome recorded per file.

use super::*;

/// What one rebuilt file gives: its expansion, version resource and PE
/// Authenticode hashes.
type Outcome = (Expansion, Option<Box<PeVersion>>, Option<Box<PeAuth>>);

/// The rebuilds of [`Package::expand_compute`], by (component, file).
pub(super) struct Expanded {
    outcomes: Vec<(usize, usize, Outcome)>,
    alternates: Vec<(usize, usize, Expansion)>,
}

impl Package {
    /// Record the outcome of rebuilding every delta-stored or copied file,
    /// and with [`LoadOptions::trust`] the package's signatures verified
    /// beside the rebuilds ([`Package::presigned`]; the catalogs' bytes are
    /// then let go, [`Package::release_catalogs`]): the rebuilds of a real
    /// package end on one long file while the other cores idle, and the
    /// signatures need nothing the rebuilds give.
    pub(super) fn expand_and_sign(&mut self, opts: &LoadOptions) {
        let listed = self.catalog_hashes(opts);
        let trust = opts.trust.as_deref().filter(|_| opts.keep_trust);
        let pending = self.pending_input.take();
        let (outcomes, (input, signed)) = {
            let me = &*self;
            me.context.join(
                || me.expand_compute(opts, &listed),
                || {
                    // The input's digests first: its signature needs them.
                    let input = pending.map(|p| Box::new(p.finish()));
                    // The catalogs are let go after the rebuilds; what the
                    // checks need of them is found here, beside them.
                    let signed =
                        trust.map(|t| (t.presign(me, input.as_deref()), me.catalog_hits_found()));
                    (input, signed)
                },
            )
        };
        if input.is_some() {
            self.input_digests = input;
        }
        self.expand_apply(outcomes);
        if let Some((signed, hits)) = signed {
            self.presigned = Some(signed);
            self.release_catalogs(hits);
        }
    }

    /// Rebuild every delta-stored or copied file (see [`Package::expand_and_sign`])
    /// without changing the package, so that other checks can read it
    /// meanwhile. `listed`: the hashes the catalogs list.
    pub(super) fn expand_compute(&self, opts: &LoadOptions, listed: &Listed) -> Expanded {
        // A stage of its own: the files to rebuild, counted up front.
        let to_rebuild = self.rebuild_requests(&main_source, &|_, _| true).len() as u64;
        let stage = (to_rebuild > 0)
            .then(|| {
                container::Stage::begin(
                    opts.progress.as_ref(),
                    "rebuilding deltas",
                    container::Unit::Files,
                    to_rebuild,
                )
            })
            .flatten()
            .map(std::sync::Mutex::new);
        let outcomes = self.rebuild_map(opts, &main_source, &|_, _, result, known| {
            // Rebuilds finish on several cores: one at a time here, so the
            // position only grows.
            if let Some(s) = &stage {
                s.lock().unwrap_or_else(|e| e.into_inner()).advance(1);
            }
            match result {
                Ok(bytes) => {
                    let pe = pe::version_info(bytes).map(Box::new);
                    // The chain checked the bytes against the index's
                    // digest: not computed again.
                    let (sha256, known_sha1) = known_digests(known, bytes);
                    // The trust check looks PE files that no catalog lists
                    // by their flat hashes up by their Authenticode hashes:
                    // computed now, while the bytes are here, the file is
                    // not rebuilt a second time for them. The first one
                    // the lookup uses (SHA-256, or SHA-1 when the catalogs
                    // list only SHA-1) is taken with the flat SHA-1
                    // (interleaved, see `digest::interleave`) when the
                    // SHA-256 is not listed, and dropped if the SHA-1 is.
                    let maybe_auth =
                        opts.keep_trust && pe.is_some() && !listed.contains(sha256.as_slice());
                    let with_flat = if listed.sha256 {
                        Some(crate::digest::Alg::Sha256)
                    } else {
                        // The flat SHA-1 already known: the PE one alone.
                        (listed.sha1 && known_sha1.is_none()).then_some(crate::digest::Alg::Sha1)
                    };
                    let (sha1, pe_auth) = match with_flat.filter(|_| maybe_auth) {
                        Some(alg) => {
                            let (sha1, pe) = crate::digest::sha1_and_pe(bytes, alg);
                            (sha1, Some((alg, pe)))
                        }
                        None => {
                            let sha1: [u8; 20] =
                                known_sha1.unwrap_or_else(|| sha1::Sha1::digest(bytes).into());
                            (sha1, None)
                        }
                    };
                    let auth = (maybe_auth && !listed.contains(sha1.as_slice()))
                        .then(|| Box::new(PeAuth::for_listed_with(bytes, listed, pe_auth)));
                    (
                        Expansion::Rebuilt {
                            sha256: hex::encode(sha256),
                            sha1: hex::encode(sha1),
                        },
                        pe,
                        auth,
                    ) as Outcome
                }
                Err(e) => (expansion_error(e), None, None),
            }
        });
        drop(stage);
        // Stored files the index also produces: rebuild the index's copy
        // too, so that a stored file cannot shadow a different delta.
        let alternates = self.rebuild_map(
            opts,
            &|f| {
                let s = f.second_source.as_ref()?;
                Some((s.index? as usize, delta_id(&s.location)?))
            },
            &|_, _, result, known| match result {
                Ok(bytes) => {
                    let (sha256, sha1) = known_digests(known, bytes);
                    Expansion::Rebuilt {
                        sha256: hex::encode(sha256),
                        sha1: hex::encode(sha1.unwrap_or_else(|| sha1::Sha1::digest(bytes).into())),
                    }
                }
                Err(e) => expansion_error(e),
            },
        );
        Expanded {
            outcomes,
            alternates,
        }
    }

    /// Record what [`Package::expand_compute`] found.
    pub(super) fn expand_apply(&mut self, expanded: Expanded) {
        let Expanded {
            outcomes,
            alternates,
        } = expanded;
        for (ci, fi, (outcome, pe, auth)) in outcomes {
            if let Some(f) = self
                .components
                .get_mut(ci)
                .and_then(|c| c.files.get_mut(fi))
            {
                if let Expansion::Rebuilt { sha256, .. } = &outcome {
                    f.content_sha256 = hex::decode(sha256)
                        .ok()
                        .and_then(|v| <[u8; 32]>::try_from(v).ok());
                }
                f.expansion = Some(outcome);
                if pe.is_some() {
                    f.pe = pe;
                }
                f.pe_auth = auth;
            }
        }
        for (ci, fi, outcome) in alternates {
            if let Some(f) = self
                .components
                .get_mut(ci)
                .and_then(|c| c.files.get_mut(fi))
                && let Some(second) = f.second_source.as_mut()
            {
                second.expansion = Some(outcome);
            }
        }
    }

    /// Rebuild every delta-stored or copied file through its basis chain,
    /// one rebuilder per index so shared bases are decoded once, and hand
    /// each result to `sink` as (component index, file index, bytes or
    /// error), in component and file order. The bytes are not kept: callers
    /// that need them (extraction) use them inside `sink`. Needs the delta
    /// blobs kept in memory.
    /// `opts.progress` is told of a "rebuilding deltas" stage, in files.
    pub fn rebuild_each(&self, opts: &LoadOptions, sink: &mut RebuildSink<'_>) {
        let total = self.rebuild_requests(&main_source, &|_, _| true).len() as u64;
        let mut stage = (total > 0)
            .then(|| {
                container::Stage::begin(
                    opts.progress.as_ref(),
                    "rebuilding deltas",
                    container::Unit::Files,
                    total,
                )
            })
            .flatten();
        self.rebuild_picked(opts, &main_source, &|_, _| true, &mut |ci, fi, res| {
            sink(ci, fi, res);
            if let Some(s) = stage.as_mut() {
                s.advance(1);
            }
        });
    }

    /// [`Package::rebuild_each`] for the files `want(component, file)`
    /// selects only (with their basis chains); the trust check rebuilds the
    /// few PE files it must hash this way.
    pub fn rebuild_where(
        &self,
        opts: &LoadOptions,
        want: &dyn Fn(usize, usize) -> bool,
        sink: &mut RebuildSink<'_>,
    ) {
        self.rebuild_picked(opts, &main_source, want, sink);
    }

    /// The index entries `pick` names (index position, entry id) for the
    /// files `want` selects, in index, component and file order.
    pub(super) fn rebuild_requests(
        &self,
        pick: &dyn Fn(&File) -> Option<(usize, u64)>,
        want: &dyn Fn(usize, usize) -> bool,
    ) -> Vec<Request> {
        let mut out = Vec::new();
        for (ci, c) in self.components.iter().enumerate() {
            for (fi, f) in c.files.iter().enumerate() {
                if let Some((ix, id)) = pick(f)
                    && want(ci, fi)
                {
                    out.push(Request { ix, ci, fi, id });
                }
            }
        }
        // Stable: component and file order within each index.
        out.sort_by_key(|r| r.ix);
        out
    }

    /// How index file `id` is obtained, its bytes borrowed from the kept
    /// members (never copied, however many chains use them).
    pub(super) fn rebuild_step<'s>(
        &'s self,
        ix: &'s Index,
        id: u64,
    ) -> Result<Step<'s, u64>, String> {
        let dir = parent_of(&ix.member);
        let e = ix
            .entry(id)
            .ok_or_else(|| format!("index file {id} does not exist"))?;
        let expected = index_expected(e);
        let d = e
            .delta
            .as_ref()
            .ok_or_else(|| format!("index file {id} has no <Delta>"))?;
        let recipe = match (&d.source, d.basis) {
            (None, Some(basis)) => Recipe::Copy { basis },
            (None, None) => return Err(format!("index file {id} has no source")),
            (Some(src), basis) => {
                let SourceLocation::Name(name) = &src.location else {
                    return Err(format!("index file {id}: .psf payloads are not read"));
                };
                let bytes = self
                    .member(&join_key(dir, name))
                    .ok_or_else(|| format!("source {name:?} is not stored"))?
                    .bytes
                    .as_deref()
                    .ok_or_else(|| format!("source {name:?} was not kept in memory"))?;
                if src.type_ == SourceType::Raw {
                    Recipe::Stored(bytes.into())
                } else {
                    Recipe::Delta {
                        delta: bytes.into(),
                        basis,
                    }
                }
            }
        };
        Ok(Step { recipe, expected })
    }

    /// The links a rebuild of `id` goes through (the file first), as far
    /// as they can be described, without decoding anything; and an upper
    /// bound of the bytes decoding them produces (TargetSize of each delta,
    /// the size of each stored or copied file).
    pub(super) fn static_chain(&self, ix: &Index, id: u64, max_depth: usize) -> (Vec<u64>, u64) {
        let mut chain = Vec::new();
        let mut sizes: Vec<Option<u64>> = Vec::new();
        let mut cur = id;
        while chain.len() <= max_depth && !chain.contains(&cur) {
            let Ok(step) = self.rebuild_step(ix, cur) else {
                break;
            };
            chain.push(cur);
            let (size, next) = match &step.recipe {
                Recipe::Stored(b) => (Some(b.len() as u64), None),
                // A header that does not parse fails the delta before any
                // limit is checked: nothing is decoded.
                Recipe::Delta { delta, basis } => (
                    Some(msdelta::parse_header(delta).map_or(0, |h| h.target_size)),
                    *basis,
                ),
                Recipe::Copy { basis } => (None, Some(*basis)),
            };
            sizes.push(size);
            match next {
                Some(b) => cur = b,
                None => break,
            }
        }
        // A copy is as large as its basis.
        let mut total = 0u64;
        let mut below = 0u64;
        for s in sizes.iter().rev() {
            below = s.unwrap_or(below);
            total = total.saturating_add(below);
        }
        (chain, total)
    }

    /// Rebuild the index entries `pick` names for the files `want` selects,
    /// handing each result to `sink` in order: one rebuilder per index, so
    /// a base shared by several files is decoded once, kept only while a
    /// file still to come builds on it.
    pub(super) fn rebuild_picked(
        &self,
        opts: &LoadOptions,
        pick: &dyn Fn(&File) -> Option<(usize, u64)>,
        want: &dyn Fn(usize, usize) -> bool,
        sink: &mut RebuildSink<'_>,
    ) {
        let requests = self.rebuild_requests(pick, want);
        // Shared by every index: the budget is for the whole load.
        let mut produced: u64 = 0;
        let depth = opts.delta.max_chain_depth;
        for mine in requests.chunk_by(|a, b| a.ix == b.ix) {
            let Some(index) = mine.first().and_then(|r| self.indexes.get(r.ix)) else {
                continue;
            };
            let chains: Vec<Vec<u64>> = mine
                .iter()
                .map(|r| self.static_chain(index, r.id, depth).0)
                .collect();
            let mut rebuilder =
                ChainRebuilder::new(opts.delta.clone(), |id: &u64| self.rebuild_step(index, *id))
                    .with_uses(uses_of(&chains))
                    .with_cache_budget(REBUILD_CACHE);
            for (r, chain) in mine.iter().zip(&chains) {
                let left = opts.rebuild_budget.saturating_sub(produced);
                rebuilder.limits_mut().max_target_size = opts.delta.max_target_size.min(left);
                match rebuilder.rebuild(&r.id) {
                    Ok(bytes) => {
                        produced = produced.saturating_add(bytes.len() as u64);
                        sink(r.ci, r.fi, Ok(&bytes))
                    }
                    Err(e) => sink(r.ci, r.fi, Err(&e)),
                }
                rebuilder.done_with(chain);
            }
        }
    }

    /// [`Package::rebuild_picked`] with the result of each file mapped by
    /// `f` (which also gets the index's SHA-256 of the file: the rebuilt
    /// bytes have it whenever the rebuild succeeds), on every core: files
    /// whose basis chains share no link are rebuilt in parallel. Results
    /// come back in the order [`Package::rebuild_picked`] hands them over,
    /// and are the same: when every byte the rebuilds can produce fits the
    /// rebuild budget (so no file's limit depends on what was rebuilt
    /// before it); otherwise the files are rebuilt one after the other.
    pub(super) fn rebuild_map<T: Send>(
        &self,
        opts: &LoadOptions,
        pick: &dyn Fn(&File) -> Option<(usize, u64)>,
        f: &RebuildMap<'_, T>,
    ) -> Vec<(usize, usize, T)> {
        use rayon::prelude::*;
        let expected = |r: &Request| {
            self.indexes
                .get(r.ix)
                .and_then(|ix| ix.entry(r.id))
                .and_then(index_expected)
        };
        let requests = self.rebuild_requests(pick, &|_, _| true);
        let depth = opts.delta.max_chain_depth;
        let planned: Vec<(Vec<u64>, u64)> = requests
            .iter()
            .map(|r| match self.indexes.get(r.ix) {
                Some(ix) => self.static_chain(ix, r.id, depth),
                None => (Vec::new(), 0),
            })
            .collect();
        let bound = planned.iter().fold(0u64, |a, (_, n)| a.saturating_add(*n));
        // Parallel rebuilds give the same results as sequential ones when no
        // file's limits depend on what was rebuilt before it: everything
        // fits the budget, and no chain is long enough that a cached base
        // would decide whether it is too deep.
        let too_deep = planned.iter().any(|(c, _)| c.len() >= depth);
        if bound > opts.rebuild_budget || too_deep || !opts.context.parallel() {
            let mut mapped = Vec::with_capacity(requests.len());
            let mut at = 0;
            self.rebuild_picked(opts, pick, &|_, _| true, &mut |ci, fi, res| {
                let e = requests.get(at).and_then(expected);
                at += 1;
                mapped.push((ci, fi, f(ci, fi, res, e)));
            });
            return mapped;
        }
        // On the context's pool: its thread budget, not rayon's global one.
        opts.context.install(|| {
            let mut limits = opts.delta.clone();
            limits.max_target_size = limits.max_target_size.min(opts.rebuild_budget);
            let mut results: Vec<(usize, (usize, usize, T))> = Vec::with_capacity(requests.len());
            let mut start = 0;
            for run in requests.chunk_by(|a, b| a.ix == b.ix) {
                let mut mine: Vec<usize> = (start..start + run.len()).collect();
                start += run.len();
                let Some(index) = run.first().and_then(|r| self.indexes.get(r.ix)) else {
                    continue;
                };
                let step = |id: &u64| self.rebuild_step(index, *id);
                // Links several files build on (and files asked for twice):
                // rebuilt first, bottom up, a level at a time in parallel.
                // Every link below a shared link is shared too, so a level's
                // bases are all in the map when it is built.
                let chains: Vec<Vec<u64>> = mine.iter().map(|&p| planned[p].0.clone()).collect();
                let uses = uses_of(&chains);
                let mut levels: std::collections::BTreeMap<usize, Vec<u64>> = Default::default();
                for chain in &chains {
                    for (k, id) in chain.iter().enumerate() {
                        if uses.get(id).is_some_and(|&n| n > 1) {
                            let level = chain.len() - k;
                            let l = levels.entry(level).or_default();
                            if !l.contains(id) {
                                l.push(*id);
                            }
                        }
                    }
                }
                let mut shared: HashMap<u64, Rebuilt<'_>> = HashMap::new();
                let mut shared_bytes = 0usize;
                // Shared links that failed for good: the files built on
                // them fail at once instead of trying each again.
                let mut failed: HashMap<u64, msdelta::ChainErrorKind> = HashMap::new();
                for ids in levels.values() {
                    let seed = std::sync::Arc::new(std::mem::take(&mut shared));
                    let seed_failed = std::sync::Arc::new(std::mem::take(&mut failed));
                    #[allow(clippy::type_complexity)]
                    let tried: Vec<(
                        Option<(u64, Rebuilt<'_>)>,
                        HashMap<u64, msdelta::ChainErrorKind>,
                    )> = ids
                        .par_iter()
                        .map(|id| {
                            let mut r = ChainRebuilder::new(limits.clone(), step)
                                .with_cache_budget(0)
                                .with_shared(std::sync::Arc::clone(&seed))
                                .with_shared_failures(std::sync::Arc::clone(&seed_failed));
                            let built = r.rebuild(id).ok().map(|b| (*id, b));
                            (built, r.take_failures())
                        })
                        .collect();
                    shared = std::sync::Arc::try_unwrap(seed).unwrap_or_else(|a| (*a).clone());
                    failed =
                        std::sync::Arc::try_unwrap(seed_failed).unwrap_or_else(|a| (*a).clone());
                    let mut built = Vec::with_capacity(tried.len());
                    for (b, f) in tried {
                        built.extend(b);
                        failed.extend(f);
                    }
                    for (id, b) in built {
                        let cost = match &b {
                            Rebuilt::Shared(v) => v.len(),
                            Rebuilt::Borrowed(_) => 0,
                        };
                        if shared_bytes.saturating_add(cost) <= REBUILD_CACHE {
                            shared_bytes += cost;
                            shared.insert(id, b);
                        }
                    }
                }
                // Then every file on its own, in parallel: what is left of its
                // chain is its alone. Largest first: the pool splits the
                // list in halves, so the file that takes longest starts at
                // once instead of ending the run alone (results are put
                // back in request order below).
                mine.sort_by_key(|&p| std::cmp::Reverse(planned[p].1));
                let shared = std::sync::Arc::new(shared);
                let failed = std::sync::Arc::new(failed);
                let out: Vec<(usize, (usize, usize, T))> = mine
                    .par_iter()
                    // One file per task, so that an idle thread takes the
                    // next file while another works through a large one.
                    .with_max_len(1)
                    .map(|&p| {
                        let r = &requests[p];
                        let mut rebuilder = ChainRebuilder::new(limits.clone(), step)
                            .with_cache_budget(0)
                            .with_shared(std::sync::Arc::clone(&shared))
                            .with_shared_failures(std::sync::Arc::clone(&failed));
                        let mapped = match rebuilder.rebuild(&r.id) {
                            Ok(bytes) => f(r.ci, r.fi, Ok(&bytes), expected(r)),
                            Err(e) => f(r.ci, r.fi, Err(&e), expected(r)),
                        };
                        (p, (r.ci, r.fi, mapped))
                    })
                    .collect();
                results.extend(out);
            }
            results.sort_unstable_by_key(|(p, _)| *p);
            results.into_iter().map(|(_, r)| r).collect()
        })
    }
}

/// One file to rebuild: index entry `id` of index `ix`, for file `fi` of
/// component `ci`.
#[derive(Debug, Clone, Copy)]
pub(super) struct Request {
    ix: usize,
    ci: usize,
    fi: usize,
    id: u64,
}

/// Rebuilt bytes a load keeps as bases for files still to come (borrowed
/// stored files cost nothing); beyond it a base is rebuilt again when
/// needed. Real bases are a few MB; what fits the 64 MB memory goal.
pub(super) const REBUILD_CACHE: usize = 32 << 20;

/// How many of `chains` pass through each link.
pub(super) fn uses_of(chains: &[Vec<u64>]) -> HashMap<u64, usize> {
    let mut uses = HashMap::new();
    for c in chains {
        for id in c {
            *uses.entry(*id).or_insert(0) += 1;
        }
    }
    uses
}

/// The digest an index entry lists for its file (SHA-256, or SHA-1 in
/// Vista and Windows 7 indexes), when it is one we can check.
pub(super) fn index_expected(e: &cix::CixFile) -> Option<msdelta::Expected> {
    let h = e.hash.as_ref()?;
    let bytes = h.hex.bytes()?;
    if h.is_sha256() {
        <[u8; 32]>::try_from(bytes)
            .ok()
            .map(msdelta::Expected::Sha256)
    } else if h.is_sha1() {
        <[u8; 20]>::try_from(bytes)
            .ok()
            .map(msdelta::Expected::Sha1)
    } else {
        None
    }
}

/// A rebuilt file's SHA-256 (`known` by the index, or computed now) and
/// its SHA-1 when the index listed that (else the caller computes it only
/// if it needs it).
fn known_digests(known: Option<msdelta::Expected>, bytes: &[u8]) -> ([u8; 32], Option<[u8; 20]>) {
    match known {
        Some(msdelta::Expected::Sha256(h)) => (h, None),
        Some(msdelta::Expected::Sha1(h)) => (sha2::Sha256::digest(bytes).into(), Some(h)),
        None => (sha2::Sha256::digest(bytes).into(), None),
    }
}

/// The index and entry a file's own location rebuilds.
pub(super) fn main_source(f: &File) -> Option<(usize, u64)> {
    Some((f.index? as usize, delta_id(&f.location)?))
}

/// The index entry a delta-stored or copied location rebuilds.
pub(super) fn delta_id(l: &Location) -> Option<u64> {
    match l {
        Location::Delta { index_id, .. } | Location::Copy { index_id, .. } => Some(*index_id),
        _ => None,
    }
}

/// Maps (component index, file index, rebuilt bytes or the error, the
/// index's digest of the file, which the bytes have whenever the rebuild
/// succeeded) to what a caller keeps of a rebuild; called from several
/// threads.
pub(super) type RebuildMap<'a, T> = dyn Fn(usize, usize, Result<&[u8], &msdelta::ChainError>, Option<msdelta::Expected>) -> T
    + Sync
    + 'a;

/// Receives (component index, file index, rebuilt bytes or the error).
pub type RebuildSink<'a> = dyn FnMut(usize, usize, Result<&[u8], &msdelta::ChainError>) + 'a;

/// A failed rebuild: not ours (missing input, unsupported transform, a
/// limit) or a fault of the package (corrupt delta, hash mismatch).
pub fn expansion_error(e: &msdelta::ChainError) -> Expansion {
    let not_ours = match &e.kind {
        ChainErrorKind::Missing(_) | ChainErrorKind::TooDeep(_) => true,
        ChainErrorKind::Delta(d) => matches!(
            d.kind,
            msdelta::ErrorKind::Unsupported | msdelta::ErrorKind::Limit
        ),
        _ => false,
    };
    let contradicts = match &e.kind {
        ChainErrorKind::HashMismatch { .. } => true,
        ChainErrorKind::Delta(d) => d.kind == msdelta::ErrorKind::WrongTarget,
        _ => false,
    };
    let reason = e.to_string();
    if not_ours {
        Expansion::NotExpanded { reason }
    } else if contradicts {
        Expansion::Mismatch { reason }
    } else {
        Expansion::Failed { reason }
    }
}
