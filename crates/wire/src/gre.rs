//! GRE (RFC 2784/2890 version 0, RFC 2637 version 1 "enhanced GRE" of PPTP)
//! and the PPP header GRE v1 carries.

use crate::decode::Dec;
use crate::decoded::*;
use crate::ip;
use crate::link::{self, ethertype};

/// GRE flag bits (first 16 bits of the header).
mod flag {
    pub const CHECKSUM: u16 = 0x8000;
    pub const ROUTING: u16 = 0x4000;
    pub const KEY: u16 = 0x2000;
    pub const SEQUENCE: u16 = 0x1000;
    pub const STRICT_ROUTE: u16 = 0x0800;
    pub const RECUR: u16 = 0x0700;
    pub const ACK: u16 = 0x0080;
    pub const V0_RESERVED: u16 = 0x00f8;
    pub const V1_RESERVED: u16 = 0x0078;
    pub const VERSION: u16 = 0x0007;
}

/// Walks GRE v0 source route entries starting at `data`; returns their length
/// including the terminating null entry, or `None` when malformed or cut.
fn sre_len(data: &[u8]) -> Option<usize> {
    let mut off = 0usize;
    // Each entry is at least 4 bytes; a bounded number of them fits in a packet.
    for _ in 0..=data.len() / 4 {
        let e = data.get(off..)?.first_chunk::<4>()?;
        let af = u16::from_be_bytes([e[0], e[1]]);
        let len = usize::from(e[3]);
        off += 4;
        if af == 0 && len == 0 {
            return Some(off);
        }
        data.get(off..off + len)?;
        off += len;
    }
    None
}

/// A GRE packet (`data` = the IP payload). The caller already set
/// `L4::Other(47)`; a decodable inner packet replaces the layers.
pub(crate) fn gre<'a>(dec: &mut Dec<'a, '_>, data: &'a [u8], depth: u8) {
    let Some(h) = data.first_chunk::<4>() else {
        dec.too_small(DecodeAnomaly::GrePktTooSmall);
        return;
    };
    let flags = u16::from_be_bytes([h[0], h[1]]);
    let proto = u16::from_be_bytes([h[2], h[3]]);
    let mut off = 4usize;
    match flags & flag::VERSION {
        0 => {
            if flags & flag::RECUR != 0 {
                dec.anomaly(DecodeAnomaly::GreVersion0Recur);
            }
            if flags & flag::V0_RESERVED != 0 {
                dec.anomaly(DecodeAnomaly::GreVersion0Flags);
            }
            if flags & (flag::CHECKSUM | flag::ROUTING) != 0 {
                off += 4;
            }
            if flags & flag::KEY != 0 {
                off += 4;
            }
            if flags & flag::SEQUENCE != 0 {
                off += 4;
            }
            if flags & flag::ROUTING != 0 {
                match data.get(off..).and_then(sre_len) {
                    Some(n) => off += n,
                    None => {
                        dec.anomaly(DecodeAnomaly::GreVersion0MalformedSreHdr);
                        return;
                    }
                }
            }
        }
        1 => {
            if flags & flag::CHECKSUM != 0 {
                dec.anomaly(DecodeAnomaly::GreVersion1Chksum);
            }
            if flags & (flag::ROUTING | flag::STRICT_ROUTE) != 0 {
                dec.anomaly(DecodeAnomaly::GreVersion1Route);
            }
            if flags & flag::RECUR != 0 {
                dec.anomaly(DecodeAnomaly::GreVersion1Recur);
            }
            if flags & flag::V1_RESERVED != 0 {
                dec.anomaly(DecodeAnomaly::GreVersion1Flags);
            }
            if flags & flag::KEY == 0 {
                dec.anomaly(DecodeAnomaly::GreVersion1NoKey);
                return;
            }
            if proto != ethertype::PPP {
                dec.anomaly(DecodeAnomaly::GreVersion1WrongProtocol);
                return;
            }
            // Key (payload length + call id), then optional sequence and ack.
            off += 4;
            if flags & flag::SEQUENCE != 0 {
                off += 4;
            }
            if flags & flag::ACK != 0 {
                off += 4;
            }
        }
        _ => {
            dec.anomaly(DecodeAnomaly::GreVersionWrong);
            return;
        }
    }
    let Some(inner) = data.get(off..) else {
        dec.too_small(DecodeAnomaly::GrePktTooSmall);
        return;
    };
    let decodable = matches!(
        proto,
        ethertype::IPV4 | ethertype::IPV6 | ethertype::TEB | ethertype::PPP
    );
    if !decodable || inner.is_empty() {
        // Another payload (ERSPAN, MPLS, ...) or a PPTP ack without data.
        return;
    }
    // `Dec::tunnel` enforces MAX_TUNNEL_DEPTH.
    match proto {
        ethertype::IPV4 => dec.tunnel(47, depth, |d, n| ip::ipv4(d, inner, n)),
        ethertype::IPV6 => dec.tunnel(47, depth, |d, n| ip::ipv6(d, inner, n)),
        ethertype::TEB => dec.tunnel(47, depth, |d, n| link::ethernet(d, inner, false, n)),
        _ => ppp(dec, inner, depth),
    }
}

/// A PPP frame inside GRE v1: optional address/control bytes (ff 03), then a
/// one- or two-byte protocol.
fn ppp<'a>(dec: &mut Dec<'a, '_>, data: &'a [u8], depth: u8) {
    let data = match data {
        [0xff, 0x03, rest @ ..] => rest,
        _ => data,
    };
    let (proto, rest) = match data {
        // Protocol-field compression: an odd first byte is a one-byte protocol.
        [p, rest @ ..] if p & 1 == 1 => (u16::from(*p), rest),
        [a, b, rest @ ..] => (u16::from_be_bytes([*a, *b]), rest),
        _ => {
            dec.too_small(DecodeAnomaly::PppPktTooSmall);
            return;
        }
    };
    match proto {
        0x0021 => dec.tunnel(47, depth, |d, n| ip::ipv4(d, rest, n)),
        0x0057 => dec.tunnel(47, depth, |d, n| ip::ipv6(d, rest, n)),
        // PPP control protocols (LCP, IPCP, CHAP, CCP, ...): not IP, not odd.
        p if p >= 0x8000 => {}
        _ => dec.anomaly(DecodeAnomaly::PppUnsupProto),
    }
}

#[cfg(test)]
mod tests {
    use crate::testutil::*;
    use crate::*;
    use std::net::Ipv4Addr;

    const OUTER_SRC: Ipv4Addr = Ipv4Addr::new(203, 0, 113, 1);

    fn outer(proto: u8, payload: &[u8]) -> Vec<u8> {
        let mut h = V4::new(proto);
        h.src = OUTER_SRC;
        h.build(payload)
    }

    fn gre_hdr(flags: u16, proto: u16, extra: &[u8]) -> Vec<u8> {
        let mut v = flags.to_be_bytes().to_vec();
        v.extend_from_slice(&proto.to_be_bytes());
        v.extend_from_slice(extra);
        v
    }

    fn inner_tcp() -> Vec<u8> {
        ipv4(6, &tcp(1111, 22, 0x18, &[], b"SSH-2.0", P4))
    }

    fn assert_inner(d: &Decoded<'_>, depth: u8) {
        match d.l3 {
            L3::Ipv4(i) => assert_eq!(i.src, A4),
            ref other => panic!("inner not decoded: {other:?}"),
        }
        assert_eq!(d.l4.ports(), Some((1111, 22)));
        assert_eq!(d.payload, b"SSH-2.0");
        assert_eq!(d.tunnel_depth, depth);
        assert_eq!(tcp_checksum_ok(d), Some(true));
    }

    #[test]
    fn gre_v0_plain_and_with_optional_fields() {
        for (flags, extra) in [
            (0x0000u16, vec![]),
            (0x8000, vec![0xab, 0xcd, 0, 0]), // checksum
            (0x2000, vec![0, 0, 0, 42]),      // key
            (0x1000, vec![0, 0, 0, 1]),       // sequence
            (0xb000, vec![0, 0, 0, 0, 0, 0, 0, 42, 0, 0, 0, 1]), // all three
        ] {
            let mut g = gre_hdr(flags, 0x0800, &extra);
            g.extend(inner_tcp());
            let f = eth(0x0800, &outer(47, &g));
            let d = decode_frame(LinkType::ETHERNET, &f);
            assert_inner(&d, 1);
            assert!(
                d.anomalies.is_empty(),
                "flags {flags:#x}: {:?}",
                d.anomalies
            );
        }
    }

    #[test]
    fn gre_v0_inner_ipv6_and_ethernet() {
        let mut g = gre_hdr(0, 0x86dd, &[]);
        g.extend(ipv6(17, &udp(1, 53, b"q", P6)));
        let p = outer(47, &g);
        let d = decode_ip(&p);
        assert!(matches!(d.l3, L3::Ipv6(_)));
        assert_eq!(d.l4.ports(), Some((1, 53)));
        assert_eq!(d.tunnel_depth, 1);

        let mut g = gre_hdr(0x2000, 0x6558, &[0, 0, 0, 7]);
        g.extend(eth(0x8100, &vlan_tag(33, 0x0800, &inner_tcp())));
        let f = eth(0x0800, &outer(47, &g));
        let d = decode_frame(LinkType::ETHERNET, &f);
        assert_inner(&d, 1);
        assert_eq!(d.vlan, [33, 0]);
        // `eth` stays the outer Ethernet header.
        assert_eq!(d.eth.unwrap().ethertype, 0x0800);
    }

    #[test]
    fn gre_v0_routing_entries() {
        // Routing present: checksum/offset word, one SRE (af 0x0800, 4 bytes), null SRE.
        let mut g = gre_hdr(
            0x4000,
            0x0800,
            &[0, 0, 0, 0, 0x08, 0x00, 0, 4, 1, 2, 3, 4, 0, 0, 0, 0],
        );
        g.extend(inner_tcp());
        let p = outer(47, &g);
        assert_inner(&decode_ip(&p), 1);
        // SRE length running past the packet.
        let g = gre_hdr(0x4000, 0x0800, &[0, 0, 0, 0, 0x08, 0x00, 0, 200, 1, 2]);
        let p = outer(47, &g);
        let d = decode_ip(&p);
        assert!(
            d.anomalies
                .contains(DecodeAnomaly::GreVersion0MalformedSreHdr)
        );
        assert_eq!(d.l4, L4::Other(47));
    }

    #[test]
    fn gre_flag_anomalies_and_bad_version() {
        let mut g = gre_hdr(0x0100, 0x0800, &[]);
        g.extend(inner_tcp());
        let p = outer(47, &g);
        let d = decode_ip(&p);
        assert!(d.anomalies.contains(DecodeAnomaly::GreVersion0Recur));
        assert_inner(&d, 1);
        let p = outer(47, &gre_hdr(0x0002, 0x0800, &inner_tcp()));
        let d = decode_ip(&p);
        assert!(d.anomalies.contains(DecodeAnomaly::GreVersionWrong));
        match d.l3 {
            L3::Ipv4(i) => assert_eq!(i.src, OUTER_SRC),
            _ => panic!(),
        }
        assert_eq!(d.l4, L4::Other(47));
        assert_eq!(d.tunnel_depth, 0);
        let p = outer(47, &[0, 0]);
        assert_eq!(
            anoms(LinkType::RAW, &p),
            vec![DecodeAnomaly::GrePktTooSmall]
        );
        // Key flag promises 4 more bytes that are not there.
        let p = outer(47, &gre_hdr(0x2000, 0x0800, &[0, 0]));
        assert_eq!(
            anoms(LinkType::RAW, &p),
            vec![DecodeAnomaly::GrePktTooSmall]
        );
    }

    #[test]
    fn gre_v1_pptp() {
        // Key (payload length + call id), sequence; PPP with address/control.
        let inner = inner_tcp();
        let mut g = gre_hdr(0x3001, 0x880b, &[0, 0, 0, 5, 0, 0, 0, 9]);
        g.extend([0xff, 0x03, 0x00, 0x21]);
        g.extend(&inner);
        let p = outer(47, &g);
        let d = decode_ip(&p);
        assert_inner(&d, 1);
        assert!(d.anomalies.is_empty(), "{:?}", d.anomalies);
        // Protocol-field compression, ack number present.
        let mut g = gre_hdr(0x2081, 0x880b, &[0, 0, 0, 5, 0, 0, 0, 1]);
        g.push(0x21);
        g.extend(&inner);
        let p = outer(47, &g);
        assert_inner(&decode_ip(&p), 1);
        // Ack-only: no payload, no anomaly.
        let p = outer(47, &gre_hdr(0x2081, 0x880b, &[0, 0, 0, 5, 0, 0, 0, 1]));
        let d = decode_ip(&p);
        assert!(d.anomalies.is_empty());
        assert_eq!(d.l4, L4::Other(47));
        // LCP is fine, an unknown data protocol is not.
        let mut g = gre_hdr(0x2001, 0x880b, &[0, 0, 0, 5]);
        g.extend([0xc0, 0x21, 1, 1, 0, 4]);
        let p = outer(47, &g);
        assert!(decode_ip(&p).anomalies.is_empty());
        let mut g = gre_hdr(0x2001, 0x880b, &[0, 0, 0, 5]);
        g.extend([0x00, 0x3d, 1, 1]);
        let p = outer(47, &g);
        assert_eq!(anoms(LinkType::RAW, &p), vec![DecodeAnomaly::PppUnsupProto]);
        // Missing key, wrong protocol.
        let p = outer(47, &gre_hdr(0x0001, 0x880b, &[]));
        assert_eq!(
            anoms(LinkType::RAW, &p),
            vec![DecodeAnomaly::GreVersion1NoKey]
        );
        let p = outer(47, &gre_hdr(0x2001, 0x0800, &[0, 0, 0, 0]));
        assert_eq!(
            anoms(LinkType::RAW, &p),
            vec![DecodeAnomaly::GreVersion1WrongProtocol]
        );
    }

    #[test]
    fn ip_in_ip_and_6in4() {
        let p = outer(4, &inner_tcp());
        assert_inner(&decode_ip(&p), 1);
        let inner6 = ipv6(6, &tcp(3, 4, 2, &[], b"", P6));
        let p = outer(41, &inner6);
        let d = decode_ip(&p);
        assert!(matches!(d.l3, L3::Ipv6(_)));
        assert_eq!(d.l4.ports(), Some((3, 4)));
        assert_eq!(d.tunnel_depth, 1);
        // IPv4 inside IPv6.
        let p = ipv6(4, &inner_tcp());
        assert_inner(&decode_ip(&p), 1);
    }

    #[test]
    fn broken_inner_keeps_outer_layers() {
        let p = outer(4, &[0x45, 0, 0]);
        let d = decode_ip(&p);
        match d.l3 {
            L3::Ipv4(i) => assert_eq!(i.src, OUTER_SRC),
            _ => panic!(),
        }
        assert_eq!(d.l4, L4::Other(4));
        assert_eq!(d.tunnel_depth, 0);
        assert!(d.anomalies.contains(DecodeAnomaly::Ipv4PktTooSmall));
    }

    #[test]
    fn tunnel_depth_limit() {
        let mut pkt = inner_tcp();
        for _ in 0..MAX_TUNNEL_DEPTH {
            pkt = outer(4, &pkt);
        }
        assert_inner(&decode_ip(&pkt), MAX_TUNNEL_DEPTH);
        let mut g = gre_hdr(0, 0x0800, &[]);
        g.extend(&pkt);
        let p = outer(47, &g);
        let d = decode_ip(&p);
        assert!(d.anomalies.contains(DecodeAnomaly::TunnelTooDeep));
        assert_eq!(d.tunnel_depth, MAX_TUNNEL_DEPTH);
        assert_eq!(d.l4, L4::Other(4));
    }
}
