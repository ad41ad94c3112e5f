//! Frames as read from a capture, before any decoding.

use crate::Timestamp;
use serde::{Deserialize, Serialize};

/// A capture's link-layer header type (the pcap `LINKTYPE_*` number), kept open:
/// unknown values are carried, not rejected.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct LinkType(pub u32);

impl LinkType {
    /// BSD loopback: 4-byte host-endian address family.
    pub const NULL: LinkType = LinkType(0);
    /// Ethernet II / 802.3.
    pub const ETHERNET: LinkType = LinkType(1);
    /// Raw IP (v4 or v6, from the version nibble). DLT 12 on some systems.
    pub const RAW: LinkType = LinkType(101);
    /// Raw IP as DLT 12 (OpenBSD and others).
    pub const RAW_DLT12: LinkType = LinkType(12);
    /// OpenBSD loopback: 4-byte network-endian address family.
    pub const LOOP: LinkType = LinkType(108);
    /// Linux cooked capture v1.
    pub const LINUX_SLL: LinkType = LinkType(113);
    /// Raw IPv4.
    pub const IPV4: LinkType = LinkType(228);
    /// Raw IPv6.
    pub const IPV6: LinkType = LinkType(229);
    /// Linux cooked capture v2.
    pub const LINUX_SLL2: LinkType = LinkType(276);
}

/// Where a frame came from: which input and the byte offset of its record there
/// (for error messages and `packet_info` in EVE).
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct FrameOrigin {
    /// Index of the input file in the run (0-based, in the order they were read).
    pub file: u32,
    /// Byte offset of the frame's record header in the (decompressed) file.
    pub offset: u64,
}

/// One captured frame, borrowed from the capture's memory map.
#[derive(Copy, Clone, Debug)]
pub struct RawFrame<'a> {
    /// Capture timestamp.
    pub ts: Timestamp,
    /// Link type of the interface it was captured on.
    pub link_type: LinkType,
    /// The captured bytes (possibly fewer than `orig_len` when snaplen cut it).
    pub data: &'a [u8],
    /// Length of the frame on the wire.
    pub orig_len: u32,
    /// Input file and offset.
    pub origin: FrameOrigin,
}

impl RawFrame<'_> {
    /// True when the capture holds fewer bytes than were on the wire.
    pub fn is_truncated(&self) -> bool {
        (self.data.len() as u64) < u64::from(self.orig_len)
    }
}
