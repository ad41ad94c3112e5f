//! One generator per activity kind.

use super::{World, activity_rng, gen_err, mix64};
use crate::error::ScenarioError;
use crate::labels::*;
use crate::packet::{FragPlan, IpId, L4, Pkt, opt};
use crate::payload::exe::{self, BodyKind};
use crate::payload::{
    SimRng, dns, ftp, http, irc, legacy, random_array, random_bytes, ssh, tftp, tls,
};
use crate::scenario::text::rfc3339;
use crate::scenario::*;
use crate::tcp::{MS, OverlapPlan, SEC, Segmentation, SendHow, Side, US};
use rand::Rng;
use rand::seq::SliceRandom;
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, BTreeSet};
use std::net::Ipv4Addr;
use stormwatch_model::{Label, Stage, Timestamp};

/// Ports registered to a protocol other than IRC: IRC on them is a masquerade.
const REGISTERED_NON_IRC: &[u16] = &[21, 22, 23, 25, 53, 80, 110, 143, 443, 993, 995, 3389, 8080];

fn ts(ns: i64) -> String {
    rfc3339(Timestamp(ns))
}

fn secs(f: f64) -> i64 {
    (f * SEC as f64) as i64
}

/// A bot command as the IRC sessions see it.
struct BotEvent {
    controller: Ipv4Addr,
    channel: String,
    at: i64,
    line: String,
    /// Per bot: when it acts, and its acknowledgement (time, text).
    bots: Vec<(Ipv4Addr, i64, i64, String)>,
}

fn sessions_open(
    sc: &Scenario,
    upto: usize,
    at: i64,
    controller: Ipv4Addr,
    channel: &str,
) -> Vec<Ipv4Addr> {
    let mut v: Vec<Ipv4Addr> = sc.activities[..upto]
        .iter()
        .filter_map(|a| match &a.spec {
            ActivitySpec::IrcSession(s)
                if s.server == controller && s.channel == channel && a.at.0 + s.duration > at =>
            {
                Some(s.client)
            }
            _ => None,
        })
        .collect();
    v.dedup();
    v
}

fn bot_events(sc: &Scenario) -> BTreeMap<usize, BotEvent> {
    let mut out = BTreeMap::new();
    for (i, a) in sc.activities.iter().enumerate() {
        let ActivitySpec::BotCommand(b) = &a.spec else {
            continue;
        };
        let mut rng = activity_rng(sc.seed, 100_000 + i);
        let bots = if b.bots.is_empty() {
            sessions_open(sc, i, a.at.0, b.controller, &b.channel)
        } else {
            b.bots.clone()
        };
        let text = b.text.clone().unwrap_or_else(|| match &b.order {
            BotOrder::Scan { ports, targets, .. } => {
                let range = targets
                    .first()
                    .map(|t| {
                        let o = t.octets();
                        format!("{}.{}.x.x", o[0], o[1])
                    })
                    .unwrap_or_default();
                let module = match ports.first() {
                    Some(135) => "dcom135",
                    Some(445) => "lsass445",
                    Some(443) => "pct443",
                    _ => "netbios",
                };
                irc::bot::advscan(module, 100, 5, 0, &range)
            }
            BotOrder::Download {
                server, port, path, ..
            } => {
                let url = if *port == 80 {
                    format!("http://{server}{path}")
                } else {
                    format!("http://{server}:{port}{path}")
                };
                let file = path.rsplit('/').next().unwrap_or("x.exe");
                irc::bot::download(&url, &format!("c:\\{file}"))
            }
        });
        let op = irc::mask(&b.operator, "op", "ops.example");
        let line = if b.as_topic {
            irc::topic(Some(&op), &b.channel, &text)
        } else {
            irc::privmsg(Some(&op), &b.channel, &text)
        };
        let mut per = Vec::new();
        for bot in bots {
            let act = a.at.0 + b.delay + rng.gen_range(0..3 * SEC);
            let (ack_t, ack) = match &b.order {
                BotOrder::Scan { ports, targets, .. } => {
                    let o = targets.first().map(|t| t.octets()).unwrap_or([0; 4]);
                    (
                        act + rng.gen_range(200 * MS..900 * MS),
                        irc::bot::scan_ack(
                            "advscan",
                            &format!("{}.{}.x.x", o[0], o[1]),
                            ports.first().copied().unwrap_or(445),
                            100,
                            0,
                        ),
                    )
                }
                BotOrder::Download { path, size, .. } => {
                    let file = path.rsplit('/').next().unwrap_or("x.exe");
                    (
                        act + 20 * SEC + rng.gen_range(0..5 * SEC),
                        irc::bot::download_ack(*size, &format!("c:\\{file}"), 3),
                    )
                }
            };
            per.push((bot, act, ack_t, ack));
        }
        out.insert(
            i,
            BotEvent {
                controller: b.controller,
                channel: b.channel.clone(),
                at: a.at.0,
                line,
                bots: per,
            },
        );
    }
    out
}

pub(super) fn run(w: &mut World<'_>) -> Result<(), ScenarioError> {
    let sc = w.sc;
    let events = bot_events(sc);
    for (i, act) in sc.activities.iter().enumerate() {
        let mut rng = activity_rng(sc.seed, i);
        let t0 = act.at.0;
        let campaign = act.campaign.clone().unwrap_or_else(|| sc.name.clone());
        match &act.spec {
            ActivitySpec::Scan(s) => {
                scan(w, &mut rng, t0, s);
            }
            ActivitySpec::Exploit(e) => {
                exploit(w, &mut rng, t0, e, 1, &campaign);
            }
            ActivitySpec::Listener(l) => listener(w, &mut rng, t0, l),
            ActivitySpec::IrcSession(s) => {
                let evs: Vec<&BotEvent> = events
                    .values()
                    .filter(|e| e.controller == s.server && e.channel == s.channel)
                    .collect();
                irc_session(w, &mut rng, t0, s, &evs, &campaign);
            }
            ActivitySpec::HttpDownload(h) => {
                http_download(w, &mut rng, t0, h, &campaign);
            }
            ActivitySpec::TlsSession(t) => tls_session(w, &mut rng, t0, t),
            ActivitySpec::Dns(d) => dns_lookups(w, &mut rng, t0, d),
            ActivitySpec::SshSession(s) => ssh_session(w, &mut rng, t0, s),
            ActivitySpec::FtpSession(f) => ftp_session(w, &mut rng, t0, f, &campaign),
            ActivitySpec::Tftp(t) => tftp_read(w, &mut rng, t0, t, &campaign),
            ActivitySpec::Propagate(p) => {
                propagate(w, &mut rng, t0, p, &campaign).map_err(|m| ScenarioError {
                    line: act.line,
                    column: 1,
                    ..gen_err(sc, &m)
                })?
            }
            ActivitySpec::BotCommand(b) => {
                if let Some(ev) = events.get(&i) {
                    bot_command(w, &mut rng, b, ev, &campaign);
                }
            }
            ActivitySpec::Background(b) => background(w, &mut rng, t0, b),
        }
    }
    Ok(())
}

// ---------------------------------------------------------------- scans

struct Probe {
    target: Ipv4Addr,
    t: i64,
    open: bool,
}

fn scan(w: &mut World<'_>, rng: &mut SimRng, t0: i64, s: &Scan) -> Vec<Probe> {
    let forced: BTreeSet<Ipv4Addr> = s.open.iter().copied().collect();
    let open_p = if s.live_ratio > 0.0 {
        (s.open_ratio / s.live_ratio).min(1.0)
    } else {
        0.0
    };
    let mut live: BTreeMap<Ipv4Addr, bool> = BTreeMap::new();
    for t in &s.targets {
        let l = forced.contains(t) || rng.gen_bool(s.live_ratio);
        live.entry(*t).or_insert(l);
    }
    let mut order: Vec<(Ipv4Addr, u16)> = s
        .targets
        .iter()
        .flat_map(|t| s.ports.iter().map(move |p| (*t, *p)))
        .collect();
    if s.order == Order::Random {
        order.shuffle(rng);
    }
    let scanner = s.from;
    let internal_scanner = w.internal(scanner);
    let fixed_sport = match s.tool {
        Tool::NmapLike | Tool::MasscanLike => {
            Some(s.src_port.unwrap_or(rng.gen_range(32_768..61_000)))
        }
        _ => s.src_port,
    };
    let nmap_window = [1024u16, 2048, 3072, 4096][rng.gen_range(0..4)];
    let gap = 1.0 / s.rate.max(1e-6);
    let mut t = t0;
    let mut probes = Vec::with_capacity(order.len());
    for (k, (target, port)) in order.into_iter().enumerate() {
        if w.full() {
            break;
        }
        if k > 0 {
            let f = match s.tool {
                Tool::Manual => rng.gen_range(0.3..1.7),
                _ => rng.gen_range(0.97..1.03),
            };
            t += secs(gap * f).max(US);
        }
        let is_live = live.get(&target).copied().unwrap_or(false);
        let open = forced.contains(&target) || (is_live && rng.gen_bool(open_p));
        match s.proto {
            ScanProto::Tcp => tcp_probe(
                w,
                rng,
                s,
                t,
                target,
                port,
                is_live,
                open,
                fixed_sport,
                nmap_window,
            ),
            ScanProto::Udp => udp_probe(w, rng, s, t, target, port, is_live, open),
            ScanProto::Icmp => icmp_probe(w, rng, s, t, target, k, is_live),
        }
        w.facts.stage(target, Stage::E1InboundScan, t);
        probes.push(Probe {
            target,
            t,
            open: open && is_live || forced.contains(&target),
        });
    }
    // Labels.
    w.facts.role(scanner, Label::Scanner);
    for p in s.ports.iter().collect::<BTreeSet<_>>() {
        w.facts.attack(scanner, *p, t0, internal_scanner);
    }
    let distinct: BTreeSet<Ipv4Addr> = s.targets.iter().copied().collect();
    let ports: BTreeSet<u16> = s.ports.iter().copied().collect();
    let kind = match (distinct.len() > 1, ports.len() > 1) {
        (true, true) => "block",
        (false, true) => "vertical",
        _ => "horizontal",
    };
    let open_targets: BTreeSet<Ipv4Addr> =
        probes.iter().filter(|p| p.open).map(|p| p.target).collect();
    w.facts.scans.push(ScanLabel {
        scanner: scanner.to_string(),
        kind: kind.into(),
        proto: match s.proto {
            ScanProto::Tcp => "tcp",
            ScanProto::Udp => "udp",
            ScanProto::Icmp => "icmp",
        }
        .into(),
        ports: if s.proto == ScanProto::Icmp {
            vec![]
        } else {
            ports.into_iter().collect()
        },
        targets: distinct.len(),
        probes: probes.len(),
        open: open_targets.len(),
        automated: s.automated.unwrap_or(s.tool != Tool::Manual),
        tool: s.tool.as_str().into(),
        order: match s.order {
            Order::Sequential => "sequential",
            Order::Random => "random",
        }
        .into(),
        rate: s.rate,
        first_probe_ts: ts(probes.first().map_or(t0, |p| p.t)),
        last_probe_ts: ts(probes.last().map_or(t0, |p| p.t)),
    });
    probes
}

#[allow(clippy::too_many_arguments)]
fn tcp_probe(
    w: &mut World<'_>,
    rng: &mut SimRng,
    s: &Scan,
    t: i64,
    target: Ipv4Addr,
    port: u16,
    live: bool,
    open: bool,
    fixed_sport: Option<u16>,
    nmap_window: u16,
) {
    let scanner = s.from;
    let sport = match fixed_sport {
        Some(p) => p,
        None => w.eph_port(scanner),
    };
    let mut c = w.conn_from(scanner, sport, target, port, rng);
    match s.tool {
        Tool::NmapLike => {
            c.syn_options = Some(opt::mss(1460).to_vec());
            c.syn_window = Some(s.window.unwrap_or(nmap_window));
            let ttl = s.ttl.unwrap_or(rng.gen_range(37..60));
            let seen = w.ttl_seen(scanner, ttl);
            c.set_ttl(Side::Client, seen);
            c.set_ip_id(Side::Client, IpId::Fixed(s.ip_id.unwrap_or(rng.r#gen())));
        }
        Tool::MasscanLike => {
            c.syn_options = Some(Vec::new());
            c.syn_window = Some(s.window.unwrap_or(1024));
            let seen = w.ttl_seen(scanner, s.ttl.unwrap_or(255));
            c.set_ttl(Side::Client, seen);
            c.set_ip_id(Side::Client, IpId::Fixed(s.ip_id.unwrap_or(rng.r#gen())));
        }
        _ => {
            if let Some(ttl) = s.ttl {
                let seen = w.ttl_seen(scanner, ttl);
                c.set_ttl(Side::Client, seen);
            }
            if let Some(id) = s.ip_id {
                c.set_ip_id(Side::Client, IpId::Fixed(id));
            }
            if let Some(win) = s.window {
                c.syn_window = Some(win);
            }
        }
    }
    let d_t = w.d(target);
    let d_s = w.d(scanner);
    if !live {
        c.syn(t);
    } else if !open {
        c.syn(t);
        c.rst_at(Side::Server, t + 2 * d_t + 30 * US);
    } else {
        match s.tool {
            Tool::NmapLike | Tool::MasscanLike | Tool::Plain => {
                c.syn(t);
                let t1 = t + 2 * d_t + 40 * US;
                c.syn_ack(t1);
                let seq = c.nxt(Side::Client);
                c.bare_rst(Side::Client, t1 + 2 * d_s + 15 * US, seq);
            }
            Tool::WormSequential => {
                c.handshake(t);
                c.rst(Side::Client, 2 * MS);
            }
            Tool::Manual => {
                c.handshake(t);
                c.fin(Side::Client, rng.gen_range(2 * SEC..6 * SEC));
            }
        }
    }
    w.commit(c);
}

#[allow(clippy::too_many_arguments)]
fn udp_probe(
    w: &mut World<'_>,
    rng: &mut SimRng,
    s: &Scan,
    t: i64,
    target: Ipv4Addr,
    port: u16,
    live: bool,
    open: bool,
) {
    let scanner = s.from;
    let sport = s.src_port.unwrap_or_else(|| w.eph_port(scanner));
    let sh = w.host(scanner);
    let th = w.host(target);
    let payload = if port == 53 {
        dns::query(rng.r#gen(), "version.bind", dns::TYPE_A)
    } else {
        Vec::new()
    };
    let probe = Pkt {
        ts: t,
        src: scanner,
        dst: target,
        ttl: sh.prof.ttl.saturating_sub(sh.hops),
        ip_id: s.ip_id.map_or(IpId::Host, IpId::Fixed),
        df: false,
        frag: None,
        l4: L4::Udp {
            sport,
            dport: port,
            payload,
        },
    };
    if live && !open {
        // ICMP port unreachable quoting the probe's IP header and 8 bytes.
        let mut quote = Vec::new();
        let tb = probe.transport_bytes();
        crate::packet::emit_ipv4_header(
            scanner,
            target,
            crate::packet::PROTO_UDP,
            probe.ttl.saturating_sub(th.hops.max(1)),
            0,
            false,
            false,
            0,
            tb.len(),
            &mut quote,
        );
        quote.extend_from_slice(&tb[..tb.len().min(8)]);
        w.push(Pkt {
            ts: t + 2 * th.d.max(20 * US) + 50 * US,
            src: target,
            dst: scanner,
            ttl: th.prof.ttl.saturating_sub(th.hops),
            ip_id: IpId::Host,
            df: false,
            frag: None,
            l4: L4::Icmp {
                typ: 3,
                code: 3,
                rest: [0; 4],
                payload: quote,
            },
        });
    }
    w.push(probe);
}

fn icmp_probe(
    w: &mut World<'_>,
    rng: &mut SimRng,
    s: &Scan,
    t: i64,
    target: Ipv4Addr,
    k: usize,
    live: bool,
) {
    let scanner = s.from;
    let sh = w.host(scanner);
    let th = w.host(target);
    let id: u16 = rng.r#gen();
    let seq = (k & 0xffff) as u16;
    let mut rest = [0u8; 4];
    rest[..2].copy_from_slice(&id.to_be_bytes());
    rest[2..].copy_from_slice(&seq.to_be_bytes());
    let payload = b"abcdefghijklmnopqrstuvwabcdefghi".to_vec();
    w.push(Pkt {
        ts: t,
        src: scanner,
        dst: target,
        ttl: sh.prof.ttl.saturating_sub(sh.hops),
        ip_id: s.ip_id.map_or(IpId::Host, IpId::Fixed),
        df: false,
        frag: None,
        l4: L4::Icmp {
            typ: 8,
            code: 0,
            rest,
            payload: payload.clone(),
        },
    });
    if live {
        w.push(Pkt {
            ts: t + 2 * th.d.max(20 * US) + 30 * US,
            src: target,
            dst: scanner,
            ttl: th.prof.ttl.saturating_sub(th.hops),
            ip_id: IpId::Host,
            df: false,
            frag: None,
            l4: L4::Icmp {
                typ: 0,
                code: 0,
                rest,
                payload,
            },
        });
    }
}

// ---------------------------------------------------------------- exploit

fn transport_name(t: &Transport) -> String {
    let mut parts = Vec::new();
    if let Some(n) = t.segment_size {
        parts.push(format!("segment_size={n}"));
    }
    if t.overlap {
        parts.push("overlap".to_string());
    }
    if let Some(n) = t.ip_fragment {
        parts.push(format!("ip_fragment={n}"));
    }
    if t.retransmit {
        parts.push("retransmit".to_string());
    }
    if parts.is_empty() {
        "normal".into()
    } else {
        parts.join(",")
    }
}

/// Returns the time of the first exploit byte.
fn exploit(
    w: &mut World<'_>,
    rng: &mut SimRng,
    t0: i64,
    e: &Exploit,
    generation: u32,
    campaign: &str,
) -> i64 {
    let mut c = w.conn(e.from, e.to, e.port, rng);
    let client_port = c.client_port();
    c.handshake(t0);
    let payload = legacy::pct_overflow_hello(e.body_len, 0x41);
    let how = SendHow {
        seg: e
            .transport
            .segment_size
            .map_or(Segmentation::Mss, Segmentation::Fixed),
        overlap: e.transport.overlap.then_some(OverlapPlan {
            a: 2,
            b: 10,
            c: 11,
            e: 16,
        }),
        frag: e.transport.ip_fragment.map(|size| FragPlan {
            size,
            reverse: e.transport.fragment_reverse,
        }),
        retransmit: e.transport.retransmit,
    };
    c.send(Side::Client, &payload, 3 * MS, &how);
    let t_data = c.last_start;
    if e.success {
        // The service thread is gone: no answer; the attacker aborts.
        c.rst(Side::Client, 1500 * MS);
    } else {
        // Patched: the server drops the connection.
        c.fin(Side::Server, 20 * MS);
    }
    w.commit(c);
    let internal_from = w.internal(e.from);
    w.facts.stage(e.to, Stage::E2InboundExploit, t_data);
    w.facts.role(e.from, Label::Exploiter);
    w.facts.attack(e.from, e.port, t_data, internal_from);
    if e.success {
        w.facts.infect(e.to, t_data, e.from, e.port, generation);
        w.facts.campaign(e.to, campaign);
    } else {
        w.facts.targeted(e.to);
    }
    w.facts.exploits.push(ExploitLabel {
        from: e.from.to_string(),
        to: e.to.to_string(),
        port: e.port,
        vector: e.vector.as_str().into(),
        ts: ts(t_data),
        flow: FlowRef {
            src_port: client_port,
        },
        success: e.success,
        transport: transport_name(&e.transport),
    });
    t_data
}

// ---------------------------------------------------------------- listener

const WIN_BANNER: &str = "Microsoft Windows 2000 [Version 5.00.2195]\r\n(C) Copyright 1985-2000 Microsoft Corp.\r\n\r\nC:\\WINNT\\system32>";

fn shell_output(cmd: &str, host: Ipv4Addr) -> String {
    let c = cmd.trim().to_ascii_lowercase();
    let body = if c == "ipconfig" {
        format!(
            "\r\nWindows 2000 IP Configuration\r\n\r\nEthernet adapter Local Area Connection:\r\n\r\n        Connection-specific DNS Suffix  . :\r\n        IP Address. . . . . . . . . . . . : {host}\r\n        Subnet Mask . . . . . . . . . . . : 255.255.0.0\r\n        Default Gateway . . . . . . . . . : {}.{}.0.1\r\n",
            host.octets()[0],
            host.octets()[1]
        )
    } else if c.starts_with("net user") {
        "\r\nUser accounts for \\\\WEB01\r\n\r\n-------------------------------------------------------------------------------\r\nAdministrator            Guest                    IUSR_WEB01\r\nIWAM_WEB01               TsInternetUser\r\nThe command completed successfully.\r\n".to_string()
    } else if c.starts_with("dir") {
        " Volume in drive C has no label.\r\n Volume Serial Number is 1C3A-0F2B\r\n\r\n Directory of C:\\\r\n\r\n04/19/2004  11:02p      <DIR>          Inetpub\r\n03/02/2004  09:15a      <DIR>          Documents and Settings\r\n04/20/2004  08:47a      <DIR>          WINNT\r\n03/02/2004  09:20a      <DIR>          Program Files\r\n               0 File(s)              0 bytes\r\n               4 Dir(s)   3,221,225,472 bytes free\r\n".to_string()
    } else if c.starts_with("tftp") || c.starts_with("copy") {
        "Transfer successful: 28672 bytes in 2 seconds, 14336 bytes/s\r\n".to_string()
    } else {
        format!(
            "'{}' is not recognized as an internal or external command,\r\noperable program or batch file.\r\n",
            cmd.trim()
        )
    };
    format!("{cmd}\r\n{body}\r\nC:\\WINNT\\system32>")
}

fn listener(w: &mut World<'_>, rng: &mut SimRng, t0: i64, l: &Listener) {
    let mut c = w.conn(l.client, l.host, l.port, rng);
    c.handshake(t0);
    match &l.session {
        ListenerSession::Shell(cmds) => {
            c.send(
                Side::Server,
                WIN_BANNER.as_bytes(),
                30 * MS,
                &SendHow::default(),
            );
            for cmd in cmds {
                let line = format!("{cmd}\r\n");
                c.send(
                    Side::Client,
                    line.as_bytes(),
                    rng.gen_range(2 * SEC..12 * SEC),
                    &SendHow::default(),
                );
                let out = shell_output(cmd, l.host);
                c.send(
                    Side::Server,
                    out.as_bytes(),
                    rng.gen_range(40 * MS..300 * MS),
                    &SendHow::default(),
                );
            }
            c.send(
                Side::Client,
                b"exit\r\n",
                rng.gen_range(2 * SEC..8 * SEC),
                &SendHow::default(),
            );
            c.fin(Side::Server, 10 * MS);
        }
        ListenerSession::Silent => {
            c.fin(Side::Client, rng.gen_range(SEC..3 * SEC));
        }
    }
    w.commit(c);
    w.facts.stage(l.host, Stage::E6NewListener, t0);
    w.facts.listeners.push(ListenerLabel {
        host: l.host.to_string(),
        port: l.port,
        first_client: l.client.to_string(),
        ts: ts(t0),
    });
}

// ---------------------------------------------------------------- IRC

/// Cut points inside each line of `text` (1–2 per line, never at the end).
fn line_cuts(text: &str, rng: &mut SimRng) -> Vec<usize> {
    let mut cuts = Vec::new();
    let mut pos = 0;
    for l in text.split_inclusive("\r\n") {
        if l.len() > 3 {
            let a = pos + rng.gen_range(1..l.len() - 1);
            cuts.push(a);
            if l.len() > 12 && rng.gen_bool(0.5) {
                let b = pos + rng.gen_range(1..l.len() - 1);
                if b != a {
                    cuts.push(b);
                }
            }
        }
        pos += l.len();
    }
    cuts.sort_unstable();
    cuts.dedup();
    cuts
}

fn irc_session(
    w: &mut World<'_>,
    rng: &mut SimRng,
    t0: i64,
    s: &IrcSession,
    events: &[&BotEvent],
    campaign: &str,
) {
    let nick = s.nick.clone().unwrap_or_else(|| match s.nick_style {
        NickStyle::Bot => irc::bot_nick(rng),
        NickStyle::Trojan => irc::trojan_nick(rng),
        NickStyle::Human => "guest".to_string(),
    });
    let srv = s.server_name.as_str();
    let client_host = format!("host-{}.example", s.client.to_string().replace('.', "-"));
    let me = irc::mask(&nick, &s.user, &client_host);
    let mut c = w.conn(s.client, s.server, s.port, rng);
    let sport = c.client_port();
    c.handshake(t0);
    let split = s.split_lines;
    let client_send = |c: &mut crate::tcp::TcpConn, text: &str, think: i64, rng: &mut SimRng| {
        let how = if split {
            SendHow::cuts(line_cuts(text, rng))
        } else {
            SendHow::default()
        };
        c.send(Side::Client, text.as_bytes(), think, &how);
    };
    let notice = format!(
        "{}{}",
        irc::notice(Some(srv), "AUTH", "*** Looking up your hostname..."),
        irc::notice(Some(srv), "AUTH", "*** Found your hostname")
    );
    c.send(Side::Server, notice.as_bytes(), 5 * MS, &SendHow::default());
    let realname = if s.nick_style == NickStyle::Human {
        s.user.as_str()
    } else {
        &nick
    };
    let reg = irc::registration(s.pass.as_deref(), &nick, &s.user, realname);
    client_send(&mut c, &reg, 30 * MS, rng);
    let token: u32 = rng.r#gen();
    let token = format!("{token:08X}");
    c.send(
        Side::Server,
        irc::ping(None, &token).as_bytes(),
        10 * MS,
        &SendHow::default(),
    );
    client_send(
        &mut c,
        &irc::line(None, "PONG", &[], Some(&token)),
        20 * MS,
        rng,
    );
    let motd: Vec<&str> = vec!["Welcome.", "Be nice or be gone."];
    let mut burst = irc::welcome(
        srv,
        "ExampleNet",
        &nick,
        &format!("{}@{client_host}", s.user),
        &motd,
    );
    burst.push_str(&irc::line(Some(&nick), "MODE", &[&nick], Some("+i")));
    c.send(Side::Server, burst.as_bytes(), 15 * MS, &SendHow::default());
    client_send(
        &mut c,
        &irc::join(&s.channel, s.key.as_deref()),
        rng.gen_range(500 * MS..2 * SEC),
        rng,
    );
    let mut names: Vec<String> = vec![nick.clone()];
    names.extend(s.members.iter().cloned());
    for ev in events {
        if let Some(op) = ev.line.strip_prefix(':').and_then(|x| x.split('!').next()) {
            let op = format!("@{op}");
            if !names.contains(&op) {
                names.push(op);
            }
        }
    }
    let name_refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let topic_setter = irc::mask("op", "op", "ops.example");
    let reply = irc::join_reply(
        srv,
        &me,
        &nick,
        &s.channel,
        s.topic.as_deref().map(|t| (t, topic_setter.as_str())),
        &name_refs,
    );
    c.send(Side::Server, reply.as_bytes(), 10 * MS, &SendHow::default());
    let t_joined = c.now();
    let t_end = t0 + s.duration;

    // Timeline of what follows: (time, order, what).
    enum Ev {
        Ping,
        Say(String),
        Hear(String, String),
        Cmd(String),
        Ack(String),
    }
    let mut tl: Vec<(i64, u32, Ev)> = Vec::new();
    let mut t = t_joined + s.ping_interval;
    let mut k = 0u32;
    while t < t_end - 5 * SEC {
        tl.push((t + rng.gen_range(0..2 * SEC), k, Ev::Ping));
        t += s.ping_interval;
        k += 1;
    }
    let span = (t_end - t_joined).max(SEC);
    for (i, line) in s.says.iter().enumerate() {
        let at = t_joined
            + span * (2 * i as i64 + 1) / (2 * s.says.len() as i64 + 1)
            + rng.gen_range(0..20 * SEC);
        tl.push((at.min(t_end - SEC), 1000 + i as u32, Ev::Say(line.clone())));
    }
    for (i, line) in s.hears.iter().enumerate() {
        let who = s
            .members
            .get(i % s.members.len().max(1))
            .cloned()
            .unwrap_or_else(|| "friend".into());
        let at = t_joined
            + span * (2 * i as i64 + 2) / (2 * s.hears.len() as i64 + 2)
            + rng.gen_range(0..20 * SEC);
        tl.push((
            at.min(t_end - SEC),
            2000 + i as u32,
            Ev::Hear(who, line.clone()),
        ));
    }
    let mut commanded = false;
    for ev in events {
        if ev.at < t_joined || ev.at >= t_end {
            continue;
        }
        if let Some((_, _, ack_t, ack)) = ev.bots.iter().find(|b| b.0 == s.client) {
            tl.push((ev.at, 3000, Ev::Cmd(ev.line.clone())));
            tl.push(((*ack_t).min(t_end - SEC), 3001, Ev::Ack(ack.clone())));
            commanded = true;
        }
    }
    tl.sort_by_key(|(t, k, _)| (*t, *k));
    for (at, _, ev) in tl {
        match ev {
            Ev::Ping => {
                c.send_at(
                    Side::Server,
                    irc::ping(None, srv).as_bytes(),
                    at,
                    &SendHow::default(),
                );
                let pong = irc::pong(srv, srv);
                client_send(&mut c, &pong, rng.gen_range(5 * MS..80 * MS), rng);
            }
            Ev::Say(text) => {
                let line = irc::privmsg(None, &s.channel, &text);
                let how = if split {
                    SendHow::cuts(line_cuts(&line, rng))
                } else {
                    SendHow::default()
                };
                c.send_at(Side::Client, line.as_bytes(), at, &how);
            }
            Ev::Hear(who, text) => {
                let m = irc::mask(&who, &who.to_ascii_lowercase(), "users.example");
                let line = irc::privmsg(Some(&m), &s.channel, &text);
                c.send_at(Side::Server, line.as_bytes(), at, &SendHow::default());
            }
            Ev::Cmd(line) => {
                c.send_at(Side::Server, line.as_bytes(), at, &SendHow::default());
            }
            Ev::Ack(text) => {
                let line = irc::privmsg(None, &s.channel, &text);
                let how = if split {
                    SendHow::cuts(line_cuts(&line, rng))
                } else {
                    SendHow::default()
                };
                c.send_at(Side::Client, line.as_bytes(), at, &how);
            }
        }
    }
    if s.quit {
        let q = irc::quit("Leaving");
        let how = if split {
            SendHow::cuts(line_cuts(&q, rng))
        } else {
            SendHow::default()
        };
        c.send_at(Side::Client, q.as_bytes(), t_end, &how);
        let err = irc::line(
            None,
            "ERROR",
            &[],
            Some(&format!(
                "Closing Link: {nick}[{client_host}] (Quit: Leaving)"
            )),
        );
        c.send(Side::Server, err.as_bytes(), 5 * MS, &SendHow::default());
        c.fin(Side::Server, 2 * MS);
    }
    w.commit(c);
    if s.c2 {
        w.facts.stage(s.client, Stage::E4C2, t0);
        if REGISTERED_NON_IRC.contains(&s.port) {
            w.facts.stage(s.client, Stage::E7Masquerade, t0);
        }
        w.facts.role(s.server, Label::Controller);
        w.facts.campaign(s.client, campaign);
        w.facts.c2.push(C2Label {
            client: s.client.to_string(),
            server: s.server.to_string(),
            port: s.port,
            proto: "irc".into(),
            nick,
            channel: s.channel.clone(),
            key: s.key.clone(),
            bot_commands: commanded,
            ts: ts(t0),
            flow: FlowRef { src_port: sport },
        });
    }
}

// ---------------------------------------------------------------- HTTP

fn sha256_hex(b: &[u8]) -> String {
    let d = Sha256::digest(b);
    d.iter().map(|x| format!("{x:02x}")).collect()
}

#[allow(clippy::too_many_arguments)]
fn record_egg(
    w: &mut World<'_>,
    client: Ipv4Addr,
    server: Ipv4Addr,
    port: u16,
    proto: &str,
    name: &str,
    body: &[u8],
    t: i64,
    campaign: &str,
) {
    let after_exploit = w.facts.is_infected_before(client, t);
    let malicious = after_exploit || w.facts.is_bot(client);
    w.facts.stage(client, Stage::E3EggDownload, t);
    if malicious {
        w.facts.role(server, Label::EggServer);
        w.facts.campaign(client, campaign);
    }
    w.facts.eggs.push(EggLabel {
        client: client.to_string(),
        server: server.to_string(),
        port,
        proto: proto.into(),
        name: name.into(),
        sha256: sha256_hex(body),
        size: body.len(),
        after_exploit,
        malicious,
        ts: ts(t),
    });
}

/// A file's bytes depend only on its kind, size, name and the scenario seed,
/// so every download of one URL (a botnet's update, a worm's body) is the same file.
fn file_body(w: &World<'_>, kind: BodyKind, size: usize, name: &str) -> Vec<u8> {
    use rand::SeedableRng;
    let h = name.bytes().fold(0xcbf2_9ce4_8422_2325u64, |a, b| {
        (a ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    });
    let mut rng = SimRng::seed_from_u64(mix64(h ^ mix64(w.sc.seed) ^ size as u64));
    exe::body(kind, size, name, &mut rng)
}

fn http_download(
    w: &mut World<'_>,
    rng: &mut SimRng,
    t0: i64,
    h: &HttpDownload,
    campaign: &str,
) -> i64 {
    let body = file_body(w, h.body, h.size, &h.path);
    let mut c = w.conn(h.client, h.server, h.port, rng);
    c.handshake(t0);
    let req = http::request(
        "GET",
        &h.path,
        &h.host_header,
        &[
            ("Accept", "*/*"),
            ("User-Agent", &h.user_agent),
            ("Connection", "Keep-Alive"),
        ],
    );
    c.send(Side::Client, &req, MS, &SendHow::default());
    let t_req = c.last_start;
    let resp = http::response(
        200,
        &[
            ("Date", &http_date(t_req)),
            ("Server", "Apache/1.3.29 (Unix)"),
            ("Content-Type", h.body.mime()),
        ],
        &body,
        h.chunked,
    );
    c.send(
        Side::Server,
        &resp,
        rng.gen_range(5 * MS..40 * MS),
        &SendHow::default(),
    );
    let end = c.fin(Side::Client, rng.gen_range(50 * MS..400 * MS));
    w.commit(c);
    if h.body.is_executable() {
        record_egg(
            w, h.client, h.server, h.port, "http", &h.path, &body, t_req, campaign,
        );
    }
    end
}

fn http_date(t: i64) -> String {
    const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let ts = Timestamp(t);
    let human = ts.to_human(); // YYYY-MM-DD HH:MM:SS
    let days = ts.secs().div_euclid(86_400);
    let dow = DAYS[days.rem_euclid(7) as usize];
    let y = human.get(0..4).unwrap_or("1970");
    let m: usize = human.get(5..7).and_then(|x| x.parse().ok()).unwrap_or(1);
    let d = human.get(8..10).unwrap_or("01");
    let hms = human.get(11..19).unwrap_or("00:00:00");
    format!("{dow}, {d} {} {y} {hms} GMT", MONTHS[(m.clamp(1, 12)) - 1])
}

// ---------------------------------------------------------------- TLS

fn tls_session(w: &mut World<'_>, rng: &mut SimRng, t0: i64, t: &TlsSession) {
    let mut c = w.conn(t.client, t.server, t.port, rng);
    c.handshake(t0);
    let v = t.version;
    match t.hello {
        Hello::Pct => {
            let mut challenge = [0u8; 32];
            challenge.copy_from_slice(&random_bytes(rng, 32));
            let hello = legacy::pct_client_hello(&legacy::PctClientHello {
                session_id: [0; 32],
                challenge,
                cipher_specs: legacy::PCT_CIPHER_SPECS,
                hash_specs: legacy::PCT_HASH_SPECS,
                cert_specs: legacy::PCT_CERT_SPECS,
                exch_specs: legacy::PCT_EXCH_SPECS,
            });
            c.send(Side::Client, &hello, MS, &SendHow::default());
            c.send(
                Side::Server,
                &legacy::pct_error_specs_mismatch(),
                2 * MS,
                &SendHow::default(),
            );
            c.fin(Side::Server, MS);
            w.commit(c);
            return;
        }
        Hello::Sslv2Compat => {
            let challenge = random_bytes(rng, 16);
            let hello =
                legacy::sslv2_client_hello(tls::TLS10, legacy::SSLV2_COMPAT_SPECS, &[], &challenge);
            c.send(Side::Client, &hello, MS, &SendHow::default());
        }
        Hello::Tls => {
            let random: [u8; 32] = random_array(rng);
            let ch = tls::ClientHello {
                version: v,
                record_version: tls::TLS10,
                random,
                session_id: &[],
                ciphers: if v >= tls::TLS12 {
                    tls::CIPHERS_TLS12
                } else {
                    tls::CIPHERS_2004
                },
                sni: Some(&t.sni),
                modern_extensions: v >= tls::TLS12,
            };
            let rec = tls::record(tls::content::HANDSHAKE, tls::TLS10, &tls::client_hello(&ch));
            c.send(Side::Client, &rec, MS, &SendHow::default());
        }
    }
    let cipher = if v >= tls::TLS12 { 0x009c } else { 0x0005 };
    let srandom: [u8; 32] = random_array(rng);
    let sid: [u8; 32] = random_array(rng);
    let cert = crate::payload::cert::certificate(
        &crate::payload::cert::CertSpec {
            cn: &t.sni,
            org: "Example Inc",
            issuer_cn: "Example Secure Server CA",
            issuer_org: "Example Trust",
            not_before: "040101000000Z",
            not_after: "060101000000Z",
        },
        rng,
    );
    let mut flight = tls::server_hello(v, &srandom, &sid, cipher, v >= tls::TLS12);
    flight.extend_from_slice(&tls::certificate(&[cert]));
    flight.extend_from_slice(&tls::server_hello_done());
    let srec = tls::record(tls::content::HANDSHAKE, v, &flight);
    c.send(
        Side::Server,
        &srec,
        rng.gen_range(MS..8 * MS),
        &SendHow::default(),
    );
    let mut cflight = tls::record(
        tls::content::HANDSHAKE,
        v,
        &tls::client_key_exchange_rsa(v, &random_bytes(rng, 128)),
    );
    cflight.extend_from_slice(&tls::change_cipher_spec(v));
    cflight.extend_from_slice(&tls::encrypted_finished(v, rng));
    c.send(
        Side::Client,
        &cflight,
        rng.gen_range(2 * MS..10 * MS),
        &SendHow::default(),
    );
    let mut sfin = tls::change_cipher_spec(v);
    sfin.extend_from_slice(&tls::encrypted_finished(v, rng));
    c.send(
        Side::Server,
        &sfin,
        rng.gen_range(MS..5 * MS),
        &SendHow::default(),
    );
    for i in 0..t.requests.max(1) {
        let think = if i == 0 {
            MS
        } else {
            rng.gen_range(300 * MS..4 * SEC)
        };
        let req = tls::application_data(v, rng.gen_range(300..700), rng);
        c.send(Side::Client, &req, think, &SendHow::default());
        let n = (t.response_size as f64 * rng.gen_range(0.6..1.4)) as usize;
        let resp = tls::application_data(v, n.max(64), rng);
        c.send(
            Side::Server,
            &resp,
            rng.gen_range(5 * MS..60 * MS),
            &SendHow::default(),
        );
    }
    let alert = tls::encrypted_alert(v, rng);
    c.send(
        Side::Client,
        &alert,
        rng.gen_range(200 * MS..2 * SEC),
        &SendHow::default(),
    );
    c.fin(Side::Client, MS);
    w.commit(c);
}

// ---------------------------------------------------------------- DNS, NTP, ICMP

fn name_address(name: &str) -> Ipv4Addr {
    let h = mix64(name.bytes().fold(0xcbf2_9ce4_8422_2325u64, |a, b| {
        (a ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    }));
    Ipv4Addr::new(
        198,
        18 + (h % 2) as u8,
        (h >> 8) as u8,
        1 + (h >> 16) as u8 % 250,
    )
}

fn dns_lookups(w: &mut World<'_>, rng: &mut SimRng, t0: i64, d: &Dns) {
    let ch = w.host(d.client);
    let sh = w.host(d.server);
    let sport = w.eph_port(d.client);
    let mut t = t0;
    for name in &d.names {
        let id: u16 = rng.r#gen();
        let q = dns::query(id, name, d.qtype);
        w.push(Pkt {
            ts: t,
            src: d.client,
            dst: d.server,
            ttl: ch.prof.ttl.saturating_sub(ch.hops),
            ip_id: IpId::Host,
            df: false,
            frag: None,
            l4: L4::Udp {
                sport,
                dport: 53,
                payload: q,
            },
        });
        let answers = if d.nxdomain {
            vec![]
        } else if d.qtype == dns::TYPE_A {
            vec![dns::Answer::A(
                d.answer.unwrap_or_else(|| name_address(name)),
            )]
        } else {
            vec![]
        };
        let r = dns::response(
            id,
            name,
            d.qtype,
            &answers,
            if d.nxdomain { 3 } else { 0 },
            300,
        );
        let tr = t + 2 * sh.d.max(20 * US) + rng.gen_range(200 * US..30 * MS);
        w.push(Pkt {
            ts: tr,
            src: d.server,
            dst: d.client,
            ttl: sh.prof.ttl.saturating_sub(sh.hops),
            ip_id: IpId::Host,
            df: false,
            frag: None,
            l4: L4::Udp {
                sport: 53,
                dport: sport,
                payload: r,
            },
        });
        t = tr + rng.gen_range(5 * MS..800 * MS);
    }
}

fn ntp(w: &mut World<'_>, rng: &mut SimRng, t0: i64, client: Ipv4Addr, server: Ipv4Addr) {
    let ch = w.host(client);
    let sh = w.host(server);
    let mut req = vec![0u8; 48];
    req[0] = 0x23; // v4, client
    req[40..48].copy_from_slice(&random_bytes(rng, 8));
    let mut resp = vec![0u8; 48];
    resp[0] = 0x24; // v4, server
    resp[1] = 2;
    resp[24..32].copy_from_slice(&req[40..48]);
    resp[32..48].copy_from_slice(&random_bytes(rng, 16));
    let tr = t0 + 2 * sh.d.max(20 * US) + 200 * US;
    w.push(Pkt {
        ts: t0,
        src: client,
        dst: server,
        ttl: ch.prof.ttl.saturating_sub(ch.hops),
        ip_id: IpId::Host,
        df: false,
        frag: None,
        l4: L4::Udp {
            sport: 123,
            dport: 123,
            payload: req,
        },
    });
    w.push(Pkt {
        ts: tr,
        src: server,
        dst: client,
        ttl: sh.prof.ttl.saturating_sub(sh.hops),
        ip_id: IpId::Host,
        df: false,
        frag: None,
        l4: L4::Udp {
            sport: 123,
            dport: 123,
            payload: resp,
        },
    });
}

fn ping(w: &mut World<'_>, rng: &mut SimRng, t0: i64, client: Ipv4Addr, server: Ipv4Addr) {
    let ch = w.host(client);
    let sh = w.host(server);
    let id: u16 = rng.r#gen();
    for seq in 0..4u16 {
        let t = t0 + i64::from(seq) * SEC + rng.gen_range(0..2 * MS);
        let mut rest = [0u8; 4];
        rest[..2].copy_from_slice(&id.to_be_bytes());
        rest[2..].copy_from_slice(&(seq + 1).to_be_bytes());
        let payload = b"abcdefghijklmnopqrstuvwabcdefghi".to_vec();
        w.push(Pkt {
            ts: t,
            src: client,
            dst: server,
            ttl: ch.prof.ttl.saturating_sub(ch.hops),
            ip_id: IpId::Host,
            df: false,
            frag: None,
            l4: L4::Icmp {
                typ: 8,
                code: 0,
                rest,
                payload: payload.clone(),
            },
        });
        w.push(Pkt {
            ts: t + 2 * sh.d.max(20 * US) + 40 * US,
            src: server,
            dst: client,
            ttl: sh.prof.ttl.saturating_sub(sh.hops),
            ip_id: IpId::Host,
            df: false,
            frag: None,
            l4: L4::Icmp {
                typ: 0,
                code: 0,
                rest,
                payload,
            },
        });
    }
}

// ---------------------------------------------------------------- SSH

fn ssh_session(w: &mut World<'_>, rng: &mut SimRng, t0: i64, s: &SshSession) {
    let mut c = w.conn(s.client, s.server, s.port, rng);
    c.handshake(t0);
    let d = SendHow::default();
    c.send(Side::Server, &ssh::banner(&s.server_software), 3 * MS, &d);
    c.send(Side::Client, &ssh::banner(&s.client_software), 5 * MS, &d);
    let ck = ssh::packet(&ssh::kexinit(rng), rng);
    c.send(Side::Client, &ck, MS, &d);
    let sk = ssh::packet(&ssh::kexinit(rng), rng);
    c.send(Side::Server, &sk, MS, &d);
    let init = ssh::packet(&ssh::kexdh_init(rng), rng);
    c.send(Side::Client, &init, 2 * MS, &d);
    let mut reply = ssh::packet(&ssh::kexdh_reply(rng), rng);
    reply.extend_from_slice(&ssh::packet(&ssh::newkeys(), rng));
    c.send(Side::Server, &reply, 15 * MS, &d);
    let nk = ssh::packet(&ssh::newkeys(), rng);
    c.send(Side::Client, &nk, 2 * MS, &d);
    for _ in 0..s.exchanges {
        let a = ssh::encrypted_packet(rng.gen_range(20..120), rng);
        c.send(Side::Client, &a, rng.gen_range(200 * MS..5 * SEC), &d);
        let b = ssh::encrypted_packet(rng.gen_range(20..600), rng);
        c.send(Side::Server, &b, rng.gen_range(2 * MS..40 * MS), &d);
    }
    c.fin(Side::Client, rng.gen_range(100 * MS..SEC));
    w.commit(c);
}

// ---------------------------------------------------------------- FTP, TFTP

fn ftp_session(w: &mut World<'_>, rng: &mut SimRng, t0: i64, f: &FtpSession, campaign: &str) {
    let body = file_body(w, f.body, f.size, &f.file);
    let d = SendHow::default();
    let mut c = w.conn(f.client, f.server, f.port, rng);
    c.handshake(t0);
    c.send(
        Side::Server,
        &ftp::reply(220, "ProFTPD 1.2.9 Server ready."),
        5 * MS,
        &d,
    );
    c.send(
        Side::Client,
        &ftp::command("USER", Some(&f.user)),
        300 * MS,
        &d,
    );
    c.send(
        Side::Server,
        &ftp::reply(331, "Password required."),
        2 * MS,
        &d,
    );
    c.send(
        Side::Client,
        &ftp::command("PASS", Some(&f.pass)),
        800 * MS,
        &d,
    );
    c.send(
        Side::Server,
        &ftp::reply(230, "User logged in."),
        20 * MS,
        &d,
    );
    c.send(Side::Client, &ftp::command("TYPE", Some("I")), 50 * MS, &d);
    c.send(Side::Server, &ftp::reply(200, "Type set to I."), 2 * MS, &d);
    let (data_client, data_server, dport, cport_data);
    if f.passive {
        let p: u16 = rng.gen_range(20_000..60_000);
        c.send(Side::Client, &ftp::command("PASV", None), 20 * MS, &d);
        c.send(Side::Server, &ftp::pasv_reply(f.server, p), 2 * MS, &d);
        data_client = f.client;
        data_server = f.server;
        dport = p;
        cport_data = w.eph_port(f.client);
    } else {
        let p = w.eph_port(f.client);
        c.send(Side::Client, &ftp::port_command(f.client, p), 20 * MS, &d);
        c.send(
            Side::Server,
            &ftp::reply(200, "PORT command successful."),
            2 * MS,
            &d,
        );
        data_client = f.server;
        data_server = f.client;
        dport = p;
        cport_data = 20;
    }
    c.send(
        Side::Client,
        &ftp::command("RETR", Some(&f.file)),
        20 * MS,
        &d,
    );
    let t_retr = c.last_start;
    let mut dc = w.conn_from(data_client, cport_data, data_server, dport, rng);
    dc.handshake(c.now() + 2 * MS);
    c.send(
        Side::Server,
        &ftp::reply(
            150,
            &format!(
                "Opening BINARY mode data connection for {} ({} bytes).",
                f.file,
                body.len()
            ),
        ),
        MS,
        &d,
    );
    let sender = if f.passive {
        Side::Server
    } else {
        Side::Client
    };
    dc.send(sender, &body, 3 * MS, &d);
    let t_done = dc.fin(sender, MS);
    w.commit(dc);
    c.send_at(
        Side::Server,
        &ftp::reply(226, "Transfer complete."),
        t_done + 2 * MS,
        &d,
    );
    c.send(Side::Client, &ftp::command("QUIT", None), 500 * MS, &d);
    c.send(Side::Server, &ftp::reply(221, "Goodbye."), MS, &d);
    c.fin(Side::Server, MS);
    w.commit(c);
    if f.body.is_executable() {
        record_egg(
            w, f.client, f.server, f.port, "ftp", &f.file, &body, t_retr, campaign,
        );
    }
}

fn tftp_read(w: &mut World<'_>, rng: &mut SimRng, t0: i64, t: &Tftp, campaign: &str) {
    let body = file_body(w, t.body, t.size, &t.file);
    let ch = w.host(t.client);
    let sh = w.host(t.server);
    let cport = w.eph_port(t.client);
    let sport = w.eph_port(t.server);
    let udp =
        |ts: i64, from: Ipv4Addr, to: Ipv4Addr, sp: u16, dp: u16, payload: Vec<u8>, ttl: u8| Pkt {
            ts,
            src: from,
            dst: to,
            ttl,
            ip_id: IpId::Host,
            df: false,
            frag: None,
            l4: L4::Udp {
                sport: sp,
                dport: dp,
                payload,
            },
        };
    let cttl = ch.prof.ttl.saturating_sub(ch.hops);
    let sttl = sh.prof.ttl.saturating_sub(sh.hops);
    w.push(udp(
        t0,
        t.client,
        t.server,
        cport,
        69,
        tftp::rrq(&t.file, "octet"),
        cttl,
    ));
    let mut now = t0;
    let mut blocks: Vec<&[u8]> = body.chunks(tftp::BLOCK).collect();
    if body.len().is_multiple_of(tftp::BLOCK) {
        blocks.push(&[]);
    }
    for (i, b) in blocks.iter().enumerate() {
        let block = ((i + 1) & 0xffff) as u16;
        let td = now + 2 * sh.d.max(20 * US) + rng.gen_range(50 * US..400 * US);
        w.push(udp(
            td,
            t.server,
            t.client,
            sport,
            cport,
            tftp::data(block, b),
            sttl,
        ));
        let ta = td + 2 * ch.d.max(20 * US) + rng.gen_range(30 * US..200 * US);
        w.push(udp(
            ta,
            t.client,
            t.server,
            cport,
            sport,
            tftp::ack(block),
            cttl,
        ));
        now = ta;
    }
    if t.body.is_executable() {
        record_egg(
            w, t.client, t.server, 69, "tftp", &t.file, &body, t0, campaign,
        );
    }
}

// ---------------------------------------------------------------- worms

fn propagate(
    w: &mut World<'_>,
    rng: &mut SimRng,
    t0: i64,
    p: &Propagate,
    campaign: &str,
) -> Result<(), String> {
    let start_gen = w.facts.generation.get(&p.from).copied().unwrap_or(1);
    let t_inf0 = w.facts.infected.get(&p.from).map_or(t0, |x| x.0);
    let mut infected: BTreeSet<Ipv4Addr> = w.facts.infected.keys().copied().collect();
    infected.insert(p.from);
    let last_gen = start_gen + p.generations - 1;
    let mut queue: std::collections::VecDeque<(Ipv4Addr, u32, i64)> =
        std::collections::VecDeque::new();
    queue.push_back((p.from, start_gen, t0.max(t_inf0)));
    let pool: Vec<Ipv4Addr> = p.pool.clone();
    if pool.is_empty() {
        return Err("propagate: the pool is empty: expected addresses to scan".into());
    }
    while let Some((host, g, t_start)) = queue.pop_front() {
        if w.full() {
            break;
        }
        // Sequential sweep from a random point of the pool.
        let n = (p.probes as usize).min(pool.len());
        let off = rng.gen_range(0..pool.len());
        let targets: Vec<Ipv4Addr> = (0..n)
            .map(|i| pool[(off + i) % pool.len()])
            .filter(|t| *t != host)
            .collect();
        let mut victims: Vec<Ipv4Addr> = Vec::new();
        if g < last_gen {
            let candidates: Vec<Ipv4Addr> = targets
                .iter()
                .copied()
                .filter(|t| !infected.contains(t))
                .collect();
            if candidates.len() < p.fanout as usize {
                return Err(format!(
                    "propagate: {host} finds only {} uninfected addresses in its {} probes: expected at least fanout = {} (enlarge pool or probes)",
                    candidates.len(),
                    n,
                    p.fanout
                ));
            }
            let picks = rand::seq::index::sample(rng, candidates.len(), p.fanout as usize);
            for i in picks.iter() {
                victims.push(candidates[i]);
            }
            victims.sort_by_key(|v| targets.iter().position(|t| t == v));
            for v in &victims {
                infected.insert(*v);
            }
        }
        let s = Scan {
            from: host,
            targets: targets.clone(),
            ports: vec![p.port],
            proto: ScanProto::Tcp,
            order: Order::Sequential,
            rate: p.rate,
            open: victims.clone(),
            open_ratio: p.open_ratio,
            live_ratio: (p.open_ratio * 4.0).clamp(p.open_ratio, 1.0),
            tool: Tool::WormSequential,
            src_port: None,
            ip_id: None,
            ttl: None,
            window: None,
            automated: Some(true),
        };
        let probes = scan(w, rng, t_start, &s);
        for pr in probes.iter().filter(|pr| pr.open) {
            let success = victims.contains(&pr.target);
            let e = Exploit {
                from: host,
                to: pr.target,
                port: p.port,
                vector: p.vector,
                success,
                transport: Transport::default(),
                body_len: legacy::PCT_OVERFLOW_BODY_LEN,
            };
            let t_ex = pr.t + rng.gen_range(300 * MS..900 * MS);
            let te = exploit(w, rng, t_ex, &e, g + 1, campaign);
            if success {
                w.facts.propagation.push(PropagationLabel {
                    from: host.to_string(),
                    to: pr.target.to_string(),
                    ts: ts(te),
                    vector: format!("tcp/{} {}", p.port, p.vector.as_str()),
                    generation: g + 1,
                });
                let mut t_next = te + 2 * SEC;
                if let Some((eport, esize)) = p.egg {
                    let h = HttpDownload {
                        client: pr.target,
                        server: host,
                        port: eport,
                        path: "/w.exe".into(),
                        host_header: format!("{host}:{eport}"),
                        body: BodyKind::Pe,
                        size: esize,
                        chunked: None,
                        user_agent: "Mozilla/4.0 (compatible; MSIE 6.0; Windows NT 5.0)".into(),
                    };
                    t_next = http_download(w, rng, te + 2 * SEC, &h, campaign);
                }
                queue.push_back((pr.target, g + 1, t_next + p.delay));
            }
        }
    }
    Ok(())
}

// ---------------------------------------------------------------- bots

fn bot_command(w: &mut World<'_>, rng: &mut SimRng, b: &BotCommand, ev: &BotEvent, campaign: &str) {
    let nbots = ev.bots.len().max(1);
    for (k, (bot, act_t, _, _)) in ev.bots.iter().enumerate() {
        w.facts.bot(*bot);
        w.facts.campaign(*bot, campaign);
        match &b.order {
            BotOrder::Scan {
                targets,
                ports,
                rate,
                open_ratio,
            } => {
                // Each bot takes its share of the targets.
                let share: Vec<Ipv4Addr> = targets
                    .iter()
                    .enumerate()
                    .filter(|(i, _)| i % nbots == k)
                    .map(|(_, t)| *t)
                    .collect();
                let s = Scan {
                    from: *bot,
                    targets: share,
                    ports: ports.clone(),
                    proto: ScanProto::Tcp,
                    order: Order::Random,
                    rate: *rate,
                    open: vec![],
                    open_ratio: *open_ratio,
                    live_ratio: (*open_ratio * 3.0).clamp(*open_ratio, 1.0),
                    tool: Tool::Plain,
                    src_port: None,
                    ip_id: None,
                    ttl: None,
                    window: None,
                    automated: Some(true),
                };
                scan(w, rng, *act_t, &s);
            }
            BotOrder::Download {
                server,
                port,
                path,
                size,
            } => {
                let h = HttpDownload {
                    client: *bot,
                    server: *server,
                    port: *port,
                    path: path.clone(),
                    host_header: if *port == 80 {
                        server.to_string()
                    } else {
                        format!("{server}:{port}")
                    },
                    body: BodyKind::Pe,
                    size: *size,
                    chunked: None,
                    user_agent: "Mozilla/4.0 (compatible)".into(),
                };
                http_download(w, rng, *act_t, &h, campaign);
            }
        }
    }
    // Mark the C&C sessions of the commanded bots.
    for c in w.facts.c2.iter_mut() {
        if ev
            .bots
            .iter()
            .any(|(bot, _, _, _)| bot.to_string() == c.client)
            && c.server == ev.controller.to_string()
        {
            c.bot_commands = true;
        }
    }
}

// ---------------------------------------------------------------- background

const SITES: &[&str] = &[
    "www.google.com",
    "www.microsoft.com",
    "windowsupdate.microsoft.com",
    "www.yahoo.com",
    "www.cnn.com",
    "slashdot.org",
    "www.amazon.com",
    "www.ebay.com",
    "news.bbc.co.uk",
    "www.apache.org",
    "mail.example.org",
    "www.example.com",
];

fn background(w: &mut World<'_>, rng: &mut SimRng, t0: i64, b: &Background) {
    if b.clients.is_empty() || b.servers.is_empty() {
        return;
    }
    let m = &b.mix;
    let mut kinds: Vec<(u32, u8)> = vec![
        (m.tls, 0),
        (m.http, 1),
        (m.dns, 2),
        (m.ssh, 3),
        (m.icmp, 4),
        (m.udp, 5),
    ];
    if b.resolver.is_none() {
        kinds.retain(|k| k.1 != 2);
    }
    let total: u32 = kinds.iter().map(|k| k.0).sum();
    if total == 0 {
        return;
    }
    let mean_gap = 60.0 / b.rate.max(1e-6);
    let mut t = t0;
    loop {
        if w.full() {
            break;
        }
        let u: f64 = rng.gen_range(1e-9..1.0);
        t += secs(-u.ln() * mean_gap).max(MS);
        if t >= b.until.0 {
            break;
        }
        if b.quiet.iter().any(|(f, to)| t >= f.0 && t < to.0) {
            continue;
        }
        let client = b.clients[rng.gen_range(0..b.clients.len())];
        let si = rng.gen_range(0..b.servers.len());
        let server = b.servers[si];
        let site = SITES[si % SITES.len()];
        let mut pick = rng.gen_range(0..total);
        let mut kind = 0u8;
        for (wgt, k) in &kinds {
            if pick < *wgt {
                kind = *k;
                break;
            }
            pick -= wgt;
        }
        match kind {
            0 => {
                let ts = TlsSession {
                    client,
                    server,
                    port: 443,
                    sni: site.to_string(),
                    version: tls::TLS10,
                    hello: if rng.gen_bool(0.3) {
                        Hello::Sslv2Compat
                    } else {
                        Hello::Tls
                    },
                    requests: rng.gen_range(1..4),
                    response_size: rng.gen_range(800..24_000),
                };
                tls_session(w, rng, t, &ts);
            }
            1 => {
                let h = HttpDownload {
                    client,
                    server,
                    port: 80,
                    path: [
                        "/",
                        "/index.html",
                        "/news/today.html",
                        "/images/logo.gif.html",
                    ][rng.gen_range(0..4)]
                    .into(),
                    host_header: site.to_string(),
                    body: BodyKind::Html,
                    size: rng.gen_range(1500..30_000),
                    chunked: rng.gen_bool(0.3).then_some(4096),
                    user_agent: "Mozilla/4.0 (compatible; MSIE 6.0; Windows NT 5.1)".into(),
                };
                http_download(w, rng, t, &h, "");
            }
            2 => {
                if let Some(res) = b.resolver {
                    let d = Dns {
                        client,
                        server: res,
                        names: vec![site.to_string()],
                        qtype: dns::TYPE_A,
                        answer: Some(server),
                        nxdomain: false,
                    };
                    dns_lookups(w, rng, t, &d);
                }
            }
            3 => {
                let s = SshSession {
                    client,
                    server,
                    port: 22,
                    client_software: "PuTTY_Release_0.54".into(),
                    server_software: "OpenSSH_3.8.1p1 Debian-8".into(),
                    exchanges: rng.gen_range(2..8),
                };
                ssh_session(w, rng, t, &s);
            }
            4 => ping(w, rng, t, client, server),
            _ => ntp(w, rng, t, client, server),
        }
    }
}
