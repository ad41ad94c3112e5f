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
    let Some(files) = sv_stream_cases(&shared, &[]) else {
        println!("skipped: no suricata-verify tests");
        return;
    };
    let failures = compare(&files);
    assert!(
        failures.is_empty(),
        "{} of {} captures differ from tshark:\n{}",
        failures.len(),
        files.len(),
        failures.join("\n")
    );
}

/// Per (sender ip, sender port, receiver ip, receiver port): the stream bytes, all
/// connections on that tuple concatenated in time order.
type Streams = BTreeMap<(IpAddr, u16, IpAddr, u16), Vec<u8>>;

#[derive(Default)]
struct StreamAgg {
    /// Per flow id: [to server, to client] bytes.
    open: BTreeMap<u64, [Vec<u8>; 2]>,
    /// Ended flows in end order: (start, id, key, bytes).
    done: Vec<(
        stormwatch_model::Timestamp,
        u64,
        stormwatch_model::FlowKey,
        [Vec<u8>; 2],
    )>,
    gaps: u64,
}

impl FlowVisitor<()> for StreamAgg {
    fn on_packet(&mut self, _: &PacketCtx, _: &Decoded<'_>, _: &mut ()) {}
    fn on_stream(&mut self, _: &PacketCtx, c: StreamChunk<'_>, _: &mut ()) {
        match c.data {
            stormwatch_model::StreamData::Bytes(b) => {
                self.open.entry(c.flow.0).or_default()[c.dir.index()].extend_from_slice(b)
            }
            stormwatch_model::StreamData::Gap(n) => {
                // Rendered as tshark's follow output marks missing data.
                self.gaps += u64::from(n);
                let mark = format!("[{n} bytes missing in capture file]\0");
                self.open.entry(c.flow.0).or_default()[c.dir.index()]
                    .extend_from_slice(mark.as_bytes())
            }
        }
    }
    fn on_flow_end(&mut self, r: FlowRecord, _: ()) {
        let data = self.open.remove(&r.flow_id.0).unwrap_or_default();
        self.done.push((r.start, r.flow_id.0, r.key, data));
    }
    fn on_anomaly(&mut self, _: Anomaly) {}
}

/// Removes gap markers at the very start or end of a stream: tshark marks only holes
/// between captured segments, not data a peer acknowledged that was never seen.
fn trim_outer_gaps(mut s: Vec<u8>) -> Vec<u8> {
    let is_mark = |b: &[u8]| b.first() == Some(&b'[');
    while let Some(end) = s.iter().position(|&b| b == 0) {
        let head = &s[..end];
        if is_mark(head) && head.ends_with(b" bytes missing in capture file]") {
            s.drain(..=end);
        } else {
            break;
        }
    }
    loop {
        if s.last() != Some(&0) {
            break;
        }
        let body = &s[..s.len() - 1];
        let Some(start) = body.iter().rposition(|&b| b == b'[') else {
            break;
        };
        if body[start..].ends_with(b" bytes missing in capture file]") {
            s.truncate(start);
        } else {
            break;
        }
    }
    s
}

fn our_streams(path: &Path) -> (Streams, u64) {
    let cap = CaptureFile::open(path).expect("capture opens");
    // tshark does not validate checksums; some corpus captures were taken on hosts
    // with checksum offload.
    let mut table: FlowTable<()> = FlowTable::new(FlowConfig {
        reassembly_depth_bytes: 0,
        checksum: stormwatch_flow::ChecksumMode::Off,
        ..FlowConfig::default()
    });
    let mut agg = StreamAgg::default();
    for f in cap.frames(0) {
        let Ok(f) = f else { break };
        let d = decode_frame_with_orig_len(LinkType(f.link_type.0), f.data, f.orig_len);
        if d.l3.addrs().is_none() {
            continue;
        }
        table.process(f.ts, f.orig_len, &d, &mut agg);
    }
    table.finish(&mut agg);
    agg.done.sort_by_key(|(start, id, _, _)| (*start, *id));
    let mut m = Streams::new();
    for (_, _, k, [ts, tc]) in agg.done {
        if k.proto.0 != 6 {
            continue;
        }
        let (ts, tc) = (trim_outer_gaps(ts), trim_outer_gaps(tc));
        if !ts.is_empty() {
            m.entry((k.src, k.src_port, k.dst, k.dst_port))
                .or_default()
                .extend(ts);
        }
        if !tc.is_empty() {
            m.entry((k.dst, k.dst_port, k.src, k.src_port))
                .or_default()
                .extend(tc);
        }
    }
    (m, agg.gaps)
}

fn parse_node(line: &str) -> Option<(IpAddr, u16)> {
    let v = line.split_once(": ")?.1.trim();
    let (a, p) = v.rsplit_once(':')?;
    let a = a.trim_start_matches('[').trim_end_matches(']');
    Some((a.parse().ok()?, p.parse().ok()?))
}

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len() / 2)
        .filter_map(|i| u8::from_str_radix(&s[2 * i..2 * i + 2], 16).ok())
        .collect()
}

/// tshark's reassembled TCP streams (`follow,tcp,raw`) of the streams that carry data.
fn tshark_streams(path: &Path) -> Streams {
    let out = Command::new("tshark")
        .arg("-r")
        .arg(path)
        .args(["-Y", "tcp.len > 0 and not icmp and not icmpv6"])
        .args(["-T", "fields", "-e", "tcp.stream"])
        .output()
        .expect("tshark runs");
    let mut ids: Vec<u64> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.trim().parse().ok())
        .collect();
    ids.sort_unstable();
    ids.dedup();
    let mut m = Streams::new();
    for chunk in ids.chunks(200) {
        let mut cmd = Command::new("tshark");
        cmd.arg("-r").arg(path).arg("-q");
        for id in chunk {
            cmd.arg("-z").arg(format!("follow,tcp,raw,{id}"));
        }
        let out = cmd.output().expect("tshark runs");
        let text = String::from_utf8_lossy(&out.stdout);
        let mut nodes: [Option<(IpAddr, u16)>; 2] = [None, None];
        for line in text.lines() {
            if line.starts_with("=====")
                || line.starts_with("Follow:")
                || line.starts_with("Filter:")
            {
                if line.starts_with("=====") {
                    nodes = [None, None];
                }
                continue;
            }
            if line.starts_with("Node 0:") {
                nodes[0] = parse_node(line);
                continue;
            }
            if line.starts_with("Node 1:") {
                nodes[1] = parse_node(line);
                continue;
            }
            let (Some(n0), Some(n1)) = (nodes[0], nodes[1]) else {
                continue;
            };
            let (from, to, hex) = match line.strip_prefix('\t') {
                Some(h) => (n1, n0, h),
                None => (n0, n1, line),
            };
            if hex.trim().is_empty() {
                continue;
            }
            m.entry((from.0, from.1, to.0, to.1))
                .or_default()
                .extend(unhex(hex.trim()));
        }
    }
    m
}

/// Compares our reassembled streams with tshark's for every capture in `files`.
fn compare_streams(files: &[PathBuf]) -> Vec<String> {
    let mut failures = Vec::new();
    for f in files {
        let (ours, gaps) = our_streams(f);
        if gaps > 0 {
            println!("{}: {gaps} gap bytes", f.display());
        }
        let theirs = tshark_streams(f);
        if ours != theirs {
            let mut diff = Vec::new();
            for (k, v) in &theirs {
                match ours.get(k) {
                    Some(o) if o == v => {}
                    Some(o) => {
                        let at = o.iter().zip(v.iter()).position(|(a, b)| a != b);
                        diff.push(format!(
                            "  {k:?}: tshark {} bytes, ours {} bytes, first difference at {at:?}",
                            v.len(),
                            o.len()
                        ));
                    }
                    None => diff.push(format!("  {k:?}: tshark {} bytes, ours none", v.len())),
                }
            }
            for (k, v) in &ours {
                if !theirs.contains_key(k) {
                    diff.push(format!("  {k:?}: tshark none, ours {} bytes", v.len()));
                }
            }
            diff.truncate(6);
            failures.push(format!("{}:\n{}", f.display(), diff.join("\n")));
        }
    }
    failures
}

/// Every reassembled TCP byte equals tshark's reassembly (`follow,tcp,raw`), for every
/// capture of the corpus, gaps included (tshark marks them `[N bytes missing in capture
/// file]` plus a NUL; ours are rendered the same way).
#[test]
fn reassembled_streams_match_tshark_follow_on_the_corpus() {
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
    assert!(files.len() > 10);
    let failures = compare_streams(&files);
    assert!(
        failures.is_empty(),
        "streams differ from tshark:\n{}",
        failures.join("\n")
    );
}

/// The same on suricata-verify's stream and defragmentation cases (every capture with
/// `STORMWATCH_FLOW_SV_ALL=1`). Named difference: in `tcp-protodetect-bailout` the
/// server acknowledges 14 bytes never captured, so the hole becomes a gap here, and
/// the client's later resend of those bytes is a retransmission; tshark does not treat
/// an acknowledged hole as lost and shows the resent bytes.
#[test]
fn reassembled_streams_match_tshark_follow_on_suricata_verify() {
    let Some(shared) = shared_dir() else {
        println!("skipped: shared data not found");
        return;
    };
    if !tshark_present() {
        println!("skipped: tshark not installed");
        return;
    }
    let Some(files) = sv_stream_cases(&shared, &["tcp-protodetect-bailout"]) else {
        println!("skipped: no suricata-verify tests");
        return;
    };
    let failures = compare_streams(&files);
    assert!(
        failures.is_empty(),
        "{} of {} captures differ:\n{}",
        failures.len(),
        files.len(),
        failures.join("\n")
    );
}

/// The captures of suricata-verify's stream and defragmentation cases (every test with
/// `STORMWATCH_FLOW_SV_ALL=1`), minus the tests named in `except`; `None` when the
/// suite is absent.
fn sv_stream_cases(shared: &Path, except: &[&str]) -> Option<Vec<PathBuf>> {
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
    let dirs = std::fs::read_dir(shared.join("suricata-verify/tests")).ok()?;
    let mut dirs: Vec<PathBuf> = dirs.filter_map(|e| e.ok().map(|e| e.path())).collect();
    dirs.sort();
    let mut files = Vec::new();
    for d in dirs {
        let name = d
            .file_name()
            .map(|n| n.to_string_lossy().to_lowercase())
            .unwrap_or_default();
        if except.contains(&name.as_str()) || (!all && !topics.iter().any(|t| name.contains(t))) {
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
    Some(files)
}
