//! Manifest parsing throughput, one thread.
//!
//! Parses every `*.manifest` and `*.mum` in a directory (default: the
//! expanded KB4538483 package in the corpus) over and over until at least
//! `--count` documents (default 10000) have been parsed, computing each
//! component's keyform, and prints documents/s and MB/s for one core.
//!
//! ```text
//! cargo run --release --example manifest_bench -- [DIR] [--count N] [--no-hash]
//! ```
//!
//! `--no-hash` skips the closing SHA-256/SHA-1 measurement (512 MiB of
//! hashing), so that the parsing alone can be profiled under callgrind.

use std::time::Instant;

use kbinspect::servicing::{component, mum, xml::XmlLimits};

fn main() -> anyhow::Result<()> {
    let mut dir = None;
    let mut count = 10_000usize;
    let mut hashing = true;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        if a == "--no-hash" {
            hashing = false;
        } else if a == "--count" {
            count = args.next().unwrap_or_default().parse()?;
        } else {
            dir = Some(std::path::PathBuf::from(a));
        }
    }
    let dir = dir.unwrap_or_else(|| {
        std::path::PathBuf::from(
            std::env::var("KBINSPECT_CORPUS").unwrap_or_else(|_| "../shared/corpus".into()),
        )
        .join("kb4538483-esu-msu/extracted/Windows6.1-KB4538483-x86.cab")
    });
    let mut docs: Vec<(String, Vec<u8>)> = Vec::new();
    for e in std::fs::read_dir(&dir)? {
        let p = e?.path();
        let name = p
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned();
        let lower = name.to_ascii_lowercase();
        if lower.ends_with(".manifest") || lower.ends_with(".mum") {
            docs.push((name, std::fs::read(&p)?));
        }
    }
    anyhow::ensure!(!docs.is_empty(), "no manifests in {}", dir.display());
    let limits = XmlLimits::default();
    let rounds = count.div_ceil(docs.len());
    let mut parsed = 0usize;
    let mut bytes = 0usize;
    let mut files = 0usize;
    let start = Instant::now();
    let cpu_start = cpu_seconds();
    for _ in 0..rounds {
        for (name, b) in &docs {
            if name.to_ascii_lowercase().ends_with(".mum") {
                let m = mum::parse(name, b, &limits)?;
                files += m.updates.len();
            } else {
                let m = component::parse(name, b, &limits)?;
                files += m.files.len();
                std::hint::black_box(m.identity.keyform());
            }
            parsed += 1;
            bytes += b.len();
        }
    }
    let wall = start.elapsed().as_secs_f64();
    // On a shared machine wall time overstates the cost: prefer CPU time.
    let (secs, clock) = match (cpu_start, cpu_seconds()) {
        (Some(a), Some(b)) if b > a => (b - a, "CPU"),
        _ => (wall, "wall"),
    };
    println!(
        "{parsed} documents ({} distinct, {:.1} MB, {files} files/updates) in {secs:.3} s {clock} ({wall:.3} s wall): {:.0} documents/s, {:.1} MB/s on one core",
        docs.len(),
        bytes as f64 / 1e6,
        parsed as f64 / secs,
        bytes as f64 / 1e6 / secs
    );
    if hashing {
        hash_cost();
    }
    Ok(())
}

/// What hashing every member costs: the model computes SHA-256 and SHA-1
/// of every member while streaming (SHA-1 for old manifests).
fn hash_cost() {
    use sha1::Digest as _;
    let buf: Vec<u8> = (0..64u32 << 20)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    let t = cpu_seconds();
    let w = Instant::now();
    let mut h = sha2::Sha256::new();
    for _ in 0..8 {
        h.update(&buf);
    }
    let a = h.finalize();
    let sha256 = elapsed(t, w);
    let t = cpu_seconds();
    let w = Instant::now();
    let mut h = sha1::Sha1::new();
    for _ in 0..8 {
        h.update(&buf);
    }
    let b = h.finalize();
    let sha1 = elapsed(t, w);
    std::hint::black_box((a, b));
    let mb = 8.0 * buf.len() as f64 / 1e6;
    println!(
        "hashing 512 MiB: SHA-256 {:.0} MB/s, SHA-1 {:.0} MB/s; SHA-1 on top of SHA-256 costs {:.0}% more hashing time",
        mb / sha256,
        mb / sha1,
        100.0 * sha1 / sha256
    );
}

fn elapsed(cpu_start: Option<f64>, wall: Instant) -> f64 {
    match (cpu_start, cpu_seconds()) {
        (Some(a), Some(b)) if b > a => b - a,
        _ => wall.elapsed().as_secs_f64(),
    }
}

/// User + system CPU time of this process from `/proc/self/stat` (Linux),
/// assuming the usual 100 clock ticks per second.
fn cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the parenthesised command name; utime and stime are the
    // 14th and 15th fields of the whole line.
    let rest = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) / 100.0)
}
