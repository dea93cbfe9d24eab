//! Delta rebuilding inside `verify`: MB/s of rebuilt output for whole
//! packages, per core (CPU time) and on every core (wall time).
//!
//! ```text
//! cargo run --release --example rebuild_bench -- [--runs N] PACKAGE...
//! RAYON_NUM_THREADS=1 cargo run --release --example rebuild_bench -- PACKAGE...   # one core
//! ```
//!
//! For each package, N rounds (default 7) load it without and with delta
//! expansion (`LoadOptions::expand_deltas`); the difference of the medians
//! is the cost of rebuilding. Output = the bytes of the files rebuilt (the
//! chains' intermediate bases not counted), split by the type of the delta
//! that produced each (RAW, or PE with its transforms). msdelta.dll's
//! published figure is ~79 MB/s.

#[path = "support/threads.rs"]
mod threads;

use std::path::Path;
use std::time::Instant;

use kbinspect::container::Limits;
use kbinspect::model::{Expansion, LoadOptions, Location, Package};

fn cpu_s() -> f64 {
    #[repr(C)]
    struct Timespec {
        sec: i64,
        nsec: i64,
    }
    unsafe extern "C" {
        fn clock_gettime(clock: i32, tp: *mut Timespec) -> i32;
    }
    let mut t = Timespec { sec: 0, nsec: 0 };
    // SAFETY: `t` is a valid, writable timespec (Linux x86-64 layout);
    // clock 2 is CLOCK_PROCESS_CPUTIME_ID.
    if unsafe { clock_gettime(2, &mut t) } == 0 {
        t.sec as f64 + t.nsec as f64 / 1e9
    } else {
        0.0
    }
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn load(path: &Path, expand: bool) -> Package {
    let opts = LoadOptions {
        expand_deltas: expand,
        keep_trust: false,
        keep_registry: false,
        context: threads::context(),
        ..LoadOptions::default()
    };
    Package::load_with(path, &Limits::default(), &opts).expect("load")
}

fn main() {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let mut runs = 7usize;
    if let Some(i) = args.iter().position(|a| a == "--runs") {
        runs = args.get(i + 1).and_then(|n| n.parse().ok()).unwrap_or(7);
        args.drain(i..=i + 1);
    }
    println!(
        "threads: {}; medians of {runs} runs",
        threads::context().threads()
    );
    println!(
        "{:<44} {:>6} {:>9} {:>9} {:>9} {:>10} {:>10}",
        "package", "files", "RAW MB", "PE MB", "wall ms", "MB/s wall", "MB/s/core"
    );
    let (mut all_mb, mut all_raw, mut all_pe, mut all_wall, mut all_cpu, mut all_files) =
        (0.0, 0.0, 0.0, 0.0, 0.0, 0usize);
    for p in &args {
        let path = Path::new(p);
        let pkg = load(path, true);
        let (mut raw, mut pe, mut files) = (0u64, 0u64, 0usize);
        for c in &pkg.components {
            for f in &c.files {
                let (Some(Expansion::Rebuilt { .. }), Some(size)) = (&f.expansion, f.size) else {
                    continue;
                };
                files += 1;
                let file_type = match &f.location {
                    Location::Delta {
                        member: Some(m), ..
                    } => pkg
                        .delta(m)
                        .and_then(|d| d.header.as_ref())
                        .map(|h| h.file_type),
                    _ => None,
                };
                match file_type {
                    Some(t) if t != 1 => pe += size,
                    _ => raw += size,
                }
            }
        }
        let (mut w0, mut w1, mut c0, mut c1) = (vec![], vec![], vec![], vec![]);
        for _ in 0..runs {
            for expand in [false, true] {
                let (t, c) = (Instant::now(), cpu_s());
                std::hint::black_box(load(path, expand));
                let (w, cpu) = (t.elapsed().as_secs_f64(), cpu_s() - c);
                if expand {
                    w1.push(w);
                    c1.push(cpu);
                } else {
                    w0.push(w);
                    c0.push(cpu);
                }
            }
        }
        let wall = median(&mut w1) - median(&mut w0);
        let cpu = median(&mut c1) - median(&mut c0);
        let mb = (raw + pe) as f64 / 1e6;
        let name: String = path.file_name().map_or(p.clone(), |n| {
            n.to_string_lossy().chars().take(44).collect()
        });
        println!(
            "{name:<44} {files:>6} {:>9.2} {:>9.2} {:>9.1} {:>10.1} {:>10.1}",
            raw as f64 / 1e6,
            pe as f64 / 1e6,
            wall * 1e3,
            mb / wall,
            mb / cpu
        );
        (all_mb, all_raw, all_pe) = (
            all_mb + mb,
            all_raw + raw as f64 / 1e6,
            all_pe + pe as f64 / 1e6,
        );
        (all_wall, all_cpu, all_files) = (all_wall + wall, all_cpu + cpu, all_files + files);
    }
    if args.len() > 1 {
        println!(
            "{:<44} {all_files:>6} {all_raw:>9.2} {all_pe:>9.2} {:>9.1} {:>10.1} {:>10.1}",
            "total",
            all_wall * 1e3,
            all_mb / all_wall,
            all_mb / all_cpu
        );
    }
}
