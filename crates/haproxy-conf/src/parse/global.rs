//! The `global` section: `cfg_parse_global()` (src/cfgparse-global.c) for the keywords
//! ha-compat models, the registered global keywords (src/cfgparse-ssl.c, src/cli.c…)
//! for `stats`, `ca-base`, `crt-base`, `ssl-default-*`, `nbthread`, `hard-stop-after`,
//! and the "unknown keyword" hint for everything else.

use std::path::PathBuf;

use super::{err, Line, Parser};
use crate::model::{Directive, StatsSocket};
use crate::registry::registry;
use crate::suggest::best_match;
use crate::units::{self, parse_time, TimeError, TimeUnit};

/// `common_kw_list` of src/cfgparse-global.c: hard-coded keywords offered as hints.
pub(crate) const GLOBAL_COMMON_KW: &[&str] = &[
    "global",
    "daemon",
    "master-worker",
    "noepoll",
    "nokqueue",
    "noevports",
    "nopoll",
    "busy-polling",
    "set-dumpable",
    "insecure-fork-wanted",
    "insecure-setuid-wanted",
    "nosplice",
    "nogetaddrinfo",
    "noreuseport",
    "quiet",
    "zero-warning",
    "tune.runqueue-depth",
    "tune.maxpollevents",
    "tune.maxaccept",
    "tune.chksize",
    "tune.recv_enough",
    "tune.buffers.limit",
    "tune.buffers.reserve",
    "tune.bufsize",
    "tune.maxrewrite",
    "tune.idletimer",
    "tune.rcvbuf.client",
    "tune.rcvbuf.server",
    "tune.sndbuf.client",
    "tune.sndbuf.server",
    "tune.pipesize",
    "tune.http.cookielen",
    "tune.http.logurilen",
    "tune.http.maxhdr",
    "tune.comp.maxlevel",
    "tune.pattern.cache-size",
    "tune.fast-forward",
    "uid",
    "gid",
    "external-check",
    "user",
    "group",
    "nbproc",
    "maxconn",
    "ssl-server-verify",
    "maxconnrate",
    "maxsessrate",
    "maxsslrate",
    "maxcomprate",
    "maxpipes",
    "maxzlibmem",
    "maxcompcpuusage",
    "ulimit-n",
    "chroot",
    "description",
    "node",
    "pidfile",
    "unix-bind",
    "log",
    "log-send-hostname",
    "server-state-base",
    "server-state-file",
    "log-tag",
    "spread-checks",
    "max-spread-checks",
    "cpu-map",
    "setenv",
    "unsetenv",
    "resetenv",
    "strict-limits",
    "localpeer",
    "numa-cpu-mapping",
    "defaults",
    "listen",
    "frontend",
    "backend",
    "peers",
    "resolvers",
    "cluster-secret",
    "no-quic",
    "limited-quic",
];

/// Hard-coded global keywords that only take an integer and may be given once.
const INTEGER_ONCE: &[&str] = &[
    "tune.runqueue-depth",
    "tune.maxpollevents",
    "tune.maxaccept",
    "tune.recv_enough",
    "tune.buffers.limit",
    "tune.buffers.reserve",
    "tune.bufsize",
    "tune.maxrewrite",
    "tune.rcvbuf.client",
    "tune.rcvbuf.server",
    "tune.sndbuf.client",
    "tune.sndbuf.server",
    "tune.pipesize",
    "tune.http.cookielen",
    "tune.http.logurilen",
    "tune.http.maxhdr",
    "tune.comp.maxlevel",
    "tune.pattern.cache-size",
    "maxconnrate",
    "maxsessrate",
    "maxsslrate",
    "maxcomprate",
    "maxpipes",
    "maxzlibmem",
    "maxcompcpuusage",
    "ulimit-n",
    "fd-hard-limit",
    "max-spread-checks",
];

/// Hard-coded flag keywords without arguments.
const FLAGS: &[&str] = &[
    "noepoll",
    "nokqueue",
    "noevports",
    "nopoll",
    "busy-polling",
    "set-dumpable",
    "h2-workaround-bogus-websocket-clients",
    "insecure-fork-wanted",
    "insecure-setuid-wanted",
    "nosplice",
    "nogetaddrinfo",
    "noreuseport",
    "quiet",
    "zero-warning",
    "external-check",
    "strict-limits",
    "numa-cpu-mapping",
    "expose-experimental-directives",
];

impl Parser<'_> {
    pub(super) fn too_many_args(&mut self, line: &Line, max: usize) -> bool {
        self.too_many_args_idx(line, max, 0)
    }

    /// `alertif_too_many_args_idx()`.
    pub(super) fn too_many_args_idx(&mut self, line: &Line, max: usize, index: usize) -> bool {
        let extra = index + max + 1;
        if !line.has(extra) {
            return false;
        }
        let kw = line.words[..=index.min(line.words.len() - 1)].join(" ");
        self.alert(
            line.span,
            format!(
                "'{kw}' cannot handle unexpected argument '{}'.",
                line.arg(extra)
            ),
        );
        true
    }

    fn once(&mut self, line: &Line, already: bool) -> bool {
        if already {
            self.alert(
                line.span,
                format!("'{}' already specified. Continuing.", line.kw()),
            );
        }
        already
    }

    pub(super) fn global_line(&mut self, line: &Line) -> u32 {
        let kw = line.kw().to_string();
        let g = self.config.global.clone();
        match kw.as_str() {
            "global" => {
                if self.too_many_args(line, 0) {
                    return err::ALERT | err::FATAL;
                }
                0
            }
            "daemon" | "master-worker" => {
                if kw == "master-worker" && line.has(1) {
                    if line.arg(1) != "no-exit-on-failure" {
                        self.alert(
                            line.span,
                            format!("'{kw}' only supports 'no-exit-on-failure' option."),
                        );
                        return err::ALERT | err::FATAL;
                    }
                } else if self.too_many_args(line, 0) {
                    return err::ALERT | err::FATAL;
                }
                if kw == "daemon" {
                    self.config.global.daemon = true;
                } else {
                    self.config.global.master_worker = true;
                }
                0
            }
            k if FLAGS.contains(&k) => {
                if k != "expose-experimental-directives" && self.too_many_args(line, 0) {
                    return err::ALERT | err::FATAL;
                }
                self.keep_global(line);
                0
            }
            "maxconn" => {
                if self.too_many_args(line, 1) {
                    return err::ALERT | err::FATAL;
                }
                if self.once(line, g.maxconn.is_some()) {
                    return err::ALERT;
                }
                if !line.has(1) {
                    self.alert(line.span, format!("'{kw}' expects an integer argument."));
                    return err::ALERT | err::FATAL;
                }
                self.config.global.maxconn = Some(units::atol(line.arg(1)).max(0) as u32);
                0
            }
            "tune.chksize" => {
                self.alert_tight(
                    line.span,
                    format!(
                        "option '{kw}' is not supported any more (tune.bufsize is used instead)."
                    ),
                );
                err::ALERT | err::FATAL
            }
            k if INTEGER_ONCE.contains(&k) => {
                if self.too_many_args(line, 1) {
                    return err::ALERT | err::FATAL;
                }
                if self.once(line, g.tune.contains_key(k)) {
                    return err::ALERT;
                }
                if !line.has(1) {
                    self.alert(line.span, format!("'{kw}' expects an integer argument."));
                    return err::ALERT | err::FATAL;
                }
                if kw == "tune.bufsize" && units::atol(line.arg(1)) < 1024 {
                    // HAProxy reads "16k" as 16 and then crashes (SIGSEGV) during the check.
                    self.alert(line.span, format!("ha-compat: '{kw} {}' means {} bytes (a plain number of bytes is expected), too small to hold a request; HAProxy 2.6 crashes on it.", line.arg(1), units::atol(line.arg(1))));
                    return err::ALERT | err::FATAL;
                }
                self.config
                    .global
                    .tune
                    .insert(kw.clone(), line.arg(1).to_string());
                0
            }
            "nbproc" => {
                if line.arg(1) == "1" && !line.has(2) {
                    // Deliberate difference: one process is what 2.6 does anyway.
                    self.warn(line.span, "ha-compat: 'nbproc 1' is accepted and has no effect; HAProxy 2.6 refuses 'nbproc' (removed in 2.5): remove the line.");
                    return err::WARN;
                }
                self.alert(line.span, "nbproc is not supported any more since HAProxy 2.5. Threads will automatically be used on multi-processor machines if available.");
                err::ALERT | err::FATAL
            }
            "uid" | "gid" => {
                if self.too_many_args(line, 1) {
                    return err::ALERT | err::FATAL;
                }
                let already = if kw == "uid" {
                    g.uid.is_some()
                } else {
                    g.gid.is_some()
                };
                if already {
                    let what = if kw == "uid" {
                        "user/uid already specified"
                    } else {
                        "group/gid already specified"
                    };
                    self.alert(line.span, format!("{what}. Continuing."));
                    return err::ALERT;
                }
                if !line.has(1) {
                    self.alert(line.span, format!("'{kw}' expects an integer argument."));
                    return err::ALERT | err::FATAL;
                }
                match strl2irc(line.arg(1)) {
                    Some(v) => {
                        if kw == "uid" {
                            self.config.global.uid = Some(v);
                        } else {
                            self.config.global.gid = Some(v);
                        }
                        0
                    }
                    None => {
                        let other = if kw == "uid" { "user" } else { "group" };
                        let what = if kw == "uid" {
                            "system user"
                        } else {
                            "system group"
                        };
                        self.warn(
                            line.span,
                            format!(
                                " {kw}: string '{}' is not a number.\n   | You might want to use the '{other}' parameter to use a {what} name.",
                                line.arg(1)
                            ),
                        );
                        err::WARN
                    }
                }
            }
            "user" | "group" => {
                if self.too_many_args(line, 1) {
                    return err::ALERT | err::FATAL;
                }
                let is_user = kw == "user";
                let already = if is_user {
                    g.uid.is_some()
                } else {
                    g.gid.is_some()
                };
                if already {
                    let what = if is_user {
                        "user/uid already specified"
                    } else {
                        "gid/group was already specified"
                    };
                    self.alert(line.span, format!("{what}. Continuing."));
                    return err::ALERT;
                }
                let name = line.arg(1).to_string();
                let id = if is_user {
                    self.opts.accounts.user_id(&name)
                } else {
                    self.opts.accounts.group_id(&name)
                };
                match id {
                    Some(id) => {
                        if is_user {
                            self.config.global.uid = Some(id);
                            self.config.global.user = Some(name);
                        } else {
                            self.config.global.gid = Some(id);
                            self.config.global.group = Some(name);
                        }
                        0
                    }
                    None => {
                        let what = if is_user { "user" } else { "group" };
                        self.alert(
                            line.span,
                            format!("cannot find {what} id for '{name}' (0:Success)"),
                        );
                        err::ALERT | err::FATAL
                    }
                }
            }
            "chroot" | "pidfile" => {
                if self.too_many_args(line, 1) {
                    return err::ALERT | err::FATAL;
                }
                let already = if kw == "chroot" {
                    g.chroot.is_some()
                } else {
                    g.pidfile.is_some()
                };
                if self.once(line, already) {
                    return err::ALERT;
                }
                if !line.has(1) {
                    let what = if kw == "chroot" {
                        "a directory as an argument"
                    } else {
                        "a file name as an argument"
                    };
                    self.alert(line.span, format!("'{kw}' expects {what}."));
                    return err::ALERT | err::FATAL;
                }
                let path = Some(PathBuf::from(line.arg(1)));
                if kw == "chroot" {
                    self.config.global.chroot = path;
                } else {
                    self.config.global.pidfile = path;
                }
                0
            }
            "description" | "node" => {
                if kw == "description" && !line.has(1) {
                    self.alert_tight(line.span, format!("'{kw}' expects a string argument."));
                    return err::ALERT | err::FATAL;
                }
                let text = line.words[1..].join(" ");
                if kw == "description" {
                    self.config.global.description = Some(text);
                } else {
                    if self.too_many_args(line, 1) {
                        return err::ALERT | err::FATAL;
                    }
                    if !line.has(1) {
                        self.alert_tight(line.span, format!("'{kw}' requires valid node name - non-empty string and may only contain letters, digits, '-', '_' and '.'."));
                        return err::ALERT | err::FATAL;
                    }
                    self.config.global.node = Some(text);
                }
                0
            }
            "log" => {
                if line.kwm == super::Kwm::No {
                    if line.has(1) {
                        self.alert(
                            line.span,
                            format!("{kw} : 'no log' does not expect arguments"),
                        );
                        return err::ALERT | err::FATAL;
                    }
                    self.config.global.logs.clear();
                    return 0;
                }
                match super::proxy::parse_log_target(self, line, true) {
                    Ok(Some(target)) if !self.log_address_resolves(&target.address) => {
                        let raw = line.arg(1).to_string();
                        let host = match &target.address {
                            crate::model::LogAddress::Udp { host, .. }
                            | crate::model::LogAddress::Tcp { host, .. } => host.clone(),
                            _ => raw.clone(),
                        };
                        let shown = if raw.contains(':') {
                            raw.clone()
                        } else {
                            format!("{raw}:514")
                        };
                        self.alert(
                            line.span,
                            format!("{kw} : invalid address: '{host}' in '{shown}'\n"),
                        );
                        err::ALERT | err::FATAL
                    }
                    Ok(Some(target)) => {
                        self.config.global.logs.push(target);
                        0
                    }
                    Ok(None) => 0,
                    Err(msg) => {
                        self.alert(line.span, format!("{kw} : {msg}"));
                        err::ALERT | err::FATAL
                    }
                }
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
                self.config.global.log_tag = Some(line.arg(1).to_string());
                0
            }
            "log-send-hostname" => {
                if self.too_many_args(line, 1) {
                    return err::ALERT | err::FATAL;
                }
                self.config.global.log_send_hostname = Some(line.arg(1).to_string());
                0
            }
            "spread-checks" => {
                if self.too_many_args(line, 1) {
                    return err::ALERT | err::FATAL;
                }
                if g.spread_checks.is_some() {
                    self.alert_tight(line.span, "spread-checks already specified. Continuing.");
                    return err::ALERT;
                }
                if !line.has(1) {
                    self.alert_tight(
                        line.span,
                        format!("'{kw}' expects an integer argument (0..50)."),
                    );
                    return err::ALERT | err::FATAL;
                }
                let v = units::atol(line.arg(1));
                if !(0..=50).contains(&v) {
                    self.alert_tight(
                        line.span,
                        "'spread-checks' needs a positive value in range 0..50.",
                    );
                    return err::ALERT | err::FATAL;
                }
                self.config.global.spread_checks = Some(v as u32);
                0
            }
            "stats" => self.global_stats(line),
            "ca-base" | "crt-base" => {
                let already = if kw == "ca-base" {
                    g.ca_base.is_some()
                } else {
                    g.crt_base.is_some()
                };
                if already {
                    self.alert(line.span, format!("{kw} : '{kw}' already specified."));
                    return err::ALERT | err::FATAL;
                }
                if !line.has(1) {
                    self.alert(line.span, format!("{kw} : '{kw}' : missing dir path."));
                    return err::ALERT | err::FATAL;
                }
                if self.too_many_args(line, 1) {
                    return err::ALERT | err::FATAL;
                }
                let path = Some(PathBuf::from(line.arg(1)));
                if kw == "ca-base" {
                    self.config.global.ca_base = path;
                } else {
                    self.config.global.crt_base = path;
                }
                0
            }
            "ssl-default-bind-ciphers"
            | "ssl-default-bind-ciphersuites"
            | "ssl-default-server-ciphers"
            | "ssl-default-server-ciphersuites" => {
                if self.too_many_args(line, 1) {
                    return err::ALERT | err::FATAL;
                }
                if !line.has(1) {
                    self.alert(
                        line.span,
                        format!(
                            "{kw} : global statement '{kw}' expects a cipher suite as an argument."
                        ),
                    );
                    return err::ALERT | err::FATAL;
                }
                let value = Some(line.arg(1).to_string());
                let g = &mut self.config.global;
                match kw.as_str() {
                    "ssl-default-bind-ciphers" => g.ssl_default_bind_ciphers = value,
                    "ssl-default-bind-ciphersuites" => g.ssl_default_bind_ciphersuites = value,
                    "ssl-default-server-ciphers" => g.ssl_default_server_ciphers = value,
                    _ => g.ssl_default_server_ciphersuites = value,
                }
                0
            }
            "ssl-default-bind-options" | "ssl-default-server-options" => {
                let mut options = Vec::new();
                let mut i = 1;
                while line.has(i) {
                    let word = line.arg(i);
                    if word == "ssl-min-ver" || word == "ssl-max-ver" {
                        if !matches!(
                            line.arg(i + 1),
                            "SSLv3" | "TLSv1.0" | "TLSv1.1" | "TLSv1.2" | "TLSv1.3"
                        ) {
                            self.alert(
                                line.span,
                                format!(
                                    "{kw} : '{word}' : unknown ssl/tls version string '{}'.",
                                    line.arg(i + 1)
                                ),
                            );
                            return err::ALERT | err::FATAL;
                        }
                        options.push(format!("{word} {}", line.arg(i + 1)));
                        i += 2;
                        continue;
                    }
                    if !SSL_OPTIONS.contains(&word) {
                        self.alert(
                            line.span,
                            format!("{kw} : unknown option '{word}' on global statement '{kw}'."),
                        );
                        return err::ALERT | err::FATAL;
                    }
                    options.push(word.to_string());
                    i += 1;
                }
                if kw == "ssl-default-bind-options" {
                    self.config.global.ssl_default_bind_options = options;
                } else {
                    self.config.global.ssl_default_server_options = options;
                }
                0
            }
            "nbthread" => {
                if self.too_many_args(line, 1) {
                    return err::ALERT | err::FATAL;
                }
                let v = units::atol(line.arg(1));
                if !line.has(1) || !(1..=64).contains(&v) {
                    self.alert(
                        line.span,
                        format!(
                            "{kw} : '{kw}' must be between 1 and 64 (was {}).",
                            line.arg(1)
                        ),
                    );
                    return err::ALERT | err::FATAL;
                }
                self.config.global.nbthread = Some(v as u32);
                0
            }
            "hard-stop-after" => {
                if !line.has(1) {
                    self.alert(
                        line.span,
                        format!("{kw} : '{kw}' expects <time> as argument."),
                    );
                    return err::ALERT | err::FATAL;
                }
                match parse_time(line.arg(1), TimeUnit::Millis) {
                    Ok(t) => {
                        self.config.global.hard_stop_after = Some(units::millis(t.value));
                        0
                    }
                    Err(e) => {
                        self.alert(
                            line.span,
                            format!("{kw} : {}", time_error_text(&e, line.arg(1), &kw)),
                        );
                        err::ALERT | err::FATAL
                    }
                }
            }
            _ => {
                let reg = registry();
                if reg.global.iter().any(|k| k == &kw)
                    || GLOBAL_COMMON_KW.contains(&kw.as_str())
                    || OTHER_HARDCODED.contains(&kw.as_str())
                {
                    if kw.starts_with("tune.") {
                        self.config
                            .global
                            .tune
                            .insert(kw.clone(), line.words[1..].join(" "));
                    }
                    if REFUSED_GLOBAL.contains(&kw.as_str()) {
                        self.alert(line.span, format!("ha-compat: '{kw}' is refused: ha-compat does not run Lua (no feature(LUA)); remove it or guard it with '.if feature(LUA)'."));
                        return err::ALERT | err::FATAL;
                    }
                    self.keep_global(line);
                    if !kw.starts_with("tune.")
                        && !HARMLESS_GLOBAL.contains(&kw.as_str())
                        && !crate::server_state::KEYWORDS.contains(&kw.as_str())
                    {
                        self.unmodelled(line, &kw);
                        return 0;
                    }
                    return 0;
                }
                let candidates = crate::suggest::haproxy_candidates("global");
                match best_match(&kw, candidates.iter().copied()) {
                    Some(best) => self.alert(
                        line.span,
                        format!("unknown keyword '{kw}' in 'global' section; did you mean '{best}' maybe ?"),
                    ),
                    None => self.alert(line.span, format!("unknown keyword '{kw}' in 'global' section")),
                }
                err::ALERT | err::FATAL
            }
        }
    }

    /// A log server's host must be an address or a name that resolves now.
    pub(super) fn log_address_resolves(&self, address: &crate::model::LogAddress) -> bool {
        match address {
            crate::model::LogAddress::Udp { host, .. }
            | crate::model::LogAddress::Tcp { host, .. } => {
                host.parse::<std::net::IpAddr>().is_ok()
                    || self.opts.resolver.resolve(host).is_some()
            }
            _ => true,
        }
    }

    fn keep_global(&mut self, line: &Line) {
        let at = self.location(line.span);
        self.config.global.unmodelled.push(Directive {
            at,
            words: line.words.clone(),
        });
    }

    /// `stats socket|timeout|maxconn|bind-process` in global (src/cli.c).
    fn global_stats(&mut self, line: &Line) -> u32 {
        match line.arg(1) {
            "socket" => {
                if !line.has(2) {
                    self.alert(line.span, "stats : 'stats socket' in global section expects an address or a path to a UNIX socket.");
                    return err::ALERT | err::FATAL;
                }
                let address = match super::bind::parse_bind_address(line.arg(2)) {
                    Ok(mut list) if list.len() == 1 => list.remove(0),
                    Ok(_) => {
                        self.alert(line.span, format!("stats : 'stats socket' : error encountered while parsing listening address '{}'.", line.arg(2)));
                        return err::ALERT | err::FATAL;
                    }
                    Err(msg) => {
                        self.alert(
                            line.span,
                            format!("stats : '{} {}' : {msg}", line.arg(0), line.arg(1)),
                        );
                        return err::ALERT | err::FATAL;
                    }
                };
                let (options, status) = self.bind_options(line, 3, "global");
                if status & err::FATAL != 0 {
                    return status;
                }
                let at = self.location(line.span);
                self.config.global.stats_sockets.push(StatsSocket {
                    at,
                    address,
                    options,
                });
                status
            }
            "timeout" => match parse_time(line.arg(2), TimeUnit::Millis) {
                Ok(t) if t.value > 0 => {
                    self.config.global.stats_timeout = Some(units::millis(t.value));
                    0
                }
                Ok(_) => {
                    self.alert(
                        line.span,
                        "stats : 'stats timeout' expects a positive value.",
                    );
                    err::ALERT | err::FATAL
                }
                Err(TimeError::Unexpected(_, c)) if line.has(2) => {
                    self.alert(line.span, format!("stats : unexpected character '{c}' in 'stats timeout' in 'global' section."));
                    err::ALERT | err::FATAL
                }
                Err(_) => {
                    self.alert(
                        line.span,
                        "stats : 'stats timeout' expects a positive value.",
                    );
                    err::ALERT | err::FATAL
                }
            },
            "maxconn" => {
                let v = units::atol(line.arg(2));
                if v <= 0 {
                    self.alert(
                        line.span,
                        "stats : 'stats maxconn' expects a positive value.",
                    );
                    return err::ALERT | err::FATAL;
                }
                self.config.global.stats_maxconn = Some(v as u32);
                0
            }
            "bind-process" => {
                self.warn(line.span, "stats : 'stats bind-process' is deprecated and will be removed in 2.7: remove it.");
                err::WARN
            }
            other => {
                self.alert(line.span, format!("stats : 'stats' only supports 'socket', 'maxconn', 'bind-process' and 'timeout' (got '{other}')."));
                err::ALERT | err::FATAL
            }
        }
    }
}

/// SSL option words accepted by `ssl-default-bind-options` / `-server-options`.
const SSL_OPTIONS: &[&str] = &[
    "no-sslv3",
    "no-tlsv10",
    "no-tlsv11",
    "no-tlsv12",
    "no-tlsv13",
    "force-sslv3",
    "force-tlsv10",
    "force-tlsv11",
    "force-tlsv12",
    "force-tlsv13",
    "no-tls-tickets",
    "prefer-client-ciphers",
    "ssl-min-ver",
    "ssl-max-ver",
];

/// Hard-coded global keywords not in `common_kw_list` but accepted by 2.6.
pub(crate) const OTHER_HARDCODED: &[&str] = &[
    "tune.chksize",
    "tune.idletimer",
    "cluster-secret",
    "unix-bind",
    "server-state-base",
    "server-state-file",
    "cpu-map",
    "setenv",
    "unsetenv",
    "resetenv",
    "localpeer",
    "fd-hard-limit",
];

/// Global keywords with no effect on behaviour ha-compat must reproduce (tuning of
/// HAProxy internals, environment, state files), accepted without a warning.
pub(crate) const HARMLESS_GLOBAL: &[&str] = &[
    "noepoll",
    "nokqueue",
    "noevports",
    "nopoll",
    "busy-polling",
    "set-dumpable",
    "nosplice",
    "nogetaddrinfo",
    "noreuseport",
    "quiet",
    "insecure-fork-wanted",
    "insecure-setuid-wanted",
    "cpu-map",
    "numa-cpu-mapping",
    "grace",
    "close-spread-time",
    "maxsslconn",
    "ssl-dh-param-file",
    "ssl-server-verify",
    "profiling.tasks",
    "no-memory-trimming",
    "expose-experimental-directives",
    "thread-groups",
    "thread-group",
    "ulimit-n",
    "fd-hard-limit",
    "maxpipes",
    "maxzlibmem",
    "maxcompcpuusage",
    "maxcomprate",
    "tune.chksize",
    "tune.idletimer",
    "h2-workaround-bogus-websocket-clients",
];

/// Global keywords refused because ha-compat does not embed the engine they need.
pub(crate) const REFUSED_GLOBAL: &[&str] = &["lua-load", "lua-load-per-thread", "lua-prepend-path"];

/// `strl2irc()`: a whole-string signed decimal integer.
fn strl2irc(s: &str) -> Option<u32> {
    if s.is_empty() {
        return None;
    }
    let v: i64 = s.parse().ok()?;
    Some(v as u32)
}

/// The proxy-level wording of a time error, as `proxy_parse_timeout()` reports it.
pub(crate) fn time_error_text(e: &TimeError, arg: &str, name: &str) -> String {
    match e {
        TimeError::Overflow => format!("timer overflow in argument '{arg}' to '{name}' (maximum value is 2147483647 ms or ~24.8 days)"),
        TimeError::Underflow => format!("timer underflow in argument '{arg}' to '{name}' (minimum non-null value is 1 ms)"),
        TimeError::Unexpected(_, c) => format!("unexpected character '{c}' in '{name}'"),
    }
}
