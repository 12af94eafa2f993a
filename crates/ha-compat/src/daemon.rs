//! Daemon mode (`haproxy -D`, `keepalived` without `-n`) without `fork()`: the workspace
//! denies `unsafe`, and forking a process that may already run threads is unsound
//! anyway. The parent starts this same binary again (`/proc/self/exe`, same argv[0] and
//! arguments) with [`DAEMON_CHILD_ENV`] set; the child calls `setsid()` first thing (it
//! is not a process-group leader, so this cannot fail), runs as a foreground process
//! would, and once it is ready (listeners bound, pid file written) says so on its
//! stdout, a pipe to the parent, and moves its stdin/stdout/stderr to /dev/null. The
//! parent copies nothing: the child's stderr is the parent's until then, so errors before
//! readiness are seen where the original prints them, and the parent exits with the
//! child's status if it dies before being ready, 0 once it is.
//!
//! Measured on the originals: haproxy 2.6.12 `-D` forks once after binding, the child
//! calls `setsid()` and opens /dev/null on 0-2, the parent writes the child's pid to the
//! `-p` file and exits 0; keepalived 2.2.7 forks at once, the parent exits 0 whatever
//! follows, the daemon is a session leader whose 0-2 are /dev/null.

use std::io::{BufRead, BufReader};
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};

/// Set in the daemon child's environment (removed at once, as the supervisor's variable).
pub const DAEMON_CHILD_ENV: &str = "HA_COMPAT_DAEMON_CHILD";

const READY: &str = "ha-compat-daemon-ready";

static IS_CHILD: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// True in a daemon child (see [`child_setup`]).
pub fn is_child() -> bool {
    IS_CHILD.load(std::sync::atomic::Ordering::Relaxed)
}

/// First thing in `main` (single-threaded): true in a daemon child, which is then in a
/// session of its own.
/// `name` is the process name to take back (exec'ing `/proc/self/exe` names it `exe`).
pub fn child_setup(name: &str) -> bool {
    if std::env::var_os(DAEMON_CHILD_ENV).is_none() {
        return false;
    }
    // Single-threaded here, so changing the environment is sound.
    std::env::remove_var(DAEMON_CHILD_ENV);
    let _ = nix::unistd::setsid();
    if let Ok(cname) = std::ffi::CString::new(name) {
        let _ = nix::sys::prctl::set_name(&cname);
    }
    IS_CHILD.store(true, std::sync::atomic::Ordering::Relaxed);
    true
}

/// How long the parent waits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParentWaits {
    /// Until the child is ready (haproxy: the parent exits once listeners are bound).
    UntilReady,
    /// Not at all (keepalived: the parent exits 0 right after the fork).
    No,
}

/// In the parent: starts the daemon child and returns the parent's exit status.
pub fn spawn(argv0: &str, args: &[std::ffi::OsString], waits: ParentWaits) -> i32 {
    let mut command = Command::new("/proc/self/exe");
    command
        .arg0(argv0)
        .args(args)
        .env(DAEMON_CHILD_ENV, "1")
        .stdin(Stdio::null());
    match waits {
        ParentWaits::No => {
            command.stdout(Stdio::null()).stderr(Stdio::null());
        }
        ParentWaits::UntilReady => {
            command.stdout(Stdio::piped());
        }
    }
    let mut child = match command.spawn() {
        Ok(c) => c,
        Err(e) => {
            eprintln!(
                "[ALERT]    ({}) : [{argv0}.main()] Cannot fork: {e}.",
                std::process::id()
            );
            return 1;
        }
    };
    if waits == ParentWaits::No {
        return 0;
    }
    if let Some(stdout) = child.stdout.take() {
        let mut line = String::new();
        if BufReader::new(stdout).read_line(&mut line).is_ok() && line.trim_end() == READY {
            // The child lives on; dropping `Child` neither waits nor kills.
            return 0;
        }
    }
    match child.wait() {
        Ok(status) => status.code().unwrap_or(1),
        Err(_) => 1,
    }
}

/// In a daemon child, once ready: tells the parent, then detaches stdio.
pub fn ready() {
    use std::io::Write;
    let mut out = std::io::stdout();
    let _ = writeln!(out, "{READY}");
    let _ = out.flush();
    if let Ok(null) = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/null")
    {
        let _ = nix::unistd::dup2_stdin(&null);
        let _ = nix::unistd::dup2_stdout(&null);
        let _ = nix::unistd::dup2_stderr(&null);
    }
}
