//! HTTP checks' bytes: the request `option httpchk` / `http-check send` produce (as
//! HAProxy 2.6's HTX request goes out through its H1 mux: lower-case header names, no
//! `connection: close` for HTTP/1.0, a `content-length` for bodies and for methods
//! other than OPTIONS/GET/HEAD/DELETE), and a small HTTP/1 response reader giving
//! what `tcpcheck_eval_expect_http()` looks at (status, reason, body, end of message).

/// The request of an HTTP check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpRequest {
    pub method: String,
    pub uri: String,
    pub version: String,
    /// Header names and values in order (names as written; sent in lower case).
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Default for HttpRequest {
    fn default() -> Self {
        HttpRequest {
            method: "OPTIONS".into(),
            uri: "/".into(),
            version: "HTTP/1.0".into(),
            headers: Vec::new(),
            body: Vec::new(),
        }
    }
}

impl HttpRequest {
    /// `HTX_SL_F_VER_11`: "HTTP/2" or HTTP/1.1 and above.
    fn is_11(&self) -> bool {
        let v = self.version.as_bytes();
        (v.len() == 6 && v[5] == b'2')
            || (v.len() == 8 && (v[5] > b'1' || (v[5] == b'1' && v[7] >= b'1')))
    }

    /// The bytes on the wire (checked against the real haproxy's in
    /// `tests/probe_vs_haproxy.rs`).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = format!("{} {} {}\r\n", self.method, self.uri, self.version).into_bytes();
        let mut has_connection = false;
        for (name, value) in &self.headers {
            if value.is_empty() {
                // An empty log-format value: HAProxy skips the header.
                continue;
            }
            if name.eq_ignore_ascii_case("connection") {
                has_connection = true;
            }
            out.extend_from_slice(name.to_ascii_lowercase().as_bytes());
            out.extend_from_slice(b": ");
            out.extend_from_slice(value.as_bytes());
            out.extend_from_slice(b"\r\n");
        }
        let bodyless_method = matches!(self.method.as_str(), "OPTIONS" | "GET" | "HEAD" | "DELETE");
        if !bodyless_method || !self.body.is_empty() {
            out.extend_from_slice(format!("content-length: {}\r\n", self.body.len()).as_bytes());
        }
        // The H1 mux writes the connection mode last, and only where it is not the
        // version's default (close is HTTP/1.0's).
        if !has_connection && self.is_11() {
            out.extend_from_slice(b"connection: close\r\n");
        }
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(&self.body);
        out
    }

    pub fn is_head(&self) -> bool {
        self.method == "HEAD"
    }
}

/// A response as far as it was received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpResponse {
    pub status: u16,
    pub reason: String,
    /// The body received so far (chunked encoding removed).
    pub body: Vec<u8>,
    /// The whole message arrived (HTX's end of message).
    pub complete: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HttpParse {
    /// The header block is not complete yet.
    Incomplete,
    /// Not an HTTP/1 response (HAProxy's parsing error).
    Error,
    Response(HttpResponse),
}

/// Reads `data` (everything received so far; `eof` once the server closed).
pub fn parse_response(data: &[u8], eof: bool, head_request: bool) -> HttpParse {
    let Some((head_len, lines)) = split_head(data) else {
        return HttpParse::Incomplete;
    };
    let Some(status_line) = lines.first() else {
        return HttpParse::Error;
    };
    let Some((status, reason)) = parse_status_line(status_line) else {
        return HttpParse::Error;
    };
    let mut content_length: Option<usize> = None;
    let mut chunked = false;
    for line in &lines[1..] {
        let Some(colon) = line.iter().position(|&b| b == b':') else {
            return HttpParse::Error;
        };
        let name = &line[..colon];
        if name.is_empty() || name.iter().any(|b| b.is_ascii_whitespace()) {
            return HttpParse::Error;
        }
        let value = trim(&line[colon + 1..]);
        if name.eq_ignore_ascii_case(b"content-length") {
            let Some(n) = std::str::from_utf8(value)
                .ok()
                .and_then(|v| v.parse::<usize>().ok())
            else {
                return HttpParse::Error;
            };
            content_length = Some(n);
        } else if name.eq_ignore_ascii_case(b"transfer-encoding") {
            chunked = value
                .split(|&b| b == b',')
                .map(trim)
                .any(|t| t.eq_ignore_ascii_case(b"chunked"));
        }
    }
    let rest = &data[head_len..];
    let no_body = head_request || status < 200 || status == 204 || status == 304;
    let (body, complete) = if no_body {
        (Vec::new(), true)
    } else if chunked {
        match dechunk(rest) {
            Some(v) => v,
            None => return HttpParse::Error,
        }
    } else if let Some(n) = content_length {
        let got = rest.len().min(n);
        (rest[..got].to_vec(), got == n)
    } else {
        (rest.to_vec(), eof)
    };
    HttpParse::Response(HttpResponse {
        status,
        reason,
        body,
        complete,
    })
}

fn trim(mut v: &[u8]) -> &[u8] {
    while let [b' ' | b'\t', rest @ ..] = v {
        v = rest;
    }
    while let [rest @ .., b' ' | b'\t'] = v {
        v = rest;
    }
    v
}

/// The header block's length and its lines (CRLF or bare LF endings), or `None` while
/// the empty line has not arrived.
fn split_head(data: &[u8]) -> Option<(usize, Vec<&[u8]>)> {
    let mut lines = Vec::new();
    let mut start = 0;
    while let Some(nl) = data[start..].iter().position(|&b| b == b'\n') {
        let end = start + nl;
        let line = if end > start && data[end - 1] == b'\r' {
            &data[start..end - 1]
        } else {
            &data[start..end]
        };
        start = end + 1;
        if line.is_empty() {
            if lines.is_empty() {
                // Leading empty lines before the status line are skipped.
                continue;
            }
            return Some((start, lines));
        }
        lines.push(line);
    }
    None
}

fn parse_status_line(line: &[u8]) -> Option<(u16, String)> {
    let text = std::str::from_utf8(line).ok()?;
    let rest = text.strip_prefix("HTTP/")?;
    let (version, rest) = rest.split_once(' ')?;
    let v = version.as_bytes();
    if v.len() != 3 || !v[0].is_ascii_digit() || v[1] != b'.' || !v[2].is_ascii_digit() {
        return None;
    }
    let (code, reason) = match rest.split_once(' ') {
        Some((c, r)) => (c, r),
        None => (rest, ""),
    };
    if code.len() != 3 || !code.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some((code.parse().ok()?, reason.to_string()))
}

/// The chunked body received so far and whether the last chunk arrived; `None` on a
/// malformed chunk size.
fn dechunk(mut data: &[u8]) -> Option<(Vec<u8>, bool)> {
    let mut body = Vec::new();
    loop {
        let Some(nl) = data.iter().position(|&b| b == b'\n') else {
            return Some((body, false));
        };
        let size_line = trim(data[..nl].strip_suffix(b"\r").unwrap_or(&data[..nl]));
        let size_text = size_line
            .split(|&b| b == b';')
            .next()
            .map(trim)
            .unwrap_or_default();
        let size = usize::from_str_radix(std::str::from_utf8(size_text).ok()?, 16).ok()?;
        data = &data[nl + 1..];
        if size == 0 {
            // Trailers end with an empty line; the body is complete then.
            return Some((body, split_trailers_done(data)));
        }
        if data.len() < size {
            body.extend_from_slice(data);
            return Some((body, false));
        }
        body.extend_from_slice(&data[..size]);
        data = &data[size..];
        match data {
            [b'\r', b'\n', rest @ ..] | [b'\n', rest @ ..] => data = rest,
            [] | [b'\r'] => return Some((body, false)),
            _ => return None,
        }
    }
}

fn split_trailers_done(data: &[u8]) -> bool {
    let mut start = 0;
    while let Some(nl) = data[start..].iter().position(|&b| b == b'\n') {
        let end = start + nl;
        let line = data[start..end]
            .strip_suffix(b"\r")
            .unwrap_or(&data[start..end]);
        if line.is_empty() {
            return true;
        }
        start = end + 1;
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_request_is_options_http10_without_headers() {
        assert_eq!(
            HttpRequest::default().to_bytes(),
            b"OPTIONS / HTTP/1.0\r\n\r\n".to_vec()
        );
    }

    #[test]
    fn http11_post_with_headers_and_body() {
        let r = HttpRequest {
            method: "POST".into(),
            uri: "/x".into(),
            version: "HTTP/1.1".into(),
            headers: vec![
                ("Host".into(), "example.com".into()),
                ("X-A".into(), "b".into()),
            ],
            body: b"hi".to_vec(),
        };
        assert_eq!(
            r.to_bytes(),
            b"POST /x HTTP/1.1\r\nhost: example.com\r\nx-a: b\r\ncontent-length: 2\r\nconnection: close\r\n\r\nhi".to_vec()
        );
    }

    #[test]
    fn responses() {
        assert_eq!(
            parse_response(b"HTTP/1.1 200 OK\r\n", false, false),
            HttpParse::Incomplete
        );
        assert_eq!(
            parse_response(b"garbage\r\n\r\n", false, false),
            HttpParse::Error
        );
        let HttpParse::Response(r) = parse_response(
            b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n",
            false,
            false,
        ) else {
            panic!("not parsed")
        };
        assert_eq!(
            (r.status, r.reason.as_str(), r.complete),
            (503, "Service Unavailable", true)
        );
        let HttpParse::Response(r) = parse_response(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n",
            false,
            false,
        ) else {
            panic!("not parsed")
        };
        assert_eq!((r.body.as_slice(), r.complete), (&b"abcde"[..], true));
        let HttpParse::Response(r) = parse_response(b"HTTP/1.0 200 OK\r\n\r\nhel", false, false)
        else {
            panic!("not parsed")
        };
        assert!(!r.complete);
    }

    proptest::proptest! {
        #[test]
        fn the_response_reader_never_panics(data: Vec<u8>, eof: bool, head: bool) {
            let _ = parse_response(&data, eof, head);
        }
    }
}
