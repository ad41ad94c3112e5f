//! SMTP ([`SmtpParser`]): envelope transactions (HELO/EHLO, MAIL FROM, RCPT TO),
//! pipelining, DATA and BDAT messages read by a streaming MIME reader (`email`
//! object: from, to, cc, subject, attachment names, URLs), and STARTTLS, after
//! which the parser returns [`crate::api::ParseStatus::Upgrade`] with TLS.
//!
//! ```
//! use stormwatch_model::Direction;
//! use stormwatch_proto::api::ProbeResult;
//! use stormwatch_proto::smtp;
//! assert_eq!(smtp::probe(Direction::ToServer, b"EHLO client.example.com\r\n"), ProbeResult::Match);
//! assert_eq!(smtp::probe(Direction::ToClient, b"220 mail.example.com ESMTP Postfix\r\n"), ProbeResult::Match);
//! assert_eq!(smtp::probe(Direction::ToClient, b"220 ProFTPD Server\r\n"), ProbeResult::NoMatch);
//! ```

pub mod logger;
pub mod mime;
pub mod parser;
mod state;

pub use state::{SmtpCounters, SmtpParser, SmtpTx};

use crate::api::ProbeResult;
use stormwatch_model::Direction;

/// SMTP parser and logger settings.
#[derive(Clone, Debug)]
pub struct SmtpConfig {
    /// Longest command, reply or message line kept, in bytes (Suricata's 4096);
    /// longer lines are cut and raise `TRUNCATED_LINE`.
    pub max_line_bytes: usize,
    /// Recipients kept per transaction (default 256).
    pub max_rcpt: usize,
    /// Commands waiting for their reply (default 256; pipelining).
    pub max_pending_commands: usize,
    /// Transactions open at once (default 64); beyond, the oldest is logged.
    pub max_open_txs: usize,
    /// Read messages with the MIME reader (`email` object). Default true.
    pub decode_mime: bool,
    /// `extended` email fields (`subject`). Default false, as Suricata.
    pub extended: bool,
    /// MIME reader bounds and URL extraction.
    pub mime: mime::MimeLimits,
    /// Log a completed transaction only when the other direction next delivers
    /// data — Suricata's timing when stream data is handed on as it arrives.
    /// When it is handed on as the peer acknowledges it (Suricata's IDS mode,
    /// `stream.delivery: on-ack`) that delay is in the delivery itself, and the
    /// engine turns this off: a transaction is logged as soon as it completes.
    /// Default true.
    pub defer_log: bool,
}

impl Default for SmtpConfig {
    fn default() -> Self {
        SmtpConfig {
            max_line_bytes: 4096,
            max_rcpt: 256,
            max_pending_commands: 256,
            max_open_txs: 64,
            decode_mime: true,
            extended: false,
            mime: mime::MimeLimits::default(),
            defer_log: true,
        }
    }
}

/// Content probe. To server: `HELO`/`EHLO` followed by a space or line end, or
/// `QUIT` (shared with FTP and POP3: the framework breaks the tie by port). To
/// client: a `220` greeting that names SMTP or ESMTP (and not FTP).
pub fn probe(dir: Direction, data: &[u8]) -> ProbeResult {
    match dir {
        Direction::ToServer => {
            const VERBS: &[&[u8]] = &[b"HELO", b"EHLO", b"QUIT"];
            if data.len() < 5 {
                let n = data.len().min(4);
                return if VERBS
                    .iter()
                    .any(|v| v[..n].eq_ignore_ascii_case(&data[..n]))
                {
                    ProbeResult::NeedMore
                } else {
                    ProbeResult::NoMatch
                };
            }
            let verb_ok = VERBS.iter().any(|v| v.eq_ignore_ascii_case(&data[..4]));
            if verb_ok && matches!(data[4], b' ' | b'\r' | b'\n') {
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
            if has(b"SMTP") && !has(b"FTP") {
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
        assert_eq!(probe(ToServer, b"EHLO\r\n"), ProbeResult::Match);
        assert_eq!(probe(ToServer, b"ehlo x"), ProbeResult::Match);
        assert_eq!(probe(ToServer, b"EHL"), ProbeResult::NeedMore);
        assert_eq!(probe(ToServer, b"EHLOX"), ProbeResult::NoMatch);
        assert_eq!(probe(ToServer, b"USER x\r\n"), ProbeResult::NoMatch);
        assert_eq!(
            probe(ToClient, b"220 poczta.home-whs.pl ESMTP\r\n"),
            ProbeResult::Match
        );
        assert_eq!(
            probe(ToClient, b"220 (vsFTPd 3.0.2)\r\n"),
            ProbeResult::NoMatch
        );
        assert_eq!(probe(ToClient, b"220 x"), ProbeResult::NeedMore);
    }
}
