//! Fuzz target: the rule parser and compiler. Any bytes are read as a rule
//! file; loading must never panic (bad rules are skipped and reported), and a
//! rule set that loads must then inspect a packet made of the same bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use stormwatch_model::{Direction, FlowId, FlowKey, IpProto, StreamData, Timestamp};
use stormwatch_rules::{FlowInfo, FlowState, RuleSet, RulesConfig, StreamInput};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let (rs, report) = RuleSet::from_text("fuzz.rules", &text, &RulesConfig::default());
    // Every skipped rule has a place and a reason.
    for s in &report.skips {
        assert!(s.line >= 1 && !s.reason.is_empty());
    }
    if rs.is_empty() {
        return;
    }
    let key = FlowKey {
        src: [10, 0, 0, 1].into(),
        dst: [10, 0, 0, 2].into(),
        src_port: 1234,
        dst_port: 80,
        proto: IpProto::TCP,
        vlan: [0, 0],
    };
    let mut flow = FlowInfo::new(FlowId(1), key, Direction::ToServer, Timestamp::ZERO);
    flow.established = true;
    flow.stream_tracked = true;
    let mut fs = FlowState::default();
    let mut out = Vec::new();
    for chunk in data.chunks(7) {
        rs.match_stream(
            &StreamInput {
                ts: Timestamp::ZERO,
                flow,
                data: StreamData::Bytes(chunk),
                offset: 0,
                frame: &[],
            },
            &mut fs,
            &mut out,
        );
    }
});
