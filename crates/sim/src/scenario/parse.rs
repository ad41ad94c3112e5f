//! Scenario TOML → [`Scenario`], with file:line:column errors.
//!
//! The document is read with `toml_edit`, which keeps the span of every key
//! and value, so an unknown key, a value of the wrong type, a bad address or an
//! impossible timeline points at the exact place.

use super::text::{line_col, parse_duration, parse_time, rfc3339};
use super::*;
use crate::error::ScenarioError;
use crate::payload::dns;
use crate::payload::exe::BodyKind;
use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::ops::Range;
use stormwatch_model::{Cidr, Label, Timestamp};
use toml_edit::{Document, Item, TableLike, Value};

/// Longest IRC session or background span: 30 days.
pub const MAX_SPAN_NS: i64 = 30 * 86_400 * 1_000_000_000;

/// Largest number of addresses one target list may expand to.
pub const MAX_ADDRESSES: usize = 65_536;

type Span = Option<Range<usize>>;
type R<T> = Result<T, ScenarioError>;

struct Ctx<'a> {
    origin: &'a str,
    src: &'a str,
    hosts: BTreeMap<String, Ipv4Addr>,
    start: Timestamp,
}

impl Ctx<'_> {
    fn err(&self, span: &Span, message: String) -> ScenarioError {
        let (line, column) = match span {
            Some(r) => line_col(self.src, r.start),
            None => (0, 0),
        };
        ScenarioError {
            origin: self.origin.to_string(),
            line,
            column,
            message,
        }
    }
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::String(_) => "a string",
        Value::Integer(_) => "an integer",
        Value::Float(_) => "a float",
        Value::Boolean(_) => "a boolean",
        Value::Datetime(_) => "a datetime",
        Value::Array(_) => "an array",
        Value::InlineTable(_) => "a table",
    }
}

fn item_type_name(i: &Item) -> &'static str {
    match i {
        Item::None => "nothing",
        Item::Value(v) => type_name(v),
        Item::Table(_) => "a table",
        Item::ArrayOfTables(_) => "an array of tables",
    }
}

struct Tab<'a, 'c> {
    ctx: &'c Ctx<'a>,
    t: &'a dyn TableLike,
    what: String,
    header: Span,
}

impl<'a, 'c> Tab<'a, 'c> {
    fn new(ctx: &'c Ctx<'a>, t: &'a dyn TableLike, what: &str, header: Span) -> Self {
        Tab {
            ctx,
            t,
            what: what.to_string(),
            header,
        }
    }

    fn check_keys(&self, allowed: &[&str]) -> R<()> {
        for (k, _) in self.t.iter() {
            if !allowed.contains(&k) {
                let span = self.t.get_key_value(k).and_then(|(key, _)| key.span());
                return Err(self.ctx.err(
                    &span,
                    format!(
                        "unknown key \"{k}\" in {}: expected one of {}",
                        self.what,
                        allowed.join(", ")
                    ),
                ));
            }
        }
        Ok(())
    }

    fn get(&self, key: &str) -> Option<(&'a Item, Span)> {
        let it = self.t.get(key)?;
        Some((it, it.span()))
    }

    fn value(&self, key: &str, expected: &str) -> R<Option<(&'a Value, Span)>> {
        match self.get(key) {
            None => Ok(None),
            Some((Item::Value(v), span)) => Ok(Some((v, span))),
            Some((other, span)) => Err(self.bad(key, &span, expected, item_type_name(other))),
        }
    }

    fn bad(&self, key: &str, span: &Span, expected: &str, found: &str) -> ScenarioError {
        self.ctx.err(
            span,
            format!(
                "bad value for \"{key}\" in {}: expected {expected}, found {found}",
                self.what
            ),
        )
    }

    fn bad_text(&self, key: &str, span: &Span, expected: &str, found: &str) -> ScenarioError {
        self.ctx.err(
            span,
            format!(
                "bad value {found:?} for \"{key}\" in {}: expected {expected}",
                self.what
            ),
        )
    }

    fn missing(&self, key: &str, expected: &str) -> ScenarioError {
        self.ctx.err(
            &self.header,
            format!(
                "missing key \"{key}\" in {}: expected {expected}",
                self.what
            ),
        )
    }

    fn str_opt(&self, key: &str, expected: &str) -> R<Option<(String, Span)>> {
        match self.value(key, expected)? {
            None => Ok(None),
            Some((Value::String(s), span)) => Ok(Some((s.value().clone(), span))),
            Some((Value::Datetime(d), span)) => Ok(Some((d.value().to_string(), span))),
            Some((v, span)) => Err(self.bad(key, &span, expected, type_name(v))),
        }
    }

    fn str_req(&self, key: &str, expected: &str) -> R<(String, Span)> {
        self.str_opt(key, expected)?
            .ok_or_else(|| self.missing(key, expected))
    }

    fn string(&self, key: &str, default: &str) -> R<String> {
        Ok(self
            .str_opt(key, "a string")?
            .map_or_else(|| default.to_string(), |(s, _)| s))
    }

    fn int_opt(&self, key: &str, expected: &str, range: Range<i64>) -> R<Option<i64>> {
        match self.value(key, expected)? {
            None => Ok(None),
            Some((Value::Integer(i), span)) => {
                let v = *i.value();
                if range.contains(&v) {
                    Ok(Some(v))
                } else {
                    Err(self.bad(key, &span, expected, &format!("{v}")))
                }
            }
            Some((v, span)) => Err(self.bad(key, &span, expected, type_name(v))),
        }
    }

    fn uint<T: TryFrom<i64>>(&self, key: &str, expected: &str, max: i64, default: T) -> R<T> {
        match self.int_opt(key, expected, 0..max + 1)? {
            None => Ok(default),
            Some(v) => T::try_from(v).map_err(|_| {
                self.bad(
                    key,
                    &self.get(key).and_then(|x| x.1),
                    expected,
                    &format!("{v}"),
                )
            }),
        }
    }

    fn float_opt(&self, key: &str, expected: &str, min: f64, max: f64) -> R<Option<f64>> {
        let v = match self.value(key, expected)? {
            None => return Ok(None),
            Some((Value::Integer(i), span)) => (*i.value() as f64, span),
            Some((Value::Float(f), span)) => (*f.value(), span),
            Some((v, span)) => return Err(self.bad(key, &span, expected, type_name(v))),
        };
        if v.0.is_finite() && v.0 >= min && v.0 <= max {
            Ok(Some(v.0))
        } else {
            Err(self.bad(key, &v.1, expected, &format!("{}", v.0)))
        }
    }

    fn bool_opt(&self, key: &str, default: bool) -> R<bool> {
        match self.value(key, "true or false")? {
            None => Ok(default),
            Some((Value::Boolean(b), _)) => Ok(*b.value()),
            Some((v, span)) => Err(self.bad(key, &span, "true or false", type_name(v))),
        }
    }

    /// Strings: a single string or an array of strings.
    fn str_list(&self, key: &str, expected: &str) -> R<Option<Vec<(String, Span)>>> {
        match self.value(key, expected)? {
            None => Ok(None),
            Some((Value::String(s), span)) => Ok(Some(vec![(s.value().clone(), span)])),
            Some((Value::Array(a), _)) => {
                let mut out = Vec::new();
                for v in a.iter() {
                    match v {
                        Value::String(s) => out.push((s.value().clone(), v.span())),
                        other => return Err(self.bad(key, &v.span(), expected, type_name(other))),
                    }
                }
                Ok(Some(out))
            }
            Some((v, span)) => Err(self.bad(key, &span, expected, type_name(v))),
        }
    }

    fn duration_opt(&self, key: &str, default: Option<i64>) -> R<Option<i64>> {
        const EXP: &str = "a duration such as \"30s\", \"5m\" or \"1h30m\"";
        match self.value(key, EXP)? {
            None => Ok(default),
            Some((Value::Integer(i), span)) => {
                let v = *i.value();
                if v < 0 {
                    Err(self.negative(key, &span))
                } else {
                    Ok(Some(v.saturating_mul(1_000_000_000)))
                }
            }
            Some((Value::Float(f), span)) => {
                let v = *f.value();
                if v < 0.0 {
                    Err(self.negative(key, &span))
                } else if v.is_finite() {
                    Ok(Some((v * 1e9) as i64))
                } else {
                    Err(self.bad(key, &span, EXP, "a non-finite float"))
                }
            }
            Some((Value::String(s), span)) => {
                let text = s.value();
                if text.trim_start().starts_with('-') {
                    return Err(self.negative(key, &span));
                }
                parse_duration(text)
                    .map(Some)
                    .ok_or_else(|| self.bad_text(key, &span, EXP, text))
            }
            Some((v, span)) => Err(self.bad(key, &span, EXP, type_name(v))),
        }
    }

    fn negative(&self, key: &str, span: &Span) -> ScenarioError {
        self.ctx.err(
            span,
            format!(
                "impossible timeline: negative \"{key}\" in {} would put a reply before its request: expected a duration of 0 or more",
                self.what
            ),
        )
    }

    fn time_opt(&self, key: &str) -> R<Option<(Timestamp, Span)>> {
        const EXP: &str =
            "a time: \"+12m\" (after the start), \"09:14:31\" (on the start day) or RFC 3339";
        match self.str_opt(key, EXP)? {
            None => Ok(None),
            Some((s, span)) => parse_time(&s, self.ctx.start)
                .map(|t| Some((t, span.clone())))
                .ok_or_else(|| self.bad_text(key, &span, EXP, &s)),
        }
    }

    fn host(&self, key: &str, text: &str, span: &Span) -> R<Ipv4Addr> {
        if let Some(ip) = self.ctx.hosts.get(text) {
            return Ok(*ip);
        }
        text.parse::<Ipv4Addr>().map_err(|_| {
            self.ctx.err(
                span,
                format!(
                    "bad address \"{text}\" for \"{key}\" in {}: expected an IPv4 address or a [[host]] name",
                    self.what
                ),
            )
        })
    }

    fn host_req(&self, key: &str) -> R<Ipv4Addr> {
        let (s, span) = self.str_req(key, "a [[host]] name or an IPv4 address")?;
        self.host(key, &s, &span)
    }

    fn host_opt(&self, key: &str) -> R<Option<Ipv4Addr>> {
        match self.str_opt(key, "a [[host]] name or an IPv4 address")? {
            None => Ok(None),
            Some((s, span)) => self.host(key, &s, &span).map(Some),
        }
    }

    /// Addresses: host names, IPv4 addresses, CIDR blocks (one string or a list).
    fn addresses(&self, key: &str) -> R<Option<Vec<Ipv4Addr>>> {
        const EXP: &str = "a CIDR block, an IPv4 address, a [[host]] name, or a list of them";
        let Some(items) = self.str_list(key, EXP)? else {
            return Ok(None);
        };
        let mut out = Vec::new();
        for (s, span) in items {
            if let Some(ip) = self.ctx.hosts.get(s.as_str()) {
                out.push(*ip);
                continue;
            }
            if s.contains('/') {
                let c: Cidr = s.parse().map_err(|_| {
                    self.ctx.err(
                        &span,
                        format!(
                            "bad address \"{s}\" for \"{key}\" in {}: expected an IPv4 CIDR block such as \"10.1.0.0/22\"",
                            self.what
                        ),
                    )
                })?;
                let std::net::IpAddr::V4(net) = c.addr else {
                    return Err(self.ctx.err(
                        &span,
                        format!(
                            "bad address \"{s}\" for \"{key}\" in {}: expected an IPv4 CIDR block",
                            self.what
                        ),
                    ));
                };
                let size = 1u64 << (32 - u32::from(c.prefix.min(32)));
                if out.len() as u64 + size > MAX_ADDRESSES as u64 {
                    return Err(self.ctx.err(
                        &span,
                        format!(
                            "bad value \"{s}\" for \"{key}\" in {}: expected at most {MAX_ADDRESSES} addresses in one list",
                            self.what
                        ),
                    ));
                }
                let base = u32::from(net);
                for i in 0..size {
                    out.push(Ipv4Addr::from(base.wrapping_add(i as u32)));
                }
            } else {
                out.push(self.host(key, &s, &span)?);
            }
        }
        Ok(Some(out))
    }

    /// Ports: an integer, a list of integers, or strings `"a-b"` in a list.
    fn ports(&self, key: &str) -> R<Option<Vec<u16>>> {
        const EXP: &str = "a port, a list of ports, or ranges such as \"1-1024\"";
        let (v, span) = match self.value(key, EXP)? {
            None => return Ok(None),
            Some(x) => x,
        };
        let one = |v: &Value, span: &Span, out: &mut Vec<u16>| -> R<()> {
            match v {
                Value::Integer(i) => {
                    let p = *i.value();
                    if (1..=65535).contains(&p) {
                        out.push(p as u16);
                        Ok(())
                    } else {
                        Err(self.bad(key, span, "a port between 1 and 65535", &format!("{p}")))
                    }
                }
                Value::String(s) => {
                    let t = s.value();
                    let (a, b) = t.split_once('-').unwrap_or((t, t));
                    match (a.trim().parse::<u16>(), b.trim().parse::<u16>()) {
                        (Ok(a), Ok(b)) if a >= 1 && a <= b => {
                            out.extend(a..=b);
                            Ok(())
                        }
                        _ => Err(self.bad_text(key, span, EXP, t)),
                    }
                }
                other => Err(self.bad(key, span, EXP, type_name(other))),
            }
        };
        let mut out = Vec::new();
        match v {
            Value::Array(a) => {
                for x in a.iter() {
                    one(x, &x.span(), &mut out)?;
                }
            }
            other => one(other, &span, &mut out)?,
        }
        if out.is_empty() {
            return Err(self.bad(key, &span, EXP, "an empty list"));
        }
        Ok(Some(out))
    }

    fn port(&self, key: &str, default: u16) -> R<u16> {
        self.uint(key, "a port between 1 and 65535", 65535, default)
            .and_then(|p: u16| {
                if p == 0 {
                    Err(self.bad(
                        key,
                        &self.get(key).and_then(|x| x.1),
                        "a port between 1 and 65535",
                        "0",
                    ))
                } else {
                    Ok(p)
                }
            })
    }

    fn choice<T: Copy>(&self, key: &str, options: &[(&str, T)], default: T) -> R<T> {
        let names: Vec<&str> = options.iter().map(|(n, _)| *n).collect();
        let expected = format!("one of {}", names.join(", "));
        match self.str_opt(key, &expected)? {
            None => Ok(default),
            Some((s, span)) => options
                .iter()
                .find(|(n, _)| *n == s)
                .map(|(_, v)| *v)
                .ok_or_else(|| self.bad_text(key, &span, &expected, &s)),
        }
    }

    fn body(&self, default: BodyKind) -> R<BodyKind> {
        self.choice(
            "body",
            &[
                ("pe", BodyKind::Pe),
                ("elf", BodyKind::Elf),
                ("html", BodyKind::Html),
                ("text", BodyKind::Text),
            ],
            default,
        )
    }

    fn sub(&self, key: &str) -> R<Option<Tab<'a, 'c>>> {
        match self.get(key) {
            None => Ok(None),
            Some((Item::Value(Value::InlineTable(t)), span)) => Ok(Some(Tab {
                ctx: self.ctx,
                t: t as &dyn TableLike,
                what: format!("\"{key}\" of {}", self.what),
                header: span,
            })),
            Some((Item::Table(t), span)) => Ok(Some(Tab {
                ctx: self.ctx,
                t: t as &dyn TableLike,
                what: format!("\"{key}\" of {}", self.what),
                header: span,
            })),
            Some((other, span)) => {
                Err(self.bad(key, &span, "an inline table { ... }", item_type_name(other)))
            }
        }
    }
}

const COMMON: &[&str] = &["kind", "at", "campaign", "note"];

fn keys(specific: &[&'static str]) -> Vec<&'static str> {
    let mut v: Vec<&'static str> = COMMON.to_vec();
    v.extend_from_slice(specific);
    v
}

const KINDS: &[&str] = &[
    "scan",
    "exploit",
    "listener",
    "irc_session",
    "http_download",
    "tls_session",
    "dns",
    "ssh_session",
    "ftp_session",
    "tftp",
    "propagate",
    "bot_command",
    "background",
];

/// Parses and validates a scenario. `origin` names the file in messages.
pub fn parse_scenario(origin: &str, text: &str) -> Result<Scenario, ScenarioError> {
    let mut ctx = Ctx {
        origin,
        src: text,
        hosts: BTreeMap::new(),
        start: Timestamp::ZERO,
    };
    let doc = Document::parse(text).map_err(|e| {
        let msg = e.message().trim().replace('\n', " ");
        ctx.err(&e.span(), format!("invalid TOML: {msg}"))
    })?;
    let root = doc.as_table();
    // The start time is needed to read times; read it first.
    if let Some(Item::Table(t)) = root.get("scenario")
        && let Some(v) = t.get("start").and_then(Item::as_value)
    {
        let s = match v {
            Value::String(s) => Some(s.value().clone()),
            Value::Datetime(d) => Some(d.value().to_string()),
            _ => None,
        };
        if let Some(st) = s.as_deref().and_then(Timestamp::parse) {
            ctx.start = st;
        }
    }
    let (name, seed, start, end, home_net, hosts) = header(&ctx, root)?;
    ctx.hosts = hosts.iter().map(|h| (h.name.clone(), h.ip)).collect();
    let ctx = ctx;
    let top = Tab::new(
        &ctx,
        root as &dyn TableLike,
        "the scenario file",
        Some(0..0),
    );
    // [[activity]]
    let mut activities = Vec::new();
    if let Some((item, span)) = top.get("activity") {
        let Item::ArrayOfTables(arr) = item else {
            return Err(top.bad(
                "activity",
                &span,
                "[[activity]] tables",
                item_type_name(item),
            ));
        };
        let mut prev: Option<(Timestamp, u32)> = None;
        for t in arr.iter() {
            let a = Tab::new(&ctx, t as &dyn TableLike, "[[activity]]", t.span());
            let line = t.span().map_or(0, |r| line_col(text, r.start).0);
            let act = activity(&a, line)?;
            if act.at < start {
                return Err(ctx.err(
                    &a.get("at").and_then(|x| x.1),
                    format!(
                        "impossible timeline: [[activity]] at {} is before the scenario start {}: expected a time at or after the start",
                        rfc3339(act.at),
                        rfc3339(start)
                    ),
                ));
            }
            if let Some((pt, pl)) = prev
                && act.at < pt
            {
                return Err(ctx.err(
                        &t.span(),
                        format!(
                            "impossible timeline: times go backwards: this [[activity]] at {} comes after one at {} (line {pl}): expected activities in time order",
                            rfc3339(act.at),
                            rfc3339(pt)
                        ),
                    ));
            }
            prev = Some((act.at, line));
            activities.push((act, t.span()));
        }
    }
    let scenario = Scenario {
        origin: origin.to_string(),
        name,
        seed,
        start,
        end,
        home_net,
        hosts,
        activities: activities.iter().map(|(a, _)| a.clone()).collect(),
    };
    validate_timeline(&ctx, &scenario, &activities)?;
    Ok(scenario)
}

type Header = (
    String,
    u64,
    Timestamp,
    Option<Timestamp>,
    Vec<Cidr>,
    Vec<Host>,
);

/// `[scenario]` and `[[host]]`.
fn header(ctx: &Ctx<'_>, root: &toml_edit::Table) -> R<Header> {
    let text = ctx.src;
    let top = Tab::new(ctx, root as &dyn TableLike, "the scenario file", Some(0..0));
    top.check_keys(&["scenario", "host", "activity"])?;

    // [scenario]
    let (sc_item, sc_span) = top.get("scenario").ok_or_else(|| {
        ctx.err(
            &Some(0..0),
            "missing table [scenario]: expected [scenario] with name, seed, start and home_net"
                .into(),
        )
    })?;
    let Some(sc_table) = sc_item.as_table_like() else {
        return Err(top.bad(
            "scenario",
            &sc_span,
            "a table [scenario]",
            item_type_name(sc_item),
        ));
    };
    let header = match sc_item {
        Item::Table(t) => t.span(),
        _ => sc_span,
    };
    let sc = Tab::new(ctx, sc_table, "[scenario]", header);
    sc.check_keys(&["name", "seed", "start", "end", "home_net", "description"])?;
    let name = sc.str_req("name", "a scenario name (a string)")?.0;
    let seed = match sc.value("seed", "an integer of 0 or more")? {
        Some((Value::Integer(i), span)) => u64::try_from(*i.value()).map_err(|_| {
            sc.bad(
                "seed",
                &span,
                "an integer of 0 or more",
                &format!("{}", i.value()),
            )
        })?,
        Some((v, span)) => {
            return Err(sc.bad("seed", &span, "an integer of 0 or more", type_name(v)));
        }
        None => return Err(sc.missing("seed", "an integer of 0 or more")),
    };
    let (start_s, start_span) =
        sc.str_req("start", "an RFC 3339 time such as \"2004-04-20T09:00:00Z\"")?;
    let start = Timestamp::parse(&start_s).ok_or_else(|| {
        sc.bad_text(
            "start",
            &start_span,
            "an RFC 3339 time such as \"2004-04-20T09:00:00Z\"",
            &start_s,
        )
    })?;
    let end = sc.time_opt("end")?.map(|(t, _)| t);
    let home = sc
        .str_list("home_net", "a CIDR block or a list of them")?
        .ok_or_else(|| {
            sc.missing(
                "home_net",
                "a CIDR block or a list of them, such as [\"10.1.0.0/16\"]",
            )
        })?;
    let mut home_net = Vec::new();
    for (s, span) in home {
        let c: Cidr = s.parse().map_err(|_| {
            sc.bad_text(
                "home_net",
                &span,
                "an IPv4 CIDR block such as \"10.1.0.0/16\"",
                &s,
            )
        })?;
        home_net.push(c);
    }
    if let Some(e) = end
        && e < start
    {
        return Err(ctx.err(
            &sc.get("end").and_then(|x| x.1),
            format!(
                "impossible timeline: end {} is before start {}: expected a later end",
                rfc3339(e),
                rfc3339(start)
            ),
        ));
    }

    // [[host]]
    let mut hosts = Vec::new();
    if let Some((item, span)) = top.get("host") {
        let Item::ArrayOfTables(arr) = item else {
            return Err(top.bad("host", &span, "[[host]] tables", item_type_name(item)));
        };
        for t in arr.iter() {
            let h = Tab::new(ctx, t as &dyn TableLike, "[[host]]", t.span());
            h.check_keys(&["name", "ip", "os", "label", "rtt_ms", "note"])?;
            let (name, name_span) = h.str_req("name", "a host name such as \"victim1\"")?;
            let (ip_s, ip_span) = h.str_req("ip", "an IPv4 address such as \"10.1.1.20\"")?;
            let ip: Ipv4Addr = ip_s.parse().map_err(|_| {
                ctx.err(
                    &ip_span,
                    format!(
                        "bad address \"{ip_s}\" for \"ip\" in [[host]]: expected an IPv4 address"
                    ),
                )
            })?;
            let internal = home_net.iter().any(|c| c.contains(ip.into()));
            let os = h.choice(
                "os",
                &[
                    ("windows", Os::Windows),
                    ("linux", Os::Linux),
                    ("bsd", Os::Bsd),
                ],
                if internal { Os::Windows } else { Os::Linux },
            )?;
            let label = match h.str_opt("label", "a label word")? {
                None => None,
                Some((s, span)) => Some(Label::from_name(&s).ok_or_else(|| {
                    h.bad_text(
                        "label",
                        &span,
                        "one of clean, probed, targeted, compromised, worm, bot, trojan, scanner, exploiter, controller, egg-server",
                        &s,
                    )
                })?),
            };
            let rtt_ms = h.float_opt(
                "rtt_ms",
                "a round-trip time in milliseconds (0.01–2000)",
                0.01,
                2000.0,
            )?;
            let note = h.str_opt("note", "a string")?.map(|x| x.0);
            let line = t.span().map_or(0, |r| line_col(text, r.start).0);
            if hosts.iter().any(|x: &Host| x.name == name) {
                return Err(ctx.err(
                    &name_span,
                    format!("duplicate [[host]] name \"{name}\": expected each name once"),
                ));
            }
            hosts.push(Host {
                name,
                ip,
                os,
                label,
                rtt_ms,
                note,
                line,
            });
        }
    }

    Ok((name, seed, start, end, home_net, hosts))
}

fn activity(a: &Tab<'_, '_>, line: u32) -> R<Activity> {
    let (kind, kind_span) = a.str_req("kind", &format!("one of {}", KINDS.join(", ")))?;
    let (at, _) = a
        .time_opt("at")?
        .ok_or_else(|| a.missing("at", "a time such as \"+12m\" or \"09:14:31\""))?;
    let campaign = a.str_opt("campaign", "a string")?.map(|x| x.0);
    let spec = match kind.as_str() {
        "scan" => scan(a)?,
        "exploit" => exploit(a)?,
        "listener" => listener(a)?,
        "irc_session" => irc(a)?,
        "http_download" => http(a)?,
        "tls_session" => tls(a)?,
        "dns" => dns_act(a)?,
        "ssh_session" => ssh(a)?,
        "ftp_session" => ftp(a)?,
        "tftp" => tftp(a)?,
        "propagate" => propagate(a)?,
        "bot_command" => bot_command(a)?,
        "background" => background(a)?,
        _ => {
            return Err(a.bad_text(
                "kind",
                &kind_span,
                &format!("one of {}", KINDS.join(", ")),
                &kind,
            ));
        }
    };
    Ok(Activity {
        line,
        at,
        campaign,
        spec,
    })
}

fn ratio(a: &Tab<'_, '_>, key: &str, default: f64) -> R<f64> {
    Ok(a.float_opt(key, "a share between 0 and 1", 0.0, 1.0)?
        .unwrap_or(default))
}

fn rate(a: &Tab<'_, '_>, key: &str, default: f64, what: &str) -> R<f64> {
    Ok(a.float_opt(key, what, 0.0001, 1_000_000.0)?
        .unwrap_or(default))
}

fn scan(a: &Tab<'_, '_>) -> R<ActivitySpec> {
    a.check_keys(&keys(&[
        "from",
        "targets",
        "ports",
        "proto",
        "order",
        "rate",
        "open",
        "open_ratio",
        "live_ratio",
        "tool",
        "src_port",
        "ip_id",
        "ttl",
        "window",
        "automated",
    ]))?;
    let from = a.host_req("from")?;
    let targets = a.addresses("targets")?.ok_or_else(|| {
        a.missing(
            "targets",
            "a CIDR block such as \"10.1.0.0/22\" or a list of addresses",
        )
    })?;
    let proto = a.choice(
        "proto",
        &[
            ("tcp", ScanProto::Tcp),
            ("udp", ScanProto::Udp),
            ("icmp", ScanProto::Icmp),
        ],
        ScanProto::Tcp,
    )?;
    let ports = match a.ports("ports")? {
        Some(p) => p,
        None if proto == ScanProto::Icmp => vec![0],
        None => {
            return Err(a.missing(
                "ports",
                "a port or a list of ports, such as [443] or [\"1-1024\"]",
            ));
        }
    };
    if targets.len().saturating_mul(ports.len()) > 4 * MAX_ADDRESSES {
        return Err(a.ctx.err(
            &a.header,
            format!(
                "bad value for \"targets\" × \"ports\" in [[activity]]: expected at most {} probes, found {}",
                4 * MAX_ADDRESSES,
                targets.len() * ports.len()
            ),
        ));
    }
    let tool = a.choice(
        "tool",
        &[
            ("nmap-like", Tool::NmapLike),
            ("masscan-like", Tool::MasscanLike),
            ("worm-sequential", Tool::WormSequential),
            ("manual", Tool::Manual),
            ("plain", Tool::Plain),
        ],
        Tool::Plain,
    )?;
    let order = a.choice(
        "order",
        &[("sequential", Order::Sequential), ("random", Order::Random)],
        if tool == Tool::WormSequential {
            Order::Sequential
        } else {
            Order::Random
        },
    )?;
    let automated = match a.value("automated", "true or false")? {
        None => None,
        Some(_) => Some(a.bool_opt("automated", true)?),
    };
    Ok(ActivitySpec::Scan(Scan {
        from,
        targets,
        ports,
        proto,
        order,
        rate: rate(a, "rate", 10.0, "probes per second (a positive number)")?,
        open: a.addresses("open")?.unwrap_or_default(),
        open_ratio: ratio(a, "open_ratio", 0.0)?,
        live_ratio: ratio(a, "live_ratio", 0.2)?,
        tool,
        src_port: a
            .int_opt("src_port", "a port between 1 and 65535", 1..65536)?
            .map(|p| p as u16),
        ip_id: a
            .int_opt("ip_id", "an IP ID between 0 and 65535", 0..65536)?
            .map(|p| p as u16),
        ttl: a
            .int_opt("ttl", "a TTL between 1 and 255", 1..256)?
            .map(|p| p as u8),
        window: a
            .int_opt("window", "a window between 0 and 65535", 0..65536)?
            .map(|p| p as u16),
        automated,
    }))
}

fn exploit(a: &Tab<'_, '_>) -> R<ActivitySpec> {
    a.check_keys(&keys(&[
        "from",
        "to",
        "port",
        "vector",
        "success",
        "transport",
        "body_len",
    ]))?;
    let transport = match a.sub("transport")? {
        None => Transport::default(),
        Some(t) => {
            t.check_keys(&[
                "segment_size",
                "overlap",
                "ip_fragment",
                "fragment_order",
                "retransmit",
            ])?;
            let ip_fragment = match t.int_opt(
                "ip_fragment",
                "a fragment size in bytes, a multiple of 8 between 8 and 1480",
                8..1481,
            )? {
                Some(n) if n % 8 != 0 => {
                    return Err(t.bad(
                        "ip_fragment",
                        &t.get("ip_fragment").and_then(|x| x.1),
                        "a fragment size in bytes, a multiple of 8 between 8 and 1480",
                        &format!("{n}"),
                    ));
                }
                Some(n) => Some(n as usize),
                None => None,
            };
            Transport {
                segment_size: t
                    .int_opt(
                        "segment_size",
                        "a segment size in bytes between 1 and 1460",
                        1..1461,
                    )?
                    .map(|n| n as usize),
                overlap: t.bool_opt("overlap", false)?,
                ip_fragment,
                retransmit: t.bool_opt("retransmit", false)?,
                fragment_reverse: t.choice(
                    "fragment_order",
                    &[("forward", false), ("reverse", true)],
                    false,
                )?,
            }
        }
    };
    Ok(ActivitySpec::Exploit(Exploit {
        from: a.host_req("from")?,
        to: a.host_req("to")?,
        port: a.port("port", 443)?,
        vector: a.choice(
            "vector",
            &[("pct-overflow", Vector::PctOverflow)],
            Vector::PctOverflow,
        )?,
        success: a.bool_opt("success", true)?,
        transport,
        body_len: a
            .uint(
                "body_len",
                "a record length between 15 and 32767",
                32767,
                crate::payload::legacy::PCT_OVERFLOW_BODY_LEN,
            )?
            .max(15),
    }))
}

fn listener(a: &Tab<'_, '_>) -> R<ActivitySpec> {
    a.check_keys(&keys(&["host", "port", "client", "session", "commands"]))?;
    let kind = a.choice("session", &[("shell", true), ("silent", false)], true)?;
    let commands = a
        .str_list("commands", "a list of command lines")?
        .map(|v| v.into_iter().map(|x| x.0).collect())
        .unwrap_or_else(|| {
            ["ipconfig", "net user", "dir c:\\"]
                .iter()
                .map(|s| s.to_string())
                .collect()
        });
    Ok(ActivitySpec::Listener(Listener {
        host: a.host_req("host")?,
        port: {
            match a.int_opt("port", "a port between 1 and 65535", 1..65536)? {
                Some(p) => p as u16,
                None => return Err(a.missing("port", "a port such as 31337")),
            }
        },
        client: a.host_req("client")?,
        session: if kind {
            ListenerSession::Shell(commands)
        } else {
            ListenerSession::Silent
        },
    }))
}

fn lines(a: &Tab<'_, '_>, key: &str) -> R<Vec<String>> {
    Ok(a.str_list(key, "a list of strings")?
        .map(|v| v.into_iter().map(|x| x.0).collect())
        .unwrap_or_default())
}

fn irc(a: &Tab<'_, '_>) -> R<ActivitySpec> {
    a.check_keys(&keys(&[
        "client",
        "server",
        "port",
        "nick",
        "nick_style",
        "user",
        "pass",
        "channel",
        "key",
        "server_name",
        "duration",
        "ping_interval",
        "c2",
        "says",
        "hears",
        "members",
        "topic",
        "split_lines",
        "quit",
    ]))?;
    let (channel, cspan) = a.str_req("channel", "a channel name such as \"#mip\"")?;
    if !channel.starts_with('#') || channel.contains(' ') || channel.len() > 50 {
        return Err(a.bad_text(
            "channel",
            &cspan,
            "a channel name such as \"#mip\"",
            &channel,
        ));
    }
    Ok(ActivitySpec::IrcSession(IrcSession {
        client: a.host_req("client")?,
        server: a.host_req("server")?,
        port: a.port("port", 6667)?,
        nick: a.str_opt("nick", "a nick")?.map(|x| x.0),
        nick_style: a.choice(
            "nick_style",
            &[
                ("human", NickStyle::Human),
                ("bot", NickStyle::Bot),
                ("trojan", NickStyle::Trojan),
            ],
            NickStyle::Human,
        )?,
        user: a.string("user", "user")?,
        pass: a.str_opt("pass", "a string")?.map(|x| x.0),
        channel,
        key: a.str_opt("key", "a channel key")?.map(|x| x.0),
        server_name: a.string("server_name", "irc.example.net")?,
        duration: {
            let d = a
                .duration_opt("duration", None)?
                .ok_or_else(|| a.missing("duration", "a duration such as \"3h45m\""))?;
            if d > MAX_SPAN_NS {
                return Err(a.bad(
                    "duration",
                    &a.get("duration").and_then(|x| x.1),
                    "a duration of at most 30 days",
                    "a longer one",
                ));
            }
            d
        },
        ping_interval: a
            .duration_opt("ping_interval", Some(300_000_000_000))?
            .unwrap_or(300_000_000_000)
            .max(1_000_000_000),
        c2: a.bool_opt("c2", false)?,
        says: lines(a, "says")?,
        hears: lines(a, "hears")?,
        members: lines(a, "members")?,
        topic: a.str_opt("topic", "a string")?.map(|x| x.0),
        split_lines: a.bool_opt("split_lines", false)?,
        quit: a.bool_opt("quit", false)?,
    }))
}

fn http(a: &Tab<'_, '_>) -> R<ActivitySpec> {
    a.check_keys(&keys(&[
        "client",
        "server",
        "port",
        "path",
        "host_header",
        "body",
        "size",
        "chunked",
        "user_agent",
    ]))?;
    let server = a.host_req("server")?;
    let chunked = match a.value("chunked", "a chunk size in bytes, or true/false")? {
        None => None,
        Some((Value::Boolean(b), _)) => b.value().then_some(4096),
        Some((Value::Integer(_), _)) => a
            .int_opt(
                "chunked",
                "a chunk size between 1 and 1048576",
                1..1_048_577,
            )?
            .map(|n| n as usize),
        Some((v, span)) => {
            return Err(a.bad(
                "chunked",
                &span,
                "a chunk size in bytes, or true/false",
                type_name(v),
            ));
        }
    };
    let (path, pspan) = a.str_req("path", "a path such as \"/x.exe\"")?;
    if !path.starts_with('/') || path.contains(' ') {
        return Err(a.bad_text("path", &pspan, "an absolute path such as \"/x.exe\"", &path));
    }
    Ok(ActivitySpec::HttpDownload(HttpDownload {
        client: a.host_req("client")?,
        server,
        port: a.port("port", 80)?,
        path,
        host_header: a.string("host_header", &server.to_string())?,
        body: a.body(BodyKind::Html)?,
        size: a.uint("size", "a size in bytes up to 16 MiB", 16 << 20, 4096usize)?,
        chunked,
        user_agent: a.string(
            "user_agent",
            "Mozilla/4.0 (compatible; MSIE 6.0; Windows NT 5.1; SV1)",
        )?,
    }))
}

fn tls(a: &Tab<'_, '_>) -> R<ActivitySpec> {
    a.check_keys(&keys(&[
        "client",
        "server",
        "port",
        "sni",
        "version",
        "hello",
        "requests",
        "response_size",
    ]))?;
    Ok(ActivitySpec::TlsSession(TlsSession {
        client: a.host_req("client")?,
        server: a.host_req("server")?,
        port: a.port("port", 443)?,
        sni: a
            .str_req("sni", "a server name such as \"www.example.com\"")?
            .0,
        version: a.choice(
            "version",
            &[
                ("tls1.0", crate::payload::tls::TLS10),
                ("tls1.2", crate::payload::tls::TLS12),
            ],
            crate::payload::tls::TLS10,
        )?,
        hello: a.choice(
            "hello",
            &[
                ("tls", Hello::Tls),
                ("sslv2-compat", Hello::Sslv2Compat),
                ("pct", Hello::Pct),
            ],
            Hello::Tls,
        )?,
        requests: a.uint("requests", "a count up to 1000", 1000, 1u32)?,
        response_size: a.uint(
            "response_size",
            "a size in bytes up to 16 MiB",
            16 << 20,
            2048usize,
        )?,
    }))
}

fn dns_act(a: &Tab<'_, '_>) -> R<ActivitySpec> {
    a.check_keys(&keys(&[
        "client", "server", "name", "names", "qtype", "answer", "nxdomain",
    ]))?;
    let mut names: Vec<String> = lines(a, "names")?;
    if let Some((n, _)) = a.str_opt("name", "a domain name")? {
        names.insert(0, n);
    }
    if names.is_empty() {
        return Err(a.missing("name", "a domain name such as \"www.example.com\""));
    }
    for n in &names {
        if n.is_empty() || n.len() > 253 || n.split('.').any(|l| l.len() > 63) {
            return Err(a.bad_text(
                "name",
                &a.get("name").or_else(|| a.get("names")).and_then(|x| x.1),
                "a domain name of at most 253 bytes with labels of at most 63",
                n,
            ));
        }
    }
    Ok(ActivitySpec::Dns(Dns {
        client: a.host_req("client")?,
        server: a.host_req("server")?,
        names,
        qtype: a.choice(
            "qtype",
            &[
                ("A", dns::TYPE_A),
                ("AAAA", dns::TYPE_AAAA),
                ("MX", dns::TYPE_MX),
            ],
            dns::TYPE_A,
        )?,
        answer: a.host_opt("answer")?,
        nxdomain: a.bool_opt("nxdomain", false)?,
    }))
}

fn ssh(a: &Tab<'_, '_>) -> R<ActivitySpec> {
    a.check_keys(&keys(&[
        "client",
        "server",
        "port",
        "client_software",
        "server_software",
        "exchanges",
    ]))?;
    Ok(ActivitySpec::SshSession(SshSession {
        client: a.host_req("client")?,
        server: a.host_req("server")?,
        port: a.port("port", 22)?,
        client_software: a.string("client_software", "PuTTY_Release_0.54")?,
        server_software: a.string("server_software", "OpenSSH_3.8.1p1 Debian-8")?,
        exchanges: a.uint("exchanges", "a count up to 10000", 10_000, 6u32)?,
    }))
}

fn ftp(a: &Tab<'_, '_>) -> R<ActivitySpec> {
    a.check_keys(&keys(&[
        "client", "server", "port", "user", "pass", "file", "body", "size", "mode",
    ]))?;
    Ok(ActivitySpec::FtpSession(FtpSession {
        client: a.host_req("client")?,
        server: a.host_req("server")?,
        port: a.port("port", 21)?,
        user: a.string("user", "anonymous")?,
        pass: a.string("pass", "guest@")?,
        file: a.str_req("file", "a file name such as \"x.exe\"")?.0,
        body: a.body(BodyKind::Pe)?,
        size: a.uint("size", "a size in bytes up to 16 MiB", 16 << 20, 28672usize)?,
        passive: a.choice("mode", &[("passive", true), ("active", false)], true)?,
    }))
}

fn tftp(a: &Tab<'_, '_>) -> R<ActivitySpec> {
    a.check_keys(&keys(&["client", "server", "file", "body", "size"]))?;
    Ok(ActivitySpec::Tftp(Tftp {
        client: a.host_req("client")?,
        server: a.host_req("server")?,
        file: a.str_req("file", "a file name such as \"x.exe\"")?.0,
        body: a.body(BodyKind::Pe)?,
        size: a.uint("size", "a size in bytes up to 32 MiB", 32 << 20, 28672usize)?,
    }))
}

fn propagate(a: &Tab<'_, '_>) -> R<ActivitySpec> {
    a.check_keys(&keys(&[
        "from",
        "port",
        "vector",
        "pool",
        "generations",
        "fanout",
        "probes",
        "rate",
        "open_ratio",
        "delay",
        "egg",
    ]))?;
    let egg = match a.get("egg") {
        None => None,
        Some((Item::Value(Value::Boolean(b)), _)) => b.value().then_some((8080u16, 28672usize)),
        Some(_) => {
            let t = a.sub("egg")?;
            match t {
                None => None,
                Some(t) => {
                    t.check_keys(&["port", "size"])?;
                    Some((
                        t.port("port", 8080)?,
                        t.uint("size", "a size in bytes up to 16 MiB", 16 << 20, 28672usize)?,
                    ))
                }
            }
        }
    };
    let pool = a
        .addresses("pool")?
        .ok_or_else(|| a.missing("pool", "a CIDR block such as \"10.1.0.0/20\""))?;
    let generations = a.uint(
        "generations",
        "a number of generations between 1 and 8",
        8,
        0u32,
    )?;
    if generations == 0 {
        return Err(a.missing("generations", "a number of generations such as 3"));
    }
    Ok(ActivitySpec::Propagate(Propagate {
        from: a.host_req("from")?,
        port: a.port("port", 443)?,
        vector: a.choice(
            "vector",
            &[("pct-overflow", Vector::PctOverflow)],
            Vector::PctOverflow,
        )?,
        pool,
        generations,
        fanout: a
            .uint("fanout", "victims per host between 1 and 16", 16, 2u32)?
            .max(1),
        probes: a
            .uint(
                "probes",
                "probes per host between 1 and 65536",
                65536,
                256u32,
            )?
            .max(1),
        rate: rate(a, "rate", 20.0, "probes per second (a positive number)")?,
        open_ratio: ratio(a, "open_ratio", 0.02)?,
        delay: a.duration_opt("delay", Some(120_000_000_000))?.unwrap_or(0),
        egg,
    }))
}

fn bot_command(a: &Tab<'_, '_>) -> R<ActivitySpec> {
    a.check_keys(&keys(&[
        "controller",
        "channel",
        "operator",
        "text",
        "delay",
        "bots",
        "order",
        "targets",
        "ports",
        "rate",
        "open_ratio",
        "server",
        "port",
        "path",
        "size",
        "as_topic",
    ]))?;
    let is_scan = a
        .choice("order", &[("scan", true), ("download", false)], true)
        .and_then(|v| {
            if a.get("order").is_none() {
                Err(a.missing("order", "\"scan\" or \"download\""))
            } else {
                Ok(v)
            }
        })?;
    let order = if is_scan {
        BotOrder::Scan {
            targets: a
                .addresses("targets")?
                .ok_or_else(|| a.missing("targets", "a CIDR block such as \"10.2.0.0/24\""))?,
            ports: a.ports("ports")?.unwrap_or_else(|| vec![445]),
            rate: rate(a, "rate", 5.0, "probes per second (a positive number)")?,
            open_ratio: ratio(a, "open_ratio", 0.05)?,
        }
    } else {
        let (path, pspan) = a.str_req("path", "a path such as \"/x.exe\"")?;
        if !path.starts_with('/') || path.contains(' ') {
            return Err(a.bad_text("path", &pspan, "an absolute path such as \"/x.exe\"", &path));
        }
        BotOrder::Download {
            server: a.host_req("server")?,
            port: a.port("port", 80)?,
            path,
            size: a.uint("size", "a size in bytes up to 16 MiB", 16 << 20, 28672usize)?,
        }
    };
    Ok(ActivitySpec::BotCommand(BotCommand {
        controller: a.host_req("controller")?,
        channel: a.str_req("channel", "a channel name such as \"#bots\"")?.0,
        operator: a.string("operator", "h4x0r")?,
        text: a.str_opt("text", "a string")?.map(|x| x.0),
        delay: a.duration_opt("delay", Some(20_000_000_000))?.unwrap_or(0),
        bots: a.addresses("bots")?.unwrap_or_default(),
        order,
        as_topic: a.bool_opt("as_topic", false)?,
    }))
}

fn background(a: &Tab<'_, '_>) -> R<ActivitySpec> {
    a.check_keys(&keys(&[
        "until", "clients", "servers", "resolver", "rate", "mix", "quiet",
    ]))?;
    let (until, until_span) = a
        .time_opt("until")?
        .ok_or_else(|| a.missing("until", "a time such as \"+4h\""))?;
    if until.0.saturating_sub(a.ctx.start.0) > MAX_SPAN_NS {
        return Err(a.bad(
            "until",
            &until_span,
            "a time at most 30 days after the scenario start",
            "a later one",
        ));
    }
    let mix = match a.sub("mix")? {
        None => Mix {
            tls: 4,
            http: 3,
            dns: 4,
            ssh: 1,
            icmp: 1,
            udp: 1,
        },
        Some(t) => {
            t.check_keys(&["tls", "http", "dns", "ssh", "icmp", "udp"])?;
            let w = |k: &str| t.uint(k, "a weight between 0 and 1000", 1000, 0u32);
            Mix {
                tls: w("tls")?,
                http: w("http")?,
                dns: w("dns")?,
                ssh: w("ssh")?,
                icmp: w("icmp")?,
                udp: w("udp")?,
            }
        }
    };
    let mut quiet = Vec::new();
    match a.value("quiet", "a list of [\"from\", \"to\"] time pairs")? {
        None => {}
        Some((Value::Array(arr), _)) => {
            for v in arr.iter() {
                let pair: Option<Vec<Timestamp>> = v.as_array().and_then(|p| {
                    p.iter()
                        .map(|x| x.as_str().and_then(|s| parse_time(s, a.ctx.start)))
                        .collect()
                });
                match pair.as_deref() {
                    Some([f, t]) if f <= t => quiet.push((*f, *t)),
                    _ => {
                        return Err(a.bad(
                            "quiet",
                            &v.span(),
                            "a [\"from\", \"to\"] pair of times with from <= to",
                            type_name(v),
                        ));
                    }
                }
            }
        }
        Some((v, span)) => {
            return Err(a.bad(
                "quiet",
                &span,
                "a list of [\"from\", \"to\"] time pairs",
                type_name(v),
            ));
        }
    }
    Ok(ActivitySpec::Background(Background {
        until,
        clients: a.addresses("clients")?.ok_or_else(|| {
            a.missing(
                "clients",
                "a CIDR block such as \"10.1.2.0/26\" or a list of addresses",
            )
        })?,
        servers: a
            .addresses("servers")?
            .ok_or_else(|| a.missing("servers", "a list of addresses such as [\"192.0.2.10\"]"))?,
        resolver: a.host_opt("resolver")?,
        rate: a
            .float_opt(
                "rate",
                "flows per minute (a positive number up to 10000)",
                0.0001,
                10_000.0,
            )?
            .unwrap_or(2.0),
        mix,
        quiet,
    }))
}

/// Cross-activity checks: a listener needs an earlier successful exploit of
/// its host; a bot command needs open sessions to its controller; a
/// background ends after it starts.
fn validate_timeline(ctx: &Ctx<'_>, s: &Scenario, acts: &[(Activity, Span)]) -> R<()> {
    let name_of = |ip: Ipv4Addr| -> String {
        s.hosts
            .iter()
            .find(|h| h.ip == ip)
            .map_or_else(|| ip.to_string(), |h| format!("{} ({ip})", h.name))
    };
    for (i, (act, span)) in acts.iter().enumerate() {
        match &act.spec {
            ActivitySpec::Listener(l) => {
                let exploited = acts[..i].iter().any(|(p, _)| {
                    matches!(&p.spec, ActivitySpec::Exploit(e) if e.to == l.host && e.success)
                });
                if !exploited {
                    return Err(ctx.err(
                        span,
                        format!(
                            "impossible timeline: listener on {} at {} comes before any successful exploit of that host: expected an [[activity]] kind = \"exploit\" with to = \"{}\" earlier in the timeline",
                            name_of(l.host),
                            rfc3339(act.at),
                            s.hosts.iter().find(|h| h.ip == l.host).map_or_else(|| l.host.to_string(), |h| h.name.clone())
                        ),
                    ));
                }
            }
            ActivitySpec::Propagate(p) => {
                let exploited = acts[..i].iter().any(|(q, _)| {
                    matches!(&q.spec, ActivitySpec::Exploit(e) if e.to == p.from && e.success)
                });
                if !exploited {
                    return Err(ctx.err(
                        span,
                        format!(
                            "impossible timeline: propagate from {} at {} before that host was exploited: expected an [[activity]] kind = \"exploit\" with to = {} earlier in the timeline",
                            name_of(p.from),
                            rfc3339(act.at),
                            name_of(p.from)
                        ),
                    ));
                }
            }
            ActivitySpec::BotCommand(b) => {
                let open: Vec<Ipv4Addr> = acts[..i]
                    .iter()
                    .filter_map(|(q, _)| match &q.spec {
                        ActivitySpec::IrcSession(irc)
                            if irc.server == b.controller
                                && irc.channel == b.channel
                                && Timestamp(q.at.0.saturating_add(irc.duration)) > act.at =>
                        {
                            Some(irc.client)
                        }
                        _ => None,
                    })
                    .collect();
                if open.is_empty() {
                    return Err(ctx.err(
                        span,
                        format!(
                            "impossible timeline: bot_command at {} to {} {}: no irc_session to that controller and channel is open at that time: expected an earlier [[activity]] kind = \"irc_session\" with server = {} and channel = \"{}\" still open",
                            rfc3339(act.at),
                            name_of(b.controller),
                            b.channel,
                            name_of(b.controller),
                            b.channel
                        ),
                    ));
                }
                if let Some(bad) = b.bots.iter().find(|x| !open.contains(x)) {
                    return Err(ctx.err(
                        span,
                        format!(
                            "impossible timeline: bot {} has no irc_session open to {} {} at {}: expected the bot in the channel before it is commanded",
                            name_of(*bad),
                            name_of(b.controller),
                            b.channel,
                            rfc3339(act.at)
                        ),
                    ));
                }
            }
            ActivitySpec::Background(bg) if bg.until < act.at => {
                return Err(ctx.err(
                        span,
                        format!(
                            "impossible timeline: background until {} ends before it starts at {}: expected a later \"until\"",
                            rfc3339(bg.until),
                            rfc3339(act.at)
                        ),
                    ));
            }
            _ => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEAD: &str = "[scenario]\nname = \"t\"\nseed = 7\nstart = \"2004-04-20T09:00:00Z\"\nhome_net = [\"10.0.0.0/8\"]\n\n[[host]]\nname = \"a\"\nip = \"192.0.2.1\"\n\n[[host]]\nname = \"b\"\nip = \"10.0.0.2\"\n";

    #[test]
    fn defaults_ports_and_address_lists() {
        let text = format!(
            "{HEAD}\n[[activity]]\nkind = \"scan\"\nat = \"+1m\"\nfrom = \"a\"\ntargets = [\"10.0.1.0/30\", \"b\", \"10.0.9.9\"]\nports = [22, \"80-82\"]\n"
        );
        let s = parse_scenario("t.toml", &text).unwrap();
        assert_eq!(s.seed, 7);
        // OS defaults: windows inside home_net, linux outside.
        assert_eq!(s.hosts[0].os, Os::Linux);
        assert_eq!(s.hosts[1].os, Os::Windows);
        let ActivitySpec::Scan(scan) = &s.activities[0].spec else {
            panic!("not a scan")
        };
        assert_eq!(scan.targets.len(), 4 + 1 + 1);
        assert_eq!(scan.targets[4], "10.0.0.2".parse::<Ipv4Addr>().unwrap());
        assert_eq!(scan.ports, [22, 80, 81, 82]);
        assert_eq!(scan.tool, Tool::Plain);
        assert_eq!(scan.order, Order::Random);
        assert_eq!(s.activities[0].at.0 - s.start.0, 60_000_000_000);
    }

    #[test]
    fn address_lists_are_bounded() {
        let text = format!(
            "{HEAD}\n[[activity]]\nkind = \"scan\"\nat = \"+1m\"\nfrom = \"a\"\ntargets = \"10.0.0.0/8\"\nports = [22]\n"
        );
        let e = parse_scenario("t.toml", &text).unwrap_err().to_string();
        assert_eq!(
            e,
            "t.toml:19:11: bad value \"10.0.0.0/8\" for \"targets\" in [[activity]]: expected at most 65536 addresses in one list"
        );
    }
}
