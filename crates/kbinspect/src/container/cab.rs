//! Raw cabinet structures (CFHEADER, CFFOLDER, CFFILE) and the checked
//! reader that parses them. Decompression lives in [`super::stream`].
//!
//! Every read goes through [`Src`] helpers that name what was being read and
//! where, so a truncated or lying header becomes an [`Error::Format`] with an
//! offset instead of a panic.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Cursor, Read, Seek, SeekFrom};

use super::Error;

pub(crate) const SIGNATURE: &[u8; 4] = b"MSCF";
pub(crate) const FLAG_PREV_CABINET: u16 = 0x1;
pub(crate) const FLAG_NEXT_CABINET: u16 = 0x2;
pub(crate) const FLAG_RESERVE_PRESENT: u16 = 0x4;

/// Folder index of a file that started in the previous cabinet.
pub(crate) const IFOLD_CONTINUED_FROM_PREV: u16 = 0xFFFD;
/// Folder index of a file that continues in the next cabinet.
pub(crate) const IFOLD_CONTINUED_TO_NEXT: u16 = 0xFFFE;
/// Folder index of a file that spans the previous and the next cabinet.
pub(crate) const IFOLD_CONTINUED_PREV_AND_NEXT: u16 = 0xFFFF;

/// File attribute: the name is UTF-8 rather than the OEM code page.
pub(crate) const ATTR_NAME_IS_UTF: u16 = 0x80;

/// Longest name libmspack and Windows accept (without the NUL).
const MAX_NAME: usize = 255;
/// The per-header reserve is limited to 60,000 bytes by the format.
const MAX_HEADER_RESERVE: u16 = 60_000;
/// Size of the fixed CFHEADER part.
pub(crate) const HEADER_SIZE: u64 = 36;

/// Anything a cabinet can be read from: a file on disk, a spooled nested
/// member in memory, or a spooled nested member in a temporary file.
pub(crate) enum Src {
    File(BufReader<InputFile>),
    Mem(Cursor<Vec<u8>>),
    /// A copy of bytes `base..base + data.len()` of a cabinet, addressed by
    /// cabinet offsets: what a folder decoded on another thread reads.
    Window {
        data: Vec<u8>,
        base: u64,
        pos: u64,
    },
}

impl Read for Src {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Src::File(f) => f.read(buf),
            Src::Mem(m) => m.read(buf),
            Src::Window { data, base, pos } => {
                let Some(at) = pos.checked_sub(*base).and_then(|a| usize::try_from(a).ok()) else {
                    return Ok(0);
                };
                let avail = data.get(at..).unwrap_or(&[]);
                let n = avail.len().min(buf.len());
                buf[..n].copy_from_slice(&avail[..n]);
                *pos += n as u64;
                Ok(n)
            }
        }
    }
}

impl BufRead for Src {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        match self {
            Src::File(f) => f.fill_buf(),
            Src::Mem(m) => m.fill_buf(),
            Src::Window { data, base, pos } => {
                let at = pos.checked_sub(*base).and_then(|a| usize::try_from(a).ok());
                Ok(at.and_then(|a| data.get(a..)).unwrap_or(&[]))
            }
        }
    }

    fn consume(&mut self, amt: usize) {
        match self {
            Src::File(f) => f.consume(amt),
            Src::Mem(m) => m.consume(amt),
            Src::Window { pos, .. } => *pos += amt as u64,
        }
    }
}

impl Seek for Src {
    fn seek(&mut self, pos: SeekFrom) -> io::Result<u64> {
        match self {
            Src::File(f) => f.seek(pos),
            Src::Mem(m) => m.seek(pos),
            Src::Window {
                data,
                base,
                pos: at,
            } => {
                let end = *base + data.len() as u64;
                let target = match pos {
                    SeekFrom::Start(p) => Some(p),
                    SeekFrom::Current(d) => at.checked_add_signed(d),
                    SeekFrom::End(d) => end.checked_add_signed(d),
                };
                let Some(t) = target else {
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidInput,
                        "seek before the start",
                    ));
                };
                *at = t;
                Ok(t)
            }
        }
    }
}

/// What a walk hands the bytes of its input file to ([`super::walk_tapped`]).
pub type TapSink = Box<dyn FnMut(&[u8]) + Send>;

/// The tap's side of a walk: how far the input has been handed over.
pub(crate) struct Tap {
    /// Bytes `0..seen` of the file have gone to `sink`, in order, once.
    pub(crate) seen: u64,
    pub(crate) sink: TapSink,
}

impl Tap {
    /// Hand over bytes `self.seen..to` of `f`, read without moving its
    /// position (a forward seek skipped them, or the walk is over).
    pub(crate) fn fill(&mut self, f: &File, to: u64) -> io::Result<()> {
        use std::os::unix::fs::FileExt as _;
        let mut buf = vec![0u8; (to.saturating_sub(self.seen)).min(1 << 20) as usize];
        while self.seen < to {
            let want = (to - self.seen).min(buf.len() as u64) as usize;
            let n = f.read_at(&mut buf[..want], self.seen)?;
            if n == 0 {
                break;
            }
            (self.sink)(&buf[..n]);
            self.seen += n as u64;
        }
        Ok(())
    }
}

/// A cabinet file on disk. With a tap, every byte of it goes to the tap
/// once, in order, as the walk reads it: bytes a forward seek skips are
/// read for the tap on the way, and bytes read again after a seek back are
/// not handed over twice. The input's signature digests are computed so,
/// in the walk's single pass.
pub(crate) struct InputFile {
    f: File,
    pos: u64,
    tap: Option<std::sync::Arc<std::sync::Mutex<Tap>>>,
}

impl Read for InputFile {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.f.read(buf)?;
        if let Some(tap) = &self.tap {
            let mut t = tap.lock().unwrap_or_else(|e| e.into_inner());
            let end = self.pos + n as u64;
            if self.pos <= t.seen && end > t.seen {
                let from = (t.seen - self.pos) as usize;
                (t.sink)(&buf[from..n]);
                t.seen = end;
            }
        }
        self.pos += n as u64;
        Ok(n)
    }
}

impl Seek for InputFile {
    fn seek(&mut self, pos: SeekFrom) -> io::Result<u64> {
        let target = match pos {
            SeekFrom::Start(p) => Some(p),
            SeekFrom::Current(d) => self.pos.checked_add_signed(d),
            SeekFrom::End(_) => None,
        };
        let target = match target {
            Some(t) => self.f.seek(SeekFrom::Start(t))?,
            None => self.f.seek(pos)?,
        };
        if let Some(tap) = &self.tap {
            let mut t = tap.lock().unwrap_or_else(|e| e.into_inner());
            if target > t.seen {
                t.fill(&self.f, target)?;
            }
        }
        self.pos = target;
        Ok(target)
    }
}

impl Src {
    pub(crate) fn from_file(f: File) -> Src {
        Src::tapped(f, None)
    }

    /// A file whose bytes also go to `tap` (see [`InputFile`]).
    pub(crate) fn tapped(f: File, tap: Option<std::sync::Arc<std::sync::Mutex<Tap>>>) -> Src {
        Src::File(BufReader::with_capacity(
            64 << 10,
            InputFile { f, pos: 0, tap },
        ))
    }

    /// Move forward or back without throwing away the read buffer when the
    /// target is already buffered (block headers are usually close together).
    pub(crate) fn skip(&mut self, n: i64) -> io::Result<()> {
        match self {
            Src::File(f) => f.seek_relative(n),
            Src::Mem(m) => m.seek(SeekFrom::Current(n)).map(|_| ()),
            Src::Window { .. } => self.seek(SeekFrom::Current(n)).map(|_| ()),
        }
    }
}

/// A checked reader over a [`Src`] that tracks its offset and turns short
/// reads into format errors naming the cabinet, the offset and the field.
pub(crate) struct Cursorish<'a> {
    pub src: &'a mut Src,
    pub pos: u64,
    pub file: &'a str,
}

impl<'a> Cursorish<'a> {
    pub fn at(src: &'a mut Src, file: &'a str, pos: u64) -> Result<Self, Error> {
        src.seek(SeekFrom::Start(pos)).map_err(|e| Error::Io {
            path: file.to_string(),
            source: e,
        })?;
        Ok(Cursorish { src, pos, file })
    }

    fn err(&self, what: &str) -> Error {
        Error::Format {
            file: self.file.to_string(),
            offset: self.pos,
            message: format!("file ends inside {what}"),
        }
    }

    pub fn bytes<const N: usize>(&mut self, what: &str) -> Result<[u8; N], Error> {
        let mut b = [0u8; N];
        self.src.read_exact(&mut b).map_err(|_| self.err(what))?;
        self.pos += N as u64;
        Ok(b)
    }

    pub fn u8(&mut self, what: &str) -> Result<u8, Error> {
        Ok(self.bytes::<1>(what)?[0])
    }

    pub fn u16(&mut self, what: &str) -> Result<u16, Error> {
        Ok(u16::from_le_bytes(self.bytes::<2>(what)?))
    }

    pub fn u32(&mut self, what: &str) -> Result<u32, Error> {
        Ok(u32::from_le_bytes(self.bytes::<4>(what)?))
    }

    pub fn vec(&mut self, n: usize, what: &str) -> Result<Vec<u8>, Error> {
        let mut v = vec![0u8; n];
        self.src.read_exact(&mut v).map_err(|_| self.err(what))?;
        self.pos += n as u64;
        Ok(v)
    }

    /// A NUL-terminated string of at most 255 bytes.
    pub fn cstring(&mut self, what: &str) -> Result<Vec<u8>, Error> {
        let start = self.pos;
        let mut out = Vec::new();
        loop {
            // Whole buffered runs at a time: a package has tens of
            // thousands of names.
            let buf = match self.src.fill_buf() {
                Ok(b) if !b.is_empty() => b,
                _ => return Err(self.err(what)),
            };
            let room = MAX_NAME + 1 - out.len();
            let look = &buf[..buf.len().min(room)];
            match memchr::memchr(0, look) {
                Some(k) => {
                    out.extend_from_slice(&look[..k]);
                    self.src.consume(k + 1);
                    self.pos += k as u64 + 1;
                    return Ok(out);
                }
                None if look.len() == room => {
                    return Err(Error::Format {
                        file: self.file.to_string(),
                        offset: start,
                        message: format!(
                            "{what} is longer than {MAX_NAME} bytes or not terminated"
                        ),
                    });
                }
                None => {
                    let n = look.len();
                    out.extend_from_slice(look);
                    self.src.consume(n);
                    self.pos += n as u64;
                }
            }
        }
    }
}

#[derive(Debug, Clone)]
pub(crate) struct FolderEntry {
    /// Offset of the first CFDATA block in this cabinet file.
    pub data_offset: u32,
    pub ndata: u16,
    pub comp_type: u16,
}

#[derive(Debug, Clone)]
pub(crate) struct FileEntry {
    pub size: u32,
    pub offset: u32,
    pub folder: u16,
    pub date: u16,
    pub time: u16,
    pub attribs: u16,
    pub name: String,
    /// Offset of this CFFILE entry (for error messages).
    pub entry_offset: u64,
}

#[derive(Debug, Clone)]
pub(crate) struct Header {
    pub cabinet_size: u32,
    pub files_offset: u32,
    pub version: (u8, u8),
    pub flags: u16,
    pub set_id: u16,
    pub set_index: u16,
    pub header_reserve: Vec<u8>,
    pub data_reserve: u8,
    pub prev: Option<String>,
    pub next: Option<String>,
    pub folders: Vec<FolderEntry>,
    pub files: Vec<FileEntry>,
    /// Offset just after the CFFOLDER array.
    pub folders_end: u64,
    /// Offset just after the CFFILE array.
    pub files_end: u64,
}

impl Header {
    /// A copy without the folder and file lists: what reading CFDATA
    /// blocks needs (the data reserve), cheap to hand to another thread.
    pub fn block_layout(&self) -> Header {
        Header {
            header_reserve: Vec::new(),
            prev: None,
            next: None,
            folders: Vec::new(),
            files: Vec::new(),
            ..*self
        }
    }

    /// The Authenticode reserve of a signed cabinet: `00 00 10 00`, then the
    /// offset and size of the PKCS#7 blob appended after the cabinet.
    pub fn signature(&self) -> Option<(u64, u64)> {
        let r = &self.header_reserve;
        if r.len() >= 12 && r.get(0..4) == Some(&[0, 0, 0x10, 0][..]) {
            let off = u32::from_le_bytes(r.get(4..8)?.try_into().ok()?);
            let len = u32::from_le_bytes(r.get(8..12)?.try_into().ok()?);
            return Some((u64::from(off), u64::from(len)));
        }
        None
    }
}

/// Decode a stored name: UTF-8 when the attribute says so, else the OEM code
/// page. We read OEM names as ISO-8859-1 (every byte one code point), which
/// is what cabextract does by default, so names agree byte for byte with it.
/// Invalid UTF-8 is replaced (U+FFFD) rather than rejected.
pub(crate) fn decode_name(raw: &[u8], attribs: u16) -> String {
    if attribs & ATTR_NAME_IS_UTF != 0 {
        String::from_utf8_lossy(raw).into_owned()
    } else {
        encoding_rs::mem::decode_latin1(raw).into_owned()
    }
}

/// The cabinet checksum (an XOR of little-endian u32 words, the tail folded
/// in big-end first), as used for CFDATA blocks.
pub(crate) fn checksum(data: &[u8], seed: u32) -> u32 {
    let mut csum = seed;
    let mut chunks = data.chunks_exact(4);
    for c in &mut chunks {
        csum ^= u32::from_le_bytes([c[0], c[1], c[2], c[3]]);
    }
    let rest = chunks.remainder();
    let mut ul = 0u32;
    for &b in rest {
        ul = (ul << 8) | u32::from(b);
    }
    csum ^ ul
}

/// Parse CFHEADER, CFFOLDERs and CFFILEs of the cabinet in `src`.
/// `max_members` is checked before the file table is read.
pub(crate) fn parse_header(src: &mut Src, file: &str, max_members: u64) -> Result<Header, Error> {
    let mut r = Cursorish::at(src, file, 0)?;
    let sig = r.bytes::<4>("the cabinet signature")?;
    if &sig != SIGNATURE {
        return Err(Error::Format {
            file: file.to_string(),
            offset: 0,
            message: format!(
                "not a cabinet: signature {:02x?} is not \"MSCF\"",
                sig.as_slice()
            ),
        });
    }
    let _reserved1 = r.u32("CFHEADER")?;
    let cabinet_size = r.u32("CFHEADER.cbCabinet")?;
    let _reserved2 = r.u32("CFHEADER")?;
    let files_offset = r.u32("CFHEADER.coffFiles")?;
    let _reserved3 = r.u32("CFHEADER")?;
    let minor = r.u8("CFHEADER.versionMinor")?;
    let major = r.u8("CFHEADER.versionMajor")?;
    let nfolders = r.u16("CFHEADER.cFolders")?;
    let nfiles = r.u16("CFHEADER.cFiles")?;
    let flags = r.u16("CFHEADER.flags")?;
    let set_id = r.u16("CFHEADER.setID")?;
    let set_index = r.u16("CFHEADER.iCabinet")?;
    if u64::from(nfiles) > max_members {
        return Err(Error::Limit {
            file: file.to_string(),
            message: format!("cabinet declares {nfiles} files"),
            limit: max_members,
            flag: "--max-members",
        });
    }
    let (mut header_reserve, mut folder_reserve, mut data_reserve) = (Vec::new(), 0u8, 0u8);
    if flags & FLAG_RESERVE_PRESENT != 0 {
        let hr = r.u16("CFHEADER.cbCFHeader")?;
        folder_reserve = r.u8("CFHEADER.cbCFFolder")?;
        data_reserve = r.u8("CFHEADER.cbCFData")?;
        if hr > MAX_HEADER_RESERVE {
            return Err(Error::Format {
                file: file.to_string(),
                offset: r.pos - 4,
                message: format!("header reserve of {hr} bytes exceeds the format's 60000"),
            });
        }
        header_reserve = r.vec(usize::from(hr), "the header reserve")?;
    }
    let mut prev = None;
    let mut next = None;
    if flags & FLAG_PREV_CABINET != 0 {
        prev = Some(decode_name(&r.cstring("szCabinetPrev")?, 0));
        r.cstring("szDiskPrev")?;
    }
    if flags & FLAG_NEXT_CABINET != 0 {
        next = Some(decode_name(&r.cstring("szCabinetNext")?, 0));
        r.cstring("szDiskNext")?;
    }
    let _ = &folder_reserve;
    let mut folders = Vec::with_capacity(usize::from(nfolders));
    for _ in 0..nfolders {
        let data_offset = r.u32("CFFOLDER.coffCabStart")?;
        let ndata = r.u16("CFFOLDER.cCFData")?;
        let comp_type = r.u16("CFFOLDER.typeCompress")?;
        if folder_reserve > 0 {
            r.src
                .skip(i64::from(folder_reserve))
                .map_err(|e| Error::Io {
                    path: file.to_string(),
                    source: e,
                })?;
            r.pos += u64::from(folder_reserve);
        }
        folders.push(FolderEntry {
            data_offset,
            ndata,
            comp_type,
        });
    }
    let folders_end = r.pos;
    let mut r = Cursorish::at(src, file, u64::from(files_offset))?;
    let mut files = Vec::with_capacity(usize::from(nfiles).min(4096));
    for _ in 0..nfiles {
        let entry_offset = r.pos;
        let size = r.u32("CFFILE.cbFile")?;
        let offset = r.u32("CFFILE.uoffFolderStart")?;
        let folder = r.u16("CFFILE.iFolder")?;
        let date = r.u16("CFFILE.date")?;
        let time = r.u16("CFFILE.time")?;
        let attribs = r.u16("CFFILE.attribs")?;
        let raw = r.cstring("CFFILE.szName")?;
        files.push(FileEntry {
            size,
            offset,
            folder,
            date,
            time,
            attribs,
            name: decode_name(&raw, attribs),
            entry_offset,
        });
    }
    let files_end = r.pos;
    Ok(Header {
        cabinet_size,
        files_offset,
        version: (major, minor),
        flags,
        set_id,
        set_index,
        header_reserve,
        data_reserve,
        prev,
        next,
        folders,
        files,
        folders_end,
        files_end,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hdr(flags: u16, extra: &[u8]) -> Vec<u8> {
        let mut v = Vec::new();
        v.extend_from_slice(b"MSCF");
        v.extend_from_slice(&0u32.to_le_bytes());
        v.extend_from_slice(&1000u32.to_le_bytes());
        v.extend_from_slice(&0u32.to_le_bytes());
        v.extend_from_slice(&44u32.to_le_bytes()); // coffFiles
        v.extend_from_slice(&0u32.to_le_bytes());
        v.extend_from_slice(&[3, 1]);
        v.extend_from_slice(&1u16.to_le_bytes()); // folders
        v.extend_from_slice(&1u16.to_le_bytes()); // files
        v.extend_from_slice(&flags.to_le_bytes());
        v.extend_from_slice(&7u16.to_le_bytes());
        v.extend_from_slice(&0u16.to_le_bytes());
        v.extend_from_slice(extra);
        v
    }

    #[test]
    fn checksum_folds_tail_big_end_first() {
        assert_eq!(checksum(&[1, 0, 0, 0], 0), 1);
        assert_eq!(checksum(&[1, 2, 3], 0), 0x0001_0203);
        assert_eq!(checksum(&[1, 0, 0, 0, 5], 0x10), 0x10 ^ 1 ^ 5);
    }

    #[test]
    fn dos_time_edges() {
        // 2018-07-17 08:52:54 as stored by the split-*.cab test set.
        let d = ((2018 - 1980) << 9) | (7 << 5) | 17;
        let t = (8 << 11) | (52 << 5) | 27;
        assert_eq!(
            crate::time::Timestamp::from_dos(d, t)
                .map(|t| t.to_string())
                .as_deref(),
            Some("2018-07-17T08:52:54")
        );
        assert_eq!(
            crate::time::Timestamp::from_dos(0, 0),
            None,
            "month 0 is not a date"
        );
        assert_eq!(
            crate::time::Timestamp::from_dos(d, 24 << 11),
            None,
            "hour 24"
        );
    }

    #[test]
    fn oem_names_are_latin1_and_utf8_is_lossy() {
        assert_eq!(decode_name(b"caf\xe9.txt", 0), "café.txt");
        assert_eq!(decode_name("café".as_bytes(), ATTR_NAME_IS_UTF), "café");
        assert_eq!(decode_name(b"a\xffb", ATTR_NAME_IS_UTF), "a\u{fffd}b");
    }

    #[test]
    fn rejects_bad_signature_with_offset() {
        let mut s = Src::Mem(Cursor::new(b"MSCX\0\0\0\0".to_vec()));
        let e = parse_header(&mut s, "x.cab", 10).unwrap_err().to_string();
        assert!(e.contains("x.cab") && e.contains("not a cabinet"), "{e}");
    }

    #[test]
    fn truncated_folder_names_field_and_offset() {
        let mut s = Src::Mem(Cursor::new(hdr(0, &[1, 2, 3])));
        let e = parse_header(&mut s, "t.cab", 10).unwrap_err().to_string();
        assert!(e.contains("offset 36") && e.contains("CFFOLDER"), "{e}");
    }

    #[test]
    fn oversized_header_reserve_is_rejected() {
        let mut extra = Vec::new();
        extra.extend_from_slice(&60_001u16.to_le_bytes());
        extra.extend_from_slice(&[0, 0]);
        let mut s = Src::Mem(Cursor::new(hdr(FLAG_RESERVE_PRESENT, &extra)));
        let e = parse_header(&mut s, "r.cab", 10).unwrap_err().to_string();
        assert!(e.contains("60000"), "{e}");
    }

    #[test]
    fn unterminated_name_is_an_error_not_a_scan() {
        let mut v = hdr(0, &[]);
        v.extend_from_slice(&[0u8; 8]); // CFFOLDER
        v.extend_from_slice(&[0u8; 16]); // CFFILE fixed part
        v.extend(std::iter::repeat_n(b'a', 300));
        let mut s = Src::Mem(Cursor::new(v));
        let e = parse_header(&mut s, "n.cab", 10).unwrap_err().to_string();
        assert!(e.contains("longer than 255"), "{e}");
    }

    #[test]
    fn member_count_limit_checked_before_reading_files() {
        let mut s = Src::Mem(Cursor::new(hdr(0, &[])));
        let e = parse_header(&mut s, "m.cab", 0).unwrap_err();
        assert!(matches!(
            e,
            Error::Limit {
                flag: "--max-members",
                ..
            }
        ));
    }

    #[test]
    fn signature_reserve_is_decoded() {
        let mut extra = Vec::new();
        extra.extend_from_slice(&20u16.to_le_bytes());
        extra.extend_from_slice(&[0, 0]);
        extra.extend_from_slice(&[0, 0, 0x10, 0]);
        extra.extend_from_slice(&1000u32.to_le_bytes());
        extra.extend_from_slice(&77u32.to_le_bytes());
        extra.extend_from_slice(&[0u8; 8]);
        extra.extend_from_slice(&[0u8; 8]); // CFFOLDER
        extra.extend_from_slice(&[0u8; 16]);
        extra.extend_from_slice(b"a\0");
        let mut v = hdr(FLAG_RESERVE_PRESENT, &extra);
        // coffFiles: 36 + 4 + 20 + 8 = 68
        v[16..20].copy_from_slice(&68u32.to_le_bytes());
        let mut s = Src::Mem(Cursor::new(v));
        let h = parse_header(&mut s, "s.cab", 10).unwrap();
        assert_eq!(h.signature(), Some((1000, 77)));
        assert_eq!(h.files.len(), 1);
        assert_eq!(h.files[0].name, "a");
    }
}
