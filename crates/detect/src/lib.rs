//! # Overview
//!
//! `stormwatch-detect` holds the behavioural detectors: they read facts
//! (packet headers, flow records, application events, alerts, anomalies) and
//! emit [`Notice`]s — behavioural findings, each with a suppression
//! `identifier` (one finding, one notice) and the evidence stage it supports
//! for its `host`. The correlator turns them into verdicts.
//!
//! The primary types are [`Detectors`] (all detectors behind one set of entry
//! points) and [`DetectConfig`] (every threshold, with its unit in its name).
//!
//! | detector | decides | notice |
//! |---|---|---|
//! | scans | Threshold Random Walk per source; ping-sweep fan-out; tool fingerprint | `ScanDetected` (scanner; and one `E1` record per home target), `ScanEnded` |
//! | brute force | failed FTP logins, short SSH sessions | `BruteForce` (`E2` on the target) |
//! | new listener | a host accepts on a port it never served | `NewListener` (`E6`) |
//! | IRC C&C | bot traits with weights | `C2Channel` (`E4`) |
//! | beaconing | regular intervals and sizes to one endpoint | `Beacon` (`E4`, weak) |
//! | eggs | executable files downloaded | `Download` (`E3`) with `exploit_before` |
//! | propagation | a former target attacks others | `Propagation` (`E5`) with `infected_at` |
//! | masquerade | a protocol on a port registered to another | `Masquerade` (`E7`) |
//!
//! Everything is driven by packet time (no wall clock) and bounded: every
//! table has a limit in [`DetectConfig`]; reaching it bumps a counter.
//!
//! ```
//! use stormwatch_detect::{DetectConfig, Detectors};
//! use stormwatch_model::*;
//!
//! let mut d = Detectors::new(DetectConfig::default(), NetSet::rfc1918());
//! let mut out = Vec::new();
//! // masscan-like: SYNs to 10 ports of one host, nothing answers.
//! for port in 0..10u16 {
//!     let p = PacketSummary {
//!         ts: Timestamp::from_secs_nanos(1_000, u32::from(port) * 10_000_000),
//!         flow_id: FlowId(u64::from(port) + 1),
//!         dir: Direction::ToServer,
//!         first_in_flow: true,
//!         src: "203.0.113.7".parse().unwrap(),
//!         dst: "10.1.1.20".parse().unwrap(),
//!         src_port: 61000,
//!         dst_port: 1000 + port * 7,
//!         proto: IpProto::TCP,
//!         tcp_flags: tcp_flags::SYN,
//!         window: 1024,
//!         ip_id: port.wrapping_mul(7919),
//!         ttl: 52,
//!         tcp_options_sig: 0,
//!         mss: None,
//!         icmp: None,
//!         payload_len: 0,
//!         wire_len: 60,
//!     };
//!     d.on_packet(&p, &mut out);
//! }
//! d.finish(Timestamp::from_secs_nanos(1_010, 0), &mut out);
//! let detected = out.iter().find_map(|n| match &n.kind {
//!     NoticeKind::ScanDetected(s) if n.host == s.scanner => Some(s),
//!     _ => None,
//! });
//! let scan = detected.expect("a scanner");
//! assert_eq!(scan.kind, ScanKind::Vertical);
//! assert!(scan.failures_to_decision <= 5);
//! assert_eq!(scan.tool.name.as_deref(), Some("masscan"));
//! ```
#![forbid(unsafe_code)]

mod attacks;
mod beacon;
mod brute;
mod config;
mod fingerprint;
mod hosts;
mod irc;
mod listener;
mod scan;
mod sketch;
mod util;

pub use config::DetectConfig;

use attacks::Attacks;
use std::net::IpAddr;
use stormwatch_model::{
    Alert, Anomaly, AppContext, AppEvent, AppProto, DownloadInfo, FileEvent, FlowRecord, FtpEvent,
    IpProto, NetSet, Notice, NoticeKind, PacketSummary, Stage, Timestamp, TlsEvent,
};
use util::{HomeNet, Suppressor, ep, thousands};

/// What every detector may touch while handling one input.
pub(crate) struct Ctx<'a> {
    pub cfg: &'a DetectConfig,
    pub home: &'a HomeNet,
    pub sup: &'a mut Suppressor,
    pub attacks: &'a mut Attacks,
    pub out: &'a mut Vec<Notice>,
}

impl Ctx<'_> {
    /// `ip` is in `home_net` (every address is when `home_net` is empty).
    pub(crate) fn is_home(&self, ip: IpAddr) -> bool {
        self.home.contains(ip)
    }
}

/// Application-layer probes that name a scanning tool: (needle in the HTTP
/// User-Agent or URI, tool).
const TOOL_HTTP_MARKS: &[(&str, &str)] = &[
    ("nmap scripting engine", "nmap"),
    ("/nmaplowercheck", "nmap"),
    ("masscan/", "masscan"),
    ("zgrab", "zgrab"),
    ("nikto", "nikto"),
];

/// The tool an HTTP request's User-Agent (anywhere) or URI (prefix) names,
/// matched case-insensitively without copying: one pass over the User-Agent
/// that only compares where a byte starts one of the marks.
fn http_tool_mark(ua: &[u8], uri: &[u8]) -> Option<&'static str> {
    let at = |hay: &[u8], i: usize, m: &[u8]| {
        hay.get(i..i.saturating_add(m.len()))
            .is_some_and(|w| w.eq_ignore_ascii_case(m))
    };
    for (m, tool) in TOOL_HTTP_MARKS {
        if at(uri, 0, m.as_bytes()) {
            return Some(tool);
        }
    }
    // Bytes that start a mark, either case: one table lookup per byte.
    const STARTS: [bool; 256] = {
        let mut t = [false; 256];
        let mut i = 0;
        while i < TOOL_HTTP_MARKS.len() {
            let m = TOOL_HTTP_MARKS[i].0.as_bytes();
            if !m.is_empty() {
                t[m[0].to_ascii_lowercase() as usize] = true;
                t[m[0].to_ascii_uppercase() as usize] = true;
            }
            i += 1;
        }
        t
    };
    for (i, b) in ua.iter().enumerate() {
        if !STARTS.get(usize::from(*b)).copied().unwrap_or(false) {
            continue;
        }
        if let Some((_, tool)) = TOOL_HTTP_MARKS
            .iter()
            .find(|(m, _)| at(ua, i, m.as_bytes()))
        {
            return Some(tool);
        }
    }
    None
}

/// The protocol a well-known port is registered to (IANA), for `Masquerade`.
fn registered_name(port: u16) -> &'static str {
    match port {
        20 | 21 => "ftp",
        22 => "ssh",
        23 => "telnet",
        25 | 587 => "smtp",
        53 => "dns",
        69 => "tftp",
        80 | 8080 => "http",
        110 => "pop3",
        135 => "msrpc",
        139 => "netbios-ssn",
        143 => "imap",
        194 | 6660..=6669 | 6697 | 7000 => "irc",
        443 | 8443 => "https",
        445 => "microsoft-ds",
        465 => "smtps",
        993 => "imaps",
        995 => "pop3s",
        1433 => "ms-sql-s",
        3306 => "mysql",
        3389 => "ms-wbt-server",
        _ => "another protocol",
    }
}

/// All behavioural detectors behind one set of entry points.
///
/// Feed it facts in capture order; it appends notices to the `out` vectors.
/// Time is the packets' time: call [`Detectors::tick`] at least once per
/// second of packet time and [`Detectors::finish`] at the end of input.
pub struct Detectors {
    cfg: DetectConfig,
    home: HomeNet,
    now: Timestamp,
    sup: Suppressor,
    attacks: Attacks,
    scans: scan::Scans,
    listeners: listener::Listeners,
    irc: irc::Irc,
    beacons: beacon::Beacons,
    brute: brute::Brute,
    inputs: u64,
    notices: u64,
    downloads: u64,
    eggs: u64,
    exploits: u64,
    masquerades: u64,
}

macro_rules! ctx {
    ($s:ident, $out:ident) => {
        Ctx {
            cfg: &$s.cfg,
            home: &$s.home,
            sup: &mut $s.sup,
            attacks: &mut $s.attacks,
            out: $out,
        }
    };
}

impl Detectors {
    /// Builds the detectors. `home_net` decides which hosts get per-target
    /// `E1` records, listener learning and beacon scoring (an empty set means
    /// every address).
    pub fn new(cfg: DetectConfig, home_net: NetSet) -> Detectors {
        Detectors {
            sup: Suppressor::new(cfg.suppress_max),
            attacks: Attacks::new(
                cfg.exploit_targets_max,
                cfg.scan_targets_max,
                cfg.vectors_per_target_max,
            ),
            scans: scan::Scans::new(&cfg),
            listeners: listener::Listeners::new(
                cfg.listener_hosts_max,
                cfg.listener_expectations_max,
                cfg.backdoor_watch_max,
            ),
            irc: irc::Irc::new(cfg.irc_sessions_max),
            beacons: beacon::Beacons::new(cfg.beacon_pairs_max),
            brute: brute::Brute::new(cfg.bruteforce_pairs_max),
            cfg,
            home: HomeNet::new(&home_net),
            now: Timestamp::ZERO,
            inputs: 0,
            notices: 0,
            downloads: 0,
            eggs: 0,
            exploits: 0,
            masquerades: 0,
        }
    }

    /// The configuration in use.
    pub fn config(&self) -> &DetectConfig {
        &self.cfg
    }

    /// Moves packet time forward and runs what became due (probe timeouts,
    /// scans gone quiet, listener confirmations, silent IRC clients).
    #[inline]
    fn advance(&mut self, ts: Timestamp, out: &mut Vec<Notice>) {
        // Everything time-driven is due at a deadline later than the time it
        // was scheduled: nothing new can be due until packet time moves on.
        if ts <= self.now {
            return;
        }
        self.now = ts;
        // Most inputs find nothing due: skip the detectors' time-driven code
        // (and its instruction-cache footprint) until the earliest deadline.
        if ts < self.next_due() {
            return;
        }
        self.run_due(out);
    }

    /// The time-driven work of [`Detectors::advance`], out of line: most
    /// inputs find nothing due and should not carry its code.
    #[inline(never)]
    fn run_due(&mut self, out: &mut Vec<Notice>) {
        let now = self.now;
        let before = out.len();
        let mut ctx = ctx!(self, out);
        self.scans.advance(now, &mut ctx);
        self.listeners.advance(now, &mut ctx);
        self.irc.advance(now, &mut ctx);
        self.notices += (out.len() - before) as u64;
    }

    /// The earliest packet time at which some time-driven work is due.
    #[inline]
    fn next_due(&self) -> Timestamp {
        self.scans
            .next_due()
            .min(self.listeners.next_due())
            .min(self.irc.next_due())
    }

    /// Called for: the first packet of each flow in each direction, every TCP
    /// packet with SYN, RST or FIN set, and every ICMP packet.
    pub fn on_packet(&mut self, p: &PacketSummary, out: &mut Vec<Notice>) {
        self.inputs += 1;
        self.advance(p.ts, out);
        let before = out.len();
        let mut ctx = ctx!(self, out);
        let expected = p.first_in_flow && self.listeners.is_expected(p.dst, p.dst_port, p.ts);
        self.scans.on_packet(p, expected, &mut ctx);
        self.listeners.on_packet(p, &mut self.scans, &mut ctx);
        self.notices += (out.len() - before) as u64;
    }

    /// Called once per flow when it ends (timeout, eviction or end of input).
    pub fn on_flow_end(&mut self, rec: &FlowRecord, out: &mut Vec<Notice>) {
        self.inputs += 1;
        self.advance(rec.end, out);
        let before = out.len();
        let mut ctx = ctx!(self, out);
        self.scans.on_flow_end(rec, &mut ctx);
        self.listeners.on_flow_end(rec, &mut ctx);
        self.beacons.on_flow_end(rec, &mut ctx);
        self.brute.on_flow_end(rec, &mut ctx);
        self.irc.on_flow_end(rec.flow_id);
        self.notices += (out.len() - before) as u64;
    }

    /// Called for every application-layer fact.
    pub fn on_app_event(&mut self, ctx_app: &AppContext, ev: &AppEvent, out: &mut Vec<Notice>) {
        self.inputs += 1;
        self.advance(ctx_app.ts, out);
        let before = out.len();
        let mut ctx = ctx!(self, out);
        let key = &ctx_app.key;
        self.listeners.on_app_data(ctx_app.flow_id, &mut ctx);
        if key.proto == IpProto::TCP
            && matches!(ev, AppEvent::ProtoDetected { .. } | AppEvent::File(_))
        {
            // Data on the flow: a connection, not a dataless probe.
            self.scans
                .app_data(key.src, ctx_app.flow_id, ctx_app.ts, &mut ctx);
        }
        match ev {
            AppEvent::ProtoDetected { proto, masquerade } => {
                if *proto == AppProto::Irc {
                    self.irc.on_detected(ctx_app, *masquerade, &mut ctx);
                }
                if *masquerade {
                    // One record per service (server:port/protocol), about its
                    // first client: later clients of a C&C service get their E7
                    // from their `C2Channel` (trait `irc_on_non_irc_port`).
                    let identifier = format!(
                        "masquerade:{}/{}",
                        ep(key.dst, key.dst_port),
                        proto.as_str()
                    );
                    if ctx.sup.first(&identifier) {
                        self.masquerades += 1;
                        let registered = registered_name(key.dst_port);
                        ctx.out.push(Notice {
                            ts: ctx_app.ts,
                            identifier,
                            host: key.src,
                            peer: Some(key.dst),
                            flow_id: Some(ctx_app.flow_id),
                            stage: Some(Stage::E7Masquerade),
                            msg: format!(
                                "{} on {}/{} (registered to {registered}): {} -> {}",
                                proto.as_str(),
                                key.dst_port,
                                key.proto.eve_name().to_ascii_lowercase(),
                                key.src,
                                ep(key.dst, key.dst_port)
                            ),
                            kind: NoticeKind::Masquerade {
                                proto: *proto,
                                server: key.dst,
                                port: key.dst_port,
                                registered: registered.to_string(),
                            },
                        });
                    }
                }
            }
            AppEvent::Irc(m) => {
                if let Some(dcc) = m.ctcp.as_ref().and_then(|c| c.dcc.as_ref())
                    && dcc.port != 0
                {
                    // The offering side will accept on the offered port.
                    let sender = match ctx_app.dir {
                        stormwatch_model::Direction::ToServer => Some(key.src),
                        stormwatch_model::Direction::ToClient => None,
                    };
                    for a in [dcc.addr, sender].into_iter().flatten() {
                        self.listeners.expect(a, dcc.port, ctx_app.ts, &ctx);
                    }
                }
                self.irc.on_message(ctx_app, m, &mut ctx);
            }
            AppEvent::Ftp(FtpEvent::DataExpected { addr, port }) => {
                self.listeners.expect(*addr, *port, ctx_app.ts, &ctx);
            }
            AppEvent::Ftp(FtpEvent::Command { command, reply, .. }) => {
                self.brute.on_ftp_reply(
                    key.src,
                    key.dst,
                    key.dst_port,
                    command,
                    reply,
                    ctx_app.ts,
                    ctx_app.flow_id,
                    &mut ctx,
                );
            }
            AppEvent::Http(h) if ctx_app.dir == stormwatch_model::Direction::ToServer => {
                let ua = h.user_agent.as_deref().unwrap_or("").as_bytes();
                let uri = h.uri.as_deref().unwrap_or("").as_bytes();
                if let Some(tool) = http_tool_mark(ua, uri) {
                    self.scans
                        .tool_seen(key.src, tool, ctx_app.ts, ctx_app.flow_id, &mut ctx);
                }
            }
            AppEvent::Tls(TlsEvent::PctClientHello { overflow: true, .. }) => {
                let (target, attacker) = match ctx_app.dir {
                    stormwatch_model::Direction::ToServer => (key.dst, key.src),
                    stormwatch_model::Direction::ToClient => (key.src, key.dst),
                };
                self.exploits += 1;
                exploit(
                    &mut ctx,
                    target,
                    attacker,
                    key.proto.0,
                    key.dst_port,
                    None,
                    "PCT Client_Hello overflow",
                    ctx_app.ts,
                    Some(ctx_app.flow_id),
                );
            }
            AppEvent::File(f) => {
                self.downloads += 1;
                if f.magic.is_executable() {
                    self.eggs += 1;
                    egg(&mut ctx, ctx_app, f);
                }
            }
            _ => {}
        }
        self.notices += (out.len() - before) as u64;
    }

    /// Whether the `AppEvent::Irc` of an IRC message without CTCP content
    /// is needed: `false` when [`Detectors::on_app_event`] would change
    /// nothing and emit nothing for it (no time-driven work due, no listener
    /// candidate waiting for data on the flow, and a message the IRC
    /// detector does not read, with the session's nick and channels
    /// unchanged). The message then counts as an input here and its event
    /// need not be built. `command` is the message's command as sent;
    /// `nick` and `channels` are the event's.
    pub fn wants_irc_message(
        &mut self,
        app: &AppContext,
        command: &[u8],
        nick: Option<&str>,
        channels: &[(String, Option<String>)],
    ) -> bool {
        if self.event_has_effect(app)
            || !self
                .irc
                .message_is_noop(app.flow_id, command, nick, channels)
        {
            return true;
        }
        self.unbuilt_event(app);
        false
    }

    /// Whether the `AppEvent::Http` of a request whose headers are complete is
    /// needed: `false` when [`Detectors::on_app_event`] would change nothing
    /// and emit nothing for it (no time-driven work due, no listener candidate
    /// waiting for data on the flow, no scanning tool named by its
    /// User-Agent or URI). The request then counts as an input here and its
    /// event need not be built. `uri` and `user_agent` are the request's
    /// bytes as sent (empty when absent).
    pub fn wants_http_request(&mut self, app: &AppContext, uri: &[u8], user_agent: &[u8]) -> bool {
        // The marks match the same requests in the raw bytes as in the
        // event's text (see `tool_marks_match_raw_bytes_as_event_text`).
        if self.event_has_effect(app)
            || (app.dir == stormwatch_model::Direction::ToServer
                && http_tool_mark(user_agent, uri).is_some())
        {
            return true;
        }
        self.unbuilt_event(app);
        false
    }

    /// What any application event does before its own handling: `advance`
    /// runs due time-driven work, a listener candidate waiting for data on
    /// the flow is confirmed.
    fn event_has_effect(&self, app: &AppContext) -> bool {
        (app.ts > self.now && app.ts >= self.next_due()) || self.listeners.awaits_data(app.flow_id)
    }

    /// An event found to have no effect: counted, and time moves on.
    fn unbuilt_event(&mut self, app: &AppContext) {
        self.inputs += 1;
        if app.ts > self.now {
            self.now = app.ts;
        }
    }

    /// Called for every signature match.
    pub fn on_alert(&mut self, a: &Alert, out: &mut Vec<Notice>) {
        self.inputs += 1;
        self.advance(a.ts, out);
        if !attacks::is_exploit_alert(a) {
            return;
        }
        self.exploits += 1;
        let before = out.len();
        let mut ctx = ctx!(self, out);
        let (target, attacker) = attacks::alert_parties(a);
        let what = format!("sid {}: {}", a.sig.sid, a.sig.msg);
        exploit(
            &mut ctx,
            target,
            attacker,
            a.proto.0,
            attacks::alert_service_port(a),
            Some(a.sig.sid),
            &what,
            a.ts,
            a.flow_id,
        );
        self.notices += (out.len() - before) as u64;
    }

    /// Called for every anomaly (PCT/SSLv2 overflow shapes count as exploits).
    pub fn on_anomaly(&mut self, a: &Anomaly, out: &mut Vec<Notice>) {
        self.inputs += 1;
        self.advance(a.ts, out);
        if !attacks::is_overflow_anomaly(&a.event) {
            return;
        }
        let Some(e) = a.endpoints else {
            return;
        };
        self.exploits += 1;
        let before = out.len();
        let mut ctx = ctx!(self, out);
        exploit(
            &mut ctx, e.dst, e.src, e.proto.0, e.dst_port, None, &a.event, a.ts, a.flow_id,
        );
        self.notices += (out.len() - before) as u64;
    }

    /// Packet time advanced (called at least once per second of packet time):
    /// time-driven decisions (probe timeouts, scan ended, listener confirmation,
    /// silent IRC clients).
    pub fn tick(&mut self, now: Timestamp, out: &mut Vec<Notice>) {
        self.advance(now, out);
    }

    /// End of input: unanswered probes fail, every scan ends with final counts.
    pub fn finish(&mut self, now: Timestamp, out: &mut Vec<Notice>) {
        self.advance(now, out);
        let now = self.now;
        let before = out.len();
        let mut ctx = ctx!(self, out);
        self.scans.finish(now, &mut ctx);
        self.notices += (out.len() - before) as u64;
    }

    /// Counters: inputs, decisions, table sizes, limits hit, estimated state bytes.
    pub fn counters(&self) -> Vec<(&'static str, u64)> {
        let s = &self.scans;
        let b = &s.budget;
        vec![
            ("detect.inputs", self.inputs),
            ("detect.notices", self.notices),
            ("detect.suppressed", self.sup.suppressed),
            ("detect.suppress_forgotten", self.sup.forgotten),
            ("detect.state_bytes", self.state_bytes() as u64),
            ("detect.scan.sources", s.sources() as u64),
            ("detect.scan.probes", s.probes),
            ("detect.scan.pending", s.pending() as u64),
            ("detect.scan.successes", s.successes),
            ("detect.scan.failures", s.failures),
            ("detect.scan.timeouts", s.timeouts),
            ("detect.scan.benign_resets", s.benign_resets),
            ("detect.scan.episode_restarts", s.episode_restarts),
            ("detect.scan.dataless_connects", s.dataless),
            ("detect.scan.dataless_reverted", s.dataless_reverted),
            ("detect.scan.decided", s.decided),
            ("detect.scan.ended", s.ended),
            ("detect.scan.sources_evicted", s.sources_evicted),
            ("detect.scan.sources_expired", s.sources_expired),
            ("detect.scan.pending_full", s.pending_full),
            ("detect.scan.target_notices_capped", s.target_notices_capped),
            ("detect.scan.undecided_targets_full", s.backlog_full),
            ("detect.scan.episodes_forgotten", s.episodes_forgotten),
            ("detect.sketch.exact_entries", b.exact_used as u64),
            ("detect.sketch.sketches", b.sketches_used as u64),
            ("detect.sketch.promotions", b.promotions),
            ("detect.sketch.saturated", b.saturated),
            ("detect.attacks.hosts", self.attacks.hosts() as u64),
            ("detect.attacks.evicted", self.attacks.evicted()),
            (
                "detect.attacks.vectors_dropped",
                self.attacks.vectors_dropped,
            ),
            ("detect.exploits", self.exploits),
            ("detect.listener.hosts", self.listeners.hosts() as u64),
            ("detect.listener.evicted", self.listeners.evicted()),
            ("detect.listener.learned", self.listeners.learned),
            ("detect.listener.expected", self.listeners.expected),
            (
                "detect.listener.scan_discovered",
                self.listeners.scan_discovered,
            ),
            ("detect.listener.ports_full", self.listeners.ports_full),
            ("detect.listener.quiet", self.listeners.quiet),
            ("detect.listener.dropped", self.listeners.dropped),
            ("detect.listener.reported", self.listeners.reported),
            (
                "detect.listener.backdoor_sessions",
                self.listeners.backdoor_sessions,
            ),
            ("detect.irc.sessions", self.irc.len() as u64),
            ("detect.irc.evicted", self.irc.evicted()),
            ("detect.irc.bot_commands", self.irc.commands),
            ("detect.irc.c2", self.irc.c2),
            ("detect.beacon.series", self.beacons.len() as u64),
            ("detect.beacon.evicted", self.beacons.evicted()),
            ("detect.beacon.scored", self.beacons.scored),
            ("detect.beacon.reported", self.beacons.reported),
            ("detect.bruteforce.pairs", self.brute.len() as u64),
            ("detect.bruteforce.evicted", self.brute.evicted()),
            ("detect.bruteforce.failures", self.brute.failures),
            ("detect.bruteforce.reported", self.brute.reported),
            ("detect.files", self.downloads),
            ("detect.eggs", self.eggs),
            ("detect.masquerades", self.masquerades),
        ]
    }

    /// Estimated bytes of detector state (tables and their heap parts).
    pub fn state_bytes(&self) -> usize {
        std::mem::size_of::<Detectors>()
            + self.sup.heap_bytes()
            + self.attacks.heap_bytes()
            + self.scans.heap_bytes()
            + self.listeners.heap_bytes()
            + self.irc.heap_bytes()
            + self.beacons.heap_bytes(self.cfg.beacon_samples_max)
            + self.brute.heap_bytes()
    }
}

/// Records an exploit against `target` and checks whether the attacker
/// propagates (was itself a target before).
#[allow(clippy::too_many_arguments)]
fn exploit(
    ctx: &mut Ctx<'_>,
    target: IpAddr,
    attacker: IpAddr,
    proto: u8,
    port: u16,
    sid: Option<u32>,
    what: &str,
    ts: Timestamp,
    flow: Option<stormwatch_model::FlowId>,
) {
    attacks::check_propagation(ctx, attacker, proto, port, sid, what, &[target], ts, flow);
    ctx.attacks
        .record_exploit(target, attacker, proto, port, sid, what, ts);
}

/// An executable file arrived: the `Download` record (E3) for the receiver.
fn egg(ctx: &mut Ctx<'_>, app: &AppContext, f: &FileEvent) {
    // The receiver is whoever the bytes flowed to (active FTP data connections
    // run from server to client).
    let k = &app.key;
    let (client, server, server_port) = match app.dir {
        stormwatch_model::Direction::ToClient => (k.src, k.dst, k.dst_port),
        stormwatch_model::Direction::ToServer => (k.dst, k.src, k.src_port),
    };
    let identifier = match &f.sha256 {
        Some(h) => format!("download:{client}:{h}"),
        None => format!(
            "download:{client}:flow{}:{}",
            app.flow_id.0,
            f.tx_id
                .map_or_else(|| f.name.clone().unwrap_or_default(), |t| t.to_string())
        ),
    };
    if !ctx.sup.first(&identifier) {
        return;
    }
    let before = ctx.attacks.exploit_before(client, app.ts);
    let exploit_before = before.is_some();
    let mut msg = format!(
        "{client} downloaded {} executable{} ({} bytes{}) from {} over {}",
        f.magic.as_str(),
        f.name
            .as_deref()
            .map(|n| format!(" {}", n.chars().take(120).collect::<String>()))
            .unwrap_or_default(),
        thousands(f.size),
        if f.complete { "" } else { ", incomplete" },
        ep(server, server_port),
        f.proto.as_str()
    );
    match before {
        Some(r) => msg.push_str(&format!(
            "; after an exploit against it at {} from {} ({})",
            r.ts.to_time_of_day(),
            r.attacker,
            r.what
        )),
        None => msg.push_str("; no exploit against it before"),
    }
    ctx.out.push(Notice {
        ts: app.ts,
        identifier,
        host: client,
        peer: Some(server),
        flow_id: Some(app.flow_id),
        stage: Some(Stage::E3EggDownload),
        msg,
        kind: NoticeKind::Download(DownloadInfo {
            client,
            server,
            server_port,
            proto: f.proto,
            name: f.name.clone(),
            magic: f.magic,
            size: f.size,
            sha256: f.sha256.clone(),
            exploit_before,
        }),
    });
}

#[cfg(test)]
mod tests {
    use super::{TOOL_HTTP_MARKS, http_tool_mark};

    /// The protocol stage's text of header bytes (Suricata's): valid UTF-8 as
    /// is, otherwise every byte above 0x7f as `\xNN`.
    fn event_text(b: &[u8]) -> String {
        match std::str::from_utf8(b) {
            Ok(s) => s.to_owned(),
            Err(_) => b
                .iter()
                .map(|&c| {
                    if c < 0x80 {
                        char::from(c).to_string()
                    } else {
                        format!("\\x{c:02x}")
                    }
                })
                .collect(),
        }
    }

    /// `wants_http_request` looks for marks in the raw request bytes, the
    /// detector in the event's text: both find the same tool. (The marks are
    /// ASCII without `\\`, so an escape can neither complete nor start one.)
    #[test]
    fn tool_marks_match_raw_bytes_as_event_text() {
        for (m, _) in TOOL_HTTP_MARKS {
            assert!(m.is_ascii() && !m.contains('\\'), "{m}");
        }
        let samples: [&[u8]; 9] = [
            b"Mozilla/5.0 (compatible; Nmap Scripting Engine)",
            b"\xffNmap Scripting Engine\xfe",
            b"nmap scr\xe9ipting engine",
            b"zgr\xabab",
            b"\xab/nmaplowercheck1",
            b"/nmaplowercheck1\xff",
            b"MASSCAN/1.0 \xc3\x28",
            b"curl/7.1",
            b"",
        ];
        for ua in samples {
            for uri in samples {
                assert_eq!(
                    http_tool_mark(ua, uri),
                    http_tool_mark(event_text(ua).as_bytes(), event_text(uri).as_bytes()),
                    "{ua:?} {uri:?}"
                );
            }
        }
    }

    #[test]
    fn http_tool_marks_any_case_anywhere_in_the_user_agent() {
        let ua = b"Mozilla/5.0 (compatible; Nmap Scripting Engine; https://nmap.org/book/nse.html)";
        assert_eq!(http_tool_mark(ua, b"/"), Some("nmap"));
        assert_eq!(http_tool_mark(b"", b"/NmapLowerCheck1500"), Some("nmap"));
        assert_eq!(http_tool_mark(b"masscan/1.3", b"/"), Some("masscan"));
        assert_eq!(
            http_tool_mark(b"Mozilla/5.0 zgrab/0.x", b"/"),
            Some("zgrab")
        );
        // A mark cut by the end of the header, and ordinary browsers.
        assert_eq!(http_tool_mark(b"Mozilla/5.0 nmap scripting", b"/"), None);
        assert_eq!(
            http_tool_mark(b"Mozilla/5.0 (Windows NT 10.0) Firefox/120.0", b"/nmap"),
            None
        );
        assert_eq!(http_tool_mark(b"", b""), None);
    }
}
