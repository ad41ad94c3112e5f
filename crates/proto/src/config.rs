//! Protocol-stage configuration: limits and logger options, per protocol.
//!
//! Every limit carries its unit in its name or doc; reaching one bumps a counter
//! (see [`crate::Proto::counters`]) and, where traffic is concerned, raises a named
//! anomaly.

use stormwatch_model::AppProto;

/// Settings of the protocol stage.
#[derive(Clone, Debug, Default)]
pub struct ProtoConfig {
    /// Identification (probing, bail-out, expectations, masquerade).
    pub detect: DetectConfig,
    /// TLS / SSLv2 / PCT settings.
    pub tls: crate::tls::TlsConfig,
    /// IRC settings.
    pub irc: crate::irc::IrcConfig,
    /// SSH settings.
    pub ssh: crate::ssh::SshConfig,
    /// HTTP settings.
    pub http: crate::http::HttpConfig,
    /// DNS settings.
    pub dns: crate::dns::DnsConfig,
    /// FTP settings.
    pub ftp: crate::ftp::FtpConfig,
    /// SMTP settings.
    pub smtp: crate::smtp::SmtpConfig,
    /// TFTP settings.
    pub tftp: crate::tftp::TftpConfig,
}

/// Transport a protocol switch or detection port applies to.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Transport {
    /// TCP streams.
    Tcp,
    /// UDP datagrams.
    Udp,
}

/// A server port on which a protocol is tried first (Suricata's
/// `app-layer.protocols.<p>.detection-ports.dp`). Content still decides: the port
/// only moves the protocol's probe to the front of the queue.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct DetectionPort {
    /// Protocol.
    pub proto: AppProto,
    /// Transport.
    pub transport: Transport,
    /// Server (destination) port.
    pub port: u16,
}

/// Protocol identification settings.
#[derive(Clone, Debug)]
pub struct DetectConfig {
    /// Bytes per direction kept for probing while a direction is unidentified
    /// (default 4096). Past it the direction's detection fails (Suricata's
    /// `tcp-protodetect-bailout`), counter `proto.detect.bailout`.
    pub max_detect_bytes: usize,
    /// Stream chunks per direction probed before giving up (default 32).
    pub max_detect_chunks: u32,
    /// Datagrams with payload per direction probed on a UDP flow before that
    /// direction gives up (default 4; Suricata: 1).
    pub max_detect_datagrams: u32,
    /// How many times a flow may be re-identified after a parser violation
    /// (default 2); then the flow is `failed`.
    pub max_reidentify: u8,
    /// Protocols not identified on TCP.
    pub disabled_tcp: Vec<AppProto>,
    /// Protocols not identified on UDP.
    pub disabled_udp: Vec<AppProto>,
    /// Extra detection ports (probe order hints).
    pub detection_ports: Vec<DetectionPort>,
    /// Port-gated protocols: a protocol with an entry here is probed on its
    /// transport only when the flow's server or client port is one of its
    /// entries' ports or of its [`DetectConfig::detection_ports`]. Suricata finds
    /// some protocols by port-bound probing alone (DNS: port 53 and its
    /// configured detection ports); compatibility runs gate them the same way.
    /// Empty by default: content alone decides, on any port.
    pub gated_ports: Vec<DetectionPort>,
    /// Pending data-channel expectations (FTP PORT/PASV, IRC DCC) kept at once
    /// (default 4096); the oldest is dropped past it, counter `proto.expect.evicted`.
    pub max_expectations: usize,
    /// Seconds of packet time an expectation stays valid (default 300).
    pub expectation_timeout_secs: i64,
    /// Report protocols running on a server port registered to another protocol
    /// (default true).
    pub masquerade: bool,
}

impl DetectConfig {
    /// Whether `proto` may be probed on a flow with these ports (see
    /// [`DetectConfig::gated_ports`]).
    pub fn port_allows(&self, proto: AppProto, transport: Transport, ports: [u16; 2]) -> bool {
        let gated = |d: &&DetectionPort| d.proto == proto && d.transport == transport;
        if !self.gated_ports.iter().any(|d| gated(&d)) {
            return true;
        }
        self.gated_ports
            .iter()
            .chain(self.detection_ports.iter())
            .filter(gated)
            .any(|d| ports.contains(&d.port))
    }
}

impl Default for DetectConfig {
    fn default() -> Self {
        DetectConfig {
            max_detect_bytes: 4096,
            max_detect_chunks: 32,
            max_detect_datagrams: 4,
            max_reidentify: 2,
            disabled_tcp: Vec::new(),
            disabled_udp: Vec::new(),
            detection_ports: Vec::new(),
            gated_ports: Vec::new(),
            max_expectations: 4096,
            expectation_timeout_secs: 300,
            masquerade: true,
        }
    }
}
