//! Flow-stage benchmarks: ns per packet for 64-byte packets spread over one million
//! flows, and in-order TCP bulk data. Decoded packets are built directly (decoding
//! is the wire crate's cost), so the figures are the flow stage's own.
//!
//! Run: `cargo bench -p stormwatch-flow`. The setup also prints resident memory per
//! flow for one million flows (from `/proc/self/statm`).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::too_many_arguments,
    missing_docs
)]

use criterion::{Criterion, Throughput, black_box, criterion_group, criterion_main};
use std::net::Ipv4Addr;
use stormwatch_flow::{FlowConfig, FlowTable, FlowVisitor, PacketCtx};
use stormwatch_model::{Anomaly, FlowRecord, StreamChunk, Timestamp};
use stormwatch_wire::{Decoded, Ipv4Info, L3, L4, TcpInfo, TcpOptions};

/// Counts what comes out, so nothing is optimised away.
#[derive(Default)]
struct Sink {
    packets: u64,
    stream_bytes: u64,
    ended: u64,
}

impl FlowVisitor<u64> for Sink {
    fn on_packet(&mut self, ctx: &PacketCtx, _: &Decoded<'_>, user: &mut u64) {
        self.packets += 1;
        *user += u64::from(ctx.wire_len);
    }
    fn on_stream(&mut self, _: &PacketCtx, chunk: StreamChunk<'_>, _: &mut u64) {
        self.stream_bytes += chunk.data.len() as u64;
    }
    fn on_flow_end(&mut self, _: FlowRecord, user: u64) {
        self.ended += 1;
        black_box(user);
    }
    fn on_anomaly(&mut self, a: Anomaly) {
        black_box(a);
    }
}

fn tcp_packet<'a>(
    src: Ipv4Addr,
    dst: Ipv4Addr,
    sport: u16,
    dport: u16,
    seq: u32,
    ack: u32,
    flags: u8,
    payload: &'a [u8],
) -> Decoded<'a> {
    let total = 40 + payload.len() as u16;
    Decoded {
        l3: L3::Ipv4(Ipv4Info {
            src,
            dst,
            proto: 6,
            ttl: 64,
            id: 0,
            tos: 0,
            dont_frag: true,
            more_frags: false,
            reserved_flag: false,
            frag_offset: 0,
            header_len: 20,
            total_len: total,
            checksum: 0,
            options: &[],
        }),
        l4: L4::Tcp(TcpInfo {
            src_port: sport,
            dst_port: dport,
            seq,
            ack,
            flags,
            window: 65_535,
            urgent: 0,
            header_len: 20,
            checksum: 0,
            options: &[],
            opts: TcpOptions::default(),
        }),
        payload,
        ..Decoded::default()
    }
}

fn flow_addr(i: u32) -> (Ipv4Addr, Ipv4Addr, u16) {
    let src = Ipv4Addr::from(0x0a00_0000 | (i >> 8));
    let dst = Ipv4Addr::from(0xc0a8_0000 | (i & 0xff));
    (src, dst, 1024 + (i % 50_000) as u16)
}

fn resident_bytes() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = s.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * 4096)
}

const FLOWS: u32 = 1_000_000;

fn cfg() -> FlowConfig {
    FlowConfig {
        checksum: stormwatch_flow::ChecksumMode::Off,
        ..FlowConfig::default()
    }
}

fn small_packets_over_a_million_flows(c: &mut Criterion) {
    let payload = [0x41u8; 10]; // 14 + 20 + 20 + 10 = a 64-byte frame
    let mut table: FlowTable<u64> = FlowTable::new(cfg());
    let mut sink = Sink::default();
    let mut ns: i64 = 1_600_000_000_000_000_000;
    let before = resident_bytes();
    let mut round: u32 = 0;
    let pass = |table: &mut FlowTable<u64>, sink: &mut Sink, round: u32, ns: &mut i64| {
        for i in 0..FLOWS {
            let (src, dst, sport) = flow_addr(i);
            let seq = 1000u32.wrapping_add(round * 10);
            let pkt = tcp_packet(src, dst, sport, 80, seq, 1, 0x18, &payload);
            *ns += 100; // 10 M packets per second of packet time
            table.process(Timestamp(*ns), 64, &pkt, sink);
        }
    };
    pass(&mut table, &mut sink, round, &mut ns);
    round += 1;
    let after = resident_bytes();
    if let (Some(b), Some(a)) = (before, after) {
        eprintln!(
            "flow table: {} flows, {} bytes accounted per flow (entry + index), {} resident bytes per flow measured",
            table.active_flows(),
            FlowTable::<u64>::bytes_per_flow(),
            a.saturating_sub(b) / u64::from(FLOWS)
        );
    }
    let mut g = c.benchmark_group("flow");
    g.throughput(Throughput::Elements(u64::from(FLOWS)));
    g.sample_size(10);
    g.bench_function("64B_tcp_packets_over_1M_established_flows", |b| {
        b.iter(|| {
            pass(&mut table, &mut sink, round, &mut ns);
            round += 1;
        })
    });
    g.finish();
    black_box((sink.packets, sink.stream_bytes, sink.ended));
}

fn new_flows_churn(c: &mut Criterion) {
    // Every packet a new flow (a SYN scan), table at its cap: lookup miss, create,
    // evict the least recently seen.
    let mut table: FlowTable<u64> = FlowTable::new(FlowConfig {
        max_flows: 100_000,
        ..cfg()
    });
    let mut sink = Sink::default();
    let mut ns: i64 = 1_600_000_000_000_000_000;
    let mut next: u32 = 0;
    let mut g = c.benchmark_group("flow");
    g.throughput(Throughput::Elements(100_000));
    g.sample_size(10);
    g.bench_function("syn_scan_new_flow_each_packet_at_cap", |b| {
        b.iter(|| {
            for _ in 0..100_000 {
                let (src, dst, sport) = flow_addr(next);
                next = next.wrapping_add(1);
                let pkt = tcp_packet(src, dst, sport, 443, 7, 0, 0x02, &[]);
                ns += 100;
                table.process(Timestamp(ns), 60, &pkt, &mut sink);
            }
        })
    });
    g.finish();
    black_box(sink.ended);
}

fn bulk_in_order(c: &mut Criterion) {
    const SEG: usize = 1460;
    const SEGS: usize = 4096; // ~6 MB per pass
    let data: Vec<u8> = (0..SEG * SEGS).map(|i| (i % 251) as u8).collect();
    let cli = Ipv4Addr::new(10, 0, 0, 1);
    let srv = Ipv4Addr::new(10, 0, 0, 2);
    let mut g = c.benchmark_group("flow");
    g.throughput(Throughput::Bytes((SEG * SEGS) as u64));
    g.sample_size(20);
    g.bench_function("tcp_bulk_in_order_1460B_segments_ack_every_2", |b| {
        let mut table: FlowTable<u64> = FlowTable::new(FlowConfig {
            reassembly_depth_bytes: 0,
            ..cfg()
        });
        let mut sink = Sink::default();
        let mut ns: i64 = 1_600_000_000_000_000_000;
        let (cisn, sisn) = (1000u32, 5000u32);
        let mut step = |pkt: &Decoded<'_>, table: &mut FlowTable<u64>, sink: &mut Sink| {
            ns += 1000;
            table.process(Timestamp(ns), 1514, pkt, sink);
        };
        step(
            &tcp_packet(cli, srv, 40000, 80, cisn, 0, 0x02, &[]),
            &mut table,
            &mut sink,
        );
        step(
            &tcp_packet(srv, cli, 80, 40000, sisn, cisn + 1, 0x12, &[]),
            &mut table,
            &mut sink,
        );
        step(
            &tcp_packet(cli, srv, 40000, 80, cisn + 1, sisn + 1, 0x10, &[]),
            &mut table,
            &mut sink,
        );
        let mut base = cisn + 1;
        b.iter(|| {
            for k in 0..SEGS {
                let off = k * SEG;
                let seq = base.wrapping_add(off as u32);
                let d = tcp_packet(
                    cli,
                    srv,
                    40000,
                    80,
                    seq,
                    sisn + 1,
                    0x18,
                    &data[off..off + SEG],
                );
                step(&d, &mut table, &mut sink);
                if k % 2 == 1 {
                    let acked = base.wrapping_add((off + SEG) as u32);
                    let a = tcp_packet(srv, cli, 80, 40000, sisn + 1, acked, 0x10, &[]);
                    step(&a, &mut table, &mut sink);
                }
            }
            base = base.wrapping_add((SEG * SEGS) as u32);
        });
        assert!(sink.stream_bytes > 0);
    });
    g.finish();
}

criterion_group!(
    benches,
    small_packets_over_a_million_flows,
    new_flows_churn,
    bulk_in_order
);
criterion_main!(benches);
