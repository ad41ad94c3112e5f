//! The interface between the protocol framework (identification, per-flow
//! dispatch) and the individual protocol modules. Every protocol module exposes a
//! probe and a parser implementing [`StreamParser`] and/or [`DatagramParser`].

use stormwatch_model::{
    Anomaly, AppContext, AppEvent, AppProto, AppRecord, Direction, StreamData, TxView,
};

/// Where parsers report what they found. Implemented by the engine.
pub trait ProtoSink {
    /// A typed fact (for behavioural detectors).
    fn event(&mut self, ctx: &AppContext, ev: AppEvent);
    /// An EVE record built by the protocol's logger.
    fn record(&mut self, rec: AppRecord);
    /// Malformed or suspicious protocol data.
    fn anomaly(&mut self, a: Anomaly);
    /// A transaction gained buffers or progressed: the rule engine inspects it now.
    fn tx(&mut self, ctx: &AppContext, tx: &dyn TxView);
    /// Whether [`ProtoSink::event`] calls are consumed. Parsers may skip building
    /// events nobody reads (default: yes). Facts the framework itself needs
    /// (data-channel announcements) are built regardless.
    fn wants_events(&self) -> bool {
        true
    }
    /// Whether events about protocol `proto` (`AppEvent::Dns` for DNS, ...) are
    /// consumed; parsers of protocols whose events few stages read ask this
    /// (default: [`ProtoSink::wants_events`]).
    fn wants_events_of(&self, proto: AppProto) -> bool {
        let _ = proto;
        self.wants_events()
    }
    /// Whether events about what a server of protocol `proto` sent (an HTTP
    /// response, a TLS server hello or certificate) are consumed (default:
    /// [`ProtoSink::wants_events_of`]).
    fn wants_server_events_of(&self, proto: AppProto) -> bool {
        self.wants_events_of(proto)
    }
    /// Whether the `AppEvent::Irc` of one IRC message without CTCP content is
    /// consumed, asked when [`ProtoSink::wants_events`] says yes: `command`
    /// as sent, `nick` and `channels` as the event would carry them. A sink
    /// whose stages read only some messages answers `false` for the others
    /// (and accounts for them itself); the parser then builds no event
    /// (default: yes).
    fn wants_irc_message(
        &mut self,
        ctx: &AppContext,
        command: &[u8],
        nick: Option<&str>,
        channels: &[(String, Option<String>)],
    ) -> bool {
        let _ = (ctx, command, nick, channels);
        true
    }
    /// Whether the `AppEvent::Http` of a request whose headers are complete
    /// is consumed, asked when [`ProtoSink::wants_events`] says yes: `uri`
    /// and `user_agent` as sent (empty when absent). A sink whose stages read
    /// only some requests answers `false` for the others (and accounts for
    /// them itself); the parser then builds no event (default: yes).
    fn wants_http_request(&mut self, ctx: &AppContext, uri: &[u8], user_agent: &[u8]) -> bool {
        let _ = (ctx, uri, user_agent);
        true
    }
    /// Whether [`ProtoSink::record`] calls are consumed (default: yes).
    fn wants_records(&self) -> bool {
        true
    }
    /// Whether [`ProtoSink::tx`] calls are consumed (default: yes). A parser
    /// may ask once per connection: the answer must not change while a flow
    /// lasts.
    fn wants_txs(&self) -> bool {
        true
    }
}

/// A sink that drops everything (tests, benchmarks).
#[derive(Debug, Default)]
pub struct NullSink;

impl ProtoSink for NullSink {
    fn event(&mut self, _: &AppContext, _: AppEvent) {}
    fn record(&mut self, _: AppRecord) {}
    fn anomaly(&mut self, _: Anomaly) {}
    fn tx(&mut self, _: &AppContext, _: &dyn TxView) {}
    fn wants_events(&self) -> bool {
        false
    }
    fn wants_records(&self) -> bool {
        false
    }
    fn wants_txs(&self) -> bool {
        false
    }
}

/// A sink that consumes everything and keeps nothing but counts (benchmarks of
/// the full output cost).
#[derive(Debug, Default)]
pub struct CountSink {
    /// Events received.
    pub events: u64,
    /// Records received.
    pub records: u64,
    /// Anomalies received.
    pub anomalies: u64,
    /// Transactions offered.
    pub txs: u64,
}

impl ProtoSink for CountSink {
    fn event(&mut self, _: &AppContext, _: AppEvent) {
        self.events += 1;
    }
    fn record(&mut self, _: AppRecord) {
        self.records += 1;
    }
    fn anomaly(&mut self, _: Anomaly) {
        self.anomalies += 1;
    }
    fn tx(&mut self, _: &AppContext, _: &dyn TxView) {
        self.txs += 1;
    }
}

/// Verdict of a content probe on the first bytes of a direction.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum ProbeResult {
    /// The bytes look like this protocol.
    Match,
    /// They cannot be this protocol.
    NoMatch,
    /// Not enough bytes to tell; ask again with more.
    NeedMore,
}

/// A probe: looks at the first bytes seen in one direction (accumulated, at most a
/// few KiB) and says whether they could be its protocol.
pub type ProbeFn = fn(dir: Direction, data: &[u8]) -> ProbeResult;

/// What a parser says after consuming data.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ParseStatus {
    /// Data consumed; the protocol still holds.
    Ok,
    /// The data contradicts the protocol (the framework revises its guess).
    Violation(&'static str),
    /// The protocol switched to something else on the same connection (STARTTLS
    /// accepted, HTTP CONNECT tunnel established): the framework re-identifies the
    /// bytes after this point in both directions.
    Upgrade(AppProto),
    /// Nothing more to parse in this flow (e.g. encrypted data): stop feeding.
    Done,
}

/// A parser for one TCP connection (both directions).
pub trait StreamParser {
    /// The protocol parsed.
    fn proto(&self) -> AppProto;
    /// Consumes the next in-order data (or gap) of direction `ctx.dir`.
    fn parse(
        &mut self,
        ctx: &AppContext,
        data: StreamData<'_>,
        sink: &mut dyn ProtoSink,
    ) -> ParseStatus;
    /// The flow ended: flush incomplete transactions and log what must be logged.
    fn close(&mut self, ctx: &AppContext, sink: &mut dyn ProtoSink);
    /// The EVE object of transaction `tx_id` as it stands, while the parser
    /// still holds it (its name, as `("http", {...})`): what an alert on it
    /// shows when the alert is written after more of the transaction was
    /// parsed (Suricata logs an alert with its transaction as it is then).
    /// None by default.
    fn tx_object(&self, tx_id: u64) -> Option<(&'static str, serde_json::Value)> {
        let _ = tx_id;
        None
    }
}

/// A parser for datagram protocols (UDP): one call per datagram.
pub trait DatagramParser {
    /// The protocol parsed.
    fn proto(&self) -> AppProto;
    /// Parses one datagram of direction `ctx.dir`.
    fn parse(&mut self, ctx: &AppContext, payload: &[u8], sink: &mut dyn ProtoSink) -> ParseStatus;
    /// The flow ended.
    fn close(&mut self, ctx: &AppContext, sink: &mut dyn ProtoSink);
}

/// A sink that keeps everything (tests, tools, benchmarks that check output).
#[derive(Debug, Default)]
pub struct VecSink {
    /// Events with their context.
    pub events: Vec<(AppContext, AppEvent)>,
    /// EVE records.
    pub records: Vec<AppRecord>,
    /// Anomalies.
    pub anomalies: Vec<Anomaly>,
    /// Transactions offered to the rule engine, copied as (protocol, tx id,
    /// direction of the data that completed them, buffers present).
    pub txs: Vec<TxSnapshot>,
}

/// A copy of what a [`TxView`] held when it was offered to the sink.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TxSnapshot {
    /// Protocol.
    pub proto: AppProto,
    /// Transaction id.
    pub tx_id: u64,
    /// Direction of the data that completed it.
    pub dir: Option<Direction>,
    /// Every non-empty buffer instance, in [`stormwatch_model::BufferId::ALL`] order.
    pub buffers: Vec<(stormwatch_model::BufferId, Vec<u8>)>,
    /// Scalar fields that have a value.
    pub fields: Vec<(stormwatch_model::TxField, u64)>,
    /// Every value of the multi-integer fields that have any
    /// ([`TxView::field_values`]).
    pub values: Vec<(stormwatch_model::TxField, Vec<u64>)>,
}

impl TxSnapshot {
    /// Copies a transaction view.
    pub fn of(ctx: &AppContext, tx: &dyn TxView) -> TxSnapshot {
        use stormwatch_model::{BufferId, TxField};
        let mut buffers = Vec::new();
        for &id in BufferId::ALL {
            for i in 0..tx.buffer_count(id) {
                if let Some(b) = tx.buffer(id, i) {
                    buffers.push((id, b.to_vec()));
                }
            }
        }
        let mut fields = Vec::new();
        for f in [
            TxField::DnsOpcode,
            TxField::DnsRcode,
            TxField::DnsRrtype,
            TxField::TlsVersion,
            TxField::SslState,
            TxField::SslVersions,
            TxField::HttpStatCode,
            TxField::HttpContentLen,
        ] {
            if let Some(v) = tx.field(f) {
                fields.push((f, v));
            }
        }
        // The multi-integer fields (one so far).
        let mut values = Vec::new();
        let mut v = Vec::new();
        tx.field_values(TxField::DnsRrtype, &mut v);
        if !v.is_empty() {
            values.push((TxField::DnsRrtype, v));
        }
        TxSnapshot {
            proto: tx.app_proto(),
            tx_id: tx.tx_id(),
            dir: Some(ctx.dir),
            buffers,
            fields,
            values,
        }
    }

    /// First instance of buffer `id`, if present.
    pub fn buffer(&self, id: stormwatch_model::BufferId) -> Option<&[u8]> {
        self.buffers
            .iter()
            .find(|(b, _)| *b == id)
            .map(|(_, v)| v.as_slice())
    }
}

impl ProtoSink for VecSink {
    fn event(&mut self, ctx: &AppContext, ev: AppEvent) {
        self.events.push((*ctx, ev));
    }
    fn record(&mut self, rec: AppRecord) {
        self.records.push(rec);
    }
    fn anomaly(&mut self, a: Anomaly) {
        self.anomalies.push(a);
    }
    fn tx(&mut self, ctx: &AppContext, tx: &dyn TxView) {
        self.txs.push(TxSnapshot::of(ctx, tx));
    }
}

/// Builds an `applayer` anomaly tied to a flow (layer `proto_parser`).
pub fn parser_anomaly(
    ctx: &AppContext,
    proto: AppProto,
    event: &'static str,
    detail: Option<String>,
) -> Anomaly {
    let mut a = Anomaly::new(ctx.ts, stormwatch_model::AnomalyType::Applayer, event);
    a.layer = Some("proto_parser".into());
    a.app_proto = Some(proto);
    a.flow_id = Some(ctx.flow_id);
    a.endpoints = Some(endpoints(ctx));
    a.detail = detail;
    a
}

/// The packet endpoints of the data `ctx` describes (source = sender of `ctx.dir`).
pub fn endpoints(ctx: &AppContext) -> stormwatch_model::Endpoints {
    let k = match ctx.dir {
        Direction::ToServer => ctx.key,
        Direction::ToClient => ctx.key.reversed(),
    };
    stormwatch_model::Endpoints {
        src: k.src,
        dst: k.dst,
        src_port: k.src_port,
        dst_port: k.dst_port,
        proto: k.proto,
    }
}

/// Builds an EVE record for the flow of `ctx` (endpoints client → server).
pub fn app_record(
    ctx: &AppContext,
    event_type: &str,
    tx_id: Option<u64>,
    body: serde_json::Value,
) -> AppRecord {
    AppRecord {
        ts: ctx.ts,
        event_type: event_type.to_string(),
        flow_id: ctx.flow_id,
        key: ctx.key,
        tx_id,
        body,
        extra: serde_json::Map::new(),
    }
}
