//! Signature matches.

use crate::{AppProto, Direction, FlowId, IpProto, Timestamp};
use serde::{Deserialize, Serialize};
use std::net::IpAddr;
use std::sync::Arc;

/// What the engine did about the match (`alert.action`). IDS mode only allows.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertAction {
    /// Traffic passed (IDS).
    #[default]
    Allowed,
    /// Would have been blocked (IPS; not used offline).
    Blocked,
}

/// The signature's identity and description, shared by all alerts of one rule.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SignatureInfo {
    /// Generator id (1 for text rules).
    pub gid: u32,
    /// Signature id.
    pub sid: u32,
    /// Revision.
    pub rev: u32,
    /// `msg`.
    pub msg: String,
    /// `classtype` short name, when given.
    pub classtype: Option<String>,
    /// Category text of the classtype (`""` without one, as Suricata).
    pub category: String,
    /// Severity = priority (classtype's, overridden by `priority`; 3 without either).
    pub severity: u8,
    /// `metadata` key → values, in rule order.
    pub metadata: Vec<(String, Vec<String>)>,
    /// `reference` entries as written (`cve,2003-0719`).
    pub references: Vec<String>,
    /// `target:src_ip|dest_ip` when given: which side is the target.
    pub target: Option<Target>,
}

/// `target` keyword value.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Target {
    /// The packet's source is the target.
    SrcIp,
    /// The packet's destination is the target.
    DestIp,
}

/// Flow counters at alert time (EVE `alert`'s `flow` object).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AlertFlow {
    /// Packets to server so far.
    pub pkts_toserver: u64,
    /// Packets to client so far.
    pub pkts_toclient: u64,
    /// Bytes to server so far.
    pub bytes_toserver: u64,
    /// Bytes to client so far.
    pub bytes_toclient: u64,
    /// Flow start.
    pub start: Timestamp,
    /// Flow initiator.
    pub src_ip: IpAddr,
    /// Flow responder.
    pub dest_ip: IpAddr,
    /// Initiator port.
    pub src_port: u16,
    /// Responder port.
    pub dest_port: u16,
}

/// A rule matched.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Alert {
    /// Time of the packet that completed the match.
    pub ts: Timestamp,
    /// The rule.
    pub sig: Arc<SignatureInfo>,
    /// Action.
    pub action: AlertAction,
    /// Flow, when the packet belonged to one.
    pub flow_id: Option<FlowId>,
    /// Packet source address (as in EVE: the packet's, not the flow's).
    pub src_ip: IpAddr,
    /// Packet source port.
    pub src_port: u16,
    /// Packet destination address.
    pub dest_ip: IpAddr,
    /// Packet destination port.
    pub dest_port: u16,
    /// IP protocol.
    pub proto: IpProto,
    /// Direction within the flow.
    pub direction: Option<Direction>,
    /// Application protocol of the flow at alert time.
    pub app_proto: AppProto,
    /// Transaction id for application-layer matches.
    pub tx_id: Option<u64>,
    /// Flow counters.
    pub flow: Option<AlertFlow>,
    /// The inspected payload (packet payload or stream segment) for EVE `payload`.
    pub payload: Option<Vec<u8>>,
    /// The whole packet for EVE `packet`.
    pub packet: Option<Vec<u8>>,
    /// True when the match came from reassembled stream data.
    pub stream: bool,
}
