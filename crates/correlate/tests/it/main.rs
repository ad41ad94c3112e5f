//! Integration tests of the correlator (one binary).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::too_many_arguments,
    clippy::field_reassign_with_default
)]

mod build;
mod roundtrip;
mod story;
