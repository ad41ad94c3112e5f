//! Pure HTTP/1.x parsing functions on borrowed input: request and status lines,
//! header fields, chunk sizes and URI normalisation. They never fail on odd input:
//! like libhtp (Suricata's HTTP library) they take what can be taken and say what
//! was odd through flags, so the state can raise the matching anomaly.

use crate::files::util::{parse_u64, trim};
use nom::{IResult, Needed};

/// Splits off one line, terminated by LF (the LF and an optional CR before it are
/// part of the returned line). `Incomplete` when no LF is present yet.
pub fn take_line(input: &[u8]) -> IResult<&[u8], &[u8]> {
    match memchr::memchr(b'\n', input) {
        Some(i) => Ok((&input[i + 1..], &input[..=i])),
        None => Err(nom::Err::Incomplete(Needed::Unknown)),
    }
}

/// A line without its terminating LF / CRLF.
pub fn chomp(line: &[u8]) -> &[u8] {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    line.strip_suffix(b"\r").unwrap_or(line)
}

/// True for a line holding nothing but its terminator (the end of a header block).
pub fn is_empty_line(line: &[u8]) -> bool {
    chomp(line).is_empty()
}

fn is_space(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\r' | b'\n' | 0x0b | 0x0c)
}

/// The parts of a request line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RequestLine<'a> {
    /// Method (first token).
    pub method: &'a [u8],
    /// Request target as sent (may contain spaces, as libhtp allows).
    pub uri: &'a [u8],
    /// Protocol (`HTTP/1.1`), `None` when missing (HTTP/0.9 form).
    pub protocol: Option<&'a [u8]>,
    /// The line started with white space.
    pub leading_whitespace: bool,
    /// The method was not followed by exactly one space.
    pub method_delim_odd: bool,
}

/// Parses a request line (without its terminator). The URI runs up to the
/// protocol token (`HTTP...`, case-insensitive) when one follows a space, so a
/// URI may contain spaces (`GET /a b HTTP/1.1`); otherwise it ends at the first
/// white space and the protocol is what follows, if anything.
pub fn parse_request_line(line: &[u8]) -> RequestLine<'_> {
    let start = line
        .iter()
        .position(|&c| !is_space(c))
        .unwrap_or(line.len());
    let leading_whitespace = start > 0;
    let rest = &line[start..];
    let m_end = rest.iter().position(|&c| is_space(c)).unwrap_or(rest.len());
    let method = &rest[..m_end];
    let after_m = &rest[m_end..];
    let u_start = after_m
        .iter()
        .position(|&c| !is_space(c))
        .unwrap_or(after_m.len());
    let method_delim_odd = !after_m.is_empty() && (u_start != 1 || after_m.first() != Some(&b' '));
    let tail = trim_end(&after_m[u_start..]);

    // Last occurrence of "<space>HTTP" decides where the URI ends.
    let mut proto_at = None;
    let mut i = tail.len();
    while i > 0 {
        i -= 1;
        if tail[i..].len() >= 4
            && tail[i..i + 4].eq_ignore_ascii_case(b"HTTP")
            && i > 0
            && is_space(tail[i - 1])
        {
            proto_at = Some(i);
            break;
        }
    }
    let (uri, protocol) = match proto_at {
        Some(p) => (trim_end(&tail[..p]), Some(&tail[p..])),
        None => {
            let u_end = tail.iter().position(|&c| is_space(c)).unwrap_or(tail.len());
            let after = trim_start(&tail[u_end..]);
            (
                &tail[..u_end],
                if after.is_empty() { None } else { Some(after) },
            )
        }
    };
    RequestLine {
        method,
        uri,
        protocol,
        leading_whitespace,
        method_delim_odd,
    }
}

fn trim_end(mut s: &[u8]) -> &[u8] {
    while let Some((c, rest)) = s.split_last() {
        if is_space(*c) {
            s = rest;
        } else {
            break;
        }
    }
    s
}

fn trim_start(mut s: &[u8]) -> &[u8] {
    while let Some((c, rest)) = s.split_first() {
        if is_space(*c) {
            s = rest;
        } else {
            break;
        }
    }
    s
}

/// True when a response line starts like a status line (`HTTP`, after optional
/// white space). libhtp treats anything else as the start of a body.
pub fn looks_like_status_line(line: &[u8]) -> bool {
    let t = trim_start(line);
    t.len() >= 4 && t[..4].eq_ignore_ascii_case(b"HTTP")
}

/// The parts of a status line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StatusLine<'a> {
    /// Protocol (`HTTP/1.1`).
    pub protocol: &'a [u8],
    /// Status code as sent (`200`, or oddities like `2XX`).
    pub status: &'a [u8],
    /// The code as a number, when it is three digits (100..=999).
    pub status_number: Option<u16>,
    /// Reason phrase.
    pub message: &'a [u8],
}

/// Parses a status line (without its terminator).
pub fn parse_status_line(line: &[u8]) -> StatusLine<'_> {
    let t = trim_start(line);
    let p_end = t.iter().position(|&c| is_space(c)).unwrap_or(t.len());
    let protocol = &t[..p_end];
    let rest = trim_start(&t[p_end..]);
    let s_end = rest.iter().position(|&c| is_space(c)).unwrap_or(rest.len());
    let status = &rest[..s_end];
    let message = trim(&rest[s_end..]);
    let status_number = parse_u64(status)
        .filter(|n| (100..=999).contains(n))
        .and_then(|n| u16::try_from(n).ok());
    StatusLine {
        protocol,
        status,
        status_number,
        message,
    }
}

/// One line of a header block.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HeaderLine<'a> {
    /// `Name: value` (name with trailing white space removed, value trimmed).
    Field {
        /// Header name as sent.
        name: &'a [u8],
        /// Value.
        value: &'a [u8],
    },
    /// A continuation line (starts with SP or HT): folds into the previous field.
    Fold(&'a [u8]),
    /// A line without a colon (libhtp keeps it as a value without a name).
    MissingColon(&'a [u8]),
}

/// Parses one header line (without its terminator, not empty).
pub fn parse_header_line(line: &[u8]) -> HeaderLine<'_> {
    if matches!(line.first(), Some(b' ' | b'\t')) {
        return HeaderLine::Fold(trim(line));
    }
    match memchr::memchr(b':', line) {
        Some(i) => HeaderLine::Field {
            name: trim_end(&line[..i]),
            value: trim(&line[i + 1..]),
        },
        None => HeaderLine::MissingColon(trim(line)),
    }
}

/// Parses a chunk-size line (without terminator): hex digits, optional white
/// space, optional `;extensions`. `None` when there is no valid size.
pub fn parse_chunk_len(line: &[u8]) -> Option<u64> {
    let t = trim(line);
    let end = t.iter().position(|&c| c == b';').unwrap_or(t.len());
    let digits = trim(&t[..end]);
    if digits.is_empty() || digits.len() > 16 {
        return None;
    }
    let mut v: u64 = 0;
    for &c in digits {
        let d = match c {
            b'0'..=b'9' => c - b'0',
            b'a'..=b'f' => c - b'a' + 10,
            b'A'..=b'F' => c - b'A' + 10,
            _ => return None,
        };
        v = v.checked_mul(16)?.checked_add(u64::from(d))?;
    }
    Some(v)
}

/// Parses a Content-Length value: digits with optional surrounding white space.
pub fn parse_content_length(v: &[u8]) -> Option<u64> {
    parse_u64(trim(v))
}

/// The authority part of an absolute-form URI (`http://host:port/path`), if any.
pub fn uri_authority(uri: &[u8]) -> Option<&[u8]> {
    let sep = find(uri, b"://")?;
    let scheme = &uri[..sep];
    if scheme.is_empty()
        || !scheme
            .iter()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'+' | b'-' | b'.'))
    {
        return None;
    }
    let rest = &uri[sep + 3..];
    let end = rest
        .iter()
        .position(|&c| matches!(c, b'/' | b'?' | b'#'))
        .unwrap_or(rest.len());
    let auth = &rest[..end];
    // Drop user info.
    Some(match memchr::memrchr(b'@', auth) {
        Some(i) => &auth[i + 1..],
        None => auth,
    })
}

/// The path-and-query part of a URI (absolute-form URIs lose scheme and
/// authority; a fragment is dropped).
pub fn uri_path_query(uri: &[u8]) -> &[u8] {
    let rest = match find(uri, b"://") {
        Some(sep) if uri_authority(uri).is_some() => {
            let r = &uri[sep + 3..];
            let start = r
                .iter()
                .position(|&c| matches!(c, b'/' | b'?' | b'#'))
                .unwrap_or(r.len());
            &r[start..]
        }
        _ => uri,
    };
    match memchr::memchr(b'#', rest) {
        Some(i) => &rest[..i],
        None => rest,
    }
}

/// Splits `host[:port]` (IPv6 literals in brackets kept whole). The host is
/// lower-cased and loses a trailing dot; `port` is `Err(())` when present but
/// not a valid number.
pub fn split_host_port(v: &[u8]) -> (Vec<u8>, Option<Result<u16, ()>>) {
    let v = trim(v);
    let (host, port) = if v.first() == Some(&b'[') {
        match memchr::memchr(b']', v) {
            Some(i) => {
                let after = &v[i + 1..];
                (&v[..=i], after.strip_prefix(b":"))
            }
            None => (v, None),
        }
    } else {
        match memchr::memrchr(b':', v) {
            Some(i) => (&v[..i], Some(&v[i + 1..])),
            None => (v, None),
        }
    };
    let mut h = host.to_ascii_lowercase();
    if h.last() == Some(&b'.') {
        h.pop();
    }
    let port = port.map(|p| {
        parse_u64(trim(p))
            .and_then(|n| u16::try_from(n).ok())
            .filter(|&n| n > 0)
            .ok_or(())
    });
    (h, port)
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    memchr::memmem::find(hay, needle)
}

fn hexval(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

/// The normalised URI used for `http.uri`: path and query of the request target,
/// with the path percent-decoded (except encoded `/`, and invalid escapes kept
/// as sent) and its dot segments removed (RFC 3986 5.2.4). The query is kept as
/// sent.
pub fn normalize_uri(uri: &[u8]) -> Vec<u8> {
    let pq = uri_path_query(uri);
    let (path, query) = match memchr::memchr(b'?', pq) {
        Some(i) => (&pq[..i], Some(&pq[i..])),
        None => (pq, None),
    };
    if !path.contains(&b'%') {
        let mut out = remove_dot_segments(path);
        if let Some(q) = query {
            out.extend_from_slice(q);
        }
        return out;
    }
    let mut decoded = Vec::with_capacity(path.len());
    let mut i = 0;
    while i < path.len() {
        let c = path[i];
        if c == b'%'
            && let (Some(h), Some(l)) = (
                path.get(i + 1).copied().and_then(hexval),
                path.get(i + 2).copied().and_then(hexval),
            )
        {
            let b = (h << 4) | l;
            if b != b'/' {
                decoded.push(b);
                i += 3;
                continue;
            }
        }
        decoded.push(c);
        i += 1;
    }
    let mut out = remove_dot_segments(&decoded);
    if let Some(q) = query {
        out.extend_from_slice(q);
    }
    out
}

/// RFC 3986 section 5.2.4 on a path.
fn remove_dot_segments(path: &[u8]) -> Vec<u8> {
    // Only segments that are exactly "." or ".." change the path.
    let has_dot_segment = path
        .split(|&c| c == b'/')
        .any(|seg| seg == b"." || seg == b"..");
    if !has_dot_segment {
        return path.to_vec();
    }
    let absolute = path.first() == Some(&b'/');
    let trailing = path.ends_with(b"/")
        || path.ends_with(b"/.")
        || path.ends_with(b"/..")
        || path == b"."
        || path == b"..";
    let mut segs: Vec<&[u8]> = Vec::new();
    for seg in path.split(|&c| c == b'/') {
        match seg {
            b"." => {}
            b".." => {
                segs.pop();
            }
            s => segs.push(s),
        }
    }
    // `split` yields a leading empty segment for absolute paths.
    if absolute && segs.first().is_some_and(|s| s.is_empty()) {
        segs.remove(0);
    }
    let mut out = Vec::with_capacity(path.len());
    if absolute {
        out.push(b'/');
    }
    let n = segs.len();
    for (i, s) in segs.into_iter().enumerate() {
        out.extend_from_slice(s);
        if i + 1 < n {
            out.push(b'/');
        }
    }
    if trailing && out.last() != Some(&b'/') {
        out.push(b'/');
    }
    out
}

/// Request methods the probe accepts (RFC 7231, WebDAV and common extensions).
pub const METHODS: &[&[u8]] = &[
    b"GET",
    b"POST",
    b"HEAD",
    b"PUT",
    b"DELETE",
    b"OPTIONS",
    b"CONNECT",
    b"TRACE",
    b"PATCH",
    b"PROPFIND",
    b"PROPPATCH",
    b"MKCOL",
    b"COPY",
    b"MOVE",
    b"LOCK",
    b"UNLOCK",
    b"SEARCH",
    b"CHECKOUT",
    b"CHECKIN",
    b"REPORT",
    b"MERGE",
    b"MKACTIVITY",
    b"VERSION-CONTROL",
    b"BASELINE-CONTROL",
    b"POLL",
    b"BCOPY",
    b"BDELETE",
    b"BMOVE",
    b"BPROPFIND",
    b"BPROPPATCH",
    b"UNCHECKOUT",
    b"MKWORKSPACE",
    b"UPDATE",
    b"LABEL",
    b"ACL",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_lines() {
        let r = parse_request_line(b"GET /index.html HTTP/1.1");
        assert_eq!(r.method, b"GET");
        assert_eq!(r.uri, b"/index.html");
        assert_eq!(r.protocol, Some(&b"HTTP/1.1"[..]));
        assert!(!r.leading_whitespace && !r.method_delim_odd);

        let r = parse_request_line(b"GET /uri afterspace HTTP/1.1");
        assert_eq!(r.uri, b"/uri afterspace");
        assert_eq!(r.protocol, Some(&b"HTTP/1.1"[..]));

        let r = parse_request_line(b"GET /gen.php?x=1");
        assert_eq!(r.uri, b"/gen.php?x=1");
        assert_eq!(r.protocol, None);

        let r = parse_request_line(b" GET  /   ");
        assert!(r.leading_whitespace && r.method_delim_odd);
        assert_eq!(r.uri, b"/");
        assert_eq!(r.protocol, None);

        let r = parse_request_line(b"GET / FOO/1.0");
        assert_eq!(r.uri, b"/");
        assert_eq!(r.protocol, Some(&b"FOO/1.0"[..]));

        let r = parse_request_line(b"");
        assert_eq!(r.method, b"");
        assert_eq!(r.uri, b"");
    }

    #[test]
    fn status_lines() {
        let s = parse_status_line(b"HTTP/1.1 200 OK");
        assert_eq!(
            (s.protocol, s.status, s.status_number, s.message),
            (&b"HTTP/1.1"[..], &b"200"[..], Some(200), &b"OK"[..])
        );
        let s = parse_status_line(b"HTTP/1.0 2XX OK");
        assert_eq!(s.status, b"2XX");
        assert_eq!(s.status_number, None);
        let s = parse_status_line(b"HTTP/1.0 99 Low");
        assert_eq!(s.status_number, None);
        assert!(looks_like_status_line(b"  http/1.0 200"));
        assert!(!looks_like_status_line(b"<html>"));
    }

    #[test]
    fn header_lines() {
        assert_eq!(
            parse_header_line(b"Content-Length:4"),
            HeaderLine::Field {
                name: b"Content-Length",
                value: b"4"
            }
        );
        assert_eq!(
            parse_header_line(b"Host \t:  www.example.com  "),
            HeaderLine::Field {
                name: b"Host",
                value: b"www.example.com"
            }
        );
        assert_eq!(parse_header_line(b"  more"), HeaderLine::Fold(b"more"));
        assert_eq!(
            parse_header_line(b"junk"),
            HeaderLine::MissingColon(b"junk")
        );
    }

    #[test]
    fn chunks_and_lengths() {
        assert_eq!(parse_chunk_len(b"1a"), Some(26));
        assert_eq!(parse_chunk_len(b" 0 ; ext=1"), Some(0));
        assert_eq!(parse_chunk_len(b"zz"), None);
        assert_eq!(parse_chunk_len(b""), None);
        assert_eq!(parse_chunk_len(b"ffffffffffffffffff"), None);
        assert_eq!(parse_content_length(b" 18070 "), Some(18070));
        assert_eq!(parse_content_length(b"1,2"), None);
    }

    #[test]
    fn lines() {
        assert_eq!(take_line(b"ab\r\ncd"), Ok((&b"cd"[..], &b"ab\r\n"[..])));
        assert!(take_line(b"ab").is_err());
        assert_eq!(chomp(b"ab\r\n"), b"ab");
        assert!(is_empty_line(b"\r\n") && is_empty_line(b"\n") && !is_empty_line(b" \n"));
    }

    #[test]
    fn uris() {
        assert_eq!(
            normalize_uri(b"/a/./b/../c%41?x=/../y"),
            b"/a/cA?x=/../y".to_vec()
        );
        assert_eq!(
            normalize_uri(b"//index.php?page=../../../etc/passwd"),
            b"//index.php?page=../../../etc/passwd".to_vec()
        );
        assert_eq!(
            normalize_uri(b"http://Host:8080/p%2fq?r#frag"),
            b"/p%2fq?r".to_vec()
        );
        assert_eq!(
            normalize_uri(b"/uri afterspace"),
            b"/uri afterspace".to_vec()
        );
        assert_eq!(normalize_uri(b"/a/b/.."), b"/a/".to_vec());
        assert_eq!(normalize_uri(b"/%zz"), b"/%zz".to_vec());
        assert_eq!(
            uri_authority(b"http://user@Example.com:81/x"),
            Some(&b"Example.com:81"[..])
        );
        assert_eq!(uri_authority(b"/x"), None);
        assert_eq!(
            split_host_port(b"WWW.Example.com.:8080"),
            (b"www.example.com".to_vec(), Some(Ok(8080)))
        );
        assert_eq!(
            split_host_port(b"[::1]:80"),
            (b"[::1]".to_vec(), Some(Ok(80)))
        );
        assert_eq!(split_host_port(b"h:x"), (b"h".to_vec(), Some(Err(()))));
        assert_eq!(split_host_port(b"h"), (b"h".to_vec(), None));
    }
}
