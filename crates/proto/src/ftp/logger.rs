//! The EVE `ftp` object of a transaction (Suricata's fields: `command`,
//! `command_data`, `command_truncated`, `reply`, `completion_code`,
//! `dynamic_port`, `mode`, `reply_received`, `reply_truncated`).

use super::state::FtpTx;
use crate::files::util::string_from_bytes;
use serde_json::{Map, Value};

/// The `ftp` object for `tx`.
pub fn ftp_json(tx: &FtpTx) -> Value {
    let mut m = Map::new();
    if let Some(c) = tx.command() {
        m.insert("command".into(), string_from_bytes(c).into());
    }
    if let Some(a) = tx.arg()
        && !a.is_empty()
    {
        m.insert("command_data".into(), string_from_bytes(a).into());
        m.insert("command_truncated".into(), tx.command_truncated.into());
    }
    let mut codes = Vec::new();
    let mut texts = Vec::new();
    for r in tx.replies() {
        let l = &r.line;
        let coded = l.len() >= 3 && l[..3].iter().all(u8::is_ascii_digit);
        if coded {
            codes.push(Value::from(string_from_bytes(&l[..3])));
            if let Some(t) = l.get(4..) {
                texts.push(Value::from(string_from_bytes(t)));
            }
        } else {
            texts.push(Value::from(string_from_bytes(l)));
        }
    }
    if !codes.is_empty() {
        m.insert("completion_code".into(), Value::Array(codes));
    }
    if !texts.is_empty() {
        m.insert("reply".into(), Value::Array(texts));
    }
    if let Some(p) = tx.dynamic_port {
        m.insert("dynamic_port".into(), p.into());
    }
    if matches!(tx.command(), Some(b"PORT" | b"EPRT")) {
        let mode = if tx.active == Some(true) {
            "active"
        } else {
            "passive"
        };
        m.insert("mode".into(), mode.into());
    }
    m.insert(
        "reply_received".into(),
        if tx.is_done() { "yes" } else { "no" }.into(),
    );
    m.insert(
        "reply_truncated".into(),
        tx.replies().iter().any(|r| r.truncated).into(),
    );
    Value::Object(m)
}
