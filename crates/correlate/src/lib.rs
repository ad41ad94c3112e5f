//! # Overview
//!
//! `stormwatch-correlate` joins a host's isolated events into one infection story
//! and judges it (see `docs/verdicts.md` for every rule):
//!
//! - [`Correlator`] takes [`Alert`]s, [`Notice`]s, [`Anomaly`]s, parser facts
//!   ([`AppEvent`]) and [`FlowRecord`]s (or ready [`Evidence`]), maps each to an
//!   evidence stage E1–E7 about one host, and emits a [`Verdict`] revision each time
//!   a host's label changes (`probed → targeted → compromised → trojan`).
//! - [`Correlator::finish`] closes the watched span and returns a [`Conclusion`]:
//!   final revisions, every judged host's current verdict with its why-not lines,
//!   campaigns ([`Incident`]) with stable names, and the propagation graph.
//! - [`CorrelateConfig`] holds `HOME_NET`, the dialog window, the alert → stage
//!   tables (overridable) and the memory bounds.
//! - [`replay_eve`] feeds EVE JSON lines (Suricata's or stormwatch's) into a
//!   correlator; [`evaluate`] scores verdicts against simulator labels.
//!
//! ```
//! use std::sync::Arc;
//! use stormwatch_correlate::{CorrelateConfig, Correlator};
//! use stormwatch_model::*;
//!
//! let mut c = Correlator::new(CorrelateConfig::default());
//! let mut out = Vec::new();
//! let sig = Arc::new(SignatureInfo {
//!     gid: 1, sid: 2515, rev: 9, msg: "WEB-MISC PCT Client_Hello overflow attempt".into(),
//!     classtype: Some("attempted-admin".into()), category: String::new(), severity: 1,
//!     metadata: vec![], references: vec![], target: None,
//! });
//! let t0 = Timestamp::from_secs_nanos(1_082_452_471, 0);
//! c.on_alert(&Alert {
//!     ts: t0, sig, action: AlertAction::Allowed, flow_id: Some(FlowId(1)),
//!     src_ip: "203.0.113.7".parse().unwrap(), src_port: 3312,
//!     dest_ip: "10.1.1.20".parse().unwrap(), dest_port: 443, proto: IpProto::TCP,
//!     direction: Some(Direction::ToServer), app_proto: AppProto::Unknown, tx_id: None,
//!     flow: None, payload: None, packet: None, stream: true,
//! }, &mut out);
//! assert_eq!(out[0].label, Label::Targeted);
//! let end = c.finish(t0.add_secs(3600));
//! assert_eq!(end.current[0].label, Label::Exploiter); // 203.0.113.7
//! assert!(end.current.iter().any(|v| v.label == Label::Targeted));
//! ```
#![forbid(unsafe_code)]

mod config;
mod error;
mod eval;
mod graph;
mod host;
mod judge;
mod map;
mod replay;

pub use config::{
    AlertClass, CLASSIFICATIONS, CLASSTYPE_TABLE, ClassRule, CorrelateConfig, PREFIX_TABLE,
    PrefixMode, PrefixRule, Side, classtype_for_category,
};
pub use error::CorrelateError;
pub use eval::{ClassScore, EvalReport, Mismatch, evaluate};
pub use replay::{ReplayStats, replay_eve};

use host::{Added, HostTable, flag};
use judge::{Ctx, Decision};
use map::HelloFact;
use rustc_hash::FxHashMap;
use std::collections::VecDeque;
use std::net::IpAddr;
pub use stormwatch_model::{
    Alert, Anomaly, AppContext, AppEvent, Evidence, FlowRecord, Incident, Notice, PropagationEdge,
    Verdict,
};
use stormwatch_model::{
    EvidenceRef, EvidenceSource, FlowId, IpProto, Label, NoticeKind, Stage, Strength, Timestamp,
    TlsEvent,
};

/// What [`Correlator::finish`] concludes.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Conclusion {
    /// Records to write at the end: label changes decided over the whole span and
    /// restatements of current verdicts whose why-not spans, campaign or citations
    /// changed (a restatement keeps its revision number). A host's last record,
    /// across the run, is its current verdict.
    pub verdicts: Vec<Verdict>,
    /// Every judged host's current verdict, most severe first (then by address).
    pub current: Vec<Verdict>,
    /// Campaigns, by first evidence.
    pub incidents: Vec<Incident>,
    /// The propagation graph, by time.
    pub edges: Vec<PropagationEdge>,
}

#[derive(Clone, Debug)]
struct PendingFlow {
    src: IpAddr,
    dst: IpAddr,
    proto: IpProto,
    start: Timestamp,
    flow_id: FlowId,
}

#[derive(Clone, Debug, Default)]
struct Counters {
    alerts: u64,
    alerts_ignored: u64,
    notices: u64,
    anomalies: u64,
    anomalies_ignored: u64,
    app_events: u64,
    flows: u64,
    evidence: u64,
    pending_flows_dropped: u64,
    flow_facts_dropped: u64,
    revisions: u64,
}

/// The correlator: host dialogs, verdicts with why-not and revisions, the
/// propagation graph and campaigns. Driven by packet time only.
#[derive(Debug)]
pub struct Correlator {
    cfg: CorrelateConfig,
    table: HostTable,
    controllers: FxHashMap<String, Vec<u32>>,
    now: Timestamp,
    pending: VecDeque<PendingFlow>,
    flow_facts: FxHashMap<FlowId, HelloFact>,
    flow_fact_order: VecDeque<FlowId>,
    hello_alerts: FxHashMap<FlowId, Vec<u32>>,
    counters: Counters,
}

/// The most pending flows the queue reserves room for up front.
const PENDING_RESERVE_MAX: usize = 65_536;
const MAX_CONTROLLERS_PER_HOST: usize = 8;
const MAX_EGGS_PER_HOST: usize = 8;
const MAX_OUT_VECTORS: usize = 8;
const MAX_CHILDREN: usize = 256;
const MAX_SCANS_PER_HOST: usize = 8;
const MAX_EGG_CLIENTS: usize = 32;
/// Distinct executables a server must hand out over an egg transport (FTP
/// data, TFTP, raw TCP) to be an egg server without an exploit in the capture
/// (`docs/verdicts.md`, "Egg server").
pub(crate) const EGG_BATCH_FILES: usize = 3;
const MAX_ACTED: usize = 8;
const MAX_COMMANDS: usize = 8;

impl Correlator {
    /// A correlator with `cfg`.
    pub fn new(cfg: CorrelateConfig) -> Correlator {
        // Room reserved up front (address space only, touched as flows
        // arrive): a queue that doubles copies itself and frees pages the
        // kernel zeroes again when they are reused.
        let pending = VecDeque::with_capacity(cfg.max_pending_flows.min(PENDING_RESERVE_MAX));
        Correlator {
            cfg,
            table: HostTable::default(),
            controllers: FxHashMap::default(),
            now: Timestamp(i64::MIN),
            pending,
            flow_facts: FxHashMap::default(),
            flow_fact_order: VecDeque::new(),
            hello_alerts: FxHashMap::default(),
            counters: Counters::default(),
        }
    }

    /// The configuration.
    pub fn config(&self) -> &CorrelateConfig {
        &self.cfg
    }

    fn tick(&mut self, ts: Timestamp) {
        if ts > self.now {
            self.now = ts;
        }
    }

    fn known_victim(&self, ip: IpAddr) -> bool {
        self.table
            .get(ip)
            .and_then(|i| self.table.hosts.get(i as usize))
            .is_some_and(|h| h.label.is_compromised() || h.label == Label::Targeted)
    }

    /// A signature alert.
    pub fn on_alert(&mut self, a: &Alert, out: &mut Vec<Verdict>) {
        self.tick(a.ts);
        self.counters.alerts += 1;
        let hello = a.flow_id.and_then(|f| self.flow_facts.get(&f)).cloned();
        let evs = map::map_alert(&self.cfg, a, hello.as_ref(), |ip| self.known_victim(ip));
        if evs.is_empty() {
            self.counters.alerts_ignored += 1;
            return;
        }
        let hello_alert = map::is_hello_overflow_alert(&a.sig.msg, &a.sig.references);
        for e in evs {
            if hello_alert
                && hello.is_none()
                && e.stage == Stage::E2InboundExploit
                && let Some(f) = a.flow_id
            {
                self.remember_hello_alert(f, e.host);
            }
            self.add_evidence(e, out);
        }
    }

    fn remember_hello_alert(&mut self, flow: FlowId, host: IpAddr) {
        let Some(i) = self.table.get(host).or_else(|| {
            self.table.get_or_insert(
                host,
                self.cfg.home_net.contains(host),
                false,
                self.cfg.max_hosts,
            )
        }) else {
            return;
        };
        if self.hello_alerts.len() >= self.cfg.max_flow_facts
            && !self.hello_alerts.contains_key(&flow)
        {
            self.counters.flow_facts_dropped += 1;
            return;
        }
        let v = self.hello_alerts.entry(flow).or_default();
        if !v.contains(&i) {
            v.push(i);
        }
    }

    /// A behavioural notice.
    pub fn on_notice(&mut self, n: &Notice, out: &mut Vec<Verdict>) {
        self.tick(n.ts);
        self.counters.notices += 1;
        let max_hosts = self.cfg.max_hosts;
        let mut rejudge_host = None;
        let mut rejudge_server = None;
        match &n.kind {
            NoticeKind::ScanDetected(s) | NoticeKind::ScanEnded(s) if n.host == s.scanner => {
                let internal = self.cfg.home_net.contains(n.host);
                if let Some(i) = self.table.get_or_insert(n.host, internal, false, max_hosts) {
                    let facts = map::scan_facts(&n.identifier, s);
                    if let Some(h) = self.table.hosts.get_mut(i as usize) {
                        let scans = &mut h.extra_mut().actor.scans;
                        if let Some(x) = scans.iter_mut().find(|x| x.identifier == n.identifier) {
                            *x = facts;
                        } else if scans.len() < MAX_SCANS_PER_HOST {
                            scans.push(facts);
                        }
                    }
                    rejudge_host = Some(i);
                }
            }
            NoticeKind::BruteForce { attempts, .. } => {
                let attacker = map::brute_attacker(n).unwrap_or(n.host);
                let internal = self.cfg.home_net.contains(attacker);
                if let Some(i) = self
                    .table
                    .get_or_insert(attacker, internal, false, max_hosts)
                {
                    if let Some(h) = self.table.hosts.get_mut(i as usize) {
                        let a = &mut h.extra_mut().actor;
                        a.brute = a.brute.max(u64::from(*attempts));
                    }
                    rejudge_host = Some(i);
                }
            }
            NoticeKind::Propagation(p) => {
                let internal = self.cfg.home_net.contains(p.host);
                if let Some(i) = self.table.get_or_insert(p.host, internal, false, max_hosts)
                    && let Some(h) = self.table.hosts.get_mut(i as usize)
                {
                    if p.infected_at.is_some() {
                        h.flags |= flag::SAME_VECTOR_PROPAGATION;
                    }
                    let a = &mut h.extra_mut().actor;
                    a.exploited = a.exploited.max(p.targets.len() as u64);
                }
            }
            NoticeKind::Download(d)
                if !d.exploit_before
                    && d.magic.is_executable()
                    && matches!(
                        d.proto,
                        stormwatch_model::AppProto::FtpData
                            | stormwatch_model::AppProto::Tftp
                            | stormwatch_model::AppProto::Unknown
                    ) =>
            {
                // A batch of distinct executables over an egg transport marks an
                // egg server even with no exploit in the capture.
                let internal = self.cfg.home_net.contains(d.server);
                let tag = egg_tag(d);
                if let Some(i) = self
                    .table
                    .get_or_insert(d.server, internal, false, max_hosts)
                    && let Some(h) = self.table.hosts.get_mut(i as usize)
                {
                    let b = &mut h.extra_mut().actor.egg_batch;
                    if b.len() < EGG_BATCH_FILES && !b.contains(&tag) {
                        b.push(tag);
                        if b.len() == EGG_BATCH_FILES {
                            rejudge_server = Some(i);
                        }
                    }
                }
            }
            NoticeKind::Download(d) if d.exploit_before && d.magic.is_executable() => {
                let internal = self.cfg.home_net.contains(d.server);
                if let Some(i) = self
                    .table
                    .get_or_insert(d.server, internal, false, max_hosts)
                    && let Some(h) = self.table.hosts.get_mut(i as usize)
                {
                    h.extra_mut().actor.egg_after_exploit = true;
                }
                if let Some(i) = self.table.get(d.client)
                    && let Some(h) = self.table.hosts.get_mut(i as usize)
                {
                    h.flags |= flag::EGG_AFTER_EXPLOIT;
                }
            }
            _ => {}
        }
        for e in map::map_notice(&self.cfg, n) {
            self.add_evidence(e, out);
        }
        if let Some(i) = rejudge_host {
            self.link_pending(i, out);
            self.rejudge(i, n.ts, out, 0);
        }
        if let Some(i) = rejudge_server {
            self.rejudge(i, n.ts, out, 0);
        }
    }

    /// A protocol anomaly (`pct.client_hello_oversized_*` and
    /// `sslv2.client_hello_oversized_*` are protocol-confirmed exploit shapes).
    pub fn on_anomaly(&mut self, a: &Anomaly, out: &mut Vec<Verdict>) {
        self.tick(a.ts);
        self.counters.anomalies += 1;
        if !map::is_exploit_anomaly(&a.event) {
            self.counters.anomalies_ignored += 1;
            return;
        }
        if let Some(f) = a.flow_id {
            self.set_hello_fact(
                f,
                HelloFact::Overflow(a.event.to_string().into()),
                a.ts,
                out,
            );
        }
        let evs = map::map_anomaly(&self.cfg, a, |ip| self.known_victim(ip));
        for e in evs {
            self.add_evidence(e, out);
        }
    }

    /// A parser fact. TLS/SSLv2/PCT client hellos confirm or contradict PCT/SSL
    /// overflow alerts on the same flow (whichever arrives first).
    pub fn on_app_event(&mut self, ctx: &AppContext, ev: &AppEvent, out: &mut Vec<Verdict>) {
        self.tick(ctx.ts);
        self.counters.app_events += 1;
        let AppEvent::Tls(t) = ev else {
            return;
        };
        let fact = match t {
            TlsEvent::ClientHello { version, .. } => {
                HelloFact::WellFormed(tls_client_hello(*version).into())
            }
            TlsEvent::Sslv2ClientHello { challenge_len, .. } => {
                if (16..=32).contains(challenge_len) {
                    HelloFact::WellFormed("SSLv2 CLIENT-HELLO".into())
                } else {
                    HelloFact::Overflow(
                        format!("SSLv2 CLIENT-HELLO with a {challenge_len}-byte challenge").into(),
                    )
                }
            }
            TlsEvent::PctClientHello { overflow, .. } => {
                if *overflow {
                    HelloFact::Overflow("PCT CLIENT-HELLO with oversized lengths".into())
                } else {
                    HelloFact::WellFormed("PCT CLIENT-HELLO".into())
                }
            }
            _ => return,
        };
        self.set_hello_fact(ctx.flow_id, fact, ctx.ts, out);
    }

    /// An application event of a kind the correlator ignores (anything but a
    /// TLS, SSLv2 or PCT client hello) that was not built because no stage
    /// reads it: time and counters move as [`Correlator::on_app_event`] would
    /// move them for it.
    pub fn on_unbuilt_app_event(&mut self, ts: Timestamp) {
        self.tick(ts);
        self.counters.app_events += 1;
    }

    fn set_hello_fact(
        &mut self,
        flow: FlowId,
        fact: HelloFact,
        ts: Timestamp,
        out: &mut Vec<Verdict>,
    ) {
        match self.flow_facts.get(&flow) {
            // An overflow shape seen once stays (a later well-formed hello on the
            // same flow does not clear it).
            Some(HelloFact::Overflow(_)) => return,
            Some(f) if *f == fact => return,
            Some(_) => {}
            None => {
                if self.flow_facts.len() >= self.cfg.max_flow_facts
                    && let Some(old) = self.flow_fact_order.pop_front()
                {
                    self.flow_facts.remove(&old);
                    self.hello_alerts.remove(&old);
                    self.counters.flow_facts_dropped += 1;
                }
                self.flow_fact_order.push_back(flow);
            }
        }
        self.flow_facts.insert(flow, fact.clone());
        // Alerts that arrived before the parser fact: revise their strength.
        let Some(hosts) = self.hello_alerts.remove(&flow) else {
            return;
        };
        for i in hosts {
            let Some(h) = self.table.hosts.get_mut(i as usize) else {
                continue;
            };
            let host_ip = h.ip;
            let mut changed = false;
            let mut demoted_peers: Vec<IpAddr> = Vec::new();
            for slot in &mut h.slots {
                let is_hello = matches!(&slot.ev.source, EvidenceSource::Alert { msg, .. } if map::is_hello_overflow_alert(msg, &[]));
                if slot.ev.flow_id == Some(flow)
                    && slot.ev.stage == Stage::E2InboundExploit
                    && is_hello
                {
                    let (strength, note) = match &fact {
                        HelloFact::WellFormed(w) => (
                            Strength::Weak,
                            format!(" — contradicted: the parser saw a well-formed {w} (weak)"),
                        ),
                        HelloFact::Overflow(w) => (
                            Strength::Strong,
                            format!(" — confirmed by the parser ({w})"),
                        ),
                    };
                    if strength == Strength::Weak && slot.ev.strength != Strength::Weak {
                        demoted_peers.extend(slot.ev.peer);
                    }
                    slot.ev.strength = strength;
                    slot.ev.detail.push_str(&note);
                    changed = true;
                }
            }
            if changed {
                match fact {
                    HelloFact::WellFormed(_) => h.flags |= flag::CONTRADICTED,
                    HelloFact::Overflow(_) => h.flags |= flag::CONFIRMED,
                }
                self.rejudge(i, ts, out, 0);
            }
            // The attacker of a contradicted alert is no exploiter on its account.
            for p in demoted_peers {
                let Some(pi) = self.table.get(p) else {
                    continue;
                };
                if let Some(ph) = self.table.hosts.get_mut(pi as usize) {
                    let a = &mut ph.extra_mut().actor;
                    a.exploited = a.exploited.saturating_sub(1);
                    a.acted.retain(|r| {
                        !(r.stage == Stage::E2InboundExploit
                            && r.flow_id == Some(flow)
                            && r.peer == Some(host_ip))
                    });
                }
                self.rejudge(pi, ts, out, 0);
            }
        }
    }

    /// An end-of-flow record: links scan targets to their scanner (E1) and
    /// advances the watched span.
    pub fn on_flow(&mut self, rec: &FlowRecord, out: &mut Vec<Verdict>) {
        self.tick(rec.end);
        self.counters.flows += 1;
        let src = rec.key.src;
        if let Some(si) = self.table.get(src)
            && let Some(e) =
                self.probe_evidence(si, rec.key.dst, rec.key.proto, rec.start, rec.flow_id)
        {
            self.add_evidence(e, out);
            return;
        }
        if self.cfg.max_pending_flows == 0 {
            return;
        }
        if self.pending.len() >= self.cfg.max_pending_flows {
            self.pending.pop_front();
            self.counters.pending_flows_dropped += 1;
        }
        self.pending.push_back(PendingFlow {
            src,
            dst: rec.key.dst,
            proto: rec.key.proto,
            start: rec.start,
            flow_id: rec.flow_id,
        });
    }

    /// E1 about `dst` when host `si` is a scanner on `proto` and the flow started
    /// no earlier than a minute before its scan.
    fn probe_evidence(
        &self,
        si: u32,
        dst: IpAddr,
        proto: IpProto,
        start: Timestamp,
        flow_id: FlowId,
    ) -> Option<Evidence> {
        let h = self.table.hosts.get(si as usize)?;
        if h.ip == dst {
            return None;
        }
        let pname = map::proto_name(proto);
        let scan = h.actor()?.scans.iter().find(|s| {
            (s.proto == pname || (s.kind == "ping sweep" && proto == IpProto::ICMP))
                && start >= s.first_seen.add_secs(-60)
        })?;
        Some(Evidence {
            ts: start,
            host: dst,
            stage: Stage::E1InboundScan,
            peer: Some(h.ip),
            flow_id: Some(flow_id),
            source: EvidenceSource::Notice {
                kind: "scan".into(),
                identifier: scan.identifier.clone(),
            },
            strength: Strength::Normal,
            vector: Some(stormwatch_model::Vector {
                proto: proto.0,
                port: if scan.ports.len() == 1 {
                    scan.ports.first().copied().unwrap_or(0)
                } else {
                    0
                },
                signature: None,
            }),
            egg_sha256: None,
            controller: None,
            detail: map::probe_detail(h.ip, scan),
        })
    }

    /// Flows remembered before host `i` was known as a scanner become E1 records.
    fn link_pending(&mut self, i: u32, out: &mut Vec<Verdict>) {
        let Some(ip) = self.table.hosts.get(i as usize).map(|h| h.ip) else {
            return;
        };
        if !self.pending.iter().any(|p| p.src == ip) {
            return;
        }
        // In place: the queue keeps its reserved room (see `Correlator::new`).
        let mut evs = Vec::new();
        let mut pending = std::mem::take(&mut self.pending);
        pending.retain(|p| {
            if p.src != ip {
                return true;
            }
            match self.probe_evidence(i, p.dst, p.proto, p.start, p.flow_id) {
                Some(e) => {
                    evs.push(e);
                    false
                }
                None => true,
            }
        });
        self.pending = pending;
        for e in evs {
            self.add_evidence(e, out);
        }
    }

    /// Evidence from any source (e.g. read back from a store).
    pub fn on_evidence(&mut self, e: Evidence, out: &mut Vec<Verdict>) {
        self.add_evidence(e, out);
    }

    fn add_evidence(&mut self, e: Evidence, out: &mut Vec<Verdict>) {
        self.tick(e.ts);
        self.counters.evidence += 1;
        let max_hosts = self.cfg.max_hosts;
        let internal = self.cfg.home_net.contains(e.host);
        let Some(i) =
            self.table
                .get_or_insert(e.host, internal, e.stage == Stage::E1InboundScan, max_hosts)
        else {
            return;
        };
        let nonweak = e.strength != Strength::Weak;
        // Facts that must survive the evidence not being stored.
        if let Some(h) = self.table.hosts.get_mut(i as usize) {
            if let EvidenceSource::Notice { kind, .. } = &e.source
                && kind == "bot_command"
                && e.stage == Stage::E4C2
            {
                h.flags |= flag::BOT_COMMANDS;
                let x = h.extra_mut();
                let q = e
                    .detail
                    .strip_prefix("bot commands in the channel: ")
                    .unwrap_or(&e.detail)
                    .to_string();
                if x.commands.len() < MAX_COMMANDS && !x.commands.contains(&q) {
                    x.commands.push(q);
                }
            }
            match e.stage {
                Stage::E4C2 if nonweak => {
                    if let Some(c) = &e.controller {
                        let x = h.extra_mut();
                        if !x.controllers.contains(c)
                            && x.controllers.len() < MAX_CONTROLLERS_PER_HOST
                        {
                            x.controllers.push(c.clone());
                            let members = self.controllers.entry(c.clone()).or_default();
                            if members.len() < self.cfg.max_hosts_per_controller {
                                members.push(i);
                            }
                        }
                    }
                }
                Stage::E3EggDownload => {
                    if let Some(sha) = &e.egg_sha256 {
                        let x = h.extra_mut();
                        if !x.eggs.contains(sha) && x.eggs.len() < MAX_EGGS_PER_HOST {
                            x.eggs.push(sha.clone());
                        }
                    }
                }
                Stage::E5OutboundAttack if nonweak => {
                    h.first_e5 = h.first_e5.min(e.ts);
                    if let Some(v) = &e.vector {
                        let x = h.extra_mut();
                        if !x.out_vectors.contains(v) && x.out_vectors.len() < MAX_OUT_VECTORS {
                            x.out_vectors.push(v.clone());
                        }
                    }
                }
                _ => {}
            }
        }
        // The peer's act towards this host, applied once the record is known to
        // be new; its citation is only built while the peer still cites acts.
        let mut act: Option<(u32, IpAddr, Label, Option<EvidenceRef>)> = None;
        if let Some(p) = e.peer.filter(|p| *p != e.host) {
            let role = match e.stage {
                Stage::E1InboundScan => Some(Label::Scanner),
                Stage::E2InboundExploit if nonweak => Some(Label::Exploiter),
                Stage::E4C2 if nonweak => Some(Label::Controller),
                Stage::E3EggDownload => Some(Label::EggServer),
                _ => None,
            };
            // A brute-force attempt is no exploit; a backdoor session's peer is
            // its exploiter, not a separate controller.
            let brute = matches!(&e.source, EvidenceSource::Notice { kind, .. }
                if kind == "brute_force" || kind == "backdoor_session");
            if let Some(role) = role.filter(|_| !brute) {
                let pin = self.cfg.home_net.contains(p);
                if let Some(pi) = self.table.get_or_insert(p, pin, false, max_hosts) {
                    let cite = self
                        .table
                        .hosts
                        .get(pi as usize)
                        .and_then(|ph| ph.actor())
                        .is_none_or(|a| cites_more(&a.acted, e.stage));
                    let r = cite.then(|| EvidenceRef {
                        ts: e.ts,
                        stage: e.stage,
                        flow_id: e.flow_id,
                        peer: Some(e.host),
                        detail: act_detail(role, e.host, &e.source),
                    });
                    act = Some((pi, p, role, r));
                }
            }
        }
        // Inserting the peer may have replaced a probed-only host: look again.
        let Some(i) = self.table.get(e.host).or_else(|| {
            self.table
                .get_or_insert(e.host, internal, e.stage == Stage::E1InboundScan, max_hosts)
        }) else {
            return;
        };
        let host_ip = e.host;
        let ts = e.ts;
        let stage = e.stage;
        // The act counts once per host it concerns (three anomalies of one
        // exploit, or two flows of one channel, are one victim).
        let first_with_peer = act.is_some()
            && self.table.hosts.get(i as usize).is_some_and(|h| {
                !h.slots
                    .iter()
                    .any(|s| s.ev.stage == stage && s.ev.peer == e.peer)
            });
        let added = self.table.add(
            i,
            e,
            self.cfg.max_evidence_per_host,
            self.cfg.max_evidence_total,
        );
        let mut peer_idx = None;
        if let Some((pi, p, role, cite)) = act {
            let is_new = first_with_peer && matches!(added, Added::Stored | Added::Unstored);
            let mut role_new = false;
            if let Some(ph) = self
                .table
                .hosts
                .get_mut(pi as usize)
                .filter(|ph| ph.ip == p)
            {
                let a = &mut ph.extra_mut().actor;
                if is_new {
                    let counter = match role {
                        Label::Scanner => &mut a.probed,
                        Label::Exploiter => &mut a.exploited,
                        Label::Controller => &mut a.controlled,
                        _ => &mut a.eggs_served,
                    };
                    role_new = *counter == 0;
                    *counter += 1;
                    match cite {
                        Some(r) if cites_more(&a.acted, stage) => a.acted.push(r),
                        _ => a.acted_more += 1,
                    }
                }
                if role == Label::EggServer
                    && a.egg_clients.len() < MAX_EGG_CLIENTS
                    && !a.egg_clients.contains(&host_ip)
                {
                    a.egg_clients.push(host_ip);
                    role_new = true;
                }
            }
            // The peer's label depends on which roles it has, not on how often:
            // re-judge it when a role is new.
            if role_new {
                peer_idx = Some(pi);
            }
        }
        if added == Added::Untracked {
            return;
        }
        // Evidence that cannot change the label needs no judgement: a probe of a
        // host already labelled (E1 only ever lifts clean to probed), weak
        // evidence about a host already targeted or worse (weak evidence only
        // lifts clean/probed to targeted).
        let label = self
            .table
            .hosts
            .get(i as usize)
            .map_or(Label::Clean, |h| h.label);
        let inert = (stage == Stage::E1InboundScan && label != Label::Clean)
            || (!nonweak && !matches!(label, Label::Clean | Label::Probed));
        if !inert {
            self.rejudge(i, ts, out, 0);
        }
        if let Some(pi) = peer_idx {
            self.rejudge(pi, ts, out, 0);
        }
    }

    fn ctx(&self, last: bool) -> Ctx<'_> {
        Ctx {
            cfg: &self.cfg,
            table: &self.table,
            controllers: &self.controllers,
            now: self.now,
            last,
        }
    }

    /// Records the decision's graph facts on the host (and its parent).
    fn apply_graph(&mut self, i: u32, d: &Decision) {
        if let Some(h) = self.table.hosts.get_mut(i as usize) {
            h.generation = d.generation;
            h.infected_by = d.infected_by;
        }
        if d.label.is_compromised()
            && let Some(pi) = d.infected_by.and_then(|p| self.table.get(p))
            && pi != i
            && let Some(ph) = self.table.hosts.get_mut(pi as usize)
        {
            let x = ph.extra_mut();
            if !x.children.contains(&i) && x.children.len() < MAX_CHILDREN {
                x.children.push(i);
            }
        }
    }

    /// Re-judges host `i`; emits a revision when its label changed.
    fn rejudge(&mut self, i: u32, ts: Timestamp, out: &mut Vec<Verdict>, depth: u32) {
        let ctx = self.ctx(false);
        let Some(d) = judge::decide(&ctx, i) else {
            return;
        };
        let Some(h) = self.table.hosts.get(i as usize) else {
            return;
        };
        let changed = d.label != h.label;
        let verdict = changed.then(|| {
            let prev = (h.revision > 0).then_some(h.label);
            judge::render(&ctx, h, &d, ts, h.revision + 1, prev, None)
        });
        self.apply_graph(i, &d);
        let Some(v) = verdict else {
            return;
        };
        if let Some(h) = self.table.hosts.get_mut(i as usize) {
            h.prev_label = v.previous;
            h.label = v.label;
            h.revision = v.revision;
            h.revision_ts = ts;
            h.reported_fp = judge::fingerprint(&v);
        }
        self.counters.revisions += 1;
        let new_label = v.label;
        out.push(v);
        // A new compromise may make its infector a worm (its victims propagate).
        if new_label.is_compromised()
            && depth < 8
            && let Some(pi) = d.infected_by.and_then(|p| self.table.get(p))
            && pi != i
        {
            self.rejudge(pi, ts, out, depth + 1);
        }
    }

    /// Closes the watched span at `end` (the last packet's time): decides kinds by
    /// elimination, builds the propagation graph and campaigns, and restates every
    /// judged host's verdict with why-not spans that reach `end`.
    pub fn finish(&mut self, end: Timestamp) -> Conclusion {
        self.tick(end);
        self.refresh_probe_details();
        let n = self.table.hosts.len();
        let mut changed_at_end = vec![false; n];
        // Kinds decided over the whole span; a few passes let graph facts
        // (generations, infected children, bot groups) settle. The pass that
        // changes nothing gives the graph its facts.
        let mut facts = std::collections::BTreeMap::new();
        for pass in 0..6 {
            let mut any = false;
            for i in 0..n {
                let Ok(iu) = u32::try_from(i) else { break };
                // After the first pass only hosts whose label depends on other
                // hosts' labels can change: compromised hosts and actors.
                if pass > 0
                    && self
                        .table
                        .hosts
                        .get(i)
                        .is_none_or(|h| !h.label.is_compromised() && h.actor().is_none())
                {
                    continue;
                }
                let ctx = self.ctx(true);
                let Some(d) = judge::decide(&ctx, iu) else {
                    continue;
                };
                match self
                    .table
                    .hosts
                    .get(i)
                    .and_then(|h| graph::GraphFacts::of(h, &d))
                {
                    Some(f) => {
                        facts.insert(i, f);
                    }
                    None => {
                        facts.remove(&i);
                    }
                }
                let old_gen = self.table.hosts.get(i).and_then(|h| h.generation);
                self.apply_graph(iu, &d);
                let Some(h) = self.table.hosts.get_mut(i) else {
                    continue;
                };
                // A generation that moved changes its children's: another pass.
                any |= old_gen != d.generation;
                if d.label != h.label {
                    any = true;
                    if let Some(flag @ false) = changed_at_end.get_mut(i) {
                        *flag = true;
                        h.prev_label = (h.revision > 0).then_some(h.label);
                        h.revision += 1;
                        h.revision_ts = self.now;
                        self.counters.revisions += 1;
                    }
                    h.label = d.label;
                }
            }
            if !any {
                break;
            }
        }
        let ctx = self.ctx(true);
        let edges = graph::edges(&self.table, &facts);
        let (incidents, names) = graph::campaigns(&self.table, &facts, &edges);
        drop(facts);
        let mut verdicts = Vec::new();
        let mut current = Vec::new();
        let mut fps = Vec::new();
        for i in 0..n {
            let Ok(iu) = u32::try_from(i) else { break };
            let (Some(d), Some(h)) = (judge::decide(&ctx, iu), self.table.hosts.get(i)) else {
                continue;
            };
            let judged = h.revision > 0
                || !h.slots.is_empty()
                || d.label != Label::Clean
                || !h.unstored.is_empty();
            if !judged {
                continue;
            }
            let campaign = names.get(&iu).cloned();
            let (revision, ts, prev) = if h.revision == 0 {
                (1, h.span().map_or(self.now, |s| s.0), None)
            } else {
                (h.revision, h.revision_ts, h.prev_label)
            };
            let v = judge::render(&ctx, h, &d, ts, revision, prev, campaign);
            // Probed hosts whose label did not change are not restated (a busy
            // network has hundreds of thousands; only the scan counts in their
            // probe lines would grow — `current` carries the final text).
            let restate = h.revision == 0
                || changed_at_end.get(i).copied().unwrap_or(false)
                || d.label != Label::Probed;
            if restate {
                let fp = judge::fingerprint(&v);
                if fp != h.reported_fp {
                    verdicts.push(v.clone());
                    fps.push((i, fp, revision));
                }
            }
            current.push(v);
        }
        for (i, fp, revision) in fps {
            if let Some(h) = self.table.hosts.get_mut(i) {
                h.reported_fp = fp;
                h.revision = revision;
            }
        }
        current.sort_by(|a, b| {
            a.label
                .severity_rank()
                .cmp(&b.label.severity_rank())
                .then(a.host.cmp(&b.host))
        });
        Conclusion {
            verdicts,
            current,
            incidents,
            edges,
        }
    }

    /// E1 details quote the scan's final counts (a scan notice at the end of the
    /// scan updates them): each probe record is re-rendered from its scanner's scan
    /// on the same transport.
    fn refresh_probe_details(&mut self) {
        let mut scans: FxHashMap<IpAddr, Vec<host::ScanFacts>> = FxHashMap::default();
        for h in &self.table.hosts {
            if let Some(a) = h.actor().filter(|a| !a.scans.is_empty()) {
                scans.insert(h.ip, a.scans.clone());
            }
        }
        if scans.is_empty() {
            return;
        }
        for h in &mut self.table.hosts {
            for slot in &mut h.slots {
                if slot.ev.stage != Stage::E1InboundScan
                    || !matches!(&slot.ev.source, EvidenceSource::Notice { kind, .. } if kind == "scan")
                {
                    continue;
                }
                let Some(list) = slot.ev.peer.and_then(|p| scans.get(&p)) else {
                    continue;
                };
                let proto = slot
                    .ev
                    .vector
                    .as_ref()
                    .map(|v| map::proto_name(IpProto(v.proto)));
                let scan = list
                    .iter()
                    .find(|s| proto.as_deref() == Some(s.proto.as_str()))
                    .or(list.first());
                if let (Some(s), Some(p)) = (scan, slot.ev.peer) {
                    slot.ev.detail = map::probe_detail(p, s);
                }
            }
        }
    }

    /// Every stored evidence record, host by host in first-seen order.
    pub fn evidence(&self) -> impl Iterator<Item = &Evidence> {
        self.table
            .hosts
            .iter()
            .flat_map(|h| h.slots.iter().map(|s| &s.ev))
    }

    /// Number of hosts tracked.
    pub fn hosts(&self) -> usize {
        self.table.hosts.len()
    }

    /// Counters (`correlate.*`), for the run's `stats` record.
    pub fn counters(&self) -> Vec<(&'static str, u64)> {
        let c = &self.counters;
        let t = &self.table.counters;
        vec![
            ("correlate.alerts", c.alerts),
            ("correlate.alerts_ignored", c.alerts_ignored),
            ("correlate.notices", c.notices),
            ("correlate.anomalies", c.anomalies),
            ("correlate.anomalies_ignored", c.anomalies_ignored),
            ("correlate.app_events", c.app_events),
            ("correlate.flows", c.flows),
            ("correlate.evidence", c.evidence),
            ("correlate.evidence_stored", self.table.stored_total as u64),
            ("correlate.evidence_repeats", t.evidence_repeats),
            ("correlate.evidence_unstored", t.evidence_unstored),
            ("correlate.hosts", self.table.hosts.len() as u64),
            ("correlate.hosts_untracked", t.hosts_untracked),
            ("correlate.hosts_replaced", t.hosts_replaced),
            ("correlate.pending_flows_dropped", c.pending_flows_dropped),
            ("correlate.flow_facts_dropped", c.flow_facts_dropped),
            ("correlate.revisions", c.revisions),
        ]
    }
}

/// How a peer's act is cited in its own verdict.
/// Whether a peer still cites acts of `stage` (two of each kind, at most
/// `MAX_ACTED`).
fn cites_more(acted: &[EvidenceRef], stage: Stage) -> bool {
    acted.len() < MAX_ACTED && acted.iter().filter(|r| r.stage == stage).count() < 2
}

fn act_detail(role: Label, host: IpAddr, source: &EvidenceSource) -> String {
    let what = || match source {
        EvidenceSource::Alert { msg, sid, .. } => format!("{msg} [sid {sid}]"),
        EvidenceSource::Notice { kind, .. } => kind.replace('_', " "),
        EvidenceSource::Anomaly { event } => event.clone(),
    };
    match role {
        Label::Scanner => format!("probed {host}"),
        Label::Exploiter => format!("exploit against {host}: {}", what()),
        Label::Controller => format!("controls {host}: {}", what()),
        _ => format!("served an executable to {host}"),
    }
}

fn tls_client_hello(v: u16) -> &'static str {
    match v {
        0x0300 => "SSL 3.0 ClientHello",
        0x0301 => "TLS 1.0 ClientHello",
        0x0302 => "TLS 1.1 ClientHello",
        0x0303 => "TLS 1.2 ClientHello",
        0x0304 => "TLS 1.3 ClientHello",
        _ => "TLS ClientHello",
    }
}

/// A short tag of a download for the egg-batch count: its sha256 when known,
/// else its name and size.
fn egg_tag(d: &stormwatch_model::DownloadInfo) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = rustc_hash::FxHasher::default();
    match &d.sha256 {
        Some(x) => x.hash(&mut h),
        None => (&d.name, d.size).hash(&mut h),
    }
    h.finish()
}
