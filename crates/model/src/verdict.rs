//! Judgements: a verdict per host (with evidence, why-not and revisions) and
//! incidents that group hosts into campaigns.

use crate::{FlowId, Stage, Timestamp, Vector};
use serde::{Deserialize, Serialize};
use std::net::IpAddr;

/// A verdict label. The words are the simulator's label words.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Label {
    /// Nothing of note.
    Clean,
    /// Probed by a scanner (E1 only).
    Probed,
    /// Attacked, no sign of success.
    Targeted,
    /// Compromised, kind not determined.
    Compromised,
    /// Compromised and propagating by itself.
    Worm,
    /// Compromised and remote-controlled automation.
    Bot,
    /// Compromised: remote access without propagation.
    Trojan,
    /// External role: scanning tool or person.
    Scanner,
    /// External role: exploited others.
    Exploiter,
    /// External role: command-and-control server.
    Controller,
    /// External role: served executables to victims.
    EggServer,
}

impl Label {
    /// The label word (`worm`, `egg-server`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            Label::Clean => "clean",
            Label::Probed => "probed",
            Label::Targeted => "targeted",
            Label::Compromised => "compromised",
            Label::Worm => "worm",
            Label::Bot => "bot",
            Label::Trojan => "trojan",
            Label::Scanner => "scanner",
            Label::Exploiter => "exploiter",
            Label::Controller => "controller",
            Label::EggServer => "egg-server",
        }
    }

    /// Parses a label word.
    pub fn from_name(s: &str) -> Option<Label> {
        Some(match s {
            "clean" => Label::Clean,
            "probed" => Label::Probed,
            "targeted" => Label::Targeted,
            "compromised" => Label::Compromised,
            "worm" => Label::Worm,
            "bot" => Label::Bot,
            "trojan" => Label::Trojan,
            "scanner" => Label::Scanner,
            "exploiter" => Label::Exploiter,
            "controller" => Label::Controller,
            "egg-server" | "egg_server" => Label::EggServer,
            _ => return None,
        })
    }

    /// Title for reports: `TROJAN/BACKDOOR (not self-propagating)`, `WORM`, ...
    pub fn title(self) -> &'static str {
        match self {
            Label::Clean => "CLEAN",
            Label::Probed => "PROBED",
            Label::Targeted => "TARGETED",
            Label::Compromised => "COMPROMISED (kind not determined)",
            Label::Worm => "WORM (self-propagating)",
            Label::Bot => "BOT (remote-controlled automation)",
            Label::Trojan => "TROJAN/BACKDOOR (not self-propagating)",
            Label::Scanner => "SCANNER",
            Label::Exploiter => "EXPLOITER",
            Label::Controller => "CONTROLLER (C&C server)",
            Label::EggServer => "EGG SERVER",
        }
    }

    /// A compromised internal host (any kind).
    pub fn is_compromised(self) -> bool {
        matches!(
            self,
            Label::Compromised | Label::Worm | Label::Bot | Label::Trojan
        )
    }

    /// Ordering for reports: most severe first (lower = more severe).
    pub fn severity_rank(self) -> u8 {
        match self {
            Label::Worm => 0,
            Label::Bot => 1,
            Label::Trojan => 2,
            Label::Compromised => 3,
            Label::Controller => 4,
            Label::Exploiter => 5,
            Label::EggServer => 6,
            Label::Scanner => 7,
            Label::Targeted => 8,
            Label::Probed => 9,
            Label::Clean => 10,
        }
    }
}

/// Confidence in a verdict.
#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Confidence {
    /// Few or weak signals.
    Low,
    /// Consistent signals, one stage missing.
    Medium,
    /// Several independent stages agree.
    High,
}

impl Confidence {
    /// `low` / `medium` / `high`.
    pub fn as_str(self) -> &'static str {
        match self {
            Confidence::Low => "low",
            Confidence::Medium => "medium",
            Confidence::High => "high",
        }
    }
}

/// A piece of evidence as cited by a verdict.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EvidenceRef {
    /// When.
    pub ts: Timestamp,
    /// Stage.
    pub stage: Stage,
    /// Flow.
    pub flow_id: Option<FlowId>,
    /// Other party.
    pub peer: Option<IpAddr>,
    /// One line (`exploit: PCT Client_Hello overflow (MS04-011) from 203.0.113.7 [sid 2515]`).
    pub detail: String,
}

/// Why a kind was rejected.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct WhyNot {
    /// The rejected label.
    pub label: Label,
    /// The reason, stating the span of traffic it rests on.
    pub reason: String,
    /// Start of the span the reason rests on.
    pub span_start: Option<Timestamp>,
    /// End of that span.
    pub span_end: Option<Timestamp>,
}

/// A host's verdict at one point in time. A new record is written each time it
/// changes; the last one is current.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Verdict {
    /// Time of the evidence that caused this revision.
    pub ts: Timestamp,
    /// The host.
    pub host: IpAddr,
    /// Label.
    pub label: Label,
    /// Additional roles the host plays (a victim that became a scanner keeps its
    /// `worm` label and lists `scanner` here).
    pub roles: Vec<Label>,
    /// Confidence.
    pub confidence: Confidence,
    /// Why this label, one line.
    pub reason: String,
    /// Evidence cited.
    pub evidence: Vec<EvidenceRef>,
    /// Rejected kinds and why.
    pub why_not: Vec<WhyNot>,
    /// Revision number (1 = first verdict for the host).
    pub revision: u32,
    /// Label before this revision.
    pub previous: Option<Label>,
    /// Campaign name, when the host belongs to one.
    pub campaign: Option<String>,
    /// Who infected it (propagation graph parent).
    pub infected_by: Option<IpAddr>,
    /// Generation in the propagation graph (0 = patient zero / external attacker's victim = 1).
    pub generation: Option<u32>,
    /// Inside `HOME_NET`.
    pub internal: bool,
}

/// An edge of the propagation graph.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PropagationEdge {
    /// Attacker.
    pub from: IpAddr,
    /// Victim.
    pub to: IpAddr,
    /// When.
    pub ts: Timestamp,
    /// How.
    pub vector: Option<Vector>,
    /// Victim's generation.
    pub generation: u32,
}

/// A campaign: hosts that share a controller, an exploit vector or an egg.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Incident {
    /// Stable, deterministic name built from what the hosts share
    /// (`trojan-tcp443-irc443-1a2b3c`).
    pub name: String,
    /// Dominant kind.
    pub label: Label,
    /// First evidence.
    pub first_seen: Timestamp,
    /// Last evidence.
    pub last_seen: Timestamp,
    /// Compromised or targeted member hosts.
    pub hosts: Vec<IpAddr>,
    /// External actors (scanners, exploiters, controllers, egg servers).
    pub actors: Vec<(IpAddr, Label)>,
    /// Shared infection vector.
    pub vector: Option<Vector>,
    /// Shared controller (`irc 198.51.100.9:443`).
    pub controller: Option<String>,
    /// Shared egg hashes.
    pub eggs: Vec<String>,
    /// Propagation edges inside the campaign.
    pub edges: Vec<PropagationEdge>,
    /// One paragraph for people.
    pub summary: String,
}
