//! Differential tests of the generated KB975354 MSUs against cabextract,
//! 7-Zip and the `cab` crate, and against the tables of the KB article
//! itself (`testdata/KB975354-nl.txt`, parsed here independently of
//! `kbinspect_testkit::data`, so a transcription error shows up).

use crate::common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use base64::Engine as _;
use kbinspect::servicing::identity::Identity;
use kbinspect_testkit::{self as sample, Arch};
use pelite::pe32::Pe as _;
use pelite::pe64::Pe as _;
use sha2::Digest as _;

/// One row of an article table.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Row {
    name: String,
    version: Option<String>,
    size: u64,
    /// `YYYY-MM-DD HH:MM`
    stamp: String,
    platform: Option<String>,
}

const HEADERS: &[&str] = &[
    "Bestandsnaam",
    "Bestandsversie",
    "Bestandsgrootte",
    "Datum",
    "Tijd",
    "Platform",
    "Servicestructuur",
];
const NA: &str = "Niet van toepassing";

fn month(m: &str) -> u32 {
    let months = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    months.iter().position(|x| *x == m).expect("English month") as u32 + 1
}

/// The six tables of the article in order: x86, x64, Itanium file tables,
/// then the x86, x64, Itanium additional-files tables.
fn article_tables() -> Vec<Vec<Row>> {
    let text = std::fs::read_to_string(common::testdata().join("KB975354-nl.txt")).unwrap();
    let lines: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    let mut tables = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        if lines[i] != "Bestandsnaam" {
            i += 1;
            continue;
        }
        let mut columns = 0;
        while lines.get(i).is_some_and(|l| HEADERS.contains(l)) {
            columns += 1;
            i += 1;
        }
        let mut rows = Vec::new();
        // A row starts with a file name (no spaces, has an extension).
        while let Some(cells) = lines.get(i..i + columns) {
            if cells[0].contains(' ') || !cells[0].contains('.') {
                break;
            }
            let opt = |s: &str| (s != NA).then(|| s.to_string());
            let d: Vec<&str> = cells[3].split('-').collect();
            rows.push(Row {
                name: cells[0].to_ascii_lowercase(),
                version: opt(cells[1]),
                size: cells[2].replace([',', '.'], "").parse().unwrap(),
                stamp: format!("{}-{:02}-{:02} {:0>5}", d[2], month(d[1]), d[0], cells[4]),
                platform: opt(cells[5]),
            });
            i += columns;
        }
        tables.push(rows);
    }
    assert_eq!(tables.len(), 6, "six tables in the article");
    tables
}

fn section(arch: Arch) -> usize {
    match arch {
        Arch::X86 => 0,
        Arch::X64 => 1,
        Arch::Ia64 => 2,
    }
}

fn run_ok(cmd: &mut Command) -> String {
    let out = cmd.output().expect("spawn");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{cmd:?} failed:\n{text}");
    text
}

/// cabextract -t and 7zz t accept `cab`.
fn oracles_accept(cab: &Path) {
    let t = run_ok(Command::new("cabextract").arg("-t").arg(cab));
    assert!(t.contains("All done, no errors"), "{t}");
    if common::have("7zz") {
        let t = run_ok(Command::new("7zz").arg("t").arg(cab));
        assert!(t.contains("Everything is Ok"), "{t}");
    }
}

fn extract(cab: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    run_ok(
        Command::new("cabextract")
            .arg("-q")
            .arg("-d")
            .arg(to)
            .arg(cab),
    );
}

/// Minimal manifest reading: the assembly identity and (file name,
/// DigestMethod, DigestValue) triples, namespace prefixes ignored.
fn read_manifest(xml: &str) -> (Identity, Vec<(String, String, Vec<u8>)>) {
    use quick_xml::events::Event;
    let mut reader = quick_xml::Reader::from_str(xml);
    let mut id = Identity::default();
    let mut files = Vec::new();
    let mut in_digest = false;
    loop {
        match reader.read_event().unwrap() {
            Event::Start(e) | Event::Empty(e) => {
                let attrs: BTreeMap<String, String> = e
                    .attributes()
                    .map(|a| {
                        let a = a.unwrap();
                        (a.key.local_name().as_ref().to_string(), a.value.to_string())
                    })
                    .collect();
                let get = |k: &str| attrs.get(k).cloned().unwrap_or_default();
                match e.local_name().as_ref() {
                    "assemblyIdentity" if id.name.is_empty() => {
                        id = Identity {
                            name: get("name").into(),
                            version: get("version").into(),
                            processor_architecture: get("processorArchitecture").into(),
                            language: get("language").into(),
                            public_key_token: get("publicKeyToken").into(),
                            version_scope: get("versionScope").into(),
                            build_type: get("buildType").into(),
                            type_: get("type").into(),
                        }
                    }
                    "file" => files.push((get("name"), String::new(), Vec::new())),
                    "DigestMethod" => files.last_mut().unwrap().1 = get("Algorithm"),
                    "DigestValue" => in_digest = true,
                    _ => {}
                }
            }
            Event::Text(t) if in_digest => {
                let b64 = t.into_inner();
                files.last_mut().unwrap().2 = base64::engine::general_purpose::STANDARD
                    .decode(b64.trim())
                    .unwrap();
                in_digest = false;
            }
            Event::Eof => break,
            _ => {}
        }
    }
    (id, files)
}

/// (machine, "a.b.c.d") of a PE payload, via pelite.
fn pe_facts(bytes: &[u8]) -> Option<(u16, String)> {
    let vi_fixed = |f: &pelite::image::VS_FIXEDFILEINFO| {
        let v = f.dwFileVersion;
        // pelite calls the low word of the LS dword `Build`, the high `Patch`.
        format!("{}.{}.{}.{}", v.Major, v.Minor, v.Patch, v.Build)
    };
    if let Ok(pe) = pelite::pe32::PeFile::from_bytes(bytes) {
        let vi = pe.resources().ok()?.version_info().ok()?;
        return Some((pe.file_header().Machine, vi_fixed(vi.fixed()?)));
    }
    let pe = pelite::pe64::PeFile::from_bytes(bytes).ok()?;
    let vi = pe.resources().ok()?.version_info().ok()?;
    Some((pe.file_header().Machine, vi_fixed(vi.fixed()?)))
}

fn platform_machine(platform: Option<&str>) -> Option<u16> {
    match platform? {
        "x86" => Some(0x14c),
        "x64" => Some(0x8664),
        "IA-64" => Some(0x200),
        other => panic!("platform {other}"),
    }
}

/// Dates of the package CAB members per `\`-separated name, via the `cab`
/// crate (a third reader, and one that does not touch file mtimes).
fn cab_dates(cab: &Path) -> BTreeMap<String, String> {
    let cabinet = cab::Cabinet::new(std::fs::File::open(cab).unwrap()).unwrap();
    let mut dates = BTreeMap::new();
    for folder in cabinet.folder_entries() {
        for f in folder.file_entries() {
            let dt = f.datetime().expect("valid DOS date");
            dates.insert(
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
    dates
}

/// The signed layout's reserve points at the appended blob, and the blob
/// (like the catalogs) is DER PKCS#7 that openssl can read.
fn signature_blob_is_pkcs7(cab: &Path, catalog: &Path, scratch: &Path) {
    let bytes = std::fs::read(cab).unwrap();
    let u32_at = |o: usize| u32::from_le_bytes(bytes[o..o + 4].try_into().unwrap()) as usize;
    assert_eq!(&bytes[40..44], &[0, 0, 0x10, 0], "{}", cab.display());
    let (offset, size) = (u32_at(44), u32_at(48));
    assert_eq!(offset, u32_at(8), "signature offset = cbCabinet");
    assert_eq!(offset + size, bytes.len(), "blob ends the file");
    if !common::have("openssl") {
        return;
    }
    let blob = scratch.join("signature.p7");
    std::fs::write(&blob, &bytes[offset..]).unwrap();
    for der in [&blob, catalog] {
        let out = run_ok(
            Command::new("openssl")
                .args(["pkcs7", "-inform", "DER", "-print", "-in"])
                .arg(der),
        );
        assert!(out.contains("pkcs7-signedData"), "{out}");
    }
}

fn check_arch(arch: Arch, tables: &[Vec<Row>]) {
    let spec = sample::kb975354(arch);
    let msu = common::testdata().join(spec.msu_name());
    let tmp = tempfile::tempdir().unwrap();
    oracles_accept(&msu);
    extract(&msu, tmp.path());
    let mut top: Vec<String> = std::fs::read_dir(tmp.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    top.sort();
    let stem = format!("Windows6.1-KB975354-{}", arch.file_suffix());
    assert_eq!(
        top,
        [
            "WSUSSCAN.cab".to_string(),
            format!("{stem}-pkgProperties.txt"),
            format!("{stem}.cab"),
            format!("{stem}.xml"),
        ]
    );
    let pkg_cab = tmp.path().join(format!("{stem}.cab"));
    oracles_accept(&pkg_cab);
    oracles_accept(&tmp.path().join("WSUSSCAN.cab"));
    let pkg = tmp.path().join("pkg");
    extract(&pkg_cab, &pkg);
    signature_blob_is_pkcs7(&msu, &pkg.join("update.cat"), tmp.path());
    signature_blob_is_pkcs7(&pkg_cab, &pkg.join("update.cat"), tmp.path());
    let dates = cab_dates(&pkg_cab);

    // Additional-files table: manifests and the package mum, name and size.
    let mut listed: Vec<(String, u64)> = Vec::new();
    let mut folders: Vec<PathBuf> = Vec::new();
    for e in std::fs::read_dir(&pkg).unwrap() {
        let e = e.unwrap();
        let name = e.file_name().to_string_lossy().into_owned();
        if e.file_type().unwrap().is_dir() {
            folders.push(e.path());
        } else if name.ends_with(".manifest")
            || name.starts_with("Package_for_") && name.ends_with(".mum")
        {
            listed.push((name.to_ascii_lowercase(), e.metadata().unwrap().len()));
        }
    }
    listed.sort();
    let mut documented: Vec<(String, u64)> = tables[3 + section(arch)]
        .iter()
        .map(|r| (r.name.clone(), r.size))
        .collect();
    documented.sort();
    assert_eq!(listed, documented, "{arch:?} additional files");
    for r in &tables[3 + section(arch)] {
        let member = dates
            .keys()
            .find(|k| k.eq_ignore_ascii_case(&r.name))
            .unwrap_or_else(|| panic!("{} not in the CAB", r.name));
        assert_eq!(dates[member], r.stamp, "{member} date");
    }

    // Manifests: name = keyform of the content; every file digest matches.
    let mut payload_rows: Vec<Row> = Vec::new();
    let mut in_manifests = 0;
    for (name, _) in &listed {
        if !name.ends_with(".manifest") {
            continue;
        }
        let path = std::fs::read_dir(&pkg)
            .unwrap()
            .map(|e| e.unwrap().path())
            .find(|p| {
                p.file_name()
                    .unwrap()
                    .to_string_lossy()
                    .eq_ignore_ascii_case(name)
            })
            .unwrap();
        let (id, files) = read_manifest(&std::fs::read_to_string(&path).unwrap());
        let keyform = id.keyform();
        assert_eq!(
            format!("{keyform}.manifest"),
            *name,
            "manifest name vs content"
        );
        let folder = pkg.join(&keyform);
        for (file, method, digest) in &files {
            in_manifests += 1;
            assert_eq!(method, "http://www.w3.org/2000/09/xmldsig#sha256");
            let bytes = std::fs::read(folder.join(file)).unwrap();
            assert_eq!(
                sha2::Sha256::digest(&bytes).as_slice(),
                digest.as_slice(),
                "{keyform}/{file} digest"
            );
            let (machine, version) = match pe_facts(&bytes) {
                Some((m, v)) => (Some(m), Some(v)),
                None => (None, None),
            };
            let member = format!("{keyform}\\{file}");
            payload_rows.push(Row {
                name: file.to_ascii_lowercase(),
                version,
                size: bytes.len() as u64,
                stamp: dates[&member].clone(),
                // Compare machines rather than platform spellings.
                platform: machine.map(|m| format!("{m:#x}")),
            });
        }
    }
    // No payload outside the manifests.
    let on_disk: usize = folders
        .iter()
        .map(|f| std::fs::read_dir(f).unwrap().count())
        .sum();
    assert_eq!(
        on_disk, in_manifests,
        "{arch:?}: payloads not listed in any manifest"
    );

    let mut want: Vec<Row> = tables[section(arch)]
        .iter()
        .map(|r| Row {
            platform: platform_machine(r.platform.as_deref()).map(|m| format!("{m:#x}")),
            ..r.clone()
        })
        .collect();
    want.sort();
    payload_rows.sort();
    assert_eq!(
        payload_rows, want,
        "{arch:?} payloads vs the article's file table"
    );
}

#[test]
fn article_tables_have_the_documented_shape() {
    let t = article_tables();
    let counts: Vec<usize> = t.iter().map(Vec::len).collect();
    assert_eq!(counts, [4, 11, 7, 2, 6, 3]);
    // The transcription in kbinspect_testkit::data agrees with the article.
    for arch in Arch::ALL {
        let mut from_data: Vec<(String, u64)> = sample::data::additional_files(arch)
            .into_iter()
            .map(|(n, s)| (n.to_ascii_lowercase(), s))
            .collect();
        let mut from_text: Vec<(String, u64)> = t[3 + section(arch)]
            .iter()
            .map(|r| (r.name.clone(), r.size))
            .collect();
        from_data.sort();
        from_text.sort();
        assert_eq!(from_data, from_text);
    }
}

#[test]
fn msus_match_the_article_and_the_oracles() {
    if !common::have("cabextract") {
        eprintln!("SKIPPED: cabextract not installed");
        return;
    }
    let tables = article_tables();
    for arch in Arch::ALL {
        check_arch(arch, &tables);
    }
}
