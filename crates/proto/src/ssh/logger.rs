//! The EVE `ssh` object (Suricata's layout).

use super::state::{SshSide, SshState};
use serde_json::{Map, Value, json};
use stormwatch_model::{Direction, SshEvent};

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

/// Adds the banner of one side (an [`SshEvent`] seen in direction `dir`: to the
/// server = the client's) to an EVE `ssh` object, such as the one alerts on the
/// flow carry. A non-object `obj` is replaced.
pub fn merge_event_json(obj: &mut Value, dir: Direction, ev: &SshEvent) {
    let mut side = Map::new();
    side.insert("proto_version".into(), ev.proto_version.clone().into());
    if !ev.software.is_empty() {
        side.insert("software_version".into(), ev.software.clone().into());
    }
    let key = match dir {
        Direction::ToServer => "client",
        Direction::ToClient => "server",
    };
    if !obj.is_object() {
        *obj = Value::Object(Map::new());
    }
    if let Value::Object(m) = obj {
        m.insert(key.into(), Value::Object(side));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sides_merge_into_one_object() {
        let mut v = Value::Null;
        let ev = |p: &str, s: &str| SshEvent {
            proto_version: p.into(),
            software: s.into(),
        };
        merge_event_json(&mut v, Direction::ToClient, &ev("1.99", "Cisco-1.25"));
        merge_event_json(&mut v, Direction::ToServer, &ev("2.0", ""));
        assert_eq!(v["server"]["proto_version"], "1.99");
        assert_eq!(v["server"]["software_version"], "Cisco-1.25");
        assert_eq!(v["client"]["proto_version"], "2.0");
        assert!(v["client"].get("software_version").is_none());
    }
}
