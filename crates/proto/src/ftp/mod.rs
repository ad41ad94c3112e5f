//! FTP control connections ([`FtpParser`]: commands, replies, PORT/EPRT/PASV/EPSV
//! data-connection announcements as [`stormwatch_model::FtpEvent::DataExpected`])
//! and data connections ([`FtpDataParser`]: the transferred file, with magic,
//! size and SHA-256 for executables).
//!
//! ```
//! use stormwatch_model::Direction;
//! use stormwatch_proto::api::ProbeResult;
//! use stormwatch_proto::ftp;
//! assert_eq!(ftp::probe(Direction::ToServer, b"USER anonymous\r\n"), ProbeResult::Match);
//! assert_eq!(ftp::probe(Direction::ToClient, b"220 ProFTPD 1.3.0a Server\r\n"), ProbeResult::Match);
//! assert_eq!(ftp::probe(Direction::ToClient, b"220 mail.example.com ESMTP\r\n"), ProbeResult::NoMatch);
//! ```

pub mod logger;
pub mod parser;
mod state;

pub use state::{FtpDataParser, FtpParser, FtpTx, ReplyLine};

use crate::api::ProbeResult;
use crate::files::FileConfig;
use stormwatch_model::Direction;

/// FTP parser and logger settings.
#[derive(Clone, Debug)]
pub struct FtpConfig {
    /// Longest command or reply line kept, in bytes (Suricata's default
    /// `max-line-length`: 4096); longer lines are cut and logged with
    /// `command_truncated` / `reply_truncated`.
    pub max_line_bytes: usize,
    /// Most commands waiting for their reply (default 256); beyond, the oldest is
    /// logged and dropped (anomaly `ftp.tx_limit_reached`, once per connection).
    pub max_open_txs: usize,
    /// Most reply lines kept per command (default 64).
    pub max_reply_lines: usize,
    /// Files on data connections.
    pub files: FileConfig,
}

impl Default for FtpConfig {
    fn default() -> Self {
        FtpConfig {
            max_line_bytes: 4096,
            max_open_txs: 256,
            max_reply_lines: 64,
            files: FileConfig::default(),
        }
    }
}

/// Commands a client opens an FTP session with (or sends early).
const CLIENT_VERBS: &[&[u8]] = &[
    b"USER", b"PASS", b"AUTH", b"FEAT", b"SYST", b"PASV", b"EPSV", b"PORT", b"EPRT", b"TYPE",
    b"RETR", b"STOR", b"LIST", b"NLST", b"CWD", b"PWD", b"OPTS", b"SITE", b"QUIT",
];

/// Content probe. To server: a known FTP verb followed by a space or line end
/// (`QUIT` is shared with SMTP and POP3: the framework breaks the tie by port).
/// To client: a `220` greeting that names FTP (and not SMTP).
pub fn probe(dir: Direction, data: &[u8]) -> ProbeResult {
    match dir {
        Direction::ToServer => {
            let end = data
                .iter()
                .position(|&c| c == b' ' || c == b'\r' || c == b'\n')
                .unwrap_or(data.len());
            let verb = &data[..end];
            if end == data.len() {
                return if end < 5
                    && CLIENT_VERBS
                        .iter()
                        .any(|v| crate::files::starts_with_nocase(v, verb))
                {
                    ProbeResult::NeedMore
                } else {
                    ProbeResult::NoMatch
                };
            }
            if CLIENT_VERBS.iter().any(|v| v.eq_ignore_ascii_case(verb)) {
                ProbeResult::Match
            } else {
                ProbeResult::NoMatch
            }
        }
        Direction::ToClient => {
            if data.len() < 4 {
                return if b"220 ".starts_with(data) || b"220-".starts_with(data) {
                    ProbeResult::NeedMore
                } else {
                    ProbeResult::NoMatch
                };
            }
            if !(data.starts_with(b"220 ") || data.starts_with(b"220-")) {
                return ProbeResult::NoMatch;
            }
            let Some(eol) = memchr::memchr(b'\n', data) else {
                return if data.len() > 512 {
                    ProbeResult::NoMatch
                } else {
                    ProbeResult::NeedMore
                };
            };
            let line = data[..eol].to_ascii_uppercase();
            let has = |w: &[u8]| memchr::memmem::find(&line, w).is_some();
            if has(b"FTP") && !has(b"SMTP") {
                ProbeResult::Match
            } else {
                ProbeResult::NoMatch
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn probes() {
        use Direction::*;
        assert_eq!(probe(ToServer, b"QUIT\r\n"), ProbeResult::Match);
        assert_eq!(probe(ToServer, b"US"), ProbeResult::NeedMore);
        assert_eq!(probe(ToServer, b"EHLO x\r\n"), ProbeResult::NoMatch);
        assert_eq!(probe(ToServer, b"GET / HTTP/1.1\r\n"), ProbeResult::NoMatch);
        assert_eq!(probe(ToClient, b"22"), ProbeResult::NeedMore);
        assert_eq!(
            probe(ToClient, b"220 (vsFTPd 3.0.2)\r\n"),
            ProbeResult::Match
        );
        assert_eq!(probe(ToClient, b"220 Welcome"), ProbeResult::NeedMore);
        assert_eq!(probe(ToClient, b"SSH-2.0-x\r\n"), ProbeResult::NoMatch);
    }
}
