//! `--threads N` and the decode context (issue 14): the output does not
//! depend on the budget, 0 is refused, and the budget holds (counted by
//! the context, and by the threads the process has).
use crate::common;

use std::num::NonZeroUsize;
use std::path::{Path, PathBuf};

use assert_cmd::Command;
use kbinspect::container::{DecodeContext, Limits, WalkOptions, walk_with};
use serde_json::Value;

fn kbinspect() -> Command {
    Command::cargo_bin("kbinspect").unwrap()
}

fn msu(dir: &Path) -> PathBuf {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|x| x == "msu"))
        .expect("an .msu in the corpus folder")
}

fn json_of(args: &[&str], input: &Path) -> Value {
    let out = kbinspect()
        .args(args)
        .arg(input)
        .args(["--format", "json"])
        .output()
        .unwrap();
    assert!(
        out.status.code().is_some_and(|c| c < 2),
        "{args:?}: {out:?}"
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// `--threads 0` is a usage error (exit 2) on every command that takes it.
#[test]
fn zero_threads_is_a_usage_error() {
    let tmp = tempfile::tempdir().unwrap();
    let x = tmp.path().join("x.cab");
    std::fs::write(&x, b"not read").unwrap();
    let x = x.to_str().unwrap();
    let out_dir = tmp.path().join("out");
    for args in [
        vec!["ls", x],
        vec!["extract", x, "-o", out_dir.to_str().unwrap()],
        vec!["list", x],
        vec!["verify", x],
        vec!["verify", x, x],
        vec!["diff", x, x],
    ] {
        let out = kbinspect()
            .args(&args)
            .args(["--threads", "0"])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("0 threads cannot do any work"),
            "{args:?}: {err}"
        );
        assert!(
            !out_dir.exists(),
            "nothing is written before the usage error"
        );
    }
}

/// Every report is the same on one thread as on all cores.
#[test]
fn one_thread_gives_the_same_json_as_all_cores() {
    let dir = corpus_or_skip!("kb4538483-esu-msu");
    let input = msu(&dir);
    for args in [
        &["ls", "--test"][..],
        &["ls", "--test", "--hash", "md5"][..],
        &["list"][..],
    ] {
        let all = json_of(args, &input);
        let mut one_args = args.to_vec();
        one_args.extend(["--threads", "1"]);
        assert_eq!(json_of(&one_args, &input), all, "{args:?}");
        assert!(all.as_object().is_some_and(|o| !o.is_empty()));
    }
    // verify reports its own duration; everything else must match.
    let strip = |mut v: Value| {
        if let Some(o) = v.as_object_mut() {
            o.remove("elapsed_seconds");
            o.remove("elapsed");
        }
        v
    };
    let all = strip(json_of(&["verify"], &input));
    let one = strip(json_of(&["verify", "--threads", "1"], &input));
    assert_eq!(one, all);
}

/// The most working threads the process of `cmd` had at once, polled from
/// `/proc/<pid>/task` while it runs. The signal listener (`ctrl-c`, which
/// only waits for Ctrl-C/SIGTERM to remove temporary files) does no work
/// and is not counted: a thread seen under that name at any time is left
/// out of every sample (it bears the process's name until it renames
/// itself).
fn peak_threads(cmd: &mut std::process::Command) -> usize {
    use std::collections::BTreeSet;
    let mut child = cmd
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let task = PathBuf::from(format!("/proc/{}/task", child.id()));
    let mut samples: Vec<BTreeSet<String>> = Vec::new();
    let mut listener = BTreeSet::new();
    loop {
        if let Ok(rd) = std::fs::read_dir(&task) {
            let mut sample = BTreeSet::new();
            for t in rd.flatten() {
                let tid = t.file_name().to_string_lossy().into_owned();
                let comm = std::fs::read_to_string(t.path().join("comm")).unwrap_or_default();
                if comm.trim_end() == "ctrl-c" {
                    listener.insert(tid.clone());
                }
                sample.insert(tid);
            }
            samples.push(sample);
        }
        if child.try_wait().unwrap().is_some() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_micros(500));
    }
    samples
        .iter()
        .map(|s| s.difference(&listener).count())
        .max()
        .unwrap_or(0)
}

/// With `--threads 1` the process never has a second thread, through the
/// decoding of both nested LZX/MSZIP levels, the delta rebuilds and the
/// trust check; with 3 it does (so the probe can see them).
#[test]
fn one_thread_budget_starts_no_thread() {
    if !Path::new("/proc/self/task").is_dir() {
        eprintln!("skipped: no /proc");
        return;
    }
    let dir = corpus_or_skip!("kb4538483-esu-msu");
    let input = msu(&dir);
    let bin = assert_cmd::cargo::cargo_bin("kbinspect");
    for args in [&["verify"][..], &["ls", "--test"][..]] {
        let one = peak_threads(
            std::process::Command::new(&bin)
                .args(args)
                .arg(&input)
                .args(["--threads", "1"]),
        );
        assert_eq!(one, 1, "{args:?} --threads 1");
    }
    let three = peak_threads(
        std::process::Command::new(&bin)
            .args(["verify"])
            .arg(&input)
            .args(["--threads", "3"]),
    );
    assert!(three > 1, "--threads 3 ran on {three} thread(s)");
}

/// The context counts the decoding threads it hands out: none with a
/// budget of 1, and with a budget of 2 at most one beside the walking
/// thread (the MSU's folders are large enough to be decoded ahead).
#[test]
fn walk_keeps_to_the_context_budget() {
    let dir = corpus_or_skip!("kb4538483-esu-msu");
    let input = msu(&dir);
    let mut digests = Vec::new();
    for n in [1, 2] {
        let ctx = DecodeContext::new(NonZeroUsize::new(n).unwrap());
        let opts = WalkOptions {
            context: ctx.clone(),
            ..WalkOptions::default()
        };
        let mut bytes = 0u64;
        let report = walk_with(&input, &Limits::default(), &opts, &mut |_, r| {
            bytes += std::io::copy(r, &mut std::io::sink())?;
            Ok(())
        })
        .unwrap();
        assert!(report.containers.len() >= 2);
        assert_eq!(ctx.peak_helper_threads(), n - 1, "budget {n}");
        digests.push(bytes);
        // The pools hold the buffers until released (or dropped).
        assert!(ctx.pooled_bytes() > 0);
        ctx.release_buffers();
        assert_eq!(ctx.pooled_bytes(), 0);
    }
    assert_eq!(digests[0], digests[1]);
}
