//! HAProxy 2.6's runtime API (the `stats socket` CLI), sans I/O: how a connection's bytes
//! are cut into commands (`cli_io_handler()`: lines and unescaped `;`, `\` escapes, a
//! trailing `\r`), how a command line is split into words (`cli_parse_request()`), which
//! keyword it names (`cli_find_kw()`), the help and "did you mean" lists
//! (`cli_gen_usage_msg()`), the session's level (`user` < `operator` < `admin`), its
//! interactive `prompt` mode and `set severity-output`, and each command's replies, read
//! from and applied to a [`CliTarget`] (the running engine, or a fake in tests).
//!
//! The runtime (sockets, `stats timeout`) is [`server`].

pub mod server;
#[cfg(test)]
mod tests;

use std::fmt::Write as _;
use std::time::Duration;

use crate::admin::AdminAction;
use crate::http::stats::StatsSnapshot;

/// `MAX_CLI_ARGS`.
const MAX_ARGS: usize = 64;
/// A command longer than the buffer (`tune.bufsize` 16384, one byte kept for the NUL)
/// ends the session, as HAProxy cannot find its end.
const MAX_LINE: usize = 16383;

/// A CLI session's access level (`ACCESS_LVL_*`), from the socket's `level`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    User,
    Operator,
    Admin,
}

impl Level {
    /// The `level` bind option's values; HAProxy's default is `operator`.
    pub fn from_option(value: Option<&str>) -> Option<Level> {
        match value {
            None | Some("operator") => Some(Level::Operator),
            Some("user") => Some(Level::User),
            Some("admin") => Some(Level::Admin),
            Some(_) => None,
        }
    }

    /// As `show cli level` prints it.
    pub fn as_str(self) -> &'static str {
        match self {
            Level::User => "user",
            Level::Operator => "operator",
            Level::Admin => "admin",
        }
    }
}

/// `set severity-output`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SeverityOutput {
    None,
    Number,
    String,
}

/// `LOG_ERR` / `LOG_INFO` as the severity prefix shows them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Severity {
    Err,
    Info,
}

/// What a command answers before the prompt.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Reply {
    /// Nothing (success without a message).
    Empty,
    /// A dump written by an I/O handler (`show stat`, `get weight`): never prefixed.
    Dump(String),
    /// `cli_msg()` / a usage list: `LOG_INFO`.
    Msg(String),
    /// `cli_err()`: `LOG_ERR`.
    Err(String),
    /// `quit`: the session ends without a prompt.
    Quit,
}

const PERMISSION_DENIED: &str = "Permission denied\n";

/// A server as the CLI names it (`backend/server`), resolved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServerRef {
    pub backend: usize,
    pub server: usize,
}

/// Why `backend/server` names nothing (`get_backend_server()`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LookupError {
    NoSuchBackend,
    NoSuchServer,
}

/// What `show info` reads besides the stats snapshot's process block.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InfoExtra {
    /// `global.hardmaxconn` (the limit `set maxconn global` may not exceed).
    pub hard_maxconn: u64,
    pub cum_conns: u64,
    pub cum_req: u64,
    pub max_conn_rate: u64,
    pub sess_rate: u64,
    pub max_sess_rate: u64,
    pub stopping: bool,
    pub jobs: u64,
    pub listeners: u64,
    pub total_bytes_out: u64,
    pub start_time_sec: u64,
}

/// One live session, for `show sess`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionLine {
    pub id: u64,
    /// `tcpv4`, `tcpv6`, `unix_stream`.
    pub proto: &'static str,
    /// `ip:port`, or `unix:N` for a CLI connection on a unix socket.
    pub src: String,
    pub frontend: String,
    pub backend: Option<String>,
    pub server: Option<String>,
    pub age: Duration,
}

/// What the CLI reads from and changes in the running process.
pub trait CliTarget {
    fn snapshot(&self) -> StatsSnapshot;
    fn info_extra(&self) -> InfoExtra;
    /// `get_backend_server()`: a backend (by name or `#id`) and one of its servers (by
    /// name or `#id`).
    fn find_server(&self, backend: &str, server: &str) -> Result<ServerRef, LookupError>;
    /// A backend (for `show servers state <backend>`): its index in the snapshot's
    /// proxies.
    fn find_backend(&self, name: &str) -> Option<usize>;
    /// (user weight, initial weight).
    fn weight(&self, server: ServerRef) -> (u32, u32);
    /// `set weight` / `set server ... weight`: already checked against the range; the
    /// error is the balancer's message (static algorithms).
    fn set_weight(&self, server: ServerRef, weight: u32) -> Result<(), String>;
    fn admin(&self, server: ServerRef, action: AdminAction);
    fn set_server_maxconn(&self, server: ServerRef, maxconn: u32);
    /// `proxy_fe_by_name()` then `maxconn` on it and its listeners; false: no such
    /// frontend.
    fn set_frontend_maxconn(&self, name: &str, maxconn: u32) -> bool;
    fn set_global_maxconn(&self, maxconn: u32);
    /// The live sessions, or `None` where this engine does not track them.
    fn sessions(&self) -> Option<Vec<SessionLine>>;
    /// For `show servers state`: each server's `(use_ssl, check_port)`.
    fn server_extras(&self, server: ServerRef) -> (bool, u16);
}

/// One CLI connection: its level, mode and unread bytes.
#[derive(Debug)]
pub struct Session {
    level: Level,
    interactive: bool,
    severity: SeverityOutput,
    pending: Vec<u8>,
    /// `set timeout cli`: the session's own idle timeout, when changed.
    timeout: Option<Duration>,
    closed: bool,
}

/// What the session wants written, and whether it ends after that.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Output {
    pub bytes: Vec<u8>,
    pub close: bool,
}

impl Session {
    pub fn new(level: Level) -> Session {
        Session {
            level,
            interactive: false,
            severity: SeverityOutput::None,
            pending: Vec::new(),
            timeout: None,
            closed: false,
        }
    }

    /// The idle timeout `set timeout cli` gave this session, if any.
    pub fn timeout(&self) -> Option<Duration> {
        self.timeout
    }

    /// Takes bytes the client sent (`eof`: it shut its side) and runs every complete
    /// command in them.
    pub fn feed(&mut self, input: &[u8], eof: bool, target: &dyn CliTarget) -> Output {
        let mut out = Output::default();
        if self.closed {
            out.close = true;
            return out;
        }
        self.pending.extend_from_slice(input);
        loop {
            let Some((end, consumed)) = command_end(&self.pending) else {
                // No full command: a line longer than the buffer, or a client that
                // closed mid-line, ends the session (the partial line is not run).
                if self.pending.len() > MAX_LINE || eof {
                    self.closed = true;
                    out.close = true;
                }
                return out;
            };
            let mut line: Vec<u8> = self.pending[..end].to_vec();
            if line.last() == Some(&b'\r') {
                line.pop();
            }
            self.pending.drain(..consumed);
            let reply = self.run(&line, target);
            if reply == Reply::Quit {
                self.closed = true;
                out.close = true;
                return out;
            }
            self.write_reply(&reply, &mut out.bytes);
            if self.interactive {
                out.bytes.extend_from_slice(b"\n> ");
            } else {
                out.bytes.push(b'\n');
                // Non-interactive: the session ends once nothing more is waiting.
                if self.pending.is_empty() {
                    self.closed = true;
                    out.close = true;
                    return out;
                }
            }
        }
    }

    fn write_reply(&self, reply: &Reply, out: &mut Vec<u8>) {
        let (text, severity) = match reply {
            Reply::Empty | Reply::Quit => return,
            Reply::Dump(text) => {
                out.extend_from_slice(text.as_bytes());
                return;
            }
            Reply::Msg(text) => (text, Severity::Info),
            Reply::Err(text) => (text, Severity::Err),
        };
        match (self.severity, severity) {
            (SeverityOutput::None, _) => {}
            (SeverityOutput::Number, Severity::Err) => out.extend_from_slice(b"[3]: "),
            (SeverityOutput::Number, Severity::Info) => out.extend_from_slice(b"[6]: "),
            (SeverityOutput::String, Severity::Err) => out.extend_from_slice(b"[err]: "),
            (SeverityOutput::String, Severity::Info) => out.extend_from_slice(b"[info]: "),
        }
        out.extend_from_slice(text.as_bytes());
    }

    /// Runs one command line (without its end of line).
    fn run(&mut self, line: &[u8], target: &dyn CliTarget) -> Reply {
        let words = split_words(line);
        let args: Vec<&str> = words.iter().map(String::as_str).collect();
        let Some(keyword) = find_keyword(&args) else {
            return Reply::Msg(usage(&args));
        };
        self.execute(keyword.command, &args, target)
    }

    fn has_level(&self, level: Level) -> bool {
        self.level >= level
    }

    fn execute(&mut self, command: Command, args: &[&str], target: &dyn CliTarget) -> Reply {
        let arg = |i: usize| args.get(i).copied().unwrap_or("");
        match command {
            Command::Help => Reply::Msg(usage(args)),
            Command::Prompt => {
                self.interactive = !self.interactive;
                Reply::Empty
            }
            Command::Quit => Reply::Quit,
            Command::LowerTo(level) => {
                if self.level < level {
                    Reply::Err(PERMISSION_DENIED.into())
                } else {
                    self.level = level;
                    Reply::Empty
                }
            }
            Command::ShowCliLevel => Reply::Dump(format!("{}\n", self.level.as_str())),
            Command::SetSeverityOutput => match arg(2) {
                "none" => {
                    self.severity = SeverityOutput::None;
                    Reply::Empty
                }
                "number" => {
                    self.severity = SeverityOutput::Number;
                    Reply::Empty
                }
                "string" => {
                    self.severity = SeverityOutput::String;
                    Reply::Empty
                }
                _ => {
                    Reply::Err("one of 'none', 'number', 'string' is a required argument\n".into())
                }
            },
            Command::SetTimeout => {
                if arg(2) != "cli" {
                    return Reply::Err("'set timeout' only supports 'cli'.\n".into());
                }
                if arg(3).is_empty() {
                    return Reply::Err("Expects an integer value.\n".into());
                }
                // `parse_time_err(.., TIME_UNIT_S)`: anything after the unit is an error.
                match haproxy_conf::units::parse_time(
                    arg(3),
                    haproxy_conf::units::TimeUnit::Seconds,
                ) {
                    Ok(t) if t.value >= 1 && t.trailing_warning.is_none() => {
                        self.timeout = Some(Duration::from_secs(u64::from(t.value)));
                        Reply::Empty
                    }
                    _ => Reply::Err("Invalid timeout value.\n".into()),
                }
            }
            Command::ShowInfo => Reply::Dump(show_info(&target.snapshot(), &target.info_extra())),
            Command::ShowVersion => Reply::Dump(format!("{}\n", target.snapshot().process.version)),
            Command::ShowStat => show_stat(args, target),
            Command::ShowBackend => {
                let mut out = String::from("# name\n");
                for px in target
                    .snapshot()
                    .proxies
                    .iter()
                    .filter(|p| p.backend.is_some())
                {
                    let _ = writeln!(out, "{}", px.name);
                }
                Reply::Dump(out)
            }
            Command::ShowServersState => {
                let snapshot = target.snapshot();
                let only = match arg(3) {
                    "" => None,
                    name => match target.find_backend(name) {
                        Some(i) => Some(i),
                        None => return Reply::Err("Can't find backend.\n".into()),
                    },
                };
                Reply::Dump(show_servers_state(&snapshot, only, target))
            }
            Command::ShowSess => {
                if !self.has_level(Level::Operator) {
                    return Reply::Err(PERMISSION_DENIED.into());
                }
                if !arg(2).is_empty() {
                    return Reply::Err(
                        "ha-compat: 'show sess <id>' (one session's details) is not supported yet; 'show sess' lists them.\n"
                            .into(),
                    );
                }
                match target.sessions() {
                    Some(sessions) => Reply::Dump(show_sess(&sessions)),
                    None => Reply::Err(
                        "ha-compat: 'show sess' is not supported by this runtime API yet.\n".into(),
                    ),
                }
            }
            Command::GetWeight => match server_arg(arg(2), target) {
                Ok(sv) => {
                    let (user, initial) = target.weight(sv);
                    Reply::Dump(format!("{user} (initial {initial})\n"))
                }
                Err(e) => e,
            },
            Command::SetWeight => {
                if !self.has_level(Level::Admin) {
                    return Reply::Err(PERMISSION_DENIED.into());
                }
                match server_arg(arg(2), target) {
                    Ok(sv) => set_weight(target, sv, arg(3)),
                    Err(e) => e,
                }
            }
            Command::SetServer => {
                if !self.has_level(Level::Admin) {
                    return Reply::Err(PERMISSION_DENIED.into());
                }
                let sv = match server_arg(arg(2), target) {
                    Ok(sv) => sv,
                    Err(e) => return e,
                };
                set_server(target, sv, arg(3), arg(4))
            }
            Command::ServerAdmin(action) => {
                if !self.has_level(Level::Admin) {
                    return Reply::Err(PERMISSION_DENIED.into());
                }
                match server_arg(arg(2), target) {
                    Ok(sv) => {
                        target.admin(sv, action);
                        Reply::Empty
                    }
                    Err(e) => e,
                }
            }
            Command::SetMaxconnServer => {
                if !self.has_level(Level::Admin) {
                    return Reply::Err(PERMISSION_DENIED.into());
                }
                let sv = match server_arg(arg(3), target) {
                    Ok(sv) => sv,
                    Err(e) => return e,
                };
                let value = arg(4);
                if value.is_empty() {
                    return Reply::Err("Require <maxconn>.\n".into());
                }
                match strtol(value) {
                    None => Reply::Err("maxconn string empty or preceded by garbage".into()),
                    Some((_, rest)) if !rest.is_empty() => {
                        Reply::Err("Trailing garbage in maxconn string".into())
                    }
                    Some((v, _)) => {
                        // `sv->maxconn` is an int; a negative value reads as none.
                        target.set_server_maxconn(sv, u32::try_from(v.max(0)).unwrap_or(u32::MAX));
                        Reply::Empty
                    }
                }
            }
            Command::SetMaxconnFrontend => {
                if !self.has_level(Level::Admin) {
                    return Reply::Err(PERMISSION_DENIED.into());
                }
                if arg(3).is_empty() {
                    return Reply::Err("A frontend name is expected.\n".into());
                }
                if !target
                    .snapshot()
                    .proxies
                    .iter()
                    .any(|p| p.frontend.is_some() && p.name == arg(3))
                {
                    return Reply::Err("No such frontend.\n".into());
                }
                if arg(4).is_empty() {
                    return Reply::Err("Integer value expected.\n".into());
                }
                let v = atoi(arg(4));
                if v < 0 {
                    return Reply::Err("Value out of range.\n".into());
                }
                target.set_frontend_maxconn(arg(3), u32::try_from(v).unwrap_or(u32::MAX));
                Reply::Empty
            }
            Command::SetMaxconnGlobal => {
                if !self.has_level(Level::Admin) {
                    return Reply::Err(PERMISSION_DENIED.into());
                }
                if arg(3).is_empty() {
                    return Reply::Err("Expects an integer value.\n".into());
                }
                // 0: no configured limit, nothing to exceed.
                let hard = target.info_extra().hard_maxconn;
                let v = atoi(arg(3));
                if hard > 0 && v > 0 && v as u64 > hard {
                    return Reply::Err("Value out of range.\n".into());
                }
                // 0 or less: back to the hard limit.
                let v = if v <= 0 { hard } else { v as u64 };
                target.set_global_maxconn(u32::try_from(v).unwrap_or(u32::MAX));
                Reply::Empty
            }
        }
    }
}

/// Where the first command in `buf` ends: (its length without the delimiter, bytes to
/// consume). A `\` escapes the next byte; `;` ends a command like a line feed.
pub fn command_end(buf: &[u8]) -> Option<(usize, usize)> {
    let mut i = 0;
    while i < buf.len() {
        match buf[i] {
            b'\\' => i += 2,
            b'\n' | b';' => return Some((i, i + 1)),
            _ => i += 1,
        }
    }
    None
}

/// `cli_parse_request()`'s words: split on spaces and tabs, `\x` keeps `x` (a space or a
/// `;` in a word), `\\` is one backslash; at most 64 words.
pub fn split_words(line: &[u8]) -> Vec<String> {
    let mut words = Vec::new();
    let mut i = 0;
    while i < line.len() && words.len() < MAX_ARGS {
        while i < line.len() && (line[i] == b' ' || line[i] == b'\t') {
            i += 1;
        }
        if i >= line.len() {
            break;
        }
        let mut word = Vec::new();
        while i < line.len() && line[i] != b' ' && line[i] != b'\t' {
            if line[i] == b'\\' {
                if let Some(&next) = line.get(i + 1) {
                    word.push(next);
                    i += 2;
                } else {
                    i += 1;
                }
                continue;
            }
            word.push(line[i]);
            i += 1;
        }
        words.push(String::from_utf8_lossy(&word).into_owned());
    }
    words
}

/// What a keyword does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Command {
    Help,
    Prompt,
    Quit,
    LowerTo(Level),
    ShowCliLevel,
    SetSeverityOutput,
    SetTimeout,
    ShowInfo,
    ShowVersion,
    ShowStat,
    ShowBackend,
    ShowServersState,
    ShowSess,
    GetWeight,
    SetWeight,
    SetServer,
    ServerAdmin(AdminAction),
    SetMaxconnServer,
    SetMaxconnFrontend,
    SetMaxconnGlobal,
}

struct Keyword {
    words: &'static [&'static str],
    /// The help line after its two leading spaces (HAProxy's `usage`), `None` for
    /// `help`/`prompt`/`quit`, which the help always ends with.
    usage: Option<&'static str>,
    command: Command,
}

/// The commands this runtime API runs, with HAProxy 2.6.12's usage lines.
const KEYWORDS: &[Keyword] = &[
    Keyword { words: &["help"], usage: None, command: Command::Help },
    Keyword { words: &["prompt"], usage: None, command: Command::Prompt },
    Keyword { words: &["quit"], usage: None, command: Command::Quit },
    Keyword { words: &["operator"], usage: Some("operator                                : lower the level of the current CLI session to operator"), command: Command::LowerTo(Level::Operator) },
    Keyword { words: &["user"], usage: Some("user                                    : lower the level of the current CLI session to user"), command: Command::LowerTo(Level::User) },
    Keyword { words: &["show", "cli", "level"], usage: Some("show cli level                          : display the level of the current CLI session"), command: Command::ShowCliLevel },
    Keyword { words: &["set", "severity-output"], usage: Some("set severity-output [none|number|string]: set presence of severity level in feedback information"), command: Command::SetSeverityOutput },
    Keyword { words: &["set", "timeout"], usage: Some("set timeout [cli] <delay>               : change a timeout setting"), command: Command::SetTimeout },
    Keyword { words: &["show", "info"], usage: Some("show info [desc|json|typed|float]*      : report information about the running process"), command: Command::ShowInfo },
    Keyword { words: &["show", "version"], usage: Some("show version                            : show version of the current process"), command: Command::ShowVersion },
    Keyword { words: &["show", "stat"], usage: Some("show stat [desc|json|no-maint|typed|up]*: report counters for each proxy and server"), command: Command::ShowStat },
    Keyword { words: &["show", "backend"], usage: Some("show backend                            : list backends in the current running config"), command: Command::ShowBackend },
    Keyword { words: &["show", "servers", "state"], usage: Some("show servers state [<backend>]          : dump volatile server information (all or for a single backend)"), command: Command::ShowServersState },
    Keyword { words: &["show", "sess"], usage: Some("show sess [id]                          : report the list of current sessions or dump this exact session"), command: Command::ShowSess },
    Keyword { words: &["get", "weight"], usage: Some("get weight <bk>/<srv>                   : report a server's current weight"), command: Command::GetWeight },
    Keyword { words: &["set", "weight"], usage: Some("set weight <bk>/<srv>  (DEPRECATED)     : change a server's weight (use 'set server' instead)"), command: Command::SetWeight },
    Keyword { words: &["set", "server"], usage: Some("set server <bk>/<srv> [opts]            : change a server's state, weight, address or ssl"), command: Command::SetServer },
    Keyword { words: &["disable", "server"], usage: Some("disable server (DEPRECATED)             : disable a server for maintenance (use 'set server' instead)"), command: Command::ServerAdmin(AdminAction::Maint) },
    Keyword { words: &["enable", "server"], usage: Some("enable server  (DEPRECATED)             : enable a disabled server (use 'set server' instead)"), command: Command::ServerAdmin(AdminAction::Ready) },
    Keyword { words: &["disable", "health"], usage: Some("disable health                          : disable health checks"), command: Command::ServerAdmin(AdminAction::DisableHealth) },
    Keyword { words: &["enable", "health"], usage: Some("enable health                           : enable health checks"), command: Command::ServerAdmin(AdminAction::EnableHealth) },
    Keyword { words: &["set", "maxconn", "server"], usage: Some("set maxconn server <bk>/<srv>           : change a server's maxconn setting"), command: Command::SetMaxconnServer },
    Keyword { words: &["set", "maxconn", "frontend"], usage: Some("set maxconn frontend <frontend> <value> : change a frontend's maxconn setting"), command: Command::SetMaxconnFrontend },
    Keyword { words: &["set", "maxconn", "global"], usage: Some("set maxconn global <value>              : change the per-process maxconn setting"), command: Command::SetMaxconnGlobal },
];

/// `cli_find_kw()`: the first keyword whose words all equal the command's first words.
fn find_keyword(args: &[&str]) -> Option<&'static Keyword> {
    KEYWORDS
        .iter()
        .find(|k| k.words.len() <= args.len() && k.words.iter().zip(args).all(|(w, a)| w == a))
}

/// `CLI_MAX_MATCHES`.
const MAX_MATCHES: usize = 5;
/// `CLI_PREFIX_KW_NB`.
const PREFIX_WORDS: usize = 5;

/// `cli_gen_usage_msg()`: the help (`help [words]`), or the list shown for an unknown
/// command: commands whose first words match, the closest ones by fingerprint, or all.
fn usage(args: &[&str]) -> String {
    let (is_help, args) = match args.first() {
        Some(&"help") => (true, &args[1..]),
        _ => (false, args),
    };
    let visible = || KEYWORDS.iter().filter(|k| k.usage.is_some());
    // How many leading words some keyword matches exactly.
    let mut length = 0;
    for k in visible() {
        for (idx, w) in k.words.iter().enumerate().take(PREFIX_WORDS) {
            match args.get(idx) {
                Some(a) if !a.is_empty() && a == w => length = length.max(idx + 1),
                _ => break,
            }
        }
    }
    let mut out = String::new();
    if is_help {
        out.push_str("The following commands are valid at this level:\n");
    } else if length == 0 && args.first().copied().unwrap_or("").is_empty() {
        out.push_str("Unknown command. Please enter one of the following commands only:\n");
    } else {
        out.push_str("Unknown command, but maybe one of the following ones is a better match:\n");
    }
    let prefix_matches = |k: &Keyword| {
        (0..length).all(|idx| match (k.words.get(idx), args.get(idx)) {
            (Some(w), Some(a)) => w == a,
            _ => false,
        })
    };
    let mut entries: Vec<&'static str> = Vec::new();
    // Fuzzy matches on the words after the matching ones.
    if args.get(length).is_some_and(|a| !a.is_empty()) {
        let mut matches: Vec<(&'static str, usize)> = Vec::new();
        for k in visible().filter(|k| prefix_matches(k)) {
            let rest_args: Vec<&str> = args[length..]
                .iter()
                .take(PREFIX_WORDS.saturating_sub(length))
                .take_while(|a| !a.is_empty())
                .copied()
                .collect();
            let rest_kw: Vec<&str> = k
                .words
                .iter()
                .skip(length)
                .take(PREFIX_WORDS)
                .copied()
                .collect();
            let totlen: usize = rest_args.iter().chain(&rest_kw).map(|w| w.len()).sum();
            let dist = haproxy_conf::suggest::words_distance(&rest_args, &rest_kw);
            let worst = matches.get(MAX_MATCHES - 1).map_or(usize::MAX, |m| m.1);
            if dist < 5 * totlen / 2 && dist < worst {
                // Stable insert: equal distances keep the keyword order.
                let at = matches
                    .iter()
                    .position(|m| m.1 > dist)
                    .unwrap_or(matches.len());
                matches.insert(at, (k.usage.unwrap_or_default(), dist));
                matches.truncate(MAX_MATCHES);
            }
        }
        if let Some(&(_, best)) = matches.first() {
            for (usage, dist) in &matches {
                if *dist > 5 * best / 2 {
                    break;
                }
                entries.push(usage);
            }
        }
    }
    if entries.is_empty() {
        entries.extend(
            visible()
                .filter(|k| prefix_matches(k))
                .filter_map(|k| k.usage),
        );
    }
    entries.sort_unstable();
    for e in entries {
        let _ = writeln!(out, "  {e}");
    }
    out.push_str("  help [<command>]                        : list matching or all commands\n");
    out.push_str(
        "  prompt                                  : toggle interactive mode with prompt\n",
    );
    out.push_str("  quit                                    : disconnect\n");
    out
}

/// `backend/server` (`cli_find_server()`), or the reply saying why not.
fn server_arg(arg: &str, target: &dyn CliTarget) -> Result<ServerRef, Reply> {
    let Some((backend, server)) = arg.split_once('/') else {
        return Err(Reply::Err("Require 'backend/server'.\n".into()));
    };
    if backend.is_empty() {
        return Err(Reply::Err("Require 'backend/server'.\n".into()));
    }
    target.find_server(backend, server).map_err(|e| {
        Reply::Err(match e {
            LookupError::NoSuchBackend => "No such backend.\n".into(),
            LookupError::NoSuchServer => "No such server.\n".into(),
        })
    })
}

/// `strtol(s, &end, 10)`: leading spaces, a sign, digits; `None` when no digit (the
/// value and what follows it otherwise).
fn strtol(s: &str) -> Option<(i64, &str)> {
    let t = s.trim_start_matches([' ', '\t', '\n', '\r', '\x0b', '\x0c']);
    let (neg, body) = match t.as_bytes().first() {
        Some(b'-') => (true, &t[1..]),
        Some(b'+') => (false, &t[1..]),
        _ => (false, t),
    };
    let digits = body.bytes().take_while(u8::is_ascii_digit).count();
    if digits == 0 {
        return None;
    }
    let mut v: i64 = 0;
    for b in body[..digits].bytes() {
        v = v.saturating_mul(10).saturating_add(i64::from(b - b'0'));
    }
    Some((if neg { -v } else { v }, &body[digits..]))
}

/// `atoi()`: `strtol` without errors (0 when no digit), as an `int`.
fn atoi(s: &str) -> i64 {
    strtol(s).map_or(0, |(v, _)| {
        v.clamp(i64::from(i32::MIN), i64::from(i32::MAX))
    })
}

/// `server_parse_weight_change_request()`.
fn set_weight(target: &dyn CliTarget, sv: ServerRef, value: &str) -> Reply {
    if value.is_empty() {
        return Reply::Err("Require <weight> or <weight%>.\n".into());
    }
    let Some((mut w, rest)) = strtol(value) else {
        return Reply::Err("Empty weight string empty or preceded by garbage".into());
    };
    if rest == "%" {
        if w < 0 {
            return Reply::Err("Relative weight must be positive.\n".into());
        }
        let (_, initial) = target.weight(sv);
        w = i64::from(initial) * w.min(25600) / 100;
        w = w.min(256);
    } else if !(0..=256).contains(&w) {
        return Reply::Err("Absolute weight can only be between 0 and 256 inclusive.\n".into());
    } else if !rest.is_empty() {
        return Reply::Err("Trailing garbage in weight string".into());
    }
    match target.set_weight(sv, u32::try_from(w).unwrap_or(0)) {
        Ok(()) => Reply::Empty,
        Err(message) => Reply::Err(message),
    }
}

/// `cli_parse_set_server()` for the options this engine runs.
fn set_server(target: &dyn CliTarget, sv: ServerRef, what: &str, value: &str) -> Reply {
    match what {
        "weight" => set_weight(target, sv, value),
        "state" => {
            let action = match value {
                "ready" => AdminAction::Ready,
                "drain" => AdminAction::Drain,
                "maint" => AdminAction::Maint,
                _ => {
                    return Reply::Err(
                        "'set server <srv> state' expects 'ready', 'drain' and 'maint'.\n".into(),
                    )
                }
            };
            target.admin(sv, action);
            Reply::Empty
        }
        "health" => {
            let action = match value {
                "up" => AdminAction::ForceUp,
                "stopping" => AdminAction::ForceNolb,
                "down" => AdminAction::ForceDown,
                _ => {
                    return Reply::Err(
                        "'set server <srv> health' expects 'up', 'stopping', or 'down'.\n".into(),
                    )
                }
            };
            target.admin(sv, action);
            Reply::Empty
        }
        "agent" | "agent-addr" | "agent-port" | "agent-send" | "check-addr" | "check-port"
        | "addr" | "fqdn" | "ssl" => Reply::Err(format!(
            "ha-compat: 'set server <srv> {what}' is not supported by this runtime API yet.\n"
        )),
        _ => Reply::Err("usage: set server <backend>/<server> addr | agent | agent-addr | agent-port | agent-send | check-addr | check-port | fqdn | health | ssl | state | weight\n".into()),
    }
}

/// `show stat [<iid> <type> <sid>] [up] [no-maint]` in CSV.
fn show_stat(args: &[&str], target: &dyn CliTarget) -> Reply {
    let mut filter = crate::http::stats::CliStatFilter::default();
    let rest = &args[2.min(args.len())..];
    if rest.len() >= 3 && !rest[0].is_empty() && !rest[1].is_empty() && !rest[2].is_empty() {
        let snapshot = target.snapshot();
        let iid = atoi(rest[0]);
        if iid == 0 {
            // A proxy name instead of its id.
            match snapshot.proxies.iter().find(|p| p.name == rest[0]) {
                Some(p) => filter.iid = Some(p.iid),
                None => return Reply::Err("No such proxy.\n".into()),
            }
        } else if iid > 0 {
            filter.iid = u32::try_from(iid).ok();
        }
        filter.types = Some(u32::try_from(atoi(rest[1])).unwrap_or(u32::MAX));
        let sid = atoi(rest[2]);
        if sid >= 0 {
            filter.sid = u32::try_from(sid).ok();
        }
    }
    for word in rest {
        match *word {
            "up" => filter.hide_down = true,
            "no-maint" => filter.hide_maint = true,
            "typed" | "json" | "desc" => {
                return Reply::Err(format!(
                "ha-compat: 'show stat {word}' is not supported yet; 'show stat' gives the CSV.\n"
            ))
            }
            _ => {}
        }
    }
    Reply::Dump(crate::http::stats::csv_for_cli(&target.snapshot(), &filter))
}

/// `show info` (the plain `Name: value` lines of `stats_dump_info_to_buffer()`).
pub fn show_info(snapshot: &StatsSnapshot, extra: &InfoExtra) -> String {
    let p = &snapshot.process;
    let up = p.uptime_secs;
    let mut out = String::new();
    let mut line = |name: &str, value: &dyn std::fmt::Display| {
        let _ = writeln!(out, "{name}: {value}");
    };
    line("Name", &"HAProxy");
    line("Version", &p.version);
    line("Release_date", &p.release_date);
    line("Nbthread", &p.nbthread);
    line("Nbproc", &1);
    line("Process_num", &1);
    line("Pid", &p.pid);
    line(
        "Uptime",
        &format!(
            "{}d {}h{:02}m{:02}s",
            up / 86400,
            (up % 86400) / 3600,
            (up % 3600) / 60,
            up % 60
        ),
    );
    line("Uptime_sec", &up);
    line("Memmax_MB", &p.memmax_mb);
    line("PoolAlloc_MB", &0);
    line("PoolUsed_MB", &0);
    line("PoolFailed", &0);
    line("Ulimit-n", &p.ulimit_n);
    line("Maxsock", &p.maxsock);
    line("Maxconn", &p.maxconn);
    line("Hard_maxconn", &extra.hard_maxconn);
    line("CurrConns", &p.current_conns);
    line("CumConns", &extra.cum_conns);
    line("CumReq", &extra.cum_req);
    line("MaxSslConns", &0);
    line("CurrSslConns", &0);
    line("CumSslConns", &0);
    line("Maxpipes", &p.maxpipes);
    line("PipesUsed", &p.pipes_used);
    line("PipesFree", &p.pipes_free);
    line("ConnRate", &p.conn_rate);
    line("ConnRateLimit", &0);
    line("MaxConnRate", &extra.max_conn_rate);
    line("SessRate", &extra.sess_rate);
    line("SessRateLimit", &0);
    line("MaxSessRate", &extra.max_sess_rate);
    for name in [
        "SslRate",
        "SslRateLimit",
        "MaxSslRate",
        "SslFrontendKeyRate",
        "SslFrontendMaxKeyRate",
        "SslFrontendSessionReuse_pct",
        "SslBackendKeyRate",
        "SslBackendMaxKeyRate",
        "SslCacheLookups",
        "SslCacheMisses",
        "CompressBpsIn",
        "CompressBpsOut",
        "CompressBpsRateLim",
    ] {
        line(name, &0);
    }
    line("Tasks", &p.tasks);
    line("Run_queue", &p.run_queue);
    line("Idle_pct", &p.idle_pct);
    line("node", &p.node);
    if let Some(d) = &p.description {
        line("description", d);
    }
    line("Stopping", &u8::from(extra.stopping));
    line("Jobs", &extra.jobs);
    line("Unstoppable Jobs", &0);
    line("Listeners", &extra.listeners);
    line("ActivePeers", &0);
    line("ConnectedPeers", &0);
    line("DroppedLogs", &0);
    line("BusyPolling", &0);
    line("FailedResolutions", &0);
    line("TotalBytesOut", &extra.total_bytes_out);
    line("TotalSplicdedBytesOut", &0);
    line("BytesOutRate", &p.bytes_out_rate);
    line("DebugCommandsIssued", &0);
    line("CumRecvLogs", &0);
    line("Build info", &p.version);
    line("Memmax_bytes", &(p.memmax_mb * 1024 * 1024));
    line("PoolAlloc_bytes", &0);
    line("PoolUsed_bytes", &0);
    line("Start_time_sec", &extra.start_time_sec);
    line("Tainted", &0);
    out
}

/// `HCHK_STATUS_*` numbers.
fn check_status_number(check: &crate::http::stats::ServerCheck) -> u32 {
    use crate::health::CheckStatus as S;
    match check.status {
        None => 1, // INI
        Some(S::SockErr) => 5,
        Some(S::L4Ok) => 6,
        Some(S::L4Tout) => 7,
        Some(S::L4Con) => 8,
        Some(S::L6Ok) => 9,
        Some(S::L6Tout) => 10,
        Some(S::L6Rsp) => 11,
        Some(S::L7Tout) => 12,
        Some(S::L7Rsp) => 13,
        Some(S::L7Ok) => 15,
        Some(S::L7OkC) => 16,
        Some(S::L7Sts) => 17,
    }
}

/// `show servers state`: version 1 of the server-state file format.
pub fn show_servers_state(
    snapshot: &StatsSnapshot,
    only: Option<usize>,
    target: &dyn CliTarget,
) -> String {
    use crate::health::CheckStatus as S;
    use crate::http::stats::{ServerAdmin, ServerRunState};
    let mut out = String::from("1\n# be_id be_name srv_id srv_name srv_addr srv_op_state srv_admin_state srv_uweight srv_iweight srv_time_since_last_change srv_check_status srv_check_result srv_check_health srv_check_state srv_agent_state bk_f_forced_id srv_f_forced_id srv_fqdn srv_port srvrecord srv_use_ssl srv_check_port srv_check_addr srv_agent_addr srv_agent_port\n");
    for (bi, px) in snapshot.proxies.iter().enumerate() {
        if only.is_some_and(|o| o != bi) {
            continue;
        }
        let Some(be) = &px.backend else { continue };
        for (si, sv) in be.servers.iter().enumerate() {
            let (addr, port) = match sv.addr.rsplit_once(':') {
                Some((a, p)) => (a.trim_start_matches('[').trim_end_matches(']'), p),
                None => (sv.addr.as_str(), "0"),
            };
            let maint = matches!(sv.admin, ServerAdmin::Maint | ServerAdmin::MaintVia(_));
            // A server in maintenance is stopped (`SRV_ST_STOPPED`) whatever its checks.
            let op = match sv.run {
                _ if maint => 0,
                ServerRunState::Stopped => 0,
                ServerRunState::Starting => 1,
                ServerRunState::Running => 2,
                ServerRunState::Stopping => 3,
            };
            let admin = match sv.admin {
                ServerAdmin::Ready => 0,
                ServerAdmin::Maint => 1,
                ServerAdmin::MaintVia(_) => 2,
                ServerAdmin::Drain => 8,
            };
            let (check, enabled) = match (&sv.check, &sv.disabled_check) {
                (Some(c), _) => (Some(c), true),
                (None, Some(c)) => (Some(c), false),
                (None, None) => (None, false),
            };
            let (status, result, health, state) = match check {
                None => (
                    1,
                    0,
                    if op == 0 {
                        0
                    } else {
                        sv_health_without_check(sv)
                    },
                    0,
                ),
                Some(c) => {
                    let result = match c.status {
                        None => 0,
                        Some(S::L4Ok | S::L6Ok | S::L7Ok) => 3,
                        Some(S::L7OkC) => 4,
                        Some(_) => 2,
                    };
                    // CHK_ST_CONFIGURED, CHK_ST_ENABLED unless `disable health`,
                    // CHK_ST_PAUSED in maintenance.
                    let mut state = if enabled { 6 } else { 2 };
                    if maint {
                        state |= 8;
                    }
                    (check_status_number(c), result, c.health, state)
                }
            };
            let r = ServerRef {
                backend: bi,
                server: si,
            };
            let (_, iweight) = target.weight(r);
            let (ssl, check_port) = target.server_extras(r);
            let _ = writeln!(
                out,
                "{} {} {} {} {} {op} {admin} {} {iweight} {} {status} {result} {health} {state} 0 0 0 - {port} - {} {check_port} - - 0",
                px.iid, px.name, sv.sid, sv.name, addr, sv.uweight, sv.lastchg, u8::from(ssl)
            );
        }
    }
    out
}

/// A server without `check`: `check.health` stays at `rise` once it is up (HAProxy
/// initialises it to `rise` when the server starts up), or at what the server state
/// file gave back.
fn sv_health_without_check(sv: &crate::http::stats::ServerRow) -> u32 {
    match sv.run {
        crate::http::stats::ServerRunState::Stopped => 0,
        _ => sv.health_without_check.unwrap_or(2),
    }
}

/// `show sess`: one line per session.
pub fn show_sess(sessions: &[SessionLine]) -> String {
    let mut out = String::new();
    for s in sessions {
        let _ = writeln!(
            out,
            "{:#x}: proto={} src={} fe={} be={} srv={} ts=00 epoch=0 age={}s calls=0 rate=0 cpu=0 lat=0 rq[f=0h,i=0,an=00h,rx=,wx=,ax=] rp[f=0h,i=0,an=00h,rx=,wx=,ax=] scf=[8,0h,fd=-1] scb=[8,0h,fd=-1] exp= rc=0 c_exp=",
            s.id,
            s.proto,
            s.src,
            s.frontend,
            s.backend.as_deref().unwrap_or("<NONE>"),
            s.server.as_deref().unwrap_or("<none>"),
            s.age.as_secs(),
        );
    }
    out
}
