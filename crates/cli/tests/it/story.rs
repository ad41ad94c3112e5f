//! The seed story end to end: the bundled example capture gives the verdicts the
//! design promises, and every simulator scenario is judged exactly as labelled.

use crate::common::{root, stderr, stdout, stormwatch};

#[test]
fn mipsiv_example_tells_the_trojan_story() {
    let o = stormwatch(&["analyze", "examples/mipsiv.pcap"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let out = stdout(&o);
    let block: Vec<&str> = out
        .lines()
        .skip_while(|l| !l.starts_with("10.1.1.20 "))
        .take_while(|l| !l.is_empty())
        .collect();
    assert!(!block.is_empty(), "no story for 10.1.1.20:\n{out}");
    assert!(block[0].contains("TROJAN/BACKDOOR"), "{}", block[0]);
    let text = block.join("\n");
    assert!(text.contains("PCT") || text.contains("pct"), "{text}");
    assert!(text.contains("31337"), "{text}");
    assert!(text.contains("IRC"), "{text}");
    assert!(text.contains("why not a worm"), "{text}");
    assert!(text.contains("why not a bot"), "{text}");
    assert!(
        text.contains("probed") && text.contains("targeted") && text.contains("trojan"),
        "revision path: {text}"
    );
}

#[test]
fn eval_matches_every_label_of_every_scenario() {
    let names = [
        "mipsiv",
        "pct-worm",
        "irc-bot",
        "scan-only",
        "benign-busy",
        "pct-evasion",
    ];
    let mut args = vec!["eval"];
    args.extend(names);
    let o = stormwatch(&args);
    let out = stdout(&o);
    println!("{out}");
    assert_eq!(
        o.status.code(),
        Some(0),
        "some host judged wrong:\n{out}\n{}",
        stderr(&o)
    );
    assert!(!out.contains("mismatch"), "{out}");
}

#[test]
fn example_labels_file_evaluates_clean() {
    let labels = root().join("examples/mipsiv.labels.json");
    let o = stormwatch(&["eval", labels.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
}

#[test]
fn detectors_off_leaves_flows_and_protocols_but_no_behaviour_findings() {
    let count = |extra: &[&str]| {
        let mut args = vec!["analyze", "examples/mipsiv.pcap", "--eve", "-", "-q"];
        args.extend(extra);
        let o = stormwatch(&args);
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
        let mut n = std::collections::BTreeMap::<String, usize>::new();
        for line in stdout(&o).lines() {
            let v: serde_json::Value = serde_json::from_str(line).unwrap();
            *n.entry(v["event_type"].as_str().unwrap().to_string())
                .or_default() += 1;
        }
        n
    };
    let on = count(&[]);
    let off = count(&["--set", "stormwatch.detectors=no"]);
    assert!(on.get("scan").is_some_and(|&c| c > 0), "{on:?}");
    assert!(on.get("notice").is_some_and(|&c| c > 0), "{on:?}");
    assert_eq!(off.get("scan"), None, "{off:?}");
    assert_eq!(off.get("notice"), None, "{off:?}");
    // Everything below the behaviour stage is the same run.
    for t in ["flow", "irc", "dns", "tls", "http", "fileinfo", "anomaly"] {
        assert_eq!(on.get(t), off.get(t), "{t}: {on:?} vs {off:?}");
    }
}
