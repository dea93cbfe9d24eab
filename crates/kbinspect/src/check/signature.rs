//! Authenticode: Microsoft signs the MSU and the cabinets inside it (a
//! 20-byte header reserve pointing at a PKCS#7 blob appended to the
//! cabinet), and the catalogs (`.cat`) list the hashes of every servicing
//! document and payload file. The checks themselves live in
//! [`crate::trust`]; this module turns them into findings, and keeps the
//! warning for cabinets that carry no signature at all.

use crate::finding::{Code, Finding};
use crate::model::{LoadOptions, Package};
use crate::trust::package::{self as trust, TrustOptions, TrustReport};

/// The findings of [`check_trust`] with the embedded Microsoft roots.
pub fn check(pkg: &Package) -> Vec<Finding> {
    check_trust(pkg, &LoadOptions::default(), &TrustOptions::default()).0
}

/// Presence of signatures, then the whole chain of trust.
pub fn check_trust(
    pkg: &Package,
    load: &LoadOptions,
    opts: &TrustOptions,
) -> (Vec<Finding>, TrustReport) {
    let mut findings = unsigned(pkg);
    let (f, report) = trust::check(pkg, load, opts);
    findings.extend(f);
    (findings, report)
}

/// One warning naming every cabinet that should be signed and is not: the
/// input itself, and each cabinet holding an `update.mum`.
fn unsigned(pkg: &Package) -> Vec<Finding> {
    let holds_mum = |path: &str| {
        let prefix = if path.is_empty() {
            String::new()
        } else {
            format!("{path}/")
        };
        pkg.members().iter().any(|m| {
            m.path
                .strip_prefix(&prefix)
                .is_some_and(|rest| rest.eq_ignore_ascii_case("update.mum"))
        })
    };
    let unsigned: Vec<String> = pkg
        .containers
        .iter()
        .filter(|c| c.kind.is_cabinet())
        .filter(|c| c.path.is_empty() || holds_mum(&c.path))
        .filter(|c| c.signature.is_none())
        .map(|c| {
            if c.path.is_empty() {
                pkg.input.clone()
            } else {
                c.path.clone()
            }
        })
        .collect();
    if unsigned.is_empty() {
        return vec![];
    }
    vec![Finding::warning(
        Code::Unsigned,
        unsigned.join(", "),
        "no Authenticode signature (no signature reserve in the cabinet header, nothing appended); Microsoft signs the MSU and its package cabinet",
    )]
}
