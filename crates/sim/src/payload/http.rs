//! HTTP/1.x requests and responses, with Content-Length or chunked bodies.

/// An HTTP request head (no body): request line, `Host`, the given headers,
/// blank line.
pub fn request(method: &str, path: &str, host: &str, headers: &[(&str, &str)]) -> Vec<u8> {
    let mut s = format!("{method} {path} HTTP/1.1\r\nHost: {host}\r\n");
    for (k, v) in headers {
        s.push_str(k);
        s.push_str(": ");
        s.push_str(v);
        s.push_str("\r\n");
    }
    s.push_str("\r\n");
    s.into_bytes()
}

/// Reason phrase for common status codes.
pub fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        204 => "No Content",
        301 => "Moved Permanently",
        302 => "Found",
        304 => "Not Modified",
        403 => "Forbidden",
        404 => "Not Found",
        500 => "Internal Server Error",
        _ => "Unknown",
    }
}

/// A response with `body`: `Content-Length` framing, or chunked framing in
/// chunks of `chunk` bytes when `chunk` is `Some`.
pub fn response(
    status: u16,
    headers: &[(&str, &str)],
    body: &[u8],
    chunk: Option<usize>,
) -> Vec<u8> {
    let mut s = format!("HTTP/1.1 {status} {}\r\n", reason(status));
    for (k, v) in headers {
        s.push_str(k);
        s.push_str(": ");
        s.push_str(v);
        s.push_str("\r\n");
    }
    let mut out;
    match chunk {
        Some(n) => {
            s.push_str("Transfer-Encoding: chunked\r\n\r\n");
            out = s.into_bytes();
            out.extend_from_slice(&chunked(body, n));
        }
        None => {
            s.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
            out = s.into_bytes();
            out.extend_from_slice(body);
        }
    }
    out
}

/// Chunked transfer coding of `body` in chunks of `n` bytes, with the final
/// zero-length chunk.
pub fn chunked(body: &[u8], n: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(body.len() + body.len() / n.max(1) * 8 + 8);
    for c in body.chunks(n.max(1)) {
        out.extend_from_slice(format!("{:x}\r\n", c.len()).as_bytes());
        out.extend_from_slice(c);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"0\r\n\r\n");
    out
}

/// A small HTML page of about `len` bytes.
pub fn html_page(title: &str, len: usize) -> Vec<u8> {
    let mut s = format!("<html><head><title>{title}</title></head><body>\n<h1>{title}</h1>\n");
    let para =
        "<p>Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor.</p>\n";
    while s.len() + para.len() + 16 < len {
        s.push_str(para);
    }
    s.push_str("</body></html>\n");
    s.into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_and_length_framed_response() {
        let r = request(
            "GET",
            "/x.exe",
            "eggs.example",
            &[("User-Agent", "Mozilla/4.0")],
        );
        assert_eq!(
            r,
            b"GET /x.exe HTTP/1.1\r\nHost: eggs.example\r\nUser-Agent: Mozilla/4.0\r\n\r\n"
        );
        let resp = response(200, &[("Server", "Apache")], b"hello", None);
        assert_eq!(
            resp,
            b"HTTP/1.1 200 OK\r\nServer: Apache\r\nContent-Length: 5\r\n\r\nhello"
        );
    }

    #[test]
    fn chunked_body_decodes_back() {
        let body: Vec<u8> = (0..100u8).collect();
        let c = chunked(&body, 30);
        // Decode.
        let mut out = Vec::new();
        let mut p = 0;
        loop {
            let eol = p + c[p..].windows(2).position(|w| w == b"\r\n").unwrap();
            let n = usize::from_str_radix(std::str::from_utf8(&c[p..eol]).unwrap(), 16).unwrap();
            p = eol + 2;
            if n == 0 {
                assert_eq!(&c[p..], b"\r\n");
                break;
            }
            out.extend_from_slice(&c[p..p + n]);
            p += n + 2;
        }
        assert_eq!(out, body);
    }
}
