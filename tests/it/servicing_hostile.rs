//! Hostile servicing XML: random mutations of real-shaped documents never
//! panic, and errors always name the member with a position inside the text.

use crate::common;

use kbinspect::model::{LoadOptions, Package};
use kbinspect::servicing::{cix, component, mum, xml::XmlLimits};
use proptest::prelude::*;

fn fixture(name: &str) -> Vec<u8> {
    let dir = common::testdata().join("servicing/demo-pkg");
    let path = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.file_name().unwrap().to_string_lossy().contains(name))
        .unwrap();
    std::fs::read(path).unwrap()
}

const CIX: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<Container name="k.cab" type="CAB" length="100" version="1" xmlns="urn:ContainerIndex"><Files>
<File id="2" name="a.manifest" length="10" time="132328619644355386" attr="32"><Hash alg="SHA256" value="aa"/><Delta><Source type="RAW" name="a.manifest"><Hash alg="SHA256" value="aa"/></Source></Delta></File>
<File id="3" name="k\f.dll" length="20"><Hash alg="SHA256" value="bb"/><Delta><Source type="PA30" name="0"/><Basis file="3"/></Delta></File>
</Files></Container>"#;

fn check_error(text_len: usize, e: &kbinspect::servicing::xml::XmlError) {
    assert_eq!(e.member, "m");
    // Positions are within the document (line 0 only for whole-document problems).
    assert!(e.line as usize <= text_len + 1, "{e}");
    assert!(!e.message.is_empty());
}

fn mutate(mut doc: Vec<u8>, edits: &[(usize, u8)], cut: Option<usize>) -> Vec<u8> {
    for &(pos, b) in edits {
        if !doc.is_empty() {
            let i = pos % doc.len();
            doc[i] = b;
        }
    }
    if let Some(c) = cut {
        doc.truncate(c % (doc.len() + 1));
    }
    doc
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn mutated_documents_never_panic(
        which in 0usize..4,
        edits in proptest::collection::vec((any::<usize>(), any::<u8>()), 0..8),
        cut in proptest::option::of(any::<usize>()),
    ) {
        let base = match which {
            0 => fixture("demo-component"),
            1 => fixture("0123456789abcdef"),
            2 => fixture("Package_1"),
            _ => CIX.as_bytes().to_vec(),
        };
        let doc = mutate(base, &edits, cut);
        let limits = XmlLimits::default();
        let r1 = component::parse("m", &doc, &limits).err();
        let r2 = mum::parse("m", &doc, &limits).err();
        let r3 = cix::parse("m", &doc, &limits).err();
        for e in [r1, r2, r3].iter().flatten() {
            check_error(doc.len(), e);
        }
    }

    /// The model keeps going: a package whose manifest is garbage still
    /// loads, with the garbage reported.
    #[test]
    fn model_survives_garbage_members(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
        let pkg = Package::from_members(
            "mem",
            vec![
                ("x86_a_31bf3856ad364e35_1.0.0.0_none_0000000000000000.manifest".into(), bytes.clone(), None),
                ("update.mum".into(), bytes.clone(), None),
                ("_manifest_.cix.xml".into(), bytes.clone(), None),
                ("0".into(), bytes, None),
            ],
            &LoadOptions::default(),
        );
        let _ = kbinspect::check::integrity::check(&pkg);
    }
}

/// Deep nesting, many elements, long text: limits, not stack overflows.
/// The 500,000 elements on one line also guard against quadratic position
/// tracking (it took 100 s before the line tracker counted columns
/// incrementally).
#[test]
fn resource_limits() {
    let limits = XmlLimits::default();
    let deep = "<a>".repeat(100_000);
    let e = component::parse("m", deep.as_bytes(), &limits).unwrap_err();
    assert!(e.message.contains("nested deeper"), "{e}");
    let many = format!("<a>{}</a>", "<b/>".repeat(600_000));
    let e = component::parse("m", many.as_bytes(), &limits).unwrap_err();
    assert!(e.message.contains("more than"), "{e}");
    let long = format!("<a>{}</a>", "x".repeat(2 << 20));
    let e = component::parse("m", long.as_bytes(), &limits).unwrap_err();
    assert!(e.message.contains("longer than"), "{e}");
    let entity = "<a>&unknown;</a>";
    let e = component::parse("m", entity.as_bytes(), &limits).unwrap_err();
    assert!(e.message.contains("unknown entity"), "{e}");
}
