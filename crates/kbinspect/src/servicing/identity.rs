//! Assembly identities, WinSxS keyforms and the identity hash.
//!
//! A keyform names a component's manifest and WinSxS folder:
//! `amd64_microsoft-windows-vssapi_31bf3856ad364e35_6.1.7600.20542_none_318dad7ab472931d`.
//! The last field is a 64-bit hash of the identity attributes (see DESIGN.md).

pub use crate::atom::Atom;
pub use compact_str::CompactString;
use serde::Serialize;

/// `skip_serializing_if` for an empty attribute.
fn is_blank(a: &Atom) -> bool {
    a.is_empty()
}

/// The attributes of an `<assemblyIdentity>` element. The name is a
/// [`CompactString`] (held inline up to 24 bytes); the other attributes
/// are [`Atom`]s, interned: a package with thousands of identities holds
/// each distinct `amd64`, `neutral`, `31bf3856ad364e35` or
/// `6.1.7601.24545` once, and an identity is 80 bytes instead of 192.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize)]
pub struct Identity {
    pub name: CompactString,
    pub version: Atom,
    #[serde(rename = "arch")]
    pub processor_architecture: Atom,
    pub language: Atom,
    pub public_key_token: Atom,
    #[serde(skip_serializing_if = "is_blank")]
    pub version_scope: Atom,
    #[serde(skip_serializing_if = "is_blank")]
    pub build_type: Atom,
    #[serde(rename = "type", skip_serializing_if = "is_blank")]
    pub type_: Atom,
}

const M_PAIR: u64 = 0x1_FFFF_FFF7;

fn hash_str(s: &str) -> u64 {
    let mut h = [0u32; 4];
    for (i, b) in s.bytes().enumerate() {
        let c = b.to_ascii_lowercase() as u32;
        let slot = &mut h[i % 4];
        *slot = slot.wrapping_mul(0x1003F).wrapping_add(c);
    }
    (h[0] as u64)
        .wrapping_mul(0x1E5_FFFF_FD27)
        .wrapping_add((h[1] as u64).wrapping_mul(0xFFFF_FFDC_0000_0051))
        .wrapping_add((h[2] as u64).wrapping_mul(M_PAIR))
        .wrapping_add(h[3] as u64)
}

fn hash_pair(k: &str, v: &str) -> u64 {
    hash_str(k).wrapping_mul(M_PAIR).wrapping_add(hash_str(v))
}

/// True for an empty, `neutral` or `*` language.
pub fn is_neutral(lang: &str) -> bool {
    lang.is_empty() || lang.eq_ignore_ascii_case("neutral") || lang == "*"
}

/// Truncate a name for a keyform: longer than 40 characters keeps the first
/// and last 19 joined by `..`.
pub fn truncate_name(name: &str) -> String {
    truncated(name).into_owned()
}

/// Truncate a culture for a keyform: longer than 8 characters keeps the
/// first and last 3 joined by `..` (`sr-latn-cs` → `sr-..-cs`,
/// `ca-es-valencia` → `ca-..cia`), the name rule at a smaller width; the
/// real KB3004394 manifests name their `sr-latn-cs` components this way
/// and keep every 5-character culture whole.
pub fn truncate_culture(culture: &str) -> String {
    shortened(culture, 8, 3).into_owned()
}

/// [`truncate_name`] without copying names that fit.
fn truncated(name: &str) -> std::borrow::Cow<'_, str> {
    shortened(name, 40, 19)
}

/// `s` when at most `max` characters, else its first and last `keep`
/// characters joined by `..`.
fn shortened(s: &str, max: usize, keep: usize) -> std::borrow::Cow<'_, str> {
    let count = s.chars().count();
    if count <= max {
        return s.into();
    }
    let at = |n: usize| s.char_indices().nth(n).map_or(s.len(), |(i, _)| i);
    let head = s.get(..at(keep)).unwrap_or("");
    let tail = s.get(at(count - keep)..).unwrap_or("");
    format!("{head}..{tail}").into()
}

impl Identity {
    /// Read an `<assemblyIdentity>` (or `<id>`, `<installerAssembly>`)
    /// element's attributes. Missing attributes stay empty.
    pub fn from_element(e: &crate::servicing::xml::Element) -> Identity {
        Identity {
            name: e.attr_or_empty("name").into(),
            version: e.attr_or_empty("version").into(),
            processor_architecture: e.attr_or_empty("processorArchitecture").into(),
            language: e.attr_or_empty("language").into(),
            public_key_token: e.attr_or_empty("publicKeyToken").into(),
            version_scope: e.attr_or_empty("versionScope").into(),
            build_type: e.attr_or_empty("buildType").into(),
            type_: e.attr_or_empty("type").into(),
        }
    }

    /// `name~publicKeyToken~arch~language~version`: the stem of a `.mum`
    /// file name (language empty when neutral).
    pub fn mum_stem(&self) -> String {
        let lang = if is_neutral(&self.language) {
            ""
        } else {
            self.language.as_str()
        };
        format!(
            "{}~{}~{}~{}~{}",
            self.name, self.public_key_token, self.processor_architecture, lang, self.version
        )
    }

    /// Same component ignoring case (Windows compares identities
    /// case-insensitively), with neutral languages equal.
    pub fn same_as(&self, other: &Identity) -> bool {
        let lang_eq = (is_neutral(&self.language) && is_neutral(&other.language))
            || self.language.eq_ignore_ascii_case(&other.language);
        self.name.eq_ignore_ascii_case(&other.name)
            && self.version.eq_ignore_ascii_case(&other.version)
            && self
                .processor_architecture
                .eq_ignore_ascii_case(&other.processor_architecture)
            && self
                .public_key_token
                .eq_ignore_ascii_case(&other.public_key_token)
            && lang_eq
    }

    /// The 64-bit identity hash that ends a keyform. `buildType` is not hashed;
    /// a neutral language is skipped.
    pub fn hash(&self) -> u64 {
        let culture = if is_neutral(&self.language) {
            ""
        } else {
            self.language.as_str()
        };
        let attrs = [
            ("name", self.name.as_str()),
            ("culture", culture),
            ("type", self.type_.as_str()),
            ("version", self.version.as_str()),
            ("publickeytoken", self.public_key_token.as_str()),
            (
                "processorarchitecture",
                self.processor_architecture.as_str(),
            ),
            ("versionscope", self.version_scope.as_str()),
        ];
        attrs
            .iter()
            .filter(|(_, v)| !v.is_empty())
            .fold(0u64, |r, (k, v)| {
                r.wrapping_mul(M_PAIR).wrapping_add(hash_pair(k, v))
            })
    }

    /// The keyform, lower case: `arch_name_token_version_lang_hash`.
    pub fn keyform(&self) -> String {
        let arch = if self.processor_architecture.is_empty() {
            "none"
        } else {
            &self.processor_architecture
        };
        let lang = if is_neutral(&self.language) {
            "none".into()
        } else {
            shortened(&self.language, 8, 3)
        };
        let token = if self.public_key_token.is_empty() {
            "none"
        } else {
            &self.public_key_token
        };
        let name = truncated(&self.name);
        let parts = [arch, &name, token, &self.version, &lang];
        let mut out = String::with_capacity(parts.iter().map(|p| p.len() + 1).sum::<usize>() + 16);
        for part in parts {
            out.extend(part.chars().map(|c| c.to_ascii_lowercase()));
            out.push('_');
        }
        let hash = self.hash();
        out.extend((0..16).rev().map(|nibble| {
            char::from_digit(((hash >> (4 * nibble)) & 0xF) as u32, 16).unwrap_or('0')
        }));
        out
    }
}

/// The parts of a keyform file name (`…​.manifest` stem), for checking a name
/// against the identity inside the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Keyform {
    pub arch: String,
    pub name: String,
    pub public_key_token: String,
    pub version: String,
    pub language: String,
    pub hash: u64,
}

impl Keyform {
    /// Parse `arch_name_token_version_lang_hash` (an optional `.manifest`
    /// extension is stripped). Names may contain `_`, so parse from both ends.
    pub fn parse(s: &str) -> Option<Keyform> {
        let s = s
            .strip_suffix(".manifest")
            .or_else(|| s.strip_suffix(".MANIFEST"))
            .unwrap_or(s);
        let (arch, rest) = s.split_once('_')?;
        let mut tail = rest.rsplitn(5, '_');
        let hash = tail.next()?;
        let language = tail.next()?;
        let version = tail.next()?;
        let token = tail.next()?;
        let name = tail.next()?;
        if hash.len() != 16 || name.is_empty() {
            return None;
        }
        Some(Keyform {
            arch: arch.to_string(),
            name: name.to_string(),
            public_key_token: token.to_string(),
            version: version.to_string(),
            language: language.to_string(),
            hash: u64::from_str_radix(hash, 16).ok()?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(name: &str, version: &str, arch: &str) -> Identity {
        Identity {
            name: name.into(),
            version: version.into(),
            processor_architecture: arch.into(),
            language: "neutral".into(),
            public_key_token: "31bf3856ad364e35".into(),
            version_scope: "nonSxS".into(),
            ..Default::default()
        }
    }

    #[test]
    fn long_cultures_are_shortened_in_keyforms() {
        // A real name from KB3004394 (x86 crypt32 resources, sr-Latn-CS).
        let mut i = id(
            "Microsoft-Windows-Crypt32-DLL.Resources",
            "6.1.7601.22908",
            "x86",
        );
        i.language = "sr-Latn-CS".into();
        i.version_scope = Default::default();
        assert!(
            i.keyform().contains("_6.1.7601.22908_sr-..-cs_"),
            "{}",
            i.keyform()
        );
        assert_eq!(truncate_culture("ca-ES-valencia"), "ca-..cia");
        assert_eq!(truncate_culture("de-de"), "de-de");
        assert_eq!(truncate_culture("sr-latn-"), "sr-latn-");
    }

    #[test]
    fn design_vectors() {
        let cases = [
            (
                "Microsoft-Windows-VssApi",
                "6.1.7600.20542",
                "amd64",
                "318dad7ab472931d",
            ),
            (
                "Microsoft-Windows-NTFS",
                "6.1.7600.16385",
                "amd64",
                "02661b64369ca03a",
            ),
            (
                "Microsoft-Windows-Lsa",
                "6.1.7600.20667",
                "x86",
                "a6c221e8d72a628b",
            ),
            (
                "Microsoft-Windows-Lsa",
                "6.1.7600.20667",
                "amd64",
                "02e0bd6c8f87d3c1",
            ),
            (
                "Microsoft-Windows-Lsa",
                "6.1.7600.20667",
                "wow64",
                "0d3567bec3e895bc",
            ),
            (
                "Microsoft-Windows-Lsa",
                "6.1.7600.20667",
                "ia64",
                "a6c3c5ded7286b87",
            ),
            (
                "Microsoft-Windows-GroupPolicy-PolicyMaker",
                "6.1.7600.20555",
                "x86",
                "37c9998bc354d271",
            ),
            (
                "Microsoft-Windows-GroupPolicy-PolicyMaker",
                "6.1.7600.20555",
                "amd64",
                "93e8350f7bb243a7",
            ),
            (
                "Microsoft-Windows-GroupPolicy-PolicyMaker",
                "6.1.7600.20555",
                "wow64",
                "9e3cdf61b01305a2",
            ),
            (
                "Microsoft-Windows-GroupPolicy-PolicyMaker",
                "6.1.7600.20555",
                "ia64",
                "37cb3d81c352db6d",
            ),
            (
                "Microsoft-Windows-VssApi",
                "6.1.7600.20541",
                "x86",
                "d56e11acfc160890",
            ),
            (
                "Microsoft-Windows-VssApi",
                "6.1.7600.20541",
                "ia64",
                "d56fb5a2fc14118c",
            ),
            (
                "Microsoft-Windows-VssApi",
                "6.1.7600.20541",
                "wow64",
                "3be15782e8d43bc1",
            ),
            (
                "Microsoft-Windows-VssApi",
                "6.1.7600.20542",
                "wow64",
                "3be257cce8d35518",
            ),
            (
                "Microsoft-Hyper-V-VStack-VMMS",
                "6.1.7600.20542",
                "amd64",
                "933cd6ca919d9d8b",
            ),
            (
                "Microsoft-Hyper-V-Guest-Installer-Win5x-Package",
                "6.1.7600.20542",
                "amd64",
                "2ed3f910bd050e3b",
            ),
            (
                "Microsoft-Hyper-V-Guest-Installer-Win60-Package",
                "6.1.7600.20542",
                "amd64",
                "951fd644ee15dd34",
            ),
        ];
        for (name, version, arch, want) in cases {
            assert_eq!(
                format!("{:016x}", id(name, version, arch).hash()),
                want,
                "{name} {version} {arch}"
            );
        }
    }

    #[test]
    fn keyform_full_and_truncated() {
        assert_eq!(
            id("Microsoft-Windows-VssApi", "6.1.7600.20542", "amd64").keyform(),
            "amd64_microsoft-windows-vssapi_31bf3856ad364e35_6.1.7600.20542_none_318dad7ab472931d"
        );
        assert_eq!(
            id(
                "Microsoft-Hyper-V-Guest-Installer-Win5x-Package",
                "6.1.7600.20542",
                "amd64"
            )
            .keyform(),
            "amd64_microsoft-hyper-v-g..aller-win5x-package_31bf3856ad364e35_6.1.7600.20542_none_2ed3f910bd050e3b"
        );
    }

    #[test]
    fn truncation_counts_characters() {
        let name = format!("é{}ü", "x".repeat(43));
        assert_eq!(name.chars().count(), 45);
        assert_eq!(
            truncate_name(&name),
            format!("é{}..{}ü", "x".repeat(18), "x".repeat(18))
        );
        let fits = "É".repeat(40);
        assert_eq!(truncate_name(&fits), fits);
        let mut id = id(&name, "1.0.0.0", "AMD64");
        id.language = "EN-us".into();
        assert_eq!(
            id.keyform(),
            format!(
                "amd64_é{}..{}ü_31bf3856ad364e35_1.0.0.0_en-us_{:016x}",
                "x".repeat(18),
                "x".repeat(18),
                id.hash()
            )
        );
    }

    #[test]
    fn keyform_parse_round_trip() {
        let k = Keyform::parse(
            "x86_microsoft-windows-s..-spp-plugin-windows_31bf3856ad364e35_6.1.7601.24553_none_141eaac7742fb8e6.manifest",
        )
        .unwrap();
        assert_eq!(k.arch, "x86");
        assert_eq!(k.name, "microsoft-windows-s..-spp-plugin-windows");
        assert_eq!(k.version, "6.1.7601.24553");
        assert_eq!(k.hash, 0x141eaac7742fb8e6);
        assert!(Keyform::parse("update.mum").is_none());
    }
}
