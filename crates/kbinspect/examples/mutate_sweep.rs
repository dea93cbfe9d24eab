//! The hostile-input sweep: every corpus file, then N mutated inputs, through
//! every command's library path.
//!
//! `cargo run --release --example mutate_sweep -- N [--seed S] [--corpus DIR] [--out DIR]`
//!
//! Paths exercised per input (by what the seed file is):
//! - cabinets / MSUs: `Package::load` (the `ls --test` walk with every member
//!   decoded, the model, nested cabinets, deltas) then `check::integrity`;
//! - servicing XML (`.mum`, `.manifest`, `.cix.xml`): `Package::from_members`
//!   + `check::integrity` (mum / manifest / index parsers and the model);
//! - KB articles: `kb::parse_bytes`;
//! - PA30 deltas: `msdelta::apply` without and with their source;
//! - PE files: `pe::version_info`.
//!
//! A panic, or an input taking over 5 s twice in a row (a slow input is timed
//! again: the machine is shared), is a failure: the input is written
//! to `--out` (default `target/mutate_sweep/failures`). A watchdog aborts the
//! run if one input takes over 60 s, after saving it. At the end it prints the
//! figures recorded in README.md: inputs, time, slowest input, peak
//! RSS (VmHWM), failures.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use kbinspect::container::Limits;
use kbinspect::model::{LoadOptions, Package};
use kbinspect::msdelta::{self, DeltaLimits};

const SLOW: Duration = Duration::from_secs(5);
const HANG: Duration = Duration::from_secs(60);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Cabinet,
    Xml,
    Article,
    Delta,
    Pe,
}

struct Seed {
    path: PathBuf,
    kind: Kind,
    bytes: Vec<u8>,
    /// The source file of a delta named `a__to__b….pa30`.
    source: Option<Vec<u8>>,
}

/// xorshift64*: deterministic, so a run is reproducible from `--seed`.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next() % n as u64) as usize
        }
    }
}

fn classify(path: &Path, bytes: &[u8]) -> Option<Kind> {
    let name = path.file_name()?.to_string_lossy().to_ascii_lowercase();
    let p = path.to_string_lossy().to_ascii_lowercase();
    if bytes.starts_with(b"MSCF") || name.ends_with(".cab") || name.ends_with(".msu") {
        return Some(Kind::Cabinet);
    }
    if name.ends_with(".pa30")
        || bytes.get(4..8) == Some(b"PA30")
        || bytes.starts_with(b"PA30")
        || bytes.starts_with(b"DCM\x01")
    {
        return Some(Kind::Delta);
    }
    if name.ends_with(".mum") || name.ends_with(".manifest") || name.ends_with(".xml") {
        return Some(Kind::Xml);
    }
    if bytes.starts_with(b"MZ") {
        return Some(Kind::Pe);
    }
    let text = name.ends_with(".txt") || name.ends_with(".md") || name.ends_with(".html");
    if text && (p.contains("kb-articles") || p.contains("/seed/") || p.contains("/kb")) {
        return Some(Kind::Article);
    }
    if name.starts_with("kb") && name.ends_with(".txt") {
        return Some(Kind::Article);
    }
    None
}

fn collect(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<_> = rd.flatten().map(|e| e.path()).collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            collect(&p, out);
        } else if p.is_file() {
            out.push(p);
        }
    }
}

fn delta_source(path: &Path) -> Option<Vec<u8>> {
    let name = path.file_name()?.to_string_lossy().into_owned();
    let (src, _) = name.split_once("__to__")?;
    let dir = path.parent()?.join("sources");
    for ext in ["exe", "dll", "txt", "bin"] {
        if let Ok(b) = std::fs::read(dir.join(format!("{src}.{ext}"))) {
            return Some(b);
        }
    }
    None
}

/// Offsets of cabinet header fields worth setting to extreme values:
/// cbCabinet, coffFiles, versions, cFolders, cFiles, flags, setID, iCabinet,
/// the first CFFOLDER (coffCabStart, cCFData, typeCompress), the first
/// CFFILE (size, offset, folder).
const CAB_FIELDS: &[(usize, usize)] = &[
    (8, 4),
    (16, 4),
    (24, 2),
    (26, 2),
    (28, 2),
    (30, 2),
    (32, 2),
    (34, 2),
    (36, 4),
    (40, 2),
    (42, 2),
    (44, 4),
    (48, 4),
    (52, 2),
];
const INTERESTING: &[u64] = &[
    0,
    1,
    2,
    3,
    0x7f,
    0x80,
    0xff,
    0x7fff,
    0x8000,
    0xfffd,
    0xfffe,
    0xffff,
    0x10000,
    0x7fff_ffff,
    0x8000_0000,
    0xffff_fffe,
    0xffff_ffff,
];

fn mutate(rng: &mut Rng, seed: &Seed) -> (Vec<u8>, &'static str) {
    let mut b = seed.bytes.clone();
    let rounds = 1 + rng.below(4);
    let mut label = "";
    for _ in 0..rounds {
        let len = b.len();
        label = match rng.below(10) {
            0 | 1 if len > 0 => {
                let i = rng.below(len);
                if let Some(x) = b.get_mut(i) {
                    *x ^= 1 << rng.below(8);
                }
                "bitflip"
            }
            2 if len > 0 => {
                let i = rng.below(len);
                if let Some(x) = b.get_mut(i) {
                    *x = rng.next() as u8;
                }
                "byte"
            }
            3 if len > 0 => {
                b.truncate(rng.below(len));
                "truncate"
            }
            4 => {
                let i = rng.below(len + 1);
                let n = 1 + rng.below(64);
                let ins: Vec<u8> = (0..n).map(|_| rng.next() as u8).collect();
                b.splice(i..i, ins);
                "insert"
            }
            5 if len > 1 => {
                let i = rng.below(len);
                let n = (1 + rng.below(256)).min(len - i);
                b.drain(i..i + n);
                "delete"
            }
            6 | 7 => {
                // Header fields: the cabinet header for cabinets, the first
                // bytes (magic, FILETIME, bitstream start) otherwise.
                let (off, width) = if seed.kind == Kind::Cabinet {
                    CAB_FIELDS[rng.below(CAB_FIELDS.len())]
                } else {
                    (rng.below(32), 1 + rng.below(4))
                };
                let v = INTERESTING[rng.below(INTERESTING.len())];
                for k in 0..width {
                    if let Some(x) = b.get_mut(off + k) {
                        *x = (v >> (8 * k)) as u8;
                    }
                }
                "header-field"
            }
            8 if seed.kind == Kind::Xml || seed.kind == Kind::Article => {
                // Structure-aware: deep nesting or a huge attribute/cell.
                let i = rng.below(len + 1);
                let ins: Vec<u8> = if rng.below(2) == 0 {
                    b"<a>".repeat(1 + rng.below(5000))
                } else {
                    let mut v = b" x=\"".to_vec();
                    v.extend(std::iter::repeat_n(b'A', rng.below(200_000)));
                    v.push(b'"');
                    v
                };
                b.splice(i..i, ins);
                "structure"
            }
            _ if len > 8 => {
                // Copy a chunk from elsewhere (duplicates records).
                let a = rng.below(len);
                let n = (1 + rng.below(512)).min(len - a);
                let chunk = b[a..a + n].to_vec();
                let at = rng.below(len);
                b.splice(at..at, chunk);
                "splice"
            }
            _ => "none",
        };
    }
    (b, label)
}

/// Default limits except the total declared output: 256 MiB instead of
/// 64 GiB, as a CI gate on update packages would set it. The corpus holds a
/// legitimate 6 GiB cabinet (`large-files-cab.cab`) whose decoding alone
/// takes about a minute; with the default it would dominate every run. The
/// ratio floor is lowered to 16 MiB so that mutations reach the ratio check.
fn sweep_limits() -> Limits {
    Limits {
        max_total_size: 256 << 20,
        ratio_floor: 16 << 20,
        ..Limits::default()
    }
}

fn run_one(seed: &Seed, bytes: &[u8], work: &Path) {
    match seed.kind {
        Kind::Cabinet => {
            let ext = seed
                .path
                .extension()
                .map(|e| e.to_string_lossy().into_owned())
                .unwrap_or_else(|| "cab".into());
            let p = work.join(format!("input.{ext}"));
            if std::fs::write(&p, bytes).is_err() {
                return;
            }
            let limits = sweep_limits();
            if let Ok(pkg) = Package::load(&p, &limits) {
                let _ = kbinspect::check::integrity::check(&pkg);
            }
        }
        Kind::Xml => {
            let name = seed
                .path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            let pkg = Package::from_members(
                "sweep",
                vec![(name, bytes.to_vec(), None)],
                &LoadOptions::default(),
            );
            let _ = kbinspect::check::integrity::check(&pkg);
        }
        Kind::Article => {
            let _ = kbinspect::kb::parse_bytes(bytes);
        }
        Kind::Delta => {
            let limits = DeltaLimits::default();
            let out = msdelta::apply(bytes, None, &limits);
            if let Ok(t) = &out {
                assert!(t.len() as u64 <= limits.max_target_size);
            }
            if let Some(src) = &seed.source {
                let _ = msdelta::apply(bytes, Some(src), &limits);
            }
            let _ = msdelta::parse_header(bytes);
        }
        Kind::Pe => {
            let _ = kbinspect::pe::version_info(bytes);
        }
    }
}

fn peak_rss_kib() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = s.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

struct Args {
    n: u64,
    seed: u64,
    corpus: PathBuf,
    out: PathBuf,
}

fn parse_args() -> Args {
    let mut a = Args {
        n: 100_000,
        seed: 0x6b62_696e_7370_6563,
        corpus: std::env::var_os("KBINSPECT_CORPUS")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus")),
        out: PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/mutate_sweep/failures"),
    };
    let mut it = std::env::args().skip(1);
    while let Some(x) = it.next() {
        match x.as_str() {
            "--seed" => a.seed = it.next().and_then(|v| v.parse().ok()).unwrap_or(a.seed),
            "--corpus" => a.corpus = it.next().map(PathBuf::from).unwrap_or(a.corpus),
            "--out" => a.out = it.next().map(PathBuf::from).unwrap_or(a.out),
            n => a.n = n.parse().unwrap_or(a.n),
        }
    }
    a
}

fn main() -> anyhow::Result<()> {
    let args = parse_args();
    let mut files = Vec::new();
    collect(&args.corpus, &mut files);
    collect(
        &PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("testdata"),
        &mut files,
    );
    let mut seeds = Vec::new();
    for p in files {
        let Ok(bytes) = std::fs::read(&p) else {
            continue;
        };
        let Some(kind) = classify(&p, &bytes) else {
            continue;
        };
        let source = (kind == Kind::Delta).then(|| delta_source(&p)).flatten();
        seeds.push(Seed {
            path: p,
            kind,
            bytes,
            source,
        });
    }
    for k in [
        Kind::Cabinet,
        Kind::Xml,
        Kind::Article,
        Kind::Delta,
        Kind::Pe,
    ] {
        let n = seeds.iter().filter(|s| s.kind == k).count();
        eprintln!("seeds {k:?}: {n}");
    }
    std::fs::create_dir_all(&args.out)?;
    let work = tempfile::tempdir()?;

    // Silence the default hook: panics are counted and saved instead.
    let last_panic: Arc<Mutex<String>> = Arc::default();
    {
        let lp = last_panic.clone();
        std::panic::set_hook(Box::new(move |info| {
            if let Ok(mut g) = lp.lock() {
                *g = info.to_string();
            }
        }));
    }

    // Watchdog: `started_ms` is the start of the current input (0 = idle).
    let epoch = Instant::now();
    let started_ms = Arc::new(AtomicU64::new(0));
    let current: Arc<Mutex<(String, Vec<u8>)>> = Arc::default();
    {
        let started_ms = started_ms.clone();
        let current = current.clone();
        let out = args.out.clone();
        std::thread::spawn(move || {
            loop {
                std::thread::sleep(Duration::from_secs(1));
                let s = started_ms.load(Ordering::Relaxed);
                if s != 0
                    && (epoch.elapsed().as_millis() as u64).saturating_sub(s)
                        > HANG.as_millis() as u64
                {
                    if let Ok(g) = current.lock() {
                        let _ = std::fs::write(out.join("hang.bin"), &g.1);
                        eprintln!("HANG over {HANG:?}: {} (saved hang.bin)", g.0);
                    }
                    std::process::exit(3);
                }
            }
        });
    }

    let mut rng = Rng(args.seed | 1);
    let mut failures = 0u64;
    let mut slowest = (Duration::ZERO, String::new());
    let mut retimed: Vec<String> = Vec::new();
    let mut inputs = 0u64;
    let t0 = Instant::now();
    // Big seeds (the 3.5 MB MSU, the 3 MB golden XML) are mutated less
    // often so the sweep covers many small structures per second.
    let small: Vec<usize> = (0..seeds.len())
        .filter(|&i| seeds[i].bytes.len() <= 400_000)
        .collect();
    let big: Vec<usize> = (0..seeds.len())
        .filter(|&i| seeds[i].bytes.len() > 400_000)
        .collect();
    let total = seeds.len() as u64 + args.n;
    for step in 0..total {
        let (si, bytes, label) = if (step as usize) < seeds.len() {
            let i = step as usize;
            (i, seeds[i].bytes.clone(), "original")
        } else {
            let pick_big = !big.is_empty() && rng.below(200) == 0;
            let i = if pick_big {
                big[rng.below(big.len())]
            } else {
                small[rng.below(small.len())]
            };
            let (b, l) = mutate(&mut rng, &seeds[i]);
            (i, b, l)
        };
        let seed = &seeds[si];
        let desc = format!("#{step} {label} of {}", seed.path.display());
        if let Ok(mut g) = current.lock() {
            *g = (desc.clone(), bytes.clone());
        }
        let t = Instant::now();
        started_ms.store(epoch.elapsed().as_millis() as u64 + 1, Ordering::Relaxed);
        let r = catch_unwind(AssertUnwindSafe(|| run_one(seed, &bytes, work.path())));
        started_ms.store(0, Ordering::Relaxed);
        let dt = t.elapsed();
        inputs += 1;
        if dt > slowest.0 {
            slowest = (dt, desc.clone());
        }
        let failed = if r.is_err() {
            let msg = last_panic.lock().map(|g| g.clone()).unwrap_or_default();
            eprintln!("PANIC {desc}: {msg}");
            Some("panic")
        } else if dt > SLOW {
            // The machine is shared: time the input once more, and count it
            // only when it is slow again (a stall of the whole process is
            // not the input's doing).
            let again = Instant::now();
            started_ms.store(epoch.elapsed().as_millis() as u64 + 1, Ordering::Relaxed);
            let _ = catch_unwind(AssertUnwindSafe(|| run_one(seed, &bytes, work.path())));
            started_ms.store(0, Ordering::Relaxed);
            let dt2 = again.elapsed();
            if dt2 > SLOW {
                eprintln!("SLOW {desc}: {dt:?}, again {dt2:?}");
                Some("slow")
            } else {
                retimed.push(format!("{desc}: {dt:.1?}, again {dt2:.1?}"));
                eprintln!("slow once {desc}: {dt:?}, again {dt2:?} (not counted)");
                None
            }
        } else {
            None
        };
        if let Some(what) = failed {
            failures += 1;
            let name = format!(
                "{what}-{step}-{}",
                seed.path.file_name().unwrap_or_default().to_string_lossy()
            );
            std::fs::write(args.out.join(name), &bytes)?;
        }
        if step % 10_000 == 0 && step > 0 {
            eprintln!(
                "{step}/{total} in {:.0?}, failures {failures}, peak RSS {} KiB",
                t0.elapsed(),
                peak_rss_kib().unwrap_or(0)
            );
        }
    }
    println!(
        "inputs: {inputs} ({} originals + {} mutated)",
        seeds.len(),
        args.n
    );
    println!("time: {:.1?}", t0.elapsed());
    println!("slowest: {:.1?} {}", slowest.0, slowest.1);
    println!("peak RSS: {} KiB", peak_rss_kib().unwrap_or(0));
    println!("failures: {failures} (saved under {})", args.out.display());
    println!(
        "slow once, fast when re-timed (not counted): {}",
        retimed.len()
    );
    for r in &retimed {
        println!("  {r}");
    }
    if failures > 0 {
        std::process::exit(1);
    }
    Ok(())
}
