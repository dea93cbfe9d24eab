//! The RSA public-key operation, `s^e mod n`, for verifying signatures.
//!
//! A package of a few hundred catalogs asks for over six hundred RSA
//! verifications under the same handful of keys (each catalog's signer and
//! its timestamp). The `rsa` crate redoes its generic big-number set-up for
//! each; here a key's Montgomery constants (`-n⁻¹ mod 2⁶⁰`, `R² mod n`) are
//! computed once, when the key is first used, and each exponentiation is
//! Montgomery multiplication on limbs of 60 bits, each product added to a
//! 128-bit column (a squaring of its own for the 16 squarings of exponent
//! 65537). Only public values are involved (the key, the signature, the
//! signed hash), so nothing here needs to run in constant time.
//!
//! The PKCS#1 v1.5 check on the result (`00 01 FF… 00 DigestInfo hash`)
//! is in [`super::chain`]; [`super::chain::rsa_verify`] keeps the `rsa`
//! crate's own path for keys this does not take.

use std::sync::{Arc, OnceLock};

/// Bits of a limb. Limbs of 60 bits in 64-bit words leave products of
/// 120 bits, which a 128-bit column adds up 256 times before it could
/// overflow: each product is added to its column with no carry passed from
/// one to the next (a carry chain through every word of a row set the pace
/// with full 64-bit limbs), and carries are settled once a column is
/// complete. A column takes at most 2·limbs products: moduli up to
/// [`MAX_BYTES`].
const LIMB: u32 = 60;
const MASK: u64 = (1 << LIMB) - 1;
/// The largest modulus taken, in bytes (4096 bits: 69 limbs, 138 products
/// a column at most). Larger keys go to the `rsa` crate.
const MAX_BYTES: usize = 512;

/// A public key with its Montgomery constants.
#[derive(Debug, Clone)]
pub struct RsaKey {
    /// The modulus in limbs of [`LIMB`] bits, least significant first.
    n: Vec<u64>,
    /// Length of the modulus in bytes (`k` of PKCS#1).
    len: usize,
    e: u64,
    /// `-n⁻¹ mod 2⁶⁰`.
    n0inv: u64,
    /// `R² mod n` (`R = 2^(60·limbs)`), computed on first use (shared by
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
    /// this cannot take it: an even, short (< 512 bits) or long (over
    /// [`MAX_BYTES`]) modulus, an exponent that is even, below 3 or over 64
    /// bits.
    pub fn new(n: &[u8], e: &[u8]) -> Option<RsaKey> {
        let n = strip(n);
        let e = strip(e);
        if n.len() < 64 || n.len() > MAX_BYTES || e.len() > 8 || n.last().is_none_or(|b| b & 1 == 0)
        {
            return None;
        }
        let e = e.iter().fold(0u64, |a, &b| (a << 8) | u64::from(b));
        if e < 3 || e & 1 == 0 {
            return None;
        }
        // Limbs for the modulus's bits (its top limb is not zero).
        let bits = n.len() * 8 - n[0].leading_zeros() as usize;
        let limbs = from_be(n, bits.div_ceil(LIMB as usize));
        // Newton's iteration for n0⁻¹ mod 2⁶⁴ (n0 odd): each step doubles
        // the correct low bits, from 1 (x = 1 is right mod 2). It is the
        // inverse mod 2⁶⁰ too.
        let n0 = limbs[0];
        let mut inv = 1u64;
        for _ in 0..6 {
            inv = inv.wrapping_mul(2u64.wrapping_sub(n0.wrapping_mul(inv)));
        }
        Some(RsaKey {
            n: limbs,
            len: n.len(),
            e,
            n0inv: inv.wrapping_neg() & MASK,
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

    /// `R² mod n`, that is `R·2^b` with `b = 60·limbs` bits: `R·2^a`
    /// (`a` = the top bits of `b`) by doubling from the top bit of `n`,
    /// then for each lower bit of `b` a Montgomery squaring (`R·2^a` to
    /// `R·2^(2a)`) and a doubling when the bit is set. The split costs
    /// the least of doublings (a pass over the limbs each) and squarings
    /// (about `limbs` passes): a 4096-bit key takes 176 doublings and 5
    /// squarings, where doubling to `R·2^1035` then squaring twice took
    /// 1,080 doublings (6 % of a short `verify`'s time).
    fn rr(&self) -> &[u64] {
        self.rr.get_or_init(|| {
            let k = self.n.len();
            let bits = LIMB as usize * k;
            let top = k - 1;
            // Bit length of n: its top limb is not zero (`new`).
            let len = LIMB as usize * top + (64 - self.n[top].leading_zeros() as usize);
            let mut x = vec![0u64; k];
            // 2^(len-1) < n (n is odd and has `len` bits).
            x[(len - 1) / LIMB as usize] = 1 << ((len - 1) % LIMB as usize);
            let low = (0..16).min_by_key(|&s| (bits >> s) + s * k).unwrap_or(0);
            for _ in 0..bits + (bits >> low) - (len - 1) {
                double_mod(&mut x, &self.n);
            }
            let mut t = vec![0u128; 2 * k + 1];
            for b in (0..low).rev() {
                x = self.mont_sqr(&x, &mut t);
                if bits >> b & 1 == 1 {
                    double_mod(&mut x, &self.n);
                }
            }
            x
        })
    }

    /// `a·b·R⁻¹ mod n`, for `a, b < n` (limbs of [`LIMB`] bits): the whole
    /// product into the columns `t` (2·limbs + 1), then the reduction.
    fn mont_mul(&self, a: &[u64], b: &[u64], t: &mut [u128]) -> Vec<u64> {
        let k = self.n.len();
        t.iter_mut().for_each(|x| *x = 0);
        for (i, &bi) in b.iter().enumerate() {
            for (tj, &aj) in t[i..i + k].iter_mut().zip(a) {
                *tj += u128::from(aj) * u128::from(bi);
            }
        }
        self.reduce(t)
    }

    /// `a²·R⁻¹ mod n`: [`mont_mul`](Self::mont_mul) of `a` by itself, with
    /// each cross product `aᵢ·aⱼ` (i < j) computed once and doubled, so the
    /// product takes about half the multiplications (16 of the 17 steps of
    /// an exponent 65537 are squarings).
    fn mont_sqr(&self, a: &[u64], t: &mut [u128]) -> Vec<u64> {
        let k = self.n.len();
        t.iter_mut().for_each(|x| *x = 0);
        // Rows i and i + 1 together (see `reduce`): row i adds 2·aᵢ·aⱼ at
        // i + j for j > i, row i + 1 adds 2·aᵢ₊₁·aⱼ at i + 1 + j for j > i + 1;
        // columns 2i + 3 to i + k - 1 take one of each. 2·aᵢ < 2⁶¹: a
        // doubled product is below 2¹²¹.
        let mut i = 0;
        while i + 2 < k {
            let (x, y) = (u128::from(a[i] << 1), u128::from(a[i + 1] << 1));
            t[2 * i] += u128::from(a[i]) * u128::from(a[i]);
            t[2 * i + 1] += x * u128::from(a[i + 1]);
            t[2 * i + 2] += x * u128::from(a[i + 2]) + u128::from(a[i + 1]) * u128::from(a[i + 1]);
            for (tc, (&u, &v)) in t[2 * i + 3..i + k]
                .iter_mut()
                .zip(a[i + 3..].iter().zip(&a[i + 2..]))
            {
                *tc += x * u128::from(u) + y * u128::from(v);
            }
            t[i + k] += y * u128::from(a[k - 1]);
            i += 2;
        }
        for i in i..k {
            let ai2 = u128::from(a[i] << 1);
            for (tj, &aj) in t[2 * i + 1..i + k].iter_mut().zip(&a[i + 1..]) {
                *tj += ai2 * u128::from(aj);
            }
            t[2 * i] += u128::from(a[i]) * u128::from(a[i]);
        }
        self.reduce(t)
    }

    /// Montgomery reduction of the product in the columns `t`: row by row,
    /// `mᵢ·n` added so that column `i` is a multiple of 2⁶⁰, its excess
    /// carried into column `i + 1`; then `t·R⁻¹` is the upper columns, their
    /// carries settled.
    fn reduce(&self, t: &mut [u128]) -> Vec<u64> {
        let k = self.n.len();
        let n = &self.n[..];
        // Two rows at a time: each column word is read and written once for
        // two products (the memory round trip, not the multiplication, set
        // the pace row by row).
        let mut i = 0;
        while i + 1 < k {
            let m0 = (t[i] as u64).wrapping_mul(self.n0inv) & MASK;
            t[i] += u128::from(m0) * u128::from(n[0]);
            let c = t[i] >> LIMB;
            let v = t[i + 1] + c + u128::from(m0) * u128::from(n[1]);
            let m1 = (v as u64).wrapping_mul(self.n0inv) & MASK;
            let v = v + u128::from(m1) * u128::from(n[0]);
            t[i + 1] = 0;
            t[i + 2] += v >> LIMB;
            let (m0, m1) = (u128::from(m0), u128::from(m1));
            // Columns i + 2 to i + k - 1 (the zip ends with `n[2..]`; the
            // slice's wider end measured 1.2× faster in `rsa_bench`).
            for (tj, (&nj, &nj1)) in t[i + 2..i + k + 1]
                .iter_mut()
                .zip(n[2..].iter().zip(&n[1..]))
            {
                *tj += m0 * u128::from(nj) + m1 * u128::from(nj1);
            }
            t[i + k] += m1 * u128::from(n[k - 1]);
            i += 2;
        }
        if i < k {
            let m = (t[i] as u64).wrapping_mul(self.n0inv) & MASK;
            let m = u128::from(m);
            for (tj, &nj) in t[i..i + k].iter_mut().zip(n) {
                *tj += m * u128::from(nj);
            }
            // Column i is now 0 mod 2⁶⁰.
            let carry = t[i] >> LIMB;
            t[i + 1] += carry;
        }
        let mut r = vec![0u64; k];
        let mut carry = 0u128;
        for (ri, &ti) in r.iter_mut().zip(&t[k..2 * k]) {
            let v = ti + carry;
            *ri = v as u64 & MASK;
            carry = v >> LIMB;
        }
        // The result is below 2n: a carry out of the top limb, or r ≥ n,
        // means one subtraction (which takes the carry with it).
        if carry != 0 || !less(&r, n) {
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
        // A modulus whose top byte has leading zeros can take fewer limbs
        // than its bytes would fill (68 bytes, top byte below 0x10: 540
        // bits in 9 limbs of 60): a signature with bits past them is over
        // `n`, and `from_be` would drop those bits.
        let sig_bits = sig
            .iter()
            .position(|&b| b != 0)
            .map_or(0, |i| 8 * (sig.len() - i) - sig[i].leading_zeros() as usize);
        let s = from_be(sig, k);
        if sig_bits > LIMB as usize * k || !less(&s, &self.n) {
            return None;
        }
        let mut t = vec![0u128; 2 * k + 1];
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
        Some(to_be(&m, self.len))
    }
}

fn strip(b: &[u8]) -> &[u8] {
    let z = b.iter().take_while(|&&x| x == 0).count();
    &b[z..]
}

/// Big-endian bytes (at most `limbs`·60 bits of them) as little-endian
/// limbs of [`LIMB`] bits.
fn from_be(b: &[u8], limbs: usize) -> Vec<u64> {
    let mut out = vec![0u64; limbs];
    let (mut acc, mut have, mut i) = (0u128, 0u32, 0usize);
    for &x in b.iter().rev() {
        acc |= u128::from(x) << have;
        have += 8;
        if have >= LIMB && i < limbs {
            out[i] = acc as u64 & MASK;
            acc >>= LIMB;
            have -= LIMB;
            i += 1;
        }
    }
    if have > 0 && i < limbs {
        out[i] = acc as u64 & MASK;
    }
    out
}

/// Limbs as `len` big-endian bytes (the value fits: it is below `n`).
fn to_be(limbs: &[u64], len: usize) -> Vec<u8> {
    let mut out = vec![0u8; len];
    let (mut acc, mut have) = (0u128, 0u32);
    let mut next = limbs.iter();
    for o in out.iter_mut().rev() {
        if have < 8
            && let Some(&l) = next.next()
        {
            acc |= u128::from(l) << have;
            have += LIMB;
        }
        *o = acc as u8;
        acc >>= 8;
        have = have.saturating_sub(8);
    }
    out
}

/// `x = 2x mod n`, for `x < n`.
fn double_mod(x: &mut [u64], n: &[u64]) {
    let mut carry = 0u64;
    for l in x.iter_mut() {
        let v = (*l << 1) | carry;
        carry = v >> LIMB;
        *l = v & MASK;
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

/// `a -= b` modulo 2^(60·limbs).
fn sub_in_place(a: &mut [u64], b: &[u64]) {
    let mut borrow = 0u64;
    for (x, &y) in a.iter_mut().zip(b) {
        let d = x.wrapping_sub(y).wrapping_sub(borrow);
        borrow = d >> 63;
        *x = d & MASK;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rsa::traits::PublicKeyParts;

    /// `s^e mod n` the slow, obvious way, on big-endian bytes: each step's
    /// product reduced bit by bit (shift in, subtract `n` when over).
    fn modpow_reference(s: &[u8], e: u64, n: &[u8]) -> Vec<u8> {
        fn to_bits(b: &[u8]) -> Vec<bool> {
            b.iter()
                .flat_map(|x| (0..8).rev().map(move |i| x >> i & 1 == 1))
                .collect()
        }
        // Numbers as big-endian bit vectors of a fixed width.
        let w = n.len() * 8;
        let nb = to_bits(n);
        let ge = |a: &[bool], b: &[bool]| {
            a.iter()
                .zip(b)
                .find(|(x, y)| x != y)
                .is_none_or(|(x, _)| *x)
        };
        let sub = |a: &mut [bool], b: &[bool]| {
            let mut borrow = false;
            for (x, &y) in a.iter_mut().zip(b).rev() {
                let d = (*x as i8) - (y as i8) - (borrow as i8);
                *x = d & 1 == 1;
                borrow = d < 0;
            }
        };
        let mulmod = |a: &[bool], b: &[bool]| -> Vec<bool> {
            // r = a·b mod n by double-and-add over b's bits, reducing as it goes
            // (r < n throughout, one extra bit of headroom).
            let mut r = vec![false; w + 1];
            let mut nn = vec![false];
            nn.extend_from_slice(&nb);
            let mut aa = vec![false];
            aa.extend_from_slice(a);
            for &bit in b {
                r.remove(0);
                r.push(false);
                if ge(&r, &nn) {
                    sub(&mut r, &nn);
                }
                if bit {
                    let mut carry = false;
                    for (x, &y) in r.iter_mut().zip(&aa).rev() {
                        let t = *x as u8 + y as u8 + carry as u8;
                        *x = t & 1 == 1;
                        carry = t > 1;
                    }
                    if ge(&r, &nn) {
                        sub(&mut r, &nn);
                    }
                }
            }
            r[1..].to_vec()
        };
        let base = to_bits(s);
        let mut acc = base.clone();
        for i in (0..64 - e.leading_zeros() - 1).rev() {
            acc = mulmod(&acc, &acc);
            if e >> i & 1 == 1 {
                acc = mulmod(&acc, &base);
            }
        }
        acc.chunks(8)
            .map(|c| c.iter().fold(0u8, |a, &b| a << 1 | b as u8))
            .collect()
    }

    /// The public operation agrees with the obvious computation on moduli
    /// of the sizes real keys have (2048, 3072, 4096 bits, whose limb
    /// counts are odd and even), on a modulus of all ones (the largest
    /// columns) and a 1080-bit one, for operands 0, 1, 2, n - 1 and random
    /// ones, with exponents 65537 and 3.
    #[test]
    fn public_op_matches_reference() {
        use rand::{Rng as _, SeedableRng as _};
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        for (bytes, ones) in [
            (256usize, false),
            (384, false),
            (512, false),
            (512, true),
            (135, false),
        ] {
            let mut n = vec![0xffu8; bytes];
            if !ones {
                rng.fill_bytes(&mut n);
                n[0] |= 0x80;
                n[bytes - 1] |= 1;
            }
            let mut ops: Vec<Vec<u8>> =
                vec![vec![0; bytes], vec![0; bytes], vec![0; bytes], n.clone()];
            ops[1][bytes - 1] = 1;
            ops[2][bytes - 1] = 2;
            ops[3][bytes - 1] -= 1;
            for _ in 0..2 {
                let mut a = vec![0u8; bytes];
                rng.fill_bytes(&mut a);
                a[0] &= 0x7f;
                ops.push(a);
            }
            for e in [65537u64, 3] {
                let key = RsaKey::new(&n, &e.to_be_bytes()).expect("key");
                for a in &ops {
                    assert_eq!(
                        key.public_op(a),
                        Some(modpow_reference(a, e, &n)),
                        "{bytes} bytes, all ones {ones}, e = {e}"
                    );
                }
            }
        }
    }

    /// A modulus whose bytes hold more bits than its limbs (68 bytes, top
    /// byte 0x0f: 540 bits, 9 limbs of 60): a signature with a bit past the
    /// limbs is over `n` and refused, not taken for its low bits; one below
    /// `n` still works.
    #[test]
    fn signature_bits_past_the_limbs_are_refused() {
        let mut n = vec![0xa5u8; 68];
        n[0] = 0x0f;
        n[67] |= 1;
        let key = RsaKey::new(&n, &[1, 0, 1]).expect("key");
        assert_eq!(key.n.len(), 9);
        // 2^540 + 1: its low 540 bits are 1, which is below n.
        let mut over = vec![0u8; 68];
        over[0] = 0x10;
        over[67] = 1;
        assert_eq!(key.public_op(&over), None);
        let mut one = vec![0u8; 68];
        one[67] = 1;
        assert_eq!(key.public_op(&one), Some(one.clone()));
        let mut two = vec![0u8; 68];
        two[67] = 2;
        assert_eq!(key.public_op(&two), Some(modpow_reference(&two, 65537, &n)));
    }

    /// `R² mod n` the slow, obvious way: doubling 1, 2·64·limbs times.
    fn rr_by_doubling(n: &[u64]) -> Vec<u64> {
        let mut x = vec![0u64; n.len()];
        x[0] = 1;
        for _ in 0..2 * LIMB as usize * n.len() {
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
        for len in (512usize..=1100)
            .step_by(7)
            .chain([1024, 1536, 2048, 3072, 4096])
        {
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
            let mut t = vec![0u128; 2 * k + 1];
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
        assert!(
            RsaKey::new(&[0xff; 513], &[1, 0, 1]).is_none(),
            "over 4096 bits"
        );
        assert!(RsaKey::new(&[0xff; 512], &[1, 0, 1]).is_some(), "4096 bits");
        assert!(RsaKey::new(&[0xff; 256], &[2]).is_none(), "even e");
        assert!(
            RsaKey::new(&[0xff; 256], &[1; 9]).is_none(),
            "e over 64 bits"
        );
    }
}
