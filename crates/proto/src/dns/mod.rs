//! DNS over UDP ([`DnsUdpParser`]) and TCP ([`DnsTcpParser`], 2-byte length
//! framing, resynchronising after gaps): every message is one transaction, as in
//! Suricata 8+, logged as an EVE `dns` record in the version 3 layout (or
//! version 2 when configured), with the `requests`/`responses` switches, the
//! `types` filter and the `detailed`/`grouped` answer formats.
//!
//! ```
//! use stormwatch_model::Direction;
//! use stormwatch_proto::api::ProbeResult;
//! use stormwatch_proto::dns;
//! // A query for "a." type A.
//! let q = [0x12, 0x34, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 1, b'a', 0, 0, 1, 0, 1];
//! assert_eq!(dns::probe(Direction::ToServer, &q), ProbeResult::Match);
//! assert_eq!(dns::probe(Direction::ToServer, b"GET / HTTP/1.0\r\n"), ProbeResult::NoMatch);
//! assert_eq!(dns::rrtype_name(28), "AAAA");
//! ```

pub mod logger;
pub mod parser;
mod state;

pub use state::{DnsTcpParser, DnsTx, DnsUdpParser};

use crate::api::ProbeResult;
use std::borrow::Cow;
use stormwatch_model::Direction;

/// DNS parser and logger settings (Suricata's `eve-log.types.dns` options).
#[derive(Clone, Debug)]
pub struct DnsConfig {
    /// EVE layout version: 3 (default) or 2.
    pub version: u8,
    /// Log requests (default true).
    pub requests: bool,
    /// Log responses (default true).
    pub responses: bool,
    /// Only log messages whose questions include one of these record types
    /// (`types: [mx]`); `None` logs all (default).
    pub types: Option<Vec<u16>>,
    /// `detailed` answer format: an `answers` array (default true).
    pub detailed: bool,
    /// `grouped` answer format: a `grouped` object keyed by type (default true).
    pub grouped: bool,
    /// Parse DNS over UDP (`app-layer.protocols.dns.udp.enabled`, default true);
    /// read by the framework when it picks parsers.
    pub udp_enabled: bool,
    /// Parse DNS over TCP (`app-layer.protocols.dns.tcp.enabled`, default true).
    pub tcp_enabled: bool,
}

impl Default for DnsConfig {
    fn default() -> Self {
        DnsConfig {
            version: 3,
            requests: true,
            responses: true,
            types: None,
            detailed: true,
            grouped: true,
            udp_enabled: true,
            tcp_enabled: true,
        }
    }
}

/// (number, name) of the record types Suricata names; others print as numbers.
const RRTYPES: &[(u16, &str)] = &[
    (1, "A"),
    (2, "NS"),
    (3, "MD"),
    (4, "MF"),
    (5, "CNAME"),
    (6, "SOA"),
    (7, "MB"),
    (8, "MG"),
    (9, "MR"),
    (10, "NULL"),
    (11, "WKS"),
    (12, "PTR"),
    (13, "HINFO"),
    (14, "MINFO"),
    (15, "MX"),
    (16, "TXT"),
    (17, "RP"),
    (18, "AFSDB"),
    (19, "X25"),
    (20, "ISDN"),
    (21, "RT"),
    (22, "NSAP"),
    (23, "NSAPPTR"),
    (24, "SIG"),
    (25, "KEY"),
    (26, "PX"),
    (27, "GPOS"),
    (28, "AAAA"),
    (29, "LOC"),
    (30, "NXT"),
    (33, "SRV"),
    (34, "ATMA"),
    (35, "NAPTR"),
    (36, "KX"),
    (37, "CERT"),
    (38, "A6"),
    (39, "DNAME"),
    (41, "OPT"),
    (42, "APL"),
    (43, "DS"),
    (44, "SSHFP"),
    (45, "IPSECKEY"),
    (46, "RRSIG"),
    (47, "NSEC"),
    (48, "DNSKEY"),
    (49, "DHCID"),
    (50, "NSEC3"),
    (51, "NSEC3PARAM"),
    (52, "TLSA"),
    (55, "HIP"),
    (59, "CDS"),
    (60, "CDNSKEY"),
    (65, "HTTPS"),
    (99, "SPF"),
    (249, "TKEY"),
    (250, "TSIG"),
    (254, "MAILA"),
    (255, "ANY"),
    (256, "URI"),
];

/// The EVE name of a record type (`A`, `AAAA`, ..., or the number).
pub fn rrtype_name(t: u16) -> Cow<'static, str> {
    match RRTYPES.iter().find(|(n, _)| *n == t) {
        Some((_, s)) => Cow::Borrowed(s),
        None => Cow::Owned(t.to_string()),
    }
}

/// A record type by name (case-insensitive), as in the `types` setting.
pub fn rrtype_from_name(name: &str) -> Option<u16> {
    RRTYPES
        .iter()
        .find(|(_, s)| s.eq_ignore_ascii_case(name))
        .map(|(n, _)| *n)
}

/// The EVE name of a response code (`NOERROR`, `NXDOMAIN`, ..., or the number).
pub fn rcode_name(rcode: u8) -> Cow<'static, str> {
    const NAMES: [&str; 11] = [
        "NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP", "REFUSED", "YXDOMAIN", "YXRRSET",
        "NXRRSET", "NOTAUTH", "NOTZONE",
    ];
    match NAMES.get(usize::from(rcode)) {
        Some(s) => Cow::Borrowed(s),
        None => Cow::Owned(rcode.to_string()),
    }
}

/// True when a parsed message looks like DNS for the probes: a known opcode,
/// and at least one question unless it is a response.
fn plausible(m: &parser::Message) -> bool {
    m.header.opcode() <= 6 && (!m.queries.is_empty() || m.header.is_response())
}

/// Probe for DNS over UDP: the datagram parses as a whole DNS message.
/// Direction is not required to match the QR bit (one-sided and reversed flows
/// exist); the parser follows the QR bit.
pub fn probe(_dir: Direction, data: &[u8]) -> ProbeResult {
    // What `plausible` rejects is decided by the header alone (queries are
    // present exactly when the header counts some): most datagrams of other
    // protocols end here, without a parse of the whole message.
    match parser::parse_header(data) {
        Ok((_, h)) if h.opcode() <= 6 && (h.qdcount > 0 || h.is_response()) => {}
        _ => return ProbeResult::NoMatch,
    }
    match parser::parse_message(data) {
        Ok((_, m)) if plausible(&m) => ProbeResult::Match,
        _ => ProbeResult::NoMatch,
    }
}

/// Probe for DNS over TCP: a 2-byte length, then a message that parses.
pub fn probe_tcp(_dir: Direction, data: &[u8]) -> ProbeResult {
    let Some(len) = data
        .get(..2)
        .map(|l| usize::from(u16::from_be_bytes([l[0], l[1]])))
    else {
        return ProbeResult::NeedMore;
    };
    if len < 12 {
        return ProbeResult::NoMatch;
    }
    match data.get(2..2 + len) {
        Some(msg) => match parser::parse_message(msg) {
            Ok((_, m)) if plausible(&m) => ProbeResult::Match,
            _ => ProbeResult::NoMatch,
        },
        None => {
            // Judge the header while the rest is coming.
            match data.get(2..14).map(parser::parse_header) {
                Some(Ok((_, h))) if h.opcode() <= 6 && h.qdcount < 64 => ProbeResult::NeedMore,
                Some(_) => ProbeResult::NoMatch,
                None => ProbeResult::NeedMore,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(rrtype_name(1), "A");
        assert_eq!(rrtype_name(33), "SRV");
        assert_eq!(rrtype_name(64000), "64000");
        assert_eq!(rrtype_from_name("mx"), Some(15));
        assert_eq!(rrtype_from_name("nope"), None);
        assert_eq!(rcode_name(3), "NXDOMAIN");
        assert_eq!(rcode_name(12), "12");
    }

    /// The UDP probe's header test changes no verdict: on mutations of a
    /// query, a response and an NTP datagram (every byte of the first 16 set
    /// to every value, and cuts), it answers as a full parse judged by
    /// `plausible` does.
    #[test]
    fn udp_probe_header_test_agrees_with_full_parse() {
        let full = |d: &[u8]| match parser::parse_message(d) {
            Ok((_, m)) if plausible(&m) => ProbeResult::Match,
            _ => ProbeResult::NoMatch,
        };
        let query = vec![
            0x12, 0x34, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 1, b'a', 0, 0, 1, 0, 1,
        ];
        let response = crate::files::util::unhex(parser::tests::DIG_RESPONSE);
        let mut ntp = vec![0x23, 0, 6, 0x20];
        ntp.resize(48, 0);
        assert_eq!(probe(Direction::ToServer, &query), ProbeResult::Match);
        assert_eq!(probe(Direction::ToClient, &response), ProbeResult::Match);
        assert_eq!(probe(Direction::ToServer, &ntp), ProbeResult::NoMatch);
        let mut matched = 0;
        for base in [query, response, ntp] {
            for n in 0..=base.len() {
                assert_eq!(probe(Direction::ToServer, &base[..n]), full(&base[..n]));
            }
            for pos in 0..16.min(base.len()) {
                let mut m = base.clone();
                for v in 0..=255u8 {
                    m[pos] = v;
                    let p = probe(Direction::ToServer, &m);
                    assert_eq!(p, full(&m), "{m:02x?}");
                    matched += usize::from(p == ProbeResult::Match);
                }
            }
        }
        assert!(matched > 1000, "{matched}");
    }

    #[test]
    fn tcp_probe() {
        let q = [
            0x12, 0x34, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 1, b'a', 0, 0, 1, 0, 1,
        ];
        let mut framed = vec![0, q.len() as u8];
        framed.extend_from_slice(&q);
        assert_eq!(probe_tcp(Direction::ToServer, &framed), ProbeResult::Match);
        assert_eq!(
            probe_tcp(Direction::ToServer, &framed[..1]),
            ProbeResult::NeedMore
        );
        assert_eq!(
            probe_tcp(Direction::ToServer, &framed[..10]),
            ProbeResult::NeedMore
        );
        assert_eq!(
            probe_tcp(Direction::ToServer, b"GET / HTTP/1.1\r\n"),
            ProbeResult::NoMatch
        );
        assert_eq!(
            probe_tcp(Direction::ToServer, &[0, 5, 1, 2, 3]),
            ProbeResult::NoMatch
        );
    }
}
