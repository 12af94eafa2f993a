//! The reading loop: HAProxy 2.6's `readcfgfile()` (src/cfgparse.c) for each file in
//! order, dispatching every line to the parser of the current section, then the checks
//! `check_config_validity()` makes once everything is read.

pub(crate) mod acl;
mod bind;
mod checks;
pub(crate) mod global;
pub(crate) mod proxy;
mod rules;
mod sections;
mod server;
mod validate;

use std::path::{Path, PathBuf};

use conf_diag::{Diagnostic, Diagnostics, FileId, Severity, SourceMap, Span};

use crate::cond::{self, CondContext};
use crate::diag::{self, PARSING, PARSING_TIGHT};
use crate::lexer::{self, Environment, LexError, Pseudo};
use crate::model::{Defaults, HaproxyConfig, Location, ProxySettings};

/// HAProxy's `ERR_*` bits.
pub(crate) mod err {
    pub const WARN: u32 = 0x08;
    pub const ALERT: u32 = 0x10;
    pub const FATAL: u32 = 0x02;
    pub const ABORT: u32 = 0x04;
}

/// HAProxy's `MAXNESTEDCONDS`.
const MAX_NESTED_CONDS: usize = 100;

/// `.if` block states, as `enum nested_cond_state`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CondState {
    IfTake,
    IfDrop,
    IfSkip,
    ElifTake,
    ElifDrop,
    ElifSkip,
    ElseTake,
    ElseDrop,
}

impl CondState {
    fn masks(self) -> bool {
        matches!(
            self,
            CondState::IfDrop
                | CondState::IfSkip
                | CondState::ElifDrop
                | CondState::ElifSkip
                | CondState::ElseDrop
        )
    }
}

/// `no` / `default` keyword modifiers (`KWM_*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kwm {
    Std,
    No,
    Default,
}

/// Which section the lines belong to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Section {
    Global,
    /// defaults, frontend, backend, listen.
    Proxy,
    Userlist,
    HttpErrors,
    Other(crate::model::OtherSectionKind),
    /// Sections HAProxy has that ha-compat keeps as words (log-forward, fcgi-app…).
    Unmodelled,
}

/// Words of one line and where it is.
#[derive(Debug, Clone)]
pub(crate) struct Line {
    pub words: Vec<String>,
    pub kwm: Kwm,
    pub span: Span,
}

impl Line {
    /// `args[i]`, empty when absent (HAProxy tests `*args[i]`).
    pub fn arg(&self, i: usize) -> &str {
        self.words.get(i).map(String::as_str).unwrap_or("")
    }

    pub fn has(&self, i: usize) -> bool {
        !self.arg(i).is_empty()
    }

    pub fn kw(&self) -> &str {
        self.arg(0)
    }
}

/// Looks up host names for server addresses; tests inject a fixed table.
pub trait Resolver {
    fn resolve(&self, host: &str) -> Option<std::net::IpAddr>;
}

/// The system resolver (getaddrinfo through std).
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemResolver;

impl Resolver for SystemResolver {
    fn resolve(&self, host: &str) -> Option<std::net::IpAddr> {
        use std::net::ToSocketAddrs;
        (host, 0)
            .to_socket_addrs()
            .ok()
            .and_then(|mut addrs| addrs.next())
            .map(|a| a.ip())
    }
}

/// A resolver that knows no name: for checking a file meant for another machine.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoResolver;

impl Resolver for NoResolver {
    fn resolve(&self, _host: &str) -> Option<std::net::IpAddr> {
        None
    }
}

/// Everything the reader may look at outside the files.
pub struct LoadOptions<'a> {
    pub env: &'a dyn Environment,
    pub features: &'a str,
    pub resolver: &'a dyn Resolver,
    pub accounts: &'a dyn crate::host::Accounts,
    /// Whether files named by the configuration (errorfiles, certificates) must exist
    /// here: false when checking a file meant for another machine.
    pub host_files: bool,
}

impl std::fmt::Debug for LoadOptions<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoadOptions").finish_non_exhaustive()
    }
}

/// How a load ended, in `haproxy -c` terms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Usable; `listeners` is false when nothing listens (`haproxy -c` exits 2).
    Valid { listeners: bool },
    /// Refused (exit 1).
    Invalid,
    /// A file could not be opened (exit 1, with its own message).
    Unreadable { path: PathBuf, reason: String },
}

/// The result of reading every file.
#[derive(Debug)]
pub struct Loaded {
    pub config: HaproxyConfig,
    pub diagnostics: Diagnostics,
    pub sources: SourceMap,
    pub outcome: Outcome,
}

/// The proxy or defaults section being filled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Current {
    None,
    Proxy(usize),
    Defaults(usize),
}

pub(crate) struct Parser<'a> {
    pub opts: &'a LoadOptions<'a>,
    pub sources: SourceMap,
    pub diags: Diagnostics,
    pub config: HaproxyConfig,
    /// Every defaults section, anonymous ones included (name "").
    pub defaults: Vec<Defaults>,
    /// The preset defaults (`proxy_preset_defaults()`), used before any `defaults`.
    pub preset: ProxySettings,
    pub last_defaults: Option<usize>,
    pub current: Current,
    pub section: Option<Section>,
    pub section_name: String,
    /// Index of the userlist / http-errors / other section being filled.
    pub current_index: Option<usize>,
    /// Defaults names referenced explicitly (`from NAME`) and implicitly, for the
    /// "explicitly referenced by another proxy and implicitly used here" warning.
    pub explicit_refs: Vec<usize>,
    pub implicit_refs: Vec<usize>,
    /// A log-forward section has a `bind`/`dgram-bind` (HAProxy counts it as a listener).
    pub log_forward_listens: bool,
    pub in_log_forward: bool,
}

impl<'a> Parser<'a> {
    fn new(opts: &'a LoadOptions<'a>) -> Self {
        Parser {
            opts,
            sources: SourceMap::new(),
            diags: Diagnostics::new(),
            config: HaproxyConfig::default(),
            defaults: Vec::new(),
            preset: proxy::preset_defaults(),
            last_defaults: None,
            current: Current::None,
            section: None,
            section_name: String::new(),
            current_index: None,
            explicit_refs: Vec::new(),
            implicit_refs: Vec::new(),
            log_forward_listens: false,
            in_log_forward: false,
        }
    }

    pub fn location(&self, span: Span) -> Location {
        Location {
            file: self.file_name(span.file),
            line: span.line,
        }
    }

    pub fn file_name(&self, id: FileId) -> String {
        self.sources
            .file(id)
            .map(|f| f.display_name.clone())
            .unwrap_or_default()
    }

    /// `ha_alert("parsing [%s:%d] : ...")`.
    pub fn alert(&mut self, span: Span, text: impl Into<String>) {
        self.diags
            .push(diag::at(Severity::Error, PARSING, span, text));
    }

    /// `ha_alert("parsing [%s:%d]: ...")`.
    pub fn alert_tight(&mut self, span: Span, text: impl Into<String>) {
        self.diags
            .push(diag::at(Severity::Error, PARSING_TIGHT, span, text));
    }

    /// `ha_warning("parsing [%s:%d] : ...")`.
    pub fn warn(&mut self, span: Span, text: impl Into<String>) {
        self.diags
            .push(diag::at(Severity::Warning, PARSING, span, text));
    }

    pub fn warn_tight(&mut self, span: Span, text: impl Into<String>) {
        self.diags
            .push(diag::at(Severity::Warning, PARSING_TIGHT, span, text));
    }

    pub fn push(&mut self, d: Diagnostic) {
        self.diags.push(d);
    }

    /// An ha-compat note about a keyword HAProxy accepts that we only keep as words. A
    /// NOTICE, not a WARNING: HAProxy accepts the line silently, so `haproxy -c`'s stdout
    /// and `-dW` / `zero-warning` must not change because of it.
    pub fn unmodelled(&mut self, line: &Line, what: &str) {
        self.push(diag::at(
            Severity::Notice,
            PARSING,
            line.span,
            format!(
                "ha-compat: '{what}' is accepted as HAProxy 2.6 accepts it, but ha-compat does not act on it yet (see docs/compatibility.md)."
            ),
        ));
    }

    /// Reads one file, as `readcfgfile()`. Returns HAProxy's `err_code`.
    fn read_file(&mut self, path: &Path) -> Result<u32, std::io::Error> {
        let bytes = std::fs::read(path)?;
        let text = String::from_utf8_lossy(&bytes).into_owned();
        let file = self.sources.add(path, text, None);
        let display = path.display().to_string();
        let mut err_code = 0u32;
        let mut fatal = 0u32;
        let mut conds: Vec<CondState> = Vec::new();
        self.section = None;
        self.section_name.clear();

        let mut raw_lines: Vec<&[u8]> = bytes.split(|&b| b == b'\n').collect();
        // A final newline leaves an empty last piece that is not a line.
        let missing_lf = match raw_lines.last() {
            Some([]) => {
                raw_lines.pop();
                None
            }
            Some(last) => Some(last.len()),
            None => None,
        };
        let line_count = raw_lines.len();
        let mut last_line_no = 0u32;
        for (index, raw) in raw_lines.into_iter().enumerate() {
            let line_no = u32::try_from(index + 1).unwrap_or(u32::MAX);
            last_line_no = line_no;
            let span = Span::line(file, line_no);
            if let Some(nul) = raw.iter().position(|&b| b == 0) {
                // fgets() stops at the NUL: HAProxy sees a line without LF and stops.
                self.alert_tight(
                    span,
                    format!("Stray NUL character at position {}.", nul + 1),
                );
                err_code |= err::ALERT | err::FATAL;
                break;
            }
            if fatal >= 50 {
                self.alert_tight(
                    span,
                    format!("too many fatal errors ({fatal}), stopping now."),
                );
                break;
            }
            let lead = raw
                .iter()
                .take_while(|&&b| matches!(b, b' ' | b'\t' | b'\r' | b'\x0b' | b'\x0c'))
                .count();
            if raw.get(lead) == Some(&b'[') {
                err_code |= self.scope_line(span, &raw[lead..]);
                continue;
            }
            let pseudo = Pseudo {
                file: &display,
                line: line_no,
                section: &self.section_name.clone(),
            };
            let words = match lexer::split_line(raw, self.opts.env, pseudo) {
                Ok(w) => w,
                Err(e) => {
                    self.lex_error(span, raw, lead, &e);
                    err_code |= err::ALERT | err::FATAL;
                    fatal += 1;
                    continue;
                }
            };
            if words.is_empty() {
                continue;
            }
            let mut words: Vec<String> = words
                .into_iter()
                .map(|w| String::from_utf8_lossy(&w).into_owned())
                .collect();

            if words[0].starts_with('.') {
                match words[0].as_str() {
                    ".if" | ".elif" => {
                        let is_if = words[0] == ".if";
                        let text = words[1..].join(" ");
                        if is_if {
                            if conds.len() + 1 >= MAX_NESTED_CONDS {
                                self.alert_tight(
                                    span,
                                    format!("too many nested '.if', max is {MAX_NESTED_CONDS}."),
                                );
                                return Ok(err_code | err::ALERT | err::FATAL | err::ABORT);
                            }
                            if conds.last().is_some_and(|c| c.masks()) {
                                conds.push(CondState::IfSkip);
                                continue;
                            }
                        } else {
                            let Some(top) = conds.last().copied() else {
                                self.alert_tight(span, "lone '.elif' with no matching '.if'.");
                                return Ok(err_code | err::ALERT | err::FATAL | err::ABORT);
                            };
                            if matches!(top, CondState::ElseTake | CondState::ElseDrop) {
                                self.alert_tight(span, "'.elif' after '.else' is not permitted.");
                                return Ok(err_code | err::ALERT | err::FATAL | err::ABORT);
                            }
                            if matches!(
                                top,
                                CondState::IfTake
                                    | CondState::IfSkip
                                    | CondState::ElifTake
                                    | CondState::ElifSkip
                            ) {
                                if let Some(last) = conds.last_mut() {
                                    *last = CondState::ElifSkip;
                                }
                                continue;
                            }
                        }
                        let ctx = CondContext {
                            env: self.opts.env,
                            features: self.opts.features,
                        };
                        match cond::evaluate(&text, &ctx) {
                            Ok(value) => {
                                let state = match (is_if, value) {
                                    (true, true) => CondState::IfTake,
                                    (true, false) => CondState::IfDrop,
                                    (false, true) => CondState::ElifTake,
                                    (false, false) => CondState::ElifDrop,
                                };
                                if is_if {
                                    conds.push(state);
                                } else if let Some(last) = conds.last_mut() {
                                    *last = state;
                                }
                            }
                            Err(e) => {
                                let directive = if is_if { ".if" } else { ".elif" };
                                let width = if is_if { 76 } else { 74 };
                                let (shown, caret) =
                                    lexer::sanitize_for_printing(text.as_bytes(), e.offset, width);
                                let pad = caret + directive.len() + 2;
                                self.alert_tight(
                                    span,
                                    format!(
                                        "{} in '{directive}' at position {}:\n  {directive} {shown}\n  {:>pad$}",
                                        e.message,
                                        e.offset + 1,
                                        "^",
                                    ),
                                );
                                return Ok(err_code | err::ALERT | err::FATAL | err::ABORT);
                            }
                        }
                        continue;
                    }
                    ".else" | ".endif" => {
                        let directive = words[0].clone();
                        if words.len() > 1 {
                            self.alert_tight(
                                span,
                                format!("Unexpected argument '{}' for '{directive}'.", words[1]),
                            );
                            err_code |= err::ALERT | err::FATAL | err::ABORT;
                            break;
                        }
                        let Some(top) = conds.last().copied() else {
                            self.alert_tight(
                                span,
                                format!("lone '{directive}' with no matching '.if'."),
                            );
                            err_code |= err::ALERT | err::FATAL | err::ABORT;
                            if directive == ".else" {
                                return Ok(err_code);
                            }
                            break;
                        };
                        if directive == ".endif" {
                            conds.pop();
                            continue;
                        }
                        if matches!(top, CondState::ElseTake | CondState::ElseDrop) {
                            self.alert_tight(span, "'.else' after '.else' is not permitted.");
                            return Ok(err_code | err::ALERT | err::FATAL | err::ABORT);
                        }
                        let next = if matches!(
                            top,
                            CondState::IfTake
                                | CondState::IfSkip
                                | CondState::ElifTake
                                | CondState::ElifSkip
                        ) {
                            CondState::ElseDrop
                        } else {
                            CondState::ElseTake
                        };
                        if let Some(last) = conds.last_mut() {
                            *last = next;
                        }
                        continue;
                    }
                    _ => {}
                }
            }

            if conds.last().is_some_and(|c| c.masks()) {
                continue;
            }

            if words[0].starts_with('.') {
                let directive = words[0].clone();
                match directive.as_str() {
                    ".alert" | ".warning" | ".notice" | ".diag" => {
                        if words.len() > 2 {
                            self.alert_tight(
                                span,
                                format!(
                                    "Unexpected argument '{}' for '{directive}'. Use quotes if the message should contain spaces.",
                                    words[2]
                                ),
                            );
                            err_code |= err::ALERT | err::FATAL;
                            continue;
                        }
                        let text = format!("'{}'.", words.get(1).map(String::as_str).unwrap_or(""));
                        match directive.as_str() {
                            ".alert" => {
                                self.alert_tight(span, text);
                                return Ok(err_code | err::ALERT | err::FATAL | err::ABORT);
                            }
                            ".warning" => {
                                self.warn_tight(span, text);
                                err_code |= err::WARN;
                            }
                            ".notice" => {
                                self.push(diag::at(Severity::Notice, PARSING_TIGHT, span, text))
                            }
                            _ => {} // .diag prints only with -dD
                        }
                        continue;
                    }
                    _ => {
                        self.alert_tight(span, format!("unknown directive '{directive}'."));
                        err_code |= err::ALERT | err::FATAL;
                        break;
                    }
                }
            }

            let mut kwm = Kwm::Std;
            if words[0] == "no" {
                kwm = Kwm::No;
                words.remove(0);
            } else if words[0] == "default" {
                kwm = Kwm::Default;
                words.remove(0);
            }
            if kwm != Kwm::Std {
                let first = words.first().map(String::as_str).unwrap_or("");
                if !matches!(
                    first,
                    "option"
                        | "log"
                        | "busy-polling"
                        | "set-dumpable"
                        | "strict-limits"
                        | "insecure-fork-wanted"
                        | "numa-cpu-mapping"
                ) {
                    self.alert_tight(
                        span,
                        "negation/default currently supported only for options, log, busy-polling, set-dumpable, strict-limits, insecure-fork-wanted and numa-cpu-mapping.",
                    );
                    err_code |= err::ALERT | err::FATAL;
                    fatal += 1;
                }
            }
            if words.is_empty() {
                words.push(String::new());
            }

            if let Some(section) = section_of(&words[0]) {
                self.end_section();
                self.section = Some(section);
                self.section_name = if words.len() > 1 && !words[1].is_empty() {
                    words[1].clone()
                } else {
                    words[0].clone()
                };
            }
            let line = Line { words, kwm, span };
            let status = match self.section {
                None => {
                    self.alert_tight(
                        span,
                        format!("unknown keyword '{}' out of section.", line.kw()),
                    );
                    err::ALERT | err::FATAL
                }
                Some(Section::Global) => self.global_line(&line),
                Some(Section::Proxy) => self.proxy_line(&line),
                Some(Section::Userlist) => self.userlist_line(&line),
                Some(Section::HttpErrors) => self.http_errors_line(&line),
                Some(Section::Other(kind)) => self.other_line(kind, &line),
                Some(Section::Unmodelled) => self.unmodelled_section_line(&line),
            };
            err_code |= status;
            if status & err::FATAL != 0 {
                fatal += 1;
            }
            if err_code & err::ABORT != 0 {
                return Ok(err_code);
            }
        }
        let _ = line_count;

        if let Some(len) = missing_lf {
            self.alert_tight(
                Span::line(file, last_line_no),
                format!(
                    "Missing LF on last line, file might have been truncated at position {}.",
                    len + 1
                ),
            );
            err_code |= err::ALERT | err::FATAL;
        }
        self.end_section();
        self.section = None;
        if !conds.is_empty() {
            self.alert_tight(
                Span::line(file, last_line_no),
                "non-terminated '.if' block.",
            );
            err_code |= err::ALERT | err::FATAL | err::ABORT;
        }
        Ok(err_code)
    }

    fn lex_error(&mut self, span: Span, raw: &[u8], lead: usize, e: &LexError) {
        match e {
            LexError::TooMany { position, word } => {
                self.alert_tight(
                    span,
                    format!(
                        "too many words, truncating after word {}, position {}: <{}>.",
                        lexer::MAX_LINE_ARGS,
                        position + 1,
                        String::from_utf8_lossy(word)
                    ),
                );
            }
            other => {
                let offset = other.offset();
                let trimmed = &raw[lead..];
                let (shown, caret) =
                    lexer::sanitize_for_printing(trimmed, offset.saturating_sub(lead), 80);
                let pad = caret + 1;
                self.alert_tight(
                    span,
                    format!(
                        "{} at position {}:\n  {shown}\n  {:>pad$}",
                        other.what(),
                        offset + 1,
                        "^"
                    ),
                );
            }
        }
    }

    fn scope_line(&mut self, span: Span, line: &[u8]) -> u32 {
        let inner = &line[1..];
        let Some(end) = inner.iter().position(|&b| b == b']').filter(|&e| e > 0) else {
            self.alert(span, "empty scope name is forbidden.");
            return err::ALERT | err::FATAL;
        };
        let name = String::from_utf8_lossy(&inner[..end]).into_owned();
        if let Some(c) = invalid_char(&name) {
            self.alert(
                span,
                format!("character '{c}' is not permitted in a scope name."),
            );
            return err::ALERT | err::ABORT;
        }
        let rest = &inner[end + 1..];
        let rest_trimmed: Vec<u8> = rest
            .iter()
            .copied()
            .skip_while(|b| b.is_ascii_whitespace())
            .collect();
        if !rest_trimmed.is_empty() && rest_trimmed[0] != b'#' {
            self.alert(span, "unexpected character after scope name: extra data.");
            return err::ALERT | err::FATAL;
        }
        0
    }

    /// Called when a section ends (a new one starts, or the file ends): commits what the
    /// section built.
    fn end_section(&mut self) {
        if let Current::Defaults(index) = self.current {
            if let Some(d) = self.defaults.get(index) {
                if !d.name.is_empty() {
                    let named = d.clone();
                    if let Some(existing) = self
                        .config
                        .named_defaults
                        .iter_mut()
                        .find(|n| n.name == named.name && n.at == named.at)
                    {
                        *existing = named;
                    } else {
                        self.config.named_defaults.push(named);
                    }
                }
            }
        }
    }
}

/// Section keywords and where their lines go.
fn section_of(word: &str) -> Option<Section> {
    use crate::model::OtherSectionKind as K;
    Some(match word {
        "global" => Section::Global,
        "defaults" | "frontend" | "backend" | "listen" => Section::Proxy,
        "userlist" => Section::Userlist,
        "http-errors" => Section::HttpErrors,
        "peers" => Section::Other(K::Peers),
        "resolvers" => Section::Other(K::Resolvers),
        "mailers" => Section::Other(K::Mailers),
        "ring" => Section::Other(K::Ring),
        "cache" => Section::Other(K::Cache),
        "program" => Section::Other(K::Program),
        "log-forward" | "fcgi-app" | "namespace_list" => Section::Unmodelled,
        _ => return None,
    })
}

/// HAProxy's `invalid_char()`: names may hold letters, digits, `.`, `-`, `_`, `:`.
pub(crate) fn invalid_char(name: &str) -> Option<char> {
    name.chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | ':')))
}

/// Reads every file in order, then checks the whole, as `haproxy -c` does.
pub fn load(files: &[PathBuf], opts: &LoadOptions<'_>) -> Loaded {
    let mut p = Parser::new(opts);
    let mut total = 0u32;
    for path in files {
        match p.read_file(path) {
            Err(e) => {
                let reason = io_reason(&e);
                p.push(diag::bare(
                    Severity::Error,
                    format!(
                        "Could not open configuration file {} : {reason}",
                        path.display()
                    ),
                ));
                return p.finish(Outcome::Unreadable {
                    path: path.clone(),
                    reason,
                });
            }
            Ok(code) => {
                if code & (err::ABORT | err::FATAL) != 0 {
                    p.push(diag::bare(
                        Severity::Error,
                        format!("Error(s) found in configuration file : {}", path.display()),
                    ));
                }
                total |= code;
                if total & err::ABORT != 0 {
                    return p.finish(Outcome::Invalid);
                }
            }
        }
    }
    if total & (err::ABORT | err::FATAL) != 0 {
        p.push(diag::bare(
            Severity::Error,
            "Fatal errors found in configuration.",
        ));
        return p.finish(Outcome::Invalid);
    }
    let code = p.check_config_validity();
    if code & (err::ABORT | err::FATAL) != 0 {
        p.push(diag::bare(
            Severity::Error,
            "Fatal errors found in configuration.",
        ));
        return p.finish(Outcome::Invalid);
    }
    let code = p.init_server_addresses();
    if code & (err::ABORT | err::FATAL) != 0 {
        p.push(diag::bare(
            Severity::Error,
            "Failed to initialize server(s) addr.",
        ));
        return p.finish(Outcome::Invalid);
    }
    let local_peer = p
        .config
        .global
        .unmodelled
        .iter()
        .rev()
        .find(|d| d.words.first().is_some_and(|w| w == "localpeer"))
        .and_then(|d| d.words.get(1).cloned());
    let listeners = p
        .config
        .proxies
        .iter()
        .any(|px| !px.disabled && !px.binds.is_empty())
        || p.log_forward_listens
        // A `stats socket` is a listener of HAProxy's CLI frontend: Debian's default
        // haproxy.cfg (no proxy) is valid, exit 0 (fixture valid/debian_default.cfg).
        || !p.config.global.stats_sockets.is_empty()
        || p.config.other_sections.iter().any(|s| {
            s.kind == crate::model::OtherSectionKind::Peers
                && sections::peers_has_local_peer(s, local_peer.as_deref())
        });
    p.finish(Outcome::Valid { listeners })
}

/// strerror()-like text for an I/O error.
pub(crate) fn io_reason(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::NotFound => "No such file or directory".into(),
        std::io::ErrorKind::PermissionDenied => "Permission denied".into(),
        _ => match e.raw_os_error() {
            Some(21) => "Is a directory".into(),
            _ => e.to_string(),
        },
    }
}

impl Parser<'_> {
    fn finish(self, outcome: Outcome) -> Loaded {
        Loaded {
            config: self.config,
            diagnostics: self.diags,
            sources: self.sources,
            outcome,
        }
    }
}
