//! Anomalies for security reviewers: things a well-formed update never does,
//! which extractors may resolve differently or which hide content.
//!
//! Container-level anomalies (overlapping members, ranges outside their
//! folder, unreferenced data, the libmspack issue 55 first-CFFILE
//! differential, extra bytes after a cabinet, header counts that disagree)
//! are found by the walk and are already in [`Package::findings`] as
//! `cab-*` codes. This module adds what needs the whole member list:
//!
//! - `member-duplicate-name`: two members whose names are one file once
//!   extracted (case, slash direction, `.` components, trailing dots or
//!   spaces: [`crate::container::names`]); every command takes the last;
//!   an error when a manifest declares that file;
//! - `member-content-mismatch`: a member whose bytes contradict its name: a
//!   `.mum`/`.manifest` that is not XML (nor a `DCM` compressed manifest), a
//!   `.dll`/`.exe`/`.sys` that is not a PE image (nor a delta), a `.cab` that
//!   is not a cabinet.
//!
//! Files a manifest declares but the package does not carry are reported by
//! [`crate::check::integrity`] (`file-missing`).

use crate::finding::{Code, Finding};
use crate::model::{MemberKind, Package, path_key};
use crate::servicing::xml::looks_like_xml;

/// Model-level anomalies of a loaded package (see the module docs).
pub fn check(pkg: &Package) -> Vec<Finding> {
    let mut out = Vec::new();
    duplicate_names(pkg, &mut out);
    content_mismatch(pkg, &mut out);
    out
}

fn duplicate_names(pkg: &Package, out: &mut Vec<Finding>) {
    let dups = pkg.duplicate_members();
    if dups.is_empty() {
        return;
    }
    // Keys of members that hold a manifest-declared file: two candidates
    // for one declared file is an error, whichever the tools pick.
    let declared: std::collections::HashSet<String> = pkg
        .components
        .iter()
        .flat_map(|c| c.files.iter())
        .filter_map(|f| match &f.location {
            crate::model::Location::Stored { member, .. } => Some(path_key(member)),
            _ => None,
        })
        .collect();
    for (i, first) in dups {
        let (Some(m), Some(first)) = (pkg.members().get(i), pkg.members().get(first)) else {
            continue;
        };
        let detail = format!(
            "another member is named \"{}\"; both are extracted to the same file ({}): every kbinspect command takes the last one, as cabextract and 7-Zip do",
            first.path,
            path_key(&m.path)
        );
        if declared.contains(&path_key(&m.path)) {
            out.push(Finding::error(
                Code::MemberDuplicateName,
                &*m.path,
                format!("{detail}; a manifest declares this file, so which bytes are installed is ambiguous"),
            ));
        } else {
            out.push(Finding::warning(
                Code::MemberDuplicateName,
                &*m.path,
                detail,
            ));
        }
    }
}

fn extension(path: &str) -> String {
    let name = path.rsplit(['/', '\\']).next().unwrap_or(path);
    name.rsplit_once('.')
        .map(|(_, e)| e.to_ascii_lowercase())
        .unwrap_or_default()
}

fn content_mismatch(pkg: &Package, out: &mut Vec<Finding>) {
    for m in pkg.members() {
        if m.size == 0 || m.read_error().is_some() {
            continue;
        }
        let ext = extension(&m.path);
        let problem = match ext.as_str() {
            "mum" | "manifest" => match (m.kind, m.bytes()) {
                (MemberKind::CompressedManifest, _) => None,
                (_, Some(b)) if !looks_like_xml(b) => {
                    Some("is named as servicing XML but is not XML")
                }
                _ => None,
            },
            "dll" | "exe" | "sys" => match m.kind {
                MemberKind::Pe | MemberKind::Delta => None,
                _ => Some(
                    "is named as a PE image but does not start with \"MZ\" (nor is it a delta)",
                ),
            },
            "cab" => match m.kind {
                MemberKind::Container => None,
                _ => Some("is named as a cabinet but does not start with \"MSCF\""),
            },
            _ => None,
        };
        if let Some(p) = problem {
            out.push(Finding::warning(
                Code::MemberContentMismatch,
                &*m.path,
                format!("{} ({} bytes)", p, m.size),
            ));
        }
    }
}
