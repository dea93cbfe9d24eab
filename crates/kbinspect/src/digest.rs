//! Digest algorithms met in Authenticode since 2009, the CAB Authenticode
//! byte ranges and the PE Authenticode hash.

use serde::Serialize;
use sha1::Digest as _;

/// A hash algorithm by its OID.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Alg {
    Md5,
    Sha1,
    Sha256,
    Sha384,
    Sha512,
}

impl Alg {
    /// From a digest OID or an RSA-with-digest signature OID.
    pub fn from_oid(oid: &str) -> Option<Alg> {
        Some(match oid {
            "1.2.840.113549.2.5" | "1.2.840.113549.1.1.4" => Alg::Md5,
            "1.3.14.3.2.26" | "1.2.840.113549.1.1.5" | "1.3.14.3.2.29" => Alg::Sha1,
            "2.16.840.1.101.3.4.2.1" | "1.2.840.113549.1.1.11" => Alg::Sha256,
            "2.16.840.1.101.3.4.2.2" | "1.2.840.113549.1.1.12" => Alg::Sha384,
            "2.16.840.1.101.3.4.2.3" | "1.2.840.113549.1.1.13" => Alg::Sha512,
            _ => return None,
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            Alg::Md5 => "md5",
            Alg::Sha1 => "sha1",
            Alg::Sha256 => "sha256",
            Alg::Sha384 => "sha384",
            Alg::Sha512 => "sha512",
        }
    }

    /// MD5 and SHA-1 are broken for collisions: named in the report.
    pub fn weak(self) -> bool {
        matches!(self, Alg::Md5 | Alg::Sha1)
    }

    /// Bytes of a digest.
    pub fn output_len(self) -> usize {
        match self {
            Alg::Md5 => 16,
            Alg::Sha1 => 20,
            Alg::Sha256 => 32,
            Alg::Sha384 => 48,
            Alg::Sha512 => 64,
        }
    }

    pub fn hash(self, data: &[u8]) -> Vec<u8> {
        let mut h = Hasher::new(self);
        h.update(data);
        h.finish()
    }

    /// The DER DigestInfo prefix PKCS#1 v1.5 signatures carry.
    pub fn pkcs1_prefix(self) -> &'static [u8] {
        match self {
            Alg::Md5 => &[
                0x30, 0x20, 0x30, 0x0c, 0x06, 0x08, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x02, 0x05,
                0x05, 0x00, 0x04, 0x10,
            ],
            Alg::Sha1 => &[
                0x30, 0x21, 0x30, 0x09, 0x06, 0x05, 0x2b, 0x0e, 0x03, 0x02, 0x1a, 0x05, 0x00, 0x04,
                0x14,
            ],
            Alg::Sha256 => &[
                0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02,
                0x01, 0x05, 0x00, 0x04, 0x20,
            ],
            Alg::Sha384 => &[
                0x30, 0x41, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02,
                0x02, 0x05, 0x00, 0x04, 0x30,
            ],
            Alg::Sha512 => &[
                0x30, 0x51, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02,
                0x03, 0x05, 0x00, 0x04, 0x40,
            ],
        }
    }
}

/// A running hash of one [`Alg`].
#[derive(Clone)]
pub enum Hasher {
    Md5(md5::Md5),
    Sha1(sha1::Sha1),
    Sha256(sha2::Sha256),
    Sha384(sha2::Sha384),
    Sha512(sha2::Sha512),
}

impl Hasher {
    pub fn new(alg: Alg) -> Hasher {
        match alg {
            Alg::Md5 => Hasher::Md5(md5::Md5::new()),
            Alg::Sha1 => Hasher::Sha1(sha1::Sha1::new()),
            Alg::Sha256 => Hasher::Sha256(sha2::Sha256::new()),
            Alg::Sha384 => Hasher::Sha384(sha2::Sha384::new()),
            Alg::Sha512 => Hasher::Sha512(sha2::Sha512::new()),
        }
    }
    pub fn update(&mut self, d: &[u8]) {
        match self {
            Hasher::Md5(h) => h.update(d),
            Hasher::Sha1(h) => h.update(d),
            Hasher::Sha256(h) => h.update(d),
            Hasher::Sha384(h) => h.update(d),
            Hasher::Sha512(h) => h.update(d),
        }
    }
    pub fn finish(self) -> Vec<u8> {
        match self {
            Hasher::Md5(h) => h.finalize().to_vec(),
            Hasher::Sha1(h) => h.finalize().to_vec(),
            Hasher::Sha256(h) => h.finalize().to_vec(),
            Hasher::Sha384(h) => h.finalize().to_vec(),
            Hasher::Sha512(h) => h.finalize().to_vec(),
        }
    }
}

/// Where a cabinet's signature is, from its header (`None`: no signature
/// reserve).
pub fn cab_signature_range(head: &[u8]) -> Option<(u64, u64)> {
    if head.get(0..4)? != b"MSCF" {
        return None;
    }
    let flags = u16::from_le_bytes([*head.get(30)?, *head.get(31)?]);
    if flags & 0x0004 == 0 {
        return None;
    }
    let cb_header = u16::from_le_bytes([*head.get(36)?, *head.get(37)?]);
    if cb_header != 20 {
        return None;
    }
    let r = head.get(40..60)?;
    if r[0..4] != [0, 0, 0x10, 0] {
        return None;
    }
    let pos = u32::from_le_bytes([r[4], r[5], r[6], r[7]]) as u64;
    let len = u32::from_le_bytes([r[8], r[9], r[10], r[11]]) as u64;
    Some((pos, len))
}

/// The CAB Authenticode digests, computed while a cabinet streams past:
/// `[0,4) + [8,34) + [56, sigpos)` of a signed cabinet (`[0,4) + [8,end)`
/// without a signature reserve), in SHA-1 and SHA-256 at once (which one a
/// signature uses is known only at its end) or in the ones a caller knows
/// it needs ([`CabDigester::with_algs`]), and the signature blob.
#[derive(Clone)]
pub struct CabDigester {
    pos: u64,
    /// Bytes fed to the hashers (the signed ranges seen so far).
    hashed: u64,
    sig: Option<(u64, u64)>,
    sha1: Option<sha1::Sha1>,
    sha256: Option<sha2::Sha256>,
    blob: Vec<u8>,
}

/// Largest Authenticode blob kept (real ones are 8–30 KB).
pub const MAX_SIGNATURE: u64 = 4 << 20;

/// What [`CabDigester`] gives at the end of a cabinet.
#[derive(Debug, Clone)]
pub struct CabDigests {
    /// `None` when not computed (see [`CabDigester::with_algs`]).
    pub sha1: Option<[u8; 20]>,
    pub sha256: Option<[u8; 32]>,
    /// The PKCS#7 blob (with its padding), when the header points at one
    /// inside the bytes seen.
    pub signature: Option<Vec<u8>>,
    /// The header's signature offset and length.
    pub range: Option<(u64, u64)>,
    pub size: u64,
}

impl CabDigests {
    /// The digest in `alg`, when it was computed.
    pub fn digest(&self, alg: Alg) -> Option<Vec<u8>> {
        match alg {
            Alg::Sha1 => self.sha1.map(|d| d.to_vec()),
            Alg::Sha256 => self.sha256.map(|d| d.to_vec()),
            _ => None,
        }
    }
}

/// Which Authenticode digests of a cabinet to compute.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CabAlgs {
    pub sha1: bool,
    pub sha256: bool,
}

impl CabAlgs {
    /// Both algorithms cabinets are signed with.
    pub const ALL: CabAlgs = CabAlgs {
        sha1: true,
        sha256: true,
    };

    /// The algorithms in `algs` that a cabinet digest can be computed in
    /// (SHA-1 and SHA-256); both when `algs` names neither.
    pub fn of(algs: &[Alg]) -> CabAlgs {
        let a = CabAlgs {
            sha1: algs.contains(&Alg::Sha1),
            sha256: algs.contains(&Alg::Sha256),
        };
        if a.sha1 || a.sha256 { a } else { CabAlgs::ALL }
    }
}

impl CabDigester {
    /// From the cabinet's first bytes (at least 60, or the whole cabinet).
    pub fn new(head: &[u8]) -> CabDigester {
        CabDigester::with_algs(head, CabAlgs::ALL)
    }

    /// Only the digests in `algs`: a caller that knows the signature's
    /// algorithms (read ahead from a file) saves hashing the cabinet twice.
    pub fn with_algs(head: &[u8], algs: CabAlgs) -> CabDigester {
        CabDigester {
            pos: 0,
            hashed: 0,
            sig: cab_signature_range(head),
            sha1: algs.sha1.then(sha1::Sha1::new),
            sha256: algs.sha256.then(sha2::Sha256::new),
            blob: Vec::new(),
        }
    }

    /// Feed the next bytes of the cabinet.
    pub fn update(&mut self, data: &[u8]) {
        let start = self.pos;
        let end = start + data.len() as u64;
        self.pos = end;
        let mut hash = |a: u64, b: u64| {
            let (a, b) = (a.max(start), b.min(end));
            if a < b {
                let s = &data[(a - start) as usize..(b - start) as usize];
                self.hashed += s.len() as u64;
                if let Some(h) = self.sha1.as_mut() {
                    h.update(s);
                }
                if let Some(h) = self.sha256.as_mut() {
                    h.update(s);
                }
            }
        };
        hash(0, 4);
        match self.sig {
            Some((sigpos, siglen)) => {
                hash(8, 34);
                hash(56, sigpos);
                if siglen <= MAX_SIGNATURE {
                    let (a, b) = (sigpos.max(start), (sigpos + siglen).min(end));
                    if a < b {
                        self.blob
                            .extend_from_slice(&data[(a - start) as usize..(b - start) as usize]);
                    }
                }
            }
            None => hash(8, u64::MAX),
        }
    }

    /// How many bytes the hashers have taken (for [`interleave`]).
    pub fn hashed(&self) -> u64 {
        self.hashed
    }

    pub fn finish(self) -> CabDigests {
        let signature = match self.sig {
            Some((_, len)) if self.blob.len() as u64 == len && len > 0 => Some(self.blob),
            _ => None,
        };
        CabDigests {
            sha1: self.sha1.map(|h| h.finalize().into()),
            sha256: self.sha256.map(|h| h.finalize().into()),
            signature,
            range: self.sig,
            size: self.pos,
        }
    }
}

/// A cabinet or MSU input's own digests, computed while the walk read it
/// ([`crate::container::walk_tapped`]): the Authenticode digests in the
/// algorithms its signature uses, and the SHA-1 of the whole file when its
/// name carries one (`name_<sha1>.msu`).
#[derive(Debug, Clone)]
pub struct InputDigests {
    pub cab: CabDigests,
    pub sha1: Option<[u8; 20]>,
}

/// Collects [`InputDigests`] from the bytes a walk hands over.
#[derive(Clone)]
pub struct InputDigester {
    cab: CabDigester,
    sha1: Option<sha1::Sha1>,
}

impl InputDigester {
    pub fn new(head: &[u8], algs: CabAlgs, whole_sha1: bool) -> InputDigester {
        InputDigester {
            cab: CabDigester::with_algs(head, algs),
            sha1: whole_sha1.then(sha1::Sha1::new),
        }
    }

    pub fn update(&mut self, data: &[u8]) {
        match self.sha1.as_mut() {
            // Two hashes of the same bytes: interleaved (see [`interleave`]).
            Some(h) => {
                let (hashed, pos) = (self.cab.hashed, self.cab.pos);
                interleave(
                    (&[data], hashed),
                    |s| self.cab.update(s),
                    (&[data], pos),
                    |s| h.update(s),
                )
            }
            None => self.cab.update(data),
        }
    }

    pub fn finish(self) -> InputDigests {
        InputDigests {
            cab: self.cab.finish(),
            sha1: self.sha1.map(|h| h.finalize().into()),
        }
    }
}

/// The Authenticode digest of a whole cabinet in memory, in one algorithm
/// (ranges as [`CabDigester`]).
pub fn cab_digest(bytes: &[u8], alg: Alg) -> Vec<u8> {
    let mut h = Hasher::new(alg);
    let end = bytes.len();
    let part = |a: usize, b: usize| &bytes[a.min(end)..b.min(end).max(a.min(end))];
    h.update(part(0, 4));
    match cab_signature_range(bytes) {
        Some((sigpos, _)) => {
            h.update(part(8, 34));
            h.update(part(56, usize::try_from(sigpos).unwrap_or(usize::MAX)));
        }
        None => h.update(part(8, end)),
    }
    h.finish()
}

/// Digests of a whole cabinet in memory.
pub fn cab_digests(bytes: &[u8]) -> CabDigests {
    let mut d = CabDigester::new(bytes);
    for chunk in bytes.chunks(1 << 20) {
        d.update(chunk);
    }
    d.finish()
}

/// How many bytes each of two interleaved hashes takes in turn.
const INTERLEAVE_STEP: usize = 128;

/// Feed two byte sequences (each a list of slices, hashed in order) to two
/// hashers in turns of 128 bytes. With the CPU's SHA instructions the
/// rounds of one block are a chain of dependent instructions; two
/// independent chains side by side overlap in the CPU, so two hashes taken
/// this way cost about a third less CPU time than one after the other
/// (measured here: SHA-256 + SHA-256 2.8 GB/s against 2.06, SHA-256 + SHA-1
/// 3.2 against 2.1). The digests are those of hashing each sequence alone.
///
/// `a_at`, `b_at`: how many bytes each hasher has already taken (the
/// slices are cut where each hash stream reaches a whole block).
pub fn interleave<'a>(
    (a, a_at): (&[&'a [u8]], u64),
    mut fa: impl FnMut(&'a [u8]),
    (b, b_at): (&[&'a [u8]], u64),
    mut fb: impl FnMut(&'a [u8]),
) {
    let mut ia = Steps::new(a, a_at);
    let mut ib = Steps::new(b, b_at);
    loop {
        match (ia.next(), ib.next()) {
            (None, None) => break,
            (x, y) => {
                if let Some(x) = x {
                    fa(x);
                }
                if let Some(y) = y {
                    fb(y);
                }
            }
        }
    }
}

/// The slices [`interleave`] hands one hasher: each ends where the hash
/// stream reaches a multiple of 64 bytes (a block) when its part allows, so
/// that the hasher compresses straight from the input and buffers nothing.
struct Steps<'p, 'a> {
    parts: &'p [&'a [u8]],
    /// Bytes of `parts[0]` already handed out.
    off: usize,
    /// Where the hash stream is, modulo 64.
    pos: usize,
}

impl<'p, 'a> Steps<'p, 'a> {
    fn new(parts: &'p [&'a [u8]], at: u64) -> Self {
        Steps {
            parts,
            off: 0,
            pos: (at % 64) as usize,
        }
    }
}

impl<'a> Iterator for Steps<'_, 'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        loop {
            let (&part, rest) = self.parts.split_first()?;
            let left = &part[self.off.min(part.len())..];
            if left.is_empty() {
                self.parts = rest;
                self.off = 0;
                continue;
            }
            let n = left.len().min(INTERLEAVE_STEP - self.pos);
            self.off += n;
            self.pos = (self.pos + n) % 64;
            return Some(&left[..n]);
        }
    }
}

/// The PE Authenticode hash: the image without the checksum field, the
/// certificate-table directory entry and the certificate table itself.
/// `None` when the bytes are not a PE image this can read.
pub fn pe_authenticode(bytes: &[u8], alg: Alg) -> Option<Vec<u8>> {
    let mut h = Hasher::new(alg);
    for part in pe_authenticode_parts(bytes)? {
        h.update(part);
    }
    Some(h.finish())
}

/// The SHA-1 of the whole of `bytes` and their PE Authenticode hash in
/// `alg` ([`pe_authenticode`]), computed together ([`interleave`]).
/// A large file's two hashes run as two tasks on a pool of several
/// threads instead: the rebuilds of a package end on their largest file,
/// and another core is then free.
pub fn sha1_and_pe(bytes: &[u8], alg: Alg) -> ([u8; 20], Option<Vec<u8>>) {
    let mut flat = sha1::Sha1::new();
    let Some(parts) = pe_authenticode_parts(bytes) else {
        flat.update(bytes);
        return (flat.finalize().into(), None);
    };
    let mut h = Hasher::new(alg);
    // Only on a pool's worker (outside one, asking rayon would start its
    // global pool: `--threads 1` starts no thread).
    let on_pool = rayon::current_thread_index().is_some() && rayon::current_num_threads() > 1;
    if bytes.len() >= SPLIT_HASHES && on_pool {
        let (flat, auth) = rayon::join(
            || sha1::Sha1::digest(bytes).into(),
            || {
                for p in &parts {
                    h.update(p);
                }
                h.finish()
            },
        );
        return (flat, Some(auth));
    }
    interleave(
        (&[bytes], 0),
        |s| flat.update(s),
        (&parts, 0),
        |s| h.update(s),
    );
    (flat.finalize().into(), Some(h.finish()))
}

/// From this size [`sha1_and_pe`] may hash on two threads.
const SPLIT_HASHES: usize = 1 << 20;

/// The slices of `bytes` the PE Authenticode hash covers, in order.
fn pe_authenticode_parts(bytes: &[u8]) -> Option<Vec<&[u8]>> {
    let u16_at = |o: usize| -> Option<u16> {
        Some(u16::from_le_bytes(bytes.get(o..o + 2)?.try_into().ok()?))
    };
    let u32_at = |o: usize| -> Option<u32> {
        Some(u32::from_le_bytes(bytes.get(o..o + 4)?.try_into().ok()?))
    };
    if bytes.get(0..2)? != b"MZ" {
        return None;
    }
    let pe = u32_at(0x3c)? as usize;
    if bytes.get(pe..pe + 4)? != b"PE\0\0" {
        return None;
    }
    let opt = pe + 24;
    let size_opt = u16_at(pe + 20)? as usize;
    let magic = u16_at(opt)?;
    let dd = match magic {
        0x10b => opt + 96,
        0x20b => opt + 112,
        _ => return None,
    };
    let checksum = opt + 64;
    let cert_entry = dd + 4 * 8;
    if cert_entry + 8 > opt + size_opt {
        // No certificate-table entry: everything but the checksum.
        return Some(vec![bytes.get(..checksum)?, bytes.get(checksum + 4..)?]);
    }
    let cert_off = u32_at(cert_entry)? as usize;
    let cert_len = u32_at(cert_entry + 4)? as usize;
    let mut parts = vec![bytes.get(..checksum)?, bytes.get(checksum + 4..cert_entry)?];
    if cert_off != 0 && cert_len != 0 && cert_off >= cert_entry + 8 && cert_off <= bytes.len() {
        parts.push(bytes.get(cert_entry + 8..cert_off)?);
        let after = cert_off.checked_add(cert_len)?;
        if after < bytes.len() {
            parts.push(&bytes[after..]);
        }
    } else {
        parts.push(bytes.get(cert_entry + 8..)?);
    }
    Some(parts)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bytes(n: usize) -> Vec<u8> {
        (0..n).map(|i| (i * 131 % 251) as u8).collect()
    }

    /// Interleaved, each hasher gets exactly its bytes, in order, whatever
    /// the parts and the starting positions.
    #[test]
    fn interleave_hands_each_hasher_its_bytes() {
        let data = bytes(5000);
        for (cuts, a_at, b_at) in [
            (vec![0, 5000], 0, 0),
            (vec![0, 3, 216, 220, 4999, 5000], 26, 7),
            (vec![0, 0, 64, 64, 129, 5000], 63, 1),
        ] {
            let parts: Vec<&[u8]> = cuts.windows(2).map(|w| &data[w[0]..w[1]]).collect();
            let whole = &data[100..];
            let (mut a, mut b) = (Vec::new(), Vec::new());
            let (mut na, mut nb) = (0, 0);
            interleave(
                (&parts, a_at),
                |s| {
                    assert!(s.len() <= INTERLEAVE_STEP);
                    na += 1;
                    a.extend_from_slice(s)
                },
                (&[whole], b_at),
                |s| {
                    nb += 1;
                    b.extend_from_slice(s)
                },
            );
            assert_eq!(a, data);
            assert_eq!(b, whole);
            assert!(na >= 5000 / INTERLEAVE_STEP && nb >= 4900 / INTERLEAVE_STEP);
        }
    }

    /// The interleaved digests equal those computed one after the other.
    #[test]
    fn interleaved_digests_are_the_plain_ones() {
        // A PE32 header with a certificate-table entry pointing at a table.
        let mut pe = bytes(300_000);
        pe[..2].copy_from_slice(b"MZ");
        pe[0x3c..0x40].copy_from_slice(&0x80u32.to_le_bytes());
        pe[0x80..0x84].copy_from_slice(b"PE\0\0");
        pe[0x80 + 20..0x80 + 22].copy_from_slice(&224u16.to_le_bytes());
        pe[0x98..0x9a].copy_from_slice(&0x10bu16.to_le_bytes());
        let cert = 0x98 + 96 + 32;
        pe[cert..cert + 4].copy_from_slice(&290_000u32.to_le_bytes());
        pe[cert + 4..cert + 8].copy_from_slice(&5_000u32.to_le_bytes());
        for alg in [Alg::Sha256, Alg::Sha1] {
            let (sha1, auth) = sha1_and_pe(&pe, alg);
            assert_eq!(sha1.to_vec(), Alg::Sha1.hash(&pe));
            assert_eq!(auth, pe_authenticode(&pe, alg));
            assert!(auth.is_some());
            let (sha1, auth) = sha1_and_pe(&pe[1..], alg);
            assert_eq!((sha1.to_vec(), auth), (Alg::Sha1.hash(&pe[1..]), None));
        }
        // A signed cabinet's Authenticode digests and the whole file's
        // SHA-1, fed in uneven pieces.
        let mut cab = bytes(200_000);
        cab[..4].copy_from_slice(b"MSCF");
        cab[30..32].copy_from_slice(&4u16.to_le_bytes());
        cab[36..38].copy_from_slice(&20u16.to_le_bytes());
        cab[40..44].copy_from_slice(&[0, 0, 0x10, 0]);
        cab[44..48].copy_from_slice(&190_000u32.to_le_bytes());
        cab[48..52].copy_from_slice(&10_000u32.to_le_bytes());
        let mut d = InputDigester::new(&cab, CabAlgs::ALL, true);
        let mut at = 0;
        for n in [1, 60, 7, 70_000, 33, 129_899] {
            d.update(&cab[at..at + n]);
            at += n;
        }
        assert_eq!(at, cab.len());
        let d = d.finish();
        assert_eq!(d.sha1.map(|h| h.to_vec()), Some(Alg::Sha1.hash(&cab)));
        assert_eq!(
            d.cab.sha256.map(|h| h.to_vec()),
            Some(cab_digest(&cab, Alg::Sha256))
        );
        assert_eq!(
            d.cab.sha1.map(|h| h.to_vec()),
            Some(cab_digest(&cab, Alg::Sha1))
        );
        assert_eq!(d.cab.signature.as_deref(), Some(&cab[190_000..]));
    }
}
