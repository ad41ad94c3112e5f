//! Limits, timeouts and policies of the flow stage. Every limit carries its unit in
//! its name; `Default` gives the documented values (see `docs/flow.md`).

/// TCP checksum validation.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Default)]
pub enum ChecksumMode {
    /// Validate every TCP segment; a bad one counts in the flow's packet and byte
    /// counters and reaches `on_packet`, but does not change TCP state or reassembly.
    On,
    /// Never validate.
    Off,
    /// Suricata's pcap-file behaviour: validate, but once [`FlowConfig::checksum_auto_sample_packets`]
    /// TCP segments were checked, stop validating if more than
    /// [`FlowConfig::checksum_auto_bad_percent`] of them were bad (the capture was taken on a
    /// host with checksum offload). As soon as more bad segments were seen than that
    /// share of the whole sample, the outcome is certain and validation stops then.
    #[default]
    Auto,
}

/// When reassembled TCP data is handed on (`on_stream`, `on_raw_stream`).
#[derive(Copy, Clone, Debug, PartialEq, Eq, Default)]
pub enum Delivery {
    /// In-order bytes are handed on with the packet that completes them (zero-copy,
    /// a borrow of the packet). stormwatch's default.
    #[default]
    Immediate,
    /// Suricata's IDS mode: bytes wait until the peer acknowledges them. The packet
    /// carrying the acknowledgement releases them to `on_stream` (the application
    /// layer); the next packet *in the data's own direction* releases them to
    /// `on_raw_stream` (raw stream inspection). What is left when the flow ends is
    /// released by the end of the flow (`PacketCtx::flow_end`, Suricata's
    /// `stream (flow timeout)` pseudo packets). Overlaps are resolved by the
    /// [`OverlapPolicy`] among everything not yet released, in order or not.
    OnAck,
}

impl Delivery {
    /// Parses `immediate`, `on-ack` / `on_ack` / `onack` (case-insensitive).
    pub fn from_name(name: &str) -> Option<Delivery> {
        match name.to_ascii_lowercase().as_str() {
            "immediate" => Some(Delivery::Immediate),
            "on-ack" | "on_ack" | "onack" => Some(Delivery::OnAck),
            _ => None,
        }
    }

    /// Name as [`Delivery::from_name`] reads it.
    pub fn as_str(self) -> &'static str {
        match self {
            Delivery::Immediate => "immediate",
            Delivery::OnAck => "on-ack",
        }
    }
}

/// Target-based overlap resolution (Novak 2005; Novak & Sturges 2007), used for TCP
/// segments held out of order and for IP fragments.
///
/// A byte position covered by an already-held ("old") piece and by a new segment or
/// fragment takes the new bytes when the policy says so, decided against the old
/// piece's *original* extent `[os, oe)` and the new one's `[ns, ne)`:
///
/// | policy | TCP: new bytes win when | IP fragments: new bytes win when |
/// |---|---|---|
/// | `First` | never | never |
/// | `Last` | always | always |
/// | `Bsd` | `ns < os` | `ns < os` |
/// | `Linux` | `ns < os`, or `ns == os` and `ne > oe` | `ns <= os` |
/// | `Windows` | `ns < os` (as Suricata and Snort resolve TCP) | `ns < os` and `ne > oe` |
///
/// Bytes already handed on (before the in-order point) are never replaced under any
/// policy — a receiving stack has accepted them too.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Default)]
pub enum OverlapPolicy {
    /// Old data always wins (HP-UX 11, MacOS, old Solaris).
    First,
    /// New data always wins (Cisco IOS).
    Last,
    /// BSD: new data wins only where it begins before the old piece (the default, as Suricata).
    #[default]
    Bsd,
    /// Linux.
    Linux,
    /// Windows.
    Windows,
}

impl OverlapPolicy {
    /// Parses `first`, `last`, `bsd`, `linux`, `windows` (case-insensitive).
    pub fn from_name(name: &str) -> Option<OverlapPolicy> {
        match name.to_ascii_lowercase().as_str() {
            "first" => Some(OverlapPolicy::First),
            "last" => Some(OverlapPolicy::Last),
            "bsd" => Some(OverlapPolicy::Bsd),
            "linux" => Some(OverlapPolicy::Linux),
            "windows" => Some(OverlapPolicy::Windows),
            _ => None,
        }
    }

    /// Lower-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            OverlapPolicy::First => "first",
            OverlapPolicy::Last => "last",
            OverlapPolicy::Bsd => "bsd",
            OverlapPolicy::Linux => "linux",
            OverlapPolicy::Windows => "windows",
        }
    }

    /// TCP: do the new segment's bytes `[ns, ne)` replace the old piece `[os, oe)` where they overlap?
    pub fn tcp_new_wins(self, ns: u64, ne: u64, os: u64, oe: u64) -> bool {
        match self {
            OverlapPolicy::First => false,
            OverlapPolicy::Last => true,
            OverlapPolicy::Bsd | OverlapPolicy::Windows => ns < os,
            OverlapPolicy::Linux => ns < os || (ns == os && ne > oe),
        }
    }

    /// IP fragments: do the new fragment's bytes `[ns, ne)` replace the old fragment `[os, oe)`?
    pub fn ip_new_wins(self, ns: u64, ne: u64, os: u64, oe: u64) -> bool {
        match self {
            OverlapPolicy::First => false,
            OverlapPolicy::Last => true,
            OverlapPolicy::Bsd => ns < os,
            OverlapPolicy::Linux => ns <= os,
            OverlapPolicy::Windows => ns < os && ne > oe,
        }
    }
}

/// Configuration of a [`crate::FlowTable`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FlowConfig {
    /// Most flows tracked at once; a new flow beyond it evicts the least recently seen
    /// flow (reason `forced`, counter `flow.max_flows_evicted`). Default 1,048,576.
    pub max_flows: usize,
    /// Memory cap of the flow table in bytes: table entries (our state plus the engine's
    /// inline per-flow value `U`, not what `U` allocates) and the index. Reaching it evicts
    /// like `max_flows` (counter `flow.memcap_evicted`). Default 768 MiB.
    pub memcap_bytes: u64,
    /// TCP flow without a completed handshake. Default 60 s.
    pub tcp_new_timeout_secs: u32,
    /// TCP flow established (or closing by FIN). Default 600 s.
    pub tcp_established_timeout_secs: u32,
    /// TCP flow closed (`last_ack`, `time_wait`, `closed`). Default 60 s.
    pub tcp_closed_timeout_secs: u32,
    /// UDP flow seen one way only. Default 30 s.
    pub udp_new_timeout_secs: u32,
    /// UDP flow seen both ways. Default 300 s.
    pub udp_established_timeout_secs: u32,
    /// ICMP and other protocols, one way. Default 30 s.
    pub other_new_timeout_secs: u32,
    /// ICMP and other protocols, both ways. Default 300 s.
    pub other_established_timeout_secs: u32,
    /// TCP checksum validation. Default [`ChecksumMode::Auto`].
    pub checksum: ChecksumMode,
    /// Auto mode: number of TCP segments checked before deciding. Default 1000.
    pub checksum_auto_sample_packets: u32,
    /// Auto mode: stop validating when more than this percentage was bad. Default 10.
    pub checksum_auto_bad_percent: u32,
    /// Pick up TCP flows whose handshake was not seen (as `established`, reassembled from
    /// the first byte seen). When false they are counted and reported but not
    /// reassembled. Default true (Suricata's default is false).
    pub midstream: bool,
    /// A TCP flow picked up midstream (first packet an ACK without SYN, FIN or RST)
    /// whose first packet goes from a likely server port (below 1024, or a common
    /// service port such as 8080, 3128, 6667) to a port that is not one is oriented
    /// with that packet's sender as the server (history starts with `^`), as Zeek
    /// does. When false the first packet's sender is the client. Default true.
    pub midstream_orient_by_port: bool,
    /// Overlap policy for TCP segments held out of order (with [`Delivery::OnAck`]:
    /// for every byte not yet released). Default `bsd`.
    pub overlap_policy: OverlapPolicy,
    /// When reassembled data is handed on. Default [`Delivery::Immediate`].
    pub delivery: Delivery,
    /// Bytes per direction reassembled and delivered; later data is not delivered.
    /// 0 = unlimited. Default 1 MiB (Suricata's `stream.reassembly.depth`).
    pub reassembly_depth_bytes: u64,
    /// Segments held per direction (out of order; with [`Delivery::OnAck`] also in
    /// order, waiting for their acknowledgement); one more gaps out the oldest hole, or
    /// (nothing missing) releases the oldest data unacknowledged. Default 2048.
    pub reassembly_max_held_segments: u32,
    /// Bytes held per direction (as for `reassembly_max_held_segments`); beyond it
    /// the oldest hole is gapped out or the oldest data released. Default 4 MiB.
    pub reassembly_max_held_bytes: u32,
    /// Already-delivered bytes kept per direction until the peer acknowledges them, to
    /// compare retransmissions against (`stream.reassembly_overlap_different_data`).
    /// 0 disables the comparison. Default 64 KiB.
    pub retransmit_check_bytes: u32,
    /// Global cap on bytes held by reassembly (out-of-order data plus kept bytes). On hit
    /// the flow's held data is gapped out and kept bytes dropped (counter
    /// `tcp.reassembly_memcap`). Default 256 MiB.
    pub reassembly_memcap_bytes: u64,
    /// Overlap policy for IP fragments. Default `bsd`.
    pub defrag_policy: OverlapPolicy,
    /// A datagram whose fragments stop arriving for this long is dropped. Default 60 s.
    pub defrag_timeout_secs: u32,
    /// Datagrams being reassembled at once. Default 65,535 (Suricata's `defrag.trackers`).
    pub defrag_max_trackers: usize,
    /// Fragments held per datagram. Default 256.
    pub defrag_max_fragments: u32,
    /// Bytes held by defragmentation. Default 32 MiB (Suricata's `defrag.memcap`).
    pub defrag_memcap_bytes: u64,
    /// Stream anomalies raised per flow (each event name at most once per flow, and no
    /// more than this many in total). Default 16.
    pub max_anomalies_per_flow: u8,
}

impl Default for FlowConfig {
    fn default() -> Self {
        FlowConfig {
            max_flows: 1 << 20,
            memcap_bytes: 768 << 20,
            tcp_new_timeout_secs: 60,
            tcp_established_timeout_secs: 600,
            tcp_closed_timeout_secs: 60,
            udp_new_timeout_secs: 30,
            udp_established_timeout_secs: 300,
            other_new_timeout_secs: 30,
            other_established_timeout_secs: 300,
            checksum: ChecksumMode::Auto,
            checksum_auto_sample_packets: 1000,
            checksum_auto_bad_percent: 10,
            midstream: true,
            midstream_orient_by_port: true,
            overlap_policy: OverlapPolicy::Bsd,
            delivery: Delivery::Immediate,
            reassembly_depth_bytes: 1 << 20,
            reassembly_max_held_segments: 2048,
            reassembly_max_held_bytes: 4 << 20,
            retransmit_check_bytes: 64 << 10,
            reassembly_memcap_bytes: 256 << 20,
            defrag_policy: OverlapPolicy::Bsd,
            defrag_timeout_secs: 60,
            defrag_max_trackers: 65_535,
            defrag_max_fragments: 256,
            defrag_memcap_bytes: 32 << 20,
            max_anomalies_per_flow: 16,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policy_names_round_trip() {
        for p in [
            OverlapPolicy::First,
            OverlapPolicy::Last,
            OverlapPolicy::Bsd,
            OverlapPolicy::Linux,
            OverlapPolicy::Windows,
        ] {
            assert_eq!(OverlapPolicy::from_name(p.as_str()), Some(p));
        }
        assert_eq!(OverlapPolicy::from_name("BSD"), Some(OverlapPolicy::Bsd));
        assert_eq!(OverlapPolicy::from_name("solaris"), None);
    }

    #[test]
    fn tcp_and_ip_decisions_differ_where_documented() {
        // Same start, new longer: Linux TCP takes new; BSD keeps old.
        assert!(OverlapPolicy::Linux.tcp_new_wins(0, 10, 0, 5));
        assert!(!OverlapPolicy::Bsd.tcp_new_wins(0, 10, 0, 5));
        // IP Linux: same start always new.
        assert!(OverlapPolicy::Linux.ip_new_wins(0, 3, 0, 5));
        // Windows IP: only a strict superset on both sides.
        assert!(OverlapPolicy::Windows.ip_new_wins(0, 10, 2, 8));
        assert!(!OverlapPolicy::Windows.ip_new_wins(0, 8, 2, 8));
        assert!(OverlapPolicy::Windows.tcp_new_wins(0, 8, 2, 8));
    }
}
