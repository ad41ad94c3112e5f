//! # Overview
//!
//! `stormwatch-proto` identifies application protocols by content (never by port
//! alone), confirms or revises each guess with a real parser, and turns the bytes
//! into typed facts, EVE records and rule inspection buffers.
//!
//! (Under construction.)

pub mod api;
pub mod config;
pub mod dns;
pub mod ftp;
pub mod http;
pub mod smtp;
pub mod tftp;

pub use config::ProtoConfig;
