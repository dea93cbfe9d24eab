//! The crafted inputs of the hostile-input review (issue 17, attacks 6–9):
//! small on disk, huge once decoded or rebuilt. `tests/it/hostile_resources.rs`
//! runs every command on each under `/usr/bin/time`, and
//! `scripts/hostile-time.sh` (through `examples/hostile_inputs.rs`) prints
//! the table in `docs/hostile-input.md`.
//!
//! Every input is small on disk and large once decoded or rebuilt:
//!
//! | file | attack |
//! |---|---|
//! | `delta-1gib.cab` | one delta whose header declares a 1 GiB target |
//! | `delta-1gib-x8.cab`, `delta-1gib-x64.cab` | 8 and 64 such deltas |
//! | `chain-64.cab` | a basis chain of 64 links, each applying the same 32 MiB blob |
//! | `pa30-8x256mib.cab` | eight 256 MiB members that start with `PA30`, named by a container index as the deltas of eight declared files |
//! | `files-100k-cix-4000.cab` | a manifest declaring 100,000 files beside 4,000 container indexes |
//! | `nested-24x65535.cab` | 24 nested cabinets of 65,535 members each |

use std::io::Write as _;

use crate::DosDateTime;
use crate::cabwrite::{ATTR_ARCHIVE, CabFile, CabOptions, Method, cab_checksum, write_cab};
use crate::pa30::encode_declaring;
use base64::Engine as _;
use kbinspect::servicing::identity::Identity;
use sha2::Digest as _;

fn identity() -> Identity {
    Identity {
        name: "Hostile".into(),
        version: "1.0.0.0".into(),
        processor_architecture: "amd64".into(),
        language: "neutral".into(),
        public_key_token: "31bf3856ad364e35".into(),
        version_scope: "nonSxS".into(),
        ..Default::default()
    }
}

fn file(name: &str, data: Vec<u8>) -> CabFile {
    CabFile {
        name: name.to_string(),
        data,
        time: DosDateTime::new(2020, 5, 1, 12, 0),
        attributes: ATTR_ARCHIVE,
    }
}

fn mszip(files: &[CabFile]) -> Vec<u8> {
    write_cab(
        files,
        &CabOptions {
            method: Method::MsZip,
            set_id: 0,
            signature: None,
        },
    )
}

/// A component manifest declaring `files` (name, SHA-256).
fn manifest(files: &[(String, [u8; 32])]) -> Vec<u8> {
    let mut xml = String::from(
        r#"<assembly xmlns="urn:schemas-microsoft-com:asm.v3" manifestVersion="1.0"><assemblyIdentity name="Hostile" version="1.0.0.0" processorArchitecture="amd64" language="neutral" publicKeyToken="31bf3856ad364e35" versionScope="nonSxS"/>"#,
    );
    for (name, sha) in files {
        let b64 = base64::engine::general_purpose::STANDARD.encode(sha);
        xml.push_str(&format!(
            r#"<file name="{name}" destinationPath="$(runtime.windows)\"><hash xmlns="urn:schemas-microsoft-com:asm.v2"><DigestMethod xmlns="http://www.w3.org/2000/09/xmldsig#" Algorithm="http://www.w3.org/2000/09/xmldsig#sha256"/><DigestValue xmlns="http://www.w3.org/2000/09/xmldsig#">{b64}</DigestValue></hash></file>"#
        ));
    }
    xml.push_str("</assembly>");
    xml.into_bytes()
}

/// One `<File>` of a container index: a PA30 delta (`source`), on `basis`.
fn cix_entry(
    id: u64,
    name: &str,
    length: u64,
    sha: &[u8; 32],
    source: &str,
    basis: Option<u64>,
) -> String {
    let basis = basis.map_or(String::new(), |b| format!(r#"<Basis file="{b}"/>"#));
    format!(
        r#"<File id="{id}" name="{name}" length="{length}" time="132328617960309315" attr="32"><Hash alg="SHA256" value="{}"/><Delta><Source type="PA30" name="{source}"/>{basis}</Delta></File>"#,
        hex::encode(sha)
    )
}

fn cix(entries: &[String]) -> Vec<u8> {
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?><Container name="hostile.cab" type="CAB" length="0" version="1" xmlns="urn:ContainerIndex"><Description/><Files>{}</Files></Container>"#,
        entries.concat()
    )
    .into_bytes()
}

/// `n` files, each rebuilt from its own delta declaring a 1 GiB target.
fn deltas_1gib(n: usize) -> Vec<u8> {
    let keyform = identity().keyform();
    let declared: Vec<(String, [u8; 32])> = (0..n)
        .map(|i| {
            (
                format!("big{i}.bin"),
                sha2::Sha256::digest(format!("{i}")).into(),
            )
        })
        .collect();
    let entries: Vec<String> = declared
        .iter()
        .enumerate()
        .map(|(i, (name, sha))| {
            cix_entry(
                i as u64 + 1,
                &format!("{keyform}\\{name}"),
                1 << 30,
                sha,
                &format!("d{i}"),
                None,
            )
        })
        .collect();
    let mut files = vec![
        file("_manifest_.cix.xml", cix(&entries)),
        file(&format!("{keyform}.manifest"), manifest(&declared)),
    ];
    for i in 0..n {
        files.push(file(&format!("d{i}"), encode_declaring(b"tiny", 1 << 30)));
    }
    mszip(&files)
}

/// A chain of 64 links, every one applying the same 32 MiB blob to the
/// previous link's output.
fn chain_64() -> Vec<u8> {
    let keyform = identity().keyform();
    // Every link rebuilds the same 4 bytes (the delta needs no source):
    // the chain holds, and the blob is applied 64 times.
    let sha: [u8; 32] = sha2::Sha256::digest(b"tiny").into();
    let entries: Vec<String> = (1..=64u64)
        .map(|id| {
            let name = if id == 64 {
                format!("{keyform}\\end.bin")
            } else {
                format!("link{id}")
            };
            cix_entry(id, &name, 4, &sha, "blob", (id > 1).then(|| id - 1))
        })
        .collect();
    let mut blob = encode_declaring(b"tiny", 4);
    blob.resize(32 << 20, 0);
    mszip(&[
        file("_manifest_.cix.xml", cix(&entries)),
        file(
            &format!("{keyform}.manifest"),
            manifest(&[("end.bin".into(), sha)]),
        ),
        file("blob", blob),
    ])
}

/// A cabinet whose folders are made of 32 KiB MSZIP blocks, most of them
/// zeros (compressed once and repeated): members of hundreds of MiB in a
/// few MB. Each member is (name, first bytes, size); a folder holds at most
/// 65,535 blocks.
fn zero_cab(folders: &[Vec<(String, Vec<u8>, u64)>]) -> Vec<u8> {
    const BLOCK: u64 = 32 * 1024;
    let deflate = |data: &[u8]| {
        let mut out = b"CK".to_vec();
        let mut enc = flate2::write::DeflateEncoder::new(&mut out, flate2::Compression::best());
        enc.write_all(data).unwrap();
        enc.finish().unwrap();
        out
    };
    let zero_block = deflate(&[0u8; BLOCK as usize]);
    // Each folder's blocks: (compressed, uncompressed length).
    let blocks: Vec<Vec<(Vec<u8>, u16)>> = folders
        .iter()
        .map(|members| {
            let total: u64 = members.iter().map(|m| m.2).sum();
            let mut heads: Vec<(u64, &[u8])> = Vec::new();
            let mut at = 0;
            for (_, head, size) in members {
                heads.push((at, head));
                at += size;
            }
            let mut out = Vec::new();
            let mut pos = 0;
            while pos < total {
                let len = BLOCK.min(total - pos);
                let touched: Vec<&(u64, &[u8])> = heads
                    .iter()
                    .filter(|(s, h)| *s < pos + len && s + h.len() as u64 > pos)
                    .collect();
                if touched.is_empty() && len == BLOCK {
                    out.push((zero_block.clone(), len as u16));
                } else {
                    let mut raw = vec![0u8; len as usize];
                    for (s, h) in touched {
                        for (k, b) in h.iter().enumerate() {
                            let p = s + k as u64;
                            if p >= pos && p < pos + len {
                                raw[(p - pos) as usize] = *b;
                            }
                        }
                    }
                    out.push((deflate(&raw), len as u16));
                }
                pos += len;
            }
            assert!(out.len() <= 65_535, "too many blocks in a folder");
            out
        })
        .collect();
    let nfiles: usize = folders.iter().map(Vec::len).sum();
    let cffiles: usize = folders.iter().flatten().map(|m| 16 + m.0.len() + 1).sum();
    let data_start = 36 + 8 * folders.len() + cffiles;
    let data_len: usize = blocks.iter().flatten().map(|(c, _)| 8 + c.len()).sum();
    let mut out = Vec::with_capacity(data_start + data_len);
    out.extend_from_slice(b"MSCF");
    out.extend_from_slice(&0u32.to_le_bytes());
    out.extend_from_slice(&((data_start + data_len) as u32).to_le_bytes());
    out.extend_from_slice(&0u32.to_le_bytes());
    out.extend_from_slice(&((36 + 8 * folders.len()) as u32).to_le_bytes());
    out.extend_from_slice(&0u32.to_le_bytes());
    out.extend_from_slice(&[3, 1]);
    out.extend_from_slice(&(folders.len() as u16).to_le_bytes());
    out.extend_from_slice(&(nfiles as u16).to_le_bytes());
    out.extend_from_slice(&[0, 0, 0, 0, 0, 0]); // flags, setID, iCabinet
    let mut at = data_start;
    for b in &blocks {
        out.extend_from_slice(&(at as u32).to_le_bytes());
        out.extend_from_slice(&(b.len() as u16).to_le_bytes());
        out.extend_from_slice(&1u16.to_le_bytes()); // MSZIP
        at += b.iter().map(|(c, _)| 8 + c.len()).sum::<usize>();
    }
    let t = DosDateTime::new(2020, 5, 1, 12, 0);
    for (fi, members) in folders.iter().enumerate() {
        let mut offset = 0u32;
        for (name, _, size) in members {
            out.extend_from_slice(&(*size as u32).to_le_bytes());
            out.extend_from_slice(&offset.to_le_bytes());
            out.extend_from_slice(&(fi as u16).to_le_bytes());
            out.extend_from_slice(&t.dos_date().to_le_bytes());
            out.extend_from_slice(&t.dos_time().to_le_bytes());
            out.extend_from_slice(&ATTR_ARCHIVE.to_le_bytes());
            out.extend_from_slice(name.as_bytes());
            out.push(0);
            offset += *size as u32;
        }
    }
    for (compressed, raw_len) in blocks.iter().flatten() {
        let c = cab_checksum(compressed, 0);
        let mut fields = [0u8; 4];
        fields[..2].copy_from_slice(&(compressed.len() as u16).to_le_bytes());
        fields[2..].copy_from_slice(&raw_len.to_le_bytes());
        out.extend_from_slice(&cab_checksum(&fields, c).to_le_bytes());
        out.extend_from_slice(&fields);
        out.extend_from_slice(compressed);
    }
    out
}

/// Eight 256 MiB members starting with `PA30` (two folders of four).
fn pa30_8x256() -> Vec<u8> {
    let keyform = identity().keyform();
    let head = encode_declaring(b"tiny", 4);
    let sha: [u8; 32] = sha2::Sha256::digest(b"tiny").into();
    let declared: Vec<(String, [u8; 32])> = (0..8).map(|i| (format!("f{i}.bin"), sha)).collect();
    let entries: Vec<String> = (0..8u64)
        .map(|i| {
            cix_entry(
                i + 1,
                &format!("{keyform}\\f{i}.bin"),
                4,
                &sha,
                &format!("blob{i}"),
                None,
            )
        })
        .collect();
    let (index, man) = (cix(&entries), manifest(&declared));
    let meta = vec![
        (
            "_manifest_.cix.xml".to_string(),
            index.clone(),
            index.len() as u64,
        ),
        (format!("{keyform}.manifest"), man.clone(), man.len() as u64),
    ];
    let folder = |f: usize| {
        (0..4)
            .map(|i| (format!("blob{}", f * 4 + i), head.clone(), 256u64 << 20))
            .collect::<Vec<_>>()
    };
    zero_cab(&[meta, folder(0), folder(1)])
}

/// One manifest declaring 100,000 files (no digests, to stay under the
/// metadata cap), beside 4,000 container indexes naming some of them.
fn files_100k_cix_4000() -> Vec<u8> {
    let keyform = identity().keyform();
    let mut xml = String::from(
        r#"<assembly xmlns="urn:schemas-microsoft-com:asm.v3" manifestVersion="1.0"><assemblyIdentity name="Hostile" version="1.0.0.0" processorArchitecture="amd64" language="neutral" publicKeyToken="31bf3856ad364e35" versionScope="nonSxS"/>"#,
    );
    for i in 0..100_000 {
        xml.push_str(&format!(r#"<file name="f{i}.dll"/>"#));
    }
    xml.push_str("</assembly>");
    let mut files = Vec::new();
    for k in 0..4000u64 {
        let entries = vec![cix_entry(
            1,
            &format!("{keyform}\\f{}.dll", k * 25),
            1,
            &[0u8; 32],
            "missing",
            None,
        )];
        files.push(file(&format!("index{k}.cix.xml"), cix(&entries)));
    }
    files.push(file(&format!("{keyform}.manifest"), xml.into_bytes()));
    mszip(&files)
}

/// 24 nested cabinets of 65,535 empty members each.
fn nested_24x65535() -> Vec<u8> {
    let inner = zero_cab(&[(0..65_535)
        .map(|i| (format!("m{i}"), Vec::new(), 0u64))
        .collect()]);
    let files: Vec<CabFile> = (0..24)
        .map(|i| file(&format!("inner{i}.cab"), inner.clone()))
        .collect();
    mszip(&files)
}

/// Every crafted input, by file name, built in memory (about 8 MB in all).
pub fn inputs() -> Vec<(&'static str, Vec<u8>)> {
    vec![
        ("delta-1gib.cab", deltas_1gib(1)),
        ("delta-1gib-x8.cab", deltas_1gib(8)),
        ("delta-1gib-x64.cab", deltas_1gib(64)),
        ("chain-64.cab", chain_64()),
        ("pa30-8x256mib.cab", pa30_8x256()),
        ("files-100k-cix-4000.cab", files_100k_cix_4000()),
        ("nested-24x65535.cab", nested_24x65535()),
    ]
}
