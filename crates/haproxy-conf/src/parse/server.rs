//! `server` and `default-server`: `parse_server()` / `_srv_parse_init()` /
//! `_srv_parse_kw()` (src/server.c) with the registered server keywords (src/check.c,
//! src/cfgparse-ssl.c…). Their messages use HAProxy's context form
//! `[FILE:LINE] : 'server BACKEND/NAME' : …`.

use std::net::IpAddr;

use conf_diag::Severity;

use super::{err, Current, Line, Parser};
use crate::diag::{self, CONTEXT};
use crate::model::{Server, ServerAddress, ServerHost, ServerOptions, ServerPort};
use crate::registry::registry;
use crate::suggest::best_match;
use crate::units::{self, parse_time, TimeError, TimeUnit};

impl Parser<'_> {
    fn ctx_alert(&mut self, line: &Line, text: impl Into<String>) {
        self.push(diag::at(Severity::Error, CONTEXT, line.span, text));
    }

    fn ctx_warn(&mut self, line: &Line, text: impl Into<String>) {
        self.push(diag::at(Severity::Warning, CONTEXT, line.span, text));
    }

    pub(super) fn server_line(&mut self, line: &Line) -> u32 {
        let kw = line.kw().to_string();
        let is_default = kw == "default-server";
        if !is_default && matches!(self.current, Current::Defaults(_)) {
            self.ctx_alert(line, format!("'{kw}' not allowed in 'defaults' section."));
            return err::ALERT | err::FATAL;
        }
        if !self.has_be() {
            let text = format!(
                "'{kw}' not allowed because {} '{}' has no backend capability.",
                self.proxy_type(),
                self.proxy_name()
            );
            self.alert(line.span, text);
            return err::ALERT | err::FATAL;
        }
        let (name, address, first_option) = if is_default {
            (String::new(), None, 1)
        } else {
            if !line.has(2) {
                self.ctx_alert(
                    line,
                    format!("'{kw}' expects <name> and <addr>[:<port>] as arguments."),
                );
                return err::ALERT | err::FATAL;
            }
            let name = line.arg(1).to_string();
            if let Some(c) = super::invalid_char(&name) {
                self.ctx_alert(
                    line,
                    format!("character '{c}' is not permitted in {kw} name '{name}'."),
                );
                return err::ALERT | err::FATAL;
            }
            let prefix = format!("'server {}/{name}' : ", self.proxy_name());
            match parse_server_address(line.arg(2)) {
                Ok(a) => (name, Some(a), 3),
                Err(msg) => {
                    self.ctx_alert(line, format!("{prefix}{msg}"));
                    return err::ALERT | err::FATAL;
                }
            }
        };
        let prefix = if is_default {
            String::new()
        } else {
            format!("'server {}/{name}' : ", self.proxy_name())
        };
        let mut options = ServerOptions::default();
        let mut code = 0;
        let mut i = first_option;
        let reg = registry();
        while line.has(i) {
            let word = line.arg(i).to_string();
            let Some(arity) = reg.server.get(&word).copied() else {
                let hint = best_match(
                    &word,
                    crate::suggest::haproxy_candidates("server").iter().copied(),
                );
                let tail = if is_default {
                    " Hint: no address was expected for this server."
                } else {
                    ""
                };
                let text = match hint {
                    Some(best) => format!(
                        "{prefix}unknown keyword '{word}'; did you mean '{best}' maybe ?{tail}"
                    ),
                    None => format!("{prefix}unknown keyword '{word}'.{tail}"),
                };
                self.ctx_alert(line, text);
                return code | err::ALERT | err::FATAL;
            };
            let nargs = usize::from(arity.0.unwrap_or(1));
            let value = line.arg(i + 1).to_string();
            let server_name = if is_default {
                String::new()
            } else {
                name.clone()
            };
            let result = apply_server_keyword(&mut options, &word, &value, &server_name);
            match result {
                Ok(()) => {}
                Err(KwError::Alert(msg)) => {
                    self.ctx_alert(line, format!("{prefix}{msg}."));
                    return code | err::ALERT | err::FATAL;
                }
                Err(KwError::Warn(msg)) => {
                    self.ctx_warn(line, format!("{prefix}{msg}."));
                    code |= err::WARN;
                }
                Err(KwError::Unmodelled) => {
                    let end = (i + 1 + nargs).min(line.words.len());
                    options.other.push(line.words[i..end].to_vec());
                }
            }
            i += 1 + nargs;
        }
        let at = self.location(line.span);
        let Some(settings) = self.settings_mut() else {
            return code;
        };
        if is_default {
            let mut merged = options;
            merged.inherit(&settings.default_server);
            settings.default_server = merged;
            return code;
        }
        options.inherit(&settings.default_server.clone());
        let Some(address) = address else {
            return code;
        };
        if let Some(id) = options.id {
            let clash = self.proxy_mut().and_then(|p| {
                p.servers
                    .iter()
                    .find(|s| s.options.id == Some(id))
                    .map(|s| (s.name.clone(), s.at.clone()))
            });
            if let Some((other, at)) = clash {
                self.ctx_alert(
                    line,
                    format!(
                        "{prefix}'id' : custom id {id} already used at {}:{} ('server {other}').",
                        at.file, at.line
                    ),
                );
                return code | err::ALERT | err::FATAL;
            }
        }
        // Duplicate server names are reported after reading (validate.rs), as HAProxy does.
        if let Some(p) = self.proxy_mut() {
            p.servers.push(Server {
                at,
                name,
                address,
                options,
                unresolved: false,
            });
        }
        code
    }
}

/// A server keyword's error: an alert, a warning, or "keep it as words".
enum KwError {
    Alert(String),
    Warn(String),
    Unmodelled,
}

fn positive_int(value: &str, kw: &str) -> Result<u32, KwError> {
    if value.is_empty() {
        return Err(KwError::Alert(format!(
            "'{kw}' expects an integer argument."
        )));
    }
    let v = units::atol(value);
    if v <= 0 {
        return Err(KwError::Alert(format!("'{kw}' has to be > 0.")));
    }
    Ok(v as u32)
}

fn check_delay(value: &str, kw: &str, server: &str) -> Result<std::time::Duration, KwError> {
    if value.is_empty() {
        return Err(KwError::Alert(format!(
            "'{kw}' expects a delay as argument."
        )));
    }
    match parse_time(value, TimeUnit::Millis) {
        Ok(t) if t.value > 0 => Ok(units::millis(t.value)),
        Ok(t) => Err(KwError::Alert(format!("invalid value {} for argument '{kw}' of server {server}.", t.value))),
        Err(TimeError::Overflow) => Err(KwError::Alert(format!("timer overflow in argument <{value}> to <{kw}> of server {server}, maximum value is 2147483647 ms (~24.8 days)."))),
        Err(TimeError::Underflow) => Err(KwError::Alert(format!("timer underflow in argument <{value}> to <{kw}> of server {server}, minimum non-null value is 1 ms."))),
        Err(TimeError::Unexpected(_, c)) => Err(KwError::Alert(format!("unexpected character '{c}' in 'agent-inter' argument of server {server}."))),
    }
}

fn apply_server_keyword(
    o: &mut ServerOptions,
    kw: &str,
    value: &str,
    server: &str,
) -> Result<(), KwError> {
    match kw {
        "check" => o.check = Some(true),
        "no-check" => o.check = Some(false),
        "inter" => o.inter = Some(check_delay(value, kw, server)?),
        "fastinter" => o.fastinter = Some(check_delay(value, kw, server)?),
        "downinter" => o.downinter = Some(check_delay(value, kw, server)?),
        "rise" => o.rise = Some(positive_int(value, kw)?),
        "fall" => o.fall = Some(positive_int(value, kw)?),
        "weight" => {
            let w = units::atol(value);
            if !(0..=256).contains(&w) {
                return Err(KwError::Alert(format!("weight of server {server} is not within 0 and 256 ({w}).")));
            }
            o.weight = Some(w as u32);
        }
        "maxconn" => o.maxconn = Some(units::atol(value).max(0) as u32),
        "minconn" => o.minconn = Some(units::atol(value).max(0) as u32),
        "maxqueue" => o.maxqueue = Some(units::atol(value).max(0) as u32),
        "backup" => o.backup = Some(true),
        "no-backup" => o.backup = Some(false),
        "disabled" => o.disabled = Some(true),
        "enabled" => o.disabled = Some(false),
        "port" => {
            let p = units::atol(value);
            if value.is_empty() || !(1..=65535).contains(&p) {
                return Err(KwError::Alert(format!("'{kw}' expects a port number as argument.")));
            }
            o.check_port = Some(p as u16);
        }
        "addr" => {
            if value.is_empty() {
                return Err(KwError::Alert(format!("'{kw}' expects <ipv4|ipv6> as argument.")));
            }
            o.check_addr = Some(value.to_string());
        }
        "slowstart" => match parse_time(value, TimeUnit::Millis) {
            Ok(t) => o.slowstart = Some(units::millis(t.value)),
            Err(TimeError::Unexpected(_, c)) => {
                return Err(KwError::Alert(format!("unexpected character '{c}' in 'slowstart' argument of server {server}.")))
            }
            Err(_) => {
                return Err(KwError::Alert(format!("overflow in argument <{value}> to <{kw}> of server {server}, maximum value is 2147483647 ms (~24.8 days).")))
            }
        },
        "send-proxy" => o.send_proxy = Some(true),
        "no-send-proxy" => o.send_proxy = Some(false),
        "send-proxy-v2" => o.send_proxy_v2 = Some(true),
        "no-send-proxy-v2" => o.send_proxy_v2 = Some(false),
        "ssl" => o.ssl = Some(true),
        "no-ssl" => o.ssl = Some(false),
        "check-ssl" => o.check_ssl = Some(true),
        "no-check-ssl" => o.check_ssl = Some(false),
        "verify" => {
            if !matches!(value, "none" | "required") {
                return Err(KwError::Alert(format!("'{kw}' : unknown verify method '{value}', only 'none' and 'required' are supported")));
            }
            o.verify = Some(value.to_string());
        }
        "sni" => o.sni = Some(value.to_string()),
        "ca-file" => o.ca_file = Some(value.into()),
        "cookie" => {
            if value.is_empty() {
                return Err(KwError::Alert(format!("'{kw}' expects <value> as argument.\n")));
            }
            o.cookie = Some(value.to_string());
        }
        "id" => {
            let v = units::atol(value);
            if v <= 0 {
                return Err(KwError::Alert("custom id has to be > 0".into()));
            }
            o.id = Some(v as u32);
        }
        "init-addr" => o.init_addr = Some(value.to_string()),
        "resolvers" => o.resolvers = Some(value.to_string()),
        "agent-check" => o.agent_check = Some(true),
        "no-agent-check" => o.agent_check = Some(false),
        _ => return Err(KwError::Unmodelled),
    }
    let _ = KwError::Warn;
    Ok(())
}

/// A server address: `IP[:port]`, `[v6][:port]`, `name[:port]`, `:port`, `+N`/`-N`
/// offsets, `unix@`/`/path`, `abns@`. Names are resolved later.
pub(crate) fn parse_server_address(s: &str) -> Result<ServerAddress, String> {
    if s.starts_with('/') || s.starts_with("unix@") {
        return Ok(ServerAddress {
            host: ServerHost::Unix(s.strip_prefix("unix@").unwrap_or(s).into()),
            port: ServerPort::Same,
        });
    }
    if let Some(name) = s.strip_prefix("abns@") {
        return Ok(ServerAddress {
            host: ServerHost::Abstract(name.to_string()),
            port: ServerPort::Same,
        });
    }
    let rest = ["ipv4@", "ipv6@", "tcp@", "tcp4@", "tcp6@"]
        .iter()
        .find_map(|p| s.strip_prefix(p))
        .unwrap_or(s);
    let bytes = rest.as_bytes();
    let mut cut = None;
    for i in (1..bytes.len()).rev() {
        if bytes[i] == b']' {
            break;
        }
        if bytes[i] == b':' {
            cut = Some(i);
            break;
        }
    }
    if cut.is_none() && bytes.first() == Some(&b':') {
        cut = Some(0);
    }
    // A bare IPv6 address without brackets has several colons: the last one would be
    // taken as a port separator by HAProxy only if what follows is a port.
    let (host, port_text) = match cut {
        Some(c) => (&rest[..c], Some(&rest[c + 1..])),
        None => (rest, None),
    };
    let port = match port_text {
        None | Some("") => ServerPort::Same,
        Some(p) => {
            let first = p.as_bytes()[0];
            if first.is_ascii_digit() {
                if p.contains('-') {
                    return Err(format!("port range not permitted here in '{s}'"));
                }
                let v = units::atoi(p);
                if !(0..=65535).contains(&v) {
                    return Err(format!("invalid port '{p}'"));
                }
                ServerPort::Fixed(v as u16)
            } else if first == b'+' {
                ServerPort::Offset(units::atoi(&p[1..]))
            } else if first == b'-' {
                ServerPort::Offset(-units::atoi(&p[1..]))
            } else {
                return Err(format!(
                    "invalid character '{}' in port number '{p}' in '{s}'\n",
                    first as char
                ));
            }
        }
    };
    let host = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    let host = if host.is_empty() || host == "*" {
        ServerHost::Ip(IpAddr::from([0, 0, 0, 0]))
    } else if let Ok(ip) = host.parse::<IpAddr>() {
        ServerHost::Ip(ip)
    } else {
        ServerHost::Name(host.to_string())
    };
    Ok(ServerAddress { host, port })
}
