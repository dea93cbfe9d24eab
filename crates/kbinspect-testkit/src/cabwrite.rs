//! A small cabinet (MS-CAB) writer for the generated samples.
//!
//! One folder per cabinet, which is how Microsoft builds MSUs and package
//! CABs ([`write_cab`]); [`write_cab_folders`] writes several, each with its
//! own compression, for the reader's property tests. Compression: stored, MSZIP (`CK` + a raw deflate stream per block,
//! each block self-contained) or LZX (one `lzxc` chunk per 32 KiB CFDATA
//! block, E8 translation on with Microsoft's translation size). Optionally the
//! signed layout: the 20-byte header reserve that points at a PKCS#7 blob
//! appended after the cabinet.
//!
//! This writes fixtures, not hostile input, so it asserts on its own limits
//! (a cabinet holds at most 65535 files and 4 GiB).

use std::io::Write;

/// Uncompressed bytes per CFDATA block (the CAB format's maximum).
pub const BLOCK: usize = 32 * 1024;

/// The translation size Microsoft's LZX compressor writes in the stream
/// header of every package CAB (read from KB4538483's package CAB).
pub const LZX_E8_TRANSLATION_SIZE: u32 = 12_000_000;

/// A DOS date and time as stored in CFFILE (two-second resolution).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct DosDateTime {
    pub year: u16,
    pub month: u8,
    pub day: u8,
    pub hour: u8,
    pub minute: u8,
    pub second: u8,
}

impl DosDateTime {
    pub const fn new(year: u16, month: u8, day: u8, hour: u8, minute: u8) -> DosDateTime {
        DosDateTime {
            year,
            month,
            day,
            hour,
            minute,
            second: 0,
        }
    }

    /// The CFFILE `date` field: bits 9-15 year since 1980, 5-8 month, 0-4 day.
    pub fn dos_date(&self) -> u16 {
        (self.year.saturating_sub(1980) << 9) | ((self.month as u16) << 5) | self.day as u16
    }

    /// The CFFILE `time` field: bits 11-15 hour, 5-10 minute, 0-4 seconds/2.
    pub fn dos_time(&self) -> u16 {
        ((self.hour as u16) << 11) | ((self.minute as u16) << 5) | (self.second as u16 / 2)
    }

    /// Seconds since 1970-01-01 UTC (for PE `TimeDateStamp`).
    pub fn unix_seconds(&self) -> u32 {
        // Days from civil date (Howard Hinnant's algorithm), valid for 1970..2106.
        let y = self.year as i64 - if self.month <= 2 { 1 } else { 0 };
        let era = y.div_euclid(400);
        let yoe = y - era * 400;
        let m = self.month as i64;
        let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + self.day as i64 - 1;
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        let days = era * 146_097 + doe - 719_468;
        let secs =
            days * 86_400 + self.hour as i64 * 3600 + self.minute as i64 * 60 + self.second as i64;
        secs as u32
    }
}

/// CFFILE attribute: archive.
pub const ATTR_ARCHIVE: u16 = 0x20;

/// One file to store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CabFile {
    /// Path inside the cabinet, `\`-separated as Microsoft writes it.
    pub name: String,
    pub data: Vec<u8>,
    pub time: DosDateTime,
    pub attributes: u16,
}

/// How the single folder is compressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Stored,
    MsZip,
    /// LZX with a window of 2^`window_bits` bytes (15..=21).
    Lzx {
        window_bits: u8,
    },
}

/// Cabinet-level options.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CabOptions {
    pub method: Method,
    /// `setID` in the header.
    pub set_id: u16,
    /// When set, write the signed layout (RESERVE_PRESENT, 20-byte header
    /// reserve) and append this blob after the cabinet.
    pub signature: Option<Vec<u8>>,
}

const FLAG_RESERVE_PRESENT: u16 = 0x0004;
const HEADER_RESERVE: usize = 20;

/// The CAB checksum of MS-CAB 2.2.4: XOR of little-endian u32 words, the
/// trailing 1-3 bytes packed high byte first.
pub fn cab_checksum(data: &[u8], seed: u32) -> u32 {
    let mut csum = seed;
    let mut words = data.chunks_exact(4);
    for w in &mut words {
        csum ^= u32::from_le_bytes([w[0], w[1], w[2], w[3]]);
    }
    let rest = words.remainder();
    let mut ul = 0u32;
    for &b in rest {
        ul = (ul << 8) | b as u32;
    }
    csum ^ ul
}

/// Checksum of one CFDATA block: the compressed bytes, then the
/// `cbData`/`cbUncomp` fields.
fn block_checksum(compressed: &[u8], uncompressed_len: u16) -> u32 {
    let c = cab_checksum(compressed, 0);
    let mut fields = [0u8; 4];
    fields[..2].copy_from_slice(&(compressed.len() as u16).to_le_bytes());
    fields[2..].copy_from_slice(&uncompressed_len.to_le_bytes());
    cab_checksum(&fields, c)
}

/// Compress the folder's uncompressed stream into (compressed, uncompressed
/// length) CFDATA payloads.
fn compress_blocks(stream: &[u8], method: Method) -> Vec<(Vec<u8>, u16)> {
    match method {
        Method::Stored => stream
            .chunks(BLOCK)
            .map(|c| (c.to_vec(), c.len() as u16))
            .collect(),
        Method::MsZip => stream
            .chunks(BLOCK)
            .map(|c| {
                let mut out = b"CK".to_vec();
                let mut enc =
                    flate2::write::DeflateEncoder::new(&mut out, flate2::Compression::best());
                enc.write_all(c).expect("writing to a Vec cannot fail");
                enc.finish().expect("writing to a Vec cannot fail");
                (out, c.len() as u16)
            })
            .collect(),
        Method::Lzx { window_bits } => {
            let window = match window_bits {
                15 => lzxc::WindowSize::KB32,
                16 => lzxc::WindowSize::KB64,
                17 => lzxc::WindowSize::KB128,
                18 => lzxc::WindowSize::KB256,
                19 => lzxc::WindowSize::KB512,
                20 => lzxc::WindowSize::MB1,
                21 => lzxc::WindowSize::MB2,
                other => panic!("LZX window 2^{other} is not a CAB window"),
            };
            // lzxc's own E8 preprocessing resumes scanning one byte after an
            // E8 whose operand it does not translate, while decoders always
            // skip the 4 operand bytes; data with `E8 .. E8` then decodes
            // wrongly. So translate here and set the header bit ourselves.
            let mut translated = stream.to_vec();
            let mut offset = 0u64;
            for frame in translated.chunks_mut(BLOCK) {
                e8_translate(frame, offset, LZX_E8_TRANSLATION_SIZE as i32);
                offset += frame.len() as u64;
            }
            let mut enc = lzxc::Encoder::new(window);
            let mut chunks = enc.encode_stream(&translated);
            if let Some(first) = chunks.first_mut() {
                *first = set_e8_header(first, LZX_E8_TRANSLATION_SIZE);
            }
            chunks
                .into_iter()
                .zip(stream.chunks(BLOCK))
                .map(|(c, raw)| (c, raw.len() as u16))
                .collect()
        }
    }
}

/// The encoder side of LZX E8 call translation for one 32 KiB frame at
/// `frame_offset` in the folder's output: each `E8` followed by a 32-bit
/// relative target `rel` becomes the absolute `abs` that decoders map back
/// (`abs >= 0`: `abs - pos`; `abs < 0`: `abs + size`; only for
/// `-pos <= abs < size`). Decoders skip the 4 operand bytes after every E8,
/// leave the last 10 bytes of a frame alone and skip frames of 10 bytes or
/// less, so the scan does the same.
///
/// A call whose target is stream offset 0 (`rel == -pos`) becomes `abs == 0`.
/// cabextract and 7-Zip decode that back to `-pos`; lzxd 0.2.7 tests
/// `abs > 0` instead of `abs >= 0` and yields `size` (checked by hand
/// against all three). The committed samples decode byte-exactly with
/// lzxd too (`tests/sample_container.rs`), so they hold no such operand.
pub fn e8_translate(frame: &mut [u8], frame_offset: u64, translation_size: i32) {
    if frame.len() <= 10 || frame_offset >= 0x4000_0000 {
        return;
    }
    let size = translation_size as i64;
    let end = frame.len() - 10;
    let mut pos = 0;
    while pos < end {
        if frame[pos] != 0xE8 {
            pos += 1;
            continue;
        }
        let cp = frame_offset as i64 + pos as i64;
        let operand = [
            frame[pos + 1],
            frame[pos + 2],
            frame[pos + 3],
            frame[pos + 4],
        ];
        let rel = i32::from_le_bytes(operand) as i64;
        // Decoding is a bijection of [-cp, size) onto itself; values outside
        // pass through untouched.
        let abs = if rel >= -cp && rel < size - cp {
            Some(rel + cp)
        } else if rel >= size - cp && rel < size {
            Some(rel - size)
        } else {
            None
        };
        if let Some(abs) = abs {
            frame[pos + 1..pos + 5].copy_from_slice(&(abs as i32).to_le_bytes());
        }
        pos += 5;
    }
}

/// Turn the first LZX chunk of a stream encoded without E8 translation
/// (header bit 0) into one that announces it (bit 1 + 32-bit size). The
/// bitstream is 16-bit little-endian words read MSB first; inserting 32
/// bits after the first bit keeps every later bit at the same position
/// within its word, two words later.
fn set_e8_header(chunk: &[u8], translation_size: u32) -> Vec<u8> {
    let word0 = u16::from_le_bytes([chunk[0], chunk[1]]);
    assert_eq!(word0 & 0x8000, 0, "chunk already announces E8 translation");
    let w0 = 0x8000 | ((translation_size >> 17) as u16 & 0x7FFF);
    let w1 = (translation_size >> 1) as u16;
    let w2 = (word0 & 0x7FFF) | (((translation_size & 1) as u16) << 15);
    let mut out = Vec::with_capacity(chunk.len() + 4);
    for w in [w0, w1, w2] {
        out.extend_from_slice(&w.to_le_bytes());
    }
    out.extend_from_slice(&chunk[2..]);
    out
}

fn type_compress(method: Method) -> u16 {
    match method {
        Method::Stored => 0,
        Method::MsZip => 1,
        Method::Lzx { window_bits } => 3 | ((window_bits as u16) << 8),
    }
}

/// The fixed bytes before the CFDATA blocks: header, reserve, the
/// CFFOLDERs, the CFFILEs.
fn header_len(folders: &[Folder<'_>], signed: bool) -> usize {
    let reserve = if signed { 4 + HEADER_RESERVE } else { 0 };
    let cffiles: usize = folders
        .iter()
        .flat_map(|f| f.files)
        .map(|f| 16 + f.name.len() + 1)
        .sum();
    36 + reserve + 8 * folders.len() + cffiles
}

/// One folder of a multi-folder cabinet: its compression and its files, in
/// the order they are stored in the folder's output.
#[derive(Debug, Clone, Copy)]
pub struct Folder<'a> {
    pub method: Method,
    pub files: &'a [CabFile],
}

/// Write a one-folder cabinet holding `files` in order.
pub fn write_cab(files: &[CabFile], opts: &CabOptions) -> Vec<u8> {
    write_cab_folders(
        &[Folder {
            method: opts.method,
            files,
        }],
        opts,
    )
}

/// Write a cabinet of several folders, each compressed on its own with its
/// own method (`opts.method` is not used). CFFOLDERs come in order, then
/// every folder's CFFILEs, then every folder's CFDATA blocks; a folder
/// without files has no blocks.
pub fn write_cab_folders(folders: &[Folder<'_>], opts: &CabOptions) -> Vec<u8> {
    let nfiles: usize = folders.iter().map(|f| f.files.len()).sum();
    assert!(
        nfiles <= u16::MAX as usize,
        "too many files for one cabinet"
    );
    assert!(folders.len() < 0xFFFD, "too many folders for one cabinet");
    let blocks: Vec<Vec<(Vec<u8>, u16)>> = folders
        .iter()
        .map(|f| {
            let mut stream = Vec::with_capacity(f.files.iter().map(|x| x.data.len()).sum());
            for x in f.files {
                stream.extend_from_slice(&x.data);
            }
            let b = compress_blocks(&stream, f.method);
            assert!(b.len() <= u16::MAX as usize, "too many CFDATA blocks");
            b
        })
        .collect();

    let signed = opts.signature.is_some();
    let data_start = header_len(folders, signed);
    let data_len: usize = blocks.iter().flatten().map(|(c, _)| 8 + c.len()).sum();
    let cabinet_len = data_start + data_len;
    let cabinet_len_u32 = u32::try_from(cabinet_len).expect("cabinet larger than 4 GiB");

    let mut out = Vec::with_capacity(cabinet_len + opts.signature.as_ref().map_or(0, Vec::len));
    out.extend_from_slice(b"MSCF");
    out.extend_from_slice(&0u32.to_le_bytes());
    out.extend_from_slice(&cabinet_len_u32.to_le_bytes());
    out.extend_from_slice(&0u32.to_le_bytes());
    let reserve = if signed { 4 + HEADER_RESERVE } else { 0 };
    let coff_files = (36 + reserve + 8 * folders.len()) as u32;
    out.extend_from_slice(&coff_files.to_le_bytes());
    out.extend_from_slice(&0u32.to_le_bytes());
    out.push(3); // versionMinor
    out.push(1); // versionMajor
    out.extend_from_slice(&(folders.len() as u16).to_le_bytes()); // cFolders
    out.extend_from_slice(&(nfiles as u16).to_le_bytes());
    let flags = if signed { FLAG_RESERVE_PRESENT } else { 0 };
    out.extend_from_slice(&flags.to_le_bytes());
    out.extend_from_slice(&opts.set_id.to_le_bytes());
    out.extend_from_slice(&0u16.to_le_bytes()); // iCabinet
    if let Some(sig) = &opts.signature {
        out.extend_from_slice(&(HEADER_RESERVE as u16).to_le_bytes());
        out.push(0); // cbCFFolder
        out.push(0); // cbCFData
        // The layout Microsoft's signing writes: a fixed prefix, then where
        // the appended PKCS#7 blob starts (= cbCabinet) and how long it is.
        out.extend_from_slice(&[0x00, 0x00, 0x10, 0x00]);
        out.extend_from_slice(&cabinet_len_u32.to_le_bytes());
        out.extend_from_slice(&(sig.len() as u32).to_le_bytes());
        out.extend_from_slice(&[0u8; 8]);
    }
    // CFFOLDERs
    let mut data_at = data_start;
    for (f, b) in folders.iter().zip(&blocks) {
        out.extend_from_slice(&(data_at as u32).to_le_bytes());
        out.extend_from_slice(&(b.len() as u16).to_le_bytes());
        out.extend_from_slice(&type_compress(f.method).to_le_bytes());
        data_at += b.iter().map(|(c, _)| 8 + c.len()).sum::<usize>();
    }
    // CFFILEs
    for (index, folder) in folders.iter().enumerate() {
        let mut offset = 0u32;
        for f in folder.files {
            let len = u32::try_from(f.data.len()).expect("member larger than 4 GiB");
            out.extend_from_slice(&len.to_le_bytes());
            out.extend_from_slice(&offset.to_le_bytes());
            out.extend_from_slice(&(index as u16).to_le_bytes()); // iFolder
            out.extend_from_slice(&f.time.dos_date().to_le_bytes());
            out.extend_from_slice(&f.time.dos_time().to_le_bytes());
            let attrs = if f.name.is_ascii() {
                f.attributes
            } else {
                f.attributes | 0x80
            };
            out.extend_from_slice(&attrs.to_le_bytes());
            out.extend_from_slice(f.name.as_bytes());
            out.push(0);
            offset = offset.checked_add(len).expect("folder larger than 4 GiB");
        }
    }
    debug_assert_eq!(out.len(), data_start);
    for (compressed, raw_len) in blocks.iter().flatten() {
        let cb = u16::try_from(compressed.len()).expect("CFDATA block over 64 KiB");
        out.extend_from_slice(&block_checksum(compressed, *raw_len).to_le_bytes());
        out.extend_from_slice(&cb.to_le_bytes());
        out.extend_from_slice(&raw_len.to_le_bytes());
        out.extend_from_slice(compressed);
    }
    debug_assert_eq!(out.len(), cabinet_len);
    if let Some(sig) = &opts.signature {
        out.extend_from_slice(sig);
    }
    out
}

/// A stored (uncompressed) cabinet of exactly `total` bytes holding one
/// member named `name` whose content is `prefix` followed by filler bytes.
/// Used for payloads that are themselves CABs of a documented size.
/// Returns `None` when `total` is too small to hold the structures.
pub fn stored_cab_of_size(
    name: &str,
    prefix: &[u8],
    time: DosDateTime,
    total: usize,
) -> Option<Vec<u8>> {
    let fixed = 36 + 8 + 16 + name.len() + 1;
    // Each 32 KiB of content costs an 8-byte CFDATA header; search the
    // content length whose cabinet is exactly `total`.
    let mut content = total.checked_sub(fixed)?;
    loop {
        let blocks = content.div_ceil(BLOCK).max(1);
        let size = fixed + blocks * 8 + content;
        if size == total {
            break;
        }
        content = content.checked_sub(size.checked_sub(total)?)?;
    }
    if content < prefix.len() {
        return None;
    }
    let mut data = prefix.to_vec();
    data.resize(content, b' ');
    let cab = write_cab(
        &[CabFile {
            name: name.to_string(),
            data,
            time,
            attributes: ATTR_ARCHIVE,
        }],
        &CabOptions {
            method: Method::Stored,
            set_id: 0,
            signature: None,
        },
    );
    (cab.len() == total).then_some(cab)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::Just;

    #[test]
    fn checksum_tail_bytes_are_packed_high_first() {
        assert_eq!(cab_checksum(&[1, 2, 3, 4], 0), 0x0403_0201);
        assert_eq!(
            cab_checksum(&[1, 2, 3, 4, 5, 6, 7], 0),
            0x0403_0201 ^ 0x0005_0607
        );
        assert_eq!(cab_checksum(&[9], 0x10), 0x19);
    }

    #[test]
    fn dos_fields() {
        let t = DosDateTime::new(2009, 10, 6, 6, 34);
        assert_eq!(t.dos_date(), (29 << 9) | (10 << 5) | 6);
        assert_eq!(t.dos_time(), (6 << 11) | (34 << 5));
        assert_eq!(DosDateTime::new(1970, 1, 1, 0, 0).unix_seconds(), 0);
        // 2009-07-14 01:15 UTC
        assert_eq!(
            DosDateTime::new(2009, 7, 14, 1, 15).unix_seconds(),
            1_247_534_100
        );
    }

    /// The decoder side as MS-PATCH and libmspack define it (`abs >= 0`).
    fn e8_undo(frame: &mut [u8], frame_offset: u64, size: i32) {
        if frame.len() <= 10 {
            return;
        }
        let mut pos = 0;
        while pos < frame.len() - 10 {
            if frame[pos] != 0xE8 {
                pos += 1;
                continue;
            }
            let cp = (frame_offset + pos as u64) as i64;
            let abs = i32::from_le_bytes(frame[pos + 1..pos + 5].try_into().unwrap()) as i64;
            if abs >= -cp && abs < size as i64 {
                let rel = if abs >= 0 {
                    abs - cp
                } else {
                    abs + size as i64
                };
                frame[pos + 1..pos + 5].copy_from_slice(&(rel as i32).to_le_bytes());
            }
            pos += 5;
        }
    }

    proptest::proptest! {
        /// Translation is undone exactly by the decoder, whatever the bytes:
        /// E8 runs, E8 inside operands, operands near the range limits.
        #[test]
        fn e8_translation_round_trips(
            bytes in proptest::collection::vec(
                proptest::prop_oneof![
                    Just(0xE8u8), Just(0x00u8), Just(0xFFu8), proptest::num::u8::ANY
                ],
                0..200,
            ),
            frame_offset in 0u64..20_000_000,
            size in proptest::prop_oneof![Just(12_000_000i32), 1i32..100_000],
        ) {
            let mut frame = bytes.clone();
            e8_translate(&mut frame, frame_offset, size);
            e8_undo(&mut frame, frame_offset, size);
            proptest::prop_assert_eq!(frame, bytes);
        }
    }

    #[test]
    fn stored_cab_hits_exact_sizes() {
        for total in [200usize, 32_900, 65_000, 448_019, 448_507] {
            let cab =
                stored_cab_of_size("a.txt", b"hello", DosDateTime::new(2009, 1, 1, 0, 0), total)
                    .expect("size reachable");
            assert_eq!(cab.len(), total);
            assert_eq!(&cab[..4], b"MSCF");
        }
    }
}
