//! Opening inputs and streaming their members.
//!
//! [`walk`] opens a `.msu`, a `.cab` (first part of a set) or a directory that
//! holds an expanded package, and hands every member to a visitor in order,
//! once, as a stream. A member that is itself a cabinet (by signature) is
//! visited and then opened recursively, so an MSU presents one tree:
//! `Windows6.1-KB4538483-x86.cab/update.mum`.
//!
//! Cabinets are read by our own reader: `cab` parses CFHEADER/CFFOLDER/CFFILE
//! through checked helpers, `stream` decodes one folder at a time (stored,
//! MSZIP via miniz_oxide with the history carried across blocks, LZX via
//! lzxd; Quantum is refused) and hands members out in offset order, `walker`
//! merges multi-cabinet sets, reports structural anomalies as findings
//! (`cab-*` codes, listed in README.md) and recurses into nested
//! cabinets. [`list`] builds the inventory behind `kbinspect ls`. A
//! [`DecodeContext`] (in [`WalkOptions`]) holds the buffers decoders reuse
//! and the thread budget: large folders are decoded on helper threads
//! while the visitor reads, as many as the budget allows.
//!
//! ```no_run
//! use kbinspect::container::{walk, Limits};
//! let report = walk("update.msu".as_ref(), &Limits::default(), &mut |m, r| {
//!     let mut sink = std::io::sink();
//!     std::io::copy(r, &mut sink)?; // a corrupt member fails here
//!     println!("{} {}", m.path, m.size);
//!     Ok(())
//! })?;
//! # Ok::<(), kbinspect::container::Error>(())
//! ```

use std::io::{BufRead, Read};
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::finding::{Code, Finding};

mod cab;
mod context;
mod listing;
pub mod lzx;
pub mod names;
mod stream;
mod walker;

use cab::Src;
use walker::Walker;

pub use context::DecodeContext;
pub use listing::{DigestKind, ListedMember, Listing, list, list_with};

/// Hard limits against hostile input. Exceeding one is an error naming it.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Nesting depth of containers inside containers (`--max-depth`).
    pub max_depth: u32,
    /// Members per cabinet (`--max-members`).
    pub max_members: u64,
    /// Members of the whole tree, every nested cabinet included
    /// (`--max-total-members`).
    pub max_total_members: u64,
    /// Declared size of one member (`--max-member-size`).
    pub max_member_size: u64,
    /// Declared output of the whole tree (`--max-total-size`); a nested
    /// cabinet counts as a member and again through its members.
    pub max_total_size: u64,
    /// Bytes decoded across the whole tree (every nesting level, restarts
    /// included) per byte of input on disk (`--max-ratio`; 0 = off). Checked
    /// block by block while decoding, so a nested bomb, whose ratios
    /// multiply, stops as soon as it crosses the line.
    pub max_ratio: u64,
    /// Decoded bytes up to which the ratio is not checked (`--ratio-floor`):
    /// small padded samples legitimately expand 10,000:1 and more.
    pub ratio_floor: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_depth: 8,
            max_members: 1_000_000,
            // The largest cumulative updates hold ~100,000 files; 24 nested
            // cabinets of 65,535 members each (2.4 MB) would be 1.6 million.
            max_total_members: 400_000,
            max_member_size: 16 << 30,
            max_total_size: 64 << 30,
            max_ratio: 1000,
            // cabextract's large-files-cab.cab turns 26,554 bytes into
            // 6.0 GiB (242,600:1 over the tree) and is a legitimate test
            // cabinet: the floor lets it through.
            ratio_floor: 8 << 30,
        }
    }
}

pub use crate::time::Timestamp;

/// How a member's bytes are stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase", tag = "method")]
pub enum Compression {
    /// A plain file in a directory input.
    File,
    None,
    Mszip,
    Lzx {
        window_bits: u8,
    },
    Quantum {
        level: u8,
        window_bits: u8,
    },
}

impl std::fmt::Display for Compression {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Compression::File => f.write_str("file"),
            Compression::None => f.write_str("none"),
            Compression::Mszip => f.write_str("mszip"),
            Compression::Lzx { window_bits } => write!(f, "lzx:{window_bits}"),
            Compression::Quantum { level, window_bits } => {
                write!(f, "quantum:{level}:{window_bits}")
            }
        }
    }
}

/// One member of the tree.
#[derive(Debug, Clone, Serialize)]
pub struct MemberMeta {
    /// Path in the tree, `/`-separated, containers included:
    /// `Windows6.1-KB4538483-x86.cab/update.mum`.
    pub path: String,
    /// The name as stored in its container (backslashes kept), decoded to text.
    pub name: String,
    /// Uncompressed size.
    pub size: u64,
    pub modified: Option<Timestamp>,
    pub compression: Compression,
    /// Folder index inside its cabinet (`None` for directory inputs).
    pub folder: Option<u32>,
    /// Containers above this member (0 = directly in the input).
    pub depth: u32,
    /// CAB attribute bits (read-only 0x1, hidden 0x2, system 0x4, arch 0x20, exec 0x40, utf-8 name 0x80).
    pub attributes: u16,
    /// True when this member is itself a cabinet that the walk opens next.
    pub is_container: bool,
}

/// Facts about one container in the tree.
#[derive(Debug, Clone, Serialize)]
pub struct ContainerInfo {
    /// Tree path of the container (`""` for the input itself).
    pub path: String,
    pub kind: ContainerKind,
    pub size: u64,
    pub folders: u32,
    pub files: u32,
    /// Cabinet set id and index within the set.
    pub set_id: Option<u16>,
    pub set_index: Option<u16>,
    /// Further cabinet files read as parts of this set.
    pub parts: Vec<String>,
    /// The appended Authenticode signature of a signed cabinet.
    pub signature: Option<Signature>,
}

/// What a container in the tree is; serialized as `cab`, `msu` or
/// `directory`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum ContainerKind {
    /// A cabinet: the input or a member of another container.
    Cab,
    /// A cabinet named `.msu`: the outer file of a Windows update.
    Msu,
    /// An expanded folder given as the input.
    Directory,
}

impl ContainerKind {
    pub const fn as_str(self) -> &'static str {
        match self {
            ContainerKind::Cab => "cab",
            ContainerKind::Msu => "msu",
            ContainerKind::Directory => "directory",
        }
    }

    /// A cabinet, whatever its name: one that can carry a signature.
    pub fn is_cabinet(self) -> bool {
        matches!(self, ContainerKind::Cab | ContainerKind::Msu)
    }
}

impl std::fmt::Display for ContainerKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(self.as_str())
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Signature {
    pub offset: u64,
    pub size: u64,
}

/// What a walk saw besides the members: containers and anomalies.
#[derive(Debug, Clone, Default, Serialize)]
pub struct WalkReport {
    pub containers: Vec<ContainerInfo>,
    /// Anomalies and per-member problems (bad checksums, overlapping ranges,
    /// extra bytes, …). The walk keeps going after these.
    pub findings: Vec<Finding>,
    /// Bytes of folder output the walk read (decompressed, or copied from
    /// stored folders): in each folder, as far as its reader went. What
    /// decode-ahead threads decoded beyond that is not counted, so the
    /// figure does not depend on threads.
    #[serde(skip)]
    pub decoded: u64,
}

/// An input that could not be read at all, or a limit that was exceeded.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    /// Malformed structure: `file` is the input or tree path, `offset` the byte offset.
    #[error("{file}: at offset {offset}: {message}")]
    Format {
        file: String,
        offset: u64,
        message: String,
    },
    #[error("{file}: {message} (limit {limit}; raise it with {flag})")]
    Limit {
        file: String,
        message: String,
        limit: u64,
        flag: &'static str,
    },
    #[error("{file}: {message}")]
    Unsupported { file: String, message: String },
    /// An error the visitor returned; the walk stops.
    #[error("{0}")]
    Visitor(VisitError),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// The visitor a walk calls for every member, in order. The reader yields the
/// member's bytes once (`fill_buf`/`consume` hand them over without a copy);
/// whatever the visitor does not read is skipped. An
/// `Err` from the reader means the member is corrupt (the error says why and
/// where); the walk records it and continues.
pub type Visitor<'a> =
    dyn FnMut(&MemberMeta, &mut dyn BufRead) -> std::result::Result<(), VisitError> + 'a;

/// What a visitor can fail with: any error of the caller's (an I/O error
/// while writing a member out, say). The walk stops and hands it back as
/// [`Error::Visitor`].
pub type VisitError = Box<dyn std::error::Error + Send + Sync>;

/// Walk an input: a `.msu`/`.cab` file or a directory of an expanded package.
/// Every member is decoded in full, also the bytes the visitor leaves unread,
/// so corruption anywhere is reported (see [`walk_with`] to skip that).
pub fn walk(input: &Path, limits: &Limits, visitor: &mut Visitor<'_>) -> Result<WalkReport> {
    walk_with(input, limits, &WalkOptions::default(), visitor)
}

/// How much a walk decodes beyond what the visitor reads.
#[derive(Debug, Clone)]
pub struct WalkOptions {
    /// Decode (and so check) the bytes of every member even when the visitor
    /// does not read them. Off, a listing only decodes what it needs to find
    /// nested cabinets (the first bytes of each member).
    pub verify_unread: bool,
    /// The buffers and thread budget the walk decodes with; by default a
    /// context of its own on every core (freed when the walk returns).
    pub context: DecodeContext,
    /// Told how far the walk is ([`Progress`]).
    pub progress: Option<ProgressHandle>,
}

impl Default for WalkOptions {
    fn default() -> Self {
        WalkOptions {
            verify_unread: true,
            context: DecodeContext::default(),
            progress: None,
        }
    }
}

/// How far a long operation is, for a progress bar: the library reports,
/// the caller draws (the `kbinspect` binary: a bar on stderr when it is a
/// terminal). Work comes in stages, each with a total known when it
/// begins: a cabinet's stage totals its members' uncompressed sizes, from
/// its headers, before any is decoded; a directory's, its files' sizes;
/// rebuilding deltas counts the files to rebuild. Stages nest: a nested
/// cabinet's stage begins and ends while its parent's is open (the
/// parent's position then moves past the nested cabinet as one member).
pub trait Progress: Send + Sync {
    /// A stage begins: `what` (a cabinet's tree path or the input's name,
    /// or what is being done) and its `total`, in `unit`s.
    fn begin(&self, what: &str, unit: Unit, total: u64);
    /// The innermost open stage has done `position` units: never less than
    /// it said before, never more than its total; its last call says
    /// `total` when the stage completed.
    fn position(&self, position: u64);
    /// The innermost open stage ended (completed or not).
    fn end(&self);
}

/// What a [`Progress`] stage counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    /// Bytes of members (uncompressed).
    Bytes,
    /// Files (delta rebuilds).
    Files,
}

/// A shared [`Progress`], as options carry it.
#[derive(Clone)]
pub struct ProgressHandle(pub std::sync::Arc<dyn Progress>);

impl std::fmt::Debug for ProgressHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ProgressHandle")
    }
}

/// One open stage: advances its position (capped at the total, so it
/// never passes it) and ends the stage when dropped, also on an error.
pub(crate) struct Stage {
    progress: std::sync::Arc<dyn Progress>,
    total: u64,
    done: u64,
}

impl Stage {
    pub(crate) fn begin(
        progress: Option<&ProgressHandle>,
        what: &str,
        unit: Unit,
        total: u64,
    ) -> Option<Stage> {
        let progress = progress?.0.clone();
        progress.begin(what, unit, total);
        Some(Stage {
            progress,
            total,
            done: 0,
        })
    }

    pub(crate) fn advance(&mut self, n: u64) {
        let at = self.done.saturating_add(n).min(self.total);
        if at != self.done {
            self.done = at;
            self.progress.position(at);
        }
    }
}

impl Drop for Stage {
    fn drop(&mut self) {
        self.progress.end();
    }
}

/// [`walk`] with options.
pub fn walk_with(
    input: &Path,
    limits: &Limits,
    opts: &WalkOptions,
    visitor: &mut Visitor<'_>,
) -> Result<WalkReport> {
    walk_any(input, limits, opts, visitor, None)
}

pub use cab::TapSink;

/// [`walk_with`] that also hands every byte of the input file, in order and
/// once, to `tap`, as the walk reads it (bytes it skips or never reaches
/// are read for the tap on the way, or at the end): a digest of the whole
/// input without reading it a second time. A directory input has no bytes
/// of its own; `tap` is then not called.
pub fn walk_tapped(
    input: &Path,
    limits: &Limits,
    opts: &WalkOptions,
    visitor: &mut Visitor<'_>,
    tap: TapSink,
) -> Result<WalkReport> {
    walk_any(input, limits, opts, visitor, Some(tap))
}

/// A directory is walked as a set of files; a file as a cabinet, its bytes
/// handed to `tap` when there is one.
fn walk_any(
    input: &Path,
    limits: &Limits,
    opts: &WalkOptions,
    visitor: &mut Visitor<'_>,
    tap: Option<TapSink>,
) -> Result<WalkReport> {
    let md = std::fs::metadata(input).map_err(|e| Error::Io {
        path: input.display().to_string(),
        source: e,
    })?;
    if md.is_dir() {
        walk_dir(input, limits, opts, visitor)
    } else {
        walk_file_tapped(input, limits, opts, visitor, tap)
    }
}

fn walk_file_tapped(
    input: &Path,
    limits: &Limits,
    opts: &WalkOptions,
    visitor: &mut Visitor<'_>,
    tap: Option<TapSink>,
) -> Result<WalkReport> {
    let name = input.display().to_string();
    let io = |e| Error::Io {
        path: name.clone(),
        source: e,
    };
    let f = std::fs::File::open(input).map_err(io)?;
    let len = f.metadata().map_err(io)?.len();
    let mut report = WalkReport::default();
    let mut w = Walker::new(limits, visitor, &mut report, opts, len, true);
    let dir = input.parent().map(|p| {
        if p.as_os_str().is_empty() {
            Path::new(".")
        } else {
            p
        }
    });
    let tap =
        tap.map(|sink| std::sync::Arc::new(std::sync::Mutex::new(cab::Tap { seen: 0, sink })));
    // A second handle for the bytes the walk never reads (the signature
    // after the last folder): read at offsets, it shares no position.
    let rest = match &tap {
        Some(_) => Some(f.try_clone().map_err(io)?),
        None => None,
    };
    w.cabinet(Src::tapped(f, tap.clone()), len, &name, "", dir, 0)?;
    if let (Some(tap), Some(rest)) = (tap, rest) {
        let mut t = tap.lock().unwrap_or_else(|e| e.into_inner());
        t.fill(&rest, len).map_err(io)?;
    }
    Ok(report)
}

/// Decoded bytes a walk may produce: every declared byte once, plus as much
/// again for members that overlap and force a folder to restart.
fn decode_budget(limits: &Limits) -> u64 {
    limits.max_total_size.saturating_mul(2)
}

/// True when the file starts with the cabinet signature and is not a later
/// part of a set (those are read from the first part).
fn is_first_cabinet(path: &Path) -> bool {
    let mut head = [0u8; 36];
    let ok = std::fs::File::open(path)
        .and_then(|mut f| f.read_exact(&mut head))
        .is_ok();
    ok && &head[0..4] == cab::SIGNATURE
        && u16::from_le_bytes([head[30], head[31]]) & cab::FLAG_PREV_CABINET == 0
}

fn timestamp_of(md: &std::fs::Metadata) -> Option<Timestamp> {
    let secs = md
        .modified()
        .ok()?
        .duration_since(std::time::UNIX_EPOCH)
        .ok()?
        .as_secs() as i64;
    Timestamp::from_unix(secs)
}

/// A directory holding an expanded package: every regular file, sorted by
/// path, is a member. Symlinks are not followed.
fn walk_dir(
    root: &Path,
    limits: &Limits,
    opts: &WalkOptions,
    visitor: &mut Visitor<'_>,
) -> Result<WalkReport> {
    let mut files: Vec<(String, PathBuf, std::fs::Metadata)> = Vec::new();
    let mut stack = vec![(root.to_path_buf(), String::new(), 0u32)];
    while let Some((dir, prefix, depth)) = stack.pop() {
        if depth > limits.max_depth.saturating_mul(4) {
            return Err(Error::Limit {
                file: dir.display().to_string(),
                message: "directory nesting too deep".into(),
                limit: u64::from(limits.max_depth) * 4,
                flag: "--max-depth",
            });
        }
        let rd = std::fs::read_dir(&dir).map_err(|e| Error::Io {
            path: dir.display().to_string(),
            source: e,
        })?;
        for entry in rd {
            let entry = entry.map_err(|e| Error::Io {
                path: dir.display().to_string(),
                source: e,
            })?;
            let name = entry.file_name().to_string_lossy().into_owned();
            let rel = if prefix.is_empty() {
                name.clone()
            } else {
                format!("{prefix}/{name}")
            };
            let ft = entry.file_type().map_err(|e| Error::Io {
                path: entry.path().display().to_string(),
                source: e,
            })?;
            if ft.is_dir() {
                stack.push((entry.path(), rel, depth + 1));
            } else if ft.is_file() {
                let md = entry.metadata().map_err(|e| Error::Io {
                    path: entry.path().display().to_string(),
                    source: e,
                })?;
                files.push((rel, entry.path(), md));
                if files.len() as u64 > limits.max_members {
                    return Err(Error::Limit {
                        file: root.display().to_string(),
                        message: "too many files".into(),
                        limit: limits.max_members,
                        flag: "--max-members",
                    });
                }
            }
        }
    }
    files.sort_by(|a, b| a.0.cmp(&b.0));
    let mut report = WalkReport {
        containers: vec![ContainerInfo {
            path: String::new(),
            kind: ContainerKind::Directory,
            size: files.iter().map(|f| f.2.len()).sum(),
            folders: 0,
            files: files.len() as u32,
            set_id: None,
            set_index: None,
            parts: vec![],
            signature: None,
        }],
        findings: vec![],
        decoded: 0,
    };
    let on_disk = report.containers.first().map_or(0, |c| c.size);
    let mut stage = Stage::begin(
        opts.progress.as_ref(),
        &root.display().to_string(),
        Unit::Bytes,
        on_disk,
    );
    // Later parts of a set are files of the directory, counted already.
    let mut w = Walker::new(limits, visitor, &mut report, opts, on_disk, false);
    for (rel, path, md) in files {
        let is_container = is_first_cabinet(&path);
        let meta = MemberMeta {
            name: rel.clone(),
            path: rel.clone(),
            size: md.len(),
            modified: timestamp_of(&md),
            compression: Compression::File,
            folder: None,
            depth: 0,
            attributes: 0,
            is_container,
        };
        let open = |p: &Path| {
            std::fs::File::open(p).map_err(|e| Error::Io {
                path: p.display().to_string(),
                source: e,
            })
        };
        let mut f = std::io::BufReader::with_capacity(256 << 10, open(&path)?);
        (w.visitor)(&meta, &mut f).map_err(Error::Visitor)?;
        if is_container {
            let f = open(&path)?;
            let dir = path.parent().unwrap_or(root);
            match w.cabinet(Src::from_file(f), md.len(), &rel, &rel, Some(dir), 1) {
                Ok(()) => {}
                Err(e @ (Error::Limit { .. } | Error::Visitor(_))) => return Err(e),
                Err(e) => {
                    w.report
                        .findings
                        .push(Finding::error(Code::CabNested, &rel, e.to_string()))
                }
            }
        }
        if let Some(s) = stage.as_mut() {
            s.advance(md.len());
        }
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::ContainerKind;

    #[test]
    fn container_kinds_serialize_as_their_names() {
        for k in [
            ContainerKind::Cab,
            ContainerKind::Msu,
            ContainerKind::Directory,
        ] {
            let json = serde_json::to_string(&k).unwrap();
            assert_eq!(json, format!("\"{}\"", k.as_str()));
            assert_eq!(k.to_string(), k.as_str());
        }
        assert_eq!(ContainerKind::Msu.as_str(), "msu");
    }
}
