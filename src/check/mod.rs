//! Checks turn the package model into [`Finding`](crate::finding::Finding)s.
//!
//! - [`integrity`]: the package against itself (names, references, digests,
//!   container index, deltas).
//! - [`kb`]: the package against the file tables of its KB article.
//! - [`diff`]: two builds of an update against each other.

pub mod anomaly;
pub mod diff;
pub mod integrity;
pub mod kb;
pub mod signature;
pub mod verdict;

use crate::finding::Finding;
use crate::model::{LoadOptions, Package};

/// Everything `kbinspect verify` (without `--kb`) concludes about a package.
#[derive(Debug, Clone)]
pub struct Verified {
    pub findings: Vec<Finding>,
    pub stats: integrity::Stats,
    pub trust: crate::trust::package::TrustReport,
    pub assessment: verdict::Assessment,
}

/// Run every check on a loaded package (integrity, anomalies, the chain of
/// trust) and judge it. `load` must be the options it was loaded with.
pub fn verify(
    pkg: &Package,
    load: &LoadOptions,
    trust: &crate::trust::package::TrustOptions,
) -> Verified {
    let (mut findings, stats) = integrity::check_with_stats(pkg);
    let (trust_findings, trust) = signature::check_trust(pkg, load, trust);
    findings.extend(trust_findings);
    findings.extend(anomaly::check(pkg));
    let count = verdict::TrustCount {
        present: trust.signatures.len(),
        verified: trust
            .signatures
            .iter()
            .filter(|s| s.result == "verified")
            .count(),
    };
    let assessment = verdict::assess(pkg, &findings, Some(count));
    Verified {
        findings,
        stats,
        trust,
        assessment,
    }
}
