//! End-to-end tests of the `stormwatch` binary.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod bad_input;
mod common;
mod corpus_verdicts;
mod profile;
mod roundtrip;
mod story;
mod suricata_verify;
