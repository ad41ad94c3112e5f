//! Fuzz target: file magic detection and the incremental file tracker (PE
//! header offsets, gaps, truncation) on arbitrary bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use stormwatch_model::AppProto;
use stormwatch_proto::files::{detect_magic, FileConfig, FileTracker};

fuzz_target!(|data: &[u8]| {
    let _ = detect_magic(data);
    let cfg = FileConfig { hash_all: true, ..FileConfig::default() };
    let mut t = FileTracker::new(AppProto::Http, None, Some(data.len() as u64), &cfg);
    for (i, c) in data.chunks(97).enumerate() {
        if i % 5 == 4 {
            t.gap(c.len() as u64);
        } else {
            t.update(c);
        }
    }
    let _ = t.finish(data.len() % 2 == 0, Some(0));
});
