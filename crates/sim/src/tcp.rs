//! TCP connections as the sensor sees them: handshakes, MSS segmentation,
//! delayed ACKs, window-limited flights, FIN/RST teardown, and the evasion
//! transports (tiny segments, overlapping segments with conflicting bytes, IP
//! fragments).
//!
//! Time model: every host has a one-way delay `d` to the sensor. A packet that
//! host X sends in reaction to one the sensor saw at `t` is seen at
//! `t + 2·d(X) + think`.

use crate::packet::{FragPlan, IpId, L4, Pkt, TcpSeg, flags, opt};
use serde::Serialize;
use std::net::{Ipv4Addr, SocketAddrV4};
use stormwatch_model::Direction;

/// Nanoseconds in a microsecond / millisecond / second.
pub(crate) const US: i64 = 1_000;
pub(crate) const MS: i64 = 1_000_000;
pub(crate) const SEC: i64 = 1_000_000_000;

/// A host's TCP/IP fingerprint.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) struct OsProfile {
    /// Initial TTL.
    pub ttl: u8,
    /// Window in SYN / SYN-ACK.
    pub syn_window: u16,
    /// Receive window in bytes once established.
    pub window: u32,
    /// Window-scale shift offered, if any.
    pub wscale: Option<u8>,
    /// Offers SACK.
    pub sack: bool,
    /// Offers RFC 1323 timestamps.
    pub timestamps: bool,
    /// MSS offered.
    pub mss: u16,
    /// Sets DF.
    pub df: bool,
    /// Ephemeral port range.
    pub eph: (u16, u16),
    /// Delayed-ACK timer.
    pub delack: i64,
    /// SYN option layout.
    pub layout: OptLayout,
}

/// SYN option order of an OS.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) enum OptLayout {
    /// MSS, NOP, NOP, SACK_PERM.
    Windows,
    /// MSS, SACK_PERM, TS, NOP, WS.
    Linux,
    /// MSS, NOP, WS, NOP, NOP, TS.
    Bsd,
}

impl OsProfile {
    /// Windows 2000 / XP.
    pub const WINDOWS: OsProfile = OsProfile {
        ttl: 128,
        syn_window: 64240,
        window: 64240,
        wscale: None,
        sack: true,
        timestamps: false,
        mss: 1460,
        df: true,
        eph: (1025, 5000),
        delack: 200 * MS,
        layout: OptLayout::Windows,
    };
    /// Linux 2.6.
    pub const LINUX: OsProfile = OsProfile {
        ttl: 64,
        syn_window: 5840,
        window: 23360,
        wscale: Some(2),
        sack: true,
        timestamps: true,
        mss: 1460,
        df: true,
        eph: (32768, 61000),
        delack: 40 * MS,
        layout: OptLayout::Linux,
    };
    /// FreeBSD 4/5, Mac OS X.
    pub const BSD: OsProfile = OsProfile {
        ttl: 64,
        syn_window: 65535,
        window: 65535,
        wscale: Some(1),
        sack: false,
        timestamps: true,
        mss: 1460,
        df: true,
        eph: (49152, 65535),
        delack: 100 * MS,
        layout: OptLayout::Bsd,
    };
}

/// One side of a connection.
#[derive(Copy, Clone, Debug)]
pub(crate) struct Endpoint {
    pub ip: Ipv4Addr,
    pub port: u16,
    pub prof: OsProfile,
    /// One-way delay to the sensor, ns.
    pub d: i64,
    /// TTL as the sensor sees it (initial TTL minus hops).
    pub ttl: u8,
    /// Sender bandwidth in bytes per second (spacing of back-to-back segments).
    pub bps: i64,
}

/// How a send is cut into segments.
#[derive(Clone, Debug, Default)]
pub(crate) enum Segmentation {
    /// Full-sized segments (the peer's MSS).
    #[default]
    Mss,
    /// Segments of at most this many bytes.
    Fixed(usize),
    /// Explicit cut points (offsets into the data, ascending).
    Cuts(Vec<usize>),
}

/// Overlapping segments with conflicting bytes (see [`crate::tcp`] docs on
/// `send`). Offsets into the sent data: `a < b < c < e <= len`, `b - a >= 2`.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) struct OverlapPlan {
    pub a: usize,
    pub b: usize,
    pub c: usize,
    pub e: usize,
}

/// How one `send` is put on the wire.
#[derive(Clone, Debug, Default)]
pub(crate) struct SendHow {
    pub seg: Segmentation,
    pub overlap: Option<OverlapPlan>,
    pub frag: Option<FragPlan>,
    /// Send the last segment again after a retransmission timeout (its ACK
    /// "was lost" beyond the sensor).
    pub retransmit: bool,
}

impl SendHow {
    pub fn cuts(cuts: Vec<usize>) -> Self {
        SendHow {
            seg: Segmentation::Cuts(cuts),
            ..Default::default()
        }
    }
}

/// One data segment as sent (for reassembly-policy checks).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SegmentRecord {
    /// Direction.
    pub dir: Direction,
    /// Offset of the first byte in the direction's stream (0 = first byte after the SYN).
    pub offset: u64,
    /// Bytes carried (may conflict with an overlapping segment).
    #[serde(skip)]
    pub data: Vec<u8>,
    /// Capture time, ns.
    pub ts: i64,
}

/// A TCP connection's application streams exactly as the scenario wrote them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct StreamRecord {
    /// Client (connection initiator).
    pub client: SocketAddrV4,
    /// Server.
    pub server: SocketAddrV4,
    /// Time of the SYN, ns since the epoch.
    pub syn_ts: i64,
    /// Bytes the client wrote, in order (what the server application reads).
    #[serde(skip)]
    pub to_server: Vec<u8>,
    /// Bytes the server wrote, in order.
    #[serde(skip)]
    pub to_client: Vec<u8>,
    /// Every data segment in capture order.
    #[serde(skip)]
    pub segments: Vec<SegmentRecord>,
    /// True when segments overlap with conflicting bytes (evasion).
    pub conflicting_overlaps: bool,
    /// True when a segment arrives ahead of a hole.
    pub out_of_order: bool,
}

/// Overlap-resolution policies of target-based reassembly (Novak & Sturges 2007,
/// as implemented by Suricata's `stream.reassembly` policies).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum OverlapPolicy {
    /// Old data always wins.
    First,
    /// New data always wins.
    Last,
    /// New data wins only when the new segment starts before the old one.
    Bsd,
    /// As BSD (Windows 2000/XP/2003 behave alike for these cases).
    Windows,
    /// As BSD, and also when both start together and the new one is longer.
    Linux,
}

/// Reassembles one direction of `segments` under `policy`: the contiguous
/// bytes from offset 0 that a receiver with that policy hands its application.
pub fn reassemble(segments: &[SegmentRecord], dir: Direction, policy: OverlapPolicy) -> Vec<u8> {
    use std::collections::BTreeMap;
    // offset -> (byte, segment start, segment end)
    let mut held: BTreeMap<u64, (u8, u64, u64)> = BTreeMap::new();
    let mut out: Vec<u8> = Vec::new();
    for s in segments.iter().filter(|s| s.dir == dir) {
        let start = s.offset;
        let end = s.offset + s.data.len() as u64;
        for (i, &b) in s.data.iter().enumerate() {
            let o = start + i as u64;
            if o < out.len() as u64 {
                continue; // already delivered
            }
            let wins = match held.get(&o) {
                None => true,
                Some(&(_, os, oe)) => match policy {
                    OverlapPolicy::First => false,
                    OverlapPolicy::Last => true,
                    OverlapPolicy::Bsd | OverlapPolicy::Windows => start < os,
                    OverlapPolicy::Linux => start < os || (start == os && end > oe),
                },
            };
            if wins {
                held.insert(o, (b, start, end));
            }
        }
        while let Some((b, _, _)) = held.remove(&(out.len() as u64)) {
            out.push(b);
        }
    }
    out
}

/// Which side sends.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) enum Side {
    Client,
    Server,
}

impl Side {
    fn other(self) -> Side {
        match self {
            Side::Client => Side::Server,
            Side::Server => Side::Client,
        }
    }
    fn dir(self) -> Direction {
        match self {
            Side::Client => Direction::ToServer,
            Side::Server => Direction::ToClient,
        }
    }
}

#[derive(Clone, Debug)]
struct SideState {
    ep: Endpoint,
    isn: u32,
    /// Next sequence number to send (absolute).
    nxt: u32,
    /// Time of the last packet this side sent.
    last_tx: i64,
    /// Time the sensor last saw a packet *from the peer*.
    last_heard: i64,
    /// Pending delayed ACK: (due time).
    pending_ack: Option<i64>,
    ts_base: u32,
    last_tsval: u32,
    /// Last TSval received from the peer.
    ts_recent: u32,
    ip_id: IpId,
}

/// A simulated TCP connection; collects its packets and its stream record.
pub(crate) struct TcpConn {
    c: SideState,
    s: SideState,
    ws_on: bool,
    ts_on: bool,
    sack_on: bool,
    pkts: Vec<Pkt>,
    rec: StreamRecord,
    established: bool,
    closed: bool,
    /// Client SYN option bytes override (tool fingerprints).
    pub syn_options: Option<Vec<u8>>,
    pub syn_window: Option<u16>,
    /// Time of the first segment of the last `send`.
    pub last_start: i64,
}

impl TcpConn {
    /// A connection from `client` to `server` with the given initial sequence numbers.
    pub fn new(client: Endpoint, server: Endpoint, isn_c: u32, isn_s: u32, ts_seed: u32) -> Self {
        let side = |ep: Endpoint, isn: u32, ts_base: u32| SideState {
            ep,
            isn,
            nxt: isn,
            last_tx: i64::MIN / 4,
            last_heard: i64::MIN / 4,
            pending_ack: None,
            ts_base,
            last_tsval: 0,
            ts_recent: 0,
            ip_id: IpId::Host,
        };
        TcpConn {
            c: side(client, isn_c, ts_seed),
            s: side(server, isn_s, ts_seed.rotate_left(13) ^ 0x5a5a_0000),
            ws_on: client.prof.wscale.is_some() && server.prof.wscale.is_some(),
            ts_on: client.prof.timestamps && server.prof.timestamps,
            sack_on: client.prof.sack && server.prof.sack,
            pkts: Vec::new(),
            rec: StreamRecord {
                client: SocketAddrV4::new(client.ip, client.port),
                server: SocketAddrV4::new(server.ip, server.port),
                syn_ts: 0,
                to_server: Vec::new(),
                to_client: Vec::new(),
                segments: Vec::new(),
                conflicting_overlaps: false,
                out_of_order: false,
            },
            established: false,
            closed: false,
            syn_options: None,
            syn_window: None,
            last_start: 0,
        }
    }

    /// Sets the TTL the sensor sees on one side's packets.
    pub fn set_ttl(&mut self, side: Side, ttl: u8) {
        self.st_mut(side).ep.ttl = ttl;
    }

    /// Sets the IP-ID mode of one side.
    pub fn set_ip_id(&mut self, side: Side, id: IpId) {
        self.st_mut(side).ip_id = id;
    }

    fn st(&self, side: Side) -> &SideState {
        match side {
            Side::Client => &self.c,
            Side::Server => &self.s,
        }
    }
    fn st_mut(&mut self, side: Side) -> &mut SideState {
        match side {
            Side::Client => &mut self.c,
            Side::Server => &mut self.s,
        }
    }

    /// The latest time any packet of this connection was seen.
    pub fn now(&self) -> i64 {
        self.c.last_tx.max(self.s.last_tx)
    }

    fn syn_opts(prof: &OsProfile, peer: Option<&OsProfile>, tsval: u32, tsecr: u32) -> Vec<u8> {
        // For a SYN-ACK, only options the peer offered are answered.
        let sack = prof.sack && peer.is_none_or(|p| p.sack);
        let ts = prof.timestamps && peer.is_none_or(|p| p.timestamps);
        let ws = match (prof.wscale, peer) {
            (Some(w), Some(p)) if p.wscale.is_some() => Some(w),
            (Some(w), None) => Some(w),
            _ => None,
        };
        let mut o = Vec::with_capacity(20);
        o.extend_from_slice(&opt::mss(prof.mss));
        match prof.layout {
            OptLayout::Windows => {
                if let Some(w) = ws {
                    o.push(opt::NOP);
                    o.extend_from_slice(&opt::wscale(w));
                }
                if ts {
                    o.extend_from_slice(&[opt::NOP, opt::NOP]);
                    o.extend_from_slice(&opt::timestamps(tsval, tsecr));
                }
                if sack {
                    o.extend_from_slice(&[opt::NOP, opt::NOP]);
                    o.extend_from_slice(&opt::SACK_PERM);
                }
            }
            OptLayout::Linux => {
                match (sack, ts) {
                    (true, true) => {
                        o.extend_from_slice(&opt::SACK_PERM);
                        o.extend_from_slice(&opt::timestamps(tsval, tsecr));
                    }
                    (true, false) => {
                        o.extend_from_slice(&[opt::NOP, opt::NOP]);
                        o.extend_from_slice(&opt::SACK_PERM);
                    }
                    (false, true) => {
                        o.extend_from_slice(&[opt::NOP, opt::NOP]);
                        o.extend_from_slice(&opt::timestamps(tsval, tsecr));
                    }
                    (false, false) => {}
                }
                if let Some(w) = ws {
                    o.push(opt::NOP);
                    o.extend_from_slice(&opt::wscale(w));
                }
            }
            OptLayout::Bsd => {
                if let Some(w) = ws {
                    o.push(opt::NOP);
                    o.extend_from_slice(&opt::wscale(w));
                }
                if ts {
                    o.extend_from_slice(&[opt::NOP, opt::NOP]);
                    o.extend_from_slice(&opt::timestamps(tsval, tsecr));
                }
                if sack {
                    o.extend_from_slice(&[opt::NOP, opt::NOP]);
                    o.extend_from_slice(&opt::SACK_PERM);
                }
            }
        }
        o
    }

    fn tsval(&mut self, side: Side, t: i64) -> u32 {
        let st = self.st_mut(side);
        let v = st
            .ts_base
            .wrapping_add((t.div_euclid(MS) & 0xffff_ffff) as u32);
        let v = if v.wrapping_sub(st.last_tsval) as i32 > 0 || st.last_tsval == 0 {
            v
        } else {
            st.last_tsval
        };
        st.last_tsval = v;
        v
    }

    /// Window field value for `side` on a non-SYN segment.
    fn window_field(&self, side: Side) -> u16 {
        let p = &self.st(side).ep.prof;
        let w = if self.ws_on {
            p.window >> p.wscale.unwrap_or(0)
        } else {
            p.window
        };
        w.min(65535) as u16
    }

    /// Peer's receive window in bytes as the sender must respect it.
    fn peer_window_bytes(&self, side: Side) -> u32 {
        let p = &self.st(side.other()).ep.prof;
        if self.ws_on {
            p.window
        } else {
            p.window.min(65535)
        }
    }

    fn send_mss(&self, side: Side) -> usize {
        let peer = self.st(side.other()).ep.prof.mss;
        let own = self.st(side).ep.prof.mss;
        let m = usize::from(peer.min(own));
        if self.ts_on { m - 12 } else { m }
    }

    #[allow(clippy::too_many_arguments)]
    fn push(
        &mut self,
        side: Side,
        t: i64,
        seq: u32,
        ack: u32,
        fl: u8,
        payload: Vec<u8>,
        frag: Option<FragPlan>,
    ) {
        let mut options = Vec::new();
        if self.ts_on && fl & flags::SYN == 0 && fl & flags::RST == 0 {
            let v = self.tsval(side, t);
            let ecr = self.st(side).ts_recent;
            options.extend_from_slice(&[opt::NOP, opt::NOP]);
            options.extend_from_slice(&opt::timestamps(v, ecr));
            self.st_mut(side.other()).ts_recent = v;
        }
        let window = if fl & flags::RST != 0 && fl & flags::ACK == 0 {
            0
        } else {
            self.window_field(side)
        };
        self.push_raw(side, t, seq, ack, fl, window, options, payload, frag);
    }

    #[allow(clippy::too_many_arguments)]
    fn push_raw(
        &mut self,
        side: Side,
        t: i64,
        seq: u32,
        ack: u32,
        fl: u8,
        window: u16,
        options: Vec<u8>,
        payload: Vec<u8>,
        frag: Option<FragPlan>,
    ) {
        let (me, peer) = match side {
            Side::Client => (&self.c, &self.s),
            Side::Server => (&self.s, &self.c),
        };
        let p = Pkt {
            ts: t,
            src: me.ep.ip,
            dst: peer.ep.ip,
            ttl: me.ep.ttl,
            ip_id: me.ip_id,
            df: me.ep.prof.df,
            frag,
            l4: L4::Tcp(TcpSeg {
                sport: me.ep.port,
                dport: peer.ep.port,
                seq,
                ack: if fl & flags::ACK != 0 { ack } else { 0 },
                flags: fl,
                window,
                options,
                payload,
            }),
        };
        self.pkts.push(p);
        let st = self.st_mut(side);
        st.last_tx = st.last_tx.max(t);
        let o = self.st_mut(side.other());
        o.last_heard = o.last_heard.max(t);
    }

    /// SYN, SYN-ACK, ACK starting at `t0`. Returns the time of the final ACK.
    pub fn handshake(&mut self, t0: i64) -> i64 {
        self.syn(t0);
        let t1 = t0 + 2 * self.s.ep.d + 40 * US;
        self.syn_ack(t1);
        let t2 = t1 + 2 * self.c.ep.d + 20 * US;
        self.push(
            Side::Client,
            t2,
            self.c.nxt,
            self.s.nxt,
            flags::ACK,
            Vec::new(),
            None,
        );
        self.established = true;
        t2
    }

    /// The client's SYN alone (for connections that get no answer or a RST).
    pub fn syn(&mut self, t0: i64) {
        self.rec.syn_ts = t0;
        let tsval = self.tsval(Side::Client, t0);
        let opts = match &self.syn_options {
            Some(o) => o.clone(),
            None => Self::syn_opts(&self.c.ep.prof, None, tsval, 0),
        };
        let win = self.syn_window.unwrap_or(self.c.ep.prof.syn_window);
        let isn = self.c.isn;
        self.push_raw(
            Side::Client,
            t0,
            isn,
            0,
            flags::SYN,
            win,
            opts,
            Vec::new(),
            None,
        );
        self.c.nxt = isn.wrapping_add(1);
        self.s.ts_recent = tsval;
    }

    /// The server's SYN-ACK at `t`.
    pub fn syn_ack(&mut self, t: i64) {
        let client_prof = if self.syn_options.is_some() {
            // A crafted SYN offers only what its options say; answer MSS only.
            OsProfile {
                sack: false,
                timestamps: false,
                wscale: None,
                ..self.c.ep.prof
            }
        } else {
            self.c.ep.prof
        };
        if self.syn_options.is_some() {
            self.ts_on = false;
            self.ws_on = false;
            self.sack_on = false;
        }
        let tsval = self.tsval(Side::Server, t);
        let opts = Self::syn_opts(&self.s.ep.prof, Some(&client_prof), tsval, self.s.ts_recent);
        let isn = self.s.isn;
        let win = self.s.ep.prof.syn_window;
        self.push_raw(
            Side::Server,
            t,
            isn,
            self.c.nxt,
            flags::SYN | flags::ACK,
            win,
            opts,
            Vec::new(),
            None,
        );
        self.s.nxt = isn.wrapping_add(1);
        self.c.ts_recent = tsval;
    }

    /// A RST (with ACK) from `side` at `t` — a closed port's answer to a SYN,
    /// or an abort.
    pub fn rst_at(&mut self, side: Side, t: i64) {
        // A closed port answers a SYN with sequence 0; an abort uses the
        // next sequence number.
        let seq = if side == Side::Server && !self.established {
            0
        } else {
            self.st(side).nxt
        };
        let ack = self.st(side.other()).nxt;
        self.push_raw(
            side,
            t,
            seq,
            ack,
            flags::RST | flags::ACK,
            0,
            Vec::new(),
            Vec::new(),
            None,
        );
        self.closed = true;
    }

    /// A bare RST (no ACK) from `side` at `t` with sequence `seq` (scanners
    /// tearing down a half-open connection).
    pub fn bare_rst(&mut self, side: Side, t: i64, seq: u32) {
        self.push_raw(side, t, seq, 0, flags::RST, 0, Vec::new(), Vec::new(), None);
        self.closed = true;
    }

    /// The client's port.
    pub fn client_port(&self) -> u16 {
        self.c.ep.port
    }

    /// Sequence number `side` will send next.
    pub fn nxt(&self, side: Side) -> u32 {
        self.st(side).nxt
    }

    /// Emits pending delayed ACKs that are due before `t`, except one owed by
    /// `piggyback` (that side's next segment carries the ACK).
    fn flush_acks(&mut self, before: i64, piggyback: Option<Side>) {
        for side in [Side::Client, Side::Server] {
            if let Some(due) = self.st(side).pending_ack {
                if due < before {
                    self.st_mut(side).pending_ack = None;
                    let (seq, ack) = (self.st(side).nxt, self.st(side.other()).nxt);
                    self.push(side, due, seq, ack, flags::ACK, Vec::new(), None);
                } else if Some(side) == piggyback {
                    // The side's next segment carries the acknowledgment.
                    self.st_mut(side).pending_ack = None;
                }
            }
        }
    }

    /// Earliest time `side` can send something in reaction to what it heard,
    /// after `think` ns of application delay.
    fn start_time(&self, side: Side, think: i64) -> i64 {
        let st = self.st(side);
        (st.last_heard + 2 * st.ep.d + think).max(st.last_tx + 10 * US)
    }

    /// Sends `data` from `side` after `think` ns. See [`SendHow`].
    pub fn send(&mut self, side: Side, data: &[u8], think: i64, how: &SendHow) -> i64 {
        let start = self.start_time(side, think);
        self.send_from(side, data, start, how)
    }

    /// Sends `data` from `side` at `at` (or as soon after as causality allows).
    pub fn send_at(&mut self, side: Side, data: &[u8], at: i64, how: &SendHow) -> i64 {
        let start = at.max(self.start_time(side, 0));
        self.send_from(side, data, start, how)
    }

    fn send_from(&mut self, side: Side, data: &[u8], start: i64, how: &SendHow) -> i64 {
        if data.is_empty() {
            return self.now();
        }
        self.last_start = start;
        self.flush_acks(start, Some(side));
        // The receiver still owes an ACK for our previous tail: it will cover
        // that tail together with the first segment of this send.
        let carried = usize::from(self.st_mut(side.other()).pending_ack.take().is_some());
        let base_off = match side {
            Side::Client => self.rec.to_server.len(),
            Side::Server => self.rec.to_client.len(),
        };
        match side {
            Side::Client => self.rec.to_server.extend_from_slice(data),
            Side::Server => self.rec.to_client.extend_from_slice(data),
        }
        let base_seq = self.st(side).nxt;
        // (offset, bytes, is_fake) in emission order.
        let mut plan: Vec<(usize, Vec<u8>)> = Vec::new();
        let mut in_order_from = 0usize;
        if let Some(ov) = how
            .overlap
            .filter(|o| o.e <= data.len() && o.b >= o.a + 2 && o.c > o.b)
        {
            // Decoy bytes are zeros: they conflict wherever the real byte is not 0.
            let fake = |r: std::ops::Range<usize>| -> Vec<u8> { vec![0u8; r.len()] };
            plan.push((ov.a, data[ov.a..ov.b].to_vec()));
            plan.push((ov.a + 1, fake(ov.a + 1..ov.b)));
            plan.push((ov.c, fake(ov.c..ov.e)));
            plan.push((ov.b, data[ov.b..ov.e].to_vec()));
            plan.push((0, data[..ov.a].to_vec()));
            in_order_from = ov.e;
            self.rec.conflicting_overlaps = true;
            self.rec.out_of_order = true;
        }
        let mss = self.send_mss(side);
        let rest = &data[in_order_from..];
        let cuts: Vec<usize> = match &how.seg {
            Segmentation::Mss => (mss..rest.len()).step_by(mss.max(1)).collect(),
            Segmentation::Fixed(n) => {
                let n = (*n).clamp(1, mss);
                (n..rest.len()).step_by(n).collect()
            }
            Segmentation::Cuts(c) => {
                // Cuts are offsets into the whole send; keep those inside `rest`
                // and add MSS cuts for pieces that are still too long.
                let mut v: Vec<usize> = c
                    .iter()
                    .filter(|&&x| x > in_order_from && x < data.len())
                    .map(|&x| x - in_order_from)
                    .collect();
                v.dedup();
                let mut full = Vec::new();
                let mut prev = 0;
                for x in v.into_iter().chain(std::iter::once(rest.len())) {
                    let mut p = prev + mss;
                    while p < x {
                        full.push(p);
                        p += mss;
                    }
                    if x < rest.len() {
                        full.push(x);
                    }
                    prev = x;
                }
                full
            }
        };
        let mut prev = 0;
        for x in cuts.into_iter().chain(std::iter::once(rest.len())) {
            if x > prev {
                plan.push((in_order_from + prev, rest[prev..x].to_vec()));
            }
            prev = x;
        }

        let recv = side.other();
        let d_x = self.st(side).ep.d;
        let d_y = self.st(recv).ep.d;
        let bps = self.st(side).ep.bps.max(1000);
        let window = i64::from(self.peer_window_bytes(side));
        let n = plan.len();
        let mut t = start;
        // Highest contiguous offset delivered to the receiver (relative to base).
        let mut delivered = 0usize;
        let mut acked_off: i64 = 0; // bytes acknowledged as seen by the sender
        let mut acks: Vec<(i64, i64)> = Vec::new(); // (time sender hears it, acked offset)
        let mut unacked_segments = carried;
        let mut reach = 0usize; // highest end offset emitted
        let mut held: Vec<(usize, usize)> = Vec::new(); // out-of-order ranges
        let mut last_sent: Option<(i64, usize, u32, u8)> = None;
        for (k, (off, bytes)) in plan.into_iter().enumerate() {
            let end = off + bytes.len();
            // Respect the peer's window: wait for ACKs that open it.
            let need = end as i64 - window;
            if need > acked_off {
                if let Some(&(ta, ao)) = acks.iter().find(|(_, ao)| *ao >= need) {
                    t = t.max(ta);
                    acked_off = ao;
                } else if let Some(&(ta, ao)) = acks.last() {
                    t = t.max(ta);
                    acked_off = ao;
                }
            }
            let seq = base_seq.wrapping_add(off as u32);
            let ack = self.st(recv).nxt;
            let last = k + 1 == n;
            let mut fl = flags::ACK;
            if last || end >= data.len() {
                fl |= flags::PSH;
            }
            self.rec.segments.push(SegmentRecord {
                dir: side.dir(),
                offset: (base_off + off) as u64,
                data: bytes.clone(),
                ts: t,
            });
            let len = bytes.len();
            self.push(side, t, seq, ack, fl, bytes, how.frag);
            reach = reach.max(end);
            // Receiver bookkeeping: contiguous delivery.
            if off <= delivered {
                delivered = delivered.max(end);
                // Absorb held ranges now contiguous.
                loop {
                    let before = delivered;
                    for &(hs, he) in &held {
                        if hs <= delivered && he > delivered {
                            delivered = he;
                        }
                    }
                    if delivered == before {
                        break;
                    }
                }
                unacked_segments += 1;
                if unacked_segments >= 2 || (last && delivered == reach) {
                    let ack_t = t + 2 * d_y + 30 * US;
                    if unacked_segments >= 2 {
                        let ackno = base_seq.wrapping_add(delivered as u32);
                        let s2 = self.st(recv).nxt;
                        self.push(recv, ack_t, s2, ackno, flags::ACK, Vec::new(), None);
                        acks.push((ack_t + 2 * d_x, delivered as i64));
                        unacked_segments = 0;
                    } else {
                        // Odd tail: delayed ACK unless the receiver answers first.
                        let due = t + 2 * d_y + self.st(recv).ep.prof.delack;
                        self.st_mut(recv).pending_ack = Some(due);
                        unacked_segments = 0;
                    }
                }
            } else {
                held.push((off, end));
                self.rec.out_of_order = true;
            }
            last_sent = Some((t, off, seq, fl));
            // Spacing on the sender's link.
            t += ((len as i64 + 54) * SEC / bps).max(2 * US);
        }
        if let (true, Some((t_last, off, seq, fl))) = (how.retransmit, last_sent) {
            let rto = (4 * (d_x + d_y)).max(300 * MS);
            let t_re = t_last + rto;
            let end = (off + mss).min(data.len());
            let bytes = self
                .rec
                .segments
                .iter()
                .rev()
                .find(|s| s.dir == side.dir() && s.offset == (base_off + off) as u64)
                .map_or_else(|| data[off..end].to_vec(), |s| s.data.clone());
            self.rec.segments.push(SegmentRecord {
                dir: side.dir(),
                offset: (base_off + off) as u64,
                data: bytes.clone(),
                ts: t_re,
            });
            let ack = self.st(recv).nxt;
            self.push(side, t_re, seq, ack, fl, bytes, how.frag);
            self.rec.out_of_order = true;
            // The receiver answers the duplicate with an ACK of everything.
            let s2 = self.st(recv).nxt;
            let ackno = base_seq.wrapping_add(delivered as u32);
            self.st_mut(recv).pending_ack = None;
            self.push(
                recv,
                t_re + 2 * d_y + 30 * US,
                s2,
                ackno,
                flags::ACK,
                Vec::new(),
                None,
            );
        }
        self.st_mut(side).nxt = base_seq.wrapping_add(data.len() as u32);
        self.now()
    }

    /// Orderly close initiated by `side` after `think`: FIN, FIN-ACK, ACK.
    pub fn fin(&mut self, side: Side, think: i64) -> i64 {
        let t = self.start_time(side, think);
        self.fin_from(side, t)
    }

    fn fin_from(&mut self, side: Side, t: i64) -> i64 {
        if self.closed {
            return self.now();
        }
        self.flush_acks(t, Some(side));
        self.st_mut(side).pending_ack = None;
        let (seq, ack) = (self.st(side).nxt, self.st(side.other()).nxt);
        self.push(side, t, seq, ack, flags::FIN | flags::ACK, Vec::new(), None);
        self.st_mut(side).nxt = seq.wrapping_add(1);
        let peer = side.other();
        let t2 = t + 2 * self.st(peer).ep.d + 60 * US;
        self.st_mut(peer).pending_ack = None;
        let (pseq, pack) = (self.st(peer).nxt, self.st(side).nxt);
        self.push(
            peer,
            t2,
            pseq,
            pack,
            flags::FIN | flags::ACK,
            Vec::new(),
            None,
        );
        self.st_mut(peer).nxt = pseq.wrapping_add(1);
        let t3 = t2 + 2 * self.st(side).ep.d + 30 * US;
        let (seq, ack) = (self.st(side).nxt, self.st(peer).nxt);
        self.push(side, t3, seq, ack, flags::ACK, Vec::new(), None);
        self.closed = true;
        t3
    }

    /// Abort by `side` after `think`: RST+ACK.
    pub fn rst(&mut self, side: Side, think: i64) -> i64 {
        if self.closed {
            return self.now();
        }
        let t = self.start_time(side, think);
        self.flush_acks(t, Some(side));
        self.rst_at(side, t);
        t
    }

    /// Flushes outstanding delayed ACKs (the connection stays open, e.g. at the
    /// end of the capture).
    pub fn settle(&mut self) {
        self.flush_acks(i64::MAX, None);
    }

    /// The packets and the stream record.
    pub fn finish(mut self) -> (Vec<Pkt>, StreamRecord) {
        self.settle();
        (self.pkts, self.rec)
    }

    /// Sack negotiated (informational).
    #[allow(dead_code)]
    pub fn sack(&self) -> bool {
        self.sack_on
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ep(ip: [u8; 4], port: u16, prof: OsProfile, d: i64) -> Endpoint {
        Endpoint {
            ip: Ipv4Addr::from(ip),
            port,
            prof,
            d,
            ttl: prof.ttl,
            bps: 1_250_000,
        }
    }

    fn segs(c: &TcpConn) -> Vec<(u8, u32, u32, usize)> {
        c.pkts
            .iter()
            .map(|p| match &p.l4 {
                L4::Tcp(s) => (s.flags, s.seq, s.ack, s.payload.len()),
                _ => unreachable!(),
            })
            .collect()
    }

    #[test]
    fn handshake_then_request_response_then_fin() {
        let mut c = TcpConn::new(
            ep([10, 0, 0, 1], 1100, OsProfile::WINDOWS, 100 * US),
            ep([192, 0, 2, 1], 80, OsProfile::LINUX, 20 * MS),
            1000,
            5000,
            1,
        );
        c.handshake(0);
        c.send(
            Side::Client,
            b"GET / HTTP/1.0\r\n\r\n",
            0,
            &SendHow::default(),
        );
        c.send(Side::Server, &vec![b'x'; 3000], MS, &SendHow::default());
        c.fin(Side::Server, 0);
        let (pkts, rec) = c.finish();
        assert_eq!(rec.to_server, b"GET / HTTP/1.0\r\n\r\n");
        assert_eq!(rec.to_client.len(), 3000);
        // Times are non-decreasing per direction and every ACK refers to sent data.
        let mut sent = [1001u32 + 18, 5001 + 3000];
        sent[0] += 1;
        sent[1] += 1;
        for p in &pkts {
            if let L4::Tcp(s) = &p.l4
                && s.flags & flags::ACK != 0
            {
                let limit = if s.sport == 1100 { sent[1] } else { sent[0] };
                assert!(s.ack <= limit, "ack {} beyond {}", s.ack, limit);
            }
        }
        // Windows ↔ Linux: no timestamps, no window scaling.
        for p in &pkts {
            if let L4::Tcp(s) = &p.l4
                && s.flags & flags::SYN == 0
            {
                assert!(s.options.is_empty());
            }
        }
    }

    #[test]
    fn odd_tail_is_piggybacked_on_the_answer() {
        let mut c = TcpConn::new(
            ep([10, 0, 0, 1], 1100, OsProfile::WINDOWS, 100 * US),
            ep([10, 0, 0, 2], 80, OsProfile::WINDOWS, 100 * US),
            1,
            2,
            1,
        );
        c.handshake(0);
        c.send(Side::Client, b"ping", 0, &SendHow::default());
        c.send(Side::Server, b"pong", MS, &SendHow::default());
        let s = segs(&c);
        // SYN, SYN-ACK, ACK, data, data (no pure ACK between the two data segments).
        assert_eq!(s.len(), 5);
        assert_eq!(s[4].3, 4);
        assert_eq!(s[4].2, 2 + 4, "server's data acknowledges the request");
    }

    #[test]
    fn overlap_plan_resolves_to_real_bytes_under_bsd_and_windows_only() {
        let data: Vec<u8> = (0..100u8).collect();
        let mut c = TcpConn::new(
            ep([203, 0, 113, 7], 40000, OsProfile::LINUX, 30 * MS),
            ep([10, 1, 1, 20], 443, OsProfile::WINDOWS, 100 * US),
            7,
            9,
            1,
        );
        c.handshake(0);
        let how = SendHow {
            overlap: Some(OverlapPlan {
                a: 2,
                b: 10,
                c: 11,
                e: 16,
            }),
            ..Default::default()
        };
        c.send(Side::Client, &data, 0, &how);
        let (_, rec) = c.finish();
        let r = |p| reassemble(&rec.segments, Direction::ToServer, p);
        assert_eq!(r(OverlapPolicy::Bsd), data);
        assert_eq!(r(OverlapPolicy::Windows), data);
        assert_eq!(r(OverlapPolicy::Linux), data);
        let first = r(OverlapPolicy::First);
        let last = r(OverlapPolicy::Last);
        assert_eq!(first.len(), 100);
        assert_ne!(first[11..16], data[11..16]);
        assert_eq!(first[3..10], data[3..10]);
        assert_ne!(last[3..10], data[3..10]);
        assert_eq!(last[11..16], data[11..16]);
        assert!(rec.conflicting_overlaps);
    }

    #[test]
    fn one_byte_segments_are_acked_every_second_segment() {
        let mut c = TcpConn::new(
            ep([203, 0, 113, 7], 40000, OsProfile::LINUX, 30 * MS),
            ep([10, 1, 1, 20], 443, OsProfile::WINDOWS, 100 * US),
            7,
            9,
            1,
        );
        c.handshake(0);
        let how = SendHow {
            seg: Segmentation::Fixed(1),
            ..Default::default()
        };
        c.send(Side::Client, b"abcdef", 0, &how);
        let s = segs(&c);
        let data = s.iter().filter(|x| x.3 == 1).count();
        let pure_acks_from_server = s
            .iter()
            .filter(|x| x.3 == 0 && x.0 == flags::ACK && x.1 == 10)
            .count();
        assert_eq!(data, 6);
        assert_eq!(pure_acks_from_server, 3);
    }
}
