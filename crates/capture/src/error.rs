//! Capture errors: operator-facing, one line, naming the file, the byte offset
//! and what was expected.

use std::path::{Path, PathBuf};

/// What went wrong reading a capture.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The file does not start with a capture magic.
    #[error(
        "not a capture file: starts with {}; expected a pcap magic (a1b2c3d4 or a1b23c4d, \
         either byte order), a pcapng section header (0a0d0d0a) or gzip (1f8b)",
        hex(found)
    )]
    NotACapture {
        /// The first bytes found (up to four).
        found: Vec<u8>,
    },
    /// The file (or the decompressed gzip stream) is empty.
    #[error("empty file: expected a pcap or pcapng header")]
    Empty,
    /// The file header is cut short.
    #[error("truncated {what}: {expected} bytes expected, only {remain} remain")]
    TruncatedHeader {
        /// What header.
        what: &'static str,
        /// Bytes it needs.
        expected: u64,
        /// Bytes there are.
        remain: u64,
    },
    /// A pcap record header is cut short.
    #[error("truncated packet record header: {expected} bytes expected, only {remain} remain")]
    TruncatedRecordHeader {
        /// Bytes a record header needs.
        expected: u64,
        /// Bytes there are.
        remain: u64,
    },
    /// A pcap record's data is cut short.
    #[error("truncated packet record: header says {says} bytes, only {remain} remain")]
    TruncatedRecord {
        /// Captured length its header states.
        says: u64,
        /// Bytes there are.
        remain: u64,
    },
    /// A record claims more captured bytes than any capture holds.
    #[error("packet record claims {len} captured bytes; expected at most {max}", max = crate::MAX_CAPLEN)]
    AbsurdCaplen {
        /// Captured length claimed.
        len: u64,
    },
    /// A pcapng block length that is not a multiple of 4 or below the minimum.
    #[error(
        "bad pcapng block length {len} (block type {block_type:#x}): expected a multiple of 4, \
         at least 12"
    )]
    BadBlockLength {
        /// Block type.
        block_type: u32,
        /// Length found.
        len: u64,
    },
    /// A pcapng block whose length runs past the end of the file.
    #[error(
        "truncated pcapng block (type {block_type:#x}): header says {says} bytes, only {remain} \
         remain"
    )]
    TruncatedBlock {
        /// Block type.
        block_type: u32,
        /// Length its header states.
        says: u64,
        /// Bytes there are.
        remain: u64,
    },
    /// A pcapng block whose trailing length differs from the leading one.
    #[error(
        "bad pcapng block (type {block_type:#x}): trailing length {trailing} differs from \
         leading length {leading}"
    )]
    BlockTrailerMismatch {
        /// Block type.
        block_type: u32,
        /// Leading length.
        leading: u64,
        /// Trailing length.
        trailing: u64,
    },
    /// A pcapng block whose body is malformed (too short for its fixed fields,
    /// captured length beyond the block).
    #[error("bad pcapng block (type {block_type:#x}): {detail}")]
    BadBlock {
        /// Block type.
        block_type: u32,
        /// What is wrong and what was expected.
        detail: String,
    },
    /// A pcapng section header with an unknown byte-order magic or version.
    #[error("bad pcapng section header: {detail}")]
    BadSectionHeader {
        /// What is wrong and what was expected.
        detail: String,
    },
    /// A packet block names an interface its section does not describe.
    #[error(
        "packet block refers to interface {id}; expected one of the {count} interfaces its \
         section describes"
    )]
    UnknownInterface {
        /// Interface id.
        id: u32,
        /// Interfaces the section has.
        count: usize,
    },
    /// More interfaces in one section than [`crate::MAX_INTERFACES`].
    #[error("more than {max} interfaces in one pcapng section", max = crate::MAX_INTERFACES)]
    TooManyInterfaces,
    /// The gzip stream is corrupt or ends early.
    #[error("corrupt or truncated gzip stream: {}", one_line(detail))]
    Gzip {
        /// The decompressor's message.
        detail: String,
    },
    /// The decompressed gzip stream exceeds [`crate::MAX_DECOMPRESSED_BYTES`].
    #[error("gzip stream decompresses to more than {max} bytes", max = crate::MAX_DECOMPRESSED_BYTES)]
    GzipTooLarge,
    /// Reading the file (or a directory) failed.
    #[error("I/O error: {}", one_line(&.0.to_string()))]
    Io(std::io::Error),
}

fn hex(b: &[u8]) -> String {
    if b.is_empty() {
        return "nothing".into();
    }
    b.iter()
        .map(|x| format!("{x:02x}"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Keeps a message on one line.
fn one_line(s: &str) -> String {
    s.replace(['\n', '\r'], " ")
}

/// A capture could not be read: the file, the byte offset (in the decompressed
/// stream for gzip) when there is one, and what was expected there. Display is
/// one line: `capture.pcap: byte 1234: truncated packet record: header says
/// 1514 bytes, only 200 remain`.
#[derive(Debug, thiserror::Error)]
#[error("{}: {}{kind}", path.display(), at(*offset))]
pub struct CaptureError {
    path: PathBuf,
    offset: Option<u64>,
    // Not a `#[source]`: Display already includes it, and error-chain printers
    // would repeat it.
    kind: ErrorKind,
}

fn at(offset: Option<u64>) -> String {
    offset.map(|o| format!("byte {o}: ")).unwrap_or_default()
}

impl CaptureError {
    pub(crate) fn new(path: &Path, offset: Option<u64>, kind: ErrorKind) -> Self {
        CaptureError {
            path: path.to_path_buf(),
            offset,
            kind,
        }
    }

    pub(crate) fn at(path: &Path, offset: usize, kind: ErrorKind) -> Self {
        Self::new(path, Some(offset as u64), kind)
    }

    /// The capture file (or input name).
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Byte offset where the problem is, when it has one.
    pub fn offset(&self) -> Option<u64> {
        self.offset
    }

    /// What went wrong.
    pub fn kind(&self) -> &ErrorKind {
        &self.kind
    }

    /// True when the capture ends early (truncated record, block or gzip
    /// stream): every frame before the cut was read, so a run can finish with
    /// a warning.
    pub fn is_truncation(&self) -> bool {
        matches!(
            self.kind,
            ErrorKind::TruncatedRecordHeader { .. }
                | ErrorKind::TruncatedRecord { .. }
                | ErrorKind::TruncatedBlock { .. }
                | ErrorKind::Gzip { .. }
        )
    }
}
