//! One file per subcommand: flags (`Args`) and `run`, which returns the exit code.

pub mod diff;
pub mod expand;
pub mod extract;
pub mod interrupt;
pub mod kb;
pub mod list;
pub mod ls;
pub mod meta;
pub mod output;
pub mod progress;
pub mod term;
pub mod verify;

/// Output format shared by the reporting commands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum, Default)]
pub enum Format {
    /// Human-readable table
    #[default]
    Table,
    /// Machine-readable JSON (schemas in docs/, one file per command area)
    Json,
}

/// The thread budget of the commands that decode or rebuild.
#[derive(clap::Args, Debug, Clone)]
pub struct ThreadArgs {
    /// Threads to decode, rebuild and verify with; 1 does all the work on
    /// one thread [default: all cores]
    #[arg(long, value_name = "N", value_parser = parse_threads)]
    pub threads: Option<std::num::NonZeroUsize>,
}

impl ThreadArgs {
    /// A decode context with this budget, for every walk and rebuild of
    /// the command.
    pub fn context(&self) -> kbinspect::container::DecodeContext {
        match self.threads {
            Some(n) => kbinspect::container::DecodeContext::new(n),
            None => kbinspect::container::DecodeContext::default(),
        }
    }
}

/// `--threads`: a whole number of at least 1.
fn parse_threads(s: &str) -> Result<std::num::NonZeroUsize, String> {
    let n: usize = s
        .trim()
        .parse()
        .map_err(|_| format!("\"{s}\" is not a number of threads (1 or more)"))?;
    std::num::NonZeroUsize::new(n)
        .ok_or_else(|| "0 threads cannot do any work: give 1 or more (default: all cores)".into())
}

/// `--format` of `ls` and `list`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum, Default)]
pub enum ReportFormat {
    /// Human-readable table
    #[default]
    Table,
    /// Machine-readable JSON (schemas in docs/, one file per command area)
    Json,
    /// A markdown report for a pull request, ticket or wiki (CommonMark, no HTML)
    Markdown,
}

/// `E errors, W warnings, I info`: the findings by severity.
pub fn severity_counts(findings: &[kbinspect::finding::Finding]) -> String {
    use kbinspect::finding::Severity;
    let n = |s: Severity| findings.iter().filter(|f| f.severity == s).count();
    format!(
        "{} errors, {} warnings, {} info",
        n(Severity::Error),
        n(Severity::Warning),
        n(Severity::Info)
    )
}

/// A broken pipe (`kbinspect ls x | head`) is success, not an error.
pub fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
            // serde_json's error hides the io::Error from the chain.
            || c.downcast_ref::<serde_json::Error>()
                .and_then(serde_json::Error::io_error_kind)
                == Some(std::io::ErrorKind::BrokenPipe)
    })
}

/// The error and its causes on one line, `a: b: c`, each cause once: an
/// error whose text already ends with its cause's (`Error::Io` shows
/// "path: cause") does not get it again.
pub fn error_message(e: &anyhow::Error) -> String {
    let mut msg = String::new();
    for c in e.chain() {
        let s = c.to_string();
        if msg.is_empty() {
            msg = s;
        } else if !msg.ends_with(&s) {
            msg.push_str(": ");
            msg.push_str(&s);
        }
    }
    msg
}

/// A package named `-` is read from standard input: spooled to a
/// temporary file named `stdin` (cabinets are read with seeks), which is
/// removed when the returned guard drops. Other paths are used as given.
pub fn input_path(
    path: &std::path::Path,
) -> anyhow::Result<(std::path::PathBuf, Option<StdinCopy>)> {
    if path.as_os_str() != "-" {
        return Ok((path.to_path_buf(), None));
    }
    let (dir, registered) = interrupt::create(
        true,
        || {
            tempfile::Builder::new()
                .prefix(".kbinspect-stdin-")
                .tempdir()
        },
        |d| d.path(),
    )?;
    let file = dir.path().join("stdin");
    let mut out = std::fs::File::create(&file)?;
    std::io::copy(&mut std::io::stdin().lock(), &mut out)
        .map_err(|e| anyhow::anyhow!("cannot read standard input: {e}"))?;
    Ok((file, Some(StdinCopy(dir, registered))))
}

/// The spooled standard input: removed when dropped, and on Ctrl-C.
pub struct StdinCopy(
    #[allow(dead_code)] tempfile::TempDir,
    #[allow(dead_code)] interrupt::Registered,
);

/// `list`, `verify` and `diff` need an update package: a tree with at
/// least one `.mum` package manifest or component manifest. Anything else
/// (an empty folder, a folder of source code, a cabinet of other files)
/// cannot be run on: exit 2, "no update package found in …". A tree with
/// read errors passes: what could not be read is reported as such.
pub fn require_update_package(pkg: &kbinspect::model::Package) -> anyhow::Result<()> {
    use kbinspect::model::MemberKind;
    // A servicing document that its path looks up (the member an alias
    // resolves to): no map of every key is built, at the moment the load
    // peaks, and only documents are looked up.
    let document = |m: &kbinspect::model::Member| {
        matches!(
            m.kind,
            MemberKind::Mum | MemberKind::Manifest | MemberKind::CompressedManifest
        )
    };
    let metadata = pkg
        .members()
        .iter()
        .filter(|m| document(m))
        .any(|m| pkg.member(&m.path).is_some_and(document));
    // A package that could not be read is not "no package": `verify`
    // fails it naming the read errors, `diff` refuses it with them.
    if metadata || !read_errors(pkg).is_empty() {
        return Ok(());
    }
    anyhow::bail!(
        "no update package found in {}: no .mum package manifest and no component manifest among its {} members",
        pkg.input,
        pkg.member_index().len()
    )
}

/// The package's read errors: members or cabinet structures that could not
/// be read (`member-unreadable`, `cab-*` of error severity). A `diff` of a
/// package read in part would report what is missing as removed.
pub fn read_errors(pkg: &kbinspect::model::Package) -> Vec<&kbinspect::finding::Finding> {
    pkg.findings
        .iter()
        .filter(|f| {
            let code = f.code.as_str();
            f.severity == kbinspect::finding::Severity::Error
                && (code == "member-unreadable" || code.starts_with("cab-"))
        })
        .collect()
}

/// Print a value as pretty JSON on stdout.
#[allow(dead_code)]
pub fn print_json<T: serde::Serialize>(value: &T) -> anyhow::Result<()> {
    use std::io::Write;
    // Stdout is line-buffered: unbuffered, a listing of 10,000 members
    // costs tens of thousands of write calls.
    let mut out = std::io::BufWriter::with_capacity(1 << 16, std::io::stdout().lock());
    serde_json::to_writer_pretty(&mut out, value)?;
    writeln!(out)?;
    out.flush()?;
    Ok(())
}
