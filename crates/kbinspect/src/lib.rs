//! kbinspect: read Windows update packages (`.msu`, `.cab`, expanded
//! folders) without Windows, and prove what they contain.
//!
//! Data flows one way, and no module imports from a later stage:
//!
//! | stage | module | what it does |
//! |---|---|---|
//! | 0 | [`finding`] | findings (severity, code, subject, detail): verdicts are data |
//! | 0 | [`time`] | calendar timestamps (DOS, FILETIME, ASN.1) on jiff |
//! | 0 | [`pe`] | PE headers, version resources, machine type |
//! | 1 | [`container`] | opens the input and streams its members: CAB (MSZIP, LZX), MSU, folders, nested |
//! | 1 | [`digest`] | digest algorithms, the CAB and PE Authenticode hashes |
//! | 2 | [`servicing`] | parses `.mum`s, component manifests, container indexes (`*.cix.xml`) |
//! | 2 | [`msdelta`] | MSDelta (PA30) deltas and the PE transforms; DCM manifests |
//! | 2 | [`kb`] | the file tables of a Knowledge Base article, any layout or language |
//! | 3 | [`model`] | the package model, built in one pass: packages, components, files, deltas rebuilt |
//! | 4 | [`trust`] | Authenticode signatures, catalogs and chains to Microsoft's roots |
//! | 5 | [`check`] | turns the model (and a KB article) into findings and a verdict |
//! | 4 | [`extract`] | writes a package tree, or its proven files, to a directory, safely |
//! | 6 | [`report`] | the JSON documents of `list` and `verify` |
//!
//! The command line (`kbinspect-cli`) renders reports as tables; the test
//! machinery (sample packages, encoders) is in `kbinspect-testkit`.
//!
//! ```no_run
//! use kbinspect::container::Limits;
//! use kbinspect::model::{LoadOptions, Package};
//!
//! let pkg = Package::load_with("update.msu".as_ref(), &Limits::default(), &LoadOptions::default())?;
//! for c in &pkg.components {
//!     println!("{} {} ({} files)", c.identity.name, c.identity.version, c.files.len());
//! }
//! # Ok::<(), kbinspect::model::Error>(())
//! ```

pub mod check;
pub mod container;
pub mod digest;
pub mod extract;
pub mod finding;
pub mod kb;
pub mod model;
pub mod msdelta;
pub mod pe;
pub mod report;
pub mod servicing;
pub mod time;
pub mod trust;

/// The stage of each module in the table above; `layering` checks the
/// imports against it.
#[cfg(test)]
const STAGES: &[(&str, u8)] = &[
    ("finding", 0),
    ("time", 0),
    ("pe", 0),
    ("container", 1),
    ("digest", 1),
    ("servicing", 2),
    ("msdelta", 2),
    ("kb", 2),
    ("model", 3),
    ("trust", 4),
    ("extract", 4),
    ("check", 5),
    ("report", 6),
];

#[cfg(test)]
mod layering {
    use super::STAGES;
    use std::path::{Path, PathBuf};

    fn sources(at: &Path, out: &mut Vec<PathBuf>) {
        if at.is_dir() {
            for e in std::fs::read_dir(at).unwrap() {
                sources(&e.unwrap().path(), out);
            }
        } else if at.is_file() && at.extension().is_some_and(|e| e == "rs") {
            out.push(at.to_path_buf());
        }
    }

    /// Every `crate::<module>` path in a module's code (comments and doc
    /// links excluded) names a module of the same or an earlier stage.
    #[test]
    fn no_module_imports_from_a_later_stage() {
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let stage = |m: &str| STAGES.iter().find(|(n, _)| *n == m).map(|s| s.1);
        let mut listed = 0;
        for &(module, own) in STAGES {
            let mut files = Vec::new();
            sources(&src.join(module), &mut files);
            sources(&src.join(format!("{module}.rs")), &mut files);
            assert!(!files.is_empty(), "no source for {module}");
            listed += 1;
            for f in files {
                let text = std::fs::read_to_string(&f).unwrap();
                for (n, line) in text.lines().enumerate() {
                    let code = line.split("//").next().unwrap_or("");
                    for part in code.split("crate::").skip(1) {
                        let used: String = part
                            .chars()
                            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                            .collect();
                        let Some(theirs) = stage(&used) else {
                            continue;
                        };
                        assert!(
                            theirs <= own,
                            "{}:{}: {module} (stage {own}) uses crate::{used} (stage {theirs})",
                            f.display(),
                            n + 1
                        );
                    }
                }
            }
        }
        // Every public module is placed.
        let lib = std::fs::read_to_string(src.join("lib.rs")).unwrap();
        let declared = lib.lines().filter(|l| l.starts_with("pub mod ")).count();
        assert_eq!(listed, declared, "a module is missing from STAGES");
    }
}
