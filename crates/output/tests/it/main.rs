//! Integration tests of the output crate (one binary).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod report;
mod store;
