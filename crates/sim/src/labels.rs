//! Ground-truth labels written next to every generated capture (schema in
//! `docs/scenarios.md`). Readers: the correlation and behaviour tests, and
//! `stormwatch eval`.

use serde::{Deserialize, Serialize};

/// The labels of one generated scenario.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Labels {
    /// Scenario name.
    pub scenario: String,
    /// Seed used.
    pub seed: u64,
    /// `HOME_NET` as CIDR strings.
    pub home_net: Vec<String>,
    /// Capture start (RFC 3339 UTC).
    pub start: String,
    /// Capture end: the scenario's end, or the last packet.
    pub end: String,
    /// Every address in the capture, sorted by address.
    pub hosts: Vec<HostLabel>,
    /// Scans.
    pub scans: Vec<ScanLabel>,
    /// Exploit attempts.
    pub exploits: Vec<ExploitLabel>,
    /// Command-and-control sessions.
    pub c2: Vec<C2Label>,
    /// Executable downloads (malicious eggs and legitimate installers).
    pub eggs: Vec<EggLabel>,
    /// New listeners on victims.
    pub listeners: Vec<ListenerLabel>,
    /// Infections of one internal host by another.
    pub propagation: Vec<PropagationLabel>,
    /// Campaigns.
    pub campaigns: Vec<CampaignLabel>,
}

/// The expected verdict for one address.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostLabel {
    /// Address.
    pub ip: String,
    /// Scenario name of the host, if declared.
    pub name: Option<String>,
    /// Expected label: `worm`, `bot`, `trojan`, `compromised`, `scanner`,
    /// `probed`, `targeted`, `clean`, `controller`, `exploiter`, `egg-server`.
    pub label: String,
    /// Evidence stages about this host, in order of first occurrence (`E1`..`E7`).
    pub stages: Vec<String>,
    /// Other roles the host plays (a worm is also a `scanner` and `exploiter`).
    pub roles: Vec<String>,
    /// Campaign.
    pub campaign: Option<String>,
    /// Who infected it.
    pub infected_by: Option<String>,
    /// Generation in the propagation tree (1 = infected from outside).
    pub generation: Option<u32>,
    /// Inside `home_net`.
    pub internal: bool,
    /// Free text.
    pub note: Option<String>,
}

/// One scan.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ScanLabel {
    /// Scanner address.
    pub scanner: String,
    /// `horizontal` (one port, many hosts), `vertical` (one host, many
    /// ports) or `block` (many of both).
    pub kind: String,
    /// `tcp`, `udp` or `icmp`.
    pub proto: String,
    /// Distinct ports probed (ascending).
    pub ports: Vec<u16>,
    /// Distinct target addresses.
    pub targets: usize,
    /// Probes sent (first contacts, retransmissions excluded).
    pub probes: usize,
    /// Targets that answered with an open port.
    pub open: usize,
    /// Automated tool (true) or a person (false).
    pub automated: bool,
    /// Tool fingerprint: `masscan-like`, `nmap-like`, `worm-sequential`, `manual`, `plain`.
    pub tool: String,
    /// `sequential` or `random`.
    pub order: String,
    /// Nominal probe rate, probes per second.
    pub rate: f64,
    /// First probe.
    pub first_probe_ts: String,
    /// Last probe.
    pub last_probe_ts: String,
}

/// The client side of a flow.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FlowRef {
    /// Client source port.
    pub src_port: u16,
}

/// One exploit attempt.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExploitLabel {
    /// Attacker.
    pub from: String,
    /// Victim.
    pub to: String,
    /// Service port.
    pub port: u16,
    /// `pct-overflow`.
    pub vector: String,
    /// Time of the first exploit byte.
    pub ts: String,
    /// The flow.
    pub flow: FlowRef,
    /// The victim was vulnerable.
    pub success: bool,
    /// `normal`, or the evasion used (`segment_size=1`, `overlap`, `ip_fragment=8`).
    pub transport: String,
}

/// One command-and-control session.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct C2Label {
    /// Compromised client.
    pub client: String,
    /// Controller.
    pub server: String,
    /// Server port.
    pub port: u16,
    /// `irc`.
    pub proto: String,
    /// Nick.
    pub nick: String,
    /// Channel.
    pub channel: String,
    /// Channel key.
    pub key: Option<String>,
    /// Bot commands were sent in the session.
    pub bot_commands: bool,
    /// Session start.
    pub ts: String,
    /// Client source port.
    pub flow: FlowRef,
}

/// One executable download.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EggLabel {
    /// Downloader.
    pub client: String,
    /// Server.
    pub server: String,
    /// Server port.
    pub port: u16,
    /// `http`, `ftp` or `tftp`.
    pub proto: String,
    /// Path or file name.
    pub name: String,
    /// SHA-256 of the file, lowercase hex.
    pub sha256: String,
    /// Size in bytes.
    pub size: usize,
    /// The client had been exploited before the download.
    pub after_exploit: bool,
    /// A malicious egg (false: a legitimate installer).
    pub malicious: bool,
    /// Time of the request.
    pub ts: String,
}

/// A victim's new listener.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListenerLabel {
    /// Victim.
    pub host: String,
    /// Port.
    pub port: u16,
    /// First client to connect.
    pub first_client: String,
    /// Time of the first connection.
    pub ts: String,
}

/// One infection of an internal host by another.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PropagationLabel {
    /// Infecting host.
    pub from: String,
    /// Infected host.
    pub to: String,
    /// Time of the exploit.
    pub ts: String,
    /// `tcp/443 pct-overflow`.
    pub vector: String,
    /// Generation of `to`.
    pub generation: u32,
}

/// A campaign.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CampaignLabel {
    /// Name given in the scenario.
    pub name: String,
    /// Dominant kind of its hosts.
    pub label: String,
    /// Compromised member hosts.
    pub hosts: Vec<String>,
    /// Shared controller (`irc 198.51.100.9:443`), if any.
    pub controller: Option<String>,
    /// Shared infection vector (`tcp/443 pct-overflow`), if any.
    pub vector: Option<String>,
}

impl Labels {
    /// The label entry of `ip`.
    pub fn host(&self, ip: &str) -> Option<&HostLabel> {
        self.hosts.iter().find(|h| h.ip == ip)
    }

    /// Pretty JSON with a trailing newline.
    pub fn to_json(&self) -> String {
        let mut s = serde_json::to_string_pretty(self).unwrap_or_default();
        s.push('\n');
        s
    }
}
