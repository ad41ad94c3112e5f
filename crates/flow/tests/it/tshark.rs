//! Oracle test: the flow table's TCP and UDP packet and byte counts per 5-tuple equal
//! what tshark sees, for every capture in the shared corpus.
//!
//! tshark's side is built from per-frame fields (exact byte counts; its conversation
//! table rounds to kB), taking the innermost IP layer. Named differences, excluded on
//! tshark's side: ICMP error frames (tshark dissects the quoted TCP/UDP header; they
//! are ICMP flows here). VLAN ids are ignored on both sides (tshark does not key on
//! them). Fragmented datagrams count once, in the frame that completes them, on both
//! sides.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use stormwatch_capture::CaptureFile;
use stormwatch_flow::{FlowConfig, FlowTable, FlowVisitor, PacketCtx};
use stormwatch_model::{Anomaly, FlowRecord, StreamChunk};
use stormwatch_wire::{Decoded, LinkType, decode_frame_with_orig_len};

/// (proto, a, port a, b, port b) with (a, port a) <= (b, port b).
type Conv = (u8, IpAddr, u16, IpAddr, u16);
/// Frames and bytes a → b, then b → a.
type Counts = [(u64, u64); 2];

pub fn shared_dir() -> Option<PathBuf> {
    if let Ok(p) = std::env::var("STORMWATCH_SHARED") {
        let p = PathBuf::from(p);
        if p.is_dir() {
            return Some(p);
        }
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let beside = root.join("../shared");
    if beside.is_dir() {
        return Some(beside);
    }
    let fixed = PathBuf::from("/work/shared");
    fixed.is_dir().then_some(fixed)
}

fn tshark_present() -> bool {
    Command::new("tshark")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

fn norm(proto: u8, src: IpAddr, sp: u16, dst: IpAddr, dp: u16) -> (Conv, usize) {
    if (src, sp) <= (dst, dp) {
        ((proto, src, sp, dst, dp), 0)
    } else {
        ((proto, dst, dp, src, sp), 1)
    }
}

fn tshark_convs(path: &Path) -> BTreeMap<Conv, Counts> {
    let out = Command::new("tshark")
        .arg("-r")
        .arg(path)
        .args(["-Y", "(tcp or udp) and not icmp and not icmpv6"])
        .args(["-T", "fields", "-E", "separator=/t", "-E", "occurrence=l"])
        .args([
            "-e",
            "frame.len",
            "-e",
            "ip.src",
            "-e",
            "ip.dst",
            "-e",
            "ipv6.src",
        ])
        .args(["-e", "ipv6.dst", "-e", "tcp.srcport", "-e", "tcp.dstport"])
        .args(["-e", "udp.srcport", "-e", "udp.dstport"])
        .output()
        .expect("tshark runs");
    // A damaged capture makes tshark exit non-zero after printing what it read; the
    // reader here also stops at the damage, so both sides count the same frames.
    let mut m: BTreeMap<Conv, Counts> = BTreeMap::new();
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let f: Vec<&str> = line.split('\t').collect();
        if f.len() < 9 {
            continue;
        }
        let len: u64 = f[0].parse().unwrap();
        let (src, dst) = if !f[3].is_empty() {
            (f[3].parse().unwrap(), f[4].parse().unwrap())
        } else {
            (f[1].parse().unwrap(), f[2].parse().unwrap())
        };
        let (proto, sp, dp) = if !f[5].is_empty() {
            (6u8, f[5].parse().unwrap(), f[6].parse().unwrap())
        } else {
            (17u8, f[7].parse().unwrap(), f[8].parse().unwrap())
        };
        let (k, d) = norm(proto, src, sp, dst, dp);
        let c = m.entry(k).or_default();
        c[d].0 += 1;
        c[d].1 += len;
    }
    m
}

#[derive(Default)]
struct Agg {
    convs: BTreeMap<Conv, Counts>,
}

impl FlowVisitor<()> for Agg {
    fn on_packet(&mut self, _: &PacketCtx, _: &Decoded<'_>, _: &mut ()) {}
    fn on_stream(&mut self, _: &PacketCtx, _: StreamChunk<'_>, _: &mut ()) {}
    fn on_flow_end(&mut self, r: FlowRecord, _: ()) {
        let p = r.key.proto.0;
        if p != 6 && p != 17 {
            return;
        }
        let (k, d) = norm(p, r.key.src, r.key.src_port, r.key.dst, r.key.dst_port);
        let c = self.convs.entry(k).or_default();
        c[d].0 += r.pkts_toserver;
        c[d].1 += r.bytes_toserver;
        c[1 - d].0 += r.pkts_toclient;
        c[1 - d].1 += r.bytes_toclient;
    }
    fn on_anomaly(&mut self, _: Anomaly) {}
}

fn our_convs(path: &Path) -> BTreeMap<Conv, Counts> {
    let cap = CaptureFile::open(path).expect("capture opens");
    let mut table: FlowTable<()> = FlowTable::new(FlowConfig::default());
    let mut agg = Agg::default();
    for f in cap.frames(0) {
        let Ok(f) = f else { break };
        let d = decode_frame_with_orig_len(LinkType(f.link_type.0), f.data, f.orig_len);
        if d.l3.addrs().is_none() {
            continue;
        }
        table.process(f.ts, f.orig_len, &d, &mut agg);
    }
    table.finish(&mut agg);
    agg.convs
}

/// Compares every capture in `files`; returns one message per capture that differs.
fn compare(files: &[PathBuf]) -> Vec<String> {
    let mut failures = Vec::new();
    for f in files {
        let theirs = tshark_convs(f);
        let ours = our_convs(f);
        if theirs != ours {
            let mut diff = Vec::new();
            for (k, v) in &theirs {
                if ours.get(k) != Some(v) {
                    diff.push(format!("  {k:?}: tshark {v:?}, ours {:?}", ours.get(k)));
                }
            }
            for (k, v) in &ours {
                if !theirs.contains_key(k) {
                    diff.push(format!("  {k:?}: tshark none, ours {v:?}"));
                }
            }
            diff.truncate(8);
            failures.push(format!("{}:\n{}", f.display(), diff.join("\n")));
        }
    }
    failures
}

fn is_capture(p: &Path) -> bool {
    p.extension()
        .is_some_and(|x| x == "pcap" || x == "pcapng" || x == "cap")
}

#[test]
fn tcp_and_udp_conversations_match_tshark_on_the_corpus() {
    let Some(shared) = shared_dir() else {
        println!("skipped: shared data not found");
        return;
    };
    if !tshark_present() {
        println!("skipped: tshark not installed");
        return;
    }
    let mut files: Vec<PathBuf> = std::fs::read_dir(shared.join("corpus"))
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| is_capture(p))
        .collect();
    files.sort();
    assert!(!files.is_empty());
    let failures = compare(&files);
    assert!(
        failures.is_empty(),
        "conversations differ from tshark:\n{}",
        failures.join("\n")
    );
}

/// The suricata-verify cases about defragmentation and TCP streams (all of them with
/// `STORMWATCH_FLOW_SV_ALL=1`).
#[test]
fn tcp_and_udp_conversations_match_tshark_on_suricata_verify_stream_cases() {
    let Some(shared) = shared_dir() else {
        println!("skipped: shared data not found");
        return;
    };
    if !tshark_present() {
        println!("skipped: tshark not installed");
        return;
    }
    let all = std::env::var("STORMWATCH_FLOW_SV_ALL").is_ok_and(|v| v == "1");
    let topics = [
        "defrag",
        "frag",
        "stream",
        "tcp",
        "reassem",
        "overlap",
        "gap",
        "midstream",
    ];
    let mut files = Vec::new();
    let Ok(dirs) = std::fs::read_dir(shared.join("suricata-verify/tests")) else {
        println!("skipped: no suricata-verify tests");
        return;
    };
    let mut dirs: Vec<PathBuf> = dirs.filter_map(|e| e.ok().map(|e| e.path())).collect();
    dirs.sort();
    for d in dirs {
        let name = d
            .file_name()
            .map(|n| n.to_string_lossy().to_lowercase())
            .unwrap_or_default();
        if !all && !topics.iter().any(|t| name.contains(t)) {
            continue;
        }
        if let Ok(entries) = std::fs::read_dir(&d) {
            let mut caps: Vec<PathBuf> = entries
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| is_capture(p))
                .collect();
            caps.sort();
            files.extend(caps);
        }
    }
    let failures = compare(&files);
    assert!(
        failures.is_empty(),
        "{} of {} captures differ from tshark:\n{}",
        failures.len(),
        files.len(),
        failures.join("\n")
    );
}
