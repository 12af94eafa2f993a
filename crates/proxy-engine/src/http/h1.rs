//! HTTP/1 parsing as HAProxy 2.6's `h1_headers_to_hdr_list()` and `h1_htx.c` do it, pure:
//! message heads, the `Connection` header's tokens, body framing (with the
//! request-smuggling rules), and the chunked transfer coding.
//!
//! Byte-level choices follow the reference: a request line is `METHOD SP+ URI SP+
//! VERSION`, lines end with CRLF or a bare LF, header names are tokens, values lose
//! their surrounding blanks; bytes outside 0x21..0x7e in the URI and non-token bytes in
//! a name are errors (400 for a request, 502 for a response). `Content-Length` and
//! `Transfer-Encoding` together: the length goes (the request is forwarded chunked);
//! differing lengths are an error. HAProxy re-encodes chunked bodies: each block it
//! forwards becomes one chunk with its size in upper-case hex (`h1_emit_chunk_size()`).

use crate::http::head::{Header, Headers, HttpVersion, RequestHead, ResponseHead};

/// Size limits on a message head (`tune.bufsize` minus `tune.maxrewrite`,
/// `tune.http.maxhdr`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HeadLimits {
    pub max_head_bytes: usize,
    pub max_headers: usize,
}

impl HeadLimits {
    /// From `tune.bufsize`, `tune.maxrewrite` (at most half the buffer, as HAProxy
    /// clamps it) and `tune.http.maxhdr`; the defaults where they are not set.
    pub fn from_tune(tune: &std::collections::BTreeMap<String, String>) -> HeadLimits {
        let number = |key: &str| {
            tune.get(key).and_then(|v| {
                let digits: String = v.chars().take_while(char::is_ascii_digit).collect();
                digits.parse::<usize>().ok()
            })
        };
        let bufsize = number("tune.bufsize").unwrap_or(16384);
        let maxrewrite = number("tune.maxrewrite").unwrap_or(1024).min(bufsize / 2);
        HeadLimits {
            max_head_bytes: bufsize - maxrewrite,
            // `h1_headers_to_hdr_list()` keeps one of the `maxhdr` slots for its end
            // marker (haproxy 2.6.12 refuses 50 headers with `tune.http.maxhdr 50`).
            max_headers: number("tune.http.maxhdr").unwrap_or(101).saturating_sub(1),
        }
    }
}

impl Default for HeadLimits {
    /// HAProxy's defaults: a 16384-byte buffer keeping 1024 bytes for rewrites, 100
    /// header lines (`tune.http.maxhdr` 101 less the end marker's slot).
    fn default() -> Self {
        HeadLimits {
            max_head_bytes: 16384 - 1024,
            max_headers: 100,
        }
    }
}

/// Why a head (or body framing) is not acceptable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum H1Error {
    /// A byte the grammar does not allow; the message names what was being read.
    Invalid(&'static str),
    /// The head does not fit in the buffer (or has too many header lines).
    TooLarge,
    /// A transfer coding other than `chunked` (a request gets HAProxy's 422).
    UnknownCoding,
    /// An HTTP/1.0 GET, HEAD or DELETE with a body (HAProxy's 413).
    PayloadNotAllowed,
}

impl H1Error {
    /// The status HAProxy's multiplexer answers a bad request with.
    pub fn request_status(self) -> u16 {
        match self {
            H1Error::UnknownCoding => 422,
            H1Error::PayloadNotAllowed => 413,
            H1Error::Invalid(_) | H1Error::TooLarge => 400,
        }
    }
}

/// `HTTP_IS_TOKEN`.
fn is_token(b: u8) -> bool {
    matches!(b,
        b'!' | b'#' | b'$' | b'%' | b'&' | b'\'' | b'*' | b'+' | b'-' | b'.' | b'^' | b'_'
        | b'`' | b'|' | b'~' | b'0'..=b'9' | b'a'..=b'z' | b'A'..=b'Z')
}

fn is_blank(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

/// The lines of a head: `Some((lines, consumed))` once the empty line has arrived.
/// Each line is without its CRLF/LF.
/// A head's lines (without line ends) and the bytes it took.
type SplitHead<'a> = (Vec<&'a [u8]>, usize);

fn split_head(buf: &[u8], limits: HeadLimits) -> Result<Option<SplitHead<'_>>, H1Error> {
    let mut lines = Vec::new();
    let mut start = 0;
    // HAProxy skips empty lines before a request line (RFC 7230 3.5).
    while start < buf.len() && (buf[start] == b'\r' || buf[start] == b'\n') {
        start += 1;
    }
    let mut pos = start;
    while let Some(nl) = buf[pos..].iter().position(|&b| b == b'\n') {
        let end = pos + nl;
        let line_end = if end > pos && buf[end - 1] == b'\r' {
            end - 1
        } else {
            end
        };
        let line = &buf[pos..line_end];
        pos = end + 1;
        if pos > limits.max_head_bytes {
            return Err(H1Error::TooLarge);
        }
        if line.is_empty() {
            return Ok(Some((lines, pos)));
        }
        if line.contains(&b'\r') {
            return Err(H1Error::Invalid("CR inside a line"));
        }
        lines.push(line);
        if lines.len() > limits.max_headers + 1 {
            return Err(H1Error::TooLarge);
        }
    }
    if buf.len() >= limits.max_head_bytes {
        return Err(H1Error::TooLarge);
    }
    Ok(None)
}

fn parse_version(v: &[u8]) -> Result<HttpVersion, H1Error> {
    match v {
        b"HTTP/1.1" => Ok(HttpVersion::Http11),
        b"HTTP/1.0" => Ok(HttpVersion::Http10),
        _ => Err(H1Error::Invalid("HTTP version")),
    }
}

fn parse_headers(lines: &[&[u8]]) -> Result<Headers, H1Error> {
    let mut headers = Vec::with_capacity(lines.len());
    for line in lines {
        if line.first().copied().is_some_and(is_blank) {
            // obs-fold: refused rather than guessed at.
            return Err(H1Error::Invalid("folded header line"));
        }
        let colon = line
            .iter()
            .position(|&b| b == b':')
            .ok_or(H1Error::Invalid("header line without ':'"))?;
        let name = &line[..colon];
        if name.is_empty() || !name.iter().all(|&b| is_token(b)) {
            return Err(H1Error::Invalid("header name"));
        }
        let value = &line[colon + 1..];
        if value.contains(&0) {
            return Err(H1Error::Invalid("NUL in a header value"));
        }
        let start = value
            .iter()
            .position(|&b| !is_blank(b))
            .unwrap_or(value.len());
        let end = value
            .iter()
            .rposition(|&b| !is_blank(b))
            .map_or(start, |e| e + 1);
        headers.push(Header {
            // Names are tokens (ASCII); values may carry obs-text, kept byte for byte
            // through Latin-1 so that serializing gives the same bytes back.
            name: String::from_utf8_lossy(name).into_owned(),
            value: value[start..end].iter().map(|&b| b as char).collect(),
        });
    }
    Ok(Headers(headers))
}

/// Splits `line` at runs of blanks into at most `n` words (the last one keeps the rest).
fn words(line: &[u8], n: usize) -> Vec<&[u8]> {
    let mut out = Vec::with_capacity(n);
    let mut rest = line;
    while out.len() + 1 < n {
        let Some(sp) = rest.iter().position(|&b| is_blank(b)) else {
            break;
        };
        out.push(&rest[..sp]);
        let skip = rest[sp..].iter().take_while(|&&b| is_blank(b)).count();
        rest = &rest[sp + skip..];
    }
    out.push(rest);
    out
}

/// A request head from the start of `buf`: `Ok(None)` while incomplete, else the head
/// and the bytes it took.
pub fn parse_request(
    buf: &[u8],
    limits: HeadLimits,
) -> Result<Option<(RequestHead, usize)>, H1Error> {
    let Some((lines, consumed)) = split_head(buf, limits)? else {
        return Ok(None);
    };
    let (first, rest) = lines
        .split_first()
        .ok_or(H1Error::Invalid("request line"))?;
    let parts = words(first, 3);
    let [method, uri, version] = parts.as_slice() else {
        return Err(H1Error::Invalid("request line"));
    };
    if method.is_empty() || !method.iter().all(|&b| is_token(b)) {
        return Err(H1Error::Invalid("method"));
    }
    // DEL passes: haproxy 2.6.12's word-at-a-time URI scan (x86-64) lets it through,
    // and the reference forwarded `GET /c\x7fl` in our tests.
    if uri.is_empty() || !uri.iter().all(|&b| (0x21..=0x7f).contains(&b)) {
        return Err(H1Error::Invalid("URI"));
    }
    let version = parse_version(version)?;
    let mut head = RequestHead {
        method: String::from_utf8_lossy(method).into_owned(),
        uri: String::from_utf8_lossy(uri).into_owned(),
        version,
        headers: parse_headers(rest)?,
    };
    check_host(&mut head)?;
    normalize_default_port(&mut head);
    Ok(Some((head, consumed)))
}

/// `http_scheme_based_normalize()`: an absolute URI whose authority has its scheme's
/// default port (or a bare `:`) loses it, and every `Host` value becomes that host
/// (haproxy 2.6.12 forwards `GET http://a.example:80/` with `Host: A.example` as
/// `GET http://a.example/` with `host: a.example`, and logs it so).
fn normalize_default_port(head: &mut RequestHead) {
    let uri = head.uri.as_str();
    let bytes = uri.as_bytes();
    if !bytes.first().is_some_and(u8::is_ascii_alphabetic) {
        return;
    }
    let mut i = 1;
    while i < bytes.len()
        && (bytes[i].is_ascii_alphanumeric() || matches!(bytes[i], b'+' | b'-' | b'.'))
    {
        i += 1;
    }
    if !uri[i..].starts_with("://") {
        return;
    }
    let scheme = &uri[..i + 3];
    let rest_at = i + 3;
    let end = uri[rest_at..].find('/').map_or(uri.len(), |j| rest_at + j);
    let start = uri[rest_at..end]
        .rfind('@')
        .map_or(rest_at, |j| rest_at + j + 1);
    let authority = &uri[start..end];
    let Some(port) = host_port(authority) else {
        return;
    };
    if !default_port(Some(scheme), port) {
        return;
    }
    let host = authority[..authority.len() - port.len() - 1].to_string();
    head.uri = format!("{}{}{}", &uri[..start], host, &uri[end..]);
    for h in head.headers.0.iter_mut() {
        if h.name.eq_ignore_ascii_case("host") {
            h.value.clone_from(&host);
        }
    }
}

/// `h1_headers_to_hdr_list()`'s `Host` rules: a second `Host` with the same value
/// (case-insensitive) is dropped, with another value it is a bad request; an
/// absolute URI's authority must match `Host` (a default port on one side only is
/// allowed: `h1_validate_mismatch_authority()`). CONNECT is not checked here.
fn check_host(head: &mut RequestHead) -> Result<(), H1Error> {
    let mut first: Option<String> = None;
    let mut error = false;
    head.headers.0.retain(|h| {
        if !h.name.eq_ignore_ascii_case("host") {
            return true;
        }
        match &first {
            None => {
                first = Some(h.value.clone());
                true
            }
            Some(v) => {
                if !v.eq_ignore_ascii_case(&h.value) {
                    error = true;
                }
                false
            }
        }
    });
    if error {
        return Err(H1Error::Invalid("Host"));
    }
    let (Some(host), false) = (first, head.method == "CONNECT") else {
        return Ok(());
    };
    let uri = head.uri.as_str();
    if uri.starts_with('/') || uri.starts_with('*') {
        return Ok(());
    }
    // http_parse_scheme(): `alpha *(alnum / + / - / .) "://"`, kept with its `://`.
    let bytes = uri.as_bytes();
    let mut i = 0;
    if bytes.first().is_some_and(u8::is_ascii_alphabetic) {
        i = 1;
        while i < bytes.len()
            && (bytes[i].is_ascii_alphanumeric() || matches!(bytes[i], b'+' | b'-' | b'.'))
        {
            i += 1;
        }
    }
    let (scheme, rest) = if i > 0 && uri[i..].starts_with("://") {
        (Some(&uri[..i + 3]), &uri[i + 3..])
    } else {
        (None, uri)
    };
    // http_parse_authority(no_userinfo): up to the first `/`, after the last `@`.
    let authority = rest.split('/').next().unwrap_or("");
    let authority = authority.rsplit('@').next().unwrap_or("");
    if authority.is_empty() || authority.eq_ignore_ascii_case(&host) {
        return Ok(());
    }
    if authority_mismatch(scheme, authority, &host) {
        return Err(H1Error::Invalid("Host"));
    }
    Ok(())
}

/// `http_get_host_port()`: the digits after the last `:` (`Some("")` for a bare `:`).
fn host_port(host: &str) -> Option<&str> {
    let digits = host.bytes().rev().take_while(u8::is_ascii_digit).count();
    let colon = host.len().checked_sub(digits + 1)?;
    (host.as_bytes()[colon] == b':').then(|| &host[colon + 1..])
}

/// `http_is_default_port()`.
fn default_port(scheme: Option<&str>, port: &str) -> bool {
    if port.is_empty() {
        return true;
    }
    match scheme {
        None => port == "443" || port == "80",
        Some(s) => {
            (port == "443" && s.eq_ignore_ascii_case("https://"))
                || (port == "80" && s.eq_ignore_ascii_case("http://"))
        }
    }
}

/// `h1_validate_mismatch_authority()`: whether an authority differing from `Host` is
/// a real mismatch (not only a default port written on one side).
fn authority_mismatch(scheme: Option<&str>, authority: &str, host: &str) -> bool {
    if scheme.is_none() {
        return true;
    }
    let uri_port = host_port(authority);
    let host_port_part = host_port(host);
    let uri_host = match uri_port {
        Some(p) => &authority[..authority.len() - p.len() - 1],
        None => authority,
    };
    let host_name = match host_port_part {
        Some(p) => &host[..host.len() - p.len() - 1],
        None => host,
    };
    match (uri_port, host_port_part) {
        (None, None) => true,
        (Some(p), _) if !default_port(scheme, p) => true,
        (_, Some(p)) if !default_port(scheme, p) => true,
        _ => !uri_host.eq_ignore_ascii_case(host_name),
    }
}

/// A response head from the start of `buf` (see [`parse_request`]).
pub fn parse_response(
    buf: &[u8],
    limits: HeadLimits,
) -> Result<Option<(ResponseHead, usize)>, H1Error> {
    let Some((lines, consumed)) = split_head(buf, limits)? else {
        return Ok(None);
    };
    let (first, rest) = lines.split_first().ok_or(H1Error::Invalid("status line"))?;
    let parts = words(first, 3);
    let (version, status, reason) = match parts.as_slice() {
        [v, s] => (*v, *s, &b""[..]),
        [v, s, r] => (*v, *s, *r),
        _ => return Err(H1Error::Invalid("status line")),
    };
    let version = parse_version(version)?;
    if status.len() != 3 || !status.iter().all(u8::is_ascii_digit) {
        return Err(H1Error::Invalid("status code"));
    }
    let status = status
        .iter()
        .fold(0u16, |n, &d| n * 10 + u16::from(d - b'0'));
    let head = ResponseHead {
        version,
        status,
        reason: reason.iter().map(|&b| b as char).collect(),
        headers: parse_headers(rest)?,
    };
    Ok(Some((head, consumed)))
}

/// What the `Connection` header asked for. HAProxy removes the `close` and `keep-alive`
/// tokens it handles (and the header if nothing is left) before the message goes on.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ConnectionTokens {
    pub close: bool,
    pub keep_alive: bool,
    pub upgrade: bool,
}

/// Reads and cleans the `Connection` header lines of `headers`.
pub fn take_connection_tokens(headers: &mut Headers) -> ConnectionTokens {
    let mut tokens = ConnectionTokens::default();
    headers.0.retain_mut(|h| {
        if !h.name.eq_ignore_ascii_case("connection") {
            return true;
        }
        let mut kept: Vec<&str> = Vec::new();
        for token in h.value.split(',').map(|t| t.trim_matches([' ', '\t'])) {
            if token.eq_ignore_ascii_case("close") {
                tokens.close = true;
            } else if token.eq_ignore_ascii_case("keep-alive") {
                tokens.keep_alive = true;
            } else if !token.is_empty() {
                if token.eq_ignore_ascii_case("upgrade") {
                    tokens.upgrade = true;
                }
                kept.push(token);
            }
        }
        if kept.is_empty() {
            return false;
        }
        h.value = kept.join(", ");
        true
    });
    tokens
}

/// How a message body is delimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyFraming {
    None,
    Length(u64),
    Chunked,
    /// Until the server closes (responses only).
    UntilClose,
}

/// The `Content-Length` lines as one value (identical repeats, also inside one line,
/// merge into one header as HAProxy does); `Err` on a bad or conflicting value.
fn content_length(headers: &mut Headers) -> Result<Option<u64>, H1Error> {
    let mut length: Option<u64> = None;
    for value in headers.values("content-length") {
        if value.is_empty() || value.len() > 19 || !value.bytes().all(|b| b.is_ascii_digit()) {
            return Err(H1Error::Invalid("Content-Length"));
        }
        let n: u64 = value
            .parse()
            .map_err(|_| H1Error::Invalid("Content-Length"))?;
        if length.is_some_and(|l| l != n) {
            return Err(H1Error::Invalid("conflicting Content-Length"));
        }
        length = Some(n);
    }
    if let Some(n) = length {
        let lines = headers.full_values("content-length").count();
        let merged = headers
            .first("content-length")
            .is_some_and(|v| v != n.to_string());
        if lines > 1 || merged {
            // Keep the first line's position with the single value.
            let at = headers
                .0
                .iter()
                .position(|h| h.name.eq_ignore_ascii_case("content-length"));
            let name = at.map(|i| headers.0[i].name.clone()).unwrap_or_default();
            headers.remove("content-length");
            if let Some(i) = at {
                headers.0.insert(
                    i,
                    Header {
                        name,
                        value: n.to_string(),
                    },
                );
            }
        }
    }
    Ok(length)
}

/// `Transfer-Encoding` as `h1_parse_xfer_enc_header()` reads it: `Ok(None)` absent,
/// `Ok(Some(true))` chunked (only), `Ok(Some(false))` other codings after chunked in a
/// response; `chunked` twice, or a coding after `chunked` in a request, is invalid, and any
/// coding other than `chunked` is [`H1Error::UnknownCoding`].
fn transfer_coding(headers: &Headers, response: bool) -> Result<Option<bool>, H1Error> {
    if !headers.contains("transfer-encoding") {
        return Ok(None);
    }
    let (mut seen_chunked, mut last_chunked, mut other) = (false, false, false);
    for coding in headers
        .values("transfer-encoding")
        .filter(|v| !v.is_empty())
    {
        if coding.eq_ignore_ascii_case("chunked") {
            if seen_chunked {
                return Err(H1Error::Invalid("chunked twice"));
            }
            seen_chunked = true;
            last_chunked = true;
        } else {
            if seen_chunked && !response {
                return Err(H1Error::Invalid("coding after chunked"));
            }
            last_chunked = false;
            other = true;
        }
    }
    if other {
        return Err(H1Error::UnknownCoding);
    }
    Ok(Some(last_chunked))
}

/// A WebSocket handshake (`Connection: upgrade` and `Upgrade: websocket`) must carry its
/// key (request: `Sec-WebSocket-Key` of 24 characters) or its answer (response:
/// `Sec-WebSocket-Accept`), as `h1_search_websocket_key()` requires.
pub fn check_websocket(
    headers: &Headers,
    upgrade_token: bool,
    response: bool,
) -> Result<(), H1Error> {
    let websocket = headers
        .values("upgrade")
        .any(|v| v.eq_ignore_ascii_case("websocket"));
    if !(upgrade_token && websocket) {
        return Ok(());
    }
    let ok = if response {
        headers.contains("sec-websocket-accept")
    } else {
        headers
            .full_values("sec-websocket-key")
            .next()
            .is_some_and(|k| k.len() == 24)
    };
    if ok {
        Ok(())
    } else {
        Err(H1Error::Invalid("WebSocket handshake without its key"))
    }
}

/// A request's body framing, and whether the connection must close after it (both
/// `Content-Length` and `Transfer-Encoding` were sent: the length goes, and the
/// connection is not reused, RFC 7230 3.3.3 as HAProxy applies it).
pub fn request_framing(head: &mut RequestHead) -> Result<(BodyFraming, bool), H1Error> {
    let framing = match transfer_coding(&head.headers, false)? {
        Some(_) => {
            let had_length = head.headers.contains("content-length");
            head.headers.remove("content-length");
            (BodyFraming::Chunked, had_length)
        }
        None => (
            match content_length(&mut head.headers)? {
                Some(0) | None => BodyFraming::None,
                Some(n) => BodyFraming::Length(n),
            },
            false,
        ),
    };
    let bodyless_method = ["GET", "HEAD", "DELETE"].contains(&head.method.as_str());
    if head.version == HttpVersion::Http10 && bodyless_method && framing.0 != BodyFraming::None {
        return Err(H1Error::PayloadNotAllowed);
    }
    Ok(framing)
}

/// The framing of a response body to a request of `method`.
pub fn response_framing(head: &mut ResponseHead, method: &str) -> Result<BodyFraming, H1Error> {
    if method.eq_ignore_ascii_case("HEAD")
        || head.status == 204
        || head.status == 304
        || (100..200).contains(&head.status)
    {
        return Ok(BodyFraming::None);
    }
    match transfer_coding(&head.headers, true)? {
        Some(true) => {
            head.headers.remove("content-length");
            Ok(BodyFraming::Chunked)
        }
        Some(false) => {
            head.headers.remove("content-length");
            Ok(BodyFraming::UntilClose)
        }
        None => Ok(match content_length(&mut head.headers)? {
            Some(0) => BodyFraming::None,
            Some(n) => BodyFraming::Length(n),
            None => BodyFraming::UntilClose,
        }),
    }
}

/// Where a chunked body stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ChunkState {
    /// Reading a chunk-size line (digits read so far, extension started).
    Size {
        size: u64,
        digits: usize,
        ext: bool,
    },
    /// `n` data bytes left in the chunk.
    Data(u64),
    /// The CRLF after a chunk's data (`true` once the CR was seen).
    DataEnd {
        cr: bool,
    },
    /// Trailer lines after the last chunk (bytes of the current line).
    Trailers {
        line: usize,
    },
    Done,
}

/// Decodes a chunked body incrementally: payload bytes out, the trailer section kept
/// raw (HAProxy forwards trailers), errors on invalid sizes.
#[derive(Debug, Clone)]
pub struct Dechunker {
    state: ChunkState,
    /// The trailer lines (with their CRLFs), without the final empty line.
    pub trailers: Vec<u8>,
}

impl Default for Dechunker {
    fn default() -> Self {
        Dechunker {
            state: ChunkState::Size {
                size: 0,
                digits: 0,
                ext: false,
            },
            trailers: Vec::new(),
        }
    }
}

impl Dechunker {
    pub fn is_done(&self) -> bool {
        self.state == ChunkState::Done
    }

    /// Consumes `input`, appending payload bytes to `payload`; returns the bytes
    /// consumed (all of them unless the body ended inside `input`).
    pub fn feed(&mut self, input: &[u8], payload: &mut Vec<u8>) -> Result<usize, H1Error> {
        let mut i = 0;
        while i < input.len() {
            match self.state {
                ChunkState::Done => return Ok(i),
                ChunkState::Data(left) => {
                    let take = usize::try_from(left)
                        .unwrap_or(usize::MAX)
                        .min(input.len() - i);
                    payload.extend_from_slice(&input[i..i + take]);
                    i += take;
                    let left = left - take as u64;
                    self.state = if left == 0 {
                        ChunkState::DataEnd { cr: false }
                    } else {
                        ChunkState::Data(left)
                    };
                }
                ChunkState::DataEnd { cr } => {
                    let b = input[i];
                    i += 1;
                    self.state = match (b, cr) {
                        (b'\r', false) => ChunkState::DataEnd { cr: true },
                        (b'\n', _) => ChunkState::Size {
                            size: 0,
                            digits: 0,
                            ext: false,
                        },
                        _ => return Err(H1Error::Invalid("chunk data end")),
                    };
                }
                ChunkState::Size { size, digits, ext } => {
                    let b = input[i];
                    i += 1;
                    self.state = match b {
                        b'\n' => {
                            if digits == 0 {
                                return Err(H1Error::Invalid("chunk size"));
                            }
                            if size == 0 {
                                ChunkState::Trailers { line: 0 }
                            } else {
                                ChunkState::Data(size)
                            }
                        }
                        _ if ext => ChunkState::Size { size, digits, ext },
                        b'\r' | b' ' | b'\t' | b';' if digits > 0 => ChunkState::Size {
                            size,
                            digits,
                            ext: true,
                        },
                        _ => {
                            let d = (b as char)
                                .to_digit(16)
                                .ok_or(H1Error::Invalid("chunk size"))?;
                            // HAProxy refuses sizes that would overflow 2^32-1... of a
                            // 64-bit counter: 16 hex digits at most.
                            if digits >= 15 {
                                return Err(H1Error::Invalid("chunk size too large"));
                            }
                            ChunkState::Size {
                                size: size * 16 + u64::from(d),
                                digits: digits + 1,
                                ext: false,
                            }
                        }
                    };
                }
                ChunkState::Trailers { line } => {
                    let b = input[i];
                    i += 1;
                    if b == b'\n' {
                        if line == 0 {
                            self.state = ChunkState::Done;
                            return Ok(i);
                        }
                        self.trailers.push(b'\n');
                        self.state = ChunkState::Trailers { line: 0 };
                    } else if b == b'\r' {
                        if line > 0 {
                            self.trailers.push(b'\r');
                        }
                    } else {
                        if self.trailers.len() > 16384 {
                            return Err(H1Error::TooLarge);
                        }
                        self.trailers.push(b);
                        self.state = ChunkState::Trailers { line: line + 1 };
                    }
                }
            }
        }
        Ok(i)
    }
}

/// One chunk as HAProxy's H1 multiplexer writes it: size in upper-case hex, CRLF, data,
/// CRLF.
pub fn encode_chunk(data: &[u8], out: &mut Vec<u8>) {
    if data.is_empty() {
        return;
    }
    out.extend_from_slice(format!("{:X}\r\n", data.len()).as_bytes());
    out.extend_from_slice(data);
    out.extend_from_slice(b"\r\n");
}

/// The trailer lines a [`Dechunker`] kept, as name and value (blanks after the colon
/// skipped); lines without a colon have an empty name.
fn trailer_fields(trailers: &[u8]) -> impl Iterator<Item = (&[u8], &[u8])> {
    trailers
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .map(|line| {
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            match line.iter().position(|&b| b == b':') {
                Some(c) => {
                    let v = &line[c + 1..];
                    let skip = v.iter().take_while(|&&b| is_blank(b)).count();
                    (&line[..c], &v[skip..])
                }
                None => (&line[..0], line),
            }
        })
}

/// The last chunk with the trailers (names lower-cased as every emitted header name).
pub fn encode_last_chunk(trailers: &[u8], out: &mut Vec<u8>) {
    out.extend_from_slice(b"0\r\n");
    for (name, value) in trailer_fields(trailers) {
        if !name.is_empty() {
            out.extend(name.iter().map(u8::to_ascii_lowercase));
            out.extend_from_slice(b": ");
        }
        out.extend_from_slice(value);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"\r\n");
}

/// What the end of a chunked body adds to `%B`: the end-of-trailers block (one byte)
/// and each trailer's name and value.
pub fn htx_trailers_size(trailers: &[u8]) -> u64 {
    let fields: usize = trailer_fields(trailers)
        .filter(|(name, _)| !name.is_empty())
        .map(|(name, value)| name.len() + value.len())
        .sum();
    1 + fields as u64
}

/// The size HAProxy counts for a head in its logs (`%B`, `%U`): the HTX blocks' payload,
/// a 20-byte start-line record plus the three start-line fields, each header's name
/// and value, one byte for the end of headers. Measured on haproxy 2.6.12: `HTTP/1.1 200
/// OK` with `content-length: 0` logs 49, each extra header adds its name and value
/// length, a longer reason adds its length; the built-in 503 logs 217.
pub fn htx_head_size(start: [&str; 3], headers: &Headers) -> u64 {
    let fields: usize = start.iter().map(|f| f.len()).sum();
    let hdrs: usize = headers.0.iter().map(|h| h.name.len() + h.value.len()).sum();
    (20 + fields + hdrs + 1) as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(text: &str) -> Result<Option<(RequestHead, usize)>, H1Error> {
        parse_request(text.as_bytes(), HeadLimits::default())
    }

    #[test]
    fn request_heads_parse_as_haproxy_reads_them() {
        let (h, n) = req("GET /a?b HTTP/1.1\r\nHost:  x \r\nX-A:\r\n\r\nrest")
            .unwrap()
            .unwrap();
        assert_eq!(n, "GET /a?b HTTP/1.1\r\nHost:  x \r\nX-A:\r\n\r\n".len());
        assert_eq!(h.method, "GET");
        assert_eq!(h.uri, "/a?b");
        assert_eq!(h.headers.first("host"), Some("x"));
        assert_eq!(h.headers.first("x-a"), Some(""));
        // Bare LFs, leading empty lines, several blanks between words.
        let (h, _) = req("\r\nPOST  /  HTTP/1.0\nA: 1\n\n").unwrap().unwrap();
        assert_eq!(
            (h.method.as_str(), h.version),
            ("POST", HttpVersion::Http10)
        );
        assert_eq!(req("GET / HTTP/1.1\r\nHost: x\r\n").unwrap(), None);
    }

    #[test]
    fn invalid_requests_are_errors() {
        // The reference answers 400 to each of these.
        for bad in [
            "GET / HTTP/1.1\r\nHo st: x\r\n\r\n",
            "GET / HTTP/1.1\r\nHost x\r\n\r\n",
            "GET /\x01 HTTP/1.1\r\n\r\n",
            "GET /\u{e9} HTTP/1.1\r\n\r\n",
            "G(T / HTTP/1.1\r\n\r\n",
            "GET / HTTP/2.0\r\n\r\n",
        ] {
            assert!(req(bad).is_err(), "{bad:?}");
        }
        let big = format!("GET / HTTP/1.1\r\nX: {}\r\n\r\n", "a".repeat(20000));
        assert_eq!(req(&big), Err(H1Error::TooLarge));
    }

    #[test]
    fn connection_tokens_are_taken_out() {
        let (mut h, _) =
            req("GET / HTTP/1.1\r\nConnection: keep-alive, X-Y\r\nConnection: close\r\n\r\n")
                .unwrap()
                .unwrap();
        let t = take_connection_tokens(&mut h.headers);
        assert!(t.close && t.keep_alive && !t.upgrade);
        assert_eq!(
            h.headers.full_values("connection").collect::<Vec<_>>(),
            ["X-Y"]
        );
    }

    #[test]
    fn framing_and_smuggling_rules() {
        let frame = |t: &str| {
            let (mut h, _) = req(t).unwrap().unwrap();
            request_framing(&mut h).map(|(f, _)| (f, h.headers.contains("content-length")))
        };
        assert_eq!(
            frame("POST / HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n"),
            Ok((BodyFraming::Chunked, false))
        );
        assert_eq!(
            frame("POST / HTTP/1.1\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\n"),
            Ok((BodyFraming::Length(3), true))
        );
        assert!(
            frame("POST / HTTP/1.1\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n").is_err()
        );
        assert!(frame("POST / HTTP/1.1\r\nContent-Length: 3, 4\r\n\r\n").is_err());
        assert!(frame("POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n").is_err());
        // haproxy 2.6's `h1_parse_xfer_enc_header()`: other codings are 422, chunked
        // twice or followed by another coding 400; a 1.0 GET with a body 413.
        let status = |t: &str| frame(t).map_err(H1Error::request_status);
        assert_eq!(
            status("POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n"),
            Err(422)
        );
        assert_eq!(
            status("POST / HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n"),
            Err(422)
        );
        assert_eq!(
            status("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n"),
            Err(400)
        );
        assert_eq!(
            status("GET / HTTP/1.0\r\nContent-Length: 1\r\n\r\n"),
            Err(413)
        );
        assert_eq!(
            frame("GET / HTTP/1.1\r\n\r\n"),
            Ok((BodyFraming::None, false))
        );
    }

    #[test]
    fn chunked_bodies_decode_and_reencode() {
        let mut d = Dechunker::default();
        let mut out = Vec::new();
        let body = b"5;ext=1\r\nhello\r\na\r\n0123456789\r\n0\r\nX-T: 1\r\n\r\nNEXT";
        // Byte by byte: the state machine must not depend on read boundaries.
        let mut used = 0;
        for b in body.iter() {
            if d.is_done() {
                break;
            }
            used += d.feed(std::slice::from_ref(b), &mut out).unwrap();
        }
        assert!(d.is_done());
        assert_eq!(&body[used..], b"NEXT");
        assert_eq!(out, b"hello0123456789");
        let mut wire = Vec::new();
        encode_chunk(&out, &mut wire);
        encode_last_chunk(&d.trailers, &mut wire);
        assert_eq!(wire, b"F\r\nhello0123456789\r\n0\r\nx-t: 1\r\n\r\n");
        for bad in [
            &b"x\r\n"[..],
            b"5\r\nhelloXX",
            b"\r\n",
            b"FFFFFFFFFFFFFFFFF\r\n",
        ] {
            assert!(
                Dechunker::default().feed(bad, &mut Vec::new()).is_err(),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn htx_sizes_match_the_logged_byte_counts() {
        // haproxy 2.6.12 logged 49 for this head and 217 for its built-in 503 page.
        let (mut r, _) = parse_response(
            b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
            HeadLimits::default(),
        )
        .unwrap()
        .unwrap();
        assert_eq!(htx_head_size(["HTTP/1.1", "200", "OK"], &r.headers), 49);
        r.headers.add("A", "B");
        assert_eq!(htx_head_size(["HTTP/1.1", "200", "OK"], &r.headers), 51);
    }

    proptest::proptest! {
        #[test]
        fn parsers_never_panic(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..400)) {
            let _ = parse_request(&bytes, HeadLimits::default());
            let _ = parse_response(&bytes, HeadLimits::default());
            let _ = Dechunker::default().feed(&bytes, &mut Vec::new());
        }
    }
}
