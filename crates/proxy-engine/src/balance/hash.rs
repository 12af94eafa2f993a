//! HAProxy's hash functions (`src/hash.c`, `full_hash()` in `intops.h`) and the way
//! `backend.c` cuts the hashed part out of a URI, a URL parameter, a header or a source
//! address.

use std::net::IpAddr;

/// `hash-type ... <function>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HashFunction {
    Sdbm,
    Djb2,
    Wt6,
    Crc32,
}

impl HashFunction {
    /// The model's name for it; anything else is sdbm, as `gen_hash()`'s default.
    pub fn from_name(name: &str) -> HashFunction {
        match name {
            "djb2" => HashFunction::Djb2,
            "wt6" => HashFunction::Wt6,
            "crc32" => HashFunction::Crc32,
            _ => HashFunction::Sdbm,
        }
    }

    pub fn hash(self, key: &[u8]) -> u32 {
        match self {
            HashFunction::Sdbm => sdbm(key),
            HashFunction::Djb2 => djb2(key),
            HashFunction::Wt6 => wt6(key),
            HashFunction::Crc32 => crc32(key),
        }
    }
}

pub fn sdbm(key: &[u8]) -> u32 {
    key.iter().fold(0u32, |h, &c| {
        (c as u32)
            .wrapping_add(h << 6)
            .wrapping_add(h << 16)
            .wrapping_sub(h)
    })
}

pub fn djb2(key: &[u8]) -> u32 {
    key.iter().fold(5381u32, |h, &c| {
        (h << 5).wrapping_add(h).wrapping_add(c as u32)
    })
}

pub fn wt6(key: &[u8]) -> u32 {
    let mut h0: u32 = 0xa53c965a;
    let mut h1: u32 = 0x5ca6953a;
    let mut step0: u32 = 6;
    let mut step1: u32 = 18;
    for &c in key {
        let t = c as u32;
        h0 = !(h0 ^ t);
        h1 = !(h1.wrapping_add(t));
        // C shifts by (32 - 0) are undefined; rotate is what the C compiles to on x86
        // for the step values that occur (0..=31).
        let t = h1.rotate_left(step0);
        h1 = h0.rotate_left(step1);
        h0 = t;
        let t = ((h0 >> 16) ^ h1) & 0xffff;
        step0 = t & 0x1f;
        step1 = t >> 11;
    }
    h0 ^ h1
}

pub fn crc32(key: &[u8]) -> u32 {
    let mut hash: u32 = !0;
    for &c in key {
        hash ^= c as u32;
        for _ in 0..8 {
            hash = (hash >> 1) ^ if hash & 1 != 0 { 0xedb88320 } else { 0 };
        }
    }
    !hash
}

/// Bob Jenkins' full avalanche as HAProxy writes it (`__full_hash()`), including the final
/// multiplication that spreads values around the consistent-hash ring.
pub fn full_hash(a: u32) -> u32 {
    let mut a = a;
    a = a.wrapping_add(0x7ed55d16).wrapping_add(a << 12);
    a = (a ^ 0xc761c23c) ^ (a >> 19);
    a = a.wrapping_add(0x165667b1).wrapping_add(a << 5);
    a = a.wrapping_add(0xd3a2646c) ^ (a << 9);
    a = a.wrapping_add(0xfd7046c5).wrapping_add(a << 3);
    a = (a ^ 0xb55a4f09) ^ (a >> 16);
    a.wrapping_mul(3221225473)
}

/// `get_server_sh()`: the big-endian 32-bit words of the address XORed together (no hash
/// function; `avalanche` still applies).
pub fn source_key(addr: IpAddr) -> u32 {
    let bytes: Vec<u8> = match addr {
        IpAddr::V4(a) => a.octets().to_vec(),
        IpAddr::V6(a) => a.octets().to_vec(),
    };
    bytes.chunks_exact(4).fold(0u32, |h, w| {
        h ^ u32::from_be_bytes([w[0], w[1], w[2], w[3]])
    })
}

/// The part of the request URI `balance uri` hashes (`get_server_uh()`): up to `len`
/// characters, stopping at the `depth`-th slash after the first and, unless `whole`, at
/// the first `?`. With `path-only`, the scheme and authority of an absolute URI are left
/// out first (`http_parse_path()`).
pub fn uri_part(
    uri: &[u8],
    whole: bool,
    len: Option<u32>,
    depth: Option<u32>,
    path_only: bool,
) -> &[u8] {
    let uri = if path_only { path_of(uri) } else { uri };
    let mut limit = uri.len();
    if let Some(l) = len {
        limit = limit.min(l as usize);
    }
    // HAProxy stores depth+1 and breaks on the slash with that number.
    let stop_slash = depth.map(|d| d as usize + 1);
    let mut slashes = 0usize;
    let mut end = 0;
    while end < limit {
        let c = uri[end];
        if c == b'/' {
            slashes += 1;
            if Some(slashes) == stop_slash {
                break;
            }
        } else if c == b'?' && !whole {
            break;
        }
        end += 1;
    }
    &uri[..end]
}

/// `http_parse_path()`: the path and query of an origin-form URI as is; for an absolute
/// URI what follows the authority; nothing for `*`, an empty URI or the authority form.
fn path_of(uri: &[u8]) -> &[u8] {
    match uri.first() {
        None | Some(b'*') => &[],
        Some(b'/') => uri,
        Some(_) => {
            let Some(scheme_end) = find(uri, b"://") else {
                return &[];
            };
            let rest = &uri[scheme_end + 3..];
            match rest.iter().position(|&c| c == b'/' || c == b'?') {
                Some(p) => &rest[p..],
                None => &[],
            }
        }
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// The value of URL parameter `name` in the query string (`get_server_ph()`): `None`
/// when there is no `?` or no `name=` parameter.
pub fn url_param<'a>(uri: &'a [u8], name: &[u8]) -> Option<&'a [u8]> {
    let q = uri.iter().position(|&c| c == b'?')?;
    params_value(&uri[q + 1..], name, false)
}

/// The same search in a POST body (`get_server_ph_post()`): the value stops at `&`, and a
/// character that is neither an HTTP token nor white space means the body is no form.
pub fn body_param<'a>(body: &'a [u8], name: &[u8]) -> Option<&'a [u8]> {
    params_value(body, name, true)
}

fn params_value<'a>(params: &'a [u8], name: &[u8], check_tokens: bool) -> Option<&'a [u8]> {
    let plen = name.len();
    let mut rest = params;
    while rest.len() > plen {
        if rest[plen] == b'=' && &rest[..plen] == name {
            let value = &rest[plen + 1..];
            let mut end = 0;
            while end < value.len() && value[end] != b'&' {
                if check_tokens && !is_token(value[0]) {
                    // HAProxy tests the first character of the value (`*p`), not the
                    // current one: kept as it does.
                    if is_lws(value[0]) {
                        break;
                    }
                    return None;
                }
                end += 1;
            }
            return Some(&value[..end]);
        }
        let amp = rest.iter().position(|&c| c == b'&')?;
        rest = &rest[amp + 1..];
    }
    None
}

fn is_token(c: u8) -> bool {
    c.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&c)
}

fn is_lws(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\r' | b'\n')
}

/// `hdr(name) use_domain_only`: the label before the top-level domain
/// (`www.example.com` -> `example`); the whole value when it has no dot.
pub fn domain_only(value: &[u8]) -> &[u8] {
    // Mirrors get_server_hh()'s backwards walk: find the last dot, then the dot before it.
    let Some(last_dot) = value.iter().rposition(|&c| c == b'.') else {
        // No dot: the C walk reaches the start with `end` still at the string's end.
        return value;
    };
    let start = value[..last_dot]
        .iter()
        .rposition(|&c| c == b'.')
        .map(|p| p + 1)
        .unwrap_or(0);
    &value[start..last_dot]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_values() {
        // crc32 of "123456789" is the standard check value.
        assert_eq!(crc32(b"123456789"), 0xcbf43926);
        assert_eq!(djb2(b""), 5381);
        assert_eq!(sdbm(b"a"), 97);
        assert_eq!(sdbm(b"ab"), 97u32.wrapping_mul(65599).wrapping_add(98));
    }

    #[test]
    fn uri_cut() {
        assert_eq!(uri_part(b"/a/b/c?x=1", false, None, None, false), b"/a/b/c");
        assert_eq!(
            uri_part(b"/a/b/c?x=1", true, None, None, false),
            b"/a/b/c?x=1"
        );
        assert_eq!(uri_part(b"/a/b/c", false, None, Some(2), false), b"/a/b");
        assert_eq!(uri_part(b"/a/b/c", false, Some(3), None, false), b"/a/");
        assert_eq!(uri_part(b"http://h/p?q", false, None, None, true), b"/p");
        assert_eq!(uri_part(b"*", false, None, None, true), b"");
    }

    #[test]
    fn params() {
        assert_eq!(url_param(b"/p?a=1&user=bob&c", b"user"), Some(&b"bob"[..]));
        assert_eq!(url_param(b"/p?a=1", b"user"), None);
        assert_eq!(url_param(b"/p", b"a"), None);
        assert_eq!(domain_only(b"www.example.com"), b"example");
        assert_eq!(domain_only(b"example.com"), b"example");
    }
}
