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

use stormwatch_sim::{Generated, builtin, generate};

/// Generates a built-in scenario.
pub fn gen_builtin(name: &str) -> Generated {
    let s = builtin(name)
        .unwrap_or_else(|| panic!("no built-in {name}"))
        .unwrap_or_else(|e| panic!("{e}"));
    generate(&s).unwrap_or_else(|e| panic!("{e}"))
}
