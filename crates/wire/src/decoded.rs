//! The decoded view of one frame.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// A capture's link-layer type (pcap `LINKTYPE_*`), kept open.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub struct LinkType(pub u32);

impl LinkType {
    /// BSD loopback (4-byte host-endian address family).
    pub const NULL: LinkType = LinkType(0);
    /// Ethernet.
    pub const ETHERNET: LinkType = LinkType(1);
    /// Raw IP (DLT 12 on some systems).
    pub const RAW_DLT12: LinkType = LinkType(12);
    /// Raw IP.
    pub const RAW: LinkType = LinkType(101);
    /// OpenBSD loopback (network-endian address family).
    pub const LOOP: LinkType = LinkType(108);
    /// Linux cooked v1.
    pub const LINUX_SLL: LinkType = LinkType(113);
    /// Raw IPv4.
    pub const IPV4: LinkType = LinkType(228);
    /// Raw IPv6.
    pub const IPV6: LinkType = LinkType(229);
    /// Linux cooked v2.
    pub const LINUX_SLL2: LinkType = LinkType(276);
}

/// A named decode oddity. Names follow Suricata's decoder events where one exists.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum DecodeAnomaly {
    /// Link type not supported.
    UnsupportedLinkType,
    /// Ethernet header truncated.
    EthernetPktTooSmall,
    /// VLAN header truncated.
    VlanHeaderTooSmall,
    /// More than two VLAN tags.
    VlanTooManyLayers,
    /// Linux cooked header truncated.
    SllPktTooSmall,
    /// NULL/loopback header truncated or unknown family.
    NullPktTooSmall,
    /// Unknown EtherType (not an error for non-IP traffic; counted).
    UnknownEthertype,
    /// IPv4 packet shorter than its header.
    Ipv4PktTooSmall,
    /// IPv4 header length < 20.
    Ipv4HlenTooSmall,
    /// IPv4 total length < header length.
    Ipv4IplenSmallerThanHlen,
    /// Captured bytes shorter than IPv4 total length.
    Ipv4TruncPkt,
    /// IPv4 option malformed.
    Ipv4OptInvalid,
    /// IPv4 option length wrong.
    Ipv4OptInvalidLen,
    /// Version nibble is not 4 in an IPv4 context.
    Ipv4WrongIpVer,
    /// IPv6 packet shorter than its fixed header.
    Ipv6PktTooSmall,
    /// Captured bytes shorter than IPv6 payload length.
    Ipv6TruncPkt,
    /// Version nibble is not 6 in an IPv6 context.
    Ipv6WrongIpVer,
    /// Extension header truncated or malformed.
    Ipv6ExthdrInvalid,
    /// Duplicate extension header.
    Ipv6ExthdrDupl,
    /// TCP segment shorter than 20 bytes.
    TcpPktTooSmall,
    /// TCP data offset < 5 or beyond the segment.
    TcpHlenTooSmall,
    /// A TCP option kind at the end of the options without its length byte.
    TcpInvalidOptlen,
    /// A TCP option whose length byte is < 2, runs past the header, or is wrong for
    /// its kind (Suricata `TCP_OPT_INVALID_LEN`).
    TcpOptInvalid,
    /// Duplicate TCP option.
    TcpOptDuplicate,
    /// UDP datagram shorter than 8 bytes.
    UdpPktTooSmall,
    /// UDP length field disagrees with the IP payload.
    UdpHlenInvalid,
    /// ICMPv4 shorter than its header.
    Icmpv4PktTooSmall,
    /// Unknown ICMPv4 type.
    Icmpv4UnknownType,
    /// ICMPv6 shorter than its header.
    Icmpv6PktTooSmall,
    /// Unknown ICMPv6 type.
    Icmpv6UnknownType,
    /// GRE header truncated or unsupported version.
    GrePktTooSmall,
    /// GRE version not supported.
    GreVersionWrong,
    /// Tunnel nesting deeper than the decoder follows.
    TunnelTooDeep,
    /// Frame truncated by the capture's snaplen.
    CaptureTruncated,
    /// NULL/loopback address family is neither IPv4 nor IPv6.
    NullUnsupportedType,
    /// Raw-IP link: the version nibble is neither 4 nor 6.
    IprawInvalidIpVersion,
    /// IPv4 option with a malformed body (pointer or length wrong for its type).
    Ipv4OptMalformed,
    /// IPv4 option present twice.
    Ipv4OptDuplicate,
    /// IPv4 option of an unknown type.
    Ipv4OptUnknown,
    /// IPv4 fragment whose offset plus length exceeds 65,535 bytes.
    Ipv4FragPktTooLarge,
    /// ICMPv6 carried in IPv4.
    Ipv4WithIcmpv6,
    /// IPv6 extension header runs past the packet.
    Ipv6TruncExthdr,
    /// IPv6 fragment header present twice.
    Ipv6ExthdrDuplFh,
    /// IPv6 routing header present twice.
    Ipv6ExthdrDuplRh,
    /// More than two IPv6 destination-options headers.
    Ipv6ExthdrDuplDh,
    /// IPv6 authentication header present twice.
    Ipv6ExthdrDuplAh,
    /// More IPv6 extension headers than the decoder walks ([`crate::MAX_IPV6_EXT_HEADERS`]).
    Ipv6ExthdrTooMany,
    /// IPv6 routing header type 0 (deprecated by RFC 5095).
    Ipv6RhType0,
    /// IPv6 fragment whose offset plus length exceeds 65,535 bytes.
    Ipv6FragPktTooLarge,
    /// ICMPv4 carried in IPv6.
    Ipv6WithIcmpv4,
    /// ICMPv4 code unknown for its type.
    Icmpv4UnknownCode,
    /// ICMPv4 error quoting an IPv4 header that is cut short.
    Icmpv4Ipv4TruncPkt,
    /// ICMPv4 error quoting a packet that is not IPv4.
    Icmpv4Ipv4UnknownVer,
    /// ICMPv6 code unknown for its type.
    Icmpv6UnknownCode,
    /// ICMPv6 error quoting an IPv6 header that is cut short.
    Icmpv6Ipv6TruncPkt,
    /// ICMPv6 error quoting a packet that is not IPv6.
    Icmpv6Ipv6UnknownVer,
    /// GRE v0 with recursion control bits set.
    GreVersion0Recur,
    /// GRE v0 with reserved flag bits set.
    GreVersion0Flags,
    /// GRE v0 source route entries malformed.
    GreVersion0MalformedSreHdr,
    /// GRE v1 (PPTP) with the checksum bit set.
    GreVersion1Chksum,
    /// GRE v1 (PPTP) with the routing bit set.
    GreVersion1Route,
    /// GRE v1 (PPTP) with recursion control bits set.
    GreVersion1Recur,
    /// GRE v1 (PPTP) with reserved flag bits set.
    GreVersion1Flags,
    /// GRE v1 (PPTP) without the mandatory key.
    GreVersion1NoKey,
    /// GRE v1 (PPTP) carrying something other than PPP.
    GreVersion1WrongProtocol,
    /// PPP header truncated.
    PppPktTooSmall,
    /// PPP protocol is not IPv4/IPv6 (nor a PPP control protocol).
    PppUnsupProto,
}

impl DecodeAnomaly {
    /// Suricata-style event name (`decoder.ipv4.trunc_pkt`).
    pub fn name(self) -> &'static str {
        use DecodeAnomaly::*;
        match self {
            UnsupportedLinkType => "decoder.unsupported_linktype",
            EthernetPktTooSmall => "decoder.ethernet.pkt_too_small",
            VlanHeaderTooSmall => "decoder.vlan.header_too_small",
            VlanTooManyLayers => "decoder.vlan.too_many_layers",
            SllPktTooSmall => "decoder.sll.pkt_too_small",
            NullPktTooSmall => "decoder.null.pkt_too_small",
            UnknownEthertype => "decoder.ethernet.unknown_ethertype",
            Ipv4PktTooSmall => "decoder.ipv4.pkt_too_small",
            Ipv4HlenTooSmall => "decoder.ipv4.hlen_too_small",
            Ipv4IplenSmallerThanHlen => "decoder.ipv4.iplen_smaller_than_hlen",
            Ipv4TruncPkt => "decoder.ipv4.trunc_pkt",
            Ipv4OptInvalid => "decoder.ipv4.opt_invalid",
            Ipv4OptInvalidLen => "decoder.ipv4.opt_invalid_len",
            Ipv4WrongIpVer => "decoder.ipv4.wrong_ip_version",
            Ipv6PktTooSmall => "decoder.ipv6.pkt_too_small",
            Ipv6TruncPkt => "decoder.ipv6.trunc_pkt",
            Ipv6WrongIpVer => "decoder.ipv6.wrong_ip_version",
            Ipv6ExthdrInvalid => "decoder.ipv6.exthdr_invalid_optlen",
            Ipv6ExthdrDupl => "decoder.ipv6.exthdr_dupl_hh",
            TcpPktTooSmall => "decoder.tcp.pkt_too_small",
            TcpHlenTooSmall => "decoder.tcp.hlen_too_small",
            TcpInvalidOptlen => "decoder.tcp.invalid_optlen",
            TcpOptInvalid => "decoder.tcp.opt_invalid_len",
            TcpOptDuplicate => "decoder.tcp.opt_duplicate",
            UdpPktTooSmall => "decoder.udp.pkt_too_small",
            UdpHlenInvalid => "decoder.udp.hlen_invalid",
            Icmpv4PktTooSmall => "decoder.icmpv4.pkt_too_small",
            Icmpv4UnknownType => "decoder.icmpv4.unknown_type",
            Icmpv6PktTooSmall => "decoder.icmpv6.pkt_too_small",
            Icmpv6UnknownType => "decoder.icmpv6.unknown_type",
            GrePktTooSmall => "decoder.gre.pkt_too_small",
            GreVersionWrong => "decoder.gre.wrong_version",
            TunnelTooDeep => "decoder.tunnel_too_deep",
            CaptureTruncated => "decoder.capture_truncated",
            NullUnsupportedType => "decoder.null.unsupported_type",
            IprawInvalidIpVersion => "decoder.ipraw.invalid_ip_version",
            Ipv4OptMalformed => "decoder.ipv4.opt_malformed",
            Ipv4OptDuplicate => "decoder.ipv4.opt_duplicate",
            Ipv4OptUnknown => "decoder.ipv4.opt_unknown",
            Ipv4FragPktTooLarge => "decoder.ipv4.frag_pkt_too_large",
            Ipv4WithIcmpv6 => "decoder.ipv4.icmpv6",
            Ipv6TruncExthdr => "decoder.ipv6.trunc_exthdr",
            Ipv6ExthdrDuplFh => "decoder.ipv6.exthdr_dupl_fh",
            Ipv6ExthdrDuplRh => "decoder.ipv6.exthdr_dupl_rh",
            Ipv6ExthdrDuplDh => "decoder.ipv6.exthdr_dupl_dh",
            Ipv6ExthdrDuplAh => "decoder.ipv6.exthdr_dupl_ah",
            Ipv6ExthdrTooMany => "decoder.ipv6.exthdr_too_many",
            Ipv6RhType0 => "decoder.ipv6.rh_type_0",
            Ipv6FragPktTooLarge => "decoder.ipv6.frag_pkt_too_large",
            Ipv6WithIcmpv4 => "decoder.ipv6.icmpv4",
            Icmpv4UnknownCode => "decoder.icmpv4.unknown_code",
            Icmpv4Ipv4TruncPkt => "decoder.icmpv4.ipv4_trunc_pkt",
            Icmpv4Ipv4UnknownVer => "decoder.icmpv4.ipv4_unknown_ver",
            Icmpv6UnknownCode => "decoder.icmpv6.unknown_code",
            Icmpv6Ipv6TruncPkt => "decoder.icmpv6.ipv6_trunc_pkt",
            Icmpv6Ipv6UnknownVer => "decoder.icmpv6.ipv6_unknown_version",
            GreVersion0Recur => "decoder.gre.version0_recur",
            GreVersion0Flags => "decoder.gre.version0_flags",
            GreVersion0MalformedSreHdr => "decoder.gre.version0_malformed_sre_hdr",
            GreVersion1Chksum => "decoder.gre.version1_chksum",
            GreVersion1Route => "decoder.gre.version1_route",
            GreVersion1Recur => "decoder.gre.version1_recur",
            GreVersion1Flags => "decoder.gre.version1_flags",
            GreVersion1NoKey => "decoder.gre.version1_no_key",
            GreVersion1WrongProtocol => "decoder.gre.version1_wrong_protocol",
            PppPktTooSmall => "decoder.ppp.pkt_too_small",
            PppUnsupProto => "decoder.ppp.unsup_proto",
        }
    }
}

/// Up to [`AnomalyList::CAP`] anomalies per frame without allocating; more are counted.
#[derive(Clone, Debug)]
pub struct AnomalyList {
    /// The first `len` are kept anomalies; the rest is filler. (Not
    /// `Option`s: a filler of the first variant keeps the empty list all-zero
    /// bytes, which makes a fresh `Decoded` cheap to set up.)
    items: [DecodeAnomaly; AnomalyList::CAP],
    len: usize,
    dropped: u32,
}

impl Default for AnomalyList {
    fn default() -> Self {
        AnomalyList {
            items: [DecodeAnomaly::UnsupportedLinkType; AnomalyList::CAP],
            len: 0,
            dropped: 0,
        }
    }
}

impl AnomalyList {
    /// Anomalies kept per frame.
    pub const CAP: usize = 4;

    /// Records one anomaly (counts it in `dropped` when full).
    pub fn push(&mut self, a: DecodeAnomaly) {
        if let Some(slot) = self.items.get_mut(self.len) {
            *slot = a;
            self.len += 1;
        } else {
            self.dropped = self.dropped.saturating_add(1);
        }
    }

    /// The kept anomalies.
    pub fn iter(&self) -> impl Iterator<Item = DecodeAnomaly> + '_ {
        self.items.iter().take(self.len).copied()
    }

    /// True when there are none.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Number kept.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Number that did not fit.
    pub fn dropped(&self) -> u32 {
        self.dropped
    }

    /// True when `a` was recorded.
    pub fn contains(&self, a: DecodeAnomaly) -> bool {
        self.iter().any(|x| x == a)
    }
}

/// Ethernet addresses of the (outermost) Ethernet header.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub struct EthernetInfo {
    /// Source MAC.
    pub src: [u8; 6],
    /// Destination MAC.
    pub dst: [u8; 6],
    /// EtherType after VLAN tags.
    pub ethertype: u16,
}

/// IPv4 header facts.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Ipv4Info<'a> {
    /// Source.
    pub src: Ipv4Addr,
    /// Destination.
    pub dst: Ipv4Addr,
    /// Protocol.
    pub proto: u8,
    /// TTL.
    pub ttl: u8,
    /// Identification.
    pub id: u16,
    /// Type of service byte.
    pub tos: u8,
    /// Don't-fragment flag.
    pub dont_frag: bool,
    /// More-fragments flag.
    pub more_frags: bool,
    /// Reserved (evil) bit.
    pub reserved_flag: bool,
    /// Fragment offset in bytes.
    pub frag_offset: u16,
    /// Header length in bytes.
    pub header_len: u8,
    /// Total length field.
    pub total_len: u16,
    /// Header checksum field.
    pub checksum: u16,
    /// Options bytes (may be empty).
    pub options: &'a [u8],
}

impl Ipv4Info<'_> {
    /// A fragment (offset non-zero or more-fragments set).
    pub fn is_fragment(&self) -> bool {
        self.frag_offset != 0 || self.more_frags
    }
}

/// IPv6 fragment extension header.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Ipv6Frag {
    /// Offset in bytes.
    pub offset: u16,
    /// More fragments follow.
    pub more: bool,
    /// Identification.
    pub id: u32,
    /// Protocol of the fragmented payload.
    pub next_header: u8,
}

/// IPv6 header facts.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Ipv6Info {
    /// Source.
    pub src: Ipv6Addr,
    /// Destination.
    pub dst: Ipv6Addr,
    /// Upper-layer protocol after all extension headers.
    pub proto: u8,
    /// Hop limit.
    pub hop_limit: u8,
    /// Traffic class.
    pub traffic_class: u8,
    /// Flow label.
    pub flow_label: u32,
    /// Payload length field.
    pub payload_len: u16,
    /// Length of the fixed header plus every extension header walked (up to the
    /// upper-layer header; for a later fragment, up to the fragment header).
    pub header_len: u16,
    /// Fragment header, when present.
    pub frag: Option<Ipv6Frag>,
    /// Number of extension headers.
    pub ext_count: u8,
}

/// Network layer.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum L3<'a> {
    /// Nothing decoded.
    None,
    /// ARP (counted, not decoded further).
    Arp,
    /// IPv4.
    Ipv4(Ipv4Info<'a>),
    /// IPv6.
    Ipv6(Ipv6Info),
    /// Another EtherType (not decoded). Values up to 1500 are IEEE 802.3 length
    /// fields (LLC frames such as STP or CDP): non-IP, not an anomaly.
    Other(u16),
}

impl L3<'_> {
    /// Source and destination addresses, for IP.
    pub fn addrs(&self) -> Option<(IpAddr, IpAddr)> {
        match self {
            L3::Ipv4(v) => Some((IpAddr::V4(v.src), IpAddr::V4(v.dst))),
            L3::Ipv6(v) => Some((IpAddr::V6(v.src), IpAddr::V6(v.dst))),
            _ => None,
        }
    }

    /// Upper-layer protocol number, for IP.
    pub fn proto(&self) -> Option<u8> {
        match self {
            L3::Ipv4(v) => Some(v.proto),
            L3::Ipv6(v) => Some(v.proto),
            _ => None,
        }
    }

    /// TTL / hop limit.
    pub fn ttl(&self) -> Option<u8> {
        match self {
            L3::Ipv4(v) => Some(v.ttl),
            L3::Ipv6(v) => Some(v.hop_limit),
            _ => None,
        }
    }
}

/// TCP option values that were present.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub struct TcpOptions {
    /// Maximum segment size.
    pub mss: Option<u16>,
    /// Window scale shift.
    pub wscale: Option<u8>,
    /// SACK permitted.
    pub sack_permitted: bool,
    /// Number of SACK blocks.
    pub sack_blocks: u8,
    /// Timestamp value and echo reply.
    pub timestamp: Option<(u32, u32)>,
    /// Digest of the option kinds in order (0 = no options); equal layouts, equal digest.
    pub layout_sig: u32,
}

/// TCP header facts.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct TcpInfo<'a> {
    /// Source port.
    pub src_port: u16,
    /// Destination port.
    pub dst_port: u16,
    /// Sequence number.
    pub seq: u32,
    /// Acknowledgement number.
    pub ack: u32,
    /// Flags byte (FIN 0x01 … CWR 0x80).
    pub flags: u8,
    /// Window.
    pub window: u16,
    /// Urgent pointer.
    pub urgent: u16,
    /// Header length in bytes.
    pub header_len: u8,
    /// Checksum field.
    pub checksum: u16,
    /// Raw options bytes.
    pub options: &'a [u8],
    /// Parsed options.
    pub opts: TcpOptions,
}

/// UDP header facts.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct UdpInfo {
    /// Source port.
    pub src_port: u16,
    /// Destination port.
    pub dst_port: u16,
    /// Length field.
    pub len: u16,
    /// Checksum field.
    pub checksum: u16,
}

/// ICMP (v4 or v6) header facts.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct IcmpInfo {
    /// Type.
    pub icmp_type: u8,
    /// Code.
    pub code: u8,
    /// Identifier (echo request/reply).
    pub id: Option<u16>,
    /// Sequence (echo request/reply).
    pub seq: Option<u16>,
    /// ICMPv6 (else ICMPv4).
    pub v6: bool,
    /// For errors: the quoted packet's (proto, src, dst, src_port, dst_port), when decodable.
    pub quoted: Option<(u8, IpAddr, IpAddr, u16, u16)>,
}

/// Transport layer.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum L4<'a> {
    /// Nothing decoded.
    None,
    /// TCP.
    Tcp(TcpInfo<'a>),
    /// UDP.
    Udp(UdpInfo),
    /// ICMP.
    Icmp(IcmpInfo),
    /// A non-first IP fragment (no transport header here): the defragmenter's job.
    Fragment,
    /// Another protocol.
    Other(u8),
}

impl L4<'_> {
    /// Source and destination ports (TCP/UDP).
    pub fn ports(&self) -> Option<(u16, u16)> {
        match self {
            L4::Tcp(t) => Some((t.src_port, t.dst_port)),
            L4::Udp(u) => Some((u.src_port, u.dst_port)),
            _ => None,
        }
    }
}

/// Everything decoded from one frame. Borrowed from the frame's bytes.
#[derive(Clone, Debug)]
pub struct Decoded<'a> {
    /// Outermost Ethernet header, when the link is Ethernet.
    pub eth: Option<EthernetInfo>,
    /// 802.1Q VLAN ids, outer first (0 = absent).
    pub vlan: [u16; 2],
    /// Number of VLAN tags seen (may exceed 2: see anomalies).
    pub vlan_count: u8,
    /// Innermost network layer (after tunnel decapsulation).
    pub l3: L3<'a>,
    /// Transport layer of the innermost network layer.
    pub l4: L4<'a>,
    /// The innermost IP header bytes (for defragmentation and `packet` output):
    /// IPv4 header with options; IPv6 fixed header plus the extension headers
    /// walked — for an IPv6 fragment, up to and including the fragment header
    /// (the "unfragmentable part" plus the fragment header).
    pub ip_header: &'a [u8],
    /// The innermost IP payload as bounded by its length fields and the capture
    /// (for defragmentation): the bytes after `ip_header`, so for an IPv6
    /// fragment the fragment data that its offset refers to.
    pub ip_payload: &'a [u8],
    /// Transport payload (bounded by IP length fields and captured bytes).
    pub payload: &'a [u8],
    /// Number of tunnel layers removed (IP-in-IP, GRE).
    pub tunnel_depth: u8,
    /// ARP frame.
    pub is_arp: bool,
    /// Decode anomalies.
    pub anomalies: AnomalyList,
    /// `payload` (and `ip_payload`) hold less than the packet carried: the packet
    /// is an IP fragment (first or later), or its IP length field claims more
    /// bytes than were captured (snaplen or a lying length).
    pub payload_partial: bool,
}

impl Default for Decoded<'_> {
    fn default() -> Self {
        Decoded {
            eth: None,
            vlan: [0, 0],
            vlan_count: 0,
            l3: L3::None,
            l4: L4::None,
            ip_header: &[],
            ip_payload: &[],
            payload: &[],
            tunnel_depth: 0,
            is_arp: false,
            anomalies: AnomalyList::default(),
            payload_partial: false,
        }
    }
}
