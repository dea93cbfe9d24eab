//! The README cannot drift (issue 16): every command it shows (a line
//! beginning `$ kbinspect` in a ```` ``` ```` block) is run, and its output
//! compared with the lines shown below it.
//!
//! - Paths: `testdata/…` is the repository's; a name with `…` or `*`
//!   (`windows6.1-kb4538483-x86_….msu`, `takluyver/…/Windows6.1-KB2999226-x64.msu`,
//!   `corpus/**/*.msu`), and an `.msu`/`.cab` name not in `testdata/`, is
//!   looked up in the corpus, `…` matching anything
//!   and a leading directory naming one of the path's folders (by prefix).
//!   A bare name is linked into the working directory under its real name,
//!   so the output shows it as the README does. Commands run in a fresh
//!   temporary directory (`-o out` writes there). Without the corpus, its
//!   examples are skipped (failed with `KBINSPECT_REQUIRE_CORPUS=1`).
//! - Pipes: `| tail -N` and `| head -N`.
//! - Output: the shown lines, in order, are the output's lines from the
//!   first on; in a shown line `…` stands for any text; a line that is only
//!   `…` (or starts with `…` after its indentation: `  … (one line per
//!   signature)`) stands for any number of lines. Unless the block ends with
//!   such a line, the output ends where the shown lines do.
use crate::common;

use std::path::{Path, PathBuf};

/// One command of the README and the lines shown after it.
#[derive(Debug)]
struct Example {
    line: usize,
    command: String,
    shown: Vec<String>,
}

fn examples(readme: &str) -> Vec<Example> {
    let mut out: Vec<Example> = Vec::new();
    let mut in_block = false;
    let mut current: Option<Example> = None;
    for (i, line) in readme.lines().enumerate() {
        if line.starts_with("```") {
            if in_block {
                out.extend(current.take());
            }
            in_block = !in_block;
            continue;
        }
        if !in_block {
            continue;
        }
        if let Some(cmd) = line.strip_prefix("$ kbinspect ") {
            out.extend(current.take());
            current = Some(Example {
                line: i + 1,
                command: cmd.to_string(),
                shown: Vec::new(),
            });
        } else if let Some(e) = current.as_mut() {
            e.shown.push(line.to_string());
        }
    }
    out
}

/// Every file under `dir`, relative paths with `/`.
fn walk(dir: &Path) -> Vec<(String, PathBuf)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                let rel = p
                    .strip_prefix(dir)
                    .unwrap()
                    .to_string_lossy()
                    .replace('\\', "/");
                out.push((rel, p));
            }
        }
    }
    out.sort();
    out
}

/// The glob an abbreviated corpus path stands for.
fn corpus_glob(arg: &str) -> String {
    if let Some(rest) = arg.strip_prefix("corpus/") {
        return rest.replace('…', "*");
    }
    let parts: Vec<&str> = arg.split('/').collect();
    let (name, dirs) = parts.split_last().unwrap();
    let mut glob = String::from("**/");
    for d in dirs {
        if *d == "…" {
            glob.push_str("**/");
        } else {
            glob.push_str(&format!("{d}*/"));
        }
    }
    glob.push_str(&name.replace('…', "*"));
    glob
}

/// The arguments as run: (argv, needs the corpus). `None`: the corpus is
/// needed and absent.
fn resolve(command: &str, cwd: &Path) -> Option<Vec<String>> {
    let mut argv = Vec::new();
    for arg in command.split_whitespace() {
        let package_name = (arg.ends_with(".msu") || arg.ends_with(".cab"))
            && !arg.starts_with('-')
            && !cwd.join(arg).exists();
        let abbreviated =
            package_name || arg.contains('…') || arg.contains('*') || arg.starts_with("corpus/");
        if !abbreviated {
            argv.push(arg.to_string());
            continue;
        }
        let corpus = common::corpus()?;
        let glob = globset::Glob::new(&corpus_glob(arg))
            .unwrap()
            .compile_matcher();
        let found: Vec<PathBuf> = walk(&corpus)
            .into_iter()
            .filter(|(rel, _)| glob.is_match(rel))
            .map(|(_, p)| p)
            .collect();
        assert!(
            !found.is_empty(),
            "README: {arg} matches nothing in the corpus"
        );
        if arg.contains('*') {
            argv.extend(found.iter().map(|p| p.display().to_string()));
            continue;
        }
        assert_eq!(found.len(), 1, "README: {arg} is ambiguous: {found:?}");
        if arg.contains('/') {
            argv.push(found[0].display().to_string());
        } else {
            // Shown by its name, as run from its folder.
            let name = found[0].file_name().unwrap();
            #[cfg(unix)]
            std::os::unix::fs::symlink(&found[0], cwd.join(name)).unwrap();
            #[cfg(not(unix))]
            std::fs::copy(&found[0], cwd.join(name)).unwrap();
            argv.push(name.to_string_lossy().into_owned());
        }
    }
    Some(argv)
}

/// Does `actual` match the shown line (`…` = any text)?
fn line_matches(shown: &str, actual: &str) -> bool {
    let (shown, actual) = (shown.trim_end(), actual.trim_end());
    let parts: Vec<&str> = shown.split('…').collect();
    if parts.len() == 1 {
        return shown == actual;
    }
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if !actual.starts_with(first) || actual.len() < first.len() + last.len() {
        return false;
    }
    let mut rest = &actual[first.len()..];
    for part in &parts[1..parts.len() - 1] {
        match rest.find(part) {
            Some(at) => rest = &rest[at + part.len()..],
            None => return false,
        }
    }
    rest.ends_with(last)
}

fn is_gap(shown: &str) -> bool {
    shown.trim_start().starts_with('…')
}

/// The shown lines against the output: `Err` says where they part.
fn compare(shown: &[String], actual: &[&str]) -> Result<(), String> {
    let mut at = 0;
    let mut gap = false;
    for s in shown {
        if is_gap(s) {
            gap = true;
            continue;
        }
        let found = if gap {
            (at..actual.len()).find(|&i| line_matches(s, actual[i]))
        } else {
            (at < actual.len() && line_matches(s, actual[at])).then_some(at)
        };
        match found {
            Some(i) => at = i + 1,
            None => {
                return Err(format!(
                    "shown line not in the output (at output line {}):\n  {s}\noutput there:\n  {}",
                    at + 1,
                    actual.get(at).copied().unwrap_or("(end of output)")
                ));
            }
        }
        gap = false;
    }
    if !gap && at < actual.len() {
        return Err(format!(
            "the output goes on after the shown lines:\n  {}",
            actual[at]
        ));
    }
    Ok(())
}

/// Run one example in a fresh directory; `None` when skipped.
fn run(example: &Example) -> Option<Result<(), String>> {
    let tmp = tempfile::tempdir().unwrap();
    let cwd = tmp.path();
    #[cfg(unix)]
    std::os::unix::fs::symlink(common::testdata(), cwd.join("testdata")).unwrap();
    #[cfg(not(unix))]
    return None;
    let mut stages = example.command.split(" | ");
    let argv = resolve(stages.next().unwrap(), cwd)?;
    let out = assert_cmd::Command::cargo_bin("kbinspect")
        .unwrap()
        .current_dir(cwd)
        .args(&argv)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let mut lines: Vec<&str> = stdout.lines().collect();
    for filter in stages {
        let words: Vec<&str> = filter.split_whitespace().collect();
        let n = |w: &str| -> usize { w.trim_start_matches('-').parse().unwrap() };
        match words.as_slice() {
            ["tail", count] => {
                let k = n(count).min(lines.len());
                lines = lines.split_off(lines.len() - k);
            }
            ["head", count] => lines.truncate(n(count)),
            _ => panic!("README line {}: unsupported pipe `{filter}`", example.line),
        }
    }
    if out.status.code().is_none() {
        return Some(Err(format!("killed by a signal: {:?}", out.status)));
    }
    Some(compare(&example.shown, &lines).map_err(|e| {
        format!(
            "{e}\n(exit {:?}; stderr: {})",
            out.status.code(),
            String::from_utf8_lossy(&out.stderr)
        )
    }))
}

#[test]
fn readme_examples_give_the_output_shown() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("README.md");
    let readme = std::fs::read_to_string(&path).unwrap();
    let examples = examples(&readme);
    assert!(examples.len() >= 8, "{examples:#?}");
    let mut failures = Vec::new();
    let mut skipped = 0;
    for e in &examples {
        assert!(
            !e.shown.is_empty(),
            "README line {}: no output shown",
            e.line
        );
        match run(e) {
            None => skipped += 1,
            Some(Ok(())) => {}
            Some(Err(why)) => failures.push(format!(
                "README line {}: $ kbinspect {}\n{why}",
                e.line, e.command
            )),
        }
    }
    if skipped > 0 {
        eprintln!("SKIPPED: {skipped} README examples need the corpus");
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n\n"));
}

#[test]
fn the_comparison_rules() {
    assert!(line_matches("a…c", "abbbc"));
    assert!(line_matches(
        "  verified  x_….msu  signer: …",
        "  verified  x_f00.msu  signer: M  chain: A"
    ));
    assert!(!line_matches("a…c", "abbbd"));
    assert!(!line_matches("abc", "abcd"));
    let out = ["one", "two", "three", "four"];
    let shown = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    assert!(compare(&shown(&["one", "two", "…"]), &out).is_ok());
    assert!(compare(&shown(&["one", "  … (more)", "four"]), &out).is_ok());
    assert!(
        compare(&shown(&["one", "three"]), &out).is_err(),
        "no silent gaps"
    );
    assert!(
        compare(&shown(&["one", "two"]), &out).is_err(),
        "the end is the end"
    );
    assert!(
        compare(&shown(&["two", "…"]), &out).is_err(),
        "anchored at the first line"
    );
    assert_eq!(corpus_glob("takluyver/…/W.msu"), "**/takluyver*/**/W.msu");
    assert_eq!(corpus_glob("corpus/**/*.msu"), "**/*.msu");
    assert_eq!(corpus_glob("w_….msu"), "**/w_*.msu");
}
