//! # Overview
//!
//! `stormwatch-wire` decodes link, network and transport headers into zero-copy
//! views. The one entry point is [`decode_frame`]: it never fails — whatever it
//! cannot decode it records as a named [`DecodeAnomaly`] in the returned
//! [`Decoded`] and stops there.
//!
//! ```
//! use stormwatch_wire::{decode_frame, LinkType, L4};
//! let d = decode_frame(LinkType::ETHERNET, &[0u8; 10]);
//! assert!(matches!(d.l4, L4::None));
//! assert!(!d.anomalies.is_empty());
//! ```
#![forbid(unsafe_code)]

mod decoded;

pub use decoded::*;
