//! Raw flags and configuration files → validated [`Settings`].
//!
//! The configuration file is YAML in the shape of `suricata.yaml` (the parts
//! stormwatch understands: `vars`, `outputs` → `eve-log`, `stream`, `app-layer`,
//! `rule-files`, `classification-file`) plus a `stormwatch:` section for our own
//! settings. `--set key=value` overrides use Suricata's dotted paths. See
//! `docs/configuration.md`.

use anyhow::{Context, Result, anyhow, bail};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use stormwatch_engine::Config;
use stormwatch_flow::{ChecksumMode, Delivery};
use stormwatch_model::NetSet;
use stormwatch_output::eve::EveOptions;
use stormwatch_proto::{DetectionPort, Transport};
use stormwatch_rules::RulesConfig;
use yaml_rust2::yaml::Hash;
use yaml_rust2::{Yaml, YamlLoader};

/// Everything a run needs, validated.
#[derive(Clone, Default)]
pub struct Settings {
    /// Engine configuration.
    pub engine: Config,
    /// EVE output options.
    pub eve: EveOptions,
    /// Rule variables and classification.
    pub rules: RulesConfig,
    /// Rule files named by the configuration (`rule-files`), used when no `--rules` is given.
    pub rule_files: Vec<PathBuf>,
}

fn yaml_bool(y: &Yaml) -> Option<bool> {
    match y {
        Yaml::Boolean(b) => Some(*b),
        Yaml::String(s) => match s.to_ascii_lowercase().as_str() {
            "yes" | "true" | "on" | "1" => Some(true),
            "no" | "false" | "off" | "0" => Some(false),
            _ => None,
        },
        Yaml::Integer(i) => Some(*i != 0),
        _ => None,
    }
}

fn yaml_string(y: &Yaml) -> Option<String> {
    match y {
        Yaml::String(s) => Some(s.clone()),
        Yaml::Integer(i) => Some(i.to_string()),
        Yaml::Real(r) => Some(r.clone()),
        Yaml::Boolean(b) => Some(b.to_string()),
        _ => None,
    }
}

/// Parses a size such as `1mb`, `64 KiB`, `2GiB`, `1048576` into bytes.
pub fn parse_size(s: &str) -> Option<u64> {
    let s = s.trim();
    let split = s
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let n: f64 = num.parse().ok()?;
    let mult: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" | "kib" => 1 << 10,
        "m" | "mb" | "mib" => 1 << 20,
        "g" | "gb" | "gib" => 1 << 30,
        _ => return None,
    };
    Some((n * mult as f64) as u64)
}

/// Applies `--set a.b.c=value` to a YAML document (creating maps on the way; a
/// numeric component indexes a list).
pub fn apply_set(doc: &mut Yaml, path: &str, value: &str) -> Result<()> {
    let parts: Vec<&str> = path.split('.').collect();
    set_at(doc, &parts, value).map_err(|e| anyhow!("--set {path}: {e}"))
}

fn set_at(node: &mut Yaml, parts: &[&str], value: &str) -> std::result::Result<(), String> {
    let Some((first, rest)) = parts.split_first() else {
        *node = Yaml::String(value.to_string());
        return Ok(());
    };
    if let Yaml::Array(a) = node {
        let idx: usize = first
            .parse()
            .map_err(|_| format!("{first:?} is not a list index"))?;
        let len = a.len();
        let child = a
            .get_mut(idx)
            .ok_or_else(|| format!("index {idx} out of range (list has {len})"))?;
        return set_at(child, rest, value);
    }
    if !matches!(node, Yaml::Hash(_)) {
        *node = Yaml::Hash(Hash::new());
    }
    match node {
        Yaml::Hash(h) => {
            let child = h
                .entry(Yaml::String((*first).to_string()))
                .or_insert(Yaml::Null);
            set_at(child, rest, value)
        }
        _ => Err("internal: not a map".into()),
    }
}

impl Settings {
    /// stormwatch's own defaults, a configuration file and `--set` overrides.
    pub fn load(config: Option<&Path>, sets: &[(String, String)]) -> Result<Settings> {
        let mut s = Settings::default();
        let mut doc = match config {
            Some(p) => read_yaml(p)?,
            None => Yaml::Hash(Hash::new()),
        };
        // A file without stormwatch's own section is a Suricata configuration:
        // its stream data is inspected as Suricata's IDS mode does.
        if config.is_some() && doc["stormwatch"].is_badvalue() {
            s.engine.flow.delivery = Delivery::OnAck;
        }
        for (k, v) in sets {
            apply_set(&mut doc, k, v)?;
        }
        s.apply(&doc, config).with_context(|| match config {
            Some(p) => format!("configuration {}", p.display()),
            None => "configuration".into(),
        })?;
        Ok(s)
    }

    /// Settings that reproduce Suricata 9's behaviour for compatibility runs
    /// (suricata-verify): no behavioural stages, midstream off, Suricata's EVE
    /// defaults — or exactly the `outputs` of the given `suricata.yaml` — then the
    /// test's command-line `args` (`-k none`, `--set k=v`) and environment.
    pub fn suricata_compat(
        yaml: Option<&Path>,
        args: &[String],
        env: &[(String, String)],
    ) -> Result<Settings> {
        let mut s = Settings::default();
        s.engine.behaviour = false;
        s.engine.flow.midstream = false;
        s.engine.flow.checksum = ChecksumMode::Auto;
        // Suricata's IDS mode: stream data is inspected once acknowledged.
        s.engine.flow.delivery = Delivery::OnAck;
        s.eve = EveOptions::suricata_default();
        // Suricata's default suricata.yaml: `http: extended: yes`, `tls: extended: yes`.
        s.engine.proto.http.extended = yaml.is_none();
        s.engine.proto.tls.extended = yaml.is_none();
        // Suricata probes each side of a UDP flow once (its first datagram
        // with payload).
        s.engine.proto.detect.max_detect_datagrams = 1;
        // Suricata finds DNS by port-bound probing only (its default
        // `detection-ports: dp: 53`, plus any configured below).
        for transport in [Transport::Udp, Transport::Tcp] {
            s.engine.proto.detect.gated_ports.push(DetectionPort {
                proto: stormwatch_model::AppProto::Dns,
                transport,
                port: 53,
            });
        }
        let mut doc = match yaml {
            Some(p) => {
                let d = read_yaml(p)?;
                // A test's suricata.yaml is the whole configuration: outputs not
                // listed are not logged.
                s.eve.types = Some(BTreeSet::new());
                d
            }
            None => Yaml::Hash(Hash::new()),
        };
        let mut it = args.iter();
        while let Some(a) = it.next() {
            match a.as_str() {
                "-k" => {
                    let v = it.next().ok_or_else(|| anyhow!("-k needs a value"))?;
                    if v == "none" {
                        s.engine.flow.checksum = ChecksumMode::Off;
                    } else if v == "all" {
                        s.engine.flow.checksum = ChecksumMode::On;
                    }
                }
                "--set" => {
                    let kv = it.next().ok_or_else(|| anyhow!("--set needs key=value"))?;
                    let (k, v) = kv
                        .split_once('=')
                        .ok_or_else(|| anyhow!("--set {kv}: expected key=value"))?;
                    apply_set(&mut doc, k, v)?;
                }
                other => bail!("unsupported argument {other:?}"),
            }
        }
        for (k, v) in env {
            if k == "SURICATA_EVE_DNS_VERSION" {
                apply_dns_version(&mut s, v)?;
            }
        }
        s.apply(&doc, yaml)?;
        Ok(s)
    }

    fn apply(&mut self, doc: &Yaml, origin: Option<&Path>) -> Result<()> {
        // vars
        if let Yaml::Hash(groups) = &doc["vars"]["address-groups"] {
            for (k, v) in groups {
                if let (Some(k), Some(v)) = (yaml_string(k), yaml_string(v)) {
                    self.rules.set_var(&k, &v).map_err(|e| anyhow!("{e}"))?;
                    if k == "HOME_NET" {
                        self.engine.set_home_net(
                            NetSet::parse(&v)
                                .map_err(|e| anyhow!("vars.address-groups.HOME_NET: {e}"))?,
                        );
                    }
                }
            }
        }
        if let Yaml::Hash(groups) = &doc["vars"]["port-groups"] {
            for (k, v) in groups {
                if let (Some(k), Some(v)) = (yaml_string(k), yaml_string(v)) {
                    self.rules.set_var(&k, &v).map_err(|e| anyhow!("{e}"))?;
                }
            }
        }
        // stream
        let stream = &doc["stream"];
        if let Some(b) = yaml_bool(&stream["midstream"]) {
            self.engine.flow.midstream = b;
        }
        if let Some(b) = yaml_bool(&stream["checksum-validation"]) {
            self.engine.flow.checksum = if b {
                ChecksumMode::On
            } else {
                ChecksumMode::Off
            };
        }
        if let Some(d) = yaml_string(&stream["delivery"]) {
            self.engine.flow.delivery = Delivery::from_name(&d)
                .ok_or_else(|| anyhow!("stream.delivery: {d:?} is not one of immediate, on-ack"))?;
        }
        if let Some(d) = yaml_string(&stream["reassembly"]["depth"]) {
            self.engine.flow.reassembly_depth_bytes = parse_size(&d).ok_or_else(|| {
                anyhow!("stream.reassembly.depth: {d:?} is not a size (e.g. 1mb)")
            })?;
        }
        // app-layer
        self.apply_app_layer(&doc["app-layer"]["protocols"])?;
        // outputs
        if let Yaml::Array(outs) = &doc["outputs"] {
            for o in outs {
                let eve = &o["eve-log"];
                if eve.is_badvalue() {
                    continue;
                }
                if yaml_bool(&eve["enabled"]) == Some(false) {
                    continue;
                }
                self.apply_eve(eve)?;
            }
        }
        // rule files
        if let Yaml::Array(files) = &doc["rule-files"] {
            let base = yaml_string(&doc["default-rule-path"])
                .map(PathBuf::from)
                .or_else(|| origin.and_then(|p| p.parent()).map(Path::to_path_buf));
            for f in files.iter().filter_map(yaml_string) {
                let p = PathBuf::from(&f);
                self.rule_files.push(match (&base, p.is_absolute()) {
                    (Some(b), false) => b.join(p),
                    _ => p,
                });
            }
        }
        if let Some(c) = yaml_string(&doc["classification-file"]) {
            self.rules
                .load_classification(Path::new(&c))
                .map_err(|e| anyhow!("{e}"))?;
        }
        // stormwatch's own section
        let sw = &doc["stormwatch"];
        if let Some(h) = yaml_string(&sw["home-net"]) {
            self.engine
                .set_home_net(NetSet::parse(&h).map_err(|e| anyhow!("stormwatch.home-net: {e}"))?);
        }
        if let Some(b) = yaml_bool(&sw["behaviour"]) {
            self.engine.behaviour = b;
        }
        if let Some(b) = yaml_bool(&sw["detectors"]) {
            self.engine.detectors = b;
        }
        Ok(())
    }

    fn apply_eve(&mut self, eve: &Yaml) -> Result<()> {
        if let Some(b) = yaml_bool(&eve["ethernet"]) {
            self.eve.ethernet = b;
        }
        let Yaml::Array(types) = &eve["types"] else {
            return Ok(());
        };
        let mut enabled = BTreeSet::new();
        for t in types {
            match t {
                Yaml::String(name) => {
                    enabled.insert(name.clone());
                }
                Yaml::Hash(h) => {
                    for (k, v) in h {
                        let Some(name) = yaml_string(k) else { continue };
                        if yaml_bool(&v["enabled"]) == Some(false) {
                            continue;
                        }
                        self.apply_eve_type(&name, v)?;
                        enabled.insert(name);
                    }
                }
                _ => {}
            }
        }
        self.eve.types = Some(enabled);
        Ok(())
    }

    fn apply_eve_type(&mut self, name: &str, v: &Yaml) -> Result<()> {
        match name {
            "alert" => {
                if let Some(b) = yaml_bool(&v["payload"]) {
                    self.eve.alert_payload = b;
                }
                if let Some(b) = yaml_bool(&v["payload-printable"]) {
                    self.eve.alert_payload_printable = b;
                }
                if let Some(b) = yaml_bool(&v["packet"]) {
                    self.eve.alert_packet = b;
                }
                if let Some(b) = yaml_string(&v["payload-buffer-size"]).and_then(|s| parse_size(&s))
                {
                    self.eve.alert_payload_buffer_size = usize::try_from(b).unwrap_or(usize::MAX);
                }
                match &v["metadata"] {
                    Yaml::Hash(_) => self.eve.alert_metadata = true,
                    other => {
                        if let Some(b) = yaml_bool(other) {
                            self.eve.alert_metadata = b;
                        }
                    }
                }
            }
            "anomaly" => {
                let t = &v["types"];
                if let Some(b) = yaml_bool(&t["decode"]) {
                    self.eve.anomaly_decode = b;
                }
                if let Some(b) = yaml_bool(&t["stream"]) {
                    self.eve.anomaly_stream = b;
                }
                if let Some(b) = yaml_bool(&t["applayer"]) {
                    self.eve.anomaly_applayer = b;
                }
            }
            "dns" => {
                if let Some(ver) = yaml_string(&v["version"]) {
                    apply_dns_version(self, &ver)?;
                }
                let dns = &mut self.engine.proto.dns;
                if let Some(b) = yaml_bool(&v["requests"]) {
                    dns.requests = b;
                }
                if let Some(b) = yaml_bool(&v["responses"]) {
                    dns.responses = b;
                }
                if let Yaml::Array(types) = &v["types"] {
                    let mut list = Vec::new();
                    for t in types.iter().filter_map(yaml_string) {
                        let code =
                            stormwatch_proto::dns::rrtype_from_name(&t).ok_or_else(|| {
                                anyhow!("eve-log dns types: unknown record type {t:?}")
                            })?;
                        list.push(code);
                    }
                    dns.types = Some(list);
                }
                if let Yaml::Array(formats) = &v["formats"] {
                    let f: Vec<String> = formats.iter().filter_map(yaml_string).collect();
                    dns.detailed = f.iter().any(|x| x == "detailed");
                    dns.grouped = f.iter().any(|x| x == "grouped");
                }
            }
            "http" => {
                let http = &mut self.engine.proto.http;
                if let Some(b) = yaml_bool(&v["extended"]) {
                    http.extended = b;
                }
                if let Some(d) = yaml_string(&v["dump-all-headers"]) {
                    use stormwatch_proto::http::HeaderDump;
                    http.dump_all_headers = match d.as_str() {
                        "both" => HeaderDump::Both,
                        "request" => HeaderDump::Request,
                        "response" => HeaderDump::Response,
                        "none" | "no" => HeaderDump::None,
                        other => bail!(
                            "eve-log http dump-all-headers: {other:?}: expected both, request, response or none"
                        ),
                    };
                }
            }
            "tls" => {
                let tls = &mut self.engine.proto.tls;
                if let Some(b) = yaml_bool(&v["extended"]) {
                    tls.extended = b;
                }
                if let Yaml::Array(c) = &v["custom"] {
                    tls.custom = Some(c.iter().filter_map(yaml_string).collect());
                }
            }
            "smtp" => {
                if let Some(b) = yaml_bool(&v["extended"]) {
                    self.engine.proto.smtp.extended = b;
                }
            }
            _ => {}
        }
        Ok(())
    }

    /// `app-layer.protocols.<p>.enabled`, `.tcp.enabled`, `.udp.enabled`,
    /// `.detection-ports.dp`.
    fn apply_app_layer(&mut self, protos: &Yaml) -> Result<()> {
        use stormwatch_model::AppProto;
        let Yaml::Hash(h) = protos else { return Ok(()) };
        for (name, v) in h {
            let Some(name) = yaml_string(name) else {
                continue;
            };
            let Some(proto) = AppProto::from_name(&name) else {
                continue;
            };
            let all = yaml_bool(&v["enabled"]);
            let tcp = yaml_bool(&v["tcp"]["enabled"]).or(all);
            let udp = yaml_bool(&v["udp"]["enabled"]).or(all);
            let det = &mut self.engine.proto.detect;
            if tcp == Some(false) && !det.disabled_tcp.contains(&proto) {
                det.disabled_tcp.push(proto);
            }
            if udp == Some(false) && !det.disabled_udp.contains(&proto) {
                det.disabled_udp.push(proto);
            }
            if proto == AppProto::Dns {
                if let Some(b) = tcp {
                    self.engine.proto.dns.tcp_enabled = b;
                }
                if let Some(b) = udp {
                    self.engine.proto.dns.udp_enabled = b;
                }
            }
            for transport in [Transport::Tcp, Transport::Udp] {
                let section = match transport {
                    Transport::Tcp => &v["tcp"]["detection-ports"]["dp"],
                    Transport::Udp => &v["udp"]["detection-ports"]["dp"],
                };
                let dp = yaml_string(section).or_else(|| yaml_string(&v["detection-ports"]["dp"]));
                if let Some(dp) = dp {
                    for port in dp.trim_matches(|c| c == '[' || c == ']').split(',') {
                        let port: u16 = port
                            .trim()
                            .parse()
                            .map_err(|_| anyhow!("app-layer.protocols.{name}.detection-ports.dp: {dp:?} is not a port list"))?;
                        self.engine
                            .proto
                            .detect
                            .detection_ports
                            .push(DetectionPort {
                                proto,
                                transport,
                                port,
                            });
                    }
                }
            }
        }
        Ok(())
    }
}

fn apply_dns_version(s: &mut Settings, v: &str) -> Result<()> {
    s.engine.proto.dns.version = match v.trim() {
        "2" => 2,
        "3" => 3,
        other => bail!("dns version {other:?}: expected 2 or 3"),
    };
    Ok(())
}

fn read_yaml(p: &Path) -> Result<Yaml> {
    let text = std::fs::read_to_string(p).with_context(|| format!("reading {}", p.display()))?;
    // Suricata's files start with `%YAML 1.1` and `---`; both are fine here.
    let docs = YamlLoader::load_from_str(&text).map_err(|e| {
        anyhow!(
            "{}:{}:{}: invalid YAML: {}",
            p.display(),
            e.marker().line(),
            e.marker().col() + 1,
            e.info()
        )
    })?;
    Ok(docs.into_iter().next().unwrap_or(Yaml::Hash(Hash::new())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("1mb"), Some(1 << 20));
        assert_eq!(parse_size("64 KiB"), Some(64 << 10));
        assert_eq!(parse_size("0"), Some(0));
        assert_eq!(parse_size("2GiB"), Some(2 << 30));
        assert_eq!(parse_size("lots"), None);
    }

    #[test]
    fn set_overrides_build_paths() {
        let mut d = Yaml::Hash(Hash::new());
        apply_set(&mut d, "stream.midstream", "true").unwrap();
        apply_set(&mut d, "app-layer.protocols.dns.detection-ports.dp", "5353").unwrap();
        assert_eq!(yaml_bool(&d["stream"]["midstream"]), Some(true));
        assert_eq!(
            yaml_string(&d["app-layer"]["protocols"]["dns"]["detection-ports"]["dp"]).as_deref(),
            Some("5353")
        );
    }

    #[test]
    fn delivery_follows_the_kind_of_configuration() {
        let dir = tempfile::tempdir().unwrap();
        let suricata = dir.path().join("suricata.yaml");
        std::fs::write(&suricata, "%YAML 1.1\n---\nstream:\n  midstream: false\n").unwrap();
        let ours = dir.path().join("stormwatch.yaml");
        std::fs::write(&ours, "stormwatch:\n  behaviour: yes\n").unwrap();
        let d = |p: Option<&Path>, sets: &[(String, String)]| {
            Settings::load(p, sets).unwrap().engine.flow.delivery
        };
        assert_eq!(d(None, &[]), Delivery::Immediate);
        assert_eq!(d(Some(&suricata), &[]), Delivery::OnAck);
        assert_eq!(d(Some(&ours), &[]), Delivery::Immediate);
        let set = [("stream.delivery".to_string(), "immediate".to_string())];
        assert_eq!(d(Some(&suricata), &set), Delivery::Immediate);
        let set = [("stream.delivery".to_string(), "on-ack".to_string())];
        assert_eq!(d(None, &set), Delivery::OnAck);
        let set = [("stream.delivery".to_string(), "later".to_string())];
        assert!(Settings::load(None, &set).is_err());
        assert_eq!(
            Settings::suricata_compat(None, &[], &[])
                .unwrap()
                .engine
                .flow
                .delivery,
            Delivery::OnAck
        );
    }

    #[test]
    fn compat_args() {
        let s = Settings::suricata_compat(
            None,
            &[
                "-k".into(),
                "none".into(),
                "--set".into(),
                "stream.midstream=true".into(),
            ],
            &[],
        )
        .unwrap();
        assert_eq!(s.engine.flow.checksum, ChecksumMode::Off);
        assert!(s.engine.flow.midstream);
        assert!(!s.engine.behaviour);
        assert!(Settings::suricata_compat(None, &["--bogus".into()], &[]).is_err());
    }
}
