//! Helpers the rule benches share.
#![allow(dead_code)]

use std::path::PathBuf;

/// The shared data directory (rule files), if present: `STORMWATCH_SHARED`,
/// else `../shared` beside the workspace, else `/work/shared`.
pub fn shared() -> Option<PathBuf> {
    if let Ok(p) = std::env::var("STORMWATCH_SHARED") {
        return Some(PathBuf::from(p));
    }
    let ws = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    [ws.join("../shared"), PathBuf::from("/work/shared")]
        .into_iter()
        .find(|p| p.is_dir())
}

/// `n` xorshift bytes from `seed`: incompressible "binary" content.
pub fn noise(seed: u64, n: usize) -> Vec<u8> {
    let mut x = seed | 1;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}
