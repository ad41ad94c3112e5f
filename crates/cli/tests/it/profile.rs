//! `analyze --rule-profile`: the profile of a run's rules as JSON.

use crate::common::*;

#[test]
fn rule_profile_lists_evaluated_rules_and_searched_buffers() {
    let dir = tempfile::tempdir().unwrap();
    let rules = dir.path().join("irc.rules");
    std::fs::write(
        &rules,
        concat!(
            "alert tcp any any -> any any (msg:\"irc nick\"; flow:established,to_server; content:\"NICK \"; sid:100;)\n",
            "alert tcp any any -> any any (msg:\"never seen\"; content:\"no-such-bytes-here\"; sid:101;)\n",
        ),
    )
    .unwrap();
    let out = dir.path().join("profile.json");
    let o = stormwatch(&[
        "analyze",
        "examples/mipsiv.pcap",
        "--rules",
        rules.to_str().unwrap(),
        "--report",
        "none",
        "--rule-profile",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    // Not quiet: the costliest rules on standard error.
    assert!(stderr(&o).contains("1:100:0"), "{}", stderr(&o));
    let doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    let rules = doc["rules"].as_array().unwrap();
    let nick = rules
        .iter()
        .find(|r| r["signature_id"] == 100)
        .expect("the NICK rule was evaluated");
    assert!(nick["checks"].as_u64().unwrap() >= 1);
    assert!(nick["matches"].as_u64().unwrap() >= 1);
    assert!(nick["checks"].as_u64() >= nick["matches"].as_u64());
    assert!(
        rules.iter().all(|r| r["signature_id"] != 101),
        "a rule whose key never occurs is never evaluated"
    );
    let stream = doc["searches"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["buffer"] == "stream")
        .expect("stream searched");
    assert!(stream["bytes"].as_u64().unwrap() > 0);
}

#[test]
fn rule_profile_needs_rules_and_a_free_standard_output() {
    let o = stormwatch(&[
        "analyze",
        "examples/mipsiv.pcap",
        "--report",
        "none",
        "--rule-profile",
        "/dev/null",
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("--rule-profile: no rules to profile"),
        "{}",
        stderr(&o)
    );
    let dir = tempfile::tempdir().unwrap();
    let rules = dir.path().join("one.rules");
    std::fs::write(
        &rules,
        "alert tcp any any -> any any (content:\"NICK\"; sid:1;)\n",
    )
    .unwrap();
    let o = stormwatch(&[
        "analyze",
        "examples/mipsiv.pcap",
        "--rules",
        rules.to_str().unwrap(),
        "--eve",
        "-",
        "--rule-profile",
        "-",
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("--rule-profile -: standard output"),
        "{}",
        stderr(&o)
    );
    assert!(stdout(&o).is_empty(), "nothing ran");
}
