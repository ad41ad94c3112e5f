//! Integration tests of the flow stage: generated packets (real bytes decoded by
//! `stormwatch_wire`) through `FlowTable`, every delivered byte checked.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod defrag;
mod delivery;
mod fastpath;
mod prop;
mod reassembly;
mod table;
mod tshark;
mod util;
