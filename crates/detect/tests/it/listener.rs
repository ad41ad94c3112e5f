//! New listeners (E6).

use crate::util::*;
use stormwatch_detect::Detectors;
use stormwatch_model::*;

/// A connection from `client` to `server:port` accepted at `ms`.
fn accept(
    d: &mut Detectors,
    out: &mut Vec<Notice>,
    ms: i64,
    flow: u64,
    client: &str,
    server: &str,
    port: u16,
) {
    let p = pkt(
        ms,
        flow,
        client,
        40_000 + (flow % 20_000) as u16,
        server,
        port,
        SYN,
    );
    d.on_packet(&p, out);
    d.on_packet(&reply(&p, ms + 1, SYNACK), out);
}

fn listeners(out: &[Notice]) -> Vec<(&Notice, &ListenerInfo)> {
    out.iter()
        .filter_map(|n| match &n.kind {
            NoticeKind::NewListener(l) => Some((n, l)),
            _ => None,
        })
        .collect()
}

#[test]
fn learned_during_warmup_then_a_used_new_port_is_reported() {
    let mut d = detectors();
    let mut out = Vec::new();
    accept(&mut d, &mut out, 1_000, 1, "10.0.0.50", "10.0.0.9", 443);
    accept(&mut d, &mut out, 200_000, 2, "10.0.0.51", "10.0.0.9", 443);
    assert!(listeners(&out).is_empty(), "443 learned during the warm-up");
    accept(
        &mut d,
        &mut out,
        300_000,
        3,
        "192.0.2.66",
        "10.0.0.9",
        31337,
    );
    assert!(listeners(&out).is_empty(), "waits for use");
    d.on_flow_end(
        &flow_rec(
            3,
            "192.0.2.66",
            40_003,
            "10.0.0.9",
            31337,
            300_000,
            302_000,
            "ShADadFf",
            900,
            4_000,
            AppProto::Unknown,
        ),
        &mut out,
    );
    let l = listeners(&out);
    assert_eq!(l.len(), 1);
    let (n, info) = l[0];
    assert_eq!(n.host, ip("10.0.0.9"));
    assert_eq!(n.stage, Some(Stage::E6NewListener));
    assert_eq!(n.ts, ts_ms(300_001), "time of the SYN/ACK");
    assert_eq!(info.port, 31337);
    assert_eq!(info.first_client, ip("192.0.2.66"));
    assert!(
        (info.watched_secs - 299.0).abs() < 0.1,
        "{}",
        info.watched_secs
    );
    // Same port again: one finding, one notice.
    accept(
        &mut d,
        &mut out,
        400_000,
        4,
        "192.0.2.66",
        "10.0.0.9",
        31337,
    );
    d.on_flow_end(
        &flow_rec(
            4,
            "192.0.2.66",
            40_004,
            "10.0.0.9",
            31337,
            400_000,
            402_000,
            "ShADadFf",
            900,
            4_000,
            AppProto::Unknown,
        ),
        &mut out,
    );
    assert_eq!(listeners(&out).len(), 1);
}

#[test]
fn after_an_exploit_any_new_accept_is_reported_at_once() {
    let mut d = detectors();
    let mut out = Vec::new();
    accept(&mut d, &mut out, 0, 1, "10.0.0.50", "10.1.1.20", 80);
    d.on_alert(
        &alert(
            100_000,
            2515,
            "attempted-admin",
            "PCT overflow",
            "203.0.113.7",
            "10.1.1.20",
            443,
        ),
        &mut out,
    );
    accept(
        &mut d,
        &mut out,
        102_000,
        2,
        "203.0.113.7",
        "10.1.1.20",
        31337,
    );
    let l = listeners(&out);
    assert_eq!(l.len(), 1, "{out:#?}");
    assert_eq!(l[0].1.first_client, ip("203.0.113.7"));
}

#[test]
fn probes_and_announced_ports_are_not_listeners() {
    let mut d = detectors();
    let mut out = Vec::new();
    accept(&mut d, &mut out, 0, 1, "10.0.0.50", "10.0.0.9", 21);
    // FTP PASV announces 10.0.0.9:50001; the client connects there.
    let ctx = app_ctx(
        100_000,
        1,
        "10.0.0.50",
        40_001,
        "10.0.0.9",
        21,
        Direction::ToClient,
    );
    d.on_app_event(
        &ctx,
        &AppEvent::Ftp(FtpEvent::DataExpected {
            addr: ip("10.0.0.9"),
            port: 50_001,
        }),
        &mut out,
    );
    accept(
        &mut d,
        &mut out,
        100_500,
        2,
        "10.0.0.50",
        "10.0.0.9",
        50_001,
    );
    d.on_flow_end(
        &flow_rec(
            2,
            "10.0.0.50",
            40_002,
            "10.0.0.9",
            50_001,
            100_500,
            101_000,
            "ShADadFf",
            100,
            90_000,
            AppProto::FtpData,
        ),
        &mut out,
    );
    // A connect probe: accepted, then reset, no data.
    accept(&mut d, &mut out, 200_000, 3, "10.0.0.77", "10.0.0.9", 8081);
    let mut r = pkt(200_002, 3, "10.0.0.77", 40_003, "10.0.0.9", 8081, RST);
    r.first_in_flow = false;
    d.on_packet(&r, &mut out);
    for s in 200..260 {
        d.tick(ts_ms(s * 1000), &mut out);
    }
    d.on_flow_end(
        &flow_rec(
            3,
            "10.0.0.77",
            40_003,
            "10.0.0.9",
            8080,
            200_000,
            200_002,
            "ShAR",
            120,
            60,
            AppProto::Unknown,
        ),
        &mut out,
    );
    // A DCC offer from an internal user, then the peer connects to it.
    let ctx = app_ctx(
        300_000,
        9,
        "10.0.0.7",
        50_000,
        "10.0.0.22",
        6667,
        Direction::ToServer,
    );
    let ev = AppEvent::Irc(IrcEvent {
        msg: IrcMessage {
            prefix: None,
            command: "PRIVMSG".into(),
            params: vec![
                "tim1".into(),
                "\u{1}DCC SEND ssh.trace 167772167 59130 1320211\u{1}".into(),
            ],
        },
        nick: Some("tim".into()),
        channels: vec![],
        ctcp: Some(Ctcp {
            command: "DCC".into(),
            args: "SEND ssh.trace 167772167 59130 1320211".into(),
            dcc: Some(Dcc {
                kind: "SEND".into(),
                argument: "ssh.trace".into(),
                addr: Some(ip("10.0.0.7")),
                port: 59_130,
                size: Some(1_320_211),
            }),
        }),
    });
    d.on_app_event(&ctx, &ev, &mut out);
    accept(&mut d, &mut out, 0, 20, "10.0.0.22", "10.0.0.7", 22);
    accept(
        &mut d,
        &mut out,
        310_000,
        21,
        "10.0.0.22",
        "10.0.0.7",
        59_130,
    );
    d.on_flow_end(
        &flow_rec(
            21,
            "10.0.0.22",
            43_614,
            "10.0.0.7",
            59_130,
            310_000,
            330_000,
            "ShADadFf",
            100,
            1_320_211,
            AppProto::Unknown,
        ),
        &mut out,
    );
    assert!(listeners(&out).is_empty(), "{out:#?}");
    let c: std::collections::BTreeMap<_, _> = d.counters().into_iter().collect();
    assert_eq!(c["detect.listener.expected"], 2);
    assert_eq!(c["detect.listener.dropped"], 1);
}

#[test]
fn ports_found_by_a_scanner_are_learned_not_reported() {
    let mut d = detectors();
    let mut out = Vec::new();
    accept(&mut d, &mut out, 0, 1, "10.0.0.50", "10.0.0.9", 443);
    // A scanner decided on other hosts, then finds 10.0.0.9:22 open.
    for i in 0..6u64 {
        let p = pkt(
            100_000 + i as i64,
            100 + i,
            "203.0.113.5",
            999,
            &format!("10.0.5.{i}"),
            22,
            SYN,
        );
        d.on_packet(&p, &mut out);
        d.on_packet(&reply(&p, 100_000 + i as i64 + 1, RSTACK), &mut out);
    }
    assert_eq!(scans_detected(&out).len(), 1);
    accept(
        &mut d,
        &mut out,
        100_100,
        200,
        "203.0.113.5",
        "10.0.0.9",
        22,
    );
    d.on_flow_end(
        &flow_rec(
            200,
            "203.0.113.5",
            999,
            "10.0.0.9",
            22,
            100_100,
            100_200,
            "ShADadFf",
            300,
            300,
            AppProto::Ssh,
        ),
        &mut out,
    );
    assert!(listeners(&out).is_empty(), "{out:#?}");
}

#[test]
fn a_connection_still_open_after_the_confirmation_delay_is_in_use() {
    let mut d = detectors();
    let mut out = Vec::new();
    accept(&mut d, &mut out, 0, 1, "10.0.0.50", "10.0.0.9", 443);
    accept(&mut d, &mut out, 120_000, 2, "192.0.2.66", "10.0.0.9", 4444);
    for s in 121..=129 {
        d.tick(ts_ms(s * 1000), &mut out);
    }
    assert!(listeners(&out).is_empty());
    d.tick(ts_ms(130_001), &mut out);
    assert_eq!(listeners(&out).len(), 1);
    // Outside home_net: never.
    accept(&mut d, &mut out, 0, 3, "10.0.0.50", "198.51.100.1", 443);
    accept(
        &mut d,
        &mut out,
        200_000,
        4,
        "10.0.0.50",
        "198.51.100.1",
        8443,
    );
    d.tick(ts_ms(300_000), &mut out);
    assert_eq!(listeners(&out).len(), 1);
}

#[test]
fn ordinary_service_ports_are_quiet_unless_exploited() {
    let mut d = detectors();
    let mut out = Vec::new();
    accept(&mut d, &mut out, 0, 1, "10.0.0.50", "10.0.0.9", 443);
    accept(&mut d, &mut out, 0, 2, "10.0.0.50", "10.0.0.19", 443);
    // An admin's first SSH session to a server watched for half an hour.
    accept(&mut d, &mut out, 1_800_000, 3, "10.0.0.50", "10.0.0.9", 22);
    d.on_flow_end(
        &flow_rec(
            3,
            "10.0.0.50",
            40_003,
            "10.0.0.9",
            22,
            1_800_000,
            1_900_000,
            "ShADadFf",
            9_000,
            40_000,
            AppProto::Ssh,
        ),
        &mut out,
    );
    assert!(listeners(&out).is_empty());
    // After an exploit, the same kind of port counts.
    d.on_alert(
        &alert(
            1_950_000,
            1,
            "attempted-admin",
            "EXPLOIT x",
            "203.0.113.7",
            "10.0.0.19",
            443,
        ),
        &mut out,
    );
    accept(
        &mut d,
        &mut out,
        1_960_000,
        4,
        "203.0.113.7",
        "10.0.0.19",
        80,
    );
    assert_eq!(listeners(&out).len(), 1);
}

#[test]
fn a_scanner_using_an_opened_port_is_reported_after_data() {
    let mut d = detectors();
    let mut out = Vec::new();
    accept(&mut d, &mut out, 0, 1, "10.0.0.50", "10.0.0.9", 443);
    for i in 0..6u64 {
        let p = pkt(
            100_000 + i as i64,
            100 + i,
            "203.0.113.5",
            999,
            &format!("10.0.5.{i}"),
            22,
            SYN,
        );
        d.on_packet(&p, &mut out);
        d.on_packet(&reply(&p, 100_000 + i as i64 + 1, RSTACK), &mut out);
    }
    assert_eq!(scans_detected(&out).len(), 1);
    // The scanner connects to a backdoor port and talks to it: in use, not discovered.
    accept(
        &mut d,
        &mut out,
        150_000,
        300,
        "203.0.113.5",
        "10.0.0.9",
        31337,
    );
    for s in 151..=200 {
        d.tick(ts_ms(s * 1000), &mut out);
    }
    assert!(
        listeners(&out).is_empty(),
        "no timer confirmation for a scanner"
    );
    d.on_flow_end(
        &flow_rec(
            300,
            "203.0.113.5",
            40_300,
            "10.0.0.9",
            31337,
            150_000,
            210_000,
            "ShADadFf",
            900,
            5_000,
            AppProto::Unknown,
        ),
        &mut out,
    );
    assert_eq!(listeners(&out).len(), 1);
}

fn backdoor_c2(out: &[Notice]) -> Vec<(&Notice, &C2Info)> {
    out.iter()
        .filter_map(|n| match &n.kind {
            NoticeKind::C2Channel(c) if c.traits.iter().any(|t| t == "backdoor_session") => {
                Some((n, c))
            }
            _ => None,
        })
        .collect()
}

/// mipsiv's victim3: exploited, opens 31337, the attacker runs a shell there.
/// Only the exploiter's interactive session on that listener is a control
/// channel; a short exchange, another client, or a new service on a host nobody
/// exploited is not.
#[test]
fn exploiters_interactive_session_on_its_new_listener_is_a_backdoor_channel() {
    let mut d = detectors();
    let mut out = Vec::new();
    let (victim, attacker, other) = ("10.1.3.7", "203.0.113.7", "198.51.100.20");
    accept(&mut d, &mut out, 0, 1, "10.0.0.50", victim, 80);
    // A host nobody exploited starts serving 8000: used, but no channel.
    accept(&mut d, &mut out, 0, 9, "10.0.0.50", "10.1.3.8", 80);
    accept(&mut d, &mut out, 100_000, 10, attacker, "10.1.3.8", 8000);
    let s = 40_000 + 10;
    d.on_flow_end(
        &flow_rec(
            10,
            attacker,
            s,
            "10.1.3.8",
            8000,
            100_000,
            130_000,
            "ShADda",
            600,
            1_500,
            AppProto::Unknown,
        ),
        &mut out,
    );
    d.on_alert(
        &alert(
            100_000,
            2515,
            "attempted-admin",
            "PCT overflow",
            attacker,
            victim,
            443,
        ),
        &mut out,
    );
    accept(&mut d, &mut out, 102_000, 2, attacker, victim, 31337);
    // A one-second exchange: not interactive.
    let s = 40_000 + 2;
    d.on_flow_end(
        &flow_rec(
            2,
            attacker,
            s,
            victim,
            31337,
            102_000,
            102_500,
            "ShADda",
            200,
            400,
            AppProto::Unknown,
        ),
        &mut out,
    );
    // Another client's session on the same port: not the exploiter.
    accept(&mut d, &mut out, 110_000, 3, other, victim, 31337);
    let s = 40_000 + 3;
    d.on_flow_end(
        &flow_rec(
            3,
            other,
            s,
            victim,
            31337,
            110_000,
            140_000,
            "ShADda",
            600,
            1_500,
            AppProto::Unknown,
        ),
        &mut out,
    );
    assert!(backdoor_c2(&out).is_empty(), "{out:#?}");
    // The exploiter's shell: 24 s of commands and answers.
    accept(&mut d, &mut out, 150_000, 4, attacker, victim, 31337);
    let s = 40_000 + 4;
    d.on_flow_end(
        &flow_rec(
            4,
            attacker,
            s,
            victim,
            31337,
            150_000,
            174_000,
            "ShADdaFf",
            562,
            1_109,
            AppProto::Unknown,
        ),
        &mut out,
    );
    let c = backdoor_c2(&out);
    assert_eq!(c.len(), 1, "{out:#?}");
    let (n, info) = c[0];
    assert_eq!(n.host, ip(victim));
    assert_eq!(n.peer, Some(ip(attacker)));
    assert_eq!(n.stage, Some(Stage::E4C2));
    assert_eq!(info.server, ip(attacker));
    assert_eq!(info.port, 31337);
    assert_eq!(n.identifier, "backdoor:10.1.3.7:tcp/31337");
    // One per listener.
    accept(&mut d, &mut out, 200_000, 5, attacker, victim, 31337);
    let s = 40_000 + 5;
    d.on_flow_end(
        &flow_rec(
            5,
            attacker,
            s,
            victim,
            31337,
            200_000,
            230_000,
            "ShADdaFf",
            562,
            1_109,
            AppProto::Unknown,
        ),
        &mut out,
    );
    assert_eq!(backdoor_c2(&out).len(), 1);
}
