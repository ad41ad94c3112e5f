//! Where encrypted data starts on TLS and SSH flows.
//!
//! Suricata's default (`encryption-handling: track-only`, the `default` of
//! older versions) stops payload inspection of a flow once its encrypted part
//! starts: for TLS at the first application-data record after a handshake
//! record, for SSH once both sides sent `SSH_MSG_NEWKEYS`. Application-layer
//! keywords (`tls.*`, `ssh.*`, `ssl_state`, ...) keep working. Rules with raw
//! `content` cannot meaningfully match ciphertext, and scanning it is most of
//! the work on a typical link, so stormwatch does the same by default
//! ([`EncryptionHandling`](crate::EncryptionHandling)).
//!
//! The trackers here walk the record framing of each direction from the
//! stream's first byte (TLS record headers, SSH banner and binary-packet
//! headers). Anything that does not parse stops the tracker for that direction
//! and inspection simply goes on, so malformed or mislabelled traffic is never
//! skipped by mistake.

use stormwatch_model::AppProto;

/// Longest TLS record body accepted (2^14 plus expansion allowance).
const TLS_MAX_RECORD: usize = (1 << 14) + 2048;
/// Longest SSH binary packet accepted before the keys change.
const SSH_MAX_PACKET: usize = 256 * 1024;
/// Longest SSH identification line (RFC 4253: 255, with slack).
const SSH_MAX_LINE: usize = 1024;
/// Lines a server may send before its `SSH-` line.
const SSH_MAX_LINES: u32 = 16;

/// Framing state of one direction.
#[derive(Clone, Debug, Default)]
enum Walk {
    /// Not started (no byte seen yet).
    #[default]
    Start,
    /// Collecting a TLS record header (`got` bytes in `hdr`).
    TlsHeader {
        hdr: [u8; 5],
        got: usize,
        first: bool,
    },
    /// Skipping the body of a TLS record.
    TlsBody { left: usize },
    /// Reading SSH identification lines (bytes of the current line, lines so far).
    SshBanner {
        line: usize,
        lines: u32,
        is_ssh: bool,
    },
    /// Collecting an SSH binary packet header (length, padding, message code).
    SshHeader { hdr: [u8; 6], got: usize },
    /// Skipping the rest of an SSH packet.
    SshBody { left: usize },
    /// Stopped: lost framing, midstream start, or nothing more to learn.
    Done,
}

/// Per-flow tracker.
#[derive(Clone, Debug, Default)]
pub(crate) struct EncTrack {
    walk: [Walk; 2],
    /// A TLS handshake record was seen (either direction).
    tls_handshake: bool,
    /// SSH: this direction sent NEWKEYS.
    newkeys: [bool; 2],
}

/// What a chunk revealed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Seen {
    /// Nothing new: inspect the whole chunk.
    Clear,
    /// Encrypted data starts at this offset of the chunk: inspect only the
    /// bytes before it, and no payload of the flow from now on.
    EncryptedFrom(usize),
}

impl EncTrack {
    /// Feeds one in-order chunk of direction `d` (`offset` = position of the
    /// chunk in that direction's stream) of a flow identified as `proto`.
    pub(crate) fn feed(&mut self, proto: AppProto, d: usize, offset: u64, data: &[u8]) -> Seen {
        let Some(walk) = self.walk.get_mut(d) else {
            return Seen::Clear;
        };
        if matches!(walk, Walk::Start) {
            *walk = match (proto, offset) {
                (AppProto::Tls, 0) => Walk::TlsHeader {
                    hdr: [0; 5],
                    got: 0,
                    first: true,
                },
                (AppProto::Ssh, 0) => Walk::SshBanner {
                    line: 0,
                    lines: 0,
                    is_ssh: false,
                },
                _ => Walk::Done,
            };
        }
        let mut i = 0;
        while i < data.len() {
            let Some(walk) = self.walk.get_mut(d) else {
                break;
            };
            match walk {
                Walk::Start | Walk::Done => break,
                Walk::TlsBody { left } | Walk::SshBody { left } => {
                    let n = (*left).min(data.len() - i);
                    *left -= n;
                    i += n;
                    if *left == 0 {
                        *walk = if matches!(walk, Walk::TlsBody { .. }) {
                            Walk::TlsHeader {
                                hdr: [0; 5],
                                got: 0,
                                first: false,
                            }
                        } else {
                            Walk::SshHeader {
                                hdr: [0; 6],
                                got: 0,
                            }
                        };
                    }
                }
                Walk::TlsHeader { hdr, got, first } => {
                    // The header began in an earlier chunk when `got` > `i`.
                    let start = i.saturating_sub(*got);
                    while *got < 5 && i < data.len() {
                        hdr[*got] = data[i];
                        *got += 1;
                        i += 1;
                    }
                    if *got < 5 {
                        break;
                    }
                    let h = *hdr;
                    let len = usize::from(u16::from_be_bytes([h[3], h[4]]));
                    if *first && h[0] & 0x80 != 0 {
                        // SSLv2-format hello: 2-byte header, then the body.
                        let len2 = usize::from(u16::from_be_bytes([h[0] & 0x7f, h[1]]));
                        *walk = match len2.checked_sub(3) {
                            Some(0) => Walk::TlsHeader {
                                hdr: [0; 5],
                                got: 0,
                                first: false,
                            },
                            Some(left) => Walk::TlsBody { left },
                            None => Walk::Done,
                        };
                        continue;
                    }
                    let valid = (20..=24).contains(&h[0]) && h[1] == 3 && len <= TLS_MAX_RECORD;
                    if !valid {
                        *walk = Walk::Done;
                        break;
                    }
                    match h[0] {
                        22 => self.tls_handshake = true,
                        23 if self.tls_handshake => {
                            self.walk = [Walk::Done, Walk::Done];
                            return Seen::EncryptedFrom(start);
                        }
                        _ => {}
                    }
                    *walk = if len == 0 {
                        Walk::TlsHeader {
                            hdr: [0; 5],
                            got: 0,
                            first: false,
                        }
                    } else {
                        Walk::TlsBody { left: len }
                    };
                }
                Walk::SshBanner {
                    line,
                    lines,
                    is_ssh,
                } => {
                    let rest = &data[i..];
                    if *line == 0 && !rest.is_empty() {
                        *is_ssh = rest.starts_with(b"SSH-") || b"SSH-".starts_with(rest);
                    }
                    match memchr::memchr(b'\n', rest) {
                        Some(nl) => {
                            i += nl + 1;
                            if *is_ssh {
                                *walk = Walk::SshHeader {
                                    hdr: [0; 6],
                                    got: 0,
                                };
                            } else {
                                *line = 0;
                                *lines += 1;
                                if *lines > SSH_MAX_LINES {
                                    *walk = Walk::Done;
                                }
                            }
                        }
                        None => {
                            *line += rest.len();
                            i = data.len();
                            if *line > SSH_MAX_LINE {
                                *walk = Walk::Done;
                            }
                        }
                    }
                }
                Walk::SshHeader { hdr, got } => {
                    while *got < 6 && i < data.len() {
                        hdr[*got] = data[i];
                        *got += 1;
                        i += 1;
                    }
                    if *got < 6 {
                        break;
                    }
                    let h = *hdr;
                    let plen = usize::try_from(u32::from_be_bytes([h[0], h[1], h[2], h[3]]))
                        .unwrap_or(usize::MAX);
                    if !(2..=SSH_MAX_PACKET).contains(&plen) {
                        *walk = Walk::Done;
                        break;
                    }
                    let left = plen - 2;
                    if h[5] == 21 {
                        // NEWKEYS: this direction is encrypted after the packet.
                        *walk = Walk::Done;
                        if let Some(n) = self.newkeys.get_mut(d) {
                            *n = true;
                        }
                        if self.newkeys[0] && self.newkeys[1] {
                            self.walk = [Walk::Done, Walk::Done];
                            return Seen::EncryptedFrom((i + left).min(data.len()));
                        }
                        break;
                    }
                    *walk = if left == 0 {
                        Walk::SshHeader {
                            hdr: [0; 6],
                            got: 0,
                        }
                    } else {
                        Walk::SshBody { left }
                    };
                }
            }
        }
        Seen::Clear
    }

    /// A gap in direction `d`: its framing is lost.
    pub(crate) fn lost(&mut self, d: usize) {
        if let Some(w) = self.walk.get_mut(d) {
            *w = Walk::Done;
        }
    }

    /// True when the tracker has nothing more to learn.
    pub(crate) fn done(&self) -> bool {
        self.walk.iter().all(|w| matches!(w, Walk::Done))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tls_record(t: u8, body: &[u8]) -> Vec<u8> {
        let mut v = vec![t, 3, 3];
        v.extend_from_slice(&u16::try_from(body.len()).unwrap().to_be_bytes());
        v.extend_from_slice(body);
        v
    }

    /// Feeds `chunks` to direction `d`, returning the stream offset of the
    /// encrypted start (if found).
    fn feed_all(
        t: &mut EncTrack,
        p: AppProto,
        d: usize,
        chunks: &[&[u8]],
        base: u64,
    ) -> Option<u64> {
        let mut off = base;
        for c in chunks {
            if let Seen::EncryptedFrom(at) = t.feed(p, d, off, c) {
                return Some(off + at as u64);
            }
            off += c.len() as u64;
        }
        None
    }

    #[test]
    fn tls_application_data_after_handshake_at_every_split() {
        let mut client = tls_record(22, &[1; 40]);
        client.extend(tls_record(20, &[1]));
        let app_at = client.len() as u64;
        client.extend(tls_record(23, b"secret secret"));
        for split in 0..=client.len() {
            for split2 in split..=client.len() {
                let mut t = EncTrack::default();
                let parts = [&client[..split], &client[split..split2], &client[split2..]];
                let got = feed_all(&mut t, AppProto::Tls, 0, &parts, 0);
                // When the record header straddles chunks, encryption is
                // known from the chunk that completes the header.
                let hdr_end = app_at as usize + 5;
                let chunk_start = [0, split, split2]
                    .into_iter()
                    .filter(|&c| c < hdr_end)
                    .max()
                    .unwrap_or(0) as u64;
                assert_eq!(got, Some(app_at.max(chunk_start)), "split {split} {split2}");
            }
        }
    }

    #[test]
    fn tls_needs_a_handshake_and_valid_framing() {
        // Application data without a handshake first: not trusted.
        let mut t = EncTrack::default();
        let r = tls_record(23, b"x");
        assert_eq!(feed_all(&mut t, AppProto::Tls, 0, &[&r], 0), None);
        // Garbage stops the tracker.
        let mut t = EncTrack::default();
        let mut g = b"GET / HTTP/1.0\r\n".to_vec();
        g.extend(tls_record(22, b"x"));
        g.extend(tls_record(23, b"x"));
        assert_eq!(feed_all(&mut t, AppProto::Tls, 0, &[&g], 0), None);
        assert!(matches!(t.walk[0], Walk::Done));
        // Midstream: not tracked.
        let mut t = EncTrack::default();
        let mut h = tls_record(22, b"x");
        h.extend(tls_record(23, b"x"));
        assert_eq!(feed_all(&mut t, AppProto::Tls, 0, &[&h], 100), None);
        // Not TLS: not tracked.
        let mut t = EncTrack::default();
        assert_eq!(feed_all(&mut t, AppProto::Pct, 0, &[&h], 0), None);
    }

    #[test]
    fn tls_handshake_seen_in_the_other_direction_counts() {
        let mut t = EncTrack::default();
        let s = tls_record(22, &[2; 10]);
        assert_eq!(feed_all(&mut t, AppProto::Tls, 1, &[&s], 0), None);
        let c = tls_record(23, b"data");
        assert_eq!(feed_all(&mut t, AppProto::Tls, 0, &[&c], 0), Some(0));
    }

    #[test]
    fn sslv2_hello_then_tls_records() {
        // SSLv2-format ClientHello: 0x80 len, msg type 1.
        let mut c = vec![0x80, 0x05, 0x01, 0x03, 0x01, 0x00, 0x00];
        c.extend(tls_record(22, b"x"));
        let at = c.len() as u64;
        c.extend(tls_record(23, b"y"));
        let mut t = EncTrack::default();
        assert_eq!(feed_all(&mut t, AppProto::Tls, 0, &[&c], 0), Some(at));
    }

    fn ssh_packet(code: u8, payload: &[u8]) -> Vec<u8> {
        let pad = 4u8;
        let plen = u32::try_from(1 + 1 + payload.len() + usize::from(pad)).unwrap();
        let mut v = plen.to_be_bytes().to_vec();
        v.push(pad);
        v.push(code);
        v.extend_from_slice(payload);
        v.extend(std::iter::repeat_n(0, usize::from(pad)));
        v
    }

    #[test]
    fn ssh_encrypted_once_both_sides_sent_newkeys() {
        let mut cli = b"SSH-2.0-OpenSSH_8.0\r\n".to_vec();
        cli.extend(ssh_packet(20, &[7; 30]));
        cli.extend(ssh_packet(21, &[]));
        cli.extend(b"ciphertext....");
        let mut srv = b"banner line\r\nSSH-2.0-srv\r\n".to_vec();
        srv.extend(ssh_packet(20, &[9; 50]));
        let srv_keys_at = srv.len();
        srv.extend(ssh_packet(21, &[]));
        let srv_enc_at = srv.len() as u64;
        srv.extend(b"more ciphertext");
        for split in 0..=srv.len() {
            let mut t = EncTrack::default();
            assert_eq!(feed_all(&mut t, AppProto::Ssh, 0, &[&cli], 0), None);
            let got = feed_all(&mut t, AppProto::Ssh, 1, &[&srv[..split], &srv[split..]], 0);
            // A chunk ending inside the NEWKEYS packet: encrypted from the next chunk.
            let want = if (srv_keys_at + 6..srv_enc_at as usize).contains(&split) {
                split as u64
            } else {
                srv_enc_at
            };
            assert_eq!(got, Some(want), "split {split} (keys at {srv_keys_at})");
        }
    }

    #[test]
    fn ssh_without_banner_is_not_tracked() {
        let mut t = EncTrack::default();
        let mut c = vec![b'x'; 2000];
        c.extend(ssh_packet(21, &[]));
        assert_eq!(feed_all(&mut t, AppProto::Ssh, 0, &[&c], 0), None);
        assert!(matches!(t.walk[0], Walk::Done));
    }
}
