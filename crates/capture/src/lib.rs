//! # Overview
//!
//! `stormwatch-capture` reads capture files — legacy pcap (either byte order,
//! µs or ns timestamps), pcapng (several sections and interfaces, enhanced,
//! simple and obsolete packet blocks) and either of them gzip-compressed —
//! and yields their frames zero-copy.
//!
//! Primary types:
//! - [`CaptureFile`] — an open capture: [`CaptureFile::open`] memory-maps the
//!   file (gzip is decompressed into memory); [`CaptureFile::frames`] iterates
//!   [`RawFrame`]s that borrow the bytes.
//! - [`Frames`] — that iterator; it yields `Result<RawFrame, CaptureError>` and
//!   ends after the first error, so a truncated capture yields every frame
//!   before the cut and then one error.
//! - [`CaptureError`] — an operator-facing error naming the file, the byte
//!   offset and what was expected, displayed on one line.
//! - [`expand_inputs`] — turns directories into the capture files inside them.
//!
//! ```
//! use stormwatch_capture::CaptureFile;
//! // A little-endian µs pcap (Ethernet) with one 4-byte record.
//! let mut b = vec![0xd4, 0xc3, 0xb2, 0xa1, 2, 0, 4, 0];
//! b.extend([0; 8]);
//! b.extend(65535u32.to_le_bytes());
//! b.extend(1u32.to_le_bytes());
//! for v in [1_000_000_000u32, 250_000, 4, 60] {
//!     b.extend(v.to_le_bytes());
//! }
//! b.extend([1, 2, 3, 4]);
//! let cap = CaptureFile::from_bytes("example.pcap", b).unwrap();
//! let frames: Vec<_> = cap.frames(0).collect::<Result<_, _>>().unwrap();
//! assert_eq!(frames.len(), 1);
//! assert_eq!(frames[0].data, &[1, 2, 3, 4]);
//! assert_eq!(frames[0].orig_len, 60);
//! assert_eq!(frames[0].ts.subsec_micros(), 250_000);
//! ```
//!
//! # Safety
//!
//! Memory-mapping a file (and releasing pages already read from that read-only
//! map, see [`RESIDENT_WINDOW`]) are the `unsafe` calls in the crate, with the
//! cache-line prefetch hint of the read-ahead (which never touches memory as the
//! program sees it): the file must
//! not be modified or truncated while a [`CaptureFile`] is open (the bytes
//! would change under the reader, and truncation can raise SIGBUS). Read
//! captures that are still being written only after they are complete, or
//! pipe them in (`from_bytes`).
#![deny(unsafe_code)]

mod error;
mod file;
mod frames;
mod inputs;
mod pcap;
mod pcapng;

pub use error::{CaptureError, ErrorKind};
pub use file::{CaptureFile, Format};
pub use frames::{Frames, RESIDENT_WINDOW};
pub use inputs::{MAX_DIR_DEPTH, expand_inputs};
pub use stormwatch_model::{FrameOrigin, LinkType, RawFrame, Timestamp};

/// Largest captured length accepted for one record (Wireshark's limit for
/// ordinary link types); a larger claim is an error, not an allocation.
pub const MAX_CAPLEN: u32 = 262_144;

/// Interfaces accepted per pcapng section.
pub const MAX_INTERFACES: usize = 65_536;

/// Largest decompressed size accepted for a gzip-compressed capture (it is
/// held in memory): 16 GiB.
pub const MAX_DECOMPRESSED_BYTES: u64 = 16 << 30;
