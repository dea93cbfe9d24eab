//! The chain of trust: Authenticode signatures of cabinets (MSU and the
//! cabinets inside), catalogs (`.cat`) and the documents and files they
//! cover, checked offline against embedded Microsoft roots.

pub mod chain;
pub mod ctl;
pub mod montgomery;
/// Digests live a layer down (the model computes the cabinet digest while
/// walking); re-exported here, where the signatures use them.
pub use crate::digest;
pub mod package;
pub mod pkcs7;
pub mod tlv;

use crate::finding::Code;
use chain::RootStore;
use pkcs7::{Content, SignatureReport};

/// Seconds since 1970, now.
pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// The signature blob of a cabinet in memory, when its header points at
/// one inside it.
pub fn cab_signature(bytes: &[u8]) -> Option<&[u8]> {
    let (pos, len) = digest::cab_signature_range(bytes)?;
    let (pos, len) = (usize::try_from(pos).ok()?, usize::try_from(len).ok()?);
    bytes
        .get(pos..pos.checked_add(len)?)
        .filter(|b| !b.is_empty())
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
    let (report, ctl) = verify_bytes_with(bytes, name, store, now, None);
    (
        report,
        ctl.map(|c| std::sync::Arc::try_unwrap(c).unwrap_or_else(|c| (*c).clone())),
    )
}

/// A catalog's CTL as read before ([`ctl::read_unverified`]): where its DER
/// lies in the catalog's bytes, and its parse.
pub type ReadCtl = (std::ops::Range<usize>, std::sync::Arc<ctl::Ctl>);

/// [`verify_bytes`], given the CTL the load already parsed: used when the
/// content the signature covers is the very bytes it was parsed from
/// (compared), parsed again otherwise.
pub fn verify_bytes_with(
    bytes: &[u8],
    name: &str,
    store: &RootStore,
    now: i64,
    read: Option<&ReadCtl>,
) -> (SignatureReport, Option<std::sync::Arc<ctl::Ctl>>) {
    if bytes.starts_with(b"MSCF") {
        let d = |a| Some(digest::cab_digest(bytes, a));
        match cab_signature(bytes) {
            Some(sig) => (
                pkcs7::verify(sig, name, Content::Cab(&d), store, now).report,
                None,
            ),
            None => {
                let mut r = pkcs7::verify(&[], name, Content::Cab(&d), store, now).report;
                r.problems = vec![pkcs7::Problem {
                    code: Code::Unsigned,
                    detail: "no Authenticode signature".into(),
                }];
                r.result = "failed".into();
                (r, None)
            }
        }
    } else {
        let v = pkcs7::verify(bytes, name, Content::Catalog, store, now);
        let mut report = v.report;
        let parsed = v.ctl.as_deref().map(|der| match read {
            Some((range, c)) if bytes.get(range.clone()) == Some(der) => Ok(c.clone()),
            _ => ctl::parse(der).map(std::sync::Arc::new),
        });
        let ctl = match parsed {
            Some(Ok(c)) => Some(c),
            Some(Err(e)) => {
                report.problems.push(pkcs7::Problem {
                    code: Code::TrustUnreadable,
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

/// The short trust section of `verify`'s table output: one line per
/// signature (file, signer, chain, digest, timestamp, result), then the
/// coverage counts.
pub fn write_table(out: &mut dyn std::io::Write, r: &package::TrustReport) -> std::io::Result<()> {
    let s = &r.summary;
    if s.signatures == 0 && s.catalogs == 0 {
        return Ok(());
    }
    writeln!(
        out,
        "Trust: {}/{} signatures verified; roots: {}; {}/{} servicing documents in a verified catalog; {}/{} payload files found in a catalog ({} by flat hash, {} by PE hash); revocation not checked (offline)",
        s.signatures_verified,
        s.signatures,
        if s.roots.is_empty() {
            "none".to_string()
        } else {
            s.roots.join(", ")
        },
        s.documents_covered,
        s.documents,
        s.files_found,
        s.files,
        s.files_by_flat_hash,
        s.files_by_pe_hash
    )?;
    for sig in &r.signatures {
        let chain = sig
            .chain
            .as_ref()
            .map(|c| c.certs.join(" > "))
            .unwrap_or_else(|| "-".into());
        let ts = sig
            .timestamp
            .as_ref()
            .and_then(|t| t.time.clone())
            .unwrap_or_else(|| "no timestamp".into());
        writeln!(
            out,
            "  {:<9} {}  signer: {}  chain: {}  digest: {} {}  timestamp: {}  checked at: {} ({})",
            sig.result,
            sig.file,
            sig.signer.as_deref().unwrap_or("-"),
            chain,
            sig.digest_alg.as_deref().unwrap_or("-"),
            sig.computed_digest
                .as_deref()
                .or(sig.message_digest.as_deref())
                .map(|d| &d[..d.len().min(16)])
                .unwrap_or("-"),
            ts,
            sig.checked_at.as_deref().unwrap_or("-"),
            sig.time_source
        )?;
    }
    Ok(())
}

/// `name_<40 hex>.msu|.cab`: the hex, lower-cased.
pub fn download_name_sha1(path: &str) -> Option<String> {
    let name = path.rsplit(['/', '\\']).next()?;
    let lower = name.to_ascii_lowercase();
    let stem = lower
        .strip_suffix(".msu")
        .or_else(|| lower.strip_suffix(".cab"))?;
    let (_, hex) = stem.rsplit_once('_')?;
    (hex.len() == 40 && hex.bytes().all(|b| b.is_ascii_hexdigit())).then(|| hex.to_string())
}

#[cfg(test)]
mod hostile {
    use super::*;

    /// DER header of `tag` with a value of `len` bytes.
    fn hdr(tag: u8, len: usize) -> Vec<u8> {
        let mut v = vec![tag];
        if len < 0x80 {
            v.push(len as u8);
        } else {
            let b = (len as u32).to_be_bytes();
            let skip = b.iter().take_while(|&&x| x == 0).count();
            v.push(0x80 | (4 - skip) as u8);
            v.extend_from_slice(&b[skip..]);
        }
        v
    }

    fn tlv(tag: u8, value: &[u8]) -> Vec<u8> {
        let mut v = hdr(tag, value.len());
        v.extend_from_slice(value);
        v
    }

    /// A ContentInfo(SignedData) with `certs` in `[0]` and no signer.
    fn signed_data(certs: &[u8]) -> Vec<u8> {
        let oid_sd = [
            0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x02,
        ];
        let oid_ctl = [
            0x06, 0x09, 0x2b, 0x06, 0x01, 0x04, 0x01, 0x82, 0x37, 0x0a, 0x01,
        ];
        let mut sd = vec![0x02, 0x01, 0x01, 0x31, 0x00];
        sd.extend(tlv(0x30, &oid_ctl));
        sd.extend(tlv(0xa0, certs));
        sd.extend([0x31, 0x00]);
        let mut ci = oid_sd.to_vec();
        ci.extend(tlv(0xa0, &tlv(0x30, &sd)));
        tlv(0x30, &ci)
    }

    fn check(bytes: &[u8]) -> SignatureReport {
        let (r, _) = verify_bytes(bytes, "hostile.cat", &RootStore::microsoft(), 0);
        assert_eq!(r.result, "failed", "{:?}", r.problems);
        r
    }

    #[test]
    fn huge_lengths() {
        let r = check(&[0x30, 0x84, 0x7f, 0xff, 0xff, 0xff, 0x06, 0x09]);
        assert!(
            r.problems[0].detail.contains("runs past the end"),
            "{:?}",
            r.problems
        );
        check(&[0x30, 0x80, 0x00, 0x00]);
        check(&[]);
    }

    #[test]
    fn deep_nesting() {
        let mut v = vec![0x05, 0x00];
        for _ in 0..100_000 {
            v = tlv(0x30, &v);
        }
        check(&v);
        let mut w = vec![0x05, 0x00];
        for _ in 0..10_000 {
            w = tlv(0xa0, &w);
        }
        check(&signed_data(&w));
    }

    #[test]
    fn a_hundred_thousand_certificates() {
        let certs: Vec<u8> = std::iter::repeat_n([0x30u8, 0x00], 100_000)
            .flatten()
            .collect();
        let r = check(&signed_data(&certs));
        assert!(
            r.problems[0]
                .detail
                .contains("100000 certificates embedded"),
            "{:?}",
            r.problems
        );
    }

    #[test]
    fn no_content_is_an_error() {
        let r = check(&signed_data(&[]));
        assert_eq!(r.result, "failed");
        assert!(
            r.problems
                .iter()
                .any(|p| p.detail.contains("no content") || p.detail.contains("no signer")),
            "{:?}",
            r.problems
        );
    }
}
