//! # Overview
//!
//! `stormwatch-rules` reads Snort 2.9 / Suricata rules and matches them against
//! packets, reassembled TCP streams and application-layer transactions.
//!
//! * [`RulesConfig`] — variables (`$HOME_NET`, `$HTTP_PORTS`, ...), the
//!   classtype table and limits; [`RulesConfig::from_suricata_yaml`] reads a
//!   `suricata.yaml`'s `vars:`.
//! * [`RuleSet`] — built once by [`RuleSet::load`] (files, directories) or
//!   [`RuleSet::from_text`]: lexer → parser → validation → compiled groups with
//!   one Aho-Corasick prefilter per group. Bad rules are skipped, never misread:
//!   the [`LoadReport`] names each with file, line and reason.
//! * [`RuleSet::match_packet`], [`RuleSet::match_stream`],
//!   [`RuleSet::match_tx`] — append [`Alert`](stormwatch_model::Alert)s.
//! * [`FlowState`] — per-flow flowbits, stream windows and per-transaction
//!   alert memory; one pointer until a rule needs it.
//!
//! ```
//! use stormwatch_rules::{RuleSet, RulesConfig};
//! let text = "alert tcp any any -> any 80 (msg:\"x\"; content:\"GET\"; sid:1;)\n\
//!             alert tcp any any -> any any (msg:\"y\"; lua:foo.lua; sid:2;)\n";
//! let (rs, report) = RuleSet::from_text("example.rules", text, &RulesConfig::default());
//! assert_eq!(rs.len(), 1);
//! assert_eq!(report.skips[0].reason, "unsupported keyword \"lua\"");
//! assert_eq!(report.skips[0].line, 2);
//! ```
#![forbid(unsafe_code)]

mod config;
mod enc;
mod error;
mod groups;
mod header;
mod inspect;
mod lexer;
mod parse;
mod prefilter;
mod profile;
mod report;
mod rule;
mod ruleset;
#[allow(missing_docs)]
mod threshold;

pub use config::{ClassType, Classification, EncryptionHandling, RulesConfig, RulesLimits, Vars};
pub use error::RulesError;
pub use profile::{
    ProfileReport, RuleProfile, SearchProfile, buffer_name, percent as profile_percent,
};
pub use report::{FileReport, LoadReport, Skip};
pub use ruleset::{FlowInfo, FlowState, PacketInput, RuleSet, RulesCounters, StreamInput, TxInput};
