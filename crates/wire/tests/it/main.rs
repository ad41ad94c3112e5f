//! Integration tests for stormwatch-wire: the decoder against tshark, frame
//! by frame, over the shared corpus and suricata-verify captures.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};

mod fastpath;
mod tshark;

/// The shared data directory: `$STORMWATCH_SHARED`, else `<workspace>/../shared`,
/// else `/work/shared`.
fn shared_dir() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("STORMWATCH_SHARED") {
        return Some(PathBuf::from(p)).filter(|p| p.is_dir());
    }
    let ws = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    [ws.join("../shared"), PathBuf::from("/work/shared")]
        .into_iter()
        .find(|p| p.is_dir())
}
