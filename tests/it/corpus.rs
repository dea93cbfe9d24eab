//! Where the corpus is, and how many tests need it, said where it is seen
//! (issue 16). Tests that need the shared corpus return early without it,
//! and libtest hides what they print; this test writes one line past the
//! capture, `corpus: found at …` or `corpus: not found at …; N tests need
//! it and were skipped`, and fails without it when
//! `KBINSPECT_REQUIRE_CORPUS=1` (as `.ci/run` sets).
//!
//! The count is read from the test sources: a test needs the corpus when
//! its body, or a function of the same file it calls, asks for it
//! (`common::corpus()`, `corpus_or_skip!`).
use crate::common;

use std::collections::BTreeSet;
use std::io::Write;
use std::path::PathBuf;

/// Functions of one source file: (name, is a `#[test]`, body).
fn functions(src: &str) -> Vec<(String, bool, String)> {
    let mut out: Vec<(String, bool, String)> = Vec::new();
    let mut attr_test = false;
    for line in src.lines() {
        let t = line.trim_start();
        if t.starts_with("#[test]") {
            attr_test = true;
            continue;
        }
        let decl = t
            .strip_prefix("pub ")
            .or_else(|| t.strip_prefix("pub(crate) "))
            .unwrap_or(t);
        if let Some(rest) = decl.strip_prefix("fn ") {
            let name: String = rest
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            out.push((name, attr_test, String::new()));
            attr_test = false;
            continue;
        }
        // Only attributes and comments stand between `#[test]` and its fn.
        if !(t.is_empty() || t.starts_with("#[") || t.starts_with("//")) {
            attr_test = false;
        }
        if let Some(f) = out.last_mut() {
            f.2.push_str(line);
            f.2.push('\n');
        }
    }
    out
}

/// The tests that need the corpus, as `module::name`.
fn tests_needing_the_corpus() -> BTreeSet<String> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/it");
    let mut needing = BTreeSet::new();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "rs") || path.ends_with("corpus.rs") {
            continue;
        }
        let src = std::fs::read_to_string(&path).unwrap();
        let fns = functions(&src);
        let mut needs: BTreeSet<&str> = fns
            .iter()
            .filter(|(_, _, body)| body.contains("corpus()") || body.contains("corpus_or_skip!"))
            .map(|(n, _, _)| n.as_str())
            .collect();
        // Through helpers of the same file, to a fixed point.
        loop {
            let more: Vec<&str> = fns
                .iter()
                .filter(|(n, _, body)| {
                    !needs.contains(n.as_str())
                        && needs.iter().any(|h| body.contains(&format!("{h}(")))
                })
                .map(|(n, _, _)| n.as_str())
                .collect();
            if more.is_empty() {
                break;
            }
            needs.extend(more);
        }
        let module = path.file_stem().unwrap().to_string_lossy().into_owned();
        for (name, is_test, _) in &fns {
            if *is_test && needs.contains(name.as_str()) {
                needing.insert(format!("{module}::{name}"));
            }
        }
    }
    needing
}

#[test]
fn corpus_present_or_skips_reported() {
    let needing = tests_needing_the_corpus();
    assert!(
        needing.len() > 50,
        "the count reads the sources: {needing:?}"
    );
    let dir = std::env::var_os("KBINSPECT_CORPUS")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus"));
    let found = dir.join("SOURCES.md").is_file();
    let line = if found {
        format!(
            "corpus: found at {} ({} tests use it)\n",
            dir.display(),
            needing.len()
        )
    } else {
        format!(
            "corpus: not found at {} (set KBINSPECT_CORPUS); {} tests need it and were skipped\n",
            dir.display(),
            needing.len()
        )
    };
    // Past libtest's capture of print!/eprint!: seen in every run.
    let _ = std::io::stderr().write_all(line.as_bytes());
    if !found {
        // Fails with KBINSPECT_REQUIRE_CORPUS=1, as every corpus test does.
        assert!(common::corpus().is_none());
    }
}
