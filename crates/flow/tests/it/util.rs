//! Packet builders (real bytes with correct checksums, decoded by `stormwatch_wire`)
//! and a recording visitor that checks stream offsets as chunks arrive.

use std::collections::BTreeMap;
use std::net::IpAddr;
use stormwatch_flow::{FlowConfig, FlowTable, FlowVisitor, OverlapPolicy, PacketCtx};
use stormwatch_model::{
    Anomaly, Direction, FlowRecord, StreamChunk, StreamData, Timestamp, tcp_flags,
};
use stormwatch_wire::{Decoded, decode_ip};

/// Every overlap policy, for tests that pick one at random.
pub const POLICIES: [OverlapPolicy; 5] = [
    OverlapPolicy::First,
    OverlapPolicy::Last,
    OverlapPolicy::Bsd,
    OverlapPolicy::Linux,
    OverlapPolicy::Windows,
];

pub const SYN: u8 = tcp_flags::SYN;
pub const ACK: u8 = tcp_flags::ACK;
pub const FIN: u8 = tcp_flags::FIN;
pub const RST: u8 = tcp_flags::RST;
pub const PSH: u8 = tcp_flags::PSH;

/// Byte written into the rendered stream for every gap byte.
pub const GAP: u8 = b'~';

pub fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

/// An IPv4 header + payload with a correct header checksum. `frag` is the 16-bit
/// flags/fragment-offset field.
pub fn ipv4(src: [u8; 4], dst: [u8; 4], proto: u8, id: u16, frag: u16, payload: &[u8]) -> Vec<u8> {
    let total = 20 + payload.len();
    let mut p = vec![0x45, 0];
    p.extend_from_slice(&(total as u16).to_be_bytes());
    p.extend_from_slice(&id.to_be_bytes());
    p.extend_from_slice(&frag.to_be_bytes());
    p.extend_from_slice(&[64, proto, 0, 0]);
    p.extend_from_slice(&src);
    p.extend_from_slice(&dst);
    let ck = stormwatch_wire::checksum(&p[..20]);
    p[10..12].copy_from_slice(&ck.to_be_bytes());
    p.extend_from_slice(payload);
    p
}

/// An IPv6 header (+ raw extension bytes `ext`, whose first header type is `first_next`)
/// and payload.
pub fn ipv6(src: [u8; 16], dst: [u8; 16], first_next: u8, ext: &[u8], payload: &[u8]) -> Vec<u8> {
    let plen = ext.len() + payload.len();
    let mut p = vec![0x60, 0, 0, 0];
    p.extend_from_slice(&(plen as u16).to_be_bytes());
    p.push(first_next);
    p.push(64);
    p.extend_from_slice(&src);
    p.extend_from_slice(&dst);
    p.extend_from_slice(ext);
    p.extend_from_slice(payload);
    p
}

fn octets4(a: IpAddr) -> [u8; 4] {
    match a {
        IpAddr::V4(v) => v.octets(),
        IpAddr::V6(_) => panic!("v4 expected"),
    }
}

fn octets6(a: IpAddr) -> [u8; 16] {
    match a {
        IpAddr::V6(v) => v.octets(),
        IpAddr::V4(_) => panic!("v6 expected"),
    }
}

/// A TCP segment inside IPv4 or IPv6 (by the address family), checksums correct.
#[allow(clippy::too_many_arguments)]
pub fn tcp(
    src: IpAddr,
    dst: IpAddr,
    sport: u16,
    dport: u16,
    seq: u32,
    ack: u32,
    flags: u8,
    window: u16,
    payload: &[u8],
) -> Vec<u8> {
    tcp_opts(
        src,
        dst,
        sport,
        dport,
        seq,
        ack,
        flags,
        window,
        &[],
        payload,
    )
}

/// TCP timestamp option (NOP, NOP, kind 8) with `tsval` and `tsecr`.
pub fn ts_option(tsval: u32, tsecr: u32) -> Vec<u8> {
    let mut o = vec![1, 1, 8, 10];
    o.extend_from_slice(&tsval.to_be_bytes());
    o.extend_from_slice(&tsecr.to_be_bytes());
    o
}

/// As [`tcp`], with TCP options (padded with NOPs to a multiple of 4 bytes).
#[allow(clippy::too_many_arguments)]
pub fn tcp_opts(
    src: IpAddr,
    dst: IpAddr,
    sport: u16,
    dport: u16,
    seq: u32,
    ack: u32,
    flags: u8,
    window: u16,
    options: &[u8],
    payload: &[u8],
) -> Vec<u8> {
    let mut opts = options.to_vec();
    while !opts.len().is_multiple_of(4) {
        opts.push(1);
    }
    let mut t = Vec::with_capacity(20 + opts.len() + payload.len());
    t.extend_from_slice(&sport.to_be_bytes());
    t.extend_from_slice(&dport.to_be_bytes());
    t.extend_from_slice(&seq.to_be_bytes());
    t.extend_from_slice(&ack.to_be_bytes());
    t.push((((20 + opts.len()) / 4) as u8) << 4);
    t.push(flags);
    t.extend_from_slice(&window.to_be_bytes());
    t.extend_from_slice(&[0, 0, 0, 0]);
    t.extend_from_slice(&opts);
    t.extend_from_slice(payload);
    match (src, dst) {
        (IpAddr::V4(s), IpAddr::V4(d)) => {
            let ck = stormwatch_wire::ipv4_pseudo_checksum(s, d, 6, &t);
            t[16..18].copy_from_slice(&ck.to_be_bytes());
            ipv4(s.octets(), d.octets(), 6, 1, 0, &t)
        }
        _ => {
            let (s, d) = (octets6(src), octets6(dst));
            let ck = stormwatch_wire::ipv6_pseudo_checksum(s.into(), d.into(), 6, &t);
            t[16..18].copy_from_slice(&ck.to_be_bytes());
            ipv6(s, d, 6, &[], &t)
        }
    }
}

/// A UDP datagram (header + payload) with its checksum, for the given addresses.
pub fn udp_datagram(src: IpAddr, dst: IpAddr, sport: u16, dport: u16, payload: &[u8]) -> Vec<u8> {
    let len = 8 + payload.len();
    let mut u = Vec::with_capacity(len);
    u.extend_from_slice(&sport.to_be_bytes());
    u.extend_from_slice(&dport.to_be_bytes());
    u.extend_from_slice(&(len as u16).to_be_bytes());
    u.extend_from_slice(&[0, 0]);
    u.extend_from_slice(payload);
    let ck = match (src, dst) {
        (IpAddr::V4(s), IpAddr::V4(d)) => stormwatch_wire::ipv4_pseudo_checksum(s, d, 17, &u),
        _ => {
            stormwatch_wire::ipv6_pseudo_checksum(octets6(src).into(), octets6(dst).into(), 17, &u)
        }
    };
    u[6..8].copy_from_slice(&ck.to_be_bytes());
    u
}

pub fn udp(src: IpAddr, dst: IpAddr, sport: u16, dport: u16, payload: &[u8]) -> Vec<u8> {
    let u = udp_datagram(src, dst, sport, dport, payload);
    match src {
        IpAddr::V4(_) => ipv4(octets4(src), octets4(dst), 17, 7, 0, &u),
        IpAddr::V6(_) => ipv6(octets6(src), octets6(dst), 17, &[], &u),
    }
}

/// ICMPv4 echo request (type 8) or reply (type 0).
pub fn icmp_echo(src: IpAddr, dst: IpAddr, ty: u8, id: u16, seq: u16) -> Vec<u8> {
    let mut m = vec![ty, 0, 0, 0];
    m.extend_from_slice(&id.to_be_bytes());
    m.extend_from_slice(&seq.to_be_bytes());
    m.extend_from_slice(b"ping");
    let ck = stormwatch_wire::checksum(&m);
    m[2..4].copy_from_slice(&ck.to_be_bytes());
    ipv4(octets4(src), octets4(dst), 1, 9, 0, &m)
}

/// A stream as rendered from chunks: bytes, with [`GAP`] for every gap byte.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Stream {
    pub data: Vec<u8>,
    /// (offset, length) of every gap chunk.
    pub gaps: Vec<(u64, u32)>,
    /// Number of chunks.
    pub chunks: usize,
}

/// Per-flow user state: proves `U` is created per flow and handed back.
#[derive(Debug, Default)]
pub struct User {
    pub packets: u64,
    pub stream_bytes: u64,
}

/// Records everything the table reports, and panics on a stream offset that does not
/// continue the previous chunk.
/// One stream callback: which packet released it (1-based count of `on_packet`
/// calls so far), for whom, and what.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Release {
    pub packet: usize,
    /// `on_raw_stream` (else `on_stream`).
    pub raw: bool,
    pub dir: Direction,
    pub offset: u64,
    /// The bytes, or [`GAP`] bytes for a gap.
    pub data: Vec<u8>,
    pub flow_end: bool,
    /// Direction of the releasing packet (`None` at the end of the flow).
    pub by: Option<Direction>,
}

#[derive(Debug, Default)]
pub struct Rec {
    pub streams: BTreeMap<(u64, usize), Stream>,
    /// What `on_raw_stream` saw, rendered like `streams`.
    pub raw_streams: BTreeMap<(u64, usize), Stream>,
    pub releases: Vec<Release>,
    /// `on_packet_end` calls, and how many of them came before their packet's
    /// `on_packet` had been seen (must stay 0).
    pub packet_ends: usize,
    pub packet_end_out_of_order: usize,
    pub packets: Vec<PacketCtx>,
    pub ip_payloads: Vec<Vec<u8>>,
    pub ended: Vec<FlowRecord>,
    pub users: Vec<User>,
    pub anomalies: Vec<Anomaly>,
}

impl FlowVisitor<User> for Rec {
    fn on_packet(&mut self, ctx: &PacketCtx, pkt: &Decoded<'_>, user: &mut User) {
        user.packets += 1;
        self.packets.push(ctx.clone());
        self.ip_payloads.push(pkt.ip_payload.to_vec());
    }

    fn on_stream(&mut self, ctx: &PacketCtx, chunk: StreamChunk<'_>, user: &mut User) {
        if let StreamData::Bytes(b) = chunk.data {
            user.stream_bytes += b.len() as u64;
        }
        self.record(ctx, chunk, false);
    }

    fn on_raw_stream(&mut self, ctx: &PacketCtx, chunk: StreamChunk<'_>, _: &mut User) {
        self.record(ctx, chunk, true);
    }

    fn on_packet_end(&mut self, ctx: &PacketCtx, _: &mut User) {
        self.packet_ends += 1;
        if self.packets.last() != Some(ctx) {
            self.packet_end_out_of_order += 1;
        }
    }

    fn on_flow_end(&mut self, rec: FlowRecord, user: User) {
        assert_eq!(user.packets, rec.pkts_toserver + rec.pkts_toclient);
        self.ended.push(rec);
        self.users.push(user);
    }

    fn on_anomaly(&mut self, a: Anomaly) {
        self.anomalies.push(a);
    }
}

impl Rec {
    fn record(&mut self, ctx: &PacketCtx, chunk: StreamChunk<'_>, raw: bool) {
        assert_eq!(ctx.flow_id, chunk.flow);
        let map = if raw {
            &mut self.raw_streams
        } else {
            &mut self.streams
        };
        let s = map.entry((chunk.flow.0, chunk.dir.index())).or_default();
        assert_eq!(
            chunk.offset,
            s.data.len() as u64,
            "chunk offset must continue the stream"
        );
        s.chunks += 1;
        let data = match chunk.data {
            StreamData::Bytes(b) => {
                assert!(!b.is_empty(), "empty byte chunk");
                b.to_vec()
            }
            StreamData::Gap(n) => {
                assert!(n > 0, "empty gap");
                s.gaps.push((chunk.offset, n));
                vec![GAP; n as usize]
            }
        };
        s.data.extend_from_slice(&data);
        if ctx.flow_end {
            assert_eq!(ctx.dir, chunk.dir, "a flow-end release names the stream");
        }
        self.releases.push(Release {
            packet: self.packets.len(),
            raw,
            dir: chunk.dir,
            offset: chunk.offset,
            data,
            flow_end: ctx.flow_end,
            by: (!ctx.flow_end).then_some(ctx.dir),
        });
    }

    /// The raw-inspection stream of the only (or first) flow in direction `d`.
    pub fn raw_stream(&self, d: Direction) -> Stream {
        self.raw_streams
            .iter()
            .find(|((_, dir), _)| *dir == d.index())
            .map(|(_, s)| s.clone())
            .unwrap_or_default()
    }

    /// Application-layer releases in direction `d`: (releasing packet, bytes, flow end).
    pub fn app_releases(&self, d: Direction) -> Vec<(usize, Vec<u8>, bool)> {
        self.releases
            .iter()
            .filter(|r| !r.raw && r.dir == d)
            .map(|r| (r.packet, r.data.clone(), r.flow_end))
            .collect()
    }

    /// Raw-inspection releases in direction `d`, as for [`Rec::app_releases`].
    pub fn raw_releases(&self, d: Direction) -> Vec<(usize, Vec<u8>, bool)> {
        self.releases
            .iter()
            .filter(|r| r.raw && r.dir == d)
            .map(|r| (r.packet, r.data.clone(), r.flow_end))
            .collect()
    }

    /// The stream of the only (or first) flow in direction `d`.
    pub fn stream(&self, d: Direction) -> Stream {
        self.streams
            .iter()
            .find(|((_, dir), _)| *dir == d.index())
            .map(|(_, s)| s.clone())
            .unwrap_or_default()
    }

    pub fn stream_of(&self, flow: u64, d: Direction) -> Stream {
        self.streams
            .get(&(flow, d.index()))
            .cloned()
            .unwrap_or_default()
    }

    pub fn anomaly_count(&self, name: &str) -> usize {
        self.anomalies.iter().filter(|a| a.event == name).count()
    }
}

/// A table plus recorder, fed with raw IP packets at increasing times.
pub struct Run {
    pub table: FlowTable<User>,
    pub rec: Rec,
    /// Current time in nanoseconds.
    pub now: i64,
}

impl Run {
    pub fn new(cfg: FlowConfig) -> Self {
        Run {
            table: FlowTable::new(cfg),
            rec: Rec::default(),
            now: 1_000_000_000_000_000_000,
        }
    }

    /// Feeds one raw IP packet 1 ms after the previous.
    pub fn feed(&mut self, pkt: &[u8]) {
        self.now += 1_000_000;
        self.feed_at_ns(self.now, pkt);
    }

    pub fn feed_at_ns(&mut self, ns: i64, pkt: &[u8]) {
        let d = decode_ip(pkt);
        self.table
            .process(Timestamp(ns), pkt.len() as u32 + 14, &d, &mut self.rec);
    }

    /// Moves time forward by `secs` seconds.
    pub fn advance_secs(&mut self, secs: i64) {
        self.now += secs * 1_000_000_000;
    }

    pub fn finish(&mut self) {
        self.table.finish(&mut self.rec);
    }

    pub fn counter(&self, name: &str) -> u64 {
        self.table
            .counters()
            .into_iter()
            .find(|(n, _)| *n == name)
            .unwrap_or_else(|| panic!("no counter {name}"))
            .1
    }
}

/// A TCP connection between a client and a server, speaking relative sequence numbers.
#[derive(Clone, Copy, Debug)]
pub struct Conn {
    pub c: IpAddr,
    pub s: IpAddr,
    pub cp: u16,
    pub sp: u16,
    pub c_isn: u32,
    pub s_isn: u32,
}

impl Conn {
    pub fn new(c_isn: u32, s_isn: u32) -> Self {
        Conn {
            c: ip("192.0.2.1"),
            s: ip("198.51.100.2"),
            cp: 40_000,
            sp: 80,
            c_isn,
            s_isn,
        }
    }

    pub fn v6(c_isn: u32, s_isn: u32) -> Self {
        Conn {
            c: ip("2001:db8::1"),
            s: ip("2001:db8::2"),
            ..Conn::new(c_isn, s_isn)
        }
    }

    pub fn syn(&self) -> Vec<u8> {
        tcp(
            self.c, self.s, self.cp, self.sp, self.c_isn, 0, SYN, 64_240, b"",
        )
    }

    pub fn synack(&self) -> Vec<u8> {
        tcp(
            self.s,
            self.c,
            self.sp,
            self.cp,
            self.s_isn,
            self.c_isn.wrapping_add(1),
            SYN | ACK,
            65_535,
            b"",
        )
    }

    pub fn ack(&self) -> Vec<u8> {
        self.c_seg(0, 0, ACK, b"")
    }

    /// Client segment: `rel` = stream offset of its first byte, `rel_ack` = server
    /// stream offset acknowledged.
    pub fn c_seg(&self, rel: u32, rel_ack: u32, flags: u8, data: &[u8]) -> Vec<u8> {
        tcp(
            self.c,
            self.s,
            self.cp,
            self.sp,
            self.c_isn.wrapping_add(1).wrapping_add(rel),
            self.s_isn.wrapping_add(1).wrapping_add(rel_ack),
            flags,
            64_240,
            data,
        )
    }

    /// Server segment (offsets as for [`Conn::c_seg`], mirrored).
    pub fn s_seg(&self, rel: u32, rel_ack: u32, flags: u8, data: &[u8]) -> Vec<u8> {
        self.s_seg_win(rel, rel_ack, flags, 65_535, data)
    }

    pub fn s_seg_win(&self, rel: u32, rel_ack: u32, flags: u8, win: u16, data: &[u8]) -> Vec<u8> {
        tcp(
            self.s,
            self.c,
            self.sp,
            self.cp,
            self.s_isn.wrapping_add(1).wrapping_add(rel),
            self.c_isn.wrapping_add(1).wrapping_add(rel_ack),
            flags,
            win,
            data,
        )
    }

    /// Client data segment acknowledging nothing new from the server.
    pub fn c_data(&self, rel: u32, data: &[u8]) -> Vec<u8> {
        self.c_seg(rel, 0, ACK | PSH, data)
    }

    pub fn handshake(&self, run: &mut Run) {
        run.feed(&self.syn());
        run.feed(&self.synack());
        run.feed(&self.ack());
    }
}
