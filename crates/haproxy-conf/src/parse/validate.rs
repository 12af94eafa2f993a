//! What `check_config_validity()` (src/cfgparse.c) checks once every file is read, for
//! the parts ha-compat models, and `srv_init_addr()`'s address resolution.

use conf_diag::Severity;

use super::{err, Parser};
use crate::diag::{self, CONTEXT};
use crate::model::{Mode, OtherSectionKind, ServerHost};
use crate::units;

fn mode_str(mode: Mode) -> &'static str {
    match mode {
        Mode::Tcp => "tcp",
        Mode::Http => "http",
        Mode::Log => "syslog",
    }
}

impl Parser<'_> {
    fn check_alert(&mut self, text: String) {
        self.push(diag::bare(Severity::Error, text));
    }

    fn check_warn(&mut self, text: String) {
        self.push(diag::bare(Severity::Warning, text));
    }

    pub(super) fn check_config_validity(&mut self) -> u32 {
        let mut code = 0u32;
        let mut cfgerr = 0u32;
        // Userlists referenced by http-request auth / stats and acl http_auth are not
        // checked here: ha-compat keeps userlists by name and the engine resolves them.
        let count = self.config.proxies.len();
        for index in 0..count {
            let px = self.config.proxies[index].clone();
            if px.disabled {
                continue;
            }
            let me_kind = px.kind.type_str();
            let s = &px.settings;
            if px.kind.has_frontend() && px.binds.is_empty() {
                self.check_warn(format!(
                    "{me_kind} '{}' has no 'bind' directive. Please declare it as a backend if this was intended.",
                    px.name
                ));
                code |= err::WARN;
            }
            // A backend without servers is not a configuration error: HAProxy only says
            // "has no server available" when traffic arrives.
            if let Some(name) = s.default_backend.clone() {
                match self.backend_target(index, &name, "default_backend", "as its default backend")
                {
                    Err(()) => cfgerr += 1,
                    Ok(()) if !px.servers.is_empty() => {
                        self.check_warn(format!("In proxy '{}', the 'default_backend' rule always has precedence over the servers, which will never be used.", px.name));
                        code |= err::WARN;
                    }
                    Ok(()) => {}
                }
            }
            for rule in px.use_backends.iter().filter(|r| !r.dynamic) {
                if self
                    .backend_target(
                        index,
                        &rule.backend,
                        "use_backend",
                        "in a 'use_backend' rule",
                    )
                    .is_err()
                {
                    cfgerr += 1;
                }
            }
            // Duplicate server names in one backend.
            for (i, srv) in px.servers.iter().enumerate() {
                if let Some(prev) = px.servers[..i].iter().find(|o| o.name == srv.name) {
                    self.check_alert(format!(
                        "parsing [{}:{}] : {} '{}', another server named '{}' was already defined at line {}, please use distinct names.",
                        srv.at.file, srv.at.line, me_kind, px.name, srv.name, prev.at.line
                    ));
                    cfgerr += 1;
                }
            }
            if !s.stats.http_request.is_empty()
                && (!s.stats.auth.is_empty() || s.stats.realm.is_some())
            {
                self.check_alert(format!("proxy '{}': stats 'auth'/'realm' and 'http-request' can't be used at the same time.", px.name));
                cfgerr += 1;
            }
            for bind in &px.binds {
                if bind.options.ssl
                    && bind.options.crt.is_empty()
                    && bind.options.crt_list.is_empty()
                {
                    let spec = self.bind_spec(bind);
                    self.check_alert(format!("Proxy '{}': no SSL certificate specified for bind '{spec}' at [{}:{}] (use 'crt').", px.name, bind.at.file, bind.at.line));
                    cfgerr += 1;
                }
            }
            if let Some(crate::model::Balance::Hash { expression }) = &s.balance {
                if let Err(e) = super::acl::check_sample_expression(expression) {
                    self.check_alert(format!("{me_kind} '{}' [{}:{}]: failed to parse 'balance hash' expression '{expression}' in : {e}.", px.name, px.at.file, px.at.line));
                    cfgerr += 1;
                }
            }
            for srv in &px.servers {
                let has_port =
                    matches!(srv.address.port, crate::model::ServerPort::Fixed(p) if p > 0);
                let tcp_check_port = s.tcp_check.iter().any(|r| {
                    matches!(
                        r.action,
                        crate::model::TcpCheckAction::Connect { port: Some(_), .. }
                    )
                });
                if srv.options.check == Some(true)
                    && !has_port
                    && srv.options.check_port.is_none()
                    && !tcp_check_port
                    && matches!(srv.address.host, ServerHost::Ip(_) | ServerHost::Name(_))
                {
                    self.check_alert(format!("config: {me_kind} '{}': server '{}' has neither service port nor check port.", px.name, srv.name));
                    cfgerr += 1;
                }
                if srv.options.ssl == Some(true)
                    && srv.options.verify.as_deref() != Some("none")
                    && srv.options.ca_file.is_none()
                    && !self.server_verify_none()
                {
                    let span = self.span_of(&srv.at);
                    let text = format!("'server {}/{}' : verify is enabled by default but no CA file specified. If you're running on a LAN where you're certain to trust the server's certificate, please set an explicit 'verify none' statement on the 'server' line, or use 'ssl-server-verify none' in the global section to disable server-side verifications by default.", px.name, srv.name);
                    self.push(diag::at(Severity::Error, CONTEXT, span, text));
                    cfgerr += 1;
                }
                if let Some(track) = srv
                    .options
                    .other
                    .iter()
                    .find(|o| o.first().is_some_and(|w| w == "track"))
                {
                    let target = track.get(1).cloned().unwrap_or_default();
                    let (be_name, srv_name) = target
                        .split_once('/')
                        .map_or((px.name.clone(), target.clone()), |(b, s)| {
                            (b.to_string(), s.to_string())
                        });
                    let span = self.span_of(&srv.at);
                    let prefix = format!("'server {}/{}' : ", px.name, srv.name);
                    match self
                        .config
                        .proxies
                        .iter()
                        .find(|p| p.name == be_name && p.kind.has_backend())
                    {
                        None => {
                            self.push(diag::at(Severity::Error, CONTEXT, span, format!("{prefix}unable to find required proxy '{be_name}' for tracking.")));
                            cfgerr += 1;
                        }
                        Some(b) => match b.servers.iter().find(|x| x.name == srv_name) {
                            None => {
                                self.push(diag::at(Severity::Error, CONTEXT, span, format!("{prefix}unable to find required server '{srv_name}' for tracking.")));
                                cfgerr += 1;
                            }
                            Some(t)
                                if t.options.check != Some(true)
                                    && t.options.agent_check != Some(true)
                                    && !t
                                        .options
                                        .other
                                        .iter()
                                        .any(|o| o.first().is_some_and(|w| w == "track")) =>
                            {
                                self.push(diag::at(Severity::Error, CONTEXT, span, format!("{prefix}unable to use {be_name}/{srv_name} for tracking as it does not have any check nor agent enabled.")));
                                cfgerr += 1;
                            }
                            Some(_) => {}
                        },
                    }
                }
            }
            for srv in &px.servers {
                if let Some(r) = &srv.options.resolvers {
                    if !self
                        .config
                        .other_sections
                        .iter()
                        .any(|o| o.kind == OtherSectionKind::Resolvers && &o.name == r)
                    {
                        self.check_alert(format!(
                            "{me_kind} '{}', server '{}': unable to find required resolvers '{r}'",
                            px.name, srv.name
                        ));
                        cfgerr += 1;
                    }
                }
            }
            if s.options.check_protocol.as_deref() == Some("external-check") {
                let global_ok = self
                    .config
                    .global
                    .unmodelled
                    .iter()
                    .any(|d| d.words.first().is_some_and(|w| w == "external-check"));
                if !global_ok {
                    self.check_alert(format!("Proxy '{}' : 'option external-check' unable to find required 'global.external-check'.", px.name));
                    cfgerr += 1;
                }
                let fork_ok = self
                    .config
                    .global
                    .unmodelled
                    .iter()
                    .any(|d| d.words.first().is_some_and(|w| w == "insecure-fork-wanted"));
                if !fork_ok {
                    self.check_warn(format!("Proxy '{}' : 'insecure-fork-wanted' not enabled in the global section, 'option external-check' will likely fail.", px.name));
                    code |= err::WARN;
                }
            }
            for d in &s.unmodelled {
                if d.words.first().is_some_and(|w| w == "email-alert")
                    && d.words.get(1).is_some_and(|w| w == "mailers")
                {
                    let name = d.words.get(2).cloned().unwrap_or_default();
                    if !self
                        .config
                        .other_sections
                        .iter()
                        .any(|o| o.kind == OtherSectionKind::Mailers && o.name == name)
                    {
                        self.check_alert(format!(
                            "Proxy '{}': unable to find mailers '{name}'.",
                            px.name
                        ));
                        cfgerr += 1;
                    }
                }
            }
            for rule in s.http_request.iter().chain(s.http_response.iter()) {
                if let crate::model::HttpAction::Other { action, args } = &rule.action {
                    if action == "cache-use" || action == "cache-store" {
                        let name = args.first().cloned().unwrap_or_default();
                        if !self
                            .config
                            .other_sections
                            .iter()
                            .any(|o| o.kind == OtherSectionKind::Cache && o.name == name)
                        {
                            self.check_alert(format!("config: {me_kind} '{}': unable to find the cache '{name}' referenced by the filter 'cache'.", px.name));
                            cfgerr += 1;
                        }
                    }
                }
            }
            // `capture cookie NAME len N`: the last line counts (`capture_name`).
            let cookie_capture =
                s.unmodelled.iter().rev().find(|d| {
                    d.words.len() >= 5 && d.words[0] == "capture" && d.words[1] == "cookie"
                });
            if s.mode != Mode::Http && cookie_capture.is_some() {
                self.check_warn(format!(
                    "'capture' statement ignored for {me_kind} '{}' as it requires HTTP mode.",
                    px.name
                ));
                code |= err::WARN;
            }
            if s.mode != Mode::Http {
                for (list, what) in [
                    (&s.http_request, "http-request"),
                    (&s.http_response, "http-response"),
                    (&s.http_after_response, "http-after-response"),
                ] {
                    if !list.is_empty() {
                        self.check_warn(format!(
                            "'{what}' rules ignored for {me_kind} '{}' as they require HTTP mode.",
                            px.name
                        ));
                        code |= err::WARN;
                    }
                }
            }
            let retry_on = s
                .unmodelled
                .iter()
                .find(|d| d.words.first().is_some_and(|w| w == "retry-on"))
                .map(|d| d.words[1..].join(" "))
                .unwrap_or_default();
            for srv in &px.servers {
                let tfo = srv
                    .options
                    .other
                    .iter()
                    .any(|o| o.first().is_some_and(|w| w == "tfo"));
                let retries_ok = ["conn-failure", "empty-response", "response-timeout"]
                    .iter()
                    .all(|w| {
                        retry_on
                            .split_whitespace()
                            .any(|r| r == *w || r == "all-retryable-errors")
                    });
                if tfo && !retries_ok {
                    let span = self.span_of(&srv.at);
                    self.push(diag::at(Severity::Warning, CONTEXT, span, format!("'server {}/{}' : server has tfo activated, the backend should be configured with at least 'conn-failure', 'empty-response' and 'response-timeout' or we wouldn't be able to retry the connection on failure.", px.name, srv.name)));
                    code |= err::WARN;
                }
            }
            let t = &s.timeouts;
            let needs_warning = matches!(s.mode, Mode::Tcp | Mode::Http)
                && ((px.kind.has_frontend() && t.client.is_none())
                    || (px.kind.has_backend()
                        && !px.servers.is_empty()
                        && (t.connect.is_none()
                            || (t.server.is_none()
                                && (s.mode == Mode::Http || t.tunnel.is_none())))));
            if needs_warning {
                self.check_warn(format!(
                    "missing timeouts for {me_kind} '{}'.\n   | While not properly invalid, you will certainly encounter various problems\n   | with such a configuration. To fix this, please ensure that all following\n   | timeouts are set to a non-zero value: 'client', 'connect', 'server'.",
                    px.name
                ));
                code |= err::WARN;
            }
            if let Some(capture) = cookie_capture {
                // `tune.http.cookielen` (+1 as HAProxy stores it; 64 by default).
                let cookie_len = self
                    .config
                    .global
                    .tune
                    .get("tune.http.cookielen")
                    .map_or(64, |v| units::atol(v).saturating_add(1));
                if units::atol(&capture.words[4]) >= cookie_len {
                    self.check_warn(format!(
                        "truncating capture length to {} bytes for {me_kind} '{}'.",
                        cookie_len - 1,
                        px.name
                    ));
                    code |= err::WARN;
                }
            }
            if s.mode != Mode::Http {
                if px.kind.has_backend() && s.stats.enabled {
                    self.check_warn(format!(
                        "'stats' statement ignored for {me_kind} '{}' as it requires HTTP mode.",
                        px.name
                    ));
                    code |= err::WARN;
                }
                if let Some(ff) = &s.options.forwardfor {
                    let _ = ff;
                    self.check_warn(format!(
                        "'option forwardfor' ignored for {me_kind} '{}' as it requires HTTP mode.",
                        px.name
                    ));
                    code |= err::WARN;
                }
                if s.options.httplog.is_some() && px.kind.has_frontend() {
                    self.check_warn(format!("parsing [{}:{}] : 'option httplog' not usable with {me_kind} '{}' (needs 'mode http'). Falling back to 'option tcplog'.", px.at.file, px.at.line, px.name));
                    code |= err::WARN;
                }
                if s.cookie.is_some() && px.kind.has_backend() {
                    self.check_warn(format!(
                        "cookie will be ignored for {me_kind} '{}' (needs 'mode http').",
                        px.name
                    ));
                    code |= err::WARN;
                }
            }
            if px.kind.has_frontend()
                && s.logs.is_empty()
                && (s.options.httplog.is_some() || s.options.tcplog || s.log_format.is_some())
            {
                self.check_warn(format!(
                    "log format ignored for {me_kind} '{}' since it has no log address.",
                    px.name
                ));
                code |= err::WARN;
            }
        }
        // `errorfiles NAME` must name an http-errors section.
        for index in 0..count {
            let px_name = self.config.proxies[index].name.clone();
            for name in self.config.proxies[index].settings.errorfiles_from.clone() {
                if !self.config.http_errors.iter().any(|h| h.name == name) {
                    let text = format!("proxy '{px_name}': unable to find http-errors section '{name}' referenced by an errorfiles directive.");
                    self.check_alert(text);
                    cfgerr += 1;
                }
            }
        }
        let local_peer = self
            .config
            .global
            .unmodelled
            .iter()
            .rev()
            .find(|d| d.words.first().is_some_and(|w| w == "localpeer"))
            .and_then(|d| d.words.get(1).cloned());
        for section in self.config.other_sections.clone() {
            if section.kind == OtherSectionKind::Peers
                && !super::sections::peers_has_local_peer(&section, local_peer.as_deref())
            {
                let me = local_peer.clone().unwrap_or_else(|| {
                    std::fs::read_to_string("/proc/sys/kernel/hostname")
                        .map(|h| h.trim().to_string())
                        .unwrap_or_default()
                });
                self.check_warn(format!(
                    "Removing incomplete section 'peers {}' (no peer named '{me}').",
                    section.name
                ));
                code |= err::WARN;
            }
        }
        // apply_server_state(): its warnings and what the engine gives back to servers.
        // fopen() opens a directory; its first fgets() fails: read as empty. At most
        // 64 MiB is read (`/dev/zero` must not hang the check; HAProxy stops at the
        // first bad line, which a file of NULs is).
        let read = |path: &str| {
            use std::io::Read;
            let mut bytes = Vec::new();
            let read =
                std::fs::File::open(path).and_then(|f| f.take(64 << 20).read_to_end(&mut bytes));
            match read {
                Err(e) if e.raw_os_error() == Some(21) => Ok(Vec::new()),
                Err(e) => Err(super::io_reason(&e)),
                Ok(_) => Ok(bytes),
            }
        };
        let (warnings, applied) = crate::server_state::plan(&self.config, &read);
        for text in warnings {
            self.check_warn(text);
            code |= err::WARN;
        }
        self.config.server_state = applied;
        let master_worker = self.config.global.master_worker;
        for section in self.config.other_sections.clone() {
            if section.kind != OtherSectionKind::Program {
                continue;
            }
            if !master_worker {
                self.check_alert(
                    "Can't use a 'program' section without master worker mode.".into(),
                );
                cfgerr += 1;
            } else if !section
                .lines
                .iter()
                .any(|d| d.words.first().is_some_and(|w| w == "command"))
            {
                self.check_alert(format!(
                    "The program section '{}' lacks a command to launch.",
                    section.name
                ));
                cfgerr += 1;
            }
        }
        for ul in self.config.userlists.clone() {
            for user in &ul.users {
                for g in &user.groups {
                    if !ul.groups.iter().any(|(name, _)| name == g) {
                        self.check_alert(format!(
                            "userlist '{}': no such group '{g}' specified in user '{}'",
                            ul.name, user.name
                        ));
                        cfgerr += 1;
                    }
                }
            }
            for (g, members) in &ul.groups {
                for m in members {
                    if !ul.users.iter().any(|u| &u.name == m) {
                        self.check_alert(format!(
                            "userlist '{}': no such user '{m}' specified in group '{g}'",
                            ul.name
                        ));
                        cfgerr += 1;
                    }
                }
            }
        }
        if cfgerr > 0 {
            code |= err::ALERT | err::FATAL;
        }
        code
    }

    /// Resolves a `default_backend` / `use_backend` target of proxy `index` as HAProxy
    /// does (exists with the backend capability, is not the proxy itself, compatible
    /// mode); reports why not.
    fn backend_target(
        &mut self,
        index: usize,
        name: &str,
        rule: &str,
        usage: &str,
    ) -> Result<(), ()> {
        let px = &self.config.proxies[index];
        let target = self
            .config
            .proxies
            .iter()
            .enumerate()
            .find(|(_, p)| p.name == name && p.kind.has_backend());
        let text = match target {
            None => format!(
                "Proxy '{}': unable to find required {rule}: '{name}'.",
                px.name
            ),
            Some((i, _)) if i == index => {
                format!("Proxy '{}': loop detected for {rule}: '{name}'.", px.name)
            }
            Some((_, t))
                if t.settings.mode != px.settings.mode
                    && !(px.settings.mode == Mode::Tcp && t.settings.mode == Mode::Http) =>
            {
                format!(
                    "{} {} '{}' ({}:{}) tries to use incompatible {} {} '{}' ({}:{}) {usage} (see 'mode').",
                    mode_str(px.settings.mode), px.kind.type_str(), px.name, px.at.file, px.at.line,
                    mode_str(t.settings.mode), t.kind.type_str(), t.name, t.at.file, t.at.line
                )
            }
            Some(_) => return Ok(()),
        };
        self.check_alert(text);
        Err(())
    }

    fn server_verify_none(&self) -> bool {
        self.config.global.unmodelled.iter().any(|d| {
            d.words.first().is_some_and(|w| w == "ssl-server-verify")
                && d.words.get(1).is_some_and(|v| v == "none")
        })
    }

    /// A bind address as written (`:8443`, `1.2.3.4:80`), for messages.
    fn bind_spec(&self, bind: &crate::model::Bind) -> String {
        match &bind.address {
            crate::model::BindAddress::Inet { host, ports } => {
                let h = host
                    .map(|h| {
                        if h.is_ipv6() {
                            format!("[{h}]")
                        } else {
                            h.to_string()
                        }
                    })
                    .unwrap_or_default();
                if ports.first == ports.last {
                    format!("{h}:{}", ports.first)
                } else {
                    format!("{h}:{}-{}", ports.first, ports.last)
                }
            }
            crate::model::BindAddress::Unix(p) => p.display().to_string(),
            crate::model::BindAddress::Abstract(n) => format!("abns@{n}"),
            crate::model::BindAddress::Fd(n) => format!("fd@{n}"),
            crate::model::BindAddress::Sockpair(n) => format!("sockpair@{n}"),
        }
    }

    /// `srv_init_addr()`: names are resolved now. HAProxy 2.6 refuses the configuration
    /// when a name does not resolve (default `init-addr last,libc`); ha-compat warns and
    /// starts the server in maintenance (as `init-addr libc,none`), so a DNS hiccup or a
    /// placeholder name does not keep the load balancer down (docs/compatibility.md).
    pub(super) fn init_server_addresses(&mut self) -> u32 {
        let mut code = 0;
        let resolver = self.opts.resolver;
        let mut messages = Vec::new();
        for px in &mut self.config.proxies {
            if px.disabled {
                continue;
            }
            for srv in &mut px.servers {
                if let ServerHost::Name(name) = &srv.address.host {
                    if resolver.resolve(name).is_none() {
                        srv.unresolved = true;
                        let none_ok = srv
                            .options
                            .init_addr
                            .as_deref()
                            .is_some_and(|m| m.split(',').any(|w| w == "none"));
                        if !none_ok {
                            messages.push((
                                srv.at.clone(),
                                format!(
                                    "'server {}/{}' : ha-compat: could not resolve address '{name}'; the server starts in maintenance until it resolves (HAProxy 2.6 refuses the configuration: 'could not resolve address').",
                                    px.name, srv.name
                                ),
                            ));
                        }
                    }
                }
            }
        }
        for (at, text) in messages {
            let span = self.span_of(&at);
            self.push(diag::at(Severity::Warning, CONTEXT, span, text));
            code |= err::WARN;
        }
        code
    }

    fn span_of(&self, at: &crate::model::Location) -> conf_diag::Span {
        let file = self
            .sources
            .files()
            .find(|(_, f)| f.display_name == at.file)
            .map(|(id, _)| id)
            .unwrap_or(conf_diag::FileId(0));
        conf_diag::Span::line(file, at.line)
    }
}
