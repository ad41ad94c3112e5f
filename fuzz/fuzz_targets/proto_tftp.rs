//! Fuzz target: the TFTP parser; the input is cut into datagrams by its own
//! length bytes.
//! The first byte of each piece picks the direction (bit 0), a gap (bit 1) and
//! the piece length (high bits); the parser must never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use stormwatch_model::{AppContext, Direction, FlowId, FlowKey, IpProto, Timestamp};
use stormwatch_proto::api::NullSink;
use stormwatch_proto::api::DatagramParser;
use stormwatch_proto::tftp::TftpParser;
use stormwatch_proto::ProtoConfig;

fn ctx(dir: Direction) -> AppContext {
    AppContext {
        ts: Timestamp::ZERO,
        flow_id: FlowId(1),
        key: FlowKey {
            src: [10, 0, 0, 1].into(),
            dst: [10, 0, 0, 2].into(),
            src_port: 40000,
            dst_port: 69,
            proto: IpProto::UDP,
            vlan: [0, 0],
        },
        dir,
    }
}

fuzz_target!(|data: &[u8]| {
    let mut p = TftpParser::new(&ProtoConfig::default());
    let mut sink = NullSink;
    let mut rest = data;
    while let Some((&ctl, tail)) = rest.split_first() {
        let dir = if ctl & 1 == 0 { Direction::ToServer } else { Direction::ToClient };
        let n = usize::from(ctl >> 1).min(tail.len());
        let (dgram, after) = tail.split_at(n);
        let _ = p.parse(&ctx(dir), dgram, &mut sink);
        rest = after;
    }
    p.close(&ctx(Direction::ToServer), &mut sink);
});
