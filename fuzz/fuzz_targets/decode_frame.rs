//! The frame decoder on arbitrary bytes: the first byte picks the link type,
//! the second whether the frame was cut by a snaplen. Checks the decoder's
//! promises: no panic, the payload is a slice of the frame, the checksum
//! helpers answer, and the shortcut for the common frame shape gives what
//! the general decoder gives.
#![no_main]

use libfuzzer_sys::fuzz_target;
use stormwatch_wire::*;

const LINKS: [LinkType; 10] = [
    LinkType::ETHERNET,
    LinkType::NULL,
    LinkType::LOOP,
    LinkType::RAW,
    LinkType::RAW_DLT12,
    LinkType::IPV4,
    LinkType::IPV6,
    LinkType::LINUX_SLL,
    LinkType::LINUX_SLL2,
    LinkType(147),
];

fuzz_target!(|data: &[u8]| {
    let Some((&sel, rest)) = data.split_first() else {
        return;
    };
    let Some((&snap, frame)) = rest.split_first() else {
        return;
    };
    let link = LINKS[usize::from(sel) % LINKS.len()];
    // Half the time, claim the capture cut up to 255 more bytes.
    let orig = if snap & 1 == 1 {
        frame.len() as u32 + u32::from(snap >> 1)
    } else {
        0
    };
    let d = decode_frame_with_orig_len(link, frame, orig);
    let range = frame.as_ptr_range();
    for s in [d.payload, d.ip_payload, d.ip_header] {
        if !s.is_empty() {
            assert!(range.contains(&s.as_ptr()));
            assert!(s.len() <= frame.len());
        }
    }
    assert!(d.tunnel_depth <= MAX_TUNNEL_DEPTH);
    let mut g = Decoded::default();
    decode_frame_general_into(&mut g, link, frame, orig);
    assert_eq!(format!("{d:?}"), format!("{g:?}"));
    let at = |s: &[u8]| (s.as_ptr(), s.len());
    assert_eq!(at(d.ip_header), at(g.ip_header));
    assert_eq!(at(d.ip_payload), at(g.ip_payload));
    assert_eq!(at(d.payload), at(g.payload));
    let _ = (
        ipv4_header_checksum_ok(&d),
        tcp_checksum_ok(&d),
        udp_checksum_ok(&d),
        icmp_checksum_ok(&d),
    );
    for a in d.anomalies.iter() {
        assert!(a.name().starts_with("decoder."));
    }
    if let L4::Tcp(t) = d.l4 {
        let _ = parse_tcp_options(t.options);
    }
    let _ = ipv6_unfragmentable(d.ip_header);
    // The reassembly entry point on the same bytes.
    let _ = decode_ip(frame);
});
