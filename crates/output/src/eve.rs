//! EVE JSON lines, Suricata's schema plus stormwatch's documented extensions
//! (`irc`, `scan`, `notice`, `verdict`, `incident`; see `docs/eve.md`).
//!
//! Every record is one line. Field order is fixed, so the same input gives the
//! same bytes.

use crate::json::{Field, Obj};
use serde_json::{Map, Value};
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

    fn emit(&mut self, o: &Obj<'_>) -> io::Result<()> {
        self.line.clear();
        o.write(&mut self.line)?;
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
        if let Some(o) = record(rec, meta, &self.opts) {
            self.emit(&o)?;
        }
        Ok(())
    }

    fn write_extra(
        &mut self,
        rec: &OutputRecord,
        meta: &RecordMeta,
        extra: &Map<String, Value>,
    ) -> io::Result<()> {
        if let Some(mut o) = record(rec, meta, &self.opts) {
            for (k, x) in extra {
                o.insert_default(k.as_str(), x);
            }
            self.emit(&o)?;
        }
        Ok(())
    }

    fn finish(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

/// The EVE object for one record, or `None` when the options filter it out.
pub fn to_eve(rec: &OutputRecord, meta: &RecordMeta, opts: &EveOptions) -> Option<Value> {
    record(rec, meta, opts).map(Obj::into_value)
}

/// [`to_eve`] as an [`Obj`], which the writer prints without building the
/// `Value` tree.
fn record<'a>(rec: &'a OutputRecord, meta: &RecordMeta, opts: &EveOptions) -> Option<Obj<'a>> {
    match rec {
        OutputRecord::Flow(f) => opts.enabled("flow").then(|| flow_obj(f, opts)),
        OutputRecord::Alert(a) => opts.enabled("alert").then(|| alert_obj(a, meta, opts)),
        OutputRecord::Anomaly(a) => anomaly_obj(a, meta, opts),
        OutputRecord::App(r) => opts.enabled(&r.event_type).then(|| app_obj(r, meta)),
        OutputRecord::Notice(n) => notice_obj(n, opts),
        OutputRecord::Verdict(v) => opts.enabled("verdict").then(|| verdict_obj(v)),
        OutputRecord::Incident(i) => opts.enabled("incident").then(|| incident_obj(i)),
        OutputRecord::Stats(s) => opts.enabled("stats").then(|| stats_obj(s)),
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
fn header<'a>(
    ts: Timestamp,
    flow_id: Option<u64>,
    meta: &RecordMeta,
    event_type: &'a str,
) -> Obj<'a> {
    let mut m = Obj::new();
    m.insert("timestamp", ts);
    if let Some(id) = flow_id {
        m.insert("flow_id", id);
    }
    if let Some(n) = meta.pcap_cnt {
        m.insert("pcap_cnt", n);
    }
    m.insert("event_type", event_type);
    m
}

fn vlan(m: &mut Obj<'_>, v: [u16; 2]) {
    let ids: Vec<Field<'_>> = v
        .iter()
        .filter(|x| **x != 0)
        .map(|x| Field::from(*x))
        .collect();
    if !ids.is_empty() {
        m.insert("vlan", Field::Arr(ids));
    }
}

#[allow(clippy::too_many_arguments)]
fn endpoints(m: &mut Obj<'_>, src: IpAddr, sp: u16, dst: IpAddr, dp: u16, proto: IpProto) {
    m.insert("src_ip", src);
    if has_ports(proto) {
        m.insert("src_port", sp);
    }
    m.insert("dest_ip", dst);
    if has_ports(proto) {
        m.insert("dest_port", dp);
    }
    m.insert("proto", proto.eve_name());
    m.insert("ip_v", ip_v(src));
}

fn key_endpoints(m: &mut Obj<'_>, k: &FlowKey) {
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

fn tcp_flags_json(t: &mut Obj<'_>, flags: u8) {
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
            t.insert(name, true);
        }
    }
}

/// The counters a `flow` object starts with, in flow records and alerts:
/// packets and bytes \[to server, to client\] and the start.
fn flow_counters<'a>(pkts: [u64; 2], bytes: [u64; 2], start: Timestamp) -> Obj<'a> {
    let mut fl = Obj::new();
    fl.insert("pkts_toserver", pkts[0]);
    fl.insert("pkts_toclient", pkts[1]);
    fl.insert("bytes_toserver", bytes[0]);
    fl.insert("bytes_toclient", bytes[1]);
    fl.insert("start", start);
    fl
}

/// The EVE `flow` record.
pub fn flow_json(f: &FlowRecord, opts: &EveOptions) -> Value {
    flow_obj(f, opts).into_value()
}

fn flow_obj<'a>(f: &'a FlowRecord, opts: &EveOptions) -> Obj<'a> {
    let mut m = header(f.start, Some(f.flow_id.0), &RecordMeta::default(), "flow");
    key_endpoints(&mut m, &f.key);
    if let Some((t, c)) = f.icmp {
        m.insert("icmp_type", t);
        m.insert("icmp_code", c);
    }
    if f.app_proto != AppProto::Unknown {
        m.insert("app_proto", f.app_proto.as_str());
    }
    if let Some(p) = f.app_proto_ts {
        m.insert("app_proto_ts", p.as_str());
    }
    if let Some(p) = f.app_proto_tc {
        m.insert("app_proto_tc", p.as_str());
    }
    if opts.ethernet
        && let Some((s, d)) = &f.macs
    {
        let mut e = Obj::new();
        e.insert("src_macs", Field::Arr(vec![mac(s).into()]));
        e.insert("dest_macs", Field::Arr(vec![mac(d).into()]));
        m.insert("ether", e);
    }
    let mut fl = flow_counters(
        [f.pkts_toserver, f.pkts_toclient],
        [f.bytes_toserver, f.bytes_toclient],
        f.start,
    );
    fl.insert("end", f.end);
    fl.insert("age", f.age_secs());
    fl.insert("state", f.state.as_str());
    fl.insert("reason", f.reason.as_str());
    fl.insert("alerted", f.alerted);
    m.insert("flow", fl);
    if let Some(t) = &f.tcp {
        let mut o = Obj::new();
        o.insert("tcp_flags", format!("{:02x}", t.flags));
        o.insert("tcp_flags_ts", format!("{:02x}", t.flags_ts));
        o.insert("tcp_flags_tc", format!("{:02x}", t.flags_tc));
        tcp_flags_json(&mut o, t.flags);
        o.insert("state", t.state.as_str());
        if opts.extensions {
            o.insert("history", t.history.as_str());
        }
        m.insert("tcp", o);
    }
    m
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
    alert_obj(a, meta, opts).into_value()
}

fn alert_obj<'a>(a: &'a Alert, meta: &RecordMeta, opts: &EveOptions) -> Obj<'a> {
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
        m.insert("pkt_src", src);
    }
    if let Some(tx) = a.tx_id {
        m.insert("tx_id", tx);
    }
    let s = &a.sig;
    let mut al = Obj::new();
    al.insert(
        "action",
        if a.action == stormwatch_model::AlertAction::Allowed {
            "allowed"
        } else {
            "blocked"
        },
    );
    al.insert("gid", s.gid);
    al.insert("signature_id", s.sid);
    al.insert("rev", s.rev);
    al.insert("signature", s.msg.as_str());
    al.insert("category", s.category.as_str());
    al.insert("severity", s.severity);
    if opts.alert_metadata && !s.metadata.is_empty() {
        // The values of a name given more than once share one array.
        let mut md: Vec<(&str, Vec<Field<'a>>)> = Vec::new();
        for (k, vs) in &s.metadata {
            let vals = vs.iter().map(|v| Field::from(v.as_str()));
            match md.iter_mut().find(|(n, _)| *n == k.as_str()) {
                Some((_, arr)) => arr.extend(vals),
                None => md.push((k.as_str(), vals.collect())),
            }
        }
        let mut o = Obj::new();
        for (k, arr) in md {
            o.insert(k, Field::Arr(arr));
        }
        al.insert("metadata", o);
    }
    m.insert("alert", al);
    if a.app_proto != AppProto::Unknown {
        m.insert("app_proto", a.app_proto.as_str());
    }
    if let Some(d) = a.direction {
        m.insert("direction", d.as_str());
    }
    if let Some(f) = &a.flow {
        let mut fl = flow_counters(
            [f.pkts_toserver, f.pkts_toclient],
            [f.bytes_toserver, f.bytes_toclient],
            f.start,
        );
        fl.insert("src_ip", f.src_ip);
        fl.insert("dest_ip", f.dest_ip);
        fl.insert("src_port", f.src_port);
        fl.insert("dest_port", f.dest_port);
        m.insert("flow", fl);
    }
    if let Some(p) = &a.payload {
        let p = if opts.alert_payload_buffer_size > 0 && p.len() > opts.alert_payload_buffer_size {
            &p[..opts.alert_payload_buffer_size]
        } else {
            &p[..]
        };
        if opts.alert_payload {
            m.insert("payload", base64(p));
        }
        if opts.alert_payload_printable {
            m.insert("payload_printable", printable(p));
        }
        if opts.alert_payload || opts.alert_payload_printable {
            m.insert("stream", u8::from(a.stream));
        }
    }
    if opts.alert_packet
        && let Some(p) = &a.packet
    {
        m.insert("packet", base64(p));
        if let Some(lt) = meta.linktype {
            let mut pi = Obj::new();
            pi.insert("linktype", lt);
            m.insert("packet_info", pi);
        }
    }
    if opts.ethernet
        && let (Some(p), Some(1)) = (&a.packet, meta.linktype)
        && let (Some(d), Some(s)) = (p.get(0..6), p.get(6..12))
    {
        let (mut dm, mut sm) = ([0u8; 6], [0u8; 6]);
        dm.copy_from_slice(d);
        sm.copy_from_slice(s);
        let mut e = Obj::new();
        e.insert("src_mac", mac(&sm));
        e.insert("dest_mac", mac(&dm));
        m.insert("ether", e);
    }
    m
}

/// The EVE `anomaly` record (or `None` when its type is disabled).
pub fn anomaly_json(a: &Anomaly, meta: &RecordMeta, opts: &EveOptions) -> Option<Value> {
    anomaly_obj(a, meta, opts).map(Obj::into_value)
}

fn anomaly_obj<'a>(a: &'a Anomaly, meta: &RecordMeta, opts: &EveOptions) -> Option<Obj<'a>> {
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
    let mut an = Obj::new();
    if let Some(p) = a.app_proto {
        an.insert("app_proto", p.as_str());
    }
    an.insert("type", a.kind.as_str());
    an.insert("event", a.event.as_ref());
    if let Some(l) = &a.layer {
        an.insert("layer", l.as_ref());
    }
    if let Some(d) = &a.detail {
        an.insert("detail", d.as_str());
    }
    m.insert("anomaly", an);
    Some(m)
}

/// An application-layer record (`http`, `dns`, `tls`, `irc`, ...).
pub fn app_json(r: &AppRecord, meta: &RecordMeta) -> Value {
    app_obj(r, meta).into_value()
}

fn app_obj<'a>(r: &'a AppRecord, meta: &RecordMeta) -> Obj<'a> {
    let mut m = header(r.ts, Some(r.flow_id.0), meta, &r.event_type);
    key_endpoints(&mut m, &r.key);
    if let Some(src) = meta.pkt_src {
        m.insert("pkt_src", src);
    }
    if let Some(tx) = r.tx_id {
        m.insert("tx_id", tx);
    }
    m.insert(r.event_type.as_str(), &r.body);
    for (k, v) in &r.extra {
        m.insert(k.as_str(), v);
    }
    m
}

fn notice_obj<'a>(n: &'a Notice, opts: &EveOptions) -> Option<Obj<'a>> {
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
    m.insert("host", n.host.to_string());
    if let Some(p) = n.peer {
        m.insert("peer", p.to_string());
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
        m.insert("scan", v);
    }
    m.insert("notice", serde_json::to_value(n).unwrap_or(Value::Null));
    Some(m)
}

fn verdict_obj(v: &Verdict) -> Obj<'_> {
    let mut m = header(v.ts, None, &RecordMeta::default(), "verdict");
    m.insert("host", v.host.to_string());
    m.insert("verdict", serde_json::to_value(v).unwrap_or(Value::Null));
    m
}

fn incident_obj(i: &Incident) -> Obj<'_> {
    let mut m = header(i.last_seen, None, &RecordMeta::default(), "incident");
    m.insert("incident", serde_json::to_value(i).unwrap_or(Value::Null));
    m
}

/// The `stats` record: dotted counter names become nested objects.
pub fn stats_json(s: &Stats) -> Value {
    stats_obj(s).into_value()
}

fn stats_obj(s: &Stats) -> Obj<'static> {
    let mut counters = s.counters.clone();
    counters.sort();
    let mut root = Map::new();
    for (name, v) in counters {
        let parts: Vec<&str> = name.split('.').collect();
        insert_path(&mut root, &parts, v);
    }
    let mut m = header(s.ts, None, &RecordMeta::default(), "stats");
    m.insert("stats", Value::Object(root));
    m
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
