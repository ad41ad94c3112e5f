//! DNS parsers (UDP and TCP): suricata-verify expectations, EVE v3/v2 JSON of
//! real messages, TCP framing split/truncation/gaps, random input, and tshark as
//! oracle for query names and types.

use super::http::Rng;
use super::pcapkit::{self, Recorded, ctx_for};
use super::svcheck;
use stormwatch_model::{
    AppEvent, BufferId, Direction, FlowKey, IpProto, StreamData, Timestamp, TxField,
};
use stormwatch_proto::ProtoConfig;
use stormwatch_proto::api::{DatagramParser, StreamParser};
use stormwatch_proto::dns::{DnsConfig, DnsTcpParser, DnsUdpParser};

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

/// `dig www.suricata-ids.org` (suricata-verify cond-log-dns-dig): query with an
/// OPT record, and its response (CNAME + 2 A).
const DIG_QUERY: &str = "8d3201200001000000000001037777770c73757269636174612d696473036f726700000100010000291000000000000000";
const DIG_RESPONSE: &str = "8d3281a00001000300000000037777770c73757269636174612d696473036f72670000010001c00c0005000100000dd800120c73757269636174612d696473036f726700c03200010001000000f40004c0004e18c03200010001000000f40004c0004e19";

fn key(proto: IpProto) -> FlowKey {
    FlowKey {
        src: "10.16.1.11".parse().unwrap(),
        dst: "10.16.1.1".parse().unwrap(),
        src_port: 41805,
        dst_port: 53,
        proto,
        vlan: [0, 0],
    }
}

fn udp(cfg: &DnsConfig, msgs: &[(Direction, Vec<u8>)]) -> Recorded {
    let mut p = DnsUdpParser::with_config(cfg.clone());
    let mut sink = Recorded::default();
    for (i, (d, m)) in msgs.iter().enumerate() {
        sink.cur = i as u64 + 1;
        p.parse(
            &ctx_for(1, key(IpProto::UDP), Timestamp::ZERO, *d),
            m,
            &mut sink,
        );
    }
    p.close(
        &ctx_for(1, key(IpProto::UDP), Timestamp::ZERO, Direction::ToServer),
        &mut sink,
    );
    sink
}

fn tcp(cfg: &DnsConfig, pieces: &[(Direction, &[u8])]) -> Recorded {
    let mut p = DnsTcpParser::with_config(cfg.clone());
    let mut sink = Recorded::default();
    for (i, (d, b)) in pieces.iter().enumerate() {
        sink.cur = i as u64 + 1;
        let data = if b.is_empty() {
            StreamData::Gap(7)
        } else {
            StreamData::Bytes(b)
        };
        p.parse(
            &ctx_for(1, key(IpProto::TCP), Timestamp::ZERO, *d),
            data,
            &mut sink,
        );
    }
    p.close(
        &ctx_for(1, key(IpProto::TCP), Timestamp::ZERO, Direction::ToServer),
        &mut sink,
    );
    sink
}

fn framed(m: &[u8]) -> Vec<u8> {
    let mut v = (m.len() as u16).to_be_bytes().to_vec();
    v.extend_from_slice(m);
    v
}

#[test]
fn eve_v3_request_and_response() {
    let r = udp(
        &DnsConfig::default(),
        &[
            (Direction::ToServer, unhex(DIG_QUERY)),
            (Direction::ToClient, unhex(DIG_RESPONSE)),
        ],
    );
    assert_eq!(r.records.len(), 2);
    let (q, a) = (&r.records[0].1, &r.records[1].1);
    assert_eq!(q.body["version"], 3);
    assert_eq!(q.body["type"], "request");
    assert_eq!(q.body["tx_id"], 0);
    assert_eq!(q.body["id"], 36146);
    assert_eq!(q.body["rd"], true);
    assert_eq!(q.body["opcode"], 0);
    assert_eq!(q.body["queries"][0]["rrname"], "www.suricata-ids.org");
    assert_eq!(q.body["queries"][0]["rrtype"], "A");
    assert!(
        q.body.get("additionals").is_none(),
        "an empty OPT is not logged"
    );
    assert_eq!(q.key.src_port, 41805, "request: client to server");
    assert_eq!(a.body["type"], "response");
    assert_eq!(a.body["tx_id"], 1, "every message is a transaction");
    assert_eq!(a.body["flags"], "81a0");
    assert_eq!(a.body["qr"], true);
    assert_eq!(a.body["ra"], true);
    assert_eq!(a.body["rcode"], "NOERROR");
    assert_eq!(a.body["answers"][0]["rrtype"], "CNAME");
    assert_eq!(a.body["answers"][0]["rdata"], "suricata-ids.org");
    assert_eq!(a.body["answers"][0]["ttl"], 3544);
    assert_eq!(a.body["answers"][2]["rdata"], "192.0.78.25");
    assert_eq!(
        a.body["grouped"]["A"],
        serde_json::json!(["192.0.78.24", "192.0.78.25"])
    );
    assert_eq!(a.body["grouped"]["CNAME"][0], "suricata-ids.org");
    assert_eq!(
        a.key.src_port, 53,
        "v3 responses are written in packet direction"
    );
    assert_eq!(a.tx_id, Some(1));
}

#[test]
fn eve_v2_layout_and_filters() {
    let v2 = DnsConfig {
        version: 2,
        ..DnsConfig::default()
    };
    let r = udp(
        &v2,
        &[
            (Direction::ToServer, unhex(DIG_QUERY)),
            (Direction::ToClient, unhex(DIG_RESPONSE)),
        ],
    );
    let (q, a) = (&r.records[0].1, &r.records[1].1);
    assert_eq!(q.body["type"], "query");
    assert_eq!(q.body["rrname"], "www.suricata-ids.org");
    assert_eq!(q.body["tx_id"], 0);
    assert_eq!(a.body["type"], "answer");
    assert_eq!(a.body["version"], 2);
    assert_eq!(a.body["rrname"], "www.suricata-ids.org");
    assert_eq!(
        a.key.src_port, 41805,
        "v2 answers are written in flow direction"
    );

    let only_answers = DnsConfig {
        requests: false,
        ..DnsConfig::default()
    };
    let r = udp(
        &only_answers,
        &[
            (Direction::ToServer, unhex(DIG_QUERY)),
            (Direction::ToClient, unhex(DIG_RESPONSE)),
        ],
    );
    assert_eq!(r.records.len(), 1);
    let mx_only = DnsConfig {
        types: Some(vec![15]),
        ..DnsConfig::default()
    };
    let r = udp(&mx_only, &[(Direction::ToServer, unhex(DIG_QUERY))]);
    assert!(r.records.is_empty());
    let grouped_only = DnsConfig {
        detailed: false,
        ..DnsConfig::default()
    };
    let r = udp(&grouped_only, &[(Direction::ToClient, unhex(DIG_RESPONSE))]);
    assert!(r.records[0].1.body.get("answers").is_none());
    assert!(r.records[0].1.body.get("grouped").is_some());
}

#[test]
fn transactions_facts_and_buffers() {
    let r = udp(
        &DnsConfig::default(),
        &[
            (Direction::ToServer, unhex(DIG_QUERY)),
            (Direction::ToClient, unhex(DIG_RESPONSE)),
        ],
    );
    let (q, a) = (&r.txs[0].1, &r.txs[1].1);
    assert_eq!(
        q.buffer(BufferId::DnsQuery),
        Some(&b"www.suricata-ids.org"[..])
    );
    assert_eq!(
        a.buffer(BufferId::DnsQuery),
        None,
        "dns.query inspects requests"
    );
    assert!(a.fields.contains(&(TxField::DnsRcode, 0)));
    // `dns.rrtype` reads a request's questions and a response's answers
    // (a CNAME, then two A records).
    assert_eq!(q.values, [(TxField::DnsRrtype, vec![1])]);
    assert_eq!(a.values, [(TxField::DnsRrtype, vec![5, 1, 1])]);
    assert!(a.fields.contains(&(TxField::DnsRrtype, 5)));
    assert!(q.fields.contains(&(TxField::DnsOpcode, 0)));
    let ev = r.events.iter().find_map(|(_, _, e)| match e {
        AppEvent::Dns(d) if d.response => Some(d.clone()),
        _ => None,
    });
    let ev = ev.unwrap();
    assert_eq!(ev.queries, vec![("www.suricata-ids.org".to_string(), 1)]);
    assert_eq!(
        ev.answers[1],
        ("suricata-ids.org".to_string(), 1, "192.0.78.24".to_string())
    );
}

#[test]
fn malformed_udp_is_an_anomaly() {
    let resp = unhex(DIG_RESPONSE);
    for n in 0..resp.len() {
        let r = udp(
            &DnsConfig::default(),
            &[(Direction::ToClient, resp[..n].to_vec())],
        );
        assert!(r.records.is_empty(), "cut at {n}");
        assert_eq!(r.anomalies.len(), 1);
        assert_eq!(r.anomalies[0].1.event, "MALFORMED_DATA");
    }
}

#[test]
fn tcp_split_at_every_offset_gives_the_same_records() {
    let mut ts = framed(&unhex(DIG_QUERY));
    ts.extend(framed(&unhex(DIG_QUERY)));
    let tc = framed(&unhex(DIG_RESPONSE));
    let cfg = DnsConfig::default();
    let whole = tcp(
        &cfg,
        &[(Direction::ToServer, &ts), (Direction::ToClient, &tc)],
    );
    assert_eq!(whole.records.len(), 3);
    let want = whole.record_strings();
    for i in 1..ts.len() {
        let r = tcp(
            &cfg,
            &[
                (Direction::ToServer, &ts[..i]),
                (Direction::ToServer, &ts[i..]),
                (Direction::ToClient, &tc),
            ],
        );
        assert_eq!(r.record_strings(), want, "split at {i}");
    }
    let mut pieces: Vec<(Direction, &[u8])> =
        ts.chunks(1).map(|c| (Direction::ToServer, c)).collect();
    pieces.extend(tc.chunks(1).map(|c| (Direction::ToClient, c)));
    assert_eq!(tcp(&cfg, &pieces).record_strings(), want);
    for i in 0..tc.len() {
        let r = tcp(
            &cfg,
            &[(Direction::ToServer, &ts), (Direction::ToClient, &tc[..i])],
        );
        assert_eq!(
            r.records.len(),
            2,
            "a cut response is not logged (cut at {i})"
        );
    }
}

#[test]
fn tcp_resyncs_after_a_gap() {
    let q = framed(&unhex(DIG_QUERY));
    // Gap (empty piece), then junk in the same segment-sized chunk is skipped,
    // then a chunk that starts a message is parsed.
    let r = tcp(
        &DnsConfig::default(),
        &[
            (Direction::ToServer, &q[..10]),
            (Direction::ToServer, &[]),
            (Direction::ToServer, b"\x00\x05junk!"),
            (Direction::ToServer, &q),
        ],
    );
    assert_eq!(r.records.len(), 1);
    assert!(r.anomalies.is_empty());
}

#[test]
fn random_bytes_never_panic() {
    let mut rng = Rng(0x1234_5678_9abc_def1);
    let all: Vec<u8> = (0..=255).collect();
    let small = [0u8, 1, 2, 3, 0xc0, 0x0c, 0x3f, 0x40, 0x80, 0xff, b'a'];
    for round in 0..2000 {
        let alpha: &[u8] = if round % 2 == 0 { &all } else { &small };
        let n = (rng.next() % 300) as usize;
        let mut m = rng.bytes(n, alpha);
        if round % 3 == 0 && m.len() > 12 {
            m[..12].copy_from_slice(&[0, 1, 0x81, 0x20, 0, 1, 0, 3, 0, 0, 0, 0]);
        }
        let _ = udp(&DnsConfig::default(), &[(Direction::ToClient, m.clone())]);
        let _ = tcp(
            &DnsConfig::default(),
            &[(Direction::ToServer, &m), (Direction::ToClient, &m)],
        );
    }
}

#[test]
fn suricata_verify_dns_checks() {
    let Some(shared) = pcapkit::shared_dir() else {
        println!("skipped: shared data not found");
        return;
    };
    let root = shared.join("suricata-verify/tests");
    let mut names: Vec<String> = Vec::new();
    for d in walk(&root.join("dns")) {
        names.push(d);
    }
    for t in [
        "bug-2158",
        "bug-2736-01",
        "bug-2736-02",
        "bug-8205/bug-8205-g1-t1-u1",
        "bug-8205/bug-8205-g1-tna-una",
        "detect-bytetest-04",
        "dns-eve-v2-udp-nxdomain-soa",
        "dns-opcode",
        "dns-tcp-ts-gap",
        "dns-udp-junkrequest-first",
        "issues/issue-4759.1",
        "mac-eve-single-disabled",
    ] {
        names.push(t.to_string());
    }
    let mut bad = Vec::new();
    for t in &names {
        let o = svcheck::run_test(&root.join(t));
        println!("{:<45} {}/{} checks", t, o.passed, o.evaluated);
        for (c, got) in &o.failures {
            println!("    FAIL ({got} lines): {}", &c[..c.len().min(400)]);
        }
        if !o.failures.is_empty() {
            bad.push(t.clone());
        }
    }
    assert!(bad.is_empty(), "failing: {bad:?}");
}

/// Test folders (those holding a test.yaml) under `dir`, relative to the tests root.
fn walk(dir: &std::path::Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        if d.join("test.yaml").exists() {
            let rel = d.strip_prefix(dir.parent().unwrap()).unwrap();
            out.push(rel.to_string_lossy().to_string());
            continue;
        }
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            if e.path().is_dir() {
                stack.push(e.path());
            }
        }
    }
    out.sort();
    out
}

/// tshark as oracle: every DNS message tshark dissects in the corpus's DNS
/// captures yields our record with the same id, query name and type.
#[test]
fn tshark_agrees_on_corpus_dns() {
    let Some(shared) = pcapkit::shared_dir() else {
        println!("skipped: shared data not found");
        return;
    };
    if std::process::Command::new("tshark")
        .arg("-v")
        .output()
        .is_err()
    {
        println!("skipped: tshark not installed");
        return;
    }
    for name in [
        "ppa1e-dns.cap",
        "zeek-dns53.pcap",
        "ppa1e-http.cap",
        "stratosphere-test-cc-capture-2.pcap",
    ] {
        let path = shared.join("corpus").join(name);
        if !path.exists() {
            continue;
        }
        let out = std::process::Command::new("tshark")
            .args(["-r"])
            .arg(&path)
            .args([
                "-Y",
                "dns && !icmp",
                "-T",
                "fields",
                "-e",
                "dns.id",
                "-e",
                "dns.qry.name",
                "-e",
                "dns.qry.type",
                "-E",
                "occurrence=f",
            ])
            .output()
            .unwrap();
        let mut want: Vec<String> = String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(|l| {
                let f: Vec<&str> = l.split('\t').collect();
                let id = u16::from_str_radix(f[0].trim_start_matches("0x"), 16).unwrap();
                format!("{id}\t{}\t{}", f[1], f[2])
            })
            .collect();
        let rec = svcheck::run_capture(&path, &ProtoConfig::default());
        let mut got: Vec<String> = rec
            .records
            .iter()
            .filter(|(_, r)| r.event_type == "dns")
            .map(|(_, r)| {
                let b = &r.body;
                let ty = stormwatch_proto::dns::rrtype_from_name(
                    b["queries"][0]["rrtype"].as_str().unwrap_or(""),
                )
                .unwrap_or(0);
                format!(
                    "{}\t{}\t{}",
                    b["id"],
                    b["queries"][0]["rrname"].as_str().unwrap_or(""),
                    ty
                )
            })
            .collect();
        want.sort();
        got.sort();
        assert!(!want.is_empty() || name != "ppa1e-dns.cap");
        assert_eq!(got, want, "{name}: DNS messages differ from tshark");
    }
}
