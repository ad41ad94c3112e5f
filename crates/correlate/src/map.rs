//! Alerts, notices and anomalies → [`Evidence`] about one host each (documented
//! in `docs/verdicts.md`, "Evidence mapping").

use crate::config::{CorrelateConfig, Side};
use std::net::IpAddr;
use stormwatch_model::{
    Alert, Anomaly, AppProto, C2Info, Direction, DownloadInfo, Evidence, EvidenceSource, IpProto,
    ListenerInfo, Notice, NoticeKind, PropagationInfo, ScanInfo, ScanKind, Stage, Strength, Target,
    Vector,
};

/// What the protocol parser saw of a flow's client hello.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum HelloFact {
    /// A well-formed hello (`TLS 1.2 ClientHello`, `SSLv2 CLIENT-HELLO`, `PCT CLIENT-HELLO`).
    /// Borrowed for the common cases: no allocation per TLS handshake.
    WellFormed(std::borrow::Cow<'static, str>),
    /// A hello with an overflow shape.
    Overflow(std::borrow::Cow<'static, str>),
}

/// Lower-case transport name (`tcp`, `udp`, `icmp`, or the number).
pub(crate) fn proto_name(p: IpProto) -> String {
    p.eve_name().to_ascii_lowercase()
}

/// `443/tcp`.
pub(crate) fn port_proto(port: u16, proto: u8) -> String {
    format!("{port}/{}", proto_name(IpProto(proto)))
}

/// Renders a count with thousands separators: `4,096`.
pub(crate) fn thousands(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::with_capacity(s.len() + s.len() / 3);
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Is this an alert for a PCT / SSL hello overflow (MS04-011), which the TLS/PCT
/// parser can confirm or contradict?
pub(crate) fn is_hello_overflow_alert(msg: &str, references: &[String]) -> bool {
    msg.contains("PCT")
        || references.iter().any(|r| {
            r.to_ascii_lowercase()
                .replace(['-', ' '], ",")
                .contains("2003,0719")
        })
}

fn ends(a: &Alert, target_is_src: bool) -> (IpAddr, u16, IpAddr, u16) {
    if target_is_src {
        (a.src_ip, a.src_port, a.dest_ip, a.dest_port)
    } else {
        (a.dest_ip, a.dest_port, a.src_ip, a.src_port)
    }
}

/// Which endpoint is the subject of the evidence: returns true for the packet source.
fn subject_is_src(cfg: &CorrelateConfig, a: &Alert, side: Side) -> bool {
    match a.sig.target {
        Some(Target::SrcIp) => return true,
        Some(Target::DestIp) => return false,
        None => {}
    }
    let (si, di) = (
        cfg.home_net.contains(a.src_ip),
        cfg.home_net.contains(a.dest_ip),
    );
    if si != di {
        return si;
    }
    match side {
        Side::Target => false,
        Side::Responder => true,
        Side::Infected => match (&a.flow, a.direction) {
            (Some(f), _) => f.src_ip == a.src_ip && f.src_port == a.src_port,
            (None, Some(d)) => d == Direction::ToServer,
            (None, None) => true,
        },
    }
}

/// The evidence an alert gives: one record about its subject, plus an E5 record
/// about an attacker that is internal (or already a victim, `known_victim`).
pub(crate) fn map_alert(
    cfg: &CorrelateConfig,
    a: &Alert,
    hello: Option<&HelloFact>,
    known_victim: impl Fn(IpAddr) -> bool,
) -> Vec<Evidence> {
    let sig = &a.sig;
    let class = cfg.classify(&sig.msg, sig.classtype.as_deref(), &sig.metadata);
    let Some(stage) = class.stage else {
        return Vec::new();
    };
    let subject_src = subject_is_src(cfg, a, class.side);
    let (host, host_port, peer, peer_port) = ends(a, subject_src);
    let source = EvidenceSource::Alert {
        gid: sig.gid,
        sid: sig.sid,
        msg: sig.msg.clone(),
        classtype: sig.classtype.clone(),
    };
    let mut strength = class.strength;
    let mut note = String::new();
    if stage == Stage::E2InboundExploit && is_hello_overflow_alert(&sig.msg, &sig.references) {
        match hello {
            Some(HelloFact::WellFormed(what)) => {
                strength = Strength::Weak;
                note = format!(" — contradicted: the parser saw a well-formed {what} (weak)");
            }
            Some(HelloFact::Overflow(what)) => {
                strength = Strength::Strong;
                note = format!(" — confirmed by the parser ({what})");
            }
            None => {}
        }
    }
    let vector = Vector {
        proto: a.proto.0,
        port: if stage == Stage::E4C2 {
            peer_port
        } else {
            host_port
        },
        signature: Some(sig.sid.to_string()),
    };
    let app = if a.app_proto.is_known() {
        a.app_proto.as_str().to_string()
    } else {
        proto_name(a.proto)
    };
    let (detail, controller) = match stage {
        Stage::E1InboundScan => (
            format!("probed: {} from {peer} [sid {}]", sig.msg, sig.sid),
            None,
        ),
        Stage::E2InboundExploit => (
            format!("exploit: {} from {peer} [sid {}]{note}", sig.msg, sig.sid),
            None,
        ),
        Stage::E4C2 => {
            let what = if class.strength == Strength::Strong {
                "remote control"
            } else {
                "C&C"
            };
            (
                format!(
                    "{what}: {} with {peer}:{peer_port} [sid {}]",
                    sig.msg, sig.sid
                ),
                Some(format!("{app} {peer}:{peer_port}")),
            )
        }
        _ => (format!("{} with {peer} [sid {}]", sig.msg, sig.sid), None),
    };
    let mut out = vec![Evidence {
        ts: a.ts,
        host,
        stage,
        peer: Some(peer),
        flow_id: a.flow_id,
        source: source.clone(),
        strength,
        vector: Some(vector.clone()),
        egg_sha256: None,
        controller,
        detail,
    }];
    if matches!(stage, Stage::E1InboundScan | Stage::E2InboundExploit)
        && strength != Strength::Weak
        && (cfg.home_net.contains(peer) || known_victim(peer))
    {
        let verb = if stage == Stage::E1InboundScan {
            "outbound probe"
        } else {
            "outbound exploit"
        };
        out.push(Evidence {
            ts: a.ts,
            host: peer,
            stage: Stage::E5OutboundAttack,
            peer: Some(host),
            flow_id: a.flow_id,
            source,
            strength,
            vector: Some(vector),
            egg_sha256: None,
            controller: None,
            detail: format!("{verb}: {} to {host} [sid {}]", sig.msg, sig.sid),
        });
    }
    out
}

/// Anomaly names that are a protocol-confirmed exploit shape.
pub(crate) fn is_exploit_anomaly(event: &str) -> bool {
    event.starts_with("pct.client_hello_oversized")
        || event.starts_with("sslv2.client_hello_oversized")
}

/// An anomaly's evidence: E2 (strong) for the server of an overflow-shaped hello,
/// plus E5 for an internal or already-victimised sender.
pub(crate) fn map_anomaly(
    cfg: &CorrelateConfig,
    a: &Anomaly,
    known_victim: impl Fn(IpAddr) -> bool,
) -> Vec<Evidence> {
    if !is_exploit_anomaly(&a.event) {
        return Vec::new();
    }
    let Some(ep) = a.endpoints else {
        return Vec::new();
    };
    let vector = Vector {
        proto: ep.proto.0,
        port: ep.dst_port,
        signature: Some(a.event.to_string()),
    };
    let what = a
        .detail
        .as_deref()
        .map(|d| format!(" ({d})"))
        .unwrap_or_default();
    let source = EvidenceSource::Anomaly {
        event: a.event.to_string(),
    };
    let mut out = vec![Evidence {
        ts: a.ts,
        host: ep.dst,
        stage: Stage::E2InboundExploit,
        peer: Some(ep.src),
        flow_id: a.flow_id,
        source: source.clone(),
        strength: Strength::Strong,
        vector: Some(vector.clone()),
        egg_sha256: None,
        controller: None,
        detail: format!(
            "exploit: {}{what} from {} on {} (protocol-confirmed)",
            a.event,
            ep.src,
            port_proto(ep.dst_port, ep.proto.0)
        ),
    }];
    if cfg.home_net.contains(ep.src) || known_victim(ep.src) {
        out.push(Evidence {
            ts: a.ts,
            host: ep.src,
            stage: Stage::E5OutboundAttack,
            peer: Some(ep.dst),
            flow_id: a.flow_id,
            source,
            strength: Strength::Strong,
            vector: Some(vector),
            egg_sha256: None,
            controller: None,
            detail: format!("outbound exploit: {}{what} to {}", a.event, ep.dst),
        });
    }
    out
}

fn scan_kind(k: ScanKind) -> &'static str {
    match k {
        ScanKind::Horizontal => "horizontal",
        ScanKind::Vertical => "vertical",
        ScanKind::Block => "block",
        ScanKind::PingSweep => "ping sweep",
    }
}

/// `443/tcp`, `0-1000/tcp (1,001 ports)`, `icmp`.
pub(crate) fn scan_ports(s: &ScanInfo) -> String {
    let proto = proto_name(s.proto);
    if s.kind == ScanKind::PingSweep || s.ports.is_empty() {
        return proto;
    }
    match (s.ports.first(), s.ports.last()) {
        (Some(a), Some(b)) if s.port_count <= 1 || a == b => format!("{a}/{proto}"),
        (Some(_), Some(_)) if s.port_count <= 4 => {
            let list: Vec<String> = s.ports.iter().map(u16::to_string).collect();
            format!("{}/{proto}", list.join(","))
        }
        (Some(a), Some(b)) => format!("{a}-{b}/{proto} ({} ports)", thousands(s.port_count)),
        _ => proto,
    }
}

/// `automated tool (masscan)`, `automated tool`, `manual`.
pub(crate) fn tool_words(automated: bool, tool: Option<&str>) -> String {
    match (automated, tool) {
        (true, Some(t)) => format!("automated tool: {t}"),
        (true, None) => "automated tool".to_string(),
        (false, _) => "manual".to_string(),
    }
}

/// The detail of an E1 record about a target probed by scan `s`.
pub(crate) fn probe_detail(scanner: IpAddr, s: &crate::host::ScanFacts) -> String {
    let ports = if s.ports.len() == 1 {
        s.ports
            .first()
            .map(|p| format!("{p}/{}", s.proto))
            .unwrap_or_else(|| s.proto.clone())
    } else if s.ports.is_empty() {
        s.proto.clone()
    } else {
        format!("{} ports/{}", thousands(s.port_count), s.proto)
    };
    format!(
        "probed on {ports} by {scanner} ({} scan, {} targets, {})",
        s.kind,
        thousands(s.target_count),
        tool_words(s.automated, s.tool.as_deref())
    )
}

/// Scan facts from a scan notice.
pub(crate) fn scan_facts(identifier: &str, s: &ScanInfo) -> crate::host::ScanFacts {
    crate::host::ScanFacts {
        identifier: identifier.to_string(),
        kind: scan_kind(s.kind),
        proto: proto_name(s.proto),
        ports: s.ports.iter().take(8).copied().collect(),
        port_count: s.port_count,
        target_count: s.target_count,
        tool: s.tool.name.clone(),
        automated: s.tool.automated,
        reason: s.tool.reason.clone(),
        first_seen: s.first_seen,
        last_seen: s.last_seen,
    }
}

fn notice_source(n: &Notice, kind: &str) -> EvidenceSource {
    EvidenceSource::Notice {
        kind: kind.to_string(),
        identifier: n.identifier.clone(),
    }
}

fn c2_controller(c: &C2Info) -> String {
    format!("{} {}:{}", c.proto.as_str(), c.server, c.port)
}

fn c2_detail(c: &C2Info) -> String {
    let mut s = format!(
        "{} session to {}:{}",
        c.proto.as_str().to_ascii_uppercase(),
        c.server,
        c.port
    );
    if c.traits.iter().any(|t| t == "irc_on_non_irc_port") {
        if c.port == 443 {
            s.push_str(" (IRC on the TLS port)");
        } else {
            s.push_str(" (IRC on a non-IRC port)");
        }
    }
    if let Some(n) = &c.nick {
        s.push_str(&format!(", nick {n}"));
    }
    if !c.channels.is_empty() {
        s.push_str(&format!(", {}", c.channels.join(" ")));
    }
    s
}

fn quote_commands(cmds: &[String]) -> String {
    let mut v: Vec<&str> = cmds.iter().map(String::as_str).take(3).collect();
    if cmds.len() > 3 {
        v.push("…");
    }
    v.join("; ")
}

/// The evidence a notice gives. Scan and brute-force notices also update the
/// scanner's acts (done by the caller from the notice itself).
pub(crate) fn map_notice(cfg: &CorrelateConfig, n: &Notice) -> Vec<Evidence> {
    let base = |host: IpAddr, stage: Stage, kind: &str| Evidence {
        ts: n.ts,
        host,
        stage,
        peer: n.peer,
        flow_id: n.flow_id,
        source: notice_source(n, kind),
        strength: Strength::Normal,
        vector: None,
        egg_sha256: None,
        controller: None,
        detail: n.msg.clone(),
    };
    match &n.kind {
        NoticeKind::ScanDetected(s) | NoticeKind::ScanEnded(s) if n.host != s.scanner => {
            // A per-target notice: `host` was probed by `s.scanner`.
            let facts = scan_facts(&n.identifier, s);
            vec![Evidence {
                peer: Some(s.scanner),
                vector: Some(Vector {
                    proto: s.proto.0,
                    port: if s.ports.len() == 1 {
                        s.ports.first().copied().unwrap_or(0)
                    } else {
                        0
                    },
                    signature: None,
                }),
                detail: probe_detail(s.scanner, &facts),
                ..base(n.host, Stage::E1InboundScan, "scan")
            }]
        }
        NoticeKind::ScanDetected(s) | NoticeKind::ScanEnded(s) => {
            let facts = scan_facts(&n.identifier, s);
            let mut out = Vec::new();
            if cfg.home_net.contains(n.host) || n.stage == Some(Stage::E5OutboundAttack) {
                out.push(Evidence {
                    peer: None,
                    vector: Some(Vector {
                        proto: s.proto.0,
                        port: if s.ports.len() == 1 {
                            s.ports.first().copied().unwrap_or(0)
                        } else {
                            0
                        },
                        signature: None,
                    }),
                    detail: format!(
                        "outbound {} scan on {} ({} targets, {})",
                        facts.kind,
                        scan_ports(s),
                        thousands(s.target_count),
                        tool_words(s.tool.automated, s.tool.name.as_deref())
                    ),
                    ..base(n.host, Stage::E5OutboundAttack, "scan")
                });
            }
            for t in &s.sample_targets {
                out.push(Evidence {
                    peer: Some(n.host),
                    detail: probe_detail(n.host, &facts),
                    ..base(*t, Stage::E1InboundScan, "scan")
                });
            }
            out
        }
        NoticeKind::NewListener(ListenerInfo {
            port,
            proto,
            first_client,
            ..
        }) => vec![Evidence {
            peer: Some(*first_client),
            vector: Some(Vector {
                proto: proto.0,
                port: *port,
                signature: None,
            }),
            detail: format!(
                "new listener {}:{port} accepts connections from {first_client}",
                n.host
            ),
            ..base(n.host, Stage::E6NewListener, "new_listener")
        }],
        NoticeKind::C2Channel(c) if c.traits.iter().any(|t| t == "backdoor_session") => {
            // An exploiter's interactive session on the listener it opened: the
            // victim's control channel. The peer already is the exploiter; it is
            // no separate controller (no campaign key, no controller role).
            vec![Evidence {
                peer: Some(c.server),
                vector: Some(tcp_vector(c.port)),
                detail: format!(
                    "backdoor session from {} on its new listener port {}",
                    c.server, c.port
                ),
                ..base(n.host, Stage::E4C2, "backdoor_session")
            }]
        }
        NoticeKind::C2Channel(c) => {
            let bot = !c.commands.is_empty() || c.traits.iter().any(|t| t == "bot_command");
            let mut out = vec![Evidence {
                peer: Some(c.server),
                vector: Some(tcp_vector(c.port)),
                controller: Some(c2_controller(c)),
                strength: if bot {
                    Strength::Strong
                } else {
                    Strength::Normal
                },
                detail: c2_detail(c),
                ..base(n.host, Stage::E4C2, "c2_channel")
            }];
            if bot {
                out.push(Evidence {
                    peer: Some(c.server),
                    controller: Some(c2_controller(c)),
                    strength: Strength::Strong,
                    detail: if c.commands.is_empty() {
                        format!("bot commands in the channel with {}", c.server)
                    } else {
                        format!(
                            "bot commands in the channel: {}",
                            quote_commands(&c.commands)
                        )
                    },
                    ..base(n.host, Stage::E4C2, "bot_command")
                });
            }
            // The channel runs IRC on a port registered to another protocol: the
            // client's E7 (detect names each masquerading service once, about
            // its first client; every C&C client of it gets its E7 here).
            if c.traits.iter().any(|t| t == "irc_on_non_irc_port") {
                out.push(Evidence {
                    peer: Some(c.server),
                    vector: Some(tcp_vector(c.port)),
                    detail: format!(
                        "{} with {} on {}/tcp, a port not registered to it (its C&C channel)",
                        c.proto.as_str().to_ascii_uppercase(),
                        c.server,
                        c.port
                    ),
                    ..base(n.host, Stage::E7Masquerade, "c2_masquerade")
                });
            }
            out
        }
        NoticeKind::Beacon(c) => {
            let every = c
                .beacon
                .map(|(mean, score)| format!(" every {mean:.1} s (regularity {score:.2})"))
                .unwrap_or_default();
            vec![Evidence {
                peer: Some(c.server),
                controller: Some(c2_controller(c)),
                strength: Strength::Weak,
                detail: format!(
                    "beacon to {}:{}{every} (beaconing alone is not a compromise)",
                    c.server, c.port
                ),
                ..base(n.host, Stage::E4C2, "beacon")
            }]
        }
        NoticeKind::Download(d) => {
            map_download(n, d, base(d.client, Stage::E3EggDownload, "download"))
        }
        NoticeKind::Propagation(p) => {
            map_propagation(n, p, base(p.host, Stage::E5OutboundAttack, "propagation"))
        }
        NoticeKind::Masquerade {
            proto,
            server,
            port,
            registered,
        } => vec![Evidence {
            peer: Some(*server),
            vector: Some(tcp_vector(*port)),
            detail: format!(
                "{} with {server} on {port}/tcp, a port registered to {registered}",
                proto.as_str().to_ascii_uppercase()
            ),
            ..base(n.host, Stage::E7Masquerade, "masquerade")
        }],
        NoticeKind::BruteForce {
            proto,
            target,
            port,
            attempts,
        } => {
            // detect reports brute force about the server, with the guesser as peer.
            let Some(attacker) = brute_attacker(n) else {
                return Vec::new();
            };
            let vector = Some(Vector {
                proto: IpProto::TCP.0,
                port: *port,
                signature: Some("brute-force".into()),
            });
            let mut out = vec![Evidence {
                peer: Some(attacker),
                vector: vector.clone(),
                detail: format!(
                    "password guessing: {} failed {} logins from {attacker} on {port}/tcp",
                    thousands(u64::from(*attempts)),
                    proto.as_str().to_ascii_uppercase(),
                ),
                ..base(*target, Stage::E2InboundExploit, "brute_force")
            }];
            if cfg.home_net.contains(attacker) {
                out.push(Evidence {
                    peer: Some(*target),
                    vector,
                    detail: format!(
                        "outbound password guessing against {target}:{port} ({} attempts)",
                        thousands(u64::from(*attempts))
                    ),
                    ..base(attacker, Stage::E5OutboundAttack, "brute_force")
                });
            }
            out
        }
    }
}

/// The guessing side of a brute-force notice (the endpoint that is not the target).
pub(crate) fn brute_attacker(n: &Notice) -> Option<IpAddr> {
    match &n.kind {
        NoticeKind::BruteForce { target, .. } if n.host == *target => n.peer,
        NoticeKind::BruteForce { .. } => Some(n.host),
        _ => None,
    }
}

fn map_download(n: &Notice, d: &DownloadInfo, base: Evidence) -> Vec<Evidence> {
    if !d.magic.is_executable() {
        return Vec::new();
    }
    let name = d.name.as_deref().unwrap_or("(unnamed)");
    let hash = d
        .sha256
        .as_deref()
        .map(|h| format!(", sha256 {}…", h.get(..12).unwrap_or(h)))
        .unwrap_or_default();
    let exploit = if d.exploit_before {
        "after an exploit against it"
    } else {
        "no exploit before it"
    };
    let _ = n;
    vec![Evidence {
        peer: Some(d.server),
        vector: Some(tcp_vector(d.server_port)),
        egg_sha256: d.sha256.clone(),
        detail: format!(
            "egg download: {name} ({}, {} bytes{hash}) from {} over {}; {exploit}",
            d.magic.as_str(),
            thousands(d.size),
            d.server,
            app_name(d.proto)
        ),
        ..base
    }]
}

fn app_name(p: AppProto) -> &'static str {
    p.as_str()
}

fn map_propagation(n: &Notice, p: &PropagationInfo, base: Evidence) -> Vec<Evidence> {
    let vector = Vector {
        proto: p.proto.0,
        port: p.port,
        signature: p.sid.map(|s| s.to_string()),
    };
    let sid = p.sid.map(|s| format!(" [sid {s}]")).unwrap_or_default();
    let same = match p.infected_at {
        Some(t) => format!(
            ", the vector it was itself attacked by at {}",
            t.to_time_of_day()
        ),
        None => String::new(),
    };
    let detail = format!(
        "propagation: attacks {} hosts on {}{sid}{same}",
        thousands(p.targets.len() as u64),
        port_proto(p.port, p.proto.0)
    );
    let _ = n;
    let mut out = Vec::new();
    if p.targets.is_empty() {
        out.push(Evidence {
            vector: Some(vector),
            detail,
            ..base
        });
        return out;
    }
    for t in p.targets.iter().take(64) {
        out.push(Evidence {
            peer: Some(*t),
            vector: Some(vector.clone()),
            detail: detail.clone(),
            ..base.clone()
        });
    }
    out
}

/// The vector of a TCP service on `port`, without a signature.
fn tcp_vector(port: u16) -> Vector {
    Vector {
        proto: IpProto::TCP.0,
        port,
        signature: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use stormwatch_model::{AlertAction, FlowId, SignatureInfo, Timestamp};

    pub(crate) fn alert(
        msg: &str,
        classtype: &str,
        sid: u32,
        src: &str,
        dst: &str,
        dport: u16,
    ) -> Alert {
        Alert {
            ts: Timestamp::from_secs_nanos(1000, 0),
            sig: Arc::new(SignatureInfo {
                gid: 1,
                sid,
                rev: 1,
                msg: msg.into(),
                classtype: Some(classtype.into()),
                category: String::new(),
                severity: 1,
                metadata: vec![],
                references: vec![],
                target: None,
            }),
            action: AlertAction::Allowed,
            flow_id: Some(FlowId(5)),
            src_ip: src.parse().unwrap(),
            src_port: 40000,
            dest_ip: dst.parse().unwrap(),
            dest_port: dport,
            proto: IpProto::TCP,
            direction: Some(Direction::ToServer),
            app_proto: AppProto::Unknown,
            tx_id: None,
            flow: None,
            payload: None,
            packet: None,
            stream: false,
        }
    }

    #[test]
    fn exploit_alert_targets_home_net_and_outbound_source_gets_e5() {
        let cfg = CorrelateConfig::default();
        let a = alert(
            "WEB-MISC PCT Client_Hello overflow attempt",
            "attempted-admin",
            2515,
            "203.0.113.7",
            "10.1.1.20",
            443,
        );
        let ev = map_alert(&cfg, &a, None, |_| false);
        assert_eq!(ev.len(), 1);
        assert_eq!(ev[0].host.to_string(), "10.1.1.20");
        assert_eq!(ev[0].stage, Stage::E2InboundExploit);
        assert_eq!(ev[0].peer.unwrap().to_string(), "203.0.113.7");
        assert_eq!(ev[0].vector.as_ref().unwrap().port, 443);
        assert!(ev[0].detail.contains("[sid 2515]"), "{}", ev[0].detail);
        // Internal → internal: the source attacks outward (E5).
        let a = alert(
            "WEB-MISC PCT Client_Hello overflow attempt",
            "attempted-admin",
            2515,
            "10.1.1.20",
            "10.1.2.30",
            443,
        );
        let ev = map_alert(&cfg, &a, None, |_| false);
        assert_eq!(ev.len(), 2);
        assert_eq!(ev[0].host.to_string(), "10.1.2.30");
        assert_eq!(ev[1].host.to_string(), "10.1.1.20");
        assert_eq!(ev[1].stage, Stage::E5OutboundAttack);
    }

    #[test]
    fn target_keyword_wins_over_home_net() {
        let cfg = CorrelateConfig::default();
        let mut a = alert("x", "attempted-admin", 1, "10.0.0.1", "198.51.100.1", 80);
        Arc::make_mut(&mut a.sig).target = Some(Target::SrcIp);
        let ev = map_alert(&cfg, &a, None, |_| false);
        assert_eq!(ev[0].host.to_string(), "10.0.0.1");
    }

    #[test]
    fn parser_contradicts_or_confirms_hello_overflow() {
        let cfg = CorrelateConfig::default();
        let a = alert(
            "WEB-MISC PCT Client_Hello overflow attempt",
            "attempted-admin",
            2515,
            "203.0.113.7",
            "10.1.1.20",
            443,
        );
        let weak = map_alert(
            &cfg,
            &a,
            Some(&HelloFact::WellFormed("TLS 1.2 ClientHello".into())),
            |_| false,
        );
        assert_eq!(weak[0].strength, Strength::Weak);
        assert!(weak[0].detail.contains("contradicted"));
        let strong = map_alert(
            &cfg,
            &a,
            Some(&HelloFact::Overflow("PCT CLIENT-HELLO".into())),
            |_| false,
        );
        assert_eq!(strong[0].strength, Strength::Strong);
        // Other exploits are not affected by hello facts.
        let b = alert(
            "ET EXPLOIT something",
            "attempted-admin",
            7,
            "203.0.113.7",
            "10.1.1.20",
            445,
        );
        let n = map_alert(&cfg, &b, Some(&HelloFact::WellFormed("x".into())), |_| {
            false
        });
        assert_eq!(n[0].strength, Strength::Normal);
    }

    #[test]
    fn checkin_is_about_the_internal_client_and_names_controller() {
        let cfg = CorrelateConfig::default();
        let a = alert(
            "ET MALWARE LocalNRD Spyware Checkin",
            "trojan-activity",
            2001340,
            "192.168.2.7",
            "208.75.250.50",
            80,
        );
        let ev = map_alert(&cfg, &a, None, |_| false);
        assert_eq!(ev[0].host.to_string(), "192.168.2.7");
        assert_eq!(ev[0].stage, Stage::E4C2);
        assert_eq!(ev[0].controller.as_deref(), Some("tcp 208.75.250.50:80"));
        // Both external: the flow initiator (packet source of a to-server packet).
        let a = alert(
            "ET TROJAN x",
            "trojan-activity",
            1,
            "147.32.80.37",
            "141.193.213.20",
            443,
        );
        assert_eq!(
            map_alert(&cfg, &a, None, |_| false)[0].host.to_string(),
            "147.32.80.37"
        );
    }

    #[test]
    fn shell_banner_is_about_its_sender() {
        let cfg = CorrelateConfig::default();
        // Aurora: both internal; the banner goes victim → attacker:4321.
        let a = alert(
            "GPL EXPLOIT Microsoft cmd.exe banner",
            "successful-admin",
            2102123,
            "192.168.100.206",
            "192.168.100.202",
            4321,
        );
        let ev = map_alert(&cfg, &a, None, |_| false);
        assert_eq!(ev[0].host.to_string(), "192.168.100.206");
        assert_eq!(
            (ev[0].stage, ev[0].strength),
            (Stage::E4C2, Strength::Strong)
        );
        assert!(ev[0].detail.starts_with("remote control"));
    }

    #[test]
    fn ignored_classes_give_nothing() {
        let cfg = CorrelateConfig::default();
        let a = alert(
            "ET INFO something",
            "misc-activity",
            1,
            "10.0.0.1",
            "1.2.3.4",
            80,
        );
        assert!(map_alert(&cfg, &a, None, |_| false).is_empty());
    }

    #[test]
    fn numbers_have_separators() {
        assert_eq!(thousands(4096), "4,096");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1_000_000), "1,000,000");
        assert!(is_hello_overflow_alert("x", &["cve,2003-0719".into()]));
    }
}
