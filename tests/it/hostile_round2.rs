//! Issue 17, attacks 6, 9, 10 and 11, each built here: delta rebuilds
//! inside the limits, a tree-wide member limit, a safe terminal, and
//! `expand`'s overwrite policy.

use crate::common;

fn cab_bytes(files: &[(String, Vec<u8>)]) -> Vec<u8> {
    common::stored_cab(files)
}

fn kbinspect(args: &[&std::ffi::OsStr]) -> std::process::Output {
    assert_cmd::Command::cargo_bin("kbinspect")
        .unwrap()
        .args(args)
        .timeout(std::time::Duration::from_secs(20))
        .output()
        .unwrap()
}

fn os<S: AsRef<std::ffi::OsStr> + ?Sized>(s: &S) -> &std::ffi::OsStr {
    s.as_ref()
}

/// Attack 10: names with ESC, BEL, CR and a bidi override cannot drive the
/// terminal through table output; JSON keeps them exact.
#[test]
fn control_characters_in_names_are_escaped_in_tables() {
    let tmp = tempfile::tempdir().unwrap();
    let evil = "a\u{1b}[2J\u{7}b\rc\u{202e}txt.exe";
    let p = tmp.path().join("evil.cab");
    // A package manifest beside it, so that verify runs and names it.
    let mum = br#"<?xml version="1.0" encoding="utf-8"?><assembly xmlns="urn:schemas-microsoft-com:asm.v3" manifestVersion="1.0"><assemblyIdentity name="Package_for_KB1" version="1.0.0.0" processorArchitecture="amd64" language="neutral" publicKeyToken="31bf3856ad364e35"/><package identifier="KB1" releaseType="Update"></package></assembly>"#;
    std::fs::write(
        &p,
        cab_bytes(&[
            (evil.to_string(), b"x".to_vec()),
            ("update.mum".to_string(), mum.to_vec()),
        ]),
    )
    .unwrap();
    for cmd in ["ls", "verify"] {
        let out = kbinspect(&[os(cmd), p.as_os_str()]);
        let text = String::from_utf8(out.stdout).unwrap() + &String::from_utf8(out.stderr).unwrap();
        for c in ['\u{1b}', '\u{7}', '\r', '\u{202e}'] {
            assert!(!text.contains(c), "{cmd}: raw {c:?} in\n{text}");
        }
        // Both name the member (verify: it is in no component), escaped.
        assert!(text.contains("\\u{1b}[2J"), "{cmd}:\n{text}");
        assert!(text.contains("\\u{202e}"), "{cmd}:\n{text}");
    }
    let out = kbinspect(&[os("ls"), os("--format"), os("json"), p.as_os_str()]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["members"][0]["name"], evil);
}

/// Attack 11: `expand -o EXISTING` keeps the file without `--force`, and
/// writes an ordinary readable file (not the temporary's 0600).
#[test]
fn expand_keeps_existing_output_without_force() {
    let Some(corpus) = common::corpus() else {
        return;
    };
    // Blob 0 of KB4538483 x86: a source-less RAW delta (16,529 bytes out).
    let delta = corpus.join("kb4538483-esu-msu/extracted/Windows6.1-KB4538483-x86.cab/0");
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out.bin");
    std::fs::write(&out, b"keep me").unwrap();
    let o = kbinspect(&[os("expand"), delta.as_os_str(), os("-o"), out.as_os_str()]);
    assert_eq!(o.status.code(), Some(2), "{o:?}");
    assert!(String::from_utf8_lossy(&o.stderr).contains("--force"));
    assert_eq!(std::fs::read(&out).unwrap(), b"keep me");
    let o = kbinspect(&[
        os("expand"),
        delta.as_os_str(),
        os("-o"),
        out.as_os_str(),
        os("--force"),
    ]);
    assert_eq!(o.status.code(), Some(0), "{o:?}");
    assert_eq!(std::fs::metadata(&out).unwrap().len(), 16529);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&out).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode & 0o044, 0o044, "mode {mode:o}");
    }
}

/// Attack 6: a rebuild whose target is above what the limits allow is
/// refused before anything is allocated, naming the limit.
#[test]
fn delta_targets_obey_the_limits() {
    let Some(corpus) = common::corpus() else {
        return;
    };
    let delta = corpus.join("kb4538483-esu-msu/extracted/Windows6.1-KB4538483-x86.cab/0");
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out.bin");
    let o = kbinspect(&[
        os("expand"),
        delta.as_os_str(),
        os("-o"),
        out.as_os_str(),
        os("--max-member-size"),
        os("10000"),
        os("--format"),
        os("json"),
    ]);
    assert_ne!(o.status.code(), Some(0));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let f = &v["findings"][0];
    assert_eq!(f["code"], "delta-limit", "{v:#}");
    assert!(f["detail"].as_str().unwrap().contains("16529"), "{v:#}");
    assert!(!out.exists());
}

/// Attack 9: nested cabinets multiply members; `--max-total-members`
/// counts the whole tree and stops with the flag named.
#[test]
fn tree_wide_member_limit() {
    let inner = cab_bytes(
        &(0..200)
            .map(|i| (format!("f{i}.txt"), vec![b'x']))
            .collect::<Vec<_>>(),
    );
    let outer = cab_bytes(
        &(0..10)
            .map(|i| (format!("inner{i}.cab"), inner.clone()))
            .collect::<Vec<_>>(),
    );
    let tmp = tempfile::tempdir().unwrap();
    let p = tmp.path().join("nest.cab");
    std::fs::write(&p, outer).unwrap();
    let o = kbinspect(&[
        os("ls"),
        p.as_os_str(),
        os("--max-total-members"),
        os("1000"),
    ]);
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("--max-total-members"), "{err}");
    // Within the limit, the whole tree is listed.
    let o = kbinspect(&[os("ls"), os("--format"), os("json"), p.as_os_str()]);
    assert_eq!(o.status.code(), Some(0));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["members"].as_array().unwrap().len(), 10 + 2000);
}
