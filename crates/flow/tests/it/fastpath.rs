//! The shortcut for common TCP segments (`FlowTable::set_tcp_fast_path`) against the
//! general path: the same randomized connections (in-order runs interrupted by
//! retransmissions with the same or different bytes, holes filled late or never,
//! acknowledgements of unseen data, keep-alives, zero windows, stale timestamps,
//! FIN, RST, SYN, sequence numbers wrapping) must give the same callbacks — every
//! packet context, stream byte, gap, anomaly and flow record — and the same counters.

use crate::util::*;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::sync::Arc;
use stormwatch_flow::{Delivery, FlowConfig};
use stormwatch_model::Direction;

/// One side of a generated connection.
#[derive(Default)]
struct Side {
    /// Every byte this side's stream carries (generated as it grows).
    data: Vec<u8>,
    /// Offset of the next new byte.
    sent: u32,
    /// Ranges skipped so far (sent later, or never).
    holes: Vec<(u32, u32)>,
    tsval: u32,
    closed: bool,
}

struct Gen {
    rng: ChaCha8Rng,
    conn: Conn,
    sides: [Side; 2],
    timestamps: bool,
    pkts: Vec<Vec<u8>>,
}

impl Gen {
    fn bytes(&mut self, d: usize, upto: u32) {
        while self.sides[d].data.len() < upto as usize {
            let b = self.rng.r#gen::<u8>();
            self.sides[d].data.push(b);
        }
    }

    /// A segment of side `d` at stream offset `rel` (relative to ISN + 1).
    #[allow(clippy::too_many_arguments)]
    fn seg(
        &mut self,
        d: usize,
        rel: u32,
        ack: u32,
        flags: u8,
        win: u16,
        ts: Option<u32>,
        p: &[u8],
    ) {
        let c = self.conn;
        let (src, dst, sp, dp, isn, peer_isn) = if d == 0 {
            (c.c, c.s, c.cp, c.sp, c.c_isn, c.s_isn)
        } else {
            (c.s, c.c, c.sp, c.cp, c.s_isn, c.c_isn)
        };
        let opts = ts.map(|v| ts_option(v, 0)).unwrap_or_default();
        let ack_no = if flags & ACK != 0 {
            peer_isn.wrapping_add(1).wrapping_add(ack)
        } else {
            0
        };
        self.pkts.push(tcp_opts(
            src,
            dst,
            sp,
            dp,
            isn.wrapping_add(1).wrapping_add(rel),
            ack_no,
            flags,
            win,
            &opts,
            p,
        ));
    }

    fn ts(&mut self, d: usize) -> Option<u32> {
        if !self.timestamps {
            return None;
        }
        if self.rng.gen_bool(0.03) {
            // Stale (or zero): PAWS rejects it.
            return Some(self.sides[d].tsval.wrapping_sub(self.rng.gen_range(0..3)));
        }
        self.sides[d].tsval = self.sides[d].tsval.wrapping_add(self.rng.gen_range(0..3));
        Some(self.sides[d].tsval)
    }

    fn handshake(&mut self) {
        let (t0, t1) = (self.ts(0), self.ts(1));
        self.seg(0, u32::MAX, 0, SYN, 64_240, t0, b"");
        self.seg(1, u32::MAX, 0, SYN | ACK, 65_535, t1, b"");
        let t0 = self.ts(0);
        self.seg(0, 0, 0, ACK, 64_240, t0, b"");
    }

    /// The peer's acknowledgement as this side would send it: mostly everything the
    /// peer sent, sometimes lagging, rarely beyond (data the capture lost).
    fn ack_for(&mut self, d: usize) -> u32 {
        let peer = self.sides[1 - d].sent;
        match self.rng.gen_range(0..100) {
            0..=69 => peer,
            70..=95 => peer.saturating_sub(self.rng.gen_range(0..3000)),
            _ => peer.wrapping_add(self.rng.gen_range(1..2000)),
        }
    }

    fn event(&mut self) {
        let d = usize::from(self.rng.gen_bool(0.4));
        if self.sides[d].closed && self.rng.gen_bool(0.8) {
            return;
        }
        let ack = self.ack_for(d);
        let win = if self.rng.gen_bool(0.03) { 0 } else { 65_000 };
        let ts = self.ts(d);
        let psh = if self.rng.gen_bool(0.5) { PSH } else { 0 };
        let sent = self.sides[d].sent;
        match self.rng.gen_range(0..100) {
            // In order.
            0..=64 => {
                let n = if self.rng.gen_bool(0.05) {
                    1
                } else {
                    self.rng.gen_range(1..=1460)
                };
                self.bytes(d, sent + n);
                let p = self.sides[d].data[sent as usize..(sent + n) as usize].to_vec();
                self.seg(d, sent, ack, ACK | psh, win, ts, &p);
                self.sides[d].sent = sent + n;
            }
            // Pure ACK.
            65..=79 => self.seg(d, sent, ack, ACK, win, ts, b""),
            // Retransmission, sometimes with other bytes.
            80..=85 if sent > 0 => {
                let o = sent.saturating_sub(self.rng.gen_range(1..=3000));
                let n = self.rng.gen_range(1..=(sent - o).min(1460));
                let mut p = self.sides[d].data[o as usize..(o + n) as usize].to_vec();
                if self.rng.gen_bool(0.15) {
                    let i = self.rng.gen_range(0..p.len());
                    p[i] ^= 0x5a;
                }
                self.seg(d, o, ack, ACK | psh, win, ts, &p);
            }
            // A hole: these bytes come later, or never.
            86..=88 => {
                let n = self.rng.gen_range(1..=2000);
                self.bytes(d, sent + n);
                self.sides[d].holes.push((sent, n));
                self.sides[d].sent = sent + n;
            }
            // A hole filled.
            89..=92 if !self.sides[d].holes.is_empty() => {
                let i = self.rng.gen_range(0..self.sides[d].holes.len());
                let (o, n) = self.sides[d].holes.swap_remove(i);
                let p = self.sides[d].data[o as usize..(o + n) as usize].to_vec();
                self.seg(d, o, ack, ACK | psh, win, ts, &p);
            }
            // Keep-alive (one old byte, or none).
            93 if sent > 0 => {
                let p = if self.rng.gen_bool(0.5) {
                    vec![self.sides[d].data[sent as usize - 1]]
                } else {
                    Vec::new()
                };
                self.seg(d, sent - 1, ack, ACK, win, ts, &p);
            }
            // A zero-window probe's byte, or an ACK of 0.
            94 => {
                self.bytes(d, sent + 1);
                let p = vec![self.sides[d].data[sent as usize]];
                self.seg(d, sent, ack, ACK, win, ts, &p);
                self.sides[d].sent = sent + 1;
            }
            // Acknowledgement number 0 (far from the peer's sequence numbers, so
            // that it is not taken as acknowledging a gigabyte the capture lost).
            95 if (1 << 30..u32::MAX - (1 << 30)).contains(&self.conn_peer_isn(d)) => {
                let zero = u32::MAX.wrapping_sub(self.conn_peer_isn(d));
                self.seg(d, sent, zero, ACK, win, ts, b"")
            }
            // FIN, maybe with data.
            96 if self.rng.gen_bool(0.3) => {
                let n = self.rng.gen_range(0..=100);
                self.bytes(d, sent + n);
                let p = self.sides[d].data[sent as usize..(sent + n) as usize].to_vec();
                self.seg(d, sent, ack, ACK | FIN, win, ts, &p);
                self.sides[d].sent = sent + n;
                self.sides[d].closed = true;
            }
            97 if self.rng.gen_bool(0.2) => {
                self.seg(d, sent, ack, ACK | RST, win, ts, b"");
                self.sides[d].closed = true;
            }
            98 if self.rng.gen_bool(0.3) => self.seg(d, u32::MAX, 0, SYN, win, ts, b""),
            // Data without ACK.
            99 => {
                let n = self.rng.gen_range(1..=100);
                self.bytes(d, sent + n);
                let p = self.sides[d].data[sent as usize..(sent + n) as usize].to_vec();
                self.seg(d, sent, 0, psh, win, ts, &p);
                self.sides[d].sent = sent + n;
            }
            _ => {}
        }
    }

    fn conn_peer_isn(&self, d: usize) -> u32 {
        if d == 0 {
            self.conn.s_isn
        } else {
            self.conn.c_isn
        }
    }
}

/// Feeds `pkts` (slices of one buffer, which the table may keep references into)
/// and returns everything observable: the callbacks, the counters, and how many
/// segments took the shortcut.
fn observe(
    cfg: &FlowConfig,
    fast: bool,
    buf: &Arc<Vec<u8>>,
    spans: &[(usize, usize)],
    backing: bool,
) -> (String, String, u64) {
    let mut r = Run::new(cfg.clone());
    r.table.set_tcp_fast_path(fast);
    if backing {
        r.table.add_backing(buf.clone());
    }
    for &(o, n) in spans {
        r.feed(&buf[o..o + n]);
    }
    let mid = format!("{:?}", r.table.counters());
    r.finish();
    let hits = r.table.tcp_fast_path_segments();
    (
        format!("{:?}", r.rec),
        format!("{mid}\n{:?}", r.table.counters()),
        hits,
    )
}

#[test]
fn fast_path_and_general_path_agree_on_every_callback_and_counter() {
    let mut total_hits = 0u64;
    let mut total_pkts = 0usize;
    for seed in 0..300u64 {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let c_isn = if rng.gen_bool(0.4) {
            u32::MAX - rng.gen_range(0..20_000)
        } else {
            rng.r#gen()
        };
        let s_isn = if rng.gen_bool(0.3) {
            u32::MAX - rng.gen_range(0..20_000)
        } else {
            rng.r#gen()
        };
        let conn = if rng.gen_bool(0.2) {
            Conn::v6(c_isn, s_isn)
        } else {
            Conn::new(c_isn, s_isn)
        };
        let cfg = FlowConfig {
            overlap_policy: POLICIES[rng.gen_range(0..POLICIES.len())],
            delivery: if rng.gen_bool(0.15) {
                Delivery::OnAck
            } else {
                Delivery::Immediate
            },
            reassembly_depth_bytes: match rng.gen_range(0..4) {
                0 => 0,
                1 => rng.gen_range(500..40_000),
                _ => 1 << 20,
            },
            retransmit_check_bytes: match rng.gen_range(0..4) {
                0 => 0,
                1 => rng.gen_range(1..3000),
                _ => 64 << 10,
            },
            reassembly_max_held_segments: if rng.gen_bool(0.2) { 4 } else { 2048 },
            reassembly_memcap_bytes: if rng.gen_bool(0.1) {
                rng.gen_range(2000..50_000)
            } else {
                256 << 20
            },
            ..FlowConfig::default()
        };
        let mut g = Gen {
            rng,
            conn,
            sides: [Side::default(), Side::default()],
            timestamps: false,
            pkts: Vec::new(),
        };
        g.timestamps = g.rng.gen_bool(0.3);
        g.sides[0].tsval = g.rng.r#gen();
        g.sides[1].tsval = g.rng.r#gen();
        // A handshake, or a pickup midstream (from a pure ACK, so that both
        // streams' starting points are sane).
        if g.rng.gen_bool(0.8) {
            g.handshake();
        } else {
            let ts = g.ts(0);
            g.seg(0, 0, 0, ACK, 64_240, ts, b"");
        }
        let events = g.rng.gen_range(20..400);
        for _ in 0..events {
            g.event();
        }
        let mut buf = Vec::new();
        let mut spans = Vec::new();
        for p in &g.pkts {
            spans.push((buf.len(), p.len()));
            buf.extend_from_slice(p);
        }
        let buf = Arc::new(buf);
        let backing = g.rng.gen_bool(0.5);
        let (slow, slow_counters, slow_hits) = observe(&cfg, false, &buf, &spans, backing);
        let (fast, fast_counters, hits) = observe(&cfg, true, &buf, &spans, backing);
        assert_eq!(slow_hits, 0);
        assert!(slow == fast, "seed {seed}: callbacks differ");
        assert_eq!(slow_counters, fast_counters, "seed {seed}: counters differ");
        total_hits += hits;
        total_pkts += spans.len();
    }
    // The shortcut carried a good share of the segments (35% with these seeds), so
    // the comparison exercised it.
    assert!(
        total_hits * 3 > total_pkts as u64,
        "{total_hits} of {total_pkts} segments took the shortcut"
    );
}

#[test]
fn in_order_bulk_takes_the_fast_path() {
    let c = Conn::new(u32::MAX - 3000, 7);
    let data: Vec<u8> = (0..20_000u32).map(|i| (i % 251) as u8).collect();
    let mut r = Run::new(FlowConfig::default());
    c.handshake(&mut r);
    let mut off = 0;
    for chunk in data.chunks(1460) {
        r.feed(&c.c_data(off, chunk));
        off += chunk.len() as u32;
        r.feed(&c.s_seg(0, off, ACK, b""));
    }
    // Every data segment and every acknowledgement after the handshake.
    assert_eq!(r.table.tcp_fast_path_segments(), 2 * 14);
    r.finish();
    assert_eq!(r.rec.stream(Direction::ToServer).data, data);
    assert_eq!(r.rec.ended[0].tcp.as_ref().unwrap().history, "ShADa");
    assert_eq!(r.counter("tcp.reassembly_memuse"), 0);
}
