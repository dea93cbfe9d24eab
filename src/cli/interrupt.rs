//! Ctrl-C and SIGTERM, for every command: the temporary files this process
//! is writing (the extractor's `.kbinspect-*.part`, the `--output` report's
//! `.kbinspect-report-*`, the spooled standard input) are removed, one line
//! says the run was interrupted, and the exit code is 130, as a shell's for
//! SIGINT. A temporary is created and registered under one lock, so the
//! handler never misses one that exists.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard};

struct State {
    /// Temporary files (`false`) and directories (`true`) to remove.
    temps: Vec<(PathBuf, bool)>,
    stopped: bool,
}

static STATE: Mutex<State> = Mutex::new(State {
    temps: Vec::new(),
    stopped: false,
});

/// `extract` reports how many files it wrote.
static EXTRACTING: AtomicBool = AtomicBool::new(false);

fn state() -> MutexGuard<'static, State> {
    STATE.lock().unwrap_or_else(|e| e.into_inner())
}

/// Install the handler (once, from `main`).
pub fn install() -> anyhow::Result<()> {
    ctrlc::set_handler(on_signal)?;
    Ok(())
}

/// The interrupt message of `extract`: "interrupted: N files written".
pub fn extracting() {
    EXTRACTING.store(true, Ordering::SeqCst);
}

fn on_signal() {
    let written = kbinspect::extract::interrupt();
    let mut st = state();
    st.stopped = true;
    for (p, dir) in std::mem::take(&mut st.temps) {
        let _ = if dir {
            std::fs::remove_dir_all(p)
        } else {
            std::fs::remove_file(p)
        };
    }
    if EXTRACTING.load(Ordering::SeqCst) {
        eprintln!("interrupted: {written} files written");
    } else {
        eprintln!("kbinspect: interrupted");
    }
    std::process::exit(130);
}

/// Removes its path from the registry when dropped (the temporary was
/// renamed into place or removed by its owner).
pub struct Registered(PathBuf);

impl Drop for Registered {
    fn drop(&mut self) {
        state().temps.retain(|(p, _)| p != &self.0);
    }
}

/// Create a temporary (`make`) and register it, under the lock: an
/// interrupt either comes before (nothing is created: "interrupted") or
/// finds it registered.
pub fn create<T>(
    dir: bool,
    make: impl FnOnce() -> std::io::Result<T>,
    path: impl Fn(&T) -> &Path,
) -> std::io::Result<(T, Registered)> {
    let mut st = state();
    if st.stopped {
        return Err(std::io::Error::new(
            std::io::ErrorKind::Interrupted,
            "interrupted",
        ));
    }
    let t = make()?;
    let p = path(&t).to_path_buf();
    st.temps.push((p.clone(), dir));
    Ok((t, Registered(p)))
}

/// Run `f` (renaming a temporary into place) with the handler held off,
/// so an interrupt cannot remove what is being renamed.
pub fn while_held<T>(f: impl FnOnce() -> T) -> T {
    let _st = state();
    f()
}
