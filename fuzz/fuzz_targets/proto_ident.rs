//! Fuzz target: content-based identification and every registered parser,
//! through `Proto` / `FlowApp`, over arbitrary two-way byte streams on a port
//! chosen by the first two bytes. The first byte of each piece picks the
//! direction (bit 0), a gap (bit 1) and the piece length (high bits).
#![no_main]

use libfuzzer_sys::fuzz_target;
use stormwatch_model::{AppContext, Direction, FlowId, FlowKey, IpProto, StreamData, Timestamp};
use stormwatch_proto::api::NullSink;
use stormwatch_proto::{FlowApp, Proto, ProtoConfig};

fuzz_target!(|data: &[u8]| {
    if data.len() < 2 {
        return;
    }
    let port = u16::from_be_bytes([data[0], data[1]]);
    let key = FlowKey {
        src: [10, 0, 0, 1].into(),
        dst: [10, 0, 0, 2].into(),
        src_port: 40000,
        dst_port: port,
        proto: IpProto::TCP,
        vlan: [0, 0],
    };
    let ctx = |dir| AppContext {
        ts: Timestamp::ZERO,
        flow_id: FlowId(1),
        key,
        dir,
    };
    let mut proto = Proto::new(ProtoConfig::default());
    let mut app = FlowApp::default();
    proto.on_flow_start(&ctx(Direction::ToServer), &mut app);
    let mut rest = &data[2..];
    while let Some((&h, tail)) = rest.split_first() {
        let dir = if h & 1 == 0 {
            Direction::ToServer
        } else {
            Direction::ToClient
        };
        let n = usize::from(h >> 2).min(tail.len());
        let (piece, next) = tail.split_at(n);
        rest = next;
        let d = if h & 2 != 0 {
            StreamData::Gap(n as u32)
        } else {
            StreamData::Bytes(piece)
        };
        proto.on_stream(&ctx(dir), &mut app, d, &mut NullSink);
    }
    proto.on_flow_end(&ctx(Direction::ToServer), &mut app, &mut NullSink);
    let _ = (app.app_proto(), app.app_proto_dir(Direction::ToClient));
});
