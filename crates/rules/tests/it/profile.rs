//! Rule profiling (`RuleSet::enable_profiling`): what it counts per rule and
//! per searched buffer.

use crate::common::*;
use stormwatch_model::{AppProto, BufferId, Direction};

const TS: Direction = Direction::ToServer;

const RULES: &str = r#"alert tcp any any -> any 80 (msg:"stream key"; flow:established,to_server; content:"evil"; content:"payload"; distance:0; sid:1;)
alert tcp any any -> any 80 (msg:"never a candidate"; flow:established,to_server; content:"absent-key-xyz"; sid:2;)
alert udp any any -> any 53 (msg:"packet key"; content:"query"; sid:3;)
alert http any any -> any any (msg:"uri"; flow:to_server; http.uri; content:"/admin"; sid:4;)
"#;

/// Counts of a profile: (checks, matches) per sid.
fn counts(p: &stormwatch_rules::ProfileReport) -> Vec<(u32, u64, u64)> {
    let mut v: Vec<(u32, u64, u64)> = p
        .rules
        .iter()
        .map(|r| (r.sid, r.checks, r.matches))
        .collect();
    v.sort_unstable();
    v
}

#[test]
fn a_profile_counts_evaluations_matches_and_searched_bytes() {
    let mut rs = rules(RULES);
    assert!(rs.profile().is_none(), "off unless enabled");
    rs.enable_profiling();

    // A TCP stream: sid 1 is a candidate twice (its key, the longer
    // "payload", in both chunks) and matches once; sid 2's key never occurs.
    let mut tcp = Flow::new(6, 40000, 80);
    tcp.send(&rs, TS, b"GET /payload HTTP/1.0\r\n");
    tcp.send(&rs, TS, b"evil payload");
    // A UDP packet: sid 3 matches.
    let mut udp = Flow::new(17, 5000, 53);
    udp.packet(&rs, TS, 0, b"a query");
    // An HTTP transaction: sid 4 is a candidate and does not match.
    let tx = MockTx::new(AppProto::Http, 0).buf(BufferId::HttpUri, b"/index/admix");
    tcp.tx(&rs, TS, &tx);
    let tx = MockTx::new(AppProto::Http, 1).buf(BufferId::HttpUri, b"/x/admin");
    tcp.tx(&rs, TS, &tx);

    let p = rs.profile().expect("enabled");
    assert_eq!(counts(&p), [(1, 2, 1), (3, 1, 1), (4, 1, 1)]);
    for r in &p.rules {
        assert!(r.total_ns >= r.match_ns && r.total_ns >= r.max_ns, "{r:?}");
    }
    assert!(
        p.rules.windows(2).all(|w| w[0].total_ns >= w[1].total_ns),
        "most time first"
    );
    let searched = |name: &str| {
        p.searches
            .iter()
            .find(|s| s.buffer == name)
            .map(|s| (s.calls, s.bytes))
    };
    // Both stream chunks were searched, every byte once.
    assert_eq!(searched("stream"), Some((2, 23 + 12)));
    assert_eq!(searched("packet"), Some((1, 7)));
    assert_eq!(searched("http.uri"), Some((2, 12 + 8)));
    assert_eq!(searched("file.data"), None);
}

#[test]
fn a_rule_set_without_profiling_matches_the_same() {
    let plain = rules(RULES);
    let mut profiled = rules(RULES);
    profiled.enable_profiling();
    let run = |rs: &stormwatch_rules::RuleSet| {
        let mut tcp = Flow::new(6, 40000, 80);
        let mut got = tcp.send(rs, TS, b"evil");
        got.extend(tcp.send(rs, TS, b" payload"));
        let mut udp = Flow::new(17, 5000, 53);
        got.extend(udp.packet(rs, TS, 0, b"query"));
        got
    };
    assert_eq!(run(&plain), [1, 3]);
    assert_eq!(run(&profiled), run(&plain));
}
