//! Scan detection: Threshold Random Walk over first-contact outcomes per
//! source and protocol class, a ping-sweep fan-out rule, classification,
//! the tool fingerprint and the EVE `scan` records.
//!
//! A *first contact* is a probe from a source to a (destination, port) pair it
//! had not probed before: a TCP SYN (or FIN/NULL/Xmas) opening a flow, the
//! first datagram of a UDP flow, an ICMP echo request. Its outcome is a
//! *success* when the destination answers (SYN/ACK, any UDP reply, echo reply;
//! in a one-sided capture also the client's own FIN or RST, which it only sends
//! after an answer) and a *failure* on a RST, an ICMP unreachable or no answer
//! within `probe_timeout_ms` (or at the end of input).

use crate::Ctx;
use crate::config::Trw;
use crate::fingerprint::{Class, FpAcc};
use crate::hosts::HostIndex;
use crate::sketch::{Budget, Distinct, Seen};
use crate::util::{RESERVE_MAX, hash64, ip_key, is_group_address, thousands};
use rustc_hash::{FxHashMap, FxHashSet};
use std::cmp::Reverse;
use std::collections::hash_map::Entry;
use std::collections::{BinaryHeap, VecDeque};
use std::net::IpAddr;
use stormwatch_model::{
    Direction, FlowId, FlowRecord, IpProto, Notice, NoticeKind, PacketSummary, ScanInfo, ScanKind,
    Stage, Timestamp, tcp_flags,
};

/// Answered TCP first contacts remembered per source for the dataless check.
const ANSWERED_FLOWS: usize = 8;

/// An answered TCP first contact, watched until it closes: a connect closed
/// without a byte either way was a probe after all (connect scans, SYN scans
/// of open ports).
#[derive(Copy, Clone, Default)]
struct Answered {
    flow: u64,
    /// `A_*` bits.
    state: u8,
}

const A_LIVE: u8 = 1;
/// FIN seen from the client.
const A_FIN_C: u8 = 2;
/// FIN seen from the server.
const A_FIN_S: u8 = 4;
/// Judged dataless at its close: the walk already took the failure.
const A_CLOSED_DATALESS: u8 = 8;

/// The last `ANSWERED_FLOWS` answered TCP first contacts of a source, inline
/// (no allocation); the oldest is overwritten.
#[derive(Copy, Clone, Default)]
struct AnsweredSet {
    slots: [Answered; ANSWERED_FLOWS],
    next: u8,
}

impl AnsweredSet {
    fn push(&mut self, flow: FlowId) {
        let i = usize::from(self.next) % ANSWERED_FLOWS;
        if let Some(slot) = self.slots.get_mut(i) {
            *slot = Answered {
                flow: flow.0,
                state: A_LIVE,
            };
        }
        self.next = u8::try_from((i + 1) % ANSWERED_FLOWS).unwrap_or(0);
    }

    /// The state (`A_*` bits) of the watched contact on `flow`.
    fn find_mut(&mut self, flow: FlowId) -> Option<&mut u8> {
        self.slots
            .iter_mut()
            .find(|a| a.state & A_LIVE != 0 && a.flow == flow.0)
            .map(|a| &mut a.state)
    }
}

/// What a close or a flow record says about an answered first contact.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
enum Dataless {
    /// Not (or no longer) watched, or nothing to do.
    Nothing,
    /// Closed without a byte either way: a failed contact after all.
    Fail,
    /// Judged dataless at its close, but data showed up after all.
    Revert,
}

/// A source: address and protocol class (each walks on its own).
pub(crate) type SrcKey = (IpAddr, Class);

#[derive(Copy, Clone, Debug, PartialEq, Eq)]
enum Outcome {
    Success,
    Failure,
}

/// A first contact awaiting its outcome.
struct Pending {
    key: SrcKey,
    dst: IpAddr,
    /// Its timeout's place in the queue: `Scans::q_popped` counts the
    /// entries that left the queue's front.
    seq: u64,
}

/// The deadline of a queued timeout whose contact was answered first.
const ANSWERED: Timestamp = Timestamp(i64::MIN);

/// A home target probed while its scanner was still undecided.
struct Backlog {
    target: IpAddr,
    port: u16,
    ts: Timestamp,
    flow: FlowId,
}

/// What is kept once a source is decided.
#[derive(Copy, Clone)]
struct Decided {
    episode: u32,
    failures: u32,
    target_notices: u64,
}

/// `scan:<ip>:<proto>` (`#n` from the second episode on).
fn scan_identifier(key: SrcKey, episode: u32) -> String {
    if episode <= 1 {
        format!("scan:{}:{}", key.0, key.1.name())
    } else {
        format!("scan:{}:{}#{}", key.0, key.1.name(), episode)
    }
}

/// Per-source state. The walk and the counters every source has are kept
/// inline (in the table's slot, no allocation); what only a source with two
/// or more first contacts needs lives in [`Full`], allocated when the second
/// one arrives. Most sources of ordinary traffic make one first contact
/// (a client's one connection), and that one is kept as [`First`]: everything
/// `Full` would hold after it follows from it, so turning `First` into `Full`
/// later gives exactly the record that building `Full` at once would have.
struct Source {
    llr: f64,
    failures: u32,
    successes: u32,
    probes: u64,
    answered: u64,
    last_answered: Option<FlowId>,
    last_activity: Timestamp,
    stamp: u64,
    /// Boxed: only scanners have it (keeps every record small).
    decided: Option<Box<Decided>>,
    /// When this episode began (the start of the ping-sweep window).
    born: Timestamp,
    /// The only first contact so far (when `full` is `None`).
    one: Option<First>,
    /// Everything (two or more first contacts, a decision, a tool mark).
    full: Option<Box<Full>>,
}

/// Entries of the shared exact budget a one-contact source holds: its pair,
/// its target and (but for ICMP) its port.
fn first_entries(class: Class) -> usize {
    if class == Class::Icmp { 2 } else { 3 }
}

/// A source's only first contact: the header facts the fingerprint takes and
/// where the probe stands.
#[derive(Copy, Clone)]
struct First {
    ts: Timestamp,
    flow: FlowId,
    dst: IpAddr,
    dst_port: u16,
    src_port: u16,
    ip_id: u16,
    window: u16,
    ttl: u8,
    opts: u32,
    mss: Option<u16>,
    /// Awaiting its outcome (in the walk's queue and the pending table).
    queued: bool,
    /// Its target waits in the undecided backlog.
    backlogged: bool,
    /// Answered (TCP): watched for a dataless close, in the `A_*` bits of
    /// `answer` (the answered flow is `flow`).
    watched: bool,
    answer: u8,
}

impl First {
    fn of(p: &PacketSummary) -> First {
        First {
            ts: p.ts,
            flow: p.flow_id,
            dst: p.dst,
            dst_port: p.dst_port,
            src_port: p.src_port,
            ip_id: p.ip_id,
            window: p.window,
            ttl: p.ttl,
            opts: p.tcp_options_sig,
            mss: p.mss,
            queued: false,
            backlogged: false,
            watched: false,
            answer: 0,
        }
    }

    /// The probed port as the counters key it (none for ICMP).
    fn port(&self, class: Class) -> u16 {
        if class == Class::Icmp {
            0
        } else {
            self.dst_port
        }
    }

    /// The (target, port) key of the distinct pair counter.
    fn pair(&self, class: Class) -> u64 {
        hash64(&(ip_key(self.dst), self.port(class)))
    }

    /// The probe's header facts again, for the fingerprint.
    fn summary(&self, src: IpAddr) -> PacketSummary {
        PacketSummary {
            ts: self.ts,
            flow_id: self.flow,
            dir: Direction::ToServer,
            first_in_flow: true,
            src,
            dst: self.dst,
            src_port: self.src_port,
            dst_port: self.dst_port,
            proto: IpProto(0),
            tcp_flags: 0,
            window: self.window,
            ip_id: self.ip_id,
            ttl: self.ttl,
            tcp_options_sig: self.opts,
            mss: self.mss,
            icmp: None,
            payload_len: 0,
            wire_len: 0,
        }
    }
}

/// What a source with more than one first contact keeps: fixed size apart
/// from the distinct counters (bounded by the shared budget) and the short
/// lists.
struct Full {
    /// First contacts in the order they were sent, with their outcome once
    /// known (0 = awaiting, 1 = success, 2 = failure). The walk consumes them
    /// from the front, in order, as in the sequential test of the paper.
    queue: VecDeque<(FlowId, u8)>,
    targets: Distinct,
    ports: Distinct,
    pairs: Distinct,
    /// The lowest ports probed, with how many first contacts each got.
    ports_listed: Vec<(u16, u32)>,
    sample: Vec<IpAddr>,
    first_target: Option<IpAddr>,
    fp: FpAcc,
    backlog: Vec<Backlog>,
    ping_window: (Timestamp, u32),
    app_tool: Option<&'static str>,
    /// Recent answered TCP first contacts, checked at their close and at flow
    /// end: a connection closed without a byte either way was a probe.
    answered_flows: AnsweredSet,
}

impl Full {
    fn new(born: Timestamp) -> Full {
        Full {
            queue: VecDeque::new(),
            targets: Distinct::default(),
            ports: Distinct::default(),
            pairs: Distinct::default(),
            ports_listed: Vec::new(),
            sample: Vec::new(),
            first_target: None,
            fp: FpAcc::default(),
            backlog: Vec::new(),
            ping_window: (born, 0),
            app_tool: None,
            answered_flows: AnsweredSet::default(),
        }
    }

    /// The record a source with the one first contact `f` has: the same
    /// inserts and updates the probe made, replayed (the budget entries the
    /// compact record held are handed back first and taken again).
    fn from_first(
        f: &First,
        src: IpAddr,
        class: Class,
        born: Timestamp,
        budget: &mut Budget,
        cfg: &crate::DetectConfig,
    ) -> Full {
        budget.exact_used = budget.exact_used.saturating_sub(first_entries(class));
        let per_set = cfg.distinct_exact_max;
        let port = f.port(class);
        let mut full = Full::new(born);
        full.pairs.insert(f.pair(class), per_set, budget);
        let tnew = full.targets.insert(ip_key(f.dst), per_set, budget);
        if class != Class::Icmp {
            full.ports.insert(u64::from(port), per_set, budget);
            list_port(&mut full.ports_listed, port, cfg.scan_ports_listed_max);
        }
        if tnew == Seen::New && cfg.scan_sample_targets > 0 {
            full.sample.push(f.dst);
        }
        full.first_target = Some(f.dst);
        full.fp.add(&f.summary(src));
        if f.backlogged {
            full.backlog.push(Backlog {
                target: f.dst,
                port,
                ts: f.ts,
                flow: f.flow,
            });
        }
        if class == Class::Icmp {
            full.ping_window = (f.ts, 1);
        }
        if f.queued {
            full.queue.push_back((f.flow, 0));
        }
        if f.watched {
            full.answered_flows.push(f.flow);
            if let Some(a) = full.answered_flows.find_mut(f.flow) {
                *a = f.answer;
            }
        }
        full
    }

    fn heap_bytes(&self) -> usize {
        std::mem::size_of::<Full>()
            + self.targets.heap_bytes()
            + self.ports.heap_bytes()
            + self.pairs.heap_bytes()
            + self.ports_listed.capacity() * 8
            + self.queue.capacity() * 16
            + self.sample.capacity() * std::mem::size_of::<IpAddr>()
            + self.backlog.capacity() * std::mem::size_of::<Backlog>()
    }

    /// The ports that carry the scan: every listed port probed on at least 1 %
    /// as many first contacts as the most probed one (a scanner's own later
    /// connection to a backdoor is not part of its sweep), and their count
    /// (the distinct estimate when not all ports fit in the list).
    fn major_ports(&self, max_listed: usize) -> (Vec<u16>, u64) {
        let top = self.ports_listed.iter().map(|p| p.1).max().unwrap_or(0);
        let floor = (top / 100).max(1);
        let major: Vec<u16> = self
            .ports_listed
            .iter()
            .filter(|p| p.1 >= floor)
            .map(|p| p.0)
            .collect();
        let distinct = self.ports.count();
        let all_listed = self.ports.is_exact() && distinct <= max_listed as u64;
        let count = if all_listed {
            major.len() as u64
        } else {
            distinct
        };
        (major, count)
    }

    fn info(
        &self,
        key: SrcKey,
        failures_to_decision: u32,
        probes: u64,
        answered: u64,
        ctx: &Ctx<'_>,
    ) -> ScanInfo {
        let (ip, class) = key;
        let (port_list, ports) = if class == Class::Icmp {
            (Vec::new(), 0)
        } else {
            self.major_ports(ctx.cfg.scan_ports_listed_max)
        };
        let kind = if class == Class::Icmp {
            ScanKind::PingSweep
        } else {
            classify(self.targets.count(), ports, probes)
        };
        let proto = match (class, ip) {
            (Class::Tcp, _) => IpProto::TCP,
            (Class::Udp, _) => IpProto::UDP,
            (Class::Icmp, IpAddr::V4(_)) => IpProto::ICMP,
            (Class::Icmp, IpAddr::V6(_)) => IpProto::ICMPV6,
        };
        let live_ratio = if probes == 0 {
            0.0
        } else {
            (answered as f64 / probes as f64).min(1.0)
        };
        ScanInfo {
            scanner: ip,
            kind,
            proto,
            ports: port_list,
            port_count: ports,
            target_count: self.targets.count(),
            live_ratio,
            failures_to_decision,
            first_seen: self.fp.first(),
            last_seen: self.fp.last(),
            tool: self
                .fp
                .fingerprint(class, kind, ports, self.app_tool, ctx.cfg),
            sample_targets: self.sample.clone(),
        }
    }
}

/// Keeps the lowest `max` ports seen in `list`, with their probe counts.
fn list_port(list: &mut Vec<(u16, u32)>, port: u16, max: usize) {
    match list.binary_search_by_key(&port, |p| p.0) {
        Ok(i) => {
            if let Some(e) = list.get_mut(i) {
                e.1 = e.1.saturating_add(1);
            }
        }
        Err(i) => {
            if list.len() < max {
                list.insert(i, (port, 1));
            } else if i < list.len() {
                list.insert(i, (port, 1));
                list.truncate(max);
            }
        }
    }
}

/// One step of the walk (Jung et al.): a success moves down (and restarts
/// the walk when it crosses the lower bound), a failure moves up. True when
/// the upper bound is reached.
fn walk_step(
    llr: &mut f64,
    failures: &mut u32,
    success: bool,
    trw: &Trw,
    benign_resets: &mut u64,
) -> bool {
    if success {
        *llr += trw.success;
        if *llr <= trw.lower {
            // Benign for now: the walk restarts (Jung et al. §4).
            *llr = 0.0;
            *failures = 0;
            *benign_resets += 1;
        }
        false
    } else {
        *failures += 1;
        *llr += trw.fail;
        *llr >= trw.upper
    }
}

impl Source {
    fn new(now: Timestamp, stamp: u64) -> Source {
        Source {
            llr: 0.0,
            failures: 0,
            successes: 0,
            probes: 0,
            answered: 0,
            last_answered: None,
            last_activity: now,
            stamp,
            decided: None,
            born: now,
            one: None,
            full: None,
        }
    }

    /// The full record, built now if the source has less.
    fn full(
        &mut self,
        src: IpAddr,
        class: Class,
        budget: &mut Budget,
        cfg: &crate::DetectConfig,
    ) -> &mut Full {
        let born = self.born;
        if let Some(f) = self.one.take()
            && self.full.is_none()
        {
            self.full = Some(Box::new(Full::from_first(
                &f, src, class, born, budget, cfg,
            )));
        }
        self.full.get_or_insert_with(|| Box::new(Full::new(born)))
    }

    /// No first contact awaits its outcome.
    fn queue_empty(&self) -> bool {
        match (&self.full, &self.one) {
            (Some(f), _) => f.queue.is_empty(),
            (None, Some(f)) => !f.queued,
            (None, None) => true,
        }
    }

    /// Time of the latest first contact (the episode's start when none).
    fn last_probe(&self) -> Timestamp {
        match (&self.full, &self.one) {
            (Some(f), _) => f.fp.last(),
            (None, Some(f)) => f.ts,
            (None, None) => Timestamp::ZERO,
        }
    }

    fn first_target(&self) -> Option<IpAddr> {
        match (&self.full, &self.one) {
            (Some(f), _) => f.first_target,
            (None, Some(f)) => Some(f.dst),
            (None, None) => None,
        }
    }

    /// The watched answered TCP first contact on `flow`, if any.
    /// The state (`A_*` bits) of the watched answered TCP first contact on
    /// `flow`, if any.
    fn answered_mut(&mut self, flow: FlowId) -> Option<&mut u8> {
        match (&mut self.full, &mut self.one) {
            (Some(f), _) => f.answered_flows.find_mut(flow),
            (None, Some(f)) => {
                (f.watched && f.answer & A_LIVE != 0 && f.flow == flow).then_some(&mut f.answer)
            }
            (None, None) => None,
        }
    }

    fn release(&mut self, class: Class, budget: &mut Budget, backlog_used: &mut usize) {
        if let Some(f) = &mut self.full {
            f.targets.release(budget);
            f.ports.release(budget);
            f.pairs.release(budget);
            *backlog_used = backlog_used.saturating_sub(f.backlog.len());
            f.backlog = Vec::new();
        } else if let Some(f) = &self.one {
            budget.exact_used = budget.exact_used.saturating_sub(first_entries(class));
            if f.backlogged {
                *backlog_used = backlog_used.saturating_sub(1);
            }
        }
        self.one = None;
        self.full = None;
    }

    /// Starts a fresh episode: walk, counts and fingerprint from scratch.
    fn restart(
        &mut self,
        class: Class,
        now: Timestamp,
        budget: &mut Budget,
        backlog_used: &mut usize,
    ) {
        self.release(class, budget, backlog_used);
        let stamp = self.stamp;
        *self = Source::new(now, stamp);
    }

    fn heap_bytes(&self) -> usize {
        self.full.as_ref().map_or(0, |f| f.heap_bytes())
    }

    /// The scan's description (builds the full record if needed).
    fn info(
        &mut self,
        key: SrcKey,
        failures_to_decision: u32,
        budget: &mut Budget,
        ctx: &Ctx<'_>,
    ) -> ScanInfo {
        let (probes, answered) = (self.probes, self.answered);
        self.full(key.0, key.1, budget, ctx.cfg).info(
            key,
            failures_to_decision,
            probes,
            answered,
            ctx,
        )
    }
}

/// Horizontal / vertical / block from the distinct targets, the ports that
/// carry the scan, and the (target, port) pairs probed: one host → vertical;
/// one port → horizontal; several of both → block when targets got 1.5 or more
/// ports each on average, else horizontal (a sweep that tried a second port
/// on a few hosts is still a sweep).
pub(crate) fn classify(targets: u64, ports: u64, pairs: u64) -> ScanKind {
    if targets <= 1 {
        if ports <= 1 {
            ScanKind::Horizontal
        } else {
            ScanKind::Vertical
        }
    } else if ports <= 1 {
        ScanKind::Horizontal
    } else if pairs.saturating_mul(2) >= targets.saturating_mul(3) {
        ScanKind::Block
    } else {
        ScanKind::Horizontal
    }
}

fn kind_name(k: ScanKind) -> &'static str {
    match k {
        ScanKind::Horizontal => "horizontal",
        ScanKind::Vertical => "vertical",
        ScanKind::Block => "block",
        ScanKind::PingSweep => "ping sweep",
    }
}

fn class_of(p: IpProto) -> Option<Class> {
    match p {
        IpProto::TCP => Some(Class::Tcp),
        IpProto::UDP => Some(Class::Udp),
        IpProto::ICMP | IpProto::ICMPV6 => Some(Class::Icmp),
        _ => None,
    }
}

fn ports_text(ports: &[u16], count: u64) -> String {
    let shown: Vec<String> = ports.iter().take(5).map(u16::to_string).collect();
    let mut s = shown.join(",");
    if count > shown.len() as u64 {
        s.push_str(",…");
    }
    s
}

fn tool_text(info: &ScanInfo) -> String {
    let auto = if info.tool.automated {
        "automated"
    } else {
        "manual"
    };
    match &info.tool.name {
        Some(n) => format!("{auto}, {n}"),
        None => auto.to_string(),
    }
}

fn scan_summary(info: &ScanInfo) -> String {
    let proto = info.proto.eve_name().to_ascii_lowercase();
    let t = info.target_count;
    let mut s = format!(
        "{} {} scan by {}: {} target{}",
        kind_name(info.kind),
        proto,
        info.scanner,
        thousands(t),
        if t == 1 { "" } else { "s" }
    );
    if info.kind != ScanKind::PingSweep {
        s.push_str(&format!(
            ", {} port{} ({})",
            thousands(info.port_count),
            if info.port_count == 1 { "" } else { "s" },
            ports_text(&info.ports, info.port_count)
        ));
    }
    s.push_str(&format!(
        ", live {:.0}%, {}",
        info.live_ratio * 100.0,
        tool_text(info)
    ));
    s
}

/// The sources: a small index (key → slot) over records kept in a slab in
/// the order they were created. A new source writes one small index entry at
/// a random place and its record at the slab's end (where the records of the
/// other recent sources, which most lookups want, also are), instead of a
/// whole record at a random place of a large table.
pub(crate) struct SourceTable {
    /// IPv4 sources, in the host table shared with the listener detector
    /// (one entry per address: a packet's lookups for both detectors find
    /// one cache line).
    hosts: HostIndex,
    /// IPv4 sources in `hosts`.
    v4_len: usize,
    /// IPv6 sources.
    index_v6: FxHashMap<SrcKey, u32>,
    slab: Vec<Source>,
    /// Slab slots of removed sources, reused first.
    free: Vec<u32>,
}

impl SourceTable {
    /// A table whose slab has room for `n` records: reserved address space
    /// only (pages are touched as records are written, in order), so the slab
    /// never moves as it grows — no copy, no pages freed and then faulted in
    /// (zeroed) again for the larger block.
    fn with_capacity(n: usize) -> SourceTable {
        SourceTable {
            hosts: HostIndex::default(),
            v4_len: 0,
            index_v6: FxHashMap::default(),
            slab: Vec::with_capacity(n),
            free: Vec::new(),
        }
    }

    fn len(&self) -> usize {
        self.v4_len + self.index_v6.len()
    }

    fn slot(&self, k: &SrcKey) -> Option<u32> {
        match k.0 {
            IpAddr::V4(a) => self.hosts.get(u32::from(a))?.source(k.1),
            IpAddr::V6(_) => self.index_v6.get(k).copied(),
        }
    }

    fn contains_key(&self, k: &SrcKey) -> bool {
        self.slot(k).is_some()
    }

    fn get(&self, k: &SrcKey) -> Option<&Source> {
        let i = self.slot(k)?;
        self.slab.get(usize::try_from(i).ok()?)
    }

    fn get_mut(&mut self, k: &SrcKey) -> Option<&mut Source> {
        let i = self.slot(k)?;
        self.slab.get_mut(usize::try_from(i).ok()?)
    }

    /// Puts `s` in a free slot or at the slab's end.
    fn place(slab: &mut Vec<Source>, free: &mut Vec<u32>, s: Source) -> Option<u32> {
        match free.pop() {
            Some(i) => {
                let slot = slab.get_mut(usize::try_from(i).ok()?)?;
                *slot = s;
                Some(i)
            }
            None => {
                let i = u32::try_from(slab.len()).ok()?;
                slab.push(s);
                Some(i)
            }
        }
    }

    /// The record for `k`, made by `make` if absent (and whether it was).
    fn get_or_insert_with(
        &mut self,
        k: SrcKey,
        make: impl FnOnce() -> Source,
    ) -> Option<(&mut Source, bool)> {
        let (slab, free) = (&mut self.slab, &mut self.free);
        let (i, new) = match k.0 {
            IpAddr::V4(a) => {
                let (i, new) = self
                    .hosts
                    .source_or_insert_with(u32::from(a), k.1, || Self::place(slab, free, make()))?;
                if new {
                    self.v4_len += 1;
                }
                (i, new)
            }
            IpAddr::V6(_) => match self.index_v6.entry(k) {
                Entry::Occupied(o) => (*o.get(), false),
                Entry::Vacant(v) => (*v.insert(Self::place(slab, free, make())?), true),
            },
        };
        self.slab
            .get_mut(usize::try_from(i).ok()?)
            .map(|s| (s, new))
    }

    fn remove(&mut self, k: &SrcKey) -> Option<Source> {
        let i = match k.0 {
            IpAddr::V4(a) => {
                let a = u32::from(a);
                let i = self.hosts.get(a)?.source(k.1)?;
                self.hosts.set_source(a, k.1, None);
                self.v4_len -= 1;
                i
            }
            IpAddr::V6(_) => self.index_v6.remove(k)?,
        };
        let slot = self.slab.get_mut(usize::try_from(i).ok()?)?;
        let s = std::mem::replace(slot, Source::new(Timestamp::ZERO, 0));
        self.free.push(i);
        Some(s)
    }

    fn iter(&self) -> impl Iterator<Item = (SrcKey, &Source)> {
        let v4 = self.hosts.iter().flat_map(|(a, e)| {
            e.sources()
                .map(move |(c, i)| ((IpAddr::V4(std::net::Ipv4Addr::from(a)), c), i))
        });
        let v6 = self.index_v6.iter().map(|(&k, &i)| (k, i));
        v4.chain(v6)
            .filter_map(|(k, i)| self.slab.get(usize::try_from(i).ok()?).map(|s| (k, s)))
    }

    fn heap_bytes(&self) -> usize {
        self.hosts.heap_bytes()
            + self.index_v6.capacity() * (std::mem::size_of::<(SrcKey, u32)>() + 1)
            + self.slab.len() * std::mem::size_of::<Source>()
            + self.free.capacity() * 4
            // The slab in order (freed slots hold empty records): no walk
            // through the host tables.
            + self.slab.iter().map(Source::heap_bytes).sum::<usize>()
    }
}

/// The scan detector.
pub(crate) struct Scans {
    trw: Trw,
    timeout_ns: i64,
    /// Records of ≈ 180 B, not boxed: only sources with two or more first
    /// contacts allocate their [`Full`] part.
    sources: SourceTable,
    lru: VecDeque<(SrcKey, u64)>,
    seq: u64,
    pending: FxHashMap<FlowId, Pending>,
    pending_q: VecDeque<(Timestamp, FlowId)>,
    /// Entries that left `pending_q`'s front so far.
    q_popped: u64,
    /// Answered TCP first contacts that may still be watched for a dataless
    /// close (a superset: an entry leaves when its watch ends or its flow
    /// does, so live TCP flows bound it). Closes, data and flow ends on any
    /// other flow skip the source table.
    watched: FxHashSet<FlowId>,
    pair_index: FxHashMap<(IpAddr, IpAddr), FlowId>,
    scanning: BinaryHeap<Reverse<(Timestamp, SrcKey)>>,
    episodes: FxHashMap<SrcKey, u32>,
    pub budget: Budget,
    backlog_used: usize,
    /// Decided sources in the table (a source's decision is cleared only by
    /// its removal): none, and answers or scanner checks need no lookup.
    decided_now: usize,
    last_sweep_secs: i64,
    pub probes: u64,
    pub episode_restarts: u64,
    pub dataless: u64,
    /// Connects judged dataless at their close that carried data after all
    /// (an unidentified protocol: the flow record shows it).
    pub dataless_reverted: u64,
    pub successes: u64,
    pub failures: u64,
    pub timeouts: u64,
    pub benign_resets: u64,
    pub decided: u64,
    pub ended: u64,
    pub sources_evicted: u64,
    pub sources_expired: u64,
    pub pending_full: u64,
    pub target_notices_capped: u64,
    pub backlog_full: u64,
    pub episodes_forgotten: u64,
}

/// Waits for the outcome of first contact `p` (an answer, a refusal, or the
/// probe timeout `timeout_ns` after it). ICMP answers (echo replies,
/// unreachables) may come on another flow: those contacts are also filed by
/// address pair.
#[allow(clippy::too_many_arguments)]
fn await_outcome(
    pending: &mut FxHashMap<FlowId, Pending>,
    pending_q: &mut VecDeque<(Timestamp, FlowId)>,
    q_popped: u64,
    pair_index: &mut FxHashMap<(IpAddr, IpAddr), FlowId>,
    timeout_ns: i64,
    p: &PacketSummary,
    key: SrcKey,
    class: Class,
) {
    let seq = q_popped.saturating_add(pending_q.len() as u64);
    pending.insert(
        p.flow_id,
        Pending {
            key,
            dst: p.dst,
            seq,
        },
    );
    if class != Class::Tcp {
        pair_index.insert((p.src, p.dst), p.flow_id);
    }
    pending_q.push_back((Timestamp(p.ts.0.saturating_add(timeout_ns)), p.flow_id));
}

impl Scans {
    pub(crate) fn new(cfg: &crate::DetectConfig) -> Scans {
        Scans {
            trw: Trw::from_config(cfg),
            timeout_ns: i64::try_from(cfg.probe_timeout_ms)
                .unwrap_or(i64::MAX / 1_000_000)
                .saturating_mul(1_000_000),
            sources: SourceTable::with_capacity(cfg.scan_sources_max.min(RESERVE_MAX)),
            lru: VecDeque::with_capacity(cfg.scan_sources_max.min(RESERVE_MAX)),
            seq: 0,
            pending: FxHashMap::default(),
            pending_q: VecDeque::new(),
            q_popped: 0,
            watched: FxHashSet::default(),
            pair_index: FxHashMap::default(),
            scanning: BinaryHeap::new(),
            episodes: FxHashMap::default(),
            budget: Budget::new(cfg.distinct_exact_budget, cfg.sketches_max),
            backlog_used: 0,
            decided_now: 0,
            last_sweep_secs: i64::MIN,
            probes: 0,
            episode_restarts: 0,
            dataless: 0,
            dataless_reverted: 0,
            successes: 0,
            failures: 0,
            timeouts: 0,
            benign_resets: 0,
            decided: 0,
            ended: 0,
            sources_evicted: 0,
            sources_expired: 0,
            pending_full: 0,
            target_notices_capped: 0,
            backlog_full: 0,
            episodes_forgotten: 0,
        }
    }

    pub(crate) fn sources(&self) -> usize {
        self.sources.len()
    }

    /// The IPv4 host table, shared with the listener detector.
    pub(crate) fn hosts_mut(&mut self) -> &mut HostIndex {
        &mut self.sources.hosts
    }

    pub(crate) fn pending(&self) -> usize {
        self.pending.len()
    }

    /// True when `ip` is a decided scanner (any protocol class) still scanning.
    pub(crate) fn is_scanner(&self, ip: IpAddr) -> bool {
        if self.decided_now == 0 {
            return false;
        }
        if let IpAddr::V4(a) = ip {
            return self.sources.hosts.get(u32::from(a)).is_some_and(|e| {
                e.sources().any(|(_, i)| {
                    usize::try_from(i)
                        .ok()
                        .and_then(|i| self.sources.slab.get(i))
                        .is_some_and(|s| s.decided.is_some())
                })
            });
        }
        [Class::Tcp, Class::Udp, Class::Icmp].iter().any(|c| {
            self.sources
                .get(&(ip, *c))
                .is_some_and(|s| s.decided.is_some())
        })
    }

    /// Approximate heap bytes held (walks every source: for counters only).
    pub(crate) fn heap_bytes(&self) -> usize {
        self.sources.heap_bytes()
            + self.lru.len() * std::mem::size_of::<(SrcKey, u64)>()
            + self.pending.capacity() * (std::mem::size_of::<(FlowId, Pending)>() + 1)
            + self.pending_q.capacity() * std::mem::size_of::<(Timestamp, FlowId)>()
            + self.watched.capacity() * (std::mem::size_of::<FlowId>() + 1)
            + self.pair_index.capacity() * (std::mem::size_of::<((IpAddr, IpAddr), FlowId)>() + 1)
            + self.scanning.capacity() * std::mem::size_of::<(Timestamp, SrcKey)>()
            + self.episodes.capacity() * (std::mem::size_of::<(SrcKey, u32)>() + 1)
    }

    /// Packet entry point. `expected`: the flow goes to an address and port an
    /// FTP control channel or a DCC offer announced (never a probe).
    pub(crate) fn on_packet(&mut self, p: &PacketSummary, expected: bool, ctx: &mut Ctx<'_>) {
        let Some(class) = class_of(p.proto) else {
            return;
        };
        match class {
            Class::Tcp => {
                let f = p.tcp_flags;
                let syn = f & tcp_flags::SYN != 0;
                let ack = f & tcp_flags::ACK != 0;
                let rst = f & tcp_flags::RST != 0;
                let fin = f & tcp_flags::FIN != 0;
                match p.dir {
                    Direction::ToServer => {
                        if syn && !ack {
                            if p.first_in_flow && !expected {
                                self.probe(p, class, ctx);
                            }
                        } else if p.first_in_flow && !syn && !ack && !rst && !expected {
                            // FIN, NULL and Xmas probes open no connection.
                            self.probe(p, class, ctx);
                        } else if (rst || fin) && !syn {
                            if self.pending.contains_key(&p.flow_id) {
                                // The client only tears down what was answered.
                                self.resolve(p.flow_id, Outcome::Success, p.ts, ctx);
                            } else {
                                if rst {
                                    self.answered_late(p.src, class, p.flow_id);
                                }
                                self.close_seen(p.src, p, true, ctx);
                            }
                        }
                    }
                    Direction::ToClient => {
                        if self.pending.contains_key(&p.flow_id) {
                            let o = if rst && !syn {
                                Outcome::Failure
                            } else {
                                Outcome::Success
                            };
                            self.resolve(p.flow_id, o, p.ts, ctx);
                        } else if syn && ack {
                            self.answered_late(p.dst, class, p.flow_id);
                        } else if (rst || fin) && !syn {
                            self.close_seen(p.dst, p, false, ctx);
                        }
                    }
                }
            }
            Class::Udp => match p.dir {
                Direction::ToServer => {
                    // A datagram from a service port to a high port is a
                    // response whose request was not captured.
                    let response_like = p.src_port < 1024 && p.dst_port >= 1024;
                    if p.first_in_flow && !response_like && !expected && !is_group_address(p.dst) {
                        self.probe(p, class, ctx);
                    }
                }
                Direction::ToClient => {
                    if self.pending.contains_key(&p.flow_id) {
                        self.resolve(p.flow_id, Outcome::Success, p.ts, ctx);
                    } else {
                        self.answered_late(p.dst, class, p.flow_id);
                    }
                }
            },
            Class::Icmp => {
                let v6 = p.proto == IpProto::ICMPV6;
                let t = p.icmp.map_or(255, |(t, _)| t);
                let (req, rep) = if v6 { (128, 129) } else { (8, 0) };
                let unreachable = if v6 {
                    t == 1 || t == 3
                } else {
                    t == 3 || t == 11
                };
                if t == req {
                    if !is_group_address(p.dst) {
                        self.probe(p, class, ctx);
                    }
                } else if t == rep || unreachable {
                    let o = if t == rep {
                        Outcome::Success
                    } else {
                        Outcome::Failure
                    };
                    if self.pending.contains_key(&p.flow_id) {
                        self.resolve(p.flow_id, o, p.ts, ctx);
                    } else if let Some(&f) = self.pair_index.get(&(p.dst, p.src)) {
                        self.resolve(f, o, p.ts, ctx);
                    } else if t == rep {
                        self.answered_late(p.dst, class, p.flow_id);
                    }
                }
            }
        }
    }

    /// An answer on a flow no longer pending: counts towards the live ratio of
    /// a decided scanner.
    fn answered_late(&mut self, client: IpAddr, class: Class, flow: FlowId) {
        if self.decided_now == 0 {
            return;
        }
        if let Some(s) = self.sources.get_mut(&(client, class))
            && s.decided.is_some()
            && s.last_answered != Some(flow)
        {
            s.answered += 1;
            s.last_answered = Some(flow);
        }
    }

    /// The source's state, created (evicting the least recently active) if new.
    fn source_mut(
        &mut self,
        key: SrcKey,
        now: Timestamp,
        ctx: &mut Ctx<'_>,
    ) -> Option<&mut Source> {
        self.make_room(key, now, ctx);
        Self::touch(
            &mut self.sources,
            &mut self.lru,
            self.seq,
            &mut self.budget,
            &mut self.backlog_used,
            key,
            now,
            ctx.cfg,
        )
    }

    /// Counts one more source access and, when the table is full and `key`
    /// is new, evicts the least recently active sources.
    #[inline]
    fn make_room(&mut self, key: SrcKey, now: Timestamp, ctx: &mut Ctx<'_>) {
        self.seq += 1;
        let max = ctx.cfg.scan_sources_max.max(1);
        if self.sources.len() >= max && !self.sources.contains_key(&key) {
            self.evict_for_new(max, now, ctx);
        }
    }

    #[cold]
    #[inline(never)]
    fn evict_for_new(&mut self, max: usize, now: Timestamp, ctx: &mut Ctx<'_>) {
        while self.sources.len() >= max {
            let Some((k, st)) = self.lru.pop_front() else {
                break;
            };
            let Some(s) = self.sources.get(&k) else {
                continue;
            };
            if s.stamp != st {
                let cur = s.stamp;
                self.lru.push_back((k, cur));
                continue;
            }
            self.sources_evicted += 1;
            self.end_and_remove(k, now, ctx);
        }
    }

    /// The source's state after [`Scans::make_room`], created if new, with
    /// its activity and LRU stamp moved to `now` (borrowing only the fields
    /// it needs, so callers keep the rest of the detector at hand).
    #[allow(clippy::too_many_arguments)]
    fn touch<'a>(
        sources: &'a mut SourceTable,
        lru: &mut VecDeque<(SrcKey, u64)>,
        stamp: u64,
        budget: &mut Budget,
        backlog_used: &mut usize,
        key: SrcKey,
        now: Timestamp,
        cfg: &crate::DetectConfig,
    ) -> Option<&'a mut Source> {
        let idle_ns = i64::try_from(cfg.source_idle_secs)
            .unwrap_or(i64::MAX)
            .saturating_mul(1_000_000_000);
        let (s, new) = sources.get_or_insert_with(key, || Source::new(now, stamp))?;
        if new {
            lru.push_back((key, stamp));
        }
        // An undecided source idle past `source_idle_secs` is a new one, whether
        // or not the lazy sweep has removed it yet (same output either way).
        if s.decided.is_none() && s.queue_empty() && now.nanos_since(s.last_activity) >= idle_ns {
            s.restart(key.1, now, budget, backlog_used);
        }
        // The LRU position moves at most once per second of packet time.
        if now.secs() != s.last_activity.secs() || s.stamp == 0 {
            s.stamp = stamp;
        }
        if now > s.last_activity {
            s.last_activity = now;
        }
        Some(s)
    }

    /// Emits `ScanEnded` for a decided source, then forgets it.
    fn end_and_remove(&mut self, key: SrcKey, ts: Timestamp, ctx: &mut Ctx<'_>) {
        let Some(mut s) = self.sources.remove(&key) else {
            return;
        };
        if s.decided.is_some() {
            self.decided_now = self.decided_now.saturating_sub(1);
        }
        if let Some(d) = s.decided.as_deref().copied() {
            let info = s.info(key, d.failures, &mut self.budget, ctx);
            let msg = format!("scan ended: {}", scan_summary(&info));
            ctx.out.push(Notice {
                ts,
                identifier: scan_identifier(key, d.episode),
                host: key.0,
                peer: s.first_target(),
                flow_id: None,
                stage: ctx.is_home(key.0).then_some(Stage::E5OutboundAttack),
                msg,
                kind: NoticeKind::ScanEnded(info),
            });
            self.ended += 1;
        }
        s.release(key.1, &mut self.budget, &mut self.backlog_used);
    }

    /// A flow-opening probe.
    fn probe(&mut self, p: &PacketSummary, class: Class, ctx: &mut Ctx<'_>) {
        if ctx.cfg.scan_ignore_sources.contains(p.src) {
            return;
        }
        let key = (p.src, class);
        let port = if class == Class::Icmp { 0 } else { p.dst_port };
        let per_set = ctx.cfg.distinct_exact_max;
        let pending_room = self.pending.len() < ctx.cfg.scan_pending_max
            && self.pending_q.len() < ctx.cfg.scan_pending_max.saturating_mul(2);
        self.make_room(key, p.ts, ctx);
        let Some(s) = Self::touch(
            &mut self.sources,
            &mut self.lru,
            self.seq,
            &mut self.budget,
            &mut self.backlog_used,
            key,
            p.ts,
            ctx.cfg,
        ) else {
            return;
        };
        let gap_ns = i64::try_from(ctx.cfg.scan_episode_gap_secs)
            .unwrap_or(i64::MAX)
            .saturating_mul(1_000_000_000);
        if s.decided.is_none()
            && s.probes > 0
            && s.failures == 0
            && s.queue_empty()
            && p.ts.nanos_since(s.last_probe()) >= gap_ns
        {
            s.restart(class, p.ts, &mut self.budget, &mut self.backlog_used);
            self.episode_restarts += 1;
        }
        let home_target = ctx.is_home(p.dst);
        let entries = first_entries(class);
        if s.one.is_none()
            && s.full.is_none()
            && s.decided.is_none()
            && per_set >= 1
            && self.budget.exact_used.saturating_add(entries) <= self.budget.exact_max
        {
            // The source's first contact, kept compact: its pair, target and
            // port are new, the fingerprint starts from it.
            self.probes += 1;
            s.probes += 1;
            self.budget.exact_used += entries;
            let mut first = First::of(p);
            if home_target {
                if ctx.cfg.scan_undecided_targets_max > 0
                    && self.backlog_used < ctx.cfg.scan_undecided_targets_budget
                {
                    self.backlog_used += 1;
                    first.backlogged = true;
                } else {
                    self.backlog_full += 1;
                }
            }
            // One echo request is a sweep when one target is enough.
            let sweep = class == Class::Icmp && ctx.cfg.ping_sweep_min_targets <= 1;
            if !sweep {
                if ctx.cfg.scan_pending_per_source_max > 0 && pending_room {
                    first.queued = true;
                    await_outcome(
                        &mut self.pending,
                        &mut self.pending_q,
                        self.q_popped,
                        &mut self.pair_index,
                        self.timeout_ns,
                        p,
                        key,
                        class,
                    );
                } else {
                    self.pending_full += 1;
                }
            }
            s.one = Some(first);
            if sweep {
                self.decide(key, p.ts, Some(p.flow_id), ctx);
            }
            return;
        }
        let pair = hash64(&(ip_key(p.dst), port));
        if s.full.is_none()
            && let Some(f) = &s.one
            && f.pair(class) == pair
        {
            // The same (target, port) as the one first contact: not a new one.
            return;
        }
        s.full(p.src, class, &mut self.budget, ctx.cfg);
        let Some(f) = s.full.as_deref_mut() else {
            return;
        };
        if f.pairs.insert(pair, per_set, &mut self.budget) == Seen::Again {
            return;
        }
        self.probes += 1;
        s.probes += 1;
        let tnew = f.targets.insert(ip_key(p.dst), per_set, &mut self.budget);
        if class != Class::Icmp {
            f.ports.insert(u64::from(port), per_set, &mut self.budget);
            list_port(&mut f.ports_listed, port, ctx.cfg.scan_ports_listed_max);
        }
        if tnew == Seen::New
            && f.sample.len() < ctx.cfg.scan_sample_targets
            && let Err(i) = f.sample.binary_search(&p.dst)
        {
            f.sample.insert(i, p.dst);
        }
        if f.first_target.is_none() {
            f.first_target = Some(p.dst);
        }
        f.fp.add(p);

        if let Some(d) = s.decided.as_deref().copied() {
            if home_target && tnew != Seen::Again {
                if d.target_notices >= ctx.cfg.scan_target_notices_max {
                    self.target_notices_capped += 1;
                } else {
                    let info = f.info(key, d.failures, s.probes, s.answered, ctx);
                    if target_notice(&info, class, p.dst, port, p.ts, p.flow_id, ctx) {
                        if let Some(d) = s.decided.as_deref_mut() {
                            d.target_notices += 1;
                        }
                        ctx.attacks
                            .record_scan(p.dst, p.src, proto_num(class, p.src), port, p.ts);
                    }
                }
            }
            return;
        }

        if home_target && tnew == Seen::New {
            if f.backlog.len() < ctx.cfg.scan_undecided_targets_max
                && self.backlog_used < ctx.cfg.scan_undecided_targets_budget
            {
                self.backlog_used += 1;
                f.backlog.push(Backlog {
                    target: p.dst,
                    port,
                    ts: p.ts,
                    flow: p.flow_id,
                });
            } else {
                self.backlog_full += 1;
            }
        }

        if class == Class::Icmp && tnew != Seen::Again {
            let window_ns = i64::try_from(ctx.cfg.ping_sweep_window_secs)
                .unwrap_or(i64::MAX)
                .saturating_mul(1_000_000_000);
            if p.ts.nanos_since(f.ping_window.0) > window_ns || f.ping_window.1 == 0 {
                f.ping_window = (p.ts, 0);
            }
            f.ping_window.1 += 1;
            if f.ping_window.1 >= ctx.cfg.ping_sweep_min_targets.max(1) {
                self.decide(key, p.ts, Some(p.flow_id), ctx);
                return;
            }
        }

        if f.queue.len() < ctx.cfg.scan_pending_per_source_max as usize && pending_room {
            f.queue.push_back((p.flow_id, 0));
            await_outcome(
                &mut self.pending,
                &mut self.pending_q,
                self.q_popped,
                &mut self.pair_index,
                self.timeout_ns,
                p,
                key,
                class,
            );
        } else {
            self.pending_full += 1;
        }
    }

    /// A first contact's outcome is known before its timeout: the timeout is
    /// marked answered, and answered ones at the queue's front leave it. The
    /// earliest deadline is then one still awaited: an answered contact does
    /// not wake the time-driven work when its timeout would have come due.
    fn unqueue(&mut self, seq: u64, flow: FlowId) {
        let Some(i) = seq
            .checked_sub(self.q_popped)
            .and_then(|i| usize::try_from(i).ok())
        else {
            return;
        };
        if let Some(e) = self.pending_q.get_mut(i)
            && e.1 == flow
        {
            e.0 = ANSWERED;
        }
        while self.pending_q.front().is_some_and(|e| e.0 == ANSWERED) {
            self.pending_q.pop_front();
            self.q_popped += 1;
        }
    }

    /// Applies a first contact's outcome to its source's walk.
    fn resolve(&mut self, flow: FlowId, o: Outcome, ts: Timestamp, ctx: &mut Ctx<'_>) {
        let Some(pe) = self.pending.remove(&flow) else {
            return;
        };
        self.unqueue(pe.seq, flow);
        let pk = (pe.key.0, pe.dst);
        if self.pair_index.get(&pk) == Some(&flow) {
            self.pair_index.remove(&pk);
        }
        let Some(s) = self.sources.get_mut(&pe.key) else {
            return;
        };
        let success = o == Outcome::Success;
        if success {
            self.successes += 1;
            s.successes += 1;
            s.answered += 1;
            s.last_answered = Some(flow);
        } else {
            self.failures += 1;
        }
        let tcp = pe.key.1 == Class::Tcp;
        if success && tcp {
            self.watched.insert(flow);
        }
        if s.full.is_none()
            && let Some(f) = &mut s.one
            && f.flow == flow
            && !(success && tcp && f.watched)
        {
            // The one first contact: one step of the walk.
            if success && tcp {
                f.watched = true;
                f.answer = A_LIVE;
            }
            let queued = std::mem::replace(&mut f.queued, false);
            if queued
                && s.decided.is_none()
                && walk_step(
                    &mut s.llr,
                    &mut s.failures,
                    success,
                    &self.trw,
                    &mut self.benign_resets,
                )
            {
                self.decide(pe.key, ts, Some(flow), ctx);
            }
            return;
        }
        s.full(pe.key.0, pe.key.1, &mut self.budget, ctx.cfg);
        let Some(f) = s.full.as_deref_mut() else {
            return;
        };
        if success && tcp {
            f.answered_flows.push(flow);
        }
        let code = if success { 1 } else { 2 };
        if let Some(e) = f.queue.iter_mut().find(|e| e.0 == flow) {
            e.1 = code;
        }
        // Feed the walk the outcomes known at the front, in probe order.
        let mut decided_by = None;
        while let Some(&(fl, st)) = f.queue.front() {
            if st == 0 {
                break;
            }
            f.queue.pop_front();
            if s.decided.is_some() || decided_by.is_some() {
                continue;
            }
            if walk_step(
                &mut s.llr,
                &mut s.failures,
                st == 1,
                &self.trw,
                &mut self.benign_resets,
            ) {
                decided_by = Some(fl);
            }
        }
        if let Some(f) = decided_by {
            self.decide(pe.key, ts, Some(f), ctx);
        }
    }

    /// The source is a scanner: `ScanDetected`, `E1` records for the home
    /// targets probed so far, propagation check.
    fn decide(&mut self, key: SrcKey, ts: Timestamp, flow: Option<FlowId>, ctx: &mut Ctx<'_>) {
        let Some(s) = self.sources.get_mut(&key) else {
            return;
        };
        if s.decided.is_some() {
            return;
        }
        if self.episodes.len() >= ctx.cfg.scan_sources_max.max(1)
            && !self.episodes.contains_key(&key)
        {
            self.episodes.clear();
            self.episodes_forgotten += 1;
        }
        let ep = self.episodes.entry(key).or_insert(0);
        *ep += 1;
        let episode = *ep;
        let identifier = scan_identifier(key, episode);
        let failures = s.failures;
        let info = s.info(key, failures, &mut self.budget, ctx);
        let mut msg = scan_summary(&info);
        msg.push_str(&format!(
            "; decided after {} failed first contact{}",
            s.failures,
            if s.failures == 1 { "" } else { "s" }
        ));
        if let Some(t) = s.full.as_ref().and_then(|f| f.app_tool)
            && s.failures == 0
        {
            msg.push_str(&format!(" and {t} application-layer probes"));
        }
        ctx.out.push(Notice {
            ts,
            identifier,
            host: key.0,
            peer: s.first_target(),
            flow_id: flow,
            stage: ctx.is_home(key.0).then_some(Stage::E5OutboundAttack),
            msg,
            kind: NoticeKind::ScanDetected(info.clone()),
        });
        self.decided += 1;
        let mut d = Decided {
            episode,
            failures: s.failures,
            target_notices: 0,
        };
        let proto = proto_num(key.1, key.0);
        let backlog = s
            .full
            .as_mut()
            .map(|f| std::mem::take(&mut f.backlog))
            .unwrap_or_default();
        self.backlog_used = self.backlog_used.saturating_sub(backlog.len());
        for b in backlog {
            if d.target_notices >= ctx.cfg.scan_target_notices_max {
                self.target_notices_capped += 1;
            } else if target_notice(&info, key.1, b.target, b.port, b.ts, b.flow, ctx) {
                d.target_notices += 1;
                ctx.attacks
                    .record_scan(b.target, key.0, proto, b.port, b.ts);
            }
        }
        // Propagation: was the scanner itself a target before?
        let port = info.ports.first().copied().unwrap_or(0);
        crate::attacks::check_propagation(
            ctx,
            key.0,
            proto,
            port,
            None,
            &format!("{} scan", kind_name(info.kind)),
            &info.sample_targets,
            ts,
            flow,
        );
        let deadline = scan_deadline(s.last_probe().max(ts), ctx);
        s.decided = Some(Box::new(d));
        self.decided_now += 1;
        self.scanning.push(Reverse((deadline, key)));
    }

    /// A FIN or RST on an answered TCP first contact (not pending any more):
    /// once the connection is closed — a RST from either side, or a FIN from
    /// both — without a byte of payload either way and without application
    /// data identified on it, it was a probe (a connect scan, a SYN scan of an
    /// open port): the success it was counted as becomes a failure now, not
    /// when its flow record arrives (the flow stage's closed timeout later).
    fn close_seen(
        &mut self,
        client: IpAddr,
        p: &PacketSummary,
        from_client: bool,
        ctx: &mut Ctx<'_>,
    ) {
        if !self.watched.contains(&p.flow_id) {
            return;
        }
        let key = (client, Class::Tcp);
        let Some(s) = self.sources.get_mut(&key) else {
            return;
        };
        let Some(a) = s.answered_mut(p.flow_id) else {
            return;
        };
        if *a & A_CLOSED_DATALESS != 0 {
            return;
        }
        if p.payload_len > 0 {
            // It carried data: a connection, not a probe.
            *a = 0;
            self.watched.remove(&p.flow_id);
            return;
        }
        let f = p.tcp_flags;
        if f & tcp_flags::FIN != 0 {
            *a |= if from_client { A_FIN_C } else { A_FIN_S };
        }
        let closed = f & tcp_flags::RST != 0 || *a & (A_FIN_C | A_FIN_S) == A_FIN_C | A_FIN_S;
        if !closed {
            return;
        }
        *a |= A_CLOSED_DATALESS;
        self.apply_dataless(key, Dataless::Fail, p.ts, p.flow_id, ctx);
    }

    /// Application data was identified on a flow opened by `client`: an
    /// answered first contact of it is a connection, not a probe (and one
    /// already judged dataless at its close is taken back).
    pub(crate) fn app_data(
        &mut self,
        client: IpAddr,
        flow: FlowId,
        ts: Timestamp,
        ctx: &mut Ctx<'_>,
    ) {
        if !self.watched.remove(&flow) {
            return;
        }
        let key = (client, Class::Tcp);
        let Some(s) = self.sources.get_mut(&key) else {
            return;
        };
        let Some(a) = s.answered_mut(flow) else {
            return;
        };
        let was = *a;
        *a = 0;
        if was & A_CLOSED_DATALESS != 0 {
            self.apply_dataless(key, Dataless::Revert, ts, flow, ctx);
        }
    }

    /// Applies a dataless judgement to the source's walk: a failure instead of
    /// the success it was counted as (+2 steps), or that taken back.
    fn apply_dataless(
        &mut self,
        key: SrcKey,
        what: Dataless,
        ts: Timestamp,
        flow: FlowId,
        ctx: &mut Ctx<'_>,
    ) {
        let Some(s) = self.sources.get_mut(&key) else {
            return;
        };
        let step = self.trw.fail - self.trw.success;
        match what {
            Dataless::Nothing => {}
            Dataless::Fail => {
                self.dataless += 1;
                s.failures += 1;
                if s.decided.is_none() {
                    s.llr += step;
                    if s.llr >= self.trw.upper {
                        self.decide(key, ts, Some(flow), ctx);
                    }
                }
            }
            Dataless::Revert => {
                self.dataless_reverted += 1;
                s.failures = s.failures.saturating_sub(1);
                if s.decided.is_none() {
                    s.llr -= step;
                }
            }
        }
    }

    /// A flow ended: an answered TCP first contact that closed without a byte
    /// of data either way (connect scans, SYN scans of open ports) counts as a
    /// failed first contact after all — unless its close already said so; one
    /// judged dataless at its close whose record shows data is taken back.
    pub(crate) fn on_flow_end(&mut self, rec: &FlowRecord, ctx: &mut Ctx<'_>) {
        if rec.key.proto != IpProto::TCP || !self.watched.remove(&rec.flow_id) {
            return;
        }
        let Some(t) = &rec.tcp else {
            return;
        };
        let key = (rec.key.src, Class::Tcp);
        let Some(s) = self.sources.get_mut(&key) else {
            return;
        };
        let Some(a) = s.answered_mut(rec.flow_id) else {
            return;
        };
        let was = *a;
        *a = 0;
        // Zeek history: `D`/`d` = data from the originator/responder. A probe
        // carries none either way (an FTP data connection the client opened
        // carries the server's). Unknown history: no call.
        let data = t.history.contains('D') || t.history.contains('d');
        let what = if was & A_CLOSED_DATALESS != 0 {
            if data {
                Dataless::Revert
            } else {
                Dataless::Nothing
            }
        } else if t.history.is_empty() || data {
            Dataless::Nothing
        } else {
            Dataless::Fail
        };
        self.apply_dataless(key, what, rec.end, rec.flow_id, ctx);
    }

    /// Application-layer probes named a scanning tool (nmap's NSE user agent):
    /// decides the source even when the walk could not (one target, one port).
    pub(crate) fn tool_seen(
        &mut self,
        client: IpAddr,
        tool: &'static str,
        ts: Timestamp,
        flow: FlowId,
        ctx: &mut Ctx<'_>,
    ) {
        if ctx.cfg.scan_ignore_sources.contains(client) {
            return;
        }
        let key = (client, Class::Tcp);
        self.source_mut(key, ts, ctx);
        let Some(s) = self.sources.get_mut(&key) else {
            return;
        };
        s.full(client, Class::Tcp, &mut self.budget, ctx.cfg)
            .app_tool = Some(tool);
        if s.decided.is_none() {
            self.decide(key, ts, Some(flow), ctx);
        }
    }

    /// The earliest time [`Scans::advance`] has work: a probe timeout, a scan
    /// going quiet, or the next second of packet time (the idle sweep).
    #[inline]
    pub(crate) fn next_due(&self) -> Timestamp {
        let mut due = Timestamp::from_secs_nanos(self.last_sweep_secs.saturating_add(1), 0);
        if let Some(&(d, _)) = self.pending_q.front() {
            due = due.min(d);
        }
        if let Some(Reverse((d, _))) = self.scanning.peek() {
            due = due.min(*d);
        }
        due
    }

    /// Time moved to `now`: probe timeouts, scans that went quiet, idle sources.
    pub(crate) fn advance(&mut self, now: Timestamp, ctx: &mut Ctx<'_>) {
        while let Some(&(deadline, flow)) = self.pending_q.front() {
            if deadline > now {
                break;
            }
            self.pending_q.pop_front();
            self.q_popped += 1;
            if deadline != ANSWERED && self.pending.contains_key(&flow) {
                self.timeouts += 1;
                self.resolve(flow, Outcome::Failure, deadline, ctx);
            }
        }
        while let Some(&Reverse((deadline, key))) = self.scanning.peek() {
            if deadline > now {
                break;
            }
            self.scanning.pop();
            let Some(s) = self.sources.get(&key) else {
                continue;
            };
            if s.decided.is_none() {
                continue;
            }
            let real = scan_deadline(s.last_probe(), ctx);
            if real > deadline {
                self.scanning.push(Reverse((real, key)));
                continue;
            }
            self.end_and_remove(key, deadline, ctx);
        }
        // Memory only (sources check their own idleness when touched): once
        // per second of packet time.
        if now.secs() == self.last_sweep_secs {
            return;
        }
        self.last_sweep_secs = now.secs();
        let idle_ns = i64::try_from(ctx.cfg.source_idle_secs)
            .unwrap_or(i64::MAX)
            .saturating_mul(1_000_000_000);
        while let Some(&(k, st)) = self.lru.front() {
            let Some(s) = self.sources.get(&k) else {
                self.lru.pop_front();
                continue;
            };
            if s.stamp != st {
                let cur = s.stamp;
                self.lru.pop_front();
                self.lru.push_back((k, cur));
                continue;
            }
            if s.decided.is_none() && s.queue_empty() && now.nanos_since(s.last_activity) >= idle_ns
            {
                self.lru.pop_front();
                self.sources_expired += 1;
                self.end_and_remove(k, now, ctx);
                continue;
            }
            break;
        }
    }

    /// End of input: unanswered probes fail (in the order they were sent), then
    /// every decided scan ends with its final counts.
    pub(crate) fn finish(&mut self, now: Timestamp, ctx: &mut Ctx<'_>) {
        self.advance(now, ctx);
        while let Some((deadline, flow)) = self.pending_q.pop_front() {
            self.q_popped += 1;
            if deadline != ANSWERED && self.pending.contains_key(&flow) {
                self.timeouts += 1;
                self.resolve(flow, Outcome::Failure, now, ctx);
            }
        }
        let mut keys: Vec<SrcKey> = self
            .sources
            .iter()
            .filter(|(_, s)| s.decided.is_some())
            .map(|(k, _)| k)
            .collect();
        keys.sort();
        for k in keys {
            self.end_and_remove(k, now, ctx);
        }
        self.scanning.clear();
    }
}

fn scan_deadline(last: Timestamp, ctx: &Ctx<'_>) -> Timestamp {
    last.add_secs(i64::try_from(ctx.cfg.scan_idle_secs).unwrap_or(i64::MAX / 2_000_000_000))
}

fn proto_num(class: Class, ip: IpAddr) -> u8 {
    match (class, ip) {
        (Class::Tcp, _) => 6,
        (Class::Udp, _) => 17,
        (Class::Icmp, IpAddr::V4(_)) => 1,
        (Class::Icmp, IpAddr::V6(_)) => 58,
    }
}

/// The `E1` record for one home target of a decided scan (false when it was
/// already reported).
fn target_notice(
    info: &ScanInfo,
    class: Class,
    target: IpAddr,
    port: u16,
    ts: Timestamp,
    flow: FlowId,
    ctx: &mut Ctx<'_>,
) -> bool {
    let scanner = info.scanner;
    let identifier = format!("scan-target:{}:{}:{}", scanner, class.name(), target);
    if !ctx.sup.first(&identifier) {
        return false;
    }
    let how = if class == Class::Icmp {
        format!("probed by ICMP echo from {scanner}")
    } else {
        format!("probed on {port}/{} by {scanner}", class.name())
    };
    let msg = format!(
        "{how} ({} scan, {} targets so far, {})",
        kind_name(info.kind),
        thousands(info.target_count),
        tool_text(info)
    );
    ctx.out.push(Notice {
        ts,
        identifier,
        host: target,
        peer: Some(scanner),
        flow_id: Some(flow),
        stage: Some(Stage::E1InboundScan),
        msg,
        kind: NoticeKind::ScanDetected(info.clone()),
    });
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every source of ordinary traffic has a record in the slab: keep it
    /// small (the decision and everything past one first contact are out of
    /// line).
    #[test]
    fn source_records_stay_small() {
        let n = std::mem::size_of::<Source>();
        assert!(n <= 152, "Source is {n} bytes");
    }

    #[test]
    fn classification_table() {
        assert_eq!(classify(1, 1001, 1001), ScanKind::Vertical);
        assert_eq!(classify(1024, 1, 1024), ScanKind::Horizontal);
        // nmap -sV over a /24: 80 on every host, 443 on three.
        assert_eq!(classify(7, 2, 10), ScanKind::Horizontal);
        // 64 hosts × 4 ports; 3 hosts × 3 ports by hand.
        assert_eq!(classify(64, 4, 256), ScanKind::Block);
        assert_eq!(classify(3, 3, 9), ScanKind::Block);
        assert_eq!(classify(1, 2, 2), ScanKind::Vertical);
        assert_eq!(classify(1, 1, 1), ScanKind::Horizontal);
    }

    #[test]
    fn source_table_keys_ipv4_compactly_and_ipv6_apart() {
        let keys: Vec<SrcKey> = ["10.0.0.1", "255.255.255.255", "0.0.0.0", "2001:db8::1"]
            .iter()
            .flat_map(|a| {
                let ip: IpAddr = a.parse().unwrap();
                [Class::Tcp, Class::Udp, Class::Icmp].map(|c| (ip, c))
            })
            .collect();
        let mut t = SourceTable::with_capacity(4);
        for (n, k) in keys.iter().enumerate() {
            let (s, new) = t
                .get_or_insert_with(*k, || Source::new(Timestamp::ZERO, n as u64))
                .unwrap();
            assert!(new);
            assert_eq!(s.stamp, n as u64);
        }
        assert_eq!(t.len(), keys.len());
        for (n, k) in keys.iter().enumerate() {
            assert_eq!(t.get(k).map(|s| s.stamp), Some(n as u64), "{k:?}");
        }
        let mut listed: Vec<SrcKey> = t.iter().map(|(k, _)| k).collect();
        listed.sort();
        let mut want = keys.clone();
        want.sort();
        assert_eq!(listed, want);
        assert!(t.remove(&keys[1]).is_some());
        assert!(!t.contains_key(&keys[1]));
        let (_, new) = t
            .get_or_insert_with(keys[1], || Source::new(Timestamp::ZERO, 99))
            .unwrap();
        assert!(new);
        assert_eq!(t.slab.len(), keys.len(), "the freed slot is reused");
    }
}
