//! Builders for synthetic inputs (alerts, notices, anomalies, flows).

use std::net::IpAddr;
use std::sync::Arc;
use stormwatch_correlate::{Conclusion, CorrelateConfig, Correlator};
use stormwatch_model::*;

/// 2004-04-20 09:00:00 UTC plus `secs`.
pub fn t(secs: i64) -> Timestamp {
    Timestamp::from_secs_nanos(1_082_451_600 + secs, 0)
}

/// `hh:mm:ss` after 2004-04-20 00:00:00 UTC.
pub fn at(hms: &str) -> Timestamp {
    let p: Vec<i64> = hms.split(':').map(|x| x.parse().unwrap()).collect();
    t((p[0] - 9) * 3600 + p[1] * 60 + p[2])
}

pub fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

pub struct Run {
    pub c: Correlator,
    pub out: Vec<Verdict>,
}

impl Run {
    pub fn new() -> Run {
        Run::with(CorrelateConfig::default())
    }

    pub fn with(cfg: CorrelateConfig) -> Run {
        Run {
            c: Correlator::new(cfg),
            out: Vec::new(),
        }
    }

    pub fn alert(&mut self, a: Alert) -> &mut Self {
        self.c.on_alert(&a, &mut self.out);
        self
    }

    pub fn notice(&mut self, n: Notice) -> &mut Self {
        self.c.on_notice(&n, &mut self.out);
        self
    }

    pub fn anomaly(&mut self, a: Anomaly) -> &mut Self {
        self.c.on_anomaly(&a, &mut self.out);
        self
    }

    pub fn flow(&mut self, f: FlowRecord) -> &mut Self {
        self.c.on_flow(&f, &mut self.out);
        self
    }

    pub fn app(&mut self, ctx: AppContext, ev: AppEvent) -> &mut Self {
        self.c.on_app_event(&ctx, &ev, &mut self.out);
        self
    }

    /// Finishes; returns the conclusion with every record written (revisions
    /// during the run, then the final ones) appended to `self.out`.
    pub fn finish(&mut self, end: Timestamp) -> Conclusion {
        let c = self.c.finish(end);
        self.out.extend(c.verdicts.iter().cloned());
        c
    }

    /// Labels of a host's records in order, consecutive duplicates (restatements) removed.
    pub fn path(&self, host: &str) -> Vec<Label> {
        let mut v: Vec<Label> = Vec::new();
        for r in self.out.iter().filter(|r| r.host == ip(host)) {
            if v.last() != Some(&r.label) {
                v.push(r.label);
            }
        }
        v
    }
}

pub fn current<'a>(c: &'a Conclusion, host: &str) -> &'a Verdict {
    c.current
        .iter()
        .find(|v| v.host == ip(host))
        .unwrap_or_else(|| panic!("no verdict for {host}: {:#?}", c.current))
}

pub fn label_of(c: &Conclusion, host: &str) -> Label {
    c.current
        .iter()
        .find(|v| v.host == ip(host))
        .map_or(Label::Clean, |v| v.label)
}

pub fn why_not(v: &Verdict, l: Label) -> &WhyNot {
    v.why_not
        .iter()
        .find(|w| w.label == l)
        .unwrap_or_else(|| panic!("no why-not {l:?} in {:#?}", v.why_not))
}

pub fn sig(sid: u32, msg: &str, classtype: Option<&str>) -> Arc<SignatureInfo> {
    Arc::new(SignatureInfo {
        gid: 1,
        sid,
        rev: 1,
        msg: msg.into(),
        classtype: classtype.map(str::to_string),
        category: String::new(),
        severity: 1,
        metadata: vec![],
        references: vec![],
        target: None,
    })
}

#[allow(clippy::too_many_arguments)]
pub fn alert(
    ts: Timestamp,
    sig: Arc<SignatureInfo>,
    flow: u64,
    src: &str,
    sport: u16,
    dst: &str,
    dport: u16,
) -> Alert {
    Alert {
        ts,
        sig,
        action: AlertAction::Allowed,
        flow_id: Some(FlowId(flow)),
        src_ip: ip(src),
        src_port: sport,
        dest_ip: ip(dst),
        dest_port: dport,
        proto: IpProto::TCP,
        direction: Some(Direction::ToServer),
        app_proto: AppProto::Unknown,
        tx_id: None,
        flow: Some(AlertFlow {
            pkts_toserver: 3,
            pkts_toclient: 2,
            bytes_toserver: 500,
            bytes_toclient: 100,
            start: ts,
            src_ip: ip(src),
            dest_ip: ip(dst),
            src_port: sport,
            dest_port: dport,
        }),
        payload: None,
        packet: None,
        stream: true,
    }
}

pub fn pct_sig() -> Arc<SignatureInfo> {
    sig(
        2515,
        "WEB-MISC PCT Client_Hello overflow attempt",
        Some("attempted-admin"),
    )
}

pub fn pct_alert(ts: Timestamp, flow: u64, src: &str, dst: &str) -> Alert {
    alert(ts, pct_sig(), flow, src, 3312, dst, 443)
}

fn notice(
    ts: Timestamp,
    id: String,
    host: &str,
    peer: Option<&str>,
    stage: Option<Stage>,
    kind: NoticeKind,
) -> Notice {
    Notice {
        ts,
        identifier: id,
        host: ip(host),
        peer: peer.map(ip),
        flow_id: None,
        stage,
        msg: "notice".into(),
        kind,
    }
}

pub fn scan(
    ts: Timestamp,
    scanner: &str,
    port: u16,
    targets: u64,
    tool: Option<&str>,
    automated: bool,
    samples: &[&str],
    ended: bool,
) -> Notice {
    let info = ScanInfo {
        scanner: ip(scanner),
        kind: ScanKind::Horizontal,
        proto: IpProto::TCP,
        ports: vec![port],
        port_count: 1,
        target_count: targets,
        live_ratio: 0.1,
        failures_to_decision: 4,
        first_seen: ts.add_secs(-2),
        last_seen: ts,
        tool: ToolFingerprint {
            name: tool.map(str::to_string),
            automated,
            reason: if automated {
                "steady rate".into()
            } else {
                "irregular gaps".into()
            },
            rate_pps: 100.0,
            gap_cv: 0.1,
            order: TargetOrder::Sequential,
            constant_fields: vec![],
        },
        sample_targets: samples.iter().map(|s| ip(s)).collect(),
    };
    let kind = if ended {
        NoticeKind::ScanEnded(info)
    } else {
        NoticeKind::ScanDetected(info)
    };
    notice(
        ts,
        format!("scan:{scanner}:tcp/{port}"),
        scanner,
        None,
        None,
        kind,
    )
}

pub fn listener(ts: Timestamp, host: &str, port: u16, client: &str) -> Notice {
    notice(
        ts,
        format!("listener:{host}:{port}"),
        host,
        Some(client),
        Some(Stage::E6NewListener),
        NoticeKind::NewListener(ListenerInfo {
            port,
            proto: IpProto::TCP,
            first_client: ip(client),
            watched_secs: 100.0,
        }),
    )
}

pub fn c2(
    ts: Timestamp,
    client: &str,
    server: &str,
    port: u16,
    nick: &str,
    chan: &str,
    commands: &[&str],
) -> Notice {
    let mut traits = vec![];
    if port != 6667 {
        traits.push("irc_on_non_irc_port".to_string());
    }
    if !commands.is_empty() {
        traits.push("bot_command".to_string());
    }
    notice(
        ts,
        format!("c2:{client}:{server}:{port}"),
        client,
        Some(server),
        Some(Stage::E4C2),
        NoticeKind::C2Channel(C2Info {
            server: ip(server),
            port,
            proto: AppProto::Irc,
            nick: Some(nick.into()),
            channels: vec![chan.into()],
            traits,
            commands: commands.iter().map(|s| s.to_string()).collect(),
            beacon: None,
        }),
    )
}

pub fn beacon(ts: Timestamp, client: &str, server: &str, port: u16) -> Notice {
    notice(
        ts,
        format!("beacon:{client}:{server}:{port}"),
        client,
        Some(server),
        Some(Stage::E4C2),
        NoticeKind::Beacon(C2Info {
            server: ip(server),
            port,
            proto: AppProto::Tls,
            nick: None,
            channels: vec![],
            traits: vec!["beacon".into()],
            commands: vec![],
            beacon: Some((2.5, 0.8)),
        }),
    )
}

pub fn masquerade(ts: Timestamp, client: &str, server: &str, port: u16) -> Notice {
    notice(
        ts,
        format!("masq:{server}:{port}:irc"),
        client,
        Some(server),
        Some(Stage::E7Masquerade),
        NoticeKind::Masquerade {
            proto: AppProto::Irc,
            server: ip(server),
            port,
            registered: "https".into(),
        },
    )
}

#[allow(clippy::too_many_arguments)]
pub fn download(
    ts: Timestamp,
    client: &str,
    server: &str,
    port: u16,
    name: &str,
    sha: &str,
    exploit_before: bool,
) -> Notice {
    download_via(
        AppProto::Ftp,
        ts,
        client,
        server,
        port,
        name,
        sha,
        exploit_before,
    )
}

/// A PE download over `proto`.
#[allow(clippy::too_many_arguments)]
pub fn download_via(
    proto: AppProto,
    ts: Timestamp,
    client: &str,
    server: &str,
    port: u16,
    name: &str,
    sha: &str,
    exploit_before: bool,
) -> Notice {
    notice(
        ts,
        format!("download:{client}:{sha}"),
        client,
        Some(server),
        Some(Stage::E3EggDownload),
        NoticeKind::Download(DownloadInfo {
            client: ip(client),
            server: ip(server),
            server_port: port,
            proto,
            name: Some(name.into()),
            magic: FileMagic::Pe,
            size: 28_672,
            sha256: Some(sha.into()),
            exploit_before,
        }),
    )
}

pub fn propagation(
    ts: Timestamp,
    host: &str,
    port: u16,
    targets: &[&str],
    infected_at: Option<Timestamp>,
) -> Notice {
    notice(
        ts,
        format!("prop:{host}:tcp/{port}"),
        host,
        targets.first().copied(),
        Some(Stage::E5OutboundAttack),
        NoticeKind::Propagation(PropagationInfo {
            host: ip(host),
            port,
            proto: IpProto::TCP,
            sid: Some(2515),
            targets: targets.iter().map(|s| ip(s)).collect(),
            infected_at,
        }),
    )
}

/// As detect writes it: about the server, with the guesser as peer.
pub fn brute(ts: Timestamp, attacker: &str, target: &str, port: u16, attempts: u32) -> Notice {
    notice(
        ts,
        format!("brute:{attacker}:{target}:{port}"),
        target,
        Some(attacker),
        Some(Stage::E2InboundExploit),
        NoticeKind::BruteForce {
            proto: AppProto::Ftp,
            target: ip(target),
            port,
            attempts,
        },
    )
}

pub fn flow(id: u64, start: Timestamp, src: &str, dst: &str, dport: u16) -> FlowRecord {
    FlowRecord {
        flow_id: FlowId(id),
        key: FlowKey {
            src: ip(src),
            dst: ip(dst),
            src_port: 40_000,
            dst_port: dport,
            proto: IpProto::TCP,
            vlan: [0, 0],
        },
        start,
        end: start.add_secs(1),
        pkts_toserver: 1,
        pkts_toclient: 0,
        bytes_toserver: 60,
        bytes_toclient: 0,
        app_proto: AppProto::Unknown,
        app_proto_ts: None,
        app_proto_tc: None,
        state: FlowState::New,
        reason: EndReason::Timeout,
        alerted: false,
        tcp: None,
        icmp: None,
        macs: None,
    }
}

pub fn pct_anomaly(ts: Timestamp, flow: u64, src: &str, dst: &str) -> Anomaly {
    let mut a = Anomaly::new(
        ts,
        AnomalyType::Applayer,
        "pct.client_hello_oversized_challenge",
    );
    a.flow_id = Some(FlowId(flow));
    a.app_proto = Some(AppProto::Pct);
    a.detail = Some("challenge length 65535 > 32".into());
    a.endpoints = Some(Endpoints {
        src: ip(src),
        dst: ip(dst),
        src_port: 3312,
        dst_port: 443,
        proto: IpProto::TCP,
    });
    a
}

pub fn hello_ctx(ts: Timestamp, flow: u64, src: &str, dst: &str) -> AppContext {
    AppContext {
        ts,
        flow_id: FlowId(flow),
        key: FlowKey {
            src: ip(src),
            dst: ip(dst),
            src_port: 3312,
            dst_port: 443,
            proto: IpProto::TCP,
            vlan: [0, 0],
        },
        dir: Direction::ToServer,
    }
}

pub fn tls12_hello() -> AppEvent {
    AppEvent::Tls(TlsEvent::ClientHello {
        version: 0x0303,
        sni: Some("example.org".into()),
        ja3: None,
        ja4: None,
    })
}

pub fn pct_overflow_hello() -> AppEvent {
    AppEvent::Tls(TlsEvent::PctClientHello {
        version: 0x8001,
        challenge_len: 65535,
        cipher_specs_len: 3,
        key_specs_len: 0,
        overflow: true,
    })
}

/// A per-target scan notice as detect writes it (host = target, peer = scanner).
pub fn scan_target(ts: Timestamp, scanner: &str, target: &str, port: u16, targets: u64) -> Notice {
    let mut n = scan(
        ts,
        scanner,
        port,
        targets,
        Some("masscan"),
        true,
        &[],
        false,
    );
    n.identifier = format!("scan-target:{scanner}:tcp:{target}");
    n.host = ip(target);
    n.peer = Some(ip(scanner));
    n.stage = Some(Stage::E1InboundScan);
    n
}
