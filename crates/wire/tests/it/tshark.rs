//! Every frame of every shared capture decoded and compared with tshark's
//! dissection: addresses, ports, TTL/IP id, TCP flags/window/options, payload
//! lengths, VLAN ids, ICMP type/code, and the checksum verdicts. Fails when
//! tshark is installed and disagrees; skips without tshark or shared data.

use std::path::{Path, PathBuf};
use std::process::Command;
use stormwatch_capture::{CaptureFile, Format, expand_inputs};
use stormwatch_wire::*;

use crate::shared_dir;

const FIELDS: &[&str] = &[
    "ip.src",
    "ip.dst",
    "ipv6.src",
    "ipv6.dst",
    "ip.ttl",
    "ip.id",
    "tcp.srcport",
    "tcp.dstport",
    "tcp.flags",
    "tcp.window_size_value",
    "tcp.len",
    "tcp.options.mss_val",
    "tcp.options.wscale.shift",
    "tcp.options.timestamp.tsval",
    "tcp.options.sack_perm",
    "udp.srcport",
    "udp.dstport",
    "udp.length",
    "icmp.type",
    "icmp.code",
    "icmpv6.type",
    "vlan.id",
    "ip.checksum.status",
    "tcp.checksum.status",
    "udp.checksum.status",
    "frame.protocols",
    "_ws.malformed",
];

/// One row of tshark fields per frame (values may be comma-separated lists).
fn tshark_rows(path: &Path, pcapng: bool) -> Vec<Vec<String>> {
    let mut cmd = Command::new("tshark");
    cmd.args(["-n", "-r"]).arg(path);
    for o in [
        "ip.check_checksum:TRUE",
        "tcp.check_checksum:TRUE",
        "udp.check_checksum:TRUE",
        // One row per frame, no reassembly across frames.
        "tcp.desegment_tcp_streams:FALSE",
        "ip.defragment:FALSE",
        "ipv6.defragment:FALSE",
    ] {
        cmd.args(["-o", o]);
    }
    if pcapng {
        cmd.args(["-Y", "frame.interface_id"]);
    }
    cmd.args(["-T", "fields", "-E", "separator=/t", "-E", "occurrence=a"]);
    for f in FIELDS {
        cmd.args(["-e", f]);
    }
    let o = cmd.output().unwrap();
    assert!(
        o.status.success(),
        "tshark failed on {}: {}",
        path.display(),
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout)
        .lines()
        .map(|l| l.split('\t').map(str::to_string).collect())
        .collect()
}

fn first(v: &str) -> Option<&str> {
    v.split(',').next().filter(|s| !s.is_empty())
}

fn num(v: &str) -> Option<u64> {
    let s = first(v)?;
    match s.strip_prefix("0x") {
        Some(h) => u64::from_str_radix(h, 16).ok(),
        None => s.parse().ok(),
    }
}

/// Compares one frame; returns the disagreements.
fn compare(d: &Decoded<'_>, row: &[String]) -> Vec<String> {
    let f = |name: &str| -> &str {
        let i = FIELDS.iter().position(|x| *x == name).unwrap();
        row.get(i).map(String::as_str).unwrap_or("")
    };
    let mut bad: Vec<String> = Vec::new();
    macro_rules! check {
        ($what:expr, $ours:expr, $theirs:expr $(,)?) => {{
            let (o, t) = ($ours, $theirs);
            if o != t {
                bad.push(format!("{}: ours {:?}, tshark {:?}", $what, o, t));
            }
        }};
    }
    let protocols = f("frame.protocols");
    // tshark decodes the packet an ICMP error quotes as ip/tcp/udp fields too,
    // and tunnels give several values: take the outermost, skip tunnels.
    if d.tunnel_depth > 0 {
        return bad;
    }
    let (src, dst) = match &d.l3 {
        L3::Ipv4(v) => (Some(v.src.to_string()), Some(v.dst.to_string())),
        L3::Ipv6(v) => (Some(v.src.to_string()), Some(v.dst.to_string())),
        _ => (None, None),
    };
    let (tsrc, tdst) = match (first(f("ip.src")), first(f("ipv6.src"))) {
        (Some(s), _) => (Some(s), first(f("ip.dst"))),
        (None, Some(s)) => (Some(s), first(f("ipv6.dst"))),
        _ => (None, None),
    };
    check!("src", src, tsrc.map(str::to_string));
    check!("dst", dst, tdst.map(str::to_string));
    if let L3::Ipv4(v) = &d.l3 {
        check!(
            "ttl",
            Some(v.ttl.to_string()),
            first(f("ip.ttl")).map(str::to_string)
        );
        check!("ip.id", Some(u64::from(v.id)), num(f("ip.id")));
        let st = num(f("ip.checksum.status"));
        if st != Some(2) {
            let ours = ipv4_header_checksum_ok(d).map(u64::from);
            check!("ip checksum", ours, st);
        }
    }
    let quoted = matches!(d.l4, L4::Icmp(_));
    match &d.l4 {
        L4::Tcp(t) => {
            check!(
                "tcp ports",
                Some(format!("{},{}", t.src_port, t.dst_port)),
                Some(format!(
                    "{},{}",
                    first(f("tcp.srcport")).unwrap_or(""),
                    first(f("tcp.dstport")).unwrap_or("")
                )),
            );
            check!(
                "tcp flags",
                Some(u64::from(t.flags)),
                num(f("tcp.flags")).map(|x| x & 0xff)
            );
            check!(
                "window",
                Some(u64::from(t.window)),
                num(f("tcp.window_size_value"))
            );
            check!(
                "mss",
                t.opts.mss.map(u64::from),
                num(f("tcp.options.mss_val"))
            );
            check!(
                "wscale",
                t.opts.wscale.map(u64::from),
                num(f("tcp.options.wscale.shift"))
            );
            check!(
                "tsval",
                t.opts.timestamp.map(|x| u64::from(x.0)),
                num(f("tcp.options.timestamp.tsval"))
            );
            check!(
                "sack_perm",
                Some(t.opts.sack_permitted),
                Some(first(f("tcp.options.sack_perm")).is_some())
            );
            if !d.payload_partial {
                check!("tcp.len", Some(d.payload.len() as u64), num(f("tcp.len")));
            }
            let st = num(f("tcp.checksum.status"));
            if st != Some(2) {
                check!("tcp checksum", tcp_checksum_ok(d).map(u64::from), st);
            }
        }
        L4::Udp(u) => {
            check!(
                "udp ports",
                Some(format!("{},{}", u.src_port, u.dst_port)),
                Some(format!(
                    "{},{}",
                    first(f("udp.srcport")).unwrap_or(""),
                    first(f("udp.dstport")).unwrap_or("")
                )),
            );
            check!("udp.length", Some(u64::from(u.len)), num(f("udp.length")));
            // tshark: 0 bad, 1 good, 2 unverified, 3 not present (zero).
            match num(f("udp.checksum.status")) {
                Some(3) => check!("udp zero checksum", u.checksum, 0),
                Some(st @ (0 | 1)) => {
                    check!("udp checksum", udp_checksum_ok(d).map(u64::from), Some(st))
                }
                _ => {}
            }
        }
        L4::Icmp(i) => {
            let (t, c) = if i.v6 {
                (num(f("icmpv6.type")), None)
            } else {
                (num(f("icmp.type")), num(f("icmp.code")))
            };
            check!("icmp type", Some(u64::from(i.icmp_type)), t);
            if !i.v6 {
                check!("icmp code", Some(u64::from(i.code)), c);
            }
        }
        _ => {
            // No transport decoded: tshark must not have found one either.
            // Exceptions: tshark shows the first bytes of a header that does
            // not fit (a first fragment shorter than a TCP header; a data
            // offset beyond the segment, which it flags as malformed and
            // leaves out of its conversations; an IP length beyond the frame,
            // after which we stop as Suricata does and tshark reads on).
            let first_fragment = matches!(d.l3, L3::Ipv4(v) if v.more_frags);
            let malformed = !f("_ws.malformed").is_empty();
            let ip_lied = d.anomalies.contains(DecodeAnomaly::Ipv4TruncPkt)
                || d.anomalies.contains(DecodeAnomaly::Ipv6TruncPkt);
            for (field, name) in [("tcp.srcport", "tcp"), ("udp.srcport", "udp")] {
                if first(f(field)).is_some()
                    && !protocols.contains("icmp")
                    && !first_fragment
                    && !malformed
                    && !ip_lied
                {
                    check!(name, None, Some(f(field).to_string()));
                }
            }
        }
    }
    if !quoted {
        // VLAN ids, outer first.
        let ours: Vec<String> = d
            .vlan
            .iter()
            .take(usize::from(d.vlan_count).min(2))
            .map(|v| v.to_string())
            .collect();
        let theirs: Vec<String> = f("vlan.id")
            .split(',')
            .filter(|s| !s.is_empty())
            .take(2)
            .map(str::to_string)
            .collect();
        check!("vlan", Some(ours.join(",")), Some(theirs.join(",")));
    }
    bad
}

fn installed(tool: &str) -> bool {
    Command::new(tool)
        .arg("-v")
        .output()
        .is_ok_and(|o| o.status.success())
}

#[test]
fn decoder_agrees_with_tshark_on_shared_captures() {
    let Some(shared) = shared_dir() else {
        println!("skipped: shared data not found");
        return;
    };
    if !installed("tshark") || !installed("mergecap") {
        println!("skipped: tshark/mergecap not installed");
        return;
    }
    let dirs: Vec<PathBuf> = [shared.join("corpus"), shared.join("suricata-verify/tests")]
        .into_iter()
        .filter(|d| d.is_dir())
        .collect();
    // Captures that read cleanly (a damaged one is the capture oracle's case),
    // concatenated into one pcapng so tshark runs once.
    let files: Vec<PathBuf> = expand_inputs(&dirs)
        .unwrap()
        .into_iter()
        .filter(|p| CaptureFile::open(p).is_ok_and(|c| c.frames(0).all(|f| f.is_ok())))
        .collect();
    assert!(files.len() > 30);
    let dir = tempfile::tempdir().unwrap();
    let merged = dir.path().join("all.pcapng");
    let st = Command::new("mergecap")
        .args(["-a", "-F", "pcapng", "-w"])
        .arg(&merged)
        .args(&files)
        .output()
        .unwrap();
    assert!(
        st.status.success(),
        "mergecap: {}",
        String::from_utf8_lossy(&st.stderr)
    );
    let cap = CaptureFile::open(&merged).unwrap();
    let rows = tshark_rows(&merged, cap.format() == Format::Pcapng);
    let mut bad = Vec::new();
    let mut frames = 0usize;
    for (i, fr) in cap.frames(0).enumerate() {
        let fr = fr.unwrap();
        let Some(row) = rows.get(i) else {
            bad.push(format!("frame {} missing from tshark", i + 1));
            break;
        };
        let d = decode_frame_with_orig_len(LinkType(fr.link_type.0), fr.data, fr.orig_len);
        for m in compare(&d, row) {
            bad.push(format!("merged frame {}: {m}", i + 1));
        }
        frames += 1;
    }
    assert_eq!(frames, rows.len(), "frame counts differ");
    println!("{} files, {frames} frames compared", files.len());
    assert!(
        bad.is_empty(),
        "{} disagreements (frame numbers in the merged file; `mergecap -a` of the files \
         in path order):\n{}",
        bad.len(),
        bad.iter().take(40).cloned().collect::<Vec<_>>().join("\n")
    );
}
