//! ACLs and conditions as HAProxy 2.6's src/acl.c, src/pattern.c and src/http_fetch.c
//! evaluate them, compiled once from the `haproxy-conf` model into typed matchers.
//!
//! Pure: a compiled [`Condition`] looks only at a [`Subject`] (the request head, the
//! connection, and in `http-response` rules the response head).
//!
//! Compilation refuses (with `file:line`) every fetch, converter, match method, flag and
//! pattern form it does not implement, rather than guessing: an ACL that silently
//! matched differently would route or filter traffic differently from HAProxy.
//!
//! Semantics kept from HAProxy:
//! - an ACL's patterns are OR'ed; several `acl` lines with one name are OR'ed;
//! - in ACLs, multi-valued fetches (`hdr()`, `url_param()`) are tried on every value
//!   (`SMP_OPT_ITERATE`); in a sample expression (`%[hdr(x)]`) `hdr()` gives the last
//!   value and `url_param()` the first;
//! - a fetch that finds nothing makes the ACL false (and `!acl` true);
//! - `hdr()` splits values on commas outside double quotes, `fhdr()` does not;
//! - `method` compares well-known methods exactly and only other methods by string
//!   (so `-i get` never matches a `GET` request, as in `pat_match_meth()`).

use std::borrow::Cow;
use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::Path;
use std::sync::Arc;

use haproxy_conf::model::{self, AclExpression, AclRef, Fetch, Location};
use regex::bytes::Regex;

use super::head::{ConnectionInfo, RequestHead, ResponseHead};
use crate::ProxyError;

/// Which rule set a condition or sample belongs to: it decides which fetches exist.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// `http-request`, `redirect`, `use_backend`.
    Request,
    /// `http-response`: the response head, the connection and the request's method.
    Response,
}

/// What conditions and samples look at.
#[derive(Debug, Clone, Copy)]
pub struct Subject<'a> {
    pub request: &'a RequestHead,
    pub conn: &'a ConnectionInfo,
    /// The response head in `http-response` rules.
    pub response: Option<&'a ResponseHead>,
}

pub(crate) fn plan_error(at: &Location, message: impl std::fmt::Display) -> ProxyError {
    ProxyError::Plan(format!("[{}:{}] : {message}", at.file, at.line))
}

// ---------------------------------------------------------------- samples

/// A fetched value (HAProxy's `struct sample` data).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Sample<'a> {
    Str(Cow<'a, str>),
    Int(i64),
    Ip(IpAddr),
    Bool(bool),
    /// `method`: compared with `pat_match_meth()` semantics.
    Method(&'a str),
}

impl Sample<'_> {
    /// The sample cast to a string (`c_int2str`, `c_ip2str`, `c_meth2str`...).
    pub(crate) fn to_text(&self) -> Cow<'_, str> {
        match self {
            Sample::Str(s) => Cow::Borrowed(s),
            Sample::Int(i) => Cow::Owned(i.to_string()),
            Sample::Ip(ip) => Cow::Owned(ip.to_string()),
            Sample::Bool(b) => Cow::Borrowed(if *b { "1" } else { "0" }),
            Sample::Method(m) => Cow::Borrowed(m),
        }
    }
}

/// The output type of a fetch, which picks the default match method.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SampleType {
    Str,
    Int,
    Ip,
    Bool,
    Method,
}

/// The sample fetches ha-compat implements.
#[derive(Debug, Clone, PartialEq, Eq)]
enum SampleFetch {
    Path,
    Url,
    Base,
    Query,
    UrlParam {
        name: String,
        delim: u8,
    },
    ReqHdr {
        name: String,
        occ: i64,
    },
    ReqFhdr {
        name: String,
        occ: i64,
    },
    ReqHdrCnt(String),
    ReqHdrVal {
        name: String,
        occ: i64,
    },
    Method,
    ReqVer,
    ProtoHttp,
    Src,
    Dst,
    SrcPort,
    DstPort,
    SslFc,
    AlwaysTrue,
    AlwaysFalse,
    ResHdr {
        name: String,
        occ: i64,
    },
    ResHdrCnt(String),
    Status,
    /// `http_auth(userlist)`: the userlist's (user, insecure password) pairs.
    HttpAuth(Vec<(String, String)>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Converter {
    Lower,
    Upper,
}

/// A fetch with its converters: what `acl` criteria and `%[...]` blocks evaluate.
#[derive(Debug, Clone)]
pub(crate) struct SampleExpr {
    fetch: SampleFetch,
    converters: Vec<Converter>,
}

/// ACL keyword families (`path_beg` = `path -m beg`): keyword prefix -> base fetch.
const KEYWORD_FAMILIES: &[(&str, &str)] = &[
    ("path", "path"),
    ("url", "url"),
    ("base", "base"),
    ("urlp", "url_param"),
    ("hdr", "req.hdr"),
    ("shdr", "res.hdr"),
];
const KEYWORD_SUFFIXES: &[&str] = &["beg", "end", "sub", "reg", "dir", "dom", "len"];

/// The base fetch behind an ACL keyword or a fetch alias, or the name itself.
fn base_fetch_name(name: &str) -> &str {
    match name {
        "hdr" => return "req.hdr",
        "shdr" => return "res.hdr",
        "urlp" => return "url_param",
        "fhdr" => return "req.fhdr",
        "hdr_cnt" => return "req.hdr_cnt",
        "shdr_cnt" => return "res.hdr_cnt",
        "hdr_val" => return "req.hdr_val",
        "req_ver" => return "req.ver",
        _ => {}
    }
    for (prefix, base) in KEYWORD_FAMILIES {
        if let Some(rest) = name.strip_prefix(prefix).and_then(|r| r.strip_prefix('_')) {
            if KEYWORD_SUFFIXES.contains(&rest) {
                return base;
            }
        }
    }
    name
}

fn is_keyword_variant(name: &str) -> bool {
    base_fetch_name(name) != name && !matches!(name, "hdr" | "shdr" | "urlp" | "req_ver")
}

/// An argument as HAProxy's `make_arg_list()` reads it; quoting inside arguments is
/// refused rather than interpreted.
fn plain_arg(arg: &str, at: &Location, fetch: &str) -> Result<String, ProxyError> {
    if arg.contains(['"', '\'', '\\']) {
        return Err(plan_error(
            at,
            format!("quoted or escaped arguments in '{fetch}(...)' are not supported by ha-compat"),
        ));
    }
    Ok(arg.to_string())
}

fn occurrence(args: &[String], at: &Location, fetch: &str) -> Result<i64, ProxyError> {
    match args.get(1) {
        None => Ok(0),
        Some(a) => parse_strict_int(a).ok_or_else(|| {
            plan_error(at, format!("'{fetch}': occurrence '{a}' is not an integer"))
        }),
    }
}

impl SampleExpr {
    /// Compiles `fetch(args),conv,...` for use in `phase`.
    pub(crate) fn compile(
        fetch: &Fetch,
        at: &Location,
        phase: Phase,
        userlists: &[model::Userlist],
    ) -> Result<Self, ProxyError> {
        let name = fetch.name.as_str();
        let base = base_fetch_name(name);
        let args = &fetch.args;
        let arg0 = |what: &str| -> Result<String, ProxyError> {
            match args.first() {
                Some(a) if !a.is_empty() => plain_arg(a, at, name),
                _ => Err(plan_error(
                    at,
                    format!("'{name}' without {what} is not supported by ha-compat"),
                )),
            }
        };
        let max_args = |n: usize| -> Result<(), ProxyError> {
            if args.len() > n {
                Err(plan_error(
                    at,
                    format!("'{name}' takes at most {n} argument(s)"),
                ))
            } else {
                Ok(())
            }
        };
        let f = match base {
            "path" => SampleFetch::Path,
            "url" => SampleFetch::Url,
            "base" => SampleFetch::Base,
            "query" => SampleFetch::Query,
            "url_param" => {
                max_args(2)?;
                let delim = match args.get(1) {
                    None => b'?',
                    Some(d) if d.len() == 1 => d.as_bytes()[0],
                    Some(d) => {
                        return Err(plan_error(
                            at,
                            format!("'{name}': delimiter '{d}' must be one character"),
                        ))
                    }
                };
                SampleFetch::UrlParam {
                    name: arg0("a parameter name")?,
                    delim,
                }
            }
            "req.hdr" => {
                max_args(2)?;
                SampleFetch::ReqHdr {
                    name: arg0("a header name")?,
                    occ: occurrence(args, at, name)?,
                }
            }
            "req.fhdr" => {
                max_args(2)?;
                SampleFetch::ReqFhdr {
                    name: arg0("a header name")?,
                    occ: occurrence(args, at, name)?,
                }
            }
            "req.hdr_cnt" => {
                max_args(1)?;
                SampleFetch::ReqHdrCnt(match args.first() {
                    Some(a) => plain_arg(a, at, name)?,
                    None => String::new(),
                })
            }
            "req.hdr_val" => {
                max_args(2)?;
                SampleFetch::ReqHdrVal {
                    name: arg0("a header name")?,
                    occ: occurrence(args, at, name)?,
                }
            }
            "method" => SampleFetch::Method,
            "req.ver" => SampleFetch::ReqVer,
            "req.proto_http" => SampleFetch::ProtoHttp,
            "src" => SampleFetch::Src,
            "dst" => SampleFetch::Dst,
            "src_port" => SampleFetch::SrcPort,
            "dst_port" => SampleFetch::DstPort,
            "ssl_fc" => SampleFetch::SslFc,
            "always_true" => SampleFetch::AlwaysTrue,
            "always_false" => SampleFetch::AlwaysFalse,
            "res.hdr" => {
                max_args(2)?;
                SampleFetch::ResHdr {
                    name: arg0("a header name")?,
                    occ: occurrence(args, at, name)?,
                }
            }
            "res.hdr_cnt" => {
                max_args(1)?;
                SampleFetch::ResHdrCnt(match args.first() {
                    Some(a) => plain_arg(a, at, name)?,
                    None => String::new(),
                })
            }
            "status" => SampleFetch::Status,
            "http_auth" => {
                max_args(1)?;
                let name = arg0("a userlist")?;
                let Some(list) = userlists.iter().find(|u| u.name == name) else {
                    return Err(plan_error(
                        at,
                        format!("http_auth: no userlist named '{name}'"),
                    ));
                };
                if let Some(u) = list.users.iter().find(|u| !u.insecure) {
                    return Err(plan_error(
                        at,
                        format!("http_auth({name}): user '{}' has a crypt(3) password hash, which ha-compat does not check yet (only insecure-password)", u.name),
                    ));
                }
                SampleFetch::HttpAuth(
                    list.users
                        .iter()
                        .map(|u| (u.name.clone(), u.password.clone()))
                        .collect(),
                )
            }
            _ => {
                return Err(plan_error(
                    at,
                    format!("sample fetch '{name}' is not supported by ha-compat's HTTP rules"),
                ))
            }
        };
        let takes_args = matches!(
            f,
            SampleFetch::UrlParam { .. }
                | SampleFetch::ReqHdr { .. }
                | SampleFetch::ReqFhdr { .. }
                | SampleFetch::ReqHdrCnt(_)
                | SampleFetch::ReqHdrVal { .. }
                | SampleFetch::ResHdr { .. }
                | SampleFetch::ResHdrCnt(_)
                | SampleFetch::HttpAuth(_)
        );
        if !takes_args && !args.is_empty() {
            return Err(plan_error(
                at,
                format!("'{name}' with arguments is not supported by ha-compat"),
            ));
        }
        let response_only = matches!(
            f,
            SampleFetch::ResHdr { .. } | SampleFetch::ResHdrCnt(_) | SampleFetch::Status
        );
        let any_phase = matches!(
            f,
            SampleFetch::Method
                | SampleFetch::Src
                | SampleFetch::Dst
                | SampleFetch::SrcPort
                | SampleFetch::DstPort
                | SampleFetch::SslFc
                | SampleFetch::AlwaysTrue
                | SampleFetch::AlwaysFalse
        );
        if phase == Phase::Request && response_only {
            return Err(plan_error(
                at,
                format!(
                    "fetch '{name}' only exists in responses; it cannot be used in a request rule"
                ),
            ));
        }
        if phase == Phase::Response && !response_only && !any_phase {
            return Err(plan_error(
                at,
                format!("fetch '{name}' reads the request, which http-response rules cannot see (HAProxy: 'will never match')"),
            ));
        }
        let mut converters = Vec::new();
        for (conv, cargs) in &fetch.converters {
            let c = match conv.as_str() {
                "lower" => Converter::Lower,
                "upper" => Converter::Upper,
                _ => {
                    return Err(plan_error(
                        at,
                        format!("converter '{conv}' is not supported by ha-compat's HTTP rules"),
                    ))
                }
            };
            if !cargs.is_empty() {
                return Err(plan_error(
                    at,
                    format!("converter '{conv}' takes no argument"),
                ));
            }
            converters.push(c);
        }
        if !converters.is_empty() && is_keyword_variant(name) {
            return Err(plan_error(
                at,
                format!("converters after the ACL keyword '{name}' are not supported by ha-compat (use the fetch with '-m')"),
            ));
        }
        Ok(SampleExpr {
            fetch: f,
            converters,
        })
    }

    fn output_type(&self) -> SampleType {
        if !self.converters.is_empty() {
            return SampleType::Str;
        }
        match self.fetch {
            SampleFetch::Path
            | SampleFetch::Url
            | SampleFetch::Base
            | SampleFetch::Query
            | SampleFetch::UrlParam { .. }
            | SampleFetch::ReqHdr { .. }
            | SampleFetch::ReqFhdr { .. }
            | SampleFetch::ReqVer
            | SampleFetch::ResHdr { .. } => SampleType::Str,
            SampleFetch::ReqHdrCnt(_)
            | SampleFetch::ReqHdrVal { .. }
            | SampleFetch::SrcPort
            | SampleFetch::DstPort
            | SampleFetch::ResHdrCnt(_)
            | SampleFetch::Status => SampleType::Int,
            SampleFetch::Src | SampleFetch::Dst => SampleType::Ip,
            SampleFetch::SslFc
            | SampleFetch::AlwaysTrue
            | SampleFetch::AlwaysFalse
            | SampleFetch::ProtoHttp
            | SampleFetch::HttpAuth(_) => SampleType::Bool,
            SampleFetch::Method => SampleType::Method,
        }
    }

    /// Every value the fetch yields: all occurrences when `iterate` (ACLs), else the
    /// one a sample expression uses. Empty = the fetch failed.
    pub(crate) fn fetch<'a>(&self, s: &Subject<'a>, iterate: bool) -> Vec<Sample<'a>> {
        let raw = self.fetch_raw(s, iterate);
        if self.converters.is_empty() {
            return raw;
        }
        raw.into_iter()
            .map(|v| {
                let mut text = v.to_text().into_owned();
                for c in &self.converters {
                    text = match c {
                        Converter::Lower => text.to_ascii_lowercase(),
                        Converter::Upper => text.to_ascii_uppercase(),
                    };
                }
                Sample::Str(Cow::Owned(text))
            })
            .collect()
    }

    fn fetch_raw<'a>(&self, s: &Subject<'a>, iterate: bool) -> Vec<Sample<'a>> {
        let req = s.request;
        let one = |v: Option<Sample<'a>>| v.into_iter().collect::<Vec<_>>();
        match &self.fetch {
            SampleFetch::Path => one(uri_path(&req.uri)
                .map(|p| Sample::Str(Cow::Borrowed(p.split('?').next().unwrap_or(p))))),
            SampleFetch::Url => one(Some(Sample::Str(Cow::Borrowed(req.uri.as_str())))),
            SampleFetch::Base => one(base(req).map(Sample::Str)),
            SampleFetch::Query => one(req
                .uri
                .find('?')
                .map(|q| Sample::Str(Cow::Borrowed(&req.uri[q + 1..])))),
            SampleFetch::UrlParam { name, delim } => {
                let mut all = url_params(&req.uri, name, *delim);
                if !iterate {
                    all.truncate(1);
                }
                all.into_iter()
                    .map(|v| Sample::Str(Cow::Borrowed(v)))
                    .collect()
            }
            SampleFetch::ReqHdr { name, occ } => {
                header_occurrences(hdr_values(&req.headers, name), *occ, iterate)
                    .into_iter()
                    .map(|v| Sample::Str(Cow::Borrowed(v)))
                    .collect()
            }
            SampleFetch::ReqFhdr { name, occ } => {
                let full: Vec<&str> = req
                    .headers
                    .0
                    .iter()
                    .filter(|h| h.name.eq_ignore_ascii_case(name))
                    .map(|h| trim_lws(&h.value))
                    .collect();
                header_occurrences(full, *occ, iterate)
                    .into_iter()
                    .map(|v| Sample::Str(Cow::Borrowed(v)))
                    .collect()
            }
            SampleFetch::ReqHdrCnt(name) => one(Some(Sample::Int(
                hdr_values(&req.headers, name).len() as i64,
            ))),
            SampleFetch::ReqHdrVal { name, occ } => {
                header_occurrences(hdr_values(&req.headers, name), *occ, iterate)
                    .into_iter()
                    .map(|v| Sample::Int(i64::from(strl2ic(v))))
                    .collect()
            }
            SampleFetch::Method => one(Some(Sample::Method(req.method.as_str()))),
            SampleFetch::ReqVer => one(Some(Sample::Str(Cow::Borrowed(
                req.version.as_str().trim_start_matches("HTTP/"),
            )))),
            SampleFetch::ProtoHttp => one(Some(Sample::Bool(true))),
            SampleFetch::Src => one(Some(Sample::Ip(s.conn.client.ip()))),
            SampleFetch::Dst => one(Some(Sample::Ip(s.conn.local.ip()))),
            SampleFetch::SrcPort => one(Some(Sample::Int(i64::from(s.conn.client.port())))),
            SampleFetch::DstPort => one(Some(Sample::Int(i64::from(s.conn.local.port())))),
            SampleFetch::SslFc => one(Some(Sample::Bool(s.conn.tls))),
            SampleFetch::AlwaysTrue => one(Some(Sample::Bool(true))),
            SampleFetch::AlwaysFalse => one(Some(Sample::Bool(false))),
            SampleFetch::ResHdr { name, occ } => match s.response {
                Some(res) => header_occurrences(hdr_values(&res.headers, name), *occ, iterate)
                    .into_iter()
                    .map(|v| Sample::Str(Cow::Borrowed(v)))
                    .collect(),
                None => Vec::new(),
            },
            SampleFetch::ResHdrCnt(name) => one(s
                .response
                .map(|res| Sample::Int(hdr_values(&res.headers, name).len() as i64))),
            SampleFetch::Status => one(s.response.map(|res| Sample::Int(i64::from(res.status)))),
            SampleFetch::HttpAuth(users) => one(basic_credentials(req).map(|(user, pass)| {
                Sample::Bool(
                    users
                        .iter()
                        .find(|(u, _)| u.as_bytes() == user.as_slice())
                        .is_some_and(|(_, p)| p.as_bytes() == pass.as_slice()),
                )
            })),
        }
    }
}

/// HTTP's linear white space as `HTTP_IS_LWS()`: space, tab, CR, LF.
fn is_lws(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\r' | '\n')
}

fn trim_lws(v: &str) -> &str {
    v.trim_matches(is_lws)
}

/// Every comma-separated value of `name` (every header when `name` is empty), as
/// `http_find_header()` without `full`: commas inside double quotes do not split, and
/// each value is trimmed of LWS.
pub(crate) fn hdr_values<'a>(headers: &'a super::head::Headers, name: &str) -> Vec<&'a str> {
    let mut out = Vec::new();
    for h in &headers.0 {
        if !name.is_empty() && !h.name.eq_ignore_ascii_case(name) {
            continue;
        }
        let v = h.value.as_str();
        let mut start = 0;
        loop {
            let end = value_end(v, start);
            out.push(trim_lws(&v[start..end]));
            if end >= v.len() {
                break;
            }
            start = end + 1;
        }
    }
    out
}

/// `http_find_hdr_value_end()`: the next comma outside a quoted string.
pub(crate) fn value_end(v: &str, from: usize) -> usize {
    let b = v.as_bytes();
    let (mut quoted, mut qdpair) = (false, false);
    for (i, &c) in b.iter().enumerate().skip(from) {
        if qdpair {
            qdpair = false;
        } else if quoted {
            if c == b'\\' {
                qdpair = true;
            } else if c == b'"' {
                quoted = false;
            }
        } else if c == b'"' {
            quoted = true;
        } else if c == b',' {
            return i;
        }
    }
    b.len()
}

/// `occ` as `smp_fetch_hdr()` applies it: 0 = every value when iterating (ACLs), the
/// last one otherwise; N > 0 the Nth; N < 0 the Nth from the end.
fn header_occurrences(values: Vec<&str>, occ: i64, iterate: bool) -> Vec<&str> {
    let occ = if occ == 0 && !iterate { -1 } else { occ };
    if occ == 0 {
        return values;
    }
    let n = values.len() as i64;
    let index = if occ > 0 { occ - 1 } else { n + occ };
    if index < 0 || index >= n {
        return Vec::new();
    }
    values.into_iter().skip(index as usize).take(1).collect()
}

/// `strl2ic()`: the leading decimal integer, 0 when there is none (HAProxy's loop also
/// folds characters below '0' in; ha-compat stops there: only malformed values differ).
fn strl2ic(s: &str) -> i32 {
    let (neg, digits) = match s.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, s),
    };
    let mut i: i32 = 0;
    for c in digits.bytes() {
        if !c.is_ascii_digit() {
            break;
        }
        let d = i32::from(c - b'0');
        i = if neg {
            i.wrapping_mul(10).wrapping_sub(d)
        } else {
            i.wrapping_mul(10).wrapping_add(d)
        };
    }
    i
}

/// `http_parse_path()`: the path and query of the URI, `None` for `*`, an empty URI or
/// an authority form (HAProxy's path fetches then fail).
pub(crate) fn uri_path(uri: &str) -> Option<&str> {
    let b = uri.as_bytes();
    match b.first() {
        None | Some(b'*') => None,
        Some(b'/') => Some(uri),
        Some(c) if c.is_ascii_alphabetic() => {
            let mut i = 1;
            while i < b.len()
                && (b[i].is_ascii_alphanumeric() || matches!(b[i], b'+' | b'-' | b'.'))
            {
                i += 1;
            }
            if !uri[i..].starts_with("://") {
                return None;
            }
            let rest = &uri[i + 3..];
            rest.find('/').map(|p| &rest[p..])
        }
        Some(_) => None,
    }
}

/// `base`: the first Host value followed by the path (without the query) when it starts
/// with `/`; the plain path without a (non-empty) Host.
fn base(req: &RequestHead) -> Option<Cow<'_, str>> {
    let host = hdr_values(&req.headers, "host").into_iter().next();
    let full = uri_path(&req.uri);
    match host {
        Some(h) if !h.is_empty() => {
            let mut out = h.to_string();
            if let Some(p) = full {
                let p = p.split('?').next().unwrap_or(p);
                if p.starts_with('/') {
                    out.push_str(p);
                }
            }
            Some(Cow::Owned(out))
        }
        _ => full.map(|p| Cow::Borrowed(p.split('?').next().unwrap_or(p))),
    }
}

fn is_param_delimiter(c: u8, delim: u8) -> bool {
    c == b'&' || c == b';' || c == delim
}

/// `url_param(name[,delim])`: every value of `name` in the query string (from the first
/// `delim`), as `http_find_url_param_pos()` / `http_find_next_url_param()` scan it.
fn url_params<'a>(uri: &'a str, name: &str, delim: u8) -> Vec<&'a str> {
    let b = uri.as_bytes();
    let Some(q) = b.iter().position(|&c| c == delim) else {
        return Vec::new();
    };
    let end = b.len();
    let nb = name.as_bytes();
    let mut out = Vec::new();
    let mut pos = q + 1;
    'outer: while pos < end {
        // Find the next parameter called `name` from `pos`.
        let found;
        loop {
            let equal = pos + nb.len();
            if equal >= end {
                break 'outer;
            }
            if b[equal] == b'=' && &b[pos..equal] == nb {
                found = pos;
                break;
            }
            if b[equal] == b'=' {
                pos = equal + 1;
            }
            while pos < end && !is_param_delimiter(b[pos], delim) {
                pos += 1;
            }
            if pos >= end {
                break 'outer;
            }
            pos += 1;
        }
        let value_start = found + nb.len() + 1;
        let mut value_end = value_start;
        while value_end < end && !is_param_delimiter(b[value_end], delim) {
            value_end += 1;
        }
        out.push(&uri[value_start..value_end]);
        pos = value_end;
        if pos < end {
            pos += 1;
        }
    }
    out
}

/// `get_http_auth()`: the first `Authorization` value, a scheme that `Basic` starts
/// with (case-insensitive, as its `strncasecmp()` on the scheme's length), blanks, then
/// base64 of `user:password` (cut at a NUL, as the C string is).
fn basic_credentials(req: &RequestHead) -> Option<(Vec<u8>, Vec<u8>)> {
    let value = *hdr_values(&req.headers, "authorization").first()?;
    let space = value.find(' ')?;
    if space == 0 {
        return None;
    }
    let scheme = &value[..space];
    if scheme.len() > 5 || !"basic".starts_with(&scheme.to_ascii_lowercase()) {
        return None;
    }
    let data = value[space..].trim_start_matches(' ');
    let mut decoded = base64_decode(data.as_bytes())?;
    if let Some(nul) = decoded.iter().position(|&b| b == 0) {
        decoded.truncate(nul);
    }
    let colon = decoded.iter().position(|&b| b == b':')?;
    let pass = decoded[colon + 1..].to_vec();
    decoded.truncate(colon);
    Some((decoded, pass))
}

/// `base64dec()`: the standard alphabet, length a multiple of 4, `=` only as the last
/// one or two characters of the last group.
fn base64_decode(input: &[u8]) -> Option<Vec<u8>> {
    // A mask, not `is_multiple_of`: MSRV 1.80.
    if input.is_empty() || input.len() & 3 != 0 {
        return None;
    }
    let value = |c: u8| -> Option<u8> {
        match c {
            b'A'..=b'Z' => Some(c - b'A'),
            b'a'..=b'z' => Some(c - b'a' + 26),
            b'0'..=b'9' => Some(c - b'0' + 52),
            b'+' => Some(62),
            b'/' => Some(63),
            _ => None,
        }
    };
    let mut out = Vec::with_capacity(input.len() / 4 * 3);
    let groups = input.len() / 4;
    for (g, chunk) in input.chunks(4).enumerate() {
        let pad = chunk.iter().rev().take_while(|&&c| c == b'=').count();
        if pad > 2 || (pad > 0 && g + 1 != groups) {
            return None;
        }
        let mut n: u32 = 0;
        for &c in &chunk[..4 - pad] {
            n = (n << 6) | u32::from(value(c)?);
        }
        n <<= 6 * pad as u32;
        let bytes = [(n >> 16) as u8, (n >> 8) as u8, n as u8];
        out.extend_from_slice(&bytes[..3 - pad]);
    }
    Some(out)
}

// ---------------------------------------------------------------- patterns

/// An integer range pattern (`80`, `8000:8080`, `:5`, `1024:`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct IntRange {
    min: Option<i64>,
    max: Option<i64>,
}

impl IntRange {
    fn contains(&self, v: i64) -> bool {
        // Matches, not `is_none_or`: MSRV 1.80.
        !matches!(self.min, Some(m) if m > v) && !matches!(self.max, Some(m) if v > m)
    }
}

/// `strl2llrc()` restricted to what it accepts sanely: `-?[0-9]+`.
fn parse_strict_int(s: &str) -> Option<i64> {
    let digits = s.strip_prefix('-').unwrap_or(s);
    if digits.is_empty() || !digits.bytes().all(|c| c.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// `pat_parse_int()`: `N`, `N:M`, `:M`, `N:` (`-` works as `:` too).
fn parse_int_range(text: &str) -> Result<IntRange, String> {
    let not_range = || format!("'{text}' is not a valid number range");
    match text.find([':', '-']) {
        None => {
            let v = parse_strict_int(text).ok_or_else(|| format!("'{text}' is not a number"))?;
            Ok(IntRange {
                min: Some(v),
                max: Some(v),
            })
        }
        Some(0) if text.len() > 1 => Ok(IntRange {
            min: None,
            max: Some(parse_strict_int(&text[1..]).ok_or_else(not_range)?),
        }),
        Some(i) if i + 1 == text.len() => Ok(IntRange {
            min: Some(parse_strict_int(&text[..i]).ok_or_else(not_range)?),
            max: None,
        }),
        Some(i) => {
            let min = parse_strict_int(&text[..i]).ok_or_else(not_range)?;
            let max = parse_strict_int(&text[i + 1..]).ok_or_else(not_range)?;
            if min > max {
                return Err(not_range());
            }
            Ok(IntRange {
                min: Some(min),
                max: Some(max),
            })
        }
    }
}

/// Integer patterns with the ACL operators (`eq`, `ge`, `gt`, `le`, `lt`) that apply to
/// the values after them, as `parse_acl_expr()` rewrites them.
fn parse_int_patterns(patterns: &[String]) -> Result<Vec<IntRange>, String> {
    #[derive(Clone, Copy, PartialEq)]
    enum Op {
        Eq,
        Ge,
        Gt,
        Le,
        Lt,
    }
    let mut op = Op::Eq;
    let mut out = Vec::new();
    for p in patterns {
        match p.as_str() {
            "eq" => op = Op::Eq,
            "ge" => op = Op::Ge,
            "gt" => op = Op::Gt,
            "le" => op = Op::Le,
            "lt" => op = Op::Lt,
            "ne" => return Err("operator 'ne' is not supported in ACL patterns".into()),
            _ => {
                if p.contains([':', '-']) || op == Op::Eq {
                    out.push(parse_int_range(p)?);
                    continue;
                }
                let v = parse_strict_int(p)
                    .ok_or_else(|| format!("'{p}' is neither a number nor a supported operator"))?;
                out.push(match op {
                    Op::Ge => IntRange {
                        min: Some(v),
                        max: None,
                    },
                    Op::Gt => IntRange {
                        min: Some(v.saturating_add(1)),
                        max: None,
                    },
                    Op::Le => IntRange {
                        min: None,
                        max: Some(v),
                    },
                    Op::Lt => IntRange {
                        min: None,
                        max: Some(v.saturating_sub(1)),
                    },
                    Op::Eq => IntRange {
                        min: Some(v),
                        max: Some(v),
                    },
                });
            }
        }
    }
    Ok(out)
}

/// An address with its mask (`10.0.0.0/8`, `192.168.0.0/255.255.0.0`, `::1`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Net {
    V4 { addr: u32, mask: u32 },
    V6 { addr: u128, mask: u128 },
}

fn parse_net(text: &str) -> Result<Net, String> {
    let bad = || format!("'{text}' is not a valid IPv4 or IPv6 address");
    let (addr, mask) = match text.split_once('/') {
        Some((a, m)) => (a, Some(m)),
        None => (text, None),
    };
    if let Ok(v4) = addr.parse::<Ipv4Addr>() {
        let mask = match mask {
            None => u32::MAX,
            Some(m) => match m.parse::<u8>() {
                Ok(bits) if bits <= 32 => prefix_mask_v4(bits),
                Ok(_) => return Err(bad()),
                Err(_) => u32::from(m.parse::<Ipv4Addr>().map_err(|_| bad())?),
            },
        };
        return Ok(Net::V4 {
            addr: u32::from(v4) & mask,
            mask,
        });
    }
    if let Ok(v6) = addr.parse::<Ipv6Addr>() {
        let bits = match mask {
            None => 128,
            Some(m) => match m.parse::<u8>() {
                Ok(b) if b <= 128 => b,
                _ => return Err(bad()),
            },
        };
        let mask = if bits == 0 {
            0
        } else {
            u128::MAX << (128 - u32::from(bits))
        };
        return Ok(Net::V6 {
            addr: u128::from(v6) & mask,
            mask,
        });
    }
    Err(format!(
        "{} (ha-compat does not resolve host names in ACL patterns)",
        bad()
    ))
}

fn prefix_mask_v4(bits: u8) -> u32 {
    if bits == 0 {
        0
    } else {
        u32::MAX << (32 - u32::from(bits))
    }
}

/// `pat_match_ip()`: an IPv4 sample also matches IPv6 networks as `::ffff:a.b.c.d`; an
/// IPv6 sample that is `::ffff:v4`, `::v4` or `2002:v4::` also matches IPv4 networks.
fn ip_matches(ip: IpAddr, nets: &[Net]) -> bool {
    let v4_in = |a: u32| {
        nets.iter()
            .any(|n| matches!(n, Net::V4 { addr, mask } if a & mask == *addr))
    };
    let v6_in = |a: u128| {
        nets.iter()
            .any(|n| matches!(n, Net::V6 { addr, mask } if a & mask == *addr))
    };
    match ip {
        IpAddr::V4(v4) => {
            let a = u32::from(v4);
            v4_in(a) || v6_in(u128::from(v4.to_ipv6_mapped()))
        }
        IpAddr::V6(v6) => {
            if v6_in(u128::from(v6)) {
                return true;
            }
            let o = v6.octets();
            let mapped = o[..8].iter().all(|&b| b == 0)
                && (o[8..12] == [0, 0, 0, 0] || o[8..12] == [0, 0, 0xff, 0xff]);
            if mapped {
                return v4_in(u32::from_be_bytes([o[12], o[13], o[14], o[15]]));
            }
            if o[0] == 0x20 && o[1] == 0x02 {
                return v4_in(u32::from_be_bytes([o[2], o[3], o[4], o[5]]));
            }
            false
        }
    }
}

/// The well-known methods `find_http_meth()` recognises (exact, case-sensitive).
const KNOWN_METHODS: &[&str] = &[
    "GET", "HEAD", "POST", "CONNECT", "PUT", "OPTIONS", "DELETE", "TRACE",
];

/// How one ACL expression compares its samples with its patterns.
#[derive(Debug, Clone)]
enum Matcher {
    /// `-m found`: the fetch succeeded.
    Found,
    /// `-m bool`: the sample is true / non-zero.
    Bool,
    Int(Vec<IntRange>),
    Len(Vec<IntRange>),
    Ip(Vec<Net>),
    Str(Vec<String>),
    Beg(Vec<String>),
    End(Vec<String>),
    Sub(Vec<String>),
    Dir(Vec<String>),
    Dom(Vec<String>),
    Reg(Vec<Regex>),
    Method(Vec<String>),
}

fn eq_bytes(a: &[u8], b: &[u8], icase: bool) -> bool {
    if icase {
        a.eq_ignore_ascii_case(b)
    } else {
        a == b
    }
}

/// `match_word()`: `pattern` (without delimiters at its ends) appears in `s` bounded by
/// delimiters or the ends of `s`.
fn match_word(s: &[u8], pattern: &[u8], icase: bool, delims: &[u8]) -> bool {
    let mut ps = pattern;
    while let Some((&c, rest)) = ps.split_first() {
        if delims.contains(&c) {
            ps = rest;
        } else {
            break;
        }
    }
    while let Some((&c, rest)) = ps.split_last() {
        if delims.contains(&c) {
            ps = rest;
        } else {
            break;
        }
    }
    let pl = ps.len();
    if pl > s.len() {
        return false;
    }
    let end = s.len() - pl;
    let mut may_match = true;
    // With an empty pattern `c` reaches `s.len()`, where C reads the string's NUL (not
    // a delimiter): an empty pattern matches an empty string or one ending in a delimiter.
    let at = |i: usize| s.get(i).copied().unwrap_or(0);
    for c in 0..=end {
        if delims.contains(&at(c)) {
            may_match = true;
            continue;
        }
        if !may_match {
            continue;
        }
        if eq_bytes(&s[c..c + pl], ps, icase) && (c == end || delims.contains(&at(c + pl))) {
            return true;
        }
        may_match = false;
    }
    false
}

impl Matcher {
    fn matches(&self, sample: &Sample<'_>, icase: bool) -> bool {
        match self {
            Matcher::Found => true,
            Matcher::Bool => match sample {
                Sample::Bool(b) => *b,
                Sample::Int(i) => *i != 0,
                _ => false,
            },
            Matcher::Int(ranges) => match sample {
                Sample::Int(i) => ranges.iter().any(|r| r.contains(*i)),
                Sample::Bool(b) => ranges.iter().any(|r| r.contains(i64::from(*b))),
                _ => false,
            },
            Matcher::Len(ranges) => {
                let len = sample.to_text().len() as i64;
                ranges.iter().any(|r| r.contains(len))
            }
            Matcher::Ip(nets) => match sample {
                Sample::Ip(ip) => ip_matches(*ip, nets),
                // c_str2addr: a string that is not an address does not match.
                Sample::Str(s) => s.parse::<IpAddr>().is_ok_and(|ip| ip_matches(ip, nets)),
                _ => false,
            },
            Matcher::Method(pats) => {
                let Sample::Method(m) = sample else {
                    return false;
                };
                let sample_known = KNOWN_METHODS.contains(m);
                pats.iter().any(|p| {
                    if KNOWN_METHODS.contains(&p.as_str()) {
                        p == m
                    } else {
                        !sample_known && eq_bytes(p.as_bytes(), m.as_bytes(), icase)
                    }
                })
            }
            Matcher::Reg(res) => {
                let text = sample.to_text();
                res.iter().any(|r| r.is_match(text.as_bytes()))
            }
            Matcher::Str(pats)
            | Matcher::Beg(pats)
            | Matcher::End(pats)
            | Matcher::Sub(pats)
            | Matcher::Dir(pats)
            | Matcher::Dom(pats) => {
                let text = sample.to_text();
                let s = text.as_bytes();
                pats.iter().any(|p| {
                    let p = p.as_bytes();
                    match self {
                        Matcher::Str(_) => eq_bytes(s, p, icase),
                        Matcher::Beg(_) => p.len() <= s.len() && eq_bytes(&s[..p.len()], p, icase),
                        Matcher::End(_) => {
                            p.len() <= s.len() && eq_bytes(&s[s.len() - p.len()..], p, icase)
                        }
                        Matcher::Sub(_) => {
                            p.len() <= s.len()
                                && (0..=s.len() - p.len())
                                    .any(|i| eq_bytes(&s[i..i + p.len()], p, icase))
                        }
                        Matcher::Dir(_) => match_word(s, p, icase, b"/?"),
                        _ => match_word(s, p, icase, b"/?.:"),
                    }
                })
            }
        }
    }
}

// ---------------------------------------------------------------- ACLs

/// One compiled criterion: a sample expression, a matcher and its patterns.
#[derive(Debug, Clone)]
pub(crate) struct AclMatcher {
    sample: SampleExpr,
    matcher: Matcher,
    ignore_case: bool,
}

/// `pat_ref_read_from_file()`: one pattern per line; lines starting with `#` and empty
/// lines skipped; leading blanks removed; the pattern ends at CR or LF.
fn read_pattern_file(path: &Path, at: &Location) -> Result<Vec<String>, ProxyError> {
    let bytes = std::fs::read(path).map_err(|e| {
        plan_error(
            at,
            format!("failed to open pattern file <{}> : {e}", path.display()),
        )
    })?;
    let text = String::from_utf8_lossy(&bytes);
    let mut out = Vec::new();
    for line in text.split('\n') {
        if line.starts_with('#') {
            continue;
        }
        let line = line.trim_start_matches([' ', '\t']);
        let line = line.split('\r').next().unwrap_or("");
        if !line.is_empty() {
            out.push(line.to_string());
        }
    }
    Ok(out)
}

impl AclMatcher {
    pub(crate) fn compile(
        expr: &AclExpression,
        at: &Location,
        phase: Phase,
        userlists: &[model::Userlist],
    ) -> Result<Self, ProxyError> {
        let sample = SampleExpr::compile(&expr.fetch, at, phase, userlists)?;
        for flag in &expr.other_flags {
            // -n (no DNS resolution: ha-compat never resolves) and -u ID (a unique id for
            // the CLI) do not change matching; -M loads a map.
            if flag != "-n" && !flag.starts_with("-u ") {
                return Err(plan_error(
                    at,
                    format!("ACL flag '{flag}' is not supported by ha-compat"),
                ));
            }
        }
        let mut patterns = expr.patterns.clone();
        for file in &expr.pattern_files {
            patterns.extend(read_pattern_file(file, at)?);
        }
        let out_type = sample.output_type();
        let method = match expr.match_method.as_deref() {
            Some(m) => m,
            None => match out_type {
                SampleType::Str => "str",
                SampleType::Int => "int",
                SampleType::Ip => "ip",
                SampleType::Bool => "bool",
                SampleType::Method => "str",
            },
        };
        let err = |m: String| plan_error(at, format!("ACL '{}' : {m}", expr.fetch.name));
        let icase = expr.ignore_case;
        let matcher = match method {
            "found" => Matcher::Found,
            "bool" => {
                if !matches!(out_type, SampleType::Bool | SampleType::Int) {
                    return Err(err(format!(
                        "matching method 'bool' cannot be used with fetch keyword '{}' in ha-compat",
                        expr.fetch.name
                    )));
                }
                Matcher::Bool
            }
            "int" => {
                if !matches!(out_type, SampleType::Bool | SampleType::Int) {
                    return Err(err(format!(
                        "matching method 'int' on a string fetch ('{}') is not supported by ha-compat",
                        expr.fetch.name
                    )));
                }
                Matcher::Int(parse_int_patterns(&patterns).map_err(err)?)
            }
            "len" => Matcher::Len(parse_int_patterns(&patterns).map_err(err)?),
            "ip" => {
                if !matches!(out_type, SampleType::Ip | SampleType::Str) {
                    return Err(err(format!(
                        "matching method 'ip' cannot be used with fetch keyword '{}'",
                        expr.fetch.name
                    )));
                }
                Matcher::Ip(
                    patterns
                        .iter()
                        .map(|p| parse_net(p))
                        .collect::<Result<_, _>>()
                        .map_err(err)?,
                )
            }
            "str" if out_type == SampleType::Method => Matcher::Method(patterns),
            "str" => Matcher::Str(patterns),
            "beg" => Matcher::Beg(patterns),
            "end" => Matcher::End(patterns),
            "sub" => Matcher::Sub(patterns),
            "dir" => Matcher::Dir(patterns),
            "dom" => Matcher::Dom(patterns),
            "reg" => Matcher::Reg(
                patterns
                    .iter()
                    .map(|p| {
                        // Byte-oriented, ASCII classes: PCRE2 as HAProxy compiles it
                        // (no UTF flag).
                        regex::bytes::RegexBuilder::new(p)
                            .unicode(false)
                            .case_insensitive(icase)
                            .build()
                            .map_err(|e| {
                                err(format!(
                                    "regex '{p}' is not supported by ha-compat's regex engine: {e}"
                                ))
                            })
                    })
                    .collect::<Result<_, _>>()?,
            ),
            other => {
                return Err(err(format!(
                    "matching method '{other}' is not supported by ha-compat"
                )))
            }
        };
        Ok(AclMatcher {
            sample,
            matcher,
            ignore_case: icase,
        })
    }

    /// True when any value the fetch yields matches any pattern.
    fn matches(&self, s: &Subject<'_>) -> bool {
        self.sample
            .fetch(s, true)
            .iter()
            .any(|v| self.matcher.matches(v, self.ignore_case))
    }
}

/// A named ACL: its `acl` lines (or HAProxy's predefined definition), OR'ed.
#[derive(Debug, Clone)]
pub(crate) struct CompiledAcl {
    expressions: Vec<AclMatcher>,
}

impl CompiledAcl {
    fn matches(&self, s: &Subject<'_>) -> bool {
        self.expressions.iter().any(|e| e.matches(s))
    }
}

/// HAProxy's predefined ACLs (`default_acl_list` in src/acl.c) ha-compat implements:
/// name -> (fetch, args, match method, patterns).
/// (name, fetch, fetch arguments, match method, patterns).
type Predefined = (
    &'static str,
    &'static str,
    &'static [&'static str],
    Option<&'static str>,
    &'static [&'static str],
);

const PREDEFINED: &[Predefined] = &[
    ("TRUE", "always_true", &[], None, &[]),
    ("FALSE", "always_false", &[], None, &[]),
    ("LOCALHOST", "src", &[], None, &["127.0.0.1/8", "::1"]),
    ("HTTP", "req.proto_http", &[], None, &[]),
    ("HTTP_1.0", "req.ver", &[], None, &["1.0"]),
    ("HTTP_1.1", "req.ver", &[], None, &["1.1"]),
    ("HTTP_2.0", "req.ver", &[], None, &["2.0"]),
    ("METH_CONNECT", "method", &[], Some("str"), &["CONNECT"]),
    ("METH_DELETE", "method", &[], Some("str"), &["DELETE"]),
    ("METH_GET", "method", &[], Some("str"), &["GET", "HEAD"]),
    ("METH_HEAD", "method", &[], Some("str"), &["HEAD"]),
    ("METH_OPTIONS", "method", &[], Some("str"), &["OPTIONS"]),
    ("METH_POST", "method", &[], Some("str"), &["POST"]),
    ("METH_PUT", "method", &[], Some("str"), &["PUT"]),
    ("METH_TRACE", "method", &[], Some("str"), &["TRACE"]),
    ("HTTP_URL_ABS", "url", &[], Some("reg"), &["^[^/:]*://"]),
    ("HTTP_URL_SLASH", "url", &[], Some("beg"), &["/"]),
    ("HTTP_URL_STAR", "url", &[], Some("str"), &["*"]),
    (
        "HTTP_CONTENT",
        "req.hdr_val",
        &["content-length"],
        None,
        &["gt", "0"],
    ),
];

fn predefined(name: &str) -> Option<AclExpression> {
    PREDEFINED
        .iter()
        .find(|(n, ..)| *n == name)
        .map(|(_, fetch, args, method, patterns)| AclExpression {
            fetch: Fetch {
                name: (*fetch).to_string(),
                args: args.iter().map(|a| (*a).to_string()).collect(),
                converters: Vec::new(),
            },
            ignore_case: false,
            match_method: method.map(str::to_string),
            pattern_files: Vec::new(),
            other_flags: Vec::new(),
            patterns: patterns.iter().map(|p| (*p).to_string()).collect(),
        })
}

/// Compiles conditions against one proxy's `acl` lines, each named ACL once per phase.
#[derive(Debug)]
pub struct AclCompiler<'c> {
    acls: &'c [model::Acl],
    userlists: &'c [model::Userlist],
    cache: HashMap<(String, bool), Arc<CompiledAcl>>,
}

impl<'c> AclCompiler<'c> {
    /// `acls`: the proxy's `acl` lines; `userlists`: for `http_auth()`.
    pub fn new(acls: &'c [model::Acl], userlists: &'c [model::Userlist]) -> Self {
        AclCompiler {
            acls,
            userlists,
            cache: HashMap::new(),
        }
    }

    fn named(
        &mut self,
        name: &str,
        at: &Location,
        phase: Phase,
    ) -> Result<Arc<CompiledAcl>, ProxyError> {
        let key = (name.to_string(), phase == Phase::Request);
        if let Some(a) = self.cache.get(&key) {
            return Ok(a.clone());
        }
        let lines: Vec<&model::Acl> = self.acls.iter().filter(|a| a.name == name).collect();
        let expressions = if lines.is_empty() {
            let Some(expr) = predefined(name) else {
                return Err(plan_error(
                    at,
                    format!("ACL '{name}' is not defined, or is a predefined ACL ha-compat does not implement"),
                ));
            };
            vec![AclMatcher::compile(&expr, at, phase, self.userlists)?]
        } else {
            lines
                .iter()
                .map(|a| AclMatcher::compile(&a.expression, &a.at, phase, self.userlists))
                .collect::<Result<_, _>>()?
        };
        let compiled = Arc::new(CompiledAcl { expressions });
        self.cache.insert(key, compiled.clone());
        Ok(compiled)
    }

    /// `if`/`unless` terms -> a compiled condition, at the rule's location.
    pub fn condition(
        &mut self,
        cond: &model::Condition,
        at: &Location,
        phase: Phase,
    ) -> Result<Condition, ProxyError> {
        let mut any_of = Vec::with_capacity(cond.any_of.len());
        for and in &cond.any_of {
            let mut terms = Vec::with_capacity(and.len());
            for t in and {
                let acl = match &t.acl {
                    AclRef::Named(name) => self.named(name, at, phase)?,
                    AclRef::Anonymous(expr) => Arc::new(CompiledAcl {
                        expressions: vec![AclMatcher::compile(expr, at, phase, self.userlists)?],
                    }),
                };
                terms.push(Term {
                    negated: t.negated,
                    acl,
                });
            }
            any_of.push(terms);
        }
        Ok(Condition {
            unless: cond.unless,
            any_of,
        })
    }
}

#[derive(Debug, Clone)]
struct Term {
    negated: bool,
    acl: Arc<CompiledAcl>,
}

/// A compiled `if`/`unless` condition: an OR of ANDs of (possibly negated) ACLs.
#[derive(Debug, Clone)]
pub struct Condition {
    unless: bool,
    any_of: Vec<Vec<Term>>,
}

impl Condition {
    /// Whether the rule applies (`unless` inverts the OR of ANDs).
    pub fn holds(&self, s: &Subject<'_>) -> bool {
        let any = self
            .any_of
            .iter()
            .any(|and| and.iter().all(|t| t.acl.matches(s) != t.negated));
        any != self.unless
    }
}

/// `None` (no condition) always holds.
pub fn holds(cond: Option<&Condition>, s: &Subject<'_>) -> bool {
    match cond {
        None => true,
        Some(c) => c.holds(s),
    }
}

#[cfg(test)]
pub(crate) mod tests;
