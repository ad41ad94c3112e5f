//! EVE JSON lines, Suricata's schema plus stormwatch's documented extensions
//! (`irc`, `scan`, `notice`, `verdict`, `incident`; see `docs/eve.md`).
//!
//! Every record is one line. Field order is fixed, so the same input gives the
//! same bytes.

use serde_json::{Map, Value, json};
use std::collections::BTreeSet;
use std::io::{self, Write};
use std::net::IpAddr;
use stormwatch_model::{
    Alert, Anomaly, AppProto, AppRecord, FlowKey, FlowRecord, Incident, IpProto, Notice,
    NoticeKind, OutputRecord, RecordMeta, Sink, Stats, Timestamp, Verdict,
};

/// What the EVE writer prints.
#[derive(Clone, Debug, PartialEq)]
pub struct EveOptions {
    /// Enabled event types (`alert`, `anomaly`, `flow`, `http`, `dns`, `tls`, `ssh`,
    /// `ftp`, `smtp`, `irc`, `fileinfo`, `stats`, `notice`, `scan`, `verdict`,
    /// `incident`); `None` = all.
    pub types: Option<BTreeSet<String>>,
    /// Alert: base64 `payload`.
    pub alert_payload: bool,
    /// Alert: `payload_printable`.
    pub alert_payload_printable: bool,
    /// Alert: cap on logged payload bytes (0 = no cap).
    pub alert_payload_buffer_size: usize,
    /// Alert: base64 `packet` and `packet_info`.
    pub alert_packet: bool,
    /// Alert: rule `metadata` object.
    pub alert_metadata: bool,
    /// Anomalies of type `decode`.
    pub anomaly_decode: bool,
    /// Anomalies of type `stream`.
    pub anomaly_stream: bool,
    /// Anomalies of type `applayer`.
    pub anomaly_applayer: bool,
    /// Anomalies of type `engine`.
    pub anomaly_engine: bool,
    /// `ether` object with MAC addresses where known.
    pub ethernet: bool,
    /// stormwatch extensions in Suricata records (`tcp.history`).
    pub extensions: bool,
}

impl Default for EveOptions {
    /// stormwatch's defaults: everything on, payloads printable, all anomalies.
    fn default() -> Self {
        EveOptions {
            types: None,
            alert_payload: true,
            alert_payload_printable: true,
            alert_payload_buffer_size: 4096,
            alert_packet: false,
            alert_metadata: true,
            anomaly_decode: true,
            anomaly_stream: true,
            anomaly_applayer: true,
            anomaly_engine: true,
            ethernet: false,
            extensions: true,
        }
    }
}

impl EveOptions {
    /// Suricata 9's default `suricata.yaml` EVE settings (used for compatibility runs).
    pub fn suricata_default() -> Self {
        EveOptions {
            types: None,
            alert_payload: false,
            alert_payload_printable: false,
            alert_payload_buffer_size: 4096,
            alert_packet: false,
            alert_metadata: true,
            anomaly_decode: false,
            anomaly_stream: false,
            anomaly_applayer: true,
            anomaly_engine: false,
            ethernet: false,
            extensions: false,
        }
    }

    /// True when `event_type` is enabled.
    pub fn enabled(&self, event_type: &str) -> bool {
        self.types.as_ref().is_none_or(|t| t.contains(event_type))
    }
}

/// Writes [`OutputRecord`]s as EVE JSON lines.
pub struct EveWriter<W: Write> {
    out: W,
    opts: EveOptions,
    line: Vec<u8>,
    written: u64,
}

impl<W: Write> EveWriter<W> {
    /// A writer over `out` (wrap files in a `BufWriter`).
    pub fn new(out: W, opts: EveOptions) -> Self {
        EveWriter {
            out,
            opts,
            line: Vec::with_capacity(1024),
            written: 0,
        }
    }

    /// Lines written so far.
    pub fn lines_written(&self) -> u64 {
        self.written
    }

    /// The underlying writer.
    pub fn into_inner(self) -> W {
        self.out
    }

    fn emit(&mut self, v: &Value) -> io::Result<()> {
        self.line.clear();
        serde_json::to_writer(&mut self.line, v).map_err(io::Error::other)?;
        self.line.push(b'\n');
        self.out.write_all(&self.line)?;
        self.written += 1;
        Ok(())
    }
}

impl<W: Write> Sink for EveWriter<W> {
    fn write(&mut self, rec: &OutputRecord) -> io::Result<()> {
        self.write_meta(rec, &RecordMeta::default())
    }

    fn write_meta(&mut self, rec: &OutputRecord, meta: &RecordMeta) -> io::Result<()> {
        if let Some(v) = to_eve(rec, meta, &self.opts) {
            self.emit(&v)?;
        }
        Ok(())
    }

    fn write_extra(
        &mut self,
        rec: &OutputRecord,
        meta: &RecordMeta,
        extra: &Map<String, Value>,
    ) -> io::Result<()> {
        if let Some(mut v) = to_eve(rec, meta, &self.opts) {
            if let Value::Object(m) = &mut v {
                for (k, x) in extra {
                    m.entry(k.clone()).or_insert_with(|| x.clone());
                }
            }
            self.emit(&v)?;
        }
        Ok(())
    }

    fn finish(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

/// The EVE object for one record, or `None` when the options filter it out.
pub fn to_eve(rec: &OutputRecord, meta: &RecordMeta, opts: &EveOptions) -> Option<Value> {
    match rec {
        OutputRecord::Flow(f) => opts.enabled("flow").then(|| flow_json(f, opts)),
        OutputRecord::Alert(a) => opts.enabled("alert").then(|| alert_json(a, meta, opts)),
        OutputRecord::Anomaly(a) => anomaly_json(a, meta, opts),
        OutputRecord::App(r) => opts.enabled(&r.event_type).then(|| app_json(r, meta)),
        OutputRecord::Notice(n) => notice_json(n, opts),
        OutputRecord::Verdict(v) => opts.enabled("verdict").then(|| verdict_json(v)),
        OutputRecord::Incident(i) => opts.enabled("incident").then(|| incident_json(i)),
        OutputRecord::Stats(s) => opts.enabled("stats").then(|| stats_json(s)),
    }
}

/// An address as Suricata writes it: dotted IPv4, fully expanded lower-case IPv6
/// (`fe80:0000:0000:0000:020c:29ff:faf2:ab42`).
pub fn ip_string(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v) => v.to_string(),
        IpAddr::V6(v) => {
            let mut s = String::with_capacity(39);
            for (i, seg) in v.segments().iter().enumerate() {
                if i > 0 {
                    s.push(':');
                }
                s.push_str(&format!("{seg:04x}"));
            }
            s
        }
    }
}

fn ip_v(ip: IpAddr) -> u64 {
    if ip.is_ipv4() { 4 } else { 6 }
}

fn has_ports(proto: IpProto) -> bool {
    matches!(proto, IpProto::TCP | IpProto::UDP | IpProto::SCTP)
}

/// Starts a record: timestamp, flow_id, pcap_cnt, event_type.
fn header(
    ts: Timestamp,
    flow_id: Option<u64>,
    meta: &RecordMeta,
    event_type: &str,
) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("timestamp".into(), Value::String(ts.to_eve()));
    if let Some(id) = flow_id {
        m.insert("flow_id".into(), id.into());
    }
    if let Some(n) = meta.pcap_cnt {
        m.insert("pcap_cnt".into(), n.into());
    }
    m.insert("event_type".into(), event_type.into());
    m
}

fn vlan(m: &mut Map<String, Value>, v: [u16; 2]) {
    let ids: Vec<Value> = v
        .iter()
        .filter(|x| **x != 0)
        .map(|x| Value::from(*x))
        .collect();
    if !ids.is_empty() {
        m.insert("vlan".into(), Value::Array(ids));
    }
}

#[allow(clippy::too_many_arguments)]
fn endpoints(
    m: &mut Map<String, Value>,
    src: IpAddr,
    sp: u16,
    dst: IpAddr,
    dp: u16,
    proto: IpProto,
) {
    m.insert("src_ip".into(), ip_string(src).into());
    if has_ports(proto) {
        m.insert("src_port".into(), sp.into());
    }
    m.insert("dest_ip".into(), ip_string(dst).into());
    if has_ports(proto) {
        m.insert("dest_port".into(), dp.into());
    }
    m.insert("proto".into(), proto.eve_name().into_owned().into());
    m.insert("ip_v".into(), ip_v(src).into());
}

fn key_endpoints(m: &mut Map<String, Value>, k: &FlowKey) {
    vlan(m, k.vlan);
    endpoints(m, k.src, k.src_port, k.dst, k.dst_port, k.proto);
}

fn mac(b: &[u8; 6]) -> String {
    let mut s = String::with_capacity(17);
    for (i, x) in b.iter().enumerate() {
        if i > 0 {
            s.push(':');
        }
        s.push_str(&format!("{x:02x}"));
    }
    s
}

fn tcp_flags_json(t: &mut Map<String, Value>, flags: u8) {
    for (bit, name) in [
        (0x01, "fin"),
        (0x02, "syn"),
        (0x04, "rst"),
        (0x08, "psh"),
        (0x10, "ack"),
        (0x20, "urg"),
        (0x40, "ecn"),
        (0x80, "cwr"),
    ] {
        if flags & bit != 0 {
            t.insert(name.into(), true.into());
        }
    }
}

/// The EVE `flow` record.
pub fn flow_json(f: &FlowRecord, opts: &EveOptions) -> Value {
    let mut m = header(f.start, Some(f.flow_id.0), &RecordMeta::default(), "flow");
    key_endpoints(&mut m, &f.key);
    if let Some((t, c)) = f.icmp {
        m.insert("icmp_type".into(), t.into());
        m.insert("icmp_code".into(), c.into());
    }
    if f.app_proto != AppProto::Unknown {
        m.insert("app_proto".into(), f.app_proto.as_str().into());
    }
    if let Some(p) = f.app_proto_ts {
        m.insert("app_proto_ts".into(), p.as_str().into());
    }
    if let Some(p) = f.app_proto_tc {
        m.insert("app_proto_tc".into(), p.as_str().into());
    }
    if opts.ethernet
        && let Some((s, d)) = &f.macs
    {
        m.insert(
            "ether".into(),
            json!({"src_macs": [mac(s)], "dest_macs": [mac(d)]}),
        );
    }
    m.insert(
        "flow".into(),
        json!({
            "pkts_toserver": f.pkts_toserver,
            "pkts_toclient": f.pkts_toclient,
            "bytes_toserver": f.bytes_toserver,
            "bytes_toclient": f.bytes_toclient,
            "start": f.start.to_eve(),
            "end": f.end.to_eve(),
            "age": f.age_secs(),
            "state": f.state.as_str(),
            "reason": f.reason.as_str(),
            "alerted": f.alerted,
        }),
    );
    if let Some(t) = &f.tcp {
        let mut o = Map::new();
        o.insert("tcp_flags".into(), format!("{:02x}", t.flags).into());
        o.insert("tcp_flags_ts".into(), format!("{:02x}", t.flags_ts).into());
        o.insert("tcp_flags_tc".into(), format!("{:02x}", t.flags_tc).into());
        tcp_flags_json(&mut o, t.flags);
        o.insert("state".into(), t.state.as_str().into());
        if opts.extensions {
            o.insert("history".into(), t.history.clone().into());
        }
        m.insert("tcp".into(), Value::Object(o));
    }
    Value::Object(m)
}

fn printable(b: &[u8]) -> String {
    b.iter()
        .map(|&c| {
            if c.is_ascii_graphic() || c == b' ' || c == b'\n' || c == b'\r' {
                c as char
            } else {
                '.'
            }
        })
        .collect()
}

/// Standard base64 with padding.
pub fn base64(b: &[u8]) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut s = String::with_capacity(b.len().div_ceil(3) * 4);
    for c in b.chunks(3) {
        let n = match *c {
            [a, b, c] => (u32::from(a) << 16) | (u32::from(b) << 8) | u32::from(c),
            [a, b] => (u32::from(a) << 16) | (u32::from(b) << 8),
            [a] => u32::from(a) << 16,
            _ => 0,
        };
        let idx = |shift: u32| T[((n >> shift) & 63) as usize] as char;
        s.push(idx(18));
        s.push(idx(12));
        s.push(if c.len() > 1 { idx(6) } else { '=' });
        s.push(if c.len() > 2 { idx(0) } else { '=' });
    }
    s
}

/// The EVE `alert` record.
pub fn alert_json(a: &Alert, meta: &RecordMeta, opts: &EveOptions) -> Value {
    let mut m = header(a.ts, a.flow_id.map(|f| f.0), meta, "alert");
    endpoints(
        &mut m,
        a.src_ip,
        a.src_port,
        a.dest_ip,
        a.dest_port,
        a.proto,
    );
    if let Some(src) = meta.pkt_src {
        m.insert("pkt_src".into(), src.into());
    }
    if let Some(tx) = a.tx_id {
        m.insert("tx_id".into(), tx.into());
    }
    let s = &a.sig;
    let mut al = Map::new();
    al.insert(
        "action".into(),
        if a.action == stormwatch_model::AlertAction::Allowed {
            "allowed"
        } else {
            "blocked"
        }
        .into(),
    );
    al.insert("gid".into(), s.gid.into());
    al.insert("signature_id".into(), s.sid.into());
    al.insert("rev".into(), s.rev.into());
    al.insert("signature".into(), s.msg.clone().into());
    al.insert("category".into(), s.category.clone().into());
    al.insert("severity".into(), s.severity.into());
    if opts.alert_metadata && !s.metadata.is_empty() {
        let mut md = Map::new();
        for (k, vs) in &s.metadata {
            let e = md
                .entry(k.clone())
                .or_insert_with(|| Value::Array(Vec::new()));
            if let Value::Array(arr) = e {
                arr.extend(vs.iter().map(|v| Value::String(v.clone())));
            }
        }
        al.insert("metadata".into(), Value::Object(md));
    }
    m.insert("alert".into(), Value::Object(al));
    if a.app_proto != AppProto::Unknown {
        m.insert("app_proto".into(), a.app_proto.as_str().into());
    }
    if let Some(d) = a.direction {
        m.insert("direction".into(), d.as_str().into());
    }
    if let Some(f) = &a.flow {
        m.insert(
            "flow".into(),
            json!({
                "pkts_toserver": f.pkts_toserver,
                "pkts_toclient": f.pkts_toclient,
                "bytes_toserver": f.bytes_toserver,
                "bytes_toclient": f.bytes_toclient,
                "start": f.start.to_eve(),
                "src_ip": ip_string(f.src_ip),
                "dest_ip": ip_string(f.dest_ip),
                "src_port": f.src_port,
                "dest_port": f.dest_port,
            }),
        );
    }
    if let Some(p) = &a.payload {
        let p = if opts.alert_payload_buffer_size > 0 && p.len() > opts.alert_payload_buffer_size {
            &p[..opts.alert_payload_buffer_size]
        } else {
            &p[..]
        };
        if opts.alert_payload {
            m.insert("payload".into(), base64(p).into());
        }
        if opts.alert_payload_printable {
            m.insert("payload_printable".into(), printable(p).into());
        }
        if opts.alert_payload || opts.alert_payload_printable {
            m.insert("stream".into(), u8::from(a.stream).into());
        }
    }
    if opts.alert_packet
        && let Some(p) = &a.packet
    {
        m.insert("packet".into(), base64(p).into());
        if let Some(lt) = meta.linktype {
            m.insert("packet_info".into(), json!({"linktype": lt}));
        }
    }
    if opts.ethernet
        && let (Some(p), Some(1)) = (&a.packet, meta.linktype)
        && let (Some(d), Some(s)) = (p.get(0..6), p.get(6..12))
    {
        let (mut dm, mut sm) = ([0u8; 6], [0u8; 6]);
        dm.copy_from_slice(d);
        sm.copy_from_slice(s);
        m.insert(
            "ether".into(),
            json!({"src_mac": mac(&sm), "dest_mac": mac(&dm)}),
        );
    }
    Value::Object(m)
}

/// The EVE `anomaly` record (or `None` when its type is disabled).
pub fn anomaly_json(a: &Anomaly, meta: &RecordMeta, opts: &EveOptions) -> Option<Value> {
    use stormwatch_model::AnomalyType as T;
    let on = match a.kind {
        T::Decode => opts.anomaly_decode,
        T::Stream => opts.anomaly_stream,
        T::Applayer => opts.anomaly_applayer,
        T::Engine => opts.anomaly_engine,
    };
    if !on || !opts.enabled("anomaly") {
        return None;
    }
    let mut m = header(a.ts, a.flow_id.map(|f| f.0), meta, "anomaly");
    if let Some(e) = &a.endpoints {
        endpoints(&mut m, e.src, e.src_port, e.dst, e.dst_port, e.proto);
    }
    let mut an = Map::new();
    if let Some(p) = a.app_proto {
        an.insert("app_proto".into(), p.as_str().into());
    }
    an.insert("type".into(), a.kind.as_str().into());
    an.insert("event".into(), a.event.as_ref().into());
    if let Some(l) = &a.layer {
        an.insert("layer".into(), l.as_ref().into());
    }
    if let Some(d) = &a.detail {
        an.insert("detail".into(), d.clone().into());
    }
    m.insert("anomaly".into(), Value::Object(an));
    Some(Value::Object(m))
}

/// An application-layer record (`http`, `dns`, `tls`, `irc`, ...).
pub fn app_json(r: &AppRecord, meta: &RecordMeta) -> Value {
    let mut m = header(r.ts, Some(r.flow_id.0), meta, &r.event_type);
    key_endpoints(&mut m, &r.key);
    if let Some(src) = meta.pkt_src {
        m.insert("pkt_src".into(), src.into());
    }
    if let Some(tx) = r.tx_id {
        m.insert("tx_id".into(), tx.into());
    }
    m.insert(r.event_type.clone(), r.body.clone());
    for (k, v) in &r.extra {
        m.insert(k.clone(), v.clone());
    }
    Value::Object(m)
}

fn notice_json(n: &Notice, opts: &EveOptions) -> Option<Value> {
    let (event_type, scan) = match &n.kind {
        NoticeKind::ScanDetected(s) | NoticeKind::ScanEnded(s) => ("scan", Some(s)),
        _ => ("notice", None),
    };
    if !opts.enabled(event_type) {
        return None;
    }
    let mut m = header(
        n.ts,
        n.flow_id.map(|f| f.0),
        &RecordMeta::default(),
        event_type,
    );
    m.insert("host".into(), n.host.to_string().into());
    if let Some(p) = n.peer {
        m.insert("peer".into(), p.to_string().into());
    }
    if let Some(s) = scan {
        let mut v = serde_json::to_value(s).unwrap_or(Value::Null);
        if let Value::Object(o) = &mut v {
            let phase = if matches!(n.kind, NoticeKind::ScanDetected(_)) {
                "detected"
            } else {
                "ended"
            };
            o.insert("phase".into(), phase.into());
        }
        m.insert("scan".into(), v);
    }
    m.insert(
        "notice".into(),
        serde_json::to_value(n).unwrap_or(Value::Null),
    );
    Some(Value::Object(m))
}

fn verdict_json(v: &Verdict) -> Value {
    let mut m = header(v.ts, None, &RecordMeta::default(), "verdict");
    m.insert("host".into(), v.host.to_string().into());
    m.insert(
        "verdict".into(),
        serde_json::to_value(v).unwrap_or(Value::Null),
    );
    Value::Object(m)
}

fn incident_json(i: &Incident) -> Value {
    let mut m = header(i.last_seen, None, &RecordMeta::default(), "incident");
    m.insert(
        "incident".into(),
        serde_json::to_value(i).unwrap_or(Value::Null),
    );
    Value::Object(m)
}

/// The `stats` record: dotted counter names become nested objects.
pub fn stats_json(s: &Stats) -> Value {
    let mut counters = s.counters.clone();
    counters.sort();
    let mut root = Map::new();
    for (name, v) in counters {
        let parts: Vec<&str> = name.split('.').collect();
        insert_path(&mut root, &parts, v);
    }
    let mut m = header(s.ts, None, &RecordMeta::default(), "stats");
    m.insert("stats".into(), Value::Object(root));
    Value::Object(m)
}

fn insert_path(m: &mut Map<String, Value>, parts: &[&str], v: u64) {
    match parts {
        [] => {}
        [last] => {
            m.insert((*last).to_string(), v.into());
        }
        [first, rest @ ..] => {
            let e = m
                .entry((*first).to_string())
                .or_insert_with(|| Value::Object(Map::new()));
            if !e.is_object() {
                *e = Value::Object(Map::new());
            }
            if let Value::Object(o) = e {
                insert_path(o, rest, v);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use stormwatch_model::*;

    fn key() -> FlowKey {
        FlowKey {
            src: "147.183.77.73".parse().unwrap(),
            dst: "155.166.235.43".parse().unwrap(),
            src_port: 38212,
            dst_port: 25,
            proto: IpProto::TCP,
            vlan: [0, 0],
        }
    }

    #[test]
    fn flow_record_has_suricata_fields() {
        let ts = Timestamp::from_secs_micros(1_600_000_000, 5);
        let f = FlowRecord {
            flow_id: FlowId(7),
            key: key(),
            start: ts,
            end: ts,
            pkts_toserver: 1,
            pkts_toclient: 0,
            bytes_toserver: 66,
            bytes_toclient: 0,
            app_proto: AppProto::Unknown,
            app_proto_ts: None,
            app_proto_tc: None,
            state: FlowState::New,
            reason: EndReason::Shutdown,
            alerted: false,
            tcp: Some(TcpSummary {
                flags: 2,
                flags_ts: 2,
                flags_tc: 0,
                state: TcpState::SynSent,
                history: "S".into(),
                handshake_done: false,
                gap_bytes_ts: 0,
                gap_bytes_tc: 0,
            }),
            icmp: None,
            macs: None,
        };
        let v = flow_json(&f, &EveOptions::suricata_default());
        assert_eq!(v["event_type"], "flow");
        assert_eq!(v["proto"], "TCP");
        assert_eq!(v["ip_v"], 4);
        assert_eq!(v["flow"]["bytes_toserver"], 66);
        assert_eq!(v["flow"]["age"], 0);
        assert_eq!(v["flow"]["state"], "new");
        assert_eq!(v["flow"]["reason"], "shutdown");
        assert_eq!(v["flow"]["alerted"], false);
        assert_eq!(v["tcp"]["tcp_flags"], "02");
        assert_eq!(v["tcp"]["tcp_flags_tc"], "00");
        assert_eq!(v["tcp"]["syn"], true);
        assert_eq!(v["tcp"]["state"], "syn_sent");
        assert!(v.get("app_proto").is_none());
        assert!(v["tcp"].get("history").is_none());
    }

    #[test]
    fn ipv6_is_fully_expanded() {
        assert_eq!(
            ip_string("fe80::20c:29ff:faf2:ab42".parse().unwrap()),
            "fe80:0000:0000:0000:020c:29ff:faf2:ab42"
        );
        assert_eq!(ip_string("10.0.0.1".parse().unwrap()), "10.0.0.1");
    }

    #[test]
    fn base64_matches_reference() {
        assert_eq!(base64(b"GOOD"), "R09PRA==");
        assert_eq!(base64(b"XXX"), "WFhY");
        assert_eq!(
            base64(b"VERY[4 bytes missing]DATA"),
            "VkVSWVs0IGJ5dGVzIG1pc3NpbmddREFUQQ=="
        );
        assert_eq!(base64(b""), "");
        assert_eq!(base64(b"ab"), "YWI=");
    }

    #[test]
    fn stats_nest_by_dots() {
        let mut s = Stats::default();
        s.add("decoder.pkts", 3);
        s.add("decoder.bytes", 100);
        s.add("flow.created", 1);
        let v = stats_json(&s);
        assert_eq!(v["stats"]["decoder"]["pkts"], 3);
        assert_eq!(v["stats"]["flow"]["created"], 1);
    }

    #[test]
    fn writer_filters_types_and_writes_lines() {
        let opts = EveOptions {
            types: Some(["stats".to_string()].into_iter().collect()),
            ..EveOptions::default()
        };
        let mut w = EveWriter::new(Vec::new(), opts);
        let mut s = Stats::default();
        s.add("decoder.pkts", 1);
        w.write(&OutputRecord::Stats(s)).unwrap();
        w.write(&OutputRecord::Anomaly(Anomaly::new(
            Timestamp::ZERO,
            AnomalyType::Decode,
            "decoder.x",
        )))
        .unwrap();
        let out = String::from_utf8(w.into_inner()).unwrap();
        assert_eq!(out.lines().count(), 1);
        assert!(out.ends_with('\n'));
    }
}
