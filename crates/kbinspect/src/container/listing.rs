//! The member inventory behind `kbinspect ls`: every member's metadata and,
//! when testing, a digest of its bytes (which also proves they decode).

use std::io::BufRead;
use std::path::Path;

use md5::Md5;
use serde::Serialize;
use sha2::{Digest, Sha256};

use super::{ContainerInfo, DecodeContext, Limits, MemberMeta, Result, WalkOptions, walk_with};
use crate::finding::Finding;

/// Which digest `--test` computes per member.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum DigestKind {
    /// What `cabextract -t` prints.
    Md5,
    Sha256,
    /// Decode and verify only (the speed of `7zz t`, which prints no digest).
    None,
}

#[derive(Debug, Clone, Serialize)]
pub struct ListedMember {
    #[serde(flatten)]
    pub meta: MemberMeta,
    /// Lowercase hex digest of the bytes (testing only; absent when unreadable).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub md5: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
    /// Why the bytes could not be produced (testing only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Listing {
    pub input: String,
    pub containers: Vec<ContainerInfo>,
    pub members: Vec<ListedMember>,
    pub findings: Vec<Finding>,
    /// Bytes produced while testing.
    pub bytes_tested: u64,
    /// Bytes read out of cabinet folders (decompressed, or copied from
    /// stored folders) to produce the listing. Without testing, folders
    /// are decoded only as far as needed to find the nested cabinets (a
    /// solid LZX folder must be decoded up to each one).
    pub bytes_decoded: u64,
}

enum Hasher {
    Md5(Box<Md5>),
    Sha256(Box<Sha256>),
    None,
}

/// List `input`; with `test`, read every member in full and digest it.
/// `progress` is called with the bytes read so far.
pub fn list(
    input: &Path,
    limits: &Limits,
    test: Option<DigestKind>,
    progress: &mut dyn FnMut(u64),
) -> Result<Listing> {
    list_inner(
        input,
        limits,
        test,
        &DecodeContext::default(),
        None,
        progress,
    )
}

/// [`list`] decoding with the buffers and thread budget of `context`, and
/// telling `stages` how far it is: a stage per cabinet, its total from the
/// headers ([`super::Progress`]).
pub fn list_with(
    input: &Path,
    limits: &Limits,
    test: Option<DigestKind>,
    context: &DecodeContext,
    stages: Option<&super::ProgressHandle>,
) -> Result<Listing> {
    list_inner(input, limits, test, context, stages, &mut |_| {})
}

fn list_inner(
    input: &Path,
    limits: &Limits,
    test: Option<DigestKind>,
    context: &DecodeContext,
    stages: Option<&super::ProgressHandle>,
    progress: &mut dyn FnMut(u64),
) -> Result<Listing> {
    let mut members = Vec::new();
    let mut total = 0u64;
    // Without testing, members are only decoded as far as needed to find
    // nested cabinets.
    let opts = WalkOptions {
        verify_unread: test.is_some(),
        context: context.clone(),
        progress: stages.cloned(),
    };
    let report = walk_with(input, limits, &opts, &mut |meta, r: &mut dyn BufRead| {
        let mut m = ListedMember {
            meta: meta.clone(),
            md5: None,
            sha256: None,
            error: None,
        };
        if let Some(kind) = test {
            let mut h = match kind {
                DigestKind::Md5 => Hasher::Md5(Box::default()),
                DigestKind::Sha256 => Hasher::Sha256(Box::default()),
                DigestKind::None => Hasher::None,
            };
            loop {
                // Straight from the decoder's buffer: no copy per byte.
                let n = match r.fill_buf() {
                    Ok([]) => {
                        match h {
                            Hasher::Md5(h) => m.md5 = Some(hex::encode(h.finalize())),
                            Hasher::Sha256(h) => m.sha256 = Some(hex::encode(h.finalize())),
                            Hasher::None => {}
                        }
                        break;
                    }
                    Ok(chunk) => {
                        match &mut h {
                            Hasher::Md5(h) => h.update(chunk),
                            Hasher::Sha256(h) => h.update(chunk),
                            Hasher::None => {}
                        }
                        chunk.len()
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                    Err(e) => {
                        m.error = Some(e.to_string());
                        break;
                    }
                };
                r.consume(n);
                total += n as u64;
                progress(total);
            }
        }
        members.push(m);
        Ok(())
    })?;
    Ok(Listing {
        input: input.display().to_string(),
        containers: report.containers,
        members,
        findings: report.findings,
        bytes_tested: total,
        bytes_decoded: report.decoded,
    })
}
