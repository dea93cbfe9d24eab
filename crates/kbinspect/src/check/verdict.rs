//! The verdict: `pass`, `incomplete` or `fail`, and what it rests on.
//!
//! - `fail`: a finding of error severity (something is wrong).
//! - `incomplete`: nothing wrong was found, but something could not be
//!   proven: a file whose bytes were not checked against its manifest
//!   digest (a delta not rebuilt, a `.psf` range, no digest), a document
//!   not parsed, a signature not verified. Each is listed with its reason.
//! - `pass`: every declared file proven by its digest (stored or
//!   rebuilt), every reference resolved, every signature verified, nothing
//!   wrong.
//!
//! Nothing to check is not a pass: a package without servicing metadata is
//! a finding of error severity (`no-package-metadata`, from [`super::integrity::check`]).
//!
//! Linear in files + findings + index entries.

use serde::Serialize;

use crate::finding::{Code, Finding, Severity};
use crate::model::{Expansion, File, Location, MemberKind, Package, member_digest, parent_of};
use crate::servicing::component::DigestAlg;

/// The three verdicts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    Pass,
    Incomplete,
    Fail,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Pass => "pass",
            Verdict::Incomplete => "incomplete",
            Verdict::Fail => "fail",
        }
    }

    /// Process exit code: 1 for `fail`, and for `incomplete` when `strict`.
    pub fn exit_code(self, strict: bool) -> i32 {
        match self {
            Verdict::Pass => 0,
            Verdict::Incomplete => i32::from(strict),
            Verdict::Fail => 1,
        }
    }
}

/// How a declared file's bytes were proven.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Proof {
    /// A stored member whose bytes hash to the manifest digest.
    StoredDigest,
    /// Rebuilt from a delta chain; the bytes hash to the manifest digest.
    RebuiltDigest,
    /// Not rebuilt, but the container index lists the manifest's digest
    /// and the blob it would be rebuilt from matches the index: the
    /// metadata agrees, the bytes are unchecked.
    IndexOnly,
    /// Nothing proves it (see the reason).
    Unproven,
}

impl Proof {
    pub fn is_proven(self) -> bool {
        matches!(self, Proof::StoredDigest | Proof::RebuiltDigest)
    }
}

/// One declared file and its proof.
#[derive(Debug, Clone, Serialize)]
pub struct FileProof {
    /// `keyform\name`.
    pub file: String,
    pub proof: Proof,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// Something that could not be proven, and why.
#[derive(Debug, Clone, Serialize)]
pub struct Unproven {
    pub subject: String,
    pub reason: String,
}

/// What was proven, at a glance.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Coverage {
    pub files_declared: usize,
    pub files_proven: usize,
    pub stored_digest: usize,
    pub rebuilt_digest: usize,
    pub index_only: usize,
    pub unproven: usize,
    /// Authenticode signatures present (the input and nested cabinets).
    pub signatures: usize,
    /// Signatures verified up to a trusted root; `None` when no trust check
    /// ran.
    pub signatures_verified: Option<usize>,
    /// `.cat` catalogs in the package.
    pub catalogs: usize,
}

/// The verdict with everything it rests on.
#[derive(Debug, Clone, Serialize)]
pub struct Assessment {
    pub verdict: Verdict,
    pub coverage: Coverage,
    /// Everything that could not be proven (files and other things).
    pub unproven: Vec<Unproven>,
    /// Every declared file's proof.
    pub files: Vec<FileProof>,
}

/// Finding codes that leave something unproven without being wrong.
fn leaves_unproven(code: Code) -> bool {
    matches!(
        code,
        Code::ManifestCompressed
            | Code::MemberTooLarge
            | Code::DcmBaseUnreadable
            | Code::ManifestDigestUnreadable
            | Code::SecondSourceUnchecked
            | Code::DeltaHeaderUnreadable
            | Code::Unsigned
            | Code::CatalogAbsent
            | Code::CatalogFileMissing
            | Code::CatalogUnlisted
    ) || code.is_trust_unchecked()
}

/// Signatures counted by a trust check: (present, verified).
#[derive(Debug, Clone, Copy, Default)]
pub struct TrustCount {
    pub present: usize,
    pub verified: usize,
}

impl TrustCount {
    /// The signatures a trust report holds, and how many verified.
    pub fn of(report: &crate::trust::package::TrustReport) -> TrustCount {
        TrustCount {
            present: report.signatures.len(),
            verified: report
                .signatures
                .iter()
                .filter(|s| s.result == "verified")
                .count(),
        }
    }
}

/// Judge a checked package. `trust` is what the signature check verified,
/// `None` when none ran (then present signatures are unproven).
pub fn assess(pkg: &Package, findings: &[Finding], trust: Option<TrustCount>) -> Assessment {
    let mut files = Vec::new();
    let mut cov = Coverage::default();
    let mut unproven = Vec::new();
    for c in &pkg.components {
        for f in &c.files {
            let subject = format!("{}\\{}", c.keyform, f.name);
            let (proof, reason) = file_proof(pkg, &c.member, f);
            cov.files_declared += 1;
            match proof {
                Proof::StoredDigest => cov.stored_digest += 1,
                Proof::RebuiltDigest => cov.rebuilt_digest += 1,
                Proof::IndexOnly => cov.index_only += 1,
                Proof::Unproven => cov.unproven += 1,
            }
            if !proof.is_proven() {
                unproven.push(Unproven {
                    subject: subject.clone(),
                    reason: reason.clone().unwrap_or_default(),
                });
            }
            files.push(FileProof {
                file: subject,
                proof,
                reason,
            });
        }
    }
    cov.files_proven = cov.stored_digest + cov.rebuilt_digest;
    cov.catalogs = pkg
        .members()
        .iter()
        .filter(|m| m.kind == MemberKind::Catalog)
        .count();
    let present = pkg
        .containers
        .iter()
        .filter(|c| c.signature.is_some())
        .count();
    cov.signatures = trust.map_or(present, |t| t.present.max(present));
    cov.signatures_verified = trust.map(|t| t.verified);
    if let Some(t) = trust
        && t.verified < t.present
    {
        unproven.push(Unproven {
            subject: pkg.input.clone(),
            reason: format!(
                "{} of {} signatures not verified (see the trust findings)",
                t.present - t.verified,
                t.present
            ),
        });
    }
    if trust.is_none() && present > 0 {
        unproven.push(Unproven {
            subject: pkg.input.clone(),
            reason: format!(
                "{present} Authenticode signature(s) present but not verified (no trust check ran)"
            ),
        });
    }
    for f in findings {
        if f.severity != Severity::Error && leaves_unproven(f.code) {
            unproven.push(Unproven {
                subject: f.subject.clone(),
                reason: format!("{}: {}", f.code, f.detail),
            });
        }
    }
    let verdict = if findings.iter().any(|f| f.severity == Severity::Error) {
        Verdict::Fail
    } else if !unproven.is_empty() {
        Verdict::Incomplete
    } else {
        Verdict::Pass
    };
    Assessment {
        verdict,
        coverage: cov,
        unproven,
        files,
    }
}

/// The proof of one declared file, and why it is not better.
fn file_proof(pkg: &Package, manifest: &str, f: &File) -> (Proof, Option<String>) {
    let alg = f.digest_alg.as_deref().map(DigestAlg::from_name);
    let Some(want) = f.digest.as_deref() else {
        return (
            Proof::Unproven,
            Some("the manifest declares no digest".into()),
        );
    };
    if let Some(DigestAlg::Other(a)) = &alg {
        return (
            Proof::Unproven,
            Some(format!("digest algorithm {a} is not supported")),
        );
    }
    match &f.location {
        Location::Stored { member, .. } => {
            let got = pkg
                .member(member)
                .and_then(|m| alg.as_ref().and_then(|a| member_digest(m, a)));
            match got {
                Some(got) if got == want => (Proof::StoredDigest, None),
                Some(_) => (
                    Proof::Unproven,
                    Some(format!("{member} does not match the manifest digest")),
                ),
                None => (
                    Proof::Unproven,
                    Some(format!("{member}: its digest was not computed")),
                ),
            }
        }
        Location::Absent => (Proof::Unproven, Some("not in the package".into())),
        Location::Delta { index_id, .. }
        | Location::Copy { index_id, .. }
        | Location::Psf { index_id, .. } => {
            let why = match &f.expansion {
                Some(Expansion::Rebuilt { sha256, sha1 }) => {
                    let got = if alg == Some(DigestAlg::Sha1) {
                        sha1
                    } else {
                        sha256
                    };
                    if got == want {
                        return (Proof::RebuiltDigest, None);
                    }
                    return (
                        Proof::Unproven,
                        Some("the rebuilt bytes do not match the manifest digest".into()),
                    );
                }
                Some(Expansion::NotExpanded { reason }) => format!("not rebuilt: {reason}"),
                Some(Expansion::Failed { reason }) => format!("rebuild failed: {reason}"),
                Some(Expansion::Mismatch { reason }) => {
                    return (Proof::Unproven, Some(format!("rebuild mismatch: {reason}")));
                }
                None => match &f.location {
                    Location::Psf { .. } => "a .psf range, not read".to_string(),
                    _ => "not rebuilt (expansion off)".to_string(),
                },
            };
            if index_agrees(pkg, manifest, *index_id, want) {
                (Proof::IndexOnly, Some(why))
            } else {
                (Proof::Unproven, Some(why))
            }
        }
    }
}

/// The container index beside `manifest` lists file `id` with the digest
/// `want` (the blob's own hash is checked by the integrity checks, which
/// report a mismatch as an error).
fn index_agrees(pkg: &Package, manifest: &str, id: u64, want: &str) -> bool {
    pkg.indexes_in(parent_of(manifest))
        .find_map(|i| i.entry(id))
        .is_some_and(|e| e.hash.as_ref().is_some_and(|h| h.hex == want))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_codes() {
        assert_eq!(Verdict::Pass.exit_code(true), 0);
        assert_eq!(Verdict::Incomplete.exit_code(false), 0);
        assert_eq!(Verdict::Incomplete.exit_code(true), 1);
        assert_eq!(Verdict::Fail.exit_code(false), 1);
    }

    #[test]
    fn codes_that_leave_things_unproven() {
        assert!(leaves_unproven(Code::ManifestCompressed));
        assert!(leaves_unproven(Code::TrustUncheckedNoCatalog));
        assert!(!leaves_unproven(Code::KbTimeMismatch));
    }
}
