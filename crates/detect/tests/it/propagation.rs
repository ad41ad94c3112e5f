//! Propagation (E5): a former target attacks others, with the vector and the
//! time it was itself attacked on it.

use crate::util::*;
use stormwatch_detect::Detectors;
use stormwatch_model::*;

fn propagations(out: &[Notice]) -> Vec<(&Notice, &PropagationInfo)> {
    out.iter()
        .filter_map(|n| match &n.kind {
            NoticeKind::Propagation(p) => Some((n, p)),
            _ => None,
        })
        .collect()
}

/// `src` sweeps 10.1.2.1.. on 443 with `n` SYNs (no answers) from `t0`.
fn sweep(d: &mut Detectors, out: &mut Vec<Notice>, src: &str, t0: i64, n: u64) {
    for i in 1..=n {
        let p = pkt(
            t0 + i as i64 * 50,
            10_000 + i,
            src,
            3000 + i as u16,
            &format!("10.1.2.{i}"),
            443,
            SYN,
        );
        d.on_packet(&p, out);
        d.tick(p.ts, out);
    }
    // Unanswered probes fail after the probe timeout.
    d.tick(ts_ms(t0 + n as i64 * 50 + 6_000), out);
}

#[test]
fn worm_victim_scans_and_exploits_on_the_vector_it_was_infected_by() {
    let mut d = detectors();
    let mut out = Vec::new();
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
    sweep(&mut d, &mut out, "10.1.1.20", 200_000, 40);
    let p = propagations(&out);
    assert_eq!(p.len(), 1, "{out:#?}");
    let (n, info) = p[0];
    assert_eq!(n.host, ip("10.1.1.20"));
    assert_eq!(n.stage, Some(Stage::E5OutboundAttack));
    assert_eq!(info.port, 443);
    assert_eq!(info.proto, IpProto::TCP);
    assert_eq!(info.sid, None);
    assert_eq!(info.infected_at, Some(ts_ms(100_000)));
    assert!(!info.targets.is_empty());
    // Then it sends the same exploit on.
    d.on_alert(
        &alert(
            260_000,
            2515,
            "attempted-admin",
            "PCT overflow",
            "10.1.1.20",
            "10.1.2.5",
            443,
        ),
        &mut out,
    );
    let p = propagations(&out);
    assert_eq!(p.len(), 2);
    let (n, info) = p[1];
    assert_eq!(n.identifier, "propagation:10.1.1.20:tcp/443:sid2515");
    assert_eq!(info.sid, Some(2515));
    assert_eq!(info.targets, [ip("10.1.2.5")]);
    assert_eq!(info.infected_at, Some(ts_ms(100_000)));
    // The new victim exploits further: generation 3, same vector.
    d.on_alert(
        &alert(
            300_000,
            2515,
            "attempted-admin",
            "PCT overflow",
            "10.1.2.5",
            "10.1.3.9",
            443,
        ),
        &mut out,
    );
    let p = propagations(&out);
    assert_eq!(p.len(), 3);
    assert_eq!(p[2].1.host, ip("10.1.2.5"));
    assert_eq!(p[2].1.infected_at, Some(ts_ms(260_000)));
}

#[test]
fn scanned_host_that_scans_on_another_port_has_no_infection_time() {
    let mut d = detectors();
    let mut out = Vec::new();
    // 10.1.1.30 is probed by a decided scanner on 443 (E1) …
    for i in 0..8u64 {
        let dst = if i == 7 {
            "10.1.1.30".to_string()
        } else {
            format!("10.1.9.{i}")
        };
        let p = pkt(i as i64 * 10, 1 + i, "203.0.113.7", 4444, &dst, 443, SYN);
        d.on_packet(&p, &mut out);
        d.on_packet(&reply(&p, i as i64 * 10 + 1, RSTACK), &mut out);
    }
    assert!(
        target_records(&out)
            .iter()
            .any(|n| n.host == ip("10.1.1.30"))
    );
    // … and later sweeps 445.
    for i in 1..=10u64 {
        let p = pkt(
            50_000 + i as i64 * 50,
            100 + i,
            "10.1.1.30",
            3000,
            &format!("10.1.4.{i}"),
            445,
            SYN,
        );
        d.on_packet(&p, &mut out);
        d.on_packet(&reply(&p, 50_000 + i as i64 * 50 + 1, RSTACK), &mut out);
    }
    let p = propagations(&out);
    assert_eq!(p.len(), 1);
    assert_eq!(p[0].1.port, 445);
    assert_eq!(p[0].1.infected_at, None, "not attacked on 445");
}

#[test]
fn never_attacked_scanners_and_replies_to_the_attacker_are_not_propagation() {
    let mut d = detectors();
    let mut out = Vec::new();
    sweep(&mut d, &mut out, "10.1.1.40", 0, 30);
    assert_eq!(scans_detected(&out).len(), 1);
    // A victim whose only "attack" goes back to its own attacker (a rule
    // matching the response direction).
    d.on_alert(
        &alert(
            100_000,
            1,
            "attempted-user",
            "EXPLOIT x",
            "203.0.113.9",
            "10.1.1.50",
            80,
        ),
        &mut out,
    );
    d.on_alert(
        &alert(
            100_100,
            2,
            "attempted-user",
            "EXPLOIT y",
            "10.1.1.50",
            "203.0.113.9",
            80,
        ),
        &mut out,
    );
    assert!(propagations(&out).is_empty(), "{out:#?}");
}
