//! The variant API of `kbinspect_testkit`: each mutation of a `Spec` shows
//! up in the built package exactly as documented, and nowhere else.

use std::collections::BTreeMap;
use std::io::{Cursor, Read};

use base64::Engine as _;
use kbinspect_testkit::{self as sample, Arch, Machine, Payload};
use pelite::pe32::Pe as _;
use pelite::pe64::Pe as _;
use sha2::Digest as _;

use crate::common;

/// Every member of a package CAB by `\\`-separated name. cabextract reads it
/// in one pass when installed; the `cab` crate (an independent reader, but
/// one that restarts the folder for every member) otherwise.
fn members(cab_bytes: Vec<u8>) -> BTreeMap<String, Vec<u8>> {
    if common::have("cabextract") {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("package.cab");
        std::fs::write(&path, &cab_bytes).unwrap();
        let out_dir = dir.path().join("out");
        let status = std::process::Command::new("cabextract")
            .arg("-q")
            .arg("-d")
            .arg(&out_dir)
            .arg(&path)
            .status()
            .unwrap();
        assert!(status.success(), "cabextract failed");
        let mut found = BTreeMap::new();
        let mut stack = vec![out_dir.clone()];
        while let Some(d) = stack.pop() {
            for e in std::fs::read_dir(&d).unwrap() {
                let p = e.unwrap().path();
                if p.is_dir() {
                    stack.push(p);
                } else {
                    let rel = p.strip_prefix(&out_dir).unwrap();
                    let name = rel
                        .components()
                        .map(|c| c.as_os_str().to_string_lossy().into_owned())
                        .collect::<Vec<_>>()
                        .join("\\");
                    found.insert(name, std::fs::read(&p).unwrap());
                }
            }
        }
        return found;
    }
    let mut cabinet = cab::Cabinet::new(Cursor::new(cab_bytes)).unwrap();
    let names: Vec<String> = cabinet
        .folder_entries()
        .flat_map(|f| {
            f.file_entries()
                .map(|e| e.name().to_string())
                .collect::<Vec<_>>()
        })
        .collect();
    names
        .into_iter()
        .map(|n| {
            let mut data = Vec::new();
            cabinet
                .read_file(&n)
                .unwrap()
                .read_to_end(&mut data)
                .unwrap();
            (n, data)
        })
        .collect()
}

/// `YYYY-MM-DD HH:MM` of every member, from the CFFILE entries (the `cab`
/// crate lists without decompressing).
fn dates(cab_bytes: &[u8]) -> BTreeMap<String, String> {
    let cabinet = cab::Cabinet::new(Cursor::new(cab_bytes)).unwrap();
    let mut out = BTreeMap::new();
    for folder in cabinet.folder_entries() {
        for f in folder.file_entries() {
            let dt = f.datetime().unwrap();
            out.insert(
                f.name().to_string(),
                format!(
                    "{:04}-{:02}-{:02} {:02}:{:02}",
                    dt.year(),
                    u8::from(dt.month()),
                    dt.day(),
                    dt.hour(),
                    dt.minute()
                ),
            );
        }
    }
    out
}

/// (file name → SHA-256 from DigestValue) of a manifest, by string search:
/// the generator writes one `<file name=…>` then its DigestValue.
fn manifest_digests(xml: &[u8]) -> BTreeMap<String, Vec<u8>> {
    let text = std::str::from_utf8(xml).unwrap();
    let mut out = BTreeMap::new();
    for part in text.split("<file name=\"").skip(1) {
        let name = part.split('"').next().unwrap().to_string();
        let b64 = part
            .split("DigestValue")
            .nth(1)
            .and_then(|s| s.split(['>', '<']).nth(1))
            .unwrap();
        out.insert(
            name,
            base64::engine::general_purpose::STANDARD
                .decode(b64)
                .unwrap(),
        );
    }
    out
}

/// (payload path, digest in its manifest, digest of its bytes) for all
/// payloads of a package.
fn digest_pairs(m: &BTreeMap<String, Vec<u8>>) -> Vec<(String, Vec<u8>, Vec<u8>)> {
    let mut pairs = Vec::new();
    for (name, data) in m {
        let Some(keyform) = name.strip_suffix(".manifest") else {
            continue;
        };
        for (file, digest) in manifest_digests(data) {
            let path = format!("{keyform}\\{file}");
            let bytes = m.get(&path).unwrap_or_else(|| panic!("{path} missing"));
            pairs.push((path, digest, sha2::Sha256::digest(bytes).to_vec()));
        }
    }
    pairs
}

fn version_of(bytes: &[u8]) -> (u16, String) {
    let fmt = |f: &pelite::image::VS_FIXEDFILEINFO| {
        let v = f.dwFileVersion;
        format!("{}.{}.{}.{}", v.Major, v.Minor, v.Patch, v.Build)
    };
    match pelite::pe32::PeFile::from_bytes(bytes) {
        Ok(pe) => (
            pe.file_header().Machine,
            fmt(pe
                .resources()
                .unwrap()
                .version_info()
                .unwrap()
                .fixed()
                .unwrap()),
        ),
        Err(_) => {
            let pe = pelite::pe64::PeFile::from_bytes(bytes).unwrap();
            (
                pe.file_header().Machine,
                fmt(pe
                    .resources()
                    .unwrap()
                    .version_info()
                    .unwrap()
                    .fixed()
                    .unwrap()),
            )
        }
    }
}

const X86_VSS: &str =
    "x86_microsoft-windows-vssapi_31bf3856ad364e35_6.1.7600.20541_none_d56e11acfc160890";

#[test]
fn unmodified_package_is_self_consistent() {
    let m = members(sample::build_package_cab(&sample::kb975354(Arch::X86)));
    let pairs = digest_pairs(&m);
    assert_eq!(pairs.len(), 4);
    for (path, want, got) in pairs {
        assert_eq!(want, got, "{path}");
    }
}

/// A byte flipped after the digests are taken breaks exactly that digest.
#[test]
fn tamper_breaks_only_the_tampered_digest() {
    let mut spec = sample::kb975354(Arch::X86);
    spec.file_mut("x86", "vsstrace.dll").unwrap().tamper = Some(0x1000);
    let m = members(sample::build_package_cab(&spec));
    let bad: Vec<String> = digest_pairs(&m)
        .into_iter()
        .filter(|(_, want, got)| want != got)
        .map(|(p, _, _)| p)
        .collect();
    assert_eq!(bad, [format!("{X86_VSS}\\vsstrace.dll")]);
    let untampered = sample::payload_bytes(spec.file_mut("x86", "vsstrace.dll").unwrap());
    let tampered = &m[&format!("{X86_VSS}\\vsstrace.dll")];
    let diffs: Vec<usize> = (0..tampered.len())
        .filter(|&i| tampered[i] != untampered[i])
        .collect();
    assert_eq!(diffs, [0x1000]);
}

/// Version, size and machine changes land in the PE; the manifest follows
/// (the package stays self-consistent, only the KB table disagrees).
#[test]
fn version_size_and_machine_changes() {
    let mut spec = sample::kb975354(Arch::X86);
    let f = spec.file_mut("x86", "vssapi.dll").unwrap();
    f.version = Some("6.1.7600.20999".into());
    let f = spec.file_mut("x86", "eventcls.dll").unwrap();
    f.size = 17_000;
    f.payload = Payload::Pe(Machine::Amd64);
    let m = members(sample::build_package_cab(&spec));
    for (path, want, got) in digest_pairs(&m) {
        assert_eq!(want, got, "{path}");
    }
    let vssapi = &m[&format!("{X86_VSS}\\vssapi.dll")];
    assert_eq!(vssapi.len(), 1_124_352);
    assert_eq!(version_of(vssapi), (0x14c, "6.1.7600.20999".to_string()));
    let eventcls = &m[&format!("{X86_VSS}\\eventcls.dll")];
    assert_eq!(eventcls.len(), 17_000);
    assert_eq!(version_of(eventcls), (0x8664, "6.1.7600.16385".to_string()));
}

/// Removing a file drops it from the folder and from the manifest; adding
/// one adds both.
#[test]
fn remove_and_add_files() {
    let mut spec = sample::kb975354(Arch::X86);
    let removed = spec.remove_file("x86", "vsstrace.dll").unwrap();
    spec.components[0].files.push(sample::FileSpec {
        name: "extra.dll".into(),
        ..removed
    });
    let m = members(sample::build_package_cab(&spec));
    assert!(!m.contains_key(&format!("{X86_VSS}\\vsstrace.dll")));
    assert!(m.contains_key(&format!("{X86_VSS}\\extra.dll")));
    let listed = manifest_digests(&m[&format!("{X86_VSS}.manifest")]);
    let names: Vec<&str> = listed.keys().map(String::as_str).collect();
    assert_eq!(
        names,
        [
            "75dfb225-e2e4-4d39-9ac9-ffaff65ddf06.xml",
            "eventcls.dll",
            "extra.dll",
            "vssapi.dll"
        ]
    );
}

/// second_build: one component version bump, one changed, one added, one
/// removed file, as its documentation says.
#[test]
fn second_build_differs_as_documented() {
    let a = sample::kb975354(Arch::X86);
    let b = sample::second_build(&a);
    let ma = members(sample::build_package_cab(&a));
    let mb = members(sample::build_package_cab(&b));
    let new_vss = "x86_microsoft-windows-vssapi_31bf3856ad364e35_6.1.7600.20542_none_";
    let kb: Vec<&String> = mb.keys().filter(|k| k.starts_with(new_vss)).collect();
    assert!(
        kb.iter().any(|k| k.ends_with(".manifest")),
        "bumped manifest present: {kb:?}"
    );
    assert!(!mb.keys().any(|k| k.starts_with(X86_VSS)));
    let payloads = |m: &BTreeMap<String, Vec<u8>>| -> BTreeMap<String, Vec<u8>> {
        m.iter()
            .filter_map(|(k, v)| k.split_once('\\').map(|(_, f)| (f.to_string(), v.clone())))
            .collect()
    };
    let (pa, pb) = (payloads(&ma), payloads(&mb));
    let only_a: Vec<&String> = pa.keys().filter(|k| !pb.contains_key(*k)).collect();
    let only_b: Vec<&String> = pb.keys().filter(|k| !pa.contains_key(*k)).collect();
    let changed: Vec<&String> = pa
        .keys()
        .filter(|k| pb.get(*k).is_some_and(|v| v != &pa[*k]))
        .collect();
    assert_eq!(only_a, ["vsstrace.dll"]);
    assert_eq!(only_b, ["vssui.dll"]);
    assert_eq!(changed, ["vssapi.dll"]);
    assert_eq!(version_of(&pb["vssapi.dll"]).1, "6.1.7600.20542");
    assert_eq!(pb["vssapi.dll"].len(), 1_124_352 + 512);
}

const AMD64_VSS: &str =
    "amd64_microsoft-windows-vssapi_31bf3856ad364e35_6.1.7600.20542_none_318dad7ab472931d";
const WOW64_VSS: &str =
    "wow64_microsoft-windows-vssapi_31bf3856ad364e35_6.1.7600.20542_none_3be257cce8d35518";

/// Each ready-made variant differs from the x64 package in exactly the way
/// `Variant::expected` describes.
#[test]
fn ready_made_variants() {
    use kbinspect_testkit::Variant;
    let base_cab = sample::build_package_cab(&sample::kb975354(Arch::X64));
    let base_dates = dates(&base_cab);
    let base = members(base_cab);
    // Building is the slow part (LZX of ~10 MB each): two at a time.
    let mut built: Vec<(Variant, Vec<u8>)> = Vec::new();
    for pair in Variant::ALL.chunks(2) {
        std::thread::scope(|scope| {
            let handles: Vec<_> = pair
                .iter()
                .map(|&v| scope.spawn(move || (v, sample::build_package_cab(&v.spec()))))
                .collect();
            built.extend(handles.into_iter().map(|h| h.join().unwrap()));
        });
    }
    for (v, cab) in built {
        let cab_dates = dates(&cab);
        let signed = cab[30] & 0x04 != 0;
        let cab_len = cab.len();
        let cb_cabinet = u32::from_le_bytes(cab[8..12].try_into().unwrap()) as usize;
        let m = members(cab);
        let date_changes: Vec<&String> = cab_dates
            .keys()
            .filter(|k| base_dates.get(*k).is_some_and(|d| d != &cab_dates[*k]))
            .collect();
        if v == Variant::DateMismatch {
            assert_eq!(date_changes, [&format!("{AMD64_VSS}\\vssapi.dll")]);
            assert_eq!(cab_dates[date_changes[0]], "2009-10-07 06:34");
        } else {
            assert!(date_changes.is_empty(), "{}: {date_changes:?}", v.name());
        }
        assert_eq!(signed, v != Variant::Unsigned, "{}", v.name());
        assert_eq!(
            cb_cabinet == cab_len,
            v == Variant::Unsigned,
            "{}",
            v.name()
        );
        let mismatched: Vec<String> = digest_pairs(&m)
            .into_iter()
            .filter(|(_, want, got)| want != got)
            .map(|(p, _, _)| p)
            .collect();
        let added: Vec<&String> = m.keys().filter(|k| !base.contains_key(*k)).collect();
        let removed: Vec<&String> = base.keys().filter(|k| !m.contains_key(*k)).collect();
        let changed: Vec<&String> = m
            .keys()
            .filter(|k| base.get(*k).is_some_and(|b| b != &m[*k]))
            .collect();
        let what = format!("{} ({})", v.name(), v.expected());
        let amd = |f: &str| format!("{AMD64_VSS}\\{f}");
        let wow = |f: &str| format!("{WOW64_VSS}\\{f}");
        let manifest = |k: &str| format!("{k}.manifest");
        // The package catalog lists every manifest's and payload file's
        // hashes and names: it changes with any manifest or payload as
        // built (a tampered byte is a change after signing: not listed).
        let cat = "Package_for_KB975354_RTM~31bf3856ad364e35~amd64~~6.1.2.0.cat".to_string();
        match v {
            Variant::TamperedPayload => {
                assert_eq!(mismatched, [amd("vssapi.dll")], "{what}");
                assert_eq!(changed, [&amd("vssapi.dll")], "{what}");
            }
            Variant::VersionMismatch => {
                assert!(mismatched.is_empty(), "{what}");
                assert_eq!(
                    changed,
                    [&cat, &manifest(AMD64_VSS), &amd("vsstrace.dll")],
                    "{what}"
                );
                assert_eq!(version_of(&m[&amd("vsstrace.dll")]).1, "6.1.7600.20543");
            }
            Variant::SizeMismatch => {
                assert!(mismatched.is_empty(), "{what}");
                assert_eq!(
                    changed,
                    [&cat, &manifest(WOW64_VSS), &wow("vssapi.dll")],
                    "{what}"
                );
                assert_eq!(m[&wow("vssapi.dll")].len(), 1_124_864);
            }
            Variant::MissingFile => {
                assert!(mismatched.is_empty(), "{what}");
                assert_eq!(removed, [&amd("eventcls.dll")], "{what}");
                assert_eq!(changed, [&cat, &manifest(AMD64_VSS)], "{what}");
            }
            Variant::ExtraFile => {
                assert!(mismatched.is_empty(), "{what}");
                assert_eq!(added, [&amd("vssui.dll")], "{what}");
                assert_eq!(
                    version_of(&m[&amd("vssui.dll")]),
                    (0x8664, "6.1.7600.20542".into())
                );
            }
            Variant::WrongMachine => {
                assert!(mismatched.is_empty(), "{what}");
                assert_eq!(
                    changed,
                    [&cat, &manifest(WOW64_VSS), &wow("eventcls.dll")],
                    "{what}"
                );
                assert_eq!(version_of(&m[&wow("eventcls.dll")]).0, 0x8664);
            }
            Variant::DateMismatch | Variant::Unsigned => {
                assert!(mismatched.is_empty(), "{what}");
                assert!(changed.is_empty(), "{what}");
            }
            Variant::ManifestNameMismatch => {
                assert!(mismatched.is_empty(), "{what}");
                assert_eq!(changed, [&cat], "{what}: lists the renamed files");
                assert_eq!(removed.len(), 5, "{what}: manifest + 4 payloads renamed");
                assert_eq!(added.len(), 5, "{what}");
                let stored = added.iter().find(|k| k.ends_with(".manifest")).unwrap();
                assert!(stored.contains("_6.1.7600.20541_none_"), "{stored}");
                let text = String::from_utf8_lossy(&m[*stored]).into_owned();
                assert!(text.contains("version=\"6.1.7600.20542\""), "{what}");
            }
        }
        if !matches!(v, Variant::ExtraFile | Variant::ManifestNameMismatch) {
            assert!(added.is_empty(), "{what}: {added:?}");
        }
        if !matches!(v, Variant::MissingFile | Variant::ManifestNameMismatch) {
            assert!(removed.is_empty(), "{what}: {removed:?}");
        }
    }
}

/// `signed: false` drops the reserve and the appended blob from the MSU too.
#[test]
fn unsigned_msu_has_no_signature() {
    let mut spec = sample::kb975354(Arch::X86);
    let signed = sample::build_msu(&spec);
    spec.signed = false;
    let unsigned = sample::build_msu(&spec);
    let cb = |b: &[u8]| u32::from_le_bytes(b[8..12].try_into().unwrap()) as usize;
    assert_eq!(signed[30] & 0x04, 0x04);
    assert!(cb(&signed) < signed.len());
    assert_eq!(unsigned[30] & 0x04, 0);
    assert_eq!(cb(&unsigned), unsigned.len());
}
