//! IPv4 (with option validation) and IPv6 (with the extension-header walk).

use crate::decode::{Dec, MAX_IPV6_EXT_HEADERS};
use crate::decoded::*;
use std::net::{Ipv4Addr, Ipv6Addr};

/// IPv4 option types the decoder validates (Suricata's list).
mod opt {
    pub const EOL: u8 = 0;
    pub const NOP: u8 = 1;
    pub const RR: u8 = 7;
    pub const QS: u8 = 25;
    pub const TS: u8 = 68;
    pub const SEC: u8 = 130;
    pub const LSRR: u8 = 131;
    pub const CIPSO: u8 = 134;
    pub const SID: u8 = 136;
    pub const SSRR: u8 = 137;
    pub const RTRALT: u8 = 148;
}

/// Bit of an IPv4 option type in the duplicate-detection mask.
fn opt_bit(kind: u8) -> u16 {
    match kind {
        opt::RR => 1,
        opt::QS => 1 << 1,
        opt::TS => 1 << 2,
        opt::SEC => 1 << 3,
        opt::LSRR => 1 << 4,
        opt::CIPSO => 1 << 5,
        opt::SID => 1 << 6,
        opt::SSRR => 1 << 7,
        opt::RTRALT => 1 << 8,
        _ => 0,
    }
}

/// Validates an IPv4 option list (the bytes after the fixed 20-byte header).
pub(crate) fn ipv4_options(dec: &mut Dec<'_, '_>, opts: &[u8]) {
    let mut i = 0usize;
    let mut seen = 0u16;
    while let Some(&kind) = opts.get(i) {
        match kind {
            opt::EOL => break,
            opt::NOP => {
                i += 1;
                continue;
            }
            _ => {}
        }
        let Some(&len) = opts.get(i + 1) else {
            // A type byte with no length byte: the list needed an EOL.
            dec.anomaly(DecodeAnomaly::Ipv4OptInvalid);
            return;
        };
        let len = usize::from(len);
        let Some(body) = opts.get(i..i + len).filter(|_| len >= 2) else {
            dec.anomaly(DecodeAnomaly::Ipv4OptInvalidLen);
            return;
        };
        let bit = opt_bit(kind);
        if bit == 0 {
            dec.anomaly(DecodeAnomaly::Ipv4OptUnknown);
        } else if seen & bit != 0 {
            dec.anomaly(DecodeAnomaly::Ipv4OptDuplicate);
        }
        seen |= bit;
        let ok = match kind {
            // Route options: len >= 3, pointer >= 4, (len - 3) a multiple of 4.
            opt::RR | opt::LSRR | opt::SSRR => {
                len >= 3 && (len - 3) % 4 == 0 && body.get(2).is_some_and(|&p| p >= 4)
            }
            // Timestamp: len >= 4, pointer >= 5.
            opt::TS => len >= 4 && body.get(2).is_some_and(|&p| p >= 5),
            opt::QS => len == 8,
            opt::SID => len == 4,
            opt::RTRALT => len == 4,
            opt::SEC | opt::CIPSO => len >= 3,
            _ => true,
        };
        if !ok {
            dec.anomaly(DecodeAnomaly::Ipv4OptMalformed);
        }
        i += len;
    }
}

/// An IPv4 packet.
pub(crate) fn ipv4<'a>(dec: &mut Dec<'a, '_>, data: &'a [u8], depth: u8) {
    let Some(h) = data.first_chunk::<20>() else {
        if data.first().is_some_and(|b| b >> 4 != 4) {
            dec.anomaly(DecodeAnomaly::Ipv4WrongIpVer);
        } else {
            dec.too_small(DecodeAnomaly::Ipv4PktTooSmall);
        }
        return;
    };
    if h[0] >> 4 != 4 {
        dec.anomaly(DecodeAnomaly::Ipv4WrongIpVer);
        return;
    }
    let hlen = usize::from(h[0] & 0x0f) * 4;
    if hlen < 20 {
        dec.anomaly(DecodeAnomaly::Ipv4HlenTooSmall);
        return;
    }
    let Some(header) = data.get(..hlen) else {
        dec.too_small(DecodeAnomaly::Ipv4PktTooSmall);
        return;
    };
    let total = u16::from_be_bytes([h[2], h[3]]);
    if usize::from(total) < hlen {
        dec.anomaly(DecodeAnomaly::Ipv4IplenSmallerThanHlen);
        return;
    }
    let end = dec.bound(data.len(), usize::from(total), DecodeAnomaly::Ipv4TruncPkt);
    // A total length larger than the bytes at hand that the snaplen does not
    // explain: the packet is invalid (Suricata's `ipv4.trunc_pkt` ends decoding).
    let lied = dec.cut && !dec.snap_cut;
    let ip_payload = data.get(hlen..end).unwrap_or_default();
    let options = header.get(20..).unwrap_or_default();
    if !options.is_empty() && !lied {
        ipv4_options(dec, options);
    }
    let fo = u16::from_be_bytes([h[6], h[7]]);
    let frag_offset = (fo & 0x1fff) << 3;
    let more_frags = fo & 0x2000 != 0;
    let is_frag = frag_offset != 0 || more_frags;
    if is_frag && usize::from(frag_offset) + usize::from(total) - hlen > 65_535 {
        dec.anomaly(DecodeAnomaly::Ipv4FragPktTooLarge);
    }
    let proto = h[9];
    dec.d.l3 = L3::Ipv4(Ipv4Info {
        src: Ipv4Addr::new(h[12], h[13], h[14], h[15]),
        dst: Ipv4Addr::new(h[16], h[17], h[18], h[19]),
        proto,
        ttl: h[8],
        id: u16::from_be_bytes([h[4], h[5]]),
        tos: h[1],
        dont_frag: fo & 0x4000 != 0,
        more_frags,
        reserved_flag: fo & 0x8000 != 0,
        frag_offset,
        // hlen <= 60.
        header_len: u8::try_from(hlen).unwrap_or(u8::MAX),
        total_len: total,
        checksum: u16::from_be_bytes([h[10], h[11]]),
        options,
    });
    dec.d.ip_header = header;
    dec.d.ip_payload = ip_payload;
    dec.d.payload = &[];
    dec.d.l4 = L4::None;
    if lied {
        // Addresses are kept (for the anomaly's endpoints); nothing above is decoded.
        dec.d.payload_partial = true;
        return;
    }
    if is_frag {
        dec.d.payload_partial = true;
    }
    if frag_offset != 0 {
        dec.d.l4 = L4::Fragment;
        return;
    }
    dec.transport(proto, ip_payload, depth, false);
}

/// IPv6 extension header numbers.
mod ext {
    pub const HOP_BY_HOP: u8 = 0;
    pub const ROUTING: u8 = 43;
    pub const FRAGMENT: u8 = 44;
    pub const AUTH: u8 = 51;
    pub const DEST_OPTS: u8 = 60;
    pub const MOBILITY: u8 = 135;
    pub const HIP: u8 = 139;
    pub const SHIM6: u8 = 140;
}

/// Validates the TLV options of a hop-by-hop or destination-options header
/// (`body` = the header after its two fixed bytes). False when an option runs
/// past the header.
fn tlv_options_ok(body: &[u8]) -> bool {
    let mut i = 0usize;
    while let Some(&t) = body.get(i) {
        if t == 0 {
            i += 1;
            continue;
        }
        let Some(&len) = body.get(i + 1) else {
            return false;
        };
        i += 2 + usize::from(len);
        if i > body.len() {
            return false;
        }
    }
    true
}

/// The result of walking an IPv6 extension-header chain.
pub(crate) struct ExtWalk {
    /// Upper-layer protocol (or the header at which the walk stopped).
    pub(crate) proto: u8,
    /// Bytes of extension headers walked.
    pub(crate) len: usize,
    /// Extension headers walked.
    pub(crate) count: u8,
    /// Fragment header and the offset just past it (relative to `body`).
    pub(crate) frag: Option<(Ipv6Frag, usize)>,
    /// The walk reached an upper-layer protocol (false: stopped at a bad or
    /// truncated header, too many headers, or a later fragment).
    pub(crate) complete: bool,
}

/// Walks the extension headers in `body` (the bytes after the fixed header)
/// starting with next-header `nh`. With `dec`, anomalies are recorded.
pub(crate) fn walk_ext(mut dec: Option<&mut Dec<'_, '_>>, mut nh: u8, body: &[u8]) -> ExtWalk {
    let mut w = ExtWalk {
        proto: nh,
        len: 0,
        count: 0,
        frag: None,
        complete: false,
    };
    let mut note = |a: DecodeAnomaly, too_small: bool| {
        if let Some(d) = dec.as_deref_mut() {
            if too_small {
                d.too_small(a);
            } else {
                d.anomaly(a);
            }
        }
    };
    let (mut seen_hbh, mut seen_rh, mut seen_ah, mut dst_opts) = (false, false, false, 0u8);
    let mut off = 0usize;
    loop {
        w.proto = nh;
        w.len = off;
        let is_ext = matches!(
            nh,
            ext::HOP_BY_HOP
                | ext::ROUTING
                | ext::FRAGMENT
                | ext::AUTH
                | ext::DEST_OPTS
                | ext::MOBILITY
                | ext::HIP
                | ext::SHIM6
        );
        if !is_ext {
            w.complete = true;
            return w;
        }
        if w.count >= MAX_IPV6_EXT_HEADERS {
            note(DecodeAnomaly::Ipv6ExthdrTooMany, false);
            return w;
        }
        if nh == ext::FRAGMENT {
            let Some(f) = body.get(off..).and_then(|b| b.first_chunk::<8>()) else {
                note(DecodeAnomaly::Ipv6TruncExthdr, true);
                return w;
            };
            let field = u16::from_be_bytes([f[2], f[3]]);
            let frag = Ipv6Frag {
                offset: field & 0xfff8,
                more: field & 1 != 0,
                id: u32::from_be_bytes([f[4], f[5], f[6], f[7]]),
                next_header: f[0],
            };
            off += 8;
            w.count += 1;
            if w.frag.is_some() {
                note(DecodeAnomaly::Ipv6ExthdrDuplFh, false);
            } else {
                w.frag = Some((frag, off));
                let frag_len = body.len().saturating_sub(off);
                if usize::from(frag.offset) + frag_len > 65_535 {
                    note(DecodeAnomaly::Ipv6FragPktTooLarge, false);
                }
                if frag.offset != 0 {
                    w.proto = f[0];
                    w.len = off;
                    return w;
                }
            }
            nh = f[0];
            continue;
        }
        let Some(&[next, hlen]) = body.get(off..off + 2) else {
            note(DecodeAnomaly::Ipv6TruncExthdr, true);
            return w;
        };
        let len = if nh == ext::AUTH {
            (usize::from(hlen) + 2) * 4
        } else {
            (usize::from(hlen) + 1) * 8
        };
        let Some(hdr) = body.get(off..off + len) else {
            note(DecodeAnomaly::Ipv6TruncExthdr, true);
            return w;
        };
        match nh {
            ext::HOP_BY_HOP => {
                if seen_hbh {
                    note(DecodeAnomaly::Ipv6ExthdrDupl, false);
                }
                seen_hbh = true;
            }
            ext::ROUTING => {
                if seen_rh {
                    note(DecodeAnomaly::Ipv6ExthdrDuplRh, false);
                }
                seen_rh = true;
                if hdr.get(2) == Some(&0) {
                    note(DecodeAnomaly::Ipv6RhType0, false);
                }
            }
            ext::DEST_OPTS => {
                dst_opts += 1;
                if dst_opts == 3 {
                    note(DecodeAnomaly::Ipv6ExthdrDuplDh, false);
                }
            }
            ext::AUTH => {
                if seen_ah {
                    note(DecodeAnomaly::Ipv6ExthdrDuplAh, false);
                }
                seen_ah = true;
            }
            _ => {}
        }
        if matches!(nh, ext::HOP_BY_HOP | ext::DEST_OPTS)
            && !tlv_options_ok(hdr.get(2..).unwrap_or_default())
        {
            note(DecodeAnomaly::Ipv6ExthdrInvalid, false);
        }
        off += len;
        w.count += 1;
        nh = next;
    }
}

/// Source and destination of a fixed IPv6 header.
pub(crate) fn v6_addrs(h: &[u8; 40]) -> (Ipv6Addr, Ipv6Addr) {
    let addr = |r: std::ops::Range<usize>| {
        h.get(r)
            .and_then(|s| <[u8; 16]>::try_from(s).ok())
            .map_or(Ipv6Addr::UNSPECIFIED, Ipv6Addr::from)
    };
    (addr(8..24), addr(24..40))
}

/// An IPv6 packet.
pub(crate) fn ipv6<'a>(dec: &mut Dec<'a, '_>, data: &'a [u8], depth: u8) {
    let Some((h, rest)) = data.split_first_chunk::<40>() else {
        if data.first().is_some_and(|b| b >> 4 != 6) {
            dec.anomaly(DecodeAnomaly::Ipv6WrongIpVer);
        } else {
            dec.too_small(DecodeAnomaly::Ipv6PktTooSmall);
        }
        return;
    };
    if h[0] >> 4 != 6 {
        dec.anomaly(DecodeAnomaly::Ipv6WrongIpVer);
        return;
    }
    let payload_len = u16::from_be_bytes([h[4], h[5]]);
    let end = dec.bound(
        rest.len(),
        usize::from(payload_len),
        DecodeAnomaly::Ipv6TruncPkt,
    );
    // As for IPv4: a payload length the bytes at hand (and the snaplen) do not
    // explain makes the packet invalid; only the fixed header is decoded.
    let lied = dec.cut && !dec.snap_cut;
    let body = rest.get(..end).unwrap_or_default();
    let w = walk_ext(if lied { None } else { Some(&mut *dec) }, h[6], body);
    // The IP header/payload split: at the fragment header for fragments (the
    // defragmenter's view), else at the upper-layer header.
    let split = w.frag.map_or(w.len, |(_, after)| after);
    let (src, dst) = v6_addrs(h);
    let frag = w.frag.map(|(f, _)| f);
    dec.d.l3 = L3::Ipv6(Ipv6Info {
        src,
        dst,
        proto: w.proto,
        hop_limit: h[7],
        traffic_class: (h[0] << 4) | (h[1] >> 4),
        flow_label: u32::from_be_bytes([0, h[1] & 0x0f, h[2], h[3]]),
        payload_len,
        header_len: u16::try_from(40 + w.len).unwrap_or(u16::MAX),
        frag,
        ext_count: w.count,
    });
    dec.d.ip_header = data.get(..40 + split).unwrap_or_default();
    dec.d.ip_payload = body.get(split..).unwrap_or_default();
    dec.d.payload = &[];
    dec.d.l4 = L4::None;
    if lied {
        dec.d.payload_partial = true;
        return;
    }
    if let Some(f) = frag {
        if f.offset != 0 || f.more {
            dec.d.payload_partial = true;
        }
        if f.offset != 0 {
            dec.d.l4 = L4::Fragment;
            return;
        }
    }
    if !w.complete {
        return;
    }
    dec.transport(w.proto, body.get(w.len..).unwrap_or_default(), depth, true);
}

/// For an IPv6 fragment's `ip_header` (as [`Decoded::ip_header`] holds it):
/// the length of the unfragmentable part (the bytes before the fragment header)
/// and the index of the next-header byte that names the fragment header (6 for
/// the fixed header, else inside the last extension header before it). A
/// defragmenter copies the unfragmentable part, writes the fragment header's
/// `next_header` at that index, drops the fragment header and appends the
/// reassembled data. `None` when `ip_header` holds no fragment header.
pub fn ipv6_unfragmentable(ip_header: &[u8]) -> Option<(usize, usize)> {
    let h = ip_header.first_chunk::<40>()?;
    let body = ip_header.get(40..)?;
    let mut nh = h[6];
    let mut nh_index = 6usize;
    let mut off = 0usize;
    for _ in 0..MAX_IPV6_EXT_HEADERS {
        match nh {
            ext::FRAGMENT => return Some((40 + off, nh_index)),
            ext::HOP_BY_HOP
            | ext::ROUTING
            | ext::DEST_OPTS
            | ext::MOBILITY
            | ext::HIP
            | ext::SHIM6
            | ext::AUTH => {
                let &[next, hlen] = body.get(off..off + 2)? else {
                    return None;
                };
                let len = if nh == ext::AUTH {
                    (usize::from(hlen) + 2) * 4
                } else {
                    (usize::from(hlen) + 1) * 8
                };
                nh_index = 40 + off;
                off += len;
                nh = next;
            }
            _ => return None,
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use crate::testutil::*;
    use crate::*;

    fn v4(d: &Decoded<'_>) -> Ipv4Info<'static> {
        match d.l3 {
            L3::Ipv4(v) => Ipv4Info { options: &[], ..v },
            other => panic!("not IPv4: {other:?}"),
        }
    }

    fn v6(d: &Decoded<'_>) -> Ipv6Info {
        match d.l3 {
            L3::Ipv6(v) => v,
            other => panic!("not IPv6: {other:?}"),
        }
    }

    #[test]
    fn ipv4_fields() {
        let mut h = V4::new(17);
        h.ttl = 3;
        h.id = 0xbeef;
        h.frag = 0x4000;
        let p = h.build(&udp(5, 6, b"abc", P4));
        let d = decode_ip(&p);
        let i = v4(&d);
        assert_eq!(
            (i.src, i.dst, i.proto, i.ttl, i.id),
            (A4, B4, 17, 3, 0xbeef)
        );
        assert!(i.dont_frag && !i.more_frags && !i.reserved_flag && !i.is_fragment());
        assert_eq!((i.header_len, i.total_len), (20, 31));
        assert_eq!(d.ip_header, &p[..20]);
        assert_eq!(d.ip_payload, &p[20..]);
        assert_eq!(d.payload, b"abc");
        assert_eq!(ipv4_header_checksum_ok(&d), Some(true));
        assert!(d.anomalies.is_empty());
    }

    #[test]
    fn ipv4_valid_options() {
        let mut h = V4::new(6);
        // NOP, record route (len 7, ptr 4, one slot), router alert, EOL + pad.
        h.options = vec![1, 7, 7, 4, 0, 0, 0, 0, 148, 4, 0, 0, 0, 0, 0, 0];
        let p = h.build(&tcp(1, 2, 2, &[], b"", P4));
        let d = decode_ip(&p);
        assert!(d.anomalies.is_empty(), "{:?}", d.anomalies);
        match d.l3 {
            L3::Ipv4(i) => assert_eq!(i.options, &h.options[..]),
            _ => panic!(),
        }
        assert_eq!(d.l4.ports(), Some((1, 2)));
    }

    #[test]
    fn ipv4_option_anomalies() {
        let cases: &[(&[u8], DecodeAnomaly)] = &[
            (&[7, 40, 4, 0], DecodeAnomaly::Ipv4OptInvalidLen),
            (&[7, 1, 4, 0], DecodeAnomaly::Ipv4OptInvalidLen),
            (&[1, 1, 1, 7], DecodeAnomaly::Ipv4OptInvalid),
            (&[7, 3, 1, 0], DecodeAnomaly::Ipv4OptMalformed),
            (
                &[148, 4, 0, 0, 148, 4, 0, 0],
                DecodeAnomaly::Ipv4OptDuplicate,
            ),
            (&[99, 4, 0, 0], DecodeAnomaly::Ipv4OptUnknown),
            (&[68, 4, 1, 0], DecodeAnomaly::Ipv4OptMalformed),
        ];
        for (opts, want) in cases {
            let mut h = V4::new(6);
            h.options = opts.to_vec();
            let p = h.build(&tcp(1, 2, 2, &[], b"", P4));
            let d = decode_ip(&p);
            assert!(d.anomalies.contains(*want), "{opts:?}: {:?}", d.anomalies);
            // Options problems do not stop the transport layer.
            assert_eq!(d.l4.ports(), Some((1, 2)));
        }
    }

    #[test]
    fn ipv4_bad_header_lengths() {
        let mut p = ipv4(6, &tcp(1, 2, 2, &[], b"", P4));
        p[0] = 0x44;
        assert!(anoms(LinkType::RAW, &p).contains(&DecodeAnomaly::Ipv4HlenTooSmall));
        let mut p = ipv4(6, &tcp(1, 2, 2, &[], b"", P4));
        p[0] = 0x4f; // 60-byte header in a 40-byte packet
        assert!(anoms(LinkType::RAW, &p).contains(&DecodeAnomaly::Ipv4PktTooSmall));
        let mut h = V4::new(6);
        h.total_len = Some(19);
        let p = h.build(&[0; 20]);
        assert!(anoms(LinkType::RAW, &p).contains(&DecodeAnomaly::Ipv4IplenSmallerThanHlen));
    }

    #[test]
    fn ipv4_lying_total_length() {
        let seg = tcp(1, 2, 0x18, &[], b"0123456789", P4);
        let mut h = V4::new(6);
        h.total_len = Some(1500);
        let p = h.build(&seg);
        let d = decode_ip(&p);
        assert!(d.anomalies.contains(DecodeAnomaly::Ipv4TruncPkt));
        // The packet is invalid: addresses kept, nothing above IP decoded (as
        // Suricata), so no flow is keyed on it and no later anomaly is raised.
        assert!(matches!(d.l3, L3::Ipv4(_)));
        assert_eq!(d.l4, L4::None);
        assert_eq!(d.payload, b"");
        assert!(d.payload_partial);
        assert_eq!(tcp_checksum_ok(&d), None);
        assert_eq!(d.anomalies.iter().count(), 1);
        // The same shortfall explained by the snaplen is a capture cut, not a lie.
        let f = eth(0x0800, &p);
        let d = decode_frame_with_orig_len(LinkType::ETHERNET, &f, 1514);
        assert!(d.anomalies.contains(DecodeAnomaly::CaptureTruncated));
        assert!(!d.anomalies.contains(DecodeAnomaly::Ipv4TruncPkt));
        assert!(d.payload_partial);
        assert_eq!(d.payload, b"0123456789");
        // A snaplen that explains only part of the shortfall: still a lie.
        let d = decode_frame_with_orig_len(LinkType::ETHERNET, &f, (f.len() + 10) as u32);
        assert!(d.anomalies.contains(DecodeAnomaly::Ipv4TruncPkt));
    }

    #[test]
    fn ipv4_fragments() {
        let seg = tcp(1, 2, 0x18, &[], &[7; 32], P4);
        let mut h = V4::new(6);
        h.frag = 0x2000; // MF, offset 0
        let p = h.build(&seg);
        let d = decode_ip(&p);
        let i = v4(&d);
        assert!(i.more_frags && i.is_fragment());
        assert_eq!(d.l4.ports(), Some((1, 2)));
        assert!(d.payload_partial);
        assert_eq!(tcp_checksum_ok(&d), None);
        h.frag = 0x0003; // offset 24, last fragment
        let p = h.build(&[9; 16]);
        let d = decode_ip(&p);
        assert_eq!(d.l4, L4::Fragment);
        assert_eq!(v4(&d).frag_offset, 24);
        assert_eq!(d.ip_payload, &[9; 16]);
        assert!(d.payload.is_empty());
        assert!(d.payload_partial);
        // Offset + length beyond 65535.
        h.frag = 0x1fff;
        let p = h.build(&[0; 16]);
        assert!(anoms(LinkType::RAW, &p).contains(&DecodeAnomaly::Ipv4FragPktTooLarge));
    }

    #[test]
    fn ipv4_reserved_flag() {
        let mut h = V4::new(17);
        h.frag = 0x8000;
        let p = h.build(&udp(1, 2, b"", P4));
        assert!(v4(&decode_ip(&p)).reserved_flag);
    }

    #[test]
    fn max_size_frame() {
        // A 65,535-byte Ethernet frame: IPv4 total length 65,521.
        let payload = vec![0x5a; 65_521 - 20 - 20];
        let f = eth(0x0800, &ipv4(6, &tcp(1, 2, 0x18, &[], &payload, P4)));
        assert_eq!(f.len(), 65_535);
        let d = decode_frame_with_orig_len(LinkType::ETHERNET, &f, 65_535);
        assert_eq!(d.payload.len(), payload.len());
        assert!(d.anomalies.is_empty());
        assert_eq!(tcp_checksum_ok(&d), Some(true));
        // And the largest possible IPv4 datagram (total length 65,535).
        let payload = vec![0xa5; 65_535 - 20 - 8];
        let p = ipv4(17, &udp(1, 2, &payload, P4));
        let d = decode_ip(&p);
        assert_eq!(d.payload.len(), payload.len());
        assert_eq!(udp_checksum_ok(&d), Some(true));
    }

    #[test]
    fn ipv6_fields() {
        let p = ipv6(17, &udp(5, 6, b"xyz", P6));
        let d = decode_ip(&p);
        let i = v6(&d);
        assert_eq!((i.src, i.dst, i.proto, i.hop_limit), (A6, B6, 17, 57));
        assert_eq!(i.traffic_class, 0x00);
        assert_eq!(i.flow_label, 0xabcde);
        assert_eq!((i.payload_len, i.header_len, i.ext_count), (11, 40, 0));
        assert_eq!(i.frag, None);
        assert_eq!(d.payload, b"xyz");
        assert_eq!(udp_checksum_ok(&d), Some(true));
        assert!(d.anomalies.is_empty());
    }

    #[test]
    fn ipv6_extension_chain() {
        let seg = tcp(7, 8, 0x02, &[], b"data", P6);
        let mut body = ext(43, &[1, 4, 0, 0, 0, 0]); // hop-by-hop: PadN
        body.extend(ext(60, &[2, 0, 0, 0, 0, 0])); // routing type 2, 0 left
        body.extend(ext(51, &[])); // dest opts
        body.extend([6, 1, 0, 0, 0, 0, 0, 1, 0, 0, 0, 2]); // AH, 12 bytes
        body.extend(&seg);
        let p = ipv6(0, &body);
        let d = decode_ip(&p);
        let i = v6(&d);
        assert_eq!(i.proto, 6);
        assert_eq!(i.ext_count, 4);
        assert_eq!(usize::from(i.header_len), 40 + 8 + 8 + 8 + 12);
        assert_eq!(d.ip_payload, &seg[..]);
        assert_eq!(d.payload, b"data");
        assert_eq!(tcp_checksum_ok(&d), Some(true));
        assert!(d.anomalies.is_empty(), "{:?}", d.anomalies);
    }

    #[test]
    fn ipv6_ext_anomalies() {
        let udp = udp(1, 2, b"", P6);
        let with = |hdrs: Vec<u8>, first: u8| {
            let mut b = hdrs;
            b.extend(&udp);
            anoms(LinkType::RAW, &ipv6(first, &b))
        };
        let mut two_hbh = ext(0, &[1, 4, 0, 0, 0, 0]);
        two_hbh.extend(ext(17, &[1, 4, 0, 0, 0, 0]));
        assert!(with(two_hbh, 0).contains(&DecodeAnomaly::Ipv6ExthdrDupl));
        let mut two_rh = ext(43, &[2, 0, 0, 0, 0, 0]);
        two_rh.extend(ext(17, &[2, 0, 0, 0, 0, 0]));
        assert!(with(two_rh, 43).contains(&DecodeAnomaly::Ipv6ExthdrDuplRh));
        assert!(with(ext(17, &[0, 0, 0, 0, 0, 0]), 43).contains(&DecodeAnomaly::Ipv6RhType0));
        let mut three_do = ext(60, &[]);
        three_do.extend(ext(60, &[]));
        three_do.extend(ext(17, &[]));
        assert!(with(three_do, 60).contains(&DecodeAnomaly::Ipv6ExthdrDuplDh));
        // An option running past the header.
        assert!(with(ext(17, &[5, 9, 0, 0]), 60).contains(&DecodeAnomaly::Ipv6ExthdrInvalid));
        let mut two_frag = frag6(44, 0, false, 1);
        two_frag.extend(frag6(17, 0, false, 2));
        assert!(with(two_frag, 44).contains(&DecodeAnomaly::Ipv6ExthdrDuplFh));
        let mut many = Vec::new();
        for _ in 0..MAX_IPV6_EXT_HEADERS {
            many.extend(ext(60, &[]));
        }
        let a = with(many, 60);
        assert!(a.contains(&DecodeAnomaly::Ipv6ExthdrTooMany), "{a:?}");
    }

    #[test]
    fn ipv6_truncated_ext_header() {
        // The extension header claims 16 bytes; only 8 are there.
        let mut h = ext(17, &[1, 4, 0, 0, 0, 0]);
        h[1] = 1;
        let p = ipv6(0, &h);
        let d = decode_ip(&p);
        assert!(d.anomalies.contains(DecodeAnomaly::Ipv6TruncExthdr));
        assert_eq!(d.l4, L4::None);
        assert_eq!(v6(&d).proto, 0);
    }

    #[test]
    fn ipv6_fragments() {
        let seg = udp(1, 2, &[3; 40], P6);
        let mut first = frag6(17, 0, true, 0xabcd);
        first.extend(&seg[..24]);
        let p = ipv6(44, &first);
        let d = decode_ip(&p);
        let i = v6(&d);
        let f = i.frag.unwrap();
        assert_eq!(
            (f.offset, f.more, f.id, f.next_header),
            (0, true, 0xabcd, 17)
        );
        assert_eq!(d.l4.ports(), Some((1, 2)));
        assert!(d.payload_partial);
        assert_eq!(d.ip_header.len(), 48);
        assert_eq!(d.ip_payload, &seg[..24]);
        assert_eq!(udp_checksum_ok(&d), None);
        assert_eq!(ipv6_unfragmentable(d.ip_header), Some((40, 6)));

        let mut later = frag6(17, 24, false, 0xabcd);
        later.extend(&seg[24..]);
        let mut body = ext(44, &[1, 4, 0, 0, 0, 0]);
        body.extend(&later);
        let p = ipv6(0, &body);
        let d = decode_ip(&p);
        assert_eq!(d.l4, L4::Fragment);
        assert_eq!(v6(&d).frag.unwrap().offset, 24);
        assert_eq!(v6(&d).proto, 17);
        assert_eq!(d.ip_payload, &seg[24..]);
        assert_eq!(d.ip_header.len(), 40 + 8 + 8);
        assert_eq!(ipv6_unfragmentable(d.ip_header), Some((48, 40)));
        assert_eq!(ipv6_unfragmentable(&ipv6(17, &seg)), None);
    }

    #[test]
    fn ipv6_lying_payload_length() {
        let p = ipv6_len(17, &udp(1, 2, b"abc", P6), 400);
        let d = decode_ip(&p);
        assert!(d.anomalies.contains(DecodeAnomaly::Ipv6TruncPkt));
        assert!(matches!(d.l3, L3::Ipv6(_)));
        assert_eq!(d.l4, L4::None);
        assert_eq!(d.payload, b"");
        assert!(d.payload_partial);
        // Shorter payload length than bytes: the rest is trailer, not payload.
        let mut p = ipv6(17, &udp(1, 2, b"abc", P6));
        p.extend_from_slice(b"TRAILER");
        let d = decode_ip(&p);
        assert_eq!(d.payload, b"abc");
        assert!(d.anomalies.is_empty());
    }

    #[test]
    fn ipv6_too_small() {
        let p = ipv6(59, &[]);
        for n in 1..40 {
            let a = anoms(LinkType::RAW, &p[..n]);
            assert_eq!(a, vec![DecodeAnomaly::Ipv6PktTooSmall], "len {n}");
        }
        let d = decode_ip(&p);
        assert_eq!(v6(&d).proto, 59);
        assert_eq!(d.l4, L4::Other(59));
    }
}
