//! The committed sample MSUs are exactly what the generator builds now, so
//! the fixtures and `kbinspect_testkit` cannot drift apart.
//! Regenerate with `cargo run --release --example gen_sample -- testdata/`.

use crate::common;

use kbinspect_testkit::{self as sample, Arch};

#[test]
fn committed_msus_equal_a_fresh_build() {
    for arch in Arch::ALL {
        let spec = sample::kb975354(arch);
        let path = common::testdata().join(spec.msu_name());
        let committed = std::fs::read(&path)
            .unwrap_or_else(|e| panic!("{}: {e} (run the gen_sample example)", path.display()));
        let fresh = sample::build_msu(&spec);
        assert_eq!(
            committed.len(),
            fresh.len(),
            "{}: size differs from a fresh build; regenerate with \
             `cargo run --release --example gen_sample -- testdata/`",
            path.display()
        );
        let first_diff = committed.iter().zip(&fresh).position(|(a, b)| a != b);
        assert_eq!(
            first_diff,
            None,
            "{}: bytes differ from a fresh build",
            path.display()
        );
        assert!(
            committed.len() < 200 * 1024,
            "{} is too big",
            path.display()
        );
    }
}
