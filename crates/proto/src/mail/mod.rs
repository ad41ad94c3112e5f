//! POP3 and IMAP: detection (greetings and first commands) and the STLS /
//! STARTTLS upgrade to TLS. No EVE record (Suricata has none either).

use crate::api::{ParseStatus, ProbeResult, ProtoSink, StreamParser};
use crate::config::ProtoConfig;
use stormwatch_model::{AppContext, AppProto, Direction, StreamData};

/// Longest line kept while looking for STARTTLS, bytes.
const MAX_LINE: usize = 1024;

fn starts_with_ci(data: &[u8], pat: &[u8]) -> ProbeResult {
    let n = data.len().min(pat.len());
    if !data[..n].eq_ignore_ascii_case(&pat[..n]) {
        ProbeResult::NoMatch
    } else if n < pat.len() {
        ProbeResult::NeedMore
    } else {
        ProbeResult::Match
    }
}

fn first_of(data: &[u8], pats: &[&[u8]]) -> ProbeResult {
    let mut more = false;
    for p in pats {
        match starts_with_ci(data, p) {
            ProbeResult::Match => return ProbeResult::Match,
            ProbeResult::NeedMore => more = true,
            ProbeResult::NoMatch => {}
        }
    }
    if more {
        ProbeResult::NeedMore
    } else {
        ProbeResult::NoMatch
    }
}

/// POP3 probe: server greeting `+OK` (or `-ERR`); client `CAPA`, `STLS`, `APOP`,
/// `AUTH` lines.
pub fn probe_pop3(dir: Direction, data: &[u8]) -> ProbeResult {
    match dir {
        Direction::ToClient => first_of(data, &[b"+OK", b"-ERR "]),
        Direction::ToServer => first_of(data, &[b"CAPA\r\n", b"CAPA\n", b"STLS\r\n", b"APOP "]),
    }
}

/// IMAP probe: server greeting `* OK` / `* PREAUTH` / `* BYE`; client
/// `<tag> CAPABILITY|LOGIN|STARTTLS|AUTHENTICATE`.
pub fn probe_imap(dir: Direction, data: &[u8]) -> ProbeResult {
    match dir {
        Direction::ToClient => first_of(data, &[b"* OK", b"* PREAUTH", b"* BYE"]),
        Direction::ToServer => {
            // tag: 1..=20 atom characters, then a space and a command.
            let tag_len = data
                .iter()
                .take(21)
                .take_while(|c| c.is_ascii_alphanumeric() || **c == b'.' || **c == b'_')
                .count();
            if tag_len == data.len() {
                return if tag_len <= 20 {
                    ProbeResult::NeedMore
                } else {
                    ProbeResult::NoMatch
                };
            }
            if tag_len == 0 || tag_len > 20 || data.get(tag_len) != Some(&b' ') {
                return ProbeResult::NoMatch;
            }
            let cmd = &data[tag_len + 1..];
            first_of(
                cmd,
                &[
                    b"CAPABILITY\r\n",
                    b"LOGIN ",
                    b"STARTTLS\r\n",
                    b"AUTHENTICATE ",
                ],
            )
        }
    }
}

/// A line-oriented POP3/IMAP follower that reports the switch to TLS.
#[derive(Debug)]
pub struct MailParser {
    proto: AppProto,
    line: [Vec<u8>; 2],
    overflow: [bool; 2],
    /// IMAP tag (or `STLS` for POP3) of a pending STARTTLS request.
    pending: Option<Vec<u8>>,
}

impl MailParser {
    /// POP3 follower.
    pub fn new_pop3(_cfg: &ProtoConfig) -> MailParser {
        MailParser {
            proto: AppProto::Pop3,
            line: [Vec::new(), Vec::new()],
            overflow: [false; 2],
            pending: None,
        }
    }

    /// IMAP follower.
    pub fn new_imap(_cfg: &ProtoConfig) -> MailParser {
        MailParser {
            proto: AppProto::Imap,
            ..MailParser::new_pop3(_cfg)
        }
    }

    fn on_line(&mut self, dir: Direction, line: &[u8]) -> bool {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        match (self.proto, dir) {
            (AppProto::Pop3, Direction::ToServer) => {
                if line.eq_ignore_ascii_case(b"STLS") {
                    self.pending = Some(b"STLS".to_vec());
                }
            }
            (AppProto::Pop3, Direction::ToClient) => {
                if self.pending.take().is_some() && line.starts_with(b"+OK") {
                    return true;
                }
            }
            (_, Direction::ToServer) => {
                let mut it = line.splitn(3, |c| *c == b' ');
                if let (Some(tag), Some(cmd)) = (it.next(), it.next())
                    && cmd.eq_ignore_ascii_case(b"STARTTLS")
                {
                    self.pending = Some(tag.to_vec());
                }
            }
            (_, Direction::ToClient) => {
                if let Some(tag) = &self.pending {
                    let mut it = line.splitn(3, |c| *c == b' ');
                    if it.next() == Some(tag.as_slice()) {
                        let ok = it.next().is_some_and(|s| s.eq_ignore_ascii_case(b"OK"));
                        self.pending = None;
                        return ok;
                    }
                }
            }
        }
        false
    }
}

impl StreamParser for MailParser {
    fn proto(&self) -> AppProto {
        self.proto
    }

    fn parse(
        &mut self,
        ctx: &AppContext,
        data: StreamData<'_>,
        _sink: &mut dyn ProtoSink,
    ) -> ParseStatus {
        let d = ctx.dir.index();
        let mut data = match data {
            StreamData::Bytes(b) => b,
            StreamData::Gap(_) => {
                self.line[d].clear();
                self.overflow[d] = true;
                return ParseStatus::Ok;
            }
        };
        while let Some(i) = memchr::memchr(b'\n', data) {
            let part = &data[..i];
            data = &data[i + 1..];
            let upgrade = if self.overflow[d] {
                self.overflow[d] = false;
                self.line[d].clear();
                false
            } else if self.line[d].is_empty() {
                self.on_line(ctx.dir, part)
            } else {
                let mut l = std::mem::take(&mut self.line[d]);
                l.extend_from_slice(part);
                let up = self.on_line(ctx.dir, &l);
                l.clear();
                self.line[d] = l;
                up
            };
            if upgrade {
                return ParseStatus::Upgrade(AppProto::Tls);
            }
        }
        if !self.overflow[d] {
            if self.line[d].len() + data.len() > MAX_LINE {
                self.overflow[d] = true;
                self.line[d].clear();
            } else {
                self.line[d].extend_from_slice(data);
            }
        }
        ParseStatus::Ok
    }

    fn close(&mut self, _ctx: &AppContext, _sink: &mut dyn ProtoSink) {}
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn probes() {
        use Direction::*;
        assert_eq!(
            probe_pop3(ToClient, b"+OK POP3 ready\r\n"),
            ProbeResult::Match
        );
        assert_eq!(probe_pop3(ToClient, b"+O"), ProbeResult::NeedMore);
        assert_eq!(probe_pop3(ToClient, b"220 smtp"), ProbeResult::NoMatch);
        assert_eq!(
            probe_imap(ToClient, b"* OK IMAP4rev1\r\n"),
            ProbeResult::Match
        );
        assert_eq!(
            probe_imap(ToServer, b"a001 CAPABILITY\r\n"),
            ProbeResult::Match
        );
        assert_eq!(probe_imap(ToServer, b"a001"), ProbeResult::NeedMore);
        assert_eq!(
            probe_imap(ToServer, b"GET / HTTP/1.1\r\n"),
            ProbeResult::NoMatch
        );
        assert_eq!(probe_imap(ToServer, b"NICK foo\r\n"), ProbeResult::NoMatch);
    }
}

#[cfg(test)]
mod parse_tests {
    use super::*;
    use crate::api::NullSink;
    use stormwatch_model::{FlowId, FlowKey, IpProto, Timestamp};

    fn ctx(dir: Direction) -> AppContext {
        AppContext {
            ts: Timestamp::ZERO,
            flow_id: FlowId(1),
            key: FlowKey {
                src: "10.0.0.1".parse().unwrap(),
                dst: "10.0.0.2".parse().unwrap(),
                src_port: 1000,
                dst_port: 143,
                proto: IpProto::TCP,
                vlan: [0, 0],
            },
            dir,
        }
    }

    /// The upgrade is found wherever the lines are cut; a rejected STARTTLS
    /// or an unrelated OK does not upgrade.
    #[test]
    fn starttls_split_at_every_offset() {
        let client = b"a1 CAPABILITY\r\na2 STARTTLS\r\n";
        let server = b"* CAPABILITY IMAP4rev1 STARTTLS\r\na1 OK done\r\na2 OK Begin TLS\r\n";
        for at in 0..server.len() {
            let mut p = MailParser::new_imap(&ProtoConfig::default());
            let c = ctx(Direction::ToServer);
            let s = ctx(Direction::ToClient);
            assert_eq!(
                p.parse(&c, StreamData::Bytes(client), &mut NullSink),
                ParseStatus::Ok
            );
            let r1 = p.parse(&s, StreamData::Bytes(&server[..at]), &mut NullSink);
            let r2 = p.parse(&s, StreamData::Bytes(&server[at..]), &mut NullSink);
            let up = ParseStatus::Upgrade(AppProto::Tls);
            assert!(r1 == up || r2 == up, "split at {at}");
        }
        let mut p = MailParser::new_imap(&ProtoConfig::default());
        p.parse(
            &ctx(Direction::ToServer),
            StreamData::Bytes(b"a2 STARTTLS\r\n"),
            &mut NullSink,
        );
        let r = p.parse(
            &ctx(Direction::ToClient),
            StreamData::Bytes(b"a2 NO not now\r\n"),
            &mut NullSink,
        );
        assert_eq!(r, ParseStatus::Ok);
    }
}
