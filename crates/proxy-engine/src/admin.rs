//! The stats page's admin actions on one server (`stats admin`), pure: what HAProxy
//! 2.6.12's `stats_process_http_post()` does to a server through
//! `srv_set_admin_flag()` / `srv_clr_admin_flag()` / `srv_set_running()` /
//! `srv_set_stopping()` / `srv_set_stopped()` and `srv_update_status()`: the balancer
//! change, the health check's change, whether the server counts as altered, and the
//! state lines with their log levels.
//!
//! Only the forced flags exist here (`FMAINT`, `FDRAIN`): `track` and agent checks are
//! not run by this engine, so the inherited flags and the agent actions never apply
//! (an agent action leaves the server unchanged, as HAProxy does for a server without
//! an agent).

use std::time::Duration;

use crate::balance::{Balancer, ServerId, ServerState, StateChange};

/// `LOG_ALERT` / `LOG_NOTICE`.
const LEVEL_ALERT: u8 = 1;
const LEVEL_NOTICE: u8 = 5;

/// The reason `srv_set_running()` and friends are given by the stats page.
pub const WEB_INTERFACE: &str = "changed from Web interface";
/// The reason the runtime API's `set server ... health` gives.
pub const CLI: &str = "changed from CLI";

/// The actions of the admin form (`ST_ADM_ACTION_*`), by their form values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AdminAction {
    Ready,
    Drain,
    Maint,
    /// "Kill Sessions".
    Shutdown,
    DisableHealth,
    EnableHealth,
    ForceUp,
    ForceNolb,
    ForceDown,
    DisableAgent,
    EnableAgent,
    AgentUp,
    AgentDown,
    /// The older values: `disable` (maintenance), `enable`, `stop` (drain), `start`.
    Disable,
    Enable,
    Stop,
    Start,
}

impl AdminAction {
    /// The form value (`action=...`) as `stats_process_http_post()` compares it.
    pub fn from_form(value: &[u8]) -> Option<AdminAction> {
        Some(match value {
            b"ready" => AdminAction::Ready,
            b"drain" => AdminAction::Drain,
            b"maint" => AdminAction::Maint,
            b"shutdown" => AdminAction::Shutdown,
            b"dhlth" => AdminAction::DisableHealth,
            b"ehlth" => AdminAction::EnableHealth,
            b"hrunn" => AdminAction::ForceUp,
            b"hnolb" => AdminAction::ForceNolb,
            b"hdown" => AdminAction::ForceDown,
            b"dagent" => AdminAction::DisableAgent,
            b"eagent" => AdminAction::EnableAgent,
            b"arunn" => AdminAction::AgentUp,
            b"adown" => AdminAction::AgentDown,
            b"disable" => AdminAction::Disable,
            b"enable" => AdminAction::Enable,
            b"stop" => AdminAction::Stop,
            b"start" => AdminAction::Start,
            _ => return None,
        })
    }
}

/// What the server's health check must do after an action.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CheckCommand {
    /// Maintenance: checks pause (`CHK_ST_PAUSED`); leaving it, health restarts at
    /// `rise`.
    Pause(bool),
    /// `dhlth` / `ehlth`: `CHK_ST_ENABLED`.
    Enable(bool),
    /// `hrunn` / `hnolb`: health full (`rise + fall - 1`).
    HealthFull,
    /// `hdown`: health 0.
    HealthZero,
}

/// One server state line: its log level, and the text (also printed on stderr as a
/// `[WARNING]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StateLine {
    pub level: u8,
    pub text: String,
}

/// What one action did to one server.
#[derive(Debug, Default)]
pub struct AdminEffect {
    /// Counted in `altered_servers` (and `total_servers`).
    pub altered: bool,
    pub lines: Vec<StateLine>,
    /// The balancer's changes, in order: their redispatched and dequeued connections
    /// are the runtime's to hand on.
    pub changes: Vec<StateChange>,
    /// The backend lost its last server (`backend X has no server available!`).
    pub backend_down: bool,
    pub check: Vec<CheckCommand>,
    /// "Kill Sessions": the server's sessions end (`SF_ERR_KILLED`).
    pub kill_sessions: bool,
    /// The server went down (maintenance or forced down): `Dwn` counts it.
    pub down_transition: bool,
}

/// The server an action applies to, as the engine knows it.
#[derive(Debug, Clone, Copy)]
pub struct AdminServer<'a> {
    pub backend: &'a str,
    pub server: &'a str,
    pub id: ServerId,
    pub backup: bool,
    /// `check` is configured (`CHK_ST_CONFIGURED`).
    pub check_configured: bool,
    /// Who asked, as the forced-health lines say it ([`WEB_INTERFACE`] or [`CLI`]).
    pub reason: &'static str,
}

/// Applies `action` to `srv` in `balancer` at `now` (seconds since the balancer's
/// epoch, as its other calls take).
pub fn apply(
    balancer: &mut Balancer,
    srv: &AdminServer<'_>,
    action: AdminAction,
    now: Duration,
) -> AdminEffect {
    let mut fx = AdminEffect::default();
    let (maint, drain) = balancer.admin_state(srv.id);
    match action {
        AdminAction::Disable => {
            if !maint {
                fx.altered = true;
                set_maint(balancer, srv, Some("'disable' on stats page"), now, &mut fx);
            }
        }
        AdminAction::Enable => {
            if maint {
                fx.altered = true;
                clear_maint(balancer, srv, now, &mut fx);
            }
        }
        AdminAction::Stop => {
            if !drain {
                fx.altered = true;
                set_drain(balancer, srv, Some("'stop' on stats page"), now, &mut fx);
            }
        }
        AdminAction::Start => {
            if drain {
                fx.altered = true;
                clear_drain(balancer, srv, now, &mut fx);
            }
        }
        AdminAction::DisableHealth | AdminAction::EnableHealth => {
            if srv.check_configured {
                fx.altered = true;
                fx.check
                    .push(CheckCommand::Enable(action == AdminAction::EnableHealth));
            }
        }
        AdminAction::ForceUp => {
            fx.altered = true;
            fx.check.push(CheckCommand::HealthFull);
            let change = balancer.set_running(srv.id, now);
            forced(&mut fx, srv, change, "is UP", false, LEVEL_NOTICE);
        }
        AdminAction::ForceNolb => {
            fx.altered = true;
            fx.check.push(CheckCommand::HealthFull);
            let change = balancer.set_stopping(srv.id, now);
            forced(&mut fx, srv, change, "is stopping", false, LEVEL_NOTICE);
        }
        AdminAction::ForceDown => {
            fx.altered = true;
            fx.check.push(CheckCommand::HealthZero);
            // No alert when the server was not taking new sessions anyway.
            let was_stopping = balancer.state(srv.id) == ServerState::Stopping || drain;
            let change = balancer.set_stopped(srv.id, now);
            let level = if was_stopping {
                LEVEL_NOTICE
            } else {
                LEVEL_ALERT
            };
            forced(&mut fx, srv, change, "is DOWN", true, level);
        }
        // No agent check runs in this engine: `CHK_ST_CONFIGURED`/`ENABLED` are never
        // set on an agent, and HAProxy leaves such a server unchanged.
        AdminAction::DisableAgent
        | AdminAction::EnableAgent
        | AdminAction::AgentUp
        | AdminAction::AgentDown => {}
        AdminAction::Ready => {
            fx.altered = true;
            if drain {
                clear_drain(balancer, srv, now, &mut fx);
            }
            if balancer.admin_state(srv.id).0 {
                clear_maint(balancer, srv, now, &mut fx);
            }
        }
        AdminAction::Drain => {
            fx.altered = true;
            if !drain {
                set_drain(balancer, srv, None, now, &mut fx);
            }
            if balancer.admin_state(srv.id).0 {
                clear_maint(balancer, srv, now, &mut fx);
            }
        }
        AdminAction::Maint => {
            fx.altered = true;
            if !maint {
                set_maint(balancer, srv, None, now, &mut fx);
            }
            if balancer.admin_state(srv.id).1 {
                clear_drain(balancer, srv, now, &mut fx);
            }
        }
        AdminAction::Shutdown => {
            fx.altered = true;
            fx.kill_sessions = true;
        }
    }
    fx
}

/// A forced health change from the stats page (`changed from Web interface`), when the
/// balancer made one: its line (`stopped`: the server is now down), and what it did.
fn forced(
    fx: &mut AdminEffect,
    srv: &AdminServer<'_>,
    change: Option<StateChange>,
    what: &str,
    stopped: bool,
    level: u8,
) {
    let Some(change) = change else {
        return;
    };
    fx.lines.push(StateLine {
        level,
        text: format!(
            "{}, {}{}.",
            prefix(srv, what),
            srv.reason,
            counts(&change, stopped)
        ),
    });
    fx.backend_down |= change.backend_down;
    fx.down_transition |= stopped;
    fx.changes.push(change);
}

/// `[Backup ]Server BE/SRV WHAT`.
fn prefix(srv: &AdminServer<'_>, what: &str) -> String {
    format!(
        "{}Server {}/{} {what}",
        if srv.backup { "Backup " } else { "" },
        srv.backend,
        srv.server
    )
}

/// ` (CAUSE)` when there is one.
fn cause_text(cause: Option<&str>) -> String {
    cause.map(|c| format!(" ({c})")).unwrap_or_default()
}

/// `srv_append_status()`'s counts, for a server now stopped (`left`) or not
/// (`online`).
fn counts(change: &StateChange, stopped: bool) -> String {
    let on_backup = if change.backup_servers > 0 && change.active_servers == 0 {
        " Running on backup."
    } else {
        ""
    };
    if stopped {
        format!(
            ". {} active and {} backup servers left.{on_backup} {} sessions active, {} requeued, {} remaining in queue",
            change.active_servers,
            change.backup_servers,
            change.sessions_active,
            change.requeued,
            change.remaining_in_queue
        )
    } else {
        format!(
            ". {} active and {} backup servers online.{on_backup} {} sessions requeued, {} total in queue",
            change.active_servers, change.backup_servers, change.requeued, change.remaining_in_queue
        )
    }
}

/// Setting `FMAINT`.
fn set_maint(
    balancer: &mut Balancer,
    srv: &AdminServer<'_>,
    cause: Option<&str>,
    now: Duration,
    fx: &mut AdminEffect,
) {
    let state = balancer.state(srv.id);
    let (_, drain) = balancer.admin_state(srv.id);
    fx.check.push(CheckCommand::Pause(true));
    if state == ServerState::Stopped {
        // Already down: no counts, nothing moves.
        if let Some(change) = balancer.set_maintenance(srv.id, true, now) {
            fx.changes.push(change);
        }
        fx.lines.push(StateLine {
            level: LEVEL_NOTICE,
            text: format!(
                "{}{}.",
                prefix(srv, "was DOWN and now enters maintenance"),
                cause_text(cause)
            ),
        });
        return;
    }
    let was_stopping = state == ServerState::Stopping || drain;
    if let Some(change) = balancer.set_maintenance(srv.id, true, now) {
        fx.lines.push(StateLine {
            level: if was_stopping {
                LEVEL_NOTICE
            } else {
                LEVEL_ALERT
            },
            text: format!(
                "{}{}{}.",
                prefix(srv, "is going DOWN for maintenance"),
                cause_text(cause),
                counts(&change, true)
            ),
        });
        fx.backend_down |= change.backend_down;
        fx.down_transition = true;
        fx.changes.push(change);
    }
}

/// Clearing `FMAINT`: back up at once (the check restarts at `rise`, which is up).
fn clear_maint(
    balancer: &mut Balancer,
    srv: &AdminServer<'_>,
    now: Duration,
    fx: &mut AdminEffect,
) {
    fx.check.push(CheckCommand::Pause(false));
    let (_, drain) = balancer.admin_state(srv.id);
    let change = balancer.set_maintenance(srv.id, false, now);
    let state = balancer.state(srv.id);
    fx.lines.push(StateLine {
        level: LEVEL_NOTICE,
        text: format!(
            "{}/{} (leaving forced maintenance).",
            prefix(
                srv,
                if state == ServerState::Stopped {
                    "is DOWN"
                } else {
                    "is UP"
                }
            ),
            if drain { "DRAIN" } else { "READY" }
        ),
    });
    if drain {
        // srv_update_status()'s "remaining in drain mode after removing one of its
        // flags" branch runs too once maintenance is left (measured on 2.6.12).
        fx.lines.push(StateLine {
            level: LEVEL_NOTICE,
            text: format!("{}.", prefix(srv, "remains in forced drain mode")),
        });
    }
    if let Some(change) = change {
        fx.changes.push(change);
    }
}

/// Setting `FDRAIN`: silent in maintenance.
fn set_drain(
    balancer: &mut Balancer,
    srv: &AdminServer<'_>,
    cause: Option<&str>,
    now: Duration,
    fx: &mut AdminEffect,
) {
    let in_maint = balancer.admin_state(srv.id).0;
    let change = balancer.set_drain(srv.id, true, now);
    if in_maint {
        return;
    }
    if let Some(change) = change {
        let stopped = balancer.state(srv.id) == ServerState::Stopped;
        fx.lines.push(StateLine {
            level: LEVEL_NOTICE,
            text: format!(
                "{}{}{}.",
                prefix(srv, "enters drain state"),
                cause_text(cause),
                counts(&change, stopped)
            ),
        });
        fx.backend_down |= change.backend_down;
        fx.changes.push(change);
    }
}

/// Clearing `FDRAIN`: silent in maintenance.
fn clear_drain(
    balancer: &mut Balancer,
    srv: &AdminServer<'_>,
    now: Duration,
    fx: &mut AdminEffect,
) {
    let in_maint = balancer.admin_state(srv.id).0;
    let change = balancer.set_drain(srv.id, false, now);
    if in_maint {
        return;
    }
    let state = balancer.state(srv.id);
    fx.lines.push(StateLine {
        level: LEVEL_NOTICE,
        text: format!(
            "{} (leaving forced drain).",
            prefix(
                srv,
                if state == ServerState::Stopped {
                    "is DOWN"
                } else {
                    "is UP"
                }
            )
        ),
    });
    if let Some(change) = change {
        fx.changes.push(change);
    }
}

#[cfg(test)]
mod tests;
