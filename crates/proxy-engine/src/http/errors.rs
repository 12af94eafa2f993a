//! HAProxy 2.6's error answers (`http_err_msgs[]` in src/http.c), and `errorfile`.
//!
//! Two paths, as in the reference:
//! - errors the H1 multiplexer answers itself before a stream exists (a request it
//!   cannot parse: 400; no complete request in time: 408) go out as the raw bytes of
//!   the built-in message, header names as written there (`Content-length`,
//!   `Cache-Control`), `errorfile` not consulted (only an empty one silences them);
//! - errors of a stream (403 deny, 503 no server, 502 bad response, 504 server timeout,
//!   500…) go through HTX like any response: the `errorfile` of the proxy or the built-in
//!   page, parsed, sent with lower-case header names.

use std::collections::HashMap;

use haproxy_conf::model::{HaproxyConfig, Proxy};

use crate::http::h1::{self, HeadLimits};
use crate::http::head::{serialize_response, ResponseHead};

/// The built-in messages, byte for byte from haproxy 2.6.12's src/http.c.
const BUILT_IN: &[(u16, &[u8])] = &[
    (200, b"HTTP/1.1 200 OK\r\nContent-length: 58\r\nCache-Control: no-cache\r\nContent-Type: text/html\r\n\r\n<html><body><h1>200 OK</h1>\nService ready.\n</body></html>\n"),
    (400, b"HTTP/1.1 400 Bad request\r\nContent-length: 90\r\nCache-Control: no-cache\r\nConnection: close\r\nContent-Type: text/html\r\n\r\n<html><body><h1>400 Bad request</h1>\nYour browser sent an invalid request.\n</body></html>\n"),
    (401, b"HTTP/1.1 401 Unauthorized\r\nContent-length: 112\r\nCache-Control: no-cache\r\nContent-Type: text/html\r\n\r\n<html><body><h1>401 Unauthorized</h1>\nYou need a valid user and password to access this content.\n</body></html>\n"),
    (403, b"HTTP/1.1 403 Forbidden\r\nContent-length: 93\r\nCache-Control: no-cache\r\nContent-Type: text/html\r\n\r\n<html><body><h1>403 Forbidden</h1>\nRequest forbidden by administrative rules.\n</body></html>\n"),
    (404, b"HTTP/1.1 404 Not Found\r\nContent-length: 83\r\nCache-Control: no-cache\r\nContent-Type: text/html\r\n\r\n<html><body><h1>404 Not Found</h1>\nThe resource could not be found.\n</body></html>\n"),
    (405, b"HTTP/1.1 405 Method Not Allowed\r\nContent-length: 146\r\nCache-Control: no-cache\r\nContent-Type: text/html\r\n\r\n<html><body><h1>405 Method Not Allowed</h1>\nA request was made of a resource using a request method not supported by that resource\n</body></html>\n"),
    (407, b"HTTP/1.1 407 Unauthorized\r\nContent-length: 112\r\nCache-Control: no-cache\r\nContent-Type: text/html\r\n\r\n<html><body><h1>407 Unauthorized</h1>\nYou need a valid user and password to access this content.\n</body></html>\n"),
    (408, b"HTTP/1.1 408 Request Time-out\r\nContent-length: 110\r\nCache-Control: no-cache\r\nConnection: close\r\nContent-Type: text/html\r\n\r\n<html><body><h1>408 Request Time-out</h1>\nYour browser didn't send a complete request in time.\n</body></html>\n"),
    (410, b"HTTP/1.1 410 Gone\r\nContent-length: 114\r\nCache-Control: no-cache\r\nContent-Type: text/html\r\n\r\n<html><body><h1>410 Gone</h1>\nThe resource is no longer available and will not be available again.\n</body></html>\n"),
    (413, b"HTTP/1.1 413 Payload Too Large\r\nContent-length: 106\r\nCache-Control: no-cache\r\nContent-Type: text/html\r\n\r\n<html><body><h1>413 Payload Too Large</h1>\nThe request entity exceeds the maximum allowed.\n</body></html>\n"),
    (421, b"HTTP/1.1 421 Misdirected Request\r\nContent-length: 104\r\nCache-Control: no-cache\r\nContent-Type: text/html\r\n\r\n<html><body><h1>421 Misdirected Request</h1>\nRequest sent to a non-authoritative server.\n</body></html>\n"),
    (422, b"HTTP/1.1 422 Unprocessable Content\r\nContent-length: 116\r\nCache-Control: no-cache\r\nContent-Type: text/html\r\n\r\n<html><body><h1>422 Unprocessable Content</h1>\nThe server cannot process the contained instructions.\n</body></html>\n"),
    (425, b"HTTP/1.1 425 Too Early\r\nContent-length: 80\r\nCache-Control: no-cache\r\nContent-Type: text/html\r\n\r\n<html><body><h1>425 Too Early</h1>\nYour browser sent early data.\n</body></html>\n"),
    (429, b"HTTP/1.1 429 Too Many Requests\r\nContent-length: 117\r\nCache-Control: no-cache\r\nContent-Type: text/html\r\n\r\n<html><body><h1>429 Too Many Requests</h1>\nYou have sent too many requests in a given amount of time.\n</body></html>\n"),
    (500, b"HTTP/1.1 500 Internal Server Error\r\nContent-length: 97\r\nCache-Control: no-cache\r\nContent-Type: text/html\r\n\r\n<html><body><h1>500 Internal Server Error</h1>\nAn internal server error occurred.\n</body></html>\n"),
    (501, b"HTTP/1.1 501 Not Implemented\r\nContent-length: 136\r\nCache-Control: no-cache\r\nContent-Type: text/html\r\n\r\n<html><body><h1>501 Not Implemented</h1>\n.The server does not support the functionality required to fulfill the request.\n</body></html>\n"),
    (502, b"HTTP/1.1 502 Bad Gateway\r\nContent-length: 107\r\nCache-Control: no-cache\r\nContent-Type: text/html\r\n\r\n<html><body><h1>502 Bad Gateway</h1>\nThe server returned an invalid or incomplete response.\n</body></html>\n"),
    (503, b"HTTP/1.1 503 Service Unavailable\r\nContent-length: 107\r\nCache-Control: no-cache\r\nContent-Type: text/html\r\n\r\n<html><body><h1>503 Service Unavailable</h1>\nNo server is available to handle this request.\n</body></html>\n"),
    (504, b"HTTP/1.1 504 Gateway Time-out\r\nContent-length: 92\r\nCache-Control: no-cache\r\nContent-Type: text/html\r\n\r\n<html><body><h1>504 Gateway Time-out</h1>\nThe server didn't respond in time.\n</body></html>\n"),
];

/// The raw built-in message for `status` (the statuses HAProxy knows; others fall back
/// to 500 as `http_get_status_idx()` does).
pub fn built_in(status: u16) -> &'static [u8] {
    let find = |s: u16| {
        BUILT_IN
            .iter()
            .find(|(code, _)| *code == s)
            .map(|(_, m)| *m)
    };
    find(status).or_else(|| find(500)).unwrap_or_default()
}

/// A response to send from the proxy itself: head and body, and the size HAProxy's
/// logs count for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorPage {
    pub head: ResponseHead,
    pub body: Vec<u8>,
}

impl ErrorPage {
    /// Parses a raw message (built-in or `errorfile`); `None` if it is not a response.
    pub fn parse(raw: &[u8]) -> Option<ErrorPage> {
        let limits = HeadLimits {
            max_head_bytes: raw.len().max(1) + 1,
            max_headers: 101,
        };
        let (head, used) = h1::parse_response(raw, limits).ok()??;
        Some(ErrorPage {
            head,
            body: raw[used..].to_vec(),
        })
    }

    /// The bytes on the wire (lower-case names).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = serialize_response(&self.head);
        out.extend_from_slice(&self.body);
        out
    }

    /// `%B` for this answer.
    pub fn logged_size(&self) -> u64 {
        let status = self.head.status.to_string();
        h1::htx_head_size(
            [self.head.version.as_str(), &status, &self.head.reason],
            &self.head.headers,
        ) + self.body.len() as u64
    }
}

/// The answers of one proxy: its `errorfile`s (and `errorfiles` from `http-errors`
/// sections) over the built-in pages.
#[derive(Debug, Clone, Default)]
pub struct ErrorPages {
    /// `Some(empty)` for an empty errorfile (HAProxy then sends nothing at all).
    files: HashMap<u16, Vec<u8>>,
}

impl ErrorPages {
    pub fn from_proxy(config: &HaproxyConfig, proxy: &Proxy) -> ErrorPages {
        let mut files = HashMap::new();
        for name in &proxy.settings.errorfiles_from {
            if let Some(section) = config.http_errors.iter().find(|s| &s.name == name) {
                for file in &section.errorfiles {
                    files.insert(file.status, file.contents.clone());
                }
            }
        }
        // `errorfile` lines win over `errorfiles` (both are applied in order in HAProxy;
        // the proxy's own lines come last in the usual layouts).
        for file in &proxy.settings.errorfiles {
            files.insert(file.status, file.contents.clone());
        }
        ErrorPages { files }
    }

    /// These pages, and `fallback`'s for the statuses these do not set.
    pub fn over(mut self, fallback: ErrorPages) -> ErrorPages {
        for (status, page) in fallback.files {
            self.files.entry(status).or_insert(page);
        }
        self
    }

    /// An answer the stream sends (through HTX); `None` when the errorfile is empty.
    pub fn page(&self, status: u16) -> Option<ErrorPage> {
        match self.files.get(&status) {
            Some(raw) if raw.is_empty() => None,
            Some(raw) => ErrorPage::parse(raw).or_else(|| ErrorPage::parse(built_in(status))),
            None => ErrorPage::parse(built_in(status)),
        }
    }

    /// An answer of the multiplexer (400, 408): the raw built-in bytes, or nothing when
    /// the proxy's errorfile for it is empty.
    pub fn raw(&self, status: u16) -> &'static [u8] {
        match self.files.get(&status) {
            Some(raw) if raw.is_empty() => b"",
            _ => built_in(status),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_503_page_is_byte_identical_to_haproxy_2_6_12() {
        // Captured from haproxy 2.6.12 (backend with its only server refusing).
        let expected: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\ncontent-length: 107\r\n\
cache-control: no-cache\r\ncontent-type: text/html\r\n\r\n<html><body><h1>503 Service \
Unavailable</h1>\nNo server is available to handle this request.\n</body></html>\n";
        let page = ErrorPages::default().page(503).unwrap();
        assert_eq!(page.to_bytes(), expected);
        // ... and logged as `503 217`.
        assert_eq!(page.logged_size(), 217);
    }

    #[test]
    fn multiplexer_errors_are_raw() {
        // Captured from haproxy 2.6.12: `Ho st: x` in a request.
        let expected: &[u8] = b"HTTP/1.1 400 Bad request\r\nContent-length: 90\r\n\
Cache-Control: no-cache\r\nConnection: close\r\nContent-Type: text/html\r\n\r\n<html><body>\
<h1>400 Bad request</h1>\nYour browser sent an invalid request.\n</body></html>\n";
        assert_eq!(ErrorPages::default().raw(400), expected);
        for (status, raw) in BUILT_IN {
            // Every built-in message says the length of its body.
            let page = ErrorPage::parse(raw).unwrap();
            assert_eq!(page.head.status, *status);
            assert_eq!(
                page.head.headers.first("content-length"),
                Some(page.body.len().to_string().as_str())
            );
        }
    }
}
