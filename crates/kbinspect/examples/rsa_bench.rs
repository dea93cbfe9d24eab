//! Time of one RSA public-key operation (`s^65537 mod n`, what verifying a
//! signature costs), on 2048- and 4096-bit moduli: the operation `verify`
//! runs ~630 times for KB3004394's 317 signatures.
//!
//! ```text
//! cargo run --release -p kbinspect --example rsa_bench -- [--ops N]
//! openssl speed -seconds 3 rsa2048 rsa4096    # the peer, "verify/s"
//! ```
//!
//! The moduli and operands are fixed pseudo-random odd numbers (the
//! arithmetic does not depend on the modulus being a product of primes),
//! so every run times the same work. Prints the median of 7 rounds of N
//! operations each (default 2,000), in microseconds per operation.

use std::time::Instant;

use kbinspect::trust::montgomery::RsaKey;

/// xorshift64*: fixed operands, no dependency.
fn fill(seed: &mut u64, out: &mut [u8]) {
    for b in out.iter_mut() {
        *seed ^= *seed >> 12;
        *seed ^= *seed << 25;
        *seed ^= *seed >> 27;
        *b = (seed.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 56) as u8;
    }
}

fn main() {
    let mut ops = 2000usize;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--ops" => ops = args.next().and_then(|v| v.parse().ok()).unwrap_or(ops),
            _ => {
                eprintln!("usage: rsa_bench [--ops N]");
                std::process::exit(2);
            }
        }
    }
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    for bits in [2048usize, 4096] {
        let k = bits / 8;
        let mut n = vec![0u8; k];
        fill(&mut seed, &mut n);
        n[0] |= 0x80;
        n[k - 1] |= 1;
        let key = RsaKey::new(&n, &[1, 0, 1]).expect("odd modulus of whole bytes");
        let sigs: Vec<Vec<u8>> = (0..16)
            .map(|_| {
                let mut s = vec![0u8; k];
                fill(&mut seed, &mut s);
                s[0] &= 0x7f;
                s
            })
            .collect();
        // Warm-up (and R² mod n, computed on first use).
        let mut sink = 0u8;
        for s in &sigs {
            sink ^= key.public_op(s).expect("below the modulus")[k - 1];
        }
        let mut rounds: Vec<f64> = (0..7)
            .map(|_| {
                let t = Instant::now();
                for i in 0..ops {
                    sink ^= key
                        .public_op(&sigs[i % sigs.len()])
                        .expect("below the modulus")[0];
                }
                t.elapsed().as_secs_f64() * 1e6 / ops as f64
            })
            .collect();
        rounds.sort_by(f64::total_cmp);
        println!(
            "rsa{bits}: {:.2} us per public operation ({:.0} verify/s), median of 7 x {ops} [{sink}]",
            rounds[3],
            1e6 / rounds[3]
        );
    }
}
