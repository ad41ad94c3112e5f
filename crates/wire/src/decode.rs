//! The frame decoder: link layer → VLAN → IP (+ tunnels) → transport.
//!
//! Every read goes through a length-checked view (`first_chunk`, `get`), so
//! no input can make it panic; nothing allocates. What cannot be decoded is
//! recorded as a [`DecodeAnomaly`] and decoding stops at that layer.

use crate::decoded::*;
use crate::{icmp, ip, link, transport};

/// Deepest tunnel nesting (IP-in-IP, GRE) the decoder removes. A tunnel deeper
/// than this is left as the transport protocol of the last decoded IP layer
/// and counted as [`DecodeAnomaly::TunnelTooDeep`].
pub const MAX_TUNNEL_DEPTH: u8 = 4;

/// VLAN tags followed per frame. [`DecodeAnomaly::VlanTooManyLayers`] is raised
/// from the third tag on (only two ids are kept); past this limit decoding stops.
pub const MAX_VLAN_TAGS: u8 = 8;

/// IPv6 extension headers walked per header chain; past this limit decoding
/// stops with [`DecodeAnomaly::Ipv6ExthdrTooMany`].
pub const MAX_IPV6_EXT_HEADERS: u8 = 16;

/// Decoder state for one frame.
pub(crate) struct Dec<'a, 'd> {
    /// What has been decoded so far (the caller's value: no copy on return).
    pub(crate) d: &'d mut Decoded<'a>,
    /// Bytes the capture's snaplen cut off the end of the frame.
    snap_missing: usize,
    /// The current layer's bytes end where the snaplen cut the frame.
    pub(crate) snap_cut: bool,
    /// The current layer's bytes end before its length fields say (cut by the
    /// capture or by a lying length field).
    pub(crate) cut: bool,
}

impl<'a, 'd> Dec<'a, 'd> {
    fn new(d: &'d mut Decoded<'a>, snap_missing: usize) -> Self {
        Dec {
            d,
            snap_missing,
            snap_cut: snap_missing > 0,
            cut: snap_missing > 0,
        }
    }

    /// Records an anomaly.
    #[inline]
    pub(crate) fn anomaly(&mut self, a: DecodeAnomaly) {
        self.d.anomalies.push(a);
    }

    /// Records a header that does not fit in the bytes at hand: when the
    /// snaplen explains it, one [`DecodeAnomaly::CaptureTruncated`]; else `a`.
    #[inline]
    pub(crate) fn too_small(&mut self, a: DecodeAnomaly) {
        if self.snap_cut {
            self.capture_truncated();
        } else {
            self.anomaly(a);
        }
    }

    fn capture_truncated(&mut self) {
        if !self.d.anomalies.contains(DecodeAnomaly::CaptureTruncated) {
            self.anomaly(DecodeAnomaly::CaptureTruncated);
        }
    }

    /// Bounds a layer that claims `declared` bytes of which `avail` are at hand:
    /// returns the usable length. A claim larger than what is at hand is a
    /// snaplen cut ([`DecodeAnomaly::CaptureTruncated`]) when the snaplen
    /// explains it, else `lying`; either way the payload is marked partial.
    pub(crate) fn bound(&mut self, avail: usize, declared: usize, lying: DecodeAnomaly) -> usize {
        if declared <= avail {
            // The layer ends inside the bytes at hand: nothing below it is cut.
            self.snap_cut = false;
            self.cut = false;
            declared
        } else {
            if self.snap_cut && declared - avail <= self.snap_missing {
                self.capture_truncated();
            } else {
                self.snap_cut = false;
                self.anomaly(lying);
            }
            self.cut = true;
            self.d.payload_partial = true;
            avail
        }
    }

    /// Dispatches on the link type.
    fn frame(&mut self, link: LinkType, data: &'a [u8]) {
        match link {
            LinkType::ETHERNET => link::ethernet(self, data, true, 0),
            LinkType::NULL => link::null(self, data, false),
            LinkType::LOOP => link::null(self, data, true),
            LinkType::RAW | LinkType::RAW_DLT12 => self.raw_ip(data, 0),
            LinkType::IPV4 => ip::ipv4(self, data, 0),
            LinkType::IPV6 => ip::ipv6(self, data, 0),
            LinkType::LINUX_SLL => link::sll(self, data),
            LinkType::LINUX_SLL2 => link::sll2(self, data),
            _ => self.anomaly(DecodeAnomaly::UnsupportedLinkType),
        }
    }

    /// An IP datagram of either version, chosen by its version nibble.
    pub(crate) fn raw_ip(&mut self, data: &'a [u8], depth: u8) {
        match data.first().map(|b| b >> 4) {
            Some(4) => ip::ipv4(self, data, depth),
            Some(6) => ip::ipv6(self, data, depth),
            Some(_) => self.anomaly(DecodeAnomaly::IprawInvalidIpVersion),
            None => self.too_small(DecodeAnomaly::Ipv4PktTooSmall),
        }
    }

    /// The transport layer of an IP packet whose payload is `data`.
    pub(crate) fn transport(&mut self, proto: u8, data: &'a [u8], depth: u8, v6: bool) {
        match proto {
            6 => transport::tcp(self, data),
            17 => transport::udp(self, data),
            1 if !v6 => icmp::icmpv4(self, data),
            58 if v6 => icmp::icmpv6(self, data),
            1 => {
                self.anomaly(DecodeAnomaly::Ipv6WithIcmpv4);
                self.d.l4 = L4::Other(proto);
            }
            58 => {
                self.anomaly(DecodeAnomaly::Ipv4WithIcmpv6);
                self.d.l4 = L4::Other(proto);
            }
            4 => self.tunnel(proto, depth, |dec, inner| ip::ipv4(dec, data, inner)),
            41 => self.tunnel(proto, depth, |dec, inner| ip::ipv6(dec, data, inner)),
            47 => {
                self.d.l4 = L4::Other(proto);
                crate::gre::gre(self, data, depth);
            }
            _ => self.d.l4 = L4::Other(proto),
        }
    }

    /// Decodes an inner layer with `f` at `depth + 1`. When the inner layer
    /// yields no network layer the outer layers are kept as they were (with
    /// `L4::Other(proto)`); when it does, `tunnel_depth` counts it.
    pub(crate) fn tunnel(&mut self, proto: u8, depth: u8, f: impl FnOnce(&mut Self, u8)) {
        self.d.l4 = L4::Other(proto);
        if depth >= MAX_TUNNEL_DEPTH {
            self.anomaly(DecodeAnomaly::TunnelTooDeep);
            return;
        }
        let saved = Saved {
            l3: self.d.l3,
            l4: self.d.l4,
            ip_header: self.d.ip_header,
            ip_payload: self.d.ip_payload,
            payload: self.d.payload,
            payload_partial: self.d.payload_partial,
            is_arp: self.d.is_arp,
            cut: self.cut,
            snap_cut: self.snap_cut,
        };
        self.d.l3 = L3::None;
        f(self, depth + 1);
        if matches!(self.d.l3, L3::None) {
            self.d.l3 = saved.l3;
            self.d.l4 = saved.l4;
            self.d.ip_header = saved.ip_header;
            self.d.ip_payload = saved.ip_payload;
            self.d.payload = saved.payload;
            self.d.payload_partial = saved.payload_partial;
            self.d.is_arp = saved.is_arp;
            self.cut = saved.cut;
            self.snap_cut = saved.snap_cut;
        } else {
            self.d.tunnel_depth = self.d.tunnel_depth.saturating_add(1);
        }
    }
}

/// The outer layers kept while a tunnel's inner layer is tried.
struct Saved<'a> {
    l3: L3<'a>,
    l4: L4<'a>,
    ip_header: &'a [u8],
    ip_payload: &'a [u8],
    payload: &'a [u8],
    payload_partial: bool,
    is_arp: bool,
    cut: bool,
    snap_cut: bool,
}

/// Decodes one frame of the given link type. Never fails: what cannot be decoded
/// is recorded in `anomalies` and the layers beyond stay `None`.
///
/// Without the frame's length on the wire, an IP length field larger than the
/// captured bytes is reported as a lie ([`DecodeAnomaly::Ipv4TruncPkt`] /
/// [`DecodeAnomaly::Ipv6TruncPkt`]); use [`decode_frame_with_orig_len`] for
/// frames a snaplen may have cut.
#[inline]
pub fn decode_frame(link: LinkType, data: &[u8]) -> Decoded<'_> {
    decode_frame_with_orig_len(link, data, 0)
}

/// Decodes one frame knowing its length on the wire (`orig_len`, as the capture
/// record states). When the capture holds fewer bytes than that, a length field
/// the missing bytes explain is reported once as
/// [`DecodeAnomaly::CaptureTruncated`] rather than as a lie, and the payload is
/// marked partial. An `orig_len` not larger than `data.len()` means "not cut".
#[inline]
pub fn decode_frame_with_orig_len(link: LinkType, data: &[u8], orig_len: u32) -> Decoded<'_> {
    let mut d = Decoded::default();
    decode_frame_into(&mut d, link, data, orig_len);
    d
}

/// [`decode_frame_with_orig_len`] into a caller-provided value (which is reset
/// first). Saves copying the result out of the callee (about 200 bytes) on the
/// hot path: declare `let mut d = Decoded::default();` where it is used and
/// decode into it.
///
/// Frames of the common shape (Ethernet II, IPv4 without options and not a
/// fragment, TCP with no options or NOP, NOP, timestamp, or UDP, lengths
/// consistent) take a straight-line shortcut; every other frame the general
/// decoder ([`decode_frame_general_into`]). Both give the same result.
#[inline]
pub fn decode_frame_into<'a>(out: &mut Decoded<'a>, link: LinkType, data: &'a [u8], orig_len: u32) {
    if link == LinkType::ETHERNET && crate::fast::ethernet_ipv4(out, data) {
        return;
    }
    decode_frame_general_into(out, link, data, orig_len);
}

/// [`decode_frame_into`] without the shortcut for the common frame shape:
/// the general decoder alone, for tests and fuzzing that check the two agree.
#[inline(never)]
pub fn decode_frame_general_into<'a>(
    out: &mut Decoded<'a>,
    link: LinkType,
    data: &'a [u8],
    orig_len: u32,
) {
    let missing = usize::try_from(orig_len)
        .unwrap_or(usize::MAX)
        .saturating_sub(data.len());
    *out = Decoded::default();
    Dec::new(out, missing).frame(link, data);
}

/// Decodes a bare IP datagram (v4 or v6 by its version nibble), as the
/// defragmenter does with a reassembled datagram.
pub fn decode_ip(data: &[u8]) -> Decoded<'_> {
    let mut d = Decoded::default();
    Dec::new(&mut d, 0).raw_ip(data, 0);
    d
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::*;
    use crate::{icmp_checksum_ok, ipv4_header_checksum_ok, tcp_checksum_ok, udp_checksum_ok};

    /// One valid frame of every kind the decoder knows, with its link type.
    fn samples() -> Vec<(LinkType, Vec<u8>)> {
        let mut v = Vec::new();
        v.push((LinkType::ETHERNET, eth_v4_tcp(b"payload")));
        let mut opt = V4::new(6);
        opt.options = vec![1, 7, 7, 4, 0, 0, 0, 0];
        let tcp_opts = [
            2, 4, 5, 180, 4, 2, 8, 10, 0, 0, 0, 1, 0, 0, 0, 0, 1, 3, 3, 7,
        ];
        v.push((
            LinkType::ETHERNET,
            eth(
                0x8100,
                &vlan_tag(5, 0x0800, &opt.build(&tcp(1, 2, 2, &tcp_opts, b"a", P4))),
            ),
        ));
        v.push((LinkType::RAW, ipv4(17, &udp(53, 53, b"dns", P4))));
        v.push((LinkType::RAW, ipv4(1, &icmp4(8, 0, [0, 1, 0, 2], b"echo"))));
        let quoted = ipv4(6, &tcp(9, 10, 2, &[], b"", P4));
        v.push((LinkType::RAW, ipv4(1, &icmp4(3, 1, [0; 4], &quoted[..28]))));
        let mut chain = ext(44, &[1, 4, 0, 0, 0, 0]);
        chain.extend(frag6(6, 0, true, 7));
        chain.extend(tcp(3, 4, 2, &[], b"v6", P6));
        v.push((LinkType::IPV6, ipv6(0, &chain)));
        v.push((LinkType::RAW, ipv6(58, &icmp6(128, 0, [0, 1, 0, 1], b"e"))));
        let mut sll = vec![0, 0, 0, 1, 0, 6, 1, 2, 3, 4, 5, 6, 0, 0, 0x86, 0xdd];
        sll.extend(ipv6(17, &udp(1, 2, b"u", P6)));
        v.push((LinkType::LINUX_SLL, sll));
        let mut null = 2u32.to_le_bytes().to_vec();
        null.extend(ipv4(6, &tcp(5, 6, 0x11, &[], b"", P4)));
        v.push((LinkType::NULL, null));
        let mut g = vec![0x20, 0, 0x08, 0, 0, 0, 0, 1];
        g.extend(ipv4(6, &tcp(7, 8, 2, &[], b"gre", P4)));
        v.push((LinkType::ETHERNET, eth(0x0800, &ipv4(47, &g))));
        v.push((LinkType::RAW, ipv4(4, &ipv4(17, &udp(1, 2, b"ipip", P4)))));
        v
    }

    #[test]
    fn samples_decode_cleanly() {
        for (link, f) in samples() {
            let d = decode_frame(link, &f);
            assert!(
                d.anomalies.is_empty(),
                "{link:?} {f:02x?}: {:?}",
                d.anomalies
            );
            assert!(!matches!(d.l4, L4::None), "{link:?} {f:02x?}");
        }
    }

    #[test]
    fn truncation_at_every_offset_is_an_anomaly() {
        for (link, f) in samples() {
            for n in 0..f.len() {
                let cut = &f[..n];
                // Without the wire length: something is reported, nothing panics.
                let d = decode_frame(link, cut);
                assert!(
                    !d.anomalies.is_empty(),
                    "{link:?} cut at {n} of {}",
                    f.len()
                );
                // With it: reported as a capture cut (and only that).
                let d = decode_frame_with_orig_len(link, cut, f.len() as u32);
                let a: Vec<_> = d.anomalies.iter().collect();
                assert_eq!(
                    a,
                    vec![DecodeAnomaly::CaptureTruncated],
                    "{link:?} cut at {n}"
                );
                assert!(d.payload.len() <= n);
            }
        }
    }

    #[test]
    fn random_bytes_never_panic() {
        let links = [
            LinkType::ETHERNET,
            LinkType::NULL,
            LinkType::LOOP,
            LinkType::RAW,
            LinkType::IPV4,
            LinkType::IPV6,
            LinkType::LINUX_SLL,
            LinkType::LINUX_SLL2,
            LinkType(9999),
        ];
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        for i in 0..20_000 {
            let n = (rng.next() % 200) as usize;
            let mut b = rng.bytes(n);
            // Bias towards plausible headers so deeper layers are reached.
            if i % 2 == 0 && b.len() > 20 {
                b[0] = if i % 4 == 0 { 0x45 } else { 0x60 };
            }
            for link in links {
                let d = decode_frame(link, &b);
                assert!(d.payload.len() <= b.len());
                let _ = (
                    tcp_checksum_ok(&d),
                    udp_checksum_ok(&d),
                    icmp_checksum_ok(&d),
                );
            }
        }
    }

    #[test]
    fn mutations_of_samples_never_panic() {
        // Flip bytes of valid frames one position at a time (all 256 values for
        // header bytes): reaches every branch deep inside the headers.
        for (link, f) in samples() {
            for pos in 0..f.len().min(80) {
                let mut m = f.clone();
                for val in 0..=255u8 {
                    m[pos] = val;
                    let d = decode_frame(link, &m);
                    let _ = (ipv4_header_checksum_ok(&d), tcp_checksum_ok(&d));
                }
            }
        }
    }

    #[test]
    fn orig_len_not_larger_means_not_cut() {
        let f = eth_v4_tcp(b"x");
        for orig in [0, 10, f.len() as u32] {
            let d = decode_frame_with_orig_len(LinkType::ETHERNET, &f, orig);
            assert!(d.anomalies.is_empty());
            assert!(!d.payload_partial);
        }
    }

    /// Crafted frames of every kind the decoder knows (tunnels, PPTP, QinQ,
    /// IPv6 extension headers, ICMP errors, cooked and loopback links), each
    /// decoded by us and by tshark: innermost addresses and ports, VLAN ids,
    /// ICMP type and checksum verdicts must agree. Skips without tshark.
    #[test]
    fn crafted_frames_agree_with_tshark() {
        use std::process::Command;
        if !Command::new("tshark")
            .arg("-v")
            .output()
            .is_ok_and(|o| o.status.success())
        {
            println!("skipped: tshark not installed");
            return;
        }
        // The tunnelled packet has its own source, so a decoder that stops at
        // the outer header disagrees on the address as well as the port.
        let inner_src = std::net::Ipv4Addr::new(10, 9, 8, 7);
        let mut ih = V4::new(6);
        ih.src = inner_src;
        let inner = ih.build(&tcp(
            1111,
            22,
            0x18,
            &[2, 4, 5, 180],
            b"SSH-2.0",
            Pseudo::V4(inner_src, B4),
        ));
        let gre = |flags: u16, proto: u16, extra: &[u8], payload: &[u8]| {
            let mut g = flags.to_be_bytes().to_vec();
            g.extend(proto.to_be_bytes());
            g.extend(extra);
            g.extend(payload);
            g
        };
        let mut by_link: Vec<(u32, Vec<Vec<u8>>)> = vec![(1, Vec::new()), (101, Vec::new())];
        let mut eth_frames = samples()
            .into_iter()
            .filter(|(l, _)| *l == LinkType::ETHERNET)
            .map(|(_, f)| f)
            .collect::<Vec<_>>();
        eth_frames.extend([
            eth(0x88a8, &vlan_tag(10, 0x8100, &vlan_tag(20, 0x0800, &inner))),
            eth(
                0x0800,
                &ipv4(
                    47,
                    &gre(
                        0xb000,
                        0x0800,
                        &[0, 0, 0, 0, 0, 0, 0, 9, 0, 0, 0, 1],
                        &inner,
                    ),
                ),
            ),
            eth(
                0x0800,
                &ipv4(
                    47,
                    &gre(0x2000, 0x6558, &[0, 0, 0, 7], &eth(0x0800, &inner)),
                ),
            ),
            eth(
                0x0800,
                &ipv4(
                    47,
                    &gre(
                        0x3001,
                        0x880b,
                        &[0, 40, 0, 5, 0, 0, 0, 9],
                        &[&[0xff, 0x03, 0x00, 0x21][..], &inner].concat(),
                    ),
                ),
            ),
            eth(0x0800, &ipv4(4, &inner)),
            eth(0x0800, &ipv4(41, &ipv6(17, &udp(5353, 53, b"q", P6)))),
            eth(0x86dd, &ipv6(4, &inner)),
            eth(
                0x86dd,
                &ipv6(
                    0,
                    &[
                        ext(60, &[1, 4, 0, 0, 0, 0]),
                        ext(43, &[]),
                        ext(17, &[&[2u8, 0, 0, 0, 0, 0][..], &A6.octets()].concat()),
                        udp(7, 8, b"ext", P6),
                    ]
                    .concat(),
                ),
            ),
            eth(
                0x86dd,
                &ipv6(
                    44,
                    &[frag6(6, 0, true, 0x77), tcp(9, 10, 2, &[], &[1; 16], P6)].concat(),
                ),
            ),
            eth(
                0x86dd,
                &ipv6(
                    58,
                    &icmp6(1, 4, [0; 4], &ipv6(17, &udp(5353, 53, b"q", P6))),
                ),
            ),
            eth(
                0x0800,
                &ipv4(1, &icmp4(3, 3, [0; 4], &ipv4(17, &udp(40000, 53, b"", P4)))),
            ),
            eth(0x0800, &ipv4(1, &icmp4(11, 0, [0; 4], &inner[..28]))),
        ]);
        by_link[0].1 = eth_frames;
        by_link[1].1 = samples()
            .into_iter()
            .filter(|(l, _)| *l == LinkType::RAW)
            .map(|(_, f)| f)
            .collect();
        for (link, lt) in [
            (113u32, LinkType::LINUX_SLL),
            (0, LinkType::NULL),
            (229, LinkType::IPV6),
        ] {
            by_link.push((
                link,
                samples()
                    .into_iter()
                    .filter(|(l, _)| *l == lt)
                    .map(|(_, f)| f)
                    .collect(),
            ));
        }
        let mut sll2 = vec![
            0x86, 0xdd, 0, 0, 0, 0, 0, 3, 0, 1, 0, 6, 1, 2, 3, 4, 5, 6, 0, 0,
        ];
        sll2.extend(ipv6(17, &udp(1, 2, b"u", P6)));
        by_link.push((276, vec![sll2]));
        let mut lo = 24u32.to_be_bytes().to_vec();
        lo.extend(ipv6(6, &tcp(3, 4, 2, &[], b"", P6)));
        by_link.push((108, vec![lo]));

        let dir = std::env::temp_dir().join(format!("stormwatch-wire-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let fields = [
            "ip.src",
            "ipv6.src",
            "tcp.srcport",
            "udp.srcport",
            "ieee8021ad.id",
            "vlan.id",
            "icmp.type",
            "icmpv6.type",
            "tcp.checksum.status",
            "udp.checksum.status",
            "ip.checksum.status",
        ];
        let mut bad = Vec::new();
        let mut compared = 0;
        for (link, frames) in &by_link {
            let path = dir.join(format!("link{link}.pcap"));
            std::fs::write(&path, pcap_file(*link, frames)).unwrap();
            let mut cmd = Command::new("tshark");
            cmd.args(["-n", "-r"]).arg(&path);
            for o in [
                "ip.check_checksum:TRUE",
                "tcp.check_checksum:TRUE",
                "udp.check_checksum:TRUE",
                "ipv6.defragment:FALSE",
                "ip.defragment:FALSE",
            ] {
                cmd.args(["-o", o]);
            }
            cmd.args(["-T", "fields", "-E", "occurrence=a"]);
            for f in fields {
                cmd.args(["-e", f]);
            }
            let out = String::from_utf8(cmd.output().unwrap().stdout).unwrap();
            let rows: Vec<Vec<&str>> = out.lines().map(|l| l.split('\t').collect()).collect();
            assert_eq!(rows.len(), frames.len(), "link {link}");
            for (i, (f, row)) in frames.iter().zip(&rows).enumerate() {
                let d = decode_frame(LinkType(*link), f);
                let col = |name: &str| row[fields.iter().position(|x| *x == name).unwrap()];
                let vals = |name: &str| -> Vec<&str> {
                    col(name).split(',').filter(|s| !s.is_empty()).collect()
                };
                let icmp_error = matches!(d.l4, L4::Icmp(i) if i.quoted.is_some());
                // Innermost layer: tshark's last occurrence; for an ICMP error
                // (it also dissects the quoted packet) the first.
                let pick = |v: Vec<&str>| -> Option<String> {
                    if icmp_error { v.first() } else { v.last() }.map(|s| s.to_string())
                };
                let (v4, v6) = (vals("ip.src"), vals("ipv6.src"));
                let theirs_src = if icmp_error {
                    pick(if matches!(d.l3, L3::Ipv6(_)) { v6 } else { v4 })
                } else {
                    // After a tunnel the innermost may be either version: the
                    // last address in header order is tshark's last layer,
                    // which is ours when its version matches.
                    match d.l3 {
                        L3::Ipv4(_) => pick(v4),
                        L3::Ipv6(_) => pick(v6),
                        _ => None,
                    }
                };
                let ours_src = d.l3.addrs().map(|(s, _)| s.to_string());
                let mut diffs = Vec::new();
                if ours_src != theirs_src {
                    diffs.push(format!("src ours {ours_src:?} tshark {theirs_src:?}"));
                }
                if !icmp_error {
                    let theirs_port =
                        pick(vals("tcp.srcport")).or_else(|| pick(vals("udp.srcport")));
                    let ours_port = d.l4.ports().map(|p| p.0.to_string());
                    if ours_port != theirs_port && !matches!(d.l4, L4::Icmp(_)) {
                        diffs.push(format!("port ours {ours_port:?} tshark {theirs_port:?}"));
                    }
                }
                if let L4::Icmp(ic) = d.l4 {
                    let t = if ic.v6 {
                        vals("icmpv6.type")
                    } else {
                        vals("icmp.type")
                    };
                    if t.first().map(|s| s.to_string()) != Some(ic.icmp_type.to_string()) {
                        diffs.push(format!("icmp type ours {} tshark {t:?}", ic.icmp_type));
                    }
                }
                // tshark names an 802.1ad (0x88a8) tag's id ieee8021ad.id.
                let vl: Vec<String> = vals("ieee8021ad.id")
                    .into_iter()
                    .chain(vals("vlan.id"))
                    .take(2)
                    .map(|s| s.to_string())
                    .collect();
                let ours_vl: Vec<String> = d
                    .vlan
                    .iter()
                    .take(usize::from(d.vlan_count.min(2)))
                    .map(|v| v.to_string())
                    .collect();
                if vl != ours_vl {
                    diffs.push(format!("vlan ours {ours_vl:?} tshark {vl:?}"));
                }
                // Checksums of the innermost transport (tshark: last occurrence).
                let status = |name: &str| vals(name).last().and_then(|s| s.parse::<u8>().ok());
                if !icmp_error {
                    for (name, ours) in [("tcp", tcp_checksum_ok(&d)), ("udp", udp_checksum_ok(&d))]
                    {
                        let theirs = status(&format!("{name}.checksum.status"));
                        if let (Some(ok), Some(st @ (0 | 1))) = (ours, theirs)
                            && ok != (st == 1)
                        {
                            diffs.push(format!("{name} checksum ours {ok} tshark {st}"));
                        }
                    }
                }
                if !diffs.is_empty() {
                    bad.push(format!("link {link} frame {}: {}", i + 1, diffs.join("; ")));
                }
                compared += 1;
            }
        }
        let _ = std::fs::remove_dir_all(&dir);
        assert!(compared > 20);
        assert!(bad.is_empty(), "{}", bad.join("\n"));
    }
}
