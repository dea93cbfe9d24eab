//! Decode throughput of the pure-Rust MSDelta decoder.
//!
//! ```text
//! cargo run --release --example msdelta_bench [-- PACKAGE_DIR]
//! ```
//!
//! Measures, in output MB/s (hash verification included):
//! - the real KB4538483 blobs: every PA30 blob of `PACKAGE_DIR` (a folder
//!   holding the CIX and the members, e.g. `cabextract` of the package CAB;
//!   default: the corpus's partial extraction) rebuilt through their basis
//!   chains, PE-typed blobs included and also measured alone;
//! - the largest DCM manifest (3.2 MB) and the cmd → notepad RAW delta;
//! - a generated 64 MiB target encoded once by the test encoder and cached
//!   in the system temp directory.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use kbinspect::msdelta::{DeltaLimits, apply, parse_header};
use kbinspect_testkit::pa30::encode_sourceless;

fn corpus() -> PathBuf {
    std::env::var_os("KBINSPECT_CORPUS")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus"))
}

/// CPU time of this thread in ns (Linux), so a busy shared machine does
/// not distort the figure as much as wall time does.
fn cpu_ns() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    s.split_whitespace().next()?.parse().ok()
}

/// Time `f` (which returns the output size) over enough runs for ~1 s.
fn measure(name: &str, mut f: impl FnMut() -> usize) {
    let c0 = cpu_ns();
    let t0 = Instant::now();
    let mut runs = 0u32;
    let mut bytes = 0usize;
    while runs < 3 || (t0.elapsed().as_secs_f64() < 1.0 && runs < 1000) {
        bytes += f();
        runs += 1;
    }
    if bytes == 0 {
        println!("{name:<44} (nothing decoded)");
        return;
    }
    let s = t0.elapsed().as_secs_f64();
    let cpu = match (c0, cpu_ns()) {
        (Some(a), Some(b)) if b > a => format!(
            "{:>8.1} MB/s CPU",
            bytes as f64 / ((b - a) as f64 / 1e9) / 1e6
        ),
        _ => String::new(),
    };
    println!(
        "{name:<48} {:>10} B out {runs:>4} runs {:>8.1} MB/s wall {cpu}",
        bytes / runs as usize,
        bytes as f64 / s / 1e6
    );
}

/// `(cix id, source type, member name, basis id)` for each file, parsed with
/// a plain string scan (the bench needs nothing more).
fn cix_files(cix: &str) -> Vec<(String, String, String, Option<String>)> {
    let attr = |s: &str, k: &str| -> Option<String> {
        let s = format!(" {s}");
        let i = s.find(&format!(" {k}=\""))? + k.len() + 3;
        Some(s[i..].split('"').next()?.to_string())
    };
    let mut out = Vec::new();
    for file in cix.split("<File ").skip(1) {
        let file = file.split("</File>").next().unwrap_or("");
        let Some(src) = file.split("<Source ").nth(1) else {
            continue;
        };
        let basis = file.split("<Basis ").nth(1).and_then(|b| attr(b, "file"));
        if let (Some(id), Some(ty), Some(name)) =
            (attr(file, "id"), attr(src, "type"), attr(src, "name"))
        {
            out.push((id, ty, name, basis));
        }
    }
    out
}

fn package(dir: &Path, limits: &DeltaLimits) {
    let Ok(cix) = std::fs::read_to_string(dir.join("_manifest_.cix.xml")) else {
        println!("(no container index in {})", dir.display());
        return;
    };
    let files = cix_files(&cix);
    // Stored (RAW) files can be the basis of a delta.
    let mut built: HashMap<String, Vec<u8>> = files
        .iter()
        .filter(|f| f.1 == "RAW")
        .filter_map(|(i, _, n, _)| Some((i.clone(), std::fs::read(dir.join(n)).ok()?)))
        .collect();
    let by_id: HashMap<&str, (&str, Option<&str>)> = files
        .iter()
        .filter(|f| f.1 == "PA30")
        .map(|(i, _, n, b)| (i.as_str(), (n.as_str(), b.as_deref())))
        .collect();
    // Rebuild every reachable delta once (in dependency order) to get sources.
    let mut jobs: Vec<(String, Vec<u8>, Option<Vec<u8>>)> = Vec::new();
    let mut progress = true;
    while progress {
        progress = false;
        for (id, (name, basis)) in &by_id {
            if built.contains_key(*id) {
                continue;
            }
            let source = match basis {
                None => None,
                Some(b) => match built.get(*b) {
                    Some(s) => Some(s.clone()),
                    // A basis that is missing from this folder.
                    None if !by_id.contains_key(b) => None,
                    None => continue,
                },
            };
            if basis.is_some() && source.as_ref().is_none_or(|s| s.is_empty()) {
                built.insert(id.to_string(), Vec::new());
                continue;
            }
            let Ok(delta) = std::fs::read(dir.join(name)) else {
                built.insert(id.to_string(), Vec::new());
                continue;
            };
            progress = true;
            match apply(&delta, source.as_deref(), limits) {
                Ok(out) => {
                    built.insert(id.to_string(), out);
                    jobs.push((name.to_string(), delta, source));
                }
                Err(_) => {
                    built.insert(id.to_string(), Vec::new());
                }
            }
        }
    }
    let total_in: usize = jobs.iter().map(|j| j.1.len()).sum();
    let label = format!("KB4538483: {} blobs ({} B of deltas)", jobs.len(), total_in);
    measure(&label, || {
        jobs.iter()
            .map(|(_, d, s)| apply(d, s.as_deref(), limits).map(|o| o.len()).unwrap_or(0))
            .sum()
    });
    // PE-typed deltas (FileType ≠ 1) alone: T(source), copy rift, decode.
    let pe: Vec<_> = jobs
        .iter()
        .filter(|j| parse_header(&j.1).is_ok_and(|h| h.file_type != 1))
        .collect();
    if !pe.is_empty() {
        let pe_in: usize = pe.iter().map(|j| j.1.len()).sum();
        measure(
            &format!("  PE deltas only: {} blobs ({pe_in} B)", pe.len()),
            || {
                pe.iter()
                    .map(|(_, d, s)| apply(d, s.as_deref(), limits).map(|o| o.len()).unwrap_or(0))
                    .sum()
            },
        );
    }
    if let Some((name, d, s)) = jobs.iter().max_by_key(|j| j.1.len()) {
        measure(&format!("  largest blob {name} ({} B)", d.len()), || {
            apply(d, s.as_deref(), limits).map(|o| o.len()).unwrap_or(0)
        });
    }
}

fn main() {
    let limits = DeltaLimits::default();
    let c = corpus();
    let pkg = std::env::args_os()
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| c.join("kb4538483-esu-msu/extracted/Windows6.1-KB4538483-x86.cab"));
    package(&pkg, &limits);

    let dcm = c.join("msdelta-vectors/dcm");
    if let (Ok(base), Ok(m)) = (
        std::fs::read(dcm.join("base_manifest.bin")),
        std::fs::read(dcm.join(
            "wow64_microsoft-windows-o..euapcommonproxystub_31bf3856ad364e35_10.0.26100.7309_none_38de5e2364a9fd20.manifest",
        )),
    ) {
        measure("DCM wow64 manifest (3.2 MB XML)", || {
            apply(&m, Some(&base), &limits).map(|o| o.len()).unwrap_or(0)
        });
    }
    let v = c.join("msdelta-vectors/deltas");
    if let (Ok(src), Ok(d)) = (
        std::fs::read(v.join("sources/cmd.exe")),
        std::fs::read(v.join("cmd__to__notepad__raw.pa30")),
    ) {
        measure("RAW cmd.exe -> notepad.exe (7 blocks)", || {
            apply(&d, Some(&src), &limits).map(|o| o.len()).unwrap_or(0)
        });
    }

    // Generated: text-like lines mixed with noise, 64 MiB, cached.
    let cache = std::env::temp_dir().join("kbinspect-msdelta-bench-64m.pa30");
    let delta = match std::fs::read(&cache) {
        Ok(d) if parse_header(&d).is_ok() => d,
        _ => {
            let mut t = Vec::with_capacity(64 << 20);
            let mut x = 0x9E37_79B9_7F4A_7C15u64;
            while t.len() < 64 << 20 {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                if x.is_multiple_of(4) {
                    t.extend_from_slice(&x.to_le_bytes());
                } else {
                    let line = format!(
                        "component {} version 10.0.{}.{}\n",
                        x % 500,
                        x % 26100,
                        x % 9
                    );
                    t.extend_from_slice(line.as_bytes());
                }
            }
            t.truncate(64 << 20);
            let t0 = Instant::now();
            let d = encode_sourceless(&t);
            println!(
                "(generated and encoded 64 MiB in {:.1} s, delta {} B)",
                t0.elapsed().as_secs_f64(),
                d.len()
            );
            let _ = std::fs::write(&cache, &d);
            d
        }
    };
    measure("generated 64 MiB (test encoder, default trees)", || {
        apply(&delta, None, &limits).map(|o| o.len()).unwrap_or(0)
    });
}
