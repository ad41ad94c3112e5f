//! The interface between the protocol framework (identification, per-flow
//! dispatch) and the individual protocol modules. Every protocol module exposes a
//! probe and a parser implementing [`StreamParser`] and/or [`DatagramParser`].

use stormwatch_model::{AppContext, AppEvent, AppProto, AppRecord, Anomaly, Direction, StreamData, TxView};

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
}

/// A sink that drops everything (tests, benchmarks).
#[derive(Debug, Default)]
pub struct NullSink;

impl ProtoSink for NullSink {
    fn event(&mut self, _: &AppContext, _: AppEvent) {}
    fn record(&mut self, _: AppRecord) {}
    fn anomaly(&mut self, _: Anomaly) {}
    fn tx(&mut self, _: &AppContext, _: &dyn TxView) {}
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
    fn parse(&mut self, ctx: &AppContext, data: StreamData<'_>, sink: &mut dyn ProtoSink) -> ParseStatus;
    /// The flow ended: flush incomplete transactions and log what must be logged.
    fn close(&mut self, ctx: &AppContext, sink: &mut dyn ProtoSink);
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
