//! # Overview
//!
//! `stormwatch-model` is the vocabulary the pipeline stages pass to each other
//! (see `docs/architecture.md`). Nothing here does work; every stage takes these
//! types from the stage before and hands them on.
//!
//! | stage → stage | types |
//! |---|---|
//! | capture → wire | [`RawFrame`], [`LinkType`], [`Timestamp`] |
//! | flow → proto | [`StreamChunk`] ([`StreamData`] bytes or gap), [`FlowId`], [`FlowKey`], [`Direction`] |
//! | flow → output, detect | [`FlowRecord`] |
//! | proto → rules | [`TxView`], [`BufferId`], [`TxField`] |
//! | proto → detect | [`AppEvent`] in an [`AppContext`] |
//! | any → output | [`Anomaly`], [`Alert`], [`AppRecord`] |
//! | rules, detect → correlate | [`Alert`], [`Notice`] → [`Evidence`] |
//! | correlate → output | [`Verdict`], [`Incident`] |
//!
//! Everything that leaves the engine is an [`OutputRecord`] pushed into a [`Sink`].
//!
//! ```
//! use stormwatch_model::{Timestamp, Direction};
//! let ts = Timestamp::from_secs_micros(1_259_086_431, 591_346);
//! assert_eq!(ts.to_eve(), "2009-11-24T18:13:51.591346+0000");
//! assert_eq!(Direction::ToServer.flip(), Direction::ToClient);
//! ```
#![forbid(unsafe_code)]

mod alert;
mod anomaly;
mod app;
mod evidence;
mod flow;
mod frame;
mod net;
mod notice;
mod output;
mod packet;
mod time;
mod verdict;

pub use alert::*;
pub use anomaly::*;
pub use app::*;
pub use evidence::*;
pub use flow::*;
pub use frame::*;
pub use net::*;
pub use notice::*;
pub use output::*;
pub use packet::*;
pub use time::*;
pub use verdict::*;
