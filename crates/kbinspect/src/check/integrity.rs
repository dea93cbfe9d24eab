//! Self-consistency of a package: names, references, digests, index, deltas.
//!
//! Every finding code is stable and listed in README.md. Checks
//! keep going after problems: one bad file does not hide the others.

use std::collections::{HashMap, HashSet};

use serde::Serialize;

use crate::finding::{Code, Finding};
use crate::model::{self, Expansion, Location, MemberKind, Package, parent_of, path_key};
use crate::servicing::cix::{CixFile, SourceLocation, SourceType};
use crate::servicing::component::DigestAlg;

/// Counts of what was checked, for the verdict summary.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Stats {
    pub members: usize,
    pub packages: usize,
    pub components: usize,
    pub deployments: usize,
    pub compressed_manifests: usize,
    /// Files declared by component manifests.
    #[serde(rename = "files_declared")]
    pub files: usize,
    /// Payloads (stored or rebuilt from deltas) whose bytes match the
    /// manifest digest.
    pub files_verified: usize,
    /// Files whose manifest digest equals the container index target hash.
    pub files_index_agreed: usize,
    /// Files produced by deltas (or copies) that were rebuilt.
    pub files_rebuilt: usize,
    /// Files produced by deltas (or copies) that were not rebuilt.
    pub files_not_expanded: usize,
    pub index_entries: usize,
    /// Index RAW sources and delta blobs whose stored bytes match the index.
    pub index_sources_verified: usize,
    pub delta_blobs: usize,
    /// Delta headers whose target size agrees with the index.
    pub delta_sizes_agreed: usize,
}

/// Run every integrity check.
pub fn check(pkg: &Package) -> Vec<Finding> {
    check_with_stats(pkg).0
}

/// Run every integrity check and count what was verified.
pub fn check_with_stats(pkg: &Package) -> (Vec<Finding>, Stats) {
    let mut c = Checker {
        pkg,
        out: pkg.findings.clone(),
        stats: Stats {
            members: pkg.members().len(),
            packages: pkg.packages.len(),
            components: pkg.components.iter().filter(|c| !c.deployment).count(),
            deployments: pkg.components.iter().filter(|c| c.deployment).count(),
            compressed_manifests: pkg.compressed_manifests.len(),
            files: pkg.components.iter().map(|c| c.files.len()).sum(),
            index_entries: pkg.indexes.iter().map(|i| i.index.files.len()).sum(),
            delta_blobs: pkg.deltas.len(),
            ..Default::default()
        },
        referenced: vec![false; pkg.members().len()],
        compressed_keyforms: pkg
            .compressed_manifests
            .iter()
            .filter_map(|m| {
                let file = m.rsplit('/').next().unwrap_or(m).to_ascii_lowercase();
                file.strip_suffix(".manifest").map(str::to_string)
            })
            .collect(),
    };
    if !pkg.members().iter().any(|m| m.kind.is_document()) {
        c.out.push(Finding::error(
            Code::NoPackageMetadata,
            &pkg.input,
            format!(
                "no .mum package manifest and no component manifest in {} members: nothing here can be verified as an update package",
                pkg.members().len()
            ),
        ));
    }
    c.names();
    c.catalog_listing();
    c.references();
    c.files();
    c.indexes();
    c.unreferenced_members();
    (c.out, c.stats)
}

struct Checker<'a> {
    pkg: &'a Package,
    out: Vec<Finding>,
    stats: Stats,
    /// Member keys something points at.
    /// By member position: some manifest or index entry points at it.
    referenced: Vec<bool>,
    /// Keyforms named by DCM manifests (lower case).
    compressed_keyforms: HashSet<String>,
}

impl Checker<'_> {
    fn names(&mut self) {
        for c in &self.pkg.components {
            let file = c.member.rsplit('/').next().unwrap_or(&c.member);
            let stem = file
                .get(..file.len().saturating_sub(".manifest".len()))
                .unwrap_or(file);
            match model::claimed_keyform(&c.member) {
                None => self.out.push(Finding::warning(
                    Code::ManifestNameNotKeyform,
                    &*c.member,
                    format!(
                        "file name is not a keyform; the identity gives {}",
                        c.keyform
                    ),
                )),
                Some(k) => {
                    if !stem.eq_ignore_ascii_case(&c.keyform) {
                        let mut why = Vec::new();
                        let want = c.identity.hash();
                        if k.hash != want {
                            why.push(format!(
                                "identity hash {:016x} in the name, {want:016x} computed",
                                k.hash
                            ));
                        }
                        let tn = crate::servicing::identity::truncate_name(&c.identity.name);
                        if !k.name.eq_ignore_ascii_case(&tn) {
                            why.push(format!("name part {:?}, expected {:?}", k.name, tn));
                        }
                        if !k.version.eq_ignore_ascii_case(&c.identity.version) {
                            why.push(format!(
                                "version {} in the name, {} inside",
                                k.version, c.identity.version
                            ));
                        }
                        self.out.push(Finding::error(
                            Code::ManifestNameMismatch,
                            &*c.member,
                            format!(
                                "file name does not match the identity inside (keyform {}){}{}",
                                c.keyform,
                                if why.is_empty() { "" } else { ": " },
                                why.join("; ")
                            ),
                        ));
                    }
                }
            }
        }
        for p in &self.pkg.packages {
            let file = p.member.rsplit('/').next().unwrap_or(&p.member);
            let stem = file.get(..file.len().saturating_sub(4)).unwrap_or(file);
            // `update.mum` and its siblings (`update-bf.mum` in every
            // Vista/7/8 package cabinet) are the package's entry points,
            // named for their role rather than their identity.
            let lower = stem.to_ascii_lowercase();
            if lower == "update" || lower.starts_with("update-") {
                continue;
            }
            let want = p.mum.identity.mum_stem();
            if !stem.eq_ignore_ascii_case(&want) {
                self.out.push(Finding::error(
                    Code::MumNameMismatch,
                    &p.member,
                    format!("file name does not match the identity inside ({want}.mum)"),
                ));
            }
        }
    }

    /// Every `.mum` and component `.manifest` must be listed in a catalog
    /// of the package, by its SHA-1 or SHA-256: a document edited after
    /// signing (with the container index updated to match) is not. The
    /// hashes are looked up as raw bytes in the catalogs' content; whether
    /// the catalogs' signatures hold is the trust check's job.
    fn catalog_listing(&mut self) {
        // The catalogs read: their bytes kept, or their CTL read (by the
        // walk, or by the load before it let the bytes go). One not read
        // (over the metadata cap, or a load that keeps no catalogs, as
        // `list` does) may list what the others do not.
        let (read, unread): (Vec<&crate::model::Member>, Vec<_>) = self
            .pkg
            .members()
            .iter()
            .filter(|m| m.kind == MemberKind::Catalog)
            .partition(|m| m.bytes().is_some() || self.pkg.read_ctl(&m.path).is_some());
        let catalogs: Vec<&str> = read.iter().map(|m| m.path.as_ref()).collect();
        let documents = self
            .pkg
            .members()
            .iter()
            .enumerate()
            .filter(|(_, m)| m.kind.is_document());
        if catalogs.is_empty() {
            let docs: Vec<&str> = documents.map(|(_, m)| m.path.as_ref()).collect();
            let n = docs.len();
            if let Some(first) = docs.first() {
                self.out.push(Finding::warning(
                    Code::CatalogAbsent,
                    *first,
                    format!(
                        "no readable .cat catalog: the {n} servicing documents are not covered by any signed list"
                    ),
                ));
            }
            return;
        }
        let names = catalogs
            .iter()
            .map(|p| p.rsplit('/').next().unwrap_or(p))
            .collect::<Vec<_>>();
        // Each `X.mum` is signed through `X.cat` beside it. When one is
        // missing (a partial copy of a package), a document it would list
        // cannot be told from an edited one: unproven, not wrong.
        let mut missing: Vec<String> = Vec::new();
        for m in self
            .pkg
            .members()
            .iter()
            .filter(|m| m.kind == MemberKind::Mum)
        {
            let cat = format!(
                "{}.cat",
                m.path
                    .get(..m.path.len().saturating_sub(4))
                    .unwrap_or(&m.path)
            );
            if self.pkg.member(&cat).is_none() {
                self.out.push(Finding::warning(
                    Code::CatalogFileMissing,
                    &*m.path,
                    format!("its catalog {cat} is not in the package"),
                ));
                missing.push(cat);
            }
        }
        // Which documents the catalogs list, found in one pass over them
        // (`Package::catalog_hits_found`): by the load before it let the
        // catalogs go, or here.
        let computed;
        let hits: &[bool] = match &self.pkg.catalog_hits {
            Some(hits) => hits,
            None => {
                computed = self.pkg.catalog_hits_found();
                &computed
            }
        };
        for (i, m) in documents {
            let listed = hits.get(i).copied().unwrap_or(false);
            if !listed {
                let (severity, why) = if !missing.is_empty() {
                    (
                        crate::finding::Severity::Warning,
                        "it may be listed in a catalog missing from the package".to_string(),
                    )
                } else if let Some(first) = unread.first() {
                    (
                        crate::finding::Severity::Warning,
                        format!(
                            "it may be listed in a catalog that was not read ({})",
                            first.path
                        ),
                    )
                } else {
                    (
                        crate::finding::Severity::Error,
                        "changed after signing".to_string(),
                    )
                };
                self.out.push(Finding::new(
                    severity,
                    Code::CatalogUnlisted,
                    &*m.path,
                    format!(
                        "neither its SHA-1 {} nor its SHA-256 {} is listed in the package's catalogs ({}): {why}",
                        m.sha1_hex().unwrap_or_default(),
                        m.sha256_hex(),
                        if names.len() > 4 {
                            format!("{} and {} more", names[..4].join(", "), names.len() - 4)
                        } else {
                            names.join(", ")
                        }
                    ),
                ));
            }
        }
    }

    /// A component manifest for this identity, parsed or DCM-compressed.
    fn has_component(&self, id: &crate::servicing::identity::Identity) -> bool {
        if self.pkg.component(id).is_some() {
            return true;
        }
        self.compressed_keyforms.contains(&id.keyform())
    }

    fn references(&mut self) {
        let mut wanted: HashSet<String> = HashSet::new();
        for p in &self.pkg.packages {
            for u in &p.mum.updates {
                for id in &u.components {
                    wanted.insert(id.keyform());
                    if !self.has_component(id) {
                        self.out.push(Finding::error(
                            Code::ComponentMissing,
                            &p.member,
                            format!(
                                "update {:?} installs {} but its manifest is not in the package",
                                u.name,
                                id.keyform()
                            ),
                        ));
                    }
                }
                for id in &u.packages {
                    if !self.pkg.packages.iter().any(|q| q.mum.identity.same_as(id)) {
                        self.out.push(Finding::error(
                            Code::PackageMissing,
                            &p.member,
                            format!(
                                "update {:?} installs package {} but its .mum is not in the package",
                                u.name,
                                id.mum_stem()
                            ),
                        ));
                    }
                }
            }
        }
        for c in &self.pkg.components {
            for id in c.deploys() {
                wanted.insert(id.keyform());
                if !self.has_component(id) {
                    self.out.push(Finding::warning(
                        Code::DeploymentTargetMissing,
                        &*c.member,
                        format!(
                            "deploys {} but that manifest is not in the package",
                            id.keyform()
                        ),
                    ));
                }
            }
        }
        if !self.pkg.packages.is_empty() {
            for c in &self.pkg.components {
                if !wanted.contains(&*c.keyform) {
                    self.out.push(Finding::warning(
                        Code::ComponentUnreferenced,
                        &*c.member,
                        "no .mum installs this component and no deployment deploys it",
                    ));
                }
            }
        }
    }

    fn index_entry(&self, id: u64, near: &str) -> Option<&CixFile> {
        self.pkg
            .indexes_in(parent_of(near))
            .find_map(|i| i.entry(id))
    }

    fn files(&mut self) {
        for c in &self.pkg.components {
            for f in &c.files {
                let subject = format!("{}\\{}", c.keyform, f.name);
                let alg = f.digest_alg.as_deref().map(DigestAlg::from_name);
                match &f.location {
                    Location::Absent => {
                        self.out.push(Finding::error(
                            Code::FileMissing,
                            &subject,
                            format!(
                                "declared by {} (line {}) but neither stored nor in a container index",
                                c.member, f.line
                            ),
                        ));
                        continue;
                    }
                    Location::Stored { member, .. } => {
                        self.mark_referenced(member);
                        let Some(m) = self.pkg.member(member) else {
                            continue;
                        };
                        match (&alg, &f.digest) {
                            (Some(alg), Some(want)) => match model::member_digest(m, alg) {
                                Some(got) if got == *want => self.stats.files_verified += 1,
                                Some(got) => self.out.push(Finding::error(
                                    Code::DigestMismatch,
                                    &subject,
                                    format!(
                                        "{member}: {} is {got}, the manifest says {want}",
                                        alg.as_str()
                                    ),
                                )),
                                None => self.out.push(Finding::warning(
                                    Code::DigestUnsupported,
                                    &subject,
                                    format!("digest algorithm {} is not checked", alg.as_str()),
                                )),
                            },
                            _ => self.out.push(Finding::warning(
                                Code::DigestAbsent,
                                &subject,
                                format!("{} declares no digest for this file", c.member),
                            )),
                        }
                    }
                    Location::Delta {
                        member,
                        blob,
                        source_type,
                        basis,
                        ..
                    } => {
                        let size = f.size.map_or("unknown".to_string(), |s| s.to_string());
                        let blob_desc = match member {
                            Some(m) => format!("blob {m}"),
                            None => format!("blob {blob:?} (not stored)"),
                        };
                        let what = format!(
                            "{source_type} {blob_desc}, target {size} bytes{}",
                            basis.map_or(String::new(), |b| format!(", basis index file {b}"))
                        );
                        self.expansion(c, f, &subject, &what);
                    }
                    Location::Copy { basis, .. } => {
                        let what = format!("copy of index file {basis}");
                        self.expansion(c, f, &subject, &what);
                    }
                    Location::Psf {
                        offset,
                        length,
                        source_type,
                        ..
                    } => {
                        self.stats.files_not_expanded += 1;
                        self.out.push(Finding::info(
                            Code::PayloadInPsf,
                            &subject,
                            format!(
                                "{source_type} at .psf offset {offset}, {length} bytes: not read"
                            ),
                        ));
                    }
                }
                self.index_agreement(c, f, &subject);
                self.second_source(c, f, &subject);
            }
        }
    }

    /// A stored file that the container index also produces: the index's
    /// copy, rebuilt, must be the same file.
    fn second_source(&mut self, c: &model::Component, f: &model::File, subject: &str) {
        let (Some(second), Location::Stored { member, .. }) = (&f.second_source, &f.location)
        else {
            return;
        };
        let what = second.location.describe();
        match &second.expansion {
            Some(Expansion::Rebuilt { sha256, sha1 }) => {
                let alg = f.digest_alg.as_deref().map(DigestAlg::from_name);
                let got = match alg {
                    Some(DigestAlg::Sha1) => sha1,
                    _ => sha256,
                };
                let stored = self.pkg.member(member).map(|m| m.sha256_hex());
                let agrees_with_manifest = f.digest.as_deref() == Some(got.as_str());
                let agrees_with_stored = stored.as_deref() == Some(sha256.as_str());
                if !agrees_with_manifest || !agrees_with_stored {
                    self.out.push(Finding::error(
                        Code::SourceDisagreement,
                        subject,
                        format!(
                            "stored as {member} and produced by the container index ({what}), and the two differ: the index's rebuilt bytes have SHA-256 {sha256}, the stored member {}, {} declares {}",
                            stored.as_deref().unwrap_or("unknown"),
                            c.member,
                            f.digest.as_deref().unwrap_or("no digest")
                        ),
                    ));
                }
            }
            Some(Expansion::Mismatch { reason }) => self.out.push(Finding::error(
                Code::SourceDisagreement,
                subject,
                format!(
                    "stored as {member}; the container index's copy ({what}) contradicts the index: {reason}"
                ),
            )),
            Some(Expansion::Failed { reason }) | Some(Expansion::NotExpanded { reason }) => {
                self.out.push(Finding::info(
                    Code::SecondSourceUnchecked,
                    subject,
                    format!(
                        "stored as {member}; the container index's copy ({what}) was not rebuilt: {reason}"
                    ),
                ))
            }
            None => {}
        }
    }

    /// A delta-produced file: its rebuilt bytes against the manifest digest,
    /// or why it was not rebuilt.
    fn expansion(&mut self, c: &model::Component, f: &model::File, subject: &str, what: &str) {
        match &f.expansion {
            Some(Expansion::Rebuilt { sha256, sha1 }) => {
                self.stats.files_rebuilt += 1;
                let alg = f.digest_alg.as_deref().map(DigestAlg::from_name);
                let got = match alg {
                    Some(DigestAlg::Sha256) => Some(sha256),
                    Some(DigestAlg::Sha1) => Some(sha1),
                    _ => None,
                };
                match (got, &f.digest) {
                    (Some(got), Some(want)) if got == want => self.stats.files_verified += 1,
                    (Some(got), Some(want)) => self.out.push(Finding::error(
                        Code::DigestMismatch,
                        subject,
                        format!(
                            "rebuilt from {what}: {} is {got}, {} says {want}",
                            f.digest_alg.as_deref().unwrap_or("digest"),
                            c.member
                        ),
                    )),
                    _ => self.out.push(Finding::warning(
                        Code::DigestAbsent,
                        subject,
                        format!("{} declares no digest we can check for this file", c.member),
                    )),
                }
            }
            Some(Expansion::Mismatch { reason }) => {
                self.stats.files_not_expanded += 1;
                self.out.push(Finding::error(
                    Code::DeltaRebuildMismatch,
                    subject,
                    format!(
                        "{what}: the rebuilt bytes contradict the container index and {} ({reason})",
                        c.member
                    ),
                ));
            }
            Some(Expansion::Failed { reason }) => {
                self.stats.files_not_expanded += 1;
                // The blob itself matched the index, so a failure here is as
                // likely our decoder as the package: a warning, not an error.
                self.out.push(Finding::warning(
                    Code::DeltaExpansionFailed,
                    subject,
                    format!("{what}: {reason}"),
                ));
            }
            Some(Expansion::NotExpanded { reason }) => {
                self.stats.files_not_expanded += 1;
                self.out.push(Finding::info(
                    Code::DeltaNotExpanded,
                    subject,
                    format!(
                        "{what}: not expanded ({reason}); digest checked against the index only"
                    ),
                ));
            }
            None => {
                self.stats.files_not_expanded += 1;
                self.out.push(Finding::info(
                    Code::DeltaNotExpanded,
                    subject,
                    format!("{what}: not expanded (expansion off); digest checked against the index only"),
                ));
            }
        }
    }

    /// The manifest digest must equal the index target hash when the index
    /// lists the file.
    fn index_agreement(&mut self, c: &model::Component, f: &model::File, subject: &str) {
        let id = match &f.location {
            Location::Delta { index_id, .. }
            | Location::Copy { index_id, .. }
            | Location::Psf { index_id, .. } => Some(*index_id),
            _ => None,
        };
        let entry = match id {
            Some(id) => self.index_entry(id, &c.member),
            None => {
                // A stored file may still be listed (RAW source).
                let dir = parent_of(&c.member);
                let want = format!("{}\\{}", c.keyform, f.name);
                self.pkg.indexes_in(dir).find_map(|i| i.entry_named(&want))
            }
        };
        let Some(entry) = entry else {
            return;
        };
        let (Some(hash), Some(digest), Some(alg)) = (&entry.hash, &f.digest, &f.digest_alg) else {
            return;
        };
        if !hash.is_sha256() || DigestAlg::from_name(alg) != DigestAlg::Sha256 {
            return;
        }
        if hash.hex == *digest {
            self.stats.files_index_agreed += 1;
        } else {
            self.out.push(Finding::error(
                Code::IndexDigestMismatch,
                subject,
                format!(
                    "container index file {} has SHA-256 {}, {} says {digest}",
                    entry.id, hash.hex, c.member
                ),
            ));
        }
    }

    fn indexes(&mut self) {
        for ix in &self.pkg.indexes {
            let dir = parent_of(&ix.member).to_string();
            let ids: HashMap<u64, &CixFile> = ix.index.files.iter().map(|f| (f.id, f)).collect();
            let cyclic = cyclic_ids(&ids);
            if ids.len() != ix.index.files.len() {
                self.out.push(Finding::error(
                    Code::IndexDuplicateId,
                    &ix.member,
                    "two <File> entries share an id",
                ));
            }
            for e in &ix.index.files {
                let subject = format!("{}#{} {}", ix.member, e.id, e.name);
                let Some(d) = &e.delta else {
                    self.out.push(Finding::warning(
                        Code::IndexEntryNoSource,
                        &subject,
                        "no <Delta>: the index does not say where the bytes are",
                    ));
                    continue;
                };
                if let Some(b) = d.basis {
                    if !ids.contains_key(&b) {
                        self.out.push(Finding::error(
                            Code::IndexBasisMissing,
                            &subject,
                            format!("basis file {b} is not in the index"),
                        ));
                    } else if cyclic.contains(&e.id) {
                        self.out.push(Finding::error(
                            Code::IndexBasisCycle,
                            &subject,
                            "the chain of <Basis> files loops",
                        ));
                    }
                }
                if d.source.is_none()
                    && let Some(b) = d.basis.and_then(|b| ids.get(&b))
                    && let (Some(h1), Some(h2)) = (&e.hash, &b.hash)
                    && (h1.hex != h2.hex || e.length != b.length)
                {
                    self.out.push(Finding::error(
                        Code::IndexCopyMismatch,
                        &subject,
                        format!(
                            "a copy of file {} but its hash or length differs from it",
                            b.id
                        ),
                    ));
                }
                let Some(src) = &d.source else { continue };
                let SourceLocation::Name(name) = &src.location else {
                    continue;
                };
                let key = if dir.is_empty() {
                    path_key(name)
                } else {
                    path_key(&format!("{dir}/{name}"))
                };
                // The model's own lookup: a second map of every member path would
                // double what the checks hold.
                let Some(m) = self.pkg.member(&key) else {
                    let code = if src.type_ == SourceType::Raw {
                        Code::IndexMemberMissing
                    } else {
                        Code::DeltaBlobMissing
                    };
                    self.out.push(Finding::error(
                        code,
                        &subject,
                        format!("source {name:?} is not stored in the package"),
                    ));
                    continue;
                };
                self.mark_referenced(&key);
                let mut ok = true;
                let sha256 = m.sha256_hex();
                if let Some(h) = &src.hash
                    && h.is_sha256()
                    && h.hex != sha256
                {
                    ok = false;
                    self.out.push(Finding::error(
                        Code::IndexHashMismatch,
                        &subject,
                        format!(
                            "{}: SHA-256 is {}, the index source hash says {}",
                            m.path, sha256, h.hex
                        ),
                    ));
                }
                if src.type_ == SourceType::Raw {
                    // Reported once when the source and target hashes are the same value.
                    let same_as_source = src
                        .hash
                        .as_ref()
                        .is_some_and(|s| e.hash.as_ref() == Some(s));
                    if let Some(h) = &e.hash
                        && h.is_sha256()
                        && h.hex != sha256
                        && !same_as_source
                    {
                        ok = false;
                        self.out.push(Finding::error(
                            Code::IndexHashMismatch,
                            &subject,
                            format!(
                                "{}: SHA-256 is {}, the index target hash says {}",
                                m.path, sha256, h.hex
                            ),
                        ));
                    }
                    if m.size != e.length {
                        ok = false;
                        self.out.push(Finding::error(
                            Code::IndexLengthMismatch,
                            &subject,
                            format!(
                                "{} is {} bytes, the index says {}",
                                m.path, m.size, e.length
                            ),
                        ));
                    }
                } else {
                    self.delta_header(m, e, &subject);
                }
                if ok {
                    self.stats.index_sources_verified += 1;
                }
            }
        }
    }

    fn delta_header(&mut self, m: &model::Member, e: &CixFile, subject: &str) {
        let Some(blob) = self.pkg.delta(&m.path) else {
            if m.kind != MemberKind::Delta {
                self.out.push(Finding::error(
                    Code::DeltaSignatureMissing,
                    subject,
                    format!("{} is not a PA30/PA19 delta", m.path),
                ));
            }
            return;
        };
        match (&blob.header, &blob.header_error) {
            (Some(h), _) => {
                if h.target_size == e.length {
                    self.stats.delta_sizes_agreed += 1;
                } else {
                    self.out.push(Finding::error(
                        Code::DeltaSizeMismatch,
                        subject,
                        format!(
                            "{}: delta target size {} but the index length is {}",
                            m.path, h.target_size, e.length
                        ),
                    ));
                }
            }
            (None, err) => self.out.push(Finding::warning(
                Code::DeltaHeaderUnreadable,
                subject,
                format!(
                    "{}: {}",
                    m.path,
                    err.as_deref().unwrap_or("header not read")
                ),
            )),
        }
    }

    /// Payload members in a package container that nothing points at.
    /// Every member at this path or key (names that differ only in case
    /// or slashes are one name to Windows).
    fn mark_referenced(&mut self, path: &str) {
        let pkg = self.pkg;
        for &i in pkg.member_positions(path) {
            if let Some(r) = self.referenced.get_mut(i) {
                *r = true;
            }
        }
    }

    fn unreferenced_members(&mut self) {
        let package_dirs: HashSet<&str> = self
            .pkg
            .members()
            .iter()
            .filter(|m| {
                matches!(
                    m.kind,
                    MemberKind::Mum
                        | MemberKind::Manifest
                        | MemberKind::CompressedManifest
                        | MemberKind::ContainerIndex
                )
            })
            .map(|m| parent_of(&m.path))
            .collect();
        for (i, m) in self.pkg.members().iter().enumerate() {
            if matches!(
                m.kind,
                MemberKind::Mum
                    | MemberKind::Manifest
                    | MemberKind::CompressedManifest
                    | MemberKind::ContainerIndex
                    | MemberKind::Catalog
                    | MemberKind::Container
            ) {
                continue;
            }
            if self.referenced.get(i).copied().unwrap_or(false) {
                continue;
            }
            // Payloads sit beside the metadata or one folder below it.
            let dir = parent_of(&m.path);
            if package_dirs.contains(dir) || package_dirs.contains(parent_of(dir)) {
                // A delta blob no index entry names cannot be installed:
                // nothing rebuilds it. The Vista KB2999226 cabinets carry
                // 43 (x86) and 86 (x64) such blobs.
                let severity = if m.kind == MemberKind::Delta && !self.pkg.indexes.is_empty() {
                    crate::finding::Severity::Info
                } else {
                    crate::finding::Severity::Warning
                };
                self.out.push(Finding::new(
                    severity,
                    Code::MemberUnreferenced,
                    &*m.path,
                    format!(
                        "{} bytes ({}) that no manifest or container index refers to",
                        m.size,
                        m.kind.as_str()
                    ),
                ));
            }
        }
    }
}

/// Index file ids whose `<Basis>` chain loops, found in one pass over all
/// entries (each id is walked once), so a hostile index with long chains
/// stays linear.
fn cyclic_ids(ids: &HashMap<u64, &CixFile>) -> HashSet<u64> {
    // 1 = on the current walk, 2 = finished.
    let mut state: HashMap<u64, u8> = HashMap::with_capacity(ids.len());
    let mut cyclic = HashSet::new();
    for &start in ids.keys() {
        if state.contains_key(&start) {
            continue;
        }
        let mut path = Vec::new();
        let mut cur = Some(start);
        while let Some(id) = cur {
            match state.get(&id) {
                Some(1) => {
                    // Everything on the path from the first visit of `id` loops.
                    if let Some(pos) = path.iter().position(|&p| p == id) {
                        cyclic.extend(path.get(pos..).unwrap_or(&[]).iter().copied());
                    }
                    break;
                }
                Some(_) => break,
                None => {}
            }
            state.insert(id, 1);
            path.push(id);
            cur = ids
                .get(&id)
                .and_then(|f| f.delta.as_ref())
                .and_then(|d| d.basis)
                .filter(|b| ids.contains_key(b));
        }
        for id in path {
            state.insert(id, 2);
        }
    }
    cyclic
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::servicing::cix::CixDelta;

    fn file(id: u64, basis: Option<u64>) -> CixFile {
        CixFile {
            id,
            name: format!("f{id}").into(),
            length: 0,
            time: None,
            attr: None,
            hash: None,
            delta: Some(CixDelta {
                source: None,
                basis,
            }),
            line: 1,
        }
    }

    #[test]
    fn cycles_found_once_each() {
        let files = [
            file(1, None),
            file(2, Some(1)),
            file(3, Some(4)),
            file(4, Some(3)),
            file(5, Some(3)),
            file(6, Some(6)),
            file(7, Some(99)),
        ];
        let ids: HashMap<u64, &CixFile> = files.iter().map(|f| (f.id, f)).collect();
        let mut c: Vec<u64> = cyclic_ids(&ids).into_iter().collect();
        c.sort();
        assert_eq!(c, [3, 4, 6]);
        // A long chain is linear, not quadratic.
        let chain: Vec<CixFile> = (0..200_000u64).map(|i| file(i, i.checked_sub(1))).collect();
        let ids: HashMap<u64, &CixFile> = chain.iter().map(|f| (f.id, f)).collect();
        assert!(cyclic_ids(&ids).is_empty());
    }
}

#[cfg(test)]
mod occurring_tests {
    use crate::model::{SortedBytes, occurring};

    /// The one-pass search finds exactly what `memmem` finds.
    #[test]
    fn agrees_with_memmem() {
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8 % 7
        };
        let hays: Vec<Vec<u8>> = (0..5)
            .map(|k| (0..400 + k * 37).map(|_| next()).collect())
            .collect();
        let mut needles: Vec<Vec<u8>> = Vec::new();
        for len in [1usize, 2, 3, 4, 5, 6, 7, 20, 32] {
            for k in 0..30 {
                let h = &hays[k % hays.len()];
                let at = (k * 13) % (h.len() - len);
                let mut n = h[at..at + len].to_vec();
                if k % 3 == 0 {
                    n[len / 2] ^= 0x40;
                }
                needles.push(n);
            }
        }
        needles.push(hays[4][hays[4].len() - 32..].to_vec());
        needles.push(hays[0][..20].to_vec());
        let hs: Vec<&[u8]> = hays.iter().map(|h| &h[..]).collect();
        let ns: Vec<&[u8]> = needles.iter().map(|n| &n[..]).collect();
        let want: Vec<bool> = ns
            .iter()
            .map(|n| hs.iter().any(|h| memchr::memmem::find(h, n).is_some()))
            .collect();
        assert!(want.iter().any(|w| *w) && want.iter().any(|w| !*w));
        assert_eq!(occurring(&hs, &SortedBytes::new(&ns)), want);
    }
}
