//! `kbinspect ls`: list every member of a package tree (nested cabinets
//! included), the containers and the anomalies; `--test` decodes everything.

use super::ReportFormat;
use kbinspect::container::{DigestKind, Limits, list_with};

/// Limits against hostile input, shared by every command that walks a package.
#[derive(clap::Args, Debug, Clone)]
pub struct LimitArgs {
    /// Deepest nesting of cabinets inside cabinets
    #[arg(long, default_value_t = Limits::default().max_depth)]
    pub max_depth: u32,
    /// Most files one cabinet may declare
    #[arg(long, default_value_t = Limits::default().max_members)]
    pub max_members: u64,
    /// Most members in the whole tree, nested cabinets included
    #[arg(long, default_value_t = Limits::default().max_total_members)]
    pub max_total_members: u64,
    /// Largest declared size of one member: bytes, or with a binary unit
    /// K/M/G/T or KiB/MiB/GiB/TiB (1K = 1KiB = 1024 bytes; e.g. 512M, 1GiB)
    #[arg(long, default_value_t = Limits::default().max_member_size, value_parser = parse_size)]
    pub max_member_size: u64,
    /// Largest declared size of all members together (units as --max-member-size)
    #[arg(long, default_value_t = Limits::default().max_total_size, value_parser = parse_size)]
    pub max_total_size: u64,
    /// Largest ratio of bytes decoded (whole tree, all nesting levels) to
    /// bytes of input on disk, checked while decoding (0 = off)
    #[arg(long, default_value_t = Limits::default().max_ratio)]
    pub max_ratio: u64,
    /// Decoded bytes up to which --max-ratio is not checked (units as --max-member-size)
    #[arg(long, default_value_t = Limits::default().ratio_floor, value_parser = parse_size)]
    pub ratio_floor: u64,
}

/// A size: plain bytes, or a number with a binary unit, as users of
/// `du`, `head -c` and `dd` expect: `K`/`KiB` = 1024, `M`/`MiB`, `G`/`GiB`,
/// `T`/`TiB` (case-insensitive; a trailing `B` is allowed: `10KB`).
pub fn parse_size(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: u64 = num
        .parse()
        .map_err(|_| format!("\"{s}\" is not a size (bytes, or e.g. 10K, 512M, 1GiB)"))?;
    let shift = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 0,
        "k" | "kb" | "kib" => 10,
        "m" | "mb" | "mib" => 20,
        "g" | "gb" | "gib" => 30,
        "t" | "tb" | "tib" => 40,
        _ => {
            return Err(format!(
                "unknown unit in \"{s}\": use K, M, G, T or KiB, MiB, GiB, TiB (all 1024-based)"
            ));
        }
    };
    n.checked_mul(1u64 << shift)
        .ok_or_else(|| format!("\"{s}\" is too large"))
}

impl LimitArgs {
    pub fn limits(&self) -> Limits {
        Limits {
            max_depth: self.max_depth,
            max_members: self.max_members,
            max_total_members: self.max_total_members,
            max_member_size: self.max_member_size,
            max_total_size: self.max_total_size,
            max_ratio: self.max_ratio,
            ratio_floor: self.ratio_floor,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum HashArg {
    Md5,
    Sha256,
    /// Decode and verify without a digest
    None,
}

#[derive(clap::Args)]
#[command(
    after_help = "Examples:\n  kbinspect ls Windows6.1-KB975354-x64.msu\n  kbinspect ls update.msu --test --hash md5      # decode all; MD5s as `cabextract -t`\n  kbinspect ls update.msu --format json | jq '.members[].path'\n  kbinspect ls big.cab --max-total-size 100GiB\n\nExit codes: 0 clean, 1 findings of error severity, 2 could not run."
)]
pub struct Args {
    /// Package to list: .msu, .cab (first part of a set) or an expanded folder (`-`: standard input)
    pub input: std::path::PathBuf,
    #[arg(long, value_enum, default_value_t = ReportFormat::Table)]
    pub format: ReportFormat,
    /// Decompress every member, verify checksums and print a digest per member
    #[arg(long)]
    pub test: bool,
    /// Digest printed by --test (md5 matches `cabextract -t`; sha256 is faster here)
    #[arg(long, value_enum, default_value_t = HashArg::Sha256)]
    pub hash: HashArg,
    #[command(flatten)]
    pub out: super::output::OutputArgs,
    #[command(flatten)]
    pub limits: LimitArgs,
    #[command(flatten)]
    pub threads: super::ThreadArgs,
}

pub fn run(args: &Args) -> anyhow::Result<i32> {
    let test = args.test.then_some(match args.hash {
        HashArg::Md5 => DigestKind::Md5,
        HashArg::Sha256 => DigestKind::Sha256,
        HashArg::None => DigestKind::None,
    });
    let (input, _stdin) = super::input_path(&args.input)?;
    let mut bars = super::progress::Bars::new();
    let ctx = args.threads.context();
    let listing = list_with(
        &input,
        &args.limits.limits(),
        test,
        &ctx,
        bars.handle("").as_ref(),
    )
    // The error's text already includes its cause; keep the chain flat.
    .map_err(|e| anyhow::anyhow!("{e}"))?;
    bars.finish();
    let code = kbinspect::finding::exit_code(&listing.findings);
    let mut report = args.out.open()?;
    if args.format == ReportFormat::Json {
        super::output::write_json(&mut report, &listing)?;
        report.finish()?;
        return Ok(code);
    }
    let mut head = vec!["Path", "Size", "Modified", "Method", "Folder"];
    if args.test {
        head.push(match args.hash {
            HashArg::Md5 => "MD5",
            HashArg::Sha256 => "SHA-256",
            HashArg::None => "Test",
        });
    }
    let row = |m: &kbinspect::container::ListedMember| {
        let mut row = vec![
            if m.meta.is_container {
                format!("{}/", m.meta.path)
            } else {
                m.meta.path.clone()
            },
            m.meta.size.to_string(),
            m.meta.modified.map(|t| t.to_string()).unwrap_or_default(),
            m.meta.compression.to_string(),
            m.meta.folder.map(|f| f.to_string()).unwrap_or_default(),
        ];
        if args.test {
            row.push(match (&m.md5, &m.sha256, &m.error) {
                (_, _, Some(_)) => "FAILED".to_string(),
                (Some(h), _, _) | (_, Some(h), _) => h.clone(),
                _ => "OK".to_string(),
            });
        }
        row
    };
    let containers: Vec<String> = listing
        .containers
        .iter()
        .map(|c| {
            let name = if c.path.is_empty() {
                listing.input.as_str()
            } else {
                c.path.as_str()
            };
            let mut line = format!(
                "{} {name}: {} folders, {} files, {} bytes",
                c.kind, c.folders, c.files, c.size
            );
            if let Some(s) = &c.signature {
                line.push_str(&format!(
                    ", signed ({} bytes at offset {})",
                    s.size, s.offset
                ));
            }
            if !c.parts.is_empty() {
                line.push_str(&format!(", parts: {}", c.parts.join(", ")));
            }
            line
        })
        .chain((!args.test).then(|| untested_note(&listing)))
        .collect();
    let summary = summary(&listing, args.test);
    if args.format == ReportFormat::Markdown {
        crate::render::markdown::write_ls(
            &mut report,
            &listing.input,
            &summary,
            &head,
            listing.members.iter().map(row),
            &containers,
            &listing.findings,
        )?;
        report.finish()?;
        return Ok(code);
    }
    use crate::render::Col;
    use std::io::Write;
    let width = report.width();
    let mut out = report.text();
    let mut cols = vec![Col::Path, Col::Keep, Col::Keep, Col::Keep, Col::Keep];
    if args.test {
        cols.push(Col::Text);
    }
    // The summary first, for a glance, and last, for `| tail -1`.
    writeln!(out, "{summary}\n")?;
    // Row by row: a table of every member held at once would cost several
    // times the listing itself.
    crate::render::write_table_fit(&mut out, width, &head, &cols, || {
        listing.members.iter().map(row)
    })?;
    writeln!(out)?;
    for line in &containers {
        writeln!(out, "{line}")?;
    }
    for f in &listing.findings {
        writeln!(out, "{f}")?;
    }
    writeln!(out, "{summary}")?;
    out.flush()?;
    drop(out);
    report.finish()?;
    Ok(code)
}

/// Without `--test`, the listing comes from the cabinet headers: it says
/// that no member's content was checked, and what was decoded anyway (a
/// solid LZX folder is decoded up to each nested cabinet in it).
fn untested_note(listing: &kbinspect::container::Listing) -> String {
    let decoded = match listing.bytes_decoded {
        0 => String::new(),
        n => format!(" ({n} bytes decoded to reach them)"),
    };
    format!(
        "not tested: only each member's first bytes were read, to find nested cabinets{decoded}; \
         no content was checked (--test decodes and checks every member)"
    )
}

/// The summary line: `N members, B bytes in C containers; E errors, W
/// warnings, I info`; with `--test`, `tested N members, B bytes: all OK
/// (or K FAILED); …`.
fn summary(listing: &kbinspect::container::Listing, test: bool) -> String {
    let findings = super::severity_counts(&listing.findings);
    if test {
        let failed = listing.members.iter().filter(|m| m.error.is_some()).count();
        return format!(
            "tested {} members, {} bytes: {}; {findings}",
            listing.members.len(),
            listing.bytes_tested,
            if failed == 0 {
                "all OK".to_string()
            } else {
                format!("{failed} FAILED")
            }
        );
    }
    let bytes = listing
        .members
        .iter()
        .filter(|m| !m.meta.is_container)
        .map(|m| m.meta.size)
        .fold(0u64, u64::saturating_add);
    format!(
        "{} members, {bytes} bytes in {} containers; {findings}",
        listing.members.len(),
        listing.containers.len()
    )
}
