//! Acceptance 5: bad scenario files fail with file:line:column and what was
//! expected — never a panic, never a silent default.

use stormwatch_sim::parse_scenario;

const BASE: &str = r##"[scenario]
name = "t"
seed = 1
start = "2004-04-20T09:00:00Z"
home_net = ["10.1.0.0/16"]

[[host]]
name = "attacker"
ip = "203.0.113.7"

[[host]]
name = "victim"
ip = "10.1.1.20"

[[activity]]
kind = "scan"
at = "+1m"
from = "attacker"
targets = "10.1.1.0/24"
ports = [443]

[[activity]]
kind = "exploit"
at = "+2m"
from = "attacker"
to = "victim"

[[activity]]
kind = "listener"
at = "+3m"
host = "victim"
port = 31337
client = "attacker"
"##;

const SCAN_KEYS: &str = "kind, at, campaign, note, from, targets, ports, proto, order, rate, open, open_ratio, live_ratio, tool, src_port, ip_id, ttl, window, automated";

/// Replaces the `n`-th (1-based) line of BASE.
fn with_line(n: usize, new: &str) -> String {
    BASE.lines()
        .enumerate()
        .map(|(i, l)| {
            if i + 1 == n {
                new.to_string()
            } else {
                l.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn err(text: &str) -> String {
    match parse_scenario("t.toml", text) {
        Ok(_) => panic!("accepted a bad scenario:\n{text}"),
        Err(e) => {
            let s = e.to_string();
            assert!(!s.contains('\n'), "one line: {s}");
            s
        }
    }
}

#[test]
fn the_base_scenario_is_valid() {
    let s = parse_scenario("t.toml", BASE).unwrap();
    assert_eq!(s.activities.len(), 3);
    assert_eq!(s.activities[2].line, 28);
}

#[test]
fn table_of_bad_scenarios() {
    let cases: Vec<(&str, String, String)> = vec![
        (
            "unknown key",
            with_line(19, r##"tagret = "10.1.1.0/24""##),
            format!(r##"t.toml:19:1: unknown key "tagret" in [[activity]]: expected one of {SCAN_KEYS}"##),
        ),
        (
            "unknown top-level table",
            format!("{BASE}\n[[hosts]]\nname = \"x\"\n"),
            r##"t.toml:35:3: unknown key "hosts" in the scenario file: expected one of scenario, host, activity"##.into(),
        ),
        (
            "unknown key in an inline table",
            with_line(26, r##"to = "victim"
transport = { segment_sise = 1 }"##),
            r##"t.toml:27:15: unknown key "segment_sise" in "transport" of [[activity]]: expected one of segment_size, overlap, ip_fragment, fragment_order, retransmit"##.into(),
        ),
        (
            "bad address",
            with_line(26, r##"to = "10.1.1.300""##),
            r##"t.toml:26:6: bad address "10.1.1.300" for "to" in [[activity]]: expected an IPv4 address or a [[host]] name"##.into(),
        ),
        (
            "unknown host name",
            with_line(26, r##"to = "victm""##),
            r##"t.toml:26:6: bad address "victm" for "to" in [[activity]]: expected an IPv4 address or a [[host]] name"##.into(),
        ),
        (
            "bad CIDR",
            with_line(19, r##"targets = "10.1.1.0/33""##),
            r##"t.toml:19:11: bad address "10.1.1.0/33" for "targets" in [[activity]]: expected an IPv4 CIDR block such as "10.1.0.0/22""##.into(),
        ),
        (
            "bad host address",
            with_line(13, r##"ip = "10.1.1""##),
            r##"t.toml:13:6: bad address "10.1.1" for "ip" in [[host]]: expected an IPv4 address"##.into(),
        ),
        (
            "bad home_net",
            with_line(5, r##"home_net = ["10.1.0.0/16", "ten/8"]"##),
            r##"t.toml:5:28: bad value "ten/8" for "home_net" in [scenario]: expected an IPv4 CIDR block such as "10.1.0.0/16""##.into(),
        ),
        (
            "bad type",
            with_line(20, "ports = true"),
            r##"t.toml:20:9: bad value for "ports" in [[activity]]: expected a port, a list of ports, or ranges such as "1-1024", found a boolean"##.into(),
        ),
        (
            "bad type (string for a number)",
            with_line(20, r##"ports = [443]
rate = "fast""##),
            r##"t.toml:21:8: bad value for "rate" in [[activity]]: expected probes per second (a positive number), found a string"##.into(),
        ),
        (
            "out of range",
            with_line(32, "port = 70000"),
            r##"t.toml:32:8: bad value for "port" in [[activity]]: expected a port between 1 and 65535, found 70000"##.into(),
        ),
        (
            "bad choice",
            with_line(16, r##"kind = "scna""##),
            r##"t.toml:16:8: bad value "scna" for "kind" in [[activity]]: expected one of scan, exploit, listener, irc_session, http_download, tls_session, dns, ssh_session, ftp_session, tftp, propagate, bot_command, background"##.into(),
        ),
        (
            "bad time",
            with_line(17, r##"at = "soon""##),
            r##"t.toml:17:6: bad value "soon" for "at" in [[activity]]: expected a time: "+12m" (after the start), "09:14:31" (on the start day) or RFC 3339"##.into(),
        ),
        (
            "missing required field",
            with_line(26, ""),
            r##"t.toml:22:1: missing key "to" in [[activity]]: expected a [[host]] name or an IPv4 address"##.into(),
        ),
        (
            "missing scan targets",
            with_line(19, ""),
            r##"t.toml:15:1: missing key "targets" in [[activity]]: expected a CIDR block such as "10.1.0.0/22" or a list of addresses"##.into(),
        ),
        (
            "missing seed",
            with_line(3, ""),
            r##"t.toml:1:1: missing key "seed" in [scenario]: expected an integer of 0 or more"##.into(),
        ),
        (
            "impossible timeline: listener before the exploit",
            with_line(26, r##"to = "10.1.1.21""##),
            r##"t.toml:28:1: impossible timeline: listener on victim (10.1.1.20) at 2004-04-20T09:03:00Z comes before any successful exploit of that host: expected an [[activity]] kind = "exploit" with to = "victim" earlier in the timeline"##.into(),
        ),
        (
            "impossible timeline: a failed exploit opens no listener",
            with_line(26, r##"to = "victim"
success = false"##),
            r##"t.toml:29:1: impossible timeline: listener on victim (10.1.1.20) at 2004-04-20T09:03:00Z comes before any successful exploit of that host: expected an [[activity]] kind = "exploit" with to = "victim" earlier in the timeline"##.into(),
        ),
        (
            "impossible timeline: times going backwards",
            with_line(30, r##"at = "+1m30s""##),
            r##"t.toml:28:1: impossible timeline: times go backwards: this [[activity]] at 2004-04-20T09:01:30Z comes after one at 2004-04-20T09:02:00Z (line 22): expected activities in time order"##.into(),
        ),
        (
            "impossible timeline: before the start",
            with_line(17, r##"at = "08:59:00""##),
            r##"t.toml:17:6: impossible timeline: [[activity]] at 2004-04-20T08:59:00Z is before the scenario start 2004-04-20T09:00:00Z: expected a time at or after the start"##.into(),
        ),
        (
            "duplicate host",
            with_line(12, r##"name = "attacker""##),
            r##"t.toml:12:8: duplicate [[host]] name "attacker": expected each name once"##.into(),
        ),
        (
            "fragment size not a multiple of 8",
            with_line(26, r##"to = "victim"
transport = { ip_fragment = 12 }"##),
            r##"t.toml:27:29: bad value for "ip_fragment" in "transport" of [[activity]]: expected a fragment size in bytes, a multiple of 8 between 8 and 1480, found 12"##.into(),
        ),
    ];
    let mut failures = Vec::new();
    for (what, text, want) in &cases {
        let got = err(text);
        if &got != want {
            failures.push(format!("{what}:\n  want {want}\n  got  {got}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(cases.len() >= 20);
}

const BOTS: &str = r##"[scenario]
name = "b"
seed = 1
start = "2004-04-20T09:00:00Z"
home_net = ["10.4.0.0/16"]

[[activity]]
kind = "irc_session"
at = "+1m"
client = "10.4.1.11"
server = "192.0.2.66"
channel = "#bots"
duration = "10m"
c2 = true

[[activity]]
kind = "bot_command"
at = "+5m"
controller = "192.0.2.66"
channel = "#bots"
order = "scan"
targets = "10.4.2.0/28"
delay = "20s"
"##;

#[test]
fn bot_command_timelines() {
    assert!(parse_scenario("b.toml", BOTS).is_ok());
    // A reply (the bots' obedience) before its request (the command).
    let neg = BOTS.replace(r##"delay = "20s""##, r##"delay = "-20s""##);
    assert_eq!(
        err_of("b.toml", &neg),
        r##"b.toml:23:9: impossible timeline: negative "delay" in [[activity]] would put a reply before its request: expected a duration of 0 or more"##
    );
    // A command after the session ended: nobody is there to obey.
    let late = BOTS.replace(r##"at = "+5m""##, r##"at = "+20m""##);
    assert_eq!(
        err_of("b.toml", &late),
        r##"b.toml:16:1: impossible timeline: bot_command at 2004-04-20T09:20:00Z to 192.0.2.66 #bots: no irc_session to that controller and channel is open at that time: expected an earlier [[activity]] kind = "irc_session" with server = 192.0.2.66 and channel = "#bots" still open"##
    );
}

fn err_of(origin: &str, text: &str) -> String {
    parse_scenario(origin, text)
        .map(|_| ())
        .unwrap_err()
        .to_string()
}

#[test]
fn syntax_errors_carry_the_position() {
    let e = err_of("t.toml", &with_line(18, "from = "));
    assert!(e.starts_with("t.toml:18:8: invalid TOML: "), "{e}");
    let e = err_of("t.toml", "");
    assert_eq!(
        e,
        "t.toml:1:1: missing table [scenario]: expected [scenario] with name, seed, start and home_net"
    );
}

#[test]
fn garbage_never_panics() {
    // Every prefix of a valid file, and a few mangled ones, give Ok or Err.
    let text = stormwatch_sim::builtin_source("mipsiv").unwrap();
    for cut in (0..text.len()).step_by(37) {
        if text.is_char_boundary(cut) {
            let _ = parse_scenario("cut.toml", &text[..cut]);
        }
    }
    for bad in [
        "[scenario]\nseed = -1",
        "[[activity]]\nkind = 7",
        "scenario = 3",
        "[scenario]\nstart = 2004-04-20T09:00:00Z\nname=\"x\"\nseed=1\nhome_net=\"10.0.0.0/8\"\n[[activity]]\nkind=\"background\"\nat=\"+1m\"\nuntil=\"+0s\"\nclients=\"10.0.0.0/30\"\nservers=\"1.2.3.4\"",
    ] {
        assert!(parse_scenario("bad.toml", bad).is_err(), "{bad}");
    }
}
