//! Internet checksums (RFC 1071): IPv4 header, and TCP/UDP/ICMP with the IPv4
//! or IPv6 pseudo-header.
//!
//! The `*_ok` functions answer for a [`Decoded`] frame the way Suricata's
//! checksum validation does: `Some(true)`/`Some(false)` when the checksum could
//! be computed, `None` when it cannot — the layer is absent, the packet is an IP
//! fragment, or the capture (or a lying length field) cut the segment short.
//! They look at the innermost layers (after tunnel decapsulation).
//!
//! Known limit: for IPv6 with a routing header that still has segments left,
//! the pseudo-header uses the packet's destination field, not the final
//! destination.

use crate::{Decoded, L3, L4};
use std::net::{Ipv4Addr, Ipv6Addr};

/// Adds `data` as big-endian 16-bit words (odd tail padded with zero) to `acc`,
/// without folding. Summing 32-bit words and folding later gives the same result.
#[inline]
fn add(data: &[u8], mut acc: u64) -> u64 {
    let mut chunks = data.chunks_exact(4);
    for c in &mut chunks {
        if let [a, b, c, d] = *c {
            acc += u64::from(u32::from_be_bytes([a, b, c, d]));
        }
    }
    match *chunks.remainder() {
        [a] => acc += u64::from(a) << 8,
        [a, b] => acc += u64::from(u16::from_be_bytes([a, b])),
        [a, b, c] => acc += u64::from(u16::from_be_bytes([a, b])) + (u64::from(c) << 8),
        _ => {}
    }
    acc
}

/// Folds a 64-bit accumulator to a 16-bit one's-complement sum.
#[inline]
fn fold(mut acc: u64) -> u16 {
    while acc > 0xffff {
        acc = (acc & 0xffff) + (acc >> 16);
    }
    // The loop leaves acc <= 0xffff.
    u16::try_from(acc).unwrap_or(0xffff)
}

fn pseudo_v4(src: Ipv4Addr, dst: Ipv4Addr, proto: u8, len: usize) -> u64 {
    let mut acc = add(&src.octets(), 0);
    acc = add(&dst.octets(), acc);
    acc + u64::from(proto) + len as u64
}

fn pseudo_v6(src: &Ipv6Addr, dst: &Ipv6Addr, proto: u8, len: usize) -> u64 {
    let mut acc = add(&src.octets(), 0);
    acc = add(&dst.octets(), acc);
    acc + u64::from(proto) + len as u64
}

/// The Internet checksum of `data`: the value to store in a checksum field that
/// was zero while summing. A buffer that already holds a correct checksum
/// yields 0.
pub fn checksum(data: &[u8]) -> u16 {
    !fold(add(data, 0))
}

/// TCP/UDP/ICMPv6-style checksum of `segment` with the IPv4 pseudo-header
/// (`src`, `dst`, `proto`, segment length): the value for the checksum field
/// when it was zero in `segment`.
pub fn ipv4_pseudo_checksum(src: Ipv4Addr, dst: Ipv4Addr, proto: u8, segment: &[u8]) -> u16 {
    !fold(add(segment, pseudo_v4(src, dst, proto, segment.len())))
}

/// As [`ipv4_pseudo_checksum`] with the IPv6 pseudo-header (RFC 8200 §8.1).
pub fn ipv6_pseudo_checksum(src: Ipv6Addr, dst: Ipv6Addr, proto: u8, segment: &[u8]) -> u16 {
    !fold(add(segment, pseudo_v6(&src, &dst, proto, segment.len())))
}

/// True when the one's-complement sum of the pseudo-header for `segment` and
/// `segment` itself (checksum field included) is 0xffff.
fn verify_l4(d: &Decoded<'_>, proto: u8, segment: &[u8]) -> Option<bool> {
    let acc = match &d.l3 {
        L3::Ipv4(v) => pseudo_v4(v.src, v.dst, proto, segment.len()),
        L3::Ipv6(v) => pseudo_v6(&v.src, &v.dst, proto, segment.len()),
        _ => return None,
    };
    Some(fold(add(segment, acc)) == 0xffff)
}

/// The complete transport segment of the innermost IP layer, or `None` when it
/// is not all there (fragment, truncated capture, lying length field).
fn segment<'a>(d: &Decoded<'a>) -> Option<&'a [u8]> {
    if d.payload_partial {
        return None;
    }
    let expect = match &d.l3 {
        L3::Ipv4(v) => {
            if v.is_fragment() {
                return None;
            }
            usize::from(v.total_len).checked_sub(usize::from(v.header_len))?
        }
        L3::Ipv6(v) => {
            if v.frag.is_some() {
                return None;
            }
            (usize::from(v.payload_len) + 40).checked_sub(usize::from(v.header_len))?
        }
        _ => return None,
    };
    (d.ip_payload.len() == expect).then_some(d.ip_payload)
}

/// Whether the innermost IPv4 header checksum is right; `None` without IPv4.
pub fn ipv4_header_checksum_ok(d: &Decoded<'_>) -> Option<bool> {
    match &d.l3 {
        L3::Ipv4(v) if d.ip_header.len() == usize::from(v.header_len) => {
            Some(fold(add(d.ip_header, 0)) == 0xffff)
        }
        _ => None,
    }
}

/// Whether the TCP checksum (with pseudo-header, IPv4 or IPv6) is right;
/// `None` when there is no complete TCP segment.
pub fn tcp_checksum_ok(d: &Decoded<'_>) -> Option<bool> {
    if !matches!(d.l4, L4::Tcp(_)) {
        return None;
    }
    verify_l4(d, 6, segment(d)?)
}

/// Whether the UDP checksum (with pseudo-header) is right; `None` when there is
/// no complete UDP datagram. A zero checksum means "not computed" on IPv4
/// (`Some(true)`); on IPv6 it is not allowed (`Some(false)`, RFC 8200 §8.1).
/// The sum covers the bytes the UDP length field names.
pub fn udp_checksum_ok(d: &Decoded<'_>) -> Option<bool> {
    let L4::Udp(u) = &d.l4 else {
        return None;
    };
    let seg = segment(d)?;
    let dgram = seg.get(..usize::from(u.len))?;
    if dgram.len() < 8 {
        return None;
    }
    if u.checksum == 0 {
        return Some(matches!(d.l3, L3::Ipv4(_)));
    }
    verify_l4(d, 17, dgram)
}

/// Whether the ICMP checksum is right: ICMPv4 over the message alone, ICMPv6
/// with the IPv6 pseudo-header. `None` when there is no complete ICMP message.
pub fn icmp_checksum_ok(d: &Decoded<'_>) -> Option<bool> {
    let L4::Icmp(i) = &d.l4 else {
        return None;
    };
    let seg = segment(d)?;
    if i.v6 {
        match d.l3 {
            L3::Ipv6(_) => verify_l4(d, 58, seg),
            _ => None,
        }
    } else {
        Some(fold(add(seg, 0)) == 0xffff)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc1071_example() {
        // RFC 1071 §3: bytes 00 01 f2 03 f4 f5 f6 f7 sum to ddf2 (before complement).
        let data = [0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7];
        assert_eq!(fold(add(&data, 0)), 0xddf2);
        assert_eq!(checksum(&data), !0xddf2);
    }

    #[test]
    fn odd_lengths_match_word_sum() {
        // Compare the 32-bit-chunk sum with a plain 16-bit word sum for every length.
        let data: Vec<u8> = (0..200u32).map(|i| (i * 37 + 11) as u8).collect();
        for n in 0..data.len() {
            let slice = &data[..n];
            let mut acc: u64 = 0;
            for pair in slice.chunks(2) {
                let hi = u64::from(pair[0]) << 8;
                let lo = pair.get(1).copied().map(u64::from).unwrap_or(0);
                acc += hi | lo;
            }
            assert_eq!(fold(add(slice, 0)), fold(acc), "length {n}");
        }
    }

    #[test]
    fn known_ipv4_header() {
        // A classic example header with checksum b861.
        let hdr = [
            0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11, 0xb8, 0x61, 0xc0, 0xa8,
            0x00, 0x01, 0xc0, 0xa8, 0x00, 0xc7,
        ];
        assert_eq!(checksum(&hdr), 0);
        let mut z = hdr;
        z[10] = 0;
        z[11] = 0;
        assert_eq!(checksum(&z), 0xb861);
    }

    use crate::testutil::*;
    use crate::{LinkType, decode_frame, decode_ip};

    #[test]
    fn decoded_checksums_v4() {
        let f = eth_v4_tcp(b"GET / HTTP/1.0\r\n\r\n");
        let d = decode_frame(LinkType::ETHERNET, &f);
        assert_eq!(ipv4_header_checksum_ok(&d), Some(true));
        assert_eq!(tcp_checksum_ok(&d), Some(true));
        assert_eq!(udp_checksum_ok(&d), None);
        assert_eq!(icmp_checksum_ok(&d), None);
        // Flip one payload bit: TCP wrong, IP header still right.
        let mut bad = f.clone();
        *bad.last_mut().unwrap() ^= 1;
        let d = decode_frame(LinkType::ETHERNET, &bad);
        assert_eq!(tcp_checksum_ok(&d), Some(false));
        assert_eq!(ipv4_header_checksum_ok(&d), Some(true));
        // Flip the TTL: header checksum wrong, TCP unaffected (TTL not in pseudo-header).
        let mut bad = f.clone();
        bad[14 + 8] ^= 1;
        let d = decode_frame(LinkType::ETHERNET, &bad);
        assert_eq!(ipv4_header_checksum_ok(&d), Some(false));
        assert_eq!(tcp_checksum_ok(&d), Some(true));
        // Ethernet padding does not enter the sum.
        let mut padded = eth(0x0800, &ipv4(6, &tcp(1, 2, 2, &[], b"", P4)));
        padded.resize(60, 0xff);
        assert_eq!(
            tcp_checksum_ok(&decode_frame(LinkType::ETHERNET, &padded)),
            Some(true)
        );
    }

    #[test]
    fn udp_zero_checksum() {
        let mut seg = udp(1, 2, b"abc", P4);
        seg[6] = 0;
        seg[7] = 0;
        let p = ipv4(17, &seg);
        assert_eq!(udp_checksum_ok(&decode_ip(&p)), Some(true));
        let mut seg = udp(1, 2, b"abc", P6);
        seg[6] = 0;
        seg[7] = 0;
        let p = ipv6(17, &seg);
        assert_eq!(udp_checksum_ok(&decode_ip(&p)), Some(false));
        let mut seg = udp(1, 2, b"abc", P4);
        seg[6] ^= 0x10;
        let p = ipv4(17, &seg);
        assert_eq!(udp_checksum_ok(&decode_ip(&p)), Some(false));
    }

    #[test]
    fn v6_checksums() {
        let p = ipv6(6, &tcp(1, 2, 0x10, &[1, 1, 1, 1], b"x", P6));
        let d = decode_ip(&p);
        assert_eq!(tcp_checksum_ok(&d), Some(true));
        assert_eq!(ipv4_header_checksum_ok(&d), None);
        let p = ipv6(17, &udp(1, 2, b"y", P6));
        assert_eq!(udp_checksum_ok(&decode_ip(&p)), Some(true));
        // The v4 pseudo-header would give a different sum.
        let p = ipv6(17, &udp(1, 2, b"y", P4));
        assert_eq!(udp_checksum_ok(&decode_ip(&p)), Some(false));
        let mut m = icmp6(128, 0, [0, 1, 0, 1], b"z");
        m[3] ^= 1;
        let p = ipv6(58, &m);
        assert_eq!(icmp_checksum_ok(&decode_ip(&p)), Some(false));
    }

    #[test]
    fn none_when_not_computable() {
        // Cut by the capture.
        let f = eth_v4_tcp(&[0; 100]);
        let d = crate::decode_frame_with_orig_len(LinkType::ETHERNET, &f[..80], f.len() as u32);
        assert_eq!(tcp_checksum_ok(&d), None);
        assert_eq!(ipv4_header_checksum_ok(&d), Some(true));
        // A first fragment.
        let mut h = V4::new(17);
        h.frag = 0x2000;
        let p = h.build(&udp(1, 2, b"abc", P4));
        assert_eq!(udp_checksum_ok(&decode_ip(&p)), None);
        // Non-IP.
        let f = eth(0x0806, &[0; 28]);
        let d = decode_frame(LinkType::ETHERNET, &f);
        assert_eq!(ipv4_header_checksum_ok(&d), None);
        assert_eq!(tcp_checksum_ok(&d), None);
    }
}
