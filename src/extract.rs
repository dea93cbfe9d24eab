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
use std::io::Read;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::container::{self, ContainerInfo, Limits, MemberMeta, Timestamp};
use crate::finding::Finding;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Layout {
    #[default]
    Nested,
    Flat,
}

#[derive(Debug, Clone, Default)]
pub struct Options {
    pub layout: Layout,
    /// Only members whose tree path or stored name matches are written.
    pub filter: Option<globset::GlobSet>,
    /// Replace existing regular files.
    pub force: bool,
    pub limits: Limits,
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
    /// Reader findings plus `extract-unsafe-name`, `extract-collision`,
    /// `extract-exists`, `extract-write`.
    pub findings: Vec<Finding>,
}

/// A sanitized relative path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SafePath {
    pub components: Vec<String>,
    /// What had to change, when something did.
    pub changed: Option<String>,
}

impl SafePath {
    pub fn to_slash(&self) -> String {
        self.components.join("/")
    }
}

const DEVICE_NAMES: &[&str] = &[
    "CON", "PRN", "AUX", "NUL", "COM1", "COM2", "COM3", "COM4", "COM5", "COM6", "COM7", "COM8",
    "COM9", "COM¹", "COM²", "COM³", "LPT1", "LPT2", "LPT3", "LPT4", "LPT5", "LPT6", "LPT7", "LPT8",
    "LPT9", "LPT¹", "LPT²", "LPT³", "CONIN$", "CONOUT$",
];

fn is_device_name(component: &str) -> bool {
    // Windows ignores everything from the first dot and trailing spaces:
    // `nul.txt` and `CON .log` open the device.
    let stem = component
        .split('.')
        .next()
        .unwrap_or("")
        .trim_end_matches(' ');
    DEVICE_NAMES.iter().any(|d| d.eq_ignore_ascii_case(stem))
}

/// Turn a stored name into safe relative components, or say why it cannot be.
/// Backslashes and slashes separate components; empty and `.` components
/// and a leading drive letter are dropped; a `..` component refuses the name
/// (dropping it would silently move the file elsewhere in the tree).
pub fn sanitize(name: &str) -> Result<SafePath, String> {
    let mut notes: Vec<&str> = Vec::new();
    let mut rest = name;
    if rest.starts_with(['/', '\\']) {
        notes.push("absolute path made relative");
        rest = rest.trim_start_matches(['/', '\\']);
    }
    let b = rest.as_bytes();
    if b.len() >= 2 && b[0].is_ascii_alphabetic() && b[1] == b':' {
        notes.push("drive letter removed");
        rest = rest.get(2..).unwrap_or("").trim_start_matches(['/', '\\']);
    }
    let mut components = Vec::new();
    for raw in rest.split(['/', '\\']) {
        if raw.is_empty() || raw == "." {
            if !raw.is_empty() {
                notes.push("'.' component removed");
            }
            continue;
        }
        if raw == ".." {
            return Err(format!("{name:?} has a '..' component"));
        }
        let mut c: String = raw
            .chars()
            .map(|ch| {
                if ch.is_control() || matches!(ch, '<' | '>' | ':' | '"' | '|' | '?' | '*') {
                    '_'
                } else {
                    ch
                }
            })
            .collect();
        if c != raw {
            notes.push("control or reserved characters replaced by '_'");
        }
        let trimmed = c.trim_end_matches(['.', ' ']).to_string();
        if trimmed != c {
            notes.push("trailing dots or spaces removed");
            c = if trimmed.is_empty() {
                "_".into()
            } else {
                trimmed
            };
        }
        if is_device_name(&c) {
            notes.push("Windows device name prefixed with '_'");
            c.insert(0, '_');
        }
        if c.len() > 255 {
            return Err(format!("{name:?} has a component longer than 255 bytes"));
        }
        components.push(c);
    }
    if components.is_empty() {
        return Err(format!("{name:?} names no file"));
    }
    notes.dedup();
    Ok(SafePath {
        components,
        changed: (!notes.is_empty()).then(|| notes.join("; ")),
    })
}

/// Days since 1970-01-01 of a civil date (inverse of
/// `container::timestamp_from_unix`).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Cabinet times carry no zone; they are applied as UTC.
pub fn system_time(t: &Timestamp) -> Option<std::time::SystemTime> {
    let days = days_from_civil(i64::from(t.year), i64::from(t.month), i64::from(t.day));
    let secs =
        days * 86_400 + i64::from(t.hour) * 3600 + i64::from(t.minute) * 60 + i64::from(t.second);
    let secs = u64::try_from(secs).ok()?;
    std::time::UNIX_EPOCH.checked_add(std::time::Duration::from_secs(secs))
}

struct Extractor<'o> {
    root: PathBuf,
    opts: &'o Options,
    /// Lowercased target → tree path of the member written there.
    taken: HashMap<String, String>,
    report: ExtractReport,
}

impl Extractor<'_> {
    fn skip(&mut self, path: &str, code: &str, reason: String) {
        // A name that cannot be made safe leaves the extraction incomplete
        // and may be an attack: that is an error; the others are warnings.
        let f = if code == "extract-unsafe-name" {
            Finding::error(code, path, reason.clone())
        } else {
            Finding::warning(code, path, reason.clone())
        };
        self.report.findings.push(f);
        self.report.skipped.push(Skipped {
            path: path.to_string(),
            reason,
        });
    }

    /// Create the directories of `dirs` under the root one by one, refusing
    /// symlinks and non-directories on the way.
    fn make_dirs(&self, dirs: &[String]) -> Result<PathBuf, String> {
        let mut at = self.root.clone();
        for d in dirs {
            at.push(d);
            match std::fs::symlink_metadata(&at) {
                Ok(md) if md.file_type().is_symlink() => {
                    return Err(format!("{} is a symlink; not followed", at.display()));
                }
                Ok(md) if md.is_dir() => {}
                Ok(_) => return Err(format!("{} exists and is not a directory", at.display())),
                Err(_) => std::fs::create_dir(&at)
                    .map_err(|e| format!("cannot create {}: {e}", at.display()))?,
            }
        }
        Ok(at)
    }

    fn member(
        &mut self,
        meta: &MemberMeta,
        r: &mut dyn Read,
        progress: &mut dyn FnMut(u64),
    ) -> anyhow::Result<()> {
        if meta.is_container && self.opts.layout == Layout::Nested {
            return Ok(()); // becomes a directory when its members are written
        }
        if meta.is_container {
            return Ok(()); // flat: only leaves
        }
        if let Some(f) = &self.opts.filter
            && !f.is_match(&meta.path)
            && !f.is_match(&meta.name)
        {
            return Ok(());
        }
        let source = match self.opts.layout {
            Layout::Nested => meta.path.as_str(),
            Layout::Flat => meta.name.as_str(),
        };
        let safe = match sanitize(source) {
            Ok(s) => s,
            Err(why) => {
                self.skip(&meta.path, "extract-unsafe-name", why);
                return Ok(());
            }
        };
        if let Some(why) = &safe.changed {
            self.report.findings.push(Finding::warning(
                "extract-unsafe-name",
                &meta.path,
                format!("written as {}: {why}", safe.to_slash()),
            ));
        }
        let target = safe.to_slash();
        let key = target.to_lowercase();
        if let Some(first) = self.taken.get(&key) {
            let why = format!("{target} is already taken by {first} (names equal ignoring case)");
            self.skip(&meta.path, "extract-collision", why);
            return Ok(());
        }
        let (dirs, file) = safe.components.split_at(safe.components.len() - 1);
        let dir = match self.make_dirs(dirs) {
            Ok(d) => d,
            Err(why) => {
                self.skip(&meta.path, "extract-write", why);
                return Ok(());
            }
        };
        let final_path = dir.join(&file[0]);
        match std::fs::symlink_metadata(&final_path) {
            Ok(md) if md.file_type().is_symlink() => {
                let why = format!("{} is a symlink; not replaced", final_path.display());
                self.skip(&meta.path, "extract-exists", why);
                return Ok(());
            }
            Ok(md) if !md.is_file() => {
                let why = format!("{} exists and is not a file", final_path.display());
                self.skip(&meta.path, "extract-exists", why);
                return Ok(());
            }
            Ok(_) if !self.opts.force => {
                let why = format!("{} exists (use --force to replace)", final_path.display());
                self.skip(&meta.path, "extract-exists", why);
                return Ok(());
            }
            _ => {}
        }
        self.taken.insert(key, meta.path.clone());
        let written = (|| -> Result<u64, String> {
            let mut builder = tempfile::Builder::new();
            builder.prefix(".kbinspect-").suffix(".part");
            // Temporary files are created 0600; extracted files should be
            // ordinary readable files.
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt;
                builder.permissions(std::fs::Permissions::from_mode(0o644));
            }
            let mut tmp = builder
                .tempfile_in(&dir)
                .map_err(|e| format!("cannot create a temporary file in {}: {e}", dir.display()))?;
            let mut buf = vec![0u8; 256 << 10];
            let mut n = 0u64;
            loop {
                let k = match r.read(&mut buf) {
                    Ok(0) => break,
                    Ok(k) => k,
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                    Err(e) => return Err(format!("not written: {e}")),
                };
                std::io::Write::write_all(tmp.as_file_mut(), &buf[..k])
                    .map_err(|e| format!("write failed: {e}"))?;
                n += k as u64;
                progress(k as u64);
            }
            if let Some(t) = meta.modified.as_ref().and_then(system_time) {
                // A filesystem without mtimes is not a reason to fail.
                let _ = tmp.as_file().set_modified(t);
            }
            if self.opts.force {
                tmp.persist(&final_path).map_err(|e| e.error.to_string())?;
            } else {
                tmp.persist_noclobber(&final_path).map_err(|e| {
                    format!("{} appeared meanwhile: {}", final_path.display(), e.error)
                })?;
            }
            Ok(n)
        })();
        match written {
            Ok(n) => {
                self.report.bytes_written += n;
                self.report.written.push(Written {
                    path: meta.path.clone(),
                    target,
                    size: n,
                    renamed: safe.changed,
                });
            }
            Err(why) => {
                self.report.skipped.push(Skipped {
                    path: meta.path.clone(),
                    reason: why.clone(),
                });
                // Read errors are reported by the walk as reader findings;
                // output errors are ours.
                if !why.starts_with("not written") {
                    self.report
                        .findings
                        .push(Finding::error("extract-write", &meta.path, why));
                }
            }
        }
        Ok(())
    }
}

/// Extract `input` into `out_dir` (created when missing). `progress` gets
/// the number of bytes written since the previous call.
pub fn extract(
    input: &Path,
    out_dir: &Path,
    opts: &Options,
    progress: &mut dyn FnMut(u64),
) -> Result<ExtractReport, container::Error> {
    let io = |e| container::Error::Io {
        path: out_dir.display().to_string(),
        source: e,
    };
    std::fs::create_dir_all(out_dir).map_err(io)?;
    let root = out_dir.canonicalize().map_err(io)?;
    let mut ex = Extractor {
        root: root.clone(),
        opts,
        taken: HashMap::new(),
        report: ExtractReport {
            input: input.display().to_string(),
            output_dir: root.display().to_string(),
            layout: opts.layout,
            written: vec![],
            skipped: vec![],
            bytes_written: 0,
            containers: vec![],
            findings: vec![],
        },
    };
    // Members that are filtered out or skipped need not be decoded; the
    // written ones are read in full (and so checked) anyway.
    let walk_opts = container::WalkOptions {
        verify_unread: false,
    };
    let walk = container::walk_with(input, &opts.limits, &walk_opts, &mut |meta, r| {
        ex.member(meta, r, progress)
    })?;
    let mut report = ex.report;
    report.containers = walk.containers;
    let mut findings = walk.findings;
    findings.append(&mut report.findings);
    report.findings = findings;
    Ok(report)
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
            let t = container::timestamp_from_unix(secs);
            let back = system_time(&t).unwrap();
            assert_eq!(
                back.duration_since(std::time::UNIX_EPOCH)
                    .unwrap()
                    .as_secs() as i64,
                secs
            );
        }
    }
}
