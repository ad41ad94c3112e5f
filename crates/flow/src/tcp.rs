//! TCP session tracking (Suricata's state names, Zeek-style history) and per-direction
//! stream reassembly.
//!
//! Reassembly works on stream *offsets* (`u64`, 0 = first byte after the SYN or first
//! byte seen midstream); a sequence number is turned into an offset by its modular
//! distance to the next byte expected, so wrapping at 2^32 needs no special case.
//!
//! With [`Delivery::Immediate`] in-order data is handed on as a borrow of the packet;
//! only out-of-order data is copied (into [`Held`], allocated on first need), plus a
//! bounded copy of recently delivered bytes that retransmissions are compared against
//! until the peer acknowledges them. With [`Delivery::OnAck`] every byte is held until
//! the peer acknowledges it (then released to the application layer and queued for raw
//! inspection, which the next packet in the data's direction releases).
//!
//! `Held` buffers are pooled per table (a short free list), so a flow that fills and
//! empties its buffers on every acknowledgement does not allocate each time.

use crate::config::{Delivery, FlowConfig};
use crate::events::{Counters, StreamEvent};
use crate::kept::{Backings, Kept};
use crate::segments::{Piece, PieceStore, len64};
use crate::seq::SeqNumber;
use std::collections::VecDeque;
use stormwatch_model::{Direction, StreamData, TcpState, tcp_flags as tf};

// Per-direction bits.
const SYN_SEEN: u16 = 1 << 0;
const SYN_ACKED: u16 = 1 << 1;
const FIN_SEEN: u16 = 1 << 2;
const FIN_ACKED: u16 = 1 << 3;
const ACK_SEEN: u16 = 1 << 4;
const WIN_ZERO: u16 = 1 << 5;
const SEQ_KNOWN: u16 = 1 << 6;
const BASE_KNOWN: u16 = 1 << 7;
const DEPTH_REACHED: u16 = 1 << 8;
/// The peer is seen acknowledging: delivered bytes are kept until it does.
const KEEP_OK: u16 = 1 << 9;
/// This side sent a RST that closed the session.
const RST_SENT: u16 = 1 << 10;
/// `last_ts` holds this side's latest TCP timestamp value.
const TS_KNOWN: u16 = 1 << 11;

/// An RST is accepted when its sequence number lies within this distance of the
/// sender's next sequence number (1 MiB: larger than any unscaled window and than
/// common scaled ones; an injected RST must guess within it).
const RST_WINDOW: i32 = 1 << 20;

// Session bits.
const S_MIDSTREAM: u8 = 1 << 0;
const S_TRACKED: u8 = 1 << 2;
const S_FLIPPED: u8 = 1 << 3;
/// The session reached `established` (handshake or midstream pickup) at some point.
const S_ESTABLISHED: u8 = 1 << 4;
/// Both sides use the TCP timestamp option (both handshake packets carried it, or the
/// packet a midstream pickup started from): timestamps are checked (PAWS).
const S_TIMESTAMPS: u8 = 1 << 5;

/// History letters in code order; upper case for the originator.
const LETTERS: &[u8; 12] = b"SHADFRTCWGIQ";
const L_S: usize = 0;
const L_H: usize = 1;
const L_A: usize = 2;
const L_D: usize = 3;
const L_F: usize = 4;
const L_R: usize = 5;
const L_T: usize = 6;
const L_C: usize = 7;
const L_W: usize = 8;
const L_G: usize = 9;
const L_I: usize = 10;
const L_Q: usize = 11;
const CODE_FLIP: u128 = 25;

/// Empty [`Held`] buffers kept for reuse per table.
pub(crate) const POOL_MAX: usize = 32;
/// A pooled buffer's kept-bytes capacity is cut down to this.
const POOL_KEEP_CAP: usize = 128 << 10;

/// Empty [`Held`] buffers for reuse. Boxed: a buffer moves between the pool and a
/// flow without being copied or reallocated.
#[allow(clippy::vec_box)]
pub(crate) type HeldPool = Vec<Box<Held>>;

/// Shared state and limits the TCP code works against.
pub(crate) struct Env<'e> {
    pub cfg: &'e FlowConfig,
    pub counters: &'e mut Counters,
    /// Bytes held by reassembly across all flows.
    pub mem: &'e mut u64,
    /// Set when the global reassembly memcap was hit during this call.
    pub memcap_hit: &'e mut bool,
    /// Empty buffers for reuse (at most [`POOL_MAX`]).
    pub pool: &'e mut HeldPool,
    /// Where delivered bytes may be referred to instead of copied.
    pub backings: &'e Backings,
}

/// Who a released chunk is for.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) enum Release {
    /// Application layer and raw inspection at once ([`Delivery::Immediate`]).
    Both,
    /// The application layer ([`Delivery::OnAck`]: the peer acknowledged it).
    App,
    /// Raw inspection ([`Delivery::OnAck`]: a packet in the data's direction came).
    Raw,
}

/// Receives in-order stream chunks: for whom, direction, stream offset, data.
pub(crate) type ChunkSink<'s> = dyn FnMut(Release, Direction, u64, StreamData<'_>) + 's;

/// Released to the application layer, waiting for raw inspection.
#[derive(Debug)]
enum RawItem {
    Bytes(u64, Vec<u8>),
    Gap(u64, u32),
}

/// Held data of one direction: out-of-order (with [`Delivery::OnAck`]: all
/// unreleased) pieces, kept (delivered, unacknowledged) bytes, and data waiting for
/// raw inspection.
#[derive(Debug, Default)]
pub(crate) struct Held {
    ooo: PieceStore,
    kept: Kept,
    raw: VecDeque<RawItem>,
    raw_bytes: usize,
    accounted: u64,
}

impl Held {
    fn footprint(&self) -> u64 {
        let fixed = std::mem::size_of::<Held>()
            + self.ooo.len() * 48
            + self.raw.len() * 32
            + self.raw_bytes;
        u64::try_from(fixed + self.kept.footprint() + self.ooo.bytes()).unwrap_or(u64::MAX)
    }

    fn is_empty(&self) -> bool {
        self.ooo.is_empty() && self.kept.is_empty() && self.raw.is_empty()
    }
}

/// One direction of a TCP connection: the sender's sequence facts and the
/// reassembly of what it sends.
#[derive(Debug, Default)]
pub(crate) struct TcpDir {
    /// Stream offset of the next byte to deliver (to the application layer).
    delivered: u64,
    held: Option<Box<Held>>,
    isn: u32,
    /// Highest sequence number sent so far plus one (valid with `SEQ_KNOWN`).
    next_seq: u32,
    /// Sequence number of this side's FIN.
    fin_seq: u32,
    /// Sequence number of stream offset 0 (valid with `BASE_KNOWN`).
    base: u32,
    /// Latest TCP timestamp value of an in-sequence segment (valid with `TS_KNOWN`).
    last_ts: u32,
    /// Gap bytes reported (saturating).
    gap_bytes: u32,
    bits: u16,
    hist_seen: u16,
    flags: u8,
}

/// The TCP part of a flow.
#[derive(Debug)]
pub(crate) struct TcpSession {
    dir: [TcpDir; 2],
    /// History codes, 5 bits each in order (a `u128` split in two words, so the
    /// session needs no 16-byte alignment): 1–12 originator letters, 13–24
    /// responder letters, 25 `^`.
    hist: [u64; 2],
    hist_len: u8,
    state: TcpState,
    bits: u8,
}

impl Default for TcpSession {
    fn default() -> Self {
        TcpSession {
            dir: [TcpDir::default(), TcpDir::default()],
            hist: [0; 2],
            hist_len: 0,
            state: TcpState::None,
            bits: 0,
        }
    }
}

/// What the stream phase of a segment has to do.
#[derive(Copy, Clone, Debug, Default)]
pub(crate) struct Plan {
    /// The segment acknowledges the peer's stream up to here.
    pub peer_ack: Option<u32>,
    /// The payload is stream data starting at this sequence number.
    pub data_seq: Option<u32>,
    /// Made by [`TcpSession::on_segment_fast`]: the stream phase may take
    /// [`TcpSession::fast_ack`] and [`TcpSession::fast_data_delivered`].
    pub fast: bool,
}

/// The TCP facts of one segment.
#[derive(Copy, Clone, Debug)]
pub(crate) struct Segment<'p> {
    pub seq: u32,
    pub ack: u32,
    pub flags: u8,
    pub window: u16,
    /// Timestamp option value (TSval), when present.
    pub tsval: Option<u32>,
    pub payload: &'p [u8],
}

fn low32(v: u64) -> u32 {
    let b = v.to_le_bytes();
    u32::from_le_bytes([b[0], b[1], b[2], b[3]])
}

fn low64(v: u128) -> u64 {
    let b = v.to_le_bytes();
    u64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]])
}

fn i64_of(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

fn usize_of(v: u64) -> usize {
    usize::try_from(v).unwrap_or(usize::MAX)
}

fn seq_ge(a: u32, b: u32) -> bool {
    SeqNumber(a).distance(SeqNumber(b)) >= 0
}

fn on_ack(env: &Env<'_>) -> bool {
    env.cfg.delivery == Delivery::OnAck
}

impl TcpDir {
    fn has(&self, b: u16) -> bool {
        self.bits & b != 0
    }

    fn set(&mut self, b: u16) {
        self.bits |= b;
    }

    /// Sequence number of the next byte to deliver.
    fn delivery_seq(&self) -> u32 {
        self.base.wrapping_add(low32(self.delivered))
    }

    /// Stream offset of sequence number `seq` (negative: before offset 0).
    fn offset_of(&self, seq: u32) -> i64 {
        let expected = self.delivery_seq();
        i64_of(self.delivered) + i64::from(SeqNumber(seq).distance(SeqNumber(expected)))
    }

    fn note_seq_end(&mut self, end: u32) {
        if self.has(SEQ_KNOWN) {
            self.next_seq = SeqNumber(self.next_seq).max_mod(SeqNumber(end)).0;
        } else {
            self.next_seq = end;
            self.set(SEQ_KNOWN);
        }
    }

    fn depth_limit(cfg: &FlowConfig) -> u64 {
        if cfg.reassembly_depth_bytes == 0 {
            u64::MAX
        } else {
            cfg.reassembly_depth_bytes
        }
    }

    /// The held buffers, taken from the pool (or allocated) on first need.
    fn held_mut<'h>(held: &'h mut Option<Box<Held>>, pool: &mut HeldPool) -> &'h mut Held {
        held.get_or_insert_with(|| pool.pop().unwrap_or_default())
    }

    /// Re-accounts the held buffers against the global memory figure and returns
    /// them to the pool when empty.
    #[inline]
    fn account(&mut self, env: &mut Env<'_>) {
        let Some(h) = self.held.as_mut() else {
            return;
        };
        let empty = h.is_empty();
        let now = if empty { 0 } else { h.footprint() };
        if !empty && now == h.accounted {
            // Nothing changed (the counter already shows the global figure).
            return;
        }
        *env.mem = env.mem.saturating_sub(h.accounted).saturating_add(now);
        h.accounted = now;
        if empty
            && let Some(mut h) = self.held.take()
            && env.pool.len() < POOL_MAX
        {
            h.kept.reset(POOL_KEEP_CAP);
            h.raw_bytes = 0;
            env.pool.push(h);
        }
        env.counters.tcp_reasm_mem = *env.mem;
    }

    /// Hands `data` (at the delivery point) on and advances the delivery point.
    fn emit_bytes(
        &mut self,
        rel: Release,
        d: Direction,
        data: &[u8],
        env: &mut Env<'_>,
        sink: &mut ChunkSink<'_>,
    ) {
        if data.is_empty() {
            return;
        }
        sink(rel, d, self.delivered, StreamData::Bytes(data));
        self.advance(rel, data, env);
    }

    /// The delivery point moves past `data`, just handed on (with `rel`).
    #[inline(always)]
    fn advance(&mut self, rel: Release, data: &[u8], env: &mut Env<'_>) {
        if rel == Release::Both {
            self.keep(data, env);
        }
        self.delivered = self.delivered.saturating_add(len64(data));
        env.counters.tcp_stream_bytes += len64(data);
        if self.delivered >= Self::depth_limit(env.cfg) {
            self.reach_depth(env);
        }
    }

    /// Hands on `data[from..]` (owned; it starts at the delivery point). With
    /// [`Delivery::OnAck`] the bytes then wait for raw inspection.
    fn emit_owned(
        &mut self,
        d: Direction,
        mut data: Vec<u8>,
        from: usize,
        env: &mut Env<'_>,
        sink: &mut ChunkSink<'_>,
    ) {
        let Some(part) = data.get(from..) else {
            return;
        };
        if part.is_empty() {
            return;
        }
        let start = self.delivered;
        if on_ack(env) {
            self.emit_bytes(Release::App, d, part, env, sink);
            if from > 0 {
                data.drain(..from);
            }
            let h = Self::held_mut(&mut self.held, env.pool);
            h.raw_bytes += data.len();
            h.raw.push_back(RawItem::Bytes(start, data));
        } else {
            self.emit_bytes(Release::Both, d, part, env, sink);
        }
    }

    fn reach_depth(&mut self, env: &mut Env<'_>) {
        if !self.has(DEPTH_REACHED) {
            self.set(DEPTH_REACHED);
            env.counters.tcp_depth_reached += 1;
        }
        if let Some(h) = self.held.as_mut() {
            h.ooo.clear();
            h.kept.release_memory(self.delivered);
        }
        self.account(env);
    }

    fn emit_gap(
        &mut self,
        d: Direction,
        len: u64,
        env: &mut Env<'_>,
        sink: &mut ChunkSink<'_>,
    ) -> u32 {
        let rel = if on_ack(env) {
            Release::App
        } else {
            Release::Both
        };
        let mut left = len;
        while left > 0 {
            let n = u32::try_from(left).unwrap_or(u32::MAX);
            sink(rel, d, self.delivered, StreamData::Gap(n));
            if rel == Release::App {
                let h = Self::held_mut(&mut self.held, env.pool);
                h.raw.push_back(RawItem::Gap(self.delivered, n));
            }
            self.delivered = self.delivered.saturating_add(u64::from(n));
            left -= u64::from(n);
        }
        let add = u32::try_from(len).unwrap_or(u32::MAX);
        self.gap_bytes = self.gap_bytes.saturating_add(add);
        env.counters.tcp_gap += 1;
        env.counters.tcp_gap_bytes += len;
        if let Some(h) = self.held.as_mut() {
            h.kept.clear_at(self.delivered);
        }
        if self.delivered >= Self::depth_limit(env.cfg) {
            self.reach_depth(env);
        }
        StreamEvent::SeqGap.bit()
    }

    /// Appends delivered bytes to the kept window (for retransmission checks).
    #[inline(always)]
    fn keep(&mut self, data: &[u8], env: &mut Env<'_>) {
        let cap = usize_of(u64::from(env.cfg.retransmit_check_bytes));
        if cap == 0 || !self.has(KEEP_OK) {
            return;
        }
        let start = self.delivered;
        let end = start.saturating_add(len64(data));
        let h = Self::held_mut(&mut self.held, env.pool);
        if *env.mem >= env.cfg.reassembly_memcap_bytes {
            // No room: forget what was kept; retransmissions of it go unchecked.
            h.kept.clear_at(end);
            return;
        }
        h.kept.push(start, data, cap, env.backings);
    }

    /// Forgets kept bytes before `off` (the peer acknowledged them).
    fn trim_kept(&mut self, off: u64) {
        if let Some(h) = self.held.as_mut() {
            h.kept.trim_to(off);
        }
    }

    /// Compares `[start, end)` of `data` (which begins at `data_start`) with kept bytes.
    fn differs_from_kept(
        &self,
        data_start: u64,
        data: &[u8],
        end: u64,
        backings: &Backings,
    ) -> bool {
        self.held
            .as_ref()
            .is_some_and(|h| h.kept.differs(data_start, data, end, backings))
    }

    /// Delivers held pieces that start at (or before) the delivery point, up to
    /// offset `upto` (a piece reaching past it is cut; its rest stays held).
    fn release_held(
        &mut self,
        d: Direction,
        upto: u64,
        env: &mut Env<'_>,
        sink: &mut ChunkSink<'_>,
    ) {
        loop {
            if self.delivered >= upto || self.has(DEPTH_REACHED) {
                return;
            }
            let Some(h) = self.held.as_mut() else {
                return;
            };
            if h.ooo.front().is_none_or(|f| f.start > self.delivered) {
                return;
            }
            let Some(mut p) = h.ooo.pop_front() else {
                return;
            };
            let end = p.end();
            if end <= self.delivered {
                continue;
            }
            let from = usize_of(self.delivered - p.start);
            if end > upto {
                let to = usize_of(upto - p.start);
                let rest = p.data.split_off(to);
                h.ooo.push_front(Piece {
                    start: upto,
                    data: rest,
                    orig_start: p.orig_start,
                    orig_end: p.orig_end,
                });
            }
            self.emit_owned(d, p.data, from, env, sink);
        }
    }

    /// Gaps out up to the first held piece and delivers what follows it.
    fn gap_out_first(&mut self, d: Direction, env: &mut Env<'_>, sink: &mut ChunkSink<'_>) -> u32 {
        let Some(start) = self
            .held
            .as_ref()
            .and_then(|h| h.ooo.front())
            .map(|p| p.start)
        else {
            return 0;
        };
        let mut ev = 0;
        if start > self.delivered {
            ev |= self.emit_gap(d, start - self.delivered, env, sink);
        }
        self.release_held(d, u64::MAX, env, sink);
        ev
    }

    /// Delivers everything held, reporting the holes as gaps.
    fn flush(&mut self, d: Direction, env: &mut Env<'_>, sink: &mut ChunkSink<'_>) -> u32 {
        let mut ev = 0;
        while self
            .held
            .as_ref()
            .is_some_and(|h| !h.ooo.is_empty() && !self.has(DEPTH_REACHED))
        {
            ev |= self.gap_out_first(d, env, sink);
        }
        self.account(env);
        ev
    }

    /// [`Delivery::OnAck`]: hands what the application layer already has to raw
    /// inspection.
    fn release_raw(&mut self, d: Direction, env: &mut Env<'_>, sink: &mut ChunkSink<'_>) {
        let Some(h) = self.held.as_mut() else {
            return;
        };
        if h.raw.is_empty() {
            return;
        }
        while let Some(item) = h.raw.pop_front() {
            match item {
                RawItem::Bytes(off, v) => {
                    h.raw_bytes = h.raw_bytes.saturating_sub(v.len());
                    sink(Release::Raw, d, off, StreamData::Bytes(&v));
                }
                RawItem::Gap(off, n) => sink(Release::Raw, d, off, StreamData::Gap(n)),
            }
        }
        h.raw_bytes = 0;
        self.account(env);
    }

    /// Handles `data` whose first byte has sequence number `seq`.
    fn on_data(
        &mut self,
        d: Direction,
        seq: u32,
        data: &[u8],
        env: &mut Env<'_>,
        sink: &mut ChunkSink<'_>,
    ) -> u32 {
        let mut ev = 0;
        if data.is_empty() || self.has(DEPTH_REACHED) {
            return ev;
        }
        let off = self.offset_of(seq);
        let (mut start, mut data) = if off < 0 {
            let cut = usize_of(off.unsigned_abs());
            if cut >= data.len() {
                env.counters.tcp_before_base += 1;
                return ev | StreamEvent::SegmentBeforeBase.bit();
            }
            (0u64, &data[cut..])
        } else {
            (off.unsigned_abs(), data)
        };
        let orig_s = start;
        let orig_e = start + len64(data);
        let limit = Self::depth_limit(env.cfg);
        if start >= limit {
            // Beyond the depth: never delivered (the depth is reached only once the
            // bytes before it were).
            return ev;
        }
        if orig_e > limit {
            data = &data[..usize_of(limit - start)];
        }
        // A FIN ends the stream: nothing after it is data.
        if self.has(FIN_SEEN) {
            let fin_off = self.offset_of(self.fin_seq);
            if fin_off >= 0 && start.saturating_add(len64(data)) > fin_off.unsigned_abs() {
                env.counters.tcp_data_after_fin += 1;
                let keep = usize_of(fin_off.unsigned_abs().saturating_sub(start));
                data = &data[..keep.min(data.len())];
                if data.is_empty() {
                    return ev;
                }
            }
        }
        let end = start + len64(data);
        // Bytes already handed on: a retransmission, never re-delivered.
        if start < self.delivered {
            let dup_end = end.min(self.delivered);
            env.counters.tcp_retransmission += 1;
            ev |= StreamEvent::PktRetransmission.bit();
            if self.differs_from_kept(start, data, dup_end, env.backings) {
                env.counters.tcp_overlap_diff += 1;
                ev |= StreamEvent::OverlapDifferentData.bit();
            }
            data = &data[usize_of(dup_end - start)..];
            start = dup_end;
            if data.is_empty() {
                return ev;
            }
        }
        let ack_mode = on_ack(env);
        let front = self
            .held
            .as_ref()
            .and_then(|h| h.ooo.front())
            .map(|p| p.start);
        if !ack_mode && start == self.delivered && front.is_none_or(|f| end <= f) {
            // The common case: in order, nothing held in the way. Zero-copy.
            self.emit_bytes(Release::Both, d, data, env, sink);
            if front.is_some() {
                self.release_held(d, u64::MAX, env, sink);
            }
            if self.held.is_some() {
                self.account(env);
            }
            return ev;
        }
        let in_order = start == self.delivered
            || (ack_mode && self.held.as_ref().is_some_and(|h| h.ooo.ends_at(start)));
        if !in_order && start > self.delivered {
            env.counters.tcp_ooo += 1;
        }
        let policy = env.cfg.overlap_policy;
        let h = Self::held_mut(&mut self.held, env.pool);
        let out = h.ooo.insert(start, data, orig_s, orig_e, |a, b, c, e| {
            policy.tcp_new_wins(a, b, c, e)
        });
        if out.overlapped {
            env.counters.tcp_overlap += 1;
        }
        if out.different {
            env.counters.tcp_overlap_diff += 1;
            ev |= StreamEvent::OverlapDifferentData.bit();
        }
        if out.duplicate {
            env.counters.tcp_retransmission += 1;
            ev |= StreamEvent::PktRetransmission.bit();
        }
        if !ack_mode {
            self.release_held(d, u64::MAX, env, sink);
        }
        // Bounded queue: too much held gaps out the oldest hole (or, nothing missing,
        // releases the oldest data without waiting for its acknowledgement).
        loop {
            let (n, b) = match self.held.as_ref() {
                Some(h) => (h.ooo.len(), h.ooo.bytes()),
                None => (0, 0),
            };
            let over_n = u64::try_from(n).unwrap_or(u64::MAX)
                > u64::from(env.cfg.reassembly_max_held_segments);
            let over_b =
                u64::try_from(b).unwrap_or(u64::MAX) > u64::from(env.cfg.reassembly_max_held_bytes);
            if n == 0 || !(over_n || over_b) || self.has(DEPTH_REACHED) {
                break;
            }
            env.counters.tcp_held_limit += 1;
            ev |= StreamEvent::InsertLimit.bit();
            ev |= self.gap_out_first(d, env, sink);
        }
        self.account(env);
        if *env.mem > env.cfg.reassembly_memcap_bytes {
            env.counters.tcp_memcap += 1;
            *env.memcap_hit = true;
            ev |= StreamEvent::InsertMemcap.bit();
            ev |= self.flush(d, env, sink);
            if let Some(h) = self.held.as_mut() {
                h.kept.release_memory(self.delivered);
            }
            self.account(env);
        }
        ev
    }

    /// The peer acknowledged up to `ack`: what it acknowledged but was never seen
    /// is a gap; held data up to there is released.
    fn on_peer_ack(
        &mut self,
        d: Direction,
        ack: u32,
        env: &mut Env<'_>,
        sink: &mut ChunkSink<'_>,
    ) -> u32 {
        if !self.has(BASE_KNOWN) {
            return 0;
        }
        let a = self.offset_of(ack);
        if a <= i64_of(self.delivered) {
            if a > 0 && self.held.is_some() {
                self.trim_kept(a.unsigned_abs());
                self.account(env);
            }
            return 0;
        }
        let mut a = a.unsigned_abs();
        if self.has(FIN_SEEN) {
            let f = self.offset_of(self.fin_seq);
            if f >= 0 {
                a = a.min(f.unsigned_abs());
            }
        }
        a = a.min(Self::depth_limit(env.cfg));
        self.trim_kept(a);
        let mut ev = 0;
        if self.has(DEPTH_REACHED) {
            return ev;
        }
        let upto = if on_ack(env) { a } else { u64::MAX };
        while self.delivered < a && !self.has(DEPTH_REACHED) {
            let front = self
                .held
                .as_ref()
                .and_then(|h| h.ooo.front())
                .map(|p| p.start);
            match front {
                Some(f) if f <= self.delivered => self.release_held(d, upto, env, sink),
                Some(f) if f < a => {
                    ev |= self.emit_gap(d, f - self.delivered, env, sink);
                    self.release_held(d, upto, env, sink);
                }
                _ => {
                    let n = a - self.delivered;
                    ev |= self.emit_gap(d, n, env, sink);
                }
            }
        }
        self.account(env);
        ev
    }
}

impl TcpSession {
    fn has(&self, b: u8) -> bool {
        self.bits & b != 0
    }

    /// TCP state.
    pub fn state(&self) -> TcpState {
        self.state
    }

    /// Handshake seen complete (not a midstream pickup).
    pub fn handshake_done(&self) -> bool {
        let [c, s] = &self.dir;
        !self.has(S_MIDSTREAM)
            && c.has(SYN_SEEN)
            && s.has(SYN_SEEN)
            && c.has(SYN_ACKED)
            && s.has(SYN_ACKED)
    }

    /// The session was established (handshake done or picked up midstream), now or
    /// before it closed. A SYN answered by a RST never was.
    pub fn established(&self) -> bool {
        self.has(S_ESTABLISHED)
    }

    /// Reassembly is active for data sent in direction `d`.
    pub fn stream_tracked(&self, d: Direction) -> bool {
        self.has(S_TRACKED) && !self.dir[d.index()].has(DEPTH_REACHED)
    }

    /// OR of the flags sent in direction `d`.
    pub fn flags(&self, d: Direction) -> u8 {
        self.dir[d.index()].flags
    }

    /// Gap bytes reported in direction `d`.
    pub fn gap_bytes(&self, d: Direction) -> u64 {
        u64::from(self.dir[d.index()].gap_bytes)
    }

    /// The initial sequence number of the client, when its SYN was seen.
    pub fn client_isn(&self) -> Option<u32> {
        let c = &self.dir[0];
        c.has(SYN_SEEN).then_some(c.isn)
    }

    /// The connection reached a state in which a new SYN on the same tuple starts
    /// a new connection (closed by RST or FIN exchange).
    pub fn reusable(&self) -> bool {
        matches!(
            self.state,
            TcpState::LastAck | TcpState::TimeWait | TcpState::Closed
        )
    }

    /// Zeek-style history string.
    pub fn history(&self) -> String {
        let mut s = String::with_capacity(usize::from(self.hist_len));
        let hist = self.hist_bits();
        for i in 0..u32::from(self.hist_len) {
            let code = (hist >> (5 * i)) & 31;
            if code == CODE_FLIP {
                s.push('^');
            } else if (1..=12).contains(&code) {
                let c = LETTERS[usize_of(u64::try_from(code - 1).unwrap_or(0))];
                s.push(char::from(c));
            } else if (13..=24).contains(&code) {
                let c = LETTERS[usize_of(u64::try_from(code - 13).unwrap_or(0))];
                s.push(char::from(c.to_ascii_lowercase()));
            }
        }
        s
    }

    fn hist_bits(&self) -> u128 {
        u128::from(self.hist[0]) | (u128::from(self.hist[1]) << 64)
    }

    fn push_hist(&mut self, code: u128) {
        if self.hist_len < 25 {
            let h = self.hist_bits() | (code << (5 * u32::from(self.hist_len)));
            self.hist = [low64(h), low64(h >> 64)];
            self.hist_len += 1;
        }
    }

    /// Records history letter `letter` for direction `d` (first occurrence only).
    fn letter(&mut self, d: Direction, letter: usize) {
        let bit = 1u16 << letter;
        let dir = &mut self.dir[d.index()];
        if dir.hist_seen & bit != 0 {
            return;
        }
        dir.hist_seen |= bit;
        let base = match d {
            Direction::ToServer => 1,
            Direction::ToClient => 13,
        };
        self.push_hist(base + u128::try_from(letter).unwrap_or(0));
    }

    /// Records the `C` (bad checksum) letter.
    pub fn bad_checksum(&mut self, d: Direction) {
        self.letter(d, L_C);
    }

    /// Sets up the session for the flow's first packet. `flipped`: the first packet
    /// came from the server (a SYN/ACK), so history starts with `^`.
    pub fn start(
        &mut self,
        seg: &Segment<'_>,
        flipped: bool,
        cfg: &FlowConfig,
        counters: &mut Counters,
    ) -> u32 {
        counters.tcp_sessions += 1;
        if flipped {
            self.bits |= S_FLIPPED;
            self.push_hist(CODE_FLIP);
        }
        let f = seg.flags;
        let mut ev = 0;
        if f & tf::SYN != 0 && f & tf::RST == 0 {
            // Handshake (or a SYN/ACK picked up, which needs midstream).
            if f & tf::ACK == 0 || cfg.midstream {
                self.bits |= S_TRACKED;
            }
        } else if f & tf::RST != 0 {
            ev |= StreamEvent::RstButNoSession.bit();
        } else if f & tf::FIN != 0 {
            ev |= StreamEvent::FinButNoSession.bit();
        }
        ev
    }

    /// Tries a midstream pickup on a packet without SYN.
    fn try_pickup(&mut self, seg: &Segment<'_>, cfg: &FlowConfig, counters: &mut Counters) {
        let f = seg.flags;
        if cfg.midstream && f & tf::ACK != 0 && f & (tf::RST | tf::FIN | tf::SYN) == 0 {
            self.bits |= S_TRACKED | S_MIDSTREAM | S_ESTABLISHED;
            if seg.tsval.is_some() {
                // Timestamps in use; each side's first value is taken as it comes.
                self.bits |= S_TIMESTAMPS;
            }
            self.state = TcpState::Established;
            counters.tcp_midstream += 1;
        }
    }

    fn history_for(&mut self, d: Direction, seg: &Segment<'_>) {
        let f = seg.flags;
        let syn = f & tf::SYN != 0;
        let fin = f & tf::FIN != 0;
        let rst = f & tf::RST != 0;
        let ack = f & tf::ACK != 0;
        let data = !seg.payload.is_empty();
        if syn && (fin || rst) {
            self.letter(d, L_Q);
        } else if syn {
            self.letter(d, if ack { L_H } else { L_S });
        }
        // Data comes before a FIN or RST on the same segment (sequence order).
        if data {
            self.letter(d, L_D);
        }
        if !syn {
            if fin && rst {
                self.letter(d, L_I);
            } else if fin {
                self.letter(d, L_F);
            } else if rst {
                self.letter(d, L_R);
            } else if ack && !data {
                self.letter(d, L_A);
            }
        }
        if seg.window == 0 && !rst {
            self.letter(d, L_W);
        }
    }

    fn recompute_handshake(&mut self) {
        if !matches!(
            self.state,
            TcpState::None | TcpState::SynSent | TcpState::SynRecv
        ) {
            return;
        }
        let [c, s] = &self.dir;
        let seen = (c.has(SYN_SEEN), s.has(SYN_SEEN));
        let acked = (c.has(SYN_ACKED), s.has(SYN_ACKED));
        self.state = if seen.0 && seen.1 && acked.0 && acked.1 {
            self.bits |= S_ESTABLISHED;
            TcpState::Established
        } else if seen.0 && seen.1 && (acked.0 || acked.1) {
            TcpState::SynRecv
        } else if seen.0 || seen.1 {
            TcpState::SynSent
        } else {
            self.state
        };
    }

    /// The state phase of the common segment, decided and applied at once: on an
    /// established connection, an ACK without SYN, FIN or RST, with a non-zero
    /// window, that acknowledges nothing beyond what the peer's stream delivered and
    /// (when it carries data) starts exactly at the next sequence number, where
    /// nothing is held out of order and the depth stays ahead. `None` (and nothing
    /// changed) for every other segment, which takes [`TcpSession::on_segment`].
    /// Such a segment raises no event and changes no counter there either; this
    /// does what that would do, and its plan lets the stream phase take the matching
    /// shortcut ([`TcpSession::fast_ack`]; `docs/flow.md`, "The fast path").
    #[inline(always)]
    pub fn on_segment_fast(
        &mut self,
        d: Direction,
        seg: &Segment<'_>,
        cfg: &FlowConfig,
    ) -> Option<Plan> {
        let f = seg.flags;
        if self.state != TcpState::Established
            || self.bits & S_TRACKED == 0
            || f & (tf::SYN | tf::FIN | tf::RST | tf::ACK) != tf::ACK
            || seg.ack == 0
            || seg.window == 0
            || cfg.delivery != Delivery::Immediate
        {
            return None;
        }
        let di = d.index();
        let [a, b] = &self.dir;
        let (me, peer) = if di == 0 { (a, b) } else { (b, a) };
        const ME_NEED: u16 = SEQ_KNOWN | BASE_KNOWN;
        const ME_BAR: u16 = RST_SENT | FIN_SEEN | DEPTH_REACHED;
        if me.bits & (ME_NEED | ME_BAR) != ME_NEED
            || peer.bits & (BASE_KNOWN | FIN_SEEN) != BASE_KNOWN
            || peer.bits & (SYN_SEEN | SYN_ACKED) == SYN_SEEN
        {
            return None;
        }
        if peer.has(SEQ_KNOWN) && SeqNumber(seg.ack).distance(SeqNumber(peer.next_seq)) > (1 << 30)
        {
            return None;
        }
        // Acknowledges nothing past the delivery point (`offset_of(ack) <= delivered`).
        if SeqNumber(seg.ack).distance(SeqNumber(peer.delivery_seq())) > 0 {
            return None;
        }
        let mut new_ts = None;
        if let Some(ts) = seg.tsval
            && self.bits & S_TIMESTAMPS != 0
        {
            if !me.has(TS_KNOWN) || ts == 0 || SeqNumber(ts).distance(SeqNumber(me.last_ts)) < 0 {
                return None;
            }
            if seg.seq == me.next_seq {
                new_ts = Some(ts);
            }
        }
        let plen = u32::try_from(seg.payload.len()).ok()?;
        let data = plen > 0;
        if data
            && (plen >= 1 << 30
                || seg.seq != me.next_seq
                || (plen == 1 && peer.has(WIN_ZERO))
                || seg.seq != me.delivery_seq()
                || me.held.as_ref().is_some_and(|h| !h.ooo.is_empty())
                || me.delivered.saturating_add(u64::from(plen)) >= TcpDir::depth_limit(cfg))
        {
            return None;
        }
        let peer_acks = peer.has(ACK_SEEN);
        let me = &mut self.dir[di];
        me.flags |= f;
        me.bits = (me.bits & !WIN_ZERO) | ACK_SEEN;
        if let Some(ts) = new_ts {
            me.last_ts = ts;
        }
        if data {
            if peer_acks {
                me.set(KEEP_OK);
            }
            me.next_seq = seg.seq.wrapping_add(plen);
        }
        let letter = if data { L_D } else { L_A };
        if me.hist_seen & (1 << letter) == 0 {
            self.letter(d, letter);
        }
        Some(Plan {
            peer_ack: Some(seg.ack),
            data_seq: data.then_some(seg.seq),
            fast: true,
        })
    }

    /// The stream phase of a plan from [`TcpSession::on_segment_fast`], first part:
    /// what [`TcpDir::on_peer_ack`] does for an acknowledgement that reaches no
    /// further than the delivered stream (forget the kept bytes it covers). The
    /// caller then hands the payload on at [`TcpSession::delivered`] and calls
    /// [`TcpSession::fast_data_delivered`] — what [`TcpDir::on_data`] does for data
    /// at the delivery point with nothing held after it, without the chunk sink.
    /// (The general [`TcpSession::on_stream`] gives the same result for such a plan.)
    #[inline(always)]
    pub fn fast_ack(&mut self, d: Direction, plan: Plan, env: &mut Env<'_>) {
        if let Some(ack) = plan.peer_ack {
            let peer = &mut self.dir[d.flip().index()];
            if peer.held.is_some() {
                let a = peer.offset_of(ack);
                if a > 0 {
                    peer.trim_kept(a.unsigned_abs());
                    peer.account(env);
                }
            }
        }
    }

    /// Stream offset of the next byte to deliver in direction `d`.
    pub fn delivered(&self, d: Direction) -> u64 {
        self.dir[d.index()].delivered
    }

    /// See [`TcpSession::fast_ack`]: `data` was handed on at the delivery point of
    /// direction `d`.
    #[inline(always)]
    pub fn fast_data_delivered(&mut self, d: Direction, data: &[u8], env: &mut Env<'_>) {
        let me = &mut self.dir[d.index()];
        me.advance(Release::Both, data, env);
        if me.held.is_some() {
            me.account(env);
        }
    }

    /// State phase of one segment sent in direction `d` (checksum already judged
    /// good): flags, handshake, RST/FIN and the closing states, history. Returns the
    /// stream events raised (bits of [`StreamEvent`]) and what the stream phase
    /// ([`TcpSession::on_stream`]) must do.
    #[inline]
    pub fn on_segment(
        &mut self,
        d: Direction,
        seg: &Segment<'_>,
        env: &mut Env<'_>,
    ) -> (u32, Plan) {
        let mut plan = Plan::default();
        let (di, oi) = (d.index(), d.flip().index());
        let f = seg.flags;
        let syn = f & tf::SYN != 0;
        let ackf = f & tf::ACK != 0;
        let fin = f & tf::FIN != 0;
        let rst = f & tf::RST != 0;
        let mut ev = 0u32;

        self.dir[di].flags |= f;
        self.history_for(d, seg);
        if syn {
            if ackf {
                env.counters.tcp_synack += 1;
            } else {
                env.counters.tcp_syn += 1;
            }
        }
        if syn && fin {
            ev |= StreamEvent::FinSyn.bit();
        }
        if seg.window == 0 && !rst {
            self.dir[di].set(WIN_ZERO);
        } else if !rst {
            self.dir[di].bits &= !WIN_ZERO;
        }

        if self.state == TcpState::None && !syn {
            if !self.has(S_TRACKED) {
                self.try_pickup(seg, env.cfg, env.counters);
            }
            if !self.has(S_TRACKED) {
                env.counters.tcp_untracked += 1;
                return (ev, plan);
            }
        }
        if syn && !self.has(S_TRACKED) {
            if ackf && !env.cfg.midstream && !self.dir[oi].has(SYN_SEEN) {
                env.counters.tcp_untracked += 1;
                return (ev, plan);
            }
            self.bits |= S_TRACKED;
        }

        // TCP timestamps (PAWS, as Suricata with its default BSD target policy): once
        // both sides use the option, a value older than the side's latest, or 0, is
        // invalid and the segment changes nothing (a RST with it is not accepted).
        if let Some(ts) = seg.tsval {
            if syn {
                let dir = &mut self.dir[di];
                dir.last_ts = ts;
                dir.set(TS_KNOWN);
                if ackf && self.dir[oi].has(TS_KNOWN) {
                    self.bits |= S_TIMESTAMPS;
                }
            } else if self.has(S_TIMESTAMPS) {
                let dir = &mut self.dir[di];
                if dir.has(TS_KNOWN)
                    && (ts == 0 || SeqNumber(ts).distance(SeqNumber(dir.last_ts)) < 0)
                {
                    env.counters.tcp_invalid_timestamp += 1;
                    return (ev | StreamEvent::PktInvalidTimestamp.bit(), plan);
                }
                if !dir.has(TS_KNOWN) || !dir.has(SEQ_KNOWN) || seg.seq == dir.next_seq {
                    dir.last_ts = ts;
                    dir.set(TS_KNOWN);
                }
            }
        }

        // RST: closes the session when its sequence number is plausible.
        if rst {
            env.counters.tcp_rst += 1;
            let dir = &self.dir[di];
            let plausible = !dir.has(SEQ_KNOWN) || {
                let dist = SeqNumber(seg.seq).distance(SeqNumber(dir.next_seq));
                (-RST_WINDOW..=RST_WINDOW).contains(&dist)
            };
            if plausible {
                self.state = TcpState::Closed;
                self.dir[di].set(RST_SENT);
            } else {
                env.counters.tcp_invalid_rst += 1;
                ev |= StreamEvent::RstInvalidSeq.bit();
            }
            return (ev, plan);
        }
        // After its RST a side sends nothing that counts; the other side's data
        // that was already in flight is still reassembled.
        if self.dir[di].has(RST_SENT) && !syn {
            if !seg.payload.is_empty() {
                env.counters.tcp_data_after_rst += 1;
            }
            return (ev, plan);
        }

        // SYN and SYN/ACK.
        if syn {
            if ackf && d == Direction::ToServer && !self.dir[oi].has(SYN_SEEN) {
                // A SYN/ACK from the client before any SYN from the server.
                return (ev | StreamEvent::SynackWrongDirection.bit(), plan);
            }
            if self.established() && !self.dir[di].has(SYN_SEEN) {
                // A SYN inside a connection picked up midstream: not a new stream.
                return (ev | StreamEvent::EstSynResend.bit(), plan);
            }
            let dir = &mut self.dir[di];
            if !dir.has(SYN_SEEN) {
                dir.isn = seg.seq;
                if !dir.has(BASE_KNOWN) || (dir.delivered == 0 && dir.held.is_none()) {
                    dir.base = seg.seq.wrapping_add(1);
                    dir.delivered = 0;
                }
                dir.set(SYN_SEEN | BASE_KNOWN);
                dir.note_seq_end(seg.seq.wrapping_add(1));
            } else if seg.seq != dir.isn {
                if self.state == TcpState::SynSent && d == Direction::ToServer && dir.delivered == 0
                {
                    // The client retried with a new ISN before any answer.
                    dir.isn = seg.seq;
                    dir.base = seg.seq.wrapping_add(1);
                    dir.next_seq = seg.seq.wrapping_add(1);
                } else {
                    return (ev | StreamEvent::SynResendDiffSeq.bit(), plan);
                }
            } else {
                env.counters.tcp_syn_retransmit += 1;
            }
            if ackf {
                let other = &mut self.dir[oi];
                if other.has(SYN_SEEN) {
                    let lo = other.isn.wrapping_add(1);
                    let hi = if other.has(SEQ_KNOWN) {
                        other.next_seq
                    } else {
                        lo
                    };
                    if seq_ge(seg.ack, lo) && seq_ge(hi, seg.ack) {
                        other.set(SYN_ACKED);
                    } else {
                        ev |= StreamEvent::SynackWrongAck.bit();
                    }
                } else {
                    // SYN/ACK picked up without the SYN: the ACK tells where the
                    // client's stream begins.
                    other.isn = seg.ack.wrapping_sub(1);
                    other.base = seg.ack;
                    other.set(SYN_SEEN | SYN_ACKED | BASE_KNOWN);
                    other.note_seq_end(seg.ack);
                    self.bits |= S_MIDSTREAM;
                    env.counters.tcp_midstream += 1;
                }
            }
        }

        // ACK field.
        if ackf {
            if seg.ack == 0 && !syn {
                ev |= StreamEvent::PktBrokenAck.bit();
            }
            let midstream = self.has(S_MIDSTREAM);
            let other = &mut self.dir[oi];
            if other.has(SYN_SEEN) && !other.has(SYN_ACKED) {
                let lo = other.isn.wrapping_add(1);
                let hi = if other.has(SEQ_KNOWN) {
                    other.next_seq
                } else {
                    lo
                };
                if seq_ge(seg.ack, lo) && seq_ge(hi, seg.ack) {
                    other.set(SYN_ACKED);
                }
            }
            if !other.has(BASE_KNOWN) && !other.has(SYN_SEEN) && midstream {
                other.base = seg.ack;
                other.set(BASE_KNOWN);
                other.note_seq_end(seg.ack);
            }
            if other.has(FIN_SEEN) && seq_ge(seg.ack, other.fin_seq.wrapping_add(1)) {
                other.set(FIN_ACKED);
            }
            self.dir[di].set(ACK_SEEN);
        }
        self.recompute_handshake();

        // The peer's stream: what this ACK covers.
        if ackf && self.dir[oi].has(BASE_KNOWN) {
            let sane = !self.dir[oi].has(SEQ_KNOWN) || {
                let dist = SeqNumber(seg.ack).distance(SeqNumber(self.dir[oi].next_seq));
                dist <= (1 << 30)
            };
            if sane {
                plan.peer_ack = Some(seg.ack);
            } else {
                ev |= StreamEvent::PktInvalidAck.bit();
            }
        }

        // This direction's data.
        let data_seq = if syn {
            seg.seq.wrapping_add(1)
        } else {
            seg.seq
        };
        let plen = u32::try_from(seg.payload.len()).unwrap_or(u32::MAX);
        let data_end = data_seq.wrapping_add(plen);
        if !seg.payload.is_empty() {
            let peer_zero = self.dir[oi].has(WIN_ZERO);
            let peer_acks = self.dir[oi].has(ACK_SEEN);
            let dir = &mut self.dir[di];
            if peer_acks {
                dir.set(KEEP_OK);
            }
            let keepalive = seg.payload.len() <= 1
                && !syn
                && !fin
                && dir.has(SEQ_KNOWN)
                && seg.seq == dir.next_seq.wrapping_sub(1);
            let probe = seg.payload.len() == 1
                && !syn
                && !fin
                && peer_zero
                && dir.has(SEQ_KNOWN)
                && seg.seq == dir.next_seq;
            if keepalive {
                env.counters.tcp_keepalive += 1;
            } else if probe {
                env.counters.tcp_zero_window_probe += 1;
            } else {
                if !dir.has(BASE_KNOWN) {
                    dir.base = data_seq;
                    dir.delivered = 0;
                    dir.set(BASE_KNOWN);
                }
                plan.data_seq = Some(data_seq);
                dir.note_seq_end(data_end);
                if self.state == TcpState::SynRecv && d == Direction::ToClient {
                    // Server data while the client's ACK was not seen: it was lost.
                    self.state = TcpState::Established;
                    self.bits |= S_ESTABLISHED;
                }
            }
        } else if !syn && !self.dir[di].has(SEQ_KNOWN) {
            self.dir[di].note_seq_end(seg.seq);
        }

        // FIN and the closing states (Suricata's names: a FIN from the client first
        // gives close_wait, from the server first fin_wait1).
        if fin {
            let dir = &mut self.dir[di];
            if !dir.has(FIN_SEEN) {
                dir.fin_seq = data_end;
                dir.set(FIN_SEEN);
            }
            dir.note_seq_end(data_end.wrapping_add(1));
            // A FIN acknowledged by this same packet's peer data cannot be yet; the
            // state follows who closed first.
            self.state = match (self.state, d) {
                (
                    TcpState::Established | TcpState::SynRecv | TcpState::SynSent,
                    Direction::ToServer,
                ) => TcpState::CloseWait,
                (
                    TcpState::Established | TcpState::SynRecv | TcpState::SynSent,
                    Direction::ToClient,
                ) => TcpState::FinWait1,
                (TcpState::FinWait1, Direction::ToServer) => {
                    if self.dir[1].has(FIN_ACKED) {
                        TcpState::TimeWait
                    } else {
                        TcpState::Closing
                    }
                }
                (TcpState::FinWait2, Direction::ToServer) => TcpState::TimeWait,
                (TcpState::CloseWait, Direction::ToClient) => TcpState::LastAck,
                (s, _) => s,
            };
        }
        if ackf {
            let (c, s) = (&self.dir[0], &self.dir[1]);
            self.state = match self.state {
                TcpState::FinWait1 if !fin && d == Direction::ToServer && s.has(FIN_ACKED) => {
                    TcpState::FinWait2
                }
                st => st,
            };
            if c.has(FIN_SEEN) && s.has(FIN_SEEN) && c.has(FIN_ACKED) && s.has(FIN_ACKED) {
                self.state = TcpState::Closed;
            } else if self.state == TcpState::Closing && (c.has(FIN_ACKED) || s.has(FIN_ACKED)) {
                self.state = TcpState::TimeWait;
            }
        }

        (ev, plan)
    }

    /// Stream phase: releases what the peer acknowledged in the other direction, then
    /// reassembles this segment's data, handing in-order chunks to `sink`.
    pub fn on_stream(
        &mut self,
        d: Direction,
        plan: Plan,
        payload: &[u8],
        env: &mut Env<'_>,
        sink: &mut ChunkSink<'_>,
    ) -> u32 {
        let mut ev = 0;
        if let Some(ack) = plan.peer_ack {
            ev |= self.dir[d.flip().index()].on_peer_ack(d.flip(), ack, env, sink);
        }
        if let Some(seq) = plan.data_seq {
            ev |= self.dir[d.index()].on_data(d, seq, payload, env, sink);
        }
        if on_ack(env) {
            // A packet in the data's direction: what the application layer has is
            // inspected raw now (Suricata inspects a direction's stream on its packets).
            self.dir[d.index()].release_raw(d, env, sink);
        }
        if ev & StreamEvent::PktRetransmission.bit() != 0 {
            self.letter(d, L_T);
        }
        if ev & StreamEvent::SeqGap.bit() != 0 {
            self.gap_letters(ev);
        }
        ev
    }

    /// Records `G` for the direction(s) whose gap counters moved.
    fn gap_letters(&mut self, _ev: u32) {
        for d in [Direction::ToServer, Direction::ToClient] {
            if self.dir[d.index()].gap_bytes > 0 {
                self.letter(d, L_G);
            }
        }
    }

    /// End of the flow: delivers everything held (holes become gaps), then any
    /// acknowledged-but-unseen tail. Returns the events raised.
    pub fn finish(&mut self, env: &mut Env<'_>, sink: &mut ChunkSink<'_>) -> u32 {
        let mut ev = 0;
        for d in [Direction::ToServer, Direction::ToClient] {
            ev |= self.dir[d.index()].flush(d, env, sink);
            self.dir[d.index()].release_raw(d, env, sink);
            if let Some(h) = self.dir[d.index()].held.as_mut() {
                h.kept.clear_at(0);
            }
            self.dir[d.index()].account(env);
            if let Some(h) = self.dir[d.index()].held.take() {
                *env.mem = env.mem.saturating_sub(h.accounted);
            }
        }
        if ev & StreamEvent::SeqGap.bit() != 0 {
            self.gap_letters(ev);
        }
        env.counters.tcp_reasm_mem = *env.mem;
        ev
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Run {
        cfg: FlowConfig,
        counters: Counters,
        mem: u64,
        hit: bool,
        pool: HeldPool,
        out: [Vec<u8>; 2],
        gaps: [u64; 2],
        offsets_ok: bool,
    }

    impl Run {
        fn new(cfg: FlowConfig) -> Self {
            Run {
                cfg,
                counters: Counters::default(),
                mem: 0,
                hit: false,
                pool: Vec::new(),
                out: [Vec::new(), Vec::new()],
                gaps: [0, 0],
                offsets_ok: true,
            }
        }

        fn seg(
            &mut self,
            s: &mut TcpSession,
            d: Direction,
            seq: u32,
            ack: u32,
            flags: u8,
            p: &[u8],
        ) -> u32 {
            let mut env = Env {
                cfg: &self.cfg,
                counters: &mut self.counters,
                mem: &mut self.mem,
                memcap_hit: &mut self.hit,
                pool: &mut self.pool,
                backings: &crate::kept::Backings::default(),
            };
            let out = &mut self.out;
            let gaps = &mut self.gaps;
            let ok = &mut self.offsets_ok;
            let mut sink = |rel: Release, dd: Direction, off: u64, data: StreamData<'_>| {
                if rel == Release::Raw {
                    return;
                }
                let i = dd.index();
                if off != out[i].len() as u64 + gaps[i] {
                    *ok = false;
                }
                match data {
                    StreamData::Bytes(b) => out[i].extend_from_slice(b),
                    StreamData::Gap(n) => gaps[i] += u64::from(n),
                }
            };
            let seg = Segment {
                seq,
                ack,
                flags,
                window: 1000,
                tsval: None,
                payload: p,
            };
            let (ev, plan) = s.on_segment(d, &seg, &mut env);
            ev | s.on_stream(d, plan, p, &mut env, &mut sink)
        }
    }

    const SYN: u8 = tf::SYN;
    const ACK: u8 = tf::ACK;
    const FIN: u8 = tf::FIN;

    fn handshake(r: &mut Run, s: &mut TcpSession, c_isn: u32, s_isn: u32) {
        let seg = Segment {
            seq: c_isn,
            ack: 0,
            flags: SYN,
            window: 1000,
            tsval: None,
            payload: b"",
        };
        s.start(&seg, false, &r.cfg, &mut r.counters);
        r.seg(s, Direction::ToServer, c_isn, 0, SYN, b"");
        r.seg(
            s,
            Direction::ToClient,
            s_isn,
            c_isn.wrapping_add(1),
            SYN | ACK,
            b"",
        );
        r.seg(
            s,
            Direction::ToServer,
            c_isn.wrapping_add(1),
            s_isn.wrapping_add(1),
            ACK,
            b"",
        );
    }

    #[test]
    fn handshake_then_in_order_data() {
        let mut r = Run::new(FlowConfig::default());
        let mut s = TcpSession::default();
        handshake(&mut r, &mut s, 100, 5000);
        assert_eq!(s.state(), TcpState::Established);
        assert!(s.handshake_done());
        r.seg(&mut s, Direction::ToServer, 101, 5001, ACK, b"hello ");
        r.seg(&mut s, Direction::ToServer, 107, 5001, ACK, b"world");
        assert_eq!(r.out[0], b"hello world");
        assert!(r.offsets_ok);
        assert_eq!(s.history(), "ShAD");
    }

    #[test]
    fn out_of_order_is_held_then_released() {
        let mut r = Run::new(FlowConfig::default());
        let mut s = TcpSession::default();
        handshake(&mut r, &mut s, 0, 0);
        r.seg(&mut s, Direction::ToServer, 6, 1, ACK, b"world");
        assert!(r.out[0].is_empty());
        assert!(r.mem > 0);
        r.seg(&mut s, Direction::ToServer, 1, 1, ACK, b"hello");
        assert_eq!(r.out[0], b"helloworld");
        assert!(r.offsets_ok);
    }

    #[test]
    fn fin_from_client_first_gives_close_wait_then_closed() {
        let mut r = Run::new(FlowConfig::default());
        let mut s = TcpSession::default();
        handshake(&mut r, &mut s, 10, 20);
        r.seg(&mut s, Direction::ToServer, 11, 21, FIN | ACK, b"");
        assert_eq!(s.state(), TcpState::CloseWait);
        r.seg(&mut s, Direction::ToClient, 21, 12, FIN | ACK, b"");
        assert_eq!(s.state(), TcpState::LastAck);
        r.seg(&mut s, Direction::ToServer, 12, 22, ACK, b"");
        assert_eq!(s.state(), TcpState::Closed);
        assert_eq!(s.history(), "ShAFf");
    }

    #[test]
    fn keepalive_is_not_a_retransmission() {
        let mut r = Run::new(FlowConfig::default());
        let mut s = TcpSession::default();
        handshake(&mut r, &mut s, 0, 0);
        r.seg(&mut s, Direction::ToServer, 1, 1, ACK, b"abc");
        let ev = r.seg(&mut s, Direction::ToServer, 3, 1, ACK, b"\0");
        assert_eq!(ev & StreamEvent::PktRetransmission.bit(), 0);
        assert_eq!(r.counters.tcp_keepalive, 1);
        assert_eq!(r.out[0], b"abc");
    }
}
