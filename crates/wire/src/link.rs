//! Link layers: Ethernet (+ 802.1Q/802.1ad/QinQ), BSD NULL/LOOP, Linux cooked
//! v1/v2, and the EtherType dispatch they share.

use crate::decode::{Dec, MAX_VLAN_TAGS};
use crate::decoded::*;
use crate::ip;

/// EtherType values the decoder knows.
pub mod ethertype {
    /// IPv4.
    pub const IPV4: u16 = 0x0800;
    /// ARP.
    pub const ARP: u16 = 0x0806;
    /// IPv6.
    pub const IPV6: u16 = 0x86dd;
    /// 802.1Q VLAN tag.
    pub const VLAN: u16 = 0x8100;
    /// 802.1ad service tag (QinQ outer).
    pub const QINQ: u16 = 0x88a8;
    /// Pre-standard QinQ tag.
    pub const QINQ_OLD: u16 = 0x9100;
    /// Transparent Ethernet bridging (inside GRE).
    pub const TEB: u16 = 0x6558;
    /// PPP (inside GRE v1 / PPTP).
    pub const PPP: u16 = 0x880b;
    /// Largest value that is an IEEE 802.3 length field rather than an EtherType.
    pub const MAX_8023_LEN: u16 = 1500;
}

/// Ethernet II or 802.3. `outer` records the addresses in [`Decoded::eth`]
/// (false for Ethernet inside a tunnel).
pub(crate) fn ethernet<'a>(dec: &mut Dec<'a, '_>, data: &'a [u8], outer: bool, depth: u8) {
    let Some((h, rest)) = data.split_first_chunk::<14>() else {
        dec.too_small(DecodeAnomaly::EthernetPktTooSmall);
        return;
    };
    let et = u16::from_be_bytes([h[12], h[13]]);
    let Some((et, rest)) = vlan_tags(dec, et, rest) else {
        return;
    };
    if outer {
        dec.d.eth = Some(EthernetInfo {
            dst: [h[0], h[1], h[2], h[3], h[4], h[5]],
            src: [h[6], h[7], h[8], h[9], h[10], h[11]],
            ethertype: et,
        });
    }
    network(dec, et, rest, depth);
}

/// Strips VLAN tags (recording their ids); returns the EtherType after them
/// and the bytes that follow, or `None` when decoding must stop.
fn vlan_tags<'a>(
    dec: &mut Dec<'a, '_>,
    mut et: u16,
    mut data: &'a [u8],
) -> Option<(u16, &'a [u8])> {
    while matches!(et, ethertype::VLAN | ethertype::QINQ | ethertype::QINQ_OLD) {
        let Some((tag, rest)) = data.split_first_chunk::<4>() else {
            dec.too_small(DecodeAnomaly::VlanHeaderTooSmall);
            return None;
        };
        let id = u16::from_be_bytes([tag[0], tag[1]]) & 0x0fff;
        if let Some(slot) = dec.d.vlan.get_mut(usize::from(dec.d.vlan_count)) {
            *slot = id;
        }
        dec.d.vlan_count = dec.d.vlan_count.saturating_add(1);
        if dec.d.vlan_count == 3 {
            dec.anomaly(DecodeAnomaly::VlanTooManyLayers);
        }
        if dec.d.vlan_count > MAX_VLAN_TAGS {
            return None;
        }
        et = u16::from_be_bytes([tag[2], tag[3]]);
        data = rest;
    }
    Some((et, data))
}

/// The network layer named by an EtherType (after VLAN tags).
pub(crate) fn network<'a>(dec: &mut Dec<'a, '_>, et: u16, data: &'a [u8], depth: u8) {
    match et {
        ethertype::IPV4 => ip::ipv4(dec, data, depth),
        ethertype::IPV6 => ip::ipv6(dec, data, depth),
        ethertype::ARP => {
            dec.d.is_arp = true;
            dec.d.l3 = L3::Arp;
        }
        ethertype::VLAN | ethertype::QINQ | ethertype::QINQ_OLD => {
            if let Some((et, rest)) = vlan_tags(dec, et, data) {
                network(dec, et, rest, depth);
            }
        }
        x if x <= ethertype::MAX_8023_LEN => dec.d.l3 = L3::Other(x),
        x => {
            dec.d.l3 = L3::Other(x);
            dec.anomaly(DecodeAnomaly::UnknownEthertype);
        }
    }
}

/// Address family of a NULL/LOOP header: Some(false) IPv4, Some(true) IPv6.
fn family(v: u32) -> Option<bool> {
    match v {
        2 => Some(false),
        // AF_INET6 on NetBSD/OpenBSD (24), FreeBSD (28), macOS (30).
        24 | 28 | 30 => Some(true),
        _ => None,
    }
}

/// BSD NULL (host-endian family, both byte orders tried) or OpenBSD LOOP
/// (`network_order`).
pub(crate) fn null<'a>(dec: &mut Dec<'a, '_>, data: &'a [u8], network_order: bool) {
    let Some((fam, rest)) = data.split_first_chunk::<4>() else {
        dec.too_small(DecodeAnomaly::NullPktTooSmall);
        return;
    };
    let be = family(u32::from_be_bytes(*fam));
    let v6 = if network_order {
        be
    } else {
        family(u32::from_le_bytes(*fam)).or(be)
    };
    match v6 {
        Some(false) => ip::ipv4(dec, rest, 0),
        Some(true) => ip::ipv6(dec, rest, 0),
        None => dec.anomaly(DecodeAnomaly::NullUnsupportedType),
    }
}

/// Linux cooked capture v1: 16-byte header, protocol (EtherType) last.
pub(crate) fn sll<'a>(dec: &mut Dec<'a, '_>, data: &'a [u8]) {
    let Some((h, rest)) = data.split_first_chunk::<16>() else {
        dec.too_small(DecodeAnomaly::SllPktTooSmall);
        return;
    };
    network(dec, u16::from_be_bytes([h[14], h[15]]), rest, 0);
}

/// Linux cooked capture v2: 20-byte header, protocol (EtherType) first.
pub(crate) fn sll2<'a>(dec: &mut Dec<'a, '_>, data: &'a [u8]) {
    let Some((h, rest)) = data.split_first_chunk::<20>() else {
        dec.too_small(DecodeAnomaly::SllPktTooSmall);
        return;
    };
    network(dec, u16::from_be_bytes([h[0], h[1]]), rest, 0);
}

#[cfg(test)]
mod tests {
    use crate::testutil::*;
    use crate::*;

    fn tcp_v4() -> Vec<u8> {
        ipv4(6, &tcp(1234, 80, 0x02, &[], b"", P4))
    }

    #[test]
    fn ethernet_ipv4_tcp() {
        let f = eth_v4_tcp(b"hello");
        let d = decode_frame(LinkType::ETHERNET, &f);
        let e = d.eth.unwrap();
        assert_eq!(e.src, MAC_A);
        assert_eq!(e.dst, MAC_B);
        assert_eq!(e.ethertype, 0x0800);
        assert_eq!(d.l4.ports(), Some((40000, 80)));
        assert_eq!(d.payload, b"hello");
        assert!(d.anomalies.is_empty(), "{:?}", d.anomalies);
        assert_eq!(d.vlan_count, 0);
    }

    #[test]
    fn ethernet_padding_is_not_payload() {
        // A 40-byte IPv4/TCP packet padded to the 60-byte Ethernet minimum.
        let mut f = eth(0x0800, &tcp_v4());
        f.resize(60, 0xee);
        let d = decode_frame(LinkType::ETHERNET, &f);
        assert!(d.payload.is_empty());
        assert_eq!(d.ip_payload.len(), 20);
        assert!(d.anomalies.is_empty());
        assert!(!d.payload_partial);
    }

    #[test]
    fn ieee8023_length_frame_is_non_ip_without_anomaly() {
        // STP BPDU: 802.3 length 38, LLC 42 42 03.
        let mut body = vec![0x42, 0x42, 0x03];
        body.resize(38, 0);
        let f = eth(38, &body);
        let d = decode_frame(LinkType::ETHERNET, &f);
        assert_eq!(d.l3, L3::Other(38));
        assert!(d.anomalies.is_empty());
        assert!(!d.is_arp);
    }

    #[test]
    fn unknown_ethertype_is_counted() {
        let f = eth(0x88cc, &[1, 2, 3]);
        let d = decode_frame(LinkType::ETHERNET, &f);
        assert_eq!(d.l3, L3::Other(0x88cc));
        assert!(d.anomalies.contains(DecodeAnomaly::UnknownEthertype));
    }

    #[test]
    fn arp() {
        let f = eth(0x0806, &[0; 28]);
        let d = decode_frame(LinkType::ETHERNET, &f);
        assert!(d.is_arp);
        assert_eq!(d.l3, L3::Arp);
        assert!(d.anomalies.is_empty());
    }

    #[test]
    fn vlan_single() {
        let f = eth(0x8100, &vlan_tag(100, 0x0800, &tcp_v4()));
        let d = decode_frame(LinkType::ETHERNET, &f);
        assert_eq!(d.vlan, [100, 0]);
        assert_eq!(d.vlan_count, 1);
        assert_eq!(d.eth.unwrap().ethertype, 0x0800);
        assert_eq!(d.l4.ports(), Some((1234, 80)));
        assert!(d.anomalies.is_empty());
    }

    #[test]
    fn qinq_all_tpids() {
        for outer in [0x88a8u16, 0x9100, 0x8100] {
            let inner = vlan_tag(20, 0x86dd, &ipv6(59, &[]));
            let f = eth(outer, &vlan_tag(10, 0x8100, &inner));
            let d = decode_frame(LinkType::ETHERNET, &f);
            assert_eq!(d.vlan, [10, 20], "tpid {outer:#x}");
            assert_eq!(d.vlan_count, 2);
            assert!(matches!(d.l3, L3::Ipv6(_)));
            assert!(d.anomalies.is_empty());
        }
    }

    #[test]
    fn three_vlan_tags_decode_with_anomaly() {
        let f = eth(
            0x88a8,
            &vlan_tag(
                1,
                0x8100,
                &vlan_tag(2, 0x8100, &vlan_tag(3, 0x0800, &tcp_v4())),
            ),
        );
        let d = decode_frame(LinkType::ETHERNET, &f);
        assert_eq!(d.vlan, [1, 2]);
        assert_eq!(d.vlan_count, 3);
        assert!(d.anomalies.contains(DecodeAnomaly::VlanTooManyLayers));
        assert_eq!(d.l4.ports(), Some((1234, 80)));
    }

    #[test]
    fn vlan_limit_stops_decoding() {
        let mut inner = tcp_v4();
        let mut et = 0x0800;
        for i in 0..(MAX_VLAN_TAGS as u16 + 1) {
            inner = vlan_tag(i + 1, et, &inner);
            et = 0x8100;
        }
        let f = eth(0x8100, &inner);
        let d = decode_frame(LinkType::ETHERNET, &f);
        assert_eq!(d.l3, L3::None);
        assert!(d.anomalies.contains(DecodeAnomaly::VlanTooManyLayers));
    }

    #[test]
    fn vlan_truncated() {
        let f = eth(0x8100, &[0, 5]);
        let d = decode_frame(LinkType::ETHERNET, &f);
        assert!(d.anomalies.contains(DecodeAnomaly::VlanHeaderTooSmall));
        assert_eq!(d.l3, L3::None);
    }

    #[test]
    fn ethernet_too_small() {
        let f = eth_v4_tcp(b"");
        for n in 0..14 {
            let d = decode_frame(LinkType::ETHERNET, &f[..n]);
            assert!(d.anomalies.contains(DecodeAnomaly::EthernetPktTooSmall));
            assert!(d.eth.is_none());
        }
    }

    #[test]
    fn null_both_byte_orders_and_families() {
        let v4 = tcp_v4();
        let v6 = ipv6(6, &tcp(1, 2, 0x02, &[], b"", P6));
        for (fam, pkt, is_v6) in [
            (2u32, &v4, false),
            (24, &v6, true),
            (28, &v6, true),
            (30, &v6, true),
        ] {
            for hdr in [fam.to_le_bytes(), fam.to_be_bytes()] {
                let mut f = hdr.to_vec();
                f.extend_from_slice(pkt);
                let d = decode_frame(LinkType::NULL, &f);
                assert_eq!(matches!(d.l3, L3::Ipv6(_)), is_v6, "family {fam}");
                assert!(d.l4.ports().is_some(), "family {fam} {hdr:?}");
                assert!(d.anomalies.is_empty());
            }
        }
    }

    #[test]
    fn loop_is_network_order_only() {
        let mut f = 2u32.to_be_bytes().to_vec();
        f.extend_from_slice(&tcp_v4());
        assert!(matches!(decode_frame(LinkType::LOOP, &f).l3, L3::Ipv4(_)));
        let mut f = 2u32.to_le_bytes().to_vec();
        f.extend_from_slice(&tcp_v4());
        let d = decode_frame(LinkType::LOOP, &f);
        assert_eq!(d.l3, L3::None);
        assert!(d.anomalies.contains(DecodeAnomaly::NullUnsupportedType));
    }

    #[test]
    fn null_unknown_family_and_short() {
        let d = decode_frame(LinkType::NULL, &[7, 0, 0, 0, 0x45]);
        assert!(d.anomalies.contains(DecodeAnomaly::NullUnsupportedType));
        let d = decode_frame(LinkType::NULL, &[2, 0]);
        assert!(d.anomalies.contains(DecodeAnomaly::NullPktTooSmall));
    }

    #[test]
    fn raw_links() {
        let v4 = tcp_v4();
        let v6 = ipv6(17, &udp(53, 53, b"x", P6));
        for link in [LinkType::RAW, LinkType::RAW_DLT12] {
            assert!(matches!(decode_frame(link, &v4).l3, L3::Ipv4(_)));
            assert!(matches!(decode_frame(link, &v6).l3, L3::Ipv6(_)));
            let d = decode_frame(link, &[0x20, 0, 0]);
            assert!(d.anomalies.contains(DecodeAnomaly::IprawInvalidIpVersion));
        }
        assert!(matches!(decode_frame(LinkType::IPV4, &v4).l3, L3::Ipv4(_)));
        assert!(matches!(decode_frame(LinkType::IPV6, &v6).l3, L3::Ipv6(_)));
        let d = decode_frame(LinkType::IPV4, &v6);
        assert!(d.anomalies.contains(DecodeAnomaly::Ipv4WrongIpVer));
        let d = decode_frame(LinkType::IPV6, &v4);
        assert!(d.anomalies.contains(DecodeAnomaly::Ipv6WrongIpVer));
    }

    #[test]
    fn linux_cooked_v1_and_v2() {
        let pkt = tcp_v4();
        let mut sll = vec![0, 0, 0, 1, 0, 6, 1, 2, 3, 4, 5, 6, 0, 0, 0x08, 0x00];
        sll.extend_from_slice(&pkt);
        let d = decode_frame(LinkType::LINUX_SLL, &sll);
        assert_eq!(d.l4.ports(), Some((1234, 80)));
        assert!(d.eth.is_none());
        let mut sll2 = vec![
            0x08, 0x00, 0, 0, 0, 0, 0, 3, 0, 1, 0, 6, 1, 2, 3, 4, 5, 6, 0, 0,
        ];
        sll2.extend_from_slice(&pkt);
        let d = decode_frame(LinkType::LINUX_SLL2, &sll2);
        assert_eq!(d.l4.ports(), Some((1234, 80)));
        // A VLAN tag left in a cooked capture.
        let mut sllv = vec![0, 0, 0, 1, 0, 6, 1, 2, 3, 4, 5, 6, 0, 0, 0x81, 0x00];
        sllv.extend_from_slice(&vlan_tag(7, 0x0800, &pkt));
        let d = decode_frame(LinkType::LINUX_SLL, &sllv);
        assert_eq!(d.vlan, [7, 0]);
        assert_eq!(d.l4.ports(), Some((1234, 80)));
        assert!(
            decode_frame(LinkType::LINUX_SLL, &sll[..15])
                .anomalies
                .contains(DecodeAnomaly::SllPktTooSmall)
        );
        assert!(
            decode_frame(LinkType::LINUX_SLL2, &sll2[..19])
                .anomalies
                .contains(DecodeAnomaly::SllPktTooSmall)
        );
    }

    #[test]
    fn unsupported_link_type() {
        let f = eth_v4_tcp(b"");
        let d = decode_frame(LinkType(147), &f);
        assert!(d.anomalies.contains(DecodeAnomaly::UnsupportedLinkType));
        assert_eq!(d.l3, L3::None);
    }
}
