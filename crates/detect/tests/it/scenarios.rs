//! The simulator's built-in scenarios: each pcap replayed through the
//! detectors (header facts and IRC lines extracted with tshark, as in the
//! corpus tests) and compared with the scenario's ground-truth labels — scans
//! (kind, ports, targets, automated or not, tool), the probed hosts, C&C
//! clients, listeners and propagating hosts. Skips without tshark.

use crate::corpus::{hex_u16, num, parse_ts, replay, tshark_fields, tshark_ok};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;
use stormwatch_model::*;

struct Run {
    labels: Value,
    notices: Vec<Notice>,
}

fn run(name: &str) -> Option<Run> {
    if !tshark_ok() {
        println!("skipped: tshark not installed");
        return None;
    }
    let s = stormwatch_sim::builtin(name)
        .expect("built-in")
        .expect("parses");
    let g = stormwatch_sim::generate(&s).expect("generates");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(format!("{name}.pcap"));
    std::fs::write(&path, &g.pcap).unwrap();
    Some(Run {
        labels: serde_json::to_value(&g.labels).unwrap(),
        notices: replay(&path),
    })
}

fn ip(v: &Value) -> IpAddr {
    v.as_str().unwrap().parse().unwrap()
}

/// Label tool → our tool name (`None`: no name expected).
fn tool_name(label: &str) -> Option<&'static str> {
    match label {
        "masscan-like" => Some("masscan"),
        "nmap-like" => Some("nmap"),
        "zmap-like" => Some("zmap"),
        "worm-sequential" => Some("worm-sequential"),
        _ => None,
    }
}

fn check(name: &str) {
    let Some(r) = run(name) else {
        return;
    };
    let l = &r.labels;
    let out = &r.notices;
    let empty = Vec::new();
    let arr = |k: &str| l[k].as_array().unwrap_or(&empty).clone();

    // Scans: every labelled scanner found, with its kind, ports, targets and tool.
    let mut expected_scanners = BTreeSet::new();
    for s in arr("scans") {
        let scanner = ip(&s["scanner"]);
        expected_scanners.insert(scanner);
        let det = out
            .iter()
            .find_map(|n| match &n.kind {
                NoticeKind::ScanDetected(i) if n.host == scanner => Some(i),
                _ => None,
            })
            .unwrap_or_else(|| panic!("{name}: scanner {scanner} not decided"));
        assert!(
            det.failures_to_decision <= 5,
            "{name}: {scanner} after {}",
            det.failures_to_decision
        );
        let end = out
            .iter()
            .find_map(|n| match &n.kind {
                NoticeKind::ScanEnded(i) if i.scanner == scanner => Some(i),
                _ => None,
            })
            .unwrap_or_else(|| panic!("{name}: scan of {scanner} never ended"));
        let kind = serde_json::to_value(end.kind).unwrap();
        assert_eq!(kind, s["kind"], "{name}: kind of {scanner}");
        let ports: Vec<u64> = s["ports"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p.as_u64().unwrap())
            .collect();
        assert_eq!(
            end.port_count,
            ports.len() as u64,
            "{name}: port count of {scanner}"
        );
        let listed: Vec<u64> = end.ports.iter().map(|p| u64::from(*p)).collect();
        assert_eq!(
            listed[..],
            ports[..listed.len()],
            "{name}: ports of {scanner}"
        );
        assert_eq!(
            end.target_count,
            s["targets"].as_u64().unwrap(),
            "{name}: targets of {scanner}"
        );
        assert_eq!(
            end.tool.automated,
            s["automated"].as_bool().unwrap(),
            "{name}: {scanner}: {}",
            end.tool.reason
        );
        let tool = s["tool"].as_str().unwrap();
        if let Some(t) = tool_name(tool) {
            assert_eq!(
                end.tool.name.as_deref(),
                Some(t),
                "{name}: tool of {scanner}: {}",
                end.tool.reason
            );
        }
    }
    let decided: BTreeSet<IpAddr> = out
        .iter()
        .filter_map(|n| match &n.kind {
            NoticeKind::ScanDetected(i) if n.host == i.scanner => Some(i.scanner),
            _ => None,
        })
        .collect();
    assert_eq!(decided, expected_scanners, "{name}: no other scanner");

    // E1: exactly the hosts the labels say were probed by a scan.
    let probed: BTreeSet<IpAddr> = out
        .iter()
        .filter(|n| n.stage == Some(Stage::E1InboundScan))
        .map(|n| n.host)
        .collect();
    let expected_probed: BTreeSet<IpAddr> = arr("hosts")
        .iter()
        .filter(|h| {
            h["stages"]
                .as_array()
                .is_some_and(|s| s.iter().any(|x| x == "E1"))
        })
        .map(|h| ip(&h["ip"]))
        .collect();
    assert_eq!(probed, expected_probed, "{name}: probed hosts");

    // C&C: every labelled client, no one else.
    let c2: BTreeSet<(IpAddr, IpAddr, u16)> = out
        .iter()
        .filter_map(|n| match &n.kind {
            NoticeKind::C2Channel(c) => Some((n.host, c.server, c.port)),
            _ => None,
        })
        .collect();
    let expected_c2: BTreeSet<(IpAddr, IpAddr, u16)> = arr("c2")
        .iter()
        .map(|c| {
            (
                ip(&c["client"]),
                ip(&c["server"]),
                c["port"].as_u64().unwrap() as u16,
            )
        })
        .collect();
    assert_eq!(c2, expected_c2, "{name}: C&C channels");

    // Listeners: every labelled one (workers serving their egg may add more).
    for li in arr("listeners") {
        let host = ip(&li["host"]);
        let port = li["port"].as_u64().unwrap() as u16;
        let first = ip(&li["first_client"]);
        assert!(
            out.iter().any(|n| matches!(&n.kind,
                NoticeKind::NewListener(x) if n.host == host && x.port == port && x.first_client == first)),
            "{name}: listener {host}:{port}"
        );
    }

    // Propagation: every infecting host attacks on 443/tcp again, and it was
    // attacked on that vector before.
    for p in arr("propagation") {
        let from = ip(&p["from"]);
        assert!(
            out.iter().any(|n| matches!(&n.kind,
                NoticeKind::Propagation(x) if x.host == from && x.port == 443 && x.infected_at.is_some())),
            "{name}: propagation from {from}"
        );
    }
    let hosts_with_e5: BTreeSet<IpAddr> = arr("hosts")
        .iter()
        .filter(|h| h["label"] == "worm")
        .map(|h| ip(&h["ip"]))
        .collect();
    for n in out
        .iter()
        .filter(|n| matches!(n.kind, NoticeKind::Propagation(_)))
    {
        assert!(
            hosts_with_e5.contains(&n.host),
            "{name}: {} is no worm: {}",
            n.host,
            n.msg
        );
    }
}

#[test]
fn mipsiv() {
    check("mipsiv");
}

#[test]
fn pct_worm() {
    check("pct-worm");
}

#[test]
fn irc_bot() {
    check("irc-bot");
}

#[test]
fn scan_only() {
    check("scan-only");
}

#[test]
fn benign_busy() {
    check("benign-busy");
}

#[test]
fn pct_evasion() {
    check("pct-evasion");
}

/// One TCP first contact of a scanner, followed from the packets.
#[derive(Default)]
struct Contact {
    sent: Timestamp,
    answered: bool,
    data: bool,
    fin_scanner: bool,
    fin_target: bool,
    /// When it became a failure: a reset before any answer, a close without a
    /// byte either way, or no answer within the probe timeout.
    failed: Option<Timestamp>,
}

/// The sequential test of Jung et al. (default θ0 = 0.8, θ1 = 0.2, α = 0.01,
/// β = 0.99) over `scanner`'s TCP first contacts in the order they were sent,
/// with outcomes taken from the packets (tshark) independently of the
/// detector: (failed first contacts consumed when the walk decides, the time
/// by which all of those outcomes were known).
fn packet_walk(path: &std::path::Path, scanner: IpAddr) -> Option<(u32, Timestamp)> {
    let timeout_ns = i64::try_from(stormwatch_detect::DetectConfig::default().probe_timeout_ms)
        .unwrap()
        * 1_000_000;
    let rows = tshark_fields(
        &path.to_path_buf(),
        Some(&format!("tcp && ip.addr == {scanner}")),
        &[
            "frame.time_epoch",
            "ip.src",
            "ip.dst",
            "tcp.srcport",
            "tcp.dstport",
            "tcp.flags",
            "tcp.len",
        ],
    );
    // (target, target port) → the contact; (target, scanner port, target port) → that pair.
    let mut contacts: BTreeMap<(IpAddr, u16), Contact> = BTreeMap::new();
    let mut conns: BTreeMap<(IpAddr, u16, u16), (IpAddr, u16)> = BTreeMap::new();
    for r in rows {
        let f = |i: usize| r.get(i).map(String::as_str).unwrap_or("");
        let ts = parse_ts(f(0));
        let (Ok(src), Ok(dst)) = (f(1).parse::<IpAddr>(), f(2).parse::<IpAddr>()) else {
            continue;
        };
        let (sport, dport): (u16, u16) = (num(f(3)), num(f(4)));
        let flags = hex_u16(f(5)) as u8;
        let len: u32 = num(f(6));
        let from_scanner = src == scanner;
        let (target, conn) = if from_scanner {
            (dst, (dst, sport, dport))
        } else {
            (src, (src, dport, sport))
        };
        let syn = flags & tcp_flags::SYN != 0;
        let ack = flags & tcp_flags::ACK != 0;
        if from_scanner && syn && !ack {
            if let std::collections::btree_map::Entry::Vacant(v) = contacts.entry((target, conn.2))
            {
                v.insert(Contact {
                    sent: ts,
                    ..Contact::default()
                });
                conns.insert(conn, (target, conn.2));
            }
            continue;
        }
        let Some(c) = conns.get(&conn).and_then(|k| contacts.get_mut(k)) else {
            continue;
        };
        if c.failed.is_some() {
            continue;
        }
        if ts.nanos_since(c.sent) > timeout_ns && !c.answered {
            c.failed = Some(Timestamp(c.sent.0 + timeout_ns));
            continue;
        }
        if len > 0 {
            c.data = true;
        }
        if !from_scanner && syn && ack {
            c.answered = true;
        }
        if flags & tcp_flags::FIN != 0 {
            if from_scanner {
                c.fin_scanner = true;
            } else {
                c.fin_target = true;
            }
        }
        let rst = flags & tcp_flags::RST != 0;
        // A reset before any answer, or a close without a byte either way.
        let refused = !c.answered && rst && !from_scanner;
        let dataless_close = c.answered && !c.data && (rst || (c.fin_scanner && c.fin_target));
        if refused || dataless_close {
            c.failed = Some(ts);
        }
    }
    let mut order: Vec<&Contact> = contacts.values().collect();
    order.sort_by_key(|c| c.sent);
    let (fail, success) = ((0.8f64 / 0.2).ln(), (0.2f64 / 0.8).ln());
    let (upper, lower) = ((0.99f64 / 0.01).ln(), (0.01f64 / 0.99).ln());
    let (mut llr, mut failures, mut known) = (0.0, 0u32, Timestamp::ZERO);
    for c in order {
        let failed = c
            .failed
            .or_else(|| (!c.answered).then(|| Timestamp(c.sent.0 + timeout_ns)));
        match failed {
            Some(t) => {
                known = known.max(t);
                failures += 1;
                llr += fail;
                if llr >= upper {
                    return Some((failures, known));
                }
            }
            None => {
                known = known.max(c.sent);
                llr += success;
                if llr <= lower {
                    llr = 0.0;
                    failures = 0;
                }
            }
        }
    }
    None
}

/// Acceptance (issue 6, 1): every scanner is decided within 5 failed first
/// contacts, counted from the packets (not taken from the detector's own
/// `failures_to_decision`), and the detector decides by the time those
/// outcomes are known.
fn failed_contacts_before_decision(name: &str) {
    if !tshark_ok() {
        println!("skipped: tshark not installed");
        return;
    }
    let s = stormwatch_sim::builtin(name)
        .expect("built-in")
        .expect("parses");
    let g = stormwatch_sim::generate(&s).expect("generates");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(format!("{name}.pcap"));
    std::fs::write(&path, &g.pcap).unwrap();
    let labels = serde_json::to_value(&g.labels).unwrap();
    let out = replay(&path);
    let scans = labels["scans"].as_array().unwrap();
    assert!(!scans.is_empty(), "{name}: no scanner labelled");
    for sc in scans {
        let scanner = ip(&sc["scanner"]);
        let decided = out
            .iter()
            .find(|n| matches!(&n.kind, NoticeKind::ScanDetected(i) if n.host == i.scanner && i.scanner == scanner))
            .unwrap_or_else(|| panic!("{name}: scanner {scanner} not decided"));
        let (failed, known) = packet_walk(&path, scanner)
            .unwrap_or_else(|| panic!("{name}: the packets never decide {scanner}"));
        println!(
            "{name}: {scanner}: {failed} failed first contacts decide it (known at {}); detector decided at {} after {}",
            known.to_eve(),
            decided.ts.to_eve(),
            match &decided.kind {
                NoticeKind::ScanDetected(i) => i.failures_to_decision,
                _ => 0,
            }
        );
        assert!(
            (1..=5).contains(&failed),
            "{name}: {scanner} needs {failed} failed first contacts"
        );
        // The detector decides no later than those outcomes were known (plus
        // its one-second tick).
        assert!(
            decided.ts.0 <= known.0 + 1_000_000_000,
            "{name}: {scanner} decided at {} although {failed} failures were known at {}: {}",
            decided.ts.to_eve(),
            known.to_eve(),
            decided.msg
        );
    }
}

#[test]
fn scan_only_scanners_decided_within_five_failed_contacts() {
    failed_contacts_before_decision("scan-only");
}

#[test]
fn mipsiv_scanner_decided_within_five_failed_contacts() {
    failed_contacts_before_decision("mipsiv");
}
