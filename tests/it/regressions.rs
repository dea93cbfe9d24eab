//! Replays every input under `testdata/regressions/<target>/` through the
//! parser of `<target>`: each must finish without a panic within a time
//! bound, with a result or a clear error. The inputs are crashes and hangs
//! found by `fuzz/` and `examples/mutate_sweep.rs` (see README.md).
use crate::common;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use kbinspect::container::Limits;
use kbinspect::model::{LoadOptions, Package};

const BOUND: Duration = Duration::from_secs(10);

fn inputs(target: &str) -> Vec<PathBuf> {
    let dir = common::testdata().join("regressions").join(target);
    let mut v: Vec<PathBuf> = std::fs::read_dir(&dir)
        .map(|rd| {
            rd.flatten()
                .map(|e| e.path())
                .filter(|p| p.is_file())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

/// Run `f` on a thread; fail on a panic or when it outlives [`BOUND`].
fn bounded(name: &Path, f: impl FnOnce() -> String + Send + 'static) -> String {
    let started = Instant::now();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
        let _ = tx.send(r);
    });
    match rx.recv_timeout(BOUND) {
        Ok(Ok(outcome)) => {
            eprintln!("{}: {outcome} in {:.1?}", name.display(), started.elapsed());
            outcome
        }
        Ok(Err(_)) => panic!("{}: the parser panicked", name.display()),
        Err(_) => panic!("{}: not done within {BOUND:?}", name.display()),
    }
}

/// Crashes of the CAB reader: the walk (every member decoded) ends with an
/// error that names the input, or with a report whose corrupt members carry
/// findings; the model and integrity check then run too.
#[test]
fn cab_walk_regressions() {
    let files = inputs("cab_walk");
    assert!(!files.is_empty(), "no regression inputs for cab_walk");
    for p in files {
        let tmp = tempfile::tempdir().unwrap();
        let input = tmp.path().join("input.cab");
        std::fs::copy(&p, &input).unwrap();
        let outcome = bounded(&p, move || {
            let mut errors = 0usize;
            let r = kbinspect::container::walk(&input, &Limits::default(), &mut |_, rd| {
                let mut sink = Vec::new();
                if std::io::Read::read_to_end(rd, &mut sink).is_err() {
                    errors += 1;
                }
                Ok(())
            });
            let walked = match r {
                Ok(rep) => format!(
                    "walked: {errors} member read errors, {} findings",
                    rep.findings.len()
                ),
                Err(e) => {
                    let msg = e.to_string();
                    assert!(
                        msg.contains("input.cab"),
                        "error does not name the input: {msg}"
                    );
                    format!("error: {msg}")
                }
            };
            if let Ok(pkg) = Package::load(&input, &Limits::default()) {
                let _ = kbinspect::check::integrity::check(&pkg);
            }
            walked
        });
        // These inputs are all corrupt: something must say so.
        assert!(
            outcome.starts_with("error")
                || !outcome.starts_with("walked: 0 member read errors, 0 "),
            "{}: corrupt input walked clean: {outcome}",
            p.display()
        );
    }
}

/// Servicing XML (mum, manifest, container index) through the model.
#[test]
fn xml_regressions() {
    for p in inputs("xml") {
        let bytes = std::fs::read(&p).unwrap();
        let name = p.file_name().unwrap().to_string_lossy().into_owned();
        bounded(&p, move || {
            let pkg = Package::from_members(
                "regression",
                vec![(name, bytes, None)],
                &LoadOptions::default(),
            );
            let f = kbinspect::check::integrity::check(&pkg);
            format!("{} findings", pkg.findings.len() + f.len())
        });
    }
}

/// KB articles through the table parser.
#[test]
fn kb_regressions() {
    for p in inputs("kb") {
        let bytes = std::fs::read(&p).unwrap();
        bounded(&p, move || match kbinspect::kb::parse_bytes(&bytes) {
            Ok(a) => format!("{} rows", a.rows().count()),
            Err(e) => format!("error: {e}"),
        });
    }
}

/// PE files through the version reader.
#[test]
fn pe_regressions() {
    for p in inputs("pe") {
        let bytes = std::fs::read(&p).unwrap();
        bounded(&p, move || {
            format!(
                "{:?}",
                kbinspect::pe::version_info(&bytes).map(|v| v.file_version)
            )
        });
    }
}
