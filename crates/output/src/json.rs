//! A JSON object assembled for one EVE line and written straight to bytes.
//!
//! EVE objects print their members sorted by name (as a `serde_json::Map`,
//! a `BTreeMap`, does). Building each record as a `serde_json::Value` tree
//! allocated every member name and value, deep-copied the application-layer
//! objects records carry, and freed it all after printing: about half of
//! the EVE writer's time. An [`Obj`] borrows what it can, sorts its members
//! once when written, and prints scalars and embedded `Value`s with
//! `serde_json`, so the bytes are those the `Value` tree printed
//! ([`Obj::into_value`] gives that tree, for callers that want one).

use serde_json::{Map, Value};
use std::borrow::Cow;
use std::io;
use std::net::IpAddr;
use stormwatch_model::Timestamp;

/// A member value.
#[derive(Debug)]
pub(crate) enum Field<'a> {
    Str(Cow<'a, str>),
    U64(u64),
    I64(i64),
    Bool(bool),
    /// A timestamp in EVE's form, written without a `String`.
    Ts(Timestamp),
    /// An address as EVE writes it (see [`crate::eve::ip_string`]).
    Ip(IpAddr),
    /// An embedded `serde_json` value (an application-layer object).
    Json(Cow<'a, Value>),
    Obj(Obj<'a>),
    Arr(Vec<Field<'a>>),
}

impl<'a> From<&'a str> for Field<'a> {
    fn from(s: &'a str) -> Self {
        Field::Str(Cow::Borrowed(s))
    }
}

impl From<String> for Field<'_> {
    fn from(s: String) -> Self {
        Field::Str(Cow::Owned(s))
    }
}

impl<'a> From<Cow<'a, str>> for Field<'a> {
    fn from(s: Cow<'a, str>) -> Self {
        Field::Str(s)
    }
}

/// `From<$t>` for the variant holding a `$t` as it is.
macro_rules! held {
    ($($t:ty => $v:ident),*) => {$(
        impl From<$t> for Field<'_> {
            fn from(x: $t) -> Self {
                Field::$v(x)
            }
        }
    )*};
}
held!(bool => Bool, i64 => I64, Timestamp => Ts, IpAddr => Ip);

macro_rules! unsigned {
    ($($t:ty),*) => {$(
        impl From<$t> for Field<'_> {
            fn from(n: $t) -> Self {
                Field::U64(u64::from(n))
            }
        }
    )*};
}
unsigned!(u8, u16, u32, u64);

impl<'a> From<Obj<'a>> for Field<'a> {
    fn from(o: Obj<'a>) -> Self {
        Field::Obj(o)
    }
}

impl From<Value> for Field<'_> {
    fn from(v: Value) -> Self {
        Field::Json(Cow::Owned(v))
    }
}

impl<'a> From<&'a Value> for Field<'a> {
    fn from(v: &'a Value) -> Self {
        Field::Json(Cow::Borrowed(v))
    }
}

/// How a member meets an earlier one of the same name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Dup {
    /// Replaces it (`Map::insert`).
    Replace,
    /// Yields to it (`Map::entry(..).or_insert(..)`).
    Yield,
}

/// An object's members in insertion order; sorted by name when written.
#[derive(Debug, Default)]
pub(crate) struct Obj<'a> {
    members: Vec<(Cow<'a, str>, Field<'a>, Dup)>,
}

impl<'a> Obj<'a> {
    pub(crate) fn new() -> Self {
        Obj {
            members: Vec::with_capacity(16),
        }
    }

    /// Sets member `k` (replacing one of the same name, as `Map::insert`).
    pub(crate) fn insert(&mut self, k: impl Into<Cow<'a, str>>, v: impl Into<Field<'a>>) {
        self.members.push((k.into(), v.into(), Dup::Replace));
    }

    /// Sets member `k` unless it is set (as `Map::entry(k).or_insert(v)`),
    /// including by a later [`Obj::insert`].
    pub(crate) fn insert_default(&mut self, k: impl Into<Cow<'a, str>>, v: impl Into<Field<'a>>) {
        self.members.push((k.into(), v.into(), Dup::Yield));
    }

    /// Fills `idx` (one slot per member) with the indices of the members
    /// `Map` semantics keep, in name order: one per name, the last `insert`,
    /// else the first `insert_default`; returns how many. (Sorting indices,
    /// not the members, moves 4 bytes per swap instead of ~70; the caller's
    /// slice lives on the stack for most objects.)
    fn kept(&self, idx: &mut [u32]) -> usize {
        for (i, x) in idx.iter_mut().enumerate() {
            *x = u32::try_from(i).unwrap_or(u32::MAX);
        }
        let name = |i: u32| self.members.get(i as usize).map(|m| m.0.as_ref());
        // Each name's first eight bytes as one number, computed once: two
        // names whose numbers differ order as the numbers do, so most
        // comparisons are one integer compare instead of a `memcmp` call.
        // Stable: members of one name keep their insertion order.
        let mut heads = [0u64; 48];
        if self.members.len() <= heads.len() {
            for (h, m) in heads.iter_mut().zip(&self.members) {
                *h = name_head(&m.0);
            }
            let head = |i: u32| heads.get(i as usize).copied();
            idx.sort_by(|&a, &b| head(a).cmp(&head(b)).then_with(|| name(a).cmp(&name(b))));
        } else {
            idx.sort_by(|&a, &b| name(a).cmp(&name(b)));
        }
        let mut n: usize = 0;
        for r in 0..idx.len() {
            let Some(&i) = idx.get(r) else { break };
            let replaces = self
                .members
                .get(i as usize)
                .is_some_and(|m| m.2 == Dup::Replace);
            match n.checked_sub(1).and_then(|l| idx.get(l).copied()) {
                // A replacing member wins over yielding ones and over an
                // earlier replacing one.
                Some(k) if name(k) == name(i) => {
                    if replaces && let Some(slot) = idx.get_mut(n - 1) {
                        *slot = i;
                    }
                }
                _ => {
                    if let Some(slot) = idx.get_mut(n) {
                        *slot = i;
                    }
                    n += 1;
                }
            }
        }
        n
    }

    /// Appends the object's JSON (compact, as `serde_json::to_writer`).
    pub(crate) fn write(&self, out: &mut Vec<u8>) -> io::Result<()> {
        out.push(b'{');
        let mut stack = [0u32; 48];
        let mut heap = Vec::new();
        let idx = match stack.get_mut(..self.members.len()) {
            Some(s) => s,
            None => {
                heap.resize(self.members.len(), 0);
                &mut heap[..]
            }
        };
        let kept = self.kept(idx);
        for (j, &i) in idx.iter().take(kept).enumerate() {
            let Some((k, v, _)) = self.members.get(i as usize) else {
                continue;
            };
            if j > 0 {
                out.push(b',');
            }
            write_str(out, k)?;
            out.push(b':');
            v.write(out)?;
        }
        out.push(b'}');
        Ok(())
    }

    /// The same object as a `serde_json` value.
    pub(crate) fn into_value(self) -> Value {
        let mut kept = vec![0u32; self.members.len()];
        let n = self.kept(&mut kept);
        kept.truncate(n);
        let mut members: Vec<Option<(Cow<'a, str>, Field<'a>, Dup)>> =
            self.members.into_iter().map(Some).collect();
        let mut m = Map::new();
        for i in kept {
            if let Some((k, v, _)) = members.get_mut(i as usize).and_then(Option::take) {
                m.insert(k.into_owned(), v.into_value());
            }
        }
        Value::Object(m)
    }
}

impl Field<'_> {
    fn write(&self, out: &mut Vec<u8>) -> io::Result<()> {
        let r = match self {
            Field::Str(s) => return write_str(out, s),
            Field::U64(n) => serde_json::to_writer(&mut *out, n),
            Field::I64(n) => serde_json::to_writer(&mut *out, n),
            Field::Bool(b) => serde_json::to_writer(&mut *out, b),
            Field::Ts(t) => match t.eve_ascii() {
                Some(b) => {
                    // Digits and `-:.+T` only: nothing to escape.
                    out.push(b'"');
                    out.extend_from_slice(&b);
                    out.push(b'"');
                    return Ok(());
                }
                None => serde_json::to_writer(&mut *out, &t.to_eve()),
            },
            Field::Ip(IpAddr::V4(a)) => {
                out.push(b'"');
                write_ipv4(out, a.octets());
                out.push(b'"');
                return Ok(());
            }
            Field::Ip(ip) => serde_json::to_writer(&mut *out, &crate::eve::ip_string(*ip)),
            Field::Json(v) => serde_json::to_writer(&mut *out, v.as_ref()),
            Field::Obj(o) => return o.write(out),
            Field::Arr(a) => {
                out.push(b'[');
                for (i, x) in a.iter().enumerate() {
                    if i > 0 {
                        out.push(b',');
                    }
                    x.write(out)?;
                }
                out.push(b']');
                return Ok(());
            }
        };
        r.map_err(io::Error::other)
    }

    fn into_value(self) -> Value {
        match self {
            Field::Str(s) => Value::String(s.into_owned()),
            Field::U64(n) => n.into(),
            Field::I64(n) => n.into(),
            Field::Bool(b) => b.into(),
            Field::Ts(t) => Value::String(t.to_eve()),
            Field::Ip(ip) => Value::String(crate::eve::ip_string(ip)),
            Field::Json(v) => v.into_owned(),
            Field::Obj(o) => o.into_value(),
            Field::Arr(a) => Value::Array(a.into_iter().map(Field::into_value).collect()),
        }
    }
}

/// A name's first eight bytes, big-endian, zero-padded: if two names' heads
/// differ, they order the names as the names themselves order.
#[inline]
fn name_head(n: &str) -> u64 {
    let mut b = [0u8; 8];
    let k = n.len().min(8);
    if let (Some(d), Some(s)) = (b.get_mut(..k), n.as_bytes().get(..k)) {
        d.copy_from_slice(s);
    }
    u64::from_be_bytes(b)
}

/// A JSON string, as `serde_json` writes it. Most (keys, names, URLs) need
/// no escape: their bytes are copied at once instead of going through
/// `serde_json`'s byte-by-byte escaper.
fn write_str(out: &mut Vec<u8>, s: &str) -> io::Result<()> {
    // `serde_json` escapes `"`, `\\` and the control bytes below 0x20 only
    // (not DEL, not non-ASCII).
    if s.bytes().all(|b| b >= 0x20 && b != b'"' && b != b'\\') {
        out.reserve(s.len() + 2);
        out.push(b'"');
        out.extend_from_slice(s.as_bytes());
        out.push(b'"');
        Ok(())
    } else {
        serde_json::to_writer(&mut *out, s).map_err(io::Error::other)
    }
}

/// Dotted decimal, as `Ipv4Addr`'s `Display` writes it.
fn write_ipv4(out: &mut Vec<u8>, o: [u8; 4]) {
    for (i, x) in o.into_iter().enumerate() {
        if i > 0 {
            out.push(b'.');
        }
        if x >= 100 {
            out.push(b'0' + x / 100);
        }
        if x >= 10 {
            out.push(b'0' + x / 10 % 10);
        }
        out.push(b'0' + x % 10);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn bytes(o: Obj<'_>) -> String {
        let mut b = Vec::new();
        o.write(&mut b).unwrap();
        String::from_utf8(b).unwrap()
    }

    /// Strings are written byte for byte as `serde_json` writes them, with
    /// and without characters it escapes.
    #[test]
    fn strings_are_written_as_serde_json_writes_them() {
        let mut all = String::new();
        for c in (0u32..0x300).chain([0x2028, 0x2029, 0xfeff, 0x1f600]) {
            all.extend(char::from_u32(c));
        }
        let mut cases: Vec<String> = [
            "",
            "GET",
            "/index.html?a=1&b=\"2\"",
            "tab\there",
            "back\\slash",
            "\u{7f}del",
            "müll ☃",
            "\0",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        cases.extend(all.chars().map(String::from));
        cases.push(all);
        for s in &cases {
            let mut got = Vec::new();
            write_str(&mut got, s).unwrap();
            assert_eq!(got, serde_json::to_vec(s).unwrap(), "{s:?}");
            let mut b = Vec::new();
            Field::Str(Cow::Borrowed(s)).write(&mut b).unwrap();
            assert_eq!(b, got, "{s:?}");
        }
    }

    /// The same members given to a `Map` (insert / entry-or-insert) print
    /// the same bytes, and `into_value` gives that `Map`.
    #[test]
    fn prints_what_a_map_with_the_same_members_prints() {
        let body = json!({"b": [1, "x\"y"], "a": {"z": null, "k": 1.5}});
        let build = || {
            let mut o = Obj::new();
            o.insert("timestamp", "2004-04-20T09:00:00.000000+0000");
            o.insert("flow_id", 7u64);
            o.insert("event_type", "http");
            o.insert("age", -3i64);
            o.insert("http", &body);
            o.insert_default("app_proto", "tls");
            o.insert("app_proto", "http");
            o.insert_default("app_proto", "dns");
            o.insert_default("zeta", true);
            o.insert_default("zeta", false);
            o.insert("flow_id", 8u64);
            let mut inner = Obj::new();
            inner.insert("ids", Field::Arr(vec![Field::U64(1), "é\n".into()]));
            inner.insert("a", 0u8);
            o.insert("tcp", inner);
            o
        };
        let mut m = Map::new();
        m.insert("timestamp".into(), "2004-04-20T09:00:00.000000+0000".into());
        m.insert("flow_id".into(), 7.into());
        m.insert("event_type".into(), "http".into());
        m.insert("age".into(), (-3).into());
        m.insert("http".into(), body.clone());
        m.entry("app_proto").or_insert("tls".into());
        m.insert("app_proto".into(), "http".into());
        m.entry("app_proto").or_insert("dns".into());
        m.entry("zeta").or_insert(true.into());
        m.entry("zeta").or_insert(false.into());
        m.insert("flow_id".into(), 8.into());
        m.insert("tcp".into(), json!({"ids": [1, "é\n"], "a": 0}));
        let want = Value::Object(m);
        assert_eq!(bytes(build()), serde_json::to_string(&want).unwrap());
        assert_eq!(build().into_value(), want);
    }

    /// Names that share their first eight bytes, are prefixes of one
    /// another, hold NUL or non-ASCII bytes, or repeat, still print in
    /// `Map` order (the sort compares eight-byte heads first, up to 48
    /// members; more, and it compares names alone).
    #[test]
    fn names_print_in_map_order_whatever_their_first_bytes() {
        let names = [
            "dest_port",
            "dest_por",
            "dest_portx",
            "dest_ip",
            "timestamp",
            "timestampa",
            "timestam",
            "a",
            "",
            "a\0",
            "a\0b",
            "\0",
            "é",
            "éa",
            "zzzzzzzzz",
            "zzzzzzzz",
            "zzzzzzzzy",
            "event_type",
            "event_typ",
            "app_proto",
            "app_proto_tc",
        ];
        let mut x: u32 = 0x2545_F491;
        for round in 0..200 {
            let mut o = Obj::new();
            let mut m = Map::new();
            for j in 0..(round % 60 + 1u64) {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                let k = names[x as usize % names.len()];
                if x & 0x100 == 0 {
                    o.insert(k, j);
                    m.insert(k.to_string(), j.into());
                } else {
                    o.insert_default(k, j);
                    m.entry(k).or_insert(j.into());
                }
            }
            assert_eq!(bytes(o), serde_json::to_string(&Value::Object(m)).unwrap());
        }
    }

    #[test]
    fn addresses_and_timestamps_print_as_their_strings() {
        let mut x: u32 = 0x9E37_79B9;
        let mut addrs: Vec<IpAddr> = ["0.0.0.0", "255.255.255.255", "10.0.100.9", "::1"]
            .iter()
            .map(|a| a.parse().unwrap())
            .collect();
        for _ in 0..5000 {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            addrs.push(IpAddr::from(x.to_be_bytes()));
        }
        for ip in addrs {
            let mut o = Obj::new();
            o.insert("ip", ip);
            o.insert(
                "ts",
                Timestamp::from_secs_nanos(i64::from(x % 2_000_000_000), x),
            );
            let want = format!(
                r#"{{"ip":"{}","ts":"{}"}}"#,
                crate::eve::ip_string(ip),
                Timestamp::from_secs_nanos(i64::from(x % 2_000_000_000), x).to_eve()
            );
            assert_eq!(bytes(o), want);
        }
    }

    #[test]
    fn empty_object_and_array() {
        let mut o = Obj::new();
        o.insert("v", Field::Arr(Vec::new()));
        o.insert("o", Obj::new());
        assert_eq!(bytes(o), r#"{"o":{},"v":[]}"#);
        assert_eq!(bytes(Obj::new()), "{}");
    }
}
