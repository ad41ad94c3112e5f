//! Fuzz target: the DNS parsers — every input is one UDP datagram, and the same
//! bytes are a two-way TCP stream (length-prefixed framing, gaps).
//! The first byte of each piece picks the direction (bit 0), a gap (bit 1) and
//! the piece length (high bits); the parser must never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use stormwatch_model::{AppContext, Direction, FlowId, FlowKey, IpProto, StreamData, Timestamp};
use stormwatch_proto::api::{NullSink, StreamParser};
use stormwatch_proto::api::DatagramParser;
use stormwatch_proto::dns::{DnsTcpParser, DnsUdpParser};
use stormwatch_proto::ProtoConfig;

fn ctx(dir: Direction) -> AppContext {
    AppContext {
        ts: Timestamp::ZERO,
        flow_id: FlowId(1),
        key: FlowKey {
            src: [10, 0, 0, 1].into(),
            dst: [10, 0, 0, 2].into(),
            src_port: 40000,
            dst_port: 53,
            proto: IpProto::TCP,
            vlan: [0, 0],
        },
        dir,
    }
}

fuzz_target!(|data: &[u8]| {
    let cfg = ProtoConfig::default();
    let mut sink = NullSink;
    let mut u = DnsUdpParser::new(&cfg);
    let _ = u.parse(&ctx(Direction::ToServer), data, &mut sink);
    let _ = u.parse(&ctx(Direction::ToClient), data, &mut sink);
    u.close(&ctx(Direction::ToServer), &mut sink);
    let mut p = DnsTcpParser::new(&cfg);
    let mut rest = data;
    while let Some((&ctl, tail)) = rest.split_first() {
        let dir = if ctl & 1 == 0 { Direction::ToServer } else { Direction::ToClient };
        let n = usize::from(ctl >> 2).min(tail.len());
        let (piece, after) = tail.split_at(n);
        let d = if ctl & 2 != 0 { StreamData::Gap(u32::from(ctl)) } else { StreamData::Bytes(piece) };
        let _ = p.parse(&ctx(dir), d, &mut sink);
        rest = after;
    }
    p.close(&ctx(Direction::ToServer), &mut sink);
});
