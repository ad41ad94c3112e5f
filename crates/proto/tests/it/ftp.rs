//! FTP control and data parsers: suricata-verify expectations, the EVE `ftp`
//! record of a real session, data-connection announcements, files on data
//! connections (checked against tshark's reassembly), robustness.

use super::http::Rng;
use super::pcapkit::{self, Recorded, ctx_for};
use super::svcheck;
use sha2::{Digest, Sha256};
use stormwatch_model::{
    AppEvent, BufferId, Direction, FileMagic, FlowKey, FtpEvent, IpProto, StreamData, Timestamp,
};
use stormwatch_proto::ProtoConfig;
use stormwatch_proto::api::StreamParser;
use stormwatch_proto::ftp::{FtpConfig, FtpDataParser, FtpParser};

fn key() -> FlowKey {
    FlowKey {
        src: "192.168.1.182".parse().unwrap(),
        dst: "192.168.1.231".parse().unwrap(),
        src_port: 62014,
        dst_port: 21,
        proto: IpProto::TCP,
        vlan: [0, 0],
    }
}

fn run(cfg: &FtpConfig, pieces: &[(Direction, &[u8])]) -> Recorded {
    let mut p = FtpParser::with_config(cfg.clone());
    let mut sink = Recorded::default();
    for (i, (d, b)) in pieces.iter().enumerate() {
        sink.cur = i as u64 + 1;
        p.parse(
            &ctx_for(1, key(), Timestamp::ZERO, *d),
            StreamData::Bytes(b),
            &mut sink,
        );
    }
    p.close(
        &ctx_for(1, key(), Timestamp::ZERO, Direction::ToServer),
        &mut sink,
    );
    sink
}

/// The control session of suricata-verify ftp-epsv.
fn epsv_session() -> Vec<(Direction, &'static [u8])> {
    use Direction::*;
    vec![
        (
            ToClient,
            b"220 ProFTPD 1.3.0a Server (ProFTPD Anonymous Server) [192.168.1.231]\r\n",
        ),
        (ToServer, b"USER ftp\r\n"),
        (
            ToClient,
            b"331 Anonymous login ok, send your complete email address as your password.\r\n",
        ),
        (ToServer, b"PASS ftp\r\n"),
        (
            ToClient,
            b"230 Anonymous access granted, restrictions apply.\r\n",
        ),
        (ToServer, b"FEAT\r\n"),
        (
            ToClient,
            b"211-Features:\r\n MDTM\r\n REST STREAM\r\n SIZE\r\n",
        ),
        (ToClient, b"211 End\r\n"),
        (ToServer, b"EPSV\r\n"),
        (
            ToClient,
            b"229 Entering Extended Passive Mode (|||58612|)\r\n",
        ),
        (ToServer, b"LIST\r\n"),
        (
            ToClient,
            b"150 Opening ASCII mode data connection for file list\r\n",
        ),
        (ToClient, b"226 Transfer complete.\r\n"),
    ]
}

#[test]
fn eve_ftp_records_of_a_real_session() {
    let r = run(&FtpConfig::default(), &epsv_session());
    let recs: Vec<_> = r.records.iter().map(|(_, x)| &x.body).collect();
    assert_eq!(recs.len(), 6, "greeting + 5 commands");
    assert!(recs[0].get("command").is_none());
    assert_eq!(recs[0]["completion_code"][0], "220");
    assert_eq!(recs[1]["command"], "USER");
    assert_eq!(recs[1]["command_data"], "ftp");
    assert_eq!(recs[1]["command_truncated"], false);
    assert_eq!(recs[1]["reply_received"], "yes");
    let feat = recs[3];
    assert_eq!(feat["completion_code"], serde_json::json!(["211", "211"]));
    assert_eq!(
        feat["reply"],
        serde_json::json!(["Features:", " MDTM", " REST STREAM", " SIZE", "End"])
    );
    assert_eq!(recs[4]["command"], "EPSV");
    assert_eq!(recs[4]["dynamic_port"], 58612);
    assert_eq!(
        recs[5]["completion_code"],
        serde_json::json!(["150", "226"])
    );
    let ids: Vec<_> = r.records.iter().map(|(_, x)| x.tx_id.unwrap()).collect();
    assert_eq!(ids, vec![0, 1, 2, 3, 4, 5]);
    let exp: Vec<_> = r
        .events
        .iter()
        .filter_map(|(_, _, e)| match e {
            AppEvent::Ftp(FtpEvent::DataExpected { addr, port }) => Some((addr.to_string(), *port)),
            _ => None,
        })
        .collect();
    assert_eq!(exp, vec![("192.168.1.231".to_string(), 58612)]);
    assert!(
        r.txs
            .iter()
            .any(|(_, t)| t.buffer(BufferId::FtpCommand) == Some(&b"EPSV"[..]))
    );
}

#[test]
fn port_and_pasv_announce_data_connections() {
    use Direction::*;
    let r = run(
        &FtpConfig::default(),
        &[
            (ToServer, b"PORT 192,168,0,13,234,10\r\n"),
            (ToClient, b"200 PORT command successful\r\n"),
            (ToServer, b"PASV\r\n"),
            (ToClient, b"227 Entering Passive Mode (2,2,2,2,185,13).\r\n"),
            (ToServer, b"EPRT |1|10.0.0.1|6275|\r\n"),
            (ToClient, b"200 ok\r\n"),
        ],
    );
    let exp: Vec<_> = r
        .events
        .iter()
        .filter_map(|(_, _, e)| match e {
            AppEvent::Ftp(FtpEvent::DataExpected { addr, port }) => Some((addr.to_string(), *port)),
            _ => None,
        })
        .collect();
    assert_eq!(
        exp,
        vec![
            ("192.168.0.13".into(), 59914),
            ("2.2.2.2".into(), 47373),
            ("10.0.0.1".into(), 6275)
        ]
    );
    assert_eq!(r.records[0].1.body["mode"], "active");
    assert_eq!(r.records[0].1.body["dynamic_port"], 59914);
    assert_eq!(r.records[1].1.body["dynamic_port"], 47373);
    assert!(r.records[1].1.body.get("mode").is_none());
}

#[test]
fn long_commands_are_cut_and_flagged() {
    use Direction::*;
    let long = format!("RETR {}\r\n", "A".repeat(42_000));
    let mut pieces: Vec<(Direction, &[u8])> = long
        .as_bytes()
        .chunks(1024)
        .map(|c| (ToServer, c))
        .collect();
    pieces.push((ToClient, b"550 Failed to open file.\r\n"));
    pieces.push((ToServer, b"RETR index.html\r\n"));
    pieces.push((ToClient, b"550 Failed to open file.\r\n"));
    let r = run(&FtpConfig::default(), &pieces);
    let recs: Vec<_> = r.records.iter().map(|(_, x)| &x.body).collect();
    assert_eq!(recs.len(), 2);
    assert_eq!(recs[0]["command_truncated"], true);
    assert_eq!(recs[0]["command_data"].as_str().unwrap().len(), 4091);
    assert_eq!(recs[1]["command_data"], "index.html");
    assert_eq!(recs[1]["command_truncated"], false);
}

#[test]
fn split_and_truncation() {
    let session = epsv_session();
    let ts: Vec<u8> = session
        .iter()
        .filter(|p| p.0 == Direction::ToServer)
        .flat_map(|p| p.1.to_vec())
        .collect();
    let tc: Vec<u8> = session
        .iter()
        .filter(|p| p.0 == Direction::ToClient)
        .flat_map(|p| p.1.to_vec())
        .collect();
    // Replies after commands (a server answering in turn), both split anywhere.
    let cfg = FtpConfig::default();
    let base = run(
        &cfg,
        &[(Direction::ToServer, &ts), (Direction::ToClient, &tc)],
    );
    let want = base.record_strings();
    assert_eq!(want.len(), 6);
    for i in 0..=ts.len() {
        let r = run(
            &cfg,
            &[
                (Direction::ToServer, &ts[..i]),
                (Direction::ToServer, &ts[i..]),
                (Direction::ToClient, &tc),
            ],
        );
        assert_eq!(r.record_strings(), want, "commands split at {i}");
    }
    for i in 0..=tc.len() {
        let r = run(
            &cfg,
            &[
                (Direction::ToServer, &ts),
                (Direction::ToClient, &tc[..i]),
                (Direction::ToClient, &tc[i..]),
            ],
        );
        assert_eq!(r.record_strings(), want, "replies split at {i}");
        let cut = run(
            &cfg,
            &[(Direction::ToServer, &ts), (Direction::ToClient, &tc[..i])],
        );
        assert!(cut.records.len() <= 6);
    }
}

#[test]
fn random_bytes_never_panic() {
    let mut rng = Rng(0xfeed_beef_1234_5678);
    let alpha: &[u8] = b"0123456789 -|(),.\r\nPORTPASVEPSVRETR227229";
    let all: Vec<u8> = (0..=255).collect();
    for round in 0..500 {
        let a: &[u8] = if round % 2 == 0 { alpha } else { &all };
        let n = (rng.next() % 500) as usize;
        let b = rng.bytes(n, a);
        let cfg = FtpConfig {
            max_line_bytes: 32,
            max_open_txs: 3,
            max_reply_lines: 2,
            ..FtpConfig::default()
        };
        let mut p = FtpParser::with_config(cfg);
        let mut sink = Recorded::default();
        for (i, c) in b.chunks(13).enumerate() {
            let d = if i % 2 == 0 {
                Direction::ToServer
            } else {
                Direction::ToClient
            };
            let data = if i % 7 == 6 {
                StreamData::Gap(5)
            } else {
                StreamData::Bytes(c)
            };
            p.parse(&ctx_for(1, key(), Timestamp::ZERO, d), data, &mut sink);
        }
        p.close(
            &ctx_for(1, key(), Timestamp::ZERO, Direction::ToServer),
            &mut sink,
        );
        let mut d = FtpDataParser::new(&ProtoConfig::default());
        d.parse(
            &ctx_for(2, key(), Timestamp::ZERO, Direction::ToClient),
            StreamData::Bytes(&b),
            &mut sink,
        );
        d.close(
            &ctx_for(2, key(), Timestamp::ZERO, Direction::ToClient),
            &mut sink,
        );
    }
}

#[test]
fn data_connection_file() {
    let cfg = ProtoConfig::default();
    let mut p = FtpDataParser::with_context(&cfg, Some("RETR"), Some("NOTEPAD.EXE"));
    let mut sink = Recorded::default();
    let mut pe = vec![0u8; 5000];
    pe[..2].copy_from_slice(b"MZ");
    pe[0x3c] = 0xe0;
    pe[0xe0..0xe4].copy_from_slice(b"PE\0\0");
    for c in pe.chunks(1000) {
        p.parse(
            &ctx_for(2, key(), Timestamp::ZERO, Direction::ToClient),
            StreamData::Bytes(c),
            &mut sink,
        );
    }
    p.close(
        &ctx_for(2, key(), Timestamp::ZERO, Direction::ToClient),
        &mut sink,
    );
    let f = sink
        .events
        .iter()
        .find_map(|(_, _, e)| match e {
            AppEvent::File(f) => Some(f.clone()),
            _ => None,
        })
        .unwrap();
    assert_eq!(f.magic, FileMagic::Pe);
    assert_eq!(f.name.as_deref(), Some("NOTEPAD.EXE"));
    assert_eq!(f.size, 5000);
    assert!(f.complete);
    assert_eq!(f.sha256.unwrap(), format!("{:x}", Sha256::digest(&pe)));
    assert!(
        sink.records
            .iter()
            .any(|(_, r)| r.event_type == "ftp_data" && r.body["filename"] == "NOTEPAD.EXE")
    );
    assert!(
        sink.records
            .iter()
            .any(|(_, r)| r.event_type == "fileinfo" && r.body["state"] == "CLOSED")
    );
}

#[test]
fn suricata_verify_ftp_checks() {
    let Some(shared) = pcapkit::shared_dir() else {
        println!("skipped: shared data not found");
        return;
    };
    let mut bad = Vec::new();
    for t in [
        "ftp-epsv",
        "ftp/ftp-too-long-command-buffered",
        "ftp/ftp-too-long-command-first",
    ] {
        let o = svcheck::run_test(&shared.join("suricata-verify/tests").join(t));
        println!("{:<45} {}/{} checks", t, o.passed, o.evaluated);
        for (c, got) in &o.failures {
            println!("    FAIL ({got} lines): {c}");
        }
        if !o.failures.is_empty() || o.evaluated == 0 {
            bad.push(t);
        }
    }
    assert!(bad.is_empty(), "failing: {bad:?}");
}

/// The PE downloads of zeek-pe-pe.pcap (anonymous FTP, passive mode): every data
/// connection's file has the SHA-256 of tshark's reassembled stream, the files
/// named by RETR are PE, and the commands equal tshark's.
#[test]
fn corpus_ftp_pe_downloads_match_tshark() {
    let Some(shared) = pcapkit::shared_dir() else {
        println!("skipped: shared data not found");
        return;
    };
    let path = shared.join("corpus/zeek-pe-pe.pcap");
    if !path.exists() {
        println!("skipped: zeek-pe-pe.pcap not in corpus");
        return;
    }
    if std::process::Command::new("tshark")
        .arg("-v")
        .output()
        .is_err()
    {
        println!("skipped: tshark not installed");
        return;
    }
    let rec = svcheck::run_capture(&path, &ProtoConfig::default());
    let files: Vec<_> = rec
        .events
        .iter()
        .filter_map(|(_, _, e)| match e {
            AppEvent::File(f) => Some(f.clone()),
            _ => None,
        })
        .collect();
    let retr: Vec<_> = files
        .iter()
        .filter(|f| {
            f.name
                .as_deref()
                .is_some_and(|n| n.ends_with(".EXE") || n.ends_with(".DLL") || n.ends_with(".exe"))
        })
        .collect();
    assert!(retr.len() >= 3, "{files:?}");
    for f in &retr {
        assert_eq!(f.magic, FileMagic::Pe, "{f:?}");
        assert!(f.complete, "{f:?}");
    }
    // tshark's data streams (tcp.stream of each data connection): hash them.
    let out = std::process::Command::new("tshark")
        .arg("-r")
        .arg(&path)
        .args(["-Y", "ftp-data", "-T", "fields", "-e", "tcp.stream"])
        .output()
        .unwrap();
    let mut streams: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(String::from)
        .collect();
    streams.sort();
    streams.dedup();
    let mut want = Vec::new();
    for s in &streams {
        let out = std::process::Command::new("tshark")
            .arg("-r")
            .arg(&path)
            .args(["-qz", &format!("follow,tcp,raw,{s}")])
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        let mut bytes = Vec::new();
        for l in text.lines() {
            let l = l.trim();
            if l.is_empty() || !l.bytes().all(|c| c.is_ascii_hexdigit()) {
                continue;
            }
            bytes.extend(
                (0..l.len())
                    .step_by(2)
                    .map(|i| u8::from_str_radix(&l[i..i + 2], 16).unwrap()),
            );
        }
        if bytes.starts_with(b"MZ") {
            want.push(format!("{:x}", Sha256::digest(&bytes)));
        }
    }
    let mut got: Vec<String> = files
        .iter()
        .filter(|f| f.magic == FileMagic::Pe)
        .filter_map(|f| f.sha256.clone())
        .collect();
    want.sort();
    got.sort();
    assert_eq!(got, want);
    // Commands and arguments equal tshark's.
    let out = std::process::Command::new("tshark")
        .arg("-r")
        .arg(&path)
        .args([
            "-Y",
            "ftp.request",
            "-T",
            "fields",
            "-e",
            "ftp.request.command",
            "-e",
            "ftp.request.arg",
        ])
        .output()
        .unwrap();
    // (ftp.request is also present, false, on replies: skip their empty lines.)
    let want: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| *l != "\t")
        .map(String::from)
        .collect();
    let got: Vec<String> = rec
        .records
        .iter()
        .filter(|(_, r)| r.event_type == "ftp" && r.body.get("command").is_some())
        .map(|(_, r)| {
            format!(
                "{}\t{}",
                r.body["command"].as_str().unwrap(),
                r.body["command_data"].as_str().unwrap_or("")
            )
        })
        .collect();
    assert_eq!(got, want);
}
