//! Matching throughput with all ET rules loaded over mixed synthetic traffic
//! (HTTP requests and responses, TLS records, SMB-like binary, IRC lines),
//! cut into 1460-byte segments and fed as packets plus stream chunks the way
//! the engine does. Also the same traffic with an empty rule set.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

mod common;
use common::{noise, shared};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use std::net::{IpAddr, Ipv4Addr};
use stormwatch_model::{Direction, FlowId, FlowKey, IpProto, StreamData, Timestamp};
use stormwatch_rules::{FlowInfo, FlowState, PacketInput, RuleSet, RulesConfig, StreamInput};
use stormwatch_wire::{LinkType, decode_frame};

struct Conv {
    dport: u16,
    /// (direction, bytes)
    turns: Vec<(Direction, Vec<u8>)>,
}

fn traffic() -> Vec<Conv> {
    let mut v = Vec::new();
    for i in 0..20u64 {
        let req = format!(
            "GET /images/photo{i}.jpg?id={i}&s=abc HTTP/1.1\r\nHost: www.example{i}.com\r\nUser-Agent: Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36\r\nAccept: */*\r\nAccept-Encoding: gzip, deflate\r\nConnection: keep-alive\r\n\r\n"
        );
        let mut resp = b"HTTP/1.1 200 OK\r\nContent-Type: image/jpeg\r\nContent-Length: 65536\r\nServer: nginx\r\n\r\n".to_vec();
        resp.extend(noise(i + 1, 65536));
        v.push(Conv {
            dport: 80,
            turns: vec![
                (Direction::ToServer, req.into_bytes()),
                (Direction::ToClient, resp),
            ],
        });
    }
    for i in 0..10u64 {
        let mut hello = vec![
            0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03,
        ];
        hello.extend(noise(100 + i, 505));
        let mut data = Vec::new();
        for k in 0..8 {
            data.extend_from_slice(&[0x17, 0x03, 0x03, 0x40, 0x00]);
            data.extend(noise(200 + i * 8 + k, 16384));
        }
        v.push(Conv {
            dport: 443,
            turns: vec![(Direction::ToServer, hello), (Direction::ToClient, data)],
        });
    }
    for i in 0..5u64 {
        let mut smb = vec![0, 0, 0x10, 0x00, 0xfe, b'S', b'M', b'B'];
        smb.extend(noise(300 + i, 32768));
        v.push(Conv {
            dport: 445,
            turns: vec![
                (Direction::ToServer, smb.clone()),
                (Direction::ToClient, smb),
            ],
        });
    }
    for i in 0..5u64 {
        let mut irc = Vec::new();
        for k in 0..400 {
            irc.extend_from_slice(
                format!(":nick{k}!user@host{i}.example.net PRIVMSG #chan{i} :hello there number {k}, how are you today?\r\n")
                    .as_bytes(),
            );
        }
        v.push(Conv {
            dport: 6667,
            turns: vec![(Direction::ToClient, irc)],
        });
    }
    v
}

fn frame(dir: Direction, sp: u16, dp: u16, payload: &[u8]) -> Vec<u8> {
    let (src, dst) = match dir {
        Direction::ToServer => ([10, 0, 0, 1], [93, 184, 216, 34]),
        Direction::ToClient => ([93, 184, 216, 34], [10, 0, 0, 1]),
    };
    let (sp, dp) = match dir {
        Direction::ToServer => (sp, dp),
        Direction::ToClient => (dp, sp),
    };
    let total = (40 + payload.len()) as u16;
    let mut p = vec![0x45, 0];
    p.extend_from_slice(&total.to_be_bytes());
    p.extend_from_slice(&[0, 1, 0x40, 0, 64, 6, 0, 0]);
    p.extend_from_slice(&src);
    p.extend_from_slice(&dst);
    p.extend_from_slice(&sp.to_be_bytes());
    p.extend_from_slice(&dp.to_be_bytes());
    p.extend_from_slice(&[0, 0, 0, 1, 0, 0, 0, 1, 0x50, 0x18, 0xff, 0xff, 0, 0, 0, 0]);
    p.extend_from_slice(payload);
    p
}

/// Pre-built packets: (conversation, direction, frame).
fn packets(convs: &[Conv]) -> Vec<(usize, Direction, Vec<u8>)> {
    let mut out = Vec::new();
    for (ci, c) in convs.iter().enumerate() {
        for (dir, bytes) in &c.turns {
            for seg in bytes.chunks(1460) {
                out.push((ci, *dir, frame(*dir, 40000 + ci as u16, c.dport, seg)));
            }
        }
    }
    out
}

fn run(rs: &RuleSet, convs: &[Conv], pkts: &[(usize, Direction, Vec<u8>)]) -> usize {
    let mut states: Vec<FlowState> = convs.iter().map(|_| FlowState::default()).collect();
    let mut out = Vec::new();
    for (ci, dir, f) in pkts {
        let d = decode_frame(LinkType::RAW, f);
        let key = FlowKey {
            src: IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)),
            dst: IpAddr::V4(Ipv4Addr::new(93, 184, 216, 34)),
            src_port: 40000 + *ci as u16,
            dst_port: convs[*ci].dport,
            proto: IpProto::TCP,
            vlan: [0, 0],
        };
        let mut info = FlowInfo::new(FlowId(*ci as u64), key, *dir, Timestamp::ZERO);
        info.established = true;
        info.stream_tracked = true;
        let fs = &mut states[*ci];
        rs.match_packet(
            &PacketInput {
                ts: Timestamp::ZERO,
                pkt: &d,
                frame: f,
                flow: Some(info),
            },
            Some(fs),
            &mut out,
        );
        rs.match_stream(
            &StreamInput {
                ts: Timestamp::ZERO,
                flow: info,
                data: StreamData::Bytes(d.payload),
                offset: 0,
                frame: f,
                backing: None,
            },
            fs,
            &mut out,
        );
    }
    out.len()
}

/// Nanoseconds this thread has run on a CPU (Linux), so figures taken on a
/// busy machine are not inflated by time spent waiting for a core.
fn on_cpu_ns() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    s.split_whitespace().next()?.parse().ok()
}

/// Prints throughput per core measured in on-CPU time.
fn per_core(name: &str, bytes: usize, mut f: impl FnMut()) {
    let Some(t0) = on_cpu_ns() else { return };
    let n = 10;
    for _ in 0..n {
        f();
    }
    let Some(t1) = on_cpu_ns() else { return };
    let secs = (t1 - t0) as f64 / 1e9 / n as f64;
    println!(
        "{name}: {:.0} MB/s per core (on-CPU time)",
        bytes as f64 / secs / 1e6
    );
}

fn matching(c: &mut Criterion) {
    let convs = traffic();
    let pkts = packets(&convs);
    let bytes: usize = convs
        .iter()
        .flat_map(|c| c.turns.iter())
        .map(|t| t.1.len())
        .sum();
    let mut g = c.benchmark_group("match");
    g.throughput(Throughput::Bytes(bytes as u64));
    g.sample_size(10);
    let empty = RuleSet::from_text("empty", "", &RulesConfig::default()).0;
    per_core("empty_rule_set", bytes, || {
        run(&empty, &convs, &pkts);
    });
    g.bench_function("empty_rule_set", |b| b.iter(|| run(&empty, &convs, &pkts)));
    if let Some(sh) = shared() {
        let dir = sh.join("rules/et-open-snort-2.9.0-2017");
        let mut cfg = RulesConfig::default();
        cfg.load_classification(&dir.join("classification.config"))
            .unwrap();
        let (rs, _) = RuleSet::load(&[dir.join("rules")], &cfg).unwrap();
        println!("alerts on the bench traffic: {}", run(&rs, &convs, &pkts));
        println!(
            "rules evaluated per pass: {} for {} packets, {bytes} bytes",
            rs.counters().rules_evaluated,
            pkts.len()
        );
        per_core("et_open_all_rules", bytes, || {
            run(&rs, &convs, &pkts);
        });
        g.bench_function("et_open_all_rules", |b| b.iter(|| run(&rs, &convs, &pkts)));
    } else {
        println!("skipped: shared data not found");
    }
    g.finish();
}

criterion_group!(benches, matching);
criterion_main!(benches);
