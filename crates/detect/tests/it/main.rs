//! Integration tests of the detectors through their public API, with event
//! sequences built in the tests and (where present) facts extracted from the
//! shared real-capture corpus with tshark.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod bruteforce;
mod c2;
mod corpus;
mod egg;
mod listener;
mod propagation;
mod scan;
mod scenarios;
mod util;
