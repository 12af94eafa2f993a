//! Running the proxy engine in the foreground: `haproxy -db -f FILE` (also the
//! supervisor's `haproxy` child). Loads the configuration (diagnostics as `haproxy -c` prints them), opens
//! every listener, then drops privileges as HAProxy 2.6 does (`chroot`, then
//! `group`/`gid`, then `user`/`uid`), and runs until SIGUSR1 (soft stop: listeners close,
//! `Proxy X stopped` lines, exit 0 once the sessions under way have ended) or
//! SIGTERM/SIGINT (default action: killed by the signal, as HAProxy 2.6 without
//! master-worker). SIGHUP prints every server's state and connection counts
//! (`sig_dump_state()`) and the process runs on.
//!
//! Messages on stderr in HAProxy's shape: `[WARNING]  (PID) : ...`, `[ALERT]    (PID) :
//! ...`. What the engine cannot run yet is refused before anything starts, with the
//! `file:line`, and exit status [`crate::EXIT_ENGINE_NOT_BUILT`].

use std::io::Write;
use std::sync::Arc;
use std::time::Duration;

use haproxy_conf::model::{Global, HaproxyConfig};
use proxy_engine::engine::{refusals, Engine, EngineEvents, Stop};
use proxy_engine::traffic_log::LogClock;

/// The engine's messages, on stderr as HAProxy prints them in the foreground.
struct Stderr {
    pid: u32,
}

impl EngineEvents for Stderr {
    fn warning(&self, message: &str) {
        eprintln!("[WARNING]  ({}) : {message}", self.pid);
    }

    fn alert(&self, message: &str) {
        eprintln!("[ALERT]    ({}) : {message}", self.pid);
    }
}

fn alert(err: &mut dyn Write, pid: u32, message: &str) {
    let _ = writeln!(err, "[ALERT]    ({pid}) : {message}");
}

/// What the command line asks of the start (`haproxy -D -p FILE -sf PID...`).
#[derive(Debug, Clone, Default)]
pub struct Startup {
    /// Written once the listeners are bound, with our pid (the worker's: in daemon mode
    /// this process is the daemon child). Not removed at exit, as HAProxy.
    pub pidfile: Option<std::path::PathBuf>,
    /// Signalled once the listeners are bound (`-sf`: SIGUSR1, `-st`: SIGTERM).
    pub old_pids: Vec<i32>,
    pub old_pid_signal: crate::haproxy_cli::OldPidSignal,
    /// Running as the daemon child: tell the parent once ready, then detach stdio.
    pub daemon: bool,
    /// `-Ws`: READY=1 to `$NOTIFY_SOCKET` once ready.
    pub sd_notify: bool,
}

/// Runs `config` until a stop signal; returns the exit status.
/// Where the supervisor asks its children to put their status sockets.
pub const STATUS_DIR_ENV: &str = vrrp_engine::status::STATUS_DIR_ENV;

pub fn run(config: HaproxyConfig, program: &str, startup: &Startup, err: &mut dyn Write) -> i32 {
    let pid = std::process::id();
    let refused = refusals(&config);
    if !refused.is_empty() {
        for r in &refused {
            alert(err, pid, &format!("config : ha-compat: {r}"));
        }
        alert(
            err,
            pid,
            "config : ha-compat: not starting: the proxy engine cannot run this configuration as HAProxy would yet.",
        );
        return crate::EXIT_ENGINE_NOT_BUILT;
    }
    let threads = config
        .global
        .nbthread
        .map(|n| n as usize)
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads.max(1))
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            alert(err, pid, &format!("cannot start the engine's threads: {e}"));
            return 1;
        }
    };
    let clock = LogClock::host();
    let mut engine = match runtime.block_on(async { Engine::build(&config, clock) }) {
        Ok(e) => e,
        Err(e) => {
            alert(err, pid, &format!("Starting proxies: {e}"));
            return 1;
        }
    };
    // Under a `-W` master with `-S`: the runtime API socket its master CLI relays to.
    if let Some(dir) = std::env::var_os(crate::master_cli::WORKER_DIR_ENV) {
        let path = std::path::PathBuf::from(dir).join(format!("{pid}.sock"));
        let added = {
            let _entered = runtime.enter();
            engine.add_cli_socket(&path)
        };
        if let Err(e) = added {
            alert(
                err,
                pid,
                &format!("Starting proxies: master CLI socket: {e}"),
            );
            return 1;
        }
    }
    // Under the supervisor: its status socket (`ha-compat status` reads it), an admin
    // runtime API socket whatever the configuration says.
    if let Some(dir) = std::env::var_os(STATUS_DIR_ENV) {
        let dir = std::path::PathBuf::from(dir);
        let _ = std::fs::create_dir_all(&dir);
        let added = {
            let _entered = runtime.enter();
            engine.add_cli_socket(&dir.join("haproxy.sock"))
        };
        if let Err(e) = added {
            alert(err, pid, &format!("Starting proxies: status socket: {e}"));
            return 1;
        }
        // The VRRP child's metrics (keepalived-exporter's names) on the same page as
        // HAProxy's exporter: one scrape target per node.
        let vrrp = dir.join(vrrp_engine::status::SOCKET_NAME);
        engine.set_extra_metrics(Arc::new(move || {
            vrrp_engine::status::request(&vrrp, "metrics", Duration::from_millis(500))
                .ok()
                .filter(|text| !text.starts_with("error: "))
                .unwrap_or_default()
        }));
    }
    // SIGHUP is caught from here on (before anyone is told we are ready): its default
    // action would kill the process.
    let hangups = {
        let _entered = runtime.enter();
        tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())
    };
    let hangups = match hangups {
        Ok(h) => h,
        Err(e) => {
            alert(err, pid, &format!("cannot handle SIGHUP: {e}"));
            return 1;
        }
    };
    for warning in engine.warnings() {
        let _ = writeln!(err, "[WARNING]  ({pid}) : config : {warning}");
    }
    // Sockets a reload handed over for binds that are gone.
    proxy_engine::listener::release_unclaimed();
    // HAProxy's order after binding: pid file, old processes told, identity dropped.
    if let Some(path) = &startup.pidfile {
        if crate::pidfile::write(path, pid).is_err() {
            alert(
                err,
                pid,
                &format!(
                    "[{program}.main()] Cannot create pidfile {}",
                    path.display()
                ),
            );
            return 1;
        }
    }
    tell_old_pids(&startup.old_pids, startup.old_pid_signal);
    if let Err(message) = drop_privileges(&config.global, program) {
        alert(err, pid, &message);
        return 1;
    }
    if startup.sd_notify {
        sd_notify_ready(pid);
    }
    if startup.daemon && crate::daemon::is_child() {
        crate::daemon::ready();
    }
    if crate::master_worker::is_worker() {
        crate::master_worker::worker_ready(&engine.listening_sockets());
    }
    let events: Arc<dyn EngineEvents> = Arc::new(Stderr { pid });
    let dumper = if crate::master_worker::is_worker() {
        engine.state_dumper().under_master()
    } else {
        engine.state_dumper()
    };
    runtime.block_on(async move {
        // SIGHUP: the servers' states, while the sessions run on.
        let dumps = {
            let events = events.clone();
            let mut hangups = hangups;
            async move {
                while hangups.recv().await.is_some() {
                    dumper.dump(events.as_ref());
                }
                std::future::pending::<()>().await;
            }
        };
        // SIGUSR1: soft stop. SIGTERM and SIGINT keep their default action, as in HAProxy
        // 2.6 without master-worker: the process ends at once, killed by the signal.
        let stop = async {
            use tokio::signal::unix::{signal, SignalKind};
            match signal(SignalKind::user_defined1()) {
                Ok(mut usr1) => {
                    usr1.recv().await;
                    Stop::Soft
                }
                Err(_) => std::future::pending::<Stop>().await,
            }
        };
        tokio::select! {
            () = engine.run(events, stop) => {}
            () = dumps => {}
        }
    });
    runtime.shutdown_background();
    0
}

/// `-sf`/`-st`: as HAProxy's `tell_old_pids()`, errors (a pid already gone) ignored.
fn tell_old_pids(pids: &[i32], which: crate::haproxy_cli::OldPidSignal) {
    use nix::sys::signal::{kill, Signal};
    let signal = match which {
        crate::haproxy_cli::OldPidSignal::Finish => Signal::SIGUSR1,
        crate::haproxy_cli::OldPidSignal::Terminate => Signal::SIGTERM,
    };
    for pid in pids.iter().filter(|p| **p > 0) {
        let _ = kill(nix::unistd::Pid::from_raw(*pid), signal);
    }
}

/// systemd's readiness notification (`Type=notify`), as HAProxy's `-Ws`: a datagram to
/// `$NOTIFY_SOCKET` (a path, or `@name` for the abstract namespace).
pub(crate) fn sd_notify_ready(pid: u32) {
    use std::os::unix::net::{SocketAddr, UnixDatagram};
    let Some(target) = std::env::var_os("NOTIFY_SOCKET") else {
        return;
    };
    let target = target.to_string_lossy().into_owned();
    let address = match target.strip_prefix('@') {
        Some(name) => {
            use std::os::linux::net::SocketAddrExt;
            SocketAddr::from_abstract_name(name.as_bytes())
        }
        None => SocketAddr::from_pathname(&target),
    };
    if let (Ok(socket), Ok(address)) = (UnixDatagram::unbound(), address) {
        let _ = socket.send_to_addr(format!("READY=1\nMAINPID={pid}").as_bytes(), &address);
    }
}

/// `chroot`, then `gid`/`group`, then `uid`/`user`, as HAProxy's `main()` and
/// `set_identity()` once the listeners are bound (messages as theirs; `program` is
/// argv[0]). Id 0 means "unchanged", as in HAProxy.
fn drop_privileges(global: &Global, program: &str) -> Result<(), String> {
    use nix::unistd::{chroot, setgid, setgroups, setuid, Gid, Group, Uid, User};
    if let Some(dir) = &global.chroot {
        chroot(dir)
            .and_then(|()| nix::unistd::chdir("/"))
            .map_err(|_| {
                format!(
                    "[{program}.main()] Cannot chroot({}).",
                    dir.to_string_lossy()
                )
            })?;
    }
    // The parser has checked that named users and groups exist (as HAProxy does).
    let gid = global.gid.or_else(|| {
        let name = global.group.as_ref()?;
        Group::from_name(name)
            .ok()
            .flatten()
            .map(|g| g.gid.as_raw())
    });
    let uid = global.uid.or_else(|| {
        let name = global.user.as_ref()?;
        User::from_name(name).ok().flatten().map(|u| u.uid.as_raw())
    });
    if let Some(gid) = gid.filter(|g| *g != 0) {
        if setgroups(&[]).is_err() {
            eprintln!(
                "[WARNING]  ({}) : [{program}.main()] Failed to drop supplementary groups. Using 'gid'/'group' without 'uid'/'user' is generally useless.",
                std::process::id()
            );
        }
        setgid(Gid::from_raw(gid))
            .map_err(|_| format!("[{program}.main()] Cannot set gid {gid}."))?;
    }
    if let Some(uid) = uid.filter(|u| *u != 0) {
        setuid(Uid::from_raw(uid))
            .map_err(|_| format!("[{program}.main()] Cannot set uid {uid}."))?;
    }
    Ok(())
}
