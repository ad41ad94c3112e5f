//! pcapng: sections (each with its own byte order and interfaces), interface
//! descriptions, and enhanced / simple / obsolete packet blocks. Other blocks
//! (name resolution, statistics, decryption secrets, custom, ...) are skipped.

use crate::error::{CaptureError, ErrorKind};
use crate::frames::touch_ahead;
use crate::{MAX_CAPLEN, MAX_INTERFACES};
use std::path::Path;
use stormwatch_model::{FrameOrigin, LinkType, RawFrame, Timestamp};

/// Section header block type, as it appears in the file (a palindrome).
pub(crate) const SHB_MAGIC: [u8; 4] = [0x0a, 0x0d, 0x0d, 0x0a];

/// Block types.
mod block {
    pub const SHB: u32 = 0x0a0d_0d0a;
    pub const IDB: u32 = 1;
    pub const OPB: u32 = 2;
    pub const SPB: u32 = 3;
    pub const EPB: u32 = 6;
}

/// Interface option codes.
mod opt {
    pub const END: u16 = 0;
    pub const TSRESOL: u16 = 9;
    pub const TSOFFSET: u16 = 14;
}

const BOM_LE: [u8; 4] = [0x4d, 0x3c, 0x2b, 0x1a];
const BOM_BE: [u8; 4] = [0x1a, 0x2b, 0x3c, 0x4d];

/// Byte order of the current section.
#[derive(Copy, Clone)]
struct Order(bool);

impl Order {
    #[inline(always)]
    fn u32(self, b: &[u8], at: usize) -> Option<u32> {
        let x: [u8; 4] = b.get(at..at + 4)?.try_into().ok()?;
        Some(if self.0 {
            u32::from_be_bytes(x)
        } else {
            u32::from_le_bytes(x)
        })
    }

    #[inline(always)]
    fn u16(self, b: &[u8], at: usize) -> Option<u16> {
        let x: [u8; 2] = b.get(at..at + 2)?.try_into().ok()?;
        Some(if self.0 {
            u16::from_be_bytes(x)
        } else {
            u16::from_le_bytes(x)
        })
    }

    fn u64(self, b: &[u8], at: usize) -> Option<u64> {
        let x: [u8; 8] = b.get(at..at + 8)?.try_into().ok()?;
        Some(if self.0 {
            u64::from_be_bytes(x)
        } else {
            u64::from_le_bytes(x)
        })
    }
}

/// Timestamp resolution of an interface.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
enum Resol {
    /// Units of 10^-n seconds.
    Pow10(u8),
    /// Units of 2^-n seconds.
    Pow2(u8),
}

impl Resol {
    fn from_option(v: u8) -> Resol {
        if v & 0x80 == 0 {
            Resol::Pow10(v)
        } else {
            Resol::Pow2(v & 0x7f)
        }
    }

    /// Converts a count of units to nanoseconds (saturating).
    #[inline]
    fn to_nanos(self, units: u64) -> i64 {
        let ns: u128 = match self {
            Resol::Pow10(6) => u128::from(units) * 1000,
            Resol::Pow10(9) => u128::from(units),
            Resol::Pow10(n) if n < 9 => u128::from(units) * 10u128.pow(u32::from(9 - n)),
            Resol::Pow10(n) => match 10u128.checked_pow(u32::from(n - 9)) {
                Some(div) => u128::from(units) / div,
                None => 0,
            },
            Resol::Pow2(n) => (u128::from(units) * 1_000_000_000) >> n,
        };
        i64::try_from(ns).unwrap_or(i64::MAX)
    }
}

/// One interface of the current section.
#[derive(Copy, Clone, Debug)]
struct Iface {
    link_type: LinkType,
    snaplen: u32,
    resol: Resol,
    /// `if_tsoffset` in seconds.
    offset_secs: i64,
}

/// Checks the first section header well enough to call the file pcapng.
pub(crate) fn check_first_section(path: &Path, b: &[u8]) -> Result<(), CaptureError> {
    match b.get(8..12) {
        None => Err(CaptureError::at(
            path,
            0,
            ErrorKind::TruncatedHeader {
                what: "pcapng section header",
                expected: 28,
                remain: b.len() as u64,
            },
        )),
        Some(bom) if bom == BOM_LE || bom == BOM_BE => Ok(()),
        Some(bom) => Err(CaptureError::at(
            path,
            8,
            ErrorKind::BadSectionHeader {
                detail: format!(
                    "byte-order magic {:02x}{:02x}{:02x}{:02x}; expected 1a2b3c4d in either \
                     byte order",
                    bom[0], bom[1], bom[2], bom[3]
                ),
            },
        )),
    }
}

/// A block's framing: type, body and total length, validated.
struct Block<'a> {
    kind: u32,
    body: &'a [u8],
    len: usize,
}

/// Reads the block framing at the start of `rest` (which begins at file offset
/// `at`); updates `order` when the block is a section header.
fn frame_block<'a>(
    path: &Path,
    rest: &'a [u8],
    at: usize,
    order: &mut Order,
) -> Result<Block<'a>, CaptureError> {
    let err = |off: usize, kind| CaptureError::at(path, at + off, kind);
    if rest.len() < 12 {
        let kind = order.u32(rest, 0).unwrap_or(0);
        return Err(err(
            0,
            ErrorKind::TruncatedBlock {
                block_type: kind,
                says: 12,
                remain: rest.len() as u64,
            },
        ));
    }
    if rest.starts_with(&SHB_MAGIC) {
        *order = match rest.get(8..12) {
            Some(b) if b == BOM_LE => Order(false),
            Some(b) if b == BOM_BE => Order(true),
            _ => {
                let bom = rest.get(8..12).unwrap_or_default();
                return Err(err(
                    8,
                    ErrorKind::BadSectionHeader {
                        detail: format!(
                            "byte-order magic {bom:02x?}; expected 1a2b3c4d in either byte order"
                        ),
                    },
                ));
            }
        };
    }
    let kind = order.u32(rest, 0).unwrap_or(0);
    let len32 = order.u32(rest, 4).unwrap_or(0);
    let len = len32 as usize;
    if len < 12 || !len.is_multiple_of(4) {
        return Err(err(
            4,
            ErrorKind::BadBlockLength {
                block_type: kind,
                len: u64::from(len32),
            },
        ));
    }
    if len > rest.len() {
        return Err(err(
            0,
            ErrorKind::TruncatedBlock {
                block_type: kind,
                says: u64::from(len32),
                remain: rest.len() as u64,
            },
        ));
    }
    let trailing = order.u32(rest, len - 4).unwrap_or(0);
    if trailing != len32 {
        return Err(err(
            len - 4,
            ErrorKind::BlockTrailerMismatch {
                block_type: kind,
                leading: u64::from(len32),
                trailing: u64::from(trailing),
            },
        ));
    }
    Ok(Block {
        kind,
        body: rest.get(8..len - 4).unwrap_or_default(),
        len,
    })
}

/// Reader state for a pcapng file.
pub(crate) struct PcapngReader {
    order: Order,
    ifaces: Vec<Iface>,
    /// Timestamp of the last packet (simple packet blocks carry none).
    last_ts: Timestamp,
}

impl PcapngReader {
    pub(crate) fn new() -> Self {
        PcapngReader {
            order: Order(false),
            ifaces: Vec::new(),
            last_ts: Timestamp::ZERO,
        }
    }

    fn iface(&self, path: &Path, at: usize, id: u32) -> Result<Iface, CaptureError> {
        usize::try_from(id)
            .ok()
            .and_then(|i| self.ifaces.get(i))
            .copied()
            .ok_or_else(|| {
                CaptureError::at(
                    path,
                    at,
                    ErrorKind::UnknownInterface {
                        id,
                        count: self.ifaces.len(),
                    },
                )
            })
    }

    /// Reads blocks from `*pos` up to the next packet; `Ok(None)` at the end.
    pub(crate) fn next<'a>(
        &mut self,
        path: &Path,
        data: &'a [u8],
        pos: &mut usize,
        file: u32,
    ) -> Result<Option<RawFrame<'a>>, CaptureError> {
        loop {
            let at = *pos;
            let rest = data.get(at..).unwrap_or_default();
            if rest.is_empty() {
                return Ok(None);
            }
            let b = frame_block(path, rest, at, &mut self.order)?;
            *pos = at + b.len;
            let bad = |detail: String| {
                CaptureError::at(
                    path,
                    at,
                    ErrorKind::BadBlock {
                        block_type: b.kind,
                        detail,
                    },
                )
            };
            let o = self.order;
            match b.kind {
                block::SHB => {
                    let major = o.u16(b.body, 4);
                    if b.body.len() < 16 {
                        return Err(bad(format!(
                            "section header body of {} bytes; expected at least 16",
                            b.body.len()
                        )));
                    }
                    if major != Some(1) {
                        return Err(CaptureError::at(
                            path,
                            at + 12,
                            ErrorKind::BadSectionHeader {
                                detail: format!(
                                    "version {}.{}; expected 1.x",
                                    major.unwrap_or(0),
                                    o.u16(b.body, 6).unwrap_or(0)
                                ),
                            },
                        ));
                    }
                    self.ifaces.clear();
                }
                block::IDB => {
                    let (Some(link), Some(snaplen)) = (o.u16(b.body, 0), o.u32(b.body, 4)) else {
                        return Err(bad(format!(
                            "interface description body of {} bytes; expected at least 8",
                            b.body.len()
                        )));
                    };
                    if self.ifaces.len() >= MAX_INTERFACES {
                        return Err(CaptureError::at(path, at, ErrorKind::TooManyInterfaces));
                    }
                    let mut iface = Iface {
                        link_type: LinkType(u32::from(link)),
                        snaplen,
                        resol: Resol::Pow10(6),
                        offset_secs: 0,
                    };
                    read_if_options(o, b.body.get(8..).unwrap_or_default(), &mut iface);
                    self.ifaces.push(iface);
                }
                block::EPB | block::OPB => {
                    let epb = b.kind == block::EPB;
                    let fields = if epb {
                        (
                            o.u32(b.body, 0),
                            o.u32(b.body, 4),
                            o.u32(b.body, 8),
                            o.u32(b.body, 12),
                            o.u32(b.body, 16),
                        )
                    } else {
                        (
                            o.u16(b.body, 0).map(u32::from),
                            o.u32(b.body, 4),
                            o.u32(b.body, 8),
                            o.u32(b.body, 12),
                            o.u32(b.body, 16),
                        )
                    };
                    let (Some(id), Some(hi), Some(lo), Some(caplen), Some(orig_len)) = fields
                    else {
                        return Err(bad(format!(
                            "packet block body of {} bytes; expected at least 20",
                            b.body.len()
                        )));
                    };
                    if caplen > MAX_CAPLEN {
                        return Err(CaptureError::at(
                            path,
                            at,
                            ErrorKind::AbsurdCaplen {
                                len: u64::from(caplen),
                            },
                        ));
                    }
                    let Some(frame) = b.body.get(20..20 + caplen as usize) else {
                        return Err(bad(format!(
                            "captured length {caplen} runs past the block; expected at most {}",
                            b.body.len() - 20
                        )));
                    };
                    let iface = self.iface(path, at, id)?;
                    let units = (u64::from(hi) << 32) | u64::from(lo);
                    let ts = Timestamp(
                        iface
                            .resol
                            .to_nanos(units)
                            .saturating_add(iface.offset_secs.saturating_mul(1_000_000_000)),
                    );
                    self.last_ts = ts;
                    return Ok(Some(RawFrame {
                        ts,
                        link_type: iface.link_type,
                        data: frame,
                        orig_len,
                        origin: FrameOrigin {
                            file,
                            offset: at as u64,
                        },
                    }));
                }
                block::SPB => {
                    let Some(orig_len) = o.u32(b.body, 0) else {
                        return Err(bad(format!(
                            "simple packet block body of {} bytes; expected at least 4",
                            b.body.len()
                        )));
                    };
                    let iface = self.iface(path, at, 0)?;
                    let room = b.body.len() - 4;
                    let mut caplen = (orig_len as usize).min(room);
                    if iface.snaplen != 0 {
                        caplen = caplen.min(iface.snaplen as usize);
                    }
                    let frame = b.body.get(4..4 + caplen).unwrap_or_default();
                    return Ok(Some(RawFrame {
                        ts: self.last_ts,
                        link_type: iface.link_type,
                        data: frame,
                        orig_len,
                        origin: FrameOrigin {
                            file,
                            offset: at as u64,
                        },
                    }));
                }
                _ => {}
            }
        }
    }
}

/// Reads `if_tsresol` and `if_tsoffset` from an interface's options; malformed
/// options end the list (they carry nothing the reader needs).
fn read_if_options(o: Order, mut opts: &[u8], iface: &mut Iface) {
    while let (Some(code), Some(len)) = (o.u16(opts, 0), o.u16(opts, 2)) {
        let len = usize::from(len);
        let Some(val) = opts.get(4..4 + len) else {
            return;
        };
        match code {
            opt::END => return,
            opt::TSRESOL => {
                if let Some(&v) = val.first() {
                    iface.resol = Resol::from_option(v);
                }
            }
            opt::TSOFFSET => {
                if let Some(v) = o.u64(val, 0) {
                    iface.offset_secs = v as i64;
                }
            }
            _ => {}
        }
        let padded = (4 + len).next_multiple_of(4);
        opts = opts.get(padded..).unwrap_or_default();
    }
}

/// The raw-read floor over a pcapng: block framing only (with the iterator's
/// read-ahead).
pub(crate) fn walk(data: &[u8], mut at: impl FnMut(usize)) -> (u64, u64) {
    let mut order = Order(false);
    let mut pos = 0usize;
    let mut ahead = 0usize;
    let (mut records, mut bytes) = (0u64, 0u64);
    while let Some(rest) = data.get(pos..).filter(|r| !r.is_empty()) {
        let Ok(b) = frame_block(Path::new(""), rest, pos, &mut order) else {
            break;
        };
        match b.kind {
            block::EPB | block::OPB => {
                records += 1;
                bytes += u64::from(order.u32(b.body, 12).unwrap_or(0));
            }
            block::SPB => {
                records += 1;
                bytes += b.body.len().saturating_sub(4) as u64;
            }
            _ => {}
        }
        pos += b.len;
        ahead = touch_ahead(data, pos, ahead);
        at(pos);
    }
    (records, bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolutions() {
        assert_eq!(Resol::from_option(6).to_nanos(1_500_000), 1_500_000_000);
        assert_eq!(Resol::from_option(9).to_nanos(7), 7);
        assert_eq!(Resol::from_option(3).to_nanos(2), 2_000_000);
        assert_eq!(Resol::from_option(0).to_nanos(2), 2_000_000_000);
        assert_eq!(Resol::from_option(12).to_nanos(5_000), 5);
        assert_eq!(Resol::from_option(127).to_nanos(u64::MAX), 0);
        // 2^-10 s units: 1024 units = 1 s.
        assert_eq!(Resol::from_option(0x80 | 10).to_nanos(1024), 1_000_000_000);
        assert_eq!(Resol::from_option(0x80 | 10).to_nanos(1), 976_562);
        assert_eq!(Resol::from_option(0xff).to_nanos(u64::MAX), 0);
        // Overflow saturates.
        assert_eq!(Resol::from_option(0).to_nanos(u64::MAX), i64::MAX);
    }
}
