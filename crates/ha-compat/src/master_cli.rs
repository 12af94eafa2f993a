//! HAProxy 2.6's master CLI (`-S BIND[,OPTS]` with `-W`): `show proc`, `reload`, `show
//! version`, `show cli level`, `operator` / `user`, `help`, `prompt`, `quit`, and the
//! `@<relative pid>` / `@!<pid>` / `@master` prefixes that send a command to a worker's
//! runtime API (alone on a line: to every command after it).
//!
//! The master asks each worker to open an admin runtime API socket in a private
//! directory ([`WORKER_DIR_ENV`], `<dir>/<pid>.sock`); HAProxy uses a socket pair per
//! worker instead. The sans-IO part is [`MasterSession`] over a [`ProcView`]; the
//! runtime is a thread per connection ([`serve`]).

use std::fmt::Write as _;
use std::io::{Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use proxy_engine::cli::{command_end, split_words, Level};

/// Where a worker opens its runtime API socket for the master (`<dir>/<pid>.sock`).
pub const WORKER_DIR_ENV: &str = "HA_COMPAT_MASTER_CLI_DIR";

/// A process as `show proc` lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcEntry {
    pub pid: u32,
    /// Reloads since this worker started.
    pub reloads: u32,
    pub started: Instant,
}

/// What the master CLI shows and reaches: kept up to date by the master loop.
#[derive(Debug, Clone)]
pub struct ProcView {
    pub master_pid: u32,
    pub started: Instant,
    pub version: String,
    pub reloads: u32,
    pub failed_reloads: u32,
    /// Current workers, oldest first.
    pub workers: Vec<ProcEntry>,
    /// Workers a reload replaced, still finishing their sessions.
    pub old_workers: Vec<ProcEntry>,
}

impl ProcView {
    pub fn new(master_pid: u32, version: String) -> ProcView {
        ProcView {
            master_pid,
            started: Instant::now(),
            version,
            reloads: 0,
            failed_reloads: 0,
            workers: Vec::new(),
            old_workers: Vec::new(),
        }
    }

    /// A reload's new worker: the current ones become old, with one more reload.
    pub fn reloaded(&mut self, new_worker: u32) {
        self.reloads += 1;
        let mut former = std::mem::take(&mut self.workers);
        for w in &mut former {
            w.reloads += 1;
        }
        for w in &mut self.old_workers {
            w.reloads += 1;
        }
        self.old_workers.extend(former);
        self.workers.push(ProcEntry {
            pid: new_worker,
            reloads: 0,
            started: Instant::now(),
        });
    }

    pub fn exited(&mut self, pid: u32) {
        self.workers.retain(|w| w.pid != pid);
        self.old_workers.retain(|w| w.pid != pid);
    }
}

/// `%dd%02dh%02dm%02ds`.
fn uptime(d: Duration) -> String {
    let s = d.as_secs();
    format!(
        "{}d{:02}h{:02}m{:02}s",
        s / 86400,
        (s % 86400) / 3600,
        (s % 3600) / 60,
        s % 60
    )
}

/// `show proc` (`cli_io_handler_show_proc()`).
pub fn show_proc(view: &ProcView, now: Instant) -> String {
    let mut out = format!(
        "#{:<14} {:<15} {:<15} {:<15} {:<15}\n",
        "<PID>", "<type>", "<reloads>", "<uptime>", "<version>"
    );
    let _ = writeln!(
        out,
        "{:<15} {:<15} {:<15} {:<15} {:<15}",
        view.master_pid,
        "master",
        format!("{} [failed: {}]", view.reloads, view.failed_reloads),
        uptime(now.saturating_duration_since(view.started)),
        view.version
    );
    out.push_str("# workers\n");
    let line = |out: &mut String, w: &ProcEntry| {
        let _ = writeln!(
            out,
            "{:<15} {:<15} {:<15} {:<15} {:<15}",
            w.pid,
            "worker",
            w.reloads,
            uptime(now.saturating_duration_since(w.started)),
            view.version
        );
    };
    for w in &view.workers {
        line(&mut out, w);
    }
    if !view.old_workers.is_empty() {
        out.push_str("# old workers\n");
        for w in &view.old_workers {
            line(&mut out, w);
        }
    }
    out.push_str("# programs\n");
    out
}

const HELP: &[&str] = &[
    "@!<pid>                                 : send a command to the <pid> process",
    "@<relative pid>                         : send a command to the <relative pid> process",
    "@master                                 : send a command to the master process",
    "operator                                : lower the level of the current CLI session to operator",
    "reload                                  : reload haproxy",
    "show cli level                          : display the level of the current CLI session",
    "show proc                               : show processes status",
    "show version                            : show version of the current process",
    "user                                    : lower the level of the current CLI session to user",
];

const TRAILER: &str = "  help [<command>]                        : list matching or all commands\n  prompt                                  : toggle interactive mode with prompt\n  quit                                    : disconnect\n";

/// The words of each master command, for the help and "did you mean" lists.
const COMMAND_WORDS: &[&[&str]] = &[
    &["@!<pid>"],
    &["@<relative pid>"],
    &["@master"],
    &["operator"],
    &["reload"],
    &["show", "cli", "level"],
    &["show", "proc"],
    &["show", "version"],
    &["user"],
];

fn usage(args: &[&str]) -> String {
    let (is_help, args) = match args.first() {
        Some(&"help") => (true, &args[1..]),
        _ => (false, args),
    };
    let mut length = 0;
    for words in COMMAND_WORDS {
        for (i, w) in words.iter().enumerate() {
            match args.get(i) {
                Some(a) if a == w => length = length.max(i + 1),
                _ => break,
            }
        }
    }
    let mut out = String::from(if is_help {
        "The following commands are valid at this level:\n"
    } else if length == 0 && args.first().copied().unwrap_or("").is_empty() {
        "Unknown command. Please enter one of the following commands only:\n"
    } else {
        "Unknown command, but maybe one of the following ones is a better match:\n"
    });
    let prefix = |words: &[&str]| (0..length).all(|i| words.get(i) == args.get(i));
    let mut entries: Vec<&str> = Vec::new();
    if args.get(length).is_some_and(|a| !a.is_empty()) {
        let mut matches: Vec<(&str, usize)> = Vec::new();
        for (words, usage) in COMMAND_WORDS.iter().zip(HELP) {
            if !prefix(words) {
                continue;
            }
            let rest_args: Vec<&str> = args[length..].iter().take(5).copied().collect();
            let rest_kw: Vec<&str> = words.iter().skip(length).copied().collect();
            let totlen: usize = rest_args.iter().chain(&rest_kw).map(|w| w.len()).sum();
            let dist = haproxy_conf::suggest::words_distance(&rest_args, &rest_kw);
            if dist < 5 * totlen / 2 {
                let at = matches
                    .iter()
                    .position(|m| m.1 > dist)
                    .unwrap_or(matches.len());
                matches.insert(at, (usage, dist));
                matches.truncate(5);
            }
        }
        if let Some(&(_, best)) = matches.first() {
            entries.extend(
                matches
                    .iter()
                    .take_while(|m| m.1 <= 5 * best / 2)
                    .map(|m| m.0),
            );
        }
    }
    if entries.is_empty() {
        entries.extend(
            COMMAND_WORDS
                .iter()
                .zip(HELP)
                .filter(|(w, _)| prefix(w))
                .map(|(_, u)| *u),
        );
    }
    entries.sort_unstable();
    for e in entries {
        let _ = writeln!(out, "  {e}");
    }
    out.push_str(TRAILER);
    out
}

/// Where a command goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    Master,
    /// A worker by pid.
    Worker(u32),
}

/// What the master session wants done.
#[derive(Debug, PartialEq, Eq)]
pub enum Action {
    /// Write these bytes.
    Write(Vec<u8>),
    /// Send `command` to the worker `pid`, relay its answer, then write `after`.
    Relay {
        pid: u32,
        command: String,
        after: Vec<u8>,
    },
    /// Reload the master (the connection then closes, as 2.6.12's does).
    Reload,
    /// Close the connection.
    Close,
}

/// One master CLI connection, sans I/O.
#[derive(Debug)]
pub struct MasterSession {
    level: Level,
    interactive: bool,
    /// `@N` alone on a line: where the commands after it go.
    default_target: Option<Target>,
    pending: Vec<u8>,
}

impl MasterSession {
    pub fn new(level: Level) -> MasterSession {
        MasterSession {
            level,
            interactive: false,
            default_target: None,
            pending: Vec::new(),
        }
    }

    fn prompt(&self) -> &'static [u8] {
        if self.interactive {
            b"\nmaster> "
        } else {
            b"\n"
        }
    }

    /// Resolves a `@...` prefix.
    fn target(prefix: &str, view: &ProcView) -> Option<Target> {
        if prefix == "master" {
            return Some(Target::Master);
        }
        if let Some(pid) = prefix.strip_prefix('!') {
            let pid: u32 = pid.parse().ok()?;
            return view
                .workers
                .iter()
                .chain(&view.old_workers)
                .any(|w| w.pid == pid)
                .then_some(Target::Worker(pid));
        }
        // Relative pids count the current workers from 1.
        let n: usize = prefix.parse().ok()?;
        view.workers
            .get(n.checked_sub(1)?)
            .map(|w| Target::Worker(w.pid))
    }

    /// Takes received bytes and returns what to do, in order.
    pub fn feed(&mut self, input: &[u8], view: &ProcView, now: Instant) -> Vec<Action> {
        let mut actions = Vec::new();
        self.pending.extend_from_slice(input);
        while let Some((end, consumed)) = command_end(&self.pending) {
            let mut line = self.pending[..end].to_vec();
            if line.last() == Some(&b'\r') {
                line.pop();
            }
            self.pending.drain(..consumed);
            let words = split_words(&line);
            let mut args: Vec<&str> = words.iter().map(String::as_str).collect();
            let mut target = self.default_target;
            if let Some(prefix) = args.first().and_then(|a| a.strip_prefix('@')) {
                let Some(t) = Self::target(prefix, view) else {
                    actions.push(Action::Write(
                        format!("Can't find the target PID matching the prefix '@{prefix}'\n")
                            .into_bytes(),
                    ));
                    actions.push(Action::Close);
                    return actions;
                };
                if args.len() == 1 {
                    self.default_target = (t != Target::Master).then_some(t);
                    continue;
                }
                target = Some(t);
                args.remove(0);
            }
            if let Some(Target::Worker(pid)) = target {
                let after = if self.interactive {
                    b"master> ".to_vec()
                } else {
                    Vec::new()
                };
                actions.push(Action::Relay {
                    pid,
                    command: args.join(" "),
                    after,
                });
                if !self.interactive && self.pending.is_empty() {
                    actions.push(Action::Close);
                    return actions;
                }
                continue;
            }
            let reply: String = match args.as_slice() {
                ["quit", ..] => {
                    actions.push(Action::Close);
                    return actions;
                }
                ["prompt", ..] => {
                    self.interactive = !self.interactive;
                    actions.push(Action::Write(if self.interactive {
                        b"master> ".to_vec()
                    } else {
                        Vec::new()
                    }));
                    continue;
                }
                ["reload", ..] => {
                    actions.push(Action::Reload);
                    actions.push(Action::Close);
                    return actions;
                }
                ["show", "proc", ..] => show_proc(view, now),
                ["show", "version", ..] => format!("{}\n", view.version),
                ["show", "cli", "level", ..] => format!("{}\n", self.level.as_str()),
                ["operator", ..] | ["user", ..] => {
                    // The master's own level words (`pcli_find_and_exec_kw()`): nothing
                    // is written, not even the prompt; a raise is refused with `!`.
                    let to = if args[0] == "user" {
                        Level::User
                    } else {
                        Level::Operator
                    };
                    if self.level < to {
                        actions.push(Action::Write(b"Permission denied!\n".to_vec()));
                    } else {
                        self.level = to;
                    }
                    if !self.interactive && self.pending.is_empty() {
                        actions.push(Action::Close);
                        return actions;
                    }
                    continue;
                }
                _ => usage(&args),
            };
            let mut bytes = reply.into_bytes();
            bytes.extend_from_slice(self.prompt());
            actions.push(Action::Write(bytes));
            if !self.interactive && self.pending.is_empty() {
                actions.push(Action::Close);
                return actions;
            }
        }
        actions
    }
}

/// A `-S` argument: `ADDR[,option,value...]` (`mode`, `level`, `user`, `group`, `uid`,
/// `gid`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MasterSocket {
    pub address: String,
    pub mode: Option<u32>,
    pub level: Level,
}

impl MasterSocket {
    pub fn parse(spec: &str) -> Result<MasterSocket, String> {
        let mut parts = spec.split(',');
        let address = parts.next().unwrap_or_default().to_string();
        let mut socket = MasterSocket {
            address,
            mode: None,
            level: Level::Admin,
        };
        while let Some(option) = parts.next() {
            let value = parts.next();
            match (option, value) {
                ("mode", Some(v)) => {
                    socket.mode = Some(
                        u32::from_str_radix(v, 8)
                            .map_err(|_| format!("-S {spec}: 'mode' expects an octal value"))?,
                    )
                }
                ("level", Some(v)) => {
                    socket.level = Level::from_option(Some(v)).ok_or_else(|| {
                        format!("-S {spec}: 'level' only supports 'user', 'operator', and 'admin'")
                    })?
                }
                ("user" | "group" | "uid" | "gid", Some(_)) => {}
                (other, _) => return Err(format!("-S {spec}: unknown option '{other}'")),
            }
        }
        Ok(socket)
    }
}

/// A bound master CLI socket.
#[derive(Debug)]
pub enum Listener {
    Unix(std::os::unix::net::UnixListener),
    Tcp(std::net::TcpListener),
}

/// Binds the master CLI sockets (before any worker starts).
pub fn bind(sockets: &[MasterSocket]) -> Result<Vec<(Listener, Level)>, String> {
    let mut out = Vec::new();
    for s in sockets {
        let address = s
            .address
            .strip_prefix("unix@")
            .unwrap_or(&s.address)
            .to_string();
        let listener = if address.starts_with('/') || address.starts_with('.') {
            let path = PathBuf::from(&address);
            let _ = std::fs::remove_file(&path);
            let l = std::os::unix::net::UnixListener::bind(&path)
                .map_err(|e| format!("cannot bind the master CLI socket {address}: {e}"))?;
            if let Some(mode) = s.mode {
                let _ = std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode));
            }
            Listener::Unix(l)
        } else {
            let address = address.strip_prefix("ipv4@").unwrap_or(&address);
            Listener::Tcp(
                std::net::TcpListener::bind(address)
                    .map_err(|e| format!("cannot bind the master CLI socket {address}: {e}"))?,
            )
        };
        out.push((listener, s.level));
    }
    Ok(out)
}

/// What a master CLI connection needs from the master.
#[derive(Clone)]
pub struct MasterLink {
    pub view: Arc<Mutex<ProcView>>,
    /// The workers' runtime API sockets.
    pub worker_dir: PathBuf,
    /// Asks the master loop to reload.
    pub reload: Arc<dyn Fn() + Send + Sync>,
}

impl std::fmt::Debug for MasterLink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MasterLink")
            .field("worker_dir", &self.worker_dir)
            .finish()
    }
}

/// Serves the bound sockets, a thread each, a thread per connection.
pub fn serve(listeners: Vec<(Listener, Level)>, link: MasterLink) {
    for (listener, level) in listeners {
        let link = link.clone();
        let _ =
            std::thread::Builder::new()
                .name("master-cli".into())
                .spawn(move || match listener {
                    Listener::Unix(l) => {
                        for stream in l.incoming().flatten() {
                            let link = link.clone();
                            std::thread::spawn(move || connection(stream, level, &link));
                        }
                    }
                    Listener::Tcp(l) => {
                        for stream in l.incoming().flatten() {
                            let link = link.clone();
                            std::thread::spawn(move || connection(stream, level, &link));
                        }
                    }
                });
    }
}

fn relay(dir: &Path, pid: u32, command: &str) -> Vec<u8> {
    let path = dir.join(format!("{pid}.sock"));
    let Ok(mut s) = std::os::unix::net::UnixStream::connect(&path) else {
        return format!("Can't find the target PID matching the prefix '@!{pid}'\n").into_bytes();
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(30)));
    let _ = s.write_all(format!("{command}\n").as_bytes());
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    out
}

fn connection<S: Read + Write>(mut stream: S, level: Level, link: &MasterLink) {
    let mut session = MasterSession::new(level);
    let mut buf = vec![0u8; 16384];
    loop {
        let n = match stream.read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        let view = match link.view.lock() {
            Ok(v) => v.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        };
        for action in session.feed(&buf[..n], &view, Instant::now()) {
            match action {
                Action::Write(bytes) => {
                    if stream.write_all(&bytes).is_err() {
                        return;
                    }
                }
                Action::Relay {
                    pid,
                    command,
                    after,
                } => {
                    let mut reply = relay(&link.worker_dir, pid, &command);
                    reply.extend(after);
                    if stream.write_all(&reply).is_err() {
                        return;
                    }
                }
                Action::Reload => (link.reload)(),
                Action::Close => return,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn view() -> ProcView {
        let mut v = ProcView::new(100, "2.6.12-1+deb12u4".into());
        v.workers.push(ProcEntry {
            pid: 101,
            reloads: 0,
            started: v.started,
        });
        v
    }

    #[test]
    fn show_proc_is_laid_out_as_haproxy_2_6() {
        let mut v = view();
        // Recorded from 2.6.12 (`haproxy -W -S`), pids and times as in the view.
        assert_eq!(
            show_proc(&v, v.started + Duration::from_secs(1)),
            "#<PID>          <type>          <reloads>       <uptime>        <version>      \n100             master          0 [failed: 0]   0d00h00m01s     2.6.12-1+deb12u4\n# workers\n101             worker          0               0d00h00m01s     2.6.12-1+deb12u4\n# programs\n"
        );
        v.reloaded(102);
        let text = show_proc(&v, v.started);
        assert!(text.contains("100             master          1 [failed: 0]"));
        assert!(text.contains("# workers\n102             worker          0 "));
        assert!(text.contains("# old workers\n101             worker          1 "));
    }

    #[test]
    fn prefixes_route_commands() {
        let v = view();
        let now = Instant::now();
        let mut s = MasterSession::new(Level::Admin);
        assert_eq!(
            s.feed(b"@1 get weight be/s1\n", &v, now),
            vec![
                Action::Relay {
                    pid: 101,
                    command: "get weight be/s1".into(),
                    after: Vec::new()
                },
                Action::Close
            ]
        );
        let mut s = MasterSession::new(Level::Admin);
        assert_eq!(
            s.feed(b"@2 show info\n", &v, now),
            vec![
                Action::Write(b"Can't find the target PID matching the prefix '@2'\n".to_vec()),
                Action::Close
            ]
        );
        let mut s = MasterSession::new(Level::Admin);
        assert_eq!(
            s.feed(b"@master show cli level;show version\n", &v, now),
            vec![
                Action::Write(b"admin\n\n".to_vec()),
                Action::Write(b"2.6.12-1+deb12u4\n\n".to_vec()),
                Action::Close
            ]
        );
        let mut s = MasterSession::new(Level::Admin);
        assert_eq!(
            s.feed(b"reload\n", &v, now),
            vec![Action::Reload, Action::Close]
        );
    }

    #[test]
    fn help_is_haproxys_master_list() {
        let text = usage(&["help"]);
        assert!(text.starts_with("The following commands are valid at this level:\n  @!<pid>  "));
        assert!(text.ends_with(TRAILER));
        assert_eq!(text.lines().count(), 1 + HELP.len() + 3);
    }

    #[test]
    fn socket_options_parse() {
        assert_eq!(
            MasterSocket::parse("/run/m.sock,mode,600,level,operator").unwrap(),
            MasterSocket {
                address: "/run/m.sock".into(),
                mode: Some(0o600),
                level: Level::Operator
            }
        );
        assert!(MasterSocket::parse("/m,bogus,1").is_err());
    }
}
