//! Executable bodies for downloads: a structurally valid PE32 (MZ header,
//! PE header, three section headers) or ELF32 header, followed by filler.
//! The filler is pseudo-random bytes and strings — never working code.

use super::{SimRng, random_bytes};

/// What kind of file a download carries.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum BodyKind {
    /// A Windows PE32 executable.
    Pe,
    /// A Linux ELF32 executable.
    Elf,
    /// An HTML page.
    Html,
    /// Plain text.
    Text,
}

impl BodyKind {
    /// The scenario-file word for this kind.
    pub fn as_str(self) -> &'static str {
        match self {
            BodyKind::Pe => "pe",
            BodyKind::Elf => "elf",
            BodyKind::Html => "html",
            BodyKind::Text => "text",
        }
    }

    /// Parses a scenario-file word.
    pub fn from_name(s: &str) -> Option<BodyKind> {
        Some(match s {
            "pe" | "exe" => BodyKind::Pe,
            "elf" => BodyKind::Elf,
            "html" => BodyKind::Html,
            "text" | "txt" => BodyKind::Text,
            _ => return None,
        })
    }

    /// True for executables.
    pub fn is_executable(self) -> bool {
        matches!(self, BodyKind::Pe | BodyKind::Elf)
    }

    /// MIME type for HTTP.
    pub fn mime(self) -> &'static str {
        match self {
            BodyKind::Pe => "application/octet-stream",
            BodyKind::Elf => "application/octet-stream",
            BodyKind::Html => "text/html",
            BodyKind::Text => "text/plain",
        }
    }
}

fn le16(v: &mut Vec<u8>, x: u16) {
    v.extend_from_slice(&x.to_le_bytes());
}
fn le32(v: &mut Vec<u8>, x: u32) {
    v.extend_from_slice(&x.to_le_bytes());
}

/// A PE32 file of `size` bytes (rounded up to 1536, the headers plus three
/// 512-byte-aligned sections); `tag` is written into `.rdata` so different
/// files hash differently.
pub fn pe(size: usize, tag: &str, rng: &mut SimRng) -> Vec<u8> {
    let size = size.max(1536).div_ceil(512) * 512;
    let raw = size - 0x400; // bytes after the headers
    let text = (raw / 2).div_ceil(512) * 512;
    let rdata = ((raw - text) / 2).div_ceil(512) * 512;
    let data = raw - text - rdata;
    let mut v = Vec::with_capacity(size);
    // DOS header.
    v.extend_from_slice(b"MZ");
    for w in [0x90u16, 3, 0, 4, 0, 0xffff, 0, 0xb8, 0, 0, 0, 0x40] {
        le16(&mut v, w);
    }
    v.resize(0x3c, 0);
    le32(&mut v, 0x80); // e_lfanew
    v.extend_from_slice(
        b"\0\0\0\0\0\0\0\0\0\0\0\0\0\0This program cannot be run in DOS mode.\r\r\n$",
    );
    v.resize(0x80, 0);
    // PE signature + COFF header.
    v.extend_from_slice(b"PE\0\0");
    le16(&mut v, 0x014c); // i386
    le16(&mut v, 3); // sections
    le32(&mut v, 0x4080_0000); // TimeDateStamp (2004)
    le32(&mut v, 0);
    le32(&mut v, 0);
    le16(&mut v, 0xe0); // SizeOfOptionalHeader
    le16(&mut v, 0x010f); // Characteristics: executable, 32-bit
    // Optional header (PE32).
    le16(&mut v, 0x010b);
    v.extend_from_slice(&[6, 0]); // linker version
    le32(&mut v, text as u32);
    le32(&mut v, (rdata + data) as u32);
    le32(&mut v, 0);
    le32(&mut v, 0x1000); // AddressOfEntryPoint
    le32(&mut v, 0x1000); // BaseOfCode
    le32(&mut v, 0x1000 + (text as u32).div_ceil(0x1000) * 0x1000); // BaseOfData
    le32(&mut v, 0x0040_0000); // ImageBase
    le32(&mut v, 0x1000); // SectionAlignment
    le32(&mut v, 0x200); // FileAlignment
    for w in [4u16, 0, 0, 0, 4, 0] {
        le16(&mut v, w);
    }
    le32(&mut v, 0); // Win32VersionValue
    let vsize = |n: usize| (n as u32).div_ceil(0x1000) * 0x1000;
    le32(&mut v, 0x1000 + vsize(text) + vsize(rdata) + vsize(data)); // SizeOfImage
    le32(&mut v, 0x400); // SizeOfHeaders
    le32(&mut v, 0); // CheckSum
    le16(&mut v, 2); // Subsystem GUI
    le16(&mut v, 0);
    for x in [0x0010_0000u32, 0x1000, 0x0010_0000, 0x1000, 0, 16] {
        le32(&mut v, x);
    }
    v.resize(v.len() + 16 * 8, 0); // data directories
    // Section table.
    let mut ptr = 0x400u32;
    let mut va = 0x1000u32;
    for (name, len, ch) in [
        (b".text\0\0\0", text, 0x6000_0020u32),
        (b".rdata\0\0", rdata, 0x4000_0040),
        (b".data\0\0\0", data, 0xc000_0040),
    ] {
        v.extend_from_slice(name);
        le32(&mut v, len as u32);
        le32(&mut v, va);
        le32(&mut v, len as u32);
        le32(&mut v, ptr);
        le32(&mut v, 0);
        le32(&mut v, 0);
        le32(&mut v, 0);
        le32(&mut v, ch);
        ptr += len as u32;
        va += vsize(len);
    }
    v.resize(0x400, 0);
    // .text: filler (random bytes, not code).
    v.extend_from_slice(&random_bytes(rng, text));
    // .rdata: strings.
    let mut r = format!("{tag}\0KERNEL32.dll\0LoadLibraryA\0GetProcAddress\0").into_bytes();
    r.resize(rdata, 0);
    v.extend_from_slice(&r);
    // .data: zeros and a little noise.
    let mut d = vec![0u8; data];
    let noise = random_bytes(rng, data.min(64));
    d[..noise.len()].copy_from_slice(&noise);
    v.extend_from_slice(&d);
    v
}

/// An ELF32 i386 executable of `size` bytes (at least 84).
pub fn elf(size: usize, tag: &str, rng: &mut SimRng) -> Vec<u8> {
    let size = size.max(128);
    let mut v = Vec::with_capacity(size);
    v.extend_from_slice(&[0x7f, b'E', b'L', b'F', 1, 1, 1, 0]);
    v.resize(16, 0);
    le16(&mut v, 2); // ET_EXEC
    le16(&mut v, 3); // EM_386
    le32(&mut v, 1);
    le32(&mut v, 0x0804_8054); // entry
    le32(&mut v, 52); // phoff
    le32(&mut v, 0); // shoff
    le32(&mut v, 0); // flags
    le16(&mut v, 52);
    le16(&mut v, 32);
    le16(&mut v, 1);
    le16(&mut v, 40);
    le16(&mut v, 0);
    le16(&mut v, 0);
    // PT_LOAD
    le32(&mut v, 1);
    le32(&mut v, 0);
    le32(&mut v, 0x0804_8000);
    le32(&mut v, 0x0804_8000);
    le32(&mut v, size as u32);
    le32(&mut v, size as u32);
    le32(&mut v, 5);
    le32(&mut v, 0x1000);
    v.extend_from_slice(tag.as_bytes());
    v.push(0);
    let fill = size.saturating_sub(v.len());
    v.extend_from_slice(&random_bytes(rng, fill));
    v.truncate(size);
    v
}

/// A body of `kind` and about `size` bytes.
pub fn body(kind: BodyKind, size: usize, tag: &str, rng: &mut SimRng) -> Vec<u8> {
    match kind {
        BodyKind::Pe => pe(size, tag, rng),
        BodyKind::Elf => elf(size, tag, rng),
        BodyKind::Html => super::http::html_page(tag, size),
        BodyKind::Text => {
            let line = format!("{tag}: the quick brown fox jumps over the lazy dog\n");
            line.as_bytes()
                .iter()
                .copied()
                .cycle()
                .take(size.max(1))
                .collect()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn pe_headers_are_consistent() {
        let mut rng = SimRng::seed_from_u64(5);
        let p = pe(28672, "mipsiv", &mut rng);
        assert_eq!(p.len(), 28672);
        assert_eq!(&p[..2], b"MZ");
        let lfanew = u32::from_le_bytes([p[0x3c], p[0x3d], p[0x3e], p[0x3f]]) as usize;
        assert_eq!(&p[lfanew..lfanew + 4], b"PE\0\0");
        assert_eq!(u16::from_le_bytes([p[lfanew + 4], p[lfanew + 5]]), 0x014c);
        assert_eq!(u16::from_le_bytes([p[lfanew + 24], p[lfanew + 25]]), 0x010b);
        // Sections end exactly at the end of the file.
        let st = lfanew + 24 + 0xe0;
        let last = st + 2 * 40;
        let raw =
            u32::from_le_bytes([p[last + 16], p[last + 17], p[last + 18], p[last + 19]]) as usize;
        let ptr =
            u32::from_le_bytes([p[last + 20], p[last + 21], p[last + 22], p[last + 23]]) as usize;
        assert_eq!(raw + ptr, p.len());
        assert_eq!(&p[st..st + 5], b".text");
    }

    #[test]
    fn elf_magic_and_size() {
        let mut rng = SimRng::seed_from_u64(5);
        let e = elf(4096, "x", &mut rng);
        assert_eq!(e.len(), 4096);
        assert_eq!(&e[..4], b"\x7fELF");
    }
}
