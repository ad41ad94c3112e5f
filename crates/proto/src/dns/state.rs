//! DNS per-flow state: one transaction per message, UDP datagrams and TCP
//! length-prefixed framing with resynchronisation after gaps.

use super::parser::{Message, RData, parse_message};
use super::{DnsConfig, logger};
use crate::ProtoConfig;
use crate::api::parser_anomaly;
use crate::api::{DatagramParser, ParseStatus, ProtoSink, StreamParser};
use crate::files::util::string_from_bytes;
use stormwatch_model::{
    AppContext, AppEvent, AppProto, BufferId, Direction, DnsEvent, StreamData, TxField, TxView,
};

/// One DNS message (Suricata 8+ counts each message as a transaction).
#[derive(Clone, Debug)]
pub struct DnsTx {
    id: u64,
    msg: Message,
}

impl DnsTx {
    /// Transaction number within the flow.
    pub fn id(&self) -> u64 {
        self.id
    }
    /// The parsed message.
    pub fn message(&self) -> &Message {
        &self.msg
    }
    /// True for a response (QR bit).
    pub fn is_response(&self) -> bool {
        self.msg.header.is_response()
    }
}

impl TxView for DnsTx {
    fn app_proto(&self) -> AppProto {
        AppProto::Dns
    }

    fn tx_id(&self) -> u64 {
        self.id
    }

    fn buffer_count(&self, id: BufferId) -> usize {
        match id {
            // `dns.query` inspects the questions of requests.
            BufferId::DnsQuery if !self.is_response() => self.msg.queries.len(),
            _ => 0,
        }
    }

    fn buffer(&self, id: BufferId, idx: usize) -> Option<&[u8]> {
        match id {
            BufferId::DnsQuery if !self.is_response() => {
                self.msg.queries.get(idx).map(|q| q.name.value.as_slice())
            }
            _ => None,
        }
    }

    fn field(&self, f: TxField) -> Option<u64> {
        match f {
            TxField::DnsOpcode => Some(u64::from(self.msg.header.opcode())),
            TxField::DnsRcode => Some(u64::from(self.msg.header.rcode())),
            // The first of `field_values`' rrtypes.
            TxField::DnsRrtype if self.is_response() => {
                self.msg.answers.first().map(|a| u64::from(a.rrtype))
            }
            TxField::DnsRrtype => self.msg.queries.first().map(|q| u64::from(q.rrtype)),
            _ => None,
        }
    }

    /// `dns.rrtype`: the questions' rrtypes of a request, the answers' of a
    /// response (as Suricata inspects them).
    fn field_values(&self, f: TxField, out: &mut Vec<u64>) {
        match f {
            TxField::DnsRrtype if self.is_response() => {
                out.extend(self.msg.answers.iter().map(|a| u64::from(a.rrtype)));
            }
            TxField::DnsRrtype => out.extend(self.msg.queries.iter().map(|q| u64::from(q.rrtype))),
            _ => out.extend(self.field(f)),
        }
    }

    fn complete(&self, _dir: Direction) -> bool {
        true
    }
}

/// Shared by the UDP and TCP parsers: transaction numbering and reporting.
#[derive(Debug)]
struct DnsCore {
    cfg: DnsConfig,
    next_id: u64,
}

impl DnsCore {
    fn new(cfg: DnsConfig) -> Self {
        DnsCore { cfg, next_id: 0 }
    }

    /// Handles one whole message; false when it does not parse.
    fn message(&mut self, ctx: &AppContext, bytes: &[u8], sink: &mut dyn ProtoSink) -> bool {
        let msg = match parse_message(bytes) {
            Ok((_, m)) => m,
            Err(_) => {
                sink.anomaly(parser_anomaly(ctx, AppProto::Dns, "MALFORMED_DATA", None));
                return false;
            }
        };
        if msg.header.z() {
            sink.anomaly(parser_anomaly(ctx, AppProto::Dns, "Z_FLAG_SET", None));
        }
        let truncated = msg.queries.iter().any(|q| q.name.truncated)
            || msg
                .answers
                .iter()
                .chain(&msg.authorities)
                .chain(&msg.additionals)
                .any(|r| r.name.truncated);
        if truncated {
            sink.anomaly(parser_anomaly(ctx, AppProto::Dns, "NAME_TOO_LONG", None));
        }
        let tx = DnsTx {
            id: self.next_id,
            msg,
        };
        self.next_id += 1;
        if sink.wants_events_of(AppProto::Dns) {
            sink.event(ctx, AppEvent::Dns(dns_event(&tx.msg)));
        }
        if sink.wants_txs() {
            sink.tx(ctx, &tx);
        }
        if sink.wants_records() {
            for rec in logger::records(ctx, &tx, &self.cfg) {
                sink.record(rec);
            }
        }
        true
    }
}

fn dns_event(m: &Message) -> DnsEvent {
    DnsEvent {
        id: m.header.id,
        response: m.header.is_response(),
        queries: m
            .queries
            .iter()
            .map(|q| (string_from_bytes(&q.name.value), q.rrtype))
            .collect(),
        rcode: m.header.rcode(),
        answers: m
            .answers
            .iter()
            .map(|a| {
                let text = match &a.data {
                    RData::Addr(b) => logger::addr_text(b),
                    RData::Name(n) => string_from_bytes(&n.value),
                    RData::Txt(v) => v
                        .iter()
                        .map(|s| string_from_bytes(s))
                        .collect::<Vec<_>>()
                        .join(" "),
                    RData::Null(b) | RData::Unknown(b) => string_from_bytes(b),
                    RData::Soa(s) => string_from_bytes(&s.mname.value),
                    RData::Srv(s) => format!(
                        "{} {} {} {}",
                        s.priority,
                        s.weight,
                        s.port,
                        string_from_bytes(&s.target.value)
                    ),
                    RData::Sshfp(s) => crate::files::hex(&s.fingerprint),
                    RData::Opt(_) => String::new(),
                };
                (string_from_bytes(&a.name.value), a.rrtype, text)
            })
            .collect(),
    }
}

/// DNS over UDP: one message per datagram.
#[derive(Debug)]
pub struct DnsUdpParser {
    core: DnsCore,
}

impl DnsUdpParser {
    /// A parser with the settings in `cfg.dns`.
    pub fn new(cfg: &ProtoConfig) -> Self {
        Self::with_config(cfg.dns.clone())
    }

    /// A parser with explicit DNS settings.
    pub fn with_config(cfg: DnsConfig) -> Self {
        DnsUdpParser {
            core: DnsCore::new(cfg),
        }
    }
}

impl DatagramParser for DnsUdpParser {
    fn proto(&self) -> AppProto {
        AppProto::Dns
    }

    fn parse(&mut self, ctx: &AppContext, payload: &[u8], sink: &mut dyn ProtoSink) -> ParseStatus {
        self.core.message(ctx, payload, sink);
        ParseStatus::Ok
    }

    fn close(&mut self, _ctx: &AppContext, _sink: &mut dyn ProtoSink) {}
}

/// Per-direction TCP framing state.
#[derive(Debug, Default)]
struct Framer {
    /// Bytes of the message (with its 2-byte length) being assembled; never more
    /// than 65537 bytes.
    buf: Vec<u8>,
    /// A gap was seen: skip data until a chunk starts like a DNS message.
    after_gap: bool,
}

/// DNS over TCP: messages framed by a 2-byte big-endian length.
#[derive(Debug)]
pub struct DnsTcpParser {
    core: DnsCore,
    dirs: [Framer; 2],
}

impl DnsTcpParser {
    /// A parser with the settings in `cfg.dns`.
    pub fn new(cfg: &ProtoConfig) -> Self {
        Self::with_config(cfg.dns.clone())
    }

    /// A parser with explicit DNS settings.
    pub fn with_config(cfg: DnsConfig) -> Self {
        DnsTcpParser {
            core: DnsCore::new(cfg),
            dirs: [Framer::default(), Framer::default()],
        }
    }

    fn bytes(
        &mut self,
        ctx: &AppContext,
        mut input: &[u8],
        sink: &mut dyn ProtoSink,
    ) -> ParseStatus {
        let d = ctx.dir.index();
        if self.dirs[d].after_gap {
            // Resume only where a message plausibly starts (Suricata probes
            // the data after a gap the same way).
            match super::probe_tcp(ctx.dir, input) {
                crate::api::ProbeResult::NoMatch => return ParseStatus::Ok,
                _ => self.dirs[d].after_gap = false,
            }
        }
        while !input.is_empty() {
            let f = &mut self.dirs[d];
            // Complete the 2-byte length first.
            if f.buf.len() < 2 {
                let need = 2 - f.buf.len();
                let take = need.min(input.len());
                f.buf.extend_from_slice(&input[..take]);
                input = &input[take..];
                if f.buf.len() < 2 {
                    break;
                }
            }
            let len = usize::from(u16::from_be_bytes([f.buf[0], f.buf[1]]));
            let have = f.buf.len() - 2;
            // Whole message directly in the input: no copy.
            if have == 0 && input.len() >= len {
                let (msg, rest) = input.split_at(len);
                f.buf.clear();
                input = rest;
                if len > 0 {
                    self.core.message(ctx, msg, sink);
                }
                continue;
            }
            let take = (len - have).min(input.len());
            f.buf.extend_from_slice(&input[..take]);
            input = &input[take..];
            if f.buf.len() - 2 == len {
                let buf = std::mem::take(&mut f.buf);
                if len > 0 {
                    self.core.message(ctx, &buf[2..], sink);
                }
                let mut buf = buf;
                buf.clear();
                self.dirs[d].buf = buf;
            }
        }
        ParseStatus::Ok
    }
}

impl StreamParser for DnsTcpParser {
    fn proto(&self) -> AppProto {
        AppProto::Dns
    }

    fn parse(
        &mut self,
        ctx: &AppContext,
        data: StreamData<'_>,
        sink: &mut dyn ProtoSink,
    ) -> ParseStatus {
        match data {
            StreamData::Gap(_) => {
                let f = &mut self.dirs[ctx.dir.index()];
                f.buf.clear();
                f.after_gap = true;
                ParseStatus::Ok
            }
            StreamData::Bytes(b) => self.bytes(ctx, b, sink),
        }
    }

    fn close(&mut self, _ctx: &AppContext, _sink: &mut dyn ProtoSink) {
        for f in &mut self.dirs {
            f.buf.clear();
        }
    }
}
