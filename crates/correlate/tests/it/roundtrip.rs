//! Round trip: the inputs of a run written as EVE lines by the EVE writer, replayed
//! with `replay_eve`, give the same verdicts; verdict and incident records parse
//! back to the same values.

use crate::build::*;
use std::sync::Arc;
use stormwatch_correlate::{CorrelateConfig, Correlator, replay_eve};
use stormwatch_model::*;
use stormwatch_output::eve::{EveOptions, to_eve};

const ATTACKER: &str = "203.0.113.7";

/// Inputs of a run: mipsiv-like victims, a worm chain, a contradicted PCT alert,
/// a bot, a scanner with flows, a download alone and a beacon.
fn inputs() -> Vec<OutputRecord> {
    let mut v = Vec::new();
    let with_category = |mut a: Alert, cat: &str| {
        Arc::make_mut(&mut a.sig).category = cat.into();
        a
    };
    v.push(OutputRecord::Flow(flow(
        900,
        at("09:11:50"),
        ATTACKER,
        "10.1.1.2",
        443,
    )));
    v.push(OutputRecord::Notice(scan(
        at("09:12:04"),
        ATTACKER,
        443,
        1024,
        Some("masscan"),
        true,
        &["10.1.1.20"],
        false,
    )));
    v.push(OutputRecord::Notice(scan_target(
        at("09:12:05"),
        ATTACKER,
        "10.1.1.21",
        443,
        12,
    )));
    v.push(OutputRecord::Flow(flow(
        901,
        at("09:12:10"),
        ATTACKER,
        "10.1.1.3",
        443,
    )));
    for (k, victim) in ["10.1.1.20", "10.1.1.21"].iter().enumerate() {
        let t0 = at("09:14:31").add_secs(60 * k as i64);
        v.push(OutputRecord::Anomaly(pct_anomaly(
            t0,
            10 + k as u64,
            ATTACKER,
            victim,
        )));
        v.push(OutputRecord::Alert(with_category(
            pct_alert(t0, 10 + k as u64, ATTACKER, victim),
            "Attempted Administrator Privilege Gain",
        )));
        v.push(OutputRecord::Notice(listener(
            t0.add_secs(2),
            victim,
            31337,
            ATTACKER,
        )));
        v.push(OutputRecord::Notice(c2(
            t0.add_secs(30),
            victim,
            "198.51.100.9",
            443,
            "xX1",
            "#mip",
            &[],
        )));
        v.push(OutputRecord::Notice(masquerade(
            t0.add_secs(30),
            victim,
            "198.51.100.9",
            443,
        )));
    }
    // Worm chain.
    let chain = ["10.2.0.1", "10.2.0.2", "10.2.0.3"];
    let mut ts = at("10:00:00");
    v.push(OutputRecord::Alert(with_category(
        pct_alert(ts, 50, ATTACKER, chain[0]),
        "Attempted Administrator Privilege Gain",
    )));
    for pair in chain.windows(2) {
        v.push(OutputRecord::Notice(listener(
            ts.add_secs(2),
            pair[0],
            4444,
            ATTACKER,
        )));
        ts = ts.add_secs(60);
        v.push(OutputRecord::Anomaly(pct_anomaly(
            ts,
            60 + ts.secs() as u64 % 100,
            pair[0],
            pair[1],
        )));
    }
    v.push(OutputRecord::Notice(listener(
        ts.add_secs(2),
        chain[2],
        4444,
        chain[1],
    )));
    v.push(OutputRecord::Notice(scan(
        ts.add_secs(30),
        chain[2],
        443,
        256,
        Some("worm-sequential"),
        true,
        &[],
        false,
    )));
    // A PCT alert on a flow the TLS parser read as TLS 1.2 (the tls record comes after it).
    v.push(OutputRecord::Alert(with_category(
        pct_alert(at("11:00:00"), 77, ATTACKER, "10.1.1.40"),
        "Attempted Administrator Privilege Gain",
    )));
    let hello = hello_ctx(at("11:00:01"), 77, ATTACKER, "10.1.1.40");
    v.push(OutputRecord::App(AppRecord {
        ts: hello.ts,
        event_type: "tls".into(),
        flow_id: hello.flow_id,
        key: hello.key,
        tx_id: None,
        body: serde_json::json!({"version": "TLS 1.2", "sni": "example.org"}),
        extra: Default::default(),
    }));
    // Bot, download alone, beacon, brute force, a check-in.
    v.push(OutputRecord::Notice(c2(
        at("11:10:00"),
        "172.16.1.10",
        "69.64.34.124",
        6667,
        "damn-0262937047",
        "#sl0w3r",
        &[".advscan dcom135 200 3 0 -r -s"],
    )));
    v.push(OutputRecord::Notice(download(
        at("11:20:00"),
        "192.168.1.31",
        "192.168.1.32",
        21,
        "NOTEPAD.EXE",
        &"cd".repeat(32),
        false,
    )));
    v.push(OutputRecord::Notice(beacon(
        at("11:30:00"),
        "147.32.80.37",
        "141.193.213.20",
        443,
    )));
    v.push(OutputRecord::Notice(brute(
        at("11:40:00"),
        "192.168.56.1",
        "192.168.56.101",
        21,
        30,
    )));
    let s = sig(
        2001340,
        "ET MALWARE LocalNRD Spyware Checkin",
        Some("trojan-activity"),
    );
    v.push(OutputRecord::Alert(with_category(
        alert(
            at("11:50:00"),
            s,
            88,
            "192.168.2.7",
            1041,
            "208.75.250.50",
            80,
        ),
        "A Network Trojan was detected",
    )));
    v
}

fn feed(c: &mut Correlator, rec: &OutputRecord, out: &mut Vec<Verdict>) {
    match rec {
        OutputRecord::Alert(a) => c.on_alert(a, out),
        OutputRecord::Notice(n) => c.on_notice(n, out),
        OutputRecord::Anomaly(a) => c.on_anomaly(a, out),
        OutputRecord::Flow(f) => c.on_flow(f, out),
        OutputRecord::App(r) => {
            // What the proto stage would have said before logging the record.
            let ctx = AppContext {
                ts: r.ts,
                flow_id: r.flow_id,
                key: r.key,
                dir: Direction::ToServer,
            };
            c.on_app_event(&ctx, &tls12_hello(), out);
        }
        _ => {}
    }
}

#[test]
fn eve_lines_replay_to_the_same_verdicts() {
    let end = at("13:00:00");
    let recs = inputs();
    // Direct run, as analyze would.
    let mut direct = Correlator::new(CorrelateConfig::default());
    let mut out = Vec::new();
    for r in &recs {
        feed(&mut direct, r, &mut out);
    }
    let a = direct.finish(end);
    // The same run as EVE lines, with the run's verdicts and incidents written too.
    let opts = EveOptions::default();
    let meta = RecordMeta::default();
    let mut eve = String::new();
    let mut written: Vec<OutputRecord> = recs.clone();
    written.extend(out.iter().cloned().map(OutputRecord::Verdict));
    written.extend(a.verdicts.iter().cloned().map(OutputRecord::Verdict));
    written.extend(a.incidents.iter().cloned().map(OutputRecord::Incident));
    for r in &written {
        if let Some(v) = to_eve(r, &meta, &opts) {
            eve.push_str(&serde_json::to_string(&v).unwrap());
            eve.push('\n');
        }
    }
    let mut replayed = Correlator::new(CorrelateConfig::default());
    let mut out2 = Vec::new();
    let stats = replay_eve(eve.as_bytes(), "run.eve.json", &mut replayed, &mut out2).unwrap();
    assert_eq!(stats.alerts, 5);
    assert_eq!(stats.app_events, 1);
    assert!(
        stats.skipped >= out.len() as u64,
        "verdict/incident records are skipped"
    );
    let b = replayed.finish(end);
    assert_eq!(a.current, b.current);
    assert_eq!(a.incidents, b.incidents);
    assert_eq!(a.edges, b.edges);
    assert_eq!(out, out2, "same revisions in the same order");
    // The verdict and incident records parse back (schema documented in docs/eve.md).
    for line in eve.lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        match v["event_type"].as_str() {
            Some("verdict") => {
                let back: Verdict = serde_json::from_value(v["verdict"].clone()).unwrap();
                assert_eq!(v["host"], back.host.to_string());
                assert!(Label::from_name(v["verdict"]["label"].as_str().unwrap()).is_some());
            }
            Some("incident") => {
                let back: Incident = serde_json::from_value(v["incident"].clone()).unwrap();
                assert!(a.incidents.contains(&back));
            }
            _ => {}
        }
    }
    // Sanity: the run decided what it should.
    let label = |h: &str| {
        a.current
            .iter()
            .find(|v| v.host == ip(h))
            .map_or(Label::Clean, |v| v.label)
    };
    assert_eq!(label("10.1.1.20"), Label::Trojan);
    assert_eq!(label("10.2.0.2"), Label::Worm);
    assert_eq!(label("10.1.1.40"), Label::Targeted);
    assert_eq!(label("172.16.1.10"), Label::Bot);
    assert_eq!(label("192.168.1.31"), Label::Clean);
    assert_eq!(label("147.32.80.37"), Label::Clean);
    assert_eq!(label("192.168.2.7"), Label::Trojan);
    assert_eq!(label("10.1.1.3"), Label::Probed);
}
