//! A decoded packet's header facts, for stages that do not read `wire` views
//! (behavioural detectors).

use crate::{Direction, FlowId, IpProto, Timestamp};
use serde::{Deserialize, Serialize};
use std::net::IpAddr;

/// Header facts of one packet in a flow.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PacketSummary {
    /// Capture time.
    pub ts: Timestamp,
    /// Flow.
    pub flow_id: FlowId,
    /// Direction within the flow.
    pub dir: Direction,
    /// This is the flow's first packet.
    pub first_in_flow: bool,
    /// Source address.
    pub src: IpAddr,
    /// Destination address.
    pub dst: IpAddr,
    /// Source port (ICMP: 0).
    pub src_port: u16,
    /// Destination port (ICMP: 0).
    pub dst_port: u16,
    /// IP protocol.
    pub proto: IpProto,
    /// TCP flags (0 for other protocols).
    pub tcp_flags: u8,
    /// TCP window.
    pub window: u16,
    /// IPv4 identification (IPv6: 0).
    pub ip_id: u16,
    /// TTL / hop limit.
    pub ttl: u8,
    /// A digest of the TCP option kinds in order (0 without options): equal for
    /// equal option layouts.
    pub tcp_options_sig: u32,
    /// TCP MSS option value.
    pub mss: Option<u16>,
    /// ICMP type and code (ICMP only).
    pub icmp: Option<(u8, u8)>,
    /// Transport payload length.
    pub payload_len: u32,
    /// Frame length as captured on the wire.
    pub wire_len: u32,
}

/// TCP flag bits.
pub mod tcp_flags {
    /// FIN.
    pub const FIN: u8 = 0x01;
    /// SYN.
    pub const SYN: u8 = 0x02;
    /// RST.
    pub const RST: u8 = 0x04;
    /// PSH.
    pub const PSH: u8 = 0x08;
    /// ACK.
    pub const ACK: u8 = 0x10;
    /// URG.
    pub const URG: u8 = 0x20;
    /// ECE.
    pub const ECE: u8 = 0x40;
    /// CWR.
    pub const CWR: u8 = 0x80;
}
