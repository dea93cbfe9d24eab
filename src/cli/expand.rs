//! `kbinspect expand`: apply one MSDelta delta (PA30, CRC32-prefixed, or a
//! WinSxS DCM manifest) and write the verified target.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context;
use comfy_table::{Table, presets};
use serde::Serialize;

use kbinspect::finding::{Code, Finding, exit_code};
use kbinspect::msdelta::{self, DeltaHeader, DeltaLimits, ErrorKind, Verification};

use super::Format;

#[derive(clap::Args)]
#[command(after_help = "Examples:\n  kbinspect expand 42 -o slc.xrm-ms\n  \
kbinspect expand 43 --source slc.xrm-ms -o year2.xrm-ms\n  \
kbinspect expand amd64_foo.manifest --base-manifest base.manifest -o foo.xml\n  \
kbinspect expand amd64_foo.manifest --wcp wcp.dll -o foo.xml --format json")]
pub struct Args {
    /// The delta: PA30 (optionally CRC32-prefixed) or a DCM\x01 manifest
    pub delta: PathBuf,
    /// The file the delta was made against (omit for source-less deltas)
    #[arg(long, short)]
    pub source: Option<PathBuf>,
    /// Base manifest for DCM manifests
    #[arg(long, conflicts_with_all = ["wcp", "source"])]
    pub base_manifest: Option<PathBuf>,
    /// Take the DCM base manifest from this wcp.dll (resource 614/1)
    #[arg(long, conflicts_with = "source")]
    pub wcp: Option<PathBuf>,
    /// SHA-256 (hex) the target must have, e.g. from a container index
    #[arg(long, value_name = "HEX")]
    pub expect_sha256: Option<String>,
    /// Where to write the target (written to a temporary file, then renamed)
    #[arg(long, short)]
    pub output: PathBuf,
    /// Replace OUTPUT when it exists (as `extract --force`)
    #[arg(long)]
    pub force: bool,
    #[command(flatten)]
    pub limits: super::ls::LimitArgs,
    #[arg(long, value_enum, default_value_t)]
    pub format: Format,
}

#[derive(Serialize)]
struct BaseInfo {
    path: String,
    from: &'static str,
    sha256: String,
    known: bool,
}

#[derive(Serialize)]
struct Report {
    delta: String,
    header: Option<DeltaHeader>,
    target_time: Option<String>,
    source: Option<String>,
    base: Option<BaseInfo>,
    verification: Option<Verification>,
    pe_timestamps_fixed: usize,
    output: Option<String>,
    output_sha256: Option<String>,
    findings: Vec<Finding>,
}

fn read(path: &Path, what: &str) -> anyhow::Result<Vec<u8>> {
    std::fs::read(path).with_context(|| format!("reading {what} {}", path.display()))
}

/// Write through a temporary file in the same directory, then rename, so a
/// failed run never leaves a half-written target under the real name.
/// The overwrite policy and permissions are `extract`'s: an existing file
/// is kept unless `force`, a symlink is never replaced, and the file is an
/// ordinary readable one (0644 before the umask), not the temporary's 0600.
fn write_atomically(path: &Path, bytes: &[u8], force: bool) -> anyhow::Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    match std::fs::symlink_metadata(path) {
        Ok(md) if md.file_type().is_symlink() => {
            anyhow::bail!("{} is a symlink; not replaced", path.display())
        }
        Ok(md) if !md.is_file() => anyhow::bail!("{} exists and is not a file", path.display()),
        Ok(_) if !force => {
            anyhow::bail!("{} exists (use --force to replace)", path.display())
        }
        _ => {}
    }
    let mut builder = tempfile::Builder::new();
    builder.prefix(".kbinspect-").suffix(".part");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        builder.permissions(std::fs::Permissions::from_mode(0o644));
    }
    let mut tmp = builder
        .tempfile_in(dir)
        .with_context(|| format!("creating a temporary file in {}", dir.display()))?;
    tmp.write_all(bytes)
        .and_then(|_| tmp.flush())
        .with_context(|| format!("writing {}", path.display()))?;
    if force {
        tmp.persist(path)
            .with_context(|| format!("renaming into {}", path.display()))?;
    } else {
        tmp.persist_noclobber(path)
            .with_context(|| format!("{} appeared meanwhile", path.display()))?;
    }
    Ok(())
}

fn filetime_text(ft: u64) -> Option<String> {
    Some(kbinspect::time::Timestamp::from_filetime(ft)?.to_string() + "Z")
}

fn finding_code(kind: ErrorKind) -> Code {
    match kind {
        ErrorKind::Corrupt => Code::DeltaCorrupt,
        ErrorKind::Unsupported => Code::DeltaUnsupported,
        ErrorKind::Limit => Code::DeltaLimit,
        ErrorKind::HashMismatch => Code::DeltaHashMismatch,
        ErrorKind::Source => Code::DeltaSource,
        ErrorKind::WrongTarget => Code::DeltaWrongTarget,
    }
}

pub fn run(args: &Args) -> anyhow::Result<i32> {
    let delta = read(&args.delta, "delta")?;
    let subject = args.delta.display().to_string();
    let expected = match &args.expect_sha256 {
        None => None,
        Some(h) => {
            let v = hex::decode(h.trim())
                .ok()
                .and_then(|v| <[u8; 32]>::try_from(v).ok());
            Some(v.context("--expect-sha256 needs 64 hex digits")?)
        }
    };
    let mut report = Report {
        delta: subject.clone(),
        header: None,
        target_time: None,
        source: args.source.as_ref().map(|p| p.display().to_string()),
        base: None,
        verification: None,
        pe_timestamps_fixed: 0,
        output: None,
        output_sha256: None,
        findings: Vec::new(),
    };
    let fail = |report: &mut Report, e: msdelta::DeltaError| {
        report.findings.push(Finding::error(
            finding_code(e.kind),
            subject.clone(),
            e.to_string(),
        ));
    };

    match msdelta::parse_header(&delta) {
        Ok(h) => {
            report.target_time = filetime_text(h.filetime);
            report.header = Some(h);
        }
        Err(e) => fail(&mut report, e),
    }
    let is_dcm = report
        .header
        .as_ref()
        .is_some_and(|h| h.wrapper.as_deref() == Some("DCM"));

    let mut target = None;
    if report.findings.is_empty() {
        if is_dcm {
            let (base, path, from) = match (&args.base_manifest, &args.wcp) {
                (Some(p), _) => (read(p, "base manifest")?, p, "base-manifest"),
                (None, Some(p)) => {
                    let dll = read(p, "wcp.dll")?;
                    let base = msdelta::base_from_wcp(&dll)
                        .map_err(|e| anyhow::anyhow!("{}: {e}", p.display()))?;
                    (base, p, "wcp.dll resource 614/1")
                }
                (None, None) => anyhow::bail!(
                    "{subject} is a DCM manifest: give its base with --base-manifest FILE or --wcp wcp.dll"
                ),
            };
            let sha = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&base));
            report.base = Some(BaseInfo {
                path: path.display().to_string(),
                from,
                known: sha == msdelta::DCM_BASE_SHA256,
                sha256: sha,
            });
            match msdelta::expand_dcm(&delta, &base) {
                Ok(x) => {
                    report.verification = Some(x.verification);
                    target = Some(x.xml);
                }
                Err(e) => fail(&mut report, e),
            }
        } else {
            if args.base_manifest.is_some() || args.wcp.is_some() {
                anyhow::bail!(
                    "{subject} is not a DCM manifest: --base-manifest/--wcp do not apply"
                );
            }
            let source = match &args.source {
                Some(p) => Some(read(p, "source")?),
                None => None,
            };
            // The walk limits apply to a rebuild as to decoding: the target
            // may not exceed --max-member-size, nor --max-ratio times the
            // bytes read (at least 256 MiB), checked before allocating.
            let limits = args.limits.limits();
            let read = (delta.len() + source.as_ref().map_or(0, Vec::len)) as u64;
            let mut cap = limits.max_member_size.min(limits.max_total_size);
            if limits.max_ratio > 0 {
                cap = cap.min(read.saturating_mul(limits.max_ratio).max(256 << 20));
            }
            let delta_limits = DeltaLimits {
                max_target_size: DeltaLimits::default().max_target_size.min(cap),
                ..DeltaLimits::default()
            };
            match msdelta::apply_detailed(
                &delta,
                source.as_deref(),
                expected.as_ref(),
                &delta_limits,
            ) {
                Ok(a) => {
                    report.verification = Some(a.verification);
                    report.pe_timestamps_fixed = a.pe_timestamps_fixed;
                    target = Some(a.target);
                }
                Err(e) => fail(&mut report, e),
            }
        }
    }
    if let Some(bytes) = target {
        if report.verification == Some(Verification::Unverified) {
            report.findings.push(Finding::warning(
                Code::DeltaUnverified,
                subject.clone(),
                "the delta carries no target hash and none was given (--expect-sha256): \
                 only the bitstream's consistency was checked",
            ));
        }
        write_atomically(&args.output, &bytes, args.force)?;
        report.output = Some(args.output.display().to_string());
        report.output_sha256 = Some(hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&bytes)));
    }

    match args.format {
        Format::Json => super::print_json(&report)?,
        Format::Table => print_table(&report)?,
    }
    Ok(exit_code(&report.findings))
}

fn print_table(r: &Report) -> anyhow::Result<()> {
    let mut t = Table::new();
    t.load_style(presets::UTF8_FULL_CONDENSED);
    let mut row = |k: &str, v: String| {
        t.add_row(vec![k.to_string(), v]);
    };
    row("delta", r.delta.clone());
    if let Some(h) = &r.header {
        let mut sig = h.signature.clone();
        if let Some(w) = &h.wrapper {
            sig = format!("{w} + {sig}");
        }
        if let Some(c) = h.crc_prefix {
            sig = format!("CRC32 {c:08x} + {sig}");
        }
        row("format", sig);
        row(
            "target time",
            r.target_time
                .clone()
                .unwrap_or_else(|| format!("FILETIME {}", h.filetime)),
        );
        row("file type set", format!("{:#x}", h.file_type_set));
        let ft = match h.file_type {
            1 => "RAW",
            2 => "I386 PE",
            4 => "IA64 PE",
            8 => "AMD64 PE",
            _ => "other",
        };
        row("file type", format!("{} ({ft})", h.file_type));
        row("flags", format!("{:#x}", h.flags));
        row("target size", h.target_size.to_string());
        row(
            "target hash",
            format!(
                "{} {}",
                msdelta::hash_name(h.hash_alg),
                hex::encode(&h.target_hash)
            ),
        );
        row(
            "buffers",
            format!(
                "pre-process {} B, patch {} B",
                h.preprocess_size, h.patch_size
            ),
        );
    }
    if let Some(s) = &r.source {
        row("source", s.clone());
    }
    if let Some(b) = &r.base {
        let known = if b.known {
            "known base"
        } else {
            "UNKNOWN base"
        };
        row(
            "base",
            format!("{} ({}, {known}, SHA-256 {})", b.path, b.from, b.sha256),
        );
    }
    if let Some(v) = &r.verification {
        let text = match v {
            Verification::HeaderHash { algorithm, .. } => format!("{algorithm} in header matches"),
            Verification::ExpectedSha256 { .. } => "expected SHA-256 matches".to_string(),
            Verification::ExpectedSha1 { .. } => "expected SHA-1 matches".to_string(),
            Verification::Unverified => "not verified (no hash available)".to_string(),
        };
        row("verdict", text);
    }
    if r.pe_timestamps_fixed > 0 {
        row(
            "PE fix-ups",
            format!("{} timestamps", r.pe_timestamps_fixed),
        );
    }
    if let (Some(o), Some(s)) = (&r.output, &r.output_sha256) {
        row("written", format!("{o} (SHA-256 {s})"));
    }
    for f in &r.findings {
        row(&f.severity.to_string(), format!("{}: {}", f.code, f.detail));
    }
    let mut out = super::term::stdout();
    writeln!(out, "{t}")?;
    Ok(())
}
