//! A check's rule list as HAProxy 2.6 runs it (`struct tcpcheck_rule` after
//! `check_proxy_tcpcheck()`), the pure evaluation of `expect` rules on received bytes,
//! and the `info:` texts HAProxy builds (`tcpcheck_expect_onerror_message()`,
//! `chk_report_conn_err()`).

use std::fmt::Write as _;
use std::net::IpAddr;

use crate::health::CheckStatus;

use super::http::{parse_response, HttpParse, HttpRequest};

/// `check->tcpcheck_rules->flags & TCPCHK_RULES_PROTO_CHK`: which kind of ruleset runs.
/// It decides which texts HAProxy adds to the `info:` of a result.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ruleset {
    /// No check option: the default `*tcp-check` ruleset (flags 0), one implicit connect.
    Plain,
    /// `option tcp-check` (`TCPCHK_RULES_TCP_CHK`): step numbers in the messages.
    TcpCheck,
    /// `option httpchk` (`TCPCHK_RULES_HTTP_CHK`): the response is parsed as HTTP/1.
    Http,
}

/// `tcp-check connect` (or the implicit one HAProxy puts first).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Connect {
    /// `port N`.
    pub port: Option<u16>,
    /// `addr IP[:PORT]`.
    pub addr: Option<IpAddr>,
    pub addr_port: Option<u16>,
    /// `send-proxy`.
    pub send_proxy: bool,
    /// `linger`: close with a FIN instead of HAProxy's RST.
    pub linger: bool,
    /// `default` (and the implicit connect): the server's check settings apply
    /// (`check-send-proxy`, or `send-proxy` when no `port`/`addr` override).
    pub default: bool,
    /// Inserted by HAProxy, not written (`TCPCHK_OPT_IMPLICIT`): step 0.
    pub implicit: bool,
}

/// How an `expect` rule matches.
#[derive(Debug, Clone)]
pub enum Matcher {
    /// `string` (tcp-check).
    String(Vec<u8>),
    /// `binary` (tcp-check), the decoded bytes.
    Binary(Vec<u8>),
    /// `rstring` (tcp-check).
    StringRegex(regex::bytes::Regex),
    /// `rbinary` (tcp-check): the regex runs on the data in uppercase hex.
    BinaryRegex(regex::bytes::Regex),
    /// `status` (http-check): inclusive ranges of codes.
    HttpStatus(Vec<(u32, u32)>),
    /// `rstatus` (http-check): on the three digits.
    HttpStatusRegex(regex::bytes::Regex),
    /// `string` (http-check): in the body.
    HttpBody(Vec<u8>),
    /// `rstring` (http-check): on the body.
    HttpBodyRegex(regex::bytes::Regex),
}

/// `tcp-check expect` / `http-check expect`.
#[derive(Debug, Clone)]
pub struct Expect {
    pub matcher: Matcher,
    /// `!`.
    pub inverse: bool,
    /// `min-recv`, -1 when unset.
    pub min_recv: i64,
    /// `ok-status`, `error-status`, `tout-status`.
    pub ok_status: Option<CheckStatus>,
    pub err_status: Option<CheckStatus>,
    pub tout_status: Option<CheckStatus>,
    /// The rule evaluation resumes at when more data is needed: the first inverted
    /// `expect` of the chain of expects this one ends, or itself (`expect.head`).
    pub head: usize,
}

#[derive(Debug, Clone)]
pub enum Action {
    Connect(Connect),
    /// `send` / `send-binary`: the bytes.
    Send(Vec<u8>),
    /// `option httpchk` + `http-check send`.
    SendHttp(HttpRequest),
    Expect(Box<Expect>),
}

/// One rule, with what the messages need: its `index` (the config line's position in
/// the ruleset, comments included) and the comment HAProxy attached to it.
#[derive(Debug, Clone)]
pub struct Step {
    pub index: u32,
    pub comment: Option<String>,
    pub action: Action,
}

impl Step {
    /// `tcpcheck_get_step_id()`: 0 for the implicit first connect, else `index + 1`.
    pub fn id(&self) -> u32 {
        match &self.action {
            Action::Connect(c) if c.implicit && self.index == 0 => 0,
            _ => self.index + 1,
        }
    }
}

/// `tune.bufsize`: the check's input buffer; a full one counts as the last read.
pub const BUFSIZE: usize = 16384;

/// What one evaluation of an `expect` decided (`TCPCHK_EVAL_*`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Eval {
    Continue,
    Wait,
    /// The check ends with this status, `info` and HTTP code.
    Fail {
        status: CheckStatus,
        info: String,
        code: Option<u16>,
    },
}

/// The HTTP status an `expect` saw (`check->code`), for the result line.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Seen {
    pub code: Option<u16>,
}

/// `tcpcheck_eval_expect()` (tcp-check) on the bytes received since the last send.
pub fn eval_tcp_expect(
    ruleset: Ruleset,
    step: &Step,
    expect: &Expect,
    data: &[u8],
    last_read: bool,
) -> Eval {
    let last_read = last_read || data.len() >= BUFSIZE;
    if !last_read {
        if let Matcher::String(p) | Matcher::Binary(p) = &expect.matcher {
            if data.len() < p.len() {
                return Eval::Wait;
            }
        }
        if expect.min_recv > 0 && (data.len() as i64) < expect.min_recv {
            return Eval::Wait;
        }
    }
    let matched = match &expect.matcher {
        Matcher::String(p) | Matcher::Binary(p) => contains(data, p),
        Matcher::StringRegex(re) => re.is_match(&data[..data.len().min(BUFSIZE - 1)]),
        Matcher::BinaryRegex(re) => {
            // dump_binary() into a trash chunk of BUFSIZE: at most (BUFSIZE-1)/2 bytes.
            let mut hex = String::with_capacity(data.len() * 2);
            for b in data.iter().take((BUFSIZE - 1) / 2) {
                let _ = write!(hex, "{b:02X}");
            }
            re.is_match(&hex.as_bytes()[..hex.len().min(BUFSIZE - 1)])
        }
        // Planning never puts HTTP matchers in a tcp-check ruleset.
        _ => false,
    };
    if !matched && !last_read && expect.min_recv == -1 {
        return Eval::Wait;
    }
    if matched != expect.inverse {
        return Eval::Continue;
    }
    Eval::Fail {
        status: expect.err_status.unwrap_or(CheckStatus::L7Rsp),
        info: onerror_message(ruleset, step, expect, matched, ""),
        code: None,
    }
}

/// `tcpcheck_eval_expect_http()` on the bytes received since the request.
pub fn eval_http_expect(
    step: &Step,
    expect: &Expect,
    data: &[u8],
    last_read: bool,
    head_request: bool,
    seen: &mut Seen,
) -> Eval {
    let parsed = parse_response(data, last_read, head_request);
    let last_read = last_read || data.len() >= BUFSIZE;
    let response = match parsed {
        HttpParse::Error => {
            return Eval::Fail {
                status: CheckStatus::L7Rsp,
                info: onerror_message(Ruleset::Http, step, expect, false, ""),
                code: seen.code,
            }
        }
        HttpParse::Incomplete if last_read => {
            return Eval::Fail {
                status: CheckStatus::L7Rsp,
                info: onerror_message(Ruleset::Http, step, expect, false, ""),
                code: seen.code,
            }
        }
        HttpParse::Incomplete => return Eval::Wait,
        HttpParse::Response(r) => r,
    };
    let last_read = last_read || response.complete;
    seen.code = Some(response.status);
    let mut status = expect.err_status;
    let desc: String;
    let matched;
    match &expect.matcher {
        Matcher::HttpStatus(ranges) => {
            let c = u32::from(response.status);
            matched = ranges.iter().any(|(lo, hi)| c >= *lo && c <= *hi);
            status = Some(status.unwrap_or(CheckStatus::L7Sts));
            desc = response.reason.clone();
        }
        Matcher::HttpStatusRegex(re) => {
            matched = re.is_match(format!("{:03}", response.status).as_bytes());
            status = Some(status.unwrap_or(CheckStatus::L7Sts));
            desc = response.reason.clone();
        }
        Matcher::HttpBody(_) | Matcher::HttpBodyRegex(_) => {
            let body = &response.body;
            if body.is_empty() {
                if !last_read {
                    return Eval::Wait;
                }
                return Eval::Fail {
                    status: status.unwrap_or(CheckStatus::L7Rsp),
                    info: onerror_message(
                        Ruleset::Http,
                        step,
                        expect,
                        false,
                        "HTTP content check could not find a response body",
                    ),
                    code: seen.code,
                };
            }
            if !last_read {
                let short = match &expect.matcher {
                    Matcher::HttpBody(p) => body.len() < p.len(),
                    _ => false,
                };
                if short || (expect.min_recv > 0 && (body.len() as i64) < expect.min_recv) {
                    return Eval::Wait;
                }
            }
            matched = match &expect.matcher {
                Matcher::HttpBody(p) => contains(body, p),
                Matcher::HttpBodyRegex(re) => re.is_match(body),
                _ => false,
            };
            if !matched && !last_read && expect.min_recv == -1 {
                return Eval::Wait;
            }
            status = Some(status.unwrap_or(CheckStatus::L7Rsp));
            desc = if expect.inverse {
                "HTTP check matched unwanted content".into()
            } else {
                "HTTP content check did not match".into()
            };
        }
        // Planning never puts tcp-check matchers in an HTTP ruleset.
        _ => {
            return Eval::Fail {
                status: status.unwrap_or(CheckStatus::L7Rsp),
                info: String::new(),
                code: seen.code,
            }
        }
    }
    if matched != expect.inverse {
        return Eval::Continue;
    }
    Eval::Fail {
        status: status.unwrap_or(CheckStatus::L7Rsp),
        info: onerror_message(Ruleset::Http, step, expect, false, &desc),
        code: seen.code,
    }
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    needle.is_empty() || hay.windows(needle.len()).any(|w| w == needle)
}

/// `tcpcheck_expect_onerror_message()`: the given description, else (tcp-check
/// rulesets only) `TCPCHK did not match content ...`, then ` comment: C`.
pub fn onerror_message(
    ruleset: Ruleset,
    step: &Step,
    expect: &Expect,
    matched: bool,
    desc: &str,
) -> String {
    let mut msg = String::new();
    if !desc.is_empty() {
        msg.push_str(desc);
    } else if ruleset == Ruleset::TcpCheck {
        msg.push_str(if matched {
            "TCPCHK matched unwanted content"
        } else {
            "TCPCHK did not match content"
        });
        let id = step.id();
        match &expect.matcher {
            Matcher::String(p) | Matcher::HttpBody(p) => {
                let _ = write!(msg, " '{}' at step {id}", String::from_utf8_lossy(p));
            }
            Matcher::HttpStatus(_) => {
                let _ = write!(msg, "(status codes) at step {id}");
            }
            Matcher::Binary(_) => {
                let _ = write!(msg, " (binary) at step {id}");
            }
            Matcher::StringRegex(_) | Matcher::HttpStatusRegex(_) | Matcher::HttpBodyRegex(_) => {
                let _ = write!(msg, " (regex) at step {id}");
            }
            Matcher::BinaryRegex(_) => {
                let _ = write!(msg, " (binary regex) at step {id}");
            }
        }
    }
    if let Some(c) = &step.comment {
        let _ = write!(msg, " comment: {c}");
    }
    msg
}

/// `chk_report_conn_err()`'s context: ` at step N of tcp-check (what)` for tcp-check
/// rulesets (`current` is the rule being evaluated), nothing otherwise.
pub fn step_context(ruleset: Ruleset, current: Option<&Step>) -> String {
    if ruleset != Ruleset::TcpCheck {
        return String::new();
    }
    let id = current.map(Step::id).unwrap_or(1);
    if id == 0 {
        return " at initial connection step of tcp-check".into();
    }
    let mut s = format!(" at step {id} of tcp-check");
    if let Some(step) = current {
        match &step.action {
            Action::Connect(c) => match c.port {
                Some(p) => {
                    let _ = write!(s, " (connect port {p})");
                }
                None => s.push_str(" (connect)"),
            },
            Action::Expect(e) => match &e.matcher {
                Matcher::String(p) => {
                    let _ = write!(s, " (expect string '{}')", String::from_utf8_lossy(p));
                }
                Matcher::Binary(p) => {
                    let _ = write!(s, " (expect binary '{}')", String::from_utf8_lossy(p));
                }
                Matcher::StringRegex(_) => s.push_str(" (expect regex)"),
                Matcher::BinaryRegex(_) => s.push_str(" (expect binary regex)"),
                Matcher::HttpStatus(_) => s.push_str(" (expect HTTP status codes)"),
                Matcher::HttpStatusRegex(_) => s.push_str(" (expect HTTP status regex)"),
                Matcher::HttpBody(p) => {
                    let _ = write!(
                        s,
                        " (expect HTTP body content '{}')",
                        String::from_utf8_lossy(p)
                    );
                }
                Matcher::HttpBodyRegex(_) => s.push_str(" (expect HTTP body regex)"),
            },
            Action::Send(_) | Action::SendHttp(_) => s.push_str(" (send)"),
        }
        if let Some(c) = &step.comment {
            let _ = write!(s, " comment: '{c}'");
        }
    }
    s
}

/// `TCPCHK got an empty response at step N[ comment: 'C']`.
pub fn empty_response_message(step: &Step) -> String {
    let mut s = format!("TCPCHK got an empty response at step {}", step.id());
    if let Some(c) = &step.comment {
        let _ = write!(s, " comment: '{c}'");
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn expect(m: Matcher, inverse: bool) -> Expect {
        Expect {
            matcher: m,
            inverse,
            min_recv: -1,
            ok_status: None,
            err_status: None,
            tout_status: None,
            head: 0,
        }
    }

    fn step(index: u32, e: &Expect) -> Step {
        Step {
            index,
            comment: None,
            action: Action::Expect(Box::new(e.clone())),
        }
    }

    #[test]
    fn string_expect_waits_for_enough_bytes_then_for_the_close() {
        let e = expect(Matcher::String(b"PONG".to_vec()), false);
        let s = step(1, &e);
        assert_eq!(
            eval_tcp_expect(Ruleset::TcpCheck, &s, &e, b"PO", false),
            Eval::Wait
        );
        assert_eq!(
            eval_tcp_expect(Ruleset::TcpCheck, &s, &e, b"PANG", false),
            Eval::Wait
        );
        assert_eq!(
            eval_tcp_expect(Ruleset::TcpCheck, &s, &e, b"+PONG", false),
            Eval::Continue
        );
        assert_eq!(
            eval_tcp_expect(Ruleset::TcpCheck, &s, &e, b"PANG", true),
            Eval::Fail {
                status: CheckStatus::L7Rsp,
                info: "TCPCHK did not match content 'PONG' at step 2".into(),
                code: None
            }
        );
    }

    #[test]
    fn an_inverted_expect_only_passes_at_the_last_read() {
        let e = expect(Matcher::String(b"PANG".to_vec()), true);
        let s = step(1, &e);
        assert_eq!(
            eval_tcp_expect(Ruleset::TcpCheck, &s, &e, b"PONG", false),
            Eval::Wait
        );
        assert_eq!(
            eval_tcp_expect(Ruleset::TcpCheck, &s, &e, b"PONG", true),
            Eval::Continue
        );
        assert_eq!(
            eval_tcp_expect(Ruleset::TcpCheck, &s, &e, b"PANG", false),
            Eval::Fail {
                status: CheckStatus::L7Rsp,
                info: "TCPCHK matched unwanted content 'PANG' at step 2".into(),
                code: None
            }
        );
    }

    #[test]
    fn binary_regex_runs_on_uppercase_hex() {
        let re = regex::bytes::Regex::new("^2B50").unwrap_or_else(|_| unreachable!());
        let e = expect(Matcher::BinaryRegex(re), false);
        let s = step(0, &e);
        assert_eq!(
            eval_tcp_expect(Ruleset::TcpCheck, &s, &e, b"+PONG", true),
            Eval::Continue
        );
    }
}
