//! ICMPv4 and ICMPv6: type/code validation, echo id/seq, and the packet an
//! error message quotes.

use crate::decode::Dec;
use crate::decoded::*;
use crate::ip::{v6_addrs, walk_ext};
use std::net::{IpAddr, Ipv4Addr};

/// The quoted packet's (proto, src, dst, src_port, dst_port).
type Quoted = (u8, IpAddr, IpAddr, u16, u16);

/// Ports of a quoted TCP/UDP header (0, 0 for other protocols); `None` when a
/// TCP/UDP header lacks its first four bytes.
fn quoted_ports(proto: u8, l4: &[u8], later_fragment: bool) -> Option<(u16, u16)> {
    if !matches!(proto, 6 | 17) || later_fragment {
        return Some((0, 0));
    }
    let p = l4.first_chunk::<4>()?;
    Some((
        u16::from_be_bytes([p[0], p[1]]),
        u16::from_be_bytes([p[2], p[3]]),
    ))
}

/// The IPv4 packet quoted by an ICMPv4 error.
fn quoted_v4(data: &[u8]) -> Result<Quoted, DecodeAnomaly> {
    if data.first().is_some_and(|b| b >> 4 != 4) {
        return Err(DecodeAnomaly::Icmpv4Ipv4UnknownVer);
    }
    let h = data
        .first_chunk::<20>()
        .ok_or(DecodeAnomaly::Icmpv4Ipv4TruncPkt)?;
    let hlen = usize::from(h[0] & 0x0f) * 4;
    if hlen < 20 {
        return Err(DecodeAnomaly::Icmpv4Ipv4TruncPkt);
    }
    let l4 = data.get(hlen..).ok_or(DecodeAnomaly::Icmpv4Ipv4TruncPkt)?;
    let later_fragment = u16::from_be_bytes([h[6], h[7]]) & 0x1fff != 0;
    let (sp, dp) =
        quoted_ports(h[9], l4, later_fragment).ok_or(DecodeAnomaly::Icmpv4Ipv4TruncPkt)?;
    Ok((
        h[9],
        IpAddr::V4(Ipv4Addr::new(h[12], h[13], h[14], h[15])),
        IpAddr::V4(Ipv4Addr::new(h[16], h[17], h[18], h[19])),
        sp,
        dp,
    ))
}

/// The IPv6 packet quoted by an ICMPv6 error.
fn quoted_v6(data: &[u8]) -> Result<Quoted, DecodeAnomaly> {
    if data.first().is_some_and(|b| b >> 4 != 6) {
        return Err(DecodeAnomaly::Icmpv6Ipv6UnknownVer);
    }
    let (h, rest) = data
        .split_first_chunk::<40>()
        .ok_or(DecodeAnomaly::Icmpv6Ipv6TruncPkt)?;
    let w = walk_ext(None, h[6], rest);
    let later_fragment = w.frag.is_some_and(|(f, _)| f.offset != 0);
    let l4 = rest.get(w.len..).unwrap_or_default();
    let (sp, dp) =
        quoted_ports(w.proto, l4, later_fragment).ok_or(DecodeAnomaly::Icmpv6Ipv6TruncPkt)?;
    let (src, dst) = v6_addrs(h);
    Ok((w.proto, IpAddr::V6(src), IpAddr::V6(dst), sp, dp))
}

/// Records a problem with the quoted packet; a quote cut by the snaplen is a
/// capture cut.
fn quoted_anomaly(dec: &mut Dec<'_, '_>, a: DecodeAnomaly) {
    if matches!(
        a,
        DecodeAnomaly::Icmpv4Ipv4TruncPkt | DecodeAnomaly::Icmpv6Ipv6TruncPkt
    ) {
        dec.too_small(a);
    } else {
        dec.anomaly(a);
    }
}

/// An ICMPv4 message.
pub(crate) fn icmpv4<'a>(dec: &mut Dec<'a, '_>, data: &'a [u8]) {
    let Some((h, body)) = data.split_first_chunk::<8>() else {
        dec.too_small(DecodeAnomaly::Icmpv4PktTooSmall);
        return;
    };
    let (t, code) = (h[0], h[1]);
    let (known, max_code) = match t {
        // echo reply/request, timestamp, information, address mask
        0 | 8 | 13..=18 => (true, 0),
        3 => (true, 15),
        4 => (true, 0),
        5 => (true, 3),
        9 => (true, 16),
        10 => (true, 0),
        11 => (true, 1),
        12 => (true, 2),
        // traceroute, extended echo (RFC 8335)
        30 | 42 => (true, 0),
        43 => (true, 4),
        _ => (false, u8::MAX),
    };
    let code_ok = known && code <= max_code;
    if !known {
        dec.anomaly(DecodeAnomaly::Icmpv4UnknownType);
    } else if !code_ok {
        dec.anomaly(DecodeAnomaly::Icmpv4UnknownCode);
    }
    let echo_like = matches!(t, 0 | 8 | 13..=18);
    // An error message with an unknown code is not read further (Suricata does
    // not decode the quoted packet then either).
    let quoted = if code_ok && matches!(t, 3 | 4 | 5 | 11 | 12) {
        match quoted_v4(body) {
            Ok(q) => Some(q),
            Err(a) => {
                quoted_anomaly(dec, a);
                None
            }
        }
    } else {
        None
    };
    dec.d.l4 = L4::Icmp(IcmpInfo {
        icmp_type: t,
        code,
        id: echo_like.then(|| u16::from_be_bytes([h[4], h[5]])),
        seq: echo_like.then(|| u16::from_be_bytes([h[6], h[7]])),
        v6: false,
        quoted,
    });
    dec.d.payload = body;
}

/// An ICMPv6 message.
pub(crate) fn icmpv6<'a>(dec: &mut Dec<'a, '_>, data: &'a [u8]) {
    let Some((h, body)) = data.split_first_chunk::<8>() else {
        dec.too_small(DecodeAnomaly::Icmpv6PktTooSmall);
        return;
    };
    let (t, code) = (h[0], h[1]);
    let (known, max_code) = match t {
        1 => (true, 8),
        2 => (true, 0),
        3 => (true, 1),
        4 => (true, 3),
        128 | 129 => (true, 0),
        100 | 101 | 127 | 130..=161 | 200 | 201 | 255 => (true, u8::MAX),
        _ => (false, u8::MAX),
    };
    let code_ok = known && code <= max_code;
    if !known {
        dec.anomaly(DecodeAnomaly::Icmpv6UnknownType);
    } else if !code_ok {
        dec.anomaly(DecodeAnomaly::Icmpv6UnknownCode);
    }
    let echo = matches!(t, 128 | 129);
    let quoted = if code_ok && (1..=4).contains(&t) {
        match quoted_v6(body) {
            Ok(q) => Some(q),
            Err(a) => {
                quoted_anomaly(dec, a);
                None
            }
        }
    } else {
        None
    };
    dec.d.l4 = L4::Icmp(IcmpInfo {
        icmp_type: t,
        code,
        id: echo.then(|| u16::from_be_bytes([h[4], h[5]])),
        seq: echo.then(|| u16::from_be_bytes([h[6], h[7]])),
        v6: true,
        quoted,
    });
    dec.d.payload = body;
}

#[cfg(test)]
mod tests {
    use crate::testutil::*;
    use crate::*;
    use std::net::IpAddr;

    fn icmp(d: &Decoded<'_>) -> IcmpInfo {
        match d.l4 {
            L4::Icmp(i) => i,
            other => panic!("not ICMP: {other:?}"),
        }
    }

    #[test]
    fn echo_v4() {
        let p = ipv4(1, &icmp4(8, 0, [0x12, 0x34, 0, 7], b"ping"));
        let d = decode_ip(&p);
        let i = icmp(&d);
        assert_eq!(
            (i.icmp_type, i.code, i.id, i.seq, i.v6),
            (8, 0, Some(0x1234), Some(7), false)
        );
        assert_eq!(i.quoted, None);
        assert_eq!(d.payload, b"ping");
        assert_eq!(icmp_checksum_ok(&d), Some(true));
        assert!(d.anomalies.is_empty());
    }

    #[test]
    fn unreachable_v4_quotes_tcp() {
        let inner = ipv4(6, &tcp(40000, 443, 2, &[], b"", P4));
        let p = ipv4(1, &icmp4(3, 3, [0; 4], &inner[..28]));
        let d = decode_ip(&p);
        let i = icmp(&d);
        assert_eq!(i.id, None);
        assert_eq!(
            i.quoted,
            Some((6, IpAddr::V4(A4), IpAddr::V4(B4), 40000, 443))
        );
        assert!(d.anomalies.is_empty());
        // Quoted header cut short / not IPv4.
        let p = ipv4(1, &icmp4(11, 0, [0; 4], &inner[..16]));
        let d = decode_ip(&p);
        assert_eq!(icmp(&d).quoted, None);
        assert!(d.anomalies.contains(DecodeAnomaly::Icmpv4Ipv4TruncPkt));
        let p = ipv4(1, &icmp4(3, 1, [0; 4], &inner[..22]));
        assert!(
            decode_ip(&p)
                .anomalies
                .contains(DecodeAnomaly::Icmpv4Ipv4TruncPkt)
        );
        let v6 = ipv6(17, &udp(1, 2, b"", P6));
        let p = ipv4(1, &icmp4(3, 1, [0; 4], &v6));
        assert!(
            decode_ip(&p)
                .anomalies
                .contains(DecodeAnomaly::Icmpv4Ipv4UnknownVer)
        );
    }

    #[test]
    fn unknown_v4_type_and_code() {
        let p = ipv4(1, &icmp4(99, 0, [0; 4], b""));
        assert!(
            decode_ip(&p)
                .anomalies
                .contains(DecodeAnomaly::Icmpv4UnknownType)
        );
        // An unknown code is the only anomaly: the quote of an error message
        // with an unknown code is not read (one anomaly per packet, as Suricata).
        let p = ipv4(1, &icmp4(3, 16, [0; 4], b""));
        let d = decode_ip(&p);
        assert_eq!(
            d.anomalies.iter().collect::<Vec<_>>(),
            vec![DecodeAnomaly::Icmpv4UnknownCode]
        );
        assert_eq!(icmp(&d).quoted, None);
        let p = ipv4(1, &icmp4(5, 213, [0; 4], &[0x7f; 28]));
        assert_eq!(
            decode_ip(&p).anomalies.iter().collect::<Vec<_>>(),
            vec![DecodeAnomaly::Icmpv4UnknownCode]
        );
        let p = ipv4(1, &[8, 0, 0]);
        assert_eq!(
            anoms(LinkType::RAW, &p),
            vec![DecodeAnomaly::Icmpv4PktTooSmall]
        );
    }

    #[test]
    fn echo_v6() {
        let p = ipv6(58, &icmp6(128, 0, [0, 9, 0, 1], b"abc"));
        let d = decode_ip(&p);
        let i = icmp(&d);
        assert_eq!(
            (i.icmp_type, i.id, i.seq, i.v6),
            (128, Some(9), Some(1), true)
        );
        assert_eq!(icmp_checksum_ok(&d), Some(true));
        assert!(d.anomalies.is_empty());
    }

    #[test]
    fn unreachable_v6_quotes_udp_behind_ext_header() {
        let mut inner_body = ext(17, &[]);
        inner_body.extend(udp(5353, 53, b"q", P6));
        let inner = ipv6(60, &inner_body);
        let p = ipv6(58, &icmp6(1, 4, [0; 4], &inner));
        let d = decode_ip(&p);
        assert_eq!(
            icmp(&d).quoted,
            Some((17, IpAddr::V6(A6), IpAddr::V6(B6), 5353, 53))
        );
        assert_eq!(icmp_checksum_ok(&d), Some(true));
        let p = ipv6(58, &icmp6(1, 4, [0; 4], &inner[..30]));
        assert!(
            decode_ip(&p)
                .anomalies
                .contains(DecodeAnomaly::Icmpv6Ipv6TruncPkt)
        );
        let v4 = ipv4(17, &udp(1, 2, b"", P4));
        let p = ipv6(58, &icmp6(1, 4, [0; 4], &v4));
        assert!(
            decode_ip(&p)
                .anomalies
                .contains(DecodeAnomaly::Icmpv6Ipv6UnknownVer)
        );
    }

    #[test]
    fn unknown_v6_type_and_code_and_cross_versions() {
        let p = ipv6(58, &icmp6(77, 0, [0; 4], b""));
        assert!(
            decode_ip(&p)
                .anomalies
                .contains(DecodeAnomaly::Icmpv6UnknownType)
        );
        let p = ipv6(58, &icmp6(3, 2, [0; 4], b""));
        assert!(
            decode_ip(&p)
                .anomalies
                .contains(DecodeAnomaly::Icmpv6UnknownCode)
        );
        let p = ipv6(1, &icmp4(8, 0, [0; 4], b""));
        let d = decode_ip(&p);
        assert!(d.anomalies.contains(DecodeAnomaly::Ipv6WithIcmpv4));
        assert_eq!(d.l4, L4::Other(1));
        let p = ipv4(58, &icmp6(128, 0, [0; 4], b""));
        assert!(
            decode_ip(&p)
                .anomalies
                .contains(DecodeAnomaly::Ipv4WithIcmpv6)
        );
    }
}
