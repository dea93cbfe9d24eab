//! After decoding: the x86 E8 call filter and the target hash.

use md5::Md5;
use sha1::Sha1;
use sha2::{Digest, Sha256};

/// Undo the LZX-style E8 (CALL rel32 → absolute) translation over the whole
/// output, with translation size = output length. After an E8 the scan always
/// skips its 4 operand bytes, translated or not (the hash proves this).
pub fn e8_untranslate(out: &mut [u8]) {
    let n = out.len() as i64;
    if n <= 10 {
        return;
    }
    let stop = (n - 10) as usize;
    let mut i = 0usize;
    while i < stop {
        let Some(at) = memchr::memchr(0xE8, &out[i..stop]) else {
            break;
        };
        i += at;
        if let Some(op) = out.get_mut(i + 1..i + 5) {
            let v = i64::from(i32::from_le_bytes([op[0], op[1], op[2], op[3]]));
            let pos = i as i64;
            if v >= -pos && v < n {
                let rel = if v >= 0 { v - pos } else { v + n };
                op.copy_from_slice(&(rel as i32).to_le_bytes());
            }
        }
        i += 5;
    }
}

/// Name of a CryptoAPI ALG_ID used for target hashes.
pub fn hash_name(alg: u32) -> &'static str {
    match alg {
        0 => "none",
        0x8003 => "MD5",
        0x8004 => "SHA-1",
        0x800C => "SHA-256",
        _ => "unknown",
    }
}

/// Hash `bytes` with the header's algorithm; None for an unknown ALG_ID.
pub fn digest(alg: u32, bytes: &[u8]) -> Option<Vec<u8>> {
    Some(match alg {
        0x8003 => Md5::digest(bytes).to_vec(),
        0x8004 => Sha1::digest(bytes).to_vec(),
        0x800C => Sha256::digest(bytes).to_vec(),
        _ => return None,
    })
}

pub fn sha256(bytes: &[u8]) -> [u8; 32] {
    Sha256::digest(bytes).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn e8_round_trip_of_one_call() {
        // A call at 16 to absolute target 30 (stored as 30) → relative 14.
        let mut b = vec![0u8; 40];
        b[16] = 0xE8;
        b[17..21].copy_from_slice(&30i32.to_le_bytes());
        e8_untranslate(&mut b);
        assert_eq!(i32::from_le_bytes(b[17..21].try_into().unwrap()), 14);
        // Out of range (≥ n) stays, and the operand is still skipped.
        let mut b = vec![0u8; 40];
        b[0] = 0xE8;
        b[1..5].copy_from_slice(&1000i32.to_le_bytes());
        b[5] = 0xE8;
        b[6..10].copy_from_slice(&(-3i32).to_le_bytes());
        e8_untranslate(&mut b);
        assert_eq!(i32::from_le_bytes(b[1..5].try_into().unwrap()), 1000);
        // -3 ≥ -5: negative absolute → v + n = 37.
        assert_eq!(i32::from_le_bytes(b[6..10].try_into().unwrap()), 37);
    }

    #[test]
    fn digests() {
        assert_eq!(
            hex::encode(digest(0x8003, b"").unwrap()),
            "d41d8cd98f00b204e9800998ecf8427e"
        );
        assert_eq!(digest(0x8004, b"").unwrap().len(), 20);
        assert_eq!(digest(0x800C, b"").unwrap().len(), 32);
        assert!(digest(0x1234, b"").is_none());
    }
}
