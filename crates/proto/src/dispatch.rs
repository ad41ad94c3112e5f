//! Per-flow dispatch: identification by content in both directions, parser
//! life cycle (confirm, violation → re-identify, upgrade, done), data-channel
//! expectations and the masquerade judgement.

use crate::api::{DatagramParser, ParseStatus, ProbeResult, ProtoSink, StreamParser};
use crate::config::{ProtoConfig, Transport};
use crate::registry::{DATAGRAM_PROTOS, DatagramProto, STREAM_PROTOS, StreamProto};
use rustc_hash::FxHashMap;
use std::collections::VecDeque;
use std::net::IpAddr;
use stormwatch_model::{
    Anomaly, AnomalyType, AppContext, AppEvent, AppProto, AppRecord, Direction, FtpEvent, IpProto,
    StreamData, Timestamp, TxView,
};

/// Number of [`AppProto`] variants (for per-protocol counters).
const NPROTO: usize = 14;

fn proto_index(p: AppProto) -> usize {
    match p {
        AppProto::Unknown => 0,
        AppProto::Failed => 1,
        AppProto::Http => 2,
        AppProto::Tls => 3,
        AppProto::Pct => 4,
        AppProto::Dns => 5,
        AppProto::Ssh => 6,
        AppProto::Ftp => 7,
        AppProto::FtpData => 8,
        AppProto::Smtp => 9,
        AppProto::Irc => 10,
        AppProto::Tftp => 11,
        AppProto::Pop3 => 12,
        AppProto::Imap => 13,
    }
}

const ALL_PROTOS: [AppProto; NPROTO] = [
    AppProto::Unknown,
    AppProto::Failed,
    AppProto::Http,
    AppProto::Tls,
    AppProto::Pct,
    AppProto::Dns,
    AppProto::Ssh,
    AppProto::Ftp,
    AppProto::FtpData,
    AppProto::Smtp,
    AppProto::Irc,
    AppProto::Tftp,
    AppProto::Pop3,
    AppProto::Imap,
];

/// Counters of the protocol stage.
#[derive(Clone, Debug, Default)]
struct Counters {
    detected: [u64; NPROTO],
    bailout: u64,
    gap_during_detect: u64,
    mismatch: u64,
    masquerade: u64,
    violations: u64,
    reidentified: u64,
    upgrades: u64,
    expect_added: u64,
    expect_matched: u64,
    expect_evicted: u64,
    expect_expired: u64,
}

/// What a data connection was announced by.
#[derive(Clone, Debug, PartialEq, Eq)]
enum ExpectKind {
    Ftp,
    /// An IRC DCC SEND offer with its file name.
    DccSend(String),
    /// A TFTP request: the transfer comes from a new server port.
    Tftp(Option<String>),
}

#[derive(Clone, Debug)]
struct Expectation {
    kind: ExpectKind,
    created: Timestamp,
    seq: u64,
}

/// The protocol stage: configuration, the registry filtered by it, pending
/// data-channel expectations and counters. One per engine (or per shard).
pub struct Proto {
    cfg: ProtoConfig,
    tcp: Vec<StreamProto>,
    udp: Vec<DatagramProto>,
    expect: FxHashMap<(IpAddr, u16), Expectation>,
    expect_order: VecDeque<((IpAddr, u16), u64)>,
    expect_seq: u64,
    counters: Counters,
}

impl std::fmt::Debug for Proto {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Proto")
            .field("tcp", &self.tcp)
            .field("udp", &self.udp)
            .field("expectations", &self.expect.len())
            .finish()
    }
}

// FlowApp flags.
const F_DONE: u8 = 1;
const F_MASQUERADE: u8 = 2;
const F_EXPECTED: u8 = 4;
const F_ANNOUNCE: u8 = 8;
const F_MISMATCH: u8 = 16;
/// Bit `F_SKIP << dir.index()`: that direction names another protocol than the
/// flow's parser; its data is not fed to it.
const F_SKIP: u8 = 32;

/// Per-flow protocol state. Small when idle (16 bytes: names and flags inline,
/// everything else boxed and freed as soon as the flow needs no more parsing).
#[derive(Default)]
pub struct FlowApp {
    proto: AppProto,
    dir_proto: [AppProto; 2],
    orig: AppProto,
    flags: u8,
    /// `S_*` bits: how the flow's sides relate to the engine's orientation.
    side: u8,
    state: Option<Box<AppState>>,
}

/// `FlowApp::side`: the TCP session was picked up without its handshake.
const S_MIDSTREAM: u8 = 1;
/// `FlowApp::side`: identification found the engine's client to be the server
/// (a midstream pickup that began with the server's data); every direction and
/// endpoint the engine gives is flipped before use.
const S_REVERSED: u8 = 2;

impl std::fmt::Debug for FlowApp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FlowApp")
            .field("proto", &self.proto)
            .field("dir_proto", &self.dir_proto)
            .field("orig", &self.orig)
            .field("flags", &self.flags)
            .field("side", &self.side)
            .field("active", &self.state.is_some())
            .finish()
    }
}

#[derive(Default)]
struct AppState {
    detect: Option<Detect>,
    stream: Option<Box<dyn StreamParser + Send>>,
    dgram: Option<Box<dyn DatagramParser + Send>>,
    reidentify: u8,
    /// Protocol before a violation started re-identification.
    prev: AppProto,
}

#[derive(Copy, Clone, Debug, PartialEq, Eq)]
enum DirState {
    Probing,
    Found(AppProto),
    Failed,
}

struct Detect {
    bufs: [Vec<u8>; 2],
    /// Arrival order of the buffered bytes (for replay into a new parser).
    log: Vec<(Direction, u32)>,
    chunks: [u32; 2],
    state: [DirState; 2],
    /// Replay log still valid (no parser fed yet since detection started).
    replay: bool,
}

impl Detect {
    fn new() -> Detect {
        Detect {
            bufs: [Vec::new(), Vec::new()],
            log: Vec::new(),
            chunks: [0, 0],
            state: [DirState::Probing, DirState::Probing],
            replay: true,
        }
    }
}

impl FlowApp {
    /// The flow's application protocol (EVE `flow.app_proto`): the first protocol
    /// identified (or the one a STARTTLS-like upgrade switched to); `failed` when
    /// identification gave up; `unknown` while undecided.
    pub fn app_proto(&self) -> AppProto {
        self.proto
    }

    /// The EVE object of transaction `tx_id` of the flow's stream parser as
    /// it stands (see [`StreamParser::tx_object`]).
    pub fn tx_object(&self, tx_id: u64) -> Option<(&'static str, serde_json::Value)> {
        self.state.as_ref()?.stream.as_ref()?.tx_object(tx_id)
    }

    /// The protocol identified in one direction (EVE `app_proto_ts` /
    /// `app_proto_tc`, written when it differs from [`FlowApp::app_proto`]).
    /// A direction that carried nothing recognisable takes the flow's protocol.
    pub fn app_proto_dir(&self, dir: Direction) -> AppProto {
        let p = self.dir_proto[dir.index()];
        if p == AppProto::Unknown && self.proto.is_known() && self.state.is_none() {
            self.proto
        } else {
            p
        }
    }

    /// The protocol before an upgrade (EVE `app_proto_orig`), `unknown` if none.
    pub fn app_proto_orig(&self) -> AppProto {
        self.orig
    }

    /// True when the flow's protocol runs on a server port registered to another
    /// protocol.
    pub fn masquerade(&self) -> bool {
        self.flags & F_MASQUERADE != 0
    }

    /// True while the flow still needs protocol work (identification or parsing).
    pub fn is_active(&self) -> bool {
        self.flags & F_DONE == 0
    }

    /// Tells the stage the TCP session was picked up midstream (its first packet
    /// carried no SYN). Such a flow's first data may come from the server: when
    /// only a server-side probe names it, the flow is reversed (as Suricata
    /// swaps such flows after protocol detection).
    pub fn set_midstream(&mut self) {
        self.side |= S_MIDSTREAM;
    }

    /// True when identification found that the engine's client is the server:
    /// [`FlowApp::app_proto_dir`] and everything the stage reports already use
    /// the true orientation; the engine flips its own per-flow facts (flow
    /// record, rule direction) for such flows.
    pub fn reversed(&self) -> bool {
        self.side & S_REVERSED != 0
    }

    /// `ctx` in the flow's true orientation.
    fn oriented(&self, ctx: &AppContext) -> AppContext {
        if self.reversed() {
            AppContext {
                dir: ctx.dir.flip(),
                key: ctx.key.reversed(),
                ..*ctx
            }
        } else {
            *ctx
        }
    }
}

/// A sink wrapper that notes data-channel announcements on their way through.
struct Tap<'a> {
    inner: &'a mut dyn ProtoSink,
    expects: Vec<(IpAddr, u16, ExpectKind)>,
}

impl ProtoSink for Tap<'_> {
    fn event(&mut self, ctx: &AppContext, ev: AppEvent) {
        match &ev {
            AppEvent::Ftp(FtpEvent::DataExpected { addr, port }) => {
                self.expects.push((*addr, *port, ExpectKind::Ftp));
            }
            AppEvent::Irc(e) => {
                if let Some(dcc) = e.ctcp.as_ref().and_then(|c| c.dcc.as_ref())
                    && dcc.kind.eq_ignore_ascii_case("SEND")
                    && dcc.port != 0
                    && let Some(addr) = dcc.addr
                {
                    self.expects
                        .push((addr, dcc.port, ExpectKind::DccSend(dcc.argument.clone())));
                }
            }
            _ => {}
        }
        self.inner.event(ctx, ev);
    }
    fn record(&mut self, rec: AppRecord) {
        self.inner.record(rec);
    }
    fn anomaly(&mut self, a: Anomaly) {
        self.inner.anomaly(a);
    }
    fn tx(&mut self, ctx: &AppContext, tx: &dyn TxView) {
        self.inner.tx(ctx, tx);
    }
    fn wants_events(&self) -> bool {
        self.inner.wants_events()
    }
    fn wants_events_of(&self, proto: AppProto) -> bool {
        self.inner.wants_events_of(proto)
    }
    fn wants_server_events_of(&self, proto: AppProto) -> bool {
        self.inner.wants_server_events_of(proto)
    }
    fn wants_records(&self) -> bool {
        self.inner.wants_records()
    }
    fn wants_irc_message(
        &mut self,
        ctx: &AppContext,
        command: &[u8],
        nick: Option<&str>,
        channels: &[(String, Option<String>)],
    ) -> bool {
        self.inner.wants_irc_message(ctx, command, nick, channels)
    }
    fn wants_http_request(&mut self, ctx: &AppContext, uri: &[u8], user_agent: &[u8]) -> bool {
        self.inner.wants_http_request(ctx, uri, user_agent)
    }
    fn wants_txs(&self) -> bool {
        self.inner.wants_txs()
    }
}

fn detect_anomaly(ctx: &AppContext, proto: AppProto, event: &'static str) -> Anomaly {
    let mut a = Anomaly::new(ctx.ts, AnomalyType::Applayer, event);
    a.layer = Some("proto_detect".into());
    a.app_proto = Some(proto);
    a.flow_id = Some(ctx.flow_id);
    a.endpoints = Some(crate::api::endpoints(ctx));
    a
}

fn transport(p: IpProto) -> Transport {
    if p == IpProto::UDP {
        Transport::Udp
    } else {
        Transport::Tcp
    }
}

/// Line-based command protocols whose client verbs overlap (FTP/POP3 `USER`,
/// `PASS`; SMTP/FTP/POP3 `QUIT`; IRC `PASS`/`USER`).
fn confusable(a: AppProto, b: AppProto) -> bool {
    use AppProto::*;
    let text = |p| matches!(p, Ftp | Smtp | Pop3 | Imap | Irc);
    text(a) && text(b)
}

enum Probe {
    Found(AppProto),
    Pending,
    Failed,
}

impl Proto {
    /// A protocol stage with the given settings.
    pub fn new(cfg: ProtoConfig) -> Proto {
        let tcp = STREAM_PROTOS
            .iter()
            .filter(|p| !cfg.detect.disabled_tcp.contains(&p.proto))
            .copied()
            .collect();
        let udp = DATAGRAM_PROTOS
            .iter()
            .filter(|p| !cfg.detect.disabled_udp.contains(&p.proto))
            .copied()
            .collect();
        Proto {
            cfg,
            tcp,
            udp,
            expect: FxHashMap::default(),
            expect_order: VecDeque::new(),
            expect_seq: 0,
            counters: Counters::default(),
        }
    }

    /// The settings in force.
    pub fn config(&self) -> &ProtoConfig {
        &self.cfg
    }

    /// First packet of a flow: a flow announced by another flow (FTP data
    /// connection, IRC DCC transfer) is identified from that announcement.
    pub fn on_flow_start(&mut self, ctx: &AppContext, app: &mut FlowApp) {
        if self.expect.is_empty() {
            return;
        }
        let key = (ctx.key.dst, ctx.key.dst_port);
        let Some(e) = self.expect.remove(&key) else {
            return;
        };
        if ctx.ts.nanos_since(e.created)
            > self
                .cfg
                .detect
                .expectation_timeout_secs
                .saturating_mul(1_000_000_000)
        {
            self.counters.expect_expired += 1;
            return;
        }
        self.counters.expect_matched += 1;
        if let ExpectKind::Tftp(name) = &e.kind {
            app.proto = AppProto::Tftp;
            app.dir_proto = [AppProto::Tftp; 2];
            app.flags |= F_EXPECTED | F_ANNOUNCE;
            self.counters.detected[proto_index(AppProto::Tftp)] += 1;
            let st = app.state.get_or_insert_with(Box::default);
            st.dgram = Some(Box::new(crate::tftp::TftpParser::for_transfer(
                &self.cfg,
                name.as_deref(),
            )));
            return;
        }
        app.proto = AppProto::FtpData;
        app.dir_proto = [AppProto::FtpData; 2];
        app.flags |= F_EXPECTED | F_ANNOUNCE;
        self.counters.detected[proto_index(AppProto::FtpData)] += 1;
        let parser: Option<Box<dyn StreamParser + Send>> = match &e.kind {
            ExpectKind::DccSend(name) => Some(Box::new(crate::ftp::FtpDataParser::with_context(
                &self.cfg,
                Some("DCC SEND"),
                Some(name),
            ))),
            ExpectKind::Ftp => crate::registry::data_channel_maker().map(|make| make(&self.cfg)),
            ExpectKind::Tftp(_) => None,
        };
        match parser {
            Some(p) => {
                let st = app.state.get_or_insert_with(Box::default);
                st.stream = Some(p);
            }
            None => {
                // Nothing parses data connections: the flow is named, not parsed.
                app.flags |= F_DONE;
            }
        }
    }

    fn add_expectations(&mut self, ts: Timestamp, list: Vec<(IpAddr, u16, ExpectKind)>) {
        for (addr, port, kind) in list {
            let limit = self.cfg.detect.max_expectations;
            if limit == 0 {
                self.counters.expect_evicted += 1;
                continue;
            }
            while self.expect.len() >= limit {
                match self.expect_order.pop_front() {
                    Some((k, seq)) => {
                        if self.expect.get(&k).is_some_and(|e| e.seq == seq) {
                            self.expect.remove(&k);
                            self.counters.expect_evicted += 1;
                        }
                    }
                    None => break,
                }
            }
            self.expect_seq += 1;
            let seq = self.expect_seq;
            self.expect.insert(
                (addr, port),
                Expectation {
                    kind,
                    created: ts,
                    seq,
                },
            );
            self.expect_order.push_back(((addr, port), seq));
            // Keep the order queue bounded too (stale entries of replaced keys).
            if self.expect_order.len() > limit.saturating_mul(2) {
                let expect = &self.expect;
                self.expect_order
                    .retain(|(k, s)| expect.get(k).is_some_and(|e| e.seq == *s));
            }
            self.counters.expect_added += 1;
        }
    }

    fn probe_order<'a, T: Copy>(
        &'a self,
        list: &'a [T],
        proto_of: fn(&T) -> AppProto,
        ctx: &AppContext,
    ) -> impl Iterator<Item = &'a T> + 'a {
        // Protocols whose detection port or registered port is the flow's server
        // port go first; content still decides.
        let tr = transport(ctx.key.proto);
        let port = ctx.key.dst_port;
        let hinted: Vec<AppProto> = self
            .cfg
            .detect
            .detection_ports
            .iter()
            .filter(|d| d.transport == tr && d.port == port)
            .map(|d| d.proto)
            .chain(
                crate::ports::registered(tr, port)
                    .map(|r| r.protos)
                    .unwrap_or(&[])
                    .iter()
                    .copied(),
            )
            .collect();
        let hinted2 = hinted.clone();
        let ports = [ctx.key.dst_port, ctx.key.src_port];
        let det = &self.cfg.detect;
        let allowed = move |p: &&'a T| det.port_allows(proto_of(p), tr, ports);
        list.iter()
            .filter(move |p| hinted.contains(&proto_of(p)))
            .chain(list.iter().filter(move |p| !hinted2.contains(&proto_of(p))))
            .filter(allowed)
    }

    fn probe_stream(&self, ctx: &AppContext, data: &[u8], at_limit: bool) -> Probe {
        let mut pending = false;
        let mut first_match = None;
        for p in self.probe_order(&self.tcp, |p| p.proto, ctx) {
            match (p.probe)(ctx.dir, data) {
                ProbeResult::Match => {
                    if !pending {
                        return Probe::Found(p.proto);
                    }
                    if first_match.is_none() {
                        first_match = Some(p.proto);
                    }
                }
                ProbeResult::NeedMore => pending = true,
                ProbeResult::NoMatch => {}
            }
        }
        match (first_match, pending, at_limit) {
            (Some(p), _, true) => Probe::Found(p),
            (_, true, false) => Probe::Pending,
            _ => Probe::Failed,
        }
    }

    fn set_flow_proto(
        &mut self,
        ctx: &AppContext,
        app: &mut FlowApp,
        p: AppProto,
        sink: &mut dyn ProtoSink,
    ) {
        app.proto = p;
        self.counters.detected[proto_index(p)] += 1;
        let mut masq = false;
        if self.cfg.detect.masquerade && app.flags & F_EXPECTED == 0 {
            let tr = transport(ctx.key.proto);
            if let Some(reg) = crate::ports::masquerade(tr, ctx.key.dst_port, p) {
                masq = true;
                app.flags |= F_MASQUERADE;
                self.counters.masquerade += 1;
                let mut a = detect_anomaly(ctx, p, "applayer.masquerade");
                // The flow's endpoints, client → server.
                let mut sctx = *ctx;
                sctx.dir = Direction::ToServer;
                a.endpoints = Some(crate::api::endpoints(&sctx));
                a.detail = Some(format!(
                    "{} on {}/{}, registered to {}",
                    p.as_str(),
                    match tr {
                        Transport::Tcp => "tcp",
                        Transport::Udp => "udp",
                    },
                    ctx.key.dst_port,
                    reg.service
                ));
                sink.anomaly(a);
            }
        }
        sink.event(
            ctx,
            AppEvent::ProtoDetected {
                proto: p,
                masquerade: masq,
            },
        );
    }

    /// In-order stream data (or a gap) of direction `ctx.dir`.
    pub fn on_stream(
        &mut self,
        ctx: &AppContext,
        app: &mut FlowApp,
        data: StreamData<'_>,
        sink: &mut dyn ProtoSink,
    ) {
        if app.flags & F_DONE != 0 {
            return;
        }
        // Copied only when the flow was turned round (most chunks: not).
        let turned;
        let ctx = if app.reversed() {
            turned = app.oriented(ctx);
            &turned
        } else {
            ctx
        };
        if app.flags & F_ANNOUNCE != 0 {
            app.flags &= !F_ANNOUNCE;
            sink.event(
                ctx,
                AppEvent::ProtoDetected {
                    proto: app.proto,
                    masquerade: false,
                },
            );
        }
        let mut tap = Tap {
            inner: sink,
            expects: Vec::new(),
        };
        // The common chunk: both directions identified (probe buffers freed),
        // the parser built, this direction parsed. What `stream_inner` would do
        // for it, without its identification steps.
        let d = ctx.dir.index();
        if app.flags & (F_SKIP << d) == 0
            && let Some(st) = app.state.as_mut()
            && st.detect.is_none()
            && let Some(parser) = st.stream.as_mut()
        {
            let status = parser.parse(ctx, data, &mut tap);
            if !matches!(status, ParseStatus::Ok) {
                self.after_parse(ctx, app, status, data, &mut tap);
            }
        } else {
            self.stream_inner(ctx, app, data, &mut tap);
        }
        if !tap.expects.is_empty() {
            let list = std::mem::take(&mut tap.expects);
            self.add_expectations(ctx.ts, list);
        }
    }

    /// Identification, then parsing: every chunk but the common one (see
    /// [`Proto::on_stream`]).
    fn stream_inner(
        &mut self,
        ctx: &AppContext,
        app: &mut FlowApp,
        data: StreamData<'_>,
        sink: &mut dyn ProtoSink,
    ) {
        let mut ctx_buf = *ctx;
        let mut ctx = &ctx_buf;
        let mut d = ctx.dir.index();
        let st = app.state.get_or_insert_with(|| {
            Box::new(AppState {
                detect: Some(Detect::new()),
                ..AppState::default()
            })
        });
        let mut replayed = false;
        // The chunk named the protocol without being buffered (see below).
        let mut direct = false;
        // 1. Identification of this direction.
        let probing = st
            .detect
            .as_ref()
            .is_some_and(|det| det.state[d] == DirState::Probing);
        if probing {
            let outcome = match data {
                StreamData::Gap(_) => {
                    self.counters.gap_during_detect += 1;
                    Probe::Failed
                }
                StreamData::Bytes([]) => Probe::Pending,
                StreamData::Bytes(b) => {
                    let limit = self.cfg.detect.max_detect_bytes;
                    let max_chunks = self.cfg.detect.max_detect_chunks;
                    let det = match st.detect.as_mut() {
                        Some(det) => det,
                        None => return,
                    };
                    let room = limit.saturating_sub(det.bufs[d].len());
                    let take = b.len().min(room);
                    det.chunks[d] = det.chunks[d].saturating_add(1);
                    // Nothing buffered yet in either direction: probe the chunk
                    // where it lies, and buffer it only when it does not name the
                    // protocol at once (the parser then reads it directly).
                    let first = det.bufs[0].is_empty() && det.bufs[1].is_empty();
                    // A midstream pickup whose first data may be the server's: left
                    // to the general path below, which can turn the flow round.
                    let may_turn = app.side & (S_MIDSTREAM | S_REVERSED) == S_MIDSTREAM
                        && ctx.dir == Direction::ToServer
                        && det.chunks[1] == 0
                        && !app.proto.is_known()
                        && st.stream.is_none();
                    let early = if first {
                        let at_limit = take >= limit || det.chunks[d] >= max_chunks;
                        match self.probe_stream(ctx, &b[..take], at_limit) {
                            Probe::Found(p) if !may_turn || !server_side(p, &b[..take]) => Some(p),
                            _ => None,
                        }
                    } else {
                        None
                    };
                    if let Some(p) = early {
                        direct = true;
                        Probe::Found(p)
                    } else {
                        det.bufs[d].extend_from_slice(&b[..take]);
                        if det.replay {
                            if take < b.len() {
                                // The replay log can no longer hold everything.
                                det.replay = false;
                            } else {
                                det.log
                                    .push((ctx.dir, u32::try_from(take).unwrap_or(u32::MAX)));
                            }
                        }
                        let at_limit = det.bufs[d].len() >= limit || det.chunks[d] >= max_chunks;
                        let mut r = self.probe_stream(ctx, &det.bufs[d], at_limit);
                        // A midstream pickup whose first data is the server's: named
                        // only by a server-side probe, the flow turns round.
                        let named_client = match r {
                            Probe::Found(p) => !server_side(p, &det.bufs[d]),
                            _ => false,
                        };
                        if !named_client && may_turn {
                            let mut flipped = *ctx;
                            flipped.dir = Direction::ToClient;
                            flipped.key = ctx.key.reversed();
                            if let Probe::Found(p) =
                                self.probe_stream(&flipped, &det.bufs[d], at_limit)
                            {
                                app.side |= S_REVERSED;
                                det.bufs.swap(0, 1);
                                det.chunks.swap(0, 1);
                                det.state.swap(0, 1);
                                for (dir, _) in det.log.iter_mut() {
                                    *dir = dir.flip();
                                }
                                ctx_buf = flipped;
                                ctx = &ctx_buf;
                                d = ctx.dir.index();
                                r = Probe::Found(p);
                            }
                        }
                        match r {
                            Probe::Pending if at_limit => {
                                self.counters.bailout += 1;
                                Probe::Failed
                            }
                            other => other,
                        }
                    }
                }
            };
            match outcome {
                Probe::Pending => {}
                Probe::Failed => {
                    if let Some(det) = st.detect.as_mut() {
                        det.state[d] = DirState::Failed;
                        if !det.replay {
                            det.bufs[d] = Vec::new();
                        }
                    }
                    if app.proto.is_known() {
                        app.dir_proto[d] = app.proto;
                    } else {
                        app.dir_proto[d] = AppProto::Failed;
                    }
                }
                Probe::Found(p) => {
                    // Text command protocols share verbs (USER, PASS, QUIT...): a
                    // direction matching another of them is the flow's protocol.
                    let p = if app.proto.is_known() && confusable(app.proto, p) {
                        app.proto
                    } else {
                        p
                    };
                    if let Some(det) = st.detect.as_mut() {
                        det.state[d] = DirState::Found(p);
                        if !det.replay {
                            det.bufs[d] = Vec::new();
                        }
                    }
                    app.dir_proto[d] = p;
                    if st.stream.is_none() && !app.proto.is_known() {
                        // First identification: name the flow, build the parser
                        // and replay what was buffered, in arrival order.
                        self.set_flow_proto(ctx, app, p, sink);
                        let st = match app.state.as_mut() {
                            Some(s) => s,
                            None => return,
                        };
                        let mut parser = match crate::registry::stream_maker(p) {
                            Some(make) => make(&self.cfg),
                            None => {
                                app.flags |= F_DONE;
                                app.state = None;
                                return;
                            }
                        };
                        let mut status = ParseStatus::Ok;
                        if let Some(det) = st.detect.as_mut() {
                            if det.replay && !direct {
                                status = replay(det, ctx, parser.as_mut(), sink);
                                replayed = true;
                            }
                            det.replay = false;
                            det.log = Vec::new();
                            for (i, s) in det.state.iter().enumerate() {
                                if *s != DirState::Probing {
                                    det.bufs[i] = Vec::new();
                                }
                            }
                        }
                        st.stream = Some(parser);
                        if replayed {
                            self.after_parse(ctx, app, status, data, sink);
                        }
                    } else if app.proto.is_known()
                        && p != app.proto
                        && app.orig == AppProto::Unknown
                        && app.flags & F_MISMATCH == 0
                    {
                        app.flags |= F_MISMATCH | (F_SKIP << d);
                        self.counters.mismatch += 1;
                        sink.anomaly(detect_anomaly(
                            ctx,
                            app.proto,
                            "APPLAYER_MISMATCH_PROTOCOL_BOTH_DIRECTIONS",
                        ));
                    }
                }
            }
        }
        if app.flags & F_DONE != 0 {
            return;
        }
        let Some(st) = app.state.as_mut() else {
            return;
        };
        // Both directions failed before any parser: the flow is `failed`.
        if st.stream.is_none() {
            let both_failed = st.detect.as_ref().is_some_and(|det| {
                det.state[0] == DirState::Failed && det.state[1] == DirState::Failed
            });
            if both_failed {
                if st.prev.is_known() {
                    app.proto = st.prev;
                } else {
                    app.proto = AppProto::Failed;
                    self.counters.detected[proto_index(AppProto::Failed)] += 1;
                }
                app.flags |= F_DONE;
                app.state = None;
            }
            return;
        }
        // 2. Parsing (unless the replay above already fed this chunk, or this
        // direction speaks another protocol).
        if !replayed && app.flags & (F_SKIP << d) == 0 {
            let status = match st.stream.as_mut() {
                Some(parser) => parser.parse(ctx, data, sink),
                None => return,
            };
            if !matches!(status, ParseStatus::Ok) {
                self.after_parse(ctx, app, status, data, sink);
            }
        }
        // 3. Free the probe buffers once both directions are decided.
        if let Some(st) = app.state.as_mut()
            && st
                .detect
                .as_ref()
                .is_some_and(|det| det.state.iter().all(|s| *s != DirState::Probing))
        {
            st.detect = None;
        }
    }

    fn after_parse(
        &mut self,
        ctx: &AppContext,
        app: &mut FlowApp,
        status: ParseStatus,
        data: StreamData<'_>,
        sink: &mut dyn ProtoSink,
    ) {
        match status {
            ParseStatus::Ok => {}
            ParseStatus::Done => {
                if let Some(mut st) = app.state.take()
                    && let Some(mut p) = st.stream.take()
                {
                    p.close(ctx, sink);
                }
                app.flags |= F_DONE;
            }
            ParseStatus::Upgrade(p) => {
                self.counters.upgrades += 1;
                app.flags &= !(F_SKIP | (F_SKIP << 1) | F_MISMATCH);
                if app.orig == AppProto::Unknown {
                    app.orig = app.proto;
                }
                let Some(st) = app.state.as_mut() else {
                    return;
                };
                if let Some(mut old) = st.stream.take() {
                    old.close(ctx, sink);
                }
                if p.is_known() {
                    app.proto = p;
                    app.dir_proto = [p, p];
                    self.counters.detected[proto_index(p)] += 1;
                    sink.event(
                        ctx,
                        AppEvent::ProtoDetected {
                            proto: p,
                            masquerade: false,
                        },
                    );
                    st.detect = None;
                    match crate::registry::stream_maker(p) {
                        Some(make) => st.stream = Some(make(&self.cfg)),
                        None => {
                            app.flags |= F_DONE;
                            app.state = None;
                        }
                    }
                } else {
                    // Re-identify what follows, in both directions.
                    st.prev = app.proto;
                    app.proto = AppProto::Unknown;
                    app.dir_proto = [AppProto::Unknown; 2];
                    st.detect = Some(Detect::new());
                }
            }
            ParseStatus::Violation(reason) => {
                self.counters.violations += 1;
                let mut a = detect_anomaly(ctx, app.proto, "applayer.protocol_violation");
                a.layer = Some("proto_parser".into());
                a.detail = Some(reason.to_string());
                sink.anomaly(a);
                let Some(st) = app.state.as_mut() else {
                    return;
                };
                if let Some(mut old) = st.stream.take() {
                    old.close(ctx, sink);
                }
                if st.reidentify >= self.cfg.detect.max_reidentify {
                    app.flags |= F_DONE;
                    app.state = None;
                    return;
                }
                st.reidentify += 1;
                self.counters.reidentified += 1;
                app.flags &= !(F_SKIP | (F_SKIP << 1) | F_MISMATCH);
                st.prev = app.proto;
                app.proto = AppProto::Unknown;
                app.dir_proto = [AppProto::Unknown; 2];
                let mut det = Detect::new();
                if let StreamData::Bytes(b) = data {
                    // Probe from the chunk that broke the old parser on; the
                    // replay starts with it.
                    let take = b.len().min(self.cfg.detect.max_detect_bytes);
                    det.bufs[ctx.dir.index()].extend_from_slice(&b[..take]);
                    det.log
                        .push((ctx.dir, u32::try_from(take).unwrap_or(u32::MAX)));
                    det.chunks[ctx.dir.index()] = 1;
                }
                st.detect = Some(det);
            }
        }
    }

    /// One UDP datagram of direction `ctx.dir`.
    pub fn on_datagram(
        &mut self,
        ctx: &AppContext,
        app: &mut FlowApp,
        payload: &[u8],
        sink: &mut dyn ProtoSink,
    ) {
        if app.flags & F_DONE != 0 {
            return;
        }
        let ctx = &app.oriented(ctx);
        if app.flags & F_ANNOUNCE != 0 {
            app.flags &= !F_ANNOUNCE;
            sink.event(
                ctx,
                AppEvent::ProtoDetected {
                    proto: app.proto,
                    masquerade: false,
                },
            );
        }
        let mut tap = Tap {
            inner: sink,
            expects: Vec::new(),
        };
        self.datagram_inner(ctx, app, payload, &mut tap);
        if !tap.expects.is_empty() {
            let list = std::mem::take(&mut tap.expects);
            self.add_expectations(ctx.ts, list);
        }
    }

    fn datagram_inner(
        &mut self,
        ctx: &AppContext,
        app: &mut FlowApp,
        payload: &[u8],
        sink: &mut dyn ProtoSink,
    ) {
        let d = ctx.dir.index();
        let st = app.state.get_or_insert_with(|| {
            Box::new(AppState {
                detect: Some(Detect::new()),
                ..AppState::default()
            })
        });
        // Datagrams without payload say nothing about the protocol.
        let probing = !payload.is_empty()
            && st
                .detect
                .as_ref()
                .is_some_and(|det| det.state[d] == DirState::Probing);
        if probing {
            let mut found = None;
            for p in self.probe_order(&self.udp, |p| p.proto, ctx) {
                if (p.probe)(ctx.dir, payload) == ProbeResult::Match {
                    found = Some(*p);
                    break;
                }
            }
            let max = self.cfg.detect.max_detect_datagrams;
            let Some(det) = st.detect.as_mut() else {
                return;
            };
            det.chunks[d] = det.chunks[d].saturating_add(1);
            match found {
                Some(p) => {
                    det.state[d] = DirState::Found(p.proto);
                    app.dir_proto[d] = p.proto;
                    if st.dgram.is_none() && !app.proto.is_known() {
                        st.dgram = Some((p.make)(&self.cfg));
                        self.set_flow_proto(ctx, app, p.proto, sink);
                        if p.proto == AppProto::Tftp
                            && let Some(crate::tftp::parser::Packet::Request { file, .. }) =
                                crate::tftp::parser::parse_packet(payload)
                        {
                            // The server answers from a new port to the client's.
                            let (addr, port) = match ctx.dir {
                                Direction::ToServer => (ctx.key.src, ctx.key.src_port),
                                Direction::ToClient => (ctx.key.dst, ctx.key.dst_port),
                            };
                            let name = String::from_utf8_lossy(file).into_owned();
                            self.add_expectations(
                                ctx.ts,
                                vec![(addr, port, ExpectKind::Tftp(Some(name)))],
                            );
                        }
                    } else if app.proto.is_known()
                        && app.proto != p.proto
                        && app.flags & F_MISMATCH == 0
                    {
                        app.flags |= F_MISMATCH;
                        self.counters.mismatch += 1;
                        sink.anomaly(detect_anomaly(
                            ctx,
                            app.proto,
                            "APPLAYER_MISMATCH_PROTOCOL_BOTH_DIRECTIONS",
                        ));
                    }
                }
                None if det.chunks[d] >= max => {
                    det.state[d] = DirState::Failed;
                    app.dir_proto[d] = if app.proto.is_known() {
                        app.proto
                    } else {
                        AppProto::Failed
                    };
                }
                None => {}
            }
        }
        let Some(st) = app.state.as_mut() else {
            return;
        };
        if st.dgram.is_none() {
            let both_failed = st.detect.as_ref().is_some_and(|det| {
                det.state[0] == DirState::Failed && det.state[1] == DirState::Failed
            });
            if both_failed {
                app.proto = AppProto::Failed;
                self.counters.detected[proto_index(AppProto::Failed)] += 1;
                app.flags |= F_DONE;
                app.state = None;
            }
            return;
        }
        let status = match st.dgram.as_mut() {
            Some(p) => p.parse(ctx, payload, sink),
            None => return,
        };
        match status {
            ParseStatus::Ok | ParseStatus::Upgrade(_) => {}
            ParseStatus::Done => {
                if let Some(mut st) = app.state.take()
                    && let Some(mut p) = st.dgram.take()
                {
                    p.close(ctx, sink);
                }
                app.flags |= F_DONE;
            }
            ParseStatus::Violation(reason) => {
                self.counters.violations += 1;
                let mut a = detect_anomaly(ctx, app.proto, "applayer.protocol_violation");
                a.layer = Some("proto_parser".into());
                a.detail = Some(reason.to_string());
                sink.anomaly(a);
            }
        }
        if let Some(st) = app.state.as_mut()
            && st
                .detect
                .as_ref()
                .is_some_and(|det| det.state.iter().all(|s| *s != DirState::Probing))
        {
            st.detect = None;
        }
    }

    /// The flow ended: parsers flush what they hold (incomplete transactions,
    /// records not yet logged). The per-flow state is freed.
    pub fn on_flow_end(&mut self, ctx: &AppContext, app: &mut FlowApp, sink: &mut dyn ProtoSink) {
        let ctx = &app.oriented(ctx);
        if let Some(mut st) = app.state.take() {
            // Identification gave up on one side and the other said nothing
            // conclusive (no data, or too little): the flow is `failed`.
            if !app.proto.is_known()
                && !st.prev.is_known()
                && st.stream.is_none()
                && st.dgram.is_none()
                && st.detect.as_ref().is_some_and(|det| {
                    det.state.contains(&DirState::Failed)
                        && !det.state.iter().any(|s| matches!(s, DirState::Found(_)))
                })
            {
                app.proto = AppProto::Failed;
                self.counters.detected[proto_index(AppProto::Failed)] += 1;
            }
            let mut tap = Tap {
                inner: sink,
                expects: Vec::new(),
            };
            if let Some(mut p) = st.stream.take() {
                p.close(ctx, &mut tap);
            }
            if let Some(mut p) = st.dgram.take() {
                p.close(ctx, &mut tap);
            }
            if st.prev.is_known() && !app.proto.is_known() {
                app.proto = st.prev;
            }
        }
        app.flags |= F_DONE;
    }

    /// Counters by dotted name (`proto.detect.irc`, `proto.masquerade`, ...).
    pub fn counters(&self) -> Vec<(&'static str, u64)> {
        const NAMES: [&str; NPROTO] = [
            "proto.detect.unknown",
            "proto.detect.failed",
            "proto.detect.http",
            "proto.detect.tls",
            "proto.detect.pct",
            "proto.detect.dns",
            "proto.detect.ssh",
            "proto.detect.ftp",
            "proto.detect.ftp_data",
            "proto.detect.smtp",
            "proto.detect.irc",
            "proto.detect.tftp",
            "proto.detect.pop3",
            "proto.detect.imap",
        ];
        let c = &self.counters;
        let mut v: Vec<(&'static str, u64)> = ALL_PROTOS
            .iter()
            .skip(1)
            .map(|p| (NAMES[proto_index(*p)], c.detected[proto_index(*p)]))
            .collect();
        v.extend([
            ("proto.detect.bailout", c.bailout),
            ("proto.detect.gap", c.gap_during_detect),
            ("proto.detect.mismatch", c.mismatch),
            ("proto.masquerade", c.masquerade),
            ("proto.parser.violations", c.violations),
            ("proto.parser.reidentified", c.reidentified),
            ("proto.parser.upgrades", c.upgrades),
            ("proto.expect.added", c.expect_added),
            ("proto.expect.matched", c.expect_matched),
            ("proto.expect.evicted", c.expect_evicted),
            ("proto.expect.expired", c.expect_expired),
            ("proto.expect.pending", self.expect.len() as u64),
        ]);
        v
    }
}

/// Whether the first bytes of a stream, which `p`'s probe accepted, are the
/// server's side of the protocol even though probes of either side accept them
/// (a DNS-over-TCP response: the QR bit). Turns midstream pickups round.
fn server_side(p: AppProto, data: &[u8]) -> bool {
    match p {
        AppProto::Dns => data.get(4).is_some_and(|flags| flags & 0x80 != 0),
        _ => false,
    }
}

/// Feeds the buffered bytes of both directions to a new parser in arrival order.
fn replay(
    det: &Detect,
    ctx: &AppContext,
    parser: &mut (dyn StreamParser + Send),
    sink: &mut dyn ProtoSink,
) -> ParseStatus {
    let mut pos = [0usize; 2];
    let mut status = ParseStatus::Ok;
    for &(dir, len) in &det.log {
        let i = dir.index();
        let buf = &det.bufs[i];
        let end = pos[i]
            .saturating_add(usize::try_from(len).unwrap_or(usize::MAX))
            .min(buf.len());
        let chunk = buf.get(pos[i]..end).unwrap_or(&[]);
        pos[i] = end;
        let mut c = *ctx;
        c.dir = dir;
        status = parser.parse(&c, StreamData::Bytes(chunk), sink);
        if status != ParseStatus::Ok {
            break;
        }
    }
    status
}
