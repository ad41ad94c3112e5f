//! SSH: version banner (RFC 4253 §4.2, with the lines a server may send before
//! it) and the binary packets up to NEWKEYS (KEXINIT algorithm lists).
//!
//! EVE `ssh` record as Suricata writes it (`client`/`server` objects with
//! `proto_version` and `software_version`); buffers `ssh.proto` and
//! `ssh.software` of the side the inspected data came from.

pub mod detect;
pub mod logger;
pub mod parser;
mod state;

pub use state::SshParser;

use crate::api::ProbeResult;
use stormwatch_model::Direction;

/// SSH parser settings.
#[derive(Clone, Debug)]
pub struct SshConfig {
    /// Longest banner line kept, bytes (default 1024; RFC 4253 allows 255).
    /// A longer line raises `ssh.banner_too_long` and is cut.
    pub max_banner_bytes: usize,
    /// Lines accepted before the `SSH-` banner (default 16).
    pub max_pre_banner_lines: u32,
    /// Largest binary packet buffered to read KEXINIT, bytes (default 65536).
    pub max_packet_bytes: usize,
}

impl Default for SshConfig {
    fn default() -> Self {
        SshConfig {
            max_banner_bytes: 1024,
            max_pre_banner_lines: 16,
            max_packet_bytes: 65536,
        }
    }
}

/// Content probe: an `SSH-` banner, possibly after a few other lines (server side).
pub fn probe(dir: Direction, data: &[u8]) -> ProbeResult {
    const MAGIC: &[u8] = b"SSH-";
    let mut rest = data;
    let lines = if dir == Direction::ToClient { 5 } else { 1 };
    for _ in 0..lines {
        let n = rest.len().min(MAGIC.len());
        if rest[..n] == MAGIC[..n] {
            return if n == MAGIC.len() {
                ProbeResult::Match
            } else {
                ProbeResult::NeedMore
            };
        }
        // Lines before the banner must be text.
        match memchr::memchr(b'\n', rest) {
            Some(i) => {
                let line = &rest[..i];
                if line.iter().any(|&c| c < 0x09 || c == 0x7f) {
                    return ProbeResult::NoMatch;
                }
                rest = &rest[i + 1..];
            }
            None => return ProbeResult::NoMatch,
        }
    }
    ProbeResult::NoMatch
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn probe_banner() {
        assert_eq!(
            probe(Direction::ToServer, b"SSH-2.0-OpenSSH_5.2\r\n"),
            ProbeResult::Match
        );
        assert_eq!(probe(Direction::ToServer, b"SS"), ProbeResult::NeedMore);
        assert_eq!(
            probe(Direction::ToServer, b"GET / HTTP/1.0\r\n"),
            ProbeResult::NoMatch
        );
        assert_eq!(
            probe(Direction::ToClient, b"hello there\r\nSSH-1.99-Cisco\r\n"),
            ProbeResult::Match
        );
        assert_eq!(
            probe(Direction::ToServer, b"hello there\r\nSSH-1.99-Cisco\r\n"),
            ProbeResult::NoMatch
        );
    }
}
