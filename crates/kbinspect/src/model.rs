//! The package model: what an update package contains, built in one pass.
//!
//! [`Package::load`] walks the input once ([`crate::container::walk`]),
//! hashes every member while it streams past (SHA-256 and SHA-1), keeps the
//! bytes only of what must be parsed afterwards (servicing XML, delta blobs,
//! PE payloads, each under a size cap), then parses:
//!
//! - [`Package::packages`]: the `.mum` package manifests,
//! - [`Package::components`]: component and deployment manifests, each with
//!   its [`File`]s and where each file's bytes are ([`Location`]),
//! - [`Package::indexes`]: container indexes (`*.cix.xml`),
//! - [`Package::deltas`]: PA30/PA19 delta blobs and their headers,
//! - [`Package::members`]: every member with size, hashes and timestamp,
//! - [`Package::findings`]: problems met while loading (container anomalies,
//!   unreadable members, malformed XML naming member and line/column).
//!
//! Loading never fails on bad metadata: a malformed manifest is a finding
//! and the rest of the package is still modelled. Only an input that cannot
//! be opened at all is an error. Checks live in [`crate::check`].
//!
//! ```no_run
//! use kbinspect::{container::Limits, model::Package};
//! let pkg = Package::load("update.msu".as_ref(), &Limits::default())?;
//! for c in &pkg.components {
//!     println!("{} {} files", c.keyform, c.files.len());
//! }
//! # Ok::<(), kbinspect::model::Error>(())
//! ```

use std::collections::HashMap;
use std::io::BufRead;
use std::path::Path;

use serde::Serialize;
use sha1::Digest as _;
use sha2::Sha256;

use crate::container::{self, ContainerInfo, Limits, MemberMeta, Timestamp};
use crate::finding::{Code, Finding};
use crate::msdelta::{self, ChainErrorKind, ChainRebuilder, DeltaHeader, Rebuilt, Recipe, Step};
use crate::pe::{self, PeVersion};
use crate::servicing::cix::{ContainerIndex, SourceLocation, SourceType};
use crate::servicing::component::{self, Dependency, DigestAlg, RegistryKey};
use crate::servicing::identity::{Identity, Keyform};
use crate::servicing::mum::{self, Mum};
use crate::servicing::xml::XmlLimits;
use crate::servicing::{self, DocKind, cix};

/// Caps on what the model keeps in memory.
#[derive(Debug, Clone)]
pub struct LoadOptions {
    /// Largest servicing XML document kept for parsing.
    pub max_metadata_size: u64,
    /// Largest delta blob kept (for its header and later expansion).
    pub max_delta_size: u64,
    /// Largest PE payload kept for its version resource.
    pub max_pe_size: u64,
    /// Total bytes kept across all members; beyond it PE payloads are no
    /// longer read whole (their versions are then unknown).
    pub max_kept_total: u64,
    /// PE payloads are read whole for their version resource, then
    /// dropped, except up to this many bytes in all (kept as possible delta
    /// bases, and `wcp.dll` for its DCM base manifest). Keeps memory flat
    /// however large the package.
    pub max_kept_pe: u64,
    pub xml: XmlLimits,
    /// Rebuild delta-stored files (through their basis chains) to verify
    /// their bytes and read PE versions.
    pub expand_deltas: bool,
    pub delta: msdelta::DeltaLimits,
    /// Bytes all delta rebuilds may produce in one load (rebuilt files are
    /// held in memory while hashed). A target larger than what is left is
    /// refused before it is allocated; the file is then unproven, with the
    /// reason. [`LoadOptions::budget_for`] derives it from the walk limits.
    pub rebuild_budget: u64,
    /// The base manifest from wcp.dll (resource 614/1). With it, `DCM\x01`
    /// compressed manifests are expanded and parsed like plain ones.
    pub dcm_base: Option<Vec<u8>>,
    /// Keep each component's registry keys and values. Only `diff` reads
    /// them; `verify` and `ls` turn this off, which saves their strings for
    /// every manifest of the package while it is walked.
    pub keep_registry: bool,
    /// Keep what the trust check ([`crate::trust`]) reads: `.cat` bytes
    /// (under `max_metadata_size`) and, for each nested cabinet, its
    /// Authenticode digests and signature blob (computed as it streams).
    pub keep_trust: bool,
}

impl Default for LoadOptions {
    fn default() -> Self {
        LoadOptions {
            max_metadata_size: 32 << 20,
            // Real delta blobs are well under 64 MiB; what is kept must fit
            // the memory goal, whatever a hostile index names (a blob over
            // the cap is reported, and its files are unproven).
            max_delta_size: 64 << 20,
            max_pe_size: 256 << 20,
            max_kept_total: 192 << 20,
            max_kept_pe: 4 << 20,
            xml: XmlLimits::default(),
            expand_deltas: true,
            delta: msdelta::DeltaLimits::default(),
            rebuild_budget: 4 << 30,
            dcm_base: None,
            keep_registry: true,
            keep_trust: true,
        }
    }
}

impl LoadOptions {
    /// Tie delta rebuilds to the walk limits: rebuilt bytes count like
    /// decoded bytes against `--max-ratio` (at least 256 MiB, whatever the
    /// input's size, since rebuilds need no floor as large as streaming
    /// decodes) and `--max-total-size`, and no rebuilt file may exceed
    /// `--max-member-size`.
    pub fn budget_for(mut self, limits: &Limits, input_len: u64) -> Self {
        let mut budget = limits.max_total_size;
        if limits.max_ratio > 0 {
            budget = budget.min(input_len.saturating_mul(limits.max_ratio).max(256 << 20));
        }
        self.rebuild_budget = budget;
        self.delta.max_target_size = self.delta.max_target_size.min(limits.max_member_size);
        self
    }
}

/// Read the base manifest for `DCM\x01` manifests: either the base itself
/// (as extracted, e.g. `w10-base.manifest`) or a wcp.dll holding it as
/// resource 614/1.
pub fn read_dcm_base(path: &Path) -> Result<Vec<u8>, Error> {
    let bytes = std::fs::read(path).map_err(|source| container::Error::Io {
        path: path.display().to_string(),
        source,
    })?;
    if bytes.starts_with(b"MZ") {
        msdelta::base_from_wcp(&bytes).map_err(|e| Error::DcmBase {
            path: path.display().to_string(),
            message: format!("no DCM base manifest in this PE: {e}"),
        })
    } else {
        Ok(bytes)
    }
}

/// Why a package could not be loaded at all (everything less is a
/// [`Finding`] in the package).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The input could not be walked.
    #[error(transparent)]
    Container(#[from] container::Error),
    /// The DCM base manifest given by the caller is unusable.
    #[error("{path}: {message}")]
    DcmBase { path: String, message: String },
}

/// What a member is, from its name and first bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum MemberKind {
    Mum,
    Manifest,
    /// `DCM\x01` manifest, not parsed (needs the base manifest from wcp.dll).
    CompressedManifest,
    ContainerIndex,
    /// `.cat` security catalog.
    Catalog,
    /// A PA30/PA31/PA19 delta blob.
    Delta,
    /// A PE image (`MZ`).
    Pe,
    /// A cabinet opened by the walk.
    Container,
    Other,
}

impl MemberKind {
    /// The kebab-case name used in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            MemberKind::Mum => "mum",
            MemberKind::Manifest => "manifest",
            MemberKind::CompressedManifest => "compressed-manifest",
            MemberKind::ContainerIndex => "container-index",
            MemberKind::Catalog => "catalog",
            MemberKind::Delta => "delta",
            MemberKind::Pe => "pe",
            MemberKind::Container => "container",
            MemberKind::Other => "other",
        }
    }
}

/// One member of the input tree.
#[derive(Debug, Clone, Serialize)]
pub struct Member {
    /// Tree path (`Windows6.1-KB4538483-x86.cab/update.mum`).
    pub path: String,
    pub size: u64,
    /// SHA-256 of the bytes read (lower-case hex in JSON; [`Member::sha256_hex`]).
    /// Raw bytes, not hex text: a package has tens of thousands of members.
    #[serde(serialize_with = "serialize_hex")]
    pub sha256: [u8; 32],
    /// SHA-1 of the bytes read, for members that may be payloads (old
    /// manifests declare SHA-1 digests). Servicing XML, catalogs, delta
    /// blobs and cabinets are never SHA-1-checked, so their SHA-1 is not
    /// computed: it would double the hashing cost.
    #[serde(serialize_with = "serialize_hex_opt")]
    pub sha1: Option<[u8; 20]>,
    /// Timestamp stored in the container (CAB date/time or file mtime).
    pub timestamp: Option<Timestamp>,
    pub kind: MemberKind,
    /// The member could not be read completely (the error); its hashes
    /// cover only what was read.
    pub read_error: Option<String>,
    #[serde(skip)]
    pub(crate) bytes: Option<Vec<u8>>,
    /// Version resource of a PE member, read while its bytes were at hand
    /// (they are not kept past `max_kept_pe`).
    #[serde(skip)]
    pub(crate) pe: Option<Box<PeVersion>>,
    /// The servicing document, parsed as soon as the member was read so
    /// that its text need not wait in memory for the end of the walk.
    #[serde(skip)]
    parsed: Option<Parsed>,
    /// Trust: a nested cabinet's Authenticode digests and signature.
    #[serde(skip)]
    pub(crate) cab_auth: Option<Box<crate::digest::CabDigests>>,
}

/// A member's servicing XML parsed during the walk; errors are kept as
/// their text and reported in member order after the walk. Boxed: most
/// members have none, and a manifest is half the size of a mum.
#[derive(Debug, Clone)]
enum Parsed {
    Mum(Box<Mum>),
    Index(Box<ContainerIndex>),
    Manifest(Box<component::Manifest>),
    /// The parse error of the member's kind of document.
    Malformed(String),
}

fn serialize_hex<S: serde::Serializer>(d: &[u8; 32], s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&hex::encode(d))
}

fn serialize_hex_opt<S: serde::Serializer>(d: &Option<[u8; 20]>, s: S) -> Result<S::Ok, S::Error> {
    match d {
        Some(d) => s.serialize_str(&hex::encode(d)),
        None => s.serialize_none(),
    }
}

impl Member {
    /// Lower-case hex SHA-256 of the bytes read.
    pub fn sha256_hex(&self) -> String {
        hex::encode(self.sha256)
    }

    /// Lower-case hex SHA-1 of the bytes read, when computed.
    pub fn sha1_hex(&self) -> Option<String> {
        self.sha1.map(hex::encode)
    }

    /// The bytes kept for this member (metadata, deltas, PE payloads).
    pub fn bytes(&self) -> Option<&[u8]> {
        self.bytes.as_deref()
    }

    /// A nested cabinet's Authenticode digests and signature blob.
    pub fn cab_digests(&self) -> Option<&crate::digest::CabDigests> {
        self.cab_auth.as_deref()
    }
}

/// A parsed `.mum`.
#[derive(Debug, Clone, Serialize)]
pub struct PackageManifest {
    /// Member path of the `.mum`.
    pub member: String,
    #[serde(flatten)]
    pub mum: Mum,
}

/// Where the installed bytes of a manifest file are in the package.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Location {
    /// Stored as a member, byte for byte.
    Stored {
        member: String,
        timestamp: Option<Timestamp>,
    },
    /// Produced by a delta blob (a member named by the container index),
    /// applied to the output of index file `basis` (or to nothing).
    Delta {
        /// Member path of the blob, when present.
        member: Option<String>,
        /// The blob's name in the index.
        blob: String,
        source_type: String,
        basis: Option<u64>,
        index_id: u64,
    },
    /// A byte range of a `.psf` payload file (Windows 10+ express packages).
    Psf {
        offset: u64,
        length: u64,
        source_type: String,
        index_id: u64,
    },
    /// A copy of another index file's output.
    Copy { basis: u64, index_id: u64 },
    /// Not in the package.
    Absent,
}

impl Location {
    /// One line saying where the bytes are (`PA30 blob 12 on file 81`).
    pub fn describe(&self) -> String {
        match self {
            Location::Stored { member, .. } => format!("stored {member}"),
            Location::Delta {
                blob,
                source_type,
                basis,
                member,
                ..
            } => format!(
                "{source_type} blob {blob}{}{}",
                basis.map_or(String::new(), |b| format!(" on file {b}")),
                if member.is_none() { " (missing)" } else { "" }
            ),
            Location::Psf { offset, length, .. } => format!("psf @{offset}+{length}"),
            Location::Copy { basis, .. } => format!("copy of file {basis}"),
            Location::Absent => "absent".into(),
        }
    }
}

/// The outcome of rebuilding a delta-stored file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "status", rename_all = "kebab-case")]
pub enum Expansion {
    /// Rebuilt; every link of the chain matched its index hash. `sha256`
    /// (and `sha1`) of the rebuilt bytes.
    Rebuilt { sha256: String, sha1: String },
    /// The decoder cannot do it (PE transforms, PA31, a limit) or an input
    /// is not available (missing blob, `.psf` range): not a package fault.
    NotExpanded { reason: String },
    /// Decoding failed: a corrupt delta, or one our decoder reads
    /// differently from msdelta.dll (its own hash does not match). Nothing
    /// is proven either way.
    Failed { reason: String },
    /// The chain rebuilt bytes that contradict the container index: a
    /// delta whose own hash matches what it produced, or a stored or
    /// copied link whose SHA-256 differs from the index. The package is
    /// wrong.
    Mismatch { reason: String },
}

/// One `<file>` of a component manifest, with where its bytes are.
#[derive(Debug, Clone, Serialize)]
pub struct File {
    pub name: String,
    /// Keyform of the declaring component.
    pub component: String,
    pub arch: String,
    /// Installed path (`C:\Windows\System32\sppsvc.exe`).
    pub destination: String,
    /// `sha256`, `sha1` or the algorithm as written; `None` without a digest.
    pub digest_alg: Option<String>,
    /// Lower-case hex digest of the installed bytes, as declared.
    pub digest: Option<String>,
    /// Size of the installed bytes when known (stored member or index length).
    pub size: Option<u64>,
    pub location: Location,
    /// Version resource of a stored or rebuilt PE payload.
    /// Boxed: most files are not PEs, and a package has tens of thousands.
    pub pe: Option<Box<PeVersion>>,
    /// For files produced by deltas: the outcome of rebuilding them.
    pub expansion: Option<Expansion>,
    /// A stored file that a container index also produces (a delta or a
    /// copy): the index's location and the outcome of rebuilding it. Both
    /// sources are checked, and two sources that disagree is an error.
    /// Boxed: few files have one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub second_source: Option<Box<SecondSource>>,
    /// SHA-256 of the file's bytes as the package holds them: the stored
    /// member's, or the rebuilt output's. `None` when not at hand.
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "serialize_hex32_opt"
    )]
    pub content_sha256: Option<[u8; 32]>,
    /// The index (position in [`Package::indexes`]) the location comes
    /// from, when it comes from one.
    #[serde(skip)]
    pub(crate) index: Option<u32>,
    /// PE Authenticode hashes of a rebuilt PE file, computed while its
    /// bytes were at hand (with [`LoadOptions::keep_trust`]): the trust
    /// check looks files up in the catalogs by them without rebuilding.
    #[serde(skip)]
    pub(crate) pe_auth: Option<Box<PeAuth>>,
    /// 1-based line of the `<file>` element in the manifest.
    #[serde(skip)]
    pub line: u32,
}

/// The PE Authenticode hashes of an image (`None` where it cannot be read
/// as one), in the two algorithms catalogs use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeAuth {
    pub sha256: Option<Vec<u8>>,
    pub sha1: Option<Vec<u8>>,
}

impl PeAuth {
    pub fn of(bytes: &[u8]) -> PeAuth {
        use crate::digest::{Alg, pe_authenticode};
        PeAuth {
            sha256: pe_authenticode(bytes, Alg::Sha256),
            sha1: pe_authenticode(bytes, Alg::Sha1),
        }
    }
}

impl File {
    /// The PE Authenticode hashes of a rebuilt PE file, when the load
    /// computed them.
    pub fn pe_authenticode(&self) -> Option<&PeAuth> {
        self.pe_auth.as_deref()
    }
}

/// The container index's own copy of a stored file.
#[derive(Debug, Clone, Serialize)]
pub struct SecondSource {
    pub location: Location,
    pub expansion: Option<Expansion>,
    /// The index the location comes from (position in [`Package::indexes`]).
    #[serde(skip)]
    pub(crate) index: Option<u32>,
}

fn serialize_hex32_opt<S: serde::Serializer>(
    d: &Option<[u8; 32]>,
    s: S,
) -> Result<S::Ok, S::Error> {
    match d {
        Some(d) => s.serialize_str(&hex::encode(d)),
        None => s.serialize_none(),
    }
}

/// A component or deployment manifest.
#[derive(Debug, Clone, Serialize)]
pub struct Component {
    /// Member path of the `.manifest`.
    pub member: String,
    pub identity: Identity,
    /// Keyform computed from the identity.
    pub keyform: String,
    pub arch: String,
    pub deployment: bool,
    /// For deployment manifests: the components they deploy.
    pub deploys: Vec<Identity>,
    pub dependencies: Vec<Dependency>,
    pub registry_keys: Vec<RegistryKey>,
    pub files: Vec<File>,
}

/// A container index and the member it came from.
#[derive(Debug, Clone, Serialize)]
pub struct Index {
    pub member: String,
    #[serde(flatten)]
    pub index: ContainerIndex,
    #[serde(skip)]
    by_id: HashMap<u64, usize>,
    #[serde(skip)]
    by_name: KeyOrder,
}

impl Index {
    /// Wrap a parsed index with id and name lookups (first entry wins).
    pub fn new(member: String, index: ContainerIndex) -> Index {
        let mut by_id = HashMap::new();
        for (i, f) in index.files.iter().enumerate() {
            by_id.entry(f.id).or_insert(i);
        }
        let by_name = KeyOrder::new(index.files.len(), |i| {
            index.files.get(i).map_or("", |f| f.name.as_str())
        });
        Index {
            member,
            index,
            by_id,
            by_name,
        }
    }

    /// The entry with this id.
    pub fn entry(&self, id: u64) -> Option<&cix::CixFile> {
        self.by_id.get(&id).and_then(|&i| self.index.files.get(i))
    }

    /// The entry with this target name (case-insensitive, either slash).
    pub fn entry_named(&self, name: &str) -> Option<&cix::CixFile> {
        let name_of = |i: usize| self.index.files.get(i).map_or("", |f| f.name.as_str());
        self.by_name
            .equal(name, name_of)
            .first()
            .and_then(|&i| self.index.files.get(i))
    }
}

/// A delta blob member and its header.
#[derive(Debug, Clone, Serialize)]
pub struct DeltaBlob {
    pub member: String,
    /// `PA30`, `PA31`, `PA19`.
    pub signature: String,
    pub header: Option<DeltaHeader>,
    /// Why the header could not be read.
    pub header_error: Option<String>,
}

/// Everything known about a package.
#[derive(Debug, Clone, Serialize)]
pub struct Package {
    /// The input as given.
    pub input: String,
    pub containers: Vec<ContainerInfo>,
    /// Private: the lookup is built from it ([`Package::members`] reads it).
    pub(crate) members: Vec<Member>,
    pub packages: Vec<PackageManifest>,
    pub components: Vec<Component>,
    /// Members holding `DCM\x01` compressed manifests (not parsed).
    pub compressed_manifests: Vec<String>,
    pub indexes: Vec<Index>,
    pub deltas: Vec<DeltaBlob>,
    /// Container findings and load problems (malformed XML, unreadable
    /// members, oversized metadata).
    pub findings: Vec<Finding>,
    #[serde(skip)]
    lookup: Lookup,
    /// The input file's own digests, taken as the walk read it (with
    /// [`LoadOptions::keep_trust`], for a cabinet or MSU file).
    #[serde(skip)]
    pub(crate) input_digests: Option<Box<crate::digest::InputDigests>>,
    /// The walk limits the package was loaded with (a check that must read
    /// a member again walks within the same limits).
    #[serde(skip)]
    pub(crate) limits: Limits,
}

/// Hash lookups so that checks stay linear on packages with 100,000 files.
#[derive(Debug, Clone, Default)]
struct Lookup {
    /// Members in [`path_key`] order.
    members: KeyOrder,
    /// Component positions sorted by keyform (then position): no second
    /// copy of every keyform, as a map keyed by them would hold.
    components: Vec<usize>,
    /// member path → delta index.
    deltas: HashMap<String, usize>,
    /// Directory (tree path) → positions of the container indexes there:
    /// files look up only their own container's indexes, so a package with
    /// thousands of indexes stays linear.
    indexes_by_dir: HashMap<String, Vec<usize>>,
    /// For a directory holding several indexes: every entry of them, by
    /// target name, so that finding a file's entry does not try each index
    /// in turn (4,000 indexes beside 100,000 declared files was quadratic).
    entries_by_dir: HashMap<String, DirEntries>,
}

/// The entries of a directory's indexes, as (index position, entry
/// position), in index then entry order, with a name lookup.
#[derive(Debug, Clone, Default)]
struct DirEntries {
    entries: Vec<(u32, u32)>,
    by_name: KeyOrder,
}

/// The lookup key of a member path: the path the extractor would write,
/// `/`-separated, ASCII lower case ([`container::names::member_key`]). CAB
/// names use `\\`, Windows names are case-insensitive, and aliases that
/// sanitize to one file (`a\\.\\b`, `b.`, a trailing space) are one member.
pub fn path_key(p: &str) -> String {
    container::names::member_key(p)
}

/// The bytes of [`path_key`] without building it.
fn key_bytes(p: &str) -> impl Iterator<Item = u8> + '_ {
    container::names::key_bytes(p)
}

/// `a` and `b` compared as their [`path_key`]s.
fn key_cmp(a: &str, b: &str) -> std::cmp::Ordering {
    key_bytes(a).cmp(key_bytes(b))
}

/// Positions of named items in the order of (hash of the [`path_key`] of
/// their names, that key, position): a lookup by key without a lower-cased
/// copy of every name, which a hash map of keys would hold (tens of
/// thousands of members and index entries). Searches compare hashes, and
/// names only where hashes are equal; the hasher is seeded per process, so
/// names cannot be chosen to collide.
#[derive(Debug, Clone, Default)]
struct KeyOrder {
    order: Vec<usize>,
    /// The hash of each position's key, aligned with `order`.
    hashes: Vec<u64>,
    hasher: std::hash::RandomState,
}

impl KeyOrder {
    fn new<'n>(len: usize, name_of: impl Fn(usize) -> &'n str) -> KeyOrder {
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
    fn equal<'n>(&self, name: &str, name_of: impl Fn(usize) -> &'n str) -> &[usize] {
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
    fn duplicates<'n>(&self, name_of: impl Fn(usize) -> &'n str) -> impl Iterator<Item = &[usize]> {
        self.order
            .chunk_by(move |&a, &b| key_cmp(name_of(a), name_of(b)).is_eq())
            .filter(|run| run.len() > 1)
    }
}

/// The first `k` in `0..len` where `pred` is false, for a `pred` true on a
/// prefix (a binary search like `partition_point`).
fn first_not(len: usize, pred: impl Fn(usize) -> bool) -> usize {
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
fn key_hash(hasher: &std::hash::RandomState, p: &str) -> u64 {
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

fn join_key(dir: &str, rel: &str) -> String {
    if dir.is_empty() {
        path_key(rel)
    } else {
        path_key(&format!("{dir}/{rel}"))
    }
}

const HEAD_LEN: usize = 64 * 1024;

fn delta_signature(head: &[u8]) -> Option<String> {
    for off in [0usize, 4] {
        if let Some(sig) = head.get(off..off + 4)
            && matches!(sig, b"PA30" | b"PA31" | b"PA19")
        {
            return Some(String::from_utf8_lossy(sig).into_owned());
        }
    }
    None
}

fn kind_of(meta: &MemberMeta, head: &[u8]) -> MemberKind {
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

impl Package {
    /// Load a package with default caps.
    pub fn load(input: &Path, limits: &Limits) -> Result<Package, Error> {
        Self::load_with(input, limits, &LoadOptions::default())
    }

    /// Load a package: one streaming pass, then parsing. Errors only when
    /// the input cannot be walked at all.
    pub fn load_with(input: &Path, limits: &Limits, opts: &LoadOptions) -> Result<Package, Error> {
        let mut members: Vec<Member> = Vec::new();
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
            plan.learn(&m);
            members.push(m);
            Ok(())
        };
        let mut input_digests = None;
        let report = match digester {
            Some((d, _)) => {
                let state = std::sync::Arc::new(std::sync::Mutex::new(Some(d)));
                let sink = std::sync::Arc::clone(&state);
                let report = container::walk_tapped(
                    input,
                    limits,
                    &container::WalkOptions::default(),
                    &mut visit,
                    Box::new(move |b: &[u8]| {
                        if let Some(d) = sink.lock().unwrap_or_else(|e| e.into_inner()).as_mut() {
                            d.update(b);
                        }
                    }),
                )?;
                let d = state.lock().unwrap_or_else(|e| e.into_inner()).take();
                input_digests = d.map(|d| Box::new(d.finish()));
                report
            }
            None => container::walk(input, limits, &mut visit)?,
        };
        members.shrink_to_fit();
        // The walk is over: its pooled buffers would sit idle while the
        // model is parsed and checked.
        container::release_buffers();
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
            input_digests,
            limits: limits.clone(),
        };
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
            pkg.expand(opts);
        }
        Ok(pkg)
    }

    /// Sources that container indexes name but whose bytes were not kept
    /// while walking (the index came after them, or was too large to parse
    /// during the walk): read them in a second walk, keeping only those.
    /// Real package cabinets list `_manifest_.cix.xml` first, so this pass
    /// is rare.
    fn fetch_unkept_sources(
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
                    && m.read_error.is_none()
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
        container::walk(input, limits, &mut |meta, reader| {
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
        container::release_buffers();
        for m in &mut self.members {
            if m.bytes.is_some() {
                continue;
            }
            let key = path_key(&m.path);
            // The same bytes as the first walk hashed, or not used at all.
            if let Some(b) = got.remove(&key)
                && <[u8; 32]>::from(Sha256::digest(&b)) == m.sha256
            {
                m.bytes = Some(b);
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
            limits: Limits::default(),
        };
        pkg.parse_metadata(opts);
        if opts.expand_deltas {
            pkg.expand(opts);
        }
        pkg
    }

    /// Every member, in the order the walk met them.
    pub fn members(&self) -> &[Member] {
        &self.members
    }

    /// The Authenticode digests of the nested cabinet at `path` in every
    /// algorithm, read again from the input (within the limits it was
    /// loaded with): for a signature in an algorithm the walk did not
    /// digest it in. `None` when it cannot be read again.
    pub(crate) fn cab_digests_again(&self, path: &str) -> Option<crate::digest::CabDigests> {
        let mut found = None;
        let opts = container::WalkOptions {
            verify_unread: false,
        };
        let walked = container::walk_with(
            Path::new(&self.input),
            &self.limits,
            &opts,
            &mut |meta, reader| {
                if found.is_some() || meta.path != path {
                    return Ok(());
                }
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
                found = Some(d.unwrap_or_else(|| {
                    let mut new = crate::digest::CabDigester::new(&head);
                    new.update(&head);
                    new
                }));
                Ok(())
            },
        );
        container::release_buffers();
        walked.ok()?;
        found.map(crate::digest::CabDigester::finish)
    }

    /// The member at a tree path (case-insensitive, either slash).
    pub fn member(&self, path: &str) -> Option<&Member> {
        self.member_position(path).and_then(|i| self.members.get(i))
    }

    /// Position in [`Package::members`] of the member at a tree path or
    /// [`path_key`]; of the last one when several share the key.
    fn member_position(&self, path: &str) -> Option<usize> {
        self.member_positions(path).last().copied()
    }

    /// Positions in [`Package::members`] of every member at a tree path or
    /// [`path_key`] (several when names differ only in case or slashes).
    pub(crate) fn member_positions(&self, path: &str) -> &[usize] {
        let name_of = |i: usize| self.members.get(i).map_or("", |m| m.path.as_str());
        self.lookup.members.equal(path, name_of)
    }

    /// Members whose paths share a [`path_key`] with an earlier member:
    /// (its position, the first one's), in member order.
    pub(crate) fn duplicate_members(&self) -> Vec<(usize, usize)> {
        let name_of = |i: usize| self.members.get(i).map_or("", |m| m.path.as_str());
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
        let keyform_of = |i: usize| self.components.get(i).map_or("", |c| c.keyform.as_str());
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
            .filter(|c| c.keyform == keyform && c.identity.same_as(id))
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

    /// The base manifest for `DCM\x01` manifests when none was given:
    /// Windows 11 MSUs carry `wcp.dll` in their servicing-stack cabinet,
    /// and its resource 614/1 is the base. Says which base was used.
    fn dcm_base_from_package(&self, findings: &mut Vec<Finding>) -> Option<Vec<u8>> {
        if !self
            .members
            .iter()
            .any(|m| m.kind == MemberKind::CompressedManifest)
        {
            return None;
        }
        for m in &self.members {
            let name = m.path.rsplit('/').next().unwrap_or(&m.path);
            if !name.eq_ignore_ascii_case("wcp.dll") {
                continue;
            }
            let Some(bytes) = m.bytes.as_deref() else {
                continue;
            };
            match msdelta::base_from_wcp(bytes) {
                Ok(base) => {
                    let sha = hex::encode(Sha256::digest(&base));
                    let known = if sha == msdelta::DCM_BASE_SHA256 {
                        "the known base"
                    } else {
                        "an unknown base: expansions are checked only for well-formed XML"
                    };
                    findings.push(Finding::info(
                        Code::DcmBaseFromPackage,
                        &m.path,
                        format!(
                            "DCM base manifest taken from this wcp.dll (SHA-256 {sha}, {known})"
                        ),
                    ));
                    return Some(base);
                }
                Err(e) => findings.push(Finding::warning(
                    Code::DcmBaseUnreadable,
                    &m.path,
                    format!("no DCM base manifest in this wcp.dll: {e}"),
                )),
            }
        }
        None
    }

    fn parse_metadata(&mut self, opts: &LoadOptions) {
        self.lookup.members = KeyOrder::new(self.members.len(), |i| {
            self.members.get(i).map_or("", |m| m.path.as_str())
        });
        let mut findings = Vec::new();
        let found_base = if opts.dcm_base.is_none() {
            self.dcm_base_from_package(&mut findings)
        } else {
            None
        };
        let dcm_base: Option<&Vec<u8>> = opts.dcm_base.as_ref().or(found_base.as_ref());
        for m in &mut self.members {
            if matches!(m.kind, MemberKind::Mum | MemberKind::ContainerIndex) {
                match take_parsed(m, opts) {
                    Some(Parsed::Mum(mum)) => self.packages.push(PackageManifest {
                        member: m.path.clone(),
                        mum: *mum,
                    }),
                    Some(Parsed::Index(index)) => {
                        self.indexes.push(Index::new(m.path.clone(), *index))
                    }
                    Some(Parsed::Malformed(e)) => {
                        findings.push(Finding::error(Code::MetadataMalformed, &m.path, e))
                    }
                    Some(Parsed::Manifest(_)) | None => {}
                }
                continue;
            }
            if m.bytes.is_none() {
                continue;
            }
            match m.kind {
                MemberKind::CompressedManifest if dcm_base.is_none() => {
                    self.compressed_manifests.push(m.path.clone());
                    findings.push(Finding::info(
                        Code::ManifestCompressed,
                        &m.path,
                        "DCM-compressed manifest: expanding it needs the base manifest from wcp.dll (--dcm-base); its identity comes from the file name only",
                    ));
                }
                _ => {}
            }
        }
        let mut by_dir: HashMap<String, Vec<usize>> = HashMap::new();
        for (i, ix) in self.indexes.iter().enumerate() {
            by_dir
                .entry(parent_of(&ix.member).to_string())
                .or_default()
                .push(i);
        }
        let mut entries_by_dir = HashMap::new();
        for (dir, ixs) in by_dir.iter().filter(|(_, ixs)| ixs.len() > 1) {
            let entries: Vec<(u32, u32)> = ixs
                .iter()
                .flat_map(|&i| {
                    let n = self.indexes.get(i).map_or(0, |ix| ix.index.files.len());
                    (0..n).map(move |e| (i as u32, e as u32))
                })
                .collect();
            let name_of = |k: usize| {
                entries
                    .get(k)
                    .and_then(|&(i, e)| self.indexes.get(i as usize)?.index.files.get(e as usize))
                    .map_or("", |f| f.name.as_str())
            };
            let by_name = KeyOrder::new(entries.len(), name_of);
            entries_by_dir.insert(dir.clone(), DirEntries { entries, by_name });
        }
        self.lookup.indexes_by_dir = by_dir;
        self.lookup.entries_by_dir = entries_by_dir;
        // Components second: file locations need the indexes. Sized once:
        // doubling would leave up to half of a large vector unused.
        let manifests = self
            .members
            .iter()
            .filter(|m| {
                matches!(
                    m.kind,
                    MemberKind::Manifest | MemberKind::CompressedManifest
                )
            })
            .count();
        let mut components = Vec::with_capacity(manifests);
        for i in 0..self.members.len() {
            let early = self.members.get_mut(i).and_then(|m| {
                if m.kind == MemberKind::Manifest {
                    take_parsed(m, opts)
                } else {
                    None
                }
            });
            let Some(m) = self.members.get(i) else {
                break;
            };
            let parsed = match early {
                Some(Parsed::Manifest(man)) => Ok(*man),
                Some(Parsed::Malformed(e)) if m.kind == MemberKind::Manifest => Err(e),
                _ => {
                    // DCM manifests wait for the walk's end: the base may
                    // be a wcp.dll met later.
                    if m.kind != MemberKind::CompressedManifest {
                        continue;
                    }
                    let (Some(raw), Some(base)) = (m.bytes.as_deref(), dcm_base) else {
                        continue;
                    };
                    match msdelta::expand_dcm(raw, base) {
                        Ok(x) => component::parse(&m.path, &x.xml, &opts.xml)
                            .map(|mut man| {
                                compact_manifest(&mut man, opts);
                                man
                            })
                            .map_err(|e| e.to_string()),
                        Err(e) => {
                            self.compressed_manifests.push(m.path.clone());
                            findings.push(Finding::error(
                                Code::ManifestCompressedUnreadable,
                                &m.path,
                                format!("DCM manifest could not be expanded: {e}"),
                            ));
                            continue;
                        }
                    }
                }
            };
            let man = match parsed {
                Ok(man) => man,
                Err(e) => {
                    findings.push(Finding::error(Code::MetadataMalformed, &m.path, e));
                    continue;
                }
            };
            for (line, w) in &man.warnings {
                findings.push(Finding::warning(
                    Code::ManifestDigestUnreadable,
                    &m.path,
                    format!("line {line}: {w}"),
                ));
            }
            components.push(self.build_component(m, man));
            // Parsed: the model holds what it said, so the text can go
            // (thousands of manifests would otherwise stay in memory).
            if let Some(m) = self.members.get_mut(i) {
                m.bytes = None;
            }
        }
        // The PE versions went to the files that are these members; nothing
        // reads them on the members again.
        for m in &mut self.members {
            m.pe = None;
        }
        self.components = components;
        self.findings.append(&mut findings);
        let mut by_keyform: Vec<usize> = (0..self.components.len()).collect();
        let keyform_of = |i: usize| self.components.get(i).map_or("", |c| c.keyform.as_str());
        by_keyform.sort_by(|&a, &b| keyform_of(a).cmp(keyform_of(b)).then(a.cmp(&b)));
        self.lookup.components = by_keyform;
        self.index_deltas();
    }

    /// Read the header of every kept delta blob not yet known, and index
    /// them by member path.
    fn index_deltas(&mut self) {
        let known: std::collections::HashSet<String> =
            self.deltas.iter().map(|d| d.member.clone()).collect();
        for m in &self.members {
            if m.kind != MemberKind::Delta || known.contains(&m.path) {
                continue;
            }
            let Some(bytes) = m.bytes.as_deref() else {
                continue;
            };
            let signature = delta_signature(bytes).unwrap_or_default();
            let (header, header_error) = match msdelta::parse_header(bytes) {
                Ok(h) => (Some(h), None),
                Err(e) => (None, Some(e.to_string())),
            };
            self.deltas.push(DeltaBlob {
                member: m.path.clone(),
                signature,
                header,
                header_error,
            });
        }
        self.lookup.deltas = self
            .deltas
            .iter()
            .enumerate()
            .map(|(i, d)| (d.member.clone(), i))
            .collect();
    }

    /// Every hash the package's catalogs list (signatures unchecked), when
    /// the trust check will run: see [`PeAuth`].
    fn catalog_hashes(&self, opts: &LoadOptions) -> std::collections::HashSet<Vec<u8>> {
        if !opts.keep_trust {
            return Default::default();
        }
        self.members
            .iter()
            .filter(|m| m.kind == MemberKind::Catalog)
            .filter_map(|m| m.bytes())
            .flat_map(crate::trust::ctl::listed_hashes)
            .collect()
    }

    /// Record the outcome of rebuilding every delta-stored or copied file.
    fn expand(&mut self, opts: &LoadOptions) {
        type Outcome = (Expansion, Option<Box<PeVersion>>, Option<Box<PeAuth>>);
        let listed = self.catalog_hashes(opts);
        let outcomes = self.rebuild_map(opts, &main_source, &|_, _, result, known| {
            match result {
                Ok(bytes) => {
                    let pe = pe::version_info(bytes).map(Box::new);
                    // The chain checked the bytes against the index's
                    // SHA-256: not computed again.
                    let sha256: [u8; 32] =
                        known.unwrap_or_else(|| sha2::Sha256::digest(bytes).into());
                    let sha1 = sha1::Sha1::digest(bytes);
                    // The trust check looks PE files that no catalog lists
                    // by their flat hashes up by their Authenticode hashes:
                    // computed now, while the bytes are here, the file is
                    // not rebuilt a second time for them.
                    let auth = (opts.keep_trust
                        && pe.is_some()
                        && !listed.contains(sha256.as_slice())
                        && !listed.contains(sha1.as_slice()))
                    .then(|| Box::new(PeAuth::of(bytes)));
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
        // Stored files the index also produces: rebuild the index's copy
        // too, so that a stored file cannot shadow a different delta.
        let alternates = self.rebuild_map(
            opts,
            &|f| {
                let s = f.second_source.as_ref()?;
                Some((s.index? as usize, delta_id(&s.location)?))
            },
            &|_, _, result, known| match result {
                Ok(bytes) => Expansion::Rebuilt {
                    sha256: hex::encode(
                        known.unwrap_or_else(|| sha2::Sha256::digest(bytes).into()),
                    ),
                    sha1: hex::encode(sha1::Sha1::digest(bytes)),
                },
                Err(e) => expansion_error(e),
            },
        );
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
    pub fn rebuild_each(&self, opts: &LoadOptions, sink: &mut RebuildSink<'_>) {
        self.rebuild_picked(opts, &main_source, &|_, _| true, sink);
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
    fn rebuild_requests(
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
    fn rebuild_step<'s>(&'s self, ix: &'s Index, id: u64) -> Result<Step<'s, u64>, String> {
        let dir = parent_of(&ix.member);
        let e = ix
            .entry(id)
            .ok_or_else(|| format!("index file {id} does not exist"))?;
        let expected_sha256 = index_sha256(e);
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
        Ok(Step {
            recipe,
            expected_sha256,
        })
    }

    /// The links a rebuild of `id` goes through (the file first), as far
    /// as they can be described, without decoding anything; and an upper
    /// bound of the bytes decoding them produces (TargetSize of each delta,
    /// the size of each stored or copied file).
    fn static_chain(&self, ix: &Index, id: u64, max_depth: usize) -> (Vec<u64>, u64) {
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
    fn rebuild_picked(
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
    fn rebuild_map<T: Send>(
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
                .and_then(index_sha256)
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
        if bound > opts.rebuild_budget || too_deep || rayon::current_num_threads() < 2 {
            let mut mapped = Vec::with_capacity(requests.len());
            let mut at = 0;
            self.rebuild_picked(opts, pick, &|_, _| true, &mut |ci, fi, res| {
                let e = requests.get(at).and_then(expected);
                at += 1;
                mapped.push((ci, fi, f(ci, fi, res, e)));
            });
            return mapped;
        }
        let mut limits = opts.delta.clone();
        limits.max_target_size = limits.max_target_size.min(opts.rebuild_budget);
        let mut results: Vec<(usize, (usize, usize, T))> = Vec::with_capacity(requests.len());
        let mut start = 0;
        for run in requests.chunk_by(|a, b| a.ix == b.ix) {
            let mine: Vec<usize> = (start..start + run.len()).collect();
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
            for ids in levels.values() {
                let seed = std::sync::Arc::new(std::mem::take(&mut shared));
                let built: Vec<(u64, Rebuilt<'_>)> = ids
                    .par_iter()
                    .filter_map(|id| {
                        let mut r = ChainRebuilder::new(limits.clone(), step)
                            .with_cache_budget(0)
                            .with_shared(std::sync::Arc::clone(&seed));
                        r.rebuild(id).ok().map(|b| (*id, b))
                    })
                    .collect();
                shared = std::sync::Arc::try_unwrap(seed).unwrap_or_else(|a| (*a).clone());
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
            // chain is its alone.
            let shared = std::sync::Arc::new(shared);
            let out: Vec<(usize, (usize, usize, T))> = mine
                .par_iter()
                .map(|&p| {
                    let r = &requests[p];
                    let mut rebuilder = ChainRebuilder::new(limits.clone(), step)
                        .with_cache_budget(0)
                        .with_shared(std::sync::Arc::clone(&shared));
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
    }

    fn build_component(&self, m: &Member, man: component::Manifest) -> Component {
        let keyform = man.identity.keyform();
        let dir = parent_of(&m.path).to_string();
        let file_name = m.path.rsplit('/').next().unwrap_or(&m.path);
        // Payloads sit in a folder named like the manifest file, which is
        // the keyform unless the package is inconsistent (checked later).
        let folder = file_name
            .strip_suffix(".manifest")
            .or_else(|| file_name.strip_suffix(".MANIFEST"))
            .unwrap_or(&keyform)
            .to_string();
        let arch = man.identity.processor_architecture.clone();
        let deploys = man.deploys().cloned().collect();
        let files = man
            .files
            .iter()
            .map(|f| {
                let (location, size, pe, index) = self.locate(&dir, &folder, &keyform, f);
                let index_location = match &location {
                    Location::Stored { .. } => {
                        let (l, _, ix) = self.locate_in_index(&dir, &folder, &keyform, f);
                        l.filter(|l| {
                            matches!(
                                l,
                                Location::Delta { .. }
                                    | Location::Copy { .. }
                                    | Location::Psf { .. }
                            )
                        })
                        .map(|l| (l, ix))
                    }
                    _ => None,
                };
                let content_sha256 = match &location {
                    Location::Stored { member, .. } => self.member(member).map(|m| m.sha256),
                    _ => None,
                };
                File {
                    second_source: index_location.map(|(location, index)| {
                        Box::new(SecondSource {
                            location,
                            expansion: None,
                            index: index.and_then(|i| u32::try_from(i).ok()),
                        })
                    }),
                    index: index.and_then(|i| u32::try_from(i).ok()),
                    content_sha256,
                    pe_auth: None,
                    name: f.name.clone(),
                    component: keyform.clone(),
                    arch: arch.clone(),
                    destination: f.destination.clone(),
                    digest_alg: f.digest.as_ref().map(|d| d.alg.as_str().to_string()),
                    digest: f.digest.as_ref().map(|d| d.hex.clone()),
                    size,
                    location,
                    pe,
                    expansion: None,
                    line: f.line,
                }
            })
            .collect();
        Component {
            member: m.path.clone(),
            identity: man.identity,
            keyform,
            arch,
            deployment: man.deployment,
            deploys,
            dependencies: man.dependencies,
            registry_keys: man.registry_keys,
            files,
        }
    }

    /// Find a manifest file's bytes: a stored member `folder/name` beside
    /// the manifest, else an index entry of the same container.
    fn locate(
        &self,
        dir: &str,
        folder: &str,
        keyform: &str,
        f: &component::ManifestFile,
    ) -> (Location, Option<u64>, Option<Box<PeVersion>>, Option<usize>) {
        let mut names = vec![f.name.as_str()];
        if !f.source_name.is_empty() && !f.source_name.eq_ignore_ascii_case(&f.name) {
            names.push(&f.source_name);
        }
        for folder in [folder, keyform] {
            for n in &names {
                let key = join_key(dir, &format!("{folder}/{n}"));
                if let Some(mem) = self.member(&key) {
                    let pe = mem.pe.clone();
                    return (
                        Location::Stored {
                            member: mem.path.clone(),
                            timestamp: mem.timestamp,
                        },
                        Some(mem.size),
                        pe,
                        None,
                    );
                }
            }
        }
        let (location, size, index) = self.locate_in_index(dir, folder, keyform, f);
        (location.unwrap_or(Location::Absent), size, None, index)
    }

    /// Where the container index of `dir` says a manifest file's bytes are:
    /// the location, the length the index gives and which index (its
    /// position in [`Package::indexes`]).
    fn locate_in_index(
        &self,
        dir: &str,
        folder: &str,
        keyform: &str,
        f: &component::ManifestFile,
    ) -> (Option<Location>, Option<u64>, Option<usize>) {
        let mut names = vec![f.name.as_str()];
        if !f.source_name.is_empty() && !f.source_name.eq_ignore_ascii_case(&f.name) {
            names.push(&f.source_name);
        }
        let candidates: Vec<String> = [folder, keyform]
            .iter()
            .flat_map(|fo| names.iter().map(move |n| format!("{fo}/{n}")))
            .collect();
        // The first index (in order) holding any of the candidate names,
        // and in it the first candidate it holds: one lookup per name
        // when the directory has several indexes.
        let found = match self.lookup.entries_by_dir.get(dir) {
            Some(d) => {
                let name_of = |k: usize| {
                    d.entries
                        .get(k)
                        .and_then(|&(i, e)| {
                            self.indexes.get(i as usize)?.index.files.get(e as usize)
                        })
                        .map_or("", |f| f.name.as_str())
                };
                let hits: Vec<Option<(u32, u32)>> = candidates
                    .iter()
                    .map(|n| {
                        d.by_name
                            .equal(n, name_of)
                            .first()
                            .and_then(|&k| d.entries.get(k).copied())
                    })
                    .collect();
                let first_ix = hits.iter().flatten().map(|&(i, _)| i).min();
                hits.into_iter()
                    .flatten()
                    .find(|&(i, _)| Some(i) == first_ix)
                    .and_then(|(i, e)| {
                        let ix = self.indexes.get(i as usize)?;
                        Some((i as usize, ix.index.files.get(e as usize)?))
                    })
            }
            None => self
                .lookup
                .indexes_by_dir
                .get(dir)
                .map_or(&[][..], Vec::as_slice)
                .iter()
                .find_map(|&i| {
                    let ix = self.indexes.get(i)?;
                    candidates
                        .iter()
                        .find_map(|n| ix.entry_named(n))
                        .map(|e| (i, e))
                }),
        };
        if let Some((ix, entry)) = found {
            let location = match &entry.delta {
                None => Location::Absent,
                Some(d) => match &d.source {
                    None => match d.basis {
                        Some(basis) => Location::Copy {
                            basis,
                            index_id: entry.id,
                        },
                        None => Location::Absent,
                    },
                    Some(src) => {
                        let source_type = match &src.type_ {
                            SourceType::Raw => "RAW".to_string(),
                            SourceType::Pa30 => "PA30".to_string(),
                            SourceType::Pa19 => "PA19".to_string(),
                            SourceType::Other(o) => o.clone(),
                        };
                        match &src.location {
                            SourceLocation::Name(blob) => {
                                let member =
                                    self.member(&join_key(dir, blob)).map(|m| m.path.clone());
                                if src.type_ == SourceType::Raw {
                                    match member {
                                        Some(member) => {
                                            let mem = self.member(&member);
                                            Location::Stored {
                                                timestamp: mem.and_then(|m| m.timestamp),
                                                member,
                                            }
                                        }
                                        None => Location::Absent,
                                    }
                                } else {
                                    Location::Delta {
                                        member,
                                        blob: blob.clone(),
                                        source_type,
                                        basis: d.basis,
                                        index_id: entry.id,
                                    }
                                }
                            }
                            SourceLocation::Range { offset, length } => Location::Psf {
                                offset: *offset,
                                length: *length,
                                source_type,
                                index_id: entry.id,
                            },
                            SourceLocation::Unknown => Location::Absent,
                        }
                    }
                },
            };
            return (Some(location), Some(entry.length), Some(ix));
        }
        (None, None, None)
    }
}

/// One file to rebuild: index entry `id` of index `ix`, for file `fi` of
/// component `ci`.
#[derive(Debug, Clone, Copy)]
struct Request {
    ix: usize,
    ci: usize,
    fi: usize,
    id: u64,
}

/// Rebuilt bytes a load keeps as bases for files still to come (borrowed
/// stored files cost nothing); beyond it a base is rebuilt again when
/// needed. Real bases are a few MB; what fits the 64 MB memory goal.
const REBUILD_CACHE: usize = 32 << 20;

/// How many of `chains` pass through each link.
fn uses_of(chains: &[Vec<u64>]) -> HashMap<u64, usize> {
    let mut uses = HashMap::new();
    for c in chains {
        for id in c {
            *uses.entry(*id).or_insert(0) += 1;
        }
    }
    uses
}

/// The SHA-256 an index entry declares for its file.
fn index_sha256(e: &cix::CixFile) -> Option<[u8; 32]> {
    e.hash
        .as_ref()
        .filter(|h| h.is_sha256())
        .and_then(|h| hex::decode(&h.hex).ok())
        .and_then(|v| <[u8; 32]>::try_from(v).ok())
}

/// The index and entry a file's own location rebuilds.
fn main_source(f: &File) -> Option<(usize, u64)> {
    Some((f.index? as usize, delta_id(&f.location)?))
}

/// The index entry a delta-stored or copied location rebuilds.
fn delta_id(l: &Location) -> Option<u64> {
    match l {
        Location::Delta { index_id, .. } | Location::Copy { index_id, .. } => Some(*index_id),
        _ => None,
    }
}

/// Maps (component index, file index, rebuilt bytes or the error, the
/// index's SHA-256 of the file) to what a caller keeps of a rebuild; called
/// from several threads.
type RebuildMap<'a, T> =
    dyn Fn(usize, usize, Result<&[u8], &msdelta::ChainError>, Option<[u8; 32]>) -> T + Sync + 'a;

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

/// What the walk has learned about which members' bytes are needed later:
/// the sources container indexes name, by directory. What is kept follows
/// from the index, not from a member's first bytes: a delta blob or PE
/// that no index names is never a basis, and a RAW basis (a `.cat`, say)
/// is kept whatever it looks like.
#[derive(Default)]
struct KeepPlan {
    /// [`path_key`]s of members an index names as a source.
    named: std::collections::HashSet<String>,
    /// Directories (tree paths) whose index has been parsed.
    indexed_dirs: std::collections::HashSet<String>,
}

impl KeepPlan {
    /// Record the sources of an index member parsed during the walk.
    fn learn(&mut self, m: &Member) {
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
    fn named(&self, path: &str) -> Option<bool> {
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
fn rebuild_inputs(ix: &ContainerIndex) -> impl Iterator<Item = &str> {
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
        (src.type_ != SourceType::Raw || bases.contains(&e.id)).then_some(name.as_str())
    })
}

/// Bytes kept so far: all members, and PE payloads among them.
#[derive(Default)]
struct Kept {
    all: u64,
    pe: u64,
}

/// Read one member to the end: hash it, classify it from its first bytes,
/// keep its bytes when it is something we parse later.
fn read_member(
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
        // Catalogs are read for the hashes they list.
        MemberKind::Catalog => Some(opts.max_metadata_size),
        _ => None,
    };
    let mut cab_auth = (opts.keep_trust && kind == MemberKind::Container)
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
    let mut kept: Vec<u8> = if keep { head.clone() } else { Vec::new() };
    sha256.update(&head);
    if let Some(h) = sha1.as_mut() {
        h.update(&head);
    }
    if let Some(c) = cab_auth.as_mut() {
        c.update(&head);
    }
    let mut total = head.len() as u64;
    if read_error.is_none() && filled == HEAD_LEN {
        loop {
            // Hashed straight from the decoder's buffer, no copy.
            match reader.fill_buf() {
                Ok([]) => break,
                Ok(chunk) => {
                    let n = chunk.len();
                    sha256.update(chunk);
                    if let Some(h) = sha1.as_mut() {
                        h.update(chunk);
                    }
                    if let Some(c) = cab_auth.as_mut() {
                        c.update(chunk);
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
        // Grown by doubling while it streamed in: up to twice its size.
        kept.shrink_to_fit();
    }
    Member {
        path: meta.path.clone(),
        size: total,
        sha256: sha256.finalize().into(),
        sha1: sha1.map(|h| h.finalize().into()),
        timestamp: meta.modified,
        kind,
        read_error,
        bytes: keep.then_some(kept),
        pe,
        parsed: None,
        cab_auth: cab_auth.map(|c| Box::new(c.finish())),
    }
}

/// The digester of a cabinet or MSU input file, in the algorithms its
/// signature asks for (both when there is no signature, or it cannot be
/// read ahead); `None` for a directory or an unreadable file (the trust
/// check then reads the input itself).
fn input_digester(input: &Path) -> Option<(crate::digest::InputDigester, crate::digest::CabAlgs)> {
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

/// Servicing documents up to this size are parsed as they stream past.
/// Larger ones (a container index or `update.mum` listing thousands of
/// entries) wait for the walk's end: their element tree is several times
/// their text, and by then the decoders' buffers are freed.
const EARLY_PARSE_MAX: usize = 256 * 1024;

/// Parse a member's servicing XML right after it was read and drop its
/// text, so that a package's thousands of manifests are not all held as
/// text until the walk ends. DCM manifests wait (their base may come later
/// in the walk), and so do documents over [`EARLY_PARSE_MAX`].
fn parse_early(m: &mut Member, opts: &LoadOptions) {
    if m.bytes.as_ref().is_some_and(|b| b.len() <= EARLY_PARSE_MAX) {
        m.parsed = take_parsed(m, opts);
    }
}

/// The member's servicing XML parsed (the early result if there is one),
/// or `None` when it is not a document parsed here or its text is not
/// kept. A text that parsed is dropped unless it does not start like XML
/// (the `member-content-mismatch` check reads it).
fn take_parsed(m: &mut Member, opts: &LoadOptions) -> Option<Parsed> {
    let parsed = m.parsed.take().or_else(|| parse_member(m, opts))?;
    if !matches!(parsed, Parsed::Malformed(_))
        && m.bytes
            .as_deref()
            .is_some_and(crate::servicing::xml::looks_like_xml)
    {
        m.bytes = None;
    }
    Some(parsed)
}

fn parse_member(m: &Member, opts: &LoadOptions) -> Option<Parsed> {
    let bytes = m.bytes.as_deref()?;
    // Held until the walk ends: the parsers' vectors grew by doubling (a
    // one-file manifest has room for four), so they are trimmed.
    let parsed = match m.kind {
        MemberKind::Mum => mum::parse(&m.path, bytes, &opts.xml).map(|mut p| {
            p.updates.shrink_to_fit();
            for u in &mut p.updates {
                u.components.shrink_to_fit();
            }
            Parsed::Mum(Box::new(p))
        }),
        MemberKind::ContainerIndex => cix::parse(&m.path, bytes, &opts.xml).map(|mut ix| {
            ix.files.shrink_to_fit();
            Parsed::Index(Box::new(ix))
        }),
        MemberKind::Manifest => component::parse(&m.path, bytes, &opts.xml).map(|mut man| {
            compact_manifest(&mut man, opts);
            Parsed::Manifest(Box::new(man))
        }),
        _ => return None,
    };
    Some(parsed.unwrap_or_else(|e| Parsed::Malformed(e.to_string())))
}

/// Drop what the model never reads from a parsed manifest, and trim its
/// vectors: the manifest waits in its member until the walk ends, and a
/// package has thousands. `build_component` reads a file's name, source
/// name, destination, digest and line, not the paths as written.
fn compact_manifest(man: &mut component::Manifest, opts: &LoadOptions) {
    for f in &mut man.files {
        f.destination_path = String::new();
        f.source_path = String::new();
        f.import_path = String::new();
    }
    man.files.shrink_to_fit();
    if opts.keep_registry {
        man.registry_keys.shrink_to_fit();
    } else {
        man.registry_keys = Vec::new();
    }
    man.dependencies.shrink_to_fit();
    man.warnings.shrink_to_fit();
}

/// The member's digest in a manifest's algorithm, when we computed it.
pub fn member_digest(m: &Member, alg: &DigestAlg) -> Option<String> {
    match alg {
        DigestAlg::Sha256 => Some(m.sha256_hex()),
        DigestAlg::Sha1 => m.sha1_hex(),
        DigestAlg::Other(_) => None,
    }
}

/// The keyform a manifest file name claims, if it is a keyform.
pub fn claimed_keyform(member_path: &str) -> Option<Keyform> {
    Keyform::parse(member_path.rsplit('/').next().unwrap_or(member_path))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_keys_fold_case_and_slashes() {
        assert_eq!(path_key(r"A.cab/Dir\File.DLL"), "a.cab/dir/file.dll");
        assert_eq!(parent_of("a/b/c"), "a/b");
        assert_eq!(parent_of("c"), "");
        assert_eq!(join_key("", "X"), "x");
    }

    /// The sorted key order finds what hash maps of [`path_key`]s found:
    /// the last member of a key (a map built by `collect`), the first index
    /// entry (`or_insert`), and every later member sharing a key.
    #[test]
    fn key_order_agrees_with_maps_of_keys() {
        let names: Vec<String> = (0..400u32)
            .map(|i| {
                let stem = [
                    "a", "B", "ab", "a/b", "A\\B", "Ab/", "b", "\\x", "/X", "é", "É",
                ][(i % 11) as usize];
                let tail = ["", "c", "C", "/c", "\\C"][(i / 11 % 5) as usize];
                format!("{stem}{tail}{}", i / 55 % 3)
            })
            .collect();
        let name_of = |i: usize| names.get(i).map_or("", String::as_str);
        let order = KeyOrder::new(names.len(), name_of);
        let last: HashMap<String, usize> = names
            .iter()
            .enumerate()
            .map(|(i, n)| (path_key(n), i))
            .collect();
        let mut first: HashMap<String, usize> = HashMap::new();
        for (i, n) in names.iter().enumerate() {
            first.entry(path_key(n)).or_insert(i);
        }
        let mut probes: Vec<String> = names.clone();
        probes.extend(["", "zz", "A", "a/", "AB/C0"].map(String::from));
        probes.extend(names.iter().map(|n| path_key(n)));
        for p in &probes {
            let eq = order.equal(p, name_of);
            assert_eq!(eq.last(), last.get(&path_key(p)), "{p:?}");
            assert_eq!(eq.first(), first.get(&path_key(p)), "{p:?}");
        }
        let mut dups: Vec<(usize, usize)> = order
            .duplicates(name_of)
            .flat_map(|run| run.iter().skip(1).map(move |&i| (i, run[0])))
            .collect();
        dups.sort_unstable();
        let want: Vec<(usize, usize)> = names
            .iter()
            .enumerate()
            .filter_map(|(i, n)| {
                let f = first[&path_key(n)];
                (f != i).then_some((i, f))
            })
            .collect();
        assert!(want.len() > 300, "{}", want.len());
        assert_eq!(dups, want);
    }

    /// With several indexes in one directory, a file is located in the
    /// first index (in member order) naming it under any of its names, as
    /// when each index was tried in turn, and records which index that is.
    #[test]
    fn several_indexes_in_a_directory() {
        let keyform = Identity {
            name: "Demo".into(),
            version: "1.0.0.0".into(),
            processor_architecture: "amd64".into(),
            language: "neutral".into(),
            public_key_token: "31bf3856ad364e35".into(),
            version_scope: "nonSxS".into(),
            ..Default::default()
        }
        .keyform();
        let manifest = r#"<assembly xmlns="urn:schemas-microsoft-com:asm.v3" manifestVersion="1.0"><assemblyIdentity name="Demo" version="1.0.0.0" processorArchitecture="amd64" language="neutral" publicKeyToken="31bf3856ad364e35" versionScope="nonSxS"/><file name="a.dll"/><file name="b.dll"/><file name="c.dll"/></assembly>"#;
        let cix = |entries: &[(u64, &str, &str)]| {
            let files: String = entries
                .iter()
                .map(|(id, name, blob)| {
                    format!(
                        r#"<File id="{id}" name="{keyform}\{name}" length="{id}" time="0" attr="32"><Delta><Source type="PA30" name="{blob}"/></Delta></File>"#
                    )
                })
                .collect();
            format!(r#"<Container name="x" type="CAB" length="0" version="1" xmlns="urn:ContainerIndex"><Files>{files}</Files></Container>"#)
                .into_bytes()
        };
        // Index 0 names b; index 1 names a and b; index 2 names c twice.
        let items = vec![
            ("i0.cix.xml".to_string(), cix(&[(7, "b.dll", "x")]), None),
            (
                "i1.cix.xml".to_string(),
                cix(&[(1, "a.dll", "x"), (2, "B.DLL", "x")]),
                None,
            ),
            (
                "i2.cix.xml".to_string(),
                cix(&[(3, "c.dll", "x"), (4, "c.dll", "y")]),
                None,
            ),
            (
                format!("{keyform}.manifest"),
                manifest.as_bytes().to_vec(),
                None,
            ),
        ];
        let pkg = Package::from_members(
            "t",
            items,
            &LoadOptions {
                expand_deltas: false,
                ..LoadOptions::default()
            },
        );
        let c = &pkg.components[0];
        let at = |n: &str| {
            let f = c.files.iter().find(|f| f.name == n).unwrap();
            let Location::Delta { index_id, .. } = f.location else {
                panic!("{n}: {:?}", f.location);
            };
            (f.index, index_id)
        };
        assert_eq!(at("a.dll"), (Some(1), 1));
        assert_eq!(at("b.dll"), (Some(0), 7));
        assert_eq!(at("c.dll"), (Some(2), 3));
    }

    #[test]
    fn delta_signatures_with_and_without_crc_prefix() {
        assert_eq!(delta_signature(b"PA30xxxx").as_deref(), Some("PA30"));
        assert_eq!(
            delta_signature(b"\x01\x02\x03\x04PA19").as_deref(),
            Some("PA19")
        );
        assert_eq!(delta_signature(b"MZ"), None);
    }
}
