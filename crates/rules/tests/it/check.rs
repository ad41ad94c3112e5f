//! `rules check` over the shared rule sets: every rule loads or is skipped
//! with a named reason; at least 95% of each Emerging Threats file loads; the
//! PCT family loads.

use crate::common::shared;
use stormwatch_rules::{RuleSet, RulesConfig};

/// Rule lines counted independently of the parser (continuations joined).
fn count_rules(text: &str) -> usize {
    let mut n = 0;
    let mut cont = false;
    for line in text.lines() {
        let t = line.trim();
        if !cont && !t.is_empty() && !t.starts_with('#') {
            n += 1;
        }
        if t.starts_with('#') && !cont {
            continue;
        }
        cont = t.ends_with('\\');
    }
    n
}

fn check_set(set: &str, classification: &str, min_percent: f64) {
    let Some(sh) = shared() else { return };
    let dir = sh.join("rules").join(set);
    let mut cfg = RulesConfig::default();
    cfg.load_classification(&dir.join(classification)).unwrap();
    let (rs, report) = RuleSet::load(&[dir.join("rules")], &cfg).unwrap();
    println!("{set}: {} rules\n{report}", rs.len());
    for s in &report.skips {
        println!("{s}");
    }
    let mut files = 0;
    for f in &report.files {
        let text = std::fs::read_to_string(&f.path).unwrap();
        assert_eq!(
            f.loaded + f.skipped,
            count_rules(&text),
            "{}: every rule is loaded or skipped",
            f.path
        );
        if f.path.contains("emerging-") {
            assert!(
                f.percent_loaded() >= min_percent,
                "{}: {:.1}% loaded",
                f.path,
                f.percent_loaded()
            );
        }
        files += 1;
    }
    assert!(files >= 15, "{set}: all rule files were read");
    for s in &report.skips {
        assert!(
            !s.reason.is_empty() && !s.detail.is_empty() && s.line > 0,
            "{s}"
        );
    }
    for sid in [2515, 2516, 2517, 2518, 2528] {
        assert!(
            rs.signatures().any(|s| s.sid == sid),
            "{set}: sid {sid} loads"
        );
    }
}

#[test]
fn et_open_2017_loads() {
    check_set("et-open-snort-2.9.0-2017", "classification.config", 95.0);
}

#[test]
fn snort_2004_loads() {
    check_set("snort-2.2.0-2004", "etc/classification.config", 95.0);
}

#[test]
fn et_with_builtin_classification_and_suricata_yaml_vars() {
    let Some(sh) = shared() else { return };
    // The suricata-verify yamls carry no vars: defaults apply.
    let dir = sh.join("rules/et-open-snort-2.9.0-2017/rules");
    let (rs, report) = RuleSet::load(&[dir], &RulesConfig::default()).unwrap();
    assert!(rs.len() > 12_000, "{report}");
}

#[test]
fn et_group_stats() {
    let Some(sh) = shared() else { return };
    let dir = sh.join("rules/et-open-snort-2.9.0-2017/rules");
    let (rs, _) = RuleSet::load(&[dir], &RulesConfig::default()).unwrap();
    let stats = rs.group_stats();
    for l in &stats {
        println!("{l}");
    }
    assert!(stats.iter().any(|l| l.starts_with("tx HttpUri")));
}

/// A directory holding rule files only in subdirectories is an error that
/// names where they are, not an empty rule set (a wrong `--rules` path
/// otherwise runs with no rules and no word said).
#[test]
fn a_directory_without_rule_files_names_the_ones_below() {
    let Some(sh) = shared() else { return };
    let set = sh.join("rules").join("et-open-snort-2.9.0-2017");
    let Err(err) = RuleSet::load(std::slice::from_ref(&set), &RulesConfig::default()) else {
        panic!("no *.rules file directly in the set's directory");
    };
    let msg = err.to_string();
    assert!(
        msg.starts_with(&format!("{}: no *.rules file", set.display())),
        "{msg}"
    );
    let below = set.join("rules");
    let n = std::fs::read_dir(&below)
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .is_ok_and(|e| e.path().extension().is_some_and(|x| x == "rules"))
        })
        .count();
    assert!(msg.contains(&format!("{} ({n})", below.display())), "{msg}");
    // Two levels up: both sets are found.
    let Err(err) = RuleSet::load(&[sh.join("rules")], &RulesConfig::default()) else {
        panic!("no rule file directly in ../shared/rules");
    };
    let msg = err.to_string();
    assert!(msg.contains("et-open-snort-2.9.0-2017/rules ("), "{msg}");
    assert!(msg.contains("snort-2.2.0-2004/rules ("), "{msg}");
}
