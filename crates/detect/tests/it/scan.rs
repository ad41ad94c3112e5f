//! Scan detection and the tool fingerprint on synthetic sequences.

use crate::util::*;
use stormwatch_detect::{DetectConfig, Detectors};
use stormwatch_model::*;

/// masscan-like: 1,001 SYNs to ports 0–1000 of one host in random order over
/// ten seconds, window 1024, TTL 252, no options, fixed source port, no replies.
fn masscan(d: &mut Detectors, out: &mut Vec<Notice>) {
    let mut ports: Vec<u16> = (0..=1000).collect();
    Rng(7).shuffle(&mut ports);
    let mut rng = Rng(99);
    for (i, port) in ports.iter().enumerate() {
        let mut p = pkt(
            i as i64 * 10,
            1 + i as u64,
            "172.31.15.102",
            51406,
            "10.9.8.7",
            *port,
            SYN,
        );
        p.window = 1024;
        p.ttl = 252;
        p.tcp_options_sig = 0;
        p.mss = None;
        p.ip_id = rng.next() as u16;
        d.on_packet(&p, out);
        if i % 100 == 0 {
            d.tick(p.ts, out);
        }
    }
}

#[test]
fn masscan_is_decided_within_five_failures_as_vertical_masscan() {
    let mut d = detectors();
    let mut out = Vec::new();
    masscan(&mut d, &mut out);
    let det = scans_detected(&out);
    assert_eq!(det.len(), 1, "one scan record while it runs: {out:#?}");
    let s = det[0].clone();
    assert!(s.failures_to_decision <= 5, "{}", s.failures_to_decision);
    assert_eq!(s.kind, ScanKind::Vertical);
    assert_eq!(s.proto, IpProto::TCP);
    assert_eq!(s.tool.name.as_deref(), Some("masscan"));
    assert!(s.tool.automated);
    assert!(
        s.tool.reason.starts_with("automated: "),
        "{}",
        s.tool.reason
    );
    assert!(s.tool.reason.contains("window 1024") && s.tool.reason.contains("TTL 252"));
    assert!(
        s.tool.reason.contains("no TCP options"),
        "{}",
        s.tool.reason
    );
    for f in ["src_port", "ttl", "window", "tcp_options"] {
        assert!(
            s.tool.constant_fields.iter().any(|c| c == f),
            "{f} constant"
        );
    }
    // Decided by probe timeouts: five seconds of packet time after the first probe.
    let n = out
        .iter()
        .find(|n| n.identifier.starts_with("scan:"))
        .unwrap();
    assert!(n.ts >= ts_ms(5_000) && n.ts <= ts_ms(5_100), "{:?}", n.ts);
    assert_eq!(n.identifier, "scan:172.31.15.102:tcp");
    assert_eq!(
        n.stage,
        Some(Stage::E5OutboundAttack),
        "the scanner is a home host"
    );

    d.finish(ts_ms(20_000), &mut out);
    let end = scans_ended(&out);
    assert_eq!(end.len(), 1, "one ScanEnded");
    let e = end[0];
    assert_eq!(e.target_count, 1);
    assert_eq!(e.port_count, 1001);
    assert_eq!(e.ports.len(), 64, "listed up to the limit");
    assert_eq!(e.ports[..3], [0, 1, 2]);
    assert_eq!(e.tool.order, TargetOrder::Random);
    assert!((e.tool.rate_pps - 100.0).abs() < 1.0, "{}", e.tool.rate_pps);
    assert_eq!(e.live_ratio, 0.0);
    assert_eq!(e.failures_to_decision, s.failures_to_decision);
    // The one home target got its E1 record.
    let t = target_records(&out);
    assert_eq!(t.len(), 1);
    assert_eq!(t[0].host, ip("10.9.8.7"));
    assert_eq!(t[0].peer, Some(ip("172.31.15.102")));
}

#[test]
fn one_sided_capture_decides_at_end_of_input() {
    // Three SYNs only, then the capture ends: the timeouts have not expired,
    // end of input fails them (and a fourth probe seen still decides).
    let mut d = detectors();
    let mut out = Vec::new();
    for i in 0..4u16 {
        let mut p = pkt(
            i64::from(i) * 10,
            1 + u64::from(i),
            "198.51.100.9",
            40000,
            "10.0.0.1",
            20 + i,
            SYN,
        );
        p.window = 1024;
        p.tcp_options_sig = 0;
        p.mss = None;
        d.on_packet(&p, &mut out);
    }
    assert!(scans_detected(&out).is_empty(), "not before the timeout");
    d.finish(ts_ms(100), &mut out);
    let det = scans_detected(&out);
    assert_eq!(det.len(), 1);
    assert_eq!(det[0].failures_to_decision, 4);
    assert_eq!(scans_ended(&out).len(), 1);
}

#[test]
fn nmap_syn_scan_is_named_and_counts_open_ports() {
    // nmap -sS: window 1024, MSS 1460 only, one source port for all probes,
    // random IP IDs, random port order; closed ports answer RST, two are open.
    let mut d = detectors();
    let mut out = Vec::new();
    let mut ports: Vec<u16> = (1..=200).collect();
    Rng(3).shuffle(&mut ports);
    let mut rng = Rng(5);
    for (i, port) in ports.iter().enumerate() {
        let ms = i as i64 * 2;
        let mut p = pkt(
            ms,
            100 + i as u64,
            "203.0.113.50",
            45321,
            "10.1.1.20",
            *port,
            SYN,
        );
        p.window = 1024;
        p.mss = Some(1460);
        p.tcp_options_sig = 0x0000_0002;
        p.ttl = 44;
        p.ip_id = rng.next() as u16;
        d.on_packet(&p, &mut out);
        if *port == 22 || *port == 80 {
            d.on_packet(&reply(&p, ms + 1, SYNACK), &mut out);
            let mut r = p;
            r.ts = ts_ms(ms + 1);
            r.first_in_flow = false;
            r.tcp_flags = RST;
            d.on_packet(&r, &mut out);
        } else {
            d.on_packet(&reply(&p, ms + 1, RSTACK), &mut out);
        }
    }
    let det = scans_detected(&out);
    assert_eq!(det.len(), 1);
    assert!(det[0].failures_to_decision <= 5);
    d.finish(ts_ms(10_000), &mut out);
    let e = scans_ended(&out)[0];
    assert_eq!(e.kind, ScanKind::Vertical);
    assert_eq!(e.port_count, 200);
    assert_eq!(e.tool.name.as_deref(), Some("nmap"), "{}", e.tool.reason);
    assert!(
        (e.live_ratio - 2.0 / 200.0).abs() < 1e-9,
        "{}",
        e.live_ratio
    );
    assert!(
        e.tool.reason.contains("source port 45321"),
        "{}",
        e.tool.reason
    );
}

#[test]
fn icmp_sweep_of_25_hosts_is_a_ping_sweep() {
    let mut d = detectors();
    let mut out = Vec::new();
    for i in 0..25u64 {
        let ms = i as i64 * 60;
        let dst = format!("192.168.1.{}", 10 + i);
        let mut p = pkt(ms, 500 + i, "192.168.1.109", 0, &dst, 0, 0);
        p.proto = IpProto::ICMP;
        p.icmp = Some((8, 0));
        p.ttl = 40 + (i % 20) as u8;
        d.on_packet(&p, &mut out);
        if i % 5 == 0 {
            let mut r = reply(&p, ms + 3, 0);
            r.icmp = Some((0, 0));
            d.on_packet(&r, &mut out);
        }
    }
    d.finish(ts_ms(3_000), &mut out);
    let det = scans_detected(&out);
    assert_eq!(det.len(), 1);
    assert_eq!(det[0].kind, ScanKind::PingSweep);
    assert_eq!(det[0].proto, IpProto::ICMP);
    let e = scans_ended(&out)[0];
    assert_eq!(e.target_count, 25);
    assert_eq!(e.port_count, 0);
    assert!((e.live_ratio - 5.0 / 25.0).abs() < 1e-9);
    assert!(e.tool.automated, "{}", e.tool.reason);
    assert_eq!(e.tool.order, TargetOrder::Sequential);
    // Every probed home host got exactly one E1 record.
    let t = target_records(&out);
    assert_eq!(t.len(), 25);
    let mut hosts: Vec<_> = t.iter().map(|n| n.host).collect();
    hosts.sort();
    hosts.dedup();
    assert_eq!(hosts.len(), 25);
}

#[test]
fn worm_sequential_sweep_on_443() {
    let mut d = detectors();
    let mut out = Vec::new();
    for i in 1..=254u64 {
        let ms = i as i64 * 100; // steady 10/s
        let dst = format!("10.1.2.{i}");
        let p = pkt(ms, 1_000 + i, "10.1.1.20", 1025 + i as u16, &dst, 443, SYN);
        d.on_packet(&p, &mut out);
        if i % 50 == 0 {
            // A few hosts serve HTTPS.
            d.on_packet(&reply(&p, ms + 2, SYNACK), &mut out);
        }
        d.tick(p.ts, &mut out);
    }
    let det = scans_detected(&out);
    assert_eq!(det.len(), 1);
    assert!(det[0].failures_to_decision <= 5);
    let n = out
        .iter()
        .find(|n| n.identifier == "scan:10.1.1.20:tcp")
        .unwrap();
    assert_eq!(n.stage, Some(Stage::E5OutboundAttack));
    d.finish(ts_ms(60_000), &mut out);
    let e = scans_ended(&out)[0];
    assert_eq!(e.kind, ScanKind::Horizontal);
    assert_eq!(e.ports, vec![443]);
    assert_eq!(e.target_count, 254);
    assert_eq!(e.tool.order, TargetOrder::Sequential);
    assert_eq!(
        e.tool.name.as_deref(),
        Some("worm-sequential"),
        "{}",
        e.tool.reason
    );
    assert!(e.tool.gap_cv < 0.05);
    assert!((e.tool.rate_pps - 10.0).abs() < 0.1);
    assert_eq!(
        target_records(&out).len(),
        254,
        "one E1 per probed home host"
    );
    // E1 timestamps are the probe times, not the decision time.
    let first = target_records(&out)
        .into_iter()
        .find(|n| n.host == ip("10.1.2.1"))
        .unwrap();
    assert_eq!(first.ts, ts_ms(100));
}

#[test]
fn slow_manual_probe_is_manual() {
    // Four connects to closed ports, 20–90 s apart, from a kernel stack.
    let mut d = detectors();
    let mut out = Vec::new();
    let times = [0i64, 20_000, 110_000, 155_000];
    for (i, t) in times.iter().enumerate() {
        let p = pkt(
            *t,
            10 + i as u64,
            "10.5.5.5",
            50_000 + i as u16 * 7,
            "10.1.1.30",
            [21, 22, 23, 3389][i],
            SYN,
        );
        d.on_packet(&p, &mut out);
        d.on_packet(&reply(&p, t + 1, RSTACK), &mut out);
    }
    d.finish(ts_ms(200_000), &mut out);
    let det = scans_detected(&out);
    assert_eq!(det.len(), 1, "four refused first contacts decide");
    let e = scans_ended(&out)[0];
    assert!(!e.tool.automated, "{}", e.tool.reason);
    assert!(e.tool.name.is_none());
    assert!(
        e.tool.reason.starts_with("manual: 4 probes in 2m35s"),
        "{}",
        e.tool.reason
    );
}

#[test]
fn busy_web_client_is_not_a_scanner() {
    let mut d = detectors();
    let mut out = Vec::new();
    for (flow, i) in (1..).zip(0..400i64) {
        let server = format!("198.51.{}.{}", i % 7, 1 + (i * 37) % 250);
        let p = pkt(
            i * 250,
            flow,
            "10.0.0.5",
            40_000 + (i % 20_000) as u16,
            &server,
            443,
            SYN,
        );
        d.on_packet(&p, &mut out);
        // 1 in 10 servers is down (no answer), the rest accept.
        if i % 10 != 3 {
            d.on_packet(&reply(&p, i * 250 + 30, SYNACK), &mut out);
        }
        d.tick(p.ts, &mut out);
    }
    d.finish(ts_ms(200_000), &mut out);
    assert!(scans_detected(&out).is_empty(), "{out:#?}");
    assert!(out.is_empty());
}

#[test]
fn dns_client_is_not_a_scanner() {
    let mut d = detectors();
    let mut out = Vec::new();
    for i in 0..300i64 {
        let mut q = pkt(
            i * 200,
            1 + i as u64,
            "10.0.0.7",
            30_000 + i as u16,
            "10.0.0.53",
            53,
            0,
        );
        q.proto = IpProto::UDP;
        d.on_packet(&q, &mut out);
        let mut r = reply(&q, i * 200 + 5, 0);
        r.proto = IpProto::UDP;
        d.on_packet(&r, &mut out);
    }
    // A one-sided capture of the resolver's answers must not turn it into a scanner either.
    for i in 0..50i64 {
        let mut r = pkt(
            70_000 + i * 10,
            10_000 + i as u64,
            "10.0.0.53",
            53,
            &format!("10.0.1.{i}"),
            40_000,
            0,
        );
        r.proto = IpProto::UDP;
        d.on_packet(&r, &mut out);
    }
    d.finish(ts_ms(100_000), &mut out);
    assert!(out.is_empty(), "{out:#?}");
}

#[test]
fn masscan_one_sided_rst_counts_as_answer() {
    // masscan's own RST after an (uncaptured) SYN/ACK proves the port open.
    let mut d = detectors();
    let mut out = Vec::new();
    for i in 0..20u64 {
        let mut p = pkt(
            i as i64 * 10,
            1 + i,
            "172.31.15.102",
            51406,
            "10.9.8.7",
            100 + i as u16,
            SYN,
        );
        p.window = 1024;
        p.tcp_options_sig = 0;
        p.mss = None;
        d.on_packet(&p, &mut out);
        if i == 3 {
            let mut r = p;
            r.ts = ts_ms(i as i64 * 10 + 30);
            r.first_in_flow = false;
            r.tcp_flags = RST;
            d.on_packet(&r, &mut out);
        }
    }
    d.finish(ts_ms(1_000), &mut out);
    let e = scans_ended(&out)[0];
    assert!((e.live_ratio - 1.0 / 20.0).abs() < 1e-9, "{}", e.live_ratio);
}

#[test]
fn scan_ends_when_quiet_and_a_new_episode_gets_a_new_identifier() {
    let mut d = detectors();
    let mut out = Vec::new();
    let burst = |d: &mut Detectors, out: &mut Vec<Notice>, t0: i64, flow0: u64| {
        for i in 0..10u64 {
            let p = pkt(
                t0 + i as i64 * 10,
                flow0 + i,
                "203.0.113.9",
                4000,
                "10.2.2.2",
                1000 + i as u16,
                SYN,
            );
            d.on_packet(&p, out);
            d.on_packet(&reply(&p, t0 + i as i64 * 10 + 1, RSTACK), out);
        }
    };
    burst(&mut d, &mut out, 0, 1);
    assert_eq!(scans_detected(&out).len(), 1);
    // 300 s of silence end it (ticks only).
    for s in 1..=400 {
        d.tick(ts_ms(s * 1000), &mut out);
    }
    let ended: Vec<_> = out
        .iter()
        .filter(|n| kind_name(n) == "scan_ended")
        .collect();
    assert_eq!(ended.len(), 1);
    assert_eq!(ended[0].identifier, "scan:203.0.113.9:tcp");
    assert_eq!(
        ended[0].ts,
        ts_ms(90 + 300_000),
        "ends idle_secs after the last probe"
    );
    burst(&mut d, &mut out, 500_000, 100);
    d.finish(ts_ms(600_000), &mut out);
    let ids: Vec<&str> = out
        .iter()
        .filter(|n| n.host == ip("203.0.113.9"))
        .map(|n| n.identifier.as_str())
        .collect();
    assert_eq!(
        ids,
        [
            "scan:203.0.113.9:tcp",
            "scan:203.0.113.9:tcp",
            "scan:203.0.113.9:tcp#2",
            "scan:203.0.113.9:tcp#2"
        ]
    );
}

#[test]
fn output_does_not_depend_on_tick_granularity() {
    let run = |tick_every: usize| {
        let mut d = detectors();
        let mut out = Vec::new();
        let mut ports: Vec<u16> = (1..300).collect();
        Rng(11).shuffle(&mut ports);
        for (i, port) in ports.iter().enumerate() {
            let p = pkt(
                i as i64 * 37,
                1 + i as u64,
                "203.0.113.77",
                5555,
                &format!("10.3.{}.{}", i % 3, i % 200),
                *port,
                SYN,
            );
            d.on_packet(&p, &mut out);
            if i % 9 == 0 {
                d.on_packet(&reply(&p, i as i64 * 37 + 2, RSTACK), &mut out);
            }
            if tick_every > 0 && i % tick_every == 0 {
                d.tick(p.ts, &mut out);
            }
        }
        d.finish(ts_ms(400_000), &mut out);
        out
    };
    let a = run(0);
    assert!(!a.is_empty());
    assert_eq!(a, run(1));
    assert_eq!(a, run(7));
}

#[test]
fn scanner_ignore_list_is_honoured() {
    let cfg = DetectConfig {
        scan_ignore_sources: NetSet::parse("203.0.113.0/24").unwrap(),
        ..DetectConfig::default()
    };
    let mut d = Detectors::new(cfg, home());
    let mut out = Vec::new();
    masscan_from(&mut d, &mut out, "203.0.113.4");
    d.finish(ts_ms(20_000), &mut out);
    assert!(out.is_empty());
}

fn masscan_from(d: &mut Detectors, out: &mut Vec<Notice>, src: &str) {
    for i in 0..50u64 {
        let p = pkt(i as i64 * 10, 1 + i, src, 51406, "10.9.8.7", i as u16, SYN);
        d.on_packet(&p, out);
    }
}

#[test]
fn source_table_limit_evicts_and_counts() {
    let cfg = DetectConfig {
        scan_sources_max: 100,
        ..DetectConfig::default()
    };
    let mut d = Detectors::new(cfg, home());
    let mut out = Vec::new();
    for i in 0..1_000u64 {
        let src = format!("198.18.{}.{}", i / 250, i % 250);
        let p = pkt(i as i64, 1 + i, &src, 1234, "10.0.0.1", 80, SYN);
        d.on_packet(&p, &mut out);
    }
    let c: std::collections::BTreeMap<_, _> = d.counters().into_iter().collect();
    assert_eq!(c["detect.scan.sources"], 100);
    assert_eq!(c["detect.scan.sources_evicted"], 900);
    assert!(c["detect.state_bytes"] > 0);
}

#[test]
fn connects_closed_without_data_count_as_failed_contacts() {
    // A person connects by hand to 3 hosts × 3 ports; three connects succeed
    // but are closed without sending anything.
    let mut d = detectors();
    let mut out = Vec::new();
    let open = [("10.2.0.5", 22), ("10.2.0.5", 80), ("10.2.0.5", 443)];
    let probes = [
        ("10.2.0.5", 22),
        ("10.2.1.10", 80),
        ("10.2.0.6", 443),
        ("10.2.0.5", 80),
        ("10.2.1.10", 22),
        ("10.2.0.6", 22),
        ("10.2.0.5", 443),
        ("10.2.1.10", 443),
        ("10.2.0.6", 80),
    ];
    let mut t = 0i64;
    for (i, (h, port)) in probes.iter().enumerate() {
        // Seconds apart, irregular: a person typing.
        t += [
            4_000, 17_000, 6_000, 25_000, 9_000, 3_000, 14_000, 21_000, 8_000,
        ][i];
        let flow = 1 + i as u64;
        let p = pkt(t, flow, "203.0.113.50", 1289 + i as u16, h, *port, SYN);
        d.on_packet(&p, &mut out);
        if open.contains(&(*h, *port)) {
            d.on_packet(&reply(&p, t + 1, SYNACK), &mut out);
            d.on_flow_end(
                &flow_rec(
                    flow,
                    "203.0.113.50",
                    1289 + i as u16,
                    h,
                    *port,
                    t,
                    t + 3_000,
                    "ShAFaf",
                    200,
                    200,
                    AppProto::Unknown,
                ),
                &mut out,
            );
        } else {
            d.on_packet(&reply(&p, t + 1, RSTACK), &mut out);
        }
    }
    d.finish(ts_ms(t + 10_000), &mut out);
    let det = scans_detected(&out);
    assert_eq!(det.len(), 1, "{out:#?}");
    assert!(det[0].failures_to_decision <= 5);
    let e = scans_ended(&out)[0];
    assert_eq!(e.kind, ScanKind::Block);
    assert_eq!(e.ports, vec![22, 80, 443]);
    assert_eq!(e.target_count, 3);
    assert!(!e.tool.automated, "{}", e.tool.reason);
    assert!((e.live_ratio - 3.0 / 9.0).abs() < 1e-9);
    let c: std::collections::BTreeMap<_, _> = d.counters().into_iter().collect();
    assert!(c["detect.scan.dataless_connects"] >= 1);
}

#[test]
fn a_bots_earlier_session_is_not_part_of_its_sweep() {
    // The bot talked to its IRC server 18 minutes before sweeping 445.
    let mut d = detectors();
    let mut out = Vec::new();
    let irc = pkt(0, 1, "10.4.1.11", 1363, "192.0.2.66", 6667, SYN);
    d.on_packet(&irc, &mut out);
    d.on_packet(&reply(&irc, 80, SYNACK), &mut out);
    for i in 0..64u64 {
        let t = 1_080_000 + i as i64 * 250;
        let p = pkt(
            t,
            100 + i,
            "10.4.1.11",
            2000 + i as u16,
            &format!("10.4.{}.{}", 2 + i / 32, 1 + (i * 7) % 250),
            445,
            SYN,
        );
        d.on_packet(&p, &mut out);
        d.tick(p.ts, &mut out);
    }
    d.finish(ts_ms(1_200_000), &mut out);
    let e = scans_ended(&out)[0];
    assert_eq!(e.ports, vec![445]);
    assert_eq!(e.target_count, 64);
    assert_eq!(e.kind, ScanKind::Horizontal);
    assert!(e.tool.automated, "{}", e.tool.reason);
    assert!((e.tool.rate_pps - 4.0).abs() < 0.1, "{}", e.tool.rate_pps);
    assert!(e.first_seen >= ts_ms(1_080_000));
}

#[test]
fn incidental_ports_of_a_large_sweep_are_not_listed() {
    // A /22 sweep of 443, then the attacker connects to backdoors on 3 victims.
    let mut d = detectors();
    let mut out = Vec::new();
    for i in 0..1024u64 {
        let t = i as i64 * 100;
        let p = pkt(
            t,
            1 + i,
            "203.0.113.7",
            40_000,
            &format!("10.1.{}.{}", i / 256, i % 256),
            443,
            SYN,
        );
        d.on_packet(&p, &mut out);
    }
    for (k, v) in ["10.1.1.20", "10.1.2.33", "10.1.3.7"].iter().enumerate() {
        let t = 110_000 + k as i64 * 1000;
        let p = pkt(t, 5000 + k as u64, "203.0.113.7", 50_000, v, 31337, SYN);
        d.on_packet(&p, &mut out);
        d.on_packet(&reply(&p, t + 1, SYNACK), &mut out);
    }
    d.finish(ts_ms(200_000), &mut out);
    let e = scans_ended(&out)[0];
    assert_eq!(e.ports, vec![443]);
    assert_eq!(e.port_count, 1);
    assert_eq!(e.kind, ScanKind::Horizontal);
    assert_eq!(e.target_count, 1024);
}

#[test]
fn passive_ftp_data_connections_are_not_probes() {
    // zeek-pe-pe: an FTP client fetches files over passive data connections to
    // a new server port each time; only the server sends.
    let mut d = detectors();
    let mut out = Vec::new();
    let ctl = pkt(0, 1, "192.168.1.31", 63417, "192.168.1.32", 21, SYN);
    d.on_packet(&ctl, &mut out);
    d.on_packet(&reply(&ctl, 1, SYNACK), &mut out);
    for (i, port) in [41151u16, 18605, 16857, 11886, 19800, 20111, 30222]
        .iter()
        .enumerate()
    {
        let t = 1_000 + i as i64 * 300;
        // Every second one announced on the control channel (as PASV does).
        if i % 2 == 0 {
            let c = app_ctx(
                t - 5,
                1,
                "192.168.1.31",
                63417,
                "192.168.1.32",
                21,
                Direction::ToClient,
            );
            let ev = AppEvent::Ftp(FtpEvent::DataExpected {
                addr: ip("192.168.1.32"),
                port: *port,
            });
            d.on_app_event(&c, &ev, &mut out);
        }
        let flow = 10 + i as u64;
        let p = pkt(
            t,
            flow,
            "192.168.1.31",
            63419 + i as u16,
            "192.168.1.32",
            *port,
            SYN,
        );
        d.on_packet(&p, &mut out);
        d.on_packet(&reply(&p, t + 1, SYNACK), &mut out);
        d.on_flow_end(
            &flow_rec(
                flow,
                "192.168.1.31",
                63419 + i as u16,
                "192.168.1.32",
                *port,
                t,
                t + 100,
                "ShAdFaf",
                400,
                70_000,
                AppProto::FtpData,
            ),
            &mut out,
        );
    }
    d.finish(ts_ms(10_000), &mut out);
    assert!(scans_detected(&out).is_empty(), "{out:#?}");
}

#[test]
fn an_answered_first_contact_closed_without_data_after_later_contacts_still_fails() {
    // The client's first connection is answered and stays open while it
    // makes a second first contact (the source's record grows from one
    // contact to many); the first one then closes without a byte either way:
    // one failed contact, counted once (again at its flow end: no).
    let mut d = detectors();
    let mut out = Vec::new();
    let c = "203.0.113.60";
    let p1 = pkt(0, 1, c, 40001, "10.3.0.5", 22, SYN);
    d.on_packet(&p1, &mut out);
    d.on_packet(&reply(&p1, 1, SYNACK), &mut out);
    let p2 = pkt(500, 2, c, 40002, "10.3.0.6", 22, SYN);
    d.on_packet(&p2, &mut out);
    d.on_packet(&reply(&p2, 501, RSTACK), &mut out);
    let fin = tcp_flags::FIN | tcp_flags::ACK;
    let fin1 = PacketSummary {
        ts: ts_ms(2_000),
        first_in_flow: false,
        tcp_flags: fin,
        ..p1
    };
    d.on_packet(&fin1, &mut out);
    d.on_packet(&reply(&p1, 2_001, fin), &mut out);
    let rec = flow_rec(
        1,
        c,
        40001,
        "10.3.0.5",
        22,
        0,
        2_001,
        "ShAFaf",
        0,
        0,
        AppProto::Unknown,
    );
    d.on_flow_end(&rec, &mut out);
    let counts: std::collections::BTreeMap<_, _> = d.counters().into_iter().collect();
    assert_eq!(counts["detect.scan.dataless_connects"], 1, "{counts:?}");
    assert_eq!(counts["detect.scan.dataless_reverted"], 0);
    assert_eq!(counts["detect.scan.probes"], 2);
}

#[test]
fn a_tool_mark_after_one_first_contact_reports_that_contact() {
    // One SYN to 10.3.1.1:8080, answered, then an NSE HTTP probe on it: the
    // scanner is decided by the mark, and the record describes the one
    // contact made (target, port, time).
    let mut d = detectors();
    let mut out = Vec::new();
    let p = pkt(1_000, 7, "198.51.100.23", 51000, "10.3.1.1", 8080, SYN);
    d.on_packet(&p, &mut out);
    d.on_packet(&reply(&p, 1_001, SYNACK), &mut out);
    let ctx = app_ctx(
        1_050,
        7,
        "198.51.100.23",
        51000,
        "10.3.1.1",
        8080,
        Direction::ToServer,
    );
    let ev = AppEvent::Http(HttpEvent {
        uri: Some("/".into()),
        user_agent: Some("Mozilla/5.0 (compatible; Nmap Scripting Engine)".into()),
        ..HttpEvent::default()
    });
    d.on_app_event(&ctx, &ev, &mut out);
    let det = scans_detected(&out);
    assert_eq!(det.len(), 1, "{out:#?}");
    let s = det[0];
    assert_eq!(s.tool.name.as_deref(), Some("nmap"));
    assert_eq!(s.sample_targets, vec![ip("10.3.1.1")]);
    assert_eq!(s.ports, vec![8080]);
    assert_eq!(s.target_count, 1);
    assert_eq!(s.first_seen, ts_ms(1_000));
    assert!((s.live_ratio - 1.0).abs() < 1e-9);
}
