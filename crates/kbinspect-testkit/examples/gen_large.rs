//! Deterministic generator of large, realistic update packages for the
//! benchmark (`bench/run.sh`).
//!
//! ```text
//! cargo run --release --example gen_large -- [--src DIR] [--cache DIR] [--sizes 75,150,300]
//!                                            [--unique-mb 34] [--max-file-kb 192]
//! ```
//!
//! Input: a directory of real PE files (default: Debian's `libwine`,
//! `/usr/lib/x86_64-linux-gnu/wine/x86_64-windows`). The files up to
//! `--max-file-kb`, in name order and up to `--unique-mb`, are cut into *templates* of about
//! 4 MiB; each template is one LZX:21 folder, encoded once with `lzxc`
//! (E8 translation on) and cached under `--cache` (default
//! `$KBINSPECT_BENCH_CACHE` or `/work/bench-cache`), because lzxc's only
//! matching strategy runs below 1 MB/s on binaries. A package of N MB
//! replicates template folders round-robin; every replica is a distinct
//! component version (its own keyform directory, manifest, registry-only
//! settings component, a deployment manifest deploying both, and a mum
//! entry), so only the compressed payload bytes repeat. Manifests carry the
//! true SHA-256 of their file; `update.mum`, one mum per 64 components and a
//! container index `_manifest_.cix.xml` (each entry with its hash and a RAW
//! `<Source>`, as in Microsoft's) complete the package CAB, which is
//! wrapped in an MSZIP MSU the way Windows 6.x/10 MSUs are. Like a genuine
//! package, it verifies with no finding.
//!
//! Signed like the bundled samples, by the TEST-ONLY CA of
//! `testdata/trust/test-keys/` (`kbinspect_testkit::sign`): the MSU,
//! `WSUSSCAN.cab` and the package CAB carry a SHA-256 Authenticode
//! signature, and a catalog per package mum (in an MSZIP folder of the
//! package CAB) lists the mum, its components' manifests and payload files;
//! `update.cat` lists `update.mum`. `kbinspect verify --trust-root
//! testdata/trust/test-keys/TEST-ONLY-root.pem` verifies them; without that
//! root the verdict names it as untrusted.
//!
//! Output: `<cache>/packages/large-<N>mb.cab` (the package CAB) and
//! `large-<N>mb.msu`, plus a line of figures per size on stdout.

use std::collections::BTreeMap;
use std::fs;
use std::io::{self, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, bail, ensure};
use base64::Engine;
use kbinspect::servicing::identity::Identity;
use kbinspect_testkit::sign;
use rayon::prelude::*;
use sha2::{Digest, Sha256};

/// Window 2^21, LZX (compression type 3).
const LZX21: u16 = 0x1503;
const MSZIP: u16 = 0x0001;
/// The translation size Microsoft's encoder writes in CAB LZX streams.
const E8_SIZE: u32 = 12_000_000;
const TEMPLATE_BYTES: usize = 4 << 20;
const CHUNK: usize = 32 * 1024;
/// 2020-02-11 12:00:00 as DOS date/time: fixed so output is reproducible.
const DOS_DATE: u16 = ((2020 - 1980) << 9) | (2 << 5) | 11;
const DOS_TIME: u16 = 12 << 11;
/// Bumped whenever the encoding of a cached folder would change.
const CACHE_TAG: &[u8] = b"kbinspect-bench lzxc-0.2 optimal lzx21 e8=12000000 v1";

struct Opts {
    src: PathBuf,
    cache: PathBuf,
    sizes_mb: Vec<u64>,
    unique_mb: u64,
    max_file_kb: u64,
}

fn parse_args() -> anyhow::Result<Opts> {
    let mut o = Opts {
        src: PathBuf::from("/usr/lib/x86_64-linux-gnu/wine/x86_64-windows"),
        cache: std::env::var_os("KBINSPECT_BENCH_CACHE")
            .map_or_else(|| PathBuf::from("/work/bench-cache"), PathBuf::from),
        sizes_mb: vec![75, 150, 300],
        unique_mb: 34,
        max_file_kb: 192,
    };
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut val = || args.next().with_context(|| format!("{a} needs a value"));
        match a.as_str() {
            "--src" => o.src = val()?.into(),
            "--cache" => o.cache = val()?.into(),
            "--sizes" => {
                o.sizes_mb = val()?
                    .split(',')
                    .map(|s| s.trim().parse().context("--sizes takes numbers of MB"))
                    .collect::<anyhow::Result<_>>()?
            }
            "--unique-mb" => o.unique_mb = val()?.parse()?,
            "--max-file-kb" => o.max_file_kb = val()?.parse()?,
            _ => bail!("unknown argument {a}"),
        }
    }
    Ok(o)
}

/// A real PE file of the pool.
struct SrcFile {
    name: String,
    data: Vec<u8>,
    sha256: [u8; 32],
}

/// One LZX folder's worth of pool files, encoded.
struct Template {
    files: Vec<usize>,
    /// (compressed frame, uncompressed length) per CFDATA block.
    frames: Vec<(Vec<u8>, u16)>,
    size: u64,
}

fn load_pool(o: &Opts) -> anyhow::Result<Vec<SrcFile>> {
    let mut names: Vec<PathBuf> = fs::read_dir(&o.src)
        .with_context(|| format!("reading {}", o.src.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    names.sort();
    let mut all = Vec::new();
    for p in names {
        let md = fs::metadata(&p)?;
        if !md.is_file() || md.len() == 0 || md.len() > o.max_file_kb * 1024 {
            continue;
        }
        let data = fs::read(&p)?;
        if !data.starts_with(b"MZ") {
            continue;
        }
        let name = p
            .file_name()
            .and_then(|n| n.to_str())
            .context("non-UTF-8 file name")?
            .to_string();
        all.push((name, data));
    }
    let cap = o.unique_mb << 20;
    let mut total = 0u64;
    let mut pool = Vec::new();
    for (name, data) in all {
        if total >= cap {
            break;
        }
        total += data.len() as u64;
        let sha256 = Sha256::digest(&data).into();
        pool.push(SrcFile { name, data, sha256 });
    }
    ensure!(
        !pool.is_empty(),
        "no PE files under {} (apt-get install -y libwine, or pass --src)",
        o.src.display()
    );
    Ok(pool)
}

fn read_frames(path: &Path) -> io::Result<Vec<(Vec<u8>, u16)>> {
    let mut bytes = Vec::new();
    fs::File::open(path)?.read_to_end(&mut bytes)?;
    let mut frames = Vec::new();
    let mut rest = bytes.as_slice();
    while !rest.is_empty() {
        let (Some(h), Some(_)) = (rest.get(..4), rest.get(4..)) else {
            return Err(io::Error::other("truncated cache file"));
        };
        let clen = usize::from(u16::from_le_bytes([h[0], h[1]]));
        let ulen = u16::from_le_bytes([h[2], h[3]]);
        let body = rest
            .get(4..4 + clen)
            .ok_or_else(|| io::Error::other("truncated cache file"))?;
        frames.push((body.to_vec(), ulen));
        rest = &rest[4 + clen..];
    }
    Ok(frames)
}

/// LZX-encode `data` as one folder (one frame per 32 KiB), through the cache.
fn encode_folder(cache: &Path, data: &[u8]) -> anyhow::Result<Vec<(Vec<u8>, u16)>> {
    let mut h = Sha256::new();
    h.update(CACHE_TAG);
    h.update(data);
    let key = hex::encode(h.finalize());
    let path = cache.join("lzx").join(format!("{key}.frames"));
    if let Ok(f) = read_frames(&path) {
        return Ok(f);
    }
    // lzxc 0.2.0's own E8 pass does not skip the operand of an untranslated
    // E8 byte, so lzxd/cabextract decode its output wrongly; translate here
    // and write the stream header ourselves.
    let mut pre = data.to_vec();
    for (i, frame) in pre.chunks_mut(CHUNK).enumerate() {
        e8_translate(frame, (i * CHUNK) as i64);
    }
    let mut chunks = lzxc::Encoder::new(lzxc::WindowSize::MB2).encode_stream(&pre);
    if let Some(first) = chunks.first_mut() {
        set_e8_header(first)?;
    }
    ensure!(
        chunks.len() == data.len().div_ceil(CHUNK),
        "lzxc frame count"
    );
    // lzxd had silent bugs before and lzxc is young: prove the round trip
    // once, at encode time.
    let mut dec = lzxd::Lzxd::new(lzxd::WindowSize::MB2);
    let mut frames = Vec::with_capacity(chunks.len());
    for (c, plain) in chunks.into_iter().zip(data.chunks(CHUNK)) {
        let out = dec
            .decompress_next(&c, plain.len())
            .map_err(|e| anyhow::anyhow!("lzxd rejects lzxc output: {e}"))?;
        if out != plain {
            let at = out.iter().zip(plain).position(|(a, b)| a != b);
            let a = at.unwrap_or(0).saturating_sub(12);
            bail!(
                "lzxc/lzxd round trip differs in frame {} at {at:?}: {:02x?} vs {:02x?}",
                frames.len(),
                &plain[a..a + 24],
                &out[a..a + 24]
            );
        }
        ensure!(c.len() <= usize::from(u16::MAX), "frame too large");
        frames.push((c, plain.len() as u16));
    }
    let mut buf = Vec::new();
    for (c, u) in &frames {
        buf.extend_from_slice(&(c.len() as u16).to_le_bytes());
        buf.extend_from_slice(&u.to_le_bytes());
        buf.extend_from_slice(c);
    }
    fs::create_dir_all(path.parent().context("cache path")?)?;
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    fs::write(&tmp, &buf)?;
    fs::rename(&tmp, &path)?;
    Ok(frames)
}

/// The encoder side of LZX E8 translation for one 32 KiB frame starting
/// at output offset `frame_start`: the exact inverse of what libmspack,
/// 7-Zip and lzxd do per frame (CALL operands relative -> absolute; every
/// E8 consumes its 4 operand bytes whether translated or not).
fn e8_translate(frame: &mut [u8], frame_start: i64) {
    let size = i64::from(E8_SIZE);
    if frame.len() <= 10 {
        return;
    }
    let end = frame.len() - 10;
    let mut i = 0;
    while i < end {
        if frame[i] != 0xE8 {
            i += 1;
            continue;
        }
        let cp = frame_start + i as i64;
        let rel = i64::from(i32::from_le_bytes([
            frame[i + 1],
            frame[i + 2],
            frame[i + 3],
            frame[i + 4],
        ]));
        let abs = if rel >= -cp && rel < size - cp {
            rel + cp
        } else if rel >= size - cp && rel < size {
            rel - size
        } else {
            rel
        };
        frame[i + 1..i + 5].copy_from_slice(&(abs as i32).to_le_bytes());
        i += 5;
    }
}

/// Turn a stream that starts with "no E8 translation" (1 header bit) into
/// one that declares translation size `E8_SIZE` (1 + 32 bits). LZX reads
/// 16-bit little-endian words MSB first, so 32 inserted bits shift the rest
/// of the stream by exactly two words.
fn set_e8_header(first: &mut Vec<u8>) -> anyhow::Result<()> {
    let w0 = u16::from_le_bytes([
        *first.first().context("empty frame")?,
        *first.get(1).context("short frame")?,
    ]);
    ensure!(w0 & 0x8000 == 0, "stream already declares E8 translation");
    let n0 = 0x8000 | (E8_SIZE >> 17) as u16;
    let n1 = ((E8_SIZE >> 1) & 0xFFFF) as u16;
    let n2 = (((E8_SIZE & 1) as u16) << 15) | (w0 & 0x7FFF);
    let mut out = Vec::with_capacity(first.len() + 4);
    for w in [n0, n1, n2] {
        out.extend_from_slice(&w.to_le_bytes());
    }
    out.extend_from_slice(&first[2..]);
    *first = out;
    Ok(())
}

/// CFDATA checksum (XOR of LE u32 words, tail folded big-end first).
fn cab_checksum(data: &[u8], seed: u32) -> u32 {
    let mut c = seed;
    let mut words = data.chunks_exact(4);
    for w in &mut words {
        c ^= u32::from_le_bytes([w[0], w[1], w[2], w[3]]);
    }
    let mut tail = 0u32;
    for &b in words.remainder() {
        tail = (tail << 8) | u32::from(b);
    }
    c ^ tail
}

struct CabFile {
    name: String,
    folder: u16,
    offset: u32,
    size: u32,
}

/// Where a folder's CFDATA blocks come from.
enum FolderData<'a> {
    Frames(&'a [(Vec<u8>, u16)]),
    /// Read from a file in 32 KiB pieces and MSZIP-compress each.
    MszipFile(&'a Path),
}

/// Write a single-cabinet CAB. Each folder's blocks are produced in order.
/// `signed`: in the signed layout (the 20-byte header reserve pointing at
/// the end of the cabinet), then signed by the TEST-ONLY CA
/// ([`sign::sign_cab`]: SHA-256 Authenticode, the PKCS#7 blob appended).
/// Returns the cabinet's length without the signature.
fn write_cab(
    out: &Path,
    folders: &[(u16, FolderData<'_>)],
    files: &[CabFile],
    signed: bool,
) -> anyhow::Result<u64> {
    ensure!(
        files.len() <= usize::from(u16::MAX),
        "too many files for one CAB"
    );
    ensure!(folders.len() <= 0xFFF0, "too many folders for one CAB");
    // Materialise MSZIP folders first (into memory-bounded temp files) so
    // the header can hold their block counts.
    let mut mszip_spools = Vec::new();
    for (_, fd) in folders {
        if let FolderData::MszipFile(p) = fd {
            mszip_spools.push(mszip_spool(p)?);
        }
    }
    let header_len = if signed { 36 + 4 + 20 } else { 36 };
    let folders_len = 8 * folders.len();
    let files_len: usize = files.iter().map(|f| 16 + f.name.len() + 1).sum();
    let mut pos = (header_len + folders_len + files_len) as u64;
    let mut folder_recs = Vec::new();
    let mut spool_ix = 0;
    for (ct, fd) in folders {
        let (n, bytes): (usize, u64) = match fd {
            FolderData::Frames(fr) => (fr.len(), fr.iter().map(|f| 8 + f.0.len() as u64).sum()),
            FolderData::MszipFile(_) => {
                let s = &mszip_spools[spool_ix];
                spool_ix += 1;
                (s.1, s.2)
            }
        };
        ensure!(n <= usize::from(u16::MAX), "too many blocks in one folder");
        folder_recs.push((u32::try_from(pos)?, n as u16, *ct));
        pos += bytes;
    }
    let total = u32::try_from(pos).context("cabinet larger than 4 GiB")?;
    let mut w = BufWriter::with_capacity(1 << 20, fs::File::create(out)?);
    w.write_all(b"MSCF")?;
    w.write_all(&0u32.to_le_bytes())?;
    w.write_all(&total.to_le_bytes())?;
    w.write_all(&0u32.to_le_bytes())?;
    w.write_all(&((header_len + folders_len) as u32).to_le_bytes())?;
    w.write_all(&0u32.to_le_bytes())?;
    w.write_all(&[3, 1])?;
    w.write_all(&(folders.len() as u16).to_le_bytes())?;
    w.write_all(&(files.len() as u16).to_le_bytes())?;
    // RESERVE_PRESENT when signed.
    w.write_all(&(if signed { 0x0004u16 } else { 0 }).to_le_bytes())?;
    w.write_all(&0x2020u16.to_le_bytes())?; // set id
    w.write_all(&0u16.to_le_bytes())?;
    if signed {
        // cbCFHeader 20, cbCFFolder 0, cbCFData 0; then the layout
        // Microsoft's signing writes: a fixed prefix, where the appended
        // PKCS#7 blob starts (= cbCabinet) and its length (set by
        // `sign_cab`).
        w.write_all(&20u16.to_le_bytes())?;
        w.write_all(&[0, 0])?;
        w.write_all(&[0x00, 0x00, 0x10, 0x00])?;
        w.write_all(&total.to_le_bytes())?;
        w.write_all(&[0u8; 12])?;
    }
    for (off, n, ct) in &folder_recs {
        w.write_all(&off.to_le_bytes())?;
        w.write_all(&n.to_le_bytes())?;
        w.write_all(&ct.to_le_bytes())?;
    }
    for f in files {
        w.write_all(&f.size.to_le_bytes())?;
        w.write_all(&f.offset.to_le_bytes())?;
        w.write_all(&f.folder.to_le_bytes())?;
        w.write_all(&DOS_DATE.to_le_bytes())?;
        w.write_all(&DOS_TIME.to_le_bytes())?;
        w.write_all(&0x20u16.to_le_bytes())?;
        w.write_all(f.name.as_bytes())?;
        w.write_all(&[0])?;
    }
    let put = |w: &mut BufWriter<fs::File>, c: &[u8], u: u16| -> io::Result<()> {
        let mut counts = [0u8; 4];
        counts[..2].copy_from_slice(&(c.len() as u16).to_le_bytes());
        counts[2..].copy_from_slice(&u.to_le_bytes());
        let csum = cab_checksum(&counts, cab_checksum(c, 0));
        w.write_all(&csum.to_le_bytes())?;
        w.write_all(&counts)?;
        w.write_all(c)
    };
    let mut spool_ix = 0;
    for (_, fd) in folders {
        match fd {
            FolderData::Frames(fr) => {
                for (c, u) in fr.iter() {
                    put(&mut w, c, *u)?;
                }
            }
            FolderData::MszipFile(_) => {
                let s = &mszip_spools[spool_ix];
                spool_ix += 1;
                for (c, u) in read_frames(&s.0)? {
                    put(&mut w, &c, u)?;
                }
            }
        }
    }
    w.flush()?;
    drop(w);
    for s in mszip_spools {
        let _ = fs::remove_file(s.0);
    }
    if signed {
        fs::write(out, sign::sign_cab(fs::read(out)?))?;
    }
    Ok(u64::from(total))
}

/// MSZIP-compress a file into a spool of frames; returns (spool, blocks, bytes with CFDATA headers).
fn mszip_spool(p: &Path) -> anyhow::Result<(PathBuf, usize, u64)> {
    use flate2::{Compress, Compression, FlushCompress};
    let spool = p.with_extension("mszip-spool");
    let mut r = io::BufReader::new(fs::File::open(p)?);
    let mut w = BufWriter::new(fs::File::create(&spool)?);
    let mut buf = vec![0u8; CHUNK];
    let (mut n, mut bytes) = (0usize, 0u64);
    loop {
        let mut got = 0;
        while got < CHUNK {
            let k = r.read(&mut buf[got..])?;
            if k == 0 {
                break;
            }
            got += k;
        }
        if got == 0 {
            break;
        }
        // Each block is a complete deflate stream; not using the previous
        // block as a dictionary is valid MSZIP, just slightly larger.
        let mut c = Compress::new(Compression::fast(), false);
        let mut out = Vec::with_capacity(CHUNK + 1024);
        out.extend_from_slice(b"CK");
        c.compress_vec(&buf[..got], &mut out, FlushCompress::Finish)?;
        ensure!(c.total_in() == got as u64, "deflate did not take the block");
        w.write_all(&((out.len()) as u16).to_le_bytes())?;
        w.write_all(&(got as u16).to_le_bytes())?;
        w.write_all(&out)?;
        n += 1;
        bytes += 8 + out.len() as u64;
    }
    w.flush()?;
    Ok((spool, n, bytes))
}

fn manifest(id: &Identity, file: &SrcFile) -> String {
    let digest = base64::engine::general_purpose::STANDARD.encode(file.sha256);
    format!(
        r#"<?xml version="1.0" encoding="utf-8" standalone="yes"?>
<assembly xmlns="urn:schemas-microsoft-com:asm.v3" manifestVersion="1.0" copyright="Copyright (c) Microsoft Corporation. All Rights Reserved.">
  <assemblyIdentity name="{name}" version="{ver}" processorArchitecture="amd64" language="neutral" buildType="release" publicKeyToken="31bf3856ad364e35" versionScope="nonSxS" />
  <file name="{f}" destinationPath="$(runtime.system32)\" sourceName="{f}" importPath="$(build.nttree)\" sourcePath=".\">
    <securityDescriptor name="WRP_FILE_DEFAULT_SDDL" />
    <asmv2:hash xmlns:asmv2="urn:schemas-microsoft-com:asm.v2" xmlns:dsig="http://www.w3.org/2000/09/xmldsig#">
      <dsig:Transforms>
        <dsig:Transform Algorithm="urn:schemas-microsoft-com:HashTransforms.Identity" />
      </dsig:Transforms>
      <dsig:DigestMethod Algorithm="http://www.w3.org/2000/09/xmldsig#sha256" />
      <dsig:DigestValue>{digest}</dsig:DigestValue>
    </asmv2:hash>
  </file>
  <memberships>
    <categoryMembership>
      <id name="Microsoft.Windows.Categories.SystemFiles" version="{ver}" publicKeyToken="365143bb27e7ac8b" typeName="BootCritical" />
    </categoryMembership>
  </memberships>
  <trustInfo>
    <security>
      <accessControl>
        <securityDescriptorDefinitions>
          <securityDescriptorDefinition name="WRP_FILE_DEFAULT_SDDL" sddl="O:S-1-5-80-956008885-3418522649-1831038044-1853292631-2271478464G:S-1-5-80-956008885-3418522649-1831038044-1853292631-2271478464D:P(A;;FA;;;S-1-5-80-956008885-3418522649-1831038044-1853292631-2271478464)(A;;GRGX;;;BA)(A;;GRGX;;;SY)(A;;GRGX;;;BU)(A;;GRGX;;;S-1-15-2-1)S:(AU;FASA;0x000D0116;;;WD)" />
        </securityDescriptorDefinitions>
      </accessControl>
    </security>
  </trustInfo>
</assembly>
"#,
        name = id.name,
        ver = id.version,
        f = file.name,
    )
}

fn identity_for(template: usize, replica: usize, file: &SrcFile) -> Identity {
    let stem = file
        .name
        .rsplit_once('.')
        .map_or(file.name.as_str(), |s| s.0);
    Identity {
        name: format!("Microsoft-Windows-Wine-{stem}").into(),
        version: format!("10.0.{}.{}", 19041 + replica, 1000 + template).into(),
        processor_architecture: "amd64".into(),
        language: "neutral".into(),
        public_key_token: "31bf3856ad364e35".into(),
        version_scope: "nonSxS".into(),
        build_type: "release".into(),
        type_: Default::default(),
    }
}

/// A registry-only component, as Windows packages hold by the thousand.
fn settings_manifest(id: &Identity, file: &SrcFile) -> String {
    format!(
        r#"<?xml version="1.0" encoding="utf-8" standalone="yes"?>
<assembly xmlns="urn:schemas-microsoft-com:asm.v3" manifestVersion="1.0" copyright="Copyright (c) Microsoft Corporation. All Rights Reserved.">
  <assemblyIdentity name="{name}" version="{ver}" processorArchitecture="amd64" language="neutral" buildType="release" publicKeyToken="31bf3856ad364e35" versionScope="nonSxS" />
  <registryKeys>
    <registryKey keyName="HKEY_LOCAL_MACHINE\SOFTWARE\Microsoft\Windows\CurrentVersion\SideBySide\Winners\{name}">
      <registryValue name="Version" valueType="REG_SZ" value="{ver}" />
      <registryValue name="Image" valueType="REG_EXPAND_SZ" value="%SystemRoot%\System32\{f}" />
      <registryValue name="Size" valueType="REG_DWORD" value="0x{size:08x}" />
      <securityDescriptor name="WRP_REGKEY_DEFAULT_SDDL" />
    </registryKey>
  </registryKeys>
  <trustInfo>
    <security>
      <accessControl>
        <securityDescriptorDefinitions>
          <securityDescriptorDefinition name="WRP_REGKEY_DEFAULT_SDDL" sddl="O:S-1-5-80-956008885-3418522649-1831038044-1853292631-2271478464G:S-1-5-80-956008885-3418522649-1831038044-1853292631-2271478464D:P(A;CI;GA;;;S-1-5-80-956008885-3418522649-1831038044-1853292631-2271478464)(A;CI;GR;;;SY)(A;CI;GR;;;BA)(A;CI;GR;;;BU)(A;CI;GR;;;S-1-15-2-1)" />
        </securityDescriptorDefinitions>
      </accessControl>
    </security>
  </trustInfo>
</assembly>
"#,
        name = id.name,
        ver = id.version,
        f = file.name,
        size = file.data.len(),
    )
}

fn deployment_for(component: &Identity) -> Identity {
    let h = Sha256::digest(format!("{}_{}", component.name, component.version).as_bytes());
    Identity {
        name: hex::encode(&h[..16]).into(),
        version_scope: Default::default(),
        ..component.clone()
    }
}

fn deployment_manifest(dep: &Identity, deploys: &[&Identity]) -> String {
    let mut deps = String::new();
    for c in deploys {
        deps.push_str(&format!(
            r#"  <dependency discoverable="no">
    <dependentAssembly dependencyType="install">
      <assemblyIdentity name="{}" version="{}" processorArchitecture="amd64" language="neutral" buildType="release" publicKeyToken="31bf3856ad364e35" versionScope="nonSxS" />
    </dependentAssembly>
  </dependency>
"#,
            c.name, c.version
        ));
    }
    format!(
        r#"<?xml version="1.0" encoding="utf-8" standalone="yes"?>
<assembly xmlns="urn:schemas-microsoft-com:asm.v3" manifestVersion="1.0" copyright="Copyright (c) Microsoft Corporation. All Rights Reserved.">
  <assemblyIdentity name="{}" version="{}" processorArchitecture="amd64" language="neutral" buildType="release" publicKeyToken="31bf3856ad364e35" />
  <deployment xmlns="urn:schemas-microsoft-com:asm.v3" />
{deps}</assembly>
"#,
        dep.name, dep.version
    )
}

/// A container index entry for a file stored as itself, as in Microsoft's
/// indexes: its hash, and a RAW `<Source>` naming the member that holds it.
fn cix_entry(id: usize, name: &str, len: u32, sha256: &[u8; 32]) -> String {
    let h = hex::encode_upper(sha256);
    format!(
        "    <File id=\"{id}\" name=\"{name}\" length=\"{len}\" time=\"132258816000000000\" attr=\"128\"><Hash alg=\"SHA256\" value=\"{h}\"/><Delta><Source type=\"RAW\" name=\"{name}\"><Hash alg=\"SHA256\" value=\"{h}\"/></Source></Delta></File>\n"
    )
}

fn identity_xml(id: &Identity) -> String {
    format!(
        r#"<assemblyIdentity name="{}" version="{}" processorArchitecture="amd64" language="neutral" publicKeyToken="31bf3856ad364e35" />"#,
        id.name, id.version
    )
}

fn main() -> anyhow::Result<()> {
    run(&parse_args()?)
}

fn run(o: &Opts) -> anyhow::Result<()> {
    let t0 = std::time::Instant::now();
    let pool = load_pool(o)?;
    let pool_bytes: u64 = pool.iter().map(|f| f.data.len() as u64).sum();
    // Cut the pool into ~4 MiB templates.
    let mut groups: Vec<Vec<usize>> = vec![Vec::new()];
    let mut acc = 0usize;
    for (i, f) in pool.iter().enumerate() {
        if acc >= TEMPLATE_BYTES {
            groups.push(Vec::new());
            acc = 0;
        }
        groups.last_mut().expect("non-empty").push(i);
        acc += f.data.len();
    }
    eprintln!(
        "pool: {} PE files, {:.1} MiB in {} templates; encoding (cached in {})",
        pool.len(),
        pool_bytes as f64 / 1048576.0,
        groups.len(),
        o.cache.display()
    );
    let templates: Vec<Template> = groups
        .into_par_iter()
        .map(|files| -> anyhow::Result<Template> {
            let data: Vec<u8> = files
                .iter()
                .flat_map(|&i| pool[i].data.iter().copied())
                .collect();
            let frames = encode_folder(&o.cache, &data)?;
            Ok(Template {
                files,
                frames,
                size: data.len() as u64,
            })
        })
        .collect::<anyhow::Result<_>>()?;
    eprintln!("templates ready after {:.1} s", t0.elapsed().as_secs_f64());
    let out_dir = o.cache.join("packages");
    fs::create_dir_all(&out_dir)?;
    for &mb in &o.sizes_mb {
        generate(o, &pool, &templates, mb, &out_dir)?;
    }
    eprintln!("done after {:.1} s", t0.elapsed().as_secs_f64());
    Ok(())
}

fn generate(
    o: &Opts,
    pool: &[SrcFile],
    templates: &[Template],
    mb: u64,
    out_dir: &Path,
) -> anyhow::Result<()> {
    let target = mb * 1_000_000;
    let mut payload = 0u64;
    // (template, replica) per payload folder.
    let mut instances = Vec::new();
    let mut i = 0usize;
    while payload < target {
        let t = i % templates.len();
        instances.push((t, i / templates.len()));
        payload += templates[t].size;
        i += 1;
    }
    // Metadata texts: a manifest per component, a mum per 64 components,
    // update.mum and the container index.
    let mut meta_files: Vec<(String, Vec<u8>)> = Vec::new();
    let mut payload_files: Vec<(usize, String, u32, u32)> = Vec::new(); // folder slot, name, offset, size
    let mut components: Vec<Identity> = Vec::new();
    let mut cix_entries = String::new();
    // Per component (deployment): the index of its first manifest in
    // `meta_files` (component, settings, deployment follow each other)
    // and its payload file, for the catalogs.
    let mut cat_parts: Vec<(usize, usize)> = Vec::new();
    for (slot, &(t, r)) in instances.iter().enumerate() {
        let mut off = 0u32;
        for &fi in &templates[t].files {
            cat_parts.push((meta_files.len(), fi));
            let f = &pool[fi];
            let id = identity_for(t, r, f);
            let kf = id.keyform();
            let size = u32::try_from(f.data.len())?;
            payload_files.push((slot, format!("{kf}\\{}", f.name), off, size));
            off += size;
            let man = manifest(&id, f);
            cix_entries.push_str(&cix_entry(
                components.len() * 2,
                &format!("{kf}\\{}", f.name),
                size,
                &f.sha256,
            ));
            cix_entries.push_str(&cix_entry(
                components.len() * 2 + 1,
                &format!("{kf}.manifest"),
                u32::try_from(man.len())?,
                &Sha256::digest(man.as_bytes()).into(),
            ));
            meta_files.push((format!("{kf}.manifest"), man.into_bytes()));
            // Servicing installs a component through a deployment: a
            // 32-hex-named manifest that only depends on it.
            let settings = Identity {
                name: format!("{}-Settings", id.name).into(),
                ..id.clone()
            };
            meta_files.push((
                format!("{}.manifest", settings.keyform()),
                settings_manifest(&settings, f).into_bytes(),
            ));
            let dep = deployment_for(&id);
            let dep_kf = dep.keyform();
            meta_files.push((
                format!("{dep_kf}.manifest"),
                deployment_manifest(&dep, &[&id, &settings]).into_bytes(),
            ));
            components.push(dep);
        }
    }
    let kb = "KB9999999";
    let mut update = String::new();
    let mut pkg_names = Vec::new();
    // (catalog name, mum index in `meta_files`, component range).
    let mut catalogs: Vec<(String, usize, std::ops::Range<usize>)> = Vec::new();
    for (n, chunk) in components.chunks(64).enumerate() {
        let pname = format!("Package_{}_for_{kb}", n + 1);
        let pid = Identity {
            name: pname.as_str().into(),
            version: "10.0.1.0".into(),
            processor_architecture: "amd64".into(),
            language: "neutral".into(),
            public_key_token: "31bf3856ad364e35".into(),
            version_scope: Default::default(),
            build_type: Default::default(),
            type_: Default::default(),
        };
        let mut body = String::new();
        for c in chunk {
            body.push_str(&format!(
                "    <update name=\"{}\">\n      <component>\n        {}\n      </component>\n    </update>\n",
                c.name,
                identity_xml(c)
            ));
        }
        let mum = format!(
            "\u{feff}<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>\n<assembly xmlns=\"urn:schemas-microsoft-com:asm.v3\" manifestVersion=\"1.0\" copyright=\"Copyright (c) Microsoft Corporation. All Rights Reserved.\">\n  {}\n  <package identifier=\"{kb}\" releaseType=\"Update\">\n    <parent buildCompare=\"EQ\" serviceCompare=\"GE\" revisionCompare=\"GE\">\n      <assemblyIdentity name=\"Microsoft-Windows-Foundation-Package\" version=\"10.0.19041.1\" processorArchitecture=\"amd64\" language=\"neutral\" publicKeyToken=\"31bf3856ad364e35\" />\n    </parent>\n{body}  </package>\n</assembly>\n",
            identity_xml(&pid)
        );
        let fname = format!("{pname}~31bf3856ad364e35~amd64~~10.0.1.0.mum");
        update.push_str(&format!(
            "    <update name=\"{pname}\">\n      <package integrate=\"hidden\">\n        {}\n      </package>\n    </update>\n",
            identity_xml(&pid)
        ));
        pkg_names.push(fname.clone());
        catalogs.push((
            format!("{pname}~31bf3856ad364e35~amd64~~10.0.1.0.cat"),
            meta_files.len(),
            n * 64..n * 64 + chunk.len(),
        ));
        meta_files.push((fname, mum.into_bytes()));
    }
    let update_mum = format!(
        "\u{feff}<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>\n<assembly xmlns=\"urn:schemas-microsoft-com:asm.v3\" manifestVersion=\"1.0\" copyright=\"Copyright (c) Microsoft Corporation. All Rights Reserved.\">\n  <assemblyIdentity name=\"Package_for_{kb}\" version=\"10.0.1.0\" processorArchitecture=\"amd64\" language=\"neutral\" publicKeyToken=\"31bf3856ad364e35\" />\n  <package identifier=\"{kb}\" releaseType=\"Update\" restart=\"possible\">\n{update}  </package>\n</assembly>\n"
    );
    catalogs.push(("update.cat".into(), meta_files.len(), 0..0));
    meta_files.push(("update.mum".into(), update_mum.into_bytes()));
    let cix = format!(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<Container xmlns=\"urn:ContainerIndex\" name=\"Windows10.0-{kb}-x64.cab\" type=\"CAB\" length=\"0\" version=\"1\">\n  <Files>\n{cix_entries}  </Files>\n</Container>\n"
    );
    meta_files.push(("_manifest_.cix.xml".into(), cix.into_bytes()));

    // Metadata folders of about 1 MiB each, encoded in parallel (cached:
    // the sizes share their first components, so most folders repeat).
    let mut meta_groups: Vec<Vec<usize>> = vec![Vec::new()];
    let mut acc = 0usize;
    for (i, (_, d)) in meta_files.iter().enumerate() {
        if acc >= 1 << 20 {
            meta_groups.push(Vec::new());
            acc = 0;
        }
        meta_groups.last_mut().expect("non-empty").push(i);
        acc += d.len();
    }
    let meta_frames: Vec<Vec<(Vec<u8>, u16)>> = meta_groups
        .par_iter()
        .map(|g| {
            let data: Vec<u8> = g
                .iter()
                .flat_map(|&i| meta_files[i].1.iter().copied())
                .collect();
            encode_folder(&o.cache, &data)
        })
        .collect::<anyhow::Result<_>>()?;

    let mut folders: Vec<(u16, FolderData<'_>)> = Vec::new();
    let mut files: Vec<CabFile> = Vec::new();
    for (gi, g) in meta_groups.iter().enumerate() {
        let mut off = 0u32;
        for &i in g {
            let (name, d) = &meta_files[i];
            files.push(CabFile {
                name: name.clone(),
                folder: gi as u16,
                offset: off,
                size: d.len() as u32,
            });
            off += d.len() as u32;
        }
        folders.push((LZX21, FolderData::Frames(&meta_frames[gi])));
    }
    // The catalogs, signed by the TEST-ONLY CA as the bundled samples are
    // (`sign::catalog`: SHA-1 and SHA-256 of every file, PE images also by
    // their PE Authenticode hashes): one per package mum listing it, its
    // components' manifests and their payload files; `update.cat` lists
    // `update.mum`. They are built in parallel and stored in one MSZIP
    // folder (lzxc would take minutes over them).
    let cat_bytes: Vec<Vec<u8>> = catalogs
        .par_iter()
        .map(|(_, mum, comps)| {
            let mut listed: Vec<(String, &[u8])> =
                vec![(meta_files[*mum].0.clone(), meta_files[*mum].1.as_slice())];
            for &(m, fi) in &cat_parts[comps.clone()] {
                for (name, d) in &meta_files[m..m + 3] {
                    listed.push((name.clone(), d));
                }
                listed.push((pool[fi].name.clone(), &pool[fi].data));
            }
            sign::catalog(&listed)
        })
        .collect();
    let cats_path = out_dir.join(format!("large-{mb}mb.cats.tmp"));
    {
        let mut off = 0u32;
        let mut w = BufWriter::new(fs::File::create(&cats_path)?);
        for ((name, _, _), d) in catalogs.iter().zip(&cat_bytes) {
            files.push(CabFile {
                name: name.clone(),
                folder: u16::try_from(folders.len())?,
                offset: off,
                size: u32::try_from(d.len())?,
            });
            off = off
                .checked_add(u32::try_from(d.len())?)
                .context("catalogs over 4 GiB")?;
            w.write_all(d)?;
        }
        w.flush()?;
    }
    folders.push((MSZIP, FolderData::MszipFile(&cats_path)));
    let base = folders.len();
    for &(t, _) in &instances {
        folders.push((LZX21, FolderData::Frames(&templates[t].frames)));
    }
    for (slot, name, offset, size) in payload_files {
        files.push(CabFile {
            name,
            folder: u16::try_from(base + slot)?,
            offset,
            size,
        });
    }
    let nfiles = files.len();
    let total_plain: u64 = payload + meta_files.iter().map(|m| m.1.len() as u64).sum::<u64>();
    let cab_name = format!("Windows10.0-{kb}-x64.cab");
    let cab_path = out_dir.join(format!("large-{mb}mb.cab"));
    let cab_len = write_cab(&cab_path, &folders, &files, true)?;
    fs::remove_file(&cats_path)?;

    // The MSU: one MSZIP folder with WSUSSCAN.cab, the package CAB, the
    // properties text and the unattend XML, as in the legacy layout.
    let scan_xml = b"<?xml version=\"1.0\"?><OfflineSyncPackage xmlns=\"http://schemas.microsoft.com/msus/2004/02/OfflineSync\" />\r\n".to_vec();
    let scan_path = out_dir.join(format!("large-{mb}mb.wsusscan.tmp"));
    {
        let scan_frames = vec![(scan_xml.clone(), scan_xml.len() as u16)];
        write_cab(
            &scan_path,
            &[(0, FolderData::Frames(&scan_frames))],
            &[CabFile {
                name: "package.xml".into(),
                folder: 0,
                offset: 0,
                size: scan_xml.len() as u32,
            }],
            true,
        )?;
    }
    let props = format!(
        "ApplicabilityInfo=\"Windows 10.0;\"\r\nBuild Date=\"2020/02/11\"\r\nCompany=\"Microsoft Corporation\"\r\nFile Version=\"10.0.1.0\"\r\nInstallation Type=\"FULL\"\r\nInstaller Engine=\"Component Based Servicing\"\r\nInstaller Version=\"10.0.19041.1\"\r\nKB Article Number=\"{}\"\r\nLanguage=\"ALL\"\r\nPackage Type=\"Update\"\r\nProcessor Architecture=\"amd64\"\r\nProduct Name=\"Windows 10\"\r\nSupport Link=\"https://support.microsoft.com/help/{}\"\r\n",
        &kb[2..],
        &kb[2..]
    );
    let unattend = format!(
        "<?xml version=\"1.0\" encoding=\"utf-8\" standalone=\"yes\"?>\r\n<unattend xmlns=\"urn:schemas-microsoft-com:unattend\">\r\n<servicing>\r\n<package action=\"install\">\r\n<assemblyIdentity name=\"Package_for_{kb}\" version=\"10.0.1.0\" language=\"neutral\" processorArchitecture=\"amd64\" publicKeyToken=\"31bf3856ad364e35\"/>\r\n<source location=\"%configsetroot%\\Windows10.0-{kb}-x64.cab\" />\r\n</package>\r\n</servicing>\r\n</unattend>\r\n"
    );
    let cat_path = out_dir.join(format!("large-{mb}mb.msu-folder.tmp"));
    let members: Vec<(String, PathBuf)> = {
        let props_path = out_dir.join(format!("large-{mb}mb.props.tmp"));
        let xml_path = out_dir.join(format!("large-{mb}mb.xml.tmp"));
        fs::write(&props_path, props.as_bytes())?;
        fs::write(&xml_path, unattend.as_bytes())?;
        vec![
            ("WSUSSCAN.cab".into(), scan_path.clone()),
            (cab_name.clone(), cab_path.clone()),
            (
                format!("Windows10.0-{kb}-x64-pkgProperties.txt"),
                props_path,
            ),
            (format!("Windows10.0-{kb}-x64.xml"), xml_path),
        ]
    };
    // Concatenate the members into the folder's plain stream.
    let mut msu_files = Vec::new();
    {
        let mut w = BufWriter::new(fs::File::create(&cat_path)?);
        let mut off = 0u64;
        for (name, p) in &members {
            let n = io::copy(&mut fs::File::open(p)?, &mut w)?;
            msu_files.push(CabFile {
                name: name.clone(),
                folder: 0,
                offset: u32::try_from(off)?,
                size: u32::try_from(n)?,
            });
            off += n;
        }
        w.flush()?;
    }
    let msu_path = out_dir.join(format!("large-{mb}mb.msu"));
    let msu_len = write_cab(
        &msu_path,
        &[(MSZIP, FolderData::MszipFile(&cat_path))],
        &msu_files,
        true,
    )?;
    for (name, p) in members {
        if name != cab_name {
            fs::remove_file(p)?;
        }
    }
    fs::remove_file(&cat_path)?;
    let mut by_kind: BTreeMap<&str, usize> = BTreeMap::new();
    for f in &files {
        let k = f.name.rsplit('.').next().unwrap_or("");
        *by_kind.entry(k).or_default() += 1;
    }
    println!(
        "large-{mb}mb: {} members ({by_kind:?}), {} bytes uncompressed ({} payload) in {} LZX folders; cab {} bytes, msu {} bytes",
        nfiles,
        total_plain,
        payload,
        folders.len(),
        cab_len,
        msu_len
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use kbinspect::container::Limits;
    use kbinspect::model::{LoadOptions, Package};
    use kbinspect::trust::package::TrustOptions;
    use kbinspect_testkit::pe;

    /// A 1 MB package from three small PE files: the MSU, the package CAB,
    /// `WSUSSCAN.cab` and both catalogs are signed by the TEST-ONLY CA;
    /// `verify` passes with its root trusted (every signature, every
    /// document and payload file in a verified catalog) and fails naming
    /// the root without it.
    #[test]
    fn generated_packages_are_signed_by_the_test_ca() {
        let dir = std::env::temp_dir().join(format!("gen-large-test-{}", std::process::id()));
        let src = dir.join("src");
        fs::create_dir_all(&src).unwrap();
        for (i, name) in ["a.dll", "b.exe", "c.sys"].into_iter().enumerate() {
            let image = pe::build(&pe::PeSpec {
                machine: pe::Machine::Amd64,
                version: [10, 0, 19041, i as u16],
                file_name: name,
                description: "gen_large test image",
                build_lab: "vb_release.191206-1406",
                timestamp: 1_575_000_000,
                size: 40_000 + 1_000 * i,
            })
            .expect("PE image");
            fs::write(src.join(name), image).unwrap();
        }
        let o = Opts {
            src,
            cache: dir.clone(),
            sizes_mb: vec![1],
            unique_mb: 1,
            max_file_kb: 192,
        };
        run(&o).unwrap();
        let msu = dir.join("packages/large-1mb.msu");
        let load = LoadOptions::default();
        let pkg = Package::load_with(&msu, &Limits::default(), &load).unwrap();

        let v = kbinspect::check::verify(
            &pkg,
            &load,
            &kbinspect_testkit::sign::trust_options(),
            vec![],
        );
        let s = &v.trust.summary;
        let errors: Vec<_> = v
            .findings
            .iter()
            .filter(|f| f.severity == kbinspect::finding::Severity::Error)
            .collect();
        assert_eq!(v.assessment.verdict.as_str(), "pass", "{errors:?}");
        // The MSU, WSUSSCAN.cab, the package CAB, update.cat and one
        // package catalog.
        assert_eq!((s.signatures, s.signatures_verified), (5, 5), "{s:?}");
        assert_eq!((s.catalogs, s.catalogs_verified), (2, 2));
        assert_eq!(
            s.roots,
            [kbinspect_testkit::sign::ROOT_NAME
                .split(',')
                .next()
                .unwrap()
                .trim_start_matches("CN=")]
        );
        assert!(
            s.documents > 3 && s.documents_covered == s.documents,
            "{s:?}"
        );
        assert!(s.files >= 3 && s.files_found == s.files, "{s:?}");

        let v = kbinspect::check::verify(&pkg, &load, &TrustOptions::default(), vec![]);
        assert_eq!(v.assessment.verdict.as_str(), "fail");
        assert!(
            v.findings
                .iter()
                .any(|f| f.code == kbinspect::finding::Code::TrustUntrustedRoot
                    && f.detail.contains("TEST-ONLY root")),
            "{:?}",
            v.findings
        );
        fs::remove_dir_all(&dir).unwrap();
    }
}
