//! TLS / SSLv2 / PCT: suricata-verify EVE checks, corpus captures, and the
//! hello overflow shapes in every segmentation.

use crate::ident::{self, conv, key, run_convs, sv_check};
use stormwatch_model::{AppEvent, AppProto, Direction, TlsEvent};
use stormwatch_proto::ProtoConfig;

fn cfg_default() -> ProtoConfig {
    ProtoConfig::default()
}

#[test]
fn suricata_verify_tls_records() {
    let mut custom = ProtoConfig::default();
    custom.tls.custom = Some(vec!["server_handshake".into()]);
    let tests: Vec<(&str, ProtoConfig)> = vec![
        ("bug-2646-01", cfg_default()),
        ("bug-5713-01", cfg_default()),
        ("bug-5758", cfg_default()),
        ("ja4-sv-handshake", custom),
        ("sslv2-tls-upgrade-01", cfg_default()),
        ("tls/tls-pre-1970", cfg_default()),
        ("tls/tls-issuerdn", cfg_default()),
        ("tls/tls-subject", cfg_default()),
        ("tls/tls-client-hello-frag-01", cfg_default()),
        ("tls/tls-json-output-ids", cfg_default()),
    ];
    let mut evaluated = 0;
    let mut failures = Vec::new();
    for (t, cfg) in tests {
        let Some(r) = sv_check(t, &["tls"], cfg) else {
            println!("skipped: shared data not found");
            return;
        };
        evaluated += r.evaluated;
        failures.extend(r.failures);
    }
    assert!(evaluated >= 10, "only {evaluated} checks evaluated");
    assert!(failures.is_empty(), "{failures:#?}");
}

#[test]
fn tls_buffers_for_rules() {
    // tls-subject-zero: the subject keeps its NUL byte; tls-cert-noissuer: a
    // certificate without issuer still yields its subject.
    for (t, want) in [
        (
            "tls/tls-subject-zero",
            &b"C=US, ST=WA, L=Redmond, O=Microsoft Corporat\x00on, OU=Microsoft Corporation, CN=go.microsoft.com"[..],
        ),
        ("tls/tls-cert-noissuer", &b"localhost"[..]),
    ] {
        let Some(p) = ident::sv_pcap(t) else {
            println!("skipped: shared data not found");
            return;
        };
        let (sink, _) = ident::run_capture(&p, ProtoConfig::default());
        let subj = sink
            .txs
            .iter()
            .filter_map(|(_, s)| s.buffer(stormwatch_model::BufferId::TlsCertSubject))
            .next()
            .expect("a transaction with a certificate subject");
        assert!(
            subj.windows(want.len()).any(|w| w == want),
            "{t}: {:?}",
            String::from_utf8_lossy(subj)
        );
    }
    // bug-5758: tls.sni for the rule.
    let Some(p) = ident::sv_pcap("bug-5758") else {
        return;
    };
    let (sink, _) = ident::run_capture(&p, ProtoConfig::default());
    assert!(
        sink.txs
            .iter()
            .any(|(_, s)| s.buffer(stormwatch_model::BufferId::TlsSni) == Some(b"ftp.nluug.nl"))
    );
}

/// sslv2-tls-upgrade-01: an SSLv2-format hello that negotiates TLS 1.0 is
/// benign: SSLv2 facts, no overflow anomaly, no PCT.
#[test]
fn sslv2_compatible_hello_is_not_an_overflow() {
    for name in ["suricata-verify-ssl-v2-s1.pcap", "zeek-tls-ssl-v2.pcap"] {
        let Some(p) = ident::corpus(name) else {
            println!("skipped: shared data not found");
            return;
        };
        let (sink, flows) = ident::run_capture(&p, ProtoConfig::default());
        assert!(flows.iter().any(|f| f.proto == AppProto::Tls), "{name}");
        assert!(flows.iter().all(|f| f.proto != AppProto::Pct), "{name}");
        let names: Vec<_> = sink
            .anomalies
            .iter()
            .map(|(_, a)| a.event.clone())
            .collect();
        assert!(
            !names
                .iter()
                .any(|n| n.starts_with("pct.") || n.starts_with("sslv2.")),
            "{name}: {names:?}"
        );
        assert!(
            sink.events
                .iter()
                .any(|(_, _, e)| matches!(e, AppEvent::Tls(TlsEvent::Sslv2ClientHello { challenge_len, .. }) if (16..=32).contains(challenge_len))),
            "{name}"
        );
    }
}

/// The PCT CLIENT-HELLO overflow shape sid 2515 tests: byte 2 = 1, bytes 6-7
/// > 0, bytes 8-9 not 0/16, bytes 10-11 > 20 with byte 11 = 0x8F, bytes 12-13
/// > 32768.
pub fn pct_overflow_record() -> Vec<u8> {
    let mut r = vec![
        0x80, 0x62, 0x01, 0x80, 0x01, 0x00, 0x01, 0x00, 0x01, 0x00, 0x16, 0x8f, 0x86, 0x01,
    ];
    r.resize(2 + 0x62, 0x41);
    r
}

/// A well-formed PCT 1.0 CLIENT-HELLO in the draft's layout.
pub fn pct_good_record() -> Vec<u8> {
    let mut m = vec![0x01, 0x80, 0x01, 0x00];
    m.extend_from_slice(&[0x11; 32]);
    m.extend_from_slice(&[0x22; 32]);
    m.extend_from_slice(&10u16.to_be_bytes());
    for l in [4u16, 2, 2, 2, 0] {
        m.extend_from_slice(&l.to_be_bytes());
    }
    m.extend_from_slice(&[0, 1, 0, 1, 0, 2, 0, 3, 0, 4]);
    let mut r = vec![0x80 | (m.len() >> 8) as u8, m.len() as u8];
    r.extend_from_slice(&m);
    r
}

fn pct_anomalies(record: &[u8], seg: usize, port: u16) -> (Vec<String>, AppProto, usize) {
    let pieces: Vec<(Direction, &[u8])> = record
        .chunks(seg)
        .map(|c| (Direction::ToServer, c))
        .collect();
    let c = conv(key(1055, port), &pieces);
    let (sink, flows) = run_convs(&[c], ProtoConfig::default());
    let names = sink
        .anomalies
        .iter()
        .map(|(_, a)| a.event.to_string())
        .collect();
    let overflow_events = sink
        .events
        .iter()
        .filter(|(_, _, e)| {
            matches!(
                e,
                AppEvent::Tls(TlsEvent::PctClientHello { overflow: true, .. })
            )
        })
        .count();
    (names, flows[0].proto, overflow_events)
}

#[test]
fn pct_overflow_named_in_every_segmentation() {
    let rec = pct_overflow_record();
    for seg in [1, 2, 3, 7, 13, 14, 64, rec.len()] {
        for port in [443, 993, 31337] {
            let (names, proto, ev) = pct_anomalies(&rec, seg, port);
            assert_eq!(proto, AppProto::Pct, "seg {seg}");
            assert_eq!(ev, 1, "seg {seg}: one overflow event");
            for want in [
                "pct.client_hello_oversized_challenge",
                "pct.client_hello_oversized_cipher_specs",
                "pct.client_hello_oversized_key_length",
            ] {
                assert_eq!(
                    names.iter().filter(|n| *n == want).count(),
                    1,
                    "seg {seg} port {port}: {names:?}"
                );
            }
        }
    }
}

#[test]
fn well_formed_pct_hello_raises_nothing() {
    let rec = pct_good_record();
    for seg in [1, 5, rec.len()] {
        let (names, proto, ev) = pct_anomalies(&rec, seg, 443);
        assert_eq!(proto, AppProto::Pct);
        assert_eq!(ev, 0);
        assert!(names.is_empty(), "seg {seg}: {names:?}");
    }
}

/// An SSLv2 CLIENT-HELLO with a 65535-byte challenge, delivered byte by byte.
#[test]
fn sslv2_oversized_challenge_in_one_byte_segments() {
    let mut m = vec![0x01, 0x00, 0x02, 0x00, 0x03, 0x00, 0x00, 0xff, 0xff];
    m.extend_from_slice(&[0x01, 0x00, 0x80]);
    m.extend_from_slice(&[0x42; 40]);
    let mut rec = vec![0x80 | (m.len() >> 8) as u8, m.len() as u8];
    rec.extend_from_slice(&m);
    let (names, proto, _) = pct_anomalies(&rec, 1, 443);
    assert_eq!(proto, AppProto::Tls);
    assert!(
        names
            .iter()
            .any(|n| n == "sslv2.client_hello_oversized_challenge"),
        "{names:?}"
    );
}

/// HTTP CONNECT then TLS through the tunnel (bug-2430), and an HTTP client
/// talking to an SSH server (output-eve-anomaly-02: one mismatch anomaly,
/// layer `proto_detect`).
#[test]
fn suricata_verify_connect_and_mismatch() {
    let Some(r) = sv_check("bug-2430", &["tls"], cfg_default()) else {
        println!("skipped: shared data not found");
        return;
    };
    assert_eq!(r.evaluated, 1);
    assert!(r.failures.is_empty(), "{:#?}", r.failures);
    // http-connect-tls: the tunnel starts with an empty SSL3 handshake record.
    let p = ident::sv_pcap("http-connect/http-connect-tls").unwrap();
    let (_, flows) = ident::run_capture(&p, cfg_default());
    assert_eq!(
        (flows[0].proto, flows[0].orig),
        (AppProto::Tls, AppProto::Http)
    );
    let r = sv_check("output-eve-anomaly-02", &["anomaly"], cfg_default()).unwrap();
    assert_eq!(r.evaluated, 3);
    assert!(r.failures.is_empty(), "{:#?}", r.failures);
}

fn pieces(bytes: &[u8]) -> Vec<(Direction, Vec<u8>)> {
    let mut v = Vec::new();
    let mut i = bytes;
    while i.len() >= 5 {
        let d = if i[0] == 0 {
            Direction::ToServer
        } else {
            Direction::ToClient
        };
        let n = u32::from_be_bytes([i[1], i[2], i[3], i[4]]) as usize;
        v.push((d, i[5..5 + n].to_vec()));
        i = &i[5 + n..];
    }
    v
}

const TLS12: &[u8] = include_bytes!("../../benches/data/tls12.pieces");

fn tls_facts(p: &[(Direction, Vec<u8>)]) -> Vec<String> {
    let refs: Vec<(Direction, &[u8])> = p.iter().map(|(d, b)| (*d, b.as_slice())).collect();
    let (sink, flows) = run_convs(&[conv(key(40000, 443), &refs)], ProtoConfig::default());
    let mut v: Vec<String> = sink
        .events
        .iter()
        .map(|(_, c, e)| format!("{:?} {}", c.dir, serde_json::to_string(e).unwrap()))
        .collect();
    v.extend(sink.records.iter().map(|(_, r)| r.body.to_string()));
    v.extend(sink.anomalies.iter().map(|(_, a)| a.event.to_string()));
    v.push(format!("{:?}", flows[0].proto));
    v
}

/// A real TLS 1.2 handshake (certificate chain over several records and
/// segments): splitting any piece at any offset gives the same facts; cutting
/// the stream anywhere never panics.
#[test]
fn tls12_split_and_truncate() {
    let p = pieces(TLS12);
    let want = tls_facts(&p);
    assert!(
        want.iter().any(|f| f.contains("\"kind\":\"certificate\"")),
        "{want:?}"
    );
    assert!(
        want.iter().any(|f| f.contains("\"version\":\"TLS 1.2\"")),
        "{want:?}"
    );
    // Handshake pieces only (the first 4): every offset.
    for i in 0..4.min(p.len()) {
        let len = p[i].1.len();
        for at in 1..len {
            let mut q = p.clone();
            let (d, b) = q.remove(i);
            q.insert(i, (d, b[at..].to_vec()));
            q.insert(i, (d, b[..at].to_vec()));
            assert_eq!(tls_facts(&q), want, "piece {i} split at {at}");
        }
    }
    // All in 1-byte segments.
    let ones: Vec<(Direction, Vec<u8>)> = p
        .iter()
        .flat_map(|(d, b)| b.iter().map(move |x| (*d, vec![*x])))
        .collect();
    assert_eq!(tls_facts(&ones), want);
    // Truncation at every offset of the server flight.
    let server: Vec<u8> = p[1].1.clone();
    for n in 0..server.len() {
        let q = vec![p[0].clone(), (Direction::ToClient, server[..n].to_vec())];
        let _ = tls_facts(&q);
    }
}

#[test]
fn tls_random_bytes_never_panic() {
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let p = pieces(TLS12);
    for round in 0..300 {
        // Random bytes after a valid record start, and mutated handshakes.
        let mut q = p.clone();
        let i = (next() % 4) as usize;
        let len = q[i].1.len();
        for _ in 0..(1 + next() % 8) {
            let at = (next() as usize) % len;
            q[i].1[at] = next() as u8;
        }
        if round % 3 == 0 {
            let n = (next() % 600) as usize;
            let junk: Vec<u8> = (0..n).map(|_| next() as u8).collect();
            q.insert(1, (Direction::ToServer, junk));
        }
        let _ = tls_facts(&q);
        let mut v2 = vec![0x80u8, 0x40, 0x01];
        v2.extend((0..80).map(|_| next() as u8));
        let _ = tls_facts(&[(Direction::ToServer, v2)]);
    }
}
