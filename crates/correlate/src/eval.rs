//! `stormwatch eval`: compares current verdicts with the simulator's ground-truth
//! labels (`docs/scenarios.md`) and reports per-class precision and recall.

use crate::error::CorrelateError;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;
use std::net::IpAddr;
use stormwatch_model::{Label, Verdict};

/// Scores of one label.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClassScore {
    /// The label.
    pub label: Label,
    /// Hosts labelled so and judged so.
    pub true_pos: u64,
    /// Hosts judged so but labelled otherwise.
    pub false_pos: u64,
    /// Hosts labelled so but judged otherwise.
    pub false_neg: u64,
}

impl ClassScore {
    /// TP / (TP + FP), `None` when the class was never predicted.
    pub fn precision(&self) -> Option<f64> {
        let d = self.true_pos + self.false_pos;
        (d > 0).then(|| self.true_pos as f64 / d as f64)
    }

    /// TP / (TP + FN), `None` when no host carries the label.
    pub fn recall(&self) -> Option<f64> {
        let d = self.true_pos + self.false_neg;
        (d > 0).then(|| self.true_pos as f64 / d as f64)
    }
}

/// A host whose verdict differs from its label.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mismatch {
    /// The host.
    pub host: IpAddr,
    /// Its label (`clean` for a host the labels do not list).
    pub expected: Label,
    /// Its current verdict (`clean` when none was written).
    pub got: Label,
    /// The labels do not list this host.
    pub unlabelled: bool,
}

/// The evaluation result.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EvalReport {
    /// Scenario name from the labels, when given.
    pub scenario: Option<String>,
    /// Labelled hosts.
    pub hosts: u64,
    /// Labelled hosts whose current verdict equals the label.
    pub correct: u64,
    /// Per-class scores, in severity order.
    pub classes: Vec<ClassScore>,
    /// Every disagreement, by address.
    pub mismatches: Vec<Mismatch>,
}

impl EvalReport {
    /// Every labelled host judged right and no unlabelled host judged non-clean.
    pub fn perfect(&self) -> bool {
        self.mismatches.is_empty()
    }
}

fn pct(x: Option<f64>) -> String {
    x.map_or_else(|| "-".to_string(), |v| format!("{:.1}%", v * 100.0))
}

impl fmt::Display for EvalReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(s) = &self.scenario {
            writeln!(f, "scenario {s}")?;
        }
        writeln!(
            f,
            "{} of {} labelled hosts judged right",
            self.correct, self.hosts
        )?;
        writeln!(
            f,
            "{:<12} {:>5} {:>5} {:>5} {:>10} {:>8}",
            "class", "tp", "fp", "fn", "precision", "recall"
        )?;
        for c in &self.classes {
            writeln!(
                f,
                "{:<12} {:>5} {:>5} {:>5} {:>10} {:>8}",
                c.label.as_str(),
                c.true_pos,
                c.false_pos,
                c.false_neg,
                pct(c.precision()),
                pct(c.recall())
            )?;
        }
        for m in &self.mismatches {
            writeln!(
                f,
                "mismatch {}: expected {}{}, got {}",
                m.host,
                m.expected.as_str(),
                if m.unlabelled { " (not in labels)" } else { "" },
                m.got.as_str()
            )?;
        }
        Ok(())
    }
}

/// Compares the current verdicts (each host's last record in `verdicts`) with the
/// labels JSON (`{"scenario": .., "hosts": [{"ip": .., "label": ..}, ..]}`). A host
/// without a verdict is `clean`; a judged host missing from the labels is expected
/// `clean`.
pub fn evaluate(labels_json: &str, verdicts: &[Verdict]) -> Result<EvalReport, CorrelateError> {
    let v: serde_json::Value = serde_json::from_str(labels_json)
        .map_err(|e| CorrelateError::Labels(format!("a JSON object ({e})")))?;
    let hosts = v
        .get("hosts")
        .and_then(|h| h.as_array())
        .ok_or_else(|| CorrelateError::Labels("a \"hosts\" array".into()))?;
    let mut expected: BTreeMap<IpAddr, Label> = BTreeMap::new();
    for (i, h) in hosts.iter().enumerate() {
        let ip = h
            .get("ip")
            .and_then(|x| x.as_str())
            .and_then(|x| x.parse::<IpAddr>().ok())
            .ok_or_else(|| {
                CorrelateError::Labels(format!("hosts[{i}].ip to be an IP address string"))
            })?;
        let word = h.get("label").and_then(|x| x.as_str()).unwrap_or("");
        let label = Label::from_name(word).ok_or_else(|| {
            CorrelateError::Labels(format!(
                "hosts[{i}].label to be one of clean, probed, targeted, compromised, worm, bot, trojan, scanner, exploiter, controller, egg-server; found {word:?}"
            ))
        })?;
        expected.insert(ip, label);
    }
    let mut got: BTreeMap<IpAddr, Label> = BTreeMap::new();
    for v in verdicts {
        got.insert(v.host, v.label);
    }
    let mut scores: BTreeMap<Label, ClassScore> = BTreeMap::new();
    let mut mismatches = Vec::new();
    let mut correct = 0;
    let mut all: Vec<IpAddr> = expected.keys().chain(got.keys()).copied().collect();
    all.sort();
    all.dedup();
    for ip in all {
        let exp = expected.get(&ip).copied();
        let g = got.get(&ip).copied().unwrap_or(Label::Clean);
        let e = exp.unwrap_or(Label::Clean);
        if exp.is_none() && g == Label::Clean {
            continue;
        }
        if e == g {
            correct += u64::from(exp.is_some());
            entry(&mut scores, e).true_pos += 1;
        } else {
            entry(&mut scores, g).false_pos += 1;
            entry(&mut scores, e).false_neg += 1;
            mismatches.push(Mismatch {
                host: ip,
                expected: e,
                got: g,
                unlabelled: exp.is_none(),
            });
        }
    }
    let mut classes: Vec<ClassScore> = scores.into_values().collect();
    classes.sort_by_key(|c| c.label.severity_rank());
    Ok(EvalReport {
        scenario: v
            .get("scenario")
            .and_then(|s| s.as_str())
            .map(str::to_string),
        hosts: expected.len() as u64,
        correct,
        classes,
        mismatches,
    })
}

fn entry(m: &mut BTreeMap<Label, ClassScore>, l: Label) -> &mut ClassScore {
    m.entry(l).or_insert(ClassScore {
        label: l,
        true_pos: 0,
        false_pos: 0,
        false_neg: 0,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use stormwatch_model::{Confidence, Timestamp};

    fn v(ip: &str, label: Label) -> Verdict {
        Verdict {
            ts: Timestamp::ZERO,
            host: ip.parse().unwrap(),
            label,
            roles: vec![],
            confidence: Confidence::High,
            reason: String::new(),
            evidence: vec![],
            why_not: vec![],
            revision: 1,
            previous: None,
            campaign: None,
            infected_by: None,
            generation: None,
            internal: true,
        }
    }

    #[test]
    fn scores_per_class() {
        let labels = r#"{"scenario":"t","hosts":[
            {"ip":"10.0.0.1","label":"trojan"},{"ip":"10.0.0.2","label":"trojan"},
            {"ip":"10.0.0.3","label":"clean"},{"ip":"203.0.113.7","label":"scanner"}]}"#;
        let verdicts = vec![
            v("10.0.0.1", Label::Targeted),
            v("10.0.0.1", Label::Trojan),
            v("10.0.0.2", Label::Worm),
            v("203.0.113.7", Label::Scanner),
            v("10.0.0.9", Label::Probed),
        ];
        let r = evaluate(labels, &verdicts).unwrap();
        assert_eq!((r.hosts, r.correct), (4, 3));
        let trojan = r.classes.iter().find(|c| c.label == Label::Trojan).unwrap();
        assert_eq!(
            (trojan.true_pos, trojan.false_pos, trojan.false_neg),
            (1, 0, 1)
        );
        assert_eq!(trojan.precision(), Some(1.0));
        assert_eq!(trojan.recall(), Some(0.5));
        let worm = r.classes.iter().find(|c| c.label == Label::Worm).unwrap();
        assert_eq!(worm.precision(), Some(0.0));
        assert_eq!(r.mismatches.len(), 2);
        assert!(
            r.mismatches
                .iter()
                .any(|m| m.unlabelled && m.got == Label::Probed)
        );
        assert!(!r.perfect());
        let text = r.to_string();
        assert!(text.contains("trojan"), "{text}");
        assert!(
            text.contains("mismatch 10.0.0.2: expected trojan, got worm"),
            "{text}"
        );
    }

    #[test]
    fn bad_labels_say_what_was_expected() {
        let e = evaluate("{}", &[]).unwrap_err().to_string();
        assert!(e.contains("\"hosts\" array"), "{e}");
        let e = evaluate(r#"{"hosts":[{"ip":"10.0.0.1","label":"zombie"}]}"#, &[])
            .unwrap_err()
            .to_string();
        assert!(e.contains("hosts[0].label") && e.contains("zombie"), "{e}");
        let e = evaluate(r#"{"hosts":[{"ip":"nope","label":"clean"}]}"#, &[])
            .unwrap_err()
            .to_string();
        assert!(e.contains("hosts[0].ip"), "{e}");
    }
}
