//! The JSON documents of `list` and `verify`.
//!
//! The shapes here are the public JSON schema (documented in
//! README.md); the CLI serialises them or renders them as tables. Nothing here decides a verdict beyond counting findings.

use serde::Serialize;

use crate::check::integrity::Stats;
use crate::check::verdict::{Assessment, Coverage, FileProof, Unproven};
use crate::finding::{Finding, Severity};
use crate::model::{Component, Expansion, File, Location, Package, PackageManifest};
use crate::servicing::identity::Identity;

/// Identity as shown in `list` JSON.
#[derive(Debug, Clone, Serialize)]
pub struct IdentityView<'a> {
    pub name: &'a str,
    pub version: &'a str,
    pub arch: &'a str,
    pub language: &'a str,
    pub public_key_token: &'a str,
}

impl<'a> From<&'a Identity> for IdentityView<'a> {
    fn from(i: &'a Identity) -> Self {
        IdentityView {
            name: &i.name,
            version: &i.version,
            arch: &i.processor_architecture,
            language: &i.language,
            public_key_token: &i.public_key_token,
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct UpdateView<'a> {
    pub name: &'a str,
    pub components: Vec<String>,
    pub packages: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct PackageView<'a> {
    pub member: &'a str,
    pub identity: IdentityView<'a>,
    pub identifier: Option<&'a str>,
    pub release_type: Option<&'a str>,
    pub restart: Option<&'a str>,
    pub updates: Vec<UpdateView<'a>>,
}

#[derive(Debug, Clone, Serialize)]
pub struct FileView<'a> {
    pub name: &'a str,
    pub destination: &'a str,
    pub digest_alg: Option<&'a str>,
    pub digest: Option<&'a str>,
    pub size: Option<u64>,
    pub location: &'a Location,
    /// Outcome of rebuilding a delta-stored file.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expansion: Option<&'a Expansion>,
    /// PE file version of a stored or rebuilt payload.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file_version: Option<&'a str>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ComponentView<'a> {
    pub member: &'a str,
    pub identity: IdentityView<'a>,
    pub keyform: &'a str,
    pub deployment: bool,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub deploys: Vec<String>,
    pub files: Vec<FileView<'a>>,
}

/// A delta blob as shown in `list` JSON.
#[derive(Debug, Clone, Serialize)]
pub struct DeltaView<'a> {
    pub member: &'a str,
    pub signature: &'a str,
    /// Target size from the header; null when the header is unreadable.
    pub target_size: Option<u64>,
    /// 1 raw, 2 i386 PE, 4 ia64 PE, 8 amd64 PE.
    pub file_type: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub header_error: Option<&'a str>,
}

/// The `list --format json` document.
#[derive(Debug, Clone, Serialize)]
pub struct ListView<'a> {
    pub input: &'a str,
    pub packages: Vec<PackageView<'a>>,
    pub components: Vec<ComponentView<'a>>,
    pub compressed_manifests: &'a [String],
    /// Delta blobs with what their headers say.
    pub deltas: Vec<DeltaView<'a>>,
    /// Load problems (malformed XML, unreadable members).
    pub findings: &'a [Finding],
}

fn package_view(p: &PackageManifest) -> PackageView<'_> {
    PackageView {
        member: &p.member,
        identity: (&p.mum.identity).into(),
        identifier: p.mum.identifier.as_deref(),
        release_type: p.mum.release_type.as_deref(),
        restart: p.mum.restart.as_deref(),
        updates: p
            .mum
            .updates
            .iter()
            .map(|u| UpdateView {
                name: &u.name,
                components: u.components.iter().map(Identity::keyform).collect(),
                packages: u.packages.iter().map(Identity::mum_stem).collect(),
            })
            .collect(),
    }
}

fn file_view(f: &File) -> FileView<'_> {
    FileView {
        name: &f.name,
        destination: &f.destination,
        digest_alg: f.digest_alg.as_deref(),
        digest: f.digest.as_deref(),
        size: f.size,
        location: &f.location,
        expansion: f.expansion.as_ref(),
        file_version: f.pe.as_ref().and_then(|p| p.file_version.as_deref()),
    }
}

fn component_view(c: &Component) -> ComponentView<'_> {
    ComponentView {
        member: &c.member,
        identity: (&c.identity).into(),
        keyform: &c.keyform,
        deployment: c.deployment,
        deploys: c.deploys().map(Identity::keyform).collect(),
        files: c.files.iter().map(file_view).collect(),
    }
}

/// Build the `list` JSON view of a package.
pub fn list_view(pkg: &Package) -> ListView<'_> {
    ListView {
        input: &pkg.input,
        packages: pkg.packages.iter().map(package_view).collect(),
        components: pkg.components.iter().map(component_view).collect(),
        compressed_manifests: &pkg.compressed_manifests,
        deltas: pkg
            .deltas
            .iter()
            .map(|d| DeltaView {
                member: &d.member,
                signature: &d.signature,
                target_size: d.header.as_ref().map(|h| h.target_size),
                file_type: d.header.as_ref().map(|h| h.file_type),
                header_error: d.header_error.as_deref(),
            })
            .collect(),
        findings: &pkg.findings,
    }
}

/// Counts of findings by severity plus what was checked.
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    pub errors: usize,
    pub warnings: usize,
    pub infos: usize,
    #[serde(flatten)]
    pub stats: Stats,
}

/// The `verify --format json` document.
#[derive(Debug, Clone, Serialize)]
pub struct VerifyReport<'a> {
    pub input: &'a str,
    /// `pass`, `incomplete` or `fail` (see [`crate::check::verdict`]).
    pub verdict: &'static str,
    /// Files proven / declared, signatures and catalogs.
    pub coverage: &'a Coverage,
    pub summary: Summary,
    /// What could not be proven, and why (empty on `pass`).
    pub unproven: &'a [Unproven],
    pub findings: &'a [Finding],
    /// Every declared file and its proof.
    pub files: &'a [FileProof],
}

/// Assemble the verify report.
pub fn verify_report<'a>(
    input: &'a str,
    findings: &'a [Finding],
    stats: Stats,
    assessment: &'a Assessment,
) -> VerifyReport<'a> {
    let count = |s: Severity| findings.iter().filter(|f| f.severity == s).count();
    VerifyReport {
        input,
        verdict: assessment.verdict.as_str(),
        coverage: &assessment.coverage,
        summary: Summary {
            errors: count(Severity::Error),
            warnings: count(Severity::Warning),
            infos: count(Severity::Info),
            stats,
        },
        unproven: &assessment.unproven,
        findings,
        files: &assessment.files,
    }
}
