//! TLS (SSL 3.0 – TLS 1.3), SSLv2 and PCT 1.0.
//!
//! SSL3/TLS records and handshake messages are read with `tls-parser` (behind
//! this module); SSLv2 and PCT hellos with our own parsers in [`parser`].

pub mod cert;
pub mod detect;
pub mod ja;
pub mod logger;
pub mod parser;
mod state;

pub use state::{TlsParser, TlsSide, TlsState};

use crate::api::ProbeResult;
use stormwatch_model::Direction;

/// TLS parser and logger settings.
#[derive(Clone, Debug)]
pub struct TlsConfig {
    /// Extended EVE `tls` record (Suricata `extended: yes`, the default):
    /// serial, fingerprint, sni, version, validity dates.
    pub extended: bool,
    /// Suricata's `custom` field list; when set it replaces the basic/extended
    /// choice (`subject`, `issuer`, `serial`, `fingerprint`, `sni`, `version`,
    /// `not_before`, `not_after`, `ja3`, `ja3s`, `ja4`, `client_handshake`,
    /// `server_handshake`, ...).
    pub custom: Option<Vec<String>>,
    /// Log `ja3`/`ja3s` objects (Suricata `ja3-fingerprints`, default off).
    pub ja3: bool,
    /// Log `ja4` (default off).
    pub ja4: bool,
    /// Handshake bytes buffered per direction while a message spans records,
    /// bytes (default 65536). Past it: `tls.handshake_too_long`.
    pub max_handshake_bytes: usize,
    /// Certificates of a chain decoded (default 1: the server's own, the one
    /// every record field and buffer reads; more costs an X.509 decode each).
    pub max_certs: usize,
}

impl Default for TlsConfig {
    fn default() -> Self {
        TlsConfig {
            extended: true,
            custom: None,
            ja3: false,
            ja4: false,
            max_handshake_bytes: 65536,
            max_certs: 1,
        }
    }
}

/// True for an SSL 3.0 / TLS record version (`0x0300..=0x0304`).
fn is_tls_version(major: u8, minor: u8) -> bool {
    major == 3 && minor <= 4
}

/// TLS / SSLv2 probe: an SSL3/TLS record header (handshake, alert, change cipher
/// spec or application data with a plausible length) or an SSLv2 CLIENT-HELLO /
/// SERVER-HELLO with an SSL version.
pub fn probe(_dir: Direction, data: &[u8]) -> ProbeResult {
    let Some(&b0) = data.first() else {
        return ProbeResult::NeedMore;
    };
    if (20..=23).contains(&b0) {
        if data.len() < 5 {
            return match data.get(1) {
                Some(&3) | None => ProbeResult::NeedMore,
                Some(_) => ProbeResult::NoMatch,
            };
        }
        let len = u16::from_be_bytes([data[3], data[4]]);
        if !is_tls_version(data[1], data[2]) || len > 18432 || (len == 0 && b0 != 22) {
            return ProbeResult::NoMatch;
        }
        if b0 == 22 && len > 0 {
            // Handshake: first message type must be a known one.
            return match data.get(5) {
                None => ProbeResult::NeedMore,
                Some(0..=4 | 8 | 11..=16 | 20 | 21 | 22 | 24) => ProbeResult::Match,
                Some(_) => ProbeResult::NoMatch,
            };
        }
        return ProbeResult::Match;
    }
    match parser::sslv2_kind(data) {
        Some(parser::V2Kind::Sslv2) => ProbeResult::Match,
        Some(_) => ProbeResult::NoMatch,
        None if data.len() < 7 && b0 & 0x80 != 0 => ProbeResult::NeedMore,
        None => ProbeResult::NoMatch,
    }
}

/// PCT probe: a record with an SSLv2-style header whose hello carries a version
/// that is not SSL's (PCT 1.0 is `0x8001`; the MS04-011 overflow shapes carry
/// anything).
pub fn probe_pct(_dir: Direction, data: &[u8]) -> ProbeResult {
    let Some(&b0) = data.first() else {
        return ProbeResult::NeedMore;
    };
    match parser::sslv2_kind(data) {
        Some(parser::V2Kind::Pct) => ProbeResult::Match,
        Some(_) => ProbeResult::NoMatch,
        None if data.len() < 7 && b0 & 0x80 != 0 => ProbeResult::NeedMore,
        None => ProbeResult::NoMatch,
    }
}
