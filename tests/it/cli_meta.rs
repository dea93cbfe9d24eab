//! `kbinspect completions SHELL` and `kbinspect man` (issue 16): generated
//! from the command definitions, so they name every command and flag.
use assert_cmd::Command;

fn kbinspect(args: &[&str]) -> std::process::Output {
    Command::cargo_bin("kbinspect")
        .unwrap()
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn completions_for_every_shell_name_the_commands_and_flags() {
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        let out = kbinspect(&["completions", shell]);
        assert_eq!(out.status.code(), Some(0), "{shell}");
        let script = String::from_utf8(out.stdout).unwrap();
        // Flags as each shell spells them (fish: `-l kb-dir`).
        for word in ["verify", "extract", "diff", "kb-dir", "width", "output"] {
            assert!(script.contains(word), "{shell}: no {word}");
        }
    }
    // The bash script is valid bash.
    let out = kbinspect(&["completions", "bash"]);
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("kbinspect.bash");
    std::fs::write(&file, &out.stdout).unwrap();
    let status = std::process::Command::new("bash")
        .arg("-n")
        .arg(&file)
        .status()
        .unwrap();
    assert!(status.success());
    assert_eq!(kbinspect(&["completions", "tcsh"]).status.code(), Some(2));
}

#[test]
fn man_prints_the_page_and_writes_one_per_command() {
    let out = kbinspect(&["man"]);
    assert_eq!(out.status.code(), Some(0));
    let page = String::from_utf8(out.stdout).unwrap();
    assert!(page.contains(".TH kbinspect 1"), "{page}");
    assert!(page.contains("verify"));
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("man1");
    let out = kbinspect(&["man", "--dir", dir.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0));
    for cmd in [
        "", "-ls", "-extract", "-list", "-verify", "-kb", "-diff", "-expand",
    ] {
        let page = std::fs::read_to_string(dir.join(format!("kbinspect{cmd}.1"))).unwrap();
        assert!(page.contains(&format!(".TH kbinspect{cmd} 1")), "{cmd}");
    }
    let verify = std::fs::read_to_string(dir.join("kbinspect-verify.1")).unwrap();
    assert!(verify.contains("kb\\-dir"), "{verify}");
}
