//! The chain of trust: Authenticode signatures of cabinets (MSU and the
//! cabinets inside), catalogs (`.cat`) and the documents and files they
//! cover, checked offline against embedded Microsoft roots.

pub mod chain;
pub mod ctl;
pub mod digest;
pub mod pkcs7;
pub mod tlv;

use chain::RootStore;
use pkcs7::{Content, SignatureReport};

/// Seconds since 1970, now.
pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// Verify one file on its own: a signed cabinet (`.msu`, `.cab`) or a
/// catalog (`.cat`, recognised by not starting with `MSCF`). Catalogs
/// come back with their parsed CTL.
pub fn verify_bytes(
    bytes: &[u8],
    name: &str,
    store: &RootStore,
    now: i64,
) -> (SignatureReport, Option<ctl::Ctl>) {
    if bytes.starts_with(b"MSCF") {
        let d = digest::cab_digests(bytes);
        match &d.signature {
            Some(sig) => (pkcs7::verify(sig, name, Content::Cab(&d), store, now).report, None),
            None => {
                let mut r = pkcs7::verify(&[], name, Content::Cab(&d), store, now).report;
                r.problems = vec![pkcs7::Problem {
                    code: "unsigned".into(),
                    detail: "no Authenticode signature".into(),
                }];
                r.result = "failed".into();
                (r, None)
            }
        }
    } else {
        let v = pkcs7::verify(bytes, name, Content::Catalog, store, now);
        let mut report = v.report;
        let ctl = match v.ctl.as_deref().map(ctl::parse) {
            Some(Ok(c)) => Some(c),
            Some(Err(e)) => {
                report.problems.push(pkcs7::Problem {
                    code: "trust-unreadable".into(),
                    detail: format!("catalog content: {e}"),
                });
                report.result = "failed".into();
                None
            }
            None => None,
        };
        (report, ctl)
    }
}
