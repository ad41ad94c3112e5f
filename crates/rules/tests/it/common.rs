//! Helpers shared by the integration tests.

use std::path::PathBuf;

/// The shared data folder: `STORMWATCH_SHARED`, else `<workspace>/../shared`,
/// else `/work/shared`; None (test prints "skipped") when none exists.
pub fn shared() -> Option<PathBuf> {
    if let Ok(p) = std::env::var("STORMWATCH_SHARED") {
        let p = PathBuf::from(p);
        if p.is_dir() {
            return Some(p);
        }
    }
    let ws = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    for c in [ws.join("../shared"), PathBuf::from("/work/shared")] {
        if c.is_dir() {
            return Some(c);
        }
    }
    println!("skipped: shared data not found");
    None
}
