//! SMTP per-connection state: commands matched to replies in order (pipelining),
//! envelope transactions with Suricata 8.0.7+'s rules (HELO/EHLO mid-session
//! resets like RSET, a RSET reply applies to the RSET's own transaction), DATA
//! and BDAT message bodies read by the MIME reader, and STARTTLS hand-over.

use super::mime::{MimeLimits, MimeParser};
use super::parser::{
    Verb, classify, helo_param, mail_from_param, parse_bdat, parse_reply, rcpt_to_param,
};
use super::{SmtpConfig, logger};
use crate::ProtoConfig;
use crate::api::{ParseStatus, ProtoSink, StreamParser, parser_anomaly};
use crate::files::util::{LineReader, string_from_bytes};
use std::collections::VecDeque;
use stormwatch_model::{
    AppContext, AppEvent, AppProto, AppRecord, BufferId, Direction, SmtpEvent, StreamData, TxField,
    TxView,
};

/// One mail transaction (envelope and, when sent, the message).
#[derive(Clone, Debug, Default)]
pub struct SmtpTx {
    pub(crate) id: u64,
    pub(crate) helo: Option<Vec<u8>>,
    pub(crate) mail_from: Option<Vec<u8>>,
    pub(crate) rcpt_to: Vec<Vec<u8>>,
    pub(crate) mime: Option<MimeParser>,
    /// The message ended (`.` or the last BDAT chunk).
    pub(crate) data_done: bool,
    pub(crate) done: bool,
    pub(crate) starttls: bool,
    pub(crate) logged: bool,
}

impl SmtpTx {
    /// Transaction number within the flow.
    pub fn id(&self) -> u64 {
        self.id
    }
    /// HELO/EHLO argument of the session.
    pub fn helo(&self) -> Option<&[u8]> {
        self.helo.as_deref()
    }
    /// MAIL FROM argument.
    pub fn mail_from(&self) -> Option<&[u8]> {
        self.mail_from.as_deref()
    }
    /// RCPT TO arguments.
    pub fn rcpt_to(&self) -> &[Vec<u8>] {
        &self.rcpt_to
    }
    /// The message as read by the MIME reader, when one was sent.
    pub fn mime(&self) -> Option<&MimeParser> {
        self.mime.as_ref()
    }
}

impl TxView for SmtpTx {
    fn app_proto(&self) -> AppProto {
        AppProto::Smtp
    }
    fn tx_id(&self) -> u64 {
        self.id
    }
    fn buffer_count(&self, id: BufferId) -> usize {
        match id {
            BufferId::SmtpHelo => usize::from(self.helo.is_some()),
            BufferId::SmtpMailFrom => usize::from(self.mail_from.is_some()),
            BufferId::SmtpRcptTo => self.rcpt_to.len(),
            _ => 0,
        }
    }
    fn buffer(&self, id: BufferId, idx: usize) -> Option<&[u8]> {
        match (id, idx) {
            (BufferId::SmtpHelo, 0) => self.helo.as_deref(),
            (BufferId::SmtpMailFrom, 0) => self.mail_from.as_deref(),
            (BufferId::SmtpRcptTo, i) => self.rcpt_to.get(i).map(Vec::as_slice),
            _ => None,
        }
    }
    fn field(&self, _f: TxField) -> Option<u64> {
        None
    }
    fn complete(&self, _dir: Direction) -> bool {
        self.done
    }
}

/// What a queued command waits for in the reply stream.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
enum Cmd {
    Data,
    DataEnd,
    Rset,
    StartTls,
    Other,
}

#[derive(Copy, Clone, Debug, PartialEq, Eq)]
enum Mode {
    Command,
    Data,
    Bdat { left: u64, last: bool },
}

/// Limits hit and oddities, per connection.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SmtpCounters {
    /// Lines cut at `max_line_bytes`.
    pub long_lines: u64,
    /// Commands dropped from the reply-matching queue (`max_pending_commands`).
    pub command_queue_full: u64,
    /// Recipients not kept (`max_rcpt`).
    pub rcpt_dropped: u64,
    /// Transactions evicted (`max_open_txs`).
    pub tx_limit: u64,
}

/// SMTP parser for one connection.
#[derive(Debug)]
pub struct SmtpParser {
    cfg: SmtpConfig,
    helo: Option<Vec<u8>>,
    txs: VecDeque<SmtpTx>,
    cur: Option<u64>,
    next_id: u64,
    cmds: VecDeque<(Cmd, Option<u64>)>,
    lines: [LineReader; 2],
    mime_lines: LineReader,
    mode: Mode,
    first_reply_seen: bool,
    pipelining: bool,
    upgraded: bool,
    /// Transactions completed while reading each direction, logged when the
    /// other direction next delivers data (or at the end): Suricata writes a
    /// transaction once it was seen complete from both directions.
    pending_log: [Vec<u64>; 2],
    counters: SmtpCounters,
}

impl SmtpParser {
    /// A parser with the settings in `cfg.smtp`.
    pub fn new(cfg: &ProtoConfig) -> Self {
        Self::with_config(cfg.smtp.clone())
    }

    /// A parser with explicit SMTP settings.
    pub fn with_config(cfg: SmtpConfig) -> Self {
        SmtpParser {
            cfg,
            helo: None,
            txs: VecDeque::new(),
            cur: None,
            next_id: 0,
            cmds: VecDeque::new(),
            lines: [LineReader::default(), LineReader::default()],
            mime_lines: LineReader::default(),
            mode: Mode::Command,
            first_reply_seen: false,
            pipelining: false,
            upgraded: false,
            pending_log: [Vec::new(), Vec::new()],
            counters: SmtpCounters::default(),
        }
    }

    /// Limits hit so far.
    pub fn counters(&self) -> &SmtpCounters {
        &self.counters
    }

    fn anomaly(&self, ctx: &AppContext, sink: &mut dyn ProtoSink, event: &'static str) {
        sink.anomaly(parser_anomaly(ctx, AppProto::Smtp, event, None));
    }

    fn tx_mut(&mut self, id: u64) -> Option<&mut SmtpTx> {
        self.txs.iter_mut().find(|t| t.id == id)
    }

    fn tx(&self, id: u64) -> Option<&SmtpTx> {
        self.txs.iter().find(|t| t.id == id)
    }

    fn mime_limits(&self) -> MimeLimits {
        self.cfg.mime.clone()
    }

    /// The current transaction, starting a new one when there is none or the
    /// current one is done (except for RSET and QUIT, which never start one).
    fn current(&mut self, ctx: &AppContext, verb: Verb, sink: &mut dyn ProtoSink) -> u64 {
        let need_new = match self.cur.and_then(|id| self.tx(id)) {
            None => true,
            Some(t) => (t.done || t.data_done) && !matches!(verb, Verb::Rset | Verb::Quit),
        };
        if let (false, Some(id)) = (need_new, self.cur) {
            return id;
        }
        if self.txs.len() >= self.cfg.max_open_txs.max(1) {
            self.counters.tx_limit += 1;
            if let Some(mut old) = self.txs.pop_front() {
                old.done = true;
                self.log(ctx, &mut old, sink);
            }
        }
        let id = self.next_id;
        self.next_id += 1;
        self.txs.push_back(SmtpTx {
            id,
            helo: self.helo.clone(),
            ..SmtpTx::default()
        });
        self.cur = Some(id);
        id
    }

    fn queue(&mut self, cmd: Cmd, tx: Option<u64>) {
        if self.cmds.len() >= self.cfg.max_pending_commands.max(1) {
            self.counters.command_queue_full += 1;
            self.cmds.pop_front();
        }
        self.cmds.push_back((cmd, tx));
    }

    fn log(&self, ctx: &AppContext, tx: &mut SmtpTx, sink: &mut dyn ProtoSink) {
        if tx.logged {
            return;
        }
        tx.logged = true;
        let mut extra = serde_json::Map::new();
        if let Some(m) = &tx.mime {
            extra.insert("email".into(), logger::email_json(m, &self.cfg));
        }
        sink.record(AppRecord {
            ts: ctx.ts,
            event_type: "smtp".into(),
            flow_id: ctx.flow_id,
            key: ctx.key,
            tx_id: Some(tx.id),
            body: logger::smtp_json(tx),
            extra,
        });
        sink.event(
            ctx,
            AppEvent::Smtp(SmtpEvent {
                helo: tx.helo.as_deref().map(string_from_bytes),
                mail_from: tx.mail_from.as_deref().map(string_from_bytes),
                rcpt_to: tx.rcpt_to.iter().map(|r| string_from_bytes(r)).collect(),
                starttls: tx.starttls,
            }),
        );
        sink.tx(ctx, tx);
    }

    /// Marks a transaction done; it is logged when the other direction next
    /// delivers data (see `pending_log`).
    fn finish_tx(&mut self, ctx: &AppContext, id: u64, _sink: &mut dyn ProtoSink) {
        if let Some(t) = self.tx_mut(id)
            && !t.done
        {
            t.done = true;
            self.pending_log[ctx.dir.index()].push(id);
        }
    }

    /// Logs the transactions completed while reading `dir`.
    fn flush_pending(&mut self, ctx: &AppContext, dir: Direction, sink: &mut dyn ProtoSink) {
        let ids = std::mem::take(&mut self.pending_log[dir.index()]);
        for id in ids {
            if let Some(pos) = self.txs.iter().position(|t| t.id == id)
                && let Some(mut tx) = self.txs.remove(pos)
            {
                self.log(ctx, &mut tx, sink);
                self.txs.insert(pos, tx);
            }
        }
        while self.txs.front().is_some_and(|t| t.logged) {
            // Keep the current transaction (done, but RSET/QUIT may still refer to it).
            if self.txs.front().map(|t| t.id) == self.cur {
                break;
            }
            self.txs.pop_front();
        }
    }

    // ------------------------------------------------------------------
    // Client direction
    // ------------------------------------------------------------------

    fn on_command(&mut self, ctx: &AppContext, line: &[u8], sink: &mut dyn ProtoSink) {
        let verb = classify(line);
        let id = self.current(ctx, verb, sink);
        match verb {
            Verb::Helo => {
                if self.helo.is_some() {
                    // A second HELO/EHLO resets the session state like RSET.
                    self.anomaly(ctx, sink, "DUPLICATE_FIELDS");
                    self.mode = Mode::Command;
                    self.finish_tx(ctx, id, sink);
                } else {
                    let h = helo_param(line).to_vec();
                    self.helo = Some(h.clone());
                    if let Some(t) = self.tx_mut(id) {
                        t.helo = Some(h);
                    }
                }
                self.queue(Cmd::Other, Some(id));
            }
            Verb::MailFrom => {
                let dup = self.tx(id).is_some_and(|t| t.mail_from.is_some());
                if dup {
                    self.anomaly(ctx, sink, "DUPLICATE_FIELDS");
                } else if let Some(t) = self.tx_mut(id) {
                    t.mail_from = Some(mail_from_param(line).to_vec());
                }
                self.queue(Cmd::Other, Some(id));
            }
            Verb::RcptTo => {
                let max = self.cfg.max_rcpt;
                let p = rcpt_to_param(line).to_vec();
                let mut dropped = false;
                if let Some(t) = self.tx_mut(id) {
                    if t.rcpt_to.len() < max {
                        t.rcpt_to.push(p);
                    } else {
                        dropped = true;
                    }
                }
                if dropped {
                    self.counters.rcpt_dropped += 1;
                }
                self.queue(Cmd::Other, Some(id));
            }
            Verb::Data => {
                let id = if self.tx(id).is_some_and(|t| t.mime.is_some()) {
                    // Two messages in one envelope without an end seen:
                    // the first is given up, the second starts afresh.
                    self.anomaly(ctx, sink, "UNPARSABLE_CONTENT");
                    if let Some(m) = self.tx_mut(id).and_then(|t| t.mime.as_mut()) {
                        m.abort();
                    }
                    self.finish_tx(ctx, id, sink);
                    self.current(ctx, verb, sink)
                } else {
                    id
                };
                self.queue(Cmd::Data, Some(id));
                if self.pipelining {
                    self.enter_data(id);
                }
            }
            Verb::Bdat => {
                match parse_bdat(line) {
                    Some((size, last)) => {
                        // The reply to the last chunk completes the transaction.
                        self.queue(if last { Cmd::DataEnd } else { Cmd::Other }, Some(id));
                        if self
                            .tx(id)
                            .is_some_and(|t| t.mime.is_none() && !t.data_done)
                        {
                            let limits = self.mime_limits();
                            let decode = self.cfg.decode_mime;
                            if let Some(t) = self.tx_mut(id) {
                                t.mime = decode.then(|| MimeParser::new(limits));
                            }
                        }
                        if size > 0 {
                            self.mode = Mode::Bdat { left: size, last };
                        } else if last {
                            self.end_message(id);
                        }
                    }
                    None => {
                        self.queue(Cmd::Other, Some(id));
                        self.anomaly(ctx, sink, "smtp.bdat_invalid_size");
                    }
                }
            }
            Verb::Rset => self.queue(Cmd::Rset, Some(id)),
            Verb::StartTls => self.queue(Cmd::StartTls, Some(id)),
            Verb::Quit | Verb::Other => self.queue(Cmd::Other, Some(id)),
        }
        if let Some(t) = self.tx(id) {
            sink.tx(ctx, t);
        }
    }

    fn enter_data(&mut self, id: u64) {
        self.mode = Mode::Data;
        let limits = self.mime_limits();
        let decode = self.cfg.decode_mime;
        if let Some(t) = self.tx_mut(id)
            && t.mime.is_none()
        {
            t.mime = decode.then(|| MimeParser::new(limits));
        }
    }

    fn end_message(&mut self, id: u64) {
        // A last line without terminator (BDAT) still counts.
        let pending = self.mime_lines.pending().to_vec();
        self.mime_lines.reset();
        if let Some(t) = self.tx_mut(id) {
            if let Some(m) = t.mime.as_mut() {
                if !pending.is_empty() {
                    m.line(pending.strip_suffix(b"\r").unwrap_or(&pending));
                }
                m.complete();
            }
            t.data_done = true;
        }
        self.mode = Mode::Command;
    }

    fn on_data_line(&mut self, line: &[u8]) {
        let Some(id) = self.cur else {
            self.mode = Mode::Command;
            return;
        };
        if line == b"." {
            self.queue(Cmd::DataEnd, Some(id));
            self.end_message(id);
            return;
        }
        let line = if line.starts_with(b"..") {
            &line[1..]
        } else {
            line
        };
        if let Some(m) = self.tx_mut(id).and_then(|t| t.mime.as_mut()) {
            m.line(line);
        }
    }

    fn bdat_bytes<'a>(&mut self, input: &'a [u8]) -> &'a [u8] {
        let Mode::Bdat { left, last } = self.mode else {
            return input;
        };
        let take = usize::try_from(left).unwrap_or(usize::MAX).min(input.len());
        let (chunk, rest) = input.split_at(take);
        let id = self.cur;
        let limit = self.cfg.max_line_bytes;
        let mut data = chunk;
        while !data.is_empty() {
            let (used, line) = self.mime_lines.take(data, limit);
            let line = line.map(|(l, _)| l.to_vec());
            data = &data[used..];
            if let Some(l) = line {
                self.mime_lines.done();
                if let Some(m) = id
                    .and_then(|i| self.tx_mut(i))
                    .and_then(|t| t.mime.as_mut())
                {
                    m.line(&l);
                }
            }
        }
        let left = left - take as u64;
        if left > 0 {
            self.mode = Mode::Bdat { left, last };
        } else if last {
            match id {
                Some(i) => self.end_message(i),
                None => self.mode = Mode::Command,
            }
        } else {
            self.mode = Mode::Command;
        }
        rest
    }

    // ------------------------------------------------------------------
    // Server direction
    // ------------------------------------------------------------------

    fn on_reply(&mut self, ctx: &AppContext, line: &[u8], sink: &mut dyn ProtoSink) {
        let Some((code, more)) = parse_reply(line) else {
            return;
        };
        if line
            .get(4..)
            .is_some_and(|t| crate::files::starts_with_nocase(t, b"PIPELINING"))
        {
            self.pipelining = true;
        }
        if more {
            return;
        }
        if !self.first_reply_seen {
            self.first_reply_seen = true;
            if code == 220 {
                return; // the greeting
            }
        }
        let Some((cmd, tx)) = self.cmds.pop_front() else {
            return;
        };
        match cmd {
            Cmd::StartTls => {
                if code == 220 {
                    if let Some(id) = tx {
                        if let Some(t) = self.tx_mut(id) {
                            t.starttls = true;
                        }
                        self.finish_tx(ctx, id, sink);
                    }
                    self.upgraded = true;
                } else {
                    self.anomaly(ctx, sink, "FAILED_PROTOCOL_CHANGE");
                }
            }
            Cmd::Data => {
                let Some(id) = tx else { return };
                if code == 354 {
                    if self.tx(id).is_none_or(|t| t.data_done) {
                        // The message this reply invites has already ended.
                        self.anomaly(ctx, sink, "INVALID_PIPELINED_SEQUENCE");
                    } else if self.mode == Mode::Command && self.cur == Some(id) {
                        self.enter_data(id);
                    }
                } else {
                    self.anomaly(ctx, sink, "DATA_COMMAND_REJECTED");
                    if self.mode == Mode::Data && self.cur == Some(id) {
                        self.mode = Mode::Command;
                        if let Some(t) = self.tx_mut(id)
                            && !t.data_done
                        {
                            t.mime = None;
                        }
                    }
                }
            }
            Cmd::Rset => {
                if code == 250
                    && let Some(id) = tx
                    && self.tx(id).is_some_and(|t| !t.done)
                {
                    self.finish_tx(ctx, id, sink);
                }
            }
            Cmd::DataEnd => {
                if let Some(id) = tx {
                    self.finish_tx(ctx, id, sink);
                }
            }
            Cmd::Other => {}
        }
    }

    fn feed(
        &mut self,
        ctx: &AppContext,
        mut input: &[u8],
        sink: &mut dyn ProtoSink,
    ) -> ParseStatus {
        self.flush_pending(ctx, ctx.dir.flip(), sink);
        let d = ctx.dir.index();
        let limit = self.cfg.max_line_bytes;
        while !input.is_empty() {
            if self.upgraded {
                return ParseStatus::Upgrade(AppProto::Tls);
            }
            if ctx.dir == Direction::ToServer && matches!(self.mode, Mode::Bdat { .. }) {
                input = self.bdat_bytes(input);
                continue;
            }
            let (used, line) = self.lines[d].take(input, limit);
            let line = line.map(|(l, cut)| (l.to_vec(), cut));
            input = &input[used..];
            let Some((l, cut)) = line else { continue };
            self.lines[d].done();
            if cut {
                self.counters.long_lines += 1;
                self.anomaly(ctx, sink, "TRUNCATED_LINE");
            }
            match (ctx.dir, self.mode) {
                (Direction::ToServer, Mode::Data) => self.on_data_line(&l),
                (Direction::ToServer, _) => self.on_command(ctx, &l, sink),
                (Direction::ToClient, _) => self.on_reply(ctx, &l, sink),
            }
        }
        if self.upgraded {
            // The connection is handed over: log what is complete now.
            self.flush_pending(ctx, Direction::ToServer, sink);
            self.flush_pending(ctx, Direction::ToClient, sink);
            return ParseStatus::Upgrade(AppProto::Tls);
        }
        ParseStatus::Ok
    }

    /// Parses one chunk (bytes or a gap) of direction `ctx.dir`.
    fn parse_data(
        &mut self,
        ctx: &AppContext,
        data: StreamData<'_>,
        sink: &mut dyn ProtoSink,
    ) -> ParseStatus {
        match data {
            StreamData::Bytes(b) => self.feed(ctx, b, sink),
            StreamData::Gap(n) => {
                self.flush_pending(ctx, ctx.dir.flip(), sink);
                self.lines[ctx.dir.index()].reset();
                if ctx.dir == Direction::ToServer {
                    match self.mode {
                        Mode::Bdat { left, last } => {
                            self.mime_lines.reset();
                            let left = left.saturating_sub(u64::from(n));
                            self.mode = if left > 0 {
                                Mode::Bdat { left, last }
                            } else {
                                Mode::Command
                            };
                        }
                        Mode::Data => {
                            if let Some(m) = self
                                .cur
                                .and_then(|i| self.tx_mut(i))
                                .and_then(|t| t.mime.as_mut())
                            {
                                m.abort();
                            }
                        }
                        Mode::Command => {}
                    }
                }
                ParseStatus::Ok
            }
        }
    }
}

impl StreamParser for SmtpParser {
    fn proto(&self) -> AppProto {
        AppProto::Smtp
    }

    fn parse(
        &mut self,
        ctx: &AppContext,
        data: StreamData<'_>,
        sink: &mut dyn ProtoSink,
    ) -> ParseStatus {
        if self.upgraded {
            return ParseStatus::Upgrade(AppProto::Tls);
        }
        let status = self.parse_data(ctx, data, sink);
        if !self.cfg.defer_log {
            self.flush_pending(ctx, ctx.dir, sink);
        }
        status
    }

    fn close(&mut self, ctx: &AppContext, sink: &mut dyn ProtoSink) {
        // A command line without terminator still counts.
        let pending = self.lines[0].pending().to_vec();
        self.lines[0].reset();
        if !pending.is_empty() && self.mode == Mode::Command && !self.upgraded {
            let c = AppContext {
                dir: Direction::ToServer,
                ..*ctx
            };
            self.on_command(&c, pending.strip_suffix(b"\r").unwrap_or(&pending), sink);
        }
        self.pending_log = [Vec::new(), Vec::new()];
        let mut txs = std::mem::take(&mut self.txs);
        for t in txs.iter_mut() {
            self.log(ctx, t, sink);
        }
        self.cur = None;
    }
}
