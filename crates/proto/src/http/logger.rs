//! The EVE `http` object of a transaction, with Suricata 9's field names and
//! value formats (`hostname`, `http_port`, `url`, `http_user_agent`,
//! `http_content_type`, `http_refer`, `http_method`, `protocol`, `status` or
//! `status_string`, `redirect`, `length`, and `request_headers` /
//! `response_headers` when `dump-all-headers` asks for them).

use super::detect::{Header, HttpTx};
use super::{HeaderDump, HttpConfig};
use crate::files::util::string_from_bytes;
use serde_json::{Map, Value};

/// Longest header name written by `dump-all-headers` (Suricata's limit).
const MAX_HEADER_NAME: usize = 255;
/// Longest header value written by `dump-all-headers` (Suricata's limit).
const MAX_HEADER_VALUE: usize = 2047;

fn s(b: &[u8]) -> Value {
    Value::String(string_from_bytes(b))
}

/// The `http` object for `tx`.
pub fn http_json(tx: &HttpTx, cfg: &HttpConfig) -> Value {
    let mut m = Map::new();
    if !tx.hostname.is_empty() {
        m.insert("hostname".into(), s(&tx.hostname));
    }
    if let Some(p) = tx.port {
        m.insert("http_port".into(), p.into());
    }
    if tx.has_request {
        m.insert("url".into(), s(&tx.uri));
    }
    if let Some(ua) = tx.request_header(b"user-agent") {
        m.insert("http_user_agent".into(), s(ua));
    }
    if let Some(xff) = tx.request_header(b"x-forwarded-for") {
        m.insert("xff".into(), s(xff));
    }
    if let Some(ct) = tx.response_header(b"content-type") {
        let ct = match memchr::memchr(b';', ct) {
            Some(i) => &ct[..i],
            None => ct,
        };
        m.insert("http_content_type".into(), s(ct));
    }
    if let Some(cr) = tx.response_header(b"content-range") {
        m.insert("content_range".into(), content_range(cr));
    }
    if cfg.extended {
        if let Some(r) = tx.request_header(b"referer") {
            m.insert("http_refer".into(), s(r));
        }
        if tx.has_request && !tx.method.is_empty() {
            m.insert("http_method".into(), s(&tx.method));
        }
        if !tx.protocol.is_empty() {
            m.insert("protocol".into(), s(&tx.protocol));
        }
        match tx.status_number {
            Some(n) => {
                m.insert("status".into(), n.into());
            }
            None if tx.has_response && !tx.status.is_empty() => {
                m.insert("status_string".into(), s(&tx.status));
            }
            None => {}
        }
        if let Some(l) = tx.response_header(b"location") {
            m.insert("redirect".into(), s(l));
        }
        m.insert("length".into(), tx.res_body_len.into());
    }
    if matches!(cfg.dump_all_headers, HeaderDump::Request | HeaderDump::Both)
        && let Some(a) = headers(&tx.req_headers)
    {
        m.insert("request_headers".into(), a);
    }
    if matches!(
        cfg.dump_all_headers,
        HeaderDump::Response | HeaderDump::Both
    ) && let Some(a) = headers(&tx.res_headers)
    {
        m.insert("response_headers".into(), a);
    }
    Value::Object(m)
}

fn headers(hs: &[Header]) -> Option<Value> {
    if hs.is_empty() {
        return None;
    }
    Some(Value::Array(
        hs.iter()
            .map(|h| {
                let mut o = Map::new();
                let (name, value) = (h.name(), h.value());
                let name = &name[..name.len().min(MAX_HEADER_NAME)];
                let value = &value[..value.len().min(MAX_HEADER_VALUE)];
                o.insert("name".into(), s(name));
                o.insert("value".into(), s(value));
                Value::Object(o)
            })
            .collect(),
    ))
}

/// `Content-Range: bytes 0-99/1234` as `{raw, start, end, size}`.
fn content_range(v: &[u8]) -> Value {
    let mut o = Map::new();
    o.insert("raw".into(), s(v));
    let (start, end, size) = content_range_parts(v);
    if let Some(a) = start {
        o.insert("start".into(), a.into());
    }
    if let Some(b) = end {
        o.insert("end".into(), b.into());
    }
    if let Some(sz) = size {
        o.insert("size".into(), sz.into());
    }
    Value::Object(o)
}

/// (start, end, size) of a `Content-Range` value, each when readable.
pub(crate) fn content_range_parts(v: &[u8]) -> (Option<u64>, Option<u64>, Option<u64>) {
    let t = crate::files::util::trim(v);
    let t = t
        .strip_prefix(b"bytes")
        .map(crate::files::util::trim)
        .unwrap_or(t);
    let (range, size) = match memchr::memchr(b'/', t) {
        Some(i) => (&t[..i], Some(&t[i + 1..])),
        None => (t, None),
    };
    let (start, end) = match memchr::memchr(b'-', range) {
        Some(i) => (
            crate::files::util::parse_u64(&range[..i]),
            crate::files::util::parse_u64(&range[i + 1..]),
        ),
        None => (None, None),
    };
    (start, end, size.and_then(crate::files::util::parse_u64))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_range_parts() {
        let v = content_range(b"bytes 100-199/1000");
        assert_eq!(v["start"], 100);
        assert_eq!(v["end"], 199);
        assert_eq!(v["size"], 1000);
        assert_eq!(v["raw"], "bytes 100-199/1000");
        let v = content_range(b"bytes */1000");
        assert!(v.get("start").is_none());
        assert_eq!(v["size"], 1000);
    }
}

/// The `http` object an alert carries, rebuilt from the transaction's
/// [`stormwatch_model::HttpEvent`] (the engine sees transactions as
/// `&dyn TxView`, which does not carry the response headers): Suricata's field
/// names; `length` is the declared Content-Length (0 when unknown).
pub fn event_json(ev: &stormwatch_model::HttpEvent) -> Value {
    let mut m = Map::new();
    let mut put = |k: &str, v: &Option<String>| {
        if let Some(v) = v {
            m.insert(k.into(), v.clone().into());
        }
    };
    put("hostname", &ev.host);
    put("url", &ev.uri);
    put("http_user_agent", &ev.user_agent);
    let ct = ev
        .content_type
        .as_ref()
        .map(|c| c.split(';').next().unwrap_or("").to_string());
    put("http_content_type", &ct);
    put("http_refer", &ev.referer);
    put("http_method", &ev.method);
    put("protocol", &ev.protocol);
    put("redirect", &ev.location);
    if let Some(s) = ev.status {
        m.insert("status".into(), s.into());
    }
    m.insert("length".into(), ev.content_length.unwrap_or(0).into());
    Value::Object(m)
}

#[cfg(test)]
mod event_tests {
    use super::*;

    #[test]
    fn alert_object_from_event() {
        let ev = stormwatch_model::HttpEvent {
            tx_id: 0,
            method: Some("GET".into()),
            uri: Some("/blah/".into()),
            host: Some("www.google.com".into()),
            user_agent: Some("Wget/1.11.4".into()),
            protocol: Some("HTTP/1.0".into()),
            status: Some(404),
            content_type: Some("text/html; charset=UTF-8".into()),
            content_length: Some(1194),
            referer: None,
            location: None,
            response_complete: true,
        };
        let v = event_json(&ev);
        assert_eq!(v["http_content_type"], "text/html");
        assert_eq!(v["status"], 404);
        assert_eq!(v["length"], 1194);
        assert_eq!(v["url"], "/blah/");
        assert!(v.get("http_refer").is_none());
    }
}
