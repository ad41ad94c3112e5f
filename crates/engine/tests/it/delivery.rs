//! Suricata IDS-mode delivery (`Delivery::OnAck`) through the whole engine: what a
//! flow's end releases is inspected as a `stream (flow timeout)` pseudo packet,
//! its payload showing gaps as Suricata does; alerts on data the peer acknowledged
//! wait for the next packet of the data's own direction.

use std::io;
use std::sync::Arc;
use stormwatch_engine::{Config, Engine};
use stormwatch_flow::Delivery;
use stormwatch_model::{
    FrameOrigin, LinkType, OutputRecord, RawFrame, RecordMeta, Sink, Timestamp,
};
use stormwatch_rules::{RuleSet, RulesConfig};

const CLIENT: [u8; 4] = [10, 0, 0, 1];
const SERVER: [u8; 4] = [10, 0, 0, 2];
const SYN: u8 = 0x02;
const ACK: u8 = 0x10;
const PSH: u8 = 0x08;

/// An Ethernet/IPv4 frame of transport `proto` around `l4` (checksums zero:
/// the default config does not check).
fn ipv4_frame(proto: u8, src: [u8; 4], dst: [u8; 4], l4: &[u8]) -> Vec<u8> {
    let mut f = vec![0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 0x08, 0x00];
    let total = u16::try_from(20 + l4.len()).unwrap();
    f.extend_from_slice(&[0x45, 0, 0, 0, 0, 1, 0, 0, 64, proto, 0, 0]);
    f[16..18].copy_from_slice(&total.to_be_bytes());
    f.extend_from_slice(&src);
    f.extend_from_slice(&dst);
    f.extend_from_slice(l4);
    f
}

/// An Ethernet/IPv4/TCP frame between the client's port 40000 and the server's 80.
fn frame(to_server: bool, seq: u32, ack: u32, flags: u8, payload: &[u8]) -> Vec<u8> {
    let (src, dst, sp, dp) = if to_server {
        (CLIENT, SERVER, 40000u16, 80u16)
    } else {
        (SERVER, CLIENT, 80, 40000)
    };
    let mut t = Vec::with_capacity(20 + payload.len());
    t.extend_from_slice(&sp.to_be_bytes());
    t.extend_from_slice(&dp.to_be_bytes());
    t.extend_from_slice(&seq.to_be_bytes());
    t.extend_from_slice(&ack.to_be_bytes());
    t.extend_from_slice(&[0x50, flags, 0xff, 0xff, 0, 0, 0, 0]);
    t.extend_from_slice(payload);
    ipv4_frame(6, src, dst, &t)
}

/// Records with the facts the engine gave them and their extra members.
#[derive(Default)]
struct MetaSink(Vec<Written>);

impl Sink for MetaSink {
    fn write(&mut self, rec: &OutputRecord) -> io::Result<()> {
        self.write_meta(rec, &RecordMeta::default())
    }
    fn write_meta(&mut self, rec: &OutputRecord, meta: &RecordMeta) -> io::Result<()> {
        self.0.push((rec.clone(), *meta, serde_json::Map::new()));
        Ok(())
    }
    fn write_extra(
        &mut self,
        rec: &OutputRecord,
        meta: &RecordMeta,
        extra: &serde_json::Map<String, serde_json::Value>,
    ) -> io::Result<()> {
        self.0.push((rec.clone(), *meta, extra.clone()));
        Ok(())
    }
}

fn run(delivery: Delivery, rules: &str, frames: &[Vec<u8>]) -> MetaSink {
    let (set, report) = RuleSet::from_text("test.rules", rules, &RulesConfig::default());
    assert_eq!(report.loaded(), rules.lines().count(), "rules load");
    let mut cfg = Config {
        behaviour: false,
        rules: Some(Arc::new(set)),
        ..Config::default()
    };
    cfg.flow.delivery = delivery;
    let mut engine = Engine::new(cfg);
    let mut sink = MetaSink::default();
    for (i, f) in frames.iter().enumerate() {
        let raw = RawFrame {
            ts: Timestamp::from_secs_micros(1000, u32::try_from(i).unwrap()),
            link_type: LinkType::ETHERNET,
            data: f,
            orig_len: u32::try_from(f.len()).unwrap(),
            origin: FrameOrigin::default(),
        };
        engine.process(&raw, &mut sink).unwrap();
    }
    engine.finish(&mut sink).unwrap();
    sink
}

/// A run's alert records with their facts and extra members.
type Written = (
    OutputRecord,
    RecordMeta,
    serde_json::Map<String, serde_json::Value>,
);

/// The alerts of a run, in order.
fn alerts_of(out: &MetaSink) -> Vec<&Written> {
    out.0
        .iter()
        .filter(|(r, _, _)| matches!(r, OutputRecord::Alert(_)))
        .collect()
}

/// The signature ids of the alerts, sorted.
fn alert_sids(out: &MetaSink) -> Vec<u32> {
    let mut sids: Vec<u32> = out
        .0
        .iter()
        .filter_map(|(r, _, _)| match r {
            OutputRecord::Alert(a) => Some(a.sig.sid),
            _ => None,
        })
        .collect();
    sids.sort_unstable();
    sids
}

fn handshake() -> Vec<Vec<u8>> {
    vec![
        frame(true, 0, 0, SYN, b""),
        frame(false, 0, 1, SYN | ACK, b""),
        frame(true, 1, 1, ACK, b""),
    ]
}

/// The handshake, a request, the response acknowledging it, and the
/// client's acknowledgement of the response.
fn exchange(req: &[u8], res: &[u8]) -> Vec<Vec<u8>> {
    let (n, m) = (
        u32::try_from(req.len()).unwrap(),
        u32::try_from(res.len()).unwrap(),
    );
    let mut frames = handshake();
    frames.push(frame(true, 1, 1, ACK | PSH, req));
    frames.push(frame(false, 1, 1 + n, ACK | PSH, res));
    frames.push(frame(true, 1 + n, 1 + m, ACK, b""));
    frames
}

#[test]
fn flow_end_release_is_a_flow_timeout_pseudo_packet_with_gaps_rendered() {
    // "VERY", then "DATA" after 4 bytes never seen; the server acknowledges nothing.
    let mut frames = handshake();
    frames.push(frame(true, 1, 1, ACK | PSH, b"VERY"));
    frames.push(frame(true, 9, 1, ACK | PSH, b"DATA"));
    let rules = "alert tcp-stream any any -> any any (content:\"DATA\"; sid:3;)";
    let out = run(Delivery::OnAck, rules, &frames);
    let alerts: Vec<_> = out
        .0
        .iter()
        .filter_map(|(r, m, _)| match r {
            OutputRecord::Alert(a) => Some((a, m)),
            _ => None,
        })
        .collect();
    assert_eq!(alerts.len(), 1, "one stream alert");
    let (a, m) = alerts[0];
    assert!(a.stream);
    assert_eq!(m.pkt_src, Some("stream (flow timeout)"));
    assert_eq!(m.pcap_cnt, None, "a pseudo packet has no packet number");
    assert_eq!(
        a.payload.as_deref(),
        Some(&b"VERY[4 bytes missing]DATA"[..])
    );

    // Delivered as it arrives, "VERY" is inspected with its own packet.
    let rules = "alert tcp-stream any any -> any any (content:\"VERY\"; sid:1;)";
    let out = run(Delivery::Immediate, rules, &frames);
    let metas: Vec<_> = alerts_of(&out).into_iter().map(|(_, m, _)| *m).collect();
    assert_eq!(metas.len(), 1);
    assert_eq!(metas[0].pcap_cnt, Some(4));
    assert_eq!(metas[0].pkt_src, Some("wire/pcap"));
}

#[test]
fn acknowledged_request_alerts_with_the_next_packet_of_its_direction() {
    let req = b"GET /x HTTP/1.1\r\nHost: a\r\n\r\n";
    let n = u32::try_from(req.len()).unwrap();
    let mut frames = handshake();
    frames.push(frame(true, 1, 1, ACK | PSH, req)); // 4
    frames.push(frame(false, 1, 1 + n, ACK, b"")); // 5: acknowledges the request
    frames.push(frame(true, 1 + n, 1, ACK, b"")); // 6: next client packet
    let rules = "alert http any any -> any any (http.method; content:\"GET\"; sid:1;)";
    let out = run(Delivery::OnAck, rules, &frames);
    let alerts = alerts_of(&out);
    assert_eq!(alerts.len(), 1);
    let (rec, meta, extra) = alerts[0];
    assert_eq!(meta.pcap_cnt, Some(6), "Suricata inspects it with packet 6");
    assert!(
        extra.contains_key("http"),
        "the alert carries its transaction"
    );
    let OutputRecord::Alert(a) = rec else {
        unreachable!()
    };
    let f = a.flow.as_ref().unwrap();
    assert_eq!(
        (f.pkts_toserver, f.pkts_toclient),
        (4, 2),
        "counters at packet 6"
    );

    // Delivered as it arrives, the request alerts with its own packet.
    let out = run(Delivery::Immediate, rules, &frames);
    let cnt: Vec<_> = alerts_of(&out)
        .into_iter()
        .map(|(_, m, _)| m.pcap_cnt)
        .collect();
    assert_eq!(cnt, [Some(4)]);
}

/// A request's alert held for the client's next packet shows its
/// transaction as it is when written: with the response that packet's
/// acknowledgement handed to the parser (bug-78-uricontent: status, content
/// type and body length of a response still open).
#[test]
fn a_held_alert_shows_its_transaction_as_it_is_when_written() {
    let req = b"GET /blah/ HTTP/1.0\r\nHost: a\r\n\r\n";
    let res = b"HTTP/1.0 404 Not Found\r\nContent-Type: text/html\r\n\r\n0123456789";
    // 4: the request; 5: the response, acknowledging it; 6: the client
    // acknowledges the response.
    let frames = exchange(req, res);
    let rules = "alert tcp any any -> any any (uricontent:\"blah\"; sid:100;)";
    let out = run(Delivery::OnAck, rules, &frames);
    let alerts = alerts_of(&out);
    assert_eq!(alerts.len(), 1);
    let (_, meta, extra) = alerts[0];
    assert_eq!(meta.pcap_cnt, Some(6));
    let http = &extra["http"];
    assert_eq!(http["url"], "/blah/");
    assert_eq!(http["status"], 404, "{http}");
    assert_eq!(http["http_content_type"], "text/html", "{http}");
    assert_eq!(http["length"], 10, "{http}");
}

#[test]
fn the_ack_completing_the_handshake_is_not_yet_established() {
    // Suricata decides `flow:established` before the stream engine sees the
    // packet: the handshake's last ACK does not match, the data after it does.
    let mut frames = handshake();
    frames.push(frame(true, 1, 1, ACK | PSH, b"hello"));
    let rules = "alert tcp any any -> any any (flow:established; sid:9;)";
    for delivery in [Delivery::Immediate, Delivery::OnAck] {
        let out = run(delivery, rules, &frames);
        let cnt: Vec<_> = alerts_of(&out)
            .into_iter()
            .map(|(_, m, _)| m.pcap_cnt)
            .collect();
        assert_eq!(cnt, [Some(4)], "{delivery:?}");
    }
}

/// To the client, the HTTP header buffers are the response's (as in
/// Suricata): ET's `flow:to_client; content:"…"; http_header;` rules look at
/// response headers, never at the request's; `http_cookie` reads
/// `Set-Cookie`, which `http_header` leaves out; `http_raw_header` the raw
/// response header block; `http.content_type`, `http.content_len`,
/// `http.header_names` and `http.start` the response's too.
#[test]
fn to_the_client_http_header_buffers_are_the_responses() {
    let req = b"GET /x HTTP/1.1\r\nHost: a\r\nX-Note: attachment; yes\r\nContent-Type: text/plain\r\n\r\n";
    let resp = b"HTTP/1.1 200 OK\r\nContent-Disposition: attachment; filename=a.exe\r\nSet-Cookie: sess=evil\r\nContent-Type: application/x-msdownload\r\nContent-Length: 2\r\n\r\nMZ";
    let frames = exchange(req, resp);
    let rules = [
        r#"alert http any any -> any any (flow:to_client; content:"attachment|3b| filename"; http_header; sid:1;)"#,
        r#"alert http any any -> any any (flow:to_client; content:"X-Note"; http_header; sid:2;)"#,
        r#"alert http any any -> any any (flow:to_server; content:"X-Note"; http_header; sid:3;)"#,
        r#"alert http any any -> any any (flow:to_client; content:"sess=evil"; http_cookie; sid:4;)"#,
        r#"alert http any any -> any any (flow:to_client; content:"Content-Disposition|3a| attachment"; http_raw_header; sid:5;)"#,
        r#"alert http any any -> any any (flow:to_client; content:"sess=evil"; http_header; sid:6;)"#,
        r#"alert http any any -> any any (flow:to_server; content:"Content-Disposition"; http_raw_header; sid:7;)"#,
        r#"alert http any any -> any any (flow:to_client; http.content_type; content:"application/x-msdownload"; sid:8;)"#,
        r#"alert http any any -> any any (flow:to_client; http.content_type; content:"text/plain"; sid:9;)"#,
        r#"alert http any any -> any any (flow:to_client; http.start; content:"HTTP/1.1 200 OK|0d 0a|"; startswith; sid:10;)"#,
        r#"alert http any any -> any any (flow:to_client; http.header_names; content:"|0d 0a|Set-Cookie|0d 0a|"; sid:11;)"#,
        r#"alert http any any -> any any (flow:to_server; http.header_names; content:"|0d 0a|X-Note|0d 0a|"; sid:12;)"#,
        r#"alert http any any -> any any (flow:to_client; http.content_len; content:"2"; bsize:1; sid:13;)"#,
        r#"alert http any any -> any any (flow:to_server; http.start; content:"GET /x"; startswith; sid:14;)"#,
    ]
    .join("\n");
    let out = run(Delivery::Immediate, &rules, &frames);
    assert_eq!(alert_sids(&out), [1, 3, 4, 5, 8, 10, 11, 12, 13, 14]);
}

/// An Ethernet/IPv4/UDP frame from the client's port 40001 to the server's 53.
fn udp_frame(payload: &[u8]) -> Vec<u8> {
    let mut u = Vec::with_capacity(8 + payload.len());
    u.extend_from_slice(&40001u16.to_be_bytes());
    u.extend_from_slice(&53u16.to_be_bytes());
    u.extend_from_slice(&u16::try_from(8 + payload.len()).unwrap().to_be_bytes());
    u.extend_from_slice(&[0, 0]);
    u.extend_from_slice(payload);
    ipv4_frame(17, CLIENT, SERVER, &u)
}

/// On UDP a transaction rule's raw payload contents read the datagram the
/// transaction came in (as Suricata does; suricata-verify `bug-2158`): a DNS
/// query's header flags and question count before `dns_query`.
#[test]
fn udp_transaction_rules_read_the_datagram_as_raw_payload() {
    let mut query = vec![0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0];
    query.extend_from_slice(b"\x06update\x07example\x03com\x00\x00\x01\x00\x01");
    let rules = [
        // Recursion desired, one question: the query's header.
        r#"alert dns any any -> any any (flow:to_server; content:"|01 00 00 01|"; offset:2; depth:4; dns_query; content:"update.example"; sid:1;)"#,
        // A response's flags: not in the query.
        r#"alert dns any any -> any any (flow:to_server; content:"|81 80|"; offset:2; depth:2; dns_query; content:"update.example"; sid:2;)"#,
        // The name's label bytes, raw, anywhere in the datagram.
        r#"alert dns any any -> any any (flow:to_server; content:"|07|example|03|com"; dns_query; content:"update"; startswith; sid:3;)"#,
    ]
    .join("\n");
    let out = run(Delivery::Immediate, &rules, &[udp_frame(&query)]);
    assert_eq!(alert_sids(&out), [1, 3]);
}
