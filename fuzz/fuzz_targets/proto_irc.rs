//! Fuzz target: the IRC parser over arbitrary two-way byte streams.
//! The first byte of each piece picks the direction (bit 0), a gap (bit 1) and
//! the piece length (high bits); the parser must never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use stormwatch_model::{AppContext, Direction, FlowId, FlowKey, IpProto, StreamData, Timestamp};
use stormwatch_proto::ProtoConfig;
use stormwatch_proto::api::{NullSink, ParseStatus, StreamParser};
use stormwatch_proto::irc::IrcParser;

fn ctx(dir: Direction) -> AppContext {
    AppContext {
        ts: Timestamp::ZERO,
        flow_id: FlowId(1),
        key: FlowKey {
            src: [10, 0, 0, 1].into(),
            dst: [10, 0, 0, 2].into(),
            src_port: 40000,
            dst_port: 6667,
            proto: IpProto::TCP,
            vlan: [0, 0],
        },
        dir,
    }
}

fuzz_target!(|data: &[u8]| {
    let cfg = ProtoConfig::default();
    let mut p = IrcParser::new(&cfg);
    let mut rest = data;
    while let Some((&h, tail)) = rest.split_first() {
        let dir = if h & 1 == 0 {
            Direction::ToServer
        } else {
            Direction::ToClient
        };
        let n = usize::from(h >> 2).min(tail.len());
        let (piece, next) = tail.split_at(n);
        rest = next;
        let c = ctx(dir);
        let d = if h & 2 != 0 {
            StreamData::Gap(n as u32)
        } else {
            StreamData::Bytes(piece)
        };
        if p.parse(&c, d, &mut NullSink) != ParseStatus::Ok {
            break;
        }
    }
    p.close(&ctx(Direction::ToServer), &mut NullSink);
});
