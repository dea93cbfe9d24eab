//! Authenticode presence: Microsoft signs the MSU and the package cabinet
//! inside it (a 20-byte header reserve pointing at a PKCS#7 blob appended to
//! the cabinet). An update without one did not come from Windows Update as
//! shipped. Presence is checked here; the PKCS#7 itself is not validated.

use crate::finding::Finding;
use crate::model::Package;

/// One warning naming every cabinet that should be signed and is not: the
/// input itself, and each cabinet holding an `update.mum`.
pub fn check(pkg: &Package) -> Vec<Finding> {
    let holds_mum = |path: &str| {
        let prefix = if path.is_empty() {
            String::new()
        } else {
            format!("{path}/")
        };
        pkg.members.iter().any(|m| {
            m.path
                .strip_prefix(&prefix)
                .is_some_and(|rest| rest.eq_ignore_ascii_case("update.mum"))
        })
    };
    let unsigned: Vec<String> = pkg
        .containers
        .iter()
        .filter(|c| c.kind == "cab" || c.kind == "msu")
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
        "unsigned",
        unsigned.join(", "),
        "no Authenticode signature (no signature reserve in the cabinet header, nothing appended); Microsoft signs the MSU and its package cabinet",
    )]
}
