//! `tcp-check` and `http-check` rules (src/tcpcheck.c), typed.

use super::{err, Line, Parser};
use crate::model::{HttpCheckAction, HttpCheckRule, TcpCheckAction, TcpCheckRule};
use crate::units;

const EXPECT_KINDS_TCP: &[&str] = &[
    "string",
    "rstring",
    "binary",
    "rbinary",
    "string-lf",
    "binary-lf",
];
const EXPECT_KINDS_HTTP: &[&str] = &[
    "status",
    "rstatus",
    "hdr",
    "fhdr",
    "string",
    "rstring",
    "string-lf",
    "status-lf",
];

fn parse_expect(
    words: &[String],
    kinds: &[&str],
    rule: &str,
) -> Result<(bool, String, String, Vec<String>), String> {
    let mut i = 0;
    let mut options = Vec::new();
    let mut negate = false;
    // options before the match kind: min-recv, comment, ok-status, error-status, on-success…
    while let Some(w) = words.get(i) {
        if w == "!" {
            negate = true;
            i += 1;
            continue;
        }
        if kinds.contains(&w.as_str()) {
            break;
        }
        match w.as_str() {
            "min-recv" | "comment" | "ok-status" | "error-status" | "tout-status" | "on-success" | "on-error" | "status-code" => {
                options.push(format!("{w} {}", words.get(i + 1).cloned().unwrap_or_default()));
                i += 2;
            }
            other => {
                return Err(format!(
                    "'{rule} expect' only supports 'min-recv', 'comment', 'ok-status', 'error-status', 'tout-status', 'on-success', 'on-error', 'status-code', '!' followed by {} but got '{other}'.",
                    kinds.join(", ")
                ))
            }
        }
    }
    let kind = words
        .get(i)
        .cloned()
        .ok_or_else(|| format!("'{rule} expect' expects a match type."))?;
    let pattern = words
        .get(i + 1)
        .cloned()
        .filter(|p| !p.is_empty())
        .ok_or_else(|| format!("'{rule} expect {kind}' expects <pattern> as an argument."))?;
    options.extend(words.iter().skip(i + 2).cloned());
    Ok((negate, kind, pattern, options))
}

impl Parser<'_> {
    pub(super) fn tcp_check_line(&mut self, line: &Line) -> u32 {
        if self.warn_if_not_cap(line, false, true, "tcp-check") {
            return err::WARN;
        }
        let sub = line.arg(1).to_string();
        let rest: Vec<String> = line
            .words
            .get(2..)
            .map(<[String]>::to_vec)
            .unwrap_or_default();
        let action = match sub.as_str() {
            "connect" => {
                let port = rest
                    .iter()
                    .position(|w| w == "port")
                    .and_then(|i| rest.get(i + 1))
                    .map(|p| units::atoi(p));
                if let Some(p) = port {
                    if !(1..=65535).contains(&p) {
                        self.alert(
                            line.span,
                            "'tcp-check connect' : expects a valid port number (got '{p}')"
                                .replace("{p}", &p.to_string()),
                        );
                        return err::ALERT | err::FATAL;
                    }
                }
                TcpCheckAction::Connect {
                    port: port.map(|p| p as u16),
                    options: rest,
                }
            }
            "send" | "send-binary" | "send-lf" | "send-binary-lf" => {
                let Some(data) = rest.first().filter(|d| !d.is_empty()).cloned() else {
                    self.alert(
                        line.span,
                        format!(
                            "'tcp-check {sub}' expects a {} as argument.",
                            if sub.contains("binary") {
                                "binary string"
                            } else {
                                "string"
                            }
                        ),
                    );
                    return err::ALERT | err::FATAL;
                };
                let binary = sub.contains("binary");
                if sub.ends_with("-lf") {
                    TcpCheckAction::SendLf {
                        format: data,
                        binary,
                    }
                } else {
                    if binary
                        && (data.len() % 2 != 0 || !data.bytes().all(|b| b.is_ascii_hexdigit()))
                    {
                        self.alert(
                            line.span,
                            format!(
                                "'tcp-check {sub}' : '{data}' is not a valid hexadecimal string."
                            ),
                        );
                        return err::ALERT | err::FATAL;
                    }
                    TcpCheckAction::Send { data, binary }
                }
            }
            "expect" => match parse_expect(&rest, EXPECT_KINDS_TCP, "tcp-check") {
                Ok((negate, kind, pattern, options)) => TcpCheckAction::Expect {
                    negate,
                    kind,
                    pattern,
                    options,
                },
                Err(msg) => {
                    self.alert(line.span, msg);
                    return err::ALERT | err::FATAL;
                }
            },
            "comment" => TcpCheckAction::Comment(rest.join(" ")),
            "set-var" => TcpCheckAction::SetVar(rest),
            "unset-var" => TcpCheckAction::UnsetVar(rest),
            other => {
                self.alert(line.span, format!("'tcp-check' expects 'comment', 'connect', 'send', 'send-binary', 'send-lf', 'send-binary-lf', 'expect', 'set-var' or 'unset-var' but got '{other}'."));
                return err::ALERT | err::FATAL;
            }
        };
        let at = self.location(line.span);
        if let Some(s) = self.settings_mut() {
            s.tcp_check.push(TcpCheckRule { at, action });
        }
        0
    }

    pub(super) fn http_check_line(&mut self, line: &Line) -> u32 {
        if self.warn_if_not_cap(line, false, true, "http-check") {
            return err::WARN;
        }
        let sub = line.arg(1).to_string();
        let rest: Vec<String> = line
            .words
            .get(2..)
            .map(<[String]>::to_vec)
            .unwrap_or_default();
        let action = match sub.as_str() {
            "connect" => HttpCheckAction::Connect { options: rest },
            "send" => {
                let mut method = None;
                let mut uri = None;
                let mut version = None;
                let mut headers = Vec::new();
                let mut body = None;
                let mut i = 0;
                while i < rest.len() {
                    let v = rest.get(i + 1).cloned();
                    match rest[i].as_str() {
                        "meth" => method = v,
                        "uri" | "uri-lf" => uri = v,
                        "ver" => version = v,
                        "hdr" => {
                            headers.push((
                                v.unwrap_or_default(),
                                rest.get(i + 2).cloned().unwrap_or_default(),
                            ));
                            i += 1;
                        }
                        "body" | "body-lf" => body = v,
                        "comment" => {}
                        other => {
                            self.alert(line.span, format!("'http-check send' only supports 'comment', 'meth', 'uri', 'uri-lf', 'ver', 'hdr', 'body' or 'body-lf' but got '{other}' as argument."));
                            return err::ALERT | err::FATAL;
                        }
                    }
                    i += 2;
                }
                HttpCheckAction::Send {
                    method,
                    uri,
                    version,
                    headers,
                    body,
                }
            }
            "expect" => match parse_expect(&rest, EXPECT_KINDS_HTTP, "http-check") {
                Ok((negate, kind, pattern, options)) => HttpCheckAction::Expect {
                    negate,
                    kind,
                    pattern,
                    options,
                },
                Err(msg) => {
                    self.alert(line.span, msg);
                    return err::ALERT | err::FATAL;
                }
            },
            "disable-on-404" => HttpCheckAction::DisableOn404,
            "send-state" => HttpCheckAction::SendState,
            "comment" => HttpCheckAction::Comment(rest.join(" ")),
            "set-var" => HttpCheckAction::SetVar(rest),
            "unset-var" => HttpCheckAction::UnsetVar(rest),
            other => {
                self.alert(line.span, format!("'http-check' expects 'comment', 'connect', 'disable-on-404', 'expect', 'send', 'send-state', 'set-var' or 'unset-var' but got '{other}'."));
                return err::ALERT | err::FATAL;
            }
        };
        let at = self.location(line.span);
        if let Some(s) = self.settings_mut() {
            s.http_check.push(HttpCheckRule { at, action });
        }
        0
    }
}
