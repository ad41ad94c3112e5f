//! FTP control-connection state (one transaction per command, replies matched in
//! order, data-connection announcements) and the FTP data-connection parser.

use super::parser::{
    parse_command, parse_eprt, parse_epsv_reply, parse_host_port, parse_pasv_reply, parse_reply,
};
use super::{FtpConfig, logger};
use crate::ProtoConfig;
use crate::api::{ParseStatus, ProtoSink, StreamParser, app_record, parser_anomaly};
use crate::files::util::{LineReader, string_from_bytes};
use crate::files::{FileTracker, fileinfo_record};
use std::collections::VecDeque;
use std::net::IpAddr;
use stormwatch_model::{
    AppContext, AppEvent, AppProto, BufferId, Direction, FtpEvent, StreamData, TxField, TxView,
};

/// One reply line kept for a transaction.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReplyLine {
    /// The line without terminator (cut at the line limit when `truncated`).
    pub line: Vec<u8>,
    /// Cut at the line limit.
    pub truncated: bool,
}

/// One FTP command and its replies (a reply with no command, such as the
/// greeting, makes a transaction without command).
#[derive(Clone, Debug, Default)]
pub struct FtpTx {
    pub(crate) id: u64,
    /// Verb, upper-cased.
    pub(crate) command: Option<Vec<u8>>,
    /// Argument as sent.
    pub(crate) arg: Option<Vec<u8>>,
    pub(crate) command_truncated: bool,
    pub(crate) replies: Vec<ReplyLine>,
    pub(crate) codes: Vec<u16>,
    pub(crate) done: bool,
    pub(crate) dynamic_port: Option<u16>,
    /// PORT/EPRT: active mode.
    pub(crate) active: Option<bool>,
    pub(crate) logged: bool,
}

impl FtpTx {
    /// Transaction number within the flow.
    pub fn id(&self) -> u64 {
        self.id
    }
    /// The command verb (upper-cased), if any.
    pub fn command(&self) -> Option<&[u8]> {
        self.command.as_deref()
    }
    /// The command argument, if any.
    pub fn arg(&self) -> Option<&[u8]> {
        self.arg.as_deref()
    }
    /// Reply lines.
    pub fn replies(&self) -> &[ReplyLine] {
        &self.replies
    }
    /// True once a final (non-1xx) reply arrived.
    pub fn is_done(&self) -> bool {
        self.done
    }
}

impl TxView for FtpTx {
    fn app_proto(&self) -> AppProto {
        AppProto::Ftp
    }
    fn tx_id(&self) -> u64 {
        self.id
    }
    fn buffer_count(&self, id: BufferId) -> usize {
        usize::from(id == BufferId::FtpCommand && self.command.is_some())
    }
    fn buffer(&self, id: BufferId, idx: usize) -> Option<&[u8]> {
        match (id, idx) {
            (BufferId::FtpCommand, 0) => self.command.as_deref(),
            _ => None,
        }
    }
    fn field(&self, _f: TxField) -> Option<u64> {
        None
    }
    fn complete(&self, dir: Direction) -> bool {
        match dir {
            Direction::ToServer => true,
            Direction::ToClient => self.done,
        }
    }
}

/// FTP control connection.
#[derive(Debug)]
pub struct FtpParser {
    cfg: FtpConfig,
    txs: VecDeque<FtpTx>,
    next_id: u64,
    lines: [LineReader; 2],
    /// Last RETR/STOR-like command and its argument (the data connection's file).
    last_transfer: Option<(String, String)>,
    tx_limit_hit: bool,
}

/// Commands that move a file over the data connection.
const TRANSFER: &[&[u8]] = &[b"RETR", b"STOR", b"STOU", b"APPE"];

impl FtpParser {
    /// A parser with the settings in `cfg.ftp`.
    pub fn new(cfg: &ProtoConfig) -> Self {
        Self::with_config(cfg.ftp.clone())
    }

    /// A parser with explicit FTP settings.
    pub fn with_config(cfg: FtpConfig) -> Self {
        FtpParser {
            cfg,
            txs: VecDeque::new(),
            next_id: 0,
            lines: [LineReader::default(), LineReader::default()],
            last_transfer: None,
            tx_limit_hit: false,
        }
    }

    /// The last file transfer command seen (`RETR`, `STOR`, ...) and its file
    /// name: the context of the next data connection.
    pub fn last_transfer(&self) -> Option<(&str, &str)> {
        self.last_transfer
            .as_ref()
            .map(|(c, a)| (c.as_str(), a.as_str()))
    }

    fn push_tx(&mut self, ctx: &AppContext, tx: FtpTx, sink: &mut dyn ProtoSink) {
        if self.txs.len() >= self.cfg.max_open_txs.max(1) {
            if !self.tx_limit_hit {
                self.tx_limit_hit = true;
                sink.anomaly(parser_anomaly(
                    ctx,
                    AppProto::Ftp,
                    "ftp.tx_limit_reached",
                    Some(format!(
                        "more than {} commands without reply",
                        self.cfg.max_open_txs
                    )),
                ));
            }
            if let Some(old) = self.txs.pop_front() {
                self.log(ctx, &old, sink);
            }
        }
        self.txs.push_back(tx);
    }

    fn log(&self, ctx: &AppContext, tx: &FtpTx, sink: &mut dyn ProtoSink) {
        if tx.logged {
            return;
        }
        sink.record(app_record(ctx, "ftp", Some(tx.id), logger::ftp_json(tx)));
        if let Some(c) = &tx.command {
            sink.event(
                ctx,
                AppEvent::Ftp(FtpEvent::Command {
                    command: string_from_bytes(c),
                    arg: tx.arg.as_deref().map(string_from_bytes).unwrap_or_default(),
                    reply: tx.codes.clone(),
                }),
            );
        }
    }

    fn flush(&mut self, ctx: &AppContext, sink: &mut dyn ProtoSink) {
        while let Some(front) = self.txs.front() {
            if !front.done {
                break;
            }
            if let Some(tx) = self.txs.pop_front() {
                self.log(ctx, &tx, sink);
            }
        }
    }

    fn on_command(&mut self, ctx: &AppContext, line: &[u8], cut: bool, sink: &mut dyn ProtoSink) {
        if line.is_empty() {
            return;
        }
        let c = parse_command(line);
        let verb = c.verb.to_ascii_uppercase();
        let mut tx = FtpTx {
            id: self.next_id,
            command: Some(verb.clone()),
            arg: c.arg.map(<[u8]>::to_vec),
            command_truncated: cut,
            ..FtpTx::default()
        };
        self.next_id += 1;
        match verb.as_slice() {
            b"PORT" => {
                if let Some((a, p)) = c.arg.and_then(parse_host_port) {
                    tx.dynamic_port = Some(p);
                    sink.event(
                        ctx,
                        AppEvent::Ftp(FtpEvent::DataExpected {
                            addr: IpAddr::V4(a),
                            port: p,
                        }),
                    );
                }
                tx.active = Some(true);
            }
            b"EPRT" => {
                if let Some((a, p)) = c.arg.and_then(parse_eprt) {
                    tx.dynamic_port = Some(p);
                    sink.event(
                        ctx,
                        AppEvent::Ftp(FtpEvent::DataExpected { addr: a, port: p }),
                    );
                }
                tx.active = Some(true);
            }
            v if TRANSFER.contains(&v) => {
                self.last_transfer = Some((
                    string_from_bytes(v),
                    c.arg.map(string_from_bytes).unwrap_or_default(),
                ));
            }
            _ => {}
        }
        sink.tx(ctx, &tx);
        self.push_tx(ctx, tx, sink);
    }

    fn on_reply(&mut self, ctx: &AppContext, line: &[u8], cut: bool, sink: &mut dyn ProtoSink) {
        let r = parse_reply(line);
        // The oldest command still waiting; else a reply-only transaction.
        let idx = match self.txs.iter().position(|t| !t.done) {
            Some(i) => i,
            None => {
                let tx = FtpTx {
                    id: self.next_id,
                    ..FtpTx::default()
                };
                self.next_id += 1;
                self.push_tx(ctx, tx, sink);
                self.txs.len().saturating_sub(1)
            }
        };
        let max_replies = self.cfg.max_reply_lines;
        let server = ctx.key.dst;
        let mut announce = None;
        let mut complete = false;
        if let Some(tx) = self.txs.get_mut(idx) {
            if tx.replies.len() < max_replies {
                tx.replies.push(ReplyLine {
                    line: line.to_vec(),
                    truncated: cut,
                });
            }
            if let Some(code) = r.code {
                if !r.continues {
                    tx.codes.push(code);
                }
                match code {
                    227 => {
                        if let Some((a, p)) = parse_pasv_reply(r.text) {
                            tx.dynamic_port = Some(p);
                            let addr = if a.is_unspecified() {
                                server
                            } else {
                                IpAddr::V4(a)
                            };
                            announce = Some((addr, p));
                        }
                    }
                    229 => {
                        if let Some(p) = parse_epsv_reply(r.text) {
                            tx.dynamic_port = Some(p);
                            announce = Some((server, p));
                        }
                    }
                    _ => {}
                }
                if !r.continues && code >= 200 {
                    tx.done = true;
                    complete = true;
                }
            }
        }
        if let Some((addr, port)) = announce {
            sink.event(ctx, AppEvent::Ftp(FtpEvent::DataExpected { addr, port }));
        }
        if complete {
            if let Some(tx) = self.txs.get(idx) {
                sink.tx(ctx, tx);
            }
            self.flush(ctx, sink);
        }
    }

    fn feed(&mut self, ctx: &AppContext, mut input: &[u8], sink: &mut dyn ProtoSink) {
        let d = ctx.dir.index();
        let limit = self.cfg.max_line_bytes;
        while !input.is_empty() {
            let (used, line) = self.lines[d].take(input, limit);
            let line = line.map(|(l, cut)| (l.to_vec(), cut));
            input = &input[used..];
            if let Some((l, cut)) = line {
                self.lines[d].done();
                match ctx.dir {
                    Direction::ToServer => self.on_command(ctx, &l, cut, sink),
                    Direction::ToClient => self.on_reply(ctx, &l, cut, sink),
                }
            }
        }
    }
}

impl StreamParser for FtpParser {
    fn proto(&self) -> AppProto {
        AppProto::Ftp
    }

    fn parse(
        &mut self,
        ctx: &AppContext,
        data: StreamData<'_>,
        sink: &mut dyn ProtoSink,
    ) -> ParseStatus {
        match data {
            StreamData::Gap(_) => self.lines[ctx.dir.index()].reset(),
            StreamData::Bytes(b) => self.feed(ctx, b, sink),
        }
        ParseStatus::Ok
    }

    fn close(&mut self, ctx: &AppContext, sink: &mut dyn ProtoSink) {
        // A command line without terminator still counts.
        for dir in [Direction::ToServer, Direction::ToClient] {
            let pending = self.lines[dir.index()].pending().to_vec();
            self.lines[dir.index()].reset();
            if !pending.is_empty() {
                let c = AppContext { dir, ..*ctx };
                let pending = pending.strip_suffix(b"\r").unwrap_or(&pending).to_vec();
                match dir {
                    Direction::ToServer => self.on_command(&c, &pending, false, sink),
                    Direction::ToClient => self.on_reply(&c, &pending, false, sink),
                }
            }
        }
        while let Some(tx) = self.txs.pop_front() {
            self.log(ctx, &tx, sink);
        }
    }
}

/// An FTP data connection: its bytes are one file.
#[derive(Debug)]
pub struct FtpDataParser {
    cfg: FtpConfig,
    command: Option<String>,
    name: Option<String>,
    file: Option<FileTracker>,
    dir: Option<Direction>,
}

impl FtpDataParser {
    /// A data-connection parser without context (the framework may not know
    /// which command opened it).
    pub fn new(cfg: &ProtoConfig) -> Self {
        Self::with_context(cfg, None, None)
    }

    /// A data-connection parser for the file named by the control connection's
    /// last transfer command (`RETR name`, see [`FtpParser::last_transfer`]).
    pub fn with_context(cfg: &ProtoConfig, command: Option<&str>, name: Option<&str>) -> Self {
        FtpDataParser {
            cfg: cfg.ftp.clone(),
            command: command.map(str::to_owned),
            name: name.map(str::to_owned),
            file: None,
            dir: None,
        }
    }
}

impl StreamParser for FtpDataParser {
    fn proto(&self) -> AppProto {
        AppProto::FtpData
    }

    fn parse(
        &mut self,
        ctx: &AppContext,
        data: StreamData<'_>,
        _sink: &mut dyn ProtoSink,
    ) -> ParseStatus {
        // The file flows one way: the first direction carrying data.
        let dir = *self.dir.get_or_insert(ctx.dir);
        if dir != ctx.dir {
            return ParseStatus::Ok;
        }
        let file = self.file.get_or_insert_with(|| {
            FileTracker::new(AppProto::FtpData, self.name.clone(), None, &self.cfg.files)
        });
        match data {
            StreamData::Bytes(b) => file.update(b),
            StreamData::Gap(n) => file.gap(u64::from(n)),
        }
        ParseStatus::Ok
    }

    fn close(&mut self, ctx: &AppContext, sink: &mut dyn ProtoSink) {
        let Some(file) = self.file.take() else {
            return;
        };
        // Report the file in the direction it flowed, not the closing context's.
        let ctx = &AppContext {
            dir: self.dir.unwrap_or(ctx.dir),
            ..*ctx
        };
        let ev = file.finish(false, None);
        let mut fd = serde_json::Map::new();
        if let Some(n) = &self.name {
            fd.insert("filename".into(), n.clone().into());
        }
        if let Some(c) = &self.command {
            fd.insert("command".into(), c.clone().into());
        }
        let body = serde_json::Value::Object(fd);
        sink.record(app_record(ctx, "ftp_data", None, body.clone()));
        if self.cfg.files.log_fileinfo {
            let mut extra = serde_json::Map::new();
            extra.insert("ftp_data".into(), body);
            sink.record(fileinfo_record(ctx, &ev, extra));
        }
        sink.event(ctx, AppEvent::File(ev));
    }
}
