//! Inline SVG for the HTML report: the propagation graph (deterministic layout:
//! one column per generation, addresses in order within a column) and a timeline
//! of each judged host's evidence.

use super::{ReportInput, is_story};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write;
use std::net::IpAddr;
use stormwatch_model::{Label, Stage, Verdict};

/// Escapes text for HTML/SVG content and attribute values.
pub(crate) fn esc(s: &str) -> String {
    let mut o = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            c if c.is_control() && c != '\n' && c != '\t' => o.push('\u{FFFD}'),
            c => o.push(c),
        }
    }
    o
}

/// CSS class of a label (`l-worm`, `l-egg-server`, ...).
pub(crate) fn label_class(l: Label) -> String {
    format!("l-{}", l.as_str())
}

/// Colour of a stage.
pub(crate) fn stage_colour(s: Stage) -> &'static str {
    match s {
        Stage::E1InboundScan => "#7f8c8d",
        Stage::E2InboundExploit => "#e67e22",
        Stage::E3EggDownload => "#8e44ad",
        Stage::E4C2 => "#c0392b",
        Stage::E5OutboundAttack => "#d35400",
        Stage::E6NewListener => "#2980b9",
        Stage::E7Masquerade => "#16a085",
    }
}

const NODE_W: i64 = 170;
const NODE_H: i64 = 40;
const COL_W: i64 = 240;
const ROW_H: i64 = 60;
const MAX_NODES: usize = 200;

/// The propagation graph: exploit/egg edges (solid, one column per generation)
/// and control-channel links to controllers (dashed, rightmost column).
pub(crate) fn propagation_graph(
    input: &ReportInput,
    current: &BTreeMap<IpAddr, &Verdict>,
) -> String {
    // Columns: generation of victims; roots (infectors that are no victims) in 0.
    let mut col: BTreeMap<IpAddr, i64> = BTreeMap::new();
    for e in &input.edges {
        let g = i64::from(e.generation);
        let c = col.entry(e.to).or_insert(g);
        *c = (*c).min(g);
    }
    for e in &input.edges {
        col.entry(e.from).or_insert(0);
    }
    // Controllers of campaign members.
    let mut c2: BTreeSet<(IpAddr, IpAddr)> = BTreeSet::new();
    for i in &input.incidents {
        for (ip, l) in &i.actors {
            if *l == Label::Controller {
                for h in &i.hosts {
                    let uses = current.get(h).is_some_and(|v| {
                        v.evidence
                            .iter()
                            .any(|e| e.stage == Stage::E4C2 && e.peer == Some(*ip))
                    });
                    if uses {
                        c2.insert((*h, *ip));
                    }
                }
            }
        }
    }
    let max_gen = col.values().copied().max().unwrap_or(0);
    for (h, _) in &c2 {
        col.entry(*h).or_insert(1);
    }
    let ctl_col = col.values().copied().max().unwrap_or(0).max(max_gen) + 1;
    for (_, c) in &c2 {
        col.entry(*c).or_insert(ctl_col);
    }
    if col.is_empty() {
        return "<svg class=\"graph\" role=\"img\" aria-label=\"propagation graph\" xmlns=\"http://www.w3.org/2000/svg\" width=\"480\" height=\"60\" viewBox=\"0 0 480 60\"><text x=\"20\" y=\"35\" class=\"muted\">no propagation or control links observed</text></svg>".to_string();
    }
    let mut columns: BTreeMap<i64, Vec<IpAddr>> = BTreeMap::new();
    for (ip, c) in col.iter().take(MAX_NODES) {
        columns.entry(*c).or_default().push(*ip);
    }
    let mut pos: BTreeMap<IpAddr, (i64, i64)> = BTreeMap::new();
    let mut rows = 0i64;
    for (ci, (_, ips)) in columns.iter().enumerate() {
        let ci = i64::try_from(ci).unwrap_or(0);
        for (ri, ip) in ips.iter().enumerate() {
            let ri = i64::try_from(ri).unwrap_or(0);
            pos.insert(*ip, (20 + ci * COL_W, 30 + ri * ROW_H));
            rows = rows.max(ri + 1);
        }
    }
    let w = 40 + i64::try_from(columns.len()).unwrap_or(1) * COL_W;
    let h = 30 + (rows - 1).max(0) * ROW_H + NODE_H + 20;
    let mut s = String::new();
    let _ = write!(
        s,
        "<svg class=\"graph\" id=\"propagation-graph\" role=\"img\" aria-label=\"propagation graph\" xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" viewBox=\"0 0 {w} {h}\">"
    );
    s.push_str("<defs><marker id=\"arrow\" viewBox=\"0 0 10 10\" refX=\"10\" refY=\"5\" markerWidth=\"7\" markerHeight=\"7\" orient=\"auto-start-reverse\"><path d=\"M 0 0 L 10 5 L 0 10 z\" fill=\"#555\"/></marker></defs>");
    // Column headings.
    for (ci, (c, _)) in columns.iter().enumerate() {
        let x = 20 + i64::try_from(ci).unwrap_or(0) * COL_W;
        let t = if *c == 0 {
            "origin".to_string()
        } else if *c == ctl_col && !c2.is_empty() && *c > max_gen {
            "controllers".to_string()
        } else {
            format!("generation {c}")
        };
        let _ = write!(
            s,
            "<text x=\"{x}\" y=\"16\" class=\"colhead\">{}</text>",
            esc(&t)
        );
    }
    let edge = |s: &mut String, a: (i64, i64), b: (i64, i64), class: &str, title: &str| {
        let (x1, y1) = (a.0 + NODE_W, a.1 + NODE_H / 2);
        let (x2, y2) = (b.0, b.1 + NODE_H / 2);
        let (x1, x2) = if x2 <= a.0 {
            (a.0, b.0 + NODE_W)
        } else {
            (x1, x2)
        };
        let mx = (x1 + x2) / 2;
        let _ = write!(
            s,
            "<path class=\"{class}\" d=\"M {x1} {y1} C {mx} {y1}, {mx} {y2}, {x2} {y2}\" marker-end=\"url(#arrow)\"><title>{}</title></path>",
            esc(title)
        );
    };
    for e in &input.edges {
        if let (Some(a), Some(b)) = (pos.get(&e.from), pos.get(&e.to)) {
            let v = e
                .vector
                .as_ref()
                .map(|v| {
                    format!(
                        " via {}/{}",
                        v.port,
                        stormwatch_model::IpProto(v.proto)
                            .eve_name()
                            .to_ascii_lowercase()
                    )
                })
                .unwrap_or_default();
            let title = format!(
                "{} infected {} at {}{v} (generation {})",
                e.from,
                e.to,
                e.ts.to_time_of_day(),
                e.generation
            );
            edge(&mut s, *a, *b, "edge", &title);
        }
    }
    for (hst, ctl) in &c2 {
        if let (Some(a), Some(b)) = (pos.get(hst), pos.get(ctl)) {
            edge(
                &mut s,
                *a,
                *b,
                "edge c2",
                &format!("{hst} is controlled by {ctl}"),
            );
        }
    }
    for (ip, (x, y)) in &pos {
        let label = current.get(ip).map_or(Label::Clean, |v| v.label);
        let _ = write!(
            s,
            "<g class=\"node {}\"><rect x=\"{x}\" y=\"{y}\" width=\"{NODE_W}\" height=\"{NODE_H}\" rx=\"6\"/><text x=\"{}\" y=\"{}\" class=\"ip\">{}</text><text x=\"{}\" y=\"{}\" class=\"lab\">{}</text><title>{} — {}</title></g>",
            label_class(label),
            x + 8,
            y + 17,
            esc(&ip.to_string()),
            x + 8,
            y + 33,
            esc(label.as_str()),
            esc(&ip.to_string()),
            esc(label.title())
        );
    }
    s.push_str("</svg>");
    s
}

fn stage_row(s: Stage) -> i64 {
    match s {
        Stage::E1InboundScan => 0,
        Stage::E2InboundExploit => 1,
        Stage::E3EggDownload => 2,
        Stage::E4C2 => 3,
        Stage::E5OutboundAttack => 4,
        Stage::E6NewListener => 5,
        Stage::E7Masquerade => 6,
    }
}

const TL_LEFT: i64 = 140;
const TL_W: i64 = 900;
const TL_ROW: i64 = 26;
const TL_ROWS: usize = 40;

/// The timeline: one row per judged host (stories only), one dot per cited
/// evidence, coloured by stage.
pub(crate) fn timeline(input: &ReportInput, current: &[&Verdict]) -> String {
    let rows: Vec<&&Verdict> = current
        .iter()
        .filter(|v| is_story(v.label) && !v.evidence.is_empty())
        .take(TL_ROWS)
        .collect();
    let times: Vec<i64> = rows
        .iter()
        .flat_map(|v| v.evidence.iter().map(|e| e.ts.0))
        .collect();
    let (Some(lo), Some(hi)) = (times.iter().min().copied(), times.iter().max().copied()) else {
        return "<svg class=\"timeline\" role=\"img\" aria-label=\"timeline\" xmlns=\"http://www.w3.org/2000/svg\" width=\"480\" height=\"40\" viewBox=\"0 0 480 40\"><text x=\"20\" y=\"25\" class=\"muted\">no evidence to show</text></svg>".to_string();
    };
    let span = (hi - lo).max(1);
    let x_of = |t: i64| -> i64 {
        let f = (t - lo) as f64 / span as f64;
        TL_LEFT + (f * TL_W as f64).round() as i64
    };
    let n = i64::try_from(rows.len()).unwrap_or(0);
    let w = TL_LEFT + TL_W + 40;
    let h = 40 + n * TL_ROW + 20;
    let mut s = String::new();
    let _ = write!(
        s,
        "<svg class=\"timeline\" id=\"timeline\" role=\"img\" aria-label=\"timeline\" xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" viewBox=\"0 0 {w} {h}\">"
    );
    for k in 0..=4i64 {
        let t = lo + span * k / 4;
        let x = x_of(t);
        let ts = stormwatch_model::Timestamp(t);
        let _ = write!(
            s,
            "<line class=\"tick\" x1=\"{x}\" y1=\"24\" x2=\"{x}\" y2=\"{}\"/><text class=\"ticklab\" x=\"{x}\" y=\"16\" text-anchor=\"middle\">{}</text>",
            h - 16,
            esc(&ts.to_time_of_day())
        );
    }
    for (ri, v) in rows.iter().enumerate() {
        let y = 40 + i64::try_from(ri).unwrap_or(0) * TL_ROW;
        let _ = write!(
            s,
            "<text class=\"rowlab {}\" x=\"8\" y=\"{}\">{}</text><line class=\"row\" x1=\"{TL_LEFT}\" y1=\"{y}\" x2=\"{}\" y2=\"{y}\"/>",
            label_class(v.label),
            y + 4,
            esc(&v.host.to_string()),
            TL_LEFT + TL_W
        );
        for e in &v.evidence {
            let flow = e
                .flow_id
                .map(|f| format!(" [flow {}]", f.0))
                .unwrap_or_default();
            // Stages at the same instant sit slightly apart (E1 above … E7 below).
            let dy = (stage_row(e.stage) - 3) * 2;
            let _ = write!(
                s,
                "<circle cx=\"{}\" cy=\"{}\" r=\"6\" fill=\"{}\"><title>{} {} {}{}</title></circle>",
                x_of(e.ts.0),
                y + dy,
                stage_colour(e.stage),
                esc(&e.ts.to_time_of_day()),
                e.stage.code(),
                esc(&e.detail),
                esc(&flow)
            );
        }
    }
    let _ = input;
    s.push_str("</svg>");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup() {
        assert_eq!(
            esc("<script>alert('x') & \"y\"</script>"),
            "&lt;script&gt;alert(&#39;x&#39;) &amp; &quot;y&quot;&lt;/script&gt;"
        );
        assert_eq!(esc("a\u{0}b"), "a\u{FFFD}b");
    }

    #[test]
    fn empty_graph_says_so() {
        let g = propagation_graph(&ReportInput::default(), &BTreeMap::new());
        assert!(g.starts_with("<svg") && g.contains("no propagation"));
    }
}
