//! Foundation acceptance 4: two runs over the same input give byte-identical EVE.

use crate::common::{run, shared_dir};
use stormwatch_engine::Config;
use stormwatch_model::RecordMeta;
use stormwatch_output::eve::{EveOptions, to_eve};

fn eve_bytes(path: &std::path::Path) -> Vec<u8> {
    let (records, _) = run(path, Config::default());
    let opts = EveOptions::default();
    let mut out = Vec::new();
    for r in &records {
        if let Some(v) = to_eve(r, &RecordMeta::default(), &opts) {
            out.extend_from_slice(v.to_string().as_bytes());
            out.push(b'\n');
        }
    }
    out
}

#[test]
fn same_capture_same_bytes() {
    let Some(shared) = shared_dir() else {
        println!("skipped: shared data not found");
        return;
    };
    for f in [
        "corpus/suricata-verify-irc-input.pcap",
        "corpus/esnet-nmap_80_all.pcap",
        "corpus/chrissanders-aurora.pcapng",
    ] {
        let p = shared.join(f);
        let a = eve_bytes(&p);
        let b = eve_bytes(&p);
        assert!(!a.is_empty(), "{f}: no output");
        assert_eq!(a, b, "{f}: two runs differ");
    }
}
