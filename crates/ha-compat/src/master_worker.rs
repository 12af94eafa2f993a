//! `haproxy -W` / `-Ws`: a minimal master. HAProxy 2.6's master is a process that does
//! not serve; it starts a worker that does, forwards signals to it, and on SIGUSR2
//! starts a new worker with the configuration read again, the old one told to finish
//! (`-sf`). Ours does the same with this binary started again as the worker
//! ([`WORKER_ENV`] set): the worker binds (`SO_REUSEPORT` beside an old worker), soft-
//! stops the old ones itself through `-sf`, and says "ready" on a pipe. The master
//! writes its own pid to the pid file (as HAProxy, measured), sends systemd READY=1
//! once a worker is ready (`-Ws`), forwards SIGTERM/SIGINT/SIGUSR1/SIGHUP to the
//! workers, and exits when the last worker has gone (0, as HAProxy's master after
//! SIGTERM, measured). The master CLI (`-S`) is not provided.
//!
//! Why not the supervisor: the supervisor restarts crashed children and knows nothing of
//! reloads; HAProxy's master restarts nothing (a dead worker ends the master) and
//! reloads. Keeping HAProxy's model keeps `systemctl reload` (`kill -USR2 $MAINPID`) and
//! `Restart=` semantics as with the real unit.

use std::collections::BTreeSet;
use std::ffi::OsString;
use std::io::{BufRead, BufReader, Write};
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::mpsc;

use nix::sys::signal::{kill, Signal};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;

/// Set in a worker's environment (removed at once).
pub const WORKER_ENV: &str = "HA_COMPAT_MWORKER_WORKER";

const READY: &str = "ha-compat-worker-ready";

static IS_WORKER: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// First thing in `main` (single-threaded): true in a worker.
pub fn worker_setup() -> bool {
    if std::env::var_os(WORKER_ENV).is_none() {
        return false;
    }
    // Single-threaded here, so changing the environment is sound.
    std::env::remove_var(WORKER_ENV);
    // Exec'ing /proc/self/exe names the process `exe`.
    let _ = nix::sys::prctl::set_name(c"haproxy");
    // HAProxy's workers exit when their master dies (they watch a pipe to it); SIGTERM
    // when ours does (spawned from the master's main thread, which lives as long as it).
    let _ = nix::sys::prctl::set_pdeathsig(nix::sys::signal::Signal::SIGTERM);
    IS_WORKER.store(true, std::sync::atomic::Ordering::Relaxed);
    true
}

pub fn is_worker() -> bool {
    IS_WORKER.load(std::sync::atomic::Ordering::Relaxed)
}

/// In a worker, once serving: tells the master.
pub fn worker_ready() {
    let mut out = std::io::stdout();
    let _ = writeln!(out, "{READY}");
    let _ = out.flush();
}

/// How the master runs.
#[derive(Debug, Clone)]
pub struct Master {
    pub argv0: String,
    /// The command line after argv[0] (a worker gets it again, `-sf`/`-st` lists removed
    /// on reloads and replaced by the old workers).
    pub args: Vec<OsString>,
    pub pidfile: Option<PathBuf>,
    pub sd_notify: bool,
    /// The workers' stderr goes to /dev/null (daemon mode).
    pub quiet_workers: bool,
}

enum Msg {
    Signal(i32),
    Ready(u32),
    /// A worker's pipe closed before "ready".
    NotReady,
}

/// Runs the master; returns its exit status.
pub fn run(master: &Master, err: &mut dyn Write) -> i32 {
    use signal_hook::consts::{SIGCHLD, SIGHUP, SIGINT, SIGTERM, SIGUSR1, SIGUSR2};
    let pid = std::process::id();
    if let Some(path) = &master.pidfile {
        if crate::pidfile::write(path, pid).is_err() {
            let _ = writeln!(
                err,
                "[ALERT]    ({pid}) : [{}.main()] Cannot create pidfile {}",
                master.argv0,
                path.display()
            );
            return 1;
        }
    }
    let (tx, rx) = mpsc::channel::<Msg>();
    let mut signals = match signal_hook::iterator::Signals::new([
        SIGTERM, SIGINT, SIGHUP, SIGUSR1, SIGUSR2, SIGCHLD,
    ]) {
        Ok(s) => s,
        Err(e) => {
            let _ = writeln!(err, "[ALERT]    ({pid}) : cannot handle signals: {e}");
            return 1;
        }
    };
    let signal_tx = tx.clone();
    let _ = std::thread::Builder::new()
        .name("signals".into())
        .spawn(move || {
            for s in signals.forever() {
                if signal_tx.send(Msg::Signal(s)).is_err() {
                    return;
                }
            }
        });
    let mut workers: BTreeSet<u32> = BTreeSet::new();
    // Workers replaced by a reload, finishing their sessions.
    let mut former: BTreeSet<u32> = BTreeSet::new();
    let mut stopping = false;
    let mut started_once = false;
    match spawn_worker(master, &master.args, &tx) {
        Ok(w) => {
            workers.insert(w);
            let _ = writeln!(err, "[NOTICE]   ({pid}) : New worker ({w}) forked");
        }
        Err(e) => {
            let _ = writeln!(
                err,
                "[ALERT]    ({pid}) : [{}.main()] Cannot fork: {e}.",
                master.argv0
            );
            return 1;
        }
    }
    let mut last_status = 0;
    while let Ok(msg) = rx.recv() {
        match msg {
            Msg::Ready(worker) => {
                if !started_once {
                    started_once = true;
                    let _ = writeln!(err, "[NOTICE]   ({pid}) : Loading success.");
                    if crate::daemon::is_child() {
                        crate::daemon::ready();
                    }
                }
                if master.sd_notify {
                    crate::proxy_run::sd_notify_ready(pid);
                }
                let _ = worker;
            }
            Msg::NotReady => {}
            Msg::Signal(s) if s == SIGCHLD => {
                while let Ok(status) = waitpid(Pid::from_raw(-1), Some(WaitPidFlag::WNOHANG)) {
                    let (child, text, code) = match status {
                        WaitStatus::Exited(p, c) => (p, format!("code {c} (Exit)"), c),
                        WaitStatus::Signaled(p, s, _) => (
                            p,
                            format!("code {} ({})", 128 + s as i32, signal_name(s)),
                            128 + s as i32,
                        ),
                        WaitStatus::StillAlive => break,
                        _ => continue,
                    };
                    let child = u32::try_from(child.as_raw()).unwrap_or(0);
                    if former.remove(&child) {
                        let _ = writeln!(
                            err,
                            "[WARNING]  ({pid}) : Former worker ({child}) exited with {text}"
                        );
                    }
                    if workers.remove(&child) {
                        last_status = code;
                        let _ = writeln!(
                            err,
                            "[ALERT]    ({pid}) : Current worker ({child}) exited with {text}"
                        );
                    }
                }
                if workers.is_empty() && !former.is_empty() && !stopping {
                    // A reload's new worker failed before telling the old ones to
                    // finish: they serve on as the current workers.
                    workers = std::mem::take(&mut former);
                }
                if workers.is_empty() && former.is_empty() {
                    // HAProxy: 0 after a stop it was asked for, else the worker's status.
                    let status = if stopping { 0 } else { last_status };
                    let _ = writeln!(
                        err,
                        "[WARNING]  ({pid}) : All workers exited. Exiting... ({status})"
                    );
                    return status;
                }
            }
            Msg::Signal(s) if s == SIGUSR2 => {
                // Reload: a new worker with the configuration read again; it tells the
                // old ones to finish once it serves.
                let mut args = without_old_pids(&master.args);
                args.push("-sf".into());
                args.extend(workers.iter().map(|w| OsString::from(w.to_string())));
                let _ = writeln!(err, "[WARNING]  ({pid}) : Reexecuting Master process");
                match spawn_worker(master, &args, &tx) {
                    Ok(w) => {
                        // The old workers finish when the new one serves; a new one
                        // that fails leaves them serving.
                        former.extend(std::mem::take(&mut workers));
                        workers.insert(w);
                        let _ = writeln!(err, "[NOTICE]   ({pid}) : New worker ({w}) forked");
                    }
                    Err(e) => {
                        let _ = writeln!(err, "[ALERT]    ({pid}) : reload failed: {e}");
                    }
                }
            }
            Msg::Signal(s) => {
                let forwarded = match s {
                    SIGTERM | SIGINT => {
                        stopping = true;
                        let _ = writeln!(err, "[WARNING]  ({pid}) : Exiting Master process...");
                        Signal::SIGTERM
                    }
                    SIGUSR1 => {
                        stopping = true;
                        Signal::SIGUSR1
                    }
                    _ => Signal::SIGHUP,
                };
                for w in workers.iter().chain(&former) {
                    let _ = kill(Pid::from_raw(i32::try_from(*w).unwrap_or(0)), forwarded);
                }
            }
        }
    }
    last_status
}

fn signal_name(s: Signal) -> &'static str {
    match s {
        Signal::SIGTERM => "Terminated",
        Signal::SIGKILL => "Killed",
        Signal::SIGINT => "Interrupt",
        Signal::SIGSEGV => "Segmentation fault",
        _ => s.as_str(),
    }
}

/// `args` without `-sf`/`-st` and their pid lists.
fn without_old_pids(args: &[OsString]) -> Vec<OsString> {
    let mut out = Vec::new();
    let mut skipping = false;
    for a in args {
        let text = a.to_string_lossy();
        if text.starts_with("-sf") || text.starts_with("-st") {
            skipping = true;
            continue;
        }
        if skipping && !text.starts_with('-') {
            continue;
        }
        skipping = false;
        out.push(a.clone());
    }
    out
}

/// Starts a worker; a thread reports its readiness.
fn spawn_worker(
    master: &Master,
    args: &[OsString],
    tx: &mpsc::Sender<Msg>,
) -> std::io::Result<u32> {
    let mut command = Command::new("/proc/self/exe");
    command
        .arg0(&master.argv0)
        .args(args)
        .env(WORKER_ENV, "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped());
    if master.quiet_workers {
        command.stderr(Stdio::null());
    }
    let mut child = command.spawn()?;
    let id = child.id();
    let stdout = child.stdout.take();
    let tx = tx.clone();
    let _ = std::thread::Builder::new()
        .name("worker-ready".into())
        .spawn(move || {
            let mut line = String::new();
            let ready = stdout.is_some_and(|s| {
                BufReader::new(s).read_line(&mut line).is_ok() && line.trim_end() == READY
            });
            let _ = tx.send(if ready { Msg::Ready(id) } else { Msg::NotReady });
        });
    // Reaped with waitpid(-1) on SIGCHLD; dropping `Child` neither waits nor kills.
    Ok(id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reload_args_drop_old_pid_lists() {
        let args: Vec<OsString> = ["-W", "-sf", "1", "2", "-f", "a.cfg", "-st", "3"]
            .iter()
            .map(OsString::from)
            .collect();
        let kept: Vec<String> = without_old_pids(&args)
            .iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        assert_eq!(kept, ["-W", "-f", "a.cfg"]);
    }
}
