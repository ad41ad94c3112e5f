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

/// A criterion measurement of the CPU time the benchmark thread ran (Linux
/// `/proc/thread-self/schedstat`), so figures hold on a machine shared with
/// other jobs. Falls back to zero elsewhere.
pub struct CpuTime;

fn thread_cpu_nanos() -> u64 {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next().and_then(|x| x.parse().ok()))
        .unwrap_or(0)
}

impl criterion::measurement::Measurement for CpuTime {
    type Intermediate = u64;
    type Value = u64;
    fn start(&self) -> u64 {
        thread_cpu_nanos()
    }
    fn end(&self, i: u64) -> u64 {
        thread_cpu_nanos().saturating_sub(i)
    }
    fn add(&self, a: &u64, b: &u64) -> u64 {
        a + b
    }
    fn zero(&self) -> u64 {
        0
    }
    fn to_f64(&self, v: &u64) -> f64 {
        *v as f64
    }
    fn formatter(&self) -> &dyn criterion::measurement::ValueFormatter {
        criterion::measurement::WallTime.formatter()
    }
}
