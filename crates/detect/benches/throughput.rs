//! Throughput of all detectors together on a mixed event stream: busy web
//! clients (SYN, SYN/ACK, FIN, flow end), DNS clients (UDP both ways, flow
//! end), a horizontal scanner (SYNs, a few RSTs) and an IRC session's messages.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::too_many_arguments,
    missing_docs
)]

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use std::net::{IpAddr, Ipv4Addr};
use stormwatch_detect::{DetectConfig, Detectors};
use stormwatch_model::*;

enum Ev {
    Pkt(PacketSummary),
    End(FlowRecord),
    App(AppContext, AppEvent),
}

fn v4(a: u32) -> IpAddr {
    IpAddr::V4(Ipv4Addr::from(a))
}

fn pkt(
    ns: i64,
    flow: u64,
    src: IpAddr,
    sport: u16,
    dst: IpAddr,
    dport: u16,
    proto: IpProto,
    flags: u8,
    dir: Direction,
    first: bool,
) -> PacketSummary {
    PacketSummary {
        ts: Timestamp(ns),
        flow_id: FlowId(flow),
        dir,
        first_in_flow: first,
        src,
        dst,
        src_port: sport,
        dst_port: dport,
        proto,
        tcp_flags: flags,
        window: 64240,
        ip_id: flow as u16,
        ttl: 64,
        tcp_options_sig: 0x1234,
        mss: Some(1460),
        icmp: None,
        payload_len: 0,
        wire_len: 74,
    }
}

fn record(
    flow: u64,
    src: IpAddr,
    sport: u16,
    dst: IpAddr,
    dport: u16,
    proto: IpProto,
    start: i64,
    end: i64,
) -> FlowRecord {
    FlowRecord {
        flow_id: FlowId(flow),
        key: FlowKey {
            src,
            dst,
            src_port: sport,
            dst_port: dport,
            proto,
            vlan: [0, 0],
        },
        start: Timestamp(start),
        end: Timestamp(end),
        pkts_toserver: 8,
        pkts_toclient: 10,
        bytes_toserver: 1_200,
        bytes_toclient: 14_000,
        app_proto: AppProto::Tls,
        app_proto_ts: None,
        app_proto_tc: None,
        state: FlowState::Closed,
        reason: EndReason::Timeout,
        alerted: false,
        tcp: (proto == IpProto::TCP).then(|| TcpSummary {
            flags: 0x1b,
            flags_ts: 0x1b,
            flags_tc: 0x1b,
            state: TcpState::Closed,
            history: "ShADadFf".into(),
            handshake_done: true,
            gap_bytes_ts: 0,
            gap_bytes_tc: 0,
        }),
        icmp: None,
        macs: None,
    }
}

/// Scrambles `f` (so client/server pairs do not recur like clockwork).
fn mix(f: u64) -> u64 {
    let mut x = f.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

fn events(n_flows: u64, with_scanner: bool) -> Vec<Ev> {
    use Direction::*;
    let mut v = Vec::new();
    let syn = tcp_flags::SYN;
    let synack = tcp_flags::SYN | tcp_flags::ACK;
    let fin = tcp_flags::FIN | tcp_flags::ACK;
    let scanner = v4(0xCB00_7107);
    for f in 0..n_flows {
        let ns = i64::try_from(f).unwrap() * 1_000_000; // 1,000 flows/s
        let client = v4(0x0A00_0000 | (f % 500) as u32);
        match f % 10 {
            0..=5 => {
                let server = v4(0xC633_0000 | (mix(f) % 50_000) as u32);
                let sp = 30_000 + (f % 30_000) as u16;
                v.push(Ev::Pkt(pkt(
                    ns,
                    f,
                    client,
                    sp,
                    server,
                    443,
                    IpProto::TCP,
                    syn,
                    ToServer,
                    true,
                )));
                v.push(Ev::Pkt(pkt(
                    ns + 20_000,
                    f,
                    server,
                    443,
                    client,
                    sp,
                    IpProto::TCP,
                    synack,
                    ToClient,
                    false,
                )));
                v.push(Ev::Pkt(pkt(
                    ns + 90_000,
                    f,
                    client,
                    sp,
                    server,
                    443,
                    IpProto::TCP,
                    fin,
                    ToServer,
                    false,
                )));
                v.push(Ev::Pkt(pkt(
                    ns + 95_000,
                    f,
                    server,
                    443,
                    client,
                    sp,
                    IpProto::TCP,
                    fin,
                    ToClient,
                    false,
                )));
                v.push(Ev::End(record(
                    f,
                    client,
                    sp,
                    server,
                    443,
                    IpProto::TCP,
                    ns,
                    ns + 95_000,
                )));
            }
            6..=8 => {
                let dns = v4(0x0A00_0035);
                let sp = 20_000 + (f % 40_000) as u16;
                v.push(Ev::Pkt(pkt(
                    ns,
                    f,
                    client,
                    sp,
                    dns,
                    53,
                    IpProto::UDP,
                    0,
                    ToServer,
                    true,
                )));
                v.push(Ev::Pkt(pkt(
                    ns + 5_000,
                    f,
                    dns,
                    53,
                    client,
                    sp,
                    IpProto::UDP,
                    0,
                    ToClient,
                    false,
                )));
                v.push(Ev::End(record(
                    f,
                    client,
                    sp,
                    dns,
                    53,
                    IpProto::UDP,
                    ns,
                    ns + 5_000,
                )));
            }
            _ => {
                if with_scanner {
                    let target = v4(0x0A01_0000 | (f / 10 % 65_536) as u32);
                    v.push(Ev::Pkt(pkt(
                        ns,
                        f,
                        scanner,
                        61_000,
                        target,
                        445,
                        IpProto::TCP,
                        syn,
                        ToServer,
                        true,
                    )));
                }
                let ctx = AppContext {
                    ts: Timestamp(ns),
                    flow_id: FlowId(u64::MAX),
                    key: FlowKey {
                        src: client,
                        dst: v4(0xC633_6464),
                        src_port: 1049,
                        dst_port: 6667,
                        proto: IpProto::TCP,
                        vlan: [0, 0],
                    },
                    dir: ToClient,
                };
                let ev = AppEvent::Irc(IrcEvent {
                    msg: IrcMessage {
                        prefix: Some("nick!u@h".into()),
                        command: "PRIVMSG".into(),
                        params: vec!["#chat".into(), "hello there".into()],
                    },
                    nick: Some("alice".into()),
                    channels: vec![("#chat".into(), None)],
                    ctcp: None,
                });
                v.push(Ev::App(ctx, ev));
            }
        }
    }
    v
}

fn run(evs: &[Ev]) -> usize {
    let mut d = Detectors::new(DetectConfig::default(), NetSet::rfc1918());
    let mut out = Vec::new();
    let mut notices = 0;
    let mut last = 0;
    for e in evs {
        match e {
            Ev::Pkt(p) => {
                if p.ts.secs() != last {
                    last = p.ts.secs();
                    d.tick(p.ts, &mut out);
                }
                d.on_packet(p, &mut out);
            }
            Ev::End(r) => d.on_flow_end(r, &mut out),
            Ev::App(c, a) => d.on_app_event(c, a, &mut out),
        }
        if out.len() > 1024 {
            notices += out.len();
            out.clear();
        }
    }
    d.finish(Timestamp(i64::MAX / 2), &mut out);
    notices + out.len()
}

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("detect");
    g.sample_size(10);
    // Web and DNS clients and an IRC chat: no notice at all.
    let benign = events(100_000, false);
    assert_eq!(run(&benign), 0, "benign traffic raises nothing");
    g.throughput(Throughput::Elements(benign.len() as u64));
    g.bench_function("benign_events", |b| b.iter(|| run(&benign)));
    // The same plus a scanner sweeping 10,000 home hosts (an E1 record each).
    let scan = events(100_000, true);
    g.throughput(Throughput::Elements(scan.len() as u64));
    g.bench_function("with_scanner_events", |b| b.iter(|| run(&scan)));
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
