//! The ha-compat binary's command handling, as a library so tests can call it.
//!
//! - [`cli`]: `ha-compat check|keywords|...` (clap).
//! - [`keepalived_cli`]: the drop-in `keepalived` command line (getopt-style flags as
//!   keepalived 2.2.7 takes them, parsed into `KeepalivedOptions`): `-t`, `-f`, `-d`,
//!   `-i`, `-v`, `-n`, `-p`, `-r`, `-l`, `-D`, `-S`…; pid files and daemon mode.
//! - [`haproxy_cli`]: the drop-in `haproxy` command line (every HAProxy 2.6 flag parsed
//!   into `HaproxyFlags`: `-c`, `-f`, `-cc`, `-vv`, `-D`, `-p`, `-sf`/`-st`, `-N`…).
//! - [`daemon`]: daemon mode without fork(): the binary started again, detached, with
//!   the parent waiting until it is ready.
//! - [`pidfile`]: pid files as the originals write them.
//! - [`sd_notify`]: systemd's readiness datagrams (`READY=1`, `RELOADING=1`, `STOPPING=1`)
//!   for `keepalived --dont-fork` and the supervisor.
//! - [`master_worker`]: `haproxy -W`/`-Ws`: a master that starts a worker, forwards
//!   signals, reloads on SIGUSR2 (new worker, old ones told `-sf`).
//! - [`master_cli`]: the master CLI (`-S`): `show proc`, `reload`, `@N` prefixes
//!   relayed to the workers' runtime API.
//! - [`demo`]: `ha-compat demo`, seed 001 run in a throwaway network-namespace lab with a
//!   failover shown (its own lab, webs and client; root only).
//! - [`check`]: loading and reporting a configuration, shared by both.
//! - [`capabilities`]: what the VRRP engine keeps of root's capabilities.
//! - [`vrrp_run`]: the VRRP engine in the foreground (signals, start and stop lines).
//! - [`proxy_run`]: the proxy engine in the foreground (`haproxy -db -f FILE`): refusals,
//!   privileges dropped after binding, signals, server state lines on stderr.
//! - [`status`]: `ha-compat status`: the VRRP instances (the VRRP child's `vrrp.sock`)
//!   and the backends' servers (HAProxy's `show stat` CSV) in one table or JSON.
//! - [`supervisor`]: `ha-compat -f keepalived.conf -f haproxy.cfg`: the two engines as
//!   child processes named `keepalived` and `haproxy`, restarted when they die, the VRRP
//!   child's addresses removed when it is gone.
//!
//! The name the binary is invoked under picks the personality: `keepalived` (a symlink
//! installed by packaging) behaves like keepalived; anything else is `ha-compat`.

pub mod capabilities;
pub mod check;
pub mod cli;
pub mod daemon;
pub mod demo;
pub mod haproxy_cli;
pub mod keepalived_cli;
pub mod master_cli;
pub mod master_worker;
pub mod pidfile;
pub mod proxy_run;
pub mod sd_notify;
pub mod status;
pub mod supervisor;
pub mod vrrp_run;

use std::ffi::OsString;

/// Exit status when asked to *run* what this version cannot run yet (a haproxy.cfg with
/// HTTP proxies or routing rules). 69 is sysexits' `EX_UNAVAILABLE`; neither keepalived (0..6) nor
/// HAProxy (0..2) uses it, so the compat labs can tell "not implemented" from a failure and
/// never count such a run as passed.
pub const EXIT_ENGINE_NOT_BUILT: i32 = 69;
use std::io::Write;
use std::path::Path;

/// Runs the program with these arguments (the first is the invoked name); returns the
/// exit status.
pub fn run(args: Vec<OsString>, out: &mut dyn Write, err: &mut dyn Write) -> i32 {
    let invoked = args
        .first()
        .and_then(|a| Path::new(a).file_name())
        .and_then(|n| n.to_str())
        .unwrap_or("ha-compat")
        .to_owned();
    if matches!(invoked.as_str(), "keepalived" | "haproxy") {
        daemon::child_setup(&invoked);
    }
    if invoked == "haproxy" {
        master_worker::worker_setup();
    }
    if matches!(invoked.as_str(), "keepalived" | "haproxy")
        && !supervisor::runtime::child_setup(&invoked)
    {
        // Started by a supervisor that is already gone: nobody would stop this child.
        return 1;
    }
    match invoked.as_str() {
        "keepalived" => keepalived_cli::run(&args[1..], out, err),
        "haproxy" => haproxy_cli::run(&args[1..], out, err),
        _ => cli::run(args, out, err),
    }
}
