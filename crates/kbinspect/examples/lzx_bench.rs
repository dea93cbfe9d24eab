//! Single-threaded throughput of our LZX decoder, without I/O, threads or
//! hashing: every LZX folder of a cabinet is read into memory as CFDATA
//! frames, then decoded `--repeat` times. For comparing decoder changes
//! (and against `taskset -c 0 7zz t CAB`).
//!
//!     cargo run --release --example lzx_bench -- CAB [--repeat N]

use std::time::Instant;

use kbinspect::container::lzx::LzxDecoder;

fn le16(b: &[u8], at: usize) -> usize {
    usize::from(u16::from_le_bytes([b[at], b[at + 1]]))
}

fn le32(b: &[u8], at: usize) -> usize {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]]) as usize
}

/// (window bits, frames of (compressed bytes, output length)) per LZX folder.
type Folder = (u8, Vec<(Vec<u8>, usize)>);

fn folders(cab: &[u8]) -> Vec<Folder> {
    assert_eq!(&cab[..4], b"MSCF", "not a cabinet");
    let nfolders = le16(cab, 26);
    let flags = le16(cab, 30);
    let (mut at, fres, dres) = if flags & 4 != 0 {
        (
            36 + 4 + le16(cab, 36),
            usize::from(cab[38]),
            usize::from(cab[39]),
        )
    } else {
        (36, 0, 0)
    };
    if flags & 1 != 0 || flags & 2 != 0 {
        panic!("cabinet sets are not supported here");
    }
    let mut out = Vec::new();
    for _ in 0..nfolders {
        let start = le32(cab, at);
        let ndata = le16(cab, at + 4);
        let comp = le16(cab, at + 6);
        at += 8 + fres;
        if comp & 0xF != 3 {
            continue;
        }
        let bits = ((comp >> 8) & 0x1F) as u8;
        let mut pos = start;
        let mut frames = Vec::with_capacity(ndata);
        for _ in 0..ndata {
            let cb = le16(cab, pos + 4);
            let ucb = le16(cab, pos + 6);
            let data = pos + 8 + dres;
            frames.push((cab[data..data + cb].to_vec(), ucb));
            pos = data + cb;
        }
        out.push((bits, frames));
    }
    out
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let path = args.first().expect("usage: lzx_bench CAB [--repeat N]");
    let repeat: usize = args
        .iter()
        .position(|a| a == "--repeat")
        .and_then(|i| args.get(i + 1))
        .map_or(3, |n| n.parse().expect("--repeat N"));
    let cab = std::fs::read(path).expect("read the cabinet");
    let folders = folders(&cab);
    let total: usize = folders
        .iter()
        .flat_map(|(_, f)| f.iter().map(|(_, n)| n))
        .sum();
    let mut out = Vec::with_capacity(32 << 10);
    let mut best = f64::MAX;
    for _ in 0..repeat {
        let t = Instant::now();
        let mut sum = 0u64;
        for (bits, frames) in &folders {
            let mut d = LzxDecoder::new(*bits).expect("window");
            for (data, n) in frames {
                out.clear();
                d.decode_into(data, *n, &mut out).expect("decode");
                sum = sum.wrapping_add(u64::from(out[out.len() / 2]));
            }
        }
        let s = t.elapsed().as_secs_f64();
        best = best.min(s);
        std::hint::black_box(sum);
    }
    println!(
        "{} LZX folders, {:.1} MB out: best of {repeat} {:.3} s = {:.0} MB/s",
        folders.len(),
        total as f64 / 1e6,
        best,
        total as f64 / 1e6 / best
    );
}
