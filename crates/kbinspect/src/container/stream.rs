//! One folder's output as a forward stream: CFDATA blocks are read in order
//! (across the parts of a cabinet set), checksummed, decompressed into a
//! block buffer and handed out through [`MemberReader`]s. Memory is bounded
//! by the codec window plus two 32 KiB block buffers, whatever the folder size.

use std::collections::HashSet;
use std::io::{self, BufRead, Read};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TryRecvError, sync_channel};

use miniz_oxide::inflate::TINFLStatus;
use miniz_oxide::inflate::core::{DecompressorOxide, decompress};

use super::cab::{Header, Src, checksum};
use super::{Compression, DecodeContext};
use crate::finding::{Code, Finding};

/// A CFDATA block never holds more than 32 KiB of output.
pub(crate) const MAX_BLOCK_OUTPUT: usize = 32 * 1024;
/// MSZIP history is 32 KiB; a 64 KiB ring keeps it intact while a whole
/// block is written after it.
const MSZIP_RING: usize = 64 * 1024;

/// `StreamError::code` of a stream stopped by the ratio limit: no finding,
/// the walker turns it into `Error::Limit` naming the member.
pub(crate) const RATIO_EXCEEDED: Option<Code> = None;

/// Bytes decoded by every folder stream of one walk (all nesting levels,
/// decode-ahead threads included) against the bytes of input on disk: the
/// decompression-bomb check of `Limits::max_ratio`.
#[derive(Debug)]
pub(crate) struct DecodeMeter {
    decoded: AtomicU64,
    input: AtomicU64,
    max_ratio: u64,
    floor: u64,
}

impl DecodeMeter {
    pub fn new(limits: &super::Limits, input_on_disk: u64) -> Self {
        DecodeMeter {
            decoded: AtomicU64::new(0),
            input: AtomicU64::new(input_on_disk),
            max_ratio: limits.max_ratio,
            floor: limits.ratio_floor,
        }
    }

    /// A meter that never stops anything (for streams that do not decode).
    pub fn off() -> Self {
        DecodeMeter {
            decoded: AtomicU64::new(0),
            input: AtomicU64::new(0),
            max_ratio: 0,
            floor: u64::MAX,
        }
    }

    /// A further part of a cabinet set was opened from disk.
    pub fn add_input(&self, bytes: u64) {
        self.input.fetch_add(bytes, Ordering::Relaxed);
    }

    /// Count `bytes` about to be decoded. Past the floor, the total may not
    /// exceed `max_ratio` times the input; the error says by how much.
    pub fn charge(&self, bytes: u64) -> Result<(), String> {
        let total = self
            .decoded
            .fetch_add(bytes, Ordering::Relaxed)
            .saturating_add(bytes);
        if self.max_ratio == 0 || total <= self.floor {
            return Ok(());
        }
        let input = self.input.load(Ordering::Relaxed).max(1);
        if total <= input.saturating_mul(self.max_ratio) {
            return Ok(());
        }
        Err(format!(
            "{total} bytes decoded across the tree from {input} bytes of input on disk: ratio {}:1, over {}:1 (checked past {} decoded bytes, --ratio-floor)",
            total / input,
            self.max_ratio,
            self.floor
        ))
    }
}

/// One cabinet file of a (possibly single-part) set.
pub(crate) struct Part {
    /// Display name for messages: the input path or the tree path.
    pub name: String,
    pub src: Src,
    pub len: u64,
    pub hdr: Header,
    /// Where `src` is positioned, so sequential reads never seek (a seek
    /// would throw away the BufReader's buffer).
    pub cur: Option<u64>,
}

impl Part {
    pub(crate) fn read_at(&mut self, pos: u64, buf: &mut [u8]) -> io::Result<()> {
        use std::io::{Seek, SeekFrom};
        match self.cur {
            Some(c) if c == pos => {}
            Some(c) if c.abs_diff(pos) < (1 << 40) => {
                self.cur = None;
                let delta = if pos >= c {
                    (pos - c) as i64
                } else {
                    -((c - pos) as i64)
                };
                self.src.skip(delta)?;
            }
            _ => {
                self.cur = None;
                self.src.seek(SeekFrom::Start(pos))?;
            }
        }
        self.src.read_exact(buf)?;
        self.cur = Some(pos + buf.len() as u64);
        Ok(())
    }
}

/// A piece of a folder inside one part: folders split across cabinets have
/// one segment per part.
#[derive(Debug, Clone)]
pub(crate) struct Segment {
    pub part: usize,
    pub data_offset: u64,
    pub ndata: u16,
}

/// A folder of the whole set (split folders merged).
#[derive(Debug, Clone)]
pub(crate) struct Folder {
    /// Index in the merged folder list (what `MemberMeta.folder` shows).
    pub index: u32,
    pub compression: Option<Compression>,
    pub comp_type: u16,
    pub segments: Vec<Segment>,
    /// The part the folder continues in, when that part could not be opened.
    pub missing_next: Option<String>,
}

pub(crate) fn compression_of(comp_type: u16) -> Option<Compression> {
    match comp_type & 0x000F {
        0 => Some(Compression::None),
        1 => Some(Compression::Mszip),
        2 => Some(Compression::Quantum {
            level: ((comp_type >> 4) & 0xF) as u8,
            window_bits: ((comp_type >> 8) & 0x1F) as u8,
        }),
        3 => Some(Compression::Lzx {
            window_bits: ((comp_type >> 8) & 0x1F) as u8,
        }),
        _ => None,
    }
}

enum Decoder {
    Stored,
    Mszip(Box<Mszip>),
    Lzx(Box<super::lzx::LzxDecoder>),
    Unsupported(String),
}

struct Mszip {
    inflater: DecompressorOxide,
    ring: Vec<u8>,
    ring_pos: usize,
}

impl Mszip {
    fn new() -> Self {
        Mszip {
            inflater: DecompressorOxide::new(),
            ring: vec![0; MSZIP_RING],
            ring_pos: 0,
        }
    }

    /// Each MSZIP block is `CK` + a complete raw deflate stream whose matches
    /// may reach back into the previous blocks' output: we restart the
    /// inflater per block but keep decoding into the same ring, which is
    /// the dictionary.
    fn block(&mut self, input: &[u8], expect: usize, out: &mut Vec<u8>) -> Result<(), String> {
        let Some(body) = input.strip_prefix(b"CK") else {
            return Err("MSZIP block does not start with the \"CK\" signature".into());
        };
        self.inflater.init();
        let mut inp = body;
        let at = out.len();
        loop {
            let (status, used, made) =
                decompress(&mut self.inflater, inp, &mut self.ring, self.ring_pos, 0);
            let produced = self
                .ring
                .get(self.ring_pos..self.ring_pos.saturating_add(made))
                .ok_or("inflater reported more output than its buffer holds")?;
            out.extend_from_slice(produced);
            if out.len() - at > expect {
                return Err(format!(
                    "MSZIP block inflates to more than the {expect} bytes declared"
                ));
            }
            self.ring_pos = (self.ring_pos + made) & (MSZIP_RING - 1);
            inp = inp.get(used..).unwrap_or(&[]);
            match status {
                TINFLStatus::Done => break,
                TINFLStatus::HasMoreOutput if used > 0 || made > 0 => continue,
                // Some writers end a frame's last deflate block without the
                // final bit; the frame is still complete at its declared size.
                TINFLStatus::NeedsMoreInput | TINFLStatus::FailedCannotMakeProgress
                    if out.len() - at == expect =>
                {
                    break;
                }
                TINFLStatus::HasMoreOutput
                | TINFLStatus::NeedsMoreInput
                | TINFLStatus::FailedCannotMakeProgress => {
                    return Err("MSZIP block ends before its deflate stream does".into());
                }
                other => return Err(format!("MSZIP block is corrupt (inflate: {other:?})")),
            }
        }
        if out.len() - at != expect {
            return Err(format!(
                "MSZIP block inflates to {} bytes, {expect} declared",
                out.len() - at
            ));
        }
        Ok(())
    }
}

impl Decoder {
    fn new(folder: &Folder, ctx: &DecodeContext) -> Decoder {
        match folder.compression {
            Some(Compression::None) => Decoder::Stored,
            Some(Compression::Mszip) => Decoder::Mszip(Box::new(Mszip::new())),
            Some(Compression::Lzx { window_bits }) => {
                match super::lzx::LzxDecoder::new_in(window_bits, ctx) {
                    Ok(d) => Decoder::Lzx(Box::new(d)),
                    Err(e) => Decoder::Unsupported(e.0),
                }
            }
            Some(Compression::Quantum { .. }) => {
                Decoder::Unsupported("Quantum compression is not supported".into())
            }
            Some(Compression::File) | None => Decoder::Unsupported(format!(
                "unknown compression type 0x{:04x}",
                folder.comp_type
            )),
        }
    }

    /// Decode one block, appending its output to `out`.
    fn block(&mut self, input: &[u8], expect: usize, out: &mut Vec<u8>) -> Result<(), String> {
        match self {
            Decoder::Stored => {
                if input.len() != expect {
                    return Err(format!(
                        "stored block holds {} bytes but declares {expect}",
                        input.len()
                    ));
                }
                out.extend_from_slice(input);
                Ok(())
            }
            Decoder::Mszip(m) => m.block(input, expect, out),
            Decoder::Lzx(l) => l
                .decode_into(input, expect, out)
                .map_err(|e| format!("LZX data is corrupt ({e})")),
            Decoder::Unsupported(m) => Err(m.clone()),
        }
    }
}

/// Why a folder's output could not be produced.
#[derive(Debug, Clone)]
pub(crate) struct StreamError {
    /// Finding code: `cab-unsupported`, `cab-data` or `cab-range`;
    /// [`RATIO_EXCEEDED`] when the ratio limit stopped the stream.
    pub code: Option<Code>,
    pub message: String,
}

pub(crate) struct FolderStream<'a> {
    parts: &'a mut [Part],
    folder: &'a Folder,
    decoder: Decoder,
    seg: usize,
    block_in_seg: u16,
    pos: u64,
    block_no: u32,
    cbuf: Vec<u8>,
    out: Vec<u8>,
    out_pos: usize,
    /// Output bytes up to the end of `out`.
    produced: u64,
    error: Option<StreamError>,
    /// Bytes this stream may still decode (restarts for overlapping members count).
    budget: u64,
    budget_at_start: u64,
    reported_bad: HashSet<(usize, u64)>,
    /// Output ranges (folder offsets) of blocks whose checksum failed, so
    /// the members made of them can be named.
    pub bad_output: Vec<(u64, u64)>,
    pub findings: Vec<Finding>,
    /// Set when another thread decodes this folder (see [`decode_ahead`]).
    pipe: Option<Pipe>,
    /// Blocks are appended to `out` instead of replacing it: the decoding
    /// thread of [`decode_ahead`] collects a batch in place.
    keep_out: bool,
    /// The walk's ratio check, charged before each block is decoded.
    meter: Arc<DecodeMeter>,
    /// Where the decoder's window comes from.
    ctx: DecodeContext,
}

/// Decoded output in flight between a decoding thread and the reader, in
/// batches of about `BATCH` bytes (one wake-up per batch, not per block).
/// 16 batches (4 MiB) let a folder decoded ahead run a whole typical folder
/// in front of the reader without growing memory further.
pub(crate) const PIPE_DEPTH: usize = 16;
const BATCH: usize = 256 << 10;

impl Drop for Pipe {
    fn drop(&mut self) {
        // Buffers still queued go back to the pool with the channel.
        while let Ok(Ok(b)) = self.blocks.try_recv() {
            self.ctx.give_batch(b, BATCH);
        }
    }
}

/// The reading end of a folder decoded on another thread: batches arrive
/// in order; spent buffers go back so the decoder allocates only a few.
struct Pipe {
    blocks: Receiver<Result<Vec<u8>, StreamError>>,
    spent: SyncSender<Vec<u8>>,
    /// Where finished batches go back to.
    ctx: DecodeContext,
}

/// Decode `folder` on the calling thread into `tx` until the folder ends,
/// fails or the reader hangs up. Returns the checksum findings and the
/// decompression budget left. Run it on a scoped thread beside
/// [`FolderStream::piped`].
pub(crate) fn decode_ahead(
    parts: &mut [Part],
    folder: &Folder,
    budget: u64,
    meter: Arc<DecodeMeter>,
    tx: SyncSender<Result<Vec<u8>, StreamError>>,
    spent: Receiver<Vec<u8>>,
    ctx: &DecodeContext,
) -> AheadDone {
    let mut fs = FolderStream::new(parts, folder, budget, meter, ctx);
    let fresh = |spent: &Receiver<Vec<u8>>| match spent.try_recv() {
        Ok(mut b) => {
            b.clear();
            b
        }
        Err(TryRecvError::Empty | TryRecvError::Disconnected) => {
            ctx.take_batch(BATCH + MAX_BLOCK_OUTPUT)
        }
    };
    // Blocks are decoded straight into the batch being collected.
    fs.keep_out = true;
    fs.out = fresh(&spent);
    loop {
        match fs.fill() {
            Ok(true) => {
                if fs.out.len() >= BATCH {
                    let full = std::mem::replace(&mut fs.out, fresh(&spent));
                    if tx.send(Ok(full)).is_err() {
                        break; // the reader stopped early (visitor error)
                    }
                }
            }
            Ok(false) => {
                let batch = std::mem::take(&mut fs.out);
                if !batch.is_empty() {
                    let _ = tx.send(Ok(batch));
                }
                break;
            }
            Err(e) => {
                // What decoded before the bad block still reaches the reader.
                let batch = std::mem::take(&mut fs.out);
                if !batch.is_empty() && tx.send(Ok(batch)).is_err() {
                    break;
                }
                let _ = tx.send(Err(e));
                break;
            }
        }
    }
    while let Ok(b) = spent.try_recv() {
        ctx.give_batch(b, BATCH);
    }
    AheadDone {
        findings: std::mem::take(&mut fs.findings),
        budget_left: fs.budget_left(),
        bad_output: std::mem::take(&mut fs.bad_output),
    }
}

/// What a folder decoded on another thread leaves behind.
#[derive(Default)]
pub(crate) struct AheadDone {
    pub findings: Vec<Finding>,
    pub budget_left: u64,
    pub bad_output: Vec<(u64, u64)>,
}

/// The channels between [`decode_ahead`] and [`FolderStream::piped`].
#[allow(clippy::type_complexity)]
pub(crate) fn pipe_channels() -> (
    (SyncSender<Result<Vec<u8>, StreamError>>, Receiver<Vec<u8>>),
    (Receiver<Result<Vec<u8>, StreamError>>, SyncSender<Vec<u8>>),
) {
    let (tx, rx) = sync_channel(PIPE_DEPTH);
    let (spent_tx, spent_rx) = sync_channel(PIPE_DEPTH + 2);
    ((tx, spent_rx), (rx, spent_tx))
}

impl<'a> FolderStream<'a> {
    /// A stream whose blocks are decoded by [`decode_ahead`] on another
    /// thread. It only moves forward: use it for folders whose members do
    /// not overlap (they are read in offset order, so it never seeks back).
    pub fn piped(
        folder: &'a Folder,
        blocks: Receiver<Result<Vec<u8>, StreamError>>,
        spent: SyncSender<Vec<u8>>,
        ctx: &DecodeContext,
    ) -> Self {
        let mut fs = FolderStream::new(&mut [], folder, 0, Arc::new(DecodeMeter::off()), ctx);
        // The decoder lives on the other thread; no window here.
        fs.decoder = Decoder::Stored;
        fs.cbuf = Vec::new();
        fs.pipe = Some(Pipe {
            blocks,
            spent,
            ctx: ctx.clone(),
        });
        fs
    }

    /// Take the next block from the decoding thread.
    fn receive(&mut self) -> Result<bool, StreamError> {
        let Some(pipe) = &self.pipe else {
            return Ok(false);
        };
        match pipe.blocks.recv() {
            Ok(Ok(block)) => {
                let old = std::mem::replace(&mut self.out, block);
                let _ = pipe.spent.try_send(old);
                self.out_pos = 0;
                self.produced += self.out.len() as u64;
                self.block_no += 1;
                Ok(true)
            }
            Ok(Err(e)) => Err(e),
            // The decoder hung up: the folder's output is complete.
            Err(_) => {
                if self.out_pos >= self.out.len() {
                    pipe.ctx.give_batch(std::mem::take(&mut self.out), BATCH);
                    self.out_pos = 0;
                }
                Ok(false)
            }
        }
    }

    pub fn new(
        parts: &'a mut [Part],
        folder: &'a Folder,
        budget: u64,
        meter: Arc<DecodeMeter>,
        ctx: &DecodeContext,
    ) -> Self {
        FolderStream {
            parts,
            folder,
            decoder: Decoder::new(folder, ctx),
            ctx: ctx.clone(),
            seg: 0,
            block_in_seg: 0,
            pos: folder.segments.first().map_or(0, |s| s.data_offset),
            block_no: 0,
            cbuf: Vec::with_capacity(MAX_BLOCK_OUTPUT + 6144),
            out: Vec::with_capacity(MAX_BLOCK_OUTPUT),
            out_pos: 0,
            produced: 0,
            error: None,
            budget,
            budget_at_start: budget,
            reported_bad: HashSet::new(),
            bad_output: Vec::new(),
            findings: Vec::new(),
            pipe: None,
            keep_out: false,
            meter,
        }
    }

    /// Decompression budget not yet used.
    pub fn budget_left(&self) -> u64 {
        self.budget
    }

    /// Bytes decoded so far (restarts included).
    pub fn decoded(&self) -> u64 {
        self.budget_at_start - self.budget
    }

    /// Offset in the folder's output of the next byte handed out.
    pub fn position(&self) -> u64 {
        self.produced
            .saturating_sub(self.out.len().saturating_sub(self.out_pos) as u64)
    }

    fn restart(&mut self) {
        if self.pipe.is_some() {
            self.error = Some(StreamError {
                code: Some(Code::CabData),
                message: format!(
                    "folder {}: a decoded-ahead folder cannot be read twice",
                    self.folder.index
                ),
            });
            return;
        }
        self.decoder = Decoder::new(self.folder, &self.ctx);
        self.seg = 0;
        self.block_in_seg = 0;
        self.pos = self.folder.segments.first().map_or(0, |s| s.data_offset);
        self.block_no = 0;
        self.cbuf.clear();
        self.out.clear();
        self.out_pos = 0;
        self.produced = 0;
        self.error = None;
    }

    /// Position the stream at `target` (restarting the folder when a member
    /// lies before the current position).
    pub fn seek_to(&mut self, target: u64) -> Result<(), StreamError> {
        if target < self.position() {
            self.restart();
            if let Some(e) = &self.error {
                return Err(e.clone());
            }
        }
        while self.position() < target {
            if self.out_pos >= self.out.len() {
                if !self.fill()? {
                    return Err(StreamError {
                        code: Some(Code::CabData),
                        message: format!(
                            "folder {} output ends at {} bytes, before the member's offset {target}",
                            self.folder.index,
                            self.position()
                        ),
                    });
                }
            } else {
                let avail = self.out.len().saturating_sub(self.out_pos) as u64;
                let n = avail.min(target - self.position()) as usize;
                self.out_pos += n;
            }
        }
        Ok(())
    }

    /// Decode the next block into `out`. `Ok(false)` at the end of the folder.
    pub fn fill(&mut self) -> Result<bool, StreamError> {
        if let Some(e) = &self.error {
            return Err(e.clone());
        }
        let next = if self.pipe.is_some() {
            self.receive()
        } else {
            self.next_block()
        };
        match next {
            Ok(more) => Ok(more),
            Err(e) => {
                // A failed decode may have left `out` half written: drop it
                // so positions stay consistent for a later restart (a batch
                // being collected keeps its whole blocks).
                if !self.keep_out {
                    self.out.clear();
                }
                self.out_pos = 0;
                self.error = Some(e.clone());
                Err(e)
            }
        }
    }

    fn fail(&self, block_pos: u64, part: usize, message: String) -> StreamError {
        let name = self.parts.get(part).map_or("?", |p| p.name.as_str());
        StreamError {
            code: Some(if matches!(self.decoder, Decoder::Unsupported(_)) {
                Code::CabUnsupported
            } else {
                Code::CabData
            }),
            message: format!(
                "{name}: folder {}, block {} at offset {block_pos}: {message}",
                self.folder.index, self.block_no
            ),
        }
    }

    fn next_block(&mut self) -> Result<bool, StreamError> {
        loop {
            let Some(seg) = self.folder.segments.get(self.seg) else {
                if !self.cbuf.is_empty() {
                    let m = match &self.folder.missing_next {
                        Some(n) => {
                            format!("the folder continues in cabinet \"{n}\", which was not found")
                        }
                        None => {
                            "the last block continues in a next cabinet that the set does not have"
                                .into()
                        }
                    };
                    let part = self.folder.segments.last().map_or(0, |s| s.part);
                    return Err(self.fail(self.pos, part, m));
                }
                return Ok(false);
            };
            if self.block_in_seg >= seg.ndata {
                self.seg += 1;
                self.block_in_seg = 0;
                if let Some(next) = self.folder.segments.get(self.seg) {
                    self.pos = next.data_offset;
                }
                continue;
            }
            let part_ix = seg.part;
            let block_pos = self.pos;
            let last_in_seg = self.block_in_seg + 1 == seg.ndata;
            let has_next_seg = self.seg + 1 < self.folder.segments.len();
            let Some(part) = self.parts.get_mut(part_ix) else {
                return Err(self.fail(block_pos, part_ix, "cabinet part missing".into()));
            };
            let reserve = usize::from(part.hdr.data_reserve);
            let mut head = [0u8; 8 + 255];
            let head = &mut head[..8 + reserve];
            let part_len = part.len;
            if let Err(e) = part.read_at(block_pos, head) {
                return Err(self.fail(
                    block_pos,
                    part_ix,
                    format!("cannot read the CFDATA header ({e}); the cabinet is {part_len} bytes"),
                ));
            }
            let stored = u32::from_le_bytes([head[0], head[1], head[2], head[3]]);
            let cb = u16::from_le_bytes([head[4], head[5]]);
            let ucb = u16::from_le_bytes([head[6], head[7]]);
            let counts = [head[4], head[5], head[6], head[7]];
            let data_pos = block_pos + 8 + reserve as u64;
            let data_end = data_pos + u64::from(cb);
            if data_end > part_len {
                return Err(self.fail(
                    block_pos,
                    part_ix,
                    format!(
                        "{cb} bytes of block data run past the end of the cabinet ({part_len} bytes)"
                    ),
                ));
            }
            let old = self.cbuf.len();
            self.cbuf.resize(old + usize::from(cb), 0);
            let Some(part) = self.parts.get_mut(part_ix) else {
                return Err(self.fail(block_pos, part_ix, "cabinet part missing".into()));
            };
            let read = part.read_at(data_pos, &mut self.cbuf[old..]);
            if let Err(e) = read {
                return Err(self.fail(block_pos, part_ix, format!("cannot read block data ({e})")));
            }
            if stored != 0 {
                let computed = checksum(&counts, checksum(&self.cbuf[old..], 0));
                if computed != stored && self.reported_bad.insert((part_ix, block_pos)) {
                    self.bad_output
                        .push((self.produced, self.produced + u64::from(ucb)));
                    let name = self.parts.get(part_ix).map_or("?", |p| p.name.as_str());
                    self.findings.push(Finding::error(
                        Code::CabChecksum,
                        name,
                        format!(
                            "folder {}, block {} at offset {block_pos}: stored checksum {stored:08x}, computed {computed:08x}",
                            self.folder.index, self.block_no
                        ),
                    ));
                }
            }
            self.pos = data_end;
            self.block_in_seg += 1;
            if ucb == 0 {
                if last_in_seg && has_next_seg {
                    // The block's compressed bytes continue in the next part.
                    continue;
                }
                if last_in_seg && self.folder.missing_next.is_some() {
                    continue; // reported at the end of the segments
                }
                return Err(self.fail(block_pos, part_ix, "block declares no output".into()));
            }
            let ucb = usize::from(ucb);
            if ucb > MAX_BLOCK_OUTPUT {
                return Err(self.fail(
                    block_pos,
                    part_ix,
                    format!("block declares {ucb} bytes of output, more than 32768"),
                ));
            }
            if self.budget < ucb as u64 {
                return Err(self.fail(
                    block_pos,
                    part_ix,
                    "decompression budget exhausted (members overlap too often; raise --max-total-size)".into(),
                ));
            }
            self.budget -= ucb as u64;
            if let Err(m) = self.meter.charge(ucb as u64) {
                return Err(StreamError {
                    code: RATIO_EXCEEDED,
                    message: m,
                });
            }
            let cbuf = std::mem::take(&mut self.cbuf);
            if !self.keep_out {
                self.out.clear();
            }
            let before = self.out.len();
            let r = self.decoder.block(&cbuf, ucb, &mut self.out);
            self.cbuf = cbuf;
            self.cbuf.clear();
            if let Err(m) = r {
                // The decoder may have left part of the block in `out`: cut
                // it so `out_pos <= out.len()` holds for the next reader of
                // this (now failed) stream, and a batch being collected
                // keeps only whole blocks.
                self.out.truncate(before);
                self.out_pos = 0;
                return Err(self.fail(block_pos, part_ix, m));
            }
            self.out_pos = 0;
            self.produced += ucb as u64;
            self.block_no += 1;
            return Ok(true);
        }
    }
}

/// One member's bytes out of a [`FolderStream`]. The first read positions the
/// stream; any failure is sticky and also recorded in `error` for the walk.
pub(crate) struct MemberReader<'s, 'a> {
    pub fs: &'s mut FolderStream<'a>,
    pub start: Option<u64>,
    pub remaining: u64,
    pub path: String,
    pub error: Option<StreamError>,
}

impl MemberReader<'_, '_> {
    fn failed(&mut self, e: StreamError) -> io::Error {
        let io = io::Error::new(
            io::ErrorKind::InvalidData,
            format!("{}: {}", self.path, e.message),
        );
        self.error = Some(e);
        io
    }
}

impl MemberReader<'_, '_> {
    /// Make the next bytes of the member available in `fs.out`, up to `max`
    /// of them: returns where they start in `fs.out` and how many. Nothing
    /// is taken yet.
    fn available(&mut self, max: usize) -> io::Result<(usize, usize)> {
        if let Some(e) = &self.error {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("{}: {}", self.path, e.message),
            ));
        }
        if self.remaining == 0 || max == 0 {
            return Ok((0, 0));
        }
        if let Some(start) = self.start.take()
            && let Err(e) = self.fs.seek_to(start)
        {
            return Err(self.failed(e));
        }
        if self.fs.out_pos >= self.fs.out.len() {
            match self.fs.fill() {
                Ok(true) => {}
                Ok(false) => {
                    let e = StreamError {
                        code: Some(Code::CabRange),
                        message: format!(
                            "folder {} output ends at {} bytes with {} bytes of the member still to come",
                            self.fs.folder.index,
                            self.fs.position(),
                            self.remaining
                        ),
                    };
                    return Err(self.failed(e));
                }
                Err(e) => return Err(self.failed(e)),
            }
        }
        let at = self.fs.out_pos;
        let avail = self.fs.out.len().saturating_sub(at);
        let n = max
            .min(avail)
            .min(usize::try_from(self.remaining).unwrap_or(usize::MAX));
        Ok((at, n))
    }

    /// Take `n` bytes that [`available`](Self::available) offered.
    fn take(&mut self, n: usize) {
        self.fs.out_pos += n;
        self.remaining -= n as u64;
    }

    /// [`available`](Self::available) and take them.
    fn advance(&mut self, max: usize) -> io::Result<(usize, usize)> {
        let (at, n) = self.available(max)?;
        self.take(n);
        Ok((at, n))
    }

    /// Decode the rest of the member without copying it anywhere (checksums
    /// and stream errors are still caught).
    pub fn drain(&mut self) -> io::Result<()> {
        while self.advance(usize::MAX)?.1 > 0 {}
        Ok(())
    }
}

impl Read for MemberReader<'_, '_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let (at, n) = self.advance(buf.len())?;
        if let Some(src) = self.fs.out.get(at..at + n) {
            buf[..n].copy_from_slice(src);
        }
        Ok(n)
    }
}

/// The member's bytes straight out of the decoder's block buffer: hashing
/// and writing through `fill_buf` save a copy of every byte.
impl BufRead for MemberReader<'_, '_> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        let (at, n) = self.available(usize::MAX)?;
        Ok(self.fs.out.get(at..at + n).unwrap_or(&[]))
    }

    fn consume(&mut self, amt: usize) {
        let avail = self.fs.out.len().saturating_sub(self.fs.out_pos);
        let n = amt
            .min(avail)
            .min(usize::try_from(self.remaining).unwrap_or(usize::MAX));
        self.take(n);
    }
}

/// A reader that only fails: the member exists in the listing but its bytes
/// cannot be produced.
pub(crate) struct FailReader(pub String);

impl Read for FailReader {
    fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
        Err(io::Error::new(io::ErrorKind::InvalidData, self.0.clone()))
    }
}

impl BufRead for FailReader {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        Err(io::Error::new(io::ErrorKind::InvalidData, self.0.clone()))
    }

    fn consume(&mut self, _: usize) {}
}

/// Bytes `start..end` of part `part` that hold CFDATA blocks.
pub(crate) type Span = (usize, u64, u64);

/// Sum the declared output of a folder and find where its blocks end, by
/// reading only the CFDATA headers. Returns (total output, spans per part).
pub(crate) fn prescan(
    parts: &mut [Part],
    folder: &Folder,
    blocks_left: &mut u64,
) -> Result<(u64, Vec<Span>), String> {
    let mut total = 0u64;
    let mut spans = Vec::new();
    for seg in &folder.segments {
        let Some(part) = parts.get_mut(seg.part) else {
            return Err("cabinet part missing".into());
        };
        let reserve = u64::from(part.hdr.data_reserve);
        let mut pos = seg.data_offset;
        for b in 0..seg.ndata {
            if *blocks_left == 0 {
                return Err(format!(
                    "{}: folder {}: more CFDATA blocks than the cabinets can hold; folders share data",
                    part.name, folder.index
                ));
            }
            *blocks_left -= 1;
            let mut head = [0u8; 8];
            if pos.saturating_add(8 + reserve) > part.len || part.read_at(pos, &mut head).is_err() {
                return Err(format!(
                    "{}: folder {}: CFDATA block {b} at offset {pos} lies beyond the end of the cabinet ({} bytes)",
                    part.name, folder.index, part.len
                ));
            }
            let cb = u64::from(u16::from_le_bytes([head[4], head[5]]));
            total += u64::from(u16::from_le_bytes([head[6], head[7]]));
            let end = pos + 8 + reserve + cb;
            if end > part.len {
                return Err(format!(
                    "{}: folder {}: CFDATA block {b} at offset {pos} ends at {end}, beyond the end of the cabinet ({} bytes)",
                    part.name, folder.index, part.len
                ));
            }
            pos = end;
        }
        spans.push((seg.part, seg.data_offset, pos));
    }
    Ok((total, spans))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mszip_keeps_history_across_blocks() {
        use flate2::{Compress, Compression as Level, FlushCompress};
        // Two deflate streams where the second repeats the first block's
        // text: it only decodes when the ring keeps the history.
        let a = b"the quick brown fox jumps over the lazy dog. ".repeat(20);
        let mut c = Compress::new(Level::best(), false);
        let mut out1 = Vec::with_capacity(4096);
        c.compress_vec(&a, &mut out1, FlushCompress::Finish)
            .unwrap();
        let mut m = Mszip::new();
        let mut block = b"CK".to_vec();
        block.extend_from_slice(&out1);
        let mut out = Vec::new();
        m.block(&block, a.len(), &mut out).unwrap();
        assert_eq!(out, a);
        // A hand-built fixed-Huffman block: one match of length 10 at distance
        // `a.len()` (into the previous block), then end of block.
        let dist_back = a.len();
        assert!(dist_back < 1025 && dist_back > 768);
        let mut bits: Vec<u8> = Vec::new();
        let mut push = |v: u32, n: u32, msb_first: bool| {
            for i in 0..n {
                let bit = if msb_first {
                    (v >> (n - 1 - i)) & 1
                } else {
                    (v >> i) & 1
                };
                bits.push(bit as u8);
            }
        };
        push(1, 1, false); // BFINAL
        push(1, 2, false); // fixed Huffman
        push(0b0001000, 7, true); // length code 264 = length 10
        push(19, 5, true); // distance code 19: 769..1024, 8 extra bits
        push((dist_back - 769) as u32, 8, false);
        push(0, 7, true); // end of block (256)
        let mut bytes = vec![0u8; bits.len().div_ceil(8)];
        for (i, b) in bits.iter().enumerate() {
            bytes[i / 8] |= b << (i % 8);
        }
        let mut block2 = b"CK".to_vec();
        block2.extend_from_slice(&bytes);
        // Blocks append to the caller's buffer.
        m.block(&block2, 10, &mut out).unwrap();
        assert_eq!(out.len(), a.len() + 10);
        assert_eq!(&out[a.len()..], &a[..10]);
    }

    #[test]
    fn mszip_rejects_missing_signature_and_wrong_size() {
        let mut m = Mszip::new();
        let mut out = Vec::new();
        assert!(
            m.block(b"XX\x03\x00", 0, &mut out)
                .unwrap_err()
                .contains("CK")
        );
        // Empty stored deflate block (final), declared as 5 bytes.
        let e = m.block(b"CK\x01\x00\x00\xff\xff", 5, &mut out).unwrap_err();
        assert!(e.contains("0 bytes, 5 declared"), "{e}");
    }

    #[test]
    fn mszip_block_without_final_bit_is_accepted_at_its_size() {
        // A non-final stored deflate block holding "abc", nothing after it.
        let mut m = Mszip::new();
        let mut out = Vec::new();
        m.block(b"CK\x00\x03\x00\xfc\xffabc", 3, &mut out).unwrap();
        assert_eq!(out, b"abc");
        // The same block declared longer is an error, not a short block.
        let e = m
            .block(b"CK\x00\x03\x00\xfc\xffabc", 4, &mut out)
            .unwrap_err();
        assert!(e.contains("ends before"), "{e}");
    }

    fn limits(max_ratio: u64, ratio_floor: u64) -> super::super::Limits {
        super::super::Limits {
            max_ratio,
            ratio_floor,
            ..Default::default()
        }
    }

    #[test]
    fn ratio_is_checked_past_the_floor_only() {
        let m = DecodeMeter::new(&limits(10, 1000), 10);
        // 10,000:1 but under the floor.
        assert!(m.charge(1000).is_ok());
        // Past the floor: 1001 bytes from 10 is over 10:1.
        let e = m.charge(1).unwrap_err();
        assert!(
            e.contains("1001 bytes decoded") && e.contains("ratio 100:1"),
            "{e}"
        );
        // A later part of the set adds input on disk and lowers the ratio.
        m.add_input(100);
        assert!(m.charge(99).is_ok(), "1100 bytes from 110 is 10:1");
        assert!(m.charge(1).is_err(), "1101 bytes from 110 is over 10:1");
    }

    #[test]
    fn ratio_zero_is_off_and_empty_input_counts_as_one_byte() {
        let off = DecodeMeter::new(&limits(0, 0), 1);
        assert!(off.charge(u64::MAX / 2).is_ok());
        assert!(off.charge(u64::MAX).is_ok(), "saturates, never wraps");
        let empty = DecodeMeter::new(&limits(5, 0), 0);
        assert!(empty.charge(5).is_ok());
        assert!(empty.charge(1).is_err());
    }

    /// The default floor lets cabextract's large-files-cab.cab (26,554 bytes
    /// on disk, 14,689,228 + 3 × 2,147,450,880 bytes decoded) through.
    #[test]
    fn default_limits_pass_the_large_files_cabinet() {
        let m = DecodeMeter::new(&super::super::Limits::default(), 26_554);
        assert!(m.charge(14_689_228).is_ok());
        for _ in 0..3 {
            assert!(m.charge(2_147_450_880).is_ok());
        }
    }

    #[test]
    fn compression_types() {
        assert_eq!(
            compression_of(0x1503),
            Some(Compression::Lzx { window_bits: 21 })
        );
        assert_eq!(
            compression_of(0x1222),
            Some(Compression::Quantum {
                level: 2,
                window_bits: 18
            })
        );
        assert_eq!(compression_of(0x0007), None);
    }
}
