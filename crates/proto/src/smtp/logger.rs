//! The EVE `smtp` object (`helo`, `mail_from`, `rcpt_to`) and the `email`
//! object of a message (`status`, `from`, `to`, `cc`, `attachment`, `url`, and
//! with `extended` the `subject`), with Suricata's field names.

use super::SmtpConfig;
use super::mime::{MimeParser, split_addresses};
use super::state::SmtpTx;
use crate::files::util::string_from_bytes;
use serde_json::{Map, Value};

fn s(b: &[u8]) -> Value {
    Value::String(string_from_bytes(b))
}

/// The `smtp` object of a transaction.
pub fn smtp_json(tx: &SmtpTx) -> Value {
    let mut m = Map::new();
    if let Some(h) = tx.helo() {
        m.insert("helo".into(), s(h));
    }
    if let Some(f) = tx.mail_from() {
        m.insert("mail_from".into(), s(f));
    }
    if !tx.rcpt_to().is_empty() {
        m.insert(
            "rcpt_to".into(),
            Value::Array(tx.rcpt_to().iter().map(|r| s(r)).collect()),
        );
    }
    Value::Object(m)
}

/// The `email` object of a message.
pub fn email_json(mime: &MimeParser, cfg: &SmtpConfig) -> Value {
    let mut m = Map::new();
    m.insert("status".into(), mime.status().as_str().into());
    if let Some(f) = mime.header(b"from") {
        m.insert("from".into(), s(f));
    }
    for (key, name) in [("to", &b"to"[..]), ("cc", &b"cc"[..])] {
        if let Some(v) = mime.header(name) {
            let list = split_addresses(v);
            if !list.is_empty() {
                m.insert(
                    key.into(),
                    Value::Array(list.iter().map(|a| s(a)).collect()),
                );
            }
        }
    }
    if cfg.extended
        && let Some(v) = mime.header(b"subject")
    {
        m.insert("subject".into(), s(v));
    }
    if !mime.attachments().is_empty() {
        m.insert(
            "attachment".into(),
            Value::Array(mime.attachments().iter().map(|a| s(a)).collect()),
        );
    }
    if !mime.urls().is_empty() {
        m.insert(
            "url".into(),
            Value::Array(mime.urls().iter().map(|u| s(u)).collect()),
        );
    }
    Value::Object(m)
}
