//! # Overview
//!
//! `stormwatch-flow` turns decoded packets into flows: it reassembles IP fragments,
//! keeps the bidirectional flow table (with per-state timeouts driven by packet time
//! and eviction at its caps), tracks TCP state, and reassembles each TCP direction
//! into in-order [`StreamChunk`]s.
//!
//! The primary types:
//!
//! - [`FlowTable`] — the stage itself; call [`FlowTable::process`] per decoded IP packet
//!   and [`FlowTable::finish`] at the end of input.
//! - [`FlowVisitor`] — what the table calls back: `on_packet` (with a [`PacketCtx`]),
//!   `on_stream` (in-order stream chunks), `on_flow_end` (the [`FlowRecord`]) and
//!   `on_anomaly`.
//! - [`FlowConfig`] — every limit, timeout and policy ([`OverlapPolicy`],
//!   [`ChecksumMode`]).
//! - [`SeqNumber`] — modular TCP sequence arithmetic.
//!
//! Timeouts, limits, overlap policies and history letters are documented in
//! `docs/flow.md`.
//!
//! ```
//! use std::net::Ipv4Addr;
//! use stormwatch_flow::{FlowConfig, FlowTable, FlowVisitor, PacketCtx};
//! use stormwatch_model::{Anomaly, FlowRecord, StreamChunk, Timestamp};
//! use stormwatch_wire::{Decoded, Ipv4Info, L3, L4, UdpInfo};
//!
//! #[derive(Default)]
//! struct Count { packets: u64, ended: Vec<FlowRecord> }
//! impl FlowVisitor<()> for Count {
//!     fn on_packet(&mut self, _: &PacketCtx, _: &Decoded<'_>, _: &mut ()) { self.packets += 1; }
//!     fn on_stream(&mut self, _: &PacketCtx, _: StreamChunk<'_>, _: &mut ()) {}
//!     fn on_flow_end(&mut self, rec: FlowRecord, _: ()) { self.ended.push(rec); }
//!     fn on_anomaly(&mut self, _: Anomaly) {}
//! }
//!
//! let mut pkt = Decoded::default();
//! pkt.l3 = L3::Ipv4(Ipv4Info {
//!     src: Ipv4Addr::new(10, 0, 0, 1), dst: Ipv4Addr::new(10, 0, 0, 2), proto: 17,
//!     ttl: 64, id: 1, tos: 0, dont_frag: false, more_frags: false, reserved_flag: false,
//!     frag_offset: 0, header_len: 20, total_len: 28, checksum: 0, options: &[],
//! });
//! pkt.l4 = L4::Udp(UdpInfo { src_port: 5353, dst_port: 53, len: 8, checksum: 0 });
//!
//! let mut table: FlowTable<()> = FlowTable::new(FlowConfig::default());
//! let mut v = Count::default();
//! table.process(Timestamp::from_secs_nanos(100, 0), 42, &pkt, &mut v);
//! assert_eq!(table.active_flows(), 1);
//! table.finish(&mut v);
//! assert_eq!(v.packets, 1);
//! assert_eq!(v.ended[0].key.dst_port, 53);
//! assert_eq!(v.ended[0].reason.as_str(), "shutdown");
//! ```
#![forbid(unsafe_code)]

mod checksum;
mod config;
mod defrag;
mod events;
mod index;
mod kept;
mod key;
mod segments;
mod seq;
mod tcp;

pub use config::{ChecksumMode, Delivery, FlowConfig, OverlapPolicy};
pub use kept::Backing;
pub use seq::SeqNumber;

use events::{Counters, StreamEvent};
use index::FlowIndex;
use key::{Class, LookupKey, PacketKey};
use rustc_hash::FxHasher;
use std::hash::{Hash, Hasher};
use stormwatch_model::{
    Anomaly, AnomalyType, AppProto, Direction, EndReason, Endpoints, FlowId, FlowKey, FlowRecord,
    FlowState, NANOS_PER_SEC, StreamChunk, StreamData, TcpState, TcpSummary, Timestamp,
    tcp_flags as tf,
};
use stormwatch_wire::{Decoded, L4, decode_ip};
use tcp::{Env, Plan, Release, Segment, TcpSession};

/// What the table knows about a packet when it hands it on.
#[derive(Clone, Debug, PartialEq)]
pub struct PacketCtx {
    /// Packet time.
    pub ts: Timestamp,
    /// The flow.
    pub flow_id: FlowId,
    /// The flow's key, oriented client → server.
    pub key: FlowKey,
    /// Direction of this packet.
    pub dir: Direction,
    /// This packet created the flow.
    pub first_in_flow: bool,
    /// TCP: handshake done or picked up midstream, now or before the close (a SYN
    /// answered by a RST never was);
    /// UDP, ICMP and others: packets seen both ways.
    pub established: bool,
    /// TCP state after this packet (`None` for other protocols).
    pub tcp_state: TcpState,
    /// First packet time of the flow.
    pub start: Timestamp,
    /// Packets client → server, including this one.
    pub pkts_toserver: u64,
    /// Packets server → client, including this one.
    pub pkts_toclient: u64,
    /// Bytes client → server (whole frames), including this one.
    pub bytes_toserver: u64,
    /// Bytes server → client, including this one.
    pub bytes_toclient: u64,
    /// TCP reassembly handles this packet's payload (false for other protocols, for
    /// untracked midstream flows, for segments with a bad checksum and once the
    /// direction's depth is reached).
    pub stream_tracked: bool,
    /// Frame length on the wire (for a reassembled IP datagram: the frame that completed it).
    pub wire_len: u32,
    /// No packet: the flow is ending (timeout, eviction, reuse, end of input) and this
    /// releases what reassembly still held — Suricata's `stream (flow timeout)`
    /// pseudo packet. `ts` is the table's clock, `dir` the stream's direction.
    pub flow_end: bool,
    /// The packet is an IP datagram reassembled from fragments; its frame (the first
    /// fragment's link header and the datagram) is [`FlowTable::reassembled_frame`]
    /// until the next call of `process`.
    pub reassembled: bool,
}

/// Receives the flow stage's output. `U` is the caller's per-flow state, created
/// with `U::default()` with the flow and handed back by value when it ends.
pub trait FlowVisitor<U> {
    /// Every packet of a flow (after TCP state update, before its stream data).
    fn on_packet(&mut self, ctx: &PacketCtx, pkt: &Decoded<'_>, user: &mut U);
    /// An in-order TCP stream chunk (bytes or a gap) for the application layer. `ctx`
    /// describes the packet that released it; `chunk.dir` is the stream's direction,
    /// which differs from `ctx.dir` when an acknowledgement released data (or a gap)
    /// of the other side — always so with [`Delivery::OnAck`].
    fn on_stream(&mut self, ctx: &PacketCtx, chunk: StreamChunk<'_>, user: &mut U);
    /// The same stream, chunk by chunk, for raw stream inspection (stream rules).
    /// With [`Delivery::Immediate`] every chunk comes here right after `on_stream`;
    /// with [`Delivery::OnAck`] once the application layer has it *and* a packet in
    /// the chunk's own direction arrives (`ctx.dir == chunk.dir`), or the flow ends
    /// (`ctx.flow_end`) — when Suricata's IDS mode inspects it. Default: nothing.
    fn on_raw_stream(&mut self, ctx: &PacketCtx, chunk: StreamChunk<'_>, user: &mut U) {
        let _ = (ctx, chunk, user);
    }
    /// After every `on_stream` / `on_raw_stream` call a packet caused: the place for
    /// work that must see the stream as this packet left it (Suricata runs detection
    /// after the stream engine). Default: nothing.
    fn on_packet_end(&mut self, ctx: &PacketCtx, user: &mut U) {
        let _ = (ctx, user);
    }
    /// The flow ended (timeout, eviction, port reuse, end of input).
    fn on_flow_end(&mut self, rec: FlowRecord, user: U);
    /// A stream, defragmentation or engine-limit anomaly.
    fn on_anomaly(&mut self, a: Anomaly);
}

const NIL: u32 = u32::MAX;
const N_LISTS: usize = 7;
/// Per-flow index overhead: an 8-byte entry at a load factor between 1/4 and 1/2.
const INDEX_BYTES_PER_FLOW: usize = 32;

/// One flow. `repr(C)` keeps the fields every packet touches (key, counters, times,
/// TCP state) together at the front, in as few cache lines as possible.
#[repr(C)]
struct Flow<U> {
    key: LookupKey,
    hash: u32,
    client_is_a: bool,
    class: Class,
    list: u8,
    /// Bit 0: seen to server, bit 1: seen to client.
    seen: u8,
    /// Table clock when last seen.
    touched: i64,
    /// Table clock when put at the tail of its timeout list (`<= touched`); lists are
    /// ordered by it.
    linked: i64,
    pkts: [u64; 2],
    bytes: [u64; 2],
    last: Timestamp,
    tcp: TcpSession,
    prev: u32,
    next: u32,
    flow_id: u64,
    start: Timestamp,
    anomaly_mask: u32,
    anomaly_count: u8,
    icmp: Option<(u8, u8)>,
    macs: Option<([u8; 6], [u8; 6])>,
    user: U,
}

impl<U> Flow<U> {
    fn flow_state(&self) -> FlowState {
        match self.class {
            Class::Tcp => match self.tcp.state() {
                TcpState::None | TcpState::SynSent | TcpState::SynRecv => FlowState::New,
                TcpState::LastAck | TcpState::TimeWait | TcpState::Closed => FlowState::Closed,
                _ => FlowState::Established,
            },
            _ => {
                if self.seen == 3 {
                    FlowState::Established
                } else {
                    FlowState::New
                }
            }
        }
    }

    fn list_index(&self) -> u8 {
        let st = self.flow_state();
        match (self.class, st) {
            (Class::Tcp, FlowState::New) => 0,
            (Class::Tcp, FlowState::Closed) => 2,
            (Class::Tcp, _) => 1,
            (Class::Udp, FlowState::New) => 3,
            (Class::Udp, _) => 4,
            (_, FlowState::New) => 5,
            (_, _) => 6,
        }
    }

    fn flow_key(&self) -> FlowKey {
        self.key.flow_key(self.client_is_a, self.icmp)
    }

    fn established(&self) -> bool {
        match self.class {
            Class::Tcp => self.tcp.established(),
            _ => self.seen == 3,
        }
    }

    #[allow(clippy::too_many_arguments)]
    #[inline]
    fn ctx(
        &self,
        ts: Timestamp,
        dir: Direction,
        first: bool,
        tracked: bool,
        wire_len: u32,
        flow_end: bool,
        reassembled: bool,
    ) -> PacketCtx {
        PacketCtx {
            ts,
            flow_id: FlowId(self.flow_id),
            key: self.flow_key(),
            dir,
            first_in_flow: first,
            established: self.established(),
            tcp_state: self.tcp.state(),
            start: self.start,
            pkts_toserver: self.pkts[0],
            pkts_toclient: self.pkts[1],
            bytes_toserver: self.bytes[0],
            bytes_toclient: self.bytes[1],
            stream_tracked: tracked,
            wire_len,
            flow_end,
            reassembled,
        }
    }

    fn record(&self, reason: EndReason) -> FlowRecord {
        let tcp = (self.class == Class::Tcp).then(|| {
            let ts = self.tcp.flags(Direction::ToServer);
            let tc = self.tcp.flags(Direction::ToClient);
            TcpSummary {
                flags: ts | tc,
                flags_ts: ts,
                flags_tc: tc,
                state: self.tcp.state(),
                history: self.tcp.history(),
                handshake_done: self.tcp.handshake_done(),
                gap_bytes_ts: self.tcp.gap_bytes(Direction::ToServer),
                gap_bytes_tc: self.tcp.gap_bytes(Direction::ToClient),
            }
        });
        FlowRecord {
            flow_id: FlowId(self.flow_id),
            key: self.flow_key(),
            start: self.start,
            end: self.last,
            pkts_toserver: self.pkts[0],
            pkts_toclient: self.pkts[1],
            bytes_toserver: self.bytes[0],
            bytes_toclient: self.bytes[1],
            app_proto: AppProto::Unknown,
            app_proto_ts: None,
            app_proto_tc: None,
            state: self.flow_state(),
            reason,
            alerted: false,
            tcp,
            icmp: self.icmp,
            macs: self.macs,
        }
    }

    /// Turns stream event bits into anomalies: each name once per flow, and at most
    /// `max` in total; the rest are counted as suppressed.
    fn raise(
        &mut self,
        ev: u32,
        ts: Timestamp,
        max: u8,
        c: &mut Counters,
        out: &mut dyn FnMut(Anomaly),
    ) {
        if ev == 0 {
            return;
        }
        for e in ALL_EVENTS {
            let bit = e.bit();
            if ev & bit == 0 {
                continue;
            }
            if self.anomaly_mask & bit != 0 || self.anomaly_count >= max {
                c.anomalies_suppressed += 1;
                continue;
            }
            self.anomaly_mask |= bit;
            self.anomaly_count += 1;
            let k = self.flow_key();
            let mut a = Anomaly::new(ts, AnomalyType::Stream, e.name());
            a.flow_id = Some(FlowId(self.flow_id));
            a.endpoints = Some(Endpoints {
                src: k.src,
                dst: k.dst,
                src_port: k.src_port,
                dst_port: k.dst_port,
                proto: k.proto,
            });
            out(a);
        }
    }
}

const ALL_EVENTS: [StreamEvent; 17] = [
    StreamEvent::SynackWrongDirection,
    StreamEvent::SynackWrongAck,
    StreamEvent::SynResendDiffSeq,
    StreamEvent::PktInvalidAck,
    StreamEvent::PktBrokenAck,
    StreamEvent::PktRetransmission,
    StreamEvent::OverlapDifferentData,
    StreamEvent::SeqGap,
    StreamEvent::RstButNoSession,
    StreamEvent::FinButNoSession,
    StreamEvent::RstInvalidSeq,
    StreamEvent::InsertLimit,
    StreamEvent::InsertMemcap,
    StreamEvent::SegmentBeforeBase,
    StreamEvent::FinSyn,
    StreamEvent::EstSynResend,
    StreamEvent::PktInvalidTimestamp,
];

/// Hands a released chunk to the callbacks it is for.
fn deliver<U, V: FlowVisitor<U>>(
    v: &mut V,
    rel: Release,
    ctx: &PacketCtx,
    chunk: StreamChunk<'_>,
    user: &mut U,
) {
    match rel {
        Release::Both => {
            v.on_stream(ctx, chunk, user);
            v.on_raw_stream(ctx, chunk, user);
        }
        Release::App => v.on_stream(ctx, chunk, user),
        Release::Raw => v.on_raw_stream(ctx, chunk, user),
    }
}

/// The bytes of `frame` before `ip_header`, when `ip_header` lies inside `frame`
/// (found by address: the decoder's slices borrow the frame).
fn link_prefix<'f>(frame: &'f [u8], ip_header: &[u8]) -> &'f [u8] {
    let f0 = frame.as_ptr().addr();
    let h0 = ip_header.as_ptr().addr();
    match h0.checked_sub(f0) {
        Some(off) if off.saturating_add(ip_header.len()) <= frame.len() => {
            frame.get(..off).unwrap_or(&[])
        }
        _ => &[],
    }
}

fn make_flow_id(hash: u32, ts: Timestamp, n: u64) -> u64 {
    let mut x = FxHasher::default();
    hash.hash(&mut x);
    ts.0.hash(&mut x);
    let r = x.finish();
    let hi = (r ^ (r >> 29)) & ((1 << 23) - 1);
    let id = (hi << 30) | (n & ((1 << 30) - 1));
    if id == 0 { 1 } else { id }
}

/// The flow table: defragmentation, flow lookup and expiry, TCP tracking and
/// reassembly. Deterministic: the same packets give the same ids, callbacks and
/// records.
pub struct FlowTable<U> {
    cfg: FlowConfig,
    index: FlowIndex,
    slots: Vec<Option<Flow<U>>>,
    free: Vec<u32>,
    heads: [u32; N_LISTS],
    tails: [u32; N_LISTS],
    timeouts_ns: [i64; N_LISTS],
    active: usize,
    max_active: usize,
    memcap_binding: bool,
    clock: Timestamp,
    next_sweep: i64,
    created: u64,
    defrag: defrag::Defragmenter,
    reasm_mem: u64,
    csum: checksum::ChecksumState,
    counters: Counters,
    /// Engine anomalies already raised (bit 0: table full, bit 1: reassembly memcap).
    once: u8,
    /// Empty reassembly buffers for reuse (at most `tcp::POOL_MAX`).
    held_pool: tcp::HeldPool,
    /// The frame of the last reassembled IP datagram, valid until the next `process`.
    reasm_frame: Vec<u8>,
    /// Captures frames come from (see [`FlowTable::add_backing`]).
    backings: kept::Backings,
    /// Common TCP segments take [`TcpSession::on_segment_fast`] (tests compare it
    /// with the general path by turning it off).
    fast_path: bool,
    /// Segments that took it.
    fast_hits: u64,
}

impl<U: Default> FlowTable<U> {
    /// A table with the given configuration.
    pub fn new(cfg: FlowConfig) -> Self {
        let per_flow = std::mem::size_of::<Option<Flow<U>>>() + INDEX_BYTES_PER_FLOW;
        let by_mem =
            usize::try_from(cfg.memcap_bytes / u64::try_from(per_flow).unwrap_or(u64::MAX))
                .unwrap_or(usize::MAX);
        let cap = cfg.max_flows.min(index::MAX_SLOTS);
        let max_active = cap.min(by_mem);
        let secs = |s: u32| i64::from(s) * NANOS_PER_SEC;
        let timeouts_ns = [
            secs(cfg.tcp_new_timeout_secs),
            secs(cfg.tcp_established_timeout_secs),
            secs(cfg.tcp_closed_timeout_secs),
            secs(cfg.udp_new_timeout_secs),
            secs(cfg.udp_established_timeout_secs),
            secs(cfg.other_new_timeout_secs),
            secs(cfg.other_established_timeout_secs),
        ];
        FlowTable {
            memcap_binding: by_mem < cap,
            cfg,
            index: FlowIndex::default(),
            slots: Vec::new(),
            free: Vec::new(),
            heads: [NIL; N_LISTS],
            tails: [NIL; N_LISTS],
            timeouts_ns,
            active: 0,
            max_active,
            clock: Timestamp(i64::MIN),
            next_sweep: i64::MIN,
            created: 0,
            defrag: defrag::Defragmenter::default(),
            reasm_mem: 0,
            csum: checksum::ChecksumState::default(),
            counters: Counters::default(),
            once: 0,
            held_pool: Vec::new(),
            reasm_frame: Vec::new(),
            backings: kept::Backings::default(),
            fast_path: true,
            fast_hits: 0,
        }
    }

    /// Turns the shortcut for common TCP segments (in-order data and pure ACKs on
    /// established connections) off or on; on by default. Every callback, byte,
    /// counter and record is the same either way — the tests that check it turn it
    /// off to compare.
    #[doc(hidden)]
    pub fn set_tcp_fast_path(&mut self, on: bool) {
        self.fast_path = on;
    }

    /// TCP segments that took the shortcut so far (see
    /// [`FlowTable::set_tcp_fast_path`]).
    #[doc(hidden)]
    pub fn tcp_fast_path_segments(&self) -> u64 {
        self.fast_hits
    }

    /// Declares that the frames handed in from now on are slices of `bytes` (the
    /// capture being read), which stay unchanged as long as the table lives. Bytes
    /// kept for retransmission checks are then referred to by offset instead of
    /// copied. Without it (or for bytes outside it) they are copied.
    pub fn add_backing(&mut self, bytes: Backing) {
        self.backings.add(bytes);
    }

    /// The configuration in force.
    pub fn config(&self) -> &FlowConfig {
        &self.cfg
    }

    /// Flows currently tracked.
    pub fn active_flows(&self) -> usize {
        self.active
    }

    /// Counters with dotted names (`flow.created`, `tcp.reassembly_gap`,
    /// `defrag.ipv4.reassembled`, ...), in a fixed order.
    pub fn counters(&self) -> Vec<(&'static str, u64)> {
        let mut v = self.counters.list();
        v.push((
            "flow.active",
            u64::try_from(self.active).unwrap_or(u64::MAX),
        ));
        v.push((
            "defrag.trackers",
            u64::try_from(self.defrag.len()).unwrap_or(u64::MAX),
        ));
        v
    }

    /// Bytes of one flow-table entry (our state plus an inline `U`) and its index share;
    /// what [`FlowConfig::memcap_bytes`] is counted in.
    pub fn bytes_per_flow() -> usize {
        std::mem::size_of::<Option<Flow<U>>>() + INDEX_BYTES_PER_FLOW
    }

    /// One decoded IP packet (the engine does not call this for ARP/non-IP frames).
    ///
    /// Fragments are held until their datagram completes; the datagram is then
    /// decoded with [`stormwatch_wire::decode_ip`] and continues as one packet of
    /// `wire_len` bytes. A packet without a usable transport header for its protocol
    /// gets no flow (counter `flow.packets_without_flow`).
    pub fn process<V: FlowVisitor<U>>(
        &mut self,
        ts: Timestamp,
        wire_len: u32,
        pkt: &Decoded<'_>,
        v: &mut V,
    ) {
        self.process_frame(ts, wire_len, &[], pkt, v);
    }

    /// As [`FlowTable::process`], with the frame `pkt` was decoded from: a datagram
    /// reassembled from fragments then keeps the first fragment's link-layer bytes in
    /// [`FlowTable::reassembled_frame`] (without the frame, that holds the IP datagram
    /// alone).
    #[inline]
    pub fn process_frame<V: FlowVisitor<U>>(
        &mut self,
        ts: Timestamp,
        wire_len: u32,
        frame: &[u8],
        pkt: &Decoded<'_>,
        v: &mut V,
    ) {
        self.reasm_frame.clear();
        if ts > self.clock {
            self.clock = ts;
        }
        if self.clock.0 >= self.next_sweep {
            self.sweep(v);
            self.next_sweep = self.clock.0.saturating_add(NANOS_PER_SEC);
        }
        if defrag::is_fragment(pkt) {
            self.process_fragment(ts, wire_len, frame, pkt, v);
            return;
        }
        self.process_ip(ts, wire_len, pkt, false, v);
    }

    /// An IP fragment: held until its datagram completes, which then continues as
    /// one packet. Apart from [`FlowTable::process_frame`], so that the common path
    /// stays small.
    #[cold]
    #[inline(never)]
    fn process_fragment<V: FlowVisitor<U>>(
        &mut self,
        ts: Timestamp,
        wire_len: u32,
        frame: &[u8],
        pkt: &Decoded<'_>,
        v: &mut V,
    ) {
        let link = link_prefix(frame, pkt.ip_header);
        let done = self
            .defrag
            .add(ts, pkt, link, &self.cfg, &mut self.counters, &mut |a| {
                v.on_anomaly(a)
            });
        if let Some((buf, at)) = done {
            {
                let mut d = decode_ip(buf.get(at..).unwrap_or(&[]));
                d.eth = pkt.eth;
                d.vlan = pkt.vlan;
                d.vlan_count = pkt.vlan_count;
                d.tunnel_depth = pkt.tunnel_depth;
                if defrag::is_fragment(&d) {
                    self.counters.defrag_invalid += 1;
                    return;
                }
                self.process_ip_outlined(ts, wire_len, &d, v);
            }
            self.reasm_frame = buf;
        }
    }

    /// The frame of the IP datagram the last [`FlowTable::process_frame`] call
    /// reassembled (the first fragment's link-layer bytes, then the datagram with its
    /// fragment fields cleared); empty when that call reassembled nothing.
    pub fn reassembled_frame(&self) -> &[u8] {
        &self.reasm_frame
    }

    /// End of input: delivers what reassembly holds (holes as gaps), drops incomplete
    /// fragment datagrams, and ends every flow with reason `shutdown`, ordered by
    /// first-packet time, then flow id.
    pub fn finish<V: FlowVisitor<U>>(&mut self, v: &mut V) {
        let done: Result<(), std::convert::Infallible> =
            self.finish_in_batches(v, usize::MAX, |_| Ok(()));
        let Ok(()) = done;
    }

    /// [`FlowTable::finish`], calling `pause(v)` after every `batch` ended flows (and
    /// not after the last), so the caller can drain what its visitor collected: with a
    /// million flows ending at once, their records need not all be held at the same
    /// time. An `Err` from `pause` stops ending flows and is returned; the flows not
    /// yet ended stay in the table.
    pub fn finish_in_batches<V: FlowVisitor<U>, E>(
        &mut self,
        v: &mut V,
        batch: usize,
        mut pause: impl FnMut(&mut V) -> Result<(), E>,
    ) -> Result<(), E> {
        self.defrag.finish(&mut self.counters);
        let mut live: Vec<(Timestamp, u64, u32)> = self
            .slots
            .iter()
            .enumerate()
            .filter_map(|(i, s)| {
                let f = s.as_ref()?;
                Some((f.start, f.flow_id, u32::try_from(i).ok()?))
            })
            .collect();
        live.sort_unstable();
        let batch = batch.max(1);
        for (n, (_, _, i)) in live.into_iter().enumerate() {
            if n > 0 && n % batch == 0 {
                pause(v)?;
            }
            self.end_flow(i, EndReason::Shutdown, v);
        }
        Ok(())
    }

    fn find(&self, h: u32, key: &LookupKey) -> Option<u32> {
        let slots = &self.slots;
        self.index.find(h, |i| {
            slots
                .get(usize::try_from(i).unwrap_or(usize::MAX))
                .and_then(Option::as_ref)
                .is_some_and(|f| f.key == *key)
        })
    }

    fn flow(&self, i: u32) -> Option<&Flow<U>> {
        self.slots.get(usize::try_from(i).ok()?)?.as_ref()
    }

    fn flow_mut(&mut self, i: u32) -> Option<&mut Flow<U>> {
        self.slots.get_mut(usize::try_from(i).ok()?)?.as_mut()
    }

    fn unlink(&mut self, i: u32) {
        let Some(f) = self.flow(i) else {
            return;
        };
        let (l, p, n) = (usize::from(f.list), f.prev, f.next);
        if p == NIL {
            self.heads[l] = n;
        } else if let Some(pf) = self.flow_mut(p) {
            pf.next = n;
        }
        if n == NIL {
            self.tails[l] = p;
        } else if let Some(nf) = self.flow_mut(n) {
            nf.prev = p;
        }
        if let Some(f) = self.flow_mut(i) {
            f.prev = NIL;
            f.next = NIL;
        }
    }

    fn link_tail(&mut self, i: u32, l: u8) {
        let li = usize::from(l);
        let t = self.tails[li];
        let now = self.clock.0;
        if let Some(f) = self.flow_mut(i) {
            f.list = l;
            f.prev = t;
            f.next = NIL;
            f.linked = now;
        }
        if t == NIL {
            self.heads[li] = i;
        } else if let Some(tf) = self.flow_mut(t) {
            tf.next = i;
        }
        self.tails[li] = i;
    }

    /// Moves a flow whose state changed to the tail of its new list. (A packet that
    /// does not change the state only updates `touched`: lists are kept lazily.)
    fn relist(&mut self, i: u32) {
        let Some(f) = self.flow(i) else {
            return;
        };
        let l = f.list_index();
        if f.list == l {
            return;
        }
        self.unlink(i);
        self.link_tail(i, l);
    }

    fn expired(&self, f: &Flow<U>) -> bool {
        let t = self.timeouts_ns[usize::from(f.list)];
        f.touched.saturating_add(t) <= self.clock.0
    }

    /// Ends the flows idle past their timeout. A list is ordered by `linked`; a head
    /// seen again since it was linked gets a second chance at the tail, so each flow
    /// is looked at about once per timeout period, not once per packet.
    #[inline(never)]
    fn sweep<V: FlowVisitor<U>>(&mut self, v: &mut V) {
        let now = self.clock.0;
        for l in 0..N_LISTS {
            let t = self.timeouts_ns[l];
            loop {
                let h = self.heads[l];
                let Some(f) = self.flow(h) else {
                    break;
                };
                if f.linked.saturating_add(t) > now {
                    break;
                }
                if f.touched.saturating_add(t) <= now {
                    self.end_flow(h, EndReason::Timeout, v);
                } else {
                    let li = f.list;
                    self.unlink(h);
                    self.link_tail(h, li);
                }
            }
        }
        let now = self.clock;
        self.defrag
            .sweep(now, &self.cfg, &mut self.counters, &mut |a| v.on_anomaly(a));
    }

    /// Ends the least recently seen flow (CLOCK approximation: the oldest-linked list
    /// head not seen since it was linked; heads seen again go to the tail). False when
    /// there is none.
    fn evict_one<V: FlowVisitor<U>>(&mut self, v: &mut V) -> bool {
        let mut budget = self.active.saturating_add(N_LISTS);
        let victim = loop {
            let mut best: Option<(i64, u32)> = None;
            for &h in &self.heads {
                if let Some(f) = self.flow(h)
                    && best.is_none_or(|(t, _)| f.linked < t)
                {
                    best = Some((f.linked, h));
                }
            }
            let Some((_, i)) = best else {
                return false;
            };
            let Some(f) = self.flow(i) else {
                return false;
            };
            if f.touched <= f.linked || budget == 0 {
                break i;
            }
            budget -= 1;
            let li = f.list;
            self.unlink(i);
            self.link_tail(i, li);
        };
        if self.memcap_binding {
            self.counters.memcap_evicted += 1;
        } else {
            self.counters.max_flows_evicted += 1;
        }
        if self.once & 1 == 0 {
            self.once |= 1;
            let mut a = Anomaly::new(self.clock, AnomalyType::Engine, "flow.table_full");
            a.detail = Some(format!(
                "{} flows tracked ({}); evicting the least recently seen",
                self.active,
                if self.memcap_binding {
                    "flow memcap reached"
                } else {
                    "max_flows reached"
                }
            ));
            v.on_anomaly(a);
        }
        self.end_flow(victim, EndReason::Forced, v);
        true
    }

    fn end_flow<V: FlowVisitor<U>>(&mut self, i: u32, reason: EndReason, v: &mut V) {
        let Some(f) = self.flow(i) else {
            return;
        };
        let h = f.hash;
        self.index.remove(h, i);
        self.unlink(i);
        let Some(mut f) = self
            .slots
            .get_mut(usize::try_from(i).unwrap_or(usize::MAX))
            .and_then(Option::take)
        else {
            return;
        };
        self.free.push(i);
        self.active = self.active.saturating_sub(1);
        match reason {
            EndReason::Timeout => self.counters.ended_timeout += 1,
            EndReason::Forced => self.counters.ended_forced += 1,
            EndReason::Shutdown => self.counters.ended_shutdown += 1,
        }
        if f.class == Class::Tcp {
            let ts = self.clock;
            let ctxs = [
                f.ctx(ts, Direction::ToServer, false, true, 0, true, false),
                f.ctx(ts, Direction::ToClient, false, true, 0, true, false),
            ];
            let flow_id = FlowId(f.flow_id);
            let mut hit = false;
            let mut env = Env {
                cfg: &self.cfg,
                counters: &mut self.counters,
                mem: &mut self.reasm_mem,
                memcap_hit: &mut hit,
                pool: &mut self.held_pool,
                backings: &self.backings,
            };
            let user = &mut f.user;
            let mut sink = |rel: Release, d: Direction, offset: u64, data: StreamData<'_>| {
                let chunk = StreamChunk {
                    flow: flow_id,
                    dir: d,
                    offset,
                    data,
                    ts,
                };
                deliver(v, rel, &ctxs[d.index()], chunk, user);
            };
            let ev = f.tcp.finish(&mut env, &mut sink);
            let max = self.cfg.max_anomalies_per_flow;
            f.raise(ev, ts, max, &mut self.counters, &mut |a| v.on_anomaly(a));
        }
        let rec = f.record(reason);
        v.on_flow_end(rec, f.user);
    }

    fn create<V: FlowVisitor<U>>(
        &mut self,
        pk: &PacketKey,
        h: u32,
        ts: Timestamp,
        seg: Option<&Segment<'_>>,
        v: &mut V,
    ) -> Option<(u32, u32)> {
        if self.max_active == 0 {
            return None;
        }
        while self.active >= self.max_active {
            if !self.evict_one(v) {
                return None;
            }
        }
        let synack =
            seg.is_some_and(|s| s.flags & (tf::SYN | tf::ACK | tf::RST) == tf::SYN | tf::ACK);
        // A pickup midstream from a likely server port to a likely client port: the
        // sender is the server (Zeek's `likely_server_ports` flip).
        let (sp, dp) = if pk.src_is_a {
            (pk.key.pa, pk.key.pb)
        } else {
            (pk.key.pb, pk.key.pa)
        };
        let by_port = self.cfg.midstream_orient_by_port
            && seg.is_some_and(|s| {
                s.flags & (tf::SYN | tf::RST | tf::FIN | tf::ACK) == tf::ACK
                    && key::likely_server_port(sp)
                    && !key::likely_server_port(dp)
            });
        let flipped = synack || by_port;
        let client_is_a = pk.src_is_a != flipped;
        self.created += 1;
        let flow_id = make_flow_id(h, ts, self.created);
        let mut tcp = TcpSession::default();
        let mut ev = 0;
        if let Some(s) = seg {
            ev = tcp.start(s, flipped, &self.cfg, &mut self.counters);
        }
        match pk.class {
            Class::Tcp => self.counters.flows_tcp += 1,
            Class::Udp => self.counters.flows_udp += 1,
            Class::Icmp => self.counters.flows_icmp += 1,
            Class::Other => self.counters.flows_other += 1,
        }
        self.counters.flows_created += 1;
        let flow = Flow {
            key: pk.key,
            hash: h,
            client_is_a,
            class: pk.class,
            list: 0,
            seen: 0,
            anomaly_count: 0,
            anomaly_mask: 0,
            prev: NIL,
            next: NIL,
            flow_id,
            start: ts,
            last: ts,
            touched: self.clock.0,
            linked: self.clock.0,
            pkts: [0, 0],
            bytes: [0, 0],
            icmp: pk.icmp,
            macs: None,
            tcp,
            user: U::default(),
        };
        let l = flow.list_index();
        let i = match self.free.pop() {
            Some(i) => {
                if let Some(s) = self.slots.get_mut(usize::try_from(i).ok()?) {
                    *s = Some(flow);
                }
                i
            }
            None => {
                let i = u32::try_from(self.slots.len()).ok()?;
                self.slots.push(Some(flow));
                i
            }
        };
        self.index.insert(h, i);
        self.link_tail(i, l);
        self.active += 1;
        Some((i, ev))
    }

    /// [`FlowTable::process_ip`] for a reassembled datagram: the inlined packet
    /// function's one other copy, out of line.
    #[inline(never)]
    fn process_ip_outlined<V: FlowVisitor<U>>(
        &mut self,
        ts: Timestamp,
        wire_len: u32,
        pkt: &Decoded<'_>,
        v: &mut V,
    ) {
        self.process_ip(ts, wire_len, pkt, true, v);
    }

    /// One IP packet (not a fragment): flow lookup or creation, counters, TCP
    /// state and stream, the visitor's calls. Inlined into
    /// [`FlowTable::process_frame`] (saves the call and its register saves).
    #[inline(always)]
    fn process_ip<V: FlowVisitor<U>>(
        &mut self,
        ts: Timestamp,
        wire_len: u32,
        pkt: &Decoded<'_>,
        reassembled: bool,
        v: &mut V,
    ) {
        let Some(pk) = PacketKey::of(pkt) else {
            self.counters.no_flow += 1;
            return;
        };
        let seg = match &pkt.l4 {
            L4::Tcp(t) => Some(Segment {
                seq: t.seq,
                ack: t.ack,
                flags: t.flags,
                window: t.window,
                tsval: t.opts.timestamp.map(|(v, _)| v),
                payload: pkt.payload,
            }),
            _ => None,
        };
        let h = pk.key.hash32();
        let mut found = self.find(h, &pk.key);
        if let Some(i) = found {
            let (expired, reuse) = match self.flow(i) {
                Some(f) => {
                    let expired = self.expired(f);
                    let reuse = f.class == Class::Tcp
                        && seg.is_some_and(|s| {
                            s.flags & (tf::SYN | tf::ACK | tf::RST) == tf::SYN
                                && f.tcp.reusable()
                                && (pk.src_is_a != f.client_is_a
                                    || f.tcp.client_isn() != Some(s.seq))
                        });
                    (expired, reuse)
                }
                None => (false, false),
            };
            if expired {
                self.end_flow(i, EndReason::Timeout, v);
                found = None;
            } else if reuse {
                self.counters.tcp_reuse += 1;
                self.end_flow(i, EndReason::Timeout, v);
                found = None;
            }
        }
        let (i, first, mut ev) = match found {
            Some(i) => (i, false, 0),
            None => match self.create(&pk, h, ts, seg.as_ref(), v) {
                Some((i, ev)) => (i, true, ev),
                None => {
                    self.counters.no_flow += 1;
                    return;
                }
            },
        };

        // Counters and TCP state.
        let clock = self.clock.0;
        let mut plan: Option<Plan> = None;
        let mut hit = false;
        let dir;
        {
            let Self {
                slots,
                cfg,
                counters,
                csum,
                reasm_mem,
                held_pool,
                backings,
                fast_path,
                fast_hits,
                ..
            } = self;
            let fast_path = *fast_path;
            let Some(f) = slots
                .get_mut(usize::try_from(i).unwrap_or(usize::MAX))
                .and_then(Option::as_mut)
            else {
                return;
            };
            dir = if pk.src_is_a == f.client_is_a {
                Direction::ToServer
            } else {
                Direction::ToClient
            };
            let di = dir.index();
            f.pkts[di] += 1;
            f.bytes[di] += u64::from(wire_len);
            f.seen |= 1 << di;
            if ts > f.last {
                f.last = ts;
            }
            f.touched = clock;
            if f.macs.is_none() && dir == Direction::ToServer {
                f.macs = pkt.eth.map(|e| (e.src, e.dst));
            }
            if let Some(s) = &seg {
                if csum.segment_invalid(cfg, pkt, counters) {
                    f.tcp.bad_checksum(dir);
                } else if let Some(p) = fast_path
                    .then(|| f.tcp.on_segment_fast(dir, s, cfg))
                    .flatten()
                {
                    *fast_hits += 1;
                    plan = Some(p);
                } else {
                    let mut env = Env {
                        cfg,
                        counters,
                        mem: reasm_mem,
                        memcap_hit: &mut hit,
                        pool: held_pool,
                        backings,
                    };
                    let (e, p) = f.tcp.on_segment(dir, s, &mut env);
                    ev |= e;
                    plan = Some(p);
                }
            }
        }
        if !plan.is_some_and(|p| p.fast) {
            // (The fast path changes no TCP state, hence no timeout list.)
            self.relist(i);
        }

        let max = self.cfg.max_anomalies_per_flow;
        let Self {
            slots,
            cfg,
            counters,
            reasm_mem,
            held_pool,
            backings,
            ..
        } = self;
        let Some(f) = slots
            .get_mut(usize::try_from(i).unwrap_or(usize::MAX))
            .and_then(Option::as_mut)
        else {
            return;
        };
        let tracked = plan.is_some() && f.tcp.stream_tracked(dir);
        let ctx = f.ctx(ts, dir, first, tracked, wire_len, false, reassembled);
        v.on_packet(&ctx, pkt, &mut f.user);
        if let Some(p) = plan.filter(|p| p.fast) {
            // The common segment: its acknowledgement only forgets kept bytes, and its
            // data (if any) is handed on where it lies, without the chunk sink.
            let mut env = Env {
                cfg,
                counters,
                mem: reasm_mem,
                memcap_hit: &mut hit,
                pool: held_pool,
                backings,
            };
            f.tcp.fast_ack(dir, p, &mut env);
            if p.data_seq.is_some() {
                let chunk = StreamChunk {
                    flow: ctx.flow_id,
                    dir,
                    offset: f.tcp.delivered(dir),
                    data: StreamData::Bytes(pkt.payload),
                    ts,
                };
                v.on_stream(&ctx, chunk, &mut f.user);
                v.on_raw_stream(&ctx, chunk, &mut f.user);
                f.tcp.fast_data_delivered(dir, pkt.payload, &mut env);
            }
        } else if let Some(p) = plan {
            let mut env = Env {
                cfg,
                counters,
                mem: reasm_mem,
                memcap_hit: &mut hit,
                pool: held_pool,
                backings,
            };
            let flow_id = ctx.flow_id;
            let user = &mut f.user;
            let mut sink = |rel: Release, d: Direction, offset: u64, data: StreamData<'_>| {
                let chunk = StreamChunk {
                    flow: flow_id,
                    dir: d,
                    offset,
                    data,
                    ts,
                };
                deliver(v, rel, &ctx, chunk, user);
            };
            ev |= f.tcp.on_stream(dir, p, pkt.payload, &mut env, &mut sink);
        }
        v.on_packet_end(&ctx, &mut f.user);
        if ev != 0 {
            f.raise(ev, ts, max, counters, &mut |a| v.on_anomaly(a));
        }
        if hit && self.once & 2 == 0 {
            self.once |= 2;
            let mut a = Anomaly::new(ts, AnomalyType::Engine, "stream.reassembly_memcap");
            a.detail = Some(format!(
                "reassembly memcap of {} bytes reached; held data gapped out",
                self.cfg.reassembly_memcap_bytes
            ));
            v.on_anomaly(a);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Budget of the table's own part of a flow entry (without `U`), in bytes; see
    /// "Memory and speed" in `docs/flow.md`. A million flows cost this many MB plus
    /// the index and the engine's state, so growing it is a decision, not an accident.
    const FLOW_ENTRY_BUDGET: usize = 280;
    /// Budget of the TCP session kept inline in every entry.
    const TCP_SESSION_BUDGET: usize = 120;

    #[test]
    fn flow_entry_stays_within_its_budget() {
        use std::mem::size_of;
        let entry = size_of::<Option<Flow<()>>>();
        let tcp = size_of::<TcpSession>();
        eprintln!("flow entry {entry} B, TCP session {tcp} B");
        assert!(entry <= FLOW_ENTRY_BUDGET, "flow entry {entry} B");
        assert!(tcp <= TCP_SESSION_BUDGET, "TCP session {tcp} B");
        assert_eq!(
            FlowTable::<()>::bytes_per_flow(),
            entry + INDEX_BYTES_PER_FLOW
        );
        // `U` is stored inline, and an empty `Option` costs nothing extra.
        assert!(size_of::<Option<Flow<u64>>>() <= entry + 8);
    }
}
