//! What happened to whom, collected while generating; turned into [`Labels`]
//! at the end.

use crate::labels::*;
use crate::scenario::Scenario;
use crate::scenario::text::rfc3339;
use std::collections::{BTreeMap, BTreeSet};
use std::net::Ipv4Addr;
use stormwatch_model::{Label, Stage, Timestamp};

#[derive(Default)]
pub(crate) struct Facts {
    /// First time each stage was seen per host.
    stages: BTreeMap<Ipv4Addr, BTreeMap<Stage, i64>>,
    roles: BTreeMap<Ipv4Addr, BTreeSet<Label>>,
    /// Successful infection: (time, infector, port).
    pub infected: BTreeMap<Ipv4Addr, (i64, Ipv4Addr, u16)>,
    pub generation: BTreeMap<Ipv4Addr, u32>,
    targeted: BTreeSet<Ipv4Addr>,
    bots: BTreeSet<Ipv4Addr>,
    /// Hosts that attacked others on the port they were infected through.
    same_vector: BTreeSet<Ipv4Addr>,
    campaign: BTreeMap<Ipv4Addr, String>,
    pub scans: Vec<ScanLabel>,
    pub exploits: Vec<ExploitLabel>,
    pub c2: Vec<C2Label>,
    pub eggs: Vec<EggLabel>,
    pub listeners: Vec<ListenerLabel>,
    pub propagation: Vec<PropagationLabel>,
    /// Outbound attack ports per host.
    attack_ports: BTreeMap<Ipv4Addr, BTreeSet<u16>>,
}

impl Facts {
    pub fn stage(&mut self, ip: Ipv4Addr, st: Stage, ts: i64) {
        let e = self.stages.entry(ip).or_default().entry(st).or_insert(ts);
        if ts < *e {
            *e = ts;
        }
    }

    pub fn role(&mut self, ip: Ipv4Addr, l: Label) {
        self.roles.entry(ip).or_default().insert(l);
    }

    pub fn targeted(&mut self, ip: Ipv4Addr) {
        self.targeted.insert(ip);
    }

    pub fn infect(&mut self, victim: Ipv4Addr, ts: i64, by: Ipv4Addr, port: u16, generation: u32) {
        self.infected.entry(victim).or_insert((ts, by, port));
        self.generation.entry(victim).or_insert(generation);
    }

    pub fn is_infected_before(&self, ip: Ipv4Addr, ts: i64) -> bool {
        self.infected.get(&ip).is_some_and(|(t, _, _)| *t <= ts)
    }

    pub fn bot(&mut self, ip: Ipv4Addr) {
        self.bots.insert(ip);
    }

    pub fn is_bot(&self, ip: Ipv4Addr) -> bool {
        self.bots.contains(&ip)
    }

    /// `ip` attacked others on `port` (scan or exploit) at `ts`.
    pub fn attack(&mut self, ip: Ipv4Addr, port: u16, ts: i64, internal: bool) {
        if internal {
            self.stage(ip, Stage::E5OutboundAttack, ts);
        }
        self.attack_ports.entry(ip).or_default().insert(port);
    }

    pub fn campaign(&mut self, ip: Ipv4Addr, name: &str) {
        self.campaign.entry(ip).or_insert_with(|| name.to_string());
    }

    pub fn labels(mut self, sc: &Scenario, addrs: &[Ipv4Addr], last_ts: i64) -> Labels {
        // Same-vector propagation: attacked others on the port it was infected through.
        for (ip, (_, _, port)) in &self.infected {
            if self.attack_ports.get(ip).is_some_and(|p| p.contains(port)) {
                self.same_vector.insert(*ip);
            }
        }
        let internal = |ip: Ipv4Addr| sc.home_net.iter().any(|c| c.contains(ip.into()));
        let mut hosts = Vec::with_capacity(addrs.len());
        let mut kinds: BTreeMap<Ipv4Addr, Label> = BTreeMap::new();
        for &ip in addrs {
            let decl = sc.hosts.iter().find(|h| h.ip == ip);
            let stages = self.stages.get(&ip).cloned().unwrap_or_default();
            let mut ordered: Vec<(i64, Stage)> = stages.iter().map(|(s, t)| (*t, *s)).collect();
            ordered.sort();
            let has = |s: Stage| stages.contains_key(&s);
            let post = [
                Stage::E3EggDownload,
                Stage::E4C2,
                Stage::E5OutboundAttack,
                Stage::E6NewListener,
            ]
            .iter()
            .filter(|s| has(**s))
            .count();
            let exploited = self.infected.contains_key(&ip);
            let compromised = internal(ip)
                && (self.bots.contains(&ip)
                    || (exploited && post >= 1)
                    || post >= 2 && has(Stage::E4C2));
            let mut roles: BTreeSet<Label> = self.roles.get(&ip).cloned().unwrap_or_default();
            let derived = if compromised {
                if self.same_vector.contains(&ip)
                    || self.generation.get(&ip).is_some_and(|g| *g >= 2)
                        && has(Stage::E5OutboundAttack)
                {
                    Label::Worm
                } else if self.bots.contains(&ip) {
                    Label::Bot
                } else if has(Stage::E4C2) || has(Stage::E6NewListener) {
                    Label::Trojan
                } else {
                    Label::Compromised
                }
            } else if let Some(r) = roles.iter().min_by_key(|l| l.severity_rank()).copied() {
                r
            } else if self.targeted.contains(&ip) || exploited {
                Label::Targeted
            } else if has(Stage::E1InboundScan) {
                Label::Probed
            } else {
                Label::Clean
            };
            let label = decl.and_then(|d| d.label).unwrap_or(derived);
            roles.remove(&label);
            if label.is_compromised() {
                kinds.insert(ip, label);
            }
            let (infected_by, generation) = match self.infected.get(&ip) {
                Some((_, by, _)) if label.is_compromised() => {
                    (Some(by.to_string()), self.generation.get(&ip).copied())
                }
                _ => (None, None),
            };
            let campaign = if label.is_compromised() {
                Some(
                    self.campaign
                        .get(&ip)
                        .cloned()
                        .unwrap_or_else(|| sc.name.clone()),
                )
            } else {
                None
            };
            hosts.push(HostLabel {
                ip: ip.to_string(),
                name: decl.map(|d| d.name.clone()),
                label: label.as_str().to_string(),
                stages: ordered.iter().map(|(_, s)| s.code().to_string()).collect(),
                roles: roles.iter().map(|l| l.as_str().to_string()).collect(),
                campaign,
                infected_by,
                generation,
                internal: internal(ip),
                note: decl.and_then(|d| d.note.clone()),
            });
        }
        // Campaigns.
        let mut by_name: BTreeMap<String, Vec<Ipv4Addr>> = BTreeMap::new();
        for h in &hosts {
            if let (Some(c), Ok(ip)) = (&h.campaign, h.ip.parse::<Ipv4Addr>()) {
                by_name.entry(c.clone()).or_default().push(ip);
            }
        }
        let mut campaigns = Vec::new();
        for (name, members) in by_name {
            let mut counts: BTreeMap<Label, usize> = BTreeMap::new();
            for m in &members {
                if let Some(k) = kinds.get(m) {
                    *counts.entry(*k).or_default() += 1;
                }
            }
            let label = counts
                .iter()
                .max_by_key(|(l, n)| (**n, std::cmp::Reverse(l.severity_rank())))
                .map_or(Label::Compromised, |(l, _)| *l);
            let ctrls: BTreeSet<String> = self
                .c2
                .iter()
                .filter(|c| members.iter().any(|m| m.to_string() == c.client))
                .map(|c| format!("{} {}:{}", c.proto, c.server, c.port))
                .collect();
            let vectors: BTreeSet<String> = members
                .iter()
                .filter_map(|m| self.infected.get(m))
                .map(|(_, _, port)| format!("tcp/{port} pct-overflow"))
                .collect();
            campaigns.push(CampaignLabel {
                name,
                label: label.as_str().to_string(),
                hosts: members.iter().map(|m| m.to_string()).collect(),
                controller: (ctrls.len() == 1)
                    .then(|| ctrls.into_iter().next().unwrap_or_default()),
                vector: (vectors.len() == 1)
                    .then(|| vectors.into_iter().next().unwrap_or_default()),
            });
        }
        let end = sc.end.map_or(last_ts, |e| e.0.max(last_ts));
        Labels {
            scenario: sc.name.clone(),
            seed: sc.seed,
            home_net: sc.home_net.iter().map(|c| c.to_string()).collect(),
            start: rfc3339(sc.start),
            end: rfc3339(Timestamp(end)),
            hosts,
            scans: self.scans,
            exploits: self.exploits,
            c2: self.c2,
            eggs: self.eggs,
            listeners: self.listeners,
            propagation: self.propagation,
            campaigns,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scenario() -> Scenario {
        crate::parse_scenario(
            "t.toml",
            "[scenario]\nname = \"t\"\nseed = 1\nstart = \"2004-04-20T09:00:00Z\"\nhome_net = \"10.0.0.0/8\"\n",
        )
        .unwrap()
    }

    fn ip(s: &str) -> Ipv4Addr {
        s.parse().unwrap()
    }

    fn label_of(l: &Labels, s: &str) -> String {
        l.host(s).unwrap().label.clone()
    }

    #[test]
    fn kinds_follow_what_the_host_did() {
        let sc = scenario();
        let mut f = Facts::default();
        let (att, worm, trojan, bot, failed, probed) = (
            ip("203.0.113.7"),
            ip("10.0.0.1"),
            ip("10.0.0.2"),
            ip("10.0.0.3"),
            ip("10.0.0.4"),
            ip("10.0.0.5"),
        );
        for v in [worm, trojan, failed, probed] {
            f.stage(v, Stage::E1InboundScan, 10);
        }
        f.role(att, Label::Scanner);
        f.role(att, Label::Exploiter);
        for v in [worm, trojan] {
            f.stage(v, Stage::E2InboundExploit, 20);
            f.infect(v, 20, att, 443, 1);
        }
        // The worm attacks others through the port it was infected by.
        f.attack(worm, 443, 30, true);
        // The trojan keeps a listener and a C&C channel.
        f.stage(trojan, Stage::E6NewListener, 25);
        f.stage(trojan, Stage::E4C2, 26);
        // The bot obeys a controller; no exploit seen.
        f.stage(bot, Stage::E4C2, 5);
        f.bot(bot);
        f.stage(failed, Stage::E2InboundExploit, 21);
        f.targeted(failed);
        let l = f.labels(&sc, &[att, worm, trojan, bot, failed, probed], 100);
        assert_eq!(label_of(&l, "10.0.0.1"), "worm");
        assert_eq!(label_of(&l, "10.0.0.2"), "trojan");
        assert_eq!(label_of(&l, "10.0.0.3"), "bot");
        assert_eq!(label_of(&l, "10.0.0.4"), "targeted");
        assert_eq!(label_of(&l, "10.0.0.5"), "probed");
        // The most severe role is the label; the others are roles.
        let a = l.host("203.0.113.7").unwrap();
        assert_eq!(
            (a.label.as_str(), a.roles.as_slice()),
            ("exploiter", &["scanner".to_string()][..])
        );
        // Stages in order of first occurrence.
        assert_eq!(l.host("10.0.0.2").unwrap().stages, ["E1", "E2", "E6", "E4"]);
        assert_eq!(
            l.host("10.0.0.1").unwrap().infected_by.as_deref(),
            Some("203.0.113.7")
        );
        // One campaign (the scenario's name) with the three compromised hosts.
        assert_eq!(l.campaigns.len(), 1);
        assert_eq!(l.campaigns[0].hosts, ["10.0.0.1", "10.0.0.2", "10.0.0.3"]);
    }

    #[test]
    fn an_exploit_without_later_evidence_is_only_targeted() {
        let sc = scenario();
        let mut f = Facts::default();
        f.stage(ip("10.0.0.9"), Stage::E2InboundExploit, 20);
        f.infect(ip("10.0.0.9"), 20, ip("203.0.113.7"), 443, 1);
        let l = f.labels(&sc, &[ip("10.0.0.9")], 100);
        assert_eq!(label_of(&l, "10.0.0.9"), "targeted");
        assert_eq!(l.host("10.0.0.9").unwrap().infected_by, None);
    }
}
