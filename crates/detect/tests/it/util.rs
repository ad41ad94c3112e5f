//! Builders for the facts the engine hands the detectors.

use std::net::IpAddr;
use std::sync::Arc;
use stormwatch_detect::{DetectConfig, Detectors};
use stormwatch_model::*;

pub fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

pub fn ts_ms(ms: i64) -> Timestamp {
    // 2004-04-20 09:00:00 UTC + ms
    Timestamp(1_082_451_600_000_000_000 + ms * 1_000_000)
}

pub fn home() -> NetSet {
    NetSet::rfc1918()
}

pub fn detectors() -> Detectors {
    Detectors::new(DetectConfig::default(), home())
}

/// A packet summary with neutral defaults (a Linux-like SYN).
pub fn pkt(
    ms: i64,
    flow: u64,
    src: &str,
    sport: u16,
    dst: &str,
    dport: u16,
    flags: u8,
) -> PacketSummary {
    PacketSummary {
        ts: ts_ms(ms),
        flow_id: FlowId(flow),
        dir: Direction::ToServer,
        first_in_flow: true,
        src: ip(src),
        dst: ip(dst),
        src_port: sport,
        dst_port: dport,
        proto: IpProto::TCP,
        tcp_flags: flags,
        window: 64240,
        ip_id: (flow as u16).wrapping_mul(31),
        ttl: 64,
        tcp_options_sig: 0x5a5a_0001,
        mss: Some(1460),
        icmp: None,
        payload_len: 0,
        wire_len: 74,
    }
}

/// The reply direction of `p` with the given flags.
pub fn reply(p: &PacketSummary, ms: i64, flags: u8) -> PacketSummary {
    PacketSummary {
        ts: ts_ms(ms),
        dir: Direction::ToClient,
        first_in_flow: false,
        src: p.dst,
        dst: p.src,
        src_port: p.dst_port,
        dst_port: p.src_port,
        tcp_flags: flags,
        ..*p
    }
}

pub const SYN: u8 = tcp_flags::SYN;
pub const SYNACK: u8 = tcp_flags::SYN | tcp_flags::ACK;
pub const RSTACK: u8 = tcp_flags::RST | tcp_flags::ACK;
pub const RST: u8 = tcp_flags::RST;

/// A finished TCP flow record.
#[allow(clippy::too_many_arguments)]
pub fn flow_rec(
    flow: u64,
    src: &str,
    sport: u16,
    dst: &str,
    dport: u16,
    start_ms: i64,
    end_ms: i64,
    history: &str,
    bytes_ts: u64,
    bytes_tc: u64,
    app: AppProto,
) -> FlowRecord {
    FlowRecord {
        flow_id: FlowId(flow),
        key: FlowKey {
            src: ip(src),
            dst: ip(dst),
            src_port: sport,
            dst_port: dport,
            proto: IpProto::TCP,
            vlan: [0, 0],
        },
        start: ts_ms(start_ms),
        end: ts_ms(end_ms),
        pkts_toserver: 10,
        pkts_toclient: 10,
        bytes_toserver: bytes_ts,
        bytes_toclient: bytes_tc,
        app_proto: app,
        app_proto_ts: None,
        app_proto_tc: None,
        state: FlowState::Closed,
        reason: EndReason::Timeout,
        alerted: false,
        tcp: Some(TcpSummary {
            flags: 0x1b,
            flags_ts: 0x1b,
            flags_tc: 0x1b,
            state: TcpState::Closed,
            history: history.into(),
            handshake_done: history.contains('h') || history.contains('A'),
            gap_bytes_ts: 0,
            gap_bytes_tc: 0,
        }),
        icmp: None,
        macs: None,
    }
}

pub fn app_ctx(
    ms: i64,
    flow: u64,
    src: &str,
    sport: u16,
    dst: &str,
    dport: u16,
    dir: Direction,
) -> AppContext {
    AppContext {
        ts: ts_ms(ms),
        flow_id: FlowId(flow),
        key: FlowKey {
            src: ip(src),
            dst: ip(dst),
            src_port: sport,
            dst_port: dport,
            proto: IpProto::TCP,
            vlan: [0, 0],
        },
        dir,
    }
}

/// An alert from `src` to `dst` with a classtype.
pub fn alert(
    ms: i64,
    sid: u32,
    classtype: &str,
    msg: &str,
    src: &str,
    dst: &str,
    dport: u16,
) -> Alert {
    Alert {
        ts: ts_ms(ms),
        sig: Arc::new(SignatureInfo {
            gid: 1,
            sid,
            rev: 1,
            msg: msg.into(),
            classtype: Some(classtype.into()),
            category: String::new(),
            severity: 1,
            metadata: vec![],
            references: vec![],
            target: None,
        }),
        action: AlertAction::Allowed,
        flow_id: Some(FlowId(u64::from(sid) * 1000 + ms as u64)),
        src_ip: ip(src),
        src_port: 40000,
        dest_ip: ip(dst),
        dest_port: dport,
        proto: IpProto::TCP,
        direction: Some(Direction::ToServer),
        app_proto: AppProto::Unknown,
        tx_id: None,
        flow: None,
        payload: None,
        packet: None,
        stream: false,
    }
}

/// Notices of one kind name (`scan_detected`, …).
pub fn kind_name(n: &Notice) -> &'static str {
    match n.kind {
        NoticeKind::ScanDetected(_) => "scan_detected",
        NoticeKind::ScanEnded(_) => "scan_ended",
        NoticeKind::NewListener(_) => "new_listener",
        NoticeKind::C2Channel(_) => "c2_channel",
        NoticeKind::Beacon(_) => "beacon",
        NoticeKind::Download(_) => "download",
        NoticeKind::Propagation(_) => "propagation",
        NoticeKind::Masquerade { .. } => "masquerade",
        NoticeKind::BruteForce { .. } => "brute_force",
    }
}

/// The scanner records (`ScanDetected` about the scanner itself).
pub fn scans_detected(out: &[Notice]) -> Vec<&ScanInfo> {
    out.iter()
        .filter_map(|n| match &n.kind {
            NoticeKind::ScanDetected(s) if n.host == s.scanner => Some(s),
            _ => None,
        })
        .collect()
}

pub fn scans_ended(out: &[Notice]) -> Vec<&ScanInfo> {
    out.iter()
        .filter_map(|n| match &n.kind {
            NoticeKind::ScanEnded(s) => Some(s),
            _ => None,
        })
        .collect()
}

/// Per-target `E1` records.
pub fn target_records(out: &[Notice]) -> Vec<&Notice> {
    out.iter()
        .filter(|n| n.stage == Some(Stage::E1InboundScan))
        .collect()
}

/// Deterministic pseudo-random sequence (xorshift) for shuffled probe orders.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    pub fn shuffle<T>(&mut self, v: &mut [T]) {
        for i in (1..v.len()).rev() {
            let j = (self.next() % (i as u64 + 1)) as usize;
            v.swap(i, j);
        }
    }
}
