//! Test harness for the part-B parsers (HTTP, DNS, FTP, SMTP, TFTP): a small
//! classic-pcap reader, TCP/UDP conversation assembly with in-order delivery and
//! gaps, a recording sink that remembers which packet produced each output, and
//! the EVE-like JSON view of records that the suricata-verify checks read.
//!
//! It deliberately depends on nothing but `model` and `proto`, so these tests
//! run while the capture/flow crates evolve.

use serde_json::{Map, Value, json};
use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::{Path, PathBuf};
use stormwatch_model::{
    Anomaly, AppContext, AppEvent, AppProto, AppRecord, Direction, FlowId, FlowKey, IpProto,
    StreamData, Timestamp, TxView,
};
use stormwatch_proto::api::{DatagramParser, ParseStatus, ProtoSink, StreamParser, TxSnapshot};

/// Root of the shared data, or `None` (tests then print a skip line and pass).
pub fn shared_dir() -> Option<PathBuf> {
    let cands = [
        std::env::var_os("STORMWATCH_SHARED").map(PathBuf::from),
        Some(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared")),
        Some(PathBuf::from("/work/shared")),
    ];
    cands.into_iter().flatten().find(|p| p.is_dir())
}

/// One decoded IP packet carrying TCP or UDP.
#[derive(Clone, Debug)]
pub struct Packet {
    /// 1-based number in the capture.
    pub num: u64,
    pub ts: Timestamp,
    pub src: IpAddr,
    pub dst: IpAddr,
    pub sport: u16,
    pub dport: u16,
    pub proto: u8,
    pub flags: u8,
    pub seq: u32,
    pub ack: u32,
    pub vlan: [u16; 2],
    pub payload: Vec<u8>,
}

fn u16be(b: &[u8], o: usize) -> Option<u16> {
    Some(u16::from_be_bytes([*b.get(o)?, *b.get(o + 1)?]))
}
fn u32be(b: &[u8], o: usize) -> Option<u32> {
    Some(u32::from_be_bytes([
        *b.get(o)?,
        *b.get(o + 1)?,
        *b.get(o + 2)?,
        *b.get(o + 3)?,
    ]))
}

/// Reads a classic pcap file (Ethernet with VLANs, NULL/loopback, raw IP, SLL).
pub fn read_pcap(path: &Path) -> Vec<Packet> {
    let data = std::fs::read(path).unwrap();
    let magic = u32::from_le_bytes(data[0..4].try_into().unwrap());
    let (le, nano) = match magic {
        0xa1b2c3d4 => (true, false),
        0xd4c3b2a1 => (false, false),
        0xa1b23c4d => (true, true),
        0x4d3cb2a1 => (false, true),
        m => panic!("{}: not a classic pcap (magic {m:x})", path.display()),
    };
    let rd = |o: usize| -> u32 {
        let b: [u8; 4] = data[o..o + 4].try_into().unwrap();
        if le {
            u32::from_le_bytes(b)
        } else {
            u32::from_be_bytes(b)
        }
    };
    let linktype = rd(20);
    let mut off = 24;
    let mut out = Vec::new();
    let mut num = 0;
    while off + 16 <= data.len() {
        let secs = rd(off);
        let frac = rd(off + 4);
        let caplen = rd(off + 8) as usize;
        off += 16;
        let Some(frame) = data.get(off..off + caplen) else {
            break;
        };
        off += caplen;
        num += 1;
        let micros = if nano { frac / 1000 } else { frac };
        let ts = Timestamp::from_secs_micros(i64::from(secs), micros);
        let mut vlan = [0u16; 2];
        let ip = match linktype {
            1 => {
                let mut et = u16be(frame, 12);
                let mut p = 14;
                let mut nv = 0;
                while matches!(et, Some(0x8100 | 0x88a8)) {
                    if nv < 2 {
                        vlan[nv] = u16be(frame, p).unwrap_or(0) & 0x0fff;
                        nv += 1;
                    }
                    et = u16be(frame, p + 2);
                    p += 4;
                }
                match et {
                    Some(0x0800 | 0x86dd) => frame.get(p..),
                    _ => None,
                }
            }
            0 => frame.get(4..),
            101 | 228 | 229 => Some(frame),
            113 => frame.get(16..),
            _ => None,
        };
        if let Some(ip) = ip
            && let Some(mut p) = decode_ip(num, ts, ip)
        {
            p.vlan = vlan;
            out.push(p);
        }
    }
    out
}

fn decode_ip(num: u64, ts: Timestamp, ip: &[u8]) -> Option<Packet> {
    let v = ip.first()? >> 4;
    let (src, dst, proto, l4) = match v {
        4 => {
            let ihl = usize::from(ip[0] & 0xf) * 4;
            let total = usize::from(u16be(ip, 2)?);
            let frag = u16be(ip, 6)? & 0x3fff;
            if frag != 0 {
                return None;
            }
            let src = IpAddr::V4(Ipv4Addr::new(ip[12], ip[13], ip[14], ip[15]));
            let dst = IpAddr::V4(Ipv4Addr::new(ip[16], ip[17], ip[18], ip[19]));
            let end = total.min(ip.len());
            (src, dst, ip[9], ip.get(ihl..end)?)
        }
        6 => {
            let plen = usize::from(u16be(ip, 4)?);
            let mut nh = *ip.get(6)?;
            let s: [u8; 16] = ip.get(8..24)?.try_into().ok()?;
            let d: [u8; 16] = ip.get(24..40)?.try_into().ok()?;
            let mut p = 40;
            let end = (40 + plen).min(ip.len());
            while matches!(nh, 0 | 43 | 60) {
                nh = *ip.get(p)?;
                p += (usize::from(*ip.get(p + 1)?) + 1) * 8;
            }
            (
                IpAddr::V6(Ipv6Addr::from(s)),
                IpAddr::V6(Ipv6Addr::from(d)),
                nh,
                ip.get(p..end)?,
            )
        }
        _ => return None,
    };
    match proto {
        6 => {
            let doff = usize::from(l4.get(12)? >> 4) * 4;
            Some(Packet {
                num,
                ts,
                src,
                dst,
                sport: u16be(l4, 0)?,
                dport: u16be(l4, 2)?,
                proto,
                flags: *l4.get(13)?,
                seq: u32be(l4, 4)?,
                ack: u32be(l4, 8)?,
                vlan: [0, 0],
                payload: l4.get(doff..)?.to_vec(),
            })
        }
        17 => Some(Packet {
            num,
            ts,
            src,
            dst,
            sport: u16be(l4, 0)?,
            dport: u16be(l4, 2)?,
            proto,
            flags: 0,
            seq: 0,
            ack: 0,
            vlan: [0, 0],
            payload: l4.get(8..)?.to_vec(),
        }),
        _ => None,
    }
}

/// One piece of a conversation, delivered at packet `num`.
#[derive(Clone, Debug)]
pub enum Piece {
    Bytes(Vec<u8>),
    Gap(u32),
}

/// A TCP or UDP conversation, client → server, with its in-order data.
#[derive(Clone, Debug)]
pub struct Conv {
    pub key: FlowKey,
    /// (packet number, time, direction, data) in delivery order.
    pub items: Vec<(u64, Timestamp, Direction, Piece)>,
    /// Number of the last packet of the conversation.
    pub last: u64,
    pub last_ts: Timestamp,
}

const SYN: u8 = 0x02;
const ACK: u8 = 0x10;
const FIN: u8 = 0x01;
const RST: u8 = 0x04;

#[derive(Default, Debug)]
struct TcpDir {
    next: Option<u32>,
    ooo: BTreeMap<u32, (u64, Timestamp, Vec<u8>)>,
    fin: bool,
}

fn seq_lt(a: u32, b: u32) -> bool {
    (a.wrapping_sub(b) as i32) < 0
}

/// Groups packets into conversations. The client is the sender of a bare SYN,
/// else the receiver of a SYN/ACK, else the side with the higher port when the
/// other is below 1024, else the first sender.
pub fn conversations(pkts: &[Packet]) -> Vec<Conv> {
    type K = (IpAddr, u16, IpAddr, u16, u8);
    let mut order: Vec<K> = Vec::new();
    let mut by: BTreeMap<String, usize> = BTreeMap::new();
    let mut groups: Vec<Vec<&Packet>> = Vec::new();
    for p in pkts {
        let a = (p.src, p.sport);
        let b = (p.dst, p.dport);
        let (lo, hi) = if format!("{a:?}") < format!("{b:?}") {
            (a, b)
        } else {
            (b, a)
        };
        let id = format!("{lo:?}{hi:?}{}", p.proto);
        let i = *by.entry(id).or_insert_with(|| {
            order.push((p.src, p.sport, p.dst, p.dport, p.proto));
            groups.push(Vec::new());
            groups.len() - 1
        });
        groups[i].push(p);
    }
    let mut out = Vec::new();
    for (gi, g) in groups.iter().enumerate() {
        let first = order[gi];
        let (csrc, cport) = if let Some(s) = g
            .iter()
            .find(|p| p.proto == 6 && p.flags & (SYN | ACK) == SYN)
        {
            (s.src, s.sport)
        } else if let Some(s) = g
            .iter()
            .find(|p| p.proto == 6 && p.flags & (SYN | ACK) == SYN | ACK)
        {
            (s.dst, s.dport)
        } else if first.3 >= 1024 && first.1 < 1024 {
            (first.2, first.3)
        } else {
            (first.0, first.1)
        };
        let p0 = g[0];
        let key = if p0.src == csrc && p0.sport == cport {
            FlowKey {
                src: p0.src,
                dst: p0.dst,
                src_port: p0.sport,
                dst_port: p0.dport,
                proto: IpProto(p0.proto),
                vlan: p0.vlan,
            }
        } else {
            FlowKey {
                src: p0.dst,
                dst: p0.src,
                src_port: p0.dport,
                dst_port: p0.sport,
                proto: IpProto(p0.proto),
                vlan: p0.vlan,
            }
        };
        let mut conv = Conv {
            key,
            items: Vec::new(),
            last: 0,
            last_ts: p0.ts,
        };
        let mut dirs = [TcpDir::default(), TcpDir::default()];
        for p in g {
            conv.last = p.num;
            conv.last_ts = p.ts;
            let dir = if p.src == key.src && p.sport == key.src_port {
                Direction::ToServer
            } else {
                Direction::ToClient
            };
            if p.proto == 17 {
                if !p.payload.is_empty() {
                    conv.items
                        .push((p.num, p.ts, dir, Piece::Bytes(p.payload.clone())));
                }
                continue;
            }
            let d = dir.index();
            // The peer acknowledging data we never saw declares a gap.
            if p.flags & ACK != 0 {
                let o = 1 - d;
                if let Some(next) = dirs[o].next
                    && seq_lt(next, p.ack)
                    && !dirs[o].ooo.is_empty()
                {
                    let odir = dir.flip();
                    flush_gaps(&mut dirs[o], &mut conv.items, odir, Some(p.ack));
                }
            }
            if p.flags & SYN != 0 {
                dirs[d].next = Some(p.seq.wrapping_add(1));
                // TCP Fast Open: data in the SYN.
                if !p.payload.is_empty() {
                    dirs[d]
                        .ooo
                        .insert(p.seq.wrapping_add(1), (p.num, p.ts, p.payload.clone()));
                    drain(&mut dirs[d], &mut conv.items, dir);
                }
                continue;
            }
            if p.flags & RST != 0 && p.payload.is_empty() {
                continue;
            }
            if dirs[d].next.is_none() {
                dirs[d].next = Some(p.seq);
            }
            if !p.payload.is_empty() {
                dirs[d].ooo.insert(p.seq, (p.num, p.ts, p.payload.clone()));
                drain(&mut dirs[d], &mut conv.items, dir);
            }
            if p.flags & FIN != 0 {
                dirs[d].fin = true;
            }
        }
        for (i, dir) in [Direction::ToServer, Direction::ToClient]
            .into_iter()
            .enumerate()
        {
            flush_gaps(&mut dirs[i], &mut conv.items, dir, None);
        }
        out.push(conv);
    }
    out
}

fn drain(d: &mut TcpDir, items: &mut Vec<(u64, Timestamp, Direction, Piece)>, dir: Direction) {
    loop {
        let Some(next) = d.next else { return };
        let Some((&seq, _)) = d.ooo.iter().next() else {
            return;
        };
        if seq_lt(next, seq) {
            return;
        }
        let (num, ts, data) = d.ooo.remove(&seq).unwrap();
        let skip = next.wrapping_sub(seq) as usize;
        if skip < data.len() {
            items.push((num, ts, dir, Piece::Bytes(data[skip..].to_vec())));
            d.next = Some(seq.wrapping_add(data.len() as u32));
        }
    }
}

/// Declares the hole before the first held segment a gap (up to `upto`, or all
/// held data at the end of the capture) and delivers what follows.
fn flush_gaps(
    d: &mut TcpDir,
    items: &mut Vec<(u64, Timestamp, Direction, Piece)>,
    dir: Direction,
    upto: Option<u32>,
) {
    while let (Some(next), Some((&seq, v))) = (d.next, d.ooo.iter().next()) {
        if let Some(u) = upto
            && !seq_lt(seq, u)
        {
            return;
        }
        if seq_lt(next, seq) {
            let (num, ts) = (v.0, v.1);
            items.push((num, ts, dir, Piece::Gap(seq.wrapping_sub(next))));
            d.next = Some(seq);
        }
        drain(d, items, dir);
    }
}

/// What a sink saw, each item tagged with the packet being processed.
#[derive(Default, Debug)]
pub struct Recorded {
    pub records: Vec<(u64, AppRecord)>,
    pub anomalies: Vec<(u64, Anomaly)>,
    pub events: Vec<(u64, AppContext, AppEvent)>,
    pub txs: Vec<(u64, TxSnapshot)>,
    pub upgrades: Vec<(u64, AppProto)>,
    pub cur: u64,
}

impl ProtoSink for Recorded {
    fn event(&mut self, ctx: &AppContext, ev: AppEvent) {
        self.events.push((self.cur, *ctx, ev));
    }
    fn record(&mut self, rec: AppRecord) {
        self.records.push((self.cur, rec));
    }
    fn anomaly(&mut self, a: Anomaly) {
        self.anomalies.push((self.cur, a));
    }
    fn tx(&mut self, ctx: &AppContext, tx: &dyn TxView) {
        self.txs.push((self.cur, TxSnapshot::of(ctx, tx)));
    }
}

pub fn ctx_for(flow: u64, key: FlowKey, ts: Timestamp, dir: Direction) -> AppContext {
    AppContext {
        ts,
        flow_id: FlowId(flow),
        key,
        dir,
    }
}

/// Feeds a TCP conversation to a stream parser; stops feeding after `Done`,
/// `Violation` or `Upgrade` (recorded). Returns the index of the first item not
/// fed after an upgrade.
pub fn run_stream(
    flow: u64,
    conv: &Conv,
    p: &mut dyn StreamParser,
    sink: &mut Recorded,
) -> Option<usize> {
    let mut upgraded_at = None;
    for (i, (num, ts, dir, piece)) in conv.items.iter().enumerate() {
        sink.cur = *num;
        let ctx = ctx_for(flow, conv.key, *ts, *dir);
        let data = match piece {
            Piece::Bytes(b) => StreamData::Bytes(b),
            Piece::Gap(n) => StreamData::Gap(*n),
        };
        match p.parse(&ctx, data, sink) {
            ParseStatus::Ok => {}
            ParseStatus::Upgrade(a) => {
                sink.upgrades.push((*num, a));
                upgraded_at = Some(i + 1);
                break;
            }
            ParseStatus::Done | ParseStatus::Violation(_) => break,
        }
    }
    sink.cur = conv.last;
    let ctx = ctx_for(flow, conv.key, conv.last_ts, Direction::ToServer);
    p.close(&ctx, sink);
    upgraded_at
}

/// Feeds a UDP conversation to a datagram parser.
pub fn run_datagrams(flow: u64, conv: &Conv, p: &mut dyn DatagramParser, sink: &mut Recorded) {
    for (num, ts, dir, piece) in &conv.items {
        sink.cur = *num;
        let ctx = ctx_for(flow, conv.key, *ts, *dir);
        if let Piece::Bytes(b) = piece {
            p.parse(&ctx, b, sink);
        }
    }
    sink.cur = conv.last;
    let ctx = ctx_for(flow, conv.key, conv.last_ts, Direction::ToServer);
    p.close(&ctx, sink);
}

/// Suricata's IP text: dotted IPv4, IPv6 as eight 4-digit groups.
pub fn ip_text(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(a) => a.to_string(),
        IpAddr::V6(a) => a
            .segments()
            .iter()
            .map(|s| format!("{s:04x}"))
            .collect::<Vec<_>>()
            .join(":"),
    }
}

/// The EVE line a writer would produce for a record (the fields the checks read).
pub fn eve_of_record(pcap_cnt: u64, r: &AppRecord) -> Value {
    let mut m = Map::new();
    m.insert("event_type".into(), r.event_type.clone().into());
    m.insert("timestamp".into(), r.ts.to_eve().into());
    m.insert("flow_id".into(), r.flow_id.0.into());
    m.insert("pcap_cnt".into(), pcap_cnt.into());
    m.insert("src_ip".into(), ip_text(r.key.src).into());
    m.insert("src_port".into(), r.key.src_port.into());
    m.insert("dest_ip".into(), ip_text(r.key.dst).into());
    m.insert("dest_port".into(), r.key.dst_port.into());
    m.insert("proto".into(), r.key.proto.eve_name().into_owned().into());
    m.insert("pkt_src".into(), "wire/pcap".into());
    m.insert(
        "ip_v".into(),
        if r.key.src.is_ipv4() { 4 } else { 6 }.into(),
    );
    let vl: Vec<Value> = r
        .key
        .vlan
        .iter()
        .filter(|v| **v != 0)
        .map(|v| Value::from(*v))
        .collect();
    if !vl.is_empty() {
        m.insert("vlan".into(), Value::Array(vl));
    }
    if let Some(t) = r.tx_id {
        m.insert("tx_id".into(), t.into());
    }
    for (k, v) in &r.extra {
        m.insert(k.clone(), v.clone());
    }
    m.insert(r.event_type.clone(), r.body.clone());
    Value::Object(m)
}

/// The EVE line for an anomaly.
pub fn eve_of_anomaly(pcap_cnt: u64, a: &Anomaly) -> Value {
    let mut an = json!({"type": a.kind.as_str(), "event": a.event.as_ref()});
    if let Some(l) = &a.layer {
        an["layer"] = l.as_ref().into();
    }
    if let Some(p) = a.app_proto {
        an["app_proto"] = p.as_str().into();
    }
    let mut v = json!({"event_type": "anomaly", "pcap_cnt": pcap_cnt, "anomaly": an});
    if let Some(e) = a.endpoints {
        v["src_ip"] = ip_text(e.src).into();
        v["dest_ip"] = ip_text(e.dst).into();
        v["src_port"] = e.src_port.into();
        v["dest_port"] = e.dst_port.into();
    }
    v
}

impl Recorded {
    /// Records and anomalies as EVE lines.
    pub fn eve(&self) -> Vec<Value> {
        let mut v: Vec<Value> = self
            .records
            .iter()
            .map(|(n, r)| eve_of_record(*n, r))
            .collect();
        v.extend(self.anomalies.iter().map(|(n, a)| eve_of_anomaly(*n, a)));
        v
    }

    /// Records as comparable JSON strings (for split/unsplit comparisons).
    pub fn record_strings(&self) -> Vec<String> {
        self.records
            .iter()
            .map(|(_, r)| {
                let mut r = r.clone();
                r.ts = Timestamp::ZERO;
                serde_json::to_string(&r).unwrap()
            })
            .collect()
    }
}
