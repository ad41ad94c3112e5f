//! Pure FTP parsing: command lines, reply lines, and the data-connection
//! announcements of PORT/EPRT (client) and PASV/EPSV (server) replies.

use crate::files::util::parse_u64;
use std::net::{IpAddr, Ipv4Addr};

/// A command line: verb (as sent) and argument (after one separating space).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Command<'a> {
    /// The verb.
    pub verb: &'a [u8],
    /// The argument, `None` when the line is the verb alone.
    pub arg: Option<&'a [u8]>,
}

/// Parses a command line (without its terminator).
pub fn parse_command(line: &[u8]) -> Command<'_> {
    match memchr::memchr(b' ', line) {
        Some(i) => Command {
            verb: &line[..i],
            arg: Some(&line[i + 1..]),
        },
        None => Command {
            verb: line,
            arg: None,
        },
    }
}

/// A reply line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReplyLine<'a> {
    /// The three-digit code, when the line starts with one.
    pub code: Option<u16>,
    /// The line continues a multi-line reply (`123-text`) or is a continuation
    /// line without code.
    pub continues: bool,
    /// Text after the code and its separator (the whole line without code).
    pub text: &'a [u8],
}

/// Parses a reply line (without its terminator).
pub fn parse_reply(line: &[u8]) -> ReplyLine<'_> {
    let code = line
        .get(..3)
        .filter(|c| c.iter().all(u8::is_ascii_digit))
        .and_then(parse_u64)
        .and_then(|n| u16::try_from(n).ok());
    match code {
        Some(c) => ReplyLine {
            code: Some(c),
            continues: line.get(3) == Some(&b'-'),
            text: line.get(4..).unwrap_or(&[]),
        },
        None => ReplyLine {
            code: None,
            continues: true,
            text: line,
        },
    }
}

/// Parses `h1,h2,h3,h4,p1,p2` (PORT argument, PASV reply body).
pub fn parse_host_port(s: &[u8]) -> Option<(Ipv4Addr, u16)> {
    let mut n = [0u8; 6];
    let mut it = s.split(|&c| c == b',');
    for v in n.iter_mut() {
        let part = crate::files::util::trim(it.next()?);
        *v = u8::try_from(parse_u64(part)?).ok()?;
    }
    if it.next().is_some() {
        return None;
    }
    Some((
        Ipv4Addr::new(n[0], n[1], n[2], n[3]),
        u16::from(n[4]) << 8 | u16::from(n[5]),
    ))
}

/// The address and port of a `227 Entering Passive Mode (h1,h2,h3,h4,p1,p2)`
/// reply text (the numbers may come without parentheses).
pub fn parse_pasv_reply(text: &[u8]) -> Option<(Ipv4Addr, u16)> {
    let start = text.iter().position(u8::is_ascii_digit)?;
    let rest = &text[start..];
    let end = rest
        .iter()
        .position(|&c| !(c.is_ascii_digit() || c == b',' || c == b' '))
        .unwrap_or(rest.len());
    parse_host_port(&rest[..end])
}

/// The port of a `229 Entering Extended Passive Mode (|||port|)` reply text.
pub fn parse_epsv_reply(text: &[u8]) -> Option<u16> {
    let open = memchr::memchr(b'(', text)?;
    let inner = &text[open + 1..];
    let close = memchr::memchr(b')', inner)?;
    let inner = &inner[..close];
    let d = *inner.first()?;
    let parts: Vec<&[u8]> = inner.split(|&c| c == d).collect();
    // "", "", "", "port", ""
    let port = parts.get(3)?;
    u16::try_from(parse_u64(port)?).ok()
}

/// The address and port of an EPRT argument `|proto|addr|port|`.
pub fn parse_eprt(arg: &[u8]) -> Option<(IpAddr, u16)> {
    let d = *arg.first()?;
    let parts: Vec<&[u8]> = arg.split(|&c| c == d).collect();
    let addr = std::str::from_utf8(parts.get(2)?)
        .ok()?
        .parse::<IpAddr>()
        .ok()?;
    let port = u16::try_from(parse_u64(parts.get(3)?)?).ok()?;
    Some((addr, port))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_and_replies() {
        assert_eq!(
            parse_command(b"RETR index.html"),
            Command {
                verb: b"RETR",
                arg: Some(b"index.html")
            }
        );
        assert_eq!(
            parse_command(b"PASV"),
            Command {
                verb: b"PASV",
                arg: None
            }
        );
        let r = parse_reply(b"227 Entering Passive Mode (2,2,2,2,185,13).");
        assert_eq!(r.code, Some(227));
        assert!(!r.continues);
        let r = parse_reply(b"220-Welcome");
        assert!(r.continues);
        assert_eq!(r.text, b"Welcome");
        let r = parse_reply(b" more text");
        assert_eq!(r.code, None);
        assert!(r.continues);
        assert_eq!(parse_reply(b"220").text, b"");
    }

    #[test]
    fn data_announcements() {
        assert_eq!(
            parse_pasv_reply(b"Entering Passive Mode (2,2,2,2,185,13)."),
            Some((Ipv4Addr::new(2, 2, 2, 2), 47373))
        );
        assert_eq!(
            parse_pasv_reply(b"Entering Passive Mode 10,0,0,1,4,1"),
            Some((Ipv4Addr::new(10, 0, 0, 1), 1025))
        );
        assert_eq!(
            parse_pasv_reply(b"Entering Passive Mode (2,2,2,300,1,1)"),
            None
        );
        assert_eq!(
            parse_epsv_reply(b"Entering Extended Passive Mode (|||58612|)"),
            Some(58612)
        );
        assert_eq!(parse_epsv_reply(b"Entering Extended Passive Mode"), None);
        assert_eq!(
            parse_host_port(b"192,168,0,13,234,10"),
            Some((Ipv4Addr::new(192, 168, 0, 13), 59914))
        );
        assert_eq!(parse_host_port(b"1,2,3"), None);
        assert_eq!(
            parse_eprt(b"|1|132.235.1.2|6275|"),
            Some(("132.235.1.2".parse().unwrap(), 6275))
        );
        assert_eq!(
            parse_eprt(b"|2|::1|80|"),
            Some(("::1".parse().unwrap(), 80))
        );
        assert_eq!(parse_eprt(b"|1|x|80|"), None);
    }
}
