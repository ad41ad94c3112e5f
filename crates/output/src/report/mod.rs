//! Reports for people: a terminal text report ([`render_text`]) and one
//! self-contained HTML page ([`render_html`]: inline CSS, JS and SVG, no network
//! fetches). Both read a [`ReportInput`], which holds only model types, so a report
//! can be rebuilt from the SQLite store alone.
//!
//! ```
//! use stormwatch_output::report::{ReportInput, render_text, render_html};
//! let input = ReportInput::default();
//! assert!(render_text(&input).contains("no hosts judged"));
//! assert!(render_html(&input).starts_with("<!DOCTYPE html>"));
//! ```

mod html;
mod svg;
mod text;

pub use html::render_html;
pub use text::render_text;

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::net::IpAddr;
use stormwatch_model::{
    Evidence, FlowRecord, Incident, Label, PropagationEdge, Timestamp, Verdict,
};

/// What was analysed.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct RunSummary {
    /// Capture (or EVE) file names, in the order read.
    pub captures: Vec<String>,
    /// First packet time.
    pub first_ts: Option<Timestamp>,
    /// Last packet time.
    pub last_ts: Option<Timestamp>,
    /// Packets read.
    pub packets: u64,
    /// Flows seen.
    pub flows: u64,
    /// Alerts raised (or replayed).
    pub alerts: u64,
    /// Notices raised (or replayed).
    pub notices: u64,
    /// `HOME_NET` as configured (`[10.0.0.0/8,...]`).
    pub home_net: Option<String>,
}

/// Everything a report shows. Only model types, so it round-trips through the store.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ReportInput {
    /// The run.
    pub summary: RunSummary,
    /// Every verdict record written, in order (revisions and restatements); each
    /// host's last record is its current verdict.
    pub verdicts: Vec<Verdict>,
    /// Evidence records (as the correlator stored them).
    pub evidence: Vec<Evidence>,
    /// Campaigns.
    pub incidents: Vec<Incident>,
    /// The propagation graph.
    pub edges: Vec<PropagationEdge>,
    /// Records of flows the evidence cites (optional; reports show their endpoints).
    pub flows: Vec<FlowRecord>,
}

impl ReportInput {
    /// Each host's current verdict (its last record), most severe first, then by address.
    pub fn current(&self) -> Vec<&Verdict> {
        let mut last: BTreeMap<IpAddr, &Verdict> = BTreeMap::new();
        for v in &self.verdicts {
            last.insert(v.host, v);
        }
        let mut v: Vec<&Verdict> = last.into_values().collect();
        v.sort_by(|a, b| {
            a.label
                .severity_rank()
                .cmp(&b.label.severity_rank())
                .then(a.host.cmp(&b.host))
        });
        v
    }

    /// A host's revisions in order: one record per revision number (the last
    /// record of each, so restatements replace their revision).
    pub fn history(&self, host: IpAddr) -> Vec<&Verdict> {
        let mut by_rev: BTreeMap<u32, &Verdict> = BTreeMap::new();
        for v in self.verdicts.iter().filter(|v| v.host == host) {
            by_rev.insert(v.revision, v);
        }
        by_rev.into_values().collect()
    }

    /// Number of current verdicts per label, in severity order.
    pub fn counts(&self) -> Vec<(Label, usize)> {
        let mut m: BTreeMap<u8, (Label, usize)> = BTreeMap::new();
        for v in self.current() {
            m.entry(v.label.severity_rank()).or_insert((v.label, 0)).1 += 1;
        }
        m.into_values().collect()
    }

    /// The record of a cited flow, when present.
    pub fn flow(&self, id: stormwatch_model::FlowId) -> Option<&FlowRecord> {
        self.flows.iter().find(|f| f.flow_id == id)
    }
}

/// Labels shown as full stories (everything but `probed` and `clean`).
pub(crate) fn is_story(l: Label) -> bool {
    !matches!(l, Label::Probed | Label::Clean)
}

/// `probed → targeted → compromised → trojan` with times of day.
pub(crate) fn revision_path(h: &[&Verdict]) -> String {
    h.iter()
        .map(|v| format!("{} ({})", v.label.as_str(), v.ts.to_time_of_day()))
        .collect::<Vec<_>>()
        .join(" → ")
}

/// Count with thousands separators.
pub(crate) fn thousands(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::with_capacity(s.len() + s.len() / 3);
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// `why not a worm`, `why not compromised`, ...
pub(crate) fn why_not_head(l: Label) -> String {
    match l {
        Label::Worm
        | Label::Bot
        | Label::Trojan
        | Label::Scanner
        | Label::Exploiter
        | Label::Controller => format!("why not a {}", l.as_str()),
        Label::EggServer => "why not an egg server".to_string(),
        other => format!("why not {}", other.as_str()),
    }
}

/// `flow 1234 (tcp 10.0.0.1:3312 → 10.0.0.2:443)` or `flow 1234`.
pub(crate) fn flow_words(input: &ReportInput, id: stormwatch_model::FlowId) -> String {
    match input.flow(id) {
        Some(f) => format!(
            "flow {} ({} {}:{} → {}:{})",
            id.0,
            f.key.proto.eve_name().to_ascii_lowercase(),
            f.key.src,
            f.key.src_port,
            f.key.dst,
            f.key.dst_port
        ),
        None => format!("flow {}", id.0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use stormwatch_model::Confidence;

    fn v(host: &str, label: Label, rev: u32, ts: i64) -> Verdict {
        Verdict {
            ts: Timestamp::from_secs_nanos(ts, 0),
            host: host.parse().unwrap(),
            label,
            roles: vec![],
            confidence: Confidence::Medium,
            reason: String::new(),
            evidence: vec![],
            why_not: vec![],
            revision: rev,
            previous: None,
            campaign: None,
            infected_by: None,
            generation: None,
            internal: true,
        }
    }

    #[test]
    fn current_and_history() {
        let input = ReportInput {
            verdicts: vec![
                v("10.0.0.1", Label::Probed, 1, 10),
                v("10.0.0.2", Label::Scanner, 1, 11),
                v("10.0.0.1", Label::Targeted, 2, 20),
                v("10.0.0.1", Label::Trojan, 3, 30),
                v("10.0.0.1", Label::Trojan, 3, 30),
            ],
            ..ReportInput::default()
        };
        let cur = input.current();
        assert_eq!(cur.len(), 2);
        assert_eq!(cur[0].label, Label::Trojan);
        let h = input.history("10.0.0.1".parse().unwrap());
        assert_eq!(h.len(), 3);
        assert_eq!(
            revision_path(&h),
            "probed (00:00:10) → targeted (00:00:20) → trojan (00:00:30)"
        );
        assert_eq!(
            input.counts(),
            vec![(Label::Trojan, 1), (Label::Scanner, 1)]
        );
        assert_eq!(thousands(1_234_567), "1,234,567");
        assert_eq!(why_not_head(Label::Worm), "why not a worm");
        assert_eq!(why_not_head(Label::Compromised), "why not compromised");
    }
}
