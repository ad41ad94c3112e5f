//! # Overview
//!
//! `stormwatch-engine` wires one frame through every stage of the pipeline:
//! [`wire`](stormwatch_wire) decoding, [`flow`](stormwatch_flow) tracking and
//! reassembly, [`proto`](stormwatch_proto) identification and parsing,
//! [`rules`](stormwatch_rules) matching, [`detect`](stormwatch_detect) behaviour
//! and [`correlate`](stormwatch_correlate) judgement. Everything it produces is an
//! [`OutputRecord`](stormwatch_model::OutputRecord) pushed into a
//! [`Sink`](stormwatch_model::Sink).
//!
//! The primary types are [`Config`] (every stage's settings and limits) and
//! [`Engine`]. The engine is driven by packet time only: the same frames give the
//! same records, byte for byte.
//!
//! ```
//! use stormwatch_engine::{Config, Engine};
//! use stormwatch_model::{FrameOrigin, LinkType, RawFrame, Timestamp, VecSink};
//! let mut engine = Engine::new(Config::default());
//! let mut sink = VecSink::default();
//! let frame = RawFrame {
//!     ts: Timestamp::from_secs_micros(1, 0),
//!     link_type: LinkType::ETHERNET,
//!     data: &[0u8; 8],
//!     orig_len: 8,
//!     origin: FrameOrigin::default(),
//! };
//! engine.process(&frame, &mut sink).unwrap();
//! let summary = engine.finish(&mut sink).unwrap();
//! assert_eq!(summary.packets, 1);
//! ```
#![forbid(unsafe_code)]

mod config;
mod engine;

pub use config::Config;
pub use engine::{Engine, Summary};
