//! The keywords HAProxy 2.6.12 registers at startup, as `haproxy -dKcfg` lists them
//! (`data/registered-cfg.txt`): global and proxy keywords, `option` flags with their
//! capabilities, `bind` and `server` options with their argument counts, and the
//! `http-request` / `http-response` / `tcp-request` … actions. Hard-coded keywords
//! (those parsed by `strcmp()` in cfgparse-*.c) are handled by the section parsers.

use std::collections::BTreeMap;
use std::sync::OnceLock;

const REGISTERED: &str = include_str!("../data/registered-cfg.txt");

/// One `bind`/`server` option: how many arguments it takes (`None` = variable).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OptionArity(pub Option<u8>);

#[derive(Debug, Default)]
pub struct Registry {
    /// Registered `global` keywords, in dump order.
    pub global: Vec<String>,
    /// Registered proxy keywords (`listen` class, first word only), in dump order.
    pub listen: Vec<String>,
    /// `option NAME` flags and their capabilities (`FE`, `BE`, `HTTP`).
    pub options: BTreeMap<String, Vec<String>>,
    pub bind: BTreeMap<String, OptionArity>,
    pub server: BTreeMap<String, OptionArity>,
    /// Rule actions by rule keyword (`http-request`, `tcp-request connection`, …).
    /// A trailing `*` in the dump means "prefix" (`set-var(...)`).
    pub actions: BTreeMap<String, Vec<String>>,
    pub userlist: Vec<String>,
    pub peers: Vec<String>,
}

pub fn registry() -> &'static Registry {
    static REG: OnceLock<Registry> = OnceLock::new();
    REG.get_or_init(parse)
}

fn parse() -> Registry {
    let mut reg = Registry::default();
    let mut section = "";
    for line in REGISTERED.lines() {
        if line.starts_with('#') || line.trim().is_empty() {
            continue;
        }
        if !line.starts_with('\t') {
            section = line.trim();
            continue;
        }
        let entry = line.trim();
        match section {
            "global" => reg.global.push(entry.to_string()),
            "userlist" => reg.userlist.push(entry.to_string()),
            "peers" => reg.peers.push(entry.to_string()),
            "listen" => parse_listen_entry(&mut reg, entry),
            _ => {}
        }
    }
    reg.bind.insert("ssl".to_string(), OptionArity(Some(0)));
    reg
}

fn arity(rest: &str) -> OptionArity {
    match rest.trim() {
        "" => OptionArity(Some(0)),
        "+1" => OptionArity(Some(1)),
        "+2" => OptionArity(Some(2)),
        _ => OptionArity(None),
    }
}

fn parse_listen_entry(reg: &mut Registry, entry: &str) {
    if let Some(rest) = entry.strip_prefix("bind <addr> ") {
        // SSL bind keywords are listed under an `ssl` scope word (`bind <addr> ssl alpn +1`);
        // `ssl` itself is not listed, it is added by `parse()`.
        let rest = rest.strip_prefix("ssl ").unwrap_or(rest);
        let (name, tail) = rest.split_once(' ').unwrap_or((rest, ""));
        reg.bind.insert(name.to_string(), arity(tail));
    } else if let Some(rest) = entry.strip_prefix("server <name> <addr> ") {
        let (name, tail) = rest.split_once(' ').unwrap_or((rest, ""));
        reg.server.insert(name.to_string(), arity(tail));
    } else if let Some(rest) = entry.strip_prefix("option ") {
        let (name, caps) = rest.split_once(' ').unwrap_or((rest, ""));
        let caps = caps
            .trim_matches(|c| c == '[' || c == ']' || c == ' ')
            .split_whitespace()
            .map(str::to_string)
            .collect();
        reg.options.insert(name.to_string(), caps);
    } else {
        for rule in [
            "http-request",
            "http-response",
            "http-after-response",
            "tcp-request connection",
            "tcp-request session",
            "tcp-request content",
            "tcp-response content",
        ] {
            if let Some(action) = entry.strip_prefix(rule).and_then(|r| r.strip_prefix(' ')) {
                reg.actions
                    .entry(rule.to_string())
                    .or_default()
                    .push(action.to_string());
                return;
            }
        }
        reg.listen.push(entry.to_string());
    }
}

impl Registry {
    /// Whether `action` is a registered action of `rule` (`set-var(x)` matches `set-var*`).
    pub fn has_action(&self, rule: &str, action: &str) -> bool {
        self.actions.get(rule).is_some_and(|list| {
            list.iter().any(|a| match a.strip_suffix('*') {
                Some(prefix) => action.starts_with(prefix),
                None => a == action,
            })
        })
    }

    /// Action names of `rule` for "did you mean"-style listings.
    pub fn action_names(&self, rule: &str) -> Vec<&str> {
        self.actions
            .get(rule)
            .map(|l| l.iter().map(|a| a.trim_end_matches('*')).collect())
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_dump_is_understood() {
        let r = registry();
        assert!(r.global.iter().any(|k| k == "ssl-default-bind-ciphers"));
        assert!(r.listen.iter().any(|k| k == "timeout"));
        assert_eq!(r.server.get("inter"), Some(&OptionArity(Some(1))));
        assert_eq!(r.server.get("check"), Some(&OptionArity(Some(0))));
        assert_eq!(r.bind.get("accept-proxy"), Some(&OptionArity(Some(0))));
        assert_eq!(r.options.get("dontlognull").map(Vec::len), Some(1));
        assert!(r.has_action("http-request", "set-var(txn.x)"));
        assert!(r.has_action("http-request", "deny"));
        assert!(!r.has_action("http-request", "frobnicate"));
    }
}
