//! The per-frame pipeline.

use crate::Config;
use std::collections::BTreeMap;
use std::io;
use std::sync::Arc;
use stormwatch_correlate::Correlator;
use stormwatch_detect::Detectors;
use stormwatch_flow::{Delivery, FlowTable, FlowVisitor, PacketCtx};
use stormwatch_model::{
    Alert, Anomaly, AnomalyType, AppContext, AppEvent, AppProto, AppRecord, Direction, Endpoints,
    FlowId, FlowRecord, IpProto, NANOS_PER_SEC, Notice, OutputRecord, PacketSummary, RawFrame,
    RecordMeta, Sink, Stats, StreamChunk, Timestamp, TxView, Verdict, tcp_flags,
};
use stormwatch_proto::{FlowApp, Proto, api::ProtoSink};
use stormwatch_rules::{FlowInfo, PacketInput, RuleSet, StreamInput, TxInput};
use stormwatch_wire::{Decoded, L3, L4, LinkType, decode_frame_into};

/// What the engine keeps per flow (inside the flow table entry).
#[derive(Default)]
pub struct PerFlow {
    app: FlowApp,
    rules: stormwatch_rules::FlowState,
    alerted: bool,
    /// The application layer was told the stream ended (TCP closed) before
    /// the flow did.
    app_closed: bool,
    /// The flow was established before the packet being processed.
    established_before: bool,
    /// Transaction alerts waiting for the next packet in their data's
    /// direction (see `ProtoOut::hold`).
    held: Option<Box<HeldAlerts>>,
    /// The latest transaction's application object (`http`, `dns`), which alerts
    /// on that transaction carry in EVE.
    app_json: Option<Box<AppObject>>,
}

/// A flow's latest application object for alerts: HTTP and DNS events are
/// kept as they are and written as JSON only when an alert carries them
/// (a JSON tree was built and freed for every transaction, for the few that
/// alert: 0.4 % of `analyze`'s instructions with all ET rules); SSH's object
/// merges both sides' banners, so it is kept as JSON.
enum AppObject {
    Http(stormwatch_model::HttpEvent),
    Dns(stormwatch_model::DnsEvent),
    Json(&'static str, serde_json::Value),
}

impl AppObject {
    /// The object as EVE writes it: `{name: value}`.
    fn to_extra(&self) -> Box<serde_json::Map<String, serde_json::Value>> {
        match self {
            AppObject::Http(h) => http_extra(h),
            AppObject::Dns(d) => dns_extra(d),
            AppObject::Json(n, v) => extra_of(n, v.clone()),
        }
    }
}

/// `{name: value}`, the members an alert's application object adds.
fn extra_of(name: &str, v: serde_json::Value) -> Box<serde_json::Map<String, serde_json::Value>> {
    let mut m = serde_json::Map::new();
    m.insert(name.to_string(), v);
    Box::new(m)
}

fn http_extra(h: &stormwatch_model::HttpEvent) -> Box<serde_json::Map<String, serde_json::Value>> {
    extra_of("http", stormwatch_proto::http::logger::event_json(h))
}

fn dns_extra(d: &stormwatch_model::DnsEvent) -> Box<serde_json::Map<String, serde_json::Value>> {
    extra_of("dns", stormwatch_proto::dns::logger::event_json(d))
}

/// Transaction alerts of one flow waiting for a packet of their data's
/// direction (boxed: most flows never hold any).
#[derive(Default)]
struct HeldAlerts(Vec<(Direction, Alert)>);

/// End-of-run figures for the terminal summary.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Summary {
    /// Frames read.
    pub packets: u64,
    /// Captured bytes of those frames.
    pub bytes: u64,
    /// Flows ended (all flows, at the end of the run).
    pub flows: u64,
    /// Flows per application protocol, by EVE name.
    pub protocols: BTreeMap<String, u64>,
    /// Anomalies by event name.
    pub anomalies: BTreeMap<String, u64>,
    /// Alerts raised.
    pub alerts: u64,
    /// Notices raised.
    pub notices: u64,
    /// First packet time.
    pub first_ts: Option<Timestamp>,
    /// Last packet time.
    pub last_ts: Option<Timestamp>,
    /// Current verdicts at the end (most severe first).
    pub verdicts: Vec<Verdict>,
    /// Every piece of evidence the correlator holds.
    pub evidence: Vec<stormwatch_model::Evidence>,
    /// Campaigns.
    pub incidents: Vec<stormwatch_model::Incident>,
    /// The propagation graph.
    pub edges: Vec<stormwatch_model::PropagationEdge>,
    /// Every counter of every stage (also in the `stats` record).
    pub stats: Stats,
}

/// Engine counters, by index into [`COUNTER_NAMES`].
mod ctr {
    pub const TRUNCATED_FRAMES: usize = 0;
    pub const IPV4: usize = 1;
    pub const IPV6: usize = 2;
    pub const ARP: usize = 3;
    pub const OTHER_ETHERTYPE: usize = 4;
    pub const UNDECODED: usize = 5;
    pub const TCP: usize = 6;
    pub const UDP: usize = 7;
    pub const ICMPV6: usize = 8;
    pub const ICMPV4: usize = 9;
    pub const IP_FRAGMENTS: usize = 10;
    pub const OTHER_IP_PROTO: usize = 11;
    pub const VLAN: usize = 12;
    pub const TUNNELLED: usize = 13;
    pub const COUNT: usize = 14;
}

/// Dotted names of the engine counters (EVE `stats`).
const COUNTER_NAMES: [&str; ctr::COUNT] = [
    "capture.truncated_frames",
    "decoder.ipv4",
    "decoder.ipv6",
    "decoder.arp",
    "decoder.other_ethertype",
    "decoder.undecoded",
    "decoder.tcp",
    "decoder.udp",
    "decoder.icmpv6",
    "decoder.icmpv4",
    "decoder.ip_fragments",
    "decoder.other_ip_proto",
    "decoder.vlan",
    "decoder.tunnelled",
];

/// Flows ended between two writes of pending records at the end of the run.
const FINISH_BATCH: usize = 4096;

/// Writes and empties `pending`, in order. Most packets leave nothing to
/// write: that test is inlined, the writing is not.
#[inline(always)]
fn flush_pending(pending: &mut Vec<Pending>, sink: &mut dyn Sink) -> io::Result<()> {
    if pending.is_empty() {
        return Ok(());
    }
    write_pending(pending, sink)
}

#[inline(never)]
fn write_pending(pending: &mut Vec<Pending>, sink: &mut dyn Sink) -> io::Result<()> {
    for (rec, meta, extra) in pending.drain(..) {
        match extra {
            Some(x) => sink.write_extra(&rec, &meta, &x)?,
            None => sink.write_meta(&rec, &meta)?,
        }
    }
    Ok(())
}

/// A record waiting to be written, with engine facts and extra EVE members.
type Pending = (
    OutputRecord,
    RecordMeta,
    Option<Box<serde_json::Map<String, serde_json::Value>>>,
);

/// Everything but the flow table and the protocol stage: what stage callbacks
/// write into while those two are borrowed.
struct Rest {
    rules: Option<Arc<RuleSet>>,
    detect: Option<Detectors>,
    correlate: Option<Correlator>,
    pending: Vec<Pending>,
    meta: RecordMeta,
    /// Application records are consumed (an EVE sink is attached).
    want_records: bool,
    /// Application events are consumed (behaviour stages, or rules for alert objects).
    want_events: bool,
    /// Extra EVE members for alerts emitted right now (the transaction's object).
    alert_extra: Option<Box<serde_json::Map<String, serde_json::Value>>>,
    alerts: Vec<Alert>,
    notices: Vec<Notice>,
    verdicts: Vec<Verdict>,
    summary: Summary,
    counters: [u64; ctr::COUNT],
}

impl Rest {
    fn emit(&mut self, rec: OutputRecord) {
        let extra = match rec {
            OutputRecord::Alert(_) => self.alert_extra.clone(),
            _ => None,
        };
        self.pending.push((rec, self.meta, extra));
    }

    fn count(&mut self, idx: usize, n: u64) {
        if let Some(c) = self.counters.get_mut(idx) {
            *c += n;
        }
    }

    fn anomaly(&mut self, a: Anomaly) {
        self.anomaly_with(a, None);
    }

    /// As `anomaly`, with extra EVE members for its record.
    fn anomaly_with(
        &mut self,
        a: Anomaly,
        extra: Option<Box<serde_json::Map<String, serde_json::Value>>>,
    ) {
        *self
            .summary
            .anomalies
            .entry(a.event.to_string())
            .or_insert(0) += 1;
        if let Some(d) = &mut self.detect {
            d.on_anomaly(&a, &mut self.notices);
        }
        if let Some(c) = &mut self.correlate {
            c.on_anomaly(&a, &mut self.verdicts);
        }
        self.pending
            .push((OutputRecord::Anomaly(a), self.meta, extra));
        self.drain_findings();
    }

    /// The detectors' look at one packet. Out of line, as every call into the
    /// behaviour stages: most packets never get there, and their code inlined
    /// into the packet path made that path's code larger for every packet.
    #[inline(never)]
    fn detect_packet(&mut self, s: &PacketSummary) {
        if let Some(d) = &mut self.detect {
            d.on_packet(s, &mut self.notices);
        }
        self.drain_findings();
    }

    /// A new second of capture time for the detectors.
    #[inline(never)]
    fn detect_tick(&mut self, ts: Timestamp) {
        if let Some(d) = &mut self.detect {
            d.tick(ts, &mut self.notices);
        }
        self.drain_findings();
    }

    /// The behaviour stages' look at a flow that ended.
    #[inline(never)]
    fn behaviour_flow_end(&mut self, rec: &FlowRecord) {
        if let Some(d) = &mut self.detect {
            d.on_flow_end(rec, &mut self.notices);
        }
        if let Some(c) = &mut self.correlate {
            c.on_flow(rec, &mut self.verdicts);
        }
    }

    /// Routes alerts, notices and verdicts raised so far to their consumers and
    /// the output, in a fixed order.
    #[inline]
    fn drain_findings(&mut self) {
        if self.alerts.is_empty() && self.notices.is_empty() && self.verdicts.is_empty() {
            return;
        }
        self.route_findings();
    }

    #[inline(never)]
    fn route_findings(&mut self) {
        // Alerts may raise notices, notices may raise verdicts: loop until quiet.
        while !self.alerts.is_empty() || !self.notices.is_empty() || !self.verdicts.is_empty() {
            for a in std::mem::take(&mut self.alerts) {
                self.summary.alerts += 1;
                if let Some(d) = &mut self.detect {
                    d.on_alert(&a, &mut self.notices);
                }
                if let Some(c) = &mut self.correlate {
                    c.on_alert(&a, &mut self.verdicts);
                }
                self.emit(OutputRecord::Alert(a));
            }
            for n in std::mem::take(&mut self.notices) {
                self.summary.notices += 1;
                if let Some(c) = &mut self.correlate {
                    c.on_notice(&n, &mut self.verdicts);
                }
                self.emit(OutputRecord::Notice(n));
            }
            for v in std::mem::take(&mut self.verdicts) {
                self.emit(OutputRecord::Verdict(v));
            }
        }
    }

    /// An application event no stage reads, left unbuilt: the correlator
    /// counts it as if it had seen it. Always `false` (the event is not wanted).
    fn unbuilt_event(&mut self, ctx: &AppContext) -> bool {
        if let Some(c) = &mut self.correlate {
            c.on_unbuilt_app_event(ctx.ts);
        }
        false
    }

    #[inline(never)]
    fn app_event(&mut self, ctx: &AppContext, ev: &AppEvent) {
        if let Some(d) = &mut self.detect {
            d.on_app_event(ctx, ev, &mut self.notices);
        }
        if let Some(c) = &mut self.correlate {
            c.on_app_event(ctx, ev, &mut self.verdicts);
        }
        self.drain_findings();
    }
}

/// The protocol stage's view of the rest of the pipeline while it parses one flow.
struct ProtoOut<'a> {
    rest: &'a mut Rest,
    rules_state: &'a mut stormwatch_rules::FlowState,
    /// The flow as rules see it (built only when rules are loaded).
    flow: Option<FlowInfo>,
    alerted: &'a mut bool,
    app_json: &'a mut Option<Box<AppObject>>,
    /// Alerts (indices into `rest.pending`) raised on a transaction before its
    /// application object was known; patched when the object arrives.
    unpatched: Vec<usize>,
    /// The data being parsed was released by an acknowledgement from the other
    /// side (`Delivery::OnAck`): Suricata inspects the transaction in the
    /// direction of the packet, so alerts on the data's direction wait in
    /// `held` for the next packet of that direction.
    hold: Option<(Direction, &'a mut Option<Box<HeldAlerts>>)>,
    /// The UDP datagram being parsed (empty for stream data): transaction
    /// rules' raw payload parts read it.
    datagram: &'a [u8],
}

impl<'a> ProtoOut<'a> {
    /// The sink for one flow's parsers: nothing unpatched, nothing held.
    fn new(
        rest: &'a mut Rest,
        rules_state: &'a mut stormwatch_rules::FlowState,
        alerted: &'a mut bool,
        app_json: &'a mut Option<Box<AppObject>>,
        flow: Option<FlowInfo>,
    ) -> Self {
        ProtoOut {
            rest,
            rules_state,
            flow,
            alerted,
            app_json,
            unpatched: Vec::new(),
            hold: None,
            datagram: &[],
        }
    }

    fn extra(&self) -> Option<Box<serde_json::Map<String, serde_json::Value>>> {
        self.app_json.as_deref().map(AppObject::to_extra)
    }
}

impl ProtoSink for ProtoOut<'_> {
    fn event(&mut self, ctx: &AppContext, ev: AppEvent) {
        // Alerts on a transaction carry its object; only rules make alerts.
        let keep_object = self.rest.rules.is_some();
        if !keep_object {
            self.rest.app_event(ctx, &ev);
            return;
        }
        if let AppEvent::Ssh(e) = &ev {
            // Both banners, each added as its side is seen.
            let mut v = match self.app_json.take().map(|b| *b) {
                Some(AppObject::Json("ssh", v)) => v,
                _ => serde_json::Value::Null,
            };
            stormwatch_proto::ssh::logger::merge_event_json(&mut v, ctx.dir, e);
            *self.app_json = Some(Box::new(AppObject::Json("ssh", v)));
        }
        if matches!(ev, AppEvent::Http(_) | AppEvent::Dns(_) | AppEvent::Ssh(_))
            && !self.unpatched.is_empty()
        {
            let extra = match &ev {
                AppEvent::Http(h) => Some(http_extra(h)),
                AppEvent::Dns(d) => Some(dns_extra(d)),
                _ => self.extra(),
            };
            for i in std::mem::take(&mut self.unpatched) {
                if let Some((_, _, x)) = self.rest.pending.get_mut(i) {
                    *x = extra.clone();
                }
            }
        }
        self.rest.app_event(ctx, &ev);
        // Kept as the event itself: written only if an alert carries it.
        match ev {
            AppEvent::Http(h) => *self.app_json = Some(Box::new(AppObject::Http(h))),
            AppEvent::Dns(d) => *self.app_json = Some(Box::new(AppObject::Dns(d))),
            _ => {}
        }
    }

    fn record(&mut self, rec: AppRecord) {
        if self.rest.want_records {
            self.rest.emit(OutputRecord::App(rec));
        }
    }

    fn wants_records(&self) -> bool {
        self.rest.want_records
    }

    fn wants_events(&self) -> bool {
        self.rest.want_events
    }

    fn wants_events_of(&self, proto: AppProto) -> bool {
        // Rules put the DNS/SSH object on their alerts; the behaviour stages
        // read no DNS, SSH or SMTP event.
        self.rest.want_events
            && (self.rest.rules.is_some()
                || !matches!(proto, AppProto::Dns | AppProto::Ssh | AppProto::Smtp))
    }

    fn wants_server_events_of(&self, proto: AppProto) -> bool {
        // Only rules (alert objects) read them; the behaviour stages read what
        // clients send (and files, from their own events).
        self.rest.rules.is_some() && self.wants_events_of(proto)
    }

    fn wants_irc_message(
        &mut self,
        ctx: &AppContext,
        command: &[u8],
        nick: Option<&str>,
        channels: &[(String, Option<String>)],
    ) -> bool {
        // Only the behaviour stages read IRC events; the correlator reads none
        // of them but counts them.
        let wanted = self
            .rest
            .detect
            .as_mut()
            .is_some_and(|d| d.wants_irc_message(ctx, command, nick, channels));
        wanted || self.rest.unbuilt_event(ctx)
    }

    fn wants_http_request(&mut self, ctx: &AppContext, uri: &[u8], user_agent: &[u8]) -> bool {
        // Rules put the request's object on their alerts; of the behaviour
        // stages only the detectors read requests (the correlator counts them).
        if self.rest.rules.is_some() {
            return true;
        }
        let wanted = self
            .rest
            .detect
            .as_mut()
            .is_some_and(|d| d.wants_http_request(ctx, uri, user_agent));
        wanted || self.rest.unbuilt_event(ctx)
    }

    fn wants_txs(&self) -> bool {
        self.rest.rules.is_some()
    }

    fn anomaly(&mut self, a: Anomaly) {
        self.rest.anomaly(a);
    }

    fn tx(&mut self, ctx: &AppContext, tx: &dyn TxView) {
        if let (Some(rs), Some(mut flow)) = (&self.rest.rules, self.flow) {
            flow.app_proto = tx.app_proto();
            flow.dir = ctx.dir;
            let before = self.rest.alerts.len();
            rs.match_tx(
                &TxInput {
                    ts: ctx.ts,
                    flow,
                    frame: &[],
                    payload: self.datagram,
                },
                tx,
                self.rules_state,
                &mut self.rest.alerts,
            );
            if let Some((dir, held)) = &mut self.hold
                && self.rest.alerts.len() > before
            {
                let new = self.rest.alerts.split_off(before);
                held.get_or_insert_default()
                    .0
                    .extend(new.into_iter().map(|a| (*dir, a)));
                return;
            }
            let raised = self.rest.alerts.len() > before;
            if raised {
                *self.alerted = true;
                self.rest.alert_extra = self.extra();
            }
            let first = self.rest.pending.len();
            self.rest.drain_findings();
            self.rest.alert_extra = None;
            if raised && self.app_json.is_none() {
                for i in first..self.rest.pending.len() {
                    if matches!(
                        self.rest.pending.get(i),
                        Some((OutputRecord::Alert(_), _, None))
                    ) {
                        self.unpatched.push(i);
                    }
                }
            }
        }
    }
}

/// The pipeline. Feed frames with [`Engine::process`], end with [`Engine::finish`].
pub struct Engine {
    flows: FlowTable<PerFlow>,
    stages: Stages,
    last_tick_secs: i64,
    /// The capture-time nanoseconds of second `last_tick_secs`:
    /// `[tick_from, tick_until)` (empty before the first frame).
    tick_from: i64,
    tick_until: i64,
}

/// The flow table's visitor: every stage behind the flow table.
struct Stages {
    proto: Proto,
    rest: Rest,
    home_net: stormwatch_model::NetSet,
    /// What the end of the flow being ended released to raw stream inspection.
    end_release: EndRelease,
    /// Stream data is delivered as acknowledged (`Delivery::OnAck`).
    on_ack: bool,
    /// The packet being processed carries a TCP RST.
    rst: bool,
    /// The flowbits set on the flow of the packet just processed (its flow, the
    /// bit ids): stream anomalies that packet raises carry their names (EVE
    /// `metadata.flowbits`).
    flowbits_now: (FlowId, Vec<u32>),
    /// The capture frames come from (see [`Engine::attach_capture`]).
    capture: Option<stormwatch_flow::Backing>,
}

/// Most bytes of a flow-end release kept per direction for the EVE `payload` of
/// the alerts it raised (rendered gaps included); the rest is not shown.
const END_PAYLOAD_MAX_BYTES: usize = 65_536;

/// The data the end of one flow released to raw stream inspection, per
/// direction, as Suricata shows it in the `payload` of alerts raised on its
/// `stream (flow timeout)` pseudo packets: the bytes in order, every gap
/// rendered as `[N bytes missing]`.
#[derive(Default)]
struct EndRelease {
    payload: [Vec<u8>; 2],
    /// Stream alerts raised by the release: index into `Rest::pending`, direction.
    alerts: Vec<(usize, Direction)>,
}

impl EndRelease {
    fn push(&mut self, dir: Direction, data: stormwatch_model::StreamData<'_>) {
        let Some(buf) = self.payload.get_mut(dir.index()) else {
            return;
        };
        let room = END_PAYLOAD_MAX_BYTES.saturating_sub(buf.len());
        match data {
            stormwatch_model::StreamData::Bytes(b) => {
                buf.extend_from_slice(b.get(..room.min(b.len())).unwrap_or(b));
            }
            stormwatch_model::StreamData::Gap(n) => {
                let s = format!("[{n} bytes missing]");
                if s.len() <= room {
                    buf.extend_from_slice(s.as_bytes());
                }
            }
        }
    }

    /// Gives the alerts the release raised its whole payload, then forgets it.
    fn patch(&mut self, pending: &mut [Pending]) {
        for (i, dir) in self.alerts.drain(..) {
            if let Some((OutputRecord::Alert(a), _, _)) = pending.get_mut(i)
                && let Some(p) = self.payload.get(dir.index())
                && !p.is_empty()
            {
                a.payload = Some(p.clone());
            }
        }
        for p in &mut self.payload {
            p.clear();
        }
    }
}

impl Stages {
    /// `on_packet` with rules: the packet's rules.
    #[inline(never)]
    fn packet_rules(&mut self, ctx: &PacketCtx, pkt: &Decoded<'_>, user: &mut PerFlow) {
        let rest = &mut self.rest;
        // Borrowed, not cloned: an `Arc` clone and drop per packet were two
        // atomic operations on the rule set's counter.
        let Some(rs) = rest.rules.as_deref() else {
            return;
        };
        let input = PacketInput {
            ts: ctx.ts,
            pkt,
            frame: &[],
            flow: Some(flow_info(ctx, user, ctx.dir)),
        };
        let before = rest.alerts.len();
        rs.match_packet(&input, Some(&mut user.rules), &mut rest.alerts);
        if rest.alerts.len() > before {
            user.alerted = true;
        }
        rest.drain_findings();
    }

    /// `on_stream` for a flow whose application layer still takes data.
    #[inline(never)]
    fn stream_chunk(&mut self, ctx: &PacketCtx, chunk: StreamChunk<'_>, user: &mut PerFlow) {
        // Only a release by the end of the flow changes the record facts.
        let saved = ctx.flow_end.then(|| self.enter_release(ctx));
        // Two call sites, so that without rules the sink is built with a
        // constant `None`: no flow facts are computed or copied per chunk
        // (about 30 instructions each).
        if self.rest.rules.is_none() {
            self.stream_to_proto(ctx, chunk, user, None);
        } else {
            let info = self.rule_flow(ctx, user, chunk.dir);
            // Transaction rules evaluated on what this chunk completes read
            // it with the raw stream, which gets it after the parser.
            if let (Some(rs), Some(flow)) = (self.rest.rules.as_deref(), info) {
                let input = StreamInput {
                    ts: ctx.ts,
                    flow,
                    data: chunk.data,
                    offset: chunk.offset,
                    frame: &[],
                    backing: self.capture.as_ref(),
                };
                rs.note_app_stream(&input, &mut user.rules);
            }
            self.stream_to_proto(ctx, chunk, user, info);
        }
        if let Some(m) = saved {
            self.rest.meta = m;
        }
    }

    /// `on_raw_stream` with rules: the stream rules over `chunk`.
    #[inline(never)]
    fn raw_stream_rules(&mut self, ctx: &PacketCtx, chunk: StreamChunk<'_>, user: &mut PerFlow) {
        if self.rest.rules.is_none() {
            return;
        }
        let saved = self.enter_release(ctx);
        if ctx.flow_end {
            self.end_release.push(chunk.dir, chunk.data);
        }
        let rest = &mut self.rest;
        let Some(rs) = rest.rules.as_deref() else {
            return;
        };
        // Identification may have named (or turned round) the flow by now.
        let input = StreamInput {
            ts: ctx.ts,
            flow: flow_info(ctx, user, chunk.dir),
            data: chunk.data,
            offset: chunk.offset,
            frame: &[],
            backing: self.capture.as_ref(),
        };
        let before = rest.alerts.len();
        rs.match_stream(&input, &mut user.rules, &mut rest.alerts);
        if rest.alerts.len() > before {
            user.alerted = true;
        }
        let first = rest.pending.len();
        rest.drain_findings();
        if ctx.flow_end {
            for i in first..rest.pending.len() {
                if let Some((OutputRecord::Alert(a), _, _)) = rest.pending.get(i)
                    && a.stream
                {
                    self.end_release.alerts.push((i, chunk.dir));
                }
            }
        }
        self.rest.meta = saved;
    }

    /// The first packet of a flow: the protocol stage sets up its state.
    /// Out of line, as the other parts of `on_packet` most packets skip: the
    /// per-packet path stays small.
    #[inline(never)]
    fn flow_start(&mut self, ctx: &PacketCtx, pkt: &Decoded<'_>, user: &mut PerFlow) {
        self.proto
            .on_flow_start(&app_ctx(ctx, ctx.dir), &mut user.app);
        if let L4::Tcp(t) = &pkt.l4
            && t.flags & tcp_flags::SYN == 0
        {
            user.app.set_midstream();
        }
    }

    /// A packet the detectors want: its summary is built here, out of the
    /// per-packet path.
    #[inline(never)]
    fn summary_for_detectors(&mut self, ctx: &PacketCtx, pkt: &Decoded<'_>) {
        if let Some(s) = summary_of(ctx, pkt) {
            self.rest.detect_packet(&s);
        }
    }

    /// A UDP datagram for the protocol stage.
    #[inline(never)]
    fn datagram(&mut self, ctx: &PacketCtx, pkt: &Decoded<'_>, user: &mut PerFlow) {
        if !user.app.is_active() {
            return;
        }
        // As in `on_stream`: a constant `None` without rules.
        let info = match self.rest.rules {
            None => None,
            Some(_) => self.rule_flow(ctx, user, ctx.dir),
        };
        let mut out = ProtoOut::new(
            &mut self.rest,
            &mut user.rules,
            &mut user.alerted,
            &mut user.app_json,
            info,
        );
        out.datagram = pkt.payload;
        self.proto
            .on_datagram(&app_ctx(ctx, ctx.dir), &mut user.app, pkt.payload, &mut out);
    }

    /// A chunk of stream data for the protocol stage, with the flow facts
    /// rules see (`None` without rules); inlined into each call site.
    #[inline(always)]
    fn stream_to_proto(
        &mut self,
        ctx: &PacketCtx,
        chunk: StreamChunk<'_>,
        user: &mut PerFlow,
        info: Option<FlowInfo>,
    ) {
        let mut out = ProtoOut::new(
            &mut self.rest,
            &mut user.rules,
            &mut user.alerted,
            &mut user.app_json,
            info,
        );
        out.hold = (self.on_ack && !ctx.flow_end && ctx.dir != chunk.dir)
            .then_some((chunk.dir, &mut user.held));
        self.proto.on_stream(
            &app_ctx(ctx, chunk.dir),
            &mut user.app,
            chunk.data,
            &mut out,
        );
    }

    /// The packet that closed the TCP session by the FIN exchange: the
    /// application layer is told the stream ended (see `on_packet_end`).
    #[inline(never)]
    fn stream_eof(&mut self, ctx: &PacketCtx, user: &mut PerFlow) {
        user.app_closed = true;
        let dir = if user.app.reversed() {
            Direction::ToClient
        } else {
            Direction::ToServer
        };
        let info = self.rule_flow(ctx, user, dir);
        self.close_app(&app_ctx(ctx, dir), info, user);
    }

    /// Raises the held transaction alerts of `ctx`'s direction (all of them at
    /// the end of the flow, `ctx` `None`) as alerts of this packet.
    fn release_held(&mut self, ctx: Option<&PacketCtx>, user: &mut PerFlow) {
        let Some(held) = user.held.as_mut() else {
            return;
        };
        let mut now = Vec::new();
        held.0.retain(|(d, a)| {
            if ctx.is_none_or(|c| c.dir == *d) {
                now.push(a.clone());
                false
            } else {
                true
            }
        });
        if held.0.is_empty() {
            user.held = None;
        }
        if now.is_empty() {
            return;
        }
        if let Some(c) = ctx {
            let info = flow_info(c, user, c.dir);
            for a in &mut now {
                a.ts = c.ts;
                if let Some(f) = &mut a.flow {
                    f.pkts_toserver = info.pkts_toserver;
                    f.pkts_toclient = info.pkts_toclient;
                    f.bytes_toserver = info.bytes_toserver;
                    f.bytes_toclient = info.bytes_toclient;
                }
            }
        }
        user.alerted = true;
        let rest = &mut self.rest;
        // Each alert shows its transaction as the parser has it now (the
        // packet that releases it may have added the response), else the
        // flow's last object.
        for a in now {
            let now_obj = a
                .tx_id
                .and_then(|id| user.app.tx_object(id))
                .map(|(name, v)| AppObject::Json(name, v));
            rest.alert_extra = now_obj
                .as_ref()
                .or(user.app_json.as_deref())
                .map(AppObject::to_extra);
            rest.alerts.push(a);
            rest.drain_findings();
        }
        rest.alert_extra = None;
    }

    /// Ends the application layer of a flow (its parsers log what they hold).
    fn close_app(&mut self, ctx: &AppContext, info: Option<FlowInfo>, user: &mut PerFlow) {
        let mut out = ProtoOut::new(
            &mut self.rest,
            &mut user.rules,
            &mut user.alerted,
            &mut user.app_json,
            info,
        );
        self.proto.on_flow_end(ctx, &mut user.app, &mut out);
    }

    /// The flow as rules see it for data of direction `dir`; only built when
    /// rules are loaded (nothing else reads it).
    fn rule_flow(&self, ctx: &PacketCtx, user: &PerFlow, dir: Direction) -> Option<FlowInfo> {
        self.rest.rules.is_some().then(|| flow_info(ctx, user, dir))
    }

    /// Record facts for what a stream release raises; returns the facts to
    /// restore afterwards. A release by the end of the flow is Suricata's
    /// `stream (flow timeout)` pseudo packet, which has no packet number.
    fn enter_release(&mut self, ctx: &PacketCtx) -> RecordMeta {
        let saved = self.rest.meta;
        if ctx.flow_end {
            self.rest.meta.pcap_cnt = None;
            self.rest.meta.pkt_src = Some("stream (flow timeout)");
        }
        saved
    }
}

/// The flow facts rules see for data of direction `dir` (in the flow table's
/// orientation). A flow the protocol stage found reversed (a midstream pickup
/// that began with the server's data) is turned round.
fn flow_info(ctx: &PacketCtx, user: &PerFlow, dir: Direction) -> FlowInfo {
    let app = &user.app;
    let rev = app.reversed();
    let (pt, pc, bt, bc) = if rev {
        (
            ctx.pkts_toclient,
            ctx.pkts_toserver,
            ctx.bytes_toclient,
            ctx.bytes_toserver,
        )
    } else {
        (
            ctx.pkts_toserver,
            ctx.pkts_toclient,
            ctx.bytes_toserver,
            ctx.bytes_toclient,
        )
    };
    FlowInfo {
        flow_id: ctx.flow_id,
        key: if rev { ctx.key.reversed() } else { ctx.key },
        dir: if rev { dir.flip() } else { dir },
        // A TCP packet counts as established (`flow:established`) once the
        // session was before it, as Suricata decides it ahead of the stream
        // engine: the ACK completing the handshake is not yet.
        established: if ctx.key.proto == IpProto::TCP {
            user.established_before
        } else {
            ctx.established
        },
        stream_tracked: ctx.stream_tracked,
        app_proto: app.app_proto(),
        app_proto_ts: app.app_proto_dir(Direction::ToServer),
        app_proto_tc: app.app_proto_dir(Direction::ToClient),
        pkts_toserver: pt,
        pkts_toclient: pc,
        bytes_toserver: bt,
        bytes_toclient: bc,
        start: ctx.start,
    }
}

/// Turns a flow record round (client and server swapped): for flows the
/// protocol stage found reversed.
fn reverse_record(rec: &mut FlowRecord) {
    rec.key = rec.key.reversed();
    std::mem::swap(&mut rec.pkts_toserver, &mut rec.pkts_toclient);
    std::mem::swap(&mut rec.bytes_toserver, &mut rec.bytes_toclient);
    if let Some(t) = &mut rec.tcp {
        std::mem::swap(&mut t.flags_ts, &mut t.flags_tc);
        std::mem::swap(&mut t.gap_bytes_ts, &mut t.gap_bytes_tc);
        t.history = t
            .history
            .chars()
            .map(|c| {
                if c.is_ascii_uppercase() {
                    c.to_ascii_lowercase()
                } else {
                    c.to_ascii_uppercase()
                }
            })
            .collect();
    }
    if let Some((src, dst)) = rec.macs {
        rec.macs = Some((dst, src));
    }
}

fn app_ctx(ctx: &PacketCtx, dir: Direction) -> AppContext {
    AppContext {
        ts: ctx.ts,
        flow_id: ctx.flow_id,
        key: ctx.key,
        dir,
    }
}

fn summary_of(ctx: &PacketCtx, pkt: &Decoded<'_>) -> Option<PacketSummary> {
    let (src, dst) = pkt.l3.addrs()?;
    let (ip_id, ttl) = match &pkt.l3 {
        L3::Ipv4(v) => (v.id, v.ttl),
        L3::Ipv6(v) => (0, v.hop_limit),
        _ => (0, 0),
    };
    let mut s = PacketSummary {
        ts: ctx.ts,
        flow_id: ctx.flow_id,
        dir: ctx.dir,
        first_in_flow: ctx.first_in_flow,
        src,
        dst,
        src_port: 0,
        dst_port: 0,
        proto: IpProto(pkt.l3.proto().unwrap_or(0)),
        tcp_flags: 0,
        window: 0,
        ip_id,
        ttl,
        tcp_options_sig: 0,
        mss: None,
        icmp: None,
        payload_len: u32::try_from(pkt.payload.len()).unwrap_or(u32::MAX),
        wire_len: ctx.wire_len,
    };
    match &pkt.l4 {
        L4::Tcp(t) => {
            s.src_port = t.src_port;
            s.dst_port = t.dst_port;
            s.tcp_flags = t.flags;
            s.window = t.window;
            s.tcp_options_sig = t.opts.layout_sig;
            s.mss = t.opts.mss;
        }
        L4::Udp(u) => {
            s.src_port = u.src_port;
            s.dst_port = u.dst_port;
        }
        L4::Icmp(i) => s.icmp = Some((i.icmp_type, i.code)),
        _ => {}
    }
    Some(s)
}

/// True for the packets behavioural detectors look at: the first packet in each
/// direction, TCP control packets (SYN, RST, FIN) and ICMP — decided from the
/// decoded packet, before a summary is built.
fn detector_wants(ctx: &PacketCtx, pkt: &Decoded<'_>) -> bool {
    let first_in_dir = match ctx.dir {
        Direction::ToServer => ctx.pkts_toserver == 1,
        Direction::ToClient => ctx.pkts_toclient == 1,
    };
    first_in_dir
        || match &pkt.l4 {
            L4::Tcp(t) => t.flags & (tcp_flags::SYN | tcp_flags::RST | tcp_flags::FIN) != 0,
            L4::Icmp(_) => true,
            _ => false,
        }
}

impl FlowVisitor<PerFlow> for Stages {
    // `on_packet`, `on_raw_stream` and `on_packet_end` run for every packet (or
    // every chunk): inlined into the flow table's packet function, with the parts
    // most packets skip (rules, held alerts, the end of the stream) out of line.
    #[inline(always)]
    fn on_packet(&mut self, ctx: &PacketCtx, pkt: &Decoded<'_>, user: &mut PerFlow) {
        self.rst = matches!(&pkt.l4, L4::Tcp(t) if t.flags & tcp_flags::RST != 0);
        if ctx.first_in_flow {
            self.flow_start(ctx, pkt, user);
        }
        if self.rest.detect.is_some() && detector_wants(ctx, pkt) {
            self.summary_for_detectors(ctx, pkt);
        }
        if matches!(pkt.l4, L4::Udp(_)) {
            self.datagram(ctx, pkt, user);
        }
        if self.rest.rules.is_some() {
            self.packet_rules(ctx, pkt, user);
        }
    }

    #[inline(always)]
    fn on_stream(&mut self, ctx: &PacketCtx, chunk: StreamChunk<'_>, user: &mut PerFlow) {
        // A flow whose application layer is done (unknown protocol, a parser
        // that gave up) takes no more data.
        if user.app.is_active() {
            self.stream_chunk(ctx, chunk, user);
        }
    }

    #[inline]
    fn on_raw_stream(&mut self, ctx: &PacketCtx, chunk: StreamChunk<'_>, user: &mut PerFlow) {
        if self.rest.rules.is_some() {
            self.raw_stream_rules(ctx, chunk, user);
        }
    }

    #[inline(always)]
    fn on_packet_end(&mut self, ctx: &PacketCtx, user: &mut PerFlow) {
        if user.held.is_some() {
            self.release_held(Some(ctx), user);
        }
        self.flowbits_now.0 = ctx.flow_id;
        self.flowbits_now.1.clear();
        if self.rest.rules.is_some() {
            self.flowbits_now
                .1
                .extend_from_slice(user.rules.flowbit_ids());
        }
        // Suricata's IDS mode tells the application layer the stream ended
        // (`STREAM_EOF`) with the packet that closes the TCP session by the FIN
        // exchange: every byte was acknowledged, hence delivered, by then.
        if self.on_ack
            && !self.rst
            && !user.app_closed
            && ctx.tcp_state == stormwatch_model::TcpState::Closed
        {
            self.stream_eof(ctx, user);
        }
        user.established_before = ctx.established;
    }

    fn on_flow_end(&mut self, mut rec: FlowRecord, mut user: PerFlow) {
        self.end_release.patch(&mut self.rest.pending);
        if user.held.is_some() {
            let saved = self.rest.meta;
            self.rest.meta.pcap_cnt = None;
            self.rest.meta.pkt_src = Some("stream (flow timeout)");
            self.release_held(None, &mut user);
            self.rest.meta = saved;
        }
        // The protocol stage takes the table's orientation and turns it itself.
        let table_key = rec.key;
        if user.app.reversed() {
            reverse_record(&mut rec);
        }
        let ctx = AppContext {
            ts: rec.end,
            flow_id: rec.flow_id,
            key: table_key,
            dir: if user.app.reversed() {
                Direction::ToClient
            } else {
                Direction::ToServer
            },
        };
        if !user.app_closed {
            let info = self.rest.rules.is_some().then(|| FlowInfo {
                flow_id: rec.flow_id,
                key: rec.key,
                dir: Direction::ToServer,
                established: rec.state != stormwatch_model::FlowState::New,
                stream_tracked: rec.tcp.is_some(),
                app_proto: user.app.app_proto(),
                app_proto_ts: user.app.app_proto_dir(Direction::ToServer),
                app_proto_tc: user.app.app_proto_dir(Direction::ToClient),
                pkts_toserver: rec.pkts_toserver,
                pkts_toclient: rec.pkts_toclient,
                bytes_toserver: rec.bytes_toserver,
                bytes_toclient: rec.bytes_toclient,
                start: rec.start,
            });
            self.close_app(&ctx, info, &mut user);
        }
        rec.app_proto = user.app.app_proto();
        let ts = user.app.app_proto_dir(Direction::ToServer);
        let tc = user.app.app_proto_dir(Direction::ToClient);
        if ts != tc && ts.is_known() && tc.is_known() {
            rec.app_proto_ts = Some(ts);
            rec.app_proto_tc = Some(tc);
        }
        rec.alerted = user.alerted;
        let rest = &mut self.rest;
        rest.summary.flows += 1;
        let name = if rec.app_proto.is_known() {
            rec.app_proto.as_str()
        } else {
            "unknown"
        };
        *rest.summary.protocols.entry(name.to_string()).or_insert(0) += 1;
        rest.behaviour_flow_end(&rec);
        // Flow records carry no packet number.
        let meta = rest.meta;
        rest.meta.pcap_cnt = None;
        rest.emit(OutputRecord::Flow(rec));
        // EVE `app_proto_orig`: the protocol before an upgrade (HTTP CONNECT,
        // STARTTLS), an EVE member the model's record does not carry.
        let orig = user.app.app_proto_orig();
        if orig.is_known()
            && let Some((_, _, extra)) = rest.pending.last_mut()
        {
            let mut m = serde_json::Map::new();
            m.insert("app_proto_orig".into(), orig.as_str().into());
            *extra = Some(Box::new(m));
        }
        rest.drain_findings();
        rest.meta = meta;
    }

    fn on_anomaly(&mut self, a: Anomaly) {
        let (flow, ids) = &self.flowbits_now;
        let extra = match &self.rest.rules {
            Some(rs) if a.flow_id == Some(*flow) && !ids.is_empty() => {
                let names: Vec<serde_json::Value> = ids
                    .iter()
                    .filter_map(|&i| rs.flowbit_name(i))
                    .map(|n| n.into())
                    .collect();
                let mut md = serde_json::Map::new();
                md.insert("flowbits".into(), names.into());
                let mut m = serde_json::Map::new();
                m.insert("metadata".into(), md.into());
                Some(Box::new(m))
            }
            _ => None,
        };
        self.rest.anomaly_with(a, extra);
    }
}

impl Engine {
    /// Builds every stage from `cfg`.
    pub fn new(cfg: Config) -> Engine {
        let detect = (cfg.behaviour && cfg.detectors)
            .then(|| Detectors::new(cfg.detect.clone(), cfg.home_net.clone()));
        let correlate = cfg
            .behaviour
            .then(|| Correlator::new(cfg.correlate.clone()));
        let rules = cfg.rules.clone().filter(|r| !r.is_empty());
        let rules_loaded = rules.is_some();
        let mut proto_cfg = cfg.proto.clone();
        if cfg.flow.delivery == Delivery::OnAck {
            // Data arrives as acknowledged: parsers need not delay their logs
            // to Suricata's timing themselves.
            proto_cfg.smtp.defer_log = false;
        }
        Engine {
            flows: FlowTable::new(cfg.flow.clone()),
            stages: Stages {
                proto: Proto::new(proto_cfg),
                rest: Rest {
                    rules,
                    detect,
                    correlate,
                    pending: Vec::with_capacity(64),
                    meta: RecordMeta::default(),
                    alert_extra: None,
                    want_records: cfg.app_records,
                    want_events: cfg.behaviour || rules_loaded,
                    alerts: Vec::new(),
                    notices: Vec::new(),
                    verdicts: Vec::new(),
                    summary: Summary::default(),
                    counters: [0; ctr::COUNT],
                },
                home_net: cfg.home_net.clone(),
                end_release: EndRelease::default(),
                on_ack: cfg.flow.delivery == Delivery::OnAck,
                rst: false,
                flowbits_now: (FlowId(0), Vec::new()),
                capture: None,
            },
            last_tick_secs: i64::MIN,
            tick_from: i64::MAX,
            tick_until: i64::MIN,
        }
    }

    /// Processes one frame; records it causes are written to `sink`.
    pub fn process(&mut self, frame: &RawFrame<'_>, sink: &mut dyn Sink) -> io::Result<()> {
        let st = &mut self.stages;
        let rest = &mut st.rest;
        let s = &mut rest.summary;
        s.packets += 1;
        s.bytes += frame.data.len() as u64;
        if s.first_ts.is_none() {
            s.first_ts = Some(frame.ts);
        }
        s.last_ts = Some(frame.ts);
        rest.meta = RecordMeta {
            pcap_cnt: Some(s.packets),
            linktype: Some(frame.link_type.0),
            pkt_src: Some("wire/pcap"),
        };
        if frame.is_truncated() {
            rest.count(ctr::TRUNCATED_FRAMES, 1);
        }
        // A new second of capture time: packet time left the second of the
        // last tick (a range test instead of a division per packet).
        let ns = frame.ts.0;
        if ns < self.tick_from || ns >= self.tick_until {
            let secs = frame.ts.secs();
            self.tick_from = secs.saturating_mul(NANOS_PER_SEC);
            self.tick_until = self.tick_from.saturating_add(NANOS_PER_SEC);
            if secs != self.last_tick_secs {
                self.last_tick_secs = secs;
                if rest.detect.is_some() {
                    rest.detect_tick(frame.ts);
                }
            }
        }

        let first_new = self.stages.rest.pending.len();
        let mut pkt = Decoded::default();
        decode_frame_into(
            &mut pkt,
            LinkType(frame.link_type.0),
            frame.data,
            frame.orig_len,
        );
        self.note_decode(frame, &pkt);
        let ip = match (&pkt.l3, &pkt.l4) {
            // The common frame: for the flow table.
            (L3::Ipv4(_), L4::Tcp(_) | L4::Udp(_)) => Some(false),
            (L3::Ipv4(_) | L3::Ipv6(_), _) => {
                let fragment = match &pkt.l3 {
                    L3::Ipv4(v) => v.is_fragment(),
                    L3::Ipv6(v) => v.frag.is_some(),
                    _ => false,
                };
                Some(
                    !fragment
                        && match pkt.l4 {
                            L4::None => true,
                            L4::Other(p) => matches!(p, 1 | 6 | 17 | 58),
                            _ => false,
                        },
                )
            }
            _ => None,
        };
        if let Some(flowless) = ip {
            if flowless {
                // A transport header too broken to key a flow: header-only rules
                // still see the packet (Suricata alerts on such packets too).
                self.match_flowless(frame, &pkt);
            } else {
                self.flows.process_frame(
                    frame.ts,
                    frame.orig_len,
                    frame.data,
                    &pkt,
                    &mut self.stages,
                );
            }
        }
        if self.stages.rest.pending.len() > first_new {
            self.label_alerts(frame, &pkt, first_new);
        }
        self.flush(sink)
    }

    /// Alerts raised by this frame carry it (EVE `packet`) — the datagram it
    /// completed, with the first fragment's link header, when it completed
    /// one; copied only for alerts.
    #[inline(never)]
    fn label_alerts(&mut self, frame: &RawFrame<'_>, pkt: &Decoded<'_>, first_new: usize) {
        let reassembled = self.flows.reassembled_frame();
        let shown = if reassembled.is_empty() {
            frame.data
        } else {
            reassembled
        };
        // They also carry the packet's VLAN ids (EVE `vlan`), as Suricata's do.
        let vlans: Vec<serde_json::Value> = pkt
            .vlan
            .iter()
            .take(usize::from(pkt.vlan_count.min(2)))
            .map(|&v| v.into())
            .collect();
        for (rec, _, extra) in self.stages.rest.pending.iter_mut().skip(first_new) {
            if let OutputRecord::Alert(a) = rec {
                if a.packet.as_ref().is_none_or(|p| p.is_empty()) {
                    a.packet = Some(shown.to_vec());
                }
                if !vlans.is_empty() {
                    extra
                        .get_or_insert_default()
                        .insert("vlan".into(), vlans.clone().into());
                }
            }
        }
    }

    #[inline(never)]
    fn match_flowless(&mut self, frame: &RawFrame<'_>, pkt: &Decoded<'_>) {
        let rest = &mut self.stages.rest;
        if let Some(rs) = rest.rules.clone() {
            let input = PacketInput {
                ts: frame.ts,
                pkt,
                frame: frame.data,
                flow: None,
            };
            rs.match_packet(&input, None, &mut rest.alerts);
            rest.drain_findings();
        }
    }

    fn note_decode(&mut self, frame: &RawFrame<'_>, pkt: &Decoded<'_>) {
        let rest = &mut self.stages.rest;
        // The common frame first: two counters.
        if let (L3::Ipv4(_), L4::Tcp(_)) = (&pkt.l3, &pkt.l4) {
            rest.count(ctr::IPV4, 1);
            rest.count(ctr::TCP, 1);
        } else {
            match &pkt.l3 {
                L3::Ipv4(_) => rest.count(ctr::IPV4, 1),
                L3::Ipv6(_) => rest.count(ctr::IPV6, 1),
                L3::Arp => rest.count(ctr::ARP, 1),
                L3::Other(_) => rest.count(ctr::OTHER_ETHERTYPE, 1),
                L3::None => rest.count(ctr::UNDECODED, 1),
            }
            match &pkt.l4 {
                L4::Tcp(_) => rest.count(ctr::TCP, 1),
                L4::Udp(_) => rest.count(ctr::UDP, 1),
                L4::Icmp(i) if i.v6 => rest.count(ctr::ICMPV6, 1),
                L4::Icmp(_) => rest.count(ctr::ICMPV4, 1),
                L4::Fragment => rest.count(ctr::IP_FRAGMENTS, 1),
                L4::Other(_) => rest.count(ctr::OTHER_IP_PROTO, 1),
                L4::None => {}
            }
        }
        if pkt.vlan_count > 0 {
            rest.count(ctr::VLAN, 1);
        }
        if pkt.tunnel_depth > 0 {
            rest.count(ctr::TUNNELLED, 1);
        }
        if !pkt.anomalies.is_empty() {
            self.decode_anomalies(frame, pkt);
        }
    }

    /// The frame's decode anomalies as records (out of the per-packet path:
    /// most frames have none).
    #[cold]
    #[inline(never)]
    fn decode_anomalies(&mut self, frame: &RawFrame<'_>, pkt: &Decoded<'_>) {
        let rest = &mut self.stages.rest;
        let endpoints = pkt.l3.addrs().map(|(src, dst)| {
            let (sp, dp) = pkt.l4.ports().unwrap_or((0, 0));
            Endpoints {
                src,
                dst,
                src_port: sp,
                dst_port: dp,
                proto: IpProto(pkt.l3.proto().unwrap_or(0)),
            }
        });
        for an in pkt.anomalies.iter() {
            let mut a = Anomaly::new(frame.ts, AnomalyType::Decode, an.name());
            a.endpoints = endpoints;
            rest.anomaly(a);
        }
    }

    fn flush(&mut self, sink: &mut dyn Sink) -> io::Result<()> {
        flush_pending(&mut self.stages.rest.pending, sink)
    }

    /// Ends the run: flushes reassembly, ends every flow, lets the detectors and
    /// the correlator conclude, writes verdicts, incidents and the `stats` record.
    pub fn finish(mut self, sink: &mut dyn Sink) -> io::Result<Summary> {
        self.stages.rest.meta = RecordMeta::default();
        // Room for a batch of flow records at once (growing the queue up to it
        // copied every record several times).
        let batch = self.flows.active_flows().min(FINISH_BATCH);
        let pending = &mut self.stages.rest.pending;
        pending.reserve(batch.saturating_add(64).saturating_sub(pending.len()));
        // Records of the flows ended so far are written every `FINISH_BATCH` flows,
        // so a million flows ending here never hold a million records at once.
        self.flows
            .finish_in_batches(&mut self.stages, FINISH_BATCH, |st| {
                flush_pending(&mut st.rest.pending, sink)
            })?;
        let end = self.stages.rest.summary.last_ts.unwrap_or_default();
        let rest = &mut self.stages.rest;
        if let Some(d) = &mut rest.detect {
            d.finish(end, &mut rest.notices);
        }
        rest.drain_findings();
        if let Some(mut c) = rest.correlate.take() {
            let conclusion = c.finish(end);
            for v in conclusion.verdicts {
                rest.emit(OutputRecord::Verdict(v));
            }
            for i in &conclusion.incidents {
                rest.emit(OutputRecord::Incident(i.clone()));
            }
            rest.summary.verdicts = conclusion.current;
            rest.summary.incidents = conclusion.incidents;
            rest.summary.edges = conclusion.edges;
            rest.summary.evidence = c.evidence().cloned().collect();
        }
        let stats = self.stats();
        self.stages.rest.summary.stats = stats.clone();
        self.stages.rest.emit(OutputRecord::Stats(stats));
        self.flush(sink)?;
        sink.finish()?;
        Ok(std::mem::take(&mut self.stages.rest.summary))
    }

    /// Every counter of every stage, as the `stats` record holds them.
    pub fn stats(&self) -> Stats {
        let rest = &self.stages.rest;
        let mut s = Stats {
            ts: rest.summary.last_ts.unwrap_or_default(),
            counters: Vec::new(),
        };
        s.add("decoder.pkts", rest.summary.packets);
        s.add("decoder.bytes", rest.summary.bytes);
        for (k, v) in COUNTER_NAMES.iter().zip(rest.counters.iter()) {
            s.add(k, *v);
        }
        for (k, v) in self.flows.counters() {
            s.add(k, v);
        }
        for (k, v) in self.stages.proto.counters() {
            s.add(k, v);
        }
        if let Some(d) = &rest.detect {
            for (k, v) in d.counters() {
                s.add(k, v);
            }
        }
        for (p, n) in &rest.summary.protocols {
            s.add(&format!("app_layer.flow.{p}"), *n);
        }
        s.add("detect.alert", rest.summary.alerts);
        s.add("detect.notice", rest.summary.notices);
        s
    }

    /// Declares that the frames handed to [`Engine::process`] from now on are
    /// slices of `capture` (e.g. an `Arc<CaptureFile>`), unchanged while the
    /// engine lives: TCP reassembly then refers to delivered bytes it keeps for
    /// retransmission checks, and raw stream inspection to its window's
    /// bytes, instead of copying them. Optional; frames from elsewhere are
    /// handled as before.
    pub fn attach_capture(&mut self, capture: stormwatch_flow::Backing) {
        self.stages.capture = Some(capture.clone());
        self.flows.add_backing(capture);
    }

    /// Figures so far.
    pub fn summary(&self) -> &Summary {
        &self.stages.rest.summary
    }

    /// `HOME_NET` in use.
    pub fn home_net(&self) -> &stormwatch_model::NetSet {
        &self.stages.home_net
    }
}
