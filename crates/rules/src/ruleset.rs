//! The compiled rule set and its three entry points: packets, reassembled
//! streams and application-layer transactions.

use crate::config::{RulesConfig, RulesLimits};
use crate::error::RulesError;
use crate::header::PortSet;
use crate::inspect::Eval;
use crate::lexer::logical_lines;
use crate::parse::{Names, parse_rule};
use crate::prefilter::{Group, MAX_GROUP_PORTS, PortGroups, PortKey};
use crate::report::{LoadReport, Skip};
use crate::rule::*;
use crate::threshold::{ThresholdFile, ThresholdTable};
use rustc_hash::FxHashMap;
use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use stormwatch_model::{
    Alert, AlertAction, AlertFlow, AppProto, BufferId, Direction, FlowId, FlowKey, IpProto,
    StreamData, Timestamp, TxView,
};
use stormwatch_wire::{Decoded, L3, L4};

/// The flow a packet, stream chunk or transaction belongs to, as the engine
/// knows it at this moment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FlowInfo {
    /// Flow id.
    pub flow_id: FlowId,
    /// Endpoints, client → server.
    pub key: FlowKey,
    /// Direction of this packet / chunk / transaction update.
    pub dir: Direction,
    /// TCP: the three-way handshake completed (UDP: packets seen both ways).
    pub established: bool,
    /// This packet's payload goes into TCP reassembly and will reach
    /// [`RuleSet::match_stream`]; stream rules then skip the packet payload.
    pub stream_tracked: bool,
    /// Application protocol of the flow.
    pub app_proto: AppProto,
    /// Protocol identified to the server (Unknown: same as `app_proto`).
    pub app_proto_ts: AppProto,
    /// Protocol identified to the client (Unknown: same as `app_proto`).
    pub app_proto_tc: AppProto,
    /// Packets to server so far.
    pub pkts_toserver: u64,
    /// Packets to client so far.
    pub pkts_toclient: u64,
    /// Bytes to server so far.
    pub bytes_toserver: u64,
    /// Bytes to client so far.
    pub bytes_toclient: u64,
    /// Flow start.
    pub start: Timestamp,
}

impl FlowInfo {
    /// A flow with zero counters and unknown protocols.
    pub fn new(flow_id: FlowId, key: FlowKey, dir: Direction, start: Timestamp) -> FlowInfo {
        FlowInfo {
            flow_id,
            key,
            dir,
            established: false,
            stream_tracked: false,
            app_proto: AppProto::Unknown,
            app_proto_ts: AppProto::Unknown,
            app_proto_tc: AppProto::Unknown,
            pkts_toserver: 0,
            pkts_toclient: 0,
            bytes_toserver: 0,
            bytes_toclient: 0,
            start,
        }
    }

    /// Endpoints oriented as this direction's packets travel.
    fn oriented(&self) -> (IpAddr, u16, IpAddr, u16) {
        let k = &self.key;
        match self.dir {
            Direction::ToServer => (k.src, k.src_port, k.dst, k.dst_port),
            Direction::ToClient => (k.dst, k.dst_port, k.src, k.src_port),
        }
    }

    fn proto_in(&self, d: Direction) -> AppProto {
        let p = match d {
            Direction::ToServer => self.app_proto_ts,
            Direction::ToClient => self.app_proto_tc,
        };
        if p == AppProto::Unknown {
            self.app_proto
        } else {
            p
        }
    }

    fn alert_flow(&self) -> AlertFlow {
        AlertFlow {
            pkts_toserver: self.pkts_toserver,
            pkts_toclient: self.pkts_toclient,
            bytes_toserver: self.bytes_toserver,
            bytes_toclient: self.bytes_toclient,
            start: self.start,
            src_ip: self.key.src,
            dest_ip: self.key.dst,
            src_port: self.key.src_port,
            dest_port: self.key.dst_port,
        }
    }
}

/// One decoded packet to inspect.
#[derive(Clone, Copy, Debug)]
pub struct PacketInput<'a> {
    /// Packet time.
    pub ts: Timestamp,
    /// The decoded packet (after defragmentation, when it was fragmented).
    pub pkt: &'a Decoded<'a>,
    /// The frame as captured (for the alert's `packet`).
    pub frame: &'a [u8],
    /// The flow, when the packet belongs to one.
    pub flow: Option<FlowInfo>,
}

/// One in-order chunk of a reassembled TCP stream.
#[derive(Clone, Copy, Debug)]
pub struct StreamInput<'a> {
    /// Time of the packet that released the chunk.
    pub ts: Timestamp,
    /// The flow; `flow.dir` is the direction of the data.
    pub flow: FlowInfo,
    /// Bytes or a gap.
    pub data: StreamData<'a>,
    /// Offset of the chunk in its direction's stream.
    pub offset: u64,
    /// The frame that released the chunk (for the alert's `packet`; may be empty).
    pub frame: &'a [u8],
}

/// A transaction update to inspect.
#[derive(Clone, Copy, Debug)]
pub struct TxInput<'a> {
    /// Packet time.
    pub ts: Timestamp,
    /// The flow; `flow.dir` is the direction whose data updated the transaction.
    pub flow: FlowInfo,
    /// The frame that completed the update (for the alert's `packet`; may be empty).
    pub frame: &'a [u8],
}

/// Per-flow rule state: flowbits, alerted transactions, stream inspection
/// windows. Empty (one pointer) until a rule needs it.
#[derive(Clone, Debug, Default)]
pub struct FlowState {
    inner: Option<Box<FlowInner>>,
}

#[derive(Clone, Debug, Default)]
struct StreamDir {
    /// The current turn's bytes (at most `stream_window_bytes` kept).
    buf: Vec<u8>,
    /// Bytes of this turn that slid out of `buf`.
    dropped: u64,
    /// Rules that alerted in this turn.
    alerted: Vec<u32>,
    /// Rules whose fast pattern was seen in this turn but which have not
    /// matched yet: (rule, turn position of the hit).
    pending: Vec<(u32, u64)>,
}

impl StreamDir {
    fn reset(&mut self) {
        self.buf.clear();
        self.dropped = 0;
        self.alerted.clear();
        self.pending.clear();
    }
}

#[derive(Clone, Debug, Default)]
struct FlowInner {
    /// Set flowbits (sorted ids).
    bits: Vec<u32>,
    /// IP-only rules already evaluated for this direction.
    iponly_done: [bool; 2],
    /// A `pass` rule matched: nothing more is inspected.
    passed: bool,
    stream: [StreamDir; 2],
    last_stream_dir: Option<Direction>,
    /// (tx id, rule) pairs that alerted (at most `tx_alerts_per_flow`).
    tx_alerted: Vec<(u64, u32)>,
    /// Per-flow threshold state by rule.
    flow_th: Vec<(u32, crate::threshold::State)>,
}

impl FlowState {
    fn inner(&mut self) -> &mut FlowInner {
        self.inner.get_or_insert_with(Box::default)
    }

    /// True when no rule has stored anything for the flow.
    pub fn is_empty(&self) -> bool {
        self.inner.is_none()
    }

    /// Ids of the flowbits currently set (see [`RuleSet::flowbit_name`]).
    pub fn flowbit_ids(&self) -> &[u32] {
        self.inner
            .as_ref()
            .map(|i| i.bits.as_slice())
            .unwrap_or(&[])
    }

    /// True when a `pass` rule matched on the flow.
    pub fn passed(&self) -> bool {
        self.inner.as_ref().is_some_and(|i| i.passed)
    }
}

/// Counters of limits reached and work done (monotonic).
#[derive(Debug, Default)]
struct Counters {
    window_slides: AtomicU64,
    pending_dropped: AtomicU64,
    flowbits_full: AtomicU64,
    tx_alerts_full: AtomicU64,
    threshold_full: AtomicU64,
    evaluated: AtomicU64,
}

/// A snapshot of [`RuleSet`] counters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RulesCounters {
    /// Stream windows that slid (turn longer than `stream_window_bytes`).
    pub stream_window_slides: u64,
    /// Pending stream candidates dropped (more than 64 in one turn).
    pub stream_pending_dropped: u64,
    /// Flowbit sets refused (`flowbits_per_flow` reached).
    pub flowbits_full: u64,
    /// Transaction alert records refused (`tx_alerts_per_flow` reached; the
    /// oldest transaction's records were dropped).
    pub tx_alerts_full: u64,
    /// Threshold entries refused (`threshold_entries` reached).
    pub threshold_full: u64,
    /// Candidate rules fully evaluated (work done after the prefilter).
    pub rules_evaluated: u64,
}

/// Protocol classes for packet groups.
#[derive(Debug, Default)]
struct ProtoGroups {
    tcp: PortGroups,
    udp: PortGroups,
    icmp: Group,
    other: Group,
}

impl ProtoGroups {
    fn is_empty(&self) -> bool {
        self.tcp.is_empty() && self.udp.is_empty() && self.icmp.is_empty() && self.other.is_empty()
    }

    fn lookup(&self, proto: u8, sp: u16, dp: u16) -> [Option<&Group>; 3] {
        match proto {
            6 => self.tcp.lookup(sp, dp),
            17 => self.udp.lookup(sp, dp),
            1 | 58 => [Some(&self.icmp), None, None],
            _ => [Some(&self.other), None, None],
        }
    }
}

/// A compiled, immutable rule set (`Send + Sync`). Threshold counters are the
/// only shared mutable state; they sit behind a mutex that is taken only when
/// a thresholded rule matches.
#[derive(Debug)]
pub struct RuleSet {
    rules: Vec<Rule>,
    files: Vec<String>,
    flowbit_names: Vec<String>,
    limits: RulesLimits,
    ip_only: Vec<u32>,
    pkt_only: ProtoGroups,
    pkt_fallback: ProtoGroups,
    /// Packet rules with `dsize`, by payload-length class ([`DSIZE_CLASSES`]):
    /// a packet scans only the rules that accept its length class.
    pkt_dsize: Vec<ProtoGroups>,
    stream: PortGroups,
    tx_by_buf: BTreeMap<BufferId, Group>,
    tx_always: BTreeMap<AppProto, Vec<u32>>,
    max_pat: usize,
    /// Some transaction rule also has raw payload keywords (read from the stream turn).
    tx_reads_stream: bool,
    thresholds: Mutex<ThresholdTable>,
    th_file: ThresholdFile,
    counters: Counters,
}

/// Where an evaluation's data comes from.
#[derive(Clone, Copy)]
enum Src<'a> {
    Packet(&'a PacketInput<'a>),
    Stream,
    Tx(&'a dyn TxView),
}

/// Packet / flow facts one evaluation needs.
struct Ctx<'a> {
    ts: Timestamp,
    src: IpAddr,
    sp: u16,
    dst: IpAddr,
    dp: u16,
    proto: u8,
    flow: Option<&'a FlowInfo>,
    frame: &'a [u8],
}

fn ports_match(set: &PortSet, p: u16) -> bool {
    set.is_full() || set.contains(p)
}

impl RuleSet {
    /// Loads rule files and directories (`*.rules`, sorted by name). `Err` only
    /// for operator faults (unreadable path, bad threshold file); bad rules are
    /// skipped and listed in the report.
    pub fn load(paths: &[PathBuf], cfg: &RulesConfig) -> Result<(RuleSet, LoadReport), RulesError> {
        let mut texts: Vec<(String, String)> = Vec::new();
        for p in paths {
            let meta = std::fs::metadata(p).map_err(|source| RulesError::Io {
                path: p.clone(),
                source,
            })?;
            if meta.is_dir() {
                let rd = std::fs::read_dir(p).map_err(|source| RulesError::Io {
                    path: p.clone(),
                    source,
                })?;
                let mut files: Vec<PathBuf> = rd
                    .filter_map(|e| e.ok().map(|e| e.path()))
                    .filter(|f| f.extension().is_some_and(|x| x == "rules") && f.is_file())
                    .collect();
                files.sort();
                for f in files {
                    texts.push((f.display().to_string(), read_text(&f)?));
                }
            } else {
                texts.push((p.display().to_string(), read_text(p)?));
            }
        }
        let th_file = match &cfg.threshold_file {
            Some(p) => ThresholdFile::load(p)?,
            None => ThresholdFile::default(),
        };
        let refs: Vec<(&str, &str)> = texts
            .iter()
            .map(|(a, b)| (a.as_str(), b.as_str()))
            .collect();
        Ok(Self::build(&refs, cfg, th_file))
    }

    /// Builds a rule set from rule text (`origin` names it in the report).
    pub fn from_text(origin: &str, text: &str, cfg: &RulesConfig) -> (RuleSet, LoadReport) {
        Self::build(&[(origin, text)], cfg, ThresholdFile::default())
    }

    /// Like [`RuleSet::from_text`] with a `threshold.config` text.
    pub fn from_text_with_thresholds(
        origin: &str,
        text: &str,
        cfg: &RulesConfig,
        threshold_config: &str,
    ) -> Result<(RuleSet, LoadReport), RulesError> {
        let th = ThresholdFile::parse(Path::new("<threshold.config>"), threshold_config)?;
        Ok(Self::build(&[(origin, text)], cfg, th))
    }

    fn build(
        texts: &[(&str, &str)],
        cfg: &RulesConfig,
        th_file: ThresholdFile,
    ) -> (RuleSet, LoadReport) {
        let mut report = LoadReport::default();
        let mut names = Names::default();
        let mut rules: Vec<Rule> = Vec::new();
        let mut files = Vec::new();
        // (gid, sid) → index in `rules`.
        let mut by_sid: FxHashMap<(u32, u32), usize> = FxHashMap::default();
        let mut inert_count: BTreeMap<&'static str, usize> = BTreeMap::new();
        for (fi, (origin, text)) in texts.iter().enumerate() {
            let fidx = u32::try_from(fi).unwrap_or(u32::MAX);
            files.push(origin.to_string());
            report.file_mut(origin);
            for ll in logical_lines(text) {
                match parse_rule(&ll, fidx, cfg, &mut names) {
                    Ok(p) => {
                        let key = (p.rule.sig.gid, p.sid);
                        for k in &p.rule.inert {
                            *inert_count.entry(k).or_default() += 1;
                        }
                        if let Some(&old) = by_sid.get(&key) {
                            let prev = &rules[old];
                            let (keep_new, kept_rev) = if p.rule.sig.rev > prev.sig.rev {
                                (true, p.rule.sig.rev)
                            } else {
                                (false, prev.sig.rev)
                            };
                            let loser_file;
                            let loser_line;
                            if keep_new {
                                loser_file = files[prev.file as usize].clone();
                                loser_line = prev.line as usize;
                                rules[old] = p.rule;
                            } else {
                                loser_file = origin.to_string();
                                loser_line = ll.line;
                            }
                            let f = report.file_mut(&loser_file);
                            f.skipped += 1;
                            if keep_new {
                                f.loaded = f.loaded.saturating_sub(1);
                                report.file_mut(origin).loaded += 1;
                            }
                            report.skips.push(Skip {
                                file: loser_file,
                                line: loser_line,
                                sid: Some(key.1),
                                reason: "duplicate sid".to_string(),
                                detail: format!(
                                    "duplicate signature {}:{}; the one with rev {kept_rev} is kept (higher rev wins, first loaded on a tie)",
                                    key.0, key.1
                                ),
                            });
                        } else {
                            by_sid.insert(key, rules.len());
                            rules.push(p.rule);
                            report.file_mut(origin).loaded += 1;
                        }
                    }
                    Err((sid, rej)) => {
                        report.file_mut(origin).skipped += 1;
                        report.skips.push(Skip {
                            file: origin.to_string(),
                            line: rej.line,
                            sid,
                            reason: rej.reason,
                            detail: rej.detail,
                        });
                    }
                }
            }
        }
        for (k, n) in inert_count {
            report.notes.push(format!(
                "{n} rule(s) use `{k}`: accepted, but it does not act"
            ));
        }
        // Evaluation order: pass first, flowbit setters before checkers, then
        // severity, then load order.
        for (i, r) in rules.iter_mut().enumerate() {
            r.order.3 = u32::try_from(i).unwrap_or(u32::MAX);
        }
        rules.sort_by_key(|r| r.order);
        let mut rs = RuleSet {
            rules,
            files,
            flowbit_names: names.order,
            limits: cfg.limits.clone(),
            ip_only: Vec::new(),
            pkt_only: ProtoGroups::default(),
            pkt_fallback: ProtoGroups::default(),
            pkt_dsize: Vec::new(),
            stream: PortGroups::default(),
            tx_by_buf: BTreeMap::new(),
            tx_always: BTreeMap::new(),
            max_pat: 1,
            tx_reads_stream: false,
            thresholds: Mutex::new(ThresholdTable::default()),
            th_file,
            counters: Counters::default(),
        };
        rs.compile();
        (rs, report)
    }

    fn compile(&mut self) {
        let mut pkt_only: Vec<PktMember<'_>> = Vec::new();
        let mut pkt_fb: Vec<PktMember<'_>> = Vec::new();
        let mut pkt_ds: Vec<Vec<PktMember<'_>>> = vec![Vec::new(); DSIZE_CLASSES.len()];
        let mut stream: Vec<(u32, Option<&[u8]>, PortKey)> = Vec::new();
        let mut tx_buf: BTreeMap<BufferId, crate::prefilter::Members<'_>> = BTreeMap::new();
        let mut ip_only = Vec::new();
        let mut tx_always: BTreeMap<AppProto, Vec<u32>> = BTreeMap::new();
        let mut max_pat = 1;
        for (i, r) in self.rules.iter().enumerate() {
            let idx = u32::try_from(i).unwrap_or(u32::MAX);
            let key = port_key(r);
            let payload_pat = r
                .fast
                .as_ref()
                .filter(|f| f.list == ListId::Payload)
                .map(|f| f.pat.as_slice());
            if let Some(f) = &r.fast {
                max_pat = max_pat.max(f.pat.len());
            }
            match r.kind {
                Kind::IpOnly => ip_only.push(idx),
                Kind::Packet => {
                    let dsize = r.pkt.iter().find_map(|c| match c {
                        PktCheck::Dsize(c) => Some(*c),
                        _ => None,
                    });
                    if let Some(c) = dsize {
                        let spans = cmp_span(c);
                        for (k, &(lo, hi)) in DSIZE_CLASSES.iter().enumerate() {
                            if spans.iter().any(|&(a, b)| a <= hi && b >= lo) {
                                pkt_ds[k].push((idx, payload_pat, key.clone(), r.proto));
                            }
                        }
                    } else {
                        pkt_only.push((idx, payload_pat, key.clone(), r.proto));
                        pkt_fb.push((idx, payload_pat, key, r.proto));
                    }
                }
                Kind::Stream => {
                    let stream_only = r.proto == HdrProto::TcpStream || r.flow.only_stream;
                    if !stream_only {
                        pkt_fb.push((idx, payload_pat, key.clone(), r.proto));
                    }
                    if r.proto.allows(6) {
                        stream.push((idx, payload_pat, key));
                    }
                }
                Kind::Tx => match &r.fast {
                    Some(FastSel {
                        list: ListId::Buffer(b),
                        pat,
                        ..
                    }) => tx_buf
                        .entry(*b)
                        .or_default()
                        .push((idx, Some(pat.as_slice()))),
                    _ => {
                        let app = r.app.unwrap_or(AppProto::Unknown);
                        tx_always.entry(app).or_default().push(idx);
                    }
                },
            }
        }
        let flags_of = |ri: u32| -> [u64; 4] {
            let mut m = [u64::MAX; 4];
            if let Some(r) = self.rules.get(ri as usize) {
                for c in &r.pkt {
                    if let PktCheck::Flags(..) = c {
                        for f in 0..256usize {
                            if !tcp_flags_ok(c, f as u8) {
                                m[f / 64] &= !(1 << (f % 64));
                            }
                        }
                    }
                }
            }
            m
        };
        self.pkt_only = build_proto_groups(&pkt_only, &flags_of);
        self.pkt_fallback = build_proto_groups(&pkt_fb, &flags_of);
        self.pkt_dsize = pkt_ds
            .iter()
            .map(|v| build_proto_groups(v, &flags_of))
            .collect();
        self.stream = PortGroups::build(&stream, None);
        self.tx_by_buf = tx_buf
            .into_iter()
            .map(|(b, v)| (b, Group::build(&v)))
            .collect();
        self.tx_always = tx_always;
        self.ip_only = ip_only;
        self.max_pat = max_pat;
        self.tx_reads_stream = self
            .rules
            .iter()
            .any(|r| r.kind == Kind::Tx && !r.payload.is_empty());
    }

    /// Number of rules loaded.
    pub fn len(&self) -> usize {
        self.rules.len()
    }

    /// True when no rule is loaded (every `match_*` returns at once).
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// Name of a flowbit id (ids in first-seen order across the rule files).
    pub fn flowbit_name(&self, id: u32) -> Option<&str> {
        self.flowbit_names.get(id as usize).map(String::as_str)
    }

    /// Names of the flowbits set on a flow, in id order (EVE `metadata.flowbits`).
    pub fn flowbits_set(&self, fs: &FlowState) -> Vec<&str> {
        fs.flowbit_ids()
            .iter()
            .filter_map(|&i| self.flowbit_name(i))
            .collect()
    }

    /// Counters of limits reached.
    pub fn counters(&self) -> RulesCounters {
        let c = &self.counters;
        RulesCounters {
            stream_window_slides: c.window_slides.load(Ordering::Relaxed),
            stream_pending_dropped: c.pending_dropped.load(Ordering::Relaxed),
            flowbits_full: c.flowbits_full.load(Ordering::Relaxed),
            tx_alerts_full: c.tx_alerts_full.load(Ordering::Relaxed),
            threshold_full: c.threshold_full.load(Ordering::Relaxed),
            rules_evaluated: c.evaluated.load(Ordering::Relaxed),
        }
    }

    /// Prefilter groups, for tuning: one line per group with its rules,
    /// distinct fast patterns, shortest pattern and rules without a pattern.
    pub fn group_stats(&self) -> Vec<String> {
        let mut v = Vec::new();
        let mut pg = |name: &str, g: &PortGroups| {
            let (r, p, s, a) = g.any.stats();
            v.push(format!(
                "{name} any: rules {r} patterns {p} shortest {s} always {a}"
            ));
            let mut seen = std::collections::BTreeSet::new();
            let mut ports: Vec<_> = g
                .by_dst
                .iter()
                .map(|(k, g)| (*k, "dst", g))
                .chain(g.by_src.iter().map(|(k, g)| (*k, "src", g)))
                .collect();
            ports.sort_by_key(|x| (x.1, x.0));
            for (port, kind, g) in ports {
                let (r, p, s, a) = g.stats();
                if seen.insert((kind, std::sync::Arc::as_ptr(g) as usize)) {
                    v.push(format!(
                        "{name} {kind} {port}: rules {r} patterns {p} shortest {s} always {a}"
                    ));
                }
            }
        };
        pg("stream", &self.stream);
        pg("pkt_fallback tcp", &self.pkt_fallback.tcp);
        pg("pkt_fallback udp", &self.pkt_fallback.udp);
        pg("pkt_only tcp", &self.pkt_only.tcp);
        for (k, g) in self.pkt_dsize.iter().enumerate() {
            pg(&format!("pkt_dsize class {k} tcp"), &g.tcp);
        }
        pg("pkt_only udp", &self.pkt_only.udp);
        for (b, g) in &self.tx_by_buf {
            let (r, p, s, a) = g.stats();
            v.push(format!(
                "tx {b:?}: rules {r} patterns {p} shortest {s} always {a}"
            ));
        }
        for (app, rules) in &self.tx_always {
            v.push(format!("tx always {}: rules {}", app.as_str(), rules.len()));
        }
        v.push(format!("ip-only: rules {}", self.ip_only.len()));
        v
    }

    /// The signatures loaded, in evaluation order.
    pub fn signatures(&self) -> impl Iterator<Item = &stormwatch_model::SignatureInfo> {
        self.rules.iter().map(|r| r.sig.as_ref())
    }

    /// Inspects one packet: header rules, IP-only rules (once per flow
    /// direction) and payload rules on the packet payload (stream rules only
    /// when the payload does not go into TCP reassembly).
    pub fn match_packet(
        &self,
        p: &PacketInput<'_>,
        fs: Option<&mut FlowState>,
        out: &mut Vec<Alert>,
    ) {
        if self.rules.is_empty() {
            return;
        }
        let Some((src, dst)) = p.pkt.l3.addrs() else {
            return;
        };
        let proto = p.pkt.l3.proto().unwrap_or(0);
        let (sp, dp) = match p.pkt.l4 {
            L4::Tcp(t) => (t.src_port, t.dst_port),
            L4::Udp(u) => (u.src_port, u.dst_port),
            _ => (0, 0),
        };
        let mut fs = fs;
        if fs.as_ref().is_some_and(|f| f.passed()) {
            return;
        }
        let ctx = Ctx {
            ts: p.ts,
            src,
            sp,
            dst,
            dp,
            proto,
            flow: p.flow.as_ref(),
            frame: p.frame,
        };
        let mut hits: Vec<u32> = Vec::new();
        let tracked = proto == 6 && p.flow.is_some_and(|f| f.stream_tracked);
        let groups = if tracked {
            &self.pkt_only
        } else {
            &self.pkt_fallback
        };
        let mut always: [&[u32]; 3] = [&[], &[], &[]];
        let tcp_flags = match p.pkt.l4 {
            L4::Tcp(t) => Some(t.flags),
            _ => None,
        };
        if !groups.is_empty() {
            for (k, g) in groups.lookup(proto, sp, dp).into_iter().enumerate() {
                if let Some(g) = g {
                    always[k] = g.always_for(tcp_flags);
                    g.scan(p.pkt.payload, &mut hits);
                }
            }
        }
        let len = p.pkt.payload.len();
        let mut ds_always: [&[u32]; 3] = [&[], &[], &[]];
        let class = DSIZE_CLASSES
            .iter()
            .position(|&(lo, hi)| (lo..=hi).contains(&(len as u64)));
        if let Some(g) = class.and_then(|c| self.pkt_dsize.get(c))
            && !g.is_empty()
        {
            for (k, g) in g.lookup(proto, sp, dp).into_iter().enumerate() {
                if let Some(g) = g {
                    ds_always[k] = g.always_for(tcp_flags);
                    g.scan(p.pkt.payload, &mut hits);
                }
            }
        }
        hits.sort_unstable();
        hits.dedup();
        let mut cands = hits;
        for a in always.into_iter().chain(ds_always) {
            merge_into(&mut cands, a);
        }
        // IP-only rules: first packet of each direction of a flow.
        let do_iponly = match (&mut fs, &p.flow) {
            (Some(f), Some(fi)) => {
                if self.ip_only.is_empty() {
                    false
                } else {
                    let inner = f.inner();
                    let d = fi.dir.index();
                    let first = !inner.iponly_done[d];
                    inner.iponly_done[d] = true;
                    first
                }
            }
            _ => true,
        };
        if do_iponly {
            merge_into(&mut cands, &self.ip_only);
        }
        if cands.is_empty() {
            return;
        }
        let payload = p.pkt.payload;
        self.run_candidates(&cands, &ctx, Src::Packet(p), Some(payload), fs, out, None);
    }

    /// Inspects one in-order chunk of reassembled TCP data. Stream rules see
    /// the current "turn" (bytes sent in this direction since the other side
    /// last sent data, at most `stream_window_bytes`), so a pattern split over
    /// segments matches, and each rule alerts at most once per turn.
    pub fn match_stream(&self, s: &StreamInput<'_>, fs: &mut FlowState, out: &mut Vec<Alert>) {
        if (self.stream.is_empty() && !self.tx_reads_stream) || s.flow.key.proto != IpProto::TCP {
            return;
        }
        if fs.passed() {
            return;
        }
        let (src, sp, dst, dp) = s.flow.oriented();
        let d = s.flow.dir;
        let groups = self.stream.lookup(sp, dp);
        let no_rules = groups.iter().flatten().all(|g| g.is_empty());
        if no_rules && !self.tx_reads_stream {
            // Still note the turn change for the other direction's rules.
            if let Some(inner) = fs.inner.as_mut() {
                inner.last_stream_dir = Some(d);
            }
            return;
        }
        let inner = fs.inner();
        if inner.last_stream_dir != Some(d) {
            inner.stream[d.index()].reset();
            inner.last_stream_dir = Some(d);
        }
        let sd = &mut inner.stream[d.index()];
        let bytes = match s.data {
            StreamData::Gap(_) => {
                // No match across a gap: a new turn starts after it.
                sd.reset();
                return;
            }
            StreamData::Bytes(b) => b,
        };
        if bytes.is_empty() {
            return;
        }
        let old_len = sd.buf.len();
        sd.buf.extend_from_slice(bytes);
        if no_rules {
            // Kept only for the raw-payload part of transaction rules.
            self.trim_window(sd);
            return;
        }
        let scan_from = old_len.saturating_sub(self.max_pat.saturating_sub(1));
        let mut cands: Vec<u32> = Vec::new();
        let mut hits: Vec<u32> = Vec::new();
        for g in groups.into_iter().flatten() {
            cands.extend_from_slice(&g.always);
            g.scan(&sd.buf[scan_from..], &mut hits);
        }
        let turn_pos = sd.dropped + old_len as u64;
        hits.sort_unstable();
        hits.dedup();
        // Pending candidates stay for 4 KiB of further data.
        const PENDING_REACH: u64 = 4096;
        let now = sd.dropped + sd.buf.len() as u64;
        sd.pending
            .retain(|&(_, at)| now.saturating_sub(at) <= PENDING_REACH);
        cands.extend(sd.pending.iter().map(|p| p.0));
        cands.extend_from_slice(&hits);
        cands.sort_unstable();
        cands.dedup();
        cands.retain(|r| !sd.alerted.contains(r));
        if cands.is_empty() {
            self.trim_window(sd);
            return;
        }
        // Evaluate against the turn buffer. The buffer is moved out so the
        // flow state can be borrowed mutably by flowbits.
        let buf = std::mem::take(&mut sd.buf);
        let ctx = Ctx {
            ts: s.ts,
            src,
            sp,
            dst,
            dp,
            proto: 6,
            flow: Some(&s.flow),
            frame: s.frame,
        };
        let mut matched: Vec<u32> = Vec::new();
        self.run_candidates(
            &cands,
            &ctx,
            Src::Stream,
            Some(&buf),
            Some(fs),
            out,
            Some(&mut matched),
        );
        let inner = fs.inner();
        let sd = &mut inner.stream[d.index()];
        sd.buf = buf;
        sd.alerted.extend_from_slice(&matched);
        sd.pending.retain(|p| !matched.contains(&p.0));
        for h in hits {
            if matched.contains(&h) || sd.pending.iter().any(|p| p.0 == h) {
                continue;
            }
            if sd.pending.len() >= 64 {
                sd.pending.remove(0);
                self.counters
                    .pending_dropped
                    .fetch_add(1, Ordering::Relaxed);
            }
            sd.pending.push((h, turn_pos));
        }
        self.trim_window(sd);
    }

    fn trim_window(&self, sd: &mut StreamDir) {
        let w = self.limits.stream_window_bytes.max(1);
        if sd.buf.len() > w {
            let cut = sd.buf.len() - w;
            sd.buf.drain(..cut);
            sd.dropped += cut as u64;
            self.counters.window_slides.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Inspects a transaction's buffers and fields. Each rule alerts at most
    /// once per transaction.
    pub fn match_tx(
        &self,
        t: &TxInput<'_>,
        tx: &dyn TxView,
        fs: &mut FlowState,
        out: &mut Vec<Alert>,
    ) {
        if self.tx_by_buf.is_empty() && self.tx_always.is_empty() {
            return;
        }
        if fs.passed() {
            return;
        }
        let app = tx.app_proto();
        let mut cands: Vec<u32> = Vec::new();
        if let Some(v) = self.tx_always.get(&app) {
            cands.extend_from_slice(v);
        }
        for (b, g) in &self.tx_by_buf {
            if crate::parse::buffer_proto(*b) != app && *b != BufferId::FileData {
                continue;
            }
            let n = tx.buffer_count(*b);
            for i in 0..n {
                if let Some(data) = tx.buffer(*b, i) {
                    cands.extend_from_slice(&g.always);
                    g.scan(data, &mut cands);
                }
            }
        }
        if cands.is_empty() {
            return;
        }
        cands.sort_unstable();
        cands.dedup();
        let tx_id = tx.tx_id();
        if let Some(inner) = fs.inner.as_ref() {
            cands.retain(|r| !inner.tx_alerted.contains(&(tx_id, *r)));
        }
        if cands.is_empty() {
            return;
        }
        let (src, sp, dst, dp) = t.flow.oriented();
        let ctx = Ctx {
            ts: t.ts,
            src,
            sp,
            dst,
            dp,
            proto: t.flow.key.proto.0,
            flow: Some(&t.flow),
            frame: t.frame,
        };
        // Raw payload parts of tx rules look at this direction's stream turn
        // (moved out while the rules run, so flowbits can borrow the state).
        let di = t.flow.dir.index();
        let needs_turn = cands.iter().any(|&r| {
            self.rules
                .get(r as usize)
                .is_some_and(|r| !r.payload.is_empty())
        });
        let turn = match fs.inner.as_mut() {
            Some(i) if needs_turn => std::mem::take(&mut i.stream[di].buf),
            _ => Vec::new(),
        };
        let mut matched = Vec::new();
        self.run_candidates(
            &cands,
            &ctx,
            Src::Tx(tx),
            Some(&turn),
            Some(fs),
            out,
            Some(&mut matched),
        );
        if needs_turn && let Some(i) = fs.inner.as_mut() {
            i.stream[di].buf = turn;
        }
        let limit = self.limits.tx_alerts_per_flow.max(1);
        let inner = fs.inner();
        for r in matched {
            if inner.tx_alerted.len() >= limit {
                // Forget the oldest transaction's records.
                let oldest = inner.tx_alerted.iter().map(|x| x.0).min().unwrap_or(0);
                inner.tx_alerted.retain(|x| x.0 != oldest);
                self.counters.tx_alerts_full.fetch_add(1, Ordering::Relaxed);
            }
            inner.tx_alerted.push((tx_id, r));
        }
    }

    /// Evaluates candidates in order; appends alerts. `matched` (when given)
    /// receives every rule that matched (alerting or not).
    #[allow(clippy::too_many_arguments)]
    fn run_candidates(
        &self,
        cands: &[u32],
        ctx: &Ctx<'_>,
        src: Src<'_>,
        payload: Option<&[u8]>,
        mut fs: Option<&mut FlowState>,
        out: &mut Vec<Alert>,
        mut matched: Option<&mut Vec<u32>>,
    ) {
        self.counters
            .evaluated
            .fetch_add(cands.len() as u64, Ordering::Relaxed);
        for &ri in cands {
            let Some(r) = self.rules.get(ri as usize) else {
                continue;
            };
            if !self.eval_rule(r, ctx, src, payload, fs.as_deref()) {
                continue;
            }
            if let Some(m) = matched.as_deref_mut() {
                m.push(ri);
            }
            // Flowbit actions.
            if let Some(f) = fs.as_deref_mut() {
                self.apply_flowbits(r, f);
            }
            if r.action == Action::Pass {
                if let (Some(f), Some(_)) = (fs.as_deref_mut(), ctx.flow) {
                    f.inner().passed = true;
                }
                return;
            }
            if r.noalert {
                continue;
            }
            if !self.threshold_allows(r, ri, ctx, fs.as_deref_mut()) {
                continue;
            }
            out.push(self.make_alert(r, ctx, src, payload));
        }
    }

    fn apply_flowbits(&self, r: &Rule, f: &mut FlowState) {
        if !r
            .flowbits
            .iter()
            .any(|b| matches!(b, Flowbit::Set(_) | Flowbit::Unset(_) | Flowbit::Toggle(_)))
        {
            return;
        }
        let limit = self.limits.flowbits_per_flow;
        let inner = f.inner();
        for b in &r.flowbits {
            match b {
                Flowbit::Set(id) => {
                    if let Err(pos) = inner.bits.binary_search(id) {
                        if inner.bits.len() >= limit {
                            self.counters.flowbits_full.fetch_add(1, Ordering::Relaxed);
                        } else {
                            inner.bits.insert(pos, *id);
                        }
                    }
                }
                Flowbit::Unset(id) => {
                    if let Ok(pos) = inner.bits.binary_search(id) {
                        inner.bits.remove(pos);
                    }
                }
                Flowbit::Toggle(id) => match inner.bits.binary_search(id) {
                    Ok(pos) => {
                        inner.bits.remove(pos);
                    }
                    Err(pos) => {
                        if inner.bits.len() < limit {
                            inner.bits.insert(pos, *id);
                        }
                    }
                },
                _ => {}
            }
        }
    }

    fn eval_rule(
        &self,
        r: &Rule,
        ctx: &Ctx<'_>,
        src: Src<'_>,
        payload: Option<&[u8]>,
        fs: Option<&FlowState>,
    ) -> bool {
        // Header: protocol, ports, packet keywords, then addresses (cheapest first).
        if !r.proto.allows(ctx.proto) {
            return false;
        }
        let ports_fwd = ports_match(&r.sp, ctx.sp) && ports_match(&r.dp, ctx.dp);
        let ports_rev = r.bidir && ports_match(&r.sp, ctx.dp) && ports_match(&r.dp, ctx.sp);
        if !ports_fwd && !ports_rev {
            return false;
        }
        if !r.pkt.is_empty() {
            let Src::Packet(p) = src else { return false };
            if !r.pkt.iter().all(|c| pkt_check(c, p, ctx)) {
                return false;
            }
        }
        let fwd = ports_fwd && r.src.contains(ctx.src) && r.dst.contains(ctx.dst);
        if !fwd {
            let rev = ports_rev && r.src.contains(ctx.dst) && r.dst.contains(ctx.src);
            if !rev {
                return false;
            }
        }
        // Flow.
        if r.flow.present && !r.flow.stateless {
            let Some(fi) = ctx.flow else { return false };
            if r.flow.to_server && fi.dir != Direction::ToServer {
                return false;
            }
            if r.flow.to_client && fi.dir != Direction::ToClient {
                return false;
            }
            if r.flow.established && !fi.established {
                return false;
            }
            if r.flow.not_established && fi.established {
                return false;
            }
        }
        // Application protocol.
        if let Some(app) = r.app {
            match src {
                Src::Tx(tx) => {
                    if tx.app_proto() != app && app != AppProto::FtpData {
                        return false;
                    }
                }
                _ => {
                    let Some(fi) = ctx.flow else { return false };
                    if fi.proto_in(fi.dir) != app && fi.app_proto != app {
                        return false;
                    }
                }
            }
        }
        for a in &r.alp {
            let Some(fi) = ctx.flow else { return false };
            let p = fi.proto_in(a.dir.unwrap_or(fi.dir));
            if p == AppProto::Unknown {
                return false;
            }
            let eq = p == a.proto;
            if eq == a.negated {
                return false;
            }
        }
        // Flowbit checks.
        for b in &r.flowbits {
            let bits = fs.map(FlowState::flowbit_ids).unwrap_or(&[]);
            let isset = |id: &u32| bits.binary_search(id).is_ok();
            let ok = match b {
                Flowbit::IsSet(ids, all) => {
                    if *all {
                        ids.iter().all(isset)
                    } else {
                        ids.iter().any(isset)
                    }
                }
                Flowbit::IsNotSet(ids, all) => {
                    if *all {
                        ids.iter().all(|i| !isset(i))
                    } else {
                        ids.iter().any(|i| !isset(i))
                    }
                }
                _ => true,
            };
            if !ok {
                return false;
            }
        }
        let mut ev = Eval {
            budget: self.limits.inspection_recursion_limit,
            b64_max: self.limits.base64_max_bytes,
        };
        // Transaction fields and buffers.
        if let Src::Tx(tx) = src {
            for c in &r.tx {
                if !tx_check(c, tx) {
                    return false;
                }
            }
            for (b, ops) in &r.bufs {
                let n = tx.buffer_count(*b);
                let mut any = false;
                for i in 0..n {
                    if let Some(data) = tx.buffer(*b, i) {
                        ev.budget = self.limits.inspection_recursion_limit;
                        if ev.run(ops, data) {
                            any = true;
                            break;
                        }
                    }
                }
                if !any {
                    return false;
                }
            }
        } else if !r.tx.is_empty() || !r.bufs.is_empty() {
            return false;
        }
        // Payload.
        if !r.payload.is_empty() {
            let Some(buf) = payload else { return false };
            ev.budget = self.limits.inspection_recursion_limit;
            if !ev.run(&r.payload, buf) {
                return false;
            }
        }
        true
    }

    fn threshold_allows(
        &self,
        r: &Rule,
        ri: u32,
        ctx: &Ctx<'_>,
        fs: Option<&mut FlowState>,
    ) -> bool {
        let key = (r.sig.gid, r.sig.sid);
        if self.th_file.suppressed(key, ctx.src, ctx.dst) {
            return false;
        }
        let th = self.th_file.override_for(key).or(r.threshold);
        let Some(th) = th else { return true };
        if th.track == Track::ByFlow {
            let Some(f) = fs else { return true };
            let inner = f.inner();
            let slot = match inner.flow_th.iter().position(|e| e.0 == ri) {
                Some(i) => i,
                None => {
                    inner.flow_th.push((ri, crate::threshold::State::default()));
                    inner.flow_th.len() - 1
                }
            };
            return crate::threshold::step(&th, &mut inner.flow_th[slot].1, ctx.ts, None);
        }
        let unique = th.unique_on.map(|u| match u {
            UniqueOn::SrcPort => ctx.sp,
            UniqueOn::DstPort => ctx.dp,
        });
        let Ok(mut tab) = self.thresholds.lock() else {
            return true;
        };
        match tab.step(
            key,
            &th,
            ctx.src,
            ctx.dst,
            ctx.ts,
            unique,
            self.limits.threshold_entries,
        ) {
            Some(ok) => ok,
            None => {
                self.counters.threshold_full.fetch_add(1, Ordering::Relaxed);
                true
            }
        }
    }

    fn make_alert(&self, r: &Rule, ctx: &Ctx<'_>, src: Src<'_>, payload: Option<&[u8]>) -> Alert {
        let fi = ctx.flow;
        let (tx_id, stream, pl) = match src {
            Src::Packet(p) => (None, false, Some(p.pkt.payload.to_vec())),
            Src::Stream => (None, true, payload.map(<[u8]>::to_vec)),
            Src::Tx(tx) => (Some(tx.tx_id()), false, payload.map(<[u8]>::to_vec)),
        };
        let app_proto = match src {
            Src::Tx(tx) => tx.app_proto(),
            _ => fi.map(|f| f.app_proto).unwrap_or_default(),
        };
        Alert {
            ts: ctx.ts,
            sig: r.sig.clone(),
            action: AlertAction::Allowed,
            flow_id: fi.map(|f| f.flow_id),
            src_ip: ctx.src,
            src_port: ctx.sp,
            dest_ip: ctx.dst,
            dest_port: ctx.dp,
            proto: IpProto(ctx.proto),
            direction: fi.map(|f| f.dir),
            app_proto,
            tx_id,
            flow: fi.map(FlowInfo::alert_flow),
            payload: pl,
            packet: Some(ctx.frame.to_vec()),
            stream,
        }
    }

    /// Where a signature came from: (file, line).
    pub fn origin(&self, gid: u32, sid: u32) -> Option<(&str, usize)> {
        self.rules
            .iter()
            .find(|r| r.sig.gid == gid && r.sig.sid == sid)
            .map(|r| {
                (
                    self.files
                        .get(r.file as usize)
                        .map(String::as_str)
                        .unwrap_or(""),
                    r.line as usize,
                )
            })
    }
}

/// A packet-engine member: rule, fast pattern, port placement, protocol.
type PktMember<'a> = (u32, Option<&'a [u8]>, PortKey, HdrProto);

/// Payload-length classes for `dsize` rules.
const DSIZE_CLASSES: [(u64, u64); 5] = [(0, 0), (1, 64), (65, 256), (257, 1024), (1025, u64::MAX)];

/// The value ranges a comparison accepts (for the dsize classes).
fn cmp_span(c: Cmp) -> Vec<(u64, u64)> {
    const MAX: u64 = u64::MAX;
    match c {
        Cmp::Eq(a) => vec![(a, a)],
        Cmp::Ne(a) => {
            let mut v = Vec::new();
            if a > 0 {
                v.push((0, a - 1));
            }
            if a < MAX {
                v.push((a + 1, MAX));
            }
            v
        }
        Cmp::Lt(a) => {
            if a == 0 {
                vec![]
            } else {
                vec![(0, a - 1)]
            }
        }
        Cmp::Le(a) => vec![(0, a)],
        Cmp::Gt(a) => vec![(a.saturating_add(1), MAX)],
        Cmp::Ge(a) => vec![(a, MAX)],
        Cmp::Between(a, b) => {
            if b > a.saturating_add(1) {
                vec![(a + 1, b - 1)]
            } else {
                vec![]
            }
        }
        Cmp::Within(a, b) => vec![(a, b)],
    }
}

/// Merges sorted `b` into sorted, deduplicated `a`.
fn merge_into(a: &mut Vec<u32>, b: &[u32]) {
    if b.is_empty() {
        return;
    }
    if a.is_empty() {
        a.extend_from_slice(b);
        return;
    }
    let mut out = Vec::with_capacity(a.len() + b.len());
    let (mut i, mut j) = (0, 0);
    while i < a.len() && j < b.len() {
        let (x, y) = (a[i], b[j]);
        if x < y {
            out.push(x);
            i += 1;
        } else if y < x {
            out.push(y);
            j += 1;
        } else {
            out.push(x);
            i += 1;
            j += 1;
        }
    }
    out.extend_from_slice(&a[i..]);
    out.extend_from_slice(&b[j..]);
    *a = out;
}

fn read_text(p: &Path) -> Result<String, RulesError> {
    let bytes = std::fs::read(p).map_err(|source| RulesError::Io {
        path: p.to_path_buf(),
        source,
    })?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

fn small_ports(set: &PortSet) -> Option<Vec<u16>> {
    if set.is_full() {
        return None;
    }
    set.count_small(MAX_GROUP_PORTS)?;
    let mut v = Vec::new();
    for &(a, b) in &set.ranges {
        for p in a..=b {
            v.push(p);
        }
    }
    Some(v)
}

fn port_key(r: &Rule) -> PortKey {
    if r.bidir {
        return PortKey::Any;
    }
    if let Some(v) = small_ports(&r.dp) {
        return PortKey::Dst(v);
    }
    if let Some(v) = small_ports(&r.sp) {
        return PortKey::Src(v);
    }
    PortKey::Any
}

fn build_proto_groups(m: &[PktMember<'_>], flags_of: crate::prefilter::FlagsOf<'_>) -> ProtoGroups {
    let tcp: Vec<_> = m
        .iter()
        .filter(|x| x.3.allows(6))
        .map(|x| (x.0, x.1, x.2.clone()))
        .collect();
    let udp: Vec<_> = m
        .iter()
        .filter(|x| x.3.allows(17))
        .map(|x| (x.0, x.1, x.2.clone()))
        .collect();
    let icmp: Vec<_> = m
        .iter()
        .filter(|x| x.3.allows(1))
        .map(|x| (x.0, x.1))
        .collect();
    let other: Vec<_> = m
        .iter()
        .filter(|x| x.3 == HdrProto::Ip)
        .map(|x| (x.0, x.1))
        .collect();
    ProtoGroups {
        tcp: PortGroups::build(&tcp, Some(flags_of)),
        udp: PortGroups::build(&udp, None),
        icmp: Group::build(&icmp),
        other: Group::build(&other),
    }
}

fn flag_test(m: FlagMod, have: u8, want: u8) -> bool {
    match m {
        FlagMod::Exact => have == want,
        FlagMod::Plus => have & want == want,
        FlagMod::Any => have & want != 0,
        FlagMod::Not => have & want != want,
    }
}

/// The `flags` check on a TCP flags byte (true for other checks).
fn tcp_flags_ok(c: &PktCheck, flags: u8) -> bool {
    match *c {
        PktCheck::Flags(m, want, ign) => {
            let have = flags & !ign;
            if want == 0 && m == FlagMod::Exact {
                return have == 0;
            }
            flag_test(m, have, want)
        }
        _ => true,
    }
}

fn pkt_check(c: &PktCheck, p: &PacketInput<'_>, ctx: &Ctx<'_>) -> bool {
    let d = p.pkt;
    match *c {
        PktCheck::Dsize(cmp) => cmp.test(d.payload.len() as u64),
        PktCheck::Flags(..) => match d.l4 {
            L4::Tcp(t) => tcp_flags_ok(c, t.flags),
            _ => false,
        },
        PktCheck::Ttl(cmp) => d.l3.ttl().is_some_and(|t| cmp.test(u64::from(t))),
        PktCheck::Tos(neg, v) => match d.l3 {
            L3::Ipv4(i) => (i.tos == v) != neg,
            L3::Ipv6(i) => (i.traffic_class == v) != neg,
            _ => false,
        },
        PktCheck::IpId(v) => matches!(d.l3, L3::Ipv4(i) if i.id == v),
        PktCheck::IpProto(cmp) => cmp.test(u64::from(ctx.proto)),
        PktCheck::Itype(cmp) => matches!(d.l4, L4::Icmp(i) if cmp.test(u64::from(i.icmp_type))),
        PktCheck::Icode(cmp) => matches!(d.l4, L4::Icmp(i) if cmp.test(u64::from(i.code))),
        PktCheck::IcmpId(v) => matches!(d.l4, L4::Icmp(i) if i.id == Some(v)),
        PktCheck::IcmpSeq(v) => matches!(d.l4, L4::Icmp(i) if i.seq == Some(v)),
        PktCheck::Seq(v) => matches!(d.l4, L4::Tcp(t) if t.seq == v),
        PktCheck::Ack(v) => matches!(d.l4, L4::Tcp(t) if t.ack == v),
        PktCheck::Window(neg, v) => matches!(d.l4, L4::Tcp(t) if (t.window == v) != neg),
        PktCheck::Ipopts(kind) => match d.l3 {
            L3::Ipv4(i) => ipv4_has_option(i.options, kind),
            _ => false,
        },
        PktCheck::Fragbits(m, want) => match d.l3 {
            L3::Ipv4(i) => {
                let have = u8::from(i.more_frags)
                    | (u8::from(i.dont_frag) << 1)
                    | (u8::from(i.reserved_flag) << 2);
                flag_test(m, have, want)
            }
            _ => false,
        },
        PktCheck::Fragoffset(cmp) => match d.l3 {
            L3::Ipv4(i) => cmp.test(u64::from(i.frag_offset)),
            _ => false,
        },
        PktCheck::SameIp => ctx.src == ctx.dst,
    }
}

/// Walks IPv4 options for a type (`None` = any option present).
fn ipv4_has_option(opts: &[u8], kind: Option<u8>) -> bool {
    let mut i = 0;
    while let Some(&t) = opts.get(i) {
        if kind.is_none() || kind == Some(t) {
            return true;
        }
        match t {
            0 => break,
            1 => i += 1,
            _ => {
                let Some(&l) = opts.get(i + 1) else { break };
                if l < 2 {
                    break;
                }
                i += usize::from(l);
            }
        }
    }
    false
}

fn tx_check(c: &TxCheck, tx: &dyn TxView) -> bool {
    match *c {
        TxCheck::Field(f, cmp) => tx.field(f).is_some_and(|v| cmp.test(v)),
        TxCheck::Mask {
            field,
            mask,
            negated,
        } => tx.field(field).is_some_and(|v| (v & mask != 0) != negated),
        TxCheck::Versions { any_of, none_of } => {
            let Some(v) = tx.field(stormwatch_model::TxField::SslVersions) else {
                return false;
            };
            if v == 0 {
                return false;
            }
            let pos_ok = any_of == 0 || v & any_of != 0;
            let neg_ok = v & none_of == 0;
            pos_ok && neg_ok
        }
    }
}
