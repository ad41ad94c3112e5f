//! Pure IRC parsers on borrowed input (RFC 1459 §2.3.1, RFC 2812 §2.3.1):
//! `[":" prefix SPACE] command *14(SPACE middle) [SPACE ":" trailing]`, after
//! optional IRCv3 message tags (`@time=...;msgid=... `).
//! Extra spaces between parts are tolerated (several servers and clients send
//! them); a line without a command is not a message.

use crate::api::ProbeResult;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use stormwatch_model::Direction;

/// Most parameters a message carries (14 middle + the trailing one).
pub const MAX_PARAMS: usize = 15;

/// One IRC message, borrowed from its line. Positions are kept as offsets so
/// the value stays small (lines are at most 65535 bytes; longer ones are read
/// up to that length).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IrcLine<'a> {
    line: &'a [u8],
    tags: Option<(u16, u16)>,
    prefix: Option<(u16, u16)>,
    command: (u16, u16),
    raw_params: u16,
    params: [(u16, u16); MAX_PARAMS],
    nparams: u8,
    /// The last parameter was a trailing (`:`) one.
    pub has_trailing: bool,
}

impl<'a> IrcLine<'a> {
    fn get(&self, r: (u16, u16)) -> &'a [u8] {
        self.line
            .get(usize::from(r.0)..usize::from(r.1))
            .unwrap_or(&[])
    }

    /// IRCv3 message tags without the `@` (`time=...;account=...`).
    pub fn tags(&self) -> Option<&'a [u8]> {
        self.tags.map(|r| self.get(r))
    }

    /// Prefix without the colon.
    pub fn prefix(&self) -> Option<&'a [u8]> {
        self.prefix.map(|r| self.get(r))
    }

    /// Command word or numeric, as sent.
    pub fn command(&self) -> &'a [u8] {
        self.get(self.command)
    }

    /// Everything after the command (leading spaces removed), as sent.
    pub fn raw_params(&self) -> &'a [u8] {
        self.line.get(usize::from(self.raw_params)..).unwrap_or(&[])
    }

    /// Number of parameters.
    pub fn nparams(&self) -> usize {
        usize::from(self.nparams).min(MAX_PARAMS)
    }

    /// The parameters; a trailing parameter is the last one, without its colon.
    pub fn params(&self) -> Vec<&'a [u8]> {
        self.params[..self.nparams()]
            .iter()
            .map(|r| self.get(*r))
            .collect()
    }

    /// Parameter `i`.
    pub fn param(&self, i: usize) -> Option<&'a [u8]> {
        if i < self.nparams() {
            self.params.get(i).map(|r| self.get(*r))
        } else {
            None
        }
    }

    /// The command is a three-digit numeric reply.
    pub fn is_numeric(&self) -> bool {
        let c = self.command();
        c.len() == 3 && c.iter().all(u8::is_ascii_digit)
    }

    /// The numeric value of a numeric reply.
    pub fn numeric(&self) -> Option<u16> {
        if !self.is_numeric() {
            return None;
        }
        Some(
            self.command()
                .iter()
                .fold(0u16, |a, d| a * 10 + u16::from(d - b'0')),
        )
    }

    /// The nick part of the prefix (`nick!user@host` → `nick`).
    pub fn prefix_nick(&self) -> Option<&'a [u8]> {
        let p = self.prefix()?;
        let end = p
            .iter()
            .position(|&c| c == b'!' || c == b'@')
            .unwrap_or(p.len());
        Some(&p[..end])
    }
}

/// Parses one line (without CR/LF). `None` when it holds no command.
pub fn parse_irc_line(line: &[u8]) -> Option<IrcLine<'_>> {
    let line = &line[..line.len().min(usize::from(u16::MAX))];
    let n = line.len();
    let mut i = 0usize;
    let skip = |mut i: usize| {
        while i < n && line[i] == b' ' {
            i += 1;
        }
        i
    };
    let word_end = |mut i: usize| {
        while i < n && line[i] != b' ' {
            i += 1;
        }
        i
    };
    // Offsets fit u16: the line was cut to u16::MAX bytes.
    let o = |x: usize| u16::try_from(x).unwrap_or(u16::MAX);
    i = skip(i);
    let mut tags = None;
    if i < n && line[i] == b'@' {
        let e = word_end(i + 1);
        tags = Some((o(i + 1), o(e)));
        i = skip(e);
    }
    let mut prefix = None;
    if i < n && line[i] == b':' {
        let e = word_end(i + 1);
        prefix = Some((o(i + 1), o(e)));
        i = skip(e);
    }
    let ce = word_end(i);
    if ce == i {
        return None;
    }
    let command = (o(i), o(ce));
    i = skip(ce);
    let raw_params = o(i);
    let mut params = [(0u16, 0u16); MAX_PARAMS];
    let mut np = 0usize;
    let mut has_trailing = false;
    while i < n && np < MAX_PARAMS {
        if line[i] == b':' {
            params[np] = (o(i + 1), o(n));
            np += 1;
            has_trailing = true;
            break;
        }
        if np == MAX_PARAMS - 1 {
            // RFC 2812: after 14 middle parameters the rest is the trailing one.
            params[np] = (o(i), o(n));
            np += 1;
            break;
        }
        let e = word_end(i);
        params[np] = (o(i), o(e));
        np += 1;
        i = skip(e);
    }
    Some(IrcLine {
        line,
        tags,
        prefix,
        command,
        raw_params,
        params,
        nparams: u8::try_from(np).unwrap_or(0),
        has_trailing,
    })
}

fn skip_spaces(i: &[u8]) -> &[u8] {
    let n = i.iter().take_while(|&&c| c == b' ').count();
    &i[n..]
}

fn word(i: &[u8]) -> (&[u8], &[u8]) {
    let n = i.iter().position(|&c| c == b' ').unwrap_or(i.len());
    (&i[..n], &i[n..])
}

/// A CTCP message inside a PRIVMSG/NOTICE text: `\x01VERB args\x01`.
pub fn parse_ctcp(text: &[u8]) -> Option<(&[u8], &[u8])> {
    let inner = text.strip_prefix(b"\x01")?;
    let inner = inner.strip_suffix(b"\x01").unwrap_or(inner);
    let (verb, rest) = word(inner);
    if verb.is_empty() {
        return None;
    }
    Some((verb, skip_spaces(rest)))
}

/// A DCC offer's fields, borrowed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DccOffer<'a> {
    /// `SEND`, `CHAT`, `RESUME`, ...
    pub kind: &'a [u8],
    /// File name (quotes removed) or `chat`.
    pub argument: &'a [u8],
    /// Address (32-bit decimal form, dotted IPv4 or IPv6 literal).
    pub addr: Option<IpAddr>,
    /// Port.
    pub port: u16,
    /// Size (SEND).
    pub size: Option<u64>,
}

fn parse_u64(s: &[u8]) -> Option<u64> {
    if s.is_empty() || s.len() > 20 || !s.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(s).ok()?.parse().ok()
}

fn parse_dcc_addr(s: &[u8]) -> Option<IpAddr> {
    if let Some(v) = parse_u64(s) {
        let v = u32::try_from(v).ok()?;
        return Some(IpAddr::V4(Ipv4Addr::from(v)));
    }
    let t = std::str::from_utf8(s).ok()?;
    if let Ok(a) = t.parse::<Ipv4Addr>() {
        return Some(IpAddr::V4(a));
    }
    t.parse::<Ipv6Addr>().ok().map(IpAddr::V6)
}

/// Parses the arguments of a `DCC` CTCP: `SEND file addr port [size]`,
/// `CHAT chat addr port`. The file name may be quoted and contain spaces.
pub fn parse_dcc(args: &[u8]) -> Option<DccOffer<'_>> {
    let (kind, rest) = word(skip_spaces(args));
    if kind.is_empty() {
        return None;
    }
    let rest = skip_spaces(rest);
    let (argument, rest) = if let Some(q) = rest.strip_prefix(b"\"") {
        let end = memchr::memchr(b'"', q)?;
        (&q[..end], &q[end + 1..])
    } else {
        word(rest)
    };
    let (addr, rest) = word(skip_spaces(rest));
    let (port, rest) = word(skip_spaces(rest));
    let (size, _) = word(skip_spaces(rest));
    let port = u16::try_from(parse_u64(port)?).ok()?;
    Some(DccOffer {
        kind,
        argument,
        addr: parse_dcc_addr(addr),
        port,
        size: parse_u64(size),
    })
}

/// Known IRC commands (RFC 1459/2812 and common extensions).
pub fn is_known_command(cmd: &[u8]) -> bool {
    const KNOWN: &[&[u8]] = &[
        b"ADMIN",
        b"AWAY",
        b"CAP",
        b"CONNECT",
        b"DIE",
        b"ERROR",
        b"INFO",
        b"INVITE",
        b"ISON",
        b"JOIN",
        b"KICK",
        b"KILL",
        b"LINKS",
        b"LIST",
        b"LUSERS",
        b"MODE",
        b"MOTD",
        b"NAMES",
        b"NICK",
        b"NOTICE",
        b"OPER",
        b"PART",
        b"PASS",
        b"PING",
        b"PONG",
        b"PRIVMSG",
        b"QUIT",
        b"REHASH",
        b"RESTART",
        b"SERVICE",
        b"SERVLIST",
        b"SQUERY",
        b"SQUIT",
        b"STARTTLS",
        b"STATS",
        b"SUMMON",
        b"TIME",
        b"TOPIC",
        b"TRACE",
        b"USER",
        b"USERHOST",
        b"USERS",
        b"VERSION",
        b"WALLOPS",
        b"WHO",
        b"WHOIS",
        b"WHOWAS",
        b"AUTHENTICATE",
        b"WATCH",
        b"SILENCE",
        b"KNOCK",
        b"PROTOCTL",
        b"MAP",
    ];
    KNOWN.iter().any(|k| k.eq_ignore_ascii_case(cmd))
}

fn valid_nick(n: &[u8]) -> bool {
    !n.is_empty()
        && n.len() <= 64
        && n.iter()
            .all(|&c| c.is_ascii_alphanumeric() || b"[]\\`_^{|}-".contains(&c))
}

fn is_channel(p: &[u8]) -> bool {
    matches!(p.first(), Some(b'#' | b'&' | b'+' | b'!')) && p.len() > 1
}

/// Verdict on one complete line. `Some(true)` IRC, `Some(false)` not, `None`
/// when the next line is needed (`PASS`).
fn judge_line(dir: Direction, line: &[u8], next: Option<&[u8]>) -> Option<bool> {
    if line.iter().any(|&c| {
        c == 0
            || (c < 0x20
                && c != b'\t'
                && c != 1
                && c != 2
                && c != 3
                && c != 0x0f
                && c != 0x16
                && c != 0x1f)
    }) {
        return Some(false);
    }
    let Some(m) = parse_irc_line(line) else {
        return Some(false);
    };
    let cmd = m.command();
    let np = m.nparams();
    match dir {
        Direction::ToServer => {
            if m.prefix().is_some() && !is_known_command(cmd) {
                return Some(false);
            }
            let up = |s: &[u8]| cmd.eq_ignore_ascii_case(s);
            Some(if up(b"NICK") {
                np >= 1 && m.param(0).is_some_and(valid_nick)
            } else if up(b"USER") {
                np >= 4
            } else if up(b"PASS") {
                match next {
                    None => return None,
                    Some(n) => parse_irc_line(n).is_some_and(|n| {
                        n.command().eq_ignore_ascii_case(b"NICK")
                            || n.command().eq_ignore_ascii_case(b"USER")
                            || n.command().eq_ignore_ascii_case(b"CAP")
                    }),
                }
            } else if up(b"CAP") {
                m.param(0).is_some_and(|p| {
                    [&b"LS"[..], b"REQ", b"END", b"LIST"]
                        .iter()
                        .any(|k| k.eq_ignore_ascii_case(p))
                })
            } else if up(b"JOIN") || up(b"PART") || up(b"TOPIC") {
                m.param(0)
                    .is_some_and(|p| p.split(|&c| c == b',').all(is_channel) || p == b"0")
            } else if up(b"PRIVMSG") || up(b"NOTICE") {
                np >= 2 && m.has_trailing
            } else if up(b"PING") || up(b"PONG") || up(b"MODE") || up(b"WHO") || up(b"WHOIS") {
                np >= 1
            } else {
                false
            })
        }
        Direction::ToClient => {
            if m.prefix().is_some() {
                Some(np >= 1 && (m.is_numeric() || is_known_command(cmd)))
            } else {
                let up = |s: &[u8]| cmd.eq_ignore_ascii_case(s);
                Some(
                    (up(b"NOTICE") && np >= 2) || ((up(b"PING") || up(b"ERROR")) && m.has_trailing),
                )
            }
        }
    }
}

/// The IRC probe (see [`super::probe`]).
pub fn probe_lines(dir: Direction, data: &[u8]) -> ProbeResult {
    // Cheap first-byte filter: IRC lines start with ':' or a letter (or a
    // midstream pickup, which we only accept on a later line).
    let mut rest = data;
    for attempt in 0..2 {
        let Some(i) = memchr::memchr(b'\n', rest) else {
            if attempt == 0 {
                let b = rest.first().copied().unwrap_or(b':');
                if rest.len() >= 512 || !(b == b':' || b.is_ascii_alphabetic() || b == b' ') {
                    return ProbeResult::NoMatch;
                }
                // A known command word may still arrive.
                return ProbeResult::NeedMore;
            }
            return if rest.len() >= 512 {
                ProbeResult::NoMatch
            } else {
                ProbeResult::NeedMore
            };
        };
        let line = rest[..i].strip_suffix(b"\r").unwrap_or(&rest[..i]);
        let after = &rest[i + 1..];
        let next = memchr::memchr(b'\n', after)
            .map(|j| after[..j].strip_suffix(b"\r").unwrap_or(&after[..j]));
        match judge_line(dir, line, next) {
            Some(true) => return ProbeResult::Match,
            None => return ProbeResult::NeedMore,
            Some(false) => {
                // Only a first line that looks like the tail of a line (a
                // midstream pickup) earns a look at the next one; a complete
                // command-like line or binary data decides.
                let looks_command = !line
                    .first()
                    .is_some_and(|c| c.is_ascii_lowercase() || *c == b' ' || *c >= 0xa0);
                if attempt == 0
                    && (looks_command || line.iter().any(|&c| c == 0 || (0x80..0xa0).contains(&c)))
                {
                    return ProbeResult::NoMatch;
                }
            }
        }
        rest = after;
    }
    ProbeResult::NoMatch
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ircv3_message_tags_come_before_the_prefix() {
        let m = parse_irc_line(
            b"@time=2025-07-28T20:48:30.026Z;msgid=x :ircd1.local CAP * ACK :multi-prefix",
        )
        .unwrap();
        assert_eq!(
            m.tags(),
            Some(&b"time=2025-07-28T20:48:30.026Z;msgid=x"[..])
        );
        assert_eq!(m.prefix(), Some(&b"ircd1.local"[..]));
        assert_eq!(m.command(), b"CAP");
        assert_eq!(m.params(), vec![&b"*"[..], b"ACK", b"multi-prefix"]);
        assert_eq!(parse_irc_line(b"PING :x").unwrap().tags(), None);
        assert!(parse_irc_line(b"@tags-only").is_none());
    }

    #[test]
    fn grammar() {
        let m = parse_irc_line(b":nick!u@h PRIVMSG #chan :hello there").unwrap();
        assert_eq!(m.prefix(), Some(&b"nick!u@h"[..]));
        assert_eq!(m.prefix_nick(), Some(&b"nick"[..]));
        assert_eq!(m.command(), b"PRIVMSG");
        assert_eq!(m.params(), &[&b"#chan"[..], &b"hello there"[..]]);
        assert!(m.has_trailing);
        assert_eq!(m.raw_params(), b"#chan :hello there");

        let m = parse_irc_line(b"USER  brotest  *  *   :real name").unwrap();
        assert_eq!(m.command(), b"USER");
        assert_eq!(m.params().len(), 4);
        assert_eq!(m.param(3), Some(&b"real name"[..]));

        let m = parse_irc_line(b":srv 332 me #c :topic text").unwrap();
        assert_eq!(m.numeric(), Some(332));
        assert!(parse_irc_line(b"").is_none());
        assert!(parse_irc_line(b":onlyprefix").is_none());
        assert!(parse_irc_line(b"   ").is_none());
    }

    #[test]
    fn fifteen_params_max() {
        let line = b"CMD 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17";
        let m = parse_irc_line(line).unwrap();
        assert_eq!(m.params().len(), MAX_PARAMS);
        assert_eq!(m.param(14), Some(&b"15 16 17"[..]));
    }

    #[test]
    fn dcc() {
        let d = parse_dcc(b"SEND ssh.trace 167772167 59130 1320211").unwrap();
        assert_eq!(d.kind, b"SEND");
        assert_eq!(d.argument, b"ssh.trace");
        assert_eq!(d.addr, Some(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 7))));
        assert_eq!(d.port, 59130);
        assert_eq!(d.size, Some(1_320_211));
        let d = parse_dcc(b"SEND \"my file.exe\" 10.0.0.1 5000").unwrap();
        assert_eq!(d.argument, b"my file.exe");
        assert_eq!(d.size, None);
        let d = parse_dcc(b"CHAT chat 3232235777 4000").unwrap();
        assert_eq!(d.addr, Some(IpAddr::V4(Ipv4Addr::new(192, 168, 1, 1))));
        assert!(parse_dcc(b"SEND x y notaport").is_none());
        let (v, a) = parse_ctcp(b"\x01DCC SEND a 1 2 3\x01").unwrap();
        assert_eq!(v, b"DCC");
        assert_eq!(a, b"SEND a 1 2 3");
    }

    #[test]
    fn probes() {
        use Direction::*;
        let m = ProbeResult::Match;
        assert_eq!(probe_lines(ToServer, b"NICK xX123\r\nUSER a b c :d\r\n"), m);
        assert_eq!(probe_lines(ToServer, b"USER a b c :d\r\n"), m);
        assert_eq!(probe_lines(ToServer, b"PASS secret\r\nNICK bob\r\n"), m);
        assert_eq!(
            probe_lines(ToServer, b"PASS secret\r\n"),
            ProbeResult::NeedMore
        );
        assert_eq!(
            probe_lines(ToServer, b"PASS secret\r\nRETR 1\r\n"),
            ProbeResult::NoMatch
        );
        assert_eq!(probe_lines(ToServer, b"NICK"), ProbeResult::NeedMore);
        assert_eq!(
            probe_lines(
                ToClient,
                b":irc.example.net NOTICE AUTH :*** Looking up\r\n"
            ),
            m
        );
        assert_eq!(probe_lines(ToClient, b"NOTICE AUTH :*** Looking up\r\n"), m);
        assert_eq!(probe_lines(ToClient, b":srv 001 me :Welcome\r\n"), m);
        // Midstream: starts inside a line.
        assert_eq!(
            probe_lines(ToClient, b"lo there\r\n:n!u@h PRIVMSG #c :x\r\n"),
            m
        );
        // Not IRC.
        let no = ProbeResult::NoMatch;
        assert_eq!(probe_lines(ToServer, b"GET / HTTP/1.1\r\nHost: x\r\n"), no);
        assert_eq!(probe_lines(ToServer, b"USER anonymous\r\n"), no);
        assert_eq!(probe_lines(ToServer, b"QUIT\r\n"), no);
        assert_eq!(probe_lines(ToClient, b"220 ProFTPD ready\r\n"), no);
        assert_eq!(probe_lines(ToClient, b"+OK POP3\r\n"), no);
        assert_eq!(probe_lines(ToServer, b"\x16\x03\x01\x00\x05"), no);
        assert_eq!(probe_lines(ToClient, b"SSH-2.0-OpenSSH\r\n"), no);
    }
}
