//! Per-connection HTTP/1.x state: line buffering per direction, request and
//! response state machines, bodies (Content-Length, chunked, until close),
//! transactions, gaps and limits.

use super::detect::{Header, HttpTx};
use super::parser::{
    HeaderLine, METHODS, chomp, is_empty_line, looks_like_status_line, normalize_uri,
    parse_chunk_len, parse_content_length, parse_header_line, parse_request_line,
    parse_status_line, split_host_port, uri_authority, uri_path_query,
};
use super::{HttpConfig, logger};
use crate::ProtoConfig;
use crate::api::parser_anomaly;
use crate::api::{ParseStatus, ProtoSink, StreamParser};
use crate::files::util::push_bounded;
use crate::files::{FileTracker, fileinfo_record};
use std::collections::VecDeque;
use stormwatch_model::{
    AppContext, AppEvent, AppProto, AppRecord, Direction, HttpEvent, StreamData,
};

/// Room reserved for a request's raw header block at its first line (most
/// blocks fit; growing from nothing took three or four copies).
const RAW_HEADERS_RESERVE: usize = 512;

/// Body framing of a message, and where in it the parser is.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
enum Body {
    /// `n` bytes left (Content-Length).
    Length(u64),
    /// Expecting a chunk-size line.
    ChunkLen,
    /// `n` bytes of chunk data left.
    ChunkData(u64),
    /// Expecting the CRLF after chunk data.
    ChunkEnd,
    /// Trailer fields after the last chunk.
    Trailers,
    /// Until the connection closes (responses only).
    UntilClose,
}

#[derive(Copy, Clone, Debug, PartialEq, Eq)]
enum ReqState {
    /// Expecting a request line (empty lines are skipped).
    Line,
    /// A request line without protocol was seen: the next line says whether
    /// it is HTTP/0.9 (nothing follows) or a 1.x request missing its protocol.
    Peek09,
    Headers,
    Body(Body),
    /// A CONNECT request waits for its response; client bytes are not HTTP.
    Tunnel,
    /// Lost sync after a gap: skip lines until one looks like a request line.
    Resync,
}

#[derive(Copy, Clone, Debug, PartialEq, Eq)]
enum ResState {
    Line,
    Headers,
    Body(Body),
    Resync,
}

/// Accumulates a line that spans chunks, bounded by `max_line_bytes`.
#[derive(Debug, Default)]
struct LineAcc {
    buf: Vec<u8>,
    overflow: bool,
}

/// A line handed to a line handler: content (terminator included unless
/// cut) and whether it was cut at the line limit.
struct Line<'a> {
    bytes: &'a [u8],
    too_long: bool,
}

/// Where [`next_line`] found a complete line.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
enum LineAt {
    /// At the start of the input, `len` bytes (cut at the limit when `too_long`).
    Input { len: usize, too_long: bool },
    /// In the accumulator.
    Acc,
}

/// Takes the next complete line from `input`, using `acc` for lines that span
/// chunks. Returns the number of bytes of `input` consumed and where the
/// complete line is, if one is.
fn next_line(acc: &mut LineAcc, input: &[u8], limit: usize) -> (usize, Option<LineAt>) {
    match memchr::memchr(b'\n', input) {
        Some(i) => {
            let piece = &input[..=i];
            if acc.buf.is_empty() && !acc.overflow {
                let too_long = piece.len() > limit;
                (
                    i + 1,
                    Some(LineAt::Input {
                        len: piece.len().min(limit),
                        too_long,
                    }),
                )
            } else {
                if push_bounded(&mut acc.buf, piece, limit) {
                    acc.overflow = true;
                }
                (i + 1, Some(LineAt::Acc))
            }
        }
        None => {
            if push_bounded(&mut acc.buf, input, limit) {
                acc.overflow = true;
            }
            (input.len(), None)
        }
    }
}

/// Counters of limits hit and oddities, per connection.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HttpCounters {
    /// Transactions evicted because `max_open_txs` was reached.
    pub tx_limit: u64,
    /// Lines cut at `max_line_bytes`.
    pub long_lines: u64,
    /// Header blocks cut at `max_headers`.
    pub header_limit: u64,
    /// Gaps seen.
    pub gaps: u64,
}

/// HTTP/1.x parser for one TCP connection (both directions).
#[derive(Debug)]
pub struct HttpParser {
    cfg: HttpConfig,
    txs: VecDeque<HttpTx>,
    next_id: u64,
    req_state: ReqState,
    res_state: ResState,
    req_acc: LineAcc,
    res_acc: LineAcc,
    /// Transaction receiving request data.
    cur_req: Option<u64>,
    /// Transaction receiving response data.
    cur_res: Option<u64>,
    /// Response file being followed.
    file: Option<FileTracker>,
    /// That file is a `206` range that does not cover the whole file.
    file_partial: bool,
    upgraded: bool,
    counters: HttpCounters,
    /// Bodies (up to the body limits), the raw request header block, the
    /// request and status lines, the normalised URI and the status message are
    /// kept for rule buffers only: not when the sink takes no transactions.
    keep_bodies: bool,
    /// `keep_bodies` was asked of the sink (once per connection: whether a
    /// sink takes transactions does not change while a flow lasts).
    keep_asked: bool,
}

impl HttpParser {
    /// A parser with the settings in `cfg.http`.
    pub fn new(cfg: &ProtoConfig) -> Self {
        Self::with_config(cfg.http.clone())
    }

    /// A parser with explicit HTTP settings.
    pub fn with_config(cfg: HttpConfig) -> Self {
        HttpParser {
            cfg,
            txs: VecDeque::new(),
            next_id: 0,
            req_state: ReqState::Line,
            res_state: ResState::Line,
            req_acc: LineAcc::default(),
            res_acc: LineAcc::default(),
            cur_req: None,
            cur_res: None,
            file: None,
            file_partial: false,
            upgraded: false,
            keep_bodies: true,
            keep_asked: false,
            counters: HttpCounters::default(),
        }
    }

    /// Limits hit and oddities so far.
    pub fn counters(&self) -> &HttpCounters {
        &self.counters
    }

    /// An open (not yet logged and dropped) transaction by id.
    pub fn tx(&self, id: u64) -> Option<&HttpTx> {
        let front = self.txs.front()?.id;
        let idx = usize::try_from(id.checked_sub(front)?).ok()?;
        self.txs.get(idx)
    }

    /// The EVE `http` object of an open transaction (for alerts that carry it).
    pub fn tx_json(&self, id: u64) -> Option<serde_json::Value> {
        self.tx(id).map(|t| logger::http_json(t, &self.cfg))
    }

    fn tx_mut(&mut self, id: u64) -> Option<&mut HttpTx> {
        let front = self.txs.front()?.id;
        let idx = usize::try_from(id.checked_sub(front)?).ok()?;
        self.txs.get_mut(idx)
    }

    fn anomaly(&self, ctx: &AppContext, sink: &mut dyn ProtoSink, event: &'static str) {
        sink.anomaly(parser_anomaly(ctx, AppProto::Http, event, None));
    }

    fn new_tx(&mut self, ctx: &AppContext, sink: &mut dyn ProtoSink) -> u64 {
        if self.txs.len() >= self.cfg.max_open_txs.max(1) {
            // Evict the oldest: log what is known, drop it.
            self.counters.tx_limit += 1;
            if self.counters.tx_limit == 1 {
                sink.anomaly(parser_anomaly(
                    ctx,
                    AppProto::Http,
                    "http.tx_limit_reached",
                    Some(format!(
                        "more than {} open transactions",
                        self.cfg.max_open_txs
                    )),
                ));
            }
            if let Some(old) = self.txs.pop_front() {
                if !old.logged {
                    self.log_tx(ctx, &old, sink);
                }
                if self.cur_req == Some(old.id) {
                    self.cur_req = None;
                }
                if self.cur_res == Some(old.id) {
                    self.cur_res = None;
                }
            }
        }
        let id = self.next_id;
        self.next_id += 1;
        self.txs.push_back(HttpTx {
            id,
            ..HttpTx::default()
        });
        id
    }

    fn log_tx(&self, ctx: &AppContext, tx: &HttpTx, sink: &mut dyn ProtoSink) {
        if (!tx.has_request && !tx.has_response) || !sink.wants_records() {
            return;
        }
        let body = match &tx.json_cache {
            Some(j) => j.clone(),
            None => logger::http_json(tx, &self.cfg),
        };
        sink.record(AppRecord {
            ts: ctx.ts,
            event_type: "http".into(),
            flow_id: ctx.flow_id,
            key: ctx.key,
            tx_id: Some(tx.id),
            body,
            extra: serde_json::Map::new(),
        });
    }

    /// Logs every transaction that is complete in both directions and drops the
    /// logged ones at the front of the queue.
    fn flush_complete(&mut self, ctx: &AppContext, sink: &mut dyn ProtoSink) {
        for i in 0..self.txs.len() {
            let Some(tx) = self.txs.get(i) else { break };
            if !tx.logged && tx.req_done && tx.res_done {
                self.log_tx(ctx, tx, sink);
                if let Some(t) = self.txs.get_mut(i) {
                    t.logged = true;
                }
            }
        }
        while self.txs.front().is_some_and(|t| t.logged) {
            self.txs.pop_front();
        }
    }

    fn http_event(tx: &HttpTx) -> HttpEvent {
        let text = |b: &[u8]| crate::files::util::string_from_bytes(b);
        HttpEvent {
            tx_id: tx.id,
            method: tx.has_request.then(|| text(&tx.method)),
            uri: tx.has_request.then(|| text(&tx.uri)),
            host: (!tx.hostname.is_empty()).then(|| text(&tx.hostname)),
            user_agent: tx.request_header(b"user-agent").map(text),
            protocol: (!tx.protocol.is_empty()).then(|| text(&tx.protocol)),
            status: tx.status_number,
            content_type: tx.response_header(b"content-type").map(text),
            content_length: tx.response_content_length(),
            referer: tx.request_header(b"referer").map(text),
            location: tx.response_header(b"location").map(text),
            response_complete: tx.res_done,
        }
    }

    fn notify_tx(&self, ctx: &AppContext, id: u64, sink: &mut dyn ProtoSink) {
        if let Some(tx) = self.tx(id) {
            sink.tx(ctx, tx);
        }
    }

    // ------------------------------------------------------------------
    // Request direction
    // ------------------------------------------------------------------

    fn parse_request(
        &mut self,
        ctx: &AppContext,
        mut input: &[u8],
        sink: &mut dyn ProtoSink,
    ) -> ParseStatus {
        while !input.is_empty() {
            match self.req_state {
                ReqState::Body(b) => {
                    input = self.request_body(ctx, b, input, sink);
                    continue;
                }
                ReqState::Tunnel => return ParseStatus::Ok,
                _ => {}
            }
            let used = self.request_next_line(ctx, input, sink);
            input = &input[used..];
        }
        ParseStatus::Ok
    }

    /// Takes one line (or buffers a partial one) of request data; returns the
    /// bytes consumed.
    fn request_next_line(
        &mut self,
        ctx: &AppContext,
        input: &[u8],
        sink: &mut dyn ProtoSink,
    ) -> usize {
        let limit = self.cfg.max_line_bytes;
        let (used, line) = next_line(&mut self.req_acc, input, limit);
        match line {
            None => {}
            Some(LineAt::Input { len, too_long }) => {
                self.request_line_event(ctx, &input[..len], too_long, sink)
            }
            Some(LineAt::Acc) => {
                let mut acc = std::mem::take(&mut self.req_acc);
                self.request_line_event(ctx, &acc.buf, acc.overflow, sink);
                acc.buf.clear();
                acc.overflow = false;
                self.req_acc = acc;
            }
        }
        used
    }

    /// A request line still without its terminator when the server answers
    /// (or the connection ends) is taken as complete, as libhtp does.
    ///
    /// Not while an earlier request still awaits the end of its response: with
    /// pipelining the answer is for that one, and the partial line is the start
    /// of the next request (`GE` + `T /x HTTP/1.1`), to be completed by the
    /// client's next segment.
    ///
    /// Called for every chunk of response data: the test for a partial line
    /// is inlined, the rest is not.
    #[inline(always)]
    fn flush_partial_request_line(&mut self, ctx: &AppContext, sink: &mut dyn ProtoSink) {
        if self.req_state == ReqState::Line && !self.req_acc.buf.is_empty() {
            self.flush_partial_request_line_now(ctx, sink);
        }
    }

    #[inline(never)]
    fn flush_partial_request_line_now(&mut self, ctx: &AppContext, sink: &mut dyn ProtoSink) {
        if !self.txs.iter().any(|t| t.has_request && !t.res_done) {
            let mut acc = std::mem::take(&mut self.req_acc);
            self.anomaly(ctx, sink, "REQUEST_LINE_INCOMPLETE");
            self.request_line_event(ctx, &acc.buf, acc.overflow, sink);
            acc.buf.clear();
            acc.overflow = false;
            self.req_acc = acc;
        }
    }

    fn request_line_event(
        &mut self,
        ctx: &AppContext,
        raw: &[u8],
        too_long: bool,
        sink: &mut dyn ProtoSink,
    ) {
        let line = Line {
            bytes: raw,
            too_long,
        };
        if line.too_long {
            self.counters.long_lines += 1;
            self.anomaly(ctx, sink, "REQUEST_FIELD_TOO_LONG");
        }
        match self.req_state {
            ReqState::Line => self.on_request_line(ctx, line, sink),
            ReqState::Resync => {
                let r = parse_request_line(chomp(line.bytes));
                let ok = METHODS.contains(&r.method)
                    && r.protocol.is_some_and(|p| p.starts_with(b"HTTP/"));
                if ok {
                    self.req_state = ReqState::Line;
                    self.on_request_line(ctx, line, sink);
                }
            }
            ReqState::Peek09 => {
                if is_empty_line(line.bytes) {
                    self.finish_09(ctx, sink);
                } else {
                    self.anomaly(ctx, sink, "REQUEST_LINE_MISSING_PROTOCOL");
                    self.req_state = ReqState::Headers;
                    self.on_request_header(ctx, line, sink);
                }
            }
            ReqState::Headers => self.on_request_header(ctx, line, sink),
            ReqState::Body(Body::ChunkLen) | ReqState::Body(Body::ChunkEnd) => {
                self.on_chunk_line(ctx, Direction::ToServer, line, sink)
            }
            ReqState::Body(Body::Trailers) => {
                if is_empty_line(line.bytes) {
                    self.request_complete(ctx, sink);
                }
            }
            ReqState::Body(_) | ReqState::Tunnel => {}
        }
    }

    fn on_request_line(&mut self, ctx: &AppContext, line: Line<'_>, sink: &mut dyn ProtoSink) {
        let text = chomp(line.bytes);
        if text.is_empty() {
            return; // leading empty lines are ignored
        }
        let r = parse_request_line(text);
        if r.leading_whitespace {
            self.anomaly(ctx, sink, "REQUEST_LINE_LEADING_WHITESPACE");
        }
        if r.method_delim_odd {
            self.anomaly(ctx, sink, "METHOD_DELIM_NON_COMPLIANT");
        }
        let id = self.new_tx(ctx, sink);
        let missing_protocol = r.protocol.is_none();
        let keep = self.keep_bodies;
        if let Some(tx) = self.tx_mut(id) {
            tx.has_request = true;
            // The request line and the normalised URI are rule buffers only.
            if keep {
                tx.request_line = text.to_vec();
                tx.uri_norm = normalize_uri(r.uri);
            }
            tx.method = r.method.to_vec();
            tx.uri = r.uri.to_vec();
            tx.protocol = r.protocol.map(<[u8]>::to_vec).unwrap_or_default();
            if let Some(auth) = uri_authority(r.uri) {
                let (h, p) = split_host_port(auth);
                tx.hostname = h;
                tx.port = p.and_then(Result::ok);
            }
        }
        self.cur_req = Some(id);
        self.req_state = if missing_protocol {
            ReqState::Peek09
        } else {
            ReqState::Headers
        };
    }

    /// Resolves a protocol-less request line as HTTP/0.9: no headers, no body.
    fn finish_09(&mut self, ctx: &AppContext, sink: &mut dyn ProtoSink) {
        if let Some(id) = self.cur_req {
            if let Some(tx) = self.tx_mut(id) {
                tx.is_09 = true;
            }
            self.end_request_headers(ctx, sink);
        }
    }

    fn on_request_header(&mut self, ctx: &AppContext, line: Line<'_>, sink: &mut dyn ProtoSink) {
        if is_empty_line(line.bytes) {
            self.end_request_headers(ctx, sink);
            return;
        }
        let Some(id) = self.cur_req else { return };
        let text = chomp(line.bytes);
        let max_headers = self.cfg.max_headers;
        let keep_raw = self.keep_bodies;
        let mut events: Vec<&'static str> = Vec::new();
        if let Some(tx) = self.tx_mut(id) {
            // The raw header block is a rule buffer only (`http.header.raw`).
            if keep_raw {
                if tx.req_headers_raw.capacity() == 0 {
                    tx.req_headers_raw.reserve(RAW_HEADERS_RESERVE);
                }
                tx.req_headers_raw.extend_from_slice(line.bytes);
            }
            add_header(
                &mut tx.req_headers,
                text,
                max_headers,
                &mut tx.req_headers_cut,
                Direction::ToServer,
                &mut events,
            );
        }
        for e in events {
            if e == "REQUEST_TOO_MANY_HEADERS" {
                self.counters.header_limit += 1;
            }
            self.anomaly(ctx, sink, e);
        }
    }

    fn end_request_headers(&mut self, ctx: &AppContext, sink: &mut dyn ProtoSink) {
        let Some(id) = self.cur_req else {
            self.req_state = ReqState::Line;
            return;
        };
        let mut events: Vec<&'static str> = Vec::new();
        let mut body = None;
        let mut connect = false;
        if let Some(tx) = self.tx_mut(id) {
            if tx.hostname.is_empty() {
                if let Some(h) = tx.request_header(b"host") {
                    let (host, port) = split_host_port(h);
                    tx.hostname = host;
                    match port {
                        Some(Ok(p)) => tx.port = Some(p),
                        Some(Err(())) => events.push("INVALID_AUTHORITY_PORT"),
                        None => {}
                    }
                } else if tx.protocol.eq_ignore_ascii_case(b"HTTP/1.1") {
                    events.push("MISSING_HOST_HEADER");
                }
            }
            tx.finish_request_headers();
            connect = tx.method.eq_ignore_ascii_case(b"CONNECT");
            if !tx.is_09 {
                body = if tx
                    .request_header(b"transfer-encoding")
                    .is_some_and(|v| contains_nocase(v, b"chunked"))
                {
                    Some(Body::ChunkLen)
                } else if let Some(cl) = tx.request_header(b"content-length") {
                    match parse_content_length(cl) {
                        Some(0) => None,
                        Some(n) => Some(Body::Length(n)),
                        None => {
                            events.push("INVALID_CONTENT_LENGTH_FIELD_IN_REQUEST");
                            None
                        }
                    }
                } else {
                    None
                };
            }
        }
        for e in events {
            self.anomaly(ctx, sink, e);
        }
        if sink.wants_events()
            && let Some(tx) = self.tx(id)
            && sink.wants_http_request(
                ctx,
                if tx.has_request { &tx.uri } else { b"" },
                tx.request_header(b"user-agent").unwrap_or(b""),
            )
        {
            sink.event(ctx, AppEvent::Http(Self::http_event(tx)));
        }
        self.notify_tx(ctx, id, sink);
        match body {
            Some(b) => self.req_state = ReqState::Body(b),
            None if connect => {
                self.req_state = ReqState::Tunnel;
                if let Some(tx) = self.tx_mut(id) {
                    tx.req_done = true;
                }
            }
            None => self.request_complete(ctx, sink),
        }
    }

    fn request_body<'a>(
        &mut self,
        ctx: &AppContext,
        b: Body,
        input: &'a [u8],
        sink: &mut dyn ProtoSink,
    ) -> &'a [u8] {
        match b {
            Body::Length(n) | Body::ChunkData(n) => {
                let take = usize::try_from(n).unwrap_or(usize::MAX).min(input.len());
                let (data, rest) = input.split_at(take);
                let left = n - take as u64;
                self.request_body_data(data);
                if left > 0 {
                    self.req_state = ReqState::Body(match b {
                        Body::Length(_) => Body::Length(left),
                        _ => Body::ChunkData(left),
                    });
                } else if matches!(b, Body::Length(_)) {
                    self.request_complete(ctx, sink);
                } else {
                    self.req_state = ReqState::Body(Body::ChunkEnd);
                }
                rest
            }
            // Line-oriented body parts go through the line path.
            Body::ChunkLen | Body::ChunkEnd | Body::Trailers => {
                let used = self.request_next_line(ctx, input, sink);
                &input[used..]
            }
            Body::UntilClose => {
                self.request_body_data(input);
                &[]
            }
        }
    }

    fn request_body_data(&mut self, data: &[u8]) {
        let limit = self.cfg.request_body_limit;
        let keep = self.keep_bodies;
        if let Some(id) = self.cur_req
            && let Some(tx) = self.tx_mut(id)
        {
            tx.req_body_len = tx.req_body_len.saturating_add(data.len() as u64);
            if keep {
                push_bounded(&mut tx.req_body, data, limit);
            }
        }
    }

    fn request_complete(&mut self, ctx: &AppContext, sink: &mut dyn ProtoSink) {
        self.req_state = ReqState::Line;
        if let Some(id) = self.cur_req.take() {
            let had_body = self.tx(id).is_some_and(|t| t.req_body_len > 0);
            if let Some(tx) = self.tx_mut(id) {
                tx.req_done = true;
            }
            if had_body {
                self.notify_tx(ctx, id, sink);
            }
        }
        self.flush_complete(ctx, sink);
    }

    // ------------------------------------------------------------------
    // Chunked bodies (both directions)
    // ------------------------------------------------------------------

    fn on_chunk_line(
        &mut self,
        ctx: &AppContext,
        dir: Direction,
        line: Line<'_>,
        sink: &mut dyn ProtoSink,
    ) {
        let state = match dir {
            Direction::ToServer => match self.req_state {
                ReqState::Body(b) => b,
                _ => return,
            },
            Direction::ToClient => match self.res_state {
                ResState::Body(b) => b,
                _ => return,
            },
        };
        let text = chomp(line.bytes);
        if state == Body::ChunkEnd && text.is_empty() {
            self.set_body(dir, Body::ChunkLen);
            return;
        }
        match parse_chunk_len(text) {
            Some(0) => self.set_body(dir, Body::Trailers),
            Some(n) => self.set_body(dir, Body::ChunkData(n)),
            None => match dir {
                Direction::ToServer => {
                    self.anomaly(ctx, sink, "INVALID_REQUEST_CHUNK_LEN");
                    self.request_complete(ctx, sink);
                    self.req_state = ReqState::Resync;
                }
                Direction::ToClient => {
                    self.anomaly(ctx, sink, "INVALID_RESPONSE_CHUNK_LEN");
                    // Keep the rest as body until the connection closes.
                    self.res_state = ResState::Body(Body::UntilClose);
                    self.response_body_data(line.bytes);
                }
            },
        }
    }

    fn set_body(&mut self, dir: Direction, b: Body) {
        match dir {
            Direction::ToServer => self.req_state = ReqState::Body(b),
            Direction::ToClient => self.res_state = ResState::Body(b),
        }
    }

    // ------------------------------------------------------------------
    // Response direction
    // ------------------------------------------------------------------

    fn parse_response(
        &mut self,
        ctx: &AppContext,
        mut input: &[u8],
        sink: &mut dyn ProtoSink,
    ) -> ParseStatus {
        self.flush_partial_request_line(ctx, sink);
        // A protocol-less request line is HTTP/0.9 when the server answers
        // before another line arrives.
        if self.req_state == ReqState::Peek09 {
            let pending = chomp(&self.req_acc.buf);
            if pending.is_empty() {
                self.req_acc.buf.clear();
                self.finish_09(ctx, sink);
            }
        }
        while !input.is_empty() {
            if self.upgraded {
                return ParseStatus::Upgrade(AppProto::Unknown);
            }
            if let ResState::Body(b) = self.res_state
                && !matches!(b, Body::ChunkLen | Body::ChunkEnd | Body::Trailers)
            {
                input = self.response_body(ctx, b, input, sink);
                continue;
            }
            // An HTTP/0.9 response has no status line: all of it is body. A server
            // that answers a protocol-less request with a status line speaks 1.x
            // (`HTTP/1.1 400 Bad Request` to garbage): its line is parsed.
            if self.res_state == ResState::Line
                && self.res_acc.buf.is_empty()
                && !may_start_status_line(input)
                && let Some(id) = self
                    .txs
                    .iter()
                    .find(|t| t.has_request && !t.has_response && !t.res_done)
                    .filter(|t| t.is_09)
                    .map(|t| t.id)
            {
                self.cur_res = Some(id);
                if let Some(tx) = self.tx_mut(id) {
                    tx.has_response = true;
                    tx.res_headers_done = true;
                }
                self.start_response_body(ctx, id, Some(Body::UntilClose), sink);
                continue;
            }
            let limit = self.cfg.max_line_bytes;
            let (used, line) = next_line(&mut self.res_acc, input, limit);
            match line {
                None => {}
                Some(LineAt::Input { len, too_long }) => {
                    self.response_line_event(ctx, &input[..len], too_long, sink)
                }
                Some(LineAt::Acc) => {
                    let mut acc = std::mem::take(&mut self.res_acc);
                    self.response_line_event(ctx, &acc.buf, acc.overflow, sink);
                    acc.buf.clear();
                    acc.overflow = false;
                    self.res_acc = acc;
                }
            }
            input = &input[used..];
        }
        if self.upgraded {
            return ParseStatus::Upgrade(AppProto::Unknown);
        }
        ParseStatus::Ok
    }

    fn response_line_event(
        &mut self,
        ctx: &AppContext,
        raw: &[u8],
        too_long: bool,
        sink: &mut dyn ProtoSink,
    ) {
        let line = Line {
            bytes: raw,
            too_long,
        };
        if line.too_long {
            self.counters.long_lines += 1;
            self.anomaly(ctx, sink, "RESPONSE_FIELD_TOO_LONG");
        }
        match self.res_state {
            ResState::Line => self.on_status_line(ctx, line, sink),
            ResState::Resync => {
                if looks_like_status_line(line.bytes) {
                    self.res_state = ResState::Line;
                    self.on_status_line(ctx, line, sink);
                }
            }
            ResState::Headers => self.on_response_header(ctx, line, sink),
            ResState::Body(Body::ChunkLen) | ResState::Body(Body::ChunkEnd) => {
                self.on_chunk_line(ctx, Direction::ToClient, line, sink)
            }
            ResState::Body(Body::Trailers) => {
                if is_empty_line(line.bytes) {
                    self.response_complete(ctx, false, sink);
                }
            }
            ResState::Body(_) => {}
        }
    }

    /// The transaction the next response belongs to: the oldest one whose
    /// response has not started; a new one when none waits.
    fn response_tx(&mut self, ctx: &AppContext, sink: &mut dyn ProtoSink) -> u64 {
        if let Some(t) = self
            .txs
            .iter()
            .find(|t| t.has_request && !t.has_response && !t.res_done)
        {
            return t.id;
        }
        self.anomaly(ctx, sink, "UNABLE_TO_MATCH_RESPONSE_TO_REQUEST");
        let id = self.new_tx(ctx, sink);
        if let Some(tx) = self.tx_mut(id) {
            tx.req_done = true;
        }
        id
    }

    fn on_status_line(&mut self, ctx: &AppContext, line: Line<'_>, sink: &mut dyn ProtoSink) {
        let text = chomp(line.bytes);
        if text.is_empty() {
            return;
        }
        let id = self.response_tx(ctx, sink);
        self.cur_res = Some(id);
        if !looks_like_status_line(text) {
            // No status line: everything from here to the close is body.
            if let Some(tx) = self.tx_mut(id) {
                tx.has_response = true;
                tx.res_headers_done = true;
            }
            self.start_response_body(ctx, id, Some(Body::UntilClose), sink);
            self.response_body_data(line.bytes);
            return;
        }
        let s = parse_status_line(text);
        let invalid_status = s.status_number.is_none();
        let keep = self.keep_bodies;
        if let Some(tx) = self.tx_mut(id) {
            tx.has_response = true;
            // The status line and message are rule buffers only.
            if keep {
                tx.response_line = text.to_vec();
                tx.status_msg = s.message.to_vec();
            }
            tx.status = s.status.to_vec();
            tx.status_number = s.status_number;
            tx.res_headers.clear();
        }
        if invalid_status {
            self.anomaly(ctx, sink, "RESPONSE_INVALID_STATUS");
        }
        self.res_state = ResState::Headers;
    }

    fn on_response_header(&mut self, ctx: &AppContext, line: Line<'_>, sink: &mut dyn ProtoSink) {
        let Some(id) = self.cur_res else { return };
        if is_empty_line(line.bytes) {
            self.end_response_headers(ctx, id, sink);
            return;
        }
        let text = chomp(line.bytes);
        let max_headers = self.cfg.max_headers;
        let keep_raw = self.keep_bodies;
        let mut events = Vec::new();
        if let Some(tx) = self.tx_mut(id) {
            // The raw header block is a rule buffer only (`http.header.raw`).
            if keep_raw {
                if tx.res_headers_raw.capacity() == 0 {
                    tx.res_headers_raw.reserve(RAW_HEADERS_RESERVE);
                }
                tx.res_headers_raw.extend_from_slice(line.bytes);
            }
            add_header(
                &mut tx.res_headers,
                text,
                max_headers,
                &mut tx.res_headers_cut,
                Direction::ToClient,
                &mut events,
            );
        }
        for e in events {
            if e == "RESPONSE_TOO_MANY_HEADERS" {
                self.counters.header_limit += 1;
            }
            self.anomaly(ctx, sink, e);
        }
    }

    fn end_response_headers(&mut self, ctx: &AppContext, id: u64, sink: &mut dyn ProtoSink) {
        let Some(tx) = self.tx(id) else { return };
        let status = tx.status_number.unwrap_or(0);
        // Interim 1xx responses (but 101) precede the real one.
        if (100..200).contains(&status) && status != 101 {
            if let Some(tx) = self.tx_mut(id) {
                tx.has_response = false;
            }
            self.res_state = ResState::Line;
            return;
        }
        let head = tx.method.eq_ignore_ascii_case(b"HEAD");
        let connect_ok = tx.method.eq_ignore_ascii_case(b"CONNECT") && (200..300).contains(&status);
        let mut events = Vec::new();
        let body = if head || status == 204 || status == 304 || connect_ok || status == 101 {
            None
        } else if tx
            .response_header(b"transfer-encoding")
            .is_some_and(|v| contains_nocase(v, b"chunked"))
        {
            Some(Body::ChunkLen)
        } else if let Some(cl) = tx.response_header(b"content-length") {
            match parse_content_length(cl) {
                Some(0) => None,
                Some(n) => Some(Body::Length(n)),
                None => {
                    events.push("INVALID_CONTENT_LENGTH_FIELD_IN_RESPONSE");
                    Some(Body::UntilClose)
                }
            }
        } else {
            Some(Body::UntilClose)
        };
        if let Some(tx) = self.tx_mut(id) {
            tx.res_headers_done = true;
        }
        for e in events {
            self.anomaly(ctx, sink, e);
        }
        self.notify_tx(ctx, id, sink);
        if connect_ok || status == 101 {
            // The connection now carries something else: log and hand over.
            if let Some(tx) = self.tx_mut(id) {
                tx.req_done = true;
                tx.res_done = true;
            }
            if sink.wants_events()
                && let Some(tx) = self.tx(id)
            {
                sink.event(ctx, AppEvent::Http(Self::http_event(tx)));
            }
            self.flush_complete(ctx, sink);
            self.upgraded = true;
            return;
        }
        if self.req_state == ReqState::Tunnel && self.cur_req.is_none_or(|r| r == id) {
            // CONNECT refused: the client speaks HTTP again.
            self.req_state = ReqState::Line;
            self.cur_req = None;
        }
        self.start_response_body(ctx, id, body, sink);
    }

    fn start_response_body(
        &mut self,
        ctx: &AppContext,
        id: u64,
        body: Option<Body>,
        sink: &mut dyn ProtoSink,
    ) {
        match body {
            None => self.response_complete(ctx, false, sink),
            Some(b) => {
                let (name, declared, partial) = match self.tx(id) {
                    Some(tx) => {
                        let name = file_name(tx);
                        let declared = match b {
                            Body::Length(n) => Some(n),
                            _ => None,
                        };
                        (
                            name,
                            declared,
                            tx.status_number == Some(206) && !whole_range(tx),
                        )
                    }
                    None => (None, None, false),
                };
                self.file_partial = partial;
                self.file = Some(FileTracker::new(
                    AppProto::Http,
                    name,
                    declared,
                    &self.cfg.files,
                ));
                self.res_state = ResState::Body(b);
            }
        }
    }

    /// The common response chunk: all of it body, inside a Content-Length
    /// body or chunk (not its last byte) or a body that runs to the close,
    /// with nothing pending on the request side. Does what
    /// [`HttpParser::parse_response`] does for it and returns true; false (and
    /// nothing done) for anything else.
    #[inline(always)]
    fn response_body_chunk(&mut self, b: &[u8]) -> bool {
        if b.is_empty()
            || self.req_state == ReqState::Peek09
            || (self.req_state == ReqState::Line && !self.req_acc.buf.is_empty())
        {
            return false;
        }
        let len = b.len() as u64;
        match self.res_state {
            ResState::Body(Body::Length(n)) if len < n => {
                self.reserve_response_body(n);
                self.response_body_data(b);
                self.res_state = ResState::Body(Body::Length(n - len));
            }
            ResState::Body(Body::ChunkData(n)) if len < n => {
                self.response_body_data(b);
                self.res_state = ResState::Body(Body::ChunkData(n - len));
            }
            ResState::Body(Body::UntilClose) => self.response_body_data(b),
            _ => return false,
        }
        true
    }

    fn response_body<'a>(
        &mut self,
        ctx: &AppContext,
        b: Body,
        input: &'a [u8],
        sink: &mut dyn ProtoSink,
    ) -> &'a [u8] {
        match b {
            Body::Length(n) | Body::ChunkData(n) => {
                let take = usize::try_from(n).unwrap_or(usize::MAX).min(input.len());
                let (data, rest) = input.split_at(take);
                let left = n - take as u64;
                if matches!(b, Body::Length(_)) {
                    self.reserve_response_body(n);
                }
                self.response_body_data(data);
                if left > 0 {
                    self.res_state = ResState::Body(match b {
                        Body::Length(_) => Body::Length(left),
                        _ => Body::ChunkData(left),
                    });
                } else if matches!(b, Body::Length(_)) {
                    self.response_complete(ctx, false, sink);
                } else {
                    self.res_state = ResState::Body(Body::ChunkEnd);
                }
                rest
            }
            Body::UntilClose => {
                self.response_body_data(input);
                &[]
            }
            Body::ChunkLen | Body::ChunkEnd | Body::Trailers => input,
        }
    }

    /// A Content-Length body of which `left` bytes are still to come: the kept
    /// copy (when rules read bodies) gets its final size at the first byte
    /// instead of doubling its way up to it (each step a copy).
    fn reserve_response_body(&mut self, left: u64) {
        if !self.keep_bodies {
            return;
        }
        let limit = self.cfg.response_body_limit;
        if let Some(id) = self.cur_res
            && let Some(tx) = self.tx_mut(id)
            && tx.res_body.capacity() == 0
        {
            let want = usize::try_from(left).unwrap_or(usize::MAX).min(limit);
            tx.res_body.reserve_exact(want);
        }
    }

    fn response_body_data(&mut self, data: &[u8]) {
        if data.is_empty() {
            return;
        }
        let limit = self.cfg.response_body_limit;
        if let Some(f) = self.file.as_mut() {
            f.update(data);
        }
        let keep = self.keep_bodies;
        if let Some(id) = self.cur_res
            && let Some(tx) = self.tx_mut(id)
        {
            tx.res_body_len = tx.res_body_len.saturating_add(data.len() as u64);
            if keep {
                push_bounded(&mut tx.res_body, data, limit);
            }
        }
    }

    fn response_complete(&mut self, ctx: &AppContext, truncated: bool, sink: &mut dyn ProtoSink) {
        self.res_state = ResState::Line;
        let Some(id) = self.cur_res.take() else {
            return;
        };
        if let Some(tx) = self.tx_mut(id) {
            tx.res_done = true;
        }
        if let Some(f) = self.file.take()
            && f.size() > 0
        {
            // A 206 body is a piece of a file: never the complete file
            // unless its range covers all of it.
            let ev = f.finish(truncated || self.file_partial, Some(id));
            if self.cfg.files.log_fileinfo && sink.wants_records() {
                let mut extra = serde_json::Map::new();
                let json = self.tx(id).map(|tx| logger::http_json(tx, &self.cfg));
                if let Some(j) = json {
                    extra.insert("http".into(), j.clone());
                    if let Some(tx) = self.tx_mut(id) {
                        tx.json_cache = Some(j);
                    }
                }
                sink.record(fileinfo_record(ctx, &ev, extra));
            }
            sink.event(ctx, AppEvent::File(ev));
        }
        if let Some(tx) = self.tx(id) {
            if sink.wants_server_events_of(AppProto::Http) {
                sink.event(ctx, AppEvent::Http(Self::http_event(tx)));
            }
            if sink.wants_txs() {
                sink.tx(ctx, tx);
            }
        }
        self.flush_complete(ctx, sink);
    }

    // ------------------------------------------------------------------
    // Gaps
    // ------------------------------------------------------------------

    fn gap(&mut self, ctx: &AppContext, len: u32, sink: &mut dyn ProtoSink) {
        self.counters.gaps += 1;
        let n = u64::from(len);
        match ctx.dir {
            Direction::ToServer => match self.req_state {
                ReqState::Body(Body::Length(left)) => {
                    if let Some(id) = self.cur_req
                        && let Some(tx) = self.tx_mut(id)
                    {
                        tx.req_body_len = tx.req_body_len.saturating_add(n.min(left));
                    }
                    if n >= left {
                        self.request_complete(ctx, sink);
                        if n > left {
                            self.req_state = ReqState::Resync;
                        }
                    } else {
                        self.req_state = ReqState::Body(Body::Length(left - n));
                    }
                }
                ReqState::Tunnel => {}
                _ => {
                    self.req_acc = LineAcc::default();
                    if self.cur_req.is_some() {
                        self.request_complete(ctx, sink);
                    }
                    self.req_state = ReqState::Resync;
                }
            },
            Direction::ToClient => match self.res_state {
                ResState::Body(Body::Length(left)) => {
                    if let Some(f) = self.file.as_mut() {
                        f.gap(n.min(left));
                    }
                    if let Some(id) = self.cur_res
                        && let Some(tx) = self.tx_mut(id)
                    {
                        tx.res_body_len = tx.res_body_len.saturating_add(n.min(left));
                    }
                    if n >= left {
                        self.response_complete(ctx, true, sink);
                        if n > left {
                            self.res_state = ResState::Resync;
                        }
                    } else {
                        self.res_state = ResState::Body(Body::Length(left - n));
                    }
                }
                ResState::Body(Body::UntilClose) => {
                    if let Some(f) = self.file.as_mut() {
                        f.gap(n);
                    }
                    if let Some(id) = self.cur_res
                        && let Some(tx) = self.tx_mut(id)
                    {
                        tx.res_body_len = tx.res_body_len.saturating_add(n);
                    }
                }
                _ => {
                    self.res_acc = LineAcc::default();
                    if self.cur_res.is_some() {
                        if let Some(f) = self.file.as_mut() {
                            f.gap(n);
                        }
                        self.response_complete(ctx, true, sink);
                    }
                    self.res_state = ResState::Resync;
                }
            },
        }
    }
}

fn contains_nocase(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len())
        .any(|w| w.eq_ignore_ascii_case(needle))
}

/// Adds one header line to a block: folds continuations, merges repeated
/// names, and reports oddities by their Suricata event names.
fn add_header(
    headers: &mut Vec<Header>,
    text: &[u8],
    max_headers: usize,
    cut: &mut bool,
    dir: Direction,
    events: &mut Vec<&'static str>,
) {
    let (missing_colon, repetition, too_many, dup_cl) = match dir {
        Direction::ToServer => (
            "REQUEST_FIELD_MISSING_COLON",
            "REQUEST_HEADER_REPETITION",
            "REQUEST_TOO_MANY_HEADERS",
            "DUPLICATE_CONTENT_LENGTH_FIELD_IN_REQUEST",
        ),
        Direction::ToClient => (
            "RESPONSE_FIELD_MISSING_COLON",
            "RESPONSE_HEADER_REPETITION",
            "RESPONSE_TOO_MANY_HEADERS",
            "DUPLICATE_CONTENT_LENGTH_FIELD_IN_RESPONSE",
        ),
    };
    let (name, value) = match parse_header_line(text) {
        HeaderLine::Fold(v) => {
            if let Some(last) = headers.last_mut()
                && !v.is_empty()
            {
                if !last.value().is_empty() {
                    last.extend_value(b" ");
                }
                last.extend_value(v);
            }
            return;
        }
        HeaderLine::MissingColon(v) => {
            events.push(missing_colon);
            (&b""[..], v)
        }
        HeaderLine::Field { name, value } => (name, value),
    };
    if let Some(h) = headers
        .iter_mut()
        .find(|h| h.name().eq_ignore_ascii_case(name))
    {
        if name.eq_ignore_ascii_case(b"content-length") {
            if h.value() != value {
                events.push(dup_cl);
            }
            return;
        }
        events.push(repetition);
        h.extend_value(b", ");
        h.extend_value(value);
        return;
    }
    if headers.len() >= max_headers {
        if !*cut {
            *cut = true;
            events.push(too_many);
        }
        return;
    }
    headers.push(Header::new(name, value));
}

/// True when a `206` response's `Content-Range` covers the whole file
/// (`bytes 0-(size-1)/size`).
fn whole_range(tx: &HttpTx) -> bool {
    let Some(cr) = tx.response_header(b"content-range") else {
        return false;
    };
    let v = logger::content_range_parts(cr);
    matches!(v, (Some(0), Some(end), Some(size)) if end.checked_add(1) == Some(size))
}

/// The file name of a response body: a Content-Disposition `filename=`, or the
/// path of the request URI.
fn file_name(tx: &HttpTx) -> Option<String> {
    let text = crate::files::util::string_from_bytes;
    if let Some(cd) = tx.response_header(b"content-disposition")
        && let Some(i) = memchr::memmem::find(&cd.to_ascii_lowercase(), b"filename=")
    {
        let v = &cd[i + 9..];
        let v = v.strip_prefix(b"\"").unwrap_or(v);
        let end = v
            .iter()
            .position(|&c| c == b'"' || c == b';')
            .unwrap_or(v.len());
        return Some(text(&v[..end]));
    }
    if !tx.has_request {
        return None;
    }
    let pq = uri_path_query(&tx.uri);
    let path = match memchr::memchr(b'?', pq) {
        Some(i) => &pq[..i],
        None => pq,
    };
    Some(text(path))
}

impl StreamParser for HttpParser {
    fn proto(&self) -> AppProto {
        AppProto::Http
    }

    fn parse(
        &mut self,
        ctx: &AppContext,
        data: StreamData<'_>,
        sink: &mut dyn ProtoSink,
    ) -> ParseStatus {
        if self.upgraded {
            return ParseStatus::Upgrade(AppProto::Unknown);
        }
        if !self.keep_asked {
            self.keep_bodies = sink.wants_txs();
            self.keep_asked = true;
        }
        match data {
            StreamData::Gap(n) => {
                self.gap(ctx, n, sink);
                ParseStatus::Ok
            }
            StreamData::Bytes(b) => match ctx.dir {
                Direction::ToServer => self.parse_request(ctx, b, sink),
                Direction::ToClient => {
                    if self.response_body_chunk(b) {
                        ParseStatus::Ok
                    } else {
                        self.parse_response(ctx, b, sink)
                    }
                }
            },
        }
    }

    fn tx_object(&self, tx_id: u64) -> Option<(&'static str, serde_json::Value)> {
        self.tx_json(tx_id).map(|v| ("http", v))
    }

    fn close(&mut self, ctx: &AppContext, sink: &mut dyn ProtoSink) {
        self.flush_partial_request_line(ctx, sink);
        if self.req_state == ReqState::Peek09 {
            let pending = chomp(&self.req_acc.buf);
            if pending.is_empty() {
                self.finish_09(ctx, sink);
            } else {
                self.anomaly(ctx, sink, "REQUEST_LINE_MISSING_PROTOCOL");
                self.end_request_headers(ctx, sink);
            }
        }
        // A body running until the close ends normally here; any other
        // unfinished body is truncated.
        if self.cur_res.is_some() {
            let truncated = !matches!(self.res_state, ResState::Body(Body::UntilClose));
            self.response_complete(ctx, truncated, sink);
        }
        let pending: Vec<u64> = self
            .txs
            .iter()
            .filter(|t| !t.logged)
            .map(|t| t.id)
            .collect();
        for id in pending {
            if let Some(tx) = self.tx(id) {
                self.log_tx(ctx, tx, sink);
                if !tx.res_done && tx.has_request && sink.wants_events() {
                    sink.event(ctx, AppEvent::Http(Self::http_event(tx)));
                }
            }
            if let Some(tx) = self.tx_mut(id) {
                tx.logged = true;
            }
        }
        self.txs.clear();
        self.cur_req = None;
        self.req_state = ReqState::Line;
        self.res_state = ResState::Line;
    }
}

/// Whether `input` can be the start of a status line (`HTTP`, case-insensitive,
/// after optional whitespace; a shorter input that is a prefix of it counts).
fn may_start_status_line(input: &[u8]) -> bool {
    let t = input
        .iter()
        .position(|b| !matches!(b, b' ' | b'\t' | b'\r' | b'\n'))
        .map_or(&[][..], |i| &input[i..]);
    let n = t.len().min(4);
    !t.is_empty() && t[..n].eq_ignore_ascii_case(&b"HTTP"[..n])
}
