//! From kept bytes to the model: servicing documents parsed, components
//! built, and each declared file located (stored, indexed, or delta).

use super::*;
use crate::servicing::cix::HexValue;

impl Package {
    /// The base manifest for `DCM\x01` manifests when none was given:
    /// Windows 11 MSUs carry `wcp.dll` in their servicing-stack cabinet,
    /// and its resource 614/1 is the base. Says which base was used.
    pub(super) fn dcm_base_from_package(&self, findings: &mut Vec<Finding>) -> Option<Vec<u8>> {
        if !self
            .members
            .iter()
            .any(|m| m.kind == MemberKind::CompressedManifest)
        {
            return None;
        }
        for m in &self.members {
            let name = m.path.rsplit('/').next().unwrap_or(&m.path);
            if !name.eq_ignore_ascii_case("wcp.dll") {
                continue;
            }
            let Some(bytes) = m.bytes.as_deref() else {
                continue;
            };
            match msdelta::base_from_wcp(bytes) {
                Ok(base) => {
                    let sha = hex::encode(Sha256::digest(&base));
                    let known = if sha == msdelta::DCM_BASE_SHA256 {
                        "the known base"
                    } else {
                        "an unknown base: expansions are checked only for well-formed XML"
                    };
                    findings.push(Finding::info(
                        Code::DcmBaseFromPackage,
                        &*m.path,
                        format!(
                            "DCM base manifest taken from this wcp.dll (SHA-256 {sha}, {known})"
                        ),
                    ));
                    return Some(base);
                }
                Err(e) => findings.push(Finding::warning(
                    Code::DcmBaseUnreadable,
                    &*m.path,
                    format!("no DCM base manifest in this wcp.dll: {e}"),
                )),
            }
        }
        None
    }

    pub(super) fn parse_metadata(&mut self, opts: &LoadOptions) {
        self.lookup.members = KeyOrder::new(self.members.len(), |i| {
            self.members.get(i).map_or("", |m| m.path.as_ref())
        });
        let mut findings = Vec::new();
        let found_base = if opts.dcm_base.is_none() {
            self.dcm_base_from_package(&mut findings)
        } else {
            None
        };
        let dcm_base: Option<&Vec<u8>> = opts.dcm_base.as_ref().or(found_base.as_ref());
        for m in &mut self.members {
            if matches!(m.kind, MemberKind::Mum | MemberKind::ContainerIndex) {
                match take_parsed(m, opts) {
                    Some(Parsed::Mum(mum)) => self.packages.push(PackageManifest {
                        member: m.path.to_string(),
                        mum: *mum,
                    }),
                    Some(Parsed::Index(index)) => {
                        self.indexes.push(Index::new(m.path.to_string(), *index))
                    }
                    Some(Parsed::Malformed(e)) => {
                        findings.push(Finding::error(Code::MetadataMalformed, &*m.path, *e))
                    }
                    Some(Parsed::Manifest(_)) | None => {}
                }
                continue;
            }
            if m.bytes.is_none() {
                continue;
            }
            match m.kind {
                MemberKind::CompressedManifest if dcm_base.is_none() => {
                    self.compressed_manifests.push(m.path.to_string());
                    findings.push(Finding::info(
                        Code::ManifestCompressed,
                        &*m.path,
                        "DCM-compressed manifest: expanding it needs the base manifest from wcp.dll (--dcm-base); its identity comes from the file name only",
                    ));
                }
                _ => {}
            }
        }
        let mut by_dir: HashMap<String, Vec<usize>> = HashMap::new();
        for (i, ix) in self.indexes.iter().enumerate() {
            by_dir
                .entry(parent_of(&ix.member).to_string())
                .or_default()
                .push(i);
        }
        let mut entries_by_dir = HashMap::new();
        for (dir, ixs) in by_dir.iter().filter(|(_, ixs)| ixs.len() > 1) {
            let entries: Vec<(u32, u32)> = ixs
                .iter()
                .flat_map(|&i| {
                    let n = self.indexes.get(i).map_or(0, |ix| ix.index.files.len());
                    (0..n).map(move |e| (i as u32, e as u32))
                })
                .collect();
            let name_of = |k: usize| {
                entries
                    .get(k)
                    .and_then(|&(i, e)| self.indexes.get(i as usize)?.index.files.get(e as usize))
                    .map_or("", |f| &*f.name)
            };
            let by_name = KeyOrder::new(entries.len(), name_of);
            entries_by_dir.insert(dir.clone(), DirEntries { entries, by_name });
        }
        self.lookup.indexes_by_dir = by_dir;
        self.lookup.entries_by_dir = entries_by_dir;
        // Components second: file locations need the indexes. Sized once:
        // doubling would leave up to half of a large vector unused.
        let manifests = self
            .members
            .iter()
            .filter(|m| {
                matches!(
                    m.kind,
                    MemberKind::Manifest | MemberKind::CompressedManifest
                )
            })
            .count();
        let mut components = Vec::with_capacity(manifests);
        for i in 0..self.members.len() {
            let early = self.members.get_mut(i).and_then(|m| {
                if m.kind == MemberKind::Manifest {
                    take_parsed(m, opts)
                } else {
                    None
                }
            });
            let Some(m) = self.members.get(i) else {
                break;
            };
            let parsed = match early {
                Some(Parsed::Manifest(man)) => Ok(man.into_manifest()),
                Some(Parsed::Malformed(e)) if m.kind == MemberKind::Manifest => Err(*e),
                _ => {
                    // DCM manifests wait for the walk's end: the base may
                    // be a wcp.dll met later.
                    if m.kind != MemberKind::CompressedManifest {
                        continue;
                    }
                    let (Some(raw), Some(base)) = (m.bytes.as_deref(), dcm_base) else {
                        continue;
                    };
                    match msdelta::expand_dcm(raw, base) {
                        Ok(x) => component::parse(&m.path, &x.xml, &opts.xml)
                            .map(|mut man| {
                                compact_manifest(&mut man, opts);
                                man
                            })
                            .map_err(|e| e.to_string()),
                        Err(e) => {
                            self.compressed_manifests.push(m.path.to_string());
                            findings.push(Finding::error(
                                Code::ManifestCompressedUnreadable,
                                &*m.path,
                                format!("DCM manifest could not be expanded: {e}"),
                            ));
                            continue;
                        }
                    }
                }
            };
            let man = match parsed {
                Ok(man) => man,
                Err(e) => {
                    findings.push(Finding::error(Code::MetadataMalformed, &*m.path, e));
                    continue;
                }
            };
            for (line, w) in &man.warnings {
                findings.push(Finding::warning(
                    Code::ManifestDigestUnreadable,
                    &*m.path,
                    format!("line {line}: {w}"),
                ));
            }
            components.push(self.build_component(m, man));
            // Parsed: the model holds what it said, so the text can go
            // (thousands of manifests would otherwise stay in memory).
            if let Some(m) = self.members.get_mut(i) {
                m.bytes = None;
            }
        }
        // The PE versions went to the files that are these members; nothing
        // reads them on the members again.
        for m in &mut self.members {
            m.pe = None;
        }
        self.components = components;
        self.findings.append(&mut findings);
        let mut by_keyform: Vec<usize> = (0..self.components.len()).collect();
        let keyform_of = |i: usize| self.components.get(i).map_or("", |c| &*c.keyform);
        by_keyform.sort_by(|&a, &b| keyform_of(a).cmp(keyform_of(b)).then(a.cmp(&b)));
        self.lookup.components = by_keyform;
        self.index_deltas();
    }

    /// Read the header of every kept delta blob not yet known, and index
    /// them by member path.
    pub(super) fn index_deltas(&mut self) {
        let known: std::collections::HashSet<String> =
            self.deltas.iter().map(|d| d.member.clone()).collect();
        for m in &self.members {
            if m.kind != MemberKind::Delta || known.contains(&*m.path) {
                continue;
            }
            let Some(bytes) = m.bytes.as_deref() else {
                continue;
            };
            let signature = delta_signature(bytes).unwrap_or_default();
            let (header, header_error) = match msdelta::parse_header(bytes) {
                Ok(h) => (Some(h), None),
                Err(e) => (None, Some(e.to_string())),
            };
            self.deltas.push(DeltaBlob {
                member: m.path.to_string(),
                signature,
                header,
                header_error,
            });
        }
        self.lookup.deltas = self
            .deltas
            .iter()
            .enumerate()
            .map(|(i, d)| (d.member.clone(), i))
            .collect();
    }

    /// Every hash the package's catalogs list (signatures unchecked), when
    /// the trust check will run: see [`PeAuth`].
    /// The CTLs read are kept for the trust check ([`Package::read_ctl`]),
    /// which then parses each catalog once.
    pub(super) fn catalog_hashes(&mut self, opts: &LoadOptions) -> Listed {
        if !opts.keep_trust {
            return Listed::default();
        }
        for m in self
            .members
            .iter()
            .filter(|m| m.kind == MemberKind::Catalog)
        {
            let Some((range, Ok(ctl))) = m.bytes().and_then(crate::trust::ctl::read_unverified)
            else {
                continue;
            };
            self.ctls
                .insert(m.path.to_string(), (range, std::sync::Arc::new(ctl)));
        }
        Listed::new(
            self.ctls
                .values()
                .flat_map(|(_, c)| c.entries.iter().map(|e| e.hash.as_slice())),
        )
    }

    /// A catalog's CTL as the load read it (see [`Package::catalog_hashes`]).
    pub(crate) fn read_ctl(&self, member: &str) -> Option<&crate::trust::ReadCtl> {
        self.ctls.get(member)
    }

    pub(super) fn build_component(&self, m: &Member, man: component::Manifest) -> Component {
        let keyform: std::sync::Arc<str> = man.identity.keyform().into();
        let dir = parent_of(&m.path).to_string();
        let file_name = m.path.rsplit('/').next().unwrap_or(&m.path);
        // Payloads sit in a folder named like the manifest file, which is
        // the keyform unless the package is inconsistent (checked later).
        let folder = file_name
            .strip_suffix(".manifest")
            .or_else(|| file_name.strip_suffix(".MANIFEST"))
            .unwrap_or(&keyform)
            .to_string();
        let arch = man.identity.processor_architecture;
        let files = man
            .files
            .iter()
            .map(|f| {
                let (location, size, pe, index) = self.locate(&dir, &folder, &keyform, f);
                let index_location = match &location {
                    Location::Stored { .. } => {
                        let (l, _, ix) = self.locate_in_index(&dir, &folder, &keyform, f);
                        l.filter(|l| {
                            matches!(
                                l,
                                Location::Delta { .. }
                                    | Location::Copy { .. }
                                    | Location::Psf { .. }
                            )
                        })
                        .map(|l| (l, ix))
                    }
                    _ => None,
                };
                let content_sha256 = match &location {
                    Location::Stored { member, .. } => {
                        self.member(member).filter(|m| m.digested).map(|m| m.sha256)
                    }
                    _ => None,
                };
                File {
                    second_source: index_location.map(|(location, index)| {
                        Box::new(SecondSource {
                            location,
                            expansion: None,
                            index: index.and_then(|i| u32::try_from(i).ok()),
                        })
                    }),
                    index: index.and_then(|i| u32::try_from(i).ok()),
                    content_sha256,
                    pe_auth: None,
                    name: f.name.clone(),
                    component: keyform.clone(),
                    arch,
                    destination: f.destination.clone(),
                    digest_alg: f.digest.as_ref().map(|d| d.alg.as_str().to_string()),
                    digest: f.digest.as_ref().map(|d| d.hex.clone()),
                    size,
                    location,
                    pe,
                    expansion: None,
                    line: f.line,
                }
            })
            .collect();
        Component {
            member: m.path.clone(),
            identity: man.identity,
            keyform,
            arch,
            deployment: man.deployment,
            dependencies: man.dependencies,
            registry_keys: man.registry_keys,
            files,
        }
    }

    /// Find a manifest file's bytes: a stored member `folder/name` beside
    /// the manifest, else an index entry of the same container.
    pub(super) fn locate(
        &self,
        dir: &str,
        folder: &str,
        keyform: &str,
        f: &component::ManifestFile,
    ) -> (Location, Option<u64>, Option<Box<PeVersion>>, Option<usize>) {
        let mut names = vec![f.name.as_str()];
        if !f.source_name.is_empty() && !f.source_name.eq_ignore_ascii_case(&f.name) {
            names.push(&f.source_name);
        }
        for folder in [folder, keyform] {
            for n in &names {
                let key = join_key(dir, &format!("{folder}/{n}"));
                if let Some(mem) = self.member(&key) {
                    let pe = mem.pe.clone();
                    return (
                        Location::Stored {
                            member: mem.path.clone(),
                            timestamp: mem.timestamp,
                        },
                        Some(mem.size),
                        pe,
                        None,
                    );
                }
            }
        }
        let (location, size, index) = self.locate_in_index(dir, folder, keyform, f);
        (location.unwrap_or(Location::Absent), size, None, index)
    }

    /// Where the container index of `dir` says a manifest file's bytes are:
    /// the location, the length the index gives and which index (its
    /// position in [`Package::indexes`]).
    pub(super) fn locate_in_index(
        &self,
        dir: &str,
        folder: &str,
        keyform: &str,
        f: &component::ManifestFile,
    ) -> (Option<Location>, Option<u64>, Option<usize>) {
        let mut names = vec![f.name.as_str()];
        if !f.source_name.is_empty() && !f.source_name.eq_ignore_ascii_case(&f.name) {
            names.push(&f.source_name);
        }
        let candidates: Vec<String> = [folder, keyform]
            .iter()
            .flat_map(|fo| names.iter().map(move |n| format!("{fo}/{n}")))
            .collect();
        // The first index (in order) holding any of the candidate names,
        // and in it the first candidate it holds: one lookup per name
        // when the directory has several indexes.
        let found = match self.lookup.entries_by_dir.get(dir) {
            Some(d) => {
                let name_of = |k: usize| {
                    d.entries
                        .get(k)
                        .and_then(|&(i, e)| {
                            self.indexes.get(i as usize)?.index.files.get(e as usize)
                        })
                        .map_or("", |f| &*f.name)
                };
                let hits: Vec<Option<(u32, u32)>> = candidates
                    .iter()
                    .map(|n| {
                        d.by_name
                            .equal(n, name_of)
                            .first()
                            .and_then(|&k| d.entries.get(k).copied())
                    })
                    .collect();
                let first_ix = hits.iter().flatten().map(|&(i, _)| i).min();
                hits.into_iter()
                    .flatten()
                    .find(|&(i, _)| Some(i) == first_ix)
                    .and_then(|(i, e)| {
                        let ix = self.indexes.get(i as usize)?;
                        Some((i as usize, ix.index.files.get(e as usize)?))
                    })
            }
            None => self
                .lookup
                .indexes_by_dir
                .get(dir)
                .map_or(&[][..], Vec::as_slice)
                .iter()
                .find_map(|&i| {
                    let ix = self.indexes.get(i)?;
                    candidates
                        .iter()
                        .find_map(|n| ix.entry_named(n))
                        .map(|e| (i, e))
                }),
        };
        if let Some((ix, entry)) = found {
            let location = match &entry.delta {
                None => Location::Absent,
                Some(d) => match &d.source {
                    None => match d.basis {
                        Some(basis) => Location::Copy {
                            basis,
                            index_id: entry.id,
                        },
                        None => Location::Absent,
                    },
                    Some(src) => {
                        let source_type = match &src.type_ {
                            SourceType::Raw => "RAW".to_string(),
                            SourceType::Pa30 => "PA30".to_string(),
                            SourceType::Pa19 => "PA19".to_string(),
                            SourceType::Other(o) => o.to_string(),
                        };
                        match &src.location {
                            SourceLocation::Name(blob) => {
                                let member =
                                    self.member(&join_key(dir, blob)).map(|m| m.path.clone());
                                if src.type_ == SourceType::Raw {
                                    match member {
                                        Some(member) => {
                                            let mem = self.member(&member);
                                            Location::Stored {
                                                timestamp: mem.and_then(|m| m.timestamp),
                                                member,
                                            }
                                        }
                                        None => Location::Absent,
                                    }
                                } else {
                                    Location::Delta {
                                        member: member.map(|m| m.to_string()),
                                        blob: blob.to_string(),
                                        source_type,
                                        basis: d.basis,
                                        index_id: entry.id,
                                    }
                                }
                            }
                            SourceLocation::Range { offset, length } => Location::Psf {
                                offset: *offset,
                                length: *length,
                                source_type,
                                index_id: entry.id,
                            },
                            SourceLocation::Unknown => Location::Absent,
                        }
                    }
                },
            };
            return (Some(location), Some(entry.length), Some(ix));
        }
        (None, None, None)
    }
}

/// Servicing documents up to this size are parsed as they stream past.
/// Larger ones (an `update.mum` listing thousands of entries) wait for the
/// walk's end: their element tree is several times their text, and by then
/// the decoders' buffers are freed. A container index of any size is
/// parsed at once: its parse keeps no tree (`cix::parse` takes each
/// `<File>` as it closes), and its text (2.7 MB in the generated 300 MB
/// package) would otherwise wait through the walk.
pub(super) const EARLY_PARSE_MAX: usize = 256 * 1024;

/// Parse a member's servicing XML right after it was read and drop its
/// text, so that a package's thousands of manifests are not all held as
/// text until the walk ends. DCM manifests wait (their base may come later
/// in the walk), and so do documents over [`EARLY_PARSE_MAX`] other than
/// container indexes.
pub(super) fn parse_early(m: &mut Member, opts: &LoadOptions) {
    if m.kind == MemberKind::ContainerIndex
        || m.bytes.as_ref().is_some_and(|b| b.len() <= EARLY_PARSE_MAX)
    {
        m.parsed = take_parsed(m, opts);
    }
}

/// The member's servicing XML parsed (the early result if there is one),
/// or `None` when it is not a document parsed here or its text is not
/// kept. A text that parsed is dropped unless it does not start like XML
/// (the `member-content-mismatch` check reads it).
pub(super) fn take_parsed(m: &mut Member, opts: &LoadOptions) -> Option<Parsed> {
    let parsed = m.parsed.take().or_else(|| parse_member(m, opts))?;
    if !matches!(parsed, Parsed::Malformed(_))
        && m.bytes
            .as_deref()
            .is_some_and(crate::servicing::xml::looks_like_xml)
    {
        m.bytes = None;
    }
    Some(parsed)
}

pub(super) fn parse_member(m: &Member, opts: &LoadOptions) -> Option<Parsed> {
    let bytes = m.bytes.as_deref()?;
    // Held until the walk ends: the parsers' vectors grew by doubling (a
    // one-file manifest has room for four), so they are trimmed.
    let parsed = match m.kind {
        MemberKind::Mum => mum::parse(&m.path, bytes, &opts.xml).map(|mut p| {
            p.updates.shrink_to_fit();
            for u in &mut p.updates {
                u.components.shrink_to_fit();
            }
            Parsed::Mum(Box::new(p))
        }),
        MemberKind::ContainerIndex => cix::parse(&m.path, bytes, &opts.xml).map(|mut ix| {
            ix.files.shrink_to_fit();
            Parsed::Index(Box::new(ix))
        }),
        MemberKind::Manifest => component::parse(&m.path, bytes, &opts.xml)
            .map(|man| Parsed::Manifest(Box::new(HeldManifest::new(man, opts)))),
        _ => return None,
    };
    Some(parsed.unwrap_or_else(|e| Parsed::Malformed(Box::new(e.to_string()))))
}

/// Drop what the model never reads from a parsed manifest, and trim its
/// vectors (a package has thousands; those parsed during the walk then
/// wait in a [`HeldManifest`]). `build_component` reads a file's name,
/// source name, destination, digest and line, not the paths as written.
pub(super) fn compact_manifest(man: &mut component::Manifest, opts: &LoadOptions) {
    for f in &mut man.files {
        f.destination_path = String::new();
        f.source_path = String::new();
        f.import_path = String::new();
    }
    man.files.shrink_to_fit();
    if opts.keep_registry {
        man.registry_keys.shrink_to_fit();
    } else {
        man.registry_keys = Vec::new();
    }
    man.dependencies.shrink_to_fit();
    man.warnings.shrink_to_fit();
}

/// A parsed manifest as it waits in its member for the end of the walk
/// (a package has thousands): what `build_component` reads, in boxed
/// slices, each file's digest held as bytes ([`HexValue`]) rather than
/// hex text. [`HeldManifest::into_manifest`] gives back the manifest as
/// parsed, less what [`compact_manifest`] drops.
#[derive(Debug, Clone)]
pub(super) struct HeldManifest {
    identity: crate::servicing::identity::Identity,
    deployment: bool,
    files: Box<[HeldFile]>,
    registry_keys: Box<[RegistryKey]>,
    dependencies: Box<[Dependency]>,
    warnings: Box<[(u32, String)]>,
}

#[derive(Debug, Clone)]
struct HeldFile {
    name: Box<str>,
    destination: Box<str>,
    source_name: Box<str>,
    /// The declared digest; its hex (lower case, as the parser writes it)
    /// shows again exactly as it was.
    digest: Option<(component::DigestAlg, HexValue)>,
    line: u32,
}

impl HeldManifest {
    /// What [`compact_manifest`] keeps, each part moved once into its box.
    pub(super) fn new(man: component::Manifest, opts: &LoadOptions) -> HeldManifest {
        HeldManifest {
            identity: man.identity,
            deployment: man.deployment,
            files: man
                .files
                .into_iter()
                .map(|f| HeldFile {
                    name: f.name.into_boxed_str(),
                    destination: f.destination.into_boxed_str(),
                    source_name: f.source_name.into_boxed_str(),
                    digest: f.digest.map(|d| (d.alg, HexValue::parse(&d.hex))),
                    line: f.line,
                })
                .collect(),
            registry_keys: if opts.keep_registry {
                man.registry_keys.into_boxed_slice()
            } else {
                Box::default()
            },
            dependencies: man.dependencies.into_boxed_slice(),
            warnings: man.warnings.into_boxed_slice(),
        }
    }

    pub(super) fn into_manifest(self) -> component::Manifest {
        component::Manifest {
            identity: self.identity,
            deployment: self.deployment,
            files: self
                .files
                .into_iter()
                .map(|f| component::ManifestFile {
                    name: f.name.into(),
                    destination_path: String::new(),
                    destination: f.destination.into(),
                    source_name: f.source_name.into(),
                    source_path: String::new(),
                    import_path: String::new(),
                    digest: f.digest.map(|(alg, hex)| component::Digest {
                        alg,
                        hex: hex.to_string(),
                    }),
                    line: f.line,
                })
                .collect(),
            registry_keys: self.registry_keys.into_vec(),
            dependencies: self.dependencies.into_vec(),
            warnings: self.warnings.into_vec(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DSIG: &str = "http://www.w3.org/2000/09/xmldsig#";

    fn dsig_file(name: &str, alg: &str, b64: &str) -> String {
        format!(
            r#"<file name="{name}" destinationPath="$(runtime.system32)\" sourceName="{name}.src"><asmv2:hash xmlns:asmv2="urn:schemas-microsoft-com:asm.v2"><dsig:DigestMethod xmlns:dsig="{DSIG}" Algorithm="{alg}"/><dsig:DigestValue xmlns:dsig="{DSIG}">{b64}</dsig:DigestValue></asmv2:hash></file>"#
        )
    }

    /// A held manifest gives back the compacted manifest exactly, whatever
    /// its digests: SHA-256, SHA-1, an algorithm not verified, a digest of
    /// the wrong length for its algorithm, the old hex attributes, none.
    #[test]
    fn held_manifest_gives_back_what_was_parsed() {
        let files = [
            dsig_file("a.dll", &format!("{DSIG}sha256"), "H8t2VHOMRNjej7XHXmxkjBN8LeuoCtQOrt3O2ghGg0E="),
            dsig_file("b.dll", &format!("{DSIG}sha1"), "qZk+NkcGgWq6PiVxeFDCbJzQ2J0="),
            dsig_file("c.dll", &format!("{DSIG}md5"), "1B2M2Y8AsgTpgAmY7PhCfg=="),
            // Sixteen bytes declared as SHA-256.
            dsig_file("d.dll", &format!("{DSIG}sha256"), "1B2M2Y8AsgTpgAmY7PhCfg=="),
            r#"<file name="e.dll" hashalg="SHA1" hash="A9993E364706816ABA3E25717850C26C9CD0D89D"/>"#.to_string(),
            r#"<file name="f.dll"/>"#.to_string(),
        ];
        let xml = format!(
            r#"<?xml version="1.0" encoding="UTF-8"?><assembly xmlns="urn:schemas-microsoft-com:asm.v3" manifestVersion="1.0"><assemblyIdentity name="x" version="1.0.0.0" processorArchitecture="amd64" language="neutral" publicKeyToken="31bf3856ad364e35"/>{}<dependency discoverable="no"><dependentAssembly dependencyType="install"><assemblyIdentity name="y" version="1.0.0.0" processorArchitecture="amd64" language="neutral" publicKeyToken="31bf3856ad364e35"/></dependentAssembly></dependency></assembly>"#,
            files.concat()
        );
        let opts = LoadOptions::default();
        let man = component::parse("x.manifest", xml.as_bytes(), &opts.xml).unwrap();
        assert_eq!(man.files.len(), 6);
        assert!(man.files.iter().filter(|f| f.digest.is_some()).count() == 5);
        let mut want = man.clone();
        compact_manifest(&mut want, &opts);
        let held = HeldManifest::new(man, &opts);
        // Held as bytes: 32, 20, 16 (md5), 16 (declared SHA-256), 20.
        let lens: Vec<Option<usize>> = held
            .files
            .iter()
            .map(|f| {
                f.digest
                    .as_ref()
                    .and_then(|(_, v)| v.bytes())
                    .map(<[u8]>::len)
            })
            .collect();
        assert_eq!(
            lens,
            [Some(32), Some(20), Some(16), Some(16), Some(20), None]
        );
        assert_eq!(held.into_manifest(), want);
        // Registry keys go unless kept (only `diff` keeps them).
        let with_keys = r#"<assembly xmlns="urn:schemas-microsoft-com:asm.v3" manifestVersion="1.0"><assemblyIdentity name="x" version="1.0.0.0" processorArchitecture="amd64" language="neutral" publicKeyToken="31bf3856ad364e35"/><registryKeys><registryKey keyName="HKEY_LOCAL_MACHINE\SOFTWARE\X"><registryValue name="v" valueType="REG_SZ" value="1"/></registryKey></registryKeys></assembly>"#;
        for keep_registry in [false, true] {
            let opts = LoadOptions {
                keep_registry,
                ..LoadOptions::default()
            };
            let man = component::parse("x.manifest", with_keys.as_bytes(), &opts.xml).unwrap();
            assert_eq!(man.registry_keys.len(), 1);
            let mut want = man.clone();
            compact_manifest(&mut want, &opts);
            assert_eq!(want.registry_keys.len(), usize::from(keep_registry));
            assert_eq!(HeldManifest::new(man, &opts).into_manifest(), want);
        }
    }
}
