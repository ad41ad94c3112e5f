//! The EVE `dns` records of a message: version 3 (one `request` or `response`
//! record per message, endpoints in packet direction) or version 2 (one `query`
//! record per question, one `answer` record per response, endpoints in flow
//! direction), with Suricata's field names and value formats.

use super::parser::{Message, Name, RData, Record};
use super::state::DnsTx;
use super::{DnsConfig, rcode_name, rrtype_name};
use crate::files::util::string_from_bytes;
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use stormwatch_model::{AppContext, AppRecord, Direction};

/// An address as Suricata prints rdata: dotted IPv4, or IPv6 as eight groups of
/// four hex digits without compression; other lengths print as "".
pub fn addr_text(b: &[u8]) -> String {
    match b {
        [_, _, _, _] => {
            let mut s = String::with_capacity(15);
            for (i, x) in b.iter().enumerate() {
                if i > 0 {
                    s.push('.');
                }
                if *x >= 100 {
                    s.push(char::from(b'0' + x / 100));
                }
                if *x >= 10 {
                    s.push(char::from(b'0' + x / 10 % 10));
                }
                s.push(char::from(b'0' + x % 10));
            }
            s
        }
        _ if b.len() == 16 => {
            const HEX: &[u8; 16] = b"0123456789abcdef";
            let mut s = String::with_capacity(39);
            for (i, x) in b.iter().enumerate() {
                if i > 0 && i % 2 == 0 {
                    s.push(':');
                }
                s.push(char::from(HEX[usize::from(x >> 4)]));
                s.push(char::from(HEX[usize::from(x & 0xf)]));
            }
            s
        }
        _ => String::new(),
    }
}

fn s(b: &[u8]) -> Value {
    Value::String(string_from_bytes(b))
}

fn type_enabled(t: u16, cfg: &DnsConfig) -> bool {
    match &cfg.types {
        None => true,
        Some(list) => list.contains(&t),
    }
}

fn any_enabled(m: &Message, cfg: &DnsConfig) -> bool {
    m.queries.iter().any(|q| type_enabled(q.rrtype, cfg))
}

fn set_flags(o: &mut Map<String, Value>, flags: u16) {
    o.insert("flags".into(), format!("{flags:x}").into());
    for (bit, key) in [
        (0x8000, "qr"),
        (0x0400, "aa"),
        (0x0200, "tc"),
        (0x0100, "rd"),
        (0x0080, "ra"),
        (0x0040, "z"),
    ] {
        if flags & bit != 0 {
            o.insert(key.into(), true.into());
        }
    }
}

fn name_into(o: &mut Map<String, Value>, key: &str, n: &Name) {
    o.insert(key.into(), s(&n.value));
    if n.truncated {
        o.insert(format!("{key}_truncated"), true.into());
    }
}

/// One answer/authority/additional entry; `i` selects the TXT string.
fn record_detail(r: &Record, i: usize) -> Value {
    let mut o = Map::new();
    name_into(&mut o, "rrname", &r.name);
    o.insert("rrtype".into(), rrtype_name(r.rrtype).into());
    o.insert("ttl".into(), r.ttl.into());
    match &r.data {
        RData::Addr(a) => {
            o.insert("rdata".into(), addr_text(a).into());
        }
        RData::Name(n) => {
            o.insert("rdata".into(), s(&n.value));
            if n.truncated {
                o.insert("rdata_truncated".into(), true.into());
            }
        }
        RData::Txt(v) => {
            if let Some(t) = v.get(i) {
                o.insert("rdata".into(), s(t));
            }
        }
        RData::Null(b) => {
            o.insert("rdata".into(), s(b));
        }
        RData::Soa(soa) => {
            let mut x = Map::new();
            name_into(&mut x, "mname", &soa.mname);
            name_into(&mut x, "rname", &soa.rname);
            x.insert("serial".into(), soa.serial.into());
            x.insert("refresh".into(), soa.refresh.into());
            x.insert("retry".into(), soa.retry.into());
            x.insert("expire".into(), soa.expire.into());
            x.insert("minimum".into(), soa.minimum.into());
            o.insert("soa".into(), Value::Object(x));
        }
        RData::Srv(srv) => {
            o.insert("srv".into(), srv_json(srv));
        }
        RData::Sshfp(f) => {
            o.insert("sshfp".into(), sshfp_json(f));
        }
        RData::Opt(opts) => {
            let a = opts
                .iter()
                .map(|opt| {
                    let mut x = Map::new();
                    x.insert("code".into(), opt.code.into());
                    x.insert("data".into(), crate::files::hex(&opt.data).into());
                    Value::Object(x)
                })
                .collect();
            o.insert("opt".into(), Value::Array(a));
        }
        RData::Unknown(_) => {}
    }
    Value::Object(o)
}

fn srv_json(srv: &super::parser::Srv) -> Value {
    let mut x = Map::new();
    x.insert("priority".into(), srv.priority.into());
    x.insert("weight".into(), srv.weight.into());
    x.insert("port".into(), srv.port.into());
    x.insert("name".into(), s(&srv.target.value));
    Value::Object(x)
}

fn sshfp_json(f: &super::parser::Sshfp) -> Value {
    let mut x = Map::new();
    let fp = f
        .fingerprint
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":");
    x.insert("fingerprint".into(), fp.into());
    x.insert("algo".into(), f.algo.into());
    x.insert("type".into(), f.fp_type.into());
    Value::Object(x)
}

/// Entries of a section, TXT records expanded to one entry per string.
fn section(records: &[Record], skip_empty_opt: bool) -> Vec<Value> {
    let mut v = Vec::new();
    for r in records {
        match &r.data {
            RData::Txt(t) => {
                for i in 0..t.len() {
                    v.push(record_detail(r, i));
                }
            }
            RData::Opt(o) if skip_empty_opt && o.is_empty() => {}
            _ => v.push(record_detail(r, 0)),
        }
    }
    v
}

/// `answers` (detailed) and `grouped` members.
fn answers_into(o: &mut Map<String, Value>, m: &Message, cfg: &DnsConfig) {
    if m.answers.is_empty() {
        return;
    }
    if cfg.detailed {
        o.insert("answers".into(), Value::Array(section(&m.answers, false)));
    }
    if cfg.grouped {
        let mut groups: BTreeMap<String, Vec<Value>> = BTreeMap::new();
        for a in &m.answers {
            let vals: Vec<Value> = match &a.data {
                RData::Addr(b) => vec![addr_text(b).into()],
                RData::Name(n) => vec![s(&n.value)],
                RData::Txt(t) => t.iter().map(|x| s(x)).collect(),
                RData::Null(b) => vec![s(b)],
                RData::Soa(_) => match record_detail(a, 0).get("soa") {
                    Some(x) => vec![x.clone()],
                    None => vec![],
                },
                RData::Srv(srv) => vec![srv_json(srv)],
                RData::Sshfp(f) => vec![sshfp_json(f)],
                RData::Opt(_) | RData::Unknown(_) => continue,
            };
            groups
                .entry(rrtype_name(a.rrtype).into_owned())
                .or_default()
                .extend(vals);
        }
        let g: Map<String, Value> = groups
            .into_iter()
            .map(|(k, v)| (k, Value::Array(v)))
            .collect();
        o.insert("grouped".into(), Value::Object(g));
    }
}

fn sections_into(o: &mut Map<String, Value>, m: &Message) {
    if !m.authorities.is_empty() {
        o.insert(
            "authorities".into(),
            Value::Array(section(&m.authorities, false)),
        );
    }
    let adds = section(&m.additionals, true);
    if !adds.is_empty() {
        o.insert("additionals".into(), Value::Array(adds));
    }
}

/// The version 3 `dns` object of a message.
pub fn v3_json(tx: &DnsTx, cfg: &DnsConfig) -> Value {
    let m = tx.message();
    let h = &m.header;
    let mut o = Map::new();
    o.insert("version".into(), 3.into());
    o.insert(
        "type".into(),
        if h.is_response() {
            "response"
        } else {
            "request"
        }
        .into(),
    );
    o.insert("tx_id".into(), tx.id().into());
    o.insert("id".into(), h.id.into());
    set_flags(&mut o, h.flags);
    o.insert("opcode".into(), h.opcode().into());
    o.insert("rcode".into(), rcode_name(h.rcode()).into());
    if !m.queries.is_empty() {
        let qs = m
            .queries
            .iter()
            .filter(|q| type_enabled(q.rrtype, cfg))
            .map(|q| {
                let mut x = Map::new();
                x.insert("rrname".into(), s(&q.name.value));
                x.insert("rrtype".into(), rrtype_name(q.rrtype).into());
                if q.name.truncated {
                    x.insert("rrname_truncated".into(), true.into());
                }
                Value::Object(x)
            })
            .collect();
        o.insert("queries".into(), Value::Array(qs));
    }
    answers_into(&mut o, m, cfg);
    sections_into(&mut o, m);
    Value::Object(o)
}

/// The version 2 `dns` objects of a message: one per enabled question of a
/// request, one for a response.
pub fn v2_json(tx: &DnsTx, cfg: &DnsConfig) -> Vec<Value> {
    let m = tx.message();
    let h = &m.header;
    if !h.is_response() {
        return m
            .queries
            .iter()
            .filter(|q| type_enabled(q.rrtype, cfg))
            .map(|q| {
                let mut o = Map::new();
                o.insert("version".into(), 2.into());
                o.insert("type".into(), "query".into());
                o.insert("id".into(), h.id.into());
                name_into(&mut o, "rrname", &q.name);
                o.insert("rrtype".into(), rrtype_name(q.rrtype).into());
                o.insert("tx_id".into(), tx.id().into());
                if h.z() {
                    o.insert("z".into(), true.into());
                }
                o.insert("opcode".into(), h.opcode().into());
                Value::Object(o)
            })
            .collect();
    }
    let mut o = Map::new();
    o.insert("version".into(), 2.into());
    o.insert("type".into(), "answer".into());
    o.insert("id".into(), h.id.into());
    set_flags(&mut o, h.flags);
    o.insert("opcode".into(), h.opcode().into());
    if let Some(q) = m.queries.first() {
        name_into(&mut o, "rrname", &q.name);
        o.insert("rrtype".into(), rrtype_name(q.rrtype).into());
    }
    o.insert("rcode".into(), rcode_name(h.rcode()).into());
    answers_into(&mut o, m, cfg);
    sections_into(&mut o, m);
    vec![Value::Object(o)]
}

/// The EVE records for one message under `cfg` (none when its direction or
/// question types are not logged).
pub fn records(ctx: &AppContext, tx: &DnsTx, cfg: &DnsConfig) -> Vec<AppRecord> {
    let m = tx.message();
    let response = m.header.is_response();
    if (response && !cfg.responses) || (!response && !cfg.requests) || !any_enabled(m, cfg) {
        return Vec::new();
    }
    let make = |body: Value, key| AppRecord {
        ts: ctx.ts,
        event_type: "dns".into(),
        flow_id: ctx.flow_id,
        key,
        tx_id: Some(tx.id()),
        body,
        extra: Map::new(),
    };
    if cfg.version == 2 {
        v2_json(tx, cfg)
            .into_iter()
            .map(|b| make(b, ctx.key))
            .collect()
    } else {
        let key = match ctx.dir {
            Direction::ToServer => ctx.key,
            Direction::ToClient => ctx.key.reversed(),
        };
        vec![make(v3_json(tx, cfg), key)]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses() {
        assert_eq!(addr_text(&[192, 0, 78, 24]), "192.0.78.24");
        let mut v6 = [0u8; 16];
        v6[0] = 0x2a;
        v6[15] = 0x0e;
        assert_eq!(addr_text(&v6), "2a00:0000:0000:0000:0000:0000:0000:000e");
        assert_eq!(addr_text(&[1, 2]), "");
    }
}

/// The `dns` object an alert carries, rebuilt from a
/// [`stormwatch_model::DnsEvent`] (version 3 names: `type`, `id`, `rcode`,
/// `queries`, `answers`).
pub fn event_json(ev: &stormwatch_model::DnsEvent) -> Value {
    let mut o = Map::new();
    o.insert(
        "type".into(),
        if ev.response { "response" } else { "request" }.into(),
    );
    o.insert("id".into(), ev.id.into());
    o.insert("rcode".into(), rcode_name(ev.rcode).into());
    let qs: Vec<Value> = ev
        .queries
        .iter()
        .map(|(n, t)| serde_json::json!({"rrname": n, "rrtype": rrtype_name(*t)}))
        .collect();
    if !qs.is_empty() {
        o.insert("queries".into(), Value::Array(qs));
    }
    let ans: Vec<Value> = ev
        .answers
        .iter()
        .map(|(n, t, r)| serde_json::json!({"rrname": n, "rrtype": rrtype_name(*t), "rdata": r}))
        .collect();
    if !ans.is_empty() {
        o.insert("answers".into(), Value::Array(ans));
    }
    Value::Object(o)
}

#[cfg(test)]
mod event_tests {
    use super::*;

    #[test]
    fn alert_object_from_event() {
        let ev = stormwatch_model::DnsEvent {
            id: 7,
            response: true,
            queries: vec![("a.example".into(), 1)],
            rcode: 3,
            answers: vec![],
        };
        let v = event_json(&ev);
        assert_eq!(v["rcode"], "NXDOMAIN");
        assert_eq!(v["type"], "response");
        assert_eq!(v["queries"][0]["rrtype"], "A");
        assert!(v.get("answers").is_none());
    }
}
