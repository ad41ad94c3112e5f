//! Engine integration tests: whole-pipeline behaviour on real and generated captures.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
mod conversations;
mod delivery;
mod determinism;
mod protocols;
