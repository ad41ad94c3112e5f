//! Straight-line decoding of the common frame shape: Ethernet II, IPv4
//! without options and not a fragment, whose total length fits the captured
//! bytes, carrying TCP (options that raise no anomaly; no options and NOP,
//! NOP, timestamp read inline), UDP (length equal to the IP payload) or an
//! ICMP echo request or reply. Such a frame has no anomaly and its [`Decoded`]
//! is written in one go; anything else (VLAN tags, IPv6, options, fragments,
//! short or lying lengths, other option layouts) is left to the general
//! decoder, which handles every case and reports every anomaly. Both yield
//! the same value for a frame of this shape (see the tests below and the
//! `decode_frame` fuzz target).

use crate::decoded::*;
use crate::transport::{SIG_NOP_NOP_TS, tcp_options_clean};
use std::net::Ipv4Addr;

/// Decodes `data` (an Ethernet frame) into `out` when it has the common
/// shape; returns false, leaving `out` untouched, otherwise.
///
/// Not inlined: inside the caller's large per-packet function its many
/// stores competed for registers with the caller's values (spills); as a
/// function of its own it writes `out` straight from the header bytes.
#[inline(never)]
pub(crate) fn ethernet_ipv4<'a>(out: &mut Decoded<'a>, data: &'a [u8]) -> bool {
    let Some((e, rest)) = data.split_first_chunk::<14>() else {
        return false;
    };
    let Some((h, after)) = rest.split_first_chunk::<20>() else {
        return false;
    };
    // EtherType IPv4, version 4 with a 20-byte header, no more-fragments
    // flag and offset 0 (the don't-fragment and reserved bits may be set).
    if e[12] != 0x08 || e[13] != 0x00 || h[0] != 0x45 || h[6] & 0x3f != 0 || h[7] != 0 {
        return false;
    }
    let total = u16::from_be_bytes([h[2], h[3]]);
    let Some(ip_payload) = usize::from(total)
        .checked_sub(20)
        .and_then(|n| after.get(..n))
    else {
        return false;
    };
    let fo = h[6];
    // Every check is made before anything is written: `out` is then written
    // once, field by field, straight from the header bytes (values built
    // apart first were spilled and copied again).
    macro_rules! write {
        ($l4:expr, $payload:expr) => {
            *out = Decoded {
                eth: Some(EthernetInfo {
                    dst: [e[0], e[1], e[2], e[3], e[4], e[5]],
                    src: [e[6], e[7], e[8], e[9], e[10], e[11]],
                    ethertype: 0x0800,
                }),
                vlan: [0, 0],
                vlan_count: 0,
                l3: L3::Ipv4(Ipv4Info {
                    src: Ipv4Addr::new(h[12], h[13], h[14], h[15]),
                    dst: Ipv4Addr::new(h[16], h[17], h[18], h[19]),
                    proto: h[9],
                    ttl: h[8],
                    id: u16::from_be_bytes([h[4], h[5]]),
                    tos: h[1],
                    dont_frag: fo & 0x40 != 0,
                    more_frags: false,
                    reserved_flag: fo & 0x80 != 0,
                    frag_offset: 0,
                    header_len: 20,
                    total_len: total,
                    checksum: u16::from_be_bytes([h[10], h[11]]),
                    // The empty slice just past the fixed header, as the
                    // general decoder's.
                    options: after.get(..0).unwrap_or_default(),
                }),
                l4: $l4,
                ip_header: h.as_slice(),
                ip_payload,
                payload: $payload,
                tunnel_depth: 0,
                is_arp: false,
                anomalies: AnomalyList::default(),
                payload_partial: false,
            }
        };
    }
    match h[9] {
        6 => {
            let Some((t, options, opts, payload)) = tcp(ip_payload) else {
                return false;
            };
            write!(
                L4::Tcp(TcpInfo {
                    src_port: u16::from_be_bytes([t[0], t[1]]),
                    dst_port: u16::from_be_bytes([t[2], t[3]]),
                    seq: u32::from_be_bytes([t[4], t[5], t[6], t[7]]),
                    ack: u32::from_be_bytes([t[8], t[9], t[10], t[11]]),
                    flags: t[13],
                    window: u16::from_be_bytes([t[14], t[15]]),
                    urgent: u16::from_be_bytes([t[18], t[19]]),
                    header_len: (t[12] >> 4) * 4,
                    checksum: u16::from_be_bytes([t[16], t[17]]),
                    options,
                    opts,
                }),
                payload
            );
        }
        // ICMP echo request or reply.
        1 => {
            let Some((c, body)) = ip_payload.split_first_chunk::<8>() else {
                return false;
            };
            if !matches!(c[0], 0 | 8) || c[1] != 0 {
                return false;
            }
            write!(
                L4::Icmp(IcmpInfo {
                    icmp_type: c[0],
                    code: 0,
                    id: Some(u16::from_be_bytes([c[4], c[5]])),
                    seq: Some(u16::from_be_bytes([c[6], c[7]])),
                    v6: false,
                    quoted: None,
                }),
                body
            );
        }
        17 => {
            let Some((u, payload)) = ip_payload.split_first_chunk::<8>() else {
                return false;
            };
            // The UDP length must be the IP payload's.
            if usize::from(u16::from_be_bytes([u[4], u[5]])) != ip_payload.len() {
                return false;
            }
            write!(
                L4::Udp(UdpInfo {
                    src_port: u16::from_be_bytes([u[0], u[1]]),
                    dst_port: u16::from_be_bytes([u[2], u[3]]),
                    len: u16::from_be_bytes([u[4], u[5]]),
                    checksum: u16::from_be_bytes([u[6], u[7]]),
                }),
                payload
            );
        }
        _ => return false,
    }
    true
}

/// The parts of a TCP segment whose header fits and whose options raise no
/// anomaly: the fixed header, the options' bytes and values, the payload.
type TcpParts<'a> = (&'a [u8; 20], &'a [u8], TcpOptions, &'a [u8]);

/// Checks a TCP segment for the common shape; see [`TcpParts`]. No options
/// and NOP, NOP, timestamp are read here; other layouts by the general
/// option walk (out of line), which must find nothing wrong.
#[inline(always)]
fn tcp(data: &[u8]) -> Option<TcpParts<'_>> {
    let (h, rest) = data.split_first_chunk::<20>()?;
    let n = usize::from(h[12] >> 4).checked_mul(4)?.checked_sub(20)?;
    let (options, payload) = rest.split_at_checked(n)?;
    let opts = match *options {
        [] => TcpOptions::default(),
        [1, 1, 8, 10, a, b, c, d, e, f, g, h2] => TcpOptions {
            timestamp: Some((
                u32::from_be_bytes([a, b, c, d]),
                u32::from_be_bytes([e, f, g, h2]),
            )),
            layout_sig: SIG_NOP_NOP_TS,
            ..TcpOptions::default()
        },
        _ => tcp_options_clean(options)?,
    };
    Some((h, options, opts, payload))
}

#[cfg(test)]
mod tests {
    use super::ethernet_ipv4;
    use crate::decode::decode_frame_general_into;
    use crate::decoded::*;
    use crate::testutil::*;
    use crate::{LinkType, decode_frame_into};

    /// Every field of two decodings, slices by position and length (the
    /// flow stage finds the link header from `ip_header`'s position).
    pub(crate) fn same(a: &Decoded<'_>, b: &Decoded<'_>) -> bool {
        let at = |s: &[u8]| (s.as_ptr(), s.len());
        let opts = |d: &Decoded<'_>| match (&d.l3, &d.l4) {
            (L3::Ipv4(v), L4::Tcp(t)) => Some((at(v.options), at(t.options))),
            (L3::Ipv4(v), _) => Some((at(v.options), (std::ptr::null(), 0))),
            (_, L4::Tcp(t)) => Some(((std::ptr::null(), 0), at(t.options))),
            _ => None,
        };
        format!("{a:?}") == format!("{b:?}")
            && at(a.ip_header) == at(b.ip_header)
            && at(a.ip_payload) == at(b.ip_payload)
            && at(a.payload) == at(b.payload)
            && opts(a) == opts(b)
    }

    /// Decodes `f` both ways; true when the shortcut was taken.
    fn check(f: &[u8], orig_len: u32) -> bool {
        let mut general = Decoded::default();
        decode_frame_general_into(&mut general, LinkType::ETHERNET, f, orig_len);
        let mut d = Decoded::default();
        decode_frame_into(&mut d, LinkType::ETHERNET, f, orig_len);
        assert!(
            same(&d, &general),
            "{f:02x?} orig {orig_len}\nfast    {d:?}\ngeneral {general:?}"
        );
        let mut fast = Decoded::default();
        let taken = ethernet_ipv4(&mut fast, f);
        if taken {
            assert!(same(&fast, &general));
            assert!(general.anomalies.is_empty());
        }
        taken
    }

    /// Frames of the shape the shortcut takes, and of shapes next to it.
    fn bases() -> Vec<Vec<u8>> {
        let ts = [1, 1, 8, 10, 0, 0, 0, 7, 0, 0, 0, 9];
        let mut v = vec![
            eth_v4_tcp(b""),
            eth_v4_tcp(b"GET / HTTP/1.1\r\n\r\n"),
            eth(0x0800, &ipv4(6, &tcp(443, 5000, 0x10, &ts, b"data", P4))),
            eth(0x0800, &ipv4(6, &tcp(443, 5000, 0x02, &ts, b"", P4))),
            eth(0x0800, &ipv4(17, &udp(53, 5353, b"query", P4))),
            eth(0x0800, &ipv4(17, &udp(53, 5353, b"", P4))),
            // Other TCP option layouts (SYN options, timestamps then EOL).
            eth(
                0x0800,
                &ipv4(6, &tcp(1, 2, 2, &[2, 4, 5, 180, 1, 3, 3, 7], b"", P4)),
            ),
            eth(
                0x0800,
                &ipv4(
                    6,
                    &tcp(1, 2, 2, &[8, 10, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0], b"", P4),
                ),
            ),
            eth(0x0800, &ipv4(1, &icmp4(8, 0, [0, 1, 0, 2], b"ping"))),
            eth(0x86dd, &ipv6(6, &tcp(1, 2, 0x18, &[], b"v6", P6))),
            eth(
                0x8100,
                &vlan_tag(7, 0x0800, &ipv4(6, &tcp(1, 2, 0x18, &[], b"v", P4))),
            ),
        ];
        let mut opt = V4::new(6);
        opt.options = vec![1, 1, 1, 0];
        v.push(eth(0x0800, &opt.build(&tcp(1, 2, 0x18, &[], b"o", P4))));
        for frag in [0x2000u16, 0x0001, 0x8000, 0x0000, 0x4000 | 0x2000] {
            let mut f = V4::new(6);
            f.frag = frag;
            v.push(eth(0x0800, &f.build(&tcp(1, 2, 0x18, &ts, b"frag", P4))));
        }
        // Ethernet padding after a short packet.
        let mut padded = eth_v4_tcp(b"");
        padded.resize(60, 0);
        v.push(padded);
        let mut padded = eth(0x0800, &ipv4(17, &udp(1, 2, b"", P4)));
        padded.resize(60, 0);
        v.push(padded);
        for opts in [vec![2, 3, 5, 180], vec![2, 4, 5, 180, 2, 4, 5, 180]] {
            v.push(eth(0x0800, &ipv4(6, &tcp(1, 2, 2, &opts, b"", P4))));
        }
        v.push(eth(
            0x0800,
            &ipv4(
                1,
                &icmp4(3, 1, [0; 4], &ipv4(6, &tcp(9, 10, 2, &[], b"", P4))[..28]),
            ),
        ));
        v.push(eth(0x0800, &ipv4(1, &icmp4(8, 1, [0, 1, 0, 2], b"ping"))));
        v
    }

    #[test]
    fn shortcut_takes_the_common_shapes() {
        let taken: Vec<bool> = bases().iter().map(|f| check(f, 0)).collect();
        // The first six bases, the fragment fields without a fragment
        // (reserved bit, none, but not MF or an offset) and the padded frames
        // (Ethernet padding lies outside the IP total length) have the shape.
        assert_eq!(
            taken,
            [
                vec![true; 6],
                // SYN options and timestamps then EOL (the option walk finds
                // nothing wrong), an echo request; not IPv6, VLAN, IP options.
                vec![true, true, true, false, false, false],
                vec![false, false, true, true, false],
                vec![true, true],
                // Options with anomalies, an ICMP error, an echo with a code.
                vec![false; 4]
            ]
            .concat()
        );
    }

    #[test]
    fn truncations_and_snaplen_cuts_agree() {
        for f in bases() {
            for n in 0..=f.len() {
                for orig in [0, f.len() as u32, f.len() as u32 + 100] {
                    check(&f[..n], orig);
                }
            }
        }
    }

    #[test]
    fn mutated_frames_agree() {
        // Every header byte set to every value, then random multi-byte
        // mutations (lengths, offsets, flags, option bytes) with random cuts.
        for f in bases() {
            for pos in 0..f.len().min(80) {
                let mut m = f.clone();
                for val in 0..=255u8 {
                    m[pos] = val;
                    check(&m, 0);
                }
            }
        }
        let mut rng = Rng(0x2545_f491_4f6c_dd1d);
        let bases = bases();
        let mut taken = 0;
        for _ in 0..200_000 {
            let i = (rng.next() % bases.len() as u64) as usize;
            let mut m = bases[i].clone();
            for _ in 0..1 + rng.next() % 3 {
                let pos = (rng.next() % 66) as usize % m.len();
                m[pos] = match rng.next() % 4 {
                    0 => 0,
                    1 => 0xff,
                    2 => m[pos].wrapping_add(1 + (rng.next() % 3) as u8),
                    _ => rng.next() as u8,
                };
            }
            let cut = match rng.next() % 4 {
                0 => (rng.next() % (m.len() as u64 + 1)) as usize,
                _ => m.len(),
            };
            let orig = match rng.next() % 3 {
                0 => 0,
                1 => m.len() as u32,
                _ => m.len() as u32 + (rng.next() % 64) as u32,
            };
            if check(&m[..cut], orig) {
                taken += 1;
            }
        }
        // The mutations reach both sides of the shortcut.
        assert!(taken > 10_000, "{taken}");
    }
}
