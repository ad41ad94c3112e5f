//! What one inspection costs with all ET rules loaded, per kind of input:
//! an HTTP response body of 400 kB as to-client stream chunks of 1,448
//! bytes (port 80), its first 100 kB as `file_data`, the same chunks as
//! packets of a tracked TCP flow, and a DNS query and answer as UDP
//! packets, and the client's empty ACKs of the body (one per two
//! segments). Bodies are text (the simulator's download body: one line
//! repeated), HTML (its page paragraphs) or random bytes. Reported per byte
//! (per packet for DNS and ACKs) — the unit `docs/performance.md` quotes.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

mod common;
use common::{noise, shared};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use std::net::{IpAddr, Ipv4Addr};
use stormwatch_model::{
    AppProto, BufferId, Direction, FlowId, FlowKey, IpProto, StreamData, Timestamp, TxField, TxView,
};
use stormwatch_rules::{
    FlowInfo, FlowState, PacketInput, RuleSet, RulesConfig, StreamInput, TxInput,
};
use stormwatch_wire::{LinkType, decode_frame};

const BODY: usize = 400_000;
const FILE_DATA: usize = 100 * 1024;
const SEGMENT: usize = 1448;

fn body(kind: &str) -> Vec<u8> {
    let line: &[u8] = match kind {
        "text" => b"release.tar.gz: the quick brown fox jumps over the lazy dog\n",
        "html" => {
            b"<p>Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor.</p>\n"
        }
        _ => return noise(88_172_645_463_325_252, BODY),
    };
    line.iter().copied().cycle().take(BODY).collect()
}

/// A response transaction whose `file_data` is `body`.
struct Response<'a>(&'a [u8]);

impl TxView for Response<'_> {
    fn app_proto(&self) -> AppProto {
        AppProto::Http
    }
    fn tx_id(&self) -> u64 {
        0
    }
    fn buffer_count(&self, id: BufferId) -> usize {
        usize::from(self.buffer(id, 0).is_some())
    }
    fn buffer(&self, id: BufferId, _: usize) -> Option<&[u8]> {
        match id {
            BufferId::FileData | BufferId::HttpResponseBody => Some(self.0),
            BufferId::HttpStatCode => Some(b"200"),
            _ => None,
        }
    }
    fn field(&self, _: TxField) -> Option<u64> {
        None
    }
    fn complete(&self, _: Direction) -> bool {
        true
    }
}

fn ipv4(proto: u8, src: [u8; 4], dst: [u8; 4], l4: &[u8], payload: &[u8]) -> Vec<u8> {
    let total = (20 + l4.len() + payload.len()) as u16;
    let mut p = vec![0x45, 0];
    p.extend_from_slice(&total.to_be_bytes());
    p.extend_from_slice(&[0, 1, 0x40, 0, 64, proto, 0, 0]);
    p.extend_from_slice(&src);
    p.extend_from_slice(&dst);
    p.extend_from_slice(l4);
    p.extend_from_slice(payload);
    p
}

const CLIENT: [u8; 4] = [10, 0, 0, 1];
const SERVER: [u8; 4] = [93, 184, 216, 34];

fn flow(proto: IpProto, dport: u16, dir: Direction) -> FlowInfo {
    let key = FlowKey {
        src: IpAddr::V4(Ipv4Addr::from(CLIENT)),
        dst: IpAddr::V4(Ipv4Addr::from(SERVER)),
        src_port: 40000,
        dst_port: dport,
        proto,
        vlan: [0, 0],
    };
    let mut info = FlowInfo::new(FlowId(1), key, dir, Timestamp::ZERO);
    info.established = true;
    info.stream_tracked = proto == IpProto::TCP;
    info
}

/// Packets of one flow (each with its flow facts) through `match_packet`,
/// from a fresh flow state; returns the alerts.
fn packets<'f>(rs: &RuleSet, input: impl IntoIterator<Item = (&'f [u8], FlowInfo)>) -> usize {
    let mut fs = FlowState::default();
    let mut out = Vec::new();
    for (f, flow) in input {
        let d = decode_frame(LinkType::RAW, f);
        let p = PacketInput {
            ts: Timestamp::ZERO,
            pkt: &d,
            frame: f,
            flow: Some(flow),
        };
        rs.match_packet(&p, Some(&mut fs), &mut out);
    }
    out.len()
}

/// Each frame with the same flow facts.
fn along(frames: &[Vec<u8>], flow: FlowInfo) -> impl Iterator<Item = (&[u8], FlowInfo)> {
    frames.iter().map(move |f| (f.as_slice(), flow))
}

fn buffers(c: &mut Criterion) {
    let Some(sh) = shared() else {
        println!("skipped: shared data not found");
        return;
    };
    let dir = sh.join("rules/et-open-snort-2.9.0-2017/rules");
    let (rs, _) = RuleSet::load(&[dir], &RulesConfig::default()).unwrap();
    let to_client = flow(IpProto::TCP, 80, Direction::ToClient);
    let mut g = c.benchmark_group("buffers");
    g.sample_size(10);
    for kind in ["text", "html", "random"] {
        let body = body(kind);
        g.throughput(Throughput::Bytes(BODY as u64));
        g.bench_function(format!("stream_{kind}"), |b| {
            b.iter(|| {
                let mut fs = FlowState::default();
                let mut out = Vec::new();
                let mut off = 0u64;
                for seg in body.chunks(SEGMENT) {
                    let s = StreamInput {
                        ts: Timestamp::ZERO,
                        flow: to_client,
                        data: StreamData::Bytes(seg),
                        offset: off,
                        frame: &[],
                        backing: None,
                    };
                    rs.match_stream(&s, &mut fs, &mut out);
                    off += seg.len() as u64;
                }
                out.len()
            })
        });
        let frames: Vec<Vec<u8>> = body
            .chunks(SEGMENT)
            .map(|seg| {
                let mut tcp = Vec::new();
                tcp.extend_from_slice(&80u16.to_be_bytes());
                tcp.extend_from_slice(&40000u16.to_be_bytes());
                tcp.extend_from_slice(&[
                    0, 0, 0, 1, 0, 0, 0, 1, 0x50, 0x10, 0xff, 0xff, 0, 0, 0, 0,
                ]);
                ipv4(6, SERVER, CLIENT, &tcp, seg)
            })
            .collect();
        g.bench_function(format!("packets_{kind}"), |b| {
            b.iter(|| packets(&rs, along(&frames, to_client)))
        });
        g.throughput(Throughput::Bytes(FILE_DATA as u64));
        let tx = Response(&body[..FILE_DATA]);
        g.bench_function(format!("file_data_{kind}"), |b| {
            b.iter(|| {
                let mut fs = FlowState::default();
                let mut out = Vec::new();
                let t = TxInput {
                    ts: Timestamp::ZERO,
                    flow: to_client,
                    frame: &[],
                    payload: &[],
                };
                rs.match_tx(&t, &tx, &mut fs, &mut out);
                out.len()
            })
        });
    }
    // A DNS query for www.example.com and its answer.
    let query: &[u8] =
        b"\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x03www\x07example\x03com\x00\x00\x01\x00\x01";
    let mut answer = query.to_vec();
    answer[2] = 0x81;
    answer[3] = 0x80;
    answer[7] = 1;
    answer.extend_from_slice(b"\xc0\x0c\x00\x01\x00\x01\x00\x00\x0e\x10\x00\x04\x5d\xb8\xd8\x22");
    let udp = |sp: u16, dp: u16, payload: &[u8]| {
        let mut h = Vec::new();
        h.extend_from_slice(&sp.to_be_bytes());
        h.extend_from_slice(&dp.to_be_bytes());
        h.extend_from_slice(&((8 + payload.len()) as u16).to_be_bytes());
        h.extend_from_slice(&[0, 0]);
        h
    };
    let resolver = [8, 8, 8, 8];
    let pair = [
        (
            ipv4(17, CLIENT, resolver, &udp(40000, 53, query), query),
            Direction::ToServer,
        ),
        (
            ipv4(17, resolver, CLIENT, &udp(53, 40000, &answer), &answer),
            Direction::ToClient,
        ),
    ];
    // The client's empty ACKs of the body, one per two segments.
    let acks: Vec<Vec<u8>> = (0..BODY / SEGMENT / 2)
        .map(|i| {
            let ack = u32::try_from(1 + 2 * SEGMENT * (i + 1)).unwrap_or(u32::MAX);
            let mut tcp = Vec::new();
            tcp.extend_from_slice(&40000u16.to_be_bytes());
            tcp.extend_from_slice(&80u16.to_be_bytes());
            tcp.extend_from_slice(&1u32.to_be_bytes());
            tcp.extend_from_slice(&ack.to_be_bytes());
            tcp.extend_from_slice(&[0x50, 0x10, 0xff, 0xff, 0, 0, 0, 0]);
            ipv4(6, CLIENT, SERVER, &tcp, &[])
        })
        .collect();
    let to_server = flow(IpProto::TCP, 80, Direction::ToServer);
    g.throughput(Throughput::Elements(acks.len() as u64));
    g.bench_function("empty_acks", |b| {
        b.iter(|| packets(&rs, along(&acks, to_server)))
    });
    g.throughput(Throughput::Elements(2));
    g.bench_function("dns_query_and_answer", |b| {
        b.iter(|| {
            packets(
                &rs,
                pair.iter().map(|(f, dir)| {
                    let mut info = flow(IpProto::UDP, 53, *dir);
                    info.key.dst = IpAddr::V4(Ipv4Addr::from(resolver));
                    (f.as_slice(), info)
                }),
            )
        })
    });
    g.finish();
}

criterion_group!(benches, buffers);
criterion_main!(benches);
