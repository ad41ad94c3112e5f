//! One self-contained HTML page: inline CSS, JS and SVG only (a Content Security
//! Policy forbids any fetch), everything escaped. Sections: summary, timeline,
//! propagation graph, campaigns, per-host stories (evidence with flow ids, why-not,
//! revisions), then probed and clean hosts compactly.

use super::svg::{esc, label_class, propagation_graph, stage_colour, timeline};
use super::{ReportInput, flow_words, is_story, revision_path, thousands, why_not_head};
use std::collections::BTreeMap;
use std::fmt::Write;
use std::net::IpAddr;
use stormwatch_model::{Label, Stage, Verdict, human_duration};

const CSS: &str = r#"
:root{--fg:#1d2329;--muted:#68717a;--bg:#fbfbfa;--card:#fff;--line:#dfe3e6}
*{box-sizing:border-box}
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif;color:var(--fg);background:var(--bg);margin:0;padding:24px 32px;max-width:1200px}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px;border-bottom:1px solid var(--line);padding-bottom:4px}h3{font-size:15px;margin:0 0 6px}
.meta,.muted{color:var(--muted)}
ul.counts{list-style:none;padding:0;margin:8px 0;display:flex;flex-wrap:wrap;gap:6px}
ul.counts li{padding:2px 8px;border-radius:10px;background:#eef0f2}
nav a{margin-right:12px}
article.host{background:var(--card);border:1px solid var(--line);border-left:6px solid #95a5a6;border-radius:6px;padding:12px 14px;margin:12px 0}
.badge{font-size:12px;font-weight:600;padding:1px 8px;border-radius:9px;background:#eee;margin-left:8px}
.conf{font-size:12px;color:var(--muted);margin-left:8px}
table.ev{border-collapse:collapse;width:100%;margin:6px 0}
table.ev td{padding:2px 6px;vertical-align:top;border-top:1px solid #f0f2f3}
td.t{white-space:nowrap;font-family:ui-monospace,Menlo,Consolas,monospace;color:var(--muted)}
td.st{white-space:nowrap}td.fl{white-space:nowrap;color:var(--muted);font-size:12px}
.stage{display:inline-block;min-width:26px;text-align:center;color:#fff;border-radius:4px;font-size:11px;padding:0 4px}
ul.whynot{margin:6px 0;padding-left:18px}ul.whynot li{margin:2px 0}
.span{color:var(--muted);font-size:12px}
.revisions{font-size:13px}
.l-worm{border-left-color:#8e0000!important}.l-bot{border-left-color:#c0392b!important}.l-trojan{border-left-color:#d35400!important}
.l-compromised{border-left-color:#e67e22!important}.l-controller,.l-exploiter,.l-egg-server{border-left-color:#6c3483!important}
.l-scanner{border-left-color:#2471a3!important}.l-targeted{border-left-color:#b7950b!important}
.badge.l-worm,.badge.l-bot,.badge.l-trojan,.badge.l-compromised{background:#fdecea;color:#8e1b10}
.badge.l-scanner,.badge.l-controller,.badge.l-exploiter,.badge.l-egg-server{background:#eaf1fb;color:#1b4f8e}
.badge.l-targeted{background:#fdf6e3;color:#7d6608}
details.minor{margin:8px 0}details.minor p{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:12px;word-break:break-word}
.card{background:var(--card);border:1px solid var(--line);border-radius:6px;padding:10px 14px;margin:10px 0}
.scroll{overflow-x:auto;background:var(--card);border:1px solid var(--line);border-radius:6px;padding:8px}
svg text{font:12px system-ui,sans-serif;fill:#1d2329}
svg .colhead{font-weight:600;fill:#68717a}svg .muted{fill:#68717a}
svg .node rect{fill:#fff;stroke:#95a5a6;stroke-width:1.5}
svg .node.l-worm rect,svg .node.l-bot rect,svg .node.l-trojan rect,svg .node.l-compromised rect{stroke:#c0392b;fill:#fdecea}
svg .node.l-exploiter rect,svg .node.l-controller rect,svg .node.l-scanner rect,svg .node.l-egg-server rect{stroke:#1b4f8e;fill:#eaf1fb}
svg .ip{font-weight:600}svg .lab{fill:#68717a}
svg .edge{fill:none;stroke:#555;stroke-width:1.6}svg .edge.c2{stroke-dasharray:5 4;stroke:#c0392b}
svg .tick{stroke:#e5e8ea}svg .ticklab{fill:#68717a;font-size:11px}svg .row{stroke:#eef0f2}
.legend span{display:inline-block;margin-right:10px;font-size:12px}.legend i{display:inline-block;width:10px;height:10px;border-radius:5px;margin-right:4px;vertical-align:middle}
footer{margin-top:32px;color:var(--muted);font-size:12px}
body:not(.all) .optional{display:none}
"#;

const JS: &str = r#"
(function () {
  var box = document.getElementById("show-all");
  if (!box) { return; }
  box.addEventListener("change", function () {
    document.body.classList.toggle("all", box.checked);
  });
})();
"#;

fn host_id(ip: IpAddr) -> String {
    format!(
        "host-{}",
        ip.to_string()
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
            .collect::<String>()
    )
}

fn stage_pill(s: Stage) -> String {
    format!(
        "<span class=\"stage\" style=\"background:{}\" title=\"{}\">{}</span>",
        stage_colour(s),
        esc(s.name()),
        s.code()
    )
}

fn story(out: &mut String, input: &ReportInput, v: &Verdict) {
    let _ = write!(
        out,
        "<article class=\"host {}\" id=\"{}\"><h3>{}<span class=\"badge {}\">{}</span><span class=\"conf\">confidence {}</span></h3>",
        label_class(v.label),
        host_id(v.host),
        esc(&v.host.to_string()),
        label_class(v.label),
        esc(v.label.title()),
        esc(v.confidence.as_str())
    );
    if !v.reason.is_empty() {
        let _ = write!(out, "<p class=\"reason\">{}</p>", esc(&v.reason));
    }
    if !v.evidence.is_empty() {
        out.push_str("<table class=\"ev\">");
        for e in &v.evidence {
            let flow = e
                .flow_id
                .map(|f| esc(&flow_words(input, f)))
                .unwrap_or_default();
            let _ = write!(
                out,
                "<tr><td class=\"t\">{}</td><td class=\"st\">{}</td><td>{}</td><td class=\"fl\">{flow}</td></tr>",
                esc(&e.ts.to_time_of_day()),
                stage_pill(e.stage),
                esc(&e.detail)
            );
        }
        out.push_str("</table>");
    }
    if !v.why_not.is_empty() {
        out.push_str("<ul class=\"whynot\">");
        for w in &v.why_not {
            let span = match (w.span_start, w.span_end) {
                (Some(a), Some(b)) => format!(
                    " <span class=\"span\">(span {} → {}, {})</span>",
                    esc(&a.to_human()),
                    esc(&b.to_human()),
                    esc(&human_duration(b.secs_since(a)))
                ),
                _ => String::new(),
            };
            let _ = write!(
                out,
                "<li><b>{}:</b> {}{span}</li>",
                esc(&why_not_head(w.label)),
                esc(&w.reason)
            );
        }
        out.push_str("</ul>");
    }
    let hist = input.history(v.host);
    if hist.len() > 1 {
        let _ = write!(
            out,
            "<p class=\"revisions\"><b>revisions:</b> {}</p>",
            esc(&revision_path(&hist))
        );
    }
    let mut tail = Vec::new();
    if let Some(c) = &v.campaign {
        tail.push(format!(
            "campaign <a href=\"#{}\">{}</a>",
            esc(&campaign_id(c)),
            esc(c)
        ));
    }
    if let Some(by) = v.infected_by {
        let g = v
            .generation
            .map(|g| format!(" (generation {g})"))
            .unwrap_or_default();
        tail.push(format!(
            "infected by <a href=\"#{}\">{}</a>{}",
            host_id(by),
            esc(&by.to_string()),
            esc(&g)
        ));
    }
    if !v.roles.is_empty() {
        let r: Vec<&str> = v.roles.iter().map(|l| l.as_str()).collect();
        tail.push(format!("also {}", esc(&r.join(", "))));
    }
    if !tail.is_empty() {
        let _ = write!(out, "<p class=\"meta\">{}</p>", tail.join(" · "));
    }
    out.push_str("</article>");
}

fn campaign_id(name: &str) -> String {
    format!(
        "campaign-{}",
        name.chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
            .collect::<String>()
    )
}

fn ip_list(ips: &[IpAddr], max: usize) -> String {
    let mut s: Vec<String> = ips.iter().take(max).map(|i| esc(&i.to_string())).collect();
    if ips.len() > max {
        s.push(format!("… ({} more)", thousands((ips.len() - max) as u64)));
    }
    s.join(", ")
}

/// The HTML report: one file, no external resources.
pub fn render_html(input: &ReportInput) -> String {
    let mut out = String::with_capacity(16 * 1024);
    let current = input.current();
    let by_ip: BTreeMap<IpAddr, &Verdict> = current.iter().map(|v| (v.host, *v)).collect();
    let title = if input.summary.captures.is_empty() {
        "stormwatch report".to_string()
    } else {
        format!("stormwatch report — {}", input.summary.captures.join(", "))
    };
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:\"><title>{}</title><style>{CSS}</style></head><body>",
        esc(&title)
    );
    let s = &input.summary;
    let _ = write!(out, "<header><h1>{}</h1>", esc(&title));
    let mut meta = Vec::new();
    if let (Some(a), Some(b)) = (s.first_ts, s.last_ts) {
        meta.push(format!(
            "watched {} → {} UTC ({})",
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
            meta.push(format!("{} {what}", thousands(n)));
        }
    }
    if let Some(h) = &s.home_net {
        meta.push(format!("home net {h}"));
    }
    if !meta.is_empty() {
        let _ = write!(out, "<p class=\"meta\">{}</p>", esc(&meta.join(" · ")));
    }
    out.push_str("<ul class=\"counts\">");
    let counts = input.counts();
    if counts.is_empty() {
        out.push_str("<li>no hosts judged</li>");
    }
    for (l, n) in counts {
        let _ = write!(
            out,
            "<li class=\"{}\">{} {}</li>",
            label_class(l),
            thousands(n as u64),
            esc(l.as_str())
        );
    }
    out.push_str("</ul></header>");
    out.push_str("<nav><a href=\"#timeline-section\">timeline</a><a href=\"#graph-section\">propagation graph</a><a href=\"#campaigns\">campaigns</a><a href=\"#hosts\">hosts</a></nav>");

    out.push_str("<section id=\"timeline-section\"><h2>Timeline</h2><div class=\"legend\">");
    for st in [
        Stage::E1InboundScan,
        Stage::E2InboundExploit,
        Stage::E3EggDownload,
        Stage::E4C2,
        Stage::E5OutboundAttack,
        Stage::E6NewListener,
        Stage::E7Masquerade,
    ] {
        let _ = write!(
            out,
            "<span><i style=\"background:{}\"></i>{} {}</span>",
            stage_colour(st),
            st.code(),
            esc(st.name())
        );
    }
    let _ = write!(
        out,
        "</div><div class=\"scroll\">{}</div></section>",
        timeline(input, &current)
    );
    let _ = write!(
        out,
        "<section id=\"graph-section\"><h2>Propagation graph</h2><p class=\"muted\">Solid arrows: exploit or egg from one host to another, columns by generation. Dashed: control channels to controllers.</p><div class=\"scroll\">{}</div></section>",
        propagation_graph(input, &by_ip)
    );
    out.push_str("<section id=\"campaigns\"><h2>Campaigns</h2>");
    if input.incidents.is_empty() {
        out.push_str("<p class=\"muted\">no campaign</p>");
    }
    for i in &input.incidents {
        let actors: Vec<String> = i
            .actors
            .iter()
            .map(|(ip, l)| format!("{} ({})", esc(&ip.to_string()), esc(l.as_str())))
            .collect();
        let _ = write!(
            out,
            "<div class=\"card {}\" id=\"{}\"><h3>{}<span class=\"badge {}\">{}</span></h3><p>{}</p><p class=\"meta\">{} → {} · members: {}{}</p></div>",
            label_class(i.label),
            esc(&campaign_id(&i.name)),
            esc(&i.name),
            label_class(i.label),
            esc(i.label.title()),
            esc(&i.summary),
            esc(&i.first_seen.to_human()),
            esc(&i.last_seen.to_human()),
            ip_list(&i.hosts, 50),
            if actors.is_empty() {
                String::new()
            } else {
                format!(" · actors: {}", actors.join(", "))
            }
        );
    }
    out.push_str("</section>");

    out.push_str("<section id=\"hosts\"><h2>Hosts</h2><p><label><input type=\"checkbox\" id=\"show-all\"> show probed and clean hosts</label></p>");
    for v in current.iter().filter(|v| is_story(v.label)) {
        story(&mut out, input, v);
    }
    let probed: Vec<IpAddr> = current
        .iter()
        .filter(|v| v.label == Label::Probed)
        .map(|v| v.host)
        .collect();
    if !probed.is_empty() {
        let _ = write!(
            out,
            "<details class=\"minor\"><summary>{} probed host(s) (scanned, not attacked)</summary><p>{}</p></details>",
            thousands(probed.len() as u64),
            ip_list(&probed, 2000)
        );
    }
    let clean: Vec<&&Verdict> = current.iter().filter(|v| v.label == Label::Clean).collect();
    if !clean.is_empty() {
        let _ = write!(
            out,
            "<details class=\"minor\"><summary>{} clean host(s) with weak or partial evidence</summary>",
            thousands(clean.len() as u64)
        );
        for v in clean.iter().take(200) {
            let why = v
                .why_not
                .first()
                .map(|w| format!(" — {}", esc(&w.reason)))
                .unwrap_or_default();
            let _ = write!(
                out,
                "<p>{}: {}{why}</p>",
                esc(&v.host.to_string()),
                esc(&v.reason)
            );
        }
        out.push_str("</details>");
    }
    // Probed and clean hosts in full, hidden unless asked for.
    out.push_str("<div class=\"optional\">");
    for v in current
        .iter()
        .filter(|v| !is_story(v.label) && !v.evidence.is_empty())
        .take(500)
    {
        story(&mut out, input, v);
    }
    out.push_str("</div></section>");
    let _ = writeln!(
        out,
        "<footer>stormwatch — verdicts from packet time only; {} verdict record(s), {} evidence record(s).</footer><script>{JS}</script></body></html>",
        thousands(input.verdicts.len() as u64),
        thousands(input.evidence.len() as u64)
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use stormwatch_model::{Confidence, EvidenceRef, Timestamp, WhyNot};

    #[test]
    fn everything_is_escaped() {
        let v = Verdict {
            ts: Timestamp::ZERO,
            host: "10.0.0.1".parse().unwrap(),
            label: Label::Trojan,
            roles: vec![],
            confidence: Confidence::High,
            reason: "<script>alert(1)</script>".into(),
            evidence: vec![EvidenceRef {
                ts: Timestamp::ZERO,
                stage: Stage::E4C2,
                flow_id: None,
                peer: None,
                detail: "nick <img src=x onerror=alert(1)>".into(),
            }],
            why_not: vec![WhyNot {
                label: Label::Worm,
                reason: "\"quoted\" & <b>".into(),
                span_start: None,
                span_end: None,
            }],
            revision: 1,
            previous: None,
            campaign: Some("x\"><script>".into()),
            infected_by: None,
            generation: None,
            internal: true,
        };
        let input = ReportInput {
            verdicts: vec![v],
            ..ReportInput::default()
        };
        let h = render_html(&input);
        assert!(!h.contains("<script>alert"), "{h}");
        assert!(!h.contains("<img src=x"));
        assert!(h.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
        assert!(!h.contains("x\"><script>"));
        assert_eq!(h.matches("<script>").count(), 1, "only our own script");
        // No URL but the SVG namespace: nothing can be fetched.
        assert_eq!(
            h.matches("://").count(),
            h.matches("http://www.w3.org/2000/svg").count()
        );
    }
}
