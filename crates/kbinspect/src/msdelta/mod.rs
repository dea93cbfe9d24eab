//! MSDelta (PA30) deltas: header reading and a pure-Rust decoder.
//!
//! A delta is, from the outside in: an optional WinSxS wrapper (`DCM\x01`,
//! `DCN\x01`, `DCD\x01`), an optional CRC32 prefix (Windows 10 PSFX), the
//! magic `PA30` + FILETIME, then an LSB-first bitstream with the header
//! fields, a pre-process buffer and a patch buffer.
//!
//! - [`parse_header`] reads the header only.
//! - [`apply`] / [`apply_detailed`] rebuild the target and return it only
//!   when every available hash matches.
//! - [`expand_dcm`] expands a WinSxS compressed manifest.
//! - [`rebuild_chain`] / [`ChainRebuilder`] follow container-index basis chains.
//!
//! ```no_run
//! use kbinspect::msdelta::{apply, DeltaLimits};
//! let delta = std::fs::read("42")?;
//! let target = apply(&delta, None, &DeltaLimits::default())?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Supported scope, limits and evidence: README.md.

mod bits;
mod chain;
mod dcm;
mod decode;
mod huffman;

/// The code lengths of the default tree of `n` symbols (`isDefault` in a
/// PA30 header); an encoder needs them to write default-tree deltas.
pub fn default_code_lengths(n: usize) -> Vec<u8> {
    huffman::Huffman::default_lengths(n)
}
mod pe;
mod pe_transform;
mod post;
mod rift;

use serde::Serialize;

use bits::BitReader;

pub use chain::{ChainError, ChainErrorKind, ChainRebuilder, Rebuilt, Recipe, Step, rebuild_chain};
pub use dcm::{DCM_BASE_SHA256, DcmExpansion, base_from_wcp, expand_dcm};
pub use post::{e8_untranslate, hash_name};

/// Caps checked before allocating or looping on input-derived numbers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeltaLimits {
    /// Largest TargetSize accepted (the whole target is held in memory).
    pub max_target_size: u64,
    /// Largest source + target window.
    pub max_window: u64,
    /// Most Huffman blocks in one patch (real deltas use at most ~50).
    pub max_blocks: u32,
    /// Most entries in one rift table.
    pub max_rift_entries: u64,
    /// Longest basis chain [`rebuild_chain`] follows.
    pub max_chain_depth: usize,
}

impl Default for DeltaLimits {
    fn default() -> Self {
        DeltaLimits {
            max_target_size: 1 << 30,
            max_window: 3 << 30,
            max_blocks: 4096,
            max_rift_entries: 1 << 20,
            max_chain_depth: 64,
        }
    }
}

/// A digest the caller knows the rebuilt bytes must have: a container
/// index lists SHA-256, or SHA-1 on Vista and Windows 7 packages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expected {
    Sha256([u8; 32]),
    Sha1([u8; 20]),
}

impl Expected {
    /// "SHA-256" or "SHA-1", for messages.
    pub fn name(&self) -> &'static str {
        match self {
            Expected::Sha256(_) => "SHA-256",
            Expected::Sha1(_) => "SHA-1",
        }
    }

    pub fn bytes(&self) -> &[u8] {
        match self {
            Expected::Sha256(h) => h,
            Expected::Sha1(h) => h,
        }
    }

    /// The digest of `data` in this one's algorithm.
    pub fn of(&self, data: &[u8]) -> Expected {
        use sha1::Digest as _;
        match self {
            Expected::Sha256(_) => Expected::Sha256(post::sha256(data)),
            Expected::Sha1(_) => Expected::Sha1(sha1::Sha1::digest(data).into()),
        }
    }

    fn verification(&self) -> Verification {
        let hex = hex::encode(self.bytes());
        match self {
            Expected::Sha256(_) => Verification::ExpectedSha256 { hex },
            Expected::Sha1(_) => Verification::ExpectedSha1 { hex },
        }
    }
}

/// How the rebuilt bytes were checked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case", tag = "by")]
pub enum Verification {
    /// The header's MD5/SHA-1/SHA-256 matched.
    HeaderHash { algorithm: String, hex: String },
    /// The caller's SHA-256 matched (the header's hash, if any, was not
    /// computed: see [`apply_expecting`]).
    ExpectedSha256 { hex: String },
    /// The caller's SHA-1 matched (likewise).
    ExpectedSha1 { hex: String },
    /// The delta carries no hash and none was given: only the bitstream's
    /// own consistency (every bit used, every copy in range) was checked.
    Unverified,
}

/// A successfully applied delta.
#[derive(Debug, Clone)]
pub struct Applied {
    pub header: DeltaHeader,
    pub target: Vec<u8>,
    pub verification: Verification,
    /// PE deltas: timestamp sites rewritten by the simple fix-up.
    pub pe_timestamps_fixed: usize,
}

/// Apply a delta to `source` (None for source-less deltas) and return the
/// target, verified against the header hash when the delta has one.
pub fn apply(
    delta: &[u8],
    source: Option<&[u8]>,
    limits: &DeltaLimits,
) -> Result<Vec<u8>, DeltaError> {
    apply_detailed(delta, source, None, limits).map(|a| a.target)
}

/// The header of a PA30 delta, read without decoding the patch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeltaHeader {
    /// The Windows 10 4-byte CRC32 prefix before `PA30`, when present (and
    /// matching: a prefix whose CRC does not match is an error).
    pub crc_prefix: Option<u32>,
    /// WinSxS wrapper magic in front of the delta (`DCM`, `DCN`, `DCD`).
    pub wrapper: Option<String>,
    /// `PA30`, `PA31` or `PA19`.
    pub signature: String,
    /// Target FILETIME.
    pub filetime: u64,
    pub file_type_set: u64,
    /// 1 raw, 2 i386 PE, 4 ia64 PE, 8 amd64 PE, 0x10.. CLI4.
    pub file_type: u64,
    pub flags: u64,
    pub target_size: u64,
    /// ALG_ID of the target hash (0 none, 0x8003 MD5, 0x8004 SHA-1, 0x800C SHA-256).
    pub hash_alg: u32,
    #[serde(serialize_with = "as_hex")]
    pub target_hash: Vec<u8>,
    /// Length of the pre-process buffer (PE facts; empty for RAW deltas).
    pub preprocess_size: u64,
    /// Length of the patch buffer (the compressed instruction stream).
    pub patch_size: u64,
}

fn as_hex<S: serde::Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&hex::encode(bytes))
}

/// What went wrong, so callers can tell "cannot do" from "broken".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ErrorKind {
    /// The bytes are not a valid delta (truncated, out-of-range values…).
    Corrupt,
    /// A valid delta using a feature this decoder does not implement
    /// (PA31, PA19, PE transforms, LZMS…).
    Unsupported,
    /// A size or count above the configured [`DeltaLimits`].
    Limit,
    /// The rebuilt bytes do not match the hash in the header (or the caller's).
    HashMismatch,
    /// A source file is needed (or the given one is the wrong one).
    Source,
    /// The delta rebuilt exactly what its own header hash promises, and
    /// that is not the target the caller expected: the delta is genuine
    /// but for other bytes (a replaced blob), not a decoder limitation.
    WrongTarget,
}

/// A delta that cannot be read or applied; `offset` is in bytes from the
/// start of the delta (0 when the problem is not tied to a position).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("delta at offset {offset}: {message}")]
pub struct DeltaError {
    pub offset: u64,
    pub kind: ErrorKind,
    pub message: String,
}

const MAGIC_PA30: &[u8; 4] = b"PA30";
const MAGIC_PA31: &[u8; 4] = b"PA31";
const MAGIC_PA19: &[u8; 4] = b"PA19";

fn is_magic(b: Option<&[u8]>) -> bool {
    matches!(b, Some(m) if m == MAGIC_PA30 || m == MAGIC_PA31 || m == MAGIC_PA19)
}

/// Where the PA3x body starts after wrappers and prefixes.
struct Framing {
    wrapper: Option<String>,
    crc_prefix: Option<u32>,
    /// Offset of the `PAxx` magic in the input.
    start: usize,
}

fn framing(bytes: &[u8]) -> Result<Framing, DeltaError> {
    let mut wrapper = None;
    let mut start = 0usize;
    match bytes.get(0..4) {
        Some(b"DCM\x01") | Some(b"DCN\x01") => {
            wrapper = Some(String::from_utf8_lossy(&bytes[0..3]).into_owned());
            start = 4;
        }
        // DCD carries the source file version (2 DWORDs) after the magic.
        Some(b"DCD\x01") => {
            wrapper = Some("DCD".into());
            start = 12;
        }
        Some(m @ (b"DCS\x01" | b"DCH\x01" | b"DCX\x01")) => {
            return Err(DeltaError::unsupported(
                0,
                format!(
                    "WinSxS {} container is not supported (only DCM, DCN, DCD)",
                    String::from_utf8_lossy(&m[0..3])
                ),
            ));
        }
        _ => {}
    }
    let body = bytes.get(start..).unwrap_or(&[]);
    let at0 = is_magic(body.get(0..4));
    let at4 = is_magic(body.get(4..8));
    let mut crc_prefix = None;
    if at4 {
        // The CRC bytes could spell a magic by chance: trust the prefix only
        // when the CRC of everything after it matches.
        let stored = u32::from_le_bytes([body[0], body[1], body[2], body[3]]);
        let actual = crc32fast::hash(&body[4..]);
        if stored == actual {
            crc_prefix = Some(stored);
            start += 4;
        } else if !at0 {
            return Err(DeltaError::corrupt(
                start as u64,
                format!(
                    "CRC32 prefix {stored:08x} does not match the delta (computed {actual:08x})"
                ),
            ));
        }
    } else if !at0 {
        let shown: Vec<String> = body.iter().take(4).map(|b| format!("{b:02x}")).collect();
        return Err(DeltaError::corrupt(
            start as u64,
            format!(
                "not an MSDelta file: expected PA30/PA31/PA19, found bytes [{}]",
                shown.join(" ")
            ),
        ));
    }
    Ok(Framing {
        wrapper,
        crc_prefix,
        start,
    })
}

/// A header plus where its buffers are, for the decoder.
pub(crate) struct Parsed<'a> {
    pub header: DeltaHeader,
    pub preprocess: &'a [u8],
    pub preprocess_offset: u64,
    pub patch: &'a [u8],
    pub patch_offset: u64,
}

/// The six header fields shared by PA30 and PA31, in stream order.
fn read_fields(r: &mut BitReader<'_>, h: &mut DeltaHeader) -> Result<(), DeltaError> {
    h.file_type_set = r.number(true, "FileTypeSet")?;
    h.file_type = r.number(true, "FileType")?;
    h.flags = r.number(true, "Flags")?;
    h.target_size = r.number(true, "TargetSize")?;
    let at = r.offset();
    let alg = r.number(false, "TargetHashAlgId")?;
    h.hash_alg = u32::try_from(alg)
        .map_err(|_| DeltaError::corrupt(at, format!("hash algorithm id {alg:#x} too large")))?;
    let (hash, hash_at) = r.buffer("target hash")?;
    if hash.len() > 64 {
        return Err(DeltaError::corrupt(
            hash_at,
            format!("target hash of {} bytes (at most 64 expected)", hash.len()),
        ));
    }
    h.target_hash = hash.to_vec();
    Ok(())
}

pub(crate) fn parse(bytes: &[u8]) -> Result<Parsed<'_>, DeltaError> {
    let f = framing(bytes)?;
    let body = bytes.get(f.start..).unwrap_or(&[]);
    let magic = body.get(0..4).unwrap_or(&[]);
    let signature = String::from_utf8_lossy(magic).into_owned();
    if magic == MAGIC_PA19 {
        return Err(DeltaError::unsupported(
            f.start as u64,
            "PA19 (mspatcha, Windows XP-era) deltas are recognized but not supported",
        ));
    }
    let ft = body.get(4..12).ok_or_else(|| {
        DeltaError::corrupt(
            f.start as u64,
            format!("{signature} header truncated before the FILETIME"),
        )
    })?;
    let mut ftb = [0u8; 8];
    ftb.copy_from_slice(ft);
    let mut h = DeltaHeader {
        crc_prefix: f.crc_prefix,
        wrapper: f.wrapper,
        signature,
        filetime: u64::from_le_bytes(ftb),
        file_type_set: 0,
        file_type: 0,
        flags: 0,
        target_size: 0,
        hash_alg: 0,
        target_hash: Vec::new(),
        preprocess_size: 0,
        patch_size: 0,
    };
    let stream_at = f.start as u64 + 12;
    let mut r = BitReader::new(body.get(12..).unwrap_or(&[]), stream_at)?;
    if magic == MAGIC_PA31 {
        // PA31 nests the header fields in their own buffer/bitstream.
        let (inner, inner_at) = r.buffer("PA31 header")?;
        let mut ir = BitReader::new(inner, inner_at)?;
        read_fields(&mut ir, &mut h)?;
        let _header_info_size = ir.number(true, "PA31 HeaderInfoSize")?;
        let _is_pa31 = ir.number(true, "PA31 IsPa31")?;
        let _min_version = ir.number(true, "PA31 DeltaClientMinVersion")?;
        let _additional_hash = ir.buffer("PA31 AdditionalHash")?;
    } else {
        read_fields(&mut r, &mut h)?;
    }
    let (preprocess, preprocess_offset) = r.buffer("pre-process buffer")?;
    let (patch, patch_offset) = r.buffer("patch buffer")?;
    h.preprocess_size = preprocess.len() as u64;
    h.patch_size = patch.len() as u64;
    Ok(Parsed {
        header: h,
        preprocess,
        preprocess_offset,
        patch,
        patch_offset,
    })
}

/// Read the header of a PA30 delta (with or without the CRC32 prefix or a
/// WinSxS `DCM`/`DCN`/`DCD` wrapper). PA31 headers are read too (applying
/// them is unsupported); PA19 gives an [`ErrorKind::Unsupported`] error.
pub fn parse_header(bytes: &[u8]) -> Result<DeltaHeader, DeltaError> {
    parse(bytes).map(|p| p.header)
}

/// Magic of a Windows Compression API container (LZMS payloads of PA31).
const LZMS_CONTAINER: [u8; 4] = [0x0A, 0x51, 0xE5, 0xC0];

/// PE file types: I386, IA64, AMD64, and the CLI4 variants (0x10 I386,
/// 0x20 AMD64, 0x40 ARM, 0x80 ARM64), which take the native pipeline when the
/// source has no CLR header.
fn is_pe_type(file_type: u64) -> bool {
    matches!(file_type, 2 | 4 | 8 | 0x10 | 0x20 | 0x40 | 0x80)
}

/// [`apply`] with the details: header, how the output was verified, and an
/// optional SHA-256 the target must have (e.g. from a container index).
///
/// Bytes are returned only when every available check passes: the header
/// hash, `expected_sha256`, the end-of-stream check. PE-typed deltas go
/// through the simple fix-ups only, so they must be verifiable by a hash;
/// when the hash does not match, the error is [`ErrorKind::Unsupported`]
/// ("PE transforms not supported"), never a wrong file.
pub fn apply_detailed(
    delta: &[u8],
    source: Option<&[u8]>,
    expected_sha256: Option<&[u8; 32]>,
    limits: &DeltaLimits,
) -> Result<Applied, DeltaError> {
    let expected = expected_sha256.map(|h| Expected::Sha256(*h));
    apply_checked(delta, source, expected.as_ref(), limits, true)
}

/// [`apply_detailed`] for a caller that holds the target's digest (a
/// container index): when the rebuilt bytes have it, they are proven and the
/// header's own hash (MD5, most often: a second pass over the target, and
/// slower than SHA-256) is not computed; the verification says which digest
/// matched. On a mismatch it is computed, to tell a wrong target from a
/// wrong rebuild, as [`apply_detailed`] does.
pub fn apply_expecting(
    delta: &[u8],
    source: Option<&[u8]>,
    expected: &Expected,
    limits: &DeltaLimits,
) -> Result<Applied, DeltaError> {
    apply_checked(delta, source, Some(expected), limits, false)
}

fn apply_checked(
    delta: &[u8],
    source: Option<&[u8]>,
    expected: Option<&Expected>,
    limits: &DeltaLimits,
    header_hash_always: bool,
) -> Result<Applied, DeltaError> {
    let parsed = parse(delta)?;
    let h = &parsed.header;
    if h.signature == "PA31" {
        return Err(DeltaError::unsupported(
            0,
            "PA31 deltas (UpdateCompression.dll) are recognized but not supported",
        ));
    }
    if h.file_type_set & 0x100 != 0 {
        return Err(DeltaError::unsupported(
            0,
            format!(
                "reverse delta (FileTypeSet {:#x}) is not supported",
                h.file_type_set
            ),
        ));
    }
    if parsed.patch.starts_with(&LZMS_CONTAINER) {
        return Err(DeltaError::unsupported(
            parsed.patch_offset,
            "LZMS-compressed patch buffer is not supported",
        ));
    }
    if h.target_size > limits.max_target_size {
        return Err(DeltaError::limit(
            0,
            format!(
                "TargetSize {} over the limit of {} bytes",
                h.target_size, limits.max_target_size
            ),
        ));
    }
    let src = source.unwrap_or(&[]);
    let window_size = (src.len() as u64).saturating_add(h.target_size);
    if window_size > limits.max_window {
        return Err(DeltaError::limit(
            0,
            format!(
                "source + target = {window_size} bytes, over the window limit of {}",
                limits.max_window
            ),
        ));
    }
    let want_len = match h.hash_alg {
        0 => 0,
        0x8003 => 16,
        0x8004 => 20,
        0x800C => 32,
        other => {
            return Err(DeltaError::unsupported(
                0,
                format!("target hash algorithm {other:#x} is not supported"),
            ));
        }
    };
    if h.target_hash.len() != want_len {
        return Err(DeltaError::corrupt(
            0,
            format!(
                "{} target hash has {} bytes, expected {want_len}",
                post::hash_name(h.hash_alg),
                h.target_hash.len()
            ),
        ));
    }

    let pe_info = if h.file_type == 1 {
        if !parsed.preprocess.is_empty() {
            return Err(DeltaError::unsupported(
                parsed.preprocess_offset,
                format!(
                    "RAW delta with a {}-byte pre-process buffer",
                    parsed.preprocess.len()
                ),
            ));
        }
        None
    } else if is_pe_type(h.file_type) {
        if h.hash_alg == 0 && expected.is_none() {
            return Err(DeltaError::unsupported(
                0,
                format!(
                    "PE delta (FileType {}) without a target hash: the PE transforms' result \
                     cannot be verified (give an expected SHA-256)",
                    h.file_type
                ),
            ));
        }
        Some(pe::read_preprocess(
            parsed.preprocess,
            parsed.preprocess_offset,
            limits,
        )?)
    } else {
        return Err(DeltaError::unsupported(
            0,
            format!(
                "FileType {:#x} (CLI4 or unknown) is not supported",
                h.file_type
            ),
        ));
    };

    // The window holds the source, then the output: sized once for both.
    let room = decode::output_room(parsed.patch.len(), h.target_size, limits);
    // PE deltas decode against T(source) through the composed copy rift.
    let prepared = match &pe_info {
        Some(info) => Some(pe_transform::prepare(
            src,
            info,
            h.file_type,
            h.flags,
            limits,
            room,
        )?),
        None => None,
    };
    // T(source) moves into the decoder's window (no second copy).
    let mut prepared = prepared;
    let (window, map, source_ts) = match prepared.as_mut() {
        Some(p) => (std::mem::take(&mut p.reference), Some(&p.map), p.source_ts),
        None => {
            let mut w = Vec::with_capacity(src.len().saturating_add(room));
            w.extend_from_slice(src);
            (w, None, None)
        }
    };
    let decoded = decode::decode_patch(
        parsed.patch,
        parsed.patch_offset,
        window,
        h.target_size,
        map,
        limits,
    )?;
    let mut target = decoded.window;
    target.drain(..decoded.source_len);

    let mut pe_timestamps_fixed = 0;
    if let (Some(info), Some(ts)) = (&pe_info, source_ts) {
        pe_timestamps_fixed = pe_transform::fix_timestamps(&mut target, ts, info.time_date_stamp);
    }
    if h.flags & 1 != 0 {
        post::e8_untranslate(&mut target);
    }

    let pe_note = |what: String| match &prepared {
        Some(p) => {
            let gaps = if p.gaps.is_empty() {
                String::new()
            } else {
                format!("; known gaps: {}", p.gaps.join("; "))
            };
            DeltaError::unsupported(
                0,
                format!(
                    "PE transforms did not reproduce the target: FileType {} flags {:#x}, \
                     steps run: {}{gaps} ({what})",
                    h.file_type,
                    h.flags,
                    p.steps.join(", ")
                ),
            )
        }
        None => DeltaError {
            offset: 0,
            kind: ErrorKind::HashMismatch,
            message: what,
        },
    };
    // The expected digest first: when it holds and the caller does not ask
    // for the header's hash too, the target is proven.
    let expected_got = expected.map(|want| (want, want.of(&target)));
    if !header_hash_always
        && let Some((want, got)) = &expected_got
        && got == *want
    {
        return Ok(Applied {
            header: parsed.header,
            target,
            verification: got.verification(),
            pe_timestamps_fixed,
        });
    }
    let mut verification = Verification::Unverified;
    if h.hash_alg != 0 {
        let got = post::digest(h.hash_alg, &target).unwrap_or_default();
        let name = post::hash_name(h.hash_alg);
        if got != h.target_hash {
            return Err(pe_note(format!(
                "rebuilt target {name} {} does not match the header's {}",
                hex::encode(&got),
                hex::encode(&h.target_hash)
            )));
        }
        verification = Verification::HeaderHash {
            algorithm: name.to_string(),
            hex: hex::encode(&got),
        };
    }
    if let Some((want, got)) = expected_got {
        let name = want.name();
        if got != *want && verification != Verification::Unverified {
            return Err(DeltaError {
                offset: 0,
                kind: ErrorKind::WrongTarget,
                message: format!(
                    "rebuilt target matches the delta's own hash but its {name} {} is not the expected {}",
                    hex::encode(got.bytes()),
                    hex::encode(want.bytes())
                ),
            });
        }
        if got != *want {
            return Err(pe_note(format!(
                "rebuilt target {name} {} does not match the expected {}",
                hex::encode(got.bytes()),
                hex::encode(want.bytes())
            )));
        }
        if verification == Verification::Unverified {
            verification = got.verification();
        }
    }
    Ok(Applied {
        header: parsed.header,
        target,
        verification,
        pe_timestamps_fixed,
    })
}

/// Fuzzing hook, not a stable API: read `preprocess` as a PE pre-process
/// buffer, build T(`source`) with the transforms `flags` select and the copy
/// map, then run the timestamp fix-up over the result. Returns the length
/// of T(source), which is always the source's.
#[doc(hidden)]
pub fn fuzz_pe_pipeline(
    source: &[u8],
    preprocess: &[u8],
    file_type: u64,
    flags: u64,
    limits: &DeltaLimits,
) -> Result<usize, DeltaError> {
    let info = pe::read_preprocess(preprocess, 0, limits)?;
    let p = pe_transform::prepare(source, &info, file_type, flags, limits, 0)?;
    let mut out = p.reference.clone();
    pe_transform::fix_timestamps(&mut out, p.source_ts.unwrap_or(1), info.time_date_stamp);
    Ok(p.reference.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Blob 42's first bytes, from the format brief's worked example, with
    /// an empty pre-process buffer and a 1-byte patch buffer appended by hand.
    fn blob42_prefix() -> Vec<u8> {
        let mut v = b"PA30".to_vec();
        v.extend_from_slice(&[0xf1, 0xca, 0x06, 0xe1, 0x2c, 0x20, 0xd6, 0x01]);
        v.extend_from_slice(&[
            0xf8, 0x03, 0x02, 0x00, 0x08, 0x8f, 0x17, 0x07, 0x00, 0x85, 0x00,
        ]);
        v.extend_from_slice(&[
            0x3c, 0x0a, 0xe7, 0xb0, 0xb3, 0xb5, 0xbd, 0x2f, 0xd3, 0x2f, 0x69, 0x04, 0xd3, 0x74,
            0xbc, 0xa3,
        ]);
        v
    }

    #[test]
    fn truncated_after_hash_names_the_buffer() {
        let e = parse_header(&blob42_prefix()).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Corrupt);
        assert!(e.message.contains("pre-process"), "{e}");
    }

    #[test]
    fn worked_example_fields() {
        let mut v = blob42_prefix();
        // pre-process length 0 ("1 0000" = 0x01; a buffer re-aligns even when
        // empty), patch length 1 ("1 1000" = 0x03), then one patch byte.
        v.extend_from_slice(&[0x01, 0x03, 0xAA]);
        let h = parse_header(&v).unwrap();
        assert_eq!(h.signature, "PA30");
        assert_eq!(h.file_type_set, 0xF);
        assert_eq!(h.file_type, 1);
        assert_eq!(h.flags, 0x20000);
        assert_eq!(h.target_size, 3015);
        assert_eq!(h.hash_alg, 0x8003);
        assert_eq!(
            hex::encode(&h.target_hash),
            "3c0ae7b0b3b5bd2fd32f6904d374bca3"
        );
        assert_eq!(h.preprocess_size, 0);
        assert_eq!(h.patch_size, 1);
        assert_eq!(h.crc_prefix, None);

        // The same delta behind a valid CRC32 prefix, and behind a bad one.
        let mut crc = crc32fast::hash(&v).to_le_bytes().to_vec();
        crc.extend_from_slice(&v);
        assert_eq!(
            parse_header(&crc).unwrap().crc_prefix,
            Some(crc32fast::hash(&v))
        );
        crc[0] ^= 1;
        let e = parse_header(&crc).unwrap_err();
        assert!(e.message.contains("CRC32"), "{e}");

        let mut dcm = b"DCM\x01".to_vec();
        dcm.extend_from_slice(&v);
        assert_eq!(parse_header(&dcm).unwrap().wrapper.as_deref(), Some("DCM"));
    }

    #[test]
    fn pa19_and_garbage() {
        let e = parse_header(b"PA19\0\0\0\0\0\0\0\0\0\0\0\0").unwrap_err();
        assert_eq!(e.kind, ErrorKind::Unsupported);
        assert!(e.message.contains("PA19"));
        let e = parse_header(b"MZ\x90\0").unwrap_err();
        assert!(e.message.contains("not an MSDelta"));
        assert!(parse_header(b"").is_err());
        assert!(parse_header(b"PA30").is_err());
        assert!(parse_header(b"PA30\0\0\0\0\0\0\0\0").is_err());
    }
}
