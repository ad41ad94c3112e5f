//! The flow table: keys, direction, ids, timeouts, eviction, port reuse, determinism.

use crate::util::*;
use std::collections::BTreeSet;
use stormwatch_flow::{FlowConfig, FlowTable};
use stormwatch_model::{Direction, EndReason, FlowState, IpProto};

fn udp_pair(r: &mut Run, a: &str, b: &str, sport: u16, dport: u16) {
    r.feed(&udp(ip(a), ip(b), sport, dport, b"query"));
}

#[test]
fn both_directions_are_one_flow_with_the_first_sender_as_client() {
    let mut r = Run::new(FlowConfig::default());
    r.feed(&udp(ip("10.0.0.1"), ip("10.0.0.2"), 5353, 53, b"q"));
    r.feed(&udp(ip("10.0.0.2"), ip("10.0.0.1"), 53, 5353, b"answer"));
    r.feed(&udp(ip("10.0.0.1"), ip("10.0.0.2"), 5353, 53, b"q2"));
    assert_eq!(r.table.active_flows(), 1);
    let p = &r.rec.packets;
    assert!(p[0].first_in_flow && !p[1].first_in_flow);
    assert_eq!(p[0].dir, Direction::ToServer);
    assert_eq!(p[1].dir, Direction::ToClient);
    assert!(!p[0].established && p[1].established);
    assert_eq!((p[2].pkts_toserver, p[2].pkts_toclient), (2, 1));
    r.finish();
    let rec = &r.rec.ended[0];
    assert_eq!(rec.key.src, ip("10.0.0.1"));
    assert_eq!(rec.key.dst_port, 53);
    assert_eq!(rec.key.proto, IpProto::UDP);
    assert_eq!(rec.state, FlowState::Established);
    assert_eq!(rec.reason, EndReason::Shutdown);
    // bytes: IP length + 14 per frame as fed by the test runner
    assert_eq!(rec.bytes_toclient, (20 + 8 + 6 + 14) as u64);
    assert!(rec.tcp.is_none());
}

#[test]
fn vlan_ids_separate_flows() {
    let mut r = Run::new(FlowConfig::default());
    let pkt = udp(ip("10.0.0.1"), ip("10.0.0.2"), 1, 2, b"x");
    for vlan in [0u16, 10, 20] {
        let mut d = stormwatch_wire::decode_ip(&pkt);
        d.vlan = [vlan, 0];
        r.table
            .process(stormwatch_model::Timestamp(r.now), 60, &d, &mut r.rec);
    }
    assert_eq!(r.table.active_flows(), 3);
    r.finish();
    let vlans: BTreeSet<u16> = r.rec.ended.iter().map(|e| e.key.vlan[0]).collect();
    assert_eq!(vlans, BTreeSet::from([0, 10, 20]));
}

#[test]
fn synack_first_makes_its_sender_the_server() {
    let c = Conn::new(1, 2);
    let mut r = Run::new(FlowConfig::default());
    r.feed(&c.synack());
    r.feed(&c.ack());
    r.feed(&c.c_data(0, b"x"));
    r.finish();
    let rec = &r.rec.ended[0];
    assert_eq!(rec.key.src, c.c);
    assert_eq!(rec.key.dst_port, c.sp);
    assert_eq!(rec.pkts_toclient, 1);
    assert_eq!(rec.pkts_toserver, 2);
    assert!(rec.tcp.as_ref().unwrap().history.starts_with("^h"));
    assert_eq!(r.rec.packets[0].dir, Direction::ToClient);
    assert_eq!(r.rec.stream(Direction::ToServer).data, b"x");
}

#[test]
fn icmp_echo_request_and_reply_share_a_flow() {
    let mut r = Run::new(FlowConfig::default());
    let (a, b) = (ip("10.1.1.1"), ip("10.1.1.2"));
    r.feed(&icmp_echo(a, b, 8, 7, 1));
    r.feed(&icmp_echo(b, a, 0, 7, 1));
    r.feed(&icmp_echo(a, b, 8, 8, 1)); // another id: another flow
    r.finish();
    assert_eq!(r.rec.ended.len(), 2);
    let first = &r.rec.ended[0];
    assert_eq!((first.pkts_toserver, first.pkts_toclient), (1, 1));
    assert_eq!(first.icmp, Some((8, 0)));
    assert_eq!((first.key.src_port, first.key.dst_port), (8, 0));
    assert_eq!(first.state, FlowState::Established);
}

#[test]
fn udp_flow_times_out_after_30s_one_way_and_300s_both_ways() {
    let mut r = Run::new(FlowConfig::default());
    udp_pair(&mut r, "10.0.0.1", "10.0.0.2", 1000, 53);
    r.advance_secs(29);
    udp_pair(&mut r, "10.0.0.1", "10.0.0.2", 1000, 53);
    assert!(r.rec.ended.is_empty());
    r.advance_secs(31);
    udp_pair(&mut r, "10.0.0.1", "10.0.0.2", 1000, 53);
    assert_eq!(r.rec.ended.len(), 1);
    assert_eq!(r.rec.ended[0].reason, EndReason::Timeout);
    assert_eq!(r.rec.ended[0].pkts_toserver, 2);
    r.feed(&udp(ip("10.0.0.2"), ip("10.0.0.1"), 53, 1000, b"a"));
    r.advance_secs(299);
    udp_pair(&mut r, "10.0.0.1", "10.0.0.2", 1000, 53);
    assert_eq!(r.rec.ended.len(), 1, "established UDP lives 300 s");
    r.advance_secs(301);
    udp_pair(&mut r, "10.9.9.9", "10.0.0.2", 1, 2); // any packet drives expiry
    assert_eq!(r.rec.ended.len(), 2);
    assert_ne!(r.rec.ended[0].flow_id, r.rec.ended[1].flow_id);
    assert_eq!(r.counter("flow.ended_timeout"), 2);
}

#[test]
fn tcp_timeouts_follow_the_state() {
    // new: 60 s
    let mut r = Run::new(FlowConfig::default());
    let c = Conn::new(1, 1);
    r.feed(&c.syn());
    r.advance_secs(61);
    udp_pair(&mut r, "10.0.0.1", "10.0.0.2", 1, 2);
    assert_eq!(r.rec.ended.len(), 1);
    // established: 600 s
    let mut r = Run::new(FlowConfig::default());
    c.handshake(&mut r);
    r.advance_secs(599);
    udp_pair(&mut r, "10.0.0.1", "10.0.0.2", 1, 2);
    assert_eq!(r.rec.ended.len(), 0);
    r.advance_secs(2);
    udp_pair(&mut r, "10.0.0.1", "10.0.0.3", 1, 2);
    assert_eq!(
        r.rec.ended.len(),
        1,
        "the TCP flow (the UDP flow is 2 s old)"
    );
    let tcp = r.rec.ended.iter().find(|e| e.tcp.is_some()).unwrap();
    assert_eq!(tcp.state, FlowState::Established);
    // closed: 60 s
    let mut r = Run::new(FlowConfig::default());
    c.handshake(&mut r);
    r.feed(&c.s_seg(0, 0, RST | ACK, b""));
    r.advance_secs(61);
    udp_pair(&mut r, "10.0.0.1", "10.0.0.2", 1, 2);
    assert_eq!(r.rec.ended.len(), 1);
    assert_eq!(r.rec.ended[0].state, FlowState::Closed);
}

#[test]
fn a_syn_answered_by_a_rst_was_never_established() {
    let c = Conn::new(1, 1);
    let mut r = Run::new(FlowConfig::default());
    r.feed(&c.syn());
    r.feed(&c.s_seg(0, 0, RST | ACK, b""));
    let p = r.rec.packets.last().unwrap();
    assert_eq!(p.tcp_state, stormwatch_model::TcpState::Closed);
    assert!(!p.established);
    r.finish();
    let tcp = r.rec.ended[0].tcp.clone().unwrap();
    assert!(!tcp.handshake_done);
    assert_eq!(tcp.history, "Sr");
    // A completed handshake stays "established" in the context after the close.
    let mut r = Run::new(FlowConfig::default());
    c.handshake(&mut r);
    r.feed(&c.s_seg(0, 0, RST | ACK, b""));
    assert!(r.rec.packets.last().unwrap().established);
}

#[test]
fn a_packet_after_its_flow_timed_out_starts_a_new_flow() {
    let mut r = Run::new(FlowConfig::default());
    udp_pair(&mut r, "10.0.0.1", "10.0.0.2", 1000, 53);
    // Jump past the timeout within the same second of sweeping: the lookup itself expires it.
    r.now += 30 * 1_000_000_000;
    udp_pair(&mut r, "10.0.0.1", "10.0.0.2", 1000, 53);
    assert_eq!(r.rec.ended.len(), 1);
    assert!(r.rec.packets[1].first_in_flow);
}

#[test]
fn eviction_at_max_flows_ends_the_least_recently_seen() {
    let mut r = Run::new(FlowConfig {
        max_flows: 3,
        ..FlowConfig::default()
    });
    for port in 1..=3u16 {
        udp_pair(&mut r, "10.0.0.1", "10.0.0.2", port, 53);
    }
    udp_pair(&mut r, "10.0.0.1", "10.0.0.2", 1, 53); // refresh port 1
    udp_pair(&mut r, "10.0.0.1", "10.0.0.2", 4, 53); // evicts port 2
    udp_pair(&mut r, "10.0.0.1", "10.0.0.2", 5, 53); // evicts port 3
    assert_eq!(r.table.active_flows(), 3);
    let evicted: Vec<u16> = r.rec.ended.iter().map(|e| e.key.src_port).collect();
    assert_eq!(evicted, vec![2, 3]);
    assert!(r.rec.ended.iter().all(|e| e.reason == EndReason::Forced));
    assert_eq!(r.counter("flow.max_flows_evicted"), 2);
    assert_eq!(r.rec.anomaly_count("flow.table_full"), 1, "once per run");
}

#[test]
fn eviction_at_the_memcap() {
    let per = FlowTable::<User>::bytes_per_flow() as u64;
    let mut r = Run::new(FlowConfig {
        memcap_bytes: per * 2,
        ..FlowConfig::default()
    });
    for port in 1..=10u16 {
        udp_pair(&mut r, "10.0.0.1", "10.0.0.2", port, 53);
    }
    assert_eq!(r.table.active_flows(), 2);
    assert_eq!(r.counter("flow.memcap_evicted"), 8);
    r.finish();
    assert_eq!(r.rec.ended.len(), 10);
}

#[test]
fn port_reuse_after_close_starts_a_new_flow() {
    let c = Conn::new(1, 1);
    let mut r = Run::new(FlowConfig::default());
    c.handshake(&mut r);
    r.feed(&c.c_seg(0, 0, ACK | FIN, b""));
    r.feed(&c.s_seg(0, 1, ACK | FIN, b""));
    r.feed(&c.c_seg(1, 1, ACK, b""));
    let again = Conn::new(5_000_000, 9);
    again.handshake(&mut r);
    r.feed(&again.c_data(0, b"second"));
    assert_eq!(r.rec.ended.len(), 1);
    assert_eq!(r.rec.ended[0].reason, EndReason::Timeout);
    assert_eq!(r.counter("flow.tcp_reuse"), 1);
    r.finish();
    assert_eq!(r.rec.ended.len(), 2);
    let second = &r.rec.ended[1];
    assert_eq!(second.pkts_toserver, 3);
    assert_eq!(
        r.rec.stream_of(second.flow_id.0, Direction::ToServer).data,
        b"second"
    );
    // A retransmitted SYN of the closed connection is not a reuse.
    let mut r = Run::new(FlowConfig::default());
    r.feed(&c.syn());
    r.feed(&c.s_seg(0, 0, RST | ACK, b""));
    r.feed(&c.syn());
    assert!(r.rec.ended.is_empty());
}

fn scripted(r: &mut Run) {
    for i in 0..50u16 {
        let mut c = Conn::new(u32::from(i) * 7919, 13);
        c.cp = 2000 + i % 7;
        c.handshake(r);
        r.feed(&c.c_data(0, b"x"));
        udp_pair(r, "10.0.0.1", "10.0.0.2", i, 53);
        if i % 10 == 0 {
            r.advance_secs(40);
        }
    }
    r.finish();
}

#[test]
fn flow_ids_are_deterministic_unique_and_below_2_pow_53() {
    let mut a = Run::new(FlowConfig::default());
    let mut b = Run::new(FlowConfig::default());
    scripted(&mut a);
    scripted(&mut b);
    let ids_a: Vec<u64> = a.rec.ended.iter().map(|e| e.flow_id.0).collect();
    let ids_b: Vec<u64> = b.rec.ended.iter().map(|e| e.flow_id.0).collect();
    assert_eq!(ids_a, ids_b);
    assert_eq!(a.rec.ended, b.rec.ended);
    let unique: BTreeSet<u64> = ids_a.iter().copied().collect();
    assert_eq!(unique.len(), ids_a.len());
    assert!(ids_a.iter().all(|&id| id > 0 && id < (1 << 53)));
    assert_eq!(a.table.counters(), b.table.counters());
}

#[test]
fn finish_ends_every_flow_in_start_order() {
    let mut r = Run::new(FlowConfig::default());
    for port in [9u16, 3, 7, 1] {
        udp_pair(&mut r, "10.0.0.1", "10.0.0.2", port, 53);
    }
    r.finish();
    let ports: Vec<u16> = r.rec.ended.iter().map(|e| e.key.src_port).collect();
    assert_eq!(ports, vec![9, 3, 7, 1]);
    assert!(r.rec.ended.iter().all(|e| e.reason == EndReason::Shutdown));
    assert_eq!(r.table.active_flows(), 0);
    assert_eq!(r.counter("flow.ended_shutdown"), 4);
}

#[test]
fn broken_transport_headers_count_by_their_ports() {
    let mut r = Run::new(FlowConfig::default());
    // TCP protocol number, 3 bytes: no ports, no flow.
    r.feed(&ipv4([1, 1, 1, 1], [2, 2, 2, 2], 6, 1, 0, &[0, 1, 0]));
    assert_eq!(r.table.active_flows(), 0);
    assert_eq!(r.counter("flow.packets_without_flow"), 1);
    // A SYN whose data offset (24 bytes) runs past the 20 bytes there: the decoder
    // rejects the header, the packet still counts in its flow (as tshark counts it)
    // and changes no TCP state.
    let mut syn = tcp(
        ip("1.1.1.1"),
        ip("2.2.2.2"),
        55524,
        23,
        7,
        0,
        SYN,
        1024,
        b"",
    );
    syn[32] = 0x60;
    r.feed(&syn);
    assert_eq!(r.table.active_flows(), 1);
    let p = r.rec.packets.last().unwrap();
    assert_eq!((p.key.src_port, p.key.dst_port), (55524, 23));
    assert!(!p.stream_tracked);
    // An unknown protocol is a flow keyed by addresses.
    r.feed(&ipv4([1, 1, 1, 1], [2, 2, 2, 2], 253, 1, 0, b"opaque"));
    r.feed(&ipv4([2, 2, 2, 2], [1, 1, 1, 1], 253, 1, 0, b"opaque"));
    assert_eq!(r.table.active_flows(), 2);
    r.finish();
    let tcp_rec = r.rec.ended.iter().find(|e| e.key.dst_port == 23).unwrap();
    assert_eq!(
        tcp_rec.tcp.as_ref().unwrap().state,
        stormwatch_model::TcpState::None
    );
    assert_eq!(tcp_rec.pkts_toserver, 1);
}

#[test]
fn mac_addresses_of_the_first_packet_to_the_server() {
    let mut r = Run::new(FlowConfig::default());
    let pkt = udp(ip("10.0.0.1"), ip("10.0.0.2"), 1, 2, b"x");
    let mut d = stormwatch_wire::decode_ip(&pkt);
    d.eth = Some(stormwatch_wire::EthernetInfo {
        src: [1, 2, 3, 4, 5, 6],
        dst: [6, 5, 4, 3, 2, 1],
        ethertype: 0x0800,
    });
    r.table
        .process(stormwatch_model::Timestamp(r.now), 60, &d, &mut r.rec);
    r.finish();
    assert_eq!(
        r.rec.ended[0].macs,
        Some(([1, 2, 3, 4, 5, 6], [6, 5, 4, 3, 2, 1]))
    );
}

#[test]
fn finish_in_batches_pauses_between_batches_in_start_order() {
    let mut r = Run::new(FlowConfig::default());
    for port in [9u16, 3, 7, 1, 5] {
        udp_pair(&mut r, "10.0.0.1", "10.0.0.2", port, 53);
    }
    // Ended-flow counts seen at each pause.
    let mut pauses = Vec::new();
    let res: Result<(), ()> = r.table.finish_in_batches(&mut r.rec, 2, |rec| {
        pauses.push(rec.ended.len());
        Ok(())
    });
    assert_eq!(res, Ok(()));
    assert_eq!(pauses, vec![2, 4]);
    let ports: Vec<u16> = r.rec.ended.iter().map(|e| e.key.src_port).collect();
    assert_eq!(ports, vec![9, 3, 7, 1, 5]);
    assert_eq!(r.table.active_flows(), 0);
}

#[test]
fn finish_in_batches_stops_at_the_first_error() {
    let mut r = Run::new(FlowConfig::default());
    for port in [9u16, 3, 7] {
        udp_pair(&mut r, "10.0.0.1", "10.0.0.2", port, 53);
    }
    let res = r
        .table
        .finish_in_batches(&mut r.rec, 1, |_| Err("sink full"));
    assert_eq!(res, Err("sink full"));
    assert_eq!(r.rec.ended.len(), 1);
    assert_eq!(r.table.active_flows(), 2);
    // The rest end later.
    r.finish();
    assert_eq!(r.rec.ended.len(), 3);
}
