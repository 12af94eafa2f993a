//! The drop-in `haproxy` command line (HAProxy 2.6's own single-dash flags, which clap
//! cannot express: `-vv`, `-cc COND`, `-dW`, `-sf PID…`), for now the check side:
//! `-c`, `-f FILE|DIR`, `-q`, `-V`, `-C DIR`, `-cc`, `-v`, `-vv`, `-dW`, `-dr`; without
//! `-c` it runs the proxy engine in the foreground ([`crate::proxy_run`]).

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

#[derive(Debug, Default)]
struct Flags {
    check: bool,
    check_condition: Option<String>,
    quiet: bool,
    verbose: bool,
    version: u8,
    zero_warning: bool,
    /// `-db` / `-d`: stay in the foreground even with `daemon` in the configuration.
    foreground: bool,
    chdir: Option<PathBuf>,
    files: Vec<PathBuf>,
}

fn usage(out: &mut dyn Write, err: &mut dyn Write) -> i32 {
    let _ = out.write_all(banner().as_bytes());
    let _ = err.write_all(USAGE.as_bytes());
    1
}

/// Parses HAProxy's flags; `Err` means "print usage".
fn parse_flags(args: &[OsString]) -> Result<Flags, ()> {
    let mut f = Flags::default();
    let words: Vec<String> = args
        .iter()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    let mut i = 0;
    let value = |i: &mut usize| -> Result<String, ()> {
        *i += 1;
        words.get(*i).cloned().ok_or(())
    };
    while i < words.len() {
        let w = words[i].as_str();
        if !w.starts_with('-') || w == "-" {
            // HAProxy takes bare words after the options as config files.
            f.files.push(PathBuf::from(w));
            i += 1;
            continue;
        }
        match w {
            "--" => {
                f.files.extend(words[i + 1..].iter().map(PathBuf::from));
                break;
            }
            "-v" => f.version = f.version.max(1),
            "-vv" => f.version = 2,
            "-c" => f.check = true,
            "-cc" => f.check_condition = Some(value(&mut i)?),
            "-q" => f.quiet = true,
            "-V" => f.verbose = true,
            "-dW" => f.zero_warning = true,
            "-f" => f.files.push(PathBuf::from(value(&mut i)?)),
            "-C" => f.chdir = Some(PathBuf::from(value(&mut i)?)),
            "-n" | "-N" | "-m" | "-p" | "-L" | "-x" | "-S" => {
                value(&mut i)?;
            }
            "-sf" | "-st" => {
                while words.get(i + 1).is_some_and(|p| p.parse::<u32>().is_ok()) {
                    i += 1;
                }
            }
            "-d" | "-db" => f.foreground = true,
            "-D" | "-W" | "-Ws" | "-de" | "-dp" | "-dS" | "-dG" | "-dR" | "-dL" | "-dr" | "-dV"
            | "-dD" | "-dF" | "-dZ" => {}
            other if other.starts_with("-f") && other.len() > 2 => {
                f.files.push(PathBuf::from(&other[2..]))
            }
            other if other.starts_with("-dM") || other.starts_with("-dK") => {}
            _ => return Err(()),
        }
        i += 1;
    }
    Ok(f)
}

pub fn run(args: &[OsString], out: &mut dyn Write, err: &mut dyn Write) -> i32 {
    let Ok(flags) = parse_flags(args) else {
        return usage(out, err);
    };
    let pid = std::process::id();
    let silent = flags.quiet && !flags.verbose;
    if flags.version > 0 {
        let _ = out.write_all(banner().as_bytes());
        if flags.version > 1 {
            let _ = out.write_all(build_options().as_bytes());
        }
        return 0;
    }
    let mut preamble_done = false;
    let mut preamble = |err: &mut dyn Write| {
        if !preamble_done && !silent {
            preamble_done = true;
            let exe = executable_path();
            let _ = write!(
                err,
                "[NOTICE]   ({pid}) : haproxy version is {}\n[NOTICE]   ({pid}) : path to executable is {exe}\n",
                version_string()
            );
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
    let options = LoadOptions {
        env: &ProcessEnv,
        features: FEATURES,
        resolver: &SystemResolver,
        accounts: &SystemAccounts,
        host_files: true,
    };
    let loaded = haproxy_conf::load(&files, &options);
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
    let zero_warning = flags.zero_warning
        || loaded
            .config
            .global
            .unmodelled
            .iter()
            .any(|d| d.words.first().is_some_and(|w| w == "zero-warning"));
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
                if loaded.config.global.daemon && !flags.foreground {
                    let _ = writeln!(err, "[WARNING]  ({pid}) : ha-compat: 'daemon' is not supported yet: running in the foreground (use -db, or the supervisor's service units).");
                }
                // HAProxy's messages name argv[0] ("[haproxy.main()] ...").
                let program = std::env::args().next().unwrap_or_else(|| "haproxy".into());
                crate::proxy_run::run(loaded.config, &program, err)
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
