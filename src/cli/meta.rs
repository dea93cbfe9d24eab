//! `kbinspect completions SHELL` and `kbinspect man`: shell completion
//! scripts (clap_complete) and manual pages (clap_mangen), generated from
//! the same command definitions as `--help`.

use std::io::Write;

#[derive(clap::Args)]
#[command(
    after_help = "Install (bash, zsh, fish):\n  kbinspect completions bash > ~/.local/share/bash-completion/completions/kbinspect\n  kbinspect completions zsh > ~/.zfunc/_kbinspect      # with fpath+=~/.zfunc in ~/.zshrc\n  kbinspect completions fish > ~/.config/fish/completions/kbinspect.fish"
)]
pub struct CompletionsArgs {
    /// The shell to complete for
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

#[derive(clap::Args)]
#[command(
    after_help = "Examples:\n  kbinspect man | man -l -                          # read it now\n  kbinspect man --dir ~/.local/share/man/man1       # kbinspect.1 and kbinspect-<command>.1"
)]
pub struct ManArgs {
    /// Write kbinspect.1 and one page per command (kbinspect-verify.1, …)
    /// into DIR instead of printing kbinspect.1
    #[arg(long, value_name = "DIR")]
    pub dir: Option<std::path::PathBuf>,
}

pub fn completions(args: &CompletionsArgs, mut cmd: clap::Command) -> anyhow::Result<i32> {
    // Into memory first: clap_complete panics on a write error (a broken
    // pipe is no error here).
    let mut script = Vec::new();
    clap_complete::generate(args.shell, &mut cmd, "kbinspect", &mut script);
    let mut out = std::io::stdout().lock();
    out.write_all(&script)?;
    out.flush()?;
    Ok(0)
}

pub fn man(args: &ManArgs, cmd: clap::Command) -> anyhow::Result<i32> {
    match &args.dir {
        Some(dir) => {
            std::fs::create_dir_all(dir)?;
            clap_mangen::generate_to(cmd, dir)
                .map_err(|e| anyhow::anyhow!("{}: {e}", dir.display()))?;
        }
        None => {
            let mut out = std::io::stdout().lock();
            clap_mangen::Man::new(cmd).render(&mut out)?;
            out.flush()?;
        }
    }
    Ok(0)
}
