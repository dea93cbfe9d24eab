//! Component manifests (`*.manifest`, asm.v3 or the older asm.v1).
//!
//! A component manifest names its identity and the files it installs, each
//! with the digest of the installed bytes. Deployment manifests (32-hex
//! names, a `<deployment/>` element) install nothing themselves: their
//! `install` dependency names the component they deploy.

use base64::Engine as _;
use serde::Serialize;

use super::identity::Identity;
use super::xml::{self, Element, XmlError, XmlLimits, is_asm, ns_asm_v2, ns_dsig};

/// Digest algorithm of a manifest file hash.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum DigestAlg {
    Sha256,
    Sha1,
    /// An algorithm we do not verify (the URI or attribute as written).
    #[serde(untagged)]
    Other(String),
}

impl DigestAlg {
    /// From an xmldsig `Algorithm` URI or a `hashalg` attribute.
    pub fn from_name(s: &str) -> DigestAlg {
        let tail = s.rsplit('#').next().unwrap_or(s);
        if tail.eq_ignore_ascii_case("sha256") {
            DigestAlg::Sha256
        } else if tail.eq_ignore_ascii_case("sha1") {
            DigestAlg::Sha1
        } else {
            DigestAlg::Other(s.to_string())
        }
    }

    pub fn as_str(&self) -> &str {
        match self {
            DigestAlg::Sha256 => "sha256",
            DigestAlg::Sha1 => "sha1",
            DigestAlg::Other(s) => s,
        }
    }
}

/// A declared digest of a file's installed bytes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Digest {
    pub alg: DigestAlg,
    /// Lower-case hex.
    pub hex: String,
}

/// One `<file>` element.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ManifestFile {
    pub name: String,
    /// `destinationPath` as written (`$(runtime.system32)\`).
    pub destination_path: String,
    /// Installed path with variables resolved (`C:\Windows\System32\x.dll`).
    pub destination: String,
    pub source_name: String,
    pub source_path: String,
    pub import_path: String,
    pub digest: Option<Digest>,
    /// 1-based line of the `<file>` element.
    pub line: u32,
}

/// One `registryKeys/registryKey`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RegistryKey {
    pub key_name: String,
    pub values: Vec<RegistryValue>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RegistryValue {
    pub name: String,
    pub value_type: String,
    pub value: String,
}

/// One `dependency/dependentAssembly`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Dependency {
    /// `install`, `prerequisite`, … (empty when absent).
    pub dependency_type: crate::servicing::identity::Atom,
    pub identity: Identity,
}

/// A parsed component (or deployment) manifest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Manifest {
    pub identity: Identity,
    /// True for deployment manifests.
    pub deployment: bool,
    pub files: Vec<ManifestFile>,
    pub registry_keys: Vec<RegistryKey>,
    pub dependencies: Vec<Dependency>,
    /// Problems that do not stop the parse (a digest that is not base64, …),
    /// each with its line.
    pub warnings: Vec<(u32, String)>,
}

impl Manifest {
    /// The components a deployment manifest deploys: its `install`
    /// dependencies (empty for ordinary components).
    pub fn deploys(&self) -> impl Iterator<Item = &Identity> {
        deployed(self.deployment, &self.dependencies)
    }
}

/// The `install` dependencies of a deployment manifest (none when
/// `deployment` is false): the components it deploys.
pub fn deployed(deployment: bool, dependencies: &[Dependency]) -> impl Iterator<Item = &Identity> {
    dependencies
        .iter()
        .filter(move |d| deployment && d.dependency_type.eq_ignore_ascii_case("install"))
        .map(|d| &d.identity)
}

/// True when a name is 32 hex digits, the shape of deployment names.
pub fn is_deployment_name(name: &str) -> bool {
    name.len() == 32 && name.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Readable paths for `$(runtime.*)` variables: name, value, value in a
/// WOW64 component (they install into SysWOW64, which the `system32`
/// variable means for them).
const RUNTIME_VARIABLES: &[(&str, &str, &str)] = &[
    ("runtime.windows", r"C:\Windows", r"C:\Windows"),
    ("runtime.systemroot", r"C:\Windows", r"C:\Windows"),
    ("runtime.windir", r"C:\Windows", r"C:\Windows"),
    (
        "runtime.system32",
        r"C:\Windows\System32",
        r"C:\Windows\SysWOW64",
    ),
    (
        "runtime.syswow64",
        r"C:\Windows\SysWOW64",
        r"C:\Windows\SysWOW64",
    ),
    ("runtime.system", r"C:\Windows\System", r"C:\Windows\System"),
    (
        "runtime.drivers",
        r"C:\Windows\System32\drivers",
        r"C:\Windows\System32\drivers",
    ),
    (
        "runtime.wbem",
        r"C:\Windows\System32\wbem",
        r"C:\Windows\SysWOW64\wbem",
    ),
    ("runtime.inf", r"C:\Windows\INF", r"C:\Windows\INF"),
    ("runtime.fonts", r"C:\Windows\Fonts", r"C:\Windows\Fonts"),
    ("runtime.help", r"C:\Windows\Help", r"C:\Windows\Help"),
    (
        "runtime.apppatch",
        r"C:\Windows\AppPatch",
        r"C:\Windows\AppPatch",
    ),
    (
        "runtime.programfiles",
        r"C:\Program Files",
        r"C:\Program Files (x86)",
    ),
    (
        "runtime.programfilesx86",
        r"C:\Program Files (x86)",
        r"C:\Program Files (x86)",
    ),
    (
        "runtime.commonfiles",
        r"C:\Program Files\Common Files",
        r"C:\Program Files (x86)\Common Files",
    ),
    (
        "runtime.commonfilesx86",
        r"C:\Program Files (x86)\Common Files",
        r"C:\Program Files (x86)\Common Files",
    ),
    ("runtime.programdata", r"C:\ProgramData", r"C:\ProgramData"),
    (
        "runtime.commonappdata",
        r"C:\ProgramData",
        r"C:\ProgramData",
    ),
    ("runtime.public", r"C:\Users\Public", r"C:\Users\Public"),
    (
        "runtime.userprofile",
        r"C:\Users\Default",
        r"C:\Users\Default",
    ),
    (
        "runtime.startmenu",
        r"C:\ProgramData\Microsoft\Windows\Start Menu",
        r"C:\ProgramData\Microsoft\Windows\Start Menu",
    ),
    ("runtime.bootdrive", "C:", "C:"),
    ("runtime.systemdrive", "C:", "C:"),
];

/// The value of `var` (matched case-insensitively in place: lowering a copy
/// cost an allocation per file).
fn runtime_variable(var: &str, arch: &str) -> Option<&'static str> {
    let wow = arch.eq_ignore_ascii_case("wow64");
    RUNTIME_VARIABLES
        .iter()
        .find(|(name, ..)| var.eq_ignore_ascii_case(name))
        .map(|&(_, native, wow64)| if wow { wow64 } else { native })
}

/// Resolve `$(runtime.x)` variables in a destination path; unknown variables
/// are kept as written.
pub fn resolve_destination(path: &str, arch: &str) -> String {
    let mut out = String::with_capacity(path.len() + 16);
    let mut rest = path;
    while let Some(start) = rest.find("$(") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        match after.find(')') {
            Some(end) => {
                let var = &after[..end];
                match runtime_variable(var, arch) {
                    Some(v) => out.push_str(v),
                    None => {
                        out.push_str("$(");
                        out.push_str(var);
                        out.push(')');
                    }
                }
                rest = &after[end + 1..];
            }
            None => {
                out.push_str(&rest[start..]);
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out
}

/// Join a resolved directory and a file name with one backslash.
fn join_windows(dir: &str, name: &str) -> String {
    if dir.is_empty() {
        return name.to_string();
    }
    let dir = dir.trim_end_matches('\\');
    let mut path = String::with_capacity(dir.len() + 1 + name.len());
    path.push_str(dir);
    path.push('\\');
    path.push_str(name);
    path
}

/// Parse a manifest from its bytes; `member` names it in errors.
pub fn parse(member: &str, bytes: &[u8], limits: &XmlLimits) -> Result<Manifest, XmlError> {
    xml::parse_with(member, bytes, limits, |root| from_root(member, root))
}

/// Build a [`Manifest`] from a parsed document.
pub fn from_root(member: &str, root: &Element) -> Result<Manifest, XmlError> {
    let id_el = xml::assembly_identity(member, root)?;
    let identity = Identity::from_element(id_el);
    let deployment =
        root.child("deployment", is_asm).is_some() || is_deployment_name(&identity.name);
    let mut m = Manifest {
        identity,
        deployment,
        files: vec![],
        registry_keys: vec![],
        dependencies: vec![],
        warnings: vec![],
    };
    let arch = m.identity.processor_architecture;
    for f in root.children_named("file", is_asm) {
        let name = f.attr_or_empty("name").to_string();
        let destination_path = f.attr_or_empty("destinationPath").to_string();
        let destination = join_windows(&resolve_destination(&destination_path, &arch), &name);
        let digest = file_digest(f, &mut m.warnings);
        m.files.push(ManifestFile {
            name,
            destination_path,
            destination,
            source_name: f.attr_or_empty("sourceName").to_string(),
            source_path: f.attr_or_empty("sourcePath").to_string(),
            import_path: f.attr_or_empty("importPath").to_string(),
            digest,
            line: f.line,
        });
    }
    for keys in root.children_named("registryKeys", is_asm) {
        for key in keys.children_named("registryKey", is_asm) {
            m.registry_keys.push(RegistryKey {
                key_name: key.attr_or_empty("keyName").to_string(),
                values: key
                    .children_named("registryValue", is_asm)
                    .map(|v| RegistryValue {
                        name: v.attr_or_empty("name").to_string(),
                        value_type: v.attr_or_empty("valueType").to_string(),
                        value: v.attr_or_empty("value").to_string(),
                    })
                    .collect(),
            });
        }
    }
    for dep in root.children_named("dependency", is_asm) {
        for da in dep.children_named("dependentAssembly", is_asm) {
            if let Some(id) = da.child("assemblyIdentity", is_asm) {
                m.dependencies.push(Dependency {
                    dependency_type: da.attr_or_empty("dependencyType").into(),
                    identity: Identity::from_element(id),
                });
            }
        }
    }
    Ok(m)
}

/// The digest of a `<file>`: the xmldsig form in `<asmv2:hash>`, else the
/// old `hashalg`/`hash` attributes.
fn file_digest(f: &Element, warnings: &mut Vec<(u32, String)>) -> Option<Digest> {
    if let Some(h) = f.child("hash", ns_asm_v2) {
        let alg = h
            .child("DigestMethod", ns_dsig)
            .and_then(|d| d.attr("Algorithm"))
            .map(DigestAlg::from_name);
        let value = h.child("DigestValue", ns_dsig);
        match (alg, value) {
            (Some(alg), Some(v)) => {
                // Digests are written without whitespace; copy only if not.
                let b64: std::borrow::Cow<'_, str> = if v.text.chars().any(char::is_whitespace) {
                    v.text
                        .chars()
                        .filter(|c| !c.is_whitespace())
                        .collect::<String>()
                        .into()
                } else {
                    v.text.as_ref().into()
                };
                match base64::engine::general_purpose::STANDARD.decode(b64.as_bytes()) {
                    Ok(raw) => {
                        return Some(Digest {
                            alg,
                            hex: hex::encode(raw),
                        });
                    }
                    Err(e) => warnings.push((
                        v.line,
                        format!(
                            "digest of file {:?} is not base64: {e}",
                            f.attr_or_empty("name")
                        ),
                    )),
                }
            }
            _ => warnings.push((
                h.line,
                format!(
                    "hash of file {:?} lacks DigestMethod or DigestValue",
                    f.attr_or_empty("name")
                ),
            )),
        }
    }
    if let (Some(alg), Some(value)) = (f.attr_ci("hashalg"), f.attr_ci("hash")) {
        let value = value.trim();
        if value.len() % 2 == 0 && value.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Some(Digest {
                alg: DigestAlg::from_name(alg),
                hex: value.to_ascii_lowercase(),
            });
        }
        warnings.push((
            f.line,
            format!(
                "hash attribute of file {:?} is not hex",
                f.attr_or_empty("name")
            ),
        ));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    const V3: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<assembly xmlns="urn:schemas-microsoft-com:asm.v3" manifestVersion="1.0">
  <assemblyIdentity name="Demo-Component" version="6.1.7601.1" processorArchitecture="wow64" language="neutral" buildType="release" publicKeyToken="31bf3856ad364e35" versionScope="nonSxS" />
  <file name="demo.dll" destinationPath="$(runtime.system32)\sub\" sourceName="demo.dll" sourcePath=".\" importPath="$(build.nttree)\">
    <h:hash xmlns:h="urn:schemas-microsoft-com:asm.v2">
      <d:DigestMethod xmlns:d="http://www.w3.org/2000/09/xmldsig#" Algorithm="http://www.w3.org/2000/09/xmldsig#sha256" />
      <d:DigestValue xmlns:d="http://www.w3.org/2000/09/xmldsig#">H8t2VHOMRNjej7XHXmxkjBN8LeuoCtQOrt3O2ghGg0E=</d:DigestValue>
    </h:hash>
  </file>
  <file name="old.sys" destinationPath="$(runtime.drivers)" hashalg="SHA1" hash="00112233445566778899AABBCCDDEEFF00112233"/>
  <file name="odd.txt" destinationPath="$(runtime.unknownThing)\x\"/>
  <registryKeys><registryKey keyName="HKEY_LOCAL_MACHINE\Software\Demo"><registryValue name="V" valueType="REG_DWORD" value="0x1"/></registryKey></registryKeys>
  <dependency><dependentAssembly dependencyType="prerequisite"><assemblyIdentity name="Other" version="1.0.0.0" processorArchitecture="x86" language="*" publicKeyToken="31bf3856ad364e35"/></dependentAssembly></dependency>
</assembly>"#;

    #[test]
    fn runtime_variables_resolve_in_any_case() {
        let cases = [
            ("runtime.windows", "x86", r"C:\Windows"),
            ("Runtime.SystemRoot", "x86", r"C:\Windows"),
            ("RUNTIME.WINDIR", "amd64", r"C:\Windows"),
            ("runtime.system32", "amd64", r"C:\Windows\System32"),
            ("runtime.System32", "WOW64", r"C:\Windows\SysWOW64"),
            ("runtime.syswow64", "amd64", r"C:\Windows\SysWOW64"),
            ("runtime.system", "x86", r"C:\Windows\System"),
            ("runtime.drivers", "wow64", r"C:\Windows\System32\drivers"),
            ("runtime.wbem", "x86", r"C:\Windows\System32\wbem"),
            ("runtime.wbem", "wow64", r"C:\Windows\SysWOW64\wbem"),
            ("runtime.inf", "x86", r"C:\Windows\INF"),
            ("runtime.fonts", "x86", r"C:\Windows\Fonts"),
            ("runtime.help", "x86", r"C:\Windows\Help"),
            ("runtime.apppatch", "x86", r"C:\Windows\AppPatch"),
            ("runtime.programFiles", "amd64", r"C:\Program Files"),
            ("runtime.programFiles", "wow64", r"C:\Program Files (x86)"),
            (
                "runtime.programFilesX86",
                "amd64",
                r"C:\Program Files (x86)",
            ),
            (
                "runtime.commonFiles",
                "amd64",
                r"C:\Program Files\Common Files",
            ),
            (
                "runtime.commonFiles",
                "wow64",
                r"C:\Program Files (x86)\Common Files",
            ),
            (
                "runtime.commonFilesX86",
                "x86",
                r"C:\Program Files (x86)\Common Files",
            ),
            ("runtime.programData", "x86", r"C:\ProgramData"),
            ("runtime.commonAppData", "x86", r"C:\ProgramData"),
            ("runtime.public", "x86", r"C:\Users\Public"),
            ("runtime.userProfile", "x86", r"C:\Users\Default"),
            (
                "runtime.startMenu",
                "x86",
                r"C:\ProgramData\Microsoft\Windows\Start Menu",
            ),
            ("runtime.bootDrive", "x86", "C:"),
            ("runtime.systemDrive", "x86", "C:"),
        ];
        for (var, arch, want) in cases {
            assert_eq!(runtime_variable(var, arch), Some(want), "{var} {arch}");
        }
        assert_eq!(runtime_variable("runtime.system33", "x86"), None);
        assert_eq!(runtime_variable("runtime.system3", "x86"), None);
        assert_eq!(
            resolve_destination(r"$(RunTime.Fonts)\x\$(nope)\$(", "x86"),
            r"C:\Windows\Fonts\x\$(nope)\$("
        );
    }

    #[test]
    fn files_digests_destinations() {
        let m = parse("c.manifest", V3.as_bytes(), &XmlLimits::default()).unwrap();
        assert!(!m.deployment);
        assert_eq!(m.files.len(), 3);
        let f = &m.files[0];
        assert_eq!(f.destination, r"C:\Windows\SysWOW64\sub\demo.dll");
        let d = f.digest.as_ref().unwrap();
        assert_eq!(d.alg, DigestAlg::Sha256);
        assert_eq!(
            d.hex,
            "1fcb7654738c44d8de8fb5c75e6c648c137c2deba80ad40eaeddceda08468341"
        );
        let old = m.files[1].digest.as_ref().unwrap();
        assert_eq!(old.alg, DigestAlg::Sha1);
        assert_eq!(old.hex, "00112233445566778899aabbccddeeff00112233");
        assert_eq!(
            m.files[1].destination,
            r"C:\Windows\System32\drivers\old.sys"
        );
        assert_eq!(m.files[2].destination, r"$(runtime.unknownThing)\x\odd.txt");
        assert!(m.files[2].digest.is_none());
        assert_eq!(m.registry_keys[0].values[0].value_type, "REG_DWORD");
        assert_eq!(m.dependencies[0].identity.name, "Other");
        assert_eq!(m.deploys().count(), 0);
    }

    #[test]
    fn deployment_names_its_component() {
        let doc = r#"<assembly xmlns="urn:schemas-microsoft-com:asm.v3"><assemblyIdentity name="10a455d5d6256f2855d563d434a8ef68" version="1.0.0.0" processorArchitecture="x86" language="neutral" publicKeyToken="31bf3856ad364e35"/><deployment/><dependency discoverable="false"><dependentAssembly dependencyType="install"><assemblyIdentity name="Real" version="1.0.0.0" processorArchitecture="x86" language="neutral" publicKeyToken="31bf3856ad364e35"/></dependentAssembly></dependency></assembly>"#;
        let m = parse("d.manifest", doc.as_bytes(), &XmlLimits::default()).unwrap();
        assert!(m.deployment);
        assert_eq!(m.deploys().next().unwrap().name, "Real");
    }

    #[test]
    fn bad_base64_is_a_warning_not_a_digest() {
        let doc = r#"<assembly xmlns="urn:schemas-microsoft-com:asm.v1"><assemblyIdentity name="A" version="1.0.0.0"/>
<file name="a"><asmv2:hash xmlns:asmv2="urn:schemas-microsoft-com:asm.v2"><dsig:DigestMethod xmlns:dsig="http://www.w3.org/2000/09/xmldsig#" Algorithm="http://www.w3.org/2000/09/xmldsig#sha1"/><dsig:DigestValue xmlns:dsig="http://www.w3.org/2000/09/xmldsig#">!!!</dsig:DigestValue></asmv2:hash></file></assembly>"#;
        let m = parse("v1.manifest", doc.as_bytes(), &XmlLimits::default()).unwrap();
        assert!(m.files[0].digest.is_none());
        assert_eq!(m.warnings.len(), 1);
        assert_eq!(m.warnings[0].0, 2);
    }

    #[test]
    fn destination_resolution_edge_cases() {
        assert_eq!(
            resolve_destination("$(runtime.windows", "x86"),
            "$(runtime.windows"
        );
        assert_eq!(
            resolve_destination("$(runtime.programFiles)\\A", "amd64"),
            r"C:\Program Files\A"
        );
        assert_eq!(resolve_destination("", "x86"), "");
    }
}
