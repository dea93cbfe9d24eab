//! The sample CAB writer against independent readers (the `cab` crate,
//! cabextract): multi-block MSZIP and LZX folders, E8-heavy data, the
//! signed-layout header reserve.

use crate::common;

use std::io::{Cursor, Read};

use kbinspect_testkit::cabwrite::{self, ATTR_ARCHIVE, CabFile, CabOptions, DosDateTime, Method};

/// Deterministic bytes mixing text, zero runs and x86 `E8` call opcodes,
/// including `E8` bytes inside untranslatable operands (the case lzxc's own
/// E8 preprocessing gets wrong).
fn mixed(len: usize, seed: u32) -> Vec<u8> {
    let mut x = seed.wrapping_mul(2_654_435_761) | 1;
    let mut out = Vec::with_capacity(len);
    while out.len() < len {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        match x % 4 {
            0 => out.extend_from_slice(b"kbinspect sample writer "),
            1 => out.extend_from_slice(&[0u8; 64]),
            2 => {
                out.push(0xE8);
                out.extend_from_slice(&(x >> 8).to_le_bytes());
            }
            _ => out.extend_from_slice(&x.to_le_bytes()),
        }
    }
    out.truncate(len);
    out
}

fn files() -> Vec<CabFile> {
    [
        ("a\\one.bin", 70_000usize),
        ("b.txt", 5),
        ("c\\three.bin", 100_001),
    ]
    .iter()
    .enumerate()
    .map(|(i, (name, len))| CabFile {
        name: name.to_string(),
        data: mixed(*len, i as u32 + 1),
        time: DosDateTime::new(2009, 10, 6, 6, 34),
        attributes: ATTR_ARCHIVE,
    })
    .collect()
}

/// (name, length, SHA-256) per member, so a failure prints a short diff.
fn summary(files: Vec<(String, Vec<u8>)>) -> Vec<(String, usize, String)> {
    use sha2::Digest as _;
    files
        .into_iter()
        .map(|(n, d)| (n, d.len(), hex::encode(sha2::Sha256::digest(&d))))
        .collect()
}

fn read_back(bytes: Vec<u8>) -> Vec<(String, Vec<u8>)> {
    let mut cabinet = cab::Cabinet::new(Cursor::new(bytes)).unwrap();
    let names: Vec<String> = cabinet
        .folder_entries()
        .flat_map(|f| {
            f.file_entries()
                .map(|e| e.name().to_string())
                .collect::<Vec<_>>()
        })
        .collect();
    names
        .into_iter()
        .map(|n| {
            let mut data = Vec::new();
            cabinet
                .read_file(&n)
                .unwrap()
                .read_to_end(&mut data)
                .unwrap();
            (n, data)
        })
        .collect()
}

#[test]
fn multi_block_folders_round_trip() {
    let want = summary(files().into_iter().map(|f| (f.name, f.data)).collect());
    for method in [
        Method::Stored,
        Method::MsZip,
        Method::Lzx { window_bits: 21 },
        Method::Lzx { window_bits: 15 },
    ] {
        let cab = cabwrite::write_cab(
            &files(),
            &CabOptions {
                method,
                set_id: 7,
                signature: None,
            },
        );
        assert_eq!(summary(read_back(cab.clone())), want, "{method:?}");
        if common::have("cabextract") {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("t.cab");
            std::fs::write(&path, &cab).unwrap();
            let out = std::process::Command::new("cabextract")
                .arg("-t")
                .arg(&path)
                .output()
                .unwrap();
            let text = String::from_utf8_lossy(&out.stdout);
            assert!(
                out.status.success() && text.contains("All done, no errors"),
                "{method:?}: {text}"
            );
        }
    }
}

/// The signed layout: flag 0x0004, cbCFHeader 20, the reserve
/// `00 00 10 00`, offset = cbCabinet, size, 8 zero bytes, then the blob.
#[test]
fn signed_layout_reserve_points_at_the_blob() {
    let blob = vec![0x30, 0x03, 0x02, 0x01, 0x01];
    let cab = cabwrite::write_cab(
        &files(),
        &CabOptions {
            method: Method::MsZip,
            set_id: 0,
            signature: Some(blob.clone()),
        },
    );
    let u16_at = |o: usize| u16::from_le_bytes([cab[o], cab[o + 1]]);
    let u32_at = |o: usize| u32::from_le_bytes([cab[o], cab[o + 1], cab[o + 2], cab[o + 3]]);
    let cb_cabinet = u32_at(8) as usize;
    assert_eq!(u16_at(30) & 0x0004, 0x0004);
    assert_eq!((u16_at(36), cab[38], cab[39]), (20, 0, 0));
    assert_eq!(&cab[40..44], &[0x00, 0x00, 0x10, 0x00]);
    assert_eq!(u32_at(44) as usize, cb_cabinet);
    assert_eq!(u32_at(48) as usize, blob.len());
    assert_eq!(&cab[52..60], &[0u8; 8]);
    assert_eq!(&cab[cb_cabinet..], blob.as_slice());
    assert_eq!(cab.len(), cb_cabinet + blob.len());
}
