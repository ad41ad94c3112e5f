//! The simulator's scenarios (issue 4, acceptance 2 and 3): IRC on 443 is
//! named IRC with one masquerade anomaly; the PCT overflow of every exploit
//! attempt is named, also in 1-byte segments; benign TLS on 443, human IRC on
//! 6667 and well-formed hellos raise nothing.

use crate::ident::run_convs;
use crate::pcapkit::{Conv, Piece};
use std::collections::BTreeMap;
use std::net::IpAddr;
use stormwatch_model::{AppEvent, AppProto, Direction, FlowKey, IpProto, Timestamp, TlsEvent};
use stormwatch_proto::ProtoConfig;
use stormwatch_sim::{Generated, StreamRecord};

fn generate(name: &str) -> Generated {
    let src = stormwatch_sim::builtin_source(name).unwrap();
    let sc = stormwatch_sim::parse_scenario(name, src).unwrap();
    stormwatch_sim::generate(&sc).unwrap()
}

/// A conversation delivering what each side wrote, cut where the scenario's
/// segments were cut (1-byte segments stay 1-byte), in capture order.
fn conv_of(s: &StreamRecord) -> Conv {
    let key = FlowKey {
        src: IpAddr::V4(*s.client.ip()),
        dst: IpAddr::V4(*s.server.ip()),
        src_port: s.client.port(),
        dst_port: s.server.port(),
        proto: IpProto::TCP,
        vlan: [0, 0],
    };
    let mut pos = [0usize; 2];
    let mut items = Vec::new();
    for (n, seg) in s.segments.iter().enumerate() {
        let d = seg.dir.index();
        let all = if seg.dir == Direction::ToServer {
            &s.to_server
        } else {
            &s.to_client
        };
        // Only the part of the segment beyond what was already delivered.
        let end = (seg.offset as usize + seg.data.len()).min(all.len());
        if end <= pos[d] {
            continue;
        }
        items.push((
            n as u64 + 1,
            Timestamp(seg.ts),
            seg.dir,
            Piece::Bytes(all[pos[d]..end].to_vec()),
        ));
        pos[d] = end;
    }
    Conv {
        key,
        last: items.len() as u64,
        last_ts: items.last().map_or(Timestamp(s.syn_ts), |i| i.1),
        items,
    }
}

struct Outcome {
    proto: BTreeMap<(String, u16, u16), AppProto>,
    masquerades: Vec<(String, u16, String)>,
    pct_overflow_flows: usize,
    bad_hello_anomalies: Vec<String>,
}

fn run(name: &str) -> (Generated, Outcome) {
    let g = generate(name);
    let convs: Vec<Conv> = g.streams.iter().map(conv_of).collect();
    let (sink, flows) = run_convs(&convs, ProtoConfig::default());
    let proto = flows
        .iter()
        .map(|f| {
            (
                (f.key.dst.to_string(), f.key.dst_port, f.key.src_port),
                f.proto,
            )
        })
        .collect();
    let masquerades = sink
        .anomalies
        .iter()
        .filter(|(_, a)| a.event == "applayer.masquerade")
        .map(|(_, a)| {
            let e = a.endpoints.unwrap();
            (
                e.dst.to_string(),
                e.dst_port,
                a.detail.clone().unwrap_or_default(),
            )
        })
        .collect();
    let mut overflow_flows = std::collections::BTreeSet::new();
    for (_, c, e) in &sink.events {
        if matches!(
            e,
            AppEvent::Tls(TlsEvent::PctClientHello { overflow: true, .. })
        ) {
            overflow_flows.insert(c.flow_id);
        }
    }
    let bad_hello_anomalies = sink
        .anomalies
        .iter()
        .filter(|(_, a)| a.event.starts_with("pct.") || a.event.starts_with("sslv2."))
        .map(|(_, a)| a.event.to_string())
        .collect();
    (
        g,
        Outcome {
            proto,
            masquerades,
            pct_overflow_flows: overflow_flows.len(),
            bad_hello_anomalies,
        },
    )
}

fn check_attack(name: &str) {
    let (g, o) = run(name);
    let exploits: Vec<_> = g
        .labels
        .exploits
        .iter()
        .filter(|e| e.vector == "pct-overflow")
        .collect();
    assert!(!exploits.is_empty(), "{name}: no exploit in the labels");
    assert_eq!(
        o.pct_overflow_flows,
        exploits.len(),
        "{name}: one overflow per exploit attempt"
    );
    for e in &exploits {
        let p = o.proto.get(&(e.to.clone(), e.port, e.flow.src_port));
        assert_eq!(p, Some(&AppProto::Pct), "{name}: exploit flow {e:?}");
    }
    for want in [
        "pct.client_hello_oversized_challenge",
        "pct.client_hello_oversized_key_length",
    ] {
        assert!(
            o.bad_hello_anomalies.iter().any(|a| a == want),
            "{name}: {:?}",
            o.bad_hello_anomalies
        );
    }
    let c2: Vec<_> = g.labels.c2.iter().filter(|c| c.port == 443).collect();
    assert!(!c2.is_empty(), "{name}: no IRC on 443 in the labels");
    for c in &c2 {
        assert_eq!(
            o.proto.get(&(c.server.clone(), c.port, c.flow.src_port)),
            Some(&AppProto::Irc),
            "{name}: C&C flow {c:?}"
        );
        assert_eq!(
            o.masquerades
                .iter()
                .filter(|(ip, port, _)| *ip == c.server && *port == 443)
                .count(),
            g.labels
                .c2
                .iter()
                .filter(|x| x.server == c.server && x.port == 443)
                .count(),
            "{name}: one masquerade per IRC-on-443 session: {:?}",
            o.masquerades
        );
    }
    assert!(
        o.masquerades
            .iter()
            .all(|(_, port, d)| *port == 443 && d == "irc on tcp/443, registered to https"),
        "{name}: {:?}",
        o.masquerades
    );
}

#[test]
fn mipsiv_irc_on_443_and_pct_overflow() {
    check_attack("mipsiv");
}

#[test]
fn pct_evasion_one_byte_segments() {
    let (g, _) = run("pct-evasion");
    assert!(
        g.labels
            .exploits
            .iter()
            .any(|e| e.transport.contains("segment_size=1")),
        "the scenario sends an exploit in 1-byte segments"
    );
    check_attack("pct-evasion");
}

#[test]
fn benign_busy_raises_nothing() {
    let (_, o) = run("benign-busy");
    assert!(o.masquerades.is_empty(), "{:?}", o.masquerades);
    assert_eq!(o.pct_overflow_flows, 0);
    assert!(
        o.bad_hello_anomalies.is_empty(),
        "{:?}",
        o.bad_hello_anomalies
    );
    assert!(o.proto.values().any(|p| *p == AppProto::Tls));
    assert!(o.proto.values().any(|p| *p == AppProto::Irc));
}
