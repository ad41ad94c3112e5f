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

/// Process CPU time (user + system) in nanoseconds, from `/proc/self/stat` (10 ms
/// ticks). On a shared machine wall-clock figures include time spent waiting for a
/// core; this does not.
fn cpu_ns() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/self/stat").ok()?;
    let rest = s.rsplit(')').next()?;
    let f: Vec<&str> = rest.split_whitespace().collect();
    let utime: u64 = f.get(11)?.parse().ok()?;
    let stime: u64 = f.get(12)?.parse().ok()?;
    Some((utime + stime) * 10_000_000)
}

/// Runs `f` (which handles `n` packets) until at least two seconds of CPU time were
/// spent and prints the on-CPU cost per packet.
fn on_cpu(name: &str, n: u64, mut f: impl FnMut()) {
    // FLOW_BENCH_ONLY=<substring> runs only the matching on-CPU measurement (profiling).
    if std::env::var("FLOW_BENCH_ONLY").is_ok_and(|s| !name.contains(s.as_str())) {
        return;
    }
    let (Some(start), t0) = (cpu_ns(), std::time::Instant::now()) else {
        return;
    };
    let mut runs = 0u64;
    loop {
        f();
        runs += 1;
        let used = cpu_ns().unwrap_or(start) - start;
        if used >= 2_000_000_000 {
            let wall = t0.elapsed().as_nanos() as f64;
            eprintln!(
                "{name}: {:.0} ns/packet on CPU ({:.0} ns/packet wall clock, {} packets)",
                used as f64 / (runs * n) as f64,
                wall / (runs * n) as f64,
                runs * n
            );
            return;
        }
    }
}

fn resident_bytes() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = s.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * 4096)
}

fn cfg() -> FlowConfig {
    FlowConfig {
        checksum: stormwatch_flow::ChecksumMode::Off,
        ..FlowConfig::default()
    }
}

/// 64-byte frames (10-byte TCP payload, in order) cycling over `flows` established
/// (midstream) flows, one packet per flow per pass.
fn small_packets(c: &mut Criterion, flows: u32, name: &str) {
    let payload = [0x41u8; 10]; // 14 + 20 + 20 + 10 = a 64-byte frame
    let mut table: FlowTable<u64> = FlowTable::new(cfg());
    let mut sink = Sink::default();
    let mut ns: i64 = 1_600_000_000_000_000_000;
    let before = resident_bytes();
    let mut round: u32 = 0;
    let mut pass = || {
        for i in 0..flows {
            let (src, dst, sport) = flow_addr(i);
            let seq = 1000u32.wrapping_add(round * 10);
            let pkt = tcp_packet(src, dst, sport, 80, seq, 1, 0x18, &payload);
            ns += 100; // 10 M packets per second of packet time
            table.process(Timestamp(ns), 64, &pkt, &mut sink);
        }
        round += 1;
    };
    pass();
    let after = resident_bytes();
    if let (Some(b), Some(a)) = (before, after) {
        eprintln!(
            "{name}: {flows} flows, {} bytes accounted per flow (entry + index), {} resident bytes per flow measured",
            FlowTable::<u64>::bytes_per_flow(),
            a.saturating_sub(b) / u64::from(flows)
        );
    }
    on_cpu(name, u64::from(flows), &mut pass);
    let mut g = c.benchmark_group("flow");
    g.throughput(Throughput::Elements(u64::from(flows)));
    g.sample_size(10);
    g.bench_function(name, |b| b.iter(&mut pass));
    g.finish();
    black_box((sink.packets, sink.stream_bytes, sink.ended));
}

fn small_packets_over_a_million_flows(c: &mut Criterion) {
    small_packets(c, 1_000_000, "64B_tcp_packets_over_1M_established_flows");
}

fn small_packets_over_10k_flows(c: &mut Criterion) {
    small_packets(c, 10_000, "64B_tcp_packets_over_10k_established_flows");
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
    let mut batch = || {
        for _ in 0..100_000 {
            let (src, dst, sport) = flow_addr(next);
            next = next.wrapping_add(1);
            let pkt = tcp_packet(src, dst, sport, 443, 7, 0, 0x02, &[]);
            ns += 100;
            table.process(Timestamp(ns), 60, &pkt, &mut sink);
        }
    };
    on_cpu(
        "SYN scan, new flow per packet, 100k-flow table at its cap",
        100_000,
        &mut batch,
    );
    let mut g = c.benchmark_group("flow");
    g.throughput(Throughput::Elements(100_000));
    g.sample_size(10);
    g.bench_function("syn_scan_new_flow_each_packet_at_cap", |b| {
        b.iter(&mut batch)
    });
    g.finish();
}

fn bulk_in_order(c: &mut Criterion) {
    bulk(c, true, "tcp_bulk_in_order_1460B_segments_ack_every_2");
}

/// The same with the TCP fast path off: what the general state machine and
/// reassembly cost for the same segments.
fn bulk_in_order_general_path(c: &mut Criterion) {
    bulk(
        c,
        false,
        "tcp_bulk_in_order_1460B_segments_ack_every_2_general_path",
    );
}

fn bulk(c: &mut Criterion, fast: bool, name: &str) {
    const SEG: usize = 1460;
    const SEGS: usize = 4096; // ~6 MB per pass
    let data: Vec<u8> = (0..SEG * SEGS).map(|i| (i % 251) as u8).collect();
    let cli = Ipv4Addr::new(10, 0, 0, 1);
    let srv = Ipv4Addr::new(10, 0, 0, 2);
    let mut table: FlowTable<u64> = FlowTable::new(FlowConfig {
        reassembly_depth_bytes: 0,
        ..cfg()
    });
    table.set_tcp_fast_path(fast);
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
    // One pass: SEGS data segments in order, the receiver acknowledging every second.
    let mut pass = || {
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
    };
    let packets = (SEGS + SEGS / 2) as u64;
    on_cpu(name, packets, &mut pass);
    let mut g = c.benchmark_group("flow");
    g.throughput(Throughput::Bytes((SEG * SEGS) as u64));
    g.sample_size(20);
    g.bench_function(name, |b| b.iter(&mut pass));
    g.finish();
    assert!(sink.stream_bytes > 0);
}

criterion_group!(
    benches,
    small_packets_over_a_million_flows,
    small_packets_over_10k_flows,
    new_flows_churn,
    bulk_in_order,
    bulk_in_order_general_path
);
criterion_main!(benches);
