//! Flows: identity, direction, reassembled stream data and the end-of-flow record.

use crate::{AppProto, Timestamp};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::net::IpAddr;

/// An IP protocol number, kept open.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct IpProto(pub u8);

impl IpProto {
    /// ICMP for IPv4.
    pub const ICMP: IpProto = IpProto(1);
    /// IGMP.
    pub const IGMP: IpProto = IpProto(2);
    /// IPv4-in-IP.
    pub const IPIP: IpProto = IpProto(4);
    /// TCP.
    pub const TCP: IpProto = IpProto(6);
    /// UDP.
    pub const UDP: IpProto = IpProto(17);
    /// IPv6-in-IP.
    pub const IPV6: IpProto = IpProto(41);
    /// GRE.
    pub const GRE: IpProto = IpProto(47);
    /// ICMP for IPv6.
    pub const ICMPV6: IpProto = IpProto(58);
    /// SCTP.
    pub const SCTP: IpProto = IpProto(132);

    /// The name Suricata writes in EVE's `proto` field (`TCP`, `UDP`, `ICMP`,
    /// `IPv6-ICMP`, otherwise the number).
    pub fn eve_name(self) -> std::borrow::Cow<'static, str> {
        match self.0 {
            1 => "ICMP".into(),
            2 => "IGMP".into(),
            6 => "TCP".into(),
            17 => "UDP".into(),
            47 => "GRE".into(),
            58 => "IPv6-ICMP".into(),
            132 => "SCTP".into(),
            n => n.to_string().into(),
        }
    }
}

/// The identity of a flow, oriented client → server (the initiator is `src`).
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct FlowKey {
    /// Initiator's address.
    pub src: IpAddr,
    /// Responder's address.
    pub dst: IpAddr,
    /// Initiator's port (ICMP: 0, or the type for Suricata-style output).
    pub src_port: u16,
    /// Responder's port (ICMP: 0, or the code).
    pub dst_port: u16,
    /// IP protocol.
    pub proto: IpProto,
    /// Outer and inner 802.1Q VLAN ids (0 = none).
    pub vlan: [u16; 2],
}

impl FlowKey {
    /// The same key seen from the other side.
    pub fn reversed(&self) -> FlowKey {
        FlowKey {
            src: self.dst,
            dst: self.src,
            src_port: self.dst_port,
            dst_port: self.src_port,
            proto: self.proto,
            vlan: self.vlan,
        }
    }
}

impl fmt::Display for FlowKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {}:{} -> {}:{}",
            self.proto.eve_name(),
            self.src,
            self.src_port,
            self.dst,
            self.dst_port
        )
    }
}

/// Deterministic flow identifier (same capture, same ids), written as EVE `flow_id`.
/// Suricata's ids are positive 51-bit numbers in practice; ours stay below 2^53 so
/// JSON consumers that read numbers as doubles keep them exact.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct FlowId(pub u64);

/// Direction of a packet or stream within a flow.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// From the initiator (client) to the responder (server).
    ToServer,
    /// From the responder (server) to the initiator (client).
    ToClient,
}

impl Direction {
    /// The other direction.
    pub fn flip(self) -> Direction {
        match self {
            Direction::ToServer => Direction::ToClient,
            Direction::ToClient => Direction::ToServer,
        }
    }

    /// `to_server` / `to_client`, as in EVE.
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::ToServer => "to_server",
            Direction::ToClient => "to_client",
        }
    }

    /// 0 for to-server, 1 for to-client (array index).
    pub fn index(self) -> usize {
        match self {
            Direction::ToServer => 0,
            Direction::ToClient => 1,
        }
    }
}

/// Bytes that outlive the packets handed to the engine — in practice the
/// memory map of the capture file frames are read from. Stages that keep
/// delivered bytes (TCP reassembly's retransmission check, raw stream
/// inspection's window) refer to slices of it by offset instead of copying.
pub type Backing = std::sync::Arc<dyn AsRef<[u8]> + Send + Sync>;

/// In-order stream content handed from TCP reassembly to the protocol stage.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum StreamData<'a> {
    /// Bytes, in stream order, directly following the previous chunk.
    Bytes(&'a [u8]),
    /// `len` bytes that were never seen (lost or not captured); the next chunk
    /// follows them.
    Gap(u32),
}

impl StreamData<'_> {
    /// Number of stream bytes this chunk covers.
    pub fn len(&self) -> usize {
        match self {
            StreamData::Bytes(b) => b.len(),
            StreamData::Gap(n) => *n as usize,
        }
    }

    /// True for an empty byte chunk.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// One piece of a reassembled TCP stream.
#[derive(Copy, Clone, Debug)]
pub struct StreamChunk<'a> {
    /// The flow it belongs to.
    pub flow: FlowId,
    /// Which side sent it.
    pub dir: Direction,
    /// Offset of the first byte in this direction's stream (0 = first byte after the SYN,
    /// or the first byte seen for a midstream pickup).
    pub offset: u64,
    /// The data or gap.
    pub data: StreamData<'a>,
    /// Time of the packet whose arrival released this chunk.
    pub ts: Timestamp,
}

/// Flow lifecycle state as EVE reports it (`flow.state`).
#[derive(Copy, Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FlowState {
    /// Packets in one direction only.
    New,
    /// Packets seen both ways (TCP: handshake completed).
    Established,
    /// TCP closed by FIN/RST.
    Closed,
    /// Detection stopped following it (depth reached and nothing left to inspect).
    Bypassed,
}

impl FlowState {
    /// EVE spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            FlowState::New => "new",
            FlowState::Established => "established",
            FlowState::Closed => "closed",
            FlowState::Bypassed => "bypassed",
        }
    }
}

/// Why a flow record was written (`flow.reason`).
#[derive(Copy, Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EndReason {
    /// Idle past its state's timeout.
    Timeout,
    /// Evicted early (memory cap, table full, emergency mode).
    Forced,
    /// End of input.
    Shutdown,
}

impl EndReason {
    /// EVE spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            EndReason::Timeout => "timeout",
            EndReason::Forced => "forced",
            EndReason::Shutdown => "shutdown",
        }
    }
}

/// TCP connection state (`tcp.state` in EVE, Suricata's names).
#[derive(Copy, Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TcpState {
    /// No SYN seen (midstream or not TCP-tracked).
    None,
    /// SYN sent, nothing back.
    SynSent,
    /// SYN/ACK seen.
    SynRecv,
    /// Handshake complete.
    Established,
    /// First FIN seen.
    FinWait1,
    /// FIN acknowledged.
    FinWait2,
    /// Both FINs seen.
    TimeWait,
    /// Passive close: FIN from server side.
    CloseWait,
    /// Last ACK pending.
    LastAck,
    /// Simultaneous close.
    Closing,
    /// Closed (FIN exchange complete or RST).
    Closed,
}

impl TcpState {
    /// EVE spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            TcpState::None => "none",
            TcpState::SynSent => "syn_sent",
            TcpState::SynRecv => "syn_recv",
            TcpState::Established => "established",
            TcpState::FinWait1 => "fin_wait1",
            TcpState::FinWait2 => "fin_wait2",
            TcpState::TimeWait => "time_wait",
            TcpState::CloseWait => "close_wait",
            TcpState::LastAck => "last_ack",
            TcpState::Closing => "closing",
            TcpState::Closed => "closed",
        }
    }
}

/// TCP facts of a finished flow.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TcpSummary {
    /// OR of all TCP flag bytes seen (both directions).
    pub flags: u8,
    /// OR of flags sent to the server.
    pub flags_ts: u8,
    /// OR of flags sent to the client.
    pub flags_tc: u8,
    /// Final state.
    pub state: TcpState,
    /// Zeek-style history (`ShADadFf`, upper case = initiator, lower = responder).
    pub history: String,
    /// The three-way handshake completed.
    pub handshake_done: bool,
    /// Bytes reported as gaps (not captured), to server.
    pub gap_bytes_ts: u64,
    /// Bytes reported as gaps, to client.
    pub gap_bytes_tc: u64,
}

/// The end-of-flow record: everything EVE `flow` needs, and what behavioural
/// detectors learn about a connection's outcome.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FlowRecord {
    /// Flow id.
    pub flow_id: FlowId,
    /// Endpoints, client → server.
    pub key: FlowKey,
    /// First packet time.
    pub start: Timestamp,
    /// Last packet time.
    pub end: Timestamp,
    /// Packets client → server.
    pub pkts_toserver: u64,
    /// Packets server → client.
    pub pkts_toclient: u64,
    /// Bytes (whole frames as captured on the wire, link layer included) client → server.
    pub bytes_toserver: u64,
    /// Bytes server → client.
    pub bytes_toclient: u64,
    /// Application protocol identified (both directions agree or only one known).
    pub app_proto: AppProto,
    /// Protocol identified to the server when it differs.
    pub app_proto_ts: Option<AppProto>,
    /// Protocol identified to the client when it differs.
    pub app_proto_tc: Option<AppProto>,
    /// Lifecycle state at the end.
    pub state: FlowState,
    /// Why the record was written.
    pub reason: EndReason,
    /// An alert was raised on this flow.
    pub alerted: bool,
    /// TCP details (TCP flows only).
    pub tcp: Option<TcpSummary>,
    /// ICMP type and code of the first packet (ICMP flows only).
    pub icmp: Option<(u8, u8)>,
    /// Source and destination MAC of the first packet seen to the server, when Ethernet.
    pub macs: Option<([u8; 6], [u8; 6])>,
}

impl FlowRecord {
    /// Whole seconds between first and last packet, as EVE's `flow.age`.
    pub fn age_secs(&self) -> i64 {
        self.end.secs() - self.start.secs()
    }
}
