//! Runs the part-B parsers over suricata-verify test captures and evaluates the
//! tests' `filter` checks (format in `shared/suricata-verify/README.md`) that
//! concern the records these parsers write (`http`, `dns`, `ftp`, `smtp`,
//! `fileinfo`, application-layer `anomaly`). Checks about alerts, flows or other
//! layers are left to the engine's runner.

use super::pcapkit::{self, Conv, Recorded};
use serde_json::Value;
use std::path::Path;
use stormwatch_model::Direction;
use stormwatch_proto::ProtoConfig;
use stormwatch_proto::api::{DatagramParser, ProbeResult, StreamParser};
use stormwatch_proto::dns::{DnsConfig, DnsTcpParser, DnsUdpParser};
use stormwatch_proto::http::{HeaderDump, HttpConfig, HttpParser};
use yaml_rust2::{Yaml, YamlLoader};

/// Converts YAML (as PyYAML would type it for these files) to JSON.
pub fn yaml_to_json(y: &Yaml) -> Value {
    match y {
        Yaml::Real(s) => s
            .parse::<f64>()
            .map(Value::from)
            .unwrap_or(Value::String(s.clone())),
        Yaml::Integer(i) => Value::from(*i),
        Yaml::String(s) => match s.as_str() {
            // YAML 1.1 booleans (PyYAML safe_load).
            "yes" | "Yes" | "on" | "On" => Value::Bool(true),
            "no" | "No" | "off" | "Off" => Value::Bool(false),
            _ => Value::String(s.clone()),
        },
        Yaml::Boolean(b) => Value::Bool(*b),
        Yaml::Array(a) => Value::Array(a.iter().map(yaml_to_json).collect()),
        Yaml::Hash(h) => Value::Object(
            h.iter()
                .map(|(k, v)| {
                    let k = match k {
                        Yaml::String(s) => s.clone(),
                        Yaml::Integer(i) => i.to_string(),
                        Yaml::Boolean(b) => b.to_string(),
                        _ => String::new(),
                    };
                    (k, yaml_to_json(v))
                })
                .collect(),
        ),
        Yaml::Null | Yaml::BadValue | Yaml::Alias(_) => Value::Null,
    }
}

fn load_yaml(p: &Path) -> Option<Value> {
    let text = std::fs::read_to_string(p).ok()?;
    let docs = YamlLoader::load_from_str(&text).ok()?;
    docs.first().map(yaml_to_json)
}

fn version_tuple(v: &Value) -> (u64, u64, u64) {
    let s = match v {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        _ => return (0, 0, 0),
    };
    let mut it = s.split('.').map(|p| p.parse::<u64>().unwrap_or(0));
    (
        it.next().unwrap_or(0),
        it.next().unwrap_or(0),
        it.next().unwrap_or(0),
    )
}

/// Whether a `requires` block holds for a 9.0.0 engine.
fn requires_ok(r: &Value) -> bool {
    let ours = (9, 0, 0);
    let Some(o) = r.as_object() else { return true };
    if let Some(v) = o.get("min-version")
        && ours < version_tuple(v)
    {
        return false;
    }
    if let Some(v) = o.get("lt-version")
        && ours >= version_tuple(v)
    {
        return false;
    }
    if let Some(v) = o.get("version") {
        let (a, b, c) = version_tuple(v);
        let s = match v {
            Value::String(s) => s.clone(),
            Value::Number(n) => n.to_string(),
            _ => String::new(),
        };
        let parts = s.split('.').count();
        let ok = match parts {
            1 => a == 9,
            2 => (a, b) == (9, 0),
            _ => (a, b, c) == ours,
        };
        if !ok {
            return false;
        }
    }
    true
}

fn lookup<'a>(v: &'a Value, path: &str) -> Option<&'a Value> {
    let mut cur = v;
    for comp in path.split('.') {
        let (name, idx) = match comp.find('[') {
            Some(i) if comp.ends_with(']') => (
                &comp[..i],
                comp[i + 1..comp.len() - 1].parse::<usize>().ok(),
            ),
            _ => (comp, None),
        };
        cur = cur.get(name)?;
        if let Some(i) = idx {
            cur = cur.get(i)?;
        }
    }
    Some(cur)
}

fn values_equal(got: &Value, want: &Value) -> bool {
    match (got, want) {
        (Value::Number(a), Value::Number(b)) => a.as_f64() == b.as_f64(),
        (Value::Bool(a), Value::Number(b)) | (Value::Number(b), Value::Bool(a)) => {
            b.as_f64() == Some(if *a { 1.0 } else { 0.0 })
        }
        (Value::Array(a), Value::Array(b)) => {
            a.len() == b.len() && a.iter().zip(b).all(|(x, y)| values_equal(x, y))
        }
        (Value::Object(a), Value::Object(b)) => {
            a.len() == b.len()
                && b.iter()
                    .all(|(k, v)| a.get(k).is_some_and(|g| values_equal(g, v)))
        }
        _ => got == want,
    }
}

fn path_list(v: &Value) -> Vec<String> {
    match v {
        Value::String(s) => vec![s.clone()],
        Value::Array(a) => a
            .iter()
            .filter_map(|x| x.as_str().map(String::from))
            .collect(),
        _ => vec![],
    }
}

fn matches(line: &Value, m: &serde_json::Map<String, Value>) -> bool {
    for (k, want) in m {
        match k.as_str() {
            "has-key" => {
                if !path_list(want)
                    .iter()
                    .all(|p| lookup(line, p).is_some_and(|v| !v.is_null()))
                {
                    return false;
                }
            }
            "not-has-key" => {
                if path_list(want)
                    .iter()
                    .any(|p| lookup(line, p).is_some_and(|v| !v.is_null()))
                {
                    return false;
                }
            }
            _ => {
                let (path, op) = match k.rsplit_once(".__") {
                    Some((p, o)) => (p, Some(o)),
                    None => (k.as_str(), None),
                };
                let got = lookup(line, path);
                let ok = match (op, got) {
                    (None, Some(g)) => values_equal(g, want),
                    (None, None) => false,
                    (Some("len"), Some(g)) => {
                        let n = match g {
                            Value::Array(a) => a.len() as i64,
                            Value::String(s) => s.chars().count() as i64,
                            Value::Object(o) => o.len() as i64,
                            _ => -1,
                        };
                        want.as_i64() == Some(n)
                    }
                    (Some("find" | "contains"), Some(g)) => match (g, want) {
                        (Value::String(s), Value::String(w)) => s.contains(w.as_str()),
                        (Value::Array(a), w) => a.iter().any(|x| values_equal(x, w)),
                        _ => false,
                    },
                    (Some("startswith"), Some(Value::String(s))) => {
                        want.as_str().is_some_and(|w| s.starts_with(w))
                    }
                    (Some("endswith"), Some(Value::String(s))) => {
                        want.as_str().is_some_and(|w| s.ends_with(w))
                    }
                    (Some(o @ ("gt" | "gte" | "lt" | "lte")), Some(Value::Number(n))) => {
                        let (a, b) = (
                            n.as_f64().unwrap_or(f64::NAN),
                            want.as_f64().unwrap_or(f64::NAN),
                        );
                        match o {
                            "gt" => a > b,
                            "gte" => a >= b,
                            "lt" => a < b,
                            _ => a <= b,
                        }
                    }
                    _ => false,
                };
                if !ok {
                    return false;
                }
            }
        }
    }
    true
}

/// Event types (and anomaly layers) the part-B parsers write.
const OURS: &[&str] = &["http", "dns", "ftp", "smtp", "fileinfo", "tftp", "ftp_data"];

/// Whether a check is about our records.
fn relevant(m: &serde_json::Map<String, Value>) -> bool {
    match m.get("event_type").and_then(Value::as_str) {
        Some("anomaly") => {
            // Application-layer parser events only (not decode/stream/detection).
            match m.get("anomaly.type").and_then(Value::as_str) {
                Some(t) => {
                    t == "applayer" && !m.get("anomaly.layer").is_some_and(|l| l == "proto_detect")
                }
                None => !m
                    .get("anomaly.event")
                    .and_then(Value::as_str)
                    .is_some_and(|e| e.starts_with("APPLAYER_") || e.contains('.')),
            }
        }
        Some(t) => OURS.contains(&t),
        None => {
            m.keys().all(|k| {
                let root = k.split(['.', '[']).next().unwrap_or("");
                OURS.contains(&root)
                    || root == "email"
                    || k == "pcap_cnt"
                    || k == "tx_id"
                    || k.starts_with("has-key")
                    || k.starts_with("not-has-key")
            }) && m.keys().any(|k| {
                let root = k.split(['.', '[']).next().unwrap_or("");
                OURS.contains(&root) || root == "email"
            })
        }
    }
}

/// Output settings read from a test's `suricata.yaml` and `env`.
#[derive(Clone, Debug, Default)]
pub struct TestConfig {
    pub proto: ProtoConfig,
    /// EVE types listed in the test's own suricata.yaml (None = default set).
    pub types: Option<Vec<String>>,
}

fn test_config(dir: &Path, test: &Value) -> TestConfig {
    let mut cfg = TestConfig::default();
    if let Some(v) = lookup(test, "env.SURICATA_EVE_DNS_VERSION").and_then(Value::as_i64) {
        cfg.proto.dns.version = v as u8;
    }
    let Some(y) = load_yaml(&dir.join("suricata.yaml")) else {
        return cfg;
    };
    let Some(outputs) = y.get("outputs").and_then(Value::as_array) else {
        return cfg;
    };
    let mut types = Vec::new();
    for o in outputs {
        let Some(eve) = o.get("eve-log") else {
            continue;
        };
        for t in eve
            .get("types")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            match t {
                Value::String(s) => {
                    types.push(s.clone());
                    if s == "http" {
                        cfg.proto.http.extended = false;
                    }
                }
                Value::Object(m) => {
                    for (name, opts) in m {
                        types.push(name.clone());
                        if name == "http" {
                            // Without options Suricata logs the basic fields only.
                            cfg.proto.http.extended = false;
                        }
                        if name == "dns" {
                            apply_dns(&mut cfg.proto.dns, opts);
                        }
                        if name == "http" {
                            apply_http(&mut cfg.proto.http, opts);
                        }
                        if name == "smtp"
                            && let Some(v) = opts.get("extended").and_then(Value::as_bool)
                        {
                            cfg.proto.smtp.extended = v;
                        }
                    }
                }
                _ => {}
            }
        }
    }
    cfg.types = Some(types);
    cfg
}

fn apply_dns(d: &mut DnsConfig, o: &Value) {
    if let Some(v) = o.get("version").and_then(Value::as_i64) {
        d.version = v as u8;
    }
    if let Some(v) = o.get("requests").and_then(Value::as_bool) {
        d.requests = v;
    }
    if let Some(v) = o.get("responses").and_then(Value::as_bool) {
        d.responses = v;
    }
    if let Some(a) = o.get("types").and_then(Value::as_array) {
        d.types = Some(
            a.iter()
                .filter_map(|t| t.as_str().and_then(stormwatch_proto::dns::rrtype_from_name))
                .collect(),
        );
    }
    if let Some(a) = o.get("formats").and_then(Value::as_array) {
        d.detailed = a.iter().any(|f| f == "detailed");
        d.grouped = a.iter().any(|f| f == "grouped");
    }
}

fn apply_http(h: &mut HttpConfig, o: &Value) {
    if let Some(v) = o.get("extended").and_then(Value::as_bool) {
        h.extended = v;
    }
    if let Some(v) = o.get("dump-all-headers").and_then(Value::as_str) {
        h.dump_all_headers = match v {
            "both" => HeaderDump::Both,
            "request" => HeaderDump::Request,
            "response" => HeaderDump::Response,
            _ => HeaderDump::None,
        };
    }
}

fn first_bytes(conv: &Conv, dir: Direction) -> Vec<u8> {
    let mut v = Vec::new();
    for (_, _, d, p) in &conv.items {
        if *d == dir
            && let pcapkit::Piece::Bytes(b) = p
        {
            v.extend_from_slice(b);
            if v.len() > 4096 {
                break;
            }
        }
    }
    v
}

/// Which part-B parser a conversation gets (the framework's job in the
/// engine; here a simple content test over the first bytes).
pub fn pick(conv: &Conv) -> Option<&'static str> {
    let ts = first_bytes(conv, Direction::ToServer);
    let tc = first_bytes(conv, Direction::ToClient);
    let is = |f: fn(Direction, &[u8]) -> ProbeResult| {
        f(Direction::ToServer, &ts) == ProbeResult::Match
            || f(Direction::ToClient, &tc) == ProbeResult::Match
    };
    if conv.key.proto.0 == 17 {
        let first = conv.items.iter().find_map(|(_, _, d, p)| match p {
            pcapkit::Piece::Bytes(b) => Some((*d, b.clone())),
            _ => None,
        });
        let dns = conv.items.iter().any(|(_, _, d, p)| matches!(p, pcapkit::Piece::Bytes(b) if stormwatch_proto::dns::probe(*d, b) == ProbeResult::Match));
        let _ = first;
        return dns.then_some("dns");
    }
    let mut found = None;
    for (name, f) in probes() {
        if is(f) {
            found = Some(name);
            break;
        }
    }
    found
}

type Probe = fn(Direction, &[u8]) -> ProbeResult;

fn probes() -> Vec<(&'static str, Probe)> {
    let mut v: Vec<(&'static str, Probe)> = vec![
        ("dns", stormwatch_proto::dns::probe_tcp),
        ("http", stormwatch_proto::http::probe),
    ];
    v.extend(extra_probes());
    v
}

/// Probes of the line protocols, in order (FTP before SMTP: both greet with 220).
fn extra_probes() -> Vec<(&'static str, Probe)> {
    vec![
        ("ftp", stormwatch_proto::ftp::probe),
        ("smtp", stormwatch_proto::smtp::probe),
    ]
}

/// Parsers of the line protocols.
fn extra_parser(name: &str, cfg: &ProtoConfig) -> Option<Box<dyn StreamParser>> {
    match name {
        "ftp" => Some(Box::new(stormwatch_proto::ftp::FtpParser::new(cfg))),
        "smtp" => Some(Box::new(stormwatch_proto::smtp::SmtpParser::new(cfg))),
        _ => None,
    }
}

/// FTP data connections announced so far: (address, port, command, file name).
type Expect = (std::net::IpAddr, u16, Option<String>, Option<String>);

/// Reads the announcements (and the transfer command that followed each) from
/// the events a control connection produced since `from`.
fn expectations(sink: &Recorded, from: usize, out: &mut Vec<Expect>) {
    use stormwatch_model::{AppEvent, FtpEvent};
    let first_new = out.len();
    for (_, _, e) in &sink.events[from..] {
        match e {
            AppEvent::Ftp(FtpEvent::DataExpected { addr, port }) => {
                out.push((*addr, *port, None, None))
            }
            AppEvent::Ftp(FtpEvent::Command { command, arg, .. })
                if ["RETR", "STOR", "STOU", "APPE", "LIST", "NLST"].contains(&command.as_str()) =>
            {
                if let Some(x) = out[first_new..].iter_mut().rev().find(|x| x.2.is_none()) {
                    x.2 = Some(command.clone());
                    x.3 = (!arg.is_empty()).then(|| arg.clone());
                }
            }
            _ => {}
        }
    }
}

/// Runs the right parser over every conversation of a capture.
pub fn run_capture(pcap: &Path, cfg: &ProtoConfig) -> Recorded {
    let pkts = pcapkit::read_pcap(pcap);
    let convs = pcapkit::conversations(&pkts);
    let mut sink = Recorded::default();
    let mut expect: Vec<Expect> = Vec::new();
    for (i, conv) in convs.iter().enumerate() {
        let flow = i as u64 + 1;
        let from = sink.events.len();
        let data = expect
            .iter()
            .position(|x| x.0 == conv.key.dst && x.1 == conv.key.dst_port)
            .map(|i| expect.remove(i));
        match data {
            Some((_, _, cmd, name)) => {
                let mut p = stormwatch_proto::ftp::FtpDataParser::with_context(
                    cfg,
                    cmd.as_deref(),
                    name.as_deref(),
                );
                pcapkit::run_stream(flow, conv, &mut p as &mut dyn StreamParser, &mut sink);
            }
            None => run_conv(flow, conv, cfg, &mut sink),
        }
        expectations(&sink, from, &mut expect);
    }
    sink
}

fn run_conv(flow: u64, conv: &Conv, cfg: &ProtoConfig, sink: &mut Recorded) {
    let after = match pick(conv) {
        Some("dns") if conv.key.proto.0 == 17 => {
            let mut p = DnsUdpParser::new(cfg);
            pcapkit::run_datagrams(flow, conv, &mut p as &mut dyn DatagramParser, sink);
            None
        }
        Some("dns") => {
            let mut p = DnsTcpParser::new(cfg);
            pcapkit::run_stream(flow, conv, &mut p as &mut dyn StreamParser, sink)
        }
        Some("http") => {
            let mut p = HttpParser::new(cfg);
            pcapkit::run_stream(flow, conv, &mut p as &mut dyn StreamParser, sink)
        }
        Some(other) => match extra_parser(other, cfg) {
            Some(mut p) => pcapkit::run_stream(flow, conv, p.as_mut(), sink),
            None => None,
        },
        None => None,
    };
    // After an upgrade (CONNECT, STARTTLS) the rest is identified afresh.
    if let Some(i) = after {
        let rest = Conv {
            key: conv.key,
            items: conv.items[i..].to_vec(),
            last: conv.last,
            last_ts: conv.last_ts,
        };
        if !rest.items.is_empty() {
            run_conv(flow, &rest, cfg, sink);
        }
    }
}

/// Outcome of one suricata-verify test.
#[derive(Debug)]
pub struct Outcome {
    pub name: String,
    /// Checks evaluated / passed.
    pub evaluated: usize,
    pub passed: usize,
    /// Failing checks: (check, matching lines).
    pub failures: Vec<(String, usize)>,
}

/// Runs one test folder: our parsers over its capture, then its relevant checks.
pub fn run_test(dir: &Path) -> Outcome {
    let name = dir.to_string_lossy().to_string();
    let test = load_yaml(&dir.join("test.yaml")).unwrap_or(Value::Null);
    let mut out = Outcome {
        name,
        evaluated: 0,
        passed: 0,
        failures: vec![],
    };
    let pcap = match test.get("pcap").and_then(Value::as_str) {
        Some(p) => dir.join(p.split_whitespace().next().unwrap_or(p)),
        None => {
            let mut found = None;
            for e in std::fs::read_dir(dir).unwrap().flatten() {
                let p = e.path();
                if p.extension().is_some_and(|x| x == "pcap") {
                    found = Some(p);
                }
            }
            match found {
                Some(p) => p,
                None => return out,
            }
        }
    };
    let cfg = test_config(dir, &test);
    let rec = run_capture(&pcap, &cfg.proto);
    let lines: Vec<Value> = rec
        .eve()
        .into_iter()
        .filter(|l| {
            let t = l["event_type"].as_str().unwrap_or("");
            cfg.types
                .as_ref()
                .is_none_or(|ts| ts.iter().any(|x| x == t))
        })
        .collect();
    for check in test
        .get("checks")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let Some(f) = check.get("filter") else {
            continue;
        };
        if let Some(r) = f.get("requires")
            && !requires_ok(r)
        {
            continue;
        }
        let Some(m) = f.get("match").and_then(Value::as_object) else {
            continue;
        };
        if !relevant(m) {
            continue;
        }
        let want = f.get("count").and_then(Value::as_u64).unwrap_or(0) as usize;
        let got = lines.iter().filter(|l| matches(l, m)).count();
        out.evaluated += 1;
        if got == want {
            out.passed += 1;
        } else {
            out.failures
                .push((format!("count {want}: {}", Value::Object(m.clone())), got));
        }
    }
    out
}
