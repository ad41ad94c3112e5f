//! The rules of judgement (documented in `docs/verdicts.md`): from a host's
//! evidence summary and its acts towards others to a label, confidence, reason and
//! the why-not of every rejected kind.

use crate::config::CorrelateConfig;
use crate::host::{HostState, HostTable, STAGES, StageSum, Summary, flag, stage_index};
use crate::map::{port_proto, thousands, tool_words};
use rustc_hash::FxHashMap;
use std::net::IpAddr;
use stormwatch_model::{
    Confidence, EvidenceRef, Label, NANOS_PER_SEC, Stage, Strength, Timestamp, Vector, Verdict,
    WhyNot, human_duration,
};

/// What the judge may look at besides the host itself.
pub(crate) struct Ctx<'a> {
    pub cfg: &'a CorrelateConfig,
    pub table: &'a HostTable,
    pub controllers: &'a FxHashMap<String, Vec<u32>>,
    /// Latest packet time seen (the end of the watched span so far).
    pub now: Timestamp,
    /// End of input: kinds may be decided by elimination over the whole span.
    pub last: bool,
}

/// Which compromise rule held.
#[derive(Copy, Clone, Debug, PartialEq)]
pub(crate) enum Rule {
    /// A non-weak control channel (strong = interactive remote control).
    Channel(bool),
    /// An exploit followed by a consequence stage.
    ExploitThen(Stage),
    /// Two consequence stages.
    Pair(Stage, Stage),
}

/// Why a host is compromised.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Compromise {
    /// Time of the evidence that completed the rule.
    pub ts: Timestamp,
    /// The rule.
    pub rule: Rule,
}

fn consequence(s: Stage) -> &'static str {
    match s {
        Stage::E3EggDownload => "an egg download",
        Stage::E5OutboundAttack => "outbound attacks",
        _ => "a new listener",
    }
}

/// One phrase: `exploit from 203.0.113.7 followed by a new listener`.
fn how(c: &Compromise, s: &Summary) -> String {
    match c.rule {
        Rule::Channel(true) => "an interactive remote-control channel".to_string(),
        Rule::Channel(false) => "a command-and-control channel".to_string(),
        Rule::ExploitThen(x) => {
            let from = nw(s, Stage::E2InboundExploit)
                .and_then(|e| e.first_peer)
                .map(|p| format!(" from {p}"))
                .unwrap_or_default();
            format!("exploit{from} followed by {}", consequence(x))
        }
        Rule::Pair(a, b) => format!("{} and {}", consequence(a), consequence(b)),
    }
}

/// Why a host is the kind it is.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum KindWhy {
    /// Not compromised, or kind not decided.
    None,
    /// Bot: commands in the channel.
    BotCommands,
    /// Bot: acts in step with others sharing a controller (its index in the
    /// host's controllers, group size).
    InStep(usize, usize),
    /// Worm: attacks on the vector it was infected by.
    SameVector(Vector),
    /// Worm: generation ≥ 2.
    Generation(u32, IpAddr),
    /// Worm: hosts it infected are compromised.
    Children(usize),
    /// Trojan: remote access.
    RemoteAccess,
}

/// The judge's decision about one host.
#[derive(Clone, Debug)]
pub(crate) struct Decision {
    pub label: Label,
    pub roles: Vec<Label>,
    pub confidence: Confidence,
    pub compromise: Option<Compromise>,
    pub kind: KindWhy,
    pub infected_by: Option<IpAddr>,
    pub infection_vector: Option<Vector>,
    pub generation: Option<u32>,
    pub summary: Summary,
}

fn st(s: &Summary, stage: Stage) -> Option<&StageSum> {
    s[stage_index(stage)].as_ref()
}

fn nw(s: &Summary, stage: Stage) -> Option<&StageSum> {
    st(s, stage).filter(|x| x.has_nonweak())
}

fn secs(n: u64) -> i64 {
    i64::try_from(n)
        .unwrap_or(i64::MAX)
        .saturating_mul(NANOS_PER_SEC)
}

/// `tcp/443 (pct)`-style words for a vector.
pub(crate) fn vector_words(v: &Vector) -> String {
    port_proto(v.port, v.proto)
}

fn same_vector(a: &Vector, b: &Vector) -> bool {
    a.proto == b.proto && a.port == b.port && a.port != 0
}

/// Decides whether and when the host was compromised.
fn compromise(cfg: &CorrelateConfig, s: &Summary) -> Option<Compromise> {
    let w = secs(cfg.window_secs);
    let slack = secs(cfg.exploit_slack_secs);
    let mut best: Option<Compromise> = None;
    let mut consider = |ts: Timestamp, rule: Rule| {
        if best.as_ref().is_none_or(|b| ts < b.ts) {
            best = Some(Compromise { ts, rule });
        }
    };
    if let Some(e4) = nw(s, Stage::E4C2) {
        consider(e4.first_nonweak, Rule::Channel(e4.best == Strength::Strong));
    }
    let follow = [
        Stage::E3EggDownload,
        Stage::E5OutboundAttack,
        Stage::E6NewListener,
    ];
    if let Some(e2) = nw(s, Stage::E2InboundExploit) {
        for t2 in [e2.first_nonweak, e2.last_nonweak] {
            for stage in follow {
                if let Some(x) = nw(s, stage) {
                    let lo = Timestamp(t2.0.saturating_sub(slack));
                    let hi = Timestamp(t2.0.saturating_add(w));
                    if x.last_nonweak >= lo && x.first_nonweak <= hi {
                        let ts = if x.first_nonweak >= lo {
                            t2.max(x.first_nonweak)
                        } else {
                            t2
                        };
                        consider(ts, Rule::ExploitThen(stage));
                    }
                }
            }
        }
    }
    for (ai, a) in follow.iter().enumerate() {
        for b in follow.iter().skip(ai + 1) {
            if let (Some(x), Some(y)) = (nw(s, *a), nw(s, *b))
                && x.first_nonweak.0 <= y.last_nonweak.0.saturating_add(w)
                && y.first_nonweak.0 <= x.last_nonweak.0.saturating_add(w)
            {
                consider(x.first_nonweak.max(y.first_nonweak), Rule::Pair(*a, *b));
            }
        }
    }
    best
}

/// Roles a host plays towards others.
pub(crate) fn actor_roles(ctx: &Ctx<'_>, h: &HostState) -> Vec<Label> {
    let mut r = Vec::new();
    let Some(a) = h.actor() else {
        return r;
    };
    if a.controlled > 0 {
        r.push(Label::Controller);
    }
    if a.exploited > 0 {
        r.push(Label::Exploiter);
    }
    let egg_victim = a.egg_clients.iter().any(|c| {
        ctx.table
            .get(*c)
            .and_then(|i| ctx.table.hosts.get(i as usize))
            .is_some_and(|ch| ch.label.is_compromised())
    });
    let batch = a.egg_batch.len() >= crate::EGG_BATCH_FILES;
    if a.eggs_served > 0 && (a.egg_after_exploit || egg_victim || batch) {
        r.push(Label::EggServer);
    }
    if !a.scans.is_empty() || a.probed > 0 || a.brute > 0 {
        r.push(Label::Scanner);
    }
    r
}

/// Hosts of one controller compared for a bot group acting in step.
const IN_STEP_MEMBERS: usize = 64;

fn in_step(ctx: &Ctx<'_>, h: &HostState, s: &Summary) -> Option<(usize, usize)> {
    let t5 = nw(s, Stage::E5OutboundAttack)?.first_nonweak;
    let step = secs(ctx.cfg.bot_step_secs);
    let x = h.extra.as_deref()?;
    for (ci, c) in x.controllers.iter().enumerate() {
        let Some(members) = ctx.controllers.get(c) else {
            continue;
        };
        // The first hosts of a controller are compared (a group acting in step
        // shows among them).
        let n = members
            .iter()
            .take(IN_STEP_MEMBERS)
            .filter_map(|m| ctx.table.hosts.get(*m as usize))
            .filter(|mh| mh.ip != h.ip && mh.first_e5.0 != i64::MAX)
            .filter(|mh| mh.first_e5.0.saturating_sub(t5.0).abs() <= step)
            .count();
        if n > 0 {
            return Some((ci, n + 1));
        }
    }
    None
}

/// Other hosts sharing one of `h`'s controllers.
fn sharing(ctx: &Ctx<'_>, h: &HostState) -> usize {
    let Some(x) = h.extra.as_deref() else {
        return 0;
    };
    let lists: Vec<&Vec<u32>> = x
        .controllers
        .iter()
        .filter_map(|c| ctx.controllers.get(c))
        .collect();
    let me = ctx.table.get(h.ip);
    if let [one] = lists.as_slice() {
        // Each controller's list holds a host once.
        return one.len() - usize::from(me.is_some_and(|m| one.contains(&m)));
    }
    let mut ips: Vec<u32> = lists.into_iter().flatten().copied().collect();
    ips.sort_unstable();
    ips.dedup();
    ips.len() - usize::from(me.is_some_and(|m| ips.binary_search(&m).is_ok()))
}

/// Decides host `i`.
pub(crate) fn decide(ctx: &Ctx<'_>, i: u32) -> Option<Decision> {
    let h = ctx.table.hosts.get(i as usize)?;
    let s = h.summary();
    let roles = actor_roles(ctx, h);
    let comp = compromise(ctx.cfg, &s);
    let Some(c) = comp else {
        let (label, roles) = match roles.split_first() {
            Some((first, rest)) => {
                let mut rest = rest.to_vec();
                if st(&s, Stage::E2InboundExploit).is_some() {
                    rest.push(Label::Targeted);
                }
                (*first, rest)
            }
            None if st(&s, Stage::E2InboundExploit).is_some() => (Label::Targeted, Vec::new()),
            None if st(&s, Stage::E1InboundScan).is_some() => (Label::Probed, Vec::new()),
            None => (Label::Clean, Vec::new()),
        };
        let confidence = confidence_other(ctx, h, &s, label);
        return Some(Decision {
            label,
            roles,
            confidence,
            compromise: None,
            kind: KindWhy::None,
            infected_by: None,
            infection_vector: None,
            generation: None,
            summary: s,
        });
    };
    // Who infected it: the exploiter of its first exploit, else an egg server that is
    // itself compromised.
    let slack = secs(ctx.cfg.exploit_slack_secs);
    let mut infected_by = None;
    let mut infection_vector = None;
    if let Some(e2) = nw(&s, Stage::E2InboundExploit)
        && e2.first_nonweak.0 <= c.ts.0.saturating_add(slack)
    {
        infected_by = e2.first_peer;
        infection_vector = h.first_vector(Stage::E2InboundExploit, e2).cloned();
    }
    if infected_by.is_none()
        && let Some(e3) = nw(&s, Stage::E3EggDownload)
    {
        let p = e3.first_peer;
        let comp_peer = p
            .and_then(|p| ctx.table.get(p))
            .and_then(|pi| ctx.table.hosts.get(pi as usize))
            .is_some_and(|ph| ph.label.is_compromised());
        if comp_peer {
            infected_by = p;
            infection_vector = h.first_vector(Stage::E3EggDownload, e3).cloned();
        }
    }
    let parent = infected_by
        .and_then(|p| ctx.table.get(p))
        .and_then(|pi| ctx.table.hosts.get(pi as usize))
        .filter(|ph| ph.label.is_compromised() && ph.ip != h.ip);
    let children: usize = h.extra.as_deref().map_or(0, |x| {
        x.children
            .iter()
            .filter_map(|c| ctx.table.hosts.get(*c as usize))
            .filter(|ch| ch.label.is_compromised() && ch.infected_by == Some(h.ip))
            .count()
    });
    let generation = match parent {
        Some(p) => Some(p.generation.unwrap_or(1).saturating_add(1).min(64)),
        None if infected_by.is_some() => Some(1),
        None if children > 0 => Some(0),
        None => None,
    };
    // The kind needs evidence after the compromise, or the end of input.
    let later = [
        Stage::E3EggDownload,
        Stage::E4C2,
        Stage::E5OutboundAttack,
        Stage::E6NewListener,
        Stage::E7Masquerade,
    ]
    .iter()
    .filter_map(|x| nw(&s, *x))
    .map(|x| x.last_nonweak)
    .max();
    let decided = ctx.last || later.is_some_and(|t| t > c.ts);
    let x = h.extra.as_deref();
    let bot_cmds = h.flags & flag::BOT_COMMANDS != 0 && nw(&s, Stage::E4C2).is_some();
    let same_vec = if h.flags & flag::SAME_VECTOR_PROPAGATION != 0 {
        x.and_then(|x| x.out_vectors.first().cloned())
    } else {
        infection_vector.as_ref().and_then(|iv| {
            x.and_then(|x| x.out_vectors.iter().find(|v| same_vector(v, iv)).cloned())
        })
    };
    let kind = if !decided {
        KindWhy::None
    } else if bot_cmds {
        KindWhy::BotCommands
    } else if let Some((ci, n)) = in_step(ctx, h, &s) {
        KindWhy::InStep(ci, n)
    } else if let Some(v) = same_vec {
        KindWhy::SameVector(v)
    } else if let (Some(g), Some(p), Some(_)) = (
        generation.filter(|g| *g >= 2),
        infected_by,
        nw(&s, Stage::E5OutboundAttack),
    ) {
        KindWhy::Generation(g, p)
    } else if children > 0 {
        KindWhy::Children(children)
    } else if nw(&s, Stage::E4C2).is_some() || nw(&s, Stage::E6NewListener).is_some() {
        KindWhy::RemoteAccess
    } else {
        KindWhy::None
    };
    let label = if !decided {
        Label::Compromised
    } else {
        match kind {
            KindWhy::BotCommands | KindWhy::InStep(..) => Label::Bot,
            KindWhy::SameVector(_) | KindWhy::Generation(..) | KindWhy::Children(_) => Label::Worm,
            KindWhy::RemoteAccess => Label::Trojan,
            KindWhy::None => Label::Compromised,
        }
    };
    let confidence = confidence_compromised(&s);
    Some(Decision {
        label,
        roles,
        confidence,
        compromise: Some(c),
        kind,
        infected_by,
        infection_vector,
        generation,
        summary: s,
    })
}

fn confidence_compromised(s: &Summary) -> Confidence {
    let stages = s.iter().flatten().filter(|x| x.has_nonweak()).count();
    let strong = s.iter().flatten().any(|x| x.best == Strength::Strong);
    let score = stages + usize::from(strong);
    if score >= 4 {
        Confidence::High
    } else if score >= 2 {
        Confidence::Medium
    } else {
        Confidence::Low
    }
}

fn confidence_other(ctx: &Ctx<'_>, h: &HostState, s: &Summary, label: Label) -> Confidence {
    let a = h.actor();
    match label {
        Label::Targeted => match st(s, Stage::E2InboundExploit).map(|x| x.best) {
            Some(Strength::Strong) => Confidence::High,
            Some(Strength::Weak) => Confidence::Low,
            _ => Confidence::Medium,
        },
        Label::Scanner => {
            let named = a.is_some_and(|a| {
                a.scans
                    .iter()
                    .any(|s| s.automated && (s.tool.is_some() || s.target_count >= 100))
                    || a.brute > 0
            });
            if named {
                Confidence::High
            } else if a.is_some_and(|a| !a.scans.is_empty()) {
                Confidence::Medium
            } else {
                Confidence::Low
            }
        }
        Label::Exploiter => {
            if a.is_some_and(|a| a.exploited >= 2) {
                Confidence::High
            } else {
                Confidence::Medium
            }
        }
        Label::Controller => {
            if a.is_some_and(|a| a.controlled >= 2) {
                Confidence::High
            } else {
                Confidence::Medium
            }
        }
        Label::Clean => {
            if s.iter().all(Option::is_none) {
                Confidence::High
            } else {
                Confidence::Medium
            }
        }
        _ => {
            let _ = ctx;
            Confidence::Medium
        }
    }
}

fn span_words(from: Timestamp, to: Timestamp) -> String {
    human_duration(to.secs_since(from).max(0.0))
}

fn why(label: Label, reason: String, from: Timestamp, to: Timestamp) -> WhyNot {
    WhyNot {
        label,
        reason,
        span_start: Some(from),
        span_end: Some(to.max(from)),
    }
}

fn stage_list(s: &Summary) -> String {
    let mut v = Vec::new();
    for (i, x) in s.iter().enumerate() {
        if x.is_some() {
            let stage = [
                Stage::E1InboundScan,
                Stage::E2InboundExploit,
                Stage::E3EggDownload,
                Stage::E4C2,
                Stage::E5OutboundAttack,
                Stage::E6NewListener,
                Stage::E7Masquerade,
            ];
            if let Some(st) = stage.get(i) {
                v.push(st.name());
            }
        }
    }
    debug_assert!(v.len() <= STAGES);
    v.join(", ")
}

/// The reason line and why-not list of a decision.
pub(crate) fn explain(ctx: &Ctx<'_>, h: &HostState, d: &Decision) -> (String, Vec<WhyNot>) {
    let s = &d.summary;
    let ip = h.ip;
    let now = ctx.now;
    let mut why_not = Vec::new();
    if let Some(c) = &d.compromise {
        let watched = span_words(c.ts, now);
        let e4 = nw(s, Stage::E4C2);
        let e5 = nw(s, Stage::E5OutboundAttack);
        let x = h.extra.as_deref();
        let how = how(c, s);
        let reason = match (&d.label, &d.kind) {
            (Label::Bot, KindWhy::BotCommands) => {
                let ctl = x
                    .and_then(|x| x.controllers.first().cloned())
                    .unwrap_or_default();
                let cmds = x
                    .map(|x| {
                        x.commands
                            .iter()
                            .take(2)
                            .cloned()
                            .collect::<Vec<_>>()
                            .join("; ")
                    })
                    .unwrap_or_default();
                if cmds.is_empty() {
                    format!("remote-controlled automation: bot commands in its channel with {ctl}")
                } else {
                    format!("remote-controlled automation: bot commands from {ctl} ({cmds})")
                }
            }
            (Label::Bot, KindWhy::InStep(ci, n)) => {
                let ctl = x
                    .and_then(|x| x.controllers.get(*ci).cloned())
                    .unwrap_or_default();
                format!(
                    "remote-controlled automation: {n} hosts sharing controller {ctl} attack in step"
                )
            }
            (Label::Worm, KindWhy::SameVector(v)) => format!(
                "self-propagating: attacks others on {}, the vector it was infected by",
                vector_words(v)
            ),
            (Label::Worm, KindWhy::Generation(g, p)) => format!(
                "self-propagating: generation {g} in the propagation graph (infected by {p}, itself infected) and attacking others"
            ),
            (Label::Worm, KindWhy::Children(n)) => {
                format!("self-propagating: {n} host(s) it attacked were compromised in turn")
            }
            (Label::Trojan, KindWhy::RemoteAccess) => {
                let mut parts = Vec::new();
                if let Some(x) = x {
                    for ctl in x.controllers.iter().take(3) {
                        parts.push(format!("control channel {ctl}"));
                    }
                }
                if e4.is_some() && parts.is_empty() {
                    parts.push("a control channel".to_string());
                }
                if let Some(e6) = nw(s, Stage::E6NewListener) {
                    match h.first_vector(Stage::E6NewListener, e6) {
                        Some(v) => parts.push(format!("new listener on {}", vector_words(v))),
                        None => parts.push("a new listener".into()),
                    }
                }
                format!(
                    "remote access without propagation: {}; compromised by {}",
                    parts.join(", "),
                    how
                )
            }
            _ if ctx.last => format!(
                "compromised by {}; kind not determined (no remote-access channel, no propagation)",
                how
            ),
            _ => format!("compromised by {}; kind not determined yet", how),
        };
        if d.label != Label::Worm {
            let r = match (e5, d.label) {
                (None, _) => format!(
                    "no outbound scanning or exploitation from {ip} in the {watched} watched after compromise"
                ),
                (Some(_), Label::Bot) => format!(
                    "its outbound attacks follow its controller's commands (remote-controlled, not self-propagating) in the {watched} watched after compromise"
                ),
                (Some(_), _) => {
                    let outs = x
                        .map(|x| {
                            x.out_vectors
                                .iter()
                                .take(3)
                                .map(vector_words)
                                .collect::<Vec<_>>()
                                .join(", ")
                        })
                        .unwrap_or_default();
                    let iv = d
                        .infection_vector
                        .as_ref()
                        .map(vector_words)
                        .unwrap_or_else(|| "unknown".into());
                    format!(
                        "its outbound attacks ({outs}) do not use the vector it was infected by ({iv}) and none of its targets went on to propagate, in the {watched} watched after compromise"
                    )
                }
            };
            why_not.push(why(Label::Worm, r, c.ts, now));
        }
        if d.label != Label::Bot {
            let r = match e4 {
                None => format!(
                    "no command-and-control channel from {ip} in the {watched} watched after compromise"
                ),
                Some(_) => {
                    let n = x.map_or(0, |x| x.controllers.len());
                    let ctl = if n <= 1 {
                        "one controller".to_string()
                    } else {
                        format!("{n} controllers")
                    };
                    let others = sharing(ctx, h);
                    let group = if others == 0 {
                        "no coordinated group".to_string()
                    } else {
                        format!(
                            "{others} other host(s) share the controller but do not act in step"
                        )
                    };
                    format!("{ctl}, {group}; channel carries no automation commands")
                }
            };
            why_not.push(why(Label::Bot, r, c.ts, now));
        }
        if d.label != Label::Trojan {
            let r = match (&d.label, &d.kind) {
                (Label::Worm, _) => format!("it propagates by itself ({reason})"),
                (Label::Bot, _) => format!("it takes orders from a controller ({reason})"),
                _ => format!(
                    "no remote-access channel (C&C channel or new listener) from {ip} in the {watched} watched after compromise"
                ),
            };
            why_not.push(why(Label::Trojan, r, c.ts, now));
        }
        return (reason, why_not);
    }
    let a = h.actor();
    let reason = match d.label {
        Label::Scanner => {
            let mut parts = Vec::new();
            if let Some(a) = a {
                for sc in a.scans.iter().take(2) {
                    let ports = match sc.ports.as_slice() {
                        [] => sc.proto.clone(),
                        [p] => format!("{p}/{}", sc.proto),
                        _ => format!("{} ports/{}", thousands(sc.port_count), sc.proto),
                    };
                    let why = if sc.reason.is_empty() {
                        String::new()
                    } else {
                        format!(": {}", sc.reason)
                    };
                    parts.push(format!(
                        "{} scan of {} targets on {ports}, {}{why}",
                        sc.kind,
                        thousands(sc.target_count),
                        tool_words(sc.automated, sc.tool.as_deref())
                    ));
                }
                if a.brute > 0 {
                    parts.push(format!(
                        "password guessing ({} attempts)",
                        thousands(a.brute)
                    ));
                }
                if parts.is_empty() {
                    parts.push(format!("probed {} host(s)", thousands(a.probed)));
                }
            }
            parts.join("; ")
        }
        Label::Exploiter => format!(
            "attacked {} host(s) with exploits",
            thousands(a.map_or(0, |a| a.exploited))
        ),
        Label::Controller => format!(
            "command-and-control server for {} channel(s)",
            thousands(a.map_or(0, |a| a.controlled))
        ),
        Label::EggServer => {
            let batch = a.map_or(0, |a| a.egg_batch.len());
            if batch >= crate::EGG_BATCH_FILES && !a.is_some_and(|a| a.egg_after_exploit) {
                format!(
                    "served executables to {} download(s): a batch of {batch}+ distinct executables over FTP/TFTP/raw TCP",
                    thousands(a.map_or(0, |a| a.eggs_served))
                )
            } else {
                format!(
                    "served executables to {} download(s) by victims",
                    thousands(a.map_or(0, |a| a.eggs_served))
                )
            }
        }
        Label::Targeted => {
            let e2 = st(s, Stage::E2InboundExploit);
            let from = e2
                .and_then(|e| e.first_peer)
                .map(|p| format!(" by {p}"))
                .unwrap_or_default();
            if e2.is_some_and(|e| !e.has_nonweak()) {
                format!(
                    "attacked{from}, but the only exploit evidence is contradicted by the protocol parser or weak; no sign of success"
                )
            } else {
                format!("exploit attempted{from}; no sign of success")
            }
        }
        Label::Probed => "probed by a scanner; no exploit attempt".to_string(),
        _ => {
            if s.iter().all(Option::is_none) {
                "no evidence".to_string()
            } else {
                format!("only {} seen, not enough for a compromise", stage_list(s))
            }
        }
    };
    let (first, _) = h.span().unwrap_or((now, now));
    match d.label {
        Label::Targeted => {
            let from = st(s, Stage::E2InboundExploit).map_or(first, |e| e.first);
            why_not.push(why(
                Label::Compromised,
                format!(
                    "no egg download, control channel, outbound attack or new listener from {ip} in the {} watched after the exploit attempt",
                    span_words(from, now)
                ),
                from,
                now,
            ));
        }
        Label::Clean if s.iter().any(Option::is_some) => {
            let e3 = st(s, Stage::E3EggDownload).is_some();
            let beacon = st(s, Stage::E4C2).is_some();
            let what = if e3 && !beacon {
                "a download alone is not a compromise"
            } else if beacon && !e3 {
                "a weak control-channel sign (beaconing, IRC use) alone is not a compromise"
            } else {
                "no two stages of an infection agree"
            };
            why_not.push(why(
                Label::Compromised,
                format!(
                    "{what}: no exploit against {ip} and no second stage in the {} watched",
                    span_words(first, now)
                ),
                first,
                now,
            ));
        }
        Label::Scanner | Label::Exploiter if h.internal => {
            why_not.push(why(
                Label::Compromised,
                format!(
                    "attacking others only: no exploit against {ip}, no egg download, control channel or new listener in the {} watched",
                    span_words(first, now)
                ),
                first,
                now,
            ));
        }
        _ => {}
    }
    (reason, why_not)
}

/// Citations for a verdict: the host's stored evidence and its acts, in time order.
pub(crate) fn citations(h: &HostState, max: usize) -> Vec<EvidenceRef> {
    let mut v: Vec<EvidenceRef> = h
        .slots
        .iter()
        .map(|s| EvidenceRef {
            ts: s.ev.ts,
            stage: s.ev.stage,
            flow_id: s.ev.flow_id,
            peer: s.ev.peer,
            detail: if s.repeats > 1 {
                format!("{} (×{})", s.ev.detail, s.repeats)
            } else {
                s.ev.detail.clone()
            },
        })
        .collect();
    if let Some(a) = h.actor() {
        v.extend(a.acted.iter().cloned());
    }
    v.sort_by(|a, b| {
        a.ts.cmp(&b.ts)
            .then(a.stage.cmp(&b.stage))
            .then(a.detail.cmp(&b.detail))
    });
    v.truncate(max);
    v
}

/// Evidence cited per verdict of a compromised host or an external actor (the
/// earliest, in time order).
pub(crate) const MAX_CITATIONS: usize = 16;
/// Evidence cited per verdict of a probed, targeted or clean host.
pub(crate) const MAX_CITATIONS_MINOR: usize = 4;

/// Builds the verdict record.
#[allow(clippy::too_many_arguments)]
pub(crate) fn render(
    ctx: &Ctx<'_>,
    h: &HostState,
    d: &Decision,
    ts: Timestamp,
    revision: u32,
    previous: Option<Label>,
    campaign: Option<String>,
) -> Verdict {
    let (reason, why_not) = explain(ctx, h, d);
    Verdict {
        ts,
        host: h.ip,
        label: d.label,
        roles: d.roles.clone(),
        confidence: d.confidence,
        reason,
        evidence: citations(
            h,
            if d.label.is_compromised()
                || d.compromise.is_some()
                || !d.roles.is_empty()
                || matches!(
                    d.label,
                    Label::Scanner | Label::Exploiter | Label::Controller | Label::EggServer
                )
            {
                MAX_CITATIONS
            } else {
                MAX_CITATIONS_MINOR
            },
        ),
        why_not,
        revision,
        previous,
        campaign,
        infected_by: d.infected_by,
        generation: d.generation,
        internal: h.internal,
    }
}

/// A fingerprint of a verdict's content (not its time or revision), to tell
/// whether a restatement at the end of input says anything new.
pub(crate) fn fingerprint(v: &Verdict) -> u64 {
    let mut h = Fnv::default();
    h.str(v.label.as_str());
    for r in &v.roles {
        h.str(r.as_str());
    }
    h.str(v.confidence.as_str());
    h.str(&v.reason);
    for w in &v.why_not {
        h.str(w.label.as_str());
        h.str(&w.reason);
        h.num(w.span_start.map_or(0, |t| t.0));
        h.num(w.span_end.map_or(0, |t| t.0));
    }
    h.str(v.campaign.as_deref().unwrap_or(""));
    match v.infected_by {
        Some(IpAddr::V4(a)) => h.bytes(&a.octets()),
        Some(IpAddr::V6(a)) => h.bytes(&a.octets()),
        None => h.bytes(b"-"),
    }
    h.num(v.generation.map_or(-1, i64::from));
    for e in &v.evidence {
        h.str(&e.detail);
    }
    h.0
}

/// Streaming FNV-1a with field separators.
struct Fnv(u64);

impl Default for Fnv {
    fn default() -> Self {
        Fnv(0xcbf2_9ce4_8422_2325)
    }
}

impl Fnv {
    fn bytes(&mut self, b: &[u8]) {
        for x in b {
            self.0 ^= u64::from(*x);
            self.0 = self.0.wrapping_mul(0x0100_0000_01b3);
        }
        self.0 ^= 0xff;
        self.0 = self.0.wrapping_mul(0x0100_0000_01b3);
    }
    fn str(&mut self, s: &str) {
        self.bytes(s.as_bytes());
    }
    fn num(&mut self, n: i64) {
        self.bytes(&n.to_le_bytes());
    }
}

/// FNV-1a, 64 bit: a stable hash (same input, same value on every platform).
pub(crate) fn fnv1a(b: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for x in b {
        h ^= u64::from(*x);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::host::FirstSrc;

    fn sum(first: i64, last: i64, strength: Strength) -> StageSum {
        let weak = strength == Strength::Weak;
        StageSum {
            count: 1,
            first: Timestamp::from_secs_nanos(first, 0),
            last: Timestamp::from_secs_nanos(last, 0),
            nonweak: u64::from(!weak),
            first_nonweak: Timestamp(if weak {
                i64::MAX
            } else {
                first * NANOS_PER_SEC
            }),
            last_nonweak: Timestamp(if weak { i64::MIN } else { last * NANOS_PER_SEC }),
            best: strength,
            first_peer: None,
            first_src: FirstSrc::None,
        }
    }

    fn with(stages: &[(Stage, i64, Strength)]) -> Summary {
        let mut s: Summary = Default::default();
        for (st, t, strength) in stages {
            s[stage_index(*st)] = Some(sum(*t, *t, *strength));
        }
        s
    }

    const N: Strength = Strength::Normal;
    const W: Strength = Strength::Weak;

    #[test]
    fn compromise_rules() {
        let cfg = CorrelateConfig::default(); // window 6 h, slack 5 s
        let c = |st: &[(Stage, i64, Strength)]| compromise(&cfg, &with(st));
        use Stage::*;
        // Exploit then listener within the window.
        let r = c(&[(E2InboundExploit, 100, N), (E6NewListener, 102, N)]).unwrap();
        assert_eq!(
            (r.ts.secs(), r.rule),
            (102, Rule::ExploitThen(E6NewListener))
        );
        // Listener 7 h later: outside the window.
        assert!(
            c(&[
                (E2InboundExploit, 100, N),
                (E6NewListener, 100 + 7 * 3600, N)
            ])
            .is_none()
        );
        // Listener well before the exploit: not its consequence.
        assert!(c(&[(E2InboundExploit, 1000, N), (E6NewListener, 900, N)]).is_none());
        // Within the slack before the exploit counts, dated at the exploit.
        let r = c(&[(E2InboundExploit, 1000, N), (E6NewListener, 997, N)]).unwrap();
        assert_eq!(r.ts.secs(), 1000);
        // A weak exploit never joins.
        assert!(c(&[(E2InboundExploit, 100, W), (E6NewListener, 102, N)]).is_none());
        // A control channel alone: compromised, unless weak.
        assert_eq!(c(&[(E4C2, 50, N)]).unwrap().rule, Rule::Channel(false));
        assert_eq!(
            c(&[(E4C2, 50, Strength::Strong)]).unwrap().rule,
            Rule::Channel(true)
        );
        assert!(c(&[(E4C2, 50, W)]).is_none());
        // Two consequences within the window, without an exploit.
        let r = c(&[(E3EggDownload, 10, N), (E6NewListener, 20, N)]).unwrap();
        assert_eq!(
            (r.ts.secs(), r.rule),
            (20, Rule::Pair(E3EggDownload, E6NewListener))
        );
        assert!(c(&[(E3EggDownload, 10, N), (E6NewListener, 10 + 7 * 3600, N)]).is_none());
        // One consequence alone is no compromise; nor are probes.
        assert!(c(&[(E3EggDownload, 10, N)]).is_none());
        assert!(c(&[(E5OutboundAttack, 10, N)]).is_none());
        assert!(c(&[(E1InboundScan, 10, N), (E7Masquerade, 20, N)]).is_none());
        // The earliest rule wins.
        let r = c(&[
            (E4C2, 500, N),
            (E2InboundExploit, 100, N),
            (E6NewListener, 102, N),
        ])
        .unwrap();
        assert_eq!(r.ts.secs(), 102);
    }

    #[test]
    fn fingerprints_ignore_time_but_not_content() {
        let v = Verdict {
            ts: Timestamp::ZERO,
            host: "10.0.0.1".parse().unwrap(),
            label: Label::Trojan,
            roles: vec![],
            confidence: Confidence::High,
            reason: "r".into(),
            evidence: vec![],
            why_not: vec![],
            revision: 1,
            previous: None,
            campaign: None,
            infected_by: None,
            generation: None,
            internal: true,
        };
        let mut later = v.clone();
        later.ts = Timestamp(5);
        later.revision = 2;
        assert_eq!(fingerprint(&v), fingerprint(&later));
        let mut other = v.clone();
        other.campaign = Some("c".into());
        assert_ne!(fingerprint(&v), fingerprint(&other));
        assert_eq!(fnv1a(b"a"), 0xaf63_dc4c_8601_ec8c);
    }
}
