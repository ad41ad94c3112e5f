//! Helpers for the end-to-end tests.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The workspace root.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The shared read-only data folder, if present.
pub fn shared_dir() -> Option<PathBuf> {
    if let Ok(p) = std::env::var("STORMWATCH_SHARED") {
        let p = PathBuf::from(p);
        if p.is_dir() {
            return Some(p);
        }
    }
    [root().join("../shared"), PathBuf::from("/work/shared")]
        .into_iter()
        .find(|c| c.join("corpus").is_dir())
}

/// Runs the binary with `args`.
pub fn stormwatch(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_stormwatch"))
        .args(args)
        .current_dir(root())
        .output()
        .expect("run stormwatch")
}

/// Standard error as text.
pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Standard output as text.
pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}
