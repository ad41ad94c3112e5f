//! Memory benchmark (a program, not a timing harness): detector state under
//! (1) one source sweeping a /8 (16.7 M probes) and (2) 1 M distinct scanning
//! sources. Reports peak RSS growth (`VmHWM` from `/proc/self/status`) and the
//! detectors' own estimate (`detect.state_bytes`). Run with
//! `cargo bench -p stormwatch-detect --bench memory` (add `-- quick` for a
//! 1/16 run).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::{IpAddr, Ipv4Addr};
use std::time::Instant;
use stormwatch_detect::{DetectConfig, Detectors};
use stormwatch_model::*;

fn status_kib(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

fn syn(ns: i64, flow: u64, src: IpAddr, sport: u16, dst: IpAddr, dport: u16) -> PacketSummary {
    PacketSummary {
        ts: Timestamp(ns),
        flow_id: FlowId(flow),
        dir: Direction::ToServer,
        first_in_flow: true,
        src,
        dst,
        src_port: sport,
        dst_port: dport,
        proto: IpProto::TCP,
        tcp_flags: tcp_flags::SYN,
        window: 1024,
        ip_id: (flow as u16).wrapping_mul(40503),
        ttl: 250,
        tcp_options_sig: 0,
        mss: None,
        icmp: None,
        payload_len: 0,
        wire_len: 60,
    }
}

struct Report {
    name: &'static str,
    events: u64,
    notices: u64,
    secs: f64,
    hwm_growth_kib: u64,
    state_bytes: u64,
    counters: Vec<(&'static str, u64)>,
}

fn run(
    name: &'static str,
    events: u64,
    mut feed: impl FnMut(&mut Detectors, u64, &mut Vec<Notice>),
) -> Report {
    let base = status_kib("VmRSS:");
    let start = Instant::now();
    let mut d = Detectors::new(
        DetectConfig::default(),
        NetSet::parse("10.0.0.0/8").unwrap(),
    );
    let mut out = Vec::new();
    let mut notices = 0u64;
    for i in 0..events {
        feed(&mut d, i, &mut out);
        if out.len() > 4096 {
            notices += out.len() as u64;
            out.clear();
        }
    }
    let state_bytes = d.state_bytes() as u64;
    let hwm = status_kib("VmHWM:");
    let end = Timestamp(i64::try_from(events).unwrap() * 10_000 + 10_000_000_000);
    d.finish(end, &mut out);
    notices += out.len() as u64;
    Report {
        name,
        events,
        notices,
        secs: start.elapsed().as_secs_f64(),
        hwm_growth_kib: hwm.saturating_sub(base),
        state_bytes,
        counters: d.counters(),
    }
}

fn print(r: &Report) {
    let c = |k: &str| {
        r.counters
            .iter()
            .find(|(n, _)| *n == k)
            .map_or(0, |(_, v)| *v)
    };
    println!(
        "{}: {} events in {:.1} s ({:.2} M events/s), {} notices; peak RSS growth {:.1} MiB, state estimate {:.1} MiB; sources {} (evicted {}), sketches {}, exact entries {}, pending {}",
        r.name,
        r.events,
        r.secs,
        r.events as f64 / r.secs / 1e6,
        r.notices,
        r.hwm_growth_kib as f64 / 1024.0,
        r.state_bytes as f64 / 1_048_576.0,
        c("detect.scan.sources"),
        c("detect.scan.sources_evicted"),
        c("detect.sketch.sketches"),
        c("detect.sketch.exact_entries"),
        c("detect.scan.pending"),
    );
    assert!(
        r.hwm_growth_kib < 256 * 1024,
        "{}: state must stay under 256 MiB",
        r.name
    );
}

fn main() {
    // `cargo bench` passes `--bench`; `-- quick` shortens the runs.
    let quick = std::env::args().any(|a| a == "quick");
    let div = if quick { 16 } else { 1 };
    let which = std::env::args().find(|a| a == "sweep" || a == "sources");

    if which.as_deref() != Some("sources") {
        // (1) 203.0.113.7 sweeps 10.0.0.0/8 on 443 at 100,000 probes/s of
        // packet time, in a scrambled address order, nothing answers.
        let n: u64 = (1 << 24) / div;
        let scanner = IpAddr::V4(Ipv4Addr::new(203, 0, 113, 7));
        let r = run("sweep /8", n, |d, i, out| {
            // Multiplying by an odd constant permutes the 24-bit space.
            let host = (i.wrapping_mul(0x9E_3779) & 0xFF_FFFF) as u32;
            let dst = IpAddr::V4(Ipv4Addr::from(0x0A00_0000 | host));
            let ns = i64::try_from(i).unwrap() * 10_000;
            d.on_packet(&syn(ns, i + 1, scanner, 61_000, dst, 443), out);
            if i % 100_000 == 0 {
                d.tick(Timestamp(ns), out);
            }
        });
        print(&r);
    }
    if which.as_deref() != Some("sweep") {
        // (2) 1,000,000 distinct sources, each probing 5 addresses of the /8
        // on 22 within a few ms, one source after another, nothing answers.
        let sources: u64 = 1_000_000 / div;
        let r = run("1M sources", sources * 5, |d, i, out| {
            let s = i / 5;
            let src = IpAddr::V4(Ipv4Addr::from(
                0xC000_0000u32 | (s as u32).wrapping_mul(2_654_435_761) >> 2,
            ));
            let host = ((i.wrapping_mul(0x9E_3779)) & 0xFF_FFFF) as u32;
            let dst = IpAddr::V4(Ipv4Addr::from(0x0A00_0000 | host));
            let ns = i64::try_from(i).unwrap() * 10_000;
            d.on_packet(&syn(ns, i + 1, src, 40_000 + (i % 5) as u16, dst, 22), out);
            if i % 100_000 == 0 {
                d.tick(Timestamp(ns), out);
            }
        });
        print(&r);
    }
}
