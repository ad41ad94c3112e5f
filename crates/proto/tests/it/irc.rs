//! IRC: corpus captures (a 2004 bot, human sessions, odd whitespace, DCC,
//! STARTTLS), tshark as oracle for commands and parameters, masquerade, and
//! the parser's robustness (splits, truncation, over-long lines, random bytes).

use crate::ident::{self, conv, key, run_convs};
use crate::pcapkit;
use std::process::Command;
use stormwatch_model::{AppEvent, AppProto, BufferId, Direction, IrcEvent};
use stormwatch_proto::ProtoConfig;
use stormwatch_proto::irc::parser::parse_irc_line;

fn irc_events(sink: &pcapkit::Recorded) -> Vec<(Direction, IrcEvent)> {
    sink.events
        .iter()
        .filter_map(|(_, c, e)| match e {
            AppEvent::Irc(i) => Some((c.dir, i.clone())),
            _ => None,
        })
        .collect()
}

#[test]
fn bot_session_2004() {
    let Some(p) = ident::corpus("suricata-verify-irc-input.pcap") else {
        println!("skipped: shared data not found");
        return;
    };
    let (sink, flows) = ident::run_capture(&p, ProtoConfig::default());
    assert_eq!(flows.len(), 1);
    assert_eq!(flows[0].proto, AppProto::Irc);
    assert!(!flows[0].masquerade, "IRC on 6667 is not a masquerade");
    assert!(sink.anomalies.is_empty(), "{:?}", sink.anomalies);
    let ev = irc_events(&sink);
    let last = &ev.last().unwrap().1;
    assert_eq!(last.nick.as_deref(), Some("damn-0262937047"));
    assert!(
        last.channels
            .contains(&("#sl0w3r".to_string(), Some("l03dx".to_string()))),
        "{:?}",
        last.channels
    );
    // The topic carrying the bot's scan order (numeric 332).
    assert!(ev.iter().any(|(d, e)| *d == Direction::ToClient
        && e.msg.command == "332"
        && e.msg.params.iter().any(|p| p.contains(".advscan dcom135"))));
    // EVE records: one per message, MOTD-like numerics left out.
    let rec = sink
        .records
        .iter()
        .find(|(_, r)| {
            r.event_type == "irc"
                && r.body["command"] == "JOIN"
                && r.body["direction"] == "to_server"
        })
        .expect("a JOIN record");
    assert_eq!(rec.1.body["params"][0], "#sl0w3r");
    assert_eq!(rec.1.body["params"][1], "l03dx");
    assert_eq!(rec.1.body["channel"], "#sl0w3r");
    assert_eq!(rec.1.body["nick"], "damn-0262937047");
    assert_eq!(rec.1.body["direction"], "to_server");
    // Buffers for rules.
    assert!(sink.txs.iter().any(|(_, t)| {
        t.buffer(BufferId::IrcCommand) == Some(b"JOIN")
            && t.buffer(BufferId::IrcChannel) == Some(b"#sl0w3r")
            && t.buffer(BufferId::IrcNick) == Some(b"damn-0262937047")
            && t.buffer(BufferId::IrcParams) == Some(b"#sl0w3r l03dx")
    }));
}

/// Our to-server commands and parameters equal tshark's
/// `irc.request.command`, `irc.request.command_parameter` and
/// `irc.request.trailer`, in order.
#[test]
fn tshark_oracle_requests() {
    let files = [
        "suricata-verify-irc-input.pcap",
        "zeek-irc-basic.pcap",
        "zeek-irc-more-commands.pcap",
        "zeek-irc-whitespace.pcap",
        "protocoldetector-irc.pcap",
    ];
    let tshark = Command::new("tshark").arg("-v").output().is_ok();
    for f in files {
        let Some(p) = ident::corpus(f) else {
            println!("skipped: shared data not found");
            return;
        };
        if !tshark {
            println!("skipped: tshark not found");
            return;
        }
        let convs = pcapkit::conversations(&pcapkit::read_pcap(&p));
        let (mut o_cmd, mut o_par, mut o_tr) = (vec![], vec![], vec![]);
        let (mut t_cmd, mut t_par, mut t_tr) = (vec![], vec![], vec![]);
        for (stream, c) in convs.iter().enumerate() {
            if c.key.proto != stormwatch_model::IpProto::TCP {
                continue;
            }
            let filter = format!("irc.request && tcp.stream=={stream}");
            let out = Command::new("tshark")
                .args(["-r"])
                .arg(&p)
                .args(["-Y", &filter, "-T", "fields", "-E", "aggregator=\u{1f}"])
                .args([
                    "-e",
                    "irc.request.command",
                    "-e",
                    "irc.request.command_parameter",
                ])
                .args(["-e", "irc.request.trailer"])
                .output()
                .unwrap();
            let text = String::from_utf8_lossy(&out.stdout);
            for line in text.lines() {
                let cols: Vec<&str> = line.split('\t').collect();
                let split = |i: usize| -> Vec<String> {
                    cols.get(i)
                        .filter(|s| !s.is_empty())
                        .map(|s| s.split('\u{1f}').map(String::from).collect())
                        .unwrap_or_default()
                };
                t_cmd.extend(split(0).into_iter().map(|c| c.to_ascii_uppercase()));
                t_par.extend(split(1));
                t_tr.extend(split(2).into_iter().filter(|s| !s.is_empty()));
            }
            let (sink, _) = run_convs(std::slice::from_ref(c), ProtoConfig::default());
            for (_, t) in &sink.txs {
                if t.proto != AppProto::Irc || t.dir != Some(Direction::ToServer) {
                    continue;
                }
                let cmd = t.buffer(BufferId::IrcCommand).unwrap();
                o_cmd.push(String::from_utf8_lossy(cmd).to_ascii_uppercase());
                let mut line = b"X ".to_vec();
                line.extend_from_slice(t.buffer(BufferId::IrcParams).unwrap_or(b""));
                let m = parse_irc_line(&line).unwrap();
                let n = m.params().len();
                for (i, p) in m.params().iter().enumerate() {
                    let s = String::from_utf8_lossy(p).into_owned();
                    if i + 1 == n && m.has_trailing {
                        if !s.is_empty() {
                            o_tr.push(s);
                        }
                    } else {
                        o_par.push(s);
                    }
                }
            }
        }
        assert!(!o_cmd.is_empty(), "{f}");
        assert_eq!(o_cmd, t_cmd, "{f}: commands");
        assert_eq!(o_par, t_par, "{f}: parameters");
        assert_eq!(o_tr, t_tr, "{f}: trailers");
    }
}

#[test]
fn whitespace_tolerated() {
    let Some(p) = ident::corpus("zeek-irc-whitespace.pcap") else {
        println!("skipped: shared data not found");
        return;
    };
    let (sink, flows) = ident::run_capture(&p, ProtoConfig::default());
    assert_eq!(flows[0].proto, AppProto::Irc);
    let ev = irc_events(&sink);
    let user = ev.iter().find(|(_, e)| e.msg.command == "USER").unwrap();
    assert_eq!(user.1.msg.params, ["brotest", "*", "*", "*", "*", "*"]);
    assert!(
        ev.iter()
            .any(|(_, e)| e.msg.command == "NICK" && e.nick.as_deref() == Some("brotest"))
    );
}

#[test]
fn starttls_upgrades_to_tls_without_pct_noise() {
    let Some(p) = ident::corpus("zeek-tls-irc-starttls.pcap") else {
        println!("skipped: shared data not found");
        return;
    };
    let (sink, flows) = ident::run_capture(&p, ProtoConfig::default());
    assert_eq!(flows[0].orig, AppProto::Irc);
    assert_eq!(flows[0].proto, AppProto::Tls);
    assert!(
        !sink
            .anomalies
            .iter()
            .any(|(_, a)| a.event.starts_with("pct.")),
        "{:?}",
        sink.anomalies
    );
    assert!(sink.records.iter().any(|(_, r)| r.event_type == "tls"));
}

/// DCC SEND in the 32-bit decimal address form, and the announced transfer
/// connection identified from the offer.
#[test]
fn dcc_send_links_the_data_connection() {
    let Some(src) = ident::corpus("zeek-irc-dcc-send.pcapng") else {
        println!("skipped: shared data not found");
        return;
    };
    let dir = std::env::temp_dir().join(format!("proto-a-dcc-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let pcap = dir.join("dcc.pcap");
    let ok = Command::new("tshark")
        .arg("-r")
        .arg(&src)
        .args(["-F", "pcap", "-w"])
        .arg(&pcap)
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        println!("skipped: tshark not found (needed to read pcapng)");
        return;
    }
    let (sink, flows) = ident::run_capture(&pcap, ProtoConfig::default());
    let _ = std::fs::remove_dir_all(&dir);
    let offer = irc_events(&sink)
        .into_iter()
        .find_map(|(_, e)| e.ctcp.and_then(|c| c.dcc))
        .expect("a DCC offer");
    assert_eq!(offer.kind, "SEND");
    assert_eq!(offer.argument, "ssh.trace");
    assert_eq!(offer.addr, Some("10.0.0.7".parse().unwrap()));
    assert_eq!(offer.port, 59130);
    assert_eq!(offer.size, Some(1_320_211));
    let data = flows
        .iter()
        .find(|f| f.key.dst_port == 59130 || f.key.src_port == 59130)
        .expect("the DCC transfer flow");
    assert_eq!(data.proto, AppProto::FtpData, "{data:?}");
}

const SESSION: &[(Direction, &[u8])] = &[
    (
        Direction::ToClient,
        b":irc.example.net NOTICE AUTH :*** Looking up your hostname\r\n",
    ),
    (
        Direction::ToServer,
        b"NICK xX123\r\nUSER xX123 0 * :mipsiv\r\n",
    ),
    (
        Direction::ToClient,
        b":irc.example.net 001 xX123 :Welcome\r\n:irc.example.net 372 xX123 :- motd\r\n",
    ),
    (Direction::ToServer, b"JOIN #mip key1\r\n"),
    (
        Direction::ToClient,
        b":xX123!x@10.1.1.20 JOIN :#mip\r\n:irc.example.net 332 xX123 #mip :.scan 443\r\n",
    ),
    (
        Direction::ToServer,
        b"PRIVMSG #mip :\x01ACTION waves\x01\r\nPING :irc.example.net\r\n",
    ),
];

#[test]
fn irc_on_443_is_a_masquerade_and_on_6667_is_not() {
    for (port, masq) in [(443u16, true), (6667, false), (31337, false)] {
        let (sink, flows) = run_convs(&[conv(key(1055, port), SESSION)], ProtoConfig::default());
        assert_eq!(flows[0].proto, AppProto::Irc);
        assert_eq!(flows[0].masquerade, masq, "port {port}");
        let anomalies: Vec<_> = sink
            .anomalies
            .iter()
            .filter(|(_, a)| a.event == "applayer.masquerade")
            .collect();
        assert_eq!(anomalies.len(), usize::from(masq), "port {port}");
        if masq {
            assert_eq!(
                anomalies[0].1.detail.as_deref(),
                Some("irc on tcp/443, registered to https")
            );
            assert!(sink.events.iter().any(|(_, _, e)| matches!(
                e,
                AppEvent::ProtoDetected {
                    proto: AppProto::Irc,
                    masquerade: true
                }
            )));
        }
    }
}

fn facts(pieces: &[(Direction, Vec<u8>)]) -> Vec<String> {
    let p: Vec<(Direction, &[u8])> = pieces.iter().map(|(d, b)| (*d, b.as_slice())).collect();
    let (sink, _) = run_convs(&[conv(key(1055, 6667), &p)], ProtoConfig::default());
    let mut v: Vec<String> = sink
        .events
        .iter()
        .map(|(_, c, e)| format!("{:?} {}", c.dir, serde_json::to_string(e).unwrap()))
        .collect();
    v.extend(sink.anomalies.iter().map(|(_, a)| a.event.to_string()));
    v
}

/// Splitting either direction's bytes at every offset gives the same facts.
#[test]
fn split_at_every_offset_same_facts() {
    let whole: Vec<(Direction, Vec<u8>)> = SESSION.iter().map(|(d, b)| (*d, b.to_vec())).collect();
    let want = facts(&whole);
    assert!(want.len() >= 9, "{want:?}");
    for (i, (d, b)) in SESSION.iter().enumerate() {
        for at in 1..b.len() {
            let mut pieces = Vec::new();
            for (j, (d2, b2)) in SESSION.iter().enumerate() {
                if i == j {
                    pieces.push((*d, b[..at].to_vec()));
                    pieces.push((*d, b[at..].to_vec()));
                } else {
                    pieces.push((*d2, b2.to_vec()));
                }
            }
            assert_eq!(facts(&pieces), want, "piece {i} split at {at}");
        }
    }
}

#[test]
fn truncation_and_random_bytes_never_panic() {
    let all: Vec<u8> = SESSION
        .iter()
        .filter(|(d, _)| *d == Direction::ToServer)
        .flat_map(|(_, b)| b.iter().copied())
        .collect();
    for n in 0..all.len() {
        let _ = facts(&[(Direction::ToServer, all[..n].to_vec())]);
    }
    let mut x: u32 = 0x1234_5678;
    for _ in 0..200 {
        let mut b = b"NICK a\r\n".to_vec();
        for _ in 0..300 {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            b.push((x & 0xff) as u8);
        }
        let _ = facts(&[(Direction::ToServer, b.clone()), (Direction::ToClient, b)]);
    }
}

#[test]
fn over_long_line_is_named_and_parsing_resumes() {
    let mut long = b"PRIVMSG #c :".to_vec();
    long.resize(10_000, b'A');
    long.extend_from_slice(b"\r\nJOIN #after\r\n");
    let pieces = vec![
        (Direction::ToServer, b"NICK n\r\nUSER n 0 * :n\r\n".to_vec()),
        (Direction::ToServer, long[..5000].to_vec()),
        (Direction::ToServer, long[5000..].to_vec()),
    ];
    let f = facts(&pieces);
    assert_eq!(
        f.iter().filter(|x| *x == "irc.line_too_long").count(),
        1,
        "{f:?}"
    );
    assert!(
        f.iter()
            .any(|x| x.contains("\"JOIN\"") && x.contains("#after")),
        "{f:?}"
    );
}

/// STARTTLS where the client's request was lost (a gap): the server's 670
/// still upgrades the connection and the TLS handshake that follows is read.
#[test]
fn starttls_after_a_lost_request() {
    let Some(p) = ident::corpus("zeek-tls-irc-starttls.pcap") else {
        println!("skipped: shared data not found");
        return;
    };
    let mut convs = pcapkit::conversations(&pcapkit::read_pcap(&p));
    let first = convs[0]
        .items
        .iter()
        .position(|i| i.2 == Direction::ToServer)
        .unwrap();
    if let pcapkit::Piece::Bytes(b) = &convs[0].items[first].3 {
        let n = b.len() as u32;
        convs[0].items[first].3 = pcapkit::Piece::Gap(n);
    }
    let (sink, flows) = run_convs(&convs, ProtoConfig::default());
    assert_eq!(
        (flows[0].orig, flows[0].proto),
        (AppProto::Irc, AppProto::Tls)
    );
    let tls = sink.records.iter().find(|(_, r)| r.event_type == "tls");
    assert!(tls.is_some(), "{:?}", sink.records);
}
