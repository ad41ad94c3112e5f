//! SMTP parser: suricata-verify expectations (envelopes, pipelining, resets,
//! BDAT, STARTTLS, MIME `email` objects), robustness.

use super::http::Rng;
use super::pcapkit::{self, Recorded, ctx_for};
use super::svcheck;
use stormwatch_model::{
    AppEvent, AppProto, BufferId, Direction, FlowKey, IpProto, StreamData, Timestamp,
};
use stormwatch_proto::api::{ParseStatus, StreamParser};
use stormwatch_proto::smtp::{SmtpConfig, SmtpParser};

fn key() -> FlowKey {
    FlowKey {
        src: "127.0.0.1".parse().unwrap(),
        dst: "127.0.0.2".parse().unwrap(),
        src_port: 39202,
        dst_port: 25,
        proto: IpProto::TCP,
        vlan: [0, 0],
    }
}

fn run(cfg: &SmtpConfig, pieces: &[(Direction, &[u8])]) -> Recorded {
    let mut p = SmtpParser::with_config(cfg.clone());
    let mut sink = Recorded::default();
    for (i, (d, b)) in pieces.iter().enumerate() {
        sink.cur = i as u64 + 1;
        let st = p.parse(
            &ctx_for(1, key(), Timestamp::ZERO, *d),
            StreamData::Bytes(b),
            &mut sink,
        );
        if let ParseStatus::Upgrade(a) = st {
            sink.upgrades.push((sink.cur, a));
            break;
        }
    }
    p.close(
        &ctx_for(1, key(), Timestamp::ZERO, Direction::ToServer),
        &mut sink,
    );
    sink
}

/// The dialogue of suricata-verify mime-dec-parse-line-test02.
fn mime_session() -> Vec<(Direction, &'static [u8])> {
    use Direction::*;
    vec![
        (ToClient, b"220 linuxbox SMTP ready\r\n"),
        (ToServer, b"HELO linuxbox\r\n"),
        (ToClient, b"250 OK\r\n"),
        (ToServer, b"MAIL FROM:<toto@gmail.com>\r\n"),
        (ToClient, b"250 OK\r\n"),
        (ToServer, b"RCPT TO:<172.16.92.2@linuxbox>\r\n"),
        (ToClient, b"250 OK\r\n"),
        (ToServer, b"DATA\r\n"),
        (ToClient, b"354 start mail input -- end with <CRLF>.<CRLF>\r\n"),
        (
            ToServer,
            b"Date: Fri, 21 Apr 2023 05:10:36 +0000\r\nFrom: toto <toto@gmail.com>\r\nTo: 172.16.92.2@linuxbox\r\nSubject: This is a test email\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"+JkeulXSMdZ4oEDQ\"\r\nContent-Disposition: inline\r\n\r\n\r\n--+JkeulXSMdZ4oEDQ\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Disposition: inline\r\n\r\nThis is a test email\r\n\r\n--+JkeulXSMdZ4oEDQ\r\nFrom: Sender1\r\nTo: Recipient1\r\nContent-Type: text/plain\r\n\r\nA simple message line 1\r\nA simple message line 2 click on http://www.test.com/malware.exe?hahah hopefully you click this link\r\n\r\n--+JkeulXSMdZ4oEDQ--\r\n\r\n.\r\n",
        ),
        (ToClient, b"250 OK\r\n"),
        (ToServer, b"QUIT\r\n"),
        (ToClient, b"221 OK\r\n"),
    ]
}

#[test]
fn eve_smtp_and_email_of_a_message() {
    let cfg = SmtpConfig {
        extended: true,
        ..SmtpConfig::default()
    };
    let r = run(&cfg, &mime_session());
    assert_eq!(
        r.records.len(),
        1,
        "QUIT after a finished message starts no transaction"
    );
    let rec = &r.records[0].1;
    assert_eq!(rec.tx_id, Some(0));
    assert_eq!(rec.body["helo"], "linuxbox");
    assert_eq!(rec.body["mail_from"], "<toto@gmail.com>");
    assert_eq!(rec.body["rcpt_to"][0], "<172.16.92.2@linuxbox>");
    let e = &rec.extra["email"];
    assert_eq!(e["status"], "PARSE_DONE");
    assert_eq!(e["from"], "toto <toto@gmail.com>");
    assert_eq!(e["to"][0], "172.16.92.2@linuxbox");
    assert_eq!(e["subject"], "This is a test email");
    assert_eq!(e["url"][0], "www.test.com/malware.exe?hahah");
    // Complete when the server accepted the message (piece 11), logged when
    // the client next speaks (piece 12), as Suricata 8.0.7+ does.
    assert_eq!(r.records[0].0, 12);
    let t = &r.txs.last().unwrap().1;
    assert_eq!(t.buffer(BufferId::SmtpHelo), Some(&b"linuxbox"[..]));
    assert_eq!(
        t.buffer(BufferId::SmtpMailFrom),
        Some(&b"<toto@gmail.com>"[..])
    );
    assert_eq!(
        t.buffer(BufferId::SmtpRcptTo),
        Some(&b"<172.16.92.2@linuxbox>"[..])
    );
    assert!(r.anomalies.is_empty());
}

#[test]
fn starttls_upgrades_to_tls() {
    use Direction::*;
    let r = run(
        &SmtpConfig::default(),
        &[
            (ToClient, b"220 mail ESMTP\r\n"),
            (ToServer, b"EHLO a\r\n"),
            (ToClient, b"250-mail\r\n250 STARTTLS\r\n"),
            (ToServer, b"STARTTLS\r\n"),
            (ToClient, b"220 go ahead\r\n"),
            (ToServer, b"\x16\x03\x01\x00\x05hello"),
        ],
    );
    assert_eq!(r.upgrades, vec![(5, AppProto::Tls)]);
    assert_eq!(r.records.len(), 1);
    let starttls = r
        .events
        .iter()
        .any(|(_, _, e)| matches!(e, AppEvent::Smtp(s) if s.starttls));
    assert!(starttls);
    // A refused STARTTLS is an anomaly and no upgrade.
    let r = run(
        &SmtpConfig::default(),
        &[
            (ToServer, b"EHLO a\r\nSTARTTLS\r\n"),
            (ToClient, b"220 x ESMTP\r\n250 ok\r\n454 not now\r\n"),
        ],
    );
    assert!(r.upgrades.is_empty());
    assert!(
        r.anomalies
            .iter()
            .any(|(_, a)| a.event == "FAILED_PROTOCOL_CHANGE")
    );
}

#[test]
fn bdat_chunks_and_resets() {
    use Direction::*;
    let (c1, c2) = ("From: a@x\r\nTo: b@", "x\r\n\r\nhi there\r\n");
    let first = format!(
        "MAIL FROM:<a@x>\r\nRCPT TO:<b@x>\r\nBDAT {}\r\n{c1}",
        c1.len()
    );
    let second = format!("BDAT {} LAST\r\n{c2}", c2.len());
    let r = run(
        &SmtpConfig::default(),
        &[
            (ToClient, b"220 x ESMTP\r\n"),
            (ToServer, b"EHLO c\r\n"),
            (ToClient, b"250-x\r\n250 CHUNKING\r\n"),
            (ToServer, first.as_bytes()),
            (ToServer, second.as_bytes()),
            (ToClient, b"250 ok\r\n250 ok\r\n250 ok\r\n250 ok\r\n"),
            (
                ToServer,
                b"MAIL FROM:<c@x>\r\nBDAT 0 LAST\r\nRSET\r\nMAIL FROM:<d@x>\r\n",
            ),
        ],
    );
    let recs: Vec<_> = r.records.iter().map(|(_, x)| x).collect();
    assert_eq!(recs.len(), 3, "{recs:?}");
    assert_eq!(recs[0].body["mail_from"], "<a@x>");
    assert_eq!(recs[0].extra["email"]["to"][0], "b@x");
    assert_eq!(recs[0].extra["email"]["status"], "PARSE_DONE");
    assert_eq!(recs[1].body["mail_from"], "<c@x>");
    assert_eq!(recs[2].body["mail_from"], "<d@x>");
    assert!(r.anomalies.is_empty(), "{:?}", r.anomalies);
}

fn flat(session: &[(Direction, &[u8])], dir: Direction) -> Vec<u8> {
    session
        .iter()
        .filter(|p| p.0 == dir)
        .flat_map(|p| p.1.to_vec())
        .collect()
}

#[test]
fn split_at_every_offset_gives_the_same_records() {
    let s = mime_session();
    let cfg = SmtpConfig::default();
    let want = run(&cfg, &s).record_strings();
    // Split any one piece of the dialogue at every offset.
    for (k, (d, b)) in s.iter().enumerate() {
        for i in 0..=b.len() {
            let mut pieces = s[..k].to_vec();
            pieces.push((*d, &b[..i]));
            pieces.push((*d, &b[i..]));
            pieces.extend_from_slice(&s[k + 1..]);
            assert_eq!(
                run(&cfg, &pieces).record_strings(),
                want,
                "piece {k} split at {i}"
            );
        }
    }
}

#[test]
fn truncation_never_panics() {
    let s = mime_session();
    let ts = flat(&s, Direction::ToServer);
    let tc = flat(&s, Direction::ToClient);
    let cfg = SmtpConfig::default();
    for i in 0..=ts.len() {
        let r = run(
            &cfg,
            &[(Direction::ToClient, &tc), (Direction::ToServer, &ts[..i])],
        );
        assert!(r.records.len() <= 2);
    }
}

#[test]
fn random_bytes_never_panic() {
    let mut rng = Rng(0x5eed_0000_c0ff_ee11);
    let alpha: &[u8] = b"EHLO MAIL FROM:<> RCPT TO: DATA BDAT 12 LAST RSET STARTTLS\r\n.354 250 220-\r\n--b Content-Type: multipart/mixed; boundary=b";
    let all: Vec<u8> = (0..=255).collect();
    for round in 0..500 {
        let a: &[u8] = if round % 2 == 0 { alpha } else { &all };
        let n = (rng.next() % 800) as usize;
        let b = rng.bytes(n, a);
        let cfg = SmtpConfig {
            max_line_bytes: 40,
            max_rcpt: 2,
            max_pending_commands: 3,
            max_open_txs: 2,
            ..SmtpConfig::default()
        };
        let mut p = SmtpParser::with_config(cfg);
        let mut sink = Recorded::default();
        for (i, c) in b.chunks(17).enumerate() {
            let d = if i % 3 == 2 {
                Direction::ToClient
            } else {
                Direction::ToServer
            };
            let data = if i % 13 == 12 {
                StreamData::Gap(4)
            } else {
                StreamData::Bytes(c)
            };
            let _ = p.parse(&ctx_for(1, key(), Timestamp::ZERO, d), data, &mut sink);
        }
        p.close(
            &ctx_for(1, key(), Timestamp::ZERO, Direction::ToServer),
            &mut sink,
        );
    }
}

#[test]
fn suricata_verify_smtp_checks() {
    let Some(shared) = pcapkit::shared_dir() else {
        println!("skipped: shared data not found");
        return;
    };
    let mut bad = Vec::new();
    for t in [
        "mime/mime-dec-parse-full-msg-test02",
        "mime/mime-dec-parse-line-test02",
        "mime/mime-dec-parse-small-rem-inp",
        "smtp-bdat-multichunk-next-mail",
        "smtp-bdat-zero-last-next-mail",
        "smtp-ehlo-reset",
        "smtp-ehlo-reset-after-rejected-data",
        "smtp-helo-reset-after-rcpt",
        "smtp-long-command",
        "smtp-pipelined-post-data-rset-sequence",
        "smtp-pipelined-rset-after-complete",
        "smtp-pipelined-rset-data-replies",
        "smtp-pipelining",
        "smtp-rset-starttls",
        "smtp-to-comma",
    ] {
        let o = svcheck::run_test(&shared.join("suricata-verify/tests").join(t));
        println!("{:<45} {}/{} checks", t, o.passed, o.evaluated);
        for (c, got) in &o.failures {
            println!("    FAIL ({got} lines): {}", &c[..c.len().min(300)]);
        }
        if !o.failures.is_empty() || o.evaluated == 0 {
            bad.push(t);
        }
    }
    assert!(bad.is_empty(), "failing: {bad:?}");
}
