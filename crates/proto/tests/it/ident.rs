//! Identification through the whole framework (`Proto` + `FlowApp`) on real
//! captures and on crafted streams: content not port, both directions,
//! masquerade, mismatch, upgrades, bail-out, expectations.

use crate::pcapkit::{self, Conv, Piece, Recorded};
use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};
use stormwatch_model::{AppProto, Direction, FlowId, FlowKey, IpProto, StreamData, Timestamp};
use stormwatch_proto::{FlowApp, Proto, ProtoConfig};

/// One conversation's outcome.
#[derive(Debug)]
pub struct FlowOut {
    pub key: FlowKey,
    pub proto: AppProto,
    pub ts: AppProto,
    pub tc: AppProto,
    pub orig: AppProto,
    pub masquerade: bool,
}

/// Runs every TCP/UDP conversation of a capture through `Proto`.
pub fn run_capture(pcap: &Path, cfg: ProtoConfig) -> (Recorded, Vec<FlowOut>) {
    let pkts = pcapkit::read_pcap(pcap);
    let convs = pcapkit::conversations(&pkts);
    run_convs(&convs, cfg)
}

pub fn run_convs(convs: &[Conv], cfg: ProtoConfig) -> (Recorded, Vec<FlowOut>) {
    let mut proto = Proto::new(cfg);
    let mut sink = Recorded::default();
    let mut out = Vec::new();
    for (i, conv) in convs.iter().enumerate() {
        let flow = i as u64 + 1;
        let mut app = FlowApp::default();
        let first_ts = conv.items.first().map(|x| x.1).unwrap_or(conv.last_ts);
        proto.on_flow_start(
            &pcapkit::ctx_for(flow, conv.key, first_ts, Direction::ToServer),
            &mut app,
        );
        for (num, ts, dir, piece) in &conv.items {
            sink.cur = *num;
            let ctx = pcapkit::ctx_for(flow, conv.key, *ts, *dir);
            if conv.key.proto == IpProto::UDP {
                if let Piece::Bytes(b) = piece {
                    proto.on_datagram(&ctx, &mut app, b, &mut sink);
                }
            } else {
                let data = match piece {
                    Piece::Bytes(b) => StreamData::Bytes(b),
                    Piece::Gap(n) => StreamData::Gap(*n),
                };
                proto.on_stream(&ctx, &mut app, data, &mut sink);
            }
        }
        sink.cur = conv.last;
        let ctx = pcapkit::ctx_for(flow, conv.key, conv.last_ts, Direction::ToServer);
        proto.on_flow_end(&ctx, &mut app, &mut sink);
        out.push(FlowOut {
            key: conv.key,
            proto: app.app_proto(),
            ts: app.app_proto_dir(Direction::ToServer),
            tc: app.app_proto_dir(Direction::ToClient),
            orig: app.app_proto_orig(),
            masquerade: app.masquerade(),
        });
    }
    (sink, out)
}

pub fn corpus(name: &str) -> Option<PathBuf> {
    let p = pcapkit::shared_dir()?.join("corpus").join(name);
    p.is_file().then_some(p)
}

pub fn sv_pcap(test: &str) -> Option<PathBuf> {
    let dir = pcapkit::shared_dir()?
        .join("suricata-verify/tests")
        .join(test);
    std::fs::read_dir(&dir)
        .ok()?
        .flatten()
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|x| x == "pcap"))
}

pub fn key(sport: u16, dport: u16) -> FlowKey {
    FlowKey {
        src: IpAddr::V4(Ipv4Addr::new(10, 1, 1, 20)),
        dst: IpAddr::V4(Ipv4Addr::new(198, 51, 100, 9)),
        src_port: sport,
        dst_port: dport,
        proto: IpProto::TCP,
        vlan: [0, 0],
    }
}

/// A conversation from (direction, bytes) pieces.
pub fn conv(key: FlowKey, pieces: &[(Direction, &[u8])]) -> Conv {
    Conv {
        key,
        items: pieces
            .iter()
            .enumerate()
            .map(|(i, (d, b))| {
                (
                    i as u64 + 1,
                    Timestamp::from_secs_nanos(1_000 + i as i64, 0),
                    *d,
                    Piece::Bytes(b.to_vec()),
                )
            })
            .collect(),
        last: pieces.len() as u64,
        last_ts: Timestamp::from_secs_nanos(1_000 + pieces.len() as i64, 0),
    }
}

#[allow(dead_code)]
pub fn flow_id(n: u64) -> FlowId {
    FlowId(n)
}

// ---------------------------------------------------------------------------
// A small evaluator of suricata-verify `filter` checks (format in the shared
// README), for the record types part A writes (`tls`, `ssh`, `irc`, anomalies).

use serde_json::Value;

fn yaml_json(y: &yaml_rust2::Yaml) -> Value {
    use yaml_rust2::Yaml;
    match y {
        Yaml::Real(s) => s.parse::<f64>().map(Value::from).unwrap_or(Value::Null),
        Yaml::Integer(i) => Value::from(*i),
        Yaml::String(s) => Value::from(s.as_str()),
        Yaml::Boolean(b) => Value::from(*b),
        Yaml::Array(a) => Value::Array(a.iter().map(yaml_json).collect()),
        Yaml::Hash(h) => Value::Object(
            h.iter()
                .map(|(k, v)| {
                    let k = match k {
                        Yaml::String(s) => s.clone(),
                        Yaml::Integer(i) => i.to_string(),
                        other => format!("{other:?}"),
                    };
                    (k, yaml_json(v))
                })
                .collect(),
        ),
        _ => Value::Null,
    }
}

fn lookup<'a>(v: &'a Value, path: &str) -> Option<&'a Value> {
    let mut cur = v;
    for comp in path.split('.') {
        let (name, idx) = match comp.find('[') {
            Some(i) => (
                &comp[..i],
                comp[i + 1..comp.len() - 1].parse::<usize>().ok(),
            ),
            None => (comp, None),
        };
        cur = cur.get(name)?;
        if let Some(i) = idx {
            cur = cur.get(i)?;
        }
    }
    (!cur.is_null()).then_some(cur)
}

fn eq(got: &Value, want: &Value) -> bool {
    match (got, want) {
        (Value::Number(a), Value::Number(b)) => a.as_f64() == b.as_f64(),
        (Value::Bool(a), Value::Number(b)) => b.as_f64() == Some(f64::from(u8::from(*a))),
        _ => got == want,
    }
}

fn line_matches(line: &Value, m: &serde_json::Map<String, Value>) -> bool {
    m.iter().all(|(k, want)| match k.as_str() {
        "has-key" | "not-has-key" => {
            let paths: Vec<String> = match want {
                Value::Array(a) => a
                    .iter()
                    .filter_map(|x| x.as_str().map(String::from))
                    .collect(),
                Value::String(s) => vec![s.clone()],
                _ => vec![],
            };
            paths
                .iter()
                .all(|p| lookup(line, p).is_some() == (k == "has-key"))
        }
        _ if k.ends_with(".__len") => {
            let p = &k[..k.len() - 6];
            let n = match lookup(line, p) {
                Some(Value::Array(a)) => a.len() as i64,
                Some(Value::String(s)) => s.len() as i64,
                Some(Value::Object(o)) => o.len() as i64,
                _ => -1,
            };
            want.as_i64() == Some(n)
        }
        _ => lookup(line, k).is_some_and(|g| eq(g, want)),
    })
}

/// Result of the checks of one suricata-verify test that concern part A.
#[derive(Debug, Default)]
pub struct SvResult {
    pub evaluated: usize,
    pub failures: Vec<String>,
}

/// Evaluates the `filter` checks of a test whose `event_type` is one of
/// `types` against our records. Keys that depend on the engine (`pcap_cnt`,
/// `flow.*`, `tcp.*`) are left out of the match.
pub fn sv_check(test: &str, types: &[&str], cfg: ProtoConfig) -> Option<SvResult> {
    let dir = pcapkit::shared_dir()?
        .join("suricata-verify/tests")
        .join(test);
    let text = std::fs::read_to_string(dir.join("test.yaml")).ok()?;
    let docs = yaml_rust2::YamlLoader::load_from_str(&text).ok()?;
    let t = yaml_json(docs.first()?);
    let pcap = match t.get("pcap").and_then(Value::as_str) {
        Some(p) => dir.join(p),
        None => sv_pcap(test)?,
    };
    let (sink, _) = run_capture(&pcap, cfg);
    let lines = sink.eve();
    let mut res = SvResult::default();
    for c in t.get("checks")?.as_array()? {
        let Some(f) = c.get("filter") else { continue };
        if let Some(r) = f.get("requires") {
            let v = |k: &str| {
                r.get(k)
                    .map(|x| x.to_string().trim_matches('"').to_string())
            };
            if v("lt-version").is_some() || v("version").is_some_and(|x| x != "9") {
                continue;
            }
        }
        let Some(m) = f.get("match").and_then(Value::as_object) else {
            continue;
        };
        let et = m.get("event_type").and_then(Value::as_str).unwrap_or("");
        if !types.contains(&et) {
            continue;
        }
        let m: serde_json::Map<String, Value> = m
            .iter()
            .filter(|(k, _)| {
                !(k.as_str() == "pcap_cnt" || k.starts_with("flow.") || k.starts_with("tcp."))
            })
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let want = f.get("count").and_then(Value::as_u64).unwrap_or(0) as usize;
        let got = lines.iter().filter(|l| line_matches(l, &m)).count();
        res.evaluated += 1;
        if got != want {
            res.failures.push(format!(
                "{test}: {} lines match {m:?}, want {want}; records: {:?}",
                got,
                lines
                    .iter()
                    .filter(|l| l["event_type"] == et)
                    .map(|l| l.to_string())
                    .collect::<Vec<_>>()
            ));
        }
    }
    Some(res)
}

// ---------------------------------------------------------------------------
// Framework behaviour on crafted streams.

use stormwatch_model::AppEvent;

fn run1(port: u16, pieces: &[(Direction, &[u8])]) -> (Recorded, FlowOut) {
    let (s, mut f) = run_convs(&[conv(key(40001, port), pieces)], ProtoConfig::default());
    (s, f.remove(0))
}

#[test]
fn flow_app_is_small_when_idle() {
    assert!(std::mem::size_of::<FlowApp>() <= 16);
}

#[test]
fn directions_disagreeing_raise_one_mismatch() {
    let (sink, f) = run1(
        6667,
        &[
            (Direction::ToServer, b"NICK a\r\nUSER a 0 * :a\r\n"),
            (Direction::ToClient, b"SSH-2.0-OpenSSH_7.4\r\n"),
            (Direction::ToClient, b"SSH-2.0-OpenSSH_7.4\r\n"),
        ],
    );
    assert_eq!(f.proto, AppProto::Irc);
    assert_eq!(f.ts, AppProto::Irc);
    assert_eq!(f.tc, AppProto::Ssh);
    let m: Vec<_> = sink
        .anomalies
        .iter()
        .filter(|(_, a)| a.event == "APPLAYER_MISMATCH_PROTOCOL_BOTH_DIRECTIONS")
        .collect();
    assert_eq!(m.len(), 1);
    assert_eq!(m[0].1.layer.as_deref(), Some("proto_detect"));
    // The SSH bytes never reached the IRC parser.
    assert!(
        !sink
            .anomalies
            .iter()
            .any(|(_, a)| a.event.starts_with("irc."))
    );
}

#[test]
fn server_speaks_first_and_requests_larger_than_a_segment() {
    // The client's first bytes are too short to decide; the server's banner names SSH.
    let (_, f) = run1(
        2222,
        &[
            (Direction::ToServer, b"SS"),
            (Direction::ToClient, b"SSH-2.0-OpenSSH_7.4\r\n"),
            (Direction::ToServer, b"H-2.0-PuTTY\r\n"),
        ],
    );
    assert_eq!(
        (f.proto, f.ts, f.tc),
        (AppProto::Ssh, AppProto::Ssh, AppProto::Ssh)
    );
    // A TLS record header split over three segments.
    let (_, f) = run1(
        8443,
        &[
            (Direction::ToServer, b"\x16"),
            (Direction::ToServer, b"\x03\x01"),
            (Direction::ToServer, b"\x00\x05\x01\x00\x00\x01\x03"),
        ],
    );
    assert_eq!(f.proto, AppProto::Tls);
}

#[test]
fn unknown_content_bails_out_to_failed() {
    let junk = vec![b'z'; 5000];
    let (sink, f) = run1(
        4000,
        &[(Direction::ToServer, &junk), (Direction::ToClient, &junk)],
    );
    assert_eq!(f.proto, AppProto::Failed);
    assert!(sink.records.is_empty());
    // Binary noise in many small segments also ends.
    let noise: Vec<u8> = (0..64u8).map(|i| i.wrapping_mul(37) | 0x80).collect();
    let pieces: Vec<(Direction, &[u8])> = (0..40)
        .map(|i| {
            let d = if i % 2 == 0 {
                Direction::ToServer
            } else {
                Direction::ToClient
            };
            (d, &noise[..])
        })
        .collect();
    let (_, f) = run1(4001, &pieces);
    assert_eq!(f.proto, AppProto::Failed);
}

#[test]
fn pop3_and_imap_starttls_upgrade_to_tls() {
    let ch: &[u8] = b"\x16\x03\x01\x00\x05\x01\x00\x00\x01\x03";
    let (_, f) = run1(
        110,
        &[
            (Direction::ToClient, b"+OK POP3 server ready\r\n"),
            (Direction::ToServer, b"STLS\r\n"),
            (Direction::ToClient, b"+OK Begin TLS\r\n"),
            (Direction::ToServer, ch),
        ],
    );
    assert_eq!((f.orig, f.proto), (AppProto::Pop3, AppProto::Tls));
    let (sink, f) = run1(
        143,
        &[
            (Direction::ToClient, b"* OK IMAP4rev1 ready\r\n"),
            (Direction::ToServer, b"a1 STARTTLS\r\n"),
            (Direction::ToClient, b"a1 OK go ahead\r\n"),
            (Direction::ToServer, ch),
        ],
    );
    assert_eq!((f.orig, f.proto), (AppProto::Imap, AppProto::Tls));
    assert!(!f.masquerade);
    assert!(sink.events.iter().any(|(_, _, e)| matches!(
        e,
        AppEvent::ProtoDetected {
            proto: AppProto::Tls,
            ..
        }
    )));
}

#[test]
fn dcc_offer_names_the_next_flow() {
    let offer: &[u8] = b"NICK a\r\nUSER a 0 * :a\r\nPRIVMSG bob :\x01DCC SEND evil.exe 3232235777 4444 1000\x01\r\n";
    let c1 = conv(key(40002, 6667), &[(Direction::ToServer, offer)]);
    let mut k2 = key(50000, 4444);
    k2.src = "198.51.100.9".parse().unwrap();
    k2.dst = "192.168.1.1".parse().unwrap();
    let c2 = conv(k2, &[(Direction::ToServer, b"MZ\x90\x00")]);
    let mut k3 = k2;
    k3.dst_port = 4445;
    let c3 = conv(k3, &[(Direction::ToServer, b"MZ\x90\x00")]);
    let (_, flows) = run_convs(&[c1, c2, c3], ProtoConfig::default());
    assert_eq!(flows[0].proto, AppProto::Irc);
    assert_eq!(flows[1].proto, AppProto::FtpData);
    assert!(!flows[1].masquerade);
    assert_ne!(flows[2].proto, AppProto::FtpData);
}

#[test]
fn gap_before_identification_fails_that_direction() {
    let mut c = conv(key(40003, 443), &[(Direction::ToServer, b"x")]);
    c.items[0].3 = Piece::Gap(100);
    c.items.push((
        2,
        Timestamp::from_secs_nanos(2000, 0),
        Direction::ToClient,
        Piece::Bytes(b"SSH-2.0-x\r\n".to_vec()),
    ));
    let (_, f) = run_convs(&[c], ProtoConfig::default());
    assert_eq!(f[0].proto, AppProto::Ssh);
    assert!(f[0].masquerade);
}

#[test]
fn counters_are_named_and_count() {
    let mut proto = Proto::new(ProtoConfig::default());
    let c = conv(
        key(40004, 443),
        &[(Direction::ToServer, b"NICK a\r\nUSER a 0 * :a\r\n")],
    );
    let mut app = FlowApp::default();
    let mut sink = Recorded::default();
    for (_, ts, d, p) in &c.items {
        if let Piece::Bytes(b) = p {
            let ctx = pcapkit::ctx_for(1, c.key, *ts, *d);
            proto.on_stream(&ctx, &mut app, StreamData::Bytes(b), &mut sink);
        }
    }
    let get = |n: &str| proto.counters().iter().find(|(k, _)| *k == n).map(|x| x.1);
    assert_eq!(get("proto.detect.irc"), Some(1));
    assert_eq!(get("proto.masquerade"), Some(1));
    assert_eq!(get("proto.detect.tls"), Some(0));
}

#[test]
fn tftp_transfer_from_a_new_port_is_linked() {
    let client: IpAddr = "10.1.1.20".parse().unwrap();
    let server: IpAddr = "10.1.1.1".parse().unwrap();
    let req = FlowKey {
        src: client,
        dst: server,
        src_port: 3000,
        dst_port: 69,
        proto: IpProto::UDP,
        vlan: [0, 0],
    };
    let xfer = FlowKey {
        src: server,
        dst: client,
        src_port: 4000,
        dst_port: 3000,
        proto: IpProto::UDP,
        vlan: [0, 0],
    };
    let c1 = conv(
        req,
        &[(Direction::ToServer, b"\x00\x01bot.exe\x00octet\x00")],
    );
    let c2 = conv(
        xfer,
        &[
            (
                Direction::ToServer,
                b"\x00\x03\x00\x01MZ\x90\x00\x03\x00\x00\x00",
            ),
            (Direction::ToClient, b"\x00\x04\x00\x01"),
        ],
    );
    let (sink, flows) = run_convs(&[c1, c2], ProtoConfig::default());
    assert_eq!(flows[0].proto, AppProto::Tftp);
    assert_eq!(flows[1].proto, AppProto::Tftp);
    assert!(!flows[1].masquerade);
    let file = sink
        .events
        .iter()
        .find_map(|(_, _, e)| match e {
            AppEvent::File(f) => Some(f.clone()),
            _ => None,
        })
        .expect("a file from the transfer flow");
    assert_eq!(file.name.as_deref(), Some("bot.exe"));
    assert_eq!(file.magic, stormwatch_model::FileMagic::Pe);
}

/// smtp-tls-protodetect: the client starts TLS at once, the server greets in
/// SMTP: flow `tls`, `app_proto_tc` `smtp`, one mismatch anomaly.
#[test]
fn client_tls_against_smtp_greeting() {
    let Some(p) = sv_pcap("smtp-tls-protodetect") else {
        println!("skipped: shared data not found");
        return;
    };
    let (sink, f) = run_capture(&p, ProtoConfig::default());
    assert_eq!(
        (f[0].proto, f[0].ts, f[0].tc),
        (AppProto::Tls, AppProto::Tls, AppProto::Smtp)
    );
    assert_eq!(
        sink.anomalies
            .iter()
            .filter(|(_, a)| a.event == "APPLAYER_MISMATCH_PROTOCOL_BOTH_DIRECTIONS")
            .count(),
        1
    );
    // The SMTP greeting never reached the TLS parser.
    assert!(
        !sink
            .anomalies
            .iter()
            .any(|(_, a)| a.layer.as_deref() == Some("proto_parser"))
    );
}

/// IRC clients that open with PASS (FTP's verb too) on any port, and POP3
/// clients that send USER (an FTP verb) to a POP3 server: one protocol each,
/// no mismatch.
#[test]
fn shared_text_verbs_do_not_confuse() {
    for port in [443u16, 6667, 31337] {
        let (sink, f) = run1(
            port,
            &[
                (Direction::ToServer, b"PASS l0m3za\r\n"),
                (
                    Direction::ToServer,
                    b"NICK damn-0262937047\r\nUSER x 0 0 :y\r\n",
                ),
                (Direction::ToClient, b":srv NOTICE AUTH :*** Looking up\r\n"),
            ],
        );
        assert_eq!(f.proto, AppProto::Irc, "port {port}");
        assert!(
            !sink
                .anomalies
                .iter()
                .any(|(_, a)| a.event.starts_with("APPLAYER"))
        );
    }
    let (sink, f) = run1(
        110,
        &[
            (Direction::ToClient, b"+OK POP3 ready\r\n"),
            (Direction::ToServer, b"USER bob\r\n"),
            (Direction::ToClient, b"+OK\r\n"),
            (Direction::ToServer, b"STLS\r\n"),
            (Direction::ToClient, b"+OK go\r\n"),
            (
                Direction::ToServer,
                b"\x16\x03\x01\x00\x05\x01\x00\x00\x01\x03",
            ),
        ],
    );
    assert_eq!((f.orig, f.proto), (AppProto::Pop3, AppProto::Tls));
    assert!(
        !sink
            .anomalies
            .iter()
            .any(|(_, a)| a.event.starts_with("APPLAYER")),
        "{:?}",
        sink.anomalies
    );
}

/// Per-flow memory while a parser runs stays small (the idle cost is 16 bytes).
#[test]
fn parser_state_sizes_are_bounded() {
    use stormwatch_proto::irc::IrcParser;
    use stormwatch_proto::ssh::SshParser;
    use stormwatch_proto::tls::TlsParser;
    let sizes = [
        ("tls", std::mem::size_of::<TlsParser>()),
        ("irc", std::mem::size_of::<IrcParser>()),
        ("ssh", std::mem::size_of::<SshParser>()),
    ];
    println!("{sizes:?}");
    for (n, s) in sizes {
        assert!(s <= 1024, "{n}: {s} bytes");
    }
}
