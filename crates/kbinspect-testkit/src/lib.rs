//! kbinspect-testkit: what kbinspect's tests build their inputs with. Not
//! published; a dev-dependency of the other crates.
//!
//! Realistic sample packages: KB975354 as Microsoft shipped it, rebuilt from
//! the file tables of its (Dutch) KB article.
//!
//! [`kb975354`] turns the transcribed tables ([`data`]) into a [`Spec`]: the
//! package's components (identity, manifest size and date) and their files
//! (name, version, size, date, PE machine, destination). A `Spec` is plain
//! data: tests mutate it (change a version or size, swap a PE machine, add
//! or remove files, tamper a byte after the digests are taken) and build
//! the result with [`build_package_cab`] or [`build_msu`]. [`second_build`]
//! derives a later build for `diff` tests.
//!
//! Everything is deterministic: the same `Spec` gives the same bytes, so
//! `testdata/Windows6.1-KB975354-*.msu` are reproducible (see
//! `examples/gen_sample.rs` and `tests/sample_reproduce.rs`).
//!
//! What is real and what is placeholder:
//! - names, versions, sizes, dates and keyforms come from the article;
//! - payloads are minimal valid PE images carrying a version resource with
//!   the documented version, padded to the documented size; the `.msi` is a
//!   compound-file signature followed by filler; the Hyper-V `.cab`s are
//!   stored cabinets holding one text file; the GUID `.xml` is filler XML;
//! - `.cat` catalogs and the cabinet signatures are real Authenticode
//!   structures signed by the TEST-ONLY CA in `testdata/trust/test-keys/`
//!   ([`sign`]): they verify only when that root is trusted;
//! - manifest and mum text is written for kbinspect in Microsoft's layout,
//!   with each file's true SHA-256.

pub mod cabwrite;
pub mod data;
pub mod hostile;
pub mod manifests;
pub mod pa30;
pub mod pe;
pub mod sign;

pub use cabwrite::DosDateTime;
use cabwrite::{ATTR_ARCHIVE, CabFile, CabOptions, Method};
pub use data::Arch;
pub use pe::Machine;

use kbinspect::servicing::identity::Identity;

/// What kind of bytes a payload file gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Payload {
    /// A PE image for this machine with a version resource.
    Pe(Machine),
    /// Filler XML.
    Xml,
    /// Compound-file signature plus filler (stands in for an MSI).
    Msi,
    /// A stored cabinet with one text member.
    Cab,
}

/// One payload file of a component.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileSpec {
    /// Name inside the component folder and in the manifest.
    pub name: String,
    /// Version written into the PE version resource (`None`: not a PE, or a
    /// PE with version 0.0.0.0).
    pub version: Option<String>,
    pub size: u64,
    /// The CAB member date (what `dir` would show).
    pub time: DosDateTime,
    /// The date baked into the content (PE `TimeDateStamp`, the FileVersion
    /// build-lab suffix); `None` = `time`. Lets a test move `time` alone.
    pub built: Option<DosDateTime>,
    pub payload: Payload,
    /// `destinationPath` in the manifest.
    pub destination: String,
    /// After the manifest digest is taken, flip (XOR 0xFF) the byte at this
    /// offset. Offsets past the end are ignored.
    pub tamper: Option<u64>,
}

/// One component: a manifest and the files it lists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ComponentSpec {
    pub identity: Identity,
    /// Pad the manifest to this size (`None`: natural size).
    pub manifest_size: Option<u64>,
    pub manifest_time: DosDateTime,
    pub files: Vec<FileSpec>,
    /// Store the manifest as `<this>.manifest` and the payloads under
    /// `<this>\` instead of the keyform (to test name checks).
    pub stored_name: Option<String>,
}

impl ComponentSpec {
    /// The keyform of the identity: what the manifest and folder should be
    /// called.
    pub fn keyform(&self) -> String {
        self.identity.keyform()
    }

    /// The name the package actually uses for the manifest stem and the
    /// payload folder: [`ComponentSpec::stored_name`] or the keyform.
    pub fn stored_name(&self) -> String {
        self.stored_name.clone().unwrap_or_else(|| self.keyform())
    }
}

/// A whole package (one architecture).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Spec {
    pub arch: Arch,
    pub kb: u32,
    /// Name of the inner package, `Package_for_KB975354_RTM`; `update.mum`
    /// names the package without the `_RTM` suffix.
    pub package_name: String,
    pub package_version: String,
    /// Pad the package mum to this size (`None`: natural size).
    pub package_mum_size: Option<u64>,
    /// Date of the package mum, catalogs and MSU members.
    pub package_time: DosDateTime,
    pub components: Vec<ComponentSpec>,
    /// Write the MSU and the package CAB in the signed layout with an
    /// Authenticode signature by the TEST-ONLY CA appended (as Microsoft
    /// ships them); `false` writes
    /// plain cabinets.
    pub signed: bool,
}

fn component_identity(name: &str, version: &str, arch: &str) -> Identity {
    Identity {
        name: name.into(),
        version: version.into(),
        processor_architecture: arch.into(),
        language: "neutral".into(),
        public_key_token: manifests::PUBLIC_KEY_TOKEN.into(),
        version_scope: "nonSxS".into(),
        build_type: "release".into(),
        type_: Default::default(),
    }
}

fn payload_kind(row: &data::FileRow) -> Payload {
    let lower = row.name.to_ascii_lowercase();
    let machine = match row.platform {
        Some("x86") => Machine::I386,
        Some("x64") => Machine::Amd64,
        Some("IA-64") => Machine::Ia64,
        _ => Machine::I386,
    };
    if lower.ends_with(".dll") || lower.ends_with(".exe") {
        Payload::Pe(machine)
    } else if lower.ends_with(".msi") {
        Payload::Msi
    } else if lower.ends_with(".cab") {
        Payload::Cab
    } else {
        Payload::Xml
    }
}

/// Where a file of this component is installed. The Hyper-V integration
/// services media go to the folder the guest-installer packages stage; this
/// path is our choice, the article does not document destinations.
fn destination(component: &str, file: &str) -> String {
    if component.starts_with("Microsoft-Hyper-V-Guest-Installer") {
        "$(runtime.system32)\\vmguest\\support\\amd64\\".to_string()
    } else if file.ends_with(".xml") {
        "$(runtime.system32)\\VSS\\Writers\\".to_string()
    } else {
        // WOW64 components resolve $(runtime.system32) to SysWOW64.
        "$(runtime.system32)\\".to_string()
    }
}

/// The KB975354 package for one architecture, exactly as documented.
pub fn kb975354(arch: Arch) -> Spec {
    let mum = data::MUMS
        .iter()
        .find(|m| m.section == arch)
        .expect("every architecture has a mum row");
    let components = data::COMPONENTS
        .iter()
        .enumerate()
        .filter(|(_, c)| c.section == arch)
        .map(|(index, c)| ComponentSpec {
            identity: component_identity(c.name, c.version, c.arch),
            manifest_size: Some(c.manifest_size),
            manifest_time: c.manifest_time,
            files: data::FILES
                .iter()
                .filter(|f| f.component == index)
                .map(|f| FileSpec {
                    name: f.name.to_string(),
                    version: f.version.map(str::to_string),
                    size: f.size,
                    time: f.time,
                    built: None,
                    payload: payload_kind(f),
                    destination: destination(c.name, f.name),
                    tamper: None,
                })
                .collect(),
            stored_name: None,
        })
        .collect();
    Spec {
        arch,
        kb: 975_354,
        package_name: "Package_for_KB975354_RTM".to_string(),
        package_version: mum.version.to_string(),
        package_mum_size: Some(mum.size),
        package_time: mum.time,
        components,
        signed: true,
    }
}

impl Spec {
    /// `Windows6.1-KB975354-x64.msu`
    pub fn msu_name(&self) -> String {
        format!("Windows6.1-KB{}-{}.msu", self.kb, self.arch.file_suffix())
    }

    /// `Windows6.1-KB975354-x64.cab`
    pub fn package_cab_name(&self) -> String {
        format!("Windows6.1-KB{}-{}.cab", self.kb, self.arch.file_suffix())
    }

    /// `Package_for_KB975354_RTM~31bf3856ad364e35~amd64~~6.1.2.0.mum`
    pub fn package_mum_name(&self) -> String {
        format!(
            "{}~{}~{}~~{}.mum",
            self.package_name,
            manifests::PUBLIC_KEY_TOKEN,
            self.arch.processor_architecture(),
            self.package_version
        )
    }

    /// The component whose `processorArchitecture` and name match
    /// (case-insensitive).
    pub fn component_mut(&mut self, arch: &str, name: &str) -> Option<&mut ComponentSpec> {
        self.components.iter_mut().find(|c| {
            c.identity.processor_architecture.eq_ignore_ascii_case(arch)
                && c.identity.name.eq_ignore_ascii_case(name)
        })
    }

    /// The file `name` of the component with `processorArchitecture`
    /// `arch` (`amd64`, `wow64`, …), e.g. `file_mut("wow64", "vssapi.dll")`.
    pub fn file_mut(&mut self, arch: &str, name: &str) -> Option<&mut FileSpec> {
        self.components
            .iter_mut()
            .filter(|c| c.identity.processor_architecture.eq_ignore_ascii_case(arch))
            .flat_map(|c| c.files.iter_mut())
            .find(|f| f.name.eq_ignore_ascii_case(name))
    }

    /// Remove and return a file (see [`Spec::file_mut`] for the arguments).
    pub fn remove_file(&mut self, arch: &str, name: &str) -> Option<FileSpec> {
        for c in self
            .components
            .iter_mut()
            .filter(|c| c.identity.processor_architecture.eq_ignore_ascii_case(arch))
        {
            if let Some(i) = c
                .files
                .iter()
                .position(|f| f.name.eq_ignore_ascii_case(name))
            {
                return Some(c.files.remove(i));
            }
        }
        None
    }
}

fn parse_version(v: Option<&str>) -> [u16; 4] {
    let mut out = [0u16; 4];
    if let Some(v) = v {
        for (slot, part) in out.iter_mut().zip(v.split('.')) {
            *slot = part.parse().unwrap_or(0);
        }
    }
    out
}

fn description(name: &str) -> &'static str {
    match name.to_ascii_lowercase().as_str() {
        "vssapi.dll" => "Microsoft\u{ae} Volume Shadow Copy Requestor/Writer Services API DLL",
        "vsstrace.dll" => "Microsoft\u{ae} Volume Shadow Copy Service Tracing Library",
        "eventcls.dll" => "Microsoft\u{ae} Volume Shadow Copy Service event class DLL",
        "vmms.exe" => "Virtual Machine Management Service",
        _ => "Microsoft\u{ae} Windows\u{ae} component",
    }
}

/// `win7_rtm.090713-1255` for RTM files, else `win7_ldr.<yymmdd-hhmm>` of
/// the file date, the shape of Windows 7 FileVersion strings.
fn build_lab(version: [u16; 4], t: DosDateTime) -> String {
    if version[3] == 16385 {
        "win7_rtm.090713-1255".to_string()
    } else {
        format!(
            "win7_ldr.{:02}{:02}{:02}-{:02}{:02}",
            t.year % 100,
            t.month,
            t.day,
            t.hour,
            t.minute
        )
    }
}

fn fill_to(mut data: Vec<u8>, size: usize, byte: u8) -> Vec<u8> {
    data.resize(size, byte);
    data
}

/// Largest payload the generator builds (it holds whole packages in memory).
pub const MAX_PAYLOAD_SIZE: u64 = 256 << 20;

/// The bytes of a payload before any tampering: a pure function of the
/// file spec.
///
/// # Panics
/// When `file.size` exceeds [`MAX_PAYLOAD_SIZE`]: a spec is written by a
/// test, and a clear message beats an allocation failure.
pub fn payload_bytes(file: &FileSpec) -> Vec<u8> {
    assert!(
        file.size <= MAX_PAYLOAD_SIZE,
        "{}: {} bytes is over the sample generator's {MAX_PAYLOAD_SIZE}-byte limit",
        file.name,
        file.size
    );
    let size = file.size as usize;
    match file.payload {
        Payload::Pe(machine) => {
            let version = parse_version(file.version.as_deref());
            let built = file.built.unwrap_or(file.time);
            let lab = build_lab(version, built);
            let spec = pe::PeSpec {
                machine,
                version,
                file_name: &file.name,
                description: description(&file.name),
                build_lab: &lab,
                timestamp: built.unix_seconds(),
                size,
            };
            pe::build(&spec).unwrap_or_else(|| {
                // Too small for a whole image: a truncated one, which is
                // what a test asking for this size wants to see.
                let full = pe::build(&pe::PeSpec {
                    size: pe::min_size(&spec),
                    ..spec.clone()
                })
                .expect("min_size builds");
                fill_to(full, size, 0)
            })
        }
        Payload::Xml => {
            let head = format!(
                "<?xml version=\"1.0\" encoding=\"utf-8\"?>\r\n<!-- {}: placeholder generated by kbinspect for the KB975354 sample. -->\r\n<instrumentationManifest xmlns=\"http://schemas.microsoft.com/win/2004/08/events\">\r\n",
                file.name
            );
            let tail = "</instrumentationManifest>\r\n";
            let mut body = head.into_bytes();
            let pad = size.saturating_sub(body.len() + tail.len());
            body.extend(std::iter::repeat_n(b' ', pad));
            body.extend_from_slice(tail.as_bytes());
            fill_to(body, size, b' ')
        }
        Payload::Msi => {
            // The OLE compound-file signature; the rest is filler, not a
            // readable compound file.
            let mut body = vec![0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1];
            body.extend_from_slice(
                format!(
                    "{}: placeholder generated by kbinspect, not a Windows Installer database.",
                    file.name
                )
                .as_bytes(),
            );
            fill_to(body, size, 0)
        }
        Payload::Cab => {
            let note = format!(
                "{}: placeholder generated by kbinspect for the KB975354 sample; the real cabinet holds the Hyper-V integration services.\r\n",
                file.name
            );
            cabwrite::stored_cab_of_size("readme.txt", note.as_bytes(), file.time, size)
                .unwrap_or_else(|| fill_to(note.into_bytes(), size, b' '))
        }
    }
}

/// The members of the package CAB in order, paths `\`-separated:
/// `update.mum`, `update.cat`, the package mum and catalog, each component
/// manifest and its payload folder, sorted case-insensitively by path.
pub fn package_members(spec: &Spec) -> Vec<CabFile> {
    let mut members = Vec::new();
    let mut listed: Vec<(String, Vec<u8>)> = Vec::new();
    let file = |name: String, data: Vec<u8>, time: DosDateTime| CabFile {
        name,
        data,
        time,
        attributes: ATTR_ARCHIVE,
    };
    for c in &spec.components {
        let keyform = c.stored_name();
        let mut digests = Vec::with_capacity(c.files.len());
        for f in &c.files {
            let mut data = payload_bytes(f);
            digests.push(manifests::sha256(&data));
            // The catalog lists the file as built (a tampered byte is a
            // change after signing).
            listed.push((f.name.clone(), data.clone()));
            if let Some(b) = f
                .tamper
                .and_then(|t| usize::try_from(t).ok())
                .and_then(|t| data.get_mut(t))
            {
                *b ^= 0xFF;
            }
            members.push(file(format!("{keyform}\\{}", f.name), data, f.time));
        }
        members.push(file(
            format!("{keyform}.manifest"),
            manifests::component_manifest(c, &digests),
            c.manifest_time,
        ));
    }
    let pkg_stem = spec.package_mum_name();
    let pkg_stem = pkg_stem.strip_suffix(".mum").unwrap_or(&pkg_stem);
    let package_mum = manifests::package_mum(spec);
    let update_mum = manifests::update_mum(spec);
    // The package catalog lists its mum, every component manifest and
    // every payload file; `update.cat` lists `update.mum`. Both are signed
    // by the TEST-ONLY CA (`sign`).
    let mut cat_files: Vec<(String, &[u8])> = vec![(format!("{pkg_stem}.mum"), &package_mum)];
    cat_files.extend(
        members
            .iter()
            .filter(|m| m.name.ends_with(".manifest"))
            .map(|m| (m.name.clone(), m.data.as_slice())),
    );
    cat_files.extend(listed.iter().map(|(n, d)| (n.clone(), d.as_slice())));
    let package_cat = sign::catalog(&cat_files);
    let update_cat = sign::catalog(&[("update.mum".to_string(), update_mum.as_slice())]);
    members.push(file(
        format!("{pkg_stem}.mum"),
        package_mum,
        spec.package_time,
    ));
    members.push(file(
        format!("{pkg_stem}.cat"),
        package_cat,
        spec.package_time,
    ));
    members.push(file(
        "update.cat".to_string(),
        update_cat,
        spec.package_time,
    ));
    members.push(file(
        "update.mum".to_string(),
        update_mum,
        spec.package_time,
    ));
    members.sort_by_key(|m| m.name.to_ascii_lowercase());
    members
}

/// The package CAB: one LZX (window 2^21) folder, signed layout.
pub fn build_package_cab(spec: &Spec) -> Vec<u8> {
    let cab = cabwrite::write_cab(
        &package_members(spec),
        &CabOptions {
            method: Method::Lzx { window_bits: 21 },
            set_id: 0,
            signature: spec.signed.then(Vec::new),
        },
    );
    if spec.signed {
        sign::sign_cab(cab)
    } else {
        cab
    }
}

/// The MSU: one MSZIP folder, signed layout, holding `WSUSSCAN.cab`, the
/// package CAB, `…-pkgProperties.txt` and the unattend `.xml`.
pub fn build_msu(spec: &Spec) -> Vec<u8> {
    let stem = format!("Windows6.1-KB{}-{}", spec.kb, spec.arch.file_suffix());
    let t = spec.package_time;
    let wsusscan = cabwrite::write_cab(
        &[CabFile {
            name: "package.xml".to_string(),
            data: manifests::wsusscan_xml(spec),
            time: t,
            attributes: ATTR_ARCHIVE,
        }],
        &CabOptions {
            method: Method::MsZip,
            set_id: 0,
            signature: None,
        },
    );
    let members = [
        ("WSUSSCAN.cab".to_string(), wsusscan),
        (spec.package_cab_name(), build_package_cab(spec)),
        (
            format!("{stem}-pkgProperties.txt"),
            manifests::pkg_properties(spec),
        ),
        (format!("{stem}.xml"), manifests::unattend_xml(spec)),
    ];
    let files: Vec<CabFile> = members
        .into_iter()
        .map(|(name, data)| CabFile {
            name,
            data,
            time: t,
            attributes: ATTR_ARCHIVE,
        })
        .collect();
    let msu = cabwrite::write_cab(
        &files,
        &CabOptions {
            method: Method::MsZip,
            set_id: 0,
            signature: spec.signed.then(Vec::new),
        },
    );
    if spec.signed {
        sign::sign_cab(msu)
    } else {
        msu
    }
}

/// Bump the last part of a dotted version.
fn bump(version: &str) -> String {
    match version.rsplit_once('.') {
        Some((head, last)) => format!("{head}.{}", last.parse::<u32>().unwrap_or(0) + 1),
        None => version.to_string(),
    }
}

/// A later build of the same update, for `diff` tests. Relative to `spec`,
/// in the native `Microsoft-Windows-VssApi` component (the one whose
/// `processorArchitecture` equals the package's) only:
/// - the component version is bumped in its last part (6.1.7600.20542 →
///   6.1.7600.20543 for x64), so its keyform and manifest name change;
/// - `vssapi.dll` changes: version bumped the same way, size + 512 bytes;
/// - `vsstrace.dll` is removed;
/// - `vssui.dll` is added (version = new component version, 12,288 bytes,
///   same date as `vssapi.dll`);
/// - `eventcls.dll` and the `.xml` keep their bytes (they only move to the
///   renamed component folder).
///
/// The package identity, mum size and every other component are unchanged.
/// A spec without that component is returned unchanged.
pub fn second_build(spec: &Spec) -> Spec {
    let mut next = spec.clone();
    let arch = spec.arch.processor_architecture();
    let Some(c) = next.component_mut(arch, "Microsoft-Windows-VssApi") else {
        return next;
    };
    c.identity.version = bump(&c.identity.version).into();
    let new_version = c.identity.version;
    let mut template = None;
    if let Some(f) = c.files.iter_mut().find(|f| f.name == "vssapi.dll") {
        f.version = Some(new_version.to_string());
        f.size += 512;
        template = Some(f.clone());
    }
    c.files.retain(|f| f.name != "vsstrace.dll");
    if let Some(t) = template {
        c.files.push(FileSpec {
            name: "vssui.dll".to_string(),
            version: Some(new_version.to_string()),
            size: 12_288,
            ..t
        });
    }
    next
}

/// Ready-made broken packages for `verify` tests. Each starts from the x64
/// package and changes one thing; [`Variant::expected`] says what a
/// checker should report and nothing else should differ.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Variant {
    /// amd64 `vssapi.dll`: byte 0x1000 flipped after the manifest digest
    /// was taken.
    TamperedPayload,
    /// amd64 `vsstrace.dll` built (PE resource and manifest alike) as
    /// 6.1.7600.20543 instead of the documented 6.1.7600.20542.
    VersionMismatch,
    /// wow64 `vssapi.dll` is 1,124,864 bytes instead of 1,124,352.
    SizeMismatch,
    /// amd64 `eventcls.dll` removed (from the folder and the manifest).
    MissingFile,
    /// amd64 component gains `vssui.dll` (6.1.7600.20542, 12,288 bytes),
    /// which the article does not list.
    ExtraFile,
    /// wow64 `eventcls.dll` is an amd64 PE image instead of i386.
    WrongMachine,
    /// amd64 `vssapi.dll` is dated 2009-10-07 06:34, a day after the
    /// documented 06-Oct-2009 06:34.
    DateMismatch,
    /// Neither the MSU nor the package CAB has the signature reserve or an
    /// appended signature.
    Unsigned,
    /// The amd64 VssApi manifest and folder are stored under the keyform the
    /// same identity would have at version 6.1.7600.20541, while the
    /// manifest content still says 6.1.7600.20542.
    ManifestNameMismatch,
}

impl Variant {
    pub const ALL: [Variant; 9] = [
        Variant::TamperedPayload,
        Variant::VersionMismatch,
        Variant::SizeMismatch,
        Variant::MissingFile,
        Variant::ExtraFile,
        Variant::WrongMachine,
        Variant::DateMismatch,
        Variant::Unsigned,
        Variant::ManifestNameMismatch,
    ];

    /// Short name, usable as a file name: `tampered-payload`, …
    pub fn name(self) -> &'static str {
        match self {
            Variant::TamperedPayload => "tampered-payload",
            Variant::VersionMismatch => "version-mismatch",
            Variant::SizeMismatch => "size-mismatch",
            Variant::MissingFile => "missing-file",
            Variant::ExtraFile => "extra-file",
            Variant::WrongMachine => "wrong-machine",
            Variant::DateMismatch => "date-mismatch",
            Variant::Unsigned => "unsigned",
            Variant::ManifestNameMismatch => "manifest-name-mismatch",
        }
    }

    /// What is wrong, in words a test can put in an assertion message.
    pub fn expected(self) -> &'static str {
        match self {
            Variant::TamperedPayload => {
                "amd64 vssapi.dll: SHA-256 differs from its manifest digest and from the package catalog's entry (sizes and versions still match the KB table)"
            }
            Variant::VersionMismatch => {
                "x64 vsstrace.dll: version 6.1.7600.20543, the KB table says 6.1.7600.20542 (package self-consistent)"
            }
            Variant::SizeMismatch => {
                "WOW64 vssapi.dll: 1,124,864 bytes, the KB table says 1,124,352 (package self-consistent)"
            }
            Variant::MissingFile => {
                "x64 eventcls.dll (16,384 bytes) documented in the KB table but absent from the package"
            }
            Variant::ExtraFile => "vssui.dll in the amd64 VssApi component is not in the KB table",
            Variant::WrongMachine => {
                "wow64 eventcls.dll is an amd64 (0x8664) image; the component is wow64 and the KB table says x86"
            }
            Variant::DateMismatch => {
                "x64 vssapi.dll: dated 2009-10-07 06:34, the KB table says 06-Oct-2009 06:34"
            }
            Variant::Unsigned => {
                "the MSU and the package CAB carry no signature (no RESERVE_PRESENT header reserve, nothing appended); the catalogs are still signed"
            }
            Variant::ManifestNameMismatch => {
                "the amd64 VssApi manifest's name is not the keyform of its assemblyIdentity"
            }
        }
    }

    /// The variant's spec.
    pub fn spec(self) -> Spec {
        let mut spec = kb975354(Arch::X64);
        let file = |spec: &mut Spec, arch: &str, name: &str| -> FileSpec {
            spec.file_mut(arch, name)
                .map(|f| f.clone())
                .expect("the x64 package has this file")
        };
        match self {
            Variant::TamperedPayload => {
                if let Some(f) = spec.file_mut("amd64", "vssapi.dll") {
                    f.tamper = Some(0x1000);
                }
            }
            Variant::VersionMismatch => {
                if let Some(f) = spec.file_mut("amd64", "vsstrace.dll") {
                    f.version = Some("6.1.7600.20543".to_string());
                }
            }
            Variant::SizeMismatch => {
                if let Some(f) = spec.file_mut("wow64", "vssapi.dll") {
                    f.size += 512;
                }
            }
            Variant::MissingFile => {
                spec.remove_file("amd64", "eventcls.dll");
            }
            Variant::ExtraFile => {
                let template = file(&mut spec, "amd64", "vsstrace.dll");
                if let Some(c) = spec.component_mut("amd64", "Microsoft-Windows-VssApi") {
                    c.files.push(FileSpec {
                        name: "vssui.dll".to_string(),
                        size: 12_288,
                        ..template
                    });
                }
            }
            Variant::WrongMachine => {
                if let Some(f) = spec.file_mut("wow64", "eventcls.dll") {
                    f.payload = Payload::Pe(Machine::Amd64);
                }
            }
            Variant::DateMismatch => {
                if let Some(f) = spec.file_mut("amd64", "vssapi.dll") {
                    f.built = Some(f.time);
                    f.time.day += 1;
                }
            }
            Variant::Unsigned => spec.signed = false,
            Variant::ManifestNameMismatch => {
                if let Some(c) = spec.component_mut("amd64", "Microsoft-Windows-VssApi") {
                    let mut other = c.identity.clone();
                    other.version = "6.1.7600.20541".into();
                    c.stored_name = Some(other.keyform());
                }
            }
        }
        spec
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs_follow_the_article_tables() {
        let counts: Vec<usize> = Arch::ALL
            .iter()
            .map(|a| kb975354(*a).components.iter().map(|c| c.files.len()).sum())
            .collect();
        assert_eq!(counts, [4, 11, 7]);
        for arch in Arch::ALL {
            let spec = kb975354(arch);
            let mut names: Vec<String> = spec
                .components
                .iter()
                .map(|c| format!("{}.manifest", c.keyform()))
                .chain(std::iter::once(spec.package_mum_name()))
                .map(|n| n.to_ascii_lowercase())
                .collect();
            names.sort();
            let want: Vec<String> = data::additional_files(arch)
                .iter()
                .map(|(n, _)| n.to_ascii_lowercase())
                .collect();
            assert_eq!(names, want, "{arch:?}");
        }
    }

    #[test]
    fn payload_sizes_are_exact() {
        for arch in Arch::ALL {
            for c in kb975354(arch).components {
                for f in &c.files {
                    assert_eq!(payload_bytes(f).len() as u64, f.size, "{}", f.name);
                }
                let digests = vec![[0u8; 32]; c.files.len()];
                assert_eq!(
                    Some(manifests::component_manifest(&c, &digests).len() as u64),
                    c.manifest_size
                );
            }
        }
    }

    /// Degenerate specs (a component without files, empty and truncated
    /// payloads, no components at all) still build readable cabinets.
    #[test]
    fn degenerate_specs_build() {
        use std::io::Read as _;
        let mut spec = kb975354(Arch::X86);
        let c = &mut spec.components[0];
        c.files.truncate(2);
        c.files[0].size = 0;
        c.files[1].size = 1;
        let mut empty = c.clone();
        empty.files.clear();
        empty.identity.name = "Empty-Component".into();
        spec.components.push(empty);
        let mut no_components = spec.clone();
        no_components.components.clear();
        for s in [spec, no_components] {
            let cab = build_package_cab(&s);
            let mut cabinet = cab::Cabinet::new(std::io::Cursor::new(cab)).unwrap();
            for m in package_members(&s) {
                let mut data = Vec::new();
                cabinet
                    .read_file(&m.name)
                    .unwrap()
                    .read_to_end(&mut data)
                    .unwrap();
                assert_eq!(data, m.data, "{}", m.name);
            }
        }
    }

    #[test]
    fn second_build_changes_what_it_documents() {
        let a = kb975354(Arch::X64);
        let b = second_build(&a);
        let va = a
            .components
            .iter()
            .find(|c| {
                c.identity.processor_architecture == "amd64"
                    && c.identity.name == "Microsoft-Windows-VssApi"
            })
            .unwrap();
        let vb = b
            .components
            .iter()
            .find(|c| {
                c.identity.processor_architecture == "amd64"
                    && c.identity.name == "Microsoft-Windows-VssApi"
            })
            .unwrap();
        assert_eq!(vb.identity.version, "6.1.7600.20543");
        let names = |c: &ComponentSpec| c.files.iter().map(|f| f.name.clone()).collect::<Vec<_>>();
        assert_eq!(
            names(va),
            [
                "75dfb225-e2e4-4d39-9ac9-ffaff65ddf06.xml",
                "eventcls.dll",
                "vssapi.dll",
                "vsstrace.dll"
            ]
        );
        assert_eq!(
            names(vb),
            [
                "75dfb225-e2e4-4d39-9ac9-ffaff65ddf06.xml",
                "eventcls.dll",
                "vssapi.dll",
                "vssui.dll"
            ]
        );
        assert_eq!(payload_bytes(&va.files[1]), payload_bytes(&vb.files[1]));
        assert_ne!(payload_bytes(&va.files[2]), payload_bytes(&vb.files[2]));
        assert_eq!(a.components.len(), b.components.len());
    }
}
