//! The committed `examples/mipsiv.pcap` and `examples/mipsiv.labels.json`
//! are exactly what the generator writes today (they cannot go stale).
//! Regenerate with `cargo run -p stormwatch-sim --example simgen -- mipsiv
//! examples/mipsiv.pcap examples/mipsiv.labels.json`.

use crate::cached;
use std::path::PathBuf;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

#[test]
fn committed_mipsiv_example_matches_the_generator() {
    let g = cached("mipsiv");
    let pcap = std::fs::read(root().join("examples/mipsiv.pcap")).expect("examples/mipsiv.pcap");
    let labels = std::fs::read_to_string(root().join("examples/mipsiv.labels.json"))
        .expect("examples/mipsiv.labels.json");
    assert!(
        pcap == g.pcap,
        "examples/mipsiv.pcap is stale: regenerate it (see this file's doc)"
    );
    assert_eq!(
        labels,
        g.labels.to_json(),
        "examples/mipsiv.labels.json is stale"
    );
    // And it reads back into the schema.
    let back: stormwatch_sim::Labels = serde_json::from_str(&labels).unwrap();
    assert_eq!(back, g.labels);
}
