//! The propagation graph (who infected whom, generations, vectors) and campaigns:
//! compromised hosts that share a controller, an infection vector or an egg, with
//! stable names built from what they share.

use crate::host::{HostState, HostTable, stage_index};
use crate::judge::{Decision, fnv1a};
use crate::map::proto_name;
use rustc_hash::FxHashMap;
use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;
use stormwatch_model::{
    EvidenceSource, Incident, Label, PropagationEdge, Stage, Strength, Timestamp, Vector,
};

/// What the graph needs of a compromised or targeted host.
#[derive(Clone, Debug)]
pub(crate) struct GraphFacts {
    /// Current label.
    pub label: Label,
    /// Infector.
    pub infected_by: Option<IpAddr>,
    /// Infection vector.
    pub infection_vector: Option<Vector>,
    /// Generation.
    pub generation: Option<u32>,
    /// Time of the infecting exploit (else of the compromise).
    pub edge_ts: Timestamp,
    /// Attacker of its first exploit (targeted hosts).
    pub e2_peer: Option<IpAddr>,
    /// Vector of its first exploit (targeted hosts).
    pub e2_vector: Option<Vector>,
}

impl GraphFacts {
    /// The facts of a decision, for compromised and targeted hosts.
    pub(crate) fn of(h: &HostState, d: &Decision) -> Option<GraphFacts> {
        if !d.label.is_compromised() && d.label != Label::Targeted {
            return None;
        }
        let e2 = d.summary[stage_index(Stage::E2InboundExploit)].as_ref();
        let e2_nw = e2.filter(|s| s.has_nonweak());
        Some(GraphFacts {
            label: d.label,
            infected_by: d.infected_by,
            infection_vector: d.infection_vector.clone(),
            generation: d.generation,
            edge_ts: e2_nw
                .map(|s| s.first_nonweak)
                .or(d.compromise.as_ref().map(|c| c.ts))
                .unwrap_or_default(),
            e2_peer: e2.and_then(|s| s.first_peer),
            e2_vector: e2.and_then(|s| h.first_vector(Stage::E2InboundExploit, s).cloned()),
        })
    }
}

/// Propagation edges (one per compromised host with a known infector), in time order.
pub(crate) fn edges(
    table: &HostTable,
    facts: &BTreeMap<usize, GraphFacts>,
) -> Vec<PropagationEdge> {
    let mut out = Vec::new();
    for (i, d) in facts {
        let Some(h) = table.hosts.get(*i) else {
            continue;
        };
        if !d.label.is_compromised() {
            continue;
        }
        let Some(from) = d.infected_by else { continue };
        out.push(PropagationEdge {
            from,
            to: h.ip,
            ts: d.edge_ts,
            vector: d.infection_vector.clone(),
            generation: d.generation.unwrap_or(1),
        });
    }
    out.sort_by(|a, b| {
        a.ts.cmp(&b.ts)
            .then(a.from.cmp(&b.from))
            .then(a.to.cmp(&b.to))
    });
    out
}

struct Uf(Vec<usize>);

impl Uf {
    fn find(&mut self, mut x: usize) -> usize {
        while let Some(&p) = self.0.get(x) {
            if p == x {
                break;
            }
            let gp = self.0.get(p).copied().unwrap_or(p);
            if let Some(slot) = self.0.get_mut(x) {
                *slot = gp;
            }
            x = p;
        }
        x
    }
    fn union(&mut self, a: usize, b: usize) {
        let (ra, rb) = (self.find(a), self.find(b));
        if ra != rb {
            let (lo, hi) = (ra.min(rb), ra.max(rb));
            if let Some(slot) = self.0.get_mut(hi) {
                *slot = lo;
            }
        }
    }
}

/// Short protocol keyword of an exploit, for campaign names.
fn vector_keyword(sig: Option<&str>, msgs: &[&str]) -> Option<&'static str> {
    const WORDS: &[(&str, &str)] = &[
        ("PCT", "pct"),
        ("pct.", "pct"),
        ("sslv2", "sslv2"),
        ("SSLv2", "sslv2"),
        ("SSL", "ssl"),
        ("LSASS", "lsass"),
        ("Lsasrv", "lsass"),
        ("DCOM", "dcom"),
        ("RPC", "rpc"),
        ("SMB", "smb"),
        ("NETBIOS", "netbios"),
        (" EK ", "ek"),
        ("Exploit Kit", "ek"),
        ("brute-force", "brute"),
        ("HTTP", "http"),
    ];
    let hay = sig.into_iter().chain(msgs.iter().copied());
    for h in hay {
        for (w, k) in WORDS {
            if h.contains(w) {
                return Some(k);
            }
        }
    }
    None
}

fn vector_tag(v: &Vector, msgs: &[&str]) -> String {
    let kw = vector_keyword(v.signature.as_deref(), msgs)
        .map(str::to_string)
        .unwrap_or_else(|| proto_name(stormwatch_model::IpProto(v.proto)));
    format!("{kw}{}", v.port)
}

/// `irc 198.51.100.9:443` → `irc443`.
fn controller_tag(c: &str) -> String {
    let (proto, rest) = c.split_once(' ').unwrap_or(("c2", c));
    let port = rest.rsplit_once(':').map(|(_, p)| p).unwrap_or("");
    let proto: String = proto
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .collect::<String>()
        .to_ascii_lowercase();
    format!("{proto}{port}")
}

fn most_common<T: Ord + Clone>(items: impl Iterator<Item = T>) -> Option<T> {
    let mut m: BTreeMap<T, usize> = BTreeMap::new();
    for i in items {
        *m.entry(i).or_default() += 1;
    }
    let best = m.values().copied().max()?;
    m.into_iter().find(|(_, n)| *n == best).map(|(k, _)| k)
}

/// Campaigns and each member host's campaign name.
pub(crate) fn campaigns(
    table: &HostTable,
    facts: &BTreeMap<usize, GraphFacts>,
    edges: &[PropagationEdge],
) -> (Vec<Incident>, FxHashMap<u32, String>) {
    let n = table.hosts.len();
    let compromised: Vec<usize> = facts
        .iter()
        .filter(|(_, d)| d.label.is_compromised())
        .map(|(i, _)| *i)
        .collect();
    let mut uf = Uf((0..n).collect());
    let mut by_key: BTreeMap<String, usize> = BTreeMap::new();
    for &i in &compromised {
        let (Some(h), Some(d)) = (table.hosts.get(i), facts.get(&i)) else {
            continue;
        };
        let mut keys = Vec::new();
        if let Some(x) = h.extra.as_deref() {
            keys.extend(x.controllers.iter().map(|c| format!("c2 {c}")));
            keys.extend(x.eggs.iter().map(|e| format!("egg {e}")));
        }
        if let Some(v) = &d.infection_vector {
            keys.push(format!("vec {}/{}", v.proto, v.port));
        }
        for k in keys {
            match by_key.get(&k) {
                Some(&j) => uf.union(i, j),
                None => {
                    by_key.insert(k, i);
                }
            }
        }
    }
    let mut is_comp = vec![false; n];
    for &i in &compromised {
        if let Some(f) = is_comp.get_mut(i) {
            *f = true;
        }
    }
    let comp = |i: usize| is_comp.get(i).copied().unwrap_or(false);
    for e in edges {
        if let (Some(a), Some(b)) = (table.get(e.from), table.get(e.to)) {
            let (a, b) = (a as usize, b as usize);
            if comp(a) && comp(b) {
                uf.union(a, b);
            }
        }
    }
    // Targeted hosts by the exploiter of their first exploit, to join campaigns.
    let mut targeted_by: FxHashMap<IpAddr, Vec<usize>> = FxHashMap::default();
    for (j, d) in facts {
        if let (Label::Targeted, Some(p)) = (d.label, d.e2_peer) {
            targeted_by.entry(p).or_default().push(*j);
        }
    }
    let mut groups: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
    for &i in &compromised {
        let r = uf.find(i);
        groups.entry(r).or_default().push(i);
    }
    let mut incidents = Vec::new();
    for members in groups.values() {
        incidents.push(build_incident(table, facts, edges, members, &targeted_by));
    }
    incidents.sort_by(|a, b| a.first_seen.cmp(&b.first_seen).then(a.hosts.cmp(&b.hosts)));
    // Same input, same names; equal names (a 16-bit hash collision) get a suffix.
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    for inc in &mut incidents {
        let k = seen.entry(inc.name.clone()).or_default();
        *k += 1;
        if *k > 1 {
            inc.name = format!("{}-{}", inc.name, k);
        }
    }
    let mut names = FxHashMap::default();
    for inc in &incidents {
        for h in &inc.hosts {
            if let Some(i) = table.get(*h) {
                names.insert(i, inc.name.clone());
            }
        }
    }
    (incidents, names)
}

fn build_incident(
    table: &HostTable,
    facts: &BTreeMap<usize, GraphFacts>,
    edges: &[PropagationEdge],
    members: &[usize],
    targeted_by: &FxHashMap<IpAddr, Vec<usize>>,
) -> Incident {
    let mut hosts: Vec<IpAddr> = Vec::new();
    let mut actors: BTreeMap<IpAddr, Label> = BTreeMap::new();
    let mut controllers: Vec<String> = Vec::new();
    let mut eggs: Vec<String> = Vec::new();
    let mut vectors: Vec<Vector> = Vec::new();
    let mut msgs: Vec<String> = Vec::new();
    let mut label = Label::Compromised;
    let mut first = Timestamp(i64::MAX);
    let mut last = Timestamp(i64::MIN);
    let add_actor = |ip: IpAddr, role: Label, actors: &mut BTreeMap<IpAddr, Label>| {
        let e = actors.entry(ip).or_insert(role);
        if role.severity_rank() < e.severity_rank() {
            *e = role;
        }
    };
    for &i in members {
        let (Some(h), Some(d)) = (table.hosts.get(i), facts.get(&i)) else {
            continue;
        };
        hosts.push(h.ip);
        if d.label.severity_rank() < label.severity_rank() {
            label = d.label;
        }
        if let Some((a, b)) = h.span() {
            first = first.min(a);
            last = last.max(b);
        }
        if let Some(v) = &d.infection_vector {
            vectors.push(v.clone());
        }
        if let Some(x) = h.extra.as_deref() {
            controllers.extend(x.controllers.iter().cloned());
            eggs.extend(x.eggs.iter().cloned());
        }
        for s in &h.slots {
            let Some(p) = s.ev.peer else { continue };
            let nonweak = s.ev.strength != Strength::Weak;
            let role = match s.ev.stage {
                Stage::E1InboundScan => Label::Scanner,
                Stage::E2InboundExploit if nonweak => {
                    if let EvidenceSource::Alert { msg, .. } = &s.ev.source
                        && msgs.len() < 64
                        && !msgs.contains(msg)
                    {
                        msgs.push(msg.clone());
                    }
                    Label::Exploiter
                }
                // A backdoor session's peer is the exploiter that opened it.
                Stage::E4C2
                    if matches!(&s.ev.source,
                        EvidenceSource::Notice { kind, .. } if kind == "backdoor_session") =>
                {
                    Label::Exploiter
                }
                Stage::E4C2 if nonweak => Label::Controller,
                Stage::E3EggDownload => Label::EggServer,
                _ => continue,
            };
            add_actor(p, role, &mut actors);
        }
        if let Some(p) = d.infected_by {
            add_actor(p, Label::Exploiter, &mut actors);
        }
    }
    hosts.sort();
    hosts.dedup();
    for h in &hosts {
        actors.remove(h);
    }
    // Targeted hosts attacked by the campaign's exploiters on its vector join it.
    let vector = most_common(vectors.iter().cloned());
    let mut member_set: BTreeSet<IpAddr> = hosts.iter().copied().collect();
    let exploiters: Vec<IpAddr> = actors
        .iter()
        .filter(|(_, l)| **l == Label::Exploiter)
        .map(|(ip, _)| *ip)
        .chain(hosts.iter().copied())
        .collect();
    for by in exploiters {
        for &j in targeted_by.get(&by).into_iter().flatten() {
            let (Some(d), Some(h)) = (facts.get(&j), table.hosts.get(j)) else {
                continue;
            };
            let same = match (&d.e2_vector, &vector) {
                (Some(a), Some(b)) => a.proto == b.proto && a.port == b.port,
                _ => false,
            };
            if same && member_set.insert(h.ip) {
                hosts.push(h.ip);
            }
        }
    }
    hosts.sort();
    let controller = most_common(controllers.iter().cloned());
    eggs.sort();
    eggs.dedup();
    let mut parts: Vec<String> = vec![label.as_str().to_string()];
    let msg_refs: Vec<&str> = msgs.iter().map(String::as_str).collect();
    if let Some(v) = &vector {
        parts.push(vector_tag(v, &msg_refs));
    }
    if let Some(c) = &controller {
        parts.push(controller_tag(c));
    }
    if vector.is_none()
        && controller.is_none()
        && let Some(e) = eggs.first()
    {
        parts.push(format!("egg{}", e.get(..6).unwrap_or(e)));
    }
    let mut addrs: Vec<String> = hosts
        .iter()
        .map(IpAddr::to_string)
        .chain(actors.keys().map(IpAddr::to_string))
        .collect();
    addrs.sort();
    let hash = fnv1a(addrs.join(",").as_bytes());
    parts.push(format!("{:04x}", hash & 0xffff));
    let name = parts.join("-");
    let inc_edges: Vec<PropagationEdge> = edges
        .iter()
        .filter(|e| member_set.contains(&e.to))
        .cloned()
        .collect();
    let actor_list: Vec<(IpAddr, Label)> = actors.into_iter().collect();
    let compromised = members.len();
    let summary = {
        let mut s = format!(
            "{compromised} host(s) compromised, judged {}",
            label.title()
        );
        if hosts.len() > compromised {
            s.push_str(&format!(", {} more attacked", hosts.len() - compromised));
        }
        if let Some(v) = &vector {
            s.push_str(&format!(", infected via {}", vector_tag(v, &msg_refs)));
        }
        let ex: Vec<String> = actor_list
            .iter()
            .filter(|(_, l)| *l == Label::Exploiter)
            .map(|(ip, _)| ip.to_string())
            .collect();
        if !ex.is_empty() {
            s.push_str(&format!(" by {}", ex.join(", ")));
        }
        if let Some(c) = &controller {
            s.push_str(&format!("; controller {c}"));
        }
        if !eggs.is_empty() {
            s.push_str(&format!("; {} egg(s)", eggs.len()));
        }
        if inc_edges.iter().any(|e| member_set.contains(&e.from)) {
            s.push_str("; members infected each other");
        } else {
            s.push_str("; no propagation between members");
        }
        s.push('.');
        s
    };
    Incident {
        name,
        label,
        first_seen: if first.0 == i64::MAX {
            Timestamp::ZERO
        } else {
            first
        },
        last_seen: if last.0 == i64::MIN {
            Timestamp::ZERO
        } else {
            last
        },
        hosts,
        actors: actor_list,
        vector,
        controller,
        eggs,
        edges: inc_edges,
        summary,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags() {
        assert_eq!(controller_tag("irc 198.51.100.9:443"), "irc443");
        assert_eq!(controller_tag("http [2001:db8::1]:80"), "http80");
        let v = Vector {
            proto: 6,
            port: 443,
            signature: Some("pct.client_hello_oversized_challenge".into()),
        };
        assert_eq!(vector_tag(&v, &[]), "pct443");
        let v = Vector {
            proto: 6,
            port: 443,
            signature: Some("2515".into()),
        };
        assert_eq!(
            vector_tag(&v, &["WEB-MISC PCT Client_Hello overflow attempt"]),
            "pct443"
        );
        assert_eq!(vector_tag(&v, &[]), "tcp443");
        assert_eq!(most_common(["b", "a", "b"].into_iter()), Some("b"));
    }
}
