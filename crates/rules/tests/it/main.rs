//! Integration tests of the rules crate.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod broken;
mod check;
mod common;
mod pct;
mod profile;
mod semantics;
