//! PE version resources of real Windows binaries from the corpus
//! (`msdelta-vectors`), a version resource moved to another id, and
//! damaged copies.

use crate::common;

use pelite::resources::Name;

const FILES: &[(&str, &str)] = &[
    ("msdelta-vectors/deltas/sources/notepad.exe", "amd64"),
    ("msdelta-vectors/deltas/sources/where.exe", "amd64"),
    ("msdelta-vectors/deltas/sources/advapi32_old.dll", "amd64"),
    (
        "msdelta-vectors/pe-decode/wow64_kbdmaori/target.bin",
        "i386",
    ),
    ("msdelta-vectors/pe-decode/x86_mscordbi/base.bin", "i386"),
    ("msdelta-vectors/pe-decode/amd64_kbdwol/target.bin", "amd64"),
];

/// The fixed-info version (binary) agrees with the `FileVersion` string
/// (text), two independent records in the same file.
#[test]
fn fixed_version_agrees_with_string_table() {
    let dir = match common::corpus() {
        Some(d) => d,
        None => return,
    };
    for (rel, machine) in FILES {
        let bytes = std::fs::read(dir.join(rel)).unwrap();
        let v = kbinspect::pe::version_info(&bytes).unwrap_or_else(|| panic!("{rel}"));
        assert_eq!(v.machine, *machine, "{rel}");
        let fv = v.file_version.unwrap();
        let strings = kbinspect::pe::version_strings(&bytes);
        let s = strings.get("FileVersion").unwrap();
        assert_eq!(s.split(' ').next().unwrap(), fv, "{rel}");
        assert!(fv.starts_with("10.0.26100."), "{rel}: {fv}");
        assert_eq!(
            strings.get("CompanyName").map(String::as_str),
            Some("Microsoft Corporation")
        );
        // Differential: pelite reads the same strings and fixed version on
        // intact files (its lookup of resource id 1 works for these).
        let pe = pelite::PeFile::from_bytes(&bytes).unwrap();
        let vi = pe.resources().unwrap().version_info().unwrap();
        let fixed = vi.fixed().unwrap();
        let f = fixed.dwFileVersion;
        assert_eq!(
            fv,
            format!("{}.{}.{}.{}", f.Major, f.Minor, f.Patch, f.Build),
            "{rel}"
        );
        let lang = vi.translation()[0];
        let mut theirs = std::collections::BTreeMap::new();
        vi.strings(lang, |k, val| {
            theirs.insert(k.to_string(), val.to_string());
        });
        assert_eq!(strings, theirs, "{rel}");
    }
}

/// Move the RT_VERSION resource from id 1 to id 7: pelite's own lookup
/// fails, ours still finds it.
#[test]
fn version_resource_with_another_id() {
    let path = corpus_or_skip!("msdelta-vectors/deltas/sources/where.exe");
    let mut bytes = std::fs::read(path).unwrap();
    let offset = {
        let pe = pelite::PeFile::from_bytes(&bytes).unwrap();
        let res = pe.resources().unwrap();
        let names = res.root().unwrap().get_dir(Name::VERSION).unwrap();
        let entry = names.entries().next().unwrap();
        assert_eq!(entry.name().unwrap(), Name::Id(1));
        entry.image() as *const _ as usize - bytes.as_ptr() as usize
    };
    bytes[offset..offset + 4].copy_from_slice(&7u32.to_le_bytes());
    {
        let pe = pelite::PeFile::from_bytes(&bytes).unwrap();
        assert!(pe.resources().unwrap().version_info().is_err());
    }
    let v = kbinspect::pe::version_info(&bytes).unwrap();
    assert_eq!(v.file_version.as_deref(), Some("10.0.26100.1"));
}

/// Truncations and byte flips never panic or hang.
#[test]
fn damaged_pe_never_panics() {
    let path = corpus_or_skip!("msdelta-vectors/pe-decode/amd64_kbdwol/target.bin");
    let bytes = std::fs::read(path).unwrap();
    let mut some = 0;
    for cut in (0..bytes.len()).step_by(97) {
        if kbinspect::pe::version_info(&bytes[..cut]).is_some() {
            some += 1;
        }
    }
    // Short prefixes are not PE files; most do not reach the resources.
    assert!(some < bytes.len() / 97);
    let mut seed = 0x9E37_79B9_7F4A_7C15u64;
    for _ in 0..300 {
        let mut b = bytes.clone();
        for _ in 0..16 {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let i = (seed % b.len() as u64) as usize;
            b[i] = (seed >> 32) as u8;
        }
        let _ = kbinspect::pe::version_info(&b);
    }
}
