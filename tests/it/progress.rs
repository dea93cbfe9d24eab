//! Truthful progress (issue 16): the library reports stages whose totals
//! are known when they begin (a cabinet's: its members' uncompressed
//! sizes, from its headers; rebuilding deltas: the files to rebuild), and
//! each stage's position only grows and ends at its total. The binary
//! draws them on stderr only when it is a terminal.
use crate::common;

use std::sync::{Arc, Mutex};

use kbinspect::container::{
    DigestKind, Limits, ListedMember, Progress, ProgressHandle, Unit, list_with,
};

#[derive(Debug, Clone, PartialEq)]
enum Event {
    Begin(String, Unit, u64),
    Position(u64),
    End,
}

#[derive(Default)]
struct Recorder(Mutex<Vec<Event>>);

impl Progress for Recorder {
    fn begin(&self, what: &str, unit: Unit, total: u64) {
        self.0
            .lock()
            .unwrap()
            .push(Event::Begin(what.into(), unit, total));
    }
    fn position(&self, position: u64) {
        self.0.lock().unwrap().push(Event::Position(position));
    }
    fn end(&self) {
        self.0.lock().unwrap().push(Event::End);
    }
}

fn recorder() -> (Arc<Recorder>, ProgressHandle) {
    let r = Arc::new(Recorder::default());
    (r.clone(), ProgressHandle(r))
}

/// A completed stage as replayed: (what, unit, total).
type Stage = (String, Unit, u64);

/// Replay the events: stages nest properly, every position is at least
/// the one before and at most the total, and every stage ends at its
/// total. Returns the stages in the order they began.
fn replay(events: &[Event]) -> Vec<Stage> {
    let mut open: Vec<(usize, u64)> = Vec::new();
    let mut stages: Vec<Stage> = Vec::new();
    for e in events {
        match e {
            Event::Begin(what, unit, total) => {
                stages.push((what.clone(), *unit, *total));
                open.push((stages.len() - 1, 0));
            }
            Event::Position(p) => {
                let (i, last) = open.last_mut().expect("a position outside any stage");
                assert!(
                    *p >= *last,
                    "{:?}: went back from {last} to {p}",
                    stages[*i]
                );
                assert!(*p <= stages[*i].2, "{:?}: {p} past the total", stages[*i]);
                *last = *p;
            }
            Event::End => {
                let (i, last) = open.pop().expect("an end without a begin");
                assert_eq!(last, stages[i].2, "{:?} ended short", stages[i]);
            }
        }
    }
    assert!(open.is_empty(), "stages left open");
    stages
}

/// A flat cabinet: one stage, its total the sum of the members' sizes,
/// known before the first member is decoded, reached monotonically.
#[test]
fn a_cabinet_stage_totals_its_member_sizes() {
    let sizes = [10usize, 100_000, 0, 5000, 70_000];
    let files: Vec<(String, Vec<u8>)> = sizes
        .iter()
        .enumerate()
        .map(|(i, &n)| {
            (
                format!("f{i}.bin"),
                (0..n).map(|b| (b * 7 + i) as u8).collect(),
            )
        })
        .collect();
    let tmp = tempfile::tempdir().unwrap();
    let cab = tmp.path().join("sample.cab");
    std::fs::write(&cab, common::stored_cab(&files)).unwrap();
    for test in [None, Some(DigestKind::Sha256)] {
        let (rec, handle) = recorder();
        let listing = list_with(&cab, &Limits::default(), test, &ctx(), Some(&handle)).unwrap();
        let events = rec.0.lock().unwrap().clone();
        // The total comes first: nothing was decoded before it.
        assert_eq!(
            events.first(),
            Some(&Event::Begin(
                cab.display().to_string(),
                Unit::Bytes,
                sizes.iter().sum::<usize>() as u64
            ))
        );
        let stages = replay(&events);
        assert_eq!(stages.len(), 1);
        let listed: u64 = listing.members.iter().map(|m| m.meta.size).sum();
        assert_eq!(stages[0].2, listed);
        // A position per member (the empty one moves nothing).
        let positions = events
            .iter()
            .filter(|e| matches!(e, Event::Position(_)))
            .count();
        assert_eq!(positions, sizes.iter().filter(|&&n| n > 0).count());
    }
}

/// Members directly in the cabinet at `path` (`None`: the input).
fn children<'a>(members: &'a [ListedMember], path: Option<&str>) -> Vec<&'a ListedMember> {
    match path {
        None => members.iter().filter(|m| m.meta.depth == 0).collect(),
        Some(p) => {
            let depth = members
                .iter()
                .find(|m| m.meta.path == p)
                .map(|m| m.meta.depth + 1)
                .unwrap();
            members
                .iter()
                .filter(|m| m.meta.depth == depth && m.meta.path.starts_with(&format!("{p}/")))
                .collect()
        }
    }
}

/// The sample MSU: a stage per cabinet (the MSU, its package cabinet, the
/// cabinets nested in that), each totalling its own members' sizes as the
/// listing shows them, nested inside its parent's.
#[test]
fn nested_cabinets_are_nested_stages() {
    let msu = common::testdata().join("Windows6.1-KB975354-x64.msu");
    let (rec, handle) = recorder();
    let listing = list_with(
        &msu,
        &Limits::default(),
        Some(DigestKind::None),
        &ctx(),
        Some(&handle),
    )
    .unwrap();
    let events = rec.0.lock().unwrap().clone();
    let stages = replay(&events);
    let cabinets: Vec<&ListedMember> = listing
        .members
        .iter()
        .filter(|m| m.meta.is_container)
        .collect();
    assert_eq!(stages.len(), 1 + cabinets.len(), "{stages:?}");
    assert_eq!(stages[0].0, msu.display().to_string());
    for (what, unit, total) in &stages {
        assert_eq!(*unit, Unit::Bytes);
        let path = (what != &msu.display().to_string()).then_some(what.as_str());
        let want: u64 = children(&listing.members, path)
            .iter()
            .map(|m| m.meta.size)
            .sum();
        assert_eq!(*total, want, "{what}");
    }
    // The package cabinet's stage opens inside the MSU's.
    assert!(matches!(events[0], Event::Begin(..)));
    assert_eq!(events.last(), Some(&Event::End));
}

/// Loading a real package with deltas: the walk's stages, then
/// "rebuilding deltas", counting the files rebuilt, up to all of them.
#[test]
fn loading_counts_the_deltas_to_rebuild() {
    let msu = corpus_or_skip!(
        "kb4538483-esu-msu/windows6.1-kb4538483-x86_f77ee698928fb42232b70b01f53a4c5f68553323.msu"
    );
    let (rec, handle) = recorder();
    let opts = kbinspect::model::LoadOptions {
        progress: Some(handle),
        ..Default::default()
    };
    let pkg = kbinspect::model::Package::load_with(&msu, &Limits::default(), &opts).unwrap();
    let events = rec.0.lock().unwrap().clone();
    let stages = replay(&events);
    let rebuilt = pkg
        .components
        .iter()
        .flat_map(|c| &c.files)
        .filter(|f| f.expansion.is_some())
        .count() as u64;
    assert!(rebuilt >= 74, "{rebuilt}");
    let deltas: Vec<&Stage> = stages.iter().filter(|s| s.1 == Unit::Files).collect();
    assert_eq!(deltas.len(), 1, "{stages:?}");
    assert_eq!(deltas[0].0, "rebuilding deltas");
    assert_eq!(deltas[0].2, rebuilt);
    // The walk came first: the MSU's stage, its total its members' sizes.
    let listing = list_with(&msu, &Limits::default(), None, &ctx(), None).unwrap();
    let top: u64 = children(&listing.members, None)
        .iter()
        .map(|m| m.meta.size)
        .sum();
    assert_eq!(stages[0], (msu.display().to_string(), Unit::Bytes, top));
}

/// No progress text when stderr is not a terminal: a clean run of every
/// command that can take a while writes nothing to stderr.
#[test]
fn no_progress_on_stderr_when_it_is_not_a_terminal() {
    let td = common::testdata();
    let x64 = td.join("Windows6.1-KB975354-x64.msu");
    let x86 = td.join("Windows6.1-KB975354-x86.msu");
    let (x64, x86) = (x64.to_str().unwrap(), x86.to_str().unwrap());
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let out = out.to_str().unwrap();
    let root = td.join("trust/test-keys/TEST-ONLY-root.pem");
    let root = root.to_str().unwrap();
    for args in [
        vec!["ls", x64],
        vec!["ls", "--test", x64],
        vec!["list", x64],
        vec!["verify", "--trust-root", root, x64],
        vec!["verify", x64, x86],
        vec!["diff", x64, x86],
        vec!["extract", x64, "-o", out],
        vec!["extract", x64, "--expand", "-o", &format!("{out}-expand")],
    ] {
        let o = assert_cmd::Command::cargo_bin("kbinspect")
            .unwrap()
            .args(&args)
            .output()
            .unwrap();
        assert!(o.status.code().is_some_and(|c| c < 2), "{args:?}");
        assert!(!o.stdout.is_empty(), "{args:?}");
        assert_eq!(
            String::from_utf8_lossy(&o.stderr),
            "",
            "{args:?}: stderr is a pipe here"
        );
    }
}

/// `extract --expand` rebuilds as it writes: its "rebuilding deltas"
/// stage counts the files handed over, every one written as rebuilt.
#[test]
fn expanding_counts_the_rebuilt_files_written() {
    let msu = corpus_or_skip!(
        "kb4538483-esu-msu/windows6.1-kb4538483-x86_f77ee698928fb42232b70b01f53a4c5f68553323.msu"
    );
    let (rec, handle) = recorder();
    let tmp = tempfile::tempdir().unwrap();
    let opts = kbinspect::extract::Options {
        progress: Some(handle),
        ..Default::default()
    };
    let report = kbinspect::extract::expand(&msu, tmp.path(), &opts, &mut |_| {}).unwrap();
    let events = rec.0.lock().unwrap().clone();
    let stages = replay(&events);
    let rebuilt = report
        .written
        .iter()
        .filter(|w| w.source == "rebuilt")
        .count() as u64;
    let deltas: Vec<&Stage> = stages.iter().filter(|s| s.1 == Unit::Files).collect();
    assert_eq!(deltas.len(), 1, "{stages:?}");
    assert_eq!(deltas[0].2, rebuilt, "{stages:?}");
    assert!(rebuilt >= 74);
}

/// And the other side: with stderr a terminal (a pseudo-terminal made by
/// `script`), the bar is drawn, naming the cabinet being read and its
/// total from the headers.
#[cfg(unix)]
#[test]
fn a_bar_is_drawn_when_stderr_is_a_terminal() {
    if !common::have("script") {
        eprintln!("SKIPPED: script (util-linux) not on PATH");
        return;
    }
    let bin = assert_cmd::cargo::cargo_bin("kbinspect");
    let msu = common::testdata().join("Windows6.1-KB975354-x64.msu");
    let quote =
        |p: &std::path::Path| format!("'{}'", p.display().to_string().replace('\'', r"'\''"));
    let out = std::process::Command::new("script")
        .args(["-qec"])
        .arg(format!(
            "{} ls --test {} >/dev/null",
            quote(&bin),
            quote(&msu)
        ))
        .arg("/dev/null")
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let drawn = String::from_utf8_lossy(&out.stdout);
    // The package cabinet's stage: the sum of its own members' sizes
    // (10,263,455 bytes) from its header, as indicatif shows it.
    assert!(drawn.contains("Windows6.1-KB975354-x64.cab ["), "{drawn:?}");
    assert!(drawn.contains("/9.79 MiB"), "{drawn:?}");
}

/// A decode context on every core, as the commands use by default.
fn ctx() -> kbinspect::container::DecodeContext {
    kbinspect::container::DecodeContext::default()
}
