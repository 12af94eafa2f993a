//! `bind` lines (and `stats socket` in global): listening addresses as `str2listener()`
//! / `str2sa_range()` (src/listener.c, src/tools.c) read them, then bind options as
//! `bind_parse_args_list()` checks them against the registered bind keywords.

use std::net::IpAddr;
use std::path::PathBuf;

use super::{err, Line, Parser};
use crate::model::{Bind, BindAddress, BindOptions, PortRange};
use crate::registry::registry;
use crate::suggest::best_match;
use crate::units;

/// One or several comma-separated listening addresses.
pub(crate) fn parse_bind_address(spec: &str) -> Result<Vec<BindAddress>, String> {
    let mut out = Vec::new();
    for one in spec.split(',') {
        out.push(parse_one(one)?);
    }
    Ok(out)
}

fn parse_one(s: &str) -> Result<BindAddress, String> {
    if s.is_empty() {
        return Err(format!(
            "'{s}' resolves to an empty address (environment variable missing?)"
        ));
    }
    if let Some(n) = s.strip_prefix("fd@") {
        return n
            .parse::<i32>()
            .map(BindAddress::Fd)
            .map_err(|_| format!("file descriptor '{n}' is not a valid integer in '{s}'"));
    }
    if let Some(n) = s.strip_prefix("sockpair@") {
        return n
            .parse::<i32>()
            .map(BindAddress::Sockpair)
            .map_err(|_| format!("file descriptor '{n}' is not a valid integer in '{s}'"));
    }
    if let Some(name) = s.strip_prefix("abns@") {
        return Ok(BindAddress::Abstract(name.to_string()));
    }
    if s.starts_with('/') || s.starts_with("unix@") {
        let path = s.strip_prefix("unix@").unwrap_or(s);
        if path.len() >= 108 {
            return Err(format!("socket path '{path}' too long (max 107)"));
        }
        return Ok(BindAddress::Unix(PathBuf::from(path)));
    }
    let rest = [
        "ipv4@", "ipv6@", "tcp@", "tcp4@", "tcp6@", "quic4@", "quic6@", "udp@", "udp4@", "udp6@",
    ]
    .iter()
    .find_map(|p| s.strip_prefix(p))
    .unwrap_or(s);
    // The port starts after the last ':' that comes after any ']'.
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
    let Some(cut) = cut else {
        return Err(format!("missing port specification in '{s}'"));
    };
    let host = &rest[..cut];
    let port = &rest[cut + 1..];
    let ports = parse_port_range(port, s)?;
    let host = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    let host = match host {
        "" | "*" => None,
        h => Some(
            h.parse::<IpAddr>()
                .map_err(|_| format!("invalid address: '{h}' in '{s}'"))?,
        ),
    };
    Ok(BindAddress::Inet { host, ports })
}

fn parse_port_range(port: &str, whole: &str) -> Result<PortRange, String> {
    if port.is_empty() {
        return Err(format!("missing port specification in '{whole}'"));
    }
    let first = port.as_bytes()[0];
    if !first.is_ascii_digit() {
        if first == b'-' || first == b'+' {
            return Err(format!("port offset not permitted here in '{whole}'"));
        }
        return Err(format!(
            "invalid character '{}' in port number '{port}' in '{whole}'",
            first as char
        ));
    }
    let (a, b) = port.split_once('-').unwrap_or((port, port));
    let lo = units::atoi(a);
    let hi = units::atoi(b);
    if !(1..=65535).contains(&lo) {
        return Err(format!("invalid port '{a}'"));
    }
    if !(1..=65535).contains(&hi) {
        return Err(format!("invalid port '{b}'"));
    }
    if lo > hi {
        return Err(format!("invalid port range '{lo}-{hi}'"));
    }
    Ok(PortRange {
        first: lo as u16,
        last: hi as u16,
    })
}

/// What HAProxy 2.6 says when it cannot load a `crt` FILE at parse time (the text after
/// the bind's head), checked as text: a certificate, and a private key in the file or
/// in `FILE.key` (messages as haproxy 2.6.12 `-c` prints them). Whether the key matches
/// the certificate is left to the proxy engine, which loads them for real.
fn crt_file_problem(path: &std::path::Path) -> Option<String> {
    if !is_pem_certificate(path) {
        return Some(format!(
            "unable to load certificate from file '{}'.",
            path.display()
        ));
    }
    let has_key = |p: &std::path::Path| {
        std::fs::read(p).is_ok_and(|b| String::from_utf8_lossy(&b).contains("PRIVATE KEY-----"))
    };
    let mut key_file = path.as_os_str().to_owned();
    key_file.push(".key");
    if has_key(path) || has_key(std::path::Path::new(&key_file)) {
        return None;
    }
    Some(format!(
        "No Private Key found in '{}'.",
        std::path::Path::new(&key_file).display()
    ))
}

/// The files of a `crt DIR` HAProxy loads: byte order (`scandir(alphasort)` in the C
/// locale), no dot files, none of `.key`, `.ocsp`, `.issuer`, `.sctl`.
fn crt_dir_files(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut names: Vec<std::ffi::OsString> = entries
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_ok_and(|t| !t.is_dir()))
        .map(|e| e.file_name())
        .collect();
    names.sort();
    names
        .into_iter()
        .filter(|n| {
            let s = n.to_string_lossy();
            !s.starts_with('.')
                && ![".key", ".ocsp", ".issuer", ".sctl"]
                    .iter()
                    .any(|ext| s.ends_with(ext))
        })
        .map(|n| dir.join(n))
        .collect()
}

/// Whether a file holds a PEM certificate (HAProxy loads it at parse time).
fn is_pem_certificate(path: &std::path::Path) -> bool {
    std::fs::read(path).is_ok_and(|b| {
        let text = String::from_utf8_lossy(&b);
        text.contains("-----BEGIN CERTIFICATE-----")
            || text.contains("-----BEGIN TRUSTED CERTIFICATE-----")
    })
}

impl Parser<'_> {
    pub(super) fn bind_line(&mut self, line: &Line) -> u32 {
        if matches!(self.current, super::Current::Defaults(_)) {
            self.alert(line.span, "'bind' not allowed in 'defaults' section.");
            return err::ALERT | err::FATAL;
        }
        let mut code = 0;
        if self.warn_if_not_cap(line, true, false, "bind") {
            code |= err::WARN;
        }
        if !line.has(1) {
            self.alert(
                line.span,
                "'bind' expects {<path>|[addr1]:port1[-end1]}{,[addr]:port[-end]}... as arguments.",
            );
            return code | err::ALERT | err::FATAL;
        }
        let addresses = match parse_bind_address(line.arg(1)) {
            Ok(a) => a,
            Err(msg) => {
                self.alert(line.span, format!("'bind' : {msg}"));
                return code | err::ALERT | err::FATAL;
            }
        };
        for a in &addresses {
            if let BindAddress::Fd(n) = a {
                if !std::path::Path::new(&format!("/proc/self/fd/{n}")).exists() {
                    self.alert(
                        line.span,
                        format!("'bind' : cannot use file descriptor '{n}' : Bad file descriptor."),
                    );
                    return code | err::ALERT | err::FATAL;
                }
            }
        }
        let section = self.current_section_word();
        let (options, status) = self.bind_options(line, 2, section);
        code |= status;
        let at = self.location(line.span);
        if let Some(p) = self.proxy_mut() {
            for address in addresses {
                p.binds.push(Bind {
                    at: at.clone(),
                    address,
                    options: options.clone(),
                });
            }
        }
        code
    }

    pub(super) fn current_section_word(&self) -> &'static str {
        match self.current {
            super::Current::Proxy(i) => self
                .config
                .proxies
                .get(i)
                .map_or("listen", |p| p.kind.keyword()),
            super::Current::Defaults(_) => "defaults",
            super::Current::None => "global",
        }
    }

    /// Bind options from word `start`; returns them and the error code.
    pub(super) fn bind_options(
        &mut self,
        line: &Line,
        start: usize,
        section: &str,
    ) -> (BindOptions, u32) {
        let mut o = BindOptions::default();
        let mut status = 0;
        let reg = registry();
        let mut i = start;
        let head = format!("'{} {}' in section '{section}'", line.arg(0), line.arg(1));
        while line.has(i) {
            let kw = line.arg(i).to_string();
            let Some(arity) = reg.bind.get(&kw).copied().or(if kw == "expose-fd" {
                Some(crate::registry::OptionArity(Some(1)))
            } else {
                None
            }) else {
                let candidates = crate::suggest::haproxy_candidates("bind").iter().copied();
                match best_match(&kw, candidates) {
                    Some(best) => self.alert(
                        line.span,
                        format!("{head}: unknown keyword '{kw}'; did you mean '{best}' maybe ?"),
                    ),
                    None => self.alert(line.span, format!("{head}: unknown keyword '{kw}'.")),
                }
                return (o, err::ALERT | err::FATAL);
            };
            let nargs = usize::from(arity.0.unwrap_or(1));
            let value = line.arg(i + 1).to_string();
            if nargs >= 1 && value.is_empty() {
                self.alert(line.span, format!("{head} : '{kw}' : missing value."));
                return (o, err::ALERT | err::FATAL);
            }
            match kw.as_str() {
                "ssl" => o.ssl = true,
                "crt" => {
                    let path = self.with_base(&value, true);
                    if !path.exists() && !self.opts.host_files {
                        self.unchecked_file(line, &path);
                    } else if !path.exists() {
                        self.alert(line.span, format!("{head} : unable to stat SSL certificate from file '{}' : No such file or directory.", path.display()));
                        return (o, err::ALERT | err::FATAL);
                    }
                    let files = if path.is_dir() {
                        crt_dir_files(&path)
                    } else if path.is_file() {
                        vec![path.clone()]
                    } else {
                        Vec::new()
                    };
                    if let Some(problem) = files.iter().find_map(|f| crt_file_problem(f)) {
                        self.alert(line.span, format!("{head} : {problem}"));
                        return (o, err::ALERT | err::FATAL);
                    }
                    o.crt.push(path);
                }
                "crt-list" => o.crt_list.push(PathBuf::from(&value)),
                "ca-file" => o.ca_file = Some(self.with_base(&value, false)),
                "alpn" => o.alpn = Some(value.clone()),
                "accept-proxy" => o.accept_proxy = true,
                "name" => o.name = Some(value.clone()),
                "interface" => o.interface = Some(value.clone()),
                "transparent" => o.transparent = true,
                "v4v6" => o.v4v6 = true,
                "v6only" => o.v6only = true,
                "maxconn" => o.maxconn = Some(units::atol(&value).max(0) as u32),
                "backlog" => o.backlog = Some(units::atol(&value).max(0) as u32),
                "mode" => match u32::from_str_radix(&value, 8) {
                    Ok(m) => o.mode = Some(m),
                    Err(_) => {
                        self.alert(line.span, format!("{head} : '{kw}' : missing or invalid mode '{value}' (octal integer expected)"));
                        return (o, err::ALERT | err::FATAL);
                    }
                },
                "uid" => o.uid = Some(units::atol(&value).max(0) as u32),
                "gid" => o.gid = Some(units::atol(&value).max(0) as u32),
                "user" => o.user = Some(value.clone()),
                "group" => o.group = Some(value.clone()),
                "level" => {
                    if !matches!(value.as_str(), "user" | "operator" | "admin") {
                        self.alert(line.span, format!("{head} : '{kw}' only supports 'user', 'operator', and 'admin' (got '{value}')"));
                        return (o, err::ALERT | err::FATAL);
                    }
                    o.level = Some(value.clone());
                }
                "expose-fd" => {
                    if value != "listeners" {
                        self.alert(
                            line.span,
                            format!("{head} : '{kw}' only supports 'listeners' (got '{value}')"),
                        );
                        return (o, err::ALERT | err::FATAL);
                    }
                    o.expose_fd_listeners = true;
                }
                "ssl-min-ver" | "ssl-max-ver" => {
                    if !matches!(
                        value.as_str(),
                        "SSLv3" | "TLSv1.0" | "TLSv1.1" | "TLSv1.2" | "TLSv1.3"
                    ) {
                        self.alert(
                            line.span,
                            format!("{head} : '{kw}' : unknown ssl/tls version string '{value}'"),
                        );
                        return (o, err::ALERT | err::FATAL);
                    }
                    if kw == "ssl-min-ver" {
                        o.ssl_min_ver = Some(value.clone());
                    } else {
                        o.ssl_max_ver = Some(value.clone());
                    }
                }
                "ciphers" => o.ciphers = Some(value.clone()),
                "ciphersuites" => o.ciphersuites = Some(value.clone()),
                "verify" => {
                    if !matches!(value.as_str(), "none" | "optional" | "required") {
                        self.alert(line.span, format!("{head} : '{kw}' : unknown verify method '{value}', only 'none', 'optional', and 'required' are supported"));
                        return (o, err::ALERT | err::FATAL);
                    }
                    o.verify = Some(value.clone());
                }
                "process" => {
                    self.warn(line.span, format!("{head} : 'process {value}' on 'bind' lines is deprecated and will be removed in 2.7."));
                    status |= err::WARN;
                }
                _ => {
                    let end = (i + 1 + nargs).min(line.words.len());
                    o.other.push(line.words[i..end].to_vec());
                }
            }
            i += 1 + nargs;
        }
        (o, status)
    }

    /// `crt-base` / `ca-base` applied to a relative path.
    fn with_base(&self, path: &str, crt: bool) -> PathBuf {
        let base = if crt {
            self.config.global.crt_base.as_ref()
        } else {
            self.config.global.ca_base.as_ref()
        };
        match base {
            Some(b) if !path.starts_with('/') => b.join(path),
            _ => PathBuf::from(path),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn address_forms() {
        let any80 = BindAddress::Inet {
            host: None,
            ports: PortRange {
                first: 80,
                last: 80,
            },
        };
        assert_eq!(parse_bind_address("*:80"), Ok(vec![any80.clone()]));
        assert_eq!(parse_bind_address(":80"), Ok(vec![any80]));
        assert!(matches!(
            parse_bind_address("[::]:443").as_deref(),
            Ok([BindAddress::Inet { host: Some(_), .. }])
        ));
        assert!(matches!(
            parse_bind_address(":::443").as_deref(),
            Ok([BindAddress::Inet { host: Some(_), .. }])
        ));
        assert_eq!(
            parse_bind_address("10.0.0.1:8000-8010"),
            Ok(vec![BindAddress::Inet {
                host: Some("10.0.0.1".parse().unwrap()),
                ports: PortRange {
                    first: 8000,
                    last: 8010
                }
            }])
        );
        assert_eq!(parse_bind_address("fd@3"), Ok(vec![BindAddress::Fd(3)]));
        assert_eq!(parse_bind_address(":80,:81").map(|v| v.len()), Ok(2));
        assert!(parse_bind_address("1.2.3.4").is_err_and(|e| e.starts_with("missing port")));
        assert!(parse_bind_address(":70000").is_err_and(|e| e == "invalid port '70000'"));
        assert!(parse_bind_address("nohost:80").is_err_and(|e| e.starts_with("invalid address")));
    }
}
