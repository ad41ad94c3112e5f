//! Correlator throughput and memory.
//!
//! `cargo bench -p stormwatch-correlate --bench correlate` runs criterion on a
//! 200,000-record sample (20,000 hosts). With `CORRELATE_BENCH_FULL=1` it instead
//! runs the acceptance workload once — 10,000,000 evidence records over 1,000,000
//! hosts, then `finish` — and prints wall time and peak resident memory (VmHWM).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use criterion::{BatchSize, Criterion, Throughput};
use std::net::{IpAddr, Ipv4Addr};
use std::time::Instant;
use stormwatch_correlate::{CorrelateConfig, Correlator};
use stormwatch_model::{
    Evidence, EvidenceSource, FlowId, NetSet, Stage, Strength, Timestamp, Vector, Verdict,
};

/// Deterministic 64-bit LCG (no seed from the clock: same run, same records).
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        self.0 >> 17
    }
}

const MSGS: [&str; 8] = [
    "WEB-MISC PCT Client_Hello overflow attempt",
    "ET EXPLOIT MS04-011 Lsasrv.dll RPC exploit (WinXP)",
    "ET TROJAN Generic Checkin",
    "ET SCAN NMAP -sS window 1024",
    "NETBIOS SMB-DS DCERPC LSASS exploit attempt",
    "SHELLCODE x86 NOOP",
    "ET MALWARE Spyware Checkin",
    "GPL EXPLOIT Microsoft cmd.exe banner",
];

fn host_ip(h: u64) -> IpAddr {
    let h = u32::try_from(h % (1 << 24)).unwrap();
    IpAddr::V4(Ipv4Addr::from(0x0A00_0000 | h))
}

fn peer_ip(p: u64) -> IpAddr {
    let p = u32::try_from(p % 8192).unwrap();
    IpAddr::V4(Ipv4Addr::from(0xC633_0000 | p))
}

/// 1 in this many hosts is concerned by attacks, C&C, eggs and listeners (scans
/// reach all): 50 = 2 %. `CORRELATE_BENCH_VICTIM_SHARE=1` makes every host a
/// possible victim (a third end up compromised: the worst case for output size).
fn victim_share() -> u64 {
    std::env::var("CORRELATE_BENCH_VICTIM_SHARE")
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|v| *v > 0)
        .unwrap_or(50)
}

/// Record `k` of a workload over `hosts` hosts, shaped like a sensor's day: every
/// host is probed once, then probes (70 % of records, from 64 scanners) reach all
/// hosts with skewed activity (host = hosts·u³: the busiest 0.1 % get 10 % of the
/// records), while the other records concern 2 % of the hosts (same skew):
/// exploit attempts 14 % (a fifth contradicted/weak) from 256 attackers, C&C signs
/// 6 % (half weak: beacons, IRC use) with 128 controllers, egg downloads 3 % from 64
/// servers, new listeners 3 %, outbound attacks 2 %, masquerades 2 %; alerts and
/// notices mixed.
fn record(rng: &mut Lcg, k: u64, hosts: u64, share: u64) -> Evidence {
    let r = rng.next();
    let u = (rng.next() % 1_000_000) as f64 / 1_000_000.0;
    let (stage, strength, pool) = match if k < hosts { 0 } else { r % 100 } {
        0..=69 => (Stage::E1InboundScan, Strength::Normal, 64),
        70..=80 => (Stage::E2InboundExploit, Strength::Normal, 256),
        81..=83 => (Stage::E2InboundExploit, Strength::Weak, 256),
        84..=86 => (Stage::E4C2, Strength::Normal, 128),
        87..=89 => (Stage::E4C2, Strength::Weak, 128),
        90..=92 => (Stage::E3EggDownload, Strength::Normal, 64),
        93..=95 => (Stage::E6NewListener, Strength::Normal, 4096),
        96..=97 => (Stage::E5OutboundAttack, Strength::Normal, 4096),
        _ => (Stage::E7Masquerade, Strength::Normal, 128),
    };
    let space = if stage == Stage::E1InboundScan {
        hosts
    } else {
        (hosts / share).max(1)
    };
    let h = if k < hosts {
        k
    } else {
        ((space as f64) * u * u * u) as u64
    };
    let host = host_ip(h.min(hosts - 1));
    let peer = peer_ip((r >> 8) % pool + if stage == Stage::E1InboundScan { 0 } else { 64 });
    let sid = u32::try_from(2_000_000 + (r >> 40) % 64).unwrap();
    let msg = MSGS[usize::try_from((r >> 30) % 8).unwrap()];
    let source = if stage == Stage::E1InboundScan || (r >> 50).is_multiple_of(3) {
        EvidenceSource::Notice {
            kind: "scan".into(),
            identifier: format!("scan:{peer}:tcp/443"),
        }
    } else {
        EvidenceSource::Alert {
            gid: 1,
            sid,
            msg: msg.to_string(),
            classtype: Some("attempted-admin".into()),
        }
    };
    let ts = Timestamp::from_secs_nanos(1_082_451_600 + i64::try_from(k / 1000).unwrap(), 0);
    Evidence {
        ts,
        host,
        stage,
        peer: Some(peer),
        flow_id: Some(FlowId(k)),
        source,
        strength,
        vector: Some(Vector {
            proto: 6,
            port: 443,
            signature: Some(sid.to_string()),
        }),
        egg_sha256: (stage == Stage::E3EggDownload).then(|| format!("{:064x}", r % 97)),
        controller: (stage == Stage::E4C2).then(|| format!("irc {peer}:443")),
        detail: format!("{} {msg} from {peer} [sid {sid}]", stage.name()),
    }
}

fn config() -> CorrelateConfig {
    CorrelateConfig {
        home_net: NetSet::parse("10.0.0.0/8").unwrap(),
        ..CorrelateConfig::default()
    }
}

/// Feeds `n` records over `hosts` hosts; returns (revisions, final records, current).
fn run(n: u64, hosts: u64) -> (usize, usize, usize) {
    let mut c = Correlator::new(config());
    let mut rng = Lcg(42);
    let mut out: Vec<Verdict> = Vec::with_capacity(1024);
    let mut revisions = 0;
    let share = victim_share();
    for k in 0..n {
        c.on_evidence(record(&mut rng, k, hosts, share), &mut out);
        if out.len() >= 1024 {
            revisions += out.len();
            out.clear();
        }
    }
    revisions += out.len();
    let fed = Instant::now();
    let end = Timestamp::from_secs_nanos(1_082_451_600 + i64::try_from(n / 1000).unwrap() + 60, 0);
    let conc = c.finish(end);
    if std::env::var_os("CORRELATE_BENCH_FULL").is_some() {
        println!(
            "finish: {:.1} s for {} hosts (stored evidence {})",
            fed.elapsed().as_secs_f64(),
            c.hosts(),
            c.evidence().count()
        );
    }
    (revisions, conc.verdicts.len(), conc.current.len())
}

fn peak_rss_kib() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    s.lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
}

/// CPU seconds (user + system) of this process, from /proc (clock ticks of 1/100 s).
fn cpu_secs() -> Option<f64> {
    let s = std::fs::read_to_string("/proc/self/stat").ok()?;
    let rest = s.rsplit_once(')')?.1;
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ut: f64 = f.get(11)?.parse().ok()?;
    let st: f64 = f.get(12)?.parse().ok()?;
    Some((ut + st) / 100.0)
}

fn full() {
    let n: u64 = std::env::var("CORRELATE_BENCH_RECORDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000_000);
    let hosts: u64 = std::env::var("CORRELATE_BENCH_HOSTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let t = Instant::now();
    let (revisions, finals, current) = run(n, hosts);
    let secs = t.elapsed().as_secs_f64();
    let cpu = cpu_secs().unwrap_or(0.0);
    println!(
        "correlate full: {n} evidence records over {hosts} hosts in {secs:.1} s wall, {cpu:.1} s CPU ({:.0} records/CPU-s); {revisions} revisions during the run, {finals} final records, {current} current verdicts; peak RSS {} MiB",
        n as f64 / cpu.max(0.001),
        peak_rss_kib().map_or(0, |k| k / 1024)
    );
}

fn bench(c: &mut Criterion) {
    let n = 200_000u64;
    let mut g = c.benchmark_group("correlate");
    g.sample_size(10);
    g.throughput(Throughput::Elements(n));
    let mut rng = Lcg(7);
    let records: Vec<Evidence> = (0..n).map(|k| record(&mut rng, k, 20_000, 50)).collect();
    g.bench_function("evidence_200k_over_20k_hosts", |b| {
        b.iter_batched(
            || records.clone(),
            |recs| {
                let mut c = Correlator::new(config());
                let mut out = Vec::new();
                for e in recs {
                    c.on_evidence(e, &mut out);
                    out.clear();
                }
                c.finish(Timestamp::from_secs_nanos(1_082_460_000, 0))
                    .current
                    .len()
            },
            BatchSize::LargeInput,
        );
    });
    g.finish();
}

fn main() {
    if std::env::var_os("CORRELATE_BENCH_FULL").is_some() {
        full();
        return;
    }
    let mut c = Criterion::default().configure_from_args();
    bench(&mut c);
    c.final_summary();
}
