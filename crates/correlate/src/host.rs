//! Per-host state: stored evidence (bounded, repeats merged), per-stage summaries of
//! what could not be stored, the host's acts towards others (scans, exploits, control,
//! eggs) and what was last reported about it.

use rustc_hash::FxHashMap;
use std::net::IpAddr;
use stormwatch_model::{
    Evidence, EvidenceRef, EvidenceSource, Label, Stage, Strength, Timestamp, Vector,
};

/// Number of stages.
pub(crate) const STAGES: usize = 7;

/// Index of a stage in per-stage arrays.
pub(crate) fn stage_index(s: Stage) -> usize {
    match s {
        Stage::E1InboundScan => 0,
        Stage::E2InboundExploit => 1,
        Stage::E3EggDownload => 2,
        Stage::E4C2 => 3,
        Stage::E5OutboundAttack => 4,
        Stage::E6NewListener => 5,
        Stage::E7Masquerade => 6,
    }
}

/// Host fact bits that must survive evidence that is not stored.
pub(crate) mod flag {
    /// Bot commands were seen in one of the host's C&C channels.
    pub const BOT_COMMANDS: u16 = 1;
    /// A propagation notice said the host attacks on the vector it was attacked by.
    pub const SAME_VECTOR_PROPAGATION: u16 = 2;
    /// One of the host's exploits was contradicted by the protocol parser.
    pub const CONTRADICTED: u16 = 4;
    /// One of the host's exploits was confirmed by the protocol parser.
    pub const CONFIRMED: u16 = 8;
    /// The host downloaded an egg after an exploit against it.
    pub const EGG_AFTER_EXPLOIT: u16 = 16;
}

/// Aggregate of one stage's evidence.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct StageSum {
    /// Records (repeats included).
    pub count: u64,
    /// First time.
    pub first: Timestamp,
    /// Last time.
    pub last: Timestamp,
    /// Records that are not weak.
    pub nonweak: u64,
    /// First non-weak time.
    pub first_nonweak: Timestamp,
    /// Last non-weak time.
    pub last_nonweak: Timestamp,
    /// Strongest.
    pub best: Strength,
    /// Peer of the first non-weak record.
    pub first_peer: Option<IpAddr>,
    /// Where the first non-weak record's vector is: a stored slot, or the
    /// unstored summary of the stage (see [`HostState::first_vector`]).
    pub first_src: FirstSrc,
}

/// Where a stage's first non-weak record is kept.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) enum FirstSrc {
    /// No non-weak record.
    None,
    /// Stored slot.
    Slot(u32),
    /// Summarised only.
    Unstored,
}

/// The summary of evidence that was not stored, with its first vector.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Unstored {
    /// Stage.
    pub stage: Stage,
    /// Aggregate.
    pub sum: StageSum,
    /// Vector of the first non-weak record.
    pub first_vector: Option<Vector>,
}

impl StageSum {
    fn empty() -> StageSum {
        StageSum {
            count: 0,
            first: Timestamp(i64::MAX),
            last: Timestamp(i64::MIN),
            nonweak: 0,
            first_nonweak: Timestamp(i64::MAX),
            last_nonweak: Timestamp(i64::MIN),
            best: Strength::Weak,
            first_peer: None,
            first_src: FirstSrc::None,
        }
    }

    fn new(e: &Evidence, repeats: u64, last: Timestamp) -> StageSum {
        let weak = e.strength == Strength::Weak;
        StageSum {
            count: repeats,
            first: e.ts,
            last,
            nonweak: if weak { 0 } else { repeats },
            first_nonweak: if weak { Timestamp(i64::MAX) } else { e.ts },
            last_nonweak: if weak { Timestamp(i64::MIN) } else { last },
            best: e.strength,
            first_peer: if weak { None } else { e.peer },
            first_src: if weak {
                FirstSrc::None
            } else {
                FirstSrc::Unstored
            },
        }
    }

    fn merge(&mut self, o: &StageSum) {
        self.count += o.count;
        self.first = self.first.min(o.first);
        self.last = self.last.max(o.last);
        self.nonweak += o.nonweak;
        if o.nonweak > 0 && (self.nonweak == o.nonweak || o.first_nonweak < self.first_nonweak) {
            self.first_peer = o.first_peer;
            self.first_src = o.first_src;
        }
        self.first_nonweak = self.first_nonweak.min(o.first_nonweak);
        self.last_nonweak = self.last_nonweak.max(o.last_nonweak);
        self.best = self.best.max(o.best);
    }

    /// True when some record is not weak.
    pub fn has_nonweak(&self) -> bool {
        self.nonweak > 0
    }
}

/// Summary of a host's evidence by stage.
pub(crate) type Summary = [Option<StageSum>; STAGES];

/// A stored evidence record with its repeats.
#[derive(Clone, Debug)]
pub(crate) struct Slot {
    /// The first occurrence.
    pub ev: Evidence,
    /// Occurrences (1 = no repeat).
    pub repeats: u32,
    /// Time of the last occurrence.
    pub last_ts: Timestamp,
}

/// One scan a host performed (from scan notices).
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct ScanFacts {
    /// Notice identifier.
    pub identifier: String,
    /// `horizontal`, `vertical`, ...
    pub kind: &'static str,
    /// `tcp`, `udp`, `icmp`.
    pub proto: String,
    /// Ports (a few).
    pub ports: Vec<u16>,
    /// Distinct ports.
    pub port_count: u64,
    /// Distinct targets.
    pub target_count: u64,
    /// Tool name.
    pub tool: Option<String>,
    /// Automated.
    pub automated: bool,
    /// Fingerprint reason.
    pub reason: String,
    /// First probe.
    pub first_seen: Timestamp,
    /// Last probe.
    pub last_seen: Timestamp,
}

/// What a host did to others.
#[derive(Clone, Debug, Default)]
pub(crate) struct ActorFacts {
    /// Scans it performed (bounded).
    pub scans: Vec<ScanFacts>,
    /// Hosts it probed (E1 about others with it as peer).
    pub probed: u64,
    /// Non-weak exploits against others.
    pub exploited: u64,
    /// Brute-force attempts against others.
    pub brute: u64,
    /// Non-weak C&C channels of others to it.
    pub controlled: u64,
    /// Egg downloads from it.
    pub eggs_served: u64,
    /// Clients that fetched eggs from it (bounded).
    pub egg_clients: Vec<IpAddr>,
    /// An egg it served followed an exploit against the client.
    pub egg_after_exploit: bool,
    /// Distinct executables it served over an egg transport (FTP data, TFTP,
    /// raw TCP), as short hashes (bounded by `EGG_BATCH_FILES`).
    pub egg_batch: Vec<u64>,
    /// Citations of what it did (bounded, first of each kind).
    pub acted: Vec<EvidenceRef>,
    /// Counts for citations beyond the bound.
    pub acted_more: u64,
}

/// Rarely used parts of a host, boxed to keep the common host small.
#[derive(Clone, Debug, Default)]
pub(crate) struct HostExtra {
    /// What it did to others.
    pub actor: ActorFacts,
    /// Controllers of its non-weak C&C channels (bounded).
    pub controllers: Vec<String>,
    /// Egg hashes it fetched (bounded).
    pub eggs: Vec<String>,
    /// Vectors of its outbound attacks (bounded).
    pub out_vectors: Vec<Vector>,
    /// Hosts it infected (propagation children, bounded).
    pub children: Vec<u32>,
    /// Bot commands quoted (bounded).
    pub commands: Vec<String>,
}

/// Everything the correlator knows about one host.
#[derive(Clone, Debug)]
pub(crate) struct HostState {
    /// Address.
    pub ip: IpAddr,
    /// In `HOME_NET`.
    pub internal: bool,
    /// Stored evidence.
    pub slots: Vec<Slot>,
    /// Evidence summarised without being stored (limits reached), one entry per stage.
    pub unstored: Vec<Unstored>,
    /// Fact bits (`flag::*`).
    pub flags: u16,
    /// Boxed extras.
    pub extra: Option<Box<HostExtra>>,
    /// Last label reported.
    pub label: Label,
    /// Revision number of the last report (0 = none yet).
    pub revision: u32,
    /// Time of the evidence that caused the last revision.
    pub revision_ts: Timestamp,
    /// Label before the last revision.
    pub prev_label: Option<Label>,
    /// Fingerprint of the last reported verdict (for restatements at the end).
    pub reported_fp: u64,
    /// Generation (propagation graph), as last judged.
    pub generation: Option<u32>,
    /// Infected by, as last judged.
    pub infected_by: Option<IpAddr>,
    /// First non-weak outbound attack (E5), for bot-group timing (`i64::MAX` = none).
    pub first_e5: Timestamp,
}

impl HostState {
    fn new(ip: IpAddr, internal: bool) -> HostState {
        HostState {
            ip,
            internal,
            slots: Vec::new(),
            unstored: Vec::new(),
            flags: 0,
            extra: None,
            label: Label::Clean,
            revision: 0,
            revision_ts: Timestamp::ZERO,
            prev_label: None,
            reported_fp: 0,
            generation: None,
            infected_by: None,
            first_e5: Timestamp(i64::MAX),
        }
    }

    /// Mutable extras, created on first use.
    pub fn extra_mut(&mut self) -> &mut HostExtra {
        self.extra.get_or_insert_with(Box::default)
    }

    /// Actor facts, when any.
    pub fn actor(&self) -> Option<&ActorFacts> {
        self.extra.as_deref().map(|x| &x.actor)
    }

    /// Per-stage summary of all evidence (stored and unstored).
    pub fn summary(&self) -> Summary {
        let mut s: Summary = Default::default();
        // Accumulate without cloning: the first non-weak record is referred to by
        // its slot.
        for (k, slot) in self.slots.iter().enumerate() {
            let i = stage_index(slot.ev.stage);
            let rep = u64::from(slot.repeats);
            let cur = s[i].get_or_insert_with(StageSum::empty);
            cur.count += rep;
            cur.first = cur.first.min(slot.ev.ts);
            cur.last = cur.last.max(slot.last_ts);
            cur.best = cur.best.max(slot.ev.strength);
            if slot.ev.strength != Strength::Weak {
                cur.nonweak += rep;
                if slot.ev.ts < cur.first_nonweak {
                    cur.first_nonweak = slot.ev.ts;
                    cur.first_peer = slot.ev.peer;
                    cur.first_src = FirstSrc::Slot(u32::try_from(k).unwrap_or(u32::MAX));
                }
                cur.last_nonweak = cur.last_nonweak.max(slot.last_ts);
            }
        }
        for u in &self.unstored {
            match &mut s[stage_index(u.stage)] {
                Some(cur) => cur.merge(&u.sum),
                none => *none = Some(u.sum.clone()),
            }
        }
        s
    }

    /// The vector of a stage's first non-weak record.
    pub fn first_vector(&self, stage: Stage, s: &StageSum) -> Option<&Vector> {
        match s.first_src {
            FirstSrc::Slot(k) => self
                .slots
                .get(k as usize)
                .and_then(|x| x.ev.vector.as_ref()),
            FirstSrc::Unstored => self
                .unstored
                .iter()
                .find(|u| u.stage == stage)
                .and_then(|u| u.first_vector.as_ref()),
            FirstSrc::None => None,
        }
    }

    /// True when the host has nothing but (any number of) E1 records and no acts.
    pub fn probed_only(&self) -> bool {
        self.slots
            .iter()
            .all(|s| s.ev.stage == Stage::E1InboundScan)
            && self
                .unstored
                .iter()
                .all(|u| u.stage == Stage::E1InboundScan)
            && self.extra.as_ref().is_none_or(|x| {
                x.actor.scans.is_empty()
                    && x.actor.exploited == 0
                    && x.actor.controlled == 0
                    && x.actor.eggs_served == 0
            })
    }

    /// First and last evidence time.
    pub fn span(&self) -> Option<(Timestamp, Timestamp)> {
        let mut r: Option<(Timestamp, Timestamp)> = None;
        let mut add = |a: Timestamp, b: Timestamp| {
            r = Some(match r {
                Some((x, y)) => (x.min(a), y.max(b)),
                None => (a, b),
            });
        };
        for s in &self.slots {
            add(s.ev.ts, s.last_ts);
        }
        for u in &self.unstored {
            add(u.sum.first, u.sum.last);
        }
        if let Some(x) = &self.extra {
            for a in &x.actor.acted {
                add(a.ts, a.ts);
            }
        }
        r
    }
}

/// The key under which repeats of one piece of evidence merge.
pub(crate) fn same_record(a: &Evidence, b: &Evidence) -> bool {
    // One probe record per (target, scanner), whichever notice or flow reported it.
    if a.stage == Stage::E1InboundScan && b.stage == Stage::E1InboundScan && a.peer.is_some() {
        return a.peer == b.peer;
    }
    a.stage == b.stage
        // One record per (target, scanner): a vertical scan's thousand flows merge.
        && (a.flow_id == b.flow_id || a.stage == Stage::E1InboundScan)
        && a.peer == b.peer
        && match (&a.source, &b.source) {
            (
                EvidenceSource::Alert { gid, sid, .. },
                EvidenceSource::Alert {
                    gid: g2, sid: s2, ..
                },
            ) => gid == g2 && sid == s2,
            (
                EvidenceSource::Notice { identifier, kind },
                EvidenceSource::Notice {
                    identifier: i2,
                    kind: k2,
                },
            ) => identifier == i2 && kind == k2,
            (EvidenceSource::Anomaly { event }, EvidenceSource::Anomaly { event: e2 }) => {
                event == e2
            }
            _ => false,
        }
}

/// Result of adding evidence.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) enum Added {
    /// Stored as a new record.
    Stored,
    /// Merged into an existing record (a repeat).
    Repeat,
    /// Summarised only (limits reached).
    Unstored,
    /// The host is not tracked (host table full).
    Untracked,
}

/// Counters kept by the host table.
#[derive(Clone, Debug, Default)]
pub(crate) struct TableCounters {
    pub hosts_untracked: u64,
    pub hosts_replaced: u64,
    pub evidence_unstored: u64,
    pub evidence_repeats: u64,
}

/// All hosts, by address, in first-seen order.
#[derive(Debug, Default)]
pub(crate) struct HostTable {
    pub hosts: Vec<HostState>,
    pub index: FxHashMap<IpAddr, u32>,
    /// Candidates for replacement (hosts that were probed-only when added).
    probed_queue: std::collections::VecDeque<u32>,
    pub stored_total: usize,
    pub counters: TableCounters,
}

impl HostTable {
    /// The host's index, when tracked.
    pub fn get(&self, ip: IpAddr) -> Option<u32> {
        self.index.get(&ip).copied()
    }

    /// The host's index, creating it. `probe_only` = the host is being added for an
    /// E1 record (such hosts are not tracked once the table is full).
    pub fn get_or_insert(
        &mut self,
        ip: IpAddr,
        internal: bool,
        probe_only: bool,
        max_hosts: usize,
    ) -> Option<u32> {
        if let Some(i) = self.index.get(&ip) {
            return Some(*i);
        }
        if self.hosts.len() >= max_hosts {
            if probe_only {
                self.counters.hosts_untracked += 1;
                return None;
            }
            // Replace the oldest host that is still probed-only and not reported
            // beyond `probed`.
            while let Some(victim) = self.probed_queue.pop_front() {
                let Some(h) = self.hosts.get(victim as usize) else {
                    continue;
                };
                if h.probed_only() && h.label.severity_rank() >= Label::Probed.severity_rank() {
                    let old_ip = h.ip;
                    let freed: usize = h.slots.len();
                    self.index.remove(&old_ip);
                    self.stored_total = self.stored_total.saturating_sub(freed);
                    self.hosts[victim as usize] = HostState::new(ip, internal);
                    self.index.insert(ip, victim);
                    self.counters.hosts_replaced += 1;
                    return Some(victim);
                }
            }
            self.counters.hosts_untracked += 1;
            return None;
        }
        let i = u32::try_from(self.hosts.len()).ok()?;
        self.hosts.push(HostState::new(ip, internal));
        self.index.insert(ip, i);
        if probe_only {
            self.probed_queue.push_back(i);
        }
        Some(i)
    }

    /// Adds evidence about host `i`.
    pub fn add(&mut self, i: u32, e: Evidence, per_host: usize, total: usize) -> Added {
        let Some(h) = self.hosts.get_mut(i as usize) else {
            return Added::Untracked;
        };
        if let Some(slot) = h.slots.iter_mut().find(|s| same_record(&s.ev, &e)) {
            slot.repeats = slot.repeats.saturating_add(1);
            slot.last_ts = slot.last_ts.max(e.ts);
            if e.ts < slot.ev.ts {
                slot.ev.ts = e.ts;
            }
            if e.strength > slot.ev.strength {
                slot.ev.strength = e.strength;
            }
            self.counters.evidence_repeats += 1;
            return Added::Repeat;
        }
        if h.slots.len() < per_host && self.stored_total < total {
            let ts = e.ts;
            // Grow 1, 2, 4, …: most hosts hold one or two records, and a first
            // push would reserve four.
            if h.slots.len() == h.slots.capacity() {
                h.slots.reserve_exact(h.slots.len().max(1));
            }
            h.slots.push(Slot {
                ev: e,
                repeats: 1,
                last_ts: ts,
            });
            self.stored_total += 1;
            return Added::Stored;
        }
        let add = StageSum::new(&e, 1, e.ts);
        match h.unstored.iter_mut().find(|u| u.stage == e.stage) {
            Some(cur) => {
                if add.first_nonweak < cur.sum.first_nonweak {
                    cur.first_vector = e.vector;
                }
                cur.sum.merge(&add);
            }
            None => {
                h.unstored.reserve_exact(1);
                h.unstored.push(Unstored {
                    stage: e.stage,
                    first_vector: (e.strength != Strength::Weak).then_some(e.vector).flatten(),
                    sum: add,
                });
            }
        }
        self.counters.evidence_unstored += 1;
        Added::Unstored
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use stormwatch_model::FlowId;

    fn ev(ts: i64, stage: Stage, sid: u32, strength: Strength) -> Evidence {
        Evidence {
            ts: Timestamp::from_secs_nanos(ts, 0),
            host: "10.0.0.1".parse().unwrap(),
            stage,
            peer: Some("203.0.113.7".parse().unwrap()),
            flow_id: Some(FlowId(u64::from(sid))),
            source: EvidenceSource::Alert {
                gid: 1,
                sid,
                msg: "m".into(),
                classtype: None,
            },
            strength,
            vector: None,
            egg_sha256: None,
            controller: None,
            detail: "d".into(),
        }
    }

    #[test]
    fn repeats_merge_and_limits_summarise() {
        let mut t = HostTable::default();
        let ip: IpAddr = "10.0.0.1".parse().unwrap();
        let i = t.get_or_insert(ip, true, false, 10).unwrap();
        assert_eq!(
            t.add(
                i,
                ev(10, Stage::E2InboundExploit, 1, Strength::Weak),
                2,
                100
            ),
            Added::Stored
        );
        assert_eq!(
            t.add(
                i,
                ev(12, Stage::E2InboundExploit, 1, Strength::Normal),
                2,
                100
            ),
            Added::Repeat
        );
        assert_eq!(
            t.add(i, ev(20, Stage::E4C2, 2, Strength::Normal), 2, 100),
            Added::Stored
        );
        assert_eq!(
            t.add(i, ev(30, Stage::E4C2, 3, Strength::Normal), 2, 100),
            Added::Unstored
        );
        let s = t.hosts[0].summary();
        let e2 = s[1].as_ref().unwrap();
        assert_eq!(e2.count, 2);
        assert_eq!(e2.best, Strength::Normal);
        let e4 = s[3].as_ref().unwrap();
        assert_eq!((e4.count, e4.first.secs(), e4.last.secs()), (2, 20, 30));
        assert_eq!(t.counters.evidence_unstored, 1);
    }

    #[test]
    fn full_table_refuses_probed_and_replaces_them() {
        let mut t = HostTable::default();
        let a: IpAddr = "10.0.0.1".parse().unwrap();
        let b: IpAddr = "10.0.0.2".parse().unwrap();
        let c: IpAddr = "10.0.0.3".parse().unwrap();
        let ia = t.get_or_insert(a, true, true, 1).unwrap();
        t.add(ia, ev(1, Stage::E1InboundScan, 9, Strength::Normal), 8, 100);
        assert_eq!(t.get_or_insert(b, true, true, 1), None);
        assert_eq!(t.counters.hosts_untracked, 1);
        // An exploit target replaces the probed-only host.
        let ic = t.get_or_insert(c, true, false, 1).unwrap();
        assert_eq!(ic, ia);
        assert_eq!(t.get(a), None);
        assert_eq!(t.hosts[0].ip, c);
        assert_eq!(t.stored_total, 0);
    }
}
