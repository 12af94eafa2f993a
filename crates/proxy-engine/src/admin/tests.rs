//! The action sequences played on haproxy 2.6.12 (three servers `s1`, `s2` checked and
//! `s3` unchecked, roundrobin; recorded by hand with curl POSTs to `stats admin if
//! TRUE`, the end-to-end comparison is `tests/stats_admin_reference.rs` in ha-compat):
//! each line here is the reference's.

use std::time::Duration;

use super::*;
use crate::balance::tests::backend;

fn balancer() -> Balancer {
    let proxy = backend(
        "backend web\n  server s1 127.0.0.1:9001 check\n  server s2 127.0.0.1:9002 check\n  server s3 127.0.0.1:9003\n",
    );
    Balancer::new(&proxy, 1).expect("balancer")
}

fn srv(name: &'static str, id: usize) -> AdminServer<'static> {
    AdminServer {
        backend: "web",
        server: name,
        id: ServerId(id),
        backup: false,
        check_configured: id < 2,
        reason: super::WEB_INTERFACE,
    }
}

fn texts(fx: &AdminEffect) -> Vec<&str> {
    fx.lines.iter().map(|l| l.text.as_str()).collect()
}

const T: Duration = Duration::from_secs(10);

#[test]
fn maint_drain_ready_lines_are_haproxys() {
    let mut b = balancer();
    let fx = apply(&mut b, &srv("s1", 0), AdminAction::Maint, T);
    assert!(fx.altered);
    assert_eq!(texts(&fx), ["Server web/s1 is going DOWN for maintenance. 2 active and 0 backup servers left. 0 sessions active, 0 requeued, 0 remaining in queue."]);
    assert_eq!(fx.lines[0].level, LEVEL_ALERT);
    assert!(fx.check.contains(&CheckCommand::Pause(true)));
    let fx = apply(&mut b, &srv("s2", 1), AdminAction::Drain, T);
    assert_eq!(texts(&fx), ["Server web/s2 enters drain state. 1 active and 0 backup servers online. 0 sessions requeued, 0 total in queue."]);
    assert_eq!(fx.lines[0].level, LEVEL_NOTICE);
    // `s=s1&s=s2&action=ready`: processed from the end, s2 first.
    let fx = apply(&mut b, &srv("s2", 1), AdminAction::Ready, T);
    assert_eq!(texts(&fx), ["Server web/s2 is UP (leaving forced drain)."]);
    let fx = apply(&mut b, &srv("s1", 0), AdminAction::Ready, T);
    assert_eq!(
        texts(&fx),
        ["Server web/s1 is UP/READY (leaving forced maintenance)."]
    );
    assert_eq!(b.usable_counts(), (3, 0));
}

#[test]
fn forced_health_lines_are_haproxys() {
    let mut b = balancer();
    let fx = apply(&mut b, &srv("s2", 1), AdminAction::ForceDown, T);
    assert_eq!(texts(&fx), ["Server web/s2 is DOWN, changed from Web interface. 2 active and 0 backup servers left. 0 sessions active, 0 requeued, 0 remaining in queue."]);
    assert!(fx.check.contains(&CheckCommand::HealthZero));
    let fx = apply(&mut b, &srv("s2", 1), AdminAction::ForceUp, T);
    assert_eq!(texts(&fx), ["Server web/s2 is UP, changed from Web interface. 3 active and 0 backup servers online. 0 sessions requeued, 0 total in queue."]);
    let fx = apply(&mut b, &srv("s2", 1), AdminAction::ForceNolb, T);
    assert_eq!(texts(&fx), ["Server web/s2 is stopping, changed from Web interface. 2 active and 0 backup servers online. 0 sessions requeued, 0 total in queue."]);
    let fx = apply(&mut b, &srv("s2", 1), AdminAction::ForceUp, T);
    assert_eq!(texts(&fx), ["Server web/s2 is UP, changed from Web interface. 3 active and 0 backup servers online. 0 sessions requeued, 0 total in queue."]);
    // Already up: counted as altered, nothing logged.
    let fx = apply(&mut b, &srv("s3", 2), AdminAction::ForceUp, T);
    assert!(fx.altered && fx.lines.is_empty());
}

#[test]
fn a_down_server_enters_drain_and_maintenance_as_haproxy_says() {
    let mut b = balancer();
    apply(&mut b, &srv("s3", 2), AdminAction::ForceDown, T);
    let fx = apply(&mut b, &srv("s3", 2), AdminAction::Drain, T);
    assert_eq!(texts(&fx), ["Server web/s3 enters drain state. 2 active and 0 backup servers left. 0 sessions active, 0 requeued, 0 remaining in queue."]);
    let fx = apply(&mut b, &srv("s3", 2), AdminAction::Maint, T);
    assert_eq!(
        texts(&fx),
        ["Server web/s3 was DOWN and now enters maintenance."]
    );
    let fx = apply(&mut b, &srv("s3", 2), AdminAction::Ready, T);
    assert_eq!(
        texts(&fx),
        ["Server web/s3 is UP/READY (leaving forced maintenance)."]
    );
    // Forcing the health of a server in maintenance changes nothing visible.
    apply(&mut b, &srv("s1", 0), AdminAction::Maint, T);
    let fx = apply(&mut b, &srv("s1", 0), AdminAction::ForceDown, T);
    assert!(fx.altered && fx.lines.is_empty());
}

#[test]
fn legacy_actions_carry_their_cause_and_count_only_changes() {
    let mut b = balancer();
    let fx = apply(&mut b, &srv("s2", 1), AdminAction::Stop, T);
    assert_eq!(texts(&fx), ["Server web/s2 enters drain state ('stop' on stats page). 2 active and 0 backup servers online. 0 sessions requeued, 0 total in queue."]);
    assert!(!apply(&mut b, &srv("s2", 1), AdminAction::Stop, T).altered);
    let fx = apply(&mut b, &srv("s2", 1), AdminAction::Start, T);
    assert_eq!(texts(&fx), ["Server web/s2 is UP (leaving forced drain)."]);
    let fx = apply(&mut b, &srv("s2", 1), AdminAction::Disable, T);
    assert_eq!(texts(&fx), ["Server web/s2 is going DOWN for maintenance ('disable' on stats page). 2 active and 0 backup servers left. 0 sessions active, 0 requeued, 0 remaining in queue."]);
    let fx = apply(&mut b, &srv("s2", 1), AdminAction::Enable, T);
    assert_eq!(
        texts(&fx),
        ["Server web/s2 is UP/READY (leaving forced maintenance)."]
    );
    assert!(!apply(&mut b, &srv("s2", 1), AdminAction::Enable, T).altered);
    // Health on an unchecked server, agents (none run here): unchanged.
    assert!(!apply(&mut b, &srv("s3", 2), AdminAction::DisableHealth, T).altered);
    assert!(apply(&mut b, &srv("s1", 0), AdminAction::DisableHealth, T).altered);
    assert!(!apply(&mut b, &srv("s1", 0), AdminAction::AgentUp, T).altered);
}

#[test]
fn drain_then_maint_from_drain_logs_at_notice() {
    let mut b = balancer();
    apply(&mut b, &srv("s1", 0), AdminAction::Drain, T);
    let fx = apply(&mut b, &srv("s1", 0), AdminAction::Maint, T);
    assert_eq!(
        fx.lines.len(),
        1,
        "leaving drain inside maintenance is silent"
    );
    assert_eq!(fx.lines[0].level, LEVEL_NOTICE);
    let fx = apply(&mut b, &srv("s1", 0), AdminAction::Drain, T);
    assert_eq!(
        texts(&fx),
        [
            "Server web/s1 is UP/DRAIN (leaving forced maintenance).",
            "Server web/s1 remains in forced drain mode."
        ]
    );
    assert_eq!(b.usable_counts(), (2, 0));
}
