//! A package that carries `wcp.dll` (as Windows 11 MSUs do in their
//! servicing-stack cabinet) has its DCM manifests expanded with the base
//! manifest from that DLL, and says which base it used.

use crate::common;

use kbinspect::model::{LoadOptions, Package};

#[test]
fn dcm_manifests_expand_with_the_base_from_a_wcp_dll_in_the_package() {
    let dcm = corpus_or_skip!("msdelta-vectors/dcm");
    let base = std::fs::read(
        common::corpus()
            .unwrap()
            .join("winsxs-dcm-base/w10-base.manifest"),
    )
    .unwrap();
    let name = "amd64_microsoft-windows-font-truetype-gadugi_31bf3856ad364e35_10.0.26100.1_none_e1326a4c8dcc8ee1.manifest";
    let manifest = std::fs::read(dcm.join(name)).unwrap();
    assert!(manifest.starts_with(b"DCM\x01"));

    let opts = LoadOptions::default();
    // Without wcp.dll: reported as compressed, not parsed.
    let alone = Package::from_members(
        "pkg",
        vec![(name.to_string(), manifest.clone(), None)],
        &opts,
    );
    assert!(alone.components.is_empty());
    assert_eq!(alone.compressed_manifests.len(), 1);

    // With a wcp.dll holding the base: expanded, identity parsed, base named.
    let wcp = kbinspect_testkit::pe::wcp_with_base(&base);
    let pkg = Package::from_members(
        "pkg",
        vec![
            (name.to_string(), manifest, None),
            ("ssu/wcp.dll".to_string(), wcp, None),
        ],
        &opts,
    );
    assert_eq!(pkg.components.len(), 1, "{:#?}", pkg.findings);
    assert_eq!(format!("{}.manifest", pkg.components[0].keyform), name);
    let used = pkg
        .findings
        .iter()
        .find(|f| f.code == "dcm-base-from-package")
        .expect("the base used is reported");
    assert_eq!(used.subject, "ssu/wcp.dll");
    assert!(used.detail.contains("the known base"), "{}", used.detail);
}
