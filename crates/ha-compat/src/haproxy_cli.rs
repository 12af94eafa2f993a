//! The drop-in `haproxy` command line: HAProxy 2.6's own single-dash flags, which clap
//! cannot express (`-vv`, `-cc COND`, `-dW`, `-sf PID…`), parsed as `haproxy.c` does
//! into [`HaproxyFlags`]. `-c` checks; otherwise the proxy engine runs
//! ([`crate::proxy_run`]), in the foreground, as a daemon (`-D`, [`crate::daemon`]) or
//! under a master (`-W`/`-Ws`, [`crate::master_worker`]).

use std::ffi::OsString;
use std::io::Write;
use std::path::PathBuf;

use conf_diag::Severity;
use haproxy_conf::cond::{self, CondContext};
use haproxy_conf::diag::render_haproxy;
use haproxy_conf::host::SystemAccounts;
use haproxy_conf::lexer::{self, ProcessEnv, Pseudo};
use haproxy_conf::version::{FEATURES, HAPROXY_COMPAT_VERSION};
use haproxy_conf::{LoadOptions, Outcome, SystemResolver};

/// What `haproxy version is …` says: the HAProxy release we follow, and ours.
pub fn version_string() -> String {
    format!(
        "{HAPROXY_COMPAT_VERSION}-ha-compat-{}",
        env!("CARGO_PKG_VERSION")
    )
}

fn banner() -> String {
    let uname = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    let version = std::fs::read_to_string("/proc/sys/kernel/version").unwrap_or_default();
    format!(
        "HAProxy version {} - https://github.com/ha-compat (configuration-compatible with HAProxy {HAPROXY_COMPAT_VERSION})\n\
         Status: ha-compat {} - a Rust replacement for haproxy and keepalived.\n\
         Known bugs: see docs/compatibility.md for what differs from HAProxy {HAPROXY_COMPAT_VERSION}.\n\
         Running on: Linux {} {} {}\n",
        version_string(),
        env!("CARGO_PKG_VERSION"),
        uname.trim(),
        version.trim(),
        std::env::consts::ARCH
    )
}

fn build_options() -> String {
    format!(
        "Build options :\n  TARGET  = rust ({})\n  OPTIONS = ha-compat\n\n\
         Feature list : {FEATURES}\n\n\
         Default settings :\n  bufsize = 16384, maxrewrite = 1024, maxpollevents = 200\n\n\
         Built with multi-threading support (MAX_THREADS=64, default={}).\n\
         Built with TLS support from rustls (no OpenSSL).\n\
         Built with the Prometheus exporter as a service\n\
         Built with transparent proxy support using: IP_FREEBIND\n\n\
         Available polling systems :\n      epoll : pref=300,  test result OK\n\
         Total: 1 (1 usable), will use epoll.\n\n\
         Available multiplexer protocols :\n(protocols marked as <default> cannot be specified using 'proto' keyword)\n\
         \x20 <default> : mode=HTTP  side=FE|BE  mux=H1    flags=HTX\n\
         \x20        h1 : mode=HTTP  side=FE|BE  mux=H1    flags=HTX|NO_UPG\n\
         \x20 <default> : mode=TCP   side=FE|BE  mux=PASS  flags=\n\
         \x20      none : mode=TCP   side=FE|BE  mux=PASS  flags=NO_UPG\n\n\
         Available services : prometheus-exporter\nAvailable filters :\n\n",
        std::env::consts::ARCH,
        std::thread::available_parallelism().map_or(1, |n| n.get())
    )
}

const USAGE: &str =
    "Usage : haproxy [-f <cfgfile|cfgdir>]* [ -vdVD ] [ -n <maxconn> ] [ -N <maxpconn> ]
        [ -p <pidfile> ] [ -m <max megs> ] [ -C <dir> ] [-- <cfgfile>*]
        -v displays version ; -vv shows known build options.
        -d enters debug mode ; -db only disables background mode.
        -dM[<byte>,help,...] debug memory (default: poison with <byte>/0x50)
        -V enters verbose mode (disables quiet mode)
        -D goes daemon ; -C changes to <dir> before loading files.
        -W master-worker mode.
        -Ws master-worker mode with systemd notify support.
        -q quiet mode : don't display messages
        -c check mode : only check config files and exit
        -cc check condition : evaluate a condition and exit
        -n sets the maximum total # of connections (uses ulimit -n)
        -m limits the usable amount of memory (in MB)
        -N sets the default, per-proxy maximum # of connections (0)
        -L set local peer name (default to hostname)
        -p writes pids of all children to this file
        -de disables epoll() usage even when available
        -dp disables poll() usage even when available
        -dS disables splice usage (broken on old kernels)
        -dG disables getaddrinfo() usage
        -dR disables SO_REUSEPORT usage
        -dL dumps loaded object files after config checks
        -dK{class[,...]} dump registered keywords (use 'help' for list)
        -dr ignores server address resolution failures
        -dV disables SSL verify on servers side
        -dW fails if any warning is emitted
        -dD diagnostic mode : warn about suspicious configuration statements
        -sf/-st [pid ]* finishes/terminates old pids.
        -x <unix_socket> get listening sockets from a unix socket
        -S <bind>[,<bind options>...] new master CLI

";

/// The signal `-sf` (finish: SIGUSR1, a soft stop) or `-st` (terminate: SIGTERM) sends
/// to the old processes once our listeners are bound.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OldPidSignal {
    #[default]
    Finish,
    Terminate,
}

/// `-W` (master-worker) and `-Ws` (the same with systemd's sd_notify).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MasterWorker {
    Plain,
    Systemd,
}

/// HAProxy 2.6's command line, as `haproxy.c`'s `init()` reads it.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct HaproxyFlags {
    pub check: bool,
    pub check_condition: Option<String>,
    pub quiet: bool,
    pub verbose: bool,
    pub zero_warning: bool,
    /// `-db`: stay in the foreground even with `daemon` in the configuration.
    pub foreground: bool,
    /// `-d`: debug mode (foreground, verbose).
    pub debug: bool,
    /// `-D`: daemon mode.
    pub daemon: bool,
    pub master_worker: Option<MasterWorker>,
    pub chdir: Option<PathBuf>,
    pub files: Vec<PathBuf>,
    /// `-p FILE`: written in daemon and master-worker modes only (as HAProxy).
    pub pidfile: Option<PathBuf>,
    /// `-sf`/`-st PID...` (the last flag's signal applies to every pid, as in HAProxy).
    pub old_pids: Vec<i32>,
    pub old_pid_signal: Option<OldPidSignal>,
    /// `-n N`: global maxconn (overrides the configuration's when above 0).
    pub maxconn: Option<i64>,
    /// `-N N`: the default per-proxy maxconn.
    pub maxpconn: Option<i64>,
    /// `-m MB`: memory limit.
    pub memory_mb: Option<i64>,
    /// `-L NAME`: the local peer name (for `peers` sections).
    pub local_peer: Option<String>,
    /// `-x SOCKET`: fetch the listening sockets from an old process.
    pub sockets_from: Option<PathBuf>,
    /// `-S BIND[,OPTS]`: master CLI sockets.
    pub master_cli: Vec<String>,
    /// Flags accepted and without effect here (`-de`, `-dp`, `-dS`, `-dG`, `-dR`, `-dV`,
    /// `-dD`, `-dL`, `-dM…`, `-dK…`, `-dr`…), kept to say so.
    pub without_effect: Vec<String>,
}

/// What the command line asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Parsed {
    Run(Box<HaproxyFlags>),
    /// `-v` (1) or `-vv` (2): HAProxy prints it the moment it reads the flag.
    Version(u8),
    /// Usage on stderr, exit 1, after this alert if any.
    Usage(Option<String>),
    /// An alert and exit 1, without the usage.
    Fatal(String),
}

fn usage(out: &mut dyn Write, err: &mut dyn Write) -> i32 {
    let _ = out.write_all(banner().as_bytes());
    let _ = err.write_all(USAGE.as_bytes());
    1
}

/// Parses HAProxy's flags as `haproxy.c` does: a flag is recognised by its first one or
/// two letters after the dash (`-dbxyz` is `-db`), the flags with a value take the next
/// word whatever it is, `-sf`/`-st` take the following words that do not start with a
/// dash, and a word that is not a flag is a usage error.
pub fn parse_flags(args: &[OsString]) -> Parsed {
    let mut f = HaproxyFlags::default();
    let words: Vec<String> = args
        .iter()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    if !argv_copies(&words) {
        return Parsed::Fatal("failed to copy argv.".into());
    }
    let mut i = 0;
    while i < words.len() {
        let word = words[i].as_str();
        let Some(flag) = word.strip_prefix('-') else {
            return Parsed::Usage(None);
        };
        let mut chars = flag.chars();
        let first = chars.next();
        let second = chars.next();
        match (first, second) {
            (Some('v'), second) => return Parsed::Version(if second == Some('v') { 2 } else { 1 }),
            (Some('d'), Some('b')) => f.foreground = true,
            (Some('d'), Some('W')) => f.zero_warning = true,
            (Some('d'), Some(c)) if "epSGRVDrLMKF".contains(c) => {
                f.without_effect.push(word.to_owned())
            }
            (Some('d'), _) => f.debug = true,
            (Some('c'), Some('c')) => {
                i += 1;
                match words.get(i) {
                    Some(c) => f.check_condition = Some(c.clone()),
                    None => return Parsed::Usage(None),
                }
            }
            (Some('c'), _) => f.check = true,
            (Some('D'), _) => f.daemon = true,
            (Some('W'), Some('s')) => f.master_worker = Some(MasterWorker::Systemd),
            (Some('W'), _) => f.master_worker = f.master_worker.or(Some(MasterWorker::Plain)),
            (Some('V'), _) => f.verbose = true,
            (Some('q'), _) => f.quiet = true,
            (Some('x'), _) => {
                i += 1;
                match words.get(i) {
                    Some(s) => f.sockets_from = Some(PathBuf::from(s)),
                    None => {
                        return Parsed::Usage(Some(
                            "Unix socket path expected with the -x flag\n".into(),
                        ))
                    }
                }
            }
            (Some('S'), _) => {
                i += 1;
                match words.get(i) {
                    Some(s) => f.master_cli.push(s.clone()),
                    None => {
                        return Parsed::Usage(Some(
                            "Socket and optional bind parameters expected with the -S flag".into(),
                        ))
                    }
                }
            }
            (Some('s'), Some(which @ ('f' | 't'))) => {
                f.old_pid_signal = Some(if which == 'f' {
                    OldPidSignal::Finish
                } else {
                    OldPidSignal::Terminate
                });
                let name: String = flag.chars().take(2).collect();
                while let Some(next) = words.get(i + 1).filter(|w| !w.starts_with('-')) {
                    i += 1;
                    match parse_pid(next) {
                        Ok(pid) if pid > 0 => f.old_pids.push(pid),
                        Ok(_) => return Parsed::Usage(None),
                        Err(PidError::Unconsumed(rest)) => {
                            return Parsed::Fatal(format!(
                                "-{name} option: some bytes unconsumed in PID list {{{rest}}}"
                            ))
                        }
                        Err(PidError::Range) => {
                            return Parsed::Fatal(format!(
                                "-{name} option: failed to parse {{{next}}}: Numerical result out of range"
                            ))
                        }
                    }
                }
            }
            (None, _) => return Parsed::Usage(None),
            (Some('-'), None) => {
                // "--": the rest are configuration files.
                f.files.extend(words[i + 1..].iter().map(PathBuf::from));
                break;
            }
            (Some(letter), _) => {
                i += 1;
                let Some(value) = words.get(i) else {
                    return Parsed::Usage(None);
                };
                match letter {
                    'C' => f.chdir = Some(PathBuf::from(value)),
                    'n' => f.maxconn = Some(atol(value)),
                    'm' => f.memory_mb = Some(atol(value)),
                    'N' => f.maxpconn = Some(atol(value)),
                    'L' => f.local_peer = Some(value.clone()),
                    'f' => f.files.push(PathBuf::from(value)),
                    'p' => f.pidfile = Some(PathBuf::from(value)),
                    _ => return Parsed::Usage(None),
                }
            }
        }
        i += 1;
    }
    Parsed::Run(Box::new(f))
}

/// HAProxy's `copy_argv()`, run before the parser (it keeps the arguments for a
/// master's re-exec): fails, and HAProxy exits 1 with "failed to copy argv.", when one of
/// `-C -n -m -N -L -f -p -S` is the last word (measured: `haproxy -p`).
fn argv_copies(words: &[String]) -> bool {
    let mut i = 0;
    while i < words.len() {
        let Some(flag) = words[i].strip_prefix('-') else {
            i += 1;
            continue;
        };
        let mut chars = flag.chars();
        match (chars.next(), chars.next()) {
            (Some('-'), None) => return true,
            (Some('s'), Some('f' | 't')) => {
                i += 1;
                while words.get(i).is_some_and(|w| !w.starts_with('-')) {
                    i += 1;
                }
            }
            (Some('s' | 'x'), _) => i += 2,
            (Some('C' | 'n' | 'm' | 'N' | 'L' | 'f' | 'p' | 'S'), _) => {
                if i + 1 >= words.len() {
                    return false;
                }
                i += 2;
            }
            _ => i += 1,
        }
    }
    true
}

enum PidError {
    Unconsumed(String),
    Range,
}

/// `strtol(word, &end, 10)` and HAProxy's checks of what is left.
fn parse_pid(word: &str) -> Result<i32, PidError> {
    let trimmed = word.trim_start();
    let digits_end = trimmed
        .char_indices()
        .skip_while(|(n, c)| *n == 0 && (*c == '-' || *c == '+'))
        .find(|(_, c)| !c.is_ascii_digit())
        .map_or(trimmed.len(), |(n, _)| n);
    let (number, rest) = trimmed.split_at(digits_end);
    if !rest.trim_start().is_empty() {
        return Err(PidError::Unconsumed(rest.trim_start().to_owned()));
    }
    // strtol returns a long; HAProxy stores it in an int.
    match number.parse::<i64>() {
        Ok(n) => Ok(i32::try_from(n).unwrap_or(-1)),
        Err(_) if number.trim_start_matches(['-', '+']).is_empty() => Ok(0),
        Err(_) => Err(PidError::Range),
    }
}

/// C's `atol`: leading digits, 0 when there are none.
fn atol(word: &str) -> i64 {
    let t = word.trim_start();
    let (sign, digits) = match t.strip_prefix('-') {
        Some(rest) => (-1, rest),
        None => (1, t.strip_prefix('+').unwrap_or(t)),
    };
    let end = digits
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(digits.len());
    digits[..end].parse::<i64>().map_or(0, |n| sign * n)
}

pub fn run(args: &[OsString], out: &mut dyn Write, err: &mut dyn Write) -> i32 {
    let pid = std::process::id();
    let flags = match parse_flags(args) {
        Parsed::Run(flags) => flags,
        Parsed::Version(level) => {
            let _ = out.write_all(banner().as_bytes());
            if level > 1 {
                let _ = out.write_all(build_options().as_bytes());
            }
            return 0;
        }
        Parsed::Usage(alert) => {
            if let Some(alert) = alert {
                write_preamble(pid, err);
                let _ = writeln!(err, "[ALERT]    ({pid}) : {alert}");
            }
            return usage(out, err);
        }
        Parsed::Fatal(alert) => {
            write_preamble(pid, err);
            let _ = writeln!(err, "[ALERT]    ({pid}) : {alert}");
            return 1;
        }
    };
    // A daemon child, and a master's worker, read the configuration again: their parent
    // has already printed what there is to say about it.
    let silent = (flags.quiet && !flags.verbose)
        || crate::daemon::is_child()
        || crate::master_worker::is_worker();
    let mut preamble_done = false;
    let mut preamble = |err: &mut dyn Write| {
        if !preamble_done && !silent {
            preamble_done = true;
            write_preamble(pid, err);
        }
    };
    if let Some(condition) = flags.check_condition {
        return check_condition(&condition, pid, silent, &mut preamble, err);
    }
    if let Some(dir) = &flags.chdir {
        if let Err(e) = std::env::set_current_dir(dir) {
            preamble(err);
            let _ = writeln!(
                err,
                "[ALERT]    ({pid}) : config : Cannot chdir to '{}' : {e}",
                dir.display()
            );
            return 1;
        }
    }
    // Every path must exist before any file is read.
    for path in &flags.files {
        if let Err(e) = std::fs::metadata(path) {
            if !silent {
                preamble(err);
                let _ = writeln!(
                    err,
                    "[ALERT]    ({pid}) : config : Cannot open configuration file/directory {} : {}",
                    path.display(),
                    io_reason(&e)
                );
            }
            return 1;
        }
    }
    let files = match haproxy_conf::files::expand(&flags.files) {
        Ok(f) => f,
        Err(e) => {
            if !silent {
                preamble(err);
                let _ = writeln!(err, "[ALERT]    ({pid}) : config : {e}");
            }
            return 1;
        }
    };
    if files.is_empty() {
        return usage(out, err);
    }
    if !flags.check && flags.master_worker.is_some() && !crate::master_worker::is_worker() {
        return run_master(&flags, &files, args, err);
    }
    let (loaded, warnings) = load_reported(&files, pid, silent, &mut preamble, err);
    let zero_warning = zero_warning(&flags, &loaded);
    if !flags.check {
        return match loaded.outcome {
            Outcome::Unreadable { .. } | Outcome::Invalid => 1,
            Outcome::Valid { listeners: false } => {
                let _ = writeln!(err, "[ALERT]    ({pid}) : [haproxy.main()] No enabled listener found (check for 'bind' directives) ! Exiting.");
                1
            }
            Outcome::Valid { listeners: true } => {
                if warnings && zero_warning {
                    let _ = writeln!(err, "[ALERT]    ({pid}) : config : Some warnings were found and 'zero-warning' is set. Aborting.");
                    return 1;
                }
                // HAProxy's messages name argv[0] ("[haproxy.main()] ...").
                let program = std::env::args().next().unwrap_or_else(|| "haproxy".into());
                let mut config = loaded.config;
                let startup = match startup_options(&flags, &mut config, pid, err) {
                    Ok(s) => s,
                    Err(code) => return code,
                };
                if startup.daemon && !crate::daemon::is_child() {
                    return crate::daemon::spawn(
                        &program,
                        args,
                        crate::daemon::ParentWaits::UntilReady,
                    );
                }
                crate::proxy_run::run(config, &program, &startup, err)
            }
        };
    }
    match loaded.outcome {
        Outcome::Unreadable { .. } | Outcome::Invalid => 1,
        Outcome::Valid { listeners } => {
            if warnings && zero_warning {
                if !silent {
                    preamble(err);
                    let _ = writeln!(err, "[ALERT]    ({pid}) : config : Some warnings were found and 'zero-warning' is set. Aborting.");
                }
                return 1;
            }
            if !silent {
                if warnings {
                    let _ = writeln!(out, "Warnings were found.");
                }
                if listeners {
                    let _ = writeln!(out, "Configuration file is valid");
                } else {
                    let _ = writeln!(out, "Configuration file has no error but will not start (no listener) => exit(2).");
                }
            }
            if listeners {
                0
            } else {
                2
            }
        }
    }
}

/// Reads the configuration and prints its diagnostics as HAProxy does (the preamble
/// before the first warning); whether there were warnings.
fn load_reported(
    files: &[PathBuf],
    pid: u32,
    silent: bool,
    preamble: &mut dyn FnMut(&mut dyn Write),
    err: &mut dyn Write,
) -> (haproxy_conf::Loaded, bool) {
    let options = LoadOptions {
        env: &ProcessEnv,
        features: FEATURES,
        resolver: &SystemResolver,
        accounts: &SystemAccounts,
        host_files: true,
    };
    let loaded = haproxy_conf::load(files, &options);
    let mut warnings = false;
    for d in &loaded.diagnostics {
        if d.severity == Severity::Warning {
            warnings = true;
        }
        if silent {
            continue;
        }
        if d.severity >= Severity::Warning {
            preamble(err);
        }
        let _ = err.write_all(render_haproxy(d, &loaded.sources, pid).as_bytes());
    }
    (loaded, warnings)
}

/// `-zero-warning` or `zero-warning` in global.
fn zero_warning(flags: &HaproxyFlags, loaded: &haproxy_conf::Loaded) -> bool {
    flags.zero_warning
        || loaded
            .config
            .global
            .unmodelled
            .iter()
            .any(|d| d.words.first().is_some_and(|w| w == "zero-warning"))
}

/// What the master checks before starting a worker, at start and at each reload, as
/// HAProxy's master parses the configuration before it forks: the diagnostics, then
/// whether a worker can run it (valid, a listener, no warning under `zero-warning`).
fn master_check(
    flags: &HaproxyFlags,
    files: &[PathBuf],
    log: &mut crate::master_worker::MasterLog,
    err: &mut dyn Write,
) -> bool {
    let pid = log.pid();
    let silent = flags.quiet && !flags.verbose;
    let mut preamble = |err: &mut dyn Write| {
        if !silent {
            log.before_warning(err);
        }
    };
    let (loaded, warnings) = load_reported(files, pid, silent, &mut preamble, err);
    match loaded.outcome {
        Outcome::Unreadable { .. } | Outcome::Invalid => false,
        Outcome::Valid { listeners: false } => {
            log.alert(err, "[haproxy.main()] No enabled listener found (check for 'bind' directives) ! Exiting.");
            false
        }
        Outcome::Valid { listeners: true } if warnings && zero_warning(flags, &loaded) => {
            log.alert(
                err,
                "config : Some warnings were found and 'zero-warning' is set. Aborting.",
            );
            false
        }
        Outcome::Valid { listeners: true } => true,
    }
}

/// `-W`/`-Ws` (not a worker): the master (see [`crate::master_worker`]), daemonised
/// first with `-D`. The master reads the configuration (at start and at each reload)
/// and says what is wrong, as HAProxy's; its workers read it again silently.
fn run_master(
    flags: &HaproxyFlags,
    files: &[PathBuf],
    args: &[OsString],
    err: &mut dyn Write,
) -> i32 {
    let program = std::env::args().next().unwrap_or_else(|| "haproxy".into());
    let master_cli = match flags
        .master_cli
        .iter()
        .map(|spec| crate::master_cli::MasterSocket::parse(spec))
        .collect::<Result<Vec<_>, _>>()
    {
        Ok(sockets) => sockets,
        Err(e) => {
            let _ = writeln!(err, "[ALERT]    ({}) : {e}", std::process::id());
            return 1;
        }
    };
    let systemd = flags.master_worker == Some(MasterWorker::Systemd);
    let daemon = flags.daemon && !(flags.foreground || flags.debug || systemd);
    if daemon && !crate::daemon::is_child() {
        // HAProxy reads the configuration before it daemonises: what is wrong is said on
        // the terminal, and a file that does not load never starts a daemon.
        let mut log = crate::master_worker::MasterLog::new(std::process::id(), write_preamble);
        if !master_check(flags, files, &mut log, err) {
            return 1;
        }
        return crate::daemon::spawn(&program, args, crate::daemon::ParentWaits::UntilReady);
    }
    let mut log = crate::master_worker::MasterLog::new(std::process::id(), write_preamble);
    // A daemon child's parent has printed the diagnostics already.
    let quiet_start = std::cell::Cell::new(crate::daemon::is_child());
    let check = |log: &mut crate::master_worker::MasterLog, err: &mut dyn Write| {
        if quiet_start.replace(false) {
            return master_check(flags, files, log, &mut std::io::sink());
        }
        master_check(flags, files, log, err)
    };
    crate::master_worker::run(
        &crate::master_worker::Master {
            argv0: program,
            args: args.to_vec(),
            pidfile: flags.pidfile.clone(),
            sd_notify: systemd,
            quiet_workers: crate::daemon::is_child(),
            master_cli,
            version: version_string(),
        },
        &mut log,
        &check,
        err,
    )
}

/// What the command line changes in how the engine starts (see
/// [`crate::proxy_run::Startup`]), and the configuration settings it overrides (`-n`,
/// `-N`). Flags not implemented are said so on stderr, never silently dropped. `Err` is
/// an exit status.
fn startup_options(
    flags: &HaproxyFlags,
    config: &mut haproxy_conf::model::HaproxyConfig,
    pid: u32,
    err: &mut dyn Write,
) -> Result<crate::proxy_run::Startup, i32> {
    let warn = |err: &mut dyn Write, text: &str| {
        let _ = writeln!(err, "[WARNING]  ({pid}) : ha-compat: {text}");
    };
    // HAProxy: `-d` and `-db` (and `-Ws`) keep it in the foreground over `-D` and the
    // configuration's `daemon`.
    let foreground =
        flags.foreground || flags.debug || flags.master_worker == Some(MasterWorker::Systemd);
    let daemon = (flags.daemon || config.global.daemon) && !foreground;
    if let Some(n) = flags.maxconn.filter(|n| *n > 0) {
        config.global.maxconn = Some(u32::try_from(n).unwrap_or(u32::MAX));
    }
    if let Some(n) = flags.maxpconn.filter(|n| *n > 0) {
        // HAProxy sets it as the default proxy's maxconn: proxies (and defaults sections)
        // with their own maxconn keep theirs.
        let n = u32::try_from(n).unwrap_or(u32::MAX);
        for proxy in &mut config.proxies {
            proxy.settings.maxconn = proxy.settings.maxconn.or(Some(n));
        }
    }
    if flags.memory_mb.is_some() {
        warn(
            err,
            "-m (memory limit) is not implemented: no limit is set.",
        );
    }
    if let Some(peer) = &flags.local_peer {
        // HAProxy exports it for the configuration and scripts; `peers` sections are not
        // run by ha-compat, so this is all it does here.
        std::env::set_var("HAPROXY_LOCALPEER", peer);
    }
    if let Some(socket) = &flags.sockets_from {
        warn(
            err,
            &format!(
                "-x {}: fetching the listening sockets from the old process is not implemented; binding them anew (with -sf, the old process keeps its sockets until it stops).",
                socket.display()
            ),
        );
    }
    if !flags.master_cli.is_empty()
        && flags.master_worker.is_none()
        && !config.global.master_worker
        && !crate::master_worker::is_worker()
    {
        // `-S` without `-W` (a worker got the master's command line and serves its CLI
        // through the master): HAProxy's warning, no socket.
        let _ = writeln!(
            err,
            "[WARNING]  ({pid}) : config : a master CLI socket was defined, but master-worker mode (-W) is not enabled."
        );
    }
    if crate::master_worker::is_worker() {
        // The master wrote the pid file, daemonised and talks to systemd.
        return Ok(crate::proxy_run::Startup {
            pidfile: None,
            old_pids: flags.old_pids.clone(),
            old_pid_signal: flags.old_pid_signal.unwrap_or(OldPidSignal::Finish),
            daemon: false,
            sd_notify: false,
        });
    }
    Ok(crate::proxy_run::Startup {
        // HAProxy writes the pid file in daemon and master-worker modes only.
        pidfile: flags
            .pidfile
            .clone()
            .filter(|_| daemon || flags.master_worker.is_some()),
        old_pids: flags.old_pids.clone(),
        old_pid_signal: flags.old_pid_signal.unwrap_or(OldPidSignal::Finish),
        daemon,
        sd_notify: flags.master_worker == Some(MasterWorker::Systemd),
    })
}

/// The two NOTICE lines HAProxy prints before its first warning or alert.
fn write_preamble(pid: u32, err: &mut dyn Write) {
    let exe = executable_path();
    let _ = write!(
        err,
        "[NOTICE]   ({pid}) : haproxy version is {}\n[NOTICE]   ({pid}) : path to executable is {exe}\n",
        version_string()
    );
}

/// `-cc COND`: 0 true, 1 false, 2 when the condition cannot be evaluated.
fn check_condition(
    condition: &str,
    pid: u32,
    silent: bool,
    preamble: &mut dyn FnMut(&mut dyn Write),
    err: &mut dyn Write,
) -> i32 {
    let pseudo = Pseudo {
        file: "",
        line: 0,
        section: "",
    };
    let words = match lexer::split_line(condition.as_bytes(), &ProcessEnv, pseudo) {
        Ok(w) => w,
        Err(e) => {
            let what = match e {
                lexer::LexError::UnmatchedQuote(_) => "Unmatched quote",
                lexer::LexError::UnmatchedBrace(_) => {
                    "Unmatched brace in environment variable name"
                }
                lexer::LexError::VarName(_) => "Forbidden first char in environment variable name",
                lexer::LexError::Hex(_) => "Truncated or invalid hexadecimal sequence",
                lexer::LexError::WrongExpand(_) => "Truncated or invalid word expansion sequence",
                lexer::LexError::TooMany { .. } => "Too many words",
            };
            if !silent {
                preamble(err);
                let _ = writeln!(
                    err,
                    "[ALERT]    ({pid}) : config : Syntax Error in condition: {what}."
                );
            }
            return 2;
        }
    };
    let text = words
        .iter()
        .map(|w| String::from_utf8_lossy(w).into_owned())
        .collect::<Vec<_>>()
        .join(" ");
    let ctx = CondContext {
        env: &ProcessEnv,
        features: FEATURES,
    };
    match cond::evaluate(&text, &ctx) {
        Ok(true) => 0,
        Ok(false) => 1,
        Err(e) => {
            if !silent {
                preamble(err);
                let _ = writeln!(
                    err,
                    "[ALERT]    ({pid}) : config : Failed to evaluate condition: {}",
                    e.message
                );
            }
            2
        }
    }
}

/// What HAProxy prints as "path to executable": `get_exec_path()` returns the kernel's
/// `AT_EXECFN`, the path handed to `execve()` (measured with 2.6.12: `/usr/sbin/haproxy`
/// when run as `haproxy` from PATH, `./hx` for `./hx`, a symlink's own path, never the
/// file it points to). `current_exe()` would name `/usr/sbin/ha-compat` under the
/// packaged `/usr/sbin/haproxy` symlink. `AT_EXECFN` is an address in our own memory:
/// read through `/proc/self/auxv` and `/proc/self/mem` (no unsafe); `current_exe()` if
/// /proc is unavailable.
fn executable_path() -> String {
    execfn().unwrap_or_else(|| {
        std::env::current_exe()
            .map(|p| p.display().to_string())
            .unwrap_or_default()
    })
}

fn execfn() -> Option<String> {
    use std::os::unix::fs::FileExt;
    const AT_EXECFN: usize = 31;
    const WORD: usize = std::mem::size_of::<usize>();
    let auxv = std::fs::read("/proc/self/auxv").ok()?;
    let address = auxv.chunks_exact(2 * WORD).find_map(|pair| {
        let (key, value) = pair.split_at(WORD);
        let key = usize::from_ne_bytes(key.try_into().ok()?);
        let value = usize::from_ne_bytes(value.try_into().ok()?);
        (key == AT_EXECFN).then_some(value)
    })?;
    let mem = std::fs::File::open("/proc/self/mem").ok()?;
    // PATH_MAX: the kernel refuses longer execve() paths. The string sits at the top of
    // the stack, so fewer bytes may be readable: read what there is.
    let mut buf = vec![0u8; 4096];
    let n = mem.read_at(&mut buf, u64::try_from(address).ok()?).ok()?;
    let end = buf[..n].iter().position(|b| *b == 0)?;
    Some(String::from_utf8_lossy(&buf[..end]).into_owned())
}

fn io_reason(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::NotFound => "No such file or directory".into(),
        std::io::ErrorKind::PermissionDenied => "Permission denied".into(),
        _ => e.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn parse(args: &[&str]) -> Parsed {
        let args: Vec<OsString> = args.iter().map(OsString::from).collect();
        parse_flags(&args)
    }

    fn run_flags(args: &[&str]) -> HaproxyFlags {
        match parse(args) {
            Parsed::Run(f) => *f,
            other => panic!("{args:?}: {other:?}"),
        }
    }

    #[test]
    fn daemon_pidfile_and_old_pids() {
        let f = run_flags(&[
            "-D",
            "-p",
            "/run/x.pid",
            "-f",
            "a.cfg",
            "-sf",
            "12",
            "13",
            "-N",
            "100",
        ]);
        assert!(f.daemon);
        assert_eq!(f.pidfile, Some(PathBuf::from("/run/x.pid")));
        assert_eq!(f.files, vec![PathBuf::from("a.cfg")]);
        assert_eq!(f.old_pids, vec![12, 13]);
        assert_eq!(f.old_pid_signal, Some(OldPidSignal::Finish));
        assert_eq!(f.maxpconn, Some(100));
        let f = run_flags(&[
            "-st",
            "7",
            "-L",
            "peer1",
            "-x",
            "/s.sock",
            "-S",
            "/m.sock,level,admin",
        ]);
        assert_eq!(f.old_pid_signal, Some(OldPidSignal::Terminate));
        assert_eq!(f.old_pids, vec![7]);
        assert_eq!(f.local_peer.as_deref(), Some("peer1"));
        assert_eq!(f.sockets_from, Some(PathBuf::from("/s.sock")));
        assert_eq!(f.master_cli, vec!["/m.sock,level,admin".to_owned()]);
        // -sf with no pid, then more flags (HAProxy stops at the next dash).
        let f = run_flags(&["-sf", "-f", "x"]);
        assert!(f.old_pids.is_empty());
        assert_eq!(f.files, vec![PathBuf::from("x")]);
    }

    #[test]
    fn flags_are_recognised_by_their_first_letters() {
        // haproxy.c looks at flag[0] and flag[1] only.
        assert!(run_flags(&["-dbfoo"]).foreground);
        assert!(run_flags(&["-Dxyz"]).daemon);
        assert_eq!(
            run_flags(&["-Wsx"]).master_worker,
            Some(MasterWorker::Systemd)
        );
        assert_eq!(run_flags(&["-W"]).master_worker, Some(MasterWorker::Plain));
        assert!(run_flags(&["-d"]).debug);
        assert!(run_flags(&["-dW"]).zero_warning);
        assert!(run_flags(&["-ccc", "defined(X)"]).check_condition.is_some());
        // `-fFILE` is `-f` with the next word as the file.
        assert_eq!(
            run_flags(&["-fxyz", "b.cfg"]).files,
            vec![PathBuf::from("b.cfg")]
        );
        assert_eq!(run_flags(&["-n", "12abc"]).maxconn, Some(12));
        assert_eq!(run_flags(&["-N", "abc"]).maxpconn, Some(0));
        assert_eq!(parse(&["-vv", "-Z"]), Parsed::Version(2));
        assert_eq!(parse(&["-V", "-v"]), Parsed::Version(1));
    }

    #[test]
    fn errors_as_haproxy() {
        assert_eq!(parse(&["-Z"]), Parsed::Usage(None));
        assert_eq!(parse(&["cfg"]), Parsed::Usage(None));
        // Measured: `haproxy -p` fails in copy_argv() before the parser.
        assert_eq!(parse(&["-p"]), Parsed::Fatal("failed to copy argv.".into()));
        assert_eq!(
            parse(&["-c", "-S"]),
            Parsed::Fatal("failed to copy argv.".into())
        );
        assert_eq!(parse(&["-sf", "0"]), Parsed::Usage(None));
        assert!(matches!(parse(&["-x"]), Parsed::Usage(Some(_))));

        // Measured: `haproxy -c -f F -sf 999999 abc` → this alert, exit 1.
        assert_eq!(
            parse(&["-sf", "999999", "abc"]),
            Parsed::Fatal("-sf option: some bytes unconsumed in PID list {abc}".into())
        );
        assert_eq!(
            parse(&["-st", "12x"]),
            Parsed::Fatal("-st option: some bytes unconsumed in PID list {x}".into())
        );
        let f = run_flags(&["--", "a", "-b"]);
        assert_eq!(f.files, vec![PathBuf::from("a"), PathBuf::from("-b")]);
    }

    #[test]
    fn maxconn_flags_override_as_haproxy() {
        let dir = std::env::temp_dir().join(format!("hac-flags-n-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let cfg = dir.join("h.cfg");
        std::fs::write(
            &cfg,
            "global\n    maxconn 50\ndefaults\n    mode tcp\nlisten own\n    bind 127.0.0.1:1\n    maxconn 7\n    server s 127.0.0.1:2\nlisten other\n    bind 127.0.0.1:3\n    server s 127.0.0.1:4\n",
        )
        .unwrap();
        let options = LoadOptions {
            env: &ProcessEnv,
            features: FEATURES,
            resolver: &SystemResolver,
            accounts: &SystemAccounts,
            host_files: true,
        };
        let mut config = haproxy_conf::load(&[cfg], &options).config;
        let flags = run_flags(&["-n", "900", "-N", "30", "-p", "/x.pid"]);
        let mut err = Vec::new();
        let startup = startup_options(&flags, &mut config, 1, &mut err).unwrap();
        // -n overrides global maxconn; -N fills in proxies without their own (HAProxy's
        // cfg_maxpconn becomes the default proxy's maxconn).
        assert_eq!(config.global.maxconn, Some(900));
        let maxconn = |name: &str| {
            config
                .proxies
                .iter()
                .find(|p| p.name == name)
                .unwrap()
                .settings
                .maxconn
        };
        assert_eq!(maxconn("own"), Some(7));
        assert_eq!(maxconn("other"), Some(30));
        // -p without -D/-W: no pid file (HAProxy 2.6.12, measured).
        assert_eq!(startup.pidfile, None);
        assert!(!startup.daemon);
        let flags = run_flags(&["-D", "-db", "-p", "/x.pid"]);
        let startup = startup_options(&flags, &mut config, 1, &mut err).unwrap();
        assert!(!startup.daemon, "-db wins over -D");
        let flags = run_flags(&["-W", "-S", "/m.sock", "-x", "/s", "-p", "/x.pid"]);
        let startup = startup_options(&flags, &mut config, 1, &mut err).unwrap();
        assert_eq!(startup.pidfile, Some(PathBuf::from("/x.pid")));
        let said = String::from_utf8(err).unwrap();
        assert!(said.contains("-x /s"), "no warning for -x: {said}");
        // `-S` with `-W` is the master CLI: no warning.
        assert!(!said.contains("master CLI"), "{said}");
        let mut err = Vec::new();
        let flags = run_flags(&["-S", "/m.sock"]);
        startup_options(&flags, &mut config, 1, &mut err).unwrap();
        assert_eq!(
            String::from_utf8(err).unwrap(),
            "[WARNING]  (1) : config : a master CLI socket was defined, but master-worker mode (-W) is not enabled.\n"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    proptest! {
        #[test]
        fn arbitrary_argv_never_panics(args in proptest::collection::vec(
            prop_oneof![
                "-[a-zA-Z]{0,3}",
                "-(sf|st|cc|x|S|p|N|n|m|L|f|C)",
                "[0-9 +-]{0,6}",
                ".{0,8}",
            ],
            0..8,
        )) {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            let _ = parse(&args);
        }
    }
}
