//! Named stream events (Suricata's names where Suricata has one) and the counters of
//! the flow stage.

/// A stream anomaly the TCP tracker or reassembler can raise. Each is raised at most
/// once per flow (and at most [`crate::FlowConfig::max_anomalies_per_flow`] in total);
/// every occurrence is counted.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) enum StreamEvent {
    SynackWrongDirection,
    SynackWrongAck,
    SynResendDiffSeq,
    PktInvalidAck,
    PktBrokenAck,
    PktRetransmission,
    OverlapDifferentData,
    SeqGap,
    RstButNoSession,
    FinButNoSession,
    RstInvalidSeq,
    InsertLimit,
    InsertMemcap,
    SegmentBeforeBase,
    FinSyn,
    EstSynResend,
    PktInvalidTimestamp,
}

impl StreamEvent {
    pub fn name(self) -> &'static str {
        match self {
            StreamEvent::SynackWrongDirection => "stream.3whs_synack_in_wrong_direction",
            StreamEvent::SynackWrongAck => "stream.3whs_synack_with_wrong_ack",
            StreamEvent::SynResendDiffSeq => "stream.3whs_syn_resend_diff_seq_on_syn_recv",
            StreamEvent::PktInvalidAck => "stream.pkt_invalid_ack",
            StreamEvent::PktBrokenAck => "stream.pkt_broken_ack",
            StreamEvent::PktRetransmission => "stream.pkt_retransmission",
            StreamEvent::OverlapDifferentData => "stream.reassembly_overlap_different_data",
            StreamEvent::SeqGap => "stream.reassembly_seq_gap",
            StreamEvent::RstButNoSession => "stream.rst_but_no_session",
            StreamEvent::FinButNoSession => "stream.fin_but_no_session",
            StreamEvent::RstInvalidSeq => "stream.rst_invalid_seq",
            StreamEvent::InsertLimit => "stream.reassembly_insert_limit",
            StreamEvent::InsertMemcap => "stream.reassembly_insert_memcap",
            StreamEvent::SegmentBeforeBase => "stream.reassembly_segment_before_base_seq",
            StreamEvent::FinSyn => "stream.fin_syn",
            StreamEvent::EstSynResend => "stream.est_syn_resend",
            StreamEvent::PktInvalidTimestamp => "stream.pkt_invalid_timestamp",
        }
    }

    /// Bit for the per-flow "already raised" mask.
    pub fn bit(self) -> u32 {
        1u32 << (self as u32)
    }
}

macro_rules! counters {
    ($( $field:ident => $name:literal ),* $(,)?) => {
        /// Counters of the flow stage (see `docs/flow.md`).
        #[derive(Clone, Debug, Default)]
        pub(crate) struct Counters {
            $( pub $field: u64, )*
        }

        impl Counters {
            pub fn list(&self) -> Vec<(&'static str, u64)> {
                vec![ $( ($name, self.$field), )* ]
            }
        }
    };
}

counters! {
    flows_created => "flow.created",
    flows_tcp => "flow.tcp",
    flows_udp => "flow.udp",
    flows_icmp => "flow.icmp",
    flows_other => "flow.other",
    ended_timeout => "flow.ended_timeout",
    ended_forced => "flow.ended_forced",
    ended_shutdown => "flow.ended_shutdown",
    max_flows_evicted => "flow.max_flows_evicted",
    memcap_evicted => "flow.memcap_evicted",
    tcp_reuse => "flow.tcp_reuse",
    no_flow => "flow.packets_without_flow",
    anomalies_suppressed => "flow.anomalies_suppressed",
    tcp_sessions => "tcp.sessions",
    tcp_midstream => "tcp.midstream_pickups",
    tcp_untracked => "tcp.untracked_packets",
    tcp_syn => "tcp.syn",
    tcp_synack => "tcp.synack",
    tcp_rst => "tcp.rst",
    tcp_syn_retransmit => "tcp.syn_retransmission",
    tcp_checksum_checked => "tcp.checksum_checked",
    tcp_checksum_invalid => "tcp.checksum_invalid",
    tcp_checksum_disabled => "tcp.checksum_validation_disabled",
    tcp_keepalive => "tcp.keepalive",
    tcp_zero_window_probe => "tcp.zero_window_probe",
    tcp_retransmission => "tcp.retransmission",
    tcp_ooo => "tcp.out_of_order_segments",
    tcp_overlap => "tcp.overlap",
    tcp_overlap_diff => "tcp.overlap_different_data",
    tcp_stream_bytes => "tcp.reassembled_bytes",
    tcp_gap => "tcp.reassembly_gap",
    tcp_gap_bytes => "tcp.reassembly_gap_bytes",
    tcp_depth_reached => "tcp.reassembly_depth_reached",
    tcp_held_limit => "tcp.reassembly_held_limit",
    tcp_memcap => "tcp.reassembly_memcap",
    tcp_before_base => "tcp.segment_before_base",
    tcp_data_after_fin => "tcp.data_after_fin",
    tcp_data_after_rst => "tcp.data_after_rst",
    tcp_invalid_rst => "tcp.invalid_rst",
    tcp_invalid_timestamp => "tcp.invalid_timestamp",
    tcp_reasm_mem => "tcp.reassembly_memuse",
    defrag_v4_fragments => "defrag.ipv4.fragments",
    defrag_v4_reassembled => "defrag.ipv4.reassembled",
    defrag_v4_timeouts => "defrag.ipv4.timeouts",
    defrag_v6_fragments => "defrag.ipv6.fragments",
    defrag_v6_reassembled => "defrag.ipv6.reassembled",
    defrag_v6_timeouts => "defrag.ipv6.timeouts",
    defrag_overlap => "defrag.overlap",
    defrag_overlap_diff => "defrag.overlap_different_data",
    defrag_too_large => "defrag.too_large",
    defrag_max_trackers => "defrag.max_trackers_reached",
    defrag_max_frags => "defrag.max_fragments_reached",
    defrag_memcap => "defrag.memcap_reached",
    defrag_incomplete_at_end => "defrag.incomplete_at_end",
    defrag_invalid => "defrag.invalid_fragment",
    defrag_memuse => "defrag.memuse",
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_bits_are_distinct_and_fit() {
        let all = [
            StreamEvent::SynackWrongDirection,
            StreamEvent::SynackWrongAck,
            StreamEvent::SynResendDiffSeq,
            StreamEvent::PktInvalidAck,
            StreamEvent::PktBrokenAck,
            StreamEvent::PktRetransmission,
            StreamEvent::OverlapDifferentData,
            StreamEvent::SeqGap,
            StreamEvent::RstButNoSession,
            StreamEvent::FinButNoSession,
            StreamEvent::RstInvalidSeq,
            StreamEvent::InsertLimit,
            StreamEvent::InsertMemcap,
            StreamEvent::SegmentBeforeBase,
            StreamEvent::FinSyn,
            StreamEvent::EstSynResend,
            StreamEvent::PktInvalidTimestamp,
        ];
        let mut mask = 0u32;
        for e in all {
            assert_eq!(mask & e.bit(), 0);
            mask |= e.bit();
            assert!(e.name().starts_with("stream."));
        }
    }

    #[test]
    fn counter_names_are_dotted_and_unique() {
        let l = Counters::default().list();
        let mut names: Vec<&str> = l.iter().map(|(n, _)| *n).collect();
        assert!(names.iter().all(|n| n.contains('.')));
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), l.len());
    }
}
