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
//! The work is split by job: `mod.rs` holds the types, `load` the streaming
//! walk (what is hashed, what is kept), `parse` the servicing documents and
//! where each declared file's bytes are, `rebuild` the delta expansion, and
//! `lookup` the path-keyed tables every lookup goes through.
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
    /// With `keep_trust`: verify the package's signatures (the input's, the
    /// nested cabinets', the catalogs') during the load, against these
    /// roots, beside the delta rebuilds (they need nothing the rebuilds
    /// give, so they take a core the rebuilds leave idle), and keep them
    /// for the trust check ([`Package::presigned`]). `None`: the trust
    /// check verifies them itself.
    pub trust: Option<std::sync::Arc<dyn Presign>>,
    /// With [`LoadOptions::trust`]: the catalogs' bytes kept whole for
    /// the signatures to be verified beside the rebuilds; past it, each
    /// catalog is verified as the walk reads it and only its CTL is kept
    /// (default [`CATALOGS_KEPT`]: 4 MiB).
    pub catalogs_kept: u64,
    /// Decode and hash every member. Off (`list`), a member the model does
    /// not need (not servicing XML, a delta, a PE, a catalog or a source an
    /// index names) is read only as far as its first 64 KiB, which tell
    /// what it is; members of a CAB folder past the last one needed are
    /// not decoded at all. Its digests are then unknown
    /// ([`Member::digested`]).
    pub digest_all: bool,
    /// The buffers and thread budget of the walk and of delta rebuilds
    /// (by default: every core). The package keeps it for checks that read
    /// again or run in parallel ([`Package::context`]).
    pub context: container::DecodeContext,
    /// Told how far loading is: the walk's stages (a cabinet each), then
    /// "rebuilding deltas" (files) ([`container::Progress`]).
    pub progress: Option<container::ProgressHandle>,
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
            trust: None,
            catalogs_kept: CATALOGS_KEPT,
            digest_all: true,
            context: container::DecodeContext::default(),
            progress: None,
        }
    }
}

impl LoadOptions {
    /// Whether the trust check's digests of the input and of nested
    /// cabinets are left for the signature job that runs beside the delta
    /// rebuilds ([`LoadOptions::trust`], two threads or more), within
    /// `load::DEFER_DIGESTS`.
    pub(crate) fn defers_digests(&self) -> bool {
        self.trust.is_some() && self.expand_deltas && self.context.threads() > 1
    }

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
    /// A servicing document (`.mum`, component manifest, compressed or
    /// not): what the catalogs must list.
    pub fn is_document(self) -> bool {
        matches!(
            self,
            MemberKind::Mum | MemberKind::Manifest | MemberKind::CompressedManifest
        )
    }

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
    /// Tree path (`Windows6.1-KB4538483-x86.cab/update.mum`). Shared, not
    /// copied, by the components and trust proofs that name the member.
    pub path: std::sync::Arc<str>,
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
    #[serde(skip)]
    pub(crate) bytes: Option<Box<[u8]>>,
    /// Version resource of a PE member, read while its bytes were at hand
    /// (they are not kept past `max_kept_pe`).
    #[serde(skip)]
    pub(crate) pe: Option<Box<PeVersion>>,
    /// The servicing document, parsed as soon as the member was read so
    /// that its text need not wait in memory for the end of the walk.
    #[serde(skip)]
    parsed: Option<Parsed>,
    /// What few members have: a read error, a nested cabinet's
    /// Authenticode digests, a catalog verified as it was read. One box:
    /// a package has tens of thousands of members.
    #[serde(rename = "read_error", serialize_with = "serialize_read_error")]
    pub(crate) rare: Option<Box<Rare>>,
    /// Whether every byte was read and hashed (see
    /// [`LoadOptions::digest_all`]).
    #[serde(skip)]
    pub(crate) digested: bool,
}

/// See [`Member::rare`].
#[derive(Debug, Clone, Default)]
pub(crate) struct Rare {
    /// The member could not be read completely (the error); its hashes
    /// cover only what was read.
    pub(crate) read_error: Option<Box<str>>,
    /// Trust: a nested cabinet's Authenticode digests and signature, or
    /// its bytes to take them from later.
    pub(crate) cab_auth: Option<CabAuth>,
    /// Trust: a catalog verified as the walk read it, its bytes then let
    /// go ([`Presign::catalog`], past [`load::CATALOGS_KEPT`]).
    pub(crate) catalog_signed: Option<Presigned>,
}

fn serialize_read_error<S: serde::Serializer>(
    r: &Option<Box<Rare>>,
    s: S,
) -> Result<S::Ok, S::Error> {
    r.as_ref()
        .and_then(|r| r.read_error.as_deref())
        .serialize(s)
}

/// A member's servicing XML parsed during the walk; errors are kept as
/// their text and reported in member order after the walk. Boxed: most
/// members have none, and a manifest is half the size of a mum.
#[derive(Debug, Clone)]
enum Parsed {
    Mum(Box<Mum>),
    Index(Box<ContainerIndex>),
    Manifest(Box<parse::HeldManifest>),
    /// The parse error of the member's kind of document (boxed: every
    /// variant one pointer, so a member's slot is 16 bytes).
    #[allow(clippy::box_collection)] // one pointer, as every variant
    Malformed(Box<String>),
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
    /// Whether `sha256`, `sha1` and `size` cover the whole member. False
    /// only for members a load with [`LoadOptions::digest_all`] off did not
    /// need: they cover the first bytes read, and `size` is the declared
    /// size.
    pub fn digested(&self) -> bool {
        self.digested
    }

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

    /// What [`Presign::catalog`] said of this catalog, when the load
    /// verified it as it read it.
    pub fn catalog_presigned(&self) -> Option<&Presigned> {
        self.rare.as_ref()?.catalog_signed.as_ref()
    }

    /// Why the member could not be read completely, if it could not: its
    /// hashes then cover only what was read.
    pub fn read_error(&self) -> Option<&str> {
        self.rare.as_ref()?.read_error.as_deref()
    }

    /// The rarely set parts, created when one is set.
    pub(crate) fn rare_mut(&mut self) -> &mut Rare {
        self.rare.get_or_insert_with(Default::default)
    }

    /// A nested cabinet's Authenticode digests and signature blob (taken
    /// now from its bytes when the load kept them for later).
    pub fn cab_digests(&self) -> Option<std::borrow::Cow<'_, crate::digest::CabDigests>> {
        use std::borrow::Cow;
        match self.rare.as_ref()?.cab_auth.as_ref()? {
            CabAuth::Done(d) => Some(Cow::Borrowed(d)),
            CabAuth::Later { bytes, algs } => {
                let mut d = crate::digest::CabDigester::with_algs(bytes, *algs);
                d.update(bytes);
                Some(Cow::Owned(d.finish()))
            }
        }
    }
}

/// The trust check's signature stage, which the load runs beside the
/// delta rebuilds ([`LoadOptions::trust`]). A later stage gives it
/// (`trust::package::TrustOptions`): the model does not know signatures.
pub trait Presign: std::fmt::Debug + Send + Sync {
    /// Verify `pkg`'s signatures; `input`: the input's digests when the
    /// package does not hold them yet.
    fn presign(&self, pkg: &Package, input: Option<&crate::digest::InputDigests>) -> Presigned;

    /// Verify one catalog while the walk holds its bytes (`read`: its CTL,
    /// parsed from them), so that a package with many catalogs need not
    /// keep them all until the end of the load. [`Presign::presign`] takes
    /// the result back ([`Member::catalog_presigned`]).
    fn catalog(&self, path: &str, bytes: &[u8], read: &crate::trust::ReadCtl) -> Presigned;
}

/// What [`Presign::presign`] gave, for the stage that made it to read back.
#[derive(Clone)]
pub struct Presigned(pub std::sync::Arc<dyn std::any::Any + Send + Sync>);

impl std::fmt::Debug for Presigned {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Presigned(..)")
    }
}

/// A nested cabinet's Authenticode digests, as the walk leaves them.
#[derive(Debug, Clone)]
pub(crate) enum CabAuth {
    /// Taken as the cabinet streamed past.
    Done(crate::digest::CabDigests),
    /// The cabinet's bytes, kept (within [`load::DEFER_DIGESTS`]) so that
    /// the digests are taken beside the delta rebuilds, where a core is
    /// idle, and not in the walk, where both are busy; in these
    /// algorithms.
    Later {
        bytes: Vec<u8>,
        algs: crate::digest::CabAlgs,
    },
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
        /// The member's path, shared with it.
        member: std::sync::Arc<str>,
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
    /// Keyform of the declaring component (shared with it).
    pub component: std::sync::Arc<str>,
    /// Interned (`amd64`, `wow64`): no allocation per file.
    pub arch: crate::servicing::identity::Atom,
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
/// as one, or was not computed), in the two algorithms catalogs use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeAuth {
    pub sha256: Option<Vec<u8>>,
    pub sha1: Option<Vec<u8>>,
    /// An algorithm was skipped because the other one's hash is listed
    /// (see [`PeAuth::for_listed`]): if that listing turns out to be in an
    /// unverified catalog, the file must be hashed again.
    pub partial: bool,
}

impl PeAuth {
    /// Both hashes.
    pub fn of(bytes: &[u8]) -> PeAuth {
        use crate::digest::{Alg, pe_authenticode};
        PeAuth {
            sha256: pe_authenticode(bytes, Alg::Sha256),
            sha1: pe_authenticode(bytes, Alg::Sha1),
            partial: false,
        }
    }

    /// Only the hashes a lookup in `listed` (every hash the catalogs list)
    /// can use: an algorithm no catalog lists a hash of is not computed,
    /// and SHA-1 is not computed when the SHA-256 hash (looked up first)
    /// is listed. Old catalogs list SHA-1 hashes only: half the hashing.
    pub fn for_listed(bytes: &[u8], listed: &Listed) -> PeAuth {
        PeAuth::for_listed_with(bytes, listed, None)
    }

    /// [`PeAuth::for_listed`], given one PE Authenticode hash when it was
    /// already computed: its algorithm and the hash (`None`: the bytes are
    /// no PE image it can be taken of). A hash the lookup does not use is
    /// dropped.
    pub fn for_listed_with(
        bytes: &[u8],
        listed: &Listed,
        known: Option<(crate::digest::Alg, Option<Vec<u8>>)>,
    ) -> PeAuth {
        use crate::digest::{Alg, pe_authenticode};
        let (mut known256, mut known1) = (None, None);
        match known {
            Some((Alg::Sha256, h)) => known256 = Some(h),
            Some((Alg::Sha1, h)) => known1 = Some(h),
            _ => {}
        }
        let sha256 = listed
            .sha256
            .then(|| known256.unwrap_or_else(|| pe_authenticode(bytes, Alg::Sha256)))
            .flatten();
        let hit = sha256.as_ref().is_some_and(|h| listed.contains(h));
        let sha1 = (listed.sha1 && !hit)
            .then(|| known1.unwrap_or_else(|| pe_authenticode(bytes, Alg::Sha1)))
            .flatten();
        PeAuth {
            sha256,
            sha1,
            partial: hit && listed.sha1,
        }
    }
}

/// Every hash a package's catalogs list (signatures unchecked), and which
/// lengths occur: 32 bytes (SHA-256), 20 (SHA-1). Held as fixed-size keys:
/// a large package's catalogs list tens of thousands.
#[derive(Debug, Default)]
pub struct Listed {
    sha256s: std::collections::HashSet<[u8; 32]>,
    sha1s: std::collections::HashSet<[u8; 20]>,
    pub sha256: bool,
    pub sha1: bool,
}

impl Listed {
    /// The SHA-256 and SHA-1 hashes among `hashes` (others have no use
    /// here: only those two are looked up).
    pub fn new<'h>(hashes: impl IntoIterator<Item = &'h [u8]>) -> Listed {
        let mut l = Listed::default();
        for h in hashes {
            if let Ok(a) = <[u8; 32]>::try_from(h) {
                l.sha256s.insert(a);
            } else if let Ok(a) = <[u8; 20]>::try_from(h) {
                l.sha1s.insert(a);
            }
        }
        l.sha256 = !l.sha256s.is_empty();
        l.sha1 = !l.sha1s.is_empty();
        l
    }

    pub fn contains(&self, h: &[u8]) -> bool {
        if let Ok(a) = <[u8; 32]>::try_from(h) {
            self.sha256s.contains(&a)
        } else if let Ok(a) = <[u8; 20]>::try_from(h) {
            self.sha1s.contains(&a)
        } else {
            false
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
    /// Member path of the `.manifest` (shared with the member).
    pub member: std::sync::Arc<str>,
    pub identity: Identity,
    /// Keyform computed from the identity (shared with its files).
    pub keyform: std::sync::Arc<str>,
    pub arch: crate::servicing::identity::Atom,
    pub deployment: bool,
    pub dependencies: Vec<Dependency>,
    pub registry_keys: Vec<RegistryKey>,
    pub files: Vec<File>,
}

impl Component {
    /// For deployment manifests: the components they deploy (their
    /// `install` dependencies). Read from the dependencies rather than
    /// kept as copies: a large package has thousands of deployments.
    pub fn deploys(&self) -> impl Iterator<Item = &Identity> {
        component::deployed(self.deployment, &self.dependencies)
    }
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
            index.files.get(i).map_or("", |f| &*f.name)
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
        let name_of = |i: usize| self.index.files.get(i).map_or("", |f| &*f.name);
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
    /// The input's bytes, kept by the walk for its digests to be taken
    /// beside the delta rebuilds (then moved to `input_digests`).
    #[serde(skip)]
    pub(crate) pending_input: Option<Box<load::TapDigests>>,
    /// The catalogs' CTLs the load read (with [`LoadOptions::keep_trust`]),
    /// by member path, for the trust check.
    #[serde(skip)]
    pub(crate) ctls: std::collections::HashMap<String, crate::trust::ReadCtl>,
    /// The signatures verified during the load ([`LoadOptions::trust`]).
    #[serde(skip)]
    pub(crate) presigned: Option<Presigned>,
    /// Set when the load let the catalogs' bytes go once their signatures
    /// were verified and their CTLs read ([`Package::release_catalogs`]):
    /// what still needs them reads them again ([`Package::bytes_again`]).
    #[serde(skip)]
    pub(crate) catalogs_released: bool,
    /// For each member (by index), whether it is a servicing document whose
    /// SHA-256 or SHA-1 the catalogs list, found before they were let go
    /// (for `check::integrity`). One flag a member, not a set of hashes
    /// (1.7 MB for the generated 300 MB package, at the load's peak).
    #[serde(skip)]
    pub(crate) catalog_hits: Option<Vec<bool>>,
    /// The walk limits the package was loaded with (a check that must read
    /// a member again walks within the same limits).
    #[serde(skip)]
    pub(crate) limits: Limits,
    /// The buffers and thread budget it was loaded with.
    #[serde(skip)]
    pub(crate) context: container::DecodeContext,
}

mod load;
mod lookup;
mod parse;
mod rebuild;

pub use load::CATALOGS_KEPT;
use load::*;
use lookup::*;
pub(crate) use lookup::{SortedBytes, occurring};
pub use lookup::{parent_of, path_key};
use parse::*;
pub use rebuild::{RebuildSink, expansion_error};

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
