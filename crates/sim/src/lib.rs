//! # Overview
//!
//! `stormwatch-sim` turns a scenario — hosts, networks, a seed and a timeline
//! of activities — into a classic pcap and ground-truth [`Labels`]: the
//! project's test traffic with a known truth.
//!
//! * [`parse_scenario`] reads a scenario file (format in `docs/scenarios.md`)
//!   into a [`Scenario`]; errors are [`ScenarioError`]s with file, line, column
//!   and what was expected.
//! * [`generate`] writes the capture deterministically: same scenario and seed,
//!   same bytes. The result, [`Generated`], also keeps every TCP stream exactly
//!   as written ([`StreamRecord`]) so tests can compare reassembly with it.
//! * [`builtin_names`] / [`builtin_source`] give the six built-in scenarios
//!   (`mipsiv`, `pct-worm`, `irc-bot`, `scan-only`, `benign-busy`, `pct-evasion`).
//! * [`write_background`] streams a large realistic benign capture for
//!   benchmarks.
//! * [`payload`] holds the protocol writers (TLS, SSLv2, PCT and the PCT
//!   overflow shape, IRC, HTTP, DNS, SSH, FTP, TFTP, PE/ELF bodies).
//!
//! ```
//! let src = stormwatch_sim::builtin_source("mipsiv").unwrap();
//! let scenario = stormwatch_sim::parse_scenario("mipsiv", src).unwrap();
//! let out = stormwatch_sim::generate(&scenario).unwrap();
//! assert_eq!(&out.pcap[..4], &[0xd4, 0xc3, 0xb2, 0xa1]);
//! let victim = out.labels.host("10.1.1.20").unwrap();
//! assert_eq!(victim.label, "trojan");
//! ```
#![forbid(unsafe_code)]

mod background;
mod error;
mod generator;
mod labels;
mod packet;
pub mod payload;
pub mod pcap;
mod scenario;
mod tcp;

pub use background::{BackgroundStats, SmallPacketStats, write_background, write_small_packets};
pub use error::ScenarioError;
pub use generator::{Generated, generate};
pub use labels::*;
pub use scenario::parse::{MAX_ADDRESSES, MAX_SPAN_NS};
pub use scenario::text::rfc3339;
pub use scenario::*;
pub use tcp::{OverlapPolicy, SegmentRecord, StreamRecord, reassemble};

/// Parses and validates a scenario file. `origin` (the file name) prefixes
/// every error message.
pub fn parse_scenario(origin: &str, text: &str) -> Result<Scenario, ScenarioError> {
    scenario::parse::parse_scenario(origin, text)
}

const BUILTINS: &[(&str, &str)] = &[
    ("mipsiv", include_str!("../../../scenarios/mipsiv.toml")),
    ("pct-worm", include_str!("../../../scenarios/pct-worm.toml")),
    ("irc-bot", include_str!("../../../scenarios/irc-bot.toml")),
    (
        "scan-only",
        include_str!("../../../scenarios/scan-only.toml"),
    ),
    (
        "benign-busy",
        include_str!("../../../scenarios/benign-busy.toml"),
    ),
    (
        "pct-evasion",
        include_str!("../../../scenarios/pct-evasion.toml"),
    ),
];

const NAMES: &[&str] = &[
    "mipsiv",
    "pct-worm",
    "irc-bot",
    "scan-only",
    "benign-busy",
    "pct-evasion",
];

/// Names of the built-in scenarios.
pub fn builtin_names() -> &'static [&'static str] {
    NAMES
}

/// The TOML text of a built-in scenario.
pub fn builtin_source(name: &str) -> Option<&'static str> {
    BUILTINS.iter().find(|(n, _)| *n == name).map(|(_, s)| *s)
}

/// Parses a built-in scenario (origin `scenarios/<name>.toml`).
pub fn builtin(name: &str) -> Option<Result<Scenario, ScenarioError>> {
    let src = builtin_source(name)?;
    Some(parse_scenario(&format!("scenarios/{name}.toml"), src))
}
