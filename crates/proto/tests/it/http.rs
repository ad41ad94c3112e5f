//! HTTP parser: suricata-verify expectations, EVE JSON of real exchanges, rule
//! buffers, truncation/split/random robustness, files, and tshark as oracle.

use super::pcapkit::{self, Recorded, ctx_for};
use super::svcheck;
use serde_json::Value;
use stormwatch_model::{
    AppEvent, BufferId, Direction, FileMagic, FlowKey, IpProto, StreamData, Timestamp,
};
use stormwatch_proto::ProtoConfig;
use stormwatch_proto::api::{ParseStatus, StreamParser};
use stormwatch_proto::http::{HeaderDump, HttpConfig, HttpParser};

fn key() -> FlowKey {
    FlowKey {
        src: "192.168.2.7".parse().unwrap(),
        dst: "208.75.250.50".parse().unwrap(),
        src_port: 1041,
        dst_port: 80,
        proto: IpProto::TCP,
        vlan: [0, 0],
    }
}

/// Feeds (direction, bytes) pieces in order, then closes.
fn run(cfg: &HttpConfig, pieces: &[(Direction, &[u8])]) -> Recorded {
    let mut p = HttpParser::with_config(cfg.clone());
    let mut sink = Recorded::default();
    for (i, (dir, b)) in pieces.iter().enumerate() {
        sink.cur = i as u64 + 1;
        let ctx = ctx_for(
            1,
            key(),
            Timestamp::from_secs_micros(1000 + i as i64, 0),
            *dir,
        );
        let st = p.parse(&ctx, StreamData::Bytes(b), &mut sink);
        if let ParseStatus::Upgrade(a) = st {
            sink.upgrades.push((sink.cur, a));
        }
    }
    let ctx = ctx_for(
        1,
        key(),
        Timestamp::from_secs_micros(2000, 0),
        Direction::ToServer,
    );
    p.close(&ctx, &mut sink);
    sink
}

fn http_records(r: &Recorded) -> Vec<Value> {
    r.records
        .iter()
        .filter(|(_, x)| x.event_type == "http")
        .map(|(_, x)| x.body.clone())
        .collect()
}

const BUG28_REQ: &[u8] = b"GET /a/Drk.syn?adcontext=ROUTINE_CHECKIN&contextpeak=0 HTTP/1.1\r\nUser-Agent: {2CAA09DF-35D8-471C-9979-A11DA0CC54DB}|0.21.5.110\r\nHost: BTG.btgrab.com\r\nCache-Control: no-cache\r\n\r\n";

/// The request and start of the response of ppa1e-http.cap / http-all-headers.
const ETHEREAL_REQ: &[u8] = b"GET /download.html HTTP/1.1\r\nHost: www.ethereal.com\r\nUser-Agent: Mozilla/5.0 (Windows; U; Windows NT 5.1; en-US; rv:1.6) Gecko/20040113\r\nAccept: text/xml,application/xml,application/xhtml+xml,text/html;q=0.9,text/plain;q=0.8,image/png,image/jpeg,image/gif;q=0.2,*/*;q=0.1\r\nAccept-Language: en-us,en;q=0.5\r\nAccept-Encoding: gzip,deflate\r\nAccept-Charset: ISO-8859-1,utf-8;q=0.7,*;q=0.7\r\nKeep-Alive: 300\r\nConnection: keep-alive\r\nReferer: http://www.ethereal.com/development.html\r\n\r\n";
const ETHEREAL_RES_HEAD: &[u8] = b"HTTP/1.1 200 OK\r\nDate: Thu, 13 May 2004 10:17:12 GMT\r\nServer: Apache\r\nLast-Modified: Tue, 20 Apr 2004 13:17:00 GMT\r\nETag: \"9a01a-4696-7e354b00\"\r\nAccept-Ranges: bytes\r\nContent-Length: 18070\r\nKeep-Alive: timeout=15, max=100\r\nConnection: Keep-Alive\r\nContent-Type: text/html; charset=ISO-8859-1\r\n\r\n";

#[test]
fn eve_http_record_of_a_real_request() {
    let r = run(&HttpConfig::default(), &[(Direction::ToServer, BUG28_REQ)]);
    let recs = http_records(&r);
    assert_eq!(recs.len(), 1, "logged at close");
    let h = &recs[0];
    assert_eq!(
        h["hostname"], "btg.btgrab.com",
        "host names are lower-cased"
    );
    assert_eq!(
        h["url"],
        "/a/Drk.syn?adcontext=ROUTINE_CHECKIN&contextpeak=0"
    );
    assert_eq!(
        h["http_user_agent"],
        "{2CAA09DF-35D8-471C-9979-A11DA0CC54DB}|0.21.5.110"
    );
    assert_eq!(h["http_method"], "GET");
    assert_eq!(h["protocol"], "HTTP/1.1");
    assert_eq!(h["length"], 0);
    assert!(h.get("status").is_none());
    assert_eq!(r.records[0].1.tx_id, Some(0));
}

#[test]
fn eve_http_all_headers_and_body_length() {
    let cfg = HttpConfig {
        dump_all_headers: HeaderDump::Both,
        ..HttpConfig::default()
    };
    let body = vec![b'x'; 18070];
    let r = run(
        &cfg,
        &[
            (Direction::ToServer, ETHEREAL_REQ),
            (Direction::ToClient, ETHEREAL_RES_HEAD),
            (Direction::ToClient, &body[..1000]),
            (Direction::ToClient, &body[1000..]),
        ],
    );
    let recs = http_records(&r);
    assert_eq!(recs.len(), 1);
    let h = &recs[0];
    assert_eq!(h["request_headers"].as_array().unwrap().len(), 9);
    assert_eq!(h["request_headers"][0]["name"], "Host");
    assert_eq!(h["request_headers"][0]["value"], "www.ethereal.com");
    assert_eq!(h["response_headers"].as_array().unwrap().len(), 9);
    assert_eq!(h["response_headers"][5]["name"], "Content-Length");
    assert_eq!(h["response_headers"][5]["value"], "18070");
    assert_eq!(h["status"], 200);
    assert_eq!(h["length"], 18070);
    assert_eq!(h["http_content_type"], "text/html");
    assert_eq!(h["http_refer"], "http://www.ethereal.com/development.html");
    // The record was written when the response completed, not at close.
    assert_eq!(
        r.records
            .iter()
            .find(|(_, x)| x.event_type == "http")
            .unwrap()
            .0,
        4
    );
    // The body window is bounded by the response body limit.
    let tx = r
        .txs
        .iter()
        .rev()
        .find(|(_, t)| t.buffer(BufferId::HttpResponseBody).is_some())
        .unwrap();
    assert_eq!(
        tx.1.buffer(BufferId::HttpResponseBody).unwrap().len(),
        18070
    );
}

#[test]
fn libhtp_quirks() {
    // Non-numeric status: status_string instead of status.
    let r = run(
        &HttpConfig::default(),
        &[
            (Direction::ToServer, b"GET /test HTTP/1.1\r\nHost: 127.0.0.1:8001\r\nUser-Agent: curl/7.58.0\r\nAccept: */*\r\n\r\n"),
            (Direction::ToClient, b"HTTP/1.0 2XX OK\nServer: POC\nContent-Length:4\n\ntoto"),
        ],
    );
    let h = &http_records(&r)[0];
    assert_eq!(h["status_string"], "2XX");
    assert!(h.get("status").is_none());
    assert_eq!(h["http_port"], 8001);
    assert_eq!(h["hostname"], "127.0.0.1");
    assert_eq!(h["length"], 4);

    // A URI with a space.
    let r = run(
        &HttpConfig::default(),
        &[(
            Direction::ToServer,
            b"GET /uri afterspace HTTP/1.1\r\nHost: 127.0.0.1:8000\r\n\r\n",
        )],
    );
    assert_eq!(http_records(&r)[0]["url"], "/uri afterspace");
    let t = &r.txs[0].1;
    assert_eq!(t.buffer(BufferId::HttpUri), Some(&b"/uri afterspace"[..]));

    // Missing protocol followed by headers: a 1.x request, with the anomaly.
    let r = run(
        &HttpConfig::default(),
        &[(
            Direction::ToServer,
            b"GET /gen.php?x=1\r\nHost: 5.8.88.25\r\nUser-Agent:Mozilla/5.0\r\n\r\n",
        )],
    );
    assert!(
        r.anomalies
            .iter()
            .any(|(_, a)| a.event == "REQUEST_LINE_MISSING_PROTOCOL")
    );
    let t = &r.txs[0].1;
    assert_eq!(
        t.buffer(BufferId::HttpHeaderNames),
        Some(&b"\r\nHost\r\nUser-Agent\r\n\r\n"[..])
    );
    assert_eq!(t.buffer(BufferId::HttpMethod), Some(&b"GET"[..]));

    // Missing protocol and nothing else: HTTP/0.9, the response is all body.
    let r = run(
        &HttpConfig::default(),
        &[
            (Direction::ToServer, b"GET /\r\n"),
            (Direction::ToClient, b"<html>hi</html>"),
        ],
    );
    assert!(
        !r.anomalies
            .iter()
            .any(|(_, a)| a.event == "REQUEST_LINE_MISSING_PROTOCOL")
    );
    let h = &http_records(&r)[0];
    assert_eq!(h["length"], 15);
    assert!(h.get("protocol").is_none());

    // Whitespace lines after a protocol-less line: not 0.9 (http-not09-spaces).
    let r = run(
        &HttpConfig::default(),
        &[
            (Direction::ToServer, b"GET /\n \n \n\n"),
            (Direction::ToClient, b"<!DOCTYPE HTML>\n<html></html>\n"),
        ],
    );
    assert_eq!(
        r.anomalies
            .iter()
            .filter(|(_, a)| a.event == "REQUEST_LINE_MISSING_PROTOCOL")
            .count(),
        1
    );
}

#[test]
fn chunked_bodies_pipelining_and_interim_responses() {
    let r = run(
        &HttpConfig::default(),
        &[
            (Direction::ToServer, b"POST /up HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nbody\r\n0\r\n\r\nGET /2 HTTP/1.1\r\nHost: a\r\n\r\nHEAD /3 HTTP/1.1\r\nHost: a\r\n\r\n"),
            (Direction::ToClient, b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;ext\r\nhello\r\n3\r\n wo\r\n0\r\nX-Trailer: 1\r\n\r\n"),
            (Direction::ToClient, b"HTTP/1.1 404 Not Found\r\nContent-Length: 3\r\n\r\nnopHTTP/1.1 200 OK\r\nContent-Length: 99\r\n\r\n"),
        ],
    );
    let recs = http_records(&r);
    assert_eq!(recs.len(), 3);
    let ids: Vec<_> = r
        .records
        .iter()
        .filter(|(_, x)| x.event_type == "http")
        .map(|(_, x)| x.tx_id.unwrap())
        .collect();
    assert_eq!(ids, vec![0, 1, 2]);
    assert_eq!(recs[0]["status"], 200);
    assert_eq!(recs[0]["length"], 8);
    assert_eq!(recs[1]["status"], 404);
    assert_eq!(recs[2]["http_method"], "HEAD");
    assert_eq!(recs[2]["length"], 0, "no body after HEAD");
    let body = r
        .txs
        .iter()
        .find_map(|(_, t)| t.buffer(BufferId::HttpRequestBody).map(<[u8]>::to_vec));
    assert_eq!(body.as_deref(), Some(&b"body"[..]));
    let resp = r.txs.iter().find_map(|(_, t)| {
        (t.tx_id == 0)
            .then(|| t.buffer(BufferId::FileData))
            .flatten()
            .map(<[u8]>::to_vec)
    });
    assert_eq!(resp.as_deref(), Some(&b"hello wo"[..]));
    assert!(r.anomalies.is_empty(), "{:?}", r.anomalies);
}

#[test]
fn connect_tunnel_upgrades() {
    let r = run(
        &HttpConfig::default(),
        &[
            (
                Direction::ToServer,
                b"CONNECT abc:443 HTTP/1.1\r\nHost: abc:443\r\n\r\n",
            ),
            (Direction::ToClient, b"HTTP/1.1 200 OK\r\n\r\n"),
            (Direction::ToServer, b"\x16\x03\x01\x00\x05hello"),
        ],
    );
    let recs = http_records(&r);
    assert_eq!(recs.len(), 1, "{recs:?}");
    assert_eq!(recs[0]["http_method"], "CONNECT");
    assert_eq!(recs[0]["status"], 200);
    assert_eq!(
        r.upgrades.first().map(|u| u.0),
        Some(2),
        "upgrade when the 200 arrives"
    );
}

#[test]
fn executable_download_is_a_file_event() {
    let mut pe = vec![0u8; 600];
    pe[0] = b'M';
    pe[1] = b'Z';
    pe[0x3c] = 0x80;
    pe[0x80..0x84].copy_from_slice(b"PE\0\0");
    let head = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: {}\r\n\r\n",
        pe.len()
    );
    let r = run(
        &HttpConfig::default(),
        &[
            (Direction::ToServer, b"GET /bbnz.exe?x=1 HTTP/1.0\r\n\r\n"),
            (Direction::ToClient, head.as_bytes()),
            (Direction::ToClient, &pe),
        ],
    );
    let f = r.events.iter().find_map(|(_, _, e)| match e {
        AppEvent::File(f) => Some(f.clone()),
        _ => None,
    });
    let f = f.expect("file event");
    assert_eq!(f.magic, FileMagic::Pe);
    assert_eq!(f.size, 600);
    assert!(f.complete);
    assert_eq!(f.name.as_deref(), Some("/bbnz.exe"));
    assert_eq!(f.sha256.as_ref().map(String::len), Some(64));
    let fi = r
        .records
        .iter()
        .find(|(_, x)| x.event_type == "fileinfo")
        .expect("fileinfo");
    assert_eq!(fi.1.body["state"], "CLOSED");
    assert_eq!(fi.1.body["filename"], "/bbnz.exe");
    assert_eq!(fi.1.extra["http"]["url"], "/bbnz.exe?x=1");

    // Truncated by the close: TRUNCATED, not complete.
    let r = run(
        &HttpConfig::default(),
        &[
            (Direction::ToServer, b"GET /x.exe HTTP/1.0\r\n\r\n"),
            (Direction::ToClient, head.as_bytes()),
            (Direction::ToClient, &pe[..300]),
        ],
    );
    let fi = r
        .records
        .iter()
        .find(|(_, x)| x.event_type == "fileinfo")
        .expect("fileinfo");
    assert_eq!(fi.1.body["state"], "TRUNCATED");
}

#[test]
fn rule_buffers() {
    let r = run(
        &HttpConfig::default(),
        &[
            (Direction::ToServer, b"POST /a/./b/../c%41?q=1 HTTP/1.1\r\nHost: www.Example.com\r\nUser-Agent: Mozilla\r\nCookie: dummy\r\nContent-Length: 4\r\n\r\nbody"),
            (Direction::ToClient, b"HTTP/1.1 302 Found\r\nLocation: /index.php?page=main.php\r\nServer: nginx\r\nContent-Length: 0\r\n\r\n"),
        ],
    );
    let last = &r.txs.last().unwrap().1;
    let b = |id| last.buffer(id).map(<[u8]>::to_vec);
    assert_eq!(b(BufferId::HttpUri).as_deref(), Some(&b"/a/cA?q=1"[..]));
    assert_eq!(
        b(BufferId::HttpRawUri).as_deref(),
        Some(&b"/a/./b/../c%41?q=1"[..])
    );
    assert_eq!(
        b(BufferId::HttpHost).as_deref(),
        Some(&b"www.example.com"[..])
    );
    assert_eq!(
        b(BufferId::HttpRawHost).as_deref(),
        Some(&b"www.Example.com"[..])
    );
    assert_eq!(b(BufferId::HttpCookie).as_deref(), Some(&b"dummy"[..]));
    assert!(
        !b(BufferId::HttpHeader)
            .unwrap()
            .windows(6)
            .any(|w| w == b"Cookie")
    );
    assert_eq!(b(BufferId::HttpRequestBody).as_deref(), Some(&b"body"[..]));
    assert_eq!(b(BufferId::HttpStatCode).as_deref(), Some(&b"302"[..]));
    assert_eq!(b(BufferId::HttpStatMsg).as_deref(), Some(&b"Found"[..]));
    assert_eq!(
        b(BufferId::HttpLocation).as_deref(),
        Some(&b"/index.php?page=main.php"[..])
    );
    assert_eq!(b(BufferId::HttpServer).as_deref(), Some(&b"nginx"[..]));
    assert_eq!(
        b(BufferId::HttpRequestLine).as_deref(),
        Some(&b"POST /a/./b/../c%41?q=1 HTTP/1.1"[..])
    );
    assert_eq!(
        b(BufferId::HttpResponseLine).as_deref(),
        Some(&b"HTTP/1.1 302 Found"[..])
    );
    assert!(
        last.fields
            .contains(&(stormwatch_model::TxField::HttpStatCode, 302))
    );
    // Offered at request headers, request body, response headers, response end.
    assert_eq!(r.txs.len(), 4);
    let h = &http_records(&r)[0];
    assert_eq!(h["redirect"], "/index.php?page=main.php");
}

// ---------------------------------------------------------------------------
// Robustness (STYLE rule 9): split at every offset, truncation, random bytes.
// ---------------------------------------------------------------------------

fn exchange() -> (Vec<u8>, Vec<u8>) {
    let req = [
        &b"GET /a HTTP/1.1\r\nHost: x\r\n\r\n"[..],
        b"POST /b HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
    ]
    .concat();
    let res = [
        &b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Type: text/plain\r\n\r\nhello"[..],
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nMZ\r\n0\r\n\r\n",
    ]
    .concat();
    (req, res)
}

#[test]
fn split_at_every_offset_gives_the_same_records() {
    let (req, res) = exchange();
    let cfg = HttpConfig::default();
    let whole = run(
        &cfg,
        &[(Direction::ToServer, &req), (Direction::ToClient, &res)],
    );
    let want = whole.record_strings();
    assert_eq!(http_records(&whole).len(), 2);
    for i in 0..=req.len() {
        let r = run(
            &cfg,
            &[
                (Direction::ToServer, &req[..i]),
                (Direction::ToServer, &req[i..]),
                (Direction::ToClient, &res),
            ],
        );
        assert_eq!(r.record_strings(), want, "request split at {i}");
    }
    for i in 0..=res.len() {
        let r = run(
            &cfg,
            &[
                (Direction::ToServer, &req),
                (Direction::ToClient, &res[..i]),
                (Direction::ToClient, &res[i..]),
            ],
        );
        assert_eq!(r.record_strings(), want, "response split at {i}");
    }
    // One byte at a time.
    let mut pieces: Vec<(Direction, &[u8])> =
        req.chunks(1).map(|c| (Direction::ToServer, c)).collect();
    pieces.extend(res.chunks(1).map(|c| (Direction::ToClient, c)));
    assert_eq!(run(&cfg, &pieces).record_strings(), want);
}

/// Response bodies fed in pieces take the parser's short path for body-only
/// chunks (Content-Length, chunk data, until close): records, events,
/// anomalies and the transactions the rules read (bodies included) are the
/// same as for the body in one piece, for every piece size.
#[test]
fn body_chunks_on_the_short_path_match_the_whole() {
    let body: Vec<u8> = (0..700u32)
        .map(|i| b"MZ0123456789abcdef\r\n"[i as usize % 20])
        .collect();
    let req = b"GET /f.exe HTTP/1.1\r\nHost: x\r\n\r\n".to_vec();
    let length = [
        format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n", body.len()).into_bytes(),
        body.clone(),
    ]
    .concat();
    let chunked = [
        &b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"[..],
        format!("{:x}\r\n", 300).as_bytes(),
        &body[..300],
        b"\r\n",
        format!("{:x}\r\n", body.len() - 300).as_bytes(),
        &body[300..],
        b"\r\n0\r\n\r\n",
    ]
    .concat();
    let close = [&b"HTTP/1.1 200 OK\r\n\r\n"[..], &body].concat();
    let cfg = HttpConfig::default();
    let summary = |r: &Recorded| {
        (
            r.record_strings(),
            format!("{:?}", r.events.iter().map(|e| &e.2).collect::<Vec<_>>()),
            format!("{:?}", r.anomalies.iter().map(|a| &a.1).collect::<Vec<_>>()),
            format!("{:?}", r.txs.iter().map(|t| &t.1).collect::<Vec<_>>()),
        )
    };
    for res in [&length, &chunked, &close] {
        let whole = run(
            &cfg,
            &[(Direction::ToServer, &req), (Direction::ToClient, res)],
        );
        let want = summary(&whole);
        assert_eq!(http_records(&whole).len(), 1);
        for size in [1, 2, 3, 7, 64, 299, 300, 301, 512] {
            let mut pieces: Vec<(Direction, &[u8])> = vec![(Direction::ToServer, &req)];
            pieces.extend(res.chunks(size).map(|c| (Direction::ToClient, c)));
            assert_eq!(summary(&run(&cfg, &pieces)), want, "pieces of {size}");
        }
    }
}

/// A sink that takes no transactions (no rules): the parser then keeps only
/// what records and events read.
#[derive(Default)]
struct NoTxs(Recorded);

impl stormwatch_proto::api::ProtoSink for NoTxs {
    fn event(&mut self, ctx: &stormwatch_model::AppContext, ev: AppEvent) {
        self.0.event(ctx, ev);
    }
    fn record(&mut self, rec: stormwatch_model::AppRecord) {
        self.0.record(rec);
    }
    fn anomaly(&mut self, a: stormwatch_model::Anomaly) {
        self.0.anomaly(a);
    }
    fn tx(&mut self, _: &stormwatch_model::AppContext, _: &dyn stormwatch_model::TxView) {}
    fn wants_txs(&self) -> bool {
        false
    }
}

/// Without rules the request/status lines, normalised URI, status message,
/// raw headers and bodies are not kept: records, events and anomalies are
/// the same as when they are.
#[test]
fn records_and_events_do_not_depend_on_rule_buffers() {
    let (req, res) = exchange();
    let odd_req =
        b"GET http://h:81/a/../b%41?q=1 HTTP/1.0\r\nUser-Agent: u\r\nX: 1\r\nX: 2\r\n\r\n".to_vec();
    let odd_res = b"HTTP/1.0 2XX Weird\r\nContent-Length: 3\r\n\r\nabc".to_vec();
    let cfg = HttpConfig::default();
    for (q, r) in [(&req, &res), (&odd_req, &odd_res)] {
        let mut with = Recorded::default();
        let mut without = NoTxs::default();
        let mut p1 = HttpParser::with_config(cfg.clone());
        let mut p2 = HttpParser::with_config(cfg.clone());
        for (dir, b) in [(Direction::ToServer, q), (Direction::ToClient, r)] {
            let ctx = ctx_for(1, key(), Timestamp::from_secs_micros(1000, 0), dir);
            p1.parse(&ctx, StreamData::Bytes(b), &mut with);
            p2.parse(&ctx, StreamData::Bytes(b), &mut without);
        }
        let ctx = ctx_for(
            1,
            key(),
            Timestamp::from_secs_micros(2000, 0),
            Direction::ToServer,
        );
        p1.close(&ctx, &mut with);
        p2.close(&ctx, &mut without);
        assert!(!http_records(&with).is_empty());
        assert_eq!(without.0.record_strings(), with.record_strings());
        assert_eq!(
            format!("{:?}", without.0.events),
            format!("{:?}", with.events)
        );
        assert_eq!(
            format!("{:?}", without.0.anomalies),
            format!("{:?}", with.anomalies)
        );
    }
}

#[test]
fn truncation_at_every_offset_never_panics() {
    let (req, res) = exchange();
    let cfg = HttpConfig::default();
    for i in 0..=req.len() {
        let r = run(&cfg, &[(Direction::ToServer, &req[..i])]);
        assert!(http_records(&r).len() <= 2);
    }
    for i in 0..=res.len() {
        let r = run(
            &cfg,
            &[
                (Direction::ToServer, &req),
                (Direction::ToClient, &res[..i]),
            ],
        );
        assert_eq!(
            http_records(&r).len(),
            2,
            "both requests are logged at close (cut at {i})"
        );
    }
}

/// Deterministic xorshift for random inputs.
pub struct Rng(pub u64);
impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    pub fn bytes(&mut self, n: usize, alphabet: &[u8]) -> Vec<u8> {
        (0..n)
            .map(|_| alphabet[(self.next() % alphabet.len() as u64) as usize])
            .collect()
    }
}

#[test]
fn random_bytes_never_panic() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let all: Vec<u8> = (0..=255).collect();
    let texty =
        b"GET POST HTTP/1.1 \r\n:0123456789abcdefContent-Length: Transfer-Encoding: chunked\r\n";
    for round in 0..400 {
        let alpha: &[u8] = if round % 2 == 0 { &all } else { texty };
        let (na, nb) = ((rng.next() % 600) as usize, (rng.next() % 600) as usize);
        let a = rng.bytes(na, alpha);
        let b = rng.bytes(nb, alpha);
        let mut p = HttpParser::with_config(HttpConfig {
            max_line_bytes: 64,
            max_headers: 4,
            max_open_txs: 3,
            ..HttpConfig::default()
        });
        let mut sink = Recorded::default();
        for (i, chunk) in a.chunks(7).chain(b.chunks(5)).enumerate() {
            let dir = if i % 3 == 0 {
                Direction::ToClient
            } else {
                Direction::ToServer
            };
            let ctx = ctx_for(1, key(), Timestamp::ZERO, dir);
            let data = if i % 11 == 10 {
                StreamData::Gap(3)
            } else {
                StreamData::Bytes(chunk)
            };
            let _ = p.parse(&ctx, data, &mut sink);
        }
        p.close(
            &ctx_for(1, key(), Timestamp::ZERO, Direction::ToServer),
            &mut sink,
        );
    }
}

#[test]
fn limits_are_bounded_and_reported() {
    let cfg = HttpConfig {
        max_line_bytes: 32,
        max_headers: 2,
        max_open_txs: 2,
        ..HttpConfig::default()
    };
    let long = format!(
        "GET /{} HTTP/1.1\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n",
        "x".repeat(100)
    );
    let r = run(&cfg, &[(Direction::ToServer, long.as_bytes())]);
    assert!(
        r.anomalies
            .iter()
            .any(|(_, a)| a.event == "REQUEST_FIELD_TOO_LONG")
    );
    assert!(
        r.anomalies
            .iter()
            .any(|(_, a)| a.event == "REQUEST_TOO_MANY_HEADERS")
    );
    let many = "GET / HTTP/1.1\r\n\r\n".repeat(5);
    let r = run(&cfg, &[(Direction::ToServer, many.as_bytes())]);
    assert_eq!(
        http_records(&r).len(),
        5,
        "evicted transactions are still logged"
    );
    assert_eq!(
        r.anomalies
            .iter()
            .filter(|(_, a)| a.event == "http.tx_limit_reached")
            .count(),
        1
    );
}

#[test]
fn gaps_in_bodies_keep_sync() {
    let mut p = HttpParser::with_config(HttpConfig::default());
    let mut sink = Recorded::default();
    let c = |d| ctx_for(1, key(), Timestamp::ZERO, d);
    p.parse(
        &c(Direction::ToServer),
        StreamData::Bytes(b"GET /f HTTP/1.1\r\n\r\nGET /g HTTP/1.1\r\n\r\n"),
        &mut sink,
    );
    p.parse(
        &c(Direction::ToClient),
        StreamData::Bytes(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n\x7fELF"),
        &mut sink,
    );
    p.parse(&c(Direction::ToClient), StreamData::Gap(4), &mut sink);
    p.parse(
        &c(Direction::ToClient),
        StreamData::Bytes(b"zzHTTP/1.1 204 No Content\r\n\r\n"),
        &mut sink,
    );
    p.close(&c(Direction::ToServer), &mut sink);
    let recs = http_records(&sink);
    assert_eq!(recs.len(), 2);
    assert_eq!(recs[0]["length"], 10);
    assert_eq!(recs[1]["status"], 204);
    let f = sink
        .events
        .iter()
        .find_map(|(_, _, e)| match e {
            AppEvent::File(f) => Some(f.clone()),
            _ => None,
        })
        .unwrap();
    assert!(!f.complete);
    assert_eq!(f.magic, FileMagic::Elf);
    assert_eq!(f.sha256, None);
}

// ---------------------------------------------------------------------------
// Real captures.
// ---------------------------------------------------------------------------

/// suricata-verify tests whose http/anomaly checks this parser must pass.
const SV_HTTP: &[&str] = &[
    "alert-distance-within-1",
    "alert-testmyids-midstream",
    "bug-28",
    "bug-3844",
    "bug-4702-01",
    "bug-6269-01",
    "bug-78-uricontent",
    "bug-814",
    "engine-state/detect-engine-state-01",
    "eve-ip-version-4",
    "http-all-headers",
    "http-connect/http-connect-simple",
    "http-connect/http-connect-tls",
    "http-options-method",
    "http-protocol-nodup",
    "http1-noint-status",
    "http-not09-spaces",
    "tcp-fastopen-01",
    "tcp-fastopen-03",
    "tcp-fastopen-06",
    "tcp-fastopen-07",
    "tcp-fastopen-08",
    "uricontent/detect-uricontent-04",
    "uricontent/detect-uricontent-05",
    "uricontent/detect-uricontent-06",
    "uricontent/detect-uricontent-07",
];

#[test]
fn suricata_verify_http_checks() {
    let Some(shared) = pcapkit::shared_dir() else {
        println!("skipped: shared data not found");
        return;
    };
    let mut bad = Vec::new();
    for t in SV_HTTP {
        let o = svcheck::run_test(&shared.join("suricata-verify/tests").join(t));
        println!("{:<45} {}/{} checks", o.name, o.passed, o.evaluated);
        for (c, got) in &o.failures {
            println!("    FAIL ({got} lines): {c}");
        }
        if !o.failures.is_empty() {
            bad.push(*t);
        }
    }
    assert!(bad.is_empty(), "failing: {bad:?}");
}

/// tshark as oracle: method, host, URI and status of every HTTP exchange in the
/// corpus's HTTP captures equal tshark's.
#[test]
fn tshark_agrees_on_corpus_http() {
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
        "ppa1e-http.cap",
        "zeek-http-get.pcap",
        "zeek-http-bro.org.pcap",
        "chrissanders-aurora.pcapng",
    ] {
        let path = shared.join("corpus").join(name);
        if !path.exists() || name.ends_with(".pcapng") {
            continue;
        }
        let out = std::process::Command::new("tshark")
            .args(["-r"])
            .arg(&path)
            .args([
                "-Y",
                "http.request",
                "-T",
                "fields",
                "-e",
                "http.request.method",
                "-e",
                "http.host",
                "-e",
                "http.request.uri",
            ])
            .output()
            .unwrap();
        let mut want: Vec<String> = String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(|l| l.to_lowercase())
            .collect();
        let rec = svcheck::run_capture(&path, &ProtoConfig::default());
        let mut got: Vec<String> = rec
            .records
            .iter()
            .filter(|(_, r)| r.event_type == "http")
            .map(|(_, r)| {
                let b = &r.body;
                format!(
                    "{}\t{}\t{}",
                    b["http_method"].as_str().unwrap_or(""),
                    b["hostname"].as_str().unwrap_or(""),
                    b["url"].as_str().unwrap_or("")
                )
                .to_lowercase()
            })
            .collect();
        want.sort();
        got.sort();
        assert_eq!(got, want, "{name}: requests differ from tshark");
        let out = std::process::Command::new("tshark")
            .args(["-r"])
            .arg(&path)
            .args([
                "-Y",
                "http.response",
                "-T",
                "fields",
                "-e",
                "http.response.code",
            ])
            .output()
            .unwrap();
        let mut want: Vec<String> = String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(String::from)
            .collect();
        // tshark cannot dissect a response whose segments were lost; we keep
        // sync through Content-Length and still report it. Allow one extra
        // status per stream with lost segments, no other difference.
        let lost = std::process::Command::new("tshark")
            .args(["-r"])
            .arg(&path)
            .args([
                "-Y",
                "tcp.analysis.lost_segment",
                "-T",
                "fields",
                "-e",
                "tcp.stream",
            ])
            .output()
            .unwrap();
        let mut lost_streams: Vec<String> = String::from_utf8_lossy(&lost.stdout)
            .lines()
            .map(String::from)
            .collect();
        lost_streams.sort();
        lost_streams.dedup();
        let mut got: Vec<String> = rec
            .records
            .iter()
            .filter(|(_, r)| r.event_type == "http" && r.body.get("status").is_some())
            .map(|(_, r)| r.body["status"].to_string())
            .collect();
        want.sort();
        got.sort();
        let mut extra = got.clone();
        for w in &want {
            let i = extra
                .iter()
                .position(|g| g == w)
                .unwrap_or_else(|| panic!("{name}: tshark status {w} not found"));
            extra.remove(i);
        }
        assert!(
            extra.len() <= lost_streams.len(),
            "{name}: extra statuses {extra:?}"
        );
    }
}

/// Prints our EVE lines for the suricata-verify test named by `SV_DEBUG`.
#[test]
fn sv_debug_dump() {
    let (Some(shared), Ok(name)) = (pcapkit::shared_dir(), std::env::var("SV_DEBUG")) else {
        return;
    };
    let dir = shared.join("suricata-verify/tests").join(&name);
    let pcap = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|x| x == "pcap"))
        .unwrap();
    let pkts = pcapkit::read_pcap(&pcap);
    for c in pcapkit::conversations(&pkts) {
        println!(
            "conv {} items={} pick={:?}",
            c.key,
            c.items.len(),
            svcheck::pick(&c)
        );
    }
    let rec = svcheck::run_capture(&pcap, &ProtoConfig::default());
    for l in rec.eve() {
        println!("{l}");
    }
}

#[test]
fn partial_content_is_not_a_complete_file() {
    let part = b"MZ\x90\x00partial";
    let head = |range: &str| {
        format!(
            "HTTP/1.1 206 Partial Content\r\nContent-Range: {range}\r\nContent-Length: {}\r\n\r\n",
            part.len()
        )
    };
    for (range, complete) in [("bytes 0-10/5000", false), ("bytes 0-10/11", true)] {
        let h = head(range);
        let r = run(
            &HttpConfig::default(),
            &[
                (
                    Direction::ToServer,
                    b"GET /x.exe HTTP/1.1\r\nRange: bytes=0-10\r\n\r\n",
                ),
                (Direction::ToClient, h.as_bytes()),
                (Direction::ToClient, part),
            ],
        );
        let f = r
            .events
            .iter()
            .find_map(|(_, _, e)| match e {
                AppEvent::File(f) => Some(f.clone()),
                _ => None,
            })
            .unwrap();
        assert_eq!(f.complete, complete, "{range}");
        assert_eq!(f.magic, FileMagic::Pe);
        let h = &http_records(&r)[0];
        assert_eq!(h["content_range"]["size"], if complete { 11 } else { 5000 });
    }
}

#[test]
fn a_request_line_split_while_earlier_responses_flow_is_not_cut() {
    // Pipelined requests; the third request line is split after "GE" and the
    // server answers the first two before the client sends the rest.
    let r = run(
        &HttpConfig::default(),
        &[
            (
                Direction::ToServer,
                b"GET /a HTTP/1.1\r\nHost: h\r\n\r\nGET /b HTTP/1.1\r\nHost: h\r\n\r\nGE",
            ),
            (
                Direction::ToClient,
                b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n",
            ),
            (
                Direction::ToClient,
                b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n",
            ),
            (Direction::ToServer, b"T /c HTTP/1.1\r\nHost: h\r\n\r\n"),
            (
                Direction::ToClient,
                b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
            ),
        ],
    );
    let got: Vec<(String, String, Option<u64>)> = http_records(&r)
        .iter()
        .map(|h| {
            (
                h["http_method"].as_str().unwrap_or("").to_string(),
                h["url"].as_str().unwrap_or("").to_string(),
                h["status"].as_u64(),
            )
        })
        .collect();
    assert_eq!(
        got,
        vec![
            ("GET".into(), "/a".into(), Some(404)),
            ("GET".into(), "/b".into(), Some(404)),
            ("GET".into(), "/c".into(), Some(200)),
        ]
    );
}

#[test]
fn a_status_line_answering_a_protocol_less_request_is_parsed() {
    // Garbage without a protocol (HTTP/0.9 shape); the server answers in 1.1.
    let r = run(
        &HttpConfig::default(),
        &[
            (Direction::ToServer, b"1026.8 !34\x11\"3DUf.21"),
            (
                Direction::ToClient,
                b"HTTP/1.1 400 Bad Request\r\nContent-Length: 5\r\nConnection: close\r\n\r\nerror",
            ),
        ],
    );
    let h = &http_records(&r)[0];
    assert_eq!(h["status"], 400);
    assert_eq!(h["length"], 5);
    // A real HTTP/0.9 answer (no status line) is still all body.
    let r = run(
        &HttpConfig::default(),
        &[
            (Direction::ToServer, b"GET /old\r\n\r\n"),
            (Direction::ToClient, b"<html>hello</html>"),
        ],
    );
    let h = &http_records(&r)[0];
    assert!(h.get("status").is_none());
    assert_eq!(h["length"], 18);
}
