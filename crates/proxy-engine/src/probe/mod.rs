//! Health-check probes: what one check of a server does on the wire, as HAProxy 2.6.12
//! (`src/tcpcheck.c`, `src/check.c`): a plain TCP connect, `option tcp-check` rules
//! (`connect`, `send`, `send-binary`, `expect string|rstring|binary|rbinary`, `comment`),
//! `option httpchk` with `http-check send`/`expect status|rstatus|string|rstring`, the
//! `port`/`addr` overrides and PROXY headers (`check-send-proxy`, `send-proxy[-v2]`,
//! `tcp-check connect send-proxy`).
//!
//! [`ProbeSpec::new`] turns the typed model into a rule list ([`rules::Step`]s, with
//! HAProxy's implicit connect, implicit `expect status 200-399` and comment placement)
//! or refuses what ha-compat cannot run yet ([`ProxyError::Plan`]). [`run_check`]
//! runs one check and returns the [`CheckResult`] with HAProxy's status and `info:`
//! text; [`schedule`] drives a [`crate::health::HealthCheck`] with it, one task per
//! server.

mod http;
pub mod rules;
mod run;
pub mod schedule;

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use haproxy_conf::model::{HttpCheckAction, ProxySettings, Server, ServerPort, TcpCheckAction};

pub use http::{HttpRequest, HttpResponse};
pub use rules::Ruleset;
pub use run::run_check;

use crate::health::{CheckParams, CheckStatus};
use crate::ProxyError;
use rules::{Action, Connect, Expect, Matcher, Step};

/// A PROXY protocol header on a check connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProxyHeader {
    /// `PROXY TCP4 <local> <server> <lport> <sport>\r\n`.
    V1,
    /// The 16-byte v2 header with the LOCAL command (HAProxy sends LOCAL for its own
    /// connections).
    V2,
}

/// Everything one server's check needs, planned from the model.
#[derive(Debug, Clone)]
pub struct ProbeSpec {
    /// The server's address (or `addr`), and the port the implicit connect uses.
    pub address: IpAddr,
    /// The server's own address (the `dst` HAProxy connects to without overrides).
    pub server_address: IpAddr,
    /// `port` of the server line.
    pub check_port: Option<u16>,
    /// The service port of the `server` line, `None` for a port-less address.
    pub service_port: Option<u16>,
    pub ruleset: Ruleset,
    pub steps: Vec<Step>,
    /// The PROXY header a `default` (or implicit) connect sends.
    pub default_proxy_header: Option<ProxyHeader>,
    /// The explicit `tcp-check connect send-proxy` header version (the server's
    /// `send-proxy-v2` makes it v2).
    pub proxy_header_version: ProxyHeader,
}

/// The deadlines of one check (`tcpcheck_eval_connect()`): each connect may take
/// `inter` (or `timeout connect` if sooner, only when `timeout check` is set); once
/// connected, the rest of the check `timeout check` if set, else what remains.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CheckDeadlines {
    pub inter: Duration,
    pub timeout_connect: Option<Duration>,
    pub timeout_check: Option<Duration>,
}

impl CheckDeadlines {
    pub fn from_params(p: &CheckParams) -> CheckDeadlines {
        CheckDeadlines {
            inter: p.inter,
            timeout_connect: p.timeout_connect,
            timeout_check: p.timeout_check,
        }
    }

    /// How long a connect started now may take.
    pub fn connect(&self) -> Duration {
        match (self.timeout_check, self.timeout_connect) {
            (Some(_), Some(c)) => self.inter.min(c),
            _ => self.inter,
        }
    }
}

fn plan_err(server: &Server, what: impl std::fmt::Display) -> ProxyError {
    ProxyError::Plan(format!(
        "{}:{}: server '{}': {what}",
        server.at.file, server.at.line, server.name
    ))
}

/// `addr` of a server line: an IP, optionally with a port.
fn parse_addr(text: &str) -> Option<(IpAddr, Option<u16>)> {
    if let Ok(ip) = text.parse::<IpAddr>() {
        return Some((ip, None));
    }
    if let Ok(sa) = text.parse::<SocketAddr>() {
        return Some((sa.ip(), Some(sa.port())));
    }
    let t = text.trim_start_matches("ipv4@").trim_start_matches("ipv6@");
    t.parse::<IpAddr>().ok().map(|ip| (ip, None))
}

fn compile_regex(server: &Server, pattern: &str) -> Result<regex::bytes::Regex, ProxyError> {
    // HAProxy compiles with PCRE2 on bytes; without Unicode the bytes crate behaves the
    // same for the usual patterns. Backreferences and lookarounds are refused here.
    regex::bytes::RegexBuilder::new(pattern)
        .unicode(false)
        .build()
        .map_err(|e| {
            plan_err(
                server,
                format!("check regex '{pattern}' is not supported: {e}"),
            )
        })
}

fn decode_hex(text: &str) -> Option<Vec<u8>> {
    if text.len() & 1 == 1 {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

/// `expect` options as the model keeps them: `"name value"` words before the pattern,
/// single words after it.
fn expect_options(options: &[String]) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < options.len() {
        let w = &options[i];
        if let Some((k, v)) = w.split_once(' ') {
            out.push((k.to_string(), v.to_string()));
            i += 1;
        } else {
            out.push((w.clone(), options.get(i + 1).cloned().unwrap_or_default()));
            i += 2;
        }
    }
    out
}

fn status_option(server: &Server, value: &str) -> Result<CheckStatus, ProxyError> {
    Ok(match value.to_ascii_uppercase().as_str() {
        "L7OK" => CheckStatus::L7Ok,
        "L7OKC" => CheckStatus::L7OkC,
        "L6OK" => CheckStatus::L6Ok,
        "L4OK" => CheckStatus::L4Ok,
        "L7RSP" => CheckStatus::L7Rsp,
        "L7STS" => CheckStatus::L7Sts,
        "L6RSP" => CheckStatus::L6Rsp,
        "L4CON" => CheckStatus::L4Con,
        "L7TOUT" => CheckStatus::L7Tout,
        "L6TOUT" => CheckStatus::L6Tout,
        "L4TOUT" => CheckStatus::L4Tout,
        other => return Err(plan_err(server, format!("unknown check status '{other}'"))),
    })
}

fn parse_expect(
    server: &Server,
    http: bool,
    negate: bool,
    kind: &str,
    pattern: &str,
    options: &[String],
) -> Result<(Expect, Option<String>), ProxyError> {
    let matcher = match (http, kind) {
        (false, "string") => Matcher::String(pattern.as_bytes().to_vec()),
        (false, "binary") => Matcher::Binary(decode_hex(pattern).ok_or_else(|| {
            plan_err(
                server,
                format!("'{pattern}' is not a valid hexadecimal string"),
            )
        })?),
        (false, "rstring") => Matcher::StringRegex(compile_regex(server, pattern)?),
        (false, "rbinary") => Matcher::BinaryRegex(compile_regex(server, pattern)?),
        (true, "status") => {
            let mut ranges = Vec::new();
            for part in pattern.split(',') {
                let (a, b) = part.split_once('-').unwrap_or((part, part));
                let lo: u32 = a.trim().parse().map_err(|_| {
                    plan_err(server, format!("invalid list of status codes '{pattern}'"))
                })?;
                let hi: u32 = b.trim().parse().map_err(|_| {
                    plan_err(server, format!("invalid list of status codes '{pattern}'"))
                })?;
                ranges.push((lo, hi));
            }
            Matcher::HttpStatus(ranges)
        }
        (true, "rstatus") => Matcher::HttpStatusRegex(compile_regex(server, pattern)?),
        (true, "string") => Matcher::HttpBody(pattern.as_bytes().to_vec()),
        (true, "rstring") => Matcher::HttpBodyRegex(compile_regex(server, pattern)?),
        (_, other) => {
            return Err(plan_err(
                server,
                format!("check 'expect {other}' is not supported by ha-compat yet"),
            ))
        }
    };
    let mut e = Expect {
        matcher,
        inverse: negate,
        min_recv: -1,
        ok_status: None,
        err_status: None,
        tout_status: None,
        head: 0,
    };
    let mut comment = None;
    for (k, v) in expect_options(options) {
        match k.as_str() {
            "comment" => comment = Some(v),
            "min-recv" => e.min_recv = v.trim().parse().unwrap_or(-1),
            "ok-status" => e.ok_status = Some(status_option(server, &v)?),
            "error-status" => e.err_status = Some(status_option(server, &v)?),
            "tout-status" => e.tout_status = Some(status_option(server, &v)?),
            other => {
                return Err(plan_err(
                    server,
                    format!("check 'expect ... {other}' is not supported by ha-compat yet"),
                ))
            }
        }
    }
    Ok((e, comment))
}

fn parse_connect(
    server: &Server,
    port: Option<u16>,
    options: &[String],
) -> Result<(Connect, Option<String>), ProxyError> {
    let mut c = Connect {
        port,
        addr: None,
        addr_port: None,
        send_proxy: false,
        linger: false,
        default: false,
        implicit: false,
    };
    let mut comment = None;
    let mut i = 0;
    while i < options.len() {
        let value = options.get(i + 1).cloned().unwrap_or_default();
        match options[i].as_str() {
            "port" => i += 1,
            "addr" => {
                let (ip, p) = parse_addr(&value).ok_or_else(|| {
                    plan_err(
                        server,
                        format!("tcp-check connect addr '{value}' is not an IP address"),
                    )
                })?;
                c.addr = Some(ip);
                c.addr_port = p;
                i += 1;
            }
            "comment" => {
                comment = Some(value);
                i += 1;
            }
            "send-proxy" => c.send_proxy = true,
            "linger" => c.linger = true,
            "default" => c.default = true,
            other => {
                return Err(plan_err(
                    server,
                    format!("'tcp-check connect {other}' is not supported by ha-compat yet"),
                ))
            }
        }
        i += 1;
    }
    Ok((c, comment))
}

/// One rule before comments are placed: `Comment` stands for `tcp-check comment`.
enum Raw {
    Comment(String),
    Rule(Action, Option<String>),
}

impl ProbeSpec {
    /// The check of `server` (whose host resolved to `server_ip`) in a backend with
    /// `settings`. Refuses, with the line, what ha-compat cannot run yet: other check
    /// protocols (`ssl-hello-chk`, `mysql-check`...), SSL checks, `agent-check`,
    /// log-format and variable rules, header expects.
    pub fn new(
        server: &Server,
        settings: &ProxySettings,
        server_ip: IpAddr,
    ) -> Result<ProbeSpec, ProxyError> {
        let o = &server.options;
        if o.agent_check == Some(true) {
            return Err(plan_err(
                server,
                "'agent-check' is not supported by ha-compat yet",
            ));
        }
        let other = |kw: &str| {
            o.other
                .iter()
                .any(|w| w.first().map(String::as_str) == Some(kw))
        };
        for kw in ["check-sni", "check-alpn", "check-proto", "check-via-socks4"] {
            if other(kw) {
                return Err(plan_err(
                    server,
                    format!("'{kw}' is not supported by ha-compat yet"),
                ));
            }
        }
        let (check_addr, check_addr_port) = match &o.check_addr {
            Some(a) => {
                let (ip, p) = parse_addr(a).ok_or_else(|| {
                    plan_err(server, format!("check 'addr {a}' is not an IP address"))
                })?;
                (Some(ip), p)
            }
            None => (None, None),
        };
        let overridden = o.check_port.is_some() || check_addr.is_some();
        let ssl = if overridden {
            o.check_ssl == Some(true)
        } else {
            o.check_ssl == Some(true) || o.ssl == Some(true)
        };
        if ssl {
            return Err(plan_err(
                server,
                "SSL health checks are not supported by ha-compat yet",
            ));
        }
        let v2 = o.send_proxy_v2 == Some(true);
        let pp = o.send_proxy == Some(true) || v2;
        let check_send_proxy = other("check-send-proxy");
        let default_proxy_header = (check_send_proxy || (!overridden && pp)).then_some(if v2 {
            ProxyHeader::V2
        } else {
            ProxyHeader::V1
        });

        let ruleset = match settings.options.check_protocol.as_deref() {
            None => Ruleset::Plain,
            Some("tcp-check") => Ruleset::TcpCheck,
            Some("httpchk") => Ruleset::Http,
            Some(other) => {
                return Err(plan_err(
                    server,
                    format!("'option {other}' checks are not supported by ha-compat yet"),
                ))
            }
        };
        let raw = match ruleset {
            Ruleset::Plain => Vec::new(),
            Ruleset::TcpCheck => tcp_rules(server, settings)?,
            Ruleset::Http => http_rules(server, settings)?,
        };
        let steps = place(raw);
        let service_port = match server.address.port {
            ServerPort::Fixed(p) => Some(p),
            _ => None,
        };
        let spec = ProbeSpec {
            address: check_addr.unwrap_or(server_ip),
            server_address: server_ip,
            check_port: o.check_port.or(check_addr_port),
            service_port,
            ruleset,
            steps,
            default_proxy_header,
            proxy_header_version: if v2 { ProxyHeader::V2 } else { ProxyHeader::V1 },
        };
        for step in &spec.steps {
            if let Action::Connect(c) = &step.action {
                if spec.connect_target(c).port() == 0 {
                    return Err(plan_err(
                        server,
                        "has neither service port nor check port nor tcp_check rule 'connect' with port information",
                    ));
                }
            }
        }
        Ok(spec)
    }

    /// Where a connect rule connects (`tcpcheck_eval_connect()`): its `addr`, else
    /// the server's `addr`, else the server; port from the rule, the rule's address,
    /// `port`, the check address, then the service port.
    pub fn connect_target(&self, c: &Connect) -> SocketAddr {
        let ip = c.addr.unwrap_or(self.address);
        let port = c
            .port
            .or(c.addr_port)
            .or(self.check_port)
            .or(self.service_port)
            .unwrap_or(0);
        SocketAddr::new(ip, port)
    }

    /// A spec for tests and tools: a plain connect check of `target`.
    pub fn plain(target: SocketAddr) -> ProbeSpec {
        ProbeSpec {
            address: target.ip(),
            server_address: target.ip(),
            check_port: None,
            service_port: Some(target.port()),
            ruleset: Ruleset::Plain,
            steps: place(Vec::new()),
            default_proxy_header: None,
            proxy_header_version: ProxyHeader::V1,
        }
    }
}

fn tcp_rules(server: &Server, settings: &ProxySettings) -> Result<Vec<Raw>, ProxyError> {
    let mut raw = Vec::new();
    for r in &settings.tcp_check {
        raw.push(match &r.action {
            TcpCheckAction::Comment(c) => Raw::Comment(c.clone()),
            TcpCheckAction::Connect { port, options } => {
                let (c, comment) = parse_connect(server, *port, options)?;
                Raw::Rule(Action::Connect(c), comment)
            }
            TcpCheckAction::Send { data, binary } => {
                let bytes = if *binary {
                    decode_hex(data).ok_or_else(|| {
                        plan_err(server, format!("'{data}' is not a valid hexadecimal string"))
                    })?
                } else {
                    data.as_bytes().to_vec()
                };
                Raw::Rule(Action::Send(bytes), None)
            }
            TcpCheckAction::Expect {
                negate,
                kind,
                pattern,
                options,
            } => {
                let (e, comment) = parse_expect(server, false, *negate, kind, pattern, options)?;
                Raw::Rule(Action::Expect(Box::new(e)), comment)
            }
            TcpCheckAction::SendLf { .. }
            | TcpCheckAction::SetVar(_)
            | TcpCheckAction::UnsetVar(_) => {
                return Err(ProxyError::Plan(format!(
                    "{}:{}: tcp-check log-format sends and variables are not supported by ha-compat yet",
                    r.at.file, r.at.line
                )))
            }
        });
    }
    Ok(raw)
}

fn http_rules(server: &Server, settings: &ProxySettings) -> Result<Vec<Raw>, ProxyError> {
    let chk = settings.options.httpchk.clone().unwrap_or_default();
    let mut request = HttpRequest {
        method: chk.method.clone(),
        uri: chk.uri.clone(),
        version: chk.version.clone(),
        headers: Vec::new(),
        body: Vec::new(),
    };
    if let Some(extra) = &chk.extra {
        // "VERSION\r\nHdr: v\r\n\r\nbody", the deprecated form HAProxy still parses.
        let (hdrs, body) = match extra.split_once("\r\n\r\n") {
            Some((h, b)) => (h, Some(b)),
            None => (extra.as_str(), None),
        };
        for line in hdrs.split("\r\n").filter(|l| !l.is_empty()) {
            let (n, v) = line
                .split_once(':')
                .ok_or_else(|| plan_err(server, format!("unable to parse the request '{line}'")))?;
            request
                .headers
                .push((n.trim().to_string(), v.trim().to_string()));
        }
        if let Some(b) = body {
            request.body = b.as_bytes().to_vec();
        }
    }
    // The implicit send from `option httpchk` merges with the first explicit
    // `http-check send` (its fields win), which then takes that rule's place.
    let mut raw = Vec::new();
    let mut implicit_send = Some(request);
    for r in &settings.http_check {
        let lf = |s: &str| s.contains('%');
        match &r.action {
            HttpCheckAction::Comment(c) => raw.push(Raw::Comment(c.clone())),
            HttpCheckAction::Connect { options } => {
                let (c, comment) = parse_connect(server, None, options)?;
                let port = options
                    .iter()
                    .position(|w| w == "port")
                    .and_then(|i| options.get(i + 1))
                    .and_then(|p| p.parse().ok());
                raw.push(Raw::Rule(Action::Connect(Connect { port, ..c }), comment));
            }
            HttpCheckAction::Send {
                method,
                uri,
                version,
                headers,
                body,
            } => {
                let mut req = implicit_send.take().unwrap_or_default();
                if uri.as_deref().is_some_and(lf)
                    || body.as_deref().is_some_and(lf)
                    || headers.iter().any(|(_, v)| lf(v))
                {
                    return Err(ProxyError::Plan(format!(
                        "{}:{}: http-check send with log-format values is not supported by ha-compat yet",
                        r.at.file, r.at.line
                    )));
                }
                if let Some(m) = method {
                    req.method = m.clone();
                }
                if let Some(u) = uri {
                    req.uri = u.clone();
                }
                if let Some(v) = version {
                    req.version = v.clone();
                }
                if !headers.is_empty() {
                    req.headers = headers.clone();
                }
                if let Some(b) = body {
                    req.body = b.as_bytes().to_vec();
                }
                raw.push(Raw::Rule(Action::SendHttp(req), None));
            }
            HttpCheckAction::Expect {
                negate,
                kind,
                pattern,
                options,
            } => {
                let (e, comment) = parse_expect(server, true, *negate, kind, pattern, options)?;
                raw.push(Raw::Rule(Action::Expect(Box::new(e)), comment));
            }
            HttpCheckAction::DisableOn404
            | HttpCheckAction::SendState
            | HttpCheckAction::SetVar(_)
            | HttpCheckAction::UnsetVar(_) => {
                return Err(ProxyError::Plan(format!(
                    "{}:{}: http-check disable-on-404, send-state and variables are not supported by ha-compat yet",
                    r.at.file, r.at.line
                )))
            }
        }
    }
    if let Some(req) = implicit_send {
        // First, or after a leading connect rule.
        let at = match raw.iter().position(|r| !matches!(r, Raw::Comment(_))) {
            Some(i) if matches!(raw[i], Raw::Rule(Action::Connect(_), _)) => i + 1,
            _ => 0,
        };
        raw.insert(at, Raw::Rule(Action::SendHttp(req), None));
    }
    // The last rule a send: HAProxy adds `http-check expect status 200-399`.
    let last = raw.iter().rev().find(|r| !matches!(r, Raw::Comment(_)));
    if matches!(last, Some(Raw::Rule(Action::SendHttp(_), _))) {
        raw.push(Raw::Rule(
            Action::Expect(Box::new(Expect {
                matcher: Matcher::HttpStatus(vec![(200, 399)]),
                inverse: false,
                min_recv: -1,
                ok_status: None,
                err_status: None,
                tout_status: None,
                head: 0,
            })),
            None,
        ));
    }
    Ok(raw)
}

/// `check_proxy_tcpcheck()`: indexes in config order (comments count), the implicit
/// connect first when the first rule is not a connect, comments handed to the rules
/// that follow them, and each expect's chain head.
fn place(raw: Vec<Raw>) -> Vec<Step> {
    let mut steps: Vec<Step> = Vec::new();
    let first_is_connect = matches!(
        raw.iter().find(|r| !matches!(r, Raw::Comment(_))),
        Some(Raw::Rule(Action::Connect(_), _))
    );
    if !first_is_connect {
        steps.push(Step {
            index: 0,
            comment: None,
            action: Action::Connect(Connect {
                port: None,
                addr: None,
                addr_port: None,
                send_proxy: false,
                linger: false,
                default: true,
                implicit: true,
            }),
        });
    }
    let mut pending: Option<String> = None;
    // The kind of the previous rule; `None` = a comment (HAProxy's prev_action).
    let mut prev: Option<u8> = None;
    let kind = |a: &Action| match a {
        Action::Connect(_) => 0u8,
        Action::Send(_) | Action::SendHttp(_) => 1,
        Action::Expect(_) => 2,
    };
    for (index, r) in raw.into_iter().enumerate() {
        match r {
            Raw::Comment(c) => {
                pending = Some(c);
                prev = None;
            }
            Raw::Rule(action, own) => {
                let k = kind(&action);
                if prev.is_some() && prev != Some(k) {
                    pending = None;
                }
                prev = Some(k);
                let comment = own.or_else(|| pending.clone());
                if k == 0 {
                    pending = None;
                }
                steps.push(Step {
                    index: index as u32,
                    comment,
                    action,
                });
            }
        }
    }
    // Connects followed by a send carry data (only the delayed-ACK hint in HAProxy).
    // Expect heads: the earliest inverted expect of the chain before each expect.
    for i in 0..steps.len() {
        if let Action::Expect(_) = steps[i].action {
            let mut head = i;
            let mut j = i;
            while j > 0 {
                j -= 1;
                match &steps[j].action {
                    Action::Expect(e) => {
                        if e.inverse {
                            head = j;
                        }
                    }
                    _ => break,
                }
            }
            if let Action::Expect(e) = &mut steps[i].action {
                e.head = head;
            }
        }
    }
    steps
}
