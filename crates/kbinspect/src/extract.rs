//! Safe extraction of a package tree to a directory.
//!
//! Every member name is hostile: [`sanitize`] turns it into relative path
//! components that cannot leave the output directory (no absolute paths,
//! drive letters, `..`, control characters, Windows device names), or refuses
//! it. Files are written to a temporary name in their target directory and
//! renamed when complete, so an interrupted extraction leaves no partial file
//! under a final name. Existing files are kept unless `force`; symlinks found
//! in the output directory are never followed or replaced.
//!
//! Layouts: [`Layout::Nested`] mirrors the tree, a nested cabinet becoming a
//! directory of its contents (`DIR/Windows6.1-KB4538483-x86.cab/update.mum`)
//! rather than a file; [`Layout::Flat`] writes the leaf members by their names
//! as stored in their own cabinet.

use std::collections::HashMap;
use std::io::BufRead;
use std::path::{Path, PathBuf};

use serde::Serialize;
use sha1::Digest as _;

use crate::container::{self, ContainerInfo, Limits, MemberMeta, Timestamp};
use crate::finding::{Code, Finding, Severity};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Layout {
    #[default]
    Nested,
    Flat,
}

/// Which members to write: a predicate over a member's tree path or stored
/// name. The CLI builds it from `--filter` globs; the library has no pattern
/// syntax of its own.
#[derive(Clone)]
pub struct Filter(std::sync::Arc<dyn Fn(&str) -> bool + Send + Sync>);

impl Filter {
    pub fn new(matches: impl Fn(&str) -> bool + Send + Sync + 'static) -> Self {
        Filter(std::sync::Arc::new(matches))
    }

    pub fn is_match(&self, path: &str) -> bool {
        (self.0)(path)
    }
}

impl std::fmt::Debug for Filter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Filter(..)")
    }
}

#[derive(Debug, Clone, Default)]
pub struct Options {
    pub layout: Layout,
    /// Only members whose tree path or stored name matches are written.
    pub filter: Option<Filter>,
    /// The globs of `filter` as the user gave them, for messages.
    pub filter_text: Option<String>,
    /// Replace existing regular files.
    pub force: bool,
    /// Levels of the tree to write: `Some(1)` writes the input's own
    /// members, nested cabinets as files (as `cabextract` without
    /// recursion); `Some(2)` opens those one level; `None` all levels.
    pub depth: Option<u32>,
    pub limits: Limits,
    /// The buffers and thread budget of decoding and rebuilding.
    pub context: container::DecodeContext,
    /// Told how far the walk (and with `expand`, the load) is
    /// ([`container::Progress`]).
    pub progress: Option<container::ProgressHandle>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Written {
    /// Tree path of the member.
    pub path: String,
    /// Where it was written, relative to the output directory (`/`-separated).
    pub target: String,
    pub size: u64,
    /// Why the target differs from the stored name, when it does.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub renamed: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Skipped {
    pub path: String,
    pub reason: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct ExtractReport {
    pub input: String,
    pub output_dir: String,
    pub layout: Layout,
    pub written: Vec<Written>,
    pub skipped: Vec<Skipped>,
    pub bytes_written: u64,
    pub containers: Vec<ContainerInfo>,
    /// Members that the filter and depth selected (written or skipped).
    pub selected: usize,
    /// True when every selected member was written (and something was
    /// selected): a run that did not write all it was asked to write is
    /// not complete, and the command exits 1.
    pub complete: bool,
    /// Reader findings plus `extract-unsafe-name`, `extract-collision`,
    /// `extract-exists`, `extract-write`, `extract-duplicate`,
    /// `extract-filter-empty`.
    pub findings: Vec<Finding>,
}

pub use crate::container::names::{SafePath, sanitize};

struct Extractor<'o> {
    root: PathBuf,
    opts: &'o Options,
    /// Target key ([`crate::container::names::member_key`]) → tree path
    /// of the member written there, and the file.
    taken: HashMap<String, (String, PathBuf)>,
    /// Directories this run made or found to be real directories: checked
    /// once, not once per file written into them.
    dirs_checked: std::collections::HashSet<PathBuf>,
    /// Tree paths (with a trailing `/`) of containers written as files:
    /// their members are in that file and are not written again.
    whole: Vec<String>,
    report: ExtractReport,
}

impl<'o> Extractor<'o> {
    fn new(input: &Path, root: PathBuf, opts: &'o Options, findings: Vec<Finding>) -> Self {
        Extractor {
            report: ExtractReport {
                input: input.display().to_string(),
                output_dir: root.display().to_string(),
                layout: opts.layout,
                written: vec![],
                skipped: vec![],
                bytes_written: 0,
                containers: vec![],
                selected: 0,
                complete: false,
                findings,
            },
            root,
            opts,
            taken: HashMap::new(),
            dirs_checked: Default::default(),
            whole: Vec::new(),
        }
    }
}

impl Extractor<'_> {
    fn skip(&mut self, path: &str, finding: Refusal, reason: String) {
        if let Some((severity, code)) = finding {
            let finding = Finding::new(severity, code, path, reason.clone());
            self.report.findings.push(finding);
        }
        self.report.skipped.push(Skipped {
            path: path.to_string(),
            reason,
        });
    }

    /// Create the directories of `dirs` under the root one by one, refusing
    /// symlinks and non-directories on the way.
    fn make_dirs(&mut self, dirs: &[String]) -> Result<PathBuf, String> {
        let mut at = self.root.clone();
        for d in dirs {
            at.push(d);
            if self.dirs_checked.contains(&at) {
                continue;
            }
            match std::fs::symlink_metadata(&at) {
                Ok(md) if md.file_type().is_symlink() => {
                    return Err(format!("{} is a symlink; not followed", at.display()));
                }
                Ok(md) if md.is_dir() => {}
                Ok(_) => return Err(format!("{} exists and is not a directory", at.display())),
                Err(_) => std::fs::create_dir(&at)
                    .map_err(|e| format!("cannot create {}: {e}", at.display()))?,
            }
            self.dirs_checked.insert(at.clone());
        }
        Ok(at)
    }

    fn member(
        &mut self,
        meta: &MemberMeta,
        r: &mut dyn BufRead,
        progress: &mut dyn FnMut(u64),
    ) -> Result<(), container::VisitError> {
        if self.whole.iter().any(|w| meta.path.starts_with(w.as_str())) {
            return Ok(()); // inside a container written as a file
        }
        if self.opts.depth.is_some_and(|d| meta.depth >= d) {
            return Ok(()); // below --depth: inside a container written whole
        }
        let matched = self
            .opts
            .filter
            .as_ref()
            .is_none_or(|f| f.is_match(&meta.path) || f.is_match(&meta.name));
        if meta.is_container {
            // A nested cabinet is written as a file at the last level of
            // --depth, or when the filter names it; else, nested, it
            // becomes a directory of its members and, flat, only its
            // leaves are written.
            let last_level = self.opts.depth == Some(meta.depth + 1);
            let named = self.opts.filter.is_some() && matched;
            if !(named || (last_level && matched)) {
                return Ok(());
            }
            self.whole.push(format!("{}/", meta.path));
        } else if !matched {
            return Ok(());
        }
        self.report.selected += 1;
        let source = match self.opts.layout {
            Layout::Nested => meta.path.as_str(),
            Layout::Flat => meta.name.as_str(),
        };
        let safe = match sanitize(source) {
            Ok(s) => s,
            Err(why) => {
                // A name that cannot be made safe leaves the extraction
                // incomplete and may be an attack: that is an error.
                let unsafe_name = Some((Severity::Error, Code::ExtractUnsafeName));
                self.skip(&meta.path, unsafe_name, why);
                return Ok(());
            }
        };
        if let Some(why) = &safe.changed {
            self.report.findings.push(Finding::warning(
                Code::ExtractUnsafeName,
                &meta.path,
                format!("written as {}: {why}", safe.to_slash()),
            ));
        }
        let mut target = safe.to_slash();
        match self.place(&meta.path, &safe, r, meta.modified.as_ref(), None, progress) {
            Ok(n) => {
                // Where it went: an earlier alias's file when it replaced one.
                if let Some((_, path)) = self
                    .taken
                    .get(&crate::container::names::member_key(&target))
                    && let Ok(rel) = path.strip_prefix(&self.root)
                {
                    target = rel.to_string_lossy().replace('\\', "/");
                }
                self.report.bytes_written += n;
                self.report.written.push(Written {
                    path: meta.path.clone(),
                    target,
                    size: n,
                    renamed: safe.changed,
                });
            }
            // Read errors (no finding) are reported by the walk as reader
            // findings.
            Err((finding, why)) => self.skip(&meta.path, finding, why),
        }
        Ok(())
    }

    /// Write `r` to the sanitized target: claim the name (case-insensitive),
    /// make the directories, write a temporary file and rename it. With
    /// `expect`, the bytes must hash to it or nothing is left behind. The
    /// error carries the finding to report and the reason.
    fn place(
        &mut self,
        who: &str,
        safe: &SafePath,
        r: &mut dyn BufRead,
        modified: Option<&Timestamp>,
        expect: Option<&Expect>,
        progress: &mut dyn FnMut(u64),
    ) -> Result<u64, (Refusal, String)> {
        let target = safe.to_slash();
        let key = crate::container::names::member_key(&target);
        // A later member of this run that is the same file once extracted
        // replaces the earlier one: the last wins, as in cabextract and
        // 7-Zip, and as `verify` reads it (one rule for every command).
        let replacing = self.taken.get(&key).cloned();
        // Flat, two different members can have one name: that is a
        // collision, not an alias; the later one is not written.
        if let Some((first, path)) = &replacing
            && self.opts.layout == Layout::Flat
            && tree_key(first) != tree_key(who)
        {
            let why = format!(
                "same name as {first} in --flat ({}); not written",
                path.display()
            );
            return Err((Some((Severity::Warning, Code::ExtractCollision)), why));
        }
        let (dir, final_path) = match &replacing {
            Some((first, path)) => {
                self.report.findings.push(Finding::warning(
                    Code::ExtractDuplicate,
                    who,
                    format!(
                        "the same file as {first} once extracted ({}); the later member replaces it",
                        path.display()
                    ),
                ));
                if let Some(at) = self.report.written.iter().position(|w| &w.path == first) {
                    let w = self.report.written.remove(at);
                    self.report.bytes_written = self.report.bytes_written.saturating_sub(w.size);
                }
                let dir = path
                    .parent()
                    .map_or_else(|| self.root.clone(), Path::to_path_buf);
                (dir, path.clone())
            }
            None => {
                let (dirs, file) = safe.components.split_at(safe.components.len() - 1);
                let dir = self.make_dirs(dirs).map_err(|why| (DIR_IN_THE_WAY, why))?;
                let final_path = dir.join(&file[0]);
                (dir, final_path)
            }
        };
        match std::fs::symlink_metadata(&final_path) {
            _ if replacing.is_some() => {}
            Ok(md) if md.file_type().is_symlink() => {
                let why = format!("{} is a symlink; not replaced", final_path.display());
                return Err((Some((Severity::Warning, Code::ExtractExists)), why));
            }
            Ok(md) if !md.is_file() => {
                let why = format!("{} exists and is not a file", final_path.display());
                return Err((Some((Severity::Warning, Code::ExtractExists)), why));
            }
            Ok(_) if !self.opts.force => {
                let why = format!("{} exists (use --force to replace)", final_path.display());
                return Err((Some((Severity::Warning, Code::ExtractExists)), why));
            }
            _ => {}
        }
        self.taken
            .insert(key.clone(), (who.to_string(), final_path.clone()));
        let mut builder = tempfile::Builder::new();
        builder.prefix(".kbinspect-").suffix(".part");
        // Temporary files are created 0600; extracted files should be
        // ordinary readable files.
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            builder.permissions(std::fs::Permissions::from_mode(0o644));
        }
        let write_err = |why: String| (Some((Severity::Error, Code::ExtractWrite)), why);
        // Created and registered under the interrupt lock: a signal never
        // finds a temporary file it does not know about.
        let (mut tmp, _part) = {
            let mut st = interrupt_state();
            if st.stopped {
                return Err(write_err("interrupted".to_string()));
            }
            let tmp = builder.tempfile_in(&dir).map_err(|e| {
                write_err(format!(
                    "cannot create a temporary file in {}: {e}",
                    dir.display()
                ))
            })?;
            st.parts.push(tmp.path().to_path_buf());
            let part = PartGuard(tmp.path().to_path_buf());
            (tmp, part)
        };
        let mut sha256 = expect.map(|_| sha2::Sha256::new());
        let mut sha1 = expect.map(|_| sha1::Sha1::new());
        let mut n = 0u64;
        loop {
            // Written and hashed straight from the reader's buffer.
            let chunk = match r.fill_buf() {
                Ok([]) => break,
                Ok(c) => c,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err((None, format!("not written: {e}"))),
            };
            std::io::Write::write_all(tmp.as_file_mut(), chunk)
                .map_err(|e| write_err(format!("write failed: {e}")))?;
            if let (Some(a), Some(b)) = (sha256.as_mut(), sha1.as_mut()) {
                a.update(chunk);
                b.update(chunk);
            }
            let k = chunk.len();
            r.consume(k);
            n += k as u64;
            progress(k as u64);
        }
        if let (Some(want), Some(a), Some(b)) = (expect, sha256, sha1) {
            let got = if want.sha1 {
                hex::encode(b.finalize())
            } else {
                hex::encode(a.finalize())
            };
            if !got.eq_ignore_ascii_case(&want.hex) {
                // The temporary file is removed when dropped.
                match replacing {
                    Some(earlier) => {
                        self.taken.insert(key, earlier);
                    }
                    None => {
                        self.taken.remove(&key);
                    }
                }
                return Err((
                    Some((Severity::Error, Code::ExpandDigest)),
                    format!("bytes hash to {got}, manifest says {}", want.hex),
                ));
            }
        }
        if let Some(t) = modified.and_then(Timestamp::to_system_time) {
            // A filesystem without mtimes is not a reason to fail.
            let _ = tmp.as_file().set_modified(t);
        }
        let mut st = interrupt_state();
        if st.stopped {
            return Err(write_err("interrupted".to_string()));
        }
        if self.opts.force || replacing.is_some() {
            tmp.persist(&final_path)
                .map_err(|e| write_err(e.error.to_string()))?;
        } else {
            tmp.persist_noclobber(&final_path).map_err(|e| {
                write_err(format!(
                    "{} appeared meanwhile: {}",
                    final_path.display(),
                    e.error
                ))
            })?;
        }
        st.written += 1;
        Ok(n)
    }
}

/// The key of a tree path once extracted nested: two members with one key
/// are aliases (one file), not a collision.
fn tree_key(path: &str) -> String {
    let s = sanitize(path).map_or_else(|_| path.to_string(), |s| s.to_slash());
    crate::container::names::member_key(&s)
}

/// Fail before anything is created when the input cannot be opened.
fn readable(input: &Path) -> Result<(), container::Error> {
    let io = |e| container::Error::Io {
        path: input.display().to_string(),
        source: e,
    };
    let md = std::fs::metadata(input).map_err(io)?;
    if md.is_dir() {
        std::fs::read_dir(input).map_err(io)?;
    } else {
        std::fs::File::open(input).map_err(io)?;
    }
    Ok(())
}

/// Temporary files being written, for an interrupt (SIGINT, SIGTERM).
struct InterruptState {
    parts: Vec<PathBuf>,
    /// Files renamed to their final name by this process.
    written: usize,
    stopped: bool,
}

static INTERRUPT: std::sync::Mutex<InterruptState> = std::sync::Mutex::new(InterruptState {
    parts: Vec::new(),
    written: 0,
    stopped: false,
});

fn interrupt_state() -> std::sync::MutexGuard<'static, InterruptState> {
    INTERRUPT.lock().unwrap_or_else(|e| e.into_inner())
}

/// Unregisters a temporary file when it is renamed or dropped.
struct PartGuard(PathBuf);

impl Drop for PartGuard {
    fn drop(&mut self) {
        interrupt_state().parts.retain(|p| p != &self.0);
    }
}

/// For a signal handler: stop [`extract`] and [`expand`] from creating or
/// renaming any more files, remove the temporary `.kbinspect-*.part` files
/// being written, and return how many files were written so far. The caller
/// then exits; nothing under a final name is partial.
pub fn interrupt() -> usize {
    let mut st = interrupt_state();
    st.stopped = true;
    for p in std::mem::take(&mut st.parts) {
        let _ = std::fs::remove_file(p);
    }
    st.written
}

/// The finding of [`Extractor::place`] when it writes nothing (besides the
/// reason): its severity and code, `None` for a read error, which the
/// reader reports itself.
type Refusal = Option<(Severity, Code)>;

/// A directory that cannot be made is a warning, unlike a failed write.
const DIR_IN_THE_WAY: Refusal = Some((Severity::Warning, Code::ExtractWrite));

/// A manifest digest the written bytes must match.
struct Expect {
    sha1: bool,
    hex: String,
}

/// Extract `input` into `out_dir` (created when missing). `progress` gets
/// the number of bytes written since the previous call.
pub fn extract(
    input: &Path,
    out_dir: &Path,
    opts: &Options,
    progress: &mut dyn FnMut(u64),
) -> Result<ExtractReport, container::Error> {
    readable(input)?;
    let io = |e| container::Error::Io {
        path: out_dir.display().to_string(),
        source: e,
    };
    std::fs::create_dir_all(out_dir).map_err(io)?;
    let root = out_dir.canonicalize().map_err(io)?;
    let mut ex = Extractor::new(input, root.clone(), opts, vec![]);
    // Members that are filtered out or skipped need not be decoded; the
    // written ones are read in full (and so checked) anyway.
    let walk_opts = container::WalkOptions {
        verify_unread: false,
        context: opts.context.clone(),
        progress: opts.progress.clone(),
    };
    let walk = container::walk_with(input, &opts.limits, &walk_opts, &mut |meta, r| {
        ex.member(meta, r, progress)
    })?;
    let mut report = ex.report;
    report.containers = walk.containers;
    let mut findings = walk.findings;
    findings.append(&mut report.findings);
    report.findings = findings;
    let filter_empty = report.selected == 0 && opts.filter.is_some();
    if filter_empty {
        let globs = opts.filter_text.as_deref().unwrap_or("");
        report.findings.push(Finding::warning(
            Code::ExtractFilterEmpty,
            &report.input,
            format!("no member matches --filter {globs}; nothing written"),
        ));
    }
    report.complete = !filter_empty && report.skipped.is_empty();
    Ok(report)
}

/// One manifest-declared file written by [`expand`].
#[derive(Debug, Clone, Serialize)]
pub struct ExpandedFile {
    /// Keyform of the declaring component.
    pub component: String,
    pub file: String,
    /// `stored` (a member, byte for byte) or `rebuilt` (from delta chains).
    pub source: &'static str,
    /// Relative to the output directory (`/`-separated).
    pub target: String,
    pub size: u64,
    /// The manifest digest the bytes were checked against.
    pub digest: String,
}

/// A manifest-declared file that [`expand`] did not write, and why.
#[derive(Debug, Clone, Serialize)]
pub struct NotExpanded {
    pub component: String,
    pub file: String,
    pub reason: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct ExpandReport {
    pub input: String,
    pub output_dir: String,
    pub written: Vec<ExpandedFile>,
    pub skipped: Vec<NotExpanded>,
    pub bytes_written: u64,
    /// Load findings plus `extract-*` and `expand-digest`.
    pub findings: Vec<Finding>,
}

/// Write every manifest-declared file whose bytes are proven — a stored
/// member or a rebuilt delta chain hashing to the manifest digest — to
/// `out_dir/<component keyform>/<file name>`, the layout of an expanded
/// package folder. Everything else is listed in `skipped` with the reason.
/// `opts.layout` is ignored; `opts.filter` matches the target or file name.
pub fn expand(
    input: &Path,
    out_dir: &Path,
    opts: &Options,
    progress: &mut dyn FnMut(u64),
) -> Result<ExpandReport, crate::model::Error> {
    use crate::model::{Expansion, LoadOptions, Location, Package, expansion_error};
    readable(input)?;
    let io = |source| container::Error::Io {
        path: out_dir.display().to_string(),
        source,
    };
    std::fs::create_dir_all(out_dir).map_err(io)?;
    let root = out_dir.canonicalize().map_err(io)?;
    // Rebuilding happens below, once, with the bytes at hand.
    let load = LoadOptions {
        expand_deltas: false,
        keep_registry: false,
        context: opts.context.clone(),
        progress: opts.progress.clone(),
        ..LoadOptions::default()
    };
    let pkg = Package::load_with(input, &opts.limits, &load)?;
    let mut ex = Extractor::new(input, root.clone(), opts, pkg.findings.clone());
    let mut written = Vec::new();
    let mut skipped = Vec::new();
    // Decide, per file, the target and the digest, or why not.
    struct Plan {
        ci: usize,
        fi: usize,
        safe: SafePath,
        expect: Expect,
    }
    let mut plans: HashMap<(usize, usize), Plan> = HashMap::new();
    let mut stored: HashMap<String, Vec<(usize, usize)>> = HashMap::new();
    for (ci, c) in pkg.components.iter().enumerate() {
        for (fi, f) in c.files.iter().enumerate() {
            let not = |reason: String| NotExpanded {
                component: c.keyform.to_string(),
                file: f.name.clone(),
                reason,
            };
            let expect = match (f.digest_alg.as_deref(), &f.digest) {
                (Some("sha256"), Some(h)) => Expect {
                    sha1: false,
                    hex: h.clone(),
                },
                (Some("sha1"), Some(h)) => Expect {
                    sha1: true,
                    hex: h.clone(),
                },
                _ => {
                    skipped.push(not(
                        "the manifest declares no SHA-256/SHA-1 digest: bytes cannot be proven"
                            .into(),
                    ));
                    continue;
                }
            };
            let safe = match sanitize(&format!("{}/{}", c.keyform, f.name)) {
                Ok(s) => s,
                Err(why) => {
                    ex.report.findings.push(Finding::error(
                        Code::ExtractUnsafeName,
                        &*c.member,
                        why.clone(),
                    ));
                    skipped.push(not(why));
                    continue;
                }
            };
            if let Some(g) = &opts.filter
                && !g.is_match(&safe.to_slash())
                && !g.is_match(&f.name)
            {
                continue;
            }
            match &f.location {
                Location::Stored { member, .. } => {
                    stored.entry(member.to_string()).or_default().push((ci, fi));
                }
                Location::Delta { .. } | Location::Copy { .. } => {}
                Location::Psf { .. } => {
                    skipped.push(not("stored in a .psf payload, which is not read".into()));
                    continue;
                }
                Location::Absent => {
                    skipped.push(not("not in the package".into()));
                    continue;
                }
            }
            plans.insert(
                (ci, fi),
                Plan {
                    ci,
                    fi,
                    safe,
                    expect,
                },
            );
        }
    }
    let mut outcome = |ex: &mut Extractor,
                       plan: &Plan,
                       source: &'static str,
                       res: Result<u64, (Refusal, String)>| {
        let Some(f) = pkg
            .components
            .get(plan.ci)
            .and_then(|c| c.files.get(plan.fi))
        else {
            return;
        };
        match res {
            Ok(n) => {
                ex.report.bytes_written += n;
                written.push(ExpandedFile {
                    component: f.component.to_string(),
                    file: f.name.clone(),
                    source,
                    target: plan.safe.to_slash(),
                    size: n,
                    digest: plan.expect.hex.clone(),
                });
            }
            Err((finding, why)) => {
                if let Some((severity, code)) = finding {
                    let finding = Finding::new(severity, code, &f.name, why.clone());
                    ex.report.findings.push(finding);
                }
                skipped.push(NotExpanded {
                    component: f.component.to_string(),
                    file: f.name.clone(),
                    reason: why,
                });
            }
        }
    };
    // Delta-stored files: rebuilt from the blobs kept by the model.
    pkg.rebuild_each(&load, &mut |ci, fi, res| {
        let Some(plan) = plans.get(&(ci, fi)) else {
            return;
        };
        let who = plan.safe.to_slash();
        let r = match res {
            Ok(mut bytes) => ex.place(
                &who,
                &plan.safe,
                &mut bytes,
                None,
                Some(&plan.expect),
                progress,
            ),
            Err(e) => {
                let reason = match expansion_error(e) {
                    Expansion::Failed { reason } => format!("rebuild failed: {reason}"),
                    _ => format!("not expanded: {e}"),
                };
                Err((None, reason))
            }
        };
        outcome(&mut ex, plan, "rebuilt", r);
    });
    // Stored files: streamed from a second walk, checked while written.
    if !stored.is_empty() {
        let walk_opts = container::WalkOptions {
            verify_unread: false,
            context: opts.context.clone(),
            progress: opts.progress.clone(),
        };
        let keyed: HashMap<String, Vec<(usize, usize)>> = stored
            .into_iter()
            .map(|(k, v)| (crate::model::path_key(&k), v))
            .collect();
        // Its findings repeat the model's (same input, same reader).
        container::walk_with(input, &opts.limits, &walk_opts, &mut |meta, r| {
            let Some(files) = keyed.get(&crate::model::path_key(&meta.path)) else {
                return Ok(());
            };
            let mut first: Option<PathBuf> = None;
            for key in files {
                let Some(plan) = plans.get(key) else {
                    continue;
                };
                let res = match &first {
                    None => ex.place(
                        &meta.path,
                        &plan.safe,
                        r,
                        meta.modified.as_ref(),
                        Some(&plan.expect),
                        progress,
                    ),
                    // The stream is spent: copy the file already written.
                    Some(p) => match std::fs::File::open(p) {
                        Ok(f) => ex.place(
                            &meta.path,
                            &plan.safe,
                            &mut std::io::BufReader::with_capacity(256 << 10, f),
                            meta.modified.as_ref(),
                            Some(&plan.expect),
                            progress,
                        ),
                        Err(e) => Err((Some((Severity::Error, Code::ExtractWrite)), e.to_string())),
                    },
                };
                if res.is_ok() && first.is_none() {
                    first = Some(root.join(plan.safe.components.iter().collect::<PathBuf>()));
                }
                outcome(&mut ex, plan, "stored", res);
            }
            Ok(())
        })?;
    }
    written.sort_by(|a, b| a.target.cmp(&b.target));
    Ok(ExpandReport {
        input: ex.report.input,
        output_dir: ex.report.output_dir,
        written,
        skipped,
        bytes_written: ex.report.bytes_written,
        findings: ex.report.findings,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(name: &str) -> String {
        sanitize(name).unwrap().to_slash()
    }

    #[test]
    fn separators_absolute_and_drives() {
        assert_eq!(ok("a\\b/c.txt"), "a/b/c.txt");
        assert_eq!(ok("/etc/passwd"), "etc/passwd");
        assert_eq!(ok("\\\\server\\share\\x"), "server/share/x");
        assert_eq!(ok("C:\\Windows\\x.dll"), "Windows/x.dll");
        assert_eq!(ok("c:x.dll"), "x.dll");
        assert!(
            sanitize("C:\\x")
                .unwrap()
                .changed
                .unwrap()
                .contains("drive")
        );
        assert_eq!(sanitize("plain.txt").unwrap().changed, None);
    }

    #[test]
    fn dot_dot_is_refused_and_empty_names_too() {
        assert!(sanitize("../x").is_err());
        assert!(sanitize("a/../../x").is_err());
        assert!(sanitize("a\\..\\x").is_err());
        assert!(sanitize("/").is_err());
        assert!(sanitize("\\\\\\").is_err());
        assert!(sanitize("").is_err());
        assert_eq!(ok("./a/./b"), "a/b");
        // Dots that are not a whole component are ordinary characters.
        assert_eq!(ok("a..b/...x"), "a..b/...x");
    }

    #[test]
    fn devices_controls_and_trailing_dots() {
        assert_eq!(ok("CON"), "_CON");
        assert_eq!(ok("dir/nul.txt"), "dir/_nul.txt");
        assert_eq!(ok("com1.log"), "_com1.log");
        assert_eq!(ok("LPT9"), "_LPT9");
        assert_eq!(ok("console"), "console");
        assert_eq!(ok("a\u{1}b\nc"), "a_b_c");
        assert_eq!(ok("what?.txt"), "what_.txt");
        assert_eq!(ok("name. . "), "name");
        assert_eq!(ok("dir/..."), "dir/_");
        assert!(sanitize(&"x".repeat(256)).is_err());
    }

    #[test]
    fn calendar_round_trip() {
        for secs in [0i64, 951_782_400, 1_254_721_860, 4_102_444_799] {
            let t = Timestamp::from_unix(secs).unwrap();
            let back = t.to_system_time().unwrap();
            assert_eq!(
                back.duration_since(std::time::UNIX_EPOCH)
                    .unwrap()
                    .as_secs() as i64,
                secs
            );
        }
    }
}
