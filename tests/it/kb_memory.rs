//! Memory stays bounded on hostile KB input: peak resident memory while
//! parsing stays within a small multiple of the input size, whatever shape
//! the input has. The measurement runs in a child process (this test binary
//! again, running only `measure_child`), so that tests running beside it in
//! the one test binary cannot disturb it.
//! Linux only (reads and resets VmHWM through /proc).

use kbinspect::kb::{self, Layout};

fn peak_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn reset_peak() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

#[test]
fn hostile_shapes_use_bounded_memory() {
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--ignored",
            "--exact",
            "kb_memory::measure_child",
            "--nocapture",
            "--test-threads=1",
        ])
        .output()
        .unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{text}");
    assert!(
        text.contains("1 passed"),
        "the child ran no measurement:\n{text}"
    );
}

#[test]
#[ignore = "the measured child of hostile_shapes_use_bounded_memory"]
fn measure_child() {
    const SIZE: usize = if cfg!(debug_assertions) { 2 } else { 8 } * 1024 * 1024;
    // Kept table cells are capped (1,000,000, about 120 MB at worst);
    // everything else must stay within a small multiple of the input.
    const CELL_CAP_KIB: u64 = 160 * 1024;
    if peak_kib().is_none() || !reset_peak() {
        eprintln!("SKIPPED: no /proc/self VmHWM reset on this system");
        return;
    }
    let shapes: Vec<(&str, String, Option<Layout>)> = vec![
        ("short lines", "a\n".repeat(SIZE / 2), Some(Layout::Text)),
        ("short lines", "a\n".repeat(SIZE / 2), Some(Layout::Html)),
        ("empty lines", "\n".repeat(SIZE), Some(Layout::Csv)),
        ("pipe rows", "|a|\n".repeat(SIZE / 4), None),
        ("one line of pipes", "|".repeat(SIZE), None),
        (
            "csv records",
            "File name,File size,Date\na,1,2\n".repeat(SIZE / 31),
            None,
        ),
        (
            "header words",
            "File name\nFile version\nFile size\n".repeat(SIZE / 32),
            None,
        ),
        (
            "key/value lines",
            "File name\na\nFile size\n1\n".repeat(SIZE / 24),
            None,
        ),
        ("html cells", "<table><tr><td>x".repeat(SIZE / 16), None),
        (
            "aligned rows",
            format!(
                "File name  File size  Date\n{}",
                "a.dll      1,124,352  05-Oct-2009\n".repeat(SIZE / 34)
            ),
            None,
        ),
        (
            "aligned headers",
            "File name  File size  Date\n".repeat(SIZE / 27),
            None,
        ),
        (
            "aligned tables in <pre>",
            "<pre>File name  File size\na.dll      1\n</pre>".repeat(SIZE / 45),
            None,
        ),
        (
            "key/value text",
            "File name: a\nFile size: 1\n".repeat(SIZE / 26),
            None,
        ),
        (
            "html spanning cells",
            format!(
                "<table>{}",
                "<tr><td rowspan=0 colspan=64>File name<td rowspan=9>Date".repeat(SIZE / 56)
            ),
            None,
        ),
        (
            "html paragraphs",
            "<p>a".repeat(SIZE / 4),
            Some(Layout::Html),
        ),
    ];
    for (what, input, layout) in &shapes {
        let layout = *layout;
        {
            assert!(reset_peak());
            let before = peak_kib().unwrap_or(0);
            let result = kb::parse(input, layout);
            let grew = peak_kib().unwrap_or(0).saturating_sub(before);
            let input_kib = (input.len() / 1024) as u64;
            eprintln!(
                "{what} {layout:?}: +{grew} KiB for {input_kib} KiB ({})",
                result.is_ok()
            );
            assert!(
                grew <= input_kib * 8 + CELL_CAP_KIB,
                "{what} as {layout:?}: peak grew {grew} KiB for a {input_kib} KiB input"
            );
        }
    }
}
