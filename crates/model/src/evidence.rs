//! Evidence: every alert and notice mapped to one stage of an infection dialog
//! about one host (BotHunter's dialog, extended with E6 and E7).

use crate::{FlowId, Timestamp};
use serde::{Deserialize, Serialize};
use std::net::IpAddr;

/// A stage of the infection dialog.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Stage {
    /// E1: the host was probed by a scanner.
    E1InboundScan,
    /// E2: an exploit was attempted against the host.
    E2InboundExploit,
    /// E3: the host fetched an executable.
    E3EggDownload,
    /// E4: the host keeps a control channel.
    E4C2,
    /// E5: the host scans or exploits others.
    E5OutboundAttack,
    /// E6: the host started accepting connections on a new port.
    E6NewListener,
    /// E7: a protocol on a port registered to another.
    E7Masquerade,
}

impl Stage {
    /// `E1` … `E7`.
    pub fn code(self) -> &'static str {
        match self {
            Stage::E1InboundScan => "E1",
            Stage::E2InboundExploit => "E2",
            Stage::E3EggDownload => "E3",
            Stage::E4C2 => "E4",
            Stage::E5OutboundAttack => "E5",
            Stage::E6NewListener => "E6",
            Stage::E7Masquerade => "E7",
        }
    }

    /// Human name (`inbound scan`, `egg download`, ...).
    pub fn name(self) -> &'static str {
        match self {
            Stage::E1InboundScan => "inbound scan",
            Stage::E2InboundExploit => "inbound exploit",
            Stage::E3EggDownload => "egg download",
            Stage::E4C2 => "C&C channel",
            Stage::E5OutboundAttack => "outbound attack",
            Stage::E6NewListener => "new listener",
            Stage::E7Masquerade => "masquerade",
        }
    }

    /// Parses `E1`..`E7` (case-insensitive).
    pub fn from_code(s: &str) -> Option<Stage> {
        Some(match s.to_ascii_uppercase().as_str() {
            "E1" => Stage::E1InboundScan,
            "E2" => Stage::E2InboundExploit,
            "E3" => Stage::E3EggDownload,
            "E4" => Stage::E4C2,
            "E5" => Stage::E5OutboundAttack,
            "E6" => Stage::E6NewListener,
            "E7" => Stage::E7Masquerade,
            _ => return None,
        })
    }
}

/// How much a piece of evidence weighs.
#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Strength {
    /// Contradicted by a parser, or a generic/policy signal.
    Weak,
    /// Ordinary signature or detector hit.
    Normal,
    /// Confirmed by several signals (parser agrees with the rule, bot commands seen...).
    Strong,
}

/// Where a piece of evidence came from.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum EvidenceSource {
    /// A signature.
    Alert {
        /// Generator id.
        gid: u32,
        /// Signature id.
        sid: u32,
        /// Message.
        msg: String,
        /// Classtype.
        classtype: Option<String>,
    },
    /// A behavioural notice.
    Notice {
        /// Notice kind name (`scan_detected`, `c2_channel`, ...).
        kind: String,
        /// Its suppression identifier.
        identifier: String,
    },
    /// A protocol anomaly (e.g. PCT overflow shape).
    Anomaly {
        /// Event name.
        event: String,
    },
}

/// What an attack or channel is carried by, to compare infection and propagation
/// vectors and to group campaigns.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Vector {
    /// IP protocol number.
    pub proto: u8,
    /// Server port.
    pub port: u16,
    /// Exploit signature id, or a named anomaly, when known.
    pub signature: Option<String>,
}

/// One piece of evidence about one host.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Evidence {
    /// When.
    pub ts: Timestamp,
    /// The host it is about.
    pub host: IpAddr,
    /// Stage.
    pub stage: Stage,
    /// The other party (scanner, exploiter, controller, egg server, victim).
    pub peer: Option<IpAddr>,
    /// Flow.
    pub flow_id: Option<FlowId>,
    /// Source.
    pub source: EvidenceSource,
    /// Weight.
    pub strength: Strength,
    /// Vector (exploits, propagation, scans).
    pub vector: Option<Vector>,
    /// Egg hash (E3).
    pub egg_sha256: Option<String>,
    /// Controller endpoint and protocol (E4): `irc 198.51.100.9:443`.
    pub controller: Option<String>,
    /// One line for people.
    pub detail: String,
}
