//! HTTP/1 message heads as HAProxy 2.6 holds them once parsed (its HTX start line and
//! header list): what the rules, the ACLs, the log line and the serializer work on.
//!
//! Header names are kept as received; comparisons ignore case, and [`serialize_request`]
//! / [`serialize_response`] emit them in lower case as HAProxy's H1 multiplexer does
//! (HTX stores names lower-cased; `h1-case-adjust` is not supported). Order is kept.

use std::net::SocketAddr;

/// `HTTP/1.0` or `HTTP/1.1` (anything else is refused by the parser).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HttpVersion {
    Http10,
    Http11,
}

impl HttpVersion {
    pub fn as_str(self) -> &'static str {
        match self {
            HttpVersion::Http10 => "HTTP/1.0",
            HttpVersion::Http11 => "HTTP/1.1",
        }
    }
}

/// One header line: name as received, value without surrounding blanks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    pub name: String,
    pub value: String,
}

/// An ordered header list with HAProxy's case-insensitive lookups.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Headers(pub Vec<Header>);

impl Headers {
    /// Every full line value of `name` (HAProxy's `fhdr()`), in order.
    pub fn full_values<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        // Both lifetimes are 'a: `impl Trait` captures every input lifetime before Rust 2024.
        self.0
            .iter()
            .filter(move |h| h.name.eq_ignore_ascii_case(name))
            .map(|h| h.value.as_str())
    }

    /// Every comma-separated value of `name` (HAProxy's `hdr()`), trimmed, in order.
    pub fn values<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.full_values(name)
            .flat_map(|v| v.split(','))
            .map(|v| v.trim_matches(|c| c == ' ' || c == '\t'))
    }

    /// The first full value of `name`.
    pub fn first(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|h| h.name.eq_ignore_ascii_case(name))
            .map(|h| h.value.as_str())
    }

    pub fn contains(&self, name: &str) -> bool {
        self.0.iter().any(|h| h.name.eq_ignore_ascii_case(name))
    }

    /// `add-header`: a new line at the end.
    pub fn add(&mut self, name: &str, value: &str) {
        self.0.push(Header {
            name: name.to_string(),
            value: value.to_string(),
        });
    }

    /// `del-header`: every line of `name`.
    pub fn remove(&mut self, name: &str) {
        self.0.retain(|h| !h.name.eq_ignore_ascii_case(name));
    }

    /// `set-header`: every line of `name` removed, then one added at the end.
    pub fn set(&mut self, name: &str, value: &str) {
        self.remove(name);
        self.add(name, value);
    }
}

/// A parsed request head.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestHead {
    pub method: String,
    /// The request target as received (origin form `/p?q`, or absolute form).
    pub uri: String,
    pub version: HttpVersion,
    pub headers: Headers,
}

impl RequestHead {
    /// The path part of the URI (HAProxy's `path`): from the first `/` after any
    /// `scheme://authority`, up to `?`.
    pub fn path(&self) -> &str {
        let uri = self.uri.as_str();
        let from_path = match uri.find("://") {
            Some(i) => {
                let rest = &uri[i + 3..];
                match rest.find('/') {
                    Some(j) => &rest[j..],
                    None => "",
                }
            }
            None => uri,
        };
        match from_path.find('?') {
            Some(q) => &from_path[..q],
            None => from_path,
        }
    }

    /// The query string after `?` (HAProxy's `query`), `None` without `?`.
    pub fn query(&self) -> Option<&str> {
        self.uri.find('?').map(|q| &self.uri[q + 1..])
    }
}

/// A parsed response head.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResponseHead {
    pub version: HttpVersion,
    pub status: u16,
    /// The reason phrase as received (may be empty).
    pub reason: String,
    pub headers: Headers,
}

/// What the rules and ACLs may ask about the connection a request came on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectionInfo {
    /// `src` / `src_port`.
    pub client: SocketAddr,
    /// `dst` / `dst_port`.
    pub local: SocketAddr,
    /// `ssl_fc`: the client connection is TLS.
    pub tls: bool,
}

fn push_headers(out: &mut Vec<u8>, headers: &Headers) {
    for h in &headers.0 {
        for b in h.name.bytes() {
            out.push(b.to_ascii_lowercase());
        }
        out.extend_from_slice(b": ");
        out.extend_from_slice(h.value.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"\r\n");
}

/// The request head as HAProxy's H1 multiplexer sends it to a server.
pub fn serialize_request(head: &RequestHead) -> Vec<u8> {
    let mut out = Vec::with_capacity(256);
    out.extend_from_slice(head.method.as_bytes());
    out.push(b' ');
    out.extend_from_slice(head.uri.as_bytes());
    out.push(b' ');
    out.extend_from_slice(head.version.as_str().as_bytes());
    out.extend_from_slice(b"\r\n");
    push_headers(&mut out, &head.headers);
    out
}

/// The response head as HAProxy's H1 multiplexer sends it to a client.
pub fn serialize_response(head: &ResponseHead) -> Vec<u8> {
    let mut out = Vec::with_capacity(256);
    out.extend_from_slice(head.version.as_str().as_bytes());
    out.push(b' ');
    out.extend_from_slice(head.status.to_string().as_bytes());
    out.push(b' ');
    out.extend_from_slice(head.reason.as_bytes());
    out.extend_from_slice(b"\r\n");
    push_headers(&mut out, &head.headers);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(uri: &str, headers: &[(&str, &str)]) -> RequestHead {
        RequestHead {
            method: "GET".into(),
            uri: uri.into(),
            version: HttpVersion::Http11,
            headers: Headers(
                headers
                    .iter()
                    .map(|(n, v)| Header {
                        name: (*n).into(),
                        value: (*v).into(),
                    })
                    .collect(),
            ),
        }
    }

    #[test]
    fn path_and_query_as_haproxy_cuts_them() {
        assert_eq!(request("/a/b?x=1", &[]).path(), "/a/b");
        assert_eq!(request("/a/b?x=1", &[]).query(), Some("x=1"));
        assert_eq!(request("http://h:80/p?q", &[]).path(), "/p");
        assert_eq!(request("http://h", &[]).path(), "");
        assert_eq!(request("*", &[]).path(), "*");
        assert_eq!(request("/", &[]).query(), None);
    }

    #[test]
    fn header_lookups_ignore_case_and_split_commas() {
        let r = request("/", &[("Host", "a"), ("X-A", "1, 2"), ("x-a", "3")]);
        assert_eq!(r.headers.first("host"), Some("a"));
        assert_eq!(r.headers.values("X-a").collect::<Vec<_>>(), ["1", "2", "3"]);
        assert_eq!(
            r.headers.full_values("x-a").collect::<Vec<_>>(),
            ["1, 2", "3"]
        );
        let mut h = r.headers.clone();
        h.set("x-a", "9");
        assert_eq!(h.0.last().map(|h| h.value.as_str()), Some("9"));
        assert_eq!(h.full_values("x-a").count(), 1);
    }

    #[test]
    fn serialized_names_are_lower_case_in_order() {
        let r = request("/p", &[("Host", "a"), ("X-Forwarded-For", "1.2.3.4")]);
        assert_eq!(
            serialize_request(&r),
            b"GET /p HTTP/1.1\r\nhost: a\r\nx-forwarded-for: 1.2.3.4\r\n\r\n"
        );
    }
}
