//! The file tables of KB975354, transcribed from the Dutch article
//! (`testdata/KB975354-nl.txt`, section "Bestandsinformatie" and the
//! "Aanvullende bestandsinformatie" tables).
//!
//! The article capitalises the first letter of every name ("Vssapi.dll",
//! "Amd64_microsoft-…"); `name` holds the name as the package ships it
//! (lower case for Windows binaries and keyforms), `documented` the
//! article's spelling. Which component owns each file is not in the article:
//! the assignment below follows the component names and the manifest dates
//! (each manifest is dated right after the files it lists).

use super::cabwrite::DosDateTime as T;

/// Which of the article's three sections (and which package) a row is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
pub enum Arch {
    X86,
    X64,
    Ia64,
}

impl Arch {
    pub const ALL: [Arch; 3] = [Arch::X86, Arch::X64, Arch::Ia64];

    /// `processorArchitecture` of the package.
    pub fn processor_architecture(self) -> &'static str {
        match self {
            Arch::X86 => "x86",
            Arch::X64 => "amd64",
            Arch::Ia64 => "ia64",
        }
    }

    /// The suffix in download names: `Windows6.1-KB975354-x64.msu`.
    pub fn file_suffix(self) -> &'static str {
        match self {
            Arch::X86 => "x86",
            Arch::X64 => "x64",
            Arch::Ia64 => "ia64",
        }
    }
}

/// A component of the update (one manifest).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ComponentRow {
    pub section: Arch,
    pub name: &'static str,
    pub version: &'static str,
    /// `processorArchitecture` of the component (`wow64` for 32-bit
    /// components of a 64-bit package).
    pub arch: &'static str,
    /// Manifest file as the additional-files table lists it.
    pub documented: &'static str,
    pub manifest_size: u64,
    pub manifest_time: T,
}

/// A row of a "Bestandsinformatie" table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileRow {
    pub section: Arch,
    /// Index into [`COMPONENTS`] of the owning component.
    pub component: usize,
    pub name: &'static str,
    pub documented: &'static str,
    /// `None` = "Niet van toepassing".
    pub version: Option<&'static str>,
    pub size: u64,
    pub time: T,
    /// The Platform column: `x86`, `x64`, `IA-64`, or `None` (N/A).
    pub platform: Option<&'static str>,
    /// x86 rows inside a 64-bit section (the Itanium table says "WOW").
    pub wow64: bool,
}

/// The package mum rows of the additional-files tables.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MumRow {
    pub section: Arch,
    pub documented: &'static str,
    pub version: &'static str,
    pub size: u64,
    pub time: T,
}

const VSS: &str = "Microsoft-Windows-VssApi";

pub const COMPONENTS: &[ComponentRow] = &[
    // 0
    ComponentRow {
        section: Arch::X86,
        name: VSS,
        version: "6.1.7600.20541",
        arch: "x86",
        documented: "X86_microsoft-windows-vssapi_31bf3856ad364e35_6.1.7600.20541_none_d56e11acfc160890.manifest",
        manifest_size: 12_389,
        manifest_time: T::new(2009, 10, 5, 8, 44),
    },
    // 1
    ComponentRow {
        section: Arch::X64,
        name: "Microsoft-Hyper-V-Guest-Installer-Win5x-Package",
        version: "6.1.7600.20542",
        arch: "amd64",
        documented: "Amd64_microsoft-hyper-v-g..aller-win5x-package_31bf3856ad364e35_6.1.7600.20542_none_2ed3f910bd050e3b.manifest",
        manifest_size: 2_273,
        manifest_time: T::new(2009, 10, 6, 7, 9),
    },
    // 2
    ComponentRow {
        section: Arch::X64,
        name: "Microsoft-Hyper-V-Guest-Installer-Win60-Package",
        version: "6.1.7600.20542",
        arch: "amd64",
        documented: "Amd64_microsoft-hyper-v-g..aller-win60-package_31bf3856ad364e35_6.1.7600.20542_none_951fd644ee15dd34.manifest",
        manifest_size: 3_369,
        manifest_time: T::new(2009, 10, 6, 7, 28),
    },
    // 3
    ComponentRow {
        section: Arch::X64,
        name: "Microsoft-Hyper-V-VStack-VMMS",
        version: "6.1.7600.20542",
        arch: "amd64",
        documented: "Amd64_microsoft-hyper-v-vstack-vmms_31bf3856ad364e35_6.1.7600.20542_none_933cd6ca919d9d8b.manifest",
        manifest_size: 316_002,
        manifest_time: T::new(2009, 10, 6, 7, 0),
    },
    // 4
    ComponentRow {
        section: Arch::X64,
        name: VSS,
        version: "6.1.7600.20542",
        arch: "amd64",
        documented: "Amd64_microsoft-windows-vssapi_31bf3856ad364e35_6.1.7600.20542_none_318dad7ab472931d.manifest",
        manifest_size: 12_393,
        manifest_time: T::new(2009, 10, 6, 16, 8),
    },
    // 5
    ComponentRow {
        section: Arch::X64,
        name: VSS,
        version: "6.1.7600.20542",
        arch: "wow64",
        documented: "Wow64_microsoft-windows-vssapi_31bf3856ad364e35_6.1.7600.20542_none_3be257cce8d35518.manifest",
        manifest_size: 11_453,
        manifest_time: T::new(2009, 10, 6, 16, 8),
    },
    // 6
    ComponentRow {
        section: Arch::Ia64,
        name: VSS,
        version: "6.1.7600.20541",
        arch: "ia64",
        documented: "Ia64_microsoft-windows-vssapi_31bf3856ad364e35_6.1.7600.20541_none_d56fb5a2fc14118c.manifest",
        manifest_size: 12_391,
        manifest_time: T::new(2009, 10, 5, 8, 39),
    },
    // 7
    ComponentRow {
        section: Arch::Ia64,
        name: VSS,
        version: "6.1.7600.20541",
        arch: "wow64",
        documented: "Wow64_microsoft-windows-vssapi_31bf3856ad364e35_6.1.7600.20541_none_3be15782e8d43bc1.manifest",
        manifest_size: 11_453,
        manifest_time: T::new(2009, 10, 5, 8, 39),
    },
];

const XML: &str = "75dfb225-e2e4-4d39-9ac9-ffaff65ddf06.xml";

#[allow(clippy::too_many_arguments)] // one argument per table column
const fn row(
    section: Arch,
    component: usize,
    name: &'static str,
    documented: &'static str,
    version: Option<&'static str>,
    size: u64,
    time: T,
    platform: Option<&'static str>,
    wow64: bool,
) -> FileRow {
    FileRow {
        section,
        component,
        name,
        documented,
        version,
        size,
        time,
        platform,
        wow64,
    }
}

const RTM: Option<&str> = Some("6.1.7600.16385");
const V41: Option<&str> = Some("6.1.7600.20541");
const V42: Option<&str> = Some("6.1.7600.20542");

/// All rows of the three "Bestandsinformatie" tables, in article order
/// (x86: 4 rows, x64: 11 rows with the last 3 WOW64, Itanium: 7 rows with
/// the last 3 WOW64).
#[rustfmt::skip]
pub const FILES: &[FileRow] = &[
    row(Arch::X86, 0, XML, XML, None, 2_776, T::new(2009, 6, 10, 21, 47), None, false),
    row(Arch::X86, 0, "eventcls.dll", "Eventcls.dll", RTM, 16_896, T::new(2009, 7, 14, 1, 15), Some("x86"), false),
    row(Arch::X86, 0, "vssapi.dll", "Vssapi.dll", V41, 1_124_352, T::new(2009, 10, 5, 5, 51), Some("x86"), false),
    row(Arch::X86, 0, "vsstrace.dll", "Vsstrace.dll", V41, 56_320, T::new(2009, 10, 5, 5, 51), Some("x86"), false),

    row(Arch::X64, 1, "Windows5.x-hypervintegrationservices-x64.msi", "Windows5.x-hypervintegrationservices-x64.msi", None, 1_456_640, T::new(2009, 10, 6, 6, 46), None, false),
    row(Arch::X64, 2, "Windows6.0-hypervintegrationservices-x64.cab", "Windows6.0-hypervintegrationservices-x64.cab", None, 448_507, T::new(2009, 10, 6, 7, 15), None, false),
    row(Arch::X64, 2, "Windows6.1-hypervintegrationservices-x64.cab", "Windows6.1-hypervintegrationservices-x64.cab", None, 448_019, T::new(2009, 10, 6, 7, 27), None, false),
    row(Arch::X64, 3, "vmms.exe", "Vmms.exe", V42, 4_499_968, T::new(2009, 10, 6, 3, 5), Some("x64"), false),
    row(Arch::X64, 4, XML, XML, None, 2_776, T::new(2009, 6, 10, 21, 8), None, false),
    row(Arch::X64, 4, "eventcls.dll", "Eventcls.dll", RTM, 16_384, T::new(2009, 7, 14, 1, 40), Some("x64"), false),
    row(Arch::X64, 4, "vssapi.dll", "Vssapi.dll", V42, 1_746_944, T::new(2009, 10, 6, 6, 34), Some("x64"), false),
    row(Arch::X64, 4, "vsstrace.dll", "Vsstrace.dll", V42, 76_800, T::new(2009, 10, 6, 6, 34), Some("x64"), false),
    row(Arch::X64, 5, "eventcls.dll", "Eventcls.dll", RTM, 16_896, T::new(2009, 7, 14, 1, 15), Some("x86"), true),
    row(Arch::X64, 5, "vssapi.dll", "Vssapi.dll", V42, 1_124_352, T::new(2009, 10, 6, 6, 7), Some("x86"), true),
    row(Arch::X64, 5, "vsstrace.dll", "Vsstrace.dll", V42, 56_320, T::new(2009, 10, 6, 6, 7), Some("x86"), true),

    row(Arch::Ia64, 6, XML, XML, None, 2_776, T::new(2009, 6, 10, 21, 14), None, false),
    row(Arch::Ia64, 6, "eventcls.dll", "Eventcls.dll", RTM, 31_232, T::new(2009, 7, 14, 1, 46), Some("IA-64"), false),
    row(Arch::Ia64, 6, "vssapi.dll", "Vssapi.dll", V41, 2_506_752, T::new(2009, 10, 5, 4, 57), Some("IA-64"), false),
    row(Arch::Ia64, 6, "vsstrace.dll", "Vsstrace.dll", V41, 123_904, T::new(2009, 10, 5, 4, 57), Some("IA-64"), false),
    row(Arch::Ia64, 7, "eventcls.dll", "Eventcls.dll", RTM, 16_896, T::new(2009, 7, 14, 1, 15), Some("x86"), true),
    row(Arch::Ia64, 7, "vssapi.dll", "Vssapi.dll", V41, 1_124_352, T::new(2009, 10, 5, 5, 51), Some("x86"), true),
    row(Arch::Ia64, 7, "vsstrace.dll", "Vsstrace.dll", V41, 56_320, T::new(2009, 10, 5, 5, 51), Some("x86"), true),
];

pub const MUMS: &[MumRow] = &[
    MumRow {
        section: Arch::X86,
        documented: "Package_for_kb975354_rtm~31bf3856ad364e35~x86~~6.1.1.0.mum",
        version: "6.1.1.0",
        size: 1_947,
        time: T::new(2009, 10, 5, 8, 39),
    },
    MumRow {
        section: Arch::X64,
        documented: "Package_for_kb975354_rtm~31bf3856ad364e35~amd64~~6.1.2.0.mum",
        version: "6.1.2.0",
        size: 2_945,
        time: T::new(2009, 10, 6, 16, 8),
    },
    MumRow {
        section: Arch::Ia64,
        documented: "Package_for_kb975354_rtm~31bf3856ad364e35~ia64~~6.1.1.0.mum",
        version: "6.1.1.0",
        size: 1_958,
        time: T::new(2009, 10, 5, 8, 39),
    },
];

/// The additional-files rows of one section, as (documented name, size):
/// 2 rows for x86, 6 for x64, 3 for Itanium.
pub fn additional_files(section: Arch) -> Vec<(&'static str, u64)> {
    let mut rows: Vec<(&'static str, u64)> = COMPONENTS
        .iter()
        .filter(|c| c.section == section)
        .map(|c| (c.documented, c.manifest_size))
        .chain(
            MUMS.iter()
                .filter(|m| m.section == section)
                .map(|m| (m.documented, m.size)),
        )
        .collect();
    // The article sorts each table by name.
    rows.sort_by_key(|(n, _)| n.to_ascii_lowercase());
    rows
}
