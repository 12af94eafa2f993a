//! userlist, http-errors, and the sections ha-compat keeps as lines (peers, resolvers,
//! mailers, ring, cache, program, log-forward, fcgi-app): `cfg_parse_users()`
//! (src/cfgparse.c), `cfg_parse_http_errors()` (src/http_htx.c).

use super::{err, Line, Parser};
use crate::model::{Directive, HttpErrors, OtherSection, OtherSectionKind, User, Userlist};

impl Parser<'_> {
    pub(super) fn userlist_line(&mut self, line: &Line) -> u32 {
        let kw = line.kw().to_string();
        match kw.as_str() {
            "userlist" => {
                if !line.has(1) {
                    self.alert_tight(line.span, format!("'{kw}' expects <name> as arguments."));
                    self.current_index = None;
                    return err::ALERT | err::FATAL;
                }
                let name = line.arg(1).to_string();
                if let Some(c) = super::invalid_char(&name) {
                    self.alert_tight(
                        line.span,
                        format!("character '{c}' is not permitted in '{kw}' name '{name}'."),
                    );
                    self.current_index = None;
                    return err::ALERT | err::FATAL;
                }
                if self.config.userlists.iter().any(|u| u.name == name) {
                    self.warn_tight(line.span, format!("ignoring duplicated userlist '{name}'."));
                    self.current_index = None;
                    return err::WARN;
                }
                let at = self.location(line.span);
                self.config.userlists.push(Userlist {
                    at,
                    name,
                    groups: Vec::new(),
                    users: Vec::new(),
                });
                self.current_index = Some(self.config.userlists.len() - 1);
                0
            }
            "group" | "user" => {
                if !line.has(1) {
                    self.alert_tight(line.span, format!("'{kw}' expects <name> as arguments."));
                    return err::ALERT | err::FATAL;
                }
                let Some(index) = self.current_index else {
                    return 0;
                };
                let name = line.arg(1).to_string();
                let list_name = self.config.userlists[index].name.clone();
                if kw == "group" {
                    if self.config.userlists[index]
                        .groups
                        .iter()
                        .any(|(g, _)| *g == name)
                    {
                        self.warn_tight(
                            line.span,
                            format!(
                                "ignoring duplicated group '{name}' in userlist '{list_name}'."
                            ),
                        );
                        return err::ALERT;
                    }
                    let mut members = Vec::new();
                    let mut i = 2;
                    while line.has(i) {
                        if line.arg(i) == "users" && line.has(i + 1) {
                            members.extend(line.arg(i + 1).split(',').map(str::to_string));
                            i += 2;
                        } else {
                            self.alert_tight(
                                line.span,
                                format!("'{kw}' only supports 'users' option."),
                            );
                            return err::ALERT | err::FATAL;
                        }
                    }
                    self.config.userlists[index].groups.push((name, members));
                    return 0;
                }
                if self.config.userlists[index]
                    .users
                    .iter()
                    .any(|u| u.name == name)
                {
                    self.warn_tight(
                        line.span,
                        format!("ignoring duplicated user '{name}' in userlist '{list_name}'."),
                    );
                    return err::ALERT;
                }
                let mut user = User {
                    name,
                    insecure: false,
                    password: String::new(),
                    groups: Vec::new(),
                };
                let mut i = 2;
                while line.has(i) {
                    match line.arg(i) {
                        "password" => {
                            user.password = line.arg(i + 1).to_string();
                            i += 2;
                        }
                        "insecure-password" => {
                            user.insecure = true;
                            user.password = line.arg(i + 1).to_string();
                            i += 2;
                        }
                        "groups" => {
                            user.groups = line.arg(i + 1).split(',').map(str::to_string).collect();
                            i += 2;
                        }
                        _ => {
                            self.alert_tight(line.span, format!("'{kw}' only supports 'password', 'insecure-password' and 'groups' options."));
                            return err::ALERT | err::FATAL;
                        }
                    }
                }
                self.config.userlists[index].users.push(user);
                0
            }
            _ => {
                self.alert(
                    line.span,
                    format!("unknown keyword '{kw}' in 'userlist' section"),
                );
                err::ALERT | err::FATAL
            }
        }
    }

    pub(super) fn http_errors_line(&mut self, line: &Line) -> u32 {
        let kw = line.kw().to_string();
        match kw.as_str() {
            "http-errors" => {
                if !line.has(1) {
                    self.alert(line.span, "missing name for http-errors section.");
                    self.current_index = None;
                    return err::ALERT | err::ABORT;
                }
                let name = line.arg(1).to_string();
                if let Some(c) = super::invalid_char(&name) {
                    self.alert(
                        line.span,
                        format!("character '{c}' is not permitted in '{kw}' name '{name}'."),
                    );
                    return err::ALERT | err::FATAL;
                }
                if let Some(existing) = self.config.http_errors.iter().find(|h| h.name == name) {
                    let text = format!(
                        "http-errors section '{name}' already exists (declared at {}:{}).",
                        existing.at.file, existing.at.line
                    );
                    self.alert_tight(line.span, text);
                    return err::ALERT | err::FATAL;
                }
                let at = self.location(line.span);
                self.config.http_errors.push(HttpErrors {
                    at,
                    name,
                    errorfiles: Vec::new(),
                });
                self.current_index = Some(self.config.http_errors.len() - 1);
                0
            }
            "errorfile" => {
                if !line.has(2) {
                    self.alert(
                        line.span,
                        format!("{kw}: expects <status_code> and <file> as arguments."),
                    );
                    return err::ALERT | err::FATAL;
                }
                let status = crate::units::atoi(line.arg(1));
                match self.load_errorfile(line, status) {
                    Ok(Some(file)) => {
                        if let Some(index) = self.current_index {
                            self.config.http_errors[index].errorfiles.push(file);
                        }
                        0
                    }
                    Ok(None) => err::WARN,
                    Err(msg) => {
                        self.alert(line.span, format!("{kw} : {msg}"));
                        err::ALERT | err::FATAL
                    }
                }
            }
            _ => {
                self.alert(
                    line.span,
                    format!("unknown keyword '{kw}' in 'http-errors' section"),
                );
                err::ALERT | err::FATAL
            }
        }
    }

    pub(super) fn other_line(&mut self, kind: OtherSectionKind, line: &Line) -> u32 {
        let section_word = match kind {
            OtherSectionKind::Peers => "peers",
            OtherSectionKind::Resolvers => "resolvers",
            OtherSectionKind::Mailers => "mailers",
            OtherSectionKind::Ring => "ring",
            OtherSectionKind::Cache => "cache",
            OtherSectionKind::Program => "program",
        };
        if line.kw() == section_word {
            if !line.has(1) {
                let text = match kind {
                    OtherSectionKind::Peers | OtherSectionKind::Mailers => {
                        format!("'{section_word}' expects <name> as argument.")
                    }
                    OtherSectionKind::Resolvers => {
                        "missing name for resolvers section.".to_string()
                    }
                    OtherSectionKind::Ring => "missing ring name.".to_string(),
                    OtherSectionKind::Cache => format!("'{section_word}' expects a cache name."),
                    OtherSectionKind::Program => {
                        format!("'{section_word}' expects an <id> argument")
                    }
                };
                self.alert(line.span, text);
                self.current_index = None;
                return err::ALERT | err::ABORT;
            }
            let name = line.arg(1).to_string();
            if kind == OtherSectionKind::Peers {
                if let Some(prev) = self
                    .config
                    .other_sections
                    .iter()
                    .find(|o| o.kind == kind && o.name == name)
                {
                    let text = format!("peers section '{name}' has the same name as another peers section declared at {}:{}.", prev.at.file, prev.at.line);
                    self.push(crate::diag::at(
                        conf_diag::Severity::Error,
                        crate::diag::PARSING_CAPITAL,
                        line.span,
                        text,
                    ));
                    self.current_index = None;
                    return err::ALERT | err::FATAL;
                }
            }
            let at = self.location(line.span);
            self.config.other_sections.push(OtherSection {
                kind,
                name: line.arg(1).to_string(),
                at,
                lines: Vec::new(),
            });
            self.current_index = Some(self.config.other_sections.len() - 1);
            if kind != OtherSectionKind::Resolvers {
                self.unmodelled(line, section_word);
                return 0;
            }
            return 0;
        }
        let status = self.check_other_line(kind, section_word, line);
        if status & err::FATAL != 0 {
            return status;
        }
        let at = self.location(line.span);
        if let Some(index) = self.current_index {
            if let Some(section) = self.config.other_sections.get_mut(index) {
                section.lines.push(Directive {
                    at,
                    words: line.words.clone(),
                });
            }
        }
        0
    }

    pub(super) fn unmodelled_section_line(&mut self, line: &Line) -> u32 {
        if matches!(line.kw(), "bind" | "dgram-bind") && self.section_name_is_log_forward() {
            self.log_forward_listens = true;
        }
        if matches!(line.kw(), "log-forward" | "fcgi-app" | "namespace_list") {
            self.in_log_forward = line.kw() == "log-forward";
            self.unmodelled(line, line.kw());
            return 0;
        }
        0
    }
}

/// Keywords of the sections ha-compat keeps as lines, as HAProxy 2.6 accepts them.
fn section_keywords(kind: OtherSectionKind) -> &'static [&'static str] {
    match kind {
        OtherSectionKind::Peers => &[
            "peer",
            "bind",
            "default-bind",
            "default-server",
            "server",
            "table",
            "disabled",
            "enabled",
            "shards",
            "log",
        ],
        OtherSectionKind::Resolvers => &[
            "nameserver",
            "parse-resolv-conf",
            "accepted_payload_size",
            "hold",
            "resolve_retries",
            "timeout",
            "resolution_pool_size",
        ],
        OtherSectionKind::Mailers => &["mailer", "timeout"],
        OtherSectionKind::Ring => &[
            "description",
            "format",
            "maxlen",
            "size",
            "timeout",
            "server",
        ],
        OtherSectionKind::Cache => &[
            "total-max-size",
            "max-object-size",
            "max-age",
            "process-vary",
            "max-secondary-entries",
        ],
        OtherSectionKind::Program => &["command", "user", "group", "option", "no"],
    }
}

impl Parser<'_> {
    /// HAProxy's checks for a line of a section ha-compat keeps as words.
    // One arm per HAProxy keyword parser, each with its own check, as in the C source.
    #[allow(clippy::collapsible_match)]
    fn check_other_line(&mut self, kind: OtherSectionKind, section: &str, line: &Line) -> u32 {
        let kw = line.kw();
        if !section_keywords(kind).contains(&kw) {
            if kind == OtherSectionKind::Ring {
                self.alert(line.span, format!("unknown statement '{kw}'."));
            } else {
                self.alert(
                    line.span,
                    format!("unknown keyword '{kw}' in '{section}' section"),
                );
            }
            return err::ALERT | err::FATAL;
        }
        match (kind, kw) {
            (OtherSectionKind::Ring, "size") => {
                if crate::units::atol(line.arg(1)) <= 0 {
                    self.alert(
                        line.span,
                        format!("invalid size '{}' for new sink buffer.", line.arg(1)),
                    );
                    return err::ALERT | err::FATAL;
                }
            }
            (OtherSectionKind::Ring, "format") => {
                if !matches!(
                    line.arg(1),
                    "local"
                        | "rfc3164"
                        | "rfc5424"
                        | "priority"
                        | "short"
                        | "timed"
                        | "iso"
                        | "raw"
                ) {
                    self.alert(line.span, format!("unknown format '{}'.", line.arg(1)));
                    return err::ALERT | err::FATAL;
                }
            }
            (
                OtherSectionKind::Cache,
                "total-max-size" | "max-object-size" | "max-age" | "max-secondary-entries",
            ) => {
                if line.arg(1).parse::<u64>().is_err() {
                    self.warn_tight(line.span, format!("{kw} wrong value '{}'", line.arg(1)));
                    return err::WARN | err::FATAL;
                }
            }
            (OtherSectionKind::Resolvers, "nameserver")
            | (OtherSectionKind::Mailers, "mailer")
            | (OtherSectionKind::Peers, "peer") => {
                let addr = line.arg(2);
                if addr.is_empty() && kind == OtherSectionKind::Peers {
                    // A remote peer may be declared without an address.
                    return 0;
                }
                let (host, port) = super::proxy::split_host_port(addr);
                let head = format!("'{kw} {}'", line.arg(1));
                match port {
                    None => {
                        self.alert(
                            line.span,
                            format!("{head} : missing port specification in '{addr}'"),
                        );
                        return err::ALERT | err::FATAL;
                    }
                    Some(p) => {
                        let v = crate::units::atoi(p);
                        if !(1..=65535).contains(&v) {
                            if kind == OtherSectionKind::Peers {
                                let text = format!(
                                    "'server {}/{}' : invalid port '{p}'",
                                    self.config
                                        .other_sections
                                        .last()
                                        .map(|s| s.name.clone())
                                        .unwrap_or_default(),
                                    line.arg(1)
                                );
                                let text = text.replace(
                                    &format!(
                                        "'server {}/",
                                        self.config
                                            .other_sections
                                            .last()
                                            .map(|s| s.name.clone())
                                            .unwrap_or_default()
                                    ),
                                    &format!("'server {}/", line.arg(1)),
                                );
                                self.push(crate::diag::at(
                                    conf_diag::Severity::Error,
                                    crate::diag::CONTEXT,
                                    line.span,
                                    text,
                                ));
                            }
                            self.alert(line.span, format!("{head} : invalid port '{p}'"));
                            return err::ALERT | err::FATAL;
                        }
                    }
                }
                if host.parse::<std::net::IpAddr>().is_err()
                    && self.opts.resolver.resolve(host).is_none()
                {
                    self.alert(
                        line.span,
                        format!("{head} : invalid address: '{host}' in '{addr}'\n"),
                    );
                    return err::ALERT | err::FATAL;
                }
            }
            _ => {}
        }
        0
    }

    fn section_name_is_log_forward(&self) -> bool {
        self.in_log_forward
    }
}

/// Whether a peers section declares the local peer (which makes HAProxy listen).
pub(crate) fn peers_has_local_peer(section: &OtherSection, local: Option<&str>) -> bool {
    let host = local.map(str::to_string).unwrap_or_else(|| {
        std::fs::read_to_string("/proc/sys/kernel/hostname")
            .map(|h| h.trim().to_string())
            .unwrap_or_default()
    });
    section.lines.iter().any(|d| {
        d.words.first().is_some_and(|w| w == "peer") && d.words.get(1).is_some_and(|n| *n == host)
    })
}
