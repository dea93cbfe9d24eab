//! Walking one cabinet (or cabinet set): open its parts, merge split
//! folders, report structural anomalies, then stream every folder once and
//! hand members to the visitor in offset order, recursing into nested cabinets.

use std::io::{BufRead, Cursor, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use super::cab::{
    self, FLAG_NEXT_CABINET, FLAG_PREV_CABINET, IFOLD_CONTINUED_FROM_PREV,
    IFOLD_CONTINUED_PREV_AND_NEXT, IFOLD_CONTINUED_TO_NEXT, Src,
};
use super::stream::{
    AheadDone, DecodeMeter, FailReader, Folder, FolderStream, MemberReader, Part, Segment, Span,
    StreamError, decode_ahead, pipe_channels, prescan,
};
use super::{
    ContainerInfo, ContainerKind, DecodeContext, Error, Limits, MemberMeta, Result, Signature,
    Visitor, WalkReport,
};
use crate::finding::{Code, Finding};

/// Nested cabinets up to this size are spooled in memory, larger ones to a
/// temporary file. The threshold halves with each level, so all in-memory
/// spools of one chain of nesting together stay under twice this.
const SPOOL_IN_MEMORY: u64 = 16 << 20;
/// A set longer than this is treated as a loop.
const MAX_PARTS: usize = 1000;

pub(crate) struct Walker<'v, 'a> {
    pub limits: &'v Limits,
    pub visitor: &'v mut Visitor<'a>,
    pub report: &'v mut WalkReport,
    pub total_declared: u64,
    /// Members declared by every cabinet walked so far.
    pub members_declared: u64,
    /// Decompressed bytes still allowed (overlapping members re-decode).
    pub budget: u64,
    /// Decode what the visitor leaves unread (see `WalkOptions`).
    pub verify_unread: bool,
    /// Decoded bytes of the whole walk against the input on disk.
    pub meter: std::sync::Arc<DecodeMeter>,
    /// Further parts of a set count as input on disk (a file input; for a
    /// directory input they are counted with the directory).
    pub parts_are_input: bool,
    /// Buffers and the thread budget.
    pub ctx: DecodeContext,
    /// Told how far the walk is: a stage per cabinet.
    pub progress: Option<super::ProgressHandle>,
    /// The stage of each cabinet being walked, innermost last.
    stages: Vec<super::Stage>,
}

struct Member {
    folder: Option<usize>,
    entry: cab::FileEntry,
    part: usize,
}

/// Folders smaller than this are decoded inline: a thread costs more than
/// it saves.
const DECODE_AHEAD_MIN: u64 = 1 << 20;

/// Whether to decode `folder` on a helper thread (when the thread budget
/// has one free as it starts): only when the folder is compressed and
/// large, and its members are sorted and do not overlap, so the stream
/// never has to go back.
fn decode_ahead_worthwhile(folder: &Folder, members: &[&Member], total: Option<u64>) -> bool {
    matches!(
        folder.compression,
        Some(super::Compression::Lzx { .. } | super::Compression::Mszip)
    ) && total.is_some_and(|t| t >= DECODE_AHEAD_MIN)
        && members.windows(2).all(|w| {
            u64::from(w[0].entry.offset) + u64::from(w[0].entry.size)
                <= u64::from(w[1].entry.offset)
        })
}

/// Folders whose compressed bytes are at most this large are copied out
/// and decoded ahead on their own thread, several at once.
const PREFETCH_MAX_INPUT: u64 = 4 << 20;

/// A folder being decoded ahead on its own thread.
struct Prefetch<'scope> {
    folder: usize,
    rx: std::sync::mpsc::Receiver<std::result::Result<Vec<u8>, super::stream::StreamError>>,
    spent_tx: std::sync::mpsc::SyncSender<Vec<u8>>,
    handle: std::thread::ScopedJoinHandle<'scope, AheadDone>,
    /// The decompression budget it started with.
    budget: u64,
}

/// What a decoding thread that panicked leaves: a finding instead of its
/// results (the folder's members already failed or were read).
fn lost_decoder(display: &str, folder: &Folder) -> AheadDone {
    AheadDone {
        findings: vec![Finding::error(
            Code::CabData,
            display,
            format!(
                "folder {}: the decoding thread stopped unexpectedly",
                folder.index
            ),
        )],
        ..AheadDone::default()
    }
}

/// Parts like `parts` whose sources hold only the folder's CFDATA bytes
/// (`spans`), read now, so that another thread can decode the folder.
fn copy_folder_input(parts: &mut [Part], spans: &[Span]) -> std::io::Result<Vec<Part>> {
    let mut own: Vec<Part> = parts
        .iter()
        .map(|p| Part {
            name: p.name.clone(),
            src: Src::Window {
                data: Vec::new(),
                base: 0,
                pos: 0,
            },
            len: p.len,
            // The decoding thread needs the block layout, not the 10,000
            // file entries a big package has.
            hdr: p.hdr.block_layout(),
            cur: None,
        })
        .collect();
    for &(pi, start, end) in spans {
        let (Some(p), Some(o)) = (parts.get_mut(pi), own.get_mut(pi)) else {
            return Err(std::io::Error::other("cabinet part missing"));
        };
        let len = usize::try_from(end.saturating_sub(start)).map_err(std::io::Error::other)?;
        let mut data = vec![0u8; len];
        p.read_at(start, &mut data)?;
        o.src = Src::Window {
            data,
            base: start,
            pos: start,
        };
    }
    Ok(own)
}

/// Find `name` in `dir`, exactly or else ignoring ASCII case
/// (`split-1.cab` names its next part `Split-2.CAB`).
fn find_part(dir: &Path, name: &str) -> Option<PathBuf> {
    if name.is_empty() || name.contains(['/', '\\']) || name == ".." {
        return None;
    }
    let exact = dir.join(name);
    if exact.is_file() {
        return Some(exact);
    }
    std::fs::read_dir(dir).ok()?.flatten().find_map(|e| {
        let n = e.file_name();
        let n = n.to_string_lossy();
        (n.eq_ignore_ascii_case(name) && e.path().is_file()).then(|| e.path())
    })
}

impl<'v, 'a> Walker<'v, 'a> {
    /// A walk over `input_len` bytes on disk. `parts_are_input`: further
    /// parts of a cabinet set count as input (a file input; a directory
    /// input has counted them already).
    pub fn new(
        limits: &'v Limits,
        visitor: &'v mut Visitor<'a>,
        report: &'v mut WalkReport,
        opts: &super::WalkOptions,
        input_len: u64,
        parts_are_input: bool,
    ) -> Self {
        Walker {
            limits,
            visitor,
            report,
            total_declared: 0,
            members_declared: 0,
            budget: super::decode_budget(limits),
            verify_unread: opts.verify_unread,
            meter: std::sync::Arc::new(DecodeMeter::new(limits, input_len)),
            parts_are_input,
            ctx: opts.context.clone(),
            progress: opts.progress.clone(),
            stages: Vec::new(),
        }
    }
}

impl Walker<'_, '_> {
    fn finding(&mut self, f: Finding) {
        self.report.findings.push(f);
    }

    /// Walk the cabinet in `src`. `display` names it in messages, `tree` is
    /// its path in the tree (`""` for the input), `dir` where further parts
    /// of a set are looked for, `depth` the depth of its members.
    pub fn cabinet(
        &mut self,
        src: Src,
        len: u64,
        display: &str,
        tree: &str,
        dir: Option<&Path>,
        depth: u32,
    ) -> Result<()> {
        let open = self.stages.len();
        let walked = self.cabinet_stage(src, len, display, tree, dir, depth);
        // This cabinet's stage ends however the walk did.
        self.stages.truncate(open);
        walked
    }

    /// The innermost cabinet's stage moves past a member of `size` bytes.
    fn advance(&mut self, size: u64) {
        if let Some(s) = self.stages.last_mut() {
            s.advance(size);
        }
    }

    fn cabinet_stage(
        &mut self,
        mut src: Src,
        len: u64,
        display: &str,
        tree: &str,
        dir: Option<&Path>,
        depth: u32,
    ) -> Result<()> {
        if depth > self.limits.max_depth {
            return Err(Error::Limit {
                file: display.to_string(),
                message: format!("cabinet nested {depth} levels deep"),
                limit: u64::from(self.limits.max_depth),
                flag: "--max-depth",
            });
        }
        let hdr = cab::parse_header(&mut src, display, self.limits.max_members)?;
        self.members_declared = self.members_declared.saturating_add(hdr.files.len() as u64);
        if self.members_declared > self.limits.max_total_members {
            return Err(Error::Limit {
                file: display.to_string(),
                message: format!(
                    "the tree declares {} members with this cabinet",
                    self.members_declared
                ),
                limit: self.limits.max_total_members,
                flag: "--max-total-members",
            });
        }
        let mut parts = vec![Part {
            name: display.to_string(),
            src,
            len,
            hdr,
            cur: None,
        }];
        let missing_next = self.open_set(&mut parts, dir);
        let mut info = ContainerInfo {
            path: tree.to_string(),
            kind: if display.to_ascii_lowercase().ends_with(".msu") {
                ContainerKind::Msu
            } else {
                ContainerKind::Cab
            },
            size: len,
            folders: 0,
            files: 0,
            set_id: Some(parts[0].hdr.set_id),
            set_index: Some(parts[0].hdr.set_index),
            parts: parts.iter().skip(1).map(|p| p.name.clone()).collect(),
            signature: None,
        };
        for (i, p) in parts.iter().enumerate() {
            self.header_findings(p, &mut info, i == 0);
        }
        let (folders, members) = self.merge(&parts, missing_next);
        // `members` holds a copy of every CFFILE entry now; the parts'
        // tables are not read again, and a name per member is worth
        // freeing for the whole walk of a large cabinet.
        for p in &mut parts {
            p.hdr.files = Vec::new();
        }
        info.folders = folders.len() as u32;
        info.files = members.len() as u32;
        self.report.containers.push(info);
        // The stage's total, from the headers, before anything is decoded.
        let declared = members
            .iter()
            .fold(0u64, |a, m| a.saturating_add(u64::from(m.entry.size)));
        if let Some(stage) = super::Stage::begin(
            self.progress.as_ref(),
            display,
            super::Unit::Bytes,
            declared,
        ) {
            self.stages.push(stage);
        }

        // Members of each folder in offset order, grouped once: a hostile
        // header may declare 65535 folders and 65535 files.
        let mut by_folder: Vec<Vec<usize>> = vec![Vec::new(); folders.len()];
        for (i, m) in members.iter().enumerate() {
            if let Some(list) = m.folder.and_then(|f| by_folder.get_mut(f)) {
                list.push(i);
            }
        }
        for list in &mut by_folder {
            list.sort_by_key(|&i| (members[i].entry.offset, members[i].entry.size));
        }

        let mut spans: Vec<(usize, u64, u64)> = Vec::new();
        let mut folder_spans: Vec<Vec<Span>> = Vec::with_capacity(folders.len());
        let mut totals: Vec<Option<u64>> = Vec::with_capacity(folders.len());
        // Every CFDATA header takes at least 8 bytes, so more headers than
        // that means folders share blocks: stop scanning rather than loop.
        let mut blocks_left = parts.iter().map(|p| p.len / 8 + 1).sum::<u64>();
        for f in &folders {
            match prescan(&mut parts, f, &mut blocks_left) {
                Ok((t, s)) => {
                    totals.push(Some(t));
                    spans.extend(s.iter().copied());
                    folder_spans.push(s);
                }
                Err(m) => {
                    totals.push(None);
                    folder_spans.push(Vec::new());
                    self.finding(Finding::error(Code::CabRange, display, m));
                }
            }
        }
        self.layout_findings(&parts, &spans);
        self.range_findings(display, tree, &folders, &members, &by_folder, &totals);

        let prefix = if tree.is_empty() {
            String::new()
        } else {
            format!("{tree}/")
        };
        // Members without a usable folder first (they fail), then folder by folder.
        for m in members.iter().filter(|m| m.folder.is_none()) {
            let meta = self.meta(&prefix, m, None, depth);
            self.check_limits(display, &meta)?;
            let msg = format!(
                "{}: {}: CFFILE at offset {} names folder {}, which the cabinet does not have",
                meta.path,
                parts.get(m.part).map_or("?", |p| p.name.as_str()),
                m.entry.entry_offset,
                m.entry.folder
            );
            self.finding(Finding::error(Code::CabFolderIndex, &meta.path, &msg));
            let r = (self.visitor)(&meta, &mut FailReader(msg));
            drop(r); // the failure is recorded above
            self.advance(meta.size);
        }
        let in_folder_of = |fi: usize| -> Vec<&Member> {
            by_folder
                .get(fi)
                .map(|l| l.iter().map(|&i| &members[i]).collect())
                .unwrap_or_default()
        };
        // Folders worth decoding on another thread, and of those the ones
        // small enough (compressed) to copy out, so that several decode at
        // once, each from its own copy, while this thread visits members.
        let threads = self.ctx.threads();
        let ahead: Vec<bool> = (0..folders.len())
            .map(|fi| {
                threads > 1
                    && decode_ahead_worthwhile(
                        &folders[fi],
                        &in_folder_of(fi),
                        totals.get(fi).copied().flatten(),
                    )
            })
            .collect();
        // Each folder's entries move into a list of their own, dropped once
        // the folder is visited: a large cabinet's names would otherwise
        // wait for the end of its walk.
        let mut slots: Vec<Option<Member>> = members.into_iter().map(Some).collect();
        let mut per_folder: Vec<Vec<Member>> = by_folder
            .iter()
            .map(|l| {
                l.iter()
                    .filter_map(|&i| slots.get_mut(i).and_then(Option::take))
                    .collect()
            })
            .collect();
        drop(slots);
        drop(by_folder);
        let prefetchable = |fi: usize| -> bool {
            ahead.get(fi).copied().unwrap_or(false)
                && folder_spans.get(fi).is_some_and(|sp| {
                    !sp.is_empty()
                        && sp.iter().map(|&(_, a, b)| b.saturating_sub(a)).sum::<u64>()
                            <= PREFETCH_MAX_INPUT
                })
        };
        std::thread::scope(|scope| -> Result<()> {
            let mut in_flight: std::collections::VecDeque<Prefetch<'_>> = Default::default();
            let mut next_launch = 0usize;
            for (fi, folder) in folders.iter().enumerate() {
                // Keep the next `threads - 1` folders decoding on helper
                // threads while the budget has them; this thread decodes
                // the current one itself unless a helper already does (so
                // no thread waits idle while another decodes).
                next_launch = next_launch.max(fi + 1);
                while next_launch < folders.len() && next_launch < fi + threads {
                    let li = next_launch;
                    if !prefetchable(li) || per_folder.get(li).is_none_or(Vec::is_empty) {
                        next_launch += 1;
                        continue;
                    }
                    let Some(f) = folders.get(li) else { break };
                    // No thread free: try again at the next folder.
                    let Some(slot) = self.ctx.helper() else { break };
                    next_launch += 1;
                    let sp = folder_spans.get(li).map(Vec::as_slice).unwrap_or(&[]);
                    match copy_folder_input(&mut parts, sp) {
                        Ok(mut own) => {
                            let budget = self.budget;
                            let ((tx, spent_rx), (rx, spent_tx)) = pipe_channels();
                            let meter = self.meter.clone();
                            let ctx = self.ctx.clone();
                            let handle = scope.spawn(move || {
                                let _slot = slot;
                                decode_ahead(&mut own, f, budget, meter, tx, spent_rx, &ctx)
                            });
                            in_flight.push_back(Prefetch {
                                folder: li,
                                rx,
                                spent_tx,
                                handle,
                                budget,
                            });
                        }
                        // Unreadable here: the folder is read in place below,
                        // where the error is reported with its offset.
                        Err(_) => continue,
                    }
                }
                let owned = per_folder
                    .get_mut(fi)
                    .map(std::mem::take)
                    .unwrap_or_default();
                let in_folder: Vec<&Member> = owned.iter().collect();
                if in_folder.is_empty() {
                    continue;
                }
                if in_flight.front().is_some_and(|p| p.folder == fi) {
                    let Some(p) = in_flight.pop_front() else {
                        continue;
                    };
                    let mut fs = FolderStream::piped(folder, p.rx, p.spent_tx, &self.ctx);
                    let visited =
                        self.visit_folder(&mut fs, &in_folder, folder, &prefix, display, depth);
                    // The reading end is gone now, so the decoder stops.
                    drop(fs);
                    let done = p
                        .handle
                        .join()
                        .unwrap_or_else(|_| lost_decoder(display, folder));
                    self.finish_ahead(done, p.budget, &in_folder, folder, &prefix);
                    visited?;
                    continue;
                }
                if ahead.get(fi).copied().unwrap_or(false)
                    && let Some(slot) = self.ctx.helper()
                {
                    // Decode on a helper thread while the visitor (hashing,
                    // parsing, writing) consumes the output on this one.
                    let budget = self.budget;
                    let meter = self.meter.clone();
                    let ((tx, spent_rx), (rx, spent_tx)) = pipe_channels();
                    let parts = &mut parts;
                    let ctx = self.ctx.clone();
                    let (visited, done) = std::thread::scope(|s| {
                        let decoder = s.spawn(move || {
                            let _slot = slot;
                            decode_ahead(parts, folder, budget, meter, tx, spent_rx, &ctx)
                        });
                        let mut fs = FolderStream::piped(folder, rx, spent_tx, &self.ctx);
                        let visited =
                            self.visit_folder(&mut fs, &in_folder, folder, &prefix, display, depth);
                        drop(fs);
                        let done = decoder
                            .join()
                            .unwrap_or_else(|_| lost_decoder(display, folder));
                        (visited, done)
                    });
                    self.finish_ahead(done, budget, &in_folder, folder, &prefix);
                    visited?;
                    continue;
                }
                let mut fs = FolderStream::new(
                    &mut parts,
                    folder,
                    self.budget,
                    self.meter.clone(),
                    &self.ctx,
                );
                if let Err(e) =
                    self.visit_folder(&mut fs, &in_folder, folder, &prefix, display, depth)
                {
                    self.report.findings.append(&mut fs.findings);
                    return Err(e);
                }
                let bad = std::mem::take(&mut fs.bad_output);
                let mut findings = std::mem::take(&mut fs.findings);
                let decoded = fs.decoded();
                drop(fs);
                self.report.findings.append(&mut findings);
                self.checksum_members(&prefix, &in_folder, &bad, folder);
                // Nested walks have already taken their share from `self.budget`.
                self.budget = self.budget.saturating_sub(decoded);
            }
            // Dropping what is still in flight (after an error) hangs up on
            // those decoders; the scope then joins them.
            Ok(())
        })
    }

    /// Hand the members of one folder, in offset order, to the visitor.
    fn visit_folder(
        &mut self,
        fs: &mut FolderStream<'_>,
        members: &[&Member],
        folder: &Folder,
        prefix: &str,
        display: &str,
        depth: u32,
    ) -> Result<()> {
        let mut visit = || -> Result<()> {
            for m in members {
                let meta = self.meta(prefix, m, Some(folder), depth);
                self.check_limits(display, &meta)?;
                let size = meta.size;
                self.member(fs, m, meta, depth)?;
                self.advance(size);
            }
            Ok(())
        };
        let visited = visit();
        // As far as this folder's reader went, however the visit ended.
        self.report.decoded += fs.position();
        visited
    }

    /// Take in what a decoding thread left for a folder it decoded with
    /// `budget`: its findings, the members of bad blocks, the budget used
    /// (nested walks during the visit have taken their own share already).
    fn finish_ahead(
        &mut self,
        done: AheadDone,
        budget: u64,
        members: &[&Member],
        folder: &Folder,
        prefix: &str,
    ) {
        let mut findings = done.findings;
        self.report.findings.append(&mut findings);
        self.checksum_members(prefix, members, &done.bad_output, folder);
        let used = budget.saturating_sub(done.budget_left);
        self.budget = self.budget.saturating_sub(used);
    }

    /// Name every member whose bytes come (partly) from a block whose
    /// checksum failed: cabextract fails such members; here they keep their
    /// bytes but carry an error finding of their own.
    fn checksum_members(
        &mut self,
        prefix: &str,
        members: &[&Member],
        bad: &[(u64, u64)],
        folder: &Folder,
    ) {
        for m in members {
            let (start, end) = (
                u64::from(m.entry.offset),
                u64::from(m.entry.offset) + u64::from(m.entry.size),
            );
            if let Some(&(a, b)) = bad.iter().find(|&&(a, b)| a < end && start < b) {
                let path = format!("{prefix}{}", m.entry.name.replace('\\', "/"));
                self.finding(Finding::error(
                    Code::CabChecksum,
                    &path,
                    format!(
                        "bytes of this member come from folder {} output {a}..{b}, a block whose checksum does not match",
                        folder.index
                    ),
                ));
            }
        }
    }

    fn meta(&self, prefix: &str, m: &Member, folder: Option<&Folder>, depth: u32) -> MemberMeta {
        MemberMeta {
            path: format!("{prefix}{}", m.entry.name.replace('\\', "/")),
            name: m.entry.name.clone(),
            size: u64::from(m.entry.size),
            modified: super::Timestamp::from_dos(m.entry.date, m.entry.time),
            compression: folder
                .and_then(|f| f.compression)
                .unwrap_or(super::Compression::None),
            folder: folder.map(|f| f.index),
            depth,
            attributes: m.entry.attribs,
            is_container: false,
        }
    }

    fn check_limits(&mut self, display: &str, meta: &MemberMeta) -> Result<()> {
        if meta.size > self.limits.max_member_size {
            return Err(Error::Limit {
                file: display.to_string(),
                message: format!("member {} declares {} bytes", meta.path, meta.size),
                limit: self.limits.max_member_size,
                flag: "--max-member-size",
            });
        }
        self.total_declared = self.total_declared.saturating_add(meta.size);
        if self.total_declared > self.limits.max_total_size {
            return Err(Error::Limit {
                file: display.to_string(),
                message: format!(
                    "members declare {} bytes in total (reached at {})",
                    self.total_declared, meta.path
                ),
                limit: self.limits.max_total_size,
                flag: "--max-total-size",
            });
        }
        Ok(())
    }

    /// Visit one member; nested cabinets are spooled, visited, then walked.
    fn member(
        &mut self,
        fs: &mut FolderStream<'_>,
        m: &Member,
        mut meta: MemberMeta,
        depth: u32,
    ) -> Result<()> {
        let mut reader = MemberReader {
            fs,
            start: Some(u64::from(m.entry.offset)),
            remaining: meta.size,
            path: meta.path.clone(),
            error: None,
        };
        // Look at the first bytes for a cabinet signature: in place when
        // the current block holds them (the visitor then gets the reader
        // itself), else read and put back in front with a chain.
        let mut peek = [0u8; 4];
        let mut got = 0;
        let mut taken = 0;
        if meta.size >= cab::HEADER_SIZE {
            if let Ok(b) = reader.fill_buf()
                && let Some(head) = b.get(..4)
            {
                peek.copy_from_slice(head);
                got = 4;
            } else {
                while got < 4 {
                    match reader.read(&mut peek[got..]) {
                        Ok(0) => break,
                        Ok(n) => got += n,
                        Err(_) => break,
                    }
                }
                taken = got;
            }
        }
        if reader.error.is_none() && got == 4 && &peek == cab::SIGNATURE {
            return self.nested(reader, &peek[..taken], meta, depth);
        }
        let visit = if taken == 0 {
            (self.visitor)(&meta, &mut reader)
        } else {
            let mut chained = (&peek[..taken]).chain(&mut reader);
            (self.visitor)(&meta, &mut chained)
        };
        // Whatever the visitor left unread is still checked, so a corrupt
        // tail is reported against this member and never passes silently.
        if self.verify_unread && visit.is_ok() && reader.error.is_none() {
            let _ = reader.drain();
        }
        if let Some(e) = reader.error.take() {
            let code = self.ratio_limit(&e, &meta.path)?;
            meta.is_container = false;
            self.finding(Finding::error(code, &meta.path, e.message));
            return Ok(());
        }
        visit.map_err(Error::Visitor)
    }

    /// A stream stopped by the ratio check ends the walk: the rest of the
    /// tree is what the bomb would expand into. Any other stream error is
    /// a finding: its code.
    fn ratio_limit(&self, e: &StreamError, member: &str) -> Result<Code> {
        if let Some(code) = e.code {
            return Ok(code);
        }
        Err(Error::Limit {
            file: member.to_string(),
            message: format!("decoding stopped (a decompression bomb?): {}", e.message),
            limit: self.limits.max_ratio,
            flag: "--max-ratio",
        })
    }

    fn nested(
        &mut self,
        mut reader: MemberReader<'_, '_>,
        peek: &[u8],
        mut meta: MemberMeta,
        depth: u32,
    ) -> Result<()> {
        let spooled: std::io::Result<Src> = (|| {
            if meta.size <= SPOOL_IN_MEMORY >> depth.min(16) {
                let mut v = Vec::with_capacity(meta.size as usize);
                v.extend_from_slice(peek);
                reader.read_to_end(&mut v)?;
                Ok(Src::Mem(Cursor::new(v)))
            } else {
                let mut f = tempfile::tempfile()?;
                f.write_all(peek)?;
                std::io::copy(&mut reader, &mut f)?;
                f.seek(SeekFrom::Start(0))?;
                Ok(Src::from_file(f))
            }
        })();
        if let Some(e) = reader.error.take() {
            let code = self.ratio_limit(&e, &meta.path)?;
            self.finding(Finding::error(code, &meta.path, e.message.clone()));
            let _ = (self.visitor)(&meta, &mut FailReader(e.message));
            return Ok(());
        }
        let mut src = match spooled {
            Ok(s) => s,
            Err(e) => {
                return Err(Error::Io {
                    path: format!("{} (spooling the nested cabinet)", meta.path),
                    source: e,
                });
            }
        };
        meta.is_container = true;
        (self.visitor)(&meta, &mut src).map_err(Error::Visitor)?;
        if let Err(e) = src.seek(SeekFrom::Start(0)) {
            return Err(Error::Io {
                path: meta.path.clone(),
                source: e,
            });
        }
        match self.cabinet(src, meta.size, &meta.path, &meta.path, None, depth + 1) {
            Ok(()) => Ok(()),
            Err(e @ (Error::Limit { .. } | Error::Visitor(_))) => Err(e),
            Err(e) => {
                self.finding(Finding::error(Code::CabNested, &meta.path, e.to_string()));
                Ok(())
            }
        }
    }

    /// Follow `next` names from the first part. Returns the name of a part
    /// that was named but could not be opened.
    fn open_set(&mut self, parts: &mut Vec<Part>, dir: Option<&Path>) -> Option<String> {
        let mut seen: Vec<PathBuf> = Vec::new();
        loop {
            let last = parts.last()?;
            if last.hdr.flags & FLAG_NEXT_CABINET == 0 {
                return None;
            }
            let next = last.hdr.next.clone().unwrap_or_default();
            let (set_id, set_index, last_name) =
                (last.hdr.set_id, last.hdr.set_index, last.name.clone());
            if parts.len() >= MAX_PARTS {
                self.finding(Finding::error(
                    Code::CabSet,
                    &last_name,
                    format!("cabinet set has more than {MAX_PARTS} parts; stopped"),
                ));
                return Some(next);
            }
            let found = dir.and_then(|d| find_part(d, &next));
            let Some(path) = found else {
                let where_ = dir.map_or("the same container".to_string(), |d| {
                    d.display().to_string()
                });
                self.finding(Finding::error(
                    Code::CabMissingPart,
                    &last_name,
                    format!("cabinet set continues in \"{next}\", which is not in {where_}"),
                ));
                return Some(next);
            };
            let canon = path.canonicalize().unwrap_or_else(|_| path.clone());
            if seen.contains(&canon) {
                self.finding(Finding::error(
                    Code::CabSet,
                    &last_name,
                    format!("cabinet set loops back to {}", path.display()),
                ));
                return None;
            }
            seen.push(canon);
            let name = path.display().to_string();
            let opened = std::fs::File::open(&path).and_then(|f| {
                let len = f.metadata()?.len();
                Ok((f, len))
            });
            let (f, len) = match opened {
                Ok(x) => x,
                Err(e) => {
                    self.finding(Finding::error(Code::CabMissingPart, &name, e.to_string()));
                    return Some(next);
                }
            };
            if self.parts_are_input {
                self.meter.add_input(len);
            }
            let mut src = Src::from_file(f);
            let hdr = match cab::parse_header(&mut src, &name, self.limits.max_members) {
                Ok(h) => h,
                Err(e) => {
                    self.finding(Finding::error(Code::CabMissingPart, &name, e.to_string()));
                    return Some(next);
                }
            };
            if hdr.set_id != set_id || hdr.set_index != set_index.wrapping_add(1) {
                self.finding(Finding::warning(
                    Code::CabSet,
                    &name,
                    format!(
                        "set id {} index {} does not follow {} index {} of {last_name}",
                        hdr.set_id, hdr.set_index, set_id, set_index
                    ),
                ));
            }
            parts.push(Part {
                name,
                src,
                len,
                hdr,
                cur: None,
            });
        }
    }

    /// Merge split folders across parts and list each member once.
    fn merge(
        &mut self,
        parts: &[Part],
        missing_next: Option<String>,
    ) -> (Vec<Folder>, Vec<Member>) {
        let mut folders: Vec<Folder> = Vec::new();
        let mut map: Vec<Vec<usize>> = Vec::with_capacity(parts.len());
        let mut members = Vec::new();
        for (pi, p) in parts.iter().enumerate() {
            let continues_from_prev = pi > 0
                && p.hdr.flags & FLAG_PREV_CABINET != 0
                && (p.hdr.files.iter().any(|f| {
                    matches!(
                        f.folder,
                        IFOLD_CONTINUED_FROM_PREV | IFOLD_CONTINUED_PREV_AND_NEXT
                    )
                }) || parts[pi - 1].hdr.files.iter().any(|f| {
                    matches!(
                        f.folder,
                        IFOLD_CONTINUED_TO_NEXT | IFOLD_CONTINUED_PREV_AND_NEXT
                    )
                }));
            let mut local = Vec::with_capacity(p.hdr.folders.len());
            for (fi, f) in p.hdr.folders.iter().enumerate() {
                let seg = Segment {
                    part: pi,
                    data_offset: u64::from(f.data_offset),
                    ndata: f.ndata,
                };
                let prev_last = map.last().and_then(|m: &Vec<usize>| m.last().copied());
                match prev_last {
                    Some(g) if fi == 0 && continues_from_prev => {
                        if folders[g].comp_type != f.comp_type {
                            self.report.findings.push(Finding::error(
                                Code::CabSet,
                                &p.name,
                                format!(
                                    "folder continued from the previous cabinet changes compression from 0x{:04x} to 0x{:04x}",
                                    folders[g].comp_type, f.comp_type
                                ),
                            ));
                        }
                        folders[g].segments.push(seg);
                        local.push(g);
                    }
                    _ => {
                        folders.push(Folder {
                            index: folders.len() as u32,
                            compression: super::stream::compression_of(f.comp_type),
                            comp_type: f.comp_type,
                            segments: vec![seg],
                            missing_next: None,
                        });
                        local.push(folders.len() - 1);
                    }
                }
            }
            for e in &p.hdr.files {
                let g = match e.folder {
                    IFOLD_CONTINUED_FROM_PREV | IFOLD_CONTINUED_PREV_AND_NEXT => {
                        if continues_from_prev {
                            continue; // listed by the previous part already
                        }
                        self.report.findings.push(Finding::warning(
                            Code::CabSet,
                            &p.name,
                            format!(
                                "{} starts in the previous cabinet \"{}\", which was not opened (open the first part of the set)",
                                e.name,
                                p.hdr.prev.as_deref().unwrap_or("?")
                            ),
                        ));
                        continue;
                    }
                    IFOLD_CONTINUED_TO_NEXT => local.last().copied(),
                    i => local.get(usize::from(i)).copied(),
                };
                if e.name.is_empty() {
                    self.report.findings.push(Finding::error(
                        Code::CabName,
                        &p.name,
                        format!("CFFILE at offset {} has an empty name", e.entry_offset),
                    ));
                }
                members.push(Member {
                    folder: g,
                    entry: e.clone(),
                    part: pi,
                });
            }
            map.push(local);
        }
        if let (Some(name), Some(last)) = (missing_next, map.last().and_then(|m| m.last())) {
            folders[*last].missing_next = Some(name);
        }
        (folders, members)
    }

    fn header_findings(&mut self, p: &Part, info: &mut ContainerInfo, first: bool) {
        let h = &p.hdr;
        if h.version != (1, 3) {
            self.finding(Finding::warning(
                Code::CabVersion,
                &p.name,
                format!(
                    "format version {}.{} (expected 1.3)",
                    h.version.0, h.version.1
                ),
            ));
        }
        let end = u64::from(h.cabinet_size);
        let mut covered_end = end;
        if let Some((off, size)) = h.signature() {
            if first {
                info.signature = Some(Signature { offset: off, size });
            }
            if off == end && off.saturating_add(size) <= p.len {
                covered_end = off + size;
            } else {
                self.finding(Finding::warning(
                    Code::CabSignature,
                    &p.name,
                    format!(
                        "signature reserve points at {size} bytes at offset {off}, but the cabinet ends at {end} and the file at {}",
                        p.len
                    ),
                ));
            }
        }
        if p.len < end {
            self.finding(Finding::error(
                Code::CabTruncated,
                &p.name,
                format!("header declares {end} bytes, the file has {}", p.len),
            ));
        } else if p.len > covered_end {
            self.finding(Finding::warning(
                Code::CabExtraBytes,
                &p.name,
                format!(
                    "{} bytes after the end of the cabinet at offset {covered_end}",
                    p.len - covered_end
                ),
            ));
        }
        if u64::from(h.files_offset) != h.folders_end {
            self.finding(Finding::warning(
                Code::CabLayout,
                &p.name,
                format!(
                    "first CFFILE at offset {} is not directly after the CFFOLDERs (which end at {}); extractors disagree on such cabinets (libmspack issue 55)",
                    h.files_offset, h.folders_end
                ),
            ));
        }
        if h.files.is_empty() {
            self.finding(Finding::warning(
                Code::CabEmpty,
                &p.name,
                "cabinet lists no files",
            ));
        }
    }

    /// Bytes of a part that no structure accounts for.
    fn layout_findings(&mut self, parts: &[Part], spans: &[(usize, u64, u64)]) {
        for (pi, p) in parts.iter().enumerate() {
            let mut s: Vec<(u64, u64)> = spans
                .iter()
                .filter(|x| x.0 == pi)
                .map(|x| (x.1, x.2))
                .collect();
            s.push((0, p.hdr.folders_end));
            s.push((u64::from(p.hdr.files_offset), p.hdr.files_end));
            s.sort_unstable();
            let limit = u64::from(p.hdr.cabinet_size).min(p.len);
            let mut at = 0u64;
            for (a, b) in s {
                if a < at && b > a {
                    self.finding(Finding::warning(
                        Code::CabLayout,
                        &p.name,
                        format!("structures overlap at offset {a}"),
                    ));
                }
                if a > at && at < limit {
                    self.finding(Finding::warning(
                        Code::CabUnreferenced,
                        &p.name,
                        format!("bytes {at}..{} belong to no structure", a.min(limit)),
                    ));
                }
                at = at.max(b);
            }
            if at < limit {
                self.finding(Finding::warning(
                    Code::CabUnreferenced,
                    &p.name,
                    format!("bytes {at}..{limit} belong to no structure"),
                ));
            }
        }
    }

    fn range_findings(
        &mut self,
        display: &str,
        tree: &str,
        folders: &[Folder],
        members: &[Member],
        by_folder: &[Vec<usize>],
        totals: &[Option<u64>],
    ) {
        let prefix = if tree.is_empty() {
            String::new()
        } else {
            format!("{tree}/")
        };
        for (fi, folder) in folders.iter().enumerate() {
            let ms: Vec<&Member> = by_folder
                .get(fi)
                .map(|l| l.iter().map(|&i| &members[i]).collect())
                .unwrap_or_default();
            let total = totals.get(fi).copied().flatten();
            let mut end = 0u64;
            for m in &ms {
                let (off, size) = (u64::from(m.entry.offset), u64::from(m.entry.size));
                let path = format!("{prefix}{}", m.entry.name.replace('\\', "/"));
                if let Some(t) = total
                    && off + size > t
                {
                    self.finding(Finding::error(
                        Code::CabRange,
                        &path,
                        format!(
                            "bytes {off}..{} lie beyond the {t} bytes of folder {}",
                            off + size,
                            folder.index
                        ),
                    ));
                }
                if off < end && size > 0 {
                    self.finding(Finding::warning(
                        Code::CabOverlap,
                        &path,
                        format!(
                            "bytes {off}..{} overlap the previous member in folder {} (which ends at {end})",
                            off + size,
                            folder.index
                        ),
                    ));
                }
                end = end.max(off + size);
            }
            if let Some(t) = total
                && t > end
            {
                self.finding(Finding::warning(
                    Code::CabUnreferenced,
                    display,
                    format!(
                        "bytes {end}..{t} of folder {} output belong to no member",
                        folder.index
                    ),
                ));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::find_part;

    /// szCabinetNext comes from the file: it may only name a sibling.
    #[test]
    fn next_part_names_cannot_leave_the_directory() {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::write(tmp.path().join("Split-2.CAB"), b"x").unwrap();
        std::fs::create_dir(tmp.path().join("sub")).unwrap();
        std::fs::write(tmp.path().join("sub/p.cab"), b"x").unwrap();
        assert_eq!(
            find_part(tmp.path(), "split-2.cab"),
            Some(tmp.path().join("Split-2.CAB"))
        );
        assert_eq!(find_part(tmp.path(), "sub/p.cab"), None);
        assert_eq!(find_part(tmp.path(), "sub\\p.cab"), None);
        assert_eq!(find_part(tmp.path(), ".."), None);
        assert_eq!(
            find_part(tmp.path(), "sub"),
            None,
            "a directory is not a part"
        );
        assert_eq!(find_part(tmp.path(), ""), None);
    }
}
