//! What the chain-of-trust check adds to `verify`, measured side by side in
//! one process (issue 19's target: under 10 %).
//!
//! ```text
//! cargo run --release --example trust_cost -- [--runs N] [--trust-root FILE]... PACKAGE...
//! cargo run --release --example trust_cost -- [--trust-root FILE]... --once trust|notrust PACKAGE
//! ```
//!
//! `--trust-root FILE` (PEM or DER, repeatable) adds a root, as `kbinspect
//! verify --trust-root` does: the generated packages of `bench/run.sh`
//! (`gen_large`) are signed by the TEST-ONLY CA,
//! `testdata/trust/test-keys/TEST-ONLY-root.pem`, and only verify with it.
//!
//! For each package, N rounds (default 9) alternate two pipelines:
//! - `notrust`: load with `keep_trust: false` (no cabinet digests kept), then
//!   the integrity and anomaly checks side by side (as `verify` runs them)
//!   and the verdict;
//! - `trust`: load as `kbinspect verify` does, then [`kbinspect::check::verify`]
//!   (the same checks plus the whole chain of trust).
//!
//! Each run starts as a fresh process does: no certificate read or
//! verified yet ([`kbinspect::trust::chain::clear_caches`]). It prints the
//! medians of wall time and of this process's CPU time, and for each the
//! median of the rounds' ratios (the two runs of a round back to back,
//! which goes first alternating). `--once` runs one pipeline once (for
//! `hyperfine`, which then times whole processes).

#[path = "support/threads.rs"]
mod threads;

use std::path::Path;
use std::time::Instant;

use kbinspect::check::{anomaly, integrity, verdict};
use kbinspect::container::Limits;
use kbinspect::model::{LoadOptions, Package};
use kbinspect::trust::package::TrustOptions;

/// CPU seconds of this process (user + system, every thread, those that
/// have exited included).
fn cpu_s() -> f64 {
    #[repr(C)]
    struct Timespec {
        sec: i64,
        nsec: i64,
    }
    unsafe extern "C" {
        fn clock_gettime(clock: i32, tp: *mut Timespec) -> i32;
    }
    const CLOCK_PROCESS_CPUTIME_ID: i32 = 2;
    let mut t = Timespec { sec: 0, nsec: 0 };
    // SAFETY: `t` is a valid, writable timespec (Linux x86-64 layout).
    let ok = unsafe { clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &mut t) } == 0;
    if ok {
        t.sec as f64 + t.nsec as f64 / 1e9
    } else {
        0.0
    }
}

fn opts(trust: bool) -> LoadOptions {
    LoadOptions {
        keep_registry: false,
        keep_trust: trust,
        context: threads::context(),
        ..LoadOptions::default()
    }
}

/// One `verify` without its output: the verdict word, the signatures
/// verified / found (0 / 0 without the trust check), and the seconds spent
/// loading.
/// `roots`: with the trust check, and these roots added to Microsoft's
/// (the root store is built in the run, as `verify` builds it).
fn run(path: &Path, roots: Option<&[String]>) -> (&'static str, (usize, usize), f64) {
    let mut o = opts(roots.is_some());
    // What a fresh process would do: no certificate read or verified before.
    kbinspect::trust::chain::clear_caches();
    let t = Instant::now();
    // As `verify` does: the root store built, and handed to the load, which
    // verifies the signatures beside the delta rebuilds.
    let trust = roots.map(|roots| {
        let mut trust = TrustOptions::default();
        for r in roots {
            trust.store.add_file(Path::new(r)).expect("--trust-root");
        }
        std::sync::Arc::new(trust)
    });
    o.trust = trust
        .clone()
        .map(|t| t as std::sync::Arc<dyn kbinspect::model::Presign>);
    let pkg = Package::load_with(path, &Limits::default(), &o).expect("load");
    let load = t.elapsed().as_secs_f64();
    let (word, sigs) = if let Some(trust) = trust {
        let v = kbinspect::check::verify(&pkg, &o, &trust, vec![]);
        let s = &v.trust.summary;
        (
            v.assessment.verdict.as_str(),
            (s.signatures_verified, s.signatures),
        )
    } else {
        // The same checks as `verify` without the chain of trust, run as
        // it runs them (integrity beside the others).
        let ((mut findings, _), anomalies) = pkg.context().join(
            || integrity::check_with_stats(&pkg),
            || anomaly::check(&pkg),
        );
        findings.extend(anomalies);
        (
            verdict::assess(&pkg, &findings, None).verdict.as_str(),
            (0, 0),
        )
    };
    (word, sigs, load)
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let mut runs = 9usize;
    if let Some(i) = args.iter().position(|a| a == "--runs") {
        runs = args.get(i + 1).and_then(|n| n.parse().ok()).unwrap_or(9);
        args.drain(i..=i + 1);
    }
    let mut roots = Vec::new();
    while let Some(i) = args.iter().position(|a| a == "--trust-root") {
        let file = args.get(i + 1).expect("--trust-root FILE").clone();
        if let Err(e) = TrustOptions::default().store.add_file(Path::new(&file)) {
            eprintln!("trust_cost: {e}");
            std::process::exit(2);
        }
        roots.push(file);
        args.drain(i..=i + 1);
    }
    let trust = roots.as_slice();
    if args.first().map(String::as_str) == Some("--once") {
        let t = (args.get(1).map(String::as_str) == Some("trust")).then_some(trust);
        for p in &args[2..] {
            println!("{}", run(p.as_ref(), t).0);
        }
        return;
    }
    println!(
        "{:<44} {:>9} {:>9} {:>7} {:>9} {:>9} {:>7}",
        "package", "wall no", "wall yes", "ratio", "cpu no", "cpu yes", "ratio"
    );
    for p in &args {
        let path = Path::new(p);
        // Warm the page cache and the pools.
        let (word, (verified, sigs), _) = run(path, Some(trust));
        let (mut w0, mut w1, mut c0, mut c1) = (vec![], vec![], vec![], vec![]);
        let (mut l0, mut l1) = (vec![], vec![]);
        for round in 0..runs {
            // Which goes first alternates, so that neither always runs
            // in the other's wake.
            let order = if round % 2 == 0 {
                [false, true]
            } else {
                [true, false]
            };
            for with in order {
                let opts = with.then_some(trust);
                let (t, c) = (Instant::now(), cpu_s());
                let (_, _, load) = std::hint::black_box(run(path, opts));
                let (w, cpu) = (t.elapsed().as_secs_f64(), cpu_s() - c);
                if with {
                    w1.push(w);
                    c1.push(cpu);
                    l1.push(load);
                } else {
                    w0.push(w);
                    c0.push(cpu);
                    l0.push(load);
                }
            }
        }
        let name = path.file_name().map_or(p.clone(), |n| {
            let n = n.to_string_lossy();
            n.chars().take(44).collect()
        });
        // The ratio of each round's pair (run back to back, under the same
        // load), then their median: steadier on a shared machine than the
        // ratio of two medians.
        let mut wr: Vec<f64> = w1.iter().zip(&w0).map(|(y, n)| y / n).collect();
        let mut cr: Vec<f64> = c1
            .iter()
            .zip(&c0)
            .filter(|(_, n)| **n > 0.0)
            .map(|(y, n)| y / n)
            .collect();
        let (wr, cr) = (
            median(&mut wr),
            if cr.is_empty() {
                f64::NAN
            } else {
                median(&mut cr)
            },
        );
        let (w0, w1, c0, c1) = (
            median(&mut w0),
            median(&mut w1),
            median(&mut c0),
            median(&mut c1),
        );
        let (l0, l1) = (median(&mut l0), median(&mut l1));
        println!(
            "{name:<44} {:>8.1}ms {:>8.1}ms {:>7.3} {:>8.0}ms {:>8.0}ms {:>7.3}   load {:.1} / {:.1} ms, checks {:.1} / {:.1} ms; {word}, {verified}/{sigs} signatures verified",
            w0 * 1e3,
            w1 * 1e3,
            wr,
            c0 * 1e3,
            c1 * 1e3,
            cr,
            l0 * 1e3,
            l1 * 1e3,
            (w0 - l0) * 1e3,
            (w1 - l1) * 1e3,
        );
    }
}
