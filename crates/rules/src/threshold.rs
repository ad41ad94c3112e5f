//! `threshold` / `detection_filter` state and the `threshold.config` file
//! (`suppress`, `threshold`, `event_filter`). All windows run on packet time.

use crate::error::RulesError;
use crate::header::{AddrSet, parse_addrs};
use crate::parse::parse_threshold;
use crate::rule::{ThKind, Threshold, Track};
use rustc_hash::FxHashMap;
use std::net::IpAddr;
use std::path::Path;
use stormwatch_model::{NANOS_PER_SEC, Timestamp};

/// Counting state of one tracked key.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct State {
    pub(crate) init: bool,
    pub(crate) start: Timestamp,
    pub(crate) count: u64,
    /// Backoff: the count at which the next alert fires.
    pub(crate) next: u64,
    /// detection_filter `unique_on`: distinct values seen in the window.
    pub(crate) uniques: Vec<u16>,
}

/// Most distinct `unique_on` values remembered per key.
const MAX_UNIQUES: usize = 1024;

/// Advances `st` by one match at `ts`; true when the match may alert.
pub(crate) fn step(th: &Threshold, st: &mut State, ts: Timestamp, unique: Option<u16>) -> bool {
    let window = i64::from(th.seconds).saturating_mul(NANOS_PER_SEC);
    let expired = !st.init || ts.nanos_since(st.start) > window;
    match th.kind {
        ThKind::Backoff { multiplier } => {
            if !st.init {
                st.init = true;
                st.next = u64::from(th.count);
            }
            st.count += 1;
            if st.count == st.next {
                st.next = st.next.saturating_mul(u64::from(multiplier));
                true
            } else {
                false
            }
        }
        ThKind::Limit => {
            if expired {
                st.init = true;
                st.start = ts;
                st.count = 0;
            }
            st.count += 1;
            st.count <= u64::from(th.count)
        }
        ThKind::Threshold => {
            if expired {
                st.init = true;
                st.start = ts;
                st.count = 0;
            }
            st.count += 1;
            if st.count >= u64::from(th.count) {
                st.count = 0;
                true
            } else {
                false
            }
        }
        ThKind::Both => {
            if expired {
                st.init = true;
                st.start = ts;
                st.count = 0;
            }
            st.count += 1;
            st.count == u64::from(th.count)
        }
        ThKind::DetectionFilter => {
            if expired {
                st.init = true;
                st.start = ts;
                st.count = 0;
                st.uniques.clear();
            }
            match unique {
                Some(u) => {
                    if !st.uniques.contains(&u) && st.uniques.len() < MAX_UNIQUES {
                        st.uniques.push(u);
                    }
                    st.count = st.uniques.len() as u64;
                }
                None => st.count += 1,
            }
            st.count > u64::from(th.count)
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum TrackKey {
    Src(IpAddr),
    Dst(IpAddr),
    Rule,
    Both(IpAddr, IpAddr),
}

/// Global (not per-flow) threshold state, bounded by `threshold_entries`.
#[derive(Debug, Default)]
pub(crate) struct ThresholdTable {
    map: FxHashMap<(u32, u32, TrackKey), State>,
}

impl ThresholdTable {
    /// One match of rule `key`; `None` when the table is full (the match alerts).
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn step(
        &mut self,
        key: (u32, u32),
        th: &Threshold,
        src: IpAddr,
        dst: IpAddr,
        ts: Timestamp,
        unique: Option<u16>,
        max: usize,
    ) -> Option<bool> {
        let tk = match th.track {
            Track::BySrc => TrackKey::Src(src),
            Track::ByDst => TrackKey::Dst(dst),
            Track::ByRule | Track::ByFlow => TrackKey::Rule,
            Track::ByBoth => TrackKey::Both(src, dst),
        };
        let k = (key.0, key.1, tk);
        if !self.map.contains_key(&k) && self.map.len() >= max {
            return None;
        }
        let st = self.map.entry(k).or_default();
        Some(step(th, st, ts, unique))
    }
}

#[derive(Clone, Debug)]
struct Suppress {
    gid: u32,
    sid: u32,
    /// (by_src, by_dst) and the addresses; None = suppress all.
    track: Option<(bool, bool, AddrSet)>,
}

/// Parsed `threshold.config`.
#[derive(Clone, Debug, Default)]
pub(crate) struct ThresholdFile {
    suppress: Vec<Suppress>,
    overrides: Vec<((u32, u32), Threshold)>,
}

fn id_match(want: u32, have: u32) -> bool {
    want == 0 || want == have
}

impl ThresholdFile {
    pub(crate) fn load(path: &Path) -> Result<ThresholdFile, RulesError> {
        let text = std::fs::read_to_string(path).map_err(|source| RulesError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        Self::parse(path, &text)
    }

    pub(crate) fn parse(path: &Path, text: &str) -> Result<ThresholdFile, RulesError> {
        let mut f = ThresholdFile::default();
        let vars = crate::config::Vars::default();
        for (i, raw) in text.lines().enumerate() {
            let line = raw.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let e = |m: String| RulesError::BadConfig {
                path: path.to_path_buf(),
                line: i + 1,
                message: m,
            };
            let (word, rest) = line.split_once(char::is_whitespace).ok_or_else(|| {
                e("expected `suppress|threshold|event_filter gen_id G, sig_id S, ...`".into())
            })?;
            let mut gid = None;
            let mut sid = None;
            let mut others: Vec<&str> = Vec::new();
            let mut track = None;
            let mut ip = None;
            for p in rest.split(',').map(str::trim) {
                let (k, v) = p
                    .split_once(char::is_whitespace)
                    .map(|(k, v)| (k, v.trim()))
                    .ok_or_else(|| e(format!("expected `name value`, found {p:?}")))?;
                match k {
                    "gen_id" => {
                        gid =
                            Some(v.parse::<u32>().map_err(|_| {
                                e(format!("expected a numeric gen_id, found {v:?}"))
                            })?)
                    }
                    "sig_id" => {
                        sid =
                            Some(v.parse::<u32>().map_err(|_| {
                                e(format!("expected a numeric sig_id, found {v:?}"))
                            })?)
                    }
                    "track" if word == "suppress" => track = Some(v),
                    "ip" if word == "suppress" => ip = Some(v),
                    _ => others.push(p),
                }
            }
            let (Some(gid), Some(sid)) = (gid, sid) else {
                return Err(e("expected gen_id and sig_id".into()));
            };
            match word {
                "suppress" => {
                    let t = match (track, ip) {
                        (None, None) => None,
                        (Some(t), Some(ip)) => {
                            let set = parse_addrs(ip, &vars).map_err(|m| e(format!("ip: {m}")))?;
                            let (s, d) = match t {
                                "by_src" => (true, false),
                                "by_dst" => (false, true),
                                "by_either" => (true, true),
                                o => {
                                    return Err(e(format!(
                                        "expected track by_src, by_dst or by_either, found {o:?}"
                                    )));
                                }
                            };
                            Some((s, d, set))
                        }
                        _ => return Err(e("expected both `track` and `ip`, or neither".into())),
                    };
                    f.suppress.push(Suppress { gid, sid, track: t });
                }
                "threshold" | "event_filter" => {
                    let th = parse_threshold(&others.join(", "), false).map_err(e)?;
                    f.overrides.push(((gid, sid), th));
                }
                "rate_filter" => {
                    return Err(e("rate_filter is not supported (IPS action changes)".into()));
                }
                o => {
                    return Err(e(format!(
                        "expected suppress, threshold or event_filter, found {o:?}"
                    )));
                }
            }
        }
        Ok(f)
    }

    pub(crate) fn suppressed(&self, key: (u32, u32), src: IpAddr, dst: IpAddr) -> bool {
        self.suppress.iter().any(|s| {
            id_match(s.gid, key.0)
                && id_match(s.sid, key.1)
                && match &s.track {
                    None => true,
                    Some((bs, bd, set)) => (*bs && set.contains(src)) || (*bd && set.contains(dst)),
                }
        })
    }

    pub(crate) fn override_for(&self, key: (u32, u32)) -> Option<Threshold> {
        self.overrides
            .iter()
            .rev()
            .find(|(k, _)| id_match(k.0, key.0) && id_match(k.1, key.1))
            .map(|x| x.1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn th(kind: ThKind, count: u32, seconds: u32) -> Threshold {
        Threshold {
            kind,
            track: Track::BySrc,
            count,
            seconds,
            unique_on: None,
        }
    }

    fn run(t: &Threshold, times: &[i64]) -> Vec<bool> {
        let mut st = State::default();
        times
            .iter()
            .map(|s| step(t, &mut st, Timestamp::from_secs_nanos(*s, 0), None))
            .collect()
    }

    #[test]
    fn limit_threshold_both() {
        let t = th(ThKind::Limit, 2, 60);
        assert_eq!(
            run(&t, &[0, 1, 2, 3, 61, 62]),
            [true, true, false, false, true, true]
        );
        let t = th(ThKind::Threshold, 3, 60);
        assert_eq!(
            run(&t, &[0, 1, 2, 3, 4, 5]),
            [false, false, true, false, false, true]
        );
        let t = th(ThKind::Both, 2, 60);
        assert_eq!(
            run(&t, &[0, 1, 2, 3, 70, 71]),
            [false, true, false, false, false, true]
        );
    }

    #[test]
    fn backoff_counts() {
        let t = th(ThKind::Backoff { multiplier: 2 }, 1, 0);
        let alerts = run(&t, &vec![0; 6676]).iter().filter(|x| **x).count();
        assert_eq!(alerts, 13);
        let t = th(ThKind::Backoff { multiplier: 5 }, 5, 0);
        assert_eq!(run(&t, &vec![0; 6676]).iter().filter(|x| **x).count(), 5);
    }

    #[test]
    fn detection_filter_unique() {
        let t = Threshold {
            unique_on: Some(crate::rule::UniqueOn::SrcPort),
            ..th(ThKind::DetectionFilter, 3, 60)
        };
        let mut st = State::default();
        let ts = Timestamp::from_secs_nanos(1, 0);
        let r: Vec<bool> = [1u16, 2, 1, 2, 2, 1]
            .iter()
            .map(|p| step(&t, &mut st, ts, Some(*p)))
            .collect();
        assert!(r.iter().all(|x| !x));
        assert!(!step(&t, &mut st, ts, Some(3)));
        assert!(step(&t, &mut st, ts, Some(4)));
    }

    #[test]
    fn config_file() {
        let f = ThresholdFile::parse(
            Path::new("t.config"),
            "# c\nsuppress gen_id 1, sig_id 5\nsuppress gen_id 1, sig_id 6, track by_src, ip 10.0.0.0/8\nthreshold gen_id 1, sig_id 7, type limit, track by_src, count 1, seconds 60\n",
        )
        .unwrap();
        let a: IpAddr = "10.1.1.1".parse().unwrap();
        let b: IpAddr = "8.8.8.8".parse().unwrap();
        assert!(f.suppressed((1, 5), b, b));
        assert!(f.suppressed((1, 6), a, b));
        assert!(!f.suppressed((1, 6), b, a));
        assert_eq!(f.override_for((1, 7)).unwrap().kind, ThKind::Limit);
        let e = ThresholdFile::parse(Path::new("t.config"), "x\nsuppress sig_id 1\n").unwrap_err();
        assert!(e.to_string().starts_with("t.config:1:"), "{e}");
    }
}
