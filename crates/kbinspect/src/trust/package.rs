//! The trust check of a whole package: every signature (the input, each
//! signed cabinet inside, each catalog), catalog coverage of the servicing
//! documents, payload files looked up in the catalogs, and the Windows
//! Update catalog's `name_<sha1>` download names.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use serde::Serialize;

use super::chain::RootStore;
use super::ctl::Ctl;
use super::digest::{self, Alg};
use super::pkcs7::{self, Content, SignatureReport};
use crate::finding::{Code, Finding, Severity};
use crate::model::{Expansion, LoadOptions, Location, MemberKind, Package};

/// What the trust check is judged against.
#[derive(Debug, Clone)]
pub struct TrustOptions {
    pub store: RootStore,
    /// Seconds since 1970 used when a signature has neither a timestamp
    /// nor a signing time.
    pub now: i64,
}

impl Default for TrustOptions {
    fn default() -> Self {
        TrustOptions {
            store: RootStore::microsoft(),
            now: super::now(),
        }
    }
}

/// A stored file's PE (Authenticode) hash in one algorithm: not yet
/// computed, or computed (`None` when the file is not a PE image).
type PeHash = Option<Option<Vec<u8>>>;

/// One catalog and what it covers.
#[derive(Debug, Clone, Serialize)]
pub struct CatalogReport {
    pub member: String,
    /// The catalog's signature verified (see `signatures`).
    pub verified: bool,
    pub entries: usize,
    /// Servicing documents listed in it (shared with the proofs).
    pub documents: Vec<Arc<str>>,
    /// Payload files found in it.
    pub files: usize,
    /// Entries no member of the package matched.
    pub unmatched_entries: usize,
}

/// How one servicing document or file is tied to a signature.
#[derive(Debug, Clone, Serialize)]
pub struct Proof {
    /// Member path (documents, stored files) or `component/file` (rebuilt).
    /// Shared, not copied: a large package has thousands of proofs, and
    /// the catalog lists name the same documents.
    pub subject: Arc<str>,
    pub catalog: Option<Arc<str>>,
    /// `sha256`, `sha1`, `pe-sha256`, `pe-sha1`.
    pub by: Option<&'static str>,
    /// `stored` or `rebuilt` for files; `document` for mums/manifests.
    pub source: &'static str,
}

/// Counts for the summary line and tests.
#[derive(Debug, Clone, Default, Serialize)]
pub struct TrustSummary {
    pub signatures: usize,
    pub signatures_verified: usize,
    pub roots: Vec<String>,
    pub catalogs: usize,
    pub catalogs_verified: usize,
    pub documents: usize,
    pub documents_covered: usize,
    pub files: usize,
    pub files_found: usize,
    pub files_by_flat_hash: usize,
    pub files_by_pe_hash: usize,
}

/// The trust part of the `verify` report (JSON key `trust`).
#[derive(Debug, Clone, Serialize)]
pub struct TrustReport {
    pub summary: TrustSummary,
    pub signatures: Vec<SignatureReport>,
    pub catalogs: Vec<CatalogReport>,
    pub documents: Vec<Proof>,
    pub files: Vec<Proof>,
    pub revocation: String,
}

pub use super::download_name_sha1;

#[derive(Clone)]
struct Cat {
    member: Arc<str>,
    verified: bool,
    ctl: std::sync::Arc<Ctl>,
}

/// The signatures of a package verified: the input's, its nested
/// cabinets' and its catalogs' (with each catalog's CTL), and what was
/// found wrong with them; for the roots and time they were judged against.
/// The load computes it beside the delta rebuilds when
/// [`LoadOptions::trust`] is given ([`Package::presigned`]); the trust
/// check takes it from there when the roots and time are the same.
#[derive(Clone)]
pub struct Signed {
    findings: Vec<Finding>,
    signatures: Vec<SignatureReport>,
    cats: Vec<Cat>,
    judged_by: JudgedBy,
}

/// The roots (fingerprint, origin, metadata) and the time of a judgement.
type JudgedBy = (Vec<([u8; 32], String, Vec<String>)>, i64);

impl Signed {
    fn judged_by(opts: &TrustOptions) -> JudgedBy {
        (
            opts.store
                .roots
                .iter()
                .map(|r| (r.cert.fingerprint, r.origin.clone(), r.metadata.clone()))
                .collect(),
            opts.now,
        )
    }
}

impl std::fmt::Debug for Signed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Signed")
            .field("signatures", &self.signatures.len())
            .field("catalogs", &self.cats.len())
            .finish_non_exhaustive()
    }
}

/// Verify every signature of a loaded package (steps 1–3 of [`check`]):
/// needs nothing the delta rebuilds give, so the load runs it beside them.
pub fn signatures(pkg: &Package, opts: &TrustOptions) -> Signed {
    signatures_with(pkg, opts, None)
}

/// The load verifies the signatures beside the delta rebuilds with these
/// roots ([`LoadOptions::trust`]).
impl crate::model::Presign for TrustOptions {
    fn presign(
        &self,
        pkg: &Package,
        input: Option<&digest::InputDigests>,
    ) -> crate::model::Presigned {
        crate::model::Presigned(std::sync::Arc::new(signatures_with(pkg, self, input)))
    }

    fn catalog(&self, path: &str, bytes: &[u8], read: &super::ReadCtl) -> crate::model::Presigned {
        let (report, ctl) =
            super::verify_bytes_with(bytes, path, &self.store, self.now, Some(read));
        crate::model::Presigned(std::sync::Arc::new(CatalogSigned {
            judged_by: Signed::judged_by(self),
            report,
            ctl,
        }))
    }
}

/// A catalog the load verified as it read it ([`Presign::catalog`]).
struct CatalogSigned {
    judged_by: JudgedBy,
    report: SignatureReport,
    ctl: Option<std::sync::Arc<Ctl>>,
}

/// [`signatures`], with the input's digests when the package does not hold
/// them yet (the load takes them beside the rebuilds, then stores them).
fn signatures_with(
    pkg: &Package,
    opts: &TrustOptions,
    input_digests: Option<&digest::InputDigests>,
) -> Signed {
    let mut findings = Vec::new();
    let mut signatures = Vec::new();
    // 1. The input itself.
    if let Some(top) = pkg.containers.iter().find(|c| c.path.is_empty())
        && top.kind.is_cabinet()
    {
        // Streamed once more, in 1 MiB reads, only when the load did not
        // digest the input as it walked it (or a signature asks for an
        // algorithm it did not compute): the whole-file SHA-1 (for a
        // catalog-download name) and the Authenticode ranges at once, with
        // nothing but the signature blob kept.
        let read = || -> std::io::Result<digest::InputDigests> {
            use std::io::Read as _;
            let mut f = std::fs::File::open(&pkg.input)?;
            let mut buf = vec![0u8; 1 << 20];
            let mut head_len = 0;
            while head_len < 64 {
                let n = f.read(&mut buf[head_len..])?;
                if n == 0 {
                    break;
                }
                head_len += n;
            }
            let want_sha1 = download_name_sha1(&pkg.input).is_some();
            let mut d =
                digest::InputDigester::new(&buf[..head_len], digest::CabAlgs::ALL, want_sha1);
            let mut n = head_len;
            loop {
                d.update(&buf[..n]);
                n = f.read(&mut buf)?;
                if n == 0 {
                    break;
                }
            }
            Ok(d.finish())
        };
        let again = std::cell::OnceCell::new();
        let input = match input_digests.or(pkg.input_digests.as_deref()) {
            Some(d) => Ok(d.clone()),
            None => read(),
        };
        match input {
            Ok(digest::InputDigests { sha1, cab }) => {
                if let (Some(want), Some(got)) =
                    (download_name_sha1(&pkg.input), sha1.map(hex::encode))
                    && got != want
                {
                    findings.push(Finding::error(
                        Code::DownloadNameMismatch,
                        &pkg.input,
                        format!("the name says SHA-1 {want}, the file's SHA-1 is {got}: not the file the update catalog published under this name"),
                    ));
                }
                let d = |a| {
                    cab.digest(a).or_else(|| {
                        again
                            .get_or_init(|| read().ok())
                            .as_ref()
                            .and_then(|d: &digest::InputDigests| d.cab.digest(a))
                    })
                };
                if let Some(sig) = cab.signature.as_deref().filter(|b| !b.is_empty()) {
                    let mut r =
                        pkcs7::verify(sig, &pkg.input, Content::Cab(&d), &opts.store, opts.now)
                            .report;
                    place_data_after(&mut r, cab.range);
                    signatures.push(r);
                } else if cab.range.is_some() {
                    findings.push(Finding::error(
                        Code::TrustUnreadable,
                        &pkg.input,
                        "the header points at a signature outside the file",
                    ));
                }
            }
            Err(e) => findings.push(Finding::warning(
                Code::TrustUncheckedUnreadableInput,
                &pkg.input,
                format!("cannot read the input again for its signature: {e}"),
            )),
        }
    }
    // 2. Signed cabinets inside. Their digests were taken in the walk, in
    // the algorithms the input's own signature uses; one whose signature
    // asks for another is read again.
    for m in pkg.members() {
        if let Some(d) = m.cab_digests() {
            let again = std::cell::OnceCell::new();
            let f = |a| {
                d.digest(a).or_else(|| {
                    again
                        .get_or_init(|| pkg.cab_digests_again(&m.path))
                        .as_ref()
                        .and_then(|d: &digest::CabDigests| d.digest(a))
                })
            };
            if let Some(sig) = &d.signature {
                let mut r =
                    pkcs7::verify(sig, &m.path, Content::Cab(&f), &opts.store, opts.now).report;
                place_data_after(&mut r, d.range);
                signatures.push(r);
            } else if d.range.is_some() {
                findings.push(Finding::error(
                    Code::TrustUnreadable,
                    &*m.path,
                    "the header points at a signature that is not in the cabinet (or over 4 MiB)",
                ));
            }
        }
    }
    // 3. Catalogs.
    let mut cats: Vec<Cat> = Vec::new();
    let catalog_members: Vec<_> = pkg
        .members()
        .iter()
        .filter(|m| m.kind == MemberKind::Catalog)
        .collect();
    let judged_by = Signed::judged_by(opts);
    let verified: Vec<_> = pkg.context().map(&catalog_members, |m| {
        // Verified by the load as it read it, against these roots.
        if let Some(c) = m
            .catalog_presigned()
            .and_then(|p| p.0.downcast_ref::<CatalogSigned>())
            .filter(|c| c.judged_by == judged_by)
        {
            return Some((c.report.clone(), c.ctl.clone()));
        }
        catalog_bytes(pkg, m).map(|b| {
            super::verify_bytes_with(&b, &m.path, &opts.store, opts.now, pkg.read_ctl(&m.path))
        })
    });
    for (m, v) in catalog_members.iter().zip(verified) {
        let Some((report, ctl)) = v else {
            findings.push(Finding::warning(
                Code::TrustUncheckedCatalogNotRead,
                &*m.path,
                "the catalog was not kept in memory (over the metadata cap?)",
            ));
            continue;
        };
        cats.push(Cat {
            member: m.path.clone(),
            verified: report.verified(),
            ctl: ctl.unwrap_or_default(),
        });
        signatures.push(report);
    }
    for s in &signatures {
        signature_findings(s, &mut findings);
    }
    Signed {
        findings,
        signatures,
        cats,
        judged_by: Signed::judged_by(opts),
    }
}

/// A catalog's bytes: kept, or read again when the load let them go after
/// verifying it (a check against other roots, a file-name look-up).
fn catalog_bytes<'a>(
    pkg: &'a Package,
    m: &'a crate::model::Member,
) -> Option<std::borrow::Cow<'a, [u8]>> {
    use std::borrow::Cow;
    m.bytes()
        .map(Cow::Borrowed)
        .or_else(|| pkg.bytes_again(m).map(Cow::Owned))
}

/// Check the whole chain of trust of a loaded package.
pub fn check(
    pkg: &Package,
    load: &LoadOptions,
    opts: &TrustOptions,
) -> (Vec<Finding>, TrustReport) {
    let Signed {
        mut findings,
        signatures,
        cats,
        ..
    } = match pkg.presigned().and_then(|p| p.0.downcast_ref::<Signed>()) {
        Some(s) if s.judged_by == Signed::judged_by(opts) => s.clone(),
        _ => self::signatures(pkg, opts),
    };
    // Hash → (catalog, entry) over verified catalogs only, borrowing the
    // hashes (a large package's catalogs list tens of thousands).
    let mut index: HashMap<&[u8], (usize, usize)> = HashMap::new();
    for (ci, c) in cats.iter().enumerate().filter(|(_, c)| c.verified) {
        index.reserve(c.ctl.entries.len());
        for (h, ei) in c.ctl.hashes() {
            index.entry(h).or_insert((ci, ei));
        }
    }
    // The entries each catalog had matched, by catalog.
    let mut matched: Vec<HashSet<usize>> = vec![HashSet::new(); cats.len()];
    let verified_names: Vec<&str> = cats
        .iter()
        .filter(|c| c.verified)
        .map(|c| &*c.member)
        .collect();
    let searched = match verified_names.len() {
        0 => "none verified".to_string(),
        n if n <= 8 => verified_names.join(", "),
        n => format!("{} and {} more", verified_names[..8].join(", "), n - 8),
    };
    let lookup = |matched: &mut Vec<HashSet<usize>>, h: &[u8]| -> Option<usize> {
        let (ci, ei) = *index.get(h)?;
        matched[ci].insert(ei);
        Some(ci)
    };
    // 4. Servicing documents.
    let mut documents = Vec::new();
    let docs: Vec<_> = pkg
        .members()
        .iter()
        .filter(|m| m.kind.is_document())
        .collect();
    // Signed, yet no catalog: the documents cannot be tied to the
    // signatures. (A wholly unsigned package gets the `unsigned` warning.)
    if cats.is_empty() && !docs.is_empty() && !signatures.is_empty() {
        findings.push(Finding::warning(
            Code::TrustUncheckedNoCatalog,
            &pkg.input,
            format!(
                "no .cat catalog in the package: its {} servicing documents cannot be tied to a signature",
                docs.len()
            ),
        ));
    }
    // Catalogs that can only be reported as unchecked (no signer at all):
    // the documents are not tied to a signature, which is incomplete, not
    // broken.
    let all_unchecked = !cats.is_empty()
        && signatures
            .iter()
            .filter(|s| s.kind == "catalog")
            .all(|s| s.result == "unchecked");
    if all_unchecked && !docs.is_empty() {
        findings.push(Finding::warning(
            Code::TrustUncheckedCatalogs,
            &pkg.input,
            format!(
                "no catalog carries a signer: the package's {} servicing documents cannot be tied to a signature",
                docs.len()
            ),
        ));
    }
    for m in &docs {
        let mut by = None;
        let mut cat = None;
        if let Some(ci) = lookup(&mut matched, &m.sha256) {
            by = Some("sha256");
            cat = Some(ci);
        } else {
            let sha1 = m
                .sha1
                .map(|h| h.to_vec())
                .or_else(|| m.bytes().map(|b| Alg::Sha1.hash(b)));
            if let Some(ci) = sha1.and_then(|h| lookup(&mut matched, &h)) {
                by = Some("sha1");
                cat = Some(ci);
            }
        }
        if cat.is_none() && !cats.is_empty() && !all_unchecked {
            findings.push(Finding::error(
                Code::CatalogMissing,
                &*m.path,
                format!(
                    "neither its SHA-256 {} nor its SHA-1 is listed in a verified catalog (searched: {})",
                    m.sha256_hex(),
                    searched
                ),
            ));
        }
        documents.push(Proof {
            subject: m.path.clone(),
            catalog: cat.map(|ci| cats[ci].member.clone()),
            by,
            source: "document",
        });
    }
    // 5. Payload files whose bytes (or hashes) we hold.
    let mut files = Vec::new();
    let mut need_pe: HashMap<(usize, usize), usize> = HashMap::new();
    // Per member: the SHA-256 and SHA-1 PE hashes, once computed.
    let mut pe_hashes: HashMap<Arc<str>, [PeHash; 2]> = HashMap::new();
    let index_lens: HashSet<usize> = index.keys().map(|h| h.len()).collect();
    if cats.iter().any(|c| c.verified) {
        for (ci, c) in pkg.components.iter().enumerate() {
            for (fi, f) in c.files.iter().enumerate() {
                let (subject, source, sha256, sha1, bytes) = match &f.location {
                    Location::Stored { member, .. } => {
                        let Some(m) = pkg.member(member) else {
                            continue;
                        };
                        (
                            m.path.clone(),
                            "stored",
                            Some(m.sha256.to_vec()),
                            m.sha1.map(|h| h.to_vec()),
                            m.bytes(),
                        )
                    }
                    _ => match &f.expansion {
                        Some(Expansion::Rebuilt { sha256, sha1 }) => (
                            Arc::from(format!("{}/{}", c.member, f.name)),
                            "rebuilt",
                            hex::decode(sha256).ok(),
                            hex::decode(sha1).ok(),
                            None,
                        ),
                        _ => continue,
                    },
                };
                let mut found = None;
                for (h, label) in [(sha256, "sha256"), (sha1, "sha1")] {
                    if found.is_none()
                        && let Some(ci2) = h.and_then(|h| lookup(&mut matched, &h))
                    {
                        found = Some((ci2, label));
                    }
                }
                if found.is_none()
                    && let Some(b) = bytes
                {
                    // Many files can be one stored member: its PE hashes
                    // are computed once.
                    // Each algorithm only when the one before did not
                    // match and a verified catalog lists hashes of its
                    // length.
                    let hashes = pe_hashes.entry(subject.clone()).or_default();
                    for (i, (alg, label)) in [(Alg::Sha256, "pe-sha256"), (Alg::Sha1, "pe-sha1")]
                        .into_iter()
                        .enumerate()
                    {
                        if found.is_some() || !index_lens.contains(&alg.output_len()) {
                            continue;
                        }
                        let h = hashes[i]
                            .get_or_insert_with(|| digest::pe_authenticode(b, alg))
                            .clone();
                        if let Some(ci2) = h.and_then(|h| lookup(&mut matched, &h)) {
                            found = Some((ci2, label));
                        }
                    }
                }
                if found.is_none() && source == "rebuilt" && f.pe.is_some() {
                    need_pe.insert((ci, fi), files.len());
                }
                files.push(Proof {
                    subject,
                    catalog: found.map(|(c, _)| cats[c].member.clone()),
                    by: found.map(|(_, l)| l),
                    source,
                });
            }
        }
    }
    // Rebuilt PE files: by the Authenticode hashes the load computed while
    // it held their bytes; a file without them (loaded without
    // `keep_trust`) is rebuilt again below.
    need_pe.retain(|&(ci, fi), &mut pi| {
        let Some(auth) = pkg
            .components
            .get(ci)
            .and_then(|c| c.files.get(fi))
            .and_then(|f| f.pe_authenticode())
        else {
            return true;
        };
        let hashes = [(&auth.sha256, "pe-sha256"), (&auth.sha1, "pe-sha1")];
        match hashes.into_iter().find_map(|(h, label)| {
            let &(cat, _) = index.get(h.as_deref()?)?;
            Some((cat, label))
        }) {
            Some((cat, label)) => {
                if let Some(p) = files.get_mut(pi) {
                    p.catalog = Some(cats[cat].member.clone());
                    p.by = Some(label);
                }
                false
            }
            // SHA-1 was skipped for a SHA-256 hash that only an
            // unverified catalog lists: rebuilt and hashed again below.
            None => auth.partial,
        }
    });
    if !need_pe.is_empty() {
        let mut hits: Vec<(usize, usize, &'static str)> = Vec::new();
        let mut sink = |ci: usize, fi: usize, r: Result<&[u8], &crate::msdelta::ChainError>| {
            if let (Some(&pi), Ok(b)) = (need_pe.get(&(ci, fi)), r) {
                for (a, label) in [(Alg::Sha256, "pe-sha256"), (Alg::Sha1, "pe-sha1")] {
                    if let Some(h) = digest::pe_authenticode(b, a)
                        && let Some(&(cat, _)) = index.get(h.as_slice())
                    {
                        hits.push((pi, cat, label));
                        break;
                    }
                }
            }
        };
        pkg.rebuild_where(load, &|ci, fi| need_pe.contains_key(&(ci, fi)), &mut sink);
        for (pi, cat, label) in hits {
            if let Some(p) = files.get_mut(pi) {
                p.catalog = Some(cats[cat].member.clone());
                p.by = Some(label);
            }
        }
    }
    // File name → catalog, for files no verified catalog lists by hash:
    // built only when there is one.
    let mut names: HashMap<String, usize> = HashMap::new();
    if files.iter().any(|p| p.catalog.is_none()) {
        for (ci, c) in cats.iter().enumerate().filter(|(_, c)| c.verified) {
            let bytes = pkg.member(&c.member).and_then(|m| catalog_bytes(pkg, m));
            for f in bytes
                .map(|b| super::ctl::file_names(&b))
                .unwrap_or_default()
            {
                names.entry(f).or_insert(ci);
            }
        }
    }
    for p in files.iter().filter(|p| p.catalog.is_none()) {
        let name = p
            .subject
            .rsplit('/')
            .next()
            .unwrap_or(&p.subject)
            .to_ascii_lowercase();
        match names.get(&name) {
            Some(&ci) => findings.push(Finding::error(
                Code::CatalogMismatch,
                &*p.subject,
                format!(
                    "catalog {} lists a file of this name, but neither the file's hash nor its PE Authenticode hash is listed in a verified catalog",
                    cats[ci].member
                ),
            )),
            None => findings.push(Finding::warning(
                Code::TrustUncheckedFileNotInCatalog,
                &*p.subject,
                "no verified catalog lists this file's hash (nor its name)",
            )),
        }
    }
    // Summary.
    let mut roots: Vec<String> = Vec::new();
    fn walk_roots(s: &SignatureReport, roots: &mut Vec<String>) {
        if let Some(r) = s.chain.as_ref().and_then(|c| c.root.clone())
            && !roots.contains(&r)
        {
            roots.push(r);
        }
        for n in &s.nested {
            walk_roots(n, roots);
        }
    }
    for s in &signatures {
        walk_roots(s, &mut roots);
    }
    // Documents and files by the catalog that covers them, in one pass.
    // (Catalogs are named by member path; two of one name share.)
    let mut by_member: HashMap<&str, Vec<usize>> = HashMap::new();
    for (ci, c) in cats.iter().enumerate() {
        by_member.entry(&*c.member).or_default().push(ci);
    }
    let covering = |p: &Proof| -> &[usize] {
        p.catalog
            .as_deref()
            .and_then(|m| by_member.get(m))
            .map_or(&[], Vec::as_slice)
    };
    let mut covered_docs: Vec<Vec<Arc<str>>> = vec![Vec::new(); cats.len()];
    for d in &documents {
        for &ci in covering(d) {
            covered_docs[ci].push(d.subject.clone());
        }
    }
    let mut covered_files = vec![0usize; cats.len()];
    for f in &files {
        for &ci in covering(f) {
            covered_files[ci] += 1;
        }
    }
    let catalogs: Vec<CatalogReport> = cats
        .iter()
        .zip(covered_docs)
        .enumerate()
        .map(|(ci, (c, documents))| CatalogReport {
            member: c.member.to_string(),
            verified: c.verified,
            entries: c.ctl.entries.len(),
            documents,
            files: covered_files[ci],
            unmatched_entries: c.ctl.entries.len().saturating_sub(matched[ci].len()),
        })
        .collect();
    let summary = TrustSummary {
        signatures: signatures.len(),
        signatures_verified: signatures.iter().filter(|s| s.verified()).count(),
        roots,
        catalogs: cats.len(),
        catalogs_verified: cats.iter().filter(|c| c.verified).count(),
        documents: documents.len(),
        documents_covered: documents.iter().filter(|d| d.catalog.is_some()).count(),
        files: files.len(),
        files_found: files.iter().filter(|f| f.catalog.is_some()).count(),
        files_by_flat_hash: files
            .iter()
            .filter(|f| matches!(f.by, Some("sha256" | "sha1")))
            .count(),
        files_by_pe_hash: files
            .iter()
            .filter(|f| f.by.is_some_and(|b| b.starts_with("pe-")))
            .count(),
    };
    (
        findings,
        TrustReport {
            summary,
            signatures,
            catalogs,
            documents,
            files,
            revocation: "not checked: no CRL or OCSP is fetched (offline)".into(),
        },
    )
}

/// A cabinet signature's bytes past its DER, placed in the cabinet.
fn place_data_after(r: &mut SignatureReport, range: Option<(u64, u64)>) {
    if let Some(d) = r.data_after.as_mut() {
        d.base = range.map(|(pos, _)| pos);
    }
}

/// Unsigned attribute values that no check reads, in a signature and the
/// signatures nested in it: one finding for each signature that has any.
fn unused_unsigned_findings(s: &SignatureReport, out: &mut Vec<Finding>) {
    if !s.unused_unsigned.is_empty() {
        let list: Vec<String> = s
            .unused_unsigned
            .iter()
            .map(|(oid, len)| format!("{oid} ({len} bytes)"))
            .collect();
        out.push(Finding::warning(
            Code::TrustUnusedUnsignedAttribute,
            s.file.clone(),
            format!(
                "unsigned attribute value(s) that no check reads: {}; the signature does not \
                 cover them, so data can ride in them (Microsoft's signatures carry only a \
                 timestamp and nested signatures there)",
                list.join(", ")
            ),
        ));
    }
    for n in &s.nested {
        unused_unsigned_findings(n, out);
    }
}

/// Findings for one signature report (nested ones included).
fn signature_findings(s: &SignatureReport, out: &mut Vec<Finding>) {
    unused_unsigned_findings(s, out);
    let mut seen = HashSet::new();
    for p in s.all_problems() {
        if !seen.insert((p.code, p.detail.clone())) {
            continue;
        }
        let sev = if p.unchecked() {
            Severity::Warning
        } else {
            Severity::Error
        };
        out.push(Finding::new(sev, p.code, s.file.clone(), p.detail.clone()));
    }
    if let Some(d) = s.data_after {
        let at = match (s.kind.as_str(), d.base) {
            ("catalog", _) => format!("at offset {} of the catalog", d.first),
            (_, Some(base)) => format!("at offset {} of the cabinet", base + d.first as u64),
            (_, None) => format!("at byte {} of the cabinet's signature area", d.first),
        };
        let area = if s.kind == "catalog" {
            ""
        } else {
            " (the cabinet's digest skips its signature area)"
        };
        out.push(Finding::warning(
            Code::TrustDataAfterSignature,
            s.file.clone(),
            format!(
                "{} of the {} bytes after the signature's DER are not zero, the first {at}: \
                 nothing verified covers them{area}, so data can hide there; Windows' certificate \
                 padding check (CVE-2013-3900) refuses such a file",
                d.nonzero, d.len
            ),
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::container::Limits;

    fn sample() -> (Package, LoadOptions, TrustOptions) {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata");
        let load = LoadOptions::default();
        let pkg = Package::load_with(
            &root.join("Windows6.1-KB975354-x86.msu"),
            &Limits::default(),
            &load,
        )
        .unwrap();
        let mut opts = TrustOptions::default();
        opts.store
            .add_file(&root.join("trust/test-keys/TEST-ONLY-root.pem"))
            .unwrap();
        (pkg, load, opts)
    }

    fn json(r: &(Vec<Finding>, TrustReport)) -> String {
        serde_json::to_string(&(&r.0, &r.1)).unwrap()
    }

    /// The sample, loaded with `opts`' roots verified by the load on
    /// `threads` threads, catalogs kept whole up to `catalogs_kept` bytes.
    fn load_presigned(
        opts: &TrustOptions,
        threads: usize,
        catalogs_kept: u64,
    ) -> (LoadOptions, Package) {
        let with = LoadOptions {
            trust: Some(std::sync::Arc::new(opts.clone())),
            catalogs_kept,
            context: crate::container::DecodeContext::new(
                std::num::NonZeroUsize::new(threads).unwrap(),
            ),
            ..LoadOptions::default()
        };
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata");
        let early = Package::load_with(
            &root.join("Windows6.1-KB975354-x86.msu"),
            &Limits::default(),
            &with,
        )
        .unwrap();
        (with, early)
    }

    /// `early`'s trust report is the one the check gives working alone
    /// (`alone`); against Microsoft's roots only, it is verified again and
    /// the test root is then untrusted.
    fn assert_reports_as_alone(early: &Package, with: &LoadOptions, alone: &str, threads: usize) {
        let (pkg, load, opts) = sample();
        assert_eq!(json(&check(early, with, &opts)), alone, "{threads} threads");
        let microsoft = TrustOptions::default();
        assert_eq!(
            json(&check(early, with, &microsoft)),
            json(&check(&pkg, &load, &microsoft))
        );
        assert_ne!(json(&check(early, with, &microsoft)), alone);
    }

    /// Signatures verified during the load, beside the delta rebuilds, with
    /// the input's and its cabinets' digests taken there from bytes the walk
    /// kept: the same report as the trust check working alone, with one
    /// thread or two; a check against other roots does not reuse them.
    #[test]
    fn signatures_verified_in_the_load_report_the_same() {
        let (pkg, load, opts) = sample();
        let alone = json(&check(&pkg, &load, &opts));
        for threads in [1, 2] {
            let (with, early) =
                load_presigned(&opts, threads, LoadOptions::default().catalogs_kept);
            assert!(early.presigned().is_some());
            assert!(early.pending_input.is_none());
            // The catalogs' bytes were let go; the checks against other
            // roots below read them again.
            assert!(early.catalogs_released);
            assert!(
                early
                    .members
                    .iter()
                    .filter(|m| m.kind == MemberKind::Catalog)
                    .all(|m| m.bytes().is_none() && m.catalog_presigned().is_none())
            );
            assert!(early.input_digests.is_some());
            if threads == 2 {
                assert!(
                    early.members.iter().any(|m| matches!(
                        m.rare.as_ref().and_then(|r| r.cab_auth.as_ref()),
                        Some(crate::model::CabAuth::Later { .. })
                    )),
                    "the nested cabinet's digests were left for the rebuild stage"
                );
            }
            assert_reports_as_alone(&early, &with, &alone, threads);
        }
    }

    /// Catalogs past `catalogs_kept` are verified as the walk reads them
    /// and their bytes let go at once: the report is the same as when all
    /// are verified at the end, and against other roots they are read and
    /// verified again.
    #[test]
    fn catalogs_verified_as_they_are_read_report_the_same() {
        let (pkg, load, opts) = sample();
        let alone = json(&check(&pkg, &load, &opts));
        for threads in [1, 2] {
            let (with, early) = load_presigned(&opts, threads, 0);
            let cats: Vec<_> = early
                .members
                .iter()
                .filter(|m| m.kind == MemberKind::Catalog)
                .collect();
            assert!(!cats.is_empty());
            for m in &cats {
                assert!(m.catalog_presigned().is_some(), "{}", m.path);
                assert!(m.bytes().is_none(), "{}", m.path);
            }
            assert_reports_as_alone(&early, &with, &alone, threads);
        }
    }

    /// The walk digests the input and its cabinets only in the algorithms
    /// the input's signature uses; a signature asking for another one is
    /// answered by reading the input (or the cabinet) again, with the same
    /// report as when every digest was at hand.
    #[test]
    fn digests_missing_from_the_walk_are_computed_again() {
        let (pkg, load, opts) = sample();
        let input = pkg.input_digests.as_deref().expect("digested in the walk");
        assert!(input.cab.sha256.is_some());
        assert!(
            input.cab.sha1.is_none(),
            "the sample is signed with SHA-256 only"
        );
        let full = check(&pkg, &load, &opts);
        assert!(full.1.summary.signatures >= 2, "{:?}", full.1.summary);
        assert_eq!(
            full.1.summary.signatures,
            full.1.summary.signatures_verified
        );
        // Without the SHA-256 digests of the walk: read again.
        let mut stripped = pkg.clone();
        if let Some(d) = stripped.input_digests.as_deref_mut() {
            d.cab.sha256 = None;
        }
        let mut nested = 0;
        for m in &mut stripped.members {
            if let Some(crate::model::CabAuth::Done(d)) =
                m.rare.as_mut().and_then(|r| r.cab_auth.as_mut())
            {
                d.sha256 = None;
                nested += 1;
            }
        }
        assert!(nested >= 1);
        assert_eq!(json(&check(&stripped, &load, &opts)), json(&full));
        // No digest of the input at all (loaded elsewhere): read again.
        stripped.input_digests = None;
        assert_eq!(json(&check(&stripped, &load, &opts)), json(&full));
    }
}
