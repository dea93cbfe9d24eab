//! MSDelta (PA30) deltas: header reading and, in time, a pure-Rust decoder.

use serde::Serialize;

/// The header of a PA30 delta, read without decoding the patch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeltaHeader {
    /// The Windows 10 4-byte CRC32 prefix before `PA30`, when present.
    pub crc_prefix: Option<u32>,
    /// `PA30`, `PA31` or `PA19`.
    pub signature: String,
    /// Target FILETIME.
    pub filetime: u64,
    pub file_type_set: u64,
    /// 1 raw, 2 i386 PE, 3 amd64 PE, …
    pub file_type: u64,
    pub flags: u64,
    pub target_size: u64,
    /// ALG_ID of the target hash (0x8003 = MD5, 0x8004 = SHA-1, 0x800C = SHA-256).
    pub hash_alg: u32,
    pub target_hash: Vec<u8>,
}

/// A delta that cannot be read; `offset` is in bytes from the start of the delta.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("delta at offset {offset}: {message}")]
pub struct DeltaError {
    pub offset: u64,
    pub message: String,
}

/// Read the header of a PA30 delta (with or without the CRC32 prefix).
pub fn parse_header(bytes: &[u8]) -> Result<DeltaHeader, DeltaError> {
    let _ = bytes;
    Err(DeltaError {
        offset: 0,
        message: "PA30 header reading is not built yet".into(),
    })
}
