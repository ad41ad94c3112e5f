//! Opening a capture: gzip detection, memory map, format detection.

use crate::error::{CaptureError, ErrorKind};
use crate::frames::Frames;
use crate::{MAX_DECOMPRESSED_BYTES, pcap, pcapng};
use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};
use stormwatch_model::LinkType;

/// The container format of a capture.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Format {
    /// Legacy pcap.
    Pcap {
        /// Big-endian headers.
        big_endian: bool,
        /// Nanosecond timestamps (magic a1b23c4d) instead of microseconds.
        nanos: bool,
        /// Link type of every frame (FCS bits masked off).
        link_type: LinkType,
        /// Snapshot length from the header.
        snaplen: u32,
        /// Record header length: 16, or 24 for the "modified" (Kuznetzov)
        /// format (magic a1b2cd34).
        record_header_len: usize,
    },
    /// pcapng (sections, interfaces and packet blocks).
    Pcapng,
}

/// The bytes of a capture: a read-only memory map, or memory (gzip, stdin, tests).
enum Bytes {
    Map(memmap2::Mmap),
    Owned(Vec<u8>),
}

impl Bytes {
    fn as_slice(&self) -> &[u8] {
        match self {
            Bytes::Map(m) => m,
            Bytes::Owned(v) => v,
        }
    }
}

/// An open capture file (pcap or pcapng, possibly gzip-compressed).
///
/// Frames are read zero-copy: [`CaptureFile::frames`] yields [`RawFrame`]s that
/// borrow the memory map (or the decompressed bytes).
///
/// [`RawFrame`]: stormwatch_model::RawFrame
pub struct CaptureFile {
    path: PathBuf,
    bytes: Bytes,
    format: Format,
    gzip: bool,
    /// A gzip stream that ended early or was corrupt: the bytes decompressed
    /// before the problem are kept; the error is reported after their frames.
    gzip_error: Option<String>,
}

/// The capture's (decompressed) bytes; frames are slices of them.
impl AsRef<[u8]> for CaptureFile {
    fn as_ref(&self) -> &[u8] {
        self.bytes()
    }
}

impl std::fmt::Debug for CaptureFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CaptureFile")
            .field("path", &self.path)
            .field("len", &self.len())
            .field("format", &self.format)
            .field("gzip", &self.gzip)
            .finish()
    }
}

const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

/// Decompresses a whole gzip stream (several members allowed), keeping what
/// was decompressed before an error.
fn gunzip(path: &Path, input: impl Read) -> Result<(Vec<u8>, Option<String>), CaptureError> {
    let mut out = Vec::new();
    let limit = MAX_DECOMPRESSED_BYTES + 1;
    let mut dec = flate2::read::MultiGzDecoder::new(input).take(limit);
    let err = dec.read_to_end(&mut out).err().map(|e| e.to_string());
    if out.len() as u64 > MAX_DECOMPRESSED_BYTES {
        return Err(CaptureError::new(path, None, ErrorKind::GzipTooLarge));
    }
    if let (true, Some(detail)) = (out.is_empty(), &err) {
        let detail = detail.clone();
        return Err(CaptureError::new(path, None, ErrorKind::Gzip { detail }));
    }
    Ok((out, err))
}

impl CaptureFile {
    /// Opens a capture: pcap, pcapng, or either compressed with gzip, detected
    /// by magic (not by extension). Plain files are memory-mapped; gzip files
    /// are decompressed into memory.
    ///
    /// The file must not be modified or truncated while it is open (the map
    /// would change under the reader; on most systems truncation raises
    /// SIGBUS). Captures being written are read safely only after they are
    /// complete.
    pub fn open(path: &Path) -> Result<CaptureFile, CaptureError> {
        let io = |e| CaptureError::new(path, None, ErrorKind::Io(e));
        let mut file = File::open(path).map_err(io)?;
        let meta = file.metadata().map_err(io)?;
        if meta.is_dir() {
            return Err(io(std::io::Error::new(
                std::io::ErrorKind::IsADirectory,
                "is a directory; expected a capture file",
            )));
        }
        if meta.len() == 0 {
            // Empty files cannot be mapped.
            return Err(CaptureError::new(path, Some(0), ErrorKind::Empty));
        }
        let mut head = [0u8; 2];
        let n = file.read(&mut head).map_err(io)?;
        if n == 2 && head == GZIP_MAGIC {
            let file = File::open(path).map_err(io)?;
            let (bytes, gzip_error) = gunzip(path, std::io::BufReader::new(file))?;
            return Self::build(path, Bytes::Owned(bytes), true, gzip_error);
        }
        let map = map(&file).map_err(io)?;
        // Sequential reads: ask the kernel for aggressive read-ahead (advisory).
        #[cfg(unix)]
        let _ = map.advise(memmap2::Advice::Sequential);
        Self::build(path, Bytes::Map(map), false, None)
    }

    /// A capture held in memory (tests, stdin); `name` stands for the path in
    /// errors. Gzip-compressed bytes are decompressed.
    pub fn from_bytes(name: &str, bytes: Vec<u8>) -> Result<CaptureFile, CaptureError> {
        let path = Path::new(name);
        if bytes.starts_with(&GZIP_MAGIC) {
            let (bytes, gzip_error) = gunzip(path, bytes.as_slice())?;
            return Self::build(path, Bytes::Owned(bytes), true, gzip_error);
        }
        Self::build(path, Bytes::Owned(bytes), false, None)
    }

    fn build(
        path: &Path,
        bytes: Bytes,
        gzip: bool,
        gzip_error: Option<String>,
    ) -> Result<CaptureFile, CaptureError> {
        let format = detect(path, bytes.as_slice())?;
        Ok(CaptureFile {
            path: path.to_path_buf(),
            bytes,
            format,
            gzip,
            gzip_error,
        })
    }

    /// Iterates the frames in file order. `file_index` is recorded in each
    /// frame's origin. After an error the iterator ends; every frame before it
    /// was yielded.
    pub fn frames(&self, file_index: u32) -> Frames<'_> {
        Frames::new(self, file_index)
    }

    /// Size in bytes (decompressed), for progress.
    pub fn len(&self) -> u64 {
        self.bytes.as_slice().len() as u64
    }

    /// True when the capture holds no bytes (never, for an opened file).
    pub fn is_empty(&self) -> bool {
        self.bytes.as_slice().is_empty()
    }

    /// The path it was opened from (or the name given to `from_bytes`).
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Container format.
    pub fn format(&self) -> Format {
        self.format
    }

    /// True when the file was gzip-compressed.
    pub fn is_gzip(&self) -> bool {
        self.gzip
    }

    /// The raw-read floor: walks only the record (block) headers, without
    /// building frames, and returns (records, captured bytes). Stops quietly at
    /// the first malformed record. A benchmark baseline: no reader can be
    /// faster than this loop over the same bytes. It touches every cache line and
    /// maps the file through the same resident window as [`CaptureFile::frames`]
    /// (see [`crate::RESIDENT_WINDOW`]), so with a cold page cache it reads the disk
    /// the way the reader does.
    pub fn walk_records(&self) -> (u64, u64) {
        let mut window = crate::frames::Window::default();
        match self.format {
            Format::Pcap {
                big_endian,
                record_header_len,
                ..
            } => pcap::walk(self.bytes(), big_endian, record_header_len, |pos| {
                window.advance(self, pos)
            }),
            Format::Pcapng => pcapng::walk(self.bytes(), |pos| window.advance(self, pos)),
        }
    }

    pub(crate) fn bytes(&self) -> &[u8] {
        self.bytes.as_slice()
    }

    /// Tells the kernel that the mapped bytes `[from, to)` were read and may leave this
    /// process's resident set (they stay in the page cache; touching them again maps
    /// them back, with the same contents). No-op for in-memory captures and off Unix.
    pub(crate) fn release(&self, from: usize, to: usize) {
        #[cfg(unix)]
        if let (Bytes::Map(m), true) = (&self.bytes, from < to && to <= self.len_usize()) {
            drop_resident(m, from, to - from);
        }
        #[cfg(not(unix))]
        let _ = (from, to);
    }

    /// Asks the kernel to map `[from, to)` now, in one call, instead of page fault by
    /// page fault as the reader reaches it (advisory; errors are ignored). No-op for
    /// in-memory captures and off Linux.
    pub(crate) fn populate(&self, from: usize, to: usize) {
        #[cfg(target_os = "linux")]
        if let (Bytes::Map(m), true) = (&self.bytes, from < to && to <= self.len_usize()) {
            let _ = m.advise_range(memmap2::Advice::PopulateRead, from, to - from);
        }
        #[cfg(not(target_os = "linux"))]
        let _ = (from, to);
    }

    /// Asks the kernel to start reading `[from, to)` into the page cache without
    /// waiting for it (advisory; errors are ignored). No-op for in-memory captures and
    /// off Unix.
    pub(crate) fn will_need(&self, from: usize, to: usize) {
        #[cfg(unix)]
        if let (Bytes::Map(m), true) = (&self.bytes, from < to && to <= self.len_usize()) {
            let _ = m.advise_range(memmap2::Advice::WillNeed, from, to - from);
        }
        #[cfg(not(unix))]
        let _ = (from, to);
    }

    fn len_usize(&self) -> usize {
        self.bytes.as_slice().len()
    }

    pub(crate) fn gzip_error(&self) -> Option<&str> {
        self.gzip_error.as_deref()
    }
}

/// Maps a file read-only.
#[allow(unsafe_code)]
fn map(file: &File) -> std::io::Result<memmap2::Mmap> {
    // SAFETY: the map is read-only and private to this process. Mapping is
    // unsafe because another process could modify or truncate the file while it
    // is mapped, which would change bytes under live `&[u8]` borrows (or raise
    // SIGBUS on truncation). The crate documents that captures must not be
    // modified while open; every read of the bytes is bounds-checked against
    // the length taken at mapping time, so no other invariant depends on them.
    unsafe { memmap2::Mmap::map(file) }
}

/// Detects the format from the first bytes.
/// `MADV_DONTNEED` on `len` bytes of a read-only file map from `offset` (advisory;
/// errors are ignored).
#[cfg(unix)]
#[allow(unsafe_code)]
fn drop_resident(map: &memmap2::Mmap, offset: usize, len: usize) {
    // SAFETY: `memmap2` marks `DontNeed` unsafe because on a private *writable* map
    // it discards the process's modified copies of pages, so live borrows could see
    // their bytes change. This map is read-only and file-backed (`MAP_SHARED`,
    // `PROT_READ`, never written): the advice only unmaps the pages from this
    // process, they stay in the page cache, and the next access faults the same
    // file bytes back in. Every `&[u8]` borrowed from the map therefore keeps its
    // contents; the only remaining hazard is the one `map` documents (another
    // process modifying or truncating the file).
    let _ = unsafe { map.unchecked_advise_range(memmap2::UncheckedAdvice::DontNeed, offset, len) };
}

fn detect(path: &Path, b: &[u8]) -> Result<Format, CaptureError> {
    if b.is_empty() {
        return Err(CaptureError::new(path, Some(0), ErrorKind::Empty));
    }
    let magic: Vec<u8> = b.iter().take(4).copied().collect();
    if let Some(f) = pcap::detect(path, b)? {
        return Ok(f);
    }
    if magic == pcapng::SHB_MAGIC {
        pcapng::check_first_section(path, b)?;
        return Ok(Format::Pcapng);
    }
    Err(CaptureError::new(
        path,
        Some(0),
        ErrorKind::NotACapture { found: magic },
    ))
}
