//! Malformed or unusual traffic, reported as data (never as an error).

use crate::{AppProto, FlowId, IpProto, Timestamp};
use serde::{Deserialize, Serialize};
use std::borrow::Cow;
use std::net::IpAddr;

/// Which layer noticed the anomaly (EVE `anomaly.type`).
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AnomalyType {
    /// Packet decoding (link, IP, TCP/UDP/ICMP headers).
    Decode,
    /// TCP stream tracking and reassembly, IP defragmentation.
    Stream,
    /// Application-layer parsing and protocol identification.
    Applayer,
    /// Engine limits reached (tables full, memory caps).
    Engine,
}

impl AnomalyType {
    /// EVE spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            AnomalyType::Decode => "decode",
            AnomalyType::Stream => "stream",
            AnomalyType::Applayer => "applayer",
            AnomalyType::Engine => "engine",
        }
    }
}

/// Packet endpoints for an anomaly that is not (yet) tied to a flow.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Endpoints {
    /// Source address.
    pub src: IpAddr,
    /// Destination address.
    pub dst: IpAddr,
    /// Source port (0 when none).
    pub src_port: u16,
    /// Destination port.
    pub dst_port: u16,
    /// IP protocol.
    pub proto: IpProto,
}

/// One anomaly occurrence.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Anomaly {
    /// Packet time.
    pub ts: Timestamp,
    /// Layer.
    pub kind: AnomalyType,
    /// Event name. Suricata's name where Suricata has one
    /// (`decoder.ipv4.trunc_pkt`, `stream.pkt_invalid_ack`, `APPLAYER_MISMATCH_PROTOCOL_BOTH_DIRECTIONS`),
    /// otherwise ours: snake_case, protocol first (`irc.line_too_long`, `pct.client_hello_oversized_challenge`).
    pub event: Cow<'static, str>,
    /// Application-layer sub-layer for `applayer` anomalies (`proto_detect`, `proto_parser`).
    pub layer: Option<Cow<'static, str>>,
    /// Protocol in whose parser it arose.
    pub app_proto: Option<AppProto>,
    /// Flow, when known.
    pub flow_id: Option<FlowId>,
    /// Packet endpoints, when known.
    pub endpoints: Option<Endpoints>,
    /// Free-text detail for people (`challenge length 65535 > 32`).
    pub detail: Option<String>,
}

impl Anomaly {
    /// A new anomaly with only time, type and name set.
    pub fn new(ts: Timestamp, kind: AnomalyType, event: impl Into<Cow<'static, str>>) -> Self {
        Anomaly {
            ts,
            kind,
            event: event.into(),
            layer: None,
            app_proto: None,
            flow_id: None,
            endpoints: None,
            detail: None,
        }
    }
}
