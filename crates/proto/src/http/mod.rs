//! HTTP/1.x: request and status lines, header fields, Content-Length, chunked and
//! until-close bodies, transactions with libhtp's quirks (URIs with spaces,
//! protocol-less request lines, non-numeric status codes), rule buffers, the EVE
//! `http` record and files in response bodies.
//!
//! Layout (Suricata style): [`parser`] holds the pure line parsers, `state` the
//! per-connection [`HttpParser`], `detect` the transaction type [`HttpTx`] with
//! its [`stormwatch_model::TxView`] buffers, and [`logger`] the EVE object.
//!
//! ```
//! use stormwatch_model::Direction;
//! use stormwatch_proto::api::ProbeResult;
//! use stormwatch_proto::http;
//! assert_eq!(http::probe(Direction::ToServer, b"GET / HTTP/1.1\r\n"), ProbeResult::Match);
//! assert_eq!(http::probe(Direction::ToServer, b"GE"), ProbeResult::NeedMore);
//! assert_eq!(http::probe(Direction::ToClient, b"SSH-2.0-x"), ProbeResult::NoMatch);
//! ```

mod detect;
pub mod logger;
pub mod parser;
mod state;

pub use detect::{Header, HttpTx};
pub use state::{HttpCounters, HttpParser};

use crate::api::ProbeResult;
use crate::files::FileConfig;
use stormwatch_model::Direction;

/// Which header blocks the EVE record lists in full (`dump-all-headers`).
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub enum HeaderDump {
    /// None (default).
    #[default]
    None,
    /// `request_headers` only.
    Request,
    /// `response_headers` only.
    Response,
    /// Both.
    Both,
}

/// HTTP parser and logger settings.
#[derive(Clone, Debug)]
pub struct HttpConfig {
    /// Bytes of each request body kept for `http.request_body` (Suricata's
    /// default request body limit: 102400).
    pub request_body_limit: usize,
    /// Bytes of each response body kept for `http.response_body` / `file.data`
    /// (default 102400).
    pub response_body_limit: usize,
    /// Longest request, status or header line kept, in bytes (default 18000,
    /// libhtp's field limit); longer lines are cut and raise `*_FIELD_TOO_LONG`.
    pub max_line_bytes: usize,
    /// Most header fields kept per block (default 1024); more raise
    /// `REQUEST_TOO_MANY_HEADERS` / `RESPONSE_TOO_MANY_HEADERS`.
    pub max_headers: usize,
    /// Most transactions open at once per connection (default 128; each may hold
    /// a request body window); the oldest
    /// is logged and dropped when a new one would exceed it
    /// (anomaly `http.tx_limit_reached`, once per connection).
    pub max_open_txs: usize,
    /// EVE `extended` fields (`http_refer`, `http_method`, `protocol`,
    /// `status`, `redirect`, `length`). Default true, as in Suricata's default
    /// configuration.
    pub extended: bool,
    /// EVE `dump-all-headers`.
    pub dump_all_headers: HeaderDump,
    /// Files in response bodies.
    pub files: FileConfig,
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            request_body_limit: 100 * 1024,
            response_body_limit: 100 * 1024,
            max_line_bytes: 18_000,
            max_headers: 1024,
            max_open_txs: 128,
            extended: true,
            dump_all_headers: HeaderDump::None,
            files: FileConfig::default(),
        }
    }
}

/// Longest request line prefix the probe waits for when it must see the
/// protocol token (`OPTIONS` is shared with RTSP and SIP).
const PROBE_LINE_MAX: usize = 4096;

/// Content probe: a known method followed by a space (to server), or `HTTP/`
/// (to client). Leading CR/LF are skipped.
pub fn probe(dir: Direction, data: &[u8]) -> ProbeResult {
    let start = data
        .iter()
        .position(|&c| c != b'\r' && c != b'\n')
        .unwrap_or(data.len());
    let d = &data[start..];
    if d.is_empty() {
        return ProbeResult::NeedMore;
    }
    match dir {
        Direction::ToServer => probe_request(d),
        Direction::ToClient => {
            let n = d.len().min(5);
            if d[..n].eq_ignore_ascii_case(&b"HTTP/"[..n]) {
                if n == 5 {
                    ProbeResult::Match
                } else {
                    ProbeResult::NeedMore
                }
            } else {
                ProbeResult::NoMatch
            }
        }
    }
}

fn probe_request(d: &[u8]) -> ProbeResult {
    let Some(sp) = d.iter().position(|&c| c == b' ') else {
        return if parser::METHODS.iter().any(|m| m.starts_with(d)) {
            ProbeResult::NeedMore
        } else {
            ProbeResult::NoMatch
        };
    };
    let method = &d[..sp];
    if !parser::METHODS.contains(&method) {
        return ProbeResult::NoMatch;
    }
    if method != b"OPTIONS" {
        return ProbeResult::Match;
    }
    match memchr::memchr(b'\n', d) {
        Some(i) => {
            let r = parser::parse_request_line(parser::chomp(&d[..=i]));
            match r.protocol {
                Some(p) if p.starts_with(b"RTSP/") || p.starts_with(b"SIP/") => {
                    ProbeResult::NoMatch
                }
                _ => ProbeResult::Match,
            }
        }
        None if d.len() > PROBE_LINE_MAX => ProbeResult::Match,
        None => ProbeResult::NeedMore,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn probes() {
        use Direction::*;
        assert_eq!(probe(ToServer, b"POST /x HTTP/1.0"), ProbeResult::Match);
        assert_eq!(probe(ToServer, b"\r\nGET /"), ProbeResult::Match);
        assert_eq!(probe(ToServer, b"PROPF"), ProbeResult::NeedMore);
        assert_eq!(probe(ToServer, b""), ProbeResult::NeedMore);
        assert_eq!(probe(ToServer, b"HELO x"), ProbeResult::NoMatch);
        assert_eq!(probe(ToServer, b"\x16\x03\x01"), ProbeResult::NoMatch);
        assert_eq!(
            probe(ToServer, b"OPTIONS * HTTP/1.1\r\n"),
            ProbeResult::Match
        );
        assert_eq!(
            probe(ToServer, b"OPTIONS sip:a@b SIP/2.0\r\n"),
            ProbeResult::NoMatch
        );
        assert_eq!(
            probe(ToServer, b"OPTIONS rtsp://a/ RTSP/1.0\r\n"),
            ProbeResult::NoMatch
        );
        assert_eq!(probe(ToServer, b"OPTIONS / HT"), ProbeResult::NeedMore);
        assert_eq!(probe(ToClient, b"HTTP/1.1 200 OK"), ProbeResult::Match);
        assert_eq!(probe(ToClient, b"http/"), ProbeResult::Match);
        assert_eq!(probe(ToClient, b"HTT"), ProbeResult::NeedMore);
        assert_eq!(probe(ToClient, b"220 smtp"), ProbeResult::NoMatch);
    }
}
