//! A parsed, validated scenario: hosts, networks, a seed and a timeline of
//! activities. The file format is described in `docs/scenarios.md`; the parser
//! lives in [`parse`].

pub(crate) mod parse;
pub(crate) mod text;

use crate::payload::exe::BodyKind;
use std::net::Ipv4Addr;
use stormwatch_model::{Cidr, Label, Timestamp};

/// A scenario ready to generate.
#[derive(Clone, Debug, PartialEq)]
pub struct Scenario {
    /// File name used in messages.
    pub origin: String,
    /// Scenario name (`mipsiv`).
    pub name: String,
    /// Seed of every random choice; change it for different bytes, same story.
    pub seed: u64,
    /// Capture start.
    pub start: Timestamp,
    /// Capture end (the last packet may be earlier; quiet time is watched time).
    pub end: Option<Timestamp>,
    /// The protected networks.
    pub home_net: Vec<Cidr>,
    /// Declared and implied hosts.
    pub hosts: Vec<Host>,
    /// Timeline, in time order.
    pub activities: Vec<Activity>,
}

/// TCP/IP stack of a host (TTL, window, options, IP ID behaviour).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Os {
    /// Windows 2000/XP: TTL 128, window 64240, MSS+SACK options, global IP ID counter.
    Windows,
    /// Linux 2.6: TTL 64, window 5840, MSS+SACK+timestamps+window scale.
    Linux,
    /// FreeBSD/Mac OS X: TTL 64, window 65535, MSS+window scale+timestamps.
    Bsd,
}

impl Os {
    /// Parses `windows`, `linux` or `bsd`.
    pub fn from_name(s: &str) -> Option<Os> {
        Some(match s {
            "windows" => Os::Windows,
            "linux" => Os::Linux,
            "bsd" => Os::Bsd,
            _ => return None,
        })
    }
}

/// A host.
#[derive(Clone, Debug, PartialEq)]
pub struct Host {
    /// Name used by activities (`victim1`); implied hosts are named by their address.
    pub name: String,
    /// Address.
    pub ip: Ipv4Addr,
    /// Stack.
    pub os: Os,
    /// Label override (otherwise derived from what the host does).
    pub label: Option<Label>,
    /// Round-trip time to the sensor in milliseconds (default: 0.4 inside
    /// `home_net`, 40–160 outside, derived from the address).
    pub rtt_ms: Option<f64>,
    /// Free text copied into the labels.
    pub note: Option<String>,
    /// Line of the declaration (0 for implied hosts).
    pub line: u32,
}

/// One timeline entry.
#[derive(Clone, Debug, PartialEq)]
pub struct Activity {
    /// Line of the `[[activity]]` header.
    pub line: u32,
    /// Start time.
    pub at: Timestamp,
    /// Campaign name for the hosts this activity compromises or controls.
    pub campaign: Option<String>,
    /// What happens.
    pub spec: ActivitySpec,
}

/// The kinds of activity.
#[derive(Clone, Debug, PartialEq)]
pub enum ActivitySpec {
    /// A port scan.
    Scan(Scan),
    /// An exploit attempt.
    Exploit(Exploit),
    /// A victim's new listener and the attacker's session on it.
    Listener(Listener),
    /// An IRC client session.
    IrcSession(IrcSession),
    /// An HTTP GET of a file.
    HttpDownload(HttpDownload),
    /// A TLS (or SSLv2/PCT) session.
    TlsSession(TlsSession),
    /// DNS lookups.
    Dns(Dns),
    /// An SSH session.
    SshSession(SshSession),
    /// An FTP session with one data connection.
    FtpSession(FtpSession),
    /// A TFTP read.
    Tftp(Tftp),
    /// A victim that scans and exploits further hosts, for generations.
    Propagate(Propagate),
    /// A controller's order to its bots, and their obedience.
    BotCommand(BotCommand),
    /// Benign background traffic.
    Background(Background),
}

impl ActivitySpec {
    /// The `kind` word.
    pub fn kind(&self) -> &'static str {
        match self {
            ActivitySpec::Scan(_) => "scan",
            ActivitySpec::Exploit(_) => "exploit",
            ActivitySpec::Listener(_) => "listener",
            ActivitySpec::IrcSession(_) => "irc_session",
            ActivitySpec::HttpDownload(_) => "http_download",
            ActivitySpec::TlsSession(_) => "tls_session",
            ActivitySpec::Dns(_) => "dns",
            ActivitySpec::SshSession(_) => "ssh_session",
            ActivitySpec::FtpSession(_) => "ftp_session",
            ActivitySpec::Tftp(_) => "tftp",
            ActivitySpec::Propagate(_) => "propagate",
            ActivitySpec::BotCommand(_) => "bot_command",
            ActivitySpec::Background(_) => "background",
        }
    }
}

/// Probe transport of a scan.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum ScanProto {
    /// TCP SYN (or connect) probes.
    Tcp,
    /// UDP probes; closed ports answer ICMP port unreachable.
    Udp,
    /// ICMP echo requests.
    Icmp,
}

/// Target order.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Order {
    /// Ascending addresses (then ports).
    Sequential,
    /// A seeded permutation.
    Random,
}

/// The tool behind a scan (its packet fingerprint).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Tool {
    /// nmap SYN scan: one source port, window 1024–4096, MSS option only,
    /// random IP IDs; the kernel resets half-open connections.
    NmapLike,
    /// masscan: window 1024, no options, fixed TTL 255 and source port, RST after SYN-ACK.
    MasscanLike,
    /// A worm's sweep through the OS stack: full connects to ascending
    /// addresses, incrementing source ports, closed by RST.
    WormSequential,
    /// A person: irregular, seconds-apart full connects, closed by FIN.
    Manual,
    /// Plain OS-stack SYNs, RST after SYN-ACK (a generic scanner).
    Plain,
}

impl Tool {
    /// The label word (`nmap-like`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            Tool::NmapLike => "nmap-like",
            Tool::MasscanLike => "masscan-like",
            Tool::WormSequential => "worm-sequential",
            Tool::Manual => "manual",
            Tool::Plain => "plain",
        }
    }
    /// Parses a tool word.
    pub fn from_name(s: &str) -> Option<Tool> {
        Some(match s {
            "nmap-like" => Tool::NmapLike,
            "masscan-like" => Tool::MasscanLike,
            "worm-sequential" => Tool::WormSequential,
            "manual" => Tool::Manual,
            "plain" => Tool::Plain,
            _ => return None,
        })
    }
}

/// A scan.
#[derive(Clone, Debug, PartialEq)]
pub struct Scan {
    /// Scanner.
    pub from: Ipv4Addr,
    /// Target addresses (expanded).
    pub targets: Vec<Ipv4Addr>,
    /// Ports probed on each target.
    pub ports: Vec<u16>,
    /// Probe transport.
    pub proto: ScanProto,
    /// Target order.
    pub order: Order,
    /// Probes per second.
    pub rate: f64,
    /// Targets that answer on every probed port (besides the random share).
    pub open: Vec<Ipv4Addr>,
    /// Share of the other targets with an open port.
    pub open_ratio: f64,
    /// Share of the other targets that exist (answer at all).
    pub live_ratio: f64,
    /// Tool fingerprint.
    pub tool: Tool,
    /// Fixed source port (overrides the tool's choice).
    pub src_port: Option<u16>,
    /// Fixed IP ID.
    pub ip_id: Option<u16>,
    /// Initial TTL of the probes.
    pub ttl: Option<u8>,
    /// Window of the probes.
    pub window: Option<u16>,
    /// Whether the labels call the scan automated (default: every tool but `manual`).
    pub automated: Option<bool>,
}

/// Exploit vectors the simulator can write.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Vector {
    /// The PCT Client_Hello overflow (MS04-011).
    PctOverflow,
}

impl Vector {
    /// Label word.
    pub fn as_str(self) -> &'static str {
        match self {
            Vector::PctOverflow => "pct-overflow",
        }
    }
}

/// How an exploit's bytes travel.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Transport {
    /// TCP segments of at most this many bytes (1 = one byte per segment).
    pub segment_size: Option<usize>,
    /// Overlapping segments carrying conflicting bytes (real bytes win under
    /// the `bsd`, `windows` and `linux` policies).
    pub overlap: bool,
    /// IP fragments with this many payload bytes each (multiple of 8).
    pub ip_fragment: Option<usize>,
    /// Send IP fragments last-first.
    pub fragment_reverse: bool,
    /// Retransmit the last exploit segment after a timeout.
    pub retransmit: bool,
}

/// An exploit attempt.
#[derive(Clone, Debug, PartialEq)]
pub struct Exploit {
    /// Attacker.
    pub from: Ipv4Addr,
    /// Victim.
    pub to: Ipv4Addr,
    /// Service port.
    pub port: u16,
    /// Vector.
    pub vector: Vector,
    /// Whether the victim is vulnerable (a listener may follow) or patched.
    pub success: bool,
    /// Transport options.
    pub transport: Transport,
    /// Record body length of the overflow hello.
    pub body_len: usize,
}

/// What happens on a listener.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ListenerSession {
    /// A command shell: banner, prompt, the given commands and their output.
    Shell(Vec<String>),
    /// The attacker connects and leaves without a word.
    Silent,
}

/// A victim's new listening port and the attacker's session on it.
#[derive(Clone, Debug, PartialEq)]
pub struct Listener {
    /// Victim.
    pub host: Ipv4Addr,
    /// Port it listens on.
    pub port: u16,
    /// Who connects.
    pub client: Ipv4Addr,
    /// What the session carries.
    pub session: ListenerSession,
}

/// Nick style.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum NickStyle {
    /// A person's nick.
    Human,
    /// `[USA]|1234567`.
    Bot,
    /// `xX123`.
    Trojan,
}

/// An IRC session.
#[derive(Clone, Debug, PartialEq)]
pub struct IrcSession {
    /// Client.
    pub client: Ipv4Addr,
    /// Server.
    pub server: Ipv4Addr,
    /// Server port.
    pub port: u16,
    /// Nick (generated from `nick_style` when absent).
    pub nick: Option<String>,
    /// Nick style for generated nicks.
    pub nick_style: NickStyle,
    /// User name.
    pub user: String,
    /// Server password (PASS).
    pub pass: Option<String>,
    /// Channel joined.
    pub channel: String,
    /// Channel key.
    pub key: Option<String>,
    /// Server name in prefixes.
    pub server_name: String,
    /// How long the session stays open.
    pub duration: i64,
    /// Server PING interval, ns.
    pub ping_interval: i64,
    /// A command-and-control session (labels: `c2`, controller role).
    pub c2: bool,
    /// Lines the client says in the channel, spread over the session.
    pub says: Vec<String>,
    /// Lines other members say (relayed by the server).
    pub hears: Vec<String>,
    /// Other members' nicks.
    pub members: Vec<String>,
    /// Channel topic.
    pub topic: Option<String>,
    /// Cut client lines across TCP segments.
    pub split_lines: bool,
    /// Send QUIT and close at the end (otherwise the session is still open
    /// when the capture ends).
    pub quit: bool,
}

/// An HTTP download.
#[derive(Clone, Debug, PartialEq)]
pub struct HttpDownload {
    /// Client.
    pub client: Ipv4Addr,
    /// Server.
    pub server: Ipv4Addr,
    /// Server port.
    pub port: u16,
    /// Request path.
    pub path: String,
    /// `Host` header.
    pub host_header: String,
    /// Body kind.
    pub body: BodyKind,
    /// Body size in bytes.
    pub size: usize,
    /// Chunk size when the response is chunked.
    pub chunked: Option<usize>,
    /// `User-Agent`.
    pub user_agent: String,
}

/// How a TLS session starts.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Hello {
    /// A TLS ClientHello record.
    Tls,
    /// An SSLv2-format ClientHello offering TLS 1.0 (2004 browsers).
    Sslv2Compat,
    /// A well-formed PCT 1.0 ClientHello, refused by the server (PCT ERROR).
    Pct,
}

/// A TLS session.
#[derive(Clone, Debug, PartialEq)]
pub struct TlsSession {
    /// Client.
    pub client: Ipv4Addr,
    /// Server.
    pub server: Ipv4Addr,
    /// Port.
    pub port: u16,
    /// SNI (and certificate CN).
    pub sni: String,
    /// Protocol version (`0x0301` or `0x0303`).
    pub version: u16,
    /// Hello format.
    pub hello: Hello,
    /// Request/response exchanges after the handshake.
    pub requests: u32,
    /// Response size per request, bytes.
    pub response_size: usize,
}

/// DNS lookups.
#[derive(Clone, Debug, PartialEq)]
pub struct Dns {
    /// Client.
    pub client: Ipv4Addr,
    /// Resolver.
    pub server: Ipv4Addr,
    /// Names looked up in turn.
    pub names: Vec<String>,
    /// Query type.
    pub qtype: u16,
    /// Answer address (derived from the name when absent).
    pub answer: Option<Ipv4Addr>,
    /// NXDOMAIN instead of an answer.
    pub nxdomain: bool,
}

/// An SSH session.
#[derive(Clone, Debug, PartialEq)]
pub struct SshSession {
    /// Client.
    pub client: Ipv4Addr,
    /// Server.
    pub server: Ipv4Addr,
    /// Port.
    pub port: u16,
    /// Client software in its banner.
    pub client_software: String,
    /// Server software in its banner.
    pub server_software: String,
    /// Encrypted exchanges after the key exchange.
    pub exchanges: u32,
}

/// An FTP session.
#[derive(Clone, Debug, PartialEq)]
pub struct FtpSession {
    /// Client.
    pub client: Ipv4Addr,
    /// Server.
    pub server: Ipv4Addr,
    /// Control port.
    pub port: u16,
    /// Login.
    pub user: String,
    /// Password.
    pub pass: String,
    /// File retrieved.
    pub file: String,
    /// File kind.
    pub body: BodyKind,
    /// File size.
    pub size: usize,
    /// PASV (true) or PORT (false).
    pub passive: bool,
}

/// A TFTP read.
#[derive(Clone, Debug, PartialEq)]
pub struct Tftp {
    /// Client.
    pub client: Ipv4Addr,
    /// Server.
    pub server: Ipv4Addr,
    /// File.
    pub file: String,
    /// File kind.
    pub body: BodyKind,
    /// File size.
    pub size: usize,
}

/// A worm's spread from `from`.
#[derive(Clone, Debug, PartialEq)]
pub struct Propagate {
    /// First infected host (already exploited earlier in the timeline).
    pub from: Ipv4Addr,
    /// Port attacked.
    pub port: u16,
    /// Vector.
    pub vector: Vector,
    /// Address pool the infected hosts scan.
    pub pool: Vec<Ipv4Addr>,
    /// Generations after `from` (from's victims are generation `from + 1`).
    pub generations: u32,
    /// Victims per infected host (last generation: none).
    pub fanout: u32,
    /// Probes per infected host.
    pub probes: u32,
    /// Probes per second.
    pub rate: f64,
    /// Share of probed addresses that answer with an open port (not vulnerable).
    pub open_ratio: f64,
    /// Delay from infection to the victim's own scanning.
    pub delay: i64,
    /// Egg fetched by each victim from its infector over HTTP (port, size).
    pub egg: Option<(u16, usize)>,
}

/// What bots are told to do.
#[derive(Clone, Debug, PartialEq)]
pub enum BotOrder {
    /// Scan `targets` on `ports`.
    Scan {
        /// Targets per bot (each bot scans a share).
        targets: Vec<Ipv4Addr>,
        /// Ports.
        ports: Vec<u16>,
        /// Probes per second per bot.
        rate: f64,
        /// Share of targets with the port open.
        open_ratio: f64,
    },
    /// Download and run a file over HTTP.
    Download {
        /// Egg server.
        server: Ipv4Addr,
        /// Port.
        port: u16,
        /// Path.
        path: String,
        /// Size.
        size: usize,
    },
}

/// A controller's order to the bots in a channel.
#[derive(Clone, Debug, PartialEq)]
pub struct BotCommand {
    /// The IRC server the order goes through.
    pub controller: Ipv4Addr,
    /// Channel.
    pub channel: String,
    /// Operator nick.
    pub operator: String,
    /// Command text (generated from the order when absent).
    pub text: Option<String>,
    /// Delay before the bots act, ns.
    pub delay: i64,
    /// Bots that obey (default: every client with a session to the controller).
    pub bots: Vec<Ipv4Addr>,
    /// The order.
    pub order: BotOrder,
    /// Deliver as the channel TOPIC instead of a PRIVMSG.
    pub as_topic: bool,
}

/// Weights of the background mix.
#[derive(Clone, Debug, PartialEq)]
pub struct Mix {
    /// HTTPS sessions.
    pub tls: u32,
    /// HTTP page fetches.
    pub http: u32,
    /// DNS lookups.
    pub dns: u32,
    /// SSH sessions.
    pub ssh: u32,
    /// ICMP echo.
    pub icmp: u32,
    /// NTP-like UDP exchanges.
    pub udp: u32,
}

/// Benign background traffic.
#[derive(Clone, Debug, PartialEq)]
pub struct Background {
    /// End of the background.
    pub until: Timestamp,
    /// Internal clients.
    pub clients: Vec<Ipv4Addr>,
    /// External servers.
    pub servers: Vec<Ipv4Addr>,
    /// Resolver for DNS lookups.
    pub resolver: Option<Ipv4Addr>,
    /// Flows per minute.
    pub rate: f64,
    /// Mix.
    pub mix: Mix,
    /// Quiet gaps: no background inside these `[from, to)` spans.
    pub quiet: Vec<(Timestamp, Timestamp)>,
}
