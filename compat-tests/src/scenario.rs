//! What a lab scenario reports: subjects, checks with their expectations, measurements, and
//! the summary table printed at the end of a run.
//!
//! A check is written with what the *reference* must do for the setup to work as the
//! tutorial says. Where the reference does not (seed 000's curly quotes, HAProxy 2.6
//! refusing seed 002), the check says so with [`Expect::Fails`] and the reason: it is then
//! reported as an expected failure, not skipped, and if the reference starts passing it the
//! run fails ("unexpected pass"), so the record stays true.

use std::fmt;
use std::time::{SystemTime, UNIX_EPOCH};

/// The implementation under test, from `HA_COMPAT_SUBJECT`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Subject {
    /// Debian's keepalived and haproxy on every node.
    Reference,
    /// ha-compat on every node.
    HaCompat,
    /// The reference on the first load-balancer node, ha-compat on the second (a migration
    /// done one node at a time).
    Mixed,
}

impl Subject {
    /// Every subject, in the order a run takes them (the reference first, so later subjects
    /// can be compared with what it did).
    pub const ALL: [Subject; 3] = [Subject::Reference, Subject::HaCompat, Subject::Mixed];

    /// `reference`, `ha-compat` or `mixed`.
    pub fn name(self) -> &'static str {
        match self {
            Subject::Reference => "reference",
            Subject::HaCompat => "ha-compat",
            Subject::Mixed => "mixed",
        }
    }

    /// Parses a subject name.
    pub fn parse(s: &str) -> Option<Subject> {
        Subject::ALL.into_iter().find(|x| x.name() == s.trim())
    }

    /// The subjects `HA_COMPAT_SUBJECT` asks for (a comma-separated list); all when unset.
    /// Panics on an unknown name, so a typo never runs nothing.
    pub fn from_env() -> Vec<Subject> {
        match std::env::var("HA_COMPAT_SUBJECT") {
            Ok(v) if !v.trim().is_empty() => v
                .split(',')
                .map(|s| {
                    Subject::parse(s).unwrap_or_else(|| {
                        panic!("HA_COMPAT_SUBJECT: unknown subject '{s}' (reference, ha-compat, mixed)")
                    })
                })
                .collect(),
            _ => Subject::ALL.to_vec(),
        }
    }

    /// What runs on the `index`-th daemon node (0-based) of a lab.
    pub fn on_node(self, index: usize) -> Impl {
        match (self, index) {
            (Subject::Reference, _) => Impl::Reference,
            (Subject::HaCompat, _) => Impl::Ours,
            (Subject::Mixed, 0) => Impl::Reference,
            (Subject::Mixed, _) => Impl::Ours,
        }
    }
}

/// Which program runs on one node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Impl {
    /// Debian's keepalived/haproxy.
    Reference,
    /// ha-compat.
    Ours,
}

/// What a check expects of the implementation under test.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expect {
    /// Must hold.
    Holds,
    /// Known not to hold, for this reason (the tutorial's author thought otherwise).
    Fails(String),
}

/// The result of one check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Held as expected.
    Pass,
    /// Did not hold although it must: fails the run.
    Fail(String),
    /// Did not hold, as recorded (reason, what was observed).
    ExpectedFail(String, String),
    /// Held although recorded as failing: fails the run, the record is out of date.
    UnexpectedPass(String),
}

impl Verdict {
    /// Whether this verdict fails the run.
    pub fn is_failure(&self) -> bool {
        matches!(self, Verdict::Fail(_) | Verdict::UnexpectedPass(_))
    }
}

/// One named check and its verdict.
#[derive(Debug, Clone)]
pub struct CheckResult {
    /// What was checked (`master holds the VIP`).
    pub name: String,
    /// How it went.
    pub verdict: Verdict,
}

/// One measurement (`outage: haproxy killed on the master` = `4630 ms, 412 failed`).
#[derive(Debug, Clone)]
pub struct Measure {
    /// What was measured.
    pub name: String,
    /// The figure, with its unit.
    pub value: String,
    /// For outages: the duration in ms, for the summary table.
    pub outage_ms: Option<u64>,
}

/// Everything one scenario run with one subject produced.
#[derive(Debug, Clone)]
pub struct Report {
    /// Scenario name (`seed001`).
    pub scenario: String,
    /// The subject it ran with.
    pub subject: Subject,
    /// Set when the subject cannot run this scenario yet (an engine is missing): the
    /// reason. Such a run is never counted as passed.
    pub not_implemented: Option<String>,
    /// The checks, in order.
    pub checks: Vec<CheckResult>,
    /// The measurements, in order.
    pub measures: Vec<Measure>,
    /// Set when the scenario itself broke (a panic in the lab): the message.
    pub crashed: Option<String>,
}

impl Report {
    /// An empty report.
    pub fn new(scenario: &str, subject: Subject) -> Report {
        Report {
            scenario: scenario.to_owned(),
            subject,
            not_implemented: None,
            checks: Vec::new(),
            measures: Vec::new(),
            crashed: None,
        }
    }

    /// Records a check: `observed` is `Ok` when the property held, else what was seen.
    pub fn check(&mut self, name: &str, expect: &Expect, observed: Result<(), String>) {
        let verdict = match (expect, observed) {
            (Expect::Holds, Ok(())) => Verdict::Pass,
            (Expect::Holds, Err(seen)) => Verdict::Fail(seen),
            (Expect::Fails(reason), Err(seen)) => Verdict::ExpectedFail(reason.clone(), seen),
            (Expect::Fails(reason), Ok(())) => Verdict::UnexpectedPass(reason.clone()),
        };
        let mark = match &verdict {
            Verdict::Pass => "pass".to_owned(),
            Verdict::Fail(seen) => format!("FAIL: {seen}"),
            Verdict::ExpectedFail(reason, seen) => {
                format!("expected failure ({reason}): {seen}")
            }
            Verdict::UnexpectedPass(reason) => {
                format!("UNEXPECTED PASS (recorded as failing: {reason})")
            }
        };
        eprintln!(
            "  [{} {}] {name}: {mark}",
            self.scenario,
            self.subject.name()
        );
        self.checks.push(CheckResult {
            name: name.to_owned(),
            verdict,
        });
    }

    /// Records a measurement.
    pub fn measure(&mut self, name: &str, value: String, outage_ms: Option<u64>) {
        eprintln!(
            "  [{} {}] {name}: {value}",
            self.scenario,
            self.subject.name()
        );
        self.measures.push(Measure {
            name: name.to_owned(),
            value,
            outage_ms,
        });
    }

    /// `pass`, `FAIL`, `not implemented` or `crashed` for the summary.
    pub fn status(&self) -> &'static str {
        if self.crashed.is_some() {
            "CRASHED"
        } else if self.checks.iter().any(|c| c.verdict.is_failure()) {
            "FAIL"
        } else if self.not_implemented.is_some() {
            "not implemented"
        } else {
            "pass"
        }
    }

    /// Whether this run fails the whole run.
    pub fn is_failure(&self) -> bool {
        matches!(self.status(), "FAIL" | "CRASHED")
    }
}

/// The summary table: one row per scenario and subject, with the checks' counts and the
/// outages measured.
pub fn summary(reports: &[Report]) -> String {
    let mut s = String::new();
    s.push_str(
        "| scenario | subject | result | checks (pass / expected-fail / fail) | outages |\n",
    );
    s.push_str("|---|---|---|---|---|\n");
    for r in reports {
        let pass = r
            .checks
            .iter()
            .filter(|c| c.verdict == Verdict::Pass)
            .count();
        let xfail = r
            .checks
            .iter()
            .filter(|c| matches!(c.verdict, Verdict::ExpectedFail(..)))
            .count();
        let fail = r.checks.iter().filter(|c| c.verdict.is_failure()).count();
        let outages: Vec<String> = r
            .measures
            .iter()
            .filter_map(|m| m.outage_ms.map(|ms| format!("{}: {ms} ms", m.name)))
            .collect();
        let result = match (&r.not_implemented, &r.crashed) {
            (_, Some(msg)) => format!("CRASHED: {msg}"),
            (Some(why), None) if r.checks.is_empty() => format!("not implemented: {why}"),
            _ => r.status().to_owned(),
        };
        s.push_str(&format!(
            "| {} | {} | {} | {pass} / {xfail} / {fail} | {} |\n",
            r.scenario,
            r.subject.name(),
            result.replace('|', "\\|"),
            if outages.is_empty() {
                "-".to_owned()
            } else {
                outages.join("; ")
            }
        ));
    }
    s
}

/// Every check and measurement of every report, for the artifacts.
pub fn details(reports: &[Report]) -> String {
    let mut s = String::new();
    for r in reports {
        s.push_str(&format!(
            "## {} / {}: {}\n",
            r.scenario,
            r.subject.name(),
            r.status()
        ));
        if let Some(why) = &r.not_implemented {
            s.push_str(&format!("not implemented: {why}\n"));
        }
        if let Some(msg) = &r.crashed {
            s.push_str(&format!("crashed: {msg}\n"));
        }
        for c in &r.checks {
            let v = match &c.verdict {
                Verdict::Pass => "pass".to_owned(),
                Verdict::Fail(seen) => format!("FAIL: {seen}"),
                Verdict::ExpectedFail(reason, seen) => {
                    format!("expected failure: {reason} (seen: {seen})")
                }
                Verdict::UnexpectedPass(reason) => {
                    format!("UNEXPECTED PASS: recorded as failing because {reason}")
                }
            };
            s.push_str(&format!("- {}: {v}\n", c.name));
        }
        for m in &r.measures {
            s.push_str(&format!("- measured {}: {}\n", m.name, m.value));
        }
        s.push('\n');
    }
    s
}

/// Microseconds since the UNIX epoch: the clock the lab client stamps requests with.
pub fn now_us() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

impl fmt::Display for Subject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_expected_failure_that_starts_passing_fails_the_run() {
        let mut r = Report::new("s", Subject::Reference);
        r.check("a", &Expect::Holds, Ok(()));
        r.check("b", &Expect::Fails("quirk".into()), Err("seen".into()));
        assert!(!r.is_failure());
        r.check("c", &Expect::Fails("quirk".into()), Ok(()));
        assert!(r.is_failure());
        assert_eq!(r.status(), "FAIL");
    }

    #[test]
    fn not_implemented_is_never_a_pass() {
        let mut r = Report::new("s", Subject::HaCompat);
        r.not_implemented = Some("no VRRP engine".into());
        assert_eq!(r.status(), "not implemented");
        assert!(!r.is_failure());
        assert!(summary(&[r]).contains("not implemented: no VRRP engine"));
    }

    #[test]
    fn mixed_puts_the_reference_on_the_first_node_only() {
        assert_eq!(Subject::Mixed.on_node(0), Impl::Reference);
        assert_eq!(Subject::Mixed.on_node(1), Impl::Ours);
        assert_eq!(Subject::HaCompat.on_node(0), Impl::Ours);
        assert_eq!(Subject::parse("mixed"), Some(Subject::Mixed));
        assert_eq!(Subject::parse("bogus"), None);
    }
}
