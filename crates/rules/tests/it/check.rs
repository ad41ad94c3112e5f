//! `rules check` over the shared rule sets.

use crate::common::shared;
use stormwatch_rules::{RuleSet, RulesConfig};

#[test]
fn et_and_snort_sets_load() {
    let Some(sh) = shared() else { return };
    for set in ["et-open-snort-2.9.0-2017", "snort-2.2.0-2004"] {
        let dir = sh.join("rules").join(set);
        let mut cfg = RulesConfig::default();
        let cls = if dir.join("classification.config").exists() {
            dir.join("classification.config")
        } else {
            dir.join("etc/classification.config")
        };
        cfg.load_classification(&cls).unwrap();
        let t = std::time::Instant::now();
        let (rs, report) = RuleSet::load(&[dir.join("rules")], &cfg).unwrap();
        println!("{set}: {} rules in {:?}", rs.len(), t.elapsed());
        println!("{report}");
        for s in report.skips.iter().take(400) {
            println!("{s}");
        }
    }
}
