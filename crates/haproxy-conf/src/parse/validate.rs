//! What `check_config_validity()` (src/cfgparse.c) checks once every file is read, for
//! the parts ha-compat models, and `srv_init_addr()`'s address resolution.

use conf_diag::Severity;

use super::{err, Parser};
use crate::diag::{self, CONTEXT};
use crate::model::{AclRef, Condition, Mode, ProxyKind, ServerHost};

fn kind_str(kind: ProxyKind) -> &'static str {
    match kind {
        ProxyKind::Frontend => "frontend",
        ProxyKind::Backend => "backend",
        ProxyKind::Listen => "proxy",
    }
}

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
            let me_kind = kind_str(px.kind);
            let s = &px.settings;
            if px.kind.has_frontend() && px.binds.is_empty() {
                self.check_warn(format!(
                    "{me_kind} '{}' has no 'bind' directive. Please declare it as a backend if this was intended.",
                    px.name
                ));
                code |= err::WARN;
            }
            if px.kind.has_backend() && px.servers.is_empty() && px.kind == ProxyKind::Backend {
                // HAProxy only notices this when traffic arrives ("has no server available").
            }
            if let Some(name) = s.default_backend.clone() {
                match self.config.proxies.iter().find(|p| p.name == name && p.kind.has_backend()) {
                    None => {
                        self.check_alert(format!("Proxy '{}': unable to find required default_backend: '{name}'.", px.name));
                        cfgerr += 1;
                    }
                    Some(t) if t.name == px.name => {
                        self.check_alert(format!("Proxy '{}': loop detected for default_backend: '{name}'.", px.name));
                        cfgerr += 1;
                    }
                    Some(t) if t.settings.mode != s.mode && !(s.mode == Mode::Tcp && t.settings.mode == Mode::Http) => {
                        let text = format!(
                            "{} {me_kind} '{}' ({}:{}) tries to use incompatible {} {} '{}' ({}:{}) as its default backend (see 'mode').",
                            mode_str(s.mode), px.name, px.at.file, px.at.line,
                            mode_str(t.settings.mode), kind_str(t.kind), t.name, t.at.file, t.at.line
                        );
                        self.check_alert(text);
                        cfgerr += 1;
                    }
                    Some(_) => {
                        if !px.servers.is_empty() {
                            self.check_warn(format!("In proxy '{}', the 'default_backend' rule always has precedence over the servers, which will never be used.", px.name));
                            code |= err::WARN;
                        }
                    }
                }
            }
            for rule in &px.use_backends {
                if rule.dynamic {
                    continue;
                }
                let name = &rule.backend;
                match self.config.proxies.iter().find(|p| &p.name == name && p.kind.has_backend()) {
                    None => {
                        self.check_alert(format!("Proxy '{}': unable to find required use_backend: '{name}'.", px.name));
                        cfgerr += 1;
                    }
                    Some(t) if t.name == px.name => {
                        self.check_alert(format!("Proxy '{}': loop detected for use_backend: '{name}'.", px.name));
                        cfgerr += 1;
                    }
                    Some(t) if t.settings.mode != s.mode && !(s.mode == Mode::Tcp && t.settings.mode == Mode::Http) => {
                        let text = format!(
                            "{} {me_kind} '{}' ({}:{}) tries to use incompatible {} {} '{}' ({}:{}) in a 'use_backend' rule (see 'mode').",
                            mode_str(s.mode), px.name, px.at.file, px.at.line,
                            mode_str(t.settings.mode), kind_str(t.kind), t.name, t.at.file, t.at.line
                        );
                        self.check_alert(text);
                        cfgerr += 1;
                    }
                    Some(_) => {}
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
            let t = &s.timeouts;
            let needs_warning = matches!(s.mode, Mode::Tcp | Mode::Http)
                && ((px.kind.has_frontend() && t.client.is_none())
                    || (px.kind.has_backend()
                        && !px.servers.is_empty()
                        && (t.connect.is_none()
                            || (t.server.is_none() && (s.mode == Mode::Http || t.tunnel.is_none())))));
            if needs_warning {
                self.check_warn(format!(
                    "missing timeouts for {me_kind} '{}'.\n   | While not properly invalid, you will certainly encounter various problems\n   | with such a configuration. To fix this, please ensure that all following\n   | timeouts are set to a non-zero value: 'client', 'connect', 'server'.",
                    px.name
                ));
                code |= err::WARN;
            }
            if s.mode != Mode::Http {
                if px.kind.has_backend() && s.stats.enabled {
                    self.check_warn(format!("'stats' statement ignored for {me_kind} '{}' as it requires HTTP mode.", px.name));
                    code |= err::WARN;
                }
                if let Some(ff) = &s.options.forwardfor {
                    let _ = ff;
                    self.check_warn(format!("'option forwardfor' ignored for {me_kind} '{}' as it requires HTTP mode.", px.name));
                    code |= err::WARN;
                }
                if s.options.httplog.is_some() && px.kind.has_frontend() {
                    self.check_warn(format!("parsing [{}:{}] : 'option httplog' not usable with {me_kind} '{}' (needs 'mode http'). Falling back to 'option tcplog'.", px.at.file, px.at.line, px.name));
                    code |= err::WARN;
                }
                if s.cookie.is_some() && px.kind.has_backend() {
                    self.check_warn(format!("cookie will be ignored for {me_kind} '{}' (needs 'mode http').", px.name));
                    code |= err::WARN;
                }
            }
            if px.kind.has_frontend()
                && s.logs.is_empty()
                && (s.options.httplog.is_some() || s.options.tcplog || s.log_format.is_some())
            {
                self.check_warn(format!("log format ignored for {me_kind} '{}' since it has no log address.", px.name));
                code |= err::WARN;
            }
            // Conditions naming ACLs are resolved at parse time; anonymous ones too.
            let _ = |c: &Condition| c.any_of.iter().flatten().all(|t| matches!(t.acl, AclRef::Named(_) | AclRef::Anonymous(_)));
        }
        if let Some(l) = self
            .config
            .http_errors
            .iter()
            .map(|h| h.name.clone())
            .next()
        {
            let _ = l;
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
        if cfgerr > 0 {
            code |= err::ALERT | err::FATAL;
        }
        code
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
                        let none_ok = srv.options.init_addr.as_deref().is_some_and(|m| m.split(',').any(|w| w == "none"));
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
