//! IRC session state: line framing per direction (CRLF or bare LF, lines split
//! across segments, bounded line buffer), the client's nick, user and channels
//! (with keys), CTCP/DCC, and the per-message event, record and transaction.

use super::detect::IrcTx;
use super::parser::{self, IrcLine};
use crate::api::{ParseStatus, ProtoSink, StreamParser, app_record, parser_anomaly};
use crate::config::ProtoConfig;
use stormwatch_model::{
    AppContext, AppEvent, AppProto, Ctcp, Dcc, Direction, IrcEvent, IrcMessage, StreamData,
};

/// What the session knows about the client.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct IrcSession {
    /// Current nick (set by NICK, confirmed or changed by the server).
    pub nick: Option<String>,
    /// USER name.
    pub user: Option<String>,
    /// Channels joined, with keys when given.
    pub channels: Vec<(String, Option<String>)>,
    /// Messages parsed (both directions); the next transaction id.
    pub messages: u64,
    /// Bulk numerics (MOTD, NAMES, LUSERS) counted but not logged.
    pub bulk_skipped: u64,
}

#[derive(Debug, Default)]
struct LineBuf {
    buf: Vec<u8>,
    /// Inside an over-long line: skip to its end.
    skipping: bool,
}

/// The IRC stream parser.
#[derive(Debug)]
pub struct IrcParser {
    session: IrcSession,
    lines: [LineBuf; 2],
    max_line: usize,
    max_channels: usize,
    log_bulk: bool,
    channel_overflow: bool,
    starttls: bool,
}

/// Numerics that come in bulk and say little (MOTD, NAMES, LUSERS, ISUPPORT).
fn is_bulk_numeric(n: u16) -> bool {
    matches!(n, 2..=5 | 251..=266 | 353 | 366 | 372 | 375 | 376)
}

fn lossy(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn is_channel(p: &[u8]) -> bool {
    matches!(p.first(), Some(b'#' | b'&' | b'+' | b'!')) && p.len() > 1
}

/// The channel a message is about, if any.
pub(crate) fn channel_of<'a>(m: &IrcLine<'a>) -> Option<&'a [u8]> {
    let cmd = m.command();
    let up = |s: &[u8]| cmd.eq_ignore_ascii_case(s);
    if up(b"JOIN") || up(b"PART") {
        // First of a comma list.
        return m
            .param(0)
            .and_then(|p| p.split(|&c| c == b',').next())
            .filter(|c| is_channel(c));
    }
    if up(b"PRIVMSG") || up(b"NOTICE") || up(b"TOPIC") || up(b"MODE") || up(b"KICK") {
        return m.param(0).filter(|c| is_channel(c));
    }
    match m.numeric() {
        // RPL_TOPIC, RPL_NOTOPIC, RPL_TOPICWHOTIME, RPL_CHANNELMODEIS, RPL_ENDOFNAMES ...
        Some(324 | 329 | 331 | 332 | 333 | 366 | 471..=477) => m.param(1).filter(|c| is_channel(c)),
        Some(353) => m.param(2).filter(|c| is_channel(c)),
        _ => None,
    }
}

impl IrcParser {
    /// A parser for one connection.
    pub fn new(cfg: &ProtoConfig) -> IrcParser {
        IrcParser {
            session: IrcSession::default(),
            lines: [LineBuf::default(), LineBuf::default()],
            max_line: cfg.irc.max_line_bytes.max(16),
            max_channels: cfg.irc.max_channels,
            log_bulk: cfg.irc.log_bulk_numerics,
            channel_overflow: false,
            starttls: false,
        }
    }

    /// What the session learnt so far.
    pub fn session(&self) -> &IrcSession {
        &self.session
    }

    fn add_channel(
        &mut self,
        ctx: &AppContext,
        name: &[u8],
        key: Option<&[u8]>,
        sink: &mut dyn ProtoSink,
    ) {
        let name_s = lossy(name);
        if let Some(c) = self
            .session
            .channels
            .iter_mut()
            .find(|(n, _)| n.eq_ignore_ascii_case(&name_s))
        {
            if key.is_some() {
                c.1 = key.map(lossy);
            }
            return;
        }
        if self.session.channels.len() >= self.max_channels {
            if !self.channel_overflow {
                self.channel_overflow = true;
                sink.anomaly(parser_anomaly(
                    ctx,
                    AppProto::Irc,
                    "irc.too_many_channels",
                    Some(format!("more than {} channels", self.max_channels)),
                ));
            }
            return;
        }
        self.session.channels.push((name_s, key.map(lossy)));
    }

    fn remove_channel(&mut self, name: &[u8]) {
        let name_s = lossy(name);
        self.session
            .channels
            .retain(|(n, _)| !n.eq_ignore_ascii_case(&name_s));
    }

    fn is_me(&self, nick: Option<&[u8]>) -> bool {
        match (nick, &self.session.nick) {
            (Some(n), Some(me)) => me.as_bytes().eq_ignore_ascii_case(n),
            _ => false,
        }
    }

    /// Updates the session from one message.
    fn track(&mut self, ctx: &AppContext, m: &IrcLine<'_>, sink: &mut dyn ProtoSink) {
        let cmd = m.command();
        let up = |s: &[u8]| cmd.eq_ignore_ascii_case(s);
        match ctx.dir {
            Direction::ToServer => {
                if up(b"NICK") {
                    if let Some(n) = m.param(0) {
                        self.session.nick = Some(lossy(n));
                    }
                } else if up(b"USER") {
                    if let Some(u) = m.param(0) {
                        self.session.user = Some(lossy(u));
                    }
                } else if up(b"JOIN") {
                    if m.param(0) == Some(b"0") {
                        self.session.channels.clear();
                        return;
                    }
                    let chans = m.param(0).unwrap_or(b"");
                    let keys = m.param(1).unwrap_or(b"");
                    let mut ks = keys.split(|&c| c == b',');
                    for c in chans.split(|&c| c == b',') {
                        let k = ks.next().filter(|k| !k.is_empty());
                        if is_channel(c) {
                            self.add_channel(ctx, c, k, sink);
                        }
                    }
                } else if up(b"PART") {
                    for c in m.param(0).unwrap_or(b"").split(|&c| c == b',') {
                        self.remove_channel(c);
                    }
                }
            }
            Direction::ToClient => {
                let from_me = self.is_me(m.prefix_nick());
                if m.numeric() == Some(1) {
                    // RPL_WELCOME names the registered nick.
                    if let Some(n) = m.param(0) {
                        self.session.nick = Some(lossy(n));
                    }
                } else if up(b"NICK") && from_me {
                    if let Some(n) = m.param(0) {
                        self.session.nick = Some(lossy(n));
                    }
                } else if up(b"JOIN") && from_me {
                    for c in m.param(0).unwrap_or(b"").split(|&c| c == b',') {
                        if is_channel(c) {
                            self.add_channel(ctx, c, None, sink);
                        }
                    }
                } else if up(b"PART") && from_me {
                    for c in m.param(0).unwrap_or(b"").split(|&c| c == b',') {
                        self.remove_channel(c);
                    }
                } else if up(b"KICK")
                    && self.is_me(m.param(1))
                    && let Some(c) = m.param(0)
                {
                    self.remove_channel(c);
                } else if m.numeric() == Some(670) {
                    // RPL_STARTTLS: TLS follows on this connection.
                    self.starttls = true;
                }
            }
        }
    }

    fn on_line(&mut self, ctx: &AppContext, raw: &[u8], sink: &mut dyn ProtoSink) {
        let line = raw.strip_suffix(b"\r").unwrap_or(raw);
        let Some(m) = parser::parse_irc_line(line) else {
            return;
        };
        self.track(ctx, &m, sink);
        let tx_id = self.session.messages;
        self.session.messages += 1;
        let channel = channel_of(&m);
        // Rule engine: one transaction per message.
        if sink.wants_txs() {
            let tx = IrcTx {
                tx_id,
                dir: ctx.dir,
                command: m.command(),
                params: m.raw_params(),
                nick: self.session.nick.as_deref().map(str::as_bytes),
                channel,
            };
            sink.tx(ctx, &tx);
        }
        // CTCP / DCC.
        let mut ctcp = None;
        if (m.command().eq_ignore_ascii_case(b"PRIVMSG")
            || m.command().eq_ignore_ascii_case(b"NOTICE"))
            && let Some((verb, args)) = m.param(1).and_then(parser::parse_ctcp)
        {
            {
                let dcc = if verb.eq_ignore_ascii_case(b"DCC") {
                    parser::parse_dcc(args).map(|d| Dcc {
                        kind: lossy(d.kind).to_ascii_uppercase(),
                        argument: lossy(d.argument),
                        addr: d.addr,
                        port: d.port,
                        size: d.size,
                    })
                } else {
                    None
                };
                ctcp = Some(Ctcp {
                    command: lossy(verb).to_ascii_uppercase(),
                    args: lossy(args),
                    dcc,
                });
            }
        }
        let want_record = sink.wants_records();
        // DCC offers are always reported: the framework turns them into
        // expectations.
        let want_event = (sink.wants_events()
            && (ctcp.is_some()
                || sink.wants_irc_message(
                    ctx,
                    m.command(),
                    self.session.nick.as_deref(),
                    &self.session.channels,
                )))
            || ctcp.as_ref().is_some_and(|c| c.dcc.is_some());
        if !want_record && !want_event {
            return;
        }
        let bulk = m.numeric().is_some_and(is_bulk_numeric);
        let msg = IrcMessage {
            prefix: m.prefix().map(lossy),
            command: lossy(m.command()).to_ascii_uppercase(),
            params: m.params().iter().map(|p| lossy(p)).collect(),
        };
        if bulk && !self.log_bulk {
            self.session.bulk_skipped += 1;
        } else if want_record {
            let body = super::logger::log_irc(
                ctx.dir,
                &msg,
                self.session.nick.as_deref(),
                channel.map(lossy).as_deref(),
                ctcp.as_ref(),
            );
            sink.record(app_record(ctx, "irc", Some(tx_id), body));
        }
        if !want_event {
            return;
        }
        let ev = IrcEvent {
            msg,
            nick: self.session.nick.clone(),
            channels: self.session.channels.clone(),
            ctcp,
        };
        sink.event(ctx, AppEvent::Irc(ev));
    }

    fn parse_bytes(&mut self, ctx: &AppContext, mut data: &[u8], sink: &mut dyn ProtoSink) {
        let d = ctx.dir.index();
        while !data.is_empty() {
            let nl = memchr::memchr(b'\n', data);
            let (part, rest, complete) = match nl {
                Some(i) => (&data[..i], &data[i + 1..], true),
                None => (data, &data[data.len()..], false),
            };
            data = rest;
            let lb = &mut self.lines[d];
            if lb.skipping {
                if complete {
                    lb.skipping = false;
                }
                continue;
            }
            if lb.buf.len() + part.len() > self.max_line {
                lb.buf.clear();
                lb.skipping = !complete;
                sink.anomaly(parser_anomaly(
                    ctx,
                    AppProto::Irc,
                    "irc.line_too_long",
                    Some(format!("line longer than {} bytes", self.max_line)),
                ));
                continue;
            }
            if !complete {
                lb.buf.extend_from_slice(part);
                break;
            }
            if lb.buf.is_empty() {
                self.on_line(ctx, part, sink);
            } else {
                let mut line = std::mem::take(&mut self.lines[d].buf);
                line.extend_from_slice(part);
                self.on_line(ctx, &line, sink);
                line.clear();
                // Keep the allocation for the next split line.
                self.lines[d].buf = line;
            }
        }
    }
}

impl StreamParser for IrcParser {
    fn proto(&self) -> AppProto {
        AppProto::Irc
    }

    fn parse(
        &mut self,
        ctx: &AppContext,
        data: StreamData<'_>,
        sink: &mut dyn ProtoSink,
    ) -> ParseStatus {
        match data {
            StreamData::Bytes(b) => {
                self.parse_bytes(ctx, b, sink);
                // A STARTTLS accepted by the server (RPL_STARTTLS 670) switches
                // to TLS.
                if self.starttls {
                    return ParseStatus::Upgrade(AppProto::Tls);
                }
                ParseStatus::Ok
            }
            StreamData::Gap(_) => {
                // Resynchronise on the next line end.
                let lb = &mut self.lines[ctx.dir.index()];
                lb.buf.clear();
                lb.skipping = true;
                ParseStatus::Ok
            }
        }
    }

    fn close(&mut self, ctx: &AppContext, sink: &mut dyn ProtoSink) {
        // A final line without its line end still counts.
        for dir in [Direction::ToServer, Direction::ToClient] {
            let d = dir.index();
            if !self.lines[d].skipping && !self.lines[d].buf.is_empty() {
                let line = std::mem::take(&mut self.lines[d].buf);
                let mut c = *ctx;
                c.dir = dir;
                self.on_line(&c, &line, sink);
            }
        }
    }
}
