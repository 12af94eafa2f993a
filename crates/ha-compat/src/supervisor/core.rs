//! The supervisor's decisions, sans IO: `(state, event, now) -> actions`, time injected.
//!
//! One slot per child (`keepalived`, `haproxy`). A child that exits is started again after
//! a backoff: [`Backoff::FIRST`] after a crash, doubling on each crash that follows a short
//! run, up to [`Backoff::CAP`]; a child that ran [`Backoff::STABLE`] or longer before it
//! exited starts again after [`Backoff::FIRST`] (the doubling starts over). This is
//! systemd's `Restart=always` with `RestartSec=100ms`, without its start limit: a load
//! balancer node should keep trying, and the log says every attempt.
//!
//! Stopping (SIGTERM, SIGINT): the signal goes to every running child, pending restarts
//! are cancelled, and a child still running [`STOP_GRACE`] later gets SIGKILL. When the
//! VRRP child is gone (by any exit, during a stop or not), a priority-0 advert goes out
//! for each instance it was master for and its virtual addresses are removed before
//! anything else happens ([`Action::RemoveVips`]): a `keepalived` killed with SIGKILL
//! can do neither itself.

use std::fmt;
use std::time::{Duration, Instant};

/// Which engine a child runs; also its process name and argv[0].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ChildKind {
    /// The VRRP engine, as `keepalived -n -l -D -f FILE`.
    Vrrp,
    /// The proxy engine, as `haproxy -W -db -f FILE...`: HAProxy's master-worker mode in
    /// the foreground, so that SIGUSR2 reloads it (see [`crate::master_worker`]).
    Proxy,
}

impl ChildKind {
    /// The process name (`comm`) and argv[0] the child runs under: what `pidof`,
    /// `killall` and `pgrep -x` in track scripts look for.
    pub fn process_name(self) -> &'static str {
        match self {
            ChildKind::Vrrp => "keepalived",
            ChildKind::Proxy => "haproxy",
        }
    }
}

impl fmt::Display for ChildKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.process_name())
    }
}

/// The signals the supervisor sends or forwards.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sig {
    Term,
    Int,
    Hup,
    Kill,
    /// keepalived: write `/tmp/keepalived.data`.
    Usr1,
    /// keepalived: write `/tmp/keepalived.stats`; HAProxy's master: reload.
    Usr2,
    /// keepalived's `SIGJSON` (SIGRTMIN+2): write `/tmp/keepalived.json`.
    Json,
}

impl Sig {
    /// The Linux signal number (`Json`'s is glibc's SIGRTMIN+2, as `kill -s RTMIN+2`
    /// sends it and keepalived listens for it).
    pub fn number(self) -> i32 {
        match self {
            Sig::Hup => 1,
            Sig::Int => 2,
            Sig::Kill => 9,
            Sig::Usr1 => 10,
            Sig::Usr2 => 12,
            Sig::Term => 15,
            Sig::Json => crate::vrrp_run::sigjson(),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Sig::Term => "SIGTERM",
            Sig::Int => "SIGINT",
            Sig::Hup => "SIGHUP",
            Sig::Kill => "SIGKILL",
            Sig::Usr1 => "SIGUSR1",
            Sig::Usr2 => "SIGUSR2",
            Sig::Json => "SIGRTMIN+2",
        }
    }
}

/// How a child ended, as `waitpid` tells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitKind {
    /// `exit(code)`.
    Code(i32),
    /// Killed by this signal number (its name is in `signal_name`).
    Signal(i32),
}

impl fmt::Display for ExitKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ExitKind::Code(c) => write!(f, "exited with status {c}"),
            ExitKind::Signal(s) => match signal_name(*s) {
                Some(name) => write!(f, "killed by signal {s} ({name})"),
                None => write!(f, "killed by signal {s}"),
            },
        }
    }
}

fn signal_name(number: i32) -> Option<&'static str> {
    Some(match number {
        1 => "SIGHUP",
        2 => "SIGINT",
        3 => "SIGQUIT",
        4 => "SIGILL",
        6 => "SIGABRT",
        7 => "SIGBUS",
        8 => "SIGFPE",
        9 => "SIGKILL",
        11 => "SIGSEGV",
        13 => "SIGPIPE",
        14 => "SIGALRM",
        15 => "SIGTERM",
        _ => return None,
    })
}

/// What the runtime tells the supervisor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// The child of this kind was started with this pid.
    Started { kind: ChildKind, pid: u32 },
    /// Starting it failed (fork/exec error).
    SpawnFailed { kind: ChildKind, error: String },
    /// A process the supervisor waited for ended (pids it does not know are ignored).
    Exited { pid: u32, how: ExitKind },
    /// A signal arrived for the supervisor itself (SIGTERM, SIGINT, SIGHUP, SIGUSR1,
    /// SIGUSR2, SIGRTMIN+2).
    Signal(Sig),
    /// Time passed; deadlines due now are acted on.
    Tick,
}

/// What the supervisor asks the runtime to do, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Start the child (report [`Event::Started`] or [`Event::SpawnFailed`]).
    Spawn(ChildKind),
    /// Send a signal to a child.
    Kill { pid: u32, sig: Sig },
    /// Do what the VRRP child's clean stop would have: a priority-0 advert for each
    /// instance whose addresses are still on their interface (it was master), then
    /// remove those virtual addresses.
    RemoveVips,
    /// Write a log line.
    Log(String),
    /// Every child is gone after a stop: exit with this status.
    Exit(i32),
    /// Tell systemd (`$NOTIFY_SOCKET`), if it listens.
    Notify(Notice),
}

/// What the supervisor tells systemd.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Notice {
    /// `READY=1`: every child has started, once.
    Ready,
    /// `STOPPING=1`: a stop began.
    Stopping,
}

/// The restart backoff (see the module's documentation).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    pub first: Duration,
    pub cap: Duration,
    pub stable: Duration,
}

impl Backoff {
    pub const FIRST: Duration = Duration::from_millis(100);
    pub const CAP: Duration = Duration::from_secs(10);
    pub const STABLE: Duration = Duration::from_secs(10);
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff {
            first: Backoff::FIRST,
            cap: Backoff::CAP,
            stable: Backoff::STABLE,
        }
    }
}

/// How long children get to stop on SIGTERM/SIGINT before SIGKILL. keepalived's own clean
/// stop (priority 0 adverts, addresses removed) takes milliseconds; haproxy's `-db` stop
/// is immediate.
pub const STOP_GRACE: Duration = Duration::from_secs(5);

/// Exit status of a child that refuses its configuration because this version cannot run
/// it ([`crate::EXIT_ENGINE_NOT_BUILT`]): starting it again cannot help, so it is not.
const REFUSED: i32 = crate::EXIT_ENGINE_NOT_BUILT;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Slot {
    /// Asked the runtime to spawn it; waiting for `Started`.
    Spawning,
    Running {
        pid: u32,
        since: Instant,
    },
    /// Exited; starts again at `at`.
    Waiting {
        at: Instant,
    },
    /// Not running and not to be started again.
    Done,
}

#[derive(Debug, Clone)]
struct Child {
    kind: ChildKind,
    slot: Slot,
    /// The delay before the next restart after a short run.
    next_delay: Duration,
}

/// The supervisor's state.
#[derive(Debug, Clone)]
pub struct Supervisor {
    children: Vec<Child>,
    backoff: Backoff,
    /// Set once SIGTERM/SIGINT arrived: the moment SIGKILL goes to what still runs.
    stop_deadline: Option<Instant>,
    /// SIGKILL already sent on the deadline.
    escalated: bool,
    /// The signal that started the stop (a child killed by it stopped as asked: HAProxy
    /// 2.6 in `-db` mode keeps SIGTERM's default action).
    stop_signal: Option<Sig>,
    /// Exit status when everything is gone.
    exit_status: i32,
    /// [`Notice::Ready`] sent.
    ready: bool,
}

impl Supervisor {
    /// A supervisor for these children (each kind at most once).
    pub fn new(kinds: &[ChildKind], backoff: Backoff) -> Supervisor {
        let mut children: Vec<Child> = Vec::new();
        for &kind in kinds {
            if children.iter().all(|c| c.kind != kind) {
                children.push(Child {
                    kind,
                    slot: Slot::Done,
                    next_delay: backoff.first,
                });
            }
        }
        Supervisor {
            children,
            backoff,
            stop_deadline: None,
            escalated: false,
            stop_signal: None,
            exit_status: 0,
            ready: false,
        }
    }

    /// Starts every child.
    pub fn start(&mut self) -> Vec<Action> {
        let mut out = Vec::new();
        for c in &mut self.children {
            c.slot = Slot::Spawning;
            out.push(Action::Spawn(c.kind));
        }
        out
    }

    /// The pid of the running child of this kind.
    pub fn pid(&self, kind: ChildKind) -> Option<u32> {
        self.children.iter().find(|c| c.kind == kind).and_then(|c| {
            if let Slot::Running { pid, .. } = c.slot {
                Some(pid)
            } else {
                None
            }
        })
    }

    /// When [`Event::Tick`] is next needed (a restart or the stop's SIGKILL).
    pub fn next_deadline(&self) -> Option<Instant> {
        let restarts = self.children.iter().filter_map(|c| match c.slot {
            Slot::Waiting { at } => Some(at),
            _ => None,
        });
        let kill = self.stop_deadline.filter(|_| !self.escalated);
        restarts.chain(kill).min()
    }

    pub fn handle(&mut self, event: Event, now: Instant) -> Vec<Action> {
        let mut out = Vec::new();
        match event {
            Event::Started { kind, pid } => {
                if let Some(c) = self.child_mut(kind) {
                    c.slot = Slot::Running { pid, since: now };
                    out.push(Action::Log(format!("started {kind} (pid {pid})")));
                }
                // A stop that came while it was being spawned reaches it too.
                if self.stop_deadline.is_some() {
                    out.push(Action::Kill {
                        pid,
                        sig: Sig::Term,
                    });
                }
            }
            Event::SpawnFailed { kind, error } => {
                let stopping = self.stop_deadline.is_some();
                let backoff = self.backoff;
                if let Some(c) = self.child_mut(kind) {
                    if stopping {
                        c.slot = Slot::Done;
                    } else {
                        let delay = c.next_delay;
                        c.next_delay = (delay * 2).min(backoff.cap);
                        c.slot = Slot::Waiting { at: now + delay };
                        out.push(Action::Log(format!(
                            "cannot start {kind}: {error}; next attempt in {}",
                            show(delay)
                        )));
                    }
                }
            }
            Event::Exited { pid, how } => self.exited(pid, how, now, &mut out),
            Event::Signal(Sig::Hup) => {
                // Reload both: keepalived reloads on SIGHUP; HAProxy's master on SIGUSR2
                // (a new worker with the file read again; if it fails, the old one serves
                // on). SIGHUP would do the same to HAProxy 2.6's master (a worker would
                // only dump server states); SIGUSR2 is its documented reload.
                let reloads: Vec<(ChildKind, u32, Sig)> = self
                    .running()
                    .map(|(kind, pid)| (kind, pid, reload_signal(kind)))
                    .collect();
                let line = if reloads.is_empty() {
                    "SIGHUP: no running child to reload".to_owned()
                } else {
                    let each: Vec<String> = reloads
                        .iter()
                        .map(|(k, p, s)| format!("{k} (pid {p}) with {}", s.name()))
                        .collect();
                    format!("SIGHUP: reloading {}", each.join(", "))
                };
                out.push(Action::Log(line));
                for (_, pid, sig) in reloads {
                    out.push(Action::Kill { pid, sig });
                }
            }
            Event::Signal(sig @ (Sig::Usr1 | Sig::Usr2 | Sig::Json)) => {
                // keepalived's dumps (data, stats, JSON), asked of the supervisor as of
                // keepalived's parent process, which forwards them to its VRRP child.
                let vrrp: Vec<(ChildKind, u32)> = self
                    .running()
                    .filter(|(k, _)| *k == ChildKind::Vrrp)
                    .collect();
                out.push(Action::Log(format!(
                    "{}: forwarded to {}",
                    sig.name(),
                    list(&vrrp)
                )));
                for (_, pid) in vrrp {
                    out.push(Action::Kill { pid, sig });
                }
            }
            Event::Signal(sig) => {
                if self.stop_deadline.is_none() {
                    self.stop_deadline = Some(now + STOP_GRACE);
                    self.stop_signal = Some(sig);
                    out.push(Action::Notify(Notice::Stopping));
                    let running: Vec<(ChildKind, u32)> = self.running().collect();
                    out.push(Action::Log(format!(
                        "{}: stopping {}",
                        sig.name(),
                        list(&running)
                    )));
                    for c in &mut self.children {
                        if matches!(c.slot, Slot::Waiting { .. }) {
                            c.slot = Slot::Done;
                        }
                    }
                    for (_, pid) in running {
                        // SIGINT and SIGTERM stop both engines the same way; the child
                        // gets the signal its parent got.
                        out.push(Action::Kill { pid, sig });
                    }
                }
            }
            Event::Tick => {}
        }
        self.due(now, &mut out);
        // READY=1 once, when every child that is to run has started (exec'd: whether
        // haproxy then listens or keepalived becomes master is theirs to say).
        if !self.ready
            && self.stop_deadline.is_none()
            && self
                .children
                .iter()
                .all(|c| matches!(c.slot, Slot::Running { .. } | Slot::Done))
            && self.running().next().is_some()
        {
            self.ready = true;
            out.push(Action::Notify(Notice::Ready));
        }
        out
    }

    fn exited(&mut self, pid: u32, how: ExitKind, now: Instant, out: &mut Vec<Action>) {
        let stopping = self.stop_deadline.is_some();
        let backoff = self.backoff;
        let Some(c) = self
            .children
            .iter_mut()
            .find(|c| matches!(c.slot, Slot::Running { pid: p, .. } if p == pid))
        else {
            return;
        };
        let Slot::Running { since, .. } = c.slot else {
            return;
        };
        let kind = c.kind;
        let ran = now.saturating_duration_since(since);
        let ended = format!("{kind} (pid {pid}) {how} after {}", show(ran));
        if stopping {
            c.slot = Slot::Done;
            out.push(Action::Log(ended));
            // Stopped as asked: exit 0, the stop signal, or the SIGKILL after the grace.
            let asked = self.stop_signal.map(Sig::number);
            let clean = match how {
                ExitKind::Code(code) => code == 0,
                ExitKind::Signal(s) => Some(s) == asked || (self.escalated && s == 9),
            };
            if !clean {
                self.exit_status = 1;
            }
        } else if how == ExitKind::Code(REFUSED) {
            c.slot = Slot::Done;
            out.push(Action::Log(format!(
                "{ended}: it cannot run this configuration; not restarted"
            )));
        } else {
            if ran >= backoff.stable {
                c.next_delay = backoff.first;
            }
            let delay = c.next_delay;
            c.next_delay = (delay * 2).min(backoff.cap);
            c.slot = Slot::Waiting { at: now + delay };
            out.push(Action::Log(format!(
                "{ended}; restarting in {}",
                show(delay)
            )));
        }
        if kind == ChildKind::Vrrp {
            // Before the restart, so a new keepalived starts from a clean interface as
            // after a reboot (it adds them again as master).
            out.push(Action::RemoveVips);
        }
        if stopping && self.children.iter().all(|c| c.slot == Slot::Done) {
            out.push(Action::Log("stopped".to_owned()));
            out.push(Action::Exit(self.exit_status));
        } else if !stopping && self.children.iter().all(|c| c.slot == Slot::Done) {
            // Nothing left to supervise (every child refused its configuration).
            out.push(Action::Log("no child left to run; exiting".to_owned()));
            out.push(Action::Exit(REFUSED));
        }
    }

    /// Restarts and the stop's SIGKILL that are due at `now`.
    fn due(&mut self, now: Instant, out: &mut Vec<Action>) {
        for c in &mut self.children {
            if let Slot::Waiting { at } = c.slot {
                if at <= now {
                    c.slot = Slot::Spawning;
                    out.push(Action::Log(format!("restarting {}", c.kind)));
                    out.push(Action::Spawn(c.kind));
                }
            }
        }
        if let Some(deadline) = self.stop_deadline {
            if !self.escalated && deadline <= now {
                self.escalated = true;
                let running: Vec<(ChildKind, u32)> = self.running().collect();
                if !running.is_empty() {
                    out.push(Action::Log(format!(
                        "still running {} s after the stop: SIGKILL to {}",
                        STOP_GRACE.as_secs(),
                        list(&running)
                    )));
                }
                for (_, pid) in running {
                    out.push(Action::Kill {
                        pid,
                        sig: Sig::Kill,
                    });
                }
            }
        }
    }

    fn running(&self) -> impl Iterator<Item = (ChildKind, u32)> + '_ {
        self.children.iter().filter_map(|c| match c.slot {
            Slot::Running { pid, .. } => Some((c.kind, pid)),
            _ => None,
        })
    }

    fn child_mut(&mut self, kind: ChildKind) -> Option<&mut Child> {
        self.children.iter_mut().find(|c| c.kind == kind)
    }
}

/// The signal that makes a child read its configuration again.
fn reload_signal(kind: ChildKind) -> Sig {
    match kind {
        ChildKind::Vrrp => Sig::Hup,
        ChildKind::Proxy => Sig::Usr2,
    }
}

fn list(children: &[(ChildKind, u32)]) -> String {
    if children.is_empty() {
        return "no running child".to_owned();
    }
    children
        .iter()
        .map(|(k, p)| format!("{k} (pid {p})"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// `100 ms`, `1.5 s`, `12 s`.
fn show(d: Duration) -> String {
    let ms = d.as_millis();
    if ms < 1000 {
        format!("{ms} ms")
    } else if d.subsec_millis() == 0 || ms >= 10_000 {
        format!("{} s", d.as_secs())
    } else {
        format!("{}.{} s", d.as_secs(), d.subsec_millis() / 100)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    fn both() -> (Supervisor, Instant) {
        let mut s = Supervisor::new(&[ChildKind::Vrrp, ChildKind::Proxy], Backoff::default());
        let t0 = Instant::now();
        assert_eq!(
            s.start(),
            vec![
                Action::Spawn(ChildKind::Vrrp),
                Action::Spawn(ChildKind::Proxy)
            ]
        );
        s.handle(
            Event::Started {
                kind: ChildKind::Vrrp,
                pid: 10,
            },
            t0,
        );
        s.handle(
            Event::Started {
                kind: ChildKind::Proxy,
                pid: 20,
            },
            t0,
        );
        (s, t0)
    }

    fn logs(actions: &[Action]) -> Vec<&str> {
        actions
            .iter()
            .filter_map(|a| match a {
                Action::Log(l) => Some(l.as_str()),
                _ => None,
            })
            .collect()
    }

    fn spawns(actions: &[Action]) -> Vec<ChildKind> {
        actions
            .iter()
            .filter_map(|a| match a {
                Action::Spawn(k) => Some(*k),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn a_killed_proxy_restarts_after_100_ms_and_the_log_says_why() {
        let (mut s, t0) = both();
        let a = s.handle(
            Event::Exited {
                pid: 20,
                how: ExitKind::Signal(9),
            },
            t0 + ms(2500),
        );
        assert_eq!(
            logs(&a),
            ["haproxy (pid 20) killed by signal 9 (SIGKILL) after 2.5 s; restarting in 100 ms"]
        );
        assert!(!a.contains(&Action::RemoveVips), "not the VRRP child");
        assert_eq!(s.next_deadline(), Some(t0 + ms(2600)));
        assert!(spawns(&s.handle(Event::Tick, t0 + ms(2599))).is_empty());
        let a = s.handle(Event::Tick, t0 + ms(2600));
        assert_eq!(spawns(&a), [ChildKind::Proxy]);
        assert_eq!(logs(&a), ["restarting haproxy"]);
        s.handle(
            Event::Started {
                kind: ChildKind::Proxy,
                pid: 21,
            },
            t0 + ms(2601),
        );
        assert_eq!(s.pid(ChildKind::Proxy), Some(21));
        assert_eq!(
            s.pid(ChildKind::Vrrp),
            Some(10),
            "the other child untouched"
        );
    }

    #[test]
    fn crashes_in_a_row_double_the_delay_up_to_the_cap_and_a_stable_run_resets_it() {
        let (mut s, t0) = both();
        let mut now = t0;
        let mut pid = 20;
        let mut delays = Vec::new();
        for _ in 0..10 {
            now += ms(50);
            s.handle(
                Event::Exited {
                    pid,
                    how: ExitKind::Code(1),
                },
                now,
            );
            let at = s.next_deadline().unwrap();
            delays.push(at - now);
            now = at;
            assert_eq!(spawns(&s.handle(Event::Tick, now)), [ChildKind::Proxy]);
            pid += 1;
            s.handle(
                Event::Started {
                    kind: ChildKind::Proxy,
                    pid,
                },
                now,
            );
        }
        let expected: Vec<Duration> =
            [100, 200, 400, 800, 1600, 3200, 6400, 10_000, 10_000, 10_000]
                .iter()
                .map(|&n| ms(n))
                .collect();
        assert_eq!(delays, expected);
        // Ten seconds up: the next crash is a first crash again.
        now += Backoff::STABLE;
        let a = s.handle(
            Event::Exited {
                pid,
                how: ExitKind::Signal(11),
            },
            now,
        );
        assert_eq!(s.next_deadline(), Some(now + ms(100)));
        assert!(
            logs(&a)[0].contains("killed by signal 11 (SIGSEGV)"),
            "{a:?}"
        );
    }

    #[test]
    fn a_dead_keepalived_has_its_vips_removed_before_it_starts_again() {
        let (mut s, t0) = both();
        let a = s.handle(
            Event::Exited {
                pid: 10,
                how: ExitKind::Signal(9),
            },
            t0 + ms(30_000),
        );
        assert_eq!(
            a,
            vec![
                Action::Log(
                    "keepalived (pid 10) killed by signal 9 (SIGKILL) after 30 s; restarting in 100 ms"
                        .into()
                ),
                Action::RemoveVips,
            ]
        );
        let a = s.handle(Event::Tick, t0 + ms(30_100));
        assert_eq!(spawns(&a), [ChildKind::Vrrp]);
    }

    #[test]
    fn sigterm_is_forwarded_then_sigkill_after_the_grace_and_exit_when_all_are_gone() {
        let (mut s, t0) = both();
        let a = s.handle(Event::Signal(Sig::Term), t0);
        assert!(a.contains(&Action::Kill {
            pid: 10,
            sig: Sig::Term
        }));
        assert!(a.contains(&Action::Kill {
            pid: 20,
            sig: Sig::Term
        }));
        assert_eq!(
            logs(&a),
            ["SIGTERM: stopping keepalived (pid 10), haproxy (pid 20)"]
        );
        // haproxy stops (killed by the SIGTERM, as HAProxy 2.6 -db is); keepalived hangs.
        let a = s.handle(
            Event::Exited {
                pid: 20,
                how: ExitKind::Signal(15),
            },
            t0 + ms(10),
        );
        assert!(spawns(&a).is_empty(), "no restart while stopping");
        assert!(!a.iter().any(|a| matches!(a, Action::Exit(_))));
        assert_eq!(s.next_deadline(), Some(t0 + STOP_GRACE));
        let a = s.handle(Event::Tick, t0 + STOP_GRACE);
        assert!(a.contains(&Action::Kill {
            pid: 10,
            sig: Sig::Kill
        }));
        assert_eq!(s.next_deadline(), None);
        let a = s.handle(
            Event::Exited {
                pid: 10,
                how: ExitKind::Signal(9),
            },
            t0 + STOP_GRACE + ms(1),
        );
        assert!(a.contains(&Action::RemoveVips));
        assert_eq!(a.last(), Some(&Action::Exit(0)));
    }

    #[test]
    fn a_child_failing_during_the_stop_makes_the_exit_status_1() {
        let (mut s, t0) = both();
        s.handle(Event::Signal(Sig::Term), t0);
        s.handle(
            Event::Exited {
                pid: 20,
                how: ExitKind::Signal(11),
            },
            t0,
        );
        let a = s.handle(
            Event::Exited {
                pid: 10,
                how: ExitKind::Code(0),
            },
            t0,
        );
        assert_eq!(a.last(), Some(&Action::Exit(1)));
    }

    #[test]
    fn a_stop_cancels_a_pending_restart_and_reaches_a_child_being_spawned() {
        let (mut s, t0) = both();
        s.handle(
            Event::Exited {
                pid: 20,
                how: ExitKind::Code(1),
            },
            t0,
        );
        let a = s.handle(Event::Signal(Sig::Int), t0 + ms(10));
        assert_eq!(
            a.iter()
                .filter(|a| matches!(a, Action::Kill { .. }))
                .count(),
            1
        );
        assert!(spawns(&s.handle(Event::Tick, t0 + ms(200))).is_empty());
        let a = s.handle(
            Event::Exited {
                pid: 10,
                how: ExitKind::Code(0),
            },
            t0 + ms(300),
        );
        assert_eq!(a.last(), Some(&Action::Exit(0)));

        // A stop while a child is being spawned: it gets the signal once it exists.
        let mut s = Supervisor::new(&[ChildKind::Proxy], Backoff::default());
        s.start();
        s.handle(Event::Signal(Sig::Term), t0);
        let a = s.handle(
            Event::Started {
                kind: ChildKind::Proxy,
                pid: 5,
            },
            t0,
        );
        assert!(a.contains(&Action::Kill {
            pid: 5,
            sig: Sig::Term
        }));
    }

    #[test]
    fn sighup_reloads_keepalived_with_sighup_and_haproxy_with_sigusr2_and_nothing_else() {
        let (mut s, t0) = both();
        let a = s.handle(Event::Signal(Sig::Hup), t0);
        assert_eq!(
            a,
            vec![
                Action::Log(
                    "SIGHUP: reloading keepalived (pid 10) with SIGHUP, haproxy (pid 20) \
                     with SIGUSR2"
                        .into()
                ),
                Action::Kill {
                    pid: 10,
                    sig: Sig::Hup
                },
                Action::Kill {
                    pid: 20,
                    sig: Sig::Usr2
                },
            ]
        );
        assert_eq!(s.next_deadline(), None);
        assert_eq!(
            (s.pid(ChildKind::Vrrp), s.pid(ChildKind::Proxy)),
            (Some(10), Some(20))
        );

        // A child waiting for its restart is not reloaded (it reads the file when it
        // starts); the reload is not a stop.
        s.handle(
            Event::Exited {
                pid: 20,
                how: ExitKind::Code(1),
            },
            t0,
        );
        let a = s.handle(Event::Signal(Sig::Hup), t0 + ms(1));
        assert_eq!(
            a.iter()
                .filter(|a| matches!(a, Action::Kill { .. }))
                .collect::<Vec<_>>(),
            [&Action::Kill {
                pid: 10,
                sig: Sig::Hup
            }]
        );
        assert_eq!(
            spawns(&s.handle(Event::Tick, t0 + ms(100))),
            [ChildKind::Proxy]
        );
    }

    #[test]
    fn ready_once_every_child_has_started_and_stopping_at_the_stop() {
        let mut s = Supervisor::new(&[ChildKind::Vrrp, ChildKind::Proxy], Backoff::default());
        let t0 = Instant::now();
        s.start();
        let a = s.handle(
            Event::Started {
                kind: ChildKind::Vrrp,
                pid: 10,
            },
            t0,
        );
        assert!(
            !a.contains(&Action::Notify(Notice::Ready)),
            "haproxy not yet"
        );
        // haproxy's first spawn fails: still not ready until it runs.
        let a = s.handle(
            Event::SpawnFailed {
                kind: ChildKind::Proxy,
                error: "EAGAIN".into(),
            },
            t0,
        );
        assert!(!a.contains(&Action::Notify(Notice::Ready)));
        s.handle(Event::Tick, t0 + ms(100));
        let a = s.handle(
            Event::Started {
                kind: ChildKind::Proxy,
                pid: 20,
            },
            t0 + ms(101),
        );
        assert_eq!(a.last(), Some(&Action::Notify(Notice::Ready)));
        // Once only: a restart is not a new start of the service.
        s.handle(
            Event::Exited {
                pid: 20,
                how: ExitKind::Code(1),
            },
            t0 + ms(200),
        );
        s.handle(Event::Tick, t0 + ms(300));
        let a = s.handle(
            Event::Started {
                kind: ChildKind::Proxy,
                pid: 21,
            },
            t0 + ms(300),
        );
        assert!(!a.contains(&Action::Notify(Notice::Ready)));
        let a = s.handle(Event::Signal(Sig::Term), t0 + ms(400));
        assert_eq!(a.first(), Some(&Action::Notify(Notice::Stopping)));
        let a = s.handle(Event::Signal(Sig::Term), t0 + ms(401));
        assert!(a.is_empty(), "a second SIGTERM changes nothing: {a:?}");
    }

    #[test]
    fn the_dump_signals_go_to_keepalived_only() {
        let (mut s, t0) = both();
        for sig in [Sig::Usr1, Sig::Usr2, Sig::Json] {
            let a = s.handle(Event::Signal(sig), t0);
            assert_eq!(
                a,
                vec![
                    Action::Log(format!("{}: forwarded to keepalived (pid 10)", sig.name())),
                    Action::Kill { pid: 10, sig },
                ]
            );
        }
        assert_eq!(s.next_deadline(), None, "not a stop");
        assert_eq!(Sig::Json.number(), 36, "glibc's SIGRTMIN is 34");
        // Without a keepalived child, nothing is sent (haproxy's SIGUSR1 would be a
        // soft stop, its SIGUSR2 a reload).
        let mut p = Supervisor::new(&[ChildKind::Proxy], Backoff::default());
        p.start();
        p.handle(
            Event::Started {
                kind: ChildKind::Proxy,
                pid: 5,
            },
            t0,
        );
        let a = p.handle(Event::Signal(Sig::Usr1), t0);
        assert_eq!(logs(&a), ["SIGUSR1: forwarded to no running child"]);
        assert!(!a.iter().any(|a| matches!(a, Action::Kill { .. })));
    }

    #[test]
    fn a_child_refusing_its_configuration_is_not_restarted() {
        let (mut s, t0) = both();
        let a = s.handle(
            Event::Exited {
                pid: 20,
                how: ExitKind::Code(crate::EXIT_ENGINE_NOT_BUILT),
            },
            t0,
        );
        assert!(logs(&a)[0].ends_with("not restarted"), "{a:?}");
        assert_eq!(s.next_deadline(), None);
        // The VRRP child keeps running; once it is gone for good too, the parent exits.
        assert_eq!(s.pid(ChildKind::Vrrp), Some(10));
    }

    #[test]
    fn unknown_pids_and_a_failed_spawn() {
        let (mut s, t0) = both();
        // An orphan reaped by the parent (it may be pid 1 in a container).
        assert!(s
            .handle(
                Event::Exited {
                    pid: 999,
                    how: ExitKind::Code(0)
                },
                t0
            )
            .is_empty());
        let mut s2 = Supervisor::new(&[ChildKind::Proxy], Backoff::default());
        s2.start();
        let a = s2.handle(
            Event::SpawnFailed {
                kind: ChildKind::Proxy,
                error: "No such file".into(),
            },
            t0,
        );
        assert_eq!(
            logs(&a),
            ["cannot start haproxy: No such file; next attempt in 100 ms"]
        );
        assert_eq!(s2.next_deadline(), Some(t0 + ms(100)));
    }
}
