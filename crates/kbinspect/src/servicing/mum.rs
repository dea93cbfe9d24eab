//! `.mum` package manifests (namespace asm.v3).
//!
//! A mum names a package (`<assemblyIdentity>`), the KB it fixes
//! (`<package identifier>`), what it applies to (`<parent>`), the servicing
//! stack it needs (`<installerAssembly>`) and, in `<update>` elements, the
//! components and sub-packages it installs.

use serde::Serialize;

use super::identity::Identity;
use super::xml::{self, Element, XmlError, XmlLimits, is_asm};

/// An applicability parent: the package applies when one of `identities`
/// is installed and the version comparisons hold.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Parent {
    /// `EQ`, `GE`, … on the build part of the version.
    pub build_compare: String,
    /// `EQ`, `GE`, … on the revision part of the version.
    pub service_compare: String,
    pub identities: Vec<Identity>,
}

/// One `<update name>`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Update {
    pub name: String,
    /// `<component><assemblyIdentity/>` references (component or deployment manifests).
    pub components: Vec<Identity>,
    /// `<package><assemblyIdentity/>` references (other mums).
    pub packages: Vec<Identity>,
    /// `<applicable>` … `<updateComponent><assemblyIdentity/>`: installed
    /// components this update applies to.
    pub applicable: Vec<Identity>,
}

/// A parsed `.mum`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Mum {
    pub identity: Identity,
    /// `package identifier`, usually `KB1234567`.
    pub identifier: Option<String>,
    pub release_type: Option<String>,
    pub restart: Option<String>,
    pub parents: Vec<Parent>,
    pub installer_assembly: Option<Identity>,
    pub updates: Vec<Update>,
}

fn err(member: &str, e: &Element, message: impl Into<String>) -> XmlError {
    XmlError::element(member, e, message)
}

/// Parse a mum from its bytes; `member` names it in errors.
pub fn parse(member: &str, bytes: &[u8], limits: &XmlLimits) -> Result<Mum, XmlError> {
    xml::parse_with(member, bytes, limits, |root| from_root(member, root))
}

/// Build a [`Mum`] from a parsed document.
pub fn from_root(member: &str, root: &Element) -> Result<Mum, XmlError> {
    let id_el = xml::assembly_identity(member, root)?;
    let mut mum = Mum {
        identity: Identity::from_element(id_el),
        identifier: None,
        release_type: None,
        restart: None,
        parents: vec![],
        installer_assembly: None,
        updates: vec![],
    };
    let Some(pkg) = root.child("package", is_asm) else {
        return Err(err(member, root, "<assembly> has no <package>"));
    };
    mum.identifier = pkg.attr("identifier").map(str::to_string);
    mum.release_type = pkg.attr("releaseType").map(str::to_string);
    mum.restart = pkg.attr("restart").map(str::to_string);
    for parent in pkg.children_named("parent", is_asm) {
        mum.parents.push(Parent {
            build_compare: parent.attr_or_empty("buildCompare").to_string(),
            service_compare: parent.attr_or_empty("serviceCompare").to_string(),
            identities: parent
                .children_named("assemblyIdentity", is_asm)
                .map(Identity::from_element)
                .collect(),
        });
    }
    mum.installer_assembly = pkg
        .child("installerAssembly", is_asm)
        .map(Identity::from_element);
    for upd in pkg.children_named("update", is_asm) {
        let identities = |kind: &str| -> Vec<Identity> {
            upd.children_named(kind, is_asm)
                .flat_map(|c| c.children_named("assemblyIdentity", is_asm))
                .map(Identity::from_element)
                .collect()
        };
        let applicable = upd
            .children_named("applicable", is_asm)
            .flat_map(|a| a.descendants())
            .filter(|e| e.name == "assemblyIdentity" && is_asm(&e.ns))
            .map(Identity::from_element)
            .collect();
        mum.updates.push(Update {
            name: upd.attr_or_empty("name").to_string(),
            components: identities("component"),
            packages: identities("package"),
            applicable,
        });
    }
    Ok(mum)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MUM: &str = r#"<?xml version="1.0" encoding="utf-8"?>
<assembly xmlns="urn:schemas-microsoft-com:asm.v3" manifestVersion="1.0">
  <assemblyIdentity name="Package_1_for_KB1" version="6.1.1.2" language="neutral" processorArchitecture="x86" publicKeyToken="31bf3856ad364e35" />
  <package identifier="KB1" releaseType="Security Update" restart="possible">
    <parent buildCompare="EQ" serviceCompare="GE">
      <assemblyIdentity name="Foundation" version="6.1.7601.17514" language="neutral" processorArchitecture="x86" publicKeyToken="31bf3856ad364e35" />
    </parent>
    <installerAssembly name="Microsoft-Windows-ServicingStack" version="6.1.7601.24550" language="neutral" processorArchitecture="x86" publicKeyToken="31bf3856ad364e35" />
    <update name="u1">
      <applicable disposition="staged"><updateComponent><assemblyIdentity name="Comp" version="1.0.0.0" processorArchitecture="x86" language="neutral" publicKeyToken="31bf3856ad364e35"/></updateComponent></applicable>
      <component><assemblyIdentity name="0123456789abcdef0123456789abcdef" version="1.0.0.0" processorArchitecture="x86" language="neutral" publicKeyToken="31bf3856ad364e35" /></component>
    </update>
    <update name="u2"><package integrate="hidden"><assemblyIdentity name="Package_2_for_KB1" version="6.1.1.2" language="neutral" processorArchitecture="x86" publicKeyToken="31bf3856ad364e35" /></package></update>
  </package>
</assembly>"#;

    #[test]
    fn reads_everything_a_mum_says() {
        let m = parse("p.mum", MUM.as_bytes(), &XmlLimits::default()).unwrap();
        assert_eq!(m.identity.name, "Package_1_for_KB1");
        assert_eq!(m.identifier.as_deref(), Some("KB1"));
        assert_eq!(m.release_type.as_deref(), Some("Security Update"));
        assert_eq!(m.restart.as_deref(), Some("possible"));
        assert_eq!(m.parents[0].build_compare, "EQ");
        assert_eq!(m.parents[0].service_compare, "GE");
        assert_eq!(m.parents[0].identities[0].name, "Foundation");
        assert_eq!(
            m.installer_assembly.as_ref().unwrap().version,
            "6.1.7601.24550"
        );
        assert_eq!(m.updates.len(), 2);
        assert_eq!(
            m.updates[0].components[0].name,
            "0123456789abcdef0123456789abcdef"
        );
        assert_eq!(m.updates[0].applicable[0].name, "Comp");
        assert_eq!(m.updates[1].packages[0].name, "Package_2_for_KB1");
        assert_eq!(
            m.identity.mum_stem(),
            "Package_1_for_KB1~31bf3856ad364e35~x86~~6.1.1.2"
        );
    }

    #[test]
    fn not_a_mum_is_an_error_with_position() {
        let e = parse("x.mum", b"<foo/>", &XmlLimits::default()).unwrap_err();
        assert_eq!((e.line, e.column), (1, 1));
        assert!(e.message.contains("<foo>"));
    }
}
