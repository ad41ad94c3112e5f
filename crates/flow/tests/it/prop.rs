//! Property-style tests with a seeded RNG: shuffled, duplicated, re-cut streams are
//! delivered exactly; hostile input never panics and never breaks stream offsets.

use crate::util::*;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use stormwatch_flow::{ChecksumMode, FlowConfig};
use stormwatch_model::{Direction, Timestamp};

/// Cuts `len` bytes into random segments, adds random overlapping re-cuts and
/// duplicates, and shuffles.
fn cut(rng: &mut ChaCha8Rng, len: usize) -> Vec<(usize, usize)> {
    let mut segs = Vec::new();
    let mut off = 0;
    while off < len {
        let n = rng.gen_range(1..=400).min(len - off);
        segs.push((off, n));
        off += n;
    }
    let extra = rng.gen_range(0..=segs.len());
    for _ in 0..extra {
        let s = rng.gen_range(0..len);
        let n = rng.gen_range(1..=300).min(len - s);
        segs.push((s, n));
    }
    let dups = rng.gen_range(0..=segs.len() / 2);
    for _ in 0..dups {
        let i = rng.gen_range(0..segs.len());
        segs.push(segs[i]);
    }
    segs.shuffle(rng);
    segs
}

#[test]
fn shuffled_duplicated_streams_are_delivered_exactly() {
    for seed in 0..60u64 {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let policy = POLICIES[rng.gen_range(0..POLICIES.len())];
        let c_isn = if rng.gen_bool(0.5) {
            rng.r#gen::<u32>()
        } else {
            u32::MAX - rng.gen_range(0..3000)
        };
        let s_isn = rng.r#gen::<u32>();
        let conn = Conn::new(c_isn, s_isn);
        let c_len = rng.gen_range(1..6000);
        let s_len = rng.gen_range(0..3000);
        let c_data: Vec<u8> = (0..c_len).map(|_| rng.r#gen()).collect();
        let s_data: Vec<u8> = (0..s_len).map(|_| rng.r#gen()).collect();
        let mut pkts: Vec<Vec<u8>> = Vec::new();
        for (o, n) in cut(&mut rng, c_len) {
            pkts.push(conn.c_seg(o as u32, 0, 0x18, &c_data[o..o + n]));
        }
        if s_len > 0 {
            for (o, n) in cut(&mut rng, s_len) {
                pkts.push(conn.s_seg(o as u32, 0, 0x18, &s_data[o..o + n]));
            }
        }
        pkts.shuffle(&mut rng);
        let mut r = Run::new(FlowConfig {
            overlap_policy: policy,
            ..FlowConfig::default()
        });
        conn.handshake(&mut r);
        for p in &pkts {
            r.feed(p);
        }
        r.finish();
        let ts = r.rec.stream(Direction::ToServer);
        assert!(ts.gaps.is_empty(), "seed {seed}");
        assert!(ts.data == c_data, "seed {seed}: client stream differs");
        let tc = r.rec.stream(Direction::ToClient);
        assert!(tc.gaps.is_empty(), "seed {seed}");
        assert!(tc.data == s_data, "seed {seed}: server stream differs");
        assert_eq!(
            r.rec
                .anomaly_count("stream.reassembly_overlap_different_data"),
            0,
            "seed {seed}"
        );
        assert_eq!(r.counter("tcp.reassembly_memuse"), 0, "seed {seed}");
    }
}

#[test]
fn missing_segments_become_gaps_of_their_exact_length() {
    for seed in 100..130u64 {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let conn = Conn::new(rng.r#gen(), rng.r#gen());
        let len = rng.gen_range(100..4000);
        let data: Vec<u8> = (0..len).map(|_| rng.gen_range(b'a'..=b'z')).collect();
        let mut segs = Vec::new();
        let mut off = 0;
        while off < len {
            let n = rng.gen_range(1..=200).min(len - off);
            segs.push((off, n));
            off += n;
        }
        // Drop some segments (never the last, so the end is known).
        let mut expected = data.clone();
        let mut kept = Vec::new();
        for (i, &(o, n)) in segs.iter().enumerate() {
            if i + 1 < segs.len() && rng.gen_bool(0.2) {
                expected[o..o + n].fill(GAP);
            } else {
                kept.push((o, n));
            }
        }
        kept.shuffle(&mut rng);
        let mut r = Run::new(FlowConfig::default());
        conn.handshake(&mut r);
        for (o, n) in kept {
            r.feed(&conn.c_seg(o as u32, 0, 0x18, &data[o..o + n]));
        }
        r.finish();
        let s = r.rec.stream(Direction::ToServer);
        assert!(s.data == expected, "seed {seed}");
        let gap_total: u64 = s.gaps.iter().map(|&(_, n)| u64::from(n)).sum();
        let expected_gap = expected.iter().filter(|&&b| b == GAP).count() as u64;
        assert_eq!(gap_total, expected_gap, "seed {seed}");
        assert_eq!(
            r.rec.ended[0].tcp.as_ref().unwrap().gap_bytes_ts,
            expected_gap
        );
    }
}

/// Random TCP/UDP/fragment traffic between a few endpoints with hostile flags,
/// sequence numbers, lengths and timestamps, under small limits. Must not panic;
/// `Rec` asserts that every stream's offsets stay contiguous.
#[test]
fn hostile_traffic_never_panics() {
    let hosts = [
        "10.0.0.1",
        "10.0.0.2",
        "10.0.0.3",
        "2001:db8::1",
        "2001:db8::2",
    ];
    for seed in 0..6u64 {
        let mut rng = ChaCha8Rng::seed_from_u64(1000 + seed);
        let cfg = FlowConfig {
            max_flows: 20,
            overlap_policy: POLICIES[seed as usize % 5],
            defrag_policy: POLICIES[(seed as usize + 2) % 5],
            reassembly_depth_bytes: rng.gen_range(0..20_000),
            reassembly_max_held_segments: rng.gen_range(1..16),
            reassembly_max_held_bytes: rng.gen_range(1..20_000),
            reassembly_memcap_bytes: rng.gen_range(1_000..100_000),
            retransmit_check_bytes: rng.gen_range(0..4096),
            defrag_max_trackers: 4,
            defrag_memcap_bytes: 10_000,
            checksum: if seed % 2 == 0 {
                ChecksumMode::Auto
            } else {
                ChecksumMode::On
            },
            midstream: seed % 3 != 0,
            ..FlowConfig::default()
        };
        let mut r = Run::new(cfg);
        let mut seqs = [rng.r#gen::<u32>(), rng.r#gen::<u32>()];
        for _ in 0..8000 {
            let v6 = rng.gen_bool(0.3);
            let pick = |rng: &mut ChaCha8Rng| {
                if v6 {
                    ip(hosts[rng.gen_range(3..5)])
                } else {
                    ip(hosts[rng.gen_range(0..3)])
                }
            };
            let (a, b) = (pick(&mut rng), pick(&mut rng));
            let sp = rng.gen_range(1..4u16);
            let dp = rng.gen_range(1..4u16);
            let len = if rng.gen_bool(0.7) {
                rng.gen_range(0..64)
            } else {
                rng.gen_range(0..1500)
            };
            let payload: Vec<u8> = (0..len).map(|_| rng.r#gen()).collect();
            let side = rng.gen_range(0..2);
            let seq = match rng.gen_range(0..4) {
                0 => rng.r#gen(),
                1 => seqs[side].wrapping_sub(rng.gen_range(0..3000)),
                _ => seqs[side].wrapping_add(rng.gen_range(0..3000)),
            };
            seqs[side] = seqs[side].wrapping_add(len as u32);
            let ack = if rng.gen_bool(0.5) {
                seqs[1 - side].wrapping_add(rng.gen_range(0..5000))
            } else {
                rng.r#gen()
            };
            let pkt = match rng.gen_range(0..10) {
                0..=6 => tcp(a, b, sp, dp, seq, ack, rng.r#gen(), rng.r#gen(), &payload),
                7 => udp(a, b, sp, dp, &payload),
                8 if !v6 => {
                    let field: u16 = rng.r#gen::<u16>() & 0x3fff;
                    ipv4(
                        [10, 0, 0, 1],
                        [10, 0, 0, 2],
                        if rng.gen_bool(0.5) { 17 } else { 6 },
                        rng.gen_range(0..4),
                        field,
                        &payload,
                    )
                }
                _ => {
                    let mut junk = payload.clone();
                    junk.truncate(rng.gen_range(0..40.min(junk.len() + 1)));
                    junk
                }
            };
            // Occasionally corrupt a byte, and let time wander (including backwards).
            let mut pkt = pkt;
            if !pkt.is_empty() && rng.gen_bool(0.05) {
                let i = rng.gen_range(0..pkt.len());
                pkt[i] ^= rng.r#gen::<u8>();
            }
            r.now += match rng.gen_range(0..20) {
                0 => -2_000_000_000,
                1 => 400_000_000_000,
                _ => rng.gen_range(0..50_000_000),
            };
            let d = stormwatch_wire::decode_ip(&pkt);
            r.table
                .process(Timestamp(r.now), pkt.len() as u32, &d, &mut r.rec);
            assert!(r.table.active_flows() <= 20);
        }
        r.finish();
        assert_eq!(r.table.active_flows(), 0);
        assert_eq!(r.counter("tcp.reassembly_memuse"), 0, "seed {seed}");
        assert_eq!(r.counter("defrag.memuse"), 0, "seed {seed}");
        let created = r.counter("flow.created");
        assert_eq!(
            created as usize,
            r.rec.ended.len(),
            "every flow ends exactly once"
        );
    }
}
