//! Part-A benchmarks: IRC parsing, TLS handshake parsing, identification cost
//! per flow.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use std::hint::black_box;
use stormwatch_model::{Direction, StreamData};
use stormwatch_proto::api::{NullSink, StreamParser};
use stormwatch_proto::irc::IrcParser;
use stormwatch_proto::tls::TlsParser;
use stormwatch_proto::{FlowApp, Proto, ProtoConfig};

const IRC: &[u8] = include_bytes!("data/irc-bot.pieces");
const TLS: &[u8] = include_bytes!("data/tls12.pieces");

/// IRC traffic: the real bot session's server side repeated, cut in 1460-byte
/// segments, plus the pure line grammar over the same bytes.
fn irc(c: &mut Criterion) {
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
    g.bench_function("line_grammar_1MiB", |b| {
        b.iter(|| {
            let mut n = 0usize;
            for line in payload.split_inclusive(|&c| c == b'\n') {
                if let Some(m) = stormwatch_proto::irc::parser::parse_irc_line(line) {
                    n += m.params().len();
                }
            }
            black_box(n)
        })
    });
    g.finish();
}

/// The TLS 1.2 handshake (both directions, certificate chain included) through
/// the parser, as one connection.
fn tls(c: &mut Criterion) {
    let p = common::pieces(TLS);
    let bytes: u64 = p.iter().map(|(_, b)| b.len() as u64).sum();
    let cfg = ProtoConfig::default();
    let mut g = c.benchmark_group("tls");
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
fn ident(c: &mut Criterion) {
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

criterion_group!(benches, irc, tls, ident);
criterion_main!(benches);
