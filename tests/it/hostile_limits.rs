//! Every hard limit against hostile input has a safe default and, when
//! exceeded, an error naming the input, the limit and how to raise it.

use kbinspect::container::{Limits, walk};
use kbinspect::servicing::xml::{XmlLimits, parse};
use kbinspect_testkit::cabwrite::{CabFile, CabOptions, DosDateTime, Method, write_cab};

fn file(name: &str, data: Vec<u8>) -> CabFile {
    CabFile {
        name: name.into(),
        data,
        time: DosDateTime {
            year: 2022,
            month: 2,
            day: 2,
            hour: 2,
            minute: 2,
            second: 2,
        },
        attributes: 0x20,
    }
}

fn cab(files: Vec<CabFile>) -> Vec<u8> {
    write_cab(
        &files,
        &CabOptions {
            method: Method::MsZip,
            set_id: 9,
            signature: None,
        },
    )
}

/// The walk's error; it must name `expect` (the input or the nested tree path).
fn walk_err_naming(bytes: &[u8], limits: &Limits, expect: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("limit.cab");
    std::fs::write(&p, bytes).unwrap();
    let e = walk(&p, limits, &mut |_, _| Ok(())).expect_err("the limit must stop the walk");
    let msg = e.to_string();
    assert!(msg.contains(expect), "error does not name {expect}: {msg}");
    msg
}

fn walk_err(bytes: &[u8], limits: &Limits) -> String {
    walk_err_naming(bytes, limits, "limit.cab")
}

#[test]
fn defaults_are_safe() {
    let l = Limits::default();
    assert!(l.max_depth >= 2 && l.max_depth <= 16, "{l:?}");
    assert!(l.max_members <= 1 << 20, "{l:?}");
    assert!(l.max_total_size <= 1 << 40, "{l:?}");
    let x = XmlLimits::default();
    assert!(
        x.max_depth <= 256 && x.max_attr_len <= 1 << 20 && x.max_doc_len <= 1 << 30,
        "{x:?}"
    );
}

/// Cabinets nested deeper than --max-depth: each level is a cabinet inside
/// the previous one.
#[test]
fn nesting_depth() {
    let mut inner = cab(vec![file("leaf.txt", b"leaf".to_vec())]);
    for level in 0..12 {
        inner = cab(vec![file(&format!("level{level}.cab"), inner)]);
    }
    let msg = walk_err_naming(&inner, &Limits::default(), "level11.cab/level10.cab/");
    assert!(
        msg.contains("--max-depth") && msg.contains("nested"),
        "{msg}"
    );
}

#[test]
fn members_per_cabinet() {
    let files = (0..5)
        .map(|i| file(&format!("f{i}"), vec![i as u8; 10]))
        .collect();
    let limits = Limits {
        max_members: 4,
        ..Limits::default()
    };
    let msg = walk_err(&cab(files), &limits);
    assert!(
        msg.contains("--max-members") && msg.contains("limit 4"),
        "{msg}"
    );
}

/// A member declaring more than --max-member-size (patched CFFILE size).
#[test]
fn declared_member_size() {
    let limits = Limits {
        max_member_size: 1000,
        ..Limits::default()
    };
    let msg = walk_err(&cab(vec![file("big", vec![0; 5000])]), &limits);
    assert!(msg.contains("--max-member-size"), "{msg}");
}

/// Members declaring more output together than --max-total-size: the guard
/// against decompression bombs (tiny MSZIP input, huge declared output).
#[test]
fn total_declared_output() {
    let files = (0..4)
        .map(|i| file(&format!("z{i}"), vec![0; 40_000]))
        .collect();
    let bytes = cab(files);
    assert!(bytes.len() < 2000, "zeros compress well: {}", bytes.len());
    let limits = Limits {
        max_total_size: 100_000,
        ..Limits::default()
    };
    let msg = walk_err(&bytes, &limits);
    assert!(msg.contains("--max-total-size"), "{msg}");
}

#[test]
fn xml_depth_and_attribute_size() {
    let deep = format!("{}{}", "<a>".repeat(200), "</a>".repeat(200));
    let e = parse("deep.manifest", deep.as_bytes(), &XmlLimits::default()).unwrap_err();
    let msg = e.to_string();
    assert!(
        msg.contains("deep.manifest") && msg.contains("deeper than 64"),
        "{msg}"
    );
    assert!(e.line == 1 && e.column > 1, "{e:?}");

    let long = format!("<assembly x=\"{}\"/>", "A".repeat(100_000));
    let e = parse("long.mum", long.as_bytes(), &XmlLimits::default()).unwrap_err();
    let msg = e.to_string();
    assert!(msg.contains("long.mum") && msg.contains("65536"), "{msg}");
}

#[test]
fn kb_input_size() {
    let opts = kbinspect::kb::Options {
        max_bytes: 1000,
        ..Default::default()
    };
    let e = kbinspect::kb::parse_bytes_with(&vec![b'a'; 5000], &opts).unwrap_err();
    let msg = e.to_string();
    assert!(msg.contains("--max-size") && msg.contains("1000"), "{msg}");
}
