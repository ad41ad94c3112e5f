//! Fuzz target: the HTTP/1.x parser over arbitrary two-way byte streams.
//! The first byte of each piece picks the direction (bit 0), a gap (bit 1) and
//! the piece length (high bits); the parser must never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use stormwatch_model::{AppContext, Direction, FlowId, FlowKey, IpProto, StreamData, Timestamp};
use stormwatch_proto::api::{NullSink, StreamParser};
use stormwatch_proto::http::HttpParser;
use stormwatch_proto::ProtoConfig;

fn ctx(dir: Direction) -> AppContext {
    AppContext {
        ts: Timestamp::ZERO,
        flow_id: FlowId(1),
        key: FlowKey {
            src: [10, 0, 0, 1].into(),
            dst: [10, 0, 0, 2].into(),
            src_port: 40000,
            dst_port: 80,
            proto: IpProto::TCP,
            vlan: [0, 0],
        },
        dir,
    }
}

fuzz_target!(|data: &[u8]| {
    let mut p = HttpParser::new(&ProtoConfig::default());
    let mut sink = NullSink;
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
