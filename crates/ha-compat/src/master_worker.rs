//! `haproxy -W` / `-Ws`: a minimal master. HAProxy 2.6's master is a process that does
//! not serve; it starts a worker that does, forwards signals to it, and on SIGUSR2
//! starts a new worker with the configuration read again, the old one told to finish
//! (`-sf`). Ours does the same with this binary started again as the worker
//! ([`WORKER_ENV`] set): the worker soft-stops the old ones itself through `-sf` once it
//! listens, and says "ready" on a channel to the master (a `SOCK_SEQPACKET` socket pair,
//! [`CHANNEL_ENV`]).
//!
//! Listening sockets survive reloads, as with HAProxy's socket transfer: with "ready" a
//! worker sends its listening sockets to the master (`SCM_RIGHTS`, each named by its
//! `ListenKey`); the master keeps them and hands them to the next worker by inheritance
//! ([`LISTENERS_ENV`]), which takes the ones whose bind is unchanged instead of binding
//! again. The old worker then closes its copies without resetting what waits in their
//! accept queues: the new worker accepts it. The master
//! writes its own pid to the pid file (as HAProxy, measured), sends systemd READY=1
//! once a worker is ready (`-Ws`), forwards SIGTERM/SIGINT/SIGUSR1 to the workers,
//! reloads on SIGUSR2 and on SIGHUP (HAProxy 2.6's `mworker_catch_sighup()`: the
//! master does not forward SIGHUP, measured), and exits when the last worker has gone
//! (0, as HAProxy's master after SIGTERM, measured). The master CLI (`-S`) is not provided.
//!
//! Why not the supervisor: the supervisor restarts crashed children and knows nothing of
//! reloads; HAProxy's master restarts nothing (a dead worker ends the master) and
//! reloads. Keeping HAProxy's model keeps `systemctl reload` (`kill -USR2 $MAINPID`) and
//! `Restart=` semantics as with the real unit.

use std::collections::BTreeSet;
use std::ffi::OsString;
use std::io::{IoSlice, IoSliceMut, Write};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::fs::DirBuilderExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{mpsc, Arc, Mutex};

use nix::sys::signal::{kill, Signal};
use nix::sys::socket::{
    recvmsg, sendmsg, socketpair, AddressFamily, ControlMessage, ControlMessageOwned, MsgFlags,
    SockFlag, SockType,
};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;
use proxy_engine::listener::ListenKey;

/// Set in a worker's environment (removed at once).
pub const WORKER_ENV: &str = "HA_COMPAT_MWORKER_WORKER";
/// The worker's end of its channel to the master: an inherited descriptor number.
pub const CHANNEL_ENV: &str = "HA_COMPAT_MWORKER_CHANNEL";
/// The listening sockets handed over: `FD KEY` lines, each FD inherited.
pub const LISTENERS_ENV: &str = "HA_COMPAT_MWORKER_LISTENERS";

/// The last message of a worker on its channel; the ones before carry sockets.
const READY: &[u8] = b"ready";
/// A message carrying listening sockets: this, then one key per line, the descriptors
/// in the same order as `SCM_RIGHTS`.
const SOCKETS: &[u8] = b"sockets\n";
/// Descriptors per message (the kernel's `SCM_MAX_FD` is 253).
const SOCKETS_PER_MESSAGE: usize = 200;
/// Room for one message's keys (an IPv6 address, a port and an interface name each).
const MESSAGE_BYTES: usize = 64 * 1024;

static IS_WORKER: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
/// The worker's end of the channel to its master.
static CHANNEL: std::sync::OnceLock<OwnedFd> = std::sync::OnceLock::new();

/// First thing in `main` (single-threaded): true in a worker.
pub fn worker_setup() -> bool {
    if std::env::var_os(WORKER_ENV).is_none() {
        return false;
    }
    let channel = std::env::var(CHANNEL_ENV).ok();
    let listeners = std::env::var(LISTENERS_ENV).ok();
    // Single-threaded here, so changing the environment is sound.
    std::env::remove_var(WORKER_ENV);
    std::env::remove_var(CHANNEL_ENV);
    std::env::remove_var(LISTENERS_ENV);
    if let Some(fd) = channel.and_then(|c| c.parse::<i32>().ok()) {
        match own_inherited_socket(fd) {
            Ok(owned) => {
                let _ = CHANNEL.set(owned);
            }
            Err(e) => eprintln!(
                "[WARNING]  ({}) : ha-compat: no channel to the master (fd {fd}: {e})",
                std::process::id()
            ),
        }
    }
    if let Some(spec) = listeners {
        // A socket that cannot be taken is bound again, as on a first start.
        if let Err(e) = proxy_engine::listener::adopt_handed_over(&spec) {
            eprintln!(
                "[WARNING]  ({}) : ha-compat: listening sockets not taken over: {e}",
                std::process::id()
            );
        }
    }
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

/// Takes ownership of inherited descriptor `fd` after checking through `/proc/self/fd`
/// that it is an open socket.
fn own_inherited_socket(fd: i32) -> Result<OwnedFd, String> {
    let link = std::fs::read_link(format!("/proc/self/fd/{fd}"))
        .map_err(|e| format!("not an open file descriptor ({e})"))?;
    if !link.to_string_lossy().starts_with("socket:") {
        return Err(format!("not a socket ({})", link.display()));
    }
    Ok(own_fd(fd))
}

#[allow(unsafe_code)]
fn own_fd(fd: i32) -> OwnedFd {
    use std::os::fd::FromRawFd;
    // SAFETY: callers pass a descriptor open in this process that nothing else owns: one
    // inherited for this purpose (checked open just before, taken once at start-up) or
    // one the kernel has just installed for us with SCM_RIGHTS.
    unsafe { OwnedFd::from_raw_fd(fd) }
}

/// In a worker, once serving: hands its listening sockets to the master, then tells it
/// the worker is ready.
pub fn worker_ready(listening: &[(ListenKey, BorrowedFd<'_>)]) {
    if let Some(channel) = CHANNEL.get() {
        send_ready(channel.as_fd(), listening);
    }
}

/// The worker's side of the channel: its sockets, a message per
/// [`SOCKETS_PER_MESSAGE`], then "ready".
fn send_ready(channel: BorrowedFd<'_>, listening: &[(ListenKey, BorrowedFd<'_>)]) {
    for chunk in listening.chunks(SOCKETS_PER_MESSAGE) {
        let mut text = SOCKETS.to_vec();
        for (key, _) in chunk {
            text.extend_from_slice(key.to_text().as_bytes());
            text.push(b'\n');
        }
        let fds: Vec<i32> = chunk.iter().map(|(_, fd)| fd.as_raw_fd()).collect();
        let rights = [ControlMessage::ScmRights(&fds)];
        // A failure leaves the master without these sockets: the next worker binds again.
        let _ = sendmsg::<()>(
            channel.as_raw_fd(),
            &[IoSlice::new(&text)],
            &rights,
            MsgFlags::empty(),
            None,
        );
    }
    let _ = sendmsg::<()>(
        channel.as_raw_fd(),
        &[IoSlice::new(READY)],
        &[],
        MsgFlags::empty(),
        None,
    );
}

/// Listening sockets as the master keeps them between workers.
type KeptSockets = Vec<(String, OwnedFd)>;

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
    /// `-S`: the master CLI sockets.
    pub master_cli: Vec<crate::master_cli::MasterSocket>,
    /// As `show proc` and `show version` print it.
    pub version: String,
}

/// Reads the configuration as the master does at start and at each reload, printing
/// its diagnostics through the log (HAProxy's master parses it before forking a worker);
/// true when a worker can be started with it.
pub type ConfigCheck<'a> = dyn Fn(&mut MasterLog, &mut dyn Write) -> bool + 'a;

/// The master's stderr lines, `[LEVEL]    (PID) : text`: before its first warning or
/// alert after each start or reload, HAProxy's two `haproxy version is` / `path to
/// executable is` notices (a reloaded HAProxy master is a new exec of the program).
pub struct MasterLog {
    pid: u32,
    preamble: fn(u32, &mut dyn Write),
    preamble_done: bool,
}

impl std::fmt::Debug for MasterLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MasterLog")
            .field("pid", &self.pid)
            .field("preamble_done", &self.preamble_done)
            .finish()
    }
}

impl MasterLog {
    pub fn new(pid: u32, preamble: fn(u32, &mut dyn Write)) -> MasterLog {
        MasterLog {
            pid,
            preamble,
            preamble_done: false,
        }
    }

    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// Before a warning or an alert: the preamble, once per exec.
    pub fn before_warning(&mut self, err: &mut dyn Write) {
        if !self.preamble_done {
            self.preamble_done = true;
            (self.preamble)(self.pid, err);
        }
    }

    pub fn notice(&mut self, err: &mut dyn Write, text: &str) {
        let _ = writeln!(err, "[NOTICE]   ({}) : {text}", self.pid);
    }

    pub fn warning(&mut self, err: &mut dyn Write, text: &str) {
        self.before_warning(err);
        let _ = writeln!(err, "[WARNING]  ({}) : {text}", self.pid);
    }

    pub fn alert(&mut self, err: &mut dyn Write, text: &str) {
        self.before_warning(err);
        let _ = writeln!(err, "[ALERT]    ({}) : {text}", self.pid);
    }

    /// A reload: HAProxy's master execs itself again.
    fn reexec(&mut self) {
        self.preamble_done = false;
    }
}

enum Msg {
    Signal(i32),
    /// A worker listens; its listening sockets.
    Ready(u32, KeptSockets),
    /// A worker's pipe closed before "ready".
    NotReady,
}

/// Runs the master; returns its exit status. `check` reads the configuration (at start
/// and at each reload; a reload with a configuration it refuses changes nothing).
pub fn run(
    master: &Master,
    log: &mut MasterLog,
    check: &ConfigCheck<'_>,
    err: &mut dyn Write,
) -> i32 {
    use signal_hook::consts::{SIGCHLD, SIGHUP, SIGINT, SIGTERM, SIGUSR1, SIGUSR2};
    let pid = log.pid();
    if !check(log, err) {
        return 1;
    }
    if let Some(path) = &master.pidfile {
        if crate::pidfile::write(path, pid).is_err() {
            let text = format!(
                "[{}.main()] Cannot create pidfile {}",
                master.argv0,
                path.display()
            );
            log.alert(err, &text);
            return 1;
        }
    }
    let (tx, rx) = mpsc::channel::<Msg>();
    let mut signals = match signal_hook::iterator::Signals::new([
        SIGTERM, SIGINT, SIGHUP, SIGUSR1, SIGUSR2, SIGCHLD,
    ]) {
        Ok(s) => s,
        Err(e) => {
            log.alert(err, &format!("cannot handle signals: {e}"));
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
    // The master CLI (`-S`): bound before any worker starts; the workers open their
    // runtime API for it in a private directory.
    let view = Arc::new(Mutex::new(crate::master_cli::ProcView::new(
        pid,
        master.version.clone(),
    )));
    let worker_dir = if master.master_cli.is_empty() {
        None
    } else {
        let dir = std::env::temp_dir().join(format!("ha-compat-master.{pid}"));
        let _ = std::fs::remove_dir_all(&dir);
        let made = std::fs::DirBuilder::new()
            .mode(0o700)
            .create(&dir)
            .map_err(|e| e.to_string())
            .and_then(|()| crate::master_cli::bind(&master.master_cli));
        match made {
            Ok(listeners) => {
                let reload_tx = std::sync::Mutex::new(tx.clone());
                crate::master_cli::serve(
                    listeners,
                    crate::master_cli::MasterLink {
                        view: view.clone(),
                        worker_dir: dir.clone(),
                        reload: Arc::new(move || {
                            if let Ok(tx) = reload_tx.lock() {
                                let _ = tx.send(Msg::Signal(SIGUSR2));
                            }
                        }),
                    },
                );
                Some(dir)
            }
            Err(e) => {
                log.alert(err, &format!("Cannot create the master CLI: {e}"));
                return 1;
            }
        }
    };
    let _cleanup = WorkerDir(worker_dir.clone());
    let update = |f: &dyn Fn(&mut crate::master_cli::ProcView)| match view.lock() {
        Ok(mut v) => f(&mut v),
        Err(poisoned) => f(&mut poisoned.into_inner()),
    };
    let mut workers: BTreeSet<u32> = BTreeSet::new();
    // Workers replaced by a reload, finishing their sessions.
    let mut former: BTreeSet<u32> = BTreeSet::new();
    let mut stopping = false;
    let mut started_once = false;
    // The current worker's listening sockets, for the next one.
    let mut kept: KeptSockets = Vec::new();
    match spawn_worker(master, &master.args, &tx, &kept, worker_dir.as_deref()) {
        Ok(w) => {
            workers.insert(w);
            update(&|v| {
                v.workers.push(crate::master_cli::ProcEntry {
                    pid: w,
                    reloads: 0,
                    started: std::time::Instant::now(),
                })
            });
            log.notice(err, &format!("New worker ({w}) forked"));
            log.notice(err, "Loading success.");
        }
        Err(e) => {
            log.alert(err, &format!("[{}.main()] Cannot fork: {e}.", master.argv0));
            return 1;
        }
    }
    let mut last_status = 0;
    while let Ok(msg) = rx.recv() {
        match msg {
            Msg::Ready(worker, sockets) => {
                // A worker a later reload has replaced already hands over nothing.
                if workers.contains(&worker) {
                    kept = sockets;
                }
                if !started_once {
                    started_once = true;
                    if crate::daemon::is_child() {
                        crate::daemon::ready();
                    }
                }
                if master.sd_notify {
                    crate::proxy_run::sd_notify_ready(pid);
                }
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
                    update(&|v| v.exited(child));
                    if former.remove(&child) {
                        log.warning(err, &format!("Former worker ({child}) exited with {text}"));
                    }
                    if workers.remove(&child) {
                        last_status = code;
                        log.alert(err, &format!("Current worker ({child}) exited with {text}"));
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
                    log.warning(err, &format!("All workers exited. Exiting... ({status})"));
                    return status;
                }
            }
            // HAProxy's master reloads on SIGUSR2 and on SIGHUP (`mworker_catch_sighup`).
            Msg::Signal(s) if s == SIGUSR2 || s == SIGHUP => {
                log.reexec();
                log.notice(err, "Reloading HAProxy");
                if !check(log, err) {
                    // The running workers stay; the master runs on (`Loading failure!`).
                    update(&|v| {
                        v.reloads += 1;
                        v.failed_reloads += 1;
                    });
                    log.warning(err, "Loading failure!");
                    continue;
                }
                // A new worker with the configuration read again; it tells the old ones
                // to finish once it serves.
                let mut args = without_old_pids(&master.args);
                args.push("-sf".into());
                args.extend(workers.iter().map(|w| OsString::from(w.to_string())));
                match spawn_worker(master, &args, &tx, &kept, worker_dir.as_deref()) {
                    Ok(w) => {
                        update(&|v| v.reloaded(w));
                        // The old workers finish when the new one serves; a new one
                        // that fails leaves them serving.
                        former.extend(std::mem::take(&mut workers));
                        workers.insert(w);
                        log.notice(err, &format!("New worker ({w}) forked"));
                        log.notice(err, "Loading success.");
                    }
                    Err(e) => {
                        log.alert(err, &format!("[{}.main()] Cannot fork: {e}.", master.argv0));
                    }
                }
            }
            Msg::Signal(s) => {
                // SIGTERM, SIGINT, SIGUSR1: the same signal to every worker
                // (`mworker_catch_sigterm`), and the master ends with them.
                let forwarded = match s {
                    SIGUSR1 => Signal::SIGUSR1,
                    SIGINT => Signal::SIGINT,
                    _ => Signal::SIGTERM,
                };
                log.warning(err, "Exiting Master process...");
                stopping = true;
                for w in workers.iter().chain(&former) {
                    let _ = kill(Pid::from_raw(i32::try_from(*w).unwrap_or(0)), forwarded);
                }
            }
        }
    }
    last_status
}

/// The master CLI's private directory, removed when the master ends.
struct WorkerDir(Option<PathBuf>);

impl Drop for WorkerDir {
    fn drop(&mut self) {
        if let Some(dir) = &self.0 {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
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

/// Whether `fd` is closed by `exec` (the master's descriptors are, but the ones a worker
/// inherits, for the time of its spawn).
fn set_cloexec(fd: BorrowedFd<'_>, on: bool) -> std::io::Result<()> {
    use nix::fcntl::{fcntl, FcntlArg, FdFlag};
    let flags = if on {
        FdFlag::FD_CLOEXEC
    } else {
        FdFlag::empty()
    };
    fcntl(fd, FcntlArg::F_SETFD(flags))
        .map(|_| ())
        .map_err(std::io::Error::from)
}

/// Starts a worker, handing it `kept`; a thread reports its readiness and sockets.
fn spawn_worker(
    master: &Master,
    args: &[OsString],
    tx: &mpsc::Sender<Msg>,
    kept: &KeptSockets,
    cli_dir: Option<&Path>,
) -> std::io::Result<u32> {
    let (ours, theirs) = socketpair(
        AddressFamily::Unix,
        SockType::SeqPacket,
        None,
        SockFlag::SOCK_CLOEXEC,
    )
    .map_err(std::io::Error::from)?;
    let handed: String = kept
        .iter()
        .map(|(key, fd)| format!("{} {key}\n", fd.as_raw_fd()))
        .collect();
    let mut command = Command::new("/proc/self/exe");
    command
        .arg0(&master.argv0)
        .args(args)
        .env(WORKER_ENV, "1")
        .env(CHANNEL_ENV, theirs.as_raw_fd().to_string())
        .env(LISTENERS_ENV, handed)
        .stdin(Stdio::null());
    if let Some(dir) = cli_dir {
        command.env(crate::master_cli::WORKER_DIR_ENV, dir);
    }
    if master.quiet_workers {
        command.stdout(Stdio::null()).stderr(Stdio::null());
    }
    // Only this (the main) thread starts processes, so no other child inherits these
    // descriptors while they are inheritable.
    let inherited = std::iter::once(theirs.as_fd()).chain(kept.iter().map(|(_, fd)| fd.as_fd()));
    for fd in inherited.clone() {
        set_cloexec(fd, false)?;
    }
    let spawned = command.spawn();
    for fd in inherited {
        let _ = set_cloexec(fd, true);
    }
    drop(theirs);
    let child = spawned?;
    let id = child.id();
    let tx = tx.clone();
    let _ = std::thread::Builder::new()
        .name("worker-ready".into())
        .spawn(move || {
            let msg = match read_worker_channel(&ours) {
                Some(sockets) => Msg::Ready(id, sockets),
                None => Msg::NotReady,
            };
            let _ = tx.send(msg);
        });
    // Reaped with waitpid(-1) on SIGCHLD; dropping `Child` neither waits nor kills.
    Ok(id)
}

/// Reads a worker's channel up to "ready": its listening sockets; `None` if the worker
/// ended before.
fn read_worker_channel(channel: &OwnedFd) -> Option<KeptSockets> {
    let mut sockets = Vec::new();
    let mut buf = vec![0u8; MESSAGE_BYTES];
    loop {
        let mut space = nix::cmsg_space!([i32; SOCKETS_PER_MESSAGE]);
        let mut iov = [IoSliceMut::new(&mut buf)];
        let (len, fds) = {
            let msg = recvmsg::<()>(
                channel.as_raw_fd(),
                &mut iov,
                Some(&mut space),
                MsgFlags::MSG_CMSG_CLOEXEC,
            )
            .ok()?;
            let mut fds = Vec::new();
            for cmsg in msg.cmsgs().ok()? {
                if let ControlMessageOwned::ScmRights(received) = cmsg {
                    fds.extend(received.into_iter().map(own_fd));
                }
            }
            (msg.bytes, fds)
        };
        let text = &buf[..len];
        if len == 0 {
            return None;
        }
        if text == READY {
            return Some(sockets);
        }
        if let Some(keys) = text.strip_prefix(SOCKETS) {
            let keys = String::from_utf8_lossy(keys);
            // Keys and descriptors pair up in order; an unpaired descriptor is closed.
            sockets.extend(keys.lines().map(str::to_string).zip(fds));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_worker_hands_its_listening_sockets_to_the_master() {
        use std::os::fd::AsFd;
        let (master_end, worker_end) = socketpair(
            AddressFamily::Unix,
            SockType::SeqPacket,
            None,
            SockFlag::SOCK_CLOEXEC,
        )
        .unwrap();
        // More sockets than one message carries.
        let listeners: Vec<std::net::TcpListener> = (0..SOCKETS_PER_MESSAGE + 3)
            .map(|_| std::net::TcpListener::bind("127.0.0.1:0").unwrap())
            .collect();
        let keyed: Vec<(ListenKey, BorrowedFd<'_>)> = listeners
            .iter()
            .map(|l| {
                let key = ListenKey::parse(&format!("{} default -", l.local_addr().unwrap()));
                (key.unwrap(), l.as_fd())
            })
            .collect();
        send_ready(worker_end.as_fd(), &keyed);
        let kept = read_worker_channel(&master_end).expect("ready");
        assert_eq!(kept.len(), listeners.len());
        for ((key, fd), listener) in kept.into_iter().zip(&listeners) {
            assert_eq!(key, format!("{} default -", listener.local_addr().unwrap()));
            // The descriptor received is the same socket, not a new one.
            let received = std::net::TcpListener::from(fd);
            assert_eq!(
                received.local_addr().unwrap(),
                listener.local_addr().unwrap()
            );
        }
    }

    #[test]
    fn a_worker_that_ends_before_ready_hands_over_nothing() {
        let (master_end, worker_end) = socketpair(
            AddressFamily::Unix,
            SockType::SeqPacket,
            None,
            SockFlag::SOCK_CLOEXEC,
        )
        .unwrap();
        drop(worker_end);
        assert!(read_worker_channel(&master_end).is_none());
    }

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
