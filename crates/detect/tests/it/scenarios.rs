//! The simulator's built-in scenarios: each pcap replayed through the
//! detectors (header facts and IRC lines extracted with tshark, as in the
//! corpus tests) and compared with the scenario's ground-truth labels — scans
//! (kind, ports, targets, automated or not, tool), the probed hosts, C&C
//! clients, listeners and propagating hosts. Skips without tshark.

use crate::corpus::{replay, tshark_ok};
use serde_json::Value;
use std::collections::BTreeSet;
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
