//! A `vrrp_script`'s result counter, sans IO: keepalived 2.2.7's rise/fall logic
//! (`vrrp_script_child_thread()` in `vrrp_scheduler.c`, initial values from
//! `vrrp_init_script()`) and the log lines it writes.
//!
//! keepalived keeps one integer `result` in `0..rise+fall`: the script is good while
//! `result >= rise`. A success counts up towards `rise` (and jumps to the top,
//! `rise + fall - 1`, once good); a failure counts down towards `rise` (and drops to 0 once
//! bad). At start-up `result` is `rise - 1` ("one success is enough") and the first result,
//! whatever it is, is a determination; with `init_fail` it is 0 and the script is failed from
//! the start, silently. (keepalived 2.2.7 never gets there for a script in use: tracking it
//! resets it to the initial state, so [`crate::tracker`] builds every counter without
//! `init_fail`.)

use crate::track::TrackerState;

/// How one run of a script ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScriptExit {
    /// It exited with this status.
    Exited(i32),
    /// It was killed by this signal, not because of the timeout.
    Signaled(i32),
    /// The timeout expired and it died of the SIGTERM (or the later SIGKILL) sent for it:
    /// keepalived's `timed_out`.
    TimedOut,
}

/// keepalived's `init_state` of a script.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum InitState {
    /// No result yet (`SCRIPT_INIT_STATE_INIT`).
    Init,
    /// `init_fail` and no result yet (`SCRIPT_INIT_STATE_FAILED`).
    Failed,
    /// At least one result seen (`SCRIPT_INIT_STATE_DONE`).
    Done,
}

/// What feeding one result changed.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ScriptUpdate {
    /// The new state, when it changed or was determined for the first time.
    pub state: Option<TrackerState>,
    /// keepalived's log lines for this result, in its order.
    pub logs: Vec<String>,
}

/// The result counter of one `vrrp_script`.
#[derive(Debug, Clone)]
pub struct ScriptCounter {
    name: String,
    rise: i64,
    fall: i64,
    result: i64,
    init_state: InitState,
    last_status: i32,
}

impl ScriptCounter {
    /// A counter for script `name` (rise and fall below 1 are taken as 1, keepalived's
    /// minimum).
    pub fn new(name: &str, rise: u32, fall: u32, init_fail: bool) -> ScriptCounter {
        let rise = i64::from(rise.max(1));
        let fall = i64::from(fall.max(1));
        let (result, init_state) = if init_fail {
            (0, InitState::Failed)
        } else {
            (rise - 1, InitState::Init)
        };
        ScriptCounter {
            name: name.to_string(),
            rise,
            fall,
            result,
            init_state,
            // keepalived allocates the script zeroed (`last_status` = 0).
            last_status: 0,
        }
    }

    /// The state known before any run: `Failed` with `init_fail`, else not yet determined.
    pub fn initial(&self) -> Option<TrackerState> {
        match self.init_state {
            InitState::Failed => Some(TrackerState::Failed),
            _ => None,
        }
    }

    /// True while the script counts as good (`result >= rise`).
    pub fn is_ok(&self) -> bool {
        self.result >= self.rise
    }

    /// keepalived's `result` (for tests and dumps).
    pub fn result(&self) -> i64 {
        self.result
    }

    /// The script's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The counter of the same script after a reload, from `self` (the old one) and
    /// `fresh` (built from the new configuration): keepalived 2.2.7's
    /// `clear_diff_script()`. A script without a result yet starts over; otherwise the
    /// distance from `rise` is kept (clamped to the new range) and the log line says
    /// which way it was taken.
    pub fn reloaded(&self, fresh: ScriptCounter) -> (ScriptCounter, Option<String>) {
        let mut new = fresh;
        if self.init_state == InitState::Init {
            new.init_state = InitState::Init;
            new.result = new.rise - 1;
            return (new, None);
        }
        let line = if self.result < self.rise {
            new.result = if self.result == 0 {
                0
            } else {
                (new.rise - (self.rise - self.result)).max(0)
            };
            format!(
                "VRRP_Script({}) considered unsuccessful on reload",
                new.name
            )
        } else {
            let top = new.rise + new.fall - 1;
            new.result = if self.result == self.rise + self.fall - 1 {
                top
            } else {
                (new.rise + (self.result - self.rise)).min(top)
            };
            format!("VRRP_Script({}) considered successful on reload", new.name)
        };
        new.last_status = self.last_status;
        new.init_state = InitState::Done;
        (new, Some(line))
    }

    /// Feeds the outcome of one run.
    pub fn feed(&mut self, exit: ScriptExit) -> ScriptUpdate {
        let mut up = ScriptUpdate::default();
        let (exit_type, success, reason): (&str, bool, Option<(&str, i32)>) = match exit {
            ScriptExit::Exited(status) => {
                if status != self.last_status {
                    up.logs
                        .push(format!("Script `{}` now returning {}", self.name, status));
                }
                self.last_status = status;
                if status == 0 {
                    ("succeeded", true, None)
                } else {
                    ("failed", false, Some(("exited with status", status)))
                }
            }
            ScriptExit::Signaled(sig) => ("failed", false, Some(("due to signal", sig))),
            ScriptExit::TimedOut => ("timed_out", false, None),
        };

        let (rise, fall) = (self.rise, self.fall);
        if success {
            if self.result < rise - 1 {
                self.result += 1;
            } else if self.result != rise + fall - 1 {
                if self.result < rise {
                    up.logs
                        .push(format!("VRRP_Script({}) {}", self.name, exit_type));
                    up.state = Some(TrackerState::Ok);
                }
                self.result = rise + fall - 1;
            }
        } else if self.result > rise {
            self.result -= 1;
        } else {
            if self.result == rise || self.init_state == InitState::Init {
                up.logs.push(match reason {
                    Some((why, code)) => {
                        format!(
                            "VRRP_Script({}) {} ({} {})",
                            self.name, exit_type, why, code
                        )
                    }
                    None => format!("VRRP_Script({}) {}", self.name, exit_type),
                });
                up.state = Some(TrackerState::Failed);
            }
            self.result = 0;
        }
        self.init_state = InitState::Done;
        up
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ScriptExit::*;

    fn run(c: &mut ScriptCounter, seq: &[ScriptExit]) -> Vec<(Option<TrackerState>, Vec<String>)> {
        seq.iter()
            .map(|e| {
                let u = c.feed(*e);
                (u.state, u.logs)
            })
            .collect()
    }

    #[test]
    fn reload_keeps_the_distance_from_rise_as_clear_diff_script() {
        // Good at the top: good at the new top.
        let mut old = ScriptCounter::new("chk", 2, 3, false);
        run(&mut old, &[Exited(0)]);
        assert_eq!(old.result(), 4);
        let (new, line) = old.reloaded(ScriptCounter::new("chk", 3, 3, false));
        assert_eq!(new.result(), 5);
        assert!(new.is_ok());
        assert_eq!(
            line.as_deref(),
            Some("VRRP_Script(chk) considered successful on reload")
        );
        // Good, one failure seen (4 -> 3, still >= rise 2): rise + 1 in the new range.
        run(&mut old, &[Exited(1)]);
        assert_eq!(old.result(), 3);
        let (new, _) = old.reloaded(ScriptCounter::new("chk", 2, 3, false));
        assert_eq!(new.result(), 3);
        // Bad: 0 stays 0, and no state is reported again until it changes.
        let mut bad = ScriptCounter::new("chk", 2, 2, false);
        run(&mut bad, &[Exited(1)]);
        let (mut new, line) = bad.reloaded(ScriptCounter::new("chk", 2, 2, false));
        assert_eq!(new.result(), 0);
        assert_eq!(
            line.as_deref(),
            Some("VRRP_Script(chk) considered unsuccessful on reload")
        );
        assert_eq!(new.feed(Exited(1)), ScriptUpdate::default());
        // No result yet: starts over (one success is enough), silently.
        let fresh = ScriptCounter::new("chk", 3, 2, false);
        let (new, line) = fresh.reloaded(ScriptCounter::new("chk", 3, 2, false));
        assert_eq!((new.result(), line), (2, None));
    }

    #[test]
    fn first_success_is_enough_with_rise_3() {
        let mut c = ScriptCounter::new("chk", 3, 2, false);
        assert_eq!(c.initial(), None);
        assert_eq!(c.result(), 2);
        let r = run(&mut c, &[Exited(0)]);
        assert_eq!(r[0].0, Some(TrackerState::Ok));
        assert_eq!(r[0].1, vec!["VRRP_Script(chk) succeeded".to_string()]);
        assert_eq!(c.result(), 4);
    }

    #[test]
    fn first_failure_is_logged_and_determines() {
        let mut c = ScriptCounter::new("chk", 2, 2, false);
        let r = run(&mut c, &[Exited(1), Exited(1), Exited(0), Exited(0)]);
        assert_eq!(r[0].0, Some(TrackerState::Failed));
        assert_eq!(
            r[0].1,
            vec![
                "Script `chk` now returning 1".to_string(),
                "VRRP_Script(chk) failed (exited with status 1)".to_string()
            ]
        );
        // Already failed: silent.
        assert_eq!(r[1], (None, vec![]));
        // rise 2: the first success counts, the second flips.
        assert_eq!(
            r[2],
            (None, vec!["Script `chk` now returning 0".to_string()])
        );
        assert_eq!(
            r[3],
            (
                Some(TrackerState::Ok),
                vec!["VRRP_Script(chk) succeeded".to_string()]
            )
        );
    }

    #[test]
    fn fall_counts_consecutive_failures() {
        let mut c = ScriptCounter::new("chk", 1, 3, false);
        run(&mut c, &[Exited(0)]);
        assert!(c.is_ok());
        let r = run(
            &mut c,
            &[
                Exited(2),
                Exited(2),
                Exited(0),
                Exited(2),
                Exited(2),
                Exited(2),
            ],
        );
        assert_eq!(r[0].0, None);
        assert_eq!(r[1].0, None);
        // A success in between resets to the top.
        assert_eq!(r[2].0, None);
        assert_eq!(r[3].0, None);
        assert_eq!(r[4].0, None);
        assert_eq!(r[5].0, Some(TrackerState::Failed));
        assert_eq!(
            r[5].1,
            vec!["VRRP_Script(chk) failed (exited with status 2)".to_string()]
        );
    }

    #[test]
    fn init_fail_starts_failed_and_failures_stay_silent() {
        let mut c = ScriptCounter::new("chk", 2, 1, true);
        assert_eq!(c.initial(), Some(TrackerState::Failed));
        let r = run(&mut c, &[Exited(1), Exited(0), Exited(0), Exited(1)]);
        // Failure while already failed by config: no determination, no VRRP_Script line.
        assert_eq!(
            r[0],
            (None, vec!["Script `chk` now returning 1".to_string()])
        );
        assert_eq!(r[1].0, None);
        assert_eq!(
            r[2],
            (
                Some(TrackerState::Ok),
                vec!["VRRP_Script(chk) succeeded".to_string()]
            )
        );
        assert_eq!(r[3].0, Some(TrackerState::Failed));
    }

    #[test]
    fn timeout_and_signal_wording() {
        let mut c = ScriptCounter::new("chk", 1, 1, false);
        let r = run(&mut c, &[TimedOut]);
        assert_eq!(
            r[0],
            (
                Some(TrackerState::Failed),
                vec!["VRRP_Script(chk) timed_out".to_string()]
            )
        );
        run(&mut c, &[Exited(0)]);
        let r = run(&mut c, &[Signaled(9)]);
        assert_eq!(
            r[0],
            (
                Some(TrackerState::Failed),
                vec!["VRRP_Script(chk) failed (due to signal 9)".to_string()]
            )
        );
        // Status 0 never changed: no "now returning" line for the success above.
    }

    #[test]
    fn success_from_zero_needs_rise_runs() {
        let mut c = ScriptCounter::new("chk", 3, 1, false);
        run(&mut c, &[Exited(1)]);
        assert_eq!(c.result(), 0);
        let r = run(&mut c, &[Exited(0), Exited(0), Exited(0), Exited(0)]);
        assert_eq!(r[0].0, None);
        assert_eq!(r[1].0, None);
        assert_eq!(r[2].0, Some(TrackerState::Ok));
        assert_eq!(r[3], (None, vec![]));
    }
}
