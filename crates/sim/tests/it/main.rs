//! Integration tests of the simulator: tshark as oracle (acceptance 1),
//! determinism (2), the PCT overflow on the wire (3), scenario errors (5),
//! the committed examples, and the stories the labels tell.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod determinism;
mod errors;
mod examples;
mod stories;
mod tshark;
mod wire;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, OnceLock};
use stormwatch_sim::{Generated, builtin, generate};

/// A built-in's generated capture, generated once per test run and shared
/// by the tests that only read it.
pub fn cached(name: &str) -> Arc<Generated> {
    static CACHE: OnceLock<Mutex<BTreeMap<String, Arc<Generated>>>> = OnceLock::new();
    let m = CACHE.get_or_init(|| Mutex::new(BTreeMap::new()));
    let mut m = m.lock().unwrap_or_else(|e| e.into_inner());
    m.entry(name.to_string())
        .or_insert_with(|| Arc::new(gen_builtin(name)))
        .clone()
}

/// Generates a built-in scenario afresh.
pub fn gen_builtin(name: &str) -> Generated {
    let s = builtin(name)
        .unwrap_or_else(|| panic!("no built-in {name}"))
        .unwrap_or_else(|e| panic!("{e}"));
    generate(&s).unwrap_or_else(|e| panic!("{e}"))
}
