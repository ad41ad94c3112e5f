//! # Overview
//!
//! `stormwatch-proto` identifies application protocols by content (never by port
//! alone), confirms or revises each guess with a real parser, and turns the bytes
//! into typed facts ([`stormwatch_model::AppEvent`]), EVE records
//! ([`stormwatch_model::AppRecord`]), anomalies and rule inspection buffers
//! ([`stormwatch_model::TxView`]).
//!
//! Primary types:
//! - [`Proto`]: the protocol stage (configuration, data-channel expectations,
//!   counters); the engine calls [`Proto::on_stream`], [`Proto::on_datagram`] and
//!   [`Proto::on_flow_end`].
//! - [`FlowApp`]: per-flow state, kept inside the engine's flow table entry
//!   (16 bytes when idle); [`FlowApp::app_proto`] is EVE's `flow.app_proto`.
//! - [`ProtoSink`]: where facts, records, anomalies and transactions go.
//! - [`ProtoConfig`]: limits and logger options.
//!
//! Protocol modules: [`tls`] (TLS, SSLv2, PCT), [`irc`], [`ssh`], [`mail`]
//! (POP3/IMAP detection), [`http`], [`dns`], [`ftp`], [`smtp`], [`tftp`].
//!
//! ```
//! use stormwatch_model::*;
//! use stormwatch_proto::{FlowApp, Proto, ProtoConfig, VecSink};
//! use std::net::{IpAddr, Ipv4Addr};
//!
//! let mut proto = Proto::new(ProtoConfig::default());
//! let key = FlowKey {
//!     src: IpAddr::V4(Ipv4Addr::new(10, 1, 1, 20)),
//!     dst: IpAddr::V4(Ipv4Addr::new(198, 51, 100, 9)),
//!     src_port: 1055,
//!     dst_port: 443,
//!     proto: IpProto::TCP,
//!     vlan: [0, 0],
//! };
//! let ctx = AppContext { ts: Timestamp::ZERO, flow_id: FlowId(1), key, dir: Direction::ToServer };
//! let mut app = FlowApp::default();
//! let mut sink = VecSink::default();
//! proto.on_flow_start(&ctx, &mut app);
//! proto.on_stream(&ctx, &mut app, StreamData::Bytes(b"NICK xX123\r\nUSER x x x :x\r\n"), &mut sink);
//! assert_eq!(app.app_proto(), AppProto::Irc);
//! // IRC on the TLS port: a masquerade.
//! assert!(sink.anomalies.iter().any(|a| a.event == "applayer.masquerade"));
//! ```
#![forbid(unsafe_code)]

pub mod api;
pub mod config;
mod dispatch;
pub mod dns;
pub mod files;
pub mod ftp;
pub mod http;
pub mod irc;
pub mod mail;
pub mod ports;
pub mod registry;
pub mod smtp;
pub mod ssh;
pub mod tftp;
pub mod tls;

pub use api::{
    DatagramParser, NullSink, ParseStatus, ProbeFn, ProbeResult, ProtoSink, StreamParser,
    TxSnapshot, VecSink,
};
pub use config::{DetectConfig, DetectionPort, ProtoConfig, Transport};
pub use dispatch::{FlowApp, Proto};
