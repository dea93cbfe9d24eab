//! Contract between the sample generator and the package model: loading a
//! generated MSU with `kbinspect::model::Package` finds every component and
//! file the spec describes, with the digests, PE versions, machines and
//! install paths the generator wrote.

use crate::common;

use kbinspect::container::Limits;
use kbinspect::model::Package;
use kbinspect_testkit::{self as sample, Arch, Machine, Payload};
use sha2::Digest as _;

#[test]
fn model_sees_the_spec() {
    for arch in Arch::ALL {
        let spec = sample::kb975354(arch);
        let msu = common::testdata().join(spec.msu_name());
        let pkg = Package::load(&msu, &Limits::default()).unwrap();
        assert_eq!(pkg.components.len(), spec.components.len(), "{arch:?}");
        let names: Vec<&str> = pkg
            .packages
            .iter()
            .map(|p| p.mum.identity.name.as_str())
            .collect();
        assert!(names.contains(&"Package_for_KB975354_RTM"), "{names:?}");
        assert!(names.contains(&"Package_for_KB975354"), "{names:?}");
        for c in &spec.components {
            let got = pkg
                .components
                .iter()
                .find(|g| *g.keyform == *c.keyform())
                .unwrap_or_else(|| panic!("{} not in the model", c.keyform()));
            assert_eq!(got.identity, c.identity);
            assert_eq!(got.files.len(), c.files.len(), "{}", c.keyform());
            for f in &c.files {
                let g = got.files.iter().find(|g| g.name == f.name).unwrap();
                let bytes = sample::payload_bytes(f);
                assert_eq!(g.digest_alg.as_deref(), Some("sha256"));
                assert_eq!(
                    g.digest.as_deref(),
                    Some(hex::encode(sha2::Sha256::digest(&bytes)).as_str()),
                    "{}",
                    f.name
                );
                assert_eq!(g.size, Some(f.size), "{}", f.name);
                let system = if c.identity.processor_architecture == "wow64" {
                    "SysWOW64"
                } else {
                    "System32"
                };
                assert!(
                    g.destination
                        .to_ascii_lowercase()
                        .starts_with(&format!("c:\\windows\\{}\\", system.to_ascii_lowercase())),
                    "{}: {}",
                    f.name,
                    g.destination
                );
                match f.payload {
                    Payload::Pe(machine) => {
                        let pe =
                            g.pe.as_ref()
                                .unwrap_or_else(|| panic!("{}: no PE info", f.name));
                        assert_eq!(
                            pe.file_version.map(|v| v.to_string()),
                            f.version,
                            "{}",
                            f.name
                        );
                        assert_eq!(
                            pe.product_version.map(|v| v.to_string()),
                            f.version,
                            "{}",
                            f.name
                        );
                        let want = match machine {
                            Machine::I386 => "i386",
                            Machine::Amd64 => "amd64",
                            Machine::Ia64 => "ia64",
                        };
                        assert_eq!(pe.machine, want, "{}", f.name);
                        // The model read this very file: the same facts as
                        // read from the generator's bytes, which name it.
                        assert_eq!(
                            Some(&**pe),
                            kbinspect::pe::version_info(&bytes).as_ref(),
                            "{}",
                            f.name
                        );
                        assert_eq!(
                            kbinspect::pe::version_strings(&bytes)
                                .get("OriginalFilename")
                                .map(String::as_str),
                            Some(f.name.as_str())
                        );
                    }
                    _ => assert!(
                        g.pe.as_ref().is_none_or(|p| p.file_version.is_none()),
                        "{}",
                        f.name
                    ),
                }
            }
        }
    }
}
