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
