//! New listeners (E6): a host starts accepting TCP connections on a port it
//! was not seen serving before.
//!
//! A host's served ports are learned silently for `listener_warmup_secs` after
//! the host is first seen. After that, a SYN/ACK from an unlearned port is a
//! candidate, reported when:
//! - the host was the target of an exploit before (any accepted connection), or
//! - the connection is *used*: application data identified on it, data in
//!   both directions at its end, or still open `listener_confirm_secs` later.
//!
//! Ordinary service ports (`listener_quiet_ports`: 22, 80, 443, …) are learned
//! silently unless the host was exploited before.
//! Ports a scanner discovers (a SYN/ACK to a decided scanner, on a host with no
//! exploit, and no data both ways on the connection) and ports announced by FTP
//! (`PORT`/`PASV`) or IRC DCC offers are learned without a record.
//!
//! Backdoor control channels (E4): a new listener whose first client is the
//! host that exploited it, within `backdoor_after_exploit_secs` of the
//! exploit, is watched; an interactive session on it from that host (data both
//! ways, at least 4 packets to the listener and 3 back, lasting at least
//! `backdoor_session_min_secs`) is the backdoor's control channel: a
//! `C2Channel` about the victim with the exploiter as peer (traits
//! `backdoor_session`, `listener_after_exploit`). A new ordinary service on a
//! host nobody exploited, or one first used by another client, is never
//! watched.

use crate::Ctx;
use crate::hosts::HostIndex;
use crate::scan::Scans;
use crate::util::{FifoMap, RESERVE_MAX, ep};
use rustc_hash::{FxHashMap, FxHashSet};
use std::collections::VecDeque;
use std::net::IpAddr;
use stormwatch_model::{
    C2Info, Direction, FlowId, FlowRecord, IpProto, ListenerInfo, Notice, NoticeKind,
    PacketSummary, Stage, Timestamp, human_duration, tcp_flags,
};

/// Watched hosts: when each was first seen sending (IPv4 hosts in the host
/// table shared with the scan detector, which is looked up for most packets
/// the detectors see; IPv6 hosts apart), with the ports learned kept apart
/// for the few hosts that serve. Oldest first out at `max`.
struct Hosts {
    /// Watched IPv4 hosts (entries of the shared table with a first sight).
    v4_len: usize,
    v6: FxHashMap<u128, Timestamp>,
    ports: FxHashMap<IpAddr, Vec<u16>>,
    order: VecDeque<IpAddr>,
    max: usize,
    evicted: u64,
}

impl Hosts {
    fn new(max: usize) -> Hosts {
        Hosts {
            v4_len: 0,
            v6: FxHashMap::default(),
            ports: FxHashMap::default(),
            order: VecDeque::with_capacity(max.clamp(1, RESERVE_MAX)),
            max: max.max(1),
            evicted: 0,
        }
    }

    fn len(&self) -> usize {
        self.v4_len + self.v6.len()
    }

    fn first_seen(&self, v4: &HostIndex, ip: IpAddr) -> Option<Timestamp> {
        match ip {
            IpAddr::V4(a) => v4.get(u32::from(a))?.first_seen(),
            IpAddr::V6(a) => self.v6.get(&u128::from(a)).copied(),
        }
    }

    fn remove(&mut self, v4: &mut HostIndex, ip: IpAddr) -> bool {
        self.ports.remove(&ip);
        match ip {
            IpAddr::V4(a) => {
                let a = u32::from(a);
                if v4.get(a).and_then(|e| e.first_seen()).is_none() {
                    return false;
                }
                v4.set_first_seen(a, None);
                self.v4_len -= 1;
                true
            }
            IpAddr::V6(a) => self.v6.remove(&u128::from(a)).is_some(),
        }
    }

    /// Watches `ip` from `ts` unless it is watched already; returns when it
    /// was first seen.
    fn watch(&mut self, v4: &mut HostIndex, ip: IpAddr, ts: Timestamp) -> Timestamp {
        if let Some(t) = self.first_seen(v4, ip) {
            return t;
        }
        while self.len() >= self.max {
            let Some(old) = self.order.pop_front() else {
                break;
            };
            if self.remove(v4, old) {
                self.evicted += 1;
            }
        }
        self.order.push_back(ip);
        match ip {
            IpAddr::V4(a) => {
                v4.set_first_seen(u32::from(a), Some(ts));
                self.v4_len += 1;
            }
            IpAddr::V6(a) => {
                self.v6.insert(u128::from(a), ts);
            }
        }
        ts
    }

    /// Bytes held apart from the shared host table (counted by the scan
    /// detector).
    fn heap_bytes(&self) -> usize {
        self.v6.capacity() * (std::mem::size_of::<(u128, Timestamp)>() + 1)
            + self.ports.capacity() * (std::mem::size_of::<(IpAddr, Vec<u16>)>() + 1)
            + self.ports.values().map(|p| p.capacity() * 2).sum::<usize>()
            + self.order.len() * std::mem::size_of::<IpAddr>()
    }
}

struct Candidate {
    server: IpAddr,
    port: u16,
    client: IpAddr,
    ts: Timestamp,
    watched_secs: f64,
    reset: bool,
    /// The client is a decided scanner: only data both ways (or parsed
    /// application data) shows the port is used rather than discovered.
    needs_data: bool,
}

/// A new listener opened right after an exploit, first used by its exploiter.
struct Backdoor {
    attacker: IpAddr,
    exploit_ts: Timestamp,
    listener_ts: Timestamp,
}

/// Flows opened by their server's side (midstream pickups: rare) whose
/// client has not sent yet, tracked at once; past it the shortcut of
/// [`Listeners::sender_watched`] is off for the rest of the input.
const FLIPPED_MAX: usize = 4_096;

/// Listener learning state.
pub(crate) struct Listeners {
    hosts: Hosts,
    /// Flows whose first packet came from the server and whose client has
    /// not sent yet: that client's first packet in the flow is not the
    /// flow's first packet.
    flipped: FxHashSet<FlowId>,
    /// `flipped` reached [`FLIPPED_MAX`].
    flipped_full: bool,
    expect: FifoMap<(IpAddr, u16), Timestamp>,
    cand: FifoMap<FlowId, Candidate>,
    cand_q: VecDeque<(Timestamp, FlowId)>,
    /// Listeners watched as possible backdoors, by (host, port).
    backdoors: FifoMap<(IpAddr, u16), Backdoor>,
    /// Backdoor control channels reported.
    pub backdoor_sessions: u64,
    /// Ports learned during warm-up.
    pub learned: u64,
    /// Accepts on announced FTP data / DCC ports.
    pub expected: u64,
    /// Open ports found by a scanner (learned, not reported).
    pub scan_discovered: u64,
    /// Hosts at their port limit.
    pub ports_full: u64,
    /// Ordinary service ports learned without a record.
    pub quiet: u64,
    /// Candidates dropped (probe-like: no data, reset).
    pub dropped: u64,
    /// Records emitted.
    pub reported: u64,
}

impl Listeners {
    pub(crate) fn new(hosts_max: usize, expect_max: usize, backdoor_max: usize) -> Listeners {
        Listeners {
            backdoors: FifoMap::new(backdoor_max),
            backdoor_sessions: 0,
            hosts: Hosts::new(hosts_max),
            flipped: FxHashSet::default(),
            flipped_full: false,
            expect: FifoMap::new(expect_max),
            cand: FifoMap::new(expect_max),
            cand_q: VecDeque::new(),
            learned: 0,
            expected: 0,
            scan_discovered: 0,
            ports_full: 0,
            quiet: 0,
            dropped: 0,
            reported: 0,
        }
    }

    pub(crate) fn evicted(&self) -> u64 {
        self.hosts.evicted + self.expect.evicted + self.cand.evicted + self.backdoors.evicted
    }

    pub(crate) fn hosts(&self) -> usize {
        self.hosts.len()
    }

    pub(crate) fn heap_bytes(&self) -> usize {
        self.hosts.heap_bytes()
            + self.expect.capacity_bytes(40)
            + self
                .cand
                .capacity_bytes(std::mem::size_of::<(FlowId, Candidate)>())
            + self.cand_q.capacity() * 16
            + self
                .backdoors
                .capacity_bytes(std::mem::size_of::<((IpAddr, u16), Backdoor)>())
            + self.flipped.capacity() * (std::mem::size_of::<FlowId>() + 1)
    }

    /// An FTP data connection or DCC offer announced `addr:port`.
    pub(crate) fn expect(&mut self, addr: IpAddr, port: u16, now: Timestamp, ctx: &Ctx<'_>) {
        let secs =
            i64::try_from(ctx.cfg.listener_expectation_secs).unwrap_or(i64::MAX / 2_000_000_000);
        let (d, _) = self
            .expect
            .entry_or_insert_with((addr, port), || Timestamp::ZERO);
        *d = now.add_secs(secs);
    }

    /// `addr:port` was announced by FTP or a DCC offer and is still expected.
    pub(crate) fn is_expected(&self, addr: IpAddr, port: u16, now: Timestamp) -> bool {
        self.expect
            .get(&(addr, port))
            .is_some_and(|until| now <= *until)
    }

    /// Watches `ip` (when it may get records) and returns when it was first
    /// seen.
    fn watch(
        &mut self,
        v4: &mut HostIndex,
        ip: IpAddr,
        ts: Timestamp,
        ctx: &Ctx<'_>,
    ) -> Option<Timestamp> {
        if ctx.cfg.listener_home_only && !ctx.is_home(ip) {
            return None;
        }
        Some(self.hosts.watch(v4, ip, ts))
    }

    /// Packet entry point. `scans` holds the shared IPv4 host table and
    /// tells whether a client is a decided scanner.
    pub(crate) fn on_packet(&mut self, p: &PacketSummary, scans: &mut Scans, ctx: &mut Ctx<'_>) {
        let f = p.tcp_flags;
        let synack = p.proto == IpProto::TCP
            && f & (tcp_flags::SYN | tcp_flags::ACK | tcp_flags::RST)
                == tcp_flags::SYN | tcp_flags::ACK;
        // A host is watched from the first packet it sends (its first
        // packet in some flow). Only a SYN/ACK needs to know since when.
        let src_first_seen = if !synack && self.sender_watched(p) {
            None
        } else {
            self.watch(scans.hosts_mut(), p.src, p.ts, ctx)
        };
        if p.proto != IpProto::TCP {
            return;
        }
        if f & tcp_flags::RST != 0 {
            if let Some(c) = self.cand.get_mut(&p.flow_id) {
                c.reset = true;
            }
            return;
        }
        if f & (tcp_flags::SYN | tcp_flags::ACK) != tcp_flags::SYN | tcp_flags::ACK {
            return;
        }
        let (server, port, client) = (p.src, p.src_port, p.dst);
        // The server was watched above (`None`: not a host that gets records).
        let Some(first_seen) = src_first_seen else {
            return;
        };
        if !self.expect.is_empty()
            && let Some(&until) = self.expect.get(&(server, port))
            && p.ts <= until
        {
            self.expected += 1;
            return;
        }
        let ports = self.hosts.ports.entry(server).or_default();
        if ports.contains(&port) {
            return;
        }
        if ports.len() >= ctx.cfg.listener_ports_per_host_max {
            self.ports_full += 1;
            return;
        }
        ports.push(port);
        let watched = p.ts.secs_since(first_seen);
        let warmup = ctx.cfg.listener_warmup_secs as f64;
        if watched < warmup {
            self.learned += 1;
            return;
        }
        let c = Candidate {
            server,
            port,
            client,
            ts: p.ts,
            watched_secs: watched,
            reset: false,
            needs_data: scans.is_scanner(client),
        };
        if ctx.attacks.exploit_before(server, p.ts).is_some() {
            self.report(&c, p.flow_id, ctx);
        } else if ctx.cfg.listener_quiet_ports.contains(&port) {
            self.quiet += 1;
        } else {
            let secs =
                i64::try_from(ctx.cfg.listener_confirm_secs).unwrap_or(i64::MAX / 2_000_000_000);
            self.cand_q.push_back((p.ts.add_secs(secs), p.flow_id));
            self.cand.entry_or_insert_with(p.flow_id, || c);
        }
    }

    /// The sender of `p` is watched already (if it may be) because it sent
    /// an earlier packet of the flow that the detectors saw — they see the
    /// first packet of each flow in each direction — and no watched host was
    /// evicted since: a client's later packets (FIN, RST, ICMP) need no
    /// lookup. A client whose flow was opened by the server's side (a
    /// midstream pickup) sends its first packet in the flow after the
    /// flow's first packet; such flows are noted until it does.
    #[inline]
    fn sender_watched(&mut self, p: &PacketSummary) -> bool {
        match p.dir {
            Direction::ToClient => {
                if p.first_in_flow {
                    if self.flipped.len() < FLIPPED_MAX {
                        self.flipped.insert(p.flow_id);
                    } else {
                        self.flipped_full = true;
                    }
                }
                false
            }
            Direction::ToServer => {
                !p.first_in_flow
                    && self.hosts.evicted == 0
                    && !self.flipped_full
                    && (self.flipped.is_empty() || !self.flipped.remove(&p.flow_id))
            }
        }
    }

    /// A listener candidate waits for application data on `flow`.
    pub(crate) fn awaits_data(&self, flow: FlowId) -> bool {
        !self.cand.is_empty() && self.cand.contains(&flow)
    }

    /// Application data identified on the flow: the listener is in use.
    pub(crate) fn on_app_data(&mut self, flow: FlowId, ctx: &mut Ctx<'_>) {
        if self.cand.is_empty() {
            return;
        }
        if let Some(c) = self.cand.remove(&flow) {
            self.report(&c, flow, ctx);
        }
    }

    /// The flow ended: data in both directions confirms, otherwise the accept
    /// was a probe.
    pub(crate) fn on_flow_end(&mut self, rec: &FlowRecord, ctx: &mut Ctx<'_>) {
        if !self.flipped.is_empty() {
            self.flipped.remove(&rec.flow_id);
        }
        if !self.backdoors.is_empty() && rec.key.proto == IpProto::TCP {
            self.backdoor_session(rec, ctx);
        }
        let Some(c) = self.cand.remove(&rec.flow_id) else {
            return;
        };
        let used = match &rec.tcp {
            Some(t) if !t.history.is_empty() => t.history.contains('D') && t.history.contains('d'),
            _ => rec.pkts_toserver >= 4 && rec.pkts_toclient >= 3,
        };
        if used {
            self.report(&c, rec.flow_id, ctx);
        } else if c.needs_data {
            self.scan_discovered += 1;
        } else {
            self.dropped += 1;
        }
    }

    /// The earliest time [`Listeners::advance`] has work.
    #[inline]
    pub(crate) fn next_due(&self) -> Timestamp {
        self.cand_q.front().map_or(Timestamp(i64::MAX), |&(d, _)| d)
    }

    /// Time moved: candidates still open (no reset) after the confirmation delay
    /// are in use.
    pub(crate) fn advance(&mut self, now: Timestamp, ctx: &mut Ctx<'_>) {
        while let Some(&(deadline, flow)) = self.cand_q.front() {
            if deadline > now {
                break;
            }
            self.cand_q.pop_front();
            let open = self
                .cand
                .get(&flow)
                .is_some_and(|c| !c.reset && !c.needs_data);
            if open && let Some(c) = self.cand.remove(&flow) {
                self.report(&c, flow, ctx);
            }
        }
    }

    /// A flow to a watched backdoor listener ended: an interactive session from
    /// the exploiter is the backdoor's control channel.
    fn backdoor_session(&mut self, rec: &FlowRecord, ctx: &mut Ctx<'_>) {
        let k = &rec.key;
        let at = (k.dst, k.dst_port);
        let Some(b) = self.backdoors.get(&at) else {
            return;
        };
        if b.attacker != k.src {
            return;
        }
        let data_both_ways = match &rec.tcp {
            Some(t) if !t.history.is_empty() => t.history.contains('D') && t.history.contains('d'),
            _ => rec.bytes_toserver > 0 && rec.bytes_toclient > 0,
        };
        let lasted = rec.end.secs_since(rec.start);
        if !data_both_ways
            || rec.pkts_toserver < 4
            || rec.pkts_toclient < 3
            || lasted < ctx.cfg.backdoor_session_min_secs as f64
        {
            return;
        }
        let Some(b) = self.backdoors.remove(&at) else {
            return;
        };
        let identifier = format!("backdoor:{}:tcp/{}", k.dst, k.dst_port);
        if !ctx.sup.first(&identifier) {
            return;
        }
        self.backdoor_sessions += 1;
        ctx.out.push(Notice {
            // Known to be interactive when the session ends.
            ts: rec.end,
            identifier,
            host: k.dst,
            peer: Some(b.attacker),
            flow_id: Some(rec.flow_id),
            stage: Some(Stage::E4C2),
            msg: format!(
                "backdoor control channel: {} ran an interactive session ({}, {} bytes in, {} bytes out) on new listener {}, opened {} after its exploit",
                b.attacker,
                crate::util::secs(lasted),
                crate::util::thousands(rec.bytes_toserver),
                crate::util::thousands(rec.bytes_toclient),
                ep(k.dst, k.dst_port),
                human_duration(b.listener_ts.secs_since(b.exploit_ts))
            ),
            kind: NoticeKind::C2Channel(C2Info {
                server: b.attacker,
                port: k.dst_port,
                proto: rec.app_proto,
                nick: None,
                channels: Vec::new(),
                traits: vec![
                    "backdoor_session".to_string(),
                    "listener_after_exploit".to_string(),
                ],
                commands: Vec::new(),
                beacon: None,
            }),
        });
    }

    fn report(&mut self, c: &Candidate, flow: FlowId, ctx: &mut Ctx<'_>) {
        let identifier = format!("listener:{}:tcp/{}", c.server, c.port);
        if !ctx.sup.first(&identifier) {
            return;
        }
        self.reported += 1;
        // Opened right after an exploit and first used by the exploiter: a
        // possible backdoor, its sessions watched.
        let window =
            i64::try_from(ctx.cfg.backdoor_after_exploit_secs).unwrap_or(i64::MAX / 2_000_000_000);
        if let Some(r) = ctx.attacks.exploit_by(c.server, c.client, c.ts)
            && c.ts <= r.ts.add_secs(window)
        {
            let exploit_ts = r.ts;
            let (b, _) = self
                .backdoors
                .entry_or_insert_with((c.server, c.port), || Backdoor {
                    attacker: c.client,
                    exploit_ts,
                    listener_ts: c.ts,
                });
            *b = Backdoor {
                attacker: c.client,
                exploit_ts,
                listener_ts: c.ts,
            };
        }
        ctx.out.push(Notice {
            ts: c.ts,
            identifier,
            host: c.server,
            peer: Some(c.client),
            flow_id: Some(flow),
            stage: Some(Stage::E6NewListener),
            msg: format!(
                "new listener {} accepts connections from {} (port not served in the {} watched before)",
                ep(c.server, c.port),
                c.client,
                human_duration(c.watched_secs)
            ),
            kind: NoticeKind::NewListener(ListenerInfo {
                port: c.port,
                proto: IpProto::TCP,
                first_client: c.client,
                watched_secs: c.watched_secs,
            }),
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: i64) -> Timestamp {
        Timestamp::from_secs_nanos(s, 0)
    }

    #[test]
    fn hosts_keep_first_sight_and_evict_oldest_with_their_ports() {
        let a: IpAddr = "10.0.0.1".parse().unwrap();
        let b: IpAddr = "2001:db8::2".parse().unwrap();
        let c: IpAddr = "10.0.0.3".parse().unwrap();
        let mut v4 = HostIndex::default();
        let mut h = Hosts::new(2);
        h.watch(&mut v4, a, t(1));
        h.watch(&mut v4, b, t(2));
        h.watch(&mut v4, a, t(3));
        assert_eq!(
            h.first_seen(&v4, a),
            Some(t(1)),
            "watched from its first packet"
        );
        assert_eq!(h.first_seen(&v4, b), Some(t(2)));
        h.ports.entry(a).or_default().push(80);
        h.watch(&mut v4, c, t(4));
        assert_eq!(h.evicted, 1);
        assert_eq!(h.len(), 2);
        assert_eq!(h.first_seen(&v4, a), None, "oldest out");
        assert_eq!(v4.len(), 1, "its entry in the shared table freed");
        assert!(!h.ports.contains_key(&a), "with its ports");
        assert_eq!(h.first_seen(&v4, c), Some(t(4)));
        h.watch(&mut v4, a, t(5));
        assert_eq!(
            h.first_seen(&v4, a),
            Some(t(5)),
            "a new host after eviction"
        );
        assert_eq!(h.first_seen(&v4, b), None);
        assert_eq!(h.evicted, 2);
    }
}
