//! Password guessing: FTP 530s and short SSH sessions.

use crate::util::*;
use stormwatch_model::*;

fn ftp(
    d: &mut stormwatch_detect::Detectors,
    out: &mut Vec<Notice>,
    ms: i64,
    flow: u64,
    cmd: &str,
    reply: u16,
) {
    let ctx = app_ctx(
        ms,
        flow,
        "192.168.56.1",
        40_000 + flow as u16,
        "192.168.56.101",
        21,
        Direction::ToServer,
    );
    let ev = AppEvent::Ftp(FtpEvent::Command {
        command: cmd.into(),
        arg: "x".into(),
        reply: vec![reply],
    });
    d.on_app_event(&ctx, &ev, out);
}

fn brute(out: &[Notice]) -> Vec<&Notice> {
    out.iter()
        .filter(|n| kind_name(n) == "brute_force")
        .collect()
}

#[test]
fn thirty_rejected_ftp_logins_are_one_brute_force() {
    let mut d = detectors();
    let mut out = Vec::new();
    for i in 0..30u64 {
        let ms = i as i64 * 2_000;
        ftp(&mut d, &mut out, ms, i, "USER", 331);
        ftp(&mut d, &mut out, ms + 10, i, "PASS", 530);
    }
    let b = brute(&out);
    assert_eq!(b.len(), 1);
    let n = b[0];
    assert_eq!(n.host, ip("192.168.56.101"), "the target");
    assert_eq!(n.peer, Some(ip("192.168.56.1")));
    assert_eq!(n.stage, Some(Stage::E2InboundExploit));
    assert_eq!(
        n.identifier,
        "bruteforce:192.168.56.1->192.168.56.101:21/ftp"
    );
    match &n.kind {
        NoticeKind::BruteForce {
            proto,
            target,
            port,
            attempts,
        } => {
            assert_eq!(*proto, AppProto::Ftp);
            assert_eq!(*target, ip("192.168.56.101"));
            assert_eq!(*port, 21);
            assert_eq!(*attempts, 10);
        }
        _ => unreachable!(),
    }
}

#[test]
fn a_few_typos_are_not_brute_force() {
    let mut d = detectors();
    let mut out = Vec::new();
    for i in 0..3u64 {
        ftp(&mut d, &mut out, i as i64 * 5_000, 1, "PASS", 530);
    }
    ftp(&mut d, &mut out, 20_000, 1, "PASS", 230);
    // Failures spread over hours stay below the threshold in every window.
    for i in 0..30u64 {
        ftp(
            &mut d,
            &mut out,
            100_000 + i as i64 * 3_600_000,
            2,
            "PASS",
            530,
        );
    }
    assert!(brute(&out).is_empty());
}

#[test]
fn short_ssh_sessions_are_brute_force_banner_checks_are_not() {
    let mut d = detectors();
    let mut out = Vec::new();
    // Monitoring: banner grabs every minute (the client never gets past the banner).
    for i in 0..30u64 {
        let s = i as i64 * 60_000;
        d.on_flow_end(
            &flow_rec(
                i,
                "147.32.80.9",
                50_000,
                "147.32.80.37",
                22,
                s,
                s + 200,
                "ShADadfF",
                420,
                1_400,
                AppProto::Ssh,
            ),
            &mut out,
        );
    }
    assert!(brute(&out).is_empty());
    // ssh-brute: parallel sessions of ~2.5 KB each way, a few seconds long.
    for i in 0..66u64 {
        let s = 3_600_000 + i as i64 * 150;
        d.on_flow_end(
            &flow_rec(
                100 + i,
                "147.32.80.40",
                59_000 + i as u16,
                "147.32.80.37",
                902,
                s,
                s + 3_700,
                "ShADadfF",
                2_600,
                2_550,
                AppProto::Ssh,
            ),
            &mut out,
        );
    }
    let b = brute(&out);
    assert_eq!(b.len(), 1);
    assert_eq!(b[0].host, ip("147.32.80.37"));
    match &b[0].kind {
        NoticeKind::BruteForce { proto, port, .. } => {
            assert_eq!(*proto, AppProto::Ssh);
            assert_eq!(*port, 902);
        }
        _ => unreachable!(),
    }
}

#[test]
fn ssh_on_port_80_is_a_masquerade_once_per_service() {
    let mut d = detectors();
    let mut out = Vec::new();
    // Three connections of one client, then one of another client.
    for flow in 1..=4 {
        let ctx = app_ctx(
            flow as i64 * 1000,
            flow,
            if flow == 4 {
                "172.16.238.2"
            } else {
                "172.16.238.1"
            },
            50_000,
            "172.16.238.131",
            80,
            Direction::ToServer,
        );
        d.on_app_event(
            &ctx,
            &AppEvent::ProtoDetected {
                proto: AppProto::Ssh,
                masquerade: true,
            },
            &mut out,
        );
    }
    let m: Vec<_> = out
        .iter()
        .filter(|n| kind_name(n) == "masquerade")
        .collect();
    assert_eq!(m.len(), 1);
    assert_eq!(m[0].identifier, "masquerade:172.16.238.131:80/ssh");
    assert_eq!(
        m[0].host,
        "172.16.238.1".parse::<std::net::IpAddr>().unwrap()
    );
    match &m[0].kind {
        NoticeKind::Masquerade { registered, .. } => assert_eq!(registered, "http"),
        _ => unreachable!(),
    }
    // A protocol on its own port is not.
    let ctx = app_ctx(
        9_000,
        9,
        "172.16.238.1",
        50_001,
        "172.16.238.131",
        22,
        Direction::ToServer,
    );
    d.on_app_event(
        &ctx,
        &AppEvent::ProtoDetected {
            proto: AppProto::Ssh,
            masquerade: false,
        },
        &mut out,
    );
    assert_eq!(out.len(), 1);
}
