//! Contract between the sample generator and the KB table parser: parsing
//! `testdata/KB975354-nl.txt` with `kbinspect::kb` gives exactly the files,
//! versions, sizes, dates and architectures the generated packages hold —
//! what `verify --kb` compares.

use crate::common;

use kbinspect::kb::{self, Kind, RowArch};
use kbinspect_testkit::{self as sample, Arch, Payload};

/// (name, version, size, `date time`, arch as `{:?}`: RowArch is not Ord).
type Key = (String, Option<String>, Option<u64>, String, Option<String>);

fn stamp(t: sample::DosDateTime) -> String {
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02}",
        t.year, t.month, t.day, t.hour, t.minute
    )
}

fn row_arch(component_arch: &str) -> RowArch {
    match component_arch {
        "x86" => RowArch::X86,
        "amd64" => RowArch::Amd64,
        "wow64" => RowArch::Wow64,
        "ia64" => RowArch::Ia64,
        other => panic!("arch {other}"),
    }
}

#[test]
fn kb_parser_and_generator_agree() {
    let text = std::fs::read_to_string(common::testdata().join("KB975354-nl.txt")).unwrap();
    let article = kb::parse(&text, None).unwrap();
    for arch in Arch::ALL {
        let kb_arch = match arch {
            Arch::X86 => kb::Arch::X86,
            Arch::X64 => kb::Arch::X64,
            Arch::Ia64 => kb::Arch::Ia64,
        };
        let table = |kind: Kind| {
            let t: Vec<&kb::Table> = article
                .tables
                .iter()
                .filter(|t| t.arch == Some(kb_arch) && t.kind == kind)
                .collect();
            assert_eq!(t.len(), 1, "{arch:?} {kind:?} tables");
            t[0]
        };
        let key = |r: &kb::Row| -> Key {
            (
                r.name.to_ascii_lowercase(),
                r.version.clone(),
                r.size,
                format!(
                    "{} {}",
                    r.date.clone().unwrap_or_default(),
                    r.time.clone().unwrap_or_default()
                ),
                r.arch.map(|a| format!("{a:?}")),
            )
        };

        let spec = sample::kb975354(arch);
        let mut documented: Vec<Key> = table(Kind::Files).rows.iter().map(key).collect();
        let mut built: Vec<Key> = spec
            .components
            .iter()
            .flat_map(|c| {
                c.files.iter().map(|f| {
                    let pe = matches!(f.payload, Payload::Pe(_));
                    (
                        f.name.to_ascii_lowercase(),
                        f.version.clone(),
                        Some(f.size),
                        stamp(f.time),
                        pe.then(|| format!("{:?}", row_arch(&c.identity.processor_architecture))),
                    )
                })
            })
            .collect();
        documented.sort();
        built.sort();
        assert_eq!(built, documented, "{arch:?} file table");

        let mut documented: Vec<Key> = table(Kind::Additional)
            .rows
            .iter()
            .map(|r| (key(r).0, None, r.size, key(r).3, None))
            .collect();
        let mut built: Vec<Key> = spec
            .components
            .iter()
            .map(|c| {
                (
                    format!("{}.manifest", c.keyform()),
                    None,
                    c.manifest_size,
                    stamp(c.manifest_time),
                    None,
                )
            })
            .chain(std::iter::once((
                spec.package_mum_name().to_ascii_lowercase(),
                None,
                spec.package_mum_size,
                stamp(spec.package_time),
                None,
            )))
            .collect();
        documented.sort();
        built.sort();
        assert_eq!(built, documented, "{arch:?} additional files");
    }
}
