//! The supervisor's runtime: spawns the children, reaps them, turns signals into
//! [`Event`]s and carries out the core's [`Action`]s.
//!
//! A child is this same binary started again through `/proc/self/exe` (the file that is
//! running, even if a package upgrade replaced it meanwhile) with argv[0] `keepalived` or
//! `haproxy`, so its `/proc/PID/cmdline` is the daemon's. Exec'ing `/proc/self/exe`
//! names the process `exe` (the kernel takes `comm` from the exec'd path's last
//! component), so the child renames itself at start with `prctl(PR_SET_NAME)` (see
//! [`child_setup`]) and asks for SIGTERM when the parent dies (`PR_SET_PDEATHSIG`).

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use keepalived_conf::model::KeepalivedConfig;
use nix::sys::signal::Signal;
use nix::sys::wait::{WaitPidFlag, WaitStatus};
use nix::unistd::Pid;
use vrrp_engine::log::Logger;
use vrrp_engine::plan::PlanOptions;
use vrrp_engine::platform::{AddressSpec, Platform};
use vrrp_engine::track::TrackerTable;

use super::core::{Action, Backoff, ChildKind, Event, ExitKind, Notice, Sig, Supervisor};
use crate::check;
use crate::sd_notify::Notifier;

/// The environment variable a supervised child finds its parent's pid in (removed at
/// once, so the child's own scripts never see it).
pub const PARENT_PID_ENV: &str = "HA_COMPAT_SUPERVISOR_PID";

/// What to run.
#[derive(Debug, Clone, Default)]
pub struct SupervisorRun {
    /// The keepalived.conf: a `keepalived` child.
    pub keepalived: Option<PathBuf>,
    /// The haproxy.cfg files: a `haproxy` child if any.
    pub haproxy: Vec<PathBuf>,
    /// `--status-dir`: given to the children as `$HA_COMPAT_STATUS_DIR` (where the VRRP
    /// child serves `vrrp.sock`).
    pub status_dir: Option<PathBuf>,
}

impl SupervisorRun {
    fn kinds(&self) -> Vec<ChildKind> {
        let mut kinds = Vec::new();
        if self.keepalived.is_some() {
            kinds.push(ChildKind::Vrrp);
        }
        if !self.haproxy.is_empty() {
            kinds.push(ChildKind::Proxy);
        }
        kinds
    }

    /// The child's arguments after argv[0].
    fn args(&self, kind: ChildKind) -> Vec<OsString> {
        let mut args: Vec<OsString> = Vec::new();
        match kind {
            ChildKind::Vrrp => {
                // keepalived in the foreground, logging to the console (the parent's
                // stderr, so the journal) and syslog, with the detailed lines.
                args.extend(["-n", "-l", "-D"].map(OsString::from));
                if let Some(f) = &self.keepalived {
                    args.push("-f".into());
                    args.push(f.into());
                }
            }
            ChildKind::Proxy => {
                // HAProxy's master-worker mode (reloaded with SIGUSR2), in the foreground.
                args.extend(["-W", "-db"].map(OsString::from));
                for f in &self.haproxy {
                    args.push("-f".into());
                    args.push(f.into());
                }
            }
        }
        args
    }
}

/// Done first thing in a child the supervisor started (`PARENT_PID_ENV` set): takes the
/// daemon's process name, dies with the parent, forgets the variable. Returns false when
/// the parent is already gone (the child must exit).
pub fn child_setup(name: &str) -> bool {
    let Some(parent) = std::env::var_os(PARENT_PID_ENV) else {
        return true;
    };
    // Single-threaded here (first thing in main), so changing the environment is sound.
    std::env::remove_var(PARENT_PID_ENV);
    if let Ok(cname) = std::ffi::CString::new(name) {
        let _ = nix::sys::prctl::set_name(&cname);
    }
    // SIGTERM, not SIGKILL: keepalived then stops cleanly (priority 0, VIPs removed).
    let _ = nix::sys::prctl::set_pdeathsig(Signal::SIGTERM);
    // The parent may have died between fork and the prctl: then the signal never comes.
    let expected = parent.to_str().and_then(|p| p.parse::<i32>().ok());
    expected == Some(nix::unistd::getppid().as_raw())
}

enum Msg {
    Signal(i32),
}

/// Runs the children until SIGTERM/SIGINT; returns the exit status. Called while the
/// process is single-threaded (it takes `$NOTIFY_SOCKET` out of the environment, so the
/// children do not inherit it: systemd hears from the main process only).
pub fn run(options: &SupervisorRun) -> i32 {
    let systemd = Notifier::take_from_env(|| true);
    let logger = Logger::new(true, false, vrrp_engine::log::FACILITY_DAEMON, "ha-compat");
    let log = |line: &str| logger.info(&format!("ha-compat: {line}"));
    let mut keepalived = options
        .keepalived
        .as_ref()
        .and_then(|f| read_keepalived(f, &log));

    let (tx, rx) = mpsc::channel::<Msg>();
    if let Err(e) = forward_signals(tx) {
        log(&format!("cannot handle signals: {e}"));
        return 1;
    }
    let mut sup = Supervisor::new(&options.kinds(), Backoff::default());
    let mut pids: BTreeMap<u32, ChildKind> = BTreeMap::new();
    let mut queue: Vec<Action> = sup.start();
    loop {
        // Carry out every action; spawns feed events back at once.
        while !queue.is_empty() {
            let now = Instant::now();
            let mut next = Vec::new();
            for action in queue.drain(..) {
                match action {
                    Action::Spawn(kind) => {
                        let event = match spawn(options, kind) {
                            Ok(pid) => {
                                pids.insert(pid, kind);
                                Event::Started { kind, pid }
                            }
                            Err(e) => Event::SpawnFailed {
                                kind,
                                error: e.to_string(),
                            },
                        };
                        next.extend(sup.handle(event, now));
                    }
                    Action::Kill { pid, sig } => {
                        if let Err(e) = send(pid, sig) {
                            log(&format!("cannot send {} to pid {pid}: {e}", sig.name()));
                        }
                    }
                    Action::RemoveVips => {
                        if let Some(config) = &keepalived {
                            release(config, &log);
                        }
                    }
                    Action::Log(line) => log(&line),
                    Action::Exit(code) => return code,
                    Action::Notify(Notice::Ready) => systemd.ready(),
                    Action::Notify(Notice::Stopping) => systemd.notify("STOPPING=1"),
                }
            }
            queue = next;
        }
        let now = Instant::now();
        let wait = sup
            .next_deadline()
            .map_or(Duration::from_secs(1), |d| d.saturating_duration_since(now))
            .min(Duration::from_secs(1));
        match rx.recv_timeout(wait) {
            Ok(Msg::Signal(s)) => {
                let sig = match s {
                    signal_hook::consts::SIGTERM => Some(Sig::Term),
                    signal_hook::consts::SIGINT => Some(Sig::Int),
                    signal_hook::consts::SIGHUP => Some(Sig::Hup),
                    signal_hook::consts::SIGUSR1 => Some(Sig::Usr1),
                    signal_hook::consts::SIGUSR2 => Some(Sig::Usr2),
                    s if s == Sig::Json.number() => Some(Sig::Json),
                    _ => None, // SIGCHLD: reaped below.
                };
                if let Some(sig) = sig {
                    if sig == Sig::Hup {
                        // The child re-reads its file; so does the parent, for the VIPs
                        // it removes if that child dies.
                        if let Some(f) = &options.keepalived {
                            keepalived = read_keepalived(f, &log);
                        }
                    }
                    queue.extend(sup.handle(Event::Signal(sig), Instant::now()));
                }
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => return 1,
        }
        // Reap whatever ended (SIGCHLD coalesces: always loop until nothing is left).
        while let Ok(status) = nix::sys::wait::waitpid(None, Some(WaitPidFlag::WNOHANG)) {
            let (pid, how) = match status {
                WaitStatus::Exited(pid, code) => (pid, ExitKind::Code(code)),
                WaitStatus::Signaled(pid, sig, _) => (pid, ExitKind::Signal(sig as i32)),
                WaitStatus::StillAlive => break,
                _ => continue,
            };
            let pid = pid.as_raw().unsigned_abs();
            pids.remove(&pid);
            queue.extend(sup.handle(Event::Exited { pid, how }, Instant::now()));
        }
        queue.extend(sup.handle(Event::Tick, Instant::now()));
    }
}

fn spawn(options: &SupervisorRun, kind: ChildKind) -> std::io::Result<u32> {
    let mut command = Command::new("/proc/self/exe");
    command
        .arg0(kind.process_name())
        .args(options.args(kind))
        .env(PARENT_PID_ENV, std::process::id().to_string())
        .stdin(Stdio::null());
    if let Some(dir) = &options.status_dir {
        command.env(vrrp_engine::status::STATUS_DIR_ENV, dir);
    }
    let child = command.spawn()?;
    // Reaped with waitpid(-1) in the loop; dropping `Child` neither waits nor kills.
    Ok(child.id())
}

fn pid_of(pid: u32) -> Pid {
    // Pids come from the kernel (fork) and fit in pid_t.
    Pid::from_raw(i32::try_from(pid).unwrap_or(i32::MAX))
}

/// Sends `sig` to `pid`.
fn send(pid: u32, sig: Sig) -> std::io::Result<()> {
    let named = match sig {
        Sig::Term => Signal::SIGTERM,
        Sig::Int => Signal::SIGINT,
        Sig::Hup => Signal::SIGHUP,
        Sig::Kill => Signal::SIGKILL,
        Sig::Usr1 => Signal::SIGUSR1,
        Sig::Usr2 => Signal::SIGUSR2,
        Sig::Json => {
            // nix's `Signal` has no real-time signals and libc's kill() is unsafe: the
            // shell's `kill` sends it (a dump request now and then, not a hot path).
            let status = Command::new("/bin/sh")
                .args(["-c", "kill -s \"$1\" \"$2\"", "sh"])
                .arg(sig.number().to_string())
                .arg(pid.to_string())
                .stdin(Stdio::null())
                .status()?;
            return if status.success() {
                Ok(())
            } else {
                Err(std::io::Error::other(format!("kill {status}")))
            };
        }
    };
    nix::sys::signal::kill(pid_of(pid), named).map_err(std::io::Error::from)
}

/// keepalived.conf as the VRRP child runs it; `None` (and logged) if the file cannot be
/// read now (the child will say why).
fn read_keepalived(file: &std::path::Path, log: &dyn Fn(&str)) -> Option<KeepalivedConfig> {
    match check::load_keepalived(file, None, false) {
        Ok(parsed) => Some(parsed.config),
        Err(e) => {
            log(&format!(
                "cannot read {} for its virtual addresses: {e:#}",
                file.display()
            ));
            None
        }
    }
}

/// Every `virtual_ipaddress` and `virtual_ipaddress_excluded` of every instance, as the
/// VRRP engine adds them.
fn vips_of(config: &KeepalivedConfig) -> Vec<AddressSpec> {
    config
        .instances
        .iter()
        .flat_map(|i| {
            i.virtual_ipaddresses
                .iter()
                .chain(&i.virtual_ipaddresses_excluded)
                .map(|v| vrrp_engine::plan::address_spec(v, &i.interface))
        })
        .collect()
}

/// What keepalived's clean stop does, for a VRRP child that could not (SIGKILL, crash):
/// a priority-0 advert for each instance whose addresses are still on their interface
/// (keepalived adds them only as master, and its own stop removes them), so the peers
/// take over after their skew time instead of the master-down interval; then the
/// addresses removed. Through vrrp-engine's netlink platform and its own packet code.
fn release(config: &KeepalivedConfig, log: &dyn Fn(&str)) {
    let vips = vips_of(config);
    if vips.is_empty() {
        return;
    }
    let mut platform = match vrrp_engine::linux::LinuxPlatform::new() {
        Ok(p) => p,
        Err(e) => {
            log(&format!(
                "cannot remove keepalived's virtual addresses: {e}"
            ));
            return;
        }
    };
    send_priority_zero(config, &mut platform, log);
    remove_vips(&vips, &mut platform, log);
}

/// The priority-0 adverts of [`release`].
fn send_priority_zero(
    config: &KeepalivedConfig,
    platform: &mut vrrp_engine::linux::LinuxPlatform,
    log: &dyn Fn(&str),
) {
    let table = TrackerTable::from_config(config);
    let mut interfaces = BTreeMap::new();
    for i in &config.instances {
        if let Ok(info) = platform.interface(&i.interface) {
            interfaces.insert(i.interface.clone(), info);
        }
    }
    let node = match vrrp_engine::plan::plan(config, &table, &interfaces, PlanOptions::default()) {
        Ok(n) => n,
        Err(e) => {
            log(&format!(
                "keepalived is gone: no priority 0 advert sent ({e})"
            ));
            return;
        }
    };
    for instance in &node.instances {
        let name = &instance.params.name;
        let was_master = instance
            .addresses
            .iter()
            .any(|a| matches!(platform.has_address(&a.interface, a.addr), Ok(true)));
        if !was_master {
            continue;
        }
        let packets = match vrrp_engine::runtime::release_packets(instance) {
            Ok(Some(p)) => p,
            Ok(None) => {
                log(&format!(
                    "keepalived is gone: ({name}) no priority 0 advert (auth_type AH: its sequence number died with it)"
                ));
                continue;
            }
            Err(e) => {
                log(&format!(
                    "keepalived is gone: ({name}) cannot build the priority 0 advert: {e}"
                ));
                continue;
            }
        };
        // The channel's receiver is not wanted: its packets go nowhere.
        let (inbound, _) = mpsc::channel();
        let channel = match platform.open_channel(&instance.channel, inbound) {
            Ok(c) => c,
            Err(e) => {
                log(&format!(
                    "keepalived is gone: ({name}) cannot send the priority 0 advert: {e}"
                ));
                continue;
            }
        };
        for (dst, packet) in packets {
            match platform.send(channel, dst, &packet) {
                Ok(()) => log(&format!(
                    "keepalived is gone: ({name}) sent 0 priority to {dst}"
                )),
                Err(e) => log(&format!(
                    "keepalived is gone: ({name}) cannot send the priority 0 advert to {dst}: {e}"
                )),
            }
        }
        platform.close_channel(channel);
    }
}

/// Removes the addresses still present.
fn remove_vips(
    vips: &[AddressSpec],
    platform: &mut vrrp_engine::linux::LinuxPlatform,
    log: &dyn Fn(&str),
) {
    let mut removed = 0;
    for a in vips {
        // Unknown (an error): removing anyway is the safe side, but says nothing.
        let present = platform.has_address(&a.interface, a.addr);
        if matches!(present, Ok(false)) {
            continue;
        }
        match platform.remove_address(a) {
            Ok(()) if present.is_err() => {}
            Ok(()) => {
                removed += 1;
                log(&format!(
                    "keepalived is gone: removed {}/{} from {}",
                    a.addr, a.prefix_len, a.interface
                ));
            }
            Err(e) => log(&format!(
                "keepalived is gone: cannot remove {}/{} from {}: {e}",
                a.addr, a.prefix_len, a.interface
            )),
        }
    }
    if removed == 0 {
        log("keepalived is gone: none of its virtual addresses was left on an interface");
    }
}

/// SIGTERM, SIGINT, SIGHUP, keepalived's dump signals (SIGUSR1, SIGUSR2, SIGRTMIN+2)
/// and SIGCHLD as messages to the loop.
fn forward_signals(tx: mpsc::Sender<Msg>) -> std::io::Result<()> {
    use signal_hook::consts::{SIGCHLD, SIGHUP, SIGINT, SIGTERM, SIGUSR1, SIGUSR2};
    let mut signals = signal_hook::iterator::Signals::new([
        SIGTERM,
        SIGINT,
        SIGHUP,
        SIGUSR1,
        SIGUSR2,
        Sig::Json.number(),
        SIGCHLD,
    ])?;
    std::thread::Builder::new()
        .name("signals".into())
        .spawn(move || {
            for s in signals.forever() {
                if tx.send(Msg::Signal(s)).is_err() {
                    return;
                }
            }
        })?;
    Ok(())
}
