//! defaults / frontend / backend / listen: `cfg_parse_listen()` (src/cfgparse-listen.c)
//! and the registered proxy keywords (`timeout`, `errorfile`, `tcp-check`,
//! `http-check`, …), with `defaults` inheritance: a proxy starts as a copy of the last
//! anonymous defaults above it, or of `defaults NAME` given by `from NAME`.

use std::path::PathBuf;

use super::{err, Current, Kwm, Line, Parser};
use crate::errorfile;
use crate::model::{
    Balance, Cookie, Defaults, Directive, ErrorFile, Facility, ForwardFor, HashType, HttpChk,
    HttpConnectionMode, HttpLog, LogAddress, LogLevel, LogTarget, Mode, Proxy, ProxyKind,
    ProxySettings, StatsAuth, FACILITIES, LOG_LEVELS,
};
use crate::registry::registry;
use crate::suggest::best_match;
use crate::units::{self, parse_time, TimeError, TimeUnit};

/// `common_kw_list` of src/cfgparse-listen.c.
pub(crate) const LISTEN_COMMON_KW: &[&str] = &[
    "listen",
    "frontend",
    "backend",
    "defaults",
    "server",
    "default-server",
    "server-template",
    "bind",
    "monitor-net",
    "monitor-uri",
    "mode",
    "id",
    "description",
    "disabled",
    "enabled",
    "bind-process",
    "acl",
    "dynamic-cookie-key",
    "cookie",
    "email-alert",
    "persist",
    "appsession",
    "load-server-state-from-file",
    "server-state-file-name",
    "max-session-srv-conns",
    "capture",
    "retries",
    "http-request",
    "http-response",
    "http-after-response",
    "http-send-name-header",
    "block",
    "redirect",
    "use_backend",
    "use-server",
    "force-persist",
    "ignore-persist",
    "force-persist",
    "stick-table",
    "stick",
    "stats",
    "option",
    "default_backend",
    "http-reuse",
    "monitor",
    "transparent",
    "maxconn",
    "backlog",
    "fullconn",
    "dispatch",
    "balance",
    "hash-type",
    "hash-balance-factor",
    "unique-id-format",
    "unique-id-header",
    "log-format",
    "log-format-sd",
    "log-tag",
    "log",
    "source",
    "usesrc",
    "error-log-format",
];

/// `common_options` of src/cfgparse-listen.c, after `cfg_opts` and `cfg_opts2`.
pub(crate) const COMMON_OPTIONS: &[&str] = &[
    "httpclose",
    "http-server-close",
    "http-keep-alive",
    "redispatch",
    "httplog",
    "tcplog",
    "tcpka",
    "httpchk",
    "ssl-hello-chk",
    "smtpchk",
    "pgsql-check",
    "redis-check",
    "mysql-check",
    "ldap-check",
    "spop-check",
    "tcp-check",
    "external-check",
    "forwardfor",
    "original-to",
];

/// `cfg_opts` then `cfg_opts2` names, in HAProxy's table order (for hints).
pub(crate) const CFG_OPTS_ORDER: &[&str] = &[
    "abortonclose",
    "allbackups",
    "checkcache",
    "clitcpka",
    "contstats",
    "dontlognull",
    "http-buffer-request",
    "http-ignore-probes",
    "idle-close-on-response",
    "prefer-last-server",
    "logasap",
    "nolinger",
    "persist",
    "srvtcpka",
    "transparent",
    "splice-request",
    "splice-response",
    "splice-auto",
    "accept-invalid-http-request",
    "accept-invalid-http-response",
    "dontlog-normal",
    "log-separate-errors",
    "log-health-checks",
    "socket-stats",
    "tcp-smart-accept",
    "tcp-smart-connect",
    "independent-streams",
    "http-use-proxy-header",
    "http-pretend-keepalive",
    "http-no-delay",
];

/// Removed directives HAProxy 2.6 still recognises only to refuse them, and what replaced
/// them (`The '%s' directive is not supported anymore since HAProxy 2.1. ...`).
pub(crate) const REMOVED_REQ_RSP: &[(&str, &str)] = &[
    ("cliexp", " Use 'http-request replace-path', 'http-request replace-uri' or 'http-request replace-header' instead."),
    ("reqdel", " Use 'http-request del-header' instead."),
    ("reqdeny", " Use 'http-request deny' instead."),
    ("reqallow", " Use 'http-request allow' instead."),
    ("reqtarpit", " Use 'http-request tarpit' instead."),
    ("reqirep", " Use 'http-request replace-path', 'http-request replace-uri' or 'http-request replace-header' instead."),
    ("reqidel", " Use 'http-request del-header' instead."),
    ("reqideny", " Use 'http-request deny' instead."),
    ("reqiallow", " Use 'http-request allow' instead."),
    ("reqitarpit", " Use 'http-request tarpit' instead."),
    ("reqadd", " Use 'http-request add-header' instead."),
    ("srvexp", " Use 'http-response replace-header' instead."),
    ("rspdel", " Use 'http-response del-header' instead."),
    ("rspdeny", " Use 'http-response deny' instead."),
    ("rspirep", " Use 'http-response replace-header' instead."),
    ("rspidel", " Use 'http-response del-header' instead."),
    ("rspideny", " Use 'http-response deny' instead."),
    ("rspadd", " Use 'http-response add-header' instead."),
    ("reqrep", " Use 'http-request replace-path', 'http-request replace-uri' or 'http-request replace-header' instead."),
    ("rsprep", " Use 'http-response replace-header' instead."),
];

/// Proxy keywords HAProxy accepts that ha-compat keeps as words, with a warning.
pub(crate) const UNMODELLED_PROXY: &[&str] = &[
    "dynamic-cookie-key",
    "email-alert",
    "persist",
    "load-server-state-from-file",
    "server-state-file-name",
    "max-session-srv-conns",
    "http-send-name-header",
    "use-server",
    "force-persist",
    "ignore-persist",
    "stick-table",
    "stick",
    "monitor",
    "transparent",
    "dispatch",
    "hash-balance-factor",
    "unique-id-format",
    "unique-id-header",
    "log-format-sd",
    "error-log-format",
    "source",
    "usesrc",
    "server-template",
    "bind-process",
    "compression",
    "declare",
    "filter",
    "http-error",
    "max-keep-alive-queue",
    "rate-limit",
    "retry-on",
    "external-check",
    "errorloc",
    "errorloc302",
    "errorloc303",
    "clitcpka-cnt",
    "clitcpka-idle",
    "clitcpka-intvl",
    "srvtcpka-cnt",
    "srvtcpka-idle",
    "srvtcpka-intvl",
    "use-fcgi-app",
    "tcp-response",
];

/// Of those, the ones that change security or routing: refused until implemented.
pub(crate) const REFUSED_PROXY: &[&str] = &[
    "use-server",
    "force-persist",
    "ignore-persist",
    "stick",
    "filter",
    "tcp-response",
    "use-fcgi-app",
];

/// `proxy_preset_defaults()`: what a proxy has before any `defaults`.
pub(crate) fn preset_defaults() -> ProxySettings {
    ProxySettings::default()
}

impl Parser<'_> {
    fn current_kind(&self) -> Option<ProxyKind> {
        match self.current {
            Current::Proxy(i) => self.config.proxies.get(i).map(|p| p.kind),
            _ => None,
        }
    }

    fn is_defaults(&self) -> bool {
        matches!(self.current, Current::Defaults(_))
    }

    pub(super) fn settings_mut(&mut self) -> Option<&mut ProxySettings> {
        match self.current {
            Current::Proxy(i) => self.config.proxies.get_mut(i).map(|p| &mut p.settings),
            Current::Defaults(i) => self.defaults.get_mut(i).map(|d| &mut d.settings),
            Current::None => None,
        }
    }

    pub(super) fn proxy_mut(&mut self) -> Option<&mut Proxy> {
        match self.current {
            Current::Proxy(i) => self.config.proxies.get_mut(i),
            _ => None,
        }
    }

    /// `proxy_type_str()`: defaults, frontend, backend, or "proxy" for listen.
    pub(super) fn proxy_type(&self) -> &'static str {
        self.current_kind().map_or("defaults", ProxyKind::type_str)
    }

    pub(super) fn proxy_name(&self) -> String {
        match self.current {
            Current::Proxy(i) => self.config.proxies.get(i).map(|p| p.name.clone()),
            Current::Defaults(i) => self.defaults.get(i).map(|d| d.name.clone()),
            Current::None => None,
        }
        .unwrap_or_default()
    }

    pub(super) fn has_fe(&self) -> bool {
        self.current_kind().is_none_or(ProxyKind::has_frontend)
    }

    pub(super) fn has_be(&self) -> bool {
        self.current_kind().is_none_or(ProxyKind::has_backend)
    }

    /// `warnifnotcap()`: true (and a warning) when the proxy lacks the capability.
    pub(super) fn warn_if_not_cap(&mut self, line: &Line, fe: bool, be: bool, arg: &str) -> bool {
        let ok = (fe && self.has_fe()) || (be && self.has_be());
        if ok {
            return false;
        }
        let msg = match (fe, be) {
            (false, true) => "no backend",
            (true, false) => "no frontend",
            _ => "neither frontend nor backend",
        };
        let text = format!(
            "'{arg}' ignored because {} '{}' has {msg} capability.",
            self.proxy_type(),
            self.proxy_name()
        );
        self.warn(line.span, text);
        true
    }

    fn keep_proxy(&mut self, line: &Line) {
        let at = self.location(line.span);
        if let Some(s) = self.settings_mut() {
            s.unmodelled.push(Directive {
                at,
                words: line.words.clone(),
            });
        }
    }

    pub(super) fn proxy_line(&mut self, line: &Line) -> u32 {
        match line.kw() {
            "listen" | "frontend" | "backend" | "defaults" => return self.proxy_header(line),
            _ => {}
        }
        if self.current == Current::None {
            self.alert(line.span, "'listen' or 'defaults' expected.");
            return err::ALERT | err::FATAL;
        }
        let kw = line.kw().to_string();
        match kw.as_str() {
            "server" | "default-server" => self.server_line(line),
            "bind" => self.bind_line(line),
            "mode" => {
                if self.too_many_args(line, 1) {
                    return err::ALERT | err::FATAL;
                }
                let mode = match line.arg(1) {
                    "http" => Mode::Http,
                    "tcp" => Mode::Tcp,
                    "health" => {
                        self.alert(line.span, "'mode health' doesn't exist anymore. Please use 'http-request return status 200' instead.");
                        return err::ALERT | err::FATAL;
                    }
                    other => {
                        self.alert(line.span, format!("unknown proxy mode '{other}'."));
                        return err::ALERT | err::FATAL;
                    }
                };
                if let Some(s) = self.settings_mut() {
                    s.mode = mode;
                }
                0
            }
            "id" => {
                if self.is_defaults() {
                    self.alert_tight(
                        line.span,
                        format!("'{kw}' not allowed in 'defaults' section."),
                    );
                    return err::ALERT | err::FATAL;
                }
                if self.too_many_args(line, 1) {
                    return err::ALERT | err::FATAL;
                }
                if !line.has(1) {
                    self.alert_tight(line.span, format!("'{kw}' expects an integer argument."));
                    return err::ALERT | err::FATAL;
                }
                let id = units::atol(line.arg(1));
                if id <= 0 {
                    self.alert_tight(line.span, "custom id has to be > 0.");
                    return err::ALERT | err::FATAL;
                }
                let me = self.proxy_name();
                if let Some(other) = self
                    .config
                    .proxies
                    .iter()
                    .find(|p| p.id == Some(id as u32) && p.name != me)
                {
                    let text = format!(
                        "{} {me} reuses same custom id as {} {} (declared at {}:{}).",
                        self.proxy_type(),
                        other.kind.type_str(),
                        other.name,
                        other.at.file,
                        other.at.line
                    );
                    self.alert_tight(line.span, text);
                    return err::ALERT | err::FATAL;
                }
                if let Some(p) = self.proxy_mut() {
                    p.id = Some(id as u32);
                }
                0
            }
            "description" => {
                if self.is_defaults() {
                    self.alert_tight(
                        line.span,
                        format!("'{kw}' not allowed in 'defaults' section."),
                    );
                    return err::ALERT | err::FATAL;
                }
                if !line.has(1) {
                    self.alert_tight(line.span, format!("'{kw}' expects a string argument."));
                    return err::ALERT | err::FATAL;
                }
                let text = line.words[1..].join(" ");
                if let Some(s) = self.settings_mut() {
                    s.description = Some(text);
                }
                0
            }
            "disabled" | "enabled" => {
                if self.too_many_args(line, 0) {
                    return err::ALERT | err::FATAL;
                }
                let disabled = kw == "disabled";
                if let Some(p) = self.proxy_mut() {
                    p.disabled = disabled;
                }
                0
            }
            "acl" => self.acl_line(line),
            "use_backend" => self.use_backend_line(line),
            "default_backend" => {
                // Without the frontend capability HAProxy warns and still records it.
                let code = if self.warn_if_not_cap(line, true, false, "default_backend") {
                    err::WARN
                } else {
                    0
                };
                if !line.has(1) {
                    self.alert(line.span, format!("'{kw}' expects a backend name."));
                    return err::ALERT | err::FATAL;
                }
                if self.too_many_args(line, 1) {
                    return code | err::ALERT | err::FATAL;
                }
                let name = line.arg(1).to_string();
                if let Some(s) = self.settings_mut() {
                    s.default_backend = Some(name);
                }
                code
            }
            "option" => self.option_line(line),
            "timeout" | "contimeout" | "clitimeout" | "srvtimeout" => self.timeout_line(line),
            "retries" => {
                let mut code = 0;
                if self.warn_if_not_cap(line, false, true, "retries") {
                    code |= err::WARN;
                }
                if self.too_many_args(line, 1) {
                    return code | err::ALERT | err::FATAL;
                }
                if !line.has(1) {
                    self.alert(
                        line.span,
                        format!("'{kw}' expects an integer argument (dispatch counts for one)."),
                    );
                    return code | err::ALERT | err::FATAL;
                }
                let v = units::atol(line.arg(1)).max(0) as u32;
                if let Some(s) = self.settings_mut() {
                    s.retries = Some(v);
                }
                code
            }
            "maxconn" | "backlog" | "fullconn" => {
                let mut code = 0;
                let fe = kw != "fullconn";
                if self.warn_if_not_cap(line, fe, !fe, &kw) {
                    code |= err::WARN;
                }
                if self.too_many_args(line, 1) {
                    return code | err::ALERT | err::FATAL;
                }
                if !line.has(1) {
                    self.alert(line.span, format!("'{kw}' expects an integer argument."));
                    return code | err::ALERT | err::FATAL;
                }
                let v = units::atol(line.arg(1)).max(0) as u32;
                if let Some(s) = self.settings_mut() {
                    match kw.as_str() {
                        "maxconn" => s.maxconn = Some(v),
                        "backlog" => s.backlog = Some(v),
                        _ => s.fullconn = Some(v),
                    }
                }
                code
            }
            "balance" => self.balance_line(line),
            "hash-type" => self.hash_type_line(line),
            "log" => {
                if line.kwm == Kwm::No {
                    if line.has(1) {
                        self.alert(
                            line.span,
                            format!("{kw} : 'no log' does not expect arguments"),
                        );
                        return err::ALERT | err::FATAL;
                    }
                    if let Some(s) = self.settings_mut() {
                        s.logs = Default::default();
                    }
                    return 0;
                }
                if line.arg(1) == "global" && !line.has(2) {
                    if let Some(s) = self.settings_mut() {
                        s.logs.global = true;
                    }
                    return 0;
                }
                match parse_log_target(self, line, false) {
                    Ok(Some(t)) if !self.log_address_resolves(&t.address) => {
                        let raw = line.arg(1).to_string();
                        let shown = if raw.contains(':') {
                            raw.clone()
                        } else {
                            format!("{raw}:514")
                        };
                        let host = raw.split(':').next().unwrap_or("").to_string();
                        self.alert(
                            line.span,
                            format!("{kw} : invalid address: '{host}' in '{shown}'\n"),
                        );
                        err::ALERT | err::FATAL
                    }
                    Ok(Some(t)) => {
                        if let Some(s) = self.settings_mut() {
                            s.logs.targets.push(t);
                        }
                        0
                    }
                    Ok(None) => 0,
                    Err(msg) => {
                        self.alert(line.span, format!("{kw} : {msg}"));
                        err::ALERT | err::FATAL
                    }
                }
            }
            "log-format" => {
                if !line.has(1) {
                    self.alert(line.span, format!("{kw} expects an argument."));
                    return err::ALERT | err::FATAL;
                }
                if line.has(2) {
                    self.alert(
                        line.span,
                        format!("{kw} expects only one argument, don't forget to escape spaces!"),
                    );
                    return err::ALERT | err::FATAL;
                }
                let mut code = 0;
                if !self.has_fe() {
                    let text = format!(
                        "backend '{}' : 'log-format' directive is ignored in backends.",
                        self.proxy_name()
                    );
                    self.warn(line.span, text);
                    code |= err::WARN;
                }
                let fmt = line.arg(1).to_string();
                if let Some(s) = self.settings_mut() {
                    s.log_format = Some(fmt);
                }
                code
            }
            "log-tag" => {
                if self.too_many_args(line, 1) {
                    return err::ALERT | err::FATAL;
                }
                if !line.has(1) {
                    self.alert(
                        line.span,
                        format!("'{kw}' expects a tag for use in syslog."),
                    );
                    return err::ALERT | err::FATAL;
                }
                let tag = line.arg(1).to_string();
                if let Some(s) = self.settings_mut() {
                    s.log_tag = Some(tag);
                }
                0
            }
            "errorfile" => self.errorfile_line(line),
            "errorloc" | "errorloc302" | "errorloc303" => {
                if !line.has(2) {
                    self.alert(
                        line.span,
                        format!("{kw} : expects <status_code> and <url> as arguments.\n"),
                    );
                    return err::ALERT | err::FATAL;
                }
                let status = units::atoi(line.arg(1));
                if !errorfile::HANDLED_STATUS_CODES
                    .iter()
                    .any(|&c| i32::from(c) == status)
                {
                    self.alert(
                        line.span,
                        format!("{kw} : status code '{status}' not handled."),
                    );
                    return err::ALERT | err::FATAL;
                }
                self.keep_proxy(line);
                self.unmodelled(line, &kw);
                0
            }
            "capture" => {
                let mut code = 0;
                if self.warn_if_not_cap(line, true, false, &kw) {
                    code |= err::WARN;
                }
                let what = line.arg(1).to_string();
                if self.is_defaults()
                    && (what == "request" || what == "response" || what == "cookie")
                {
                    self.alert(
                        line.span,
                        format!("'{kw} {what}' not allowed in 'defaults' section."),
                    );
                    return err::ALERT | err::FATAL;
                }
                let ok = match what.as_str() {
                    "cookie" => line.arg(3) == "len" && line.has(4),
                    "request" | "response" => {
                        line.arg(2) == "header"
                            && line.has(3)
                            && line.arg(4) == "len"
                            && line.has(5)
                    }
                    _ => {
                        self.alert(
                            line.span,
                            format!(
                                "'{kw}' expects 'cookie' or 'request header' or 'response header'."
                            ),
                        );
                        return err::ALERT | err::FATAL;
                    }
                };
                if !ok {
                    let text = if what == "cookie" {
                        format!("'{kw}' expects 'cookie' <cookie_name> 'len' <len>.")
                    } else {
                        format!("'{kw} {what}' expects 'header' <header_name> 'len' <len>.")
                    };
                    self.alert(line.span, text);
                    return err::ALERT | err::FATAL;
                }
                // Kept as words for the engine (`%hr`/`%hs`/`%CC`/`%CS`), which acts on
                // all three forms: no "does not act on it" notice.
                self.keep_proxy(line);
                code
            }
            "errorfiles" => {
                if !line.has(1) {
                    self.alert(line.span, format!("{kw} : expects <name> as argument."));
                    return err::ALERT | err::FATAL;
                }
                let name = line.arg(1).to_string();
                if let Some(s) = self.settings_mut() {
                    s.errorfiles_from.push(name);
                }
                0
            }
            "stats" => self.stats_line(line),
            "cookie" => self.cookie_line(line),
            "http-request" | "http-response" | "http-after-response" | "redirect" => {
                self.http_rule_line(line)
            }
            "tcp-request" => self.tcp_request_line(line),
            "tcp-check" => self.tcp_check_line(line),
            "http-check" => self.http_check_line(line),
            "monitor-uri" => {
                let mut code = 0;
                if self.warn_if_not_cap(line, true, false, "monitor-uri") {
                    code |= err::WARN;
                }
                if self.too_many_args(line, 1) {
                    return code | err::ALERT | err::FATAL;
                }
                if !line.has(1) {
                    self.alert(line.span, format!("'{kw}' expects an URI."));
                    return code | err::ALERT | err::FATAL;
                }
                let uri = line.arg(1).to_string();
                if let Some(s) = self.settings_mut() {
                    s.monitor_uri = Some(uri);
                }
                code
            }
            "http-reuse" => {
                let mut code = 0;
                if self.warn_if_not_cap(line, false, true, "http-reuse") {
                    code |= err::WARN;
                }
                if !matches!(line.arg(1), "never" | "safe" | "aggressive" | "always") {
                    self.alert(
                        line.span,
                        format!("'{kw}' only supports 'never', 'safe', 'aggressive', 'always'."),
                    );
                    return code | err::ALERT | err::FATAL;
                }
                if self.too_many_args(line, 1) {
                    return code | err::ALERT | err::FATAL;
                }
                let v = line.arg(1).to_string();
                if let Some(s) = self.settings_mut() {
                    s.http_reuse = Some(v);
                }
                code
            }
            "redispatch" => {
                // Removed in 2.1 with an exact modern equivalent: read as `option redispatch`
                // (old tutorials), where HAProxy 2.6 refuses it.
                if let Some(s) = self.settings_mut() {
                    s.options.flags.insert("redispatch".into(), true);
                }
                self.warn(line.span, format!("ha-compat: '{kw}' is accepted as 'option redispatch'; HAProxy 2.6 refuses it (keyword '{kw}' directive is not supported anymore since HAProxy 2.1. Use 'option redispatch'.)."));
                err::WARN
            }
            "monitor-net" => {
                self.alert(line.span, format!("'monitor-net' doesn't exist anymore. Please use 'http-request return status 200 if {{ src {} }}' instead.", line.arg(1)));
                err::ALERT | err::FATAL
            }
            "appsession" => {
                self.alert(
                    line.span,
                    format!("'{kw}' is not supported anymore since HAProxy 1.6."),
                );
                err::ALERT | err::FATAL
            }
            "block" => {
                self.alert(line.span, format!("The '{kw}' directive is not supported anymore since HAProxy 2.1. Use 'http-request deny' which uses the exact same syntax."));
                err::ALERT | err::FATAL
            }
            "grace" => {
                self.alert_tight(
                    line.span,
                    format!(
                        "the '{kw}' keyword is not supported any more since HAProxy version 2.5."
                    ),
                );
                err::ALERT | err::FATAL
            }
            // Checked as cfgparse-listen.c does; kept as words for `server_state::plan`.
            "load-server-state-from-file" => {
                let mut code = 0;
                if self.warn_if_not_cap(line, false, true, &kw) {
                    code |= err::WARN;
                }
                if !matches!(line.arg(1), "global" | "local" | "none") {
                    let text = format!(
                        "'{kw}' expects 'global', 'local' or 'none'. Got '{}'",
                        line.arg(1)
                    );
                    self.alert(line.span, text);
                    return code | err::ALERT | err::FATAL;
                }
                self.keep_proxy(line);
                code
            }
            "server-state-file-name" => {
                let mut code = 0;
                if self.warn_if_not_cap(line, false, true, &kw) {
                    code |= err::WARN;
                }
                if self.too_many_args(line, 1) {
                    return code | err::ALERT | err::FATAL;
                }
                self.keep_proxy(line);
                code
            }
            other => {
                if let Some((_, hint)) = REMOVED_REQ_RSP.iter().find(|(k, _)| *k == other) {
                    let text = if matches!(other, "reqpass" | "reqipass") {
                        format!("The '{other}' not supported anymore since HAProxy 2.1.")
                    } else {
                        format!("The '{other}' directive is not supported anymore since HAProxy 2.1.{hint}")
                    };
                    self.alert(line.span, text);
                    return err::ALERT | err::FATAL;
                }
                if matches!(other, "reqpass" | "reqipass") {
                    self.alert(
                        line.span,
                        format!("The '{other}' not supported anymore since HAProxy 2.1."),
                    );
                    return err::ALERT | err::FATAL;
                }
                let reg = registry();
                if UNMODELLED_PROXY.contains(&other) || reg.listen.iter().any(|k| k == other) {
                    if REFUSED_PROXY.contains(&other) {
                        self.alert(line.span, format!("ha-compat: '{other}' changes routing or security and is not implemented yet, so it is refused rather than ignored (see docs/compatibility.md)."));
                        return err::ALERT | err::FATAL;
                    }
                    self.keep_proxy(line);
                    if !crate::server_state::KEYWORDS.contains(&other) {
                        self.unmodelled(line, other);
                    }
                    return 0;
                }
                let candidates = crate::suggest::haproxy_candidates("listen").iter().copied();
                let section = self.section_keyword();
                match best_match(other, candidates) {
                    Some(best) => self.alert(line.span, format!("unknown keyword '{other}' in '{section}' section; did you mean '{best}' maybe ?")),
                    None => self.alert(line.span, format!("unknown keyword '{other}' in '{section}' section")),
                }
                err::ALERT | err::FATAL
            }
        }
    }

    /// The section keyword HAProxy names in "unknown keyword" messages (`cursection`).
    fn section_keyword(&self) -> &'static str {
        match self.current {
            Current::Defaults(_) => "defaults",
            Current::Proxy(i) => self
                .config
                .proxies
                .get(i)
                .map_or("listen", |p| p.kind.keyword()),
            Current::None => "listen",
        }
    }

    /// A `listen`/`frontend`/`backend`/`defaults` line.
    fn proxy_header(&mut self, line: &Line) -> u32 {
        let kw = line.kw().to_string();
        let mut code = 0u32;
        let is_defaults = kw == "defaults";
        let kind = match kw.as_str() {
            "listen" => Some(ProxyKind::Listen),
            "frontend" => Some(ProxyKind::Frontend),
            "backend" => Some(ProxyKind::Backend),
            _ => None,
        };
        let mut bind_on_line: Option<String> = None;
        if let Some(kind) = kind {
            if !line.has(1) {
                self.alert(line.span, format!("'{kw}' expects an <id> argument"));
                self.current = Current::None;
                return err::ALERT | err::ABORT;
            }
            let name = line.arg(1).to_string();
            if let Some(c) = super::invalid_char(&name) {
                self.alert(
                    line.span,
                    format!("character '{c}' is not permitted in '{kw}' name '{name}'."),
                );
                code |= err::ALERT | err::FATAL;
            }
            let clash = self.config.proxies.iter().find(|p| {
                p.name == name
                    && ((kind.has_frontend() && p.kind.has_frontend())
                        || (kind.has_backend() && p.kind.has_backend()))
            });
            if let Some(other) = clash {
                let text = format!(
                    "{} '{name}' has the same name as {} '{}' declared at {}:{}.",
                    kind.type_str(),
                    other.kind.type_str(),
                    other.name,
                    other.at.file,
                    other.at.line
                );
                self.push(crate::diag::at(
                    conf_diag::Severity::Error,
                    crate::diag::PARSING_CAPITAL,
                    line.span,
                    text,
                ));
                code |= err::ALERT | err::FATAL;
            }
            let extra_bad = line.has(2) && (!line.has(3) || line.arg(2) != "from");
            let address_on_line = extra_bad && !line.has(3) && line.arg(2) != "from";
            if extra_bad || line.has(4) {
                if !extra_bad {
                    self.alert(
                        line.span,
                        format!(
                            "'{kw}' cannot handle unexpected argument '{}'.",
                            line.arg(4)
                        ),
                    );
                    code |= err::ALERT | err::FATAL;
                }
                if kind.has_frontend() && address_on_line {
                    // `listen NAME ADDR:PORT`: removed in HAProxy 1.5's successors, refused
                    // by 2.6. ha-compat accepts it as `bind ADDR:PORT` (seed 002, 004).
                    bind_on_line = Some(line.arg(2).to_string());
                    self.warn(line.span, format!("ha-compat: the listening address on the '{kw}' line is accepted as 'bind {}'; HAProxy 2.6 refuses it ('please use the 'bind' keyword for listening addresses'): move it to a 'bind' line.", line.arg(2)));
                    code |= err::WARN;
                } else {
                    if kind.has_frontend() {
                        self.alert(
                            line.span,
                            "please use the 'bind' keyword for listening addresses.",
                        );
                    }
                    self.current = Current::None;
                    return code | err::ALERT | err::FATAL;
                }
            }
        }
        // Which defaults this section starts from.
        let (name, from_at) = if is_defaults {
            if line.arg(1) == "from" && line.has(2) && !line.has(3) {
                (String::new(), 1)
            } else {
                (line.arg(1).to_string(), 2)
            }
        } else {
            (line.arg(1).to_string(), 2)
        };
        if is_defaults
            && (line.has(from_at) && line.arg(from_at) != "from" || line.has(from_at + 2))
        {
            let extra = if line.arg(from_at) != "from" {
                from_at
            } else {
                from_at + 2
            };
            self.alert(
                line.span,
                format!(
                    "'{kw}' cannot handle unexpected argument '{}'.",
                    line.arg(extra)
                ),
            );
            return code | err::ALERT | err::FATAL;
        }
        let mut parent = if is_defaults {
            None
        } else {
            self.last_defaults
        };
        if line.arg(from_at) == "from" && bind_on_line.is_none() {
            let wanted = line.arg(from_at + 1).to_string();
            let found: Vec<usize> = self
                .defaults
                .iter()
                .enumerate()
                .filter(|(_, d)| d.name == wanted)
                .map(|(i, _)| i)
                .collect();
            let Some(&first) = found.first() else {
                let what = kind.map_or("defaults", ProxyKind::type_str);
                self.alert(
                    line.span,
                    format!("defaults section '{wanted}' not found for {what} '{name}'."),
                );
                self.current = Current::None;
                return code | err::ALERT | err::ABORT;
            };
            if found.len() > 1 {
                let (a, b) = (&self.defaults[found[0]].at, &self.defaults[found[1]].at);
                let what = kind.map_or("defaults", ProxyKind::type_str);
                let text = format!("ambiguous defaults section name '{wanted}' referenced by {what} '{name}' exists at least at {}:{} and {}:{}.", a.file, a.line, b.file, b.line);
                self.alert(line.span, text);
                code |= err::ALERT | err::FATAL;
            }
            if let Some(c) = super::invalid_char(&wanted) {
                let d = &self.defaults[first];
                let text = format!("character '{c}' is not permitted in defaults section name '{wanted}' when designated by its name (section found at {}:{}).", d.at.file, d.at.line);
                self.alert(line.span, text);
                code |= err::ALERT | err::FATAL;
            }
            parent = Some(first);
            if !self.explicit_refs.contains(&first) {
                self.explicit_refs.push(first);
            }
        } else if let Some(p) = parent {
            if !self.implicit_refs.contains(&p) {
                self.implicit_refs.push(p);
            }
        }
        if let Some(p) = parent {
            if self.explicit_refs.contains(&p) && self.implicit_refs.contains(&p) {
                let d = &self.defaults[p];
                let text = format!("defaults section '{}' (declared at {}:{}) is explicitly referenced by another proxy and implicitly used here. To avoid any ambiguity don't mix both usage. Add a last defaults section not explicitly used or always use explicit references.", d.name, d.at.file, d.at.line);
                self.alert(line.span, text);
                code |= err::WARN;
            }
        }
        let settings = parent
            .and_then(|p| self.defaults.get(p))
            .map(|d| d.settings.clone())
            .unwrap_or_else(|| self.preset.clone());
        let defaults_from = parent
            .and_then(|p| self.defaults.get(p))
            .map(|d| d.name.clone());
        if let Some(p) = parent {
            let d = &self.defaults[p];
            let has_rules = !d.settings.http_request.is_empty()
                || !d.settings.http_response.is_empty()
                || !d.settings.http_after_response.is_empty()
                || !d.settings.tcp_request.is_empty();
            if has_rules {
                let (file, dline) = (d.at.file.clone(), d.at.line);
                let d_name = d.name.clone();
                if is_defaults {
                    self.alert_tight(line.span, format!("a defaults section cannot inherit from a defaults section defining TCP/HTTP rules (defaults section at {file}:{dline})."));
                    return code | err::ALERT | err::ABORT;
                }
                if kind == Some(ProxyKind::Listen) {
                    self.alert_tight(line.span, "a listen section cannot inherit from a defaults section defining TCP/HTTP rules.");
                    return code | err::ALERT | err::ABORT;
                }
                if let Some(k) = kind {
                    let used_by_other_kind = self.config.proxies.iter().any(|px| {
                        px.defaults_from.as_deref() == Some(d_name.as_str()) && px.kind != k
                    });
                    if used_by_other_kind {
                        self.alert_tight(line.span, format!("frontends and backends cannot inherit from the same defaults section if it defines TCP/HTTP rules (defaults section at {file}:{dline})."));
                        return code | err::ALERT | err::ABORT;
                    }
                }
            }
        }
        let at = self.location(line.span);
        if is_defaults {
            self.defaults.push(Defaults { name, at, settings });
            let index = self.defaults.len() - 1;
            self.last_defaults = Some(index);
            self.current = Current::Defaults(index);
        } else if let Some(kind) = kind {
            let mut proxy = Proxy {
                name,
                kind,
                at: at.clone(),
                defaults_from,
                id: None,
                disabled: false,
                binds: Vec::new(),
                servers: Vec::new(),
                acls: Vec::new(),
                use_backends: Vec::new(),
                settings,
            };
            if let Some(addr) = bind_on_line {
                match super::bind::parse_bind_address(&addr) {
                    Ok(list) => {
                        for address in list {
                            proxy.binds.push(crate::model::Bind {
                                at: at.clone(),
                                address,
                                options: Default::default(),
                            });
                        }
                    }
                    Err(msg) => {
                        self.alert(line.span, format!("'{kw}' : {msg}"));
                        code |= err::ALERT | err::FATAL;
                    }
                }
            }
            self.config.proxies.push(proxy);
            self.current = Current::Proxy(self.config.proxies.len() - 1);
        }
        code
    }

    fn timeout_line(&mut self, line: &Line) -> u32 {
        let kw = line.kw();
        let (name, value_at) = if kw == "timeout" {
            (line.arg(1).to_string(), 2)
        } else {
            (kw.to_string(), 1)
        };
        let removed = match name.as_str() {
            "clitimeout" => Some("client"),
            "srvtimeout" => Some("server"),
            "contimeout" => Some("connect"),
            _ => None,
        };
        if let Some(modern) = removed {
            // Deliberate difference (seed 002): accepted, with the modern keyword named.
            return match parse_time(line.arg(value_at), TimeUnit::Millis) {
                Ok(t) => {
                    self.set_timeout(modern, t.value);
                    self.warn(line.span, format!("ha-compat: '{name}' is accepted as 'timeout {modern}'; HAProxy 2.6 refuses it (the '{name}' directive is not supported anymore since HAProxy 2.1. Use 'timeout {modern}'.)."));
                    err::WARN
                }
                Err(e) => {
                    self.alert(
                        line.span,
                        format!(
                            "{name} : {}",
                            global_time_text(&e, line.arg(value_at), &format!("timeout {modern}"))
                        ),
                    );
                    err::ALERT | err::FATAL
                }
            };
        }
        let cap: (bool, bool) = match name.as_str() {
            "client" | "client-fin" => (true, false),
            "tarpit" | "http-keep-alive" | "http-request" => (true, true),
            "server" | "connect" | "check" | "queue" | "tunnel" | "server-fin" => (false, true),
            _ => {
                self.alert(line.span, format!("timeout : 'timeout' supports 'client', 'server', 'connect', 'check', 'queue', 'http-keep-alive', 'http-request', 'tunnel', 'tarpit', 'client-fin' and 'server-fin' (got '{name}')"));
                return err::ALERT | err::FATAL;
            }
        };
        if !line.has(value_at) {
            self.alert(
                line.span,
                format!("timeout : 'timeout {name}' expects an integer value (in milliseconds)"),
            );
            return err::ALERT | err::FATAL;
        }
        let value = match parse_time(line.arg(value_at), TimeUnit::Millis) {
            Ok(t) => {
                if let Some(w) = t.trailing_warning {
                    self.warn(line.span, w);
                }
                t.value
            }
            Err(e) => {
                let text = match e {
                    TimeError::Overflow => format!("timer overflow in argument '{}' to 'timeout {name}' (maximum value is 2147483647 ms or ~24.8 days)", line.arg(value_at)),
                    TimeError::Underflow => format!("timer underflow in argument '{}' to 'timeout {name}' (minimum non-null value is 1 ms)", line.arg(value_at)),
                    TimeError::Unexpected(_, c) => format!("unexpected character '{c}' in 'timeout {name}'"),
                };
                self.alert(line.span, format!("timeout : {text}"));
                return err::ALERT | err::FATAL;
            }
        };
        let mut code = 0;
        if line.has(value_at + 1) {
            self.alert(
                line.span,
                format!(
                    "timeout : 'timeout {name}' : unexpected extra argument '{}' after value '{}'.",
                    line.arg(value_at + 1),
                    line.arg(value_at)
                ),
            );
            code |= err::ALERT | err::FATAL;
        } else if !((cap.0 && self.has_fe()) || (cap.1 && self.has_be())) {
            let which = if cap.1 { "backend" } else { "frontend" };
            let text = format!("timeout : 'timeout {name}' will be ignored because {} '{}' has no {which} capability", self.proxy_type(), self.proxy_name());
            self.warn(line.span, text);
            code |= err::WARN;
        }
        self.set_timeout(&name, value);
        code
    }

    fn set_timeout(&mut self, name: &str, ms: u32) {
        let d = if ms == 0 {
            None
        } else {
            Some(units::millis(ms))
        };
        if let Some(s) = self.settings_mut() {
            let t = &mut s.timeouts;
            match name {
                "client" => t.client = d,
                "client-fin" => t.client_fin = d,
                "server" => t.server = d,
                "server-fin" => t.server_fin = d,
                "connect" => t.connect = d,
                "queue" => t.queue = d,
                "check" => t.check = d,
                "tunnel" => t.tunnel = d,
                "http-request" => t.http_request = d,
                "http-keep-alive" => t.http_keep_alive = d,
                "tarpit" => t.tarpit = d,
                _ => {}
            }
        }
    }

    fn option_line(&mut self, line: &Line) -> u32 {
        let opt = line.arg(1).to_string();
        if opt.is_empty() {
            self.alert_tight(line.span, "'option' expects an option name.");
            return err::ALERT | err::FATAL;
        }
        let reg = registry();
        if let Some(caps) = reg.options.get(&opt) {
            if self.too_many_args_idx(line, 0, 1) {
                return err::ALERT | err::FATAL;
            }
            let fe = caps.iter().any(|c| c == "FE");
            let be = caps.iter().any(|c| c == "BE");
            if self.warn_if_not_cap(line, fe, be, &opt) {
                return err::WARN;
            }
            let kwm = line.kwm;
            if let Some(s) = self.settings_mut() {
                match kwm {
                    Kwm::Std => {
                        s.options.flags.insert(opt, true);
                    }
                    Kwm::No => {
                        s.options.flags.insert(opt, false);
                    }
                    Kwm::Default => {
                        s.options.flags.remove(&opt);
                    }
                }
            }
            return 0;
        }
        match opt.as_str() {
            "forceclose" => {
                self.alert_tight(line.span, format!("option '{opt}' is not supported any more since HAProxy 2.0, please just remove it, or use 'option httpclose' if absolutely needed."));
                return err::ALERT | err::FATAL;
            }
            "httpclose" | "http-server-close" | "http-keep-alive" => {
                if self.too_many_args_idx(line, 0, 1) {
                    return err::ALERT | err::FATAL;
                }
                let mode = match opt.as_str() {
                    "httpclose" => HttpConnectionMode::Close,
                    "http-server-close" => HttpConnectionMode::ServerClose,
                    _ => HttpConnectionMode::KeepAlive,
                };
                let kwm = line.kwm;
                if let Some(s) = self.settings_mut() {
                    match kwm {
                        Kwm::Std => s.options.http_mode = Some(mode),
                        _ => {
                            if s.options.http_mode == Some(mode) {
                                s.options.http_mode = None;
                            }
                        }
                    }
                }
                return 0;
            }
            "http-tunnel" => {
                self.alert_tight(line.span, format!("option '{opt}' is not supported any more since HAProxy 2.1, please just remove it, it shouldn't be needed."));
                return err::ALERT | err::FATAL;
            }
            "redispatch" => {
                if self.warn_if_not_cap(line, false, true, "redispatch") {
                    return err::WARN;
                }
                // `option redispatch N`: HAProxy reads N with atol(), any text is accepted.
                let kwm = line.kwm;
                let after = line
                    .words
                    .get(2)
                    .filter(|w| !w.is_empty())
                    .map_or(-1, |w| crate::units::atol(w));
                if let Some(s) = self.settings_mut() {
                    match kwm {
                        Kwm::Std => {
                            s.options.flags.insert("redispatch".into(), true);
                            s.options.redispatch_after = Some(after);
                        }
                        Kwm::No => {
                            s.options.flags.insert("redispatch".into(), false);
                            s.options.redispatch_after = None;
                        }
                        Kwm::Default => {
                            s.options.flags.remove("redispatch");
                            s.options.redispatch_after = None;
                        }
                    }
                }
                return 0;
            }
            "http_proxy" => {
                self.alert_tight(line.span, format!("option '{opt}' is not supported any more since HAProxy 2.5. This option stopped working in HAProxy 1.9 and usually had nasty side effects. It can be more reliably implemented with combinations of 'http-request set-dst' and 'http-request set-uri', and even 'http-request do-resolve' if absolutely needed."));
                return err::ALERT | err::FATAL;
            }
            _ => {}
        }
        let known = matches!(
            opt.as_str(),
            "httplog"
                | "tcplog"
                | "httpslog"
                | "tcpka"
                | "httpchk"
                | "ssl-hello-chk"
                | "smtpchk"
                | "pgsql-check"
                | "redis-check"
                | "mysql-check"
                | "ldap-check"
                | "spop-check"
                | "tcp-check"
                | "external-check"
                | "forwardfor"
                | "originalto"
                | "http-restrict-req-hdr-names"
        );
        if !known {
            let candidates = crate::suggest::haproxy_candidates("option").iter().copied();
            match best_match(&opt, candidates) {
                Some(best) => self.alert(
                    line.span,
                    format!("unknown option '{opt}'; did you mean '{best}' maybe ?"),
                ),
                None => self.alert(line.span, format!("unknown option '{opt}'.")),
            }
            return err::ALERT | err::FATAL;
        }
        if line.kwm != Kwm::Std {
            self.alert_tight(
                line.span,
                format!("negation/default is not supported for option '{opt}'."),
            );
            return err::ALERT | err::FATAL;
        }
        let code = 0;
        match opt.as_str() {
            "httplog" | "httpslog" => {
                let clf = line.arg(2) == "clf";
                if line.has(2) && !clf {
                    self.alert(
                        line.span,
                        format!("keyword '{opt}' only supports option 'clf'."),
                    );
                    return err::ALERT | err::FATAL;
                }
                if self.too_many_args_idx(line, if clf { 1 } else { 0 }, 1) {
                    return err::ALERT | err::FATAL;
                }
                if !self.has_fe() {
                    let text = format!(
                        "backend '{}' : 'option {opt}' directive is ignored in backends.",
                        self.proxy_name()
                    );
                    self.warn(line.span, text);
                    return err::WARN;
                }
                if let Some(s) = self.settings_mut() {
                    s.options.httplog = Some(HttpLog { clf });
                    s.options.tcplog = false;
                    s.log_format = None;
                }
            }
            "tcplog" => {
                if self.too_many_args_idx(line, 0, 1) {
                    return err::ALERT | err::FATAL;
                }
                if !self.has_fe() {
                    let text = format!(
                        "backend '{}' : 'option tcplog' directive is ignored in backends.",
                        self.proxy_name()
                    );
                    self.warn(line.span, text);
                    return err::WARN;
                }
                if let Some(s) = self.settings_mut() {
                    s.options.tcplog = true;
                    s.options.httplog = None;
                    s.log_format = None;
                }
            }
            "tcpka" => {
                if self.too_many_args_idx(line, 0, 1) {
                    return err::ALERT | err::FATAL;
                }
                if let Some(s) = self.settings_mut() {
                    s.options.flags.insert("tcpka".into(), true);
                }
            }
            "httpchk" => {
                if self.warn_if_not_cap(line, false, true, "httpchk") {
                    return err::WARN;
                }
                if self.too_many_args_idx(line, 3, 1) {
                    return err::ALERT | err::FATAL;
                }
                let mut chk = HttpChk::default();
                match (line.has(2), line.has(3), line.has(4)) {
                    (false, _, _) => {}
                    (true, false, _) => chk.uri = line.arg(2).to_string(),
                    (true, true, has_version) => {
                        chk.method = line.arg(2).to_string();
                        chk.uri = line.arg(3).to_string();
                        if has_version {
                            let v = line.arg(4);
                            match v.find("\r\n") {
                                Some(i) => {
                                    chk.version = v[..i].to_string();
                                    chk.extra = Some(v[i + 2..].to_string());
                                }
                                None => chk.version = v.to_string(),
                            }
                        }
                    }
                }
                if let Some(s) = self.settings_mut() {
                    s.options.httpchk = Some(chk);
                    s.options.check_protocol = Some("httpchk".into());
                    s.tcp_check.clear();
                }
            }
            "ssl-hello-chk" | "smtpchk" | "pgsql-check" | "redis-check" | "mysql-check"
            | "ldap-check" | "spop-check" | "tcp-check" | "external-check" => {
                if self.warn_if_not_cap(line, false, true, &opt) {
                    return err::WARN;
                }
                let max = match opt.as_str() {
                    "smtpchk" | "mysql-check" | "pgsql-check" => 3,
                    _ => 0,
                };
                if self.too_many_args_idx(line, max, 1) {
                    return err::ALERT | err::FATAL;
                }
                let is_tcp_check = opt == "tcp-check";
                if let Some(s) = self.settings_mut() {
                    s.options.check_protocol = Some(opt.clone());
                    s.options.httpchk = None;
                    if !is_tcp_check {
                        s.tcp_check.clear();
                        s.http_check.clear();
                    }
                }
            }
            "forwardfor" | "originalto" => {
                let mut ff = ForwardFor {
                    except: None,
                    header: if opt == "forwardfor" {
                        "X-Forwarded-For".into()
                    } else {
                        "X-Original-To".into()
                    },
                    if_none: false,
                };
                let mut i = 2;
                while line.has(i) {
                    match line.arg(i) {
                        "except" => {
                            if !line.has(i + 1) || !is_network(line.arg(i + 1)) {
                                self.alert(line.span, format!("'option {opt} except' expects <address>[/mask] as argument."));
                                return err::ALERT | err::FATAL;
                            }
                            ff.except = Some(line.arg(i + 1).to_string());
                            i += 2;
                        }
                        "header" => {
                            if !line.has(i + 1) {
                                self.alert(
                                    line.span,
                                    format!(
                                        "'option {opt} header' expects <header_name> as argument."
                                    ),
                                );
                                return err::ALERT | err::FATAL;
                            }
                            ff.header = line.arg(i + 1).to_string();
                            i += 2;
                        }
                        "if-none" if opt == "forwardfor" => {
                            ff.if_none = true;
                            i += 1;
                        }
                        _ => {
                            let which = if opt == "forwardfor" {
                                "'except', 'header' and 'if-none'"
                            } else {
                                "'except' and 'header'"
                            };
                            self.alert(
                                line.span,
                                format!("'option {opt}' only supports optional values: {which}."),
                            );
                            return err::ALERT | err::FATAL;
                        }
                    }
                }
                let is_ff = opt == "forwardfor";
                if let Some(s) = self.settings_mut() {
                    if is_ff {
                        s.options.forwardfor = Some(ff);
                    } else {
                        s.options.originalto = Some(ff);
                    }
                }
            }
            "http-restrict-req-hdr-names" => {
                if self.too_many_args(line, 2) {
                    return err::ALERT | err::FATAL;
                }
                if !line.has(2) {
                    self.alert(line.span, format!("missing parameter. option '{opt}' expects 'preserve', 'reject' or 'delete' option."));
                    return err::ALERT | err::FATAL;
                }
                if !matches!(line.arg(2), "preserve" | "reject" | "delete") {
                    self.alert(line.span, format!("invalid parameter '{}'. option '{opt}' expects 'preserve', 'reject' or 'delete' option.", line.arg(2)));
                    return err::ALERT | err::FATAL;
                }
                self.keep_proxy(line);
                self.unmodelled(line, "option http-restrict-req-hdr-names");
            }
            _ => {}
        }
        code
    }

    fn balance_line(&mut self, line: &Line) -> u32 {
        let mut code = 0;
        if self.warn_if_not_cap(line, false, true, "balance") {
            code |= err::WARN;
        }
        let algo = line.arg(1);
        let balance = match algo {
            "" | "roundrobin" => Balance::Roundrobin,
            "static-rr" => Balance::StaticRr,
            "leastconn" => Balance::Leastconn,
            "first" => Balance::First,
            "source" => Balance::Source,
            "random" => {
                let draws = if let Some(n) = line.arg(1).strip_prefix("random(") {
                    units::atol(n) as u32
                } else {
                    2
                };
                Balance::Random { draws }
            }
            a if a.starts_with("random(") => {
                let inner = &a[7..];
                let n = units::atol(inner);
                if n < 1 {
                    self.alert(
                        line.span,
                        "balance random : number of draws must be at least 1.",
                    );
                    return code | err::ALERT | err::FATAL;
                }
                Balance::Random { draws: n as u32 }
            }
            "uri" => {
                let mut whole = false;
                let mut path_only = false;
                let mut len = None;
                let mut depth = None;
                let mut i = 2;
                while line.has(i) {
                    match line.arg(i) {
                        "whole" => whole = true,
                        "path-only" => path_only = true,
                        "len" | "depth" => {
                            let v = units::atol(line.arg(i + 1));
                            if v <= 0 {
                                self.alert(
                                    line.span,
                                    format!(
                                        "balance uri : '{}' expects a positive integer (got '{}').",
                                        line.arg(i),
                                        line.arg(i + 1)
                                    ),
                                );
                                return code | err::ALERT | err::FATAL;
                            }
                            if line.arg(i) == "len" {
                                len = Some(v as u32);
                            } else {
                                depth = Some(v as u32);
                            }
                            i += 1;
                        }
                        other => {
                            self.alert(line.span, format!("balance uri only accepts parameters 'len', 'depth', 'path-only', and 'whole' (got '{other}')."));
                            return code | err::ALERT | err::FATAL;
                        }
                    }
                    i += 1;
                }
                Balance::Uri {
                    whole,
                    len,
                    depth,
                    path_only,
                }
            }
            "url_param" => {
                if !line.has(2) {
                    self.alert(
                        line.span,
                        "balance url_param requires an URL parameter name.",
                    );
                    return code | err::ALERT | err::FATAL;
                }
                let mut check_post = None;
                if line.arg(3) == "check_post" {
                    check_post = Some(units::atol(line.arg(4)).max(0) as u32);
                } else if line.has(3) {
                    self.alert(
                        line.span,
                        format!(
                            "balance url_param only accepts 'check_post' modifier (got '{}').",
                            line.arg(3)
                        ),
                    );
                    return code | err::ALERT | err::FATAL;
                }
                Balance::UrlParam {
                    param: line.arg(2).to_string(),
                    check_post,
                }
            }
            a if a.starts_with("hdr(") => {
                let Some(name) = a[4..].strip_suffix(')').filter(|n| !n.is_empty()) else {
                    self.alert(line.span, "balance hdr requires an http header field name.");
                    return code | err::ALERT | err::FATAL;
                };
                let use_domain_only = line.arg(2) == "use_domain_only";
                if line.has(2) && !use_domain_only {
                    self.alert(
                        line.span,
                        format!(
                            "balance {} only accepts 'use_domain_only' modifier (got '{}').",
                            line.arg(1),
                            line.arg(2)
                        ),
                    );
                    return code | err::ALERT | err::FATAL;
                }
                Balance::Hdr {
                    name: name.to_string(),
                    use_domain_only,
                }
            }
            a if a == "rdp-cookie" || a.starts_with("rdp-cookie(") => {
                let name = a
                    .strip_prefix("rdp-cookie(")
                    .and_then(|r| r.strip_suffix(')'))
                    .unwrap_or("mstshash");
                Balance::RdpCookie {
                    name: name.to_string(),
                }
            }
            "hash" => {
                if !line.has(2) {
                    self.alert(line.span, "balance hash requires a sample expression.");
                    return code | err::ALERT | err::FATAL;
                }
                Balance::Hash {
                    expression: line.arg(2).to_string(),
                }
            }
            other => {
                let _ = other;
                self.alert(line.span, "balance only supports 'roundrobin', 'static-rr', 'leastconn', 'source', 'uri', 'url_param', 'hdr(name)' and 'rdp-cookie(name)' options.");
                return code | err::ALERT | err::FATAL;
            }
        };
        if let Some(s) = self.settings_mut() {
            s.balance = Some(balance);
        }
        code
    }

    fn hash_type_line(&mut self, line: &Line) -> u32 {
        let consistent = match line.arg(1) {
            "consistent" => true,
            "map-based" => false,
            "avalanche" => {
                self.alert(line.span, "experimental feature 'hash-type avalanche' is not supported anymore, please use 'hash-type map-based sdbm avalanche' instead.");
                return err::ALERT | err::FATAL;
            }
            _ => {
                self.alert(
                    line.span,
                    "'hash-type' only supports 'consistent' and 'map-based'.",
                );
                return err::ALERT | err::FATAL;
            }
        };
        let function = if line.has(2) { line.arg(2) } else { "sdbm" };
        if !matches!(function, "sdbm" | "djb2" | "crc32" | "wt6" | "none") {
            self.alert(
                line.span,
                "'hash-type' only supports 'sdbm', 'djb2', 'crc32', or 'wt6' hash functions.",
            );
            return err::ALERT | err::FATAL;
        }
        // `hash-type consistent` alone means sdbm with the avalanche modifier
        // (cfgparse-listen.c); a named function only gets it when asked.
        let avalanche = line.arg(3) == "avalanche" || (consistent && !line.has(2));
        if line.has(3) && line.arg(3) != "avalanche" {
            self.alert(
                line.span,
                "'hash-type' only supports 'avalanche' as a modifier for hash functions.",
            );
            return err::ALERT | err::FATAL;
        }
        let ht = HashType {
            consistent,
            function: function.to_string(),
            avalanche,
        };
        if let Some(s) = self.settings_mut() {
            s.hash_type = Some(ht);
        }
        0
    }

    fn errorfile_line(&mut self, line: &Line) -> u32 {
        if !line.has(2) {
            self.alert(
                line.span,
                "errorfile : expects <status_code> and <file> as arguments.\n",
            );
            return err::ALERT | err::FATAL;
        }
        let status = units::atoi(line.arg(1));
        match self.load_errorfile(line, status) {
            Ok(Some(file)) => {
                if let Some(s) = self.settings_mut() {
                    s.errorfiles.retain(|e| e.status != file.status);
                    s.errorfiles.push(file);
                }
                0
            }
            Ok(None) => err::WARN,
            Err(msg) => {
                self.alert(line.span, format!("errorfile : {msg}"));
                err::ALERT | err::FATAL
            }
        }
    }

    /// Reads and checks an errorfile; `Ok(None)` when HAProxy only warns and ignores it.
    pub(super) fn load_errorfile(
        &mut self,
        line: &Line,
        status: i32,
    ) -> Result<Option<ErrorFile>, String> {
        let path = PathBuf::from(line.arg(2));
        if !errorfile::HANDLED_STATUS_CODES
            .iter()
            .any(|&c| i32::from(c) == status)
        {
            return Err(format!("status code '{status}' not handled."));
        }
        let contents = match std::fs::read(&path) {
            Ok(c) => c,
            Err(_) if !self.opts.host_files => {
                self.unchecked_file(line, &path);
                Vec::new()
            }
            Err(_) => return Err(format!("error opening file '{}'.", path.display())),
        };
        let mut contents = contents;
        if contents.len() > errorfile::DEFAULT_BUFSIZE {
            self.push(crate::diag::bare(
                conf_diag::Severity::Warning,
                format!(
                    "custom error message file '{}' larger than {} bytes. Truncating.",
                    path.display(),
                    errorfile::DEFAULT_BUFSIZE
                ),
            ));
            contents.truncate(errorfile::DEFAULT_BUFSIZE);
        }
        errorfile::check_response(&contents).map_err(|m| format!("'{}': {m}", path.display()))?;
        Ok(Some(ErrorFile {
            at: self.location(line.span),
            status: status as u16,
            path,
            contents,
        }))
    }

    /// A NOTICE for a file the configuration names that is not on this machine, when the
    /// file is checked for another one.
    pub(super) fn unchecked_file(&mut self, line: &Line, path: &std::path::Path) {
        self.push(crate::diag::at(
            conf_diag::Severity::Notice,
            crate::diag::PARSING,
            line.span,
            format!(
                "ha-compat: '{}' is not on this machine; not checked (--no-host-checks).",
                path.display()
            ),
        ));
    }

    fn stats_line(&mut self, line: &Line) -> u32 {
        let sub = line.arg(1).to_string();
        let code = 0;
        match sub.as_str() {
            "admin" | "http-request" => {
                if self.is_defaults() {
                    self.alert_tight(
                        line.span,
                        format!("'stats {sub}' not allowed in 'defaults' section."),
                    );
                    return err::ALERT | err::FATAL;
                }
                if sub == "admin" {
                    if !matches!(line.arg(2), "if" | "unless") {
                        self.alert(line.span, "'stats admin' requires either 'if' or 'unless' followed by a condition.");
                        return err::ALERT | err::FATAL;
                    }
                    match self.parse_condition(line, 2) {
                        Ok(cond) => {
                            let at = self.location(line.span);
                            if let Some(s) = self.settings_mut() {
                                s.stats.admin.push(crate::model::StatsAdmin {
                                    at,
                                    condition: cond,
                                });
                            }
                        }
                        Err(msg) => {
                            self.alert(
                                line.span,
                                format!(
                                    "error detected while parsing a 'stats admin' rule : {msg}."
                                ),
                            );
                            return err::ALERT | err::FATAL;
                        }
                    }
                    return code;
                }
                return code | self.stats_http_request_line(line);
            }
            "enable" => {
                if let Some(s) = self.settings_mut() {
                    s.stats.enabled = true;
                }
            }
            "uri" => {
                if !line.has(2) {
                    self.alert(line.span, "'uri' needs an URI prefix.");
                    return err::ALERT | err::FATAL;
                }
                let uri = line.arg(2).to_string();
                if let Some(s) = self.settings_mut() {
                    s.stats.enabled = true;
                    s.stats.uri = Some(uri);
                }
            }
            "realm" => {
                if !line.has(2) {
                    self.alert(line.span, "'realm' needs an realm name.");
                    return err::ALERT | err::FATAL;
                }
                // HAProxy keeps only the first word (`stats realm My Realm` answers
                // `realm="My"`, measured on 2.6.12); a space must be escaped (`My\ Realm`).
                let realm = line.arg(2).to_string();
                if let Some(s) = self.settings_mut() {
                    s.stats.enabled = true;
                    s.stats.realm = Some(realm);
                }
            }
            "refresh" => {
                let arg = line.arg(2);
                match parse_time(arg, TimeUnit::Seconds) {
                    Ok(t) => {
                        if let Some(s) = self.settings_mut() {
                            s.stats.enabled = true;
                            s.stats.refresh =
                                Some(std::time::Duration::from_secs(u64::from(t.value)));
                        }
                    }
                    Err(TimeError::Overflow) => {
                        self.alert_tight(line.span, format!("timer overflow in argument <{arg}> to stats refresh interval, maximum value is 2147483647 s (~68 years)."));
                        return err::ALERT | err::FATAL;
                    }
                    Err(TimeError::Underflow) => {
                        self.alert_tight(line.span, format!("timer underflow in argument <{arg}> to stats refresh interval, minimum non-null value is 1 s."));
                        return err::ALERT | err::FATAL;
                    }
                    Err(TimeError::Unexpected(_, c)) => {
                        let c = if arg.is_empty() { '\0' } else { c };
                        self.alert_tight(
                            line.span,
                            format!(
                                "unexpected character '{c}' in argument to stats refresh interval."
                            ),
                        );
                        return err::ALERT | err::FATAL;
                    }
                }
            }
            "auth" => {
                if !line.has(2) {
                    self.alert(line.span, "'auth' needs a user:password account.");
                    return err::ALERT | err::FATAL;
                }
                // HAProxy 2.6 accepts a word without ':' (user with an empty password).
                let (user, password) = line.arg(2).split_once(':').unwrap_or((line.arg(2), ""));
                let auth = StatsAuth {
                    user: user.to_string(),
                    password: password.to_string(),
                };
                if let Some(s) = self.settings_mut() {
                    s.stats.enabled = true;
                    s.stats.auth.push(auth);
                }
            }
            "scope" => {
                if !line.has(2) {
                    self.alert(line.span, "'scope' needs a proxy name.");
                    return err::ALERT | err::FATAL;
                }
                let scope = line.arg(2).to_string();
                if let Some(s) = self.settings_mut() {
                    s.stats.enabled = true;
                    s.stats.scope.push(scope);
                }
            }
            "hide-version" => {
                if let Some(s) = self.settings_mut() {
                    s.stats.enabled = true;
                    s.stats.hide_version = true;
                }
            }
            "show-legends" => {
                if let Some(s) = self.settings_mut() {
                    s.stats.enabled = true;
                    s.stats.show_legends = true;
                }
            }
            "show-node" | "show-desc" => {
                let value = line.words.get(2..).map(|w| w.join(" ")).unwrap_or_default();
                let is_node = sub == "show-node";
                if let Some(s) = self.settings_mut() {
                    s.stats.enabled = true;
                    if is_node {
                        s.stats.show_node = Some(value);
                    } else {
                        s.stats.show_desc = Some(value);
                    }
                }
            }
            "show-modules" => {
                if let Some(s) = self.settings_mut() {
                    s.stats.enabled = true;
                }
            }
            _ => {
                let text = format!("{} '{}', expects 'admin', 'uri', 'realm', 'auth', 'scope', 'enable', 'hide-version', 'show-node', 'show-desc' or 'show-legends'.", line.arg(0), line.arg(1));
                self.alert_tight(line.span, text);
                return err::ALERT | err::FATAL;
            }
        }
        code
    }

    fn cookie_line(&mut self, line: &Line) -> u32 {
        let mut code = 0;
        if self.warn_if_not_cap(line, false, true, "cookie") {
            code |= err::WARN;
        }
        if !line.has(1) {
            self.alert(line.span, "'cookie' expects <cookie_name> as argument.");
            return code | err::ALERT | err::FATAL;
        }
        let mut cookie = Cookie {
            name: line.arg(1).to_string(),
            method: None,
            flags: Vec::new(),
            domains: Vec::new(),
            maxidle: None,
            maxlife: None,
            dynamic: false,
            attrs: Vec::new(),
        };
        let mut i = 2;
        while line.has(i) {
            let word = line.arg(i);
            match word {
                "rewrite" | "insert" | "prefix" => {
                    if cookie.method.as_deref().is_some_and(|m| m != word) {
                        self.alert(
                            line.span,
                            "cookie 'rewrite', 'insert' and 'prefix' modes are incompatible.",
                        );
                        return code | err::ALERT | err::FATAL;
                    }
                    cookie.method = Some(word.to_string());
                }
                "indirect" | "nocache" | "postonly" | "preserve" | "httponly" | "secure" => {
                    cookie.flags.push(word.to_string())
                }
                "dynamic" => cookie.dynamic = true,
                "domain" => {
                    if !line.has(i + 1) {
                        self.alert_tight(line.span, "'domain' expects <domain> as argument.");
                        return code | err::ALERT | err::FATAL;
                    }
                    cookie.domains.push(line.arg(i + 1).to_string());
                    i += 1;
                }
                "maxidle" | "maxlife" => {
                    let arg = line.arg(i + 1);
                    if arg.is_empty() {
                        let what = if word == "maxidle" {
                            "<idletime>"
                        } else {
                            "<lifetime>"
                        };
                        self.alert_tight(
                            line.span,
                            format!("'{word}' expects {what} in seconds as argument."),
                        );
                        return code | err::ALERT | err::FATAL;
                    }
                    match parse_time(arg, TimeUnit::Seconds) {
                        Ok(t) => {
                            let d = std::time::Duration::from_secs(u64::from(t.value));
                            if word == "maxidle" {
                                cookie.maxidle = Some(d);
                            } else {
                                cookie.maxlife = Some(d);
                            }
                        }
                        Err(TimeError::Unexpected(_, c)) => {
                            self.alert_tight(
                                line.span,
                                format!("unexpected character '{c}' in argument to <{word}>."),
                            );
                            return code | err::ALERT | err::FATAL;
                        }
                        Err(_) => {
                            self.alert_tight(line.span, format!("timer overflow in argument <{arg}> to <{word}>, maximum value is 2147483647 s (~68 years)."));
                            return code | err::ALERT | err::FATAL;
                        }
                    }
                    i += 1;
                }
                "attr" => {
                    if !line.has(i + 1) {
                        self.alert_tight(line.span, "'attr' expects <value> as argument.");
                        return code | err::ALERT | err::FATAL;
                    }
                    cookie.attrs.push(line.arg(i + 1).to_string());
                    i += 1;
                }
                _ => {
                    self.alert(line.span, "'cookie' supports 'rewrite', 'insert', 'prefix', 'indirect', 'nocache', 'postonly', 'domain', 'maxidle', 'dynamic', 'maxlife' and 'attr' options.");
                    return code | err::ALERT | err::FATAL;
                }
            }
            i += 1;
        }
        if cookie.method.as_deref() == Some("rewrite")
            && cookie.flags.iter().any(|f| f == "indirect")
        {
            self.alert(
                line.span,
                "cookie 'rewrite' and 'indirect' modes are incompatible.",
            );
            return code | err::ALERT | err::FATAL;
        }
        if cookie.flags.iter().any(|f| f == "preserve")
            && cookie.method.as_deref() != Some("insert")
            && !cookie.flags.iter().any(|f| f == "indirect")
        {
            self.alert(
                line.span,
                "cookie 'preserve' requires at least 'insert' or 'indirect'.",
            );
            return code | err::ALERT | err::FATAL;
        }
        if let Some(s) = self.settings_mut() {
            s.cookie = Some(cookie);
        }
        code
    }
}

fn global_time_text(e: &TimeError, arg: &str, name: &str) -> String {
    super::global::time_error_text(e, arg, name)
}

/// `str2net()` / `str62net()`: an address with an optional mask.
fn is_network(s: &str) -> bool {
    let (addr, mask) = s.split_once('/').unwrap_or((s, ""));
    let addr_ok = addr.parse::<std::net::IpAddr>().is_ok();
    let mask_ok = mask.is_empty()
        || mask.parse::<u8>().is_ok_and(|m| m <= 128)
        || mask.parse::<std::net::Ipv4Addr>().is_ok();
    addr_ok && mask_ok
}

/// `parse_logsrv()`: a `log` line's target. `Ok(None)` for `log global` in a proxy.
pub(crate) fn parse_log_target(
    p: &Parser<'_>,
    line: &Line,
    in_global: bool,
) -> Result<Option<LogTarget>, String> {
    if line.has(1) && !line.has(2) && line.arg(1) == "global" {
        if in_global {
            return Err("'global' is not supported for a global syslog server".into());
        }
        return Ok(None);
    }
    if !line.has(1) || !line.has(2) {
        return Err(format!(
            "expects <address> and <facility> {} as arguments",
            if in_global { "" } else { "or global" }
        ));
    }
    let mut i = 2;
    let mut max_length = None;
    if line.arg(i) == "len" {
        let len = units::atoi(line.arg(i + 1));
        if !(80..=65535).contains(&len) {
            return Err(format!(
                "invalid log length '{}', must be between 80 and 65535",
                line.arg(i + 1)
            ));
        }
        max_length = Some(len as u32);
        i += 2;
    }
    let mut format = None;
    if line.arg(i) == "format" {
        let f = line.arg(i + 1);
        if !matches!(
            f,
            "local" | "rfc3164" | "rfc5424" | "priority" | "short" | "timed" | "iso" | "raw"
        ) {
            return Err(format!("unknown log format '{f}'"));
        }
        format = Some(f.to_string());
        i += 2;
    }
    let mut sample = None;
    if line.arg(i) == "sample" {
        let s = line.arg(i + 1);
        if !s.contains(':') {
            return Err("Missing sample size".into());
        }
        sample = Some(s.to_string());
        i += 2;
    }
    let facility = FACILITIES
        .iter()
        .position(|f| *f == line.arg(i))
        .ok_or_else(|| format!("unknown log facility '{}'", line.arg(i)))?;
    i += 1;
    let level = |w: &str| {
        LOG_LEVELS
            .iter()
            .position(|l| *l == w)
            .map(|l| LogLevel(l as u8))
    };
    let mut max_level = None;
    if line.has(i) {
        max_level = Some(
            level(line.arg(i))
                .ok_or_else(|| format!("unknown optional log level '{}'", line.arg(i)))?,
        );
        i += 1;
    }
    let mut min_level = None;
    if line.has(i) {
        min_level = Some(
            level(line.arg(i))
                .ok_or_else(|| format!("unknown optional minimum log level '{}'", line.arg(i)))?,
        );
        i += 1;
    }
    if line.has(i) {
        return Err(format!(
            "cannot handle unexpected argument '{}'",
            line.arg(i)
        ));
    }
    let address = parse_log_address(line.arg(1))?;
    Ok(Some(LogTarget {
        at: p.location(line.span),
        address,
        max_length,
        format,
        sample,
        facility: Facility(facility as u8),
        max_level,
        min_level,
    }))
}

fn parse_log_address(raw: &str) -> Result<LogAddress, String> {
    match raw {
        "stdout" => return Ok(LogAddress::Fd(1)),
        "stderr" => return Ok(LogAddress::Fd(2)),
        _ => {}
    }
    if let Some(name) = raw.strip_prefix("ring@") {
        return Ok(LogAddress::Ring(name.to_string()));
    }
    if let Some(n) = raw.strip_prefix("fd@") {
        return n
            .parse()
            .map(LogAddress::Fd)
            .map_err(|_| format!("invalid fd number '{n}'"));
    }
    if raw.starts_with('/') {
        return Ok(LogAddress::Unix(PathBuf::from(raw)));
    }
    if let Some(path) = raw.strip_prefix("unix@") {
        return Ok(LogAddress::Unix(PathBuf::from(path)));
    }
    let (tcp, rest) = if let Some(r) = raw
        .strip_prefix("tcp@")
        .or_else(|| raw.strip_prefix("tcp4@"))
        .or_else(|| raw.strip_prefix("tcp6@"))
    {
        (true, r)
    } else {
        (
            false,
            raw.strip_prefix("udp@")
                .or_else(|| raw.strip_prefix("udp4@"))
                .or_else(|| raw.strip_prefix("udp6@"))
                .or_else(|| raw.strip_prefix("ipv4@"))
                .or_else(|| raw.strip_prefix("ipv6@"))
                .unwrap_or(raw),
        )
    };
    let (host, port) = split_host_port(rest);
    let port = match port {
        None | Some("") => 514,
        Some(p) => p
            .parse::<u16>()
            .ok()
            .filter(|&p| p > 0)
            .ok_or_else(|| format!("invalid port '{p}'"))?,
    };
    if host.is_empty() {
        return Err(format!("unknown log address '{raw}'"));
    }
    Ok(if tcp {
        LogAddress::Tcp {
            host: host.to_string(),
            port,
        }
    } else {
        LogAddress::Udp {
            host: host.to_string(),
            port,
        }
    })
}

/// `host:port`, `[v6]:port`, or a bare IPv6 (last colon splits, as HAProxy does).
pub(crate) fn split_host_port(s: &str) -> (&str, Option<&str>) {
    if let Some(rest) = s.strip_prefix('[') {
        if let Some((host, tail)) = rest.split_once(']') {
            return (host, tail.strip_prefix(':'));
        }
    }
    match s.rfind(':') {
        Some(i) => (&s[..i], Some(&s[i + 1..])),
        None => (s, None),
    }
}
