//! A proxy's HTTP rules, compiled once: `http-request`, `redirect`, `use_backend` /
//! `default_backend` and `http-response`, with HAProxy 2.6's order and stop semantics
//! (src/http_ana.c `http_process_req_common()`, `http_req_get_intercept_rule()`,
//! `process_switching_rules()`).
//!
//! Pure and sans-IO: the runtime hands a parsed head and the connection facts, gets a
//! [`Verdict`] back (the head rewritten in place on [`Verdict::Continue`]) and does the
//! I/O. Redirect and `return` answers are built here byte for byte as HAProxy builds
//! them; deny and auth pages come from the error-page module, from the status.
//!
//! Header values, paths and other action arguments are HAProxy log-format strings: the
//! literal text and `%[fetch]` blocks over the fetches [`super::acl`] implements are
//! supported; other `%` forms (`%ci`, `%{+Q}`, `%%`...) are refused at compile time.

use std::borrow::Cow;

use haproxy_conf::model::{HaproxyConfig, HttpAction, HttpRule, Location, Proxy};
use regex::bytes::Regex;

use super::acl::{self, hdr_values, plan_error, uri_path, AclCompiler, Condition, Phase, Subject};
use super::head::{
    serialize_response, ConnectionInfo, Header, Headers, HttpVersion, RequestHead, ResponseHead,
};
use crate::ProxyError;

// ---------------------------------------------------------------- log-format strings

#[derive(Debug, Clone)]
enum Piece {
    Text(String),
    Sample(acl::SampleExpr),
}

/// A log-format string restricted to text and `%[fetch,conv...]` blocks.
#[derive(Debug, Clone)]
pub(crate) struct LogFormat(Vec<Piece>);

/// `name(args),conv(args),...` split as `sample_parse_expr()` reads it (no quoting).
fn parse_sample_text(text: &str) -> Result<haproxy_conf::model::Fetch, String> {
    fn split_call(s: &str) -> Result<(String, Vec<String>, &str), String> {
        let end = s.find(['(', ',']).unwrap_or(s.len());
        let name = s[..end].to_string();
        if name.is_empty() {
            return Err(format!("missing fetch or converter name in '{s}'"));
        }
        let rest = &s[end..];
        if let Some(inner) = rest.strip_prefix('(') {
            let close = inner
                .find(')')
                .ok_or_else(|| format!("missing ')' after '{name}('"))?;
            let args = if close == 0 {
                Vec::new()
            } else {
                inner[..close].split(',').map(str::to_string).collect()
            };
            Ok((name, args, &inner[close + 1..]))
        } else {
            Ok((name, Vec::new(), rest))
        }
    }
    let (name, args, mut rest) = split_call(text)?;
    let mut converters = Vec::new();
    while !rest.is_empty() {
        let Some(r) = rest.strip_prefix(',') else {
            return Err(format!("unexpected '{rest}' in sample expression '{text}'"));
        };
        let (c, cargs, r) = split_call(r)?;
        converters.push((c, cargs));
        rest = r;
    }
    Ok(haproxy_conf::model::Fetch {
        name,
        args,
        converters,
    })
}

/// `http_encode_map`: control characters (but tab) and DEL in a sample become `%XX`
/// when a log-format string is used in a header (`LOG_OPT_HTTP`).
fn http_encode(out: &mut String, s: &str) {
    for c in s.chars() {
        let b = c as u32;
        if b <= 0x08 || (0x0a..=0x1f).contains(&b) || b == 0x7f {
            out.push_str(&format!("%{b:02X}"));
        } else {
            out.push(c);
        }
    }
}

impl LogFormat {
    pub(crate) fn compile(text: &str, at: &Location, phase: Phase) -> Result<Self, ProxyError> {
        let mut pieces = Vec::new();
        let mut rest = text;
        let mut lit = String::new();
        while let Some(i) = rest.find('%') {
            lit.push_str(&rest[..i]);
            let after = &rest[i + 1..];
            let Some(inner) = after.strip_prefix('[') else {
                return Err(plan_error(
                    at,
                    format!("log-format '{text}': only text and '%[fetch]' blocks are supported by ha-compat here"),
                ));
            };
            let close = inner
                .find(']')
                .ok_or_else(|| plan_error(at, format!("log-format '{text}': missing ']'")))?;
            let fetch = parse_sample_text(&inner[..close])
                .map_err(|e| plan_error(at, format!("log-format '{text}': {e}")))?;
            if !lit.is_empty() {
                pieces.push(Piece::Text(std::mem::take(&mut lit)));
            }
            pieces.push(Piece::Sample(acl::SampleExpr::compile(
                &fetch,
                at,
                phase,
                &[],
            )?));
            rest = &inner[close + 1..];
        }
        lit.push_str(rest);
        if !lit.is_empty() {
            pieces.push(Piece::Text(lit));
        }
        Ok(LogFormat(pieces))
    }

    /// The text when the format has no `%[...]` block.
    fn literal(&self) -> Option<String> {
        let mut out = String::new();
        for p in &self.0 {
            match p {
                Piece::Text(t) => out.push_str(t),
                Piece::Sample(_) => return None,
            }
        }
        Some(out)
    }

    /// `build_logline()`: a sample that cannot be fetched is empty.
    pub(crate) fn render(&self, s: &Subject<'_>) -> String {
        let mut out = String::new();
        for p in &self.0 {
            match p {
                Piece::Text(t) => out.push_str(t),
                Piece::Sample(e) => {
                    if let Some(v) = e.fetch(s, false).first() {
                        http_encode(&mut out, &v.to_text());
                    }
                }
            }
        }
        out
    }
}

// ---------------------------------------------------------------- answers

/// A response HAProxy builds itself (redirect, `return`): the head and the body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub head: ResponseHead,
    pub body: Vec<u8>,
}

impl Reply {
    /// The bytes HAProxy's H1 multiplexer sends to a keep-alive HTTP/1.1 client.
    pub fn to_bytes(&self) -> Vec<u8> {
        self.to_bytes_with_connection(None)
    }

    /// The bytes with the `connection` header the H1 multiplexer appends after the
    /// others (`close` when the connection ends after this answer, `keep-alive` to an
    /// HTTP/1.0 client that asked for it; the runtime decides). As the multiplexer
    /// does, `content-length` is not sent with a 1xx or 204 status.
    /// A `connection` header already there gets the value in place.
    pub fn to_bytes_with_connection(&self, connection: Option<&str>) -> Vec<u8> {
        let mut head = self.head.clone();
        if head.status < 200 || head.status == 204 {
            head.headers.remove("content-length");
        }
        if let Some(value) = connection {
            match head
                .headers
                .0
                .iter_mut()
                .find(|h| h.name.eq_ignore_ascii_case("connection"))
            {
                Some(h) => h.value = value.to_string(),
                None => head.headers.add("connection", value),
            }
        }
        let mut out = serialize_response(&head);
        out.extend_from_slice(&self.body);
        out
    }
}

/// `http_get_reason()`.
pub fn reason(status: u16) -> &'static str {
    match status {
        100 => "Continue",
        101 => "Switching Protocols",
        102 => "Processing",
        200 => "OK",
        201 => "Created",
        202 => "Accepted",
        203 => "Non-Authoritative Information",
        204 => "No Content",
        205 => "Reset Content",
        206 => "Partial Content",
        207 => "Multi-Status",
        210 => "Content Different",
        226 => "IM Used",
        300 => "Multiple Choices",
        301 => "Moved Permanently",
        302 => "Moved Temporarily",
        303 => "See Other",
        304 => "Not Modified",
        305 => "Use Proxy",
        307 => "Temporary Redirect",
        308 => "Permanent Redirect",
        310 => "Too many Redirects",
        400 => "Bad Request",
        401 => "Unauthorized",
        402 => "Payment Required",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        406 => "Not Acceptable",
        407 => "Proxy Authentication Required",
        408 => "Request Time-out",
        409 => "Conflict",
        410 => "Gone",
        411 => "Length Required",
        412 => "Precondition Failed",
        413 => "Request Entity Too Large",
        414 => "Request-URI Too Long",
        415 => "Unsupported Media Type",
        416 => "Requested range unsatisfiable",
        417 => "Expectation failed",
        418 => "I'm a teapot",
        421 => "Misdirected Request",
        422 => "Unprocessable Content",
        423 => "Locked",
        424 => "Method failure",
        425 => "Too Early",
        426 => "Upgrade Required",
        428 => "Precondition Required",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        449 => "Retry With",
        450 => "Blocked by Windows Parental Controls",
        451 => "Unavailable For Legal Reasons",
        456 => "Unrecoverable Error",
        499 => "client has closed connection",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        502 => "Bad Gateway or Proxy Error",
        503 => "Service Unavailable",
        504 => "Gateway Time-out",
        505 => "HTTP Version not supported",
        506 => "Variant also negotiate",
        507 => "Insufficient storage",
        508 => "Loop detected",
        509 => "Bandwidth Limit Exceeded",
        510 => "Not extended",
        511 => "Network authentication required",
        520 => "Web server is returning an unknown error",
        _ => match status {
            100..=199 => "Informational",
            200..=299 => "Success",
            300..=399 => "Redirection",
            400..=499 => "Client Error",
            500..=599 => "Server Error",
            _ => "Other",
        },
    }
}

fn header(name: &str, value: &str) -> Header {
    Header {
        name: name.to_string(),
        value: value.to_string(),
    }
}

// ---------------------------------------------------------------- redirect

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RedirectKind {
    Location,
    Prefix,
    Scheme,
}

#[derive(Debug, Clone)]
struct RedirectRule {
    kind: RedirectKind,
    /// `None` for `prefix /` (nothing is prepended).
    target: Option<LogFormat>,
    code: u16,
    drop_query: bool,
    append_slash: bool,
    ignore_empty: bool,
    /// `set-cookie NAME[=VALUE]` / `clear-cookie NAME`, with HAProxy's suffix.
    cookie: Option<String>,
}

impl RedirectRule {
    /// `redirect` lines take the target literally (`use_fmt == 0`); `http-request
    /// redirect` reads it as a log-format string.
    fn compile(
        r: &haproxy_conf::model::Redirect,
        at: &Location,
        log_format: bool,
    ) -> Result<Self, ProxyError> {
        let kind = match r.kind.as_str() {
            "location" => RedirectKind::Location,
            "prefix" => RedirectKind::Prefix,
            "scheme" => RedirectKind::Scheme,
            other => {
                return Err(plan_error(
                    at,
                    format!("redirect type '{other}' is unknown"),
                ))
            }
        };
        let target = if kind == RedirectKind::Prefix && r.target == "/" {
            None
        } else if log_format {
            Some(LogFormat::compile(&r.target, at, Phase::Request)?)
        } else {
            Some(LogFormat(vec![Piece::Text(r.target.clone())]))
        };
        let mut rule = RedirectRule {
            kind,
            target,
            code: 302,
            drop_query: false,
            append_slash: false,
            ignore_empty: false,
            cookie: None,
        };
        let mut i = 0;
        while i < r.options.len() {
            let value = r.options.get(i + 1);
            match r.options[i].as_str() {
                "code" => {
                    rule.code = match value.map(|v| v.parse::<u16>()) {
                        Some(Ok(c @ (301 | 302 | 303 | 307 | 308))) => c,
                        _ => {
                            return Err(plan_error(
                                at,
                                format!(
                                    "redirect code '{}' is not 301, 302, 303, 307 or 308",
                                    value.map_or("", |v| v.as_str())
                                ),
                            ))
                        }
                    };
                    i += 1;
                }
                "drop-query" => rule.drop_query = true,
                "append-slash" => rule.append_slash = true,
                "ignore-empty" => rule.ignore_empty = true,
                "set-cookie" | "clear-cookie" => {
                    let Some(c) = value else {
                        return Err(plan_error(
                            at,
                            format!("missing argument for '{}'", r.options[i]),
                        ));
                    };
                    rule.cookie = Some(if r.options[i] == "set-cookie" {
                        format!("{c}; path=/;")
                    } else {
                        format!("{c}; path=/; Max-Age=0;")
                    });
                    i += 1;
                }
                other => {
                    return Err(plan_error(
                        at,
                        format!("redirect option '{other}' is not supported by ha-compat"),
                    ))
                }
            }
            i += 1;
        }
        Ok(rule)
    }

    /// `http_apply_redirect_rule()`; `None` when `ignore-empty` skips the rule.
    fn apply(&self, s: &Subject<'_>) -> Option<Reply> {
        let req = s.request;
        let target = self
            .target
            .as_ref()
            .map(|t| t.render(s))
            .unwrap_or_default();
        let path = || -> String {
            let p = uri_path(&req.uri).unwrap_or("/");
            if self.drop_query {
                p.split('?').next().unwrap_or(p).to_string()
            } else {
                p.to_string()
            }
        };
        let mut location = match self.kind {
            RedirectKind::Location => {
                if target.is_empty() && self.ignore_empty && self.target.is_some() {
                    return None;
                }
                target
            }
            RedirectKind::Prefix => target + &path(),
            RedirectKind::Scheme => {
                let host = hdr_values(&req.headers, "host")
                    .into_iter()
                    .next()
                    .unwrap_or("");
                format!("{target}://{host}{}", path())
            }
        };
        if self.kind != RedirectKind::Location
            && self.append_slash
            && !location.is_empty()
            && !location.ends_with('/')
        {
            location.push('/');
        }
        let reason = match self.code {
            308 => "Permanent Redirect",
            307 => "Temporary Redirect",
            303 => "See Other",
            301 => "Moved Permanently",
            _ => "Found",
        };
        let mut headers = vec![header("content-length", "0"), header("location", &location)];
        if matches!(self.code, 302 | 303 | 307) {
            headers.push(header("cache-control", "no-cache"));
        }
        if let Some(c) = &self.cookie {
            headers.push(header("set-cookie", c));
        }
        Some(Reply {
            head: ResponseHead {
                version: HttpVersion::Http11,
                status: self.code,
                reason: reason.to_string(),
                headers: Headers(headers),
            },
            body: Vec::new(),
        })
    }
}

// ---------------------------------------------------------------- return

#[derive(Debug, Clone)]
struct ReturnRule {
    status: u16,
    content_type: Option<String>,
    body: ReturnBody,
    headers: Vec<(String, LogFormat)>,
}

#[derive(Debug, Clone)]
enum ReturnBody {
    Empty,
    Raw(Vec<u8>),
    Format(LogFormat),
}

impl ReturnRule {
    /// `http_parse_http_reply()` for the forms ha-compat supports.
    fn compile(status: u16, words: &[String], at: &Location) -> Result<Self, ProxyError> {
        let mut rule = ReturnRule {
            status,
            content_type: None,
            body: ReturnBody::Empty,
            headers: Vec::new(),
        };
        let mut i = 0;
        while i < words.len() {
            let value = |n: usize| {
                words
                    .get(i + n)
                    .cloned()
                    .ok_or_else(|| plan_error(at, format!("'{}' expects an argument", words[i])))
            };
            match words[i].as_str() {
                "status" => i += 1,
                "content-type" => {
                    rule.content_type = Some(value(1)?);
                    i += 1;
                }
                "string" => {
                    rule.body = ReturnBody::Raw(value(1)?.into_bytes());
                    i += 1;
                }
                "lf-string" => {
                    rule.body =
                        ReturnBody::Format(LogFormat::compile(&value(1)?, at, Phase::Request)?);
                    i += 1;
                }
                "file" => {
                    let path = value(1)?;
                    let bytes = std::fs::read(&path).map_err(|e| {
                        plan_error(at, format!("failed to read file '{path}': {e}"))
                    })?;
                    rule.body = ReturnBody::Raw(bytes);
                    i += 1;
                }
                "hdr" => {
                    let name = value(1)?;
                    let fmt = LogFormat::compile(&value(2)?, at, Phase::Request)?;
                    rule.headers.push((name, fmt));
                    i += 2;
                }
                other => {
                    return Err(plan_error(
                        at,
                        format!("'return' option '{other}' is not supported by ha-compat"),
                    ))
                }
            }
            i += 1;
        }
        Ok(rule)
    }

    /// `http_reply_to_htx()`: the `hdr` lines (empty ones dropped), `content-length`,
    /// then `content-type` when there is a body.
    fn apply(&self, s: &Subject<'_>) -> Reply {
        let body = match &self.body {
            ReturnBody::Empty => Vec::new(),
            ReturnBody::Raw(b) => b.clone(),
            ReturnBody::Format(f) => f.render(s).into_bytes(),
        };
        let mut headers = Vec::new();
        for (name, fmt) in &self.headers {
            let v = fmt.render(s);
            if !v.is_empty() {
                headers.push(header(name, &v));
            }
        }
        headers.push(header("content-length", &body.len().to_string()));
        if let (Some(ct), false) = (&self.content_type, body.is_empty()) {
            headers.push(header("content-type", ct));
        }
        Reply {
            head: ResponseHead {
                version: HttpVersion::Http11,
                status: self.status,
                reason: reason(self.status).to_string(),
                headers: Headers(headers),
            },
            body,
        }
    }
}

// ---------------------------------------------------------------- header actions

#[derive(Debug, Clone)]
enum NameMatch {
    Str(String),
    Beg(String),
    End(String),
    Sub(String),
    Reg(Regex),
}

impl NameMatch {
    fn matches(&self, name: &str) -> bool {
        let lower = name.to_ascii_lowercase();
        match self {
            NameMatch::Str(n) => name.eq_ignore_ascii_case(n),
            NameMatch::Beg(n) => lower.starts_with(n.as_str()),
            NameMatch::End(n) => lower.ends_with(n.as_str()),
            NameMatch::Sub(n) => lower.contains(n.as_str()),
            NameMatch::Reg(r) => r.is_match(name.as_bytes()),
        }
    }
}

/// `exp_replace()`: `\N` is capture group N, `\xHH` a byte, `\c` the character c.
/// `None` where HAProxy fails the rewrite (a trailing `\`).
fn exp_replace(
    template: &str,
    subject: &[u8],
    caps: &regex::bytes::Captures<'_>,
) -> Option<Vec<u8>> {
    let t = template.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < t.len() {
        if t[i] != b'\\' {
            out.push(t[i]);
            i += 1;
            continue;
        }
        i += 1;
        let c = *t.get(i)?;
        if c.is_ascii_digit() {
            if let Some(m) = caps.get(usize::from(c - b'0')) {
                out.extend_from_slice(&subject[m.start()..m.end()]);
            }
            i += 1;
        } else if c == b'x' {
            let h1 = *t.get(i + 1)?;
            let h2 = *t.get(i + 2)?;
            let hex = |h: u8| {
                let h = h.to_ascii_uppercase().wrapping_sub(b'0');
                if h > 9 {
                    h.wrapping_sub(b'A' - b'9' - 1)
                } else {
                    h
                }
            };
            out.push((hex(h1) << 4).wrapping_add(hex(h2)));
            i += 3;
        } else {
            out.push(c);
            i += 1;
        }
    }
    Some(out)
}

/// Runs the regex on `value`; the replacement when it matches, `Some(None)` when it
/// does not, `None` when the rewrite fails.
fn replace_value(re: &Regex, template: &str, value: &str) -> Option<Option<String>> {
    let Some(caps) = re.captures(value.as_bytes()) else {
        return Some(None);
    };
    let out = exp_replace(template, value.as_bytes(), &caps)?;
    Some(Some(String::from_utf8_lossy(&out).into_owned()))
}

fn compile_regex(re: &str, at: &Location) -> Result<Regex, ProxyError> {
    // Byte-oriented, ASCII classes: PCRE2 as HAProxy compiles it (no UTF flag).
    regex::bytes::RegexBuilder::new(re)
        .unicode(false)
        .build()
        .map_err(|e| {
            plan_error(
                at,
                format!("regex '{re}' is not supported by ha-compat's regex engine: {e}"),
            )
        })
}

// ---------------------------------------------------------------- rules

#[derive(Debug, Clone)]
enum RequestAction {
    Allow,
    Deny {
        status: u16,
    },
    Auth {
        realm: String,
    },
    Redirect(RedirectRule),
    Return(ReturnRule),
    SetHeader {
        name: String,
        value: LogFormat,
    },
    AddHeader {
        name: String,
        value: LogFormat,
    },
    DelHeader(NameMatch),
    ReplaceHeader {
        name: String,
        regex: Regex,
        replacement: LogFormat,
        full: bool,
    },
    SetPath {
        path: LogFormat,
        with_query: bool,
    },
    ReplacePath {
        regex: Regex,
        replacement: LogFormat,
        with_query: bool,
    },
    SetQuery(LogFormat),
    SetUri(LogFormat),
    SetMethod(LogFormat),
    /// `use-service prometheus-exporter`.
    PrometheusExporter,
}

#[derive(Debug, Clone)]
enum ResponseAction {
    Allow,
    Deny {
        status: u16,
    },
    SetHeader {
        name: String,
        value: LogFormat,
    },
    AddHeader {
        name: String,
        value: LogFormat,
    },
    DelHeader(NameMatch),
    ReplaceHeader {
        name: String,
        regex: Regex,
        replacement: LogFormat,
        full: bool,
    },
    /// `set-status` (`http-after-response` only): the status and its reason.
    SetStatus {
        status: u16,
        reason: Option<String>,
    },
}

#[derive(Debug, Clone)]
struct Rule<A> {
    condition: Option<Condition>,
    action: A,
}

#[derive(Debug, Clone)]
enum BackendName {
    Fixed(String),
    /// `%[...]`: resolved per request; an unknown name falls through to the next rule.
    Dynamic(LogFormat),
}

/// What the runtime does with a request once the rules have run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Go on (to `use_backend`, then the server) with the head as rewritten.
    Continue,
    /// `deny`: answer the error page of `status` (403 unless `deny_status`).
    Deny { status: u16 },
    /// `auth`: answer 401 with `WWW-Authenticate: Basic realm="<realm>"`.
    Auth { realm: String },
    /// `redirect` / `http-request redirect`: send this answer.
    Redirect(Reply),
    /// `http-request return`: send this answer.
    Return(Reply),
    /// A rewrite HAProxy could not apply (`failed_rewrites`): the 500 error page.
    InternalError,
    /// `use-service prometheus-exporter`: the exporter answers (a final action: no
    /// other rule, stats page or `redirect` runs).
    PrometheusExporter,
}

/// What `stats http-request` rules decide for a request the stats page takes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StatsVerdict {
    /// `allow`, or no rule ended the list: the page.
    Page,
    /// `deny`: the proxy's error page of `status` (403 unless `deny_status`).
    Deny { status: u16 },
    /// `auth`: 401 with `WWW-Authenticate: Basic realm="<realm>"`.
    Auth { realm: String },
}

#[derive(Debug, Clone)]
enum StatsAction {
    Allow,
    Deny { status: u16 },
    Auth { realm: String },
}

/// What the runtime does with a response once the `http-response` rules have run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResponseVerdict {
    /// Forward the response head as rewritten.
    Continue,
    /// `http-response deny`: the error page of `status` (502 unless `deny_status`).
    Deny { status: u16 },
    /// A rewrite HAProxy could not apply: the 500 error page.
    InternalError,
}

/// One proxy's compiled HTTP rules.
#[derive(Debug, Clone)]
pub struct CompiledRules {
    http_request: Vec<Rule<RequestAction>>,
    redirects: Vec<Rule<RedirectRule>>,
    use_backends: Vec<Rule<BackendName>>,
    default_backend: Option<String>,
    http_response: Vec<Rule<ResponseAction>>,
    http_after_response: Vec<Rule<ResponseAction>>,
    stats_http_request: Vec<Rule<StatsAction>>,
    backend_names: Vec<String>,
}

fn deny_status(
    status: Option<u16>,
    content: &[String],
    default: u16,
    at: &Location,
) -> Result<u16, ProxyError> {
    let mut i = 0;
    while i < content.len() {
        match content[i].as_str() {
            "deny_status" | "status" => i += 2,
            other => {
                return Err(plan_error(
                    at,
                    format!("'deny' with a custom reply ('{other}') is not supported by ha-compat"),
                ))
            }
        }
    }
    Ok(status.unwrap_or(default))
}

fn del_header_match(
    name: &str,
    method: Option<&str>,
    at: &Location,
) -> Result<NameMatch, ProxyError> {
    let lower = name.to_ascii_lowercase();
    Ok(match method.unwrap_or("str") {
        "str" => NameMatch::Str(lower),
        "beg" => NameMatch::Beg(lower),
        "end" => NameMatch::End(lower),
        "sub" => NameMatch::Sub(lower),
        "reg" => NameMatch::Reg(compile_regex(name, at)?),
        other => {
            return Err(plan_error(
                at,
                format!("'del-header -m {other}' is not supported (str, beg, end, sub, reg)"),
            ))
        }
    })
}

fn action_name(action: &HttpAction) -> String {
    match action {
        HttpAction::Allow => "allow",
        HttpAction::Deny { .. } => "deny",
        HttpAction::Tarpit { .. } => "tarpit",
        HttpAction::Auth { .. } => "auth",
        HttpAction::Redirect(_) => "redirect",
        HttpAction::SetHeader { .. } => "set-header",
        HttpAction::AddHeader { .. } => "add-header",
        HttpAction::DelHeader { .. } => "del-header",
        HttpAction::ReplaceHeader { .. } => "replace-header",
        HttpAction::ReplaceValue { .. } => "replace-value",
        HttpAction::SetPath(_) => "set-path",
        HttpAction::SetPathq(_) => "set-pathq",
        HttpAction::ReplacePath { .. } => "replace-path",
        HttpAction::ReplacePathq { .. } => "replace-pathq",
        HttpAction::SetQuery(_) => "set-query",
        HttpAction::SetUri(_) => "set-uri",
        HttpAction::SetMethod(_) => "set-method",
        HttpAction::SetStatus { .. } => "set-status",
        HttpAction::Return { .. } => "return",
        HttpAction::UseService { .. } => "use-service",
        HttpAction::Other { action, .. } => action,
    }
    .to_string()
}

/// An `http-response` (`deny` allowed) or `http-after-response` (`set-status` allowed)
/// rule's action.
fn response_action(rule: &HttpRule, kind: &str) -> Result<ResponseAction, ProxyError> {
    let at = &rule.at;
    let lf = |t: &str| LogFormat::compile(t, at, Phase::Response);
    let after = kind == "http-after-response";
    Ok(match &rule.action {
        HttpAction::Allow => ResponseAction::Allow,
        HttpAction::Deny { status, content } if !after => ResponseAction::Deny {
            status: deny_status(*status, content, 502, at)?,
        },
        HttpAction::SetStatus { status, reason } if after => ResponseAction::SetStatus {
            status: *status,
            reason: reason.clone(),
        },
        HttpAction::SetHeader { name, value } => ResponseAction::SetHeader {
            name: name.clone(),
            value: lf(value)?,
        },
        HttpAction::AddHeader { name, value } => ResponseAction::AddHeader {
            name: name.clone(),
            value: lf(value)?,
        },
        HttpAction::DelHeader { name, method } => {
            ResponseAction::DelHeader(del_header_match(name, method.as_deref(), at)?)
        }
        HttpAction::ReplaceHeader {
            name,
            regex,
            replacement,
        } => ResponseAction::ReplaceHeader {
            name: name.clone(),
            regex: compile_regex(regex, at)?,
            replacement: lf(replacement)?,
            full: true,
        },
        HttpAction::ReplaceValue {
            name,
            regex,
            replacement,
        } => ResponseAction::ReplaceHeader {
            name: name.clone(),
            regex: compile_regex(regex, at)?,
            replacement: lf(replacement)?,
            full: false,
        },
        _ => return Err(unsupported(rule, kind)),
    })
}

fn unsupported(rule: &HttpRule, kind: &str) -> ProxyError {
    plan_error(
        &rule.at,
        format!(
            "'{kind} {}' is not supported by ha-compat's HTTP rules",
            action_name(&rule.action)
        ),
    )
}

impl CompiledRules {
    /// Compiles `proxy`'s rules; `config` gives the backend names for `use_backend`.
    pub fn compile(config: &HaproxyConfig, proxy: &Proxy) -> Result<Self, ProxyError> {
        let mut acls = AclCompiler::new(&proxy.acls, &config.userlists);
        let settings = &proxy.settings;
        let mut cond = |rule_cond: Option<&haproxy_conf::model::Condition>,
                        at: &Location,
                        phase: Phase|
         -> Result<Option<Condition>, ProxyError> {
            rule_cond.map(|c| acls.condition(c, at, phase)).transpose()
        };

        let mut http_request = Vec::new();
        for rule in &settings.http_request {
            let at = &rule.at;
            let lf = |t: &str| LogFormat::compile(t, at, Phase::Request);
            let action = match &rule.action {
                HttpAction::Allow => RequestAction::Allow,
                HttpAction::Deny { status, content } => RequestAction::Deny {
                    status: deny_status(*status, content, 403, at)?,
                },
                HttpAction::Auth { realm } => RequestAction::Auth {
                    realm: realm.clone().unwrap_or_else(|| proxy.name.clone()),
                },
                HttpAction::Redirect(r) => {
                    RequestAction::Redirect(RedirectRule::compile(r, at, true)?)
                }
                HttpAction::Return { status, content } => {
                    RequestAction::Return(ReturnRule::compile(*status, content, at)?)
                }
                HttpAction::SetHeader { name, value } => RequestAction::SetHeader {
                    name: name.clone(),
                    value: lf(value)?,
                },
                HttpAction::AddHeader { name, value } => RequestAction::AddHeader {
                    name: name.clone(),
                    value: lf(value)?,
                },
                HttpAction::DelHeader { name, method } => {
                    RequestAction::DelHeader(del_header_match(name, method.as_deref(), at)?)
                }
                HttpAction::ReplaceHeader {
                    name,
                    regex,
                    replacement,
                } => RequestAction::ReplaceHeader {
                    name: name.clone(),
                    regex: compile_regex(regex, at)?,
                    replacement: lf(replacement)?,
                    full: true,
                },
                HttpAction::ReplaceValue {
                    name,
                    regex,
                    replacement,
                } => RequestAction::ReplaceHeader {
                    name: name.clone(),
                    regex: compile_regex(regex, at)?,
                    replacement: lf(replacement)?,
                    full: false,
                },
                HttpAction::SetPath(p) => RequestAction::SetPath {
                    path: lf(p)?,
                    with_query: false,
                },
                HttpAction::SetPathq(p) => RequestAction::SetPath {
                    path: lf(p)?,
                    with_query: true,
                },
                HttpAction::ReplacePath { regex, replacement } => RequestAction::ReplacePath {
                    regex: compile_regex(regex, at)?,
                    replacement: lf(replacement)?,
                    with_query: false,
                },
                HttpAction::ReplacePathq { regex, replacement } => RequestAction::ReplacePath {
                    regex: compile_regex(regex, at)?,
                    replacement: lf(replacement)?,
                    with_query: true,
                },
                HttpAction::SetQuery(q) => RequestAction::SetQuery(lf(q)?),
                HttpAction::SetUri(u) => RequestAction::SetUri(lf(u)?),
                HttpAction::SetMethod(m) => RequestAction::SetMethod(lf(m)?),
                HttpAction::UseService { service } if service == "prometheus-exporter" => {
                    RequestAction::PrometheusExporter
                }
                _ => return Err(unsupported(rule, "http-request")),
            };
            http_request.push(Rule {
                condition: cond(rule.condition.as_ref(), at, Phase::Request)?,
                action,
            });
        }

        let mut redirects = Vec::new();
        for rule in &settings.redirects {
            let HttpAction::Redirect(r) = &rule.action else {
                return Err(unsupported(rule, "redirect"));
            };
            redirects.push(Rule {
                condition: cond(rule.condition.as_ref(), &rule.at, Phase::Request)?,
                action: RedirectRule::compile(r, &rule.at, false)?,
            });
        }

        let mut http_response = Vec::new();
        for rule in &settings.http_response {
            http_response.push(Rule {
                condition: cond(rule.condition.as_ref(), &rule.at, Phase::Response)?,
                action: response_action(rule, "http-response")?,
            });
        }
        let mut http_after_response = Vec::new();
        for rule in &settings.http_after_response {
            http_after_response.push(Rule {
                condition: cond(rule.condition.as_ref(), &rule.at, Phase::Response)?,
                action: response_action(rule, "http-after-response")?,
            });
        }

        let mut stats_http_request = Vec::new();
        for rule in &settings.stats.http_request {
            let at = &rule.at;
            let action = match &rule.action {
                HttpAction::Allow => StatsAction::Allow,
                HttpAction::Deny { status, content } => StatsAction::Deny {
                    status: deny_status(*status, content, 403, at)?,
                },
                // http_action_auth(): a stats rule without a realm uses the stats one.
                HttpAction::Auth { realm } => StatsAction::Auth {
                    realm: realm
                        .clone()
                        .unwrap_or_else(|| super::stats::DEFAULT_REALM.to_string()),
                },
                _ => return Err(unsupported(rule, "stats http-request")),
            };
            stats_http_request.push(Rule {
                condition: cond(rule.condition.as_ref(), at, Phase::Request)?,
                action,
            });
        }

        let backend_names: Vec<String> = config.backends().map(|b| b.name.clone()).collect();
        let mut use_backends = Vec::new();
        for ub in &proxy.use_backends {
            let name = if ub.dynamic || ub.backend.contains('%') {
                let fmt = LogFormat::compile(&ub.backend, &ub.at, Phase::Request)?;
                match fmt.literal() {
                    Some(text) => BackendName::Fixed(text),
                    None => BackendName::Dynamic(fmt),
                }
            } else {
                BackendName::Fixed(ub.backend.clone())
            };
            use_backends.push(Rule {
                condition: cond(ub.condition.as_ref(), &ub.at, Phase::Request)?,
                action: name,
            });
        }

        Ok(CompiledRules {
            http_request,
            redirects,
            use_backends,
            default_backend: settings.default_backend.clone(),
            http_response,
            http_after_response,
            stats_http_request,
            backend_names,
        })
    }

    /// The `http-request` rules, then the `redirect` rules, on a request head (rewritten
    /// in place). `allow` ends the `http-request` rules only; `deny`, `auth`,
    /// `redirect` and `return` end the processing.
    pub fn on_request(&self, req: &mut RequestHead, conn: &ConnectionInfo) -> Verdict {
        match self.on_http_request(req, conn) {
            Verdict::Continue => self.on_redirect_rules(req, conn),
            verdict => verdict,
        }
    }

    /// Whether there are `http-response` rules (the runtime then keeps the request head
    /// for them).
    pub fn has_response_rules(&self) -> bool {
        !self.http_response.is_empty()
    }

    /// The `http-request` rules alone (HAProxy checks the stats page after them, before
    /// the `redirect` rules).
    pub fn on_http_request(&self, req: &mut RequestHead, conn: &ConnectionInfo) -> Verdict {
        for rule in &self.http_request {
            let s = Subject {
                request: req,
                conn,
                response: None,
            };
            if !acl::holds(rule.condition.as_ref(), &s) {
                continue;
            }
            match &rule.action {
                RequestAction::Allow => break,
                RequestAction::Deny { status } => return Verdict::Deny { status: *status },
                RequestAction::Auth { realm } => {
                    return Verdict::Auth {
                        realm: realm.clone(),
                    }
                }
                RequestAction::Redirect(r) => {
                    if let Some(reply) = r.apply(&s) {
                        return Verdict::Redirect(reply);
                    }
                }
                RequestAction::Return(r) => return Verdict::Return(r.apply(&s)),
                RequestAction::PrometheusExporter => return Verdict::PrometheusExporter,
                other => {
                    if apply_request_rewrite(other, req, conn).is_none() {
                        return Verdict::InternalError;
                    }
                }
            }
        }
        Verdict::Continue
    }

    /// The `redirect` rules alone.
    pub fn on_redirect_rules(&self, req: &RequestHead, conn: &ConnectionInfo) -> Verdict {
        let s = Subject {
            request: req,
            conn,
            response: None,
        };
        for rule in &self.redirects {
            if acl::holds(rule.condition.as_ref(), &s) {
                if let Some(reply) = rule.action.apply(&s) {
                    return Verdict::Redirect(reply);
                }
            }
        }
        Verdict::Continue
    }

    /// `use_backend` (the first rule whose condition holds and whose name exists), else
    /// `default_backend`. `None` when neither gives a backend (HAProxy answers 503).
    pub fn backend_for(&self, req: &RequestHead, conn: &ConnectionInfo) -> Option<Cow<'_, str>> {
        let s = Subject {
            request: req,
            conn,
            response: None,
        };
        for rule in &self.use_backends {
            if !acl::holds(rule.condition.as_ref(), &s) {
                continue;
            }
            match &rule.action {
                BackendName::Fixed(name) => return Some(Cow::Borrowed(name)),
                BackendName::Dynamic(fmt) => {
                    let name = fmt.render(&s);
                    if self.backend_names.contains(&name) {
                        return Some(Cow::Owned(name));
                    }
                }
            }
        }
        self.default_backend.as_deref().map(Cow::Borrowed)
    }

    /// The `stats http-request` rules on a request the stats page takes: the first whose
    /// condition holds decides.
    pub fn on_stats_request(&self, req: &RequestHead, conn: &ConnectionInfo) -> StatsVerdict {
        let s = Subject {
            request: req,
            conn,
            response: None,
        };
        for rule in &self.stats_http_request {
            if !acl::holds(rule.condition.as_ref(), &s) {
                continue;
            }
            return match &rule.action {
                StatsAction::Allow => StatsVerdict::Page,
                StatsAction::Deny { status } => StatsVerdict::Deny { status: *status },
                StatsAction::Auth { realm } => StatsVerdict::Auth {
                    realm: realm.clone(),
                },
            };
        }
        StatsVerdict::Page
    }

    /// Whether there are `http-after-response` rules.
    pub fn has_after_response_rules(&self) -> bool {
        !self.http_after_response.is_empty()
    }

    /// The `http-response` rules on a response head (rewritten in place). `req` is the
    /// request it answers.
    pub fn on_response(
        &self,
        req: &RequestHead,
        conn: &ConnectionInfo,
        res: &mut ResponseHead,
    ) -> ResponseVerdict {
        run_response_rules(&self.http_response, req, conn, res)
    }

    /// The `http-after-response` rules on any response head, HAProxy's own answers
    /// included (rewritten in place); `InternalError` when a rewrite failed.
    pub fn on_after_response(
        &self,
        req: &RequestHead,
        conn: &ConnectionInfo,
        res: &mut ResponseHead,
    ) -> ResponseVerdict {
        run_response_rules(&self.http_after_response, req, conn, res)
    }
}

/// `http_res_get_intercept_rule()` over one rule list.
fn run_response_rules(
    rules: &[Rule<ResponseAction>],
    req: &RequestHead,
    conn: &ConnectionInfo,
    res: &mut ResponseHead,
) -> ResponseVerdict {
    for rule in rules {
        let holds = {
            let s = Subject {
                request: req,
                conn,
                response: Some(res),
            };
            acl::holds(rule.condition.as_ref(), &s)
        };
        if !holds {
            continue;
        }
        let render = |f: &LogFormat, res: &ResponseHead| {
            f.render(&Subject {
                request: req,
                conn,
                response: Some(res),
            })
        };
        match &rule.action {
            ResponseAction::Allow => break,
            ResponseAction::Deny { status } => return ResponseVerdict::Deny { status: *status },
            ResponseAction::SetHeader { name, value } => {
                let v = render(value, res);
                res.headers.set(name, &v);
            }
            ResponseAction::AddHeader { name, value } => {
                let v = render(value, res);
                res.headers.add(name, &v);
            }
            ResponseAction::DelHeader(m) => res.headers.0.retain(|h| !m.matches(&h.name)),
            ResponseAction::ReplaceHeader {
                name,
                regex,
                replacement,
                full,
            } => {
                let template = render(replacement, res);
                if replace_headers(&mut res.headers, name, regex, &template, *full).is_none() {
                    return ResponseVerdict::InternalError;
                }
            }
            ResponseAction::SetStatus {
                status,
                reason: why,
            } => {
                // http_res_set_status(): without a reason, the status's own.
                res.status = *status;
                res.reason = why.clone().unwrap_or_else(|| reason(*status).to_string());
            }
        }
    }
    ResponseVerdict::Continue
}

/// `http_replace_hdrs()`: every `name` line (full) or value (`replace-value`) the regex
/// matches is replaced by the template with its `\N` references.
fn replace_headers(
    headers: &mut Headers,
    name: &str,
    re: &Regex,
    template: &str,
    full: bool,
) -> Option<()> {
    for h in headers.0.iter_mut() {
        if !h.name.eq_ignore_ascii_case(name) {
            continue;
        }
        if full {
            if let Some(new) = replace_value(re, template, &h.value)? {
                h.value = new;
            }
            continue;
        }
        // Value by value: only the trimmed value changes, separators stay.
        let old = h.value.clone();
        let mut out = String::with_capacity(old.len());
        let mut start = 0;
        loop {
            let end = crate::http::acl::value_end(&old, start);
            let seg = &old[start..end];
            let lead = seg.len() - seg.trim_start_matches([' ', '\t', '\r', '\n']).len();
            let trimmed = seg.trim_matches([' ', '\t', '\r', '\n']);
            let tail = seg.len() - lead - trimmed.len();
            out.push_str(&seg[..lead]);
            match replace_value(re, template, trimmed)? {
                Some(new) => out.push_str(&new),
                None => out.push_str(trimmed),
            }
            out.push_str(&seg[seg.len() - tail..]);
            if end >= old.len() {
                break;
            }
            out.push(',');
            start = end + 1;
        }
        h.value = out;
    }
    Some(())
}

/// The header, path, query, URI and method rewrites. `None` = HAProxy's failed rewrite.
fn apply_request_rewrite(
    action: &RequestAction,
    req: &mut RequestHead,
    conn: &ConnectionInfo,
) -> Option<()> {
    let render = |f: &LogFormat, req: &RequestHead| {
        f.render(&Subject {
            request: req,
            conn,
            response: None,
        })
    };
    match action {
        RequestAction::SetHeader { name, value } => {
            let v = render(value, req);
            req.headers.set(name, &v);
        }
        RequestAction::AddHeader { name, value } => {
            let v = render(value, req);
            req.headers.add(name, &v);
        }
        RequestAction::DelHeader(m) => req.headers.0.retain(|h| !m.matches(&h.name)),
        RequestAction::ReplaceHeader {
            name,
            regex,
            replacement,
            full,
        } => {
            let template = render(replacement, req);
            replace_headers(&mut req.headers, name, regex, &template, *full)?;
        }
        RequestAction::SetPath { path, with_query } => {
            let new = render(path, req);
            req.uri = replace_path(&req.uri, &new, *with_query);
        }
        RequestAction::ReplacePath {
            regex,
            replacement,
            with_query,
        } => {
            // `http_action_replace_uri()`: the regex runs on the path (with the query
            // for `replace-pathq`); nothing happens on an empty path or without a match.
            let path = uri_path(&req.uri).map(|p| {
                if *with_query {
                    p
                } else {
                    p.split('?').next().unwrap_or(p)
                }
            });
            let Some(path) = path.filter(|p| !p.is_empty()) else {
                return Some(());
            };
            let template = render(replacement, req);
            if let Some(new) = replace_value(regex, &template, path)? {
                req.uri = replace_path(&req.uri, &new, *with_query);
            }
        }
        RequestAction::SetQuery(q) => {
            let new = render(q, req);
            req.uri = replace_query(&req.uri, &new);
        }
        RequestAction::SetUri(u) => {
            let new = render(u, req);
            update_host(req, &new)?;
            req.uri = new;
        }
        RequestAction::SetMethod(m) => {
            req.method = render(m, req);
        }
        RequestAction::Allow
        | RequestAction::Deny { .. }
        | RequestAction::Auth { .. }
        | RequestAction::Redirect(_)
        | RequestAction::Return(_)
        | RequestAction::PrometheusExporter => {}
    }
    Some(())
}

/// `http_replace_req_path()`: the scheme and authority stay, the path (and the query
/// with `with_query`) is replaced.
fn replace_path(uri: &str, new_path: &str, with_query: bool) -> String {
    let p = uri_path(uri).unwrap_or(uri);
    let p_start = uri.len() - p.len();
    let plen = if with_query {
        p.len()
    } else {
        p.find('?').unwrap_or(p.len())
    };
    format!("{}{}{}", &uri[..p_start], new_path, &p[plen..])
}

/// `http_replace_req_query()` with the `?` the action prepends: the query after the
/// first `?` is replaced; without one, `?query` is appended when non-empty.
fn replace_query(uri: &str, query: &str) -> String {
    match uri.find('?') {
        Some(q) => format!("{}{}", &uri[..=q], query),
        None if !query.is_empty() => format!("{uri}?{query}"),
        None => uri.to_string(),
    }
}

/// `http_update_host()`: an absolute URI puts its authority (without user info) in
/// every Host header; `None` when it has none.
fn update_host(req: &mut RequestHead, uri: &str) -> Option<()> {
    if uri.is_empty() || uri.starts_with('*') || uri.starts_with('/') {
        return Some(());
    }
    let authority = if req.method == "CONNECT" {
        uri.to_string()
    } else {
        let b = uri.as_bytes();
        let scheme_ok = b[0].is_ascii_alphabetic() && {
            let mut i = 1;
            while i < b.len()
                && (b[i].is_ascii_alphanumeric() || matches!(b[i], b'+' | b'-' | b'.'))
            {
                i += 1;
            }
            uri[i..].starts_with("://")
        };
        if !scheme_ok {
            return None;
        }
        let rest = &uri[uri.find("://")? + 3..];
        let auth = &rest[..rest.find('/').unwrap_or(rest.len())];
        let auth = auth.rsplit('@').next().unwrap_or(auth);
        if auth.is_empty() {
            return None;
        }
        auth.to_string()
    };
    for h in req.headers.0.iter_mut() {
        if h.name.eq_ignore_ascii_case("host") {
            h.value = authority.clone();
        }
    }
    Some(())
}

#[cfg(test)]
mod tests;
