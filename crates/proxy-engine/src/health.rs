//! Health checks' state machine as HAProxy 2.6 runs it (`check.c`), sans IO: when the
//! next check starts, how long it may take, what a result does to the health counter
//! and when the server changes state; plus the exact log lines of those changes
//! (`srv_update_status()`, `srv_append_status()`, `set_backend_down()`).
//!
//! The counter (`check->health`) runs from 0 to `rise + fall - 1`; the server is up at
//! `rise` or above. A server starts up with health = `rise`, so its first failed check
//! takes it down; once fully up it takes `fall` failures, and `rise` successes from
//! down. The interval is `inter` when the counter is full, `downinter` when down at 0,
//! else `fastinter` (each falling back to `inter`).
//!
//! Driving it: [`first_check_delays`] places each server's first check; at
//! [`HealthCheck::next_check`] the runtime calls [`HealthCheck::start`], runs the probe
//! within [`HealthCheck::connect_deadline`] / [`HealthCheck::connected`]'s deadline, and
//! reports with [`HealthCheck::complete`], whose [`Transition`] goes to the balancer
//! (`set_running`/`set_stopped`) and to [`server_down_line`]/[`server_up_line`].

use std::fmt::Write as _;
use std::time::Duration;

use haproxy_conf::model::{Global, ProxySettings, Server};

use crate::balance::StateChange;

/// `SRV_CHK_INTER_THRES`: intervals below one second do not count for spreading the
/// first checks.
const INTER_THRESHOLD: Duration = Duration::from_millis(1000);
/// `HCHK_DESC_LEN - 1`: the longest check description HAProxy keeps.
const DESC_MAX: usize = 127;

/// A server's check settings, HAProxy's defaults applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckParams {
    pub inter: Duration,
    pub fastinter: Option<Duration>,
    pub downinter: Option<Duration>,
    pub rise: u32,
    pub fall: u32,
    /// `timeout check` of the backend.
    pub timeout_check: Option<Duration>,
    /// `timeout connect` of the backend.
    pub timeout_connect: Option<Duration>,
    /// `spread-checks` of `global`, in percent (0..=50).
    pub spread_checks: u32,
}

impl CheckParams {
    /// The settings of `server` in a backend with `settings` under `global`.
    pub fn new(server: &Server, settings: &ProxySettings, global: &Global) -> CheckParams {
        let o = &server.options;
        CheckParams {
            inter: o.effective_inter(),
            fastinter: o.fastinter,
            downinter: o.downinter,
            rise: o.effective_rise().max(1),
            fall: o.effective_fall().max(1),
            timeout_check: settings.timeouts.check,
            timeout_connect: settings.timeouts.connect,
            spread_checks: global.spread_checks.unwrap_or(0).min(50),
        }
    }
}

/// `HCHK_STATUS_*`: how a check ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CheckStatus {
    SockErr,
    L4Ok,
    L4Tout,
    L4Con,
    L6Ok,
    L6Tout,
    L6Rsp,
    L7Tout,
    L7Rsp,
    L7Ok,
    L7OkC,
    L7Sts,
}

/// A check's verdict on the health counter (`CHK_RES_*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CheckVerdict {
    Passed,
    ConditionallyPassed,
    Failed,
}

impl CheckStatus {
    /// `check_statuses[].info`: the `reason:` of the log lines.
    pub fn description(self) -> &'static str {
        match self {
            CheckStatus::SockErr => "Socket error",
            CheckStatus::L4Ok => "Layer4 check passed",
            CheckStatus::L4Tout => "Layer4 timeout",
            CheckStatus::L4Con => "Layer4 connection problem",
            CheckStatus::L6Ok => "Layer6 check passed",
            CheckStatus::L6Tout => "Layer6 timeout",
            CheckStatus::L6Rsp => "Layer6 invalid response",
            CheckStatus::L7Tout => "Layer7 timeout",
            CheckStatus::L7Rsp => "Layer7 invalid response",
            CheckStatus::L7Ok => "Layer7 check passed",
            CheckStatus::L7OkC => "Layer7 check conditionally passed",
            CheckStatus::L7Sts => "Layer7 wrong status",
        }
    }

    /// `check_statuses[].desc`: the short name the stats page shows.
    pub fn tag(self) -> &'static str {
        match self {
            CheckStatus::SockErr => "SOCKERR",
            CheckStatus::L4Ok => "L4OK",
            CheckStatus::L4Tout => "L4TOUT",
            CheckStatus::L4Con => "L4CON",
            CheckStatus::L6Ok => "L6OK",
            CheckStatus::L6Tout => "L6TOUT",
            CheckStatus::L6Rsp => "L6RSP",
            CheckStatus::L7Tout => "L7TOUT",
            CheckStatus::L7Rsp => "L7RSP",
            CheckStatus::L7Ok => "L7OK",
            CheckStatus::L7OkC => "L7OKC",
            CheckStatus::L7Sts => "L7STS",
        }
    }

    pub fn verdict(self) -> CheckVerdict {
        match self {
            CheckStatus::L4Ok | CheckStatus::L6Ok | CheckStatus::L7Ok => CheckVerdict::Passed,
            CheckStatus::L7OkC => CheckVerdict::ConditionallyPassed,
            _ => CheckVerdict::Failed,
        }
    }

    /// Statuses past `HCHK_STATUS_L57DATA` print their response code.
    fn shows_code(self) -> bool {
        matches!(
            self,
            CheckStatus::L7Ok | CheckStatus::L7OkC | CheckStatus::L7Sts
        )
    }
}

/// What one check found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckResult {
    pub status: CheckStatus,
    /// The HTTP status of an HTTP check (printed for layer-7 statuses).
    pub code: Option<u16>,
    /// The `info:` text (`Connection refused`, `TCPCHK got an empty response at step
    /// 2`...); HAProxy keeps at most 127 bytes.
    pub info: String,
    pub duration: Duration,
}

/// A server state change caused by checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transition {
    Up,
    Down,
}

/// What [`HealthCheck::complete`] decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckOutcome {
    pub transition: Option<Transition>,
    /// With `option log-health-checks`, HAProxy logs this check
    /// ([`health_check_line`]): the status changed or the counter moved.
    pub loggable: bool,
    /// When the next check starts.
    pub next_check: Duration,
}

/// One server's check schedule and health counter.
#[derive(Debug, Clone)]
pub struct HealthCheck {
    params: CheckParams,
    health: u32,
    /// The server's state as checks set it (`next_state == STOPPED` in HAProxy).
    down: bool,
    paused: bool,
    /// `CHK_ST_ENABLED` cleared (the stats page's "disable checks"): no check runs.
    disabled: bool,
    next_check: Duration,
    started: Option<Duration>,
    last_status: Option<CheckStatus>,
}

/// The first check of each of `inters.len()` checks, in configuration order over every
/// backend, as `start_checks()` spreads them: check `i` of `n` starts
/// `max(mininter, its own interval) * i / n` after startup, `mininter` being the
/// smallest interval of at least one second (intervals as a starting server uses them:
/// `fastinter` if set, else `inter`).
pub fn first_check_delays(params: &[CheckParams]) -> Vec<Duration> {
    let start_inter = |p: &CheckParams| p.fastinter.unwrap_or(p.inter);
    let mininter = params
        .iter()
        .map(start_inter)
        .filter(|i| *i >= INTER_THRESHOLD)
        .min()
        .unwrap_or(Duration::ZERO);
    let n = params.len() as u32;
    params
        .iter()
        .enumerate()
        .map(|(pos, p)| mininter.max(start_inter(p)) * pos as u32 / n.max(1))
        .collect()
}

impl HealthCheck {
    /// A check whose first run is at `first` (see [`first_check_delays`]). The server
    /// starts up with health = `rise`, or down and paused when it starts in maintenance.
    pub fn new(params: CheckParams, first: Duration, in_maintenance: bool) -> HealthCheck {
        HealthCheck {
            health: if in_maintenance { 0 } else { params.rise },
            down: in_maintenance,
            paused: in_maintenance,
            disabled: false,
            params,
            next_check: first,
            started: None,
            last_status: None,
        }
    }

    /// Starts down with health 0 (a server the state file says is down): it comes up
    /// after `rise` successful checks, as one a check took down.
    pub fn start_down(&mut self) {
        self.health = 0;
        self.down = true;
    }

    pub fn params(&self) -> &CheckParams {
        &self.params
    }

    /// The health counter, 0..`rise + fall - 1`.
    pub fn health(&self) -> u32 {
        self.health
    }

    /// The server is down as far as checks are concerned.
    pub fn is_down(&self) -> bool {
        self.down
    }

    pub fn is_running(&self) -> bool {
        self.started.is_some()
    }

    /// When the next check starts (while none is running).
    pub fn next_check(&self) -> Duration {
        self.next_check
    }

    /// `srv_getinter()`: the interval after a check.
    pub fn interval(&self) -> Duration {
        let p = &self.params;
        if self.health == p.rise + p.fall - 1 {
            p.inter
        } else if self.down && self.health == 0 {
            p.downinter.unwrap_or(p.inter)
        } else {
            p.fastinter.unwrap_or(p.inter)
        }
    }

    /// Maintenance (`disable server`): checks pause. Leaving it, health restarts at
    /// `rise` (up, but down at the first failure) and a check runs at the next
    /// interval.
    pub fn set_maintenance(&mut self, on: bool, now: Duration) {
        self.paused = on;
        self.started = None;
        if !on {
            self.health = self.params.rise;
            self.down = false;
            self.next_check = now + self.interval();
        }
    }

    /// The stats page's "disable checks" / "enable checks" (`CHK_ST_ENABLED`): while
    /// disabled the schedule moves on and no check runs; the health stays as it was.
    pub fn set_enabled(&mut self, on: bool) {
        self.disabled = !on;
        if !on {
            self.started = None;
        }
    }

    /// The stats page's "force UP"/"force NOLB" (`true`: health full) and "force DOWN"
    /// (`false`: health 0). The checks go on from there.
    pub fn force_health(&mut self, up: bool) {
        let p = &self.params;
        if up {
            self.health = p.rise + p.fall - 1;
            self.down = false;
        } else {
            self.health = 0;
            self.down = true;
        }
    }

    /// A check starts now. Returns `false` (and starts nothing) while paused; the
    /// schedule moves on by `inter` as HAProxy's does.
    pub fn start(&mut self, now: Duration) -> bool {
        if self.paused || self.disabled {
            while self.next_check <= now {
                self.next_check += self.params.inter.max(Duration::from_millis(1));
            }
            return false;
        }
        self.started = Some(now);
        true
    }

    /// The deadline of the connection attempt: `inter` after the start, or
    /// `timeout connect` if sooner and `timeout check` is set (`tcpcheck_main()`).
    pub fn connect_deadline(&self) -> Option<Duration> {
        let start = self.started?;
        let p = &self.params;
        let mut deadline = start + p.inter;
        if let (Some(_), Some(connect)) = (p.timeout_check, p.timeout_connect) {
            deadline = deadline.min(start + connect);
        }
        Some(deadline)
    }

    /// The connection is established at `now`: the rest of the check must end by the
    /// returned deadline (`timeout check` from now if set, else the connect deadline).
    pub fn connected(&self, now: Duration) -> Option<Duration> {
        match self.params.timeout_check {
            Some(t) => Some(now + t),
            None => self.connect_deadline(),
        }
    }

    /// The check ended with `result` at `now` (`set_server_check_status()` then
    /// `check_notify_*()`). `random` is a uniform `u32` for `spread-checks`.
    pub fn complete(&mut self, result: &CheckResult, now: Duration, random: u32) -> CheckOutcome {
        self.started = None;
        let p = self.params.clone();
        let full = p.rise + p.fall - 1;
        let mut report = false;
        match result.status.verdict() {
            CheckVerdict::Failed => {
                if self.health > 0 {
                    report = true;
                    self.health -= 1;
                    if self.health < p.rise {
                        self.health = 0;
                    }
                }
            }
            CheckVerdict::Passed | CheckVerdict::ConditionallyPassed => {
                if self.health < full {
                    report = true;
                    self.health += 1;
                    if self.health >= p.rise {
                        self.health = full;
                    }
                }
            }
        }
        let loggable = self.last_status != Some(result.status) || report;
        self.last_status = Some(result.status);
        let transition = match result.status.verdict() {
            CheckVerdict::Failed if self.health == 0 && !self.down => {
                self.down = true;
                Some(Transition::Down)
            }
            CheckVerdict::Passed if self.health >= p.rise && self.down => {
                self.down = false;
                Some(Transition::Up)
            }
            _ => None,
        };
        // The next start: the interval for the new state, spread by +/- spread-checks %.
        let inter = self.interval().as_millis() as i64;
        let mut rv = 0i64;
        if p.spread_checks > 0 {
            rv = inter * p.spread_checks as i64 / 100;
            rv -= (2.0 * rv as f64 * (random as f64 / 4294967295.0)) as i64;
        }
        let delay = Duration::from_millis((inter + rv).max(0) as u64);
        self.next_check = now + delay;
        CheckOutcome {
            transition,
            loggable,
            next_check: self.next_check,
        }
    }
}

/// HAProxy's `chunk_asciiencode()` with `"` as the quote: non-printable characters, `<`,
/// `>` and `"` as `<XX>`.
fn ascii_encode(out: &mut String, text: &str) {
    for &c in text.as_bytes().iter().take(DESC_MAX) {
        if !(0x20..0x7f).contains(&c) || c == b'<' || c == b'>' || c == b'"' {
            let _ = write!(out, "<{c:02X}>");
        } else {
            out.push(c as char);
        }
    }
}

/// `srv_append_status()`'s `, reason: ...` part for a check result.
fn append_reason(out: &mut String, result: &CheckResult) {
    let _ = write!(out, ", reason: {}", result.status.description());
    if result.status.shows_code() {
        let _ = write!(out, ", code: {}", result.code.unwrap_or(0));
    }
    if !result.info.is_empty() {
        out.push_str(", info: \"");
        ascii_encode(out, &result.info);
        out.push('"');
    }
    let _ = write!(out, ", check duration: {}ms", result.duration.as_millis());
}

fn server_prefix(backend: &str, server: &str, backup: bool, what: &str) -> String {
    format!(
        "{}Server {backend}/{server} is {what}",
        if backup { "Backup " } else { "" }
    )
}

/// `Server be/s is DOWN, reason: ..., check duration: Nms. A active and B backup servers
/// left. S sessions active, R requeued, Q remaining in queue.` (no trailing newline).
/// `cause` is `None` when the change was not made by a check (or with `option
/// log-health-checks`, where the check has its own line).
pub fn server_down_line(
    backend: &str,
    server: &str,
    cause: Option<&CheckResult>,
    change: &StateChange,
) -> String {
    let mut line = server_prefix(backend, server, change.backup, "DOWN");
    if let Some(r) = cause {
        append_reason(&mut line, r);
    }
    let _ = write!(
        line,
        ". {} active and {} backup servers left.{} {} sessions active, {} requeued, {} remaining in queue.",
        change.active_servers,
        change.backup_servers,
        running_on_backup(change),
        change.sessions_active,
        change.requeued,
        change.remaining_in_queue
    );
    line
}

/// `Server be/s is UP, reason: ..., check duration: Nms. A active and B backup servers
/// online. R sessions requeued, Q total in queue.`
pub fn server_up_line(
    backend: &str,
    server: &str,
    cause: Option<&CheckResult>,
    change: &StateChange,
) -> String {
    let mut line = server_prefix(backend, server, change.backup, "UP");
    if let Some(r) = cause {
        append_reason(&mut line, r);
    }
    let _ = write!(
        line,
        ". {} active and {} backup servers online.{} {} sessions requeued, {} total in queue.",
        change.active_servers,
        change.backup_servers,
        running_on_backup(change),
        change.requeued,
        change.remaining_in_queue
    );
    line
}

fn running_on_backup(change: &StateChange) -> &'static str {
    if change.backup_servers > 0 && change.active_servers == 0 {
        " Running on backup."
    } else {
        ""
    }
}

/// The log line when a backend loses its last server: `backend be has no server
/// available!` (`type_str` is `proxy_type_str()`: "backend", or "proxy" for a listen).
pub fn backend_down_line(type_str: &str, backend: &str) -> String {
    format!("{type_str} {backend} has no server available!")
}

/// The same event on stderr (`[ALERT]` line body): the name is quoted there.
pub fn backend_down_alert(type_str: &str, backend: &str) -> String {
    format!("{type_str} '{backend}' has no server available!")
}

/// `option log-health-checks`' line for one check: `Health check for server be/s
/// failed, reason: ..., check duration: Nms, status: 0/2 DOWN.` (`succeeded` / `UP`,
/// `conditionally succeeded`; `DRAIN` for a weight-0 server that is up.)
pub fn health_check_line(
    backend: &str,
    server: &str,
    backup: bool,
    check: &HealthCheck,
    result: &CheckResult,
    weight_zero: bool,
) -> String {
    let verdict = result.status.verdict();
    let mut line = format!(
        "Health check for {}server {backend}/{server} {}{}",
        if backup { "backup " } else { "" },
        if verdict == CheckVerdict::ConditionallyPassed {
            "conditionally "
        } else {
            ""
        },
        if verdict == CheckVerdict::Failed {
            "failed"
        } else {
            "succeeded"
        },
    );
    append_reason(&mut line, result);
    let p = &check.params;
    let h = check.health;
    let (num, den, word) = if h >= p.rise {
        (
            h - p.rise + 1,
            p.fall,
            if weight_zero { "DRAIN" } else { "UP" },
        )
    } else {
        (h, p.rise, "DOWN")
    };
    let _ = write!(line, ", status: {num}/{den} {word}.");
    line
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::balance::ServerId;

    fn params(rise: u32, fall: u32) -> CheckParams {
        CheckParams {
            inter: Duration::from_millis(2000),
            fastinter: Some(Duration::from_millis(500)),
            downinter: Some(Duration::from_millis(5000)),
            rise,
            fall,
            timeout_check: None,
            timeout_connect: None,
            spread_checks: 0,
        }
    }

    fn res(status: CheckStatus) -> CheckResult {
        CheckResult {
            status,
            code: None,
            info: String::new(),
            duration: Duration::ZERO,
        }
    }

    fn ms(v: u64) -> Duration {
        Duration::from_millis(v)
    }

    #[test]
    fn a_fresh_server_goes_down_at_its_first_failure() {
        let mut c = HealthCheck::new(params(2, 3), ms(0), false);
        assert_eq!(c.health(), 2);
        // Not full: the next interval is fastinter.
        assert_eq!(c.interval(), ms(500));
        assert!(c.start(ms(0)));
        let out = c.complete(&res(CheckStatus::L4Con), ms(1), 0);
        assert_eq!(out.transition, Some(Transition::Down));
        // Down at 0: downinter.
        assert_eq!(out.next_check, ms(5001));
    }

    #[test]
    fn a_fresh_server_passing_its_first_check_is_fully_up() {
        let mut c = HealthCheck::new(params(2, 3), ms(0), false);
        c.start(ms(0));
        let out = c.complete(&res(CheckStatus::L4Ok), ms(0), 0);
        assert_eq!(out.transition, None);
        assert_eq!(c.health(), 4);
        assert_eq!(out.next_check, ms(2000));
    }

    #[test]
    fn fall_failures_then_rise_successes() {
        let mut c = HealthCheck::new(params(2, 3), ms(0), false);
        let mut t = 0;
        c.start(ms(t));
        c.complete(&res(CheckStatus::L4Ok), ms(t), 0);
        let mut transitions = vec![];
        for (i, st) in [
            CheckStatus::L4Con,
            CheckStatus::L4Con,
            CheckStatus::L4Con,
            CheckStatus::L4Ok,
            CheckStatus::L4Ok,
        ]
        .into_iter()
        .enumerate()
        {
            t = c.next_check().as_millis() as u64;
            c.start(ms(t));
            let out = c.complete(&res(st), ms(t), 0);
            transitions.push((
                i,
                out.transition,
                c.health(),
                out.next_check.as_millis() as u64 - t,
            ));
        }
        assert_eq!(
            transitions,
            [
                (0, None, 3, 500), // transitioning: fastinter
                (1, None, 2, 500),
                (2, Some(Transition::Down), 0, 5000), // down: downinter
                (3, None, 1, 500),
                (4, Some(Transition::Up), 4, 2000), // fully up: inter
            ]
        );
    }

    #[test]
    fn spread_checks_moves_the_interval_both_ways() {
        let mut p = params(2, 3);
        p.spread_checks = 50;
        p.fastinter = None;
        let mut c = HealthCheck::new(p, ms(0), false);
        c.start(ms(0));
        // random = 0 -> +50 %, random = max -> -50 %.
        assert_eq!(
            c.complete(&res(CheckStatus::L4Ok), ms(0), 0).next_check,
            ms(3000)
        );
        c.start(ms(0));
        assert_eq!(
            c.complete(&res(CheckStatus::L4Ok), ms(0), u32::MAX)
                .next_check,
            ms(1000)
        );
    }

    #[test]
    fn first_checks_are_spread_over_the_smallest_interval() {
        let mut a = params(2, 3);
        a.fastinter = None;
        let mut b = a.clone();
        b.inter = ms(4000);
        let d = first_check_delays(&[a.clone(), a.clone(), b, a]);
        assert_eq!(d, [ms(0), ms(500), ms(2000), ms(1500)]);
    }

    #[test]
    fn check_deadlines() {
        let mut p = params(2, 3);
        p.timeout_connect = Some(ms(300));
        let mut c = HealthCheck::new(p.clone(), ms(0), false);
        c.start(ms(100));
        // timeout connect only counts with timeout check.
        assert_eq!(c.connect_deadline(), Some(ms(2100)));
        p.timeout_check = Some(ms(1000));
        let mut c = HealthCheck::new(p, ms(0), false);
        c.start(ms(100));
        assert_eq!(c.connect_deadline(), Some(ms(400)));
        assert_eq!(c.connected(ms(150)), Some(ms(1150)));
    }

    #[test]
    fn log_lines() {
        let change = StateChange {
            server: ServerId(1),
            backup: false,
            active_servers: 1,
            backup_servers: 0,
            sessions_active: 0,
            requeued: 0,
            remaining_in_queue: 0,
            backend_down: false,
            redispatch: vec![],
            dequeued: vec![],
        };
        let cause = CheckResult {
            status: CheckStatus::L4Con,
            code: None,
            info: "Connection refused".into(),
            duration: ms(0),
        };
        assert_eq!(
            server_down_line("be", "web2", Some(&cause), &change),
            "Server be/web2 is DOWN, reason: Layer4 connection problem, info: \"Connection refused\", check duration: 0ms. 1 active and 0 backup servers left. 0 sessions active, 0 requeued, 0 remaining in queue."
        );
        let up = StateChange {
            active_servers: 2,
            ..change
        };
        assert_eq!(
            server_up_line("be", "web2", Some(&res(CheckStatus::L4Ok)), &up),
            "Server be/web2 is UP, reason: Layer4 check passed, check duration: 0ms. 2 active and 0 backup servers online. 0 sessions requeued, 0 total in queue."
        );
        assert_eq!(
            backend_down_line("backend", "be"),
            "backend be has no server available!"
        );
    }
}
