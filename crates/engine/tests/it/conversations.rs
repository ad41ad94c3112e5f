//! Foundation acceptance 1: for every capture in the shared corpus and every
//! suricata-verify pcap, our packet count equals `capinfos -c` and our TCP and UDP
//! conversations (flows aggregated by 5-tuple) equal `tshark -z conv,tcp/udp`:
//! same endpoints, same frame and byte counts each way. Differences that tshark's
//! own counting explains (IP fragments, ICMP errors quoting a TCP/UDP header) are
//! named per capture; any other difference fails the test.

use crate::common::{all_captures, have, run, shared_dir};
use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::Path;
use std::process::Command;
use stormwatch_engine::Config;
use stormwatch_model::{IpProto, OutputRecord};

type Endpoint = (IpAddr, u16);
/// (proto, low endpoint, high endpoint) → (frames low→high, bytes low→high, frames high→low, bytes high→low)
type Convs = BTreeMap<(u8, Endpoint, Endpoint), [u64; 4]>;

#[derive(Clone, Copy, Debug, PartialEq)]
enum Bytes {
    Exact(u64),
    /// A value tshark printed with a unit prefix: value × multiplier, rounded.
    Approx(u64, u64),
}

fn parse_endpoint(s: &str) -> Option<Endpoint> {
    let (a, p) = s.rsplit_once(':')?;
    let a = a.trim_start_matches('[').trim_end_matches(']');
    Some((a.parse().ok()?, p.parse().ok()?))
}

fn parse_bytes(v: &str, unit: &str) -> Option<Bytes> {
    let n: u64 = v.replace(',', "").parse().ok()?;
    Some(match unit {
        "bytes" => Bytes::Exact(n),
        "kB" => Bytes::Approx(n, 1000),
        "MB" => Bytes::Approx(n, 1_000_000),
        "GB" => Bytes::Approx(n, 1_000_000_000),
        _ => return None,
    })
}

fn bytes_match(ours: u64, t: Bytes) -> bool {
    match t {
        Bytes::Exact(n) => ours == n,
        // tshark rounds to the unit; allow one unit either way.
        Bytes::Approx(n, m) => ours.abs_diff(n * m) < m,
    }
}

/// Parses one `-z conv,tcp` / `conv,udp` table.
type TsharkConvs = BTreeMap<(u8, Endpoint, Endpoint), (u64, Bytes, u64, Bytes)>;

fn tshark_convs(path: &Path) -> TsharkConvs {
    let out = Command::new("tshark")
        .args(["-n", "-r"])
        .arg(path)
        .args(["-q", "-z", "conv,tcp", "-z", "conv,udp"])
        .output()
        .expect("run tshark");
    let text = String::from_utf8_lossy(&out.stdout);
    let mut map = BTreeMap::new();
    let mut proto = 0u8;
    for line in text.lines() {
        if line.starts_with("TCP Conversations") {
            proto = 6;
        } else if line.starts_with("UDP Conversations") {
            proto = 17;
        }
        let t: Vec<&str> = line.split_whitespace().collect();
        if t.len() < 9 || t[1] != "<->" {
            continue;
        }
        let (Some(a), Some(b)) = (parse_endpoint(t[0]), parse_endpoint(t[2])) else {
            continue;
        };
        let (Ok(f_to_a), Some(b_to_a), Ok(f_to_b), Some(b_to_b)) = (
            t[3].replace(',', "").parse::<u64>(),
            parse_bytes(t[4], t[5]),
            t[6].replace(',', "").parse::<u64>(),
            parse_bytes(t[7], t[8]),
        ) else {
            continue;
        };
        // Normalise so the key's first endpoint is the lower one.
        let (key, val) = if a <= b {
            ((proto, a, b), (f_to_b, b_to_b, f_to_a, b_to_a))
        } else {
            ((proto, b, a), (f_to_a, b_to_a, f_to_b, b_to_b))
        };
        let e = map
            .entry(key)
            .or_insert((0, Bytes::Exact(0), 0, Bytes::Exact(0)));
        e.0 += val.0;
        e.2 += val.2;
        e.1 = add_bytes(e.1, val.1);
        e.3 = add_bytes(e.3, val.3);
    }
    map
}

fn add_bytes(a: Bytes, b: Bytes) -> Bytes {
    match (a, b) {
        (Bytes::Exact(x), Bytes::Exact(y)) => Bytes::Exact(x + y),
        (Bytes::Exact(0), o) | (o, Bytes::Exact(0)) => o,
        // Sums of rounded values: keep the coarser unit, widen tolerance by using it.
        (Bytes::Approx(x, m), Bytes::Approx(y, n)) if m == n => Bytes::Approx(x + y, m),
        (Bytes::Approx(x, m), Bytes::Exact(y)) | (Bytes::Exact(y), Bytes::Approx(x, m)) => {
            Bytes::Approx(x + y / m, m)
        }
        (Bytes::Approx(x, m), Bytes::Approx(y, n)) => {
            let u = m.max(n);
            Bytes::Approx(x * m / u + y * n / u, u)
        }
    }
}

fn our_convs(records: &[OutputRecord]) -> Convs {
    let mut m = Convs::new();
    for r in records {
        let OutputRecord::Flow(f) = r else { continue };
        if f.key.proto != IpProto::TCP && f.key.proto != IpProto::UDP {
            continue;
        }
        let a = (f.key.src, f.key.src_port);
        let b = (f.key.dst, f.key.dst_port);
        let (lo, hi, fwd) = if a <= b { (a, b, true) } else { (b, a, false) };
        let e = m.entry((f.key.proto.0, lo, hi)).or_insert([0; 4]);
        if fwd {
            e[0] += f.pkts_toserver;
            e[1] += f.bytes_toserver;
            e[2] += f.pkts_toclient;
            e[3] += f.bytes_toclient;
        } else {
            e[0] += f.pkts_toclient;
            e[1] += f.bytes_toclient;
            e[2] += f.pkts_toserver;
            e[3] += f.bytes_toserver;
        }
    }
    m
}

/// Frames tshark may count differently: IP fragments and ICMP errors (which quote
/// a TCP/UDP header that tshark's conversation tap counts).
fn special_frames(path: &Path) -> (u64, u64) {
    let out = Command::new("tshark")
        .args(["-n", "-r"])
        .arg(path)
        .args([
            "-Y",
            "ip.flags.mf == 1 || ip.frag_offset > 0 || ipv6.fragment || icmp.type in {3 4 5 11 12} || icmpv6.type in {1 2 3 4}",
            "-T",
            "fields",
            "-e",
            "icmp.type",
            "-e",
            "icmpv6.type",
        ])
        .output()
        .expect("run tshark");
    let text = String::from_utf8_lossy(&out.stdout);
    let (mut frag, mut icmp) = (0, 0);
    for l in text.lines() {
        if l.trim().is_empty() {
            frag += 1;
        } else {
            icmp += 1;
        }
    }
    (frag, icmp)
}

fn capinfos_count(path: &Path) -> Option<u64> {
    let out = Command::new("capinfos")
        .args(["-c", "-M"])
        .arg(path)
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    text.lines().find_map(|l| {
        l.strip_prefix("Number of packets:")
            .map(|v| v.trim().replace(',', ""))
            .and_then(|v| v.parse().ok())
    })
}

#[test]
fn packet_counts_and_conversations_equal_tshark() {
    let Some(shared) = shared_dir() else {
        println!("skipped: shared data not found");
        return;
    };
    if !have("tshark") {
        println!("skipped: tshark not installed");
        return;
    }
    let mut failures = Vec::new();
    let mut named = Vec::new();
    let (mut files, mut convs_checked) = (0, 0);
    for path in all_captures(&shared) {
        files += 1;
        let cfg = Config {
            behaviour: false,
            ..Config::default()
        };
        let (records, summary) = run(&path, cfg);
        let name = path
            .strip_prefix(&shared)
            .unwrap_or(&path)
            .display()
            .to_string();
        if let Some(n) = capinfos_count(&path)
            && n != summary.packets
        {
            failures.push(format!(
                "{name}: {} packets read, capinfos says {n}",
                summary.packets
            ));
        }
        let ours = our_convs(&records);
        let theirs = tshark_convs(&path);
        let mut diffs = Vec::new();
        for (k, t) in &theirs {
            let o = ours.get(k).copied().unwrap_or([0; 4]);
            let same =
                o[0] == t.0 && bytes_match(o[1], t.1) && o[2] == t.2 && bytes_match(o[3], t.3);
            if !same {
                diffs.push(format!("{k:?}: ours {o:?}, tshark {t:?}"));
            }
        }
        for (k, o) in &ours {
            if !theirs.contains_key(k) {
                diffs.push(format!("{k:?}: ours {o:?}, not in tshark's table"));
            }
        }
        convs_checked += theirs.len();
        if diffs.is_empty() {
            continue;
        }
        let (frag, icmp) = special_frames(&path);
        if frag + icmp > 0 && diffs.len() as u64 <= frag + icmp {
            named.push(format!(
                "{name}: {} conversation(s) differ; explained by tshark counting {frag} IP fragment frame(s) / {icmp} ICMP error frame(s) differently: {}",
                diffs.len(),
                diffs.join("; ")
            ));
        } else {
            failures.push(format!("{name}: {}", diffs.join("\n    ")));
        }
    }
    for n in &named {
        println!("named difference: {n}");
    }
    println!("{files} captures, {convs_checked} tshark conversations compared");
    assert!(
        failures.is_empty(),
        "{} capture(s) disagree with tshark:\n  {}",
        failures.len(),
        failures.join("\n  ")
    );
}
