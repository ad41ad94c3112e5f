//! Cross-check with the project's own decoder: every frame of every built-in
//! decodes without a decode anomaly (IP fragments aside), and every checksum
//! verifies.

use crate::cached;
use stormwatch_sim::builtin_names;
use stormwatch_wire::{
    LinkType, decode_frame, icmp_checksum_ok, ipv4_header_checksum_ok, tcp_checksum_ok,
    udp_checksum_ok,
};

#[test]
fn every_builtin_frame_decodes_cleanly() {
    for name in builtin_names() {
        let g = cached(name);
        let p = &g.pcap;
        let mut off = 24;
        let mut n = 0;
        while off + 16 <= p.len() {
            let len = u32::from_le_bytes(p[off + 8..off + 12].try_into().unwrap()) as usize;
            let f = &p[off + 16..off + 16 + len];
            let d = decode_frame(LinkType::ETHERNET, f);
            let anomalies: Vec<_> = d.anomalies.iter().collect();
            // IP fragments are exempt: an 8-byte first fragment cannot hold a
            // TCP header by design (the tiny-fragment evasion of pct-evasion).
            let frag = u16::from_be_bytes([f[20], f[21]]) & 0x3fff != 0;
            assert!(
                frag || anomalies.is_empty(),
                "{name} frame {n}: {anomalies:?}"
            );
            assert_eq!(
                ipv4_header_checksum_ok(&d),
                Some(true),
                "{name} frame {n}: IP checksum"
            );
            if !d.payload_partial {
                for ok in [
                    tcp_checksum_ok(&d),
                    udp_checksum_ok(&d),
                    icmp_checksum_ok(&d),
                ] {
                    assert_ne!(ok, Some(false), "{name} frame {n}: transport checksum");
                }
            }
            off += 16 + len;
            n += 1;
        }
        assert_eq!(n, g.frames, "{name}");
    }
}
