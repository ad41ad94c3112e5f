//! Packet builders: Ethernet II, IPv4 (with fragmentation), TCP, UDP and ICMP,
//! all with correct checksums.
//!
//! A [`Pkt`] is one IP datagram as the simulator means it; [`Pkt::emit`] turns it
//! into one Ethernet frame, or several when the datagram is fragmented.

use std::net::Ipv4Addr;

/// TCP flag bits.
pub(crate) mod flags {
    pub const FIN: u8 = 0x01;
    pub const SYN: u8 = 0x02;
    pub const RST: u8 = 0x04;
    pub const PSH: u8 = 0x08;
    pub const ACK: u8 = 0x10;
}

/// IP protocol numbers.
pub(crate) const PROTO_ICMP: u8 = 1;
pub(crate) const PROTO_TCP: u8 = 6;
pub(crate) const PROTO_UDP: u8 = 17;

/// Smallest Ethernet frame without FCS; shorter frames are padded with zeros.
pub(crate) const ETH_MIN_FRAME: usize = 60;

/// How the IP identification field is chosen.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) enum IpId {
    /// The sending host's counter, assigned in capture order after all
    /// activities are merged (Windows-style global counter).
    Host,
    /// A value the activity chose (tool fingerprints, random IDs).
    Fixed(u16),
}

/// How a datagram is cut into IP fragments.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) struct FragPlan {
    /// Payload bytes per fragment (rounded down to a multiple of 8, at least 8).
    pub size: usize,
    /// Send the fragments last-first.
    pub reverse: bool,
}

/// A TCP segment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct TcpSeg {
    pub sport: u16,
    pub dport: u16,
    pub seq: u32,
    pub ack: u32,
    pub flags: u8,
    pub window: u16,
    /// Raw option bytes (padded to a multiple of 4 by the emitter).
    pub options: Vec<u8>,
    pub payload: Vec<u8>,
}

/// The transport part of a datagram.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum L4 {
    Tcp(TcpSeg),
    Udp {
        sport: u16,
        dport: u16,
        payload: Vec<u8>,
    },
    Icmp {
        typ: u8,
        code: u8,
        /// The 4 bytes after the checksum (id/seq for echo, unused for errors).
        rest: [u8; 4],
        payload: Vec<u8>,
    },
}

impl L4 {
    fn proto(&self) -> u8 {
        match self {
            L4::Tcp(_) => PROTO_TCP,
            L4::Udp { .. } => PROTO_UDP,
            L4::Icmp { .. } => PROTO_ICMP,
        }
    }
}

/// One IP datagram with its capture time.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Pkt {
    /// Capture time, nanoseconds since the epoch (written with µs precision).
    pub ts: i64,
    pub src: Ipv4Addr,
    pub dst: Ipv4Addr,
    pub ttl: u8,
    pub ip_id: IpId,
    pub df: bool,
    pub frag: Option<FragPlan>,
    pub l4: L4,
}

/// The Internet checksum (RFC 1071) of `data`, continuing from `sum`.
pub(crate) fn checksum_add(mut sum: u32, data: &[u8]) -> u32 {
    let mut chunks = data.chunks_exact(2);
    for c in &mut chunks {
        sum = sum.wrapping_add(u32::from(u16::from_be_bytes([c[0], c[1]])));
        // Fold early so the sum never overflows on large buffers.
        if sum > 0xffff_0000 {
            sum = (sum & 0xffff) + (sum >> 16);
        }
    }
    if let [last] = chunks.remainder() {
        sum = sum.wrapping_add(u32::from(*last) << 8);
    }
    sum
}

/// Folds a running sum into the final one's-complement checksum.
pub(crate) fn checksum_finish(mut sum: u32) -> u16 {
    while sum >> 16 != 0 {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// The Internet checksum of `data`.
pub(crate) fn checksum(data: &[u8]) -> u16 {
    checksum_finish(checksum_add(0, data))
}

fn pseudo_header_sum(src: Ipv4Addr, dst: Ipv4Addr, proto: u8, len: usize) -> u32 {
    let mut sum = checksum_add(0, &src.octets());
    sum = checksum_add(sum, &dst.octets());
    sum = sum.wrapping_add(u32::from(proto));
    sum.wrapping_add(len as u32)
}

/// The MAC address the simulator gives a host: locally administered, derived
/// from the IPv4 address (`02:00:a.b.c.d`).
pub(crate) fn mac_of(ip: Ipv4Addr) -> [u8; 6] {
    let o = ip.octets();
    [0x02, 0x00, o[0], o[1], o[2], o[3]]
}

/// MAC of the border router through which every external host is reached.
pub(crate) const ROUTER_MAC: [u8; 6] = [0x02, 0x52, 0x54, 0x00, 0x00, 0x01];

/// Appends the TCP header and payload (checksum filled) for `seg`.
pub(crate) fn emit_tcp(src: Ipv4Addr, dst: Ipv4Addr, seg: &TcpSeg, out: &mut Vec<u8>) {
    let start = out.len();
    let opt_len = seg.options.len().div_ceil(4) * 4;
    let hdr_len = 20 + opt_len;
    out.extend_from_slice(&seg.sport.to_be_bytes());
    out.extend_from_slice(&seg.dport.to_be_bytes());
    out.extend_from_slice(&seg.seq.to_be_bytes());
    out.extend_from_slice(&seg.ack.to_be_bytes());
    out.push(((hdr_len / 4) as u8) << 4);
    out.push(seg.flags);
    out.extend_from_slice(&seg.window.to_be_bytes());
    out.extend_from_slice(&[0, 0, 0, 0]); // checksum, urgent pointer
    out.extend_from_slice(&seg.options);
    out.resize(start + hdr_len, 0); // EOL padding
    out.extend_from_slice(&seg.payload);
    let len = out.len() - start;
    let sum = checksum_add(pseudo_header_sum(src, dst, PROTO_TCP, len), &out[start..]);
    let c = checksum_finish(sum).to_be_bytes();
    out[start + 16] = c[0];
    out[start + 17] = c[1];
}

/// Appends a UDP header and payload (checksum filled).
pub(crate) fn emit_udp(
    src: Ipv4Addr,
    dst: Ipv4Addr,
    sport: u16,
    dport: u16,
    payload: &[u8],
    out: &mut Vec<u8>,
) {
    let start = out.len();
    let len = 8 + payload.len();
    out.extend_from_slice(&sport.to_be_bytes());
    out.extend_from_slice(&dport.to_be_bytes());
    out.extend_from_slice(&(len as u16).to_be_bytes());
    out.extend_from_slice(&[0, 0]);
    out.extend_from_slice(payload);
    let sum = checksum_add(pseudo_header_sum(src, dst, PROTO_UDP, len), &out[start..]);
    let mut c = checksum_finish(sum);
    if c == 0 {
        c = 0xffff;
    }
    let c = c.to_be_bytes();
    out[start + 6] = c[0];
    out[start + 7] = c[1];
}

/// Appends an ICMP message (checksum filled).
pub(crate) fn emit_icmp(typ: u8, code: u8, rest: [u8; 4], payload: &[u8], out: &mut Vec<u8>) {
    let start = out.len();
    out.extend_from_slice(&[typ, code, 0, 0]);
    out.extend_from_slice(&rest);
    out.extend_from_slice(payload);
    let c = checksum(&out[start..]).to_be_bytes();
    out[start + 2] = c[0];
    out[start + 3] = c[1];
}

/// Appends a 20-byte IPv4 header (checksum filled).
#[allow(clippy::too_many_arguments)]
pub(crate) fn emit_ipv4_header(
    src: Ipv4Addr,
    dst: Ipv4Addr,
    proto: u8,
    ttl: u8,
    id: u16,
    df: bool,
    more_frags: bool,
    frag_offset_bytes: usize,
    payload_len: usize,
    out: &mut Vec<u8>,
) {
    let start = out.len();
    let total = 20 + payload_len;
    let mut fl: u16 = ((frag_offset_bytes / 8) & 0x1fff) as u16;
    if df {
        fl |= 0x4000;
    }
    if more_frags {
        fl |= 0x2000;
    }
    out.push(0x45);
    out.push(0);
    out.extend_from_slice(&(total as u16).to_be_bytes());
    out.extend_from_slice(&id.to_be_bytes());
    out.extend_from_slice(&fl.to_be_bytes());
    out.push(ttl);
    out.push(proto);
    out.extend_from_slice(&[0, 0]);
    out.extend_from_slice(&src.octets());
    out.extend_from_slice(&dst.octets());
    let c = checksum(&out[start..start + 20]).to_be_bytes();
    out[start + 10] = c[0];
    out[start + 11] = c[1];
}

fn eth_header(src_mac: [u8; 6], dst_mac: [u8; 6], out: &mut Vec<u8>) {
    out.extend_from_slice(&dst_mac);
    out.extend_from_slice(&src_mac);
    out.extend_from_slice(&0x0800u16.to_be_bytes());
}

impl Pkt {
    /// The transport header plus payload, as it follows the IP header.
    pub(crate) fn transport_bytes(&self) -> Vec<u8> {
        let mut t = Vec::with_capacity(64);
        match &self.l4 {
            L4::Tcp(seg) => emit_tcp(self.src, self.dst, seg, &mut t),
            L4::Udp {
                sport,
                dport,
                payload,
            } => emit_udp(self.src, self.dst, *sport, *dport, payload, &mut t),
            L4::Icmp {
                typ,
                code,
                rest,
                payload,
            } => emit_icmp(*typ, *code, *rest, payload, &mut t),
        }
        t
    }

    /// Serialises the datagram into Ethernet frames (several when fragmented),
    /// calling `frame` for each.
    pub(crate) fn emit(
        &self,
        id: u16,
        src_mac: [u8; 6],
        dst_mac: [u8; 6],
        mut frame: impl FnMut(&[u8]),
    ) {
        let t = self.transport_bytes();
        let proto = self.l4.proto();
        let mut buf = Vec::with_capacity(14 + 20 + t.len());
        let mut one = |off: usize, chunk: &[u8], more: bool, buf: &mut Vec<u8>| {
            buf.clear();
            eth_header(src_mac, dst_mac, buf);
            emit_ipv4_header(
                self.src,
                self.dst,
                proto,
                self.ttl,
                id,
                self.df && self.frag.is_none(),
                more,
                off,
                chunk.len(),
                buf,
            );
            buf.extend_from_slice(chunk);
            if buf.len() < ETH_MIN_FRAME {
                buf.resize(ETH_MIN_FRAME, 0);
            }
            frame(buf);
        };
        match self.frag {
            Some(plan) if t.len() > plan.size.max(8) => {
                let size = (plan.size.max(8) / 8) * 8;
                let pieces: Vec<(usize, &[u8])> = t
                    .chunks(size)
                    .enumerate()
                    .map(|(i, c)| (i * size, c))
                    .collect();
                let n = pieces.len();
                let order: Vec<usize> = if plan.reverse {
                    (0..n).rev().collect()
                } else {
                    (0..n).collect()
                };
                for i in order {
                    let (off, chunk) = pieces[i];
                    one(off, chunk, i + 1 < n, &mut buf);
                }
            }
            _ => one(0, &t, false, &mut buf),
        }
    }
}

/// TCP option builders.
pub(crate) mod opt {
    /// Maximum segment size.
    pub fn mss(v: u16) -> [u8; 4] {
        let b = v.to_be_bytes();
        [2, 4, b[0], b[1]]
    }
    /// Window scale.
    pub fn wscale(shift: u8) -> [u8; 3] {
        [3, 3, shift]
    }
    /// SACK permitted.
    pub const SACK_PERM: [u8; 2] = [4, 2];
    /// No-operation.
    pub const NOP: u8 = 1;
    /// Timestamps.
    pub fn timestamps(val: u32, ecr: u32) -> [u8; 10] {
        let v = val.to_be_bytes();
        let e = ecr.to_be_bytes();
        [8, 10, v[0], v[1], v[2], v[3], e[0], e[1], e[2], e[3]]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checksum_of_known_ipv4_header_is_zero_when_verified() {
        let mut out = Vec::new();
        emit_ipv4_header(
            Ipv4Addr::new(192, 168, 0, 1),
            Ipv4Addr::new(192, 168, 0, 199),
            PROTO_TCP,
            64,
            0x1c46,
            true,
            false,
            0,
            40,
            &mut out,
        );
        // Verifying a header with its checksum in place yields zero.
        assert_eq!(checksum(&out), 0);
        // Version/IHL, TOS and the total length of 20 + 40 bytes.
        assert_eq!(&out[..4], &[0x45, 0, 0, 60]);
    }

    #[test]
    fn tcp_checksum_verifies_with_pseudo_header() {
        let src = Ipv4Addr::new(10, 0, 0, 1);
        let dst = Ipv4Addr::new(10, 0, 0, 2);
        let seg = TcpSeg {
            sport: 1234,
            dport: 80,
            seq: 1,
            ack: 2,
            flags: flags::ACK | flags::PSH,
            window: 1000,
            options: vec![1, 1, 8, 10, 0, 0, 0, 1, 0, 0, 0, 2],
            payload: b"hello!!".to_vec(),
        };
        let mut t = Vec::new();
        emit_tcp(src, dst, &seg, &mut t);
        assert_eq!(t.len(), 32 + 7);
        let sum = checksum_add(pseudo_header_sum(src, dst, PROTO_TCP, t.len()), &t);
        assert_eq!(checksum_finish(sum), 0);
    }

    #[test]
    fn fragments_cover_the_datagram_in_multiples_of_eight() {
        let p = Pkt {
            ts: 0,
            src: Ipv4Addr::new(1, 2, 3, 4),
            dst: Ipv4Addr::new(5, 6, 7, 8),
            ttl: 64,
            ip_id: IpId::Fixed(7),
            df: true,
            frag: Some(FragPlan {
                size: 8,
                reverse: false,
            }),
            l4: L4::Udp {
                sport: 1,
                dport: 2,
                payload: vec![0xaa; 30],
            },
        };
        let mut frames = Vec::new();
        p.emit(7, [0; 6], [1; 6], |f| frames.push(f.to_vec()));
        // 8-byte UDP header + 30 bytes = 38 bytes → 5 fragments.
        assert_eq!(frames.len(), 5);
        let mut total = 0;
        for (i, f) in frames.iter().enumerate() {
            let ip = &f[14..34];
            assert_eq!(checksum(ip), 0);
            let fl = u16::from_be_bytes([ip[6], ip[7]]);
            assert_eq!(usize::from(fl & 0x1fff) * 8, i * 8);
            assert_eq!(fl & 0x2000 != 0, i + 1 < frames.len());
            assert_eq!(fl & 0x4000, 0, "fragments never carry DF");
            total += usize::from(u16::from_be_bytes([ip[2], ip[3]])) - 20;
        }
        assert_eq!(total, 38);
    }

    #[test]
    fn short_frames_are_padded() {
        let p = Pkt {
            ts: 0,
            src: Ipv4Addr::new(1, 2, 3, 4),
            dst: Ipv4Addr::new(5, 6, 7, 8),
            ttl: 64,
            ip_id: IpId::Fixed(1),
            df: false,
            frag: None,
            l4: L4::Tcp(TcpSeg {
                sport: 1,
                dport: 2,
                seq: 0,
                ack: 0,
                flags: flags::SYN,
                window: 1024,
                options: vec![],
                payload: vec![],
            }),
        };
        let mut n = 0;
        p.emit(1, [0; 6], [1; 6], |f| {
            n += 1;
            assert_eq!(f.len(), ETH_MIN_FRAME);
            // IP total length still says 40.
            assert_eq!(u16::from_be_bytes([f[16], f[17]]), 40);
        });
        assert_eq!(n, 1);
    }
}
