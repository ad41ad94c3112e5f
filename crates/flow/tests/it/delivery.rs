//! When reassembled bytes are handed on: immediately (stormwatch's default) or, as
//! Suricata's IDS mode does, once the peer acknowledges them (`Delivery::OnAck`);
//! and TCP timestamp (PAWS) checks.

use crate::util::*;
use stormwatch_flow::{Delivery, FlowConfig};
use stormwatch_model::Direction;

const TS: Direction = Direction::ToServer;
const TC: Direction = Direction::ToClient;

fn on_ack() -> Run {
    Run::new(FlowConfig {
        delivery: Delivery::OnAck,
        ..FlowConfig::default()
    })
}

#[test]
fn delivery_names_round_trip() {
    for d in [Delivery::Immediate, Delivery::OnAck] {
        assert_eq!(Delivery::from_name(d.as_str()), Some(d));
    }
    assert_eq!(Delivery::from_name("ON_ACK"), Some(Delivery::OnAck));
    assert_eq!(Delivery::from_name("later"), None);
}

#[test]
fn immediate_hands_raw_and_app_the_same_chunks_at_once() {
    let c = Conn::new(10, 20);
    let mut r = Run::new(FlowConfig::default());
    c.handshake(&mut r);
    r.feed(&c.c_data(0, b"USER x\r\n"));
    // Packet 4 (after the three handshake packets) released it to both.
    assert_eq!(
        r.rec.app_releases(TS),
        vec![(4, b"USER x\r\n".to_vec(), false)]
    );
    assert_eq!(r.rec.raw_releases(TS), r.rec.app_releases(TS));
    assert_eq!(r.rec.raw_stream(TS).data, b"USER x\r\n");
}

#[test]
fn on_ack_waits_for_the_acknowledgement_then_the_next_packet_of_its_own_side() {
    let c = Conn::new(1000, 5000);
    let mut r = on_ack();
    c.handshake(&mut r);
    r.feed(&c.c_data(0, b"GET / HTTP/1.0\r\n\r\n")); // packet 4
    assert!(
        r.rec.stream(TS).data.is_empty(),
        "nothing before the server acknowledges"
    );
    // Packet 5: the server acknowledges all 18 bytes and sends its answer.
    r.feed(&c.s_seg(0, 18, ACK | PSH, b"HTTP/1.0 200 OK\r\n\r\n"));
    assert_eq!(
        r.rec.app_releases(TS),
        vec![(5, b"GET / HTTP/1.0\r\n\r\n".to_vec(), false)],
        "the acknowledging packet releases the request to the application layer"
    );
    assert!(
        r.rec.raw_releases(TS).is_empty(),
        "raw inspection waits for a packet in the data's own direction"
    );
    assert!(r.rec.stream(TC).data.is_empty());
    // Packet 6: the client acknowledges the answer.
    r.feed(&c.c_seg(18, 19, ACK, b""));
    assert_eq!(
        r.rec.raw_releases(TS),
        vec![(6, b"GET / HTTP/1.0\r\n\r\n".to_vec(), false)]
    );
    assert_eq!(
        r.rec.app_releases(TC),
        vec![(6, b"HTTP/1.0 200 OK\r\n\r\n".to_vec(), false)]
    );
    // The answer's raw release has no server packet after it: the end of the flow
    // releases it.
    assert!(r.rec.raw_releases(TC).is_empty());
    r.finish();
    assert_eq!(
        r.rec.raw_releases(TC),
        vec![(6, b"HTTP/1.0 200 OK\r\n\r\n".to_vec(), true)]
    );
    assert_eq!(r.rec.stream(TS).data, r.rec.raw_stream(TS).data);
    assert_eq!(r.rec.stream(TC).data, r.rec.raw_stream(TC).data);
    assert_eq!(r.counter("tcp.reassembly_memuse"), 0);
}

#[test]
fn on_ack_releases_unacknowledged_data_when_the_flow_ends() {
    let c = Conn::new(7, 9);
    let mut r = on_ack();
    c.handshake(&mut r);
    r.feed(&c.c_data(0, b"never acknowledged"));
    assert!(r.rec.stream(TS).data.is_empty());
    r.finish();
    let app = r.rec.app_releases(TS);
    assert_eq!(app.len(), 1);
    assert_eq!(app[0].1, b"never acknowledged");
    assert!(app[0].2, "released by the end of the flow");
    assert_eq!(r.rec.raw_stream(TS).data, b"never acknowledged");
}

#[test]
fn on_ack_releases_every_chunk_once_and_in_order() {
    let c = Conn::new(u32::MAX - 3, 77); // the client's sequence numbers wrap
    let mut r = on_ack();
    c.handshake(&mut r);
    let mut off = 0u32;
    let mut sent = Vec::new();
    for i in 0..20u8 {
        let data = vec![b'a' + i; 10 + i as usize];
        r.feed(&c.c_data(off, &data));
        off += data.len() as u32;
        sent.extend_from_slice(&data);
        if i % 3 == 2 {
            // Acknowledge everything so far, sometimes twice.
            r.feed(&c.s_seg(0, off, ACK, b""));
            r.feed(&c.s_seg(0, off, ACK, b""));
        }
    }
    r.feed(&c.c_seg(off, 0, ACK | FIN, b""));
    r.feed(&c.s_seg(0, off + 1, ACK | FIN, b""));
    r.feed(&c.c_seg(off + 1, 1, ACK, b""));
    r.finish();
    assert_eq!(r.rec.stream(TS).data, sent);
    assert_eq!(r.rec.raw_stream(TS).data, sent);
    assert!(r.rec.stream(TS).gaps.is_empty());
    assert_eq!(r.rec.packet_end_out_of_order, 0);
}

#[test]
fn paws_rejects_an_old_timestamp_and_its_data() {
    let c = Conn::new(100, 200);
    let mut r = Run::new(FlowConfig::default());
    let seg =
        |from_client: bool, rel: u32, rel_ack: u32, flags: u8, ts: (u32, u32), data: &[u8]| {
            let (src, dst, sp, dp, isn, peer) = if from_client {
                (c.c, c.s, c.cp, c.sp, c.c_isn, c.s_isn)
            } else {
                (c.s, c.c, c.sp, c.cp, c.s_isn, c.c_isn)
            };
            let (seq, ack) = if flags & SYN != 0 && flags & ACK == 0 {
                (isn, 0)
            } else if flags & SYN != 0 {
                (isn, peer.wrapping_add(1))
            } else {
                (
                    isn.wrapping_add(1).wrapping_add(rel),
                    peer.wrapping_add(1).wrapping_add(rel_ack),
                )
            };
            tcp_opts(
                src,
                dst,
                sp,
                dp,
                seq,
                ack,
                flags,
                64_000,
                &ts_option(ts.0, ts.1),
                data,
            )
        };
    r.feed(&seg(true, 0, 0, SYN, (1000, 0), b""));
    r.feed(&seg(false, 0, 0, SYN | ACK, (5000, 1000), b""));
    r.feed(&seg(true, 0, 0, ACK, (1001, 5000), b""));
    r.feed(&seg(true, 0, 0, ACK | PSH, (1002, 5000), b"good"));
    // Same sequence space further on, but a timestamp older than the last one.
    r.feed(&seg(true, 4, 0, ACK | PSH, (900, 5000), b"evil"));
    r.feed(&seg(true, 4, 0, ACK | PSH, (1003, 5000), b"fine"));
    r.finish();
    assert_eq!(r.rec.stream(TS).data, b"goodfine");
    assert_eq!(r.counter("tcp.invalid_timestamp"), 1);
    assert_eq!(r.rec.anomaly_count("stream.pkt_invalid_timestamp"), 1);
}
