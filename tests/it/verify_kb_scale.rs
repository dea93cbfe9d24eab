//! `verify --kb` stays linear (issue 17, item 8): a small package whose one
//! manifest declares thousands of same-named files, checked against a
//! generated 300 KB article naming that file in every row, used to take over
//! a minute (every row scanned every file and copied keys while scoring).
//! The binary runs in a child process under a timeout of a few seconds; no
//! exact timing is asserted.

use std::io::Write as _;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use kbinspect_testkit::cabwrite::{self, CabOptions, Method};
use kbinspect_testkit::{self as sample, Arch};

/// Files the manifest declares (all named `Vssapi.dll`, one folder each).
const FILES: usize = 20_000;
/// Size of the generated article.
const ARTICLE_BYTES: usize = 300 * 1024;

/// The x86 KB975354 sample with the VssApi manifest replaced by one that
/// declares [`FILES`] copies of `Vssapi.dll` (absent from the cabinet: the
/// manifest alone makes them files of the package). MSZIP keeps the
/// repetitive manifest small.
fn package(dir: &Path) -> std::path::PathBuf {
    let spec = sample::kb975354(Arch::X86);
    let mut members = sample::package_members(&spec);
    let vss = spec
        .components
        .iter()
        .find(|c| c.identity.name == "Microsoft-Windows-VssApi")
        .expect("VssApi component");
    let manifest_name = format!("{}.manifest", vss.stored_name());
    let mut xml = String::from(
        "<?xml version=\"1.0\" encoding=\"utf-8\" standalone=\"yes\"?>\r\n\
         <assembly xmlns=\"urn:schemas-microsoft-com:asm.v3\" manifestVersion=\"1.0\">\r\n",
    );
    xml += &format!(
        "  {}\r\n",
        sample::manifests::identity_element(&vss.identity)
    );
    for i in 0..FILES {
        xml += &format!(
            "  <file name=\"Vssapi.dll\" destinationPath=\"$(runtime.system32)\\d{i}\\\" />\r\n"
        );
    }
    xml += "</assembly>\r\n";
    let m = members
        .iter_mut()
        .find(|m| m.name.eq_ignore_ascii_case(&manifest_name))
        .expect("manifest member");
    m.data = xml.into_bytes();
    let cab = cabwrite::write_cab(
        &members,
        &CabOptions {
            method: Method::MsZip,
            set_id: 0,
            signature: None,
        },
    );
    let path = dir.join("many-files.cab");
    std::fs::write(&path, cab).expect("write cab");
    path
}

/// A markdown x86 table naming `Vssapi.dll` in every row, [`ARTICLE_BYTES`] long.
fn article(dir: &Path) -> std::path::PathBuf {
    let mut s = String::from(
        "## For all supported x86-based versions of Windows 7\n\n\
         |File name|File version|File size|Date|Time|Platform|\n|---|---|---|---|---|---|\n",
    );
    let row = "|Vssapi.dll|6.1.7600.20541|1,124,352|05-Oct-2009|05:51|x86|\n";
    while s.len() + row.len() <= ARTICLE_BYTES {
        s += row;
    }
    let path = dir.join("big-article.md");
    std::fs::write(&path, s).expect("write article");
    path
}

#[test]
fn verify_kb_with_a_large_article_and_many_files_is_quick() {
    let dir = tempfile::tempdir().expect("tempdir");
    // `KBINSPECT_SCALE_KEEP=DIR` writes the inputs there, to time other builds.
    let keep = std::env::var_os("KBINSPECT_SCALE_KEEP").map(std::path::PathBuf::from);
    let at = keep.as_deref().unwrap_or(dir.path());
    let cab = package(at);
    let art = article(at);
    let cab_len = std::fs::metadata(&cab).map(|m| m.len()).unwrap_or(0);
    assert!(cab_len < 128 * 1024, "package is {cab_len} bytes");
    // Generous for a loaded 2-core machine; the quadratic version took
    // over a minute on this input.
    let limit = Duration::from_secs(
        std::env::var("KBINSPECT_SCALE_TIMEOUT")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(10),
    );
    let start = Instant::now();
    let mut child = Command::new(env!("CARGO_BIN_EXE_kbinspect"))
        .arg("verify")
        .arg(&cab)
        .arg("--kb")
        .arg(&art)
        .args(["--format", "json"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn kbinspect");
    // Drain output in threads so a full pipe cannot stall the child.
    let mut out = child.stdout.take().expect("stdout");
    let mut err = child.stderr.take().expect("stderr");
    let out_t = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = std::io::Read::read_to_end(&mut out, &mut v);
        v
    });
    let err_t = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = std::io::Read::read_to_end(&mut err, &mut v);
        v
    });
    let status = loop {
        if let Some(s) = child.try_wait().expect("wait") {
            break s;
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "verify --kb did not finish within {limit:?} ({FILES} files, {} byte article)",
                ARTICLE_BYTES
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let elapsed = start.elapsed();
    let stdout = out_t.join().expect("stdout thread");
    let stderr = err_t.join().expect("stderr thread");
    let _ = writeln!(
        std::io::stderr(),
        "verify --kb: {elapsed:?} for a {cab_len}-byte package with {FILES} files and a {ARTICLE_BYTES}-byte article ({status})"
    );
    let json: serde_json::Value = serde_json::from_slice(&stdout).unwrap_or_else(|e| {
        panic!(
            "{e}: {}\n{}",
            String::from_utf8_lossy(&stdout),
            String::from_utf8_lossy(&stderr)
        )
    });
    // Every row was compared.
    let kb = &json["kb"];
    let rows = kb["rows_checked"].as_u64().expect("rows_checked");
    assert!(rows > 4_000, "{kb}");
    assert!(status.code().is_some(), "killed by a signal: {status}");
}
