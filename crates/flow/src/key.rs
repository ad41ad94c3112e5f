//! The flow lookup key: the bidirectional 5-tuple (+ VLAN ids), normalised so both
//! directions of a flow hash and compare equal.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use stormwatch_model::{FlowKey, IpProto};
use stormwatch_wire::{Decoded, L3, L4};

/// Kind of protocol handling a flow gets.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) enum Class {
    Tcp,
    Udp,
    Icmp,
    Other,
}

/// Normalised lookup key: `(a, pa) <= (b, pb)`.
///
/// ICMP: echo-like messages (v4 echo, timestamp, information, address mask; v6 echo)
/// are keyed by their identifier, with the request type as `icmp_kind`, so a request
/// and its reply share a flow; every other ICMP message is keyed by `(type, code)`
/// (`icmp_kind` 255), so e.g. all port-unreachables from one host to another form one
/// flow. Protocols other than TCP, UDP and ICMP are keyed by addresses and protocol.
///
/// Addresses are kept as two words each ([`addr_words`]), not as `IpAddr`: every
/// packet builds, hashes and compares a key, and words cost a fraction of the enum's
/// matching there.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) struct LookupKey {
    pub a: [u64; 2],
    pub b: [u64; 2],
    pub pa: u16,
    pub pb: u16,
    pub proto: u8,
    pub icmp_kind: u8,
    /// The addresses are IPv6.
    pub v6: bool,
    pub vlan: [u16; 2],
}

/// Tag in the high word of an IPv4 address.
const V4_TAG: u64 = 0x0004_0000_0000_0000;

/// The 16 address bytes as two words: IPv4 in the low word with [`V4_TAG`] in the
/// high one, IPv6 as (low, high) — the words the key hash has always mixed.
fn addr_words(a: u128, v6: bool) -> [u64; 2] {
    let b = a.to_le_bytes();
    let lo = u64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]);
    if v6 {
        let hi = u64::from_le_bytes([b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]]);
        [lo, hi]
    } else {
        [lo, V4_TAG]
    }
}

/// The address [`addr_words`] made `w` from.
fn addr_of(w: [u64; 2], v6: bool) -> IpAddr {
    if v6 {
        IpAddr::V6(Ipv6Addr::from((u128::from(w[1]) << 64) | u128::from(w[0])))
    } else {
        let b = w[0].to_le_bytes();
        IpAddr::V4(Ipv4Addr::from(u32::from_le_bytes([b[0], b[1], b[2], b[3]])))
    }
}

/// Multiplies two words to 128 bits and folds the halves (wyhash's mixing step).
fn mum(a: u64, b: u64) -> u64 {
    let r = u128::from(a) * u128::from(b);
    let w = r.to_le_bytes();
    let lo = u64::from_le_bytes([w[0], w[1], w[2], w[3], w[4], w[5], w[6], w[7]]);
    let hi = u64::from_le_bytes([w[8], w[9], w[10], w[11], w[12], w[13], w[14], w[15]]);
    lo ^ hi
}

/// Ports on which a host is likely the server: the well-known range and common
/// service ports above it (proxies, databases, IRC, alternative HTTP/TLS ports).
pub(crate) fn likely_server_port(p: u16) -> bool {
    p < 1024
        || matches!(
            p,
            1080 | 1433 | 1521 | 1723 | 2049 | 3128 | 3306 | 3389 | 5060 | 5432 | 5900 | 6379 | 6660
                ..=6669 | 6697 | 8000 | 8008 | 8080 | 8081 | 8443 | 8888 | 9200 | 11211 | 27017
        )
}

/// What the key extraction learned about the packet.
#[derive(Copy, Clone, Debug)]
pub(crate) struct PacketKey {
    pub key: LookupKey,
    /// The packet's source is endpoint `a` of the key.
    pub src_is_a: bool,
    pub class: Class,
    /// ICMP type and code.
    pub icmp: Option<(u8, u8)>,
}

/// For ICMP messages that carry an identifier: the request type of the pair.
fn icmp_request_type(v6: bool, ty: u8) -> Option<u8> {
    if v6 {
        match ty {
            128 | 129 => Some(128),
            _ => None,
        }
    } else {
        match ty {
            0 | 8 => Some(8),
            13 | 14 => Some(13),
            15 | 16 => Some(15),
            17 | 18 => Some(17),
            _ => None,
        }
    }
}

impl PacketKey {
    /// The key of a decoded IP packet; `None` when it has no usable transport
    /// header for its protocol (fewer than 4 bytes of TCP/UDP, a truncated ICMP
    /// header, or no IP).
    #[inline]
    pub fn of(pkt: &Decoded<'_>) -> Option<PacketKey> {
        // An address as a number: ordered as `IpAddr` orders addresses of one family.
        let (src, dst, v6, proto) = match &pkt.l3 {
            L3::Ipv4(v) => (
                u128::from(u32::from(v.src)),
                u128::from(u32::from(v.dst)),
                false,
                v.proto,
            ),
            L3::Ipv6(v) => (u128::from(v.src), u128::from(v.dst), true, v.proto),
            _ => return None,
        };
        let (sp, dp, class, kind, icmp) = match (&pkt.l4, proto) {
            (L4::Tcp(t), _) => (t.src_port, t.dst_port, Class::Tcp, 0, None),
            (L4::Udp(u), _) => (u.src_port, u.dst_port, Class::Udp, 0, None),
            (L4::Icmp(i), _) => {
                let tc = (i.icmp_type, i.code);
                match (icmp_request_type(i.v6, i.icmp_type), i.id) {
                    (Some(req), Some(id)) => (id, id, Class::Icmp, req, Some(tc)),
                    _ => {
                        let p = u16::from_be_bytes([i.icmp_type, i.code]);
                        (p, p, Class::Icmp, 255, Some(tc))
                    }
                }
            }
            (L4::Other(_), p) if p != 6 && p != 17 && p != 1 && p != 58 => {
                (0, 0, Class::Other, 0, None)
            }
            // A TCP or UDP header the decoder rejected (a data offset past the segment,
            // a UDP length below 8) still names its ports: the packet counts in that
            // flow, as tshark counts it, without touching TCP state.
            (L4::None, p @ (6 | 17)) => {
                let [a, b, c, d] = *pkt.ip_payload.first_chunk::<4>()?;
                let class = if p == 6 { Class::Tcp } else { Class::Udp };
                (
                    u16::from_be_bytes([a, b]),
                    u16::from_be_bytes([c, d]),
                    class,
                    0,
                    None,
                )
            }
            _ => return None,
        };
        let src_is_a = (src, sp) <= (dst, dp);
        let (a, pa, b, pb) = if src_is_a {
            (src, sp, dst, dp)
        } else {
            (dst, dp, src, sp)
        };
        Some(PacketKey {
            key: LookupKey {
                a: addr_words(a, v6),
                b: addr_words(b, v6),
                pa,
                pb,
                proto,
                icmp_kind: kind,
                v6,
                vlan: pkt.vlan,
            },
            src_is_a,
            class,
            icmp,
        })
    }
}

impl LookupKey {
    /// 32-bit hash: fixed constants (no random seed), a few 64×64→128-bit multiply
    /// folds over the key's words (addresses, ports, protocol, VLANs).
    pub fn hash32(&self) -> u32 {
        let [a0, a1] = self.a;
        let [b0, b1] = self.b;
        let tail = (u64::from(self.pa) << 48)
            | (u64::from(self.pb) << 32)
            | (u64::from(self.proto) << 24)
            | (u64::from(self.icmp_kind) << 16)
            | u64::from(self.vlan[0] ^ self.vlan[1].rotate_left(8));
        let mut h = mum(a0 ^ 0xa076_1d64_78bd_642f, b0 ^ 0xe703_7ed1_a0b4_28db);
        h = mum(h ^ a1, b1 ^ 0x8ebc_6af0_9c88_c6e3);
        h = mum(h ^ tail, u64::from(self.vlan[1]) ^ 0x5899_65cc_7537_4cc3);
        let b = (h ^ (h >> 32)).to_le_bytes();
        u32::from_le_bytes([b[0], b[1], b[2], b[3]])
    }

    /// The model's key, oriented client → server. ICMP flows carry the first
    /// packet's type and code as ports (Suricata style).
    #[inline(always)]
    pub fn flow_key(&self, client_is_a: bool, icmp: Option<(u8, u8)>) -> FlowKey {
        let (src, sp, dst, dp) = if client_is_a {
            (self.a, self.pa, self.b, self.pb)
        } else {
            (self.b, self.pb, self.a, self.pa)
        };
        let (src, dst) = (addr_of(src, self.v6), addr_of(dst, self.v6));
        let (src_port, dst_port) = match icmp {
            Some((t, c)) => (u16::from(t), u16::from(c)),
            None => (sp, dp),
        };
        FlowKey {
            src,
            dst,
            src_port,
            dst_port,
            proto: IpProto(self.proto),
            vlan: self.vlan,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;
    use stormwatch_wire::{IcmpInfo, Ipv4Info, L3, UdpInfo};

    fn v4(src: [u8; 4], dst: [u8; 4], proto: u8) -> L3<'static> {
        L3::Ipv4(Ipv4Info {
            src: Ipv4Addr::from(src),
            dst: Ipv4Addr::from(dst),
            proto,
            ttl: 64,
            id: 0,
            tos: 0,
            dont_frag: false,
            more_frags: false,
            reserved_flag: false,
            frag_offset: 0,
            header_len: 20,
            total_len: 28,
            checksum: 0,
            options: &[],
        })
    }

    fn udp(src_port: u16, dst_port: u16) -> L4<'static> {
        L4::Udp(UdpInfo {
            src_port,
            dst_port,
            len: 8,
            checksum: 0,
        })
    }

    #[test]
    fn both_directions_share_a_key() {
        let mut p = Decoded {
            l3: v4([10, 0, 0, 1], [10, 0, 0, 2], 17),
            l4: udp(1000, 53),
            ..Default::default()
        };
        let k1 = PacketKey::of(&p).unwrap();
        p.l3 = v4([10, 0, 0, 2], [10, 0, 0, 1], 17);
        p.l4 = udp(53, 1000);
        let k2 = PacketKey::of(&p).unwrap();
        assert_eq!(k1.key, k2.key);
        assert_ne!(k1.src_is_a, k2.src_is_a);
        assert_eq!(k1.key.hash32(), k2.key.hash32());
        let fk = k1.key.flow_key(k1.src_is_a, None);
        assert_eq!(fk.src_port, 1000);
        assert_eq!(fk.dst_port, 53);
    }

    #[test]
    fn echo_request_and_reply_share_a_key_by_id() {
        let icmp = |ty: u8, id: u16| IcmpInfo {
            icmp_type: ty,
            code: 0,
            id: Some(id),
            seq: Some(1),
            v6: false,
            quoted: None,
        };
        let mut p = Decoded {
            l3: v4([1, 1, 1, 1], [2, 2, 2, 2], 1),
            l4: L4::Icmp(icmp(8, 77)),
            ..Default::default()
        };
        let req = PacketKey::of(&p).unwrap();
        p.l3 = v4([2, 2, 2, 2], [1, 1, 1, 1], 1);
        p.l4 = L4::Icmp(icmp(0, 77));
        let rep = PacketKey::of(&p).unwrap();
        assert_eq!(req.key, rep.key);
        p.l4 = L4::Icmp(icmp(0, 78));
        assert_ne!(PacketKey::of(&p).unwrap().key, req.key);
    }

    #[test]
    fn hash_spreads_sequential_keys() {
        // One million keys differing in a few low bits must land in distinct buckets of
        // a 2^21 table about as often as random values do.
        let mut seen = vec![0u8; 1 << 21];
        let mut max = 0u8;
        for i in 0..1_000_000u32 {
            let k = LookupKey {
                a: addr_words(u128::from(0x0a00_0000 | (i >> 8)), false),
                b: addr_words(u128::from(0xc0a8_0000 | (i & 0xff)), false),
                pa: 1024 + (i % 50_000) as u16,
                pb: 80,
                proto: 6,
                icmp_kind: 0,
                v6: false,
                vlan: [0, 0],
            };
            let slot = &mut seen[(k.hash32() & ((1 << 21) - 1)) as usize];
            *slot += 1;
            max = max.max(*slot);
        }
        let used = seen.iter().filter(|&&n| n > 0).count();
        // Random: 2^21 * (1 - e^(-1e6 / 2^21)) ≈ 791k buckets used, max load ≈ 8.
        assert!(used > 770_000, "{used} buckets used");
        assert!(max <= 12, "max bucket load {max}");
    }

    #[test]
    fn addresses_come_back_as_they_went_in() {
        let v6: Ipv6Addr = "4::1:2".parse().unwrap();
        let mut p = Decoded {
            l3: v4([10, 0, 0, 1], [0, 1, 0, 2], 17),
            l4: udp(1000, 53),
            ..Default::default()
        };
        let k4 = PacketKey::of(&p).unwrap();
        let fk = k4.key.flow_key(k4.src_is_a, None);
        assert_eq!(fk.src, IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)));
        assert_eq!(fk.dst, IpAddr::V4(Ipv4Addr::new(0, 1, 0, 2)));
        // The IPv6 address whose words equal those of 0.1.0.2 is another endpoint.
        p.l3 = L3::Ipv6(stormwatch_wire::Ipv6Info {
            src: "::a00:1".parse().unwrap(),
            dst: v6,
            proto: 17,
            hop_limit: 64,
            traffic_class: 0,
            flow_label: 0,
            payload_len: 8,
            header_len: 40,
            frag: None,
            ext_count: 0,
        });
        let k6 = PacketKey::of(&p).unwrap();
        assert_ne!(k6.key, k4.key);
        let fk = k6.key.flow_key(k6.src_is_a, None);
        assert_eq!(fk.dst, IpAddr::V6(v6));
        assert_eq!(fk.src, "::a00:1".parse::<IpAddr>().unwrap());
        // Orientation follows the addresses' order, as `IpAddr` orders them.
        assert!(k4.src_is_a == (Ipv4Addr::new(10, 0, 0, 1) <= Ipv4Addr::new(0, 1, 0, 2)));
    }

    #[test]
    fn truncated_transport_has_no_key() {
        let mut p = Decoded {
            l3: v4([1, 1, 1, 1], [2, 2, 2, 2], 6),
            l4: L4::None,
            ..Default::default()
        };
        assert!(PacketKey::of(&p).is_none(), "no bytes: no ports");
        p.ip_payload = &[0, 1, 0, 2, 0];
        let k = PacketKey::of(&p).unwrap();
        assert_eq!((k.class, k.key.pa, k.key.pb), (Class::Tcp, 1, 2));
        p.l4 = L4::Other(47);
        p.l3 = v4([1, 1, 1, 1], [2, 2, 2, 2], 47);
        assert_eq!(PacketKey::of(&p).unwrap().class, Class::Other);
    }
}
