//! A streaming MIME reader for mail bodies: top-level header fields, nested
//! multipart structure, attachment names and URLs in text parts (after
//! quoted-printable or base64 decoding) — what Suricata's `email` object holds.
//!
//! Lines are fed without their terminator. Everything is bounded: header
//! values by [`MimeLimits::header_value_depth`], the number of headers, URLs and
//! attachments, the multipart nesting depth.

use crate::files::starts_with_nocase;
use crate::files::util::trim;

/// Bounds of the MIME reader.
#[derive(Clone, Debug)]
pub struct MimeLimits {
    /// Bytes of a header value kept (Suricata's `header-value-depth`, 2000).
    pub header_value_depth: usize,
    /// Top-level header fields kept (default 256).
    pub max_headers: usize,
    /// URLs kept per message (default 64).
    pub max_urls: usize,
    /// Attachment names kept per message (default 64).
    pub max_attachments: usize,
    /// Multipart nesting depth followed (default 8).
    pub max_depth: usize,
    /// URL schemes extracted (default `http`).
    pub url_schemes: Vec<String>,
    /// Keep the scheme in logged URLs (default false, as Suricata).
    pub log_url_scheme: bool,
}

impl Default for MimeLimits {
    fn default() -> Self {
        MimeLimits {
            header_value_depth: 2000,
            max_headers: 256,
            max_urls: 64,
            max_attachments: 64,
            max_depth: 8,
            url_schemes: vec!["http".into()],
            log_url_scheme: false,
        }
    }
}

/// How far the reader got (EVE `email.status`).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum MimeStatus {
    /// Reading the top-level header block.
    HeaderStarted,
    /// Reading the body.
    BodyStarted,
    /// The message ended normally.
    ParseDone,
    /// The message ended in an unexpected way (chained mails, gap).
    ParseError,
}

impl MimeStatus {
    /// EVE spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            MimeStatus::HeaderStarted => "HEADER_STARTED",
            MimeStatus::BodyStarted => "BODY_STARTED",
            MimeStatus::ParseDone => "PARSE_DONE",
            MimeStatus::ParseError => "PARSE_ERROR",
        }
    }
}

#[derive(Copy, Clone, Debug, PartialEq, Eq)]
enum Encoding {
    None,
    QuotedPrintable,
    Base64,
}

#[derive(Copy, Clone, Debug, PartialEq, Eq)]
enum PartKind {
    Text,
    Attachment,
    Other,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum State {
    /// Top-level header block.
    Headers,
    /// Header block of a part.
    PartHeaders,
    /// Between a multipart's start and its first boundary (or after its end).
    Skip,
    /// Body of a leaf part (or of a single-part message).
    Body(PartKind, Encoding),
}

/// A header field (name lower-cased, value unfolded and bounded).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Field {
    /// Name, lower-cased.
    pub name: Vec<u8>,
    /// Value, leading and trailing white space removed.
    pub value: Vec<u8>,
}

/// The MIME reader of one message.
#[derive(Clone, Debug)]
pub struct MimeParser {
    limits: MimeLimits,
    state: State,
    status: MimeStatus,
    headers: Vec<Field>,
    part_headers: Vec<Field>,
    boundaries: Vec<Vec<u8>>,
    urls: Vec<Vec<u8>>,
    attachments: Vec<Vec<u8>>,
    /// Decoded text waiting for a hard line end (quoted-printable soft breaks).
    text: Vec<u8>,
    /// Base64 characters not yet decoded (less than a quantum).
    b64: Vec<u8>,
}

impl MimeParser {
    /// A reader with the given bounds.
    pub fn new(limits: MimeLimits) -> Self {
        MimeParser {
            limits,
            state: State::Headers,
            status: MimeStatus::HeaderStarted,
            headers: Vec::new(),
            part_headers: Vec::new(),
            boundaries: Vec::new(),
            urls: Vec::new(),
            attachments: Vec::new(),
            text: Vec::new(),
            b64: Vec::new(),
        }
    }

    /// Top-level header fields, in order.
    pub fn headers(&self) -> &[Field] {
        &self.headers
    }

    /// The first top-level header named `name` (lower-case).
    pub fn header(&self, name: &[u8]) -> Option<&[u8]> {
        self.headers
            .iter()
            .find(|f| f.name == name)
            .map(|f| f.value.as_slice())
    }

    /// URLs found in text parts (without scheme unless configured).
    pub fn urls(&self) -> &[Vec<u8>] {
        &self.urls
    }

    /// Attachment file names.
    pub fn attachments(&self) -> &[Vec<u8>] {
        &self.attachments
    }

    /// Parse status.
    pub fn status(&self) -> MimeStatus {
        self.status
    }

    /// The message ended normally.
    pub fn complete(&mut self) {
        self.flush_text();
        self.status = MimeStatus::ParseDone;
    }

    /// The message ended abnormally.
    pub fn abort(&mut self) {
        self.flush_text();
        self.status = MimeStatus::ParseError;
    }

    fn add_field(list: &mut Vec<Field>, line: &[u8], limits: &MimeLimits, max: usize) {
        if matches!(line.first(), Some(b' ' | b'\t')) {
            // Folded continuation: unfold (drop the line break only).
            if let Some(last) = list.last_mut() {
                let room = limits.header_value_depth.saturating_sub(last.value.len());
                let add = &line[..line.len().min(room)];
                last.value.extend_from_slice(add);
                let t = trim(&last.value).to_vec();
                last.value = t;
            }
            return;
        }
        let Some(colon) = memchr::memchr(b':', line) else {
            return;
        };
        if list.len() >= max {
            return;
        }
        let name = trim(&line[..colon]).to_ascii_lowercase();
        let v = trim(&line[colon + 1..]);
        let v = &v[..v.len().min(limits.header_value_depth)];
        list.push(Field {
            name,
            value: v.to_vec(),
        });
    }

    /// Feeds one line of the message (without its terminator).
    pub fn line(&mut self, line: &[u8]) {
        // Boundaries are recognised in every body state.
        if !matches!(self.state, State::Headers)
            && line.starts_with(b"--")
            && let Some((i, end)) = self.match_boundary(line)
        {
            self.flush_text();
            self.b64.clear();
            if end {
                self.boundaries.truncate(i);
                self.state = State::Skip;
            } else {
                self.boundaries.truncate(i + 1);
                self.part_headers.clear();
                self.state = State::PartHeaders;
            }
            return;
        }
        match self.state.clone() {
            State::Headers => {
                if line.is_empty() {
                    self.status = MimeStatus::BodyStarted;
                    let fields = std::mem::take(&mut self.headers);
                    self.state = self.start_body(&fields, true);
                    self.headers = fields;
                } else {
                    let max = self.limits.max_headers;
                    Self::add_field(&mut self.headers, line, &self.limits, max);
                }
            }
            State::PartHeaders => {
                if line.is_empty() {
                    let fields = std::mem::take(&mut self.part_headers);
                    self.state = self.start_body(&fields, false);
                } else {
                    Self::add_field(&mut self.part_headers, line, &self.limits, 64);
                }
            }
            State::Skip | State::Body(PartKind::Attachment | PartKind::Other, _) => {}
            State::Body(PartKind::Text, enc) => self.text_line(line, enc),
        }
    }

    /// `(index, is_end)` of the innermost boundary `line` delimits.
    fn match_boundary(&self, line: &[u8]) -> Option<(usize, bool)> {
        let rest = &line[2..];
        for (i, b) in self.boundaries.iter().enumerate().rev() {
            if let Some(after) = rest.strip_prefix(b.as_slice()) {
                let after = trim(after);
                if after.is_empty() {
                    return Some((i, false));
                }
                if after == b"--" {
                    return Some((i, true));
                }
            }
        }
        None
    }

    /// Decides what follows a header block.
    fn start_body(&mut self, fields: &[Field], top: bool) -> State {
        let get = |n: &[u8]| {
            fields
                .iter()
                .find(|f| f.name == n)
                .map(|f| f.value.as_slice())
        };
        let ctype = get(b"content-type").unwrap_or(b"text/plain");
        if starts_with_nocase(ctype, b"multipart/")
            && let Some(b) = param_value(ctype, b"boundary")
            && self.boundaries.len() < self.limits.max_depth
        {
            self.boundaries.push(b);
            return State::Skip;
        }
        let disp = get(b"content-disposition").unwrap_or(b"");
        let filename = param_value(disp, b"filename").or_else(|| param_value(ctype, b"name"));
        let attachment = starts_with_nocase(disp, b"attachment") || filename.is_some();
        let enc = match get(b"content-transfer-encoding").map(trim) {
            Some(e) if e.eq_ignore_ascii_case(b"quoted-printable") => Encoding::QuotedPrintable,
            Some(e) if e.eq_ignore_ascii_case(b"base64") => Encoding::Base64,
            _ => Encoding::None,
        };
        if attachment && !top {
            if self.attachments.len() < self.limits.max_attachments {
                self.attachments.push(filename.unwrap_or_default());
            }
            return State::Body(PartKind::Attachment, enc);
        }
        let kind = if starts_with_nocase(trim(ctype), b"text/") {
            PartKind::Text
        } else {
            PartKind::Other
        };
        State::Body(kind, enc)
    }

    fn text_line(&mut self, line: &[u8], enc: Encoding) {
        match enc {
            Encoding::None => {
                self.text.extend_from_slice(line);
                self.flush_text();
            }
            Encoding::QuotedPrintable => {
                let (soft, body) = match line.strip_suffix(b"=") {
                    Some(b) => (true, b),
                    None => (false, line),
                };
                let mut i = 0;
                while i < body.len() {
                    let c = body[i];
                    if c == b'='
                        && let (Some(h), Some(l)) = (
                            body.get(i + 1).copied().and_then(hexv),
                            body.get(i + 2).copied().and_then(hexv),
                        )
                    {
                        self.text.push((h << 4) | l);
                        i += 3;
                        continue;
                    }
                    self.text.push(c);
                    i += 1;
                }
                if !soft || self.text.len() > 8192 {
                    self.flush_text();
                }
            }
            Encoding::Base64 => {
                self.b64
                    .extend(line.iter().copied().filter(|c| b64v(*c).is_some()));
                let whole = self.b64.len() / 4 * 4;
                let chunk: Vec<u8> = self.b64.drain(..whole).collect();
                for q in chunk.chunks(4) {
                    let v: Vec<u8> = q.iter().filter_map(|c| b64v(*c)).collect();
                    if let [a, b, c, d] = v[..] {
                        let n = (u32::from(a) << 18)
                            | (u32::from(b) << 12)
                            | (u32::from(c) << 6)
                            | u32::from(d);
                        self.text.extend_from_slice(&n.to_be_bytes()[1..]);
                    }
                }
                if line.ends_with(b"=") || self.text.len() > 8192 {
                    // Padding: the encoded text ended.
                    self.flush_text();
                } else if let Some(nl) = memchr::memrchr(b'\n', &self.text) {
                    // Scan complete decoded lines; keep the rest for later.
                    let rest = self.text.split_off(nl + 1);
                    self.flush_text();
                    self.text = rest;
                }
            }
        }
    }

    /// Scans the pending decoded text for URLs.
    fn flush_text(&mut self) {
        if self.text.is_empty() {
            return;
        }
        let text = std::mem::take(&mut self.text);
        for scheme in &self.limits.url_schemes {
            let pat = format!("{scheme}://");
            let lower = text.to_ascii_lowercase();
            let mut from = 0;
            while let Some(i) = memchr::memmem::find(&lower[from..], pat.as_bytes()) {
                let start = from + i;
                let body_start = start + pat.len();
                let end = text[body_start..]
                    .iter()
                    .position(|c| {
                        c.is_ascii_whitespace() || matches!(c, b'"' | b'\'' | b'<' | b'>')
                    })
                    .map_or(text.len(), |e| body_start + e);
                let url = if self.limits.log_url_scheme {
                    &text[start..end]
                } else {
                    &text[body_start..end]
                };
                if !url.is_empty()
                    && self.urls.len() < self.limits.max_urls
                    && !self.urls.iter().any(|u| u == url)
                {
                    self.urls.push(url.to_vec());
                }
                from = end.max(body_start);
            }
        }
        let mut t = text;
        t.clear();
        self.text = t;
    }
}

fn hexv(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

fn b64v(c: u8) -> Option<u8> {
    match c {
        b'A'..=b'Z' => Some(c - b'A'),
        b'a'..=b'z' => Some(c - b'a' + 26),
        b'0'..=b'9' => Some(c - b'0' + 52),
        b'+' => Some(62),
        b'/' => Some(63),
        _ => None,
    }
}

/// A `name=value` parameter of a structured header (`boundary="x"`), quotes
/// removed.
pub fn param_value(v: &[u8], name: &[u8]) -> Option<Vec<u8>> {
    let lower = v.to_ascii_lowercase();
    let mut from = 0;
    while let Some(i) = memchr::memmem::find(&lower[from..], name) {
        let at = from + i;
        let before_ok = at == 0 || matches!(lower[at - 1], b';' | b' ' | b'\t');
        let after = trim(&v[at + name.len()..]);
        if before_ok && let Some(val) = after.strip_prefix(b"=") {
            let val = trim(val);
            let out = if let Some(q) = val.strip_prefix(b"\"") {
                let end = memchr::memchr(b'"', q).unwrap_or(q.len());
                &q[..end]
            } else {
                let end = val
                    .iter()
                    .position(|&c| c == b';' || c.is_ascii_whitespace())
                    .unwrap_or(val.len());
                &val[..end]
            };
            return Some(out.to_vec());
        }
        from = at + name.len();
    }
    None
}

/// Splits an address list on commas outside quotes and angle brackets, trims
/// each entry and drops empty ones.
pub fn split_addresses(v: &[u8]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut cur = Vec::new();
    let (mut quoted, mut angle) = (false, false);
    for &c in v {
        match c {
            b'"' => quoted = !quoted,
            b'<' if !quoted => angle = true,
            b'>' if !quoted => angle = false,
            b',' if !quoted && !angle => {
                let t = trim(&cur);
                if !t.is_empty() {
                    out.push(t.to_vec());
                }
                cur.clear();
                continue;
            }
            _ => {}
        }
        cur.push(c);
    }
    let t = trim(&cur);
    if !t.is_empty() {
        out.push(t.to_vec());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn feed(text: &str) -> MimeParser {
        let mut m = MimeParser::new(MimeLimits::default());
        for l in text.split("\r\n") {
            m.line(l.as_bytes());
        }
        m.complete();
        m
    }

    #[test]
    fn multipart_with_urls_and_attachments() {
        let m = feed(concat!(
            "From: toto <toto@gmail.com>\r\nTo: 172.16.92.2@linuxbox\r\nSubject: test\r\n",
            "Content-Type: multipart/mixed; boundary=\"+Jk\"\r\n\r\n",
            "preamble\r\n--+Jk\r\nContent-Type: text/plain\r\n\r\nclick http://www.test.com/malware.exe?hahah now\r\n",
            "--+Jk\r\nContent-Type: application/octet-stream; name=\"a.exe\"\r\nContent-Transfer-Encoding: base64\r\n\r\nTVqQAAMAAAAEAAAA//8AALgA\r\n",
            "--+Jk\r\nContent-Type: text/html\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n<a href=3D\"http://evil.ex=\r\nample/x\">x</a>\r\n",
            "--+Jk--\r\nepilogue http://not.a.part/\r\n",
        ));
        assert_eq!(m.header(b"from"), Some(&b"toto <toto@gmail.com>"[..]));
        assert_eq!(
            m.urls(),
            &[
                b"www.test.com/malware.exe?hahah".to_vec(),
                b"evil.example/x".to_vec()
            ]
        );
        assert_eq!(m.attachments(), &[b"a.exe".to_vec()]);
        assert_eq!(m.status(), MimeStatus::ParseDone);
    }

    #[test]
    fn base64_text_and_folding() {
        // "see http://b64.example/p\n" in base64, split over lines.
        let m = feed(concat!(
            "Content-Type: text/plain\r\nContent-Transfer-Encoding: base64\r\nX-Long: a\r\n b\r\n\r\n",
            "c2VlIGh0dHA6Ly9i\r\nNjQuZXhhbXBsZS9wCg==\r\n",
        ));
        assert_eq!(m.urls(), &[b"b64.example/p".to_vec()]);
        assert_eq!(m.header(b"x-long"), Some(&b"a b"[..]));
    }

    #[test]
    fn address_lists() {
        assert_eq!(
            split_addresses(b"\"jam,abrakadabra.ch\" <mirjam@abrakadabra.ch>"),
            vec![b"\"jam,abrakadabra.ch\" <mirjam@abrakadabra.ch>".to_vec()]
        );
        assert_eq!(
            split_addresses(b"a@b, c <d,e@f> ,"),
            vec![b"a@b".to_vec(), b"c <d,e@f>".to_vec()]
        );
        assert!(split_addresses(b"  ").is_empty());
        assert_eq!(
            param_value(b"multipart/mixed; boundary=\"x y\"", b"boundary"),
            Some(b"x y".to_vec())
        );
        assert_eq!(
            param_value(b"attachment; filename=a.pdf; size=3", b"filename"),
            Some(b"a.pdf".to_vec())
        );
        assert_eq!(param_value(b"text/plain", b"boundary"), None);
    }
}
