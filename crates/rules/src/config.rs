//! Rule-engine configuration: variables, classifications, limits.

use crate::error::RulesError;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Address and port variables (`$HOME_NET`, `$HTTP_PORTS`, ...), stored as the
/// text of their definition and expanded when a rule header is parsed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Vars {
    /// Address groups: name (without `$`) → definition (`[10.0.0.0/8,!10.1.0.0/16]`).
    pub address: BTreeMap<String, String>,
    /// Port groups: name → definition (`[80,8080:8090]`).
    pub port: BTreeMap<String, String>,
}

impl Default for Vars {
    /// Suricata's default `vars:` (as the suricata-verify README lists them).
    fn default() -> Self {
        let mut address = BTreeMap::new();
        let home = "[192.168.0.0/16,10.0.0.0/8,172.16.0.0/12]";
        address.insert("HOME_NET".to_string(), home.to_string());
        address.insert("EXTERNAL_NET".to_string(), "!$HOME_NET".to_string());
        for v in [
            "HTTP_SERVERS",
            "SMTP_SERVERS",
            "SQL_SERVERS",
            "DNS_SERVERS",
            "TELNET_SERVERS",
            "DC_SERVERS",
            "DNP3_SERVER",
            "DNP3_CLIENT",
            "MODBUS_CLIENT",
            "MODBUS_SERVER",
            "ENIP_CLIENT",
            "ENIP_SERVER",
        ] {
            address.insert(v.to_string(), "$HOME_NET".to_string());
        }
        address.insert("AIM_SERVERS".to_string(), "$EXTERNAL_NET".to_string());
        let mut port = BTreeMap::new();
        for (k, v) in [
            ("HTTP_PORTS", "80"),
            ("SHELLCODE_PORTS", "!80"),
            ("ORACLE_PORTS", "1521"),
            ("SSH_PORTS", "22"),
            ("DNP3_PORTS", "20000"),
            ("MODBUS_PORTS", "502"),
            ("FILE_DATA_PORTS", "[$HTTP_PORTS,110,143]"),
            ("FTP_PORTS", "21"),
            ("GENEVE_PORTS", "6081"),
            ("VXLAN_PORTS", "4789"),
            ("TEREDO_PORTS", "3544"),
            ("SIP_PORTS", "[5060,5061]"),
        ] {
            port.insert(k.to_string(), v.to_string());
        }
        Vars { address, port }
    }
}

/// One classification entry (`config classification: name,description,priority`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClassType {
    /// Description, written as EVE `alert.category`.
    pub description: String,
    /// Priority, written as EVE `alert.severity`.
    pub priority: u8,
}

/// Classtype table: short name → description and priority.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Classification {
    /// Entries by short name.
    pub entries: BTreeMap<String, ClassType>,
}

/// Suricata's `etc/classification.config`, the built-in default.
const SURICATA_CLASSIFICATION: &str = "\
config classification: not-suspicious,Not Suspicious Traffic,3
config classification: unknown,Unknown Traffic,3
config classification: bad-unknown,Potentially Bad Traffic, 2
config classification: attempted-recon,Attempted Information Leak,2
config classification: successful-recon-limited,Information Leak,2
config classification: successful-recon-largescale,Large Scale Information Leak,2
config classification: attempted-dos,Attempted Denial of Service,2
config classification: successful-dos,Denial of Service,2
config classification: attempted-user,Attempted User Privilege Gain,1
config classification: unsuccessful-user,Unsuccessful User Privilege Gain,1
config classification: successful-user,Successful User Privilege Gain,1
config classification: attempted-admin,Attempted Administrator Privilege Gain,1
config classification: successful-admin,Successful Administrator Privilege Gain,1
config classification: rpc-portmap-decode,Decode of an RPC Query,2
config classification: shellcode-detect,Executable code was detected,1
config classification: string-detect,A suspicious string was detected,3
config classification: suspicious-filename-detect,A suspicious filename was detected,2
config classification: suspicious-login,An attempted login using a suspicious username was detected,2
config classification: system-call-detect,A system call was detected,2
config classification: tcp-connection,A TCP connection was detected,4
config classification: trojan-activity,A Network Trojan was detected, 1
config classification: unusual-client-port-connection,A client was using an unusual port,2
config classification: network-scan,Detection of a Network Scan,3
config classification: denial-of-service,Detection of a Denial of Service Attack,2
config classification: non-standard-protocol,Detection of a non-standard protocol or event,2
config classification: protocol-command-decode,Generic Protocol Command Decode,3
config classification: web-application-activity,access to a potentially vulnerable web application,2
config classification: web-application-attack,Web Application Attack,1
config classification: misc-activity,Misc activity,3
config classification: misc-attack,Misc Attack,2
config classification: icmp-event,Generic ICMP event,3
config classification: inappropriate-content,Inappropriate Content was Detected,1
config classification: policy-violation,Potential Corporate Privacy Violation,1
config classification: default-login-attempt,Attempt to login by a default username and password,2
config classification: targeted-activity,Targeted Malicious Activity was Detected,1
config classification: exploit-kit,Exploit Kit Activity Detected,1
config classification: external-ip-check,Device Retrieving External IP Address Detected,2
config classification: domain-c2,Domain Observed Used for C2 Detected,1
config classification: pup-activity,Possibly Unwanted Program Detected,2
config classification: credential-theft,Successful Credential Theft Detected,1
config classification: social-engineering,Possible Social Engineering Attempted,2
config classification: coin-mining,Crypto Currency Mining Activity Detected,2
config classification: command-and-control,Malware Command and Control Activity Detected,1
";

impl Default for Classification {
    /// Suricata's `classification.config`.
    fn default() -> Self {
        let mut c = Classification {
            entries: BTreeMap::new(),
        };
        // The built-in text is well-formed (checked by a unit test).
        let _ = c.merge_text(
            Path::new("<built-in classification.config>"),
            SURICATA_CLASSIFICATION,
        );
        c
    }
}

impl Classification {
    /// An empty table.
    pub fn empty() -> Classification {
        Classification {
            entries: BTreeMap::new(),
        }
    }

    /// Looks a classtype up.
    pub fn get(&self, name: &str) -> Option<&ClassType> {
        self.entries.get(name)
    }

    /// Adds (or replaces) the entries of a `classification.config` text.
    pub fn merge_text(&mut self, path: &Path, text: &str) -> Result<usize, RulesError> {
        let mut n = 0;
        for (i, raw) in text.lines().enumerate() {
            let line = raw.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let err = |message: &str| RulesError::BadConfig {
                path: path.to_path_buf(),
                line: i + 1,
                message: message.to_string(),
            };
            let rest = line
                .strip_prefix("config")
                .map(str::trim_start)
                .and_then(|r| r.strip_prefix("classification"))
                .map(str::trim_start)
                .and_then(|r| r.strip_prefix(':'))
                .ok_or_else(|| {
                    err("expected `config classification: name,description,priority`")
                })?;
            let mut parts = rest.rsplitn(2, ',');
            let prio = parts.next().unwrap_or("").trim();
            let head = parts
                .next()
                .ok_or_else(|| err("expected `name,description,priority`"))?;
            let (name, desc) = head
                .split_once(',')
                .ok_or_else(|| err("expected `name,description,priority`"))?;
            let priority: u8 = prio
                .parse()
                .map_err(|_| err("expected a numeric priority (0-255) after the last comma"))?;
            let name = name.trim();
            if name.is_empty() {
                return Err(err("expected a classtype name before the first comma"));
            }
            self.entries.insert(
                name.to_string(),
                ClassType {
                    description: desc.trim().to_string(),
                    priority,
                },
            );
            n += 1;
        }
        Ok(n)
    }
}

/// Documented bounds of the rule engine's per-flow and global state. Hitting one
/// bumps a counter in [`RuleSet::counters`](crate::RuleSet::counters).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RulesLimits {
    /// Bytes of reassembled stream kept per direction for stream rules (the
    /// current "turn": data sent since the other side last sent data). Older
    /// bytes slide out; `depth`/`offset` then count from the window start.
    pub stream_window_bytes: usize,
    /// Flowbits set at once per flow.
    pub flowbits_per_flow: usize,
    /// (transaction, rule) pairs remembered per flow to alert once per transaction.
    pub tx_alerts_per_flow: usize,
    /// Entries in the global threshold / detection_filter table.
    pub threshold_entries: usize,
    /// Backtracking steps when re-trying relative content matches for one rule
    /// on one buffer (Suricata's `inspection-recursion-limit`).
    pub inspection_recursion_limit: u32,
    /// PCRE2 match limit (backtracking steps per `pcre` evaluation).
    pub pcre_match_limit: u32,
    /// Bytes decoded by `base64_decode` at most.
    pub base64_max_bytes: usize,
}

impl Default for RulesLimits {
    fn default() -> Self {
        RulesLimits {
            stream_window_bytes: 16 * 1024,
            flowbits_per_flow: 256,
            tx_alerts_per_flow: 4096,
            threshold_entries: 65_536,
            inspection_recursion_limit: 3000,
            pcre_match_limit: 3500,
            base64_max_bytes: 64 * 1024,
        }
    }
}

/// What payload inspection does once a TLS or SSH flow turns encrypted
/// (Suricata's `app-layer.protocols.{tls,ssh}.encryption-handling`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum EncryptionHandling {
    /// Suricata's default (`track-only`, older `default`): once a TLS flow
    /// carries an application-data record after its handshake, or both sides
    /// of an SSH flow sent `NEWKEYS`, raw payload keywords (`content`, `pcre`,
    /// `byte_*`, ... on packets and streams) stop inspecting the flow;
    /// application-layer keywords (`tls.*`, `ssh.*`, `ssl_state`, ...) go on.
    #[default]
    TrackOnly,
    /// Inspect encrypted payload like any other (`full`).
    Full,
}

impl EncryptionHandling {
    /// Reads a Suricata value: `track-only`/`default`/`bypass` (bypass stops
    /// inspection too) or `full`.
    pub fn parse(s: &str) -> Option<EncryptionHandling> {
        match s.trim().to_ascii_lowercase().as_str() {
            "track-only" | "default" | "bypass" => Some(EncryptionHandling::TrackOnly),
            "full" => Some(EncryptionHandling::Full),
            _ => None,
        }
    }
}

/// Everything that shapes how rules load and match.
#[derive(Clone, Debug, Default)]
pub struct RulesConfig {
    /// Address and port variables.
    pub vars: Vars,
    /// Classtype table (default: Suricata's `classification.config`).
    pub classification: Classification,
    /// A `threshold.config` file (suppress / threshold / event_filter lines).
    pub threshold_file: Option<PathBuf>,
    /// Limits.
    pub limits: RulesLimits,
    /// Payload inspection of encrypted TLS data (default: Suricata's `track-only`).
    pub tls_encryption: EncryptionHandling,
    /// Payload inspection of encrypted SSH data (default: Suricata's `track-only`).
    pub ssh_encryption: EncryptionHandling,
    /// Non-fatal notes from loading the configuration (for the operator).
    pub warnings: Vec<String>,
}

impl RulesConfig {
    /// Reads the `vars:` (`address-groups`, `port-groups`), `classification-file`
    /// and `threshold-file` of a `suricata.yaml`-style file over the defaults.
    pub fn from_suricata_yaml(path: &Path) -> Result<RulesConfig, RulesError> {
        let text = std::fs::read_to_string(path).map_err(|source| RulesError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        let mut cfg = RulesConfig::default();
        cfg.apply_yaml(path, &text)?;
        Ok(cfg)
    }

    /// Applies a `suricata.yaml`-style text (see [`RulesConfig::from_suricata_yaml`]).
    pub fn apply_yaml(&mut self, path: &Path, text: &str) -> Result<(), RulesError> {
        use yaml_rust2::{Yaml, YamlLoader};
        // Suricata files begin with `%YAML 1.1` and `---`; the parser handles both.
        let docs = YamlLoader::load_from_str(text).map_err(|e| RulesError::BadConfig {
            path: path.to_path_buf(),
            line: e.marker().line(),
            message: format!("expected YAML: {}", e.info()),
        })?;
        let Some(doc) = docs.first() else {
            return Ok(());
        };
        let scalar = |y: &Yaml| -> Option<String> {
            match y {
                Yaml::String(s) | Yaml::Real(s) => Some(s.clone()),
                Yaml::Integer(i) => Some(i.to_string()),
                Yaml::Boolean(b) => Some(b.to_string()),
                _ => None,
            }
        };
        let vars = &doc["vars"];
        for (group, is_port) in [("address-groups", false), ("port-groups", true)] {
            if let Yaml::Hash(h) = &vars[group] {
                for (k, v) in h {
                    let (Some(name), Some(value)) = (scalar(k), scalar(v)) else {
                        return Err(RulesError::BadConfig {
                            path: path.to_path_buf(),
                            line: 0,
                            message: format!("vars.{group}: expected `NAME: value` pairs"),
                        });
                    };
                    if is_port {
                        self.vars.port.insert(name, value);
                    } else {
                        self.vars.address.insert(name, value);
                    }
                }
            }
        }
        let protos = &doc["app-layer"]["protocols"];
        for (proto, keys) in [
            ("tls", ["encryption-handling", "encrypt-handling"]),
            ("ssh", ["encryption-handling", "encrypt-handling"]),
        ] {
            for key in keys {
                let Some(v) = scalar(&protos[proto][key]) else {
                    continue;
                };
                let Some(h) = EncryptionHandling::parse(&v) else {
                    return Err(RulesError::BadConfig {
                        path: path.to_path_buf(),
                        line: 0,
                        message: format!(
                            "app-layer.protocols.{proto}.{key}: expected track-only, default, bypass or full, found {v:?}"
                        ),
                    });
                };
                if proto == "tls" {
                    self.tls_encryption = h;
                } else {
                    self.ssh_encryption = h;
                }
            }
        }
        let base = path.parent().unwrap_or(Path::new("."));
        if let Some(f) = scalar(&doc["classification-file"]) {
            let p = base.join(&f);
            if p.exists() {
                self.load_classification(&p)?;
            } else {
                self.warnings.push(format!(
                    "{}: classification-file {f} not found; using the built-in table",
                    path.display()
                ));
            }
        }
        if let Some(f) = scalar(&doc["threshold-file"]) {
            let p = base.join(&f);
            if p.exists() {
                self.threshold_file = Some(p);
            } else {
                self.warnings.push(format!(
                    "{}: threshold-file {f} not found; ignored",
                    path.display()
                ));
            }
        }
        Ok(())
    }

    /// Replaces the classtype table with the entries of a `classification.config`.
    pub fn load_classification(&mut self, path: &Path) -> Result<(), RulesError> {
        let text = std::fs::read_to_string(path).map_err(|source| RulesError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        let mut c = Classification::empty();
        c.merge_text(path, &text)?;
        self.classification = c;
        Ok(())
    }

    /// Sets an address or port variable. Names ending in `_PORTS` (or already
    /// defined as port variables) are port variables; the rest are addresses.
    /// The value is checked now so a bad definition fails here, not per rule.
    pub fn set_var(&mut self, name: &str, value: &str) -> Result<(), RulesError> {
        let name = name.trim().trim_start_matches('$');
        if name.is_empty()
            || !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        {
            return Err(RulesError::BadVar {
                name: name.to_string(),
                message: "expected a name of letters, digits and `_`".to_string(),
            });
        }
        let is_port = name.ends_with("_PORTS") || self.vars.port.contains_key(name);
        let mut probe = self.vars.clone();
        if is_port {
            probe.port.insert(name.to_string(), value.to_string());
            crate::header::parse_ports(&format!("${name}"), &probe).map_err(|e| {
                RulesError::BadVar {
                    name: name.to_string(),
                    message: e,
                }
            })?;
        } else {
            probe.address.insert(name.to_string(), value.to_string());
            crate::header::parse_addrs(&format!("${name}"), &probe).map_err(|e| {
                RulesError::BadVar {
                    name: name.to_string(),
                    message: e,
                }
            })?;
        }
        self.vars = probe;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_classification_is_suricatas() {
        let c = Classification::default();
        let t = c.get("trojan-activity").unwrap();
        assert_eq!(t.description, "A Network Trojan was detected");
        assert_eq!(t.priority, 1);
        assert_eq!(c.get("bad-unknown").unwrap().priority, 2);
        assert_eq!(c.entries.len(), 43);
    }

    #[test]
    fn malformed_classification_names_line() {
        let mut c = Classification::empty();
        let e = c
            .merge_text(Path::new("c.config"), "# x\nconfig classification: a,b,x\n")
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "c.config:2: expected a numeric priority (0-255) after the last comma"
        );
    }

    #[test]
    fn yaml_vars_override_defaults() {
        let mut cfg = RulesConfig::default();
        cfg.apply_yaml(
            Path::new("s.yaml"),
            "%YAML 1.1\n---\nvars:\n  address-groups:\n    HOME_NET: \"[10.1.0.0/16]\"\n  port-groups:\n    HTTP_PORTS: \"[80,8080]\"\n",
        )
        .unwrap();
        assert_eq!(cfg.vars.address["HOME_NET"], "[10.1.0.0/16]");
        assert_eq!(cfg.vars.port["HTTP_PORTS"], "[80,8080]");
        assert_eq!(cfg.vars.port["SSH_PORTS"], "22");
    }

    #[test]
    fn yaml_encryption_handling() {
        let mut cfg = RulesConfig::default();
        assert_eq!(cfg.tls_encryption, EncryptionHandling::TrackOnly);
        cfg.apply_yaml(
            Path::new("s.yaml"),
            "app-layer:\n  protocols:\n    tls:\n      encryption-handling: full\n    ssh:\n      encryption-handling: bypass\n",
        )
        .unwrap();
        assert_eq!(cfg.tls_encryption, EncryptionHandling::Full);
        assert_eq!(cfg.ssh_encryption, EncryptionHandling::TrackOnly);
        let e = cfg
            .apply_yaml(
                Path::new("s.yaml"),
                "app-layer:\n  protocols:\n    tls:\n      encryption-handling: maybe\n",
            )
            .unwrap_err();
        assert!(e.to_string().contains("expected track-only"), "{e}");
    }

    #[test]
    fn set_var_checks_value() {
        let mut cfg = RulesConfig::default();
        cfg.set_var("HOME_NET", "[10.0.0.0/8]").unwrap();
        cfg.set_var("HTTP_PORTS", "[80,8000:8100]").unwrap();
        let e = cfg.set_var("HOME_NET", "[10.0.0.0/40]").unwrap_err();
        assert!(e.to_string().starts_with("variable HOME_NET:"), "{e}");
        assert!(cfg.set_var("HTTP_PORTS", "70000").is_err());
    }
}
