//! `kbinspect extract` through the binary: depth, filters on containers,
//! honest exits, interrupts, broken pipes.
mod common;

use std::path::Path;

use assert_cmd::Command;

fn kbinspect() -> Command {
    Command::cargo_bin("kbinspect").unwrap()
}

const MSU: &str =
    "kb4538483-esu-msu/windows6.1-kb4538483-x86_f77ee698928fb42232b70b01f53a4c5f68553323.msu";

/// Every file under `dir`, relative, `/`-separated, sorted.
fn files(dir: &Path) -> Vec<String> {
    fn walk(root: &Path, at: &Path, out: &mut Vec<String>) {
        for e in std::fs::read_dir(at).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                walk(root, &p, out);
            } else {
                let rel = p.strip_prefix(root).unwrap();
                out.push(rel.to_string_lossy().replace('\\', "/"));
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.sort();
    out
}

fn extract(args: &[&str], input: &Path, out: &Path) -> std::process::Output {
    kbinspect()
        .arg("extract")
        .args(args)
        .arg("-o")
        .arg(out)
        .arg(input)
        .output()
        .unwrap()
}

fn last_line(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stdout)
        .lines()
        .last()
        .unwrap_or_default()
        .to_string()
}

/// `--depth 1`: the MSU's own members, the inner package cabinet as a
/// file, byte-identical to `cabextract` without recursion.
#[test]
fn depth_one_equals_cabextract() {
    let input = corpus_or_skip!(MSU);
    if !common::have("cabextract") {
        eprintln!("SKIPPED: cabextract not on PATH");
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let mine = tmp.path().join("mine");
    let theirs = tmp.path().join("theirs");
    let o = extract(&["--depth", "1"], &input, &mine);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let st = std::process::Command::new("cabextract")
        .arg("-q")
        .arg("-d")
        .arg(&theirs)
        .arg(&input)
        .status()
        .unwrap();
    assert!(st.success());
    let names = files(&mine);
    assert_eq!(names, files(&theirs));
    assert!(names.contains(&"Windows6.1-KB4538483-x86.cab".to_string()));
    assert!(mine.join("Windows6.1-KB4538483-x86.cab").is_file());
    for n in &names {
        assert_eq!(
            std::fs::read(mine.join(n)).unwrap(),
            std::fs::read(theirs.join(n)).unwrap(),
            "{n}"
        );
    }
    assert_eq!(names.len(), 4);

    // Depth 2 opens the inner cabinets one level: a directory of members.
    let two = tmp.path().join("two");
    let o = extract(&["--depth", "2", "--format", "json"], &input, &two);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(two.join("Windows6.1-KB4538483-x86.cab").is_dir());
    assert!(
        two.join("Windows6.1-KB4538483-x86.cab/update.mum")
            .is_file()
    );

    // 0 is not a depth.
    let o = extract(&["--depth", "0"], &input, &tmp.path().join("zero"));
    assert_eq!(o.status.code(), Some(2));
}

/// A filter that names a nested cabinet writes it as a file, and nothing
/// of its contents.
#[test]
fn filter_matches_containers() {
    let input = corpus_or_skip!(MSU);
    let tmp = tempfile::tempdir().unwrap();
    for layout in ["--nested", "--flat"] {
        let out = tmp.path().join(layout);
        let o = extract(&[layout, "--filter", "*.cab"], &input, &out);
        assert_eq!(
            o.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&o.stderr)
        );
        assert_eq!(
            files(&out),
            ["WSUSSCAN.cab", "Windows6.1-KB4538483-x86.cab"],
            "{layout}"
        );
        let cab = std::fs::read(out.join("Windows6.1-KB4538483-x86.cab")).unwrap();
        assert_eq!(&cab[..4], b"MSCF");
        assert_eq!(cab.len(), 3_424_386);
    }
}
