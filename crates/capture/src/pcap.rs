//! Legacy pcap: a 24-byte file header, then records of a 16-byte header
//! (seconds, fraction, captured length, wire length) and the captured bytes.

use crate::MAX_CAPLEN;
use crate::error::{CaptureError, ErrorKind};
use crate::file::Format;
use crate::frames::touch_ahead;
use std::path::Path;
use stormwatch_model::{FrameOrigin, LinkType, RawFrame, Timestamp};

/// File header length.
pub(crate) const HEADER_LEN: usize = 24;

/// Magic numbers as they appear in the file: (bytes, big-endian, nanos, record
/// header length).
const MAGICS: [([u8; 4], bool, bool, usize); 6] = [
    ([0xd4, 0xc3, 0xb2, 0xa1], false, false, 16),
    ([0xa1, 0xb2, 0xc3, 0xd4], true, false, 16),
    ([0x4d, 0x3c, 0xb2, 0xa1], false, true, 16),
    ([0xa1, 0xb2, 0x3c, 0x4d], true, true, 16),
    // "Modified" pcap (Alexey Kuznetzov's patches): 8 more bytes per record.
    ([0x34, 0xcd, 0xb2, 0xa1], false, false, 24),
    ([0xa1, 0xb2, 0xcd, 0x34], true, false, 24),
];

#[inline(always)]
fn u32_at(b: &[u8; 16], i: usize, be: bool) -> u32 {
    let x = [b[i], b[i + 1], b[i + 2], b[i + 3]];
    if be {
        u32::from_be_bytes(x)
    } else {
        u32::from_le_bytes(x)
    }
}

/// The pcap format when `b` starts with a pcap magic.
pub(crate) fn detect(path: &Path, b: &[u8]) -> Result<Option<Format>, CaptureError> {
    let Some(&(_, big_endian, nanos, record_header_len)) =
        MAGICS.iter().find(|(m, ..)| b.starts_with(m))
    else {
        return Ok(None);
    };
    let Some(h) = b.first_chunk::<HEADER_LEN>() else {
        return Err(CaptureError::at(
            path,
            0,
            ErrorKind::TruncatedHeader {
                what: "pcap file header",
                expected: HEADER_LEN as u64,
                remain: b.len() as u64,
            },
        ));
    };
    let tail: &[u8; 16] = h.last_chunk::<16>().unwrap_or(&[0; 16]);
    // tail = thiszone(4) sigfigs(4) snaplen(4) network(4)
    let snaplen = u32_at(tail, 8, big_endian);
    let network = u32_at(tail, 12, big_endian);
    Ok(Some(Format::Pcap {
        big_endian,
        nanos,
        // The upper bits carry the FCS length; the link type is the low 16 bits.
        link_type: LinkType(network & 0xffff),
        snaplen,
        record_header_len,
    }))
}

/// Reader state for a pcap file.
pub(crate) struct PcapReader {
    pub(crate) big_endian: bool,
    pub(crate) nanos: bool,
    pub(crate) link_type: LinkType,
    pub(crate) record_header_len: usize,
}

impl PcapReader {
    /// Reads the record at `*pos`; `Ok(None)` at the end of the data.
    #[inline(always)]
    pub(crate) fn next<'a>(
        &self,
        path: &Path,
        data: &'a [u8],
        pos: &mut usize,
        file: u32,
    ) -> Result<Option<RawFrame<'a>>, CaptureError> {
        let start = *pos;
        let rest = data.get(start..).unwrap_or_default();
        if rest.is_empty() {
            return Ok(None);
        }
        let Some(h) = rest.first_chunk::<16>() else {
            return Err(self.short_header(path, start, rest.len()));
        };
        let be = self.big_endian;
        let secs = u32_at(h, 0, be);
        let frac = u32_at(h, 4, be);
        let caplen = u32_at(h, 8, be);
        let orig_len = u32_at(h, 12, be);
        if caplen > MAX_CAPLEN {
            return Err(CaptureError::at(
                path,
                start,
                ErrorKind::AbsurdCaplen {
                    len: u64::from(caplen),
                },
            ));
        }
        // caplen <= 256 KiB: the sum cannot overflow.
        let data_start = self.record_header_len;
        let data_end = data_start + caplen as usize;
        let Some(frame) = rest.get(data_start..data_end) else {
            if rest.len() < data_start {
                return Err(self.short_header(path, start, rest.len()));
            }
            return Err(CaptureError::at(
                path,
                start,
                ErrorKind::TruncatedRecord {
                    says: u64::from(caplen),
                    remain: (rest.len() - data_start) as u64,
                },
            ));
        };
        *pos = start + data_end;
        let ts = if self.nanos {
            Timestamp::from_secs_nanos(i64::from(secs), frac)
        } else {
            Timestamp::from_secs_micros(i64::from(secs), frac)
        };
        Ok(Some(RawFrame {
            ts,
            link_type: self.link_type,
            data: frame,
            orig_len,
            origin: FrameOrigin {
                file,
                offset: start as u64,
            },
        }))
    }

    fn short_header(&self, path: &Path, start: usize, remain: usize) -> CaptureError {
        CaptureError::at(
            path,
            start,
            ErrorKind::TruncatedRecordHeader {
                expected: self.record_header_len as u64,
                remain: remain as u64,
            },
        )
    }
}

/// The raw-read floor over a pcap: record headers only (with the iterator's
/// read-ahead).
pub(crate) fn walk(
    data: &[u8],
    big_endian: bool,
    record_header_len: usize,
    at: impl FnMut(usize),
) -> (u64, u64) {
    if big_endian {
        walk_order::<true>(data, record_header_len, at)
    } else {
        walk_order::<false>(data, record_header_len, at)
    }
}

fn walk_order<const BE: bool>(
    data: &[u8],
    record_header_len: usize,
    mut at: impl FnMut(usize),
) -> (u64, u64) {
    let mut pos = HEADER_LEN;
    let mut ahead = pos;
    let (mut records, mut bytes) = (0u64, 0u64);
    while let Some(h) = data.get(pos..).and_then(|r| r.first_chunk::<16>()) {
        let caplen = u32_at(h, 8, BE);
        if caplen > MAX_CAPLEN {
            break;
        }
        let next = pos + record_header_len + caplen as usize;
        if next > data.len() {
            break;
        }
        records += 1;
        bytes += u64::from(caplen);
        pos = next;
        // The same read-ahead and resident window as `Frames`, so the floor and the
        // reader compare.
        ahead = touch_ahead(data, pos, ahead);
        at(pos);
    }
    (records, bytes)
}
