//! # Overview
//!
//! `stormwatch-wire` decodes link, network and transport headers into zero-copy
//! views. The entry point is [`decode_frame`] (or [`decode_frame_with_orig_len`]
//! when the capture may have cut the frame): it never fails, never panics and
//! never allocates — whatever it cannot decode it records as a named
//! [`DecodeAnomaly`] in the returned [`Decoded`] and stops there.
//!
//! Primary types:
//! - [`Decoded`] — everything decoded from one frame, borrowed from its bytes:
//!   Ethernet/VLAN facts, [`L3`] ([`Ipv4Info`], [`Ipv6Info`]), [`L4`]
//!   ([`TcpInfo`], [`UdpInfo`], [`IcmpInfo`], or a later fragment), the IP
//!   header/payload slices and the transport payload.
//! - [`DecodeAnomaly`] — a decode oddity with its Suricata event name.
//! - [`LinkType`] — the capture's link type: Ethernet, BSD NULL/LOOP, raw IP,
//!   Linux cooked v1/v2.
//!
//! Tunnels (IP-in-IP, GRE v0 with IPv4/IPv6/Ethernet inside, GRE v1 / PPTP)
//! are removed up to [`MAX_TUNNEL_DEPTH`] and counted in
//! [`Decoded::tunnel_depth`]. The checksum helpers ([`tcp_checksum_ok`] and
//! friends) validate the innermost layers.
//!
//! ```
//! use stormwatch_wire::{decode_frame, tcp_checksum_ok, LinkType, L3, L4};
//! // A raw-IP frame: IPv4 10.0.0.1 -> 10.0.0.2, TCP 1234 -> 80, SYN, no payload.
//! let mut pkt = vec![
//!     0x45, 0, 0, 40, 0, 1, 0x40, 0, 64, 6, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2, // IPv4
//!     0x04, 0xd2, 0, 80, 0, 0, 0, 1, 0, 0, 0, 0, 0x50, 0x02, 0xff, 0xff, 0, 0, 0, 0, // TCP
//! ];
//! let ck = stormwatch_wire::checksum(&pkt[..20]).to_be_bytes();
//! pkt[10..12].copy_from_slice(&ck);
//! let ck = stormwatch_wire::ipv4_pseudo_checksum(
//!     [10, 0, 0, 1].into(), [10, 0, 0, 2].into(), 6, &pkt[20..]).to_be_bytes();
//! pkt[36..38].copy_from_slice(&ck);
//!
//! let d = decode_frame(LinkType::RAW, &pkt);
//! assert!(matches!(d.l3, L3::Ipv4(ref v) if v.ttl == 64));
//! assert_eq!(d.l4.ports(), Some((1234, 80)));
//! assert!(d.anomalies.is_empty());
//! assert_eq!(tcp_checksum_ok(&d), Some(true));
//!
//! // Garbage is data, not an error.
//! let d = decode_frame(LinkType::ETHERNET, &[0u8; 10]);
//! assert!(matches!(d.l4, L4::None));
//! assert!(!d.anomalies.is_empty());
//! ```
#![forbid(unsafe_code)]

mod checksum;
mod decode;
mod decoded;
mod fast;
mod gre;
mod icmp;
mod ip;
mod link;
mod transport;

#[cfg(test)]
mod testutil;

pub use checksum::{
    checksum, icmp_checksum_ok, ipv4_header_checksum_ok, ipv4_pseudo_checksum,
    ipv6_pseudo_checksum, tcp_checksum_ok, udp_checksum_ok,
};
pub use decode::{
    MAX_IPV6_EXT_HEADERS, MAX_TUNNEL_DEPTH, MAX_VLAN_TAGS, decode_frame, decode_frame_general_into,
    decode_frame_into, decode_frame_with_orig_len, decode_ip,
};
pub use decoded::*;
pub use ip::ipv6_unfragmentable;
pub use link::ethertype;
pub use transport::parse_tcp_options;
