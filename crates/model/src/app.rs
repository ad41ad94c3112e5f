//! Application layer: protocol names, typed facts the protocol stage emits, and the
//! inspection buffers it exposes to the rule engine.

use crate::{Direction, FlowId, FlowKey, Timestamp};
use serde::{Deserialize, Serialize};
use std::net::IpAddr;

/// An application protocol, as identified from content (never from the port alone).
#[derive(
    Copy, Clone, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize,
)]
#[serde(rename_all = "kebab-case")]
pub enum AppProto {
    /// Not (yet) identified.
    #[default]
    Unknown,
    /// Identification gave up (Suricata's `failed`).
    Failed,
    /// HTTP/1.x.
    Http,
    /// SSL 3 / TLS, and SSLv2 (as Suricata names it).
    Tls,
    /// Microsoft PCT 1.0 (Private Communication Technology).
    Pct,
    /// DNS over UDP or TCP.
    Dns,
    /// SSH.
    Ssh,
    /// FTP control channel.
    Ftp,
    /// FTP data connection (linked from a control channel).
    FtpData,
    /// SMTP.
    Smtp,
    /// IRC (RFC 1459/2812).
    Irc,
    /// TFTP.
    Tftp,
    /// POP3.
    Pop3,
    /// IMAP.
    Imap,
}

impl AppProto {
    /// The name used in EVE (`app_proto`) and in rule headers.
    pub fn as_str(self) -> &'static str {
        match self {
            AppProto::Unknown => "unknown",
            AppProto::Failed => "failed",
            AppProto::Http => "http",
            AppProto::Tls => "tls",
            AppProto::Pct => "pct",
            AppProto::Dns => "dns",
            AppProto::Ssh => "ssh",
            AppProto::Ftp => "ftp",
            AppProto::FtpData => "ftp-data",
            AppProto::Smtp => "smtp",
            AppProto::Irc => "irc",
            AppProto::Tftp => "tftp",
            AppProto::Pop3 => "pop3",
            AppProto::Imap => "imap",
        }
    }

    /// Parses an EVE / rule-header name (`http`, `http1`, `tls`, `ssl`, ...).
    pub fn from_name(s: &str) -> Option<AppProto> {
        Some(match s.to_ascii_lowercase().as_str() {
            "unknown" => AppProto::Unknown,
            "failed" => AppProto::Failed,
            "http" | "http1" => AppProto::Http,
            "tls" | "ssl" => AppProto::Tls,
            "pct" => AppProto::Pct,
            "dns" => AppProto::Dns,
            "ssh" => AppProto::Ssh,
            "ftp" => AppProto::Ftp,
            "ftp-data" => AppProto::FtpData,
            "smtp" => AppProto::Smtp,
            "irc" => AppProto::Irc,
            "tftp" => AppProto::Tftp,
            "pop3" => AppProto::Pop3,
            "imap" => AppProto::Imap,
            _ => return None,
        })
    }

    /// True once a protocol has been named (neither unknown nor failed).
    pub fn is_known(self) -> bool {
        !matches!(self, AppProto::Unknown | AppProto::Failed)
    }
}

/// Where an application fact happened.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppContext {
    /// Time of the packet that completed the fact.
    pub ts: Timestamp,
    /// Flow.
    pub flow_id: FlowId,
    /// Flow endpoints, client → server.
    pub key: FlowKey,
    /// Direction of the data the fact was read from.
    pub dir: Direction,
}

/// A typed application-layer fact (Zeek's "event"): what the parsers saw, not a judgement.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum AppEvent {
    /// A protocol was identified (or revised) on the flow.
    ProtoDetected {
        /// The protocol.
        proto: AppProto,
        /// The protocol's registered (well-known) server ports do not include the
        /// flow's server port, and the port is registered to another protocol.
        masquerade: bool,
    },
    /// One IRC message.
    Irc(IrcEvent),
    /// An HTTP request or response header block completed.
    Http(HttpEvent),
    /// A TLS / SSLv2 / PCT handshake fact.
    Tls(TlsEvent),
    /// SSH banner or key exchange.
    Ssh(SshEvent),
    /// A DNS query or response.
    Dns(DnsEvent),
    /// FTP command, reply or data-channel link.
    Ftp(FtpEvent),
    /// SMTP envelope facts.
    Smtp(SmtpEvent),
    /// A file (body, data connection, TFTP transfer or raw stream) was seen.
    File(FileEvent),
}

/// An IRC message: `[:prefix] COMMAND params... [:trailing]`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct IrcMessage {
    /// Prefix without the leading colon (`nick!user@host` or a server name).
    pub prefix: Option<String>,
    /// Command word (upper-cased) or three-digit numeric.
    pub command: String,
    /// Parameters; the trailing parameter (after ` :`) is the last element.
    pub params: Vec<String>,
}

/// A CTCP request or reply embedded in PRIVMSG/NOTICE (`\x01VERB args\x01`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ctcp {
    /// CTCP verb (`DCC`, `VERSION`, `ACTION`, ...).
    pub command: String,
    /// The rest.
    pub args: String,
    /// Parsed DCC offer, when the verb is DCC.
    pub dcc: Option<Dcc>,
}

/// A DCC offer (`DCC SEND file ip port size`, `DCC CHAT chat ip port`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Dcc {
    /// `SEND`, `CHAT`, `RESUME`, ...
    pub kind: String,
    /// File name (SEND) or `chat`.
    pub argument: String,
    /// Offered address (from the 32-bit decimal form or a literal).
    pub addr: Option<IpAddr>,
    /// Offered port.
    pub port: u16,
    /// Announced size (SEND).
    pub size: Option<u64>,
}

/// One IRC message with the session context it was seen in.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct IrcEvent {
    /// The message.
    pub msg: IrcMessage,
    /// The client's current nick in this session, if registered.
    pub nick: Option<String>,
    /// Channels the client has joined so far, with keys when given.
    pub channels: Vec<(String, Option<String>)>,
    /// CTCP content of a PRIVMSG/NOTICE.
    pub ctcp: Option<Ctcp>,
}

/// HTTP transaction facts, emitted when a header block completes and again when a
/// body completes.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HttpEvent {
    /// Transaction number within the flow (0-based, as EVE `tx_id`).
    pub tx_id: u64,
    /// Request method.
    pub method: Option<String>,
    /// Request URI as sent.
    pub uri: Option<String>,
    /// Host header.
    pub host: Option<String>,
    /// User-Agent header.
    pub user_agent: Option<String>,
    /// Protocol string (`HTTP/1.1`).
    pub protocol: Option<String>,
    /// Response status.
    pub status: Option<u16>,
    /// Response Content-Type.
    pub content_type: Option<String>,
    /// Response Content-Length (declared).
    pub content_length: Option<u64>,
    /// Referer header.
    pub referer: Option<String>,
    /// Location header.
    pub location: Option<String>,
    /// True when the response part of the transaction is complete.
    pub response_complete: bool,
}

/// TLS / SSLv2 / PCT handshake facts.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum TlsEvent {
    /// SSL3/TLS ClientHello.
    ClientHello {
        /// Legacy version in the hello (e.g. 0x0303).
        version: u16,
        /// Server name indication.
        sni: Option<String>,
        /// JA3 hash (hex MD5).
        ja3: Option<String>,
        /// JA4 fingerprint.
        ja4: Option<String>,
    },
    /// SSL3/TLS ServerHello.
    ServerHello {
        /// Negotiated version (supported_versions extension honoured).
        version: u16,
        /// Chosen cipher suite.
        cipher: u16,
        /// JA3S hash.
        ja3s: Option<String>,
    },
    /// Server certificate (first of the chain).
    Certificate {
        /// Subject DN in Suricata's format (`C=FR, ST=IDF, ...`).
        subject: String,
        /// Issuer DN.
        issuer: String,
        /// Serial as colon-separated hex.
        serial: String,
        /// SHA-1 fingerprint as colon-separated hex.
        fingerprint: String,
        /// notBefore (seconds since epoch).
        not_before: i64,
        /// notAfter.
        not_after: i64,
    },
    /// SSLv2 CLIENT-HELLO (also the SSLv2-compatible hello of SSL3/TLS clients).
    Sslv2ClientHello {
        /// Version field (0x0002 SSLv2, 0x0300 SSL3, 0x0301 TLS 1.0 ...).
        version: u16,
        /// Cipher-spec bytes length.
        cipher_specs_len: u16,
        /// Session-id length.
        session_id_len: u16,
        /// Challenge length.
        challenge_len: u16,
    },
    /// SSLv2 SERVER-HELLO.
    Sslv2ServerHello {
        /// Version.
        version: u16,
    },
    /// PCT 1.0 CLIENT-HELLO.
    PctClientHello {
        /// Declared client version.
        version: u16,
        /// Declared challenge length.
        challenge_len: u16,
        /// Declared cipher-specs length.
        cipher_specs_len: u16,
        /// Declared key-exchange-specs length (or the field that overflows).
        key_specs_len: u16,
        /// The hello has one of the overflow shapes (oversized declared lengths).
        overflow: bool,
    },
    /// PCT 1.0 SERVER-HELLO.
    PctServerHello,
}

/// SSH facts.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SshEvent {
    /// Protocol version from the banner (`2.0`).
    pub proto_version: String,
    /// Software version (`OpenSSH_5.2`).
    pub software: String,
}

/// A DNS message.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DnsEvent {
    /// Transaction id.
    pub id: u16,
    /// Response (QR bit).
    pub response: bool,
    /// Questions: (name, type).
    pub queries: Vec<(String, u16)>,
    /// Response code.
    pub rcode: u8,
    /// Answers: (name, type, rdata as text).
    pub answers: Vec<(String, u16, String)>,
}

/// FTP control-channel facts.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum FtpEvent {
    /// A command and its reply.
    Command {
        /// Command verb.
        command: String,
        /// Argument.
        arg: String,
        /// Reply code(s).
        reply: Vec<u16>,
    },
    /// A data connection was announced (PORT/PASV/EPSV/EPRT).
    DataExpected {
        /// Address the data connection will go to.
        addr: IpAddr,
        /// Port.
        port: u16,
    },
}

/// SMTP facts.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SmtpEvent {
    /// HELO/EHLO argument.
    pub helo: Option<String>,
    /// MAIL FROM.
    pub mail_from: Option<String>,
    /// RCPT TO list.
    pub rcpt_to: Vec<String>,
    /// STARTTLS was accepted.
    pub starttls: bool,
}

/// What a file's first bytes say it is.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FileMagic {
    /// Windows PE (MZ header, and a PE signature where it can be checked).
    Pe,
    /// ELF.
    Elf,
    /// Mach-O (thin or fat).
    MachO,
    /// Shell, PowerShell, VBScript, batch or similar script text.
    Script,
    /// ZIP/JAR/Office-OpenXML.
    Zip,
    /// gzip.
    Gzip,
    /// PDF.
    Pdf,
    /// Anything else.
    #[default]
    Other,
}

impl FileMagic {
    /// Executable content (what an "egg" is).
    pub fn is_executable(self) -> bool {
        matches!(
            self,
            FileMagic::Pe | FileMagic::Elf | FileMagic::MachO | FileMagic::Script
        )
    }

    /// Name as written in EVE (`pe`, `elf`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            FileMagic::Pe => "pe",
            FileMagic::Elf => "elf",
            FileMagic::MachO => "mach-o",
            FileMagic::Script => "script",
            FileMagic::Zip => "zip",
            FileMagic::Gzip => "gzip",
            FileMagic::Pdf => "pdf",
            FileMagic::Other => "other",
        }
    }
}

/// A file carried by a protocol (HTTP body, FTP data, TFTP, DCC, raw TCP stream).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileEvent {
    /// Carrying protocol.
    pub proto: AppProto,
    /// File name or URI when the protocol names it.
    pub name: Option<String>,
    /// Content type.
    pub magic: FileMagic,
    /// Bytes seen.
    pub size: u64,
    /// SHA-256 (hex) of the bytes seen, when hashing was enabled for this file.
    pub sha256: Option<String>,
    /// The whole file was seen (no gap, no truncation, declared length met).
    pub complete: bool,
    /// Transaction id within the flow, where the protocol has transactions.
    pub tx_id: Option<u64>,
}

/// A named inspection buffer the rule engine can match (`http.uri`, `tls.sni`, ...).
/// Names are Suricata's sticky-buffer names.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[allow(missing_docs)]
pub enum BufferId {
    HttpUri,
    HttpRawUri,
    HttpMethod,
    HttpProtocol,
    HttpRequestLine,
    HttpResponseLine,
    HttpStart,
    HttpHost,
    HttpRawHost,
    HttpHeader,
    HttpRawHeader,
    HttpHeaderNames,
    HttpUserAgent,
    HttpCookie,
    HttpReferer,
    HttpContentType,
    HttpContentLen,
    HttpAccept,
    HttpAcceptEnc,
    HttpAcceptLang,
    HttpConnection,
    HttpLocation,
    HttpServer,
    HttpStatCode,
    HttpStatMsg,
    HttpRequestBody,
    HttpResponseBody,
    /// `file.data` / `file_data`: the response body (HTTP) or file content.
    FileData,
    /// `http.header` / `http_header` of the response: rules name
    /// [`BufferId::HttpHeader`], which reads this for data to the client (as
    /// Suricata's buffer does).
    HttpResponseHeader,
    /// `http.header.raw` / `http_raw_header` of the response (see
    /// [`BufferId::HttpResponseHeader`]).
    HttpResponseRawHeader,
    /// `http.cookie` / `http_cookie` of the response (`Set-Cookie`; see
    /// [`BufferId::HttpResponseHeader`]).
    HttpResponseCookie,
    /// `http.content_type` of the response (see [`BufferId::HttpResponseHeader`]).
    HttpResponseContentType,
    /// `http.content_len` of the response (see [`BufferId::HttpResponseHeader`]).
    HttpResponseContentLen,
    /// `http.header_names` of the response (see [`BufferId::HttpResponseHeader`]).
    HttpResponseHeaderNames,
    /// `http.start` of the response: status line and header fields (see
    /// [`BufferId::HttpResponseHeader`]).
    HttpResponseStart,
    TlsSni,
    TlsCertSubject,
    TlsCertIssuer,
    TlsCertSerial,
    TlsCertFingerprint,
    TlsVersion,
    DnsQuery,
    SshProto,
    SshSoftware,
    IrcCommand,
    IrcParams,
    IrcNick,
    IrcChannel,
    FtpCommand,
    SmtpHelo,
    SmtpMailFrom,
    SmtpRcptTo,
}

impl BufferId {
    /// Every buffer, in declaration order.
    pub const ALL: &'static [BufferId] = &[
        BufferId::HttpUri,
        BufferId::HttpRawUri,
        BufferId::HttpMethod,
        BufferId::HttpProtocol,
        BufferId::HttpRequestLine,
        BufferId::HttpResponseLine,
        BufferId::HttpStart,
        BufferId::HttpHost,
        BufferId::HttpRawHost,
        BufferId::HttpHeader,
        BufferId::HttpRawHeader,
        BufferId::HttpHeaderNames,
        BufferId::HttpUserAgent,
        BufferId::HttpCookie,
        BufferId::HttpReferer,
        BufferId::HttpContentType,
        BufferId::HttpContentLen,
        BufferId::HttpAccept,
        BufferId::HttpAcceptEnc,
        BufferId::HttpAcceptLang,
        BufferId::HttpConnection,
        BufferId::HttpLocation,
        BufferId::HttpServer,
        BufferId::HttpStatCode,
        BufferId::HttpStatMsg,
        BufferId::HttpRequestBody,
        BufferId::HttpResponseBody,
        BufferId::FileData,
        BufferId::HttpResponseHeader,
        BufferId::HttpResponseRawHeader,
        BufferId::HttpResponseCookie,
        BufferId::HttpResponseContentType,
        BufferId::HttpResponseContentLen,
        BufferId::HttpResponseHeaderNames,
        BufferId::HttpResponseStart,
        BufferId::TlsSni,
        BufferId::TlsCertSubject,
        BufferId::TlsCertIssuer,
        BufferId::TlsCertSerial,
        BufferId::TlsCertFingerprint,
        BufferId::TlsVersion,
        BufferId::DnsQuery,
        BufferId::SshProto,
        BufferId::SshSoftware,
        BufferId::IrcCommand,
        BufferId::IrcParams,
        BufferId::IrcNick,
        BufferId::IrcChannel,
        BufferId::FtpCommand,
        BufferId::SmtpHelo,
        BufferId::SmtpMailFrom,
        BufferId::SmtpRcptTo,
    ];
}

/// Scalar facts of a transaction that rule keywords test (not byte buffers).
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[allow(missing_docs)]
pub enum TxField {
    DnsOpcode,
    DnsRcode,
    DnsRrtype,
    /// TLS/SSL record version of the hello in this direction.
    TlsVersion,
    /// Bitmask of SSL handshake states seen (see `SSL_STATE_*`).
    SslState,
    /// Bitmask of SSL/TLS versions seen (see `SSL_VERSION_*`).
    SslVersions,
    HttpStatCode,
    HttpContentLen,
}

/// `SslState` bit: client hello seen.
pub const SSL_STATE_CLIENT_HELLO: u64 = 1;
/// `SslState` bit: server hello seen.
pub const SSL_STATE_SERVER_HELLO: u64 = 2;
/// `SslState` bit: client key exchange seen.
pub const SSL_STATE_CLIENT_KEYX: u64 = 4;
/// `SslState` bit: server key exchange seen.
pub const SSL_STATE_SERVER_KEYX: u64 = 8;
/// `SslState` bit: nothing known.
pub const SSL_STATE_UNKNOWN: u64 = 16;
/// `SslVersions` bit: SSLv2.
pub const SSL_VERSION_SSLV2: u64 = 1;
/// `SslVersions` bit: SSLv3.
pub const SSL_VERSION_SSLV3: u64 = 2;
/// `SslVersions` bit: TLS 1.0.
pub const SSL_VERSION_TLS1_0: u64 = 4;
/// `SslVersions` bit: TLS 1.1.
pub const SSL_VERSION_TLS1_1: u64 = 8;
/// `SslVersions` bit: TLS 1.2.
pub const SSL_VERSION_TLS1_2: u64 = 16;
/// `SslVersions` bit: TLS 1.3.
pub const SSL_VERSION_TLS1_3: u64 = 32;

/// A transaction as the rule engine sees it: named buffers and scalar fields,
/// read in place from the protocol state.
pub trait TxView {
    /// Protocol of the transaction.
    fn app_proto(&self) -> AppProto;
    /// Transaction id within the flow.
    fn tx_id(&self) -> u64;
    /// Number of instances of a buffer (0 when absent; DNS may have several queries).
    fn buffer_count(&self, id: BufferId) -> usize;
    /// Instance `idx` of a buffer.
    fn buffer(&self, id: BufferId, idx: usize) -> Option<&[u8]>;
    /// A scalar field, when known.
    fn field(&self, f: TxField) -> Option<u64>;
    /// Every value of a field a transaction holds several times, in order,
    /// appended to `out` (multi-integer keywords such as `dns.rrtype`: the
    /// rrtypes of a request's questions, or of a response's answers). By
    /// default the one value of [`TxView::field`], if any.
    fn field_values(&self, f: TxField, out: &mut Vec<u64>) {
        out.extend(self.field(f));
    }
    /// True when the part of the transaction flowing in `dir` is complete
    /// (no more buffers will appear for that direction).
    fn complete(&self, dir: Direction) -> bool;
}
