//! The RSA public-key operation, `s^e mod n`, for verifying signatures.
//!
//! A package of a few hundred catalogs asks for over six hundred RSA
//! verifications under the same handful of keys (each catalog's signer and
//! its timestamp). The `rsa` crate redoes its generic big-number set-up for
//! each; here a key's Montgomery constants (`-n⁻¹ mod 2⁶⁴`, `R² mod n`) are
//! computed once, when the key is first used, and each exponentiation is
//! word-by-word Montgomery multiplication on 64-bit limbs (a squaring of
//! its own for the 16 squarings of exponent 65537). Only
//! public values are involved (the key, the signature, the signed hash), so
//! nothing here needs to run in constant time.
//!
//! The PKCS#1 v1.5 check on the result (`00 01 FF… 00 DigestInfo hash`)
//! is in [`super::chain`]; [`super::chain::rsa_verify`] keeps the `rsa`
//! crate's own path for keys this does not take.

use std::sync::{Arc, OnceLock};

/// A public key with its Montgomery constants.
#[derive(Debug, Clone)]
pub struct RsaKey {
    /// The modulus, least significant limb first.
    n: Vec<u64>,
    /// Length of the modulus in bytes (`k` of PKCS#1).
    len: usize,
    e: u64,
    /// `-n⁻¹ mod 2⁶⁴`.
    n0inv: u64,
    /// `R² mod n` (`R = 2^(64·limbs)`), computed on first use (shared by
    /// the clones of a key: certificates are cloned out of a cache).
    rr: Arc<OnceLock<Vec<u64>>>,
}

impl PartialEq for RsaKey {
    fn eq(&self, other: &Self) -> bool {
        self.n == other.n && self.e == other.e
    }
}

impl RsaKey {
    /// The key of modulus `n` (big-endian) and exponent `e`, `None` when
    /// this cannot take it: an even or short (< 512 bits) modulus, an
    /// exponent that is even, below 3 or over 64 bits.
    pub fn new(n: &[u8], e: &[u8]) -> Option<RsaKey> {
        let n = strip(n);
        let e = strip(e);
        if n.len() < 64 || e.len() > 8 || n.last().is_none_or(|b| b & 1 == 0) {
            return None;
        }
        let e = e.iter().fold(0u64, |a, &b| (a << 8) | u64::from(b));
        if e < 3 || e & 1 == 0 {
            return None;
        }
        let limbs = from_be(n, n.len().div_ceil(8));
        // Newton's iteration for n0⁻¹ mod 2⁶⁴ (n0 odd): each step doubles
        // the correct low bits, from 1 (x = 1 is right mod 2).
        let n0 = limbs[0];
        let mut inv = 1u64;
        for _ in 0..6 {
            inv = inv.wrapping_mul(2u64.wrapping_sub(n0.wrapping_mul(inv)));
        }
        Some(RsaKey {
            n: limbs,
            len: n.len(),
            e,
            n0inv: inv.wrapping_neg(),
            rr: Arc::new(OnceLock::new()),
        })
    }

    /// Bytes of the modulus.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Never: a key has a modulus.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// `R² mod n`: `R·2^m mod n` by doubling from the top bit of `n`
    /// (`64·limbs = m·2^j`, `m` odd), then `j` Montgomery squarings, each
    /// taking `R·2^a` to `R·2^(2a)`. A 2048-bit key takes 1 doubling and 11
    /// squarings, where doubling all the way from 1 took 4,096 steps.
    fn rr(&self) -> &[u64] {
        self.rr.get_or_init(|| {
            let k = self.n.len();
            let bits = 64 * k;
            let top = k - 1;
            // Bit length of n: its top limb is not zero (`strip`).
            let len = 64 * top + (64 - self.n[top].leading_zeros() as usize);
            let mut x = vec![0u64; k];
            // 2^(len-1) < n (n is odd and has `len` bits).
            x[(len - 1) / 64] = 1 << ((len - 1) % 64);
            let j = bits.trailing_zeros() as usize;
            let m = bits >> j;
            for _ in 0..(bits - (len - 1)) + m {
                double_mod(&mut x, &self.n);
            }
            let mut t = vec![0u64; 2 * k + 1];
            for _ in 0..j {
                x = self.mont_sqr(&x, &mut t);
            }
            x
        })
    }

    /// `a·b·R⁻¹ mod n`, for `a, b < n`: the whole product into `t`
    /// (2·limbs + 1 words), then Montgomery reduction word by word
    /// (separated operand scanning; slices zipped, no index checks).
    fn mont_mul(&self, a: &[u64], b: &[u64], t: &mut [u64]) -> Vec<u64> {
        let k = self.n.len();
        t.iter_mut().for_each(|x| *x = 0);
        for (i, &bi) in b.iter().enumerate() {
            let mut carry = 0u64;
            for (tj, &aj) in t[i..i + k].iter_mut().zip(a) {
                let v = u128::from(*tj) + u128::from(aj) * u128::from(bi) + u128::from(carry);
                *tj = v as u64;
                carry = (v >> 64) as u64;
            }
            t[i + k] = carry;
        }
        self.reduce(t)
    }

    /// `a²·R⁻¹ mod n`: [`mont_mul`](Self::mont_mul) of `a` by itself, with
    /// each cross product `aᵢ·aⱼ` (i < j) computed once and doubled, so the
    /// product takes about half the multiplications (16 of the 17 steps of
    /// an exponent 65537 are squarings).
    fn mont_sqr(&self, a: &[u64], t: &mut [u64]) -> Vec<u64> {
        let k = self.n.len();
        t.iter_mut().for_each(|x| *x = 0);
        for i in 0..k {
            let ai = a[i];
            let mut carry = 0u64;
            for (tj, &aj) in t[2 * i + 1..i + k].iter_mut().zip(&a[i + 1..]) {
                let v = u128::from(*tj) + u128::from(ai) * u128::from(aj) + u128::from(carry);
                *tj = v as u64;
                carry = (v >> 64) as u64;
            }
            t[i + k] = carry;
        }
        // Twice the cross products (below 2^(128k - 1): no bit is lost)...
        let mut top = 0u64;
        for x in t[..2 * k].iter_mut() {
            let next = *x >> 63;
            *x = (*x << 1) | top;
            top = next;
        }
        // ...plus the squares aᵢ² at 2i.
        let mut carry = 0u64;
        for i in 0..k {
            let sq = u128::from(a[i]) * u128::from(a[i]);
            let lo = u128::from(t[2 * i]) + (sq & u128::from(u64::MAX)) + u128::from(carry);
            t[2 * i] = lo as u64;
            let hi = u128::from(t[2 * i + 1]) + (sq >> 64) + (lo >> 64);
            t[2 * i + 1] = hi as u64;
            carry = (hi >> 64) as u64;
        }
        t[2 * k] = carry;
        self.reduce(t)
    }

    /// Montgomery reduction of the product in `t` (2·limbs + 1 words),
    /// word by word: `t·R⁻¹ mod n`.
    fn reduce(&self, t: &mut [u64]) -> Vec<u64> {
        let k = self.n.len();
        let n = &self.n[..];
        for i in 0..k {
            let m = t[i].wrapping_mul(self.n0inv);
            let mut carry = 0u64;
            for (tj, &nj) in t[i..i + k].iter_mut().zip(n) {
                let v = u128::from(*tj) + u128::from(m) * u128::from(nj) + u128::from(carry);
                *tj = v as u64;
                carry = (v >> 64) as u64;
            }
            for tj in t[i + k..].iter_mut() {
                let (v, c) = tj.overflowing_add(carry);
                *tj = v;
                carry = u64::from(c);
                if carry == 0 {
                    break;
                }
            }
        }
        let mut r = t[k..2 * k].to_vec();
        if t[2 * k] != 0 || !less(&r, n) {
            sub_in_place(&mut r, n);
        }
        r
    }

    /// `sig^e mod n` as `len` big-endian bytes; `None` when the signature
    /// is not `len` bytes or not below the modulus (RFC 8017 §8.2.2).
    pub fn public_op(&self, sig: &[u8]) -> Option<Vec<u8>> {
        if sig.len() != self.len {
            return None;
        }
        let k = self.n.len();
        let s = from_be(sig, k);
        if !less(&s, &self.n) {
            return None;
        }
        let mut t = vec![0u64; 2 * k + 1];
        let base = self.mont_mul(&s, self.rr(), &mut t);
        let mut acc = base.clone();
        let bits = 64 - self.e.leading_zeros();
        for i in (0..bits - 1).rev() {
            acc = self.mont_sqr(&acc, &mut t);
            if (self.e >> i) & 1 == 1 {
                acc = self.mont_mul(&acc, &base, &mut t);
            }
        }
        let mut one = vec![0u64; k];
        one[0] = 1;
        let m = self.mont_mul(&acc, &one, &mut t);
        let mut out = vec![0u8; k * 8];
        for (i, l) in m.iter().enumerate() {
            out[(k - 1 - i) * 8..(k - i) * 8].copy_from_slice(&l.to_be_bytes());
        }
        Some(out[k * 8 - self.len..].to_vec())
    }
}

fn strip(b: &[u8]) -> &[u8] {
    let z = b.iter().take_while(|&&x| x == 0).count();
    &b[z..]
}

/// Big-endian bytes (at most `limbs`·8 of them) as little-endian limbs.
fn from_be(b: &[u8], limbs: usize) -> Vec<u64> {
    let mut out = vec![0u64; limbs];
    for (i, chunk) in b.rchunks(8).enumerate().take(limbs) {
        out[i] = chunk.iter().fold(0u64, |a, &x| (a << 8) | u64::from(x));
    }
    out
}

/// `x = 2x mod n`, for `x < n`.
fn double_mod(x: &mut [u64], n: &[u64]) {
    let mut carry = 0u64;
    for l in x.iter_mut() {
        let top = *l >> 63;
        *l = (*l << 1) | carry;
        carry = top;
    }
    if carry == 1 || !less(x, n) {
        sub_in_place(x, n);
    }
}

/// `a < b` (same number of limbs).
fn less(a: &[u64], b: &[u64]) -> bool {
    for (x, y) in a.iter().rev().zip(b.iter().rev()) {
        if x != y {
            return x < y;
        }
    }
    false
}

/// `a -= b` modulo 2^(64·limbs).
fn sub_in_place(a: &mut [u64], b: &[u64]) {
    let mut borrow = false;
    for (x, &y) in a.iter_mut().zip(b) {
        let (d, b1) = x.overflowing_sub(y);
        let (d, b2) = d.overflowing_sub(u64::from(borrow));
        *x = d;
        borrow = b1 || b2;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rsa::traits::PublicKeyParts;

    /// `R² mod n` the slow, obvious way: doubling 1, 2·64·limbs times.
    fn rr_by_doubling(n: &[u64]) -> Vec<u64> {
        let mut x = vec![0u64; n.len()];
        x[0] = 1;
        for _ in 0..2 * 64 * n.len() {
            double_mod(&mut x, n);
        }
        x
    }

    /// The shortcut gives the same constant on odd moduli of every bit
    /// length from 512 to 1,100 bits (whole limbs, and top limbs with any
    /// number of leading zero bits) and limb counts with odd factors.
    #[test]
    fn rr_matches_doubling() {
        use rand::{Rng as _, SeedableRng as _};
        let mut rng = rand::rngs::StdRng::seed_from_u64(2);
        for len in (512usize..=1100).step_by(7).chain([1024, 1536, 2048, 3072]) {
            let mut n = vec![0u8; len.div_ceil(8)];
            rng.fill_bytes(&mut n);
            let spare = n.len() * 8 - len;
            n[0] = (n[0] | 0x80) >> spare;
            *n.last_mut().unwrap() |= 1;
            let key = RsaKey::new(&n, &[1, 0, 1]).expect("key");
            assert_eq!(key.rr(), rr_by_doubling(&key.n).as_slice(), "{len} bits");
        }
    }

    /// Squaring gives what multiplying by itself gives, on random operands
    /// below random moduli and on the largest one (`n - 1`).
    #[test]
    fn squaring_matches_multiplying() {
        use rand::{Rng as _, SeedableRng as _};
        let mut rng = rand::rngs::StdRng::seed_from_u64(3);
        for bytes in [64usize, 65, 128, 200, 256, 384, 512] {
            let mut n = vec![0u8; bytes];
            rng.fill_bytes(&mut n);
            n[0] |= 0x80;
            *n.last_mut().unwrap() |= 1;
            let key = RsaKey::new(&n, &[1, 0, 1]).expect("key");
            let k = key.n.len();
            let mut t = vec![0u64; 2 * k + 1];
            let mut top = key.n.clone();
            top[0] -= 1;
            for i in 0..20 {
                let a = if i == 0 {
                    top.clone()
                } else {
                    let mut a = vec![0u8; bytes];
                    rng.fill_bytes(&mut a);
                    a[0] &= 0x7f;
                    from_be(&a, k)
                };
                let want = key.mont_mul(&a, &a, &mut t);
                assert_eq!(key.mont_sqr(&a, &mut t), want, "{bytes} bytes, #{i}");
            }
        }
    }

    /// Signatures made by the `rsa` crate, on keys of several sizes and
    /// exponents: the public operation gives back exactly the PKCS#1 v1.5
    /// encoding signed (signature values are spread over `[0, n)`, so this
    /// exercises the arithmetic on arbitrary operands), and the
    /// rejections of RFC 8017 §8.2.2.
    #[test]
    fn recovers_what_the_rsa_crate_signed() {
        use rand::SeedableRng as _;
        let mut rng = rand::rngs::StdRng::seed_from_u64(19);
        let prefix = crate::digest::Alg::Sha256.pkcs1_prefix();
        for (bits, e) in [(1024usize, 65537u64), (1536, 3), (1032, 17), (1096, 65537)] {
            let sk = rsa::PrivateKey::new_with_exp(&mut rng, bits, rsa::BoxedUint::from(e))
                .expect("key");
            let pk = sk.to_public_key();
            let n = pk.n().to_be_bytes();
            let key = RsaKey::new(&n, &pk.e().to_be_bytes()).expect("key taken");
            let k = pk.size();
            assert_eq!(key.len(), k);
            for i in 0..12u8 {
                let hashed = crate::digest::Alg::Sha256.hash(&[i, bits as u8]);
                let sig = sk
                    .sign(
                        rsa::Pkcs1v15Sign {
                            hash_len: Some(32),
                            prefix: prefix.to_vec().into_boxed_slice(),
                        },
                        &hashed,
                    )
                    .expect("sign");
                let mut em = vec![0u8, 1];
                em.resize(k - prefix.len() - 33, 0xff);
                em.push(0);
                em.extend_from_slice(prefix);
                em.extend_from_slice(&hashed);
                assert_eq!(key.public_op(&sig), Some(em), "{bits} bits, e={e}, #{i}");
            }
            // s = n, s > n and a wrong length are refused.
            let n_trim = strip(&n).to_vec();
            assert_eq!(key.public_op(&n_trim), None);
            assert_eq!(key.public_op(&vec![0xff; k]), None);
            assert_eq!(key.public_op(&vec![1u8; k - 1]), None);
            // 0 and 1 are their own powers.
            let mut one = vec![0u8; k];
            assert_eq!(key.public_op(&one), Some(one.clone()));
            one[k - 1] = 1;
            assert_eq!(key.public_op(&one), Some(one.clone()));
        }
        // Keys this does not take.
        assert!(RsaKey::new(&[0xff; 32], &[1, 0, 1]).is_none(), "short");
        assert!(RsaKey::new(&[0xfe; 256], &[1, 0, 1]).is_none(), "even");
        assert!(RsaKey::new(&[0xff; 256], &[2]).is_none(), "even e");
        assert!(
            RsaKey::new(&[0xff; 256], &[1; 9]).is_none(),
            "e over 64 bits"
        );
    }
}
