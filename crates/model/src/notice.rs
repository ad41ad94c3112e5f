//! Behavioural findings (Zeek's "notices"): facts about behaviour, one record per
//! finding (suppressed by `identifier`), not yet a judgement about a host.

use crate::{AppProto, FileMagic, FlowId, IpProto, Stage, Timestamp};
use serde::{Deserialize, Serialize};
use std::net::IpAddr;

/// How a scan covers its targets.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ScanKind {
    /// One port (or few) across many hosts.
    Horizontal,
    /// Many ports on one host (or few).
    Vertical,
    /// Many ports across many hosts.
    Block,
    /// ICMP echo sweep.
    PingSweep,
}

/// Order in which targets were probed.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TargetOrder {
    /// Increasing addresses/ports by one.
    Sequential,
    /// Constant stride other than one.
    Strided,
    /// No visible order.
    Random,
    /// Too few probes to tell.
    Unknown,
}

/// The tool behind a scan, as far as the packets show.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ToolFingerprint {
    /// Named tool (`nmap`, `masscan`, `zmap`, `worm-sequential`), when one matches.
    pub name: Option<String>,
    /// Automated (tool) rather than manual.
    pub automated: bool,
    /// Why: the traits that decided it, for people.
    pub reason: String,
    /// Probes per second.
    pub rate_pps: f64,
    /// Coefficient of variation of inter-probe gaps (low = machine-regular).
    pub gap_cv: f64,
    /// Target order.
    pub order: TargetOrder,
    /// Header fields that stayed constant across probes (`src_port`, `ip_id`, `ttl`, `window`, `tcp_options`).
    pub constant_fields: Vec<String>,
}

/// A scan decided (or ended).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ScanInfo {
    /// Scanner.
    pub scanner: IpAddr,
    /// Kind.
    pub kind: ScanKind,
    /// Protocol probed.
    pub proto: IpProto,
    /// Ports probed (up to a limit), ascending.
    pub ports: Vec<u16>,
    /// Distinct ports (estimated beyond the limit).
    pub port_count: u64,
    /// Distinct targets (estimated beyond the limit).
    pub target_count: u64,
    /// Targets that answered (or accepted) / targets probed.
    pub live_ratio: f64,
    /// Failed first contacts before the decision.
    pub failures_to_decision: u32,
    /// First probe.
    pub first_seen: Timestamp,
    /// Latest probe.
    pub last_seen: Timestamp,
    /// Tool.
    pub tool: ToolFingerprint,
    /// A few targets (for timelines), ascending.
    pub sample_targets: Vec<IpAddr>,
}

/// An IRC (or other) command-and-control channel.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct C2Info {
    /// Controller address.
    pub server: IpAddr,
    /// Controller port.
    pub port: u16,
    /// Protocol of the channel.
    pub proto: AppProto,
    /// Client nick (IRC).
    pub nick: Option<String>,
    /// Channels joined, with keys when given.
    pub channels: Vec<String>,
    /// Traits that make it C&C (`irc_on_non_irc_port`, `random_nick`, `keyed_channel`, `bot_command`, `beacon`).
    pub traits: Vec<String>,
    /// Bot commands seen (`.advscan dcom135 200 3 0 -r -s`).
    pub commands: Vec<String>,
    /// For beacons: mean interval in seconds and regularity score (0..1).
    pub beacon: Option<(f64, f64)>,
}

/// A host began serving a port.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ListenerInfo {
    /// Port.
    pub port: u16,
    /// Protocol.
    pub proto: IpProto,
    /// First client that connected.
    pub first_client: IpAddr,
    /// How long the host had been watched before (seconds).
    pub watched_secs: f64,
}

/// A file download (an "egg" when executable).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DownloadInfo {
    /// Host that downloaded it.
    pub client: IpAddr,
    /// Host that served it.
    pub server: IpAddr,
    /// Server port.
    pub server_port: u16,
    /// Carrying protocol.
    pub proto: AppProto,
    /// URL or file name.
    pub name: Option<String>,
    /// Content type.
    pub magic: FileMagic,
    /// Size in bytes.
    pub size: u64,
    /// SHA-256 (hex).
    pub sha256: Option<String>,
    /// An exploit against the client was seen before this download.
    pub exploit_before: bool,
}

/// A former target became a source of attacks.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PropagationInfo {
    /// The propagating host.
    pub host: IpAddr,
    /// Destination port of the outbound attack.
    pub port: u16,
    /// Protocol.
    pub proto: IpProto,
    /// Exploit signature id, when the vector is a rule.
    pub sid: Option<u32>,
    /// Victims so far.
    pub targets: Vec<IpAddr>,
    /// Time the host was itself first attacked on the same vector, if it was.
    pub infected_at: Option<Timestamp>,
}

/// What a notice is about. Serialised with its variant name under `type`
/// (`{"type": "scan_detected", ...}`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum NoticeKind {
    /// A scanner was decided.
    ScanDetected(ScanInfo),
    /// A scanner went quiet (final counts).
    ScanEnded(ScanInfo),
    /// New listener (E6).
    NewListener(ListenerInfo),
    /// Command-and-control channel (E4).
    C2Channel(C2Info),
    /// Periodic beaconing (E4, weaker).
    Beacon(C2Info),
    /// File download; executable ones are eggs (E3).
    Download(DownloadInfo),
    /// Outbound propagation (E5).
    Propagation(PropagationInfo),
    /// A protocol on a port registered to another (E7).
    Masquerade {
        /// Protocol seen.
        proto: AppProto,
        /// Server address.
        server: IpAddr,
        /// Server port.
        port: u16,
        /// Protocol the port is registered to.
        registered: String,
    },
    /// Password guessing against a service.
    BruteForce {
        /// Service protocol.
        proto: AppProto,
        /// Target.
        target: IpAddr,
        /// Port.
        port: u16,
        /// Failed attempts.
        attempts: u32,
    },
}

/// One behavioural finding.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Notice {
    /// Time of the packet or flow end that decided it.
    pub ts: Timestamp,
    /// Suppression identifier: one finding, one notice (`scan:203.0.113.7:tcp/443`).
    pub identifier: String,
    /// The host the notice is about (scanner, victim, client).
    pub host: IpAddr,
    /// The other party, when there is one (controller, scanner's first target, egg server).
    pub peer: Option<IpAddr>,
    /// Flow that decided it.
    pub flow_id: Option<FlowId>,
    /// Evidence stage this supports for `host`, when it maps to one.
    pub stage: Option<Stage>,
    /// One line for people.
    pub msg: String,
    /// Details.
    pub kind: NoticeKind,
}
