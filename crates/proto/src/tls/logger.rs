//! The EVE `tls` object, with Suricata's field names and value formats.

use super::TlsConfig;
use super::cert::eve_date;
use super::detect::version_name;
use super::state::{TlsSide, TlsState};
use serde_json::{Map, Value};

fn ja3_obj(j: &Option<(String, String)>) -> Option<Value> {
    j.as_ref().map(|(s, h)| {
        let mut m = Map::new();
        m.insert("hash".into(), Value::from(h.as_str()));
        m.insert("string".into(), Value::from(s.as_str()));
        Value::Object(m)
    })
}

fn handshake(side: &TlsSide, server: bool) -> Option<Value> {
    if side.version == 0 {
        return None;
    }
    let mut m = Map::new();
    m.insert("version".into(), Value::from(version_name(side.version)));
    let no_grease = |v: &Vec<u16>| -> Vec<Value> {
        v.iter()
            .filter(|x| !super::parser::is_grease(**x))
            .map(|x| Value::from(*x))
            .collect()
    };
    if server {
        if let Some(c) = side.ciphers.first() {
            m.insert("cipher".into(), Value::from(*c));
        }
    } else {
        m.insert("ciphers".into(), Value::Array(no_grease(&side.ciphers)));
    }
    m.insert("exts".into(), Value::Array(no_grease(&side.exts)));
    if !server && !side.sig_algs.is_empty() {
        m.insert("sig_algs".into(), Value::Array(no_grease(&side.sig_algs)));
    }
    Some(Value::Object(m))
}

/// Builds the `tls` object. Field set: Suricata's basic (`subject`,
/// `issuerdn`, `session_resumed`), extended (plus `serial`, `fingerprint`,
/// `sni`, `version`, `notbefore`, `notafter`, ja3/ja3s/ja4 when enabled,
/// ALPNs), or the configured `custom` list.
pub fn log_tls(s: &TlsState, cfg: &TlsConfig) -> Value {
    let basic = ["subject", "issuer", "session_resumed"];
    let extended = [
        "subject",
        "issuer",
        "session_resumed",
        "serial",
        "fingerprint",
        "sni",
        "version",
        "not_before",
        "not_after",
        "ja3",
        "ja3s",
        "ja4",
        "client_alpns",
        "server_alpns",
    ];
    let fields: Vec<&str> = match &cfg.custom {
        Some(c) => c.iter().map(String::as_str).collect(),
        None if cfg.extended => extended.to_vec(),
        None => basic.to_vec(),
    };
    let custom = cfg.custom.is_some();
    let leaf = s.certs.first();
    let mut m = Map::new();
    for f in fields {
        match f {
            "subject" => {
                if let Some(c) = leaf {
                    m.insert("subject".into(), Value::from(c.subject.as_str()));
                }
            }
            "issuer" => {
                if let Some(c) = leaf {
                    m.insert("issuerdn".into(), Value::from(c.issuer.as_str()));
                }
            }
            "session_resumed" if s.resumed && leaf.is_none() => {
                m.insert("session_resumed".into(), Value::from(true));
            }
            "serial" => {
                if let Some(c) = leaf {
                    m.insert("serial".into(), Value::from(c.serial.as_str()));
                }
            }
            "fingerprint" => {
                if let Some(c) = leaf {
                    m.insert("fingerprint".into(), Value::from(c.fingerprint.as_str()));
                }
            }
            "sni" => {
                if let Some(n) = &s.sni {
                    m.insert("sni".into(), Value::from(String::from_utf8_lossy(n)));
                }
            }
            "version" => {
                // The negotiated version; without a server hello, the client's.
                let v = if s.server.version != 0 {
                    s.server.version
                } else {
                    s.client.version
                };
                m.insert("version".into(), Value::from(version_name(v)));
            }
            "not_before" => {
                if let Some(c) = leaf {
                    m.insert("notbefore".into(), Value::from(eve_date(c.not_before)));
                }
            }
            "not_after" => {
                if let Some(c) = leaf {
                    m.insert("notafter".into(), Value::from(eve_date(c.not_after)));
                }
            }
            "ja3" if cfg.ja3 || custom => {
                if let Some(v) = ja3_obj(&s.client.ja3) {
                    m.insert("ja3".into(), v);
                }
            }
            "ja3s" if cfg.ja3 || custom => {
                if let Some(v) = ja3_obj(&s.server.ja3) {
                    m.insert("ja3s".into(), v);
                }
            }
            "ja4" if cfg.ja4 || custom => {
                if let Some(j) = &s.client.ja4 {
                    m.insert("ja4".into(), Value::from(j.as_str()));
                }
            }
            "subjectaltname" => {
                if let Some(c) = leaf
                    && !c.san.is_empty()
                {
                    m.insert(
                        "subjectaltname".into(),
                        Value::Array(c.san.iter().map(|x| Value::from(x.as_str())).collect()),
                    );
                }
            }
            "client_alpns" if !s.client.alpns.is_empty() => {
                m.insert(
                    "client_alpns".into(),
                    Value::Array(
                        s.client
                            .alpns
                            .iter()
                            .map(|x| Value::from(x.as_str()))
                            .collect(),
                    ),
                );
            }
            "server_alpns" if !s.server.alpns.is_empty() => {
                m.insert(
                    "server_alpns".into(),
                    Value::Array(
                        s.server
                            .alpns
                            .iter()
                            .map(|x| Value::from(x.as_str()))
                            .collect(),
                    ),
                );
            }
            "client_handshake" => {
                if let Some(v) = handshake(&s.client, false) {
                    m.insert("client_handshake".into(), v);
                }
            }
            "server_handshake" => {
                if let Some(v) = handshake(&s.server, true) {
                    m.insert("server_handshake".into(), v);
                }
            }
            _ => {}
        }
    }
    Value::Object(m)
}
