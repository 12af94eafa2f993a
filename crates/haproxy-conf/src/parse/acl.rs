//! ACLs, conditions and `use_backend`: `parse_acl()` / `build_acl_cond()` (src/acl.c)
//! checked against HAProxy 2.6.12's ACL keywords and sample fetches
//! (`data/acl-keywords.tsv`, `data/sample-fetches.tsv`, `data/converters.tsv`).

use std::sync::OnceLock;

use super::{err, Current, Line, Parser};
use crate::model::{Acl, AclExpression, AclRef, Condition, ConditionTerm, Fetch, UseBackend};

const ACL_KEYWORDS: &str = include_str!("../../data/acl-keywords.tsv");
const SAMPLE_FETCHES: &str = include_str!("../../data/sample-fetches.tsv");
const CONVERTERS: &str = include_str!("../../data/converters.tsv");

/// HAProxy's built-in ACL names (`default_acl_list`).
pub(crate) const DEFAULT_ACLS: &[&str] = &[
    "TRUE",
    "FALSE",
    "LOCALHOST",
    "HTTP",
    "HTTP_1.0",
    "HTTP_1.1",
    "HTTP_2.0",
    "METH_CONNECT",
    "METH_DELETE",
    "METH_GET",
    "METH_HEAD",
    "METH_OPTIONS",
    "METH_POST",
    "METH_PUT",
    "METH_TRACE",
    "HTTP_URL_ABS",
    "HTTP_URL_SLASH",
    "HTTP_URL_STAR",
    "HTTP_CONTENT",
    "RDP_COOKIE",
    "REQ_CONTENT",
    "WAIT_END",
];

const MATCH_METHODS: &[&str] = &[
    "found", "bool", "int", "ip", "bin", "len", "str", "sub", "reg", "beg", "end", "dir", "dom",
];

struct Known {
    /// ACL keyword -> implied match method (from `kw = fetch -m method`).
    acl: Vec<(String, Option<String>)>,
    fetches: Vec<String>,
    converters: Vec<String>,
}

fn known() -> &'static Known {
    static K: OnceLock<Known> = OnceLock::new();
    K.get_or_init(|| {
        let rows = |text: &'static str| {
            text.lines()
                .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
                .map(|l| l.split('\t').collect::<Vec<_>>())
                .collect::<Vec<_>>()
        };
        Known {
            acl: rows(ACL_KEYWORDS)
                .into_iter()
                .map(|r| {
                    let method = r
                        .get(1)
                        .and_then(|e| e.split(" -m ").nth(1))
                        .map(str::to_string);
                    (r[0].to_string(), method)
                })
                .collect(),
            fetches: rows(SAMPLE_FETCHES)
                .into_iter()
                .map(|r| r[0].to_string())
                .collect(),
            converters: rows(CONVERTERS)
                .into_iter()
                .map(|r| r[0].to_string())
                .collect(),
        }
    })
}

/// Whether `name` is a sample fetch HAProxy knows.
pub(crate) fn is_fetch(name: &str) -> bool {
    known().fetches.iter().any(|f| f == name)
}

fn is_idchar(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '+' | ':')
}

/// `name(args),conv(args),…` split into parts (arguments kept as written).
pub(crate) fn parse_fetch(text: &str) -> Result<Fetch, String> {
    let end = text.find(|c: char| !is_idchar(c)).unwrap_or(text.len());
    let name = &text[..end];
    if name.is_empty() {
        return Err("missing fetch method".into());
    }
    let mut rest = &text[end..];
    let mut args = Vec::new();
    if let Some(r) = rest.strip_prefix('(') {
        let close = r
            .find(')')
            .ok_or_else(|| format!("fetch method '{name}' : expected ')' before ''"))?;
        args = split_args(&r[..close]);
        rest = &r[close + 1..];
    }
    let mut converters = Vec::new();
    while !rest.is_empty() {
        let Some(r) = rest.strip_prefix(',') else {
            return Err(format!("missing comma after fetch keyword '{name}'"));
        };
        let cend = r.find(|c: char| !is_idchar(c)).unwrap_or(r.len());
        let conv = &r[..cend];
        if !known().converters.iter().any(|c| c == conv) {
            return Err(format!("unknown converter '{conv}'"));
        }
        let mut cr = &r[cend..];
        let mut cargs = Vec::new();
        if let Some(inner) = cr.strip_prefix('(') {
            let close = inner
                .find(')')
                .ok_or_else(|| format!("invalid args in converter '{conv}' : expected ')'"))?;
            cargs = split_args(&inner[..close]);
            cr = &inner[close + 1..];
        }
        converters.push((conv.to_string(), cargs));
        rest = cr;
    }
    Ok(Fetch {
        name: name.to_string(),
        args,
        converters,
    })
}

fn split_args(s: &str) -> Vec<String> {
    if s.is_empty() {
        return Vec::new();
    }
    s.split(',').map(str::to_string).collect()
}

/// A sample expression as `balance hash`, `%[…]` and rule arguments use it.
pub(crate) fn check_sample_expression(text: &str) -> Result<Fetch, String> {
    let fetch = parse_fetch(text)?;
    if !is_fetch(&fetch.name) {
        return Err(format!("unknown fetch method '{}'", fetch.name));
    }
    Ok(fetch)
}

/// The output type of a sample fetch (`ipv4`, `str`, `sint`…), from HAProxy's list.
fn fetch_output_type(name: &str) -> Option<&'static str> {
    SAMPLE_FETCHES
        .lines()
        .filter(|l| !l.starts_with('#'))
        .find(|l| l.split('\t').next() == Some(name))
        .and_then(|l| l.split('\t').nth(1))
        .and_then(|sig| sig.rsplit(": ").next())
}

/// `%[fetch]` blocks in a log-format string must name known fetches.
pub(crate) fn check_log_format(text: &str) -> Result<(), String> {
    let mut rest = text;
    while let Some(at) = rest.find("%[") {
        let inner = &rest[at + 2..];
        let Some(close) = inner.find(']') else {
            let name_end = inner
                .find(|c: char| c.is_whitespace())
                .unwrap_or(inner.len());
            return Err(format!("missing ']' after '{}'", &inner[..name_end]));
        };
        let expr = &inner[..close];
        if let Err(e) = check_sample_expression(expr) {
            return Err(format!(
                "failed to parse sample expression <{}> : {e}",
                &inner[..=close]
            ));
        }
        rest = &inner[close + 1..];
    }
    Ok(())
}

fn is_ip_pattern(p: &str) -> bool {
    let (addr, mask) = p.split_once('/').unwrap_or((p, ""));
    let ok_addr = addr.parse::<std::net::IpAddr>().is_ok();
    let ok_mask = mask.is_empty()
        || mask.parse::<u8>().is_ok_and(|m| m <= 128)
        || mask.parse::<std::net::Ipv4Addr>().is_ok();
    ok_addr && ok_mask
}

/// `parse_acl_expr()` on words (criterion first).
pub(crate) fn parse_acl_expression(words: &[String]) -> Result<AclExpression, String> {
    let Some(criterion) = words.first() else {
        return Err("missing fetch method in ACL expression ''".into());
    };
    let k = known();
    let fetch =
        parse_fetch(criterion).map_err(|e| format!("{e} in ACL expression '{criterion}'"))?;
    let implied = k
        .acl
        .iter()
        .find(|(n, _)| *n == fetch.name)
        .map(|(_, m)| m.clone());
    if implied.is_none() && !is_fetch(&fetch.name) {
        return Err(format!(
            "unknown fetch method '{}' in ACL expression '{criterion}'",
            fetch.name
        ));
    }
    let mut expr = AclExpression {
        fetch,
        ignore_case: false,
        match_method: implied.flatten(),
        pattern_files: Vec::new(),
        other_flags: Vec::new(),
        patterns: Vec::new(),
    };
    let mut i = 1;
    while let Some(w) = words.get(i) {
        if !w.starts_with('-') {
            break;
        }
        match w.as_str() {
            "--" => {
                i += 1;
                break;
            }
            "-i" => expr.ignore_case = true,
            "-n" | "-M" => expr.other_flags.push(w.clone()),
            "-f" => {
                let file = words.get(i + 1).cloned().unwrap_or_default();
                if file.is_empty() {
                    return Err("'-f' expects a file name".into());
                }
                if std::fs::metadata(&file).is_err() {
                    return Err(format!("failed to open pattern file <{file}>"));
                }
                expr.pattern_files.push(file.into());
                i += 1;
            }
            "-u" => {
                let id = words.get(i + 1).cloned().unwrap_or_default();
                if id.parse::<i64>().is_err() {
                    return Err("the argument of -u must be an integer".into());
                }
                expr.other_flags.push(format!("-u {id}"));
                i += 1;
            }
            "-m" => {
                if !expr.patterns.is_empty() || !expr.pattern_files.is_empty() {
                    return Err("'-m' must only be specified before patterns and files in parsing ACL expression".into());
                }
                let m = words.get(i + 1).cloned().unwrap_or_default();
                if !MATCH_METHODS.contains(&m.as_str()) {
                    return Err(format!(
                        "unknown matching method '{m}' when parsing ACL expression"
                    ));
                }
                expr.match_method = Some(m);
                i += 1;
            }
            other => {
                return Err(format!("'{other}' is not a valid ACL option. Please use '--' before any pattern beginning with a '-'"));
            }
        }
        i += 1;
    }
    expr.patterns = words[i.min(words.len())..].to_vec();
    let ip_typed = expr.match_method.as_deref() == Some("ip")
        || (expr.match_method.is_none()
            && fetch_output_type(&expr.fetch.name).is_some_and(|t| t.starts_with("ipv"))
            && expr.fetch.converters.is_empty());
    if ip_typed {
        if let Some(bad) = expr.patterns.iter().find(|p| !is_ip_pattern(p)) {
            return Err(format!("'{bad}' is not a valid IPv4 or IPv6 address"));
        }
    }
    Ok(expr)
}

impl Parser<'_> {
    pub(super) fn acl_line(&mut self, line: &Line) -> u32 {
        if let Current::Defaults(i) = self.current {
            if self.defaults.get(i).is_none_or(|d| d.name.is_empty()) {
                self.alert(
                    line.span,
                    "'acl' not allowed in anonymous 'defaults' section.",
                );
                return err::ALERT | err::FATAL;
            }
        }
        let name = line.arg(1).to_string();
        if let Some(c) = name.chars().find(|&c| !is_idchar(c)) {
            self.alert(
                line.span,
                format!("character '{c}' is not permitted in acl name '{name}'."),
            );
            return err::ALERT | err::FATAL;
        }
        if name.eq_ignore_ascii_case("or") {
            self.alert(line.span, format!("acl name '{name}' will never match. 'or' is used to express a logical OR condition."));
            return err::ALERT | err::FATAL;
        }
        match parse_acl_expression(&line.words[2.min(line.words.len())..]) {
            Ok(expression) => {
                let at = self.location(line.span);
                if let Some(p) = self.proxy_mut() {
                    p.acls.push(Acl {
                        at,
                        name,
                        expression,
                    });
                }
                0
            }
            Err(msg) => {
                self.alert(
                    line.span,
                    format!("error detected while parsing ACL '{name}' : {msg}."),
                );
                err::ALERT | err::FATAL
            }
        }
    }

    /// `build_acl_cond()` on words from `start` (`if`/`unless` first).
    pub(super) fn parse_condition(&self, line: &Line, start: usize) -> Result<Condition, String> {
        let unless = match line.arg(start) {
            "if" => false,
            "unless" => true,
            _ => return Err("conditions must start with either 'if' or 'unless'".into()),
        };
        let words = &line.words[(start + 1).min(line.words.len())..];
        let known_acls: Vec<String> = match self.current {
            Current::Proxy(i) => self
                .config
                .proxies
                .get(i)
                .map(|p| p.acls.iter().map(|a| a.name.clone()).collect())
                .unwrap_or_default(),
            _ => Vec::new(),
        };
        let mut any_of: Vec<Vec<ConditionTerm>> = vec![Vec::new()];
        let mut neg = false;
        let mut i = 0;
        while i < words.len() {
            let mut word = words[i].as_str();
            while let Some(rest) = word.strip_prefix('!') {
                neg = !neg;
                word = rest;
            }
            if word.is_empty() {
                i += 1;
                continue;
            }
            if word.eq_ignore_ascii_case("or") || word == "||" {
                any_of.push(Vec::new());
                neg = false;
                i += 1;
                continue;
            }
            let acl = if word == "{" {
                let Some(close) = words[i + 1..].iter().position(|w| w == "}") else {
                    return Err("missing closing '}' in condition".into());
                };
                let inner = &words[i + 1..i + 1 + close];
                let expr = parse_acl_expression(inner)?;
                i += close + 1;
                AclRef::Anonymous(Box::new(expr))
            } else {
                if !known_acls.iter().any(|a| a == word) && !DEFAULT_ACLS.contains(&word) {
                    return Err(format!("no such ACL : '{word}'"));
                }
                AclRef::Named(word.to_string())
            };
            if let Some(last) = any_of.last_mut() {
                last.push(ConditionTerm { negated: neg, acl });
            }
            neg = false;
            i += 1;
        }
        any_of.retain(|t| !t.is_empty());
        Ok(Condition { unless, any_of })
    }

    pub(super) fn use_backend_line(&mut self, line: &Line) -> u32 {
        if matches!(self.current, Current::Defaults(_)) {
            self.alert(
                line.span,
                "'use_backend' not allowed in 'defaults' section.",
            );
            return err::ALERT | err::FATAL;
        }
        let mut code = 0;
        if self.warn_if_not_cap(line, true, false, "use_backend") {
            code |= err::WARN;
        }
        if !line.has(1) {
            self.alert(line.span, "'use_backend' expects a backend name.");
            return code | err::ALERT | err::FATAL;
        }
        let condition = if line.has(2) {
            if !matches!(line.arg(2), "if" | "unless") {
                self.alert(line.span, format!("unexpected keyword '{}' after switching rule, only 'if' and 'unless' are allowed.", line.arg(2)));
                return code | err::ALERT | err::FATAL;
            }
            match self.parse_condition(line, 2) {
                Ok(c) => Some(c),
                Err(msg) => {
                    self.alert(
                        line.span,
                        format!("error detected while parsing switching rule : {msg}."),
                    );
                    return code | err::ALERT | err::FATAL;
                }
            }
        } else {
            None
        };
        let backend = line.arg(1).to_string();
        let dynamic = backend.contains("%[");
        let at = self.location(line.span);
        if let Some(p) = self.proxy_mut() {
            p.use_backends.push(UseBackend {
                at,
                backend,
                dynamic,
                condition,
            });
        }
        code
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(s: &str) -> Vec<String> {
        s.split_whitespace().map(str::to_string).collect()
    }

    #[test]
    fn acl_keywords_imply_a_match_method() {
        let e = parse_acl_expression(&words("path_beg -i /api /static")).expect("valid");
        assert_eq!(e.fetch.name, "path_beg");
        assert_eq!(e.match_method.as_deref(), Some("beg"));
        assert!(e.ignore_case);
        assert_eq!(e.patterns, ["/api", "/static"]);
    }

    #[test]
    fn fetch_with_args_and_converters() {
        let e = parse_acl_expression(&words("hdr(host),lower -m str example.com")).expect("valid");
        assert_eq!(e.fetch.args, ["host"]);
        assert_eq!(e.fetch.converters[0].0, "lower");
        assert_eq!(e.match_method.as_deref(), Some("str"));
    }

    #[test]
    fn unknown_fetch_and_flag() {
        assert!(parse_acl_expression(&words("path_bgn /x"))
            .is_err_and(|e| e == "unknown fetch method 'path_bgn' in ACL expression 'path_bgn'"));
        assert!(parse_acl_expression(&words("path -z /x"))
            .is_err_and(|e| e.contains("not a valid ACL option")));
    }
}
