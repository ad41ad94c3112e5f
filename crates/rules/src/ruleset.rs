//! The compiled rule set and its three entry points: packets, reassembled
//! streams and application-layer transactions.

use crate::config::EncryptionHandling;
use crate::config::{RulesConfig, RulesLimits};
use crate::error::RulesError;
use crate::groups::{AddrIndex, Engine, Sel};
use crate::header::PortSet;
use crate::header::{AddrSet, parse_addrs};
use crate::inspect::Eval;
use crate::lexer::logical_lines;
use crate::parse::{Names, parse_rule};
use crate::prefilter::{FlagsOf, Group, Key, choose_key};
use crate::profile::SearchAt;
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
    Alert, AlertAction, AlertFlow, AppProto, Backing, BufferId, Direction, FlowId, FlowKey,
    IpProto, StreamData, Timestamp, TxView,
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
#[derive(Clone, Copy)]
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
    /// The capture `data` is a slice of, if it is one (the memory map of the
    /// file being read; it must not change while the rule set's flow states
    /// live): the stream window then refers to the bytes there instead of
    /// copying them.
    pub backing: Option<&'a Backing>,
}

impl std::fmt::Debug for StreamInput<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StreamInput")
            .field("ts", &self.ts)
            .field("flow", &self.flow)
            .field("data", &self.data)
            .field("offset", &self.offset)
            .field("frame", &self.frame)
            .field("backing", &self.backing.is_some())
            .finish()
    }
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
    /// For a UDP flow, the datagram whose parsing made the update: the raw
    /// payload parts of transaction rules read it (`alert dns … content:"…";
    /// offset:2; depth:4; dns_query; …`), as they read the stream turn on
    /// TCP. Empty otherwise.
    pub payload: &'a [u8],
}

/// Per-flow rule state: flowbits, alerted transactions, stream inspection
/// windows, where encryption starts. Empty (one pointer) until a rule needs it.
#[derive(Clone, Debug, Default)]
pub struct FlowState {
    inner: Option<Box<FlowInner>>,
}

/// A turn's buffer is cut back to the window before it would hold more than
/// this many windows (so at most `TRIM_AT × stream_window_bytes` per
/// direction, unless one chunk is larger).
const TRIM_AT: usize = 4;

#[derive(Clone, Debug, Default)]
struct StreamDir {
    /// The current turn's bytes copied so far; the inspected window is the
    /// last `stream_window_bytes` of the turn (older bytes are dropped in
    /// batches, so appending stays linear; at most [`TRIM_AT`] windows are
    /// kept).
    buf: Vec<u8>,
    /// Turn position of `buf[0]`.
    base: u64,
    /// The turn's bytes after `buf`, not copied: spans of `capture` (see
    /// [`StreamDir::push`]).
    spans: Vec<Span>,
    /// Bytes in `spans`.
    spans_len: usize,
    /// The capture `spans` refer to.
    capture: Option<Capture>,
    /// Rules that alerted in this turn.
    alerted: Vec<u32>,
    /// Transaction rules whose plain-content key was seen in this turn
    /// (see `RuleSet::tx_raw`).
    tx_seen: Vec<u32>,
    /// Rules whose key was seen in this turn but which have not matched yet:
    /// (rule, turn position of the hit).
    pending: Vec<(u32, u64)>,
}

/// `len` bytes of a turn at offset `off` of its capture.
#[derive(Clone, Copy, Debug)]
struct Span {
    off: usize,
    len: usize,
}

/// Most spans a turn holds before they are copied (a stream of 1-byte
/// segments must not grow the list; copying a few short ones costs little).
const MAX_SPANS: usize = 64;

/// The capture a turn refers to (see [`StreamInput::backing`]).
#[derive(Clone)]
struct Capture(Backing);

impl std::fmt::Debug for Capture {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Capture({} bytes)", self.bytes().len())
    }
}

impl Capture {
    fn bytes(&self) -> &[u8] {
        (*self.0).as_ref()
    }

    /// Offset of `data` in the capture, if it is a slice of it.
    fn locate(&self, data: &[u8]) -> Option<usize> {
        let all = self.bytes();
        let off = data.as_ptr().addr().checked_sub(all.as_ptr().addr())?;
        (off.checked_add(data.len())? <= all.len()).then_some(off)
    }

    /// The bytes of `span`. The capture does not change and the span was
    /// checked against it when it was made, so they are there; were they
    /// not, zeros keep the turn's positions right.
    fn span(&self, span: Span) -> std::borrow::Cow<'_, [u8]> {
        match self.bytes().get(span.off..span.off + span.len) {
            Some(b) => b.into(),
            None => vec![0; span.len].into(),
        }
    }
}

/// A turn whose buffer's next doubling would reach this many bytes is long:
/// its buffer gets its full size at once (see [`StreamDir::append`]).
const LONG_TURN: usize = 8 * 1024;

/// The capacity a long turn's buffer gets: its [`TRIM_AT`] windows with the
/// default window, at most this much.
const LONG_TURN_CAP: usize = 64 * 1024;

impl StreamDir {
    /// Appends `bytes` to the turn, dropping all but the last `w` (window)
    /// bytes first when the buffer would outgrow [`TRIM_AT`] windows (each
    /// drop moves the window's bytes to the front: dropping at two windows
    /// moved one byte per byte received). Returns true when the turn is
    /// longer than the window (it slid).
    fn append(&mut self, bytes: &[u8], w: usize) -> bool {
        let cap = TRIM_AT.saturating_mul(w);
        let len = self.buf.len();
        if len + bytes.len() > cap && len > w {
            let cut = len - w;
            self.buf.copy_within(cut.., 0);
            self.buf.truncate(w);
            self.base += cut as u64;
        }
        let need = self.buf.len() + bytes.len();
        if need > self.buf.capacity() && need.max(2 * self.buf.capacity()) >= LONG_TURN {
            // A long turn: its full size at once instead of doubling steps
            // (each copying what the buffer held; perf had `realloc` and its
            // page faults at ≈ 10 % of `match_stream`'s samples, though the
            // run's time did not change measurably).
            let want = need.max(cap.min(LONG_TURN_CAP));
            self.buf.reserve_exact(want - self.buf.len());
        }
        self.buf.extend_from_slice(bytes);
        self.buf.len() > w
    }

    /// Adds `bytes` to the turn: where they are a slice of `capture`, as a
    /// span of it (copied only when a rule is evaluated on the turn: most
    /// chunks make no rule a candidate, and copying every byte cost ≈ 3 % of
    /// a run with all ET rules); else copied. Returns true when the turn is
    /// longer than the window `w`.
    fn push(&mut self, bytes: &[u8], w: usize, capture: Option<&Backing>) -> bool {
        match self.refer(bytes, capture) {
            Some(off) => {
                self.spans.push(Span {
                    off,
                    len: bytes.len(),
                });
                self.spans_len += bytes.len();
                if self.spans.len() > MAX_SPANS {
                    self.settle(w);
                } else {
                    self.drop_old(w);
                }
            }
            None => {
                self.settle(w);
                self.append(bytes, w);
            }
        }
        self.end() > w as u64
    }

    /// Where `bytes` lie in `capture`, when they can be referred to there.
    fn refer(&mut self, bytes: &[u8], capture: Option<&Backing>) -> Option<usize> {
        let c = capture?;
        match &self.capture {
            Some(own) if std::sync::Arc::ptr_eq(&own.0, c) => {}
            // Spans of another capture are copied first.
            Some(_) if !self.spans.is_empty() => return None,
            _ => self.capture = Some(Capture(c.clone())),
        }
        self.capture.as_ref()?.locate(bytes)
    }

    /// Drops what lies before the window `w` from the front of the turn.
    fn drop_old(&mut self, w: usize) {
        if self.spans_len >= w && !self.buf.is_empty() {
            self.base += self.buf.len() as u64;
            self.buf.clear();
        }
        let mut n = 0;
        let mut dropped = 0;
        for s in &self.spans {
            if self.spans_len - dropped - s.len < w {
                break;
            }
            dropped += s.len;
            n += 1;
        }
        if n > 0 {
            self.spans.drain(..n);
            self.spans_len -= dropped;
            self.base += dropped as u64;
        }
    }

    /// Drops the bytes before position `pos`.
    fn drop_before(&mut self, pos: u64) {
        let mut k = pos.saturating_sub(self.base);
        let from_buf = usize::try_from(k).map_or(self.buf.len(), |k| k.min(self.buf.len()));
        if from_buf > 0 {
            self.buf.drain(..from_buf);
            self.base += from_buf as u64;
            k -= from_buf as u64;
        }
        let mut n = 0;
        for s in &mut self.spans {
            if k == 0 {
                break;
            }
            let cut = usize::try_from(k).map_or(s.len, |k| k.min(s.len));
            s.off += cut;
            s.len -= cut;
            self.spans_len -= cut;
            self.base += cut as u64;
            k -= cut as u64;
            n += usize::from(s.len == 0);
        }
        self.spans.drain(..n);
    }

    /// Copies the turn's spans into `buf`.
    fn settle(&mut self, w: usize) {
        if self.spans.is_empty() {
            return;
        }
        let Some(c) = self.capture.clone() else {
            return;
        };
        let mut spans = std::mem::take(&mut self.spans);
        self.spans_len = 0;
        for &s in &spans {
            self.append(&c.span(s), w);
        }
        spans.clear();
        self.spans = spans;
    }

    /// Turn position after the last byte.
    fn end(&self) -> u64 {
        self.base + (self.buf.len() + self.spans_len) as u64
    }

    /// True when the turn holds no bytes.
    fn is_empty(&self) -> bool {
        self.buf.is_empty() && self.spans.is_empty()
    }

    /// Appends the turn's bytes `[from, to)` (within what it holds) to `out`.
    fn copy_range(&self, from: u64, to: u64, out: &mut Vec<u8>) {
        let piece = |at: u64, len: usize| {
            let lo = from.max(at);
            let hi = to.min(at + len as u64);
            (lo < hi).then(|| ((lo - at) as usize, (hi - at) as usize))
        };
        if let Some((a, b)) = piece(self.base, self.buf.len()) {
            out.extend_from_slice(self.buf.get(a..b).unwrap_or(&[]));
        }
        // The first span that ends after `from`, found from the end: callers
        // mostly want the last bytes (the few before a chunk boundary), and a
        // turn holds up to `MAX_SPANS` spans.
        let mut first = self.spans.len();
        let mut at = self.end();
        while first > 0 && at > from {
            first -= 1;
            at -= self.spans.get(first).map_or(0, |s| s.len) as u64;
        }
        for &s in self.spans.get(first..).unwrap_or(&[]) {
            if at >= to {
                break;
            }
            if let (Some((a, b)), Some(c)) = (piece(at, s.len), &self.capture) {
                out.extend_from_slice(&c.span(Span {
                    off: s.off + a,
                    len: b - a,
                }));
            }
            at += s.len as u64;
        }
    }

    fn reset(&mut self) {
        self.buf.clear();
        self.base = 0;
        self.spans.clear();
        self.spans_len = 0;
        self.alerted.clear();
        self.tx_seen.clear();
        self.pending.clear();
    }

    /// Offset in `buf` where the inspected window starts (all of the turn
    /// copied: see [`StreamDir::settle`]).
    fn view_start(&self, w: usize) -> usize {
        self.buf.len().saturating_sub(w)
    }
}

/// One direction's bytes the application layer was given and the raw
/// stream not yet: where the protocol parser completes a transaction on a
/// chunk, transaction rules' raw payload parts (`uricontent:"…"; content:"…";`,
/// 421 ET rules) must read that chunk, which reaches the turn
/// ([`StreamDir`]) only afterwards (at once, or on a later packet with
/// Suricata's on-ack timing). Held as a turn is (spans of the capture where
/// it holds the bytes, else copied; the last window), at their stream
/// offsets.
#[derive(Clone, Debug, Default)]
struct Ahead {
    /// The bytes; a position is the stream offset.
    bytes: StreamDir,
    /// Stream offset up to which the raw stream was delivered.
    raw_end: u64,
}

impl Ahead {
    /// Holds nothing; the next bytes start at `at`.
    fn clear(&mut self, at: u64) {
        self.bytes.reset();
        self.bytes.base = at;
    }

    /// Adds the application chunk at stream offset `off`; a chunk that does
    /// not follow the held bytes starts over. Keeps the last `w` bytes.
    fn push(&mut self, off: u64, bytes: &[u8], backing: Option<&Backing>, w: usize) {
        // Bytes the raw stream already gave are in the turn.
        let skip = self.raw_end.saturating_sub(off);
        let Some(bytes) = usize::try_from(skip).ok().and_then(|k| bytes.get(k..)) else {
            return;
        };
        if bytes.is_empty() {
            return;
        }
        let off = off + skip;
        if self.bytes.is_empty() || off != self.bytes.end() {
            self.clear(off);
        }
        self.bytes.push(bytes, w, backing);
    }

    /// The raw stream reached stream offset `to`: what it delivered is no
    /// longer ahead.
    fn consume(&mut self, to: u64) {
        self.raw_end = self.raw_end.max(to);
        self.bytes.drop_before(to);
    }

    /// True when the held bytes directly follow what the raw stream gave.
    fn follows_raw(&self) -> bool {
        self.bytes.base == self.raw_end
    }

    /// Appends the held bytes to `out`.
    fn copy_to(&self, out: &mut Vec<u8>) {
        self.bytes
            .copy_range(self.bytes.base, self.bytes.end(), out);
    }
}

#[derive(Clone, Debug, Default)]
struct FlowInner {
    /// Set flowbits (sorted ids).
    bits: Vec<u32>,
    /// IP-only rules already evaluated for this direction.
    iponly_done: [bool; 2],
    /// A packet of this direction already saw its protocol identified (for
    /// protocol-detection-only rules, [`pd_only`]).
    pd_seen: [bool; 2],
    /// A `pass` rule matched: nothing more is inspected.
    passed: bool,
    /// The flow turned encrypted: no payload inspection any more.
    no_payload: bool,
    /// Where encryption starts (TLS / SSH).
    enc: Option<Box<crate::enc::EncTrack>>,
    stream: [StreamDir; 2],
    /// Per direction: application bytes the turn does not hold yet.
    ahead: [Ahead; 2],
    last_stream_dir: Option<Direction>,
    /// (tx id, rule, direction) records of matches (at most
    /// `tx_alerts_per_flow`); the direction is [`TX_ANY_DIR`] unless the rule
    /// matches once per direction ([`tx_per_direction`]).
    tx_alerted: Vec<(u64, u32, u8)>,
    /// Per-flow threshold state by rule.
    flow_th: Vec<(u32, crate::threshold::State)>,
    /// Per direction: the packet engines' address indexes hold nothing for
    /// this direction's addresses (None until the first packet asked).
    addr_quiet: [Option<bool>; 2],
    /// Per direction: the groups its packets and chunks select.
    groups: [GroupMemo; 2],
    /// Per direction: a TCP packet without payload (tracked, without IPv4
    /// options) with these flags makes no rule a candidate
    /// ([`quiet_key`]; 0: none known). Empty ACKs are a third of a
    /// flow's packets.
    quiet_empty: [u16; 2],
}

/// The [`FlowInner::quiet_empty`] entry of an empty tracked TCP packet with
/// `flags`.
#[inline]
fn quiet_key(flags: u8) -> u16 {
    0x100 | u16::from(flags)
}

/// The group ids one flow direction selects, looked up on its first packet
/// or chunk: a group depends only on the direction, the server's port, the
/// endpoints' `$HOME_NET` membership and the transport (the port-interval
/// search and the two address tests were ≈ 5 % of the run with all ET
/// rules). Each entry is [`MEMO_UNKNOWN`], [`MEMO_NONE`] or a group id.
#[derive(Clone, Copy, Debug)]
struct GroupMemo {
    /// The stream engine.
    stream: u32,
    /// The packet engine: tracked TCP (`pkt_only`), else `pkt_fallback`.
    pkt: [u32; 2],
    /// The `dsize` engines, by payload-length class.
    dsize: [u32; DSIZE_CLASSES.len()],
    /// With `pkt` and `dsize`: the group's gate mask
    /// ([`crate::prefilter::Group::gate_mask`]), or [`MEMO_UNKNOWN`].
    pkt_gate: [u32; 2],
    dsize_gate: [u32; DSIZE_CLASSES.len()],
}

/// A [`GroupMemo`] entry not looked up yet.
const MEMO_UNKNOWN: u32 = u32::MAX;
/// A [`GroupMemo`] entry whose lookup found no group.
const MEMO_NONE: u32 = u32::MAX - 1;

impl Default for GroupMemo {
    fn default() -> GroupMemo {
        GroupMemo {
            stream: MEMO_UNKNOWN,
            pkt: [MEMO_UNKNOWN; 2],
            dsize: [MEMO_UNKNOWN; DSIZE_CLASSES.len()],
            pkt_gate: [MEMO_UNKNOWN; 2],
            dsize_gate: [MEMO_UNKNOWN; DSIZE_CLASSES.len()],
        }
    }
}

/// The transaction buffer a rule's buffer `b` reads for data travelling in
/// `dir`: to the client, the HTTP header buffers (`http.header`,
/// `http.header.raw`, `http.cookie`, `http.content_type`, `http.content_len`,
/// `http.header_names`, `http.start`) are the response's, as in Suricata (ET's
/// `flow:to_client; content:"…"; http_header;` rules look at response
/// headers); otherwise `b` itself.
fn tx_buffer(b: BufferId, dir: Option<Direction>) -> BufferId {
    match (b, dir) {
        (BufferId::HttpHeader, Some(Direction::ToClient)) => BufferId::HttpResponseHeader,
        (BufferId::HttpRawHeader, Some(Direction::ToClient)) => BufferId::HttpResponseRawHeader,
        (BufferId::HttpCookie, Some(Direction::ToClient)) => BufferId::HttpResponseCookie,
        (BufferId::HttpContentType, Some(Direction::ToClient)) => BufferId::HttpResponseContentType,
        (BufferId::HttpContentLen, Some(Direction::ToClient)) => BufferId::HttpResponseContentLen,
        (BufferId::HttpHeaderNames, Some(Direction::ToClient)) => BufferId::HttpResponseHeaderNames,
        (BufferId::HttpStart, Some(Direction::ToClient)) => BufferId::HttpResponseStart,
        _ => b,
    }
}

/// `g`'s gate mask (see [`GroupMemo::pkt_gate`]), computed with `gate` the
/// first time.
#[inline]
fn memo_mask(g: &Group, memo: &mut u32, gate: crate::prefilter::Gate<'_>) -> u16 {
    if *memo == MEMO_UNKNOWN {
        *memo = u32::from(g.gate_mask(gate));
    }
    *memo as u16
}

/// The group of `e` that `memo` names, looking it up with `sel()` (and
/// remembering it) when not known yet.
#[inline]
fn memo_group<'e>(e: &'e Engine, memo: &mut u32, sel: impl FnOnce() -> Sel) -> Option<&'e Group> {
    if *memo == MEMO_UNKNOWN {
        *memo = e.lookup_id(&sel()).unwrap_or(MEMO_NONE);
    }
    match *memo {
        MEMO_NONE => None,
        gid => e.group(gid),
    }
}

/// Candidate lists a stream chunk or a transaction fills, kept from one to
/// the next (a chunk with a key hit allocated and freed three).
#[derive(Default)]
struct Scratch {
    cands: Vec<u32>,
    hits: Vec<u32>,
    matched: Vec<u32>,
    /// A stream chunk's first bytes with the turn's bytes before them.
    stitch: Vec<u8>,
}

thread_local! {
    static SCRATCH: std::cell::RefCell<Scratch> = std::cell::RefCell::new(Scratch::default());
}

/// The thread's [`Scratch`], cleared, lent until dropped (a nested borrower
/// gets fresh lists).
struct Lent(Scratch);

impl Lent {
    fn take() -> Lent {
        let mut s = SCRATCH.with(std::cell::RefCell::take);
        s.cands.clear();
        s.hits.clear();
        s.matched.clear();
        Lent(s)
    }
}

impl Drop for Lent {
    fn drop(&mut self) {
        let s = std::mem::take(&mut self.0);
        SCRATCH.with(|c| c.replace(s));
    }
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

    /// True when the flow turned encrypted (TLS application data, SSH after
    /// `NEWKEYS`) and payload keywords no longer inspect it
    /// ([`EncryptionHandling::TrackOnly`](crate::EncryptionHandling)).
    pub fn payload_inspection_stopped(&self) -> bool {
        self.inner.as_ref().is_some_and(|i| i.no_payload)
    }
}

/// Counters of limits reached and work done (monotonic).
#[derive(Debug, Default)]
struct Counters {
    encrypted_flows: AtomicU64,
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
    /// Flows whose payload inspection stopped when they turned encrypted.
    pub encrypted_flows: u64,
}

/// One packet engine per transport.
#[derive(Debug, Default)]
struct ProtoEngines {
    tcp: Engine,
    udp: Engine,
    icmp: Engine,
    other: Engine,
}

impl ProtoEngines {
    fn build(rules: &[Rule], m: &[PktMember<'_>], flags_of: FlagsOf<'_>) -> ProtoEngines {
        // A rule whose `ip_proto` refuses the engine's transport never
        // matches there (`alert ip … ip_proto:2` is not a TCP rule); the
        // `other` engine (empty list) keeps them all.
        let ip_proto_ok = |i: u32, protos: &[u64]| {
            rules.get(i as usize).is_none_or(|r| {
                r.pkt.iter().all(|c| match c {
                    PktCheck::IpProto(cmp) => {
                        protos.is_empty() || protos.iter().any(|p| cmp.test(*p))
                    }
                    _ => true,
                })
            })
        };
        let pick = |f: &dyn Fn(HdrProto) -> bool, protos: &[u64]| -> Vec<(u32, Option<&Key>)> {
            m.iter()
                .filter(|x| f(x.2) && ip_proto_ok(x.0, protos))
                .map(|x| (x.0, x.1))
                .collect()
        };
        ProtoEngines {
            tcp: Engine::build(rules, &pick(&|p| p.allows(6), &[6]), Some(flags_of)),
            udp: Engine::build(rules, &pick(&|p| p.allows(17), &[17]), None),
            icmp: Engine::build(rules, &pick(&|p| p.allows(1), &[1, 58]), None),
            other: Engine::build(rules, &pick(&|p| p == HdrProto::Ip, &[]), None),
        }
    }

    fn get(&self, proto: u8) -> &Engine {
        match Self::slot(proto) {
            0 => &self.tcp,
            1 => &self.udp,
            2 => &self.icmp,
            _ => &self.other,
        }
    }

    /// The position of transport `proto`'s engine in [`ProtoEngines::all`].
    fn slot(proto: u8) -> usize {
        match proto {
            6 => 0,
            17 => 1,
            1 | 58 => 2,
            _ => 3,
        }
    }

    fn all(&self) -> [(&'static str, &Engine); 4] {
        [
            ("tcp", &self.tcp),
            ("udp", &self.udp),
            ("icmp", &self.icmp),
            ("other", &self.other),
        ]
    }
}

/// A compiled, immutable rule set (`Send + Sync`). Threshold counters are the
/// only shared mutable state; they sit behind a mutex that is taken only when
/// a thresholded rule matches. Prefilter groups are built on first use
/// (`OnceLock`), which does not change what matches.
#[derive(Debug)]
pub struct RuleSet {
    rules: Vec<Rule>,
    files: Vec<String>,
    flowbit_names: Vec<String>,
    limits: RulesLimits,
    /// `$HOME_NET` (for group selection).
    home: AddrSet,
    ip_only: AddrIndex,
    pkt_only: ProtoEngines,
    pkt_fallback: ProtoEngines,
    /// Packet rules with `dsize`, by payload-length class ([`DSIZE_CLASSES`]):
    /// a packet scans only the rules that accept its length class.
    pkt_dsize: Vec<ProtoEngines>,
    /// Some packet engine indexes keyless rules by address.
    pkt_indexed: bool,
    /// The rules all packet engines index by address, by transport (in the
    /// order of [`ProtoEngines::all`]), for [`RuleSet::pkt_index_hits`].
    pkt_index_union: [AddrIndex; 4],
    /// Per rule: the packet facts it needs, packed ([`PktPre`]).
    pre: Vec<PktPre>,
    stream: Engine,
    tx_by_buf: BTreeMap<BufferId, Engine>,
    tx_always: BTreeMap<AppProto, Vec<u32>>,
    /// Per rule: a transaction rule of `tx_always` whose key is a plain
    /// content, searched with the stream rules' keys: on TCP it is a
    /// candidate only when its key was seen in the turn it reads
    /// ([`StreamDir::tx_seen`]) or lies in the bytes ahead of it
    /// ([`Ahead`]).
    tx_raw: Vec<bool>,
    /// A searcher of each `tx_raw` rule's key, lower-cased (built once:
    /// building one per search was ≈ 1 % of a run with all ET rules; a map,
    /// as a searcher is a few hundred bytes and 29 ET rules have one).
    tx_raw_keys: FxHashMap<u32, memchr::memmem::Finder<'static>>,
    /// The longest key of `tx_raw`.
    tx_raw_longest: usize,
    /// Some transaction rule also has raw payload keywords (read from the stream turn).
    tx_reads_stream: bool,
    /// Some rule has payload keywords.
    payload_rules: bool,
    /// Some rule is protocol-detection-only ([`pd_only`]).
    pd_rules: bool,
    tls_encryption: EncryptionHandling,
    ssh_encryption: EncryptionHandling,
    thresholds: Mutex<ThresholdTable>,
    th_file: ThresholdFile,
    counters: Counters,
    /// Per-rule and per-buffer work, when profiling is on
    /// ([`RuleSet::enable_profiling`]).
    profile: Option<crate::profile::Profile>,
}

/// What the encryption watch says about a stream chunk.
enum EncState {
    /// Inspect the chunk.
    Clear,
    /// Inspect only the chunk's first bytes; the flow is encrypted after them.
    Cut(usize),
    /// The flow is encrypted: no payload inspection.
    Stopped,
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
    /// The flow turned encrypted: payload keywords do not inspect packets.
    no_payload: bool,
    /// The first packet to see a direction's protocol identified (Suricata's
    /// `PKT_PROTO_DETECT_*_DONE`): protocol-detection-only rules match only here.
    pd_packet: bool,
}

fn ports_match(set: &PortSet, p: u16) -> bool {
    set.is_full() || set.contains(p)
}

/// What a packet needs for a rule to match, packed in 12 bytes so keyless
/// packet rules (evaluated for every packet of their group) are rejected
/// without reading the rule: the hull of each port set, and whether the rule
/// needs IPv4 options (`ipopts`; ET's source-route rules sat in every
/// packet's candidates). A necessary condition only: [`RuleSet::eval_rule`]
/// still checks everything.
#[derive(Clone, Copy, Debug)]
struct PktPre {
    sp: (u16, u16),
    dp: (u16, u16),
    bidir: bool,
    ipopts: bool,
}

impl PktPre {
    fn of(r: &Rule) -> PktPre {
        let hull = |p: &PortSet| match (p.ranges.first(), p.ranges.last()) {
            (Some(a), Some(b)) => (a.0, b.1),
            _ => (0, u16::MAX),
        };
        PktPre {
            sp: hull(&r.sp),
            dp: hull(&r.dp),
            bidir: r.bidir,
            ipopts: r.pkt.iter().any(|c| matches!(c, PktCheck::Ipopts(_))),
        }
    }

    /// False when a packet between ports `sp` and `dp`, with IPv4 options
    /// or not, cannot match the rule.
    #[inline]
    fn admits(&self, sp: u16, dp: u16, has_opts: bool) -> bool {
        if self.ipopts && !has_opts {
            return false;
        }
        let within = |(a, b): (u16, u16), p: u16| a <= p && p <= b;
        (within(self.sp, sp) && within(self.dp, dp))
            || (self.bidir && within(self.sp, dp) && within(self.dp, sp))
    }
}

/// Up to five directories below `dir` (three levels at most) that hold
/// `*.rules` files, as `path (count)`: the hint of
/// [`RulesError::NoRuleFiles`].
fn rule_dirs_below(dir: &Path) -> Vec<String> {
    let mut found = Vec::new();
    let mut todo = vec![(dir.to_path_buf(), 0u32)];
    while let Some((d, depth)) = todo.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        let mut subdirs = Vec::new();
        let mut n = 0usize;
        for e in rd.flatten() {
            let path = e.path();
            if path.is_dir() {
                subdirs.push(path);
            } else if path.extension().is_some_and(|x| x == "rules") {
                n += 1;
            }
        }
        if n > 0 && depth > 0 {
            found.push(format!("{} ({n})", d.display()));
        }
        if depth < 3 {
            subdirs.sort();
            todo.extend(subdirs.into_iter().rev().map(|s| (s, depth + 1)));
        }
    }
    found.sort();
    found.truncate(5);
    found
}

impl RuleSet {
    /// Loads rule files and directories (`*.rules`, sorted by name). `Err` only
    /// for operator faults (unreadable path, a directory without rule files,
    /// bad threshold file); bad rules are skipped and listed in the report.
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
                if files.is_empty() {
                    return Err(RulesError::NoRuleFiles {
                        path: p.clone(),
                        found: rule_dirs_below(p),
                    });
                }
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
        // At most one rule per line: reserved at once (the pages of what is
        // not used are never touched) instead of doubling, which copied the
        // rules into fresh memory at each step; at most `RESERVE_RULES` (a
        // file of blank lines must not reserve gigabytes).
        const RESERVE_RULES: usize = 1 << 17;
        let lines: usize = texts
            .iter()
            .map(|(_, t)| memchr::memchr_iter(b'\n', t.as_bytes()).count() + 1)
            .sum();
        let mut rules: Vec<Rule> = Vec::with_capacity(lines.min(RESERVE_RULES));
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
        // The keys are sorted and the rules swapped to their places (at most
        // one swap per rule, in place): a sort of the rules themselves moved
        // each of them (hundreds of bytes) about log2(n) times, ≈ 6 % of
        // loading all ET rules.
        let mut keyed: Vec<((u8, u8, u8, u32), usize)> = rules
            .iter()
            .enumerate()
            .map(|(i, r)| (r.order, i))
            .collect();
        keyed.sort_unstable();
        // `dest[i]`: where the rule now at `i` goes.
        let mut dest = vec![0usize; rules.len()];
        for (new, &(_, old)) in keyed.iter().enumerate() {
            if let Some(d) = dest.get_mut(old) {
                *d = new;
            }
        }
        drop(keyed);
        for i in 0..rules.len() {
            while let Some(&j) = dest.get(i)
                && j != i
            {
                rules.swap(i, j);
                dest.swap(i, j);
            }
        }
        drop(dest);
        let mut rs = RuleSet {
            rules,
            files,
            flowbit_names: names.order,
            limits: cfg.limits.clone(),
            home: parse_addrs("$HOME_NET", &cfg.vars).unwrap_or_else(|_| AddrSet::any()),
            ip_only: AddrIndex::default(),
            pkt_only: ProtoEngines::default(),
            pkt_fallback: ProtoEngines::default(),
            pkt_dsize: Vec::new(),
            pkt_indexed: false,
            pkt_index_union: Default::default(),
            pre: Vec::new(),
            stream: Engine::default(),
            tx_by_buf: BTreeMap::new(),
            tx_always: BTreeMap::new(),
            tx_raw: Vec::new(),
            tx_raw_keys: FxHashMap::default(),
            tx_raw_longest: 0,
            tx_reads_stream: false,
            payload_rules: false,
            pd_rules: false,
            tls_encryption: cfg.tls_encryption,
            ssh_encryption: cfg.ssh_encryption,
            thresholds: Mutex::new(ThresholdTable::default()),
            th_file,
            counters: Counters::default(),
            profile: None,
        };
        rs.compile();
        (rs, report)
    }

    fn compile(&mut self) {
        let home = self.home.clone();
        let not_home = home.complement();
        let class = |a: &AddrSet| {
            if a.is_any() {
                Side::Any
            } else if *a == home {
                Side::Home
            } else if *a == not_home {
                Side::NotHome
            } else {
                Side::Other
            }
        };
        for r in self.rules.iter_mut() {
            r.src_class = class(&r.src);
            r.dst_class = class(&r.dst);
        }
        let keys: Vec<Option<Key>> = self.rules.iter().map(rule_key).collect();
        // Keys of transaction rules without a key in a transaction buffer:
        // their plain contents' (searched in the whole turn, see `tx_raw`).
        let raw_keys: Vec<Option<Key>> = self.rules.iter().map(tx_raw_key).collect();
        let mut tx_raw = vec![false; self.rules.len()];
        let mut tx_raw_keys = FxHashMap::default();
        let mut pkt_only: Vec<PktMember<'_>> = Vec::new();
        let mut pkt_fb: Vec<PktMember<'_>> = Vec::new();
        let mut pkt_ds: Vec<Vec<PktMember<'_>>> = vec![Vec::new(); DSIZE_CLASSES.len()];
        let mut stream: Vec<(u32, Option<&Key>)> = Vec::new();
        let mut tx_buf: BTreeMap<BufferId, Vec<(u32, Option<&Key>)>> = BTreeMap::new();
        let mut ip_only = Vec::new();
        let mut tx_always: BTreeMap<AppProto, Vec<u32>> = BTreeMap::new();
        for (i, r) in self.rules.iter().enumerate() {
            let idx = u32::try_from(i).unwrap_or(u32::MAX);
            let key = keys.get(i).and_then(Option::as_ref);
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
                                pkt_ds[k].push((idx, key, r.proto));
                            }
                        }
                    } else {
                        pkt_only.push((idx, key, r.proto));
                        pkt_fb.push((idx, key, r.proto));
                    }
                }
                Kind::Stream => {
                    let stream_only = r.proto == HdrProto::TcpStream || r.flow.only_stream;
                    if !stream_only {
                        pkt_fb.push((idx, key, r.proto));
                    }
                    if r.proto.allows(6) {
                        stream.push((idx, key));
                    }
                }
                Kind::Tx => match &r.fast {
                    Some(FastSel {
                        list: ListId::Buffer(b),
                        ..
                    }) => tx_buf.entry(*b).or_default().push((idx, key)),
                    _ => {
                        let app = r.app.unwrap_or(AppProto::Unknown);
                        tx_always.entry(app).or_default().push(idx);
                        if let Some(k) = raw_keys.get(i).and_then(Option::as_ref)
                            && r.proto.allows(6)
                            && let Some(t) = tx_raw.get_mut(i)
                        {
                            *t = true;
                            tx_raw_keys.insert(
                                idx,
                                memchr::memmem::Finder::new(&k.bytes.to_ascii_lowercase())
                                    .into_owned(),
                            );
                            stream.push((idx, Some(k)));
                        }
                    }
                },
            }
        }
        let rules = &self.rules;
        let flags_of = |ri: u32| -> [u64; 4] {
            let mut m = [u64::MAX; 4];
            if let Some(r) = rules.get(ri as usize) {
                for c in &r.pkt {
                    if let PktCheck::Flags(..) = c {
                        for f in 0..=255u8 {
                            if !tcp_flags_ok(c, f) {
                                let f = usize::from(f);
                                m[f / 64] &= !(1 << (f % 64));
                            }
                        }
                    }
                }
            }
            m
        };
        let pkt_only_e = ProtoEngines::build(rules, &pkt_only, &flags_of);
        let pkt_fallback_e = ProtoEngines::build(rules, &pkt_fb, &flags_of);
        let pkt_dsize_e: Vec<ProtoEngines> = pkt_ds
            .iter()
            .map(|v| ProtoEngines::build(rules, v, &flags_of))
            .collect();
        let stream_e = Engine::build(rules, &stream, None);
        let tx_by_buf: BTreeMap<BufferId, Engine> = tx_buf
            .into_iter()
            .map(|(b, v)| (b, Engine::build(rules, &v, None)))
            .collect();
        let ip_only_ix = AddrIndex::build(rules, &ip_only);
        let tx_reads_stream = rules
            .iter()
            .any(|r| r.kind == Kind::Tx && !r.payload.is_empty());
        let payload_rules = rules.iter().any(|r| !r.payload.is_empty());
        self.pkt_only = pkt_only_e;
        self.pkt_fallback = pkt_fallback_e;
        self.pkt_dsize = pkt_dsize_e;
        // One index per transport over every packet engine's indexed rules:
        // a new flow direction asks it once instead of each engine's.
        let engines = || {
            std::iter::once(&self.pkt_only)
                .chain(std::iter::once(&self.pkt_fallback))
                .chain(&self.pkt_dsize)
        };
        self.pkt_indexed = engines().any(|pe| pe.all().iter().any(|(_, e)| e.is_indexed()));
        let mut union: [Vec<u32>; 4] = Default::default();
        for pe in engines() {
            for (u, (_, e)) in union.iter_mut().zip(pe.all()) {
                u.extend(e.indexed_rules());
            }
        }
        self.pkt_index_union = union.map(|mut u| {
            u.sort_unstable();
            u.dedup();
            AddrIndex::build(rules, &u)
        });
        self.pre = self.rules.iter().map(PktPre::of).collect();
        self.stream = stream_e;
        self.tx_by_buf = tx_by_buf;
        self.tx_always = tx_always;
        self.tx_raw_longest = tx_raw_keys
            .values()
            .map(|f| f.needle().len())
            .max()
            .unwrap_or(0);
        self.tx_raw = tx_raw;
        self.tx_raw_keys = tx_raw_keys;
        self.ip_only = ip_only_ix;
        self.tx_reads_stream = tx_reads_stream;
        self.payload_rules = payload_rules;
        self.pd_rules = rules.iter().any(pd_only);
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
            encrypted_flows: c.encrypted_flows.load(Ordering::Relaxed),
        }
    }

    /// Starts counting, per rule, its evaluations, matches and their time,
    /// and per buffer the prefilter's searches, bytes and time (see
    /// [`RuleSet::profile`]). Each evaluation and search then reads the clock
    /// twice.
    pub fn enable_profiling(&mut self) {
        self.profile = Some(crate::profile::Profile::new(self.rules.len()));
    }

    /// The profile so far; None unless [`RuleSet::enable_profiling`] was called.
    pub fn profile(&self) -> Option<crate::profile::ProfileReport> {
        self.profile
            .as_ref()
            .map(|p| p.report(self.rules.iter().map(|r| &*r.sig)))
    }

    /// The clock, when profiling.
    #[inline]
    fn prof_start(&self) -> Option<std::time::Instant> {
        self.profile.as_ref().map(|_| std::time::Instant::now())
    }

    /// Records a search of `bytes` bytes at `at` started at `since`.
    #[inline]
    fn prof_search(&self, at: SearchAt, bytes: usize, since: Option<std::time::Instant>) {
        if let (Some(p), Some(t)) = (&self.profile, since) {
            p.search(at, bytes, t);
        }
    }

    /// Prefilter groups, for tuning: per engine one line with its rules and
    /// groups, then one line per distinct group (rules, distinct keys, gram
    /// stride, rules without key). Builds every group.
    pub fn group_stats(&self) -> Vec<String> {
        let mut v = Vec::new();
        let mut eng = |name: &str, e: &Engine| {
            if e.is_empty() {
                return;
            }
            let (groups, members, _) = e.stats();
            v.push(format!("{name}: rules {members} groups {groups}"));
            let mut seen = std::collections::BTreeSet::new();
            for g in e.all_groups() {
                let st = g.stats();
                if seen.insert(st) {
                    let (r, hk, hl, k, s, a) = st;
                    v.push(format!(
                        "{name} group: rules {r} head keys {hk} (within {hl} bytes) keys {k} stride {s} always {a}"
                    ));
                }
            }
        };
        eng("stream", &self.stream);
        for (t, e) in self.pkt_fallback.all() {
            eng(&format!("pkt_fallback {t}"), e);
        }
        for (t, e) in self.pkt_only.all() {
            eng(&format!("pkt_only {t}"), e);
        }
        for (k, p) in self.pkt_dsize.iter().enumerate() {
            for (t, e) in p.all() {
                eng(&format!("pkt_dsize class {k} {t}"), e);
            }
        }
        for (b, e) in &self.tx_by_buf {
            eng(&format!("tx {b:?}"), e);
        }
        for (app, rules) in &self.tx_always {
            v.push(format!("tx always {}: rules {}", app.as_str(), rules.len()));
        }
        v.push(format!(
            "ip-only: rules {} (indexed by address: {})",
            self.rules.iter().filter(|r| r.kind == Kind::IpOnly).count(),
            self.rules
                .iter()
                .filter(|r| r.kind == Kind::IpOnly)
                .count()
                .saturating_sub(self.ip_only.plain.len())
        ));
        v
    }

    /// The signatures loaded, in evaluation order.
    pub fn signatures(&self) -> impl Iterator<Item = &stormwatch_model::SignatureInfo> {
        self.rules.iter().map(|r| r.sig.as_ref())
    }

    /// The group selector for data from `src:sp` to `dst:dp` travelling `dir`.
    fn sel(&self, dir: Direction, src: IpAddr, sp: u16, dst: IpAddr, dp: u16) -> Sel {
        Sel {
            dir,
            port: match dir {
                Direction::ToServer => dp,
                Direction::ToClient => sp,
            },
            src_home: self.home.contains(src),
            dst_home: self.home.contains(dst),
        }
    }

    /// True when payload inspection stops once a flow of `app` turns encrypted.
    fn tracks_encryption(&self, app: AppProto) -> bool {
        match app {
            AppProto::Tls => self.tls_encryption == EncryptionHandling::TrackOnly,
            AppProto::Ssh => self.ssh_encryption == EncryptionHandling::TrackOnly,
            _ => false,
        }
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
        let no_payload = fs.as_ref().is_some_and(|f| f.payload_inspection_stopped());
        let dir = p.flow.map_or(Direction::ToServer, |f| f.dir);
        let sel = || self.sel(dir, src, sp, dst, dp);
        let tracked = proto == 6 && p.flow.is_some_and(|f| f.stream_tracked);
        let engines = if tracked {
            &self.pkt_only
        } else {
            &self.pkt_fallback
        };
        let tcp_flags = match p.pkt.l4 {
            L4::Tcp(t) => Some(t.flags),
            _ => None,
        };
        let payload = p.pkt.payload;
        let has_opts = matches!(p.pkt.l3, L3::Ipv4(i) if !i.options.is_empty());
        // An empty packet of a tracked flow with flags this direction's
        // empty packets already showed to make no candidate: nothing to do.
        // What decides the candidates of such a packet (its groups, ports,
        // addresses, flags) is fixed for the direction; only the first
        // packet adds IP-only rules, and protocol-detection rules keep state
        // per packet (no memo with them).
        let quiet = match (&fs, &p.flow, tcp_flags) {
            (Some(f), Some(fi), Some(flags))
                if tracked && payload.is_empty() && !has_opts && !self.pd_rules =>
            {
                let key = quiet_key(flags);
                if f.inner
                    .as_ref()
                    .is_some_and(|i| i.quiet_empty[fi.dir.index()] == key)
                {
                    return;
                }
                Some((fi.dir.index(), key))
            }
            _ => None,
        };
        let scan = !no_payload && !payload.is_empty();
        let mut cands: Vec<u32> = Vec::new();
        let len = payload.len() as u64;
        let class = DSIZE_CLASSES
            .iter()
            .position(|&(lo, hi)| (lo..=hi).contains(&len));
        let ds = class.and_then(|c| self.pkt_dsize.get(c));
        // What a keyless rule needs of the packet, read from the packed
        // table instead of the rule (most are rejected by a port).
        let pre_ok = |ri: &u32| self.pre_ok(*ri, sp, dp, has_opts);
        // The address index answers the same for every packet of a flow
        // direction: remember when it holds nothing for its addresses.
        let index_quiet = match (&mut fs, &p.flow) {
            // No packet engine indexes a rule: nothing to look up (the
            // lookups cost ≈ 6 % of the run with four rules loaded).
            _ if !self.pkt_indexed => true,
            (Some(f), Some(fi)) => {
                let d = fi.dir.index();
                let known = f.inner.as_ref().and_then(|i| i.addr_quiet[d]);
                match known {
                    Some(q) => q,
                    None => {
                        let q = !self.pkt_index_hits(proto, src, dst);
                        f.inner().addr_quiet[d] = Some(q);
                        q
                    }
                }
            }
            _ => false,
        };
        // Protocol and ports: what a rule's header needs before anything else.
        let gate = |ri: u32| {
            self.rules.get(ri as usize).is_some_and(|r| {
                r.proto.allows(proto)
                    && ((ports_match(&r.sp, sp) && ports_match(&r.dp, dp))
                        || (r.bidir && ports_match(&r.sp, dp) && ports_match(&r.dp, sp)))
            })
        };
        // The packet engine and the `dsize` class's: their groups (from the
        // flow direction's memo when there is a flow).
        let base = Some(engines.get(proto)).filter(|e| !e.is_empty());
        let by_size = class
            .zip(ds)
            .map(|(c, d)| (c, d.get(proto)))
            .filter(|(_, e)| !e.is_empty());
        // With each group, which of its keys searched one by one have a rule
        // passing `gate` (see `Group::gate_mask`; fixed for a flow direction).
        type Picked<'g> = Option<(&'g Group, u16)>;
        let (g_base, g_size): (Picked<'_>, Picked<'_>) = match (&mut fs, &p.flow) {
            (Some(f), Some(fi)) => {
                let m = &mut f.inner().groups[fi.dir.index()];
                let t = usize::from(tracked);
                let gb = base.and_then(|e| memo_group(e, &mut m.pkt[t], sel));
                let gs = by_size.and_then(|(c, e)| Some((c, memo_group(e, &mut m.dsize[c], sel)?)));
                (
                    gb.map(|g| (g, memo_mask(g, &mut m.pkt_gate[t], &gate))),
                    gs.map(|(c, g)| (g, memo_mask(g, &mut m.dsize_gate[c], &gate))),
                )
            }
            _ => {
                let s = sel();
                (
                    base.and_then(|e| e.lookup(&s))
                        .map(|g| (g, g.gate_mask(&gate))),
                    by_size
                        .and_then(|(_, e)| e.lookup(&s))
                        .map(|g| (g, g.gate_mask(&gate))),
                )
            }
        };
        for (e, g) in [(base, g_base), (by_size.map(|(_, e)| e), g_size)] {
            let Some(e) = e else { continue };
            if let Some((g, mask)) = g {
                cands.extend(g.always_for(tcp_flags).iter().filter(|r| pre_ok(r)));
                if scan && g.has_keys() {
                    let since = self.prof_start();
                    g.scan_masked(payload, &mut cands, mask);
                    self.prof_search(SearchAt::Packet, payload.len(), since);
                }
            }
            if !index_quiet {
                e.indexed_candidates(src, dst, &mut cands);
            }
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
            self.ip_only.candidates(src, dst, &mut cands);
        }
        let pd_packet = match (&mut fs, &p.flow) {
            (Some(f), Some(fi)) if self.pd_rules => {
                // Suricata flags the first packet *of direction d* that
                // sees d's protocol identified (detection done on the other
                // side's ACK flags the next packet of d).
                let own = match fi.dir {
                    Direction::ToServer => fi.app_proto_ts,
                    Direction::ToClient => fi.app_proto_tc,
                };
                let known = own != AppProto::Unknown
                    || (fi.app_proto_ts == AppProto::Unknown
                        && fi.app_proto_tc == AppProto::Unknown
                        && fi.app_proto != AppProto::Unknown);
                let inner = f.inner();
                match inner.pd_seen.get_mut(fi.dir.index()) {
                    Some(seen) => {
                        let first = known && !*seen;
                        *seen = known;
                        first
                    }
                    None => false,
                }
            }
            _ => false,
        };
        if cands.is_empty() {
            if let (Some((d, key)), Some(f)) = (quiet, &mut fs) {
                f.inner().quiet_empty[d] = key;
            }
            return;
        }
        cands.sort_unstable();
        cands.dedup();
        let ctx = Ctx {
            ts: p.ts,
            src,
            sp,
            dst,
            dp,
            proto,
            flow: p.flow.as_ref(),
            frame: p.frame,
            no_payload,
            pd_packet,
        };
        self.run_candidates(&cands, &ctx, Src::Packet(p), Some(payload), fs, out, None);
    }

    /// Direction `dir`'s bytes ahead of its turn ([`Ahead`]), when there are
    /// some and transaction rules of `app` may read them, and whether they
    /// directly follow the turn's bytes. Not where payload inspection
    /// stopped, nor for TLS and SSH when their encryption is followed (the
    /// turn is cut where it starts; the bytes ahead are not).
    fn ahead_of<'f>(
        &self,
        fs: &'f FlowState,
        app: AppProto,
        dir: Direction,
    ) -> Option<(bool, &'f Ahead)> {
        let inner = fs.inner.as_ref()?;
        let a = inner.ahead.get(dir.index())?;
        if a.bytes.is_empty() || inner.no_payload || self.tracks_encryption(app) {
            return None;
        }
        // Turned: the raw stream resets the turn before it adds them.
        Some((inner.last_stream_dir == Some(dir) && a.follows_raw(), a))
    }

    /// The bytes ahead of direction `dir`'s turn (see [`RuleSet::ahead_of`])
    /// after the turn's last bytes that a key may start in, lower-cased: what a
    /// turn-keyed transaction rule's key is looked for in besides the keys
    /// seen in the turn.
    fn ahead_text(&self, fs: &FlowState, app: AppProto, dir: Direction) -> Option<Vec<u8>> {
        let (follows, a) = self.ahead_of(fs, app, dir)?;
        let mut v = Vec::new();
        if follows && let Some(sd) = fs.inner.as_ref().and_then(|i| i.stream.get(dir.index())) {
            let end = sd.end();
            let reach = self.tx_raw_longest.saturating_sub(1) as u64;
            sd.copy_range(end.saturating_sub(reach), end, &mut v);
        }
        a.copy_to(&mut v);
        v.make_ascii_lowercase();
        Some(v)
    }

    /// True for a transaction rule keyed on a plain content (see `tx_raw`).
    fn is_tx_raw(&self, ri: u32) -> bool {
        self.tx_raw.get(ri as usize).copied().unwrap_or(false)
    }

    /// False when rule `ri` cannot match data between ports `sp` and `dp`
    /// (with IPv4 options or not), from [`PktPre`] alone.
    #[inline]
    fn pre_ok(&self, ri: u32, sp: u16, dp: u16, has_opts: bool) -> bool {
        self.pre
            .get(ri as usize)
            .is_none_or(|x| x.admits(sp, dp, has_opts))
    }

    /// True when some packet engine's address index (any of them: which
    /// one a packet uses depends on its length and stream tracking) names
    /// a rule for a packet from `src` to `dst` of transport `proto`.
    fn pkt_index_hits(&self, proto: u8, src: IpAddr, dst: IpAddr) -> bool {
        self.pkt_index_union
            .get(ProtoEngines::slot(proto))
            .is_some_and(|ix| ix.any(src, dst))
    }

    /// Follows where a TLS / SSH flow turns encrypted (see [`crate::enc`]).
    fn watch_encryption(&self, s: &StreamInput<'_>, fs: &mut FlowState) -> EncState {
        let d = s.flow.dir.index();
        let inner = fs.inner();
        if inner.no_payload {
            if inner.stream.iter().any(|sd| !sd.is_empty()) {
                for sd in inner.stream.iter_mut() {
                    sd.reset();
                }
            }
            return EncState::Stopped;
        }
        let enc = inner.enc.get_or_insert_with(Box::default);
        if enc.done() {
            return EncState::Clear;
        }
        let StreamData::Bytes(b) = s.data else {
            enc.lost(d);
            return EncState::Clear;
        };
        match enc.feed(s.flow.app_proto, d, s.offset, b) {
            crate::enc::Seen::Clear => EncState::Clear,
            crate::enc::Seen::EncryptedFrom(at) => {
                inner.no_payload = true;
                self.counters
                    .encrypted_flows
                    .fetch_add(1, Ordering::Relaxed);
                EncState::Cut(at)
            }
        }
    }

    /// Notes a chunk handed to the application layer, before the protocol
    /// parser sees it: transaction rules evaluated on what it completes read
    /// it with the stream turn, which [`RuleSet::match_stream`] fills with the
    /// same bytes afterwards (see [`Ahead`]). Call with the chunk's stream
    /// offset; `match_stream` must later see the same offsets.
    pub fn note_app_stream(&self, s: &StreamInput<'_>, fs: &mut FlowState) {
        if !self.tx_reads_stream || s.flow.key.proto != IpProto::TCP || fs.passed() {
            return;
        }
        // Not kept where they would not be read (see `ahead_of`).
        if self.tracks_encryption(s.flow.app_proto) || fs.payload_inspection_stopped() {
            return;
        }
        let w = self.limits.stream_window_bytes.max(1);
        let inner = fs.inner();
        let Some(a) = inner.ahead.get_mut(s.flow.dir.index()) else {
            return;
        };
        match s.data {
            StreamData::Bytes(b) if !b.is_empty() => a.push(s.offset, b, s.backing, w),
            StreamData::Bytes(_) => {}
            StreamData::Gap(g) => a.clear(s.offset + u64::from(g)),
        }
    }

    /// Inspects one in-order chunk of reassembled TCP data. Stream rules see
    /// the current "turn" (bytes sent in this direction since the other side
    /// last sent data, at most `stream_window_bytes`), so a pattern split over
    /// segments matches, and each rule alerts at most once per turn.
    pub fn match_stream(&self, s: &StreamInput<'_>, fs: &mut FlowState, out: &mut Vec<Alert>) {
        if (self.stream.is_empty() && !self.tx_reads_stream && !self.payload_rules)
            || s.flow.key.proto != IpProto::TCP
        {
            return;
        }
        if let Some(inner) = fs.inner.as_mut()
            && let Some(a) = inner.ahead.get_mut(s.flow.dir.index())
        {
            a.consume(s.offset + s.data.len() as u64);
        }
        if fs.passed() {
            return;
        }
        let mut data = s.data;
        if self.payload_rules
            && (self.tracks_encryption(s.flow.app_proto) || fs.payload_inspection_stopped())
        {
            match self.watch_encryption(s, fs) {
                EncState::Clear => {}
                EncState::Stopped => return,
                EncState::Cut(at) => {
                    if let StreamData::Bytes(b) = data {
                        data = StreamData::Bytes(b.get(..at).unwrap_or(b));
                    }
                }
            }
        }
        if self.stream.is_empty() && !self.tx_reads_stream {
            return;
        }
        let (src, sp, dst, dp) = s.flow.oriented();
        let d = s.flow.dir;
        let group = memo_group(
            &self.stream,
            &mut fs.inner().groups[d.index()].stream,
            || self.sel(d, src, sp, dst, dp),
        );
        if group.is_none() && !self.tx_reads_stream {
            // Still note the turn change for the other direction's rules.
            if let Some(inner) = fs.inner.as_mut() {
                inner.last_stream_dir = Some(d);
            }
            return;
        }
        let w = self.limits.stream_window_bytes.max(1);
        let inner = fs.inner();
        if inner.last_stream_dir != Some(d) {
            inner.stream[d.index()].reset();
            inner.last_stream_dir = Some(d);
        }
        let sd = &mut inner.stream[d.index()];
        let bytes = match data {
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
        let old_end = sd.end();
        if sd.push(bytes, w, s.backing) {
            self.counters.window_slides.fetch_add(1, Ordering::Relaxed);
        }
        let Some(g) = group else {
            // Kept only for the raw-payload part of transaction rules.
            return;
        };
        // Turn position where the inspected window starts.
        let view_pos = sd.end().saturating_sub(w as u64);
        let overlap = g.max_key.saturating_sub(1) as u64;
        let scan_pos = old_end.saturating_sub(overlap).max(view_pos);
        let mut lent = Lent::take();
        let Scratch {
            cands,
            hits,
            matched,
            stitch,
        } = &mut lent.0;
        cands.extend_from_slice(&g.always);
        if g.has_keys() {
            let since = self.prof_start();
            if sd.spans.is_empty() {
                // Copied: the new bytes end `buf`.
                let scan_from = usize::try_from(scan_pos - sd.base).unwrap_or(0);
                if let Some(hay) = sd.buf.get(scan_from..) {
                    g.scan_at(hay, scan_pos, hits);
                }
            } else {
                // Referred to: `bytes` are the turn's last span. A key that
                // starts before them ends within their first `overlap`
                // bytes: those are searched with the turn's bytes before.
                let new_from = scan_pos.max(old_end);
                let head = bytes.len().min(overlap as usize);
                let crosses = scan_pos < old_end && {
                    // Most boundaries have no key across them (Group::may_cross).
                    stitch.clear();
                    sd.copy_range(old_end.saturating_sub(7).max(scan_pos), old_end, stitch);
                    g.may_cross(stitch, bytes)
                };
                if crosses {
                    stitch.clear();
                    sd.copy_range(scan_pos, old_end, stitch);
                    stitch.extend_from_slice(bytes.get(..head).unwrap_or(bytes));
                    g.scan_at(stitch, scan_pos, hits);
                }
                let skip = usize::try_from(new_from - old_end).unwrap_or(0);
                if scan_pos >= old_end || !crosses || bytes.len() > head {
                    g.scan_at(bytes.get(skip..).unwrap_or(&[]), new_from, hits);
                }
            }
            self.prof_search(SearchAt::Stream, bytes.len(), since);
        }
        let turn_pos = old_end;
        hits.sort_unstable();
        hits.dedup();
        // Keys of transaction rules: noted for them, not stream candidates.
        hits.retain(|&h| {
            if !self.is_tx_raw(h) {
                return true;
            }
            if !sd.tx_seen.contains(&h) {
                sd.tx_seen.push(h);
            }
            false
        });
        // Pending candidates stay for 4 KiB of further data.
        const PENDING_REACH: u64 = 4096;
        let now = sd.end();
        sd.pending
            .retain(|&(_, at)| now.saturating_sub(at) <= PENDING_REACH);
        cands.extend(sd.pending.iter().map(|p| p.0));
        cands.extend_from_slice(hits);
        cands.sort_unstable();
        cands.dedup();
        // Rules whose ports refuse this flow direction (a rule `-> any 42`
        // without a flow direction sits in every to-client group) fail
        // evaluation at once: drop them here, reading only the packed table.
        cands.retain(|r| !sd.alerted.contains(r) && self.pre_ok(*r, sp, dp, false));
        if cands.is_empty() {
            return;
        }
        // Evaluate against the turn window. The buffer is moved out so the
        // flow state can be borrowed mutably by flowbits.
        sd.settle(w);
        let view_from = sd.view_start(w);
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
            no_payload: false,
            pd_packet: false,
        };
        self.run_candidates(
            cands,
            &ctx,
            Src::Stream,
            Some(buf.get(view_from..).unwrap_or(&buf)),
            Some(fs),
            out,
            Some(matched),
        );
        let inner = fs.inner();
        let sd = &mut inner.stream[d.index()];
        sd.buf = buf;
        sd.alerted.extend_from_slice(matched);
        sd.pending.retain(|p| !matched.contains(&p.0));
        for &h in hits.iter() {
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
        let (src, sp, dst, dp) = t.flow.oriented();
        let sel = self.sel(t.flow.dir, src, sp, dst, dp);
        let mut lent = Lent::take();
        let Scratch { cands, matched, .. } = &mut lent.0;
        if let Some(v) = self.tx_always.get(&app) {
            // On TCP a rule whose key is a plain content needs it in the turn,
            // or in the bytes ahead of it.
            let tcp = t.flow.key.proto == IpProto::TCP;
            let seen = fs
                .inner
                .as_ref()
                .and_then(|i| i.stream.get(t.flow.dir.index()))
                .map_or(&[][..], |sd| &sd.tx_seen[..]);
            let unseen = |r: u32| tcp && self.is_tx_raw(r) && !seen.contains(&r);
            let ahead = if v.iter().any(|&r| unseen(r)) {
                self.ahead_text(fs, app, t.flow.dir)
            } else {
                None
            };
            let in_ahead = |r: u32| {
                let key = self.tx_raw_keys.get(&r);
                ahead
                    .as_deref()
                    .zip(key)
                    .is_some_and(|(h, k)| k.find(h).is_some())
            };
            cands.extend(v.iter().filter(|&&r| !unseen(r) || in_ahead(r)));
        }
        for (b, e) in &self.tx_by_buf {
            if crate::parse::buffer_proto(*b) != app && *b != BufferId::FileData {
                continue;
            }
            let read = tx_buffer(*b, Some(t.flow.dir));
            let n = tx.buffer_count(read);
            if n == 0 {
                continue;
            }
            let Some(g) = e.lookup(&sel) else {
                continue;
            };
            let mut present = false;
            for i in 0..n {
                if let Some(data) = tx.buffer(read, i) {
                    present = true;
                    let since = self.prof_start();
                    g.scan(data, cands);
                    self.prof_search(SearchAt::Tx(read), data.len(), since);
                }
            }
            if present {
                cands.extend_from_slice(&g.always);
            }
        }
        if cands.is_empty() {
            return;
        }
        cands.sort_unstable();
        cands.dedup();
        // As for stream chunks: rules whose ports refuse the flow fail at once.
        cands.retain(|r| self.pre_ok(*r, sp, dp, false));
        let tx_id = tx.tx_id();
        let dir_key = |r: u32| {
            let per_dir = self.rules.get(r as usize).is_some_and(tx_per_direction);
            if per_dir {
                t.flow.dir.index() as u8
            } else {
                TX_ANY_DIR
            }
        };
        if let Some(inner) = fs.inner.as_ref() {
            cands.retain(|r| !inner.tx_alerted.contains(&(tx_id, *r, dir_key(*r))));
        }
        if cands.is_empty() {
            return;
        }
        let ctx = Ctx {
            ts: t.ts,
            src,
            sp,
            dst,
            dp,
            proto: t.flow.key.proto.0,
            flow: Some(&t.flow),
            frame: t.frame,
            no_payload: false,
            pd_packet: false,
        };
        // Raw payload parts of tx rules look at this direction's stream turn
        // (moved out while the rules run, so flowbits can borrow the state).
        let di = t.flow.dir.index();
        let needs_turn = cands.iter().any(|&r| {
            self.rules
                .get(r as usize)
                .is_some_and(|r| !r.payload.is_empty())
        });
        // On UDP they read the datagram at hand.
        let udp = t.flow.key.proto == IpProto::UDP;
        let mut turn = match fs.inner.as_mut() {
            Some(i) if needs_turn && !udp => {
                let sd = &mut i.stream[di];
                sd.settle(self.limits.stream_window_bytes.max(1));
                std::mem::take(&mut sd.buf)
            }
            _ => Vec::new(),
        };
        let w = self.limits.stream_window_bytes.max(1);
        // Bytes the application layer had and the turn not yet follow it:
        // appended to the turn's buffer for the rules and cut off again
        // before it goes back (the raw stream brings them). Where they do not
        // follow it, they are read alone.
        let turn_len = turn.len();
        let mut alone = Vec::new();
        let joined = if needs_turn && !udp {
            self.ahead_of(fs, app, t.flow.dir).map(|(follows, a)| {
                if follows {
                    a.copy_to(&mut turn);
                } else {
                    a.copy_to(&mut alone);
                }
                follows
            })
        } else {
            None
        };
        let view = if udp {
            t.payload
        } else if joined == Some(false) {
            alone.get(alone.len().saturating_sub(w)..).unwrap_or(&alone)
        } else {
            turn.get(turn.len().saturating_sub(w)..).unwrap_or(&turn)
        };
        self.run_candidates(
            cands,
            &ctx,
            Src::Tx(tx),
            Some(view),
            Some(fs),
            out,
            Some(matched),
        );
        if needs_turn
            && !udp
            && let Some(i) = fs.inner.as_mut()
        {
            turn.truncate(turn_len);
            i.stream[di].buf = turn;
        }
        let limit = self.limits.tx_alerts_per_flow.max(1);
        let inner = fs.inner();
        for &r in matched.iter() {
            if inner.tx_alerted.len() >= limit {
                // Forget the oldest transaction's records.
                let oldest = inner.tx_alerted.iter().map(|x| x.0).min().unwrap_or(0);
                inner.tx_alerted.retain(|x| x.0 != oldest);
                self.counters.tx_alerts_full.fetch_add(1, Ordering::Relaxed);
            }
            inner.tx_alerted.push((tx_id, r, dir_key(r)));
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
            let since = self.prof_start();
            let hit = self.eval_rule(r, ctx, src, payload, fs.as_deref());
            if let (Some(p), Some(t)) = (&self.profile, since) {
                p.rule(ri, t, hit);
            }
            if !hit {
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
        if ctx.no_payload && !r.payload.is_empty() {
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
        if !r.alp.is_empty() && !ctx.pd_packet && pd_only(r) {
            return false;
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
            let dir = ctx.flow.map(|f| f.dir);
            for (b, ops) in &r.bufs {
                let read = tx_buffer(*b, dir);
                let n = tx.buffer_count(read);
                let mut any = false;
                for i in 0..n {
                    if let Some(data) = tx.buffer(read, i) {
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

/// A packet-engine member: rule, prefilter key, protocol.
type PktMember<'a> = (u32, Option<&'a Key>, HdrProto);

/// A rule's prefilter key: from its payload (packet and stream rules) or the
/// buffer its fast pattern is in (transaction rules).
/// True for Suricata's "protocol-detection-only" rules: `app-layer-protocol`
/// with at most `flow:to_server|to_client` and `flowbits:set`, no other
/// keyword and no application protocol in the header. They match only on the
/// packet where a direction's protocol is first seen identified, not on every
/// packet after.
fn pd_only(r: &Rule) -> bool {
    !r.alp.is_empty()
        && r.app.is_none()
        && r.kind == Kind::Packet
        && r.payload.is_empty()
        && r.bufs.is_empty()
        && r.tx.is_empty()
        && r.pkt.is_empty()
        && r.threshold.is_none()
        && r.flowbits.iter().all(|b| matches!(b, Flowbit::Set(_)))
        && !(r.flow.established
            || r.flow.not_established
            || r.flow.stateless
            || r.flow.only_stream
            || r.flow.no_stream)
}

/// The direction slot of a transaction record for rules matched once per
/// transaction whatever the direction.
const TX_ANY_DIR: u8 = u8::MAX;

/// True for transaction rules that Suricata matches once per transaction *and
/// direction*: those whose only application checks read per-direction data
/// (`ssl_version`: the client's hello version to the server, the server's to
/// the client; `ssh.proto` / `ssh.software`: each side's banner).
fn tx_per_direction(r: &Rule) -> bool {
    (!r.bufs.is_empty() || !r.tx.is_empty())
        && r.bufs
            .iter()
            .all(|(b, _)| matches!(b, BufferId::SshProto | BufferId::SshSoftware))
        && r.tx.iter().all(|c| matches!(c, TxCheck::Versions { .. }))
}

/// A transaction rule's key among its plain contents when it has no key in a
/// transaction buffer (its `fast_pattern` is a plain content, or it has no
/// positive buffer content): searched anywhere in the stream turn, whatever
/// the content's position keywords (a turn longer than the window counts
/// positions from the window).
fn tx_raw_key(r: &Rule) -> Option<Key> {
    if r.kind != Kind::Tx || rule_key(r).is_some() {
        return None;
    }
    choose_key(&r.payload).map(|k| Key {
        reach: None,
        alt: None,
        ..k
    })
}

fn rule_key(r: &Rule) -> Option<Key> {
    match r.kind {
        Kind::Packet | Kind::Stream => choose_key(&r.payload),
        Kind::Tx => match &r.fast {
            Some(FastSel {
                list: ListId::Buffer(b),
                ..
            }) => r
                .bufs
                .iter()
                .find(|x| x.0 == *b)
                .and_then(|x| choose_key(&x.1)),
            _ => None,
        },
        Kind::IpOnly => None,
    }
}

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

fn read_text(p: &Path) -> Result<String, RulesError> {
    let bytes = std::fs::read(p).map_err(|source| RulesError::Io {
        path: p.to_path_buf(),
        source,
    })?;
    // Valid UTF-8 (the usual case) is taken as is, without a lossy copy.
    Ok(match String::from_utf8(bytes) {
        Ok(s) => s,
        Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
    })
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

/// A multi-integer check over `values` (see [`MultiIndex`]). `done`: the
/// transaction is complete, so its number of values is final; until then
/// the checks that depend on that number (all, absent, at most …) do not
/// match yet.
fn multi_int_match(
    values: &[u64],
    cmp: Cmp,
    index: MultiIndex,
    (start, end): (i32, i32),
    done: bool,
) -> bool {
    let n = values.len() as i64;
    let from = if start >= 0 {
        i64::from(start)
    } else {
        n + i64::from(start)
    };
    let to = if end > 0 {
        i64::from(end)
    } else {
        n + i64::from(end)
    };
    let vs: &[u64] = if from < 0 || to > n || from >= to {
        &[]
    } else {
        values.get(from as usize..to as usize).unwrap_or(&[])
    };
    // Counts compared with `>`/`>=` can only grow: they may match early.
    let grows = |c: Cmp| matches!(c, Cmp::Gt(_) | Cmp::Ge(_));
    match index {
        MultiIndex::Any => vs.iter().any(|&v| cmp.test(v)),
        MultiIndex::OrAbsent => vs.iter().any(|&v| cmp.test(v)) || (vs.is_empty() && done),
        MultiIndex::All => done && !vs.is_empty() && vs.iter().all(|&v| cmp.test(v)),
        MultiIndex::AllOrAbsent => done && vs.iter().all(|&v| cmp.test(v)),
        MultiIndex::At { at, oob_or } => {
            let i = if at < 0 {
                vs.len() as i64 + i64::from(at)
            } else {
                i64::from(at)
            };
            match usize::try_from(i).ok().and_then(|i| vs.get(i)) {
                Some(&v) => cmp.test(v),
                None => oob_or && done,
            }
        }
        MultiIndex::Nb(c) => {
            (done || grows(c)) && c.test(vs.iter().filter(|&&v| cmp.test(v)).count() as u64)
        }
        MultiIndex::Count(c) => (done || grows(c)) && c.test(vs.len() as u64),
    }
}

fn tx_check(c: &TxCheck, tx: &dyn TxView) -> bool {
    match *c {
        TxCheck::Field(f, cmp) => tx.field(f).is_some_and(|v| cmp.test(v)),
        TxCheck::Multi {
            field,
            cmp,
            index,
            slice,
        } => {
            let mut values = Vec::new();
            tx.field_values(field, &mut values);
            let done = tx.complete(Direction::ToServer) && tx.complete(Direction::ToClient);
            multi_int_match(&values, cmp, index, slice, done)
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The bytes ahead of the turn: application chunks in, raw deliveries
    /// out (whole, in part, or ahead of the application), from the capture
    /// or copied, the pieces that hold the last window.
    #[test]
    fn bytes_ahead_follow_what_the_raw_stream_has_not_given() {
        let held = |a: &Ahead| {
            let mut v = Vec::new();
            a.copy_to(&mut v);
            v
        };
        let cap: Backing = std::sync::Arc::new(b"0123456789abcdefghij".to_vec());
        let c = (*cap).as_ref();
        let mut a = Ahead::default();
        a.push(0, &c[..4], Some(&cap), 100);
        a.push(4, b"4567", None, 100);
        a.push(8, &c[8..12], Some(&cap), 100);
        assert_eq!(held(&a), b"0123456789ab");
        assert!(a.follows_raw());
        // The raw stream gives part of a chunk: the rest stays.
        a.consume(6);
        assert_eq!(held(&a), b"6789ab");
        assert!(a.follows_raw());
        a.consume(12);
        assert_eq!(held(&a), b"");
        // A chunk the raw stream already gave in part: only the rest.
        a.consume(14);
        a.push(12, &c[12..16], Some(&cap), 100);
        assert_eq!(held(&a), b"ef");
        assert!(a.follows_raw());
        // One that does not follow starts over, not following the raw end.
        a.push(30, b"xyz", None, 100);
        assert_eq!(held(&a), b"xyz");
        assert!(!a.follows_raw());
        // The pieces that hold the last window: the older ones go.
        let mut a = Ahead::default();
        for i in 0..10u64 {
            a.push(
                i * 2,
                &c[(i * 2) as usize..(i * 2 + 2) as usize],
                Some(&cap),
                5,
            );
        }
        assert_eq!(held(&a), b"efghij");
        assert_eq!(a.bytes.base, 14);
        // The raw stream gives part of a span.
        a.consume(17);
        assert_eq!(held(&a), b"hij");
        assert!(a.follows_raw());
    }

    /// Every range of a turn made of copied bytes and spans of the capture
    /// reads the bytes the turn was given there (`copy_range` finds its
    /// first span from the end).
    #[test]
    fn turn_ranges_read_the_bytes_given() {
        let text: Vec<u8> = (0..200u8).collect();
        let cap: Backing = std::sync::Arc::new(text.clone());
        let c = (*cap).as_ref();
        let mut sd = StreamDir::default();
        let mut given = Vec::new();
        // Pieces of 1 to 9 bytes; every third one copied (not in the capture).
        let mut at = 0;
        for i in 0..30usize {
            let n = i % 9 + 1;
            let piece = &c[at..at + n];
            if i % 3 == 0 {
                // A copy: bytes outside the capture.
                let copy = piece.to_vec();
                sd.push(&copy, 1000, Some(&cap));
            } else {
                sd.push(piece, 1000, Some(&cap));
            }
            given.extend_from_slice(piece);
            at += n;
        }
        assert!(sd.spans.len() > 1 && !sd.buf.is_empty());
        let end = sd.end();
        assert_eq!(end, given.len() as u64);
        for from in 0..=end {
            for to in from..=end + 2 {
                let mut out = Vec::new();
                sd.copy_range(from, to, &mut out);
                let hi = to.min(end) as usize;
                assert_eq!(out, &given[from as usize..hi], "[{from}, {to})");
            }
        }
    }

    /// A long turn keeps its last window, its positions stay right, and the
    /// buffer never grows past `TRIM_AT` windows (chunks smaller than one).
    #[test]
    fn turn_buffer_keeps_the_window_within_its_capacity() {
        let w = 1000;
        let mut sd = StreamDir::default();
        let mut sent = Vec::new();
        let mut slid = false;
        for i in 0..500u32 {
            let chunk: Vec<u8> = (0..(i % 7) * 50 + 1).map(|j| (i + j) as u8).collect();
            sent.extend_from_slice(&chunk);
            slid |= sd.append(&chunk, w);
            assert_eq!(sd.base + sd.buf.len() as u64, sent.len() as u64);
            let base = usize::try_from(sd.base).unwrap_or(usize::MAX);
            assert_eq!(sd.buf.as_slice(), &sent[base..]);
            assert!(sd.buf.len() >= w.min(sent.len()));
            assert!(sd.buf.len() <= TRIM_AT * w, "{}", sd.buf.len());
        }
        assert!(slid && sd.base > 0);
        // One turn's buffer of the default window: allocated once, in full.
        let w = 16 * 1024;
        let mut sd = StreamDir::default();
        let mut caps = std::collections::BTreeSet::new();
        for _ in 0..200 {
            sd.append(&[b'x'; 1448], w);
            caps.insert(sd.buf.capacity());
        }
        let big: Vec<usize> = caps.into_iter().filter(|&c| c >= LONG_TURN).collect();
        assert_eq!(big, vec![TRIM_AT * w], "{big:?}");
    }
}
