//! TLS session state: record framing per direction (SSL3/TLS 5-byte headers
//! and SSLv2/PCT 2/3-byte headers, switching per record), handshake message
//! reassembly across records and segments, the facts gathered, limits and
//! anomalies.

use super::cert::{CertInfo, der_shape_ok, parse_cert};
use super::detect::TlsTx;
use super::parser::{self, content};
use crate::api::{ParseStatus, ProtoSink, StreamParser, app_record, parser_anomaly};
use crate::config::ProtoConfig;
use stormwatch_model::{
    AppContext, AppEvent, AppProto, Direction, SSL_STATE_CLIENT_HELLO, SSL_STATE_CLIENT_KEYX,
    SSL_STATE_SERVER_HELLO, SSL_STATE_SERVER_KEYX, StreamData, TlsEvent,
};
use tls_parser::{TlsMessage, TlsMessageHandshake};

/// Largest SSLv2/PCT record kept to read its hello, bytes.
const MAX_V2_RECORD: usize = 16384;

/// One side's handshake facts.
#[derive(Clone, Debug, Default)]
pub struct TlsSide {
    /// Hello version (ClientHello legacy version; ServerHello negotiated
    /// version, supported_versions honoured). 0 = not seen.
    pub version: u16,
    /// Cipher suites offered (client) or chosen (server, one).
    pub ciphers: Vec<u16>,
    /// Extension types in order.
    pub exts: Vec<u16>,
    /// supported_groups (client).
    pub groups: Vec<u16>,
    /// ec_point_formats.
    pub point_formats: Vec<u8>,
    /// signature_algorithms (client).
    pub sig_algs: Vec<u16>,
    /// supported_versions.
    pub supported_versions: Vec<u16>,
    /// ALPN protocols.
    pub alpns: Vec<String>,
    /// Session id.
    pub session_id: Vec<u8>,
    /// JA3 (client) / JA3S (server): (string, hash).
    pub ja3: Option<(String, String)>,
    /// JA4 (client).
    pub ja4: Option<String>,
    /// Record versions seen.
    pub record_versions: u64,
    /// The hello came as SSLv2.
    pub sslv2: bool,
}

/// Facts of one TLS connection.
#[derive(Clone, Debug, Default)]
pub struct TlsState {
    /// Client facts.
    pub client: TlsSide,
    /// Server facts.
    pub server: TlsSide,
    /// Server name indication.
    pub sni: Option<Vec<u8>>,
    /// Server certificate chain (leaf first).
    pub certs: Vec<CertInfo>,
    /// `SSL_STATE_*` bits.
    pub ssl_state: u64,
    /// The session was resumed (server echoed the client's session id).
    pub resumed: bool,
    /// A PCT hello was seen.
    pub pct: bool,
    /// The handshake is done (both sides encrypting, or application data).
    pub handshake_done: bool,
}

#[derive(Clone, Debug, Default)]
struct DirState {
    /// Bytes of the current record header.
    hdr: Vec<u8>,
    /// Current record: content type (0 = SSLv2/PCT record) and bytes left.
    rec_type: u8,
    rec_left: usize,
    /// SSLv2/PCT record being collected and its declared length.
    v2: Vec<u8>,
    v2_len: usize,
    v2_checked: bool,
    /// Handshake message reassembly.
    hs: Vec<u8>,
    hs_skip: usize,
    /// CCS seen: this side's handshake is encrypted from here on.
    encrypted: bool,
    app_data: bool,
    records: u64,
    /// Framing lost (gap, garbage): no more parsing in this direction.
    lost: bool,
}

/// The TLS / SSLv2 / PCT stream parser.
#[derive(Debug)]
pub struct TlsParser {
    proto: AppProto,
    cfg: super::TlsConfig,
    dirs: [DirState; 2],
    state: TlsState,
    logged: bool,
    violation: bool,
    /// The flow is ending: judge incomplete hellos with what arrived.
    closing: bool,
    /// Fingerprints wanted (JA3/JA3S, JA4), decided at the ClientHello.
    want_fingerprints_flags: (bool, bool),
}

/// `SSL_VERSION_*` bit of a version (0 when unknown).
pub fn version_bits(v: u16) -> u64 {
    version_bit(v)
}

fn version_bit(v: u16) -> u64 {
    use stormwatch_model::*;
    match v {
        0x0002 => SSL_VERSION_SSLV2,
        0x0300 => SSL_VERSION_SSLV3,
        0x0301 => SSL_VERSION_TLS1_0,
        0x0302 => SSL_VERSION_TLS1_1,
        0x0303 => SSL_VERSION_TLS1_2,
        0x0304 => SSL_VERSION_TLS1_3,
        _ => 0,
    }
}

impl TlsParser {
    /// A TLS parser.
    pub fn new(cfg: &ProtoConfig) -> TlsParser {
        TlsParser {
            proto: AppProto::Tls,
            cfg: cfg.tls.clone(),
            dirs: [DirState::default(), DirState::default()],
            state: TlsState::default(),
            logged: false,
            violation: false,
            closing: false,
            want_fingerprints_flags: (true, true),
        }
    }

    /// A parser for a connection identified as PCT.
    pub fn new_pct(cfg: &ProtoConfig) -> TlsParser {
        let mut p = TlsParser::new(cfg);
        p.proto = AppProto::Pct;
        p
    }

    /// The facts gathered so far.
    pub fn state(&self) -> &TlsState {
        &self.state
    }

    fn anomaly(
        &self,
        ctx: &AppContext,
        ev: &'static str,
        detail: String,
        sink: &mut dyn ProtoSink,
    ) {
        sink.anomaly(parser_anomaly(ctx, self.proto, ev, Some(detail)));
    }

    fn offer_tx(&self, ctx: &AppContext, sink: &mut dyn ProtoSink) {
        let tx = TlsTx {
            state: &self.state,
            dir: ctx.dir,
        };
        sink.tx(ctx, &tx);
    }

    fn log(&mut self, ctx: &AppContext, sink: &mut dyn ProtoSink) {
        if self.logged || self.proto == AppProto::Pct || !sink.wants_records() {
            return;
        }
        let s = &self.state;
        if s.client.version == 0 && s.server.version == 0 && s.certs.is_empty() {
            return;
        }
        self.logged = true;
        let body = super::logger::log_tls(&self.state, &self.cfg);
        sink.record(app_record(ctx, "tls", None, body));
    }

    /// Which fingerprints are consumed: JA3/JA3S and JA4 feed rule buffers
    /// (`ja3.hash`, `ja4.hash`: when transactions are read) and records when
    /// configured; events carry them when computed (no stage reads them there).
    fn want_fingerprints(&mut self, sink: &dyn ProtoSink) -> (bool, bool) {
        let custom = |f: &str| {
            self.cfg
                .custom
                .as_ref()
                .is_some_and(|c| c.iter().any(|x| x == f))
        };
        let rules = sink.wants_txs();
        let w = (
            rules || self.cfg.ja3 || custom("ja3") || custom("ja3s"),
            rules || self.cfg.ja4 || custom("ja4"),
        );
        self.want_fingerprints_flags = w;
        w
    }

    /// Processes one complete handshake message.
    fn on_handshake(&mut self, ctx: &AppContext, msg: &[u8], sink: &mut dyn ProtoSink) {
        let d = ctx.dir;
        let parsed = tls_parser::parse_tls_message_handshake(msg);
        let m = match parsed {
            Ok((_, TlsMessage::Handshake(m))) => m,
            _ => {
                self.anomaly(
                    ctx,
                    "INVALID_HANDSHAKE_MESSAGE",
                    format!("handshake type {}", msg.first().copied().unwrap_or(0)),
                    sink,
                );
                return;
            }
        };
        match m {
            TlsMessageHandshake::ClientHello(ch) if d == Direction::ToServer => {
                let (want3, want4) = self.want_fingerprints(sink);
                let side = &mut self.state.client;
                side.version = ch.version.0;
                side.ciphers = ch.ciphers.iter().map(|c| c.0).collect();
                side.session_id = ch.session_id.unwrap_or(&[]).to_vec();
                let exts = parser::walk_extensions(ch.ext.unwrap_or(&[]));
                let mut alpn_first = None;
                for (t, data) in &exts {
                    side.exts.push(*t);
                    match t {
                        0 => self.state.sni = parser::sni_of(data).map(<[u8]>::to_vec),
                        10 => side.groups = parser::u16_list(data),
                        11 => side.point_formats = data.get(1..).unwrap_or(&[]).to_vec(),
                        13 => side.sig_algs = parser::u16_list(data),
                        16 => {
                            let a = parser::alpn_of(data);
                            alpn_first = a.first().map(|x| x.to_vec());
                            side.alpns = a
                                .iter()
                                .map(|x| String::from_utf8_lossy(x).into_owned())
                                .collect();
                        }
                        43 => side.supported_versions = parser::supported_versions(data, true),
                        _ => {}
                    }
                }
                if want3 {
                    side.ja3 = Some(super::ja::ja3(
                        side.version,
                        &side.ciphers,
                        &side.exts,
                        &side.groups,
                        &side.point_formats,
                    ));
                }
                if want4 {
                    side.ja4 = Some(super::ja::ja4(
                        side.version,
                        &side.supported_versions,
                        &side.ciphers,
                        &side.exts,
                        self.state.sni.is_some(),
                        alpn_first.as_deref(),
                        &side.sig_algs,
                    ));
                }
                self.state.ssl_state |= SSL_STATE_CLIENT_HELLO;
                let ev = TlsEvent::ClientHello {
                    version: self.state.client.version,
                    sni: self
                        .state
                        .sni
                        .as_ref()
                        .map(|s| String::from_utf8_lossy(s).into_owned()),
                    ja3: self.state.client.ja3.as_ref().map(|j| j.1.clone()),
                    ja4: self.state.client.ja4.clone(),
                };
                sink.event(ctx, AppEvent::Tls(ev));
                self.offer_tx(ctx, sink);
            }
            TlsMessageHandshake::ServerHello(sh) if d == Direction::ToClient => {
                let side = &mut self.state.server;
                side.version = sh.version.0;
                side.ciphers = vec![sh.cipher.0];
                let sid = sh.session_id.unwrap_or(&[]);
                side.session_id = sid.to_vec();
                for (t, data) in parser::walk_extensions(sh.ext.unwrap_or(&[])) {
                    side.exts.push(t);
                    match t {
                        11 => side.point_formats = data.get(1..).unwrap_or(&[]).to_vec(),
                        16 => {
                            side.alpns = parser::alpn_of(data)
                                .iter()
                                .map(|x| String::from_utf8_lossy(x).into_owned())
                                .collect()
                        }
                        43 => {
                            side.supported_versions = parser::supported_versions(data, false);
                            if let Some(v) = side.supported_versions.first() {
                                side.version = *v;
                            }
                        }
                        _ => {}
                    }
                }
                if self.want_fingerprints_flags.0 {
                    side.ja3 = Some(super::ja::ja3s(sh.version.0, sh.cipher.0, &side.exts));
                }
                if !sid.is_empty() && sid == self.state.client.session_id.as_slice() {
                    self.state.resumed = true;
                }
                self.state.ssl_state |= SSL_STATE_SERVER_HELLO;
                if sink.wants_server_events_of(AppProto::Tls) {
                    let ev = TlsEvent::ServerHello {
                        version: self.state.server.version,
                        cipher: sh.cipher.0,
                        ja3s: self.state.server.ja3.as_ref().map(|j| j.1.clone()),
                    };
                    sink.event(ctx, AppEvent::Tls(ev));
                }
                if self.state.server.version == 0x0304 {
                    // TLS 1.3: the rest of the server's handshake is encrypted.
                    self.dirs[1].encrypted = true;
                }
                self.offer_tx(ctx, sink);
            }
            TlsMessageHandshake::Certificate(c) if d == Direction::ToClient => {
                if !self.state.certs.is_empty() {
                    return;
                }
                // Decoding X.509 is most of a handshake's cost: when nobody takes
                // the certificate's facts (no EVE record, no rules), only its outer
                // DER shape is checked. (The behaviour stages read no certificate
                // event today; give them one here if they come to.)
                let consumed = sink.wants_records() || sink.wants_txs();
                for raw in c.cert_chain.iter().take(self.cfg.max_certs) {
                    let ok = if consumed {
                        parse_cert(raw.data)
                            .map(|ci| self.state.certs.push(ci))
                            .is_some()
                    } else {
                        der_shape_ok(raw.data)
                    };
                    if !ok {
                        self.anomaly(
                            ctx,
                            "INVALID_CERTIFICATE",
                            format!("{} bytes", raw.data.len()),
                            sink,
                        );
                        break;
                    }
                }
                if !consumed {
                    return;
                }
                if let Some(leaf) = self.state.certs.first() {
                    if sink.wants_server_events_of(AppProto::Tls) {
                        let ev = TlsEvent::Certificate {
                            subject: leaf.subject.clone(),
                            issuer: leaf.issuer.clone(),
                            serial: leaf.serial.clone(),
                            fingerprint: leaf.fingerprint.clone(),
                            not_before: leaf.not_before,
                            not_after: leaf.not_after,
                        };
                        sink.event(ctx, AppEvent::Tls(ev));
                    }
                    self.offer_tx(ctx, sink);
                }
            }
            TlsMessageHandshake::ClientKeyExchange(_) => {
                self.state.ssl_state |= SSL_STATE_CLIENT_KEYX;
                self.offer_tx(ctx, sink);
            }
            TlsMessageHandshake::ServerDone(_) if d == Direction::ToClient => {
                // The server's part of the handshake is complete: Suricata logs
                // the connection from here on.
                self.log(ctx, sink);
            }
            TlsMessageHandshake::ServerKeyExchange(_) => {
                self.state.ssl_state |= SSL_STATE_SERVER_KEYX;
                self.offer_tx(ctx, sink);
            }
            _ => {}
        }
    }

    /// Handshake bytes of one record (possibly part of a message).
    fn on_handshake_bytes(&mut self, ctx: &AppContext, mut b: &[u8], sink: &mut dyn ProtoSink) {
        let d = ctx.dir.index();
        let max = self.cfg.max_handshake_bytes;
        while !b.is_empty() {
            if self.dirs[d].hs_skip > 0 {
                let n = self.dirs[d].hs_skip.min(b.len());
                self.dirs[d].hs_skip -= n;
                b = &b[n..];
                continue;
            }
            // Fast path: whole messages straight from the record.
            if self.dirs[d].hs.is_empty() && b.len() >= 4 {
                let len = (usize::from(b[1]) << 16) | (usize::from(b[2]) << 8) | usize::from(b[3]);
                if b.len() >= 4 + len {
                    let (msg, rest) = b.split_at(4 + len);
                    self.on_handshake(ctx, msg, sink);
                    b = rest;
                    continue;
                }
            }
            let hs = &mut self.dirs[d].hs;
            let need_hdr = 4usize.saturating_sub(hs.len());
            if need_hdr > 0 {
                let n = need_hdr.min(b.len());
                hs.extend_from_slice(&b[..n]);
                b = &b[n..];
                if hs.len() < 4 {
                    break;
                }
            }
            let len = (usize::from(hs[1]) << 16) | (usize::from(hs[2]) << 8) | usize::from(hs[3]);
            if 4 + len > max {
                let have = hs.len();
                hs.clear();
                self.dirs[d].hs_skip = (4 + len).saturating_sub(have);
                self.anomaly(
                    ctx,
                    "tls.handshake_too_long",
                    format!("handshake message of {len} bytes > {max}"),
                    sink,
                );
                continue;
            }
            let need = 4 + len - hs.len();
            let n = need.min(b.len());
            hs.extend_from_slice(&b[..n]);
            b = &b[n..];
            if hs.len() == 4 + len {
                let msg = std::mem::take(&mut self.dirs[d].hs);
                self.on_handshake(ctx, &msg, sink);
                let mut msg = msg;
                msg.clear();
                self.dirs[d].hs = msg;
            }
        }
    }

    /// The SSLv2/PCT record being collected has enough bytes for its hello
    /// header: check it (once).
    fn check_v2(&mut self, ctx: &AppContext, sink: &mut dyn ProtoSink) {
        let d = ctx.dir.index();
        if self.dirs[d].v2_checked {
            return;
        }
        let buf = std::mem::take(&mut self.dirs[d].v2);
        let rec_len = self.dirs[d].v2_len;
        self.check_v2_msg(ctx, &buf, rec_len, sink);
        self.dirs[d].v2 = buf;
    }

    fn check_v2_msg(
        &mut self,
        ctx: &AppContext,
        msg: &[u8],
        rec_len: usize,
        sink: &mut dyn ProtoSink,
    ) {
        let d = ctx.dir.index();
        match (ctx.dir, msg.first().copied()) {
            (Direction::ToServer, Some(1)) => {
                let ver = match (msg.get(1), msg.get(2)) {
                    (Some(a), Some(b)) => u16::from_be_bytes([*a, *b]),
                    _ => return,
                };
                let is_ssl = ver == 0x0002 || (0x0300..=0x0304).contains(&ver);
                if is_ssl {
                    let Some(h) = parser::parse_sslv2_client_hello(msg) else {
                        return;
                    };
                    self.dirs[d].v2_checked = true;
                    let over = parser::sslv2_client_hello_overflows(&h, rec_len);
                    self.state.client.version = h.version;
                    self.state.client.sslv2 = true;
                    self.state.client.record_versions |= version_bit(0x0002);
                    self.state.ssl_state |= SSL_STATE_CLIENT_HELLO;
                    sink.event(
                        ctx,
                        AppEvent::Tls(TlsEvent::Sslv2ClientHello {
                            version: h.version,
                            cipher_specs_len: h.cipher_specs_len,
                            session_id_len: h.session_id_len,
                            challenge_len: h.challenge_len,
                        }),
                    );
                    for o in over {
                        self.anomaly(ctx, o.event, o.detail, sink);
                    }
                    self.offer_tx(ctx, sink);
                } else {
                    if msg.len() < parser::PCT_CLIENT_HELLO_HDR {
                        return;
                    }
                    // The draft layout needs the longer prefix to be recognised.
                    let need_draft = (1 + 2 + 1 + 32 + 32 + 2 + 10).min(rec_len);
                    if ver == 0x8001
                        && msg.len() < need_draft
                        && msg.len() < rec_len
                        && !self.closing
                    {
                        return;
                    }
                    let Some(h) = parser::parse_pct_client_hello(msg, rec_len) else {
                        return;
                    };
                    self.dirs[d].v2_checked = true;
                    self.state.pct = true;
                    self.state.client.version = h.version;
                    self.state.ssl_state |= SSL_STATE_CLIENT_HELLO;
                    let over = parser::pct_client_hello_overflows(&h, rec_len);
                    sink.event(
                        ctx,
                        AppEvent::Tls(TlsEvent::PctClientHello {
                            version: h.version,
                            challenge_len: h.challenge_len,
                            cipher_specs_len: h.cipher_specs_len,
                            key_specs_len: h.key_len,
                            overflow: !over.is_empty(),
                        }),
                    );
                    for o in over {
                        self.anomaly(ctx, o.event, o.detail, sink);
                    }
                }
            }
            (Direction::ToClient, Some(4)) => {
                let Some(h) = parser::parse_sslv2_server_hello(msg) else {
                    return;
                };
                self.dirs[d].v2_checked = true;
                self.state.server.version = h.version;
                self.state.server.sslv2 = true;
                self.state.server.record_versions |= version_bit(0x0002);
                self.state.ssl_state |= SSL_STATE_SERVER_HELLO;
                sink.event(
                    ctx,
                    AppEvent::Tls(TlsEvent::Sslv2ServerHello { version: h.version }),
                );
                // The certificate follows the header.
                let start = parser::SSLV2_SERVER_HELLO_HDR;
                let end = start + usize::from(h.certificate_len);
                if h.certificate_type == 1
                    && self.state.certs.is_empty()
                    && let Some(der) = msg.get(start..end)
                    && let Some(ci) = parse_cert(der)
                {
                    self.state.certs.push(ci);
                }
                if msg.len() < end && end <= rec_len {
                    // Wait for the certificate.
                    self.dirs[d].v2_checked = false;
                    return;
                }
                self.offer_tx(ctx, sink);
            }
            (Direction::ToClient, Some(2)) => {
                self.dirs[d].v2_checked = true;
                self.state.pct = true;
                self.state.ssl_state |= SSL_STATE_SERVER_HELLO;
                sink.event(ctx, AppEvent::Tls(TlsEvent::PctServerHello));
            }
            (Direction::ToServer, Some(2)) => {
                // SSLv2 CLIENT-MASTER-KEY: the client encrypts from here on.
                self.dirs[d].v2_checked = true;
                self.state.ssl_state |= SSL_STATE_CLIENT_KEYX;
                self.dirs[d].encrypted = true;
            }
            (_, Some(_)) => {
                self.dirs[d].v2_checked = true;
                // Anything after the hellos of an SSLv2 session is encrypted.
                if self.state.client.sslv2 || self.state.server.sslv2 || self.state.pct {
                    self.dirs[d].encrypted = true;
                }
            }
            (_, None) => {}
        }
    }

    fn parse_bytes(&mut self, ctx: &AppContext, mut data: &[u8], sink: &mut dyn ProtoSink) {
        let d = ctx.dir.index();
        while !data.is_empty() && !self.dirs[d].lost {
            // Inside a record.
            if self.dirs[d].rec_left > 0 {
                let n = self.dirs[d].rec_left.min(data.len());
                let (chunk, rest) = data.split_at(n);
                data = rest;
                self.dirs[d].rec_left -= n;
                match self.dirs[d].rec_type {
                    0 => {
                        let ds = &mut self.dirs[d];
                        if !ds.v2_checked && ds.v2.len() < MAX_V2_RECORD {
                            let room = MAX_V2_RECORD - ds.v2.len();
                            ds.v2.extend_from_slice(&chunk[..chunk.len().min(room)]);
                            self.check_v2(ctx, sink);
                        }
                        if self.dirs[d].rec_left == 0 && !self.dirs[d].v2_checked {
                            // Record complete but too short for its header.
                            self.check_v2(ctx, sink);
                            self.dirs[d].v2_checked = true;
                        }
                    }
                    content::HANDSHAKE if !self.dirs[d].encrypted => {
                        self.on_handshake_bytes(ctx, chunk, sink);
                    }
                    _ => {}
                }
                continue;
            }
            // A record header.
            let ds = &mut self.dirs[d];
            let first = if ds.hdr.is_empty() {
                data[0]
            } else {
                ds.hdr[0]
            };
            let v2 = !(20..=24).contains(&first);
            let hlen = if !v2 {
                5
            } else if first & 0x80 != 0 {
                2
            } else {
                3
            };
            let need = hlen - ds.hdr.len().min(hlen);
            let n = need.min(data.len());
            ds.hdr.extend_from_slice(&data[..n]);
            data = &data[n..];
            if ds.hdr.len() < hlen {
                break;
            }
            // The header (at most 5 bytes) is copied out and the buffer kept for
            // the next record: no allocation per record.
            let mut hdr_bytes = [0u8; 5];
            let hdr_len = ds.hdr.len().min(hdr_bytes.len());
            hdr_bytes[..hdr_len].copy_from_slice(&ds.hdr[..hdr_len]);
            ds.hdr.clear();
            let hdr = &hdr_bytes[..hdr_len];
            ds.records += 1;
            if v2 {
                let Some((_, len)) = parser::parse_sslv2_record_header(hdr) else {
                    break;
                };
                // A 3-byte header only makes sense inside an SSLv2 session.
                if first & 0x80 == 0
                    && !(self.state.client.sslv2 || self.state.server.sslv2 || self.state.pct)
                {
                    self.lose(
                        ctx,
                        "INVALID_SSLV2_HEADER",
                        format!("first byte {first:#04x}"),
                        sink,
                    );
                    break;
                }
                let ds = &mut self.dirs[d];
                ds.rec_type = 0;
                ds.rec_left = len;
                ds.v2.clear();
                ds.v2_len = len;
                ds.v2_checked = ds.encrypted;
                if len == 0 {
                    continue;
                }
                continue;
            }
            let Some(h) = parser::parse_tls_record_header(hdr) else {
                break;
            };
            if h.version >> 8 != 3 || h.version & 0xff > 4 {
                self.lose(
                    ctx,
                    "INVALID_RECORD_VERSION",
                    format!("record version {:#06x}", h.version),
                    sink,
                );
                break;
            }
            if usize::from(h.len) > 16384 + 2048 {
                self.lose(
                    ctx,
                    "INVALID_RECORD_LENGTH",
                    format!("record length {}", h.len),
                    sink,
                );
                break;
            }
            let side = if d == 0 {
                &mut self.state.client
            } else {
                &mut self.state.server
            };
            side.record_versions |= version_bit(h.version);
            let ds = &mut self.dirs[d];
            ds.rec_type = h.content_type;
            ds.rec_left = usize::from(h.len);
            match h.content_type {
                content::CCS => {
                    // Records after this one are encrypted.
                    ds.encrypted = true;
                }
                content::APPLICATION => {
                    ds.app_data = true;
                    ds.encrypted = true;
                    if self.state.ssl_state & SSL_STATE_SERVER_HELLO != 0 {
                        self.state.handshake_done = true;
                    }
                }
                _ => {}
            }
        }
    }

    fn lose(
        &mut self,
        ctx: &AppContext,
        ev: &'static str,
        detail: String,
        sink: &mut dyn ProtoSink,
    ) {
        let d = ctx.dir.index();
        self.dirs[d].lost = true;
        self.anomaly(ctx, ev, detail, sink);
        if self.dirs[d].records <= 1 && self.state.ssl_state == 0 {
            self.violation = true;
        }
    }

    fn finished(&self) -> bool {
        let done = |ds: &DirState| ds.encrypted || ds.lost;
        self.state.handshake_done || (done(&self.dirs[0]) && done(&self.dirs[1]))
    }
}

impl StreamParser for TlsParser {
    fn proto(&self) -> AppProto {
        self.proto
    }

    fn parse(
        &mut self,
        ctx: &AppContext,
        data: StreamData<'_>,
        sink: &mut dyn ProtoSink,
    ) -> ParseStatus {
        match data {
            StreamData::Bytes(b) => self.parse_bytes(ctx, b, sink),
            StreamData::Gap(_) => {
                let ds = &mut self.dirs[ctx.dir.index()];
                ds.lost = true;
            }
        }
        if self.violation {
            return ParseStatus::Violation("tls: not a TLS/SSL record");
        }
        if self.finished() {
            self.state.handshake_done = true;
            self.log(ctx, sink);
            return ParseStatus::Done;
        }
        ParseStatus::Ok
    }

    fn close(&mut self, ctx: &AppContext, sink: &mut dyn ProtoSink) {
        self.closing = true;
        // A hello cut short (the flow ended inside the record) is judged on
        // what arrived.
        for dir in [Direction::ToServer, Direction::ToClient] {
            let mut c = *ctx;
            c.dir = dir;
            if self.dirs[dir.index()].rec_type == 0 && self.dirs[dir.index()].rec_left > 0 {
                self.check_v2(&c, sink);
            }
        }
        self.log(ctx, sink);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::VecSink;
    use stormwatch_model::{FlowId, FlowKey, IpProto, Timestamp};

    pub(crate) fn ctx(dir: Direction) -> AppContext {
        AppContext {
            ts: Timestamp::ZERO,
            flow_id: FlowId(1),
            key: FlowKey {
                src: "10.0.0.1".parse().unwrap(),
                dst: "10.0.0.2".parse().unwrap(),
                src_port: 1000,
                dst_port: 443,
                proto: IpProto::TCP,
                vlan: [0, 0],
            },
            dir,
        }
    }

    /// A TLS 1.0 ClientHello without SNI (bug-5713-01).
    pub(crate) const CH_TLS10: &[u8] = &[
        0x16, 0x03, 0x01, 0x00, 0x63, 0x01, 0x00, 0x00, 0x5f, 0x03, 0x01, 0x63, 0x7f, 0x44, 0x6d,
        0xcd, 0x85, 0x12, 0x5f, 0xd9, 0x25, 0x00, 0xd3, 0x84, 0x03, 0xdd, 0x1e, 0xa1, 0x21, 0x5a,
        0xae, 0x7e, 0xcc, 0x05, 0xfd, 0x6e, 0x74, 0x9f, 0xe7, 0xbb, 0x73, 0x10, 0x43, 0x00, 0x00,
        0x0e, 0xc0, 0x0a, 0xc0, 0x09, 0xc0, 0x14, 0xc0, 0x13, 0x00, 0x35, 0x00, 0x2f, 0x00, 0x0a,
        0x01, 0x00, 0x00, 0x28, 0x00, 0x05, 0x00, 0x05, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x0a,
        0x00, 0x08, 0x00, 0x06, 0x00, 0x1d, 0x00, 0x17, 0x00, 0x18, 0x00, 0x0b, 0x00, 0x02, 0x01,
        0x00, 0x00, 0x23, 0x00, 0x00, 0x00, 0x17, 0x00, 0x00, 0xff, 0x01, 0x00, 0x01, 0x00,
    ];

    #[test]
    fn client_hello_only() {
        let mut p = TlsParser::new(&ProtoConfig::default());
        let mut sink = VecSink::default();
        let c = ctx(Direction::ToServer);
        assert_eq!(
            p.parse(&c, StreamData::Bytes(CH_TLS10), &mut sink),
            ParseStatus::Ok
        );
        assert!(sink.anomalies.is_empty(), "{:?}", sink.anomalies);
        assert_eq!(p.state().client.version, 0x0301);
        p.close(&c, &mut sink);
        assert_eq!(sink.records.len(), 1);
        assert_eq!(sink.records[0].body["version"], "TLSv1");
    }
}
