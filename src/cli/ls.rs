//! `kbinspect ls` (being built).

#[derive(clap::Args)]
pub struct Args {
    /// Input path
    pub input: std::path::PathBuf,
}

pub fn run(_args: &Args) -> anyhow::Result<i32> {
    anyhow::bail!("`ls` is not available in this build yet")
}
