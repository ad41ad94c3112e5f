//! Configuration: `HOME_NET`, the dialog window, the alert → stage tables and the
//! limits that bound memory. Every rule here is documented in `docs/verdicts.md`.

use serde::{Deserialize, Serialize};
use stormwatch_model::{NetSet, Stage, Strength};

/// Which endpoint of an alert the evidence is about.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Side {
    /// The attacked host: the rule's `target` when given, else the endpoint in
    /// `HOME_NET` (when exactly one is), else the packet's destination (the rule's
    /// direction). The other endpoint is the attacker (scanner for E1, exploiter for E2).
    Target,
    /// The infected host keeping a control channel: `target` when given, else the
    /// endpoint in `HOME_NET`, else the flow's initiator. The other endpoint is the controller.
    Infected,
    /// The host whose own answer the rule matched (a shell banner, command output):
    /// `target` when given, else the endpoint in `HOME_NET`, else the packet's source.
    /// The other endpoint is the controller.
    Responder,
}

/// What an alert class means: a stage about one side, with a strength.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AlertClass {
    /// Stage, or `None` to ignore alerts of this class.
    pub stage: Option<Stage>,
    /// Weight of the evidence.
    pub strength: Strength,
    /// Which endpoint the evidence is about.
    pub side: Side,
}

impl AlertClass {
    /// Alerts of this class are not evidence.
    pub const IGNORE: AlertClass = AlertClass {
        stage: None,
        strength: Strength::Weak,
        side: Side::Target,
    };

    /// A stage about a side.
    pub const fn new(stage: Stage, strength: Strength, side: Side) -> AlertClass {
        AlertClass {
            stage: Some(stage),
            strength,
            side,
        }
    }
}

/// How a message-prefix rule combines with the classtype.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PrefixMode {
    /// Applies whatever the classtype says (`ET POLICY` rules are policy even when
    /// their classtype is `trojan-activity`).
    Override,
    /// Applies only when the classtype is absent, unknown or ignored. When the
    /// classtype exists but is ignored, the strength drops to weak (the rule's
    /// author rated it low).
    Fallback,
}

/// A rule on the alert message (`ET TROJAN`, `SHELLCODE`, ...).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PrefixRule {
    /// Matched case-sensitively at the start of the message, or anywhere when it
    /// starts with `*` (`* EK ` matches `ET CURRENT_EVENTS Angler EK Landing`).
    pub pattern: String,
    /// Override or fallback.
    pub mode: PrefixMode,
    /// Meaning.
    pub class: AlertClass,
}

/// A classtype's meaning.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClassRule {
    /// Classtype short name (`attempted-admin`).
    pub classtype: String,
    /// Meaning.
    pub class: AlertClass,
}

/// Correlator settings. `Default` gives the documented values.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CorrelateConfig {
    /// Internal networks: decides direction when a rule gives no `target`, and which
    /// scanning/exploiting hosts count as outbound attackers (E5).
    pub home_net: NetSet,
    /// Dialog window: evidence of two stages joins into a compromise only when it
    /// falls within this many seconds (default 21,600 = 6 h).
    pub window_secs: u64,
    /// Evidence up to this many seconds *before* an exploit still counts as following
    /// it (detector latency, flow records written at flow end; default 5 s).
    pub exploit_slack_secs: u64,
    /// Hosts sharing one controller whose outbound attacks start within this many
    /// seconds of each other act "in step" (a bot group; default 300 s).
    pub bot_step_secs: u64,
    /// Classtype overrides, consulted before the built-in table.
    pub classtypes: Vec<ClassRule>,
    /// Message-prefix overrides, consulted before the built-in prefixes.
    pub prefixes: Vec<PrefixRule>,
    /// Hosts tracked (default 2,000,000). Beyond it a host seen only as a scan
    /// target is not tracked; others replace a probed-only host when one exists.
    /// Counted as `correlate.hosts_untracked`.
    pub max_hosts: usize,
    /// Evidence records kept per host (default 16; repeats of one signature on one
    /// flow are merged and counted). Beyond it evidence is summarised per stage
    /// (verdicts stay exact, the record is not listed). `correlate.evidence_unstored`.
    pub max_evidence_per_host: usize,
    /// Evidence records kept in total (default 1,000,000 ≈ 0.45 GiB). Same treatment.
    pub max_evidence_total: usize,
    /// Recent flows remembered for linking scan targets to a scanner decided after
    /// the flow ended (default 65,536). `correlate.pending_flows_dropped`.
    pub max_pending_flows: usize,
    /// Flows whose parser facts (TLS/PCT hello shapes) are remembered for
    /// confirming or contradicting exploit alerts (default 65,536).
    pub max_flow_facts: usize,
    /// Hosts remembered per controller for bot-group detection (default 1,024).
    pub max_hosts_per_controller: usize,
}

impl Default for CorrelateConfig {
    fn default() -> Self {
        CorrelateConfig {
            home_net: NetSet::rfc1918(),
            window_secs: 21_600,
            exploit_slack_secs: 5,
            bot_step_secs: 300,
            classtypes: Vec::new(),
            prefixes: Vec::new(),
            max_hosts: 2_000_000,
            max_evidence_per_host: 16,
            max_evidence_total: 1_000_000,
            max_pending_flows: 65_536,
            max_flow_facts: 65_536,
            max_hosts_per_controller: 1_024,
        }
    }
}

use Side::{Infected, Responder, Target};
use Stage::{E1InboundScan as E1, E2InboundExploit as E2, E4C2 as E4};
use Strength::{Normal, Strong, Weak};

const fn c(stage: Stage, strength: Strength, side: Side) -> AlertClass {
    AlertClass::new(stage, strength, side)
}

/// The built-in classtype table (Snort/Suricata `classification.config` names,
/// plus Suricata 5+ additions). Classtypes not listed are ignored.
pub const CLASSTYPE_TABLE: &[(&str, AlertClass)] = &[
    ("attempted-admin", c(E2, Normal, Target)),
    ("attempted-user", c(E2, Normal, Target)),
    ("shellcode-detect", c(E2, Normal, Target)),
    ("web-application-attack", c(E2, Normal, Target)),
    ("misc-attack", c(E2, Normal, Target)),
    ("exploit-kit", c(E2, Normal, Target)),
    ("system-call-detect", c(E2, Weak, Target)),
    ("unsuccessful-user", c(E2, Weak, Target)),
    ("suspicious-login", c(E2, Weak, Target)),
    ("default-login-attempt", c(E2, Weak, Target)),
    ("successful-admin", c(E4, Strong, Responder)),
    ("successful-user", c(E4, Strong, Responder)),
    ("trojan-activity", c(E4, Normal, Infected)),
    ("command-and-control", c(E4, Normal, Infected)),
    ("domain-c2", c(E4, Normal, Infected)),
    ("targeted-activity", c(E4, Normal, Infected)),
    ("network-scan", c(E1, Normal, Target)),
    ("attempted-recon", c(E1, Normal, Target)),
    ("successful-recon-limited", c(E1, Normal, Target)),
    ("successful-recon-largescale", c(E1, Normal, Target)),
    ("policy-violation", AlertClass::IGNORE),
    ("misc-activity", AlertClass::IGNORE),
    ("not-suspicious", AlertClass::IGNORE),
    ("unknown", AlertClass::IGNORE),
    ("bad-unknown", AlertClass::IGNORE),
    ("protocol-command-decode", AlertClass::IGNORE),
    ("tcp-connection", AlertClass::IGNORE),
    ("icmp-event", AlertClass::IGNORE),
    ("string-detect", AlertClass::IGNORE),
    ("non-standard-protocol", AlertClass::IGNORE),
    ("web-application-activity", AlertClass::IGNORE),
    ("suspicious-filename-detect", AlertClass::IGNORE),
    ("unusual-client-port-connection", AlertClass::IGNORE),
    ("inappropriate-content", AlertClass::IGNORE),
    ("rpc-portmap-decode", AlertClass::IGNORE),
    ("attempted-dos", AlertClass::IGNORE),
    ("successful-dos", AlertClass::IGNORE),
    ("denial-of-service", AlertClass::IGNORE),
    ("external-ip-check", AlertClass::IGNORE),
    ("pup-activity", AlertClass::IGNORE),
    ("credential-theft", AlertClass::IGNORE),
    ("social-engineering", AlertClass::IGNORE),
    ("coin-mining", AlertClass::IGNORE),
];

/// The built-in message-prefix table, in the order it is consulted.
pub const PREFIX_TABLE: &[(&str, PrefixMode, AlertClass)] = &[
    // Policy and information rules are never evidence of an attack.
    ("ET POLICY", PrefixMode::Override, AlertClass::IGNORE),
    ("GPL POLICY", PrefixMode::Override, AlertClass::IGNORE),
    ("POLICY ", PrefixMode::Override, AlertClass::IGNORE),
    ("ET INFO", PrefixMode::Override, AlertClass::IGNORE),
    ("GPL INFO", PrefixMode::Override, AlertClass::IGNORE),
    ("INFO ", PrefixMode::Override, AlertClass::IGNORE),
    // IP-reputation lists (Shadowserver/Feodo/abuse.ch C&C lists, DROP, CINS, TOR,
    // DShield): talking to a listed address is a weak sign (public IRC servers are
    // listed because bots use them); a listed source of inbound traffic is no
    // evidence about the internal host at all.
    ("ET CNC", PrefixMode::Override, c(E4, Weak, Infected)),
    ("ET BOTCC", PrefixMode::Override, c(E4, Weak, Infected)),
    ("ET DROP", PrefixMode::Override, AlertClass::IGNORE),
    ("ET CINS", PrefixMode::Override, AlertClass::IGNORE),
    ("ET COMPROMISED", PrefixMode::Override, AlertClass::IGNORE),
    ("ET TOR", PrefixMode::Override, AlertClass::IGNORE),
    ("ET DSHIELD", PrefixMode::Override, AlertClass::IGNORE),
    ("ET CIARMY", PrefixMode::Override, AlertClass::IGNORE),
    // IRC use is noted, never enough for a verdict (a human on IRC is clean).
    ("CHAT IRC", PrefixMode::Override, c(E4, Weak, Infected)),
    ("GPL CHAT", PrefixMode::Override, c(E4, Weak, Infected)),
    ("ET CHAT", PrefixMode::Override, c(E4, Weak, Infected)),
    // The victim's own answer (shell banner, command output) to its controller.
    (
        "ET ATTACK_RESPONSE",
        PrefixMode::Override,
        c(E4, Strong, Responder),
    ),
    (
        "GPL ATTACK_RESPONSE",
        PrefixMode::Override,
        c(E4, Strong, Responder),
    ),
    (
        "ATTACK-RESPONSES",
        PrefixMode::Override,
        c(E4, Strong, Responder),
    ),
    (
        "ATTACK_RESPONSE",
        PrefixMode::Override,
        c(E4, Strong, Responder),
    ),
    // Exploit-kit landing pages and exploits carry `trojan-activity` in ET: they are
    // delivery (E2 against the browsing client), not a control channel.
    ("* EK ", PrefixMode::Override, c(E2, Normal, Target)),
    ("*Exploit Kit", PrefixMode::Override, c(E2, Normal, Target)),
    // ET's CURRENT_EVENTS category is current exploit campaigns (kits, malicious
    // Flash/Java requests, redirects): delivery against the client.
    (
        "ET CURRENT_EVENTS",
        PrefixMode::Override,
        c(E2, Normal, Target),
    ),
    // Worm propagation traffic: E2 for the target (and E5 for an internal source).
    ("ET WORM", PrefixMode::Override, c(E2, Normal, Target)),
    ("WORM ", PrefixMode::Override, c(E2, Normal, Target)),
    // Category prefixes, used when the classtype does not decide.
    ("ET TROJAN", PrefixMode::Fallback, c(E4, Normal, Infected)),
    ("ET MALWARE", PrefixMode::Fallback, c(E4, Normal, Infected)),
    ("TROJAN", PrefixMode::Fallback, c(E4, Normal, Infected)),
    ("MALWARE", PrefixMode::Fallback, c(E4, Normal, Infected)),
    ("BACKDOOR", PrefixMode::Fallback, c(E4, Normal, Infected)),
    (
        "GPL BACKDOOR",
        PrefixMode::Fallback,
        c(E4, Normal, Infected),
    ),
    ("VIRUS", PrefixMode::Fallback, c(E4, Normal, Infected)),
    ("ET SCAN", PrefixMode::Fallback, c(E1, Normal, Target)),
    ("GPL SCAN", PrefixMode::Fallback, c(E1, Normal, Target)),
    ("SCAN ", PrefixMode::Fallback, c(E1, Normal, Target)),
    ("ET EXPLOIT", PrefixMode::Fallback, c(E2, Normal, Target)),
    ("GPL EXPLOIT", PrefixMode::Fallback, c(E2, Normal, Target)),
    ("EXPLOIT ", PrefixMode::Fallback, c(E2, Normal, Target)),
    ("ET SHELLCODE", PrefixMode::Fallback, c(E2, Normal, Target)),
    ("GPL SHELLCODE", PrefixMode::Fallback, c(E2, Normal, Target)),
    ("SHELLCODE ", PrefixMode::Fallback, c(E2, Normal, Target)),
    ("ET NETBIOS", PrefixMode::Fallback, c(E2, Normal, Target)),
    ("GPL NETBIOS", PrefixMode::Fallback, c(E2, Normal, Target)),
    ("NETBIOS ", PrefixMode::Fallback, c(E2, Normal, Target)),
];

/// A Snort/Suricata classification: short name, description (what Suricata's EVE
/// writes as `alert.category`) and default priority. Used to recover the classtype
/// of alerts read back from EVE.
pub const CLASSIFICATIONS: &[(&str, &str, u8)] = &[
    ("not-suspicious", "Not Suspicious Traffic", 3),
    ("unknown", "Unknown Traffic", 3),
    ("bad-unknown", "Potentially Bad Traffic", 2),
    ("attempted-recon", "Attempted Information Leak", 2),
    ("successful-recon-limited", "Information Leak", 2),
    (
        "successful-recon-largescale",
        "Large Scale Information Leak",
        2,
    ),
    ("attempted-dos", "Attempted Denial of Service", 2),
    ("successful-dos", "Denial of Service", 2),
    ("attempted-user", "Attempted User Privilege Gain", 1),
    ("unsuccessful-user", "Unsuccessful User Privilege Gain", 1),
    ("successful-user", "Successful User Privilege Gain", 1),
    (
        "attempted-admin",
        "Attempted Administrator Privilege Gain",
        1,
    ),
    (
        "successful-admin",
        "Successful Administrator Privilege Gain",
        1,
    ),
    ("rpc-portmap-decode", "Decode of an RPC Query", 2),
    ("shellcode-detect", "Executable Code was Detected", 1),
    ("string-detect", "A Suspicious String was Detected", 3),
    (
        "suspicious-filename-detect",
        "A Suspicious Filename was Detected",
        2,
    ),
    (
        "suspicious-login",
        "An Attempted Login Using a Suspicious Username was Detected",
        2,
    ),
    ("system-call-detect", "A System Call was Detected", 2),
    ("tcp-connection", "A TCP Connection was Detected", 4),
    ("trojan-activity", "A Network Trojan was Detected", 1),
    (
        "unusual-client-port-connection",
        "A Client was Using an Unusual Port",
        2,
    ),
    ("network-scan", "Detection of a Network Scan", 3),
    (
        "denial-of-service",
        "Detection of a Denial of Service Attack",
        2,
    ),
    (
        "non-standard-protocol",
        "Detection of a Non-Standard Protocol or Event",
        2,
    ),
    (
        "protocol-command-decode",
        "Generic Protocol Command Decode",
        3,
    ),
    (
        "web-application-activity",
        "Access to a Potentially Vulnerable Web Application",
        2,
    ),
    ("web-application-attack", "Web Application Attack", 1),
    ("misc-activity", "Misc activity", 3),
    ("misc-attack", "Misc Attack", 2),
    ("icmp-event", "Generic ICMP event", 3),
    (
        "inappropriate-content",
        "Inappropriate Content was Detected",
        1,
    ),
    (
        "policy-violation",
        "Potential Corporate Privacy Violation",
        1,
    ),
    (
        "default-login-attempt",
        "Attempt to Login By a Default Username and Password",
        2,
    ),
    (
        "targeted-activity",
        "Targeted Malicious Activity was Detected",
        1,
    ),
    ("exploit-kit", "Exploit Kit Activity Detected", 1),
    (
        "external-ip-check",
        "Device Retrieving External IP Address Detected",
        2,
    ),
    ("domain-c2", "Domain Observed Used for C2 Detected", 1),
    ("pup-activity", "Possibly Unwanted Program Detected", 2),
    (
        "credential-theft",
        "Successful Credential Theft Detected",
        1,
    ),
    (
        "social-engineering",
        "Possible Social Engineering Attempted",
        2,
    ),
    ("coin-mining", "Crypto Currency Mining Activity Detected", 2),
    (
        "command-and-control",
        "Malware Command and Control Activity Detected",
        1,
    ),
];

/// The classtype short name for a Suricata `alert.category` description
/// (case-insensitive; `None` when unknown).
pub fn classtype_for_category(category: &str) -> Option<&'static str> {
    let c = category.trim();
    CLASSIFICATIONS
        .iter()
        .find(|(_, d, _)| d.eq_ignore_ascii_case(c))
        .map(|(n, _, _)| *n)
}

impl CorrelateConfig {
    /// The meaning of a classtype: a config override, else the built-in table.
    /// `None` when the classtype is unknown.
    pub fn class_for(&self, classtype: &str) -> Option<AlertClass> {
        self.classtypes
            .iter()
            .find(|r| r.classtype.eq_ignore_ascii_case(classtype))
            .map(|r| r.class)
            .or_else(|| {
                CLASSTYPE_TABLE
                    .iter()
                    .find(|(n, _)| n.eq_ignore_ascii_case(classtype))
                    .map(|(_, c)| *c)
            })
    }

    /// The first prefix rule matching `msg` (config overrides first).
    pub fn prefix_for(&self, msg: &str) -> Option<(PrefixMode, AlertClass)> {
        self.prefixes
            .iter()
            .find(|r| prefix_matches(&r.pattern, msg))
            .map(|r| (r.mode, r.class))
            .or_else(|| {
                PREFIX_TABLE
                    .iter()
                    .find(|(p, _, _)| prefix_matches(p, msg))
                    .map(|(_, m, c)| (*m, *c))
            })
    }

    /// What an alert means, from (in order) an explicit `stormwatch_stage` metadata
    /// value, an override prefix, the classtype, a fallback prefix (or the
    /// `former_category` metadata read as `ET <category>`).
    pub fn classify(
        &self,
        msg: &str,
        classtype: Option<&str>,
        metadata: &[(String, Vec<String>)],
    ) -> AlertClass {
        if let Some(c) = metadata_stage(metadata) {
            return c;
        }
        let prefix = self.prefix_for(msg).or_else(|| {
            metadata
                .iter()
                .find(|(k, _)| k == "former_category")
                .and_then(|(_, v)| v.first())
                .and_then(|v| self.prefix_for(&format!("ET {}", v.to_ascii_uppercase())))
        });
        if let Some((PrefixMode::Override, c)) = prefix {
            return c;
        }
        let by_class = classtype.and_then(|ct| self.class_for(ct));
        match (by_class, prefix) {
            (Some(c), _) if c.stage.is_some() => c,
            (Some(_), Some((_, p))) => AlertClass {
                strength: Strength::Weak,
                ..p
            },
            (None, Some((_, p))) => p,
            (Some(c), None) => c,
            (None, None) => AlertClass::IGNORE,
        }
    }
}

/// `metadata: stormwatch_stage E2` (or `ignore`), optionally with
/// `stormwatch_strength weak|normal|strong` and `stormwatch_side target|infected|responder`.
fn metadata_stage(metadata: &[(String, Vec<String>)]) -> Option<AlertClass> {
    let get = |key: &str| {
        metadata
            .iter()
            .find(|(k, _)| k == key)
            .and_then(|(_, v)| v.first())
            .map(|s| s.to_ascii_lowercase())
    };
    let stage = get("stormwatch_stage")?;
    if stage == "ignore" {
        return Some(AlertClass::IGNORE);
    }
    let stage = Stage::from_code(&stage)?;
    let strength = match get("stormwatch_strength").as_deref() {
        Some("weak") => Strength::Weak,
        Some("strong") => Strength::Strong,
        _ => Strength::Normal,
    };
    let side = match get("stormwatch_side").as_deref() {
        Some("infected") => Side::Infected,
        Some("responder") => Side::Responder,
        Some("target") => Side::Target,
        _ => match stage {
            Stage::E4C2 | Stage::E3EggDownload | Stage::E6NewListener | Stage::E7Masquerade => {
                Side::Infected
            }
            _ => Side::Target,
        },
    };
    Some(AlertClass::new(stage, strength, side))
}

fn prefix_matches(pattern: &str, msg: &str) -> bool {
    match pattern.strip_prefix('*') {
        Some(p) => msg.contains(p),
        None => msg.starts_with(pattern),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn md(k: &str, v: &str) -> Vec<(String, Vec<String>)> {
        vec![(k.to_string(), vec![v.to_string()])]
    }

    #[test]
    fn classtypes_map_to_stages() {
        let cfg = CorrelateConfig::default();
        let cl = |m: &str, ct: &str| cfg.classify(m, Some(ct), &[]);
        assert_eq!(
            cl(
                "WEB-MISC PCT Client_Hello overflow attempt",
                "attempted-admin"
            ),
            AlertClass::new(Stage::E2InboundExploit, Strength::Normal, Side::Target)
        );
        assert_eq!(
            cl("x", "shellcode-detect").stage,
            Some(Stage::E2InboundExploit)
        );
        assert_eq!(
            cl("x", "attempted-user").stage,
            Some(Stage::E2InboundExploit)
        );
        assert_eq!(
            cl("ET TROJAN CryptoWall Check-in", "trojan-activity"),
            AlertClass::new(Stage::E4C2, Strength::Normal, Side::Infected)
        );
        assert_eq!(cl("x", "command-and-control").stage, Some(Stage::E4C2));
        assert_eq!(
            cl("ET SCAN NMAP -sS", "attempted-recon").stage,
            Some(Stage::E1InboundScan)
        );
        assert_eq!(cl("x", "network-scan").stage, Some(Stage::E1InboundScan));
        assert_eq!(cl("x", "policy-violation").stage, None);
        assert_eq!(cl("x", "misc-activity").stage, None);
        assert_eq!(
            cl("GPL EXPLOIT Microsoft cmd.exe banner", "successful-admin"),
            AlertClass::new(Stage::E4C2, Strength::Strong, Side::Responder)
        );
    }

    #[test]
    fn prefixes_override_or_fill_in() {
        let cfg = CorrelateConfig::default();
        // ET POLICY with a trojan-activity classtype stays policy.
        let c = cfg.classify(
            "ET POLICY Likely PCTools.com Installer User-Agent",
            Some("trojan-activity"),
            &[],
        );
        assert_eq!(c.stage, None);
        // ET TROJAN with a low classtype is weak E4 (a DNS lookup, not a check-in).
        let c = cfg.classify(
            "ET TROJAN DNS Query for Suspicious tolotor.com Domain",
            Some("misc-activity"),
            &[],
        );
        assert_eq!(
            c,
            AlertClass::new(Stage::E4C2, Strength::Weak, Side::Infected)
        );
        // Without any classtype the prefix decides at its own strength.
        let c = cfg.classify("BACKDOOR SubSeven 22 server response", None, &[]);
        assert_eq!(
            c,
            AlertClass::new(Stage::E4C2, Strength::Normal, Side::Infected)
        );
        // Exploit kits are delivery, not C&C, whatever their classtype.
        let c = cfg.classify(
            "ET CURRENT_EVENTS Angler EK Landing Jan 04 2016",
            Some("trojan-activity"),
            &[],
        );
        assert_eq!(c.stage, Some(Stage::E2InboundExploit));
        let c = cfg.classify(
            "ET CURRENT_EVENTS SUSPICIOUS Firesale gTLD IE Flash request to set non-standard filename",
            Some("trojan-activity"),
            &[],
        );
        assert_eq!(c.stage, Some(Stage::E2InboundExploit));
        // Reputation lists are weak: a public IRC server on a C&C list.
        let c = cfg.classify(
            "ET CNC Shadowserver Reported CnC Server TCP group 4",
            Some("trojan-activity"),
            &[],
        );
        assert_eq!(
            c,
            AlertClass::new(Stage::E4C2, Strength::Weak, Side::Infected)
        );
        assert_eq!(
            cfg.classify(
                "ET DROP Dshield Block Listed Source group 1",
                Some("misc-attack"),
                &[]
            )
            .stage,
            None
        );
        // CHAT IRC is weak C&C at most.
        let c = cfg.classify("CHAT IRC channel join", Some("policy-violation"), &[]);
        assert_eq!(
            c,
            AlertClass::new(Stage::E4C2, Strength::Weak, Side::Infected)
        );
        // Attack responses are about the responder.
        let c = cfg.classify(
            "ET ATTACK_RESPONSE Windows 7 CMD Shell",
            Some("bad-unknown"),
            &[],
        );
        assert_eq!(c.side, Side::Responder);
        // Unknown everything: ignored.
        assert_eq!(cfg.classify("LOCAL test", None, &[]).stage, None);
    }

    #[test]
    fn metadata_and_config_override() {
        let mut cfg = CorrelateConfig::default();
        let c = cfg.classify(
            "LOCAL thing",
            Some("misc-activity"),
            &md("stormwatch_stage", "E6"),
        );
        assert_eq!(c.stage, Some(Stage::E6NewListener));
        let c = cfg.classify(
            "X",
            Some("trojan-activity"),
            &md("stormwatch_stage", "ignore"),
        );
        assert_eq!(c.stage, None);
        let c = cfg.classify("Something", None, &md("former_category", "TROJAN"));
        assert_eq!(c.stage, Some(Stage::E4C2));
        cfg.classtypes.push(ClassRule {
            classtype: "misc-activity".into(),
            class: AlertClass::new(Stage::E1InboundScan, Strength::Weak, Side::Target),
        });
        assert_eq!(
            cfg.classify("x", Some("misc-activity"), &[]).stage,
            Some(Stage::E1InboundScan)
        );
        cfg.prefixes.push(PrefixRule {
            pattern: "ET POLICY".into(),
            mode: PrefixMode::Fallback,
            class: AlertClass::new(Stage::E4C2, Strength::Normal, Side::Infected),
        });
        assert_eq!(
            cfg.classify("ET POLICY x", Some("trojan-activity"), &[])
                .stage,
            Some(Stage::E4C2)
        );
    }

    #[test]
    fn categories_resolve_to_classtypes() {
        assert_eq!(
            classtype_for_category("A Network Trojan was detected"),
            Some("trojan-activity")
        );
        assert_eq!(
            classtype_for_category("Attempted Administrator Privilege Gain"),
            Some("attempted-admin")
        );
        assert_eq!(classtype_for_category("nonsense"), None);
        // Every built-in classification has a table entry.
        let cfg = CorrelateConfig::default();
        for (n, _, _) in CLASSIFICATIONS {
            assert!(cfg.class_for(n).is_some(), "{n} missing from the table");
        }
    }
}
