//! The check runtime: one tokio task per checked server runs [`super::run_check`] when
//! its [`HealthCheck`] says so and reports each result on a channel. Time is tokio's
//! clock read as a `Duration` since one shared epoch, the unit the pure core uses.
//!
//! The engine owns the balancers: a [`CheckReport`] with a transition goes to
//! `Balancer::set_stopped`/`set_running`, whose `StateChange` renders the server line
//! with [`CheckReport::state_line`]; [`CheckReport::health_line`] is the `option
//! log-health-checks` line, already decided by the check machine.

use std::time::Duration;

use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::{run_check, CheckDeadlines, ProbeSpec};
use crate::admin::CheckCommand;
use crate::balance::StateChange;
use crate::health::{
    health_check_line, server_down_line, server_up_line, CheckParams, CheckResult, HealthCheck,
    Transition,
};

/// One server to check.
#[derive(Debug, Clone)]
pub struct ServerCheck {
    /// The caller's key for the server (e.g. backend and server index).
    pub key: (usize, usize),
    pub backend: String,
    pub server: String,
    pub backup: bool,
    /// Weight 0: an up server logs `DRAIN` in its health-check line.
    pub weight_zero: bool,
    pub params: CheckParams,
    pub spec: ProbeSpec,
    /// `option log-health-checks` in the backend.
    pub log_health_checks: bool,
    /// The first check's delay after the epoch ([`crate::health::first_check_delays`]).
    pub first: Duration,
    /// Starts in maintenance (`disabled`).
    pub in_maintenance: bool,
    /// The server state file said DOWN (`load-server-state-from-file`): checks start
    /// from health 0, the server down, until `rise` successes.
    pub loaded_down: bool,
    /// The stats page's admin actions on the check; the task takes the receiver.
    pub commands: CheckCommands,
}

/// The receiving end of a check's admin commands, taken by its task when it starts.
#[derive(Debug, Clone, Default)]
pub struct CheckCommands(
    std::sync::Arc<std::sync::Mutex<Option<mpsc::UnboundedReceiver<CheckCommand>>>>,
);

impl CheckCommands {
    /// A channel: the sender for the engine, the receiving end for the task.
    pub fn channel() -> (mpsc::UnboundedSender<CheckCommand>, CheckCommands) {
        let (tx, rx) = mpsc::unbounded_channel();
        (
            tx,
            CheckCommands(std::sync::Arc::new(std::sync::Mutex::new(Some(rx)))),
        )
    }

    fn take(&self) -> Option<mpsc::UnboundedReceiver<CheckCommand>> {
        match self.0.lock() {
            Ok(mut g) => g.take(),
            Err(poisoned) => poisoned.into_inner().take(),
        }
    }
}

/// What one check did (every check reports; most have no transition and no line).
#[derive(Debug, Clone)]
pub struct CheckReport {
    pub key: (usize, usize),
    pub backend: String,
    pub server: String,
    pub backup: bool,
    pub result: CheckResult,
    pub transition: Option<Transition>,
    /// The health counter after the check (`check->health`).
    pub health: u32,
    /// The check failed while the counter was above 0 (`failed_checks` counts it).
    pub counted_failure: bool,
    /// With `option log-health-checks`, when HAProxy logs this check: the line.
    pub health_line: Option<String>,
    log_health_checks: bool,
}

impl CheckReport {
    /// The `Server be/s is DOWN|UP...` line for the balancer's `change` (the reason
    /// part only without `option log-health-checks`, as HAProxy).
    pub fn state_line(&self, change: &StateChange) -> Option<String> {
        let cause = (!self.log_health_checks).then_some(&self.result);
        match self.transition? {
            Transition::Down => Some(server_down_line(&self.backend, &self.server, cause, change)),
            Transition::Up => Some(server_up_line(&self.backend, &self.server, cause, change)),
        }
    }
}

/// A small xorshift generator for `spread-checks` (HAProxy's `ha_random32()` is not
/// reproducible either; only the distribution matters).
#[derive(Debug, Clone)]
struct Xorshift(u64);

impl Xorshift {
    fn next(&mut self) -> u32 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        (x >> 32) as u32
    }
}

/// Spawns the check task of one server on the current tokio runtime. Reports go to
/// `reports` until it is closed (the task then ends); abort the handle to stop it.
pub fn spawn_check(
    check: ServerCheck,
    epoch: Instant,
    reports: mpsc::UnboundedSender<CheckReport>,
) -> JoinHandle<()> {
    tokio::spawn(check_loop(check, epoch, reports))
}

async fn check_loop(
    check: ServerCheck,
    epoch: Instant,
    reports: mpsc::UnboundedSender<CheckReport>,
) {
    let deadlines = CheckDeadlines::from_params(&check.params);
    let mut machine = HealthCheck::new(check.params.clone(), check.first, check.in_maintenance);
    if check.loaded_down && !check.in_maintenance {
        machine.start_down();
    }
    let seed = (check.key.0 as u64) << 32 | check.key.1 as u64;
    let mut random = Xorshift(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
    let mut commands = check.commands.take();
    loop {
        let command = match &mut commands {
            Some(rx) => tokio::select! {
                () = tokio::time::sleep_until(epoch + machine.next_check()) => None,
                c = rx.recv() => match c {
                    Some(c) => Some(c),
                    None => {
                        commands = None;
                        continue;
                    }
                },
            },
            None => {
                tokio::time::sleep_until(epoch + machine.next_check()).await;
                None
            }
        };
        let now = epoch.elapsed();
        if let Some(command) = command {
            match command {
                CheckCommand::Pause(on) => machine.set_maintenance(on, now),
                CheckCommand::Enable(on) => machine.set_enabled(on),
                CheckCommand::HealthFull => machine.force_health(true),
                CheckCommand::HealthZero => machine.force_health(false),
            }
            continue;
        }
        if !machine.start(now) {
            continue;
        }
        let result = run_check(&check.spec, &deadlines).await;
        let health_before = machine.health();
        let outcome = machine.complete(&result, epoch.elapsed(), random.next());
        let counted_failure =
            health_before > 0 && result.status.verdict() == crate::health::CheckVerdict::Failed;
        let health_line = (check.log_health_checks && outcome.loggable).then(|| {
            health_check_line(
                &check.backend,
                &check.server,
                check.backup,
                &machine,
                &result,
                check.weight_zero,
            )
        });
        let report = CheckReport {
            key: check.key,
            backend: check.backend.clone(),
            server: check.server.clone(),
            backup: check.backup,
            result,
            transition: outcome.transition,
            health: machine.health(),
            counted_failure,
            health_line,
            log_health_checks: check.log_health_checks,
        };
        if reports.send(report).is_err() {
            return;
        }
    }
}
