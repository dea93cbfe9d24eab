//! Inputs that are not (readable) packages (issue 16): `verify`, `list`
//! and `diff` of an empty folder, a folder of source code or a cabinet of
//! other files exit 2 with "no update package found in …"; `diff` of a
//! package it cannot read exits 2 naming the read error, instead of
//! reporting what it could not read as removed.
use crate::common;

use std::path::Path;

use assert_cmd::Command;

fn run(args: &[&std::ffi::OsStr]) -> (Option<i32>, String, String) {
    let out = Command::cargo_bin("kbinspect")
        .unwrap()
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn os<S: AsRef<std::ffi::OsStr> + ?Sized>(s: &S) -> &std::ffi::OsStr {
    s.as_ref()
}

/// An empty folder, a folder of source code, a cabinet of other files.
fn not_packages(dir: &Path) -> Vec<std::path::PathBuf> {
    let empty = dir.join("empty");
    std::fs::create_dir(&empty).unwrap();
    let src = dir.join("src");
    std::fs::create_dir(&src).unwrap();
    for f in ["main.rs", "lib.rs"] {
        std::fs::write(src.join(f), "fn main() {}\n").unwrap();
    }
    std::fs::write(src.join("Cargo.toml"), "[package]\nname = \"x\"\n").unwrap();
    vec![empty, src, common::testdata().join("cabs/gcab-mszip.cab")]
}

#[test]
fn not_a_package_exits_2_on_verify_list_and_diff() {
    let tmp = tempfile::tempdir().unwrap();
    let sample = common::testdata().join("Windows6.1-KB975354-x64.msu");
    for input in not_packages(tmp.path()) {
        for format in ["table", "json"] {
            let runs: Vec<Vec<&std::ffi::OsStr>> = vec![
                vec![os("verify"), input.as_os_str()],
                vec![os("list"), input.as_os_str()],
                vec![os("diff"), input.as_os_str(), input.as_os_str()],
                vec![os("diff"), sample.as_os_str(), input.as_os_str()],
            ];
            for mut args in runs {
                args.extend([os("--format"), os(format)]);
                let (code, stdout, stderr) = run(&args);
                assert_eq!(code, Some(2), "{args:?}: {stdout}{stderr}");
                let want = format!("no update package found in {}", input.display());
                assert!(stderr.contains(&want), "{args:?}: {stderr}");
                assert!(!stdout.contains("PASS"), "{args:?}: {stdout}");
                assert!(!stdout.contains("no differences"), "{args:?}: {stdout}");
            }
        }
    }
}

/// `ls` and `extract` work on any cabinet or folder: they are not refused.
#[test]
fn ls_of_a_plain_cabinet_still_works() {
    let cab = common::testdata().join("cabs/gcab-mszip.cab");
    let (code, stdout, _) = run(&[os("ls"), cab.as_os_str()]);
    assert_eq!(code, Some(0));
    assert!(stdout.contains("cab "), "{stdout}");
}

/// A truncated copy of the sample: `diff` refuses it (exit 2, the read
/// error named), on either side and in either format; `verify` fails it
/// naming the read errors (exit 1), it does not call it "no package".
#[test]
fn diff_of_an_unreadable_package_exits_2_naming_the_read_error() {
    let sample = common::testdata().join("Windows6.1-KB975354-x64.msu");
    let bytes = std::fs::read(&sample).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let cut = tmp.path().join("cut.msu");
    std::fs::write(&cut, &bytes[..bytes.len() / 2]).unwrap();
    for format in ["table", "json"] {
        for (old, new, side) in [(&cut, &sample, "OLD"), (&sample, &cut, "NEW")] {
            let (code, stdout, stderr) = run(&[
                os("diff"),
                old.as_os_str(),
                new.as_os_str(),
                os("--format"),
                os(format),
            ]);
            assert_eq!(code, Some(2), "{stdout}{stderr}");
            assert!(stdout.is_empty(), "{stdout}");
            let want = format!("cannot diff: {side} {} could not be read", cut.display());
            assert!(stderr.contains(&want), "{stderr}");
            assert!(stderr.contains("cab-"), "the read error is named: {stderr}");
        }
    }
    let (code, stdout, stderr) = run(&[os("verify"), cut.as_os_str()]);
    assert_eq!(code, Some(1), "{stdout}{stderr}");
    assert!(stdout.contains("FAIL"), "{stdout}");
    assert!(stdout.contains("cab-"), "{stdout}");
}

/// The error line can quote names (of members, of files): it is escaped as
/// table output is, so they cannot drive the terminal.
#[test]
fn error_lines_escape_control_characters() {
    let evil = "a\u{1b}[2Jb\u{202e}";
    let payload: Vec<u8> = (0..200_000u32)
        .map(|i| (i.wrapping_mul(7919) >> 5) as u8)
        .collect();
    let cab = common::stored_cab(&[(format!("{evil}.dll"), payload)]);
    let tmp = tempfile::tempdir().unwrap();
    let cut = tmp.path().join(format!("{evil}.cab"));
    std::fs::write(&cut, &cab[..cab.len() / 2]).unwrap();
    let sample = common::testdata().join("Windows6.1-KB975354-x64.msu");
    let (code, _, stderr) = run(&[os("diff"), sample.as_os_str(), cut.as_os_str()]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("could not be read"), "{stderr}");
    assert!(
        !stderr.contains('\u{1b}') && !stderr.contains('\u{202e}'),
        "{stderr:?}"
    );
    assert!(stderr.contains("\\u{1b}[2J"), "{stderr}");
}
