//! Every haproxy.cfg keyword HAProxy 2.6.12 knows, with what ha-compat does with it,
//! rendered as the table in docs/compatibility.md (`ha-compat keywords --haproxy
//! --markdown`; crates/ha-compat/tests/docs.rs fails when the two drift).
//!
//! Statuses: **typed** (read into the model with HAProxy's checks), **kept** (accepted
//! as HAProxy accepts it, kept as words, a NOTICE says ha-compat does not act on it yet;
//! never for routing or security keywords), **refused** (an error: routing/security
//! keywords not implemented yet, or engines ha-compat does not embed), **removed**
//! (HAProxy 2.6 refuses it as removed; ha-compat does the same unless noted).

use std::collections::BTreeSet;

use crate::parse::global::{GLOBAL_COMMON_KW, HARMLESS_GLOBAL, OTHER_HARDCODED, REFUSED_GLOBAL};
use crate::parse::proxy::{
    CFG_OPTS_ORDER, COMMON_OPTIONS, LISTEN_COMMON_KW, REFUSED_PROXY, REMOVED_REQ_RSP,
    UNMODELLED_PROXY,
};
use crate::registry::registry;

const TYPED_GLOBAL: &[&str] = &[
    "global",
    "daemon",
    "master-worker",
    "maxconn",
    "uid",
    "gid",
    "user",
    "group",
    "chroot",
    "pidfile",
    "description",
    "node",
    "log",
    "log-tag",
    "log-send-hostname",
    "spread-checks",
    "stats",
    "ca-base",
    "crt-base",
    "ssl-default-bind-ciphers",
    "ssl-default-bind-ciphersuites",
    "ssl-default-bind-options",
    "ssl-default-server-ciphers",
    "ssl-default-server-ciphersuites",
    "ssl-default-server-options",
    "nbthread",
    "hard-stop-after",
];

const TYPED_PROXY: &[&str] = &[
    "capture",
    "http-after-response",
    "listen",
    "frontend",
    "backend",
    "defaults",
    "server",
    "default-server",
    "bind",
    "mode",
    "id",
    "description",
    "disabled",
    "enabled",
    "acl",
    "use_backend",
    "default_backend",
    "option",
    "timeout",
    "retries",
    "maxconn",
    "backlog",
    "fullconn",
    "balance",
    "hash-type",
    "log",
    "log-format",
    "log-tag",
    "errorfile",
    "errorfiles",
    "stats",
    "cookie",
    "http-request",
    "http-response",
    "redirect",
    "tcp-check",
    "http-check",
    "monitor-uri",
    "http-reuse",
];

/// Options with their own typed field besides HAProxy's `common_options` (the
/// `cfg_opts` ones are on/off flags, also typed).
const TYPED_OPTIONS_EXTRA: &[&str] = &["httpslog", "originalto"];

const TYPED_BIND: &[&str] = &[
    "ssl",
    "crt",
    "crt-list",
    "ca-file",
    "alpn",
    "accept-proxy",
    "name",
    "interface",
    "transparent",
    "v4v6",
    "v6only",
    "maxconn",
    "backlog",
    "mode",
    "uid",
    "gid",
    "user",
    "group",
    "level",
    "expose-fd",
    "ssl-min-ver",
    "ssl-max-ver",
    "ciphers",
    "ciphersuites",
    "verify",
];

const TYPED_SERVER: &[&str] = &[
    "check",
    "no-check",
    "inter",
    "fastinter",
    "downinter",
    "rise",
    "fall",
    "weight",
    "maxconn",
    "minconn",
    "maxqueue",
    "backup",
    "no-backup",
    "disabled",
    "enabled",
    "port",
    "addr",
    "slowstart",
    "send-proxy",
    "no-send-proxy",
    "send-proxy-v2",
    "no-send-proxy-v2",
    "ssl",
    "no-ssl",
    "check-ssl",
    "no-check-ssl",
    "verify",
    "sni",
    "ca-file",
    "cookie",
    "id",
    "init-addr",
    "resolvers",
    "agent-check",
    "no-agent-check",
];

const TYPED_ACTIONS: &[&str] = &[
    "allow",
    "deny",
    "tarpit",
    "auth",
    "redirect",
    "set-header",
    "add-header",
    "del-header",
    "replace-header",
    "replace-value",
    "set-path",
    "set-pathq",
    "replace-path",
    "replace-pathq",
    "set-query",
    "set-uri",
    "set-method",
    "set-status",
    "return",
    "use-service",
];

/// One row of the table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeywordRow {
    pub section: &'static str,
    pub keyword: String,
    pub status: String,
}

fn row(section: &'static str, keyword: &str, status: &str) -> KeywordRow {
    KeywordRow {
        section,
        keyword: keyword.to_string(),
        status: status.to_string(),
    }
}

/// Every keyword, grouped by section, sorted within each.
pub fn all() -> Vec<KeywordRow> {
    let reg = registry();
    let mut rows = Vec::new();

    let mut global: BTreeSet<&str> = GLOBAL_COMMON_KW.iter().copied().collect();
    global.extend(OTHER_HARDCODED.iter().copied());
    global.extend(reg.global.iter().map(String::as_str));
    global.extend(["nbproc", "tune.chksize", "expose-experimental-directives"]);
    for section_word in [
        "defaults",
        "listen",
        "frontend",
        "backend",
        "peers",
        "resolvers",
    ] {
        global.remove(section_word);
    }
    for k in global {
        let status = if TYPED_GLOBAL.contains(&k) || k.starts_with("tune.") && k != "tune.chksize" {
            "typed"
        } else if k == "nbproc" {
            "removed: refused like HAProxy, except `nbproc 1` (accepted with a warning to remove it)"
        } else if k == "tune.chksize" {
            "removed: refused like HAProxy"
        } else if REFUSED_GLOBAL.contains(&k) {
            "refused: ha-compat runs no Lua (`feature(LUA)` is false)"
        } else if crate::server_state::KEYWORDS.contains(&k) {
            crate::server_state::KEYWORD_STATUS
        } else if HARMLESS_GLOBAL.contains(&k) {
            "kept (HAProxy-internal tuning, no NOTICE)"
        } else {
            "kept"
        };
        rows.push(row("global", k, status));
    }

    let mut proxy: BTreeSet<&str> = LISTEN_COMMON_KW.iter().copied().collect();
    proxy.extend(reg.listen.iter().map(String::as_str));
    proxy.extend(UNMODELLED_PROXY.iter().copied());
    proxy.extend([
        "capture",
        "errorloc",
        "errorloc302",
        "errorloc303",
        "tcp-request",
        "grace",
    ]);
    for (k, _) in REMOVED_REQ_RSP {
        proxy.insert(k);
    }
    proxy.extend([
        "reqpass",
        "reqipass",
        "redispatch",
        "block",
        "monitor-net",
        "appsession",
    ]);
    for k in proxy {
        let status = if ["contimeout", "clitimeout", "srvtimeout"].contains(&k) {
            "removed in 2.1: **accepted** as `timeout connect/client/server` with a warning naming the replacement (seed 002)"
        } else if k == "redispatch" {
            "removed in 2.1: **accepted** as `option redispatch` with a warning naming it"
        } else if k == "listen" || k == "frontend" {
            "typed; `NAME ADDR:PORT` (removed in 2.1) **accepted** as `bind ADDR:PORT` with a warning (seeds 002, 004)"
        } else if TYPED_PROXY.contains(&k) {
            "typed"
        } else if REFUSED_PROXY.contains(&k) {
            "refused until implemented (routing)"
        } else if REMOVED_REQ_RSP.iter().any(|(r, _)| *r == k)
            || [
                "reqpass",
                "reqipass",
                "block",
                "redispatch",
                "monitor-net",
                "appsession",
                "grace",
            ]
            .contains(&k)
        {
            "removed: refused like HAProxy, with its message"
        } else if crate::server_state::KEYWORDS.contains(&k) {
            crate::server_state::KEYWORD_STATUS
        } else if k == "tcp-request" {
            "kept (checked: action names, conditions); enforced with the proxy engine"
        } else {
            "kept"
        };
        rows.push(row("proxy", k, status));
    }

    let mut options: BTreeSet<&str> = CFG_OPTS_ORDER.iter().copied().collect();
    options.extend(COMMON_OPTIONS.iter().copied());
    options.extend(reg.options.keys().map(String::as_str));
    options.extend([
        "httpslog",
        "originalto",
        "http-restrict-req-hdr-names",
        "forceclose",
        "http-tunnel",
        "http_proxy",
    ]);
    options.remove("original-to");
    for k in options {
        let status = if ["forceclose", "http-tunnel", "http_proxy"].contains(&k) {
            "removed: refused like HAProxy"
        } else if k == "http-restrict-req-hdr-names" {
            "kept"
        } else if COMMON_OPTIONS.contains(&k) || TYPED_OPTIONS_EXTRA.contains(&k) {
            "typed"
        } else {
            "typed (on/off flag, `no option` allowed)"
        };
        rows.push(row("option", k, status));
    }

    for k in reg.bind.keys() {
        let status = if TYPED_BIND.contains(&k.as_str()) {
            "typed"
        } else {
            "kept"
        };
        rows.push(row("bind", k, status));
    }
    for k in reg.server.keys() {
        let status = if TYPED_SERVER.contains(&k.as_str()) {
            "typed"
        } else if k == "track" {
            "kept (checked: target exists and has checks)"
        } else if ["pool-max-conn", "pool-purge-delay", "pool-low-conn"].contains(&k.as_str()) {
            "kept as words, run by the proxy engine (`mode http` server pools)"
        } else {
            "kept"
        };
        rows.push(row("server", k, status));
    }
    for rule in ["http-request", "http-response"] {
        let mut actions: BTreeSet<&str> = reg.action_names(rule).into_iter().collect();
        actions.extend([
            "allow",
            "deny",
            "auth",
            "redirect",
            "return",
            "set-header",
            "add-header",
            "del-header",
            "replace-header",
            "replace-value",
        ]);
        if rule == "http-response" {
            actions.remove("auth");
            actions.insert("set-status");
        }
        for k in actions {
            let section = if rule == "http-request" {
                "http-request"
            } else {
                "http-response"
            };
            let status = if TYPED_ACTIONS.contains(&k) {
                "typed"
            } else {
                "kept"
            };
            rows.push(row(section, k, status));
        }
    }
    for k in ["userlist", "group", "user"] {
        rows.push(row("userlist", k, "typed"));
    }
    for k in ["http-errors", "errorfile"] {
        rows.push(row(
            "http-errors",
            k,
            "typed (errorfile read and checked at load)",
        ));
    }
    for (section, words) in [
        ("peers", "peers peer bind default-bind default-server server table disabled enabled shards log"),
        ("resolvers", "resolvers nameserver parse-resolv-conf accepted_payload_size hold resolve_retries timeout"),
        ("mailers", "mailers mailer timeout"),
        ("ring", "ring description format maxlen size timeout server"),
        ("cache", "cache total-max-size max-object-size max-age process-vary max-secondary-entries"),
        ("program", "program command user group option"),
    ] {
        for k in words.split(' ') {
            rows.push(row(section, k, "kept (keywords and addresses checked as HAProxy does)"));
        }
    }
    rows
}

/// The Markdown table for docs/compatibility.md.
pub fn compatibility_markdown() -> String {
    let mut out = String::from("| section | keyword | ha-compat |\n|---|---|---|\n");
    for r in all() {
        out.push_str(&format!(
            "| {} | `{}` | {} |\n",
            r.section, r.keyword, r.status
        ));
    }
    out
}
