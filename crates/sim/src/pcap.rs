//! Classic pcap writer: microsecond timestamps, `LINKTYPE_ETHERNET`.

use std::io::{self, Write};

/// pcap magic for microsecond timestamps, written in little-endian order.
pub const PCAP_MAGIC_US: u32 = 0xa1b2_c3d4;
/// `LINKTYPE_ETHERNET`.
pub const LINKTYPE_ETHERNET: u32 = 1;
/// Snap length written in the file header; every frame is captured whole.
pub const SNAPLEN: u32 = 262_144;

/// The 24-byte pcap file header.
pub fn file_header() -> [u8; 24] {
    let mut h = [0u8; 24];
    h[0..4].copy_from_slice(&PCAP_MAGIC_US.to_le_bytes());
    h[4..6].copy_from_slice(&2u16.to_le_bytes());
    h[6..8].copy_from_slice(&4u16.to_le_bytes());
    // thiszone = 0, sigfigs = 0
    h[16..20].copy_from_slice(&SNAPLEN.to_le_bytes());
    h[20..24].copy_from_slice(&LINKTYPE_ETHERNET.to_le_bytes());
    h
}

/// The 16-byte record header for a frame of `len` bytes at `ts_nanos`.
pub fn record_header(ts_nanos: i64, len: usize) -> [u8; 16] {
    let secs = ts_nanos.div_euclid(1_000_000_000);
    let micros = ts_nanos.rem_euclid(1_000_000_000) / 1000;
    let mut h = [0u8; 16];
    // pcap stores seconds as u32: the simulator's clock stays in 1970..2106.
    let secs = u32::try_from(secs.clamp(0, i64::from(u32::MAX))).unwrap_or(u32::MAX);
    let micros = u32::try_from(micros).unwrap_or(0);
    let len = u32::try_from(len).unwrap_or(u32::MAX);
    h[0..4].copy_from_slice(&secs.to_le_bytes());
    h[4..8].copy_from_slice(&micros.to_le_bytes());
    h[8..12].copy_from_slice(&len.to_le_bytes());
    h[12..16].copy_from_slice(&len.to_le_bytes());
    h
}

/// Writes a pcap file frame by frame.
pub struct PcapWriter<W: Write> {
    w: W,
    frames: u64,
    bytes: u64,
}

impl<W: Write> PcapWriter<W> {
    /// Writes the file header and returns the writer.
    pub fn new(mut w: W) -> io::Result<Self> {
        w.write_all(&file_header())?;
        Ok(PcapWriter {
            w,
            frames: 0,
            bytes: 24,
        })
    }

    /// Appends one frame captured at `ts_nanos` (nanoseconds since the epoch;
    /// written with microsecond precision).
    pub fn write_frame(&mut self, ts_nanos: i64, frame: &[u8]) -> io::Result<()> {
        self.w.write_all(&record_header(ts_nanos, frame.len()))?;
        self.w.write_all(frame)?;
        self.frames += 1;
        self.bytes += 16 + frame.len() as u64;
        Ok(())
    }

    /// Frames written so far.
    pub fn frames(&self) -> u64 {
        self.frames
    }

    /// Bytes written so far, headers included.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// Returns the inner writer.
    pub fn into_inner(self) -> W {
        self.w
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_and_record_layout() {
        let mut w = PcapWriter::new(Vec::new()).unwrap();
        w.write_frame(1_082_451_600_123_456_789, &[1, 2, 3])
            .unwrap();
        let v = w.into_inner();
        assert_eq!(&v[0..4], &[0xd4, 0xc3, 0xb2, 0xa1]);
        assert_eq!(u32::from_le_bytes([v[20], v[21], v[22], v[23]]), 1);
        assert_eq!(
            u32::from_le_bytes([v[24], v[25], v[26], v[27]]),
            1_082_451_600
        );
        assert_eq!(u32::from_le_bytes([v[28], v[29], v[30], v[31]]), 123_456);
        assert_eq!(u32::from_le_bytes([v[32], v[33], v[34], v[35]]), 3);
        assert_eq!(&v[40..], &[1, 2, 3]);
    }
}
