//! Correlation acceptance 3 end to end: `stormwatch correlate` on the EVE file
//! `stormwatch analyze` wrote gives every host the same verdict (label,
//! confidence, campaign, infector, generation and number of revisions), and the
//! same incidents.

use crate::common::{stderr, stormwatch};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::Path;

type Verdict = (String, String, Value, Value, Value, u64);

/// Each host's last verdict, and the incidents, from an EVE file.
fn outcome(path: &Path) -> (BTreeMap<String, Verdict>, Vec<Value>) {
    let text = std::fs::read_to_string(path).unwrap();
    let mut verdicts = BTreeMap::new();
    let mut incidents = Vec::new();
    for line in text.lines() {
        let r: Value = serde_json::from_str(line).unwrap();
        match r["event_type"].as_str() {
            Some("verdict") => {
                let v = &r["verdict"];
                verdicts.insert(
                    v["host"].as_str().unwrap().to_string(),
                    (
                        v["label"].as_str().unwrap().to_string(),
                        v["confidence"].as_str().unwrap_or("").to_string(),
                        v["campaign"].clone(),
                        v["infected_by"].clone(),
                        v["generation"].clone(),
                        v["revision"].as_u64().unwrap_or(0),
                    ),
                );
            }
            Some("incident") => incidents.push(r["incident"].clone()),
            _ => {}
        }
    }
    (verdicts, incidents)
}

fn round_trip(capture: &str, dir: &Path) {
    let analyzed = dir.join("analyze.json");
    let correlated = dir.join("correlate.json");
    let o = stormwatch(&[
        "analyze",
        capture,
        "--eve",
        analyzed.to_str().unwrap(),
        "--report",
        "none",
        "-q",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let o = stormwatch(&[
        "correlate",
        analyzed.to_str().unwrap(),
        "--out",
        correlated.to_str().unwrap(),
        "--report",
        "none",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let (a, ai) = outcome(&analyzed);
    let (c, ci) = outcome(&correlated);
    assert!(!a.is_empty(), "{capture}: analyze wrote no verdicts");
    for (host, v) in &a {
        assert_eq!(Some(v), c.get(host), "{capture}: host {host}");
    }
    assert_eq!(a.len(), c.len(), "{capture}: hosts judged");
    assert_eq!(ai, ci, "{capture}: incidents");
}

#[test]
fn correlate_on_analyze_eve_gives_the_same_verdicts() {
    let dir = tempfile::tempdir().unwrap();
    round_trip("examples/mipsiv.pcap", dir.path());
    for scenario in ["pct-worm", "irc-bot"] {
        let pcap = dir.path().join(format!("{scenario}.pcap"));
        let o = stormwatch(&["simulate", scenario, "-o", pcap.to_str().unwrap()]);
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
        let sub = dir.path().join(scenario);
        std::fs::create_dir(&sub).unwrap();
        round_trip(pcap.to_str().unwrap(), &sub);
    }
}
