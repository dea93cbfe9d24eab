//! Text members of the sample: component manifests, package mums,
//! `update.mum`, `pkgProperties.txt`, the unattend XML and the WSUSSCAN
//! placeholder. All CRLF, like Microsoft's files.
//!
//! The content is written for kbinspect, modelled on the structure of real
//! Windows 7 packages (KB4538483 in the corpus); it is not Microsoft's text.

use base64::Engine as _;
use sha2::Digest as _;

use super::{ComponentSpec, Spec};
use kbinspect::servicing::identity::Identity;

pub const PUBLIC_KEY_TOKEN: &str = "31bf3856ad364e35";
const ASM_V3: &str = "urn:schemas-microsoft-com:asm.v3";
const DSIG: &str = "http://www.w3.org/2000/09/xmldsig#";

/// Escape text for an XML attribute value.
pub fn xml_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            _ => out.push(c),
        }
    }
    out
}

/// `<assemblyIdentity …/>` with the attributes Microsoft writes in
/// component manifests and mum `<component>` references.
pub fn identity_element(id: &Identity) -> String {
    let mut s = format!(
        "<assemblyIdentity name=\"{}\" version=\"{}\" processorArchitecture=\"{}\" language=\"{}\"",
        xml_escape(&id.name),
        xml_escape(&id.version),
        xml_escape(&id.processor_architecture),
        xml_escape(&id.language)
    );
    if !id.build_type.is_empty() {
        s += &format!(" buildType=\"{}\"", xml_escape(&id.build_type));
    }
    s += &format!(" publicKeyToken=\"{}\"", xml_escape(&id.public_key_token));
    if !id.version_scope.is_empty() {
        s += &format!(" versionScope=\"{}\"", xml_escape(&id.version_scope));
    }
    if !id.type_.is_empty() {
        s += &format!(" type=\"{}\"", xml_escape(&id.type_));
    }
    s + " />"
}

/// Grow `xml` to exactly `size` bytes by inserting a comment (or, for gaps
/// too small for a comment, spaces) before the closing `</assembly>`.
/// A document already at or above `size` is left as it is: a mutated spec
/// may outgrow its documented size, and that is for `verify` to report.
pub fn pad_to(xml: String, size: Option<u64>) -> Vec<u8> {
    let Some(size) = size.and_then(|s| usize::try_from(s).ok()) else {
        return xml.into_bytes();
    };
    let gap = size.saturating_sub(xml.len());
    if gap == 0 {
        return xml.into_bytes();
    }
    let close = "</assembly>";
    let at = xml.rfind(close).unwrap_or(xml.len());
    const OPEN: &str = "  <!-- kbinspect sample: padded to the size documented in the KB article ";
    const SHUT: &str = "-->\r\n";
    let filler = if gap >= OPEN.len() + SHUT.len() {
        format!("{OPEN}{}{SHUT}", " ".repeat(gap - OPEN.len() - SHUT.len()))
    } else {
        " ".repeat(gap)
    };
    let mut out = String::with_capacity(size);
    out.push_str(&xml[..at]);
    out.push_str(&filler);
    out.push_str(&xml[at..]);
    debug_assert_eq!(out.len(), size);
    out.into_bytes()
}

/// The component manifest; `digests` holds the SHA-256 of each file of
/// `component.files`, in order.
pub fn component_manifest(component: &ComponentSpec, digests: &[[u8; 32]]) -> Vec<u8> {
    let mut x = String::new();
    x += "<?xml version=\"1.0\" encoding=\"utf-8\" standalone=\"yes\"?>\r\n";
    x += &format!(
        "<assembly xmlns=\"{ASM_V3}\" manifestVersion=\"1.0\" copyright=\"Copyright (c) Microsoft Corporation. All Rights Reserved.\">\r\n"
    );
    x += &format!("  {}\r\n", identity_element(&component.identity));
    for (file, digest) in component.files.iter().zip(digests) {
        let b64 = base64::engine::general_purpose::STANDARD.encode(digest);
        x += &format!(
            "  <file name=\"{n}\" destinationPath=\"{d}\" sourceName=\"{n}\" sourcePath=\".\\\" importPath=\"$(build.nttree)\\\">\r\n",
            n = xml_escape(&file.name),
            d = xml_escape(&file.destination)
        );
        x += "    <securityDescriptor name=\"WRP_FILE_DEFAULT_SDDL\" />\r\n";
        x += "    <asmv2:hash xmlns:asmv2=\"urn:schemas-microsoft-com:asm.v2\">\r\n";
        x += &format!("      <dsig:Transforms xmlns:dsig=\"{DSIG}\">\r\n");
        x += "        <dsig:Transform Algorithm=\"urn:schemas-microsoft-com:HashTransforms.Identity\" />\r\n";
        x += "      </dsig:Transforms>\r\n";
        x += &format!(
            "      <dsig:DigestMethod xmlns:dsig=\"{DSIG}\" Algorithm=\"http://www.w3.org/2000/09/xmldsig#sha256\" />\r\n"
        );
        x += &format!("      <dsig:DigestValue xmlns:dsig=\"{DSIG}\">{b64}</dsig:DigestValue>\r\n");
        x += "    </asmv2:hash>\r\n";
        x += "  </file>\r\n";
    }
    if component
        .identity
        .name
        .eq_ignore_ascii_case("Microsoft-Windows-VssApi")
    {
        x += "  <registryKeys>\r\n";
        x += "    <registryKey keyName=\"HKEY_LOCAL_MACHINE\\SYSTEM\\CurrentControlSet\\Services\\VSS\\Settings\">\r\n";
        x += "      <registryValue name=\"ActiveWritersTimeout\" valueType=\"REG_DWORD\" value=\"0x0000003c\" />\r\n";
        x += "    </registryKey>\r\n";
        x += "  </registryKeys>\r\n";
    }
    x += "</assembly>\r\n";
    pad_to(x, component.manifest_size)
}

fn assembly_open(spec: &Spec) -> String {
    let stamp = format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:00Z",
        spec.package_time.year,
        spec.package_time.month,
        spec.package_time.day,
        spec.package_time.hour,
        spec.package_time.minute
    );
    format!(
        "<assembly xmlns=\"{ASM_V3}\" manifestVersion=\"1.0\" description=\"Fix for KB{kb}\" displayName=\"default\" company=\"Microsoft Corporation\" copyright=\"Microsoft Corporation\" supportInformation=\"http://support.microsoft.com/?kbid={kb}\" creationTimeStamp=\"{stamp}\" lastUpdateTimeStamp=\"{stamp}\">\r\n",
        kb = spec.kb
    )
}

fn package_identity(spec: &Spec, name: &str) -> String {
    format!(
        "<assemblyIdentity name=\"{}\" version=\"{}\" language=\"neutral\" processorArchitecture=\"{}\" publicKeyToken=\"{PUBLIC_KEY_TOKEN}\" />",
        xml_escape(name),
        xml_escape(&spec.package_version),
        spec.arch.processor_architecture()
    )
}

fn package_open(spec: &Spec) -> String {
    format!(
        "  <package identifier=\"KB{}\" releaseType=\"Hotfix\" restart=\"required\">\r\n",
        spec.kb
    )
}

/// The inner package mum (`Package_for_KB975354_RTM~…​.mum`): one
/// `<update>` per component.
pub fn package_mum(spec: &Spec) -> Vec<u8> {
    let mut x = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>\r\n");
    x += &assembly_open(spec);
    x += &format!("  {}\r\n", package_identity(spec, &spec.package_name));
    x += &package_open(spec);
    x += "    <parent buildCompare=\"EQ\" serviceCompare=\"GE\" revisionCompare=\"GE\" integrate=\"separate\" disposition=\"detect\">\r\n";
    x += &format!(
        "      <assemblyIdentity name=\"Microsoft-Windows-Foundation-Package\" version=\"6.1.7600.16385\" language=\"neutral\" processorArchitecture=\"{}\" publicKeyToken=\"{PUBLIC_KEY_TOKEN}\" buildType=\"release\" />\r\n",
        spec.arch.processor_architecture()
    );
    x += "    </parent>\r\n";
    for (i, c) in spec.components.iter().enumerate() {
        x += &format!(
            "    <update name=\"{}-{}_RTM_LDR\">\r\n      <component>\r\n        {}\r\n      </component>\r\n    </update>\r\n",
            spec.kb,
            i + 1,
            identity_element(&c.identity)
        );
    }
    x += "  </package>\r\n</assembly>\r\n";
    pad_to(x, spec.package_mum_size)
}

/// `update.mum`: the top-level package, which installs the `_RTM` package.
/// Starts with a UTF-8 BOM, as Microsoft's do.
pub fn update_mum(spec: &Spec) -> Vec<u8> {
    let top = spec
        .package_name
        .strip_suffix("_RTM")
        .unwrap_or(&spec.package_name);
    let mut x = String::from("\u{feff}<?xml version=\"1.0\" encoding=\"utf-8\"?>\r\n");
    x += &assembly_open(spec);
    x += &format!("  {}\r\n", package_identity(spec, top));
    x += &package_open(spec);
    x += "    <parent buildCompare=\"EQ\" serviceCompare=\"GE\" integrate=\"separate\" disposition=\"detect\">\r\n";
    x += &format!(
        "      <assemblyIdentity name=\"Microsoft-Windows-Foundation-Package\" version=\"6.1.7600.16385\" language=\"neutral\" processorArchitecture=\"{}\" publicKeyToken=\"{PUBLIC_KEY_TOKEN}\" buildType=\"release\" />\r\n",
        spec.arch.processor_architecture()
    );
    x += "    </parent>\r\n";
    x += &format!(
        "    <update name=\"{}-0_neutral_PACKAGE\">\r\n      <package integrate=\"hidden\">\r\n        {}\r\n      </package>\r\n    </update>\r\n",
        spec.kb,
        package_identity(spec, &spec.package_name)
    );
    x += "  </package>\r\n</assembly>\r\n";
    x.into_bytes()
}

/// `Windows6.1-KB975354-<arch>-pkgProperties.txt`: `Key="value"` lines.
pub fn pkg_properties(spec: &Spec) -> Vec<u8> {
    let t = spec.package_time;
    let applicability = match spec.arch {
        super::Arch::X86 => "Windows 7.0 Client;",
        super::Arch::X64 => "Windows 7.0 Client;Windows 7.0 Server;",
        super::Arch::Ia64 => "Windows 7.0 Server;",
    };
    let lines = [
        ("ApplicabilityInfo", applicability.to_string()),
        ("Applies to", "Windows 6.1".to_string()),
        (
            "Build Date",
            format!("{:04}/{:02}/{:02}", t.year, t.month, t.day),
        ),
        ("Company", "Microsoft Corporation".to_string()),
        ("File Version", "1".to_string()),
        ("Installation Type", "FULL".to_string()),
        (
            "Installer Engine",
            "Component Based Servicing - WUSA.exe".to_string(),
        ),
        ("Installer Version", "6.1.7600.16385".to_string()),
        ("KB Article Number", spec.kb.to_string()),
        ("Language", "ALL".to_string()),
        ("Package Type", "Hotfix".to_string()),
        (
            "Processor Architecture",
            spec.arch.processor_architecture().to_string(),
        ),
        ("Product Name", "Windows 6.1".to_string()),
        (
            "Support Link",
            format!("http://support.microsoft.com?kbid={}", spec.kb),
        ),
    ];
    lines
        .iter()
        .map(|(k, v)| format!("{k}=\"{v}\"\r\n"))
        .collect::<String>()
        .into_bytes()
}

/// The unattend XML that installs the package CAB.
pub fn unattend_xml(spec: &Spec) -> Vec<u8> {
    let top = spec
        .package_name
        .strip_suffix("_RTM")
        .unwrap_or(&spec.package_name);
    format!(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\r\n<unattend xmlns=\"urn:schemas-microsoft-com:unattend\">\r\n    <servicing>\r\n        <package action=\"install\">\r\n            {}\r\n            <source location=\"%configsetroot%\\{}\" />\r\n        </package>\r\n     </servicing>\r\n</unattend>\r\n",
        package_identity(spec, top),
        spec.package_cab_name()
    )
    .into_bytes()
}

/// The XML inside the placeholder `WSUSSCAN.cab`. Real WSUSSCAN cabinets
/// hold Windows Update detection metadata; this one only says what it is.
pub fn wsusscan_xml(spec: &Spec) -> Vec<u8> {
    format!(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\r\n<!-- Placeholder generated by kbinspect: not Windows Update scan metadata. -->\r\n<package kb=\"{}\" processorArchitecture=\"{}\" />\r\n",
        spec.kb,
        spec.arch.processor_architecture()
    )
    .into_bytes()
}

/// SHA-256 of bytes as an array.
pub fn sha256(data: &[u8]) -> [u8; 32] {
    let d = sha2::Sha256::digest(data);
    let mut out = [0u8; 32];
    out.copy_from_slice(d.as_slice());
    out
}
