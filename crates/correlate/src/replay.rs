//! Replays EVE JSON lines — Suricata's or stormwatch's — into a [`Correlator`]:
//! `alert`, `anomaly`, `notice`/`scan`, `flow` and `tls` records become the inputs
//! the engine would have given it; other records are counted and skipped.

use crate::Correlator;
use crate::config::classtype_for_category;
use crate::error::CorrelateError;
use serde_json::{Map, Value};
use std::borrow::Cow;
use std::io::BufRead;
use std::net::IpAddr;
use std::sync::Arc;
use stormwatch_model::{
    Alert, AlertAction, AlertFlow, Anomaly, AnomalyType, AppContext, AppEvent, AppProto, Direction,
    EndReason, Endpoints, FlowId, FlowKey, FlowRecord, FlowState, IpProto, Notice, NoticeKind,
    ScanInfo, SignatureInfo, Stage, Target, Timestamp, TlsEvent, Verdict,
};

/// What a replay read.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ReplayStats {
    /// Lines read (blank lines included).
    pub lines: u64,
    /// `alert` records replayed.
    pub alerts: u64,
    /// `notice` (and `scan`) records replayed.
    pub notices: u64,
    /// `anomaly` records replayed.
    pub anomalies: u64,
    /// `flow` records replayed.
    pub flows: u64,
    /// Application records replayed as parser facts (`tls`).
    pub app_events: u64,
    /// Records of other types (`http`, `dns`, `verdict`, `stats`, ...), skipped.
    pub skipped: u64,
}

type Expect = Result<(), String>;

fn obj<'a>(v: &'a Value, key: &str) -> Option<&'a Map<String, Value>> {
    v.get(key).and_then(Value::as_object)
}

fn s<'a>(m: &'a Map<String, Value>, key: &str) -> Option<&'a str> {
    m.get(key).and_then(Value::as_str)
}

fn u(m: &Map<String, Value>, key: &str) -> Option<u64> {
    m.get(key).and_then(Value::as_u64)
}

fn need_ip(m: &Map<String, Value>, key: &str) -> Result<IpAddr, String> {
    let t = s(m, key).ok_or_else(|| format!("an address in \"{key}\""))?;
    t.parse()
        .map_err(|_| format!("an IP address in \"{key}\", found {t:?}"))
}

fn port(m: &Map<String, Value>, key: &str) -> Result<u16, String> {
    match m.get(key) {
        None | Some(Value::Null) => Ok(0),
        Some(v) => v
            .as_u64()
            .and_then(|p| u16::try_from(p).ok())
            .ok_or_else(|| format!("a port number (0-65535) in \"{key}\"")),
    }
}

fn ts_of(m: &Map<String, Value>, key: &str) -> Result<Timestamp, String> {
    let t = s(m, key)
        .ok_or_else(|| format!("a \"{key}\" string such as 2004-04-20T09:14:31.000000+0000"))?;
    Timestamp::parse(t).ok_or_else(|| {
        format!("an EVE time in \"{key}\" such as 2004-04-20T09:14:31.000000+0000, found {t:?}")
    })
}

/// EVE `proto` (`TCP`, `UDP`, `ICMP`, `IPv6-ICMP`, or a number).
fn ip_proto(m: &Map<String, Value>) -> Result<IpProto, String> {
    match m.get("proto") {
        None | Some(Value::Null) => Ok(IpProto(0)),
        Some(Value::Number(n)) => n
            .as_u64()
            .and_then(|n| u8::try_from(n).ok())
            .map(IpProto)
            .ok_or_else(|| "an IP protocol number 0-255 in \"proto\"".to_string()),
        Some(Value::String(t)) => Ok(match t.to_ascii_uppercase().as_str() {
            "TCP" => IpProto::TCP,
            "UDP" => IpProto::UDP,
            "ICMP" => IpProto::ICMP,
            "IPV6-ICMP" | "ICMPV6" => IpProto::ICMPV6,
            "SCTP" => IpProto::SCTP,
            "GRE" => IpProto::GRE,
            "IGMP" => IpProto::IGMP,
            other => IpProto(other.parse::<u8>().map_err(|_| {
                format!("a protocol name (TCP, UDP, ICMP, ...) in \"proto\", found {t:?}")
            })?),
        }),
        Some(_) => Err("a protocol name or number in \"proto\"".to_string()),
    }
}

fn app_proto(m: &Map<String, Value>) -> AppProto {
    s(m, "app_proto")
        .and_then(AppProto::from_name)
        .unwrap_or_default()
}

fn parse_alert(m: &Map<String, Value>, ts: Timestamp) -> Result<Alert, String> {
    let al = m
        .get("alert")
        .and_then(Value::as_object)
        .ok_or("an \"alert\" object")?;
    let sid = u(al, "signature_id")
        .and_then(|x| u32::try_from(x).ok())
        .ok_or("\"alert.signature_id\" (a number)")?;
    let msg = s(al, "signature").ok_or("\"alert.signature\" (a string)")?;
    let category = s(al, "category").unwrap_or("").to_string();
    let classtype = s(al, "classtype")
        .map(str::to_string)
        .or_else(|| classtype_for_category(&category).map(str::to_string));
    let mut metadata = Vec::new();
    if let Some(md) = al.get("metadata").and_then(Value::as_object) {
        for (k, v) in md {
            let vals = match v {
                Value::Array(a) => a
                    .iter()
                    .filter_map(|x| x.as_str().map(str::to_string))
                    .collect(),
                Value::String(x) => vec![x.clone()],
                _ => Vec::new(),
            };
            metadata.push((k.clone(), vals));
        }
    }
    let references = al
        .get("references")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|x| x.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    let src_ip = need_ip(m, "src_ip")?;
    let dest_ip = need_ip(m, "dest_ip")?;
    let target = obj(&Value::Object(al.clone()), "target")
        .and_then(|t| s(t, "ip"))
        .and_then(|t| t.parse::<IpAddr>().ok())
        .map(|t| {
            if t == src_ip {
                Target::SrcIp
            } else {
                Target::DestIp
            }
        });
    let sig = SignatureInfo {
        gid: u(al, "gid")
            .and_then(|x| u32::try_from(x).ok())
            .unwrap_or(1),
        sid,
        rev: u(al, "rev")
            .and_then(|x| u32::try_from(x).ok())
            .unwrap_or(0),
        msg: msg.to_string(),
        classtype,
        category,
        severity: u(al, "severity")
            .and_then(|x| u8::try_from(x).ok())
            .unwrap_or(3),
        metadata,
        references,
        target,
    };
    let flow = match obj(&Value::Object(m.clone()), "flow") {
        Some(f) if f.contains_key("src_ip") => Some(AlertFlow {
            pkts_toserver: u(f, "pkts_toserver").unwrap_or(0),
            pkts_toclient: u(f, "pkts_toclient").unwrap_or(0),
            bytes_toserver: u(f, "bytes_toserver").unwrap_or(0),
            bytes_toclient: u(f, "bytes_toclient").unwrap_or(0),
            start: ts_of(f, "start").unwrap_or(ts),
            src_ip: need_ip(f, "src_ip")?,
            dest_ip: need_ip(f, "dest_ip")?,
            src_port: port(f, "src_port")?,
            dest_port: port(f, "dest_port")?,
        }),
        _ => None,
    };
    Ok(Alert {
        ts,
        sig: Arc::new(sig),
        action: if s(al, "action") == Some("blocked") {
            AlertAction::Blocked
        } else {
            AlertAction::Allowed
        },
        flow_id: u(m, "flow_id").map(FlowId),
        src_ip,
        src_port: port(m, "src_port")?,
        dest_ip,
        dest_port: port(m, "dest_port")?,
        proto: ip_proto(m)?,
        direction: match s(m, "direction") {
            Some("to_server") => Some(Direction::ToServer),
            Some("to_client") => Some(Direction::ToClient),
            _ => None,
        },
        app_proto: app_proto(m),
        tx_id: u(m, "tx_id"),
        flow,
        payload: None,
        packet: None,
        stream: false,
    })
}

fn endpoints(m: &Map<String, Value>) -> Result<Option<Endpoints>, String> {
    if !m.contains_key("src_ip") {
        return Ok(None);
    }
    Ok(Some(Endpoints {
        src: need_ip(m, "src_ip")?,
        dst: need_ip(m, "dest_ip")?,
        src_port: port(m, "src_port")?,
        dst_port: port(m, "dest_port")?,
        proto: ip_proto(m)?,
    }))
}

fn parse_anomaly(m: &Map<String, Value>, ts: Timestamp) -> Result<Anomaly, String> {
    let an = m
        .get("anomaly")
        .and_then(Value::as_object)
        .ok_or("an \"anomaly\" object")?;
    let event = s(an, "event").ok_or("\"anomaly.event\" (a string)")?;
    let kind = match s(an, "type") {
        Some("decode") => AnomalyType::Decode,
        Some("stream") => AnomalyType::Stream,
        Some("engine") => AnomalyType::Engine,
        _ => AnomalyType::Applayer,
    };
    Ok(Anomaly {
        ts,
        kind,
        event: Cow::Owned(event.to_string()),
        layer: s(an, "layer").map(|l| Cow::Owned(l.to_string())),
        app_proto: s(an, "app_proto")
            .or_else(|| s(m, "app_proto"))
            .and_then(AppProto::from_name),
        flow_id: u(m, "flow_id").map(FlowId),
        endpoints: endpoints(m)?,
        detail: s(an, "detail").map(str::to_string),
    })
}

fn flow_key(m: &Map<String, Value>) -> Result<FlowKey, String> {
    let mut vlan = [0u16; 2];
    if let Some(a) = m.get("vlan").and_then(Value::as_array) {
        for (slot, v) in vlan.iter_mut().zip(a) {
            *slot = v.as_u64().and_then(|x| u16::try_from(x).ok()).unwrap_or(0);
        }
    }
    Ok(FlowKey {
        src: need_ip(m, "src_ip")?,
        dst: need_ip(m, "dest_ip")?,
        src_port: port(m, "src_port")?,
        dst_port: port(m, "dest_port")?,
        proto: ip_proto(m)?,
        vlan,
    })
}

fn parse_flow(m: &Map<String, Value>, ts: Timestamp) -> Result<FlowRecord, String> {
    let flow_id = u(m, "flow_id").ok_or("a numeric \"flow_id\"")?;
    let f = m
        .get("flow")
        .and_then(Value::as_object)
        .ok_or("a \"flow\" object")?;
    let start = ts_of(f, "start").unwrap_or(ts);
    let end = ts_of(f, "end").unwrap_or(start);
    Ok(FlowRecord {
        flow_id: FlowId(flow_id),
        key: flow_key(m)?,
        start,
        end,
        pkts_toserver: u(f, "pkts_toserver").unwrap_or(0),
        pkts_toclient: u(f, "pkts_toclient").unwrap_or(0),
        bytes_toserver: u(f, "bytes_toserver").unwrap_or(0),
        bytes_toclient: u(f, "bytes_toclient").unwrap_or(0),
        app_proto: app_proto(m),
        app_proto_ts: None,
        app_proto_tc: None,
        state: match s(f, "state") {
            Some("established") => FlowState::Established,
            Some("closed") => FlowState::Closed,
            Some("bypassed") => FlowState::Bypassed,
            _ => FlowState::New,
        },
        reason: match s(f, "reason") {
            Some("timeout") => EndReason::Timeout,
            Some("forced") => EndReason::Forced,
            _ => EndReason::Shutdown,
        },
        alerted: f.get("alerted").and_then(Value::as_bool).unwrap_or(false),
        tcp: None,
        icmp: None,
        macs: None,
    })
}

/// A `tls` record's hello, as far as it can contradict a PCT/SSL overflow alert:
/// only SSL 3 / TLS versions are read (an SSLv2 or PCT hello may be the overflow).
fn parse_tls(
    m: &Map<String, Value>,
    ts: Timestamp,
) -> Result<Option<(AppContext, AppEvent)>, String> {
    let Some(flow_id) = u(m, "flow_id") else {
        return Ok(None);
    };
    let Some(t) = m.get("tls").and_then(Value::as_object) else {
        return Ok(None);
    };
    let version = match s(t, "version") {
        Some("SSLv3") => 0x0300,
        Some("TLS 1.0" | "TLSv1") => 0x0301,
        Some("TLS 1.1") => 0x0302,
        Some("TLS 1.2") => 0x0303,
        Some("TLS 1.3") => 0x0304,
        _ => return Ok(None),
    };
    let ctx = AppContext {
        ts,
        flow_id: FlowId(flow_id),
        key: flow_key(m)?,
        dir: Direction::ToServer,
    };
    Ok(Some((
        ctx,
        AppEvent::Tls(TlsEvent::ClientHello {
            version,
            sni: s(t, "sni").map(str::to_string),
            ja3: None,
            ja4: None,
        }),
    )))
}

fn parse_notice(m: &Map<String, Value>, ts: Timestamp) -> Result<Option<Notice>, String> {
    let Some(n) = m.get("notice") else {
        return Ok(None);
    };
    let mut n = n.clone();
    if let Some(o) = n.as_object_mut() {
        o.entry("ts").or_insert_with(|| Value::String(ts.to_eve()));
    }
    match serde_json::from_value::<Notice>(n.clone()) {
        Ok(notice) => Ok(Some(notice)),
        // EVE written before `NoticeKind` was tagged by "type" carried the tag as
        // "kind", which `ScanInfo.kind` overwrote: rebuild such scan notices from
        // the record's `scan` object.
        Err(e) => match (m.get("scan"), n.as_object()) {
            (Some(Value::Object(scan)), Some(o)) => {
                let mut scan = scan.clone();
                let phase = scan.remove("phase");
                let info: ScanInfo = serde_json::from_value(Value::Object(scan))
                    .map_err(|e| format!("a \"scan\" object as stormwatch writes it ({e})"))?;
                let kind = if phase.as_ref().and_then(Value::as_str) == Some("ended") {
                    NoticeKind::ScanEnded(info)
                } else {
                    NoticeKind::ScanDetected(info)
                };
                let notice = Notice {
                    ts: s(o, "ts").and_then(Timestamp::parse).unwrap_or(ts),
                    identifier: s(o, "identifier").unwrap_or_default().to_string(),
                    host: need_ip(o, "host")?,
                    peer: match s(o, "peer") {
                        Some(_) => Some(need_ip(o, "peer")?),
                        None => None,
                    },
                    flow_id: u(o, "flow_id").map(FlowId),
                    stage: o
                        .get("stage")
                        .and_then(|x| serde_json::from_value::<Stage>(x.clone()).ok()),
                    msg: s(o, "msg").unwrap_or_default().to_string(),
                    kind,
                };
                Ok(Some(notice))
            }
            _ => Err(format!("a \"notice\" object as stormwatch writes it ({e})")),
        },
    }
}

fn replay_line(
    line: &str,
    c: &mut Correlator,
    out: &mut Vec<Verdict>,
    stats: &mut ReplayStats,
) -> Expect {
    let v: Value = serde_json::from_str(line)
        .map_err(|e| format!("a JSON object (one EVE record per line): {e}"))?;
    let m = v
        .as_object()
        .ok_or("a JSON object (one EVE record per line)")?;
    let et = s(m, "event_type").ok_or("an \"event_type\" string")?;
    let ts = ts_of(m, "timestamp")?;
    match et {
        "alert" => {
            let a = parse_alert(m, ts)?;
            c.on_alert(&a, out);
            stats.alerts += 1;
        }
        "anomaly" => {
            let a = parse_anomaly(m, ts)?;
            c.on_anomaly(&a, out);
            stats.anomalies += 1;
        }
        "notice" | "scan" => match parse_notice(m, ts)? {
            Some(n) => {
                c.on_notice(&n, out);
                stats.notices += 1;
            }
            None => stats.skipped += 1,
        },
        "flow" => {
            let f = parse_flow(m, ts)?;
            c.on_flow(&f, out);
            stats.flows += 1;
        }
        "tls" => match parse_tls(m, ts)? {
            Some((ctx, ev)) => {
                c.on_app_event(&ctx, &ev, out);
                stats.app_events += 1;
            }
            None => stats.skipped += 1,
        },
        _ => stats.skipped += 1,
    }
    Ok(())
}

/// Reads EVE JSON lines (Suricata's or stormwatch's) and replays alerts, notices,
/// anomalies, app events and flows into `c` (`stormwatch correlate <eve.json>...`).
/// Verdict revisions caused by the input are appended to `out`; call
/// [`Correlator::finish`] after the last file. A bad line is an error naming
/// `origin:line` and what was expected.
pub fn replay_eve<R: BufRead>(
    r: R,
    origin: &str,
    c: &mut Correlator,
    out: &mut Vec<Verdict>,
) -> Result<ReplayStats, CorrelateError> {
    let mut stats = ReplayStats::default();
    for (n, line) in r.lines().enumerate() {
        let lineno = n as u64 + 1;
        let line = line.map_err(|source| CorrelateError::Io {
            origin: origin.to_string(),
            line: lineno,
            source,
        })?;
        stats.lines = lineno;
        let t = line.trim();
        if t.is_empty() {
            continue;
        }
        replay_line(t, c, out, &mut stats).map_err(|expected| CorrelateError::Replay {
            origin: origin.to_string(),
            line: lineno,
            expected,
        })?;
    }
    Ok(stats)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::CorrelateConfig;

    fn run(text: &str) -> Result<ReplayStats, CorrelateError> {
        let mut c = Correlator::new(CorrelateConfig::default());
        let mut out = Vec::new();
        replay_eve(text.as_bytes(), "eve.json", &mut c, &mut out)
    }

    #[test]
    fn suricata_alert_lines_replay() {
        let line = r#"{"timestamp":"2009-11-24T18:13:51.591346+0000","flow_id":1,"event_type":"alert","src_ip":"192.168.2.7","src_port":1041,"dest_ip":"208.75.250.50","dest_port":80,"proto":"TCP","alert":{"action":"allowed","gid":1,"signature_id":2001340,"rev":7,"signature":"ET MALWARE LocalNRD Spyware Checkin","category":"A Network Trojan was detected","severity":1}}"#;
        let st = run(&format!("{line}\n\n{line}\n")).unwrap();
        assert_eq!((st.lines, st.alerts), (3, 2));
    }

    #[test]
    fn bad_lines_name_file_line_and_expectation() {
        let e = run("{\"event_type\":\"flow\"}\nnot json\n")
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("eve.json:1: expected a \"timestamp\""), "{e}");
        let e = run("\nnot json\n").unwrap_err().to_string();
        assert!(e.starts_with("eve.json:2: expected a JSON object"), "{e}");
        let e = run(r#"{"timestamp":"2009-11-24T18:13:51.591346+0000","event_type":"alert","src_ip":"1.2.3.4","dest_ip":"5.6.7.8","alert":{"signature":"x"}}"#)
            .unwrap_err()
            .to_string();
        assert!(e.contains("signature_id"), "{e}");
        let e = run(r#"{"timestamp":"2009-11-24T18:13:51.591346+0000","event_type":"alert","src_ip":"1.2.3.999","dest_ip":"5.6.7.8","alert":{"signature":"x","signature_id":1}}"#)
            .unwrap_err()
            .to_string();
        assert!(e.contains("IP address in \"src_ip\""), "{e}");
        let e = run(r#"{"timestamp":"yesterday","event_type":"dns"}"#)
            .unwrap_err()
            .to_string();
        assert!(e.contains("found \"yesterday\""), "{e}");
    }

    #[test]
    fn other_records_are_skipped() {
        let st =
            run(r#"{"timestamp":"2009-11-24T18:13:51.591346+0000","event_type":"dns","dns":{}}"#)
                .unwrap();
        assert_eq!(st.skipped, 1);
    }
}
