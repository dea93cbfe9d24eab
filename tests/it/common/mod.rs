//! Shared test helpers: where the corpus is, and how to skip without it.
#![allow(dead_code)]

use std::path::PathBuf;

/// The shared corpus of Microsoft-authored and third-party files, which stays
/// out of the repository. `KBINSPECT_CORPUS` points at it (default
/// `../shared/corpus`). When it is absent the test is skipped with a note on
/// stderr, unless `KBINSPECT_REQUIRE_CORPUS=1` (set by `.ci/run`), which makes
/// absence a failure.
pub fn corpus() -> Option<PathBuf> {
    let dir = std::env::var_os("KBINSPECT_CORPUS")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus"));
    if dir.join("SOURCES.md").is_file() {
        return Some(dir);
    }
    if std::env::var("KBINSPECT_REQUIRE_CORPUS").as_deref() == Ok("1") {
        panic!(
            "corpus not found at {} and KBINSPECT_REQUIRE_CORPUS=1",
            dir.display()
        );
    }
    eprintln!(
        "SKIPPED: corpus not found at {} (set KBINSPECT_CORPUS)",
        dir.display()
    );
    None
}

/// `corpus()` joined with a relative path, or return from the test.
#[macro_export]
macro_rules! corpus_or_skip {
    ($rel:expr) => {
        match common::corpus() {
            Some(c) => c.join($rel),
            None => return,
        }
    };
}

/// The repository's testdata directory.
pub fn testdata() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("testdata")
}

/// True when an external oracle program is on PATH. A test that needs it
/// skips (saying so on stderr) when it is absent, unless
/// `KBINSPECT_REQUIRE_TOOLS=1` (set by `.ci/run`): then absence fails the
/// test, so that CI cannot pass by skipping its differential checks.
pub fn have(program: &str) -> bool {
    let found = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!("command -v {program} >/dev/null 2>&1"))
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    if !found && std::env::var("KBINSPECT_REQUIRE_TOOLS").as_deref() == Ok("1") {
        panic!("oracle `{program}` not on PATH and KBINSPECT_REQUIRE_TOOLS=1");
    }
    found
}

/// Apply byte edits (`bytes[at] ^= value`) and then an optional cut to a
/// cabinet. Returns false when the edits cancel out within one byte lane of
/// the CAB checksum, which XORs 32-bit words (e.g. the same value twice, 4·k
/// bytes apart): such damage is invisible to the format (LZX has no check
/// of its own), so mutation properties do not judge it.
pub fn mutate_cab(bytes: &mut Vec<u8>, edits: &[(usize, u8)], cut: Option<usize>) -> bool {
    let mut lanes = [(0u8, 0usize); 4];
    for &(at, v) in edits {
        let lane = &mut lanes[at % 4];
        lane.0 ^= v;
        lane.1 += 1;
        bytes[at] ^= v;
    }
    if let Some(c) = cut {
        bytes.truncate(c);
    }
    lanes.iter().all(|&(x, n)| n < 2 || x != 0)
}

/// A stored (uncompressed) cabinet of `(name, bytes)` members, written by
/// the test kit's CAB writer (fixed timestamps, archive attribute).
pub fn stored_cab(files: &[(String, Vec<u8>)]) -> Vec<u8> {
    use kbinspect_testkit::cabwrite::{CabFile, CabOptions, DosDateTime, Method, write_cab};
    let files: Vec<CabFile> = files
        .iter()
        .map(|(n, d)| CabFile {
            name: n.clone(),
            data: d.clone(),
            time: DosDateTime::new(2020, 5, 1, 21, 34),
            attributes: 0x20,
        })
        .collect();
    write_cab(
        &files,
        &CabOptions {
            method: Method::Stored,
            set_id: 0,
            signature: None,
        },
    )
}
