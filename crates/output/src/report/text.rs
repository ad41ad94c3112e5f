//! The terminal report: hosts by severity, each with its timeline (time of day,
//! evidence lines with sid and flow ids), why-not lines and revisions; probed and
//! clean hosts compactly; then campaigns and the propagation graph.

use super::{ReportInput, flow_words, is_story, revision_path, thousands, why_not_head};
use std::collections::BTreeMap;
use std::fmt::Write;
use std::net::IpAddr;
use stormwatch_model::{Label, Timestamp, Verdict, human_duration};

const WIDTH: usize = 88;

fn when(ts: Timestamp, multi_day: bool) -> String {
    if multi_day {
        ts.to_human()
    } else {
        ts.to_time_of_day()
    }
}

fn header(out: &mut String, input: &ReportInput) {
    let s = &input.summary;
    let _ = writeln!(out, "stormwatch report");
    if !s.captures.is_empty() {
        let _ = writeln!(out, "input:    {}", s.captures.join(", "));
    }
    let mut watched = Vec::new();
    if let (Some(a), Some(b)) = (s.first_ts, s.last_ts) {
        watched.push(format!(
            "{} → {} UTC ({})",
            a.to_human(),
            b.to_human(),
            human_duration(b.secs_since(a))
        ));
    }
    for (n, what) in [
        (s.packets, "packets"),
        (s.flows, "flows"),
        (s.alerts, "alerts"),
        (s.notices, "notices"),
    ] {
        if n > 0 {
            watched.push(format!("{} {what}", thousands(n)));
        }
    }
    if !watched.is_empty() {
        let _ = writeln!(out, "watched:  {}", watched.join(" · "));
    }
    if let Some(h) = &s.home_net {
        let _ = writeln!(out, "home net: {h}");
    }
    let counts: Vec<String> = input
        .counts()
        .iter()
        .map(|(l, n)| format!("{} {}", thousands(*n as u64), l.as_str()))
        .collect();
    if counts.is_empty() {
        let _ = writeln!(out, "hosts:    no hosts judged");
    } else {
        let _ = writeln!(out, "hosts:    {}", counts.join(" · "));
    }
}

fn story(out: &mut String, input: &ReportInput, v: &Verdict, multi_day: bool) {
    let head = format!("{:<15}  {}", v.host.to_string(), v.label.title());
    let conf = format!("confidence: {}", v.confidence.as_str());
    let pad = WIDTH
        .saturating_sub(head.chars().count() + conf.len())
        .max(2);
    let _ = writeln!(out, "\n{head}{}{conf}", " ".repeat(pad));
    if !v.reason.is_empty() {
        let _ = writeln!(out, "  {}", v.reason);
    }
    for e in &v.evidence {
        let flow = e
            .flow_id
            .map(|f| format!("  [{}]", flow_words(input, f)))
            .unwrap_or_default();
        let _ = writeln!(
            out,
            "  {}  {} {}{flow}",
            when(e.ts, multi_day),
            e.stage.code(),
            e.detail
        );
    }
    let heads: Vec<String> = v.why_not.iter().map(|w| why_not_head(w.label)).collect();
    let width = heads.iter().map(|h| h.chars().count()).max().unwrap_or(0) + 1;
    for (w, h) in v.why_not.iter().zip(heads) {
        let _ = writeln!(out, "  {:<width$} {}", format!("{h}:"), w.reason);
    }
    let hist = input.history(v.host);
    if hist.len() > 1 {
        let _ = writeln!(out, "  revisions: {}", revision_path(&hist));
    }
    let mut tail = Vec::new();
    if let Some(c) = &v.campaign {
        tail.push(format!("campaign {c}"));
    }
    if let Some(by) = v.infected_by {
        let g = v
            .generation
            .map(|g| format!(" (generation {g})"))
            .unwrap_or_default();
        tail.push(format!("infected by {by}{g}"));
    }
    if !v.roles.is_empty() {
        let r: Vec<&str> = v.roles.iter().map(|l| l.as_str()).collect();
        tail.push(format!("also {}", r.join(", ")));
    }
    if !tail.is_empty() {
        let _ = writeln!(out, "  {}", tail.join(" · "));
    }
}

fn list(ips: &[IpAddr], max: usize) -> String {
    let mut s: Vec<String> = ips.iter().take(max).map(IpAddr::to_string).collect();
    if ips.len() > max {
        s.push(format!("… ({} more)", thousands((ips.len() - max) as u64)));
    }
    s.join(", ")
}

/// The terminal report.
pub fn render_text(input: &ReportInput) -> String {
    let mut out = String::with_capacity(4096);
    header(&mut out, input);
    let current = input.current();
    let multi_day = match (input.summary.first_ts, input.summary.last_ts) {
        (Some(a), Some(b)) => b.secs() / 86_400 != a.secs() / 86_400,
        _ => false,
    };
    for v in current.iter().filter(|v| is_story(v.label)) {
        story(&mut out, input, v, multi_day);
    }
    // Probed hosts, grouped by who probed them.
    let mut probed: BTreeMap<String, Vec<IpAddr>> = BTreeMap::new();
    for v in current.iter().filter(|v| v.label == Label::Probed) {
        let by: Vec<String> = {
            let mut b: Vec<String> = v
                .evidence
                .iter()
                .filter_map(|e| e.peer.map(|p| p.to_string()))
                .collect();
            b.sort();
            b.dedup();
            b
        };
        let key = if by.is_empty() {
            "a scanner".to_string()
        } else {
            by.join(", ")
        };
        probed.entry(key).or_default().push(v.host);
    }
    if !probed.is_empty() {
        let _ = writeln!(out);
        for (by, ips) in &probed {
            let _ = writeln!(
                out,
                "probed by {by}: {} host(s): {}",
                thousands(ips.len() as u64),
                list(ips, 8)
            );
        }
    }
    let clean: Vec<&&Verdict> = current.iter().filter(|v| v.label == Label::Clean).collect();
    if !clean.is_empty() {
        let with_evidence = clean.iter().filter(|v| !v.evidence.is_empty()).count();
        let _ = writeln!(
            out,
            "\nclean: {} host(s), {} with weak or partial evidence",
            thousands(clean.len() as u64),
            thousands(with_evidence as u64)
        );
        for v in clean.iter().filter(|v| !v.evidence.is_empty()).take(20) {
            let why = v
                .why_not
                .first()
                .map(|w| format!(" — {}", w.reason))
                .unwrap_or_default();
            let _ = writeln!(out, "  {}: {}{why}", v.host, v.reason);
        }
    }
    if !input.incidents.is_empty() {
        let _ = writeln!(out, "\ncampaigns");
        for i in &input.incidents {
            let _ = writeln!(
                out,
                "  {}  {}  {} → {}",
                i.name,
                i.label.title(),
                when(i.first_seen, multi_day),
                when(i.last_seen, multi_day)
            );
            let _ = writeln!(out, "    members: {}", list(&i.hosts, 12));
            if !i.actors.is_empty() {
                let a: Vec<String> = i
                    .actors
                    .iter()
                    .map(|(ip, l)| format!("{ip} ({})", l.as_str()))
                    .collect();
                let _ = writeln!(out, "    actors:  {}", a.join(", "));
            }
            let _ = writeln!(out, "    {}", i.summary);
        }
    }
    if !input.edges.is_empty() {
        let _ = writeln!(out, "\npropagation (who infected whom)");
        for e in &input.edges {
            let vec = e
                .vector
                .as_ref()
                .map(|v| {
                    let p = stormwatch_model::IpProto(v.proto)
                        .eve_name()
                        .to_ascii_lowercase();
                    format!("  {}/{p}", v.port)
                })
                .unwrap_or_default();
            let _ = writeln!(
                out,
                "  {}  {} → {}{vec}  generation {}",
                when(e.ts, multi_day),
                e.from,
                e.to,
                e.generation
            );
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use stormwatch_model::{Confidence, EvidenceRef, FlowId, Stage, WhyNot};

    #[test]
    fn story_block_has_timeline_why_not_and_revisions() {
        let t = |s: i64| Timestamp::from_secs_nanos(1_082_451_600 + s, 0);
        let host: IpAddr = "10.1.1.20".parse().unwrap();
        let mk = |label, rev, ts| Verdict {
            ts,
            host,
            label,
            roles: vec![],
            confidence: Confidence::High,
            reason: "remote access".into(),
            evidence: vec![EvidenceRef {
                ts: t(871),
                stage: Stage::E2InboundExploit,
                flow_id: Some(FlowId(7)),
                peer: None,
                detail: "exploit: PCT [sid 2515]".into(),
            }],
            why_not: vec![WhyNot {
                label: Label::Worm,
                reason: "no outbound scanning".into(),
                span_start: None,
                span_end: None,
            }],
            revision: rev,
            previous: None,
            campaign: Some("trojan-pct443-irc443-3f9a".into()),
            infected_by: None,
            generation: None,
            internal: true,
        };
        let input = ReportInput {
            verdicts: vec![mk(Label::Targeted, 1, t(871)), mk(Label::Trojan, 2, t(902))],
            ..ReportInput::default()
        };
        let r = render_text(&input);
        assert!(
            r.contains("10.1.1.20        TROJAN/BACKDOOR (not self-propagating)"),
            "{r}"
        );
        assert!(r.contains("confidence: high"));
        assert!(
            r.contains("09:14:31  E2 exploit: PCT [sid 2515]  [flow 7]"),
            "{r}"
        );
        assert!(r.contains("why not a worm: no outbound scanning"), "{r}");
        assert!(
            r.contains("revisions: targeted (09:14:31) → trojan (09:15:02)"),
            "{r}"
        );
        assert!(r.contains("campaign trojan-pct443-irc443-3f9a"));
    }
}
