//! IPv4 and IPv6 defragmentation: reassembly, overlaps under each policy, timeouts
//! and limits.

use crate::util::*;
use stormwatch_flow::{FlowConfig, OverlapPolicy};
use stormwatch_model::IpProto;

const SRC4: [u8; 4] = [192, 0, 2, 10];
const DST4: [u8; 4] = [192, 0, 2, 20];
const SRC6: [u8; 16] = [0x20, 1, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
const DST6: [u8; 16] = [0x20, 1, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2];

/// An IPv4 fragment: `offset` in bytes (multiple of 8).
fn frag4(proto: u8, id: u16, offset: u16, more: bool, data: &[u8]) -> Vec<u8> {
    let field = (offset / 8) | if more { 0x2000 } else { 0 };
    ipv4(SRC4, DST4, proto, id, field, data)
}

/// An IPv6 fragment (fragment header directly after the fixed header).
fn frag6(next: u8, id: u32, offset: u16, more: bool, data: &[u8]) -> Vec<u8> {
    let field = offset | u16::from(more);
    let mut fh = vec![next, 0];
    fh.extend_from_slice(&field.to_be_bytes());
    fh.extend_from_slice(&id.to_be_bytes());
    ipv6(SRC6, DST6, 44, &fh, data)
}

fn fill(c: u8, units: usize) -> Vec<u8> {
    vec![c; units * 8]
}

fn expect(pattern: &str) -> Vec<u8> {
    pattern.bytes().flat_map(|c| vec![c; 8]).collect()
}

#[test]
fn ipv4_udp_in_three_fragments_out_of_order() {
    let src = ip("192.0.2.10");
    let dst = ip("192.0.2.20");
    let payload: Vec<u8> = (0..40u8).collect();
    let dgram = udp_datagram(src, dst, 1234, 53, &payload); // 48 bytes
    let mut r = Run::new(FlowConfig::default());
    r.feed(&frag4(17, 77, 32, false, &dgram[32..]));
    r.feed(&frag4(17, 77, 0, true, &dgram[..16]));
    assert_eq!(r.table.active_flows(), 0, "held until complete");
    let last = frag4(17, 77, 16, true, &dgram[16..32]);
    r.feed(&last);
    assert_eq!(r.table.active_flows(), 1);
    assert_eq!(r.rec.ip_payloads[0], dgram);
    let ctx = &r.rec.packets[0];
    assert_eq!(ctx.key.src_port, 1234);
    assert_eq!(ctx.key.dst_port, 53);
    assert_eq!(
        ctx.wire_len as usize,
        last.len() + 14,
        "the completing frame"
    );
    assert_eq!(r.counter("defrag.ipv4.fragments"), 3);
    assert_eq!(r.counter("defrag.ipv4.reassembled"), 1);
    r.finish();
    assert_eq!(r.rec.ended[0].pkts_toserver, 1, "one datagram, one packet");
    assert!(r.rec.anomalies.is_empty());
}

/// Scenario 1 (8-byte units): A [1,3) MF; B [1,2) MF; C [0,2) MF; D [2,4) last.
fn scenario1(policy: OverlapPolicy) -> Vec<u8> {
    let mut r = Run::new(FlowConfig {
        defrag_policy: policy,
        ..FlowConfig::default()
    });
    r.feed(&frag4(253, 1, 8, true, &fill(b'A', 2)));
    r.feed(&frag4(253, 1, 8, true, &fill(b'B', 1)));
    r.feed(&frag4(253, 1, 0, true, &fill(b'C', 2)));
    r.feed(&frag4(253, 1, 16, false, &fill(b'D', 2)));
    assert_eq!(
        r.rec.anomaly_count("decoder.ipv4.frag_overlap"),
        1,
        "{policy:?}"
    );
    assert_eq!(r.rec.ip_payloads.len(), 1, "{policy:?}");
    r.rec.ip_payloads[0].clone()
}

/// Scenario 2: A [0,1) MF; B [2,3) MF; C [0,2) MF; D [1,4) last.
fn scenario2(policy: OverlapPolicy) -> Vec<u8> {
    let mut r = Run::new(FlowConfig {
        defrag_policy: policy,
        ..FlowConfig::default()
    });
    r.feed(&frag4(253, 2, 0, true, &fill(b'A', 1)));
    r.feed(&frag4(253, 2, 16, true, &fill(b'B', 1)));
    r.feed(&frag4(253, 2, 0, true, &fill(b'C', 2)));
    r.feed(&frag4(253, 2, 8, false, &fill(b'D', 3)));
    assert_eq!(r.rec.ip_payloads.len(), 1, "{policy:?}");
    r.rec.ip_payloads[0].clone()
}

#[test]
fn defrag_policy_first() {
    assert_eq!(scenario1(OverlapPolicy::First), expect("CAAD"));
    assert_eq!(scenario2(OverlapPolicy::First), expect("ACBD"));
}

#[test]
fn defrag_policy_last() {
    assert_eq!(scenario1(OverlapPolicy::Last), expect("CCDD"));
    assert_eq!(scenario2(OverlapPolicy::Last), expect("CDDD"));
}

#[test]
fn defrag_policy_bsd_is_the_default() {
    assert_eq!(scenario1(OverlapPolicy::Bsd), expect("CCAD"));
    assert_eq!(scenario2(OverlapPolicy::Bsd), expect("ACDD"));
    assert_eq!(FlowConfig::default().defrag_policy, OverlapPolicy::Bsd);
}

#[test]
fn defrag_policy_linux() {
    assert_eq!(scenario1(OverlapPolicy::Linux), expect("CCAD"));
    assert_eq!(scenario2(OverlapPolicy::Linux), expect("CCDD"));
}

#[test]
fn defrag_policy_windows() {
    assert_eq!(scenario1(OverlapPolicy::Windows), expect("CAAD"));
    assert_eq!(scenario2(OverlapPolicy::Windows), expect("ACDD"));
}

#[test]
fn reassembled_ipv4_header_is_consistent() {
    let mut r = Run::new(FlowConfig::default());
    r.feed(&frag4(253, 9, 0, true, &fill(b'x', 1)));
    r.feed(&frag4(253, 9, 8, false, b"tail"));
    assert_eq!(r.rec.ip_payloads[0], b"xxxxxxxxtail");
    let ctx = &r.rec.packets[0];
    assert_eq!(ctx.key.proto, IpProto(253));
    assert_eq!(r.rec.anomalies.len(), 0);
}

#[test]
fn ipv6_udp_fragments_with_a_duplicate() {
    let src = ip("2001:db8::1");
    let dst = ip("2001:db8::2");
    let payload: Vec<u8> = (0..56u8).collect();
    let dgram = udp_datagram(src, dst, 5000, 5001, &payload); // 64 bytes
    let mut r = Run::new(FlowConfig::default());
    r.feed(&frag6(17, 0xdead, 0, true, &dgram[..32]));
    r.feed(&frag6(17, 0xdead, 32, false, &dgram[32..]));
    assert_eq!(r.rec.ip_payloads.len(), 1);
    assert_eq!(r.rec.ip_payloads[0], dgram);
    assert_eq!(r.rec.packets[0].key.dst_port, 5001);
    // A second datagram whose middle arrives twice (same data).
    r.feed(&frag6(17, 0xbeef, 16, true, &dgram[16..40]));
    r.feed(&frag6(17, 0xbeef, 16, true, &dgram[16..40]));
    r.feed(&frag6(17, 0xbeef, 0, true, &dgram[..24]));
    r.feed(&frag6(17, 0xbeef, 40, false, &dgram[40..]));
    assert_eq!(r.rec.ip_payloads.len(), 2);
    assert_eq!(r.rec.ip_payloads[1], dgram);
    let a: Vec<_> = r
        .rec
        .anomalies
        .iter()
        .filter(|a| a.event == "decoder.ipv6.frag_overlap")
        .collect();
    assert_eq!(a.len(), 1);
    assert!(a[0].detail.as_deref().unwrap().contains("same data"));
    assert_eq!(r.counter("defrag.ipv6.reassembled"), 2);
    assert_eq!(r.counter("defrag.overlap_different_data"), 0);
}

#[test]
fn ipv6_atomic_fragment_is_an_ordinary_packet() {
    let src = ip("2001:db8::1");
    let dst = ip("2001:db8::2");
    let dgram = udp_datagram(src, dst, 1, 2, b"atomic");
    let mut r = Run::new(FlowConfig::default());
    r.feed(&frag6(17, 5, 0, false, &dgram));
    assert_eq!(r.table.active_flows(), 1);
    assert_eq!(r.counter("defrag.ipv6.fragments"), 0);
}

#[test]
fn incomplete_datagram_times_out() {
    let mut r = Run::new(FlowConfig::default());
    r.feed(&frag4(253, 3, 0, true, &fill(b'a', 1)));
    r.advance_secs(61);
    r.feed(&udp(ip("10.0.0.1"), ip("10.0.0.2"), 1, 2, b"tick"));
    assert_eq!(r.counter("defrag.ipv4.timeouts"), 1);
    assert_eq!(r.rec.anomaly_count("defrag.ipv4.timeout"), 1);
    assert_eq!(r.counter("defrag.trackers"), 0);
    // The rest arrives too late: it cannot complete with the dropped first part.
    r.feed(&frag4(253, 3, 8, false, b"late"));
    assert_eq!(r.rec.ip_payloads.len(), 1, "only the UDP tick");
    r.finish();
    assert_eq!(r.counter("defrag.incomplete_at_end"), 1);
}

#[test]
fn fragment_beyond_65535_is_dropped() {
    let mut r = Run::new(FlowConfig::default());
    r.feed(&frag4(253, 4, 65_520, false, &[0u8; 24]));
    assert_eq!(r.counter("defrag.too_large"), 1);
    assert_eq!(r.counter("defrag.trackers"), 0);
    // The decoder names it already; the defragmenter does not repeat it.
    assert_eq!(r.rec.anomaly_count("decoder.ipv4.frag_pkt_too_large"), 0);
}

#[test]
fn tracker_limit_is_counted_with_one_engine_anomaly() {
    let mut r = Run::new(FlowConfig {
        defrag_max_trackers: 2,
        ..FlowConfig::default()
    });
    for id in 0..5u16 {
        r.feed(&frag4(253, id, 0, true, &fill(b'z', 1)));
    }
    assert_eq!(r.counter("defrag.trackers"), 2);
    assert_eq!(r.counter("defrag.max_trackers_reached"), 3);
    assert_eq!(r.rec.anomaly_count("defrag.max_trackers_reached"), 1);
    // The tracked ones still complete.
    r.feed(&frag4(253, 1, 8, false, b"end"));
    assert_eq!(r.rec.ip_payloads.len(), 1);
}

#[test]
fn memcap_is_counted_and_nothing_grows() {
    let mut r = Run::new(FlowConfig {
        defrag_memcap_bytes: 2_000,
        ..FlowConfig::default()
    });
    for id in 0..50u16 {
        r.feed(&frag4(253, id, 0, true, &fill(b'm', 16)));
    }
    assert!(r.counter("defrag.memcap_reached") > 0);
    assert!(r.counter("defrag.memuse") <= 2_000);
    assert_eq!(r.rec.anomaly_count("defrag.memcap_reached"), 1);
}
