//! Tables fit the terminal (issue 16): with `--width N` every line of
//! every table-printing command (`ls`, `list`, `verify`, `diff`, `kb`) is at
//! most N cells wide, on the samples and on a real package; without it and
//! without a terminal, the output is full width (as `--width 0`).
use crate::common;

use std::ffi::OsString;
use std::path::Path;

use assert_cmd::Command;
use unicode_width::UnicodeWidthStr;

fn run(args: &[OsString]) -> (Option<i32>, String) {
    let out = Command::cargo_bin("kbinspect")
        .unwrap()
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8(out.stdout).expect("UTF-8 output"),
    )
}

fn args(v: &[&std::ffi::OsStr]) -> Vec<OsString> {
    v.iter().map(|s| s.to_os_string()).collect()
}

/// Every table-printing command on `pkg` (and `other`, for `diff`).
fn commands(pkg: &Path, other: &Path, article: &Path) -> Vec<Vec<OsString>> {
    let (p, o, a) = (pkg.as_os_str(), other.as_os_str(), article.as_os_str());
    vec![
        args(&["ls".as_ref(), p]),
        args(&["ls".as_ref(), "--test".as_ref(), p]),
        args(&["list".as_ref(), p]),
        args(&["verify".as_ref(), p]),
        args(&["verify".as_ref(), p, "--kb".as_ref(), a]),
        args(&["verify".as_ref(), p, o]),
        args(&["diff".as_ref(), p, o]),
        args(&["kb".as_ref(), a]),
    ]
}

fn check_widths(cmds: &[Vec<OsString>]) {
    for cmd in cmds {
        let (code, full) = run(cmd);
        assert_ne!(code, Some(2), "{cmd:?}");
        // Not a terminal: full width, the same as --width 0.
        let mut unlimited = cmd.clone();
        unlimited.extend(["--width".into(), "0".into()]);
        assert_eq!(run(&unlimited).1, full, "{cmd:?} --width 0");
        for n in [80usize, 120] {
            let mut fitted = cmd.clone();
            fitted.extend(["--width".into(), n.to_string().into()]);
            let (fcode, text) = run(&fitted);
            assert_eq!(
                fcode, code,
                "{fitted:?}: the exit code does not depend on the width"
            );
            for line in text.lines() {
                assert!(
                    line.width() <= n,
                    "{fitted:?}: a line of {} cells:\n{line}",
                    line.width()
                );
            }
            // Nothing is lost but width: the verdict and counts lines are
            // still there, wrapped.
            let words = |s: &str| s.split_whitespace().count();
            if full.lines().count() < 200 {
                assert!(words(&text) >= words(&full) / 2, "{fitted:?}:\n{text}");
            }
        }
    }
}

#[test]
fn width_bounds_every_line_on_the_samples() {
    let td = common::testdata();
    check_widths(&commands(
        &td.join("Windows6.1-KB975354-x64.msu"),
        &td.join("Windows6.1-KB975354-x86.msu"),
        &td.join("KB975354-nl.txt"),
    ));
}

#[test]
fn width_bounds_every_line_on_a_real_package() {
    let Some(corpus) = common::corpus() else {
        return;
    };
    check_widths(&commands(
        &corpus.join(
            "kb4538483-esu-msu/windows6.1-kb4538483-x86_f77ee698928fb42232b70b01f53a4c5f68553323.msu",
        ),
        &corpus.join("real-msu/takluyver-pynsist-msvcrt-tag1/x86/Windows6.1-KB2999226-x86.msu"),
        &common::testdata().join("KB975354-nl.txt"),
    ));
}

/// Long paths are shortened in the middle (both ends kept), details wrapped.
#[test]
fn long_paths_are_shortened_in_the_middle() {
    let msu = common::testdata().join("Windows6.1-KB975354-x64.msu");
    let (_, text) = run(&args(&[
        "ls".as_ref(),
        msu.as_os_str(),
        "--width".as_ref(),
        "80".as_ref(),
    ]));
    let shortened: Vec<&str> = text.lines().filter(|l| l.contains('…')).collect();
    assert!(!shortened.is_empty(), "{text}");
    // A member whose path ends in the installer's name keeps that end.
    assert!(
        shortened.iter().any(|l| l.contains("services-x64.msi")),
        "{text}"
    );
    // The verdict line wraps with a hanging indent; its words all remain.
    let (_, full) = run(&args(&["verify".as_ref(), msu.as_os_str()]));
    let (_, narrow) = run(&args(&[
        "verify".as_ref(),
        msu.as_os_str(),
        "--width".as_ref(),
        "80".as_ref(),
    ]));
    let verdict = full.lines().last().unwrap();
    let tail: Vec<&str> = narrow
        .lines()
        .rev()
        .take_while(|l| l.starts_with("  "))
        .collect();
    assert!(!tail.is_empty(), "{narrow}");
    // Last (for `| tail`) and first (for a glance), wrapped alike.
    let lines: Vec<&str> = narrow.lines().collect();
    let last = lines.iter().rposition(|l| l.starts_with("FAIL:")).unwrap();
    let rejoined = lines[last..]
        .iter()
        .map(|l| l.trim())
        .collect::<Vec<_>>()
        .join(" ");
    assert_eq!(rejoined, verdict);
    assert_eq!(full.lines().next(), Some(verdict));
    let first: Vec<&str> = lines
        .iter()
        .take_while(|l| !l.is_empty())
        .map(|l| l.trim())
        .collect();
    assert_eq!(first.join(" "), verdict, "{narrow}");
}

#[test]
fn too_narrow_a_width_is_refused() {
    let msu = common::testdata().join("Windows6.1-KB975354-x64.msu");
    for cmd in ["ls", "list", "verify", "kb"] {
        let input = if cmd == "kb" {
            common::testdata().join("KB975354-nl.txt")
        } else {
            msu.clone()
        };
        let out = Command::cargo_bin("kbinspect")
            .unwrap()
            .args([
                cmd.as_ref(),
                input.as_os_str(),
                "--width".as_ref(),
                "10".as_ref(),
            ])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{cmd}");
        assert!(String::from_utf8_lossy(&out.stderr).contains("too narrow"));
    }
}
