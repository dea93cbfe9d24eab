//! Every crafted input of the hostile-input review (issue 17, attacks 6–9:
//! `kbinspect_testkit::hostile`), through every command that reads a
//! package, under `/usr/bin/time`: each run stays under 5 s of CPU (10 s for
//! `diff`, which loads two packages) and 256 MB peak RSS, and ends in a
//! report or a clear error. CPU time rather than wall time, because the
//! test binary runs other tests beside it; `scripts/hostile-time.sh` gives
//! the wall times for `docs/hostile-input.md`.

use std::path::{Path, PathBuf};
use std::process::Command;

const RSS_LIMIT_KB: u64 = 256 * 1024;
const CPU_LIMIT_S: f64 = 5.0;

struct Run {
    rc: i32,
    cpu_s: f64,
    rss_kb: u64,
    stdout: Vec<u8>,
    stderr: String,
}

/// `kbinspect ARGS` under `/usr/bin/time`, from `dir`.
fn timed(dir: &Path, args: &[&str]) -> Run {
    let times = dir.join(format!("time-{}", std::process::id()));
    let out = Command::new("/usr/bin/time")
        .arg("-f")
        .arg("%U %S %M")
        .arg("-o")
        .arg(&times)
        .arg(env!("CARGO_BIN_EXE_kbinspect"))
        .args(args)
        .current_dir(dir)
        .output()
        .expect("run /usr/bin/time");
    let text = std::fs::read_to_string(&times).expect("time's report");
    // A signal line ("Command terminated by signal 9") may come first.
    let last = text.lines().last().unwrap_or_default();
    let f: Vec<&str> = last.split_whitespace().collect();
    assert_eq!(f.len(), 3, "unexpected /usr/bin/time output: {text}");
    Run {
        rc: out.status.code().unwrap_or(-1),
        cpu_s: f[0].parse::<f64>().unwrap() + f[1].parse::<f64>().unwrap(),
        rss_kb: f[2].parse().unwrap(),
        stdout: out.stdout,
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// The run stayed within the budget and ended in a JSON report (exit 0 or
/// 1) or in one clear error naming `names` (exit 2).
fn judge(what: &str, r: &Run, cpu_limit: f64, names: &[&str]) {
    assert!(
        r.cpu_s < cpu_limit,
        "{what}: {:.2} s of CPU (limit {cpu_limit} s)",
        r.cpu_s
    );
    assert!(
        r.rss_kb < RSS_LIMIT_KB,
        "{what}: peak RSS {} KB (limit {RSS_LIMIT_KB} KB)",
        r.rss_kb
    );
    match r.rc {
        0 | 1 => {
            let v: serde_json::Value = serde_json::from_slice(&r.stdout)
                .unwrap_or_else(|e| panic!("{what}: exit {} without a JSON report: {e}", r.rc));
            assert!(v.is_object(), "{what}: {v}");
        }
        2 => {
            assert!(
                r.stderr.contains("error:") && names.iter().any(|n| r.stderr.contains(n)),
                "{what}: exit 2 without an error naming one of {names:?}: {}",
                r.stderr
            );
        }
        rc => panic!("{what}: exit {rc}: {}", r.stderr),
    }
}

fn inputs() -> Option<(tempfile::TempDir, Vec<(&'static str, PathBuf)>)> {
    if !crate::common::have("/usr/bin/time") {
        eprintln!("skipped: /usr/bin/time is missing (apt-get install time)");
        return None;
    }
    let dir = tempfile::tempdir().unwrap();
    let files = kbinspect_testkit::hostile::inputs()
        .into_iter()
        .map(|(name, bytes)| {
            let p = dir.path().join(name);
            std::fs::write(&p, bytes).unwrap();
            (name, p)
        })
        .collect();
    Some((dir, files))
}

#[test]
fn every_command_on_every_crafted_input_stays_within_5s_and_256mb() {
    let Some((dir, files)) = inputs() else { return };
    for (name, path) in &files {
        let p = path.to_str().unwrap();
        // A cabinet the tree-wide member limit refuses is named by its
        // nested member and the flag that raises the limit.
        let names = [*name, "--max-total-members", "inner"];
        for cmd in [
            vec!["verify", "--format", "json", p],
            vec!["list", "--format", "json", p],
            vec!["ls", "--test", "--format", "json", p],
        ] {
            let r = timed(dir.path(), &cmd);
            judge(&format!("{} {name}", cmd[0]), &r, CPU_LIMIT_S, &names);
        }
        let r = timed(dir.path(), &["diff", "--format", "json", p, p]);
        judge(
            &format!("diff {name} {name}"),
            &r,
            2.0 * CPU_LIMIT_S,
            &names,
        );
        let out = dir.path().join(format!("out-{name}"));
        let r = timed(
            dir.path(),
            &[
                "extract",
                "--expand",
                "--format",
                "json",
                p,
                "-o",
                out.to_str().unwrap(),
            ],
        );
        judge(&format!("extract --expand {name}"), &r, CPU_LIMIT_S, &names);
        // Nothing rebuilt past the limits reaches the disk.
        let written: u64 = walk_sizes(&out);
        assert!(
            written < 64 << 20,
            "extract --expand {name} wrote {written} bytes"
        );
    }
}

/// The delta declaring a 1 GiB target, given to `expand` on its own: the
/// target size is refused before anything is allocated.
#[test]
fn expand_refuses_a_huge_declared_target_before_allocating() {
    let Some((dir, _)) = inputs() else { return };
    let delta = dir.path().join("big.pa30");
    std::fs::write(
        &delta,
        kbinspect_testkit::pa30::encode_declaring(b"tiny", 1 << 30),
    )
    .unwrap();
    let r = timed(
        dir.path(),
        &["expand", "big.pa30", "-o", "big.out", "--format", "json"],
    );
    judge("expand big.pa30", &r, CPU_LIMIT_S, &["big.pa30"]);
    assert_eq!(r.rc, 1, "{}", r.stderr);
    let report = String::from_utf8_lossy(&r.stdout);
    assert!(
        report.contains("delta-limit") && report.contains("TargetSize 1073741824 over the limit"),
        "{report}"
    );
    assert!(!dir.path().join("big.out").exists());
}

fn walk_sizes(p: &Path) -> u64 {
    let Ok(rd) = std::fs::read_dir(p) else {
        return 0;
    };
    rd.flatten()
        .map(|e| match e.file_type() {
            Ok(t) if t.is_dir() => walk_sizes(&e.path()),
            _ => e.metadata().map_or(0, |m| m.len()),
        })
        .sum()
}
