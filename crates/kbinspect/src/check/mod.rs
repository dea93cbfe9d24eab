//! Checks turn the package model into [`crate::finding::Finding`]s.
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

/// Run every check on a loaded package (integrity, the chain of trust,
/// anomalies), add `extra` findings (e.g. the KB article's), and judge it.
/// `load` must be the options it was loaded with.
pub fn verify(
    pkg: &Package,
    load: &LoadOptions,
    trust: &crate::trust::package::TrustOptions,
    extra: Vec<Finding>,
) -> Verified {
    // The integrity check beside the others: none reads what another
    // gives, and the findings keep this order.
    let ((mut findings, stats), ((trust_findings, trust), anomalies)) = pkg.context().join(
        || integrity::check_with_stats(pkg),
        || {
            (
                signature::check_trust(pkg, load, trust),
                anomaly::check(pkg),
            )
        },
    );
    findings.extend(trust_findings);
    findings.extend(anomalies);
    findings.extend(extra);
    let assessment = verdict::assess(pkg, &findings, Some(verdict::TrustCount::of(&trust)));
    Verified {
        findings,
        stats,
        trust,
        assessment,
    }
}
