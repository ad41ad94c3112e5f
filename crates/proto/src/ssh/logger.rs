//! The EVE `ssh` object (Suricata's layout).

use super::state::{SshSide, SshState};
use serde_json::{Map, Value, json};

fn side(s: &SshSide) -> Value {
    let mut m = Map::new();
    m.insert(
        "proto_version".into(),
        Value::String(String::from_utf8_lossy(&s.proto_version).into_owned()),
    );
    if !s.software_version.is_empty() {
        m.insert(
            "software_version".into(),
            Value::String(String::from_utf8_lossy(&s.software_version).into_owned()),
        );
    }
    Value::Object(m)
}

/// `{"client": {...}, "server": {...}}`, each side only when its banner was
/// seen; `None` when neither was.
pub fn log_ssh(state: &SshState) -> Option<Value> {
    if !state.client.banner_done && !state.server.banner_done {
        return None;
    }
    let mut m = Map::new();
    if state.client.banner_done {
        m.insert("client".into(), side(&state.client));
    }
    if state.server.banner_done {
        m.insert("server".into(), side(&state.server));
    }
    let _ = json!(null);
    Some(Value::Object(m))
}
