//! Rule text → validated [`Rule`]. Every rejection names the keyword and what
//! was expected; nothing is silently misread.

use crate::config::RulesConfig;
use crate::header::{AddrSet, parse_addrs, parse_ports};
use crate::lexer::{LogicalLine, RawOption, split_options, unescape, unquote};
use crate::rule::*;
use rustc_hash::FxHashMap;
use std::collections::BTreeMap;
use std::sync::Arc;
use stormwatch_model::{
    AppProto, BufferId, Direction, SSL_STATE_CLIENT_HELLO, SSL_STATE_CLIENT_KEYX,
    SSL_STATE_SERVER_HELLO, SSL_STATE_SERVER_KEYX, SSL_STATE_UNKNOWN, SSL_VERSION_SSLV2,
    SSL_VERSION_SSLV3, SSL_VERSION_TLS1_0, SSL_VERSION_TLS1_1, SSL_VERSION_TLS1_2,
    SSL_VERSION_TLS1_3, SignatureInfo, Target, TxField,
};

/// Why a rule was not loaded: a short reason for the summary table and the
/// full message (what was expected).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Reject {
    /// Physical line of the fault.
    pub(crate) line: usize,
    /// Grouping key for the skip-reason table (`unsupported keyword "lua"`).
    pub(crate) reason: String,
    /// Full message.
    pub(crate) detail: String,
}

/// Flowbit name → id, shared by all rules of a set (ids in first-seen order),
/// and the address lists parsed so far.
#[derive(Default, Debug, Clone)]
pub(crate) struct Names {
    pub(crate) flowbits: BTreeMap<String, u32>,
    pub(crate) order: Vec<String>,
    /// Header address text → parsed list (at most [`ADDR_MEMO_MAX`]): most
    /// headers repeat a few lists (`$HOME_NET`, `$EXTERNAL_NET`, …) whose
    /// expansion cost ≈ 10,000 instructions each time.
    addrs: FxHashMap<String, AddrSet>,
}

/// Distinct address lists remembered while loading (more are parsed each time).
const ADDR_MEMO_MAX: usize = 4096;

impl Names {
    /// [`parse_addrs`] of `s`, remembered (the variables do not change
    /// while one rule set loads).
    fn addrs(&mut self, s: &str, vars: &crate::config::Vars) -> Result<AddrSet, String> {
        if let Some(a) = self.addrs.get(s) {
            return Ok(a.clone());
        }
        let a = parse_addrs(s, vars)?;
        if self.addrs.len() < ADDR_MEMO_MAX {
            self.addrs.insert(s.to_string(), a.clone());
        }
        Ok(a)
    }

    fn id(&mut self, name: &str) -> u32 {
        if let Some(&i) = self.flowbits.get(name) {
            return i;
        }
        let i = u32::try_from(self.order.len()).unwrap_or(u32::MAX);
        self.flowbits.insert(name.to_string(), i);
        self.order.push(name.to_string());
        i
    }
}

/// What a successfully parsed rule line yields.
pub(crate) struct Parsed {
    pub(crate) rule: Rule,
    pub(crate) sid: u32,
}

/// Result of parsing one logical line: the rule, or a rejection with the sid
/// when it could be read.
pub(crate) type ParseResult = Result<Parsed, (Option<u32>, Reject)>;

struct Err1 {
    off: usize,
    reason: String,
    detail: String,
}

fn err(off: usize, reason: impl Into<String>, detail: impl Into<String>) -> Err1 {
    Err1 {
        off,
        reason: reason.into(),
        detail: detail.into(),
    }
}

/// Splits the header at blanks, keeping bracketed lists together.
fn header_tokens(h: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut depth = 0i32;
    let mut start: Option<usize> = None;
    for (i, c) in h.char_indices() {
        match c {
            '[' => {
                depth += 1;
                start.get_or_insert(i);
            }
            ']' => {
                depth -= 1;
                start.get_or_insert(i);
            }
            c if c.is_whitespace() && depth <= 0 => {
                if let Some(s) = start.take() {
                    out.push(&h[s..i]);
                }
            }
            _ => {
                start.get_or_insert(i);
            }
        }
    }
    if let Some(s) = start {
        out.push(&h[s..]);
    }
    out
}

/// A cheap look for the sid of a rule that failed to parse, so even header
/// failures report it (looked for only then: searching every rule's text
/// cost ≈ 21 M instructions of loading all ET rules).
fn sid_hint(text: &str) -> Option<u32> {
    let p = text.find("sid:").or_else(|| text.find("sid :"))?;
    let rest = &text[p..];
    let rest = rest.split_once(':').map(|x| x.1).unwrap_or("");
    let num: String = rest
        .trim_start()
        .chars()
        .take_while(|c| c.is_ascii_digit())
        .collect();
    num.parse().ok()
}

/// Parses one logical rule line.
pub(crate) fn parse_rule(
    ll: &LogicalLine<'_>,
    file: u32,
    cfg: &RulesConfig,
    names: &mut Names,
) -> ParseResult {
    let text: &str = &ll.text;
    match parse_inner(text, file, ll.line, cfg, names) {
        Ok(p) => Ok(p),
        Err(e) => Err((
            sid_hint(text),
            Reject {
                line: ll.line_at(e.off),
                reason: e.reason,
                detail: e.detail,
            },
        )),
    }
}

fn parse_inner(
    text: &str,
    file: u32,
    line: usize,
    cfg: &RulesConfig,
    names: &mut Names,
) -> Result<Parsed, Err1> {
    let open = text.find('(').ok_or_else(|| {
        err(
            0,
            "malformed rule",
            "expected `(` starting the rule options after the header",
        )
    })?;
    let close = text.rfind(')').filter(|&c| c > open).ok_or_else(|| {
        err(
            text.len(),
            "malformed rule",
            "expected `)` closing the rule options",
        )
    })?;
    if !text[close + 1..].trim().is_empty() {
        return Err(err(
            close + 1,
            "malformed rule",
            format!(
                "expected nothing after the closing `)`, found {:?}",
                text[close + 1..].trim()
            ),
        ));
    }
    let header = &text[..open];
    let toks = header_tokens(header);
    let first = toks.first().copied().unwrap_or("");
    let action = match first {
        "alert" | "drop" | "reject" | "rejectsrc" | "rejectdst" | "rejectboth" | "sdrop" => {
            Action::Alert
        }
        "pass" => Action::Pass,
        "log" | "activate" | "dynamic" => {
            return Err(err(
                0,
                format!("unsupported action \"{first}\""),
                format!(
                    "action `{first}` is not supported (expected alert, pass, drop, reject or sdrop)"
                ),
            ));
        }
        "" => {
            return Err(err(
                0,
                "malformed rule",
                "expected an action, found nothing",
            ));
        }
        other => {
            return Err(err(
                0,
                "unknown action",
                format!("expected an action (alert, pass, drop, reject, sdrop), found {other:?}"),
            ));
        }
    };
    if toks.len() != 7 {
        return Err(err(
            0,
            "malformed header",
            format!(
                "expected 7 header fields `action proto src_addr src_port -> dst_addr dst_port`, found {}",
                toks.len()
            ),
        ));
    }
    let proto_s = toks[1].to_ascii_lowercase();
    let proto = match proto_s.as_str() {
        "ip" | "pkthdr" => HdrProto::Ip,
        "tcp" => HdrProto::Tcp,
        "udp" => HdrProto::Udp,
        "icmp" => HdrProto::Icmp,
        "tcp-pkt" => HdrProto::TcpPkt,
        "tcp-stream" => HdrProto::TcpStream,
        "http" | "http1" => app(AppProto::Http, true, false),
        "tls" | "ssl" => app(AppProto::Tls, true, false),
        "dns" => app(AppProto::Dns, true, true),
        "ssh" => app(AppProto::Ssh, true, false),
        "ftp" => app(AppProto::Ftp, true, false),
        "ftp-data" => app(AppProto::FtpData, true, false),
        "smtp" => app(AppProto::Smtp, true, false),
        "tftp" => app(AppProto::Tftp, false, true),
        "irc" => app(AppProto::Irc, true, false),
        "pop3" => app(AppProto::Pop3, true, false),
        "imap" => app(AppProto::Imap, true, false),
        other => {
            return Err(err(
                header.find(toks[1]).unwrap_or(0),
                format!("unsupported protocol \"{other}\""),
                format!(
                    "expected a protocol (ip, tcp, udp, icmp, tcp-pkt, tcp-stream, http, tls, dns, ssh, ftp, smtp, tftp, irc, pop3, imap), found {other:?}"
                ),
            ));
        }
    };
    let hoff = |t: &str| header.find(t).unwrap_or(0);
    let src = names
        .addrs(toks[2], &cfg.vars)
        .map_err(|e| addr_err(hoff(toks[2]), "source address", e))?;
    let sp =
        parse_ports(toks[3], &cfg.vars).map_err(|e| addr_err(hoff(toks[3]), "source port", e))?;
    let bidir = match toks[4] {
        "->" => false,
        "<>" => true,
        other => {
            return Err(err(
                hoff(toks[4]),
                "malformed header",
                format!("expected direction `->` or `<>`, found {other:?}"),
            ));
        }
    };
    let dst = names
        .addrs(toks[5], &cfg.vars)
        .map_err(|e| addr_err(hoff(toks[5]), "destination address", e))?;
    let dp = parse_ports(toks[6], &cfg.vars)
        .map_err(|e| addr_err(hoff(toks[6]), "destination port", e))?;

    let body = &text[open + 1..close];
    let opts = split_options(body).map_err(|(o, m)| err(open + 1 + o, "malformed options", m))?;
    let mut b = Builder::new(cfg, names, open + 1);
    for o in &opts {
        b.option(o)?;
    }
    b.finish(action, proto, src, sp, dst, dp, bidir, file, line)
}

fn app(a: AppProto, tcp: bool, udp: bool) -> HdrProto {
    HdrProto::App { app: a, tcp, udp }
}

fn addr_err(off: usize, what: &str, e: String) -> Err1 {
    let reason = if e.starts_with("undefined") {
        e.clone()
    } else {
        format!("bad {what}")
    };
    err(off, reason, format!("{what}: {e}"))
}

/// Where a buffer keyword sends the following (sticky) or previous (modifier)
/// content.
fn buffer_by_name(name: &str) -> Option<(BufferId, bool)> {
    use BufferId::*;
    // (buffer, is_sticky)
    Some(match name {
        "http_uri" => (HttpUri, false),
        "http_raw_uri" => (HttpRawUri, false),
        "http_method" => (HttpMethod, false),
        "http_header" => (HttpHeader, false),
        "http_raw_header" => (HttpRawHeader, false),
        "http_cookie" | "http_raw_cookie" => (HttpCookie, false),
        "http_client_body" => (HttpRequestBody, false),
        "http_server_body" => (HttpResponseBody, false),
        "http_stat_code" => (HttpStatCode, false),
        "http_stat_msg" => (HttpStatMsg, false),
        "http_user_agent" => (HttpUserAgent, false),
        "http_host" => (HttpHost, false),
        "http_raw_host" => (HttpRawHost, false),
        "http.uri" | "http.uri.normalized" | "http.url" => (HttpUri, true),
        "http.uri.raw" => (HttpRawUri, true),
        "http.method" => (HttpMethod, true),
        "http.protocol" | "http_protocol" => (HttpProtocol, true),
        "http.request_line" | "http_request_line" => (HttpRequestLine, true),
        "http.response_line" | "http_response_line" => (HttpResponseLine, true),
        "http.start" | "http_start" => (HttpStart, true),
        "http.host" => (HttpHost, true),
        "http.host.raw" => (HttpRawHost, true),
        "http.header" => (HttpHeader, true),
        "http.header.raw" => (HttpRawHeader, true),
        "http.header_names" | "http_header_names" => (HttpHeaderNames, true),
        "http.user_agent" => (HttpUserAgent, true),
        "http.cookie" => (HttpCookie, true),
        "http.referer" | "http_referer" => (HttpReferer, true),
        "http.content_type" | "http_content_type" => (HttpContentType, true),
        "http.content_len" | "http_content_len" => (HttpContentLen, true),
        "http.accept" | "http_accept" => (HttpAccept, true),
        "http.accept_enc" | "http_accept_enc" => (HttpAcceptEnc, true),
        "http.accept_lang" | "http_accept_lang" => (HttpAcceptLang, true),
        "http.connection" | "http_connection" => (HttpConnection, true),
        "http.location" => (HttpLocation, true),
        "http.server" => (HttpServer, true),
        "http.stat_code" => (HttpStatCode, true),
        "http.stat_msg" => (HttpStatMsg, true),
        "http.request_body" | "http.client_body" => (HttpRequestBody, true),
        "http.response_body" | "http.server_body" => (HttpResponseBody, true),
        "file_data" | "file.data" => (FileData, true),
        "tls.sni" | "tls_sni" => (TlsSni, true),
        "tls.cert_subject" | "tls_cert_subject" => (TlsCertSubject, true),
        "tls.cert_issuer" | "tls_cert_issuer" => (TlsCertIssuer, true),
        "tls.cert_serial" | "tls_cert_serial" => (TlsCertSerial, true),
        "tls.cert_fingerprint" | "tls_cert_fingerprint" => (TlsCertFingerprint, true),
        "dns.query" | "dns_query" => (DnsQuery, true),
        "ssh.proto" | "ssh_proto" => (SshProto, true),
        "ssh.software" | "ssh_software" => (SshSoftware, true),
        "ftp.command" => (FtpCommand, true),
        "smtp.helo" => (SmtpHelo, true),
        "smtp.mail_from" => (SmtpMailFrom, true),
        "smtp.rcpt_to" => (SmtpRcptTo, true),
        _ => return None,
    })
}

/// The application protocol whose transactions carry a buffer.
pub(crate) fn buffer_proto(b: BufferId) -> AppProto {
    use BufferId::*;
    match b {
        TlsSni | TlsCertSubject | TlsCertIssuer | TlsCertSerial | TlsCertFingerprint
        | TlsVersion => AppProto::Tls,
        DnsQuery => AppProto::Dns,
        SshProto | SshSoftware => AppProto::Ssh,
        IrcCommand | IrcParams | IrcNick | IrcChannel => AppProto::Irc,
        FtpCommand => AppProto::Ftp,
        SmtpHelo | SmtpMailFrom | SmtpRcptTo => AppProto::Smtp,
        _ => AppProto::Http,
    }
}

fn field_proto(f: TxField) -> AppProto {
    match f {
        TxField::DnsOpcode | TxField::DnsRcode | TxField::DnsRrtype => AppProto::Dns,
        TxField::TlsVersion | TxField::SslState | TxField::SslVersions => AppProto::Tls,
        TxField::HttpStatCode | TxField::HttpContentLen => AppProto::Http,
    }
}

/// Keywords we recognise as existing but do not implement; the rule is
/// skipped with the keyword named.
const KNOWN_UNSUPPORTED: &[&str] = &[
    "dce_iface",
    "dce_opnum",
    "dce_stub_data",
    "sip_method",
    "sip_stat_code",
    "sip_header",
    "sip_body",
    "ftpbounce",
    "stream_size",
    "stream_reassemble",
    "flowint",
    "xbits",
    "hostbits",
    "lua",
    "luajit",
    "dataset",
    "datarep",
    "iprep",
    "filemd5",
    "filesha1",
    "filesha256",
    "filestore",
    "filemagic",
    "filename",
    "fileext",
    "filesize",
    "replace",
    "activates",
    "activated_by",
    "resp",
    "react",
    "session",
    "logto",
    "cvs",
    "ssl_state_",
    "http_encode",
    "pkt_data_",
    "byte_math_",
    "ja3.hash",
    "ja3_hash",
    "ja3s.hash",
    "ja4.hash",
    "rpc",
    "icmp_id_",
    "gtp_",
    "modbus",
    "dnp3_func",
    "dnp3_ind",
    "dnp3_obj",
    "dnp3_data",
    "enip_command",
    "cip_service",
    "sd_pattern",
    "protected_content",
    "hash",
    "length",
    "file_type",
    "appid",
    "uricontent_",
    "flowvar",
    "pktvar",
    "prefilter",
    "transform",
    "to_lowercase",
    "to_uppercase",
    "to_md5",
    "to_sha1",
    "to_sha256",
    "strip_whitespace",
    "compress_whitespace",
    "url_decode",
    "xor",
    "pcrexform",
    "dotprefix",
    "header_lowercase",
    "strip_pseudo_headers",
    "tcp.mss",
    "tcp.hdr",
    "ipv4.hdr",
    "ipv6.hdr",
    "icmpv6.hdr",
    "udp.hdr",
    "stream_size",
];

struct Builder<'a> {
    cfg: &'a RulesConfig,
    names: &'a mut Names,
    base: usize,
    off: usize,
    lists: Vec<(ListId, Vec<Op>)>,
    cur: ListId,
    last_content: Option<(ListId, usize)>,
    /// Last content or pcre (what relative keywords refer to).
    last_pm: Option<(ListId, usize)>,
    vars: Vec<String>,
    sid: Option<u32>,
    gid: u32,
    rev: u32,
    msg: String,
    classtype: Option<String>,
    priority: Option<u8>,
    refs: Vec<String>,
    metadata: Vec<(String, Vec<String>)>,
    target: Option<Target>,
    flow: FlowOpts,
    pkt: Vec<PktCheck>,
    tx: Vec<TxCheck>,
    flowbits: Vec<Flowbit>,
    alp: Vec<AlpCheck>,
    threshold: Option<Threshold>,
    noalert: bool,
    inert: Vec<&'static str>,
    /// Contents that took a sticky-buffer modifier already (double modifiers).
    moved: Vec<(ListId, usize)>,
}

impl<'a> Builder<'a> {
    fn new(cfg: &'a RulesConfig, names: &'a mut Names, base: usize) -> Self {
        Builder {
            cfg,
            names,
            base,
            off: base,
            lists: vec![(ListId::Payload, Vec::new())],
            cur: ListId::Payload,
            last_content: None,
            last_pm: None,
            vars: Vec::new(),
            sid: None,
            gid: 1,
            rev: 0,
            msg: String::new(),
            classtype: None,
            priority: None,
            refs: Vec::new(),
            metadata: Vec::new(),
            target: None,
            flow: FlowOpts::default(),
            pkt: Vec::new(),
            tx: Vec::new(),
            flowbits: Vec::new(),
            alp: Vec::new(),
            threshold: None,
            noalert: false,
            inert: Vec::new(),
            moved: Vec::new(),
        }
    }

    fn e(&self, reason: impl Into<String>, detail: impl Into<String>) -> Err1 {
        err(self.off, reason, detail)
    }

    fn bad(&self, kw: &str, expected: impl std::fmt::Display) -> Err1 {
        self.e(format!("bad {kw}"), format!("{kw}: {expected}"))
    }

    fn list_mut(&mut self, id: ListId) -> &mut Vec<Op> {
        if let Some(i) = self.lists.iter().position(|l| l.0 == id) {
            return &mut self.lists[i].1;
        }
        self.lists.push((id, Vec::new()));
        let n = self.lists.len() - 1;
        &mut self.lists[n].1
    }

    fn op_mut(&mut self, at: (ListId, usize)) -> Option<&mut Op> {
        self.lists
            .iter_mut()
            .find(|l| l.0 == at.0)
            .and_then(|l| l.1.get_mut(at.1))
    }

    fn push_op(&mut self, list: ListId, op: Op) -> (ListId, usize) {
        let l = self.list_mut(list);
        l.push(op);
        (list, l.len() - 1)
    }

    fn last_content_mut(&mut self, kw: &str) -> Result<&mut Content, Err1> {
        let Some(at) = self.last_content else {
            return Err(self.e(
                format!("{kw} without content"),
                format!("{kw}: expected a preceding `content`"),
            ));
        };
        let off = self.off;
        match self.op_mut(at) {
            Some(Op::Content(c)) => Ok(c),
            _ => Err(err(
                off,
                format!("{kw} without content"),
                format!("{kw}: expected a preceding `content`"),
            )),
        }
    }

    fn value<'v>(&self, kw: &str, v: Option<&'v str>) -> Result<&'v str, Err1> {
        match v {
            Some(s) if !s.is_empty() => Ok(s),
            _ => Err(self.bad(kw, "expected a value after `:`")),
        }
    }

    fn no_value(&self, kw: &str, v: Option<&str>) -> Result<(), Err1> {
        match v {
            None => Ok(()),
            Some("") => Ok(()),
            Some(s) => Err(self.bad(kw, format!("expected no value, found {s:?}"))),
        }
    }

    fn num_or_var(&self, kw: &str, s: &str) -> Result<Num, Err1> {
        let s = s.trim();
        if let Some(v) = parse_int(s) {
            return Ok(Num::Lit(v));
        }
        if let Some(i) = self.vars.iter().position(|n| n == s) {
            return Ok(Num::Var(i));
        }
        Err(self.bad(
            kw,
            format!("expected a number or a byte_extract variable, found {s:?}"),
        ))
    }

    fn option(&mut self, o: &RawOption<'_>) -> Result<(), Err1> {
        self.off = self.base + o.offset;
        // Keywords are nearly always lower case already: no copy then.
        let kw_owned: std::borrow::Cow<'_, str> = if o.name.bytes().any(|b| b.is_ascii_uppercase())
        {
            o.name.to_ascii_lowercase().into()
        } else {
            o.name.into()
        };
        let kw = &*kw_owned;
        let v = o.value;
        match kw {
            "msg" => self.msg = unescape(unquote(self.value(kw, v)?)),
            "sid" => {
                let s = self.value(kw, v)?;
                let n = s
                    .trim()
                    .parse::<u32>()
                    .ok()
                    .filter(|&n| n > 0)
                    .ok_or_else(|| {
                        self.bad(kw, format!("expected a positive integer, found {s:?}"))
                    })?;
                self.sid = Some(n);
            }
            "rev" => {
                let s = self.value(kw, v)?;
                self.rev = s
                    .trim()
                    .parse()
                    .map_err(|_| self.bad(kw, format!("expected an integer, found {s:?}")))?;
            }
            "gid" => {
                let s = self.value(kw, v)?;
                self.gid = s
                    .trim()
                    .parse()
                    .map_err(|_| self.bad(kw, format!("expected an integer, found {s:?}")))?;
            }
            "classtype" => {
                let s = self.value(kw, v)?.trim();
                if self.cfg.classification.get(s).is_none() {
                    return Err(self.e(
                        format!("unknown classtype \"{s}\""),
                        format!("classtype: {s:?} is not in the classification table"),
                    ));
                }
                self.classtype = Some(s.to_string());
            }
            "priority" => {
                let s = self.value(kw, v)?;
                let p = s
                    .trim()
                    .parse::<u8>()
                    .ok()
                    .filter(|p| *p >= 1)
                    .ok_or_else(|| {
                        self.bad(kw, format!("expected an integer 1-255, found {s:?}"))
                    })?;
                self.priority = Some(p);
            }
            "reference" => {
                let s = self.value(kw, v)?;
                if !s.contains(',') {
                    return Err(self.bad(kw, format!("expected `type,value`, found {s:?}")));
                }
                let (t, val) = s.split_once(',').unwrap_or((s, ""));
                self.refs.push(format!("{},{}", t.trim(), val.trim()));
            }
            "metadata" => {
                let s = self.value(kw, v)?;
                for item in s.split(',') {
                    let item = item.trim();
                    if item.is_empty() {
                        continue;
                    }
                    let (k, val) = match item.split_once(char::is_whitespace) {
                        Some((k, val)) => (k.trim(), val.trim()),
                        None => (item, ""),
                    };
                    if let Some(e) = self.metadata.iter_mut().find(|e| e.0 == k) {
                        e.1.push(val.to_string());
                    } else {
                        self.metadata.push((k.to_string(), vec![val.to_string()]));
                    }
                }
            }
            "target" => {
                let s = self.value(kw, v)?.trim();
                self.target = Some(match s {
                    "src_ip" => Target::SrcIp,
                    "dest_ip" => Target::DestIp,
                    _ => {
                        return Err(
                            self.bad(kw, format!("expected src_ip or dest_ip, found {s:?}"))
                        );
                    }
                });
            }
            "tag" => self.inert.push("tag"),
            "noalert" => {
                self.no_value(kw, v)?;
                self.noalert = true;
            }
            "content" | "uricontent" => self.content(kw, v)?,
            "nocase" => {
                self.no_value(kw, v)?;
                let c = self.last_content_mut(kw)?;
                c.nocase = true;
            }
            "rawbytes" => {
                self.no_value(kw, v)?;
                // Payload is always raw here; accepted as a no-op on contents.
                self.last_content_mut(kw)?;
            }
            "depth" | "offset" | "distance" | "within" => self.position_mod(kw, v)?,
            "startswith" => {
                self.no_value(kw, v)?;
                let c = self.last_content_mut(kw)?;
                if c.offset.is_some() || c.depth.is_some() || c.is_relative() {
                    return Err(self.e(
                        "startswith with position modifiers",
                        "startswith: expected no depth/offset/distance/within on the same content",
                    ));
                }
                c.startswith = true;
            }
            "endswith" => {
                self.no_value(kw, v)?;
                let c = self.last_content_mut(kw)?;
                if c.negated {
                    return Err(self.e(
                        "endswith on negated content",
                        "endswith: expected a non-negated content",
                    ));
                }
                c.endswith = true;
            }
            "fast_pattern" => self.fast_pattern(v)?,
            "pcre" => self.pcre(v)?,
            "byte_test" => self.byte_test(v)?,
            "byte_jump" => self.byte_jump(v)?,
            "byte_extract" => self.byte_extract(v)?,
            "byte_math" => self.byte_math(v)?,
            "isdataat" => self.isdataat(v)?,
            "bsize" => {
                let c = parse_cmp(self.value(kw, v)?, true).map_err(|m| self.bad(kw, m))?;
                let l = self.cur;
                if l == ListId::Payload {
                    return Err(self.e(
                        "bsize without sticky buffer",
                        "bsize: expected a preceding sticky buffer (e.g. http.uri)",
                    ));
                }
                self.push_op(l, Op::Len(c));
            }
            "urilen" => {
                let s = self.value(kw, v)?;
                let (s, raw) = match s.split_once(',') {
                    Some((a, b)) => match b.trim() {
                        "raw" => (a, true),
                        "norm" => (a, false),
                        o => {
                            return Err(self.bad(
                                kw,
                                format!("expected `raw` or `norm` after `,`, found {o:?}"),
                            ));
                        }
                    },
                    None => (s, false),
                };
                let c = parse_cmp(s, true).map_err(|m| self.bad(kw, m))?;
                let b = if raw {
                    BufferId::HttpRawUri
                } else {
                    BufferId::HttpUri
                };
                self.list_mut(ListId::Buffer(b)).insert(0, Op::Len(c));
                // Indices of earlier ops in that list moved by one.
                for at in [&mut self.last_content, &mut self.last_pm]
                    .into_iter()
                    .flatten()
                {
                    if at.0 == ListId::Buffer(b) {
                        at.1 += 1;
                    }
                }
            }
            "dsize" => {
                let c = parse_cmp(self.value(kw, v)?, true).map_err(|m| self.bad(kw, m))?;
                self.pkt.push(PktCheck::Dsize(c));
            }
            "pkt_data" => {
                self.no_value(kw, v)?;
                self.cur = ListId::Payload;
            }
            "base64_decode" => self.base64_decode(v)?,
            "base64_data" => {
                self.no_value(kw, v)?;
                let l = self.cur;
                let has_decode = self
                    .lists
                    .iter()
                    .find(|x| x.0 == l)
                    .is_some_and(|x| x.1.iter().any(|o| matches!(o, Op::Base64Decode { .. })));
                if !has_decode {
                    return Err(self.e(
                        "base64_data without base64_decode",
                        "base64_data: expected a preceding base64_decode in the same buffer",
                    ));
                }
                self.push_op(l, Op::Base64Data);
                self.last_pm = None;
                self.last_content = None;
            }
            "asn1" => self.asn1(v)?,
            "flow" => self.flow_kw(v)?,
            "flowbits" => self.flowbits_kw(v)?,
            "app-layer-protocol" => self.alp_kw(v)?,
            "flags" | "tcp.flags" => {
                let (m, f, ign) = parse_flags(self.value(kw, v)?).map_err(|m| self.bad(kw, m))?;
                self.pkt.push(PktCheck::Flags(m, f, ign));
            }
            "ttl" => {
                let c = parse_cmp(self.value(kw, v)?, false).map_err(|m| self.bad(kw, m))?;
                self.pkt.push(PktCheck::Ttl(c));
            }
            "tos" => {
                let s = self.value(kw, v)?.trim();
                let (neg, s) = match s.strip_prefix('!') {
                    Some(r) => (true, r),
                    None => (false, s),
                };
                let n = parse_int(s)
                    .and_then(|n| u8::try_from(n).ok())
                    .ok_or_else(|| self.bad(kw, format!("expected a number 0-255, found {s:?}")))?;
                self.pkt.push(PktCheck::Tos(neg, n));
            }
            "id" => {
                let s = self.value(kw, v)?.trim();
                let n = parse_int(s)
                    .and_then(|n| u16::try_from(n).ok())
                    .ok_or_else(|| {
                        self.bad(kw, format!("expected a number 0-65535, found {s:?}"))
                    })?;
                self.pkt.push(PktCheck::IpId(n));
            }
            "ip_proto" => {
                let s = self.value(kw, v)?.trim();
                let c = parse_ip_proto(s).map_err(|m| self.bad(kw, m))?;
                self.pkt.push(PktCheck::IpProto(c));
            }
            "itype" | "icode" => {
                let c = parse_cmp(self.value(kw, v)?, true).map_err(|m| self.bad(kw, m))?;
                self.pkt.push(if kw == "itype" {
                    PktCheck::Itype(c)
                } else {
                    PktCheck::Icode(c)
                });
            }
            "icmp_id" | "icmp_seq" => {
                let s = self.value(kw, v)?.trim();
                let n = parse_int(s)
                    .and_then(|n| u16::try_from(n).ok())
                    .ok_or_else(|| {
                        self.bad(kw, format!("expected a number 0-65535, found {s:?}"))
                    })?;
                self.pkt.push(if kw == "icmp_id" {
                    PktCheck::IcmpId(n)
                } else {
                    PktCheck::IcmpSeq(n)
                });
            }
            "seq" | "ack" => {
                let s = self.value(kw, v)?.trim();
                let n = parse_int(s)
                    .and_then(|n| u32::try_from(n).ok())
                    .ok_or_else(|| {
                        self.bad(kw, format!("expected a number 0-4294967295, found {s:?}"))
                    })?;
                self.pkt.push(if kw == "seq" {
                    PktCheck::Seq(n)
                } else {
                    PktCheck::Ack(n)
                });
            }
            "window" => {
                let s = self.value(kw, v)?.trim();
                let (neg, s) = match s.strip_prefix('!') {
                    Some(r) => (true, r),
                    None => (false, s),
                };
                let n = parse_int(s)
                    .and_then(|n| u16::try_from(n).ok())
                    .ok_or_else(|| {
                        self.bad(kw, format!("expected a number 0-65535, found {s:?}"))
                    })?;
                self.pkt.push(PktCheck::Window(neg, n));
            }
            "ipopts" => {
                let s = self.value(kw, v)?.trim().to_ascii_lowercase();
                let t = match s.as_str() {
                    "eol" => Some(0),
                    "nop" => Some(1),
                    "rr" => Some(7),
                    "ts" => Some(68),
                    "sec" => Some(130),
                    "esec" => Some(133),
                    "lsrr" | "lsrre" => Some(131),
                    "ssrr" => Some(137),
                    "satid" => Some(136),
                    "any" => None,
                    _ => {
                        return Err(self.bad(
                            kw,
                            format!("expected rr, eol, nop, ts, sec, esec, lsrr, ssrr, satid or any, found {s:?}"),
                        ));
                    }
                };
                self.pkt.push(PktCheck::Ipopts(t));
            }
            "fragbits" => {
                let (m, bits) = parse_fragbits(self.value(kw, v)?).map_err(|m| self.bad(kw, m))?;
                self.pkt.push(PktCheck::Fragbits(m, bits));
            }
            "fragoffset" => {
                let c = parse_cmp(self.value(kw, v)?, false).map_err(|m| self.bad(kw, m))?;
                self.pkt.push(PktCheck::Fragoffset(c));
            }
            "sameip" => {
                self.no_value(kw, v)?;
                self.pkt.push(PktCheck::SameIp);
            }
            "threshold" | "detection_filter" => self.threshold_kw(kw, v)?,
            "ssl_state" => self.ssl_state(v)?,
            "ssl_version" => self.ssl_version(v)?,
            "tls.version" | "tls_version" => {
                let s = self.value(kw, v)?.trim();
                let n = match s {
                    "1.0" => 0x0301,
                    "1.1" => 0x0302,
                    "1.2" => 0x0303,
                    "1.3" => 0x0304,
                    "3.0" | "ssl3" => 0x0300,
                    _ => parse_int(s)
                        .and_then(|n| u64::try_from(n).ok())
                        .ok_or_else(|| {
                            self.bad(
                                kw,
                                format!("expected 1.0, 1.1, 1.2, 1.3 or a number, found {s:?}"),
                            )
                        })? as i64,
                };
                self.tx
                    .push(TxCheck::Field(TxField::TlsVersion, Cmp::Eq(n as u64)));
            }
            "dns.opcode" | "dns.rcode" | "dns.rrtype" => self.dns_field(kw, v)?,
            "tls.subject"
            | "tls.issuerdn"
            | "tls.fingerprint"
            | "ssh.protoversion"
            | "ssh.softwareversion" => self.legacy_string(kw, v)?,
            _ => {
                if let Some((buf, sticky)) = buffer_by_name(kw) {
                    if sticky {
                        if kw != "file_data" && kw != "file.data" {
                            self.no_value(kw, v)?;
                        }
                        self.cur = ListId::Buffer(buf);
                        self.list_mut(ListId::Buffer(buf));
                        self.last_content = None;
                        self.last_pm = None;
                    } else {
                        self.no_value(kw, v)?;
                        self.modifier(kw, buf)?;
                    }
                } else {
                    let name = kw.to_string();
                    let known = KNOWN_UNSUPPORTED.contains(&kw)
                        || kw.starts_with("dce_")
                        || kw.starts_with("sip_")
                        || kw.starts_with("dnp3")
                        || kw.starts_with("modbus")
                        || kw.starts_with("krb5")
                        || kw.starts_with("smb")
                        || kw.starts_with("file.");
                    let detail = if known {
                        format!("keyword {name:?} is not supported by stormwatch")
                    } else {
                        format!("unknown keyword {name:?}")
                    };
                    return Err(self.e(format!("unsupported keyword \"{name}\""), detail));
                }
            }
        }
        Ok(())
    }

    fn content(&mut self, kw: &str, v: Option<&str>) -> Result<(), Err1> {
        let s = self.value(kw, v)?.trim();
        let (neg, s) = match s.strip_prefix('!') {
            Some(r) => (true, r.trim_start()),
            None => (false, s),
        };
        let pat = parse_content(s).map_err(|m| self.bad(kw, m))?;
        let c = Content::new(pat, neg);
        let list = if kw == "uricontent" {
            ListId::Buffer(BufferId::HttpUri)
        } else {
            self.cur
        };
        let at = self.push_op(list, Op::Content(Box::new(c)));
        self.last_content = Some(at);
        self.last_pm = Some(at);
        Ok(())
    }

    /// Legacy content modifier: move the last content to a buffer's list.
    fn modifier(&mut self, kw: &str, buf: BufferId) -> Result<(), Err1> {
        let Some(at) = self.last_content else {
            return Err(self.e(
                format!("{kw} without content"),
                format!("{kw}: expected a preceding `content`"),
            ));
        };
        if self.moved.contains(&at) || at.0 != ListId::Payload {
            if at.0 == ListId::Buffer(buf) {
                return Ok(());
            }
            return Err(self.e(
                "content with two buffers",
                format!("{kw}: the preceding content is already bound to another buffer"),
            ));
        }
        let Some(l) = self.lists.iter_mut().find(|l| l.0 == at.0) else {
            return Err(self.e("internal", "content list missing"));
        };
        if at.1 >= l.1.len() {
            return Err(self.e("internal", "content index missing"));
        }
        let op = l.1.remove(at.1);
        // Fix indices that pointed after the removed op.
        if let Some(pm) = self.last_pm.as_mut()
            && pm.0 == at.0
            && pm.1 > at.1
        {
            pm.1 -= 1;
        }
        let new_at = self.push_op(ListId::Buffer(buf), op);
        if self.last_pm == Some(at) {
            self.last_pm = Some(new_at);
        }
        self.last_content = Some(new_at);
        self.moved.push(new_at);
        Ok(())
    }

    fn position_mod(&mut self, kw: &str, v: Option<&str>) -> Result<(), Err1> {
        let s = self.value(kw, v)?;
        let n = self.num_or_var(kw, s)?;
        let off = self.off;
        let c = self.last_content_mut(kw)?;
        let dup = match kw {
            "depth" => c.depth.replace(n).is_some(),
            "offset" => c.offset.replace(n).is_some(),
            "distance" => c.distance.replace(n).is_some(),
            _ => c.within.replace(n).is_some(),
        };
        let plen = i64::try_from(c.pat.len()).unwrap_or(i64::MAX);
        let absolute = c.depth.is_some() || c.offset.is_some();
        let relative = c.is_relative();
        let starts = c.startswith;
        if dup {
            return Err(err(
                off,
                format!("duplicate {kw}"),
                format!("{kw}: expected one {kw} per content"),
            ));
        }
        if starts {
            return Err(err(
                off,
                "startswith with position modifiers",
                format!("{kw}: cannot be combined with startswith"),
            ));
        }
        if absolute && relative {
            return Err(err(
                off,
                "depth/offset mixed with distance/within",
                format!(
                    "{kw}: expected either depth/offset or distance/within on one content, not both"
                ),
            ));
        }
        match (kw, n) {
            ("depth", Num::Lit(d)) if d < plen => Err(err(
                off,
                "depth smaller than content",
                format!("depth: {d} is smaller than the content length {plen}"),
            )),
            ("within", Num::Lit(w)) if w < plen => Err(err(
                off,
                "within smaller than content",
                format!("within: {w} is smaller than the content length {plen}"),
            )),
            ("depth" | "offset", Num::Lit(x)) if x < 0 => Err(err(
                off,
                format!("negative {kw}"),
                format!("{kw}: expected a non-negative number, found {x}"),
            )),
            _ => Ok(()),
        }
    }

    fn fast_pattern(&mut self, v: Option<&str>) -> Result<(), Err1> {
        let kw = "fast_pattern";
        let off = self.off;
        let fp = match v.map(str::trim) {
            None | Some("") => FastPat::Yes,
            Some("only") => FastPat::Only,
            Some(s) => {
                let (a, b) = s.split_once(',').ok_or_else(|| {
                    self.bad(
                        kw,
                        format!("expected `only` or `offset,length`, found {s:?}"),
                    )
                })?;
                let a = a.trim().parse::<u16>();
                let b = b.trim().parse::<u16>();
                match (a, b) {
                    (Ok(a), Ok(b)) if b > 0 => FastPat::Chop(a, b),
                    _ => {
                        return Err(
                            self.bad(kw, format!("expected `offset,length` numbers, found {s:?}"))
                        );
                    }
                }
            }
        };
        let c = self.last_content_mut(kw)?;
        if c.negated && fp != FastPat::Yes {
            return Err(err(
                off,
                "fast_pattern on negated content",
                "fast_pattern: `only` and chop need a non-negated content",
            ));
        }
        if let FastPat::Chop(a, b) = fp
            && usize::from(a) + usize::from(b) > c.pat.len()
        {
            return Err(err(
                off,
                "fast_pattern chop beyond content",
                format!(
                    "fast_pattern: offset {a} + length {b} exceeds the content length {}",
                    c.pat.len()
                ),
            ));
        }
        c.fast = fp;
        Ok(())
    }

    fn pcre(&mut self, v: Option<&str>) -> Result<(), Err1> {
        let kw = "pcre";
        let s = self.value(kw, v)?.trim();
        let (neg, s) = match s.strip_prefix('!') {
            Some(r) => (true, r.trim_start()),
            None => (false, s),
        };
        let body = unquote(s);
        if !(s.starts_with('"') && s.ends_with('"') && s.len() >= 2) {
            return Err(self.bad(kw, "expected a quoted \"/pattern/flags\""));
        }
        // `/re/flags`, or Perl's `m<delim>re<delim>flags`.
        let (body, delim) = if let Some(r) = body.strip_prefix('/') {
            (r, '/')
        } else if let Some(r) = body.strip_prefix('m') {
            let d = r
                .chars()
                .next()
                .filter(|c| !c.is_alphanumeric() && !c.is_whitespace())
                .ok_or_else(|| self.bad(kw, "expected a delimiter after `m`"))?;
            (&r[d.len_utf8()..], d)
        } else {
            return Err(self.bad(
                kw,
                "expected the pattern to start with `/` (or `m` and a delimiter)",
            ));
        };
        let end = body.rfind(delim).ok_or_else(|| {
            self.bad(
                kw,
                format!("expected a closing `{delim}` after the pattern"),
            )
        })?;
        let pattern = &body[..end];
        let flags = &body[end + 1..];
        let mut pf = PcreFlags::default();
        let mut relative = false;
        let mut anchored = false;
        let mut ungreedy = false;
        let mut buffer: Option<BufferId> = None;
        for f in flags.chars() {
            let nb = match f {
                'i' => {
                    pf.caseless = true;
                    None
                }
                's' => {
                    pf.dotall = true;
                    None
                }
                'm' => {
                    pf.multi_line = true;
                    None
                }
                'x' => {
                    pf.extended = true;
                    None
                }
                'A' => {
                    anchored = true;
                    None
                }
                'E' | 'B' | 'O' => None,
                'G' => {
                    ungreedy = true;
                    None
                }
                'R' => {
                    relative = true;
                    None
                }
                'U' => Some(BufferId::HttpUri),
                'I' => Some(BufferId::HttpRawUri),
                'P' => Some(BufferId::HttpRequestBody),
                'Q' => Some(BufferId::HttpResponseBody),
                'H' => Some(BufferId::HttpHeader),
                'D' => Some(BufferId::HttpRawHeader),
                'M' => Some(BufferId::HttpMethod),
                'C' | 'K' => Some(BufferId::HttpCookie),
                'S' => Some(BufferId::HttpStatCode),
                'Y' => Some(BufferId::HttpStatMsg),
                'V' => Some(BufferId::HttpUserAgent),
                'W' => Some(BufferId::HttpHost),
                'Z' => Some(BufferId::HttpRawHost),
                other => {
                    return Err(self.e(
                        format!("unsupported pcre flag \"{other}\""),
                        format!("pcre: unknown flag {other:?} (expected one of ismxAEGRUIPQHDMCKSYVWZBO)"),
                    ));
                }
            };
            if let Some(nb) = nb {
                if buffer.is_some_and(|x| x != nb) {
                    return Err(self.bad(kw, "expected at most one buffer flag"));
                }
                buffer = Some(nb);
            }
        }
        let limit = self.cfg.limits.pcre_match_limit;
        let prefix = format!(
            "(*LIMIT_MATCH={limit}){}",
            if ungreedy { "(?U)" } else { "" }
        );
        let full = format!("{prefix}{pattern}");
        let re = pf.builder(false).build(&full).map_err(|e| {
            let at = e
                .offset()
                .map(|o| format!(" at pattern offset {}", o.saturating_sub(prefix.len())))
                .unwrap_or_default();
            let text = e.to_string();
            let msg = text.rsplit_once(": ").map_or(text.as_str(), |x| x.1);
            self.e(
                "pcre does not compile",
                format!("pcre: expected a valid PCRE pattern: {msg}{at}"),
            )
        })?;
        let op = Op::Pcre(Box::new(Pcre {
            re,
            jit: std::sync::OnceLock::new(),
            source: full,
            flags: pf,
            relative,
            negated: neg,
            anchored,
        }));
        let list = match buffer {
            Some(bf) => ListId::Buffer(bf),
            None if relative => self.last_pm.map(|x| x.0).unwrap_or(self.cur),
            None => self.cur,
        };
        let at = self.push_op(list, op);
        self.last_pm = Some(at);
        Ok(())
    }

    /// List for a non-content step: the previous content's list when
    /// relative, else the current (sticky) list.
    fn list_for(&self, relative: bool) -> ListId {
        if relative {
            self.last_pm.map(|x| x.0).unwrap_or(self.cur)
        } else {
            self.cur
        }
    }

    fn byte_read_common(
        &self,
        kw: &str,
        nbytes: &str,
        offset: &str,
        flags: &[&str],
        max_bin: u8,
    ) -> Result<(ByteRead, Vec<String>), Err1> {
        let n_num = self.num_or_var(kw, nbytes)?;
        let (nb, nbytes_var) = match n_num {
            Num::Lit(n) => (u8::try_from(n).ok().filter(|n| *n >= 1), None),
            // A variable byte count is bounded at match time by the largest
            // count the conversion allows (set below).
            Num::Var(v) => (Some(1), Some(v)),
        };
        let nb = nb
            .ok_or_else(|| self.bad(kw, format!("expected a byte count 1-10, found {nbytes:?}")))?;
        let offset = self.num_or_var(kw, offset)?;
        let mut rd = ByteRead {
            nbytes: nb,
            nbytes_var,
            offset,
            relative: false,
            little: false,
            string: None,
            bitmask: None,
        };
        let mut rest = Vec::new();
        let mut is_string = false;
        let mut base = None;
        for f in flags {
            let f = f.trim();
            let (word, arg) = match f.split_once(char::is_whitespace) {
                Some((w, a)) => (w, Some(a.trim())),
                None => (f, None),
            };
            match word {
                "relative" => rd.relative = true,
                "big" => rd.little = false,
                "little" => rd.little = true,
                "string" => is_string = true,
                "hex" => base = Some(16),
                "dec" => base = Some(10),
                "oct" => base = Some(8),
                "dce" => {
                    return Err(self.e(
                        format!("{kw} dce unsupported"),
                        format!("{kw}: the `dce` option needs DCE/RPC decoding, which stormwatch does not do"),
                    ));
                }
                "bitmask" => {
                    let a = arg.ok_or_else(|| self.bad(kw, "expected a value after bitmask"))?;
                    let m = parse_int(a)
                        .and_then(|m| u64::try_from(m).ok())
                        .filter(|m| *m != 0)
                        .ok_or_else(|| {
                            self.bad(kw, format!("expected a non-zero bitmask, found {a:?}"))
                        })?;
                    rd.bitmask = Some(m);
                }
                "" => {}
                _ => rest.push(f.to_string()),
            }
        }
        if rd.nbytes_var.is_some() {
            rd.nbytes = if is_string { 20 } else { max_bin };
        }
        let nb = rd.nbytes;
        if is_string {
            rd.string = Some(base.unwrap_or(10));
            if nb > 20 {
                return Err(self.bad(
                    kw,
                    format!("expected at most 20 bytes with `string`, found {nb}"),
                ));
            }
        } else {
            if base.is_some() {
                return Err(self.bad(kw, "hex/dec/oct need the `string` option"));
            }
            if nb > max_bin {
                return Err(self.bad(
                    kw,
                    format!("expected at most {max_bin} bytes without `string`, found {nb}"),
                ));
            }
        }
        Ok((rd, rest))
    }

    fn byte_test(&mut self, v: Option<&str>) -> Result<(), Err1> {
        let kw = "byte_test";
        let s = self.value(kw, v)?;
        let parts: Vec<&str> = s.split(',').map(str::trim).collect();
        if parts.len() < 4 {
            return Err(self.bad(kw, "expected `bytes, operator, value, offset[, options]`"));
        }
        let mut opstr = parts[1].replace(' ', "");
        let mut negate = false;
        if let Some(r) = opstr.strip_prefix('!') {
            negate = true;
            opstr = r.to_string();
        }
        let op = match opstr.as_str() {
            "<" => ByteOp::Lt,
            ">" => ByteOp::Gt,
            "=" | "" => ByteOp::Eq,
            "<=" => ByteOp::Le,
            ">=" => ByteOp::Ge,
            "&" => ByteOp::And,
            "^" => ByteOp::Xor,
            "=!" => {
                negate = !negate;
                ByteOp::Eq
            }
            _ => {
                return Err(self.bad(
                    kw,
                    format!(
                        "expected an operator (<, >, =, !, <=, >=, &, ^), found {:?}",
                        parts[1]
                    ),
                ));
            }
        };
        let value = self.num_or_var(kw, parts[2])?;
        let (rd, rest) = self.byte_read_common(kw, parts[0], parts[3], &parts[4..], 8)?;
        if let Some(r) = rest.first() {
            return Err(self.bad(kw, format!("unknown option {r:?}")));
        }
        let list = self.list_for(rd.relative);
        self.push_op(
            list,
            Op::ByteTest {
                rd,
                op,
                negate,
                value,
            },
        );
        Ok(())
    }

    fn byte_jump(&mut self, v: Option<&str>) -> Result<(), Err1> {
        let kw = "byte_jump";
        let s = self.value(kw, v)?;
        let parts: Vec<&str> = s.split(',').map(str::trim).collect();
        if parts.len() < 2 {
            return Err(self.bad(kw, "expected `bytes, offset[, options]`"));
        }
        let (mut rd, rest) = if parts[0] == "0" {
            // `byte_jump:0,...,from_end` reads nothing (Suricata allows 0 with string/from_end).
            let (mut rd, rest) = self.byte_read_common(kw, "1", parts[1], &parts[2..], 8)?;
            rd.nbytes = 0;
            (rd, rest)
        } else {
            self.byte_read_common(kw, parts[0], parts[1], &parts[2..], 8)?
        };
        let mut multiplier = 1;
        let mut align = false;
        let mut from_beginning = false;
        let mut from_end = false;
        let mut post_offset = 0;
        for f in rest {
            let (w, a) = match f.split_once(char::is_whitespace) {
                Some((w, a)) => (w.to_string(), Some(a.trim().to_string())),
                None => (f.clone(), None),
            };
            match w.as_str() {
                "align" => align = true,
                "from_beginning" => from_beginning = true,
                "from_end" => from_end = true,
                "multiplier" => {
                    multiplier = a
                        .as_deref()
                        .and_then(parse_int)
                        .filter(|m| *m > 0)
                        .ok_or_else(|| {
                            self.bad(kw, "expected a positive number after multiplier")
                        })?;
                }
                "post_offset" => {
                    post_offset = a
                        .as_deref()
                        .and_then(parse_int)
                        .ok_or_else(|| self.bad(kw, "expected a number after post_offset"))?;
                }
                _ => return Err(self.bad(kw, format!("unknown option {f:?}"))),
            }
        }
        if rd.nbytes == 0 && !(from_end && rd.string.is_some()) {
            return Err(self.bad(kw, "expected a byte count of at least 1"));
        }
        if rd.nbytes == 0 {
            rd.string = None;
        }
        let list = self.list_for(rd.relative);
        let at = self.push_op(
            list,
            Op::ByteJump {
                rd,
                multiplier,
                align,
                from_beginning,
                from_end,
                post_offset,
            },
        );
        self.last_pm = Some(at);
        Ok(())
    }

    fn new_var(&mut self, kw: &str, name: &str) -> Result<usize, Err1> {
        let name = name.trim();
        if name.is_empty()
            || !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.')
            || name.chars().next().is_some_and(|c| c.is_ascii_digit())
        {
            return Err(self.bad(kw, format!("expected a variable name, found {name:?}")));
        }
        if let Some(i) = self.vars.iter().position(|n| n == name) {
            return Ok(i);
        }
        if self.vars.len() >= MAX_VARS {
            return Err(self.bad(
                kw,
                format!("expected at most {MAX_VARS} variables per rule"),
            ));
        }
        self.vars.push(name.to_string());
        Ok(self.vars.len() - 1)
    }

    fn byte_extract(&mut self, v: Option<&str>) -> Result<(), Err1> {
        let kw = "byte_extract";
        let s = self.value(kw, v)?;
        let parts: Vec<&str> = s.split(',').map(str::trim).collect();
        if parts.len() < 3 {
            return Err(self.bad(kw, "expected `bytes, offset, name[, options]`"));
        }
        let (rd, rest) = self.byte_read_common(kw, parts[0], parts[1], &parts[3..], 4)?;
        let mut multiplier = 1;
        let mut align = 0u8;
        for f in rest {
            let (w, a) = match f.split_once(char::is_whitespace) {
                Some((w, a)) => (w.to_string(), Some(a.trim().to_string())),
                None => (f.clone(), None),
            };
            match w.as_str() {
                "multiplier" => {
                    multiplier = a
                        .as_deref()
                        .and_then(parse_int)
                        .filter(|m| *m > 0)
                        .ok_or_else(|| {
                            self.bad(kw, "expected a positive number after multiplier")
                        })?;
                }
                "align" => {
                    align = a
                        .as_deref()
                        .and_then(parse_int)
                        .and_then(|x| u8::try_from(x).ok())
                        .filter(|x| *x == 2 || *x == 4)
                        .ok_or_else(|| self.bad(kw, "expected align 2 or 4"))?;
                }
                _ => return Err(self.bad(kw, format!("unknown option {f:?}"))),
            }
        }
        let var = self.new_var(kw, parts[2])?;
        let list = self.list_for(rd.relative);
        let at = self.push_op(
            list,
            Op::ByteExtract {
                rd,
                multiplier,
                align,
                var,
            },
        );
        self.last_pm = Some(at);
        Ok(())
    }

    fn byte_math(&mut self, v: Option<&str>) -> Result<(), Err1> {
        let kw = "byte_math";
        let s = self.value(kw, v)?;
        let mut bytes = None;
        let mut offset = None;
        let mut oper = None;
        let mut rvalue = None;
        let mut result = None;
        let mut flags: Vec<&str> = Vec::new();
        for p in s.split(',').map(str::trim) {
            let (w, a) = match p.split_once(char::is_whitespace) {
                Some((w, a)) => (w, a.trim()),
                None => (p, ""),
            };
            match w {
                "bytes" => bytes = Some(a),
                "offset" => offset = Some(a),
                "oper" => oper = Some(a),
                "rvalue" => rvalue = Some(a),
                "result" => result = Some(a),
                _ => flags.push(p),
            }
        }
        let (Some(bytes), Some(offset), Some(oper), Some(rvalue), Some(result)) =
            (bytes, offset, oper, rvalue, result)
        else {
            return Err(self.bad(kw, "expected bytes, offset, oper, rvalue and result"));
        };
        let op = match oper {
            "+" => MathOp::Add,
            "-" => MathOp::Sub,
            "*" => MathOp::Mul,
            "/" => MathOp::Div,
            "<<" => MathOp::Shl,
            ">>" => MathOp::Shr,
            o => {
                return Err(self.bad(
                    kw,
                    format!("expected oper +, -, *, /, << or >>, found {o:?}"),
                ));
            }
        };
        let rv = self.num_or_var(kw, rvalue)?;
        let (rd, rest) = self.byte_read_common(kw, bytes, offset, &flags, 4)?;
        if let Some(r) = rest.first() {
            return Err(self.bad(kw, format!("unknown option {r:?}")));
        }
        let var = self.new_var(kw, result)?;
        let list = self.list_for(rd.relative);
        self.push_op(
            list,
            Op::ByteMath {
                rd,
                op,
                rvalue: rv,
                var,
            },
        );
        Ok(())
    }

    fn isdataat(&mut self, v: Option<&str>) -> Result<(), Err1> {
        let kw = "isdataat";
        let s = self.value(kw, v)?;
        let mut parts = s.split(',').map(str::trim);
        let first = parts.next().unwrap_or("");
        let (neg, first) = match first.strip_prefix('!') {
            Some(r) => (true, r.trim()),
            None => (false, first),
        };
        let n = self.num_or_var(kw, first)?;
        if let Num::Lit(x) = n
            && x < 0
        {
            return Err(self.bad(kw, "expected a non-negative number"));
        }
        let mut relative = false;
        for p in parts {
            match p {
                "relative" => relative = true,
                "rawbytes" => {}
                o => {
                    return Err(self.bad(
                        kw,
                        format!("expected `relative` or `rawbytes`, found {o:?}"),
                    ));
                }
            }
        }
        let list = self.list_for(relative);
        self.push_op(
            list,
            Op::IsDataAt {
                n,
                relative,
                negated: neg,
            },
        );
        Ok(())
    }

    fn base64_decode(&mut self, v: Option<&str>) -> Result<(), Err1> {
        let kw = "base64_decode";
        let mut bytes = 0u32;
        let mut offset = 0u32;
        let mut relative = false;
        if let Some(s) = v {
            for p in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
                let (w, a) = match p.split_once(char::is_whitespace) {
                    Some((w, a)) => (w, a.trim()),
                    None => (p, ""),
                };
                let num = |a: &str| -> Result<u32, Err1> {
                    a.parse::<u32>().map_err(|_| {
                        self.bad(kw, format!("expected a number after {w}, found {a:?}"))
                    })
                };
                match w {
                    "bytes" => {
                        bytes = num(a)?;
                        if bytes == 0 {
                            return Err(self.bad(kw, "expected bytes > 0"));
                        }
                    }
                    "offset" => offset = num(a)?,
                    "relative" => relative = true,
                    o => {
                        return Err(self.bad(
                            kw,
                            format!("expected bytes, offset or relative, found {o:?}"),
                        ));
                    }
                }
            }
        }
        let list = self.list_for(relative);
        self.cur = list;
        self.push_op(
            list,
            Op::Base64Decode {
                bytes,
                offset,
                relative,
            },
        );
        Ok(())
    }

    fn asn1(&mut self, v: Option<&str>) -> Result<(), Err1> {
        let kw = "asn1";
        let s = self.value(kw, v)?;
        let mut a = Asn1::default();
        for p in s.split(',').map(str::trim) {
            let (w, arg) = match p.split_once(char::is_whitespace) {
                Some((w, x)) => (w, x.trim()),
                None => (p, ""),
            };
            match w {
                "bitstring_overflow" => a.bitstring_overflow = true,
                "double_overflow" => a.double_overflow = true,
                "oversize_length" => {
                    a.oversize_length = Some(
                        arg.parse()
                            .map_err(|_| self.bad(kw, "expected a number after oversize_length"))?,
                    )
                }
                "absolute_offset" => {
                    a.absolute_offset = Some(
                        arg.parse()
                            .map_err(|_| self.bad(kw, "expected a number after absolute_offset"))?,
                    )
                }
                "relative_offset" => {
                    a.relative_offset = Some(
                        arg.parse()
                            .map_err(|_| self.bad(kw, "expected a number after relative_offset"))?,
                    )
                }
                "print" => {}
                o => return Err(self.bad(kw, format!("unknown option {o:?}"))),
            }
        }
        if !a.bitstring_overflow && !a.double_overflow && a.oversize_length.is_none() {
            return Err(self.bad(
                kw,
                "expected bitstring_overflow, double_overflow or oversize_length",
            ));
        }
        let list = self.list_for(a.relative_offset.is_some());
        self.push_op(list, Op::Asn1(a));
        Ok(())
    }

    fn flow_kw(&mut self, v: Option<&str>) -> Result<(), Err1> {
        let kw = "flow";
        let s = self.value(kw, v)?;
        self.flow.present = true;
        for p in s.split(',').map(|p| p.trim().to_ascii_lowercase()) {
            match p.as_str() {
                "to_server" | "from_client" => self.flow.to_server = true,
                "to_client" | "from_server" => self.flow.to_client = true,
                "established" => self.flow.established = true,
                "not_established" => self.flow.not_established = true,
                "stateless" => self.flow.stateless = true,
                "only_stream" => self.flow.only_stream = true,
                "no_stream" => self.flow.no_stream = true,
                "no_frag" | "only_frag" => {
                    return Err(self.e(
                        format!("unsupported flow option \"{p}\""),
                        format!("flow: option {p:?} is not supported (fragments are reassembled before rules)"),
                    ));
                }
                "" => {}
                o => return Err(self.bad(kw, format!("expected to_server, to_client, established, not_established, stateless, only_stream or no_stream, found {o:?}"))),
            }
        }
        if self.flow.to_server && self.flow.to_client {
            return Err(self.bad(kw, "to_server and to_client exclude each other"));
        }
        if self.flow.established && self.flow.not_established {
            return Err(self.bad(kw, "established and not_established exclude each other"));
        }
        if self.flow.only_stream && self.flow.no_stream {
            return Err(self.bad(kw, "only_stream and no_stream exclude each other"));
        }
        Ok(())
    }

    fn flowbits_kw(&mut self, v: Option<&str>) -> Result<(), Err1> {
        let kw = "flowbits";
        let s = self.value(kw, v)?;
        let mut parts = s.splitn(3, ',').map(str::trim);
        let cmd = parts.next().unwrap_or("").to_ascii_lowercase();
        let name = parts.next().unwrap_or("");
        if parts.next().is_some() {
            return Err(self.e(
                "flowbits groups unsupported",
                "flowbits: expected `command,name` (Snort flowbit groups are not supported)",
            ));
        }
        if cmd == "noalert" {
            if !name.is_empty() {
                return Err(self.bad(kw, "noalert takes no name"));
            }
            self.noalert = true;
            return Ok(());
        }
        if name.is_empty() {
            return Err(self.bad(kw, format!("expected `{cmd},name`")));
        }
        let valid = |n: &str| !n.is_empty() && !n.contains(char::is_whitespace);
        let (names, all): (Vec<&str>, bool) = if name.contains('|') {
            (name.split('|').map(str::trim).collect(), false)
        } else if name.contains('&') {
            (name.split('&').map(str::trim).collect(), true)
        } else {
            (vec![name], true)
        };
        if !names.iter().all(|n| valid(n)) {
            return Err(self.bad(kw, format!("expected flowbit names, found {name:?}")));
        }
        let multi = names.len() > 1;
        let fb = match cmd.as_str() {
            "set" | "unset" | "toggle" => {
                if multi {
                    return Err(self.bad(kw, format!("{cmd} expects a single name")));
                }
                let id = self.names.id(names[0]);
                match cmd.as_str() {
                    "set" => Flowbit::Set(id),
                    "unset" => Flowbit::Unset(id),
                    _ => Flowbit::Toggle(id),
                }
            }
            "isset" | "isnotset" => {
                let ids = names.iter().map(|n| self.names.id(n)).collect();
                if cmd == "isset" {
                    Flowbit::IsSet(ids, all)
                } else {
                    Flowbit::IsNotSet(ids, all)
                }
            }
            "reset" => {
                return Err(self.e(
                    "flowbits reset unsupported",
                    "flowbits: `reset` is not supported",
                ));
            }
            o => {
                return Err(self.bad(
                    kw,
                    format!("expected set, unset, toggle, isset, isnotset or noalert, found {o:?}"),
                ));
            }
        };
        self.flowbits.push(fb);
        Ok(())
    }

    fn alp_kw(&mut self, v: Option<&str>) -> Result<(), Err1> {
        let kw = "app-layer-protocol";
        let s = self.value(kw, v)?;
        let mut parts = s.split(',').map(str::trim);
        let p = parts.next().unwrap_or("");
        let (neg, p) = match p.strip_prefix('!') {
            Some(r) => (true, r.trim()),
            None => (false, p),
        };
        let proto = AppProto::from_name(p).ok_or_else(|| {
            self.e(
                format!("unsupported app-layer-protocol \"{p}\""),
                format!("app-layer-protocol: unknown protocol {p:?}"),
            )
        })?;
        let mut dir = None;
        for m in parts {
            match m {
                "final" | "either" | "" => {}
                "to_server" => dir = Some(Direction::ToServer),
                "to_client" => dir = Some(Direction::ToClient),
                o => {
                    return Err(self.bad(
                        kw,
                        format!("expected final, either, to_server or to_client, found {o:?}"),
                    ));
                }
            }
        }
        self.alp.push(AlpCheck {
            proto,
            negated: neg,
            dir,
        });
        Ok(())
    }

    fn threshold_kw(&mut self, kw: &str, v: Option<&str>) -> Result<(), Err1> {
        let s = self.value(kw, v)?;
        let t = parse_threshold(s, kw == "detection_filter").map_err(|m| self.bad(kw, m))?;
        if self.threshold.is_some() {
            return Err(self.e(
                "threshold with detection_filter",
                format!("{kw}: expected one threshold or detection_filter per rule"),
            ));
        }
        self.threshold = Some(t);
        Ok(())
    }

    fn ssl_state(&mut self, v: Option<&str>) -> Result<(), Err1> {
        let kw = "ssl_state";
        let s = self.value(kw, v)?;
        // `a|b` = any of; `,` separates AND-ed terms; `!` negates a term.
        for term in s.split(',').map(str::trim) {
            let (neg, term) = match term.strip_prefix('!') {
                Some(r) => (true, r),
                None => (false, term),
            };
            let mut mask = 0;
            for n in term.split('|').map(str::trim) {
                mask |= match n {
                    "client_hello" => SSL_STATE_CLIENT_HELLO,
                    "server_hello" => SSL_STATE_SERVER_HELLO,
                    "client_keyx" => SSL_STATE_CLIENT_KEYX,
                    "server_keyx" => SSL_STATE_SERVER_KEYX,
                    "unknown" => SSL_STATE_UNKNOWN,
                    o => return Err(self.bad(kw, format!("expected client_hello, server_hello, client_keyx, server_keyx or unknown, found {o:?}"))),
                };
            }
            self.tx.push(TxCheck::Mask {
                field: TxField::SslState,
                mask,
                negated: neg,
            });
        }
        Ok(())
    }

    fn ssl_version(&mut self, v: Option<&str>) -> Result<(), Err1> {
        let kw = "ssl_version";
        let s = self.value(kw, v)?;
        let mut any_of = 0;
        let mut none_of = 0;
        // Suricata (7.0.14+): a leading `!` negates the whole list
        // (`!tls1.3,tls1.2` = neither); `!` after a plain version is an error.
        let list_negated = s.trim_start().starts_with('!');
        for term in s.split(',').map(str::trim) {
            let (neg, term) = match term.strip_prefix('!') {
                Some(r) => (true, r.trim()),
                None => (list_negated, term),
            };
            if neg != list_negated {
                return Err(self.bad(
                    kw,
                    format!("expected `!` on the first version only or on none, found {s:?}"),
                ));
            }
            let bit =
                match term {
                    "sslv2" => SSL_VERSION_SSLV2,
                    "sslv3" => SSL_VERSION_SSLV3,
                    "tls1.0" => SSL_VERSION_TLS1_0,
                    "tls1.1" => SSL_VERSION_TLS1_1,
                    "tls1.2" => SSL_VERSION_TLS1_2,
                    "tls1.3" => SSL_VERSION_TLS1_3,
                    o => return Err(self.bad(
                        kw,
                        format!(
                            "expected sslv2, sslv3, tls1.0, tls1.1, tls1.2 or tls1.3, found {o:?}"
                        ),
                    )),
                };
            if neg {
                none_of |= bit;
            } else {
                any_of |= bit;
            }
        }
        self.tx.push(TxCheck::Versions { any_of, none_of });
        Ok(())
    }

    /// `dns.opcode` and `dns.rcode` (one value per message; `rcode` also by
    /// name) and `dns.rrtype`, a multi-integer:
    /// `value[,index[,start:end]]` or `count <cmp>` (see [`MultiIndex`]).
    fn dns_field(&mut self, kw: &str, v: Option<&str>) -> Result<(), Err1> {
        let s = self.value(kw, v)?.trim();
        let field = match kw {
            "dns.opcode" => TxField::DnsOpcode,
            "dns.rcode" => TxField::DnsRcode,
            _ => TxField::DnsRrtype,
        };
        let parts: Vec<&str> = s.split(',').map(str::trim).collect();
        if field != TxField::DnsRrtype {
            if parts.len() > 1 {
                return Err(self.bad(
                    kw,
                    format!("expected one value (a message has one {kw}), found {s:?}"),
                ));
            }
            let cmp = parse_cmp(s, true)
                .or_else(|e| {
                    let (neg, name) = match s.strip_prefix('!') {
                        Some(r) => (true, r.trim()),
                        None => (false, s),
                    };
                    match (
                        field,
                        dns_rcode_name(name).and_then(|n| u64::try_from(n).ok()),
                    ) {
                        (TxField::DnsRcode, Some(n)) if neg => Ok(Cmp::Ne(n)),
                        (TxField::DnsRcode, Some(n)) => Ok(Cmp::Eq(n)),
                        _ => Err(e),
                    }
                })
                .map_err(|e| self.bad(kw, e))?;
            self.tx.push(TxCheck::Field(field, cmp));
            return Ok(());
        }
        let check = parse_multi_int(field, &parts).map_err(|e| self.bad(kw, e))?;
        self.tx.push(check);
        Ok(())
    }

    /// `tls.subject:"..."` & co: a content on the matching buffer.
    fn legacy_string(&mut self, kw: &str, v: Option<&str>) -> Result<(), Err1> {
        let s = self.value(kw, v)?.trim();
        let (neg, s) = match s.strip_prefix('!') {
            Some(r) => (true, r.trim()),
            None => (false, s),
        };
        let text = unescape(unquote(s));
        let (buf, exact) = match kw {
            "tls.subject" => (BufferId::TlsCertSubject, false),
            "tls.issuerdn" => (BufferId::TlsCertIssuer, false),
            "tls.fingerprint" => (BufferId::TlsCertFingerprint, true),
            "ssh.protoversion" => (BufferId::SshProto, true),
            _ => (BufferId::SshSoftware, true),
        };
        let mut c = Content::new(text.into_bytes(), neg);
        if exact {
            c.startswith = true;
            c.endswith = !neg;
        }
        self.push_op(ListId::Buffer(buf), Op::Content(Box::new(c)));
        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    fn finish(
        mut self,
        action: Action,
        proto: HdrProto,
        src: crate::header::AddrSet,
        sp: crate::header::PortSet,
        dst: crate::header::AddrSet,
        dp: crate::header::PortSet,
        bidir: bool,
        file: u32,
        line: usize,
    ) -> Result<Parsed, Err1> {
        self.off = self.base;
        let sid = self
            .sid
            .ok_or_else(|| self.e("missing sid", "expected a `sid` option"))?;
        // Finish contents, collect lists.
        let mut payload = Vec::new();
        let mut bufs = Vec::new();
        for (id, mut ops) in std::mem::take(&mut self.lists) {
            for op in ops.iter_mut() {
                if let Op::Content(c) = op {
                    if c.pat.is_empty() {
                        return Err(self.e("empty content", "content: expected at least one byte"));
                    }
                    c.finish();
                }
            }
            // Kept for the run: at its size, not its last doubling's.
            ops.shrink_to_fit();
            match id {
                ListId::Payload => payload = ops,
                ListId::Buffer(b) => {
                    if !ops.is_empty() {
                        bufs.push((b, ops));
                    }
                }
            }
        }
        // Application protocol the rule needs.
        let mut app: Option<AppProto> = match proto {
            HdrProto::App { app, .. } => Some(app),
            _ => None,
        };
        let base = self.base;
        let need = |app: &mut Option<AppProto>, p: AppProto, what: &str| -> Result<(), Err1> {
            match *app {
                Some(a) if a != p && !(a == AppProto::FtpData && p == AppProto::Http) => Err(err(
                    base,
                    "buffers of different protocols",
                    format!(
                        "{what} needs {} but the rule is for {}",
                        p.as_str(),
                        a.as_str()
                    ),
                )),
                _ => {
                    *app = Some(p);
                    Ok(())
                }
            }
        };
        for (b, _) in &bufs {
            if *b == BufferId::FileData && matches!(app, Some(a) if a != AppProto::Http) {
                continue;
            }
            need(&mut app, buffer_proto(*b), "a sticky buffer")?;
        }
        for t in &self.tx {
            let f = match t {
                TxCheck::Field(f, _) | TxCheck::Multi { field: f, .. } => *f,
                TxCheck::Mask { field, .. } => *field,
                TxCheck::Versions { .. } => TxField::SslVersions,
            };
            need(&mut app, field_proto(f), "a transaction keyword")?;
        }
        // Transport compatibility.
        let transport_ok = match (proto, app) {
            (HdrProto::Udp, Some(a)) => matches!(a, AppProto::Dns | AppProto::Tftp),
            (HdrProto::Icmp, Some(_)) => false,
            _ => true,
        };
        if !transport_ok {
            return Err(self.e(
                "buffer not available for protocol",
                "the rule's buffers belong to an application protocol the header protocol cannot carry",
            ));
        }
        let has_tx = !bufs.is_empty() || !self.tx.is_empty();
        let is_tcp_capable = proto.allows(6);
        let packet_only_kw = !self.pkt.is_empty();
        let kind = if has_tx {
            Kind::Tx
        } else if !payload.is_empty() {
            if proto == HdrProto::TcpPkt || self.flow.no_stream || packet_only_kw || !is_tcp_capable
            {
                Kind::Packet
            } else {
                Kind::Stream
            }
        } else if !packet_only_kw
            && !self.flow.present
            && self.alp.is_empty()
            && sp.is_full()
            && dp.is_full()
            && app.is_none()
            && self
                .flowbits
                .iter()
                .all(|f| matches!(f, Flowbit::Set(_) | Flowbit::Unset(_) | Flowbit::Toggle(_)))
            && matches!(
                proto,
                HdrProto::Ip | HdrProto::Tcp | HdrProto::Udp | HdrProto::Icmp
            )
        {
            Kind::IpOnly
        } else {
            Kind::Packet
        };
        if kind == Kind::Packet && proto == HdrProto::TcpStream {
            return Err(self.e(
                "tcp-stream rule with packet keywords",
                "a tcp-stream rule needs payload keywords and no packet keywords (dsize, flags, ...)",
            ));
        }
        if kind == Kind::Packet && self.flow.only_stream {
            return Err(self.e(
                "only_stream rule with packet keywords",
                "flow:only_stream needs payload keywords and no packet keywords (dsize, flags, ...)",
            ));
        }
        // Fast pattern.
        let fast = choose_fast(&payload, &bufs, kind);
        let (category, severity) = match &self.classtype {
            Some(c) => match self.cfg.classification.get(c) {
                Some(ct) => (ct.description.clone(), ct.priority),
                None => (String::new(), 3),
            },
            None => (String::new(), 3),
        };
        let severity = self.priority.unwrap_or(severity);
        let sets = self
            .flowbits
            .iter()
            .any(|f| matches!(f, Flowbit::Set(_) | Flowbit::Unset(_) | Flowbit::Toggle(_)));
        let checks = self
            .flowbits
            .iter()
            .any(|f| matches!(f, Flowbit::IsSet(..) | Flowbit::IsNotSet(..)));
        let fb_order = match (sets, checks) {
            (true, false) => 0,
            (true, true) => 1,
            (false, false) => 2,
            (false, true) => 3,
        };
        let sig = Arc::new(SignatureInfo {
            gid: self.gid,
            sid,
            rev: self.rev,
            msg: self.msg,
            classtype: self.classtype,
            category,
            severity,
            metadata: self.metadata,
            references: self.refs,
            target: self.target,
        });
        let rule = Rule {
            sig,
            file,
            line: u32::try_from(line).unwrap_or(u32::MAX),
            action,
            proto,
            src,
            sp,
            dst,
            dp,
            bidir,
            src_class: Side::Other,
            dst_class: Side::Other,
            flow: self.flow,
            pkt: self.pkt,
            payload,
            bufs,
            tx: self.tx,
            flowbits: self.flowbits,
            alp: self.alp,
            threshold: self.threshold,
            noalert: self.noalert,
            kind,
            app,
            fast,
            order: (
                if action == Action::Pass { 0 } else { 1 },
                fb_order,
                severity,
                0,
            ),
            inert: self.inert,
        };
        Ok(Parsed { rule, sid })
    }
}

/// Picks the prefilter pattern: an explicit `fast_pattern`, else the longest
/// positive content (payload for packet/stream rules; any list for tx rules,
/// preferring buffers).
fn choose_fast(payload: &[Op], bufs: &[(BufferId, Vec<Op>)], kind: Kind) -> Option<FastSel> {
    let mut best: Option<(i64, FastSel)> = None;
    let mut consider = |list: ListId, ops: &[Op]| {
        // Contents after base64_data inspect decoded bytes: not prefilterable.
        for op in ops {
            if matches!(op, Op::Base64Data) {
                break;
            }
            let Op::Content(c) = op else { continue };
            if c.negated {
                continue;
            }
            let (pat, explicit) = match c.fast {
                FastPat::No => (c.pat.clone(), false),
                FastPat::Yes | FastPat::Only => (c.pat.clone(), true),
                FastPat::Chop(o, l) => {
                    let o = usize::from(o);
                    let l = usize::from(l);
                    (
                        c.pat
                            .get(o..o + l)
                            .map(<[u8]>::to_vec)
                            .unwrap_or_else(|| c.pat.clone()),
                        true,
                    )
                }
            };
            let len = i64::try_from(pat.len()).unwrap_or(i64::MAX);
            let mut score = len.min(255);
            if explicit {
                score += 1_000;
            }
            if let ListId::Buffer(_) = list {
                score += 1; // prefer buffers on ties: smaller to scan
            }
            if best.as_ref().is_none_or(|b| score > b.0) {
                best = Some((
                    score,
                    FastSel {
                        list,
                        pat,
                        nocase: c.nocase,
                    },
                ));
            }
        }
    };
    match kind {
        Kind::Tx => {
            for (b, ops) in bufs {
                consider(ListId::Buffer(*b), ops);
            }
        }
        Kind::Stream | Kind::Packet => consider(ListId::Payload, payload),
        Kind::IpOnly => {}
    }
    best.map(|b| b.1)
}

/// Parses an integer: decimal, `0x` hex, optional sign.
pub(crate) fn parse_int(s: &str) -> Option<i64> {
    let s = s.trim();
    let (neg, s) = match s.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, s.strip_prefix('+').unwrap_or(s)),
    };
    let v = if let Some(h) = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        i64::from_str_radix(h, 16).ok()?
    } else {
        if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        s.parse::<i64>().ok()?
    };
    Some(if neg { -v } else { v })
}

fn dns_rcode_name(s: &str) -> Option<i64> {
    Some(match s.to_ascii_lowercase().as_str() {
        "noerror" => 0,
        "formerr" => 1,
        "servfail" => 2,
        "nxdomain" => 3,
        "notimp" => 4,
        "refused" => 5,
        "yxdomain" => 6,
        "yxrrset" => 7,
        "nxrrset" => 8,
        "notauth" => 9,
        "notzone" => 10,
        _ => return None,
    })
}

/// A multi-integer keyword's argument split at commas: `value[,index[,start:end]]`
/// or `count <cmp>`. Index: `any` (the default), `all`, `all_or_absent`,
/// `or_absent`, a number (negative: from the end), `oob_or <number>`, or
/// `nb <cmp>`. Values compare as Suricata's integers (ranges `a-b` are
/// exclusive).
fn parse_multi_int(field: TxField, parts: &[&str]) -> Result<TxCheck, String> {
    let (first, index, slice) = match parts {
        [v] => (*v, None, None),
        [v, i] => (*v, Some(*i), None),
        [v, i, sl] => (*v, Some(*i), Some(*sl)),
        _ => return Err("expected value[,index[,start:end]]: too many commas".to_string()),
    };
    let int = |x: &str| -> Result<i32, String> {
        x.trim()
            .parse::<i32>()
            .map_err(|_| format!("expected an index number, found {x:?}"))
    };
    let slice = match slice {
        None => (0, 0),
        Some(sl) => {
            let (a, b) = sl
                .split_once(':')
                .ok_or_else(|| format!("expected start:end, found {sl:?}"))?;
            let (a, b) = (int(a)?, int(b)?);
            // Both counted from the same end (an end of 0 is the end).
            if b != 0 && (a >= 0) == (b > 0) && b <= a {
                return Err(format!("subslice {sl:?}: expected its end after its start"));
            }
            (a, b)
        }
    };
    if let Some(c) = first.strip_prefix("count") {
        if index.is_some() {
            return Err("expected no index after count".to_string());
        }
        return Ok(TxCheck::Multi {
            field,
            cmp: Cmp::Eq(0),
            index: MultiIndex::Count(parse_cmp(c, true)?),
            slice,
        });
    }
    let index = match index {
        None | Some("any") => MultiIndex::Any,
        Some("all") => MultiIndex::All,
        Some("all_or_absent") => MultiIndex::AllOrAbsent,
        Some("or_absent") => MultiIndex::OrAbsent,
        Some(i) => {
            if let Some(n) = i.strip_prefix("nb") {
                MultiIndex::Nb(parse_cmp(n, true)?)
            } else if let Some(n) = i.strip_prefix("oob_or") {
                MultiIndex::At {
                    at: int(n)?,
                    oob_or: true,
                }
            } else {
                MultiIndex::At {
                    at: int(i).map_err(|_| {
                        format!(
                            "expected an index (a number, any, all, all_or_absent, or_absent, \
                             oob_or N or nb <cmp>), found {i:?}"
                        )
                    })?,
                    oob_or: false,
                }
            }
        }
    };
    Ok(TxCheck::Multi {
        field,
        cmp: parse_cmp(first, true)?,
        index,
        slice,
    })
}

/// Parses `N`, `<N`, `>N`, `<=N`, `>=N`, `!N`, `=N`, `N<>M` (exclusive) and,
/// for ttl-like keywords, `N-M` (inclusive).
pub(crate) fn parse_cmp(s: &str, exclusive_range: bool) -> Result<Cmp, String> {
    let t: String = s.chars().filter(|c| !c.is_whitespace()).collect();
    let num = |x: &str| -> Result<u64, String> {
        parse_int(x)
            .and_then(|n| u64::try_from(n).ok())
            .ok_or_else(|| format!("expected a non-negative number, found {x:?}"))
    };
    if let Some((a, b)) = t.split_once("<>") {
        let (a, b) = (num(a)?, num(b)?);
        if a >= b {
            return Err(format!(
                "range {s:?}: expected the first number below the second"
            ));
        }
        return Ok(Cmp::Between(a, b));
    }
    if let Some(r) = t.strip_prefix("<=") {
        return Ok(Cmp::Le(num(r)?));
    }
    if let Some(r) = t.strip_prefix(">=") {
        return Ok(Cmp::Ge(num(r)?));
    }
    if let Some(r) = t.strip_prefix('<') {
        return Ok(Cmp::Lt(num(r)?));
    }
    if let Some(r) = t.strip_prefix('>') {
        return Ok(Cmp::Gt(num(r)?));
    }
    if let Some(r) = t.strip_prefix("!=").or_else(|| t.strip_prefix('!')) {
        return Ok(Cmp::Ne(num(r)?));
    }
    if let Some(r) = t.strip_prefix('=') {
        return Ok(Cmp::Eq(num(r)?));
    }
    if let Some((a, b)) = t.split_once('-')
        && !a.is_empty()
    {
        let (a, b) = (num(a)?, num(b)?);
        if a > b {
            return Err(format!(
                "range {s:?}: expected the first number not above the second"
            ));
        }
        return Ok(if exclusive_range {
            Cmp::Between(a.saturating_sub(1), b.saturating_add(1))
        } else {
            Cmp::Within(a, b)
        });
    }
    if t.is_empty() {
        return Err("expected a number".to_string());
    }
    Ok(Cmp::Eq(num(&t)?))
}

fn parse_ip_proto(s: &str) -> Result<Cmp, String> {
    let (ctor, rest): (fn(u64) -> Cmp, &str) = if let Some(r) = s.strip_prefix('!') {
        (Cmp::Ne, r)
    } else if let Some(r) = s.strip_prefix('<') {
        (Cmp::Lt, r)
    } else if let Some(r) = s.strip_prefix('>') {
        (Cmp::Gt, r)
    } else {
        (Cmp::Eq, s)
    };
    let rest = rest.trim();
    let n = match rest.to_ascii_lowercase().as_str() {
        "icmp" => 1,
        "igmp" => 2,
        "ipip" => 4,
        "tcp" => 6,
        "udp" => 17,
        "ipv6" => 41,
        "gre" => 47,
        "esp" => 50,
        "ah" => 51,
        "ipv6-icmp" | "icmpv6" => 58,
        "pim" => 103,
        "sctp" => 132,
        _ => parse_int(rest)
            .and_then(|n| u8::try_from(n).ok())
            .map(i64::from)
            .ok_or_else(|| format!("expected a protocol number 0-255 or name, found {rest:?}"))?,
    };
    Ok(ctor(u64::try_from(n).unwrap_or(0)))
}

fn flag_bit(c: char) -> Option<u8> {
    Some(match c.to_ascii_uppercase() {
        'F' => 0x01,
        'S' => 0x02,
        'R' => 0x04,
        'P' => 0x08,
        'A' => 0x10,
        'U' => 0x20,
        'E' | '2' => 0x40,
        'C' | '1' => 0x80,
        _ => return None,
    })
}

/// `flags:[!*+]SAF...[,mask]` (modifier before or after the letters; `0` = none).
pub(crate) fn parse_flags(s: &str) -> Result<(FlagMod, u8, u8), String> {
    let (main, mask) = match s.split_once(',') {
        Some((a, b)) => (a.trim(), Some(b.trim())),
        None => (s.trim(), None),
    };
    let mut m = FlagMod::Exact;
    let mut flags = 0u8;
    let mut zero = false;
    for c in main.chars() {
        match c {
            '!' => m = FlagMod::Not,
            '*' => m = FlagMod::Any,
            '+' => m = FlagMod::Plus,
            '0' => zero = true,
            ' ' => {}
            c => {
                flags |= flag_bit(c).ok_or_else(|| {
                    format!("expected flag letters from FSRPAUCE12 and 0, found {c:?}")
                })?
            }
        }
    }
    if zero && flags != 0 {
        return Err("`0` (no flags) cannot be combined with flag letters".to_string());
    }
    if !zero && flags == 0 {
        return Err("expected at least one flag letter or 0".to_string());
    }
    let mut ign = 0u8;
    if let Some(mask) = mask {
        for c in mask.chars() {
            if c == ' ' {
                continue;
            }
            ign |= flag_bit(c)
                .ok_or_else(|| format!("expected mask letters from FSRPAUCE12, found {c:?}"))?;
        }
    }
    Ok((m, flags, ign))
}

fn parse_fragbits(s: &str) -> Result<(FlagMod, u8), String> {
    let mut m = FlagMod::Exact;
    let mut bits = 0u8;
    for c in s.trim().chars() {
        match c {
            '!' => m = FlagMod::Not,
            '*' => m = FlagMod::Any,
            '+' => m = FlagMod::Plus,
            'M' | 'm' => bits |= 1,
            'D' | 'd' => bits |= 2,
            'R' | 'r' => bits |= 4,
            ' ' => {}
            c => return Err(format!("expected M, D or R, found {c:?}")),
        }
    }
    if bits == 0 {
        return Err("expected at least one of M, D, R".to_string());
    }
    Ok((m, bits))
}

/// Parses `type X, track Y, count N, seconds M` (and detection_filter's form).
pub(crate) fn parse_threshold(s: &str, df: bool) -> Result<Threshold, String> {
    let mut kind = if df {
        Some(ThKind::DetectionFilter)
    } else {
        None
    };
    let mut track = None;
    let mut count = None;
    let mut seconds = None;
    let mut multiplier = None;
    let mut unique = None;
    for p in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (w, a) = p
            .split_once(char::is_whitespace)
            .map(|(w, a)| (w, a.trim()))
            .ok_or_else(|| format!("expected `name value`, found {p:?}"))?;
        match w {
            "type" if !df => {
                kind = Some(match a {
                    "limit" => ThKind::Limit,
                    "threshold" => ThKind::Threshold,
                    "both" => ThKind::Both,
                    "backoff" => ThKind::Backoff { multiplier: 0 },
                    o => {
                        return Err(format!(
                            "expected type limit, threshold, both or backoff, found {o:?}"
                        ));
                    }
                })
            }
            "track" => {
                track = Some(match a {
                    "by_src" => Track::BySrc,
                    "by_dst" => Track::ByDst,
                    "by_rule" => Track::ByRule,
                    "by_both" => Track::ByBoth,
                    "by_flow" => Track::ByFlow,
                    o => {
                        return Err(format!(
                            "expected track by_src, by_dst, by_rule, by_both or by_flow, found {o:?}"
                        ));
                    }
                })
            }
            "count" => {
                count = Some(
                    a.parse::<u32>()
                        .map_err(|_| format!("expected a count, found {a:?}"))?,
                )
            }
            "seconds" => {
                seconds = Some(
                    a.parse::<u32>()
                        .map_err(|_| format!("expected seconds, found {a:?}"))?,
                )
            }
            "multiplier" => {
                multiplier = Some(
                    a.parse::<u32>()
                        .map_err(|_| format!("expected a multiplier, found {a:?}"))?,
                )
            }
            "unique_on" if df => {
                unique = Some(match a {
                    "src_port" => UniqueOn::SrcPort,
                    "dst_port" => UniqueOn::DstPort,
                    o => {
                        return Err(format!(
                            "expected unique_on src_port or dst_port, found {o:?}"
                        ));
                    }
                })
            }
            o => return Err(format!("unknown option {o:?}")),
        }
    }
    let mut kind = kind.ok_or("expected `type limit|threshold|both|backoff`")?;
    let track = track.ok_or("expected `track by_src|by_dst|...`")?;
    let count = count.ok_or("expected `count N`")?;
    if let ThKind::Backoff { multiplier: m } = &mut kind {
        *m = multiplier.ok_or("expected `multiplier N` for type backoff")?;
        if *m < 2 {
            return Err("expected multiplier >= 2".to_string());
        }
        if count == 0 {
            return Err("expected count >= 1".to_string());
        }
        return Ok(Threshold {
            kind,
            track,
            count,
            seconds: 0,
            unique_on: None,
        });
    }
    let seconds = seconds.ok_or("expected `seconds N`")?;
    if count == 0 && kind != ThKind::Limit {
        return Err("expected count >= 1".to_string());
    }
    Ok(Threshold {
        kind,
        track,
        count,
        seconds,
        unique_on: unique,
    })
}

/// Decodes a content string: quoted text with `|hex|` runs and `\` escapes.
pub(crate) fn parse_content(s: &str) -> Result<Vec<u8>, String> {
    let s = s.trim();
    let inner = if s.len() >= 2 && s.starts_with('"') && s.ends_with('"') {
        &s[1..s.len() - 1]
    } else if s.starts_with('"') {
        return Err("expected a closing `\"`".to_string());
    } else {
        return Err(format!("expected a quoted string, found {s:?}"));
    };
    let b = inner.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    let mut in_hex = false;
    let mut nib: Option<u8> = None;
    while i < b.len() {
        let c = b[i];
        if in_hex {
            match c {
                b'|' => {
                    if nib.is_some() {
                        return Err("odd number of hex digits between `|`".to_string());
                    }
                    in_hex = false;
                }
                // Snort and Suricata skip blanks in hex, even inside a pair.
                b' ' | b'\t' => {}
                _ => {
                    let d = (c as char).to_digit(16).ok_or_else(|| {
                        format!("expected hex digits between `|`, found {:?}", c as char)
                    })?;
                    let d = u8::try_from(d).unwrap_or(0);
                    match nib.take() {
                        Some(h) => out.push(h << 4 | d),
                        None => nib = Some(d),
                    }
                }
            }
            i += 1;
            continue;
        }
        match c {
            b'|' => in_hex = true,
            b'\\' => {
                let n = b
                    .get(i + 1)
                    .copied()
                    .ok_or("expected a character after `\\`")?;
                match n {
                    b'"' | b';' | b'\\' | b':' | b'|' => out.push(n),
                    other => {
                        return Err(format!(
                            "unknown escape `\\{}` (expected \\\", \\;, \\\\ or \\:)",
                            other as char
                        ));
                    }
                }
                i += 1;
            }
            b'"' => {
                return Err("unescaped `\"` inside content (expected `\\\"` or |22|)".to_string());
            }
            b';' => return Err("unescaped `;` inside content (expected `\\;` or |3B|)".to_string()),
            _ => out.push(c),
        }
        i += 1;
    }
    if in_hex {
        return Err("expected a closing `|` after hex bytes".to_string());
    }
    if out.is_empty() {
        return Err("expected at least one byte".to_string());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_strings() {
        assert_eq!(parse_content(r#""a|0D 0a|b""#).unwrap(), b"a\r\nb");
        assert_eq!(parse_content(r#""x\"y\;z\\""#).unwrap(), b"x\"y;z\\");
        assert!(
            parse_content(r#""|0|""#)
                .unwrap_err()
                .contains("odd number")
        );
        assert!(
            parse_content(r#""|zz|""#)
                .unwrap_err()
                .contains("hex digits")
        );
        assert!(parse_content(r#""abc"#).unwrap_err().contains("closing"));
        assert!(
            parse_content(r#""|41""#)
                .unwrap_err()
                .contains("closing `|`")
        );
        assert!(parse_content("abc").unwrap_err().contains("quoted"));
        assert_eq!(
            parse_content(r#""Content-Length|3a 20|0|0d 0a|""#).unwrap(),
            b"Content-Length: 0\r\n"
        );
        assert_eq!(parse_content(r#""|3 a20|""#).unwrap(), b": ");
    }

    #[test]
    fn address_lists_are_remembered_per_text() {
        let vars = crate::config::Vars::default();
        let mut names = Names::default();
        let home = parse_addrs("$HOME_NET", &vars).unwrap();
        assert_eq!(names.addrs("$HOME_NET", &vars).unwrap(), home);
        assert_eq!(names.addrs("$HOME_NET", &vars).unwrap(), home);
        assert_eq!(names.addrs.len(), 1);
        // Errors are not remembered: each rule reports its own.
        for _ in 0..2 {
            assert!(names.addrs("[1.2.3.4,", &vars).is_err());
        }
        assert_eq!(names.addrs.len(), 1);
        // Past the limit, lists are still parsed (just not remembered).
        for i in 0..ADDR_MEMO_MAX + 10 {
            let a = format!("10.{}.{}.1", i / 256, i % 256);
            assert!(
                names
                    .addrs(&a, &vars)
                    .unwrap()
                    .contains("10.0.0.1".parse().unwrap())
                    == (i == 0)
            );
        }
        assert_eq!(names.addrs.len(), ADDR_MEMO_MAX);
    }

    #[test]
    fn comparisons() {
        assert_eq!(parse_cmp(">10", true).unwrap(), Cmp::Gt(10));
        assert_eq!(parse_cmp("10<>20", true).unwrap(), Cmp::Between(10, 20));
        assert_eq!(parse_cmp("!5", true).unwrap(), Cmp::Ne(5));
        assert_eq!(parse_cmp("3-5", false).unwrap(), Cmp::Within(3, 5));
        assert_eq!(parse_cmp(" 300 ", true).unwrap(), Cmp::Eq(300));
        assert!(parse_cmp("20<>10", true).is_err());
        assert!(parse_cmp("x", true).is_err());
    }

    #[test]
    fn flags() {
        assert_eq!(parse_flags("SA").unwrap(), (FlagMod::Exact, 0x12, 0));
        assert_eq!(parse_flags("S,12").unwrap(), (FlagMod::Exact, 0x02, 0xC0));
        assert_eq!(parse_flags("A+").unwrap(), (FlagMod::Plus, 0x10, 0));
        assert_eq!(parse_flags("!R").unwrap(), (FlagMod::Not, 0x04, 0));
        assert_eq!(parse_flags("0").unwrap(), (FlagMod::Exact, 0, 0));
        assert!(parse_flags("SX").is_err());
    }

    #[test]
    fn thresholds() {
        let t = parse_threshold("type limit, track by_src, count 1, seconds 60", false).unwrap();
        assert_eq!(t.kind, ThKind::Limit);
        assert_eq!(t.track, Track::BySrc);
        let t =
            parse_threshold("type backoff, track by_flow, count 1, multiplier 2", false).unwrap();
        assert_eq!(t.kind, ThKind::Backoff { multiplier: 2 });
        let t = parse_threshold(
            "track by_src, count 3, seconds 60, unique_on src_port",
            true,
        )
        .unwrap();
        assert_eq!(t.unique_on, Some(UniqueOn::SrcPort));
        assert!(parse_threshold("type limit, count 1, seconds 60", false).is_err());
    }
}
