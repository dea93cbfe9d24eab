//! Fuzz the trust parsers: PKCS#7 SignedData (as a catalog and as a
//! cabinet signature), the CTL inside, certificates, and the PE
//! Authenticode hash. Never a panic; errors are findings.
#![no_main]

use kbinspect::trust::{self, chain, digest, tlv};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let store = chain::RootStore::microsoft();
    // As a catalog (PKCS#7 over a CTL).
    let (r, ctl) = trust::verify_bytes(data, "fuzz.cat", &store, 0);
    assert!(!r.verified() || ctl.is_some());
    // As the signature blob of a cabinet.
    let mut cab = b"MSCF".to_vec();
    cab.resize(60, 0);
    let digests = digest::cab_digests(&cab);
    let d = |a| digests.digest(a);
    let _ = trust::pkcs7::verify(data, "fuzz.cab", trust::pkcs7::Content::Cab(&d), &store, 0);
    let _ = trust::ctl::parse(data);
    let _ = chain::Cert::from_der(data);
    let _ = tlv::read(data);
    let _ = digest::pe_authenticode(data, digest::Alg::Sha256);
});
