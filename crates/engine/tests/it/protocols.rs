//! Protocols acceptance 1, tshark as oracle over the shared corpus and every
//! suricata-verify pcap: for every flow where tshark identifies TLS, HTTP, DNS,
//! SSH, FTP, SMTP or IRC, stormwatch names the same protocol (≥ 99% of such
//! flows; every disagreement is printed), and the TLS SNI and version, HTTP method,
//! host, URI and status, DNS query names and types, and IRC commands and
//! parameters it extracts equal tshark's field values.

use crate::common::{all_captures, have, run, shared_dir};
use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;
use std::path::Path;
use std::process::Command;
use stormwatch_engine::Config;
use stormwatch_model::{AppProto, OutputRecord};

type Endpoint = (IpAddr, u16);
type Key = (u8, Endpoint, Endpoint);

fn key(proto: u8, a: Endpoint, b: Endpoint) -> Key {
    if a <= b { (proto, a, b) } else { (proto, b, a) }
}

const PROTOS: &[(&str, AppProto)] = &[
    ("http", AppProto::Http),
    ("tls", AppProto::Tls),
    ("ssh", AppProto::Ssh),
    ("ftp-data", AppProto::FtpData),
    ("ftp", AppProto::Ftp),
    ("smtp", AppProto::Smtp),
    ("irc", AppProto::Irc),
    ("dns", AppProto::Dns),
];

#[derive(Default, Debug)]
struct TsharkFlow {
    protos: BTreeSet<AppProto>,
    sni: BTreeSet<String>,
    tls_version: BTreeSet<String>,
    http: BTreeSet<(String, String, String)>,
    status: BTreeSet<String>,
    dns: BTreeSet<String>,
    dns_type: BTreeSet<String>,
    irc: BTreeSet<String>,
}

fn field(cols: &[&str], i: usize) -> String {
    cols.get(i).copied().unwrap_or("").to_string()
}

/// Source and destination address of a tshark row whose first four columns are
/// `ip.src`, `ipv6.src`, `ip.dst`, `ipv6.dst`.
fn addresses(c: &[&str]) -> (Option<IpAddr>, Option<IpAddr>) {
    let one = |v4: usize, v6: usize| {
        field(c, v4)
            .parse()
            .ok()
            .or_else(|| field(c, v6).parse().ok())
    };
    (one(0, 1), one(2, 3))
}

/// Per-flow facts from tshark's dissection.
fn tshark_flows(path: &Path) -> BTreeMap<Key, TsharkFlow> {
    let fields = [
        "ip.src",
        "ipv6.src",
        "ip.dst",
        "ipv6.dst",
        "tcp.srcport",
        "tcp.dstport",
        "udp.srcport",
        "udp.dstport",
        "frame.protocols",
        "tls.handshake.extensions_server_name",
        "http.request.method",
        "http.host",
        "http.request.uri",
        "http.response.code",
        "dns.qry.name",
        "dns.flags.response",
        "tls.handshake.type",
        "tls.handshake.version",
        "tls.handshake.extensions.supported_version",
        "dns.qry.type",
    ];
    let mut cmd = Command::new("tshark");
    cmd.args(["-n", "-r"]).arg(path).args([
        "-T",
        "fields",
        "-E",
        "separator=\t",
        "-E",
        "occurrence=f",
    ]);
    for f in fields {
        cmd.args(["-e", f]);
    }
    let out = cmd.output().expect("run tshark");
    let text = String::from_utf8_lossy(&out.stdout);
    let mut map: BTreeMap<Key, TsharkFlow> = BTreeMap::new();
    for line in text.lines() {
        let c: Vec<&str> = line.split('\t').collect();
        let (src, dst) = addresses(&c);
        let (Some(src), Some(dst)) = (src, dst) else {
            continue;
        };
        let (proto, sp, dp) = if !field(&c, 4).is_empty() {
            (6u8, field(&c, 4), field(&c, 5))
        } else if !field(&c, 6).is_empty() {
            (17u8, field(&c, 6), field(&c, 7))
        } else {
            continue;
        };
        let (Ok(sp), Ok(dp)) = (sp.parse::<u16>(), dp.parse::<u16>()) else {
            continue;
        };
        let e = map.entry(key(proto, (src, sp), (dst, dp))).or_default();
        let stack = field(&c, 8);
        let layers: Vec<&str> = stack.split(':').collect();
        for (name, p) in PROTOS {
            // `ssl` is tshark's name for SSLv2 records.
            let hit = layers.contains(name) || (*name == "tls" && layers.contains(&"ssl"));
            if hit {
                e.protos.insert(*p);
            }
        }
        let sni = field(&c, 9);
        if !sni.is_empty() {
            e.sni.insert(sni);
        }
        let method = field(&c, 10);
        if !method.is_empty() {
            e.http.insert((method, field(&c, 11), field(&c, 12)));
        }
        let status = field(&c, 13);
        if !status.is_empty() {
            e.status.insert(status);
        }
        let q = field(&c, 14);
        if !q.is_empty() && field(&c, 15) != "1" && field(&c, 15) != "True" {
            e.dns.insert(q);
            if let Ok(t) = field(&c, 19).parse::<u16>() {
                e.dns_type
                    .insert(stormwatch_proto::dns::rrtype_name(t).into_owned());
            }
        }
        // The version a ServerHello chose (TLS 1.3: its supported_versions).
        if field(&c, 16) == "2" {
            let v = match field(&c, 18) {
                v if !v.is_empty() => v,
                _ => field(&c, 17),
            };
            if let Some(name) = tls_version_name(&v) {
                e.tls_version.insert(name.to_string());
            }
        }
    }
    if map.values().any(|f| f.protos.contains(&AppProto::Irc)) {
        tshark_irc(path, &mut map);
    }
    map
}

/// Suricata's name for a TLS version tshark prints as `0x0303`.
fn tls_version_name(hex: &str) -> Option<&'static str> {
    let v = u16::from_str_radix(hex.trim_start_matches("0x"), 16).ok()?;
    Some(match v {
        0x0300 => "SSLv3",
        0x0301 => "TLSv1",
        0x0302 => "TLS 1.1",
        0x0303 => "TLS 1.2",
        0x0304 => "TLS 1.3",
        _ => return None,
    })
}

/// IRC messages as `COMMAND param1 param2 ...` (the trailing parameter last).
fn irc_message(line: &str) -> Option<String> {
    let mut rest = line.trim_end_matches(['\r', '\n']);
    if let Some(p) = rest.strip_prefix(':') {
        rest = p.split_once(' ').map_or("", |x| x.1);
    }
    let (head, trailer) = match rest.split_once(" :") {
        Some((h, t)) => (h, Some(t)),
        None => (rest, None),
    };
    let mut words = head.split(' ').filter(|w| !w.is_empty());
    let cmd = words.next()?;
    let numeric = cmd.len() == 3 && cmd.bytes().all(|b| b.is_ascii_digit());
    if !numeric && !cmd.bytes().all(|b| b.is_ascii_alphabetic()) {
        return None;
    }
    let mut out = cmd.to_ascii_uppercase();
    for w in words.chain(trailer) {
        out.push(' ');
        out.push_str(w);
    }
    Some(irc_norm(&out))
}

/// IRC text as compared: CTCP delimiters dropped, and characters outside ASCII
/// too (tshark and EVE render bytes that are not UTF-8 differently).
fn irc_norm(s: &str) -> String {
    s.chars()
        .filter(|c| c.is_ascii() && *c != '\u{1}')
        .collect()
}

/// tshark's IRC lines (it does not reassemble lines split across segments: only
/// lines that begin and end inside one segment are taken).
fn tshark_irc(path: &Path, map: &mut BTreeMap<Key, TsharkFlow>) {
    let mut cmd = Command::new("tshark");
    cmd.args(["-n", "-r"]).arg(path).args([
        "-Y",
        "irc",
        "-T",
        "fields",
        "-E",
        "separator=\t",
        "-E",
        "occurrence=a",
        "-E",
        "aggregator=\u{1c}",
    ]);
    for f in [
        "ip.src",
        "ipv6.src",
        "ip.dst",
        "ipv6.dst",
        "tcp.srcport",
        "tcp.dstport",
        "tcp.payload",
        "irc.request",
        "irc.response",
    ] {
        cmd.args(["-e", f]);
    }
    let out = cmd.output().expect("run tshark");
    let text = String::from_utf8_lossy(&out.stdout);
    // Whether the previous segment of each (flow, sender) ended a line.
    let mut line_start: BTreeMap<(Key, Endpoint), bool> = BTreeMap::new();
    for line in text.lines() {
        let c: Vec<&str> = line.split('\t').collect();
        let (src, dst) = addresses(&c);
        let (Some(src), Some(dst), Ok(sp), Ok(dp)) = (
            src,
            dst,
            field(&c, 4).parse::<u16>(),
            field(&c, 5).parse::<u16>(),
        ) else {
            continue;
        };
        let k = key(6, (src, sp), (dst, dp));
        let payload = field(&c, 6).replace(':', "");
        let starts = *line_start.get(&(k, (src, sp))).unwrap_or(&true);
        let ends = payload.ends_with("0a");
        line_start.insert((k, (src, sp)), ends);
        let mut lines: Vec<&str> = c
            .get(7..9)
            .unwrap_or(&[])
            .iter()
            .flat_map(|f| f.split('\u{1c}'))
            .filter(|l| !l.is_empty())
            .collect();
        // tshark lists requests and responses apart; a segment holds one kind in
        // practice. Drop the cut ends.
        if !ends {
            lines.pop();
        }
        if !starts && !lines.is_empty() {
            lines.remove(0);
        }
        let e = map.entry(k).or_default();
        for l in lines {
            if let Some(m) = irc_message(l) {
                e.irc.insert(m);
            }
        }
    }
}

#[derive(Default, Debug)]
struct OurFlow {
    protos: BTreeSet<AppProto>,
    sni: BTreeSet<String>,
    tls_version: BTreeSet<String>,
    http: BTreeSet<(String, String, String)>,
    status: BTreeSet<String>,
    dns: BTreeSet<String>,
    dns_type: BTreeSet<String>,
    irc: BTreeSet<String>,
}

fn s(v: &serde_json::Value, k: &str) -> String {
    match v.get(k) {
        Some(serde_json::Value::String(x)) => x.clone(),
        Some(serde_json::Value::Number(n)) => n.to_string(),
        _ => String::new(),
    }
}

fn our_flows(records: &[OutputRecord]) -> BTreeMap<Key, OurFlow> {
    let mut m: BTreeMap<Key, OurFlow> = BTreeMap::new();
    for r in records {
        match r {
            OutputRecord::Flow(f) => {
                let e = m
                    .entry(key(
                        f.key.proto.0,
                        (f.key.src, f.key.src_port),
                        (f.key.dst, f.key.dst_port),
                    ))
                    .or_default();
                for p in [Some(f.app_proto), f.app_proto_ts, f.app_proto_tc]
                    .into_iter()
                    .flatten()
                {
                    if p.is_known() {
                        e.protos.insert(p);
                    }
                }
            }
            OutputRecord::App(a) => {
                let e = m
                    .entry(key(
                        a.key.proto.0,
                        (a.key.src, a.key.src_port),
                        (a.key.dst, a.key.dst_port),
                    ))
                    .or_default();
                let b = &a.body;
                match a.event_type.as_str() {
                    "tls" => {
                        let sni = s(b, "sni");
                        if !sni.is_empty() {
                            e.sni.insert(sni);
                        }
                        let v = s(b, "version");
                        if !v.is_empty() {
                            e.tls_version.insert(v);
                        }
                    }
                    "irc" => {
                        let mut m = s(b, "command").to_ascii_uppercase();
                        for p in b
                            .get("params")
                            .and_then(|p| p.as_array())
                            .into_iter()
                            .flatten()
                        {
                            m.push(' ');
                            m.push_str(p.as_str().unwrap_or(""));
                        }
                        e.irc.insert(irc_norm(&m));
                    }
                    "http" => {
                        let method = s(b, "http_method");
                        if !method.is_empty() {
                            e.http.insert((method, s(b, "hostname"), s(b, "url")));
                        }
                        let st = s(b, "status");
                        if !st.is_empty() {
                            e.status.insert(st);
                        } else {
                            // A non-numeric status keeps only its string.
                            let st = s(b, "status_string");
                            if !st.is_empty() {
                                e.status.insert(st);
                            }
                        }
                    }
                    "dns" => {
                        // Version 3: queries[].rrname; version 2: rrname on queries.
                        if let Some(qs) = b.get("queries").and_then(|q| q.as_array()) {
                            if s(b, "type") == "request" {
                                for q in qs {
                                    e.dns.insert(s(q, "rrname"));
                                    e.dns_type.insert(s(q, "rrtype"));
                                }
                            }
                        } else if s(b, "type") == "query" {
                            e.dns.insert(s(b, "rrname"));
                            e.dns_type.insert(s(b, "rrtype"));
                        }
                    }
                    _ => {}
                }
            }
            _ => {}
        }
    }
    m
}

fn listed(values: &BTreeSet<String>) -> Vec<String> {
    values.iter().cloned().collect()
}

/// Equality of one field value, with the differences in *conventions* between
/// tshark and Suricata's EVE (which stormwatch follows) named:
/// - `http.host`: tshark keeps `:port`; EVE `hostname` does not.
/// - the DNS root name: tshark prints `<Root>`; EVE an empty name.
/// - request URIs containing spaces: tshark stops at the first space; EVE (libhtp)
///   keeps everything up to the protocol (suricata-verify `http-uri-spaces`).
/// - a non-numeric status (`HTTP/1.1 2ab OK`): tshark prints its leading digits;
///   EVE has no numeric `status` (suricata-verify `http1-noint-status`).
fn same_value(what: &str, theirs: &str, ours: &str) -> bool {
    if theirs == ours {
        return true;
    }
    match what {
        "dns query" => theirs == "<Root>" && ours.is_empty(),
        "http status" => {
            !ours.is_empty()
                && !ours.bytes().all(|b| b.is_ascii_digit())
                && ours.starts_with(theirs)
        }
        "http request" => {
            let t: Vec<&str> = theirs.splitn(3, ' ').collect();
            let o: Vec<&str> = ours.splitn(3, ' ').collect();
            let (Some(tm), Some(th), Some(tu)) = (t.first(), t.get(1), t.get(2)) else {
                return false;
            };
            let (Some(om), Some(oh), Some(ou)) = (o.first(), o.get(1), o.get(2)) else {
                return false;
            };
            let host_ok = th == oh
                || th
                    .rsplit_once(':')
                    .is_some_and(|(h, p)| h == *oh && p.parse::<u16>().is_ok());
            let uri_ok = tu == ou
                || ou
                    .strip_prefix(tu)
                    .is_some_and(|rest| rest.starts_with(' '));
            tm == om && host_ok && uri_ok
        }
        _ => false,
    }
}

#[test]
fn protocols_and_fields_agree_with_tshark() {
    let Some(shared) = shared_dir() else {
        println!("skipped: shared data not found");
        return;
    };
    if !have("tshark") {
        println!("skipped: tshark not installed");
        return;
    }
    let (mut flows, mut agree) = (0usize, 0usize);
    let mut disagreements = Vec::new();
    let mut field_failures = Vec::new();
    let mut fields_checked = 0usize;
    for path in all_captures(&shared) {
        let name = path
            .strip_prefix(&shared)
            .unwrap_or(&path)
            .display()
            .to_string();
        let mut config = Config {
            behaviour: false,
            ..Config::default()
        };
        // Every IRC line, the MOTD and NAMES numerics too.
        config.proto.irc.log_bulk_numerics = true;
        let (records, _) = run(&path, config);
        let ours = our_flows(&records);
        for (k, t) in tshark_flows(&path) {
            if t.protos.is_empty() {
                continue;
            }
            flows += 1;
            let o = ours.get(&k);
            let our_protos = o.map(|o| o.protos.clone()).unwrap_or_default();
            if our_protos.iter().any(|p| t.protos.contains(p)) {
                agree += 1;
            } else {
                disagreements.push(format!(
                    "{name}: {k:?}: tshark {:?}, stormwatch {our_protos:?}",
                    t.protos
                ));
                continue;
            }
            let Some(o) = o else { continue };
            // Field values: every value tshark extracted must be among ours.
            let checks: [(&str, Vec<String>, Vec<String>); 7] = [
                ("tls sni", listed(&t.sni), listed(&o.sni)),
                (
                    "tls version",
                    listed(&t.tls_version),
                    listed(&o.tls_version),
                ),
                ("dns type", listed(&t.dns_type), listed(&o.dns_type)),
                ("irc message", listed(&t.irc), listed(&o.irc)),
                (
                    "http request",
                    t.http
                        .iter()
                        .map(|x| format!("{} {} {}", x.0, x.1, x.2))
                        .collect(),
                    o.http
                        .iter()
                        .map(|x| format!("{} {} {}", x.0, x.1, x.2))
                        .collect(),
                ),
                ("http status", listed(&t.status), listed(&o.status)),
                ("dns query", listed(&t.dns), listed(&o.dns)),
            ];
            for (what, theirs, ours) in checks {
                for v in theirs {
                    fields_checked += 1;
                    if !ours.iter().any(|o| same_value(what, &v, o)) {
                        field_failures.push(format!(
                            "{name}: {k:?}: {what} {v:?} not among ours {ours:?}"
                        ));
                    }
                }
            }
        }
    }
    for d in &disagreements {
        println!("protocol disagreement: {d}");
    }
    for f in &field_failures {
        println!("field disagreement: {f}");
    }
    let pct = 100.0 * agree as f64 / flows.max(1) as f64;
    println!(
        "{agree} of {flows} tshark-identified flows agree ({pct:.2}%); {fields_checked} field values checked, {} differ",
        field_failures.len()
    );
    assert!(pct >= 99.0, "only {pct:.2}% of flows agree with tshark");
    assert!(
        field_failures.is_empty(),
        "{} field values differ from tshark",
        field_failures.len()
    );
}
