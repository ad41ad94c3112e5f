//! Fuzz target: the FTP control parser over arbitrary two-way byte streams, and
//! the FTP data-connection parser over the same bytes.
//! The first byte of each piece picks the direction (bit 0), a gap (bit 1) and
//! the piece length (high bits); the parser must never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use stormwatch_model::{AppContext, Direction, FlowId, FlowKey, IpProto, StreamData, Timestamp};
use stormwatch_proto::api::{NullSink, StreamParser};
use stormwatch_proto::ftp::{FtpDataParser, FtpParser};
use stormwatch_proto::ProtoConfig;

fn ctx(dir: Direction) -> AppContext {
    AppContext {
        ts: Timestamp::ZERO,
        flow_id: FlowId(1),
        key: FlowKey {
            src: [10, 0, 0, 1].into(),
            dst: [10, 0, 0, 2].into(),
            src_port: 40000,
            dst_port: 21,
            proto: IpProto::TCP,
            vlan: [0, 0],
        },
        dir,
    }
}

fuzz_target!(|data: &[u8]| {
    let cfg = ProtoConfig::default();
    let mut sink = NullSink;
    let mut d = FtpDataParser::new(&cfg);
    let _ = d.parse(&ctx(Direction::ToClient), StreamData::Bytes(data), &mut sink);
    d.close(&ctx(Direction::ToClient), &mut sink);
    let mut p = FtpParser::new(&cfg);
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
