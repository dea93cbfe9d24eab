//! The `kbinspect` command line: parses flags, renders, maps outcomes to exit
//! codes (0 clean, 1 findings of error severity, 2 could not run). The work
//! itself lives in the library.

mod cli;
mod render;

use clap::{CommandFactory, Parser, Subcommand};

/// glibc gives each thread that allocates its own arena, and memory freed
/// in one is not reused by another: with the walk and the delta rebuilds
/// on two threads, `verify` of a 300 MB package peaked at 51 MB of RSS,
/// against 45 MB with a single arena, and no slower (the threads spend
/// their time decoding, not allocating). Not for a batch: packages loaded
/// side by side contend for the one arena (the 19 real packages took 16%
/// longer with it).
fn one_malloc_arena() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets an allocator parameter; called before any
    // thread is started.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 1);
    }
}

#[derive(Parser)]
#[command(
    name = "kbinspect",
    version,
    about = "Look inside Windows update packages (.msu, .cab, expanded folders) without Windows",
    long_about = "Look inside Windows update packages (.msu, .cab, expanded folders) without Windows.\n\n\
kbinspect unpacks MSU/CAB payloads (nested, streaming), parses .mum and component .manifest \
files, verifies every payload byte against the manifest digests and container index, reads the \
file table of the update's Knowledge Base article and checks the package against it, and diffs \
two builds of a hotfix.\n\n\
Exit codes: 0 clean, 1 findings of error severity, 2 could not run.",
    after_help = "Examples:\n  kbinspect ls Windows6.1-KB975354-x64.msu\n  kbinspect extract update.msu -o out/\n  kbinspect list update.msu --format json\n  kbinspect verify update.msu --kb KB975354.txt\n  kbinspect kb KB975354.txt --format csv\n  kbinspect diff old.msu new.msu\n  kbinspect completions bash > ~/.local/share/bash-completion/completions/kbinspect"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// List every member of a package tree (nested cabinets included), with anomalies.
    Ls(cli::ls::Args),
    /// Extract a package tree to a directory, safely.
    Extract(cli::extract::Args),
    /// Show the servicing model: packages (mums), components, files.
    List(cli::list::Args),
    /// Verify a package against itself and, with --kb, against its KB article.
    Verify(cli::verify::Args),
    /// Read the file tables of a Knowledge Base article.
    Kb(cli::kb::Args),
    /// Compare two builds of an update.
    Diff(cli::diff::Args),
    /// Apply one MSDelta (PA30) delta or expand a DCM manifest.
    Expand(cli::expand::Args),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    Completions(cli::meta::CompletionsArgs),
    /// Print the manual page (roff), or write one per command with --dir.
    Man(cli::meta::ManArgs),
}

fn main() {
    let cli = Cli::parse();
    // Before any thread starts (the Ctrl-C handler below is one).
    if matches!(&cli.command, Command::Verify(a) if a.input.len() <= 1) {
        one_malloc_arena();
    }
    // Ctrl-C and SIGTERM remove the temporary files being written, exit 130.
    if let Err(e) = cli::interrupt::install() {
        eprintln!("kbinspect: warning: cannot handle Ctrl-C: {e}");
    }
    let result = match &cli.command {
        Command::Ls(a) => cli::ls::run(a),
        Command::Extract(a) => cli::extract::run(a),
        Command::List(a) => cli::list::run(a),
        Command::Verify(a) => cli::verify::run(a),
        Command::Kb(a) => cli::kb::run(a),
        Command::Diff(a) => cli::diff::run(a),
        Command::Expand(a) => cli::expand::run(a),
        Command::Completions(a) => cli::meta::completions(a, Cli::command()),
        Command::Man(a) => cli::meta::man(a, Cli::command()),
    };
    let code = match result {
        Ok(code) => code,
        Err(e) => {
            if cli::is_broken_pipe(&e) {
                0
            } else {
                // Escaped, on one line: a read error can quote what a
                // package names (a corrupt name can hold a line feed).
                eprintln!(
                    "kbinspect: error: {}",
                    cli::term::escape_line(&cli::error_message(&e))
                );
                2
            }
        }
    };
    std::process::exit(code);
}
