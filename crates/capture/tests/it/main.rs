//! Integration tests for stormwatch-capture: crafted files for every format
//! feature, bad input, and oracles (capinfos / tshark) over the shared corpus.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod bad_input;
mod craft;
mod formats;
mod inputs;
mod oracle;
mod window;
