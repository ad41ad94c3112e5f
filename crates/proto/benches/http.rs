//! HTTP/1.x parsing throughput (part B): a browsing-like connection (requests
//! with realistic headers, responses with Content-Length and chunked bodies,
//! one PE download) cut in 1460-byte segments, and a header-heavy variant
//! (small bodies) where line parsing dominates. Also DNS message parsing.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use std::hint::black_box;
use std::net::{IpAddr, Ipv4Addr};
use stormwatch_model::{AppContext, Direction, FlowId, FlowKey, IpProto, StreamData, Timestamp};
use stormwatch_proto::ProtoConfig;
use stormwatch_proto::api::{DatagramParser, NullSink, StreamParser};
use stormwatch_proto::dns::DnsUdpParser;
use stormwatch_proto::http::HttpParser;

fn ctx(dir: Direction, dport: u16, proto: IpProto) -> AppContext {
    AppContext {
        ts: Timestamp::ZERO,
        flow_id: FlowId(1),
        key: FlowKey {
            src: IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)),
            dst: IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2)),
            src_port: 40000,
            dst_port: dport,
            proto,
            vlan: [0, 0],
        },
        dir,
    }
}

/// One connection: (direction, segment) pieces and the byte total.
fn connection(exchanges: usize, body_scale: usize) -> (Vec<(Direction, Vec<u8>)>, u64) {
    let mut pieces = Vec::new();
    let mut total = 0u64;
    for i in 0..exchanges {
        let req = format!(
            "GET /static/js/app.{i}.min.js?v=2024{i} HTTP/1.1\r\nHost: www.example.com\r\nUser-Agent: Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36\r\nAccept: */*\r\nAccept-Language: en-US,en;q=0.9\r\nAccept-Encoding: gzip, deflate\r\nReferer: http://www.example.com/index.html\r\nCookie: session=0123456789abcdef; theme=dark\r\nConnection: keep-alive\r\n\r\n"
        );
        let body_len = body_scale * (1 + i % 7);
        let mut body = vec![b'a' + (i % 26) as u8; body_len];
        if i == exchanges / 2 {
            body[..2].copy_from_slice(b"MZ");
        }
        let res = if i % 3 == 0 {
            // Chunked in 4 KiB chunks.
            let mut r = b"HTTP/1.1 200 OK\r\nServer: nginx\r\nContent-Type: application/javascript\r\nTransfer-Encoding: chunked\r\nCache-Control: max-age=3600\r\n\r\n".to_vec();
            for c in body.chunks(4096) {
                r.extend_from_slice(format!("{:x}\r\n", c.len()).as_bytes());
                r.extend_from_slice(c);
                r.extend_from_slice(b"\r\n");
            }
            r.extend_from_slice(b"0\r\n\r\n");
            r
        } else {
            let mut r = format!("HTTP/1.1 200 OK\r\nServer: nginx\r\nContent-Type: application/javascript\r\nContent-Length: {body_len}\r\nCache-Control: max-age=3600\r\nETag: \"abc{i}\"\r\n\r\n").into_bytes();
            r.extend_from_slice(&body);
            r
        };
        for (dir, msg) in [
            (Direction::ToServer, req.into_bytes()),
            (Direction::ToClient, res),
        ] {
            total += msg.len() as u64;
            for seg in msg.chunks(1460) {
                pieces.push((dir, seg.to_vec()));
            }
        }
    }
    (pieces, total)
}

fn run(pieces: &[(Direction, Vec<u8>)], cfg: &ProtoConfig) {
    let mut p = HttpParser::new(cfg);
    let mut sink = NullSink;
    let cs = ctx(Direction::ToServer, 80, IpProto::TCP);
    let cc = ctx(Direction::ToClient, 80, IpProto::TCP);
    for (d, b) in pieces {
        let c = if *d == Direction::ToServer { &cs } else { &cc };
        black_box(p.parse(c, StreamData::Bytes(b), &mut sink));
    }
    p.close(&cs, &mut sink);
}

fn http(c: &mut Criterion) {
    let cfg = ProtoConfig::default();
    let mut g = c.benchmark_group("http");
    let (browsing, n) = connection(200, 8 * 1024);
    g.throughput(Throughput::Bytes(n));
    g.bench_function("browsing_1460_segments", |b| {
        b.iter(|| run(&browsing, &cfg))
    });
    let (headers, n) = connection(2000, 64);
    g.throughput(Throughput::Bytes(n));
    g.bench_function("header_heavy", |b| b.iter(|| run(&headers, &cfg)));
    g.finish();
}

fn dns(c: &mut Criterion) {
    // dig www.suricata-ids.org response (3 answers, compression).
    let hex = "8d3281a00001000300000000037777770c73757269636174612d696473036f72670000010001c00c0005000100000dd800120c73757269636174612d696473036f726700c03200010001000000f40004c0004e18c03200010001000000f40004c0004e19";
    let msg: Vec<u8> = (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
        .collect();
    let cfg = ProtoConfig::default();
    let cc = ctx(Direction::ToClient, 53, IpProto::UDP);
    let mut g = c.benchmark_group("dns");
    g.throughput(Throughput::Elements(1000));
    g.bench_function("udp_response_x1000", |b| {
        b.iter(|| {
            let mut p = DnsUdpParser::new(&cfg);
            let mut sink = NullSink;
            for _ in 0..1000 {
                black_box(p.parse(&cc, &msg, &mut sink));
            }
        })
    });
    g.finish();
}

criterion_group!(benches, http, dns);
criterion_main!(benches);
