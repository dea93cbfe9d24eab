//! `verify` on the generated KB975354 sample packages (`testdata/*.msu`,
//! built by `src/sample/`): classic layout, payloads stored under
//! `keyform\name` inside the nested package CAB, no container index.

mod common;

use kbinspect::check::integrity;
use kbinspect::container::Limits;
use kbinspect::model::{Location, Package};

#[test]
fn samples_verify_with_every_payload_hashed() {
    for (arch, files) in [("x86", 4), ("x64", 11), ("ia64", 7)] {
        let msu = common::testdata().join(format!("Windows6.1-KB975354-{arch}.msu"));
        let pkg = Package::load(&msu, &Limits::default()).unwrap();
        let (findings, stats) = integrity::check_with_stats(&pkg);
        assert!(findings.is_empty(), "{arch}: {findings:#?}");
        assert_eq!(stats.files, files, "{arch}");
        assert_eq!(stats.files_verified, files, "{arch}");
        for f in pkg.components.iter().flat_map(|c| &c.files) {
            assert!(
                matches!(&f.location, Location::Stored { member, .. } if member.starts_with(&format!("Windows6.1-KB975354-{arch}.cab/"))),
                "{arch}: {:?}",
                f.location
            );
        }
        // vssapi.dll carries the version of its component (20541 on x86 and
        // ia64, 20542 on x64 per the article).
        let (comp, vssapi) = pkg
            .components
            .iter()
            .flat_map(|c| c.files.iter().map(move |f| (c, f)))
            .find(|(_, f)| f.name == "vssapi.dll")
            .unwrap();
        assert_eq!(
            vssapi.pe.as_ref().and_then(|p| p.file_version.as_deref()),
            Some(comp.identity.version.as_str()),
            "{arch}"
        );
        assert!(comp.identity.version.starts_with("6.1.7600.2054"));
    }
}
