//! `http-request`, `http-response`, `redirect`, `stats http-request` and `tcp-request`
//! rules: the action words HAProxy 2.6 registers (src/http_act.c, src/http_rules.c…),
//! typed for the actions ha-compat models, with their `if`/`unless` conditions.

use super::{err, Current, Line, Parser};
use crate::model::{Directive, HttpAction, HttpRule, Redirect};
use crate::registry::registry;
use crate::suggest::best_match;
use crate::units;

/// `action_build_list()` for http-request / http-response: HAProxy 2.6.12's actions in
/// registration order, as its "expects ..." message lists them.
const HTTP_REQUEST_ACTIONS: &str = "'wait-for-handshake', 'ot-group', 'set-log-level', 'set-nice', 'use-service', 'sc-inc-gpc(*)', 'sc-inc-gpc0(*)', 'sc-inc-gpc1(*)', 'sc-set-gpt(*)', 'sc-set-gpt0(*)', 'send-spoe-group', 'do-resolve(*)', 'cache-use', 'add-acl(*)', 'add-header', 'allow', 'auth', 'capture', 'del-acl(*)', 'del-header', 'del-map(*)', 'deny', 'disable-l7-retry', 'early-hint', 'normalize-uri', 'redirect', 'reject', 'replace-header', 'replace-path', 'replace-pathq', 'replace-uri', 'replace-value', 'return', 'set-header', 'set-map(*)', 'set-method', 'set-path', 'set-pathq', 'set-query', 'set-uri', 'strict-mode', 'tarpit', 'track-sc(*)', 'set-timeout', 'wait-for-body', 'set-var-fmt(*)', 'set-var(*)', 'unset-var(*)', 'set-dst', 'set-dst-port', 'set-mark', 'set-src', 'set-src-port', 'set-tos', 'silent-drop', 'set-priority-class', 'set-priority-offset'";
const HTTP_AFTER_RESPONSE_ACTIONS: &str = "'ot-group', 'add-header', 'allow', 'capture', 'del-header', 'replace-header', 'replace-value', 'set-header', 'set-status', 'strict-mode', 'set-var-fmt(*)', 'set-var(*)', 'unset-var(*)'";
const HTTP_RESPONSE_ACTIONS: &str = "'ot-group', 'set-log-level', 'set-nice', 'sc-inc-gpc(*)', 'sc-inc-gpc0(*)', 'sc-inc-gpc1(*)', 'sc-set-gpt(*)', 'sc-set-gpt0(*)', 'send-spoe-group', 'cache-store', 'add-acl(*)', 'add-header', 'allow', 'capture', 'del-acl(*)', 'del-header', 'del-map(*)', 'deny', 'redirect', 'replace-header', 'replace-value', 'return', 'set-header', 'set-map(*)', 'set-status', 'strict-mode', 'track-sc(*)', 'wait-for-body', 'set-var-fmt(*)', 'set-var(*)', 'unset-var(*)', 'set-mark', 'set-tos', 'silent-drop'";

/// Where the action's own words end: at `if` / `unless`.
fn condition_start(line: &Line, from: usize) -> Option<usize> {
    (from..line.words.len()).find(|&i| matches!(line.arg(i), "if" | "unless"))
}

fn status_arg(words: &[String], key: &str) -> Option<u16> {
    words
        .iter()
        .position(|w| w == key)
        .and_then(|i| words.get(i + 1))
        .map(|v| units::atoi(v) as u16)
}

/// The typed action for `rule` (`http-request`/`http-response`) and its words.
fn typed_action(action: &str, args: &[String]) -> Result<Option<HttpAction>, String> {
    let a = |i: usize| args.get(i).cloned().unwrap_or_default();
    let need = |n: usize, what: &str| -> Result<(), String> {
        if args.len() < n || args[..n].iter().any(String::is_empty) {
            Err(format!("expects {what}"))
        } else {
            Ok(())
        }
    };
    if matches!(action, "deny" | "tarpit") {
        for key in ["deny_status", "status"] {
            if let Some(i) = args.iter().position(|w| w == key) {
                let code = units::atoi(&a(i + 1));
                if !crate::errorfile::HANDLED_STATUS_CODES
                    .iter()
                    .any(|&c| i32::from(c) == code)
                    || code == 200
                {
                    return Err(format!("Unexpected status code '{}'", a(i + 1)));
                }
            }
        }
    }
    if matches!(
        action,
        "set-header"
            | "add-header"
            | "set-path"
            | "set-pathq"
            | "set-query"
            | "set-uri"
            | "set-method"
            | "replace-header"
            | "replace-value"
            | "replace-path"
            | "replace-pathq"
    ) {
        let format_at = match action {
            "set-header" | "add-header" => 1,
            "replace-header" | "replace-value" => 2,
            "replace-path" | "replace-pathq" => 1,
            _ => 0,
        };
        if let Some(fmt) = args.get(format_at) {
            crate::parse::acl::check_log_format(fmt)?;
        }
    }
    Ok(Some(match action {
        "allow" => HttpAction::Allow,
        "deny" => HttpAction::Deny {
            status: status_arg(args, "deny_status").or_else(|| status_arg(args, "status")),
            content: args.to_vec(),
        },
        "tarpit" => HttpAction::Tarpit {
            status: status_arg(args, "deny_status").or_else(|| status_arg(args, "status")),
        },
        "auth" => HttpAction::Auth {
            realm: args.iter().position(|w| w == "realm").map(|i| a(i + 1)),
        },
        "redirect" => {
            let kind = a(0);
            if !matches!(kind.as_str(), "location" | "prefix" | "scheme") || args.len() < 2 {
                return Err("expects 'code', 'prefix', 'location', 'scheme', 'set-cookie', 'clear-cookie', 'drop-query' or 'append-slash'".into());
            }
            HttpAction::Redirect(Redirect {
                kind,
                target: a(1),
                code: status_arg(args, "code").unwrap_or(302),
                options: args[2..].to_vec(),
            })
        }
        "set-header" | "add-header" => {
            need(2, "exactly 2 arguments")?;
            let (name, value) = (a(0), a(1));
            if action == "set-header" {
                HttpAction::SetHeader { name, value }
            } else {
                HttpAction::AddHeader { name, value }
            }
        }
        "del-header" => {
            need(1, "at least 1 argument")?;
            HttpAction::DelHeader {
                name: a(0),
                method: args.iter().position(|w| w == "-m").map(|i| a(i + 1)),
            }
        }
        "replace-header" | "replace-value" => {
            need(3, "exactly 3 arguments")?;
            let (name, regex, replacement) = (a(0), a(1), a(2));
            if action == "replace-header" {
                HttpAction::ReplaceHeader {
                    name,
                    regex,
                    replacement,
                }
            } else {
                HttpAction::ReplaceValue {
                    name,
                    regex,
                    replacement,
                }
            }
        }
        "set-path" => {
            need(1, "exactly 1 argument")?;
            HttpAction::SetPath(a(0))
        }
        "set-pathq" => {
            need(1, "exactly 1 argument")?;
            HttpAction::SetPathq(a(0))
        }
        "replace-path" | "replace-pathq" => {
            need(2, "exactly 2 arguments")?;
            if action == "replace-pathq" {
                HttpAction::ReplacePathq {
                    regex: a(0),
                    replacement: a(1),
                }
            } else {
                HttpAction::ReplacePath {
                    regex: a(0),
                    replacement: a(1),
                }
            }
        }
        "set-query" => {
            need(1, "exactly 1 argument")?;
            HttpAction::SetQuery(a(0))
        }
        "set-uri" => {
            need(1, "exactly 1 argument")?;
            HttpAction::SetUri(a(0))
        }
        "set-method" => {
            need(1, "exactly 1 argument")?;
            HttpAction::SetMethod(a(0))
        }
        "set-status" => {
            let status = units::atoi(&a(0));
            if !(100..=999).contains(&status) {
                return Err("expects an HTTP status code between 100 and 999".into());
            }
            HttpAction::SetStatus {
                status: status as u16,
                reason: args.iter().position(|w| w == "reason").map(|i| a(i + 1)),
            }
        }
        "return" => HttpAction::Return {
            status: status_arg(args, "status").unwrap_or(200),
            content: args.to_vec(),
        },
        _ => return Ok(None),
    }))
}

impl Parser<'_> {
    pub(super) fn http_rule_line(&mut self, line: &Line) -> u32 {
        let kw = line.kw().to_string();
        if let Current::Defaults(i) = self.current {
            let anonymous = self.defaults.get(i).is_none_or(|d| d.name.is_empty());
            if kw == "redirect" {
                self.alert(line.span, "'redirect' not allowed in 'defaults' section.");
                return err::ALERT | err::FATAL;
            }
            if anonymous {
                self.alert(
                    line.span,
                    format!("'{kw}' not allowed in anonymous 'defaults' section."),
                );
                return err::ALERT | err::FATAL;
            }
        }
        let (action, first_arg) = if kw == "redirect" {
            ("redirect".to_string(), 1)
        } else {
            (line.arg(1).to_string(), 2)
        };
        let cond_at = condition_start(line, first_arg);
        let end = cond_at.unwrap_or(line.words.len());
        let args: Vec<String> = line.words[first_arg.min(end)..end].to_vec();
        let rule_kw = if kw == "redirect" {
            "http-request".to_string()
        } else {
            kw.clone()
        };
        let reg = registry();
        let known = reg.has_action(&rule_kw, &action)
            || rule_kw != "http-after-response"
                && matches!(
                    action.as_str(),
                    "allow"
                        | "deny"
                        | "tarpit"
                        | "auth"
                        | "redirect"
                        | "return"
                        | "set-header"
                        | "add-header"
                        | "del-header"
                        | "replace-header"
                        | "replace-value"
                        | "set-status"
                );
        if !known {
            let list = match rule_kw.as_str() {
                "http-response" => HTTP_RESPONSE_ACTIONS,
                "http-after-response" => HTTP_AFTER_RESPONSE_ACTIONS,
                _ => HTTP_REQUEST_ACTIONS,
            };
            let names: Vec<&str> = list
                .split(", ")
                .map(|n| n.trim_matches('\'').trim_end_matches("(*)"))
                .collect();
            let best = best_match(&action, names.iter().copied());
            let missing = if action.is_empty() {
                " (missing argument)"
            } else {
                ""
            };
            let hint = best
                .map(|b| format!(" Did you mean '{b}' maybe ?"))
                .unwrap_or_default();
            self.alert_tight(
                line.span,
                format!("'{rule_kw}' expects {list}, but got '{action}'{missing}.{hint}"),
            );
            return err::ALERT | err::ABORT;
        }
        // `use-service NAME`: the service's own parser takes the next word whatever it
        // is (`if` included), then the rule wants nothing but a condition.
        let service = (action == "use-service").then(|| {
            let name = line.arg(first_arg).to_string();
            let after = line.arg(first_arg + 1).to_string();
            (name, after)
        });
        let typed = match service {
            Some((name, after)) => {
                let refused = if name.is_empty() {
                    Some("'use-service' expects a service name.".to_string())
                } else if name != "prometheus-exporter" {
                    Some(format!("'{name}' unknown service name."))
                } else {
                    None
                };
                if let Some(msg) = refused {
                    let text = format!(
                        "error detected in {} '{}' while parsing '{rule_kw} {action}' rule : {msg}.",
                        self.proxy_type(),
                        self.proxy_name()
                    );
                    self.alert(line.span, text);
                    return err::ALERT | err::ABORT;
                }
                if !after.is_empty() && !matches!(after.as_str(), "if" | "unless") {
                    self.alert_tight(
                        line.span,
                        format!("'{rule_kw} {action}' expects either 'if' or 'unless' followed by a condition but found '{after}'."),
                    );
                    return err::ALERT | err::ABORT;
                }
                Ok(Some(HttpAction::UseService { service: name }))
            }
            None => typed_action(&action, &args),
        };
        let typed = match typed {
            Ok(t) => t,
            Err(msg) => {
                let text = format!(
                    "error detected in {} '{}' while parsing '{rule_kw} {action}' rule : {msg}.",
                    self.proxy_type(),
                    self.proxy_name()
                );
                self.alert(line.span, text);
                return err::ALERT | err::ABORT;
            }
        };
        let condition = match cond_at {
            Some(at) => match self.parse_condition(line, at) {
                Ok(c) => Some(c),
                Err(msg) => {
                    let what = if kw == "redirect" {
                        format!(
                            "error detected in {} '{}' while parsing redirect rule : {msg}.",
                            self.proxy_type(),
                            self.proxy_name()
                        )
                    } else {
                        format!("error detected while parsing an '{rule_kw} {action}' condition : {msg}.")
                    };
                    self.alert(line.span, what);
                    return err::ALERT | err::ABORT;
                }
            },
            None => None,
        };
        let mut code = 0;
        let action_value = match typed {
            Some(t) => t,
            None => {
                self.unmodelled(line, &format!("{rule_kw} {action}"));
                HttpAction::Other {
                    action: action.clone(),
                    args,
                }
            }
        };
        // warnif_misplaced_http_req() / warnif_misplaced_redirect(): rules are evaluated
        // by kind, not in file order.
        if kw == "http-request" || kw == "redirect" {
            let (has_redirect, has_use_backend) = match self.proxy_mut() {
                Some(p) => (!p.settings.redirects.is_empty(), !p.use_backends.is_empty()),
                None => (false, false),
            };
            let after = if kw == "http-request" && has_redirect {
                Some("a 'redirect'")
            } else if has_use_backend {
                Some("a 'use_backend'")
            } else {
                None
            };
            if let Some(after) = after {
                self.warn(
                    line.span,
                    format!(
                        "a '{kw}' rule placed after {after} rule will still be processed before."
                    ),
                );
                code |= err::WARN;
            }
        }
        let rule = HttpRule {
            at: self.location(line.span),
            action: action_value,
            condition,
        };
        if let Some(s) = self.settings_mut() {
            match kw.as_str() {
                "http-response" => s.http_response.push(rule),
                "http-after-response" => s.http_after_response.push(rule),
                "redirect" => s.redirects.push(rule),
                _ => s.http_request.push(rule),
            }
        }
        code
    }

    pub(super) fn stats_http_request_line(&mut self, line: &Line) -> u32 {
        let action = line.arg(2).to_string();
        if !matches!(action.as_str(), "allow" | "deny" | "auth") {
            self.alert(
                line.span,
                format!(
                    "'stats http-request' expects 'allow', 'deny', 'auth', but got '{action}'."
                ),
            );
            return err::ALERT | err::FATAL;
        }
        let cond_at = condition_start(line, 3);
        let end = cond_at.unwrap_or(line.words.len());
        let args: Vec<String> = line.words[3.min(end)..end].to_vec();
        let condition = match cond_at {
            Some(at) => match self.parse_condition(line, at) {
                Ok(c) => Some(c),
                Err(msg) => {
                    self.alert(
                        line.span,
                        format!(
                            "error detected while parsing a 'stats http-request' rule : {msg}."
                        ),
                    );
                    return err::ALERT | err::FATAL;
                }
            },
            None => None,
        };
        let Ok(Some(action_value)) = typed_action(&action, &args) else {
            return err::ALERT | err::FATAL;
        };
        let rule = HttpRule {
            at: self.location(line.span),
            action: action_value,
            condition,
        };
        if let Some(s) = self.settings_mut() {
            s.stats.http_request.push(rule);
        }
        0
    }

    pub(super) fn tcp_request_line(&mut self, line: &Line) -> u32 {
        let kind = line.arg(1).to_string();
        match kind.as_str() {
            "inspect-delay" => {
                if !line.has(2) {
                    self.alert(line.span, "tcp-request : 'tcp-request inspect-delay' expects a positive delay in milliseconds, in proxy");
                    return err::ALERT | err::FATAL;
                }
            }
            "connection" | "session" | "content" => {
                let action = line.arg(2);
                let rule = format!("tcp-request {kind}");
                let reg = registry();
                if !reg.has_action(&rule, action)
                    && !matches!(
                        action,
                        "accept"
                            | "reject"
                            | "expect-proxy"
                            | "expect-netscaler-cip"
                            | "capture"
                            | "track-sc0"
                            | "track-sc1"
                            | "track-sc2"
                            | "set-var"
                            | "unset-var"
                            | "do-resolve"
                            | "use-service"
                            | "switch-mode"
                            | "set-dst"
                            | "set-src"
                            | "close"
                            | "send-spoe-group"
                            | "sc-inc-gpc0"
                            | "silent-drop"
                    )
                    && !action.starts_with("track-sc")
                    && !action.starts_with("set-var")
                {
                    self.alert(line.span, format!("tcp-request : '{rule}' expects 'accept', 'reject', 'track-sc0', 'track-sc1', 'track-sc2' or a registered action, but got '{action}'"));
                    return err::ALERT | err::FATAL;
                }
                if kind == "content" && action == "use-service" {
                    // tcp_parse_use_service() names the rule's first or second word in
                    // its messages (sic, measured on haproxy 2.6.12), and the
                    // exporter refuses any ruleset but `http-request` (haproxy 2.6.12).
                    let msg = if line.arg(3) == "prometheus-exporter" {
                        "Prometheus exporter service only available on 'http-request' rulesets"
                            .to_string()
                    } else if line.arg(3).is_empty() {
                        "'tcp-request' expects a service name.".to_string()
                    } else {
                        format!("'{kind}' unknown service name.")
                    };
                    self.alert(line.span, msg);
                    return err::ALERT | err::FATAL;
                }
                if let Some(at) = condition_start(line, 3) {
                    if let Err(msg) = self.parse_condition(line, at) {
                        self.alert(line.span, format!("tcp-request : error detected in {} '{}' while parsing '{rule} {action}' rule : {msg}.", self.proxy_type(), self.proxy_name()));
                        return err::ALERT | err::FATAL;
                    }
                }
            }
            _ => {
                self.alert(line.span, format!("tcp-request : 'tcp-request' expects 'connection', 'session', 'content' or 'inspect-delay', but got '{kind}'"));
                return err::ALERT | err::FATAL;
            }
        }
        let at = self.location(line.span);
        if let Some(s) = self.settings_mut() {
            s.tcp_request.push(Directive {
                at,
                words: line.words.clone(),
            });
        }
        self.unmodelled(line, &format!("tcp-request {kind}"));
        0
    }
}
