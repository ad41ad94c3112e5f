//! The suricata-verify compatibility yardstick: run every DEV test and fail when
//! fewer pass than the recorded baseline (`testdata/suricata-verify-passing.txt`,
//! refreshed with `stormwatch verify <dir> --record <file>`).

use crate::common::{root, shared_dir};
use stormwatch_cli::verify::{Outcome, run_suite};

#[test]
fn pass_rate_does_not_fall_below_the_recorded_one() {
    let Some(shared) = shared_dir() else {
        println!("skipped: shared data not found");
        return;
    };
    let dir = shared.join("suricata-verify/tests");
    let results = run_suite(&dir, None, None, true, None).unwrap();
    let baseline_text =
        std::fs::read_to_string(root().join("testdata/suricata-verify-passing.txt")).unwrap();
    let baseline: Vec<&str> = baseline_text
        .lines()
        .map(|l| l.split('#').next().unwrap_or("").trim())
        .filter(|l| !l.is_empty())
        .collect();
    let passed: Vec<&str> = results
        .iter()
        .filter(|r| r.outcome == Outcome::Pass)
        .map(|r| r.name.as_str())
        .collect();
    for r in &results {
        if let Outcome::Fail(why) = &r.outcome {
            let short: String = why.chars().take(300).collect();
            println!("FAIL {}: {short}", r.name);
        }
    }
    let regressions: Vec<&&str> = baseline.iter().filter(|b| !passed.contains(b)).collect();
    println!(
        "suricata-verify: {} of {} tests pass ({:.1}%); baseline {}",
        passed.len(),
        results.len(),
        100.0 * passed.len() as f64 / results.len().max(1) as f64,
        baseline.len()
    );
    assert!(
        passed.len() >= baseline.len(),
        "pass count {} fell below the recorded {}; no longer passing: {regressions:?}",
        passed.len(),
        baseline.len()
    );
}
