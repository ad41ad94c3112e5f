//! Helpers shared by the integration tests.

use std::path::{Path, PathBuf};
use std::process::Command;
use stormwatch_capture::CaptureFile;
use stormwatch_engine::{Config, Engine, Summary};
use stormwatch_model::{OutputRecord, VecSink};

/// The shared read-only data folder (corpus, rules, suricata-verify), if present.
pub fn shared_dir() -> Option<PathBuf> {
    if let Ok(p) = std::env::var("STORMWATCH_SHARED") {
        let p = PathBuf::from(p);
        if p.is_dir() {
            return Some(p);
        }
    }
    let ws = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    [ws.join("../shared"), PathBuf::from("/work/shared")]
        .into_iter()
        .find(|c| c.join("corpus").is_dir())
}

/// True when `tool --version` runs.
pub fn have(tool: &str) -> bool {
    Command::new(tool)
        .arg("--version")
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false)
}

/// Every capture of the corpus and of the suricata-verify tests, sorted.
pub fn all_captures(shared: &Path) -> Vec<PathBuf> {
    let mut v = Vec::new();
    collect(&shared.join("corpus"), &mut v);
    collect(&shared.join("suricata-verify/tests"), &mut v);
    v.sort();
    v.dedup();
    v
}

fn collect(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    for e in rd.flatten() {
        let p = e.path();
        if p.is_dir() {
            collect(&p, out);
        } else if matches!(
            p.extension().and_then(|e| e.to_str()),
            Some("pcap" | "pcapng" | "cap")
        ) {
            out.push(p);
        }
    }
}

/// Runs the engine over one capture and returns every record and the summary.
pub fn run(path: &Path, cfg: Config) -> (Vec<OutputRecord>, Summary) {
    let cap = CaptureFile::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut engine = Engine::new(cfg);
    let mut sink = VecSink::default();
    for f in cap.frames(0) {
        match f {
            Ok(f) => engine.process(&f, &mut sink).unwrap(),
            Err(_) => break,
        }
    }
    let s = engine.finish(&mut sink).unwrap();
    (sink.records, s)
}
