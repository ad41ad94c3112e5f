//! Scenario → packets + labels.
//!
//! Each activity appends packets (with capture times) to the world; at the
//! end they are sorted by time, IP IDs are assigned from per-host counters in
//! capture order, and the pcap and labels are written.

mod acts;
mod facts;

use crate::error::ScenarioError;
use crate::labels::Labels;
use crate::packet::{IpId, Pkt, ROUTER_MAC, mac_of};
use crate::payload::SimRng;
use crate::pcap::PcapWriter;
use crate::scenario::{Os, Scenario};
use crate::tcp::{Endpoint, OsProfile, StreamRecord, TcpConn, US};
use facts::Facts;
use rand::{Rng, SeedableRng};
use std::collections::BTreeMap;
use std::net::Ipv4Addr;

/// Largest number of datagrams one scenario may generate; beyond it,
/// [`generate`] fails with an error naming the limit.
pub const MAX_PACKETS: usize = 5_000_000;

/// A generated capture.
#[derive(Clone, Debug)]
pub struct Generated {
    /// The classic pcap file (µs timestamps, Ethernet).
    pub pcap: Vec<u8>,
    /// Ground truth.
    pub labels: Labels,
    /// Every TCP connection's application bytes as written, in SYN order.
    pub streams: Vec<StreamRecord>,
    /// Number of frames in `pcap`.
    pub frames: u64,
}

/// What the world knows about a host.
#[derive(Clone, Debug)]
pub(crate) struct HostInfo {
    pub prof: OsProfile,
    /// One-way delay to the sensor, ns.
    pub d: i64,
    /// Hops between host and sensor.
    pub hops: u8,
    pub bps: i64,
}

/// Small deterministic hash for per-address defaults.
pub(crate) fn mix64(mut x: u64) -> u64 {
    x ^= x >> 33;
    x = x.wrapping_mul(0xff51_afd7_ed55_8ccd);
    x ^= x >> 33;
    x = x.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    x ^= x >> 33;
    x
}

pub(crate) struct World<'s> {
    pub sc: &'s Scenario,
    hosts: BTreeMap<Ipv4Addr, HostInfo>,
    pkts: Vec<(Pkt, u64)>,
    seq: u64,
    pub streams: Vec<StreamRecord>,
    eph: BTreeMap<Ipv4Addr, u16>,
    pub facts: Facts,
    limit: usize,
}

impl<'s> World<'s> {
    fn new(sc: &'s Scenario) -> Self {
        World {
            sc,
            hosts: BTreeMap::new(),
            pkts: Vec::new(),
            seq: 0,
            streams: Vec::new(),
            eph: BTreeMap::new(),
            facts: Facts::default(),
            limit: MAX_PACKETS,
        }
    }

    pub fn internal(&self, ip: Ipv4Addr) -> bool {
        self.sc.home_net.iter().any(|c| c.contains(ip.into()))
    }

    pub fn host(&mut self, ip: Ipv4Addr) -> HostInfo {
        if let Some(h) = self.hosts.get(&ip) {
            return h.clone();
        }
        let internal = self.internal(ip);
        let declared = self.sc.hosts.iter().find(|h| h.ip == ip);
        let os = declared.map_or(if internal { Os::Windows } else { Os::Linux }, |h| h.os);
        let prof = match os {
            Os::Windows => OsProfile::WINDOWS,
            Os::Linux => OsProfile::LINUX,
            Os::Bsd => OsProfile::BSD,
        };
        let h = mix64(u64::from(u32::from(ip)) ^ 0x5157_0a7c);
        let rtt_ms = declared.and_then(|d| d.rtt_ms).unwrap_or(if internal {
            0.4
        } else {
            40.0 + (h % 120) as f64
        });
        let hops = if internal { 0 } else { 8 + (h >> 8) as u8 % 12 };
        let info = HostInfo {
            prof,
            d: ((rtt_ms * 1e6) / 2.0) as i64,
            hops,
            bps: if internal { 12_500_000 } else { 1_250_000 },
        };
        self.hosts.insert(ip, info.clone());
        info
    }

    /// Next ephemeral port of `ip` (OS range, counting up, wrapping).
    pub fn eph_port(&mut self, ip: Ipv4Addr) -> u16 {
        let h = self.host(ip);
        let (lo, hi) = h.prof.eph;
        let seed = self.sc.seed;
        let e = self.eph.entry(ip).or_insert_with(|| {
            let span = u64::from(hi - lo).max(1);
            lo + (mix64(u64::from(u32::from(ip)) ^ seed) % span.min(400)) as u16
        });
        let p = *e;
        *e = if *e >= hi { lo } else { *e + 1 };
        p
    }

    pub fn endpoint(&mut self, ip: Ipv4Addr, port: u16) -> Endpoint {
        let h = self.host(ip);
        Endpoint {
            ip,
            port,
            prof: h.prof,
            d: h.d.max(20 * US),
            ttl: h.prof.ttl.saturating_sub(h.hops),
            bps: h.bps,
        }
    }

    /// Observed TTL for a packet from `ip` that started with `initial`.
    pub fn ttl_seen(&mut self, ip: Ipv4Addr, initial: u8) -> u8 {
        initial.saturating_sub(self.host(ip).hops)
    }

    /// A TCP connection from `client` (ephemeral port) to `server:port`.
    pub fn conn(
        &mut self,
        client: Ipv4Addr,
        server: Ipv4Addr,
        port: u16,
        rng: &mut SimRng,
    ) -> TcpConn {
        let cport = self.eph_port(client);
        self.conn_from(client, cport, server, port, rng)
    }

    /// A TCP connection with an explicit client port.
    pub fn conn_from(
        &mut self,
        client: Ipv4Addr,
        cport: u16,
        server: Ipv4Addr,
        port: u16,
        rng: &mut SimRng,
    ) -> TcpConn {
        let c = self.endpoint(client, cport);
        let s = self.endpoint(server, port);
        TcpConn::new(
            c,
            s,
            rng.r#gen(),
            rng.r#gen(),
            rng.gen_range(1_000_000..100_000_000),
        )
    }

    pub fn push(&mut self, p: Pkt) {
        self.seq += 1;
        if self.pkts.len() < self.limit {
            self.pkts.push((p, self.seq));
        }
    }

    /// The packet limit is reached: generators stop early (the scenario then
    /// fails with an error naming the limit).
    pub fn full(&self) -> bool {
        self.seq as usize >= self.limit
    }

    /// Adds a finished connection's packets and stream record.
    pub fn commit(&mut self, c: TcpConn) {
        let (pkts, rec) = c.finish();
        for p in pkts {
            self.push(p);
        }
        if !rec.to_server.is_empty() || !rec.to_client.is_empty() {
            self.streams.push(rec);
        }
    }

    /// One-way delay of `ip` to the sensor.
    pub fn d(&mut self, ip: Ipv4Addr) -> i64 {
        self.host(ip).d.max(20 * US)
    }

    fn finish(mut self) -> Result<Generated, ScenarioError> {
        if self.full() {
            return Err(gen_err(
                self.sc,
                &format!(
                    "scenario too large: more than {} packets: expected fewer probes, flows or a shorter timeline (write_background makes large benchmark captures)",
                    self.limit
                ),
            ));
        }
        self.pkts.sort_by_key(|(p, seq)| (p.ts, *seq));
        // Per-host IP ID counters, started at a seeded value.
        let mut ids: BTreeMap<Ipv4Addr, u16> = BTreeMap::new();
        let seed = self.sc.seed;
        let mut w = PcapWriter::new(Vec::with_capacity(self.pkts.len() * 120))
            .map_err(|e| gen_err(self.sc, &e.to_string()))?;
        let home = self.sc.home_net.clone();
        let internal = |ip: Ipv4Addr| home.iter().any(|c| c.contains(ip.into()));
        let mut err = None;
        for (p, _) in &self.pkts {
            let id = match p.ip_id {
                IpId::Fixed(v) => v,
                IpId::Host => {
                    let c = ids.entry(p.src).or_insert_with(|| {
                        (mix64(u64::from(u32::from(p.src)).wrapping_add(seed)) & 0x7fff) as u16
                    });
                    *c = c.wrapping_add(1);
                    *c
                }
            };
            let smac = if internal(p.src) {
                mac_of(p.src)
            } else {
                ROUTER_MAC
            };
            let dmac = if internal(p.dst) {
                mac_of(p.dst)
            } else {
                ROUTER_MAC
            };
            let ts = p.ts - p.ts.rem_euclid(1000);
            p.emit(id, smac, dmac, |f| {
                if let Err(e) = w.write_frame(ts, f) {
                    err = Some(e);
                }
            });
        }
        if let Some(e) = err {
            return Err(gen_err(self.sc, &e.to_string()));
        }
        let frames = w.frames();
        let pcap = w.into_inner();
        let last = self.pkts.last().map_or(self.sc.start.0, |(p, _)| p.ts);
        let addrs: Vec<Ipv4Addr> = {
            let mut v: Vec<Ipv4Addr> = self.pkts.iter().flat_map(|(p, _)| [p.src, p.dst]).collect();
            v.sort();
            v.dedup();
            v
        };
        let labels = self.facts.labels(self.sc, &addrs, last);
        let mut streams = self.streams;
        streams.sort_by_key(|s| s.syn_ts);
        Ok(Generated {
            pcap,
            labels,
            streams,
            frames,
        })
    }
}

pub(crate) fn gen_err(sc: &Scenario, msg: &str) -> ScenarioError {
    ScenarioError {
        origin: sc.origin.clone(),
        line: 0,
        column: 0,
        message: msg.to_string(),
    }
}

/// The RNG of activity `index`: independent streams per activity, so editing
/// one activity leaves the bytes of the others unchanged.
pub(crate) fn activity_rng(seed: u64, index: usize) -> SimRng {
    SimRng::seed_from_u64(mix64(seed ^ mix64(index as u64 + 1)))
}

/// Generates the capture and labels of a scenario. Deterministic: the same
/// scenario and seed give the same bytes.
pub fn generate(s: &Scenario) -> Result<Generated, ScenarioError> {
    generate_with_limit(s, MAX_PACKETS)
}

fn generate_with_limit(s: &Scenario, limit: usize) -> Result<Generated, ScenarioError> {
    let mut w = World::new(s);
    w.limit = limit;
    acts::run(&mut w)?;
    w.finish()
}

/// One direction-tagged frame of a template flow.
pub(crate) struct TemplateFrame {
    /// Time since the flow's first frame, ns.
    pub rel: i64,
    /// Ethernet frame.
    pub bytes: Vec<u8>,
    /// Sent by the flow's client.
    pub from_client: bool,
}

/// Generates `src` (a scenario) and returns its packets grouped per flow,
/// serialised, with times relative to each flow's first packet.
pub(crate) fn template_flows(src: &str) -> Result<Vec<Vec<TemplateFrame>>, ScenarioError> {
    let sc = crate::parse_scenario("background-templates", src)?;
    let mut w = World::new(&sc);
    acts::run(&mut w)?;
    w.pkts.sort_by_key(|(p, seq)| (p.ts, *seq));
    type Key = (Ipv4Addr, u16, Ipv4Addr, u16, u8);
    let key = |p: &Pkt| -> Key {
        let (sp, dp, proto) = match &p.l4 {
            crate::packet::L4::Tcp(s) => (s.sport, s.dport, 6),
            crate::packet::L4::Udp { sport, dport, .. } => (*sport, *dport, 17),
            crate::packet::L4::Icmp { rest, .. } => (u16::from_be_bytes([rest[0], rest[1]]), 0, 1),
        };
        if (p.src, sp) <= (p.dst, dp) {
            (p.src, sp, p.dst, dp, proto)
        } else {
            (p.dst, dp, p.src, sp, proto)
        }
    };
    let mut flows: BTreeMap<Key, (Ipv4Addr, i64, Vec<TemplateFrame>)> = BTreeMap::new();
    let mut order: Vec<Key> = Vec::new();
    let mut id: u16 = 1;
    for (p, _) in &w.pkts {
        let k = key(p);
        let entry = flows.entry(k).or_insert_with(|| {
            order.push(k);
            (p.src, p.ts, Vec::new())
        });
        let from_client = p.src == entry.0;
        let smac = if from_client {
            mac_of(p.src)
        } else {
            ROUTER_MAC
        };
        let dmac = if from_client {
            ROUTER_MAC
        } else {
            mac_of(p.dst)
        };
        id = id.wrapping_add(1);
        let rel = p.ts - entry.1;
        let frames = &mut entry.2;
        p.emit(id, smac, dmac, |f| {
            frames.push(TemplateFrame {
                rel,
                bytes: f.to_vec(),
                from_client,
            })
        });
    }
    Ok(order
        .into_iter()
        .filter_map(|k| flows.remove(&k).map(|(_, _, f)| f))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_packet_limit_is_an_error_not_an_exhausted_machine() {
        let sc = crate::builtin("scan-only").unwrap().unwrap();
        let e = generate_with_limit(&sc, 1000).unwrap_err();
        assert_eq!(
            e.to_string(),
            "scenarios/scan-only.toml: scenario too large: more than 1000 packets: expected fewer probes, flows or a shorter timeline (write_background makes large benchmark captures)"
        );
        assert!(generate_with_limit(&sc, 100_000).is_ok());
    }
}
