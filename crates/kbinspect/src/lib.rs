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
//! | 1 | [`container`] | opens the input and streams its members: CAB (MSZIP, LZX), MSU, folders, nested; [`container::DecodeContext`]: buffer pools and thread budget |
//! | 1 | [`digest`] | digest algorithms, the CAB and PE Authenticode hashes |
//! | 2 | [`servicing`] | parses `.mum`s, component manifests, container indexes (`*.cix.xml`) |
//! | 2 | [`msdelta`] | MSDelta (PA30) deltas and the PE transforms; DCM manifests |
//! | 2 | [`kb`] | the file tables of a Knowledge Base article, any layout or language |
//! | 3 | [`model`] | the package model, built in one pass: packages, components, files, deltas rebuilt |
//! | 2 | [`trust`] | Authenticode signatures, catalogs (CTL) and chains to Microsoft's roots |
//! | 4 | [`trust::package`] | the chain of trust of a whole package: every signature, catalog and file |
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

pub mod atom;
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
    ("atom", 0),
    ("finding", 0),
    ("time", 0),
    ("pe", 0),
    ("container", 1),
    ("digest", 1),
    ("servicing", 2),
    ("msdelta", 2),
    ("kb", 2),
    ("model", 3),
    ("trust", 2),
    ("trust/package", 4),
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
    /// The stage of a `crate::` path or a source file's module path
    /// (`trust/package`): the most specific entry of [`STAGES`].
    fn stage_of(path: &str) -> Option<u8> {
        STAGES
            .iter()
            .filter(|(n, _)| path == *n || path.starts_with(&format!("{n}/")))
            .max_by_key(|(n, _)| n.len())
            .map(|s| s.1)
    }

    /// Every `crate::<module>[::<sub>]` path in a module's code (comments
    /// and doc links excluded) names a module of the same or an earlier
    /// stage.
    #[test]
    fn no_module_imports_from_a_later_stage() {
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let mut files = Vec::new();
        sources(&src, &mut files);
        let mut placed = std::collections::HashSet::new();
        for f in files {
            let rel = f.strip_prefix(&src).unwrap().with_extension("");
            let rel = rel.to_string_lossy().replace('\\', "/");
            let module = rel.strip_suffix("/mod").unwrap_or(&rel).to_string();
            let Some(own) = stage_of(&module) else {
                assert!(module == "lib", "{module} is in no stage");
                continue;
            };
            placed.insert(module.split('/').next().unwrap_or_default().to_string());
            let text = std::fs::read_to_string(&f).unwrap();
            for (n, line) in text.lines().enumerate() {
                let code = line.split("//").next().unwrap_or("");
                for part in code.split("crate::").skip(1) {
                    let used: String = part
                        .chars()
                        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == ':')
                        .collect();
                    let used = used.trim_end_matches(':').replace("::", "/");
                    let Some(theirs) = stage_of(&used) else {
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
        // Every public module is placed.
        let lib = std::fs::read_to_string(src.join("lib.rs")).unwrap();
        let declared = lib.lines().filter(|l| l.starts_with("pub mod ")).count();
        assert_eq!(placed.len(), declared, "a module is missing from STAGES");
    }
}
