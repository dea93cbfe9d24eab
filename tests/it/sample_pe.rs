//! The sample PE writer's checksum against real Microsoft binaries from the
//! corpus, and its images against pelite.

use crate::common;

use kbinspect_testkit::pe;
use pelite::pe32::Pe as _;

/// Offset of `OptionalHeader.CheckSum` (same in PE32 and PE32+).
fn checksum_offset(image: &[u8]) -> usize {
    let e_lfanew = u32::from_le_bytes(image[0x3C..0x40].try_into().unwrap()) as usize;
    e_lfanew + 4 + 20 + 64
}

/// `pe_checksum` reproduces the CheckSum field of real, linker-checksummed
/// Windows binaries.
#[test]
fn checksum_matches_real_binaries() {
    let dir = corpus_or_skip!("msdelta-vectors/deltas/sources");
    let mut checked = 0;
    for name in [
        "notepad.exe",
        "cmd.exe",
        "where.exe",
        "advapi32_old.dll",
        "advapi32_new.dll",
    ] {
        let Ok(image) = std::fs::read(dir.join(name)) else {
            continue;
        };
        let at = checksum_offset(&image);
        let stored = u32::from_le_bytes(image[at..at + 4].try_into().unwrap());
        if stored == 0 {
            continue;
        }
        assert_eq!(pe::pe_checksum(&image, at), stored, "{name}");
        checked += 1;
    }
    assert!(checked >= 3, "only {checked} checksummed binaries found");
}

/// Generated images carry a correct checksum and the requested layout.
#[test]
fn generated_images_are_consistent() {
    for (machine, size) in [
        (pe::Machine::I386, 16_896usize),
        (pe::Machine::Amd64, 1_746_944),
        (pe::Machine::Ia64, 31_232),
    ] {
        let spec = pe::PeSpec {
            machine,
            version: [6, 1, 7600, 16385],
            file_name: "eventcls.dll",
            description: "test",
            build_lab: "win7_rtm.090713-1255",
            timestamp: 1_247_534_100,
            size,
        };
        let image = pe::build(&spec).unwrap();
        assert_eq!(image.len(), size);
        let at = checksum_offset(&image);
        let stored = u32::from_le_bytes(image[at..at + 4].try_into().unwrap());
        assert_eq!(pe::pe_checksum(&image, at), stored);
        let machine_field = u16::from_le_bytes(image[0x84..0x86].try_into().unwrap());
        assert_eq!(machine_field, machine.code());
        if machine == pe::Machine::I386 {
            let pe = pelite::pe32::PeFile::from_bytes(&image).unwrap();
            let sections: Vec<String> = pe
                .section_headers()
                .iter()
                .map(|s| String::from_utf8_lossy(s.name_bytes()).into_owned())
                .collect();
            assert_eq!(sections, [".text", ".rsrc"]);
            assert_eq!(pe.file_header().TimeDateStamp, 1_247_534_100);
        }
    }
}
