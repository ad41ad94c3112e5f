//! TFTP (RFC 1350, with the RFC 2347/2348 option extension): read and write
//! requests (EVE `tftp` record, Suricata's fields `packet`, `file`, `mode`) and
//! transfers, whose DATA blocks make a file ([`stormwatch_model::FileEvent`]
//! with magic, size, SHA-256 for executables, completeness).
//!
//! A transfer usually runs on a new server port (the server's transfer
//! identifier), i.e. on another UDP flow than the request: the framework can
//! hand that flow to [`TftpParser::for_transfer`] with the requested file name;
//! a transfer on the request's own flow is followed too.
//!
//! ```
//! use stormwatch_model::Direction;
//! use stormwatch_proto::api::ProbeResult;
//! use stormwatch_proto::tftp;
//! assert_eq!(tftp::probe(Direction::ToServer, b"\x00\x01bot.exe\x00octet\x00"), ProbeResult::Match);
//! assert_eq!(tftp::probe(Direction::ToServer, b"\x00\x01bot.exe\x00bogus\x00"), ProbeResult::NoMatch);
//! assert_eq!(tftp::probe_transfer(Direction::ToClient, b"\x00\x03\x00\x01MZ"), ProbeResult::Match);
//! ```

pub mod parser;
mod state;

pub use state::TftpParser;

use crate::api::ProbeResult;
use crate::files::FileConfig;
use stormwatch_model::Direction;

/// TFTP parser settings.
#[derive(Clone, Debug)]
pub struct TftpConfig {
    /// Files carried by transfers.
    pub files: FileConfig,
    /// Largest block size accepted from a `blksize` option, in bytes (RFC 2348
    /// allows up to 65464; default 65464).
    pub max_block_size: u16,
}

impl Default for TftpConfig {
    fn default() -> Self {
        TftpConfig {
            files: FileConfig::default(),
            max_block_size: 65464,
        }
    }
}

/// Probe for a TFTP request (RRQ/WRQ with a known transfer mode).
pub fn probe(_dir: Direction, data: &[u8]) -> ProbeResult {
    match parser::parse_packet(data) {
        Some(parser::Packet::Request { .. }) => ProbeResult::Match,
        _ => ProbeResult::NoMatch,
    }
}

/// Probe for the first packet of a transfer flow (DATA block 1, OACK, or an
/// ACK of block 0): only meaningful where a request announced the transfer.
pub fn probe_transfer(_dir: Direction, data: &[u8]) -> ProbeResult {
    match parser::parse_packet(data) {
        Some(parser::Packet::Data { block: 1, .. })
        | Some(parser::Packet::Ack { block: 0 })
        | Some(parser::Packet::OptionAck { .. }) => ProbeResult::Match,
        _ => ProbeResult::NoMatch,
    }
}
