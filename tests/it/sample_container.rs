//! The sample MSUs through kbinspect's own container reader: every member
//! the generator put into the package CAB comes out with the same bytes,
//! size and date, and the reader reports no error-severity anomaly.

use std::collections::BTreeMap;

use kbinspect::container::{self, Limits};
use kbinspect::finding::Severity;
use kbinspect_testkit::{self as sample, Arch};
use sha2::Digest as _;

use crate::common;

#[test]
fn container_reader_sees_what_the_generator_wrote() {
    for arch in Arch::ALL {
        let spec = sample::kb975354(arch);
        let msu = common::testdata().join(spec.msu_name());
        let mut seen: BTreeMap<String, (u64, String, String)> = BTreeMap::new();
        let report = container::walk(&msu, &Limits::default(), &mut |meta, reader| {
            let mut data = Vec::new();
            reader.read_to_end(&mut data)?;
            let stamp = meta.modified.map(|t| t.to_string()).unwrap_or_default();
            seen.insert(
                meta.path.clone(),
                (meta.size, stamp, hex::encode(sha2::Sha256::digest(&data))),
            );
            Ok(())
        })
        .unwrap_or_else(|e| panic!("{}: {e}", msu.display()));
        let errors: Vec<_> = report
            .findings
            .iter()
            .filter(|f| f.severity == Severity::Error)
            .collect();
        assert!(errors.is_empty(), "{arch:?}: {errors:?}");

        let cab = spec.package_cab_name();
        for m in sample::package_members(&spec) {
            let path = format!("{cab}/{}", m.name.replace('\\', "/"));
            let (size, stamp, digest) = seen
                .get(&path)
                .unwrap_or_else(|| panic!("{path} not seen by the reader"));
            assert_eq!(*size, m.data.len() as u64, "{path}");
            let t = m.time;
            let want = format!(
                "{:04}-{:02}-{:02}T{:02}:{:02}:00",
                t.year, t.month, t.day, t.hour, t.minute
            );
            assert_eq!(*stamp, want, "{path}");
            assert_eq!(
                *digest,
                hex::encode(sha2::Sha256::digest(&m.data)),
                "{path}"
            );
        }
    }
}
