//! Where a report goes and how wide it may be: `--output FILE` (written
//! atomically: a temporary file beside it, renamed when the report is
//! complete, so a reader never sees half a report and a failed run leaves
//! the previous one) and `--width N` (tables and text fitted to N columns;
//! by default the terminal's when stdout is one, unlimited otherwise).

use std::io::{self, IsTerminal, Write};
use std::path::PathBuf;

use crate::render::fit::FitWriter;

use super::term::SafeWriter;

/// `--output` and `--width`, shared by every reporting command.
#[derive(clap::Args, Debug, Clone)]
pub struct OutputArgs {
    /// Write the report to FILE instead of standard output, atomically (a
    /// temporary file beside it, renamed when complete; an existing FILE is
    /// replaced)
    #[arg(long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Fit tables and text to N columns (long paths shortened in the
    /// middle, details wrapped); 0 = no limit. Default: the terminal's
    /// width when standard output is a terminal, else no limit
    #[arg(long, value_name = "N", value_parser = parse_width)]
    pub width: Option<usize>,
}

fn parse_width(s: &str) -> Result<usize, String> {
    let n: usize = s
        .parse()
        .map_err(|_| format!("\"{s}\" is not a number of columns"))?;
    if n != 0 && n < 20 {
        return Err(format!(
            "{n} columns is too narrow: use 20 or more, or 0 for no limit"
        ));
    }
    Ok(n)
}

/// The terminal's width in columns: the window's, else `COLUMNS`, else 80.
fn terminal_width() -> usize {
    if let Some((_, cols)) = console::Term::stdout().size_checked()
        && cols > 0
    {
        return usize::from(cols);
    }
    std::env::var("COLUMNS")
        .ok()
        .and_then(|c| c.trim().parse().ok())
        .filter(|&c: &usize| c > 0)
        .unwrap_or(80)
}

impl OutputArgs {
    /// The width to fit to: `None` is no limit.
    pub fn width(&self) -> Option<usize> {
        match self.width {
            Some(0) => None,
            Some(n) => Some(n),
            None if self.output.is_some() => None,
            None if io::stdout().is_terminal() => Some(terminal_width()),
            None => None,
        }
    }

    /// Open the report's destination. A file is created (as a temporary)
    /// now, so an unwritable place fails before the work.
    pub fn open(&self) -> anyhow::Result<Output> {
        let sink = match &self.output {
            None => Sink::Stdout(io::BufWriter::with_capacity(1 << 16, io::stdout().lock())),
            Some(dest) => {
                if dest.is_dir() {
                    anyhow::bail!("--output {}: is a directory", dest.display());
                }
                let dir = match dest.parent() {
                    Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
                    _ => PathBuf::from("."),
                };
                // Registered for Ctrl-C: an interrupted run leaves no
                // temporary behind.
                let (tmp, registered) = super::interrupt::create(
                    false,
                    || {
                        tempfile::Builder::new()
                            .prefix(".kbinspect-report-")
                            .tempfile_in(&dir)
                    },
                    |t| t.path(),
                )
                .map_err(|e| anyhow::anyhow!("--output {}: {e}", dest.display()))?;
                Sink::File {
                    file: io::BufWriter::with_capacity(1 << 16, tmp),
                    dest: dest.clone(),
                    _registered: registered,
                }
            }
        };
        Ok(Output {
            sink,
            width: self.width(),
        })
    }
}

enum Sink {
    Stdout(io::BufWriter<io::StdoutLock<'static>>),
    File {
        file: io::BufWriter<tempfile::NamedTempFile>,
        dest: PathBuf,
        /// Unregistered from the interrupt handler when dropped.
        _registered: super::interrupt::Registered,
    },
}

/// A report's destination: standard output or the `--output` file.
pub struct Output {
    sink: Sink,
    width: Option<usize>,
}

impl Output {
    /// The width text is fitted to (`None`: no limit).
    pub fn width(&self) -> Option<usize> {
        self.width
    }

    /// Text for people: control characters escaped, every line fitted to
    /// the width (tables fit themselves; longer lines are wrapped).
    pub fn text(&mut self) -> SafeWriter<FitWriter<&mut Output>> {
        let width = self.width;
        SafeWriter::new(FitWriter::new(self, width))
    }

    /// Flush; a file is renamed into place only now.
    pub fn finish(self) -> anyhow::Result<()> {
        match self.sink {
            Sink::Stdout(mut out) => out.flush()?,
            Sink::File {
                file,
                dest,
                _registered,
            } => {
                let tmp = file
                    .into_inner()
                    .map_err(|e| anyhow::anyhow!("--output {}: {}", dest.display(), e.error()))?;
                tmp.as_file().sync_all()?;
                // A report is an ordinary readable file, not the
                // temporary's 0600.
                #[cfg(unix)]
                {
                    use std::os::unix::fs::PermissionsExt;
                    std::fs::set_permissions(tmp.path(), std::fs::Permissions::from_mode(0o644))?;
                }
                super::interrupt::while_held(|| tmp.persist(&dest))
                    .map_err(|e| anyhow::anyhow!("--output {}: {}", dest.display(), e.error))?;
            }
        }
        Ok(())
    }
}

impl Write for Output {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match &mut self.sink {
            Sink::Stdout(w) => w.write(buf),
            Sink::File { file, .. } => file.write(buf),
        }
    }

    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        match &mut self.sink {
            Sink::Stdout(w) => w.write_all(buf),
            Sink::File { file, .. } => file.write_all(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match &mut self.sink {
            Sink::Stdout(w) => w.flush(),
            Sink::File { file, .. } => file.flush(),
        }
    }
}

/// A value as pretty JSON, with a final newline.
pub fn write_json<W: Write, T: serde::Serialize>(out: &mut W, value: &T) -> anyhow::Result<()> {
    serde_json::to_writer_pretty(&mut *out, value)?;
    writeln!(out)?;
    Ok(())
}
