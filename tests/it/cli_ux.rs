//! The command line as a user meets it (issue 16): broken pipes, size
//! units, error messages, `--help` of every command.
use crate::common;

use std::process::{Command as Std, Stdio};

use assert_cmd::Command;

fn kbinspect() -> Command {
    Command::cargo_bin("kbinspect").unwrap()
}

/// Run with stdout a pipe whose reader is gone before anything is written
/// (`kbinspect … | head -0`): every write fails with EPIPE.
fn closed_pipe(args: &[&str]) -> std::process::Output {
    let mut child = Std::new(assert_cmd::cargo::cargo_bin("kbinspect"))
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    child.wait_with_output().unwrap()
}

/// A broken pipe is not an error, in every command and every format.
#[test]
fn broken_pipe_exits_zero_in_every_format() {
    let msu = common::testdata().join("Windows6.1-KB975354-x64.msu");
    let msu = msu.to_str().unwrap();
    let kb = common::testdata().join("KB975354-nl.txt");
    let kb = kb.to_str().unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let mut runs: Vec<Vec<String>> = Vec::new();
    for format in ["table", "json"] {
        for cmd in [
            vec!["ls", msu],
            vec!["ls", "--test", msu],
            vec!["list", msu],
            vec!["verify", msu],
            vec!["verify", msu, "--kb", kb],
            vec!["diff", msu, msu],
        ] {
            let mut v: Vec<String> = cmd.iter().map(|s| s.to_string()).collect();
            v.extend(["--format".to_string(), format.to_string()]);
            runs.push(v);
        }
        let out = tmp.path().join(format!("x-{format}"));
        runs.push(vec![
            "extract".into(),
            msu.into(),
            "--format".into(),
            format.into(),
            "-o".into(),
            out.display().to_string(),
        ]);
    }
    for format in ["table", "json", "csv"] {
        runs.push(vec![
            "kb".into(),
            kb.into(),
            "--format".into(),
            format.into(),
        ]);
    }
    // The report formats of verify and diff, a batch, completions and man.
    for format in ["markdown", "junit"] {
        runs.push(vec![
            "verify".into(),
            msu.into(),
            "--kb".into(),
            kb.into(),
            "--format".into(),
            format.into(),
        ]);
        runs.push(vec![
            "verify".into(),
            msu.into(),
            msu.into(),
            "--format".into(),
            format.into(),
        ]);
    }
    runs.push(vec![
        "diff".into(),
        msu.into(),
        msu.into(),
        "--format".into(),
        "markdown".into(),
    ]);
    runs.push(vec![
        "verify".into(),
        msu.into(),
        msu.into(),
        "--width".into(),
        "80".into(),
    ]);
    runs.push(vec!["completions".into(), "bash".into()]);
    runs.push(vec!["man".into()]);
    for args in &runs {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let o = closed_pipe(&args);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(0), "{args:?}: {err}");
        assert!(!err.contains("Broken pipe"), "{args:?}: {err}");
    }
}

/// Size limits take binary units (K = KiB = 1024) as well as bytes.
#[test]
fn size_limits_accept_units() {
    let msu = common::testdata().join("Windows6.1-KB975354-x64.msu");
    for (value, bytes) in [
        ("10K", 10_240u64),
        ("10KiB", 10_240),
        ("10k", 10_240),
        ("10240", 10_240),
        ("20KB", 20_480),
    ] {
        let o = kbinspect()
            .arg("ls")
            .arg(&msu)
            .args(["--max-total-size", value])
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(2), "{value}");
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(
            err.contains(&format!("(limit {bytes}; raise it with --max-total-size)")),
            "{value}: {err}"
        );
    }
    for value in ["1GiB", "512M", "1G", "2T", "1TiB"] {
        for flag in ["--max-total-size", "--max-member-size", "--ratio-floor"] {
            kbinspect()
                .arg("ls")
                .arg(&msu)
                .args([flag, value])
                .assert()
                .code(0);
        }
    }
    for bad in ["1X", "GiB", "-1K", "99999999T"] {
        let o = kbinspect()
            .arg("ls")
            .arg(&msu)
            .arg(format!("--max-total-size={bad}"))
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(2), "{bad}");
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(err.contains("invalid value"), "{bad}: {err}");
    }
}

/// Every command's `--help` is a snapshot (`expand`'s is in msdelta_cli),
/// so changes show up in review, and each has examples.
#[test]
fn help_snapshots() {
    for cmd in ["", "ls", "extract", "list", "verify", "kb", "diff"] {
        let mut c = kbinspect();
        if !cmd.is_empty() {
            c.arg(cmd);
        }
        let o = c.arg("--help").output().unwrap();
        assert!(o.status.success(), "{cmd}");
        let text = String::from_utf8_lossy(&o.stdout).into_owned();
        assert!(
            text.contains("\nExamples:\n  kbinspect "),
            "{cmd}: no examples"
        );
        let name = if cmd.is_empty() {
            "help".to_string()
        } else {
            format!("{cmd}_help")
        };
        insta::assert_snapshot!(name, text);
    }
}

/// An input that does not exist: the cause is printed once, exit 2.
#[test]
fn io_error_cause_printed_once() {
    let tmp = tempfile::tempdir().unwrap();
    let missing = tmp.path().join("missing.msu");
    let m = missing.to_str().unwrap();
    let out = tmp.path().join("out");
    let o = out.to_str().unwrap();
    for args in [
        vec!["ls", m],
        vec!["ls", "--test", m],
        vec!["list", m],
        vec!["verify", m],
        vec!["diff", m, m],
        vec!["extract", m, "-o", o],
        vec!["extract", "--expand", m, "-o", o],
    ] {
        let r = kbinspect().args(&args).output().unwrap();
        assert_eq!(r.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8_lossy(&r.stderr);
        assert_eq!(
            err,
            format!("kbinspect: error: {m}: No such file or directory (os error 2)\n"),
            "{args:?}"
        );
    }
}

/// A package on standard input (`-`), as `kb -` allows for articles.
#[test]
fn package_on_standard_input() {
    let msu = common::testdata().join("Windows6.1-KB975354-x64.msu");
    let kb = common::testdata().join("KB975354-nl.txt");
    let json = |args: &[&str], from_stdin: bool| -> serde_json::Value {
        let mut c = kbinspect();
        c.args(args);
        if from_stdin {
            c.arg("-").pipe_stdin(&msu).unwrap();
        } else {
            c.arg(&msu);
        }
        let o = c.args(["--format", "json"]).output().unwrap();
        let mut v: serde_json::Value = serde_json::from_slice(&o.stdout)
            .unwrap_or_else(|_| panic!("{args:?}: {}", String::from_utf8_lossy(&o.stderr)));
        // The exit code, compared between the two ways in.
        v["exit"] = o.status.code().into();
        v
    };
    let a = json(&["ls"], false);
    let b = json(&["ls"], true);
    assert_eq!(a["members"], b["members"]);
    assert_eq!(b["exit"], 0);
    assert!(!a["members"].as_array().unwrap().is_empty());
    let a = json(&["list"], false);
    let b = json(&["list"], true);
    assert_eq!(a["components"], b["components"]);
    let kb = kb.to_str().unwrap();
    let a = json(&["verify", "--kb", kb], false);
    let b = json(&["verify", "--kb", kb], true);
    assert_eq!(b["kb"]["rows_matched"], 17);
    assert_eq!(a["exit"], b["exit"]);
    assert_eq!(a["verdict"], b["verdict"]);
    assert_eq!(a["kb"]["rows"], b["kb"]["rows"]);
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let o = kbinspect()
        .args(["extract", "--depth", "1", "-o"])
        .arg(&out)
        .arg("-")
        .pipe_stdin(&msu)
        .unwrap()
        .output()
        .unwrap();
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(out.join("Windows6.1-KB975354-x64.cab").is_file());
}

/// The table output of verify (one package and a batch), ls, list, diff
/// and extract starts with its summary line and a blank line, and ends
/// with the same line: a glance and `| tail -1` both work. A report that
/// is only that line (no differences, an extraction with nothing to say)
/// prints it once.
#[test]
fn summary_line_is_first_and_last() {
    let td = common::testdata();
    let x64 = td.join("Windows6.1-KB975354-x64.msu");
    let x86 = td.join("Windows6.1-KB975354-x86.msu");
    let (x64, x86) = (x64.to_str().unwrap(), x86.to_str().unwrap());
    let tmp = tempfile::tempdir().unwrap();
    let out_dir = tmp.path().join("out");
    let out_dir = out_dir.to_str().unwrap();
    let run = |args: &[&str]| -> String {
        let out = kbinspect().args(args).output().unwrap();
        assert!(out.status.code().is_some_and(|c| c < 2), "{args:?}");
        String::from_utf8(out.stdout).unwrap()
    };
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (vec!["verify", x64], "FAIL: 11 of 11 files proven"),
        (
            vec!["verify", x64, x86],
            "2 packages: 0 pass, 0 incomplete, 2 fail",
        ),
        (vec!["ls", x64], "27 members, "),
        (vec!["ls", "--test", x64], "tested 27 members, "),
        (vec!["list", x64], "2 packages, 5 components, 11 files"),
        (vec!["diff", x64, x86], "25 changes ("),
    ];
    for (args, starts) in &cases {
        let text = run(args);
        let lines: Vec<&str> = text.lines().collect();
        assert!(lines.len() > 3, "{args:?}: {text}");
        assert!(lines[0].starts_with(starts), "{args:?}: {text}");
        assert_eq!(lines[1], "", "{args:?}");
        assert_eq!(lines.last(), lines.first(), "{args:?}: {text}");
        // Said twice, not more.
        assert_eq!(lines.iter().filter(|l| *l == &lines[0]).count(), 2);
    }
    // Once: nothing between.
    assert_eq!(run(&["diff", x64, x64]), "no differences\n");
    let first = run(&["extract", "--depth", "1", "-o", out_dir, x64]);
    assert_eq!(first.lines().count(), 1, "{first}");
    assert!(first.starts_with("4 files, "), "{first}");
    // Again, without --force: every file is kept, and said so between.
    let again = run(&["extract", "--depth", "1", "-o", out_dir, x64]);
    let lines: Vec<&str> = again.lines().collect();
    assert!(lines[0].starts_with("incomplete: 0 files"), "{again}");
    assert_eq!(lines[1], "");
    assert!(lines[2].starts_with("skipped "), "{again}");
    assert_eq!(lines.last(), lines.first(), "{again}");
}
