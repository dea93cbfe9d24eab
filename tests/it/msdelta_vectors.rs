//! The public `jlevere/msdelta` vectors (corpus `msdelta-vectors/`): RAW
//! deltas rebuild their targets, DCM manifests expand to the manifest their
//! file name names, PE deltas rebuild or say "unsupported", crash inputs
//! give clear errors.
use crate::common;
use crate::msdelta_support;

use kbinspect::msdelta::{
    self, DeltaLimits, ErrorKind, Verification, apply, apply_detailed, expand_dcm,
};
use kbinspect::servicing::identity::{Identity, Keyform};
use msdelta_support::sha256_hex;

fn read(p: &std::path::Path) -> Vec<u8> {
    std::fs::read(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

#[test]
fn raw_deltas_rebuild_their_targets() {
    let dir = corpus_or_skip!("msdelta-vectors/deltas");
    let src = dir.join("sources");
    let cases = [
        ("cmd__to__where__raw.pa30", "cmd.exe", "where.exe"),
        ("cmd__to__notepad__raw.pa30", "cmd.exe", "notepad.exe"),
        (
            "cmd__to__notepad__raw_flag0x20000.pa30",
            "cmd.exe",
            "notepad.exe",
        ),
        (
            "cmd__to__notepad__raw_bsdiff_flag0x100.pa30",
            "cmd.exe",
            "notepad.exe",
        ),
        ("advapi32_raw.pa30", "advapi32_old.dll", "advapi32_new.dll"),
    ];
    for (delta, from, to) in cases {
        let d = read(&dir.join(delta));
        let h = msdelta::parse_header(&d).unwrap();
        assert_eq!(h.file_type, 1, "{delta} is RAW");
        let out = apply(&d, Some(&read(&src.join(from))), &DeltaLimits::default())
            .unwrap_or_else(|e| panic!("{delta}: {e}"));
        assert!(
            out == read(&src.join(to)),
            "{delta}: output differs from {to}"
        );
    }
}

/// PE-typed deltas: the PE transform pipeline reproduces every vector
/// exactly (checked by a hash); a refusal would be `Unsupported`, never a
/// wrong file.
#[test]
fn pe_deltas_rebuild_or_are_unsupported_never_wrong() {
    let dir = corpus_or_skip!("msdelta-vectors");
    let d = dir.join("deltas");
    let s = d.join("sources");
    let mut cases = vec![
        (
            d.join("cmd__to__cmd_patched__pe_amd64.pa30"),
            s.join("cmd.exe"),
            s.join("cmd_patched.exe"),
        ),
        (
            d.join("genuine/cmd_pe_genuine.pa30"),
            s.join("cmd.exe"),
            s.join("cmd_patched.exe"),
        ),
        (
            d.join("advapi32_pe.pa30"),
            s.join("advapi32_old.dll"),
            s.join("advapi32_new.dll"),
        ),
        (
            d.join("genuine/advapi32_pe_genuine.pa30"),
            s.join("advapi32_old.dll"),
            s.join("advapi32_new.dll"),
        ),
    ];
    for name in [
        "wow64_kbdmaori",
        "amd64_kbdwol",
        "x86_mscordbi",
        "amd64_provdiagnostics",
    ] {
        let p = dir.join("pe-decode").join(name);
        cases.push((
            p.join("delta.pa30"),
            p.join("base.bin"),
            p.join("target.bin"),
        ));
    }
    let limits = DeltaLimits::default();
    let mut rebuilt = Vec::new();
    for (delta, base, target) in &cases {
        let (d, b, t) = (read(delta), read(base), read(target));
        let name = delta.strip_prefix(&dir).unwrap().display().to_string();
        // With the header hash only.
        match apply_detailed(&d, Some(&b), None, &limits) {
            Ok(a) => {
                assert!(
                    a.target == t,
                    "{name}: returned bytes that are not the target"
                );
                assert!(a.verification != Verification::Unverified || a.header.file_type == 1);
            }
            Err(e) => assert_eq!(e.kind, ErrorKind::Unsupported, "{name}: {e}"),
        }
        // With the target's SHA-256 as an outside check.
        let want: [u8; 32] = hex::decode(sha256_hex(&t)).unwrap().try_into().unwrap();
        match apply_detailed(&d, Some(&b), Some(&want), &limits) {
            Ok(a) => {
                assert!(
                    a.target == t,
                    "{name}: returned bytes that are not the target"
                );
                rebuilt.push(name);
            }
            Err(e) => assert_eq!(e.kind, ErrorKind::Unsupported, "{name}: {e}"),
        }
    }
    eprintln!("PE deltas rebuilt: {rebuilt:?}");
    // All eight, including the two that need imports, relocations and the
    // amd64 disassembly (x86_mscordbi, amd64_provdiagnostics).
    assert_eq!(rebuilt.len(), cases.len(), "{rebuilt:?}");
}

#[test]
fn dcm_manifests_expand_to_their_identity() {
    let dir = corpus_or_skip!("msdelta-vectors/dcm");
    let base = read(&dir.join("base_manifest.bin"));
    let mut n = 0;
    let mut largest: Option<(usize, Vec<u8>)> = None;
    for e in std::fs::read_dir(&dir).unwrap() {
        let p = e.unwrap().path();
        let fname = p.file_name().unwrap().to_string_lossy().into_owned();
        let Some(stem) = fname.strip_suffix(".manifest") else {
            continue;
        };
        let x = expand_dcm(&read(&p), &base).unwrap_or_else(|e| panic!("{fname}: {e}"));
        assert!(x.base_known);
        let id = identity_of(&x.xml).unwrap_or_else(|| panic!("{fname}: no assemblyIdentity"));
        assert_eq!(
            id.keyform(),
            stem,
            "{fname}: identity does not reproduce the keyform"
        );
        let kf = Keyform::parse(stem).unwrap();
        assert_eq!(id.hash(), kf.hash, "{fname}: identity hash");
        if largest.as_ref().is_none_or(|(l, _)| x.xml.len() > *l) {
            largest = Some((x.xml.len(), x.xml.clone()));
        }
        n += 1;
    }
    assert_eq!(n, 7);
    let golden = read(&dir.join("wow64_golden.xml"));
    assert!(
        largest.unwrap().1 == golden,
        "largest DCM manifest differs from wow64_golden.xml"
    );
}

/// The first `assemblyIdentity` of a manifest, namespace prefixes ignored.
fn identity_of(xml: &[u8]) -> Option<Identity> {
    use quick_xml::events::Event;
    let mut r = quick_xml::Reader::from_reader(xml);
    let mut buf = Vec::new();
    loop {
        match r.read_event_into(&mut buf).ok()? {
            Event::Start(e) | Event::Empty(e) if e.local_name().as_ref() == "assemblyIdentity" => {
                let mut id = Identity::default();
                for a in e.attributes().flatten() {
                    let v = a.value.to_string();
                    match a.key.local_name().as_ref() {
                        "name" => id.name = v.into(),
                        "version" => id.version = v.into(),
                        "processorArchitecture" => id.processor_architecture = v.into(),
                        "language" => id.language = v.into(),
                        "publicKeyToken" => id.public_key_token = v.into(),
                        "versionScope" => id.version_scope = v.into(),
                        "buildType" => id.build_type = v.into(),
                        "type" => id.type_ = v.into(),
                        _ => {}
                    }
                }
                return Some(id);
            }
            Event::Eof => return None,
            _ => {}
        }
        buf.clear();
    }
}

#[test]
fn fuzz_crash_inputs_give_clear_errors() {
    let dir = corpus_or_skip!("msdelta-vectors/fuzz-crash");
    let mut n = 0;
    for e in std::fs::read_dir(&dir).unwrap() {
        let p = e.unwrap().path();
        let d = read(&p);
        for source in [None, Some(&b"some source bytes"[..])] {
            let e = apply(&d, source, &DeltaLimits::default())
                .map(|_| ())
                .expect_err(&format!("{} decoded?", p.display()));
            assert!(!e.message.is_empty());
            eprintln!("{}: {e}", p.file_name().unwrap().to_string_lossy());
        }
        let _ = msdelta::parse_header(&d);
        n += 1;
    }
    assert!(n >= 9);
}

/// wcp.dll's resource 614/1 is looked up with bounds-checked reads; a real PE without
/// it (cmd.exe) and a non-PE both give a clear error.
#[test]
fn base_from_wcp_needs_resource_614() {
    let dir = corpus_or_skip!("msdelta-vectors/deltas/sources");
    let e = msdelta::base_from_wcp(&read(&dir.join("cmd.exe"))).unwrap_err();
    assert!(e.message.contains("614"), "{e}");
    let e = msdelta::base_from_wcp(b"MZ not really").unwrap_err();
    assert!(e.message.contains("not a readable PE"), "{e}");
}

/// The known DCM base hash is that of both corpus copies of the base
/// manifest (manifestenum's and jlevere's, build 26100).
#[test]
fn known_dcm_base_hash_matches_both_copies() {
    let a = corpus_or_skip!("winsxs-dcm-base/w10-base.manifest");
    let b = corpus_or_skip!("msdelta-vectors/dcm/base_manifest.bin");
    assert_eq!(sha256_hex(&read(&a)), msdelta::DCM_BASE_SHA256);
    assert_eq!(sha256_hex(&read(&b)), msdelta::DCM_BASE_SHA256);
    assert_eq!(read(&a).len(), 9066);
}

/// With another base, the expansion either fails naming the unknown base
/// or succeeds flagged as made from an unknown base, never silently.
#[test]
fn dcm_with_a_different_base_is_flagged() {
    let dir = corpus_or_skip!("msdelta-vectors/dcm");
    let mut base = read(&dir.join("base_manifest.bin"));
    let m = read(&dir.join(
        "amd64_microsoft-windows-core_31bf3856ad364e35_10.0.26100.1_none_a943f5e781a44c5c.manifest",
    ));
    assert!(expand_dcm(&m, &base).unwrap().base_known);
    for b in base.iter_mut().take(200) {
        *b = b'x';
    }
    match expand_dcm(&m, &base) {
        Ok(x) => assert!(!x.base_known),
        Err(e) => assert!(e.message.contains("unknown base manifest"), "{e}"),
    }
    // A truncated base fails outright.
    let e = expand_dcm(&m, &base[..100]).unwrap_err();
    assert!(e.message.contains("unknown base manifest"), "{e}");
}
