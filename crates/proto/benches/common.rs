//! Shared helpers of the part-A benchmarks.

use std::net::{IpAddr, Ipv4Addr};
use stormwatch_model::{AppContext, Direction, FlowId, FlowKey, IpProto, Timestamp};

/// Reads a `.pieces` vector (see `benches/data/README.md`).
pub fn pieces(bytes: &[u8]) -> Vec<(Direction, Vec<u8>)> {
    let mut v = Vec::new();
    let mut i = bytes;
    while i.len() >= 5 {
        let d = if i[0] == 0 {
            Direction::ToServer
        } else {
            Direction::ToClient
        };
        let n = u32::from_be_bytes([i[1], i[2], i[3], i[4]]) as usize;
        v.push((d, i[5..5 + n].to_vec()));
        i = &i[5 + n..];
    }
    v
}

/// A context for flow `id` to port `dport`.
pub fn ctx(id: u64, dport: u16, dir: Direction) -> AppContext {
    AppContext {
        ts: Timestamp::ZERO,
        flow_id: FlowId(id),
        key: FlowKey {
            src: IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)),
            dst: IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2)),
            src_port: 40000,
            dst_port: dport,
            proto: IpProto::TCP,
            vlan: [0, 0],
        },
        dir,
    }
}
