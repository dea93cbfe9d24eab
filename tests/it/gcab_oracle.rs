//! GNOME's gcab (libgcab) as a third, independent CAB oracle beside
//! cabextract (libmspack) and 7-Zip: `kbinspect extract --depth 1` writes
//! exactly the files and bytes `gcab -x` writes, on gcab's own test cabinets
//! (stored, MSZIP, signed), the bundled sample MSUs and the LZX package
//! cabinets of real updates; and the cabinets gcab refuses (its CVE cases)
//! are not extracted whole by us either.

use crate::common;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

/// Every regular file under `dir`, by relative path, with its bytes.
fn tree(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                let rel = p.strip_prefix(dir).unwrap().to_string_lossy().into_owned();
                out.insert(rel, std::fs::read(&p).unwrap());
            }
        }
    }
    out
}

fn gcab(cab: &Path, out: &Path) -> bool {
    std::fs::create_dir_all(out).unwrap();
    Command::new("gcab")
        .arg("-x")
        .arg("-C")
        .arg(out)
        .arg(cab)
        .output()
        .unwrap()
        .status
        .success()
}

fn ours(cab: &Path, out: &Path) -> std::process::Output {
    assert_cmd::Command::cargo_bin("kbinspect")
        .unwrap()
        .arg("extract")
        .arg("--depth")
        .arg("1")
        .arg("-o")
        .arg(out)
        .arg(cab)
        .output()
        .unwrap()
}

/// Extract `cab` with both and compare; returns the number of files.
fn same_files(cab: &Path, scratch: &Path) -> usize {
    let (g, k) = (scratch.join("gcab"), scratch.join("ours"));
    assert!(gcab(cab, &g), "gcab refused {}", cab.display());
    let out = ours(cab, &k);
    assert!(
        out.status.success(),
        "{}: {}",
        cab.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    let (want, got) = (tree(&g), tree(&k));
    assert_eq!(
        got.keys().collect::<Vec<_>>(),
        want.keys().collect::<Vec<_>>(),
        "{}: file names",
        cab.display()
    );
    for (name, bytes) in &want {
        assert!(got[name] == *bytes, "{}: {name} differs", cab.display());
    }
    want.len()
}

#[test]
fn extraction_matches_gcab() {
    if !common::have("gcab") {
        eprintln!("SKIPPED: gcab not installed");
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let mut checked = 0;
    for (i, sample) in ["x86", "x64", "ia64"].iter().enumerate() {
        let msu = common::testdata().join(format!("Windows6.1-KB975354-{sample}.msu"));
        checked += same_files(&msu, &tmp.path().join(format!("s{i}")));
    }
    let Some(corpus) = common::corpus() else {
        return;
    };
    for name in ["test-none.cab", "test-mszip.cab", "test-signed.cab"] {
        let n = same_files(
            &corpus.join("gcab-tests").join(name),
            &tmp.path().join(name),
        );
        assert_eq!(n, 2, "{name}: test.sh and test.txt");
        checked += n;
    }
    // The LZX package cabinets of two real updates, taken out of their MSU.
    for (i, msu) in [
        "real-msu/soda92-win7-remote-debug/Windows6.1-KB3063858-x64.msu",
        "real-msu/takluyver-pynsist-msvcrt-tag1/x86/Windows8.1-KB2999226-x86.msu",
    ]
    .iter()
    .enumerate()
    {
        let outer = tmp.path().join(format!("outer{i}"));
        assert!(ours(&corpus.join(msu), &outer).status.success());
        let inner = std::fs::read_dir(&outer)
            .unwrap()
            .map(|e| e.unwrap().path())
            .find(|p| {
                let n = p
                    .file_name()
                    .unwrap()
                    .to_string_lossy()
                    .to_ascii_lowercase();
                n.ends_with(".cab") && n != "wsusscan.cab"
            })
            .expect("a package cabinet");
        let n = same_files(&inner, &tmp.path().join(format!("real{i}")));
        assert!(n > 20, "{}: only {n} files", inner.display());
        checked += n;
    }
    assert!(checked > 200, "{checked} files compared");
}

#[test]
fn cabinets_gcab_refuses_are_not_extracted_whole() {
    if !common::have("gcab") {
        eprintln!("SKIPPED: gcab not installed");
        return;
    }
    let Some(corpus) = common::corpus() else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    for name in ["CVE-2014-9732.cab", "test-ncbytes-overflow.cab"] {
        let cab = corpus.join("gcab-tests").join(name);
        assert!(!gcab(&cab, &tmp.path().join("g").join(name)), "{name}");
        let out = ours(&cab, &tmp.path().join("k").join(name));
        assert!(!out.status.success(), "{name}: exit 0");
        let text = String::from_utf8_lossy(&out.stdout).into_owned()
            + &String::from_utf8_lossy(&out.stderr);
        assert!(
            text.contains(name) && (text.contains("offset") || text.contains("incomplete")),
            "{name}: {text}"
        );
    }
}
