//! A writer of minimal, valid PE images with a version resource.
//!
//! Layout: DOS header and stub, `PE\0\0`, COFF header, optional header
//! (PE32 for i386, PE32+ for amd64 and ia64), two sections: `.text`
//! (a short stub with x86 `call rel32` opcodes so the LZX E8 translation has
//! something to do, then zero filler) and `.rsrc` (one RT_VERSION resource,
//! ID 1, language 0x0409). The `.text` raw size is chosen so the file is
//! exactly the documented size; the PE checksum is filled in.

/// `IMAGE_FILE_HEADER.Machine` values used by Windows 7 packages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
pub enum Machine {
    I386,
    Amd64,
    Ia64,
}

impl Machine {
    pub fn code(self) -> u16 {
        match self {
            Machine::I386 => 0x014c,
            Machine::Amd64 => 0x8664,
            Machine::Ia64 => 0x0200,
        }
    }

    fn is_pe32_plus(self) -> bool {
        !matches!(self, Machine::I386)
    }
}

/// What the image says about itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeSpec<'a> {
    pub machine: Machine,
    /// Four-part version, `6.1.7600.20542`.
    pub version: [u16; 4],
    /// Original file name, e.g. `vssapi.dll`; `.exe` makes an application.
    pub file_name: &'a str,
    pub description: &'a str,
    /// Build-lab suffix of the FileVersion string, `win7_ldr.091006-0634`.
    pub build_lab: &'a str,
    pub timestamp: u32,
    /// Exact output size, at least [`min_size`]. Bytes beyond the last
    /// multiple of 512 become an overlay after `.rsrc`.
    pub size: usize,
}

const FILE_ALIGN: usize = 0x200;
const SECTION_ALIGN: u32 = 0x1000;
const HEADERS_SIZE: usize = 0x400;
const PE_OFFSET: usize = 0x80;
const RT_VERSION: u32 = 16;
const VS_VERSION_INFO_ID: u32 = 1;
const LANG_EN_US: u32 = 0x0409;

fn align(n: usize, a: usize) -> usize {
    n.div_ceil(a) * a
}

fn put_u16(buf: &mut [u8], at: usize, v: u16) {
    buf[at..at + 2].copy_from_slice(&v.to_le_bytes());
}

fn put_u32(buf: &mut [u8], at: usize, v: u32) {
    buf[at..at + 4].copy_from_slice(&v.to_le_bytes());
}

fn put_u64(buf: &mut [u8], at: usize, v: u64) {
    buf[at..at + 8].copy_from_slice(&v.to_le_bytes());
}

fn utf16z(s: &str) -> Vec<u8> {
    s.encode_utf16()
        .chain(std::iter::once(0))
        .flat_map(u16::to_le_bytes)
        .collect()
}

fn pad4(buf: &mut Vec<u8>) {
    while !buf.len().is_multiple_of(4) {
        buf.push(0);
    }
}

/// One node of a version resource: `wLength wValueLength wType szKey pad
/// Value pad Children`. `value_len` is in bytes for binary values and in
/// WCHARs for text values, as the format wants.
fn version_node(
    key: &str,
    value: &[u8],
    value_len: u16,
    text: bool,
    children: &[Vec<u8>],
) -> Vec<u8> {
    let mut n = vec![0u8; 6];
    put_u16(&mut n, 2, value_len);
    put_u16(&mut n, 4, u16::from(text));
    n.extend_from_slice(&utf16z(key));
    pad4(&mut n);
    n.extend_from_slice(value);
    for c in children {
        pad4(&mut n);
        n.extend_from_slice(c);
    }
    let len = n.len() as u16;
    put_u16(&mut n, 0, len);
    n
}

fn string_node(key: &str, value: &str) -> Vec<u8> {
    let v = utf16z(value);
    version_node(key, &v, (v.len() / 2) as u16, true, &[])
}

/// The bytes of a VS_VERSIONINFO resource.
pub fn version_resource(spec: &PeSpec) -> Vec<u8> {
    let [a, b, c, d] = spec.version.map(u32::from);
    let ms = (a << 16) | b;
    let ls = (c << 16) | d;
    let is_exe = spec.file_name.to_ascii_lowercase().ends_with(".exe");
    let mut fixed = Vec::with_capacity(52);
    for v in [
        0xFEEF_04BDu32, // signature
        0x0001_0000,    // structure version
        ms,
        ls,
        ms,
        ls,
        0x3F,                       // file flags mask
        0,                          // file flags
        0x0004_0004,                // VOS_NT_WINDOWS32
        if is_exe { 1 } else { 2 }, // VFT_APP / VFT_DLL
        0,                          // subtype
        0,                          // date MS
        0,                          // date LS
    ] {
        fixed.extend_from_slice(&v.to_le_bytes());
    }
    let dotted = format!("{a}.{b}.{c}.{d}");
    let file_version = format!("{dotted} ({})", spec.build_lab);
    let strings = [
        string_node("CompanyName", "Microsoft Corporation"),
        string_node("FileDescription", spec.description),
        string_node("FileVersion", &file_version),
        string_node("InternalName", spec.file_name),
        string_node(
            "LegalCopyright",
            "\u{a9} Microsoft Corporation. All rights reserved.",
        ),
        string_node("OriginalFilename", spec.file_name),
        string_node(
            "ProductName",
            "Microsoft\u{ae} Windows\u{ae} Operating System",
        ),
        string_node("ProductVersion", &dotted),
    ];
    let table = version_node("040904B0", &[], 0, true, &strings);
    let sfi = version_node("StringFileInfo", &[], 0, true, &[table]);
    let translation = (0x04B0u32 << 16 | LANG_EN_US).to_le_bytes();
    let var = version_node("Translation", &translation, 4, false, &[]);
    let vfi = version_node("VarFileInfo", &[], 0, true, &[var]);
    version_node("VS_VERSION_INFO", &fixed, 52, false, &[sfi, vfi])
}

/// The `.rsrc` section body (directory tree + data) placed at `rva`.
fn resource_section(version: &[u8], rva: u32) -> Vec<u8> {
    // Three one-entry directories (type, name, language), then the data
    // entry, then the data.
    let mut s = vec![0u8; 0x58];
    let dir = |s: &mut Vec<u8>, at: usize, id: u32, target: u32| {
        put_u16(s, at + 14, 1); // NumberOfIdEntries
        put_u32(s, at + 16, id);
        put_u32(s, at + 20, target);
    };
    dir(&mut s, 0x00, RT_VERSION, 0x8000_0000 | 0x18);
    dir(&mut s, 0x18, VS_VERSION_INFO_ID, 0x8000_0000 | 0x30);
    dir(&mut s, 0x30, LANG_EN_US, 0x48);
    put_u32(&mut s, 0x48, rva + 0x58);
    put_u32(&mut s, 0x4C, version.len() as u32);
    s.extend_from_slice(version);
    s
}

/// A code stub for `.text`: `mov eax, 1`, a run of `call rel32` (E8) to
/// the stub's own `ret`, and the return sequence. Deterministic.
fn text_stub(machine: Machine) -> Vec<u8> {
    if machine == Machine::Ia64 {
        // IA-64 bundles are not x86 code; a zeroed bundle is a valid nop-free
        // placeholder, and real IA-64 images contain E8 bytes only by chance.
        return vec![0u8; 16];
    }
    let calls = 32usize;
    let mut t = vec![0xB8, 1, 0, 0, 0]; // mov eax, 1
    let ret_at = t.len() + calls * 5;
    for _ in 0..calls {
        let next = t.len() + 5;
        let rel = ret_at as i32 + 5 - next as i32;
        t.push(0xE8);
        t.extend_from_slice(&rel.to_le_bytes());
    }
    t.push(0xB8);
    t.extend_from_slice(&1u32.to_le_bytes());
    if machine == Machine::I386 {
        t.extend_from_slice(&[0xC2, 0x0C, 0x00]); // ret 12 (DllMain, stdcall)
    } else {
        t.push(0xC3);
    }
    t
}

/// Smallest image [`build`] can produce for this spec.
pub fn min_size(spec: &PeSpec) -> usize {
    let rsrc = 0x58 + version_resource(spec).len();
    HEADERS_SIZE + FILE_ALIGN + align(rsrc, FILE_ALIGN)
}

/// The PE checksum (`imagehlp!CheckSumMappedFile`): one's-complement-style
/// 16-bit sum of the image with the checksum field as zero, plus the length.
pub fn pe_checksum(image: &[u8], checksum_offset: usize) -> u32 {
    let mut sum: u64 = 0;
    for (i, pair) in image.chunks(2).enumerate() {
        let at = i * 2;
        if at == checksum_offset || at == checksum_offset + 2 {
            continue;
        }
        let w = u16::from_le_bytes([pair[0], *pair.get(1).unwrap_or(&0)]) as u64;
        sum += w;
        sum = (sum & 0xFFFF) + (sum >> 16);
    }
    sum = (sum & 0xFFFF) + (sum >> 16);
    (sum as u32).wrapping_add(image.len() as u32)
}

/// Build the image, or `None` if `spec.size` is below [`min_size`].
pub fn build(spec: &PeSpec) -> Option<Vec<u8>> {
    if spec.size < min_size(spec) {
        return None;
    }
    let body = spec.size - spec.size % FILE_ALIGN;
    let plus = spec.machine.is_pe32_plus();
    let opt_size: usize = if plus { 240 } else { 224 };
    let sections_at = PE_OFFSET + 4 + 20 + opt_size;

    let version = version_resource(spec);
    let rsrc_raw = align(0x58 + version.len(), FILE_ALIGN);
    let text_raw = body - HEADERS_SIZE - rsrc_raw;
    let text_rva = SECTION_ALIGN;
    let text_vsize = text_raw as u32;
    let rsrc_rva = text_rva + align(text_raw, SECTION_ALIGN as usize) as u32;
    let rsrc = resource_section(&version, rsrc_rva);
    let image_size = rsrc_rva + align(rsrc.len(), SECTION_ALIGN as usize) as u32;

    let mut img = vec![0u8; spec.size];
    // DOS header and the classic stub.
    img[0..2].copy_from_slice(b"MZ");
    put_u16(&mut img, 0x02, 0x90);
    put_u16(&mut img, 0x04, 3);
    put_u16(&mut img, 0x08, 4);
    put_u16(&mut img, 0x0C, 0xFFFF);
    put_u16(&mut img, 0x10, 0xB8);
    put_u16(&mut img, 0x18, 0x40);
    put_u32(&mut img, 0x3C, PE_OFFSET as u32);
    let stub: &[u8] = b"\x0e\x1f\xba\x0e\x00\xb4\x09\xcd\x21\xb8\x01\x4c\xcd\x21This program cannot be run in DOS mode.\r\r\n$";
    img[0x40..0x40 + stub.len()].copy_from_slice(stub);

    // COFF header.
    img[PE_OFFSET..PE_OFFSET + 4].copy_from_slice(b"PE\0\0");
    let coff = PE_OFFSET + 4;
    let is_exe = spec.file_name.to_ascii_lowercase().ends_with(".exe");
    put_u16(&mut img, coff, spec.machine.code());
    put_u16(&mut img, coff + 2, 2); // sections
    put_u32(&mut img, coff + 4, spec.timestamp);
    put_u16(&mut img, coff + 16, opt_size as u16);
    let mut characteristics: u16 = 0x0002; // EXECUTABLE_IMAGE
    characteristics |= if plus { 0x0020 } else { 0x0100 }; // LARGE_ADDRESS_AWARE / 32BIT_MACHINE
    if !is_exe {
        characteristics |= 0x2000; // DLL
    }
    put_u16(&mut img, coff + 18, characteristics);

    // Optional header.
    let o = coff + 20;
    put_u16(&mut img, o, if plus { 0x20B } else { 0x10B });
    img[o + 2] = 9; // linker 9.0, as Windows 7 was built
    put_u32(&mut img, o + 4, text_raw as u32); // SizeOfCode
    put_u32(&mut img, o + 8, rsrc_raw as u32); // SizeOfInitializedData
    put_u32(&mut img, o + 16, text_rva); // AddressOfEntryPoint
    put_u32(&mut img, o + 20, text_rva); // BaseOfCode
    let image_base: u64 = if plus { 0x1_8000_0000 } else { 0x1000_0000 };
    let tail = if plus {
        put_u64(&mut img, o + 24, image_base);
        o + 24 + 8
    } else {
        put_u32(&mut img, o + 24, rsrc_rva); // BaseOfData
        put_u32(&mut img, o + 28, image_base as u32);
        o + 32
    };
    put_u32(&mut img, tail, SECTION_ALIGN);
    put_u32(&mut img, tail + 4, FILE_ALIGN as u32);
    put_u16(&mut img, tail + 8, 6); // OS version 6.1
    put_u16(&mut img, tail + 10, 1);
    put_u16(&mut img, tail + 12, 6); // image version 6.1
    put_u16(&mut img, tail + 14, 1);
    put_u16(&mut img, tail + 16, 6); // subsystem version 6.1
    put_u16(&mut img, tail + 18, 1);
    put_u32(&mut img, tail + 24, image_size);
    put_u32(&mut img, tail + 28, HEADERS_SIZE as u32);
    let checksum_at = tail + 32;
    put_u16(&mut img, tail + 36, if is_exe { 2 } else { 3 }); // GUI / console
    put_u16(&mut img, tail + 38, 0x0140); // DYNAMIC_BASE | NX_COMPAT
    let (stack_heap_at, rva_count_at) = if plus {
        let s = tail + 40;
        put_u64(&mut img, s, 0x4_0000);
        put_u64(&mut img, s + 8, 0x1000);
        put_u64(&mut img, s + 16, 0x10_0000);
        put_u64(&mut img, s + 24, 0x1000);
        (s, s + 36)
    } else {
        let s = tail + 40;
        put_u32(&mut img, s, 0x4_0000);
        put_u32(&mut img, s + 4, 0x1000);
        put_u32(&mut img, s + 8, 0x10_0000);
        put_u32(&mut img, s + 12, 0x1000);
        (s, s + 20)
    };
    let _ = stack_heap_at;
    put_u32(&mut img, rva_count_at, 16);
    let dirs = rva_count_at + 4;
    // Data directory 2: resources.
    put_u32(&mut img, dirs + 2 * 8, rsrc_rva);
    put_u32(&mut img, dirs + 2 * 8 + 4, rsrc.len() as u32);
    debug_assert_eq!(dirs + 16 * 8, sections_at);

    // Section headers.
    let section = |img: &mut Vec<u8>,
                   at: usize,
                   name: &[u8],
                   vsize: u32,
                   rva: u32,
                   raw: usize,
                   raw_at: usize,
                   chars: u32| {
        img[at..at + name.len()].copy_from_slice(name);
        put_u32(img, at + 8, vsize);
        put_u32(img, at + 12, rva);
        put_u32(img, at + 16, raw as u32);
        put_u32(img, at + 20, raw_at as u32);
        put_u32(img, at + 36, chars);
    };
    section(
        &mut img,
        sections_at,
        b".text",
        text_vsize,
        text_rva,
        text_raw,
        HEADERS_SIZE,
        0x6000_0020,
    );
    let rsrc_at = HEADERS_SIZE + text_raw;
    section(
        &mut img,
        sections_at + 40,
        b".rsrc",
        rsrc.len() as u32,
        rsrc_rva,
        rsrc_raw,
        rsrc_at,
        0x4000_0040,
    );

    let stub = text_stub(spec.machine);
    img[HEADERS_SIZE..HEADERS_SIZE + stub.len()].copy_from_slice(&stub);
    img[rsrc_at..rsrc_at + rsrc.len()].copy_from_slice(&rsrc);

    let sum = pe_checksum(&img, checksum_at);
    put_u32(&mut img, checksum_at, sum);
    Some(img)
}

/// A minimal i386 DLL whose only resource is type 614, name 1 holding
/// `payload` — the shape of `wcp.dll`, which carries the base manifest of
/// `DCM\x01` manifests. For tests: the real wcp.dll is Microsoft's.
pub fn wcp_with_base(payload: &[u8]) -> Vec<u8> {
    // The section's raw data grows with the payload (file alignment 0x200).
    let raw = (0x60 + payload.len()).div_ceil(0x200) * 0x200;
    let mut b = vec![0u8; 0x200 + raw];
    let put16 = |b: &mut Vec<u8>, o: usize, v: u16| b[o..o + 2].copy_from_slice(&v.to_le_bytes());
    let put32 = |b: &mut Vec<u8>, o: usize, v: u32| b[o..o + 4].copy_from_slice(&v.to_le_bytes());
    b[0..2].copy_from_slice(b"MZ");
    put32(&mut b, 0x3C, 0x40);
    b[0x40..0x44].copy_from_slice(b"PE\0\0");
    let coff = 0x44;
    put16(&mut b, coff, 0x14C);
    put16(&mut b, coff + 2, 1);
    put16(&mut b, coff + 16, 0xE0);
    put16(&mut b, coff + 18, 0x2102);
    let opt = coff + 20;
    put16(&mut b, opt, 0x10B);
    put32(&mut b, opt + 28, 0x1000_0000);
    put32(&mut b, opt + 32, 0x1000);
    put32(&mut b, opt + 36, 0x200);
    put16(&mut b, opt + 40, 6);
    put16(&mut b, opt + 48, 6);
    put32(
        &mut b,
        opt + 56,
        (0x1000 + raw.div_ceil(0x1000) * 0x1000) as u32,
    );
    put32(&mut b, opt + 60, 0x200);
    put16(&mut b, opt + 68, 2);
    put32(&mut b, opt + 92, 16);
    put32(&mut b, opt + 96 + 16, 0x1000); // resource directory RVA
    put32(&mut b, opt + 96 + 20, 0x60 + payload.len() as u32);
    let sh = opt + 0xE0;
    b[sh..sh + 5].copy_from_slice(b".rsrc");
    put32(&mut b, sh + 8, raw as u32);
    put32(&mut b, sh + 12, 0x1000);
    put32(&mut b, sh + 16, raw as u32);
    put32(&mut b, sh + 20, 0x200);
    put32(&mut b, sh + 36, 0x4000_0040);
    let r = 0x200;
    // type directory → name directory → language directory → data entry
    put16(&mut b, r + 14, 1);
    put32(&mut b, r + 16, 614);
    put32(&mut b, r + 20, 0x8000_0018);
    put16(&mut b, r + 0x18 + 14, 1);
    put32(&mut b, r + 0x18 + 16, 1);
    put32(&mut b, r + 0x18 + 20, 0x8000_0030);
    put16(&mut b, r + 0x30 + 14, 1);
    put32(&mut b, r + 0x30 + 16, 0x409);
    put32(&mut b, r + 0x30 + 20, 0x48);
    put32(&mut b, r + 0x48, 0x1060);
    put32(&mut b, r + 0x48 + 4, payload.len() as u32);
    b[r + 0x60..r + 0x60 + payload.len()].copy_from_slice(payload);
    b
}

#[cfg(test)]
mod tests {
    use super::*;
    use pelite::pe32::Pe as _;
    use pelite::pe64::Pe as _;

    fn spec(machine: Machine, size: usize) -> PeSpec<'static> {
        PeSpec {
            machine,
            version: [6, 1, 7600, 20542],
            file_name: "vssapi.dll",
            description: "Microsoft\u{ae} Volume Shadow Copy Requestor/Writer Services API DLL",
            build_lab: "win7_ldr.091006-0634",
            timestamp: 1_254_810_840,
            size,
        }
    }

    #[test]
    fn pe32_version_resource_reads_back() {
        let img = build(&spec(Machine::I386, 16_896)).unwrap();
        assert_eq!(img.len(), 16_896);
        let pe = pelite::pe32::PeFile::from_bytes(&img).unwrap();
        assert_eq!(pe.file_header().Machine, 0x14c);
        let vi = pe.resources().unwrap().version_info().unwrap();
        let f = vi.fixed().unwrap();
        // pelite names the low word of the LS dword `Build`, the high `Patch`.
        let v = f.dwFileVersion;
        assert_eq!((v.Major, v.Minor, v.Patch, v.Build), (6, 1, 7600, 20542));
        let lang = pelite::resources::version_info::Language {
            lang_id: 0x0409,
            charset_id: 0x04B0,
        };
        let mut names = Vec::new();
        vi.strings(lang, |k, v| names.push(format!("{k}={v}")));
        assert!(
            names.iter().any(|s| s == "OriginalFilename=vssapi.dll"),
            "{names:?}"
        );
    }

    #[test]
    fn pe32_plus_for_amd64_and_ia64() {
        for m in [Machine::Amd64, Machine::Ia64] {
            let img = build(&spec(m, 76_800)).unwrap();
            let pe = pelite::pe64::PeFile::from_bytes(&img).unwrap();
            assert_eq!(pe.file_header().Machine, m.code());
            let vi = pe.resources().unwrap().version_info().unwrap();
            assert_eq!(vi.fixed().unwrap().dwFileVersion.Build, 20542);
        }
    }

    #[test]
    fn odd_sizes_get_an_overlay_tiny_sizes_fail() {
        let img = build(&spec(Machine::I386, 16_897)).unwrap();
        assert_eq!(img.len(), 16_897);
        let pe = pelite::pe32::PeFile::from_bytes(&img).unwrap();
        assert!(pe.resources().unwrap().version_info().is_ok());
        assert!(build(&spec(Machine::I386, 1024)).is_none());
    }
}
