//! Running the proxy engine in the foreground: `haproxy -db -f FILE` (also the
//! supervisor's `haproxy` child). Loads the configuration (diagnostics as `haproxy -c` prints them), opens
//! every listener, then drops privileges as HAProxy 2.6 does (`chroot`, then
//! `group`/`gid`, then `user`/`uid`), and runs until SIGUSR1 (soft stop: listeners close,
//! `Proxy X stopped` lines, exit 0 once the sessions under way have ended) or
//! SIGTERM/SIGINT (default action: killed by the signal, as HAProxy 2.6 without
//! master-worker).
//!
//! Messages on stderr in HAProxy's shape: `[WARNING]  (PID) : ...`, `[ALERT]    (PID) :
//! ...`. What the engine cannot run yet is refused before anything starts, with the
//! `file:line`, and exit status [`crate::EXIT_ENGINE_NOT_BUILT`].

use std::io::Write;
use std::sync::Arc;

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

/// Runs `config` until a stop signal; returns the exit status.
pub fn run(config: HaproxyConfig, program: &str, err: &mut dyn Write) -> i32 {
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
    let engine = match runtime.block_on(async { Engine::build(&config, clock) }) {
        Ok(e) => e,
        Err(e) => {
            alert(err, pid, &format!("Starting proxies: {e}"));
            return 1;
        }
    };
    for warning in engine.warnings() {
        let _ = writeln!(err, "[WARNING]  ({pid}) : config : {warning}");
    }
    if let Err(message) = drop_privileges(&config.global, program) {
        alert(err, pid, &message);
        return 1;
    }
    let events: Arc<dyn EngineEvents> = Arc::new(Stderr { pid });
    runtime.block_on(async move {
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
        engine.run(events, stop).await;
    });
    runtime.shutdown_background();
    0
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
