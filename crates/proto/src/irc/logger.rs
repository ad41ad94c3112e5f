//! The EVE `irc` object (a stormwatch extension; schema in `docs/eve.md`).

use serde_json::{Map, Value};
use stormwatch_model::{Ctcp, Direction, IrcMessage};

/// One message: `{"direction", "prefix"?, "command", "params", "nick"?,
/// "channel"?, "ctcp"?: {"command", "args", "dcc"?: {...}}}`.
pub fn log_irc(
    dir: Direction,
    msg: &IrcMessage,
    nick: Option<&str>,
    channel: Option<&str>,
    ctcp: Option<&Ctcp>,
) -> Value {
    let mut m = Map::new();
    m.insert("direction".into(), Value::from(dir.as_str()));
    if let Some(p) = &msg.prefix {
        m.insert("prefix".into(), Value::from(p.as_str()));
    }
    m.insert("command".into(), Value::from(msg.command.as_str()));
    m.insert(
        "params".into(),
        Value::Array(msg.params.iter().map(|p| Value::from(p.as_str())).collect()),
    );
    if let Some(n) = nick {
        m.insert("nick".into(), Value::from(n));
    }
    if let Some(c) = channel {
        m.insert("channel".into(), Value::from(c));
    }
    if let Some(c) = ctcp {
        let mut o = Map::new();
        o.insert("command".into(), Value::from(c.command.as_str()));
        o.insert("args".into(), Value::from(c.args.as_str()));
        if let Some(d) = &c.dcc {
            let mut dj = Map::new();
            dj.insert("type".into(), Value::from(d.kind.as_str()));
            dj.insert("argument".into(), Value::from(d.argument.as_str()));
            if let Some(a) = d.addr {
                dj.insert("ip".into(), Value::from(a.to_string()));
            }
            dj.insert("port".into(), Value::from(d.port));
            if let Some(s) = d.size {
                dj.insert("size".into(), Value::from(s));
            }
            o.insert("dcc".into(), Value::Object(dj));
        }
        m.insert("ctcp".into(), Value::Object(o));
    }
    Value::Object(m)
}
