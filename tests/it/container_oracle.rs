//! Our reader against the `cab` crate and known bytes on small fixtures:
//! stored and MSZIP cabinets written by gcab (testdata/cabs) and LZX
//! cabinets written here with the `lzxc` encoder. Also checksum, range,
//! nesting and trailing-byte anomalies on hand-built cabinets.
use crate::common;

use std::io::{Cursor, Read};
use std::path::Path;

use kbinspect::container::{DigestKind, Limits, Listing, list, walk};
use md5::{Digest, Md5};

fn cab_checksum(data: &[u8], seed: u32) -> u32 {
    let mut c = seed;
    let mut it = data.chunks_exact(4);
    for w in &mut it {
        c ^= u32::from_le_bytes(w.try_into().unwrap());
    }
    let mut tail = 0u32;
    for &b in it.remainder() {
        tail = (tail << 8) | u32::from(b);
    }
    c ^ tail
}

/// A single-folder cabinet from already-compressed blocks
/// (`(compressed, uncompressed_len)`), with CFDATA checksums.
fn build_cab(comp_type: u16, files: &[(&str, usize)], blocks: &[(Vec<u8>, usize)]) -> Vec<u8> {
    let names_len: usize = files.iter().map(|f| 16 + f.0.len() + 1).sum();
    let data_offset = 36 + 8 + names_len;
    let data_len: usize = blocks.iter().map(|b| 8 + b.0.len()).sum();
    let total = data_offset + data_len;
    let mut v = Vec::with_capacity(total);
    v.extend_from_slice(b"MSCF");
    v.extend_from_slice(&0u32.to_le_bytes());
    v.extend_from_slice(&(total as u32).to_le_bytes());
    v.extend_from_slice(&0u32.to_le_bytes());
    v.extend_from_slice(&44u32.to_le_bytes());
    v.extend_from_slice(&0u32.to_le_bytes());
    v.extend_from_slice(&[3, 1]);
    v.extend_from_slice(&1u16.to_le_bytes());
    v.extend_from_slice(&(files.len() as u16).to_le_bytes());
    v.extend_from_slice(&0u16.to_le_bytes());
    v.extend_from_slice(&0x1234u16.to_le_bytes());
    v.extend_from_slice(&0u16.to_le_bytes());
    v.extend_from_slice(&(data_offset as u32).to_le_bytes());
    v.extend_from_slice(&(blocks.len() as u16).to_le_bytes());
    v.extend_from_slice(&comp_type.to_le_bytes());
    let mut off = 0u32;
    for (name, size) in files {
        v.extend_from_slice(&(*size as u32).to_le_bytes());
        v.extend_from_slice(&off.to_le_bytes());
        v.extend_from_slice(&0u16.to_le_bytes());
        v.extend_from_slice(&0x5aa1u16.to_le_bytes()); // 2025-05-01
        v.extend_from_slice(&0x8000u16.to_le_bytes()); // 16:00:00
        v.extend_from_slice(&0x20u16.to_le_bytes());
        v.extend_from_slice(name.as_bytes());
        v.push(0);
        off += *size as u32;
    }
    assert_eq!(v.len(), data_offset);
    for (data, ulen) in blocks {
        let counts = [
            (data.len() as u16).to_le_bytes(),
            (*ulen as u16).to_le_bytes(),
        ]
        .concat();
        let sum = cab_checksum(&counts, cab_checksum(data, 0));
        v.extend_from_slice(&sum.to_le_bytes());
        v.extend_from_slice(&counts);
        v.extend_from_slice(data);
    }
    v
}

fn sample_files() -> Vec<(&'static str, Vec<u8>)> {
    let text: Vec<u8> = (0..2500)
        .flat_map(|i| format!("row {i}: kbinspect reads cabinets {}\n", i * 7 % 13).into_bytes())
        .collect();
    let mut x = 0x1234_5678u32;
    let noise: Vec<u8> = (0..20_000)
        .map(|_| {
            x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
            (x >> 24) as u8
        })
        .collect();
    vec![
        ("text.txt", text),
        ("dir\\noise.bin", noise),
        ("empty", Vec::new()),
        ("zeros.bin", vec![0u8; 70_000]),
    ]
}

fn lzx_cab(window: lzxc::WindowSize, bits: u16, files: &[(&str, Vec<u8>)]) -> Vec<u8> {
    let all: Vec<u8> = files.iter().flat_map(|f| f.1.iter().copied()).collect();
    let chunks = lzxc::Encoder::new(window).encode_stream(&all);
    let blocks: Vec<(Vec<u8>, usize)> = chunks
        .into_iter()
        .enumerate()
        .map(|(i, c)| (c, (all.len() - i * 32768).min(32768)))
        .collect();
    let names: Vec<(&str, usize)> = files.iter().map(|f| (f.0, f.1.len())).collect();
    build_cab(3 | (bits << 8), &names, &blocks)
}

fn stored_cab(files: &[(&str, Vec<u8>)]) -> Vec<u8> {
    let all: Vec<u8> = files.iter().flat_map(|f| f.1.iter().copied()).collect();
    let blocks: Vec<(Vec<u8>, usize)> = all.chunks(32768).map(|c| (c.to_vec(), c.len())).collect();
    let names: Vec<(&str, usize)> = files.iter().map(|f| (f.0, f.1.len())).collect();
    build_cab(0, &names, &blocks)
}

fn ours(path: &Path) -> Listing {
    list(path, &Limits::default(), Some(DigestKind::Md5), &mut |_| {}).unwrap()
}

/// name → MD5 as read by the `cab` crate (one `read_file` per member).
fn cab_crate(bytes: &[u8]) -> Vec<(String, String)> {
    let mut c = cab::Cabinet::new(Cursor::new(bytes.to_vec())).unwrap();
    let names: Vec<String> = c
        .folder_entries()
        .flat_map(|f| {
            f.file_entries()
                .map(|e| e.name().to_string())
                .collect::<Vec<_>>()
        })
        .collect();
    let mut out = Vec::new();
    for n in names {
        let mut b = Vec::new();
        c.read_file(&n).unwrap().read_to_end(&mut b).unwrap();
        out.push((n.replace('\\', "/"), hex::encode(Md5::digest(&b))));
    }
    out.sort();
    out
}

fn ours_md5(l: &Listing) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = l
        .members
        .iter()
        .map(|m| (m.meta.path.clone(), m.md5.clone().expect("member decoded")))
        .collect();
    v.sort();
    v
}

#[test]
fn gcab_fixtures_agree_with_cab_crate() {
    for name in ["gcab-mszip.cab", "gcab-stored.cab"] {
        let p = common::testdata().join("cabs").join(name);
        let bytes = std::fs::read(&p).unwrap();
        let l = ours(&p);
        assert_eq!(l.members.len(), 4);
        assert_eq!(ours_md5(&l), cab_crate(&bytes), "{name}");
        assert!(l.findings.is_empty(), "{name}: {:?}", l.findings);
    }
}

#[test]
fn lzx_windows_agree_with_cab_crate_and_source_bytes() {
    let files = sample_files();
    let tmp = tempfile::tempdir().unwrap();
    for (window, bits) in [(lzxc::WindowSize::KB32, 15u16), (lzxc::WindowSize::MB2, 21)] {
        let bytes = lzx_cab(window, bits, &files);
        let p = tmp.path().join(format!("lzx{bits}.cab"));
        std::fs::write(&p, &bytes).unwrap();
        let l = ours(&p);
        let mut expect: Vec<(String, String)> = files
            .iter()
            .map(|(n, b)| (n.replace('\\', "/"), hex::encode(Md5::digest(b))))
            .collect();
        expect.sort();
        assert_eq!(ours_md5(&l), expect, "lzx:{bits}");
        assert_eq!(cab_crate(&bytes), expect, "cab crate, lzx:{bits}");
        assert!(l.findings.is_empty(), "{:?}", l.findings);
        assert_eq!(
            l.members[0].meta.compression.to_string(),
            format!("lzx:{bits}")
        );
    }
}

/// A corrupted byte in a stored block: the checksum finding names the
/// file, folder, block and offset, and a second one the member.
#[test]
fn checksum_mismatch_is_reported_with_location() {
    let src = common::testdata().join("cabs/gcab-stored.cab");
    let mut bytes = std::fs::read(&src).unwrap();
    let data_off = u32::from_le_bytes(bytes[36..40].try_into().unwrap()) as usize;
    bytes[data_off + 8 + 100] ^= 0x55;
    let tmp = tempfile::tempdir().unwrap();
    let p = tmp.path().join("bad.cab");
    std::fs::write(&p, &bytes).unwrap();
    let l = ours(&p);
    let f: Vec<_> = l
        .findings
        .iter()
        .filter(|f| f.code == "cab-checksum")
        .collect();
    // One for the cabinet (where), one for the member made of that block.
    assert_eq!(f.len(), 2, "{:?}", l.findings);
    assert!(f[0].subject.ends_with("bad.cab"));
    assert_eq!(f[1].subject, l.members[0].meta.path);
    assert!(
        f[1].detail.contains("folder 0 output 0.."),
        "{}",
        f[1].detail
    );
    assert!(
        f[0].detail
            .contains(&format!("folder 0, block 0 at offset {data_off}")),
        "{}",
        f[0].detail
    );
    assert_eq!(kbinspect::finding::exit_code(&l.findings), 1);
}

/// A member that declares more bytes than its folder holds is never handed
/// out silently truncated.
#[test]
fn member_beyond_folder_output_fails() {
    let mut bytes = stored_cab(&[("a.txt", b"hello world".to_vec())]);
    // Declare 20 bytes for the 11-byte member.
    bytes[44..48].copy_from_slice(&20u32.to_le_bytes());
    let tmp = tempfile::tempdir().unwrap();
    let p = tmp.path().join("short.cab");
    std::fs::write(&p, &bytes).unwrap();
    let mut got = Vec::new();
    let mut err = None;
    walk(&p, &Limits::default(), &mut |_, r| {
        if let Err(e) = r.read_to_end(&mut got) {
            err = Some(e.to_string());
        }
        Ok(())
    })
    .map(|rep| {
        assert!(
            rep.findings
                .iter()
                .any(|f| f.code == "cab-range" && f.subject == "a.txt")
        );
    })
    .unwrap();
    let err = err.expect("the read must fail");
    assert!(
        err.contains("a.txt") && err.contains("9 bytes of the member still to come"),
        "{err}"
    );
}

/// A cabinet inside a cabinet is visited as a container and then walked.
#[test]
fn nested_cabinet_is_walked_with_prefix() {
    let files = sample_files();
    let inner = lzx_cab(lzxc::WindowSize::KB64, 16, &files[..1]);
    let outer = stored_cab(&[("readme.txt", b"outer\n".to_vec()), ("inner.cab", inner)]);
    let tmp = tempfile::tempdir().unwrap();
    let p = tmp.path().join("outer.cab");
    std::fs::write(&p, &outer).unwrap();
    let l = ours(&p);
    let rows: Vec<(String, u32, bool)> = l
        .members
        .iter()
        .map(|m| (m.meta.path.clone(), m.meta.depth, m.meta.is_container))
        .collect();
    assert_eq!(
        rows,
        vec![
            ("readme.txt".into(), 0, false),
            ("inner.cab".into(), 0, true),
            ("inner.cab/text.txt".into(), 1, false),
        ]
    );
    assert_eq!(
        l.members[2].md5.as_deref(),
        Some(hex::encode(Md5::digest(&files[0].1)).as_str())
    );
    assert_eq!(l.containers.len(), 2);
    assert_eq!(l.containers[1].path, "inner.cab");
}

/// Bytes after the cabinet are flagged; a signature blob is not.
#[test]
fn trailing_bytes_versus_signature() {
    let signed = corpus_or_skip!("gcab-tests/test-signed.cab");
    let l = ours(&signed);
    let sig = l.containers[0].signature.as_ref().expect("signature");
    assert!(sig.size > 0);
    assert!(
        !l.findings.iter().any(|f| f.code == "cab-extra-bytes"),
        "{:?}",
        l.findings
    );

    let mut bytes = stored_cab(&[("a.txt", b"abc".to_vec())]);
    let end = bytes.len();
    bytes.extend_from_slice(b"JUNK");
    let tmp = tempfile::tempdir().unwrap();
    let p = tmp.path().join("junk.cab");
    std::fs::write(&p, &bytes).unwrap();
    let l = ours(&p);
    let f = l
        .findings
        .iter()
        .find(|f| f.code == "cab-extra-bytes")
        .unwrap();
    assert!(
        f.detail.contains(&format!(
            "4 bytes after the end of the cabinet at offset {end}"
        )),
        "{}",
        f.detail
    );
}

/// The split set is read from its first part; parts are found ignoring case.
#[test]
fn split_set_parts_are_found_case_insensitively() {
    let first = corpus_or_skip!("cabextract-tests/cabs/split-1.cab");
    let l = ours(&first);
    let c = &l.containers[0];
    assert_eq!(c.parts.len(), 4, "{:?}", c.parts);
    assert!(c.parts[0].ends_with("split-2.cab"));
    assert_eq!(l.members.len(), 6);
    assert!(l.findings.is_empty(), "{:?}", l.findings);
}

/// Overlapping members in a compressed folder: the folder is decoded again
/// from its start for the later member, whose bytes are the overlapped range.
#[test]
fn overlapping_members_are_flagged_and_decoded() {
    let src = common::testdata().join("cabs/gcab-mszip.cab");
    let mut bytes = std::fs::read(&src).unwrap();
    // CFFILE entries start at coffFiles; the second is fox.txt after
    // "numbers.txt\0". Point it back into numbers.txt.
    let coff = u32::from_le_bytes(bytes[16..20].try_into().unwrap()) as usize;
    let second = coff + 16 + "numbers.txt".len() + 1;
    assert_eq!(&bytes[second + 16..second + 23], b"fox.txt");
    bytes[second + 4..second + 8].copy_from_slice(&40_000u32.to_le_bytes());
    let tmp = tempfile::tempdir().unwrap();
    let p = tmp.path().join("overlap.cab");
    std::fs::write(&p, &bytes).unwrap();
    let mut got: Vec<(String, Vec<u8>)> = Vec::new();
    let rep = walk(&p, &Limits::default(), &mut |m, r| {
        let mut b = Vec::new();
        r.read_to_end(&mut b)?;
        got.push((m.path.clone(), b));
        Ok(())
    })
    .unwrap();
    assert!(
        rep.findings
            .iter()
            .any(|f| f.code == "cab-overlap" && f.subject == "fox.txt")
    );
    let numbers = &got.iter().find(|g| g.0 == "numbers.txt").unwrap().1;
    let fox = &got.iter().find(|g| g.0 == "fox.txt").unwrap().1;
    assert!(fox.len() > 1000);
    assert_eq!(fox.as_slice(), &numbers[40_000..40_000 + fox.len()]);
}

#[test]
fn lzx_window_outside_range_is_refused() {
    let mut bytes = lzx_cab(lzxc::WindowSize::KB32, 15, &sample_files()[..1]);
    // typeCompress of the only CFFOLDER: LZX with a 2^22 window.
    bytes[42..44].copy_from_slice(&(3u16 | (22 << 8)).to_le_bytes());
    let tmp = tempfile::tempdir().unwrap();
    let p = tmp.path().join("w22.cab");
    std::fs::write(&p, &bytes).unwrap();
    let l = ours_lenient(&p);
    let f = l
        .findings
        .iter()
        .find(|f| f.code == "cab-unsupported")
        .unwrap();
    assert!(f.detail.contains("2^22"), "{}", f.detail);
    assert!(l.members[0].error.is_some());
}

fn ours_lenient(path: &Path) -> Listing {
    list(
        path,
        &Limits::default(),
        Some(DigestKind::Sha256),
        &mut |_| {},
    )
    .unwrap()
}

/// A nested cabinet above the in-memory threshold (8 MiB one level down) is
/// spooled to a temporary file and read just the same.
#[test]
fn large_nested_cabinet_spools_to_a_file() {
    let data: Vec<u8> = (0..9_500_000u32).map(|i| (i % 251) as u8).collect();
    let inner = stored_cab(&[("payload.bin", data.clone())]);
    let mid = stored_cab(&[("inner.cab", inner)]);
    let outer = stored_cab(&[("mid.cab", mid)]);
    let tmp = tempfile::tempdir().unwrap();
    let p = tmp.path().join("outer.cab");
    std::fs::write(&p, &outer).unwrap();
    let l = ours(&p);
    let last = l.members.last().unwrap();
    assert_eq!(last.meta.path, "mid.cab/inner.cab/payload.bin");
    assert_eq!(last.meta.depth, 2);
    assert_eq!(
        last.md5.as_deref(),
        Some(hex::encode(Md5::digest(&data)).as_str())
    );
    assert!(l.findings.is_empty(), "{:?}", l.findings);
}
