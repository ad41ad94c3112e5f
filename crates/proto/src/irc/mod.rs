//! IRC (RFC 1459 / 2812): message grammar, CTCP and DCC, per-session nick,
//! user and channels; our own EVE `irc` record (see `docs/eve.md`).

pub mod detect;
pub mod logger;
pub mod parser;
mod state;

pub use state::{IrcParser, IrcSession};

use crate::api::ProbeResult;
use stormwatch_model::Direction;

/// IRC parser and logger settings.
#[derive(Clone, Debug)]
pub struct IrcConfig {
    /// Longest line buffered, bytes (default 4096; RFC 2812 says 512). A longer
    /// line raises `irc.line_too_long` and is skipped to its end.
    pub max_line_bytes: usize,
    /// Channels remembered per session (default 64); past it
    /// `irc.too_many_channels`.
    pub max_channels: usize,
    /// Log the server's MOTD and other bulk numerics (372, 375, 376, 353, 366,
    /// 251–266) as EVE records (default false: they are counted, not logged).
    pub log_bulk_numerics: bool,
}

impl Default for IrcConfig {
    fn default() -> Self {
        IrcConfig {
            max_line_bytes: 4096,
            max_channels: 64,
            log_bulk_numerics: false,
        }
    }
}

/// IRC probe: the first complete line (or the second, for a midstream pickup
/// that starts inside a line) is an IRC message: a known client command with
/// plausible parameters, or a prefixed server message / numeric reply.
pub fn probe(dir: Direction, data: &[u8]) -> ProbeResult {
    parser::probe_lines(dir, data)
}
