//! TCP reassembly on generated streams: every byte delivered is checked.

use crate::util::*;
use stormwatch_flow::{ChecksumMode, FlowConfig, OverlapPolicy};
use stormwatch_model::{Direction, TcpState};

const TS: Direction = Direction::ToServer;
const TC: Direction = Direction::ToClient;

fn run() -> Run {
    Run::new(FlowConfig::default())
}

#[test]
fn in_order_both_directions() {
    let c = Conn::new(1000, 90_000);
    let mut r = run();
    c.handshake(&mut r);
    r.feed(&c.c_data(0, b"GET / HTTP/1.0\r\n"));
    r.feed(&c.c_data(16, b"\r\n"));
    r.feed(&c.s_seg(0, 18, ACK | PSH, b"HTTP/1.0 200 OK\r\n"));
    r.feed(&c.s_seg(17, 18, ACK | PSH, b"\r\nhello"));
    r.feed(&c.c_seg(18, 24, ACK, b""));
    r.finish();
    assert_eq!(r.rec.stream(TS).data, b"GET / HTTP/1.0\r\n\r\n");
    assert_eq!(r.rec.stream(TC).data, b"HTTP/1.0 200 OK\r\n\r\nhello");
    assert!(r.rec.stream(TS).gaps.is_empty() && r.rec.stream(TC).gaps.is_empty());
    let rec = &r.rec.ended[0];
    let tcp = rec.tcp.as_ref().unwrap();
    assert_eq!(tcp.state, TcpState::Established);
    assert!(tcp.handshake_done);
    assert_eq!(tcp.history, "ShADd");
    assert_eq!(r.rec.users[0].stream_bytes, 18 + 24);
    // In-order data costs no held memory once acknowledged.
    assert_eq!(r.counter("tcp.out_of_order_segments"), 0);
}

#[test]
fn in_order_data_is_delivered_with_its_packet() {
    let c = Conn::new(5, 6);
    let mut r = run();
    c.handshake(&mut r);
    r.feed(&c.c_data(0, b"abc"));
    // Delivered before any acknowledgement.
    assert_eq!(r.rec.stream(TS).data, b"abc");
    assert!(r.rec.packets.last().unwrap().stream_tracked);
}

#[test]
fn out_of_order_is_held_until_the_hole_fills() {
    let c = Conn::new(7, 8);
    let mut r = run();
    c.handshake(&mut r);
    r.feed(&c.c_data(10, b"KLMNO"));
    r.feed(&c.c_data(5, b"FGHIJ"));
    assert!(
        r.rec.stream(TS).data.is_empty(),
        "nothing before the hole fills"
    );
    r.feed(&c.c_data(15, b"PQ"));
    r.feed(&c.c_data(0, b"ABCDE"));
    assert_eq!(r.rec.stream(TS).data, b"ABCDEFGHIJKLMNOPQ");
    assert_eq!(r.counter("tcp.out_of_order_segments"), 3);
    r.finish();
    assert_eq!(r.rec.stream(TS).data, b"ABCDEFGHIJKLMNOPQ");
    assert_eq!(r.counter("tcp.reassembly_memuse"), 0);
}

#[test]
fn duplicates_are_delivered_once() {
    let c = Conn::new(100, 200);
    let mut r = run();
    c.handshake(&mut r);
    r.feed(&c.c_data(0, b"hello "));
    r.feed(&c.c_data(0, b"hello ")); // retransmission of delivered data
    r.feed(&c.c_data(12, b"!!")); // held
    r.feed(&c.c_data(12, b"!!")); // duplicate of held data
    r.feed(&c.c_data(6, b"world!"));
    r.feed(&c.c_data(3, b"lo wor")); // partial retransmission
    r.finish();
    assert_eq!(r.rec.stream(TS).data, b"hello world!!!");
    assert!(r.counter("tcp.retransmission") >= 3);
    assert_eq!(
        r.rec
            .anomaly_count("stream.reassembly_overlap_different_data"),
        0
    );
    assert_eq!(
        r.rec.anomaly_count("stream.pkt_retransmission"),
        1,
        "once per flow"
    );
    assert!(r.rec.ended[0].tcp.as_ref().unwrap().history.contains('T'));
}

#[test]
fn retransmission_with_different_data_is_an_anomaly_and_not_redelivered() {
    let c = Conn::new(100, 200);
    let mut r = run();
    c.handshake(&mut r);
    r.feed(&c.c_data(0, b"harmless"));
    r.feed(&c.c_data(0, b"EVILDATA"));
    r.finish();
    assert_eq!(r.rec.stream(TS).data, b"harmless");
    assert_eq!(
        r.rec
            .anomaly_count("stream.reassembly_overlap_different_data"),
        1
    );
    assert_eq!(r.counter("tcp.overlap_different_data"), 1);
}

/// Scenario A (hole at 0..2): held s1 [2,6) "aaaa", s2 [4,10) "bbbbbb",
/// s3 [2,10) "cccccccc", then s4 [0,4) "dddd" fills the hole.
fn scenario_a(policy: OverlapPolicy) -> Vec<u8> {
    let c = Conn::new(3_000, 4_000);
    let mut r = Run::new(FlowConfig {
        overlap_policy: policy,
        ..FlowConfig::default()
    });
    c.handshake(&mut r);
    r.feed(&c.c_data(2, b"aaaa"));
    r.feed(&c.c_data(4, b"bbbbbb"));
    r.feed(&c.c_data(2, b"cccccccc"));
    r.feed(&c.c_data(0, b"dddd"));
    assert_eq!(
        r.rec
            .anomaly_count("stream.reassembly_overlap_different_data"),
        1,
        "{policy:?}"
    );
    r.rec.stream(TS).data
}

/// Scenario B (hole at 0..1): held s1 [1,5) "xxxx", s2 [3,7) "yyyy", then "z" at 0.
fn scenario_b(policy: OverlapPolicy) -> Vec<u8> {
    let c = Conn::new(u32::MAX - 2, 1);
    let mut r = Run::new(FlowConfig {
        overlap_policy: policy,
        ..FlowConfig::default()
    });
    c.handshake(&mut r);
    r.feed(&c.c_data(1, b"xxxx"));
    r.feed(&c.c_data(3, b"yyyy"));
    r.feed(&c.c_data(0, b"z"));
    r.rec.stream(TS).data
}

#[test]
fn overlap_policy_first() {
    assert_eq!(scenario_a(OverlapPolicy::First), b"ddaaaabbbb");
    assert_eq!(scenario_b(OverlapPolicy::First), b"zxxxxyy");
}

#[test]
fn overlap_policy_last() {
    assert_eq!(scenario_a(OverlapPolicy::Last), b"ddddcccccc");
    assert_eq!(scenario_b(OverlapPolicy::Last), b"zxxyyyy");
}

#[test]
fn overlap_policy_bsd_is_the_default() {
    assert_eq!(scenario_a(OverlapPolicy::Bsd), b"ddddaacccc");
    assert_eq!(scenario_b(OverlapPolicy::Bsd), b"zxxxxyy");
    assert_eq!(FlowConfig::default().overlap_policy, OverlapPolicy::Bsd);
}

#[test]
fn overlap_policy_linux() {
    assert_eq!(scenario_a(OverlapPolicy::Linux), b"ddddcccccc");
    assert_eq!(scenario_b(OverlapPolicy::Linux), b"zxxxxyy");
}

#[test]
fn overlap_policy_windows() {
    assert_eq!(scenario_a(OverlapPolicy::Windows), b"ddddaacccc");
    assert_eq!(scenario_b(OverlapPolicy::Windows), b"zxxxxyy");
}

#[test]
fn missing_segment_becomes_a_gap_when_acked() {
    let c = Conn::new(10, 20);
    let mut r = run();
    c.handshake(&mut r);
    r.feed(&c.c_data(0, b"0123"));
    // [4, 11) lost in capture
    r.feed(&c.c_data(11, b"BCDE"));
    assert_eq!(r.rec.stream(TS).data, b"0123");
    r.feed(&c.s_seg(0, 15, ACK, b"")); // server has everything up to 15
    let s = r.rec.stream(TS);
    assert_eq!(s.data, b"0123~~~~~~~BCDE");
    assert_eq!(s.gaps, vec![(4, 7)]);
    r.feed(&c.c_data(15, b"FG"));
    r.finish();
    assert_eq!(r.rec.stream(TS).data, b"0123~~~~~~~BCDEFG");
    let tcp = r.rec.ended[0].tcp.clone().unwrap();
    assert_eq!(tcp.gap_bytes_ts, 7);
    assert_eq!(tcp.gap_bytes_tc, 0);
    assert!(tcp.history.contains('G'));
    assert_eq!(r.counter("tcp.reassembly_gap"), 1);
    assert_eq!(r.counter("tcp.reassembly_gap_bytes"), 7);
    assert_eq!(r.rec.anomaly_count("stream.reassembly_seq_gap"), 1);
}

#[test]
fn ack_beyond_all_data_gaps_to_the_ack() {
    let c = Conn::new(10, 20);
    let mut r = run();
    c.handshake(&mut r);
    r.feed(&c.c_data(0, b"ab"));
    r.feed(&c.s_seg(0, 9, ACK, b""));
    assert_eq!(r.rec.stream(TS).gaps, vec![(2, 7)]);
    // The data the ACK covered shows up late: a retransmission, not delivered twice.
    r.feed(&c.c_data(2, b"cdefghi"));
    r.feed(&c.c_data(9, b"j"));
    assert_eq!(r.rec.stream(TS).data, b"ab~~~~~~~j");
}

#[test]
fn held_data_at_end_is_flushed_with_gaps() {
    let c = Conn::new(1, 1);
    let mut r = run();
    c.handshake(&mut r);
    r.feed(&c.c_data(3, b"de"));
    r.feed(&c.c_data(9, b"jk"));
    assert!(r.rec.stream(TS).data.is_empty());
    r.finish();
    let s = r.rec.stream(TS);
    assert_eq!(s.data, b"~~~de~~~~jk");
    assert_eq!(s.gaps, vec![(0, 3), (5, 4)]);
}

#[test]
fn sequence_wrap_at_2_pow_32() {
    for isn in [u32::MAX, u32::MAX - 3, u32::MAX - 10, 0x7fff_fffe] {
        let c = Conn::new(isn, u32::MAX - 1);
        let mut r = run();
        c.handshake(&mut r);
        // Out of order across the wrap, then in order.
        r.feed(&c.c_data(6, b"6789"));
        r.feed(&c.c_data(0, b"012345"));
        r.feed(&c.c_data(10, b"abcdefghij"));
        r.feed(&c.s_seg(0, 20, ACK | PSH, b"server data across the wrap"));
        r.finish();
        assert_eq!(r.rec.stream(TS).data, b"0123456789abcdefghij", "isn {isn}");
        assert_eq!(
            r.rec.stream(TC).data,
            b"server data across the wrap",
            "isn {isn}"
        );
        assert!(r.rec.stream(TS).gaps.is_empty());
    }
}

#[test]
fn midstream_pickup_starts_at_the_first_byte_seen() {
    let c = Conn::new(50_000, 60_000);
    let mut r = run();
    r.feed(&c.c_seg(100, 200, ACK | PSH, b"middle of "));
    r.feed(&c.s_seg(200, 110, ACK | PSH, b"reply"));
    r.feed(&c.c_seg(110, 205, ACK | PSH, b"a stream"));
    r.finish();
    assert_eq!(r.rec.stream(TS).data, b"middle of a stream");
    assert_eq!(r.rec.stream(TC).data, b"reply");
    let p = &r.rec.packets[0];
    assert!(p.established && p.stream_tracked);
    assert_eq!(p.tcp_state, TcpState::Established);
    let tcp = r.rec.ended[0].tcp.clone().unwrap();
    assert!(!tcp.handshake_done);
    assert_eq!(r.counter("tcp.midstream_pickups"), 1);
}

#[test]
fn midstream_disabled_counts_but_does_not_reassemble() {
    let c = Conn::new(50_000, 60_000);
    let mut r = Run::new(FlowConfig {
        midstream: false,
        ..FlowConfig::default()
    });
    r.feed(&c.c_seg(100, 200, ACK | PSH, b"middle of "));
    r.feed(&c.s_seg(200, 110, ACK | PSH, b"reply"));
    r.finish();
    assert!(r.rec.streams.is_empty());
    assert!(r.rec.packets.iter().all(|p| !p.stream_tracked));
    let rec = &r.rec.ended[0];
    assert_eq!(rec.pkts_toserver, 1);
    assert_eq!(rec.pkts_toclient, 1);
    assert_eq!(rec.tcp.as_ref().unwrap().state, TcpState::None);
}

#[test]
fn rst_closes_and_ends_the_senders_stream() {
    let c = Conn::new(1, 1);
    let mut r = run();
    c.handshake(&mut r);
    r.feed(&c.c_data(0, b"before"));
    r.feed(&c.s_seg(0, 6, ACK | PSH, b"reply"));
    r.feed(&c.s_seg(5, 6, RST | ACK, b""));
    assert_eq!(r.rec.packets.last().unwrap().tcp_state, TcpState::Closed);
    // Nothing the resetting side sends afterwards counts...
    r.feed(&c.s_seg(5, 6, ACK | PSH, b"late"));
    // ...while the other side's data that was in flight is still reassembled.
    r.feed(&c.c_data(6, b" in flight"));
    r.finish();
    assert_eq!(r.rec.stream(TS).data, b"before in flight");
    assert_eq!(r.rec.stream(TC).data, b"reply");
    let rec = &r.rec.ended[0];
    assert_eq!(rec.state.as_str(), "closed");
    assert!(rec.tcp.as_ref().unwrap().history.contains('r'));
    assert_eq!(r.counter("tcp.data_after_rst"), 1);
}

#[test]
fn rst_with_implausible_sequence_is_ignored() {
    let c = Conn::new(1, 1);
    let mut r = run();
    c.handshake(&mut r);
    r.feed(&c.c_data(0, b"abc"));
    r.feed(&c.s_seg(0x4000_0000, 3, RST, b""));
    assert_eq!(
        r.rec.packets.last().unwrap().tcp_state,
        TcpState::Established
    );
    r.feed(&c.c_data(3, b"def"));
    assert_eq!(r.rec.stream(TS).data, b"abcdef");
    assert_eq!(r.rec.anomaly_count("stream.rst_invalid_seq"), 1);
}

#[test]
fn fin_from_client_first() {
    let c = Conn::new(1, 1);
    let mut r = run();
    c.handshake(&mut r);
    r.feed(&c.c_seg(0, 0, ACK | PSH | FIN, b"bye"));
    assert_eq!(r.rec.packets.last().unwrap().tcp_state, TcpState::CloseWait);
    r.feed(&c.s_seg(0, 4, ACK | PSH, b"ok"));
    r.feed(&c.s_seg(2, 4, ACK | FIN, b""));
    assert_eq!(r.rec.packets.last().unwrap().tcp_state, TcpState::LastAck);
    r.feed(&c.c_seg(4, 3, ACK, b""));
    assert_eq!(r.rec.packets.last().unwrap().tcp_state, TcpState::Closed);
    r.finish();
    assert_eq!(r.rec.stream(TS).data, b"bye");
    assert_eq!(r.rec.stream(TC).data, b"ok");
    assert!(r.rec.stream(TS).gaps.is_empty(), "the FIN is not a gap");
    let rec = &r.rec.ended[0];
    assert_eq!(rec.state.as_str(), "closed");
    assert_eq!(rec.tcp.as_ref().unwrap().history, "ShADFdf");
}

#[test]
fn fin_from_server_first() {
    let c = Conn::new(1, 1);
    let mut r = run();
    c.handshake(&mut r);
    r.feed(&c.s_seg(0, 0, ACK | PSH | FIN, b"bye"));
    assert_eq!(r.rec.packets.last().unwrap().tcp_state, TcpState::FinWait1);
    r.feed(&c.c_seg(0, 4, ACK, b""));
    assert_eq!(r.rec.packets.last().unwrap().tcp_state, TcpState::FinWait2);
    r.feed(&c.c_seg(0, 4, ACK | FIN, b""));
    assert_eq!(r.rec.packets.last().unwrap().tcp_state, TcpState::TimeWait);
    r.feed(&c.s_seg(4, 1, ACK, b""));
    assert_eq!(r.rec.packets.last().unwrap().tcp_state, TcpState::Closed);
    r.finish();
    assert_eq!(r.rec.stream(TC).data, b"bye");
    assert!(r.rec.stream(TC).gaps.is_empty());
    assert_eq!(r.rec.ended[0].tcp.as_ref().unwrap().history, "ShAdfFa");
}

#[test]
fn simultaneous_fin_goes_through_closing() {
    let c = Conn::new(1, 1);
    let mut r = run();
    c.handshake(&mut r);
    r.feed(&c.s_seg(0, 0, ACK | FIN, b""));
    r.feed(&c.c_seg(0, 0, ACK | FIN, b"")); // does not ack the server FIN
    assert_eq!(r.rec.packets.last().unwrap().tcp_state, TcpState::Closing);
    r.feed(&c.s_seg(1, 1, ACK, b""));
    r.feed(&c.c_seg(1, 1, ACK, b""));
    assert_eq!(r.rec.packets.last().unwrap().tcp_state, TcpState::Closed);
}

#[test]
fn zero_window_probe_is_not_stream_data() {
    let c = Conn::new(1, 1);
    let mut r = run();
    c.handshake(&mut r);
    r.feed(&c.c_data(0, b"abc"));
    r.feed(&c.s_seg_win(0, 3, ACK, 0, b"")); // window closed
    r.feed(&c.c_data(3, b"X")); // probe carrying a byte the receiver drops
    r.feed(&c.s_seg_win(0, 3, ACK, 0, b""));
    r.feed(&c.s_seg_win(0, 3, ACK, 8192, b"")); // window opens
    r.feed(&c.c_data(3, b"defg"));
    r.finish();
    assert_eq!(r.rec.stream(TS).data, b"abcdefg");
    assert_eq!(r.counter("tcp.zero_window_probe"), 1);
    assert!(r.rec.ended[0].tcp.as_ref().unwrap().history.contains('w'));
}

#[test]
fn tcp_fast_open_data_on_the_syn_is_stream_data() {
    let c = Conn::new(777, 888);
    let mut r = run();
    r.feed(&tcp(
        c.c,
        c.s,
        c.cp,
        c.sp,
        c.c_isn,
        0,
        SYN,
        64_240,
        b"GET /tfo",
    ));
    // The server accepts the data: its SYN/ACK acknowledges it.
    r.feed(&tcp(
        c.s,
        c.c,
        c.sp,
        c.cp,
        c.s_isn,
        c.c_isn + 1 + 8,
        SYN | ACK,
        65_535,
        b"",
    ));
    r.feed(&c.c_seg(8, 0, ACK | PSH, b" HTTP/1.1\r\n"));
    r.finish();
    assert_eq!(r.rec.stream(TS).data, b"GET /tfo HTTP/1.1\r\n");
    assert_eq!(
        r.rec.ended[0].tcp.as_ref().unwrap().state,
        TcpState::Established
    );
}

#[test]
fn tcp_fast_open_refused_data_is_resent_and_delivered_once() {
    let c = Conn::new(777, 888);
    let mut r = run();
    r.feed(&tcp(c.c, c.s, c.cp, c.sp, c.c_isn, 0, SYN, 64_240, b"GET"));
    // Cookie refused: only the SYN is acknowledged, the client sends the data again.
    r.feed(&c.synack());
    r.feed(&c.c_seg(0, 0, ACK | PSH, b"GET /"));
    r.finish();
    assert_eq!(r.rec.stream(TS).data, b"GET /");
    assert_eq!(
        r.rec
            .anomaly_count("stream.reassembly_overlap_different_data"),
        0
    );
}

#[test]
fn syn_retransmission_and_keepalive() {
    let c = Conn::new(41, 42);
    let mut r = run();
    r.feed(&c.syn());
    r.feed(&c.syn());
    r.feed(&c.synack());
    r.feed(&c.ack());
    r.feed(&c.c_data(0, b"data"));
    r.feed(&c.c_seg(3, 0, ACK, b"\0")); // keep-alive: one old byte
    r.feed(&c.c_seg(3, 0, ACK, b"")); // keep-alive without data
    r.feed(&c.c_data(4, b"more"));
    r.finish();
    assert_eq!(r.rec.stream(TS).data, b"datamore");
    assert_eq!(r.counter("tcp.syn_retransmission"), 1);
    assert_eq!(r.counter("tcp.keepalive"), 1);
    assert_eq!(r.counter("tcp.retransmission"), 0);
}

#[test]
fn split_handshake_establishes() {
    // SYN, SYN (from the server), SYN/ACK (from the client), ACK.
    let c = Conn::new(100, 500);
    let mut r = run();
    r.feed(&c.syn());
    r.feed(&tcp(c.s, c.c, c.sp, c.cp, c.s_isn, 0, SYN, 65_535, b""));
    r.feed(&tcp(
        c.c,
        c.s,
        c.cp,
        c.sp,
        c.c_isn,
        c.s_isn + 1,
        SYN | ACK,
        64_240,
        b"",
    ));
    r.feed(&c.s_seg(0, 0, ACK, b""));
    assert_eq!(
        r.rec.packets.last().unwrap().tcp_state,
        TcpState::Established
    );
    r.feed(&c.c_data(0, b"hi"));
    r.finish();
    assert_eq!(r.rec.stream(TS).data, b"hi");
    assert_eq!(r.rec.ended.len(), 1);
    assert_eq!(
        r.rec.anomaly_count("stream.3whs_synack_in_wrong_direction"),
        0
    );
}

#[test]
fn synack_from_the_client_without_server_syn_is_an_anomaly() {
    let c = Conn::new(100, 500);
    let mut r = run();
    r.feed(&c.syn());
    r.feed(&tcp(
        c.c,
        c.s,
        c.cp,
        c.sp,
        c.c_isn,
        12345,
        SYN | ACK,
        64_240,
        b"",
    ));
    assert_eq!(
        r.rec.anomaly_count("stream.3whs_synack_in_wrong_direction"),
        1
    );
    assert_eq!(r.rec.packets.last().unwrap().tcp_state, TcpState::SynSent);
}

#[test]
fn depth_limits_delivery() {
    let c = Conn::new(1, 1);
    let mut r = Run::new(FlowConfig {
        reassembly_depth_bytes: 10,
        ..FlowConfig::default()
    });
    c.handshake(&mut r);
    r.feed(&c.c_data(0, b"0123456"));
    r.feed(&c.c_data(7, b"789abcdef"));
    r.feed(&c.c_data(16, b"ghij"));
    r.finish();
    assert_eq!(r.rec.stream(TS).data, b"0123456789");
    assert_eq!(r.counter("tcp.reassembly_depth_reached"), 1);
    assert!(!r.rec.packets.last().unwrap().stream_tracked);
}

#[test]
fn data_beyond_the_depth_arriving_early_does_not_end_delivery() {
    let c = Conn::new(1, 1);
    let mut r = Run::new(FlowConfig {
        reassembly_depth_bytes: 10,
        ..FlowConfig::default()
    });
    c.handshake(&mut r);
    r.feed(&c.c_data(12, b"late"));
    r.feed(&c.c_data(0, b"0123"));
    r.feed(&c.c_data(4, b"456789ab"));
    r.finish();
    assert_eq!(r.rec.stream(TS).data, b"0123456789");
    assert_eq!(r.counter("tcp.reassembly_depth_reached"), 1);
}

#[test]
fn held_queue_limit_gaps_out_the_oldest_hole() {
    let c = Conn::new(1, 1);
    let mut r = Run::new(FlowConfig {
        reassembly_max_held_segments: 2,
        ..FlowConfig::default()
    });
    c.handshake(&mut r);
    r.feed(&c.c_data(2, b"cd"));
    r.feed(&c.c_data(6, b"gh"));
    assert!(r.rec.stream(TS).data.is_empty());
    r.feed(&c.c_data(10, b"kl")); // third held segment: over the limit
    assert_eq!(r.rec.stream(TS).data, b"~~cd");
    assert_eq!(r.rec.stream(TS).gaps, vec![(0, 2)]);
    r.feed(&c.c_data(4, b"ef"));
    r.finish();
    assert_eq!(r.rec.stream(TS).data, b"~~cdefgh~~kl");
    assert_eq!(r.counter("tcp.reassembly_held_limit"), 1);
    assert_eq!(r.rec.anomaly_count("stream.reassembly_insert_limit"), 1);
}

#[test]
fn reassembly_memcap_gaps_out_and_raises_one_engine_anomaly() {
    let mut r = Run::new(FlowConfig {
        reassembly_memcap_bytes: 600,
        retransmit_check_bytes: 0,
        ..FlowConfig::default()
    });
    for n in 0..5u16 {
        let mut c = Conn::new(1, 1);
        c.cp = 1000 + n;
        c.handshake(&mut r);
        r.feed(&c.c_data(10, &[b'x'; 400]));
    }
    r.finish();
    assert!(r.counter("tcp.reassembly_memcap") >= 1);
    let engine = r
        .rec
        .anomalies
        .iter()
        .filter(|a| a.event == "stream.reassembly_memcap")
        .count();
    assert_eq!(engine, 1);
    // Every flow still delivered its bytes after a 10-byte gap.
    for s in r.rec.streams.values() {
        assert_eq!(s.gaps, vec![(0, 10)]);
        assert_eq!(s.data.len(), 410);
    }
    assert_eq!(r.counter("tcp.reassembly_memuse"), 0);
}

#[test]
fn bad_checksum_counts_but_does_not_reassemble() {
    let c = Conn::new(1, 1);
    let mut r = Run::new(FlowConfig {
        checksum: ChecksumMode::On,
        ..FlowConfig::default()
    });
    c.handshake(&mut r);
    let mut bad = c.c_data(0, b"evil");
    let n = bad.len();
    bad[n - 1] ^= 0xff; // payload changed after the checksum was computed
    r.feed(&bad);
    assert!(!r.rec.packets.last().unwrap().stream_tracked);
    r.feed(&c.c_data(0, b"good"));
    r.finish();
    assert_eq!(r.rec.stream(TS).data, b"good");
    let rec = &r.rec.ended[0];
    assert_eq!(rec.pkts_toserver, 4);
    assert!(rec.tcp.as_ref().unwrap().history.contains('C'));
    assert_eq!(r.counter("tcp.checksum_invalid"), 1);
}

#[test]
fn ipv6_stream() {
    let c = Conn::v6(9, 99);
    let mut r = run();
    c.handshake(&mut r);
    r.feed(&c.c_data(4, b"5678"));
    r.feed(&c.c_data(0, b"1234"));
    r.finish();
    assert_eq!(r.rec.stream(TS).data, b"12345678");
    assert_eq!(r.rec.ended[0].key.src, ip("2001:db8::1"));
}

/// Delivered bytes that lie in a capture the table was given (`add_backing`) are
/// referred to, not copied; retransmissions are still compared byte for byte —
/// whole, partial, and across several kept segments.
#[test]
fn retransmissions_are_checked_against_the_backing_capture() {
    use std::sync::Arc;
    let c = Conn::new(7_000, 9_000);
    let body: Vec<u8> = (0..600u32).map(|i| b'a' + (i % 26) as u8).collect();
    let mut evil = body.clone();
    evil[450] = b'#';
    // Every packet lies in one buffer, as frames lie in a memory-mapped capture.
    let mut pkts = vec![c.syn(), c.synack(), c.ack()];
    pkts.push(c.c_data(0, &body[..300])); // 3: delivered, referred to
    pkts.push(c.c_data(300, &body[300..600])); // 4: delivered, referred to
    pkts.push(c.c_data(0, &body[..300])); // 5: same bytes again
    pkts.push(c.c_data(100, &body[100..500])); // 6: same bytes, spans both
    pkts.push(c.c_data(200, &evil[200..500])); // 7: one byte differs (at 450)
    let mut file = Vec::new();
    let mut at = Vec::new();
    for p in &pkts {
        at.push((file.len(), p.len()));
        file.extend_from_slice(p);
    }
    let file = Arc::new(file);
    let mut r = run();
    r.table.add_backing(file.clone());
    let feed = |r: &mut Run, i: usize| {
        let (o, n) = at[i];
        r.feed(&file[o..o + n]);
    };
    for i in 0..5 {
        feed(&mut r, i);
    }
    // Two 300-byte pieces are kept without copying them.
    assert!(
        r.counter("tcp.reassembly_memuse") < 600,
        "kept bytes were copied: {}",
        r.counter("tcp.reassembly_memuse")
    );
    feed(&mut r, 5);
    feed(&mut r, 6);
    let diff = |r: &Run| {
        r.rec
            .anomaly_count("stream.reassembly_overlap_different_data")
    };
    assert_eq!(diff(&r), 0, "identical retransmissions");
    feed(&mut r, 7);
    assert_eq!(diff(&r), 1, "the changed byte is found");
    assert_eq!(r.counter("tcp.overlap_different_data"), 1);
    r.finish();
    assert_eq!(r.rec.stream(TS).data, body, "first bytes win");
}

/// The same checks without a backing (bytes copied) find the same difference.
#[test]
fn retransmissions_are_checked_without_a_backing_too() {
    let c = Conn::new(7_000, 9_000);
    let body: Vec<u8> = (0..600u32).map(|i| b'a' + (i % 26) as u8).collect();
    let mut evil = body.clone();
    evil[450] = b'#';
    let mut r = run();
    c.handshake(&mut r);
    r.feed(&c.c_data(0, &body[..300]));
    r.feed(&c.c_data(300, &body[300..600]));
    r.feed(&c.c_data(100, &body[100..500]));
    assert_eq!(r.counter("tcp.overlap_different_data"), 0);
    r.feed(&c.c_data(200, &evil[200..500]));
    assert_eq!(r.counter("tcp.overlap_different_data"), 1);
}
