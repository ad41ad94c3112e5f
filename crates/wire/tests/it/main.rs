//! Integration tests for stormwatch-wire: the decoder against tshark, frame
//! by frame, over the shared corpus and suricata-verify captures.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod fastpath;
mod tshark;
