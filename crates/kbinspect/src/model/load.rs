//! The load pipeline: one streaming walk of the input that hashes every
//! member and keeps only the bytes later stages need.

use super::*;

pub(super) const HEAD_LEN: usize = 64 * 1024;

pub(super) fn delta_signature(head: &[u8]) -> Option<String> {
    for off in [0usize, 4] {
        if let Some(sig) = head.get(off..off + 4)
            && matches!(sig, b"PA30" | b"PA31" | b"PA19")
        {
            return Some(String::from_utf8_lossy(sig).into_owned());
        }
    }
    None
}

pub(super) fn kind_of(meta: &MemberMeta, head: &[u8]) -> MemberKind {
    if meta.is_container {
        return MemberKind::Container;
    }
    match servicing::classify(&meta.path, head) {
        Some(DocKind::Mum) => MemberKind::Mum,
        Some(DocKind::Manifest) => MemberKind::Manifest,
        Some(DocKind::CompressedManifest) => MemberKind::CompressedManifest,
        Some(DocKind::ContainerIndex) => MemberKind::ContainerIndex,
        None => {
            if meta.path.to_ascii_lowercase().ends_with(".cat") {
                MemberKind::Catalog
            } else if delta_signature(head).is_some() {
                MemberKind::Delta
            } else if head.starts_with(b"MZ") {
                MemberKind::Pe
            } else {
                MemberKind::Other
            }
        }
    }
}

/// Members a chunk of the walk's list holds (144 bytes each: ~72 KiB).
const MEMBER_CHUNK: usize = 512;

impl Package {
    /// Load a package with default caps.
    pub fn load(input: &Path, limits: &Limits) -> Result<Package, Error> {
        Self::load_with(input, limits, &LoadOptions::default())
    }

    /// Load a package: one streaming pass, then parsing. Errors only when
    /// the input cannot be walked at all.
    pub fn load_with(input: &Path, limits: &Limits, opts: &LoadOptions) -> Result<Package, Error> {
        // In fixed-size chunks while the walk runs: a vector grown by
        // doubling held up to twice the records (and both copies while it
        // moved) at the walk's peak; one exact vector is built after it.
        let mut chunks: Vec<Vec<Member>> = Vec::new();
        let mut findings: Vec<Finding> = Vec::new();
        let mut kept_total = Kept::default();
        let mut plan = KeepPlan::default();
        // The trust check needs the input's own Authenticode digests (and
        // its SHA-1 for a `name_<sha1>` download name): computed from the
        // bytes this walk reads, in the algorithms its signature uses (read
        // ahead), which nested cabinets are then digested in too.
        let digester = opts.keep_trust.then(|| input_digester(input)).flatten();
        let cab_algs = digester
            .as_ref()
            .map_or(crate::digest::CabAlgs::ALL, |(_, algs)| *algs);
        // A small input's bytes are kept for its digests to be taken beside
        // the rebuilds ([`DEFER_DIGESTS`]); they count against that budget.
        let input_len = std::fs::metadata(input)
            .ok()
            .filter(|m| m.is_file())
            .map(|m| m.len());
        let keep_input = digester.is_some()
            && opts.defers_digests()
            && input_len.is_some_and(|n| n <= DEFER_DIGESTS);
        if keep_input {
            kept_total.deferred = input_len.unwrap_or(DEFER_DIGESTS);
        }
        // Catalogs past the first CATALOGS_KEPT bytes are verified as they
        // are read, their CTLs kept, their bytes let go.
        let mut ctls: HashMap<String, crate::trust::ReadCtl> = HashMap::new();
        let mut catalogs_kept = 0u64;
        let presign = opts
            .trust
            .as_deref()
            .filter(|_| opts.keep_trust && opts.expand_deltas);
        let mut visit = |meta: &MemberMeta, reader: &mut dyn BufRead| {
            let mut m = read_member(
                meta,
                reader,
                opts,
                cab_algs,
                &plan,
                &mut kept_total,
                &mut findings,
            );
            parse_early(&mut m, opts);
            // A catalog an index names as a delta source (Windows 8.x) is
            // kept for the rebuilds.
            if let Some(trust) = presign
                .filter(|_| m.kind == MemberKind::Catalog && plan.named(&m.path) != Some(true))
            {
                let budget = (opts.catalogs_kept, &mut catalogs_kept);
                sign_catalog_early(&mut m, trust, budget, &mut ctls, &mut kept_total);
            }
            plan.learn(&m);
            match chunks.last_mut() {
                Some(c) if c.len() < MEMBER_CHUNK => c.push(m),
                _ => {
                    let mut c = Vec::with_capacity(MEMBER_CHUNK);
                    c.push(m);
                    chunks.push(c);
                }
            }
            Ok(())
        };
        let mut input_digests = None;
        let walk_opts = container::WalkOptions {
            verify_unread: opts.digest_all,
            context: opts.context.clone(),
            progress: opts.progress.clone(),
        };
        let report = match digester {
            Some((d, _)) => {
                let threads = opts.context.threads() > 1;
                let (hasher, sink) = TapHasher::start(d, keep_input, threads);
                let report = container::walk_tapped(input, limits, &walk_opts, &mut visit, sink);
                input_digests = hasher.finish();
                report?
            }
            None => container::walk_with(input, limits, &walk_opts, &mut visit)?,
        };
        // The walk is over: its pooled buffers would sit idle while the
        // model is parsed and checked (and the members' vector can take
        // their place).
        opts.context.release_buffers();
        let mut members: Vec<Member> =
            Vec::with_capacity(chunks.iter().map(Vec::len).sum::<usize>());
        for c in chunks {
            members.extend(c);
        }
        let mut pkg = Package {
            input: input.display().to_string(),
            containers: report.containers,
            members,
            packages: vec![],
            components: vec![],
            compressed_manifests: vec![],
            indexes: vec![],
            deltas: vec![],
            findings: report.findings,
            lookup: Lookup::default(),
            input_digests: None,
            pending_input: None,
            ctls,
            presigned: None,
            catalogs_released: false,
            catalog_hits: None,
            limits: limits.clone(),
            context: opts.context.clone(),
        };
        match input_digests {
            Some(TapDigests::Done(d)) => pkg.input_digests = Some(Box::new(d)),
            Some(later) => pkg.pending_input = Some(Box::new(later)),
            None => {}
        }
        pkg.findings.append(&mut findings);
        pkg.parse_metadata(opts);
        if opts.expand_deltas {
            // Bytes on disk: the file, or a folder's files.
            let input_len = match std::fs::metadata(input) {
                Ok(md) if md.is_file() => md.len(),
                _ => pkg.members.iter().map(|m| m.size).sum(),
            };
            let mut budgeted = opts.clone().budget_for(limits, input_len);
            budgeted.rebuild_budget = budgeted.rebuild_budget.min(opts.rebuild_budget);
            let opts = &budgeted;
            pkg.fetch_unkept_sources(input, limits, opts, &mut kept_total)?;
            pkg.expand_and_sign(opts);
        }
        Ok(pkg)
    }

    /// Sources that container indexes name but whose bytes were not kept
    /// while walking (the index came after them, or was too large to parse
    /// during the walk): read them in a second walk, keeping only those.
    /// Real package cabinets list `_manifest_.cix.xml` first, so this pass
    /// is rare.
    pub(super) fn fetch_unkept_sources(
        &mut self,
        input: &Path,
        limits: &Limits,
        opts: &LoadOptions,
        kept_total: &mut Kept,
    ) -> Result<(), Error> {
        let mut wanted: std::collections::HashSet<String> = std::collections::HashSet::new();
        for ix in &self.indexes {
            let dir = parent_of(&ix.member);
            for name in rebuild_inputs(&ix.index) {
                let key = join_key(dir, name);
                if let Some(m) = self.member(&key)
                    && m.bytes.is_none()
                    && m.read_error().is_none()
                    && m.kind != MemberKind::Container
                    && m.size <= opts.max_delta_size
                {
                    wanted.insert(path_key(&m.path));
                }
            }
        }
        if wanted.is_empty() {
            return Ok(());
        }
        let mut got: HashMap<String, Vec<u8>> = HashMap::new();
        let mut findings = Vec::new();
        let walk_opts = container::WalkOptions {
            context: opts.context.clone(),
            ..container::WalkOptions::default()
        };
        container::walk_with(input, limits, &walk_opts, &mut |meta, reader| {
            let key = path_key(&meta.path);
            if !wanted.contains(&key) || got.contains_key(&key) {
                return Ok(());
            }
            if kept_total.all.saturating_add(meta.size) > opts.max_kept_total {
                findings.push(Finding::warning(
                    Code::MemberTooLarge,
                    &meta.path,
                    format!(
                        "not kept as a delta source: the bytes kept would pass {} in all",
                        opts.max_kept_total
                    ),
                ));
                return Ok(());
            }
            let mut buf = Vec::new();
            let mut limited = std::io::Read::take(reader, opts.max_delta_size.saturating_add(1));
            if std::io::Read::read_to_end(&mut limited, &mut buf).is_ok()
                && buf.len() as u64 <= opts.max_delta_size
            {
                kept_total.all = kept_total.all.saturating_add(buf.len() as u64);
                got.insert(key, buf);
            }
            Ok(())
        })?;
        opts.context.release_buffers();
        for m in &mut self.members {
            if m.bytes.is_some() {
                continue;
            }
            let key = path_key(&m.path);
            // The same bytes as the first walk hashed, or not used at all.
            if let Some(b) = got.remove(&key)
                && <[u8; 32]>::from(Sha256::digest(&b)) == m.sha256
            {
                m.bytes = Some(b.into_boxed_slice());
            }
        }
        self.findings.append(&mut findings);
        self.index_deltas();
        Ok(())
    }

    /// Build a model from members already in memory (tests, other front
    /// ends). Each tuple is (tree path, bytes, timestamp).
    pub fn from_members(
        input: &str,
        items: Vec<(String, Vec<u8>, Option<Timestamp>)>,
        opts: &LoadOptions,
    ) -> Package {
        let mut findings = Vec::new();
        let mut kept_total = Kept::default();
        let mut plan = KeepPlan::default();
        let members = items
            .into_iter()
            .map(|(path, bytes, ts)| {
                let meta = MemberMeta {
                    name: path.clone(),
                    path,
                    size: bytes.len() as u64,
                    modified: ts,
                    compression: container::Compression::File,
                    folder: None,
                    depth: 0,
                    attributes: 0,
                    is_container: false,
                };
                let mut m = read_member(
                    &meta,
                    &mut bytes.as_slice(),
                    opts,
                    crate::digest::CabAlgs::ALL,
                    &plan,
                    &mut kept_total,
                    &mut findings,
                );
                parse_early(&mut m, opts);
                plan.learn(&m);
                m
            })
            .collect();
        let mut pkg = Package {
            input: input.to_string(),
            containers: vec![],
            members,
            packages: vec![],
            components: vec![],
            compressed_manifests: vec![],
            indexes: vec![],
            deltas: vec![],
            findings,
            lookup: Lookup::default(),
            input_digests: None,
            pending_input: None,
            ctls: Default::default(),
            presigned: None,
            catalogs_released: false,
            catalog_hits: None,
            limits: Limits::default(),
            context: opts.context.clone(),
        };
        pkg.parse_metadata(opts);
        if opts.expand_deltas {
            pkg.expand_and_sign(opts);
        }
        pkg
    }

    /// Let the catalogs' bytes go once the load has verified their
    /// signatures and read their CTLs (with [`LoadOptions::trust`]): they
    /// are the largest thing a big package keeps (9.8 MB for the 42
    /// catalogs of the generated 300 MB package) and the checks that run
    /// at the end need only their hashes. `hits`: the servicing documents'
    /// hashes the catalogs list ([`Package::catalog_hits_found`]), kept for
    /// `check::integrity`. A
    /// catalog whose CTL could not be read keeps its bytes (the trust check
    /// reports on it from them).
    pub(super) fn release_catalogs(&mut self, hits: Vec<bool>) {
        self.catalog_hits = Some(hits);
        for m in self.members.iter_mut() {
            if m.kind == MemberKind::Catalog
                && m.bytes.is_some()
                && self.ctls.contains_key(&*m.path)
            {
                m.bytes = None;
            }
        }
        self.catalogs_released = true;
    }

    /// For each member, whether it is a servicing document whose SHA-256 or
    /// SHA-1 the catalogs list (their bytes searched in one pass, or the
    /// CTLs of those the walk let go): taken before
    /// [`Package::release_catalogs`], beside the delta rebuilds, or by
    /// `check::integrity` when the load kept the catalogs.
    pub(crate) fn catalog_hits_found(&self) -> Vec<bool> {
        let haystacks: Vec<&[u8]> = self
            .members
            .iter()
            .filter(|m| m.kind == MemberKind::Catalog)
            .filter_map(|m| m.bytes())
            .collect();
        // Each document's hashes, with the index of its member.
        let (owners, needles): (Vec<usize>, Vec<&[u8]>) = self
            .members
            .iter()
            .enumerate()
            .filter(|(_, m)| m.kind.is_document())
            .flat_map(|(i, m)| {
                [Some(&m.sha256[..]), m.sha1.as_ref().map(|h| &h[..])]
                    .into_iter()
                    .flatten()
                    .map(move |h| (i, h))
            })
            .unzip();
        // Sorted once, for the search and for the CTL look-ups below.
        let sorted = SortedBytes::new(&needles);
        let mut found = occurring(&haystacks, &sorted);
        // Catalogs the walk verified and let go: each hash their CTLs list
        // looked up among the needles (a set of every listed hash took
        // 1.1 MB for the generated 300 MB package, at the load's peak).
        for (_, c) in self
            .members
            .iter()
            .filter(|m| m.kind == MemberKind::Catalog && m.catalog_presigned().is_some())
            .filter_map(|m| self.ctls.get(&*m.path))
        {
            for e in &c.entries {
                for i in sorted.equal(e.hash.as_slice()) {
                    found[i] = true;
                }
            }
        }
        let mut hits = vec![false; self.members.len()];
        for (i, f) in owners.into_iter().zip(found) {
            hits[i] |= f;
        }
        hits
    }

    /// A member's bytes that the load let go ([`Package::release_catalogs`]),
    /// read again from the input (within the limits it was loaded with);
    /// `None` when they were never kept or cannot be read.
    pub(crate) fn bytes_again(&self, member: &Member) -> Option<Vec<u8>> {
        if !self.catalogs_released || member.kind != MemberKind::Catalog {
            return None;
        }
        let v = self.read_again(&member.path, |reader| {
            let mut v = Vec::with_capacity(member.size as usize);
            std::io::Read::read_to_end(
                &mut std::io::Read::take(reader, member.size.saturating_add(1)),
                &mut v,
            )?;
            Ok(v)
        })?;
        // The same bytes as the walk saw (a changed file is not read as
        // the catalog the load verified).
        (v.len() as u64 == member.size && sha2::Sha256::digest(&v)[..] == member.sha256)
            .then_some(v)
    }

    /// The Authenticode digests of the nested cabinet at `path` in every
    /// algorithm, read again from the input (within the limits it was
    /// loaded with): for a signature in an algorithm the walk did not
    /// digest it in. `None` when it cannot be read again.
    pub(crate) fn cab_digests_again(&self, path: &str) -> Option<crate::digest::CabDigests> {
        self.read_again(path, |reader| {
            let mut head = Vec::with_capacity(64);
            let mut d: Option<crate::digest::CabDigester> = None;
            loop {
                let chunk = reader.fill_buf()?;
                if chunk.is_empty() {
                    break;
                }
                let n = chunk.len();
                match d.as_mut() {
                    Some(d) => d.update(chunk),
                    None => {
                        head.extend_from_slice(chunk);
                        if head.len() >= 64 {
                            let mut new = crate::digest::CabDigester::new(&head);
                            new.update(&head);
                            d = Some(new);
                        }
                    }
                }
                reader.consume(n);
            }
            Ok(d.unwrap_or_else(|| {
                let mut new = crate::digest::CabDigester::new(&head);
                new.update(&head);
                new
            })
            .finish())
        })
    }

    /// Walk the input again (within the limits it was loaded with) to the
    /// member at `path` and hand it to `read`; `None` when the walk fails
    /// or never meets it.
    fn read_again<R>(
        &self,
        path: &str,
        mut read: impl FnMut(&mut dyn BufRead) -> std::io::Result<R>,
    ) -> Option<R> {
        let mut found = None;
        let opts = container::WalkOptions {
            verify_unread: false,
            context: self.context.clone(),
            progress: None,
        };
        let walked = container::walk_with(
            Path::new(&self.input),
            &self.limits,
            &opts,
            &mut |meta, reader| {
                if found.is_none() && meta.path == path {
                    found = Some(read(reader)?);
                }
                Ok(())
            },
        );
        self.context.release_buffers();
        walked.ok()?;
        found
    }
}

/// What the walk has learned about which members' bytes are needed later:
/// the sources container indexes name, by directory. What is kept follows
/// from the index, not from a member's first bytes: a delta blob or PE
/// that no index names is never a basis, and a RAW basis (a `.cat`, say)
/// is kept whatever it looks like.
#[derive(Default)]
pub(super) struct KeepPlan {
    /// [`path_key`]s of members an index names as a source.
    named: std::collections::HashSet<String>,
    /// Directories (tree paths) whose index has been parsed.
    indexed_dirs: std::collections::HashSet<String>,
}

impl KeepPlan {
    /// Record the sources of an index member parsed during the walk.
    pub(super) fn learn(&mut self, m: &Member) {
        let Some(Parsed::Index(ix)) = &m.parsed else {
            return;
        };
        let dir = parent_of(&m.path);
        self.indexed_dirs.insert(path_key(dir));
        for name in rebuild_inputs(ix) {
            self.named.insert(join_key(dir, name));
        }
    }

    /// Whether an index names this member as a source; `None` when no index
    /// of its directory is known yet.
    pub(super) fn named(&self, path: &str) -> Option<bool> {
        // No index parsed yet (or none at all): nothing to look up, and
        // the keys need not be built (this runs for every member).
        if self.indexed_dirs.is_empty() {
            return None;
        }
        if self.named.contains(&path_key(path)) {
            return Some(true);
        }
        self.indexed_dirs
            .contains(&path_key(parent_of(path)))
            .then_some(false)
    }
}

/// The members a rebuild of an index's files reads: every delta blob, and
/// the RAW sources that are the basis of another file. A RAW source nothing
/// builds on is only hashed as it streams past.
pub(super) fn rebuild_inputs(ix: &ContainerIndex) -> impl Iterator<Item = &str> {
    let bases: std::collections::HashSet<u64> = ix
        .files
        .iter()
        .filter_map(|e| e.delta.as_ref().and_then(|d| d.basis))
        .collect();
    ix.files.iter().filter_map(move |e| {
        let src = e.delta.as_ref()?.source.as_ref()?;
        let SourceLocation::Name(name) = &src.location else {
            return None;
        };
        (src.type_ != SourceType::Raw || bases.contains(&e.id)).then_some(&**name)
    })
}

/// Bytes kept so far: all members, and PE payloads among them.
#[derive(Default)]
pub(super) struct Kept {
    all: u64,
    pe: u64,
    /// Bytes kept to be digested after the walk ([`DEFER_DIGESTS`]).
    deferred: u64,
}

/// The most bytes kept, in all, for the trust check's digests to be taken
/// after the walk (the input file, then nested cabinets): while the walk
/// keeps both cores busy (one decodes, one hashes), the delta rebuilds after
/// it end on one long file with a core idle. A real package of a few MB
/// fits; a larger one is digested in the walk, so memory stays flat (this
/// adds at most 8 MiB to the peak).
pub(super) const DEFER_DIGESTS: u64 = 8 << 20;

/// The catalogs' bytes a load keeps whole until the end of the walk, for
/// their signatures to be verified beside the delta rebuilds, where a core
/// is idle (the largest real package, KB3004394, has 2.98 MB of them: with
/// 2 MiB here its trust check cost 1.21 of `verify`, 1.13-1.15 with 4: the walk
/// keeps both cores busy). Past it each catalog is verified as it is read
/// and only its CTL is kept: the generated 300 MB package has 9.8 MB of
/// catalogs, which would otherwise meet the model at the load's peak.
pub const CATALOGS_KEPT: u64 = 4 << 20;

/// A catalog (the caller checked the kind) read past [`CATALOGS_KEPT`]:
/// verified now, its CTL kept and its bytes let go (a check against other
/// roots reads it again). One whose CTL cannot be read keeps its bytes:
/// the trust check reports on it from them.
fn sign_catalog_early(
    m: &mut Member,
    trust: &dyn Presign,
    (budget, catalogs_kept): (u64, &mut u64),
    ctls: &mut HashMap<String, crate::trust::ReadCtl>,
    kept_total: &mut Kept,
) {
    let Some(bytes) = m.bytes.as_deref() else {
        return;
    };
    let len = bytes.len() as u64;
    if catalogs_kept.saturating_add(len) <= budget {
        *catalogs_kept += len;
        return;
    }
    let Some((range, Ok(ctl))) = crate::trust::ctl::read_unverified(bytes) else {
        return;
    };
    let read = (range, std::sync::Arc::new(ctl));
    m.rare_mut().catalog_signed = Some(trust.catalog(&m.path, bytes, &read));
    ctls.insert(m.path.to_string(), read);
    m.bytes = None;
    kept_total.all = kept_total.all.saturating_sub(len);
}

/// Read one member to the end: hash it, classify it from its first bytes,
/// keep its bytes when it is something we parse later.
pub(super) fn read_member(
    meta: &MemberMeta,
    reader: &mut dyn BufRead,
    opts: &LoadOptions,
    cab_algs: crate::digest::CabAlgs,
    plan: &KeepPlan,
    kept_total: &mut Kept,
    findings: &mut Vec<Finding>,
) -> Member {
    let mut sha256 = sha2::Sha256::new();
    let mut sha1 = Some(sha1::Sha1::new());
    let mut head: Vec<u8> = Vec::new();
    let mut read_error = None;
    // Fill the head first: classification needs the signature.
    while head.len() < HEAD_LEN {
        match reader.fill_buf() {
            Ok([]) => break,
            Ok(b) => {
                let n = b.len().min(HEAD_LEN - head.len());
                head.extend_from_slice(&b[..n]);
                reader.consume(n);
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => {
                read_error = Some(e.to_string());
                break;
            }
        }
    }
    let filled = head.len();
    let kind = kind_of(meta, &head);
    // Every member may be a declared payload, whatever its first bytes
    // say, and old manifests declare SHA-1 digests: only cabinets (walked,
    // never payloads here) skip it.
    if kind == MemberKind::Container {
        sha1 = None;
    }
    let named = plan.named(&meta.path);
    let cap = match kind {
        MemberKind::Mum
        | MemberKind::Manifest
        | MemberKind::CompressedManifest
        | MemberKind::ContainerIndex => Some(opts.max_metadata_size),
        // Named by an index as a source (RAW basis or delta blob).
        _ if named == Some(true) => Some(opts.max_delta_size),
        // A delta blob that no index names once the index is known: no
        // rebuild can use it.
        MemberKind::Delta if named == Some(false) => None,
        MemberKind::Delta => Some(opts.max_delta_size),
        MemberKind::Pe => Some(opts.max_pe_size),
        // Catalogs are read for the hashes they list, by the trust check
        // alone: `list` (no trust check) keeps none (9.8 MB of them in the
        // generated 300 MB package).
        MemberKind::Catalog if opts.keep_trust => Some(opts.max_metadata_size),
        _ => None,
    };
    let want_auth = opts.keep_trust && kind == MemberKind::Container;
    // With the trust check verified beside the rebuilds, a cabinet that
    // fits what is left of the budget is kept whole, its digests taken
    // there.
    let mut defer = (want_auth
        && opts.defers_digests()
        && kept_total.deferred.saturating_add(meta.size) <= DEFER_DIGESTS)
        .then(|| Vec::with_capacity(meta.size as usize));
    let mut cab_auth = (want_auth && defer.is_none())
        .then(|| crate::digest::CabDigester::with_algs(&head, cab_algs));
    let mut keep = cap.is_some_and(|c| meta.size <= c)
        && kept_total.all.saturating_add(meta.size) <= opts.max_kept_total;
    if cap.is_some() && !keep && !matches!(kind, MemberKind::Pe | MemberKind::Catalog) {
        let flag = match kind {
            MemberKind::Delta => "",
            _ if cap.is_some_and(|c| meta.size > c) => " (raise it with --max-xml-size)",
            _ => "",
        };
        let detail = if cap.is_some_and(|c| meta.size > c) {
            format!(
                "{} bytes is over the cap for {} members; not parsed{flag}",
                meta.size,
                kind.as_str()
            )
        } else {
            format!(
                "{} bytes not kept: the bytes kept for parsing and rebuilding would pass {} in all",
                meta.size, opts.max_kept_total
            )
        };
        findings.push(Finding::warning(Code::MemberTooLarge, &meta.path, detail));
    }
    // Sized from the declared size (within the cap that allowed keeping
    // it, and at most 16 MiB ahead of the bytes): no doubling copies of a
    // catalog or manifest as it streams in.
    let mut kept: Vec<u8> = if keep {
        let ahead = usize::try_from(meta.size.min(16 << 20)).unwrap_or(0);
        let mut v = Vec::with_capacity(ahead.max(head.len()));
        v.extend_from_slice(&head);
        v
    } else {
        Vec::new()
    };
    sha256.update(&head);
    if let Some(h) = sha1.as_mut() {
        h.update(&head);
    }
    if let Some(c) = cab_auth.as_mut() {
        c.update(&head);
    }
    if let Some(d) = defer.as_mut() {
        d.extend_from_slice(&head);
    }
    let mut total = head.len() as u64;
    // Not needed, and not to be digested: the head said enough.
    let skip = !opts.digest_all && !keep && cab_auth.is_none() && defer.is_none();
    if read_error.is_none() && filled == HEAD_LEN && !skip {
        loop {
            // Hashed straight from the decoder's buffer, no copy.
            match reader.fill_buf() {
                Ok([]) => break,
                Ok(chunk) => {
                    let n = chunk.len();
                    match cab_auth.as_mut() {
                        // A cabinet's flat and Authenticode digests: two
                        // hashes of the same bytes, interleaved.
                        Some(c) => {
                            let at = c.hashed();
                            crate::digest::interleave(
                                (&[chunk], total),
                                |s| sha256.update(s),
                                (&[chunk], at),
                                |s| c.update(s),
                            )
                        }
                        None => sha256.update(chunk),
                    }
                    if let Some(h) = sha1.as_mut() {
                        h.update(chunk);
                    }
                    if let Some(d) = defer.as_mut() {
                        // The declared size may lie: past the budget, the
                        // digests are taken here after all.
                        if kept_total
                            .deferred
                            .saturating_add(d.len() as u64 + n as u64)
                            > DEFER_DIGESTS
                        {
                            let mut c = crate::digest::CabDigester::with_algs(d, cab_algs);
                            c.update(d);
                            c.update(chunk);
                            cab_auth = Some(c);
                            defer = None;
                        } else {
                            d.extend_from_slice(chunk);
                        }
                    }
                    total = total.saturating_add(n as u64);
                    if keep {
                        // The declared size may lie: enforce the cap on
                        // what actually arrives.
                        if cap.is_some_and(|c| total > c) {
                            keep = false;
                            kept = Vec::new();
                        } else {
                            kept.extend_from_slice(chunk);
                        }
                    }
                    reader.consume(n);
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => {
                    read_error = Some(e.to_string());
                    break;
                }
            }
        }
    }
    if let Some(e) = &read_error {
        findings.push(Finding::error(
            Code::MemberUnreadable,
            &meta.path,
            format!("reading stopped after {total} bytes: {e}"),
        ));
        keep = false;
    }
    let mut pe = None;
    if keep && kind == MemberKind::Pe {
        pe = pe::version_info(&kept).map(Box::new);
        let name = meta.path.rsplit('/').next().unwrap_or(&meta.path);
        // Kept PE bytes count against their own, small budget: beyond it
        // only the version survives, so memory stays flat.
        let budget_left = opts.max_kept_pe.saturating_sub(kept_total.pe);
        let needed = name.eq_ignore_ascii_case("wcp.dll") || named == Some(true);
        if !needed && (named == Some(false) || kept.len() as u64 > budget_left) {
            keep = false;
            kept = Vec::new();
        } else {
            kept_total.pe = kept_total.pe.saturating_add(kept.len() as u64);
        }
    }
    if keep {
        kept_total.all = kept_total.all.saturating_add(kept.len() as u64);
    }
    let digested = !(skip && meta.size > total);
    let cab_auth = match (cab_auth, defer) {
        (Some(c), _) => Some(CabAuth::Done(c.finish())),
        (None, Some(bytes)) => {
            kept_total.deferred = kept_total.deferred.saturating_add(bytes.len() as u64);
            Some(CabAuth::Later {
                bytes,
                algs: cab_algs,
            })
        }
        (None, None) => None,
    };
    Member {
        path: meta.path.as_str().into(),
        size: if digested { total } else { meta.size },
        sha256: sha256.finalize().into(),
        sha1: sha1.map(|h| h.finalize().into()),
        timestamp: meta.modified,
        kind,
        // Grown by doubling while it streamed in: boxing trims it.
        bytes: keep.then(|| kept.into_boxed_slice()),
        pe,
        parsed: None,
        rare: (read_error.is_some() || cab_auth.is_some()).then(|| {
            Box::new(Rare {
                read_error: read_error.map(String::into_boxed_str),
                cab_auth,
                catalog_signed: None,
            })
        }),
        digested,
    }
}

/// The input's own digests, from the bytes the walk reads (the same bytes,
/// in order, once), taken in one of three ways:
/// - kept: a small input's bytes are copied and kept, and digested after
///   the walk beside the delta rebuilds ([`TapDigests::Later`]), where a
///   core is idle, not in the walk, where both are busy;
/// - sent: copied and sent to a thread of their own;
/// - inline: on the walk's thread (one core).
enum TapState {
    Keep(crate::digest::InputDigester, Vec<Vec<u8>>),
    Send(
        std::sync::mpsc::SyncSender<Vec<u8>>,
        std::sync::mpsc::Receiver<Vec<u8>>,
    ),
    Inline(crate::digest::InputDigester),
    Over,
}

/// What the walk's tap leaves: digests, or the bytes to take them from.
#[derive(Clone)]
pub(crate) enum TapDigests {
    Done(crate::digest::InputDigests),
    Later(Box<crate::digest::InputDigester>, Vec<Vec<u8>>),
}

impl std::fmt::Debug for TapDigests {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TapDigests::Done(d) => f.debug_tuple("Done").field(d).finish(),
            TapDigests::Later(_, chunks) => f
                .debug_struct("Later")
                .field("bytes", &chunks.iter().map(Vec::len).sum::<usize>())
                .finish_non_exhaustive(),
        }
    }
}

impl TapDigests {
    pub(crate) fn finish(self) -> crate::digest::InputDigests {
        match self {
            TapDigests::Done(d) => d,
            TapDigests::Later(mut d, chunks) => {
                for c in &chunks {
                    d.update(c);
                }
                d.finish()
            }
        }
    }
}

struct TapHasher {
    state: std::sync::Arc<std::sync::Mutex<TapState>>,
    handle: Option<std::thread::JoinHandle<crate::digest::InputDigester>>,
}

impl TapHasher {
    /// Buffers in flight between the tap and the thread.
    const DEPTH: usize = 8;

    /// `keep`: keep the bytes for later; else with `thread` on a thread.
    fn start(
        d: crate::digest::InputDigester,
        keep: bool,
        thread: bool,
    ) -> (TapHasher, container::TapSink) {
        use std::sync::{Arc, Mutex, mpsc};
        let mut handle = None;
        let state = if keep {
            TapState::Keep(d, Vec::new())
        } else if thread {
            let (tx, rx) = mpsc::sync_channel::<Vec<u8>>(Self::DEPTH);
            let (back_tx, back_rx) = mpsc::sync_channel::<Vec<u8>>(Self::DEPTH + 1);
            let cell = Arc::new(Mutex::new(Some(d)));
            let for_thread = Arc::clone(&cell);
            let spawned = std::thread::Builder::new()
                .name("input-digests".into())
                .spawn(move || {
                    let mut d = for_thread
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .take()
                        .expect("the digester is handed over once");
                    for buf in rx {
                        d.update(&buf);
                        // The tap may be gone already: the buffer is freed.
                        let _ = back_tx.try_send(buf);
                    }
                    d
                });
            match spawned {
                Ok(h) => {
                    handle = Some(h);
                    TapState::Send(tx, back_rx)
                }
                Err(_) => match cell.lock().unwrap_or_else(|e| e.into_inner()).take() {
                    Some(d) => TapState::Inline(d),
                    None => TapState::Over,
                },
            }
        } else {
            TapState::Inline(d)
        };
        let state = Arc::new(Mutex::new(state));
        let sink_state = Arc::clone(&state);
        let sink: container::TapSink = Box::new(move |b: &[u8]| {
            match &mut *sink_state.lock().unwrap_or_else(|e| e.into_inner()) {
                TapState::Keep(_, chunks) => chunks.push(b.to_vec()),
                TapState::Send(tx, back) => {
                    let mut buf = back.try_recv().unwrap_or_default();
                    buf.clear();
                    buf.extend_from_slice(b);
                    // A send fails only if the thread is gone (it panicked):
                    // the digests are then missing, and the trust check
                    // reads the input again.
                    let _ = tx.send(buf);
                }
                TapState::Inline(d) => d.update(b),
                TapState::Over => {}
            }
        });
        (TapHasher { state, handle }, sink)
    }

    /// End the tap: the digests, or the bytes kept for them (`None` if the
    /// digesting thread panicked).
    fn finish(self) -> Option<TapDigests> {
        let state = std::mem::replace(
            &mut *self.state.lock().unwrap_or_else(|e| e.into_inner()),
            TapState::Over,
        );
        match state {
            TapState::Keep(d, chunks) => Some(TapDigests::Later(Box::new(d), chunks)),
            TapState::Inline(d) => Some(TapDigests::Done(d.finish())),
            // The channel closes as `state` drops here.
            TapState::Send(..) | TapState::Over => {
                drop(state);
                let d = self.handle?.join().ok()?;
                Some(TapDigests::Done(d.finish()))
            }
        }
    }
}

/// The digester of a cabinet or MSU input file, in the algorithms its
/// signature asks for (both when there is no signature, or it cannot be
/// read ahead); `None` for a directory or an unreadable file (the trust
/// check then reads the input itself).
pub(super) fn input_digester(
    input: &Path,
) -> Option<(crate::digest::InputDigester, crate::digest::CabAlgs)> {
    use crate::digest::{CabAlgs, InputDigester, MAX_SIGNATURE, cab_signature_range};
    use std::os::unix::fs::FileExt as _;
    let f = std::fs::File::open(input).ok()?;
    if !f.metadata().ok()?.is_file() {
        return None;
    }
    let mut head = [0u8; 64];
    let n = f.read_at(&mut head, 0).ok()?;
    let head = &head[..n];
    let algs = match cab_signature_range(head) {
        Some((pos, len)) if len > 0 && len <= MAX_SIGNATURE => {
            let mut blob = vec![0u8; len as usize];
            match f.read_exact_at(&mut blob, pos) {
                Ok(()) => CabAlgs::of(&crate::trust::pkcs7::cab_digest_algs(&blob)),
                Err(_) => CabAlgs::ALL,
            }
        }
        _ => CabAlgs::ALL,
    };
    let name = input.display().to_string();
    let whole = crate::trust::download_name_sha1(&name).is_some();
    Some((InputDigester::new(head, algs, whole), algs))
}
