//! One HTTP transaction (request and response) and the inspection buffers the
//! rule engine reads from it through [`TxView`].

use std::cell::OnceCell;
use stormwatch_model::{AppProto, BufferId, Direction, TxField, TxView};

/// A header field as kept by the parser (repeated fields are merged with `, `,
/// as libhtp does).
///
/// Name and value share one allocation (the name first), as most fields are
/// never changed after they are read.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Header {
    buf: Vec<u8>,
    name_len: usize,
}

impl Header {
    /// A field `name: value`.
    pub fn new(name: &[u8], value: &[u8]) -> Header {
        let mut buf = Vec::with_capacity(name.len() + value.len());
        buf.extend_from_slice(name);
        buf.extend_from_slice(value);
        Header {
            buf,
            name_len: name.len(),
        }
    }
    /// Name as sent.
    pub fn name(&self) -> &[u8] {
        self.buf.get(..self.name_len).unwrap_or_default()
    }
    /// Value, trimmed, folded lines joined with a space.
    pub fn value(&self) -> &[u8] {
        self.buf.get(self.name_len..).unwrap_or_default()
    }
    /// Appends to the value.
    pub(crate) fn extend_value(&mut self, more: &[u8]) {
        self.buf.extend_from_slice(more);
    }
}

/// One request/response exchange.
#[derive(Clone, Debug, Default)]
pub struct HttpTx {
    pub(crate) id: u64,
    // ---- request ----
    pub(crate) has_request: bool,
    pub(crate) request_line: Vec<u8>,
    pub(crate) method: Vec<u8>,
    pub(crate) uri: Vec<u8>,
    pub(crate) protocol: Vec<u8>,
    pub(crate) is_09: bool,
    pub(crate) req_headers: Vec<Header>,
    pub(crate) req_headers_raw: Vec<u8>,
    pub(crate) req_headers_cut: bool,
    pub(crate) uri_norm: Vec<u8>,
    pub(crate) hostname: Vec<u8>,
    pub(crate) port: Option<u16>,
    /// Derived buffers, built on first use by a rule.
    pub(crate) req_header_buf: OnceCell<Vec<u8>>,
    pub(crate) req_header_names: OnceCell<Vec<u8>>,
    pub(crate) req_start: OnceCell<Vec<u8>>,
    pub(crate) req_body: Vec<u8>,
    pub(crate) req_body_len: u64,
    pub(crate) req_headers_done: bool,
    pub(crate) req_done: bool,
    // ---- response ----
    pub(crate) has_response: bool,
    pub(crate) response_line: Vec<u8>,
    pub(crate) status: Vec<u8>,
    pub(crate) status_number: Option<u16>,
    pub(crate) status_msg: Vec<u8>,
    pub(crate) res_headers: Vec<Header>,
    /// The response's raw header block, kept only for rules
    /// (`http.header.raw` to the client).
    pub(crate) res_headers_raw: Vec<u8>,
    pub(crate) res_headers_cut: bool,
    /// `http.header`, `http.header_names` and `http.start` of the response,
    /// built on first use by a rule.
    pub(crate) res_header_buf: OnceCell<Vec<u8>>,
    pub(crate) res_header_names: OnceCell<Vec<u8>>,
    pub(crate) res_start: OnceCell<Vec<u8>>,
    pub(crate) res_body: Vec<u8>,
    pub(crate) res_body_len: u64,
    pub(crate) res_headers_done: bool,
    pub(crate) res_done: bool,
    pub(crate) logged: bool,
    /// The EVE object built when the response completed (reused by the record).
    pub(crate) json_cache: Option<serde_json::Value>,
}

fn find_header<'a>(hs: &'a [Header], name: &[u8]) -> Option<&'a [u8]> {
    hs.iter()
        .find(|h| h.name().eq_ignore_ascii_case(name))
        .map(Header::value)
}

impl HttpTx {
    /// Transaction number within the flow (EVE `tx_id`).
    pub fn id(&self) -> u64 {
        self.id
    }
    /// Request method (empty when no request was seen).
    pub fn method(&self) -> &[u8] {
        &self.method
    }
    /// Request target as sent (EVE `url`).
    pub fn uri(&self) -> &[u8] {
        &self.uri
    }
    /// Normalised URI (`http.uri`).
    pub fn normalized_uri(&self) -> &[u8] {
        &self.uri_norm
    }
    /// Request protocol (`HTTP/1.1`), empty when missing.
    pub fn protocol(&self) -> &[u8] {
        &self.protocol
    }
    /// Normalised host name (lower-case, no port) from the URI or Host header.
    pub fn hostname(&self) -> &[u8] {
        &self.hostname
    }
    /// Port named in the URI or Host header, if any.
    pub fn port(&self) -> Option<u16> {
        self.port
    }
    /// Request header fields.
    pub fn request_headers(&self) -> &[Header] {
        &self.req_headers
    }
    /// Response header fields.
    pub fn response_headers(&self) -> &[Header] {
        &self.res_headers
    }
    /// A request header's value (case-insensitive name).
    pub fn request_header(&self, name: &[u8]) -> Option<&[u8]> {
        find_header(&self.req_headers, name)
    }
    /// A response header's value (case-insensitive name).
    pub fn response_header(&self, name: &[u8]) -> Option<&[u8]> {
        find_header(&self.res_headers, name)
    }
    /// Status code as sent (may be non-numeric).
    pub fn status(&self) -> &[u8] {
        &self.status
    }
    /// Status code as a number, when valid.
    pub fn status_number(&self) -> Option<u16> {
        self.status_number
    }
    /// Response body length (bytes of body seen, chunk framing removed).
    pub fn response_body_len(&self) -> u64 {
        self.res_body_len
    }
    /// Request body length.
    pub fn request_body_len(&self) -> u64 {
        self.req_body_len
    }
    /// The kept start of the request body (bounded window).
    pub fn request_body(&self) -> &[u8] {
        &self.req_body
    }
    /// The kept start of the response body (bounded window).
    pub fn response_body(&self) -> &[u8] {
        &self.res_body
    }
    /// True when a request line was seen.
    pub fn has_request(&self) -> bool {
        self.has_request
    }
    /// True when a response line was seen.
    pub fn has_response(&self) -> bool {
        self.has_response
    }
    /// Declared response Content-Length, when valid.
    pub fn response_content_length(&self) -> Option<u64> {
        self.response_header(b"content-length")
            .and_then(super::parser::parse_content_length)
    }

    /// The request header block is complete: derived buffers may be built.
    pub(crate) fn finish_request_headers(&mut self) {
        self.req_headers_done = true;
    }

    /// `http.header`: "Name: value\r\n" per field, without Cookie.
    fn header_buf(&self) -> &[u8] {
        self.req_header_buf
            .get_or_init(|| header_block(&self.req_headers, b"cookie"))
    }

    /// `http.header` of the response: every field but `Set-Cookie` (that is
    /// the response's `http.cookie`).
    fn res_header_buf(&self) -> &[u8] {
        self.res_header_buf
            .get_or_init(|| header_block(&self.res_headers, b"set-cookie"))
    }

    /// `http.header_names`: "\r\n" + "Name\r\n" per field + "\r\n".
    fn header_names(&self) -> &[u8] {
        self.req_header_names
            .get_or_init(|| names_block(&self.req_headers))
    }

    /// `http.start`: request line and header fields.
    fn start(&self) -> &[u8] {
        self.req_start
            .get_or_init(|| start_block(&self.request_line, &self.req_headers))
    }

    fn one(&self, id: BufferId) -> Option<&[u8]> {
        use BufferId::*;
        let v: &[u8] = match id {
            HttpUri => &self.uri_norm,
            HttpRawUri => &self.uri,
            HttpMethod => &self.method,
            HttpProtocol => &self.protocol,
            HttpRequestLine => &self.request_line,
            HttpResponseLine => &self.response_line,
            HttpStart if self.req_headers_done => self.start(),
            HttpHost => &self.hostname,
            HttpRawHost => self.request_header(b"host")?,
            HttpHeader if self.req_headers_done => self.header_buf(),
            HttpRawHeader => &self.req_headers_raw,
            HttpResponseHeader if self.res_headers_done => self.res_header_buf(),
            HttpResponseRawHeader => &self.res_headers_raw,
            HttpResponseCookie => self.response_header(b"set-cookie")?,
            HttpResponseContentType => self.response_header(b"content-type")?,
            HttpResponseContentLen => self.response_header(b"content-length")?,
            HttpResponseHeaderNames if self.res_headers_done => self
                .res_header_names
                .get_or_init(|| names_block(&self.res_headers)),
            HttpResponseStart if self.res_headers_done => self
                .res_start
                .get_or_init(|| start_block(&self.response_line, &self.res_headers)),
            HttpHeaderNames if self.req_headers_done => self.header_names(),
            HttpUserAgent => self.request_header(b"user-agent")?,
            HttpCookie => self.request_header(b"cookie")?,
            HttpReferer => self.request_header(b"referer")?,
            HttpContentType => self.request_header(b"content-type")?,
            HttpContentLen => self.request_header(b"content-length")?,
            HttpAccept => self.request_header(b"accept")?,
            HttpAcceptEnc => self.request_header(b"accept-encoding")?,
            HttpAcceptLang => self.request_header(b"accept-language")?,
            HttpConnection => self.request_header(b"connection")?,
            HttpLocation => self.response_header(b"location")?,
            HttpServer => self.response_header(b"server")?,
            HttpStatCode => &self.status,
            HttpStatMsg => &self.status_msg,
            HttpRequestBody => &self.req_body,
            HttpResponseBody | FileData => &self.res_body,
            _ => return None,
        };
        match id {
            // Headers that exist but are empty are still buffers.
            HttpRawHost
            | HttpUserAgent
            | HttpCookie
            | HttpReferer
            | HttpContentType
            | HttpContentLen
            | HttpAccept
            | HttpAcceptEnc
            | HttpAcceptLang
            | HttpConnection
            | HttpLocation
            | HttpServer
            | HttpResponseCookie
            | HttpResponseContentType
            | HttpResponseContentLen => Some(v),
            HttpHeaderNames | HttpStart if self.req_headers_done => Some(v),
            HttpResponseHeaderNames | HttpResponseStart if self.res_headers_done => Some(v),
            _ if !v.is_empty() => Some(v),
            _ => None,
        }
    }
}

/// `http.header_names` of one direction: "\r\n" + "Name\r\n" per field +
/// "\r\n".
fn names_block(headers: &[Header]) -> Vec<u8> {
    let mut names = b"\r\n".to_vec();
    for h in headers {
        names.extend_from_slice(h.name());
        names.extend_from_slice(b"\r\n");
    }
    names.extend_from_slice(b"\r\n");
    names
}

/// `http.start` of one direction: its first line and every field, as
/// "Name: value\r\n", then "\r\n".
fn start_block(line: &[u8], headers: &[Header]) -> Vec<u8> {
    let mut start = line.to_vec();
    start.extend_from_slice(b"\r\n");
    for h in headers {
        start.extend_from_slice(h.name());
        start.extend_from_slice(b": ");
        start.extend_from_slice(h.value());
        start.extend_from_slice(b"\r\n");
    }
    start.extend_from_slice(b"\r\n");
    start
}

/// "Name: value\r\n" per field of `headers` but those named `skip` (ASCII
/// case ignored): the `http.header` buffer of one direction.
fn header_block(headers: &[Header], skip: &[u8]) -> Vec<u8> {
    let mut hb = Vec::new();
    for h in headers {
        if h.name().eq_ignore_ascii_case(skip) {
            continue;
        }
        hb.extend_from_slice(h.name());
        hb.extend_from_slice(b": ");
        hb.extend_from_slice(h.value());
        hb.extend_from_slice(b"\r\n");
    }
    hb
}

impl TxView for HttpTx {
    fn app_proto(&self) -> AppProto {
        AppProto::Http
    }

    fn tx_id(&self) -> u64 {
        self.id
    }

    fn buffer_count(&self, id: BufferId) -> usize {
        usize::from(self.one(id).is_some())
    }

    fn buffer(&self, id: BufferId, idx: usize) -> Option<&[u8]> {
        if idx == 0 { self.one(id) } else { None }
    }

    fn field(&self, f: TxField) -> Option<u64> {
        match f {
            TxField::HttpStatCode => self.status_number.map(u64::from),
            TxField::HttpContentLen => {
                if self.res_headers_done {
                    self.response_content_length()
                } else {
                    self.request_header(b"content-length")
                        .and_then(super::parser::parse_content_length)
                }
            }
            _ => None,
        }
    }

    fn complete(&self, dir: Direction) -> bool {
        match dir {
            Direction::ToServer => self.req_done,
            Direction::ToClient => self.res_done,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derived_buffers() {
        let mut tx = HttpTx {
            has_request: true,
            request_line: b"GET / HTTP/1.1".to_vec(),
            method: b"GET".to_vec(),
            req_headers: vec![
                Header::new(b"Host", b"a"),
                Header::new(b"Cookie", b"c=1"),
                Header::new(b"User-Agent", b""),
            ],
            ..HttpTx::default()
        };
        tx.finish_request_headers();
        assert_eq!(
            tx.buffer(BufferId::HttpHeader, 0),
            Some(&b"Host: a\r\nUser-Agent: \r\n"[..])
        );
        assert_eq!(
            tx.buffer(BufferId::HttpHeaderNames, 0),
            Some(&b"\r\nHost\r\nCookie\r\nUser-Agent\r\n\r\n"[..])
        );
        assert_eq!(tx.buffer(BufferId::HttpCookie, 0), Some(&b"c=1"[..]));
        assert_eq!(tx.buffer(BufferId::HttpUserAgent, 0), Some(&b""[..]));
        assert_eq!(tx.buffer_count(BufferId::HttpReferer), 0);
        assert_eq!(tx.buffer(BufferId::HttpMethod, 1), None);
        assert_eq!(tx.buffer_count(BufferId::HttpStatCode), 0);
        assert!(
            tx.buffer(BufferId::HttpStart, 0)
                .is_some_and(|s| s.starts_with(b"GET / HTTP/1.1\r\nHost: a\r\n"))
        );
        assert_eq!(tx.buffer(BufferId::DnsQuery, 0), None);
    }
}
