//! The detectors on the shared real-capture corpus. tshark extracts the header
//! facts the engine would hand over (a small flow table here decides which
//! packets reach `on_packet`: flow openers in each direction, SYN/FIN/RST,
//! ICMP) and serves as the oracle for target and port counts. Skips when the
//! shared data or tshark is absent; a count that disagrees with tshark fails.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::IpAddr;
use std::path::PathBuf;
use std::process::Command;
use stormwatch_detect::{DetectConfig, Detectors};
use stormwatch_model::*;

fn shared_dir() -> Option<PathBuf> {
    let mut cands = Vec::new();
    if let Ok(p) = std::env::var("STORMWATCH_SHARED") {
        cands.push(PathBuf::from(p));
    }
    cands.push(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared"));
    cands.push(PathBuf::from("/work/shared"));
    cands.into_iter().find(|p| p.join("corpus").is_dir())
}

pub fn tshark_ok() -> bool {
    static OK: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *OK.get_or_init(|| {
        Command::new("tshark")
            .arg("-v")
            .output()
            .is_ok_and(|o| o.status.success())
    })
}

/// The capture's path, or `None` (after saying why) when the test must skip.
fn capture(name: &str) -> Option<PathBuf> {
    let Some(dir) = shared_dir() else {
        println!("skipped: shared data not found");
        return None;
    };
    if !tshark_ok() {
        println!("skipped: tshark not installed");
        return None;
    }
    let p = dir.join("corpus").join(name);
    if !p.is_file() {
        println!("skipped: {name} not in the corpus");
        return None;
    }
    Some(p)
}

pub fn tshark_fields(path: &PathBuf, filter: Option<&str>, fields: &[&str]) -> Vec<Vec<String>> {
    let mut cmd = Command::new("tshark");
    cmd.arg("-n").arg("-r").arg(path);
    if let Some(f) = filter {
        cmd.arg("-Y").arg(f);
    }
    cmd.args(["-T", "fields", "-E", "separator=\t", "-E", "occurrence=f"]);
    for f in fields {
        cmd.arg("-e").arg(f);
    }
    let out = cmd.output().expect("tshark runs");
    assert!(
        out.status.success(),
        "tshark failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| l.split('\t').map(str::to_string).collect())
        .collect()
}

/// Distinct values of `fields` over packets matching `filter` (the oracle).
fn tshark_distinct(path: &PathBuf, filter: &str, fields: &[&str]) -> usize {
    tshark_fields(path, Some(filter), fields)
        .into_iter()
        .filter(|r| r.iter().any(|x| !x.is_empty()))
        .collect::<BTreeSet<_>>()
        .len()
}

const FIELDS: &[&str] = &[
    "frame.time_epoch",
    "ip.src",
    "ip.dst",
    "ipv6.src",
    "ipv6.dst",
    "ip.proto",
    "ipv6.nxt",
    "tcp.srcport",
    "tcp.dstport",
    "udp.srcport",
    "udp.dstport",
    "tcp.flags",
    "tcp.window_size_value",
    "ip.id",
    "ip.ttl",
    "ipv6.hlim",
    "tcp.options.mss_val",
    "tcp.options",
    "icmp.type",
    "icmp.code",
    "icmpv6.type",
    "icmpv6.code",
    "frame.len",
    "http.request.uri",
    "http.user_agent",
    "ftp.request.command",
    "ftp.request.arg",
    "ftp.response.code",
    "tcp.payload",
    "tcp.len",
];

pub fn parse_ts(s: &str) -> Timestamp {
    let (a, b) = s.split_once('.').unwrap_or((s, "0"));
    let mut frac: String = b.chars().take(9).collect();
    while frac.len() < 9 {
        frac.push('0');
    }
    Timestamp::from_secs_nanos(a.parse().unwrap(), frac.parse().unwrap())
}

pub fn num<T: std::str::FromStr + Default>(s: &str) -> T {
    s.parse().unwrap_or_default()
}

pub fn hex_u16(s: &str) -> u16 {
    u16::from_str_radix(s.trim_start_matches("0x"), 16).unwrap_or(0)
}

/// Digest of the option kinds in order, from the raw option bytes.
fn options_sig(hex: &str) -> u32 {
    let bytes: Vec<u8> = hex
        .replace(':', "")
        .as_bytes()
        .chunks(2)
        .filter_map(|c| u8::from_str_radix(std::str::from_utf8(c).ok()?, 16).ok())
        .collect();
    let mut sig = 0u32;
    let mut i = 0;
    while i < bytes.len() {
        let k = bytes[i];
        sig = sig.wrapping_mul(31).wrapping_add(u32::from(k) + 1);
        match k {
            0 => break,
            1 => i += 1,
            _ => i += usize::from(bytes.get(i + 1).copied().unwrap_or(2).max(2)),
        }
    }
    sig
}

struct FlowInfo {
    id: u64,
    client: (IpAddr, u16),
    server: (IpAddr, u16),
    proto: u8,
    start: Timestamp,
    end: Timestamp,
    seen: [bool; 2],
    pkts: [u64; 2],
    bytes: [u64; 2],
    flags: [u8; 2],
    syn: bool,
    synack: bool,
    ack_after: bool,
    ssh: bool,
    data: [bool; 2],
    /// The client's first bytes (protocol guess).
    head: Vec<u8>,
    ftp_cmd: Option<(String, String)>,
    irc: Option<IrcState>,
}

/// Just enough IRC to hand the detectors the messages of the corpus sessions.
#[derive(Default)]
struct IrcState {
    buf: [Vec<u8>; 2],
    nick: Option<String>,
    channels: Vec<(String, Option<String>)>,
}

fn parse_irc_line(line: &str) -> IrcMessage {
    let mut rest = line.trim_start();
    let mut prefix = None;
    if let Some(r) = rest.strip_prefix(':') {
        let (p, r) = r.split_once(' ').unwrap_or((r, ""));
        prefix = Some(p.to_string());
        rest = r.trim_start();
    }
    let (head, trailing) = match rest.split_once(" :") {
        Some((h, t)) => (h, Some(t)),
        None => (rest, None),
    };
    let mut words = head.split_whitespace();
    let command = words.next().unwrap_or("").to_ascii_uppercase();
    let mut params: Vec<String> = words.map(str::to_string).collect();
    if let Some(t) = trailing {
        params.push(t.to_string());
    }
    IrcMessage {
        prefix,
        command,
        params,
    }
}

fn ctcp_of(msg: &IrcMessage) -> Option<Ctcp> {
    let text = msg.params.last()?;
    let inner = text.strip_prefix('\u{1}')?.trim_end_matches('\u{1}');
    let (verb, args) = inner.split_once(' ').unwrap_or((inner, ""));
    let dcc = (verb == "DCC").then(|| {
        let w: Vec<&str> = args.split_whitespace().collect();
        Dcc {
            kind: w.first().unwrap_or(&"").to_string(),
            argument: w.get(1).unwrap_or(&"").to_string(),
            addr: w
                .get(2)
                .and_then(|a| a.parse::<u32>().ok())
                .map(|a| IpAddr::V4(a.into())),
            port: w.get(3).and_then(|p| p.parse().ok()).unwrap_or(0),
            size: w.get(4).and_then(|s| s.parse().ok()),
        }
    });
    Some(Ctcp {
        command: verb.to_string(),
        args: args.to_string(),
        dcc,
    })
}

fn hex_bytes(hex: &str) -> Vec<u8> {
    hex.replace(':', "")
        .as_bytes()
        .chunks(2)
        .filter_map(|c| u8::from_str_radix(std::str::from_utf8(c).ok()?, 16).ok())
        .collect()
}

/// The end-of-flow record the engine would hand over.
fn record_of(fl: &FlowInfo) -> FlowRecord {
    FlowRecord {
        flow_id: FlowId(fl.id),
        key: FlowKey {
            src: fl.client.0,
            dst: fl.server.0,
            src_port: fl.client.1,
            dst_port: fl.server.1,
            proto: IpProto(fl.proto),
            vlan: [0, 0],
        },
        start: fl.start,
        end: fl.end,
        pkts_toserver: fl.pkts[0],
        pkts_toclient: fl.pkts[1],
        bytes_toserver: fl.bytes[0],
        bytes_toclient: fl.bytes[1],
        app_proto: if fl.ssh {
            AppProto::Ssh
        } else {
            AppProto::Unknown
        },
        app_proto_ts: None,
        app_proto_tc: None,
        state: FlowState::Closed,
        reason: EndReason::Shutdown,
        alerted: false,
        tcp: (fl.proto == 6).then(|| TcpSummary {
            flags: fl.flags[0] | fl.flags[1],
            flags_ts: fl.flags[0],
            flags_tc: fl.flags[1],
            state: TcpState::Closed,
            // Enough of Zeek's history for the detectors: data each way.
            history: format!(
                "S{}{}{}",
                if fl.synack { "h" } else { "" },
                if fl.data[0] { "D" } else { "" },
                if fl.data[1] { "d" } else { "" }
            ),
            handshake_done: fl.syn && fl.synack && fl.ack_after,
            gap_bytes_ts: 0,
            gap_bytes_tc: 0,
        }),
        icmp: None,
        macs: None,
    }
}

/// (protocol, lower endpoint, higher endpoint).
type FlowKeyT = (u8, (IpAddr, u16), (IpAddr, u16));

/// Replays a capture into the detectors (`home_net` = RFC 1918); returns
/// every notice.
pub fn replay(path: &PathBuf) -> Vec<Notice> {
    replay_with(path, NetSet::rfc1918())
}

/// Replays a capture with the given `home_net`.
pub fn replay_with(path: &PathBuf, home: NetSet) -> Vec<Notice> {
    let mut d = Detectors::new(DetectConfig::default(), home);
    let mut out = Vec::new();
    let mut flows: HashMap<FlowKeyT, FlowInfo> = HashMap::new();
    let mut next_id = 1u64;
    let mut last_tick = i64::MIN;
    let mut now = Timestamp::ZERO;
    for r in tshark_fields(path, None, FIELDS) {
        let f = |i: usize| r.get(i).map(String::as_str).unwrap_or("");
        let src: Option<IpAddr> = f(1).parse().ok().or_else(|| f(3).parse().ok());
        let dst: Option<IpAddr> = f(2).parse().ok().or_else(|| f(4).parse().ok());
        let (Some(src), Some(dst)) = (src, dst) else {
            continue;
        };
        let ts = parse_ts(f(0));
        now = now.max(ts);
        if ts.secs() != last_tick {
            last_tick = ts.secs();
            // Flow timeouts, as a flow table would apply them: closed TCP
            // flows after 2 s, others after 120 s of silence.
            let mut done: Vec<FlowKeyT> = flows
                .iter()
                .filter(|(_, f)| {
                    let closed = f.flags.iter().any(|x| x & tcp_flags::RST != 0)
                        || f.flags.iter().all(|x| x & tcp_flags::FIN != 0);
                    let idle = if f.proto == 6 && closed { 2 } else { 120 };
                    ts.secs() - f.end.secs() > idle
                })
                .map(|(k, _)| *k)
                .collect();
            done.sort_by_key(|k| flows.get(k).map(|f| (f.end, f.id)));
            for k in done {
                if let Some(fl) = flows.remove(&k) {
                    d.on_flow_end(&record_of(&fl), &mut out);
                }
            }
            d.tick(ts, &mut out);
        }
        let proto: u8 = if f(5).is_empty() {
            num(f(6))
        } else {
            num(f(5))
        };
        let (sport, dport): (u16, u16) = match proto {
            6 => (num(f(7)), num(f(8))),
            17 => (num(f(9)), num(f(10))),
            _ => (0, 0),
        };
        let a = (src, sport);
        let b = (dst, dport);
        let key = if a <= b { (proto, a, b) } else { (proto, b, a) };
        let first = !flows.contains_key(&key);
        let fl = flows.entry(key).or_insert_with(|| {
            let id = next_id;
            next_id += 1;
            FlowInfo {
                id,
                client: a,
                server: b,
                proto,
                start: ts,
                end: ts,
                seen: [false; 2],
                pkts: [0; 2],
                bytes: [0; 2],
                flags: [0; 2],
                syn: false,
                synack: false,
                ack_after: false,
                ssh: false,
                data: [false; 2],
                head: Vec::new(),
                ftp_cmd: None,
                irc: None,
            }
        });
        fl.end = ts;
        let dir = if (src, sport) == fl.client {
            Direction::ToServer
        } else {
            Direction::ToClient
        };
        let di = dir.index();
        let first_in_dir = !fl.seen[di];
        fl.seen[di] = true;
        fl.pkts[di] += 1;
        fl.bytes[di] += num::<u64>(f(22));
        let flags = hex_u16(f(11)) as u8;
        if num::<u32>(f(29)) > 0 {
            fl.data[di] = true;
        }
        fl.flags[di] |= flags;
        if proto == 6 {
            if flags & tcp_flags::SYN != 0 && flags & tcp_flags::ACK == 0 {
                fl.syn = true;
            } else if flags & tcp_flags::SYN != 0 {
                fl.synack = true;
            } else if fl.synack && dir == Direction::ToServer && flags & tcp_flags::ACK != 0 {
                fl.ack_after = true;
            }
            if f(28).starts_with("5353482d") || f(28).starts_with("53:53:48:2d") {
                fl.ssh = true;
            }
        }
        let icmp = match proto {
            1 => Some((num::<u8>(f(18)), num::<u8>(f(19)))),
            58 => Some((num::<u8>(f(20)), num::<u8>(f(21)))),
            _ => None,
        };
        let control = flags & (tcp_flags::SYN | tcp_flags::FIN | tcp_flags::RST) != 0;
        if first_in_dir || (proto == 6 && control) || icmp.is_some() {
            let p = PacketSummary {
                ts,
                flow_id: FlowId(fl.id),
                dir,
                first_in_flow: first,
                src,
                dst,
                src_port: sport,
                dst_port: dport,
                proto: IpProto(proto),
                tcp_flags: flags,
                window: num(f(12)),
                ip_id: hex_u16(f(13)),
                ttl: if f(14).is_empty() {
                    num(f(15))
                } else {
                    num(f(14))
                },
                tcp_options_sig: options_sig(f(17)),
                mss: f(16).parse().ok(),
                icmp,
                payload_len: num(f(29)),
                wire_len: num(f(22)),
            };
            d.on_packet(&p, &mut out);
        }
        let (client, server) = (fl.client, fl.server);
        let ctx = AppContext {
            ts,
            flow_id: FlowId(fl.id),
            key: FlowKey {
                src: client.0,
                dst: server.0,
                src_port: client.1,
                dst_port: server.1,
                proto: IpProto(proto),
                vlan: [0, 0],
            },
            dir,
        };
        if !f(23).is_empty() || !f(24).is_empty() {
            let ev = AppEvent::Http(HttpEvent {
                uri: Some(f(23).to_string()).filter(|s| !s.is_empty()),
                user_agent: Some(f(24).to_string()).filter(|s| !s.is_empty()),
                ..HttpEvent::default()
            });
            d.on_app_event(&ctx, &ev, &mut out);
        }
        if proto == 6 && !f(28).is_empty() {
            let data = hex_bytes(f(28));
            // IRC clients register with NICK early (FTP clients also send USER/PASS).
            let looks_irc = |d: &[u8]| d.windows(5).any(|w| w == b"NICK ");
            if fl.irc.is_none() && dir == Direction::ToServer && fl.head.len() < 256 {
                fl.head.extend_from_slice(&data);
            }
            let mut fresh = false;
            if fl.irc.is_none() && dir == Direction::ToServer && looks_irc(&fl.head) {
                // Everything the client sent so far is IRC.
                let mut st = IrcState::default();
                st.buf[0] = std::mem::take(&mut fl.head);
                fl.irc = Some(st);
                fresh = true;
                // The proto stage's registered-port table, in short.
                let masquerade = [21, 22, 25, 53, 80, 110, 143, 443].contains(&fl.server.1);
                let ev = AppEvent::ProtoDetected {
                    proto: AppProto::Irc,
                    masquerade,
                };
                d.on_app_event(&ctx, &ev, &mut out);
            }
            if let Some(st) = fl.irc.as_mut() {
                if !fresh {
                    st.buf[di].extend_from_slice(&data);
                }
                while let Some(pos) = st.buf[di].iter().position(|b| *b == b'\n') {
                    let line: Vec<u8> = st.buf[di].drain(..=pos).collect();
                    let line = String::from_utf8_lossy(&line).trim_end().to_string();
                    if line.is_empty() {
                        continue;
                    }
                    let msg = parse_irc_line(&line);
                    if dir == Direction::ToServer {
                        match msg.command.as_str() {
                            "NICK" => st.nick = msg.params.first().cloned(),
                            "JOIN" => {
                                if let Some(c) = msg.params.first()
                                    && !st.channels.iter().any(|(x, _)| x == c)
                                {
                                    st.channels.push((c.clone(), msg.params.get(1).cloned()));
                                }
                            }
                            _ => {}
                        }
                    }
                    let ctcp = if matches!(msg.command.as_str(), "PRIVMSG" | "NOTICE") {
                        ctcp_of(&msg)
                    } else {
                        None
                    };
                    let ev = AppEvent::Irc(IrcEvent {
                        msg,
                        nick: st.nick.clone(),
                        channels: st.channels.clone(),
                        ctcp,
                    });
                    d.on_app_event(&ctx, &ev, &mut out);
                }
            }
        }
        if !f(25).is_empty() {
            fl.ftp_cmd = Some((f(25).to_string(), f(26).to_string()));
        }
        if !f(27).is_empty()
            && let Some((command, arg)) = fl.ftp_cmd.take()
        {
            let ev = AppEvent::Ftp(FtpEvent::Command {
                command,
                arg,
                reply: vec![num(f(27))],
            });
            d.on_app_event(&ctx, &ev, &mut out);
        }
    }
    let mut all: Vec<FlowInfo> = flows.into_values().collect();
    all.sort_by_key(|f| (f.end, f.id));
    for fl in all {
        d.on_flow_end(&record_of(&fl), &mut out);
    }
    d.finish(now, &mut out);
    out
}

fn scanners(out: &[Notice]) -> BTreeMap<(IpAddr, IpProto), (&ScanInfo, &ScanInfo)> {
    let mut det = BTreeMap::new();
    for n in out {
        if let NoticeKind::ScanDetected(s) = &n.kind
            && n.host == s.scanner
        {
            det.insert((s.scanner, s.proto), s);
        }
    }
    let mut m = BTreeMap::new();
    for n in out {
        if let NoticeKind::ScanEnded(s) = &n.kind {
            let d = det
                .get(&(s.scanner, s.proto))
                .expect("ScanEnded follows ScanDetected");
            m.insert((s.scanner, s.proto), (*d, s));
        }
    }
    assert_eq!(m.len(), det.len(), "every scan ends");
    m
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

#[test]
fn masscan_tcp() {
    let Some(p) = capture("esnet-masscan-tcp_0_1000_20190821.pcap") else {
        return;
    };
    let out = replay(&p);
    let sc = scanners(&out);
    assert_eq!(sc.len(), 1, "{sc:#?}");
    let (det, end) = sc[&(ip("172.31.15.102"), IpProto::TCP)];
    assert!(det.failures_to_decision <= 5);
    assert_eq!(end.kind, ScanKind::Vertical);
    let filter = "ip.src==172.31.15.102 && tcp.flags.syn==1 && tcp.flags.ack==0";
    assert_eq!(
        end.target_count as usize,
        tshark_distinct(&p, filter, &["ip.dst"])
    );
    assert_eq!(
        end.port_count as usize,
        tshark_distinct(&p, filter, &["tcp.dstport"])
    );
    assert_eq!(
        end.tool.name.as_deref(),
        Some("masscan"),
        "{}",
        end.tool.reason
    );
    assert!(end.tool.automated);
    // masscan's RSTs on 80 and 443 prove two open ports.
    let open = tshark_distinct(
        &p,
        "ip.src==172.31.15.102 && tcp.flags.reset==1",
        &["tcp.dstport"],
    );
    assert!(end.live_ratio * end.port_count as f64 <= open as f64 + 1e-9);
}

#[test]
fn masscan_udp() {
    let Some(p) = capture("esnet-masscan-udp_0_1000_20190821.pcap") else {
        return;
    };
    let out = replay(&p);
    let sc = scanners(&out);
    assert_eq!(sc.len(), 1, "{sc:#?}");
    let (det, end) = sc[&(ip("172.31.15.102"), IpProto::UDP)];
    assert!(det.failures_to_decision <= 5);
    assert_eq!(end.kind, ScanKind::Vertical);
    let filter = "ip.src==172.31.15.102 && udp";
    assert_eq!(
        end.target_count as usize,
        tshark_distinct(&p, filter, &["ip.dst"])
    );
    assert_eq!(
        end.port_count as usize,
        tshark_distinct(&p, filter, &["udp.dstport"])
    );
    assert!(end.tool.automated, "{}", end.tool.reason);
}

#[test]
fn icmp_ping_sweep() {
    let Some(p) = capture("stratosphere-test12-icmp-portscan.pcap") else {
        return;
    };
    let out = replay(&p);
    let sc = scanners(&out);
    assert_eq!(sc.len(), 1, "{sc:#?}");
    let (_, end) = sc[&(ip("192.168.1.109"), IpProto::ICMP)];
    assert_eq!(end.kind, ScanKind::PingSweep);
    let filter = "ip.src==192.168.1.109 && icmp.type==8";
    assert_eq!(
        end.target_count as usize,
        tshark_distinct(&p, filter, &["ip.dst"])
    );
    assert!(end.tool.automated, "{}", end.tool.reason);
    // Every probed host is told it was probed.
    let probed: BTreeSet<IpAddr> = out
        .iter()
        .filter(|n| n.stage == Some(Stage::E1InboundScan))
        .map(|n| n.host)
        .collect();
    assert_eq!(probed.len(), end.target_count as usize);
}

#[test]
fn nmap_version_scan_of_a_subnet() {
    let Some(p) = capture("zeek-nmap-vsn.pcap") else {
        return;
    };
    let out = replay(&p);
    let sc = scanners(&out);
    assert_eq!(sc.len(), 1, "{sc:#?}");
    let (det, end) = sc[&(ip("192.168.1.71"), IpProto::TCP)];
    // Outcomes are taken in probe order; the two web servers' answers come
    // after the first refusals and timeouts.
    assert!(
        det.failures_to_decision <= 5,
        "{}",
        det.failures_to_decision
    );
    assert_eq!(end.kind, ScanKind::Horizontal);
    let filter = "ip.src==192.168.1.71 && tcp.flags.syn==1 && tcp.flags.ack==0";
    assert_eq!(
        end.target_count as usize,
        tshark_distinct(&p, filter, &["ip.dst"])
    );
    assert_eq!(
        end.port_count as usize,
        tshark_distinct(&p, filter, &["tcp.dstport"])
    );
    assert!(end.tool.automated, "{}", end.tool.reason);
}

#[test]
fn nmap_scripts_against_one_port_are_named_by_their_probes() {
    for name in [
        "esnet-nmap_80_all.pcap",
        "esnet-nmap_80_w_service_detection.pcap",
    ] {
        let Some(p) = capture(name) else {
            return;
        };
        let out = replay(&p);
        let sc = scanners(&out);
        assert_eq!(sc.len(), 1, "{name}: {sc:#?}");
        let (_, end) = sc[&(ip("10.87.1.10"), IpProto::TCP)];
        assert_eq!(end.tool.name.as_deref(), Some("nmap"), "{name}");
        let filter = "ip.src==10.87.1.10 && tcp.flags.syn==1 && tcp.flags.ack==0";
        assert_eq!(
            end.target_count as usize,
            tshark_distinct(&p, filter, &["ip.dst"])
        );
    }
}

#[test]
fn a_single_nmap_probe_is_not_enough() {
    let Some(p) = capture("esnet-nmap_80_vanilla.pcap") else {
        return;
    };
    let out = replay(&p);
    assert!(scanners(&out).is_empty(), "{out:#?}");
}

#[test]
fn brute_force_captures() {
    for (name, target, port) in [
        ("zeek-ftp-bruteforce.pcap", "192.168.56.101", 21u16),
        (
            "stratosphere-malicious-ssh-bruteforce.pcap",
            "147.32.80.37",
            902,
        ),
    ] {
        let Some(p) = capture(name) else {
            return;
        };
        let out = replay(&p);
        let b: Vec<_> = out
            .iter()
            .filter(|n| matches!(n.kind, NoticeKind::BruteForce { .. }))
            .collect();
        assert_eq!(b.len(), 1, "{name}: {out:#?}");
        assert_eq!(b[0].host, ip(target));
        match &b[0].kind {
            NoticeKind::BruteForce { port: p, .. } => assert_eq!(*p, port),
            _ => unreachable!(),
        }
    }
}

#[test]
fn benign_captures_raise_nothing_but_a_beacon() {
    for name in [
        "zeek-http-bro.org.pcap",
        "zeek-http-get.pcap",
        "ppa1e-http.cap",
        "ppa1e-dns.cap",
        "zeek-dns53.pcap",
        "zeek-tls-tls1.2.pcap",
        "zeek-tls-ssl-v2.pcap",
        "suricata-verify-ssl-v2-s1.pcap",
        "zeek-tcp-http-on-irc-port-missing-syn.pcapng",
        "stratosphere-test-cc-capture-2.pcap",
        "suricata-verify-bug-28.pcap",
    ] {
        let Some(p) = capture(name) else {
            return;
        };
        let out = replay(&p);
        let bad: Vec<_> = out
            .iter()
            .filter(|n| !matches!(n.kind, NoticeKind::Beacon(_)))
            .collect();
        assert!(bad.is_empty(), "{name}: {bad:#?}");
    }
}

fn c2(out: &[Notice]) -> Vec<(&Notice, &C2Info)> {
    out.iter()
        .filter_map(|n| match &n.kind {
            NoticeKind::C2Channel(c) => Some((n, c)),
            _ => None,
        })
        .collect()
}

#[test]
fn the_2004_irc_bot_is_a_c2_channel() {
    let Some(p) = capture("suricata-verify-irc-input.pcap") else {
        return;
    };
    let out = replay(&p);
    let c = c2(&out);
    assert!(!c.is_empty(), "{out:#?}");
    let (n, info) = c[0];
    assert_eq!(n.host, ip("172.16.1.10"));
    assert_eq!(info.server, ip("69.64.34.124"));
    assert_eq!(info.port, 6667);
    assert_eq!(info.nick.as_deref(), Some("damn-0262937047"));
    assert!(
        info.traits.iter().any(|t| t == "bot_command"),
        "{:?}",
        info.traits
    );
    assert!(
        info.commands
            .iter()
            .any(|c| c.starts_with(".download http://www.wanees.net/bbnz.exe"))
    );
    // The scan order comes after the first record: its own follow-up.
    assert!(
        c.iter()
            .any(|(_, i)| i.commands.iter().any(|c| c.starts_with(".advscan dcom135"))),
        "{c:#?}"
    );
    let all: BTreeSet<&str> = c
        .iter()
        .flat_map(|(_, i)| i.traits.iter().map(String::as_str))
        .collect();
    for t in ["bot_command", "bot_reply", "random_nick", "keyed_channel"] {
        assert!(all.contains(t), "{t} in {all:?}");
    }
}

#[test]
fn human_irc_sessions_are_clean() {
    for name in [
        "zeek-irc-basic.pcap",
        "zeek-irc-more-commands.pcap",
        "zeek-irc-whitespace.pcap",
        "protocoldetector-irc.pcap",
        "zeek-tls-irc-starttls.pcap",
        "zeek-irc-dcc-send.pcapng",
    ] {
        let Some(p) = capture(name) else {
            return;
        };
        let out = replay(&p);
        assert!(out.is_empty(), "{name}: {out:#?}");
    }
}

#[test]
fn the_slips_check_ins_are_a_beacon_and_nothing_more() {
    let Some(p) = capture("stratosphere-test-cc-capture-2.pcap") else {
        return;
    };
    let out = replay_with(&p, NetSet::parse("147.32.80.0/24").unwrap());
    assert_eq!(out.len(), 1, "{out:#?}");
    let n = &out[0];
    assert_eq!(n.host, ip("147.32.80.37"));
    match &n.kind {
        NoticeKind::Beacon(c) => {
            assert_eq!(c.server, ip("141.193.213.20"));
            assert_eq!(c.port, 443);
            let (interval, score) = c.beacon.unwrap();
            assert!((2.0..=3.5).contains(&interval), "{interval}");
            assert!(score >= 0.8);
        }
        k => panic!("{k:?}"),
    }
}
