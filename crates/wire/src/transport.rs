//! TCP (with options) and UDP.

use crate::decode::Dec;
use crate::decoded::*;

/// TCP option kinds the decoder reads.
mod kind {
    pub const EOL: u8 = 0;
    pub const NOP: u8 = 1;
    pub const MSS: u8 = 2;
    pub const WSCALE: u8 = 3;
    pub const SACK_PERMITTED: u8 = 4;
    pub const SACK: u8 = 5;
    pub const TIMESTAMP: u8 = 8;
}

/// FNV-1a 32-bit offset basis and prime (the option-layout digest).
const FNV_OFFSET: u32 = 0x811c_9dc5;
const FNV_PRIME: u32 = 0x0100_0193;

/// Parses a TCP option list (the header bytes after the fixed 20 bytes, as
/// [`TcpInfo::options`] holds them): MSS, window scale, SACK-permitted, SACK
/// blocks, timestamps and the layout digest. Malformed options end the walk.
pub fn parse_tcp_options(opts: &[u8]) -> TcpOptions {
    tcp_options(opts, None)
}

/// FNV-1a digest of a sequence of option kinds (the `layout_sig` of an
/// option list with exactly these kinds).
const fn kinds_sig(kinds: &[u8]) -> u32 {
    let mut sig = FNV_OFFSET;
    let mut i = 0;
    while i < kinds.len() {
        sig = (sig ^ kinds[i] as u32).wrapping_mul(FNV_PRIME);
        i += 1;
    }
    sig
}

/// Digest of NOP, NOP, timestamp: the options of most segments on
/// established Linux/BSD connections.
pub(crate) const SIG_NOP_NOP_TS: u32 = kinds_sig(&[kind::NOP, kind::NOP, kind::TIMESTAMP]);

/// [`parse_tcp_options`], recording problems through `dec` when given.
#[inline]
pub(crate) fn tcp_options(opts: &[u8], dec: Option<&mut Dec<'_, '_>>) -> TcpOptions {
    match *opts {
        [] => TcpOptions::default(),
        // Fast path: NOP, NOP, timestamp.
        [1, 1, 8, 10, a, b, c, d, e, f, g, h] => TcpOptions {
            timestamp: Some((
                u32::from_be_bytes([a, b, c, d]),
                u32::from_be_bytes([e, f, g, h]),
            )),
            layout_sig: SIG_NOP_NOP_TS,
            ..TcpOptions::default()
        },
        _ => {
            let mut dec = dec;
            tcp_options_walk(opts, |a| {
                if let Some(d) = dec.as_deref_mut() {
                    d.anomaly(a);
                }
            })
        }
    }
}

/// The options of an option list that raises no anomaly; `None` when the
/// walk would record one.
#[inline(never)]
pub(crate) fn tcp_options_clean(opts: &[u8]) -> Option<TcpOptions> {
    let mut clean = true;
    let o = tcp_options_walk(opts, |_| clean = false);
    clean.then_some(o)
}

/// The general option walk; `note` hears of every problem.
fn tcp_options_walk(opts: &[u8], mut note: impl FnMut(DecodeAnomaly)) -> TcpOptions {
    let mut o = TcpOptions::default();
    let mut sig = FNV_OFFSET;
    let mut seen = 0u8;
    let mut i = 0usize;
    while let Some(&k) = opts.get(i) {
        sig = (sig ^ u32::from(k)).wrapping_mul(FNV_PRIME);
        match k {
            kind::EOL => break,
            kind::NOP => {
                i += 1;
                continue;
            }
            _ => {}
        }
        let Some(&len) = opts.get(i + 1) else {
            note(DecodeAnomaly::TcpInvalidOptlen);
            break;
        };
        let len = usize::from(len);
        let Some(body) = opts.get(i + 2..i + len).filter(|_| len >= 2) else {
            note(DecodeAnomaly::TcpOptInvalid);
            break;
        };
        let bit = match k {
            kind::MSS => 1,
            kind::WSCALE => 2,
            kind::SACK_PERMITTED => 4,
            kind::SACK => 8,
            kind::TIMESTAMP => 16,
            _ => 0,
        };
        let dup = seen & bit != 0;
        seen |= bit;
        let ok = match (k, body) {
            (kind::MSS, &[a, b]) => {
                if !dup {
                    o.mss = Some(u16::from_be_bytes([a, b]));
                }
                true
            }
            (kind::WSCALE, &[s]) => {
                if !dup {
                    o.wscale = Some(s);
                }
                true
            }
            (kind::SACK_PERMITTED, &[]) => {
                o.sack_permitted = true;
                true
            }
            (kind::SACK, b) if !b.is_empty() && b.len() % 8 == 0 => {
                if !dup {
                    o.sack_blocks = u8::try_from(b.len() / 8).unwrap_or(u8::MAX);
                }
                true
            }
            (kind::TIMESTAMP, &[a, b, c, d, e, f, g, h]) => {
                if !dup {
                    o.timestamp = Some((
                        u32::from_be_bytes([a, b, c, d]),
                        u32::from_be_bytes([e, f, g, h]),
                    ));
                }
                true
            }
            (kind::MSS | kind::WSCALE | kind::SACK_PERMITTED | kind::SACK | kind::TIMESTAMP, _) => {
                false
            }
            _ => true,
        };
        if !ok {
            note(DecodeAnomaly::TcpOptInvalid);
        } else if dup {
            note(DecodeAnomaly::TcpOptDuplicate);
        }
        i += len;
    }
    o.layout_sig = if sig == 0 { 1 } else { sig };
    o
}

/// A TCP segment.
pub(crate) fn tcp<'a>(dec: &mut Dec<'a, '_>, data: &'a [u8]) {
    let Some(h) = data.first_chunk::<20>() else {
        dec.too_small(DecodeAnomaly::TcpPktTooSmall);
        return;
    };
    let hlen = usize::from(h[12] >> 4) * 4;
    if hlen < 20 {
        dec.anomaly(DecodeAnomaly::TcpHlenTooSmall);
        return;
    }
    let Some(header) = data.get(..hlen) else {
        dec.too_small(DecodeAnomaly::TcpHlenTooSmall);
        return;
    };
    let options = header.get(20..).unwrap_or_default();
    let opts = tcp_options(options, Some(dec));
    dec.d.l4 = L4::Tcp(TcpInfo {
        src_port: u16::from_be_bytes([h[0], h[1]]),
        dst_port: u16::from_be_bytes([h[2], h[3]]),
        seq: u32::from_be_bytes([h[4], h[5], h[6], h[7]]),
        ack: u32::from_be_bytes([h[8], h[9], h[10], h[11]]),
        flags: h[13],
        window: u16::from_be_bytes([h[14], h[15]]),
        urgent: u16::from_be_bytes([h[18], h[19]]),
        // hlen <= 60.
        header_len: u8::try_from(hlen).unwrap_or(u8::MAX),
        checksum: u16::from_be_bytes([h[16], h[17]]),
        options,
        opts,
    });
    dec.d.payload = data.get(hlen..).unwrap_or_default();
}

/// A UDP datagram. The payload ends at the UDP length when that lies within
/// the IP payload; a length that disagrees with a complete IP payload is
/// [`DecodeAnomaly::UdpHlenInvalid`].
pub(crate) fn udp<'a>(dec: &mut Dec<'a, '_>, data: &'a [u8]) {
    let Some((h, body)) = data.split_first_chunk::<8>() else {
        dec.too_small(DecodeAnomaly::UdpPktTooSmall);
        return;
    };
    let ulen = u16::from_be_bytes([h[4], h[5]]);
    let n = usize::from(ulen);
    let payload = if n < 8 {
        dec.anomaly(DecodeAnomaly::UdpHlenInvalid);
        body
    } else if n > data.len() {
        // Fine when the capture (or the IP layer's lie) cut the datagram.
        if !dec.cut {
            dec.anomaly(DecodeAnomaly::UdpHlenInvalid);
        }
        body
    } else {
        if n < data.len() && !dec.cut {
            dec.anomaly(DecodeAnomaly::UdpHlenInvalid);
        }
        body.get(..n - 8).unwrap_or_default()
    };
    dec.d.l4 = L4::Udp(UdpInfo {
        src_port: u16::from_be_bytes([h[0], h[1]]),
        dst_port: u16::from_be_bytes([h[2], h[3]]),
        len: ulen,
        checksum: u16::from_be_bytes([h[6], h[7]]),
    });
    dec.d.payload = payload;
}

#[cfg(test)]
mod tests {
    use crate::testutil::*;
    use crate::*;

    fn tcp_info(d: &Decoded<'_>) -> TcpInfo<'static> {
        match d.l4 {
            L4::Tcp(t) => TcpInfo { options: &[], ..t },
            other => panic!("not TCP: {other:?}"),
        }
    }

    const LINUX_SYN_OPTS: [u8; 20] = [
        2, 4, 0x05, 0xb4, // MSS 1460
        4, 2, // SACK permitted
        8, 10, 0, 0, 0, 1, 0, 0, 0, 2, // timestamps 1, 2
        1, // NOP
        3, 3, 7, // window scale 7
    ];

    #[test]
    fn tcp_header_and_options() {
        let p = ipv4(6, &tcp(443, 51000, 0x12, &LINUX_SYN_OPTS, b"", P4));
        let d = decode_ip(&p);
        let t = tcp_info(&d);
        assert_eq!(
            (t.src_port, t.dst_port, t.seq, t.ack),
            (443, 51000, 1000, 2000)
        );
        assert_eq!((t.flags, t.window, t.header_len), (0x12, 65535, 40));
        let o = t.opts;
        assert_eq!(o.mss, Some(1460));
        assert_eq!(o.wscale, Some(7));
        assert!(o.sack_permitted);
        assert_eq!(o.timestamp, Some((1, 2)));
        assert_eq!(o.sack_blocks, 0);
        assert_ne!(o.layout_sig, 0);
        assert!(d.anomalies.is_empty(), "{:?}", d.anomalies);
        assert_eq!(tcp_checksum_ok(&d), Some(true));
    }

    #[test]
    fn layout_signature_follows_kind_order_only() {
        let a = parse_tcp_options(&LINUX_SYN_OPTS);
        // Same kinds, different values: same digest.
        let mut other_values = LINUX_SYN_OPTS;
        other_values[2] = 0x02;
        other_values[19] = 2;
        assert_eq!(parse_tcp_options(&other_values).layout_sig, a.layout_sig);
        // Different order: different digest.
        let reordered = [4, 2, 2, 4, 5, 180, 1, 3, 3, 7, 1, 1];
        assert_ne!(parse_tcp_options(&reordered).layout_sig, a.layout_sig);
        assert_eq!(parse_tcp_options(&[]).layout_sig, 0);
        assert_ne!(parse_tcp_options(&[1, 1, 1, 1]).layout_sig, 0);
    }

    #[test]
    fn timestamp_fast_path_equals_the_walk() {
        let opts = [1, 1, 8, 10, 0, 0, 1, 0, 0xff, 0, 0, 1];
        assert_eq!(
            parse_tcp_options(&opts),
            super::tcp_options_walk(&opts, |_| {})
        );
        assert_eq!(parse_tcp_options(&opts).timestamp, Some((256, 0xff00_0001)));
    }

    #[test]
    fn sack_blocks() {
        let mut opts = vec![1, 1, 5, 18];
        opts.extend([0u8; 16]);
        assert_eq!(parse_tcp_options(&opts).sack_blocks, 2);
    }

    #[test]
    fn option_anomalies() {
        let cases: &[(&[u8], DecodeAnomaly)] = &[
            (&[2, 3, 5, 0], DecodeAnomaly::TcpOptInvalid), // MSS len 3
            (&[2, 0, 0, 0], DecodeAnomaly::TcpOptInvalid), // len 0
            (&[8, 30, 0, 0], DecodeAnomaly::TcpOptInvalid), // past the header
            (
                &[5, 9, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
                DecodeAnomaly::TcpOptInvalid,
            ),
            (&[1, 1, 1, 2], DecodeAnomaly::TcpInvalidOptlen), // kind without length
            (&[3, 3, 1, 1, 3, 3, 2, 0], DecodeAnomaly::TcpOptDuplicate),
        ];
        for (opts, want) in cases {
            let p = ipv4(6, &tcp(1, 2, 2, opts, b"", P4));
            let d = decode_ip(&p);
            assert!(d.anomalies.contains(*want), "{opts:?}: {:?}", d.anomalies);
            // The segment is still TCP.
            assert!(matches!(d.l4, L4::Tcp(_)));
        }
        // A duplicate keeps the first value.
        assert_eq!(parse_tcp_options(&[3, 3, 1, 1, 3, 3, 2, 0]).wscale, Some(1));
    }

    #[test]
    fn tcp_bad_data_offset() {
        let mut seg = tcp(1, 2, 2, &[], b"abcdefgh", P4);
        seg[12] = 0x40; // 16 bytes
        let p = ipv4(6, &seg);
        let d = decode_ip(&p);
        assert!(d.anomalies.contains(DecodeAnomaly::TcpHlenTooSmall));
        assert_eq!(d.l4, L4::None);
        seg[12] = 0xf0; // 60 bytes > 28
        let p = ipv4(6, &seg);
        let d = decode_ip(&p);
        assert!(d.anomalies.contains(DecodeAnomaly::TcpHlenTooSmall));
        assert_eq!(d.l4, L4::None);
        let p = ipv4(6, &seg[..19]);
        assert_eq!(
            anoms(LinkType::RAW, &p),
            vec![DecodeAnomaly::TcpPktTooSmall]
        );
    }

    #[test]
    fn udp_lengths() {
        let seg = udp(53, 1053, b"hello", P4);
        let p = ipv4(17, &seg);
        let d = decode_ip(&p);
        assert_eq!(d.payload, b"hello");
        assert!(d.anomalies.is_empty());
        match d.l4 {
            L4::Udp(u) => assert_eq!((u.src_port, u.dst_port, u.len), (53, 1053, 13)),
            _ => panic!(),
        }
        // UDP length shorter than the IP payload: payload ends at the UDP length.
        let mut s = seg.clone();
        s[5] = 10;
        let p = ipv4(17, &s);
        let d = decode_ip(&p);
        assert_eq!(d.payload, b"he");
        assert!(d.anomalies.contains(DecodeAnomaly::UdpHlenInvalid));
        // Longer than the IP payload.
        s[5] = 40;
        let p = ipv4(17, &s);
        let d = decode_ip(&p);
        assert_eq!(d.payload, b"hello");
        assert!(d.anomalies.contains(DecodeAnomaly::UdpHlenInvalid));
        // Below 8.
        s[5] = 4;
        let p = ipv4(17, &s);
        assert!(
            decode_ip(&p)
                .anomalies
                .contains(DecodeAnomaly::UdpHlenInvalid)
        );
        // Too small for a header.
        let p = ipv4(17, &seg[..7]);
        assert_eq!(
            anoms(LinkType::RAW, &p),
            vec![DecodeAnomaly::UdpPktTooSmall]
        );
    }

    #[test]
    fn udp_cut_by_snaplen_is_not_a_length_anomaly() {
        let f = eth(0x0800, &ipv4(17, &udp(1, 2, &[0; 100], P4)));
        let d = decode_frame_with_orig_len(LinkType::ETHERNET, &f[..60], f.len() as u32);
        assert_eq!(
            d.anomalies.iter().collect::<Vec<_>>(),
            vec![DecodeAnomaly::CaptureTruncated]
        );
        assert_eq!(d.payload.len(), 60 - 14 - 20 - 8);
        assert!(d.payload_partial);
        assert_eq!(udp_checksum_ok(&d), None);
    }
}
