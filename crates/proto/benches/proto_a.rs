//! Part-A benchmarks: IRC parsing, TLS handshake parsing, identification cost
//! per flow.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;

use common::CpuTime;
use criterion::{Criterion, SamplingMode, Throughput, criterion_group, criterion_main};

type C = Criterion<CpuTime>;
use std::hint::black_box;
use stormwatch_model::{Direction, StreamData};
use stormwatch_proto::api::{CountSink, NullSink, StreamParser};
use stormwatch_proto::irc::IrcParser;
use stormwatch_proto::tls::TlsParser;
use stormwatch_proto::{FlowApp, Proto, ProtoConfig};

const IRC: &[u8] = include_bytes!("data/irc-bot.pieces");
const TLS: &[u8] = include_bytes!("data/tls12.pieces");

/// IRC traffic: the real bot session's server side repeated, cut in 1460-byte
/// segments, plus the pure line grammar over the same bytes.
fn irc(c: &mut C) {
    let p = common::pieces(IRC);
    let mut server: Vec<u8> = Vec::new();
    for (d, b) in &p {
        if *d == Direction::ToClient {
            server.extend_from_slice(b);
        }
    }
    let mut payload = Vec::new();
    while payload.len() < 1 << 20 {
        payload.extend_from_slice(&server);
    }
    let cfg = ProtoConfig::default();
    let mut g = c.benchmark_group("irc");
    g.sampling_mode(SamplingMode::Flat);
    g.throughput(Throughput::Bytes(payload.len() as u64));
    g.bench_function("stream_parser_1MiB", |b| {
        b.iter(|| {
            let mut parser = IrcParser::new(&cfg);
            let ctx = common::ctx(1, 6667, Direction::ToClient);
            for seg in payload.chunks(1460) {
                parser.parse(&ctx, StreamData::Bytes(seg), &mut NullSink);
            }
        })
    });
    g.bench_function("stream_parser_full_output_1MiB", |b| {
        b.iter(|| {
            let mut parser = IrcParser::new(&cfg);
            let mut sink = CountSink::default();
            let ctx = common::ctx(1, 6667, Direction::ToClient);
            for seg in payload.chunks(1460) {
                parser.parse(&ctx, StreamData::Bytes(seg), &mut sink);
            }
            black_box(sink.records)
        })
    });
    g.bench_function("line_grammar_1MiB", |b| {
        b.iter(|| {
            let mut n = 0usize;
            let mut start = 0;
            for end in memchr::memchr_iter(b'\n', &payload) {
                if let Some(m) = stormwatch_proto::irc::parser::parse_irc_line(&payload[start..end])
                {
                    n += m.nparams();
                }
                start = end + 1;
            }
            black_box(n)
        })
    });
    g.finish();
}

/// The TLS 1.2 handshake (both directions, certificate chain included) through
/// the parser, as one connection.
fn tls(c: &mut C) {
    let p = common::pieces(TLS);
    let bytes: u64 = p.iter().map(|(_, b)| b.len() as u64).sum();
    let cfg = ProtoConfig::default();
    let mut g = c.benchmark_group("tls");
    g.sampling_mode(SamplingMode::Flat);
    g.throughput(Throughput::Bytes(bytes));
    g.bench_function("handshake_session", |b| {
        b.iter(|| {
            let mut parser = TlsParser::new(&cfg);
            for (d, seg) in &p {
                let ctx = common::ctx(1, 443, *d);
                if parser.parse(&ctx, StreamData::Bytes(seg), &mut NullSink)
                    != stormwatch_proto::ParseStatus::Ok
                {
                    break;
                }
            }
            black_box(parser.state().certs.len())
        })
    });
    g.bench_function("handshake_session_full_output", |b| {
        b.iter(|| {
            let mut parser = TlsParser::new(&cfg);
            let mut sink = CountSink::default();
            for (d, seg) in &p {
                let ctx = common::ctx(1, 443, *d);
                if parser.parse(&ctx, StreamData::Bytes(seg), &mut sink)
                    != stormwatch_proto::ParseStatus::Ok
                {
                    break;
                }
            }
            black_box(sink.records)
        })
    });
    // A whole session through identification: the handshake, then 1 MiB of
    // application data records that the stage no longer parses.
    let mut app_data = Vec::new();
    while app_data.len() < 1 << 20 {
        app_data.extend_from_slice(&[0x17, 0x03, 0x03, 0x40, 0x00]);
        app_data.extend_from_slice(&[0xab; 0x4000]);
    }
    let session_bytes = bytes + app_data.len() as u64;
    g.throughput(Throughput::Bytes(session_bytes));
    g.bench_function("session_1MiB_appdata_via_proto", |b| {
        let mut proto = Proto::new(ProtoConfig::default());
        let mut id = 0;
        b.iter(|| {
            id += 1;
            let mut app = FlowApp::default();
            let mut sink = CountSink::default();
            for (d, seg) in &p {
                proto.on_stream(
                    &common::ctx(id, 443, *d),
                    &mut app,
                    StreamData::Bytes(seg),
                    &mut sink,
                );
            }
            for seg in app_data.chunks(1460) {
                let ctx = common::ctx(id, 443, Direction::ToClient);
                proto.on_stream(&ctx, &mut app, StreamData::Bytes(seg), &mut sink);
            }
            black_box(sink.records)
        })
    });
    let ch = p[0].1.clone();
    g.throughput(Throughput::Bytes(ch.len() as u64));
    g.bench_function("client_hello_only", |b| {
        b.iter(|| {
            let mut parser = TlsParser::new(&cfg);
            let ctx = common::ctx(1, 443, Direction::ToServer);
            parser.parse(&ctx, StreamData::Bytes(&ch), &mut NullSink);
            black_box(parser.state().client.ciphers.len())
        })
    });
    let der: Vec<u8> = {
        // First certificate of the server flight.
        let s: Vec<u8> = p
            .iter()
            .filter(|(d, _)| *d == Direction::ToClient)
            .flat_map(|(_, b)| b.iter().copied())
            .collect();
        let i = s
            .windows(3)
            .position(|w| w == [0x30, 0x82, 0x04] || w == [0x30, 0x82, 0x05])
            .unwrap();
        let len = usize::from(u16::from_be_bytes([s[i + 2], s[i + 3]])) + 4;
        s[i..i + len].to_vec()
    };
    g.throughput(Throughput::Bytes(der.len() as u64));
    g.bench_function("certificate_only", |b| {
        b.iter(|| black_box(stormwatch_proto::tls::cert::parse_cert(&der)))
    });
    g.finish();
}

/// Identification cost per new flow: first segment(s) until named.
fn ident(c: &mut C) {
    let tls = common::pieces(TLS);
    let first_tls = tls[0].1.clone();
    type Case = (&'static str, u16, Vec<(Direction, Vec<u8>)>);
    let cases: Vec<Case> = vec![
        (
            "tls_client_hello",
            443,
            vec![(Direction::ToServer, first_tls)],
        ),
        (
            "http_get",
            80,
            vec![(
                Direction::ToServer,
                b"GET /index.html HTTP/1.1\r\nHost: example.com\r\nUser-Agent: x\r\n\r\n".to_vec(),
            )],
        ),
        (
            "irc_on_443",
            443,
            vec![(
                Direction::ToServer,
                b"NICK xX123\r\nUSER x 0 * :x\r\n".to_vec(),
            )],
        ),
        (
            "ssh_server_first",
            22,
            vec![(Direction::ToClient, b"SSH-2.0-OpenSSH_7.4\r\n".to_vec())],
        ),
        (
            "unknown_binary",
            5555,
            vec![
                (Direction::ToServer, vec![0xe7; 512]),
                (Direction::ToClient, vec![0xe7; 512]),
            ],
        ),
    ];
    let mut g = c.benchmark_group("identification_per_flow");
    g.sampling_mode(SamplingMode::Flat);
    for (name, port, pieces) in cases {
        g.bench_function(name, |b| {
            let mut proto = Proto::new(ProtoConfig::default());
            let mut id = 0u64;
            b.iter(|| {
                id += 1;
                let mut app = FlowApp::default();
                proto.on_flow_start(&common::ctx(id, port, Direction::ToServer), &mut app);
                for (d, seg) in &pieces {
                    let ctx = common::ctx(id, port, *d);
                    proto.on_stream(&ctx, &mut app, StreamData::Bytes(seg), &mut NullSink);
                }
                black_box(app.app_proto())
            })
        });
    }
    g.finish();
}

criterion_group! {
    name = benches;
    // CPU time has tick resolution: few, long, equal samples.
    config = Criterion::default()
        .with_measurement(CpuTime)
        .sample_size(10)
        .measurement_time(std::time::Duration::from_secs(6));
    targets = irc, tls, ident
}
criterion_main!(benches);
