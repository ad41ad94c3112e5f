//! Files carried by protocols: magic detection from the first bytes, incremental
//! SHA-256, size and completeness, and the EVE `fileinfo` record.
//!
//! [`FileTracker`] follows one file (an HTTP body, an FTP data connection, a TFTP
//! transfer or a raw TCP stream) as its bytes arrive. It keeps at most
//! [`MAGIC_WINDOW`] bytes to decide the [`FileMagic`]; once decided, it hashes
//! the file only when the magic is executable (an "egg") or when
//! [`FileConfig::hash_all`] asks for every file — hashing every body would cost
//! throughput for nothing.
//!
//! ```
//! use stormwatch_model::{AppProto, FileMagic};
//! use stormwatch_proto::files::{detect_magic, FileConfig, FileTracker};
//!
//! assert_eq!(detect_magic(b"\x7fELF\x02\x01\x01"), FileMagic::Elf);
//! let mut t = FileTracker::new(AppProto::Http, Some("/a.sh".into()), Some(12), &FileConfig::default());
//! t.update(b"#!/bin/sh\nid");
//! let ev = t.finish(false, Some(0));
//! assert_eq!(ev.magic, FileMagic::Script);
//! assert!(ev.complete && ev.sha256.is_some());
//! ```

use sha2::{Digest, Sha256};
use stormwatch_model::{AppContext, AppProto, AppRecord, FileEvent, FileMagic};

/// Bytes kept from the start of a file to decide its magic (and where the PE
/// header is looked for). Files shorter than this are decided at their end.
pub const MAGIC_WINDOW: usize = 1024;

/// File handling settings shared by the protocols that carry files.
#[derive(Clone, Debug)]
pub struct FileConfig {
    /// Hash every file, not only executables (costs throughput). Default false.
    pub hash_all: bool,
    /// Write an EVE `fileinfo` record for each file that ends. Default true.
    pub log_fileinfo: bool,
}

impl Default for FileConfig {
    fn default() -> Self {
        FileConfig {
            hash_all: false,
            log_fileinfo: true,
        }
    }
}

/// Says what a file's first bytes are. `head` is the start of the file (as many
/// bytes as are known, ideally [`MAGIC_WINDOW`]).
///
/// [`FileMagic::Pe`] covers `MZ` executables: when the header offset `e_lfanew`
/// (at 0x3c) lies inside `head`, a `PE\0\0`, `NE`, `LE` or `LX` signature must be
/// there or the DOS header must look real (header size of at least two
/// paragraphs); when it lies beyond `head`, `MZ` alone decides. Scripts are recognised by a marker at
/// the start (after a byte-order mark and white space): `#!`, `<script`,
/// `@echo off`, PowerShell and VBScript idioms.
pub fn detect_magic(head: &[u8]) -> FileMagic {
    if head.starts_with(b"MZ") {
        return match pe_signature(head) {
            Some(false) => FileMagic::Other,
            _ => FileMagic::Pe,
        };
    }
    if head.starts_with(b"\x7fELF") {
        return FileMagic::Elf;
    }
    if is_macho(head) {
        return FileMagic::MachO;
    }
    if head.starts_with(b"PK\x03\x04") {
        return FileMagic::Zip;
    }
    if head.starts_with(b"\x1f\x8b") {
        return FileMagic::Gzip;
    }
    if head.starts_with(b"%PDF-") {
        return FileMagic::Pdf;
    }
    if is_script(head) {
        return FileMagic::Script;
    }
    FileMagic::Other
}

/// `Some(true)` when a PE/NE/LE/LX signature is where `e_lfanew` says or the
/// DOS header looks real, `Some(false)` when that place is visible and neither
/// holds, `None` when it is not visible.
fn pe_signature(head: &[u8]) -> Option<bool> {
    let off = head.get(0x3c..0x40)?;
    let lfanew = u32::from_le_bytes([off[0], off[1], off[2], off[3]]);
    let start = usize::try_from(lfanew).ok()?;
    let end = start.checked_add(4)?;
    let sig = head.get(start..end)?;
    let header_paragraphs = head
        .get(8..10)
        .map_or(0, |p| u16::from_le_bytes([p[0], p[1]]));
    Some(
        sig == b"PE\0\0"
            || sig.starts_with(b"NE")
            || sig.starts_with(b"LE")
            || sig.starts_with(b"LX")
            || (header_paragraphs >= 2 && lfanew >= 0x40),
    )
}

fn is_macho(head: &[u8]) -> bool {
    let Some(m) = head.get(0..4) else {
        return false;
    };
    match m {
        [0xfe, 0xed, 0xfa, 0xce | 0xcf] | [0xce | 0xcf, 0xfa, 0xed, 0xfe] => true,
        // Fat binaries share 0xcafebabe with Java class files: a fat header's
        // architecture count is small, a class file's version is >= 45.
        [0xca, 0xfe, 0xba, 0xbe] => head
            .get(4..8)
            .map(|n| u32::from_be_bytes([n[0], n[1], n[2], n[3]]))
            .is_some_and(|n| (1..=20).contains(&n)),
        [0xbe, 0xba, 0xfe, 0xca] => true,
        _ => false,
    }
}

fn is_script(head: &[u8]) -> bool {
    let mut s = head.strip_prefix(b"\xef\xbb\xbf").unwrap_or(head);
    while let Some((c, rest)) = s.split_first() {
        if c.is_ascii_whitespace() {
            s = rest;
        } else {
            break;
        }
    }
    if s.starts_with(b"#!") {
        return true;
    }
    const MARKERS: &[&[u8]] = &[
        b"<script",
        b"@echo off",
        b"@echo on",
        b"powershell",
        b"$erroractionpreference",
        b"set-executionpolicy",
        b"invoke-expression",
        b"iex(",
        b"on error resume next",
        b"option explicit",
        b"set objshell",
        b"createobject(",
        b"wscript.",
    ];
    MARKERS.iter().any(|m| starts_with_nocase(s, m))
}

/// ASCII case-insensitive prefix test.
pub(crate) fn starts_with_nocase(s: &[u8], prefix: &[u8]) -> bool {
    s.get(..prefix.len())
        .is_some_and(|p| p.eq_ignore_ascii_case(prefix))
}

/// Follows one file as its bytes arrive: magic, size, optional SHA-256, gaps.
#[derive(Clone, Debug)]
pub struct FileTracker {
    proto: AppProto,
    name: Option<String>,
    declared: Option<u64>,
    hash_all: bool,
    head: Vec<u8>,
    magic: Option<FileMagic>,
    hasher: Option<Sha256>,
    size: u64,
    gap: bool,
}

impl FileTracker {
    /// A new file carried by `proto`, named `name` when the protocol names it,
    /// with `declared` length when the protocol announces one.
    pub fn new(
        proto: AppProto,
        name: Option<String>,
        declared: Option<u64>,
        cfg: &FileConfig,
    ) -> Self {
        FileTracker {
            proto,
            name,
            declared,
            hash_all: cfg.hash_all,
            head: Vec::new(),
            magic: None,
            hasher: None,
            size: 0,
            gap: false,
        }
    }

    /// Bytes seen so far.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The file's name, when known.
    pub fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }

    /// Sets or replaces the name (e.g. when a later header names the file).
    pub fn set_name(&mut self, name: Option<String>) {
        self.name = name;
    }

    /// The magic, once decided (after [`MAGIC_WINDOW`] bytes or at the end).
    pub fn magic(&self) -> Option<FileMagic> {
        self.magic
    }

    /// Adds the next bytes of the file.
    pub fn update(&mut self, data: &[u8]) {
        self.size = self.size.saturating_add(data.len() as u64);
        if self.gap {
            return;
        }
        match self.magic {
            Some(_) => {
                if let Some(h) = self.hasher.as_mut() {
                    h.update(data);
                }
            }
            None => {
                let room = MAGIC_WINDOW.saturating_sub(self.head.len());
                let (first, rest) = data.split_at(room.min(data.len()));
                self.head.extend_from_slice(first);
                if self.head.len() >= MAGIC_WINDOW {
                    self.decide();
                    if let Some(h) = self.hasher.as_mut() {
                        h.update(rest);
                    }
                }
            }
        }
    }

    /// `len` bytes of the file were not seen: the file cannot be complete and
    /// its hash would be wrong, so hashing stops.
    pub fn gap(&mut self, len: u64) {
        if self.magic.is_none() {
            self.decide();
        }
        self.size = self.size.saturating_add(len);
        self.gap = true;
        self.hasher = None;
    }

    fn decide(&mut self) {
        let magic = detect_magic(&self.head);
        self.magic = Some(magic);
        if magic.is_executable() || self.hash_all {
            let mut h = Sha256::new();
            h.update(&self.head);
            self.hasher = Some(h);
        }
        self.head = Vec::new();
    }

    /// Ends the file. `truncated` says the carrier stopped early (connection
    /// closed before the declared end, a limit hit, ...).
    pub fn finish(mut self, truncated: bool, tx_id: Option<u64>) -> FileEvent {
        if self.magic.is_none() {
            self.decide();
        }
        let declared_met = self.declared.is_none_or(|d| d == self.size);
        let complete = !truncated && !self.gap && declared_met;
        let sha256 = if self.gap {
            None
        } else {
            self.hasher.take().map(|h| hex(&h.finalize()))
        };
        FileEvent {
            proto: self.proto,
            name: self.name,
            magic: self.magic.unwrap_or_default(),
            size: self.size,
            sha256,
            complete,
            tx_id,
        }
    }
}

/// Lower-case hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(char::from(DIGITS[usize::from(b >> 4)]));
        s.push(char::from(DIGITS[usize::from(b & 0xf)]));
    }
    s
}

/// The EVE `fileinfo` object for a file (Suricata's field names: `filename`,
/// `magic`, `state` `CLOSED`/`TRUNCATED`, `sha256`, `stored`, `size`,
/// `tx_id`).
pub fn fileinfo_json(ev: &FileEvent) -> serde_json::Value {
    let mut m = serde_json::Map::new();
    m.insert(
        "filename".into(),
        ev.name.clone().unwrap_or_default().into(),
    );
    m.insert("magic".into(), ev.magic.as_str().into());
    m.insert(
        "state".into(),
        if ev.complete { "CLOSED" } else { "TRUNCATED" }.into(),
    );
    if let Some(h) = &ev.sha256 {
        m.insert("sha256".into(), h.clone().into());
    }
    m.insert("stored".into(), false.into());
    m.insert("size".into(), ev.size.into());
    if let Some(t) = ev.tx_id {
        m.insert("tx_id".into(), t.into());
    }
    serde_json::Value::Object(m)
}

/// The EVE `fileinfo` record for a file, with `extra` members next to it (the
/// carrying protocol's object, e.g. `http`).
pub fn fileinfo_record(
    ctx: &AppContext,
    ev: &FileEvent,
    extra: serde_json::Map<String, serde_json::Value>,
) -> AppRecord {
    let mut extra = extra;
    extra.insert("app_proto".into(), ev.proto.as_str().into());
    AppRecord {
        ts: ctx.ts,
        event_type: "fileinfo".into(),
        flow_id: ctx.flow_id,
        key: ctx.key,
        tx_id: ev.tx_id,
        body: fileinfo_json(ev),
        extra,
    }
}

/// Helpers shared by this crate's loggers and parsers.
pub(crate) mod util {
    /// Bytes as a JSON string the way Suricata writes them: valid UTF-8 as is,
    /// otherwise ASCII bytes as characters and other bytes as `\xNN` text.
    pub(crate) fn string_from_bytes(b: &[u8]) -> String {
        match std::str::from_utf8(b) {
            Ok(s) => s.to_owned(),
            Err(_) => {
                let mut out = String::with_capacity(b.len() + 8);
                for &c in b {
                    if c < 0x80 {
                        out.push(char::from(c));
                    } else {
                        out.push_str(&format!("\\x{c:02x}"));
                    }
                }
                out
            }
        }
    }

    /// Trims ASCII white space (SP, HT, CR, LF, VT, FF) from both ends.
    pub(crate) fn trim(mut s: &[u8]) -> &[u8] {
        while let Some((c, rest)) = s.split_first() {
            if c.is_ascii_whitespace() || *c == 0x0b {
                s = rest;
            } else {
                break;
            }
        }
        while let Some((c, rest)) = s.split_last() {
            if c.is_ascii_whitespace() || *c == 0x0b {
                s = rest;
            } else {
                break;
            }
        }
        s
    }

    /// Parses an unsigned decimal number (no sign, no spaces), `None` on
    /// anything else or overflow.
    pub(crate) fn parse_u64(s: &[u8]) -> Option<u64> {
        if s.is_empty() {
            return None;
        }
        let mut v: u64 = 0;
        for &c in s {
            if !c.is_ascii_digit() {
                return None;
            }
            v = v.checked_mul(10)?.checked_add(u64::from(c - b'0'))?;
        }
        Some(v)
    }

    /// Appends `data` to `buf` but never beyond `limit` bytes in total; returns
    /// true when bytes had to be dropped.
    pub(crate) fn push_bounded(buf: &mut Vec<u8>, data: &[u8], limit: usize) -> bool {
        let room = limit.saturating_sub(buf.len());
        if data.len() <= room {
            buf.extend_from_slice(data);
            false
        } else {
            buf.extend_from_slice(&data[..room]);
            true
        }
    }

    /// Splits a byte stream into lines (LF-terminated, a CR before the LF
    /// removed). A line whose LF does not come within the first `limit` bytes
    /// is cut to `limit` bytes (a CR among them is kept) and flagged, and the
    /// rest of it is skipped up to the LF — Suricata's SMTP/FTP line rule.
    #[derive(Clone, Debug, Default)]
    pub(crate) struct LineReader {
        buf: Vec<u8>,
        overflow: bool,
    }

    impl LineReader {
        /// Takes the next complete line from `input` (or buffers a partial one).
        /// Returns the bytes of `input` consumed and, when a line completed, the
        /// line (without terminator) and whether it was cut at `limit`.
        pub(crate) fn take<'a>(
            &'a mut self,
            input: &'a [u8],
            limit: usize,
        ) -> (usize, Option<(&'a [u8], bool)>) {
            match memchr::memchr(b'\n', input) {
                Some(i) => {
                    let piece = &input[..i];
                    if self.buf.is_empty() && !self.overflow {
                        let cut = piece.len() >= limit;
                        let line = if cut {
                            &piece[..limit]
                        } else {
                            strip_cr(piece)
                        };
                        (i + 1, Some((line, cut)))
                    } else {
                        let cut = self.overflow || self.buf.len() + piece.len() >= limit;
                        push_bounded(&mut self.buf, piece, limit);
                        self.overflow = false;
                        // Cleared by `done` once the caller has used the line.
                        let line: &[u8] = &self.buf;
                        let line = if cut { line } else { strip_cr(line) };
                        (i + 1, Some((line, cut)))
                    }
                }
                None => {
                    if push_bounded(&mut self.buf, input, limit) || self.buf.len() >= limit {
                        self.overflow = true;
                    }
                    (input.len(), None)
                }
            }
        }

        /// Forgets the line taken from the buffer (call after using it).
        pub(crate) fn done(&mut self) {
            self.buf.clear();
        }

        /// Drops any partial line (after a gap).
        pub(crate) fn reset(&mut self) {
            self.buf.clear();
            self.overflow = false;
        }

        /// The partial line held so far.
        pub(crate) fn pending(&self) -> &[u8] {
            &self.buf
        }
    }

    fn strip_cr(l: &[u8]) -> &[u8] {
        l.strip_suffix(b"\r").unwrap_or(l)
    }

    /// Decodes a hex string (test vectors).
    #[cfg(test)]
    pub(crate) fn unhex(s: &str) -> Vec<u8> {
        let b = s.as_bytes();
        b.chunks(2)
            .map(|p| {
                let v = |c: u8| (c as char).to_digit(16).expect("hex digit") as u8;
                (v(p[0]) << 4) | v(p[1])
            })
            .collect()
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn string_from_bytes_follows_suricata() {
            assert_eq!(string_from_bytes(b"abc"), "abc");
            assert_eq!(string_from_bytes("é".as_bytes()), "é");
            assert_eq!(
                string_from_bytes(b"VACKD\x03\xc5\xe9\x01"),
                "VACKD\u{3}\\xc5\\xe9\u{1}"
            );
        }

        #[test]
        fn numbers_and_trim() {
            assert_eq!(parse_u64(b"18070"), Some(18070));
            assert_eq!(parse_u64(b""), None);
            assert_eq!(parse_u64(b"1a"), None);
            assert_eq!(parse_u64(b"99999999999999999999999"), None);
            assert_eq!(trim(b" \t x y \r\n"), b"x y");
            let mut v = Vec::new();
            assert!(!push_bounded(&mut v, b"abc", 4));
            assert!(push_bounded(&mut v, b"de", 4));
            assert_eq!(v, b"abcd");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pe(lfanew: u32, len: usize) -> Vec<u8> {
        let mut v = vec![0u8; len];
        v[0] = b'M';
        v[1] = b'Z';
        v[0x3c..0x40].copy_from_slice(&lfanew.to_le_bytes());
        let l = lfanew as usize;
        if l + 4 <= len {
            v[l..l + 4].copy_from_slice(b"PE\0\0");
        }
        v
    }

    #[test]
    fn magic_kinds() {
        assert_eq!(detect_magic(&pe(0x80, 512)), FileMagic::Pe);
        // Header offset beyond what is visible: MZ alone decides.
        assert_eq!(detect_magic(&pe(0x4000, 512)), FileMagic::Pe);
        // Visible header offset that does not hold the signature: not PE.
        let mut bad = pe(0x80, 512);
        bad[0x80] = b'X';
        assert_eq!(detect_magic(&bad), FileMagic::Other);
        // A 16-bit NE executable (MSVIDEO.DLL in zeek-pe-pe.pcap).
        let mut ne = pe(0x80, 512);
        ne[0x80..0x84].copy_from_slice(b"NE\x05\x3c");
        assert_eq!(detect_magic(&ne), FileMagic::Pe);
        assert_eq!(detect_magic(b"MZ"), FileMagic::Pe);
        assert_eq!(detect_magic(b"\x7fELF\x01"), FileMagic::Elf);
        assert_eq!(detect_magic(b"\xcf\xfa\xed\xfe\x07"), FileMagic::MachO);
        assert_eq!(
            detect_magic(b"\xca\xfe\xba\xbe\x00\x00\x00\x02"),
            FileMagic::MachO
        );
        // A Java class file (major version 52) is not a fat Mach-O.
        assert_eq!(
            detect_magic(b"\xca\xfe\xba\xbe\x00\x00\x00\x34"),
            FileMagic::Other
        );
        assert_eq!(detect_magic(b"PK\x03\x04rest"), FileMagic::Zip);
        assert_eq!(detect_magic(b"\x1f\x8b\x08"), FileMagic::Gzip);
        assert_eq!(detect_magic(b"%PDF-1.4"), FileMagic::Pdf);
        assert_eq!(detect_magic(b"#!/bin/sh\n"), FileMagic::Script);
        assert_eq!(detect_magic(b"\xef\xbb\xbf  <SCRIPT>"), FileMagic::Script);
        assert_eq!(detect_magic(b"@ECHO OFF\r\n"), FileMagic::Script);
        assert_eq!(detect_magic(b"powershell -enc AAAA"), FileMagic::Script);
        assert_eq!(detect_magic(b"On Error Resume Next\n"), FileMagic::Script);
        assert_eq!(detect_magic(b"<html><script>"), FileMagic::Other);
        assert_eq!(detect_magic(b""), FileMagic::Other);
    }

    #[test]
    fn tracker_hashes_executables_only() {
        let cfg = FileConfig::default();
        let body = pe(0x40, 3000);
        let mut t = FileTracker::new(AppProto::Http, None, Some(3000), &cfg);
        for c in body.chunks(7) {
            t.update(c);
        }
        let ev = t.finish(false, Some(1));
        assert_eq!(ev.magic, FileMagic::Pe);
        assert_eq!(ev.size, 3000);
        assert!(ev.complete);
        let want = hex(&Sha256::digest(&body));
        assert_eq!(ev.sha256.as_deref(), Some(want.as_str()));

        let mut t = FileTracker::new(AppProto::Http, None, None, &cfg);
        t.update(b"<html>hello</html>");
        let ev = t.finish(false, None);
        assert_eq!(ev.magic, FileMagic::Other);
        assert_eq!(ev.sha256, None);

        let all = FileConfig {
            hash_all: true,
            ..FileConfig::default()
        };
        let mut t = FileTracker::new(AppProto::Http, None, None, &all);
        t.update(b"abc");
        let ev = t.finish(false, None);
        assert_eq!(
            ev.sha256.as_deref(),
            Some("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        );
    }

    #[test]
    fn tracker_completeness() {
        let cfg = FileConfig::default();
        let mut t = FileTracker::new(AppProto::Ftp, None, Some(10), &cfg);
        t.update(b"\x7fELF");
        let ev = t.finish(false, None);
        assert!(!ev.complete, "declared length not met");

        let mut t = FileTracker::new(AppProto::Ftp, None, None, &cfg);
        t.update(b"\x7fELF");
        t.gap(10);
        t.update(b"more");
        let ev = t.finish(false, None);
        assert!(!ev.complete);
        assert_eq!(ev.size, 18);
        assert_eq!(ev.sha256, None);
        assert_eq!(ev.magic, FileMagic::Elf);

        let mut t = FileTracker::new(AppProto::Ftp, None, None, &cfg);
        t.update(b"\x7fELF");
        assert!(!t.finish(true, None).complete);
    }

    #[test]
    fn fileinfo_fields() {
        let ev = FileEvent {
            proto: AppProto::Http,
            name: Some("/x.exe".into()),
            magic: FileMagic::Pe,
            size: 5,
            sha256: Some("ab".into()),
            complete: true,
            tx_id: Some(0),
        };
        let j = fileinfo_json(&ev);
        assert_eq!(j["filename"], "/x.exe");
        assert_eq!(j["state"], "CLOSED");
        assert_eq!(j["stored"], false);
        assert_eq!(j["size"], 5);
        assert_eq!(j["tx_id"], 0);
        assert_eq!(j["magic"], "pe");
    }
}
