//! Beaconing (E4, weaker than an IRC channel): connections from one client to
//! one server endpoint at regular intervals with regular sizes, on any
//! protocol. Scored RITA-style from the connection start times and the bytes
//! the client sent: for intervals and for sizes, a skew score (1 − |Bowley
//! skewness|) and a dispersion score (1 − MAD/median); the beacon score is
//! their mean. A pair's first connection only sets a bit in a filter; the
//! series is kept from its second connection on.

use crate::Ctx;
use crate::util::{FifoMap, ep, hash64, num};
use std::collections::VecDeque;
use std::net::IpAddr;
use stormwatch_model::{
    AppProto, C2Info, FlowRecord, IpProto, Notice, NoticeKind, Stage, Timestamp,
};

type Key = (IpAddr, IpAddr, u16, u8);

struct Series {
    samples: VecDeque<(Timestamp, u64)>,
    count: u32,
    first: Timestamp,
    last: Timestamp,
    app: AppProto,
    emitted: bool,
}

/// Bits of the seen-once filter (128 KiB).
const SEEN_BITS: usize = 1 << 20;

/// Beacon scoring state.
pub(crate) struct Beacons {
    series: FifoMap<Key, Series>,
    /// Pairs seen once (a hashed bit each): a series is only kept from a
    /// pair's second connection on, so one-off connections cost no table entry.
    /// Cleared when half full.
    seen_once: Vec<u64>,
    seen_set: usize,
    /// Scoring buffers, reused.
    scratch: Scratch,
    /// Series scored.
    pub scored: u64,
    /// Beacons reported.
    pub reported: u64,
}

/// The score of a series of connection starts and sizes (0..1), with the
/// median interval in seconds. `None` with fewer than four intervals.
#[cfg(test)]
pub(crate) fn score(samples: &[(Timestamp, u64)]) -> Option<(f64, f64)> {
    score_with(samples, &mut Scratch::default())
}

/// Buffers reused by every scoring (no allocation per flow once warm).
#[derive(Default)]
pub(crate) struct Scratch {
    sorted: Vec<(Timestamp, u64)>,
    gaps: Vec<f64>,
    sizes: Vec<f64>,
    dev: Vec<f64>,
}

impl Scratch {
    fn heap_bytes(&self) -> usize {
        self.sorted.capacity() * 16
            + (self.gaps.capacity() + self.sizes.capacity() + self.dev.capacity()) * 8
    }
}

/// [`score`] with caller-owned buffers.
pub(crate) fn score_with(samples: &[(Timestamp, u64)], sc: &mut Scratch) -> Option<(f64, f64)> {
    sc.sorted.clear();
    sc.sorted.extend_from_slice(samples);
    sc.sorted.sort_unstable();
    sc.gaps.clear();
    sc.gaps
        .extend(sc.sorted.windows(2).map(|w| w[1].0.secs_since(w[0].0)));
    if sc.gaps.len() < 4 {
        return None;
    }
    sc.sizes.clear();
    sc.sizes.extend(sc.sorted.iter().map(|x| x.1 as f64));
    let (ts_skew, ts_disp, median_gap) = dist_scores(&mut sc.gaps, &mut sc.dev);
    let (ds_skew, ds_disp, _) = dist_scores(&mut sc.sizes, &mut sc.dev);
    if median_gap <= 0.0 {
        return None;
    }
    let score = (ts_skew + ts_disp + ds_skew + ds_disp) / 4.0;
    Some((median_gap, score.clamp(0.0, 1.0)))
}

/// (skew score, dispersion score, median) of a sample.
fn dist_scores(v: &mut [f64], dev: &mut Vec<f64>) -> (f64, f64, f64) {
    v.sort_unstable_by(f64::total_cmp);
    let q = |p: f64| -> f64 {
        let idx = p * (v.len() - 1) as f64;
        let lo = idx.floor() as usize;
        let hi = idx.ceil() as usize;
        let a = v.get(lo).copied().unwrap_or(0.0);
        let b = v.get(hi).copied().unwrap_or(a);
        a + (b - a) * (idx - lo as f64)
    };
    let (q1, q2, q3) = (q(0.25), q(0.5), q(0.75));
    let skew = if q3 - q1 > f64::EPSILON {
        (q1 + q3 - 2.0 * q2) / (q3 - q1)
    } else {
        0.0
    };
    dev.clear();
    dev.extend(v.iter().map(|x| (x - q2).abs()));
    dev.sort_unstable_by(f64::total_cmp);
    let mad = dev.get(dev.len() / 2).copied().unwrap_or(0.0);
    // A tight middle half (interquartile range within 10 % of the median) is
    // regular whatever its shape: Bowley's skewness swings to ±1 as soon as
    // the median sits on a quartile, as with repeated identical sizes.
    let skew = if mad == 0.0 || q3 - q1 <= 0.1 * q2.abs() {
        0.0
    } else {
        skew
    };
    let disp = if q2 > 0.0 {
        (1.0 - mad / q2).max(0.0)
    } else if mad == 0.0 {
        1.0
    } else {
        0.0
    };
    ((1.0 - skew.abs()).max(0.0), disp, q2)
}

impl Beacons {
    pub(crate) fn new(max: usize) -> Beacons {
        Beacons {
            series: FifoMap::new(max),
            seen_once: vec![0; SEEN_BITS / 64],
            seen_set: 0,
            scratch: Scratch::default(),
            scored: 0,
            reported: 0,
        }
    }

    pub(crate) fn evicted(&self) -> u64 {
        self.series.evicted
    }

    pub(crate) fn len(&self) -> usize {
        self.series.len()
    }

    pub(crate) fn heap_bytes(&self, samples: usize) -> usize {
        self.series
            .capacity_bytes(std::mem::size_of::<(Key, Series)>() + samples * 16)
            + SEEN_BITS / 8
            + self.scratch.heap_bytes()
    }

    /// One finished connection.
    pub(crate) fn on_flow_end(&mut self, rec: &FlowRecord, ctx: &mut Ctx<'_>) {
        let cfg = ctx.cfg;
        let k = &rec.key;
        if !(k.proto == IpProto::TCP || k.proto == IpProto::UDP)
            || (cfg.beacon_home_only && !ctx.is_home(k.src))
            || cfg.beacon_ignore_ports.contains(&k.dst_port)
        {
            return;
        }
        // A TCP attempt nobody answered is not a check-in (answered is enough:
        // `handshake_done` is false when a capture's checksums are offloaded).
        if k.proto == IpProto::TCP && rec.pkts_toclient == 0 {
            return;
        }
        let key: Key = (k.src, k.dst, k.dst_port, k.proto.0);
        if !self.series.contains(&key) {
            let h = hash64(&key) as usize % SEEN_BITS;
            let (w, b) = (h / 64, 1u64 << (h % 64));
            let Some(word) = self.seen_once.get_mut(w) else {
                return;
            };
            if *word & b == 0 {
                *word |= b;
                self.seen_set += 1;
                if self.seen_set > SEEN_BITS / 2 {
                    self.seen_once.iter_mut().for_each(|x| *x = 0);
                    self.seen_set = 0;
                }
                return;
            }
        }
        let sample = (rec.start, rec.bytes_toserver);
        // Created at the pair's second connection: the first one is counted
        // but its time is not known (the filter keeps one bit).
        let (s, _) = self.series.entry_or_insert_with(key, || Series {
            samples: VecDeque::new(),
            count: 1,
            first: rec.start,
            last: rec.start,
            app: rec.app_proto,
            emitted: false,
        });
        s.samples.push_back(sample);
        while s.samples.len() > cfg.beacon_samples_max.max(5) {
            s.samples.pop_front();
        }
        s.count = s.count.saturating_add(1);
        s.first = s.first.min(rec.start);
        s.last = s.last.max(rec.start);
        if rec.app_proto.is_known() {
            s.app = rec.app_proto;
        }
        if s.emitted
            || s.count < cfg.beacon_min_connections
            || s.last.secs_since(s.first) < cfg.beacon_min_span_secs as f64
        {
            return;
        }
        self.scored += 1;
        let Some((interval, sc)) = score_with(s.samples.make_contiguous(), &mut self.scratch)
        else {
            return;
        };
        if sc < cfg.beacon_min_score {
            return;
        }
        s.emitted = true;
        let identifier = format!(
            "beacon:{}->{}/{}",
            k.src,
            ep(k.dst, k.dst_port),
            k.proto.eve_name().to_ascii_lowercase()
        );
        if !ctx.sup.first(&identifier) {
            return;
        }
        self.reported += 1;
        let span = s.last.secs_since(s.first);
        ctx.out.push(Notice {
            ts: rec.end,
            identifier,
            host: k.src,
            peer: Some(k.dst),
            flow_id: Some(rec.flow_id),
            stage: Some(Stage::E4C2),
            msg: format!(
                "beaconing: {} connects to {} ({}) every {} s, {} connections over {}, regularity {:.2}",
                k.src,
                ep(k.dst, k.dst_port),
                s.app.as_str(),
                num(interval),
                s.count,
                stormwatch_model::human_duration(span),
                sc
            ),
            kind: NoticeKind::Beacon(C2Info {
                server: k.dst,
                port: k.dst_port,
                proto: s.app,
                nick: None,
                channels: Vec::new(),
                traits: vec!["beacon".into()],
                commands: Vec::new(),
                beacon: Some((interval, sc)),
            }),
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn series(gaps_ms: &[i64], sizes: &[u64]) -> Vec<(Timestamp, u64)> {
        let mut t = 0i64;
        let mut v = vec![(Timestamp(0), sizes[0])];
        for (i, g) in gaps_ms.iter().enumerate() {
            t += g * 1_000_000;
            v.push((Timestamp(t), sizes[(i + 1) % sizes.len()]));
        }
        v
    }

    #[test]
    fn regular_series_scores_high() {
        let s = series(&[60_000; 20], &[512]);
        let (iv, sc) = score(&s).unwrap();
        assert!((iv - 60.0).abs() < 1e-9);
        assert!(sc > 0.99, "{sc}");
        // Jittered 2–3 s with near-constant sizes: still a beacon.
        let gaps: Vec<i64> = (0..25).map(|i| 2_000 + (i * 379) % 1_000).collect();
        let (_, sc) = score(&series(&gaps, &[800, 806, 798])).unwrap();
        assert!(sc >= 0.8, "{sc}");
    }

    #[test]
    fn human_browsing_scores_low() {
        let gaps = [
            300, 12_000, 800, 45_000, 2_000, 150, 90_000, 7_000, 600, 30_000,
        ];
        let sizes = [400, 12_000, 900, 60_000, 350, 2_000, 700];
        let (_, sc) = score(&series(&gaps, &sizes)).unwrap();
        assert!(sc < 0.6, "{sc}");
    }

    #[test]
    fn identical_sizes_with_a_few_outliers_stay_regular() {
        // The Slips capture: most check-ins 1,773 bytes, a few larger.
        let sizes = [
            1773, 1707, 1839, 2037, 1773, 1839, 1707, 1971, 1773, 1773, 1773, 1905, 1773, 1773,
            1773, 1773, 1707, 1773, 1707, 1773, 2049, 1707,
        ];
        let gaps = [
            3120, 3780, 3491, 2449, 3125, 2938, 3499, 2309, 3745, 2997, 2675, 3029, 2276, 2695,
            3578, 2520, 3796, 3609, 2654, 2835, 3128,
        ];
        let (iv, sc) = score(&series(&gaps, &sizes)).unwrap();
        assert!((iv - 3.0).abs() < 0.2, "{iv}");
        assert!(sc >= 0.8, "{sc}");
    }

    #[test]
    fn too_few_points() {
        assert!(score(&series(&[1_000, 1_000], &[1])).is_none());
    }
}
