//! Frame builders for the unit tests (correct lengths and checksums unless a
//! test breaks them on purpose).

use crate::{checksum, ipv4_pseudo_checksum, ipv6_pseudo_checksum};
use std::net::{Ipv4Addr, Ipv6Addr};

pub const MAC_A: [u8; 6] = [0x00, 0x11, 0x22, 0x33, 0x44, 0x55];
pub const MAC_B: [u8; 6] = [0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb];
pub const A4: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 1);
pub const B4: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 7);
pub const A6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1);
pub const B6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 2);

/// Ethernet II frame.
pub fn eth(ethertype: u16, payload: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(14 + payload.len());
    v.extend_from_slice(&MAC_B);
    v.extend_from_slice(&MAC_A);
    v.extend_from_slice(&ethertype.to_be_bytes());
    v.extend_from_slice(payload);
    v
}

/// A VLAN tag (TPID is the ethertype of the enclosing header): TCI + inner type.
pub fn vlan_tag(id: u16, inner: u16, payload: &[u8]) -> Vec<u8> {
    let mut v = Vec::new();
    v.extend_from_slice(&(id | 0x2000).to_be_bytes()); // PCP 1
    v.extend_from_slice(&inner.to_be_bytes());
    v.extend_from_slice(payload);
    v
}

/// IPv4 header fields a test may want to set.
#[derive(Clone)]
pub struct V4 {
    pub src: Ipv4Addr,
    pub dst: Ipv4Addr,
    pub proto: u8,
    pub ttl: u8,
    pub id: u16,
    pub options: Vec<u8>,
    /// Flags and fragment offset field (raw 16 bits).
    pub frag: u16,
    /// Overrides the total length field.
    pub total_len: Option<u16>,
}

impl V4 {
    pub fn new(proto: u8) -> Self {
        V4 {
            src: A4,
            dst: B4,
            proto,
            ttl: 64,
            id: 0x1234,
            options: Vec::new(),
            frag: 0x4000,
            total_len: None,
        }
    }

    pub fn build(&self, payload: &[u8]) -> Vec<u8> {
        assert!(self.options.len().is_multiple_of(4));
        let hlen = 20 + self.options.len();
        let total = self
            .total_len
            .unwrap_or((hlen + payload.len()).try_into().unwrap());
        let mut v = vec![0x40 | (hlen / 4) as u8, 0];
        v.extend_from_slice(&total.to_be_bytes());
        v.extend_from_slice(&self.id.to_be_bytes());
        v.extend_from_slice(&self.frag.to_be_bytes());
        v.push(self.ttl);
        v.push(self.proto);
        v.extend_from_slice(&[0, 0]);
        v.extend_from_slice(&self.src.octets());
        v.extend_from_slice(&self.dst.octets());
        v.extend_from_slice(&self.options);
        let ck = checksum(&v).to_be_bytes();
        v[10] = ck[0];
        v[11] = ck[1];
        v.extend_from_slice(payload);
        v
    }
}

/// IPv4 packet with default header fields.
pub fn ipv4(proto: u8, payload: &[u8]) -> Vec<u8> {
    V4::new(proto).build(payload)
}

/// IPv6 packet: `nh` is the first next-header, `payload` everything after the
/// fixed header (extension headers included).
pub fn ipv6(nh: u8, payload: &[u8]) -> Vec<u8> {
    ipv6_len(nh, payload, payload.len().try_into().unwrap())
}

/// IPv6 packet with an explicit payload length field.
pub fn ipv6_len(nh: u8, payload: &[u8], plen: u16) -> Vec<u8> {
    let mut v = vec![0x60, 0x0a, 0xbc, 0xde];
    v.extend_from_slice(&plen.to_be_bytes());
    v.push(nh);
    v.push(57);
    v.extend_from_slice(&A6.octets());
    v.extend_from_slice(&B6.octets());
    v.extend_from_slice(payload);
    v
}

/// An IPv6 extension header of the hop-by-hop/destination/routing format,
/// padded with PadN to a multiple of 8 bytes.
pub fn ext(next: u8, body: &[u8]) -> Vec<u8> {
    let mut v = vec![next, 0];
    v.extend_from_slice(body);
    let pad = (8 - v.len() % 8) % 8;
    match pad {
        0 => {}
        1 => v.push(0),
        n => {
            v.push(1);
            v.push((n - 2) as u8);
            v.extend(std::iter::repeat_n(0, n - 2));
        }
    }
    v[1] = (v.len() / 8 - 1) as u8;
    v
}

/// An IPv6 fragment header.
pub fn frag6(next: u8, offset: u16, more: bool, id: u32) -> Vec<u8> {
    let mut v = vec![next, 0];
    v.extend_from_slice(&(offset | u16::from(more)).to_be_bytes());
    v.extend_from_slice(&id.to_be_bytes());
    v
}

/// Where a transport checksum is computed from.
#[derive(Clone, Copy)]
pub enum Pseudo {
    V4(Ipv4Addr, Ipv4Addr),
    V6(Ipv6Addr, Ipv6Addr),
}

pub const P4: Pseudo = Pseudo::V4(A4, B4);
pub const P6: Pseudo = Pseudo::V6(A6, B6);

fn fill_checksum(seg: &mut [u8], at: usize, proto: u8, p: Pseudo) {
    let ck = match p {
        Pseudo::V4(s, d) => ipv4_pseudo_checksum(s, d, proto, seg),
        Pseudo::V6(s, d) => ipv6_pseudo_checksum(s, d, proto, seg),
    };
    seg[at..at + 2].copy_from_slice(&ck.to_be_bytes());
}

/// TCP segment with options (padded to 4 bytes with NOPs... EOL-free) and a
/// correct checksum for `p`.
pub fn tcp(sport: u16, dport: u16, flags: u8, opts: &[u8], payload: &[u8], p: Pseudo) -> Vec<u8> {
    let mut o = opts.to_vec();
    while !o.len().is_multiple_of(4) {
        o.push(0);
    }
    let hlen = 20 + o.len();
    let mut v = Vec::new();
    v.extend_from_slice(&sport.to_be_bytes());
    v.extend_from_slice(&dport.to_be_bytes());
    v.extend_from_slice(&1000u32.to_be_bytes());
    v.extend_from_slice(&2000u32.to_be_bytes());
    v.push(((hlen / 4) as u8) << 4);
    v.push(flags);
    v.extend_from_slice(&65535u16.to_be_bytes());
    v.extend_from_slice(&[0, 0, 0, 0]);
    v.extend_from_slice(&o);
    v.extend_from_slice(payload);
    fill_checksum(&mut v, 16, 6, p);
    v
}

/// UDP datagram with a correct length and checksum for `p`.
pub fn udp(sport: u16, dport: u16, payload: &[u8], p: Pseudo) -> Vec<u8> {
    let mut v = Vec::new();
    v.extend_from_slice(&sport.to_be_bytes());
    v.extend_from_slice(&dport.to_be_bytes());
    v.extend_from_slice(&((8 + payload.len()) as u16).to_be_bytes());
    v.extend_from_slice(&[0, 0]);
    v.extend_from_slice(payload);
    fill_checksum(&mut v, 6, 17, p);
    v
}

/// ICMPv4 message with a correct checksum.
pub fn icmp4(t: u8, code: u8, rest: [u8; 4], body: &[u8]) -> Vec<u8> {
    let mut v = vec![t, code, 0, 0];
    v.extend_from_slice(&rest);
    v.extend_from_slice(body);
    let ck = checksum(&v).to_be_bytes();
    v[2..4].copy_from_slice(&ck);
    v
}

/// ICMPv6 message with a correct checksum (A6 -> B6).
pub fn icmp6(t: u8, code: u8, rest: [u8; 4], body: &[u8]) -> Vec<u8> {
    let mut v = vec![t, code, 0, 0];
    v.extend_from_slice(&rest);
    v.extend_from_slice(body);
    fill_checksum(&mut v, 2, 58, P6);
    v
}

/// The common case: Ethernet / IPv4 / TCP with `payload`.
pub fn eth_v4_tcp(payload: &[u8]) -> Vec<u8> {
    eth(0x0800, &ipv4(6, &tcp(40000, 80, 0x18, &[], payload, P4)))
}

/// A small deterministic byte generator (xorshift) for random-input tests.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    pub fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next() as u8).collect()
    }
}

/// The anomalies decoding `f` yields.
pub fn anoms(link: crate::LinkType, f: &[u8]) -> Vec<crate::DecodeAnomaly> {
    crate::decode_frame(link, f).anomalies.iter().collect()
}

/// A little-endian µs pcap file of `frames` with link type `link`.
pub fn pcap_file(link: u32, frames: &[Vec<u8>]) -> Vec<u8> {
    let mut v = vec![0xd4, 0xc3, 0xb2, 0xa1, 2, 0, 4, 0];
    v.extend([0; 8]);
    v.extend(262_144u32.to_le_bytes());
    v.extend(link.to_le_bytes());
    for (i, f) in frames.iter().enumerate() {
        v.extend((1_000_000 + i as u32).to_le_bytes());
        v.extend(0u32.to_le_bytes());
        v.extend((f.len() as u32).to_le_bytes());
        v.extend((f.len() as u32).to_le_bytes());
        v.extend(f);
    }
    v
}
