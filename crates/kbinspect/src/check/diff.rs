//! Compare two builds of an update: packages, components, files, registry
//! values and mum updates. Components are matched by identity without
//! version (name, architecture, language, public key token); files by
//! component and name.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use crate::model::{Component, File, Package};
use crate::servicing::identity::Identity;

/// One difference between the old and the new build.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Change {
    /// e.g. `component-added`, `file-digest-changed` (see README).
    pub kind: String,
    pub subject: String,
    pub old: Option<String>,
    pub new: Option<String>,
}

impl Change {
    fn new(
        kind: &str,
        subject: impl Into<String>,
        old: Option<String>,
        new: Option<String>,
    ) -> Self {
        Change {
            kind: kind.to_string(),
            subject: subject.into(),
            old,
            new,
        }
    }
}

/// Identity without version, lower case: the key that survives a version bump.
fn unversioned(id: &Identity) -> String {
    format!(
        "{}_{}_{}_{}",
        id.processor_architecture, id.name, id.public_key_token, id.language
    )
    .to_ascii_lowercase()
}

fn describe(id: &Identity) -> String {
    format!("{} ({})", id.name, id.processor_architecture)
}

/// The differences between `old` and `new`, sorted by kind then subject.
pub fn diff(old: &Package, new: &Package) -> Vec<Change> {
    let mut changes = Vec::new();
    diff_packages(old, new, &mut changes);
    diff_components(old, new, &mut changes);
    changes.sort_by(|a, b| (&a.kind, &a.subject).cmp(&(&b.kind, &b.subject)));
    changes
}

fn package_index(p: &Package) -> BTreeMap<String, &crate::model::PackageManifest> {
    p.packages
        .iter()
        .map(|m| (unversioned(&m.mum.identity), m))
        .collect()
}

fn diff_packages(old: &Package, new: &Package, out: &mut Vec<Change>) {
    let (a, b) = (package_index(old), package_index(new));
    for (k, m) in &a {
        let subject = describe(&m.mum.identity);
        let Some(n) = b.get(k) else {
            out.push(Change::new(
                "package-removed",
                subject,
                Some(m.mum.identity.version.to_string()),
                None,
            ));
            continue;
        };
        if m.mum.identity.version != n.mum.identity.version {
            out.push(Change::new(
                "package-version-changed",
                subject.clone(),
                Some(m.mum.identity.version.to_string()),
                Some(n.mum.identity.version.to_string()),
            ));
        }
        // Updates: by name, then the set of referenced identities without version.
        let updates = |x: &crate::servicing::mum::Mum| {
            x.updates
                .iter()
                .map(|u| {
                    let refs: BTreeSet<String> = u
                        .components
                        .iter()
                        .chain(u.packages.iter())
                        .map(|i| format!("{} {}", describe(i), i.version))
                        .collect();
                    (u.name.clone(), refs)
                })
                .collect::<BTreeMap<_, _>>()
        };
        let (ua, ub) = (updates(&m.mum), updates(&n.mum));
        for (name, refs) in &ua {
            match ub.get(name) {
                None => out.push(Change::new(
                    "update-removed",
                    format!("{subject}: update {name}"),
                    Some(refs.iter().cloned().collect::<Vec<_>>().join("; ")),
                    None,
                )),
                Some(r2) if r2 != refs => out.push(Change::new(
                    "update-changed",
                    format!("{subject}: update {name}"),
                    Some(refs.difference(r2).cloned().collect::<Vec<_>>().join("; ")),
                    Some(r2.difference(refs).cloned().collect::<Vec<_>>().join("; ")),
                )),
                _ => {}
            }
        }
        for (name, refs) in &ub {
            if !ua.contains_key(name) {
                out.push(Change::new(
                    "update-added",
                    format!("{subject}: update {name}"),
                    None,
                    Some(refs.iter().cloned().collect::<Vec<_>>().join("; ")),
                ));
            }
        }
    }
    for (k, m) in &b {
        if !a.contains_key(k) {
            out.push(Change::new(
                "package-added",
                describe(&m.mum.identity),
                None,
                Some(m.mum.identity.version.to_string()),
            ));
        }
    }
}

fn components(p: &Package) -> BTreeMap<String, &Component> {
    p.components
        .iter()
        .map(|c| (unversioned(&c.identity), c))
        .collect()
}

fn diff_components(old: &Package, new: &Package, out: &mut Vec<Change>) {
    let (a, b) = (components(old), components(new));
    for (k, c) in &a {
        let subject = describe(&c.identity);
        let Some(n) = b.get(k) else {
            out.push(Change::new(
                "component-removed",
                subject,
                Some(c.identity.version.to_string()),
                None,
            ));
            for f in &c.files {
                out.push(Change::new(
                    "file-removed",
                    file_subject(c, f),
                    Some(file_summary(f)),
                    None,
                ));
            }
            continue;
        };
        if c.identity.version != n.identity.version {
            out.push(Change::new(
                "component-version-changed",
                subject.clone(),
                Some(c.identity.version.to_string()),
                Some(n.identity.version.to_string()),
            ));
        }
        diff_files(c, n, out);
        diff_registry(c, n, out);
    }
    for (k, c) in &b {
        if !a.contains_key(k) {
            out.push(Change::new(
                "component-added",
                describe(&c.identity),
                None,
                Some(c.identity.version.to_string()),
            ));
            for f in &c.files {
                out.push(Change::new(
                    "file-added",
                    file_subject(c, f),
                    None,
                    Some(file_summary(f)),
                ));
            }
        }
    }
}

fn file_subject(c: &Component, f: &File) -> String {
    format!("{} ({})", f.name, c.identity.processor_architecture)
}

fn file_summary(f: &File) -> String {
    let mut s = f.destination.clone();
    if let Some(size) = f.size {
        s.push_str(&format!(", {size} bytes"));
    }
    if let Some(v) = f.pe.as_ref().and_then(|p| p.file_version.as_deref()) {
        s.push_str(&format!(", version {v}"));
    }
    s
}

fn diff_files(a: &Component, b: &Component, out: &mut Vec<Change>) {
    let key = |f: &File| f.name.to_ascii_lowercase();
    let fa: BTreeMap<String, &File> = a.files.iter().map(|f| (key(f), f)).collect();
    let fb: BTreeMap<String, &File> = b.files.iter().map(|f| (key(f), f)).collect();
    for (k, f) in &fa {
        let subject = file_subject(a, f);
        let Some(g) = fb.get(k) else {
            out.push(Change::new(
                "file-removed",
                subject,
                Some(file_summary(f)),
                None,
            ));
            continue;
        };
        if f.digest != g.digest {
            out.push(Change::new(
                "file-digest-changed",
                subject.clone(),
                f.digest.clone(),
                g.digest.clone(),
            ));
        }
        // What the files are, not only what the manifests say: the same
        // declared digest over different bytes (a replaced payload or delta)
        // is a change.
        if f.digest == g.digest
            && let (Some(x), Some(y)) = (&f.content_sha256, &g.content_sha256)
            && x != y
        {
            out.push(Change::new(
                "file-content-changed",
                subject.clone(),
                Some(hex::encode(x)),
                Some(hex::encode(y)),
            ));
        }
        if f.size != g.size {
            out.push(Change::new(
                "file-size-changed",
                subject.clone(),
                f.size.map(|s| s.to_string()),
                g.size.map(|s| s.to_string()),
            ));
        }
        let v = |x: &File| x.pe.as_ref().and_then(|p| p.file_version);
        if v(f) != v(g) {
            out.push(Change::new(
                "file-version-changed",
                subject.clone(),
                v(f).map(|a| a.to_string()),
                v(g).map(|a| a.to_string()),
            ));
        }
        if !f.destination.eq_ignore_ascii_case(&g.destination) {
            out.push(Change::new(
                "file-destination-changed",
                subject,
                Some(f.destination.clone()),
                Some(g.destination.clone()),
            ));
        }
    }
    for (k, g) in &fb {
        if !fa.contains_key(k) {
            out.push(Change::new(
                "file-added",
                file_subject(b, g),
                None,
                Some(file_summary(g)),
            ));
        }
    }
}

fn diff_registry(a: &Component, b: &Component, out: &mut Vec<Change>) {
    let values = |c: &Component| {
        let mut m = BTreeMap::new();
        for k in &c.registry_keys {
            for v in &k.values {
                m.insert(
                    format!("{}\\{}", k.key_name, v.name).to_ascii_lowercase(),
                    (
                        format!("{}\\{}", k.key_name, v.name),
                        format!("{} {}", v.value_type, v.value),
                    ),
                );
            }
        }
        m
    };
    let (va, vb) = (values(a), values(b));
    for (k, (name, val)) in &va {
        match vb.get(k) {
            None => out.push(Change::new(
                "registry-value-removed",
                name.clone(),
                Some(val.clone()),
                None,
            )),
            Some((_, v2)) if v2 != val => out.push(Change::new(
                "registry-value-changed",
                name.clone(),
                Some(val.clone()),
                Some(v2.clone()),
            )),
            _ => {}
        }
    }
    for (k, (name, val)) in &vb {
        if !va.contains_key(k) {
            out.push(Change::new(
                "registry-value-added",
                name.clone(),
                None,
                Some(val.clone()),
            ));
        }
    }
}
